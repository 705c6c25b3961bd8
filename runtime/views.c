/* In-container views: what free, nproc, top and uptime read.
 *
 * One lxcfs (Debian's, 5.0.x) per vsd instance, mounted at
 * RUN_DIR/lxcfs. lxcfs answers each read for the cgroups and pid
 * namespace of the reading process, so one instance serves every
 * container. Its files are bind-mounted over their /proc and /sys
 * counterparts in each container (mounts.c), so nothing in the guest
 * changes and no guest program needs to know.
 *
 * lxcfs must outlive vsd: the containers' bind mounts point into it, and a
 * FUSE mount whose daemon died answers every read with ENOTCONN (so `free`
 * breaks) until the container is restarted. So it runs in a session of its
 * own, reparented away from vsd like the monitors; a restarting vsd keeps
 * an instance that answers and replaces only a dead or hung one. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_mountinfo.h"
#include "lib/vs_util.h"
#include "runtime/rt-private.h"

#define LXCFS_START_TIMEOUT_MS 5000

/* Relative to the lxcfs mount and to the container's root alike. */
const char *const rt_view_files[RT_VIEW_FILES + 1] = {
    "proc/cpuinfo", "proc/diskstats", "proc/loadavg", "proc/meminfo",
    "proc/stat",    "proc/swaps",     "proc/uptime",  "sys/devices/system/cpu/online",
    NULL,
};

int rt_view_index(const char *path)
{
	for (int i = 0; i < RT_VIEW_FILES; i++)
		if (strcmp(path, rt_view_files[i]) == 0)
			return i;
	return -1;
}

char *vs_rt_views_dir(const char *run_dir)
{
	char real[PATH_MAX];

	/* mountinfo names the mount point by its real path. */
	if (realpath(run_dir, real) != NULL)
		return xasprintf("%s/lxcfs", real);
	return xasprintf("%s/lxcfs", run_dir);
}

static int is_lxcfs_at(const struct vs_mount *m, void *ud, struct vs_error *err)
{
	return strcmp(m->target, ud) == 0 && strcmp(m->fstype, "fuse.lxcfs") == 0;
}

/* True when mountinfo has a fuse.lxcfs mount exactly at mnt: the only kind
 * of mount we ever replace or detach there. */
static bool lxcfs_mounted(const char *mnt)
{
	return vs_mountinfo_read("/proc/self/mountinfo", 16 << 20, is_lxcfs_at, (void *)mnt,
				 NULL) == 1;
}

/* A FUSE mount's root exactly at mnt, without reading the mount table:
 * vsd's own mount point, where only vsd mounts lxcfs, checked at each start
 * by the daemon and again by the monitor; mountinfo grows with every
 * container's mounts on the node (2 ms to scan at 3,000 lines here).
 * 1: yes, 0: no, -1: the kernel cannot tell (no STATX_ATTR_MOUNT_ROOT). */
static int fuse_mounted_at(const char *mnt)
{
	struct statx stx;
	struct statfs sfs;

	if (statx(AT_FDCWD, mnt, AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, STATX_TYPE, &stx) < 0)
		return 0; /* a dead lxcfs answers ENOTCONN */
	if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return -1;
	if (!(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) || !S_ISDIR(stx.stx_mode))
		return 0;
	return statfs(mnt, &sfs) == 0 && sfs.f_type == FUSE_SUPER_MAGIC;
}

