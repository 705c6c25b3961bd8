/* Template import: a tar archive (plain, gzip, bzip2, xz, lzma, zstd) read
 * with libarchive and extracted by us, fd-relative.
 *
 * libarchive's own archive_write_disk is not used: its protections are
 * path-string based and optional. Here every member is created relative to
 * a directory fd reached from the staging rootfs one component at a time
 * with O_NOFOLLOW, so a symlink made by an earlier member is stored but
 * never followed, and nothing can land outside the tree. Regular files are
 * created with O_EXCL|O_NOFOLLOW; a later member replaces an earlier
 * non-directory (as tar does) but never a directory. Ownership needs root;
 * an unprivileged caller (the unit tests) gets its own ids and no device
 * nodes. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs-cow/fs-private.h"
#include "lib/vs_devices.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

#define PROGRESS_EVERY 1000
#define ID_LIMIT       65536 /* container id maps cover 0..65535 */

struct dirmeta {
	char *path; /* "" is the root */
	mode_t mode;
	struct timespec ts[2];
};

struct extract {
	struct archive *a;
	int rootfd;
	bool as_root;
	int prefix; /* -1 undecided, 0 none, 1 strip a top-level "rootfs/" */
	size_t entries;
	struct dirmeta *dirs;
	size_t ndirs, dcap;
	vs_fs_progress_fn progress;
	void *ud;
	const struct vs_fs_extract_opts *opts; /* never NULL */
	char shown[256];		       /* printable name of the current member */
	struct vs_fs_import_caps caps;	       /* vsd --import-max-size/-files */
	int64_t bytes;			       /* apparent size of the regular files so far */
	int64_t file_base;		       /* bytes before the current member */
	uint64_t declared; /* data bytes the headers declared so far (opts' cap) */
};

static struct vs_fs_import_caps import_caps = {VS_FS_IMPORT_MAX_BYTES_DEFAULT,
					       VS_FS_IMPORT_MAX_FILES_DEFAULT};

void vs_fs_import_caps_set(const struct vs_fs_import_caps *caps)
{
	import_caps.max_bytes =
	    caps->max_bytes > 0 ? caps->max_bytes : VS_FS_IMPORT_MAX_BYTES_DEFAULT;
	import_caps.max_files =
	    caps->max_files > 0 ? caps->max_files : VS_FS_IMPORT_MAX_FILES_DEFAULT;
}

struct vs_fs_import_caps vs_fs_import_caps_get(void)
{
	return import_caps;
}

static int too_large(struct extract *x, struct vs_error *err)
{
	return vs_error_kind(err, VS_EK_TOO_LARGE,
			     "archive unpacks to more than %lld bytes (vsd --import-max-size), at "
			     "'%s'",
			     (long long)x->caps.max_bytes, x->shown);
}

static void archive_freep(struct archive **a)
{
	if (*a != NULL)
		archive_read_free(*a);
}
#define cleanup_archive __attribute__((cleanup(archive_freep)))

char *vs_fs_normalise_path(const char *raw)
{
	cleanup_free char *out = NULL;
	const char *p = raw;
	size_t o = 0;

	if (raw == NULL || raw[0] == '/')
		return NULL;
	out = xmalloc(strlen(raw) + 1);
	while (*p != '\0') {
		const char *q = strchrnul(p, '/');
		size_t len = (size_t)(q - p);
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return NULL;
		if (len > 0 && !(len == 1 && p[0] == '.')) {
			if (o > 0)
				out[o++] = '/';
			memcpy(out + o, p, len);
			o += len;
		}
		p = *q != '\0' ? q + 1 : q;
	}
	out[o] = '\0';
	return steal_ptr(&out);
}

static int bad(struct extract *x, struct vs_error *err, const char *what)
{
	return vs_error_kind(err, VS_EK_INVALID, "entry '%s': %s", x->shown, what);
}

static int sys_fail(struct extract *x, struct vs_error *err, const char *what)
{
	return vs_error_set(err, errno, "entry '%s': %s", x->shown, what);
}

/* A backup section: "layer" is the root, "layer/x" is "x"; a member outside
 * the section is 1 (skipped by the caller; a hard link target there is an
 * error). */
