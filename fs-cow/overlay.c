/* The container's root: the template, id-mapped, under an overlay.
 *
 *   <cdir>/lower   the template rootfs, a detached clone (open_tree) made
 *                  read-only and id-mapped through the container's user
 *                  namespace (mount_setattr), attached with move_mount. An
 *                  id-mapped mount has to exist as a mount before overlayfs
 *                  can use it as a layer, and here it lives outside the
 *                  container's root, so nothing id-mapped is visible inside
 *                  (CRIU cannot dump id-mapped mounts).
 *   <cdir>/upper   the container's writes; <cdir>/work overlayfs' scratch.
 *   <cdir>/rootfs  the merged overlay, built with fsopen/fsconfig/fsmount.
 *
 * The overlay options are fixed (see overlay_opts) so a CRIU restore that
 * remounts the root gets exactly the same filesystem. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs-cow/fs-private.h"
#include "lib/vs_syscall.h"
#include "lib/vs_util.h"

/* index=off       no inode index: it ties the upper layer to the exact lower
 *                 inodes (file handles), which a migration to another node
 *                 (same template, other inodes) breaks at mount time.
 * metacopy=off    copy-up copies data too, so an upper layer is complete on
 *                 its own and never points into the lower by file handle.
 * redirect_dir=on renaming a directory that came from the template works
 *                 (instead of EXDEV); redirects are path strings inside the
 *                 layer, so they survive a move to another node.
 * xino=auto       one st_dev for every file, also when upper and template
 *                 sit on different filesystems (a quota loop device).
 * uuid is left at the kernel's default (auto). */
static const struct {
	const char *key, *value;
} overlay_opts[] = {
    {"index", "off"},
    {"metacopy", "off"},
    {"redirect_dir", "on"},
    {"xino", "auto"},
};

