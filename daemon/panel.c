/* The hosting panel's provisioning cycle: lock and unlock (a panel's
 * suspension for non-payment). "Locked" is deliberately not called
 * "suspend": POST /v1/containers/{name}/suspend is the CRIU suspend (the
 * processes frozen to an image and resumed later), while a locked
 * container is simply stopped and refused every start until unlocked.
 * The lock lives in config.json, so it survives vsd restarts and host
 * reboots; recovery never starts a container anyway. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/handlers.h"
#include "fs-cow/vs_fs.h"
#include "lib/vs_util.h"

/* Seconds a lock waits for the container's init to stop cleanly before
 * killing it (the default of PUT .../state {"action": "stop"}). */
#define LOCK_STOP_TIMEOUT 30

int vsd_check_unlocked(const struct vs_container_config *cfg, struct vs_error *err)
{
	if (cfg->locked_at <= 0)
		return 0;
	return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' is locked: %s", cfg->name,
			     cfg->locked_reason[0] != '\0' ? cfg->locked_reason
							   : "(no reason given)");
}

int vsd_panel_store_config(struct vsd *d, const struct vs_container_config *cfg,
			   struct vs_error *err)
{
	cleanup_close int dfd =
	    openat(d->containers_fd, cfg->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (dfd < 0)
		return vs_error_set(err, errno, "open containers/%s", cfg->name);
	return vsd_store_write_config(dfd, cfg, err);
}

/* Lock body: {"reason": S?} (empty body: no reason). Control characters
 * are refused: the reason goes into error messages and logs. */
static int parse_lock(const struct vsd_call *c, char *reason, size_t len, struct vs_error *err)
{
	static const char *const keys[] = {"reason", NULL};
	cleanup_json struct vs_json *body = NULL;
	const struct vs_json *v;
	const char *s;

	reason[0] = '\0';
	if (vsd_parse_body(c->body, c->body_len, true, &body, err) < 0 ||
	    vsd_check_fields(body, keys, err) < 0)
		return -1;
	v = vs_json_get(body, "reason");
	if (v == NULL || vs_json_type(v) == VS_JSON_NULL)
		return 0;
	if ((s = vs_json_string(v)) == NULL)
		return vs_error_kind(err, VS_EK_INVALID, "reason: expected a string");
	if (strlen(s) >= len)
		return vs_error_kind(err, VS_EK_INVALID, "reason: longer than %zu characters",
				     len - 1);
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return vs_error_kind(err, VS_EK_INVALID,
					     "reason: control characters are not allowed");
	snprintf(reason, len, "%s", s);
	return 0;
}

/* Unlock body: {"start": bool?}. */
static int parse_unlock(const struct vsd_call *c, bool *start, struct vs_error *err)
{
	static const char *const keys[] = {"start", NULL};
	cleanup_json struct vs_json *body = NULL;
	const struct vs_json *v;

	*start = false;
	if (vsd_parse_body(c->body, c->body_len, true, &body, err) < 0 ||
	    vsd_check_fields(body, keys, err) < 0)
		return -1;
	v = vs_json_get(body, "start");
	if (v != NULL && vs_json_type(v) != VS_JSON_NULL && !vs_json_bool(v, start))
		return vs_error_kind(err, VS_EK_INVALID, "start: expected true or false");
	return 0;
}

/* With the container's lock held: stop it if it runs (cleanly, as stop
 * does), then record the lock. A second lock only replaces the reason
 * (the time stays that of the first). A CRIU-suspended container keeps
 * its image: resuming it is refused while it is locked. */
static int lock_locked(struct vsd *d, const char *name, const char *reason, struct vs_error *err)
{
	cleanup_config struct vs_container_config cfg = {0};
	struct vs_rt_status st;

	if (vsd_store_load(d->containers_fd, name, &cfg, err) < 0 ||
	    vsd_container_status(d, name, &st, err) < 0)
		return -1;
	if (st.state != VS_RT_STOPPED && st.state != VS_RT_SUSPENDED &&
	    vsd_container_stop(d, &cfg, LOCK_STOP_TIMEOUT, err) < 0)
		return vs_error_prefix(err, "lock '%s' (not locked)", name);
	if (cfg.locked_at <= 0)
		cfg.locked_at = (int64_t)time(NULL);
	snprintf(cfg.locked_reason, sizeof(cfg.locked_reason), "%s", reason);
	if (vsd_panel_store_config(d, &cfg, err) < 0)
		return vs_error_prefix(err, "lock '%s' (stopped, but not locked)", name);
	return 0;
}

/* With the container's lock held: clear the lock (fine when there is
 * none), then start it when asked and it is stopped. */
static int unlock_locked(struct vsd *d, const char *name, bool start, struct vs_error *err)
{
	cleanup_config struct vs_container_config cfg = {0};
	struct vs_rt_status st;

	if (vsd_store_load(d->containers_fd, name, &cfg, err) < 0 ||
	    vsd_container_status(d, name, &st, err) < 0)
		return -1;
	if (cfg.locked_at > 0) {
		cfg.locked_at = 0;
		cfg.locked_reason[0] = '\0';
		if (vsd_panel_store_config(d, &cfg, err) < 0)
			return vs_error_prefix(err, "unlock '%s'", name);
	}
	if (start && st.state == VS_RT_STOPPED && vsd_container_start(d, &cfg, err) < 0)
		return vs_error_prefix(err, "unlocked '%s', but start", name);
	return 0;
}

/* The reply of lock and unlock: the container's status. */
static int reply_status(struct vsd_call *c, const char *name, struct vsd_reply *out,
			struct vs_error *err)
{
	cleanup_config struct vs_container_config cfg = {0};
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);

