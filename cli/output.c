/* Output: tables, "key: value" listings and raw JSON. */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/vs_util.h"
#include "lib/vs_validate.h"

struct vc_table {
	size_t ncols, nrows, cap;
	char **cells; /* (nrows + 1) * ncols, row 0 the headers */
};

struct vc_table *vc_table_new(size_t ncols, const char *const *headers)
{
	struct vc_table *t = xcalloc(1, sizeof(*t));

	t->ncols = ncols;
	vc_table_add(t, headers);
	return t;
}

void vc_table_add(struct vc_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = xrealloc(t->cells, t->cap * t->ncols * sizeof(char *));
	}
	for (size_t i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = xstrdup(cells[i] ? cells[i] : "-");
	t->nrows++;
}

void vc_table_free(struct vc_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

void vc_table_print(struct vc_table *t)
{
	cleanup_free size_t *width = xcalloc(t->ncols, sizeof(size_t));

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < t->ncols; i++) {
			size_t w = strlen(t->cells[r * t->ncols + i]);
			if (w > width[i])
				width[i] = w;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t i = 0; i < t->ncols; i++) {
			const char *s = t->cells[r * t->ncols + i];
			if (i + 1 == t->ncols)
				printf("%s\n", s);
			else
				printf("%-*s  ", (int)width[i], s);
		}
	}
	vc_table_free(t);
}

int vc_show(const struct vc_ctx *ctx, const char *path, struct vs_error *err)
{
	cleanup_free char *raw = NULL;
	cleanup_json struct vs_json *root = NULL;

	if (vc_api(ctx, "GET", path, NULL, &raw, &root, err) < 0)
		return VC_ERR_FAIL;
	if (ctx->json)
		vc_print_raw_json(raw);
	else
		vc_print_object(root);
	return 0;
}

/* GET path: the body as it came (never NULL), checked as JSON when not
 * empty, as vc_api checks what it parses. */
static int get_checked(const struct vc_ctx *ctx, const char *path, char **raw, struct vs_error *err)
{
	if (vc_api(ctx, "GET", path, NULL, raw, NULL, err) < 0)
		return -1;
	if (*raw == NULL)
		*raw = xstrdup("");
	if ((*raw)[0] != '\0' && vs_json_scan_rows(*raw, NULL, NULL, 0, NULL, NULL, err) < 0)
		return vs_error_prefix(err, "GET %s: the daemon's answer", path);
	return 0;
}

/* A list command's options; with --json, the answer's text printed as it
 * came (only checked, not made a tree). *done when nothing is left to do,
 * with the command's result. */
static int list_begin(struct vc_ctx *ctx, int argc, char **argv, const char *path, bool *done,
		      struct vs_error *err)
{
	cleanup_free char *raw = NULL;
	int r = vc_parse_reading(ctx, argc, argv, false, "", NULL, err);

	*done = true;
	if (r != 0)
		return r == VC_HELP_SHOWN ? 0 : r;
	if (ctx->json) {
		if (get_checked(ctx, path, &raw, err) < 0)
			return VC_ERR_FAIL;
		vc_print_raw_json(raw);
		return 0;
	}
	*done = false;
	return 0;
}

int vc_list_command(struct vc_ctx *ctx, int argc, char **argv, const char *path, const char *key,
		    const char *const *headers, size_t ncols, vc_row_fn row, struct vs_error *err)
{
	cleanup_free char *raw = NULL;
	cleanup_json struct vs_json *root = NULL;
	const struct vs_json *list;
	struct vc_table *t;
	bool done;
	int r = list_begin(ctx, argc, argv, path, &done, err);

	if (done)
		return r;
	if (vc_api(ctx, "GET", path, NULL, &raw, &root, err) < 0)
		return VC_ERR_FAIL;
	list = vs_json_get(root, key);
	if (vs_json_type(list) != VS_JSON_ARRAY)
		return vs_error_kind(err, VS_EK_INTERNAL, "the daemon's answer has no \"%s\" array",
				     key);
	t = vc_table_new(ncols, headers);
	for (size_t i = 0; i < vs_json_array_len(list); i++)
		row(t, vs_json_array_at(list, i));
	vc_table_print(t);
	return 0;
}

