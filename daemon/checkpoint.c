/* Checkpoint and restore handlers: suspend, resume, checkpoint --dir and
 * restore --dir, each an operation (ops.c) whose worker calls the runtime.
 *
 * Everything that can be refused is refused before the 202: the body (400),
 * the container's lock (409 while another operation holds it), the state
 * (409), CRIU's availability (501) and the image directory (400/409). The
 * request takes the container's lock with vsd_names_lock_op and the worker
 * releases it when the runtime is done, so nothing else changes the
 * container for the whole operation; GET never waits for it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/handlers.h"
#include "fs-cow/vs_fs.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"
#include "migrate/vs_migrate.h"

static const struct {
	const char *op_kind, *verb, *infinitive;
} kinds[] = {
    [VSD_CR_SUSPEND] = {"container-suspend", "suspended", "suspend"},
    [VSD_CR_RESUME] = {"container-resume", "resumed", "resume"},
    [VSD_CR_CHECKPOINT] = {"container-checkpoint", "checkpointed", "checkpoint"},
    [VSD_CR_RESTORE] = {"container-restore", "restored", "restore"},
};

const char *vsd_cr_op_kind(enum vsd_cr_kind kind)
{
	return kinds[kind].op_kind;
}

const char *vsd_cr_verb(enum vsd_cr_kind kind)
{
	return kinds[kind].verb;
}

/* ---- pure request checks ---------------------------------------------- */

int vsd_cr_normalize_dir(const char *in, const char *what, char **out, struct vs_error *err)
{
	cleanup_free char *buf = NULL;
	size_t len = strlen(in), o = 0;

	*out = NULL;
	if (in[0] != '/') {
		cleanup_free char *clean = vsd_sanitize(in, 200);
		return vs_error_kind(err, VS_EK_INVALID, "%s: expected an absolute path, got '%s'",
				     what, clean);
	}
	if (len >= PATH_MAX)
		return vs_error_kind(err, VS_EK_INVALID, "%s: longer than %d bytes", what,
				     PATH_MAX - 1);
	for (const char *p = in; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return vs_error_kind(err, VS_EK_INVALID, "%s: contains a control character",
					     what);
	buf = xmalloc(len + 1);
	for (const char *p = in; *p;) {
		const char *seg;
		size_t n;

		while (*p == '/')
			p++;
		seg = p;
		n = strcspn(p, "/");
		p += n;
		if (n == 0 || (n == 1 && seg[0] == '.'))
			continue;
		if (n == 2 && seg[0] == '.' && seg[1] == '.')
			return vs_error_kind(err, VS_EK_INVALID,
					     "%s: must not contain '..' components", what);
		buf[o++] = '/';
		memcpy(buf + o, seg, n);
		o += n;
	}
	if (o == 0)
		return vs_error_kind(err, VS_EK_INVALID, "%s: must not be the root directory",
				     what);
	buf[o] = '\0';
	*out = steal_ptr(&buf);
	return 0;
}

bool vsd_path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 0 && dir[n - 1] == '/')
		n--;
	if (n == 0)
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

void vsd_cr_req_free(struct vsd_cr_req *req)
{
	free(req->dir);
	req->dir = NULL;
}

static int parse_dir(const struct vs_json *body, struct vsd_cr_req *req, struct vs_error *err)
{
	const struct vs_json *v = vs_json_get(body, "dir");
	const char *s = vs_json_string(v);

	if (v == NULL || vs_json_type(v) == VS_JSON_NULL)
		return vs_error_kind(err, VS_EK_INVALID, "dir: required");
	if (s == NULL)
		return vs_error_kind(err, VS_EK_INVALID, "dir: expected a string, got %s",
				     vs_json_type_name(vs_json_type(v)));
	return vsd_cr_normalize_dir(s, "dir", &req->dir, err);
}

int vsd_cr_parse(enum vsd_cr_kind kind, const char *body, size_t len, struct vsd_cr_req *req,
		 struct vs_error *err)
{
	static const char *const none[] = {NULL};
	static const char *const checkpoint[] = {"dir", "leave_running", NULL};
	static const char *const restore[] = {"dir", NULL};
	static const char *const resume[] = {"discard", NULL};
	cleanup_json struct vs_json *obj = NULL;
	const struct vs_json *v;

