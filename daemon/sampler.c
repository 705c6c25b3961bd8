/* The sampler: one thread that samples every running container's cgroup
 * counters each interval (CPU use for stats, and the idle detector), takes
 * a small step of memory back from containers that stay idle (the "memory
 * balloon" without guest cooperation), and follows the kernel log for OOM
 * kills of this instance's containers.
 *
 * Idle reclaim never presses on a busy container: a container is reclaimed
 * from only after a whole window of quiet intervals (low CPU and few page
 * faults), a step is a few percent of its usage, memory_min is never gone
 * below, and memory.high is never touched (LXD PR #13192 made containers
 * "terribly slow" by pressing memory.high).
 *
 * At idle the thread sleeps in epoll_wait and costs nothing between
 * sweeps: it wakes for the kernel log (/dev/kmsg is pollable), for an
 * init that exits (a pidfd per running container, armed when the event
 * bus reports it running), for a change on the bus, and for the next sweep.
 * A sweep reads each running container's counters through descriptors the
 * status cache keeps with its run (one pread each, no path walk), and
 * of a container whose CPU time has not moved since the last sweep only
 * that counter. A sweep in which nothing moved at all (the instance
 * parent cgroup's CPU time, one pread, and the bus: vsd_sweep_quiet)
 * looks at no container: each one's last sample is taken again. The
 * usage ledger's readings (which include the network counters) are taken
 * in a round once a minute, as often as the ledger persists them, with
 * one link dump for all containers, and only as long as readings take
 * under 2% of the time (USAGE_SHARE). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "cgroups/vs_cgroups.h"
#include "daemon/daemon.h"
#include "lib/vs_syscall.h"
#include "lib/vs_util.h"
#include "netns/vs_netns.h"

/* Samples kept per container (the window plus one). */
#define HISTORY 8
/* Intervals to leave a container alone after a reclaim found little. */
#define BACKOFF_INTERVALS 6
#define MIB		  (INT64_C(1) << 20)
/* Milliseconds between two usage rounds, in which the sampler reads every
 * container's usage-ledger counters (the ledger persists a sampler's
 * reading at most once a minute, so reading it more often would only
 * cost). */
#define USAGE_EVERY_MS 60000
/* ... and only while readings have taken less than 1/USAGE_SHARE of the
 * time (a token bucket of at most USAGE_BUCKET_MS, spent by each reading's
 * measured duration). A reading's network part costs more with every
 * container on the node (the firewall's drop counter comes through
 * libnftables, which fetches the whole table and every set's elements), so
 * at a thousand containers one reading takes seconds; the bucket keeps the
 * sampler near idle then, and readings return to once a minute by
 * themselves when they get cheaper. */
#define USAGE_SHARE	50
#define USAGE_BUCKET_MS 1000
/* A reading equal to the last one the ledger was given (an idle container:
 * no CPU time, no traffic) changes nothing in it, and is given again only
 * after this long (ms; the ledger's hourly sample). Without it, 1,000 idle
 * containers made 1,000 rewrites of usage.json a minute, each with two
 * fsyncs, to store the same numbers. */
#define USAGE_SAME_MS (3600 * 1000)
/* A watched container between states (starting, init gone and the
 * monitor still tearing down): looked at again after this many ms,
 * doubling up to the maximum. */
#define RETRY_MIN_MS 50
#define RETRY_MAX_MS 2000

struct cstate {
	char *name;
	int64_t created_at;	      /* a new container of the same name starts afresh */
	int64_t run;		      /* started_at of the run the newest sample is of */
	struct vsd_sample s[HISTORY]; /* oldest first */
	size_t ns;
	int64_t reclaimed;
	int backoff;
	bool present;
	int64_t usage_at; /* ms of the last usage-ledger reading */
	/* The last reading given to the ledger: its run, a hash of it, and
	 * when (ms). An unchanged reading is not given again for an hour. */
	int64_t usage_run;
	uint64_t usage_hash;
	int64_t usage_sent;
	struct vsd_oom_rec oom;
	struct vsd_oom_line pending; /* last oom-kill line, for the Killed line */
	/* The last full sweep pushed a sample of this run, and from the
	 * config it read: the usage from which a reclaim could take a step
	 * (-1: no reclaim for it), so a quiet sweep knows it need not look. */
	bool sampled;
	int64_t faults_from;
};

/* A container the bus reports running, watched through its init's pidfd
 * (sampler thread only). */
struct watch {
	char *name;
	int pidfd; /* -1: none armed */
	pid_t init_pid;
	int64_t retry_at; /* ms; 0: none */
	int64_t retry_step;
	bool ready; /* look at it: init exited, or news from the bus */
};

/* A change the bus told us about, queued for the sampler thread. */
struct change {
	char *name;
	bool running;
};

struct vsd_sampler {
	struct vsd *d;
	pthread_t thread;
	int epfd;
	int wakefd; /* eventfd: stop, or changes queued */
	struct watch **w;
	size_t nw;
	pthread_mutex_t qlock; /* the queue */
	struct change *q;
	size_t nq;
	pthread_mutex_t lock; /* everything below */
	bool stop;
	struct vsd_idle_cfg cfg;
	struct vsd_idle_params params;
	struct cstate *c;
	size_t n;
	int64_t total_bytes, total_count;
	int kmsg_fd;
	/* The usage readings' token bucket (ms; sampler thread only). */
	int64_t usage_tokens, usage_tokens_at;
	/* Sampler thread only: usage rounds (ms: when the open one began, when
	 * the next one is due; open until every container was read, which
	 * the token bucket may spread over sweeps), and the sweep's link dump
	 * for its readings (made at the first one). */
	int64_t round_at, usage_next;
	bool round_open, round_missed;
	struct vs_net_stats_table *links;
	bool links_tried;
	/* Quiet sweeps: the parent cgroup's CPU time (-1 until opened), the
	 * mark of the last full sweep and whether it sampled every running
	 * container (sampler thread only); the bus's changes (qlock). */
	int parent_fd;
	struct vsd_sweep_mark full_mark;
	bool full_ok;
	uint64_t changes;
	uint64_t sweeps_quiet, sweeps_full;
};

