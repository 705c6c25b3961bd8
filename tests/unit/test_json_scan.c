/* lib: vs_json_scan_rows, the tree-less reading of a list answer, against
 * vs_json_parse's tree on the same text: the same rows and cells, the same
 * verdict (and message) on malformed text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/vs_json.h"
#include "lib/vs_util.h"

static const char *const fields[] = {"name", "state", "init_pid", "x"};
#define NF 4

struct got {
	size_t rows;
	/* per row, per field: "T:text" */
	char cells[32][NF][96];
};

static void cell_text(char *out, size_t len, enum vs_json_type t, const char *text, bool is_int,
		      int64_t n)
{
	snprintf(out, len, "%s:%s:%s:%lld", vs_json_type_name(t), text ? text : "(null)",
		 is_int ? "int" : "-", is_int ? (long long)n : 0LL);
}

static void on_row(void *arg, const struct vs_json_cell *c)
{
	struct got *g = arg;

	assert_true(g->rows < 32);
	for (size_t i = 0; i < NF; i++) {
		int64_t n = 0;
		bool is_int = vs_json_cell_int64(&c[i], &n);
		cell_text(g->cells[g->rows][i], sizeof(g->cells[0][0]), c[i].type, c[i].text,
			  is_int, n);
	}
	g->rows++;
}

/* What the tree says: rows as on_row records them; 1, 0 or -1 as the
 * scanner's result. */
static int tree(const char *text, const char *key, struct got *g, struct vs_error *err)
{
	cleanup_json struct vs_json *root = NULL;
	const struct vs_json *list;

	if (vs_json_parse(text, &root, err) < 0)
		return -1;
	list = vs_json_get(root, key);
	if (vs_json_type(list) != VS_JSON_ARRAY)
		return 0;
	for (size_t r = 0; r < vs_json_array_len(list); r++, g->rows++) {
		const struct vs_json *el = vs_json_array_at(list, r);
		for (size_t i = 0; i < NF; i++) {
			const struct vs_json *v = vs_json_get(el, fields[i]);
			enum vs_json_type t = vs_json_type(v);
			const char *s = t == VS_JSON_STRING   ? vs_json_string(v)
					: t == VS_JSON_NUMBER ? vs_json_number_text(v)
							      : NULL;
			bool b;
			int64_t n = 0;
			bool is_int = vs_json_int64(v, &n);
			if (t == VS_JSON_BOOL && vs_json_bool(v, &b))
				s = b ? "true" : "false";
			cell_text(g->cells[g->rows][i], sizeof(g->cells[0][0]), t, s, is_int, n);
		}
	}
	return 1;
}

/* Scanner and tree agree on text; returns the verdict. */
static int same(const char *text)
{
	struct got a = {0}, b = {0};
	struct vs_error ea = {0}, eb = {0};
	int ra = vs_json_scan_rows(text, "items", fields, NF, on_row, &a, &ea);
	int rb = tree(text, "items", &b, &eb);

	if (ra != rb)
		fail_msg("%s: scan %d, tree %d (%s / %s)", text, ra, rb, ea.msg, eb.msg);
	if (ra < 0) {
		assert_string_equal(ea.msg, eb.msg);
		assert_int_equal(ea.kind, eb.kind);
		return ra;
	}
	/* Only validation: no rows asked for, none given. */
	assert_int_equal(vs_json_scan_rows(text, NULL, NULL, 0, NULL, NULL, &ea), 0);
	if (ra == 0)
		return 0;
	assert_int_equal(a.rows, b.rows);
	for (size_t r = 0; r < a.rows; r++)
		for (size_t i = 0; i < NF; i++)
			if (strcmp(a.cells[r][i], b.cells[r][i]) != 0)
				fail_msg("%s: row %zu %s: scan %s, tree %s", text, r, fields[i],
					 a.cells[r][i], b.cells[r][i]);
	return 1;
}

static void test_rows(void **state)
{
	(void)state;
	assert_int_equal(same("{\"items\":[]}"), 1);
	assert_int_equal(
	    same(
		"{\"a\":{\"items\":[{\"name\":\"no\"}]},\"items\":[{\"name\":\"d1\",\"state\":"
		"\"running\",\"init_pid\":12,\"x\":true,\"net\":{\"name\":\"eth0\",\"state\":1}},"
		"{\"state\":null,\"name\":\"d2\",\"init_pid\":0,\"x\":false},"
		"{\"name\":{\"name\":\"deep\"},\"state\":[\"running\"],\"init_pid\":1.0,\"x\":1e3},"
		"7,\"str\",null,[1,{\"name\":\"in array\"}],{},"
		"{\"name\":\"a\\\"b\\u00e9\\n\",\"init_pid\":-3,\"x\":99999999999999999999},"
		"{\"init_pid\":9223372036854775807,\"x\":-9223372036854775808}],\"z\":[1]}"),
	    1);
	/* Rows after a nested array whose last key was a field. */
	assert_int_equal(same("{\"items\":[{\"x\":[1,2]},[3],{\"name\":\"after\"}]}"), 1);
	/* yajl_tree_parse allows comments; so does the scanner. */
	assert_int_equal(same("/* c */ {\"items\":[{\"name\":\"c\"} // x\n]}"), 1);
}

static void test_no_list(void **state)
{
	(void)state;
	assert_int_equal(same("{}"), 0);
	assert_int_equal(same("{\"items\":{\"name\":\"x\"}}"), 0);
	assert_int_equal(same("{\"items\":\"x\"}"), 0);
	assert_int_equal(same("{\"other\":[{\"name\":\"x\"}]}"), 0);
	assert_int_equal(same("[{\"items\":[]}]"), 0);
	assert_int_equal(same("[]"), 0);
	assert_int_equal(same("\"items\""), 0);
}

static void test_malformed(void **state)
{
	(void)state;
	assert_int_equal(same(""), -1);
	assert_int_equal(same("{\"items\":[{\"name\":\"x\"}"), -1);
	assert_int_equal(same("{\"items\":[{\"name\":x}]}"), -1);
	assert_int_equal(same("{\"items\":[]} trailing"), -1);
	/* Duplicate keys anywhere, also apart from the list, also with a NUL. */
	assert_int_equal(same("{\"items\":[{\"name\":\"a\",\"name\":\"b\"}]}"), -1);
	assert_int_equal(same("{\"items\":[],\"items\":[]}"), -1);
	assert_int_equal(same("{\"o\":{\"k\":{\"a\":1,\"b\":2,\"a\":3}},\"items\":[]}"), -1);
	assert_int_equal(same("{\"items\":[],\"k\\u0000x\":1,\"k\":2}"), -1);
	/* Same keys in sibling objects are fine. */
	assert_int_equal(same("{\"items\":[{\"name\":\"a\"},{\"name\":\"b\"}]}"), 1);
	/* A duplicate and a later syntax error: the syntax error, as the tree. */
	assert_int_equal(same("{\"a\":1,\"a\":2,\"items\":[}"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rows),
	    cmocka_unit_test(test_no_list),
	    cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
