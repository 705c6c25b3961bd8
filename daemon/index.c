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

/* ---- pinned files ------------------------------------------------------ */

int vsd_fkey_at(int dirfd, const char *path, int flags, struct vsd_fkey *k, mode_t *mode)
{
	struct stat st;

	memset(k, 0, sizeof(*k));
	if (fstatat(dirfd, path, &st, flags) < 0)
		return -errno;
	k->dev = st.st_dev;
	k->ino = st.st_ino;
	k->size = st.st_size;
	k->mtime = st.st_mtim;
	k->ctime = st.st_ctim;
	*mode = st.st_mode;
	return 0;
}

static bool same_time(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

bool vsd_fkey_same(const struct vsd_fkey *a, const struct vsd_fkey *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       same_time(a->mtime, b->mtime) && same_time(a->ctime, b->ctime);
}

static int64_t ts_ms(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

bool vsd_fkey_settled(const struct vsd_fkey *k, int64_t racy_ms)
{
	struct timespec now;
	int64_t newest = ts_ms(k->ctime) > ts_ms(k->mtime) ? ts_ms(k->ctime) : ts_ms(k->mtime);

	clock_gettime(CLOCK_REALTIME, &now);
	return ts_ms(now) - newest >= racy_ms;
}

/* ---- the name table ----------------------------------------------------- */

/* The slot of name: its index if present (*found), else where it goes. */
static size_t slot(const struct vsd_ntab *t, const char *name, bool *found)
{
	size_t lo = 0, hi = t->n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(t->v[mid].name, name);
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

static void drop_at(struct vsd_ntab *t, size_t i)
{
	t->free_val(t->v[i].val);
	free(t->v[i].name);
	memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(t->v[0]));
	t->n--;
}

void *vsd_ntab_get(const struct vsd_ntab *t, const char *name)
{
	bool found;
	size_t i = slot(t, name, &found);

	return found ? t->v[i].val : NULL;
}

void vsd_ntab_put(struct vsd_ntab *t, const char *name, void *val)
{
	bool found;
	size_t i = slot(t, name, &found);

	if (found) {
		t->free_val(t->v[i].val);
		t->v[i].val = val;
		return;
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->v = xrealloc(t->v, t->cap * sizeof(t->v[0]));
	}
	memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof(t->v[0]));
	t->v[i] = (struct vsd_nent){.name = xstrdup(name), .val = val};
	t->n++;
}

void vsd_ntab_del(struct vsd_ntab *t, const char *name)
{
	bool found;
	size_t i = slot(t, name, &found);

	if (found)
		drop_at(t, i);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void vsd_ntab_retain(struct vsd_ntab *t, char *const *names)
{
	size_t n = vs_strv_len(names);

	for (size_t i = t->n; i-- > 0;) {
		const char *key = t->v[i].name;
		if (bsearch(&key, names, n, sizeof(names[0]), cmp_name) == NULL)
			drop_at(t, i);
	}
}

void vsd_ntab_clear(struct vsd_ntab *t)
{
	while (t->n > 0)
		drop_at(t, t->n - 1);
	free(t->v);
	t->v = NULL;
	t->cap = 0;
}

/* ---- the index ---------------------------------------------------------- */

/* containers/NAME (not followed) and its config.json. */
struct cfg_key {
	struct vsd_fkey dir, file;
};

struct entry {
	struct cfg_key key;
	struct vs_container_config cfg;
};

struct vsd_index {
	pthread_mutex_t lock;
	int64_t racy_ms;
	struct vsd_ntab tab; /* of struct entry */
	uint64_t hits, parses;
};

static void entry_free(void *p)
{
	struct entry *e = p;

	vs_config_free(&e->cfg);
	free(e);
}

struct vsd_index *vsd_index_new(int64_t racy_ms)
{
	struct vsd_index *ix = xcalloc(1, sizeof(*ix));

	pthread_mutex_init(&ix->lock, NULL);
	ix->racy_ms = racy_ms;
	ix->tab.free_val = entry_free;
	return ix;
}

void vsd_index_free(struct vsd_index *ix)
{
	if (ix == NULL)
		return;
	vsd_ntab_clear(&ix->tab);
	pthread_mutex_destroy(&ix->lock);
	free(ix);
}

/* The key of containers/NAME and its config.json; false when either is
 * missing, the directory is not one (a symlink), or config.json is not a
 * regular file (a symlink's target could change under an unchanged link). */
static bool stat_key(int containers_fd, const char *name, struct cfg_key *k)
{
	cleanup_free char *path = xasprintf("%s/config.json", name);
	mode_t dm, fm;

	return vsd_fkey_at(containers_fd, name, AT_SYMLINK_NOFOLLOW, &k->dir, &dm) == 0 &&
	       S_ISDIR(dm) &&
	       vsd_fkey_at(containers_fd, path, AT_SYMLINK_NOFOLLOW, &k->file, &fm) == 0 &&
	       S_ISREG(fm);
}

static bool same_key(const struct cfg_key *a, const struct cfg_key *b)
{
	return a->dir.dev == b->dir.dev && a->dir.ino == b->dir.ino &&
	       vsd_fkey_same(&a->file, &b->file);
}

static void copy_config(struct vs_container_config *dst, const struct vs_container_config *src)
{
	*dst = *src;
	dst->init = src->init != NULL ? vs_strv_dup(src->init) : NULL;
}

/* A copy of name's entry if its key is k; an entry of another key goes. */
static bool lookup(struct vsd_index *ix, const char *name, const struct cfg_key *k,
		   struct vs_container_config *cfg)
{
	struct entry *e;
	bool hit = false;

	pthread_mutex_lock(&ix->lock);
	e = vsd_ntab_get(&ix->tab, name);
	if (e != NULL && same_key(&e->key, k)) {
		copy_config(cfg, &e->cfg);
		ix->hits++;
		hit = true;
	} else if (e != NULL) {
		vsd_ntab_del(&ix->tab, name);
	}
	pthread_mutex_unlock(&ix->lock);
	return hit;
}

int vsd_index_load(struct vsd_index *ix, int containers_fd, const char *name,
		   struct vs_container_config *cfg, struct vs_error *err)
{
	struct cfg_key before, after;
	bool have;

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
	    vsd_fkey_settled(&after.file, ix->racy_ms)) {
		struct entry *e = xcalloc(1, sizeof(*e));
		e->key = after;
		copy_config(&e->cfg, cfg);
		vsd_ntab_put(&ix->tab, name, e);
	}
	pthread_mutex_unlock(&ix->lock);
	return 0;
}

void vsd_index_forget(struct vsd_index *ix, const char *name)
{
	if (ix == NULL)
		return;
	pthread_mutex_lock(&ix->lock);
	vsd_ntab_del(&ix->tab, name);
	pthread_mutex_unlock(&ix->lock);
}

void vsd_index_retain(struct vsd_index *ix, char *const *names)
{
	if (ix == NULL)
		return;
	pthread_mutex_lock(&ix->lock);
	vsd_ntab_retain(&ix->tab, names);
	pthread_mutex_unlock(&ix->lock);
}

void vsd_index_counts(struct vsd_index *ix, size_t *entries, uint64_t *hits, uint64_t *parses)
{
	pthread_mutex_lock(&ix->lock);
	*entries = ix->tab.n;
	*hits = ix->hits;
	*parses = ix->parses;
	pthread_mutex_unlock(&ix->lock);
}
