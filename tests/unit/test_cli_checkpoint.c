/* cli/checkpoint.c: arguments of suspend, resume, checkpoint and restore,
 * the request bodies they send and the summary line they print. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/vs_util.h"

static const struct vc_cmd dummy_cmd = {NULL, "checkpoint", NULL, "NAME", "test", NULL};

/* Parse a NULL-terminated argument list (argv[0] the command word). */
static int parse(enum vc_cr_kind kind, struct vc_ctx *ctx, struct vc_cr_args *a,
		 struct vs_error *err, const char *first, ...)
{
	char *argv[16];
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)first;
	va_start(ap, first);
	for (const char *s; (s = va_arg(ap, const char *)) != NULL && argc < 15;)
		argv[argc++] = (char *)s;
	va_end(ap);
	argv[argc] = NULL;
	return vc_cr_parse(ctx, kind, argc, argv, a, err);
}

static void test_abs_path(void **state)
{
	cleanup_free char *a = vc_abs_path("/home/op", "img");
	cleanup_free char *b = vc_abs_path("/home/op/", "img/x");
	cleanup_free char *c = vc_abs_path("/home/op", "/srv/img");
	cleanup_free char *d = vc_abs_path("/", "img");
	cleanup_free char *e = vc_abs_path("/home/op", "../img");

	assert_string_equal(a, "/home/op/img");
	assert_string_equal(b, "/home/op/img/x");
	assert_string_equal(c, "/srv/img");
	assert_string_equal(d, "/img");
	/* Not normalised here: the daemon refuses "..", naming the field. */
	assert_string_equal(e, "/home/op/../img");
}

static void test_parse_suspend_resume(void **state)
{
	struct vc_ctx ctx = {.cmd = &dummy_cmd};
	struct vs_error err = {0};
	struct vc_cr_args a;

	assert_int_equal(parse(VC_CR_SUSPEND, &ctx, &a, &err, "suspend", "web1", NULL), 0);
	assert_string_equal(a.name, "web1");
	assert_null(a.dir);
	assert_false(a.leave_running);
	assert_false(ctx.json);
	vc_cr_args_free(&a);

	assert_int_equal(parse(VC_CR_RESUME, &ctx, &a, &err, "resume", "--json", "web1", NULL), 0);
	assert_true(ctx.json);
	assert_int_equal(a.kind, VC_CR_RESUME);
	vc_cr_args_free(&a);

	assert_int_equal(parse(VC_CR_SUSPEND, &ctx, &a, &err, "suspend", NULL), VC_ERR_USAGE);
	assert_non_null(strstr(err.msg, "missing container name"));
	assert_int_equal(parse(VC_CR_SUSPEND, &ctx, &a, &err, "suspend", "a", "b", NULL),
			 VC_ERR_USAGE);
	assert_non_null(strstr(err.msg, "too many"));
	assert_int_equal(parse(VC_CR_SUSPEND, &ctx, &a, &err, "suspend", "--dir", "/x", "a", NULL),
			 VC_ERR_USAGE);
	assert_non_null(strstr(err.msg, "--dir"));
	assert_int_equal(
	    parse(VC_CR_RESUME, &ctx, &a, &err, "resume", "--leave-running", "a", NULL),
	    VC_ERR_USAGE);
	assert_int_equal(parse(VC_CR_RESUME, &ctx, &a, &err, "resume", "--help", NULL),
			 VC_HELP_SHOWN);
}

static void test_parse_checkpoint(void **state)
{
	struct vc_ctx ctx = {.cmd = &dummy_cmd};
	struct vs_error err = {0};
	struct vc_cr_args a;
	char cwd[PATH_MAX], up[PATH_MAX];
	cleanup_free char *want = NULL;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	want = vc_abs_path(cwd, "img/web1");

	assert_int_equal(parse(VC_CR_CHECKPOINT, &ctx, &a, &err, "checkpoint", "web1", "--dir",
			       "/srv/img", "--leave-running", NULL),
			 0);
	assert_string_equal(a.name, "web1");
	assert_string_equal(a.dir, "/srv/img");
	assert_true(a.leave_running);
	vc_cr_args_free(&a);
	assert_null(a.dir);

	/* Relative: made absolute from the current directory. */
	assert_int_equal(
	    parse(VC_CR_CHECKPOINT, &ctx, &a, &err, "checkpoint", "--dir=img/web1", "web1", NULL),
	    0);
	assert_string_equal(a.dir, want);
	assert_false(a.leave_running);
	vc_cr_args_free(&a);

	/* ".." is resolved through the existing parent; a missing parent
	 * leaves it for the daemon to refuse. */
	assert_non_null(realpath("..", up));
	free(want);
	want = xasprintf("%s/img", strcmp(up, "/") == 0 ? "" : up);
	assert_int_equal(
	    parse(VC_CR_CHECKPOINT, &ctx, &a, &err, "checkpoint", "--dir", "../img", "web1", NULL),
	    0);
	assert_string_equal(a.dir, want);
	vc_cr_args_free(&a);
	assert_int_equal(parse(VC_CR_CHECKPOINT, &ctx, &a, &err, "checkpoint", "--dir",
			       "/nonexistent-vsd-dir/../x/img", "web1", NULL),
			 0);
	assert_string_equal(a.dir, "/nonexistent-vsd-dir/../x/img");
	vc_cr_args_free(&a);

	/* The last --dir wins. */
	assert_int_equal(parse(VC_CR_CHECKPOINT, &ctx, &a, &err, "checkpoint", "--dir", "/a",
			       "--dir", "/b", "web1", NULL),
			 0);
	assert_string_equal(a.dir, "/b");
	vc_cr_args_free(&a);

	assert_int_equal(parse(VC_CR_CHECKPOINT, &ctx, &a, &err, "checkpoint", "web1", NULL),
			 VC_ERR_USAGE);
	assert_string_equal(err.msg, "--dir is required");
	assert_int_equal(
	    parse(VC_CR_CHECKPOINT, &ctx, &a, &err, "checkpoint", "web1", "--dir", "", NULL),
	    VC_ERR_USAGE);
	assert_non_null(strstr(err.msg, "empty"));
	assert_int_equal(
	    parse(VC_CR_CHECKPOINT, &ctx, &a, &err, "checkpoint", "web1", "--dir", NULL),
	    VC_ERR_USAGE);
	assert_non_null(strstr(err.msg, "needs a value"));
	assert_int_equal(parse(VC_CR_CHECKPOINT, &ctx, &a, &err, "checkpoint", "--dir", "/x", NULL),
			 VC_ERR_USAGE);
	assert_non_null(strstr(err.msg, "missing container name"));
}

