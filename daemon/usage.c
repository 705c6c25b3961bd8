/* The usage ledger a hosting panel bills from (containers/NAME/usage.json).
 *
 * The kernel's counters (CPU time of the container's cgroup, bytes of its
 * node-side links) start again at zero with every start of the container.
 * The ledger adds them up over runs: `base` holds what finished runs used,
 * `run` the newest reading of the current run (known by its start time),
 * so the total is base + run and a stop that nobody saw loses at most
 * what happened since the last reading. Readings come from the sampler
 * (persisted at most once a minute), from every stop (just before the
 * cgroup goes) and from each GET .../usage. Samples of the total (hourly,
 * and at each stop; at most VSD_LEDGER_SAMPLES_MAX, the oldest dropped)
 * answer "since T": total now minus the newest sample at or before T. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"

#define LEDGER_FILE "usage.json"
/* Seconds between two samples, and between two writes by the sampler. */
#define SAMPLE_EVERY  3600
#define PERSIST_EVERY 60
/* The sampler reads every container in a round once a minute by its own
 * clock; `written` is in whole seconds, so two rounds 60.0 s apart may
 * show 59: a second of slack, or the change waits a round more. */
#define PERSIST_SLACK 1

/* One lock for every ledger file: readings come from the sampler thread
 * and from request threads, and each is a read-modify-write. */
static pthread_mutex_t ledger_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- arithmetic (pure) ------------------------------------------------- */

static struct vsd_ledger_net *net_find(struct vsd_ledger_counters *c, const char *name, bool add)
{
	for (size_t i = 0; i < c->nnet; i++)
		if (strcmp(c->net[i].name, name) == 0)
			return &c->net[i];
	if (!add || c->nnet >= VSD_LEDGER_NET_MAX)
		return NULL;
	memset(&c->net[c->nnet], 0, sizeof(c->net[0]));
	snprintf(c->net[c->nnet].name, sizeof(c->net[0].name), "%s", name);
	return &c->net[c->nnet++];
}