	if (vsd_store_load(c->d->containers_fd, name, &cfg, err) < 0 ||
	    vsd_gen_loaded(c->d, &cfg, g, err) < 0 ||
	    vsd_container_etag(c->d, name, out->etag, err) < 0)
		return -1;
	vsd_reply_json(out, 200, g);
	return 0;
}

int vsd_h_container_lock(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	const char *name = c->m->params[0];
	char reason[VS_LOCK_REASON_MAX + 1];
	int r;

	if (parse_lock(c, reason, sizeof(reason), err) < 0)
		return -1;
	if (vsd_names_lock(c->d->names, name, "stopping", err) < 0)
		return -1;
	r = lock_locked(c->d, name, reason, err);
	vsd_names_unlock(c->d->names, name);
	if (r < 0)
		return -1;
	vsd_log("container %s: locked", name);
	vsd_emit(c->d, VSD_EV_CONTAINER_UPDATED, name, NULL);
	return reply_status(c, name, out, err);
}

int vsd_h_container_unlock(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	const char *name = c->m->params[0];
	bool start;
	int r;

	if (parse_unlock(c, &start, err) < 0)
		return -1;
	if (vsd_names_lock(c->d->names, name, start ? "starting" : NULL, err) < 0)
		return -1;
	r = unlock_locked(c->d, name, start, err);
	vsd_names_unlock(c->d->names, name);
	if (r < 0)
		return -1;
	vsd_log("container %s: unlocked", name);
	vsd_emit(c->d, VSD_EV_CONTAINER_UPDATED, name, NULL);
	return reply_status(c, name, out, err);
}

/* ?since=UNIX_SECONDS: absent is -1 (since creation). */
static int parse_since(const char *v, int64_t *since, struct vs_error *err)
{
	char *end;
	long long n;

	*since = -1;
	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0)
		return vs_error_kind(err, VS_EK_INVALID,
				     "since: expected unix seconds (a non-negative integer)");
	*since = n;
	return 0;
}

static void kv_or_null(struct vs_jgen *g, const char *key, int64_t v)
{
	vs_jgen_key(g, key);
	if (v >= 0)
		vs_jgen_int(g, v);
	else
		vs_jgen_null(g);
}

static void gen_usage(struct vsd *d, struct vs_jgen *g, const struct vs_container_config *cfg,
		      const struct vsd_ledger_counters *u, int64_t from, int64_t since,
		      const struct vs_cg_stats *cst)
{
	cleanup_free char *cdir = xasprintf("%s/containers/%s", d->root, cfg->name);
	int64_t used = -1, total, iused = -1, itotal;
	struct vs_error e = {0};

	if (vs_fs_disk_usage(cdir, &used, &total, &iused, &itotal, &e) < 0)
		used = iused = -1;
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "name", cfg->name);
	kv_or_null(g, "since", since);
	vs_jgen_kv_int(g, "from", from);
	vs_jgen_kv_int(g, "to", (int64_t)time(NULL));
	vs_jgen_key(g, "cpu_seconds");
	vs_jgen_double(g, (double)u->cpu_usec / 1e6);
	vs_jgen_key(g, "memory");
	vs_jgen_obj_open(g);
	kv_or_null(g, "current_bytes", cst->memory_current);
	kv_or_null(g, "peak_bytes", cst->memory_peak);
	vs_jgen_obj_close(g);
	vs_jgen_key(g, "disk");
	vs_jgen_obj_open(g);
	kv_or_null(g, "used_bytes", used);
	kv_or_null(g, "inodes_used", iused);
	vs_jgen_obj_close(g);
	vs_jgen_key(g, "net");
	vs_jgen_obj_open(g);
	for (size_t i = 0; i < u->nnet; i++) {
		vs_jgen_key(g, u->net[i].name);
		vs_jgen_obj_open(g);
		vs_jgen_kv_int(g, "rx_bytes", u->net[i].rx_bytes);
		vs_jgen_kv_int(g, "tx_bytes", u->net[i].tx_bytes);
		vs_jgen_obj_close(g);
	}
	vs_jgen_obj_close(g);
	vs_jgen_obj_close(g);
}

int vsd_h_container_usage(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_config struct vs_container_config cfg = {0};
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_free struct vsd_ledger *l = xcalloc(1, sizeof(*l));
	struct vsd_ledger_counters u;
	struct vs_cg_stats cst;
	int64_t since, from;

	if (parse_since(vsd_call_query(c, "since"), &since, err) < 0 ||
	    vsd_store_load(c->d->containers_fd, c->m->params[0], &cfg, err) < 0)
		return -1;
	vsd_usage_record(c->d, &cfg, VSD_USAGE_READ, l, &cst);
	vsd_ledger_since(l, since >= 0 ? since : 0, cfg.created_at, &u, &from);
	gen_usage(c->d, g, &cfg, &u, from, since, &cst);
	vsd_reply_json(out, 200, g);
	return 0;
}
