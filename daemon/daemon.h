/* daemon.h: the daemon's core (the middle layer of daemon/): struct vsd,
 * the node's networking, limits, pools, checkpoint requests, the CRIU
 * probe, usage sampling and OOM records, and the container services the
 * handlers share (create, status). Nothing outside daemon/ (and its unit
 * tests) includes the daemon's headers.
 *
 * Layers inside the daemon, bottom up; a file includes only the headers of
 * its own layer and those below (scripts/check-includes.py holds the list
 * of which file is in which layer and refuses an include upwards):
 *   log.h       log.c: the log
 *   events.h    events.c: the event bus behind GET /v1/events (pure)
 *   http.h      routes.c: route types and matching, error mapping, body
 *               accumulation, JSON helpers, call and reply (no MHD, no disk)
 *   ops.h       ops.c: operations registry (long work in worker threads)
 *   store.h     store.c, locks.c: on-disk registries, per-container locks
 *   auth.h      authn.c, tls.c, trust.c, tokens.c, audit.c: credentials, audit
 *               log
 *   daemon.h    network.c, sampler.c, oom.c, criu.c, peer.c: the core (this
 *               file)
 *   handlers.h  containers.c, templates.c, exec.c, ... : request handlers,
 *               and api.c: the route table naming them
 *   server.h    server.c (libmicrohttpd glue, dispatching only through the
 *               route table it is given), recover.c, vsd.c (startup,
 *               signals, shutdown)
 */
#ifndef VSD_DAEMON_H
#define VSD_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/auth.h"
#include "daemon/events.h"
#include "daemon/http.h"
#include "daemon/log.h"
#include "daemon/ops.h"
#include "daemon/store.h"
#include "fs-cow/vs_fs.h"
#include "lib/vs_config.h"
#include "lib/vs_error.h"
#include "lib/vs_json.h"
#include "runtime/vs_runtime.h"

#ifndef VSD_VERSION
#define VSD_VERSION "0.1.0"
/* ---- emit.c: events from where things happen -------------------------- */

/* Start the bus at start-up (ids from the time, so they go on increasing
 * over restarts) and hook the operations registry to it. */
void vsd_events_init(struct vsd *d);
/* Publish an event (events.h) at the current time; nothing when the bus
 * is not there (unit tests). extra: see vsd_events_publish. */
void vsd_emit(struct vsd *d, enum vsd_event_type t, const char *container, const char *extra);
/* Report a container's running state as the daemon now knows it: a
 * container-started/-stopped event when it changed (vsd_events_state). */
void vsd_emit_state(struct vsd *d, const char *container, bool running);
/* Tell the bus every container's owner (at start, after recovery), so that
 * owner-scoped subscribers get the events of their containers. */
void vsd_emit_owners(struct vsd *d);
/* The ETag of a stored file (config.json of a container, a pool's file)
 * in dirfd: 16 hex digits of a 64-bit FNV-1a hash of its bytes into etag.
 * 0, or -1 with err (errnum ENOENT when absent). */
int vsd_etag_file(int dirfd, const char *path, char etag[24], struct vs_error *err);

#endif

/* cleanup attribute for a struct vs_template_info. */
static inline void vsd_tinfo_freep(struct vs_template_info *t)
{
	vs_template_info_free(t);
}
#define cleanup_tinfo __attribute__((cleanup(vsd_tinfo_freep)))

/* ---- the daemon ----------------------------------------------------- */

struct vsd_names;   /* per-container locks (locks.c) */
struct vsd_stream;  /* an exec or console stream (exec.c) */
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
	/* Parsed configs (index.c); NULL in unit tests: read from disk. */
	struct vsd_index *index;
	/* Run states kept for listing (status.c); NULL: read every time. */
	struct vsd_status_cache *status_cache;
	struct vsd_ops *ops;
	struct vsd_criu *criu;
	struct vsd_sampler *sampler; /* NULL until started */
	struct vsd_events *events;   /* GET /v1/events; NULL in unit tests */
	/* Upgraded streams (exec, console) alive right now. */
	pthread_mutex_t streams_lock;
	struct vsd_stream *streams;
	bool stopping; /* under streams_lock: MHD is shutting down */
	/* In-container views (lxcfs), refreshed by vsd_views_check. */
	pthread_mutex_t views_lock;
	bool views_active;
	pid_t views_pid;
	char views_error[VS_ERROR_MSG_MAX];
	struct vsd_tokens *tokens; /* API tokens (auth.h), opened at start */
	/* TLS identity and trust store (auth.h; vsd_auth() for that layer). */
	struct vsd_auth auth;
	struct vsd_tickets *tickets; /* one-time stream tickets (auth.h) */
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
/* After recovery at start: vs_net_reconcile with the configs of the
 * running and suspended containers (skipped, and logged, while any
 * container cannot be read). 0 or -1. */
