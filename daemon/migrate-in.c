/* The target's side of a migration (docs/migration.md): the reservation,
 * rsync into the staged container, the commit (the commit point: a
 * restore that succeeded here) and the abort. Only a node the target
 * trusts gets here: the routes need admin, and a source presents its node
 * certificate. Its requests are still checked like any input: the
 * configuration is parsed and checked as a create's, rsync runs with
 * arguments this node chose, the image is checked before CRIU sees it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/handlers.h"
#include "fs-cow/vs_fs.h"
#include "lib/vs_io.h"
#include "lib/vs_json.h"
#include "lib/vs_spawn.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"
#include "migrate/vs_migrate.h"

#define IMAGE_SUBDIR "incoming-image"
#define PAGES_SUBDIR "incoming-pages" /* the page server's, see migrate/pages.c */
#define BLOCKERS_MAX 16

/* ---- the reservation ---------------------------------------------------- */

struct in_req {
	char id[VSD_MIG_ID_LEN + 1];
	char mode[16];
	bool check;
	struct vs_container_config cfg;
	char tpl_digest[VS_FS_DIGEST_LEN];
	char criu_version[VS_MIG_VERSION_MAX];
	int64_t need_bytes;  /* the layer (and image) it brings */
	int64_t memory_used; /* what it holds in memory now (live) */
};

struct blockers {
	char *msg[BLOCKERS_MAX];
	enum vs_error_kind kind[BLOCKERS_MAX];
	size_t n;
};

static void blockers_free(struct blockers *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->msg[i]);
	b->n = 0;
}

static void block(struct blockers *b, const struct vs_error *e)
{
	if (b->n == BLOCKERS_MAX)
		return;
	b->kind[b->n] = e->kind;
	b->msg[b->n++] = xstrdup(e->msg);
}

static const char *str_field(const struct vs_json *obj, const char *key)
{
	return vs_json_string(vs_json_get(obj, key));
}

static int parse_config(const struct vs_json *v, struct vs_container_config *cfg,
			struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);

	if (v == NULL || vs_json_type(v) != VS_JSON_OBJECT)
		return vs_error_kind(err, VS_EK_INVALID, "config: expected an object");
	vs_jgen_value(g, v);
	if (vs_config_parse(vs_jgen_text(g, NULL), cfg, err) < 0)
		return vs_error_prefix(err, "config");
	return 0;
}

static int parse_reserve(const struct vsd_call *c, struct in_req *r, struct vs_error *err)
{
	static const char *const fields[] = {"id",	    "mode", "check",  "config",
					     "template",    "criu", "kernel", "need_bytes",
					     "memory_used", NULL};
	cleanup_json struct vs_json *obj = NULL;
	const struct vs_json *tpl, *criu;
	const char *id, *mode, *digest, *tname, *ver;

	memset(r, 0, sizeof(*r));
	if (vsd_parse_body(c->body, c->body_len, false, &obj, err) < 0 ||
	    vsd_check_fields(obj, fields, err) < 0)
		return -1;
	id = str_field(obj, "id");
	mode = str_field(obj, "mode");
	if (id == NULL || !vsd_mig_id_valid(id))
		return vs_error_kind(err, VS_EK_INVALID, "id: expected 32 lowercase hex digits");
	if (mode == NULL || (strcmp(mode, "live") != 0 && strcmp(mode, "stop") != 0 &&
			     strcmp(mode, "offline") != 0))
		return vs_error_kind(err, VS_EK_INVALID, "mode: expected live, stop or offline");
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->mode, sizeof(r->mode), "%s", mode);
	if (vs_json_get(obj, "check") != NULL &&
	    !vs_json_bool(vs_json_get(obj, "check"), &r->check))
		return vs_error_kind(err, VS_EK_INVALID, "check: expected true or false");
	tpl = vs_json_get(obj, "template");
	tname = str_field(tpl, "name");
	digest = str_field(tpl, "digest");
	if (tname == NULL || digest == NULL || strlen(digest) >= sizeof(r->tpl_digest))
		return vs_error_kind(err, VS_EK_INVALID,
				     "template: expected {\"name\", \"digest\"}");
	snprintf(r->tpl_digest, sizeof(r->tpl_digest), "%s", digest);
	criu = vs_json_get(obj, "criu");
	ver = str_field(criu, "version");
	snprintf(r->criu_version, sizeof(r->criu_version), "%s", ver != NULL ? ver : "");
	vs_json_int64(vs_json_get(obj, "need_bytes"), &r->need_bytes);
	vs_json_int64(vs_json_get(obj, "memory_used"), &r->memory_used);
	if (parse_config(vs_json_get(obj, "config"), &r->cfg, err) < 0)
		return -1;
	if (strcmp(r->cfg.template_name, tname) != 0) {
		vs_config_free(&r->cfg);
		return vs_error_kind(err, VS_EK_INVALID,
				     "template: '%s' is not the configuration's template", tname);
	}
	return 0;
}

/* The name: neither a container nor another migration's staging. */
static void check_name(struct vsd *d, const struct in_req *r, struct blockers *b)
{
	cleanup_free char *incoming = vsd_store_incoming(r->cfg.name);
	struct vs_error e = {0};
	struct stat st;

	if (vsd_store_exists(d->containers_fd, r->cfg.name))
		vs_error_kind(&e, VS_EK_CONFLICT, "container '%s' already exists on this node",
			      r->cfg.name);
	else if (fstatat(d->containers_fd, incoming, &st, AT_SYMLINK_NOFOLLOW) == 0)
		vs_error_kind(&e, VS_EK_CONFLICT,
			      "another migration of '%s' to this node is in progress", r->cfg.name);
	else
		return;
	block(b, &e);
}

static void check_template(struct vsd *d, const struct in_req *r, struct blockers *b)
{
	char have[VS_FS_DIGEST_LEN];
	struct vs_error e = {0};

	if (vs_fs_template_digest(d->root, r->cfg.template_name, have, &e) < 0) {
		if (e.kind == VS_EK_NOT_FOUND)
			vs_error_kind(&e, VS_EK_NOT_FOUND,
				      "template '%s' (%s) is not on this node: import it first",
				      r->cfg.template_name, r->tpl_digest);
		block(b, &e);
	} else if (strcmp(have, r->tpl_digest) != 0) {
		vs_error_kind(&e, VS_EK_CONFLICT,
			      "template '%s' on this node has digest %s, the container's has %s",
			      r->cfg.template_name, have, r->tpl_digest);
		block(b, &e);
	}
}