void vsd_idle_params_default(const struct vsd_idle_cfg *cfg, struct vsd_idle_params *p)
{
	p->cpu_threshold = cfg->cpu_threshold;
	p->pgfault_rate = 100;
	p->window = 3;
	p->step_percent = 5;
	p->step_max = 64 * MIB;
	p->step_min = 1 * MIB;
}

int64_t vsd_idle_worth(const struct vsd_idle_params *p, int64_t memory_min)
{
	/* vsd_idle_decide's step is usage / 100 * step_percent. */
	int64_t by_step = p->step_percent > 0
			      ? (p->step_min + p->step_percent - 1) / p->step_percent * 100
			      : INT64_MAX;
	int64_t by_room = (memory_min > 0 ? memory_min : 0) + p->step_min;

	return by_step > by_room ? by_step : by_room;
}

bool vsd_sweep_quiet(const struct vsd_sweep_mark *last, bool last_ok,
		     const struct vsd_sweep_mark *now, bool usage_round)
{
	return last_ok && !usage_round && now->parent_cpu_usec >= 0 &&
	       now->parent_cpu_usec == last->parent_cpu_usec &&
	       now->events_last == last->events_last && now->changes == last->changes;
}

int64_t vsd_idle_decide(const struct vsd_idle_params *p, const struct vsd_sample *s, size_t n,
			int64_t memory_min)
{
	int64_t step, room;

	if (p->window == 0 || n < p->window + 1)
		return 0;
	for (size_t i = n - p->window; i < n; i++) {
		int64_t dt = s[i].t_ms - s[i - 1].t_ms;
		int64_t dcpu = s[i].cpu_usec - s[i - 1].cpu_usec;
		int64_t dpf = s[i].pgfault - s[i - 1].pgfault;
		if (dt <= 0 || dcpu < 0 || s[i].cpu_usec < 0 || s[i - 1].cpu_usec < 0)
			return 0;
		if ((double)dcpu / ((double)dt * 1000.0) >= p->cpu_threshold)
			return 0;
		if (s[i].pgfault < 0 || s[i - 1].pgfault < 0 || dpf < 0 ||
		    (double)dpf * 1000.0 / (double)dt >= p->pgfault_rate)
			return 0;
	}
	step = s[n - 1].memory / 100 * p->step_percent;
	if (step > p->step_max)
		step = p->step_max;
	room = s[n - 1].memory - (memory_min > 0 ? memory_min : 0);
	if (step > room)
		step = room;
	return step >= p->step_min ? step : 0;
}

/* ---- per-container state (under s->lock) ---------------------------- */

/* s->c is kept sorted by name (prune keeps the order): a list asks for
 * every container, which a linear search made quadratic. */
static struct cstate *find(struct vsd_sampler *s, const char *name, bool add)
{
	bool found;
	size_t lo =
	    vs_sorted_find(s->c, s->n, sizeof(*s->c), offsetof(struct cstate, name), name, &found);

	if (found)
		return &s->c[lo];
	if (!add)
		return NULL;
	s->c = xrealloc(s->c, (s->n + 1) * sizeof(*s->c));
	memmove(&s->c[lo + 1], &s->c[lo], (s->n - lo) * sizeof(*s->c));
	memset(&s->c[lo], 0, sizeof(*s->c));
	s->c[lo].name = xstrdup(name);
	s->n++;
	return &s->c[lo];
}

static void push_sample(struct cstate *c, const struct vsd_sample *smp)
{
	if (c->ns == HISTORY) {
		memmove(c->s, c->s + 1, (HISTORY - 1) * sizeof(c->s[0]));
		c->ns--;
	}
	c->s[c->ns++] = *smp;
	vsd_debug("sampler: container %s: cpu %" PRId64 " us, %" PRId64 " faults, %" PRId64
		  " bytes",
		  c->name, smp->cpu_usec, smp->pgfault, smp->memory);
}

/* Forget containers not seen in the last sweep. */
static void prune(struct vsd_sampler *s)
{
	size_t j = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (s->c[i].present) {
			s->c[i].present = false;
			s->c[j++] = s->c[i];
		} else {
			free(s->c[i].name);
		}
	}
	s->n = j;
}

/* ---- kernel log ------------------------------------------------------ */

/* Unix time of a kernel log time stamp (printk's clock runs with
 * CLOCK_MONOTONIC). */
static int64_t kmsg_wall(int64_t ts_usec)
{
	struct timespec mono, real;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	return real.tv_sec - (mono.tv_sec - ts_usec / 1000000);
}

