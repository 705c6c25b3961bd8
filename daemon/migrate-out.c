/* The source's side of a migration (docs/migration.md): one operation that
 * reserves on the target, copies the layer in rounds while the container
 * runs, stops it (a CRIU dump into its own suspend image, or a graceful
 * stop), copies the rest, asks the target to commit, and only when the
 * target says it runs there drops its own copy. Until then the container
 * runs here, or is suspended here with its image: whatever fails before
 * the commit point gives it back as it was. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "daemon/auth.h"
#include "daemon/handlers.h"
#include "daemon/migrate-out.h"
#include "fs-cow/vs_fs.h"
#include "lib/vs_io.h"
#include "lib/vs_json.h"
#include "lib/vs_util.h"
#include "migrate/vs_migrate.h"

#define ROUNDS_MAX	  5
#define ROUND_SMALL	  (1024 * 1024) /* a round that sent less: stop copying */
#define COMMIT_TIMEOUT_MS (10 * 60 * 1000)
#define CONFIRM_WAIT_MS	  (120 * 1000) /* asking the target after a lost answer */
#define STOP_TIMEOUT	  30

static void release(struct out_job *j)
{
	if (!j->locked)
		return;
	j->locked = false;
	vsd_names_unlock(j->d->names, j->name);
}

void out_job_free(void *p)
{
	struct out_job *j = p;

	release(j);
	vsd_mig_lazy_end(j->lazy, true, NULL, NULL);
	if (j->lazy_fd >= 0)
		close(j->lazy_fd);
	vs_config_free(&j->cfg);
	free(j->url);
	free(j->fp);
	free(j->cert);
	free(j->key);
	free(j->arrived);
	free(j);
}

void out_progress(struct out_job *j, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (j->run != NULL)
		vsd_op_progress_cb(j->run, line);
}

/* The target's error message from an answer that was not success. */
int out_answer_error(unsigned status, const char *body, const char *what, struct vs_error *err)
{
	cleanup_json struct vs_json *obj = NULL;
	const char *msg = NULL;
	struct vs_error e2 = {0};
	/* The target refusing this node is a conflict between the two
	 * nodes, not a refusal of the operator who asked here. */
	enum vs_error_kind kind =
	    status == 401 || status == 403 ? VS_EK_CONFLICT : vsd_peer_status_kind(status);

	if (body != NULL && vs_json_parse(body, &obj, &e2) == 0)
		msg = vs_json_string(vs_json_get(vs_json_get(obj, "error"), "message"));
	if (status == 401)
		return vs_error_kind(err, kind,
				     "%s: the target does not trust this node (add this node's "
				     "certificate to its trust store: vsctl trust add)",
				     what);
	return vs_error_kind(err, kind, "%s: the target answered %u: %s", what, status,
			     msg != NULL ? msg : "(no message)");
}

/* One request to the target; any answer but want is an error. */
static int call(struct out_job *j, const char *method, const char *path, const char *body,
		unsigned want, char **resp, struct vs_error *err)
{
	cleanup_free char *text = NULL;
	unsigned status = 0;

	if (vsd_peer_request(&j->peer, method, path, body, &status, &text, err) < 0)
		return -1;
	if (status != want)
		return out_answer_error(status, text, method, err);
	if (resp != NULL)
		*resp = steal_ptr(&text);
	return 0;
}

int out_save(struct out_job *j, enum vsd_mig_state s)
{
	struct vs_error e = {0};

	j->rec.state = s;
	if (vsd_mig_record_save(j->d, &j->rec, &e) < 0) {
		vsd_log("migration %s: %s", j->rec.id, e.msg);
		return -1;
	}
	return 0;
}

/* ---- reservation -------------------------------------------------------- */

/* What the layer holds, for the target's space check: its disk quota's
 * usage when it has one (a statfs), else a walk of the upper tree. */
static int64_t layer_bytes(struct out_job *j)
{
	cleanup_free char *cdir = xasprintf("%s/containers/%s", j->d->root, j->name);
	cleanup_free char *upper = NULL;
	cleanup_close int fd = -1;
	struct vs_error e = {0};
	int64_t bytes = 0, total, iused, itotal;

	if (vs_fs_disk_usage(cdir, &bytes, &total, &iused, &itotal, &e) == 0)
		return bytes;
	upper = vs_fs_upper_dir(cdir);
	fd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || vs_fs_tree_size(fd, &bytes, &e) < 0)
		return 0;
	return bytes;
}

static int64_t memory_used(struct out_job *j)
{
	struct vs_cg *cg = vs_cg_open_pool(j->d->cg, j->d->cgroup_parent, j->cfg.pool, j->name);
	struct vs_cg_stats st;
	struct vs_error e = {0};
	int64_t used = 0;

	if (cg != NULL && vs_cg_stats(cg, &st, &e) == 0 && st.memory_current > 0)
		used = st.memory_current;
	vs_cg_free(cg);
	return used;
}

/* The reservation request's body (also --check's). */
static char *reserve_body(struct out_job *j, bool check, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_json struct vs_json *cfg = NULL;
	cleanup_free char *cfg_text = vs_config_to_json(&j->cfg);
	char digest[VS_FS_DIGEST_LEN], ver[VS_MIG_VERSION_MAX];
	struct utsname u;
	int64_t mem = j->was_running ? memory_used(j) : 0;

	if (vs_fs_template_digest(j->d->root, j->cfg.template_name, digest, err) < 0)
		return NULL;
	if (vs_json_parse(cfg_text, &cfg, err) < 0)
		return NULL;
	vsd_criu_version(j->d->criu, ver, sizeof(ver));
	uname(&u);
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "id", j->rec.id);
	vs_jgen_kv_str(g, "mode", j->mode);
	vs_jgen_kv_bool(g, "check", check);
	vs_jgen_key(g, "config");
	vs_jgen_value(g, cfg);
	vs_jgen_key(g, "template");
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "name", j->cfg.template_name);
	vs_jgen_kv_str(g, "digest", digest);
	vs_jgen_obj_close(g);
	vs_jgen_key(g, "criu");
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "version", ver);
	vs_jgen_obj_close(g);
	vs_jgen_kv_str(g, "kernel", u.release);
	vs_jgen_kv_int(g, "need_bytes", layer_bytes(j) + mem);
	vs_jgen_kv_int(g, "memory_used", mem);
	vs_jgen_obj_close(g);
	return vs_jgen_steal(g);
}

/* ---- copying -------------------------------------------------------------- */

#define BYTES_REPORT_MS 2000

/* A long copy shows in the operation's progress every few seconds. */
static void on_bytes(void *arg, uint64_t sent, uint64_t received)
{
	struct out_job *j = arg;
	int64_t now = vs_now_ms();

	(void)received;
	if (now - j->reported_ms < BYTES_REPORT_MS)
		return;
	j->reported_ms = now;
	out_progress(j, "sending the %s: %llu bytes so far", j->part, (unsigned long long)sent);
}

/* The target's line for a failed part (its record's sync_error, see
 * migrate-in.c), when it names this part: the cause (its disk full, ...)
 * that the stream's break hides from this node's rsync. Asked briefly: a
 * target that cannot be reached has nothing to add. buf gets "" else. */
static void target_cause(struct out_job *j, const char *part, char *buf, size_t len)
{
	cleanup_free char *path = xasprintf("/v1/migrations/%s", j->rec.id);
	cleanup_free char *text = NULL;
	struct vs_error e = {0};
	unsigned status = 0;
	int r;

	buf[0] = '\0';
	j->peer.timeout_ms = ASK_CAUSE_TIMEOUT_MS;
	r = vsd_peer_request(&j->peer, "GET", path, NULL, &status, &text, &e);
	j->peer.timeout_ms = 0;
	if (r == 0 && status == 200)
		vsd_mig_sync_cause(text, part, buf, len);
}

