/* Container handlers: list, create, get, destroy, state changes. The
 * crash-safety protocol (staging names, atomic renames, id claims) is in
 * docs/architecture.md; startup recovery (recover.c) finishes or undoes
 * whatever a crash interrupted here. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/handlers.h"
#include "fs-cow/vs_fs.h"
#include "lib/vs_trace.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

void vsd_gen_status(struct vsd *d, struct vs_jgen *g, const struct vs_container_config *cfg,
		    const struct vs_rt_status *st, const struct vsd_hold_info *hold)
{
	const char *state = vs_rt_state_name(st->state);
	const char *transition = hold != NULL ? hold->transition : NULL;
	bool live = st->state != VS_RT_STOPPED && st->state != VS_RT_SUSPENDED;

	/* While a request is starting or stopping the container, say so even
	 * before the monitor has written its state. */
	if (transition != NULL && strcmp(transition, "starting") == 0 && st->state == VS_RT_STOPPED)
		state = "starting";
	else if (transition != NULL && strcmp(transition, "stopping") == 0 &&
		 st->state == VS_RT_RUNNING)
		state = "stopping";
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "name", cfg->name);
	vs_jgen_kv_str(g, "state", state);
	vs_jgen_kv_str(g, "template", cfg->template_name);
	vs_jgen_kv_str(g, "hostname", cfg->hostname);
	vs_jgen_kv_bool(g, "privileged", cfg->privileged);
	if (cfg->owner[0] != '\0')
		vs_jgen_kv_str(g, "owner", cfg->owner);
	vs_jgen_kv_int(g, "init_pid", live ? st->init_pid : 0);
	vs_jgen_kv_int(g, "monitor_pid", live ? st->monitor_pid : 0);
	vs_jgen_kv_int(g, "started_at", live ? st->started_at : 0);
	vs_jgen_kv_int(g, "created_at", cfg->created_at);
	vs_config_gen_idmap(g, cfg);
	vs_jgen_key(g, "limits");
	vs_config_gen_limits(g, &cfg->limits);
	vsd_gen_unenforced(g, d, &cfg->limits);
	if (cfg->pool[0] != '\0')
		vs_jgen_kv_str(g, "pool", cfg->pool);
	vs_jgen_kv_bool(g, "idle_reclaim", cfg->idle_reclaim);
	vs_config_gen_locked(g, cfg);
	if (cfg->net.nifaces > 0 || cfg->net.nnameservers > 0) {
		vs_jgen_key(g, "net");
		vs_config_gen_net(g, &cfg->net);
	}
	if (st->last_exit_code >= 0 || st->last_exit_signal > 0) {
		vs_jgen_key(g, "last_exit");
		vs_jgen_obj_open(g);
		vs_jgen_kv_int(g, "code", st->last_exit_code >= 0 ? st->last_exit_code : 0);
		vs_jgen_kv_int(g, "signal", st->last_exit_signal);
		vs_jgen_obj_close(g);
	}
	if (hold != NULL && hold->op_kind != NULL && hold->op_id != 0) {
		char id[32];
		snprintf(id, sizeof(id), "%llu", (unsigned long long)hold->op_id);
		vs_jgen_key(g, "operation");
		vs_jgen_obj_open(g);
		vs_jgen_kv_str(g, "id", id);
		vs_jgen_kv_str(g, "kind", hold->op_kind);
		vs_jgen_obj_close(g);
	}
	if (d != NULL)
		vsd_oom_gen(d, cfg, st, g);
	vs_jgen_obj_close(g);
}

int vsd_container_status(struct vsd *d, const char *name, struct vs_rt_status *st,
			 struct vs_error *err)
{
	memset(st, 0, sizeof(*st));
	st->last_exit_code = -1;
	if (vs_rt_status(&d->inst, name, st, err) < 0)
		return vs_error_prefix(err, "status of container '%s'", name);
	return 0;
}