static void oom_seen(struct vsd_sampler *s, const struct vsd_oom_line *l)
{
	struct cstate *c = NULL;

	if (l->container[0] != '\0') {
		c = find(s, l->container, true);
		c->pending = *l;
	} else {
		/* "Killed process N (NAME)": the victim of an oom-kill line. */
		for (size_t i = 0; i < s->n && c == NULL; i++)
			if (s->c[i].pending.pid == l->pid && l->pid > 0)
				c = &s->c[i];
		if (c == NULL)
			return;
	}
	if (!c->oom.loaded)
		vsd_oom_load(s->d, c->name, &c->oom);
	c->present = true;
	snprintf(c->oom.info.last_command, sizeof(c->oom.info.last_command), "%s", l->command);
	c->oom.info.last_at = kmsg_wall(l->ts_usec);
	vsd_oom_store(s->d, c->name, &c->oom);
	if (l->container[0] != '\0') {
		cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
		vsd_log("container %s: OOM killed %s (pid %" PRId64 ")", c->name, l->command,
			l->pid);
		vs_jgen_obj_open(g);
		vs_jgen_kv_str(g, "command", l->command);
		vs_jgen_kv_int(g, "pid", l->pid);
		vs_jgen_obj_close(g);
		vsd_emit(s->d, VSD_EV_CONTAINER_OOM, c->name, vs_jgen_text(g, NULL));
	}
}

