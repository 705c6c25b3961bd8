/* daemon.h: private interfaces shared by the files of daemon/ (vsd).
 * Nothing outside daemon/ (and its unit tests) includes this header.
 *
 * Layers inside the daemon, bottom up:
 *   routes.c   pure REST logic: route table and matching, error mapping,
 *              body accumulation, JSON helpers (no MHD, no disk)
 *   ops.c      operations registry (long work in worker threads)
 *   store.c    on-disk container registry and the machine-wide id-range
 *              registry (no runtime or fs-cow calls)
 *   locks.c    per-container locks
 *   containers.c templates.c exec.c   request handlers
 *   recover.c  startup recovery
 *   server.c   libmicrohttpd glue: request life cycle, responses, upgrades
 *   vsd.c      argument parsing, startup, signals, shutdown
 */
#ifndef VSD_DAEMON_H
#define VSD_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs-cow/vs_fs.h"
#include "lib/vs_config.h"
#include "lib/vs_error.h"
#include "lib/vs_json.h"
#include "runtime/vs_runtime.h"

#ifndef VSD_VERSION
#define VSD_VERSION "0.1.0"
#endif

#define VSD_DEFAULT_ROOT      "/var/lib/vsd"
#define VSD_DEFAULT_RUN_DIR   "/run/vsd"
#define VSD_DEFAULT_REGISTRY  "/var/lib/vsd-idmaps"
#define VSD_DEFAULT_CG_PARENT "vsd"

/* Largest JSON request body (api.md: 413 too_large above it). */
#define VSD_BODY_MAX (64 * 1024)
/* Idle HTTP connections are closed after this many seconds. */
#define VSD_CONN_TIMEOUT 120
/* Finished operations stay visible this long (api.md: 10 minutes). */
#define VSD_OP_KEEP_SECONDS 600
/* Id ranges: first host id of range k is VSD_IDMAP_BASE + k * VS_IDMAP_SIZE. */
#define VSD_IDMAP_BASE 1000000u

/* ---- logging (stderr, one line per event) ---------------------------- */

void vsd_log_set_debug(bool on);
bool vsd_log_debug_enabled(void);
/* "vsd: <message>" on stderr. */
void vsd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, only with --debug. */
void vsd_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- routes.c: pure REST logic ---------------------------------------- */

enum vsd_route_id {
	VSD_R_CONTAINER_LIST,
	VSD_R_CONTAINER_CREATE,
	VSD_R_CONTAINER_GET,
	VSD_R_CONTAINER_DELETE,
	VSD_R_CONTAINER_UPDATE,
	VSD_R_CONTAINER_STATE,
	VSD_R_CONTAINER_EXEC,
	VSD_R_CONTAINER_CONSOLE,
	VSD_R_CONTAINER_SUSPEND,
	VSD_R_CONTAINER_RESUME,
	VSD_R_CONTAINER_CHECKPOINT,
	VSD_R_CONTAINER_RESTORE,
	VSD_R_TEMPLATE_LIST,
	VSD_R_TEMPLATE_GET,
	VSD_R_TEMPLATE_CREATE,
	VSD_R_TEMPLATE_ARCHIVE,
	VSD_R_TEMPLATE_DELETE,
	VSD_R_OPERATION_GET,
	VSD_R_NODE,
	VSD_R_POOL_LIST,
	VSD_R_POOL_CREATE,
	VSD_R_POOL_GET,
	VSD_R_POOL_PATCH,
	VSD_R_POOL_DELETE,
	VSD_R_CONTAINER_STATS,
	VSD_R_SNAPSHOT_LIST,
	VSD_R_SNAPSHOT_CREATE,
	VSD_R_SNAPSHOT_GET,
	VSD_R_SNAPSHOT_DELETE,
	VSD_R_SNAPSHOT_RESTORE,
	VSD_R_METRICS,
	VSD_R_CONTAINER_EXPORT,
	VSD_R_CONTAINER_IMPORT,
	VSD_R_OPENAPI,
	VSD_R__COUNT,
};

enum vsd_body_kind {
	VSD_BODY_NONE,	 /* any body is read and ignored */
	VSD_BODY_JSON,	 /* buffered, at most VSD_BODY_MAX bytes */
	VSD_BODY_STREAM, /* streamed to a file, any size */
};

struct vsd_route {
	const char *method;
	/* Literal segments and placeholders: "{name}" (validated with
	 * vs_validate_name as `what`) or "{id}" (checked by the handler). */
	const char *pattern;
	enum vsd_route_id id;
	enum vsd_body_kind body;
	bool upgrade;	  /* needs Connection: Upgrade + Upgrade: vsd-stream */
	const char *what; /* name of the {name} parameter in error messages */
};

