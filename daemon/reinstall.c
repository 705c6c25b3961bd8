/* POST /v1/containers/{name}/reinstall: a new root file system for a
 * container, keeping everything else (name, limits, disk quota, pool,
 * networking with its addresses and MACs, hostname, id range, lock).
 *
 * The container's own copy-on-write layer is replaced by an empty one
 * over the (possibly new) template through vs_fs_layer_put_back: the new
 * layer is made beside the old one and exchanged with it in one rename,
 * so a failure (or a crash) leaves the old layer or the new one complete,
 * never a mix. Synchronous, like stop: the stop is the long part.
 *
 * Snapshots hold copies of the old layer. With the same template they are
 * kept (restoring one undoes the reinstall); with another template they
 * would put a layer made for one system over another, so a reinstall from
 * another template is refused while the container has any. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/handlers.h"
#include "fs-cow/vs_fs.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

/* The empty directory put back as the new layer, in the container's own
 * directory (removed again at once; a crash's leftover goes with the next
 * reinstall or the container). */
#define EMPTY_DIR ".reinstall-empty"

struct reinstall_req {
	char template_name[VS_NAME_MAX + 1]; /* "" : the current one */
	struct vsd_creds creds;
};

static int parse_reinstall(const struct vsd_call *c, struct reinstall_req *r, struct vs_error *err)
{
	static const char *const keys[] = {"template", "root_password", "root_password_hash",
					   "ssh_keys", NULL};
	cleanup_json struct vs_json *body = NULL;
	const struct vs_json *v;

	memset(r, 0, sizeof(*r));
	if (vsd_parse_body(c->body, c->body_len, true, &body, err) < 0 ||
	    vsd_check_fields(body, keys, err) < 0)
		return -1;
	if ((v = vs_json_get(body, "template")) != NULL && vs_json_type(v) != VS_JSON_NULL) {
		if (vs_validate_name(vs_json_string(v), "template", err) < 0)
			return -1;
		snprintf(r->template_name, sizeof(r->template_name), "%s", vs_json_string(v));
	}
	return vsd_creds_parse(body, VSD_CREDS_CREATE, &r->creds, err);
}

/* cfg's template becomes tpl: init and stop signal from it. Checked
 * before anything changes; applied (cfg only) after the layer swap. */
static int check_template(struct vsd *d, const char *tpl, struct vs_template_info *t,
			  struct vs_error *err)
{
	if (vs_fs_template_get(d->root, tpl, t, err) == 0)
		return 0;
	if (err->kind == VS_EK_NOT_FOUND)
		return vs_error_kind(err, VS_EK_NOT_FOUND, "template '%s' does not exist", tpl);
	return vs_error_prefix(err, "template '%s'", tpl);
}

static void take_template(struct vs_container_config *cfg, const char *tpl,
			  const struct vs_template_info *t)
{
	static char *const fallback_init[] = {"/sbin/init", NULL};

	snprintf(cfg->template_name, sizeof(cfg->template_name), "%s", tpl);
	vs_strv_free(cfg->init);
	cfg->init = vs_strv_dup(t->init != NULL && t->init[0] != NULL ? t->init : fallback_init);
	cfg->stop_signal = t->stop_signal > 0 ? t->stop_signal : SIGTERM;
}