struct flat {
	struct vc_table *t;
	vc_cells_fn row;
};

static void flat_row(void *arg, const struct vs_json_cell *cells)
{
	struct flat *f = arg;

	f->row(f->t, cells);
}

int vc_list_flat(struct vc_ctx *ctx, int argc, char **argv, const char *path, const char *key,
		 const char *const *headers, const char *const *fields, size_t ncols,
		 vc_cells_fn row, struct vs_error *err)
{
	cleanup_free char *raw = NULL;
	struct flat f = {.row = row};
	bool done;
	int r = list_begin(ctx, argc, argv, path, &done, err);

	if (done)
		return r;
	if (vc_api(ctx, "GET", path, NULL, &raw, NULL, err) < 0)
		return VC_ERR_FAIL;
	f.t = vc_table_new(ncols, headers);
	r = raw != NULL && raw[0] != '\0'
		? vs_json_scan_rows(raw, key, fields, ncols, flat_row, &f, err)
		: 0;
	if (r < 0) {
		vc_table_free(f.t);
		return vs_error_prefix(err, "GET %s: the daemon's answer", path);
	}
	if (r == 0) {
		vc_table_free(f.t);
		return vs_error_kind(err, VS_EK_INTERNAL, "the daemon's answer has no \"%s\" array",
				     key);
	}
	vc_table_print(f.t);
	return 0;
}

void vc_print_raw_json(const char *raw)
{
	size_t n = strlen(raw);

	fputs(raw, stdout);
	if (n == 0 || raw[n - 1] != '\n')
		putchar('\n');
}

void vc_scalar_text(const struct vs_json *v, char *buf, size_t len)
{
	bool b;

	switch (vs_json_type(v)) {
	case VS_JSON_STRING:
		snprintf(buf, len, "%s", vs_json_string(v));
		break;
	case VS_JSON_NUMBER:
		snprintf(buf, len, "%s", vs_json_number_text(v));
		break;
	case VS_JSON_BOOL:
		vs_json_bool(v, &b);
		snprintf(buf, len, "%s", b ? "true" : "false");
		break;
	default:
		snprintf(buf, len, "-");
	}
}

