/* daemon: the OpenAPI document built into vsd (docs/openapi.json, served at
 * GET /v1/openapi.json) and the route table (daemon/routes.c) describe the
 * same API: every route is in the document and every path and method of
 * the document is a route, and each of the document's paths resolves to
 * the route of the same pattern (no route shadowed by another). */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/handlers.h"
#include "lib/vs_json.h"
#include "lib/vs_util.h"

static const char *const http_methods[] = {"get",   "put",     "post", "delete",
					   "patch", "options", "head", "trace"};

static struct vs_json *served_doc(void)
{
	struct vs_json *doc = NULL;
	struct vs_error err = {0};
	size_t len;
	const char *text = vsd_openapi_json(&len);

	assert_true(len > 0);
	assert_int_equal(strlen(text), len);
	if (vs_json_parse(text, &doc, &err) < 0)
		fail_msg("the embedded docs/openapi.json does not parse: %s", err.msg);
	return doc;
}

/* "/v1/containers/{name}/snapshots/{snap}" -> "/v1/containers/{}/snapshots/{}":
 * placeholder names may differ between the table and the document. */
static char *normalise(const char *pattern)
{
	char *out = xstrdup(pattern);
	char *o = out;

	for (const char *p = pattern; *p != '\0'; p++) {
		*o++ = *p;
		if (*p == '{') {
			p = strchr(p, '}');
			assert_non_null(p);
			*o++ = '}';
		}
	}
	*o = '\0';
	return out;
}

/* The document's path object for a route pattern, or NULL. */
static const struct vs_json *doc_path(const struct vs_json *paths, const char *pattern)
{
	cleanup_free char *want = normalise(pattern);

	for (size_t i = 0; i < vs_json_object_len(paths); i++) {
		cleanup_free char *have = normalise(vs_json_object_key(paths, i));
		if (strcmp(have, want) == 0)
			return vs_json_object_value(paths, i);
	}
	return NULL;
}

static char *lower(const char *s)
{
	char *out = xstrdup(s);

	for (char *p = out; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return out;
}

/* Every route the daemon serves is in the document, with its method; an
 * upgrade route documents its 101. */
static void test_routes_in_document(void **state)
{
	cleanup_json struct vs_json *doc = served_doc();
	const struct vs_json *paths = vs_json_get(doc, "paths");

	assert_non_null(paths);
	for (size_t i = 0; i < vsd_nroutes; i++) {
		const struct vsd_route *r = &vsd_routes[i];
		const struct vs_json *p = doc_path(paths, r->pattern);
		cleanup_free char *m = lower(r->method);
		const struct vs_json *op;

		if (p == NULL)
			fail_msg("route %s %s is not in docs/openapi.json", r->method, r->pattern);
		op = vs_json_get(p, m);
		if (op == NULL)
			fail_msg("route %s %s: the document has the path but not the method",
				 r->method, r->pattern);
		if (r->upgrade && vs_json_get(vs_json_get(op, "responses"), "101") == NULL)
			fail_msg("upgrade route %s %s: no 101 response", r->method, r->pattern);
	}
}

/* A concrete path for a pattern: each placeholder becomes "x1". */
static char *instantiate(const char *pattern)
{
	char *out = xmalloc(strlen(pattern) * 2 + 1);
	char *o = out;

	for (const char *p = pattern; *p != '\0'; p++) {
		if (*p == '{') {
			p = strchr(p, '}');
			memcpy(o, "x1", 2);
			o += 2;
			continue;
		}
		*o++ = *p;
	}
	*o = '\0';
	return out;
}

/* Every path and method of the document is served, by the route of that
 * very pattern. */
static void test_document_served(void **state)
{
	cleanup_json struct vs_json *doc = served_doc();
	const struct vs_json *paths = vs_json_get(doc, "paths");
	size_t nops = 0;

	assert_non_null(paths);
	for (size_t i = 0; i < vs_json_object_len(paths); i++) {
		const char *pattern = vs_json_object_key(paths, i);
		const struct vs_json *p = vs_json_object_value(paths, i);
		cleanup_free char *want = normalise(pattern);
		cleanup_free char *path = instantiate(pattern);

		for (size_t k = 0; k < VS_ARRAY_SIZE(http_methods); k++) {
			struct vsd_match m;
			char allow[128];
			cleanup_free char *method = NULL;
			cleanup_free char *got = NULL;

			if (vs_json_get(p, http_methods[k]) == NULL)
				continue;
			method = xstrdup(http_methods[k]);
			for (char *c = method; *c != '\0'; c++)
				*c = (char)toupper((unsigned char)*c);
			if (vsd_route_match(vsd_routes, vsd_nroutes, method, path, &m, allow,
					    sizeof(allow)) != VSD_MATCH_OK)
				fail_msg("docs/openapi.json has %s %s, which vsd does not serve",
					 method, pattern);
			got = normalise(m.route->pattern);
			vsd_match_clear(&m);
			if (strcmp(got, want) != 0)
				fail_msg("%s %s is answered by the route %s", method, pattern, got);
			nops++;
		}
	}
	assert_int_equal(nops, vsd_nroutes);
}

/* The comparison itself: a pattern that differs only in placeholder names
 * matches, a different pattern does not, and a path with an extra segment
 * is not served. */
static void test_helpers(void **state)
{
	cleanup_free char *a = normalise("/v1/c/{name}/s/{snap}");
	cleanup_free char *b = normalise("/v1/c/{id}/s/{x}");
	cleanup_free char *p = instantiate("/v1/containers/{name}/nothing");
	struct vsd_match m;
	char allow[64];

	assert_string_equal(a, b);
	assert_string_equal(a, "/v1/c/{}/s/{}");
	assert_string_equal(p, "/v1/containers/x1/nothing");
	assert_int_equal(
	    vsd_route_match(vsd_routes, vsd_nroutes, "GET", p, &m, allow, sizeof(allow)),
	    VSD_MATCH_NO_ROUTE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_helpers),
	    cmocka_unit_test(test_routes_in_document),
	    cmocka_unit_test(test_document_served),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
