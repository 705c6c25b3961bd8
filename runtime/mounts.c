/* The container's filesystem view, built in its new mount namespace before
 * pivot_root. Nothing of the container runs yet, but the rootfs is the
 * template's and the container's own layer: attacker-written. So every
 * target inside it is opened with openat2(RESOLVE_IN_ROOT) (no symlinks at
 * all for /proc, /sys, /dev, /run) and every mount is made on that verified
 * O_PATH fd with the new mount API, never on a path string (CVE-2021-30465
 * swaps a path between check and mount). Host device nodes are opened on the
 * host side, checked to be the expected char devices, and bind-mounted by fd
 * (CVE-2025-31133 swaps /dev/null). */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <termios.h>
#include <unistd.h>

#include "lib/vs_devices.h"
#include "lib/vs_io.h"
#include "lib/vs_syscall.h"
#include "lib/vs_util.h"
#include "runtime/rt-private.h"

#define MOVE_EMPTY (MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)

/* Open a directory inside root (creating it if missing), refusing symlinks
 * anywhere on the way. Returns an O_PATH fd or -1 with err. */
static int open_dir_in(int rootfd, const char *path, mode_t mode, struct vs_error *err)
{
	int fd = vs_openat2(rootfd, path, O_PATH | O_DIRECTORY, 0, VS_RESOLVE_NOLINKS);

	if (fd < 0 && errno == ENOENT && strchr(path, '/') == NULL) {
		if (mkdirat(rootfd, path, mode) < 0 && errno != EEXIST)
			return vs_error_set(err, errno, "create /%s in the container root", path);
		fd = vs_openat2(rootfd, path, O_PATH | O_DIRECTORY, 0, VS_RESOLVE_NOLINKS);
	}
	if (fd < 0)
		return vs_error_set(err, errno,
				    "container root: /%s must be a real directory, not a symlink",
				    path);
	return fd;
}

/* Create a new filesystem instance, detached. opts are "key=value"
 * strings or bare flags. Returns the new mount's fd or -1 with err. */
