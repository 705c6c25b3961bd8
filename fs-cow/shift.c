/* Moving a container's own layer to another id range (vs_fs_layer_shift).
 *
 * The template is id-mapped at mount time, but upper/ stores host ids: the
 * container's root is its idmap_uid on disk. A container that migrates to
 * a node where its range is taken gets another one there, and its layer's
 * owners, ACL entries and file capability roots must move with it.
 *
 * The layer was written by whoever ran inside the container, so the walk
 * is vs_fs_walk's (fd-relative, O_NOFOLLOW, no mount entered), and every
 * change is made through an O_PATH descriptor of the inode found, never
 * through a name looked up again: fchownat(AT_EMPTY_PATH) for the owner,
 * /proc/self/fd/N (the magic link leads to that very inode) for xattrs and
 * modes, which O_PATH descriptors refuse directly. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs-cow/fs-private.h"
#include "lib/vs_util.h"

#define XATTR_MAX (64 << 10)

/* The xattrs that carry ids. trusted.overlay.* carry none and stay. */
static const char *const id_xattrs[] = {
    "system.posix_acl_access",
    "system.posix_acl_default",
    "security.capability",
};
#define N_XATTRS VS_ARRAY_SIZE(id_xattrs)

struct shifter {
	uint32_t from, to, count;
	bool apply; /* false: the checking pass, nothing is changed */
	struct vs_fs_inoset links;
};

struct xvals {
	void *val[N_XATTRS];
	ssize_t len[N_XATTRS]; /* -1: absent */
};

static void xvals_free(struct xvals *x)
{
	for (size_t k = 0; k < N_XATTRS; k++)
		free(x->val[k]);
}

static bool in_range(const struct shifter *s, uint32_t id)
{
	return id >= s->from && id - s->from < s->count;
}

/* "/" for the layer's root, "/a/b" for "./a/b", printable. */
static void display(const char *path, char *buf, size_t len)
{
	if (strcmp(path, ".") == 0)
		path = "/";
	else if (strncmp(path, "./", 2) == 0)
		path++;
	vs_fs_printable(path, buf, len);
}

/* Whether the names listed (NUL-separated) hold `name`. */
static bool listed(const char *names, ssize_t len, const char *name)
{
	for (const char *p = names; p < names + len; p += strlen(p) + 1)
		if (strcmp(p, name) == 0)
			return true;
	return false;
}

/* Read and remap (in memory) the id xattrs of the inode at proc. One
 * listxattr first: most inodes have none, and three failing getxattr
 * calls through /proc cost more than the chown itself. */
static int xattrs_remap(const struct shifter *s, const char *proc, const char *shown,
			struct xvals *x, struct vs_error *err)
{
	cleanup_free char *names = NULL;
	ssize_t nlen = listxattr(proc, NULL, 0);

	for (size_t k = 0; k < N_XATTRS; k++)
		x->len[k] = -1;
	if (nlen < 0 && errno == EOPNOTSUPP)
		return 0;
	if (nlen < 0)
		return vs_error_set(err, errno, "layer %s: list xattrs", shown);
	if (nlen == 0)
		return 0;
	names = xmalloc((size_t)nlen + 1);
	nlen = listxattr(proc, names, (size_t)nlen);
	if (nlen < 0) /* ERANGE: one was added meanwhile; nobody runs in a layer we shift */
		return vs_error_set(err, errno, "layer %s: list xattrs", shown);
	for (size_t k = 0; k < N_XATTRS; k++) {
		cleanup_free void *buf = NULL;
		ssize_t n;
		int r;

		if (!listed(names, nlen, id_xattrs[k]))
			continue;
		buf = xmalloc(XATTR_MAX);
		n = getxattr(proc, id_xattrs[k], buf, XATTR_MAX);
		if (n < 0 && errno == ENODATA)
			continue;
		if (n < 0)
			return vs_error_set(err, errno, "layer %s: read %s", shown, id_xattrs[k]);
		r = vs_fs_xattr_remap(id_xattrs[k], buf, (size_t)n, s->from, s->to, s->count);
		if (r == -2)
			return vs_error_kind(err, VS_EK_INVALID,
					     "layer %s: %s names an id outside the id range %u-%u",
					     shown, id_xattrs[k], s->from, s->from + s->count - 1);
		if (r < 0)
			return vs_error_kind(err, VS_EK_INVALID, "layer %s: malformed %s", shown,
					     id_xattrs[k]);
		x->val[k] = steal_ptr(&buf);
		x->len[k] = n;
	}
	return 0;
}

