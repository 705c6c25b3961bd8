/* Tree walks over attacker-written trees: removal, size, unmounting our
 * own leftovers.
 *
 * A container layer holds files with mapped owners and symlinks made by
 * whoever ran inside it, so every step is fd-relative with O_NOFOLLOW, and
 * the walk refuses to enter another mount (a bind mount left by a crashed
 * runtime would otherwise have us delete the host's files behind it).
 * Only the current directory's fd is open: going up reopens ".." and checks
 * it is the directory we came from (dev + inode), so an arbitrarily deep
 * tree costs memory for its names, never the fd limit. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs-cow/fs-private.h"
#include "lib/vs_io.h"
#include "lib/vs_mountinfo.h"
#include "lib/vs_util.h"

struct level {
	dev_t dev;
	ino_t ino;
	char **subdirs; /* children to visit (directories or unknown type) */
	size_t n, i, cap;
	size_t path_len; /* strlen of the display path of this directory */
};

struct walker {
	const struct vs_fs_walk_ops *ops;
	void *ud;
	struct level *lv;
	size_t depth, cap; /* lv[0..depth] are live */
	char *path;
	size_t path_cap;
};

void vs_fs_printable(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	if (len == 0)
		return;
	for (; s != NULL && *s != '\0' && o + 1 < len && o < 200; s++)
		buf[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	buf[o] = '\0';
}

/* The display path of `child` inside the directory at the current depth. */
static void path_set(struct walker *w, const char *child)
{
	size_t base = w->lv[w->depth].path_len, clen = strlen(child);

	if (base + clen + 2 > w->path_cap) {
		w->path_cap = (base + clen + 2) * 2;
		w->path = xrealloc(w->path, w->path_cap);
	}
	w->path[base] = '/';
	memcpy(w->path + base + 1, child, clen + 1);
}

static void level_clear(struct level *l)
{
	for (size_t k = 0; k < l->n; k++)
		free(l->subdirs[k]);
	free(l->subdirs);
	memset(l, 0, sizeof(*l));
}

static void walker_free(struct walker *w)
{
	if (w->lv != NULL)
		for (size_t k = 0; k <= w->depth; k++)
			level_clear(&w->lv[k]);
	free(w->lv);
	free(w->path);
}

/* 0 and *out for a directory; 1 when name is not a directory (or is a
 * symlink: O_NOFOLLOW gives ELOOP); 2 when it is gone; -1 otherwise. */
static int open_subdir(int dirfd, const char *name, int *out)
{
	/* O_DIRECTORY is checked before the open proper, so a fifo never blocks. */
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0) {
		*out = fd;
		return 0;
	}
	if (errno == ENOTDIR || errno == ELOOP)
		return 1;
	if (errno == ENOENT)
		return 2;
	return -1;
}

/* Refuse a directory that is the root of a mount, or on another device
 * than its parent (parent_dev == 0: no parent to compare with). */
static int check_mount(int fd, dev_t parent_dev, const char *path, struct stat *st,
		       struct vs_error *err)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
		return vs_error_set(err, errno, "stat %s", path);
	memset(st, 0, sizeof(*st));
	st->st_dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	st->st_ino = stx.stx_ino;
	if ((stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	    (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
		return vs_error_set(err, EBUSY, "refusing to enter mount point %s", path);
	if (parent_dev != 0 && st->st_dev != parent_dev)
		return vs_error_set(err, EBUSY, "refusing to enter other filesystem at %s", path);
	return 0;
}

static void push_subdir(struct level *l, const char *name)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->subdirs = xrealloc(l->subdirs, l->cap * sizeof(*l->subdirs));
	}
	l->subdirs[l->n++] = xstrdup(name);
}

/* Read the directory open as fd (the current level) completely before
 * changing it, hand non-directories to ops->file and remember the rest. */