int vsd_gen_loaded(struct vsd *d, const struct vs_container_config *cfg, struct vs_jgen *g,
		   struct vs_error *err)
{
	struct vsd_hold_info hold;
	struct vs_rt_status st;

	if (vsd_container_status_kept(d, cfg->name, &st, err) < 0)
		return -1;
	vsd_names_info(d->names, cfg->name, &hold);
	vsd_gen_status(d, g, cfg, &st, &hold);
	return 0;
}

/* One entry of the list. A container that cannot be read is listed as
 * {"name", "state": "unknown", "error"} rather than hiding it or failing the
 * whole list; one that vanished meanwhile (destroyed) is skipped. */
static void gen_list_entry(struct vsd *d, const char *name, const struct vsd_identity *who,
			   const char *owner, struct vs_jgen *g)
{
	cleanup_config struct vs_container_config cfg = {0};
	struct vs_error err = {0};

	if (vsd_index_load(d->index, d->containers_fd, name, &cfg, &err) == 0) {
		/* Only the credential's owner's containers (and ?owner=). */
		if (!vsd_owner_visible(who, cfg.owner) ||
		    (owner != NULL && strcmp(owner, cfg.owner) != 0))
			return;
		if (vsd_gen_loaded(d, &cfg, g, &err) == 0)
			return;
	}
	/* An owner-scoped credential never sees what it cannot tell is its. */
	if (err.kind == VS_EK_NOT_FOUND || who->owner[0] != '\0')
		return;
	vsd_log("container %s: %s", name, err.msg);
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "name", name);
	vs_jgen_kv_str(g, "state", "unknown");
	vs_jgen_key(g, "error");
	vsd_gen_error(g, &err);
	vs_jgen_obj_close(g);
}

int vsd_h_container_list(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_strv char **names = NULL;

	const char *owner = vsd_call_query(c, "owner");

	/* ?owner= is "" for containers of no owner. */
	if (owner != NULL && owner[0] != '\0' && vs_validate_name(owner, "owner", err) < 0)
		return -1;
	if (vsd_store_list(c->d->containers_fd, &names, err) < 0)
		return -1;
	vs_jgen_obj_open(g);
	vs_jgen_key(g, "containers");
	vs_jgen_arr_open(g);
	vsd_oom_batch(c->d, true);
	for (size_t i = 0; names[i] != NULL; i++)
		gen_list_entry(c->d, names[i], c->who, owner, g);
	vsd_oom_batch(c->d, false);
	vs_jgen_arr_close(g);
	vs_jgen_obj_close(g);
	/* Entries of containers gone without the daemon (removed by hand). */
	vsd_index_retain(c->d->index, names);
	vsd_status_cache_retain(c->d->status_cache, names);
	vsd_reply_json(out, 200, g);
	return 0;
}

int vsd_h_container_get(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_config struct vs_container_config cfg = {0};
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);

	if (vsd_index_load(c->d->index, c->d->containers_fd, c->m->params[0], &cfg, err) < 0 ||
	    vsd_gen_loaded(c->d, &cfg, g, err) < 0 ||
	    vsd_container_etag(c->d, c->m->params[0], out->etag, err) < 0)
		return -1;
	vsd_reply_json(out, 200, g);
	return 0;
}

int vsd_container_etag(struct vsd *d, const char *name, char etag[24], struct vs_error *err)
{
	cleanup_free char *path = xasprintf("%s/config.json", name);

	if (vsd_etag_file(d->containers_fd, path, etag, err) == 0)
		return 0;
	if (err->errnum == ENOENT)
		return vs_error_kind(err, VS_EK_NOT_FOUND, "container '%s' does not exist", name);
	return -1;
}

