/* vs_fs: templates and the file-level copy-on-write layer of containers.
 *
 * On disk, under the daemon's root directory R:
 *   R/templates/NAME/rootfs/        read-only lower layer (ids as on disk:
 *                                   root-owned files are uid 0)
 *   R/templates/NAME/template.json  metadata (see struct vs_template_info)
 *   R/containers/NAME/upper/ work/  the container's own layer (no disk quota)
 *   R/containers/NAME/disk.img      with a disk quota: a sparse ext4 image,
 *   R/containers/NAME/disk/         mounted here, holding upper/ and work/
 *   R/containers/NAME/lower/        attach point of the id-mapped template
 *   R/containers/NAME/rootfs/       mount point of the merged overlay
 * Staging uses hidden names (R/templates/.NAME.building, ...) renamed into
 * place at the end, so a crash never leaves a half-made template visible;
 * vs_fs_recover() removes leftovers. R/templates is kept at mode 0700: a
 * template holds setuid-root files of whoever made it, reachable on the host
 * only by root; containers see it through the overlay.
 *
 * Everything inside a template or a container layer is treated as written
 * by an attacker: trees are walked with openat/O_NOFOLLOW relative to
 * directory fds, never as joined path strings, and never across mounts. */
#ifndef VS_FS_H
#define VS_FS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/vs_config.h"
#include "lib/vs_error.h"

struct vs_template_info {
	char name[65];
	char source[128];     /* "busybox", "debian:bookworm", "import:FILE" */
	char init_system[16]; /* "systemd", "busybox", "sysvinit", "unknown" */
	char **init;	      /* argv of init, NULL-terminated, e.g. {"/sbin/init"} */
	int stop_signal;      /* SIGRTMIN+3 systemd, SIGUSR2 busybox, SIGPWR else */
	int64_t created_at;   /* unix seconds */
	int64_t size_bytes;   /* apparent size of rootfs, measured at build/import */
};
void vs_template_info_free(struct vs_template_info *t);

struct vs_jgen;
/* Emit t as the API's template object (the same shape as template.json):
 * {"name","source","init_system","init":[..],"stop_signal":"SIGRTMIN+3",
 *  "created_at","size"}. Cannot fail. */
void vs_fs_template_gen(struct vs_jgen *g, const struct vs_template_info *t);

/* Progress lines for long operations (debootstrap output, import counts). */
typedef void (*vs_fs_progress_fn)(void *ud, const char *line);

/* Build template NAME from "busybox" (Debian's busybox-static, busybox init;
 * under a second) or "debian" / "debian:SUITE" (debootstrap --variant=minbase
 * plus systemd-sysv, dbus, iproute2, procps, iputils-ping, netbase; default
 * suite bookworm, SUITE [a-z]+; mirror from $VSD_DEBIAN_MIRROR or
 * http://deb.debian.org/debian; $VSD_DEBOOTSTRAP_CACHE, when an existing
 * absolute directory, is debootstrap's --cache-dir; about a minute). Bad
 * NAME or `from` is VS_EK_INVALID and creates nothing; an existing NAME is
 * VS_EK_CONFLICT; a missing debootstrap or busybox-static
 * VS_EK_UNSUPPORTED. progress gets debootstrap's output line by line (it
 * is called from the calling thread). On failure nothing is left. 0 or -1. */
int vs_fs_template_build(const char *root, const char *name, const char *from,
			 vs_fs_progress_fn progress, void *ud, struct vs_error *err);
/* The same, stopped once *cancel (may be NULL) is true: debootstrap and
 * what it started are killed at its next output line, a busybox build is
 * dropped before it is committed. A cancelled build is VS_EK_CONFLICT
 * "cancelled" and leaves nothing. */
int vs_fs_template_build_cancellable(const char *root, const char *name, const char *from,
				     vs_fs_progress_fn progress, void *ud,
				     const atomic_bool *cancel, struct vs_error *err);