/* A part's failure with the target's own word first when it has one:
 * "target URL: rsync ended with status 11: rsync: [receiver] write failed
 * ...: No space left on device (28); here: rsync ...: Broken pipe". */
static void name_target_cause(struct out_job *j, const char *part, struct vs_error *err)
{
	char cause[VSD_MIG_SYNC_ERROR_MAX];
	char here[VS_ERROR_MSG_MAX];
	int errnum;

	target_cause(j, part, cause, sizeof(cause));
	if (cause[0] == '\0')
		return;
	snprintf(here, sizeof(here), "%s", err->msg);
	/* Kind and errno stay (the message already holds its strerror). */
	errnum = err->errnum;
	vs_error_kind(err, err->kind, "target %s: %s; here: %s", j->url, cause, here);
	err->errnum = errnum;
}

/* One rsync round of part. running: the container runs meanwhile, so its
 * files may go between rsync's listing and their turn (a guest's temp
 * files, systemd's and journald's renames: "vanished", 24) or shrink while
 * rsync reads them (`echo $i >f` truncates f, then writes: "read errors
 * mapping", 23): either status is then a round done, whose gaps the final
 * round, with the container stopped, fills. That round compares every
 * file again (size and time, --delete) and must end with status 0. */
static int push(struct out_job *j, const char *part, const char *src, bool running,
		const char *recheck, int64_t *sent, struct vs_error *err)
{
	cleanup_free char *path = xasprintf("/v1/migrations/%s/sync", j->rec.id);
	struct vs_mig_rsync_stats st = {.exit_status = -1};

	j->part = part;
	j->reported_ms = vs_now_ms();
	j->peer.progress = on_bytes;
	j->peer.progress_arg = j;
	if (vsd_peer_rsync_push(&j->peer, path, part, src, j->bwlimit[0] ? j->bwlimit : NULL,
				recheck, &st, err) < 0) {
		if (!running ||
		    (st.exit_status != VS_RSYNC_VANISHED && st.exit_status != VS_RSYNC_PARTIAL)) {
			name_target_cause(j, part, err);
			return vs_error_prefix(err, "copy the %s to the target", part);
		}
		vsd_log("migration %s: files of the running container changed during a round, "
			"left to the final round (%s)",
			j->rec.id, err->msg);
		*err = (struct vs_error){0};
	}
	*sent = (int64_t)st.bytes_sent;
	j->bytes += (int64_t)st.bytes_sent;
	return 0;
}

static char *upper_of(struct out_job *j)
{
	cleanup_free char *cdir = xasprintf("%s/containers/%s", j->d->root, j->name);

	return vs_fs_upper_dir(cdir);
}

/* Rounds while it runs: stop when a round sent little, sent more than the
 * one before (the guest writes faster than the link), or after
 * ROUNDS_MAX. */
static int precopy(struct out_job *j, struct vs_error *err)
{
	cleanup_free char *upper = upper_of(j);
	int64_t prev = -1, sent = 0;

	if (j->was_running) {
		clock_gettime(CLOCK_REALTIME, &j->layer_since);
		j->layer_since.tv_sec -= 1; /* the file system's clock is coarse */
	}
	for (int i = 1; i <= ROUNDS_MAX; i++) {
		if (push(j, "layer", upper, j->was_running, NULL, &sent, err) < 0)
			return -1;
		j->rounds++;
		out_progress(j, "pre-copy round %d: %lld bytes of the layer sent", i,
			     (long long)sent);
		if (!j->was_running || sent < ROUND_SMALL || (prev >= 0 && sent >= prev))
			break;
		prev = sent;
	}
	return 0;
}

/* Memory rounds while it runs (precopy), after the layer's: the final
 * dump then sends only what the guest dirtied since the last. */
/* --bandwidth holds for the pages too (KiB/s, as rsync's). */
static uint64_t pages_rate(const struct out_job *j)
{
	return j->bwlimit[0] ? strtoull(j->bwlimit, NULL, 10) * 1024 : 0;
}

static int precopy_memory(struct out_job *j, struct vs_error *err)
{
	if (!j->precopy)
		return 0;
	out_progress(j, "memory pre-copy rounds while the container runs");
	if (vsd_mig_precopy_memory(j->d, &j->cfg, &j->peer, j->rec.id, pages_rate(j), j->run,
				   &j->mem, err) < 0)
		return -1;
	j->bytes += j->mem.bytes;
	return 0;
}

/* The live dump: its pages to the target's page server while criu dumps
 * (the container is then held frozen here, see migrate-pages.c), or, to a
 * target that takes no pages part, the whole image into the suspend image
 * (the container is then suspended here). */
static int dump(struct out_job *j, struct vs_error *err)
{
	struct vs_rt_cr_result res = {0};
	uint64_t rate = pages_rate(j);

	if (j->target_pages) {
		out_progress(j, "stop-and-copy: freezing and dumping; memory pages go to the "
				"target's page server");
		if (vsd_mig_dump_pages(j->d, &j->cfg, &j->peer, j->rec.id, rate, j->mem.n,
				       j->netlock, j->run, &j->pages_bytes, err) < 0)
			return vs_error_prefix(err, "dump '%s'", j->name);
		j->bytes += j->pages_bytes;
		j->pages_via = "page-server";
		out_progress(j, "memory pages sent to the target's page server: %lld bytes",
			     (long long)j->pages_bytes);
		return 0;
	}
	out_progress(j, "stop-and-copy: freezing and dumping (the target takes no pages part: "
			"an older vsd; memory pages go with the image)");
	if (vs_rt_checkpoint(&j->d->inst, &j->cfg, NULL, false, j->netlock, vsd_op_progress_cb,
			     j->run, &res, err) < 0)
		return vs_error_prefix(err, "dump '%s'", j->name);
	if (j->d->events != NULL)
		vsd_events_note(j->d->events, j->name, false);
	j->pages_via = "image";
	return 0;
}

/* Post-copy's dump (docs/migration.md, "Post-copy"): all but the lazy
 * pages into the image, which goes by rsync as live's; the container is
 * held as live's, its CRIU serving the lazy pages on j->lazy_fd. */
static int dump_lazy(struct out_job *j, struct vs_error *err)
{
	out_progress(j, "stop-and-copy: freezing and dumping; anonymous memory stays here as lazy "
			"pages (post-copy)");
	if (vsd_mig_dump_lazy(j->d, &j->cfg, j->netlock, j->run, &j->lazy_fd, &j->lazy_pages, err) <
	    0)
		return vs_error_prefix(err, "dump '%s'", j->name);
	j->pages_via = "lazy";
	out_progress(j, "dumped; %llu pages left lazy", (unsigned long long)j->lazy_pages);
	return 0;
}

/* Post-copy, after the image went: the target's criu lazy-pages gets its
 * stream (its commit waits for it to listen). */
static int start_lazy(struct out_job *j, struct vs_error *err)
{
	int fd = j->lazy_fd;

	j->lazy_fd = -1;
	j->lazy = vsd_mig_lazy_start(&j->peer, j->rec.id, pages_rate(j), fd, err);
	if (j->lazy == NULL)
		return vs_error_prefix(err, "the lazy pages' stream");
	out_progress(j, "post-copy: the target's criu lazy-pages is to take the memory on demand");
	return 0;
}

/* Post-copy before the target resumed it: the lazy stream (or the dump's
 * socket) goes, so the dump's CRIU stops serving and lets the tasks go
 * for the thaw. */
static void cut_lazy(struct out_job *j)
{
	vsd_mig_lazy_end(j->lazy, true, NULL, NULL);
	j->lazy = NULL;
	if (j->lazy_fd >= 0)
		close(j->lazy_fd);
	j->lazy_fd = -1;
}