#define VSD_PARAMS_MAX 2

struct vsd_match {
	const struct vsd_route *route;
	char *params[VSD_PARAMS_MAX]; /* malloc'd, in pattern order */
	size_t nparams;
};

enum vsd_match_result {
	VSD_MATCH_OK,
	VSD_MATCH_NO_ROUTE,   /* 404 */
	VSD_MATCH_BAD_METHOD, /* 405: the path exists with other methods */
};

/* The API's route table (VSD_R__COUNT entries). */
extern const struct vsd_route vsd_routes[];
extern const size_t vsd_nroutes;

/* Match method + path (already percent-decoded, no query string) against
 * table. On VSD_MATCH_OK fills *m (free with vsd_match_clear). On
 * VSD_MATCH_BAD_METHOD writes the allowed methods ("GET, DELETE") to allow.
 * Empty segments never match a placeholder. */
enum vsd_match_result vsd_route_match(const struct vsd_route *table, size_t n, const char *method,
				      const char *path, struct vsd_match *m, char *allow,
				      size_t allow_len);
void vsd_match_clear(struct vsd_match *m);

/* Check the {name} parameters of a match with vs_validate_name. 0 or -1
 * (VS_EK_INVALID, the message names the parameter). */
int vsd_match_validate(const struct vsd_match *m, struct vs_error *err);

/* HTTP status and api.md error code of an error kind. */
unsigned vsd_error_status(enum vs_error_kind kind);
const char *vsd_error_code(enum vs_error_kind kind);
/* {"error": {"code": code, "message": msg}} (malloc'd, ends in "\n"). */
char *vsd_error_body(const char *code, const char *msg);
/* Emit {"code": ..., "message": ...} of err into g. */
void vsd_gen_error(struct vs_jgen *g, const struct vs_error *err);

/* Copy of s safe to put into JSON: invalid UTF-8 bytes and control
 * characters other than tab become '?', at most max bytes kept. */
char *vsd_sanitize(const char *s, size_t max);

/* Request body accumulation with the size limit. */
struct vsd_body {
	char *buf; /* NUL-terminated when non-NULL */
	size_t len, cap;
	bool too_large; /* more than max bytes arrived; later data is dropped */
};
/* Append n bytes unless that makes the body larger than max; then set
 * too_large, free what was kept and drop everything from now on.
 * Returns false once the body is too large. */
bool vsd_body_append(struct vsd_body *b, const char *data, size_t n, size_t max);
void vsd_body_free(struct vsd_body *b);
/* True if a Content-Length header value announces more than max bytes (a
 * malformed value counts as too large only if it is all digits and long). */
bool vsd_content_length_exceeds(const char *value, size_t max);

/* True if the comma-separated header value (e.g. of Connection) holds
 * token, compared case-insensitively. NULL holds nothing. */
bool vsd_header_has_token(const char *value, const char *token);

/* Parse a JSON request body of len bytes, NUL-terminated at body[len] (as
 * the server keeps bodies): NULL/empty counts as "{}" when allow_empty,
 * else an error; embedded NUL bytes and non-objects are refused. 0 or -1
 * (VS_EK_INVALID). */
int vsd_parse_body(const char *body, size_t len, bool allow_empty, struct vs_json **out,
		   struct vs_error *err);
/* Every key of obj must be in the NULL-terminated allowed list; else -1
 * with VS_EK_INVALID "KEY: unknown field". */
int vsd_check_fields(const struct vs_json *obj, const char *const *allowed, struct vs_error *err);
/* An optional array of strings (field `what`) into a NULL-terminated vector
 * (*out NULL when v is NULL or JSON null). 0 or -1 (VS_EK_INVALID). */
int vsd_json_strv(const struct vs_json *v, const char *what, char ***out, struct vs_error *err);

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

/* ---- store.c: on-disk registries ------------------------------------ */

/* Visible container names under containers_fd (hidden staging entries and
 * invalid names skipped), sorted. 0 or -1. */
int vsd_store_list(int containers_fd, char ***names, struct vs_error *err);
/* True if containers/NAME exists (any type). */
bool vsd_store_exists(int containers_fd, const char *name);
/* Load containers/NAME/config.json. VS_EK_NOT_FOUND "container 'NAME' does
 * not exist" when the container is absent. 0 or -1. */
int vsd_store_load(int containers_fd, const char *name, struct vs_container_config *cfg,
		   struct vs_error *err);
/* Write config.json into the container directory dirfd atomically. */
int vsd_store_write_config(int dirfd, const struct vs_container_config *cfg, struct vs_error *err);