void vc_format_time(const struct vs_json *v, bool seconds, char *buf, size_t len)
{
	int64_t t;
	time_t tt;
	struct tm tm;

	if (!vs_json_int64(v, &t) || t <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	tt = (time_t)t;
	if (localtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, seconds ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(buf, len, "%" PRId64, t);
}

void vc_format_size_short(int64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTP";
	double v = (double)bytes;
	int u = -1;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRId64, bytes);
	else if (v < 10 && v != (double)(int64_t)v)
		snprintf(buf, len, "%.1f%c", v, units[u]);
	else
		snprintf(buf, len, "%.0f%c", v, units[u]);
}

/* Size-valued members of a limits object print as sizes. */
static bool is_size_key(const char *path)
{
	return strcmp(path, "limits.memory") == 0 || strcmp(path, "limits.memory_swap") == 0 ||
	       strcmp(path, "size") == 0;
}

static void value_text(const char *path, const char *key, const struct vs_json *v, char *buf,
		       size_t len)
{
	size_t klen = strlen(key);
	int64_t n;

	if (klen > 3 && strcmp(key + klen - 3, "_at") == 0 && vs_json_int64(v, &n)) {
		vc_format_time(v, true, buf, len);
	} else if (is_size_key(path) && vs_json_int64(v, &n)) {
		if (n == -1)
			snprintf(buf, len, "unlimited");
		else if (n <= 0)
			snprintf(buf, len, "%" PRId64, n);
		else
			vs_format_size(n, buf, len);
	} else {
		vc_scalar_text(v, buf, len);
	}
}

/* An array of strings with one holding a space (messages, not words). */
static bool has_sentences(const struct vs_json *arr)
{
	bool any = false;

	for (size_t i = 0; i < vs_json_array_len(arr); i++) {
		const char *s = vs_json_string(vs_json_array_at(arr, i));
		if (s == NULL)
			return false;
		any = any || strchr(s, ' ') != NULL;
	}
	return any;
}

/* The member naming an item of an array of objects ("name" of an
 * interface, "interface" of its counters), or NULL. */
static const char *item_key(const struct vs_json *item)
{
	if (vs_json_string(vs_json_get(item, "name")) != NULL)
		return "name";
	if (vs_json_string(vs_json_get(item, "interface")) != NULL)
		return "interface";
	return NULL;
}

static void print_members(const char *prefix, const struct vs_json *obj, const char *skip);

/* An array of objects (interfaces): each item's members under
 * "path.LABEL.", LABEL its name or its index. */
static void print_items(const char *path, const struct vs_json *arr)
{
	for (size_t j = 0; j < vs_json_array_len(arr); j++) {
		const struct vs_json *item = vs_json_array_at(arr, j);
		const char *k = item_key(item);
		cleanup_free char *p =
		    k ? xasprintf("%s.%s", path, vs_json_string(vs_json_get(item, k)))
		      : xasprintf("%s.%zu", path, j);
		print_members(p, item, k);
	}
}

static void print_members(const char *prefix, const struct vs_json *obj, const char *skip)
{
	for (size_t i = 0; i < vs_json_object_len(obj); i++) {
		const char *key = vs_json_object_key(obj, i);
		const struct vs_json *v = vs_json_object_value(obj, i);
		cleanup_free char *path =
		    prefix[0] ? xasprintf("%s.%s", prefix, key) : xstrdup(key);
		char buf[256];

		if (skip != NULL && strcmp(key, skip) == 0)
			continue;
		if (vs_json_type(v) == VS_JSON_OBJECT) {
			print_members(path, v, NULL);
			continue;
		}
		if (vs_json_type(v) == VS_JSON_ARRAY && vs_json_array_len(v) > 0 &&
		    vs_json_type(vs_json_array_at(v, 0)) == VS_JSON_OBJECT) {
			print_items(path, v);
			continue;
		}
		if (vs_json_type(v) == VS_JSON_ARRAY && has_sentences(v)) {
			/* Words join on one line; sentences get a line each. */
			for (size_t j = 0; j < vs_json_array_len(v); j++)
				printf("%s: %s\n", path, vs_json_string(vs_json_array_at(v, j)));
			continue;
		}
		if (vs_json_type(v) == VS_JSON_ARRAY) {
			printf("%s:", path);
			for (size_t j = 0; j < vs_json_array_len(v); j++) {
				vc_scalar_text(vs_json_array_at(v, j), buf, sizeof(buf));
				printf(" %s", buf);
			}
			putchar('\n');
			continue;
		}
		value_text(path, key, v, buf, sizeof(buf));
		printf("%s: %s\n", path, buf);
	}
}

void vc_print_object(const struct vs_json *obj)
{
	print_members("", obj, NULL);
}

int vc_delete_command(struct vc_ctx *ctx, int argc, char **argv, const char *collection,
		      const char *what, struct vs_error *err)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	cleanup_free char *path = NULL;
	bool reset = true;
	int c;

	while ((c = vc_getopt(argc, argv, "h", opts, &reset, err)) != -1) {
		if (c != 'h')
			return VC_ERR_USAGE;
		vc_cmd_help(ctx);
		return 0;
	}
	if (vc_positional(argc, optind, 1, 1, what, err) < 0)
		return VC_ERR_USAGE;
	path = vc_api_path(collection, argv[optind], "");
	if (vc_api(ctx, "DELETE", path, NULL, NULL, NULL, err) < 0)
		return VC_ERR_FAIL;
	return 0;
}