/* Post-copy after the target resumed it: the last page goes, then the
 * held tree is killed (vs_rt_end_held), never thawed. */
static int finish_lazy(struct out_job *j, struct vs_error *err)
{
	struct vs_error e = {0}, e2 = {0};
	int64_t sent = 0;

	out_progress(j, "resumed on the target; its memory follows (post-copy)");
	if (vsd_mig_lazy_end(j->lazy, false, &sent, &e) < 0)
		vsd_log("migration %s: the lazy pages' stream: %s", j->rec.id, e.msg);
	j->lazy = NULL;
	j->lazy_bytes = sent;
	j->pages_bytes = sent;
	j->bytes += sent;
	/* The frozen copy here is killed only once the target says it took
	 * every page (its record's "pulled", written before its stream
	 * ends): a stream that merely ended (its lazy-pages killed) is a
	 * failed pull, whatever this node's CRIU made of it. */
	if (out_target_pull(j, &e2) != VSD_MIG_PULL_PULLED)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "'%s' was resumed on the target, but its memory's transfer "
				     "did not complete (%s)",
				     j->name,
				     e.msg[0]	 ? e.msg
				     : e2.msg[0] ? e2.msg
						 : "the target does not say it took every page");
	if (vs_rt_end_held(&j->d->inst, &j->cfg, err) < 0)
		return vs_error_prefix(err,
				       "'%s' runs on the target, but its memory's transfer failed "
				       "(%s); the copy here stays frozen",
				       j->name, e.msg[0] ? e.msg : "the dump's CRIU");
	out_progress(j, "post-copy: %llu lazy pages sent (%lld bytes)",
		     (unsigned long long)j->lazy_pages, (long long)sent);
	return 0;
}

/* Files changed during the move that the final round compares whole, at
 * most (rsync matches each file against every rule: a longer list would
 * cost frozen time); past it the result warns instead. */
#define RECHECK_MAX 2000

/* The final round skips a file whose size and modification time match the
 * target's copy. A file a running round read, which the guest then
 * rewrote to the same size within one tick of the file system's coarse
 * clock (or whose time it set back), would stay stale there: the files
 * changed since the first running round, by their change time (which no
 * guest sets), go once more, compared whole (docs/migration.md, "The
 * final round's second pass"). */
static int recheck(struct out_job *j, const char *upper, struct vs_error *err)
{
	cleanup_free char *list = NULL;
	cleanup_free char *file = NULL;
	cleanup_close int fd = -1, out = -1;
	int64_t sent = 0, t_list, t0;
	size_t len, n;
	int r;

	if (j->layer_since.tv_sec == 0)
		return 0;
	t_list = vs_now_ms();
	fd = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return vs_error_set(err, errno, "open %s", upper);
	r = vs_fs_changed_since(fd, &j->layer_since, RECHECK_MAX, &list, &len, &n, err);
	if (r < 0)
		return vs_error_prefix(err, "list the files changed during the move");
	if (r > 0) {
		snprintf(j->warning, sizeof(j->warning),
			 "%zu files changed during the move, more than the %d the final round "
			 "compares whole: the others were compared by size and modification "
			 "time only",
			 n, RECHECK_MAX);
		out_progress(j, "%s", j->warning);
		return 0;
	}
	if (n == 0)
		return 0;
	file = xasprintf("%s/migrations/%s" VSD_MIG_LIST_EXT, j->d->root, j->rec.id);
	out = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0 || vs_write_all(out, list, len) < 0) {
		r = vs_error_set(err, errno, "write %s", file);
		unlink(file);
		return r;
	}
	t0 = vs_now_ms();
	r = push(j, "layer", upper, false, file, &sent, err);
	unlink(file);
	if (r == 0) {
		char msg[256];

		snprintf(msg, sizeof(msg),
			 "final layer round, second pass: %zu files changed during the move "
			 "compared whole, %lld bytes in %lld ms (listed in %lld ms)",
			 n, (long long)sent, (long long)(vs_now_ms() - t0),
			 (long long)(t0 - t_list));
		vsd_log("migration %s: %s", j->rec.id, msg);
		out_progress(j, "%s", msg);
	}
	return r;
}

/* Test hook: $VSD_TEST_MIG_FREEZE_DELAY_MS holds a move that long after
 * its running rounds, before the freeze (logged), so that a test can
 * change the guest's files between the two (migrate-rsync.bats). */
static void test_freeze_delay(struct out_job *j)
{
	const char *s = getenv("VSD_TEST_MIG_FREEZE_DELAY_MS");
	int64_t ms = s != NULL ? strtoll(s, NULL, 10) : 0;

	if (ms <= 0 || !j->was_running)
		return;
	vsd_log("migration %s: test hook: %lld ms before the freeze", j->rec.id, (long long)ms);
	nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L}, NULL);
}

/* Freeze and dump (live) or stop (stop mode), then the rest. */
static int stop_and_copy(struct out_job *j, int64_t *t_frozen, struct vs_error *err)
{
	cleanup_free char *upper = upper_of(j);
	cleanup_free char *image = xasprintf("%s/containers/%s/checkpoint", j->d->root, j->name);
	int64_t sent = 0;

	test_freeze_delay(j);
	*t_frozen = vs_now_ms();
	if (strcmp(j->mode, "live") == 0) {
		if ((j->postcopy ? dump_lazy(j, err) : dump(j, err)) < 0)
			return -1;
		j->dump_ms = vs_now_ms() - *t_frozen;
		out_save(j, VSD_MIG_DUMPED);
	} else if (strcmp(j->mode, "stop") == 0) {
		out_progress(j, "stopping the container");
		if (vsd_container_stop(j->d, &j->cfg, STOP_TIMEOUT, err) < 0)
			return vs_error_prefix(err, "stop '%s'", j->name);
		out_save(j, VSD_MIG_DUMPED);
	}
	if (push(j, "layer", upper, false, NULL, &sent, err) < 0 || recheck(j, upper, err) < 0)
		return -1;
	j->rounds++;
	out_progress(j, "final layer round: %lld bytes", (long long)sent);
	if (strcmp(j->mode, "live") != 0)
		return 0;
	if (push(j, "image", image, false, NULL, &sent, err) < 0)
		return -1;
	out_progress(j, "memory image sent: %lld bytes", (long long)sent);
	return j->postcopy ? start_lazy(j, err) : 0;
}

/* ---- the commit, and what follows either way ----------------------------- */

/* The target's word on the migration: DONE, FAILED (failed, aborted, or
 * never heard of), or COMMITTING while it still works; -1 when it cannot
 * be reached. */
static int ask_target(struct out_job *j, enum vsd_mig_state *st, struct vs_error *err)
{
	cleanup_free char *path = xasprintf("/v1/migrations/%s", j->rec.id);
	cleanup_free char *text = NULL;
	cleanup_json struct vs_json *obj = NULL;
	unsigned status = 0;
	const char *s;

	if (vsd_peer_request(&j->peer, "GET", path, NULL, &status, &text, err) < 0)
		return -1;
	if (status == 404) {
		*st = VSD_MIG_FAILED;
		return 0;
	}
	if (status != 200 || vs_json_parse(text, &obj, err) < 0)
		return out_answer_error(status, text, "GET", err);
	s = vs_json_string(vs_json_get(obj, "state"));
	*st = s != NULL && strcmp(s, "done") == 0	  ? VSD_MIG_DONE
	      : s != NULL && strcmp(s, "committing") == 0 ? VSD_MIG_COMMITTING
	      : s != NULL && strcmp(s, "reserved") == 0	  ? VSD_MIG_RESERVED
							  : VSD_MIG_FAILED;
	return 0;
}

/* After a commit whose answer was lost: ask until the target knows. 1
 * done, 0 failed there, -1 still unknown (err says why). */