/* Room on the root's file system for the layer (and image) it brings. */
static void check_space(struct vsd *d, const struct in_req *r, struct blockers *b)
{
	struct statvfs sv;
	struct vs_error e = {0};
	int64_t avail;

	if (statvfs(d->root, &sv) < 0)
		return;
	avail = (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
	if (r->need_bytes > 0 && avail < r->need_bytes) {
		vs_error_kind(&e, VS_EK_CONFLICT,
			      "%s has %lld bytes free, the container brings %lld", d->root,
			      (long long)avail, (long long)r->need_bytes);
		block(b, &e);
	}
}

static void check_memory(const struct in_req *r, struct blockers *b)
{
	int64_t total, avail;
	struct vs_error e = {0};

	vsd_node_memory(&total, &avail);
	if (r->memory_used > 0 && avail >= 0 && avail < r->memory_used) {
		vs_error_kind(&e, VS_EK_CONFLICT,
			      "this node has %lld bytes of memory available, the container uses "
			      "%lld",
			      (long long)avail, (long long)r->memory_used);
		block(b, &e);
	}
}

static void check_criu(struct vsd *d, const struct in_req *r, struct blockers *b)
{
	char ver[VS_MIG_VERSION_MAX];
	struct vs_error e = {0};

	if (strcmp(r->mode, "live") != 0)
		return;
	if (vsd_criu_check(d->criu, &e) < 0) {
		block(b, &e);
		return;
	}
	vsd_criu_version(d->criu, ver, sizeof(ver));
	if (strcmp(ver, r->criu_version) != 0) {
		vs_error_kind(&e, VS_EK_UNSUPPORTED,
			      "this node's CRIU is %s, the source's %s: a live move needs the same "
			      "version (use --mode stop)",
			      ver, r->criu_version[0] ? r->criu_version : "unknown");
		block(b, &e);
	}
}

/* Everything that would stop the move, with d->mutate held. cfg->net is
 * completed for this node (node-side names) on the way. */
static void collect_blockers(struct vsd *d, struct in_req *r, struct blockers *b)
{
	struct vs_error e = {0};

	check_name(d, r, b);
	check_template(d, r, b);
	if (vsd_pool_check(d, r->cfg.pool, "pool", &e) < 0)
		block(b, &e);
	if (vsd_check_node_limits(d, r->cfg.name, &r->cfg.limits, &e) < 0)
		block(b, &e);
	if (vsd_net_prepare_create(d, &r->cfg, &e) < 0)
		block(b, &e);
	check_space(d, r, b);
	check_memory(r, b);
	check_criu(d, r, b);
}

static void gen_blockers(struct vs_jgen *g, const struct blockers *b)
{
	vs_jgen_obj_open(g);
	vs_jgen_kv_bool(g, "ok", b->n == 0);
	vs_jgen_key(g, "blockers");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < b->n; i++)
		vs_jgen_str(g, b->msg[i]);
	vs_jgen_arr_close(g);
	vs_jgen_obj_close(g);
}

/* The first blocker's kind, every message. */
static int blockers_error(const struct in_req *r, const struct blockers *b, struct vs_error *err)
{
	char msg[VS_ERROR_MSG_MAX] = "";
	size_t o = 0;

	for (size_t i = 0; i < b->n && o < sizeof(msg); i++)
		o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s%s", i ? "; " : "", b->msg[i]);
	return vs_error_kind(err, b->kind[0], "this node cannot take '%s': %s", r->cfg.name, msg);
}

/* The id range: the container's own when it is free here, else any. */
static int claim_range(struct vsd *d, struct vs_container_config *cfg, struct vs_error *err)
{
	struct vs_error e2 = {0};
	uint32_t base;

	if (cfg->privileged)
		return 0;
	if (vsd_idmap_claim_at(d->idmap_registry, d->root, cfg->name, cfg->idmap_uid, &e2) == 0)
		return 0;
	if (e2.kind != VS_EK_CONFLICT)
		return vs_error_kind(err, e2.kind, "%s", e2.msg);
	if (vsd_idmap_claim(d->idmap_registry, d->root, cfg->name, &base, err) < 0)
		return -1;
	cfg->idmap_uid = cfg->idmap_gid = base;
	return 0;
}

static int reserve_locked(struct vsd *d, struct in_req *r, uint32_t *base, struct vs_error *err)
{
	struct vsd_mig_record rec = {0};
	cleanup_free char *dir = vsd_store_incoming(r->cfg.name);
	uint32_t src_base = r->cfg.idmap_uid;
	struct vs_error e2 = {0};

	if (claim_range(d, &r->cfg, err) < 0)
		return -1;
	snprintf(rec.id, sizeof(rec.id), "%s", r->id);
	snprintf(rec.name, sizeof(rec.name), "%s", r->cfg.name);
	snprintf(rec.mode, sizeof(rec.mode), "%s", r->mode);
	rec.state = VSD_MIG_RESERVED;
	rec.idmap_base = r->cfg.idmap_uid;
	rec.src_idmap_base = src_base;
	if (vsd_mig_record_save(d, &rec, err) < 0 ||
	    vsd_container_stage(d, &r->cfg, NULL, dir, err) < 0) {
		if (!r->cfg.privileged && vsd_idmap_release(d->idmap_registry, r->cfg.idmap_uid,
							    d->root, r->cfg.name, &e2) < 0)
			vsd_log("migration %s: release id range: %s", r->id, e2.msg);
		rec.state = VSD_MIG_FAILED;
		snprintf(rec.error, sizeof(rec.error), "%s", err->msg);
		vsd_mig_record_save(d, &rec, &e2);
		return -1;
	}
	*base = r->cfg.idmap_uid;
	return 0;
}

int vsd_h_migration_reserve(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	struct vsd *d = c->d;
	struct blockers b = {0};
	struct in_req r;
	struct vsd_mig_record old;
	struct vs_error e2 = {0};
	uint32_t base = 0;
	int rc = 0;

	if (vsd_mig_check_version(c, err) < 0 || parse_reserve(c, &r, err) < 0)
		return -1;
	if (!r.check && vsd_mig_record_load(d, r.id, &old, &e2) == 0) {
		vs_config_free(&r.cfg);
		return vs_error_kind(err, VS_EK_CONFLICT, "migration %s exists on this node", r.id);
	}
	pthread_mutex_lock(&d->mutate);
	collect_blockers(d, &r, &b);
	if (!r.check && b.n > 0)
		rc = blockers_error(&r, &b, err);
	else if (!r.check)
		rc = reserve_locked(d, &r, &base, err);
	pthread_mutex_unlock(&d->mutate);
	if (r.check)
		gen_blockers(g, &b);
	blockers_free(&b);
	if (rc < 0 || r.check) {
		vs_config_free(&r.cfg);
		if (rc == 0)
			vsd_reply_json(out, 200, g);
		return rc;
	}
	vsd_log("migration %s: reserved '%s' (%s, id range %u)", r.id, r.cfg.name, r.mode, base);
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "id", r.id);
	vs_jgen_kv_int(g, "idmap_base", base);
	/* The parts this node's sync takes besides layer and image: a source
	 * sends a live dump's pages to a page server only when named here. */
	vs_jgen_key(g, "parts");
	vs_jgen_arr_open(g);
	vs_jgen_str(g, "pages");
	vs_jgen_str(g, "round");
	/* Post-copy only where this node can restore lazily. */
	if (vsd_criu_check_lazy(d->criu, NULL) == 0)
		vs_jgen_str(g, "lazy");
	vs_jgen_arr_close(g);
	/* A dump may lock the network with nf_tables only when this node's
	 * CRIU can restore (and unlock) such an image. */
	vs_jgen_kv_str(g, "network_lock", vsd_criu_netlock(d->criu));
	vs_jgen_obj_close(g);
	vs_config_free(&r.cfg);
	vsd_reply_json(out, 201, g);
	return 0;
}