/* Machine-wide id-range registry: one file per claimed range in directory
 * `registry`, named by the decimal first host id, holding "ROOT NAME\n".
 * The claim is the O_EXCL create. Claim the first free range for
 * (root, name): 0 and *base, or -1 with err (VS_EK_CONFLICT when every
 * range is taken). */
int vsd_idmap_claim(const char *registry, const char *root, const char *name, uint32_t *base,
		    struct vs_error *err);
/* Release the range at base if (and only if) it is claimed by (root, name).
 * A missing claim is fine. 0 or -1. */
int vsd_idmap_release(const char *registry, uint32_t base, const char *root, const char *name,
		      struct vs_error *err);
/* Read the owner of a claim file: 0 with *root and *name malloc'd, or -1. */
int vsd_idmap_owner(int regfd, const char *file, char **root, char **name, struct vs_error *err);
/* keep(ud, name, base): true if root's container `name` still owns base. */
typedef bool (*vsd_idmap_keep_fn)(void *ud, const char *name, uint32_t base);
/* Release every claim of `root` for which keep() says false (stale claims:
 * crash between claim and create, or during destroy). Claims of other
 * roots are never touched. *released counts them. 0 or -1. */
int vsd_idmap_gc(const char *registry, const char *root, vsd_idmap_keep_fn keep, void *ud,
		 unsigned *released, struct vs_error *err);

/* 32-bit FNV-1a (cgroup parent names of non-default roots). */
uint32_t vsd_fnv1a(const char *s);
/* The cgroup parent for a root (realpath): "vsd" for the default root,
 * else "vsd-" + 8 hex digits of its FNV-1a hash. malloc'd. */
char *vsd_cgroup_parent_for(const char *root_realpath);

/* ---- the daemon ----------------------------------------------------- */

struct vsd_names; /* per-container locks (locks.c) */
struct vsd_stream;
struct vsd_criu;    /* the CRIU probe (criu.c) */
struct vsd_sampler; /* usage samples, OOM events, idle reclaim (sampler.c) */

/* What the node has, read once at start (limits.c). */
struct vsd_node {
	int64_t mem_bytes;		 /* RAM */
	int ncpus;			 /* online CPUs */
	char cpus_online[VS_CPUSET_MAX]; /* their list ("0-1") */
};

struct vsd {
	char *root; /* realpath of --root */
	char *run_dir;
	char *run_dir_real; /* realpath of --run-dir */
	char *socket_path;
	char *cgroup_parent;
	char *idmap_registry;
	int64_t default_disk; /* --default-disk: limits.disk when a create names none */
	struct vs_fs_import_caps import_caps; /* --import-max-size, --import-max-files */
	int containers_fd;		      /* O_DIRECTORY of root/containers */
	int templates_fd;		      /* O_DIRECTORY of root/templates */
	struct vs_cg_host *cg;
	struct vsd_node node;
	/* Memory limits of all containers may add up to this many times the
	 * node's RAM (vsd --memory-overcommit; 1.0: no overcommit). */
	double mem_overcommit;
	struct vs_rt_instance inst;
	/* The node's networking (network.c); inst.net points here. */
	struct vs_net_node net;
	bool net_configured; /* any network option given */
	size_t nnameservers; /* --nameserver: for containers that name none */
	struct vs_ip nameservers[VS_NET_NAMESERVERS_MAX];
	/* Serialises create, destroy and template create/import/remove, so
	 * existence checks and id claims cannot race. GET handlers never take
	 * it. Order: mutate before any per-container lock. */
	pthread_mutex_t mutate;
	struct vsd_names *names;
	struct vsd_ops *ops;
	struct vsd_criu *criu;
	struct vsd_sampler *sampler; /* NULL until started */
	/* Upgraded streams (exec, console) alive right now. */
	pthread_mutex_t streams_lock;
	struct vsd_stream *streams;
	bool stopping; /* under streams_lock: MHD is shutting down */
	/* In-container views (lxcfs), refreshed by vsd_views_check. */
	pthread_mutex_t views_lock;
	bool views_active;
	pid_t views_pid;
	char views_error[VS_ERROR_MSG_MAX];
};

/* ---- network.c: the node's networking and address allocation -------- */

/* vsd's network options (getopt values). */
enum {
	VSD_OPT_UPLINK = 0x100,
	VSD_OPT_BRIDGE,
	VSD_OPT_IP_POOL,
	VSD_OPT_PRIVATE_BRIDGE,
	VSD_OPT_NAT,
	VSD_OPT_NAMESERVER,
};
/* Take one network option into d. 0 or -1 (err names the option). */
int vsd_net_option(struct vsd *d, int opt, const char *arg, struct vs_error *err);
/* At start, once d->root is known: the instance id and names, pool
 * gateways, and (when any option was given) vs_net_node_setup. 0 or -1. */