int vsd_net_reconcile(struct vsd *d, struct vs_error *err);

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
/* The number of snapshots of `name` (0 without a snapshot directory). */
size_t vsd_snapshots_count(struct vsd *d, const char *name);
/* At start, per container: remove snapshots/.*.creating and .*.deleting
 * and an interrupted layer put-back (vs_fs_layer_recover). Logs, never
 * fails. */
void vsd_snapshots_recover(struct vsd *d, const char *name);
/* Make sure this instance's lxcfs serves (vs_rt_views_ensure) before
 * container `name` (NULL: at startup) starts or is restored, and record
 * the outcome for GET /v1/node. A failure is logged as a warning, never
 * returned: the container then starts with the host's /proc files. */
void vsd_views_check(struct vsd *d, const char *name);

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
/* Destroy container name (force: even running or suspended). Called with
 * d->mutate and the container's lock held. 0 or -1. */
int vsd_container_destroy_locked(struct vsd *d, const char *name, bool force, struct vs_error *err);
/* Build containers/.NAME.creating for cfg as it is (its disk when it has
 * a quota, the empty layer owned by its id range, config.json, and fill),
 * then rename it to containers/DIRNAME. Nothing is left on failure. 0 or
 * -1. */
int vsd_container_stage(struct vsd *d, const struct vs_container_config *cfg,
			const struct vsd_fill *fill, const char *dirname, struct vs_error *err);
/* Create container cfg (name, template, limits, pool set; the rest filled
 * here: init from the template, a new id range, created_at) with its
 * layer staged under containers/.NAME.creating and renamed into place;
 * fill (may be NULL) runs before the rename. Called with d->mutate held.
 * VS_EK_CONFLICT when the name exists. Nothing is left on failure. 0 or -1. */
int vsd_container_create_locked(struct vsd *d, struct vs_container_config *cfg,
				const struct vsd_fill *fill, struct vs_error *err);

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

/* ---- status.c: run states kept for listing ---------------------------- */

/* What vsd_container_status said of each container, served again while
 * state.json is the same file (as the index pins config.json) and every
 * process it shows alive is (a pidfd of each, polled). For reading
 * (list, get, metrics); requests that act on the state read it afresh.
 * racy_ms as for vsd_index_new. */
struct vsd_status_cache;
struct vsd_status_cache *vsd_status_cache_new(int64_t racy_ms);
void vsd_status_cache_free(struct vsd_status_cache *sc);
/* vsd_container_status, through d->status_cache when there is one. 0 or
 * -1 with err, as vsd_container_status. */
int vsd_container_status_kept(struct vsd *d, const char *name, struct vs_rt_status *st,
			      struct vs_error *err);
/* Drop name's entry; drop entries not in names (sorted). sc may be NULL. */
void vsd_status_cache_forget(struct vsd_status_cache *sc, const char *name);
void vsd_status_cache_retain(struct vsd_status_cache *sc, char *const *names);
/* Counters of a running container's cgroup (enum vs_cg_counter: the OOM
 * kills, the CPU time, the memory in use), through descriptors kept with
 * its entry: a list asks the OOM counter of every running container and
 * the sampler the other two every sweep, and an open and read by path
 * costs a walk of the cgroup tree. vsd_status_cache_counter: true with *v
 * when name's entry pins the very run st describes and holds that counter
 * of that run's cgroup in `pool` (the descriptor is dropped when the read
 * fails: the cgroup is gone). vsd_status_cache_keep takes fd, opened on
 * that cgroup's counter by path, and keeps it only when the entry pins
 * st's run, in the running state, and its processes are alive after fd was
 * opened: a run's cgroup outlives its init, so the path then named that
 * run's cgroup. A pool move is a new cgroup under another pool: the pool
 * is part of the key (a keep in another pool drops what was kept). At
 * most VS_CG_COUNTERS descriptors per entry; which is an enum
 * vs_cg_counter. */
