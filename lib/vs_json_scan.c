/* vs_json_scan: read the rows of a long list answer without building a
 * tree. vsctl printing 1,000 containers spent most of its time in
 * yajl_tree_parse: a malloc per value and per key, and arrays grown one
 * element at a time. This walks yajl's callbacks instead, checks the text
 * exactly as vs_json_parse does (yajl's syntax with comments allowed, no
 * duplicate key in any object) and keeps only the top-level scalars of
 * each row that the caller names, in buffers reused from row to row. */
#include "lib/vs_json.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "lib/vs_util.h"

/* One open object or array; for an object, the keys seen so far (each
 * NUL-terminated, one after another in keys). */
struct frame {
	bool map;
	char *keys;
	size_t keys_len, keys_cap;
};

struct scan {
	const char *key;
	const char *const *fields;
	size_t nfields;
	vs_json_row_fn fn;
	void *arg;
	struct frame *fr;
	size_t depth, cap;
	bool dup;
	/* The root's last key is `key`; its value, an array, is being read. */
	bool root_key_is_list, in_list;
	int field; /* index of the row member being read, or -1 */
	bool found;
	struct vs_json_cell *cells;
	char **bufs;
	size_t *buf_caps;
};

/* Inside an element (an object) of the list, at its top level, just after
 * the key of a member the caller asked for. */
static bool in_row(const struct scan *s)
{
	return s->in_list && s->depth == 3 && s->fr[2].map && s->field >= 0;
}

static void row_reset(struct scan *s)
{
	for (size_t i = 0; i < s->nfields; i++)
		s->cells[i] = (struct vs_json_cell){.type = VS_JSON_NULL, .text = NULL};
}

static void row_emit(struct scan *s)
{
	s->fn(s->arg, s->cells);
	row_reset(s);
}

/* Record a value of the type t (text of len bytes, for scalars) at the
 * current place: a member of a row, or a row that is not an object. */
static void value(struct scan *s, enum vs_json_type t, const char *text, size_t len)
{
	/* depth is that of the container holding the value. */
	if (s->in_list && s->depth == 2) {
		row_emit(s); /* an element that is not an object: a row of nothing */
		return;
	}
	if (!in_row(s))
		return;
	size_t i = (size_t)s->field;
	s->cells[i].type = t;
	s->cells[i].text = NULL;
	if (text == NULL)
		return;
	if (len + 1 > s->buf_caps[i]) {
		s->buf_caps[i] = len + 1 > 64 ? len + 1 : 64;
		s->bufs[i] = xrealloc(s->bufs[i], s->buf_caps[i]);
	}
	memcpy(s->bufs[i], text, len);
	s->bufs[i][len] = '\0';
	s->cells[i].text = s->bufs[i];
}

static int on_null(void *ctx)
{
	value(ctx, VS_JSON_NULL, NULL, 0);
	return 1;
}

static int on_bool(void *ctx, int b)
{
	value(ctx, VS_JSON_BOOL, b ? "true" : "false", b ? 4 : 5);
	return 1;
}

static int on_number(void *ctx, const char *n, size_t len)
{
	value(ctx, VS_JSON_NUMBER, n, len);
	return 1;
}

static int on_string(void *ctx, const unsigned char *str, size_t len)
{
	value(ctx, VS_JSON_STRING, (const char *)str, len);
	return 1;
}

static int open_any(struct scan *s, bool map)
{
	if (s->in_list && s->depth == 2)
		s->field = -1; /* a new element */
	else if (in_row(s))
		s->cells[s->field] = (struct vs_json_cell){
		    .type = map ? VS_JSON_OBJECT : VS_JSON_ARRAY,
		    .text = NULL,
		};
	if (s->depth == 1 && s->root_key_is_list && !map) {
		s->in_list = true;
		s->found = true;
	}
	if (s->depth == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->fr = xrealloc(s->fr, s->cap * sizeof(*s->fr));
		memset(s->fr + s->depth, 0, (s->cap - s->depth) * sizeof(*s->fr));
	}
	s->fr[s->depth].map = map;
	s->fr[s->depth].keys_len = 0;
	s->depth++;
	return 1;
}

static int on_start_map(void *ctx)
{
	return open_any(ctx, true);
}

static int on_start_array(void *ctx)
{
	return open_any(ctx, false);
}

static int close_any(void *ctx)
{
	struct scan *s = ctx;

	s->depth--;
	if (s->in_list && s->depth == 2)
		row_emit(s); /* an element (object or array) ends */
	else if (s->in_list && s->depth == 1)
		s->in_list = false;
	return 1;
}