static int confirm(struct out_job *j, struct vs_error *err)
{
	int64_t until = vs_now_ms() + CONFIRM_WAIT_MS;
	enum vsd_mig_state st = VSD_MIG_COMMITTING;

	while (vs_now_ms() < until) {
		struct vs_error e = {0};
		if (ask_target(j, &st, &e) == 0 && st != VSD_MIG_COMMITTING)
			return st == VSD_MIG_DONE ? 1 : 0;
		if (e.msg[0] != '\0')
			*err = e;
		usleep(2000 * 1000);
	}
	return -1;
}

static char *commit_body(struct out_job *j)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);

	vs_jgen_obj_open(g);
	vs_jgen_kv_bool(g, "running", strcmp(j->mode, "live") == 0);
	vs_jgen_kv_bool(g, "start", strcmp(j->mode, "stop") == 0);
	if (j->postcopy)
		vs_jgen_kv_bool(g, "lazy", true);
	vs_jgen_obj_close(g);
	return vs_jgen_steal(g);
}

/* 1 committed, 0 refused (the container may come back here), -1 in doubt. */
static int commit(struct out_job *j, struct vs_error *err)
{
	cleanup_free char *path = xasprintf("/v1/migrations/%s/commit", j->rec.id);
	cleanup_free char *body = commit_body(j);
	cleanup_free char *text = NULL;
	unsigned status = 0;
	struct vs_error lost = {0};
	int r;

	out_save(j, VSD_MIG_COMMITTING);
	out_progress(j, "commit: the target restores the container");
	j->peer.timeout_ms = COMMIT_TIMEOUT_MS;
	r = vsd_peer_request(&j->peer, "POST", path, body, &status, &text, &lost);
	j->peer.timeout_ms = 0;
	if (r == 0 && status == 200) {
		j->arrived = steal_ptr(&text);
		return 1;
	}
	if (r == 0) {
		out_answer_error(status, text, "commit", err);
		return 0;
	}
	out_progress(j, "the commit's answer was lost (%s); asking the target", lost.msg);
	r = confirm(j, err);
	if (r < 0)
		vs_error_kind(err, VS_EK_CONFLICT,
			      "the target did not confirm the commit (%s): '%s' stays suspended "
			      "and held here until it answers (vsd keeps asking it)",
			      lost.msg, j->name);
	else if (r == 0)
		vs_error_kind(err, VS_EK_CONFLICT, "the target could not restore '%s': %s", j->name,
			      lost.msg);
	return r;
}

/* Test hook: while the file $VSD_TEST_MIG_DROP_BLOCK names exists, the
 * removal of a moved copy fails after its stop, as one whose disk is still
 * busy would (the copy stays stopped here: migrate-faults.bats). */
static int test_drop_block(struct out_job *j, struct vs_error *err)
{
	const char *f = getenv("VSD_TEST_MIG_DROP_BLOCK");
	cleanup_config struct vs_container_config cfg = {0};
	struct vs_rt_status st;
	struct vs_error e = {0};

	if (f == NULL || f[0] == '\0' || access(f, F_OK) < 0)
		return 0;
	if (vsd_store_load(j->d->containers_fd, j->name, &cfg, &e) == 0 &&
	    vsd_container_status(j->d, j->name, &st, &e) == 0 && st.state != VS_RT_STOPPED &&
	    vs_rt_stop(&j->d->inst, &cfg, 0, true, &e) == 0)
		vsd_emit_state(j->d, j->name, false);
	return vs_error_kind(err, VS_EK_INTERNAL, "test hook: %s exists (VSD_TEST_MIG_DROP_BLOCK)",
			     f);
}

/* The move is over: the copy here goes (with d->mutate; the operation, or
 * the thread that retries it, holds the name). A copy already gone (its
 * destroy got past its rename before it failed: vsd's start finishes
 * that) counts as removed. */
int out_drop_local(struct out_job *j, struct vs_error *err)
{
	int r;

	pthread_mutex_lock(&j->d->mutate);
	r = test_drop_block(j, err);
	if (r == 0)
		r = vsd_container_destroy_locked(j->d, j->name, true, err);
	pthread_mutex_unlock(&j->d->mutate);
	if (r < 0 && err->kind == VS_EK_NOT_FOUND) {
		vsd_log("migration %s: '%s' is not here any more (%s)", j->rec.id, j->name,
			err->msg);
		return 0;
	}
	if (r < 0) {
		vsd_log("migration %s: '%s' runs on the target, but removing it here failed: %s",
			j->rec.id, j->name, err->msg);
		return -1;
	}
	vsd_emit(j->d, VSD_EV_CONTAINER_DESTROYED, j->name, NULL);
	if (j->d->events != NULL)
		vsd_events_forget(j->d->events, j->name);
	return 0;
}

/* The target forgets the reservation (best effort: a target that cannot
 * be reached aborts it when it restarts). */
static void abort_target(struct out_job *j)
{
	cleanup_free char *path = xasprintf("/v1/migrations/%s", j->rec.id);
	struct vs_error e = {0};

	if (call(j, "DELETE", path, NULL, 200, NULL, &e) < 0)
		vsd_log("migration %s: abort on the target: %s", j->rec.id, e.msg);
}

/* The container was dumped here (held, or suspended by an older
 * target's move) before the move failed. */
static bool dumped(const struct out_job *j)
{
	return j->rec.state == VSD_MIG_DUMPED || j->rec.state == VSD_MIG_COMMITTING;
}

/* The container's event (stopped: running no more; else running again
 * here), with the reason why. */
void out_emit_reason(struct out_job *j, enum vsd_event_type t, const char *reason)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);

	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "reason", reason);
	vs_jgen_obj_close(g);
	if (j->d->events != NULL)
		vsd_events_note(j->d->events, j->name, t != VSD_EV_CONTAINER_STOPPED);
	vsd_emit(j->d, t, j->name, vs_jgen_text(g, NULL));
}

/* A held container whose monitor died cannot be thawed into a supervised
 * one (docs/migration.md, "Exactly one copy"): it is killed, still
 * frozen, and left stopped here; why says so, and so does the
 * container-stopped event. Never two copies: the target's was aborted. */
int out_kill_held(struct out_job *j, struct vs_error *why)
{
	char reason[VS_ERROR_MSG_MAX];
	struct vs_error e = {0};

	snprintf(reason, sizeof(reason),
		 "its monitor died while it was held for migration %s, so its frozen tasks were "
		 "killed",
		 j->rec.id);
	if (vs_rt_kill_held(&j->d->inst, &j->cfg, &e) < 0) {
		vsd_log("migration %s: '%s' %s: %s", j->rec.id, j->name, reason, e.msg);
		vs_error_prefix(why,
				"'%s' could not be thawed (its monitor died while it was held for "
				"migration %s), and killing its frozen tasks failed: %s",
				j->name, j->rec.id, e.msg);
		return -1;
	}
	vsd_log("migration %s: '%s': %s; it is stopped here", j->rec.id, j->name, reason);
	out_emit_reason(j, VSD_EV_CONTAINER_STOPPED, reason);
	vs_error_prefix(why, "'%s' could not be thawed: %s; it is stopped here (start it again)",
			j->name, reason);
	return 0;
}

/* Before the commit point: the target forgets it, the container comes
 * back here as it was (why gets what could not be). */