/* Caps on what one archive import may unpack (template import; backup
 * import reuses them): total apparent size of its regular files and number
 * of members, so a small compressed archive cannot fill the node's disk.
 * Process-wide, set once at daemon start (vsd --import-max-size,
 * --import-max-files). A value <= 0 means the default. */
#define VS_FS_IMPORT_MAX_BYTES_DEFAULT (INT64_C(64) << 30) /* 64G */
#define VS_FS_IMPORT_MAX_FILES_DEFAULT INT64_C(2000000)
struct vs_fs_import_caps {
	int64_t max_bytes;
	int64_t max_files;
};
/* Set the caps (copied; <= 0 fields take the defaults). Cannot fail. */
void vs_fs_import_caps_set(const struct vs_fs_import_caps *caps);
/* The caps in force (defaults filled in). Cannot fail. */
struct vs_fs_import_caps vs_fs_import_caps_get(void);

/* Import template NAME from a tar / tar.gz / tar.bz2 / tar.xz / tar.zst
 * archive (libarchive; no external decompressors) holding a root filesystem,
 * optionally under one top-level "rootfs/" (decided by the first member) or
 * "./". Kept: owners, modes (setuid too: it only works inside the
 * container's user namespace), mtimes, user.* and security.capability
 * xattrs; owners and device nodes only when called as root. Symlinks are
 * stored verbatim and never followed during extraction. The source recorded
 * is "import:<basename of archive_path>". Refused with VS_EK_INVALID and a
 * message naming the member, leaving nothing behind: absolute paths and ".."
 * components, members reached through a symlink, hard links whose target is
 * not an already extracted regular file inside, device nodes other than
 * the fixed ones every container gets (lib/vs_devices.h: null, zero, full,
 * random, urandom, tty, console, ptmx), block devices, owners outside 0..65535, a non-directory
 * replacing a directory, /proc, /sys or /dev not a directory (created when
 * missing), no /sbin/init, an empty or unreadable archive, and (with
 * VS_EK_TOO_LARGE) an archive whose members exceed vs_fs_import_caps_get():
 * "archive unpacks to more than SIZE (vsd --import-max-size)" or "... more
 * than N members (vsd --import-max-files)". 0 or -1. */
int vs_fs_template_import(const char *root, const char *name, const char *archive_path,
			  vs_fs_progress_fn progress, void *ud, struct vs_error *err);

/* Read R/templates/NAME/template.json into *out (free with
 * vs_template_info_free). VS_EK_NOT_FOUND when absent, VS_EK_INVALID for a
 * bad name; a damaged file is an error naming the template. 0 or -1. */
int vs_fs_template_get(const char *root, const char *name, struct vs_template_info *out,
		       struct vs_error *err);

/* All templates, sorted by name. *out is an array of *n entries; free each
 * with vs_template_info_free() and the array with free(). Entries that are
 * not templates (hidden staging names, directories without template.json)
 * are skipped; a damaged template.json fails the list. 0 or -1. */
int vs_fs_template_list(const char *root, struct vs_template_info **out, size_t *n,
			struct vs_error *err);

/* Remove a template (the caller has checked no container uses it): rename
 * to a hidden name, then remove the tree. VS_EK_NOT_FOUND when absent.
 * 0 or -1. */
int vs_fs_template_remove(const char *root, const char *name, struct vs_error *err);

/* Create the container layer in directory `dir` (which exists, e.g. the
 * staging R/containers/.NAME.creating): upper/ owned by uid:gid mode 0755
 * (inside disk/ when vs_fs_disk_create made a disk there first)
 * (the merged "/" shows its owner and mode), work/ 0700, lower/ and rootfs/
 * 0755, those three owned by the caller. Existing directories are fine
 * (owner and mode are set again). Copies nothing of the template. 0 or -1.
 * Keep R/containers mode 0700: for a privileged container <cdir>/lower and
 * <cdir>/rootfs show the template's setuid-root files unmapped. */
int vs_fs_layer_create(const char *dir, uid_t uid, gid_t gid, struct vs_error *err);

