/* A failed post-copy pull (docs/migration.md, "A failed pull"): the target
 * resumed the container and then lost the source's lazy pages, so the copy
 * here stays frozen, held by a thread, until the target says whether its
 * copy took every page (the one here goes) or is gone (the one here runs
 * again), or the operator says so (vsctl migrate NAME --recover --force).
 * The same thread holds a moved container's copy (any mode) whose removal
 * after the commit failed, and tries it again ("A copy left behind"). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/handlers.h"
#include "daemon/migrate-out.h"
#include "lib/vs_json.h"
#include "lib/vs_util.h"

#define PULL_WAIT_MS	 (150 * 1000) /* the target's connections idle out in 120 s */
#define PULL_ASK_EVERY_S 3
#define PULL_RETRY_S	 15

/* What the target says of its copy (vsd_mig_pull_word); UNKNOWN when it
 * cannot be asked (err says why). */
enum vsd_mig_pull_word out_target_pull(struct out_job *j, struct vs_error *err)
{
	cleanup_free char *path = xasprintf("/v1/migrations/%s", j->rec.id);
	cleanup_free char *text = NULL;
	unsigned status = 0;
	int r;

	j->peer.timeout_ms = ASK_CAUSE_TIMEOUT_MS * 2;
	r = vsd_peer_request(&j->peer, "GET", path, NULL, &status, &text, err);
	j->peer.timeout_ms = 0;
	if (r < 0)
		return VSD_MIG_PULL_UNKNOWN;
	if (status == 404) {
		vs_error_kind(err, VS_EK_CONFLICT,
			      "the target has no record of migration %s although it took its "
			      "commit",
			      j->rec.id);
		return VSD_MIG_PULL_UNKNOWN;
	}
	if (status != 200) {
		out_answer_error(status, text, "GET", err);
		return VSD_MIG_PULL_UNKNOWN;
	}
	return vsd_mig_pull_word(status, text);
}

/* What the copy here is now (vsd_mig_held_state); a status that cannot be
 * read counts as held (the monitor's thaw is then what is tried). */
static enum vsd_mig_held held_now(struct out_job *j, struct vs_rt_status *st)
{
	struct vs_error e = {0};
	struct vs_cg *cg;
	int frozen = -1;

	if (vsd_container_status(j->d, j->name, st, &e) < 0) {
		vsd_log("migration %s: the state of '%s': %s", j->rec.id, j->name, e.msg);
		*st = (struct vs_rt_status){.state = VS_RT_RUNNING, .monitor_alive = true};
		return VSD_MIG_HELD_FROZEN;
	}
	if (st->state == VS_RT_RUNNING && st->monitor_alive) {
		cg = vs_cg_open_pool(j->d->cg, j->d->cgroup_parent, j->cfg.pool, j->name);
		frozen = cg != NULL ? vs_cg_frozen(cg, &e) : -1;
		vs_cg_free(cg);
		if (frozen < 0)
			vsd_log("migration %s: whether '%s' is frozen: %s", j->rec.id, j->name,
				e.msg[0] ? e.msg : "no cgroup");
	}
	return vsd_mig_held_state(st->state, st->monitor_alive, frozen);
}

/* The target's copy is gone: the frozen copy here runs again, as it was
 * at the freeze (memory and disk); msg says so, as do the record and a
 * container-resumed event. A copy that was not held frozen is not said to
 * be thawed: msg says what it is (stopped, or running on). 0, or -1 when
 * the thaw or kill failed (err; the record stays a failed pull, and the
 * next look tries again). */
static int pull_recover(struct out_job *j, const char *how, char *msg, size_t len,
			struct vs_error *err)
{
	struct vs_rt_status st;
	struct vs_error e = {0};
	enum vsd_mig_held h = held_now(j, &st);