	memset(req, 0, sizeof(*req));
	req->kind = kind;
	if (vsd_parse_body(body, len, true, &obj, err) < 0 ||
	    vsd_check_fields(obj,
			     kind == VSD_CR_CHECKPOINT ? checkpoint
			     : kind == VSD_CR_RESTORE  ? restore
			     : kind == VSD_CR_RESUME   ? resume
						       : none,
			     err) < 0)
		return -1;
	if (kind == VSD_CR_RESUME) {
		v = vs_json_get(obj, "discard");
		if (v != NULL && vs_json_type(v) != VS_JSON_NULL && !vs_json_bool(v, &req->discard))
			return vs_error_kind(err, VS_EK_INVALID, "discard: expected true or false");
		return 0;
	}
	if (kind != VSD_CR_CHECKPOINT && kind != VSD_CR_RESTORE)
		return 0;
	if (parse_dir(obj, req, err) < 0)
		return -1;
	v = vs_json_get(obj, "leave_running");
	if (v != NULL && vs_json_type(v) != VS_JSON_NULL && !vs_json_bool(v, &req->leave_running)) {
		vsd_cr_req_free(req);
		return vs_error_kind(err, VS_EK_INVALID, "leave_running: expected true or false");
	}
	return 0;
}

/* ---- the image directory ----------------------------------------------- */

/* Refuse a directory inside the daemon's own trees (its root holds the
 * containers' files, the run dir their sockets). */
static int check_outside(struct vsd *d, const char *path, struct vs_error *err)
{
	if (vsd_path_within(path, d->root))
		return vs_error_kind(err, VS_EK_INVALID,
				     "dir: %s is inside the daemon's root directory %s", path,
				     d->root);
	if (vsd_path_within(path, d->run_dir_real))
		return vs_error_kind(err, VS_EK_INVALID,
				     "dir: %s is inside the daemon's run directory %s", path,
				     d->run_dir_real);
	return 0;
}

/* Resolve dir (normalised, not "/") with realpath, or its parent when dir
 * does not exist yet, so that no symbolic link leads into the daemon's
 * trees; the last component of the result is then opened with O_NOFOLLOW.
 * The API is for root only, so what an operator's own paths do between
 * these checks and CRIU's use of them is the operator's business. 0 with
 * *real (the resolved path), *parent_fd and *base (its last component,
 * pointing into *real), or -1. */
static int resolve_dir(struct vsd *d, const char *dir, char **real, int *parent_fd,
		       const char **base, struct vs_error *err)
{
	const char *slash = strrchr(dir, '/');
	cleanup_free char *parent = xstrndup(dir, slash == dir ? 1 : (size_t)(slash - dir));
	cleanup_free char *path = NULL;
	cleanup_free char *rparent = NULL;
	char rp[PATH_MAX];

	if (check_outside(d, dir, err) < 0)
		return -1;
	if (realpath(dir, rp) != NULL) {
		path = xstrdup(rp);
	} else if (errno != ENOENT) {
		return vs_error_set(err, errno, "dir: resolve %s", dir);
	} else if (realpath(parent, rp) == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return vs_error_kind(err, VS_EK_INVALID,
					     "dir: the parent directory %s does not exist", parent);
		return vs_error_set(err, errno, "dir: resolve %s", parent);
	} else {
		path = xasprintf("%s/%s", strcmp(rp, "/") == 0 ? "" : rp, slash + 1);
	}
	if (strcmp(path, "/") == 0)
		return vs_error_kind(err, VS_EK_INVALID, "dir: %s is the root directory", dir);
	if (check_outside(d, path, err) < 0)
		return -1;
	slash = strrchr(path, '/');
	rparent = xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
	*parent_fd = open(rparent, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*parent_fd < 0)
		return vs_error_set(err, errno, "dir: open %s", rparent);
	*base = slash + 1;
	*real = steal_ptr(&path);
	return 0;
}

/* Open the last component as a directory, without following a link (it
 * was resolved: a link here appeared since). */