static int make_dir(int dirfd, const char *name, mode_t mode, uid_t uid, gid_t gid, const char *dir,
		    struct vs_error *err)
{
	cleanup_close int fd = -1;
	struct stat st;

	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return vs_error_set(err, errno, "mkdir %s/%s", dir, name);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return vs_error_set(err, errno, "open %s/%s", dir, name);
	if (uid != (uid_t)-1 && (st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0)
		return vs_error_set(err, errno, "chown %s/%s", dir, name);
	if (fchmod(fd, mode) < 0)
		return vs_error_set(err, errno, "chmod %s/%s", dir, name);
	return 0;
}

int vs_fs_layer_create(const char *dir, uid_t uid, gid_t gid, struct vs_error *err)
{
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_close int lfd = -1;
	cleanup_free char *ldir = NULL;
	const char *prefix;

	if (dfd < 0)
		return vs_error_set(err, errno, "open %s", dir);
	/* With a disk quota the layer lives on the container's own disk,
	 * which must be mounted by now (or upper/ would land on the host's
	 * filesystem, under the mount point). */
	prefix = vs_fs_layer_prefix(dfd);
	ldir = xasprintf("%s/%s", dir, prefix);
	if (prefix[0] != '\0' && !vs_fs_is_mount_point(ldir))
		return vs_error_set(err, ENXIO, "the disk of %s is not mounted", dir);
	lfd = openat(dfd, prefix[0] != '\0' ? prefix : ".",
		     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (lfd < 0)
		return vs_error_set(err, errno, "open %s", ldir);
	/* upper/ is the merged root directory: it belongs to the container's
	 * root user. The others keep the caller's (the daemon's) ownership;
	 * work/ is only ever used by overlayfs, as the mounter. */
	if (make_dir(lfd, "upper", 0755, uid, gid, ldir, err) < 0 ||
	    make_dir(lfd, "work", 0700, (uid_t)-1, (gid_t)-1, ldir, err) < 0 ||
	    make_dir(dfd, "lower", 0755, (uid_t)-1, (gid_t)-1, dir, err) < 0 ||
	    make_dir(dfd, "rootfs", 0755, (uid_t)-1, (gid_t)-1, dir, err) < 0)
		return -1;
	return 0;
}

bool vs_fs_is_mount_point(const char *path)
{
	struct statx stx, pstx;
	cleanup_free char *parent = xasprintf("%s/..", path);

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
		return false;
	if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
		return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
	/* Kernels before 5.8: a different device than the parent. */
	if (statx(AT_FDCWD, parent, 0, STATX_BASIC_STATS, &pstx) < 0)
		return false;
	return stx.stx_dev_major != pstx.stx_dev_major || stx.stx_dev_minor != pstx.stx_dev_minor;
}

bool vs_fs_rootfs_mounted(const char *cdir)
{
	cleanup_free char *p = xasprintf("%s/rootfs", cdir);

	return vs_fs_is_mount_point(p);
}

int vs_fs_detach_all(const char *path, struct vs_error *err)
{
	for (int k = 0; k < 64 && vs_fs_is_mount_point(path); k++) {
		if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
			if (errno == EINVAL || errno == ENOENT)
				return 0;
			return vs_error_set(err, errno, "unmount %s", path);
		}
	}
	return 0;
}

int vs_fs_rootfs_umount(const char *cdir, struct vs_error *err)
{
	cleanup_free char *rootfs = xasprintf("%s/rootfs", cdir);
	cleanup_free char *lower = xasprintf("%s/lower", cdir);

	/* Lazily: a process that still has a cwd or fd in the tree (an exec
	 * helper being torn down) must not keep the container from stopping. */
	if (vs_fs_detach_all(rootfs, err) < 0 || vs_fs_detach_all(lower, err) < 0)
		return -1;
	return 0;
}

/* lowerdir splits on ':' and unescapes '\'; mountinfo (what CRIU reads
 * the options back from) separates options with ',' and fields with
 * spaces. A container directory with any of them is refused rather than
 * escaped in three different ways. */
static int check_cdir(const char *cdir, struct vs_error *err)
{
	for (const char *c = cdir; *c; c++)
		if (*c == ':' || *c == ',' || *c == '\\' || (unsigned char)*c <= 0x20 || *c == 0x7f)
			return vs_error_kind(err, VS_EK_INVALID,
					     "container directory '%s': ':', ',', '\\', spaces and "
					     "control characters are not supported",
					     cdir);
	return 0;
}

static int attach_lower(const char *template_rootfs, int cdirfd, const char *cdir, int userns_fd,
			struct vs_error *err)
{
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY, .propagation = MS_PRIVATE};
	cleanup_close int tree = -1, target = -1;