/* a += b (interfaces by name). */
static void counters_add(struct vsd_ledger_counters *a, const struct vsd_ledger_counters *b)
{
	a->cpu_usec += b->cpu_usec;
	for (size_t i = 0; i < b->nnet; i++) {
		struct vsd_ledger_net *n = net_find(a, b->net[i].name, true);
		if (n != NULL) {
			n->rx_bytes += b->net[i].rx_bytes;
			n->tx_bytes += b->net[i].tx_bytes;
		}
	}
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

void vsd_ledger_observe(struct vsd_ledger *l, int64_t started_at,
			const struct vsd_ledger_counters *r)
{
	if (l->run_started_at != started_at) {
		/* A new run: the old one is finished, whatever it last showed. */
		counters_add(&l->base, &l->run);
		memset(&l->run, 0, sizeof(l->run));
		l->run_started_at = started_at;
	}
	/* Counters of one run only grow; a smaller reading is a glitch. */
	l->run.cpu_usec = max64(l->run.cpu_usec, r->cpu_usec);
	for (size_t i = 0; i < r->nnet; i++) {
		struct vsd_ledger_net *n = net_find(&l->run, r->net[i].name, true);
		if (n != NULL) {
			n->rx_bytes = max64(n->rx_bytes, r->net[i].rx_bytes);
			n->tx_bytes = max64(n->tx_bytes, r->net[i].tx_bytes);
		}
	}
}

void vsd_ledger_total(const struct vsd_ledger *l, struct vsd_ledger_counters *out)
{
	*out = l->base;
	counters_add(out, &l->run);
}

bool vsd_ledger_sample(struct vsd_ledger *l, int64_t now, bool force)
{
	struct vsd_ledger_sample *s;

	if (!force && l->nsamples > 0 && now - l->samples[l->nsamples - 1].t < SAMPLE_EVERY)
		return false;
	if (l->nsamples == VSD_LEDGER_SAMPLES_MAX) {
		memmove(&l->samples[0], &l->samples[1], (l->nsamples - 1) * sizeof(l->samples[0]));
		l->nsamples--;
		l->trimmed = true;
	}
	s = &l->samples[l->nsamples++];
	s->t = now;
	vsd_ledger_total(l, &s->c);
	return true;
}

void vsd_ledger_since(const struct vsd_ledger *l, int64_t since, int64_t created_at,
		      struct vsd_ledger_counters *out, int64_t *from)
{
	const struct vsd_ledger_sample *at = NULL;

	vsd_ledger_total(l, out);
	*from = created_at;
	for (size_t i = 0; i < l->nsamples && l->samples[i].t <= since; i++)
		at = &l->samples[i];
	/* Before every sample: since creation, unless older ones are gone. */
	if (at == NULL && l->trimmed && l->nsamples > 0)
		at = &l->samples[0];
	if (at == NULL)
		return;
	*from = at->t;
	out->cpu_usec = max64(0, out->cpu_usec - at->c.cpu_usec);
	for (size_t i = 0; i < out->nnet; i++) {
		const struct vsd_ledger_net *b = NULL;
		for (size_t j = 0; j < at->c.nnet; j++)
			if (strcmp(at->c.net[j].name, out->net[i].name) == 0)
				b = &at->c.net[j];
		if (b != NULL) {
			out->net[i].rx_bytes = max64(0, out->net[i].rx_bytes - b->rx_bytes);
			out->net[i].tx_bytes = max64(0, out->net[i].tx_bytes - b->tx_bytes);
		}
	}
}

/* ---- JSON ---------------------------------------------------------------- */

static void gen_counters(struct vs_jgen *g, const struct vsd_ledger_counters *c)
{
	vs_jgen_obj_open(g);
	vs_jgen_kv_int(g, "cpu_usec", c->cpu_usec);
	vs_jgen_key(g, "net");
	vs_jgen_obj_open(g);
	for (size_t i = 0; i < c->nnet; i++) {
		vs_jgen_key(g, c->net[i].name);
		vs_jgen_obj_open(g);
		vs_jgen_kv_int(g, "rx_bytes", c->net[i].rx_bytes);
		vs_jgen_kv_int(g, "tx_bytes", c->net[i].tx_bytes);
		vs_jgen_obj_close(g);
	}
	vs_jgen_obj_close(g);
	vs_jgen_obj_close(g);
}

char *vsd_ledger_gen(const struct vsd_ledger *l)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);

	vs_jgen_obj_open(g);
	vs_jgen_kv_int(g, "version", 1);
	vs_jgen_kv_int(g, "written", l->written);
	vs_jgen_key(g, "base");
	gen_counters(g, &l->base);
	vs_jgen_kv_int(g, "run_started_at", l->run_started_at);
	vs_jgen_kv_bool(g, "trimmed", l->trimmed);
	vs_jgen_key(g, "run");
	gen_counters(g, &l->run);
	vs_jgen_key(g, "samples");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < l->nsamples; i++) {
		vs_jgen_obj_open(g);
		vs_jgen_kv_int(g, "t", l->samples[i].t);
		vs_jgen_key(g, "c");
		gen_counters(g, &l->samples[i].c);
		vs_jgen_obj_close(g);
	}
	vs_jgen_arr_close(g);
	vs_jgen_obj_close(g);
	return vs_jgen_steal(g);
}

static bool get_nonneg(const struct vs_json *v, int64_t *out)
{
	return vs_json_int64(v, out) && *out >= 0;
}