static int open_last(int parent_fd, const char *base, const char *path, enum vs_error_kind bad,
		     struct vs_error *err)
{
	int fd = openat(parent_fd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		return vs_error_kind(err, VS_EK_INVALID, "dir: %s does not exist", path);
	if (errno == ENOTDIR || errno == ELOOP)
		return vs_error_kind(err, bad, "dir: %s exists and is not a directory", path);
	return vs_error_set(err, errno, "dir: open %s", path);
}

/* 1 if the directory fd has entries besides . and .., 0 if not, -1. */
static int dir_has_entries(int fd, const char *path, struct vs_error *err)
{
	int fd2 = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_dir DIR *dir = fd2 >= 0 ? fdopendir(fd2) : NULL;
	struct dirent *e;

	if (dir == NULL) {
		int saved = errno;
		if (fd2 >= 0)
			close(fd2);
		return vs_error_set(err, saved, "dir: read %s", path);
	}
	while ((e = readdir(dir)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			return 1;
	return 0;
}

/* checkpoint: create dir (0700) or take an existing empty one. */
static int prepare_checkpoint_dir(struct vsd *d, const char *dir, char **real, bool *created,
				  struct vs_error *err)
{
	cleanup_free char *path = NULL;
	cleanup_close int pfd = -1;
	cleanup_close int fd = -1;
	const char *base;
	int r;

	if (resolve_dir(d, dir, &path, &pfd, &base, err) < 0)
		return -1;
	*created = mkdirat(pfd, base, 0700) == 0;
	if (!*created && errno != EEXIST)
		return vs_error_set(err, errno, "dir: create %s", path);
	fd = open_last(pfd, base, path, VS_EK_CONFLICT, err);
	if (fd < 0)
		return -1;
	r = dir_has_entries(fd, path, err);
	if (r != 0)
		return r < 0 ? -1
			     : vs_error_kind(err, VS_EK_CONFLICT,
					     "dir: %s is not empty (an image is never written "
					     "over another)",
					     path);
	*real = steal_ptr(&path);
	return 0;
}

/* restore: an existing directory with a CRIU image in it. */
static int check_restore_dir(struct vsd *d, const char *dir, char **real, struct vs_error *err)
{
	cleanup_free char *path = NULL;
	cleanup_close int pfd = -1;
	cleanup_close int fd = -1;
	const char *base;

	if (resolve_dir(d, dir, &path, &pfd, &base, err) < 0)
		return -1;
	fd = open_last(pfd, base, path, VS_EK_INVALID, err);
	if (fd < 0)
		return -1;
	if (!vs_mig_image_present(fd))
		return vs_error_kind(err, VS_EK_INVALID,
				     "dir: %s holds no checkpoint image (no inventory.img)", path);
	*real = steal_ptr(&path);
	return 0;
}

/* ---- the operation ------------------------------------------------------ */

struct cr_job {
	struct vsd *d;
	enum vsd_cr_kind kind;
	char name[VS_NAME_MAX + 1];
	struct vs_container_config cfg;
	char *dir; /* resolved image directory, NULL for suspend and resume */
	bool leave_running;
	bool discard;	  /* resume --discard */
	bool created_dir; /* checkpoint made dir: remove it again on failure */
	bool locked;	  /* still holds the container's lock */
};

/* A directory this request created goes again when the checkpoint fails
 * and the runtime left it empty. The runtime removes a failed dump's
 * partial image but keeps CRIU's dump.log for the operator (the error
 * message points at it); a directory holding it stays. */
static void remove_created_dir(struct cr_job *j)
{
	if (j->dir == NULL || !j->created_dir)
		return;
	j->created_dir = false;
	if (rmdir(j->dir) < 0 && errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT)
		vsd_log("container %s: removing %s failed: %s", j->name, j->dir, strerror(errno));
}

static void release(struct cr_job *j)
{
	if (!j->locked)
		return;
	j->locked = false;
	vsd_names_unlock(j->d->names, j->name);
}

static void job_free(void *p)
{
	struct cr_job *j = p;

	/* Only when the worker never ran (it releases everything itself). */
	if (j->locked)
		remove_created_dir(j);
	release(j);
	vs_config_free(&j->cfg);
	free(j->dir);
	free(j);
}

/* {"frozen_ms", "criu_ms", "total_ms", "image_bytes", ["dir",] "container"}.
 * Generated while the lock is held, so the status is the outcome's. */
static char *result_of(struct cr_job *j, const struct vs_rt_cr_result *res)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	struct vs_rt_status st;
	struct vs_error e = {0};

	vs_jgen_obj_open(g);
	vs_jgen_kv_int(g, "frozen_ms", res->frozen_ms);
	vs_jgen_kv_int(g, "criu_ms", res->criu_ms);
	vs_jgen_kv_int(g, "total_ms", res->total_ms);
	vs_jgen_kv_int(g, "image_bytes", res->image_bytes);
	if (j->dir != NULL)
		vs_jgen_kv_str(g, "dir", j->dir);
	vs_jgen_key(g, "container");
	if (vsd_container_status(j->d, j->name, &st, &e) == 0) {
		vsd_gen_status(j->d, g, &j->cfg, &st, NULL);
	} else {
		vsd_log("container %s: %s", j->name, e.msg);
		vs_jgen_null(g);
	}
	vs_jgen_obj_close(g);
	return vs_jgen_steal(g);
}

/* The container's events after a successful operation (before its
 * operation-end, which follows when the worker returns). */
static void emit_done(struct cr_job *j)
{
	struct vsd_events *ev = j->d->events;

	if (ev == NULL)
		return;
	if (j->discard) {
		vsd_events_note(ev, j->name, false);
	} else if (j->kind == VSD_CR_SUSPEND) {
		vsd_events_note(ev, j->name, false);
		vsd_emit(j->d, VSD_EV_CONTAINER_SUSPENDED, j->name, NULL);
	} else if (j->kind == VSD_CR_RESUME) {
		vsd_events_note(ev, j->name, true);
		vsd_emit(j->d, VSD_EV_CONTAINER_RESUMED, j->name, NULL);
	} else if (j->kind == VSD_CR_CHECKPOINT) {
		vsd_emit_state(j->d, j->name, j->leave_running);
	} else {
		vsd_emit_state(j->d, j->name, true);
	}
}

static int cr_work(struct vsd_op_run *run, void *ctx, char **result, struct vs_error *err)
{
	struct cr_job *j = ctx;
	const struct vs_rt_instance *inst = &j->d->inst;
	struct vs_rt_cr_result res = {0};
	int r;

	if (j->discard) {
		r = vs_rt_discard_image(inst, &j->cfg, err);
	} else if (j->kind == VSD_CR_SUSPEND || j->kind == VSD_CR_CHECKPOINT) {
		r = vs_rt_checkpoint(inst, &j->cfg, j->dir, j->leave_running,
				     vsd_criu_netlock(j->d->criu), vsd_op_progress_cb, run, &res,
				     err);
	} else {
		/* The restored container's views are binds into lxcfs. */
		vsd_views_check(j->d, j->name);
		r = vs_rt_restore(inst, &j->cfg, j->dir, vsd_op_progress_cb, run, &res, err);
	}
	if (r < 0 && j->kind == VSD_CR_RESUME && !j->discard) {
		/* Still suspended (restore leaves the image and state as they
		 * were): say first what else can be done with it, since the
		 * cause after it (CRIU's log lines) can be long. */
		vs_error_prefix(err,
				"resume '%s' (it stays suspended: retry, discard its memory "
				"image with `vsctl resume %s --discard` to keep its disk as at "
				"suspend, or destroy it with force)",
				j->name, j->name);
		release(j);
		return -1;
	}
	if (r < 0) {
		vs_error_prefix(err, "%s '%s'",
				j->discard ? "discard the image of" : kinds[j->kind].infinitive,
				j->name);
		remove_created_dir(j);
		release(j);
		return -1;
	}
	if (j->discard)
		vsd_log("container %s: suspend image discarded, stopped", j->name);
	else
		vsd_log(
		    "container %s: %s%s%s (frozen %lld ms, criu %lld ms, total %lld ms, image %lld "
		    "bytes)",
		    j->name, kinds[j->kind].verb,
		    j->dir == NULL		? ""
		    : j->kind == VSD_CR_RESTORE ? " from "
						: " to ",
		    j->dir ? j->dir : "", (long long)res.frozen_ms, (long long)res.criu_ms,
		    (long long)res.total_ms, (long long)res.image_bytes);
	*result = result_of(j, &res);
	emit_done(j);
	/* Released before the operation reads "success", so a client that
	 * follows it can act on the container at once. */
	release(j);
	return 0;
}

/* The state each request needs; 409 otherwise. */
static int check_state(enum vsd_cr_kind kind, const char *name, const struct vs_rt_status *st,
		       struct vs_error *err)
{
	const char *now = vs_rt_state_name(st->state);

	switch (kind) {
	case VSD_CR_SUSPEND:
	case VSD_CR_CHECKPOINT:
		if (st->state == VS_RT_RUNNING)
			return 0;
		return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' is %s, not running", name,
				     now);
	case VSD_CR_RESUME:
		if (st->state == VS_RT_SUSPENDED)
			return 0;
		return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' is %s, not suspended",
				     name, now);
	case VSD_CR_RESTORE:
		if (st->state == VS_RT_STOPPED)
			return 0;
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "container '%s' is %s; restore needs it stopped", name, now);
	}
	return vs_error_kind(err, VS_EK_INTERNAL, "unknown checkpoint request");
}

