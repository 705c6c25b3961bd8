/* Operations: long work (template build, import) runs in a worker thread
 * and is polled through GET /v1/operations/ID. The registry is a small
 * list under one mutex; finished operations are forgotten after
 * VSD_OP_KEEP_SECONDS. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/log.h"
#include "daemon/ops.h"
#include "lib/vs_util.h"

#define OP_LINE_MAX 1024

struct vsd_op {
	struct vsd_op *next;
	uint64_t id;
	char *kind;
	char *target;
	char *owner; /* the owner-scoped credential that started it, or NULL */
	enum vsd_op_status status;
	char **progress;
	size_t nprogress, cap;
	struct vs_error err;
	char *result_json;
	int64_t created_at, finished_at;
	/* Cancellation: cancel(cancel_ud) when set, else nocancel says why
	 * not (static strings). */
	void (*cancel)(void *ud);
	void *cancel_ud;
	const char *nocancel;
	bool cancelled;
};

struct vsd_ops {
	pthread_mutex_t lock;
	pthread_cond_t ended; /* broadcast when any operation finishes */
	struct vsd_op *list;
	uint64_t next_id;
	vsd_ops_notify_fn notify;
	void *notify_ud;
};

struct vsd_op_run {
	struct vsd_ops *ops;
	uint64_t id;
	vsd_op_fn fn;
	void *ctx;
	void (*ctx_free)(void *);
};

struct vsd_ops *vsd_ops_new(void)
{
	struct vsd_ops *ops = xcalloc(1, sizeof(*ops));

	pthread_condattr_t ca;

	pthread_mutex_init(&ops->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ops->ended, &ca);
	pthread_condattr_destroy(&ca);
	ops->next_id = 1;
	return ops;
}

static void op_free(struct vsd_op *op)
{
	for (size_t i = 0; i < op->nprogress; i++)
		free(op->progress[i]);
	free(op->progress);
	free(op->kind);
	free(op->target);
	free(op->owner);
	free(op->result_json);
	free(op);
}

void vsd_ops_free(struct vsd_ops *ops)
{
	if (ops == NULL)
		return;
	while (ops->list != NULL) {
		struct vsd_op *op = ops->list;
		ops->list = op->next;
		op_free(op);
	}
	pthread_cond_destroy(&ops->ended);
	pthread_mutex_destroy(&ops->lock);
	free(ops);
}

/* Called with the lock held. */
static void expire_locked(struct vsd_ops *ops, int64_t now)
{
	struct vsd_op **pp = &ops->list;

	while (*pp != NULL) {
		struct vsd_op *op = *pp;
		if (op->status != VSD_OP_RUNNING && now - op->finished_at > VSD_OP_KEEP_SECONDS) {
			*pp = op->next;
			op_free(op);
		} else {
			pp = &op->next;
		}
	}
}

static struct vsd_op *find_locked(struct vsd_ops *ops, uint64_t id)
{
	for (struct vsd_op *op = ops->list; op != NULL; op = op->next)
		if (op->id == id)
			return op;
	return NULL;
}

uint64_t vsd_ops_add(struct vsd_ops *ops, const char *kind, const char *target, int64_t now)
{
	struct vsd_op *op = xcalloc(1, sizeof(*op));
	uint64_t id;

	op->kind = xstrdup(kind);
	op->target = xstrdup(target);
	op->status = VSD_OP_RUNNING;
	op->created_at = now;
	op->nocancel = "this kind of operation cannot be cancelled";
	pthread_mutex_lock(&ops->lock);
	expire_locked(ops, now);
	id = op->id = ops->next_id++;
	op->next = ops->list;
	ops->list = op;
	pthread_mutex_unlock(&ops->lock);
	return id;
}

void vsd_ops_set_owner(struct vsd_ops *ops, uint64_t id, const char *owner)
{
	pthread_mutex_lock(&ops->lock);
	for (struct vsd_op *op = ops->list; op != NULL; op = op->next)
		if (op->id == id && op->owner == NULL && owner[0] != '\0')
			op->owner = xstrdup(owner);
	pthread_mutex_unlock(&ops->lock);
}

static const char *status_name(enum vsd_op_status s)
{
	return s == VSD_OP_RUNNING ? "running" : s == VSD_OP_SUCCESS ? "success" : "failure";
}

/* The event members of an operation (lock held): {"operation": {...}}
 * plus "line" for progress. */
