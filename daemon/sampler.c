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
 * "terribly slow" by pressing memory.high). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgroups/vs_cgroups.h"
#include "daemon/daemon.h"
#include "lib/vs_util.h"

/* Samples kept per container (the window plus one). */
#define HISTORY 8
/* Intervals to leave a container alone after a reclaim found little. */
#define BACKOFF_INTERVALS 6
#define MIB		  (INT64_C(1) << 20)

struct cstate {
	char *name;
	int64_t created_at;	      /* a new container of the same name starts afresh */
	struct vsd_sample s[HISTORY]; /* oldest first */
	size_t ns;
	int64_t reclaimed;
	int backoff;
	bool present;
	struct vsd_oom_rec oom;
	struct vsd_oom_line pending; /* last oom-kill line, for the Killed line */
};

struct vsd_sampler {
	struct vsd *d;
	pthread_t thread;
	pthread_mutex_t lock; /* everything below */
	pthread_cond_t wake;
	bool stop;
	struct vsd_idle_cfg cfg;
	struct vsd_idle_params params;
	struct cstate *c;
	size_t n;
	int64_t total_bytes, total_count;
	int kmsg_fd;
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

static struct cstate *find(struct vsd_sampler *s, const char *name, bool add)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->c[i].name, name) == 0)
			return &s->c[i];
	if (!add)
		return NULL;
	s->c = xrealloc(s->c, (s->n + 1) * sizeof(*s->c));
	memset(&s->c[s->n], 0, sizeof(*s->c));
	s->c[s->n].name = xstrdup(name);
	return &s->c[s->n++];
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

static void sample_one(struct vsd_sampler *s, const char *name)
{
	cleanup_config struct vs_container_config cfg = {0};
	struct vs_cg_stats cst;
	struct vs_rt_status st;
	struct vs_error err = {0};
	struct vs_cg *cg;
	struct cstate *c;
	int64_t bytes = 0;
	struct vsd_sample smp = {.t_ms = vs_now_ms()};
	/* Taken before the look, so a start or stop meanwhile wins. */
	uint64_t gen = s->d->events != NULL ? vsd_events_gen(s->d->events, name) : 0;

	if (vsd_store_load(s->d->containers_fd, name, &cfg, &err) < 0 ||
	    vsd_container_status(s->d, name, &st, &err) < 0) {
		vsd_debug("sampler: container %s: %s", name, err.msg);
		return;
	}
	cg = vs_cg_open(s->d->cg, s->d->cgroup_parent, name);
	if (cg == NULL)
		return;
	if (st.state != VS_RT_RUNNING || vs_cg_stats(cg, &cst, &err) < 0) {
		if (st.state == VS_RT_RUNNING)
			vsd_debug("sampler: container %s: %s", name, err.msg);
		vs_cg_free(cg);
		pthread_mutex_lock(&s->lock);
		c = find(s, name, true);
		c->present = true;
		c->ns = 0;
		pthread_mutex_unlock(&s->lock);
		return;
	}
	if (s->d->events != NULL)
		vsd_events_observe(s->d->events, name, true, gen, (int64_t)time(NULL));
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
	push_sample(c, &smp);
	if (!c->oom.loaded)
		vsd_oom_load(s->d, name, &c->oom);
	if (vsd_oom_count(&c->oom, st.started_at, cst.oom_kills))
		vsd_oom_store(s->d, name, &c->oom);
	if (c->backoff > 0)
		c->backoff--;
	else if (s->cfg.enabled && cfg.idle_reclaim)
		bytes = vsd_idle_decide(&s->params, c->s, c->ns, cfg.limits.memory_min);
	pthread_mutex_unlock(&s->lock);
	vsd_usage_observe(s->d, &cfg, st.started_at, &cst, VSD_USAGE_SAMPLER, NULL);
	if (bytes > 0)
		reclaim(s, &cfg, cg, bytes);
	vs_cg_free(cg);
}

static void sweep(struct vsd_sampler *s)
{
	cleanup_strv char **names = NULL;
	struct vs_error err = {0};

	if (vsd_store_list(s->d->containers_fd, &names, &err) < 0) {
		vsd_log("sampler: %s", err.msg);
		return;
	}
	for (size_t i = 0; names[i] != NULL; i++)
		sample_one(s, names[i]);
	pthread_mutex_lock(&s->lock);
	prune(s);
	pthread_mutex_unlock(&s->lock);
}