static void roll_back(struct out_job *j, struct vs_error *why)
{
	struct vs_rt_status st;
	struct vs_error e = {0};

	cut_lazy(j);
	abort_target(j);
	if (vsd_container_status(j->d, j->name, &st, &e) == 0 && j->was_running) {
		/* Held after a dump to the target's page server (or never
		 * dumped: then nothing is held and this does nothing). */
		if (st.state == VS_RT_RUNNING && strcmp(j->mode, "live") == 0 &&
		    !st.monitor_alive && dumped(j))
			out_kill_held(j, why);
		else if (st.state == VS_RT_RUNNING && strcmp(j->mode, "live") == 0 &&
			 vs_rt_release_held(&j->d->inst, &j->cfg, &e) == 0)
			vsd_emit_state(j->d, j->name, true);
		else if (st.state == VS_RT_SUSPENDED &&
			 vs_rt_restore(&j->d->inst, &j->cfg, NULL, NULL, NULL, NULL, &e) == 0)
			vsd_emit_state(j->d, j->name, true);
		else if (st.state == VS_RT_STOPPED && vsd_container_start(j->d, &j->cfg, &e) == 0)
			vsd_emit_state(j->d, j->name, true);
		if (e.msg[0] != '\0')
			vsd_log("migration %s: bringing '%s' back here failed: %s", j->rec.id,
				j->name, e.msg);
	}
	/* Memory pre-copy rounds a source left when it died mid-move (its
	 * final dump would have reused them; nothing else does). */
	if (j->cfg.name[0] != '\0')
		vs_rt_drop_rounds(&j->d->inst, &j->cfg);
	snprintf(j->rec.error, sizeof(j->rec.error), "%s", why->msg);
	out_save(j, VSD_MIG_FAILED);
}

static char *result_of(struct out_job *j)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_json struct vs_json *arrived = NULL;
	struct vs_error e = {0};

	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "id", j->rec.id);
	vs_jgen_kv_str(g, "mode", j->postcopy ? "postcopy" : j->mode);
	vs_jgen_kv_str(g, "target", j->url);
	vs_jgen_kv_int(g, "frozen_ms", j->frozen_ms);
	vs_jgen_kv_int(g, "total_ms", vs_now_ms() - j->t0);
	vs_jgen_kv_int(g, "bytes", j->bytes);
	vs_jgen_kv_int(g, "rounds", j->rounds);
	vs_jgen_kv_str(g, "pages", j->pages_via != NULL ? j->pages_via : "none");
	vs_jgen_kv_int(g, "pages_bytes", j->pages_bytes);
	/* The memory pre-copy rounds: each round's pages, and their bytes. */
	vs_jgen_key(g, "memory_rounds");
	vs_jgen_arr_open(g);
	for (unsigned i = 0; i < j->mem.n; i++)
		vs_jgen_int(g, (int64_t)j->mem.pages[i]);
	vs_jgen_arr_close(g);
	vs_jgen_kv_int(g, "memory_rounds_bytes", j->mem.bytes);
	/* Post-copy: the pages the target pulled after it resumed the
	 * container (frozen_ms ends there; total_ms at the last page). */
	vs_jgen_kv_int(g, "lazy_pages", (int64_t)j->lazy_pages);
	vs_jgen_kv_int(g, "lazy_bytes", j->lazy_bytes);
	vs_jgen_kv_int(g, "dump_ms", j->dump_ms);
	vs_jgen_kv_int(g, "commit_ms", j->commit_ms);
	/* Moved, but something here was left undone (null otherwise). */
	vs_jgen_kv_str(g, "warning", j->warning[0] != '\0' ? j->warning : NULL);
	vs_jgen_kv_str(g, "network_lock",
		       j->pages_via == NULL || strcmp(j->pages_via, "none") == 0 ? NULL
		       : j->netlock != NULL					 ? j->netlock
										 : "iptables");
	/* The container as the target runs it (null when unknown). */
	vs_jgen_key(g, "container");
	if (j->arrived != NULL && vs_json_parse(j->arrived, &arrived, &e) == 0 &&
	    vs_json_get(arrived, "container") != NULL)
		vs_jgen_value(g, vs_json_get(arrived, "container"));
	else
		vs_jgen_null(g);
	vs_jgen_obj_close(g);
	return vs_jgen_steal(g);
}

static void keep_asking(struct out_job *j);

static bool lists(const struct vs_json *parts, const char *part)
{
	for (size_t i = 0; i < vs_json_array_len(parts); i++) {
		const char *p = vs_json_string(vs_json_array_at(parts, i));
		if (p != NULL && strcmp(p, part) == 0)
			return true;
	}
	return false;
}

/* What the reservation's answer says the target takes. Its "parts": a
 * target of an older vsd lists no "pages" and gets the pages with the
 * image, nor "round" (no memory rounds). Its "network_lock" (absent from an
 * older vsd): the dump locks with this node's method (vsd_criu_netlock)
 * only when the target's CRIU restores that too, else with CRIU's default,
 * iptables, which both can. */
static void target_takes(struct out_job *j, const char *answer)
{
	cleanup_json struct vs_json *obj = NULL;
	const char *lock, *mine = vsd_criu_netlock(j->d->criu);
	struct vs_error e = {0};

	j->target_pages = j->target_rounds = j->target_lazy = false;
	j->netlock = NULL;
	if (answer == NULL || vs_json_parse(answer, &obj, &e) < 0)
		return;
	j->target_pages = lists(vs_json_get(obj, "parts"), "pages");
	j->target_rounds = j->target_pages && lists(vs_json_get(obj, "parts"), "round");
	j->target_lazy = lists(vs_json_get(obj, "parts"), "lazy");
	lock = vs_json_string(vs_json_get(obj, "network_lock"));
	if (mine != NULL && lock != NULL && strcmp(lock, mine) == 0)
		j->netlock = mine;
}

static int migrate_work(struct vsd_op_run *run, void *ctx, char **result, struct vs_error *err)
{
	struct out_job *j = ctx;
	cleanup_free char *body = NULL;
	cleanup_free char *answer = NULL;
	int64_t t_frozen = 0;
	bool body_ok = false;
	int r;

	j->run = run;
	j->t0 = vs_now_ms();
	out_progress(j, "reservation on %s", j->url);
	body = reserve_body(j, false, err);
	/* Recorded first: a source that dies now aborts the target's
	 * reservation when it comes back. */
	if (body != NULL && out_save(j, VSD_MIG_RESERVED) < 0)
		vs_error_kind(err, VS_EK_INTERNAL, "cannot record the migration in %s", j->d->root);
	else if (body != NULL && call(j, "POST", "/v1/migrations", body, 201, &answer, err) < 0)
		abort_target(j); /* in case only the answer was lost */
	else if (body != NULL)
		body_ok = true;
	if (body_ok)
		target_takes(j, answer);
	if (!body_ok) {
		snprintf(j->rec.error, sizeof(j->rec.error), "%s", err->msg);
		out_save(j, VSD_MIG_FAILED);
		release(j);
		return vs_error_prefix(err, "migrate '%s'", j->name);
	}
	out_save(j, VSD_MIG_COPYING);
	if (j->precopy && !j->target_rounds) {
		out_progress(j, "precopy: the target takes no memory rounds (an older vsd): its "
				"pages go to the target while it is dumped, as in live");
		j->precopy = false;
	}
	if (j->postcopy && !j->target_lazy) {
		vs_error_kind(err, VS_EK_UNSUPPORTED,
			      "the target cannot restore lazily (its reservation lists no lazy "
			      "part: an older vsd, or its probe says no lazy pages, see its node "
			      "info); use --mode live, precopy or stop");
		roll_back(j, err);
		release(j);
		return vs_error_prefix(err, "migrate '%s' (it stays here)", j->name);
	}
	if (precopy(j, err) < 0 || precopy_memory(j, err) < 0 ||
	    stop_and_copy(j, &t_frozen, err) < 0) {
		roll_back(j, err);
		release(j);
		return vs_error_prefix(err, "migrate '%s' (it stays here)", j->name);
	}
	j->commit_ms = vs_now_ms();
	r = commit(j, err);
	j->commit_ms = vs_now_ms() - j->commit_ms;
	if (r < 0 && j->lazy != NULL) {
		/* In doubt: a target that resumed it pulls its memory on, one
		 * that did not ends the stream; then ask as for live. */
		vsd_mig_lazy_end(j->lazy, false, NULL, NULL);
		j->lazy = NULL;
	}
	if (r == 0)
		roll_back(j, err);
	if (r < 0)
		keep_asking(j);
	if (r <= 0) {
		release(j);
		return vs_error_prefix(err, "migrate '%s'%s", j->name,
				       r == 0 ? " (it stays here)" : "");
	}
	j->frozen_ms = j->was_running ? vs_now_ms() - t_frozen : 0;
	if (j->postcopy)
		snprintf(j->rec.pull, sizeof(j->rec.pull), "pulling");
	out_save(j, VSD_MIG_DONE);
	if (j->postcopy && finish_lazy(j, err) < 0) {
		vsd_log("migration %s: %s", j->rec.id, err->msg);
		if (out_pull_failed(j, err) <= 0) {
			release(j);
			return vs_error_prefix(err, "migrate '%s'", j->name);
		}
	} else {
		char msg[VS_ERROR_MSG_MAX];
		struct vs_error e = {0};

		/* Moved (every mode); a copy here that could not be removed is
		 * the result's warning, and a thread holding its name tries
		 * again (docs/migration.md, "A copy left behind"). */
		if (out_pull_drop(j, msg, sizeof(msg), &e) == 0) {
			snprintf(j->warning, sizeof(j->warning), "%s", e.msg);
			out_progress(j, "%s", e.msg);
			out_pull_later(j);
		}
	}
	vsd_log("migration %s: '%s' moved to %s (%s, frozen %lld ms, %lld bytes, %d rounds)",
		j->rec.id, j->name, j->url, j->postcopy ? "postcopy" : j->mode,
		(long long)j->frozen_ms, (long long)j->bytes, j->rounds);
	*result = result_of(j);
	release(j);
	return 0;
}