	vs_error_kind(err, VS_EK_CONFLICT, "the post-copy pull of migration %s failed and %s",
		      j->rec.id, how);
	if (h == VSD_MIG_HELD_ORPHAN && out_kill_held(j, err) < 0) {
		/* A held tree whose monitor died cannot be thawed into a
		 * supervised container, and its kill failed: still frozen. */
		snprintf(j->rec.error, sizeof(j->rec.error), "%s", err->msg);
		out_save(j, VSD_MIG_DONE);
		return -1;
	}
	if ((h == VSD_MIG_HELD_FROZEN || h == VSD_MIG_HELD_RUNNING) &&
	    vs_rt_release_held(&j->d->inst, &j->cfg, &e) < 0) {
		vs_error_kind(err, VS_EK_INTERNAL,
			      "the post-copy pull of '%s' failed and %s, but its frozen copy here "
			      "could not be thawed: %s",
			      j->name, how, e.msg);
		snprintf(j->rec.error, sizeof(j->rec.error), "%s", err->msg);
		out_save(j, VSD_MIG_DONE);
		return -1;
	}
	if (h == VSD_MIG_HELD_ORPHAN)
		snprintf(msg, len, "%s", err->msg);
	else if (h == VSD_MIG_HELD_NONE)
		snprintf(
		    msg, len,
		    "the post-copy pull of migration %s failed and %.600s, but '%s' was not "
		    "held frozen here: it is %s (its memory as at the freeze is lost; start it "
		    "again)",
		    j->rec.id, how, j->name, vs_rt_state_name(st.state));
	else if (h == VSD_MIG_HELD_RUNNING)
		snprintf(
		    msg, len,
		    "the post-copy pull of migration %s failed and %.600s, but '%s' was not "
		    "frozen here: it runs on as it is, not from its freeze (what it did on the "
		    "target since is lost)",
		    j->rec.id, how, j->name);
	else
		snprintf(
		    msg, len,
		    "the post-copy pull of migration %s failed and %.600s: '%s' runs here again "
		    "as it was at its freeze (what it did on the target since is lost)",
		    j->rec.id, how, j->name);
	if (h == VSD_MIG_HELD_FROZEN)
		out_emit_reason(j, VSD_EV_CONTAINER_RESUMED, msg);
	snprintf(j->rec.pull, sizeof(j->rec.pull), "recovered");
	snprintf(j->rec.error, sizeof(j->rec.error), "%s", msg);
	out_save(j, VSD_MIG_FAILED);
	vsd_log("migration %s: %s", j->rec.id, msg);
	return 0;
}

/* The target runs a whole copy: the one here is ended (killed, still
 * frozen), whatever holds it. 0 or -1 (err). */
static int end_copy(struct out_job *j, struct vs_error *err)
{
	struct vs_rt_status st;
	enum vsd_mig_held h = held_now(j, &st);

	if (h == VSD_MIG_HELD_NONE)
		return 0;
	if (h == VSD_MIG_HELD_ORPHAN)
		return vs_rt_kill_held(&j->d->inst, &j->cfg, err) < 0
			   ? vs_error_prefix(err, "end the frozen copy of '%s'", j->name)
			   : 0;
	/* Its dump's CRIU may have ended with an error after the last page
	 * (the stream's end): the first ask reaps it, the second kills the
	 * tree all the same. */
	if (vs_rt_end_held(&j->d->inst, &j->cfg, err) < 0 &&
	    vs_rt_end_held(&j->d->inst, &j->cfg, err) < 0)
		return vs_error_prefix(err, "end the frozen copy of '%s'", j->name);
	return 0;
}

