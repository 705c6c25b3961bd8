/* daemon: the operations registry (daemon/ops.c): ids, progress with
 * ?since=K, success and failure objects, busy checks, expiry after ten
 * minutes, and a worker thread end to end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/daemon.h"
#include "lib/vs_util.h"

/* The operation object of id at time now, parsed. */
static struct vs_json *get_op(struct vsd_ops *ops, uint64_t id, size_t since, int64_t now)
{
	cleanup_free char *text = NULL;
	struct vs_json *v = NULL;

	assert_int_equal(vsd_ops_json(ops, id, since, now, &text, NULL), 0);
	assert_int_equal(vs_json_parse(text, &v, NULL), 0);
	return v;
}

static void test_ops_progress_since(void **state)
{
	struct vsd_ops *ops = vsd_ops_new();
	cleanup_json struct vs_json *all = NULL;
	cleanup_json struct vs_json *tail = NULL;
	cleanup_json struct vs_json *past = NULL;
	const struct vs_json *p;
	uint64_t id = vsd_ops_add(ops, "template-build", "deb12", 1000);
	int64_t off;

	assert_int_equal(id, 1);
	assert_int_equal(vsd_ops_add(ops, "template-build", "other", 1000), 2);
	vsd_ops_progress(ops, id, "one");
	vsd_ops_progress(ops, id, "two");
	vsd_ops_progress(ops, id, "three\x01");
	vsd_ops_progress(ops, 99, "nobody"); /* unknown id: ignored */

	all = get_op(ops, id, 0, 1001);
	assert_string_equal(vs_json_string(vs_json_get(all, "id")), "1");
	assert_string_equal(vs_json_string(vs_json_get(all, "kind")), "template-build");
	assert_string_equal(vs_json_string(vs_json_get(all, "target")), "deb12");
	assert_string_equal(vs_json_string(vs_json_get(all, "status")), "running");
	p = vs_json_get(all, "progress");
	assert_int_equal(vs_json_array_len(p), 3);
	assert_string_equal(vs_json_string(vs_json_array_at(p, 0)), "one");
	assert_string_equal(vs_json_string(vs_json_array_at(p, 2)), "three?");
	assert_int_equal(vs_json_type(vs_json_get(all, "error")), VS_JSON_NULL);
	assert_int_equal(vs_json_type(vs_json_get(all, "result")), VS_JSON_NULL);

	tail = get_op(ops, id, 2, 1001);
	p = vs_json_get(tail, "progress");
	assert_int_equal(vs_json_array_len(p), 1);
	assert_string_equal(vs_json_string(vs_json_array_at(p, 0)), "three?");
	assert_true(vs_json_int64(vs_json_get(tail, "progress_offset"), &off));
	assert_int_equal(off, 2);

	past = get_op(ops, id, 10, 1001);
	assert_int_equal(vs_json_array_len(vs_json_get(past, "progress")), 0);
	vsd_ops_free(ops);
}

static void test_ops_finish(void **state)
{
	struct vsd_ops *ops = vsd_ops_new();
	cleanup_json struct vs_json *ok = NULL;
	cleanup_json struct vs_json *bad = NULL;
	struct vs_error err = {0};
	enum vsd_op_status st;
	uint64_t a = vsd_ops_add(ops, "template-build", "a", 0);
	uint64_t b = vsd_ops_add(ops, "template-import", "b", 0);
	const struct vs_json *e;

	assert_true(vsd_ops_busy(ops, "template-build", "a"));
	assert_true(vsd_ops_busy(ops, NULL, "b"));
	assert_false(vsd_ops_busy(ops, "template-build", "b"));
	assert_false(vsd_ops_busy(ops, NULL, "c"));

	vsd_ops_finish(ops, a, NULL, xstrdup("{\"name\":\"a\"}"), 5);
	vs_error_kind(&err, VS_EK_INVALID, "archive: bad entry");
	vsd_ops_finish(ops, b, &err, NULL, 5);
	assert_false(vsd_ops_busy(ops, NULL, "a"));
	assert_false(vsd_ops_busy(ops, NULL, "b"));
	assert_true(vsd_ops_status(ops, a, &st));
	assert_int_equal(st, VSD_OP_SUCCESS);
	assert_true(vsd_ops_status(ops, b, &st));
	assert_int_equal(st, VSD_OP_FAILURE);

	ok = get_op(ops, a, 0, 6);
	assert_string_equal(vs_json_string(vs_json_get(ok, "status")), "success");
	assert_string_equal(vs_json_string(vs_json_get(vs_json_get(ok, "result"), "name")), "a");
	bad = get_op(ops, b, 0, 6);
	assert_string_equal(vs_json_string(vs_json_get(bad, "status")), "failure");
	e = vs_json_get(bad, "error");
	assert_string_equal(vs_json_string(vs_json_get(e, "code")), "invalid");
	assert_string_equal(vs_json_string(vs_json_get(e, "message")), "archive: bad entry");
	vsd_ops_free(ops);
}