int vsd_container_stage(struct vsd *d, const struct vs_container_config *cfg,
			const struct vsd_fill *fill, const char *dirname, struct vs_error *err)
{
	cleanup_free char *staging = xasprintf(".%s.creating", cfg->name);
	cleanup_free char *path = xasprintf("%s/containers/%s", d->root, staging);
	cleanup_close int dfd = -1;
	struct vs_error e2 = {0};

	/* A leftover of an earlier crash (startup removes these too). */
	if (vs_fs_remove_tree(d->containers_fd, staging, err) < 0)
		return vs_error_prefix(err, "remove stale %s", staging);
	if (mkdirat(d->containers_fd, staging, 0700) < 0)
		return vs_error_set(err, errno, "create %s", path);
	/* The disk before the layer: upper/ and work/ go inside it. */
	if (cfg->limits.disk > 0 &&
	    vs_fs_disk_create(path, cfg->limits.disk, cfg->limits.inodes, err) < 0)
		goto fail;
	if (vs_fs_layer_create(path, cfg->idmap_uid, cfg->idmap_gid, err) < 0)
		goto fail;
	if (fill != NULL && fill->fn(fill->ud, path, cfg, err) < 0)
		goto fail;
	dfd = openat(d->containers_fd, staging, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		vs_error_set(err, errno, "open %s", path);
		goto fail;
	}
	if (vsd_store_write_config(dfd, cfg, err) < 0)
		goto fail;
	if (renameat2(d->containers_fd, staging, d->containers_fd, dirname, RENAME_NOREPLACE) < 0) {
		vs_error_set(err, errno, "rename %s to %s", staging, dirname);
		goto fail;
	}
	fsync(d->containers_fd);
	return 0;
fail:
	if (vs_fs_disk_umount(path, &e2) < 0 ||
	    vs_fs_remove_tree(d->containers_fd, staging, &e2) < 0)
		vsd_log("create %s: cleaning up %s failed: %s", cfg->name, staging, e2.msg);
	return -1;
}

/* Fill the daemon-owned fields from the template. */
static int take_template(struct vsd *d, struct vs_container_config *cfg, struct vs_error *err)
{
	cleanup_tinfo struct vs_template_info t = {0};
	static char *const fallback_init[] = {"/sbin/init", NULL};

	if (vs_fs_template_get(d->root, cfg->template_name, &t, err) < 0) {
		if (err->kind == VS_EK_NOT_FOUND)
			return vs_error_kind(err, VS_EK_NOT_FOUND, "template '%s' does not exist",
					     cfg->template_name);
		return vs_error_prefix(err, "template '%s'", cfg->template_name);
	}
	cfg->init = vs_strv_dup(t.init != NULL && t.init[0] != NULL ? t.init : fallback_init);
	cfg->stop_signal = t.stop_signal > 0 ? t.stop_signal : SIGTERM;
	return 0;
}

int vsd_container_create_locked(struct vsd *d, struct vs_container_config *cfg,
				const struct vsd_fill *fill, struct vs_error *err)
{
	struct vs_error e2 = {0};
	uint32_t base = 0;

	if (vsd_store_exists(d->containers_fd, cfg->name))
		return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' already exists",
				     cfg->name);
	if (vsd_pool_check(d, cfg->pool, "pool", err) < 0 ||
	    vsd_check_node_limits(d, cfg->name, &cfg->limits, err) < 0 ||
	    vsd_net_prepare_create(d, cfg, err) < 0)
		return -1;
	if (take_template(d, cfg, err) < 0)
		return -1;
	cfg->created_at = (int64_t)time(NULL);
	if (!cfg->privileged) {
		if (vsd_idmap_claim(d->idmap_registry, d->root, cfg->name, &base, err) < 0)
			return -1;
		cfg->idmap_uid = cfg->idmap_gid = base;
		cfg->idmap_size = VS_IDMAP_SIZE;
	}
	if (vsd_container_stage(d, cfg, fill, cfg->name, err) < 0) {
		if (!cfg->privileged &&
		    vsd_idmap_release(d->idmap_registry, base, d->root, cfg->name, &e2) < 0)
			vsd_log("create %s: releasing id range %u failed: %s", cfg->name, base,
				e2.msg);
		return vs_error_prefix(err, "create container '%s'", cfg->name);
	}
	return 0;
}

