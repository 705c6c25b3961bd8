#include "lib/vs_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#include "lib/vs_util.h"

/* struct vs_json is yajl's tree node; the cast is the whole abstraction. */
#define Y(v) ((yajl_val)(v))

static bool has_duplicate_keys(yajl_val v)
{
	if (YAJL_IS_OBJECT(v)) {
		size_t n = v->u.object.len;
		for (size_t i = 0; i < n; i++) {
			for (size_t j = i + 1; j < n; j++)
				if (strcmp(v->u.object.keys[i], v->u.object.keys[j]) == 0)
					return true;
			if (has_duplicate_keys(v->u.object.values[i]))
				return true;
		}
	} else if (YAJL_IS_ARRAY(v)) {
		for (size_t i = 0; i < v->u.array.len; i++)
			if (has_duplicate_keys(v->u.array.values[i]))
				return true;
	}
	return false;
}

int vs_json_parse(const char *text, struct vs_json **out, struct vs_error *err)
{
	char ebuf[256] = "";
	yajl_val v = yajl_tree_parse(text, ebuf, sizeof(ebuf));

	if (v == NULL) {
		/* yajl's message spans lines; keep the first one. */
		char *nl = strchr(ebuf, '\n');
		if (nl != NULL)
			*nl = '\0';
		return vs_error_kind(err, VS_EK_INVALID, "malformed JSON: %s",
				     ebuf[0] ? ebuf : "parse error");
	}
	if (has_duplicate_keys(v)) {
		yajl_tree_free(v);
		return vs_error_kind(err, VS_EK_INVALID, "malformed JSON: duplicate key");
	}
	*out = (struct vs_json *)v;
	return 0;
}

void vs_json_free(struct vs_json *v)
{
	if (v != NULL)
		yajl_tree_free(Y(v));
}

void vs_json_freep(struct vs_json **v)
{
	vs_json_free(*v);
	*v = NULL;
}

enum vs_json_type vs_json_type(const struct vs_json *v)
{
	if (v == NULL)
		return VS_JSON_NULL;
	switch (Y(v)->type) {
	case yajl_t_string:
		return VS_JSON_STRING;
	case yajl_t_number:
		return VS_JSON_NUMBER;
	case yajl_t_object:
		return VS_JSON_OBJECT;
	case yajl_t_array:
		return VS_JSON_ARRAY;
	case yajl_t_true:
	case yajl_t_false:
		return VS_JSON_BOOL;
	default:
		return VS_JSON_NULL;
	}
}

const char *vs_json_type_name(enum vs_json_type t)
{
	static const char *const names[] = {"null",   "boolean", "number",
					    "string", "array",	 "object"};
	return names[t];
}

const struct vs_json *vs_json_get(const struct vs_json *obj, const char *key)
{
	if (obj == NULL || !YAJL_IS_OBJECT(Y(obj)))
		return NULL;
	for (size_t i = 0; i < Y(obj)->u.object.len; i++)
		if (strcmp(Y(obj)->u.object.keys[i], key) == 0)
			return (const struct vs_json *)Y(obj)->u.object.values[i];
	return NULL;
}

size_t vs_json_object_len(const struct vs_json *obj)
{
	return obj != NULL && YAJL_IS_OBJECT(Y(obj)) ? Y(obj)->u.object.len : 0;
}

const char *vs_json_object_key(const struct vs_json *obj, size_t i)
{
	return Y(obj)->u.object.keys[i];
}

const struct vs_json *vs_json_object_value(const struct vs_json *obj, size_t i)
{
	return (const struct vs_json *)Y(obj)->u.object.values[i];
}

size_t vs_json_array_len(const struct vs_json *arr)
{
	return arr != NULL && YAJL_IS_ARRAY(Y(arr)) ? Y(arr)->u.array.len : 0;
}

const struct vs_json *vs_json_array_at(const struct vs_json *arr, size_t i)
{
	return (const struct vs_json *)Y(arr)->u.array.values[i];
}

const char *vs_json_string(const struct vs_json *v)
{
	return v != NULL && YAJL_IS_STRING(Y(v)) ? Y(v)->u.string : NULL;
}

bool vs_json_bool(const struct vs_json *v, bool *out)
{
	if (v == NULL)
		return false;
	if (YAJL_IS_TRUE(Y(v)))
		*out = true;
	else if (YAJL_IS_FALSE(Y(v)))
		*out = false;
	else
		return false;
	return true;
}

bool vs_json_int64(const struct vs_json *v, int64_t *out)
{
	if (v == NULL || !YAJL_IS_INTEGER(Y(v)))
		return false;
	*out = (int64_t)YAJL_GET_INTEGER(Y(v));
	return true;
}

