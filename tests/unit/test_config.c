/* lib/vs_config: the create request and config.json parsers against the
 * shared cases in tests/schema-cases (the JSON Schemas are held to the same
 * cases by tests/integration/schemas.bats), plus round trips and the
 * errors' field paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vs_config.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"

/* The case folder: $VSD_SRCDIR/tests/schema-cases, else relative to the
 * current directory (make unit runs from the repository root). */
static char *cases_dir(const char *kind)
{
	const char *src = getenv("VSD_SRCDIR");

	if (src != NULL && src[0] != '\0')
		return xasprintf("%s/tests/schema-cases/%s", src, kind);
	return xasprintf("tests/schema-cases/%s", kind);
}

static int parse_create_text(const char *text, struct vs_container_config *cfg,
			     struct vs_error *err)
{
	cleanup_json struct vs_json *body = NULL;

	if (vs_json_parse(text, &body, err) < 0)
		return -1;
	return vs_config_parse_create(body, cfg, err);
}

static int parse_config_text(const char *text, struct vs_container_config *cfg,
			     struct vs_error *err)
{
	return vs_config_parse(text, cfg, err);
}

/* An update body on top of empty limits (the cross-field rules against a
 * container's current limits are tested in test_merge_limits). */
static int parse_update_text(const char *text, struct vs_container_config *cfg,
			     struct vs_error *err)
{
	cleanup_json struct vs_json *body = NULL;
	struct vs_limits none = {0};
	struct vs_config_update u;

	memset(cfg, 0, sizeof(*cfg));
	if (vs_json_parse(text, &body, err) < 0)
		return -1;
	return vs_config_parse_update(body, &none, &u, err);
}

typedef int (*parse_fn)(const char *text, struct vs_container_config *cfg, struct vs_error *err);

/* Run every *.json of kind/expect through parse; returns how many files
 * were checked. Each mismatch is printed and fails the test at the end. */
static size_t run_folder(const char *kind, const char *expect, parse_fn parse, int *failures)
{
	cleanup_free char *base = cases_dir(kind);
	cleanup_free char *dir = xasprintf("%s/%s", base, expect);
	cleanup_dir DIR *d = opendir(dir);
	bool want_ok = strcmp(expect, "valid") == 0;
	struct dirent *e;
	size_t n = 0;

	if (d == NULL) {
		print_error("cannot open %s (set VSD_SRCDIR or run from the repository root)\n",
			    dir);
		(*failures)++;
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		cleanup_free char *text = NULL;
		struct vs_container_config cfg;
		struct vs_error err = {0};
		size_t tlen;
		int r;

		if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
			continue;
		n++;
		if (vs_read_file_at(dirfd(d), e->d_name, 1 << 20, &text, &tlen, &err) < 0) {
			print_error("%s/%s: %s\n", dir, e->d_name, err.msg);
			(*failures)++;
			continue;
		}
		r = parse(text, &cfg, &err);
		if (r == 0)
			vs_config_free(&cfg);
		if (want_ok && r != 0) {
			print_error("%s/%s: refused: %s\n", dir, e->d_name, err.msg);
			(*failures)++;
		} else if (!want_ok && r == 0) {
			print_error("%s/%s: accepted\n", dir, e->d_name);
			(*failures)++;
		} else if (!want_ok && (err.kind != VS_EK_INVALID || err.msg[0] == '\0')) {
			print_error("%s/%s: error without kind INVALID or message: '%s'\n", dir,
				    e->d_name, err.msg);
			(*failures)++;
		}
	}
	return n;
}

static void test_create_request_cases(void **state)
{
	int failures = 0;
	size_t valid = run_folder("create-request", "valid", parse_create_text, &failures);
	size_t invalid = run_folder("create-request", "invalid", parse_create_text, &failures);

	/* Guard against passing on an empty or missing folder. */
	assert_true(valid >= 5);
	assert_true(invalid >= 12);
	assert_int_equal(failures, 0);
}

