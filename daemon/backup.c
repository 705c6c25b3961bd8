/* Backups: GET /v1/containers/{name}/export answers the archive as the
 * body; POST /v1/containers/import takes one as the body and creates the
 * container in an operation ("container-import").
 *
 * Consistency of a running container: its cgroup is frozen while its layer
 * is read, and thawed before the first byte goes to the client. The
 * archive is written to an unnamed file (O_TMPFILE under R/containers)
 * rather than to the socket, so the freeze lasts as long as reading and
 * compressing the layer takes and never waits for a slow client; the
 * response then streams that file (bounded memory), and the file goes
 * away with the last descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroups/vs_cgroups.h"
#include "daemon/handlers.h"
#include "fs-cow/vs_fs.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"
#include "runtime/vs_runtime.h"

#define KIND_IMPORT "container-import"

static bool query_flag(struct vsd_call *c, const char *key)
{
	const char *v = vsd_call_query(c, key);

	return v != NULL && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}

/* The container's upper layer directory, opened. */
static int open_layer(struct vsd *d, const char *name, struct vs_error *err)
{
	cleanup_close int cfd =
	    openat(d->containers_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_free char *cdir = xasprintf("%s/containers/%s", d->root, name);
	cleanup_free char *upper = NULL;
	int fd;

	if (cfd < 0)
		return vs_error_set(err, errno, "open containers/%s", name);
	upper = xasprintf("%supper", vs_fs_disk_present(cdir) ? "disk/" : "");
	fd = openat(cfd, upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return vs_error_set(err, errno, "open containers/%s/%s", name, upper);
	return fd;
}

/* Write the archive of a held container into outfd; a running one is
 * frozen meanwhile (*frozen_ms, else -1). */
static int write_backup(struct vsd *d, const struct vs_container_config *cfg, bool with_template,
			int outfd, int64_t *frozen_ms, struct vs_error *err)
{
	struct vs_fs_backup_info info = {0};
	cleanup_close int layerfd = -1, tplfd = -1;
	struct vs_cg *cg = NULL;
	struct vs_rt_status st;
	struct vs_error e2 = {0};
	int64_t t0 = 0;
	int r;

	snprintf(info.name, sizeof(info.name), "%s", cfg->name);
	snprintf(info.template_name, sizeof(info.template_name), "%s", cfg->template_name);
	info.with_template = with_template;
	if (vs_fs_template_digest(d->root, cfg->template_name, info.template_digest, err) < 0)
		return -1;
	layerfd = open_layer(d, cfg->name, err);
	if (layerfd < 0)
		return -1;
	if (with_template) {
		cleanup_free char *p = xasprintf("%s/rootfs", cfg->template_name);
		tplfd = openat(d->templates_fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (tplfd < 0)
			return vs_error_set(err, errno, "open template '%s'", cfg->template_name);
	}
	*frozen_ms = -1;
	if (vsd_container_status(d, cfg->name, &st, err) < 0)
		return -1;
	if (st.state == VS_RT_RUNNING) {
		cg = vs_rt_cg_open(&d->inst, cfg, err);
		if (cg == NULL || vs_cg_freeze(cg, err) < 0) {
			vs_cg_free(cg);
			return vs_error_prefix(err, "freeze");
		}
		t0 = vs_now_ms();
	}
	info.config_json = vs_config_to_json(cfg);
	r = vs_fs_backup_write(outfd, &info, layerfd, cfg->privileged ? 0 : cfg->idmap_uid, tplfd,
			       err);
	free(info.config_json);
	if (cg != NULL) {
		*frozen_ms = vs_now_ms() - t0;
		if (vs_cg_thaw(cg, &e2) < 0) {
			vsd_log("container %s: thaw after export failed: %s", cfg->name, e2.msg);
			if (r == 0)
				r = vs_error_kind(err, e2.kind, "thaw: %s", e2.msg);
		}
		vs_cg_free(cg);
	}
	return r;
}

int vsd_h_container_export(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_config struct vs_container_config cfg = {0};
	struct vsd *d = c->d;
	const char *name = c->m->params[0];
	bool with_template = query_flag(c, "with_template");
	cleanup_close int fd = -1;
	int64_t frozen_ms = -1;
	struct stat st;
	int r;

	if (vsd_names_lock(d->names, name, NULL, err) < 0)
		return -1;
	r = vsd_store_load(d->containers_fd, name, &cfg, err);
	/* A locked VPS's disk stays with the node until the panel unlocks it:
	 * an archive of it could be imported again, unlocked. */
	if (r == 0 && cfg.locked_at != 0 && c->who->scope < VSD_SCOPE_ADMIN)
		r = vs_error_kind(err, VS_EK_CONFLICT,
				  "container '%s' is locked: %s (exporting it needs admin scope)",
				  name, cfg.locked_reason);
	if (r == 0) {
		fd = openat(d->containers_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd < 0)
			r = vs_error_set(err, errno, "create a temporary file in %s/containers",
					 d->root);
	}
	if (r == 0)
		r = write_backup(d, &cfg, with_template, fd, &frozen_ms, err);
	vsd_names_unlock(d->names, name);
	if (r < 0)
		return vs_error_prefix(err, "export container '%s'", name);
	if (fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return vs_error_set(err, errno, "export container '%s'", name);
	vsd_log("container %s: exported (%lld bytes%s), frozen %lld ms", name,
		(long long)st.st_size, with_template ? ", with template" : "",
		(long long)frozen_ms);
	out->status = 200;
	out->content_type = "application/zstd";
	out->file_fd_set = true;
	out->file_size = (uint64_t)st.st_size;
	out->file_fd = steal_fd(&fd);
	return 0;
}

struct import_job {
	struct vsd *d;
	char name[VS_NAME_MAX + 1]; /* "" : the archive's */
	bool mismatch_ok;
	char *upload_name; /* in d->templates_fd */
	int fd;
	struct vsd_identity who; /* who asked: the archive's config is theirs */
};

static void import_job_free(void *p)
{
	struct import_job *j = p;

	vs_closep(&j->fd);
	if (j->upload_name != NULL && unlinkat(j->d->templates_fd, j->upload_name, 0) < 0 &&
	    errno != ENOENT)
		vsd_log("remove upload %s: %s", j->upload_name, strerror(errno));
	free(j->upload_name);
	free(j);
}

static int fill_layer(void *ud, const char *cdir, const struct vs_container_config *cfg,
		      struct vs_error *err)
{
	struct import_job *j = ud;
	cleanup_close int cfd = open(cdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_close int ufd = -1;
	cleanup_free char *upper = NULL;

	if (cfd < 0)
		return vs_error_set(err, errno, "open %s", cdir);
	upper = xasprintf("%supper", vs_fs_disk_present(cdir) ? "disk/" : "");
	ufd = openat(cfd, upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ufd < 0)
		return vs_error_set(err, errno, "open %s/%s", cdir, upper);
	if (vs_fs_backup_extract(j->fd, "layer", ufd, cfg->privileged ? 0 : cfg->idmap_uid,
				 &j->d->import_caps, err) < 0) {
		if (err->errnum == ENOSPC || err->errnum == EDQUOT)
			return vs_error_kind(err, VS_EK_INVALID,
					     "the backup's data does not fit the disk quota "
					     "(limits.disk) of the new container: %s",
					     err->msg);
		return -1;
	}
	return 0;
}

/* Pick the template the container is created on (tname, changed when the
 * archive's own template goes in under another name). Called with
 * d->mutate held. */
static int resolve_template(struct import_job *j, const struct vs_fs_backup_info *info,
			    char tname[VS_NAME_MAX + 1], struct vs_error *err)
{
	char have[VS_FS_DIGEST_LEN];
	struct vs_error e2 = {0};
	int r = vs_fs_template_digest(j->d->root, info->template_name, have, &e2);

	snprintf(tname, VS_NAME_MAX + 1, "%s", info->template_name);
	if (r == 0 && strcmp(have, info->template_digest) == 0)
		return 0;
	if (r < 0 && e2.kind != VS_EK_NOT_FOUND) {
		*err = e2;
		return -1;
	}
	if (info->with_template) {
		/* Same name when free, else NAME-<12 hex of the digest>. */
		if (r == 0)
			snprintf(tname, VS_NAME_MAX + 1, "%.*s-%.12s", VS_NAME_MAX - 13,
				 info->template_name, info->template_digest + 7);
		if (vs_fs_template_digest(j->d->root, tname, have, &e2) == 0)
			return strcmp(have, info->template_digest) == 0
				   ? 0
				   : vs_error_kind(err, VS_EK_CONFLICT,
						   "template '%s' exists with another digest",
						   tname);
		return vs_fs_template_from_backup(j->d->root, tname, j->fd, info->template_digest,
						  &j->d->import_caps, err);
	}
	if (r < 0)
		return vs_error_kind(err, VS_EK_NOT_FOUND,
				     "template '%s' (%s) does not exist on this node: import it "
				     "first, or export with --with-template",
				     info->template_name, info->template_digest);
	if (j->mismatch_ok) {
		vsd_log("import: template %s differs from the backup's (%s), used as told", tname,
			info->template_digest);
		return 0;
	}
	return vs_error_kind(err, VS_EK_CONFLICT,
			     "template '%s' here has digest %s, the backup was made on %s: "
			     "pass --template-mismatch-ok to use it anyway, or export with "
			     "--with-template",
			     info->template_name, have, info->template_digest);
}

static int import_locked(struct import_job *j, struct vs_fs_backup_info *info,
			 struct vs_container_config *cfg, struct vs_error *err)
{
	struct vsd_fill fill = {fill_layer, j};
	char tname[VS_NAME_MAX + 1];

	if (vsd_store_exists(j->d->containers_fd, cfg->name))
		return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' already exists",
				     cfg->name);
	if (resolve_template(j, info, tname, err) < 0)
		return -1;
	snprintf(cfg->template_name, sizeof(cfg->template_name), "%s", tname);
	return vsd_container_create_locked(j->d, cfg, &fill, err);
}

static int import_work(struct vsd_op_run *run, void *ctx, char **result, struct vs_error *err)
{
	struct import_job *j = ctx;
	struct vs_fs_backup_info info = {0};
	cleanup_config struct vs_container_config cfg = {0};
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	int r;

	j->fd = openat(j->d->templates_fd, j->upload_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (j->fd < 0)
		return vs_error_set(err, errno, "open the upload");
	if (vs_fs_backup_read_info(j->fd, &info, err) < 0)
		return vs_error_prefix(err, "import");
	r = vs_config_parse(info.config_json, &cfg, err);
	if (r == 0 && j->name[0] != '\0')
		snprintf(cfg.name, sizeof(cfg.name), "%s", j->name);
	/* An archive's config is a create request like any other. */
	if (r == 0 && (vsd_require_admin_for(&j->who, &j->d->net, NULL, &cfg, err) < 0 ||
		       vsd_owner_for_create(&j->who, &cfg, err) < 0)) {
		vs_fs_backup_info_free(&info);
		return vs_error_prefix(err, "import");
	}
	if (r < 0)
		vs_error_prefix(err, "import: the backup's config.json");
	if (r == 0) {
		vsd_op_progress_cb(run, "import: unpacking the layer");
		pthread_mutex_lock(&j->d->mutate);
		r = import_locked(j, &info, &cfg, err);
		pthread_mutex_unlock(&j->d->mutate);
		if (r < 0)
			vs_error_prefix(err, "import container '%s'", cfg.name);
	}
	vs_fs_backup_info_free(&info);
	if (r < 0)
		return -1;
	vsd_log("container %s: imported (template %s)", cfg.name, cfg.template_name);
	vsd_emit(j->d, VSD_EV_CONTAINER_CREATED, cfg.name, NULL);
	if (vsd_gen_loaded(j->d, &cfg, g, err) == 0)
		*result = vs_jgen_steal(g);
	return 0;
}

int vsd_h_container_import(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	const char *name = vsd_call_query(c, "name");
	struct import_job *j;
	uint64_t id;

	if (c->body_len == 0)
		return vs_error_kind(err, VS_EK_INVALID, "archive: the request body is empty");
	if (name != NULL && vs_validate_name(name, "name", err) < 0)
		return -1;
	j = xcalloc(1, sizeof(*j));
	j->d = c->d;
	j->fd = -1;
	snprintf(j->name, sizeof(j->name), "%s", name ? name : "");
	j->mismatch_ok = query_flag(c, "template_mismatch_ok");
	j->who = *c->who;
	j->upload_name = steal_ptr(&c->upload_name);
	id = vsd_ops_add(c->d->ops, KIND_IMPORT, name ? name : "", (int64_t)time(NULL));
	vsd_ops_set_owner(c->d->ops, id, c->who->owner);
	vsd_log("operation %llu: %s %s", (unsigned long long)id, KIND_IMPORT, name ? name : "");
	if (vsd_ops_spawn(c->d->ops, id, import_work, j, import_job_free, err) < 0)
		return -1;
	return vsd_ops_accepted(c->d->ops, id, out, err);
}
