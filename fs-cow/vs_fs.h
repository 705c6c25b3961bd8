/* vs_fs: templates and the file-level copy-on-write layer of containers.
 *
 * On disk, under the daemon's root directory R:
 *   R/templates/NAME/rootfs/        read-only lower layer (ids as on disk:
 *                                   root-owned files are uid 0)
 *   R/templates/NAME/template.json  metadata (see struct vs_template_info)
 *   R/containers/NAME/upper/ work/  the container's own layer
 *   R/containers/NAME/lower/        attach point of the id-mapped template
 *   R/containers/NAME/rootfs/       mount point of the merged overlay
 * Staging uses hidden names (R/templates/.NAME.building, ...) renamed into
 * place at the end, so a crash never leaves a half-made template visible;
 * vs_fs_recover() removes leftovers.
 *
 * Everything inside a template or a container layer is treated as written
 * by an attacker: trees are walked with openat/O_NOFOLLOW relative to
 * directory fds, never as joined path strings, and never across mounts. */
#ifndef VS_FS_H
#define VS_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/vs_error.h"

struct vs_template_info {
	char name[65];
	char source[128];     /* "busybox", "debian:bookworm", "import:FILE" */
	char init_system[16]; /* "systemd", "busybox", "sysvinit", "unknown" */
	char **init;          /* argv of init, NULL-terminated, e.g. {"/sbin/init"} */
	int stop_signal;      /* SIGRTMIN+3 systemd, SIGUSR2 busybox, SIGPWR else */
	int64_t created_at;   /* unix seconds */
	int64_t size_bytes;   /* apparent size of rootfs, measured at build/import */
};
void vs_template_info_free(struct vs_template_info *t);

/* Progress lines for long operations (debootstrap output, import counts). */
typedef void (*vs_fs_progress_fn)(void *ud, const char *line);

/* Build template NAME from "busybox" (Debian's busybox-static, busybox init;
 * seconds) or "debian" / "debian:SUITE" (debootstrap; default suite
 * bookworm; mirror from $VSD_DEBIAN_MIRROR or deb.debian.org). Refuses an
 * existing NAME (VS_EK_CONFLICT). On failure nothing is left. 0 or -1. */
int vs_fs_template_build(const char *root, const char *name, const char *from,
			 vs_fs_progress_fn progress, void *ud, struct vs_error *err);

/* Import template NAME from a tar / tar.gz / tar.xz / tar.zst archive
 * (libarchive) holding a root filesystem (optionally under one top-level
 * "rootfs/" or "./"). Refused (VS_EK_INVALID, nothing left behind): entries
 * with ".." components or absolute paths after normalisation, hardlinks whose
 * target is outside or missing, symlinks are kept as data but never followed
 * during extraction, device nodes other than null/zero/full/random/urandom/
 * tty/console/ptmx (char 1:3,1:5,1:7,1:8,1:9,5:0,5:1,5:2), setuid files are
 * kept (they only work inside the container's user namespace), and a tree
 * whose /proc, /sys or /dev is a symlink or not a directory. 0 or -1. */
int vs_fs_template_import(const char *root, const char *name, const char *archive_path,
			  vs_fs_progress_fn progress, void *ud, struct vs_error *err);

/* Read R/templates/NAME/template.json. VS_EK_NOT_FOUND when absent. */
int vs_fs_template_get(const char *root, const char *name, struct vs_template_info *out,
		       struct vs_error *err);

/* All templates, sorted by name. *out is an array of *n entries; free each
 * with vs_template_info_free() and the array with free(). 0 or -1. */
int vs_fs_template_list(const char *root, struct vs_template_info **out, size_t *n,
			struct vs_error *err);

/* Remove a template (the caller has checked no container uses it): rename
 * to a hidden name, then remove the tree. VS_EK_NOT_FOUND when absent. */
int vs_fs_template_remove(const char *root, const char *name, struct vs_error *err);

/* Create the container layer in directory `dir` (which exists, e.g. the
 * staging R/containers/.NAME.creating): upper/ owned by uid:gid mode 0755,
 * work/ 0700, lower/ and rootfs/ 0755. Copies nothing of the template. */
int vs_fs_layer_create(const char *dir, uid_t uid, gid_t gid, struct vs_error *err);

/* Mount the container's root: the template's rootfs id-mapped through
 * userns_fd (skip the idmap when userns_fd < 0, for privileged containers)
 * attached at <cdir>/lower, and an overlay lowerdir=<cdir>/lower,
 * upperdir=<cdir>/upper, workdir=<cdir>/work at <cdir>/rootfs. All in the
 * caller's mount namespace. Idempotent if already mounted. On failure
 * nothing stays mounted. 0 or -1. */
int vs_fs_rootfs_mount(const char *template_rootfs, const char *cdir, int userns_fd,
		       struct vs_error *err);

/* Unmount <cdir>/rootfs and <cdir>/lower (lazily); fine if not mounted. */
int vs_fs_rootfs_umount(const char *cdir, struct vs_error *err);

/* True if <cdir>/rootfs is a mount point. */
bool vs_fs_rootfs_mounted(const char *cdir);

/* Remove dirfd/name recursively without following symlinks and without
 * crossing into other filesystems or mounts (those are an error: EBUSY).
 * Missing name is fine. 0 or -1. */
int vs_fs_remove_tree(int dirfd, const char *name, struct vs_error *err);

/* At daemon start: remove staging leftovers (.NAME.building, .NAME.removing)
 * under R/templates. 0 or -1. */
int vs_fs_recover(const char *root, struct vs_error *err);

#endif