static int parse_counters(const struct vs_json *v, struct vsd_ledger_counters *c)
{
	const struct vs_json *net = vs_json_get(v, "net");

	memset(c, 0, sizeof(*c));
	if (!get_nonneg(vs_json_get(v, "cpu_usec"), &c->cpu_usec) ||
	    vs_json_type(net) != VS_JSON_OBJECT)
		return -1;
	for (size_t i = 0; i < vs_json_object_len(net) && c->nnet < VSD_LEDGER_NET_MAX; i++) {
		const char *name = vs_json_object_key(net, i);
		const struct vs_json *n = vs_json_object_value(net, i);
		struct vsd_ledger_net *e = &c->net[c->nnet];
		if (name == NULL || strlen(name) >= sizeof(e->name) ||
		    !get_nonneg(vs_json_get(n, "rx_bytes"), &e->rx_bytes) ||
		    !get_nonneg(vs_json_get(n, "tx_bytes"), &e->tx_bytes))
			return -1;
		snprintf(e->name, sizeof(e->name), "%s", name);
		c->nnet++;
	}
	return 0;
}

int vsd_ledger_parse(const char *text, struct vsd_ledger *l, struct vs_error *err)
{
	cleanup_json struct vs_json *j = NULL;
	const struct vs_json *arr;

	memset(l, 0, sizeof(*l));
	if (vs_json_parse(text, &j, err) < 0)
		return -1;
	arr = vs_json_get(j, "samples");
	if (!vs_json_int64(vs_json_get(j, "written"), &l->written) ||
	    !vs_json_int64(vs_json_get(j, "run_started_at"), &l->run_started_at) ||
	    parse_counters(vs_json_get(j, "base"), &l->base) < 0 ||
	    parse_counters(vs_json_get(j, "run"), &l->run) < 0 ||
	    vs_json_type(arr) != VS_JSON_ARRAY)
		goto bad;
	if (!vs_json_bool(vs_json_get(j, "trimmed"), &l->trimmed))
		l->trimmed = false;
	for (size_t i = 0; i < vs_json_array_len(arr) && i < VSD_LEDGER_SAMPLES_MAX; i++) {
		const struct vs_json *s = vs_json_array_at(arr, i);
		struct vsd_ledger_sample *o = &l->samples[l->nsamples];
		if (!get_nonneg(vs_json_get(s, "t"), &o->t) ||
		    parse_counters(vs_json_get(s, "c"), &o->c) < 0)
			goto bad;
		l->nsamples++;
	}
	return 0;
bad:
	memset(l, 0, sizeof(*l));
	return vs_error_kind(err, VS_EK_INVALID, "usage ledger: malformed");
}

/* ---- the files ---------------------------------------------------------- */

/* containers/NAME/usage.json into *l (an empty ledger when there is none
 * or it cannot be read: billing then starts again rather than failing). */
static void ledger_load(int cfd, const char *name, struct vsd_ledger *l)
{
	cleanup_free char *text = NULL;
	struct vs_error e = {0};

	memset(l, 0, sizeof(*l));
	if (vs_read_file_at(cfd, LEDGER_FILE, 4 << 20, &text, NULL, &e) < 0) {
		if (e.errnum != ENOENT)
			vsd_log("container %s: usage ledger: %s", name, e.msg);
		return;
	}
	if (vsd_ledger_parse(text, l, &e) < 0)
		vsd_log("container %s: %s (started again)", name, e.msg);
}

static bool ledger_store(int cfd, const char *name, struct vsd_ledger *l)
{
	cleanup_free char *text = NULL;
	struct vs_error e = {0};

	l->written = (int64_t)time(NULL);
	text = vsd_ledger_gen(l);
	if (vs_atomic_write_at(cfd, LEDGER_FILE, text, strlen(text), 0600, &e) < 0) {
		vsd_log("container %s: usage ledger: %s", name, e.msg);
		return false;
	}
	return true;
}