int out_pull_drop(struct out_job *j, char *msg, size_t len, struct vs_error *err)
{
	struct vs_error e = {0};

	/* Written first: a node that dies now removes it at its start. */
	snprintf(j->rec.pull, sizeof(j->rec.pull), "removing");
	out_save(j, VSD_MIG_DONE);
	if (out_drop_local(j, &e) == 0) {
		snprintf(j->rec.pull, sizeof(j->rec.pull), j->postcopy ? "pulled" : "removed");
		out_save(j, VSD_MIG_DONE);
		if (j->postcopy)
			snprintf(msg, len,
				 "'%s' runs on the target (it took every page); the frozen copy "
				 "here was removed",
				 j->name);
		else
			snprintf(msg, len, "'%s' runs on %.400s; its copy here was removed",
				 j->name, j->rec.peer_url);
		return 1;
	}
	vs_error_kind(err, VS_EK_INTERNAL,
		      "'%s' runs on %.400s since migration %s%s, but its %scopy here could not "
		      "be removed: %.400s; vsd keeps '%s' held and tries again every %d s and at "
		      "its start (vsctl migrate %s --recover tries at once, vsctl destroy %s "
		      "--force removes it by hand)",
		      j->name, j->rec.peer_url, j->rec.id,
		      j->postcopy ? " (it took every page)" : "", j->postcopy ? "ended " : "",
		      e.msg, j->name, PULL_RETRY_S, j->name, j->name);
	snprintf(j->rec.error, sizeof(j->rec.error), "%s", err->msg);
	out_save(j, VSD_MIG_DONE);
	return 0;
}

/* What a request on j's held name is told: a copy whose removal is left
 * names where the container runs and the ways out; a failed pull gets the
 * usual refusal (vsd_names_pull_kind's). */
static void hold_say(struct out_job *j)
{
	char note[VS_ERROR_MSG_MAX] = "";

	if (strcmp(j->rec.pull, "removing") == 0)
		snprintf(note, sizeof(note),
			 "container '%s' runs on %.400s since migration %s; its copy here is "
			 "being removed and stays held until then (vsd tries again every %d s; "
			 "vsctl destroy %s --force removes it now)",
			 j->name, j->rec.peer_url, j->rec.id, PULL_RETRY_S, j->name);
	vsd_names_set_note(j->d->names, j->name, note);
}

/* One look at a failed pull. 1 settled here (RECOVERED, or the target's
 * copy is whole and the frozen one here went: msg says which), 0 not
 * yet (err says why: the target's word, or a removal that failed), -1
 * the thaw, kill or end failed. force: the operator says the target's
 * copy is gone although the target cannot be asked. */
static int pull_settle(struct out_job *j, bool force, bool *recovered, char *msg, size_t len,
		       struct vs_error *err)
{
	struct vs_error e = {0};
	enum vsd_mig_pull_word w;
	char how[VS_ERROR_MSG_MAX];

	*recovered = false;
	/* The target's word was "pulled" and the copy here was ended before
	 * that was written: only its removal is left. */
	if (strcmp(j->rec.pull, "removing") == 0)
		return out_pull_drop(j, msg, len, err);
	w = out_target_pull(j, &e);
	if (w == VSD_MIG_PULL_PULLED)
		return end_copy(j, err) < 0 ? -1 : out_pull_drop(j, msg, len, err);
	if (w == VSD_MIG_PULL_GONE || (w == VSD_MIG_PULL_UNKNOWN && force)) {
		if (w == VSD_MIG_PULL_GONE)
			snprintf(how, sizeof(how),
				 "the target's copy is gone (the target says so)");
		else
			snprintf(how, sizeof(how),
				 "the operator said the target's copy is gone (--force; the "
				 "target could not be asked: %.400s)",
				 e.msg);
		*recovered = true;
		return pull_recover(j, how, msg, len, err) < 0 ? -1 : 1;
	}
	if (w == VSD_MIG_PULL_UNKNOWN)
		vs_error_kind(err, VS_EK_CONFLICT,
			      "the target cannot be asked whether its copy of '%s' is gone (%s); "
			      "the copy here stays frozen (vsctl migrate %s --recover --force "
			      "once that node is known to be down for good)",
			      j->name, e.msg, j->name);
	else
		vs_error_kind(err, VS_EK_CONFLICT,
			      "the target may still run '%s' (its record does not say its copy "
			      "was killed); the copy here stays frozen",
			      j->name);
	return 0;
}

