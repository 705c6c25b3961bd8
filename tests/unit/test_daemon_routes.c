/* daemon: route matching, error mapping, body limits and request JSON
 * helpers (daemon/routes.c; pure, no socket). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/handlers.h"
#include "lib/vs_util.h"

static enum vsd_match_result match(const char *method, const char *path, struct vsd_match *m,
				   char *allow, size_t allow_len)
{
	return vsd_route_match(vsd_routes, vsd_nroutes, method, path, m, allow, allow_len);
}

/* Every route of api.md resolves to its id with its parameters. */
static void test_routes_all(void **state)
{
	static const struct {
		const char *method, *path;
		enum vsd_route_id id;
		const char *p0;
	} cases[] = {
	    {"GET", "/v1/containers", VSD_R_CONTAINER_LIST, NULL},
	    {"POST", "/v1/containers", VSD_R_CONTAINER_CREATE, NULL},
	    {"GET", "/v1/containers/web1", VSD_R_CONTAINER_GET, "web1"},
	    {"DELETE", "/v1/containers/web1", VSD_R_CONTAINER_DELETE, "web1"},
	    {"PUT", "/v1/containers/web1/state", VSD_R_CONTAINER_STATE, "web1"},
	    {"POST", "/v1/containers/web1/exec", VSD_R_CONTAINER_EXEC, "web1"},
	    {"POST", "/v1/containers/web1/console", VSD_R_CONTAINER_CONSOLE, "web1"},
	    {"POST", "/v1/containers/web1/suspend", VSD_R_CONTAINER_SUSPEND, "web1"},
	    {"POST", "/v1/containers/web1/resume", VSD_R_CONTAINER_RESUME, "web1"},
	    {"POST", "/v1/containers/web1/checkpoint", VSD_R_CONTAINER_CHECKPOINT, "web1"},
	    {"POST", "/v1/containers/web1/restore", VSD_R_CONTAINER_RESTORE, "web1"},
	    {"GET", "/v1/templates", VSD_R_TEMPLATE_LIST, NULL},
	    {"POST", "/v1/templates", VSD_R_TEMPLATE_CREATE, NULL},
	    {"GET", "/v1/templates/deb12", VSD_R_TEMPLATE_GET, "deb12"},
	    {"DELETE", "/v1/templates/deb12", VSD_R_TEMPLATE_DELETE, "deb12"},
	    {"PUT", "/v1/templates/deb12/archive", VSD_R_TEMPLATE_ARCHIVE, "deb12"},
	    {"GET", "/v1/operations/42", VSD_R_OPERATION_GET, "42"},
	    {"GET", "/v1/node", VSD_R_NODE, NULL},
	};
	char allow[64];

	assert_int_equal(vsd_nroutes, VSD_R__COUNT);
	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		struct vsd_match m;
		assert_int_equal(match(cases[i].method, cases[i].path, &m, allow, sizeof(allow)),
				 VSD_MATCH_OK);
		assert_non_null(m.route);
		assert_int_equal(m.route->id, cases[i].id);
		if (cases[i].p0 == NULL) {
			assert_int_equal(m.nparams, 0);
		} else {
			assert_int_equal(m.nparams, 1);
			assert_string_equal(m.params[0], cases[i].p0);
		}
		vsd_match_clear(&m);
	}
}

static void test_routes_not_found(void **state)
{
	static const char *const paths[] = {
	    "/",
	    "",
	    "/v1",
	    "/v2/containers",
	    "/v1/containers/",	       /* empty name segment */
	    "/v1/containers//state",   /* empty name segment */
	    "/v1/containers/a/b/c",    /* too deep */
	    "/v1/containers/a/statex", /* near miss */
	    "//v1/containers",
	    "v1/containers",
	    "/v1/nodes",
	};
	char allow[64];

	for (size_t i = 0; i < VS_ARRAY_SIZE(paths); i++) {
		struct vsd_match m;
		assert_int_equal(match("GET", paths[i], &m, allow, sizeof(allow)),
				 VSD_MATCH_NO_ROUTE);
		assert_null(m.route);
		assert_int_equal(m.nparams, 0);
	}
}