/* vsd_fill: the create's root password and keys, queued in the staging
 * directory for the first start. */
static int queue_creds(void *ud, const char *cdir, const struct vs_container_config *cfg,
		       struct vs_error *err)
{
	cleanup_close int cfd = open(cdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (cfd < 0)
		return vs_error_set(err, errno, "open %s", cdir);
	return vsd_creds_queue_at(cfd, ud, err);
}

/* A create request's "start": true (start it once made). */
static int parse_start(const struct vs_json *body, bool *start, struct vs_error *err)
{
	const struct vs_json *v = vs_json_get(body, "start");

	*start = false;
	if (v != NULL && vs_json_type(v) != VS_JSON_NULL && !vs_json_bool(v, start))
		return vs_error_kind(err, VS_EK_INVALID, "start: expected true or false");
	return 0;
}

/* Start a container just created (its credentials are applied then). */
static int start_created(struct vsd *d, const struct vs_container_config *cfg, struct vs_error *err)
{
	int r;

	if (vsd_names_lock(d->names, cfg->name, NULL, err) < 0)
		return -1;
	r = vsd_container_start(d, cfg, err);
	vsd_names_unlock(d->names, cfg->name);
	return r;
}

int vsd_h_container_create(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_config struct vs_container_config cfg = {0};
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_json struct vs_json *body = NULL;
	struct vsd_creds creds = {0};
	const struct vsd_fill fill = {.fn = queue_creds, .ud = &creds};
	struct vs_rt_status st;
	struct vs_error e2 = {0}, start_err = {0};
	bool start;
	int r;

	if (vsd_parse_body(c->body, c->body_len, false, &body, err) < 0 ||
	    vs_config_parse_create(body, &cfg, err) < 0 || parse_start(body, &start, err) < 0 ||
	    vsd_require_admin_for(c->who, &c->d->net, NULL, &cfg, err) < 0 ||
	    vsd_owner_for_create(c->who, &cfg, err) < 0 ||
	    vsd_creds_parse(body, VSD_CREDS_CREATE, &creds, err) < 0)
		return -1;
	/* --default-disk: only when the request names no disk at all. */
	if (c->d->default_disk > 0 && vs_json_get(vs_json_get(body, "limits"), "disk") == NULL)
		cfg.limits.disk = c->d->default_disk;
	pthread_mutex_lock(&c->d->mutate);
	r = vsd_container_create_locked(c->d, &cfg, vsd_creds_empty(&creds) ? NULL : &fill, err);
	pthread_mutex_unlock(&c->d->mutate);
	vsd_creds_free(&creds);
	if (r < 0)
		return -1;
	vsd_log("container %s: created from template %s", cfg.name, cfg.template_name);
	vsd_emit(c->d, VSD_EV_CONTAINER_CREATED, cfg.name, NULL);
	/* Created is created: a start that fails is reported beside the
	 * status (start_error), the container stays, stopped. */
	if (start && start_created(c->d, &cfg, &e2) < 0)
		start_err = e2;
	if (vsd_container_status(c->d, cfg.name, &st, &e2) < 0) {
		/* Created is created: report it stopped rather than fail. */
		vsd_log("container %s: %s", cfg.name, e2.msg);
		memset(&st, 0, sizeof(st));
		st.state = VS_RT_STOPPED;
		st.last_exit_code = -1;
	}
	if (start_err.msg[0] == '\0') {
		vsd_gen_status(c->d, g, &cfg, &st, NULL);
	} else {
		/* The status object with one more member. */
		cleanup_jgen struct vs_jgen *sg = vs_jgen_new(false);
		cleanup_json struct vs_json *obj = NULL;

		vsd_gen_status(c->d, sg, &cfg, &st, NULL);
		if (vs_json_parse(vs_jgen_text(sg, NULL), &obj, err) < 0)
			return -1;
		vs_jgen_obj_open(g);
		for (size_t i = 0; i < vs_json_object_len(obj); i++) {
			vs_jgen_key(g, vs_json_object_key(obj, i));
			vs_jgen_value(g, vs_json_object_value(obj, i));
		}
		vs_jgen_key(g, "start_error");
		vsd_gen_error(g, &start_err);
		vs_jgen_obj_close(g);
	}
	vsd_reply_json(out, 201, g);
	return 0;
}

/* ?force=1: true; absent, "0": false; anything else is an error. */
static int parse_force(const char *v, bool *force, struct vs_error *err)
{
	*force = false;
	if (v == NULL || strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
		return 0;
	if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || v[0] == '\0') {
		*force = true;
		return 0;
	}
	return vs_error_kind(err, VS_EK_INVALID, "force: expected 1 or 0");
}

/* Best effort: the runtime's files of a destroyed container (console.log). */
static void remove_run_files(struct vsd *d, const char *name)
{
	cleanup_free char *dir = xasprintf("%s/containers", d->run_dir);
	cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct vs_error e = {0};

	if (fd >= 0 && vs_fs_remove_tree(fd, name, &e) < 0)
		vsd_log("container %s: removing %s/%s failed: %s", name, dir, name, e.msg);
}

/* A stopped container whose root is still mounted (a monitor died) cannot
 * be removed: let the runtime clean up first, and refuse before renaming
 * anything if that does not help. */
static int rootfs_busy(struct vsd *d, const struct vs_container_config *cfg, struct vs_error *err)
{
	cleanup_free char *cdir = xasprintf("%s/containers/%s", d->root, cfg->name);

	if (!vs_fs_rootfs_mounted(cdir))
		return 0;
	if (vs_rt_recover(&d->inst, cfg, err) < 0)
		return vs_error_prefix(err, "destroy '%s': clean up after its monitor", cfg->name);
	if (vs_fs_rootfs_mounted(cdir))
		return vs_error_set(err, EBUSY, "destroy '%s': %s/rootfs is still mounted",
				    cfg->name, cdir);
	return 0;
}

int vsd_container_unmount_disk(struct vsd *d, const char *dirname, struct vs_error *err)
{
	cleanup_free char *cdir = xasprintf("%s/containers/%s", d->root, dirname);

	return vs_fs_disk_umount(cdir, err);
}

int vsd_container_destroy_locked(struct vsd *d, const char *name, bool force, struct vs_error *err)
{
	cleanup_config struct vs_container_config cfg = {0};
	cleanup_free char *gone = xasprintf(".%s.destroying", name);
	struct vs_rt_status st;
	struct vs_error e2 = {0};

	if (vsd_store_load(d->containers_fd, name, &cfg, err) < 0 ||
	    vsd_container_status(d, name, &st, err) < 0)
		return -1;
	/* A suspended container's memory image (inside the container's
	 * directory) goes with it: the customer's running state is lost, so
	 * that takes force like destroying a running one. */
	if (st.state == VS_RT_SUSPENDED && !force)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     VS_RT_SUSPENDED_HINT " (destroy it with force)", name, name);
	if (st.state != VS_RT_STOPPED && st.state != VS_RT_SUSPENDED) {
		if (!force)
			return vs_error_kind(err, VS_EK_CONFLICT,
					     "container '%s' is %s (stop it or use force)", name,
					     vs_rt_state_name(st.state));
		if (vs_rt_stop(&d->inst, &cfg, 0, true, err) < 0)
			return vs_error_prefix(err, "destroy '%s': stop", name);
		vsd_emit_state(d, name, false);
	}
	if (rootfs_busy(d, &cfg, err) < 0)
		return -1;
	/* A suspended container's standby routes: its addresses are free
	 * once config.json is gone. */
	vsd_net_release(d, &cfg);
	if (vs_fs_remove_tree(d->containers_fd, gone, err) < 0)
		return vs_error_prefix(err, "destroy '%s': remove stale %s", name, gone);
	if (renameat2(d->containers_fd, name, d->containers_fd, gone, RENAME_NOREPLACE) < 0)
		return vs_error_set(err, errno, "destroy '%s': rename to %s", name, gone);
	fsync(d->containers_fd);
	/* From here the container is gone for the API; if removal fails, the
	 * next start of vsd finishes it (and then releases the id range).
	 * Its disk is unmounted first (the loop device goes with it). */
	if (vsd_container_unmount_disk(d, gone, err) < 0 ||
	    vs_fs_remove_tree(d->containers_fd, gone, err) < 0)
		return vs_error_prefix(err, "destroy '%s': remove %s/containers/%s", name, d->root,
				       gone);
	if (!cfg.privileged &&
	    vsd_idmap_release(d->idmap_registry, cfg.idmap_uid, d->root, name, &e2) < 0)
		vsd_log("container %s: releasing id range %u failed: %s", name, cfg.idmap_uid,
			e2.msg);
	remove_run_files(d, name);
	vsd_index_forget(d->index, name);
	vsd_status_cache_forget(d->status_cache, name);
	return 0;
}