bool vsd_status_cache_counter(struct vsd_status_cache *sc, const char *name, const char *pool,
			      const struct vs_rt_status *st, int which, int64_t *v);
void vsd_status_cache_keep(struct vsd_status_cache *sc, const char *name, const char *pool,
			   const struct vs_rt_status *st, int which, int fd);
/* Entries held (each with up to two pidfds), uses served, reads done. */
void vsd_status_cache_counts(struct vsd_status_cache *sc, size_t *entries, uint64_t *hits,
			     uint64_t *reads);

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
/* 0 when CRIU can also track dirty memory here (soft-dirty: criu
 * pre-dump --track-mem), else -1 with VS_EK_UNSUPPORTED saying why. */
int vsd_criu_check_tracking(struct vsd_criu *c, struct vs_error *err);
/* Like vsd_criu_check, and VS_EK_UNSUPPORTED with the probe's reason when
 * this node cannot restore lazily (CRIU lazy pages, userfaultfd in the
 * container's user namespace). */
int vsd_criu_check_lazy(struct vsd_criu *c, struct vs_error *err);
/* The usable CRIU's version ("4.3"), "" when none is usable. */
void vsd_criu_version(struct vsd_criu *c, char *out, size_t len);
/* The network lock this node's dumps ask CRIU for: "nftables" when its
 * CRIU can lock with nf_tables (no iptables-restore run at the lock and
 * the unlock), else NULL (CRIU's default, iptables). An image records its
 * method and CRIU restores with it, so a migration's target must say it
 * can (docs/migration.md). */
const char *vsd_criu_netlock(struct vsd_criu *c);

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
/* The smallest usage (bytes) at which vsd_idle_decide can return a step
 * for a container of memory_min: below it, its page faults need not be
 * read. */
int64_t vsd_idle_worth(const struct vsd_idle_params *p, int64_t memory_min);

/* What the sampler notes at the start of a sweep: the instance parent
 * cgroup's CPU time (every container's and pool's, -1 unknown), the id
 * the bus gives its next event, and how many state changes the bus has
 * told the sampler of. */
struct vsd_sweep_mark {
	int64_t parent_cpu_usec;
	uint64_t events_last;
	uint64_t changes;
};
/* True when a sweep may skip every container (pure, so unit tested): not
 * a usage round, the last full sweep (marked last) sampled every running
 * container (last_ok), and nothing moved since it was marked: no CPU time
 * anywhere under the parent (so no container ran, allocated, faulted or
 * was OOM-killed), no event published (no create, destroy or config
 * change), no start or stop. Each container's sample is then its last
 * one again. */
bool vsd_sweep_quiet(const struct vsd_sweep_mark *last, bool last_ok,
		     const struct vsd_sweep_mark *now, bool usage_round);

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
/* Around a request that reads many containers' OOM records (a list):
 * begin reads the kernel log's news once, and until end the reads on this
 * thread do not read it again each. */
void vsd_oom_batch(struct vsd *d, bool begin);

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
 * pool: the container's pool from its config ("" none), where its cgroup
 * is looked for first. Never fails: what cannot be read is left as it
 * was. */
void vsd_oom_get(struct vsd *d, const char *name, const char *pool, const struct vs_rt_status *st,
		 struct vsd_oom_info *out);
/* vsd_oom_get with the cgroup's oom_kill counter already read (kills, -1
 * unknown), for a caller that read it with the rest of the cgroup's
 * statistics (GET /metrics): the file is not read twice. */
void vsd_oom_get_counted(struct vsd *d, const char *name, const struct vs_rt_status *st,
			 int64_t kills, struct vsd_oom_info *out);
/* Emit "oom": {"kills": N, "last_at": T|null, "last_command": S|null} into
 * the open object g, for status and stats. */
void vsd_oom_gen(struct vsd *d, const struct vs_container_config *cfg,
		 const struct vs_rt_status *st, struct vs_jgen *g);