static int scan(struct walker *w, int fd, struct vs_error *err)
{
	struct level *l = &w->lv[w->depth];
	cleanup_dir DIR *d = NULL;
	cleanup_free char *types = NULL;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0), rc = 0;

	if (dfd < 0 || lseek(dfd, 0, SEEK_SET) < 0 || (d = fdopendir(dfd)) == NULL) {
		int e = errno;
		if (dfd >= 0 && d == NULL)
			close(dfd);
		return vs_error_set(err, e, "open directory %s", w->path);
	}
	for (errno = 0; (de = readdir(d)) != NULL; errno = 0) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = xrealloc(names, cap * sizeof(*names));
			types = xrealloc(types, cap);
		}
		types[n] = (char)de->d_type;
		names[n++] = xstrdup(de->d_name);
	}
	if (errno != 0)
		rc = vs_error_set(err, errno, "read directory %s", w->path);
	for (size_t k = 0; k < n; k++) {
		if (rc == 0 && (types[k] == DT_DIR || types[k] == DT_UNKNOWN)) {
			push_subdir(l, names[k]);
		} else if (rc == 0) {
			path_set(w, names[k]);
			rc = w->ops->file(fd, names[k], w->path, w->ud, err);
		}
		free(names[k]);
	}
	free(names);
	return rc;
}

/* Enter child (a directory or unknown) of the current level: *fd becomes
 * the child's fd. Returns 1 when it was handled without descending. */
static int descend(struct walker *w, int *fd, const char *child, struct vs_error *err)
{
	struct level *l = &w->lv[w->depth];
	cleanup_close int cfd = -1;
	struct stat st;
	int r;

	path_set(w, child);
	r = open_subdir(*fd, child, &cfd);
	if (r == 2)
		return 1;
	if (r == 1)
		return w->ops->file(*fd, child, w->path, w->ud, err) < 0 ? -1 : 1;
	if (r < 0)
		return vs_error_set(err, errno, "open %s", w->path);
	if (check_mount(cfd, l->dev, w->path, &st, err) < 0)
		return -1;
	if (w->depth + 1 == w->cap) {
		w->cap *= 2;
		w->lv = xrealloc(w->lv, w->cap * sizeof(*w->lv));
	}
	w->depth++;
	memset(&w->lv[w->depth], 0, sizeof(w->lv[0]));
	w->lv[w->depth].dev = st.st_dev;
	w->lv[w->depth].ino = st.st_ino;
	w->lv[w->depth].path_len = strlen(w->path);
	close(*fd);
	*fd = steal_fd(&cfd);
	return scan(w, *fd, err);
}

/* Leave the finished current level for its parent, reopened through "..". */
static int ascend(struct walker *w, int *fd, struct vs_error *err)
{
	struct level *p = &w->lv[w->depth - 1];
	cleanup_close int pfd = openat(*fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	const char *child;

	if (pfd < 0 || fstat(pfd, &st) < 0)
		return vs_error_set(err, errno, "open parent of %s", w->path);
	/* Someone moved a directory while we were inside it: stop rather than
	 * continue somewhere we did not choose. */
	if (st.st_dev != p->dev || st.st_ino != p->ino)
		return vs_error_set(err, ESTALE, "%s was moved during the walk", w->path);
	level_clear(&w->lv[w->depth]);
	w->depth--;
	close(*fd);
	*fd = steal_fd(&pfd);
	child = p->subdirs[p->i - 1];
	path_set(w, child);
	return w->ops->dir(*fd, child, w->path, w->ud, err);
}

static int walk_loop(struct walker *w, int *fd, struct vs_error *err)
{
	if (scan(w, *fd, err) < 0)
		return -1;
	for (;;) {
		struct level *l = &w->lv[w->depth];
		if (l->i < l->n) {
			if (descend(w, fd, l->subdirs[l->i++], err) < 0)
				return -1;
			continue;
		}
		if (w->depth == 0)
			return 0;
		if (ascend(w, fd, err) < 0)
			return -1;
	}
}

int vs_fs_walk(int dirfd, const char *name, const struct vs_fs_walk_ops *ops, void *ud,
	       struct vs_error *err)
{
	struct walker w = {.ops = ops, .ud = ud};
	cleanup_close int fd = -1;
	struct stat st;
	int r = open_subdir(dirfd, name, &fd), rc;

	if (r == 2)
		return 1;
	if (r == 1)
		return ops->file(dirfd, name, name, ud, err);
	if (r < 0)
		return vs_error_set(err, errno, "open %s", name);
	if (check_mount(fd, 0, name, &st, err) < 0)
		return -1;
	w.cap = 16;
	w.lv = xcalloc(w.cap, sizeof(*w.lv));
	w.lv[0].dev = st.st_dev;
	w.lv[0].ino = st.st_ino;
	w.lv[0].path_len = strlen(name);
	w.path_cap = w.lv[0].path_len + 256;
	w.path = xmalloc(w.path_cap);
	memcpy(w.path, name, w.lv[0].path_len + 1);
	rc = walk_loop(&w, &fd, err);
	walker_free(&w);
	if (rc < 0)
		return -1;
	vs_closep(&fd);
	return ops->dir(dirfd, name, name, ud, err);
}

void vs_fs_inoset_free(struct vs_fs_inoset *s)
{
	free(s->seen);
	memset(s, 0, sizeof(*s));
}

bool vs_fs_inoset_add(struct vs_fs_inoset *s, ino_t ino)
{
	size_t k;

	if (2 * (s->n + 1) > s->cap) {
		struct vs_fs_inoset b = {.cap = s->cap ? s->cap * 2 : 256};
		b.seen = xcalloc(b.cap, sizeof(ino_t));
		for (k = 0; k < s->cap; k++)
			if (s->seen[k] != 0)
				vs_fs_inoset_add(&b, s->seen[k]);
		free(s->seen);
		s->seen = b.seen;
		s->cap = b.cap;
	}
	for (k = (size_t)ino * 0x9E3779B97F4A7C15ULL & (s->cap - 1); s->seen[k] != 0;
	     k = (k + 1) & (s->cap - 1))
		if (s->seen[k] == ino)
			return true;
	s->seen[k] = ino;
	s->n++;
	return false;
}

struct size_acc {
	int64_t bytes;
	struct vs_fs_inoset links; /* inodes with more than one link already counted */
};

static int size_entry(int dirfd, const char *name, const char *path, void *ud, struct vs_error *err)
{
	struct size_acc *a = ud;
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return vs_error_set(err, errno, "stat %s", path);
	/* Inode 0 is not a real inode number anywhere we walk; keep it as the
	 * table's empty marker. */
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && st.st_ino != 0 &&
	    vs_fs_inoset_add(&a->links, st.st_ino))
		return 0;
	a->bytes += st.st_size;
	return 0;
}

