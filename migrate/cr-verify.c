/* Making a dump restorable, and checking it before the source goes.
 *
 * The inotify case (issue 9): systemd in the guest watches the cgroup.events
 * (and memory.events) file of every unit's cgroup. CRIU saves a watch as the
 * watched inode's file handle plus, when it can, a path: it opens the handle
 * (open_by_handle_at) and reads back where the file it got lives. kernfs
 * (cgroupfs) hands out a *connected* dentry only when one is still in the
 * dentry cache; an inotify watch pins the inode, not its dentry, so after
 * memory pressure (an OOM kill in the guest reclaims the dcache) the dentries
 * of files nobody has open are gone and the handle opens as a disconnected
 * alias whose path names nothing ("openable (inode don't match)"). CRIU then
 * keeps the bare handle, and the restore, where vsd recreates those cgroup
 * directories with new inodes, fails ("Failed to restore inotify wd").
 *
 * So while the container is frozen, before CRIU starts, the monitor opens
 * every "*.events" file of the container's cgroup2 tree (O_PATH), which
 * looks its dentry up (connected, under its directory) and holds it until
 * CRIU is done: each watched cgroup file then resolves to its path. Merely
 * reading the files (the workaround found first) caches the dentries too,
 * but they could be reclaimed again before CRIU gets to them; an open file
 * cannot lose its dentry. Then the dump's log is read for watches that still
 * came out as bare handles (vs_mig_dumplog_unrestorable): such an image
 * would not restore, and the container is thawed instead of killed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "migrate/vs_migrate.h"
#include "migrate/mig-monitor.h"
#include "migrate/mig-private.h"

#define PIN_MAX_DEPTH 32
/* Past this many, the rest are looked up (stat) but not held. */
#define PIN_MAX_FDS 16384

static bool is_watched_kind(const char *name)
{
	return strstr(name, ".events") != NULL;
}

static void pin_add(struct rt_pins *p, int fd)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 256;
		p->fds = xrealloc(p->fds, p->cap * sizeof(int));
	}
	p->fds[p->n++] = fd;
}

static void pin_dir(int dfd, int depth, struct rt_pins *p)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *e;
	int fd2 = dup(dfd);

	if (fd2 < 0 || (d = fdopendir(fd2)) == NULL) {
		if (fd2 >= 0)
			close(fd2);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		int fd;
		if (e->d_name[0] == '.')
			continue;
		if (e->d_type == DT_DIR) {
			cleanup_close int sub = -1;
			if (depth >= PIN_MAX_DEPTH)
				continue;
			sub = openat(dirfd(d), e->d_name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				pin_dir(sub, depth + 1, p);
			continue;
		}
		if (!is_watched_kind(e->d_name))
			continue;
		if (p->n >= PIN_MAX_FDS) {
			fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW);
			p->unpinned++;
			continue;
		}
		fd = openat(dirfd(d), e->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			pin_add(p, fd);
		else
			p->unpinned++;
	}
}

int rt_pin_cgroup_files(const char *unified_dir, struct rt_pins *p)
{
	cleanup_close int dfd = -1;
	struct rlimit rl;

	memset(p, 0, sizeof(*p));
	if (unified_dir == NULL)
		return 0;
	dfd = open(unified_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return 0;
	/* A systemd guest has a few hundred of these; room for them. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	pin_dir(dfd, 0, p);
	return (int)p->n;
}

void rt_pins_release(struct rt_pins *p)
{
	for (size_t i = 0; i < p->n; i++)
		close(p->fds[i]);
	free(p->fds);
	memset(p, 0, sizeof(*p));
}

int rt_dump_verify(const char *logpath, struct vs_error *err)
{
	cleanup_free char *text = NULL;
	char msg[600];

	if (vs_mig_log_read(logpath, &text, err) < 0)
		return vs_error_prefix(err, "check the image");
	if (vs_mig_dumplog_unrestorable(text, msg, sizeof(msg)) == 0)
		return 0;
	return vs_error_kind(err, VS_EK_CONFLICT,
			     "the image would not restore: %s (log: %s); the container was left "
			     "running",
			     msg, logpath);
}

/* ---- ownership of the guest's cgroups after a restore -------------------
 *
 * On a fresh boot the guest's root makes its cgroups itself, and the kernel
 * gives every file of a new cgroup the owner of its directory. On restore
 * the directories are made by vsd (rebuild_cgdirs) and by CRIU as host
 * root, and files the kernel adds later (when CRIU writes the saved
 * cgroup.subtree_control, every controller's files appear in the children)
 * belong to whoever owned the directory then. So, once the tree is final,
 * every directory below the delegated top and every file in it is given to
 * the container's root, as the guest's own mkdir would have. The top keeps
 * the delegation vs_cg_create made (only cgroup.procs, cgroup.threads and
 * cgroup.subtree_control are the guest's there). */
static int give_dir(int dfd, const char *rel, int depth, uid_t uid, gid_t gid, struct vs_error *err)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *e;
	int fd2 = dup(dfd);

	if (fd2 < 0 || (d = fdopendir(fd2)) == NULL) {
		int saved = errno;
		if (fd2 >= 0)
			close(fd2);
		return vs_error_set(err, saved, "read cgroup %s", rel);
	}
	while ((e = readdir(d)) != NULL) {
		cleanup_close int sub = -1;
		cleanup_free char *subrel = NULL;
		if (e->d_name[0] == '.')
			continue;
		if (depth > 0 && fchownat(dirfd(d), e->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 &&
		    errno != ENOENT)
			return vs_error_set(err, errno, "chown cgroup %s/%s", rel, e->d_name);
		if (e->d_type != DT_DIR)
			continue;
		if (depth >= PIN_MAX_DEPTH)
			return vs_error_set(err, E2BIG, "cgroup %s: nested too deep", rel);
		subrel = xasprintf("%s/%s", rel, e->d_name);
		sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			if (errno == ENOENT)
				continue;
			return vs_error_set(err, errno, "open cgroup %s", subrel);
		}
		if (give_dir(sub, subrel, depth + 1, uid, gid, err) < 0)
			return -1;
	}
	return 0;
}

int rt_cg_give_subtree(const char *unified_dir, uid_t uid, gid_t gid, struct vs_error *err)
{
	cleanup_close int dfd = -1;

	if (unified_dir == NULL)
		return 0;
	dfd = open(unified_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return vs_error_set(err, errno, "open %s", unified_dir);
	return give_dir(dfd, unified_dir, 0, uid, gid, err);
}