/* Read the records the kernel logged since the last call (under lock). */
static void drain_kmsg(struct vsd_sampler *s)
{
	char rec[8192];

	while (s->kmsg_fd >= 0) {
		struct vsd_oom_line l;
		ssize_t n = read(s->kmsg_fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue; /* records were overwritten before we read them */
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		rec[n] = '\0';
		if (vsd_oom_parse_kmsg(rec, (size_t)n, s->d->cgroup_parent, &l) == 1)
			oom_seen(s, &l);
	}
}

/* ---- one sweep ------------------------------------------------------- */

static int64_t kept_counter(struct vsd *d, const char *name, const char *pool,
			    const struct vs_rt_status *st, enum vs_cg_counter which);
static int64_t oom_counter(struct vsd *d, const char *name, const char *pool,
			   const struct vs_rt_status *st);

/* FNV-1a of a reading (the struct is zeroed before it is filled, so its
 * bytes are a function of its values). */
static uint64_t reading_hash(const struct vsd_ledger_counters *r)
{
	const unsigned char *b = (const unsigned char *)r;
	uint64_t h = UINT64_C(14695981039346656037);

	for (size_t i = 0; i < sizeof(*r); i++)
		h = (h ^ b[i]) * UINT64_C(1099511628211);
	return h;
}

/* Give the ledger a reading of name's run started_at, unless it is the
 * one given last (within USAGE_SAME_MS). */
static void usage_reading(struct vsd_sampler *s, const struct vs_container_config *cfg,
			  int64_t started_at, const struct vs_cg_stats *cst)
{
	struct vsd_ledger_counters r;
	int64_t now = vs_now_ms();
	uint64_t h;
	struct cstate *c;
	bool same;

	/* One link dump serves every reading of this sweep. */
	if (!s->links_tried) {
		struct vs_error err = {0};
		s->links_tried = true;
		if (vs_net_links_all(&s->links, &err) < 0)
			vsd_debug("sampler: %s (one request per link instead)", err.msg);
	}
	vsd_usage_reading(cfg, cst, s->links, &r);
	h = reading_hash(&r);
	pthread_mutex_lock(&s->lock);
	c = find(s, cfg->name, true);
	same =
	    c->usage_run == started_at && c->usage_hash == h && now - c->usage_sent < USAGE_SAME_MS;
	pthread_mutex_unlock(&s->lock);
	/* Remembered only once the ledger on disk holds it: a reading
	 * not written yet (within a minute of the last write) is given
	 * again next time, even if unchanged by then. */
	if (same || !vsd_usage_observe(s->d, cfg, started_at, &r, VSD_USAGE_SAMPLER, NULL))
		return;
	pthread_mutex_lock(&s->lock);
	c = find(s, cfg->name, true);
	c->usage_run = started_at;
	c->usage_hash = h;
	c->usage_sent = now;
	pthread_mutex_unlock(&s->lock);
}

static void reclaim(struct vsd_sampler *s, const struct vs_container_config *cfg, struct vs_cg *cg,
		    int64_t bytes)
{
	struct vs_error err = {0};
	int64_t got = 0;
	struct cstate *c;

	/* Held like a request, so a live limit update cannot interleave with
	 * the v1 lower-and-restore; an operation (suspend, ...) makes us skip. */
	if (vsd_names_lock(s->d->names, cfg->name, NULL, &err) < 0)
		return;
	if (vs_cg_reclaim(cg, bytes, cfg->limits.memory, &got, &err) < 0)
		vsd_log("container %s: idle reclaim: %s", cfg->name, err.msg);
	vsd_names_unlock(s->d->names, cfg->name);
	pthread_mutex_lock(&s->lock);
	c = find(s, cfg->name, true);
	c->present = true;
	c->reclaimed += got;
	s->total_bytes += got;
	s->total_count++;
	if (got < s->params.step_min)
		c->backoff = BACKOFF_INTERVALS;
	pthread_mutex_unlock(&s->lock);
	vsd_debug("container %s: idle reclaim of %" PRId64 " bytes took %" PRId64, cfg->name, bytes,
		  got);
}

/* Sample one container (round: a usage round is open, in which every
 * container's ledger gets a reading). False when it runs and could not be
 * sampled: the next sweep must look again. */
static bool sample_one(struct vsd_sampler *s, const char *name, bool round)
{
	cleanup_config struct vs_container_config cfg = {0};
	struct vs_cg_stats cst;
	struct vs_rt_status st;
	struct vs_error err = {0};
	struct vs_cg *cg;
	struct cstate *c;
	int64_t bytes = 0, kills, faults_from = -1;
	bool usage = false, sampled, still;
	struct vsd_sample last;
	struct vsd_sample smp = {.t_ms = vs_now_ms()};
	/* Taken before the look, so a start or stop meanwhile wins. */
	uint64_t gen = s->d->events != NULL ? vsd_events_gen(s->d->events, name) : 0;

	/* The kept status: one poll of the pidfds the status cache holds,
	 * instead of state.json and /proc for each container. */
	if (vsd_index_load(s->d->index, s->d->containers_fd, name, &cfg, &err) < 0 ||
	    vsd_container_status_kept(s->d, name, &st, &err) < 0) {
		vsd_debug("sampler: container %s: %s", name, err.msg);
		return true; /* gone, or not a container: nothing to look at again */
	}
	/* The backstop of the pidfd watch: a stop it could not see (init and
	 * monitor gone together, a pidfd that could not be opened). */
	if (st.state == VS_RT_STOPPED && s->d->events != NULL)
		vsd_events_observe(s->d->events, name, false, gen, (int64_t)time(NULL));
	/* memory.stat (page faults, for the idle detector) only where a
	 * reclaim could take a step: a small container never gets one. */
	if (s->cfg.enabled && cfg.idle_reclaim)
		faults_from = vsd_idle_worth(&s->params, cfg.limits.memory_min);
	/* The CPU time and memory through the descriptors the status cache
	 * keeps for this run (one pread each); the cgroup by path only for
	 * what they cannot give (memory.stat, a reclaim, a first look). */
	vs_cg_stats_init(&cst);
	if (st.state == VS_RT_RUNNING)
		cst.cpu_usage_usec = kept_counter(s->d, name, cfg.pool, &st, VS_CG_CPU_USEC);
	/* A cgroup whose CPU time has not moved since the last sweep of this
	 * run has run nothing since: nothing in it allocated, faulted or was
	 * killed for memory. Its memory is not read again while it is below
	 * where a reclaim could take a step (a reclaim, or the kernel's own,
	 * only shrinks it), nor its OOM counter (the kernel log still names
	 * a kill as it happens). Most containers on a dense node are such. */
	pthread_mutex_lock(&s->lock);
	c = find(s, name, false);
	still = c != NULL && c->ns > 0 && c->created_at == cfg.created_at &&
		c->run == st.started_at && cst.cpu_usage_usec >= 0 &&
		c->s[c->ns - 1].cpu_usec == cst.cpu_usage_usec;
	if (still)
		last = c->s[c->ns - 1];
	pthread_mutex_unlock(&s->lock);
	if (still && last.memory >= 0 && (faults_from < 0 || last.memory < faults_from)) {
		cst.memory_current = last.memory;
		cst.pgfault = last.pgfault;
	} else if (st.state == VS_RT_RUNNING) {
		cst.memory_current = kept_counter(s->d, name, cfg.pool, &st, VS_CG_MEMORY_BYTES);
	}
	sampled = cst.cpu_usage_usec >= 0 && cst.memory_current >= 0 &&
		  (faults_from < 0 || cst.memory_current < faults_from);
	cg = sampled ? NULL : vsd_cg_of(s->d, name, cfg.pool);
	if (!sampled && cg == NULL)
		return st.state != VS_RT_RUNNING;
	if (st.state != VS_RT_RUNNING ||
	    (!sampled && vs_cg_sample(cg, faults_from, &cst, &err) < 0)) {
		if (st.state == VS_RT_RUNNING)
			vsd_debug("sampler: container %s: %s", name, err.msg);
		vs_cg_free(cg);
		pthread_mutex_lock(&s->lock);
		c = find(s, name, true);
		c->present = true;
		c->ns = 0;
		pthread_mutex_unlock(&s->lock);
		return st.state != VS_RT_RUNNING;
	}
	if (s->d->events != NULL)
		vsd_events_observe(s->d->events, name, true, gen, (int64_t)time(NULL));
	/* Through the descriptor the status cache keeps for this run. */
	kills = still ? -1 : oom_counter(s->d, name, cfg.pool, &st);
	smp.cpu_usec = cst.cpu_usage_usec;
	smp.pgfault = cst.pgfault;
	smp.memory = cst.memory_current;
	pthread_mutex_lock(&s->lock);
	c = find(s, name, true);
	if (c->created_at != cfg.created_at) {
		char *keep = c->name;
		memset(c, 0, sizeof(*c));
		c->name = keep;
		c->created_at = cfg.created_at;
	}
	c->present = true;
	c->run = st.started_at;
	/* Readings only in rounds, so that all of them (and the ledger's
	 * once-a-minute writes) fall in the same sweep: the sweeps between
	 * can then be quiet. */
	if (round && c->usage_at < s->round_at) {
		if (s->usage_tokens > 0) {
			c->usage_at = smp.t_ms;
			usage = true;
		} else {
			s->round_missed = true;
		}
	}
	push_sample(c, &smp);
	c->sampled = true;
	c->faults_from = faults_from;
	if (!c->oom.loaded)
		vsd_oom_load(s->d, name, &c->oom);
	if (vsd_oom_count(&c->oom, st.started_at, kills))
		vsd_oom_store(s->d, name, &c->oom);
	if (c->backoff > 0)
		c->backoff--;
	else if (s->cfg.enabled && cfg.idle_reclaim)
		bytes = vsd_idle_decide(&s->params, c->s, c->ns, cfg.limits.memory_min);
	pthread_mutex_unlock(&s->lock);
	if (usage) {
		int64_t t0 = vs_now_ms();
		usage_reading(s, &cfg, st.started_at, &cst);
		s->usage_tokens -= vs_now_ms() - t0;
	}
	if (bytes > 0 && (cg != NULL || (cg = vsd_cg_of(s->d, name, cfg.pool)) != NULL))
		reclaim(s, &cfg, cg, bytes);
	vs_cg_free(cg);
	return true;
}

/* The instance parent cgroup's CPU time (µs; -1 unknown): every container
 * and pool is below it. Kept open; dropped when a read fails (the parent
 * removed and made again), opened again at the next sweep. */
static int64_t parent_cpu(struct vsd_sampler *s)
{
	struct vs_error err = {0};
	int64_t v = -1;

	if (s->parent_fd < 0 && s->d->cg != NULL) {
		/* Any container name: only the parent's directories are used. */
		struct vs_cg *cg = vs_cg_open_pool(s->d->cg, s->d->cgroup_parent, "", "instance");
		if (cg != NULL)
			s->parent_fd = vs_cg_parent_counter_open(cg, VS_CG_CPU_USEC, &err);
		vs_cg_free(cg);
	}
	if (s->parent_fd >= 0 && vs_cg_counter_read(s->parent_fd, VS_CG_CPU_USEC, &v, &err) < 0)
		vs_closep(&s->parent_fd);
	return v;
}

static void sweep_mark(struct vsd_sampler *s, struct vsd_sweep_mark *m)
{
	pthread_mutex_lock(&s->qlock);
	m->changes = s->changes;
	pthread_mutex_unlock(&s->qlock);
	m->events_last = s->d->events != NULL ? vsd_events_last_id(s->d->events) : 0;
	m->parent_cpu_usec = parent_cpu(s);
}

/* Nothing moved since the last full sweep: each container's last sample
 * again, as a full sweep would have read it (the same CPU time; memory
 * and faults kept as sample_one keeps them for a container whose CPU
 * time has not moved), and the idle decisions advance. A container at a
 * size where a reclaim could take a step is looked at as before (its
 * memory read), so reclaim sees what it always saw. */
static bool quiet_sweep(struct vsd_sampler *s, int64_t now)
{
	cleanup_strv char **look = NULL;
	size_t nlook = 0;
	bool ok = true;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n; i++) {
		struct cstate *c = &s->c[i];
		struct vsd_sample smp;
		if (!c->sampled || c->ns == 0)
			continue;
		smp = c->s[c->ns - 1];
		if (s->cfg.enabled && c->faults_from >= 0 &&
		    (smp.memory < 0 || smp.memory >= c->faults_from)) {
			look = xrealloc(look, (nlook + 2) * sizeof(*look));
			look[nlook++] = xstrdup(c->name);
			look[nlook] = NULL;
			continue;
		}
		/* Below the step size vsd_idle_decide returns 0 (unit tested):
		 * only the backoff counts down, as in sample_one. */
		smp.t_ms = now;
		push_sample(c, &smp);
		if (c->backoff > 0)
			c->backoff--;
	}
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < nlook; i++)
		ok = sample_one(s, look[i], false) && ok;
	return ok;
}

