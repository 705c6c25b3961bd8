/* vs_json: the only module that talks to yajl. Parsing yields a read-only
 * tree; a generator builds JSON text. Typed checking of fields happens in
 * the modules that own a document (vs_config for container configs). */
#ifndef VS_JSON_H
#define VS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/vs_error.h"

struct vs_json; /* opaque, read-only parsed value */

enum vs_json_type {
	VS_JSON_NULL,
	VS_JSON_BOOL,
	VS_JSON_NUMBER,
	VS_JSON_STRING,
	VS_JSON_ARRAY,
	VS_JSON_OBJECT,
};

/* Parse NUL-terminated text. Returns 0 and *out (free with vs_json_free),
 * or -1 with err (kind VS_EK_INVALID) saying what is malformed. Duplicate
 * keys are refused. */
int vs_json_parse(const char *text, struct vs_json **out, struct vs_error *err);
void vs_json_free(struct vs_json *v);
void vs_json_freep(struct vs_json **v);
#define cleanup_json __attribute__((cleanup(vs_json_freep)))

enum vs_json_type vs_json_type(const struct vs_json *v);
const char *vs_json_type_name(enum vs_json_type t);

/* Object member by key, or NULL. */
const struct vs_json *vs_json_get(const struct vs_json *obj, const char *key);
size_t vs_json_object_len(const struct vs_json *obj);
const char *vs_json_object_key(const struct vs_json *obj, size_t i);
const struct vs_json *vs_json_object_value(const struct vs_json *obj, size_t i);
size_t vs_json_array_len(const struct vs_json *arr);
const struct vs_json *vs_json_array_at(const struct vs_json *arr, size_t i);

/* Scalars. vs_json_string returns NULL unless v is a string; vs_json_int64
 * returns false unless v is an integral number that fits. */
const char *vs_json_string(const struct vs_json *v);
bool vs_json_bool(const struct vs_json *v, bool *out);
bool vs_json_int64(const struct vs_json *v, int64_t *out);
bool vs_json_double(const struct vs_json *v, double *out);
/* The number's original text (for exact decimal parsing), or NULL. */
const char *vs_json_number_text(const struct vs_json *v);

/* Rows of a list without a tree (lib/vs_json_scan.c). text is checked as
 * vs_json_parse checks it. For each element of the array that is the root
 * object's member `key`, in order, fn gets one cell per name in fields: the
 * element's top-level member of that name (type and, for a scalar, its
 * text: a string's value, a number's text, "true"/"false"), or type
 * VS_JSON_NULL with text NULL when absent or when the element is not an
 * object. Cells are valid during the call only. Returns 1 when the array
 * was there, 0 when the root has no such array member (fn not called), -1
 * with err (VS_EK_INVALID) when text is malformed; fn may have been called
 * for earlier rows before a malformation is found. */
struct vs_json_cell {
	enum vs_json_type type;
	const char *text;
};
typedef void (*vs_json_row_fn)(void *arg, const struct vs_json_cell *cells);
int vs_json_scan_rows(const char *text, const char *key, const char *const *fields, size_t nfields,
		      vs_json_row_fn fn, void *arg, struct vs_error *err);
/* A cell's value as vs_json_int64 reads a number: integral and fitting. */
bool vs_json_cell_int64(const struct vs_json_cell *c, int64_t *out);

/* Generator. All calls abort on allocation failure only. */
struct vs_jgen;
struct vs_jgen *vs_jgen_new(bool pretty);
void vs_jgen_free(struct vs_jgen *g);
void vs_jgen_freep(struct vs_jgen **g);
#define cleanup_jgen __attribute__((cleanup(vs_jgen_freep)))
void vs_jgen_obj_open(struct vs_jgen *g);
void vs_jgen_obj_close(struct vs_jgen *g);
void vs_jgen_arr_open(struct vs_jgen *g);
void vs_jgen_arr_close(struct vs_jgen *g);
void vs_jgen_key(struct vs_jgen *g, const char *key);
void vs_jgen_str(struct vs_jgen *g, const char *s); /* NULL emits null */
void vs_jgen_int(struct vs_jgen *g, int64_t v);
void vs_jgen_double(struct vs_jgen *g, double v);
void vs_jgen_bool(struct vs_jgen *g, bool v);
void vs_jgen_null(struct vs_jgen *g);
/* Convenience: key + value. */
void vs_jgen_kv_str(struct vs_jgen *g, const char *key, const char *s);
void vs_jgen_kv_int(struct vs_jgen *g, const char *key, int64_t v);
void vs_jgen_kv_bool(struct vs_jgen *g, const char *key, bool v);
/* Copy a parsed value into the generator. */
void vs_jgen_value(struct vs_jgen *g, const struct vs_json *v);
/* The text so far (valid until the next call on g); *len may be NULL. */
const char *vs_jgen_text(struct vs_jgen *g, size_t *len);
/* A malloc'd copy of the text. */
char *vs_jgen_steal(struct vs_jgen *g);

#endif
