/* Run states kept for listing: what vs_rt_status said of a container,
 * served again while nothing it depends on can have changed, so that a list
 * of 1,000 containers does not read 1,000 state.json files and 2,000
 * /proc/PID/stat.
 *
 * vs_rt_status is a function of state.json's content and of whether the
 * init and monitor it names (pid and start time) are alive. The file is
 * pinned like the index pins config.json (device, inode, size, mtime,
 * ctime, and only once it is older than the index's racy margin). Liveness
 * only goes one way: a process state.json names had already started when
 * the file was written, so it can die but never come back. The processes
 * the status shows alive are each held by a pidfd, which becomes readable
 * when the process exits: one poll() replaces the /proc reads. A pidfd is
 * opened after a first status and kept only if a second status, read
 * after it, says the same (so the pid was not reused in between).
 *
 * An entry of a running container also keeps descriptors on its cgroup's
 * counters (the OOM kills a list shows, the CPU time and memory the
 * sampler reads every sweep), each read again with one pread: opening
 * them by path for every container, every sweep and every list was most
 * of the daemon's work at idle. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroups/vs_cgroups.h"
#include "daemon/daemon.h"
#include "lib/vs_syscall.h"
#include "lib/vs_util.h"

/* containers/NAME/state.json, reached as vs_rt_status reaches it (through
 * the path: a symlinked directory followed), or its absence, which
 * vs_rt_status reads as stopped whether or not the directory is there. */
struct skey {
	bool absent;
	struct vsd_fkey file;
};

struct sentry {
	struct skey key;
	struct vs_rt_status st;
	int fds[2];		    /* pidfds of init and monitor, -1 when not alive */
	int cg_fds[VS_CG_COUNTERS]; /* the run's cgroup counters, -1 until kept */
	char *cg_pool;		    /* the pool of the cgroup they are on */
};

struct vsd_status_cache {
	pthread_mutex_t lock;
	int64_t racy_ms;
	struct vsd_ntab tab; /* of struct sentry */
	uint64_t hits, reads;
};

static void drop_counters(struct sentry *e)
{
	for (size_t i = 0; i < VS_CG_COUNTERS; i++)
		vs_closep(&e->cg_fds[i]);
	free(e->cg_pool);
	e->cg_pool = NULL;
}

static void sentry_free(void *p)
{
	struct sentry *e = p;

	for (size_t i = 0; i < 2; i++)
		if (e->fds[i] >= 0)
			close(e->fds[i]);
	drop_counters(e);
	free(e);
}

struct vsd_status_cache *vsd_status_cache_new(int64_t racy_ms)
{
	struct vsd_status_cache *sc = xcalloc(1, sizeof(*sc));

	pthread_mutex_init(&sc->lock, NULL);
	sc->racy_ms = racy_ms;
	sc->tab.free_val = sentry_free;
	return sc;
}

void vsd_status_cache_free(struct vsd_status_cache *sc)
{
	if (sc == NULL)
		return;
	vsd_ntab_clear(&sc->tab);
	pthread_mutex_destroy(&sc->lock);
	free(sc);
}

/* The key of containers/NAME/state.json; false when it cannot be pinned
 * (state.json neither absent nor a regular file). */
static bool state_key(int containers_fd, const char *name, struct skey *k)
{
	cleanup_free char *path = xasprintf("%s/state.json", name);
	mode_t mode;
	int r;

	memset(k, 0, sizeof(*k));
	r = vsd_fkey_at(containers_fd, path, AT_SYMLINK_NOFOLLOW, &k->file, &mode);
	if (r < 0) {
		k->absent = r == -ENOENT;
		return k->absent;
	}
	return S_ISREG(mode);
}

static bool same_key(const struct skey *a, const struct skey *b)
{
	return a->absent == b->absent && vsd_fkey_same(&a->file, &b->file);
}

static bool settled(const struct vsd_status_cache *sc, const struct skey *k)
{
	return k->absent || vsd_fkey_settled(&k->file, sc->racy_ms);
}

static bool same_status(const struct vs_rt_status *a, const struct vs_rt_status *b)
{
	return a->state == b->state && a->init_pid == b->init_pid &&
	       a->monitor_pid == b->monitor_pid && a->started_at == b->started_at &&
	       a->monitor_alive == b->monitor_alive && a->last_exit_code == b->last_exit_code &&
	       a->last_exit_signal == b->last_exit_signal;
}

/* True while every process the entry holds is still alive. */
static bool still_alive(const struct sentry *e)
{
	struct pollfd p[2];
	nfds_t n = 0;

	for (size_t i = 0; i < 2; i++)
		if (e->fds[i] >= 0)
			p[n++] = (struct pollfd){.fd = e->fds[i], .events = POLLIN};
	if (n == 0)
		return true;
	/* A pidfd is readable once its process has exited. */
	return poll(p, n, 0) == 0;
}

static bool lookup(struct vsd_status_cache *sc, const char *name, const struct skey *k,
		   struct vs_rt_status *st)
{
	struct sentry *e;
	bool hit = false;

	pthread_mutex_lock(&sc->lock);
	e = vsd_ntab_get(&sc->tab, name);
	if (e != NULL && same_key(&e->key, k) && still_alive(e)) {
		*st = e->st;
		sc->hits++;
		hit = true;
	} else if (e != NULL) {
		vsd_ntab_del(&sc->tab, name);
	}
	pthread_mutex_unlock(&sc->lock);
	return hit;
}