static void sweep(struct vsd_sampler *s)
{
	cleanup_strv char **names = NULL;
	struct vs_error err = {0};
	struct vsd_sweep_mark mark;
	int64_t now;
	bool round, ok = true;

	now = vs_now_ms();
	s->usage_tokens += (now - s->usage_tokens_at) / USAGE_SHARE;
	if (s->usage_tokens > USAGE_BUCKET_MS)
		s->usage_tokens = USAGE_BUCKET_MS;
	s->usage_tokens_at = now;
	/* A round every USAGE_EVERY_MS (on the sweeps' grid: due half an
	 * interval early, so every sixth sweep at the default 10 s). */
	if (!s->round_open && now >= s->usage_next) {
		s->round_open = true;
		s->round_at = now;
		s->usage_next = now + USAGE_EVERY_MS - (int64_t)s->cfg.interval_s * 500;
	}
	round = s->round_open;
	/* Taken before any look: whatever happens after it shows next time. */
	sweep_mark(s, &mark);
	if (vsd_sweep_quiet(&s->full_mark, s->full_ok, &mark, round)) {
		s->sweeps_quiet++;
		s->full_ok = quiet_sweep(s, now);
		return;
	}
	if (vsd_store_list(s->d->containers_fd, &names, &err) < 0) {
		vsd_log("sampler: %s", err.msg);
		s->full_ok = false;
		return;
	}
	s->sweeps_full++;
	s->full_mark = mark;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n; i++)
		s->c[i].sampled = false;
	pthread_mutex_unlock(&s->lock);
	s->round_missed = false;
	for (size_t i = 0; names[i] != NULL; i++)
		ok = sample_one(s, names[i], round) && ok;
	s->full_ok = ok;
	if (round && !s->round_missed)
		s->round_open = false;
	vs_net_stats_all_free(s->links);
	s->links = NULL;
	s->links_tried = false;
	pthread_mutex_lock(&s->lock);
	prune(s);
	pthread_mutex_unlock(&s->lock);
	vsd_debug("sampler: %" PRIu64 " full and %" PRIu64 " quiet sweeps", s->sweeps_full,
		  s->sweeps_quiet);
}

/* ---- stops behind vsd's back ------------------------------------------ */

/* Containers that stop behind vsd's back (init exits, the monitor writes
 * state.json): each one the bus reports running has its init's pidfd in
 * the epoll set; when it becomes readable, or while the container is
 * between states, it is looked at (a state.json read and a pid check), and
 * a stop is reported once (vsd_events_observe drops a look that raced the
 * daemon's own start or stop). Nothing is looked at while nothing
 * happens. */