static void test_container_config_cases(void **state)
{
	int failures = 0;
	size_t valid = run_folder("container-config", "valid", parse_config_text, &failures);
	size_t invalid = run_folder("container-config", "invalid", parse_config_text, &failures);

	assert_true(valid >= 3);
	assert_true(invalid >= 5);
	assert_int_equal(failures, 0);
}

static void test_update_request_cases(void **state)
{
	int failures = 0;
	size_t valid = run_folder("update-request", "valid", parse_update_text, &failures);
	size_t invalid = run_folder("update-request", "invalid", parse_update_text, &failures);

	assert_true(valid >= 5);
	assert_true(invalid >= 10);
	assert_int_equal(failures, 0);
}

/* The error names the field path of what was wrong. */
static void test_create_error_names_field(void **state)
{
	static const struct {
		const char *body;
		const char *field;
	} cases[] = {
	    {"{\"name\":\"-x\",\"template\":\"t\"}", "name"},
	    {"{\"name\":\"a\",\"template\":\"T\"}", "template"},
	    {"{\"name\":\"a\",\"template\":\"t\",\"hostname\":\"a..b\"}", "hostname"},
	    {"{\"name\":\"a\",\"template\":\"t\",\"limits\":{\"memory\":\"lots\"}}",
	     "limits.memory"},
	    {"{\"name\":\"a\",\"template\":\"t\",\"limits\":{\"memory\":\"1K\"}}", "limits.memory"},
	    {"{\"name\":\"a\",\"template\":\"t\",\"limits\":{\"cpus\":\"abc\"}}", "limits.cpus"},
	    {"{\"name\":\"a\",\"template\":\"t\",\"limits\":{\"pids\":-5}}", "limits.pids"},
	    {"{\"name\":\"a\",\"template\":\"t\",\"limits\":{\"cpu_weight\":\"1\"}}",
	     "limits.cpu_weight"},
	    {"{\"name\":\"a\",\"template\":\"t\",\"limits\":{\"disk\":1}}", "limits.disk"},
	    {"{\"name\":\"a\",\"template\":\"t\",\"bogus_field\":1}", "bogus_field"},
	    {"{\"name\":\"a\",\"template\":\"t\",\"privileged\":\"yes\"}", "privileged"},
	};

	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		struct vs_container_config cfg;
		struct vs_error err = {0};

		assert_int_equal(parse_create_text(cases[i].body, &cfg, &err), -1);
		if (strstr(err.msg, cases[i].field) == NULL)
			fail_msg("%s: message '%s' does not name %s", cases[i].body, err.msg,
				 cases[i].field);
		assert_int_equal(err.kind, VS_EK_INVALID);
	}
}

static void test_create_fills_fields(void **state)
{
	struct vs_container_config cfg;
	struct vs_error err = {0};

	assert_int_equal(parse_create_text("{\"name\":\"web1\",\"template\":\"deb12\",\"limits\":"
					   "{\"memory\":\"512M\",\"memory_swap\":\"0\","
					   "\"cpus\":\"1.5\",\"cpu_weight\":100,\"pids\":512}}",
					   &cfg, &err),
			 0);
	assert_string_equal(cfg.name, "web1");
	assert_string_equal(cfg.template_name, "deb12");
	assert_string_equal(cfg.hostname, "web1"); /* defaults to the name */
	assert_false(cfg.privileged);
	assert_int_equal(cfg.limits.memory, 512 * 1024 * 1024);
	assert_int_equal(cfg.limits.memory_swap, 0);
	assert_int_equal(cfg.limits.cpus_milli, 1500);
	assert_int_equal(cfg.limits.cpu_weight, 100);
	assert_int_equal(cfg.limits.pids, 512);
	vs_config_free(&cfg);

	assert_int_equal(parse_create_text("{\"name\":\"b\",\"template\":\"t\",\"hostname\":"
					   "\"h.example\",\"privileged\":true,\"limits\":"
					   "{\"memory\":8388608,\"memory_swap\":-1,\"cpus\":0.25}}",
					   &cfg, &err),
			 0);
	assert_string_equal(cfg.hostname, "h.example");
	assert_true(cfg.privileged);
	assert_int_equal(cfg.limits.memory, 8388608);
	assert_int_equal(cfg.limits.memory_swap, -1);
	assert_int_equal(cfg.limits.cpus_milli, 250);
	vs_config_free(&cfg);
}