/* The running container's cgroup where its config's pool puts it (as the
 * runtime made it: no look-up), or, when that holds no cgroup, wherever
 * vs_cg_open finds it (a pool changed under a reader). NULL on a bad name. */
struct vs_cg *vsd_cg_of(struct vsd *d, const char *name, const char *pool);
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
/* Fold a cgroup counter value in: true when it counted kills (the record
 * is then to be written); a new start alone resets the counter's base and
 * returns false. */
bool vsd_oom_count(struct vsd_oom_rec *r, int64_t started_at, int64_t cg_kills);

/* ---- usage.c: the usage ledger for billing ---------------------------- */

/* Samples kept: hourly for 35 days (more often with many stops). */
#define VSD_LEDGER_SAMPLES_MAX 840
#define VSD_LEDGER_NET_MAX     VS_NET_IFACES_MAX
struct vsd_ledger_net {
	char name[VS_IFNAME_MAX + 1]; /* inside the container: "eth0" */
	int64_t rx_bytes, tx_bytes;   /* received and sent by the container */
};
struct vsd_ledger_counters {
	int64_t cpu_usec;
	size_t nnet;
	struct vsd_ledger_net net[VSD_LEDGER_NET_MAX];
};
struct vsd_ledger_sample {
	int64_t t;		      /* unix seconds */
	struct vsd_ledger_counters c; /* the total then */
};
/* containers/NAME/usage.json. Large (keep it off thread stacks). */
struct vsd_ledger {
	int64_t written;		 /* unix seconds of the last write */
	struct vsd_ledger_counters base; /* runs that ended */
	int64_t run_started_at;		 /* the current (or last) run, 0 none */
	struct vsd_ledger_counters run;	 /* its newest reading */
	bool trimmed;			 /* older samples were dropped */
	size_t nsamples;		 /* oldest first */
	struct vsd_ledger_sample samples[VSD_LEDGER_SAMPLES_MAX];
};
/* Pure arithmetic (unit tested). Fold a reading of the run started at
 * started_at in (a new start time ends the previous run into base;
 * counters never go down within a run). */
void vsd_ledger_observe(struct vsd_ledger *l, int64_t started_at,
			const struct vsd_ledger_counters *reading);
/* base + run. */
void vsd_ledger_total(const struct vsd_ledger *l, struct vsd_ledger_counters *out);
/* Append a sample of the total at now when forced or the newest is an
 * hour old (dropping the oldest when full). True if one was added. */
bool vsd_ledger_sample(struct vsd_ledger *l, int64_t now, bool force);
/* Consumed since `since`: the total minus the newest sample at or before
 * since; *from is that sample's time, or created_at when since precedes
 * every sample (the oldest kept sample's when older ones were dropped). */
void vsd_ledger_since(const struct vsd_ledger *l, int64_t since, int64_t created_at,
		      struct vsd_ledger_counters *out, int64_t *from);
/* usage.json text (malloc'd) and back (0, or -1 with VS_EK_INVALID). */
char *vsd_ledger_gen(const struct vsd_ledger *l);
int vsd_ledger_parse(const char *text, struct vsd_ledger *l, struct vs_error *err);
enum vsd_usage_when {
	VSD_USAGE_SAMPLER, /* persisted at most once a minute (or a new sample) */
	VSD_USAGE_STOP,	   /* just before a stop: persisted, with a sample */
	VSD_USAGE_READ,	   /* GET .../usage: persisted */
};
/* What the kernel counts for a running container now: cst's CPU time and
 * the node-side counters of cfg's links: from links (vs_net_links_all, one
 * dump for many readings) when not NULL, else one netlink request each. */
void vsd_usage_reading(const struct vs_container_config *cfg, const struct vs_cg_stats *cst,
		       const struct vs_net_stats_table *links, struct vsd_ledger_counters *r);
/* Bring cfg's ledger up to date with r (a reading of the run started at
 * started_at, from vsd_usage_reading; NULL: no reading) and copy it to
 * *out (may be NULL). Never fails: problems are logged and the ledger
 * starts again when unreadable. True when the ledger on disk now holds r
 * (written, or it held it already); false when r is not persisted yet (a
 * sampler's reading within a minute of the last write, or a failed
 * write). */
