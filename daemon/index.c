/* The container index: every container's parsed config.json, kept in
 * memory so that a list of 1,000 containers does not parse 1,000 files.
 *
 * An entry is served only while the files on disk are the very ones it was
 * parsed from: the container directory (device, inode) and config.json
 * (device, inode, size, mtime, ctime), checked with two fstatat per use.
 * The daemon writes configs atomically (a new inode each time), and an
 * edit in place changes ctime, which no one can set back. What is left is
 * the timestamps' granularity: a file changed twice within one tick, the
 * second time to the same size, looks unchanged. So, like git's "racy
 * clean" rule, a file whose ctime or mtime is younger than `racy_ms` when it
 * is read is not kept: the next use parses it again, until it has aged. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon/store.h"
#include "lib/vs_util.h"

struct file_key {
	dev_t dir_dev;
	ino_t dir_ino;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

struct entry {
	char *name;
	struct file_key key;
	struct vs_container_config cfg;
};

struct vsd_index {
	pthread_mutex_t lock;
	int64_t racy_ms;
	struct entry **v; /* sorted by name */
	size_t n, cap;
	uint64_t hits, parses;
};

struct vsd_index *vsd_index_new(int64_t racy_ms)
{
	struct vsd_index *ix = xcalloc(1, sizeof(*ix));

	pthread_mutex_init(&ix->lock, NULL);
	ix->racy_ms = racy_ms;
	return ix;
}

static void entry_free(struct entry *e)
{
	if (e == NULL)
		return;
	vs_config_free(&e->cfg);
	free(e->name);
	free(e);
}

void vsd_index_free(struct vsd_index *ix)
{
	if (ix == NULL)
		return;
	for (size_t i = 0; i < ix->n; i++)
		entry_free(ix->v[i]);
	free(ix->v);
	pthread_mutex_destroy(&ix->lock);
	free(ix);
}

