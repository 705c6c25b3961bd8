/* Checkpoint images are secret and checked (issue 9). An image holds the
 * container's memory (pages-*.img) and tmpfs contents, and CRIU restores
 * whatever namespaces, credentials and mounts it describes with host
 * root's privileges. So:
 *  - at rest an image directory is root:root 0700, its files 0600;
 *  - only for the length of a restore it is lent to the container's root
 *    (its host uid, files still 0600): CRIU's restored tasks open some image
 *    files themselves after they entered the container's user namespace,
 *    where host root's files are out of reach. The time namespace image is
 *    opened by a task whose new user namespace may not have its id map yet
 *    (it is then the overflow uid, neither owner nor group): that one file,
 *    which holds only clock offsets, is 0644 and the directory 0711 while
 *    lent (seen here: "Unable to open timens-N.img: Permission denied" in
 *    one restore out of three with 0600/0700);
 *  - before a restore its digest is verified under the node key and its
 *    namespaces, credentials and mounts are checked against the container's
 *    configuration (migrate/imgcheck.c);
 *  - after a restore the adopted tasks are checked again from /proc, and the
 *    caller kills the tree when they do not match. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "migrate/vs_migrate.h"
#include "migrate/mig-monitor.h"
#include "runtime/rt-private.h"

static int open_dir(const char *dir, struct vs_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		vs_error_set(err, errno, "open image %s", dir);
	return fd;
}

int rt_image_secure(const char *dir, struct vs_error *err)
{
	cleanup_close int dfd = open_dir(dir, err);

	if (dfd < 0 || vs_mig_image_secure(dfd, err) < 0)
		return vs_error_prefix(err, "make %s root-only", dir);
	return 0;
}

int rt_image_seal(const struct vs_rt_instance *inst, const char *dir, struct vs_error *err)
{
	cleanup_close int dfd = open_dir(dir, err);
	uint8_t key[VS_MIG_KEY_LEN];

	if (dfd < 0 || vs_mig_image_secure(dfd, err) < 0 ||
	    vs_mig_node_key(inst->root, key, err) < 0 || vs_mig_image_seal(dfd, key, err) < 0)
		return vs_error_prefix(err, "seal image %s", dir);
	return 0;
}

/* The image's files are the ones this node sealed (vs_mig_image_seal). */
static int verify_seal(const struct vs_rt_instance *inst, int dfd, struct vs_error *err)
{
	uint8_t key[VS_MIG_KEY_LEN];

	if (vs_mig_node_key(inst->root, key, err) < 0)
		return -1;
	return vs_mig_image_verify(dfd, key, err);
}

int rt_image_admit(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		   const char *dir, const struct cr_meta *m, struct vs_error *err)
{
	cleanup_close int dfd = open_dir(dir, err);
	const char *keys[RT_MAX_EXT];
	struct vs_mig_image_policy pol = {
	    .privileged = cfg->privileged,
	    .uid_first = cfg->idmap_uid,
	    .gid_first = cfg->idmap_gid,
	    .id_count = cfg->idmap_size,
	    .cap_bound = rt_caps_bound(),
	    .seccomp = true,
	    .ext_keys = keys,
	    .n_ext_keys = m->nkeys,
	};

	for (size_t i = 0; i < m->nkeys; i++)
		keys[i] = m->keys[i];
	if (dfd < 0 || verify_seal(inst, dfd, err) < 0 || vs_mig_image_check(dfd, &pol, err) < 0)
		return vs_error_prefix(err, "refusing to restore %s", dir);
	return 0;
}

int rt_image_verify_sealed(const struct vs_rt_instance *inst, const char *dir, struct vs_error *err)
{
	cleanup_close int dfd = open_dir(dir, err);

	if (dfd < 0 || verify_seal(inst, dfd, err) < 0)
		return vs_error_prefix(err, "refusing to restore %s", dir);
	return 0;
}

/* Lend the entries of one level: the image's top (round 0), or a memory
 * pre-copy round's directory, whose pages CRIU's restored tasks read
 * through the parent links as they read the top's. */
static int lend_at(const struct vs_container_config *cfg, int dfd, unsigned round,
		   struct vs_error *err)
{
	cleanup_dir DIR *d = fdopendir(dup(dfd));
	struct dirent *e;

	if (d == NULL)
		return vs_error_set(err, errno, "open the image");
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		/* The layer copy keeps the guest's owners (and CRIU never
		 * reads it). */
		if (strcmp(e->d_name, "..") == 0 || strcmp(e->d_name, VS_MIG_LAYER_SUBDIR) == 0 ||
		    fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)))
			continue;
		mode_t mode = S_ISDIR(st.st_mode)		      ? 0711
			      : strncmp(e->d_name, "timens-", 7) == 0 ? 0644
								      : 0600;
		if (fchownat(dfd, e->d_name, cfg->idmap_uid, cfg->idmap_gid, AT_SYMLINK_NOFOLLOW) <
			0 ||
		    fchmodat(dfd, e->d_name, mode, 0) < 0)
			return vs_error_set(err, errno, "lend %s to the container", e->d_name);
		if (round == 0 && S_ISDIR(st.st_mode) && vs_mig_round_number(e->d_name) > 0) {
			cleanup_close int sub =
			    openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0 || lend_at(cfg, sub, vs_mig_round_number(e->d_name), err) < 0)
				return sub < 0 ? vs_error_set(err, errno, "open %s", e->d_name)
					       : -1;
		}
	}
	return 0;
}

