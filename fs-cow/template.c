/* Templates on disk: template.json, listing, removal, staging, recovery,
 * and recognising the init system of a finished tree.
 *
 * R/templates is mode 0700: a template keeps the setuid bits and the
 * on-disk owner (uid 0) of whatever it was built or imported from, so a
 * host user who could reach R/templates/NAME/rootfs/ could run an
 * attacker's setuid-root binary. Containers only see the tree through an
 * overlay mounted by root (and id-mapped for unprivileged containers). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs-cow/fs-private.h"
#include "lib/vs_io.h"
#include "lib/vs_json.h"
#include "lib/vs_syscall.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

#define TEMPLATE_JSON	  "template.json"
#define TEMPLATE_JSON_MAX (64 << 10)
#define INIT_ARGV_MAX	  64
#define SYMLINK_HOPS	  40

void vs_template_info_free(struct vs_template_info *t)
{
	if (t == NULL)
		return;
	vs_strv_free(t->init);
	t->init = NULL;
}

void vs_fs_template_gen(struct vs_jgen *g, const struct vs_template_info *t)
{
	char sig[32];

	vs_format_signal(t->stop_signal, sig, sizeof(sig));
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "name", t->name);
	vs_jgen_kv_str(g, "source", t->source);
	vs_jgen_kv_str(g, "init_system", t->init_system);
	vs_jgen_key(g, "init");
	vs_jgen_arr_open(g);
	for (size_t k = 0; t->init != NULL && t->init[k] != NULL; k++)
		vs_jgen_str(g, t->init[k]);
	vs_jgen_arr_close(g);
	vs_jgen_kv_str(g, "stop_signal", sig);
	vs_jgen_kv_int(g, "created_at", t->created_at);
	vs_jgen_kv_int(g, "size", t->size_bytes);
	vs_jgen_obj_close(g);
}

/* Hand a locally inspected error to the caller. Returns -1. */
static int err_copy(struct vs_error *err, const struct vs_error *e)
{
	if (err != NULL)
		*err = *e;
	return -1;
}

static int json_str(const struct vs_json *o, const char *key, char *buf, size_t len,
		    struct vs_error *err)
{
	const char *s = vs_json_string(vs_json_get(o, key));

	if (s == NULL)
		return vs_error_kind(err, VS_EK_INTERNAL, "%s: expected a string", key);
	if (strlen(s) >= len)
		return vs_error_kind(err, VS_EK_INTERNAL, "%s: longer than %zu bytes", key,
				     len - 1);
	memcpy(buf, s, strlen(s) + 1);
	return 0;
}

static int json_init(const struct vs_json *o, char ***out, struct vs_error *err)
{
	const struct vs_json *arr = vs_json_get(o, "init");
	size_t n = vs_json_array_len(arr);
	cleanup_strv char **v = NULL;

	if (arr == NULL || vs_json_type(arr) != VS_JSON_ARRAY || n == 0 || n > INIT_ARGV_MAX)
		return vs_error_kind(err, VS_EK_INTERNAL, "init: expected 1..%d strings",
				     INIT_ARGV_MAX);
	v = xcalloc(n + 1, sizeof(*v));
	for (size_t k = 0; k < n; k++) {
		const char *s = vs_json_string(vs_json_array_at(arr, k));
		if (s == NULL)
			return vs_error_kind(err, VS_EK_INTERNAL, "init[%zu]: expected a string",
					     k);
		v[k] = xstrdup(s);
	}
	*out = steal_ptr(&v);
	return 0;
}