/* A failed pull's container is held, from the pull's failure to its
 * settlement, by a thread of this kind: every other request on it is
 * refused (409), so nothing but the settlement can thaw, start, restart
 * or move the frozen copy while the target's may still run. The looks of
 * these threads and --recover's run one at a time under pull_mu;
 * --recover acts on a container such a thread holds and wakes it. */
static pthread_mutex_t pull_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pull_cv = PTHREAD_COND_INITIALIZER;
/* The operation of vsctl migrate NAME --recover [--force]. */
static const char RECOVER_KIND[] = "container-migrate-recover";

static void pull_wait(int seconds)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += seconds;
	pthread_cond_timedwait(&pull_cv, &pull_mu, &ts);
}

/* Asks the target again, the name held throughout (waking for --recover),
 * until the pull is settled. A pull this node was in when it stopped
 * ("pulling") failed with it. */
static void *pull_thread(void *p)
{
	struct out_job *j = p;
	bool first = true;

	pthread_mutex_lock(&pull_mu);
	for (;;) {
		struct vs_error e = {0};
		struct vsd_mig_record rec;
		char msg[VS_ERROR_MSG_MAX];
		bool recovered;
		int r;

		if (!first)
			pull_wait(PULL_RETRY_S);
		first = false;
		if (!j->locked &&
		    vsd_names_lock_op(j->d->names, j->name, vsd_names_pull_kind, &e) < 0)
			continue;
		j->locked = true;
		vs_config_free(&j->cfg);
		/* A copy left to remove needs no configuration (one gone
		 * already counts as removed). */
		if (vsd_mig_record_load(j->d, j->rec.id, &rec, &e) < 0 ||
		    rec.state != VSD_MIG_DONE || !vsd_mig_pull_unsettled(rec.pull) ||
		    (strcmp(rec.pull, "removing") != 0 &&
		     vsd_store_load(j->d->containers_fd, j->name, &j->cfg, &e) < 0))
			break;
		j->rec = rec;
		/* The lazy stream lived in this daemon: the pull ended with
		 * it, and only the target knows whether every page went. */
		if (strcmp(rec.pull, "pulling") == 0) {
			snprintf(j->rec.pull, sizeof(j->rec.pull), "failed");
			snprintf(j->rec.error, sizeof(j->rec.error),
				 "this node restarted during the post-copy pull");
			out_save(j, VSD_MIG_DONE);
		}
		hold_say(j);
		r = pull_settle(j, false, &recovered, msg, sizeof(msg), &e);
		vsd_log("migration %s: %s", j->rec.id, r == 1 ? msg : e.msg);
		/* A thaw that failed is tried again too: the copy is frozen. */
		if (r == 1)
			break;
		hold_say(j);
	}
	out_job_free(j); /* the name goes free under pull_mu (recover_held) */
	pthread_mutex_unlock(&pull_mu);
	return NULL;
}

/* A thread settles j's failed pull; a name j holds passes to it. */
void out_pull_later(struct out_job *j)
{
	struct out_job *k = out_open_job(j->d, &j->rec);
	pthread_t t;

	if (j->locked) {
		vsd_names_set_kind(j->d->names, j->name, vsd_names_pull_kind);
		hold_say(j);
	}
	k->locked = j->locked;
	j->locked = false;
	if (pthread_create(&t, NULL, pull_thread, k) != 0) {
		vsd_log("migration %s: no thread to settle it; '%s' stays held until vsctl "
			"migrate --recover or vsd's next start",
			j->rec.id, j->name);
		out_job_free(k);
		return;
	}
	pthread_detach(t);
}