/* Mount the container's root: first its disk (vs_fs_disk_mount: a no-op
 * without one, so a root never falls back to the host's filesystem), then
 * the template's rootfs id-mapped through
 * userns_fd (skip the idmap when userns_fd < 0, for privileged containers)
 * attached read-only at <cdir>/lower, and an overlay lowerdir=<cdir>/lower,
 * upperdir=<cdir>/upper, workdir=<cdir>/work at <cdir>/rootfs with the
 * fixed options index=off, metacopy=off, redirect_dir=on, xino=auto (uuid
 * at the kernel default), source "vsd"; a CRIU restore that rebuilds the
 * root with this function gets the same filesystem. All in the caller's
 * mount namespace, with the new API (open_tree, mount_setattr, fsopen,
 * fsmount, move_mount). cdir must not contain ':', ',', a backslash,
 * whitespace or control characters (VS_EK_INVALID). Idempotent if already
 * mounted. On failure nothing stays mounted. 0 or -1. */
int vs_fs_rootfs_mount(const char *template_rootfs, const char *cdir, int userns_fd,
		       struct vs_error *err);

/* Unmount <cdir>/rootfs and <cdir>/lower (lazily, MNT_DETACH); fine if not
 * mounted. The disk stays mounted (see vs_fs_disk_umount). 0 or -1. */
int vs_fs_rootfs_umount(const char *cdir, struct vs_error *err);

/* True if <cdir>/rootfs is a mount point (false also when it is missing). */
bool vs_fs_rootfs_mounted(const char *cdir);

/* Remove dirfd/name recursively without following symlinks and without
 * crossing into other filesystems or mounts: a mount point anywhere below
 * name (as /proc/self/mountinfo shows it) is refused before anything is
 * removed, and the walk re-checks every directory it enters (errno EBUSY,
 * the message names the path). Memory, not descriptors, bounds the depth.
 * Missing name is fine. 0 or -1. */
int vs_fs_remove_tree(int dirfd, const char *name, struct vs_error *err);

/* At daemon start: remove staging leftovers (.NAME.building, .NAME.removing,
 * and upload temp files .upload.*) under R/templates, first detaching any
 * mount a killed debootstrap left inside. Keeps going past a failure and
 * reports the first. 0 or -1. */
int vs_fs_recover(const char *root, struct vs_error *err);

/* Disk quotas (fs-cow/disk.c). A container with limits.disk > 0 keeps its
 * layer on an ext4 of its own: <cdir>/disk.img, a sparse file of the quota's
 * size, attached to a loop device (autoclear, direct I/O) and mounted
 * nodev,nosuid at <cdir>/disk with upper/ and work/ inside. overlayfs shows
 * that filesystem in `df /` inside the container, and writes beyond it fail
 * with ENOSPC. The inode limit is the ext4 inode count (mkfs -N), fixed per
 * block group of 128 MiB: growing a disk past a group boundary adds inodes
 * in proportion. The disk is mounted from create to destroy, whether the
 * container runs or not. Needs mkfs.ext4, e2fsck and resize2fs (e2fsprogs). */
#define VS_FS_DISK_MIN (16LL << 20)

/* Check a disk size (at least VS_FS_DISK_MIN) and inode count (0: the
 * default; at most one per KiB): VS_EK_INVALID naming "disk" or "inodes"
 * when out of range. Pure. 0 or -1. */
int vs_fs_disk_check(int64_t bytes, int64_t inodes, struct vs_error *err);

/* Make <cdir>/disk.img of `bytes` (rounded up to 4 KiB) with `inodes`
 * inodes (0: one per 16 KiB) and mount it at <cdir>/disk. Call it on the
 * staging directory before vs_fs_layer_create. Costs O(1) in the
 * template's size (mkfs of a sparse file, about 50 ms). Bad sizes are
 * VS_EK_INVALID naming "disk" or "inodes". On failure nothing is left
 * (no image, no mount, no loop device). 0 or -1. */
int vs_fs_disk_create(const char *cdir, int64_t bytes, int64_t inodes, struct vs_error *err);

