/* Disk quotas: the container's own layer on a filesystem of its own.
 *
 * This kernel has no quota formats (no CONFIG_QFMT_V2, no XFS quota), so a
 * container with limits.disk > 0 keeps its upper/ and work/ on a private
 * ext4 in a sparse image file:
 *   <cdir>/disk.img   sparse file of exactly limits.disk bytes
 *   <cdir>/disk/      its mount point (loop device, ext4, nodev,nosuid)
 *   <cdir>/disk/upper, <cdir>/disk/work   the overlay's layers
 * overlayfs reports the upper filesystem in statfs, so `df /` inside shows
 * the quota, and writes stop at it with ENOSPC; the inode limit is the
 * ext4 inode count (mkfs -N). The image is mounted from create to destroy,
 * also while the container is stopped (stats and resizes need it), and
 * mounted again by vs_fs_disk_mount after a host reboot.
 *
 * Leaks: the loop device is configured with LO_FLAGS_AUTOCLEAR, so it
 * detaches itself when its last user goes: the ext4 mount once mounted,
 * our own descriptor before that (also when vsd dies in between). */
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
#include "lib/vs_syscall.h"
#include "lib/vs_util.h"

#define MKFS	   "/usr/sbin/mkfs.ext4"
#define LOOP_MAJOR 7
#define DISK_IMAGE "disk.img"
#define DISK_DIR   "disk"
#define BLOCK	   4096
/* Not in Debian 12's uapi headers: online resize to a new block count. */
#ifndef EXT4_IOC_RESIZE_FS
#define EXT4_IOC_RESIZE_FS _IOW('f', 16, uint64_t)
#endif

static char *const tool_env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};

int64_t vs_fs_disk_round(int64_t bytes)
{
	return (bytes + BLOCK - 1) / BLOCK * BLOCK;
}

int vs_fs_disk_journal_mb(int64_t bytes)
{
	/* ext4's smallest journal is 1024 blocks (4 MiB). Metadata-heavy
	 * work needs more on large disks, but mkfs' default (up to 1 GiB)
	 * is far more than a VPS needs: 1/256 of the disk, at most 64 MiB. */
	int64_t mb = bytes / 256 / (1 << 20);

	return mb < 4 ? 4 : mb > 64 ? 64 : (int)mb;
}

int vs_fs_disk_check(int64_t bytes, int64_t inodes, struct vs_error *err)
{
	char a[32], b[32];

	if (bytes < VS_FS_DISK_MIN) {
		vs_fs_size_approx(bytes, a, sizeof(a));
		vs_fs_size_approx(VS_FS_DISK_MIN, b, sizeof(b));
		return vs_error_kind(err, VS_EK_INVALID, "disk: %s is too small (at least %s)", a,
				     b);
	}
	/* ext4's densest layout is one inode per KiB (mkfs -i 1024). */
	if (inodes < 0 || inodes > bytes / 1024 || inodes > UINT32_MAX) {
		vs_fs_size_approx(bytes, a, sizeof(a));
		return vs_error_kind(err, VS_EK_INVALID,
				     "inodes: %" PRId64 " is out of range (1 to %" PRId64
				     " for a disk of %s)",
				     inodes, bytes / 1024, a);
	}
	return 0;
}

void vs_fs_size_approx(int64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	double v = (double)bytes;
	int u = -1;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRId64, bytes);
	else if (v >= 99.95 || (int64_t)(v * 10 + 0.5) % 10 == 0)
		snprintf(buf, len, "%.0f%c", v, units[u]);
	else
		snprintf(buf, len, "%.1f%c", v, units[u]);
}

char **vs_fs_mkfs_argv(const char *image, int64_t bytes, int64_t inodes)
{
	char **v = xcalloc(16, sizeof(char *));
	size_t n = 0;

	v[n++] = xstrdup(MKFS);
	v[n++] = xstrdup("-q");
	v[n++] = xstrdup("-F");
	/* 4 KiB blocks also below 512 MiB (mke2fs' "small" type would pick
	 * 1 KiB), no blocks reserved for root: the quota is all the
	 * customer's. */
	v[n++] = xstrdup("-b");
	v[n++] = xstrdup("4096");
	v[n++] = xstrdup("-m");
	v[n++] = xstrdup("0");
	v[n++] = xstrdup(inodes > 0 ? "-N" : "-i");
	v[n++] = inodes > 0 ? xasprintf("%" PRId64, inodes) : xstrdup("16384");
	v[n++] = xstrdup("-J");
	v[n++] = xasprintf("size=%d", vs_fs_disk_journal_mb(bytes));
	/* The file is new and sparse: the inode tables and the journal read
	 * as zeros already, and discarding it would only punch holes in
	 * holes. The root belongs to the daemon: it holds work/, which only
	 * overlayfs (with the mounter's credentials) uses. */
	v[n++] = xstrdup("-E");
	v[n++] = xstrdup("lazy_itable_init=1,lazy_journal_init=1,nodiscard,root_owner=0:0");
	v[n++] = xstrdup(image);
	return v;
}