bool vs_json_double(const struct vs_json *v, double *out)
{
	if (v == NULL || !YAJL_IS_NUMBER(Y(v)))
		return false;
	*out = YAJL_IS_DOUBLE(Y(v)) ? YAJL_GET_DOUBLE(Y(v)) : (double)YAJL_GET_INTEGER(Y(v));
	return true;
}

const char *vs_json_number_text(const struct vs_json *v)
{
	return v != NULL && YAJL_IS_NUMBER(Y(v)) ? Y(v)->u.number.r : NULL;
}

struct vs_jgen {
	yajl_gen g;
};

struct vs_jgen *vs_jgen_new(bool pretty)
{
	struct vs_jgen *j = xcalloc(1, sizeof(*j));
	j->g = yajl_gen_alloc(NULL);
	if (j->g == NULL)
		abort();
	yajl_gen_config(j->g, yajl_gen_beautify, pretty ? 1 : 0);
	yajl_gen_config(j->g, yajl_gen_indent_string, "  ");
	return j;
}

void vs_jgen_free(struct vs_jgen *g)
{
	if (g == NULL)
		return;
	yajl_gen_free(g->g);
	free(g);
}

void vs_jgen_freep(struct vs_jgen **g)
{
	vs_jgen_free(*g);
	*g = NULL;
}

void vs_jgen_obj_open(struct vs_jgen *g)
{
	yajl_gen_map_open(g->g);
}

void vs_jgen_obj_close(struct vs_jgen *g)
{
	yajl_gen_map_close(g->g);
}

void vs_jgen_arr_open(struct vs_jgen *g)
{
	yajl_gen_array_open(g->g);
}

void vs_jgen_arr_close(struct vs_jgen *g)
{
	yajl_gen_array_close(g->g);
}

void vs_jgen_key(struct vs_jgen *g, const char *key)
{
	yajl_gen_string(g->g, (const unsigned char *)key, strlen(key));
}

void vs_jgen_str(struct vs_jgen *g, const char *s)
{
	if (s == NULL)
		yajl_gen_null(g->g);
	else
		yajl_gen_string(g->g, (const unsigned char *)s, strlen(s));
}

void vs_jgen_int(struct vs_jgen *g, int64_t v)
{
	yajl_gen_integer(g->g, (long long)v);
}

void vs_jgen_double(struct vs_jgen *g, double v)
{
	yajl_gen_double(g->g, v);
}

void vs_jgen_bool(struct vs_jgen *g, bool v)
{
	yajl_gen_bool(g->g, v ? 1 : 0);
}

void vs_jgen_null(struct vs_jgen *g)
{
	yajl_gen_null(g->g);
}

void vs_jgen_kv_str(struct vs_jgen *g, const char *key, const char *s)
{
	vs_jgen_key(g, key);
	vs_jgen_str(g, s);
}

void vs_jgen_kv_int(struct vs_jgen *g, const char *key, int64_t v)
{
	vs_jgen_key(g, key);
	vs_jgen_int(g, v);
}

void vs_jgen_kv_bool(struct vs_jgen *g, const char *key, bool v)
{
	vs_jgen_key(g, key);
	vs_jgen_bool(g, v);
}

void vs_jgen_value(struct vs_jgen *g, const struct vs_json *v)
{
	const char *num;
	bool b = false;

	switch (vs_json_type(v)) {
	case VS_JSON_NULL:
		vs_jgen_null(g);
		break;
	case VS_JSON_BOOL:
		vs_json_bool(v, &b);
		vs_jgen_bool(g, b);
		break;
	case VS_JSON_NUMBER:
		num = vs_json_number_text(v);
		yajl_gen_number(g->g, num, strlen(num));
		break;
	case VS_JSON_STRING:
		vs_jgen_str(g, vs_json_string(v));
		break;
	case VS_JSON_ARRAY:
		vs_jgen_arr_open(g);
		for (size_t i = 0; i < vs_json_array_len(v); i++)
			vs_jgen_value(g, vs_json_array_at(v, i));
		vs_jgen_arr_close(g);
		break;
	case VS_JSON_OBJECT:
		vs_jgen_obj_open(g);
		for (size_t i = 0; i < vs_json_object_len(v); i++) {
			vs_jgen_key(g, vs_json_object_key(v, i));
			vs_jgen_value(g, vs_json_object_value(v, i));
		}
		vs_jgen_obj_close(g);
		break;
	}
}

const char *vs_jgen_text(struct vs_jgen *g, size_t *len)
{
	const unsigned char *buf = NULL;
	size_t n = 0;

	yajl_gen_get_buf(g->g, &buf, &n);
	if (len != NULL)
		*len = n;
	return (const char *)buf;
}

char *vs_jgen_steal(struct vs_jgen *g)
{
	size_t n;
	const char *t = vs_jgen_text(g, &n);
	return xstrndup(t ? t : "", n);
}
