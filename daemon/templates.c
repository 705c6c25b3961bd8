/* Template handlers. Building and importing are operations (ops.c) whose
 * workers call fs-cow; listing, reading and removing answer directly. All
 * changes run under d->mutate, so "exists or is being made" checks, the
 * start of an operation and "in use by a container" checks cannot race with
 * each other or with container creation. */
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/handlers.h"
#include "fs-cow/vs_fs.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

#define KIND_BUILD  "template-build"
#define KIND_IMPORT "template-import"

/* vs_fs_template_get with the API's message for a missing template. */
static int get_template(struct vsd *d, const char *name, struct vs_template_info *t,
			struct vs_error *err)
{
	if (vs_fs_template_get(d->root, name, t, err) == 0)
		return 0;
	if (err->kind == VS_EK_NOT_FOUND)
		return vs_error_kind(err, VS_EK_NOT_FOUND, "template '%s' does not exist", name);
	return vs_error_prefix(err, "template '%s'", name);
}

int vsd_h_template_list(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	struct vs_template_info *list = NULL;
	size_t n = 0;

	if (vs_fs_template_list(c->d->root, &list, &n, err) < 0)
		return vs_error_prefix(err, "list templates");
	vs_jgen_obj_open(g);
	vs_jgen_key(g, "templates");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < n; i++) {
		vs_fs_template_gen(g, &list[i]);
		vs_template_info_free(&list[i]);
	}
	free(list);
	vs_jgen_arr_close(g);
	vs_jgen_obj_close(g);
	vsd_reply_json(out, 200, g);
	return 0;
}

int vsd_h_template_get(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_tinfo struct vs_template_info t = {0};

	if (get_template(c->d, c->m->params[0], &t, err) < 0)
		return -1;
	vs_fs_template_gen(g, &t);
	vsd_reply_json(out, 200, g);
	return 0;
}

int vsd_template_check_from(const char *from, struct vs_error *err)
{
	const char *suite;

	if (strcmp(from, "busybox") == 0 || strcmp(from, "debian") == 0)
		return 0;
	if (strncmp(from, "debian:", 7) == 0) {
		suite = from + 7;
		if (suite[0] == '\0' || strlen(suite) > 32)
			goto bad;
		for (const char *p = suite; *p; p++)
			if (*p < 'a' || *p > 'z')
				goto bad;
		return 0;
	}
bad:
	return vs_error_kind(err, VS_EK_INVALID,
			     "from: expected \"busybox\", \"debian\" or \"debian:SUITE\" "
			     "(SUITE of a-z)");
}

/* Called with d->mutate held: 409 when the template exists or an
 * operation is making it. */
static int check_free_locked(struct vsd *d, const char *name, struct vs_error *err)
{
	cleanup_tinfo struct vs_template_info t = {0};

	if (vs_fs_template_get(d->root, name, &t, err) == 0)
		return vs_error_kind(err, VS_EK_CONFLICT, "template '%s' already exists", name);
	if (err->kind != VS_EK_NOT_FOUND)
		return vs_error_prefix(err, "template '%s'", name);
	if (vsd_ops_busy(d->ops, KIND_BUILD, name) || vsd_ops_busy(d->ops, KIND_IMPORT, name))
		return vs_error_kind(err, VS_EK_CONFLICT, "template '%s' is being made already",
				     name);
	return 0;
}

int vsd_p_template_archive(const struct vsd_call *c, struct vs_error *err)
{
	struct vsd *d = c->d;
	int r;

	pthread_mutex_lock(&d->mutate);
	r = check_free_locked(d, c->m->params[0], err);
	pthread_mutex_unlock(&d->mutate);
	return r;
}

struct tpl_job {
	struct vsd *d;
	char name[VS_NAME_MAX + 1];
	char *from;	    /* build */
	char *upload_name;  /* import: file in d->templates_fd */
	atomic_bool cancel; /* build: DELETE /v1/operations/{id} */
};

static void job_free(void *p)
{
	struct tpl_job *j = p;

	if (j->upload_name != NULL && unlinkat(j->d->templates_fd, j->upload_name, 0) < 0 &&
	    errno != ENOENT)
		vsd_log("remove upload %s: %s", j->upload_name, strerror(errno));
	free(j->from);
	free(j->upload_name);
	free(j);
}

/* The operation's result: the new template object. */
static char *result_of(struct vsd *d, const char *name)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_tinfo struct vs_template_info t = {0};
	struct vs_error e = {0};

	if (vs_fs_template_get(d->root, name, &t, &e) < 0)
		return NULL;
	vs_fs_template_gen(g, &t);
	return vs_jgen_steal(g);
}

/* Runs under the operations registry's lock: only raise the flag. */
static void cancel_build(void *ud)
{
	struct tpl_job *j = ud;

	atomic_store(&j->cancel, true);
}

/* Test hook: $VSD_TEST_BUILD_DELAY_MS holds a build back that long (or
 * until it is cancelled), so that tests can long-poll and cancel a
 * running build without a network mirror. */
