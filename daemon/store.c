/* On-disk registries of vsd: the containers directory (one directory per
 * container holding config.json) and the machine-wide id-range registry
 * shared by every vsd instance on the host (docs/architecture.md). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/store.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

#define CONFIG_MAX    (256 * 1024)
#define CLAIM_MAX     8192
#define IDMAP_LAST_OK ((uint64_t)UINT32_MAX - VS_IDMAP_SIZE) /* vs_config's bound */

/* A fresh directory stream on dirfd: fdopendir on a dup would share the
 * file offset with dirfd and with concurrent listings. */
static DIR *open_dir_at(int dirfd, struct vs_error *err)
{
	cleanup_close int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0) {
		vs_error_set(err, errno, "open directory");
		return NULL;
	}
	d = fdopendir(fd);
	if (d == NULL) {
		vs_error_set(err, errno, "open directory");
		return NULL;
	}
	fd = -1; /* owned by d now */
	return d;
}

struct listed {
	char *name;
	ino_t ino;
};

static int cmp_listed(const void *a, const void *b)
{
	return strcmp(((const struct listed *)a)->name, ((const struct listed *)b)->name);
}

#define INCOMING_SUFFIX ".incoming"

char *vsd_store_incoming(const char *name)
{
	return xasprintf(".%s" INCOMING_SUFFIX, name);
}

bool vsd_store_is_incoming(const char *entry, const char *name)
{
	size_t len = strlen(entry), slen = strlen(INCOMING_SUFFIX), n;
	char found[VS_NAME_MAX + 1];

	if (entry[0] != '.' || len <= slen + 1 || strcmp(entry + len - slen, INCOMING_SUFFIX) != 0)
		return false;
	n = len - slen - 1;
	if (name != NULL)
		return strlen(name) == n && strncmp(entry + 1, name, n) == 0;
	if (n > VS_NAME_MAX)
		return false;
	memcpy(found, entry + 1, n);
	found[n] = '\0';
	return vs_validate_name(found, "name", NULL) == 0;
}

/* The containers' directories, and with incoming the migrations'
 * stagings too, sorted by strcmp. */
static int list_dirs(int containers_fd, bool incoming, char ***names, ino_t **inos,
		     struct vs_error *err)
{
	cleanup_dir DIR *d = open_dir_at(containers_fd, err);
	cleanup_free struct listed *v = NULL;
	char **out;
	size_t n = 0, cap = 0;
	struct dirent *e;

	if (d == NULL)
		return vs_error_prefix(err, "list containers");
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		ino_t ino = e->d_ino;
		if (e->d_name[0] == '.' ? !incoming || !vsd_store_is_incoming(e->d_name, NULL)
					: vs_validate_name(e->d_name, "name", NULL) < 0)
			continue;
		/* The entry's type saves a stat per container where the file
		 * system gives it (a symlink is DT_LNK: not listed, as before). */
		if (e->d_type != DT_DIR) {
			if (e->d_type != DT_UNKNOWN ||
			    fstatat(containers_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISDIR(st.st_mode))
				continue;
			ino = st.st_ino;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(v[0]));
		}
		v[n++] = (struct listed){.name = xstrdup(e->d_name), .ino = ino};
		errno = 0;
	}
	if (errno != 0) {
		int e2 = errno;
		for (size_t i = 0; i < n; i++)
			free(v[i].name);
		return vs_error_set(err, e2, "list containers");
	}
	if (n > 0)
		qsort(v, n, sizeof(v[0]), cmp_listed);
	out = xcalloc(n + 1, sizeof(char *));
	if (inos != NULL)
		*inos = xcalloc(n + 1, sizeof(ino_t));
	for (size_t i = 0; i < n; i++) {
		out[i] = v[i].name;
		if (inos != NULL)
			(*inos)[i] = v[i].ino;
	}
	*names = out;
	return 0;
}

int vsd_store_list_ino(int containers_fd, char ***names, ino_t **inos, struct vs_error *err)
{
	return list_dirs(containers_fd, false, names, inos, err);
}

int vsd_store_list_claimable(int containers_fd, char ***names, ino_t **inos, struct vs_error *err)
{
	return list_dirs(containers_fd, true, names, inos, err);
}

int vsd_store_list(int containers_fd, char ***names, struct vs_error *err)
{
	return vsd_store_list_ino(containers_fd, names, NULL, err);
}