/* The pull failed after the target resumed the container (finish_lazy's
 * err): the copy here is frozen and whole as of the freeze. It runs again
 * only once the target's is known gone: asked for up to PULL_WAIT_MS,
 * then by a thread. 1 the target's copy was whole after all (moved), 0
 * recovered here (err says so), -1 undecided or the thaw failed (err). */
int out_pull_failed(struct out_job *j, struct vs_error *err)
{
	int64_t until = vs_now_ms() + PULL_WAIT_MS;
	char msg[VS_ERROR_MSG_MAX];
	struct vs_error e = {0};
	bool recovered = false;
	int r;

	snprintf(j->rec.pull, sizeof(j->rec.pull), "failed");
	snprintf(j->rec.error, sizeof(j->rec.error), "%s", err->msg);
	out_save(j, VSD_MIG_DONE);
	out_progress(j,
		     "the post-copy pull failed (%s); asking the target whether its copy is gone",
		     err->msg);
	while ((r = pull_settle(j, false, &recovered, msg, sizeof(msg), &e)) == 0 &&
	       vs_now_ms() < until) {
		memset(&e, 0, sizeof(e));
		sleep(PULL_ASK_EVERY_S);
	}
	if (r == 1 && !recovered) {
		out_progress(j, "%s", msg);
		return 1;
	}
	if (r == 1) {
		vs_error_kind(err, VS_EK_CONFLICT, "%s", msg);
		return 0;
	}
	/* Undecided, or a thaw or kill that failed: the thread tries again. */
	out_pull_later(j);
	*err = e;
	return -1;
}

/* vsctl migrate NAME --recover [--force]: a failed pull's frozen copy
 * runs here again, only when the target says its copy is gone (or, with
 * force, cannot be asked); a moved copy (any mode) left to remove is
 * tried again. */
struct pull_find {
	const char *name;
	struct vsd_mig_record rec;
	bool found;
	struct vsd_mig_record newest; /* NAME's newest move from here, any state */
	bool any;
};

static void find_pull(struct vsd *d, const struct vsd_mig_record *r, void *ud)
{
	struct pull_find *f = ud;

	(void)d;
	if (!r->source || strcmp(r->name, f->name) != 0)
		return;
	if (!f->any || r->updated_at >= f->newest.updated_at) {
		f->newest = *r;
		f->any = true;
	}
	if (r->state == VSD_MIG_DONE && vsd_mig_pull_unsettled(r->pull) &&
	    (!f->found || r->updated_at >= f->rec.updated_at)) {
		f->rec = *r;
		f->found = true;
	}
}

/* What --recover acts on, for its refusals. */
#define RECOVER_ACTS_ON                                                                            \
	"--recover acts on a move whose post-copy pull failed after the target resumed the "       \
	"container, or on a copy a move of any mode left here because its removal failed"

/* A record's settlement in words: "done (pull word 'removed')". */
static void rec_words(const struct vsd_mig_record *r, char *buf, size_t len)
{
	if (r->pull[0] != '\0')
		snprintf(buf, len, "%s (pull word '%s')", vsd_mig_state_name(r->state), r->pull);
	else
		snprintf(buf, len, "%s", vsd_mig_state_name(r->state));
}

/* --recover as an operation: what its worker needs. */
struct recover_job {
	struct vsd *d;
	struct vsd_mig_record rec; /* the failed pull's record, as found */
	bool force;
	bool locked; /* the request took the name (no pull thread held it) */
};

static void recover_job_free(void *p)
{
	struct recover_job *rj = p;

	if (rj->locked)
		vsd_names_unlock(rj->d->names, rj->rec.name);
	free(rj);
}

/* With pull_mu: one look at rec's pull for --recover, the name taken (by
 * the request, or held by its pull thread), the record read again under
 * it. 1 settled (msg), 0 not yet (err), -1 failed (err). */