/* ---- the request ---------------------------------------------------------- */

struct out_req {
	char *url, *fp;
	char mode[16];
	bool check;
	bool recover, force; /* --recover [--force]: a failed pull's copy here */
	char bwlimit[32];
};

static void out_req_free(struct out_req *r)
{
	free(r->url);
	free(r->fp);
}

static int parse_target(const struct vs_json *t, struct out_req *r, struct vs_error *err)
{
	const char *url = vs_json_string(vs_json_get(t, "url"));
	const char *fp = vs_json_string(vs_json_get(t, "fingerprint"));

	if (t == NULL || vs_json_type(t) != VS_JSON_OBJECT)
		return vs_error_kind(err, VS_EK_INVALID,
				     "target: expected {\"url\", \"fingerprint\"}");
	if (url == NULL || strncmp(url, "https://", 8) != 0 || strlen(url) > 400)
		return vs_error_kind(err, VS_EK_INVALID, "target.url: expected https://HOST:PORT");
	if (fp == NULL || strlen(fp) != 64 || strspn(fp, "0123456789abcdef") != 64)
		return vs_error_kind(err, VS_EK_INVALID,
				     "target.fingerprint: expected 64 lowercase hex digits");
	r->url = xstrdup(url);
	r->fp = xstrdup(fp);
	return 0;
}

static int parse_mode(const char *m, struct out_req *r, struct vs_error *err)
{
	static const char *const modes[] = {"auto", "live",    "precopy", "postcopy",
					    "stop", "offline", NULL};

	if (m == NULL)
		m = "auto";
	for (size_t i = 0; modes[i] != NULL; i++)
		if (strcmp(m, modes[i]) == 0) {
			snprintf(r->mode, sizeof(r->mode), "%s", m);
			return 0;
		}
	return vs_error_kind(err, VS_EK_INVALID,
			     "mode: expected auto, live, precopy, postcopy, stop or offline");
}

static int parse_migrate(const struct vsd_call *c, struct out_req *r, struct vs_error *err)
{
	static const char *const fields[] = {"target",	"mode",	 "check", "bandwidth",
					     "recover", "force", NULL};
	cleanup_json struct vs_json *obj = NULL;
	const struct vs_json *v;
	const char *bw;

	memset(r, 0, sizeof(*r));
	if (vsd_parse_body(c->body, c->body_len, false, &obj, err) < 0 ||
	    vsd_check_fields(obj, fields, err) < 0)
		return -1;
	if (vsd_mig_opt_bool(obj, "recover", &r->recover, err) < 0 ||
	    vsd_mig_opt_bool(obj, "force", &r->force, err) < 0)
		return -1;
	if (r->force && !r->recover)
		return vs_error_kind(err, VS_EK_INVALID, "force: only with recover");
	if (r->recover) {
		static const char *const not_with[] = {"target", "check", "mode", "bandwidth",
						       NULL};
		for (size_t i = 0; not_with[i] != NULL; i++)
			if (vs_json_get(obj, not_with[i]) != NULL)
				return vs_error_kind(err, VS_EK_INVALID,
						     "%s: not with recover (it settles the "
						     "migration its record names, to its target)",
						     not_with[i]);
		return 0;
	}
	if (parse_target(vs_json_get(obj, "target"), r, err) < 0)
		return -1;
	if (parse_mode(vs_json_string(vs_json_get(obj, "mode")), r, err) < 0)
		return -1;
	v = vs_json_get(obj, "check");
	if (v != NULL && !vs_json_bool(v, &r->check))
		return vs_error_kind(err, VS_EK_INVALID, "check: expected true or false");
	bw = vs_json_string(vs_json_get(obj, "bandwidth"));
	if (bw != NULL) {
		int64_t bytes;
		if (vs_parse_size(bw, "bandwidth", &bytes, err) < 0)
			return -1;
		if (bytes < 1024)
			return vs_error_kind(err, VS_EK_INVALID,
					     "bandwidth: expected a rate of at least 1K (bytes per "
					     "second, e.g. 50M)");
		/* rsync's --bwlimit is in KiB per second. */
		snprintf(r->bwlimit, sizeof(r->bwlimit), "%lld", (long long)(bytes / 1024));
	}
	return 0;
}

/* Post-copy (CRIU lazy pages: the target resumes the container before its
 * memory arrived, docs/migration.md "Post-copy") only where this node's
 * probe says lazy pages work (the target's reservation says so for its
 * side); else refused with the probe's reason. 0 or -1. */
static int refuse_postcopy(struct out_job *j, struct vs_error *err)
{
	struct vs_error e = {0};

	if (vsd_criu_check_lazy(j->d->criu, &e) < 0)
		return vs_error_kind(err, VS_EK_UNSUPPORTED,
				     "mode: postcopy is not possible on this node: %s; use --mode "
				     "live, precopy or stop",
				     e.msg);
	return 0;
}