static void test_ops_expiry(void **state)
{
	struct vsd_ops *ops = vsd_ops_new();
	struct vs_error err = {0};
	char *text = NULL;
	uint64_t done = vsd_ops_add(ops, "template-build", "a", 100);
	uint64_t running = vsd_ops_add(ops, "template-build", "b", 100);

	vsd_ops_finish(ops, done, NULL, NULL, 200);
	/* Kept for ten minutes after finishing... */
	assert_int_equal(vsd_ops_json(ops, done, 0, 200 + VSD_OP_KEEP_SECONDS, &text, &err), 0);
	free(text);
	text = NULL;
	/* ...then gone; running ones never expire. */
	assert_int_equal(vsd_ops_json(ops, done, 0, 201 + VSD_OP_KEEP_SECONDS, &text, &err), -1);
	assert_int_equal(err.kind, VS_EK_NOT_FOUND);
	assert_string_equal(err.msg, "operation '1' does not exist");
	assert_null(text);
	assert_int_equal(vsd_ops_json(ops, running, 0, 100000, &text, &err), 0);
	free(text);
	/* Ids are never reused. */
	assert_int_equal(vsd_ops_add(ops, "x", "y", 100000), 3);
	vsd_ops_free(ops);
}

static int work_ok(struct vsd_op_run *run, void *ctx, char **result, struct vs_error *err)
{
	vsd_op_progress_cb(run, "step 1");
	vsd_op_progress_cb(run, "step 2");
	*result = xstrdup("[1,2]");
	return 0;
}

static int work_fail(struct vsd_op_run *run, void *ctx, char **result, struct vs_error *err)
{
	return vs_error_kind(err, VS_EK_CONFLICT, "no: %s", (const char *)ctx);
}

static int freed;
static void ctx_free(void *ctx)
{
	freed++;
	free(ctx);
}

/* Wait (at most 5 s) until the operation is no longer running. */
static enum vsd_op_status wait_done(struct vsd_ops *ops, uint64_t id)
{
	enum vsd_op_status st = VSD_OP_RUNNING;

	for (int i = 0; i < 500 && st == VSD_OP_RUNNING; i++) {
		assert_true(vsd_ops_status(ops, id, &st));
		if (st == VSD_OP_RUNNING)
			usleep(10000);
	}
	return st;
}

static void test_ops_spawn(void **state)
{
	struct vsd_ops *ops = vsd_ops_new();
	cleanup_json struct vs_json *v = NULL;
	int64_t now = (int64_t)time(NULL);
	uint64_t a = vsd_ops_add(ops, "k", "a", now);
	uint64_t b = vsd_ops_add(ops, "k", "b", now);

	freed = 0;
	assert_int_equal(vsd_ops_spawn(ops, a, work_ok, xstrdup("a"), ctx_free, NULL), 0);
	assert_int_equal(vsd_ops_spawn(ops, b, work_fail, xstrdup("why"), ctx_free, NULL), 0);
	assert_int_equal(wait_done(ops, a), VSD_OP_SUCCESS);
	assert_int_equal(wait_done(ops, b), VSD_OP_FAILURE);
	v = get_op(ops, a, 1, now);
	assert_int_equal(vs_json_array_len(vs_json_get(v, "progress")), 1);
	assert_int_equal(vs_json_array_len(vs_json_get(v, "result")), 2);
	/* ctx_free runs right after the status is set: give it a moment. */
	for (int i = 0; i < 500 && freed < 2; i++)
		usleep(10000);
	assert_int_equal(freed, 2);
	vsd_ops_free(ops);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ops_progress_since),
	    cmocka_unit_test(test_ops_finish),
	    cmocka_unit_test(test_ops_expiry),
	    cmocka_unit_test(test_ops_spawn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