static int recover_held(struct recover_job *rj, bool *recovered, char *msg, size_t len,
			struct vs_error *err)
{
	struct vsd *d = rj->d;
	const struct vsd_mig_record *rec = &rj->rec;
	struct vsd_hold_info info;
	bool by_thread =
	    vsd_names_info(d->names, rec->name, &info) && info.op_kind == vsd_names_pull_kind;
	struct out_job *j;
	int r;

	/* A thread that settled it between the request and now let the name
	 * go: it is taken here, and the record read again says it is over. */
	if (!rj->locked && !by_thread) {
		if (vsd_names_lock_op(d->names, rec->name, RECOVER_KIND, err) < 0)
			return -1;
		rj->locked = true;
	}
	j = out_open_job(d, rec);
	r = vsd_mig_record_load(d, rec->id, &j->rec, err);
	if (r == 0 && (j->rec.state != VSD_MIG_DONE || (strcmp(j->rec.pull, "failed") != 0 &&
							strcmp(j->rec.pull, "removing") != 0))) {
		char words[128];

		rec_words(&j->rec, words, sizeof(words));
		r = vs_error_kind(
		    err, VS_EK_CONFLICT,
		    "nothing to recover for '%s': migration %s is %s, %s (" RECOVER_ACTS_ON ")",
		    rec->name, rec->id, words,
		    strcmp(j->rec.pull, "pulling") == 0 ? "its post-copy pull still runs"
							: "settled already");
	}
	if (r == 0 && strcmp(j->rec.pull, "removing") != 0)
		r = vsd_store_load(d->containers_fd, rec->name, &j->cfg, err);
	if (r == 0)
		r = pull_settle(j, rj->force, recovered, msg, len, err);
	out_job_free(j); /* j->locked is false: the name stays with its holder */
	return r;
}

static int recover_work(struct vsd_op_run *run, void *ctx, char **result, struct vs_error *err)
{
	struct recover_job *rj = ctx;
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	char msg[VS_ERROR_MSG_MAX];
	bool recovered = false;
	int r;

	vsd_op_progress_cb(run, strcmp(rj->rec.pull, "removing") == 0
				    ? "removing the copy the move left here"
				    : "asking the target whether its copy is gone");
	pthread_mutex_lock(&pull_mu);
	r = recover_held(rj, &recovered, msg, sizeof(msg), err);
	pthread_cond_broadcast(&pull_cv); /* its thread looks again, and ends */
	pthread_mutex_unlock(&pull_mu);
	if (r <= 0)
		return r < 0 ? -1 : vs_error_prefix(err, "recover '%s'", rj->rec.name);
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "container", rj->rec.name);
	vs_jgen_kv_str(g, "migration", rj->rec.id);
	vs_jgen_kv_str(g, "outcome", recovered ? "recovered" : "moved");
	vs_jgen_kv_str(g, "message", msg);
	vs_jgen_obj_close(g);
	*result = vs_jgen_steal(g);
	return 0;
}

int out_recover_pull(struct vsd *d, const char *name, bool force, struct vsd_reply *out,
		     struct vs_error *err)
{
	struct pull_find f = {.name = name};
	struct vsd_hold_info info;
	struct recover_job *rj;
	char found[VS_ERROR_MSG_MAX / 2];
	bool removing;
	uint64_t id;

