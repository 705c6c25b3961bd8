/* fs-private: helpers shared by the files of fs-cow/ (not a public API).
 *
 * Conventions as everywhere in vsd: 0 on success, -1 with *err filled. */
#ifndef VS_FS_PRIVATE_H
#define VS_FS_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs-cow/vs_fs.h"
#include "lib/vs_error.h"

struct archive;

/* A template being made: R/templates/.NAME.building/{rootfs/,template.json}. */
struct vs_fs_stage {
	int tdirfd;	  /* R/templates */
	int stagefd;	  /* R/templates/.NAME.building */
	int rootfsfd;	  /* R/templates/.NAME.building/rootfs */
	char *name;	  /* NAME */
	char *stage_name; /* ".NAME.building" */
};

/* Open R/templates (creating it, mode 0700, when `create`). Returns the fd
 * or -1; a missing directory without `create` is errno ENOENT in err. */
int vs_fs_templates_open(const char *root, bool create, struct vs_error *err);

/* Validate NAME, refuse an existing template (VS_EK_CONFLICT) and create the
 * staging directory with an empty rootfs/ (0755). On failure nothing is
 * created and *st needs no cleanup. 0 or -1. */
int vs_fs_stage_begin(const char *root, const char *name, struct vs_fs_stage *st,
		      struct vs_error *err);

/* Finish: detect the init system (a tree without /sbin/init is refused,
 * VS_EK_INVALID), measure the size, write template.json, flush the
 * filesystem and rename the staging directory to NAME. 0 or -1; on failure
 * the caller still owns the staging directory (call vs_fs_stage_abort). */
int vs_fs_stage_commit(struct vs_fs_stage *st, const char *source, struct vs_error *err);

/* Remove the staging directory (detaching any mount a killed debootstrap
 * left inside it) and release *st. Safe on a zeroed or committed stage. */
void vs_fs_stage_abort(struct vs_fs_stage *st);

/* Release *st without touching the disk (after a successful commit). */
void vs_fs_stage_release(struct vs_fs_stage *st);

/* Resolve /sbin/init inside rootfd (every step confined with
 * RESOLVE_IN_ROOT) and fill init_system, init and stop_signal. A missing,
 * dangling or non-regular /sbin/init is VS_EK_INVALID. 0 or -1. */
int vs_fs_detect_init(int rootfd, struct vs_template_info *info, struct vs_error *err);

/* Detach (MNT_DETACH) every mount at or below the directory open as dirfd,
 * deepest first, in the caller's mount namespace. Only for directories
 * vsd owns (staging leftovers). 0 or -1. */
int vs_fs_unmount_under(int dirfd, struct vs_error *err);

/* True if path (not followed) is the root of a mount. */
bool vs_fs_is_mount_point(const char *path);

/* Detach (MNT_DETACH) everything stacked on path (a repeated mount may
 * have stacked); fine if nothing is mounted there. 0 or -1. */
int vs_fs_detach_all(const char *path, struct vs_error *err);

/* Disk quota helpers (disk.c), pure ones exposed for the unit tests. */
/* bytes rounded up to whole 4 KiB blocks. */
int64_t vs_fs_disk_round(int64_t bytes);
/* The journal size in MiB for a disk of bytes: 1/256, from 4 to 64. */
int vs_fs_disk_journal_mb(int64_t bytes);
/* bytes as an approximate human size with one decimal ("1.3G", "64M"). */
void vs_fs_size_approx(int64_t bytes, char *buf, size_t len);
/* The mkfs.ext4 command line for image (a NULL-terminated vector to free
 * with vs_strv_free). */
char **vs_fs_mkfs_argv(const char *image, int64_t bytes, int64_t inodes);
/* "disk/" when the container at cdirfd has a disk image (its upper/ and
 * work/ live inside the mounted disk), else "". */
const char *vs_fs_layer_prefix(int cdirfd);

/* Fail with errno and what the filesystem logged on the fs context fsfd
 * (its first line, e.g. "e overlay: ..."): errno alone rarely says which
 * option was refused. Returns -1. */
int vs_fs_ctx_fail(int fsfd, struct vs_error *err, const char *what);

/* Called once per output line (without the newline) of a spawned program. */
typedef int (*vs_fs_line_fn)(void *ud, const char *line, struct vs_error *err);

/* Run argv[0] (an absolute path) with exactly argv and envp, stdin from
 * /dev/null, stdout and stderr into one pipe read line by line into
 * on_line (NULL: discard). Fails (-1) when the program cannot be started,
 * on_line fails (the program is then killed), or it does not exit with
 * status 0; the message then quotes its last output line. */
int vs_fs_run(char *const argv[], char *const envp[], vs_fs_line_fn on_line, void *ud,
	      struct vs_error *err);