static void test_delay(struct tpl_job *j)
{
	const char *s = getenv("VSD_TEST_BUILD_DELAY_MS");
	int64_t ms = s != NULL ? strtoll(s, NULL, 10) : 0;

	for (; ms > 0 && !atomic_load(&j->cancel); ms -= 50)
		nanosleep(&(struct timespec){.tv_nsec = 50 * 1000000L}, NULL);
}

static int build_work(struct vsd_op_run *run, void *ctx, char **result, struct vs_error *err)
{
	struct tpl_job *j = ctx;

	test_delay(j);
	if (vs_fs_template_build_cancellable(j->d->root, j->name, j->from, vsd_op_progress_cb, run,
					     &j->cancel, err) < 0)
		return vs_error_prefix(err, "build template '%s'", j->name);
	vsd_log("template %s: built from %s", j->name, j->from);
	*result = result_of(j->d, j->name);
	return 0;
}

static int import_work(struct vsd_op_run *run, void *ctx, char **result, struct vs_error *err)
{
	struct tpl_job *j = ctx;
	cleanup_free char *path = xasprintf("%s/templates/%s", j->d->root, j->upload_name);

	/* fs-cow names the template in its errors already. */
	if (vs_fs_template_import(j->d->root, j->name, path, vsd_op_progress_cb, run, err) < 0)
		return -1;
	vsd_log("template %s: imported", j->name);
	*result = result_of(j->d, j->name);
	return 0;
}

/* Register and start the operation under d->mutate; reply 202. */
static int start_op(struct vsd_call *c, struct tpl_job *job, const char *kind, vsd_op_fn fn,
		    struct vsd_reply *out, struct vs_error *err)
{
	struct vsd *d = c->d;
	uint64_t id;

	pthread_mutex_lock(&d->mutate);
	if (check_free_locked(d, job->name, err) < 0) {
		pthread_mutex_unlock(&d->mutate);
		job_free(job);
		return -1;
	}
	id = vsd_ops_add(d->ops, kind, job->name, (int64_t)time(NULL));
	/* The hook is dropped by vsd_ops_finish, before the job is freed. */
	if (fn == build_work)
		vsd_ops_set_cancel(d->ops, id, cancel_build, job, NULL);
	else
		vsd_ops_set_cancel(d->ops, id, NULL, NULL,
				   "an archive import cannot be cancelled (it is unpacked and "
				   "checked in one step)");
	pthread_mutex_unlock(&d->mutate);
	vsd_log("operation %llu: %s %s", (unsigned long long)id, kind, job->name);
	if (vsd_ops_spawn(d->ops, id, fn, job, job_free, err) < 0)
		return -1;
	return vsd_ops_accepted(d->ops, id, out, err);
}

int vsd_h_template_create(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	static const char *const keys[] = {"name", "from", NULL};
	cleanup_json struct vs_json *body = NULL;
	const char *name, *from;
	struct tpl_job *job;

	if (vsd_parse_body(c->body, c->body_len, false, &body, err) < 0 ||
	    vsd_check_fields(body, keys, err) < 0)
		return -1;
	name = vs_json_string(vs_json_get(body, "name"));
	from = vs_json_string(vs_json_get(body, "from"));
	if (name == NULL)
		return vs_error_kind(err, VS_EK_INVALID, "name: required, a string");
	if (vs_validate_name(name, "name", err) < 0)
		return -1;
	if (from == NULL)
		return vs_error_kind(err, VS_EK_INVALID, "from: required, a string");
	if (vsd_template_check_from(from, err) < 0)
		return -1;
	job = xcalloc(1, sizeof(*job));
	job->d = c->d;
	snprintf(job->name, sizeof(job->name), "%s", name);
	job->from = xstrdup(from);
	return start_op(c, job, KIND_BUILD, build_work, out, err);
}

int vsd_h_template_archive(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	struct tpl_job *job;

	if (c->body_len == 0)
		return vs_error_kind(err, VS_EK_INVALID, "archive: the request body is empty");
	job = xcalloc(1, sizeof(*job));
	job->d = c->d;
	snprintf(job->name, sizeof(job->name), "%s", c->m->params[0]);
	job->upload_name = steal_ptr(&c->upload_name);
	return start_op(c, job, KIND_IMPORT, import_work, out, err);
}

int vsd_h_template_delete(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_tinfo struct vs_template_info t = {0};
	cleanup_free char *user = NULL;
	const char *name = c->m->params[0];
	int r;

	pthread_mutex_lock(&c->d->mutate);
	r = get_template(c->d, name, &t, err);
	if (r == 0) {
		r = vsd_template_user(c->d, name, &user, err);
		if (r > 0)
			r = vs_error_kind(err, VS_EK_CONFLICT,
					  "template '%s' is used by container '%s'", name, user);
	}
	if (r == 0 && vs_fs_template_remove(c->d->root, name, err) < 0) {
		if (err->kind == VS_EK_NOT_FOUND)
			vs_error_kind(err, VS_EK_NOT_FOUND, "template '%s' does not exist", name);
		else
			vs_error_prefix(err, "remove template '%s'", name);
		r = -1;
	}
	pthread_mutex_unlock(&c->d->mutate);
	if (r < 0)
		return -1;
	vsd_log("template %s: removed", name);
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "deleted", name);
	vs_jgen_obj_close(g);
	vsd_reply_json(out, 200, g);
	return 0;
}