static int make_fs(const char *fstype, const char *const *opts, unsigned int attrs,
		   const char *what, struct vs_error *err)
{
	cleanup_close int fsfd = vs_fsopen(fstype, 0);
	int mfd;

	if (fsfd < 0)
		return vs_error_set(err, errno, "fsopen %s for %s", fstype, what);
	for (size_t i = 0; opts != NULL && opts[i] != NULL; i++) {
		const char *eq = strchr(opts[i], '=');
		int r;
		if (eq != NULL) {
			cleanup_free char *key = xstrndup(opts[i], (size_t)(eq - opts[i]));
			r = vs_fsconfig(fsfd, FSCONFIG_SET_STRING, key, eq + 1, 0);
		} else {
			r = vs_fsconfig(fsfd, FSCONFIG_SET_FLAG, opts[i], NULL, 0);
		}
		if (r < 0)
			return vs_error_set(err, errno, "%s option %s for %s", fstype, opts[i],
					    what);
	}
	if (vs_fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return vs_error_set(err, errno, "create %s for %s", fstype, what);
	mfd = vs_fsmount(fsfd, 0, attrs);
	if (mfd < 0)
		return vs_error_set(err, errno, "fsmount %s for %s", fstype, what);
	return mfd;
}

/* Create a new filesystem instance and attach it on target_fd. */
static int mount_new(int target_fd, const char *fstype, const char *const *opts, unsigned int attrs,
		     const char *what, struct vs_error *err)
{
	cleanup_close int mfd = make_fs(fstype, opts, attrs, what, err);

	if (mfd < 0)
		return -1;
	if (vs_move_mount(mfd, "", target_fd, "", MOVE_EMPTY) < 0)
		return vs_error_set(err, errno, "mount %s on %s", fstype, what);
	return 0;
}

/* Hide the directory target_fd with an empty read-only tmpfs. Every hidden
 * directory gets a bind of the same one (*mask, made on first use; the
 * caller closes it): CRIU archives each tmpfs at every dump and restore
 * (a tar and a gzip it runs, ~8-25 ms each here), a bind of one it does
 * not archive again. */
static int mask_dir(int *mask, int target_fd, const char *what, struct vs_error *err)
{
	static const char *const ro_tmpfs[] = {"size=0", "mode=555", NULL};
	cleanup_close int tree = -1;

	if (*mask < 0) {
		/* The first one is attached here, and later ones are clones
		 * of it once attached: Debian 12's kernel (6.1) refuses to
		 * clone a detached mount (EINVAL); 6.18 allows it. */
		int m = make_fs("tmpfs", ro_tmpfs, MOUNT_ATTR_RDONLY, what, err);

		if (m < 0)
			return -1;
		if (vs_move_mount(m, "", target_fd, "", MOVE_EMPTY) < 0) {
			vs_error_set(err, errno, "mask %s", what);
			close(m);
			return -1;
		}
		*mask = m;
		return 0;
	}
	tree = vs_open_tree(*mask, "", OPEN_TREE_CLONE | AT_EMPTY_PATH);
	if (tree < 0)
		return vs_error_set(err, errno, "clone the mask for %s", what);
	if (vs_move_mount(tree, "", target_fd, "", MOVE_EMPTY) < 0)
		return vs_error_set(err, errno, "mask %s", what);
	return 0;
}

/* Bind-mount the object behind src_fd onto target_fd, optionally read-only.
 * Returns 0, or with tree_out the fd of the new mount's root. */
static int bind_fd_get(int src_fd, int target_fd, bool recursive, unsigned int attr_set,
		       const char *what, int *tree_out, struct vs_error *err)
{
	unsigned int flags = OPEN_TREE_CLONE | AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
	cleanup_close int tree = vs_open_tree(src_fd, "", flags);

	if (tree < 0)
		return vs_error_set(err, errno, "clone mount for %s", what);
	if (attr_set != 0) {
		struct mount_attr a = {.attr_set = attr_set};
		if (vs_mount_setattr(tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a,
				     sizeof(a)) < 0)
			return vs_error_set(err, errno, "set attributes for %s", what);
	}
	if (vs_move_mount(tree, "", target_fd, "", MOVE_EMPTY) < 0)
		return vs_error_set(err, errno, "bind mount %s", what);
	if (tree_out != NULL)
		*tree_out = steal_fd(&tree);
	return 0;
}

static int bind_fd(int src_fd, int target_fd, bool recursive, unsigned int attr_set,
		   const char *what, struct vs_error *err)
{
	return bind_fd_get(src_fd, target_fd, recursive, attr_set, what, NULL, err);
}

/* Open the host's /dev/NAME and check it really is that device. */
static int open_host_dev(const struct vs_device *d, struct vs_error *err)
{
	char path[64];
	struct stat st;
	cleanup_close int fd = -1;

	snprintf(path, sizeof(path), "/dev/%s", d->name);
	fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return vs_error_set(err, errno, "open host %s", path);
	if (fstat(fd, &st) < 0)
		return vs_error_set(err, errno, "stat host %s", path);
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != d->major ||
	    (int)minor(st.st_rdev) != d->minor)
		return vs_error_set(err, EINVAL, "host %s is not char device %u:%d", path, d->major,
				    d->minor);
	return steal_fd(&fd);
}