int vsd_net_init(struct vsd *d, struct vs_error *err);
/* Under d->mutate, before a create writes config.json: complete
 * cfg->net (node-side names, MACs, bridge, addresses from the pools,
 * gateways, default nameservers) and check every address is free. 0 or
 * -1 (VS_EK_CONFLICT for an address in use, naming its owner). */
int vsd_net_prepare_create(struct vsd *d, struct vs_container_config *cfg, struct vs_error *err);
/* Under d->mutate and the container's lock: new->net = old's with the
 * update's net changes, checked. live: the container runs (replacing
 * interfaces is refused then). 0 or -1. */
int vsd_net_merge_update(struct vsd *d, const struct vs_container_config *old,
			 struct vs_container_config *new, const struct vs_config_update *u,
			 bool live, struct vs_error *err);
/* Make a running container's addresses and shaping those of new (undone
 * on failure); vsd_net_revert_live puts old's back. 0 or -1. */
int vsd_net_apply_live(struct vsd *d, const struct vs_container_config *old,
		       const struct vs_container_config *new, struct vs_error *err);
void vsd_net_revert_live(struct vsd *d, const struct vs_container_config *old,
			 const struct vs_container_config *new);
/* Destroy: whatever the node still holds for cfg (standby routes of a
 * suspended container) goes; failures are logged. */
void vsd_net_release(struct vsd *d, const struct vs_container_config *cfg);
/* After recovery at start: vs_net_reconcile with every container's
 * config sorted into live (running, suspended) and stopped. 0 or -1. */
int vsd_net_reconcile(struct vsd *d, struct vs_error *err);

/* ---- locks.c: per-container locks ------------------------------------ */

/* A container is held by one request at a time. Requests (start, stop,
 * destroy, exec) wait for each other, because each takes at most seconds;
 * an operation (suspend, resume, checkpoint, restore) holds the container
 * from the request that starts it until its worker ends, and every other
 * request is refused with 409 meanwhile rather than left waiting. */
struct vsd_names *vsd_names_new(void);
void vsd_names_free(struct vsd_names *n);
/* Hold container `name` for a request: wait while another request holds
 * it. `transition` ("starting", "stopping" or NULL) is what GET shows as
 * the state while held. 0, or -1 with VS_EK_CONFLICT (nothing held) when an
 * operation holds it (now or when the wait ends). */
int vsd_names_lock(struct vsd_names *n, const char *name, const char *transition,
		   struct vs_error *err);
/* Hold container `name` for an operation of kind op_kind (a static
 * string): like vsd_names_lock; the operation's id is added with
 * vsd_names_set_op once it exists. 0, or -1 with VS_EK_CONFLICT. */
int vsd_names_lock_op(struct vsd_names *n, const char *name, const char *op_kind,
		      struct vs_error *err);
void vsd_names_set_op(struct vsd_names *n, const char *name, uint64_t op_id);
void vsd_names_set_transition(struct vsd_names *n, const char *name, const char *transition);
void vsd_names_unlock(struct vsd_names *n, const char *name);
/* What GET shows of a held container; all empty when it is not held. */
struct vsd_hold_info {
	const char *transition; /* static string or NULL */
	const char *op_kind;	/* static string, NULL unless an operation holds it */
	uint64_t op_id;		/* 0 until known */
};
/* Fill *info (never blocks on a holder). True if the container is held. */
bool vsd_names_info(struct vsd_names *n, const char *name, struct vsd_hold_info *info);
/* 0, or -1 with VS_EK_CONFLICT when an operation holds `name` (for
 * requests that do not take the lock, such as exec and console). */
int vsd_names_check_op(struct vsd_names *n, const char *name, struct vs_error *err);

/* ---- handlers ------------------------------------------------------- */

/* What a handler sees of a request. */
struct vsd_call {
	struct vsd *d;
	const struct vsd_match *m;
	const char *body; /* NUL-terminated JSON body, or NULL */
	size_t body_len;
	char *upload_name; /* VSD_BODY_STREAM: file in templates_fd; steal to keep */
	void *conn;	   /* MHD connection (for vsd_call_query) */
};

/* What a handler answers: a JSON body with a status, or (upgrade routes) a
 * stream to switch protocols to. */
struct vsd_reply {
	unsigned status;
	char *body; /* malloc'd JSON text */
	struct vsd_stream *stream;
	const char *content_type; /* static; NULL: application/json */
	/* A file answered as the body (taken over; file_fd_set says it is
	 * there, since a zeroed reply has fd 0): an export. */
	bool file_fd_set;
	int file_fd;
	uint64_t file_size;
};