/* Mount <cdir>/disk.img at <cdir>/disk if it is not mounted yet (after a
 * host reboot, at vsd start and before every root mount). Returns 1 when
 * the container has no disk (nothing to do), 0 when mounted, -1 on failure
 * (nothing left attached). */
int vs_fs_disk_mount(const char *cdir, struct vs_error *err);

/* Unmount <cdir>/disk (the loop device then detaches itself); fine when
 * not mounted or absent. Busy (a process still holds a file): detached
 * lazily, the loop device goes with the last user. Call it before removing
 * the container's directory. 0 or -1. */
int vs_fs_disk_umount(const char *cdir, struct vs_error *err);

/* The directory holding the container's own layer: <cdir>/disk with a
 * disk quota, else <cdir>/upper (malloc'd). For the I/O limits' devices. */
char *vs_fs_layer_dir(const char *cdir);

/* Layer copies (fs-cow/layer.c), for checkpoints and snapshots: a copy
 * of the container's own upper layer only (never the template), made with
 * rsync -aHAX --numeric-ids --sparse: ownership in the id range, xattrs
 * (overlay's opaque/redirect marks), ACLs, hard links, holes and
 * whiteouts survive. Not counted against the disk quota when dst lies
 * outside the container's disk. */

/* <cdir>/upper or <cdir>/disk/upper (malloc'd). */
char *vs_fs_upper_dir(const char *cdir);

/* The rsync program layer copies use (an absolute path). */
const char *vs_fs_rsync_path(void);

/* Make dst (created 0700 when missing) equal to the container's upper
 * layer; a second call copies only what changed (and deletes what went).
 * link_dest: an older immutable copy whose unchanged files are hard-linked
 * instead of copied, or NULL. live: the container runs and a pass while
 * it is frozen follows, so files that vanish during this one are no error
 * (rsync's code 24). Without rsync: VS_EK_UNSUPPORTED. The result is
 * synced to disk. On failure dst may hold part of a copy. 0 or -1. */
int vs_fs_layer_copy(const char *cdir, const char *dst, const char *link_dest, bool live,
		     struct vs_error *err);

/* The text of a /bin/sh program for criu --action-script that, at
 * post-dump (tasks dumped and still frozen), makes $VSD_LAYER_DST equal
 * to $VSD_LAYER_SRC with the same rsync and does nothing at other
 * actions; the caller writes it to an executable file and puts both
 * paths in criu's environment. malloc'd. */
char *vs_fs_layer_sync_script(void);

/* Replace the container's upper layer by a copy of src (a directory made
 * by vs_fs_layer_copy). The container must be stopped (its root not
 * mounted: VS_EK_CONFLICT). The copy is made beside upper
 * (<base>/.upper.vsd-swap, so with a disk quota it needs room for both),
 * then exchanged with upper in one renameat2(RENAME_EXCHANGE), the old
 * layer removed and work/ emptied. A crash leaves the old or the new layer
 * complete (vs_fs_layer_recover removes the rest). On failure before the
 * exchange the old layer is untouched. 0 or -1. */
int vs_fs_layer_put_back(const char *cdir, const char *src, struct vs_error *err);

/* Move a container's own layer to another id range (a migration to a node
 * where its range is taken): every inode under dirfd (the layer's upper/
 * directory, itself included) owned by a uid and gid in [from, from +
 * count) gets id - from + to, and so do the ids in its POSIX ACLs and its
 * v3 file capability (the root id). Setuid/setgid bits and capabilities,
 * which the kernel drops on chown, are put back. Symlinks are never
 * followed and no mount is entered (EBUSY naming it); each hard-linked
 * inode is shifted once. Overlay whiteouts (char 0:0, made by the mounter:
 * host root) and trusted.overlay.* xattrs are left as they are.
 *
 * A first pass checks the whole tree and changes nothing: an owner, ACL
 * entry or capability root outside the range is VS_EK_INVALID naming the
 * file ("layer PATH: owner 0:0 is outside the id range 100000-165535"),
 * as is a malformed ACL or capability. A failure during the second pass
 * (I/O, a tree changed under it) leaves the tree partly shifted: it is
 * meant for a layer nobody runs (a migration's staged copy), to be
 * discarded then. count 0 or a range past 2^32-1 is VS_EK_INVALID.
 * 0 or -1. */