static char *event_extra_locked(const struct vsd_op *op, const char *line)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	char id[32];

	snprintf(id, sizeof(id), "%" PRIu64, op->id);
	vs_jgen_obj_open(g);
	vs_jgen_key(g, "operation");
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "id", id);
	vs_jgen_kv_str(g, "kind", op->kind);
	vs_jgen_kv_str(g, "target", op->target);
	if (op->owner != NULL)
		vs_jgen_kv_str(g, "owner", op->owner);
	vs_jgen_kv_str(g, "status", status_name(op->status));
	if (op->status == VSD_OP_FAILURE) {
		vs_jgen_key(g, "error");
		vsd_gen_error(g, &op->err);
	}
	vs_jgen_obj_close(g);
	if (line != NULL)
		vs_jgen_kv_str(g, "line", line);
	vs_jgen_obj_close(g);
	return vs_jgen_steal(g);
}

/* Tell the notify hook (outside the lock: it may publish and wake). */
static void notify(struct vsd_ops *ops, bool end, char *kind, char *target, char *extra)
{
	if (ops->notify != NULL && extra != NULL)
		ops->notify(ops->notify_ud, end, kind, target, extra);
	free(kind);
	free(target);
	free(extra);
}

void vsd_ops_set_notify(struct vsd_ops *ops, vsd_ops_notify_fn fn, void *ud)
{
	pthread_mutex_lock(&ops->lock);
	ops->notify = fn;
	ops->notify_ud = ud;
	pthread_mutex_unlock(&ops->lock);
}

void vsd_ops_progress(struct vsd_ops *ops, uint64_t id, const char *line)
{
	cleanup_free char *clean = vsd_sanitize(line, OP_LINE_MAX);
	char *kind = NULL, *target = NULL, *extra = NULL;
	struct vsd_op *op;

	pthread_mutex_lock(&ops->lock);
	op = find_locked(ops, id);
	if (op != NULL) {
		if (op->nprogress == op->cap) {
			op->cap = op->cap ? op->cap * 2 : 16;
			op->progress = xrealloc(op->progress, op->cap * sizeof(char *));
		}
		if (ops->notify != NULL) {
			extra = event_extra_locked(op, clean);
			kind = xstrdup(op->kind);
			target = xstrdup(op->target);
		}
		op->progress[op->nprogress++] = steal_ptr(&clean);
	}
	pthread_mutex_unlock(&ops->lock);
	notify(ops, false, kind, target, extra);
}

void vsd_ops_finish(struct vsd_ops *ops, uint64_t id, const struct vs_error *err, char *result_json,
		    int64_t now)
{
	char *kind = NULL, *target = NULL, *extra = NULL;
	struct vsd_op *op;

	pthread_mutex_lock(&ops->lock);
	op = find_locked(ops, id);
	if (op != NULL) {
		op->status = err == NULL ? VSD_OP_SUCCESS : VSD_OP_FAILURE;
		if (err != NULL)
			op->err = *err;
		else
			op->result_json = steal_ptr(&result_json);
		op->finished_at = now;
		op->cancel = NULL;
		if (ops->notify != NULL) {
			extra = event_extra_locked(op, NULL);
			kind = xstrdup(op->kind);
			target = xstrdup(op->target);
		}
		pthread_cond_broadcast(&ops->ended);
	}
	pthread_mutex_unlock(&ops->lock);
	free(result_json);
	notify(ops, true, kind, target, extra);
}

void vsd_ops_set_cancel(struct vsd_ops *ops, uint64_t id, void (*cancel)(void *ud), void *ud,
			const char *why_not)
{
	struct vsd_op *op;

	pthread_mutex_lock(&ops->lock);
	op = find_locked(ops, id);
	if (op != NULL && op->status == VSD_OP_RUNNING) {
		op->cancel = cancel;
		op->cancel_ud = ud;
		if (why_not != NULL)
			op->nocancel = why_not;
	}
	pthread_mutex_unlock(&ops->lock);
}