/* Restoring needs the template (the root is rebuilt over it). */
static int check_template(struct vsd *d, const struct vs_container_config *cfg,
			  struct vs_error *err)
{
	cleanup_tinfo struct vs_template_info t = {0};

	if (vs_fs_template_get(d->root, cfg->template_name, &t, err) == 0)
		return 0;
	if (err->kind == VS_EK_NOT_FOUND)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "template '%s' of container '%s' does not exist",
				     cfg->template_name, cfg->name);
	return vs_error_prefix(err, "template '%s'", cfg->template_name);
}

/* Everything before the 202, with the container's lock held. */
static int prepare_locked(struct cr_job *j, const char *dir, struct vs_error *err)
{
	struct vsd *d = j->d;
	struct vs_rt_status st;

	if (vsd_store_load(d->containers_fd, j->name, &j->cfg, err) < 0 ||
	    vsd_container_status(d, j->name, &st, err) < 0 ||
	    check_state(j->kind, j->name, &st, err) < 0)
		return -1;
	if (j->discard) /* needs neither the template nor criu */
		return 0;
	if ((j->kind == VSD_CR_RESUME || j->kind == VSD_CR_RESTORE) &&
	    (vsd_check_unlocked(&j->cfg, err) < 0 || check_template(d, &j->cfg, err) < 0))
		return -1;
	if (vsd_criu_check(d->criu, err) < 0)
		return -1;
	if (j->kind == VSD_CR_CHECKPOINT)
		return prepare_checkpoint_dir(d, dir, &j->dir, &j->created_dir, err);
	if (j->kind == VSD_CR_RESTORE)
		return check_restore_dir(d, dir, &j->dir, err);
	return 0;
}