int vs_fs_layer_shift(int dirfd, uint32_t from, uint32_t to, uint32_t count, struct vs_error *err);

/* At daemon start, per container: remove a swap directory a crash in
 * vs_fs_layer_put_back left. 1 when something was removed, 0 when there
 * was nothing, -1. */
int vs_fs_layer_recover(const char *cdir, struct vs_error *err);

/* Apparent size of the tree under dirfd (regular files and symlinks by
 * st_size, hard links counted once, directories by st_size). 0 or -1. */
int vs_fs_tree_size(int dirfd, int64_t *bytes, struct vs_error *err);

/* The files under dirfd (not directories: regular files, symlinks, FIFOs,
 * sockets, devices) whose change time is at or after since, as rsync
 * include rules (--from0): "/PATH" from the tree's top, each ended by a
 * NUL, with rsync's wildcard characters escaped in a path that has one.
 * The change time is the kernel's (no guest sets it), and the names of a
 * hard-linked file share it, so a hard-link group is wholly in or out.
 * *list (malloc'd, *len bytes, *count rules; NULL and 0 for none). At
 * most max rules: 1 when more files changed than that (*list NULL,
 * *count all of them), 0, or -1. */
int vs_fs_changed_since(int dirfd, const struct timespec *since, size_t max, char **list,
			size_t *len, size_t *count, struct vs_error *err);

/* True if the container at cdir has a disk image. */
bool vs_fs_disk_present(const char *cdir);

/* Change a container's disk from old->disk/old->inodes to new->disk/
 * new->inodes (the other fields are ignored), for `vsctl set --disk`:
 *  - equal: nothing to do, 0;
 *  - grow: online, whether the container runs or not (extend the sparse
 *    file, LOOP_SET_CAPACITY, EXT4_IOC_RESIZE_FS); on failure the file
 *    and the device are put back. EXT4_IOC_RESIZE_FS needs
 *    CAP_SYS_RESOURCE: where vsd lacks it (the development machines drop
 *    it from the bounding set), a stopped container's disk grows offline
 *    (resize2fs) and a running one is refused with VS_EK_UNSUPPORTED
 *    ("disk: growing a running container's disk needs CAP_SYS_RESOURCE,
 *    which vsd does not have on this host; stop the container ...");
 *  - shrink: VS_EK_CONFLICT while the container's root is mounted
 *    ("disk: shrinking needs the container stopped ..."); stopped, a size
 *    below what is used is VS_EK_INVALID ("disk: 1G is smaller than the
 *    1.3G already used"); otherwise offline: unmount, e2fsck -f,
 *    resize2fs, truncate, mount again (also after a failure);
 *  - inodes changed: VS_EK_UNSUPPORTED ("inodes: cannot be changed on an
 *    existing disk (ext4 fixes the inode count at creation)");
 *  - adding a disk to a container without one, or removing it:
 *    VS_EK_UNSUPPORTED (the quota is chosen at create).
 * The caller holds the container's lock and persists the new limits
 * after success. 0 or -1. */
int vs_fs_disk_resize(const char *cdir, const struct vs_limits *old, const struct vs_limits *new,
		      struct vs_error *err);

/* Usage of the container's disk (statfs of the mounted ext4, as `df`
 * inside shows it): bytes used and total, inodes used and total. Returns
 * 1 with all four 0 when the container has no disk quota, 0 with the
 * figures, -1 on failure (VS_EK_CONFLICT when the disk is not mounted). */
int vs_fs_disk_usage(const char *cdir, int64_t *used, int64_t *total, int64_t *inodes_used,
		     int64_t *inodes_total, struct vs_error *err);