static int image_path(const char *cdir, char **out)
{
	*out = xasprintf("%s/" DISK_IMAGE, cdir);
	return 0;
}

bool vs_fs_disk_present(const char *cdir)
{
	cleanup_free char *img = xasprintf("%s/" DISK_IMAGE, cdir);
	struct stat st;

	return lstat(img, &st) == 0 && S_ISREG(st.st_mode);
}

char *vs_fs_layer_dir(const char *cdir)
{
	return vs_fs_disk_present(cdir) ? xasprintf("%s/" DISK_DIR, cdir)
					: xasprintf("%s/upper", cdir);
}

const char *vs_fs_layer_prefix(int cdirfd)
{
	struct stat st;

	return fstatat(cdirfd, DISK_IMAGE, &st, AT_SYMLINK_NOFOLLOW) == 0 ? DISK_DIR "/" : "";
}

/* A free loop device, opened: LOOP_CTL_GET_FREE names one, but another
 * process may configure it first, so the caller retries on EBUSY. The
 * node is checked to be the loop device asked for (major 7, the minor
 * the kernel named: loop is loaded with max_part=0 here, so minor == N). */
static int open_free_loop(int *nr, struct vs_error *err)
{
	cleanup_close int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	cleanup_close int fd = -1;
	char path[32];
	struct stat st;
	int n;

	if (ctl < 0)
		return vs_error_set(err, errno, "open /dev/loop-control");
	n = ioctl(ctl, LOOP_CTL_GET_FREE);
	if (n < 0)
		return vs_error_set(err, errno, "find a free loop device");
	snprintf(path, sizeof(path), "/dev/loop%d", n);
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return vs_error_set(err, errno, "open %s", path);
	if (fstat(fd, &st) < 0 || !S_ISBLK(st.st_mode) || major(st.st_rdev) != LOOP_MAJOR)
		return vs_error_set(err, ENODEV, "%s is not a loop device", path);
	*nr = n;
	return steal_fd(&fd);
}

/* Attach the image to a fresh loop device; returns its fd (the device
 * detaches itself once that fd and every later user are gone). */
static int loop_attach(int imgfd, const char *image, struct vs_error *err)
{
	struct loop_config cfg = {0};

	cfg.fd = (uint32_t)imgfd;
	cfg.block_size = BLOCK;
	/* Direct I/O: ext4 above caches the pages already; without it each
	 * page would be cached twice (ext4's and the image file's). */
	cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO;
	snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name), "%s", image);
	for (int tries = 0; tries < 16; tries++) {
		cleanup_close int fd = -1;
		int nr = -1;

		fd = open_free_loop(&nr, err);
		if (fd < 0)
			return -1;
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0)
			return steal_fd(&fd);
		if (errno == EINVAL && (cfg.info.lo_flags & LO_FLAGS_DIRECT_IO)) {
			/* A backing filesystem without O_DIRECT: cached I/O. */
			cfg.info.lo_flags &= ~(uint32_t)LO_FLAGS_DIRECT_IO;
			tries--;
			continue;
		}
		if (errno != EBUSY)
			return vs_error_set(err, errno, "attach %s to /dev/loop%d", image, nr);
	}
	return vs_error_set(err, EBUSY, "attach %s: no loop device stayed free", image);
}

/* Mount the ext4 on loopfd at cdirfd/disk with the new mount API: the
 * source is the verified loop descriptor (through /proc/self/fd), the
 * target an O_PATH descriptor opened without following symlinks. */