int vsd_ops_cancel(struct vsd_ops *ops, uint64_t id, struct vs_error *err)
{
	struct vsd_op *op;
	int r = 0;

	pthread_mutex_lock(&ops->lock);
	op = find_locked(ops, id);
	if (op == NULL)
		r = vs_error_kind(err, VS_EK_NOT_FOUND, "operation '%" PRIu64 "' does not exist",
				  id);
	else if (op->status != VSD_OP_RUNNING)
		r = vs_error_kind(err, VS_EK_CONFLICT, "operation '%" PRIu64 "' has already ended",
				  id);
	else if (op->cancel == NULL)
		r = vs_error_kind(err, VS_EK_CONFLICT, "operation '%" PRIu64 "' (%s): %s", id,
				  op->kind, op->nocancel);
	else if (op->cancelled)
		r = vs_error_kind(err, VS_EK_CONFLICT,
				  "operation '%" PRIu64 "' is being cancelled already", id);
	else {
		op->cancelled = true;
		/* Called under the lock: the worker clears the hook (through
		 * vsd_ops_finish) before its context goes away. */
		op->cancel(op->cancel_ud);
	}
	pthread_mutex_unlock(&ops->lock);
	return r;
}

bool vsd_ops_cancelled(struct vsd_ops *ops, uint64_t id)
{
	struct vsd_op *op;
	bool c = false;

	pthread_mutex_lock(&ops->lock);
	op = find_locked(ops, id);
	if (op != NULL)
		c = op->cancelled;
	pthread_mutex_unlock(&ops->lock);
	return c;
}

int vsd_ops_wait(struct vsd_ops *ops, uint64_t id, int timeout_ms, struct vs_error *err)
{
	struct timespec until;
	struct vsd_op *op;
	int r = 0;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&ops->lock);
	for (;;) {
		op = find_locked(ops, id);
		if (op == NULL) {
			r = vs_error_kind(err, VS_EK_NOT_FOUND,
					  "operation '%" PRIu64 "' does not exist", id);
			break;
		}
		if (op->status != VSD_OP_RUNNING ||
		    pthread_cond_timedwait(&ops->ended, &ops->lock, &until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&ops->lock);
	return r;
}

bool vsd_ops_busy(struct vsd_ops *ops, const char *kind, const char *target)
{
	bool busy = false;

	pthread_mutex_lock(&ops->lock);
	for (struct vsd_op *op = ops->list; op != NULL && !busy; op = op->next)
		busy = op->status == VSD_OP_RUNNING && strcmp(op->target, target) == 0 &&
		       (kind == NULL || strcmp(op->kind, kind) == 0);
	pthread_mutex_unlock(&ops->lock);
	return busy;
}

bool vsd_ops_status(struct vsd_ops *ops, uint64_t id, enum vsd_op_status *st)
{
	struct vsd_op *op;

	pthread_mutex_lock(&ops->lock);
	op = find_locked(ops, id);
	if (op != NULL)
		*st = op->status;
	pthread_mutex_unlock(&ops->lock);
	return op != NULL;
}

size_t vsd_ops_running(struct vsd_ops *ops, const char *kind_prefix)
{
	size_t n = 0, plen = strlen(kind_prefix);

	pthread_mutex_lock(&ops->lock);
	for (struct vsd_op *op = ops->list; op != NULL; op = op->next)
		if (op->status == VSD_OP_RUNNING && strncmp(op->kind, kind_prefix, plen) == 0)
			n++;
	pthread_mutex_unlock(&ops->lock);
	return n;
}

/* The operation object; called with the lock held. */
static void gen_op_locked(struct vs_jgen *g, const struct vsd_op *op, size_t since, bool progress)
{
	char id[32];
	cleanup_json struct vs_json *result = NULL;

	snprintf(id, sizeof(id), "%" PRIu64, op->id);
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "id", id);
	vs_jgen_kv_str(g, "kind", op->kind);
	vs_jgen_kv_str(g, "target", op->target);
	if (op->owner != NULL)
		vs_jgen_kv_str(g, "owner", op->owner);
	vs_jgen_kv_str(g, "status", status_name(op->status));
	vs_jgen_kv_int(g, "created_at", op->created_at);
	vs_jgen_key(g, "finished_at");
	if (op->status != VSD_OP_RUNNING)
		vs_jgen_int(g, op->finished_at);
	else
		vs_jgen_null(g);
	vs_jgen_kv_bool(g, "cancellable", op->status == VSD_OP_RUNNING && op->cancel != NULL);
	vs_jgen_kv_bool(g, "cancelled", op->cancelled);
	if (progress) {
		vs_jgen_key(g, "progress");
		vs_jgen_arr_open(g);
		for (size_t i = since; i < op->nprogress; i++)
			vs_jgen_str(g, op->progress[i]);
		vs_jgen_arr_close(g);
		vs_jgen_kv_int(g, "progress_offset", (int64_t)since);
	}
	vs_jgen_key(g, "error");
	if (op->status == VSD_OP_FAILURE)
		vsd_gen_error(g, &op->err);
	else
		vs_jgen_null(g);
	vs_jgen_key(g, "result");
	/* The result was generated by the daemon itself, so it parses. */
	if (op->result_json != NULL && vs_json_parse(op->result_json, &result, NULL) == 0)
		vs_jgen_value(g, result);
	else
		vs_jgen_null(g);
	vs_jgen_obj_close(g);
}