static void test_routes_bad_method(void **state)
{
	struct vsd_match m;
	char allow[64];

	assert_int_equal(match("PATCH", "/v1/containers", &m, allow, sizeof(allow)),
			 VSD_MATCH_BAD_METHOD);
	assert_string_equal(allow, "GET, POST");
	assert_int_equal(match("POST", "/v1/containers/web1", &m, allow, sizeof(allow)),
			 VSD_MATCH_BAD_METHOD);
	assert_string_equal(allow, "GET, DELETE, PATCH");
	assert_int_equal(match("GET", "/v1/containers/web1/exec", &m, allow, sizeof(allow)),
			 VSD_MATCH_BAD_METHOD);
	assert_string_equal(allow, "POST");
	assert_int_equal(match("PUT", "/v1/containers/web1/suspend", &m, allow, sizeof(allow)),
			 VSD_MATCH_BAD_METHOD);
	assert_string_equal(allow, "POST");
	assert_int_equal(match("GET", "/v1/containers/web1/checkpoint", &m, allow, sizeof(allow)),
			 VSD_MATCH_BAD_METHOD);
	assert_string_equal(allow, "POST");
	/* Truncation keeps a terminated string. */
	assert_int_equal(match("PUT", "/v1/containers", &m, allow, 5), VSD_MATCH_BAD_METHOD);
	assert_int_equal(strlen(allow), 4);
	/* Methods are case-sensitive (RFC 9110). */
	assert_int_equal(match("get", "/v1/node", &m, allow, sizeof(allow)), VSD_MATCH_BAD_METHOD);
}

/* The checkpoint routes: JSON bodies (64 KiB limit), no upgrade, and the
 * container name validated like every {name}. */
static void test_routes_checkpoint(void **state)
{
	static const enum vsd_route_id ids[] = {VSD_R_CONTAINER_SUSPEND, VSD_R_CONTAINER_RESUME,
						VSD_R_CONTAINER_CHECKPOINT,
						VSD_R_CONTAINER_RESTORE};
	struct vs_error err = {0};
	struct vsd_match m;
	char allow[64];

	for (size_t i = 0; i < VS_ARRAY_SIZE(ids); i++) {
		const struct vsd_route *r = NULL;
		for (size_t j = 0; j < vsd_nroutes; j++)
			if (vsd_routes[j].id == ids[i])
				r = &vsd_routes[j];
		assert_non_null(r);
		assert_string_equal(r->method, "POST");
		assert_int_equal(r->body, VSD_BODY_JSON);
		assert_false(r->upgrade);
		assert_string_equal(r->what, "container name");
	}
	assert_int_equal(match("POST", "/v1/containers/-x/suspend", &m, allow, sizeof(allow)),
			 VSD_MATCH_OK);
	assert_int_equal(vsd_match_validate(&m, &err), -1);
	assert_non_null(strstr(err.msg, "container name"));
	vsd_match_clear(&m);
	assert_int_equal(match("POST", "/v1/containers/web1/suspend/x", &m, allow, sizeof(allow)),
			 VSD_MATCH_NO_ROUTE);
	assert_int_equal(match("POST", "/v1/containers//resume", &m, allow, sizeof(allow)),
			 VSD_MATCH_NO_ROUTE);
}

