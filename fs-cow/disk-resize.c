/* Disk quotas: changing the size of a container's disk image (see disk.c).
 *
 * Grow works online, on the mounted filesystem, whether the container runs
 * or not: extend the sparse file, LOOP_SET_CAPACITY, EXT4_IOC_RESIZE_FS.
 * Shrink needs the filesystem unmounted (ext4 cannot shrink online), so
 * only a container whose root is not mounted (stopped or suspended) can
 * shrink: unmount, e2fsck -f, resize2fs, truncate, mount again. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs-cow/fs-private.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"

#define E2FSCK	   "/usr/sbin/e2fsck"
#define RESIZE2FS  "/usr/sbin/resize2fs"
#define LOOP_MAJOR 7
#define BLOCK	   4096
#ifndef EXT4_IOC_RESIZE_FS
#define EXT4_IOC_RESIZE_FS _IOW('f', 16, uint64_t)
#endif

static char *const tool_env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};

/* The loop device under the mounted disk, checked to be backed by exactly
 * the image (device and inode), so a resize never reaches another file. */
static int open_disk_loop(int diskfd, const struct stat *img, const char *cdir,
			  struct vs_error *err)
{
	cleanup_close int fd = -1;
	struct loop_info64 info;
	char path[64], uev[64];
	cleanup_free char *text = NULL;
	struct stat st;
	const char *name;

	if (fstat(diskfd, &st) < 0)
		return vs_error_set(err, errno, "stat %s/disk", cdir);
	if (major(st.st_dev) != LOOP_MAJOR)
		return vs_error_set(err, ENODEV, "%s/disk is not on a loop device", cdir);
	snprintf(uev, sizeof(uev), "/sys/dev/block/%u:%u/uevent", major(st.st_dev),
		 minor(st.st_dev));
	if (vs_read_file_at(AT_FDCWD, uev, 4096, &text, NULL, err) < 0)
		return -1;
	name = strstr(text, "DEVNAME=");
	if (name == NULL)
		return vs_error_set(err, ENODEV, "%s: no DEVNAME", uev);
	name += 8;
	snprintf(path, sizeof(path), "/dev/%.*s", (int)strcspn(name, "\n/"), name);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return vs_error_set(err, errno, "open %s", path);
	if (fstat(fd, &st) < 0 || st.st_rdev != makedev(major(st.st_rdev), minor(st.st_rdev)) ||
	    ioctl(fd, LOOP_GET_STATUS64, &info) < 0)
		return vs_error_set(err, errno, "status of %s", path);
	if (info.lo_inode != img->st_ino || info.lo_device != img->st_dev)
		return vs_error_set(err, EXDEV, "%s is not backed by %s/disk.img", path, cdir);
	return steal_fd(&fd);
}