static int strip_prefix(struct extract *x, char **p, const char *ctx, char **out,
			struct vs_error *err)
{
	const char *pre = x->opts->prefix;
	size_t n = strlen(pre);

	if (strncmp(*p, pre, n) != 0 || ((*p)[n] != '\0' && (*p)[n] != '/')) {
		if (ctx[0] != '\0')
			return vs_error_kind(err, VS_EK_INVALID, "entry '%s': %soutside %s/",
					     x->shown, ctx, pre);
		return 1;
	}
	memmove(*p, *p + n + ((*p)[n] == '/'), strlen(*p + n) + 1 - ((*p)[n] == '/'));
	*out = steal_ptr(p);
	return 0;
}

/* Normalise a member path and apply the top-level "rootfs/" convention,
 * decided by the first member that is not the root itself. */
static int member_path(struct extract *x, const char *raw, const char *ctx, char **out,
		       struct vs_error *err)
{
	cleanup_free char *p = vs_fs_normalise_path(raw);

	if (p == NULL)
		return vs_error_kind(err, VS_EK_INVALID,
				     "entry '%s': %sabsolute path or '..' component refused",
				     x->shown, ctx);
	if (x->opts->prefix != NULL)
		return strip_prefix(x, &p, ctx, out, err);
	if (p[0] != '\0' && x->prefix < 0)
		x->prefix = strcmp(p, "rootfs") == 0 || strncmp(p, "rootfs/", 7) == 0;
	if (p[0] != '\0' && x->prefix == 1) {
		if (strcmp(p, "rootfs") == 0)
			p[0] = '\0';
		else if (strncmp(p, "rootfs/", 7) == 0)
			memmove(p, p + 7, strlen(p + 7) + 1);
		else
			return vs_error_kind(
			    err, VS_EK_INVALID,
			    "entry '%s': %soutside the archive's top-level rootfs/", x->shown, ctx);
	}
	*out = steal_ptr(&p);
	return 0;
}

/* Open directory `path` ("" is the root) below the root one component at
 * a time, refusing symlinks; with `create`, missing ones are made (0755). */
static int open_dir_path(struct extract *x, const char *path, bool create, const char *ctx,
			 struct vs_error *err)
{
	cleanup_close int cur = fcntl(x->rootfd, F_DUPFD_CLOEXEC, 0);
	cleanup_free char *copy = xstrdup(path);
	char *save = NULL, pbuf[256];