static bool seen_key(const struct frame *f, const char *key, size_t len)
{
	for (size_t off = 0; off < f->keys_len;) {
		size_t n = strlen(f->keys + off);
		if (n == len && memcmp(f->keys + off, key, len) == 0)
			return true;
		off += n + 1;
	}
	return false;
}

static int on_map_key(void *ctx, const unsigned char *ukey, size_t len)
{
	struct scan *s = ctx;
	struct frame *f = &s->fr[s->depth - 1];
	const char *key = (const char *)ukey;

	/* Keys are compared as vs_json_parse's tree holds them: up to a NUL. */
	len = strnlen(key, len);
	/* Noted, not fatal: a syntax error later in the text is what
	 * vs_json_parse would report first. */
	if (seen_key(f, key, len))
		s->dup = true;
	if (f->keys_len + len + 1 > f->keys_cap) {
		f->keys_cap = (f->keys_len + len + 1) * 2;
		f->keys = xrealloc(f->keys, f->keys_cap);
	}
	memcpy(f->keys + f->keys_len, key, len);
	f->keys[f->keys_len + len] = '\0';
	f->keys_len += len + 1;
	if (s->depth == 1)
		s->root_key_is_list =
		    s->key != NULL && strlen(s->key) == len && memcmp(s->key, key, len) == 0;
	if (s->in_list && s->depth == 3) {
		s->field = -1;
		for (size_t i = 0; i < s->nfields; i++)
			if (strlen(s->fields[i]) == len && memcmp(s->fields[i], key, len) == 0)
				s->field = (int)i;
	}
	return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = close_any,
    .yajl_start_array = on_start_array,
    .yajl_end_array = close_any,
};

static void scan_free(struct scan *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->fr[i].keys);
	free(s->fr);
	for (size_t i = 0; i < s->nfields; i++)
		free(s->bufs[i]);
	free(s->bufs);
	free(s->buf_caps);
	free(s->cells);
}

/* The error vs_json_parse would give for this text. */
static int scan_error(yajl_handle h, const char *text, struct vs_error *err)
{
	unsigned char *msg = yajl_get_error(h, 1, (const unsigned char *)text, strlen(text));
	char ebuf[256] = "", *nl;

	/* yajl_tree_parse's copy: 255 bytes at most, then the first line. */
	snprintf(ebuf, sizeof(ebuf), "%s", msg != NULL ? (char *)msg : "");
	yajl_free_error(h, msg);
	nl = strchr(ebuf, '\n');
	if (nl != NULL)
		*nl = '\0';
	return vs_error_kind(err, VS_EK_INVALID, "malformed JSON: %s",
			     ebuf[0] ? ebuf : "parse error");
}

int vs_json_scan_rows(const char *text, const char *key, const char *const *fields, size_t nfields,
		      vs_json_row_fn fn, void *arg, struct vs_error *err)
{
	struct scan s = {
	    .key = key,
	    .fields = fields,
	    .nfields = nfields,
	    .fn = fn,
	    .arg = arg,
	    .field = -1,
	    .cells = xcalloc(nfields + 1, sizeof(struct vs_json_cell)),
	    .bufs = xcalloc(nfields + 1, sizeof(char *)),
	    .buf_caps = xcalloc(nfields + 1, sizeof(size_t)),
	};
	yajl_handle h = yajl_alloc(&callbacks, NULL, &s);
	yajl_status st;
	int r;

	if (h == NULL)
		abort();
	/* As yajl_tree_parse, which vs_json_parse uses. */
	yajl_config(h, yajl_allow_comments, 1);
	row_reset(&s);
	st = yajl_parse(h, (const unsigned char *)text, strlen(text));
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st != yajl_status_ok)
		r = scan_error(h, text, err);
	else if (s.dup)
		r = vs_error_kind(err, VS_EK_INVALID, "malformed JSON: duplicate key");
	else
		r = s.found ? 1 : 0;
	yajl_free(h);
	scan_free(&s);
	return r;
}

bool vs_json_cell_int64(const struct vs_json_cell *c, int64_t *out)
{
	char *end;
	long long v;

	/* What yajl's tree calls an integer: digits (and a sign) whose
	 * magnitude fits in a long long, so not LLONG_MIN. */
	if (c->type != VS_JSON_NUMBER || c->text == NULL || strpbrk(c->text, ".eE") != NULL)
		return false;
	errno = 0;
	v = strtoll(c->text, &end, 10);
	if (errno != 0 || *end != '\0' || end == c->text || v == LLONG_MIN)
		return false;
	*out = (int64_t)v;
	return true;
}