static int mount_ext4(int loopfd, int cdirfd, const char *cdir, struct vs_error *err)
{
	cleanup_close int fsfd = vs_fsopen("ext4", FSOPEN_CLOEXEC);
	cleanup_close int mfd = -1, target = -1;
	char src[32];

	if (fsfd < 0)
		return vs_error_set(err, errno, "fsopen ext4");
	snprintf(src, sizeof(src), "/proc/self/fd/%d", loopfd);
	if (vs_fsconfig(fsfd, FSCONFIG_SET_STRING, "source", src, 0) < 0)
		return vs_fs_ctx_fail(fsfd, err, "ext4 source");
	/* The inode tables of a fresh sparse image are zeros already: no
	 * background thread writing them out (and un-sparsing the file). */
	if (vs_fsconfig(fsfd, FSCONFIG_SET_FLAG, "noinit_itable", NULL, 0) < 0)
		return vs_fs_ctx_fail(fsfd, err, "ext4 option noinit_itable");
	if (vs_fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return vs_fs_ctx_fail(fsfd, err, "mount the disk image");
	mfd = vs_fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
	if (mfd < 0)
		return vs_fs_ctx_fail(fsfd, err, "fsmount the disk image");
	target = openat(cdirfd, DISK_DIR, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (target < 0)
		return vs_error_set(err, errno, "open %s/" DISK_DIR, cdir);
	if (vs_move_mount(mfd, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
	    0)
		return vs_error_set(err, errno, "attach the disk at %s/" DISK_DIR, cdir);
	return 0;
}

static bool disk_mounted(const char *cdir)
{
	cleanup_free char *p = xasprintf("%s/" DISK_DIR, cdir);

	return vs_fs_is_mount_point(p);
}

int vs_fs_disk_mount(const char *cdir, struct vs_error *err)
{
	cleanup_close int cdirfd = -1, imgfd = -1, loopfd = -1;
	cleanup_free char *img = NULL;

	if (!vs_fs_disk_present(cdir))
		return 1;
	if (disk_mounted(cdir))
		return 0;
	image_path(cdir, &img);
	cdirfd = open(cdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cdirfd < 0)
		return vs_error_set(err, errno, "open %s", cdir);
	if (mkdirat(cdirfd, DISK_DIR, 0700) < 0 && errno != EEXIST)
		return vs_error_set(err, errno, "mkdir %s/" DISK_DIR, cdir);
	imgfd = openat(cdirfd, DISK_IMAGE, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (imgfd < 0)
		return vs_error_set(err, errno, "open %s", img);
	loopfd = loop_attach(imgfd, img, err);
	if (loopfd < 0 || mount_ext4(loopfd, cdirfd, cdir, err) < 0)
		return vs_error_prefix(err, "mount the disk of %s", cdir);
	/* Closing loopfd leaves the mount as the device's only user. */
	return 0;
}

int vs_fs_disk_umount(const char *cdir, struct vs_error *err)
{
	cleanup_free char *p = xasprintf("%s/" DISK_DIR, cdir);

	for (int k = 0; k < 64 && vs_fs_is_mount_point(p); k++) {
		if (umount2(p, UMOUNT_NOFOLLOW) == 0)
			continue;
		if (errno == EINVAL || errno == ENOENT)
			return 0;
		/* Busy (a straggler with an open file): detach it from the
		 * tree now; the loop device goes when the last user does. */
		if (errno != EBUSY || umount2(p, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
			return vs_error_set(err, errno, "unmount %s", p);
	}
	return 0;
}

/* Make the sparse image and its filesystem. */
static int make_image(int cdirfd, const char *img, int64_t bytes, int64_t inodes,
		      struct vs_error *err)
{
	cleanup_close int fd = -1;
	cleanup_strv char **argv = NULL;

	fd = openat(cdirfd, DISK_IMAGE, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return vs_error_set(err, errno, "create %s", img);
	if (ftruncate(fd, bytes) < 0)
		return vs_error_set(err, errno, "size %s", img);
	argv = vs_fs_mkfs_argv(img, bytes, inodes);
	if (vs_fs_run(argv, tool_env, NULL, NULL, err) < 0)
		return vs_error_prefix(err, "make the filesystem of %s", img);
	return 0;
}

int vs_fs_disk_create(const char *cdir, int64_t bytes, int64_t inodes, struct vs_error *err)
{
	cleanup_close int cdirfd = -1;
	cleanup_free char *img = NULL;
	struct vs_error ignore;

	bytes = vs_fs_disk_round(bytes);
	if (vs_fs_disk_check(bytes, inodes, err) < 0)
		return -1;
	image_path(cdir, &img);
	cdirfd = open(cdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cdirfd < 0)
		return vs_error_set(err, errno, "open %s", cdir);
	if (make_image(cdirfd, img, bytes, inodes, err) < 0 || vs_fs_disk_mount(cdir, err) < 0)
		goto fail;
	return 0;
fail:
	vs_fs_disk_umount(cdir, &ignore);
	unlinkat(cdirfd, DISK_IMAGE, 0);
	unlinkat(cdirfd, DISK_DIR, AT_REMOVEDIR);
	return vs_error_prefix(err, "disk");
}

int vs_fs_disk_usage(const char *cdir, int64_t *used, int64_t *total, int64_t *inodes_used,
		     int64_t *inodes_total, struct vs_error *err)
{
	cleanup_free char *p = xasprintf("%s/" DISK_DIR, cdir);
	struct statfs sf;

	*used = *total = *inodes_used = *inodes_total = 0;
	if (!vs_fs_disk_present(cdir))
		return 1;
	if (!disk_mounted(cdir))
		return vs_error_kind(err, VS_EK_CONFLICT, "the disk of %s is not mounted", cdir);
	if (statfs(p, &sf) < 0)
		return vs_error_set(err, errno, "statfs %s", p);
	if (sf.f_type != EXT4_SUPER_MAGIC)
		return vs_error_set(err, EXDEV, "%s is not the container's disk", p);
	*total = (int64_t)sf.f_blocks * sf.f_bsize;
	*used = (int64_t)(sf.f_blocks - sf.f_bfree) * sf.f_bsize;
	*inodes_total = (int64_t)sf.f_files;
	*inodes_used = (int64_t)(sf.f_files - sf.f_ffree);
	return 0;
}