	if (cur < 0)
		return sys_fail(x, err, "dup");
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		bool made = false;
		int fd = openat(cur, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && create) {
			if (mkdirat(cur, c, 0755) < 0 && errno != EEXIST)
				return sys_fail(x, err, "create parent directory");
			made = true;
			fd = openat(cur, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (fd < 0) {
			int e = errno;
			size_t end = (size_t)(c - copy) + strlen(c);
			/* Name the path up to the component that failed. */
			vs_fs_printable(path, pbuf, sizeof(pbuf));
			if (end < strlen(pbuf))
				pbuf[end] = '\0';
			if (e == ELOOP || e == ENOTDIR)
				return vs_error_kind(err, VS_EK_INVALID,
						     "entry '%s': %s'%s' is a symlink or not a "
						     "directory",
						     x->shown, ctx, pbuf);
			if (e == ENOENT)
				return vs_error_kind(err, VS_EK_INVALID,
						     "entry '%s': %s'%s' does not exist", x->shown,
						     ctx, pbuf);
			errno = e;
			return sys_fail(x, err, "open parent directory");
		}
		vs_closep(&cur);
		cur = fd;
		/* mkdirat honours the umask; the implicit parent gets 0755. */
		if (made && fchmod(cur, 0755) < 0)
			return sys_fail(x, err, "chmod parent directory");
	}
	return steal_fd(&cur);
}

/* "a/b/c" -> "a/b" (a fresh string; "" for the root) and *base "c". */
static char *split_path(const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');

	*base = slash != NULL ? slash + 1 : path;
	return slash != NULL ? xstrndup(path, (size_t)(slash - path)) : xstrdup("");
}

/* Make room for a non-directory: an earlier non-directory member of the
 * same name is replaced (later members win, as with tar), a directory not. */
static int clear_slot(struct extract *x, int pfd, const char *base, struct vs_error *err)
{
	struct stat st;

	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : sys_fail(x, err, "stat");
	if (S_ISDIR(st.st_mode))
		return bad(x, err, "would replace a directory");
	if (unlinkat(pfd, base, 0) < 0)
		return sys_fail(x, err, "replace earlier member");
	return 0;
}

/* Owners are container ids (checked 0..65535); a backup's layer is put
 * into the new container's host range. */
static uid_t owner_uid(struct extract *x, struct archive_entry *e)
{
	return (uid_t)(archive_entry_uid(e) + x->opts->id_shift);
}

static gid_t owner_gid(struct extract *x, struct archive_entry *e)
{
	return (gid_t)(archive_entry_gid(e) + x->opts->id_shift);
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
	ts[1].tv_sec = archive_entry_mtime(e);
	ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	if (!archive_entry_mtime_is_set(e))
		ts[1].tv_nsec = UTIME_OMIT;
	ts[0] = ts[1];
	if (archive_entry_atime_is_set(e)) {
		ts[0].tv_sec = archive_entry_atime(e);
		ts[0].tv_nsec = archive_entry_atime_nsec(e);
	}
}

/* Only user.* and, for root, security.capability (file capabilities, which
 * the kernel honours inside the container's user namespace through the id
 * map). trusted.* (overlayfs' own metadata among it), security.* else and
 * ACLs are dropped. */
static int set_xattrs(struct extract *x, struct archive_entry *e, int fd, bool caps,
		      struct vs_error *err)
{
	const char *name;
	const void *value;
	size_t size;
	char nbuf[64];

	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		bool cap = strcmp(name, "security.capability") == 0;
		cleanup_free void *shifted = NULL;
		if (x->opts->layer && x->as_root && vs_fs_layer_xattr_kept(name)) {
			/* ACLs and v3 capabilities name ids: shift them too. */
			shifted = xmalloc(size > 0 ? size : 1);
			memcpy(shifted, value, size);
			if (vs_fs_xattr_shift(name, shifted, size, (int64_t)x->opts->id_shift) < 0)
				return bad(x, err, "malformed ACL or capability xattr");
			value = shifted;
		} else if (strncmp(name, "user.", 5) != 0 && !(cap && caps && x->as_root))
			continue;
		if (fsetxattr(fd, name, value, size, 0) < 0 && errno != EOPNOTSUPP) {
			int e2 = errno;
			vs_fs_printable(name, nbuf, sizeof(nbuf));
			return vs_error_set(err, e2, "entry '%s': set xattr %s", x->shown, nbuf);
		}
	}
	return 0;
}

static int copy_data(struct extract *x, int fd, struct vs_error *err)
{
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t off;
		int r = archive_read_data_block(x->a, &buf, &size, &off);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return vs_error_kind(err, VS_EK_INVALID, "entry '%s': %s", x->shown,
					     archive_error_string(x->a));
		/* Offsets make sparse members come out sparse; the cap counts
		 * the apparent size, what the file can grow to be. */
		if (off < 0 || (int64_t)size > x->caps.max_bytes ||
		    off > x->caps.max_bytes - x->file_base - (int64_t)size)
			return too_large(x, err);
		if (x->file_base + off + (int64_t)size > x->bytes)
			x->bytes = x->file_base + off + (int64_t)size;
		/* A layer's zero blocks become holes too (the export does not
		 * mark holes). */
		if (x->opts->layer && vs_fs_all_zero(buf, size))
			continue;
		for (size_t done = 0; done < size;) {
			ssize_t n = pwrite(fd, (const char *)buf + done, size - done,
					   (off_t)off + (off_t)done);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return sys_fail(x, err, "write");
			done += (size_t)n;
		}
	}
}

/* chown first: it clears setuid bits and file capabilities, which the
 * later chmod and setxattr put back. */
static int set_meta_fd(struct extract *x, struct archive_entry *e, int fd, bool caps,
		       struct vs_error *err)
{
	struct timespec ts[2];

	if (x->as_root && fchown(fd, owner_uid(x, e), owner_gid(x, e)) < 0)
		return sys_fail(x, err, "chown");
	if (fchmod(fd, archive_entry_mode(e) & 07777) < 0)
		return sys_fail(x, err, "chmod");
	if (set_xattrs(x, e, fd, caps, err) < 0)
		return -1;
	entry_times(e, ts);
	if (futimens(fd, ts) < 0)
		return sys_fail(x, err, "set times");
	return 0;
}