static void test_routes_validate(void **state)
{
	struct vs_error err = {0};
	struct vsd_match m;
	char allow[64];

	assert_int_equal(match("GET", "/v1/containers/Web1", &m, allow, sizeof(allow)),
			 VSD_MATCH_OK);
	assert_int_equal(vsd_match_validate(&m, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_non_null(strstr(err.msg, "container name"));
	vsd_match_clear(&m);

	assert_int_equal(match("DELETE", "/v1/templates/..", &m, allow, sizeof(allow)),
			 VSD_MATCH_OK);
	assert_int_equal(vsd_match_validate(&m, &err), -1);
	assert_non_null(strstr(err.msg, "template name"));
	vsd_match_clear(&m);

	assert_int_equal(match("GET", "/v1/containers/web-1", &m, allow, sizeof(allow)),
			 VSD_MATCH_OK);
	assert_int_equal(vsd_match_validate(&m, NULL), 0);
	vsd_match_clear(&m);

	/* Operation ids are not names: the handler judges them. */
	assert_int_equal(match("GET", "/v1/operations/ABC", &m, allow, sizeof(allow)),
			 VSD_MATCH_OK);
	assert_int_equal(vsd_match_validate(&m, NULL), 0);
	vsd_match_clear(&m);
}

/* Names in URLs are exact: a decoded %00 stays in the path (as
 * VSD_DECODED_NUL), and the name holding it, or the path, is refused. */
static void test_url_exact(void **state)
{
	char path[] = "/v1/containers/nul1\0anything";
	size_t len = sizeof(path) - 1;
	struct vs_error err = {0};
	struct vsd_match m;
	char allow[64];

	(void)state;
	assert_int_equal(vsd_unescape_nul(path, len), len);
	assert_int_equal(strlen(path), len);
	assert_int_equal(match("DELETE", path, &m, allow, sizeof(allow)), VSD_MATCH_OK);
	assert_string_not_equal(m.params[0], "nul1");
	assert_int_equal(vsd_match_validate(&m, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_non_null(strstr(err.msg, "container name"));
	vsd_match_clear(&m);
	assert_int_equal(vsd_path_check(path, &err), -1);
	assert_non_null(strstr(err.msg, "0x01"));

	/* {snap} is a name too. */
	assert_int_equal(
	    match("GET", "/v1/containers/web1/snapshots/s\001x", &m, allow, sizeof(allow)),
	    VSD_MATCH_OK);
	assert_int_equal(vsd_match_validate(&m, &err), -1);
	assert_non_null(strstr(err.msg, "snapshot name"));
	vsd_match_clear(&m);

	assert_int_equal(vsd_path_check("/v1/containers/web-1", NULL), 0);
	assert_int_equal(vsd_path_check("/v1/contai\x7fners", &err), -1);
	assert_int_equal(vsd_path_check("/v1/operations/1\n", &err), -1);
}

static void test_error_mapping(void **state)
{
	static const struct {
		enum vs_error_kind kind;
		unsigned status;
		const char *code;
	} cases[] = {
	    {VS_EK_INTERNAL, 500, "internal"},	 {VS_EK_INVALID, 400, "invalid"},
	    {VS_EK_NOT_FOUND, 404, "not_found"}, {VS_EK_CONFLICT, 409, "conflict"},
	    {VS_EK_TOO_LARGE, 413, "too_large"}, {VS_EK_UNSUPPORTED, 501, "unsupported"},
	};

	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		assert_int_equal(vsd_error_status(cases[i].kind), cases[i].status);
		assert_string_equal(vsd_error_code(cases[i].kind), cases[i].code);
	}
	assert_int_equal(vsd_error_status((enum vs_error_kind)99), 500);
	assert_string_equal(vsd_error_code((enum vs_error_kind)99), "internal");
}

static void test_error_body(void **state)
{
	cleanup_free char *body = vsd_error_body("conflict", "container 'a' \"x\"\n\xff.");
	cleanup_json struct vs_json *v = NULL;
	const struct vs_json *e;

	assert_int_equal(body[strlen(body) - 1], '\n');
	assert_int_equal(vs_json_parse(body, &v, NULL), 0);
	e = vs_json_get(v, "error");
	assert_non_null(e);
	assert_string_equal(vs_json_string(vs_json_get(e, "code")), "conflict");
	/* Control characters and invalid UTF-8 are replaced. */
	assert_string_equal(vs_json_string(vs_json_get(e, "message")), "container 'a' \"x\"??.");
}

static void test_sanitize(void **state)
{
	cleanup_free char *a = vsd_sanitize("h\xc3\xa9llo\t\x01", 100);
	cleanup_free char *b = vsd_sanitize("\xc3", 100);	  /* truncated sequence */
	cleanup_free char *c = vsd_sanitize("\xc0\xaf", 100);	  /* overlong '/' */
	cleanup_free char *d = vsd_sanitize("\xed\xa0\x80", 100); /* surrogate */
	cleanup_free char *e = vsd_sanitize("abcdef", 3);
	cleanup_free char *f = vsd_sanitize("\xf0\x9f\x98\x80", 100); /* U+1F600 */
	cleanup_free char *g = vsd_sanitize("a\xc2\x9b"
					    "31mb\xc2\xa0",
					    100); /* CSI, NBSP */

	assert_string_equal(a, "h\xc3\xa9llo\t?");
	assert_string_equal(b, "?");
	assert_string_equal(c, "??");
	assert_string_equal(d, "???");
	assert_string_equal(e, "abc");
	assert_string_equal(f, "\xf0\x9f\x98\x80");
	assert_string_equal(g, "a?31mb\xc2\xa0");
}

static void test_body_limit(void **state)
{
	struct vsd_body b = {0};
	char chunk[1000];

	memset(chunk, 'x', sizeof(chunk));
	/* Exactly max bytes are accepted... */
	for (int i = 0; i < 65; i++)
		assert_true(vsd_body_append(&b, chunk, sizeof(chunk), 65536));
	assert_true(vsd_body_append(&b, chunk, 536, 65536));
	assert_int_equal(b.len, 65536);
	assert_int_equal(strlen(b.buf), 65536);
	assert_false(b.too_large);
	/* ...one more is not, and everything after is dropped. */
	assert_false(vsd_body_append(&b, "y", 1, 65536));
	assert_true(b.too_large);
	assert_null(b.buf);
	assert_false(vsd_body_append(&b, "y", 1, 65536));
	assert_int_equal(b.len, 0);
	vsd_body_free(&b);

	/* A single chunk larger than the limit; size arithmetic must not wrap. */
	assert_false(vsd_body_append(&b, chunk, sizeof(chunk), 10));
	assert_true(b.too_large);
	vsd_body_free(&b);
	assert_true(vsd_body_append(&b, "ab", 2, SIZE_MAX));
	assert_false(vsd_body_append(&b, "ab", SIZE_MAX - 1, SIZE_MAX));
	vsd_body_free(&b);
}

static void test_content_length(void **state)
{
	assert_false(vsd_content_length_exceeds(NULL, 65536));
	assert_false(vsd_content_length_exceeds("65536", 65536));
	assert_true(vsd_content_length_exceeds("65537", 65536));
	assert_true(vsd_content_length_exceeds(" 99999999999999999999999", 65536));
	assert_false(vsd_content_length_exceeds("0", 65536));
	assert_false(vsd_content_length_exceeds("abc", 65536));
}

static void test_header_token(void **state)
{
	assert_true(vsd_header_has_token("Upgrade", "upgrade"));
	assert_true(vsd_header_has_token("keep-alive, Upgrade", "upgrade"));
	assert_true(vsd_header_has_token(" upgrade ,close", "upgrade"));
	assert_false(vsd_header_has_token("upgraded", "upgrade"));
	assert_false(vsd_header_has_token("keep-alive", "upgrade"));
	assert_false(vsd_header_has_token("", "upgrade"));
	assert_false(vsd_header_has_token(NULL, "upgrade"));
}

static void test_parse_body(void **state)
{
	struct vs_json *v = NULL;
	struct vs_error err = {0};
	static const char nul[] = "{\"a\":1}\0{}";

	assert_int_equal(vsd_parse_body(NULL, 0, true, &v, &err), 0);
	assert_int_equal(vs_json_type(v), VS_JSON_OBJECT);
	assert_int_equal(vs_json_object_len(v), 0);
	vs_json_freep(&v);
	assert_int_equal(vsd_parse_body(" \n", 2, true, &v, &err), 0);
	vs_json_freep(&v);
	assert_int_equal(vsd_parse_body(" \n", 2, false, &v, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_int_equal(vsd_parse_body("{bad", 4, false, &v, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_non_null(strstr(err.msg, "malformed JSON"));
	assert_int_equal(vsd_parse_body("[1]", 3, false, &v, &err), -1);
	assert_non_null(strstr(err.msg, "array"));
	assert_int_equal(vsd_parse_body(nul, sizeof(nul) - 1, false, &v, &err), -1);
	assert_non_null(strstr(err.msg, "NUL"));
	assert_null(v);
	assert_int_equal(vsd_parse_body("{\"a\":1}", 7, false, &v, &err), 0);
	assert_non_null(vs_json_get(v, "a"));
	vs_json_freep(&v);
}

/* An escaped NUL would cut a parsed string short: refused. An escaped
 * backslash followed by the letters u0000 is no NUL. */
static void test_parse_body_escaped_nul(void **state)
{
	static const char *const bad[] = {
	    "{\"a\": \"x\\u0000y\"}", "{\"a\": \"\\u0000\"}", "{\"a\\u0000\": 1}",
	    "{\"a\": \"\\\\\\u0000\"}", /* \\ then \u0000 */
	};
	static const char *const good[] = {
	    "{\"a\": \"\\\\u0000\"}", /* \\ then the text u0000 */
	    "{\"a\": \"\\u0001\\\"u0000\"}",
	};
	struct vs_json *v = NULL;
	struct vs_error err = {0};

	for (size_t i = 0; i < VS_ARRAY_SIZE(bad); i++) {
		if (vsd_parse_body(bad[i], strlen(bad[i]), false, &v, &err) == 0)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(err.kind, VS_EK_INVALID);
		assert_non_null(strstr(err.msg, "NUL character"));
		assert_null(v);
	}
	for (size_t i = 0; i < VS_ARRAY_SIZE(good); i++) {
		if (vsd_parse_body(good[i], strlen(good[i]), false, &v, &err) < 0)
			fail_msg("refused: %s: %s", good[i], err.msg);
		vs_json_freep(&v);
	}
}

static void test_check_fields_and_strv(void **state)
{
	static const char *const keys[] = {"command", "tty", NULL};
	cleanup_json struct vs_json *ok = NULL;
	cleanup_json struct vs_json *bad = NULL;
	cleanup_strv char **v = NULL;
	struct vs_error err = {0};

	assert_int_equal(vs_json_parse("{\"command\":[\"ls\",\"-l\"],\"tty\":true}", &ok, NULL), 0);
	assert_int_equal(vsd_check_fields(ok, keys, &err), 0);
	assert_int_equal(vsd_json_strv(vs_json_get(ok, "command"), "command", &v, &err), 0);
	assert_int_equal(vs_strv_len(v), 2);
	assert_string_equal(v[1], "-l");
	vs_strvfreep(&v);
	assert_int_equal(vsd_json_strv(vs_json_get(ok, "tty"), "tty", &v, &err), -1);
	assert_non_null(strstr(err.msg, "tty: expected an array"));
	assert_int_equal(vsd_json_strv(NULL, "env", &v, &err), 0);
	assert_null(v);

	assert_int_equal(vs_json_parse("{\"command\":[\"ls\",1],\"cwd\":\"/\"}", &bad, NULL), 0);
	assert_int_equal(vsd_check_fields(bad, keys, &err), -1);
	assert_string_equal(err.msg, "cwd: unknown field");
	assert_int_equal(vsd_json_strv(vs_json_get(bad, "command"), "command", &v, &err), -1);
	assert_string_equal(err.msg, "command[1]: expected a string");
	assert_null(v);
}

/* The server dispatches only through the table: every route has a
 * handler, each route id is served by exactly one route, a pre-check is
 * only where the body is streamed (refusing an upload before reading it),
 * and the query callback of a call is what vsd_call_query uses. */
static const char *fake_query(void *conn, const char *key)
{
	return strcmp(key, "force") == 0 ? (const char *)conn : NULL;
}

static void test_route_table(void **state)
{
	int seen[VSD_R__COUNT] = {0};
	struct vsd_call c = {.query = fake_query, .conn = (void *)""};
	struct vsd_call none = {0};

	(void)state;
	assert_int_equal(vsd_nroutes, VSD_R__COUNT);
	for (size_t i = 0; i < vsd_nroutes; i++) {
		const struct vsd_route *r = &vsd_routes[i];

		assert_non_null(r->handler);
		assert_true(r->id < VSD_R__COUNT);
		seen[r->id]++;
		if (r->precheck != NULL)
			assert_int_equal(r->body, VSD_BODY_STREAM);
	}
	for (int id = 0; id < VSD_R__COUNT; id++)
		assert_int_equal(seen[id], 1);
	assert_string_equal(vsd_call_query(&c, "force"), "");
	assert_null(vsd_call_query(&c, "since"));
	assert_null(vsd_call_query(&none, "force"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_routes_all),
	    cmocka_unit_test(test_route_table),
	    cmocka_unit_test(test_url_exact),
	    cmocka_unit_test(test_routes_not_found),
	    cmocka_unit_test(test_routes_bad_method),
	    cmocka_unit_test(test_routes_validate),
	    cmocka_unit_test(test_routes_checkpoint),
	    cmocka_unit_test(test_error_mapping),
	    cmocka_unit_test(test_error_body),
	    cmocka_unit_test(test_sanitize),
	    cmocka_unit_test(test_body_limit),
	    cmocka_unit_test(test_content_length),
	    cmocka_unit_test(test_header_token),
	    cmocka_unit_test(test_parse_body),
	    cmocka_unit_test(test_parse_body_escaped_nul),
	    cmocka_unit_test(test_check_fields_and_strv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