typedef int (*vsd_handler_fn)(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);

/* Query argument of the request, or NULL (server.c). */
const char *vsd_call_query(const struct vsd_call *c, const char *key);
/* Set out to status + the generator's text. */
void vsd_reply_json(struct vsd_reply *out, unsigned status, struct vs_jgen *g);

int vsd_h_container_list(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_container_create(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_container_get(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_container_delete(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_container_update(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_container_state(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_container_exec(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_container_console(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_container_suspend(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_container_resume(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_container_checkpoint(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_container_restore(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
/* snapshots.c: /v1/containers/{name}/snapshots[/{snap}[/restore]] */
int vsd_h_snapshot_list(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_snapshot_get(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_snapshot_create(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_snapshot_restore(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_snapshot_delete(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
/* Bodies (pure): create {"name"?, "with_memory"?} (no name: "snap-" and
 * the UTC time), restore {"stop"?}. 0 or -1 (VS_EK_INVALID naming the
 * field). *snap is malloc'd. */
int vsd_snap_parse_create(const char *body, size_t len, char **snap, bool *with_memory,
			  struct vs_error *err);
int vsd_snap_parse_restore(const char *body, size_t len, bool *stop, struct vs_error *err);
/* For the status object (the lead's): emits the member
 * "snapshots": {"count": N, "counted_against_disk_quota": false} into an
 * open object. Never fails (no snapshot directory: count 0); takes no
 * lock (a snapshot being made or deleted is not counted). */
void vsd_snapshots_gen_summary(struct vsd *d, const char *name, struct vs_jgen *g);
/* At start, per container: remove snapshots/.*.creating and .*.deleting
 * and an interrupted layer put-back (vs_fs_layer_recover). Logs, never
 * fails. */
void vsd_snapshots_recover(struct vsd *d, const char *name);
int vsd_h_template_list(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_template_get(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_template_create(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_template_archive(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_template_delete(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_operation_get(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_node(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
/* Make sure this instance's lxcfs serves (vs_rt_views_ensure) before
 * container `name` (NULL: at startup) starts or is restored, and record
 * the outcome for GET /v1/node. A failure is logged as a warning, never
 * returned: the container then starts with the host's /proc files. */
void vsd_views_check(struct vsd *d, const char *name);
int vsd_h_pool_list(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_pool_create(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_pool_get(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_pool_patch(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_pool_delete(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);

/* ---- pools.c: resource pools ------------------------------------------ */

/* A pool definition as the operator wrote it (pools/NAME.json). 0 means
 * unset; a percentage replaces the absolute value beside it. */
struct vsd_pool {
	char name[VS_NAME_MAX + 1];
	int64_t memory; /* bytes */
	int memory_pct; /* 1..100 of the node's RAM */
	int64_t cpus_milli;
	int cpus_pct;		       /* 1..100 of the online CPUs */
	int64_t cpu_weight, io_weight; /* 1..10000, override weight_pct */
	int64_t pids;
	int weight_pct; /* 1..100: cpu and io weight P*100 */
};
/* Parse a pool body over *p: {"name", "memory": "512M"|"50%"|bytes,
 * "cpus": "1.5"|"50%"|1.5, "cpu_weight", "io_weight", "pids", "weight":
 * "25%"|25}; with patch, name is refused and null removes a field. On
 * failure *p is unchanged. 0 or -1 (VS_EK_INVALID naming the field). */
int vsd_pool_parse(const struct vs_json *obj, bool patch, struct vsd_pool *p, struct vs_error *err);
/* The cgroup limits of a pool on a node with mem_total bytes and ncpus
 * online CPUs (percentages resolved, weight P% -> P*100). */
void vsd_pool_limits(const struct vsd_pool *p, int64_t mem_total, int ncpus, struct vs_limits *l);
/* Emit the definition's members (no braces). */
void vsd_pool_gen(struct vs_jgen *g, const struct vsd_pool *p);
/* For create and set: 0 when pool is "" or a defined pool, else -1 with
 * VS_EK_INVALID "<field>: pool 'x' does not exist". Call with d->mutate
 * held so a pool cannot be removed between the check and the store. */
int vsd_pool_check(struct vsd *d, const char *pool, const char *field, struct vs_error *err);
/* At daemon start: (re)create every stored pool's cgroup with its limits
 * (cgroups do not survive a reboot). Failures of one pool are logged.
 * 0 or -1. */
int vsd_pools_restore(struct vsd *d, struct vs_error *err);
int vsd_h_container_stats(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_metrics(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);

/* openapi.c: the API's OpenAPI 3.1 document (docs/openapi.json) as built
 * into the binary: static, NUL-terminated, *len bytes. */
const char *vsd_openapi_json(size_t *len);
int vsd_h_openapi(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);

/* templates.c: before an archive upload is read: refuse (409) when the
 * template exists or is being made, so a large upload is not read for
 * nothing. 0 or -1. */
int vsd_template_archive_precheck(struct vsd *d, const char *name, struct vs_error *err);
/* templates.c: validate a "from" of a template build request. 0 or -1. */
int vsd_template_check_from(const char *from, struct vs_error *err);

/* containers.c: the first container (by name) whose config uses template
 * tpl: 1 and *user (malloc'd), 0 if none, -1 with err. */
int vsd_template_user(struct vsd *d, const char *tpl, char **user, struct vs_error *err);

/* Something that fills a container's layer while it is being created (a
 * backup import): called with the staging directory (its disk mounted and
 * upper/ made, owned by the new id range) and the config. 0 or -1; on
 * failure the create is undone. */
struct vsd_fill {
	int (*fn)(void *ud, const char *cdir, const struct vs_container_config *cfg,
		  struct vs_error *err);
	void *ud;
};
/* Create container cfg (name, template, limits, pool set; the rest filled
 * here: init from the template, a new id range, created_at) with its
 * layer staged under containers/.NAME.creating and renamed into place;
 * fill (may be NULL) runs before the rename. Called with d->mutate held.
 * VS_EK_CONFLICT when the name exists. Nothing is left on failure. 0 or -1. */
int vsd_container_create_locked(struct vsd *d, struct vs_container_config *cfg,
				const struct vsd_fill *fill, struct vs_error *err);

/* backup.c: GET /v1/containers/{name}/export and POST
 * /v1/containers/import. */
int vsd_h_container_export(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_container_import(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);

/* cleanup attribute for a struct vs_container_config (frees its vectors). */
static inline void vsd_config_freep(struct vs_container_config *cfg)
{
	vs_config_free(cfg);
}
#define cleanup_config __attribute__((cleanup(vsd_config_freep)))

static inline void vsd_tinfo_freep(struct vs_template_info *t)
{
	vs_template_info_free(t);
}
#define cleanup_tinfo __attribute__((cleanup(vsd_tinfo_freep)))

/* containers.c: emit the status object of a container; hold (may be NULL)
 * is what vsd_names_info said about it. With d, the "oom" member
 * (vsd_oom_gen) is included. */
void vsd_gen_status(struct vsd *d, struct vs_jgen *g, const struct vs_container_config *cfg,
		    const struct vs_rt_status *st, const struct vsd_hold_info *hold);
/* containers.c: the status object of a loaded container (its runtime
 * state and what requests hold it) into g. 0 or -1. */
int vsd_gen_loaded(struct vsd *d, const struct vs_container_config *cfg, struct vs_jgen *g,
		   struct vs_error *err);

/* ---- limits.c: limits against the node, live updates ----------------- */

/* Read the node's RAM and online CPUs into n. 0 or -1. */
int vsd_node_facts(struct vsd_node *n, struct vs_error *err);
/* Limits the node cannot give (VS_EK_INVALID naming the field): more CPUs
 * than online, a cpuset naming offline CPUs, a memory limit above the
 * node's RAM times the overcommit ratio, or one that would bring the sum
 * of all containers' memory limits (name's own excluded) above it. 0 or
 * -1. */
int vsd_check_node_limits(struct vsd *d, const char *name, const struct vs_limits *l,
			  struct vs_error *err);
/* The "limits_unenforced" member: what this node cannot enforce of l. */
void vsd_gen_unenforced(struct vs_jgen *g, struct vsd *d, const struct vs_limits *l);
/* containers.c: unmount the disk of containers/DIRNAME (a container or
 * a staging name such as .NAME.destroying); fine without one. 0 or -1. */
int vsd_container_unmount_disk(struct vsd *d, const char *dirname, struct vs_error *err);
/* containers.c: the runtime status of a loaded container; on failure
 * err says why. 0 or -1. */
int vsd_container_status(struct vsd *d, const char *name, struct vs_rt_status *st,
			 struct vs_error *err);

/* ---- checkpoint.c: suspend, resume, checkpoint, restore -------------- */

enum vsd_cr_kind {
	VSD_CR_SUSPEND,
	VSD_CR_RESUME,
	VSD_CR_CHECKPOINT,
	VSD_CR_RESTORE,
};

/* A parsed request body. */
struct vsd_cr_req {
	enum vsd_cr_kind kind;
	char *dir; /* checkpoint, restore: normalised absolute path; else NULL */
	bool leave_running;
	bool discard; /* resume: drop the image instead, leave it stopped */
};

/* Operation kind ("container-suspend", ...) and past-tense verb
 * ("suspended", ...) of a kind. Static strings. */
const char *vsd_cr_op_kind(enum vsd_cr_kind kind);
const char *vsd_cr_verb(enum vsd_cr_kind kind);

/* Parse and check the body of a request of this kind (pure: the file
 * system is not looked at). suspend, resume: {} or empty. checkpoint:
 * {"dir": required, "leave_running": bool}. restore: {"dir": required}.
 * Unknown fields, wrong types and bad dirs (see vsd_cr_normalize_dir) are
 * VS_EK_INVALID naming the field. 0 with *req filled (free with
 * vsd_cr_req_free), or -1 with *req empty. */
int vsd_cr_parse(enum vsd_cr_kind kind, const char *body, size_t len, struct vsd_cr_req *req,
		 struct vs_error *err);
void vsd_cr_req_free(struct vsd_cr_req *req);

/* Lexically normalise an image directory (field `what`): it must be an
 * absolute path without ".." components or control characters, shorter
 * than PATH_MAX; "." components, repeated and trailing slashes go. "/" is
 * refused. 0 with *out (malloc'd), or -1 with VS_EK_INVALID. */
int vsd_cr_normalize_dir(const char *in, const char *what, char **out, struct vs_error *err);

/* True if path (normalised, absolute) is dir or lies under it. */
bool vsd_path_within(const char *path, const char *dir);

/* ---- criu.c: the CRIU probe ------------------------------------------- */

/* Start probing the CRIU at path (NULL: none configured) in a background
 * thread; the result is logged in one line when known. Never fails (a
 * probe that cannot run reports CRIU as unavailable). */
struct vsd_criu *vsd_criu_start(const char *path);
/* Wait for the probe thread and free everything. NULL is fine. */
void vsd_criu_free(struct vsd_criu *c);
/* Emit the "criu" object of GET /v1/node, waiting for the probe if it is
 * still running (it is bounded by VS_MIG_PROBE_TIMEOUT_MS per step). */
void vsd_criu_gen(struct vsd_criu *c, struct vs_jgen *g);
/* 0 when checkpoint/restore can work, else -1 with VS_EK_UNSUPPORTED
 * saying why (waits for the probe like vsd_criu_gen). */
int vsd_criu_check(struct vsd_criu *c, struct vs_error *err);

/* exec.c: the MHD upgrade handler (cls is the struct vsd) and stream
 * cleanup for a stream that never got upgraded. */
void vsd_stream_free(struct vsd_stream *s);
/* Called by server.c with the raw socket after the 101 went out. Takes
 * over the stream (runs it in its own thread). `urh` is the MHD handle. */
void vsd_stream_run(struct vsd *d, struct vsd_stream *s, int sock, void *urh);
/* At shutdown: wake every stream thread and keep them off the sockets. */
void vsd_streams_stop(struct vsd *d);

/* ---- recover.c / server.c / vsd.c ----------------------------------- */

/* Startup recovery (docs/architecture.md). Logs what it does; failures of
 * single containers are logged, not fatal. 0 or -1 (fatal). */
int vsd_recover(struct vsd *d, struct vs_error *err);

struct vsd_server;
/* Serve the API on the listening unix socket fd (taken over). 0 or -1. */
int vsd_server_start(struct vsd *d, int listen_fd, struct vsd_server **out, struct vs_error *err);
/* Stop accepting, finish running requests, release everything. */
void vsd_server_stop(struct vsd_server *s);

/* The daemon's main (argv without the mode dispatch). Exit code. */
int vsd_main(int argc, char **argv);

/* ---- sampler.c, oom.c, stats.c: usage, OOM events, idle reclaim ----- */

/* Node settings of idle reclaim (vsd --idle-reclaim ...). */
struct vsd_idle_cfg {
	bool enabled;	      /* --idle-reclaim on|off (default on) */
	int interval_s;	      /* --idle-reclaim-interval: seconds between samples */
	double cpu_threshold; /* --idle-threshold: CPUs (0.02 = 2% of one CPU) */
};
#define VSD_IDLE_DEFAULT_INTERVAL  10
#define VSD_IDLE_DEFAULT_THRESHOLD 0.02

/* One sample of a container's counters. */
struct vsd_sample {
	int64_t t_ms;	  /* CLOCK_MONOTONIC */
	int64_t cpu_usec; /* cumulative CPU time */
	int64_t pgfault;  /* cumulative page faults, -1 unknown */
	int64_t memory;	  /* bytes in use */
};

/* What the idle detector weighs (pure, so unit tested). */
struct vsd_idle_params {
	double cpu_threshold; /* CPUs */
	double pgfault_rate;  /* page faults per second at most */
	size_t window;	      /* intervals that must all be quiet */
	int step_percent;     /* of current usage per reclaim */
	int64_t step_max;     /* bytes per reclaim at most */
	int64_t step_min;     /* smaller steps are not worth a reclaim */
};
/* The defaults for a node configuration. */
void vsd_idle_params_default(const struct vsd_idle_cfg *cfg, struct vsd_idle_params *p);
/* Is a container idle, and how much should be reclaimed now? s holds n
 * samples oldest first. Idle means at least window+1 samples, and over
 * each of the last window intervals CPU use below cpu_threshold and the
 * page-fault rate below pgfault_rate (an unknown or reset counter is not
 * idle). Returns the bytes to reclaim: step_percent of the newest usage,
 * at most step_max, never taking usage below memory_min; 0 when not idle
 * or the step would be below step_min. */
int64_t vsd_idle_decide(const struct vsd_idle_params *p, const struct vsd_sample *s, size_t n,
			int64_t memory_min);

/* One OOM kill read from the kernel log. */
struct vsd_oom_line {
	char container[256]; /* the name under this instance's cgroup parent */
	char command[64];    /* the killed task's comm */
	int64_t pid;
	int64_t ts_usec; /* kernel log time stamp (since boot) */
};
/* Parse one /dev/kmsg record ("PRI,SEQ,TS,FLAGS;message\n..."): an
 * "oom-kill:" line whose oom_memcg is /<parent>/<container>[/...] gives
 * container, command (task=) and pid; a "Memory cgroup out of memory:
 * Killed process N (NAME)" line gives pid and command with an empty
 * container. Returns 1 for such a line, 0 for anything else (other
 * parents, other messages, malformed records). */
int vsd_oom_parse_kmsg(const char *rec, size_t len, const char *parent, struct vsd_oom_line *out);

/* Start the sampler thread: every cfg->interval_s it samples each running
 * container's cgroup counters (for usage_percent and the idle detector)
 * and reclaims from idle ones; every second it reads new kernel log
 * records (/dev/kmsg, from the position at start) for OOM kills of this
 * instance's containers. Without /dev/kmsg access OOM commands and times
 * stay unknown (counts still come from the cgroups). 0 or -1. */
int vsd_sampler_start(struct vsd *d, const struct vsd_idle_cfg *cfg, struct vs_error *err);
/* Stop and join the thread, free everything. NULL is fine. */
void vsd_sampler_stop(struct vsd_sampler *s);

/* The container's OOM record (persisted in containers/NAME/oom.json).
 * kills counts every OOM kill since the container was created, over
 * restarts of the container and of vsd. */
struct vsd_oom_info {
	int64_t kills;
	int64_t last_at; /* unix seconds, 0 unknown */
	char last_command[64];
};
/* Bring the record of `name` up to date (new kernel log records; the
 * cgroup's oom_kill counter when st says it runs) and copy it to *out.
 * Never fails: what cannot be read is left as it was. */
void vsd_oom_get(struct vsd *d, const char *name, const struct vs_rt_status *st,
		 struct vsd_oom_info *out);
/* Emit "oom": {"kills": N, "last_at": T|null, "last_command": S|null} into
 * the open object g, for status and stats. */
void vsd_oom_gen(struct vsd *d, const char *name, const struct vs_rt_status *st, struct vs_jgen *g);
/* Bytes idle reclaim took from `name` since vsd started (and, when
 * usage_percent is not NULL, CPU use in percent of one CPU since the last
 * sample against cur, or -1 when unknown). */
int64_t vsd_sampler_container(struct vsd *d, const char *name, const struct vsd_sample *cur,
			      double *usage_percent);
/* Node totals: bytes reclaimed and reclaims done since start. */
void vsd_sampler_totals(struct vsd *d, int64_t *bytes, int64_t *count, bool *enabled);

/* oom.c internals used by sampler.c: called under the sampler lock. */
struct vsd_oom_rec {
	struct vsd_oom_info info;
	int64_t cg_kills;   /* the cgroup counter already counted */
	int64_t started_at; /* start of the container the counter belongs to */
	bool loaded;
};
void vsd_oom_load(struct vsd *d, const char *name, struct vsd_oom_rec *r);
void vsd_oom_store(struct vsd *d, const char *name, const struct vsd_oom_rec *r);
/* Fold a cgroup counter value in (returns true if the record changed). */
bool vsd_oom_count(struct vsd_oom_rec *r, int64_t started_at, int64_t cg_kills);

#endif