	/* Not AT_RECURSIVE: whatever might be mounted inside the template
	 * directory stays out of the container. */
	tree = vs_open_tree(AT_FDCWD, template_rootfs, OPEN_TREE_CLONE | AT_SYMLINK_NOFOLLOW);
	if (tree < 0)
		return vs_error_set(err, errno, "open_tree %s", template_rootfs);
	if (userns_fd >= 0) {
		attr.attr_set |= MOUNT_ATTR_IDMAP;
		attr.userns_fd = (uint64_t)userns_fd;
	}
	if (vs_mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return vs_error_set(err, errno, "id-map %s", template_rootfs);
	target = openat(cdirfd, "lower", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (target < 0)
		return vs_error_set(err, errno, "open %s/lower", cdir);
	if (vs_move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
	    0)
		return vs_error_set(err, errno, "attach template at %s/lower", cdir);
	return 0;
}

/* Append what overlayfs logged on the fs context ("e overlay: ...") to the
 * error: errno alone (EINVAL) rarely says which option it disliked. */
int vs_fs_ctx_fail(int fsfd, struct vs_error *err, const char *what)
{
	int e = errno;
	char log[512];
	ssize_t n = read(fsfd, log, sizeof(log) - 1);

	if (n > 0) {
		log[n] = '\0';
		log[strcspn(log, "\n")] = '\0';
		return vs_error_set(err, e, "%s (%s)", what, log);
	}
	return vs_error_set(err, e, "%s", what);
}

static int mount_overlay(int cdirfd, const char *cdir, struct vs_error *err)
{
	cleanup_close int fsfd = vs_fsopen("overlay", 0);
	cleanup_close int mfd = -1, target = -1;
	/* The layers are named through the container directory's fd: the
	 * kernel resolves them now and shows the strings as given in
	 * mountinfo, which the container can read. "/proc/self/fd/N/upper"
	 * tells it nothing about where the host keeps it. */
	cleanup_free char *lower = xasprintf("/proc/self/fd/%d/lower", cdirfd);
	const char *prefix = vs_fs_layer_prefix(cdirfd);
	cleanup_free char *upper = xasprintf("/proc/self/fd/%d/%supper", cdirfd, prefix);
	cleanup_free char *work = xasprintf("/proc/self/fd/%d/%swork", cdirfd, prefix);
	/* The source only names the mount in mountinfo and df. */
	const char *const layers[][2] = {
	    {"source", "vsd"}, {"lowerdir", lower}, {"upperdir", upper}, {"workdir", work}};
	char what[64];

	if (fsfd < 0)
		return vs_error_set(err, errno, "fsopen overlay");
	for (size_t k = 0; k < VS_ARRAY_SIZE(layers); k++)
		if (vs_fsconfig(fsfd, FSCONFIG_SET_STRING, layers[k][0], layers[k][1], 0) < 0) {
			cleanup_free char *w =
			    xasprintf("overlay %s=%s", layers[k][0], layers[k][1]);
			return vs_fs_ctx_fail(fsfd, err, w);
		}
	for (size_t k = 0; k < VS_ARRAY_SIZE(overlay_opts); k++)
		if (vs_fsconfig(fsfd, FSCONFIG_SET_STRING, overlay_opts[k].key,
				overlay_opts[k].value, 0) < 0) {
			snprintf(what, sizeof(what), "overlay option %s", overlay_opts[k].key);
			return vs_fs_ctx_fail(fsfd, err, what);
		}
	if (vs_fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return vs_fs_ctx_fail(fsfd, err, "create overlay");
	mfd = vs_fsmount(fsfd, 0, 0);
	if (mfd < 0)
		return vs_fs_ctx_fail(fsfd, err, "fsmount overlay");
	target = openat(cdirfd, "rootfs", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (target < 0)
		return vs_error_set(err, errno, "open %s/rootfs", cdir);
	if (vs_move_mount(mfd, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
	    0)
		return vs_error_set(err, errno, "attach overlay at %s/rootfs", cdir);
	return 0;
}

int vs_fs_rootfs_mount(const char *template_rootfs, const char *cdir, int userns_fd,
		       struct vs_error *err)
{
	cleanup_close int cdirfd = -1;
	cleanup_free char *lower = xasprintf("%s/lower", cdir);
	struct vs_error ignore;

	if (check_cdir(cdir, err) < 0)
		return -1;
	if (vs_fs_rootfs_mounted(cdir))
		return 0;
	/* The disk first: after a host reboot nothing else mounts it, and an
	 * overlay must never fall back to the empty mount point. */
	if (vs_fs_disk_mount(cdir, err) < 0)
		return vs_error_prefix(err, "mount container root");
	cdirfd = open(cdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cdirfd < 0)
		return vs_error_set(err, errno, "open %s", cdir);
	/* A lower left by an interrupted attempt would be stacked upon. */
	if (vs_fs_detach_all(lower, err) < 0)
		return -1;
	if (attach_lower(template_rootfs, cdirfd, cdir, userns_fd, err) < 0)
		return vs_error_prefix(err, "mount container root");
	if (mount_overlay(cdirfd, cdir, err) < 0) {
		vs_fs_detach_all(lower, &ignore);
		return vs_error_prefix(err, "mount container root");
	}
	return 0;
}
