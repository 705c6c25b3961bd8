/* The CRIU probe: what the configured CRIU can do on this kernel, asked
 * once at startup in a background thread (each step of vs_mig_probe may
 * take up to its timeout, and recovery and serving need not wait for it),
 * kept for GET /v1/node and for refusing checkpoint requests early. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "lib/vs_util.h"
#include "migrate/vs_migrate.h"

struct vsd_criu {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool have_thread;
	bool done;  /* under lock */
	char *path; /* NULL: none configured or found */
	struct vs_mig_caps caps;
};

static void log_result(const struct vsd_criu *c)
{
	const struct vs_mig_caps *k = &c->caps;

	if (!k->available) {
		vsd_log("criu: checkpoint/restore unavailable: %s", k->available_msg);
		return;
	}
	vsd_log("criu %s %s: checkpoint yes, lazy pages %s, memory tracking %s, network lock %s",
		c->path, k->version[0] ? k->version : "(unknown version)",
		k->lazy_pages ? "yes" : "no", k->mem_tracking ? "yes" : "no",
		vs_mig_netlock_name(k->network_lock));
}

static void *probe_thread(void *arg)
{
	struct vsd_criu *c = arg;
	struct vs_mig_caps caps;
	struct vs_error err = {0};

	if (vs_mig_probe(c->path, &caps, &err) < 0) {
		/* The probe could not run at all: report CRIU unusable with
		 * that reason rather than leaving the node without an answer. */
		memset(&caps, 0, sizeof(caps));
		snprintf(caps.available_msg, sizeof(caps.available_msg), "%s", err.msg);
	}
	pthread_mutex_lock(&c->lock);
	c->caps = caps;
	c->done = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	log_result(c);
	return NULL;
}

struct vsd_criu *vsd_criu_start(const char *path)
{
	struct vsd_criu *c = xcalloc(1, sizeof(*c));
	int r;

	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->path = path ? xstrdup(path) : NULL;
	r = pthread_create(&c->thread, NULL, probe_thread, c);
	if (r == 0) {
		c->have_thread = true;
		return c;
	}
	snprintf(c->caps.available_msg, sizeof(c->caps.available_msg),
		 "the CRIU probe could not start: %s", strerror(r));
	c->done = true;
	log_result(c);
	return c;
}

void vsd_criu_free(struct vsd_criu *c)
{
	if (c == NULL)
		return;
	if (c->have_thread)
		pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c->path);
	free(c);
}

/* A copy of the caps once the probe is done. */
static void wait_caps(struct vsd_criu *c, struct vs_mig_caps *caps)
{
	pthread_mutex_lock(&c->lock);
	while (!c->done)
		pthread_cond_wait(&c->cond, &c->lock);
	*caps = c->caps;
	pthread_mutex_unlock(&c->lock);
}

/* The messages hold CRIU's own output: sanitized, as any text from a
 * program that may not print UTF-8. */
static void gen_msg(struct vs_jgen *g, bool have, const char *msg)
{
	cleanup_free char *clean = NULL;

	if (have || msg[0] == '\0')
		return;
	clean = vsd_sanitize(msg, VS_MIG_MSG_MAX);
	vs_jgen_str(g, clean);
}

void vsd_criu_gen(struct vsd_criu *c, struct vs_jgen *g)
{
	cleanup_free char *path = c->path ? vsd_sanitize(c->path, 4096) : NULL;
	struct vs_mig_caps k;
	bool netlock;

	wait_caps(c, &k);
	netlock = k.network_lock != VS_MIG_NETLOCK_NONE;
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "path", path);
	vs_jgen_kv_str(g, "version", k.version[0] ? k.version : NULL);
	vs_jgen_kv_bool(g, "available", k.available);
	vs_jgen_key(g, "features");
	vs_jgen_obj_open(g);
	vs_jgen_kv_bool(g, "checkpoint", k.available);
	vs_jgen_kv_bool(g, "lazy_pages", k.lazy_pages);
	vs_jgen_kv_bool(g, "mem_tracking", k.mem_tracking);
	vs_jgen_kv_bool(g, "network_lock", netlock);
	vs_jgen_obj_close(g);
	vs_jgen_kv_str(g, "network_lock_method", vs_mig_netlock_name(k.network_lock));
	vs_jgen_key(g, "messages");
	vs_jgen_arr_open(g);
	gen_msg(g, k.available, k.available_msg);
	/* Without a usable CRIU nothing else was asked: one reason is enough. */
	if (k.available) {
		gen_msg(g, k.lazy_pages, k.lazy_pages_msg);
		gen_msg(g, k.mem_tracking, k.mem_tracking_msg);
		gen_msg(g, netlock, k.network_lock_msg);
	}
	vs_jgen_arr_close(g);
	vs_jgen_obj_close(g);
}

int vsd_criu_check(struct vsd_criu *c, struct vs_error *err)
{
	struct vs_mig_caps k;

	wait_caps(c, &k);
	if (!k.available)
		return vs_error_kind(err, VS_EK_UNSUPPORTED,
				     "checkpoint/restore is unavailable: %s", k.available_msg);
	return 0;
}

/* The caps once CRIU is usable: 0, or -1 with vsd_criu_check's error. */
static int usable_caps(struct vsd_criu *c, struct vs_mig_caps *k, struct vs_error *err)
{
	if (vsd_criu_check(c, err) < 0)
		return -1;
	wait_caps(c, k);
	return 0;
}

int vsd_criu_check_tracking(struct vsd_criu *c, struct vs_error *err)
{
	struct vs_mig_caps k;

	if (usable_caps(c, &k, err) < 0)
		return -1;
	return k.mem_tracking ? 0
			      : vs_error_kind(err, VS_EK_UNSUPPORTED,
					      "this node's kernel does not track dirty memory (%s)",
					      k.mem_tracking_msg);
}

int vsd_criu_check_lazy(struct vsd_criu *c, struct vs_error *err)
{
	struct vs_mig_caps k;

	if (usable_caps(c, &k, err) < 0)
		return -1;
	return k.lazy_pages ? 0 : vs_error_kind(err, VS_EK_UNSUPPORTED, "%s", k.lazy_pages_msg);
}

void vsd_criu_version(struct vsd_criu *c, char *out, size_t len)
{
	struct vs_mig_caps k;

	wait_caps(c, &k);
	snprintf(out, len, "%s", k.available ? k.version : "");
}

const char *vsd_criu_netlock(struct vsd_criu *c)
{
	struct vs_mig_caps k;

	wait_caps(c, &k);
	return vs_mig_dump_netlock(&k);
}
