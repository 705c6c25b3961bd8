/* Snapshots of a container's own layer (never the template):
 *
 *   containers/NAME/snapshots/SNAP/           0700 root
 *     snapshot.json  created_at, size_bytes, with_memory, the state and
 *                    the container's config at that moment
 *     layer/         the upper layer copied (fs-cow/layer.c: rsync, ids,
 *                    xattrs, whiteouts, hard links, holes kept)
 *     image/         with_memory instead of layer/: a checkpoint (criu,
 *                    --leave-running) holding its own image/layer
 *
 * A snapshot is made in snapshots/.SNAP.creating and renamed into place
 * when complete; deletion renames to .SNAP.deleting first. vsd start
 * removes both kinds of leftover (vsd_snapshots_recover). Snapshots live
 * outside the container's disk image, so they are not counted against its
 * disk quota; the list says so.
 *
 * Consistency: a stopped container's layer is copied as it is. A running
 * one without memory is copied while running, then frozen for a second
 * pass over what changed (crash-consistent, like a power cut); with
 * memory the checkpoint's own copy is used (its second pass runs at
 * criu's post-dump, while the tasks are frozen). Create and restore are
 * operations and hold the container's lock throughout; delete holds it
 * while it removes the tree. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/handlers.h"
#include "fs-cow/vs_fs.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

#define SNAP_DIR  "snapshots"
#define SNAP_META "snapshot.json"
#define META_MAX  (1 << 20)

static const char quota_note[] = "snapshots are not counted against the disk quota";

/* ---- pure request checks ---------------------------------------------- */

int vsd_snap_parse_create(const char *body, size_t len, char **snap, bool *with_memory,
			  struct vs_error *err)
{
	static const char *const keys[] = {"name", "with_memory", NULL};
	cleanup_json struct vs_json *obj = NULL;
	const struct vs_json *v;
	const char *s;

	*snap = NULL;
	*with_memory = false;
	if (vsd_parse_body(body, len, true, &obj, err) < 0 || vsd_check_fields(obj, keys, err) < 0)
		return -1;
	v = vs_json_get(obj, "with_memory");
	if (v != NULL && vs_json_type(v) != VS_JSON_NULL && !vs_json_bool(v, with_memory))
		return vs_error_kind(err, VS_EK_INVALID, "with_memory: expected true or false");
	v = vs_json_get(obj, "name");
	if (v == NULL || vs_json_type(v) == VS_JSON_NULL) {
		/* A default name from the time, UTC, to the second. */
		char buf[32];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(buf, sizeof(buf), "snap-%Y%m%d-%H%M%S", &tm);
		*snap = xstrdup(buf);
		return 0;
	}
	if ((s = vs_json_string(v)) == NULL)
		return vs_error_kind(err, VS_EK_INVALID, "name: expected a string, got %s",
				     vs_json_type_name(vs_json_type(v)));
	if (vs_validate_name(s, "name", err) < 0)
		return -1;
	*snap = xstrdup(s);
	return 0;
}

int vsd_snap_parse_restore(const char *body, size_t len, bool *stop, struct vs_error *err)
{
	static const char *const keys[] = {"stop", NULL};
	cleanup_json struct vs_json *obj = NULL;
	const struct vs_json *v;

	*stop = false;
	if (vsd_parse_body(body, len, true, &obj, err) < 0 || vsd_check_fields(obj, keys, err) < 0)
		return -1;
	v = vs_json_get(obj, "stop");
	if (v != NULL && vs_json_type(v) != VS_JSON_NULL && !vs_json_bool(v, stop))
		return vs_error_kind(err, VS_EK_INVALID, "stop: expected true or false");
	return 0;
}

/* The {snap} of the path: validated like container names. */
static const char *snap_param(const struct vsd_call *c, struct vs_error *err)
{
	const char *snap = c->m->params[1];

	return vs_validate_name(snap, "snapshot name", err) < 0 ? NULL : snap;
}

/* ---- paths and listing -------------------------------------------------- */

static char *cdir_of(struct vsd *d, const char *name)
{
	return xasprintf("%s/containers/%s", d->root, name);
}

/* containers/NAME/snapshots opened (created 0700 when `create`); -1 with
 * errno ENOENT in err when missing and not created. */
