/* ops.h: the operations registry (ops.c): long work in worker threads. */
#ifndef VSD_OPS_H
#define VSD_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/http.h"
#include "lib/vs_error.h"

/* Finished operations stay visible this long (api.md: 10 minutes). */
#define VSD_OP_KEEP_SECONDS 600

/* ---- ops.c: operations registry ------------------------------------- */

struct vsd_ops;
enum vsd_op_status {
	VSD_OP_RUNNING,
	VSD_OP_SUCCESS,
	VSD_OP_FAILURE,
};

struct vsd_ops *vsd_ops_new(void);
/* Frees the registry; callers make sure no worker still runs. */
void vsd_ops_free(struct vsd_ops *ops);
/* Register a running operation at time now; returns its id (1, 2, ...).
 * Also forgets operations finished more than VSD_OP_KEEP_SECONDS ago. */
uint64_t vsd_ops_add(struct vsd_ops *ops, const char *kind, const char *target, int64_t now);
/* Record that an owner-scoped credential started operation id (its JSON
 * then holds "owner"), so that credential may follow it even before its
 * target exists (an import). "" records nothing. */
void vsd_ops_set_owner(struct vsd_ops *ops, uint64_t id, const char *owner);
/* Append a progress line (sanitized, truncated to 1024 bytes). */
void vsd_ops_progress(struct vsd_ops *ops, uint64_t id, const char *line);
/* Mark finished at now: success when err is NULL (result_json, which may
 * be NULL, is taken over), else failure with err. */
void vsd_ops_finish(struct vsd_ops *ops, uint64_t id, const struct vs_error *err, char *result_json,
		    int64_t now);
/* True while a running operation has this target and kind (kind NULL: any). */
bool vsd_ops_busy(struct vsd_ops *ops, const char *kind, const char *target);
/* The operation object of api.md with progress lines from index since.
 * Returns 0 and *out (malloc'd) or -1 with VS_EK_NOT_FOUND. */
int vsd_ops_json(struct vsd_ops *ops, uint64_t id, size_t since, int64_t now, char **out,
		 struct vs_error *err);
/* Status of an operation, false if unknown (for tests and logs). */
bool vsd_ops_status(struct vsd_ops *ops, uint64_t id, enum vsd_op_status *st);
/* Number of running operations whose kind starts with kind_prefix. */
size_t vsd_ops_running(struct vsd_ops *ops, const char *kind_prefix);
/* Told of every progress line (end false) and of the end (end true) of
 * an operation: extra is the event's JSON members {"operation": {...},
 * "line"?}. Called from the worker's thread, outside the registry lock. */
typedef void (*vsd_ops_notify_fn)(void *ud, bool end, const char *kind, const char *target,
				  const char *extra);
void vsd_ops_set_notify(struct vsd_ops *ops, vsd_ops_notify_fn fn, void *ud);
/* {"operations": [...]} oldest first, without progress lines (malloc'd). */
char *vsd_ops_list_json(struct vsd_ops *ops, int64_t now);
/* Wait until operation id has ended or timeout_ms passed. 0, or -1 with
 * VS_EK_NOT_FOUND. */
int vsd_ops_wait(struct vsd_ops *ops, uint64_t id, int timeout_ms, struct vs_error *err);
/* Make a running operation cancellable: cancel(ud) is called (under the
 * registry lock, so it must only signal) by vsd_ops_cancel; the worker then
 * ends as it can. cancel NULL with why_not (static) says why it is not. */
void vsd_ops_set_cancel(struct vsd_ops *ops, uint64_t id, void (*cancel)(void *ud), void *ud,
			const char *why_not);
/* Cancel: 0, or -1 with VS_EK_NOT_FOUND, or VS_EK_CONFLICT (ended, not
 * cancellable: the message says why). */
int vsd_ops_cancel(struct vsd_ops *ops, uint64_t id, struct vs_error *err);
/* True once vsd_ops_cancel asked operation id to stop. */
bool vsd_ops_cancelled(struct vsd_ops *ops, uint64_t id);

/* Worker threads. The worker returns 0 (and may set *result_json to a JSON
 * document) or -1 with err; progress goes through vsd_op_progress_cb with
 * the run as user data. */
struct vsd_op_run;
typedef int (*vsd_op_fn)(struct vsd_op_run *run, void *ctx, char **result_json,
			 struct vs_error *err);
/* Start fn(ctx) for operation id in a detached thread; ctx_free(ctx) runs
 * when it is done. On failure (thread creation) the operation is marked
 * failed, ctx_free is called and -1 returned with err. */
int vsd_ops_spawn(struct vsd_ops *ops, uint64_t id, vsd_op_fn fn, void *ctx,
		  void (*ctx_free)(void *), struct vs_error *err);
/* Answer a request that started operation id: 202 with the operation's
 * JSON. 0 or -1 with err. */
struct vsd_reply;
int vsd_ops_accepted(struct vsd_ops *ops, uint64_t id, struct vsd_reply *out, struct vs_error *err);
/* A vs_fs_progress_fn: appends line to the run's operation. */
void vsd_op_progress_cb(void *run, const char *line);
uint64_t vsd_op_run_id(const struct vsd_op_run *run);

#endif