/* A live update: named fields change, null clears, the rest stays; a bad
 * field or a broken relation leaves the limits as they were. */
static void test_merge_limits(void **state)
{
	struct vs_limits l = {.memory = 512 << 20, .cpus_milli = 1000, .pids = 100};
	struct vs_json *j = NULL;
	struct vs_error err = {0};
	uint32_t changed = 0;

	assert_int_equal(
	    vs_json_parse("{\"memory\":\"1G\",\"pids\":null,\"cpuset\":\"1,0\"}", &j, &err), 0);
	assert_int_equal(vs_config_merge_limits(j, "limits", &l, &changed, &err), 0);
	vs_json_free(j);
	assert_int_equal(l.memory, INT64_C(1) << 30);
	assert_int_equal(l.pids, 0);
	assert_int_equal(l.cpus_milli, 1000);
	assert_string_equal(l.cpuset, "0-1");
	assert_int_equal(changed,
			 (1u << VS_LIM_MEMORY) | (1u << VS_LIM_PIDS) | (1u << VS_LIM_CPUSET));

	/* memory_min above memory: refused, nothing changed. */
	assert_int_equal(vs_json_parse("{\"memory_min\":\"2G\",\"pids\":7}", &j, &err), 0);
	changed = 0;
	assert_int_equal(vs_config_merge_limits(j, "limits", &l, &changed, &err), -1);
	vs_json_free(j);
	assert_non_null(strstr(err.msg, "limits.memory_min"));
	assert_int_equal(l.pids, 0);
	assert_int_equal(changed, 0);

	/* memory_high above memory, and a memory lowered below memory_high. */
	l.memory_high = 256 << 20;
	assert_int_equal(vs_json_parse("{\"memory\":\"128M\"}", &j, &err), 0);
	assert_int_equal(vs_config_merge_limits(j, "limits", &l, &changed, &err), -1);
	vs_json_free(j);
	assert_non_null(strstr(err.msg, "limits.memory_high"));
	assert_int_equal(l.memory, INT64_C(1) << 30);

	/* inodes need a disk; a bad cpuset names its field. */
	assert_int_equal(vs_json_parse("{\"inodes\":5000}", &j, &err), 0);
	assert_int_equal(vs_config_merge_limits(j, "limits", &l, &changed, &err), -1);
	vs_json_free(j);
	assert_non_null(strstr(err.msg, "limits.inodes"));
	assert_int_equal(vs_json_parse("{\"cpuset\":\"3-1\"}", &j, &err), 0);
	assert_int_equal(vs_config_merge_limits(j, "limits", &l, &changed, &err), -1);
	vs_json_free(j);
	assert_non_null(strstr(err.msg, "limits.cpuset"));
	assert_string_equal(l.cpuset, "0-1");
}

static void check_same(const struct vs_container_config *a, const struct vs_container_config *b)
{
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->template_name, b->template_name);
	assert_string_equal(a->hostname, b->hostname);
	assert_int_equal(a->privileged, b->privileged);
	assert_int_equal(a->idmap_uid, b->idmap_uid);
	assert_int_equal(a->idmap_gid, b->idmap_gid);
	assert_int_equal(a->idmap_size, b->idmap_size);
	assert_memory_equal(&a->limits, &b->limits, sizeof(a->limits));
	assert_int_equal(vs_strv_len(a->init), vs_strv_len(b->init));
	for (size_t i = 0; a->init[i] != NULL; i++)
		assert_string_equal(a->init[i], b->init[i]);
	assert_int_equal(a->stop_signal, b->stop_signal);
	assert_int_equal(a->created_at, b->created_at);
}