static int make_regular(struct extract *x, struct archive_entry *e, int pfd, const char *base,
			struct vs_error *err)
{
	cleanup_close int fd = -1;

	if (clear_slot(x, pfd, base, err) < 0)
		return -1;
	if (archive_entry_size_is_set(e) &&
	    (archive_entry_size(e) < 0 || archive_entry_size(e) > x->caps.max_bytes - x->bytes))
		return too_large(x, err);
	fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return sys_fail(x, err, "create");
	x->file_base = x->bytes;
	if (copy_data(x, fd, err) < 0)
		return -1;
	if (archive_entry_size_is_set(e) && x->file_base + archive_entry_size(e) > x->bytes)
		x->bytes = x->file_base + archive_entry_size(e);
	if (archive_entry_size_is_set(e) && ftruncate(fd, archive_entry_size(e)) < 0)
		return sys_fail(x, err, "truncate");
	return set_meta_fd(x, e, fd, true, err);
}

/* Directory modes and times are applied at the end: a read-only mode would
 * stop an unprivileged extraction, and every member created inside moves
 * the mtime again. */
static void defer_dir(struct extract *x, struct archive_entry *e, const char *path)
{
	struct dirmeta *d;

	if (x->ndirs == x->dcap) {
		x->dcap = x->dcap ? x->dcap * 2 : 64;
		x->dirs = xrealloc(x->dirs, x->dcap * sizeof(*x->dirs));
	}
	d = &x->dirs[x->ndirs++];
	d->path = xstrdup(path);
	d->mode = archive_entry_mode(e) & 07777;
	entry_times(e, d->ts);
}