int vsd_container_lock_if_match(const struct vsd_call *c, const char *name, struct vs_error *err)
{
	char etag[24];

	if (vsd_names_lock(c->d->names, name, NULL, err) < 0)
		return -1;
	if (vsd_container_etag(c->d, name, etag, err) < 0 || vsd_check_if_match(c, etag, err) < 0) {
		vsd_names_unlock(c->d->names, name);
		return -1;
	}
	return 0;
}

int vsd_h_container_delete(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	const char *name = c->m->params[0];
	bool force;
	int r;

	if (parse_force(vsd_call_query(c, "force"), &force, err) < 0)
		return -1;
	/* A moved container's copy that vsd holds until it can remove it:
	 * force removes it now (the only thing the hold waits for). */
	r = force ? vsd_mig_destroy_moved(c->d, name, err) : 0;
	if (r < 0)
		return -1;
	if (r == 0) {
		pthread_mutex_lock(&c->d->mutate);
		r = vsd_container_lock_if_match(c, name, err);
		if (r == 0) {
			r = vsd_container_destroy_locked(c->d, name, force, err);
			vsd_names_unlock(c->d->names, name);
		}
		pthread_mutex_unlock(&c->d->mutate);
		if (r < 0)
			return -1;
		vsd_emit(c->d, VSD_EV_CONTAINER_DESTROYED, name, NULL);
		if (c->d->events != NULL)
			vsd_events_forget(c->d->events, name);
	}
	vsd_log("container %s: destroyed", name);
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "deleted", name);
	vs_jgen_obj_close(g);
	vsd_reply_json(out, 200, g);
	return 0;
}