/* The bus's watcher (any thread): queue the change, wake the sampler. */
static void on_change(void *arg, const char *name, bool running)
{
	struct vsd_sampler *s = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&s->qlock);
	s->changes++;
	s->q = xrealloc(s->q, (s->nq + 1) * sizeof(*s->q));
	s->q[s->nq].name = xstrdup(name);
	s->q[s->nq++].running = running;
	pthread_mutex_unlock(&s->qlock);
	if (write(s->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		vsd_log("sampler: wake: %s", strerror(errno));
}

static struct watch *watch_find(struct vsd_sampler *s, const char *name, size_t *idx)
{
	for (size_t i = 0; i < s->nw; i++)
		if (strcmp(s->w[i]->name, name) == 0) {
			*idx = i;
			return s->w[i];
		}
	return NULL;
}

static void watch_disarm(struct vsd_sampler *s, struct watch *w)
{
	if (w->pidfd >= 0)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, w->pidfd, NULL);
	vs_closep(&w->pidfd);
	w->init_pid = 0;
}

static void watch_drop(struct vsd_sampler *s, size_t i)
{
	struct watch *w = s->w[i];

	watch_disarm(s, w);
	free(w->name);
	free(w);
	s->w[i] = s->w[--s->nw];
}

static void watch_retry(struct watch *w)
{
	w->retry_step = w->retry_step == 0		   ? RETRY_MIN_MS
			: w->retry_step * 2 > RETRY_MAX_MS ? RETRY_MAX_MS
							   : w->retry_step * 2;
	w->retry_at = vs_now_ms() + w->retry_step;
}

/* A pidfd on the init st names, checked to be that init: the pid is looked
 * up again after the open, so a pid reused in between is not watched. */
static int open_init(struct vsd_sampler *s, const char *name, const struct vs_rt_status *st)
{
	struct vs_rt_status again;
	struct vs_error err = {0};
	int fd = vs_pidfd_open(st->init_pid, 0);

	if (fd < 0)
		return -1;
	if (vsd_container_status(s->d, name, &again, &err) < 0 || again.init_pid != st->init_pid) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Look at a watched container: report its stop, or (re)arm its init's
 * pidfd, or look again soon. False when the watch is done with. */
static bool watch_look(struct vsd_sampler *s, struct watch *w)
{
	struct vs_rt_status st;
	struct vs_error err = {0};
	struct epoll_event ev = {.events = EPOLLIN};
	/* Taken before the look, so a start or stop meanwhile wins. */
	uint64_t gen = vsd_events_gen(s->d->events, w->name);

	w->ready = false;
	w->retry_at = 0;
	if (vsd_container_status(s->d, w->name, &st, &err) < 0) {
		if (err.kind == VS_EK_NOT_FOUND) {
			vsd_events_forget(s->d->events, w->name);
			return false;
		}
		watch_retry(w);
		return true;
	}
	if (st.state == VS_RT_STOPPED) {
		vsd_events_observe(s->d->events, w->name, false, gen, (int64_t)time(NULL));
		return false;
	}
	if (st.init_pid <= 0) {
		/* Starting, or init gone and the monitor tearing down. */
		watch_disarm(s, w);
		watch_retry(w);
		return true;
	}
	if (w->pidfd >= 0 && w->init_pid == st.init_pid) {
		struct pollfd p = {.fd = w->pidfd, .events = POLLIN};
		/* Exited but not yet reaped by its monitor (a zombie still
		 * matches): the pidfd stays readable, so look again later
		 * rather than spin on it. */
		if (poll(&p, 1, 0) > 0) {
			watch_disarm(s, w);
			watch_retry(w);
		}
		return true;
	}
	/* A new init (a reboot inside), or the first look. */
	watch_disarm(s, w);
	w->pidfd = open_init(s, w->name, &st);
	if (w->pidfd < 0) {
		watch_retry(w);
		return true;
	}
	ev.data.ptr = w;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, w->pidfd, &ev) < 0) {
		vsd_log("sampler: watch container %s: %s", w->name, strerror(errno));
		vs_closep(&w->pidfd);
		watch_retry(w);
		return true;
	}
	w->init_pid = st.init_pid;
	w->retry_step = 0;
	return true;
}

/* Apply the bus's changes: a container reported running is watched (and
 * looked at now), one reported stopped or forgotten is not. */
static void apply_changes(struct vsd_sampler *s)
{
	struct change *q;
	size_t nq, idx;

	pthread_mutex_lock(&s->qlock);
	q = s->q;
	nq = s->nq;
	s->q = NULL;
	s->nq = 0;
	pthread_mutex_unlock(&s->qlock);
	for (size_t i = 0; i < nq; i++) {
		struct watch *w = watch_find(s, q[i].name, &idx);
		if (!q[i].running) {
			if (w != NULL)
				watch_drop(s, idx);
		} else if (w == NULL) {
			w = xcalloc(1, sizeof(*w));
			w->name = xstrdup(q[i].name);
			w->pidfd = -1;
			w->ready = true;
			s->w = xrealloc(s->w, (s->nw + 1) * sizeof(*s->w));
			s->w[s->nw++] = w;
		} else {
			w->ready = true;
		}
		free(q[i].name);
	}
	free(q);
}

/* Look at the watches that are ready or due. */
static void look_watches(struct vsd_sampler *s)
{
	int64_t now = vs_now_ms();

	for (size_t i = 0; i < s->nw;) {
		struct watch *w = s->w[i];
		if ((w->ready || (w->retry_at > 0 && w->retry_at <= now)) && !watch_look(s, w)) {
			watch_drop(s, i);
			continue;
		}
		i++;
	}
}