static int cr_handle(struct vsd_call *c, enum vsd_cr_kind kind, struct vsd_reply *out,
		     struct vs_error *err)
{
	struct vsd *d = c->d;
	const char *name = c->m->params[0];
	struct vsd_cr_req req;
	struct cr_job *j;
	uint64_t id;
	int r;

	if (vsd_cr_parse(kind, c->body, c->body_len, &req, err) < 0)
		return -1;
	if (vsd_names_lock_op(d->names, name, kinds[kind].op_kind, err) < 0) {
		vsd_cr_req_free(&req);
		return -1;
	}
	j = xcalloc(1, sizeof(*j));
	j->d = d;
	j->kind = kind;
	j->locked = true;
	j->leave_running = req.leave_running;
	j->discard = req.discard;
	snprintf(j->name, sizeof(j->name), "%s", name);
	r = prepare_locked(j, req.dir, err);
	vsd_cr_req_free(&req);
	if (r < 0) {
		job_free(j);
		return -1;
	}
	id = vsd_ops_add(d->ops, kinds[kind].op_kind, name, (int64_t)time(NULL));
	vsd_ops_set_cancel(d->ops, id, NULL, NULL,
			   "a running checkpoint or restore cannot be cancelled: CRIU is "
			   "freezing, dumping or rebuilding the container's processes, and "
			   "stopping it half way would leave them neither here nor there");
	vsd_names_set_op(d->names, name, id);
	vsd_log("operation %llu: %s %s%s%s", (unsigned long long)id, kinds[kind].op_kind, name,
		j->dir ? " " : "", j->dir ? j->dir : "");
	if (vsd_ops_spawn(d->ops, id, cr_work, j, job_free, err) < 0)
		return -1;
	return vsd_ops_accepted(d->ops, id, out, err);
}

int vsd_h_container_suspend(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	return cr_handle(c, VSD_CR_SUSPEND, out, err);
}

int vsd_h_container_resume(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	return cr_handle(c, VSD_CR_RESUME, out, err);
}

int vsd_h_container_checkpoint(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	return cr_handle(c, VSD_CR_CHECKPOINT, out, err);
}

int vsd_h_container_restore(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	return cr_handle(c, VSD_CR_RESTORE, out, err);
}