int vsd_template_user(struct vsd *d, const char *tpl, char **user, struct vs_error *err)
{
	cleanup_strv char **names = NULL;

	if (vsd_store_list(d->containers_fd, &names, err) < 0)
		return -1;
	for (size_t i = 0; names[i] != NULL; i++) {
		cleanup_config struct vs_container_config cfg = {0};
		struct vs_error e = {0};
		if (vsd_index_load(d->index, d->containers_fd, names[i], &cfg, &e) < 0) {
			if (e.kind == VS_EK_NOT_FOUND)
				continue;
			/* Unreadable config: its template is unknown, so refuse. */
			*err = e;
			return vs_error_prefix(err, "cannot tell whether template '%s' is in use",
					       tpl);
		}
		if (strcmp(cfg.template_name, tpl) == 0) {
			*user = xstrdup(names[i]);
			return 1;
		}
	}
	return 0;
}

struct state_req {
	const char *action;
	int64_t timeout;
	bool force;
};

static int parse_state_req(const struct vs_json *body, struct state_req *r, struct vs_error *err)
{
	static const char *const keys[] = {"action", "timeout", "force", NULL};
	const struct vs_json *v;

	r->timeout = 30;
	r->force = false;
	if (vsd_check_fields(body, keys, err) < 0)
		return -1;
	r->action = vs_json_string(vs_json_get(body, "action"));
	if (vs_json_get(body, "action") == NULL)
		return vs_error_kind(err, VS_EK_INVALID, "action: required");
	if (r->action == NULL ||
	    (strcmp(r->action, "start") != 0 && strcmp(r->action, "stop") != 0 &&
	     strcmp(r->action, "restart") != 0))
		return vs_error_kind(err, VS_EK_INVALID,
				     "action: expected \"start\", \"stop\" or \"restart\"");
	v = vs_json_get(body, "timeout");
	if (v != NULL && vs_json_type(v) != VS_JSON_NULL &&
	    (!vs_json_int64(v, &r->timeout) || r->timeout < 0 || r->timeout > 86400))
		return vs_error_kind(err, VS_EK_INVALID,
				     "timeout: expected a number of seconds from 0 to 86400");
	v = vs_json_get(body, "force");
	if (v != NULL && vs_json_type(v) != VS_JSON_NULL && !vs_json_bool(v, &r->force))
		return vs_error_kind(err, VS_EK_INVALID, "force: expected true or false");
	return 0;
}