int vs_fs_tree_size(int dirfd, int64_t *bytes, struct vs_error *err)
{
	static const struct vs_fs_walk_ops ops = {.file = size_entry, .dir = size_entry};
	struct size_acc a = {0};
	int r = vs_fs_walk(dirfd, ".", &ops, &a, err);

	vs_fs_inoset_free(&a.links);
	if (r != 0)
		return r > 0 ? vs_error_set(err, ENOENT, "measure tree") : -1;
	*bytes = a.bytes;
	return 0;
}

struct changed_acc {
	struct timespec since;
	size_t max, count;
	char *buf;
	size_t len, cap;
};

static void changed_put(struct changed_acc *a, char c)
{
	if (a->len == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 4096;
		a->buf = xrealloc(a->buf, a->cap);
	}
	a->buf[a->len++] = c;
}

static int changed_entry(int dirfd, const char *name, const char *path, void *ud,
			 struct vs_error *err)
{
	struct changed_acc *a = ud;
	bool wild = strpbrk(path, "*?[") != NULL;
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return vs_error_set(err, errno, "stat %s", path);
	if (st.st_ctim.tv_sec < a->since.tv_sec ||
	    (st.st_ctim.tv_sec == a->since.tv_sec && st.st_ctim.tv_nsec < a->since.tv_nsec))
		return 0;
	if (++a->count > a->max)
		return 0; /* counted, not listed: the caller is told */
	/* path is "./..." from vs_fs_walk(dirfd, "."): the rule is "/...",
	 * anchored at the transfer's top. rsync reads a backslash as an
	 * escape only in a pattern with a wildcard character. */
	for (const char *p = path + 1; *p != '\0'; p++) {
		if (wild && strchr("*?[\\", *p) != NULL)
			changed_put(a, '\\');
		changed_put(a, *p);
	}
	changed_put(a, '\0');
	return 0;
}

static int changed_dir(int dirfd, const char *name, const char *path, void *ud,
		       struct vs_error *err)
{
	(void)dirfd, (void)name, (void)path, (void)ud, (void)err;
	return 0;
}

int vs_fs_changed_since(int dirfd, const struct timespec *since, size_t max, char **list,
			size_t *len, size_t *count, struct vs_error *err)
{
	static const struct vs_fs_walk_ops ops = {.file = changed_entry, .dir = changed_dir};
	struct changed_acc a = {.since = *since, .max = max};
	int r = vs_fs_walk(dirfd, ".", &ops, &a, err);

	*list = NULL;
	*len = 0;
	*count = a.count;
	if (r != 0 || a.count > max) {
		free(a.buf);
		if (r < 0)
			return -1;
		if (a.count > max)
			return 1;
		return vs_error_set(err, ENOENT, "list changed files");
	}
	*list = a.buf;
	*len = a.len;
	return 0;
}