static void store(struct vsd_status_cache *sc, const char *name, const struct skey *k,
		  const struct vs_rt_status *st, int fds[2])
{
	struct sentry *e = xcalloc(1, sizeof(*e));

	e->key = *k;
	e->st = *st;
	e->fds[0] = fds[0];
	e->fds[1] = fds[1];
	for (size_t i = 0; i < VS_CG_COUNTERS; i++)
		e->cg_fds[i] = -1;
	fds[0] = fds[1] = -1;
	pthread_mutex_lock(&sc->lock);
	vsd_ntab_put(&sc->tab, name, e);
	pthread_mutex_unlock(&sc->lock);
}

/* Pin st: pidfds of its live processes, then a second reading that must
 * agree with the first (and an unchanged file) for the entry to be kept. */
static void try_keep(struct vsd *d, const char *name, const struct skey *k,
		     const struct vs_rt_status *st)
{
	struct vs_rt_status again;
	struct vs_error e = {0};
	struct skey k2;
	int fds[2] = {-1, -1};
	const pid_t pids[2] = {st->init_pid, st->monitor_pid};

	for (size_t i = 0; i < 2; i++)
		if (pids[i] > 0 && (fds[i] = vs_pidfd_open(pids[i], 0)) < 0)
			goto out; /* gone already, or out of descriptors */
	if (vsd_container_status(d, name, &again, &e) < 0 || !same_status(st, &again) ||
	    !state_key(d->containers_fd, name, &k2) || !same_key(k, &k2))
		goto out;
	store(d->status_cache, name, k, st, fds);
out:
	for (size_t i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

int vsd_container_status_kept(struct vsd *d, const char *name, struct vs_rt_status *st,
			      struct vs_error *err)
{
	struct vsd_status_cache *sc = d->status_cache;
	struct skey k;
	bool pinned;

	if (sc == NULL)
		return vsd_container_status(d, name, st, err);
	pinned = state_key(d->containers_fd, name, &k);
	if (pinned && lookup(sc, name, &k, st))
		return 0;
	if (!pinned)
		vsd_status_cache_forget(sc, name);
	if (vsd_container_status(d, name, st, err) < 0)
		return -1;
	pthread_mutex_lock(&sc->lock);
	sc->reads++;
	pthread_mutex_unlock(&sc->lock);
	if (pinned && settled(sc, &k))
		try_keep(d, name, &k, st);
	return 0;
}

void vsd_status_cache_forget(struct vsd_status_cache *sc, const char *name)
{
	if (sc == NULL)
		return;
	pthread_mutex_lock(&sc->lock);
	vsd_ntab_del(&sc->tab, name);
	pthread_mutex_unlock(&sc->lock);
}

void vsd_status_cache_retain(struct vsd_status_cache *sc, char *const *names)
{
	if (sc == NULL)
		return;
	pthread_mutex_lock(&sc->lock);
	vsd_ntab_retain(&sc->tab, names);
	pthread_mutex_unlock(&sc->lock);
}

/* name's entry when it pins the run st describes; under sc->lock. */
static struct sentry *run_entry(struct vsd_status_cache *sc, const char *name,
				const struct vs_rt_status *st)
{
	struct sentry *e = vsd_ntab_get(&sc->tab, name);

	return e != NULL && st->state == VS_RT_RUNNING && same_status(&e->st, st) ? e : NULL;
}

bool vsd_status_cache_counter(struct vsd_status_cache *sc, const char *name, const char *pool,
			      const struct vs_rt_status *st, int which, int64_t *v)
{
	struct vs_error err = {0};
	struct sentry *e;
	bool got = false;

	if (sc == NULL || which < 0 || which >= VS_CG_COUNTERS)
		return false;
	pthread_mutex_lock(&sc->lock);
	e = run_entry(sc, name, st);
	if (e != NULL && e->cg_fds[which] >= 0 && strcmp(e->cg_pool, pool) == 0) {
		got = vs_cg_counter_read(e->cg_fds[which], which, v, &err) == 0;
		if (!got)
			vs_closep(&e->cg_fds[which]);
	}
	pthread_mutex_unlock(&sc->lock);
	return got;
}

void vsd_status_cache_keep(struct vsd_status_cache *sc, const char *name, const char *pool,
			   const struct vs_rt_status *st, int which, int fd)
{
	struct sentry *e;

	if (sc == NULL || which < 0 || which >= VS_CG_COUNTERS) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&sc->lock);
	e = run_entry(sc, name, st);
	/* The poll comes after the open (the caller opened fd first). */
	if (e != NULL && still_alive(e)) {
		/* Another pool is another cgroup: what was kept is not it. */
		if (e->cg_pool != NULL && strcmp(e->cg_pool, pool) != 0)
			drop_counters(e);
		if (e->cg_fds[which] < 0) {
			e->cg_fds[which] = fd;
			if (e->cg_pool == NULL)
				e->cg_pool = xstrdup(pool);
			fd = -1;
		}
	}
	pthread_mutex_unlock(&sc->lock);
	if (fd >= 0)
		close(fd);
}

void vsd_status_cache_counts(struct vsd_status_cache *sc, size_t *entries, uint64_t *hits,
			     uint64_t *reads)
{
	pthread_mutex_lock(&sc->lock);
	*entries = sc->tab.n;
	*hits = sc->hits;
	*reads = sc->reads;
	pthread_mutex_unlock(&sc->lock);
}