/* ms until the next sweep or retry (epoll_wait's timeout). */
static int wait_ms(struct vsd_sampler *s, int64_t next)
{
	int64_t now = vs_now_ms(), until = next;

	for (size_t i = 0; i < s->nw; i++)
		if (s->w[i]->retry_at > 0 && s->w[i]->retry_at < until)
			until = s->w[i]->retry_at;
	if (until <= now)
		return 0;
	return until - now > INT_MAX ? INT_MAX : (int)(until - now);
}

static void *sampler_main(void *arg)
{
	struct vsd_sampler *s = arg;
	int64_t next = vs_now_ms();

	for (;;) {
		struct epoll_event evs[64];
		bool kmsg = false;
		int n = epoll_wait(s->epfd, evs, 64, wait_ms(s, next));
		/* Mark first, act after: acting may drop a watch that a later
		 * entry of evs names. */
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == &s->wakefd) {
				uint64_t v;
				if (read(s->wakefd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					vsd_log("sampler: wake: %s", strerror(errno));
			} else if (evs[i].data.ptr == &s->kmsg_fd) {
				kmsg = true;
			} else {
				((struct watch *)evs[i].data.ptr)->ready = true;
			}
		}
		pthread_mutex_lock(&s->lock);
		if (s->stop) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		if (kmsg)
			drain_kmsg(s);
		pthread_mutex_unlock(&s->lock);
		if (s->d->events != NULL) {
			apply_changes(s);
			look_watches(s);
		}
		if (vs_now_ms() >= next) {
			sweep(s);
			next += (int64_t)s->cfg.interval_s * 1000;
			if (next < vs_now_ms())
				next = vs_now_ms() + (int64_t)s->cfg.interval_s * 1000;
		}
	}
	return NULL;
}