static void test_parse_restore(void **state)
{
	struct vc_ctx ctx = {.cmd = &dummy_cmd};
	struct vs_error err = {0};
	struct vc_cr_args a;

	assert_int_equal(
	    parse(VC_CR_RESTORE, &ctx, &a, &err, "restore", "web1", "--dir", "/srv/img", NULL), 0);
	assert_string_equal(a.dir, "/srv/img");
	vc_cr_args_free(&a);
	assert_int_equal(parse(VC_CR_RESTORE, &ctx, &a, &err, "restore", "web1", NULL),
			 VC_ERR_USAGE);
	assert_string_equal(err.msg, "--dir is required");
	assert_int_equal(parse(VC_CR_RESTORE, &ctx, &a, &err, "restore", "web1", "--dir", "/x",
			       "--leave-running", NULL),
			 VC_ERR_USAGE);
	assert_non_null(strstr(err.msg, "--leave-running"));
}

static void test_body(void **state)
{
	struct vc_cr_args a = {.kind = VC_CR_SUSPEND, .name = "web1"};
	cleanup_free char *empty = vc_cr_body(&a);
	cleanup_free char *ck = NULL;
	cleanup_free char *ck2 = NULL;
	cleanup_json struct vs_json *v = NULL;
	bool b;

	assert_string_equal(empty, "{}");
	a.kind = VC_CR_CHECKPOINT;
	a.dir = (char *)"/srv/img \"q\"";
	a.leave_running = true;
	ck = vc_cr_body(&a);
	assert_int_equal(vs_json_parse(ck, &v, NULL), 0);
	assert_string_equal(vs_json_string(vs_json_get(v, "dir")), "/srv/img \"q\"");
	assert_true(vs_json_bool(vs_json_get(v, "leave_running"), &b) && b);
	a.leave_running = false;
	ck2 = vc_cr_body(&a);
	assert_null(strstr(ck2, "leave_running"));
}

static void test_summary(void **state)
{
	struct vc_cr_args a = {.kind = VC_CR_SUSPEND, .name = "web1"};
	cleanup_json struct vs_json *r = NULL;
	cleanup_json struct vs_json *r2 = NULL;
	char line[512];

	assert_int_equal(vs_json_parse("{\"frozen_ms\": 45, \"criu_ms\": 120, \"total_ms\": 180, "
				       "\"image_bytes\": 12897484, \"container\": {}}",
				       &r, NULL),
			 0);
	vc_cr_summary(&a, r, line, sizeof(line));
	assert_string_equal(line,
			    "suspended web1: frozen 45 ms, criu 120 ms, total 180 ms, image 12M");

	a.kind = VC_CR_CHECKPOINT;
	a.dir = (char *)"/given";
	a.leave_running = true;
	assert_int_equal(vs_json_parse("{\"frozen_ms\": 8, \"criu_ms\": 7, \"total_ms\": 9, "
				       "\"image_bytes\": 1536, \"dir\": \"/srv/img\"}",
				       &r2, NULL),
			 0);
	vc_cr_summary(&a, r2, line, sizeof(line));
	/* The daemon's (resolved) directory wins over the one given. */
	assert_string_equal(line, "checkpointed web1 to /srv/img: frozen 8 ms, criu 7 ms, total "
				  "9 ms, image 1.5K (left running)");

	a.kind = VC_CR_RESTORE;
	a.leave_running = false;
	vc_cr_summary(&a, NULL, line, sizeof(line));
	assert_string_equal(line, "restored web1 from /given: frozen ?, criu ?, total ?, image ?");
	a.kind = VC_CR_RESUME;
	a.dir = NULL;
	vc_cr_summary(&a, r, line, sizeof(line));
	assert_memory_equal(line, "resumed web1: frozen 45 ms", 26);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_abs_path),
	    cmocka_unit_test(test_parse_suspend_resume),
	    cmocka_unit_test(test_parse_checkpoint),
	    cmocka_unit_test(test_parse_restore),
	    cmocka_unit_test(test_body),
	    cmocka_unit_test(test_summary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