void vsd_usage_reading(const struct vs_container_config *cfg, const struct vs_cg_stats *cst,
		       const struct vs_net_stats_table *links, struct vsd_ledger_counters *r)
{
	memset(r, 0, sizeof(*r));
	r->cpu_usec = cst->cpu_usage_usec > 0 ? cst->cpu_usage_usec : 0;
	for (size_t i = 0; i < cfg->net.nifaces && r->nnet < VSD_LEDGER_NET_MAX; i++) {
		struct vs_net_ifstats st;
		struct vs_error e = {0};
		/* Either way a link that is gone reads as zeros (the ledger
		 * keeps the largest reading of a run). */
		if ((links != NULL ? vs_net_stats_of(links, &cfg->net, i, &st, &e)
				   : vs_net_traffic(&cfg->net, i, &st, &e)) < 0)
			continue;
		snprintf(r->net[r->nnet].name, sizeof(r->net[0].name), "%s",
			 cfg->net.ifaces[i].name);
		/* The node side's egress is what the container received. */
		r->net[r->nnet].rx_bytes = (int64_t)st.ingress_bytes;
		r->net[r->nnet].tx_bytes = (int64_t)st.egress_bytes;
		r->nnet++;
	}
}

bool vsd_usage_observe(struct vsd *d, const struct vs_container_config *cfg, int64_t started_at,
		       const struct vsd_ledger_counters *r, enum vsd_usage_when when,
		       struct vsd_ledger *out)
{
	cleanup_close int cfd =
	    openat(d->containers_fd, cfg->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct vsd_ledger *l = xcalloc(1, sizeof(*l));
	int64_t now = (int64_t)time(NULL);
	bool dirty, changed = false, held = true;

	if (cfd < 0) {
		free(l);
		return false;
	}
	pthread_mutex_lock(&ledger_lock);
	ledger_load(cfd, cfg->name, l);
	if (r != NULL && started_at > 0) {
		/* The counters are zeroed before they are filled: memcmp is
		 * exact. */
		struct vsd_ledger_counters run = l->run;
		int64_t run_at = l->run_started_at;
		vsd_ledger_observe(l, started_at, r);
		changed = run_at != l->run_started_at || memcmp(&run, &l->run, sizeof(run)) != 0;
	}
	dirty = vsd_ledger_sample(l, now, when == VSD_USAGE_STOP);
	/* A sampler's reading that changes nothing is not written (an idle
	 * container's ledger stays as it is); one that does is written at
	 * most once a minute. */
	if (dirty || when != VSD_USAGE_SAMPLER ||
	    (changed && now - l->written >= PERSIST_EVERY - PERSIST_SLACK))
		held = ledger_store(cfd, cfg->name, l);
	else if (changed)
		held = false;
	pthread_mutex_unlock(&ledger_lock);
	if (out != NULL)
		memcpy(out, l, sizeof(*l));
	free(l);
	return held;
}

bool vsd_usage_take(struct vsd *d, const struct vs_container_config *cfg,
		    struct vsd_ledger_counters *r, int64_t *started_at, struct vs_cg_stats *cst_out)
{
	struct vs_cg_stats cst;
	struct vs_rt_status st;
	struct vs_error e = {0};
	struct vs_cg *cg = NULL;
	bool have = false;

	vs_cg_stats_init(&cst);
	if (vsd_container_status(d, cfg->name, &st, &e) == 0 && st.state == VS_RT_RUNNING &&
	    (cg = vs_cg_open(d->cg, d->cgroup_parent, cfg->name)) != NULL)
		have = (cst_out != NULL ? vs_cg_stats(cg, &cst, &e)
					: vs_cg_cpu_stats(cg, &cst, &e)) == 0 &&
		       cst.cpu_usage_usec >= 0;
	vs_cg_free(cg);
	if (have) {
		vsd_usage_reading(cfg, &cst, NULL, r);
		*started_at = st.started_at;
	}
	if (cst_out != NULL)
		*cst_out = cst;
	return have;
}

void vsd_usage_record(struct vsd *d, const struct vs_container_config *cfg,
		      enum vsd_usage_when when, struct vsd_ledger *out, struct vs_cg_stats *cst_out)
{
	struct vsd_ledger_counters r;
	int64_t started_at = 0;
	bool have = vsd_usage_take(d, cfg, &r, &started_at, cst_out);

	vsd_usage_observe(d, cfg, have ? started_at : 0, have ? &r : NULL, when, out);
}