	if (vsd_mig_record_each(d, find_pull, &f, err) < 0)
		return -1;
	if (!f.found) {
		if (f.any) {
			char words[128];

			rec_words(&f.newest, words, sizeof(words));
			snprintf(found, sizeof(found),
				 "its newest move from here, migration %s, is %s", f.newest.id,
				 words);
		} else {
			snprintf(found, sizeof(found), "no move of it from here is recorded");
		}
		return vs_error_kind(
		    err, VS_EK_CONFLICT,
		    "container '%s' has no failed post-copy pull and no copy left to "
		    "remove: %s (" RECOVER_ACTS_ON ")",
		    name, found);
	}
	removing = strcmp(f.rec.pull, "removing") == 0;
	if (vsd_ops_busy(d->ops, RECOVER_KIND, name))
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "a recover of '%s' is running already (vsctl operation list)",
				     name);
	rj = xcalloc(1, sizeof(*rj));
	rj->d = d;
	rj->rec = f.rec;
	rj->force = force;
	/* The pull thread holds the name (the usual case): the operation acts
	 * for it. Else the operation takes it, as a migration does. */
	if (!(vsd_names_info(d->names, name, &info) && info.op_kind == vsd_names_pull_kind)) {
		if (vsd_names_lock_op(d->names, name, RECOVER_KIND, err) < 0) {
			free(rj);
			return -1;
		}
		rj->locked = true;
	}
	id = vsd_ops_add(d->ops, RECOVER_KIND, name, (int64_t)time(NULL));
	vsd_ops_set_cancel(d->ops, id, NULL, NULL,
			   "a recover cannot be cancelled: it ends after one look at the target "
			   "or one try of the removal");
	if (rj->locked)
		vsd_names_set_op(d->names, name, id);
	vsd_log("operation %llu: recover %s's %s (migration %s%s)", (unsigned long long)id, name,
		removing ? "copy left to remove" : "failed post-copy pull", f.rec.id,
		force ? ", --force" : "");
	if (vsd_ops_spawn(d->ops, id, recover_work, rj, recover_job_free, err) < 0)
		return -1;
	return vsd_ops_accepted(d->ops, id, out, err);
}

int vsd_mig_destroy_moved(struct vsd *d, const char *name, struct vs_error *err)
{
	struct pull_find f = {.name = name};
	struct recover_job rj = {.d = d};
	struct vsd_hold_info info;
	char msg[VS_ERROR_MSG_MAX];
	bool recovered = false;
	int r;

	if (!(vsd_names_info(d->names, name, &info) && info.op_kind == vsd_names_pull_kind))
		return 0;
	if (vsd_mig_record_each(d, find_pull, &f, err) < 0)
		return -1;
	/* A failed pull's frozen copy is no copy left behind: refused as
	 * any request on it is. */
	if (!f.found || strcmp(f.rec.pull, "removing") != 0)
		return 0;
	rj.rec = f.rec;
	pthread_mutex_lock(&pull_mu);
	r = recover_held(&rj, &recovered, msg, sizeof(msg), err);
	pthread_cond_broadcast(&pull_cv); /* its thread looks again, and ends */
	pthread_mutex_unlock(&pull_mu);
	if (rj.locked)
		vsd_names_unlock(d->names, name);
	if (r <= 0)
		return vs_error_prefix(err, "destroy '%s'", name);
	vsd_log("migration %s: destroy --force: %s", f.rec.id, msg);
	return 1;
}

/* A post-copy move whose commit the target says is done, found before the
 * source knew it (its answer lost, or this node died before it saved
 * "pulling"): the pull may have failed since (the target then wrote done
 * and lost), so "done" alone is no proof. Settled by the target's pull
 * word: pulled, the copy here goes; gone, it runs here again; otherwise it
 * stays frozen as a failed pull that a thread asks about. 1. */
int out_settle_pull(struct out_job *j)
{
	char msg[VS_ERROR_MSG_MAX];
	struct vs_error e = {0};
	bool recovered;
	int r;

	snprintf(j->rec.pull, sizeof(j->rec.pull), "failed");
	snprintf(j->rec.error, sizeof(j->rec.error),
		 "the post-copy pull's end was not seen here (the commit's answer was lost, or "
		 "this node restarted)");
	out_save(j, VSD_MIG_DONE);
	r = pull_settle(j, false, &recovered, msg, sizeof(msg), &e);
	vsd_log("migration %s: %s", j->rec.id, r == 1 ? msg : e.msg);
	if (r != 1)
		out_pull_later(j);
	return 1;
}