/* ---- status and abort --------------------------------------------------- */

static int load_param(struct vsd_call *c, struct vsd_mig_record *rec, struct vs_error *err)
{
	if (vsd_mig_check_version(c, err) < 0)
		return -1;
	if (vsd_mig_record_load(c->d, c->m->params[0], rec, err) < 0)
		return -1;
	if (rec->source)
		return vs_error_kind(err, VS_EK_NOT_FOUND, "migration %s leaves this node",
				     rec->id);
	return 0;
}

int vsd_h_migration_get(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	struct vsd_mig_record rec;

	if (load_param(c, &rec, err) < 0)
		return -1;
	vsd_mig_gen_record(g, &rec);
	vsd_reply_json(out, 200, g);
	return 0;
}

/* Remove the staged container and its id range; the record says why.
 * With d->mutate held. */
/* The staging (.NAME.incoming, its disk's mount, its id range) goes. */
static void remove_staging(struct vsd *d, const struct vsd_mig_record *rec)
{
	cleanup_free char *dir = vsd_store_incoming(rec->name);
	struct vs_error e = {0};
	struct stat st;

	/* Absent: committed and removed, or never staged; only the record changes. */
	if (fstatat(d->containers_fd, dir, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (vsd_container_unmount_disk(d, dir, &e) < 0 ||
		    vs_fs_remove_tree(d->containers_fd, dir, &e) < 0)
			vsd_log("migration %s: removing %s failed: %s", rec->id, dir, e.msg);
		else if (rec->idmap_base != 0 &&
			 vsd_idmap_release(d->idmap_registry, rec->idmap_base, d->root, rec->name,
					   &e) < 0)
			vsd_log("migration %s: releasing id range %u failed: %s", rec->id,
				rec->idmap_base, e.msg);
	}
}

static void drop_staging(struct vsd *d, struct vsd_mig_record *rec, enum vsd_mig_state state,
			 const char *why)
{
	struct vs_error e = {0};

	remove_staging(d, rec);
	rec->state = state;
	snprintf(rec->error, sizeof(rec->error), "%s", why);
	if (vsd_mig_record_save(d, rec, &e) < 0)
		vsd_log("migration %s: %s", rec->id, e.msg);
}

int vsd_h_migration_abort(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	struct vsd *d = c->d;
	struct vsd_mig_record rec;
	int rc = 0;

	pthread_mutex_lock(&d->mutate);
	if (load_param(c, &rec, err) < 0)
		rc = -1;
	else if (rec.state == VSD_MIG_RESERVED)
		drop_staging(d, &rec, VSD_MIG_ABORTED, "aborted by the source");
	else if (rec.state != VSD_MIG_ABORTED && rec.state != VSD_MIG_FAILED)
		rc = vs_error_kind(err, VS_EK_CONFLICT, "migration %s is %s: it cannot be aborted",
				   rec.id, vsd_mig_state_name(rec.state));
	pthread_mutex_unlock(&d->mutate);
	if (rc < 0)
		return -1;
	vsd_log("migration %s: %s", rec.id, vsd_mig_state_name(rec.state));
	vsd_mig_gen_record(g, &rec);
	vsd_reply_json(out, 200, g);
	return 0;
}

/* A post-copy pull that failed after the resume (docs/migration.md, "A
 * failed pull"): the container is killed here (a page never copied in
 * would read as zeros) and the record says "lost", which tells the source
 * it may bring its frozen copy back. With d->mutate. 0, or -1 when it
 * still runs here (then the record keeps "pulling"). */
static int pull_lost(struct vsd *d, struct vsd_mig_record *rec, const char *why)
{
	cleanup_config struct vs_container_config cfg = {0};
	struct vs_error e = {0};

	/* Removed, not only stopped: the source keeps the whole copy (as
	 * at its freeze) and brings it back; one left here would be a
	 * second copy, with a later disk, to start by mistake. "lost" only
	 * once it is gone: removed now, or not in the store at all. */
	if (vsd_store_load(d->containers_fd, rec->name, &cfg, &e) < 0 &&
	    e.kind != VS_EK_NOT_FOUND) {
		vsd_log("migration %s: '%s' may still run here (%s); the record stays pulling",
			rec->id, rec->name, e.msg);
		return -1;
	}
	if (e.kind != VS_EK_NOT_FOUND) {
		vsd_log("migration %s: '%s' loses its memory source (%s): killed and removed",
			rec->id, rec->name, why);
		if (vsd_container_destroy_locked(d, rec->name, true, &e) < 0) {
			vsd_log("migration %s: removing '%s': %s", rec->id, rec->name, e.msg);
			return -1;
		}
		vsd_emit(d, VSD_EV_CONTAINER_DESTROYED, rec->name, NULL);
		if (d->events != NULL)
			vsd_events_forget(d->events, rec->name);
	}
	snprintf(rec->pull, sizeof(rec->pull), "lost");
	snprintf(rec->error, sizeof(rec->error),
		 "the post-copy pull failed (%s): '%s' was killed and removed here, its memory "
		 "incomplete",
		 why, rec->name);
	if (vsd_mig_record_save(d, rec, &e) < 0)
		vsd_log("migration %s: %s", rec->id, e.msg);
	return 0;
}

/* ---- rsync into the staged container ------------------------------------ *
 *
 * rsync's protocol runs over two plain requests (docs/migration.md,
 * "Transport"): POST .../sync starts `rsync --server` and answers with its
 * output as a streamed body; POST .../sync-input, naming the same stream,
 * carries its input as a chunked body. (libmicrohttpd 0.9.75 relays an
 * upgraded TLS connection four bytes at a time.) */

#define STREAM_HEADER "Vsd-Stream"

struct sync_sess {
	struct sync_sess *next;
	struct vsd *d;
	char id[VSD_MIG_ID_LEN + 1];
	char part[16]; /* layer, image, pages, round: named in the record */
	char token[VSD_MIG_ID_LEN + 1];
	int in_fd;  /* rsync's stdin, until the input request takes it */
	int out_fd; /* rsync's stdout: the answer's body */
	int err_fd; /* its stderr (a memfd): the last line on failure */
	pid_t pid;
	const char *what;	    /* the program, for the log */
	bool lazy;		    /* criu lazy-pages: see lazy_wait_ready */
	char name[VS_NAME_MAX + 1]; /* lazy: the container it serves */
};

static void lazy_failed(struct sync_sess *ss);
static void lazy_done(struct sync_sess *ss, bool ok);

static pthread_mutex_t sessions_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sync_sess *sessions;

static void sess_free(struct sync_sess *ss)
{
	int status;

	vs_closep(&ss->in_fd);
	vs_closep(&ss->out_fd);
	if (ss->pid > 0) {
		kill(-ss->pid, SIGKILL);
		waitpid(ss->pid, &status, 0);
		/* A lazy-pages whose stream went before its end (the source's
		 * connection closed or timed out): the pull failed. */
		if (ss->lazy) {
			vsd_log("migration %s: criu lazy-pages stopped: its stream was cut",
				ss->id);
			lazy_failed(ss);
			lazy_done(ss, false);
		}
	}
	vs_closep(&ss->err_fd);
	free(ss);
}

/* A part that failed here goes into the migration's record, where the
 * source's GET finds it: the source's own rsync sees only the stream
 * break (docs/migration.md, "Transport"). The line is rsync's text about
 * files the source sent: sanitised and bounded. rsync's "vanished"
 * status is a round done (the source's rule), not a failure. Written
 * before the answer ends, so a source whose stream ended sees it. */
static void record_failure(const struct sync_sess *ss, int status, const char *line)
{
	struct vsd_mig_record rec;
	struct vs_error e = {0};

	if (status == VS_RSYNC_VANISHED)
		return;
	/* d->mutate: an abort's load and save of the record must not
	 * interleave with this one. */
	pthread_mutex_lock(&ss->d->mutate);
	if (vsd_mig_record_load(ss->d, ss->id, &rec, &e) == 0 && rec.state == VSD_MIG_RESERVED) {
		vsd_mig_sync_error_format(rec.sync_error, sizeof(rec.sync_error), ss->id, ss->part,
					  ss->what, status, line);
		vsd_mig_record_save(ss->d, &rec, &e);
	}
	pthread_mutex_unlock(&ss->d->mutate);
	if (e.msg[0] != '\0')
		vsd_log("migration %s: recording the failed %s: %s", ss->id, ss->part, e.msg);
}

/* A part whose rsync succeeded here after a failure (a round run while
 * the container ran: the source went on) drops that failure from the
 * record: it no longer says why anything failed. */
static void record_success(const struct sync_sess *ss)
{
	size_t n = strlen(ss->part);
	struct vsd_mig_record rec;
	struct vs_error e = {0};

	pthread_mutex_lock(&ss->d->mutate);
	if (vsd_mig_record_load(ss->d, ss->id, &rec, &e) == 0 && rec.state == VSD_MIG_RESERVED &&
	    strncmp(rec.sync_error, ss->part, n) == 0 && rec.sync_error[n] == ':') {
		rec.sync_error[0] = '\0';
		vsd_mig_record_save(ss->d, &rec, &e);
	}
	pthread_mutex_unlock(&ss->d->mutate);
	if (e.msg[0] != '\0')
		vsd_log("migration %s: recording the %s done: %s", ss->id, ss->part, e.msg);
}

/* The answer's body: rsync's output until it ends; then its status. */
static ssize_t sess_read(void *cls, char *buf, size_t max)
{
	struct sync_sess *ss = cls;
	char text[4096], line[512], msgs[2048];
	ssize_t n;
	int status = 0;

	do
		n = read(ss->out_fd, buf, max);
	while (n < 0 && errno == EINTR);
	if (n != 0)
		return n > 0 ? n : -1;
	if (waitpid(ss->pid, &status, 0) == ss->pid) {
		ss->pid = 0;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			/* The receiver's own complaint ("No space left on
			 * device"), not its "error in file IO" that follows. */
			n = pread(ss->err_fd, text, sizeof(text) - 1, 0);
			text[n > 0 ? n : 0] = '\0';
			vs_mig_rsync_cause(text, line, sizeof(line));
			/* The log has its first lines (which files, why). */
			vs_mig_rsync_messages(text, msgs, sizeof(msgs));
			/* Nothing here when rsync's protocol still ran: its
			 * messages went to the source, which logs them. */
			if (msgs[0] == '\0')
				snprintf(msgs, sizeof(msgs), "%s",
					 line[0] != '\0'
					     ? line
					     : "(no message here; see the source's log)");
			vsd_log("migration %s: %s ended with status %d: %s", ss->id, ss->what, code,
				msgs);
			record_failure(ss, code, line);
			if (ss->lazy)
				lazy_failed(ss);
		} else if (!ss->lazy && strcmp(ss->what, "rsync") == 0) {
			record_success(ss);
		}
		if (ss->lazy)
			lazy_done(ss, WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	return 0;
}

static void sess_done(void *cls)
{
	struct sync_sess *ss = cls;

	pthread_mutex_lock(&sessions_lock);
	for (struct sync_sess **p = &sessions; *p != NULL; p = &(*p)->next)
		if (*p == ss) {
			*p = ss->next;
			break;
		}
	pthread_mutex_unlock(&sessions_lock);
	sess_free(ss);
}

static struct sync_sess *sess_new(struct vsd *d, const char *id, const char *part,
				  const char *token)
{
	struct sync_sess *ss = xcalloc(1, sizeof(*ss));

	ss->d = d;
	ss->in_fd = ss->out_fd = -1;
	snprintf(ss->id, sizeof(ss->id), "%s", id);
	snprintf(ss->part, sizeof(ss->part), "%s", part);
	snprintf(ss->token, sizeof(ss->token), "%s", token);
	ss->what = "rsync";
	ss->err_fd = memfd_create("sync", MFD_CLOEXEC);
	return ss;
}

static struct sync_sess *sess_register(struct sync_sess *ss)
{
	pthread_mutex_lock(&sessions_lock);
	ss->next = sessions;
	sessions = ss;
	pthread_mutex_unlock(&sessions_lock);
	return ss;
}

/* Start rsync on pipes and register its stream. */
static struct sync_sess *sess_start(struct vsd *d, const char *id, const char *part,
				    const char *token, char *const argv[], struct vs_error *err)
{
	struct sync_sess *ss = sess_new(d, id, part, token);
	int in[2] = {-1, -1}, out[2] = {-1, -1};
	int rc;

	if (ss->err_fd < 0 || pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		vs_error_set(err, errno, "rsync's pipes");
		goto fail;
	}
	rc = vs_spawn_io(argv, environ, in[0], out[1], ss->err_fd, &ss->pid);
	vs_closep(&in[0]);
	vs_closep(&out[1]);
	if (rc != 0) {
		vs_error_set(err, rc, "start %s", argv[0]);
		goto fail;
	}
	ss->in_fd = steal_fd(&in[1]);
	ss->out_fd = steal_fd(&out[0]);
	return sess_register(ss);
fail:
	vs_closep(&in[0]);
	vs_closep(&in[1]);
	vs_closep(&out[0]);
	vs_closep(&out[1]);
	sess_free(ss);
	return NULL;
}

/* The page server on one socket (criu's --ps-socket needs a socket, both
 * ways on one descriptor): our end is both the answer's source and, dup'ed,
 * the input's sink, whose end server.c passes on as a half-close. */
static struct sync_sess *sess_start_socket(struct vsd *d, const char *id, const char *part,
					   const char *token, char *const argv[],
					   struct vs_error *err)
{
	struct sync_sess *ss = sess_new(d, id, part, token);
	int sv[2] = {-1, -1};
	int rc;

	if (ss->err_fd < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		vs_error_set(err, errno, "the page server's socket");
		sess_free(ss);
		return NULL;
	}
	ss->what = "criu page-server";
	rc = vs_spawn_io(argv, environ, sv[1], sv[1], ss->err_fd, &ss->pid);
	vs_closep(&sv[1]);
	ss->in_fd = rc == 0 ? fcntl(sv[0], F_DUPFD_CLOEXEC, 3) : -1;
	ss->out_fd = steal_fd(&sv[0]);
	if (rc != 0 || ss->in_fd < 0) {
		vs_error_set(err, rc != 0 ? rc : errno, "start %s", argv[0]);
		sess_free(ss);
		return NULL;
	}
	return sess_register(ss);
}

/* The staged directory a part goes to (made when missing). */
static char *part_dir(struct vsd *d, const struct vsd_mig_record *rec, const char *part,
		      struct vs_error *err)
{
	cleanup_free char *staging = vsd_store_incoming(rec->name);
	cleanup_free char *cdir = xasprintf("%s/containers/%s", d->root, staging);
	char *img;

	if (strcmp(part, "layer") == 0)
		return vs_fs_upper_dir(cdir);
	if (strcmp(part, "image") != 0 && strcmp(part, "pages") != 0) {
		cleanup_free char *clean = vsd_sanitize(part, 32);
		vs_error_kind(err, VS_EK_INVALID,
			      "part: expected layer, image, pages, round or lazy, got '%s'", clean);
		return NULL;
	}
	img = xasprintf("%s/%s", cdir, strcmp(part, "image") == 0 ? IMAGE_SUBDIR : PAGES_SUBDIR);
	if (mkdir(img, 0700) < 0 && errno != EEXIST) {
		vs_error_set(err, errno, "create %s", img);
		free(img);
		return NULL;
	}
	return img;
}

static int parse_args(const struct vs_json *arr, char ***out, size_t *n, struct vs_error *err)
{
	size_t len = vs_json_array_len(arr);
	char **v;

	if (arr == NULL || vs_json_type(arr) != VS_JSON_ARRAY || len == 0 || len > 64)
		return vs_error_kind(err, VS_EK_INVALID, "args: expected rsync's server arguments");
	v = xcalloc(len + 1, sizeof(*v));
	for (size_t i = 0; i < len; i++) {
		const char *s = vs_json_string(vs_json_array_at(arr, i));
		if (s == NULL) {
			vs_strv_free(v);
			return vs_error_kind(err, VS_EK_INVALID, "args[%zu]: expected a string", i);
		}
		v[i] = xstrdup(s);
	}
	*out = v;
	*n = len;
	return 0;
}

static bool token_valid(const char *t)
{
	return t != NULL && vsd_mig_id_valid(t);
}

static void stream_reply(struct vsd_reply *out, struct sync_sess *ss)
{
	out->status = 200;
	out->content_type = "application/octet-stream";
	out->reader = sess_read;
	out->reader_done = sess_done;
	out->reader_cls = ss;
}

/* Where a page server writes (docs/migration.md, "Memory pre-copy
 * rounds"): part "round" into the next round's directory pages/K, claimed
 * by its mkdir, so K is this node's own count of the rounds that came
 * (never a number from the source), after ../K-1; part "pages" (the final
 * dump) into pages itself, after the last round N when there were rounds.
 * prev (a buffer of 16) gets what --prev-images-dir names, "" for none. */
static char *page_server_dir(const char *pages, bool round, char prev[16], struct vs_error *err)
{
	cleanup_close int pfd = open(pages, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	unsigned k = 1;
	char name[8];

	prev[0] = '\0';
	if (pfd < 0) {
		vs_error_set(err, errno, "open %s", pages);
		return NULL;
	}
	for (; k <= VS_MIG_ROUNDS_MAX; k++) {
		snprintf(name, sizeof(name), "%u", k);
		if (round ? mkdirat(pfd, name, 0700) == 0
			  : faccessat(pfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			break;
		if (round && errno != EEXIST) {
			vs_error_set(err, errno, "create %s/%s", pages, name);
			return NULL;
		}
	}
	if (round && k > VS_MIG_ROUNDS_MAX) {
		vs_error_kind(err, VS_EK_CONFLICT, "part: at most %d memory pre-copy rounds",
			      VS_MIG_ROUNDS_MAX);
		return NULL;
	}
	if (!round) {
		if (k > 1)
			snprintf(prev, 16, "%u", k - 1);
		return xstrdup(pages);
	}
	if (k > 1)
		snprintf(prev, 16, "../%u", k - 1);
	return xasprintf("%s/%u", pages, k);
}

/* Parts "pages" and "round": a criu page-server into the staged pages
 * directory, its protocol on the stream (a live move only: the others
 * dump nothing). */
static int start_page_server(struct vsd_call *c, const struct vsd_mig_record *rec,
			     const struct vs_json *args, const char *token, bool round,
			     struct vsd_reply *out, struct vs_error *err)
{
	cleanup_strv char **argv = NULL;
	cleanup_free char *pages = NULL;
	cleanup_free char *dest = NULL;
	struct sync_sess *ss;
	char prev[16];

	if (strcmp(rec->mode, "live") != 0)
		return vs_error_kind(
		    err, VS_EK_CONFLICT,
		    "part: pages are sent only in a live migration (this one is %s)", rec->mode);
	if (args == NULL || vs_json_type(args) != VS_JSON_ARRAY)
		return vs_error_kind(err, VS_EK_INVALID, "args: expected [] for the pages part");
	if (vsd_criu_check(c->d->criu, err) < 0)
		return -1;
	pages = part_dir(c->d, rec, "pages", err);
	dest = pages != NULL ? page_server_dir(pages, round, prev, err) : NULL;
	if (dest == NULL || vs_mig_page_server_argv(c->d->inst.criu_path, vs_json_array_len(args),
						    dest, prev[0] ? prev : NULL, &argv, err) < 0)
		return -1;
	ss = sess_start_socket(c->d, rec->id, round ? "round" : "pages", token, argv, err);
	if (ss == NULL)
		return -1;
	stream_reply(out, ss);
	return 0;
}

/* ---- post-copy: the target's lazy-pages daemon ---------------------------- *
 *
 * Part "lazy" (docs/migration.md, "Post-copy"): `criu lazy-pages` on the
 * stream, reading the staged image (which arrived whole but for the lazy
 * pages), listening for the restore in a directory of this node's run dir
 * (never in the image, which is sealed and attacker-written), asking the
 * source's `dump --lazy-pages` for pages as the restored tasks fault on
 * them, then for the rest. Like the page server it runs through vs_spawn_io
 * with the stream's socket as stdin and stdout, not the one runner: its
 * output is the stream, read as the sync's answer while it runs. */

static char *lazy_dir(struct vsd *d, const char *name)
{
	return xasprintf("%s/containers/%s/" VS_MIG_LAZY_DIR, d->run_dir, name);
}

static int start_lazy_pages(struct vsd_call *c, const struct vsd_mig_record *rec,
			    const struct vs_json *args, const char *token, struct vsd_reply *out,
			    struct vs_error *err)
{
	cleanup_strv char **argv = NULL;
	cleanup_free char *img = NULL;
	cleanup_free char *work = lazy_dir(c->d, rec->name);
	cleanup_free char *sock = xasprintf("%s/" VS_MIG_LAZY_SOCKET, work);
	struct sync_sess *ss;

	if (strcmp(rec->mode, "live") != 0)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "part: post-copy is a live migration's (this one is %s)",
				     rec->mode);
	if (args == NULL || vs_json_type(args) != VS_JSON_ARRAY)
		return vs_error_kind(err, VS_EK_INVALID, "args: expected [] for the lazy part");
	if (vsd_criu_check_lazy(c->d->criu, err) < 0)
		return vs_error_prefix(err, "part: lazy");
	img = part_dir(c->d, rec, "image", err);
	if (img == NULL || vs_mkdir_p(work, 0700, err) < 0)
		return -1;
	/* A socket left by an earlier try would make the restore lazy
	 * without a daemon behind it. */
	if (unlink(sock) < 0 && errno != ENOENT)
		return vs_error_set(err, errno, "remove %s", sock);
	if (vs_mig_lazy_pages_argv(c->d->inst.criu_path, vs_json_array_len(args), img, work, &argv,
				   err) < 0)
		return -1;
	ss = sess_start_socket(c->d, rec->id, "lazy", token, argv, err);
	if (ss == NULL)
		return -1;
	ss->what = "criu lazy-pages";
	ss->lazy = true;
	snprintf(ss->name, sizeof(ss->name), "%s", rec->name);
	stream_reply(out, ss);
	return 0;
}

/* The lazy-pages daemon failed. Before the restore that fails the commit
 * (the source thaws its copy). After it, the restored tasks' registrations
 * went with it, and a page never copied in would read as zeros (the
 * kernel's rule once a userfaultfd closes): the container is killed
 * rather than left running on corrupt memory. */
static void lazy_failed(struct sync_sess *ss)
{
	cleanup_config struct vs_container_config cfg = {0};
	struct vsd_mig_record rec;
	struct vs_rt_status st;
	struct vs_error e = {0};

	pthread_mutex_lock(&ss->d->mutate);
	if (vsd_mig_record_load(ss->d, ss->id, &rec, &e) == 0 && rec.state == VSD_MIG_DONE) {
		if (strcmp(rec.pull, "pulling") == 0)
			pull_lost(ss->d, &rec, "criu lazy-pages failed");
	} else if (vsd_store_load(ss->d->containers_fd, ss->name, &cfg, &e) == 0 &&
		   vsd_container_status(ss->d, ss->name, &st, &e) == 0 &&
		   st.state == VS_RT_RUNNING) {
		vsd_log("migration %s: '%s' loses its memory source: stopped (killed)", ss->id,
			ss->name);
		if (vsd_container_stop(ss->d, &cfg, 0, &e) < 0)
			vsd_log("migration %s: stopping '%s': %s", ss->id, ss->name, e.msg);
	}
	pthread_mutex_unlock(&ss->d->mutate);
}

/* The lazy-pages daemon is gone: the image it read the page maps from
 * (kept after the restore for it) goes too. ok: it took every page, which
 * the record says before the stream's end reaches the source. */
static void lazy_done(struct sync_sess *ss, bool ok)
{
	cleanup_close int cfd = -1;
	struct vsd_mig_record rec;
	struct vs_error e = {0};

	pthread_mutex_lock(&ss->d->mutate);
	cfd =
	    openat(ss->d->containers_fd, ss->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (cfd >= 0)
		vs_fs_remove_tree(cfd, IMAGE_SUBDIR, NULL);
	if (ok && vsd_mig_record_load(ss->d, ss->id, &rec, &e) == 0 &&
	    strcmp(rec.pull, "pulling") == 0) {
		snprintf(rec.pull, sizeof(rec.pull), "pulled");
		if (vsd_mig_record_save(ss->d, &rec, &e) < 0)
			vsd_log("migration %s: %s", ss->id, e.msg);
	}
	pthread_mutex_unlock(&ss->d->mutate);
}

/* A post-copy commit that failed: its lazy-pages daemon (waiting for a
 * restore that will not come) goes. */
static void lazy_stop(const char *id)
{
	pthread_mutex_lock(&sessions_lock);
	for (struct sync_sess *ss = sessions; ss != NULL; ss = ss->next)
		if (ss->lazy && strcmp(ss->id, id) == 0 && ss->pid > 0)
			kill(-ss->pid, SIGKILL);
	pthread_mutex_unlock(&sessions_lock);
}

/* Before a post-copy restore: wait until the migration's lazy-pages
 * daemon listens (its NUL byte on --status-fd, its stderr), at most
 * timeout_ms (the source's sync request may come after its commit). 0
 * ready, -1 none came, it ended first, or it took too long. */
static int lazy_wait_ready(const char *id, int timeout_ms, struct vs_error *err)
{
	int64_t until = vs_now_ms() + timeout_ms;
	bool seen = false;

	do {
		int state = 0; /* 0 none, 1 ready, 2 waiting, 3 ended */
		char buf[4096];

		pthread_mutex_lock(&sessions_lock);
		for (struct sync_sess *ss = sessions; ss != NULL; ss = ss->next) {
			ssize_t n;
			if (!ss->lazy || strcmp(ss->id, id) != 0)
				continue;
			siginfo_t si = {0};
			n = pread(ss->err_fd, buf, sizeof(buf), 0);
			/* WNOWAIT: sess_read reaps it and logs its status. */
			state = n > 0 && memchr(buf, '\0', (size_t)n) != NULL ? 1
				: ss->pid <= 0 ||
					waitid(P_PID, (id_t)ss->pid, &si,
					       WEXITED | WNOHANG | WNOWAIT) < 0 ||
					si.si_pid != 0
				    ? 3
				    : 2;
		}
		pthread_mutex_unlock(&sessions_lock);
		if (state == 1)
			return 0;
		if (state == 3)
			return vs_error_kind(err, VS_EK_CONFLICT,
					     "criu lazy-pages ended before the restore");
		seen |= state == 2;
		usleep(20000);
	} while (vs_now_ms() < until);
	if (!seen)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "no lazy part (criu lazy-pages) came for migration %s", id);
	return vs_error_set(err, ETIMEDOUT, "criu lazy-pages did not get ready in %d s",
			    timeout_ms / 1000);
}

int vsd_h_migration_sync(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	static const char *const fields[] = {"part", "args", "stream", NULL};
	cleanup_json struct vs_json *obj = NULL;
	cleanup_strv char **args = NULL;
	cleanup_strv char **argv = NULL;
	cleanup_free char *dest = NULL;
	struct vsd_mig_record rec;
	struct sync_sess *ss;
	const char *part, *token;
	size_t n = 0;

	if (load_param(c, &rec, err) < 0 ||
	    vsd_parse_body(c->body, c->body_len, false, &obj, err) < 0 ||
	    vsd_check_fields(obj, fields, err) < 0)
		return -1;
	if (rec.state != VSD_MIG_RESERVED)
		return vs_error_kind(err, VS_EK_CONFLICT, "migration %s is %s, not reserved",
				     rec.id, vsd_mig_state_name(rec.state));
	part = str_field(obj, "part");
	token = str_field(obj, "stream");
	if (part == NULL)
		return vs_error_kind(err, VS_EK_INVALID, "part: required");
	if (!token_valid(token))
		return vs_error_kind(err, VS_EK_INVALID,
				     "stream: expected 32 lowercase hex digits");
	if (strcmp(part, "pages") == 0 || strcmp(part, "round") == 0)
		return start_page_server(c, &rec, vs_json_get(obj, "args"), token,
					 strcmp(part, "round") == 0, out, err);
	if (strcmp(part, "lazy") == 0)
		return start_lazy_pages(c, &rec, vs_json_get(obj, "args"), token, out, err);
	dest = part_dir(c->d, &rec, part, err);
	if (dest == NULL || parse_args(vs_json_get(obj, "args"), &args, &n, err) < 0 ||
	    vs_mig_rsync_server_argv((const char *const *)args, n, dest, &argv, err) < 0)
		return -1;
	ss = sess_start(c->d, rec.id, part, token, argv, err);
	if (ss == NULL)
		return -1;
	stream_reply(out, ss);
	return 0;
}

/* The input request's body goes to rsync's stdin, taken from its stream
 * (once: a second input for the same stream finds none). */
int vsd_mig_sync_sink(const struct vsd_call *c, int *fd, struct vs_error *err)
{
	const char *token = vsd_call_header(c, STREAM_HEADER);
	const char *id = c->m->params[0];

	if (vsd_mig_check_version(c, err) < 0)
		return -1;
	if (!token_valid(token))
		return vs_error_kind(err, VS_EK_INVALID,
				     "the " STREAM_HEADER " header must name a stream (32 hex)");
	*fd = -1;
	pthread_mutex_lock(&sessions_lock);
	for (struct sync_sess *ss = sessions; ss != NULL; ss = ss->next)
		if (strcmp(ss->id, id) == 0 && strcmp(ss->token, token) == 0) {
			*fd = steal_fd(&ss->in_fd);
			break;
		}
	pthread_mutex_unlock(&sessions_lock);
	if (*fd < 0)
		return vs_error_kind(err, VS_EK_NOT_FOUND, "no open stream %s for migration %s",
				     token, id);
	return 0;
}

int vsd_h_migration_sync_input(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);

	(void)err;
	vs_jgen_obj_open(g);
	vs_jgen_kv_int(g, "bytes", (int64_t)c->body_len);
	vs_jgen_obj_close(g);
	vsd_reply_json(out, 200, g);
	return 0;
}

/* ---- the commit ------------------------------------------------------------ */

struct commit_req {
	bool running, start, lazy;
};

static int parse_commit(const struct vsd_call *c, struct commit_req *r, struct vs_error *err)
{
	static const char *const fields[] = {"running", "start", "lazy", NULL};
	cleanup_json struct vs_json *obj = NULL;

	memset(r, 0, sizeof(*r));
	if (vsd_parse_body(c->body, c->body_len, true, &obj, err) < 0 ||
	    vsd_check_fields(obj, fields, err) < 0)
		return -1;
	if (vsd_mig_opt_bool(obj, "running", &r->running, err) < 0 ||
	    vsd_mig_opt_bool(obj, "start", &r->start, err) < 0 ||
	    vsd_mig_opt_bool(obj, "lazy", &r->lazy, err) < 0)
		return -1;
	if (r->lazy && !r->running)
		return vs_error_kind(err, VS_EK_INVALID, "lazy: only with running");
	return 0;
}

/* A container that arrives in another id range: its layer's owners and
 * its image's user namespace move with it. */
static int shift_ids(struct vsd *d, const struct vsd_mig_record *rec, bool image,
		     struct vs_error *err)
{
	cleanup_free char *staging = vsd_store_incoming(rec->name);
	cleanup_free char *cdir = xasprintf("%s/containers/%s", d->root, staging);
	cleanup_free char *upper = vs_fs_upper_dir(cdir);
	cleanup_free char *img = xasprintf("%s/" IMAGE_SUBDIR, cdir);
	cleanup_close int ufd = -1;
	cleanup_close int ifd = -1;

	if (rec->idmap_base == rec->src_idmap_base || rec->idmap_base == 0)
		return 0;
	ufd = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ufd < 0)
		return vs_error_set(err, errno, "open %s", upper);
	if (vs_fs_layer_shift(ufd, rec->src_idmap_base, rec->idmap_base, VS_IDMAP_SIZE, err) < 0)
		return vs_error_prefix(err, "move the layer to id range %u", rec->idmap_base);
	if (!image)
		return 0;
	ifd = open(img, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ifd < 0)
		return vs_error_set(err, errno, "open %s", img);
	if (vs_mig_image_shift_ids(ifd, rec->src_idmap_base, rec->idmap_base, VS_IDMAP_SIZE, err) <
	    0)
		return vs_error_prefix(err, "move the image to id range %u", rec->idmap_base);
	return 0;
}

/* Pages that came through the page server join the image (next to it in
 * PAGES_SUBDIR) before it is checked and sealed like any image. An image
 * sent whole by rsync has no such directory. */
static int take_pages(const char *img, int img_fd, struct vs_error *err)
{
	cleanup_free char *dir = xasprintf("%s/../" PAGES_SUBDIR, img);
	cleanup_close int pfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	size_t moved = 0;

	if (pfd < 0 && errno == ENOENT)
		return 0;
	if (pfd < 0)
		return vs_error_set(err, errno, "open %s", dir);
	if (vs_mig_image_take_pages(img_fd, pfd, &moved, err) < 0)
		return -1;
	if (moved == 0)
		return vs_error_kind(err, VS_EK_INVALID, "the page server received no pages (%s)",
				     dir);
	return 0;
}

/* The image as this node's own: root-only and sealed with its key (the
 * source's seal is under the source's key). */
static int adopt_image(struct vsd *d, const char *img, struct vs_error *err)
{
	cleanup_close int fd = open(img, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	uint8_t key[VS_MIG_KEY_LEN];
	int r;

	if (fd < 0)
		return vs_error_set(err, errno, "open %s (no image arrived)", img);
	if (take_pages(img, fd, err) < 0 || vs_mig_node_key(d->root, key, err) < 0)
		return -1;
	r = vs_mig_image_secure(fd, err) < 0 ? -1 : vs_mig_image_seal(fd, key, err);
	memset(key, 0, sizeof(key));
	return r;
}

static int bring_up(struct vsd *d, const struct vs_container_config *cfg,
		    const struct commit_req *cr, struct vs_error *err)
{
	cleanup_free char *img = xasprintf("%s/containers/%s/" IMAGE_SUBDIR, d->root, cfg->name);
	cleanup_close int cfd = -1;

	if (cr->running) {
		cleanup_free char *lazy = lazy_dir(d, cfg->name);
		cleanup_free char *sock = xasprintf("%s/" VS_MIG_LAZY_SOCKET, lazy);
		int rc;

		if (adopt_image(d, img, err) < 0)
			return -1;
		vsd_views_check(d, cfg->name);
		/* Post-copy: lazy-pages' socket in its directory makes the
		 * restore lazy (migrate/checkpoint.c); once restored, the
		 * socket has served (a later restore is a plain one). */
		if (!cr->lazy)
			unlink(sock);
		rc = vs_rt_restore(&d->inst, cfg, img, NULL, NULL, NULL, err);
		unlink(sock);
		if (rc < 0)
			return -1;
		cfd = openat(d->containers_fd, cfg->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		/* Post-copy: lazy-pages reads the image's page maps as it
		 * takes the restored tasks' userfaultfds; lazy_done removes it. */
		if (cfd >= 0 && !cr->lazy)
			vs_fs_remove_tree(cfd, IMAGE_SUBDIR, err);
		if (cfd >= 0)
			vs_fs_remove_tree(cfd, PAGES_SUBDIR, NULL);
		return 0;
	}
	if (cr->start)
		return vsd_container_start(d, cfg, err);
	return 0;
}

/* With d->mutate and the name's lock held: shift, rename into place, bring
 * it up. On failure nothing of it is left here. */
static int commit_locked(struct vsd *d, struct vsd_mig_record *rec, const struct commit_req *cr,
			 struct vs_error *err)
{
	cleanup_free char *dir = vsd_store_incoming(rec->name);
	cleanup_config struct vs_container_config cfg = {0};
	struct vs_error e2 = {0};

	if (cr->lazy && lazy_wait_ready(rec->id, 60000, err) < 0) {
		drop_staging(d, rec, VSD_MIG_FAILED, err->msg);
		return -1;
	}
	rec->state = VSD_MIG_COMMITTING;
	if (cr->lazy)
		snprintf(rec->pull, sizeof(rec->pull), "pulling");
	if (vsd_mig_record_save(d, rec, err) < 0)
		return -1;
	if (shift_ids(d, rec, cr->running, err) < 0) {
		drop_staging(d, rec, VSD_MIG_FAILED, err->msg);
		return -1;
	}
	if (renameat2(d->containers_fd, dir, d->containers_fd, rec->name, RENAME_NOREPLACE) < 0) {
		vs_error_set(err, errno, "rename %s to %s", dir, rec->name);
		drop_staging(d, rec, VSD_MIG_FAILED, err->msg);
		return -1;
	}
	fsync(d->containers_fd);
	if (vsd_store_load(d->containers_fd, rec->name, &cfg, err) < 0 ||
	    bring_up(d, &cfg, cr, err) < 0) {
		if (vsd_container_destroy_locked(d, rec->name, true, &e2) < 0)
			vsd_log("migration %s: removing '%s' after a failed commit: %s", rec->id,
				rec->name, e2.msg);
		rec->state = VSD_MIG_FAILED;
		snprintf(rec->error, sizeof(rec->error), "%s", err->msg);
		vsd_mig_record_save(d, rec, &e2);
		return -1;
	}
	rec->state = VSD_MIG_DONE;
	if (vsd_mig_record_save(d, rec, err) < 0)
		vsd_log("migration %s: done, but %s", rec->id, err->msg);
	return 0;
}

/* The commit's answer: the record and the container as it runs here. */
static void gen_arrived(struct vsd *d, struct vs_jgen *g, const struct vsd_mig_record *rec)
{
	cleanup_config struct vs_container_config cfg = {0};
	struct vs_rt_status st;
	struct vs_error e = {0};

	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "id", rec->id);
	vs_jgen_kv_str(g, "name", rec->name);
	vs_jgen_kv_str(g, "state", vsd_mig_state_name(rec->state));
	vs_jgen_kv_str(g, "mode", rec->mode);
	vs_jgen_key(g, "container");
	if (vsd_store_load(d->containers_fd, rec->name, &cfg, &e) == 0 &&
	    vsd_container_status(d, rec->name, &st, &e) == 0)
		vsd_gen_status(d, g, &cfg, &st, NULL);
	else
		vs_jgen_null(g);
	vs_jgen_obj_close(g);
}

int vsd_h_migration_commit(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	struct vsd *d = c->d;
	struct vsd_mig_record rec;
	struct commit_req cr;
	int rc;

	if (load_param(c, &rec, err) < 0 || parse_commit(c, &cr, err) < 0)
		return -1;
	if (rec.state == VSD_MIG_DONE) {
		vsd_mig_gen_record(g, &rec);
		vsd_reply_json(out, 200, g);
		return 0;
	}
	if (rec.state != VSD_MIG_RESERVED)
		return vs_error_kind(err, VS_EK_CONFLICT, "migration %s is %s, not reserved",
				     rec.id, vsd_mig_state_name(rec.state));
	pthread_mutex_lock(&d->mutate);
	rc = vsd_names_lock(d->names, rec.name, "migrate-in", err);
	if (rc == 0) {
		rc = commit_locked(d, &rec, &cr, err);
		if (rc < 0 && cr.lazy)
			lazy_stop(rec.id);
		vsd_names_unlock(d->names, rec.name);
	}
	pthread_mutex_unlock(&d->mutate);
	if (rc < 0)
		return vs_error_prefix(err, "commit migration %s of '%s'", rec.id, rec.name);
	vsd_log("migration %s: '%s' arrived (%s)", rec.id, rec.name, rec.mode);
	vsd_emit(d, VSD_EV_CONTAINER_CREATED, rec.name, NULL);
	if (cr.running || cr.start)
		vsd_emit_state(d, rec.name, true);
	gen_arrived(d, g, &rec);
	vsd_reply_json(out, 200, g);
	return 0;
}

/* ---- after a crash ------------------------------------------------------- */

static void recover_one(struct vsd *d, const struct vsd_mig_record *r, void *ud)
{
	struct vsd_mig_record rec = *r;
	struct vs_rt_status st;
	struct vs_error e = {0};

	(void)ud;
	if (rec.source)
		return;
	if (rec.state == VSD_MIG_RESERVED) {
		/* The transfer it was in is gone with the connection: the source
		 * sees "aborted" and keeps (or resumes) its container. */
		drop_staging(d, &rec, VSD_MIG_ABORTED, "the target restarted during the transfer");
		vsd_log("migration %s: aborted (this node restarted during the transfer)", rec.id);
		return;
	}
	/* Post-copy: this node's lazy-pages went with its daemon, so a
	 * restored copy would read pages never copied in as zeros. */
	if ((rec.state == VSD_MIG_DONE || rec.state == VSD_MIG_COMMITTING) &&
	    strcmp(rec.pull, "pulling") == 0) {
		rec.state = VSD_MIG_DONE;
		/* A restore that had not committed left its staging too. */
		remove_staging(d, &rec);
		if (pull_lost(d, &rec, "this node restarted during the pull") == 0)
			vsd_log("migration %s: the pull of '%s' was lost in a restart", rec.id,
				rec.name);
		return;
	}
	if (rec.state != VSD_MIG_COMMITTING)
		return;
	if (vsd_store_exists(d->containers_fd, rec.name) &&
	    vsd_container_status(d, rec.name, &st, &e) == 0 &&
	    (st.state == VS_RT_RUNNING || strcmp(rec.mode, "live") != 0)) {
		rec.state = VSD_MIG_DONE;
	} else {
		if (vsd_store_exists(d->containers_fd, rec.name) &&
		    vsd_container_destroy_locked(d, rec.name, true, &e) < 0)
			vsd_log("migration %s: remove '%s': %s", rec.id, rec.name, e.msg);
		drop_staging(d, &rec, VSD_MIG_FAILED, "the target restarted during the restore");
	}
	vsd_mig_record_save(d, &rec, &e);
	vsd_log("migration %s: %s after a restart", rec.id, vsd_mig_state_name(rec.state));
}

void vsd_mig_recover_incoming(struct vsd *d)
{
	struct vs_error e = {0};

	pthread_mutex_lock(&d->mutate);
	if (vsd_mig_record_each(d, recover_one, NULL, &e) < 0)
		vsd_log("migrations: %s", e.msg);
	pthread_mutex_unlock(&d->mutate);
}