static int info_parse(const char *text, struct vs_template_info *t, struct vs_error *err)
{
	cleanup_json struct vs_json *j = NULL;
	const char *sig;

	if (vs_json_parse(text, &j, err) < 0)
		return -1;
	if (vs_json_type(j) != VS_JSON_OBJECT)
		return vs_error_kind(err, VS_EK_INTERNAL, "expected an object");
	if (json_str(j, "name", t->name, sizeof(t->name), err) < 0 ||
	    json_str(j, "source", t->source, sizeof(t->source), err) < 0 ||
	    json_str(j, "init_system", t->init_system, sizeof(t->init_system), err) < 0)
		return -1;
	sig = vs_json_string(vs_json_get(j, "stop_signal"));
	if (vs_parse_signal(sig, "stop_signal", &t->stop_signal, err) < 0)
		return -1;
	if (!vs_json_int64(vs_json_get(j, "created_at"), &t->created_at))
		return vs_error_kind(err, VS_EK_INTERNAL, "created_at: expected an integer");
	if (!vs_json_int64(vs_json_get(j, "size"), &t->size_bytes) || t->size_bytes < 0)
		return vs_error_kind(err, VS_EK_INTERNAL, "size: expected a byte count");
	return json_init(j, &t->init, err);
}

int vs_fs_templates_open(const char *root, bool create, struct vs_error *err)
{
	cleanup_free char *path = xasprintf("%s/templates", root);
	cleanup_close int fd = -1;
	struct stat st;

	if (create && vs_mkdir_p(path, 0700, err) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return vs_error_set(err, errno, "open %s", path);
	if (create && fstat(fd, &st) == 0 && (st.st_mode & 077) != 0 && fchmod(fd, 0700) < 0)
		return vs_error_set(err, errno, "chmod 0700 %s", path);
	return steal_fd(&fd);
}

/* R/templates/name opened as a directory, or -1 (VS_EK_NOT_FOUND if absent). */
static int template_dir(const char *root, const char *name, struct vs_error *err)
{
	cleanup_close int tdirfd = -1;
	struct vs_error e = {0};
	int fd;

	if (vs_validate_name(name, "template name", err) < 0)
		return -1;
	tdirfd = vs_fs_templates_open(root, false, &e);
	if (tdirfd < 0 && e.errnum != ENOENT)
		return err_copy(err, &e);
	fd =
	    tdirfd < 0 ? -1 : openat(tdirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (tdirfd < 0 || errno == ENOENT))
		return vs_error_kind(err, VS_EK_NOT_FOUND, "template '%s' does not exist", name);
	if (fd < 0)
		return vs_error_set(err, errno, "open template '%s'", name);
	return fd;
}

int vs_fs_template_get(const char *root, const char *name, struct vs_template_info *out,
		       struct vs_error *err)
{
	cleanup_close int dfd = template_dir(root, name, err);
	cleanup_free char *text = NULL;
	struct vs_template_info t = {0};
	struct vs_error e = {0};

	if (dfd < 0)
		return -1;
	if (vs_read_file_at(dfd, TEMPLATE_JSON, TEMPLATE_JSON_MAX, &text, NULL, &e) < 0) {
		if (e.errnum == ENOENT)
			return vs_error_kind(err, VS_EK_NOT_FOUND, "template '%s' does not exist",
					     name);
		err_copy(err, &e);
		return vs_error_prefix(err, "template '%s'", name);
	}
	if (info_parse(text, &t, err) < 0) {
		vs_template_info_free(&t);
		return vs_error_prefix(err, "template '%s': %s", name, TEMPLATE_JSON);
	}
	/* The directory name is the identity (an operator may have copied a
	 * template to a new name). */
	snprintf(t.name, sizeof(t.name), "%s", name);
	*out = t;
	return 0;
}

static int cmp_info(const void *a, const void *b)
{
	return strcmp(((const struct vs_template_info *)a)->name,
		      ((const struct vs_template_info *)b)->name);
}

/* The names in R/templates (visible ones, or with `hidden` only dot names). */
static char **dir_names(int tdirfd, bool hidden, size_t *n, struct vs_error *err)
{
	int fd = openat(tdirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_dir DIR *d = fd < 0 ? NULL : fdopendir(fd);
	char **v = NULL;
	size_t cap = 0;
	struct dirent *de;

	*n = 0;
	if (d == NULL) {
		vs_error_set(err, errno, "open templates directory");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    (de->d_name[0] == '.') != hidden)
			continue;
		if (*n + 1 >= cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[(*n)++] = xstrdup(de->d_name);
		v[*n] = NULL;
	}
	return v ? v : xcalloc(1, sizeof(*v));
}

int vs_fs_template_list(const char *root, struct vs_template_info **out, size_t *n,
			struct vs_error *err)
{
	struct vs_error e = {0};
	cleanup_close int tdirfd = vs_fs_templates_open(root, false, &e);
	cleanup_strv char **names = NULL;
	struct vs_template_info *v = NULL;
	size_t nn = 0, k, used = 0;

	*out = NULL;
	*n = 0;
	if (tdirfd < 0)
		return e.errnum == ENOENT ? 0 : err_copy(err, &e);
	names = dir_names(tdirfd, false, &nn, err);
	if (names == NULL)
		return -1;
	v = xcalloc(nn + 1, sizeof(*v));
	for (k = 0; k < nn; k++) {
		/* Foreign entries (not a valid name, no template.json) are not
		 * templates; a damaged template.json is an error worth seeing. */
		if (vs_validate_name(names[k], "template name", NULL) < 0)
			continue;
		if (vs_fs_template_get(root, names[k], &v[used], &e) == 0) {
			used++;
			continue;
		}
		if (e.kind == VS_EK_NOT_FOUND)
			continue;
		for (size_t f = 0; f < used; f++)
			vs_template_info_free(&v[f]);
		free(v);
		return err_copy(err, &e);
	}
	qsort(v, used, sizeof(*v), cmp_info);
	*out = v;
	*n = used;
	return 0;
}

int vs_fs_template_remove(const char *root, const char *name, struct vs_error *err)
{
	cleanup_close int dfd = template_dir(root, name, err);
	cleanup_close int tdirfd = -1;
	cleanup_free char *removing = NULL;

	if (dfd < 0)
		return -1;
	tdirfd = vs_fs_templates_open(root, false, err);
	if (tdirfd < 0)
		return -1;
	removing = xasprintf(".%s.removing", name);
	/* A leftover of an earlier crash would make the rename fail. */
	if (vs_fs_remove_tree(tdirfd, removing, err) < 0)
		return vs_error_prefix(err, "remove template '%s'", name);
	if (renameat(tdirfd, name, tdirfd, removing) < 0)
		return vs_error_set(err, errno, "remove template '%s': rename", name);
	fsync(tdirfd);
	if (vs_fs_remove_tree(tdirfd, removing, err) < 0)
		return vs_error_prefix(err, "remove template '%s'", name);
	return 0;
}

static bool is_leftover(const char *n)
{
	size_t len = strlen(n);

	if (strncmp(n, ".upload.", 8) == 0)
		return true;
	if (len > 10 && strcmp(n + len - 9, ".building") == 0)
		return true;
	return len > 10 && strcmp(n + len - 9, ".removing") == 0;
}

int vs_fs_recover(const char *root, struct vs_error *err)
{
	struct vs_error e = {0}, first = {0};
	cleanup_close int tdirfd = vs_fs_templates_open(root, false, &e);
	cleanup_strv char **names = NULL;
	size_t n = 0;
	int rc = 0;

	if (tdirfd < 0)
		return e.errnum == ENOENT ? 0 : err_copy(err, &e);
	names = dir_names(tdirfd, true, &n, err);
	if (names == NULL)
		return -1;
	/* Keep going after a failure: one stuck leftover must not keep the
	 * others; the first error is reported. */
	for (size_t k = 0; k < n; k++) {
		cleanup_close int fd = -1;
		if (!is_leftover(names[k]))
			continue;
		/* A debootstrap killed with vsd may have left its /proc mounted. */
		fd = openat(tdirfd, names[k], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if ((fd >= 0 && vs_fs_unmount_under(fd, &e) < 0) ||
		    vs_fs_remove_tree(tdirfd, names[k], &e) < 0) {
			if (rc == 0)
				first = e;
			rc = -1;
		}
	}
	if (rc == 0)
		return 0;
	err_copy(err, &first);
	return vs_error_prefix(err, "recover templates");
}

int vs_fs_stage_begin(const char *root, const char *name, struct vs_fs_stage *st,
		      struct vs_error *err)
{
	struct vs_fs_stage s = {.tdirfd = -1, .stagefd = -1, .rootfsfd = -1};
	struct stat sb;

	*st = s;
	if (vs_validate_name(name, "template name", err) < 0)
		return -1;
	s.tdirfd = vs_fs_templates_open(root, true, err);
	if (s.tdirfd < 0)
		return -1;
	s.name = xstrdup(name);
	s.stage_name = xasprintf(".%s.building", name);
	if (fstatat(s.tdirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		vs_fs_stage_release(&s);
		return vs_error_kind(err, VS_EK_CONFLICT, "template '%s' already exists", name);
	}
	if (mkdirat(s.tdirfd, s.stage_name, 0700) < 0) {
		int e = errno;
		vs_fs_stage_release(&s);
		if (e == EEXIST)
			return vs_error_kind(err, VS_EK_CONFLICT,
					     "template '%s' is already being built", name);
		return vs_error_set(err, e, "create staging directory for '%s'", name);
	}
	s.stagefd = openat(s.tdirfd, s.stage_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s.stagefd < 0 || mkdirat(s.stagefd, "rootfs", 0755) < 0 ||
	    (s.rootfsfd = openat(s.stagefd, "rootfs",
				 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    fchmod(s.rootfsfd, 0755) < 0) {
		int e = errno;
		vs_fs_stage_abort(&s);
		return vs_error_set(err, e, "create staging rootfs for '%s'", name);
	}
	*st = s;
	return 0;
}

int vs_fs_stage_commit(struct vs_fs_stage *st, const char *source, struct vs_error *err)
{
	struct vs_template_info info = {0};
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(true);
	char digest[VS_FS_DIGEST_LEN];
	const char *text;
	size_t len;

	if (vs_fs_detect_init(st->rootfsfd, &info, err) < 0 ||
	    vs_fs_tree_size(st->rootfsfd, &info.size_bytes, err) < 0) {
		vs_template_info_free(&info);
		return -1;
	}
	snprintf(info.name, sizeof(info.name), "%s", st->name);
	snprintf(info.source, sizeof(info.source), "%s", source);
	info.created_at = (int64_t)time(NULL);
	vs_fs_template_gen(g, &info);
	vs_template_info_free(&info);
	text = vs_jgen_text(g, &len);
	if (vs_atomic_write_at(st->stagefd, TEMPLATE_JSON, text, len, 0644, err) < 0)
		return -1;
	/* The content digest backups match templates by: hashed once here,
	 * not at every export. */
	if (vs_fs_tree_digest(st->rootfsfd, digest, err) < 0 ||
	    vs_fs_digest_store(st->stagefd, digest, err) < 0)
		return vs_error_prefix(err, "digest of template '%s'", st->name);
	/* The name must not appear before the tree's data is on disk: a crash
	 * right after the rename would otherwise show a complete-looking
	 * template with empty files. */
	if (syncfs(st->stagefd) < 0)
		return vs_error_set(err, errno, "sync template '%s'", st->name);
	if (renameat2(st->tdirfd, st->stage_name, st->tdirfd, st->name, RENAME_NOREPLACE) < 0) {
		if (errno == EEXIST)
			return vs_error_kind(err, VS_EK_CONFLICT, "template '%s' already exists",
					     st->name);
		return vs_error_set(err, errno, "rename staging directory of '%s'", st->name);
	}
	fsync(st->tdirfd);
	return 0;
}

void vs_fs_stage_release(struct vs_fs_stage *st)
{
	vs_closep(&st->rootfsfd);
	vs_closep(&st->stagefd);
	vs_closep(&st->tdirfd);
	free(st->name);
	free(st->stage_name);
	st->name = st->stage_name = NULL;
}

void vs_fs_stage_abort(struct vs_fs_stage *st)
{
	struct vs_error e;

	if (st->tdirfd >= 0 && st->stage_name != NULL) {
		if (st->stagefd >= 0)
			vs_fs_unmount_under(st->stagefd, &e);
		vs_closep(&st->rootfsfd);
		vs_closep(&st->stagefd);
		/* A failure leaves the staging directory to vs_fs_recover(). */
		vs_fs_remove_tree(st->tdirfd, st->stage_name, &e);
	}
	vs_fs_stage_release(st);
}

/* Follow one symlink of the chain: *path becomes where the link at fd
 * (reached as *path) points, relative links taken from its directory. */
static int follow_link(int fd, char *path, size_t len, struct vs_error *err)
{
	char target[PATH_MAX], joined[PATH_MAX * 2];
	char pbuf[256];
	ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);
	int dlen = (int)(strrchr(path, '/') - path);

	vs_fs_printable(path, pbuf, sizeof(pbuf));
	if (n <= 0)
		return vs_error_kind(err, VS_EK_INVALID, "/sbin/init: unreadable symlink %s", pbuf);
	target[n] = '\0';
	if (target[0] == '/')
		snprintf(joined, sizeof(joined), "%s", target);
	else
		snprintf(joined, sizeof(joined), "%.*s/%s", dlen, path, target);
	if (strlen(joined) >= len)
		return vs_error_kind(err, VS_EK_INVALID, "/sbin/init: symlink %s too long", pbuf);
	memcpy(path, joined, strlen(joined) + 1);
	return 0;
}

static void set_init(struct vs_template_info *info, const char *system, int sig)
{
	snprintf(info->init_system, sizeof(info->init_system), "%s", system);
	info->stop_signal = sig;
	vs_strv_free(info->init);
	info->init = xcalloc(2, sizeof(char *));
	info->init[0] = xstrdup("/sbin/init");
}

int vs_fs_detect_init(int rootfd, struct vs_template_info *info, struct vs_error *err)
{
	char path[PATH_MAX] = "/sbin/init", pbuf[256];
	const char *base;
	struct stat st;
	int hop;

	/* Each step is resolved by the kernel inside the tree (RESOLVE_IN_ROOT:
	 * absolute links and ".." stay in it), so a hostile link chain can
	 * point nowhere but into the template. */
	for (hop = 0; hop < SYMLINK_HOPS; hop++) {
		cleanup_close int fd =
		    vs_openat2(rootfd, path, O_PATH | O_NOFOLLOW, 0, VS_RESOLVE_ROOT);
		if (fd < 0 || fstat(fd, &st) < 0) {
			vs_fs_printable(path, pbuf, sizeof(pbuf));
			return vs_error_kind(err, VS_EK_INVALID,
					     "the tree has no usable /sbin/init (%s: %s)", pbuf,
					     strerror(errno));
		}
		if (!S_ISLNK(st.st_mode))
			break;
		if (follow_link(fd, path, sizeof(path), err) < 0)
			return -1;
	}
	if (hop == SYMLINK_HOPS)
		return vs_error_kind(err, VS_EK_INVALID, "/sbin/init: too many symlinks");
	if (!S_ISREG(st.st_mode))
		return vs_error_kind(err, VS_EK_INVALID, "/sbin/init is not a regular file");
	base = strrchr(path, '/') + 1;
	if (strcmp(base, "systemd") == 0) {
		set_init(info, "systemd", SIGRTMIN + 3);
	} else if (strcmp(base, "busybox") == 0) {
		set_init(info, "busybox", SIGUSR2); /* busybox init: USR2 = poweroff */
	} else {
		cleanup_close int it =
		    vs_openat2(rootfd, "etc/inittab", O_PATH, 0, VS_RESOLVE_ROOT);
		bool sysv = strcmp(base, "init") == 0 && it >= 0 && fstat(it, &st) == 0 &&
			    S_ISREG(st.st_mode);
		set_init(info, sysv ? "sysvinit" : "unknown", SIGPWR);
	}
	return 0;
}