/* Replace the layer of the stopped container by an empty one. */
static int new_layer(struct vsd *d, const struct vs_container_config *cfg, struct vs_error *err)
{
	cleanup_free char *cdir = xasprintf("%s/containers/%s", d->root, cfg->name);
	cleanup_free char *empty = xasprintf("%s/" EMPTY_DIR, cdir);
	cleanup_close int cfd =
	    openat(d->containers_fd, cfg->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	uid_t uid = cfg->privileged ? 0 : cfg->idmap_uid;
	gid_t gid = cfg->privileged ? 0 : cfg->idmap_gid;
	struct vs_error e2 = {0};
	int r;

	if (cfd < 0)
		return vs_error_set(err, errno, "open %s", cdir);
	if (vs_fs_remove_tree(cfd, EMPTY_DIR, err) < 0)
		return -1;
	/* The root of the new layer as vs_fs_layer_create makes it: the
	 * container's root owns it. */
	if (mkdirat(cfd, EMPTY_DIR, 0755) < 0 ||
	    fchownat(cfd, EMPTY_DIR, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(cfd, EMPTY_DIR, 0755, 0) < 0)
		r = vs_error_set(err, errno, "create %s", empty);
	else
		r = vs_fs_layer_put_back(cdir, empty, err);
	if (vs_fs_remove_tree(cfd, EMPTY_DIR, &e2) < 0)
		vsd_log("container %s: removing %s failed: %s", cfg->name, empty, e2.msg);
	return r;
}

/* With d->mutate (a template cannot go meanwhile) and the container's
 * lock held. */
static int reinstall_locked(struct vsd *d, const char *name, const struct reinstall_req *q,
			    struct vs_error *err)
{
	cleanup_config struct vs_container_config cfg = {0};
	cleanup_tinfo struct vs_template_info t = {0};
	cleanup_close int cfd = -1;
	struct vs_rt_status st;
	const char *tpl;
	bool was_running, other;
	size_t nsnap;

	if (vsd_store_load(d->containers_fd, name, &cfg, err) < 0 ||
	    vsd_container_status(d, name, &st, err) < 0)
		return -1;
	if (st.state == VS_RT_SUSPENDED)
		return vs_error_kind(err, VS_EK_CONFLICT, VS_RT_SUSPENDED_HINT " then reinstall it",
				     name, name);
	tpl = q->template_name[0] != '\0' ? q->template_name : cfg.template_name;
	other = strcmp(tpl, cfg.template_name) != 0;
	if (other && (nsnap = vsd_snapshots_count(d, name)) > 0)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "container '%s' has %zu snapshot(s) of its layer on template "
				     "'%s'; delete them before reinstalling from '%s'",
				     name, nsnap, cfg.template_name, tpl);
	if (check_template(d, tpl, &t, err) < 0)
		return -1;
	was_running = st.state != VS_RT_STOPPED;
	if (was_running && vsd_container_stop(d, &cfg, 30, err) < 0)
		return vs_error_prefix(err, "reinstall '%s' (nothing changed)", name);
	if (new_layer(d, &cfg, err) < 0) {
		struct vs_error e2 = {0};
		if (was_running && vsd_container_start(d, &cfg, &e2) < 0)
			vsd_log("container %s: start after a failed reinstall: %s", name, e2.msg);
		return vs_error_prefix(err, "reinstall '%s' (the old root is kept)", name);
	}
	if (other) {
		take_template(&cfg, tpl, &t);
		if (vsd_panel_store_config(d, &cfg, err) < 0)
			return vs_error_prefix(err,
					       "reinstall '%s': new layer made, but the "
					       "template could not be recorded",
					       name);
	}
	cfd = openat(d->containers_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (!vsd_creds_empty(&q->creds) && (cfd < 0 || vsd_creds_queue_at(cfd, &q->creds, err) < 0))
		return vs_error_prefix(err, "reinstall '%s': reinstalled, but the credentials",
				       name);
	/* A locked container stays stopped (it was stopped anyway). */
	if (was_running && cfg.locked_at <= 0 && vsd_container_start(d, &cfg, err) < 0)
		return vs_error_prefix(err, "reinstall '%s': reinstalled, but start", name);
	return 0;
}

int vsd_h_container_reinstall(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_config struct vs_container_config cfg = {0};
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	const char *name = c->m->params[0];
	struct reinstall_req q;
	int r;

	if (parse_reinstall(c, &q, err) < 0)
		return -1;
	pthread_mutex_lock(&c->d->mutate);
	r = vsd_container_lock_if_match(c, name, err);
	if (r == 0) {
		r = reinstall_locked(c->d, name, &q, err);
		vsd_names_unlock(c->d->names, name);
	}
	pthread_mutex_unlock(&c->d->mutate);
	vsd_creds_free(&q.creds);
	if (r < 0)
		return -1;
	vsd_log("container %s: reinstalled", name);
	vsd_emit(c->d, VSD_EV_CONTAINER_UPDATED, name, NULL);
	if (vsd_store_load(c->d->containers_fd, name, &cfg, err) < 0 ||
	    vsd_gen_loaded(c->d, &cfg, g, err) < 0 ||
	    vsd_container_etag(c->d, name, out->etag, err) < 0)
		return -1;
	vsd_reply_json(out, 200, g);
	return 0;
}
