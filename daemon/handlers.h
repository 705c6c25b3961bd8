/* handlers.h: the request handlers of the REST API (containers.c,
 * templates.c, exec.c, snapshots.c, checkpoint.c, pools.c, limits.c,
 * stats.c, node.c, backup.c, openapi.c) and the route table that names them (api.c).
 * Only api.c and the handlers' own files include it. */
#ifndef VSD_HANDLERS_H
#define VSD_HANDLERS_H

#include "daemon/daemon.h"
#include "daemon/http.h"

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
int vsd_h_snapshot_list(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_snapshot_get(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_snapshot_create(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_snapshot_restore(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_snapshot_delete(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_template_list(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_template_get(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_template_create(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_template_archive(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_template_delete(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_operation_get(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_node(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
/* trustapi.c: client certificates and join tokens (admin), the join (public) */
int vsd_h_trust_list(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_trust_add(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_trust_remove(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_trust_token_list(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_trust_token_create(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_trust_token_remove(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_trust_join(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_pool_list(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_pool_create(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_pool_get(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_pool_patch(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_pool_delete(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_container_stats(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_metrics(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_container_export(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_container_import(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
/* eventsapi.c: GET /v1/events, GET /v1/operations, DELETE
 * /v1/operations/{id}. */
int vsd_h_events(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_operation_list(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_operation_delete(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
/* eventsapi.c: an operation id from a URL: 0, or -1 with VS_EK_NOT_FOUND. */
int vsd_parse_op_id(const char *ids, uint64_t *id, struct vs_error *err);
/* eventsapi.c: If-Match of the request against etag: 0 when absent, "*"
 * or equal (weak or strong), else -1 with VS_EK_PRECONDITION. */
int vsd_check_if_match(const struct vsd_call *c, const char *etag, struct vs_error *err);
/* containers.c: the ETag of containers/NAME/config.json (vsd_etag_file);
 * VS_EK_NOT_FOUND naming the container when it is absent. 0 or -1. */
int vsd_container_etag(struct vsd *d, const char *name, char etag[24], struct vs_error *err);
/* containers.c: take container name's lock (vsd_names_lock) and check the
 * request's If-Match against its ETag under it, so nothing changes the
 * stored config between the check and the change. 0 with the lock held
 * (the caller unlocks), or -1 with err and no lock. */
int vsd_container_lock_if_match(const struct vsd_call *c, const char *name, struct vs_error *err);

/* tokensapi.c: GET/POST /v1/tokens, DELETE /v1/tokens/{name} (admin). */
int vsd_h_token_list(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_token_create(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_token_delete(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
/* tokensapi.c: GET /v1/audit?since=UNIX&limit=N (admin). */
int vsd_h_audit(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);

/* access.c: what an owner-scoped credential may reach, checked by
 * server.c before any pre-check or handler: a route naming a container
 * (another owner's answers 404 exactly like a missing one) or an operation
 * (likewise), never the node's routes (pools, template details, metrics:
 * 403). 0 for every credential without an owner. */
int vsd_access_check(const struct vsd_call *c, struct vs_error *err);
/* access.c: may who see operation kind/target (owner-scoped: only
 * operations of its own containers)? */
bool vsd_op_visible(struct vsd *d, const struct vsd_identity *who, const char *kind,
		    const char *target, const char *owner);
/* access.c: settings that weaken isolation need admin scope on every path
 * that writes a config (create, import: old is NULL; PATCH: old is the
 * stored config, new the merged one, and only what new adds is checked):
 * privileged; an interface on a bridge the node did not declare (vsd's own
 * bridge, a bridge with an --ip-pool or a --private-bridge; any other
 * bridge of the host, its management LAN say, is the operator's to hand
 * out); an address outside the node's --ip-pool ranges of its network.
 * node may be NULL (no networking known: only vsd's own bridge is
 * declared, no address is in a pool). 0, or -1 with VS_EK_FORBIDDEN
 * naming the setting. */
int vsd_require_admin_for(const struct vsd_identity *who, const struct vs_net_node *node,
			  const struct vs_container_config *old,
			  const struct vs_container_config *new, struct vs_error *err);
/* access.c: the owner of a container an owner-scoped credential creates:
 * cfg->owner set to who's when absent; another owner is -1 with
 * VS_EK_FORBIDDEN. 0 for other credentials (cfg unchanged). */
int vsd_owner_for_create(const struct vsd_identity *who, struct vs_container_config *cfg,
			 struct vs_error *err);

/* openapi.c: the API's OpenAPI 3.1 document (docs/openapi.json) as built
 * into the binary: static, NUL-terminated, *len bytes. */
const char *vsd_openapi_json(size_t *len);
int vsd_h_openapi(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);

/* templates.c: the pre-check of PUT /v1/templates/{name}/archive: refuse
 * (409) when the template exists or is being made, so a large upload is
 * not read for nothing. 0 or -1. */
int vsd_p_template_archive(const struct vsd_call *c, struct vs_error *err);

/* containers.c: start a stopped container (refused while it is locked,
 * see vsd_check_unlocked) or stop a running one cleanly (init gets its
 * stop signal, then SIGKILL after timeout seconds), logging and emitting
 * the state change. With the container's lock held. 0 or -1. */
int vsd_container_start(struct vsd *d, const struct vs_container_config *cfg, struct vs_error *err);
int vsd_container_stop(struct vsd *d, const struct vs_container_config *cfg, int timeout,
		       struct vs_error *err);

/* panel.c: POST /v1/containers/{name}/lock and /unlock. */
int vsd_h_container_lock(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_container_unlock(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
/* reinstall.c: POST /v1/containers/{name}/reinstall. */
int vsd_h_container_reinstall(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
/* panel.c: GET /v1/containers/{name}/usage?since=UNIX_SECONDS (usage.c's
 * ledger). */
int vsd_h_container_usage(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
/* panel.c: 0 when cfg is not locked, else -1 with VS_EK_CONFLICT
 * "container 'x' is locked: REASON" (every start, resume, restore, exec
 * and console checks it). */
int vsd_check_unlocked(const struct vs_container_config *cfg, struct vs_error *err);
/* panel.c: write cfg as containers/NAME/config.json (atomically). 0 or -1. */
int vsd_panel_store_config(struct vsd *d, const struct vs_container_config *cfg,
			   struct vs_error *err);

/* creds.c: root passwords and SSH keys (written inside the container by
 * vs_rt_creds_apply; queued in containers/NAME/credentials.json while it
 * is stopped and applied right after its next start). */
#define VSD_CREDS_USER_MAX 32
#define VSD_CREDS_KEY_MAX  8192
#define VSD_CREDS_KEYS_MAX 32
enum vsd_creds_kind {
	VSD_CREDS_CREATE,   /* create body: root_password | root_password_hash, ssh_keys */
	VSD_CREDS_PASSWORD, /* {"user"?, "password" | "password_hash"} */
	VSD_CREDS_KEYS,	    /* {"user"?, "keys": [...], "replace"?} */
};
struct vsd_creds {
	char user[VSD_CREDS_USER_MAX + 1];
	char *hash;   /* crypt(3) hash or NULL (a plain password is hashed at once) */
	char **keys;  /* NULL-terminated, or NULL */
	bool replace; /* keys replace authorized_keys */
};
/* Parse (and for a plain password, hash) the members of obj for kind
 * (unknown members are the caller's to refuse for CREATE). 0 with *c
 * filled (free with vsd_creds_free), or -1 with VS_EK_INVALID naming the
 * field and *c empty. */
int vsd_creds_parse(const struct vs_json *obj, enum vsd_creds_kind kind, struct vsd_creds *c,
		    struct vs_error *err);
void vsd_creds_free(struct vsd_creds *c);
bool vsd_creds_empty(const struct vsd_creds *c);
/* Pure checks (0, or -1 with VS_EK_INVALID naming field): a user name, a
 * crypt(3) hash (crypt's alphabet only: no ':' or newline), a public key
 * line ("TYPE BASE64 [comment]"). */
int vsd_creds_check_user(const char *u, const char *field, struct vs_error *err);
int vsd_creds_check_hash(const char *h, const char *field, struct vs_error *err);
int vsd_creds_check_key(const char *k, const char *field, struct vs_error *err);
/* crypt(3) yescrypt hash of plain with a fresh salt: 0 with *hash
 * (malloc'd), or -1. */
int vsd_creds_hash(const char *plain, char **hash, struct vs_error *err);
/* Queue c in the container directory cfd (credentials.json, 0600). 0 or -1. */
int vsd_creds_queue_at(int cfd, const struct vsd_creds *c, struct vs_error *err);
/* One queued entry back into *c. 0 or -1. */
int vsd_creds_from_entry(const struct vs_json *e, struct vsd_creds *c, struct vs_error *err);
/* After a start: apply and remove the queue (failures are logged; the
 * queue goes either way, as a bad entry would fail at every start). */
void vsd_creds_apply_pending(struct vsd *d, const struct vs_container_config *cfg);
int vsd_h_container_password(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_container_ssh_keys(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);

/* ---- migration between nodes (docs/migration.md) --------------------- */

#define VSD_MIG_VERSION	       1
#define VSD_MIG_HEADER	       "Vsd-Migration"
#define VSD_MIG_ID_LEN	       32
#define VSD_MIG_SYNC_ERROR_MAX 512

enum vsd_mig_state {
	VSD_MIG_RESERVED,   /* target: staged; source: reserved there */
	VSD_MIG_COPYING,    /* source: layer rounds while it runs */
	VSD_MIG_DUMPED,	    /* source: suspended with its image for the move */
	VSD_MIG_COMMITTING, /* commit asked (source) or restoring (target) */
	VSD_MIG_DONE,	    /* the target runs it: the source's copy is gone */
	VSD_MIG_FAILED,
	VSD_MIG_ABORTED,
};

/* migrate.c: one migration as either node recorded it
 * (ROOT/migrations/ID.json). */
struct vsd_mig_record {
	char id[VSD_MIG_ID_LEN + 1];
	char name[VS_NAME_MAX + 1];
	bool source; /* this node is the source */
	enum vsd_mig_state state;
	char mode[16];		 /* live, postcopy (source), stop, offline */
	char peer_url[512];	 /* source: the target's URL */
	char peer_fp[65];	 /* source: its pinned fingerprint */
	uint32_t idmap_base;	 /* target: the id range the container got */
	uint32_t src_idmap_base; /* target: the one it had on the source */
	bool was_running;	 /* source: running when the move began */
	char error[VS_ERROR_MSG_MAX];
	/* target: the last sync part that failed here, "PART: PROGRAM ended
	 * with status N: LINE" (LINE sanitised), for the source to name the
	 * cause its broken stream hides; "" none. */
	char sync_error[VSD_MIG_SYNC_ERROR_MAX];
	/* Post-copy after the target's resume (docs/migration.md, "A failed
	 * pull"): "" not post-copy or not resumed yet; "pulling"; "pulled";
	 * target: "lost" (its copy killed, or never resumed, for a pull that
	 * failed); source: "failed" (the pull failed, the copy here frozen
	 * until the target's is known gone), "recovered" (thawed here).
	 * Source, every mode after the commit ("A copy left behind"):
	 * "removing" (the copy here still to be removed), "removed" (gone;
	 * post-copy says "pulled"). */
	char pull[12];
	int64_t updated_at;
};
const char *vsd_mig_state_name(enum vsd_mig_state s);
/* A post-copy pull, as the target's GET /v1/migrations/{id} (STATUS,
 * ANSWER) tells the source (docs/migration.md, "A failed pull"): GONE
 * (failed or aborted; done with "pull": "lost": its copy killed and
 * removed), PULLED (done, "pulled": every page went,
 * its copy is whole), RUNNING (anything else that parses: it may still
 * run it, e.g. a pull it has not seen fail, or a target that keeps no
 * pull word), UNKNOWN (another status, 404 included: after the commit a
 * target without the record proves nothing; or no usable answer). */
enum vsd_mig_pull_word {
	VSD_MIG_PULL_UNKNOWN,
	VSD_MIG_PULL_GONE,
	VSD_MIG_PULL_PULLED,
	VSD_MIG_PULL_RUNNING,
};
enum vsd_mig_pull_word vsd_mig_pull_word(unsigned status, const char *answer);
/* True for a source's pull word not settled yet: "pulling", "failed" (the
 * frozen copy waits for the target's word) or "removing" (the target runs
 * it, the copy here is still to be removed: any mode). Such a record
 * is never pruned and a thread holds its container until it is settled. */
bool vsd_mig_pull_unsettled(const char *pull);
/* What a failed pull's copy here is, from its status and its cgroup's
 * freezer (FROZEN: 1 frozen, 0 not, -1 unknown): FROZEN held as at the
 * freeze (unknown counts so: the monitor's thaw does nothing to a tree
 * that runs); ORPHAN running but its monitor gone (it can only be
 * killed); RUNNING not frozen (not held: it ran on); NONE not running
 * (stopped or suspended: nothing here holds its memory of the freeze). */
enum vsd_mig_held {
	VSD_MIG_HELD_FROZEN,
	VSD_MIG_HELD_ORPHAN,
	VSD_MIG_HELD_RUNNING,
	VSD_MIG_HELD_NONE,
};
enum vsd_mig_held vsd_mig_held_state(enum vs_rt_state state, bool monitor_alive, int frozen);
/* --check --mode postcopy: what the target's GET /v1/node answer
 * (NODE_INFO) says of lazy pages. 0 it can restore lazily; 1 it cannot,
 * or does not say (buf gets the blocker, with the target's own reason,
 * sanitised). */
int vsd_mig_lazy_blocker(const char *node_info, char *buf, size_t len);
/* obj's KEY, when present, a boolean into *out; else 400 naming KEY. */
int vsd_mig_opt_bool(const struct vs_json *obj, const char *key, bool *out, struct vs_error *err);
bool vsd_mig_id_valid(const char *id);
int vsd_mig_id_new(char out[VSD_MIG_ID_LEN + 1], struct vs_error *err);
/* The request's Vsd-Migration header is this node's version: 0, or -1
 * (VS_EK_INVALID naming both versions). */
int vsd_mig_check_version(const struct vsd_call *c, struct vs_error *err);
/* Write r (its updated_at set now) atomically. 0 or -1. */
int vsd_mig_record_save(struct vsd *d, struct vsd_mig_record *r, struct vs_error *err);
/* 0, or -1 with VS_EK_NOT_FOUND for an id never recorded here. */
int vsd_mig_record_load(struct vsd *d, const char *id, struct vsd_mig_record *r,
			struct vs_error *err);
/* A finished record older than 7 days (NOW, seconds), its pull not
 * "pulling" or "failed": vsd_mig_record_each removes it. */
bool vsd_mig_record_stale(const struct vsd_mig_record *r, int64_t now);
/* The final round's second pass lists its files in ROOT/migrations/ID
 * VSD_MIG_LIST_EXT (migrate-out.c's recheck) for the length of that pass. */
#define VSD_MIG_LIST_EXT ".recheck"
/* Removes every ID.recheck list under ROOT/migrations (a final round's
 * second pass removes its own; one left was a source's killed in it):
 * for vsd's start, before any move runs. The number removed, or -1. */
int vsd_mig_sweep_lists(struct vsd *d, struct vs_error *err);
/* fn for every record (stale ones are removed, with any ID.recheck). */
typedef void (*vsd_mig_record_fn)(struct vsd *d, const struct vsd_mig_record *r, void *ud);
int vsd_mig_record_each(struct vsd *d, vsd_mig_record_fn fn, void *ud, struct vs_error *err);
/* {"id", "name", "state", "mode", "error"?, "sync_error"?} */
void vsd_mig_gen_record(struct vs_jgen *g, const struct vsd_mig_record *r);
/* The target's sync_error for a part of migration ID whose WHAT (rsync)
 * ended with STATUS: "PART: WHAT ended with status N: LINE", LINE (rsync's
 * cause, vs_mig_rsync_cause) sanitised and bounded; "" or NULL (a push's
 * receiver prints nothing: rsync's protocol carries its messages to the
 * source) says so and where to look instead. */
void vsd_mig_sync_error_format(char *buf, size_t len, const char *id, const char *part,
			       const char *what, int status, const char *line);
/* The source's reading of a target's GET /v1/migrations/{id} answer: its
 * sync_error's LINE when it names part ("PART: ..."), sanitised (control
 * characters and bad UTF-8 as '?') and bounded, into buf; "" otherwise
 * (no such key, another part, an answer that is not JSON). */
void vsd_mig_sync_cause(const char *answer, const char *part, char *buf, size_t len);

/* stats.c: MemTotal and MemAvailable of /proc/meminfo in bytes (-1 unknown). */
void vsd_node_memory(int64_t *total, int64_t *avail);

/* migrate-in.c: the target's requests. */
int vsd_h_migration_reserve(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_migration_get(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_migration_sync(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_migration_sync_input(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
/* The sync-input route's sink: rsync's input for the stream the request's
 * Vsd-Stream header names. */
int vsd_mig_sync_sink(const struct vsd_call *c, int *fd, struct vs_error *err);
int vsd_h_migration_commit(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
int vsd_h_migration_abort(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
/* At start, before serving: finish what a crash left on the target side
 * (a reservation whose source is gone stays until it aborts or commits; a
 * commit in progress is decided from what runs). */
void vsd_mig_recover_incoming(struct vsd *d);

/* migrate-out.c: POST /v1/containers/{name}/migrate (the source's
 * operation), and at start the source's open migrations. */
int vsd_h_container_migrate(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
/* At start, before serving: takes the hold of every open migration's
 * container (no network), then hands each to a thread that asks its
 * target and settles it; returns without waiting for any target. */
void vsd_mig_recover_outgoing(struct vsd *d);
/* destroy --force of a container whose copy here is held after its move
 * because its removal failed (docs/migration.md, "A copy left behind"):
 * the removal tried now, acting for the thread that holds it. 1 removed
 * (the container-destroyed event sent), 0 not such a copy (destroy as
 * usual), -1 the removal failed again (err; it stays held). */
int vsd_mig_destroy_moved(struct vsd *d, const char *name, struct vs_error *err);
/* The source's live dump with its pages sent, while criu dumps, to the
 * target's page server (daemon/migrate-pages.c; the sync part "pages" of
 * migration mig_id at peer); after `rounds` memory pre-copy rounds
 * (vsd_mig_precopy_memory) only the pages dirtied since the last. On success the container is held
 * (see vs_rt_checkpoint_pages) and its image without pages is in containers/NAME/checkpoint;
 * *pages_bytes is what went on the wire (at most rate bytes a second, 0: no limit). On failure it
 * runs as before the dump. netlock as vs_rt_checkpoint's. 0 or -1. */
int vsd_mig_dump_pages(struct vsd *d, const struct vs_container_config *cfg,
		       const struct vsd_peer_id *peer, const char *mig_id, uint64_t rate,
		       unsigned rounds, const char *netlock, struct vsd_op_run *run,
		       int64_t *pages_bytes, struct vs_error *err);

/* Memory pre-copy rounds (docs/migration.md, "Memory pre-copy rounds"):
 * vs_rt_predump_pages rounds, each streamed to the target's page server
 * (sync part "round"), while the container runs, until
 * vs_mig_precopy_next says stop; the operation's progress gets a line per
 * round. out: each round's pages and the bytes sent. Then the final
 * vsd_mig_dump_pages with rounds = out->n. On failure the container runs
 * as before, its rounds' files are gone, and the target's staging is the
 * caller's to abort. 0 or -1. */
#define VSD_MIG_PAGE_SIZE 4096
struct vsd_mig_rounds {
	uint64_t pages[VS_MIG_PRECOPY_ROUNDS];
	unsigned n;
	int64_t bytes;
};
int vsd_mig_precopy_memory(struct vsd *d, const struct vs_container_config *cfg,
			   const struct vsd_peer_id *peer, const char *mig_id, uint64_t rate,
			   struct vsd_op_run *run, struct vsd_mig_rounds *out,
			   struct vs_error *err);

/* Post-copy (docs/migration.md, "Post-copy"), daemon/migrate-pages.c: the
 * container's `criu dump --lazy-pages` (vs_rt_checkpoint_lazy); on success
 * it is held and its image, without the lazy pages, is in
 * containers/NAME/checkpoint, and *fd is this end of the socket its CRIU
 * serves the lazy pages on (the caller's to stream or close: closing it
 * before the target resumed ends CRIU's serving); *lazy_pages: the pages
 * its page maps left lazy. 0 or -1 (it runs on). */
int vsd_mig_dump_lazy(struct vsd *d, const struct vs_container_config *cfg, const char *netlock,
		      struct vsd_op_run *run, int *fd, uint64_t *lazy_pages, struct vs_error *err);
/* The lazy pages' stream: fd (taken) bridged to the target's sync part
 * "lazy" (its criu lazy-pages asks, the dump answers) by a thread. NULL on
 * failure (fd closed). vsd_mig_lazy_end waits for the stream's end (the
 * target's lazy-pages took every page and exited), or first cuts it (cut):
 * *bytes the bytes sent; 0, or -1 when the stream failed. */
struct vsd_mig_lazy;
struct vsd_mig_lazy *vsd_mig_lazy_start(const struct vsd_peer_id *peer, const char *mig_id,
					uint64_t rate, int fd, struct vs_error *err);
int vsd_mig_lazy_end(struct vsd_mig_lazy *l, bool cut, int64_t *bytes, struct vs_error *err);

/* api.c: the API's route table (VSD_R__COUNT entries, one per route id),
 * each route with its handler and pre-check. */
extern const struct vsd_route vsd_routes[];
extern const size_t vsd_nroutes;

/* exec.c: GET /v1/streams/{id}?secret=S (WebSocket upgrade, PUBLIC): redeem
 * a stream ticket (POST .../exec or .../console with "ticket": true) and
 * start what it holds, exactly as the POST WebSocket path would. */
int vsd_h_stream(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);

/* exec.c: at shutdown: wake every stream thread and keep them off the sockets. */
void vsd_streams_stop(struct vsd *d);

#endif