static int open_snapdir(struct vsd *d, const char *name, bool create, struct vs_error *err)
{
	cleanup_close int cfd =
	    openat(d->containers_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int fd;

	if (cfd < 0)
		return vs_error_kind(err, VS_EK_NOT_FOUND, "container '%s' does not exist", name);
	if (create && mkdirat(cfd, SNAP_DIR, 0700) < 0 && errno != EEXIST)
		return vs_error_set(err, errno, "create containers/%s/" SNAP_DIR, name);
	fd = openat(cfd, SNAP_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return vs_error_set(err, errno, "open containers/%s/" SNAP_DIR, name);
	return fd;
}

static int read_meta(int sfd, const char *snap, struct vs_json **out, struct vs_error *err)
{
	cleanup_free char *path = xasprintf("%s/" SNAP_META, snap);
	cleanup_free char *text = NULL;

	struct vs_error e = {0};

	if (vs_read_file_at(sfd, path, META_MAX, &text, NULL, &e) < 0)
		return e.errnum == ENOENT || e.errnum == ENOTDIR
			   ? vs_error_kind(err, VS_EK_NOT_FOUND, "snapshot '%s' does not exist",
					   snap)
			   : (*err = e, -1);
	return vs_json_parse(text, out, err);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of complete snapshots (not hidden), sorted. */
static char **list_names(int sfd)
{
	int fd2 = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_dir DIR *dir = fd2 >= 0 ? fdopendir(fd2) : NULL;
	char **v = xcalloc(1, sizeof(char *));
	size_t n = 0;
	struct dirent *e;

	if (dir == NULL && fd2 >= 0)
		close(fd2);
	while (dir != NULL && (e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		v = xrealloc(v, (n + 2) * sizeof(char *));
		v[n++] = xstrdup(e->d_name);
		v[n] = NULL;
	}
	qsort(v, n, sizeof(char *), cmp_str);
	return v;
}

/* The meta of one snapshot without its (large) config, for lists. */
static void gen_entry(struct vs_jgen *g, const struct vs_json *meta, bool full)
{
	static const char *const brief[] = {"name",	   "created_at", "size_bytes",
					    "with_memory", "state",	 NULL};

	if (full) {
		vs_jgen_value(g, meta);
		return;
	}
	vs_jgen_obj_open(g);
	for (size_t i = 0; brief[i] != NULL; i++) {
		const struct vs_json *v = vs_json_get(meta, brief[i]);
		if (v == NULL)
			continue;
		vs_jgen_key(g, brief[i]);
		vs_jgen_value(g, v);
	}
	vs_jgen_obj_close(g);
}

int vsd_h_snapshot_list(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	const char *name = c->m->params[0];
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_strv char **names = NULL;
	cleanup_close int sfd = -1;
	struct vs_error e = {0};

	if (!vsd_store_exists(c->d->containers_fd, name))
		return vs_error_kind(err, VS_EK_NOT_FOUND, "container '%s' does not exist", name);
	sfd = open_snapdir(c->d, name, false, &e);
	names = sfd >= 0 ? list_names(sfd) : xcalloc(1, sizeof(char *));
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "container", name);
	vs_jgen_kv_bool(g, "counted_against_disk_quota", false);
	vs_jgen_kv_str(g, "note", quota_note);
	vs_jgen_key(g, "snapshots");
	vs_jgen_arr_open(g);
	for (size_t i = 0; names[i] != NULL; i++) {
		cleanup_json struct vs_json *meta = NULL;
		if (read_meta(sfd, names[i], &meta, &e) == 0)
			gen_entry(g, meta, false);
	}
	vs_jgen_arr_close(g);
	vs_jgen_obj_close(g);
	vsd_reply_json(out, 200, g);
	return 0;
}

size_t vsd_snapshots_count(struct vsd *d, const char *name)
{
	cleanup_close int sfd = open_snapdir(d, name, false, NULL);
	cleanup_strv char **names = sfd >= 0 ? list_names(sfd) : NULL;
	size_t n = 0;

	while (names != NULL && names[n] != NULL)
		n++;
	return n;
}

void vsd_snapshots_gen_summary(struct vsd *d, const char *name, struct vs_jgen *g)
{
	size_t n = vsd_snapshots_count(d, name);

	vs_jgen_key(g, "snapshots");
	vs_jgen_obj_open(g);
	vs_jgen_kv_int(g, "count", (int64_t)n);
	vs_jgen_kv_bool(g, "counted_against_disk_quota", false);
	vs_jgen_obj_close(g);
}

int vsd_h_snapshot_get(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_json struct vs_json *meta = NULL;
	const char *snap = snap_param(c, err);
	cleanup_close int sfd = snap ? open_snapdir(c->d, c->m->params[0], false, err) : -1;

	if (snap == NULL)
		return -1;
	if (sfd < 0) {
		if (err->kind == VS_EK_NOT_FOUND)
			return -1;
		return vs_error_kind(err, VS_EK_NOT_FOUND, "snapshot '%s' does not exist", snap);
	}
	if (read_meta(sfd, snap, &meta, err) < 0)
		return -1;
	gen_entry(g, meta, true);
	vsd_reply_json(out, 200, g);
	return 0;
}

/* ---- create --------------------------------------------------------------- */

struct snap_job {
	struct vsd *d;
	char name[VS_NAME_MAX + 1];
	char snap[VS_NAME_MAX + 1];
	struct vs_container_config cfg;
	enum vs_rt_state state; /* at the request */
	bool with_memory;
	bool stop; /* restore: stop a running container first */
	bool locked;
};

static void snap_release(struct snap_job *j)
{
	if (!j->locked)
		return;
	j->locked = false;
	vsd_names_unlock(j->d->names, j->name);
}

static void snap_job_free(void *p)
{
	struct snap_job *j = p;

	snap_release(j);
	vs_config_free(&j->cfg);
	free(j);
}

/* The newest complete snapshot's layer, for --link-dest, or NULL. */
static char *newest_layer(int sfd, const char *snapdir)
{
	cleanup_strv char **names = list_names(sfd);
	const char *best = NULL;
	struct timespec bt = {0};

	for (size_t i = 0; names[i] != NULL; i++) {
		cleanup_free char *meta = xasprintf("%s/" SNAP_META, names[i]);
		cleanup_free char *layer = xasprintf("%s/layer", names[i]);
		struct stat st;
		/* (a snapshot with memory keeps its layer inside image/) */
		if (fstatat(sfd, layer, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
		    fstatat(sfd, meta, &st, 0) == 0 &&
		    (best == NULL || st.st_mtim.tv_sec > bt.tv_sec ||
		     (st.st_mtim.tv_sec == bt.tv_sec && st.st_mtim.tv_nsec > bt.tv_nsec))) {
			best = names[i];
			bt = st.st_mtim;
		}
	}
	return best != NULL ? xasprintf("%s/%s/layer", snapdir, best) : NULL;
}

/* A running container without memory: copy while it runs, then freeze it
 * for a second pass over what changed since. */
static int copy_running(struct snap_job *j, const char *cdir, const char *dst,
			const char *link_dest, struct vsd_op_run *run, struct vs_error *err)
{
	struct vs_cg *cg = vs_cg_open(j->d->inst.cg, j->d->inst.cgroup_parent, j->name);
	int64_t t0;
	char line[96];
	int r;

	if (cg == NULL)
		return vs_error_kind(err, VS_EK_INTERNAL, "no cgroup handle for '%s'", j->name);
	vsd_op_progress_cb(run, "copying the layer (running)");
	r = vs_fs_layer_copy(cdir, dst, link_dest, true, err);
	if (r == 0 && (r = vs_cg_freeze(cg, err)) == 0) {
		t0 = vs_now_ms();
		r = vs_fs_layer_copy(cdir, dst, link_dest, false, err);
		vs_cg_thaw(cg, NULL);
		snprintf(line, sizeof(line), "second pass while frozen: %lld ms",
			 (long long)(vs_now_ms() - t0));
		vsd_op_progress_cb(run, line);
	}
	vs_cg_free(cg);
	return r;
}

/* Everything a snapshot holds besides its copies: snapshot.json, then the
 * whole tree flushed. The one place a snapshot image is finished (where
 * image sealing belongs). */
static int finish_snapshot(struct snap_job *j, int stagefd, const char *stage, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(true);
	cleanup_free char *cfgtext = NULL;
	cleanup_json struct vs_json *cfgjson = NULL;
	cleanup_free char *cpath = xasprintf("%s/config.json", j->name);
	int64_t bytes = 0;
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	const char *text;
	size_t len;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (vs_fs_tree_size(stagefd, &bytes, err) < 0 ||
	    vs_read_file_at(j->d->containers_fd, cpath, META_MAX, &cfgtext, NULL, err) < 0 ||
	    vs_json_parse(cfgtext, &cfgjson, err) < 0)
		return -1;
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "name", j->snap);
	vs_jgen_kv_str(g, "container", j->name);
	vs_jgen_kv_str(g, "created_at", when);
	vs_jgen_kv_int(g, "size_bytes", bytes);
	vs_jgen_kv_bool(g, "with_memory", j->with_memory);
	vs_jgen_kv_str(g, "state", vs_rt_state_name(j->state));
	vs_jgen_key(g, "config");
	vs_jgen_value(g, cfgjson);
	vs_jgen_obj_close(g);
	text = vs_jgen_text(g, &len);
	if (vs_atomic_write_at(stagefd, SNAP_META, text, len, 0600, err) < 0)
		return -1;
	if (syncfs(stagefd) < 0)
		return vs_error_set(err, errno, "sync %s", stage);
	return 0;
}

/* The copies into the staging directory, by state. */
static int snap_fill(struct snap_job *j, struct vsd_op_run *run, const char *cdir,
		     const char *stage, const char *link_dest, struct vs_error *err)
{
	cleanup_free char *layer = xasprintf("%s/layer", stage);
	cleanup_free char *image = xasprintf("%s/image", stage);
	struct vs_rt_cr_result res = {0};

	if (j->with_memory) {
		/* The checkpoint's own copy of the layer (image/layer) is the
		 * snapshot's; it stays inside the image, which is sealed with
		 * it, and restoring the image puts it back. */
		if (mkdir(image, 0700) < 0)
			return vs_error_set(err, errno, "create %s", image);
		return vs_rt_checkpoint(&j->d->inst, &j->cfg, image, true,
					vsd_criu_netlock(j->d->criu), vsd_op_progress_cb, run, &res,
					err);
	}
	if (j->state == VS_RT_RUNNING)
		return copy_running(j, cdir, layer, link_dest, run, err);
	vsd_op_progress_cb(run, "copying the layer");
	return vs_fs_layer_copy(cdir, layer, link_dest, false, err);
}

static int snap_create_work(struct vsd_op_run *run, void *ctx, char **result, struct vs_error *err)
{
	struct snap_job *j = ctx;
	cleanup_free char *cdir = cdir_of(j->d, j->name);
	cleanup_free char *snapdir = xasprintf("%s/" SNAP_DIR, cdir);
	cleanup_free char *staging = xasprintf(".%s.creating", j->snap);
	cleanup_free char *stage = xasprintf("%s/%s", snapdir, staging);
	cleanup_free char *link_dest = NULL;
	cleanup_close int sfd = -1, stagefd = -1;
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_json struct vs_json *meta = NULL;
	int64_t t0 = vs_now_ms();

	if ((sfd = open_snapdir(j->d, j->name, true, err)) < 0 ||
	    vs_fs_remove_tree(sfd, staging, err) < 0)
		goto fail;
	if (mkdirat(sfd, staging, 0700) < 0 ||
	    (stagefd = openat(sfd, staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		vs_error_set(err, errno, "create %s", stage);
		goto fail;
	}
	link_dest = newest_layer(sfd, snapdir);
	if (snap_fill(j, run, cdir, stage, link_dest, err) < 0 ||
	    finish_snapshot(j, stagefd, stage, err) < 0)
		goto fail;
	if (renameat(sfd, staging, sfd, j->snap) < 0) {
		vs_error_set(err, errno, "rename %s", stage);
		goto fail;
	}
	fsync(sfd);
	vsd_log("container %s: snapshot %s made in %lld ms%s", j->name, j->snap,
		(long long)(vs_now_ms() - t0), j->with_memory ? " (with memory)" : "");
	if (read_meta(sfd, j->snap, &meta, err) < 0)
		goto fail;
	vs_jgen_obj_open(g);
	vs_jgen_kv_int(g, "total_ms", vs_now_ms() - t0);
	vs_jgen_kv_str(g, "note", quota_note);
	vs_jgen_key(g, "snapshot");
	gen_entry(g, meta, false);
	vs_jgen_obj_close(g);
	*result = vs_jgen_steal(g);
	snap_release(j);
	return 0;
fail:
	if (sfd >= 0)
		vs_fs_remove_tree(sfd, staging, NULL);
	vs_error_prefix(err, "snapshot '%s' of '%s'", j->snap, j->name);
	snap_release(j);
	return -1;
}

/* ---- restore -------------------------------------------------------------- */

static int snap_restore_work(struct vsd_op_run *run, void *ctx, char **result, struct vs_error *err)
{
	struct snap_job *j = ctx;
	const struct vs_rt_instance *inst = &j->d->inst;
	cleanup_free char *cdir = cdir_of(j->d, j->name);
	cleanup_free char *dir = xasprintf("%s/" SNAP_DIR "/%s", cdir, j->snap);
	cleanup_free char *layer = xasprintf("%s/layer", dir);
	cleanup_free char *image = xasprintf("%s/image", dir);
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	struct vs_rt_status st;
	int64_t t0 = vs_now_ms();

	if (j->state == VS_RT_RUNNING) {
		vsd_op_progress_cb(run, "stopping the container");
		if (vs_rt_stop(inst, &j->cfg, 30, false, err) < 0)
			goto fail;
	}
	if (j->with_memory) {
		/* vs_rt_restore puts image/layer back first, then runs CRIU. */
		vsd_views_check(j->d, j->name);
		if (vs_rt_restore(inst, &j->cfg, image, vsd_op_progress_cb, run, NULL, err) < 0)
			goto fail;
	} else {
		vsd_op_progress_cb(run, "putting the snapshot's layer back");
		if (vs_fs_layer_put_back(cdir, layer, err) < 0)
			goto fail;
	}
	vsd_log("container %s: snapshot %s restored in %lld ms", j->name, j->snap,
		(long long)(vs_now_ms() - t0));
	vs_jgen_obj_open(g);
	vs_jgen_kv_int(g, "total_ms", vs_now_ms() - t0);
	vs_jgen_kv_str(g, "snapshot", j->snap);
	vs_jgen_key(g, "container");
	if (vsd_container_status(j->d, j->name, &st, err) == 0)
		vsd_gen_status(j->d, g, &j->cfg, &st, NULL);
	else
		vs_jgen_null(g);
	vs_jgen_obj_close(g);
	*result = vs_jgen_steal(g);
	snap_release(j);
	return 0;
fail:
	vs_error_prefix(err, "restore snapshot '%s' of '%s'", j->snap, j->name);
	snap_release(j);
	return -1;
}

/* ---- requests ------------------------------------------------------------- */

/* With the container's lock held: load, check the state, and for restore
 * that the snapshot exists. */
static int snap_prepare(struct snap_job *j, bool restore, struct vs_error *err)
{
	struct vsd *d = j->d;
	struct vs_rt_status st;
	cleanup_json struct vs_json *meta = NULL;
	cleanup_close int sfd = -1;
	const char *now;

	if (vsd_store_load(d->containers_fd, j->name, &j->cfg, err) < 0 ||
	    vsd_container_status(d, j->name, &st, err) < 0)
		return -1;
	j->state = st.state;
	now = vs_rt_state_name(st.state);
	if (!restore) {
		sfd = open_snapdir(d, j->name, false, NULL);
		if (sfd >= 0 && faccessat(sfd, j->snap, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			return vs_error_kind(err, VS_EK_CONFLICT,
					     "snapshot '%s' of '%s' already exists", j->snap,
					     j->name);
		if (j->with_memory && st.state != VS_RT_RUNNING)
			return vs_error_kind(err, VS_EK_CONFLICT,
					     "container '%s' is %s: --with-memory needs it running",
					     j->name, now);
		if (st.state != VS_RT_RUNNING && st.state != VS_RT_STOPPED &&
		    st.state != VS_RT_SUSPENDED)
			return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' is %s", j->name,
					     now);
		return j->with_memory ? vsd_criu_check(d->criu, err) : 0;
	}
	if ((sfd = open_snapdir(d, j->name, false, err)) < 0 ||
	    read_meta(sfd, j->snap, &meta, err) < 0)
		return vs_error_kind(err, VS_EK_NOT_FOUND, "snapshot '%s' of '%s' does not exist",
				     j->snap, j->name);
	if (!vs_json_bool(vs_json_get(meta, "with_memory"), &j->with_memory))
		j->with_memory = false;
	if (st.state == VS_RT_RUNNING && !j->stop)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "container '%s' is running; stop it first, or use --stop",
				     j->name);
	if (st.state != VS_RT_RUNNING && st.state != VS_RT_STOPPED)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "container '%s' is %s; a snapshot is restored only into a "
				     "stopped (or, with --stop, running) container",
				     j->name, now);
	/* A snapshot with memory is restored running. */
	if (j->with_memory && vsd_check_unlocked(&j->cfg, err) < 0)
		return -1;
	return j->with_memory ? vsd_criu_check(d->criu, err) : 0;
}

static int snap_start(struct vsd_call *c, struct snap_job *j, bool restore, struct vsd_reply *out,
		      struct vs_error *err)
{
	const char *kind = restore ? "snapshot-restore" : "snapshot-create";
	uint64_t id;

	j->d = c->d;
	snprintf(j->name, sizeof(j->name), "%s", c->m->params[0]);
	if (vsd_names_lock_op(c->d->names, j->name, kind, err) < 0) {
		snap_job_free(j);
		return -1;
	}
	j->locked = true;
	if (snap_prepare(j, restore, err) < 0) {
		snap_job_free(j);
		return -1;
	}
	id = vsd_ops_add(c->d->ops, kind, j->name, (int64_t)time(NULL));
	vsd_names_set_op(c->d->names, j->name, id);
	vsd_log("operation %llu: %s %s %s", (unsigned long long)id, kind, j->name, j->snap);
	if (vsd_ops_spawn(c->d->ops, id, restore ? snap_restore_work : snap_create_work, j,
			  snap_job_free, err) < 0)
		return -1;
	return vsd_ops_accepted(c->d->ops, id, out, err);
}

int vsd_h_snapshot_create(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_free char *snap = NULL;
	struct snap_job *j;
	bool mem;

	if (vsd_snap_parse_create(c->body, c->body_len, &snap, &mem, err) < 0)
		return -1;
	j = xcalloc(1, sizeof(*j));
	snprintf(j->snap, sizeof(j->snap), "%s", snap);
	j->with_memory = mem;
	return snap_start(c, j, false, out, err);
}

int vsd_h_snapshot_restore(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	const char *snap = snap_param(c, err);
	struct snap_job *j;
	bool stop;

	if (snap == NULL || vsd_snap_parse_restore(c->body, c->body_len, &stop, err) < 0)
		return -1;
	j = xcalloc(1, sizeof(*j));
	snprintf(j->snap, sizeof(j->snap), "%s", snap);
	j->stop = stop;
	return snap_start(c, j, true, out, err);
}

int vsd_h_snapshot_delete(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	const char *name = c->m->params[0], *snap = snap_param(c, err);
	cleanup_free char *deleting = NULL;
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_close int sfd = -1;
	int r = -1;

	if (snap == NULL || vsd_names_lock(c->d->names, name, NULL, err) < 0)
		return -1;
	deleting = xasprintf(".%s.deleting", snap);
	sfd = open_snapdir(c->d, name, false, err);
	if (sfd < 0 || renameat(sfd, snap, sfd, deleting) < 0) {
		if (sfd >= 0 || err->kind != VS_EK_NOT_FOUND)
			vs_error_kind(err, VS_EK_NOT_FOUND, "snapshot '%s' of '%s' does not exist",
				      snap, name);
		goto out;
	}
	fsync(sfd);
	if (vs_fs_remove_tree(sfd, deleting, err) < 0) {
		vs_error_prefix(err, "delete snapshot '%s' (vsd start finishes it)", snap);
		goto out;
	}
	vsd_log("container %s: snapshot %s deleted", name, snap);
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "deleted", snap);
	vs_jgen_obj_close(g);
	vsd_reply_json(out, 200, g);
	r = 0;
out:
	vsd_names_unlock(c->d->names, name);
	return r;
}

/* ---- recovery --------------------------------------------------------------- */

void vsd_snapshots_recover(struct vsd *d, const char *name)
{
	cleanup_free char *cdir = cdir_of(d, name);
	cleanup_close int sfd = open_snapdir(d, name, false, NULL);
	struct vs_error err = {0};
	cleanup_dir DIR *dir = NULL;
	struct dirent *e;
	int r;

	r = vs_fs_layer_recover(cdir, &err);
	if (r < 0)
		vsd_log("recovery: container %s: layer: %s", name, err.msg);
	else if (r > 0)
		vsd_log("recovery: container %s: removed the leftover of an interrupted layer "
			"restore",
			name);
	if (sfd < 0)
		return;
	dir = fdopendir(dup(sfd));
	while (dir != NULL && (e = readdir(dir)) != NULL) {
		size_t n = strlen(e->d_name);
		if (e->d_name[0] != '.' ||
		    !((n > 9 && strcmp(e->d_name + n - 9, ".creating") == 0) ||
		      (n > 9 && strcmp(e->d_name + n - 9, ".deleting") == 0)))
			continue;
		if (vs_fs_remove_tree(sfd, e->d_name, &err) < 0)
			vsd_log("recovery: container %s: snapshots/%s: %s", name, e->d_name,
				err.msg);
		else
			vsd_log("recovery: container %s: removed snapshots/%s", name, e->d_name);
	}
}