/* The slot of name: its index if present (*found), else where it goes. */
static size_t slot(const struct vsd_index *ix, const char *name, bool *found)
{
	size_t lo = 0, hi = ix->n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(ix->v[mid]->name, name);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void drop_at(struct vsd_index *ix, size_t i)
{
	entry_free(ix->v[i]);
	memmove(&ix->v[i], &ix->v[i + 1], (ix->n - i - 1) * sizeof(ix->v[0]));
	ix->n--;
}

/* The key of containers/NAME and its config.json; false when either is
 * missing, the directory is not one (a symlink), or config.json is not a
 * regular file (a symlink's target could change under an unchanged link). */
static bool stat_key(int containers_fd, const char *name, struct file_key *k)
{
	cleanup_free char *path = xasprintf("%s/config.json", name);
	struct stat d, f;

	if (fstatat(containers_fd, name, &d, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(d.st_mode) ||
	    fstatat(containers_fd, path, &f, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(f.st_mode))
		return false;
	memset(k, 0, sizeof(*k));
	k->dir_dev = d.st_dev;
	k->dir_ino = d.st_ino;
	k->dev = f.st_dev;
	k->ino = f.st_ino;
	k->size = f.st_size;
	k->mtime = f.st_mtim;
	k->ctime = f.st_ctim;
	return true;
}

static bool same_time(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static bool same_key(const struct file_key *a, const struct file_key *b)
{
	return a->dir_dev == b->dir_dev && a->dir_ino == b->dir_ino && a->dev == b->dev &&
	       a->ino == b->ino && a->size == b->size && same_time(a->mtime, b->mtime) &&
	       same_time(a->ctime, b->ctime);
}

static int64_t ts_ms(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Old enough that a later change would show in the key (see the top). */
static bool settled(const struct vsd_index *ix, const struct file_key *k)
{
	struct timespec now;
	int64_t newest = ts_ms(k->ctime) > ts_ms(k->mtime) ? ts_ms(k->ctime) : ts_ms(k->mtime);

	clock_gettime(CLOCK_REALTIME, &now);
	return ts_ms(now) - newest >= ix->racy_ms;
}

static void copy_config(struct vs_container_config *dst, const struct vs_container_config *src)
{
	*dst = *src;
	dst->init = src->init != NULL ? vs_strv_dup(src->init) : NULL;
}

/* Keep cfg (a copy) for name under key k, replacing an older entry. */
static void store(struct vsd_index *ix, const char *name, const struct file_key *k,
		  const struct vs_container_config *cfg)
{
	bool found;
	size_t i = slot(ix, name, &found);
	struct entry *e;

	if (found) {
		e = ix->v[i];
		vs_config_free(&e->cfg);
	} else {
		if (ix->n == ix->cap) {
			ix->cap = ix->cap ? ix->cap * 2 : 64;
			ix->v = xrealloc(ix->v, ix->cap * sizeof(ix->v[0]));
		}
		memmove(&ix->v[i + 1], &ix->v[i], (ix->n - i) * sizeof(ix->v[0]));
		e = xcalloc(1, sizeof(*e));
		e->name = xstrdup(name);
		ix->v[i] = e;
		ix->n++;
	}
	e->key = *k;
	copy_config(&e->cfg, cfg);
}

/* A copy of name's entry if its key is k. */
static bool lookup(struct vsd_index *ix, const char *name, const struct file_key *k,
		   struct vs_container_config *cfg)
{
	bool found, hit = false;
	size_t i;

	pthread_mutex_lock(&ix->lock);
	i = slot(ix, name, &found);
	if (found && same_key(&ix->v[i]->key, k)) {
		copy_config(cfg, &ix->v[i]->cfg);
		ix->hits++;
		hit = true;
	} else if (found) {
		drop_at(ix, i);
	}
	pthread_mutex_unlock(&ix->lock);
	return hit;
}

int vsd_index_load(struct vsd_index *ix, int containers_fd, const char *name,
		   struct vs_container_config *cfg, struct vs_error *err)
{
	struct file_key before, after;
	bool have = false;

	if (ix == NULL)
		return vsd_store_load(containers_fd, name, cfg, err);
	have = stat_key(containers_fd, name, &before);
	if (have && lookup(ix, name, &before, cfg))
		return 0;
	if (!have)
		vsd_index_forget(ix, name);
	/* The store's own reading: its errors are the index's. */
	if (vsd_store_load(containers_fd, name, cfg, err) < 0)
		return -1;
	pthread_mutex_lock(&ix->lock);
	ix->parses++;
	/* Kept only when nothing changed while it was read. */
	if (have && stat_key(containers_fd, name, &after) && same_key(&before, &after) &&
	    settled(ix, &after))
		store(ix, name, &after, cfg);
	pthread_mutex_unlock(&ix->lock);
	return 0;
}

void vsd_index_forget(struct vsd_index *ix, const char *name)
{
	bool found;
	size_t i;

	if (ix == NULL)
		return;
	pthread_mutex_lock(&ix->lock);
	i = slot(ix, name, &found);
	if (found)
		drop_at(ix, i);
	pthread_mutex_unlock(&ix->lock);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void vsd_index_retain(struct vsd_index *ix, char *const *names)
{
	size_t n = vs_strv_len(names);

	if (ix == NULL)
		return;
	pthread_mutex_lock(&ix->lock);
	for (size_t i = ix->n; i-- > 0;) {
		const char *key = ix->v[i]->name;
		if (bsearch(&key, names, n, sizeof(names[0]), cmp_name) == NULL)
			drop_at(ix, i);
	}
	pthread_mutex_unlock(&ix->lock);
}

void vsd_index_counts(struct vsd_index *ix, size_t *entries, uint64_t *hits, uint64_t *parses)
{
	pthread_mutex_lock(&ix->lock);
	*entries = ix->n;
	*hits = ix->hits;
	*parses = ix->parses;
	pthread_mutex_unlock(&ix->lock);
}