static int make_dir(struct extract *x, struct archive_entry *e, int pfd, const char *base,
		    const char *path, struct vs_error *err)
{
	cleanup_close int fd = -1;
	struct stat st;

	if (base[0] == '\0') {
		fd = fcntl(x->rootfd, F_DUPFD_CLOEXEC, 0);
	} else {
		if (mkdirat(pfd, base, 0700) < 0 &&
		    (errno != EEXIST || fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		     !S_ISDIR(st.st_mode)))
			return errno == EEXIST ? bad(x, err, "exists and is not a directory")
					       : sys_fail(x, err, "mkdir");
		fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return sys_fail(x, err, "open directory");
	if (x->as_root && fchown(fd, owner_uid(x, e), owner_gid(x, e)) < 0)
		return sys_fail(x, err, "chown");
	if (set_xattrs(x, e, fd, false, err) < 0)
		return -1;
	defer_dir(x, e, path);
	return 0;
}

/* Ownership and times of a symlink or device node, by name (they cannot
 * be opened for writing); pfd is the staging tree's own directory. */
static int set_meta_at(struct extract *x, struct archive_entry *e, int pfd, const char *base,
		       bool chmod_too, struct vs_error *err)
{
	struct timespec ts[2];

	if (x->as_root &&
	    fchownat(pfd, base, owner_uid(x, e), owner_gid(x, e), AT_SYMLINK_NOFOLLOW) < 0)
		return sys_fail(x, err, "chown");
	if (chmod_too && fchmodat(pfd, base, archive_entry_mode(e) & 07777, 0) < 0)
		return sys_fail(x, err, "chmod");
	entry_times(e, ts);
	if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return sys_fail(x, err, "set times");
	return 0;
}

static int make_symlink(struct extract *x, struct archive_entry *e, int pfd, const char *base,
			struct vs_error *err)
{
	const char *target = archive_entry_symlink(e);

	if (target == NULL)
		target = archive_entry_symlink_utf8(e);
	if (target == NULL || target[0] == '\0')
		return bad(x, err, "symlink without a target");
	if (clear_slot(x, pfd, base, err) < 0)
		return -1;
	/* Stored verbatim: it is only ever resolved inside the container. */
	if (symlinkat(target, pfd, base) < 0)
		return sys_fail(x, err, "symlink");
	return set_meta_at(x, e, pfd, base, false, err);
}

static int make_hardlink(struct extract *x, const char *raw, int pfd, const char *base,
			 struct vs_error *err)
{
	cleanup_free char *tpath = NULL, *tparent = NULL;
	cleanup_close int tpfd = -1;
	const char *tbase;
	struct stat st;

	if (member_path(x, raw, "hard link target: ", &tpath, err) < 0)
		return -1;
	if (tpath[0] == '\0')
		return bad(x, err, "hard link to the root directory");
	tparent = split_path(tpath, &tbase);
	tpfd = open_dir_path(x, tparent, false, "hard link target: ", err);
	if (tpfd < 0)
		return -1;
	if (fstatat(tpfd, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? bad(x, err, "hard link target does not exist")
				       : sys_fail(x, err, "stat hard link target");
	if (!S_ISREG(st.st_mode))
		return bad(x, err, "hard link target is not a regular file");
	if (clear_slot(x, pfd, base, err) < 0)
		return -1;
	if (linkat(tpfd, tbase, pfd, base, 0) < 0)
		return errno == ENOENT ? bad(x, err, "hard link target does not exist")
				       : sys_fail(x, err, "link");
	return 0;
}

static int make_node(struct extract *x, struct archive_entry *e, int pfd, const char *base,
		     struct vs_error *err)
{
	mode_t type = archive_entry_filetype(e);
	unsigned maj = (unsigned)archive_entry_rdevmajor(e),
		 min = (unsigned)archive_entry_rdevminor(e);
	bool ok = type == AE_IFIFO;
	char what[96];

	if (type == AE_IFBLK) {
		snprintf(what, sizeof(what), "block device %u:%u refused", maj, min);
		return bad(x, err, what);
	}
	/* The nodes every container gets (lib/vs_devices.h), pty slaves not. */
	ok |= type == AE_IFCHR && vs_device_fixed('c', maj, min) != NULL;
	/* overlayfs' whiteout: a 0:0 character device marks a deleted file. */
	ok |= x->opts->layer && type == AE_IFCHR && maj == 0 && min == 0;
	if (!ok) {
		snprintf(what, sizeof(what), "character device %u:%u refused", maj, min);
		return bad(x, err, what);
	}
	/* Without CAP_MKNOD (unprivileged test runs) the node is skipped; the
	 * runtime gives every container its own /dev anyway. */
	if (type == AE_IFCHR && !x->as_root)
		return 0;
	if (clear_slot(x, pfd, base, err) < 0)
		return -1;
	if (mknodat(pfd, base, (type == AE_IFCHR ? S_IFCHR : S_IFIFO) | 0600,
		    type == AE_IFCHR ? makedev(maj, min) : 0) < 0)
		return sys_fail(x, err, "mknod");
	return set_meta_at(x, e, pfd, base, true, err);
}

static bool is_api_dir(const char *path)
{
	return strcmp(path, "proc") == 0 || strcmp(path, "sys") == 0 || strcmp(path, "dev") == 0;
}

static int check_member(struct extract *x, struct archive_entry *e, const char *path,
			struct vs_error *err)
{
	la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
	bool dir = archive_entry_filetype(e) == AE_IFDIR && archive_entry_hardlink(e) == NULL;
	char what[96];

	if (uid < 0 || uid >= ID_LIMIT || gid < 0 || gid >= ID_LIMIT) {
		snprintf(what, sizeof(what), "owner %lld:%lld outside the container ids 0..%d",
			 (long long)uid, (long long)gid, ID_LIMIT - 1);
		return bad(x, err, what);
	}
	/* The runtime mounts proc, sysfs and /dev there: a symlink would
	 * redirect those mounts. */
	if (!dir && is_api_dir(path)) {
		snprintf(what, sizeof(what), "/%s must be a directory", path);
		return bad(x, err, what);
	}
	if (!dir && path[0] == '\0')
		return bad(x, err, "the root must be a directory");
	return 0;
}

/* The caps on what an archive may expand to: members and declared data
 * bytes (a sparse member counts by its apparent size, so a 1 MB archive
 * cannot promise terabytes either). */
static int count_member(struct extract *x, struct archive_entry *e, struct vs_error *err)
{
	const struct vs_fs_extract_opts *o = x->opts;
	int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;

	x->declared += size > 0 ? (uint64_t)size : 0;
	if (o->max_files > 0 && x->entries + 1 > o->max_files)
		return vs_error_kind(err, VS_EK_INVALID,
				     "archive has more than %" PRIu64
				     " members, the import cap (--import-max-files)",
				     o->max_files);
	if (o->max_bytes > 0 && x->declared > o->max_bytes)
		return vs_error_kind(err, VS_EK_INVALID,
				     "archive expands beyond %" PRIu64
				     " bytes, the import cap (--import-max-size), at entry '%s'",
				     o->max_bytes, x->shown);
	return 0;
}

static int extract_member(struct extract *x, struct archive_entry *e, struct vs_error *err)
{
	const char *raw = archive_entry_pathname(e), *hl, *base;
	cleanup_free char *path = NULL, *parent = NULL;
	cleanup_close int pfd = -1;
	mode_t type = archive_entry_filetype(e);
	int r;

	/* Names that do not convert to the locale's charset still have their
	 * UTF-8 bytes, which is what a Linux file name is. */
	if (raw == NULL)
		raw = archive_entry_pathname_utf8(e);
	vs_fs_printable(raw != NULL ? raw : "(no name)", x->shown, sizeof(x->shown));
	if (raw == NULL)
		return bad(x, err, "member without a path");
	r = member_path(x, raw, "", &path, err);
	if (r != 0)
		return r < 0 ? -1 : 1;
	if (check_member(x, e, path, err) < 0 || count_member(x, e, err) < 0)
		return -1;
	parent = split_path(path, &base);
	if (base[0] == '\0')
		return make_dir(x, e, -1, "", path, err);
	pfd = open_dir_path(x, parent, true, "", err);
	if (pfd < 0)
		return -1;
	hl = archive_entry_hardlink(e);
	if (hl == NULL)
		hl = archive_entry_hardlink_utf8(e);
	if (hl != NULL)
		return make_hardlink(x, hl, pfd, base, err);
	switch (type) {
	case AE_IFREG:
		return make_regular(x, e, pfd, base, err);
	case AE_IFDIR:
		return make_dir(x, e, pfd, base, path, err);
	case AE_IFLNK:
		return make_symlink(x, e, pfd, base, err);
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
		return make_node(x, e, pfd, base, err);
	default:
		return bad(x, err, "unsupported member type");
	}
}

static int finish_dirs(struct extract *x, struct vs_error *err)
{
	for (size_t k = 0; k < x->ndirs; k++) {
		struct dirmeta *d = &x->dirs[k];
		cleanup_close int fd = -1;
		vs_fs_printable(d->path, x->shown, sizeof(x->shown));
		fd = open_dir_path(x, d->path, false, "", err);
		if (fd < 0)
			return -1;
		if (fchmod(fd, d->mode) < 0 || futimens(fd, d->ts) < 0)
			return sys_fail(x, err, "set mode and times");
	}
	return 0;
}

/* /proc, /sys and /dev are mount points for the runtime: directories. */
static int finish_api_dirs(struct extract *x, struct vs_error *err)
{
	static const struct {
		const char *name;
		mode_t mode;
	} api[] = {{"proc", 0555}, {"sys", 0555}, {"dev", 0755}};
	struct stat st;

	for (size_t k = 0; k < VS_ARRAY_SIZE(api); k++) {
		if (fstatat(x->rootfd, api[k].name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (!S_ISDIR(st.st_mode))
				return vs_error_kind(err, VS_EK_INVALID, "/%s is not a directory",
						     api[k].name);
			continue;
		}
		if (errno != ENOENT || mkdirat(x->rootfd, api[k].name, 0700) < 0 ||
		    fchmodat(x->rootfd, api[k].name, api[k].mode, 0) < 0)
			return vs_error_set(err, errno, "create /%s", api[k].name);
	}
	return 0;
}

static int extract_all(struct extract *x, struct vs_error *err)
{
	struct archive_entry *e;
	int r;

	while ((r = archive_read_next_header(x->a, &e)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN)
			return vs_error_kind(err, VS_EK_INVALID, "archive after %zu members: %s",
					     x->entries, archive_error_string(x->a));
		if ((int64_t)x->entries >= x->caps.max_files)
			return vs_error_kind(err, VS_EK_TOO_LARGE,
					     "archive has more than %lld members (vsd "
					     "--import-max-files)",
					     (long long)x->caps.max_files);
		r = extract_member(x, e, err);
		if (r < 0)
			return -1;
		if (r == 0 && ++x->entries % PROGRESS_EVERY == 0 && x->progress != NULL) {
			char line[64];
			snprintf(line, sizeof(line), "import: %zu members", x->entries);
			x->progress(x->ud, line);
		}
	}
	if (x->entries == 0)
		return vs_error_kind(err, VS_EK_INVALID, "archive has no members");
	if (finish_dirs(x, err) < 0 || (!x->opts->layer && finish_api_dirs(x, err) < 0))
		return -1;
	return 0;
}

int vs_fs_extract(struct archive *a, int rootfd, const struct vs_fs_extract_opts *opts,
		  vs_fs_progress_fn progress, void *ud, struct vs_error *err)
{
	static const struct vs_fs_extract_opts none = {0};
	struct extract x = {
	    .opts = opts != NULL ? opts : &none,
	    .a = a,
	    .rootfd = rootfd,
	    .as_root = geteuid() == 0,
	    .prefix = -1,
	    .progress = progress,
	    .ud = ud,
	    .caps = import_caps,
	};
	int rc = extract_all(&x, err);

	if (rc == 0 && progress != NULL) {
		char line[64];
		snprintf(line, sizeof(line), "import: %zu members extracted", x.entries);
		progress(ud, line);
	}
	for (size_t k = 0; k < x.ndirs; k++)
		free(x.dirs[k].path);
	free(x.dirs);
	return rc;
}

/* A reader for tar in the compressions libarchive decodes itself. Filters
 * that would make it run an external program (lrzip, lzop, grzip, ...)
 * are not enabled: ARCHIVE_WARN from a support call means exactly that. */
struct archive *vs_fs_archive_reader(int fd, struct vs_error *err)
{
	cleanup_archive struct archive *a = archive_read_new();
	int (*const filters[])(struct archive *) = {
	    archive_read_support_filter_gzip, archive_read_support_filter_bzip2,
	    archive_read_support_filter_xz,   archive_read_support_filter_lzma,
	    archive_read_support_filter_zstd,
	};

	if (a == NULL) {
		vs_error_set(err, ENOMEM, "archive reader");
		return NULL;
	}
	for (size_t k = 0; k < VS_ARRAY_SIZE(filters); k++)
		if (filters[k](a) != ARCHIVE_OK)
			return vs_error_kind(err, VS_EK_UNSUPPORTED,
					     "libarchive lacks a built-in decompressor"),
			       NULL;
	if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_open_fd(a, fd, 64 << 10) != ARCHIVE_OK) {
		vs_error_kind(err, VS_EK_INVALID, "not a readable archive: %s",
			      archive_error_string(a));
		return NULL;
	}
	return steal_ptr(&a);
}

int vs_fs_template_import(const char *root, const char *name, const char *archive_path,
			  vs_fs_progress_fn progress, void *ud, struct vs_error *err)
{
	cleanup_close int fd = -1;
	cleanup_archive struct archive *a = NULL;
	const char *slash = strrchr(archive_path, '/');
	struct vs_fs_stage st;
	char source[128];

	if (vs_validate_name(name, "template name", err) < 0)
		return -1;
	fd = open(archive_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return vs_error_set(err, errno, "import template '%s': open %s", name,
				    archive_path);
	a = vs_fs_archive_reader(fd, err);
	if (a == NULL)
		return vs_error_prefix(err, "import template '%s'", name);
	if (vs_fs_stage_begin(root, name, &st, err) < 0)
		return -1;
	snprintf(source, sizeof(source), "import:%s", slash ? slash + 1 : archive_path);
	if (vs_fs_extract(a, st.rootfsfd, NULL, progress, ud, err) < 0 ||
	    vs_fs_stage_commit(&st, source, err) < 0) {
		vs_fs_stage_abort(&st);
		return vs_error_prefix(err, "import template '%s'", name);
	}
	vs_fs_stage_release(&st);
	if (progress != NULL)
		progress(ud, "template ready");
	return 0;
}