bool vsd_usage_observe(struct vsd *d, const struct vs_container_config *cfg, int64_t started_at,
		       const struct vsd_ledger_counters *r, enum vsd_usage_when when,
		       struct vsd_ledger *out);
/* The reading of a running container, taken now (its CPU time, and
 * *started_at): true, or false when it is not running or its cgroup
 * cannot be read. The cgroup's statistics go to *cst_out (may be NULL:
 * then only the CPU counter is read; all -1 when stopped). */
bool vsd_usage_take(struct vsd *d, const struct vs_container_config *cfg,
		    struct vsd_ledger_counters *r, int64_t *started_at,
		    struct vs_cg_stats *cst_out);
/* vsd_usage_take, then vsd_usage_observe with what it took. */
void vsd_usage_record(struct vsd *d, const struct vs_container_config *cfg,
		      enum vsd_usage_when when, struct vsd_ledger *out,
		      struct vs_cg_stats *cst_out);

/* ---- emit.c: events from where things happen -------------------------- */

/* Start the bus at start-up (ids from the time, so they go on increasing
 * over restarts) and hook the operations registry to it. */
void vsd_events_init(struct vsd *d);
/* Publish an event (events.h) at the current time; nothing when the bus
 * is not there (unit tests). extra: see vsd_events_publish. */
void vsd_emit(struct vsd *d, enum vsd_event_type t, const char *container, const char *extra);
/* Report a container's running state as the daemon now knows it: a
 * container-started/-stopped event when it changed (vsd_events_state). */
void vsd_emit_state(struct vsd *d, const char *container, bool running);
/* The ETag of a stored file (config.json of a container, a pool's file)
 * in dirfd: 16 hex digits of a 64-bit FNV-1a hash of its bytes into etag.
 * 0, or -1 with err (errnum ENOENT when absent). */
int vsd_etag_file(int dirfd, const char *path, char etag[24], struct vs_error *err);

/* ---- peer.c: this node as a TLS client of another (migrations) ----------- */

/* Who to reach and as whom (docs/migration.md): the target's HTTPS API,
 * pinned by its certificate's fingerprint, with this node's certificate
 * (vsd_tls_cert_pem/vsd_tls_key_pem of vsd_auth(d)->tls) as the client
 * certificate the target must trust. */
struct vsd_peer_id {
	const char *url;	 /* "https://host:port", IPv6 "https://[::1]:8443" */
	const char *fingerprint; /* 64 hex (either case): the target's certificate */
	const char *cert_pem, *key_pem;
	int timeout_ms; /* connect, handshake and each read or write; 0: 30000 */
	/* Optional: called from vsd_peer_rsync_stream (and so from a push)
	 * with the bytes moved so far, at most every VSD_PEER_PROGRESS_MS and
	 * once at the end, for an operation's progress. */
	void (*progress)(void *arg, uint64_t sent, uint64_t received);
	void *progress_arg;
};
#define VSD_PEER_PROGRESS_MS 250
#define VSD_PEER_TIMEOUT_MS  30000
#define VSD_PEER_BODY_MAX    (4u << 20)

/* One TLS connection to a peer; HTTP/1.1 requests in turn on it. */
struct vsd_peer;
struct vs_mig_rsync_stats; /* migrate/vs_migrate.h */

/* Connect, handshake and check the pin. 0 with *out, or -1 with err:
 * "cannot connect to URL: Connection refused" (or "timed out after N
 * ms"), "TLS handshake with URL: ...", VS_EK_INVALID for a URL that is not
 * https://host:port or a fingerprint that is not 64 hex, VS_EK_FORBIDDEN
 * "fingerprint mismatch: expected X, the node at URL presented Y". */
/* The error kind an HTTP status of another node's answer stands for (the
 * API's own mapping turned around; INTERNAL for what it does not name). */
enum vs_error_kind vsd_peer_status_kind(unsigned status);
int vsd_peer_open(const struct vsd_peer_id *id, struct vsd_peer **out, struct vs_error *err);
/* Close (close_notify when the session is still usable); NULL is fine. */
void vsd_peer_close(struct vsd_peer *p);