static int cmp_longer_first(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

	return la < lb ? 1 : la > lb ? -1 : 0;
}

/* Mount points at or below base, collected from mountinfo. */
struct under {
	const char *base;
	size_t blen, n, cap;
	char **v;
};

static int collect_under(const struct vs_mount *m, void *ud, struct vs_error *err)
{
	struct under *u = ud;
	const char *f = m->target;

	if (strncmp(f, u->base, u->blen) != 0 || (f[u->blen] != '\0' && f[u->blen] != '/'))
		return 0;
	if (u->n == u->cap) {
		u->cap = u->cap ? u->cap * 2 : 8;
		u->v = xrealloc(u->v, u->cap * sizeof(*u->v));
	}
	u->v[u->n++] = xstrdup(f);
	return 0;
}

/* Mount points at or below the directory open as fd, in our namespace, or
 * NULL on error. */
static char **mounts_below_fd(int fd, size_t *n, struct vs_error *err)
{
	char link[64], base[PATH_MAX];
	struct under u = {.base = base};
	ssize_t len;

	/* The kernel's name for the directory is what mountinfo shows. */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	len = readlink(link, base, sizeof(base) - 1);
	if (len < 0) {
		vs_error_set(err, errno, "readlink %s", link);
		return NULL;
	}
	base[len] = '\0';
	u.blen = (size_t)len;
	if (vs_mountinfo_read("/proc/self/mountinfo", 64 << 20, collect_under, &u, err) < 0) {
		for (size_t k = 0; k < u.n; k++)
			free(u.v[k]);
		free(u.v);
		return NULL;
	}
	*n = u.n;
	return u.v != NULL ? u.v : xcalloc(1, sizeof(*u.v));
}

static int rm_file(int dirfd, const char *name, const char *path, void *ud, struct vs_error *err)
{
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return vs_error_set(err, errno, "remove %s", path);
	return 0;
}

static int rm_dir(int dirfd, const char *name, const char *path, void *ud, struct vs_error *err)
{
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return vs_error_set(err, errno, "remove directory %s", path);
	return 0;
}

/* Refuse before deleting anything when a mount sits anywhere below: the
 * walk's own check would only stop at the mount, after removing whatever
 * came earlier (say a container's upper/ while its rootfs/ is mounted). */
static int check_no_mounts(int dirfd, const char *name, struct vs_error *err)
{
	cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char **mps;
	size_t n = 0;
	int rc = 0;

	if (fd < 0)
		return 0; /* not a directory (or gone): the walk handles it */
	mps = mounts_below_fd(fd, &n, err);
	if (mps == NULL)
		return -1;
	if (n > 0)
		rc = vs_error_set(err, EBUSY, "refusing to remove %s: %s is a mount point", name,
				  mps[0]);
	for (size_t k = 0; k < n; k++)
		free(mps[k]);
	free(mps);
	return rc;
}

int vs_fs_remove_tree(int dirfd, const char *name, struct vs_error *err)
{
	static const struct vs_fs_walk_ops ops = {.file = rm_file, .dir = rm_dir};

	if (check_no_mounts(dirfd, name, err) < 0)
		return -1;
	return vs_fs_walk(dirfd, name, &ops, NULL, err) < 0 ? -1 : 0;
}

int vs_fs_unmount_under(int dirfd, struct vs_error *err)
{
	char **mps;
	size_t n;
	int rc = 0;

	mps = mounts_below_fd(dirfd, &n, err);
	if (mps == NULL)
		return -1;
	qsort(mps, n, sizeof(*mps), cmp_longer_first);
	for (size_t k = 0; k < n; k++) {
		/* EINVAL/ENOENT: already gone with a parent detached before. */
		if (rc == 0 && umount2(mps[k], MNT_DETACH | UMOUNT_NOFOLLOW) < 0 &&
		    errno != EINVAL && errno != ENOENT)
			rc = vs_error_set(err, errno, "unmount %s", mps[k]);
		free(mps[k]);
	}
	free(mps);
	return rc;
}