static int do_start(struct vsd *d, const struct vs_container_config *cfg, struct vs_error *err)
{
	cleanup_tinfo struct vs_template_info t = {0};

	if (vsd_check_unlocked(cfg, err) < 0)
		return -1;
	/* vs_rt_start wants the template present; a missing one is the
	 * container's state problem, not a missing route. */
	if (vs_fs_template_get(d->root, cfg->template_name, &t, err) < 0) {
		if (err->kind == VS_EK_NOT_FOUND)
			return vs_error_kind(err, VS_EK_CONFLICT,
					     "template '%s' of container '%s' does not exist",
					     cfg->template_name, cfg->name);
		return -1;
	}
	vsd_names_set_transition(d->names, cfg->name, "starting");
	vsd_views_check(d, cfg->name);
	vs_trace_mark("start.checked");
	if (vs_rt_start(&d->inst, cfg, err) < 0)
		return -1; /* the runtime's message names the container */
	vs_trace_mark("start.monitor-ready");
	vsd_log("container %s: started", cfg->name);
	vsd_creds_apply_pending(d, cfg);
	vsd_emit_state(d, cfg->name, true);
	vs_trace_mark("start.done");
	return 0;
}

/* A stop's last usage reading on its way into the ledger. The reading is
 * taken before the monitor is asked (the cgroup and the links go with the
 * stop); its durable write (read, fold in, write, two fsyncs: 1 to 11 ms
 * here, with the disk's load) then runs on a thread of its own while the monitor kills, reaps
 * and cleans up, and is joined before the stop answers, so the ledger
 * holds the run when the caller learns it stopped, as before. */
struct stop_usage {
	struct vsd *d;
	const struct vs_container_config *cfg;
	struct vsd_ledger_counters r;
	int64_t started_at;
	bool have;
	bool threaded;
	pthread_t thread;
};

static void *stop_usage_write(void *arg)
{
	struct stop_usage *u = arg;

	vsd_usage_observe(u->d, u->cfg, u->have ? u->started_at : 0, u->have ? &u->r : NULL,
			  VSD_USAGE_STOP, NULL);
	vs_trace_mark("stop.usage-written");
	return NULL;
}