/* The kernel drops setuid/setgid (non-directories) and security.capability
 * on chown, whoever calls it: the xattrs are written after the chown, and
 * the mode last (setting an access ACL rewrites the group bits from it,
 * and chmod keeps the ACL's mask in step). */
static int apply(const struct shifter *s, int fd, const struct statx *stx, const char *proc,
		 const struct xvals *x, const char *shown, struct vs_error *err)
{
	uid_t uid = stx->stx_uid - s->from + s->to;
	gid_t gid = stx->stx_gid - s->from + s->to;

	if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return vs_error_set(err, errno, "layer %s: chown to %u:%u", shown, uid, gid);
	if (S_ISLNK(stx->stx_mode))
		return 0;
	for (size_t k = 0; k < N_XATTRS; k++)
		if (x->len[k] >= 0 &&
		    setxattr(proc, id_xattrs[k], x->val[k], (size_t)x->len[k], 0) < 0)
			return vs_error_set(err, errno, "layer %s: write %s", shown, id_xattrs[k]);
	if ((stx->stx_mode & (S_ISUID | S_ISGID)) && chmod(proc, stx->stx_mode & 07777) < 0)
		return vs_error_set(err, errno, "layer %s: restore mode %04o", shown,
				    stx->stx_mode & 07777);
	return 0;
}

static int shift_inode(int dirfd, const char *name, const char *path, void *ud,
		       struct vs_error *err)
{
	struct shifter *s = ud;
	cleanup_close int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct xvals x = {0};
	struct statx stx;
	char shown[256], proc[64];
	int rc;

	display(path, shown, sizeof(shown));
	if (fd < 0 ||
	    statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
		return vs_error_set(err, errno, "layer %s: open", shown);
	/* A file bind-mounted over a layer file (the walk checks directories). */
	if ((stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	    (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) && strcmp(path, ".") != 0)
		return vs_error_set(err, EBUSY, "layer %s: refusing a mount point", shown);
	/* overlayfs makes whiteouts with the mounter's credentials (host
	 * root), often as links of one inode; their owner is never seen. */
	if (S_ISCHR(stx.stx_mode) && stx.stx_rdev_major == 0 && stx.stx_rdev_minor == 0)
		return 0;
	if (!S_ISDIR(stx.stx_mode) && stx.stx_nlink > 1 && stx.stx_ino != 0 &&
	    vs_fs_inoset_add(&s->links, stx.stx_ino))
		return 0;
	if (!in_range(s, stx.stx_uid) || !in_range(s, stx.stx_gid))
		return vs_error_kind(err, VS_EK_INVALID,
				     "layer %s: owner %u:%u is outside the id range %u-%u", shown,
				     stx.stx_uid, stx.stx_gid, s->from, s->from + s->count - 1);
	/* xattrs of a symlink itself are not reachable through /proc (the
	 * magic link is followed) and cannot be ACLs or capabilities. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	rc = S_ISLNK(stx.stx_mode) ? 0 : xattrs_remap(s, proc, shown, &x, err);
	if (rc == 0 && s->apply)
		rc = apply(s, fd, &stx, proc, &x, shown, err);
	xvals_free(&x);
	return rc;
}

static int pass(int dirfd, struct shifter *s, struct vs_error *err)
{
	static const struct vs_fs_walk_ops ops = {.file = shift_inode, .dir = shift_inode};
	int r = vs_fs_walk(dirfd, ".", &ops, s, err);

	vs_fs_inoset_free(&s->links);
	return r < 0 ? -1 : 0;
}

int vs_fs_layer_shift(int dirfd, uint32_t from, uint32_t to, uint32_t count, struct vs_error *err)
{
	struct shifter s = {.from = from, .to = to, .count = count};

	/* (uid_t)-1 means "unchanged" to chown, so no range may reach it. */
	if (count == 0 || (uint64_t)from + count > UINT32_MAX || (uint64_t)to + count > UINT32_MAX)
		return vs_error_kind(err, VS_EK_INVALID, "id range shift %u -> %u x %u: bad range",
				     from, to, count);
	if (pass(dirfd, &s, err) < 0)
		return -1;
	if (from == to)
		return 0;
	s.apply = true;
	return pass(dirfd, &s, err);
}