/* Containers that stop behind vsd's back (init exits, the monitor writes
 * state.json): every second, the ones the event bus last reported running
 * are looked at (a state.json read and a pid check each), and a stop is
 * reported once (vsd_events_observe drops a look that raced the daemon's
 * own start or stop). Called without the sampler lock. */
static void watch_stops(struct vsd_sampler *s)
{
	cleanup_strv char **names = NULL;
	cleanup_free uint64_t *gens = NULL;
	size_t n;

	if (s->d->events == NULL)
		return;
	n = vsd_events_watch_list(s->d->events, &names, &gens);
	for (size_t i = 0; i < n; i++) {
		struct vs_rt_status st;
		struct vs_error err = {0};
		if (vsd_container_status(s->d, names[i], &st, &err) < 0) {
			if (err.kind == VS_EK_NOT_FOUND)
				vsd_events_forget(s->d->events, names[i]);
			continue;
		}
		if (st.state == VS_RT_STOPPED)
			vsd_events_observe(s->d->events, names[i], false, gens[i],
					   (int64_t)time(NULL));
	}
}

static void *sampler_main(void *arg)
{
	struct vsd_sampler *s = arg;
	int64_t next = vs_now_ms();

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		struct timespec ts;
		drain_kmsg(s);
		pthread_mutex_unlock(&s->lock);
		watch_stops(s);
		pthread_mutex_lock(&s->lock);
		if (vs_now_ms() >= next) {
			pthread_mutex_unlock(&s->lock);
			sweep(s);
			pthread_mutex_lock(&s->lock);
			next += (int64_t)s->cfg.interval_s * 1000;
			if (next < vs_now_ms())
				next = vs_now_ms() + (int64_t)s->cfg.interval_s * 1000;
		}
		/* The kernel log is read every second, whatever the interval. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&s->wake, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int vsd_sampler_start(struct vsd *d, const struct vsd_idle_cfg *cfg, struct vs_error *err)
{
	struct vsd_sampler *s = xcalloc(1, sizeof(*s));
	int r;

	s->d = d;
	s->cfg = *cfg;
	vsd_idle_params_default(cfg, &s->params);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	/* From now on: what the kernel logged before is not this run's news. */
	s->kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (s->kmsg_fd < 0)
		vsd_log("open /dev/kmsg: %s (OOM kills are counted but not named)",
			strerror(errno));
	else if (lseek(s->kmsg_fd, 0, SEEK_END) < 0)
		vsd_log("seek /dev/kmsg: %s", strerror(errno));
	r = pthread_create(&s->thread, NULL, sampler_main, s);
	if (r != 0) {
		vs_closep(&s->kmsg_fd);
		free(s);
		return vs_error_set(err, r, "start the sampler thread");
	}
	d->sampler = s;
	return 0;
}

void vsd_sampler_stop(struct vsd_sampler *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	for (size_t i = 0; i < s->n; i++)
		free(s->c[i].name);
	free(s->c);
	vs_closep(&s->kmsg_fd);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->wake);
	free(s);
}

/* ---- readers for the REST layer -------------------------------------- */

void vsd_oom_get(struct vsd *d, const char *name, const struct vs_rt_status *st,
		 struct vsd_oom_info *out)
{
	struct vsd_sampler *s = d->sampler;
	struct vs_cg_stats cst;
	struct vsd_oom_rec local;
	struct vs_error err = {0};
	struct vs_cg *cg = NULL;
	struct cstate *c;

	vs_cg_stats_init(&cst);
	if (st != NULL && st->state == VS_RT_RUNNING &&
	    (cg = vs_cg_open(d->cg, d->cgroup_parent, name)) != NULL)
		vs_cg_stats(cg, &cst, &err);
	vs_cg_free(cg);
	if (s == NULL) {
		vsd_oom_load(d, name, &local);
		*out = local.info;
		return;
	}
	pthread_mutex_lock(&s->lock);
	drain_kmsg(s);
	c = find(s, name, true);
	c->present = true;
	if (!c->oom.loaded)
		vsd_oom_load(d, name, &c->oom);
	if (st != NULL && st->state == VS_RT_RUNNING &&
	    vsd_oom_count(&c->oom, st->started_at, cst.oom_kills))
		vsd_oom_store(d, name, &c->oom);
	*out = c->oom.info;
	pthread_mutex_unlock(&s->lock);
}

void vsd_oom_gen(struct vsd *d, const char *name, const struct vs_rt_status *st, struct vs_jgen *g)
{
	struct vsd_oom_info oi;

	vsd_oom_get(d, name, st, &oi);
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