int vsd_ops_json(struct vsd_ops *ops, uint64_t id, size_t since, int64_t now, char **out,
		 struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	struct vsd_op *op;

	pthread_mutex_lock(&ops->lock);
	expire_locked(ops, now);
	op = find_locked(ops, id);
	if (op != NULL)
		gen_op_locked(g, op, since, true);
	pthread_mutex_unlock(&ops->lock);
	if (op == NULL)
		return vs_error_kind(err, VS_EK_NOT_FOUND, "operation '%" PRIu64 "' does not exist",
				     id);
	*out = vs_jgen_steal(g);
	return 0;
}

char *vsd_ops_list_json(struct vsd_ops *ops, int64_t now)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	size_t n = 0, i = 0;
	struct vsd_op **v;

	pthread_mutex_lock(&ops->lock);
	expire_locked(ops, now);
	for (struct vsd_op *op = ops->list; op != NULL; op = op->next)
		n++;
	/* The list is newest first; the API lists oldest first. */
	v = xcalloc(n + 1, sizeof(*v));
	for (struct vsd_op *op = ops->list; op != NULL; op = op->next)
		v[n - 1 - i++] = op;
	vs_jgen_obj_open(g);
	vs_jgen_key(g, "operations");
	vs_jgen_arr_open(g);
	for (i = 0; i < n; i++)
		gen_op_locked(g, v[i], 0, false);
	vs_jgen_arr_close(g);
	vs_jgen_obj_close(g);
	pthread_mutex_unlock(&ops->lock);
	free(v);
	return vs_jgen_steal(g);
}

void vsd_op_progress_cb(void *run, const char *line)
{
	struct vsd_op_run *r = run;

	vsd_ops_progress(r->ops, r->id, line);
}

uint64_t vsd_op_run_id(const struct vsd_op_run *run)
{
	return run->id;
}

static void *op_thread(void *arg)
{
	struct vsd_op_run *run = arg;
	struct vs_error err = {0};
	char *result = NULL;
	int r;

	r = run->fn(run, run->ctx, &result, &err);
	if (r < 0) {
		free(result);
		vsd_log("operation %" PRIu64 " failed: %s", run->id, err.msg);
		vsd_ops_finish(run->ops, run->id, &err, NULL, (int64_t)time(NULL));
	} else {
		vsd_log("operation %" PRIu64 " succeeded", run->id);
		vsd_ops_finish(run->ops, run->id, NULL, result, (int64_t)time(NULL));
	}
	if (run->ctx_free != NULL)
		run->ctx_free(run->ctx);
	free(run);
	return NULL;
}

int vsd_ops_accepted(struct vsd_ops *ops, uint64_t id, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_free char *text = NULL;

	if (vsd_ops_json(ops, id, 0, (int64_t)time(NULL), &text, err) < 0)
		return -1;
	out->status = 202;
	out->body = xasprintf("%s\n", text);
	return 0;
}

int vsd_ops_spawn(struct vsd_ops *ops, uint64_t id, vsd_op_fn fn, void *ctx,
		  void (*ctx_free)(void *), struct vs_error *err)
{
	struct vsd_op_run *run = xcalloc(1, sizeof(*run));
	pthread_attr_t attr;
	pthread_t t;
	int r;

	run->ops = ops;
	run->id = id;
	run->fn = fn;
	run->ctx = ctx;
	run->ctx_free = ctx_free;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &attr, op_thread, run);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		vs_error_set(err, r, "start a worker thread");
		vsd_ops_finish(ops, id, err, NULL, (int64_t)time(NULL));
		if (ctx_free != NULL)
			ctx_free(ctx);
		free(run);
		return -1;
	}
	return 0;
}