bool vsd_store_exists(int containers_fd, const char *name)
{
	struct stat st;

	return fstatat(containers_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int vsd_store_load(int containers_fd, const char *name, struct vs_container_config *cfg,
		   struct vs_error *err)
{
	cleanup_close int dfd = -1;
	cleanup_free char *text = NULL;

	memset(cfg, 0, sizeof(*cfg));
	dfd = openat(containers_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ENOENT)
			return vs_error_kind(err, VS_EK_NOT_FOUND, "container '%s' does not exist",
					     name);
		return vs_error_set(err, errno, "open container '%s'", name);
	}
	if (vs_read_file_at(dfd, "config.json", CONFIG_MAX, &text, NULL, err) < 0)
		return vs_error_prefix(err, "container '%s'", name);
	if (vs_config_parse(text, cfg, err) < 0) {
		/* A stored config that does not parse is the daemon's problem,
		 * not the client's: report it as internal. */
		err->kind = VS_EK_INTERNAL;
		return vs_error_prefix(err, "container '%s': config.json", name);
	}
	return 0;
}

int vsd_store_write_config(int dirfd, const struct vs_container_config *cfg, struct vs_error *err)
{
	cleanup_free char *text = vs_config_to_json(cfg);

	return vs_atomic_write_at(dirfd, "config.json", text, strlen(text), 0600, err);
}

static int open_registry(const char *registry, struct vs_error *err)
{
	int fd = open(registry, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return vs_error_set(err, errno, "open id-range registry %s", registry);
	return fd;
}

/* Claim range b: 0, 1 when another holds it, or -1. */
static int claim_one(int dfd, const char *registry, uint64_t b, const char *owner,
		     struct vs_error *err)
{
	cleanup_close int fd = -1;
	char file[16];

	snprintf(file, sizeof(file), "%" PRIu64, b);
	/* The O_EXCL create is the claim: atomic against every other vsd
	 * instance sharing the registry. */
	fd = openat(dfd, file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 && errno == EEXIST)
		return 1;
	if (fd < 0)
		return vs_error_set(err, errno, "claim id range %s in %s", file, registry);
	if (vs_write_all(fd, owner, strlen(owner)) < 0 || fsync(fd) < 0) {
		int e = errno;
		unlinkat(dfd, file, 0);
		return vs_error_set(err, e, "write id-range claim %s/%s", registry, file);
	}
	fsync(dfd);
	return 0;
}

/* Where a claim starts looking. A registry holding a thousand claims
 * would otherwise cost a thousand failed O_EXCL creates per claim (a third
 * of a create at N = 1,000). Every range below `next` was taken when this
 * process last looked, and its own releases lower it, so a claim still
 * takes the first free range as far as this process can know; a range
 * another instance frees below it is found once the ranges above are all
 * taken (the search wraps). The hint is trusted only while the range just
 * below it is still claimed: a registry emptied, or another one at the same
 * path, starts from the first range again. */
static pthread_mutex_t hint_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t hint_next = VSD_IDMAP_BASE;

static uint64_t hint_get(int dfd)
{
	uint64_t b;
	char file[16];

	pthread_mutex_lock(&hint_lock);
	b = hint_next;
	pthread_mutex_unlock(&hint_lock);
	snprintf(file, sizeof(file), "%" PRIu64, b - VS_IDMAP_SIZE);
	if (b <= VSD_IDMAP_BASE || b > IDMAP_LAST_OK ||
	    faccessat(dfd, file, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return VSD_IDMAP_BASE;
	return b;
}

/* next: after a claim of the range below it; lower: after a release. */
static void hint_set(uint64_t b, bool lower)
{
	pthread_mutex_lock(&hint_lock);
	if (!lower || b < hint_next)
		hint_next = b;
	pthread_mutex_unlock(&hint_lock);
}

int vsd_idmap_claim(const char *registry, const char *root, const char *name, uint32_t *base,
		    struct vs_error *err)
{
	cleanup_close int dfd = open_registry(registry, err);
	cleanup_free char *owner = xasprintf("%s %s\n", root, name);
	uint64_t start, nranges = (IDMAP_LAST_OK - VSD_IDMAP_BASE) / VS_IDMAP_SIZE + 1;

	if (dfd < 0)
		return -1;
	start = (hint_get(dfd) - VSD_IDMAP_BASE) / VS_IDMAP_SIZE;
	for (uint64_t k = 0; k < nranges; k++) {
		uint64_t b = VSD_IDMAP_BASE + ((start + k) % nranges) * VS_IDMAP_SIZE;
		int r = claim_one(dfd, registry, b, owner, err);
		if (r < 0)
			return -1;
		if (r == 0) {
			*base = (uint32_t)b;
			if (start + k < nranges)
				hint_set(b + VS_IDMAP_SIZE, false);
			return 0;
		}
	}
	return vs_error_kind(err, VS_EK_CONFLICT, "no free id range left in %s", registry);
}

int vsd_idmap_claim_at(const char *registry, const char *root, const char *name, uint32_t base,
		       struct vs_error *err)
{
	cleanup_close int dfd = open_registry(registry, err);
	cleanup_free char *owner = xasprintf("%s %s\n", root, name);
	int r;

	if (dfd < 0)
		return -1;
	if (base < VSD_IDMAP_BASE || base > IDMAP_LAST_OK ||
	    (base - VSD_IDMAP_BASE) % VS_IDMAP_SIZE)
		return vs_error_kind(err, VS_EK_INVALID, "id range %u is not a range start", base);
	r = claim_one(dfd, registry, base, owner, err);
	if (r > 0)
		return vs_error_kind(err, VS_EK_CONFLICT, "id range %u is taken in %s", base,
				     registry);
	return r;
}

int vsd_idmap_owner(int regfd, const char *file, char **root, char **name, struct vs_error *err)
{
	cleanup_free char *text = NULL;
	size_t len;
	char *sp;

	if (vs_read_file_at(regfd, file, CLAIM_MAX, &text, &len, err) < 0)
		return -1;
	if (len < 4 || text[len - 1] != '\n' || strlen(text) != len)
		return vs_error_kind(err, VS_EK_INVALID, "id-range claim %s: malformed", file);
	text[len - 1] = '\0';
	/* Roots may contain spaces, names never do: split at the last one. */
	sp = strrchr(text, ' ');
	if (sp == NULL || sp == text || text[0] != '/' ||
	    vs_validate_name(sp + 1, "name", NULL) < 0)
		return vs_error_kind(err, VS_EK_INVALID, "id-range claim %s: malformed", file);
	*sp = '\0';
	*root = xstrdup(text);
	*name = xstrdup(sp + 1);
	return 0;
}

int vsd_idmap_release(const char *registry, uint32_t base, const char *root, const char *name,
		      struct vs_error *err)
{
	cleanup_close int dfd = open_registry(registry, err);
	cleanup_free char *oroot = NULL;
	cleanup_free char *oname = NULL;
	struct vs_error e = {0};
	char file[16];

	if (dfd < 0)
		return -1;
	snprintf(file, sizeof(file), "%" PRIu32, base);
	if (vsd_idmap_owner(dfd, file, &oroot, &oname, &e) < 0) {
		if (e.errnum == ENOENT)
			return 0;
		if (err != NULL)
			*err = e;
		return -1;
	}
	if (strcmp(oroot, root) != 0 || strcmp(oname, name) != 0)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "id range %s belongs to '%s' of %s, not '%s' of %s", file,
				     oname, oroot, name, root);
	if (unlinkat(dfd, file, 0) < 0 && errno != ENOENT)
		return vs_error_set(err, errno, "release id range %s/%s", registry, file);
	fsync(dfd);
	hint_set(base, true);
	return 0;
}

/* A registry file name: the decimal first id of a range. */
static bool parse_base(const char *s, uint32_t *base)
{
	uint64_t v = 0;

	if (s[0] < '1' || s[0] > '9' || strlen(s) > 10)
		return false;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*base = (uint32_t)v;
	return true;
}

int vsd_idmap_gc(const char *registry, const char *root, vsd_idmap_keep_fn keep, void *ud,
		 unsigned *released, struct vs_error *err)
{
	cleanup_close int dfd = open_registry(registry, err);
	cleanup_dir DIR *d = NULL;
	struct dirent *e;

	*released = 0;
	if (dfd < 0)
		return -1;
	d = open_dir_at(dfd, err);
	if (d == NULL)
		return vs_error_prefix(err, "list %s", registry);
	while ((e = readdir(d)) != NULL) {
		cleanup_free char *oroot = NULL;
		cleanup_free char *oname = NULL;
		uint32_t base;

		/* Unreadable or half-written claims may be another instance's
		 * claim in progress: leave them. */
		if (!parse_base(e->d_name, &base) ||
		    vsd_idmap_owner(dfd, e->d_name, &oroot, &oname, NULL) < 0)
			continue;
		if (strcmp(oroot, root) != 0 || keep(ud, oname, base))
			continue;
		if (unlinkat(dfd, e->d_name, 0) < 0 && errno != ENOENT)
			return vs_error_set(err, errno, "release id range %s/%s", registry,
					    e->d_name);
		hint_set(base, true);
		(*released)++;
	}
	fsync(dfd);
	return 0;
}

uint32_t vsd_fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

char *vsd_cgroup_parent_for(const char *root_realpath)
{
	if (strcmp(root_realpath, VSD_DEFAULT_ROOT) == 0)
		return xstrdup(VSD_DEFAULT_CG_PARENT);
	return xasprintf("vsd-%08x", vsd_fnv1a(root_realpath));
}
