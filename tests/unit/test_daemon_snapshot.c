/* daemon: the pure parts of snapshots (daemon/snapshots.c): the create
 * and restore bodies, also against the shared cases in tests/schema-cases
 * (snapshot-request, snapshot-restore-request), and the routes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/handlers.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"

static int parse_create(const char *text, struct vs_error *err)
{
	char *snap = NULL;
	bool mem;
	int r = vsd_snap_parse_create(text, strlen(text), &snap, &mem, err);

	free(snap);
	return r;
}

static int parse_restore(const char *text, struct vs_error *err)
{
	bool stop;

	return vsd_snap_parse_restore(text, strlen(text), &stop, err);
}

static void test_create_body(void **state)
{
	struct vs_error err = {0};
	char *snap = NULL;
	bool mem = true;

	assert_int_equal(vsd_snap_parse_create("", 0, &snap, &mem, &err), 0);
	assert_non_null(snap);
	assert_true(strncmp(snap, "snap-", 5) == 0 &&
		    strlen(snap) == strlen("snap-20260101-120000"));
	assert_false(mem);
	free(snap);
	assert_int_equal(
	    vsd_snap_parse_create("{\"name\":\"s1\",\"with_memory\":true}", 31, &snap, &mem, &err),
	    0);
	assert_string_equal(snap, "s1");
	assert_true(mem);
	free(snap);
	assert_int_equal(parse_create("{\"name\":\"../x\"}", &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_non_null(strstr(err.msg, "name"));
	assert_int_equal(parse_create("{\"with_memory\":1}", &err), -1);
	assert_non_null(strstr(err.msg, "with_memory"));
}

static void test_restore_body(void **state)
{
	struct vs_error err = {0};
	bool stop = false;

	assert_int_equal(vsd_snap_parse_restore("{\"stop\":true}", 13, &stop, &err), 0);
	assert_true(stop);
	assert_int_equal(vsd_snap_parse_restore("{}", 2, &stop, &err), 0);
	assert_false(stop);
	assert_int_equal(parse_restore("{\"stop\":\"yes\"}", &err), -1);
	assert_non_null(strstr(err.msg, "stop"));
}

static void test_routes(void **state)
{
	static const struct {
		const char *method, *path;
		enum vsd_route_id id;
	} cases[] = {
	    {"GET", "/v1/containers/web1/snapshots", VSD_R_SNAPSHOT_LIST},
	    {"POST", "/v1/containers/web1/snapshots", VSD_R_SNAPSHOT_CREATE},
	    {"GET", "/v1/containers/web1/snapshots/s1", VSD_R_SNAPSHOT_GET},
	    {"DELETE", "/v1/containers/web1/snapshots/s1", VSD_R_SNAPSHOT_DELETE},
	    {"POST", "/v1/containers/web1/snapshots/s1/restore", VSD_R_SNAPSHOT_RESTORE},
	};
	char allow[128];

	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		struct vsd_match m;
		assert_int_equal(vsd_route_match(vsd_routes, vsd_nroutes, cases[i].method,
						 cases[i].path, &m, allow, sizeof(allow)),
				 VSD_MATCH_OK);
		assert_int_equal(m.route->id, cases[i].id);
		assert_string_equal(m.params[0], "web1");
		vsd_match_clear(&m);
	}
}

static char *cases_dir(const char *kind)
{
	const char *src = getenv("VSD_SRCDIR");

	if (src != NULL && src[0] != '\0')
		return xasprintf("%s/tests/schema-cases/%s", src, kind);
	return xasprintf("tests/schema-cases/%s", kind);
}

/* Every *.json of kind/expect through parse; returns the count checked. */
static size_t run_folder(const char *kind, const char *expect,
			 int (*parse)(const char *, struct vs_error *), int *failures)
{
	cleanup_free char *base = cases_dir(kind);
	cleanup_free char *dir = xasprintf("%s/%s", base, expect);
	cleanup_dir DIR *d = opendir(dir);
	bool want_ok = strcmp(expect, "valid") == 0;
	struct dirent *e;
	size_t n = 0;

	if (d == NULL) {
		print_error("cannot open %s\n", dir);
		(*failures)++;
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		cleanup_free char *text = NULL;
		struct vs_error err = {0};
		int r;

		if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
			continue;
		n++;
		if (vs_read_file_at(dirfd(d), e->d_name, 1 << 20, &text, NULL, &err) < 0) {
			(*failures)++;
			continue;
		}
		r = parse(text, &err);
		if (want_ok != (r == 0) || (!want_ok && err.kind != VS_EK_INVALID)) {
			print_error("%s/%s: %s: %s\n", dir, e->d_name,
				    r == 0 ? "accepted" : "refused", err.msg);
			(*failures)++;
		}
	}
	return n;
}

static void test_schema_cases(void **state)
{
	int failures = 0;

	assert_true(run_folder("snapshot-request", "valid", parse_create, &failures) >= 4);
	assert_true(run_folder("snapshot-request", "invalid", parse_create, &failures) >= 7);
	assert_true(run_folder("snapshot-restore-request", "valid", parse_restore, &failures) >= 3);
	assert_true(run_folder("snapshot-restore-request", "invalid", parse_restore, &failures) >=
		    3);
	assert_int_equal(failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_body),
	    cmocka_unit_test(test_restore_body),
	    cmocka_unit_test(test_routes),
	    cmocka_unit_test(test_schema_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