static void sampler_free(struct vsd_sampler *s)
{
	while (s->nw > 0)
		watch_drop(s, s->nw - 1);
	free(s->w);
	for (size_t i = 0; i < s->nq; i++)
		free(s->q[i].name);
	free(s->q);
	for (size_t i = 0; i < s->n; i++)
		free(s->c[i].name);
	free(s->c);
	vs_closep(&s->kmsg_fd);
	vs_closep(&s->parent_fd);
	vs_net_stats_all_free(s->links);
	vs_closep(&s->wakefd);
	vs_closep(&s->epfd);
	pthread_mutex_destroy(&s->qlock);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int epoll_add(int epfd, int fd, void *tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

int vsd_sampler_start(struct vsd *d, const struct vsd_idle_cfg *cfg, struct vs_error *err)
{
	struct vsd_sampler *s = xcalloc(1, sizeof(*s));
	int r;

	s->d = d;
	s->cfg = *cfg;
	s->parent_fd = -1;
	/* A full bucket at the start: the first sweep reads what it can. */
	s->usage_tokens = USAGE_BUCKET_MS;
	s->usage_tokens_at = vs_now_ms();
	vsd_idle_params_default(cfg, &s->params);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->qlock, NULL);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	/* From now on: what the kernel logged before is not this run's news. */
	s->kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (s->epfd < 0 || s->wakefd < 0 || epoll_add(s->epfd, s->wakefd, &s->wakefd) < 0) {
		r = errno;
		sampler_free(s);
		return vs_error_set(err, r, "sampler: epoll");
	}
	if (s->kmsg_fd < 0)
		vsd_log("open /dev/kmsg: %s (OOM kills are counted but not named)",
			strerror(errno));
	else if (lseek(s->kmsg_fd, 0, SEEK_END) < 0)
		vsd_log("seek /dev/kmsg: %s", strerror(errno));
	/* The kernel log wakes us when it has news (it is pollable). */
	if (s->kmsg_fd >= 0 && epoll_add(s->epfd, s->kmsg_fd, &s->kmsg_fd) < 0)
		vsd_log("poll /dev/kmsg: %s (OOM kills are named at the next read)",
			strerror(errno));
	if (d->events != NULL)
		vsd_events_set_watcher(d->events, on_change, s);
	r = pthread_create(&s->thread, NULL, sampler_main, s);
	if (r != 0) {
		if (d->events != NULL)
			vsd_events_set_watcher(d->events, NULL, NULL);
		sampler_free(s);
		return vs_error_set(err, r, "start the sampler thread");
	}
	d->sampler = s;
	return 0;
}

void vsd_sampler_stop(struct vsd_sampler *s)
{
	uint64_t one = 1;

	if (s == NULL)
		return;
	/* Waits for a call of on_change in progress. */
	if (s->d->events != NULL)
		vsd_events_set_watcher(s->d->events, NULL, NULL);
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_mutex_unlock(&s->lock);
	if (write(s->wakefd, &one, sizeof(one)) < 0)
		vsd_log("sampler: wake: %s", strerror(errno));
	pthread_join(s->thread, NULL);
	sampler_free(s);
}

/* ---- readers for the REST layer -------------------------------------- */

struct vs_cg *vsd_cg_of(struct vsd *d, const char *name, const char *pool)
{
	struct vs_cg *cg = vs_cg_open_pool(d->cg, d->cgroup_parent, pool, name);
	const char *dir;

	/* One stat instead of vs_cg_open's look in every hierarchy (and its
	 * listing of the parent when the name is not right below it). */
	if (cg != NULL && ((dir = vs_cg_path(cg, "memory")) == NULL || access(dir, F_OK) < 0)) {
		vs_cg_free(cg);
		cg = vs_cg_open(d->cg, d->cgroup_parent, name);
	}
	return cg;
}

/* A counter of a running container's cgroup, -1 when unknown: through
 * the descriptor the status cache keeps for this run, else opened where
 * the config's pool puts the cgroup (and the descriptor offered to the
 * cache). */
static int64_t kept_counter(struct vsd *d, const char *name, const char *pool,
			    const struct vs_rt_status *st, enum vs_cg_counter which)
{
	struct vs_cg *cg;
	struct vs_error err = {0};
	int64_t v = -1;
	int fd;

	if (vsd_status_cache_counter(d->status_cache, name, pool, st, which, &v))
		return v;
	if (d->status_cache == NULL ||
	    (cg = vs_cg_open_pool(d->cg, d->cgroup_parent, pool, name)) == NULL)
		return -1;
	fd = vs_cg_counter_open(cg, which, &err);
	vs_cg_free(cg);
	if (fd >= 0 && vs_cg_counter_read(fd, which, &v, &err) == 0 && v >= 0)
		vsd_status_cache_keep(d->status_cache, name, pool, st, which, fd); /* takes fd */
	else if (fd >= 0)
		close(fd);
	return v;
}

/* The cgroup's OOM kill counter of a running container, -1 when unknown:
 * kept (above), else by path where the config's pool puts the cgroup,
 * else (a pool changed under the reader) wherever vs_cg_open finds it. */
static int64_t oom_counter(struct vsd *d, const char *name, const char *pool,
			   const struct vs_rt_status *st)
{
	struct vs_cg *cg;
	struct vs_error err = {0};
	int64_t kills = kept_counter(d, name, pool, st, VS_CG_OOM_KILLS);

	if (kills >= 0)
		return kills;
	if ((cg = vs_cg_open_pool(d->cg, d->cgroup_parent, pool, name)) != NULL) {
		vs_cg_oom_kills(cg, &kills, &err);
		vs_cg_free(cg);
	}
	if (kills < 0 && (cg = vs_cg_open(d->cg, d->cgroup_parent, name)) != NULL) {
		vs_cg_oom_kills(cg, &kills, &err);
		vs_cg_free(cg);
	}
	return kills;
}

void vsd_oom_get(struct vsd *d, const char *name, const char *pool, const struct vs_rt_status *st,
		 struct vsd_oom_info *out)
{
	/* Only the counter: a list asks this of every container. */
	int64_t kills =
	    st != NULL && st->state == VS_RT_RUNNING ? oom_counter(d, name, pool, st) : -1;

	vsd_oom_get_counted(d, name, st, kills, out);
}

/* Set on a request's thread while it reads many containers' OOM records
 * (a list): the kernel log was read once for all of them. */
static __thread bool oom_drained;

void vsd_oom_batch(struct vsd *d, bool begin)
{
	struct vsd_sampler *s = d->sampler;

	oom_drained = false;
	if (!begin || s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	drain_kmsg(s);
	pthread_mutex_unlock(&s->lock);
	oom_drained = true;
}

void vsd_oom_get_counted(struct vsd *d, const char *name, const struct vs_rt_status *st,
			 int64_t kills, struct vsd_oom_info *out)
{
	struct vsd_sampler *s = d->sampler;
	struct vsd_oom_rec local;
	struct cstate *c;

	if (s == NULL) {
		vsd_oom_load(d, name, &local);
		*out = local.info;
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (!oom_drained)
		drain_kmsg(s);
	c = find(s, name, true);
	c->present = true;
	if (!c->oom.loaded)
		vsd_oom_load(d, name, &c->oom);
	if (st != NULL && st->state == VS_RT_RUNNING &&
	    vsd_oom_count(&c->oom, st->started_at, kills))
		vsd_oom_store(d, name, &c->oom);
	*out = c->oom.info;
	pthread_mutex_unlock(&s->lock);
}

void vsd_oom_gen(struct vsd *d, const struct vs_container_config *cfg,
		 const struct vs_rt_status *st, struct vs_jgen *g)
{
	struct vsd_oom_info oi;

	vsd_oom_get(d, cfg->name, cfg->pool, st, &oi);
	vs_jgen_key(g, "oom");
	vs_jgen_obj_open(g);
	vs_jgen_kv_int(g, "kills", oi.kills);
	vs_jgen_key(g, "last_at");
	if (oi.last_at > 0)
		vs_jgen_int(g, oi.last_at);
	else
		vs_jgen_null(g);
	vs_jgen_kv_str(g, "last_command", oi.last_command[0] ? oi.last_command : NULL);
	vs_jgen_obj_close(g);
}

int64_t vsd_sampler_container(struct vsd *d, const char *name, const struct vsd_sample *cur,
			      double *usage_percent)
{
	struct vsd_sampler *s = d->sampler;
	struct cstate *c;
	int64_t r = 0;

	if (usage_percent != NULL)
		*usage_percent = -1;
	if (s == NULL)
		return 0;
	pthread_mutex_lock(&s->lock);
	c = find(s, name, false);
	if (c != NULL) {
		r = c->reclaimed;
		/* Against the newest sample at least half a second old. */
		for (size_t i = c->ns; i-- > 0 && usage_percent != NULL && cur != NULL;) {
			int64_t dt = cur->t_ms - c->s[i].t_ms;
			if (dt < 500)
				continue;
			if (cur->cpu_usec >= c->s[i].cpu_usec && c->s[i].cpu_usec >= 0)
				*usage_percent =
				    (double)(cur->cpu_usec - c->s[i].cpu_usec) / (double)dt / 10.0;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

void vsd_sampler_totals(struct vsd *d, int64_t *bytes, int64_t *count, bool *enabled)
{
	struct vsd_sampler *s = d->sampler;

	*bytes = *count = 0;
	*enabled = false;
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	*bytes = s->total_bytes;
	*count = s->total_count;
	*enabled = s->cfg.enabled;
	pthread_mutex_unlock(&s->lock);
}