bool rt_views_ready(const char *mnt)
{
	cleanup_free char *path = xasprintf("%s/proc/uptime", mnt);
	cleanup_close int fd = -1;
	char buf[64];
	int fuse = fuse_mounted_at(mnt);

	if (fuse == 0 || (fuse < 0 && !lxcfs_mounted(mnt)))
		return false;
	/* A dead lxcfs answers ENOTCONN at once; a live one answers. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd >= 0 && read(fd, buf, sizeof(buf)) > 0;
}

/* The pid in RUN_DIR/lxcfs.pid if that process is an lxcfs serving mnt
 * (its command line names our mount point), else 0. */
static pid_t our_lxcfs_pid(const char *pidfile, const char *mnt)
{
	cleanup_free char *text = NULL, *cmd = NULL;
	cleanup_free char *cmdpath = NULL;
	size_t len = 0;
	pid_t pid;

	if (vs_read_file_at(AT_FDCWD, pidfile, 64, &text, NULL, NULL) < 0)
		return 0;
	pid = (pid_t)atoi(text);
	if (pid <= 1)
		return 0;
	cmdpath = xasprintf("/proc/%d/cmdline", (int)pid);
	if (vs_read_file_at(AT_FDCWD, cmdpath, 65536, &cmd, &len, NULL) < 0 || len == 0)
		return 0;
	if (strcmp(strrchr(cmd, '/') ? strrchr(cmd, '/') + 1 : cmd, "lxcfs") != 0)
		return 0;
	for (size_t off = 0; off < len; off += strlen(cmd + off) + 1)
		if (strcmp(cmd + off, mnt) == 0)
			return pid;
	return 0;
}

/* Remove what a dead or hung lxcfs of ours left: the process (it would
 * hold the pidfile lock and the mount) and the mount itself. Nothing at
 * mnt that is not fuse.lxcfs is touched. */
static void clean_stale(const char *mnt, const char *pidfile)
{
	pid_t pid = our_lxcfs_pid(pidfile, mnt);

	if (pid > 0) {
		kill(pid, SIGKILL);
		for (int i = 0; i < 100 && kill(pid, 0) == 0; i++)
			nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
	}
	if (lxcfs_mounted(mnt))
		umount2(mnt, MNT_DETACH);
}

static int start_lxcfs(const char *run_dir, const char *mnt, const char *pidfile,
		       struct vs_error *err)
{
	cleanup_free char *logpath = xasprintf("%s/lxcfs.log", run_dir);
	cleanup_close int logfd = -1;
	/* -f: lxcfs 5 stays in the foreground anyway; we detach it. -l: load
	 * averages of the container's own tasks. --enable-cfs: CPU count and
	 * usage from the CFS quota, not only the cpuset. --enable-pidfd: no
	 * pid reuse races when it tracks containers' inits. */
	char *argv[] = {VS_RT_LXCFS,
			"-f",
			"--enable-loadavg",
			"--enable-cfs",
			"--enable-pidfd",
			"-p",
			(char *)pidfile,
			(char *)mnt,
			NULL};
	int stdio[3] = {-1, -1, -1};
	int64_t deadline;

	if (access(VS_RT_LXCFS, X_OK) < 0)
		return vs_error_kind(err, VS_EK_UNSUPPORTED,
				     "%s is not installed (apt-get install lxcfs)", VS_RT_LXCFS);
	if (mkdir(mnt, 0755) < 0 && errno != EEXIST)
		return vs_error_set(err, errno, "create %s", mnt);
	logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	stdio[1] = stdio[2] = logfd;
	if (rt_spawn_program(argv, stdio, err) < 0)
		return vs_error_prefix(err, "start lxcfs");
	deadline = vs_now_ms() + LXCFS_START_TIMEOUT_MS;
	while (!rt_views_ready(mnt)) {
		if (vs_now_ms() > deadline) {
			clean_stale(mnt, pidfile);
			return vs_error_set(err, ETIMEDOUT,
					    "lxcfs did not serve %s within %d ms (see %s)", mnt,
					    LXCFS_START_TIMEOUT_MS, logpath);
		}
		nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
	}
	return 0;
}

int vs_rt_views_ensure(const char *run_dir, pid_t *pid, struct vs_error *err)
{
	cleanup_free char *mnt = vs_rt_views_dir(run_dir);
	cleanup_free char *pidfile = xasprintf("%s/lxcfs.pid", run_dir);

	if (!rt_views_ready(mnt)) {
		clean_stale(mnt, pidfile);
		if (start_lxcfs(run_dir, mnt, pidfile, err) < 0)
			return -1;
	}
	if (pid != NULL)
		*pid = our_lxcfs_pid(pidfile, mnt);
	return 0;
}

void rt_views_close(struct rt_views *v)
{
	for (int i = 0; i < RT_VIEW_FILES; i++)
		if (v->fd[i] >= 0) {
			close(v->fd[i]);
			v->fd[i] = -1;
		}
}

int rt_views_open(const char *mnt, bool own_time, struct rt_views *v, struct vs_error *err)
{
	cleanup_close int dir = -1;

	for (int i = 0; i < RT_VIEW_FILES; i++)
		v->fd[i] = -1;
	if (mnt == NULL)
		return 0;
	/* lxcfs is the host's own daemon: its tree is trusted, but the fds
	 * must be O_PATH of regular files (bind sources), never followed. */
	dir = open(mnt, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return vs_error_set(err, errno, "open the lxcfs mount %s", mnt);
	for (int i = 0; i < RT_VIEW_FILES; i++) {
		struct stat st;
		/* lxcfs's uptime is the age of the container's init, so it
		 * resets when a restore makes a new one; the kernel's in a
		 * time namespace of the container's own does not. */
		if (own_time && strcmp(rt_view_files[i], "proc/uptime") == 0)
			continue;
		v->fd[i] = openat(dir, rt_view_files[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (v->fd[i] < 0 || fstat(v->fd[i], &st) < 0 || !S_ISREG(st.st_mode)) {
			int e = errno;
			rt_views_close(v);
			return vs_error_set(err, e ? e : EINVAL, "open %s/%s", mnt,
					    rt_view_files[i]);
		}
	}
	return 0;
}