/* A fresh empty file in the container's /dev tmpfs, as a bind target. */
static int make_target_file(int devfd, const char *name, struct vs_error *err)
{
	int fd = openat(devfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0666);

	if (fd < 0)
		return vs_error_set(err, errno, "create /dev/%s", name);
	close(fd);
	fd = openat(devfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return vs_error_set(err, errno, "open /dev/%s", name);
	return fd;
}

static int setup_dev_nodes(int devfd, struct vs_error *err)
{
	static const char *const links[][2] = {
	    {"fd", "/proc/self/fd"},	   {"stdin", "/proc/self/fd/0"},
	    {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
	    {"ptmx", "pts/ptmx"},
	};

	for (size_t i = 0; i < vs_devices_count; i++) {
		const struct vs_device *d = &vs_devices[i];
		cleanup_close int src = -1, dst = -1;
		if (!d->host_bind)
			continue;
		if ((src = open_host_dev(d, err)) < 0)
			return -1;
		dst = make_target_file(devfd, d->name, err);
		if (dst < 0 || bind_fd(src, dst, false, 0, d->name, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < VS_ARRAY_SIZE(links); i++)
		if (symlinkat(links[i][1], devfd, links[i][0]) < 0)
			return vs_error_set(err, errno, "symlink /dev/%s", links[i][0]);
	if (mkdirat(devfd, "pts", 0755) < 0 || mkdirat(devfd, "shm", 01777) < 0 ||
	    fchmodat(devfd, "shm", 01777, 0) < 0)
		return vs_error_set(err, errno, "mkdir in /dev");
	return 0;
}

/* /dev/shm: the /dev tmpfs's own shm directory bound onto itself, nosuid
 * and nodev but not noexec (as it was on a tmpfs of its own), not a tmpfs
 * of its own: CRIU archives every tmpfs (a tar and a gzip at each dump and
 * restore), and a bind of one it archives with the one. /dev has no size
 * limit for that reason (shm had none): the pages are the container's,
 * charged to its memory cgroup either way. */
static int bind_shm(int shmfd, struct vs_error *err)
{
	struct mount_attr a = {.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
			       .attr_clr = MOUNT_ATTR_NOEXEC};
	cleanup_close int tree = vs_open_tree(shmfd, "", OPEN_TREE_CLONE | AT_EMPTY_PATH);

	if (tree < 0)
		return vs_error_set(err, errno, "clone /dev/shm");
	if (vs_mount_setattr(tree, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
		return vs_error_set(err, errno, "set attributes for /dev/shm");
	if (vs_move_mount(tree, "", shmfd, "", MOVE_EMPTY) < 0)
		return vs_error_set(err, errno, "bind mount /dev/shm");
	return 0;
}

static int setup_dev(int rootfd, int console_src, struct vs_error *err)
{
	static const char *const dev_opts[] = {"mode=755", NULL};
	static const char *const pts_opts[] = {"newinstance", "ptmxmode=0666", "mode=0620", "gid=5",
					       NULL};
	cleanup_close int target = open_dir_in(rootfd, "dev", 0755, err);
	cleanup_close int devfd = -1, ptsfd = -1, shmfd = -1;

	if (target < 0)
		return -1;
	if (mount_new(target, "tmpfs", dev_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, "/dev",
		      err) < 0)
		return -1;
	/* Re-open: the fd above still points at the directory under the mount. */
	devfd = vs_openat2(rootfd, "dev", O_RDONLY | O_DIRECTORY, 0, VS_RESOLVE_NOLINKS);
	if (devfd < 0)
		return vs_error_set(err, errno, "open /dev");
	if (setup_dev_nodes(devfd, err) < 0)
		return -1;
	ptsfd = openat(devfd, "pts", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	shmfd = openat(devfd, "shm", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ptsfd < 0 || shmfd < 0)
		return vs_error_set(err, errno, "open /dev/pts or /dev/shm");
	if (mount_new(ptsfd, "devpts", pts_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, "/dev/pts",
		      err) < 0 ||
	    bind_shm(shmfd, err) < 0)
		return -1;
	/* The console (allocated by the monitor, see console.c). */
	cleanup_close int ctarget = make_target_file(devfd, "console", err);
	if (ctarget < 0)
		return -1;
	return bind_fd(console_src, ctarget, false, 0, "/dev/console", err);
}

/* Paths of the kernel's interfaces that reveal or change the host. */
static const char *const masked_files[] = {
    "kcore",	     "keys",	      "timer_list", "sched_debug",
    "latency_stats", "sysrq-trigger", "kallsyms",   NULL,
};
static const char *const masked_proc_dirs[] = {"acpi", "scsi", NULL};
static const char *const readonly_proc[] = {"sys", "bus", "fs", "irq", NULL};

static int mask_proc(int procfd, int *mask, struct vs_error *err)
{
	cleanup_close int null = open_host_dev(vs_device_host("null"), err);

	if (null < 0)
		return -1;
	for (size_t i = 0; masked_files[i] != NULL; i++) {
		cleanup_close int t =
		    openat(procfd, masked_files[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (t < 0)
			continue; /* not present on this kernel */
		if (bind_fd(null, t, false, MOUNT_ATTR_RDONLY, masked_files[i], err) < 0)
			return -1;
	}
	for (size_t i = 0; masked_proc_dirs[i] != NULL; i++) {
		cleanup_close int t = openat(procfd, masked_proc_dirs[i],
					     O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (t < 0)
			continue;
		if (mask_dir(mask, t, masked_proc_dirs[i], err) < 0)
			return -1;
	}
	for (size_t i = 0; readonly_proc[i] != NULL; i++) {
		cleanup_close int t =
		    openat(procfd, readonly_proc[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (t < 0)
			continue;
		if (bind_fd(t, t, true,
			    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
				MOUNT_ATTR_NOEXEC,
			    readonly_proc[i], err) < 0)
			return -1;
	}
	return 0;
}

static int setup_proc_sys(int rootfd, struct vs_error *err)
{
	const unsigned int safe = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
	cleanup_close int proct = open_dir_in(rootfd, "proc", 0555, err);
	cleanup_close int syst = -1, procfd = -1, cgt = -1, fw = -1, mask = -1;

	if (proct < 0 || mount_new(proct, "proc", NULL, safe, "/proc", err) < 0)
		return -1;
	procfd = vs_openat2(rootfd, "proc", O_PATH | O_DIRECTORY, 0, VS_RESOLVE_NOLINKS);
	if (procfd < 0 || mask_proc(procfd, &mask, err) < 0)
		return procfd < 0 ? vs_error_set(err, errno, "open /proc") : -1;
	syst = open_dir_in(rootfd, "sys", 0555, err);
	if (syst < 0 || mount_new(syst, "sysfs", NULL, safe | MOUNT_ATTR_RDONLY, "/sys", err) < 0)
		return -1;
	/* Inside sysfs (a kernel filesystem we just mounted) paths are safe. */
	cgt = vs_openat2(rootfd, "sys/fs/cgroup", O_PATH | O_DIRECTORY, 0, VS_RESOLVE_NOLINKS);
	if (cgt < 0)
		return vs_error_set(err, errno, "open /sys/fs/cgroup");
	/* The container's own cgroup (the root of its cgroup namespace) in the
	 * unified hierarchy, delegated to it: systemd runs in unified mode;
	 * limits are enforced from outside (v1 controllers on hybrid hosts). */
	if (mount_new(cgt, "cgroup2", NULL, safe, "/sys/fs/cgroup", err) < 0)
		return -1;
	fw = vs_openat2(rootfd, "sys/firmware", O_PATH | O_DIRECTORY, 0, VS_RESOLVE_NOLINKS);
	if (fw >= 0 && mask_dir(&mask, fw, "/sys/firmware", err) < 0)
		return -1;
	return 0;
}

/* The lxcfs files over their kernel counterparts, after /proc and /sys
 * are mounted (the targets are files of those fresh kernel mounts, opened
 * without following links). A guest kernel interface that is missing here
 * is skipped: there is nothing a guest program could read there anyway. */
static int bind_views(int rootfd, const struct rt_views *v, struct vs_error *err)
{
	const unsigned int ro =
	    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;

	for (int i = 0; v != NULL && i < RT_VIEW_FILES; i++) {
		cleanup_close int t = -1;
		struct stat st;
		if (v->fd[i] < 0)
			continue;
		t = vs_openat2(rootfd, rt_view_files[i], O_PATH, 0, VS_RESOLVE_NOLINKS);
		if (t < 0 && errno == ENOENT)
			continue;
		if (t < 0 || fstat(t, &st) < 0 || !S_ISREG(st.st_mode))
			return vs_error_set(err, t < 0 ? errno : EINVAL, "open /%s for its view",
					    rt_view_files[i]);
		if (bind_fd(v->fd[i], t, false, ro, rt_view_files[i], err) < 0)
			return -1;
	}
	return 0;
}

/* systemd sandboxes some services in namespaces of their own. CRIU can
 * checkpoint nested mount and network namespaces but not nested uts, ipc
 * or user namespaces, so a guest running such a service (systemd-logind
 * uses ProtectHostname=) could never be suspended or migrated. A runtime
 * drop-in for every service, in the /run we just created (nothing on the
 * container's disk changes), turns those three off. */
static const char systemd_dropin[] = "# Written by vsd at container start: CRIU cannot checkpoint\n"
				     "# nested uts, ipc or user namespaces.\n"
				     "[Service]\n"
				     "ProtectHostname=no\n"
				     "PrivateIPC=no\n"
				     "PrivateUsers=no\n";

static int write_systemd_dropin(int runfd, struct vs_error *err)
{
	static const char *const dirs[] = {"systemd", "systemd/system", "systemd/system/service.d"};
	cleanup_close int dir = -1, fd = -1;

	for (size_t i = 0; i < VS_ARRAY_SIZE(dirs); i++)
		if (mkdirat(runfd, dirs[i], 0755) < 0 && errno != EEXIST)
			return vs_error_set(err, errno, "mkdir /run/%s", dirs[i]);
	dir = openat(runfd, dirs[2], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return vs_error_set(err, errno, "open /run/%s", dirs[2]);
	fd = openat(dir, "zz-vsd-checkpoint.conf", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || vs_write_all(fd, systemd_dropin, sizeof(systemd_dropin) - 1) < 0)
		return vs_error_set(err, errno, "write the systemd drop-in");
	return 0;
}

static int setup_run(int rootfd, struct vs_error *err)
{
	static const char *const run_opts[] = {"mode=755", NULL};
	cleanup_close int t = open_dir_in(rootfd, "run", 0755, err);
	cleanup_close int runfd = -1;

	if (t < 0)
		return -1;
	if (mount_new(t, "tmpfs", run_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, "/run", err) < 0)
		return -1;
	/* Our fresh tmpfs: nothing of the container's is in it yet. */
	runfd = vs_openat2(rootfd, "run", O_RDONLY | O_DIRECTORY, 0, VS_RESOLVE_NOLINKS);
	if (runfd < 0)
		return vs_error_set(err, errno, "open /run");
	return write_systemd_dropin(runfd, err);
}

/* The distribution's init sets the hostname from /etc/hostname, so that
 * file must say what the container is called. Written as the container's
 * root, resolved inside the root: a planted symlink can only point at the
 * container's own files. */
static int write_hostname(int rootfd, const char *hostname, struct vs_error *err)
{
	cleanup_close int etc = vs_openat2(rootfd, "etc", O_PATH | O_DIRECTORY, 0, VS_RESOLVE_ROOT);
	cleanup_close int fd = -1;
	cleanup_free char *text = xasprintf("%s\n", hostname);

	if (etc < 0)
		return 0; /* no /etc: nothing reads it */
	fd = vs_openat2(etc, "hostname", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644,
			VS_RESOLVE_ROOT);
	if (fd < 0)
		return vs_error_set(err, errno, "write /etc/hostname in the container");
	if (vs_write_all(fd, text, strlen(text)) < 0)
		return vs_error_set(err, errno, "write /etc/hostname in the container");
	return 0;
}

int rt_setup_rootfs(const struct vs_container_config *cfg, int hostroot, int console_src,
		    const struct rt_views *views, struct vs_error *err)
{
	cleanup_close int rootfd = -1;

	/* Nothing we mount from here on may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return vs_error_set(err, errno, "make mounts private");
	/* Mounts copied into a less privileged mount namespace are locked
	 * together; pivot_root wants the new root to be a mount of its own, so
	 * bind it onto itself first. The clone's fd is the new mount's root
	 * (the path may not be reachable once we are root of the container:
	 * the daemon's directories are 0700). */
	if (bind_fd_get(hostroot, hostroot, true, 0, "the root onto itself", &rootfd, err) < 0)
		return -1;
	if (setup_proc_sys(rootfd, err) < 0 || bind_views(rootfd, views, err) < 0 ||
	    setup_dev(rootfd, console_src, err) < 0 || setup_run(rootfd, err) < 0)
		return -1;
	if (write_hostname(rootfd, cfg->hostname, err) < 0)
		return -1;
	/* pivot_root(".", ".") stacks the old root on top of the new one; the
	 * detaching umount then removes the host's whole tree (including the
	 * id-mapped template mount) from this namespace. */
	if (fchdir(rootfd) < 0)
		return vs_error_set(err, errno, "chdir to the new root");
	if (vs_pivot_root(".", ".") < 0)
		return vs_error_set(err, errno, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		return vs_error_set(err, errno, "detach the old root");
	if (chdir("/") < 0)
		return vs_error_set(err, errno, "chdir /");
	return 0;
}