/* The mode this container moves in, from its state. */
static int pick_mode(struct out_job *j, const struct vs_rt_status *st, struct vs_error *err)
{
	struct vs_error e = {0};

	if (st->state == VS_RT_SUSPENDED)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "container '%s' is suspended: resume it first, or discard "
				     "its image",
				     j->name);
	if (st->state != VS_RT_RUNNING && st->state != VS_RT_STOPPED)
		return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' is %s", j->name,
				     vs_rt_state_name(st->state));
	j->was_running = st->state == VS_RT_RUNNING;
	if (!j->was_running && strcmp(j->mode, "postcopy") == 0)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "container '%s' is stopped: postcopy moves a running one "
				     "(a stopped one moves with --mode auto)",
				     j->name);
	if (!j->was_running) {
		snprintf(j->mode, sizeof(j->mode), "offline");
		return 0;
	}
	if (strcmp(j->mode, "offline") == 0)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "container '%s' is running: use --mode live or --mode stop",
				     j->name);
	if (strcmp(j->mode, "stop") == 0)
		return 0;
	if (vsd_criu_check(j->d->criu, &e) < 0)
		return vs_error_kind(err, e.kind,
				     "%s (a restart migration needs none: --mode stop)", e.msg);
	/* Memory rounds need the kernel's dirty-page tracking; without it
	 * precopy is refused rather than quietly run as live. It moves as a
	 * live migration with memory rounds before the dump (the target's
	 * record says live: it only sees the "round" parts). */
	j->precopy = strcmp(j->mode, "precopy") == 0;
	j->postcopy = strcmp(j->mode, "postcopy") == 0;
	if (j->postcopy && refuse_postcopy(j, err) < 0) {
		if (!j->check)
			return -1;
		/* --check lists it with the target's blockers. */
		snprintf(j->src_blocker, sizeof(j->src_blocker), "this node (the source): %.900s",
			 err->msg);
		memset(err, 0, sizeof(*err));
	}
	if (j->precopy && vsd_criu_check_tracking(j->d->criu, &e) < 0)
		return vs_error_kind(err, VS_EK_UNSUPPORTED,
				     "mode: precopy needs memory pre-copy rounds: %s; use --mode "
				     "live (its pages go to the target while it is dumped)",
				     e.msg);
	snprintf(j->mode, sizeof(j->mode), "live");
	return 0;
}

/* Everything before the 202, with the name held. */
static int prepare(struct out_job *j, const struct out_req *r, struct vs_error *err)
{
	struct vsd_auth *a = vsd_auth(j->d);
	struct vs_rt_status st;

	if (a->tls == NULL)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "this node has no TLS identity (vsd --listen): the target "
				     "knows a source by its node certificate");
	if (vsd_store_load(j->d->containers_fd, j->name, &j->cfg, err) < 0 ||
	    vsd_container_status(j->d, j->name, &st, err) < 0 ||
	    vsd_check_unlocked(&j->cfg, err) < 0)
		return -1;
	snprintf(j->mode, sizeof(j->mode), "%s", r->mode);
	if (pick_mode(j, &st, err) < 0 || vsd_mig_id_new(j->rec.id, err) < 0)
		return -1;
	j->url = xstrdup(r->url);
	j->fp = xstrdup(r->fp);
	j->cert = xstrdup(vsd_tls_cert_pem(a->tls));
	j->key = xstrdup(vsd_tls_key_pem(a->tls));
	j->peer = (struct vsd_peer_id){
	    .url = j->url, .fingerprint = j->fp, .cert_pem = j->cert, .key_pem = j->key};
	snprintf(j->bwlimit, sizeof(j->bwlimit), "%s", r->bwlimit);
	snprintf(j->rec.name, sizeof(j->rec.name), "%s", j->name);
	/* The job moves a post-copy container as "live" with j->postcopy;
	 * its record says postcopy, so a job made again from it (a restart,
	 * a commit in doubt) settles by the target's pull word. */
	snprintf(j->rec.mode, sizeof(j->rec.mode), "%s", j->postcopy ? "postcopy" : j->mode);
	snprintf(j->rec.peer_url, sizeof(j->rec.peer_url), "%s", j->url);
	snprintf(j->rec.peer_fp, sizeof(j->rec.peer_fp), "%s", j->fp);
	j->rec.source = true;
	j->rec.was_running = j->was_running;
	return 0;
}

/* --check: the target's reservation, made nothing; with postcopy also
 * this node's own probe and what the target's node info says of lazy
 * pages (its reservation knows no post-copy), each a blocker. */
static int check_only(struct out_job *j, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_free char *body = reserve_body(j, true, err);
	cleanup_free char *text = NULL;
	cleanup_free char *info = NULL;
	cleanup_json struct vs_json *obj = NULL;
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	const struct vs_json *list;
	char lazy[VS_ERROR_MSG_MAX] = "";
	bool ok = false;

	if (body == NULL || call(j, "POST", "/v1/migrations", body, 200, &text, err) < 0 ||
	    vs_json_parse(text, &obj, err) < 0)
		return vs_error_prefix(err, "check the move of '%s'", j->name);
	if (j->postcopy && call(j, "GET", "/v1/node", NULL, 200, &info, err) < 0)
		return vs_error_prefix(err, "check the move of '%s': the target's node info",
				       j->name);
	if (j->postcopy)
		vsd_mig_lazy_blocker(info, lazy, sizeof(lazy));
	vs_json_bool(vs_json_get(obj, "ok"), &ok);
	list = vs_json_get(obj, "blockers");
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "container", j->name);
	vs_jgen_kv_str(g, "mode", j->postcopy ? "postcopy" : j->mode);
	vs_jgen_kv_str(g, "target", j->url);
	vs_jgen_kv_bool(g, "ok", ok && j->src_blocker[0] == '\0' && lazy[0] == '\0');
	vs_jgen_key(g, "blockers");
	vs_jgen_arr_open(g);
	if (j->src_blocker[0] != '\0')
		vs_jgen_str(g, j->src_blocker);
	for (size_t i = 0; i < vs_json_array_len(list); i++)
		vs_jgen_value(g, vs_json_array_at(list, i));
	if (lazy[0] != '\0')
		vs_jgen_str(g, lazy);
	vs_jgen_arr_close(g);
	vs_jgen_obj_close(g);
	vsd_reply_json(out, 200, g);
	return 0;
}

int vsd_h_container_migrate(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	struct vsd *d = c->d;
	const char *name = c->m->params[0];
	struct out_req req;
	struct out_job *j;
	uint64_t id;
	int r;

	if (parse_migrate(c, &req, err) < 0) {
		out_req_free(&req);
		return -1;
	}
	if (req.recover)
		return out_recover_pull(d, name, req.force, out, err);
	if (vsd_names_lock_op(d->names, name, "container-migrate", err) < 0) {
		out_req_free(&req);
		return -1;
	}
	j = xcalloc(1, sizeof(*j));
	j->d = d;
	j->lazy_fd = -1;
	j->locked = true;
	j->check = req.check;
	snprintf(j->name, sizeof(j->name), "%s", name);
	r = prepare(j, &req, err);
	if (r == 0 && req.check) {
		r = check_only(j, out, err);
		out_req_free(&req);
		out_job_free(j);
		return r;
	}
	out_req_free(&req);
	if (r < 0) {
		out_job_free(j);
		return -1;
	}
	id = vsd_ops_add(d->ops, "container-migrate", name, (int64_t)time(NULL));
	vsd_ops_set_cancel(d->ops, id, NULL, NULL,
			   "a migration cannot be cancelled: it ends by itself with the "
			   "container in exactly one place");
	vsd_names_set_op(d->names, name, id);
	vsd_log("operation %llu: migrate %s to %s (%s)", (unsigned long long)id, name, j->url,
		j->mode);
	if (vsd_ops_spawn(d->ops, id, migrate_work, j, out_job_free, err) < 0)
		return -1;
	return vsd_ops_accepted(d->ops, id, out, err);
}

/* ---- after a crash ------------------------------------------------------ */

/* What the source does with a migration it finds open: 1 settled, 0 in
 * doubt (the target cannot be asked, or still restores). */