/* What vs_config_to_json writes, vs_config_parse reads back unchanged. */
static void test_config_round_trip(void **state)
{
	char *init[] = {"/sbin/init", "--log-level=info", NULL};
	struct vs_container_config in = {
	    .name = "web1",
	    .template_name = "deb12",
	    .hostname = "web1.example",
	    .idmap_uid = 1000000,
	    .idmap_gid = 1065536,
	    .idmap_size = VS_IDMAP_SIZE,
	    .limits = {.memory = 536870912,
		       .memory_swap = -1,
		       .cpus_milli = 1500,
		       .cpu_weight = 100,
		       .pids = 512},
	    .init = init,
	    .created_at = 1763768000,
	};
	struct vs_container_config out;
	struct vs_error err = {0};
	cleanup_free char *text = NULL;
	cleanup_free char *text2 = NULL;

	in.stop_signal = SIGRTMIN + 3;
	text = vs_config_to_json(&in);
	if (vs_config_parse(text, &out, &err) < 0)
		fail_msg("%s\n%s", err.msg, text);
	check_same(&in, &out);
	vs_config_free(&out);

	/* Privileged: no idmap written, none needed to read it back. */
	in.privileged = true;
	in.idmap_uid = in.idmap_gid = in.idmap_size = 0;
	memset(&in.limits, 0, sizeof(in.limits));
	text2 = vs_config_to_json(&in);
	assert_null(strstr(text2, "idmap"));
	if (vs_config_parse(text2, &out, &err) < 0)
		fail_msg("%s\n%s", err.msg, text2);
	check_same(&in, &out);
	vs_config_free(&out);
}

static void test_config_parse_errors(void **state)
{
	static const struct {
		const char *text;
		const char *field;
	} cases[] = {
	    {"{\"name\":\"a\",\"template\":\"t\",\"init\":[\"/i\"],\"stop_signal\":\"TERM\"}",
	     "idmap"},
	    {"{\"name\":\"a\",\"template\":\"t\",\"privileged\":true,\"init\":[\"i\"],"
	     "\"stop_signal\":\"TERM\"}",
	     "init[0]"},
	    {"{\"name\":\"a\",\"template\":\"t\",\"privileged\":true,\"init\":[\"/i\"],"
	     "\"stop_signal\":\"SIGFOO\"}",
	     "stop_signal"},
	    {"{\"name\":\"a\",\"template\":\"t\",\"privileged\":true,\"init\":[\"/i\"],"
	     "\"stop_signal\":\"TERM\",\"created_at\":-1}",
	     "created_at"},
	    {"{\"name\":\"a\",\"template\":\"t\",\"idmap\":{\"uid\":1,\"gid\":1,\"size\":5},"
	     "\"init\":[\"/i\"],\"stop_signal\":\"TERM\"}",
	     "idmap.size"},
	    {"{\"name\":\"a\",", "malformed"},
	    {"[]", "config"},
	};

	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		struct vs_container_config cfg;
		struct vs_error err = {0};

		assert_int_equal(vs_config_parse(cases[i].text, &cfg, &err), -1);
		if (strstr(err.msg, cases[i].field) == NULL)
			fail_msg("%s: message '%s' does not name %s", cases[i].text, err.msg,
				 cases[i].field);
		/* A failed parse leaves nothing to free. */
		assert_null(cfg.init);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_request_cases),
	    cmocka_unit_test(test_container_config_cases),
	    cmocka_unit_test(test_create_error_names_field),
	    cmocka_unit_test(test_create_fills_fields),
	    cmocka_unit_test(test_config_round_trip),
	    cmocka_unit_test(test_config_parse_errors),
	    cmocka_unit_test(test_merge_limits),
	    cmocka_unit_test(test_update_request_cases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