/* Builders: fill the empty staging rootfs. 0 or -1. */
int vs_fs_build_busybox(int rootfd, vs_fs_progress_fn progress, void *ud, struct vs_error *err);
int vs_fs_build_debian(const struct vs_fs_stage *st, const char *suite, const char *mirror,
		       vs_fs_progress_fn progress, void *ud, const atomic_bool *cancel,
		       struct vs_error *err);

/* Check a Debian suite name ([a-z]+, at most 32) and the mirror URL taken
 * from $VSD_DEBIAN_MIRROR (or the default) before anything is created.
 * *mirror points into the environment or a constant. 0 or -1 (invalid). */
int vs_fs_debian_check(const char *suite, const char **mirror, struct vs_error *err);

/* How vs_fs_extract treats an archive. Zeroed: a template's rootfs. */
struct vs_fs_extract_opts {
	/* Only members under this top-level directory ("layer"), which
	 * becomes the root; others are skipped. NULL: all, with the
	 * template's optional "rootfs/" convention. */
	const char *prefix;
	/* A container's own layer: overlayfs whiteouts (char 0:0),
	 * trusted.overlay.{opaque,redirect,impure} and POSIX ACLs kept, no
	 * /proc,/sys,/dev fix-up, zero blocks left as holes. */
	bool layer;
	uint32_t id_shift;  /* added to every owner (and ACL / v3 cap id) */
	uint64_t max_bytes; /* cap on declared data bytes; 0 none */
	uint64_t max_files; /* cap on members; 0 none */
};

/* Extract an opened libarchive reader into the empty directory rootfd,
 * refusing everything vs_fs_template_import documents (and, with opts,
 * what is beyond the caps). opts NULL is the template case. The caller
 * removes the tree on failure. 0 or -1 (VS_EK_INVALID for bad archive
 * content or a cap reached). */
int vs_fs_extract(struct archive *a, int rootfd, const struct vs_fs_extract_opts *opts,
		  vs_fs_progress_fn progress, void *ud, struct vs_error *err);

/* A reader for tar in the compressions libarchive decodes itself, on fd
 * (which stays the caller's). NULL with err when not an archive. */
struct archive *vs_fs_archive_reader(int fd, struct vs_error *err);

/* backup.c, pure helpers (unit tested). */
/* True for the xattrs a container layer keeps beyond user.*: the
 * overlayfs ones that carry meaning (opaque, redirect, impure),
 * security.capability and the POSIX ACLs. */
bool vs_fs_layer_xattr_kept(const char *name);
/* Add delta to the ids inside an ACL (system.posix_acl_*: user and group
 * entries) or a v3 security.capability (its root id); other names are
 * left alone. Ids must stay within 0..2^32-2. 0, or -1 when the value is
 * malformed or an id would leave the range. */
int vs_fs_xattr_shift(const char *name, void *value, size_t size, int64_t delta);
/* The same for a move between id ranges: every id must lie in [from,
 * from + count) and becomes id - from + to. 0; -1 when the value is
 * malformed or an id would leave 0..2^32-2; -2 when an id lies outside
 * the range (the value is then partly changed: work on a copy). */
int vs_fs_xattr_remap(const char *name, void *value, size_t size, uint32_t from, uint32_t to,
		      uint32_t count);
/* True if all size bytes of buf are zero. */
bool vs_fs_all_zero(const void *buf, size_t size);

/* Normalise an archive member path: leading "./" and "." / empty
 * components dropped. Returns a fresh string ("" is the root itself), or
 * NULL when the path is absolute or has a ".." component. */
char *vs_fs_normalise_path(const char *raw);

/* Walk the tree dirfd/name depth first without following symlinks and
 * without crossing mounts (EBUSY naming the path). `file` gets every
 * non-directory, `dir` every directory after its contents; both get the
 * directory fd holding the entry, its name and a display path. Only one
 * directory fd is held at a time, so depth is bounded by memory, not by
 * the fd limit. 0, 1 when name does not exist, or -1. */
struct vs_fs_walk_ops {
	int (*file)(int dirfd, const char *name, const char *path, void *ud, struct vs_error *err);
	int (*dir)(int dirfd, const char *name, const char *path, void *ud, struct vs_error *err);
};
int vs_fs_walk(int dirfd, const char *name, const struct vs_fs_walk_ops *ops, void *ud,
	       struct vs_error *err);

/* A set of inode numbers of one file system (open addressing; inode 0 is
 * the empty marker, so never add it): hard links met more than once in a
 * walk. Zero-initialise; free with vs_fs_inoset_free. */
struct vs_fs_inoset {
	ino_t *seen;
	size_t n, cap; /* cap is 0 or a power of two */
};
/* Add ino; true if it was there already. */
bool vs_fs_inoset_add(struct vs_fs_inoset *s, ino_t ino);
void vs_fs_inoset_free(struct vs_fs_inoset *s);

/* Copy s into a message-safe form (control bytes and non-ASCII as '?',
 * at most 200 bytes) for error messages naming attacker-chosen paths. */
void vs_fs_printable(const char *s, char *buf, size_t len);

#endif