static int settle(struct out_job *j)
{
	enum vsd_mig_state st = VSD_MIG_FAILED;
	struct vs_error e = {0};
	struct vs_error why = {0};

	if (vsd_store_load(j->d->containers_fd, j->name, &j->cfg, &e) < 0) {
		vsd_log("migration %s: '%s' is not here any more: %s", j->rec.id, j->name, e.msg);
		out_save(j, VSD_MIG_DONE);
		return 1;
	}
	/* Before the commit was asked the target cannot run it: roll back.
	 * After, only the target knows. */
	if (j->rec.state == VSD_MIG_COMMITTING &&
	    (j->peer.cert_pem == NULL || ask_target(j, &st, &e) < 0 || st == VSD_MIG_COMMITTING)) {
		vsd_log("migration %s: the target %s cannot say yet whether '%s' runs there (%s); "
			"it stays suspended here, held, and vsd asks again",
			j->rec.id, j->rec.peer_url, j->name,
			e.msg[0] ? e.msg : "it is still restoring");
		return 0;
	}
	if (st == VSD_MIG_DONE && j->postcopy)
		return out_settle_pull(j);
	if (st == VSD_MIG_DONE) {
		char msg[VS_ERROR_MSG_MAX];

		/* A removal that fails leaves the name held by a thread that
		 * tries again, as after a move. */
		if (out_pull_drop(j, msg, sizeof(msg), &e) == 0)
			out_pull_later(j);
		vsd_log("migration %s: %s", j->rec.id, e.msg[0] != '\0' ? e.msg : msg);
		return 1;
	}
	vs_error_kind(&why, VS_EK_CONFLICT, "this node restarted during the move");
	roll_back(j, &why);
	vsd_log("migration %s: '%s' stays here (%s)", j->rec.id, j->name, why.msg);
	return 1;
}

struct out_job *out_open_job(struct vsd *d, const struct vsd_mig_record *r)
{
	struct vsd_auth *a = vsd_auth(d);
	struct out_job *j = xcalloc(1, sizeof(*j));

	j->d = d;
	j->lazy_fd = -1;
	j->rec = *r;
	snprintf(j->name, sizeof(j->name), "%s", r->name);
	j->postcopy = strcmp(r->mode, "postcopy") == 0;
	snprintf(j->mode, sizeof(j->mode), "%s", j->postcopy ? "live" : r->mode);
	j->was_running = r->was_running;
	j->url = xstrdup(r->peer_url);
	j->fp = xstrdup(r->peer_fp);
	if (a->tls != NULL) {
		j->cert = xstrdup(vsd_tls_cert_pem(a->tls));
		j->key = xstrdup(vsd_tls_key_pem(a->tls));
	}
	j->peer = (struct vsd_peer_id){
	    .url = j->url, .fingerprint = j->fp, .cert_pem = j->cert, .key_pem = j->key};
	return j;
}

#define RETRY_SECONDS 15
/* The holder kind of a move in doubt's name: requests on it are refused
 * (409, doubt_say's note), never left waiting behind the hold. */
static const char DOUBT_KIND[] = "container-migrate";

/* What a request on the name of a move in doubt is told. */
static void doubt_say(struct out_job *j)
{
	char note[VS_ERROR_MSG_MAX];

	snprintf(note, sizeof(note),
		 "container '%s' is held until migration %s to %.400s is settled (the target "
		 "may run it: vsd asks the target whether the move committed, again every %d s)",
		 j->name, j->rec.id, j->rec.peer_url, RETRY_SECONDS);
	vsd_names_set_note(j->d->names, j->name, note);
}

/* An open migration settled by a thread, the container held throughout
 * (no resume, destroy or start can make a second copy): asked at once,
 * then again every RETRY_SECONDS while in doubt. */
static void *settle_thread(void *p)
{
	struct out_job *j = p;

	while (settle(j) == 0) {
		sleep(RETRY_SECONDS);
		vs_config_free(&j->cfg);
	}
	out_job_free(j);
	return NULL;
}

/* The same after a first ask that left it in doubt. */
static void *retry_thread(void *p)
{
	struct out_job *j = p;

	sleep(RETRY_SECONDS);
	vs_config_free(&j->cfg);
	return settle_thread(j);
}

/* A commit in doubt at the end of the operation: the container stays
 * held (its lock passes to a thread that asks the target until it knows),
 * never released to a resume that could make a second copy. */
static void keep_asking(struct out_job *j)
{
	struct out_job *k = out_open_job(j->d, &j->rec);
	pthread_t t;

	k->locked = j->locked;
	/* Its operation ends now: the hold says what it waits for. */
	if (k->locked)
		doubt_say(k);
	if (pthread_create(&t, NULL, retry_thread, k) != 0) {
		vsd_log("migration %s: no thread to ask the target again; '%s' stays held until "
			"vsd's next start",
			j->rec.id, j->name);
		k->locked = false;
		out_job_free(k);
		j->locked = false; /* the lock is left held */
		return;
	}
	j->locked = false; /* the thread holds it now */
	pthread_detach(t);
}

/* The open migrations found at vsd's start, each with its name held:
 * asked about only once every hold is taken. */
struct recover_walk {
	struct out_job **jobs;
	size_t n;
};

static void walk_add(struct recover_walk *w, struct out_job *j)
{
	w->jobs = xrealloc(w->jobs, (w->n + 1) * sizeof(*w->jobs));
	w->jobs[w->n++] = j;
}

/* Takes the hold of one record's container, no network: a post-copy pull
 * this node was in when it stopped, one that failed and waits for the
 * target's word, or a moved copy still to remove (its pull thread's
 * kind), or a move not finished (in doubt, or to roll back). A hold that
 * cannot be taken is logged; the pull thread then tries to take it. */
static void recover_one(struct vsd *d, const struct vsd_mig_record *r, void *ud)
{
	struct recover_walk *w = ud;
	struct out_job *j;
	struct vs_error e = {0};

	if (r->source && r->state == VSD_MIG_DONE && vsd_mig_pull_unsettled(r->pull)) {
		j = out_open_job(d, r);
		if (vsd_names_lock_op(d->names, j->name, vsd_names_pull_kind, &e) == 0)
			j->locked = true;
		else
			vsd_log("migration %s: %s", r->id, e.msg);
		walk_add(w, j);
		return;
	}
	if (!r->source || r->state == VSD_MIG_DONE || r->state == VSD_MIG_FAILED ||
	    r->state == VSD_MIG_ABORTED)
		return;
	j = out_open_job(d, r);
	if (vsd_names_lock_op(d->names, j->name, DOUBT_KIND, &e) < 0) {
		vsd_log("migration %s: %s", r->id, e.msg);
		out_job_free(j);
		return;
	}
	j->locked = true;
	doubt_say(j);
	walk_add(w, j);
}

/* The asking, for one held record: a thread, so that no record's target
 * (which may not answer for its whole timeout) delays vsd's serving or
 * another record. */
static void recover_ask(struct out_job *j)
{
	pthread_t t;

	if (j->rec.state == VSD_MIG_DONE) {
		out_pull_later(j);
		out_job_free(j);
		return;
	}
	if (pthread_create(&t, NULL, settle_thread, j) == 0) {
		pthread_detach(t);
		return;
	}
	/* Settled here then; in doubt it stays held (the lock is left
	 * held) until vsd's next start. */
	if (settle(j) == 0) {
		vsd_log("migration %s: no thread to ask the target again; '%s' stays held until "
			"vsd's next start",
			j->rec.id, j->name);
		j->locked = false;
	}
	out_job_free(j);
}

void vsd_mig_recover_outgoing(struct vsd *d)
{
	struct recover_walk w = {0};
	struct vs_error e = {0};
	int n = vsd_mig_sweep_lists(d, &e);

	if (n < 0)
		vsd_log("migrations: %s", e.msg);
	else if (n > 0)
		vsd_log("migrations: removed %d second-pass list(s) left by a move cut short", n);
	/* Every hold first, then the questions: a record late in the walk
	 * is held before any target is asked. */
	if (vsd_mig_record_each(d, recover_one, &w, &e) < 0)
		vsd_log("migrations: %s", e.msg);
	for (size_t i = 0; i < w.n; i++)
		recover_ask(w.jobs[i]);
	free(w.jobs);
}