/* One request: Host, "Vsd-Migration: 1" and, with a body (JSON text),
 * Content-Type: application/json and Content-Length. Reads the whole
 * answer (Content-Length, chunked, or up to the close; at most
 * VSD_PEER_BODY_MAX). 0 with *status and *resp (malloc'd, NUL-terminated,
 * "" when empty) whatever the status, or -1 when no answer came (err:
 * "URL: timed out after N ms", "URL: the connection closed before the
 * answer", "URL: malformed answer: ...", a TLS error). */
int vsd_peer_call(struct vsd_peer *p, const char *method, const char *path, const char *body,
		  unsigned *status, char **resp, struct vs_error *err);
/* vsd_peer_open + vsd_peer_call + vsd_peer_close. */
int vsd_peer_request(const struct vsd_peer_id *id, const char *method, const char *path,
		     const char *body, unsigned *status, char **resp, struct vs_error *err);

/* The transport of one rsync run (docs/migration.md, "Transport"). fd is
 * the source rsync's remote shell (the other end of vsd-helper __fdcat):
 * its first line, the remote command as a JSON array, becomes POST path
 * {"part": part, "args": [...], "stream": TOKEN} (TOKEN: 32 random hex),
 * whose 200 answer streams the target rsync's output (chunked) into fd,
 * then shutdown(fd, SHUT_WR); POST path-input with "Vsd-Stream: TOKEN"
 * carries what fd gives, to its end, as a chunked body (a thread of its
 * own). Each request has its own connection. Bytes each way go to *sent
 * and *received (either may be NULL) and to id's progress hook (from the
 * calling thread). 0 once both ended and the input was answered 200, or
 * -1 with err: the sync's refusal ("URL: 409: MESSAGE", the kind from the
 * status), "URL: the stream was cut" (its end before the last chunk), the
 * input's refusal, a TLS or socket error ("URL: timed out after N ms"). */
int vsd_peer_rsync_stream(const struct vsd_peer_id *id, const char *path, const char *part, int fd,
			  uint64_t *sent, uint64_t *received, struct vs_error *err);

/* A live dump's pages to the target's page server (docs/migration.md,
 * "Pages"): fd is our end of the socket whose other end the dumping criu
 * holds (--ps-socket); the sync at path (".../sync") with {"part": part
 * ("pages", or "round" for a memory pre-copy round), "args": [],
 * "stream"} and its -input, as for rsync. Returns
 * when the page server has ended its answer and fd's input has ended
 * (criu closed its end): 0, or -1 with err (the sync's refusal, or "URL:
 * the stream was cut": fd is then shut down both ways, so criu's next
 * write fails and the dump with it). rate: at most that many bytes a
 * second to the target (0: no limit). *sent / *received (may be NULL): the
 * bytes each way. Thread-safe; id->progress is called from this thread. */
int vsd_peer_pages_stream(const struct vsd_peer_id *id, const char *path, const char *part, int fd,
			  uint64_t rate, uint64_t *sent, uint64_t *received, struct vs_error *err);

/* The source's rsync of src_dir into the target's part (path e.g.
 * "/v1/migrations/ID/sync"): rsync -aHAX --numeric-ids --sparse --delete
 * --stats [--bwlimit=bwlimit] --timeout=T -e "vsd-helper __fdcat" SRC/
 * vsd:. with its remote shell carried by vsd_peer_rsync_stream. 0 with
 * *st (may be NULL) from rsync's --stats, or -1: the sync's refusal or a
 * transport error ("rsync SRC: ERROR (RSYNC'S LINE)", rsync stopped), or
 * "rsync SRC to URL: rsync exited with N: LAST LINE"; in that last case
 * *st is filled too (its exit_status N), so that a caller copying a tree
 * that changes under it may take VS_RSYNC_VANISHED for a round done.
 * recheck: NULL, or a file of rsync include rules (vs_fs_changed_since):
 * then only those files go, each compared whole (-I: not skipped on
 * equal size and modification time), and nothing is deleted. */
int vsd_peer_rsync_push(const struct vsd_peer_id *id, const char *path, const char *part,
			const char *src_dir, const char *bwlimit, const char *recheck,
			struct vs_mig_rsync_stats *st, struct vs_error *err);

#endif