static int grow(const char *cdir, int64_t bytes, struct vs_error *err)
{
	cleanup_free char *img = xasprintf("%s/disk.img", cdir);
	cleanup_free char *dir = xasprintf("%s/disk", cdir);
	cleanup_close int imgfd = -1, diskfd = -1, loopfd = -1;
	uint64_t blocks = (uint64_t)bytes / BLOCK;
	struct stat st;
	struct statfs sf;
	int e;

	imgfd = open(img, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (imgfd < 0 || fstat(imgfd, &st) < 0)
		return vs_error_set(err, errno, "open %s", img);
	diskfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (diskfd < 0 || fstatfs(diskfd, &sf) < 0)
		return vs_error_set(err, errno, "open %s", dir);
	if (sf.f_type != EXT4_SUPER_MAGIC || !vs_fs_is_mount_point(dir))
		return vs_error_kind(err, VS_EK_CONFLICT, "the disk of %s is not mounted", cdir);
	loopfd = open_disk_loop(diskfd, &st, cdir, err);
	if (loopfd < 0)
		return -1;
	if (ftruncate(imgfd, bytes) < 0)
		return vs_error_set(err, errno, "extend %s", img);
	if (ioctl(loopfd, LOOP_SET_CAPACITY, 0) < 0 ||
	    ioctl(diskfd, EXT4_IOC_RESIZE_FS, &blocks) < 0) {
		/* Put the file and the device back as they were: the
		 * filesystem has not grown. */
		e = errno;
		if (ftruncate(imgfd, st.st_size) == 0)
			ioctl(loopfd, LOOP_SET_CAPACITY, 0);
		return vs_error_set(err, e, "disk: grow the filesystem of %s", img);
	}
	return 0;
}

/* e2fsck -f -p exits 1 when it corrected something; a second run on the
 * corrected filesystem then exits 0. Anything else is a failure. */
static int fsck(const char *img, struct vs_error *err)
{
	char *const argv[] = {E2FSCK, "-f", "-p", (char *)img, NULL};

	if (vs_fs_run(argv, tool_env, NULL, NULL, err) == 0)
		return 0;
	return vs_fs_run(argv, tool_env, NULL, NULL, err);
}

/* Unmounted: resize2fs works on the image file itself, and needs no
 * capability (EXT4_IOC_RESIZE_FS needs CAP_SYS_RESOURCE). The file is
 * extended before growing and cut after shrinking. */
static int resize_offline(const char *cdir, int64_t bytes, int64_t old_bytes, struct vs_error *err)
{
	cleanup_free char *img = xasprintf("%s/disk.img", cdir);
	cleanup_free char *dir = xasprintf("%s/disk", cdir);
	cleanup_free char *kib = xasprintf("%" PRId64 "K", bytes / 1024);
	char *const argv[] = {RESIZE2FS, img, kib, NULL};
	struct vs_error e2 = {0};
	int r = 0;

	/* Not lazily: a filesystem still alive under a straggler's open
	 * file must not be resized under it. */
	if (vs_fs_is_mount_point(dir) && umount2(dir, UMOUNT_NOFOLLOW) < 0)
		return vs_error_set(err, errno, "disk: unmount %s to resize it", dir);
	if (bytes > old_bytes && truncate(img, bytes) < 0)
		r = vs_error_set(err, errno, "disk: extend %s", img);
	else if (fsck(img, err) < 0 || vs_fs_run(argv, tool_env, NULL, NULL, err) < 0)
		r = vs_error_prefix(err, "disk: resize");
	else if (bytes < old_bytes && truncate(img, bytes) < 0)
		r = vs_error_set(err, errno, "disk: truncate %s", img);
	/* Failing to cut the file back is harmless: the filesystem kept its
	 * size and the file's tail is a hole. */
	if (r < 0 && bytes > old_bytes && truncate(img, old_bytes) < 0)
		r = -1;
	/* Mounted again whatever happened: a failed resize2fs leaves the
	 * filesystem at its old size. If that fails too, the first error is
	 * the one to report; the next start mounts it again. */
	if (vs_fs_disk_mount(cdir, r < 0 ? &e2 : err) < 0 && r == 0)
		return -1;
	return r;
}

/* Online where the kernel lets us; a stopped container's disk also
 * offline when vsd lacks CAP_SYS_RESOURCE (as on hosts whose bounding set
 * drops it). A running one then cannot grow: say why. */
static int grow_any(const char *cdir, int64_t bytes, int64_t old_bytes, struct vs_error *err)
{
	if (grow(cdir, bytes, err) == 0)
		return 0;
	if (err->errnum != EPERM)
		return -1;
	if (vs_fs_rootfs_mounted(cdir))
		return vs_error_kind(err, VS_EK_UNSUPPORTED,
				     "disk: growing a running container's disk needs "
				     "CAP_SYS_RESOURCE, which vsd does not have on this host; stop "
				     "the container to grow it");
	return resize_offline(cdir, bytes, old_bytes, err);
}

static int shrink(const char *cdir, int64_t bytes, int64_t old_bytes, struct vs_error *err)
{
	int64_t used, total, iu, it;
	char a[32], b[32];

	if (vs_fs_rootfs_mounted(cdir))
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "disk: shrinking needs the container stopped (growing works "
				     "while it runs)");
	if (vs_fs_disk_usage(cdir, &used, &total, &iu, &it, err) < 0)
		return -1;
	if (bytes < used) {
		vs_fs_size_approx(bytes, a, sizeof(a));
		vs_fs_size_approx(used, b, sizeof(b));
		return vs_error_kind(err, VS_EK_INVALID,
				     "disk: %s is smaller than the %s already used", a, b);
	}
	return resize_offline(cdir, bytes, old_bytes, err);
}

int vs_fs_disk_resize(const char *cdir, const struct vs_limits *old, const struct vs_limits *new,
		      struct vs_error *err)
{
	cleanup_free char *img = xasprintf("%s/disk.img", cdir);
	int64_t bytes = vs_fs_disk_round(new->disk);
	struct stat st;

	if (old->disk == 0 && new->disk == 0)
		return 0;
	if (old->disk == 0 || new->disk == 0 || !vs_fs_disk_present(cdir))
		return vs_error_kind(err, VS_EK_UNSUPPORTED,
				     "disk: a disk quota can only be set when the container is "
				     "created (%s one later is not supported)",
				     new->disk == 0 ? "removing" : "adding");
	if (new->inodes != old->inodes)
		return vs_error_kind(err, VS_EK_UNSUPPORTED,
				     "inodes: cannot be changed on an existing disk (ext4 fixes "
				     "the inode count at creation)");
	if (vs_fs_disk_check(bytes, new->inodes, err) < 0)
		return -1;
	if (stat(img, &st) < 0)
		return vs_error_set(err, errno, "stat %s", img);
	if (bytes == st.st_size)
		return 0;
	if (vs_fs_disk_mount(cdir, err) < 0)
		return -1;
	return bytes > st.st_size ? grow_any(cdir, bytes, st.st_size, err)
				  : shrink(cdir, bytes, st.st_size, err);
}