int rt_image_lend(const struct vs_container_config *cfg, const char *dir, struct vs_error *err)
{
	cleanup_close int dfd = open_dir(dir, err);

	if (dfd < 0)
		return -1;
	if (cfg->privileged)
		return 0;
	if (lend_at(cfg, dfd, 0, err) < 0)
		return vs_error_prefix(err, "lend %s", dir);
	return 0;
}

/* "Name:\tVALUE" of a /proc/PID/status text, as hex (caps) or decimal. */
static bool status_field(const char *text, const char *name, int base, uint64_t *out)
{
	cleanup_free char *key = xasprintf("\n%s:", name);
	const char *p = strstr(text, key);
	char *end;

	if (p == NULL)
		return false;
	*out = strtoull(p + strlen(key), &end, base);
	return end != p + strlen(key);
}

/* One extent "0 FIRST COUNT", whitespace as the kernel prints it. */
static bool map_is(pid_t pid, const char *which, uint32_t first, uint32_t count)
{
	cleanup_free char *path = xasprintf("/proc/%d/%s", (int)pid, which);
	cleanup_free char *text = NULL;
	unsigned a, b, c;
	int n = 0;

	if (vs_read_file_at(AT_FDCWD, path, 4096, &text, NULL, NULL) < 0)
		return false;
	return sscanf(text, "%u %u %u %n", &a, &b, &c, &n) == 3 && text[n] == '\0' && a == 0 &&
	       b == first && c == count;
}

static int verify_task(const struct vs_container_config *cfg, pid_t pid, struct vs_error *err)
{
	cleanup_free char *path = xasprintf("/proc/%d/status", (int)pid);
	cleanup_free char *text = NULL;
	char ns[64] = "", host[64] = "", link[64];
	uint64_t bound = rt_caps_bound(), v;
	static const char *const sets[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"};

	if (vs_read_file_at(AT_FDCWD, path, 65536, &text, NULL, err) < 0)
		return vs_error_prefix(err, "restored task %d", (int)pid);
	for (size_t i = 0; i < VS_ARRAY_SIZE(sets); i++)
		if (!status_field(text, sets[i], 16, &v) || (v & ~bound) != 0)
			return vs_error_kind(err, VS_EK_INVALID,
					     "restored task %d holds capabilities beyond the "
					     "container's bounding set (%s %016llx)",
					     (int)pid, sets[i], (unsigned long long)v);
	if (!status_field(text, "Seccomp", 10, &v) || v != 2)
		return vs_error_kind(err, VS_EK_INVALID,
				     "restored task %d is not under the container's seccomp filter",
				     (int)pid);
	if (cfg->privileged)
		return 0;
	snprintf(link, sizeof(link), "/proc/%d/ns/user", (int)pid);
	if (readlink(link, ns, sizeof(ns) - 1) < 0 ||
	    readlink("/proc/self/ns/user", host, sizeof(host) - 1) < 0 || strcmp(ns, host) == 0)
		return vs_error_kind(err, VS_EK_INVALID,
				     "restored task %d is in the host's user namespace", (int)pid);
	if (!map_is(pid, "uid_map", cfg->idmap_uid, cfg->idmap_size) ||
	    !map_is(pid, "gid_map", cfg->idmap_gid, cfg->idmap_size))
		return vs_error_kind(err, VS_EK_INVALID,
				     "restored task %d's id map is not the configured one",
				     (int)pid);
	return 0;
}

/* Has pid exited (gone, or a zombie) since it was listed? A restored
 * guest runs at once, and its short-lived children (a shell's commands,
 * a service's helpers) exit between the listing and the reads of their
 * status, namespace and maps; what is dead needs no check and a zombie
 * can do nothing. */
static bool task_ended(pid_t pid)
{
	cleanup_free char *path = xasprintf("/proc/%d/stat", (int)pid);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	char text[1024];
	const char *p;
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT || errno == ESRCH;
	n = read(fd, text, sizeof(text) - 1);
	if (n < 0)
		return errno == ESRCH;
	text[n] = '\0';
	p = strrchr(text, ')');
	return p != NULL && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

int rt_restored_verify(const struct vs_container_config *cfg, pid_t init, const char *cgdir,
		       struct vs_error *err)
{
	cleanup_free char *path = NULL;
	cleanup_free char *procs = NULL;
	char *save = NULL;

	if (verify_task(cfg, init, err) < 0)
		return -1;
	if (cgdir == NULL)
		return 0;
	path = xasprintf("%s/cgroup.procs", cgdir);
	if (vs_read_file_at(AT_FDCWD, path, 1 << 22, &procs, NULL, err) < 0)
		return vs_error_prefix(err, "list restored tasks");
	for (char *p = strtok_r(procs, "\n", &save); p != NULL; p = strtok_r(NULL, "\n", &save)) {
		pid_t pid = (pid_t)atoi(p);
		struct vs_error e2 = {0};
		if (pid > 0 && pid != init && verify_task(cfg, pid, &e2) < 0 && !task_ended(pid)) {
			if (err != NULL)
				*err = e2;
			return -1;
		}
	}
	return 0;
}