static void stop_usage_begin(struct vsd *d, const struct vs_container_config *cfg,
			     struct stop_usage *u)
{
	*u = (struct stop_usage){.d = d, .cfg = cfg};
	u->have = vsd_usage_take(d, cfg, &u->r, &u->started_at, NULL);
	vs_trace_mark("stop.usage-recorded");
	/* Without a thread (none to be had), written here, before the stop. */
	u->threaded = pthread_create(&u->thread, NULL, stop_usage_write, u) == 0;
	if (!u->threaded)
		stop_usage_write(u);
}

static void stop_usage_end(struct stop_usage *u)
{
	if (u->threaded)
		pthread_join(u->thread, NULL);
	u->threaded = false;
}

static int do_stop(struct vsd *d, const struct vs_container_config *cfg, const struct state_req *r,
		   struct vs_error *err)
{
	struct stop_usage u;
	int ret;

	vsd_names_set_transition(d->names, cfg->name, "stopping");
	vs_trace_mark("stop.checked");
	/* The last reading of this run, before its cgroup goes. */
	stop_usage_begin(d, cfg, &u);
	ret = vs_rt_stop(&d->inst, cfg, (int)r->timeout, r->force, err);
	stop_usage_end(&u);
	if (ret < 0)
		return vs_error_prefix(err, "stop '%s'", cfg->name);
	vs_trace_mark("stop.monitor-done");
	vsd_log("container %s: stopped", cfg->name);
	vsd_emit_state(d, cfg->name, false);
	vs_trace_mark("stop.done");
	return 0;
}

/* Called with the container's lock held. */
static int change_state_locked(struct vsd *d, const char *name, const struct state_req *r,
			       struct vs_error *err)
{
	cleanup_config struct vs_container_config cfg = {0};
	struct vs_rt_status st;

	if (vsd_store_load(d->containers_fd, name, &cfg, err) < 0 ||
	    vsd_container_status(d, name, &st, err) < 0)
		return -1;
	/* Starting would throw its memory image away silently, stopping it
	 * means nothing: a suspended container is resumed, its image discarded
	 * explicitly, or it is destroyed. */
	if (st.state == VS_RT_SUSPENDED)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     VS_RT_SUSPENDED_HINT " or destroy it with force", name, name);
	if (strcmp(r->action, "start") == 0) {
		if (st.state != VS_RT_STOPPED)
			return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' is %s", name,
					     vs_rt_state_name(st.state));
		return do_start(d, &cfg, err);
	}
	if (strcmp(r->action, "stop") == 0) {
		if (st.state == VS_RT_STOPPED)
			return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' is not running",
					     name);
		return do_stop(d, &cfg, r, err);
	}
	if (st.state != VS_RT_STOPPED && do_stop(d, &cfg, r, err) < 0)
		return -1;
	return do_start(d, &cfg, err);
}

int vsd_h_container_state(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_config struct vs_container_config cfg = {0};
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_json struct vs_json *body = NULL;
	const char *name = c->m->params[0];
	struct state_req r;
	int ret;

	if (vsd_parse_body(c->body, c->body_len, false, &body, err) < 0 ||
	    parse_state_req(body, &r, err) < 0)
		return -1;
	if (vsd_names_lock(c->d->names, name, NULL, err) < 0)
		return -1;
	ret = change_state_locked(c->d, name, &r, err);
	vsd_names_unlock(c->d->names, name);
	if (ret < 0)
		return -1;
	if (vsd_index_load(c->d->index, c->d->containers_fd, name, &cfg, err) < 0 ||
	    vsd_gen_loaded(c->d, &cfg, g, err) < 0)
		return -1;
	vsd_reply_json(out, 200, g);
	return 0;
}

int vsd_container_start(struct vsd *d, const struct vs_container_config *cfg, struct vs_error *err)
{
	return do_start(d, cfg, err);
}

int vsd_container_stop(struct vsd *d, const struct vs_container_config *cfg, int timeout,
		       struct vs_error *err)
{
	const struct state_req r = {.action = "stop", .timeout = timeout, .force = false};

	return do_stop(d, cfg, &r, err);
}