/* Backups (fs-cow/backup.c). A backup is a zstd pax tar (libarchive):
 * backup.json (the manifest below), config.json, layer/ (the container's
 * own overlay layer, owners relative to its id range, whiteouts,
 * trusted.overlay.{opaque,redirect,impure}, ACLs, file capabilities, hard
 * links and user.* xattrs kept) and, optionally, template/ (the template's
 * rootfs). */
#define VS_FS_DIGEST_LEN 72 /* "sha256:" + 64 hex + NUL */
struct vs_fs_backup_info {
	char name[VS_NAME_MAX + 1];
	char template_name[VS_NAME_MAX + 1];
	char template_digest[VS_FS_DIGEST_LEN];
	bool with_template;
	char *config_json; /* config.json text (malloc'd) */
};
void vs_fs_backup_info_free(struct vs_fs_backup_info *info);

/* Caps on what an import may expand to (vsd --import-max-size and
 * --import-max-files); 0 means no cap. */
/* The content digest of the tree under rootfd: sha256 over every entry's
 * path, type, mode, owner and content (or link target, device number),
 * in bytewise path order; times are not part of it, so the same template
 * built on two nodes matches. out gets "sha256:<hex>". 0 or -1. */
int vs_fs_tree_digest(int rootfd, char out[VS_FS_DIGEST_LEN], struct vs_error *err);

/* The digest of template NAME: read from R/templates/NAME/digest (written
 * when the template is built or imported), else computed once and stored
 * there. VS_EK_NOT_FOUND when the template is absent. 0 or -1. */
int vs_fs_template_digest(const char *root, const char *name, char out[VS_FS_DIGEST_LEN],
			  struct vs_error *err);

/* Store digest as the "digest" file of the template directory tdirfd
 * (atomic). 0 or -1. */
int vs_fs_digest_store(int tdirfd, const char digest[VS_FS_DIGEST_LEN], struct vs_error *err);

/* Write a backup to outfd: info (name, template identity, config.json
 * text), the layer tree layerfd (the container's upper/; owners made
 * relative to id_base, 0 for a privileged container) and, when
 * template_rootfd >= 0, the template rootfs. Reads the trees fd-relative
 * without following symlinks; a mount point inside is VS_EK_CONFLICT.
 * The caller keeps the container still (frozen or stopped). On failure
 * outfd holds garbage the caller discards. 0 or -1. */
int vs_fs_backup_write(int outfd, const struct vs_fs_backup_info *info, int layerfd,
		       uint32_t id_base, int template_rootfd, struct vs_error *err);

/* Read and check backup.json and config.json of the archive in fd (any
 * compression libarchive decodes; fd is rewound first). VS_EK_INVALID for
 * anything that is not a version-1 vsd backup. Free with
 * vs_fs_backup_info_free. 0 or -1. */
int vs_fs_backup_read_info(int fd, struct vs_fs_backup_info *info, struct vs_error *err);
/* Parse backup.json text into info (config_json untouched). 0 or -1. */
int vs_fs_backup_parse_manifest(const char *text, struct vs_fs_backup_info *info,
				struct vs_error *err);

/* Extract section "layer" or "template" of the archive in fd (rewound
 * first) into the empty directory destfd, with the template import's
 * refusals (absolute or ".." paths, members through symlinks, hard links
 * outside, devices other than the harmless ones and, in "layer",
 * whiteouts) and the caps. Owners are shifted by id_shift (the new
 * container's id base; 0 for a template). The caller removes destfd's
 * contents on failure. 0 or -1 (VS_EK_INVALID for bad content or a cap). */
int vs_fs_backup_extract(int fd, const char *section, int destfd, uint32_t id_shift,
			 const struct vs_fs_import_caps *caps, struct vs_error *err);

/* Make template NAME from the template/ section of the backup in fd,
 * staged like any template import; its digest must equal want_digest
 * (VS_EK_INVALID otherwise). VS_EK_CONFLICT when NAME exists. Nothing is
 * left on failure. 0 or -1. */
int vs_fs_template_from_backup(const char *root, const char *name, int fd, const char *want_digest,
			       const struct vs_fs_import_caps *caps, struct vs_error *err);

#endif
