/* Pure REST logic of vsd: the route matcher, the mapping of
 * error kinds to HTTP, request body accumulation and small JSON helpers.
 * Nothing here touches a socket or the disk, so all of it is unit tested. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/http.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

/* Next '/'-separated segment of *p: start and length; advances *p past it.
 * Returns false at the end of the string. */
static bool next_segment(const char **p, const char **seg, size_t *len)
{
	if (**p == '\0')
		return false;
	if (**p != '/')
		return false;
	(*p)++;
	*seg = *p;
	while (**p != '\0' && **p != '/')
		(*p)++;
	*len = (size_t)(*p - *seg);
	return true;
}

/* Match path against one pattern; on success fills params (malloc'd). */
static bool path_matches(const char *pattern, const char *path, struct vsd_match *m)
{
	const char *pp = pattern, *sp = path;
	const char *pseg, *sseg;
	size_t plen, slen;
	struct vsd_match tmp = {0};

	if (path[0] != '/')
		return false;
	for (;;) {
		bool pmore = next_segment(&pp, &pseg, &plen);
		bool smore = next_segment(&sp, &sseg, &slen);
		if (!pmore || !smore) {
			if (pmore == smore && *sp == '\0') {
				if (m != NULL)
					*m = tmp;
				else
					vsd_match_clear(&tmp);
				return true;
			}
			break;
		}
		if (plen > 2 && pseg[0] == '{') {
			if (slen == 0 || tmp.nparams == VSD_PARAMS_MAX)
				break;
			tmp.params[tmp.nparams++] = xstrndup(sseg, slen);
		} else if (plen != slen || memcmp(pseg, sseg, plen) != 0) {
			break;
		}
	}
	vsd_match_clear(&tmp);
	return false;
}

enum vsd_match_result vsd_route_match(const struct vsd_route *table, size_t n, const char *method,
				      const char *path, struct vsd_match *m, char *allow,
				      size_t allow_len)
{
	bool path_known = false;
	size_t used = 0;

	memset(m, 0, sizeof(*m));
	if (allow_len > 0)
		allow[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (strcmp(table[i].method, method) == 0 &&
		    path_matches(table[i].pattern, path, m)) {
			m->route = &table[i];
			return VSD_MATCH_OK;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!path_matches(table[i].pattern, path, NULL))
			continue;
		path_known = true;
		if (allow_len > used) {
			int w = snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "",
					 table[i].method);
			if (w > 0)
				used += (size_t)w < allow_len - used ? (size_t)w : allow_len - used;
		}
	}
	return path_known ? VSD_MATCH_BAD_METHOD : VSD_MATCH_NO_ROUTE;
}

void vsd_match_clear(struct vsd_match *m)
{
	for (size_t i = 0; i < VSD_PARAMS_MAX; i++) {
		free(m->params[i]);
		m->params[i] = NULL;
	}
	m->nparams = 0;
	m->route = NULL;
}

int vsd_match_validate(const struct vsd_match *m, struct vs_error *err)
{
	const char *p = m->route->pattern;
	size_t i = 0;

	/* "{name}" and "{snap}" placeholders are names; "{id}" is the
	 * handler's. */
	while ((p = strchr(p, '{')) != NULL && i < m->nparams) {
		if (strncmp(p, "{name}", 6) == 0 &&
		    vs_validate_name(m->params[i], m->route->what ? m->route->what : "name", err) <
			0)
			return -1;
		if (strncmp(p, "{snap}", 6) == 0 &&
		    vs_validate_name(m->params[i], "snapshot name", err) < 0)
			return -1;
		i++;
		p++;
	}
	return 0;
}

int vsd_path_check(const char *path, struct vs_error *err)
{
	for (const unsigned char *p = (const unsigned char *)path; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return vs_error_kind(err, VS_EK_INVALID,
					     "request path: control character 0x%02x at offset %zu "
					     "(a percent-encoded %%00 counts as one)",
					     *p, (size_t)(p - (const unsigned char *)path));
	return 0;
}

size_t vsd_unescape_nul(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\0')
			s[i] = VSD_DECODED_NUL;
	return len;
}

static const struct {
	unsigned status;
	const char *code;
} error_map[] = {
    [VS_EK_INTERNAL] = {500, "internal"},
    [VS_EK_INVALID] = {400, "invalid"},
    [VS_EK_NOT_FOUND] = {404, "not_found"},
    [VS_EK_CONFLICT] = {409, "conflict"},
    [VS_EK_TOO_LARGE] = {413, "too_large"},
    [VS_EK_UNSUPPORTED] = {501, "unsupported"},
    [VS_EK_PRECONDITION] = {412, "precondition_failed"},
    [VS_EK_UNAUTHORIZED] = {401, "unauthorized"},
    [VS_EK_FORBIDDEN] = {403, "forbidden"},
};

unsigned vsd_error_status(enum vs_error_kind kind)
{
	if ((size_t)kind >= VS_ARRAY_SIZE(error_map))
		return 500;
	return error_map[kind].status;
}

const char *vsd_error_code(enum vs_error_kind kind)
{
	if ((size_t)kind >= VS_ARRAY_SIZE(error_map))
		return "internal";
	return error_map[kind].code;
}

char *vsd_error_body(const char *code, const char *msg)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_free char *clean = vsd_sanitize(msg, VS_ERROR_MSG_MAX);
	size_t len;
	const char *text;

	vs_jgen_obj_open(g);
	vs_jgen_key(g, "error");
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "code", code);
	vs_jgen_kv_str(g, "message", clean);
	vs_jgen_obj_close(g);
	vs_jgen_obj_close(g);
	text = vs_jgen_text(g, &len);
	return xasprintf("%.*s\n", (int)len, text);
}

void vsd_gen_error(struct vs_jgen *g, const struct vs_error *err)
{
	cleanup_free char *clean = vsd_sanitize(err->msg, VS_ERROR_MSG_MAX);

	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "code", vsd_error_code(err->kind));
	vs_jgen_kv_str(g, "message", clean);
	vs_jgen_obj_close(g);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are invalid. */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

char *vsd_sanitize(const char *s, size_t max)
{
	size_t len = strnlen(s, max);
	char *out = xmalloc(len + 1);
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		const unsigned char *p = (const unsigned char *)s + i;
		size_t n = utf8_len(p);
		if (n == 0 || i + n > len || (p[0] < 0x20 && p[0] != '\t') || p[0] == 0x7f) {
			out[o++] = '?';
			i++;
			continue;
		}
		/* C1 controls (U+0080..U+009F, CSI among them) act on terminals
		 * like their 7-bit escapes. */
		if (n == 2 && p[0] == 0xc2 && p[1] <= 0x9f) {
			out[o++] = '?';
			i += 2;
			continue;
		}
		memcpy(out + o, p, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return out;
}

bool vsd_body_append(struct vsd_body *b, const char *data, size_t n, size_t max)
{
	if (b->too_large)
		return false;
	if (n > max || b->len > max - n) {
		b->too_large = true;
		free(b->buf);
		b->buf = NULL;
		b->len = b->cap = 0;
		return false;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->buf = xrealloc(b->buf, cap);
		b->cap = cap;
	}
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return true;
}

void vsd_body_free(struct vsd_body *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

bool vsd_content_length_exceeds(const char *value, size_t max)
{
	unsigned long long v;
	char *end;

	if (value == NULL)
		return false;
	while (*value == ' ' || *value == '\t')
		value++;
	if (*value < '0' || *value > '9')
		return false; /* malformed: MHD itself refuses it */
	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno == ERANGE)
		return true;
	return v > max;
}

bool vsd_header_has_token(const char *value, const char *token)
{
	size_t tlen = strlen(token);

	while (value != NULL && *value != '\0') {
		const char *end;
		size_t len;

		value += strspn(value, " \t,");
		end = value + strcspn(value, ",");
		len = (size_t)(end - value);
		while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
			len--;
		if (len == tlen && len > 0 && strncasecmp(value, token, len) == 0)
			return true;
		value = end;
	}
	return false;
}

/* True if a JSON text holds the escape \u0000. Parsed strings are C
 * strings, so a NUL would silently cut a value short ("/a\u0000/../b"
 * reading as "/a"). Backslashes only occur inside strings, where each
 * starts a two-character escape or a \uXXXX one. */
static bool has_escaped_nul(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s != '\\')
			continue;
		if (s[1] == 'u' && strncmp(s + 2, "0000", 4) == 0)
			return true;
		if (s[1] == '\0')
			break;
		s++; /* the escaped character */
	}
	return false;
}

int vsd_parse_body(const char *body, size_t len, bool allow_empty, struct vs_json **out,
		   struct vs_error *err)
{
	cleanup_json struct vs_json *v = NULL;
	size_t i = 0;

	while (body != NULL && i < len && strchr(" \t\r\n", body[i]) != NULL)
		i++;
	if (body == NULL || i == len) {
		if (!allow_empty)
			return vs_error_kind(err, VS_EK_INVALID,
					     "request body: expected a JSON object");
		return vs_json_parse("{}", out, err);
	}
	if (strnlen(body, len) != len)
		return vs_error_kind(err, VS_EK_INVALID, "request body: contains a NUL byte");
	if (has_escaped_nul(body))
		return vs_error_kind(err, VS_EK_INVALID,
				     "request body: contains a NUL character (\\u0000)");
	if (vs_json_parse(body, &v, err) < 0)
		return -1;
	if (vs_json_type(v) != VS_JSON_OBJECT)
		return vs_error_kind(err, VS_EK_INVALID, "request body: expected an object, got %s",
				     vs_json_type_name(vs_json_type(v)));
	*out = steal_ptr(&v);
	return 0;
}

int vsd_check_fields(const struct vs_json *obj, const char *const *allowed, struct vs_error *err)
{
	for (size_t i = 0; i < vs_json_object_len(obj); i++) {
		const char *k = vs_json_object_key(obj, i);
		bool ok = false;
		for (size_t j = 0; allowed[j] != NULL && !ok; j++)
			ok = strcmp(k, allowed[j]) == 0;
		if (!ok) {
			cleanup_free char *clean = vsd_sanitize(k, 128);
			return vs_error_kind(err, VS_EK_INVALID, "%s: unknown field", clean);
		}
	}
	return 0;
}

int vsd_json_strv(const struct vs_json *v, const char *what, char ***out, struct vs_error *err)
{
	cleanup_strv char **strv = NULL;
	size_t n;

	*out = NULL;
	if (v == NULL || vs_json_type(v) == VS_JSON_NULL)
		return 0;
	if (vs_json_type(v) != VS_JSON_ARRAY)
		return vs_error_kind(err, VS_EK_INVALID, "%s: expected an array of strings, got %s",
				     what, vs_json_type_name(vs_json_type(v)));
	n = vs_json_array_len(v);
	strv = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		const char *s = vs_json_string(vs_json_array_at(v, i));
		if (s == NULL)
			return vs_error_kind(err, VS_EK_INVALID, "%s[%zu]: expected a string", what,
					     i);
		strv[i] = xstrdup(s);
	}
	*out = steal_ptr(&strv);
	return 0;
}

const char *vsd_call_query(const struct vsd_call *c, const char *key)
{
	return c->query != NULL ? c->query(c->conn, key) : NULL;
}

const char *vsd_call_header(const struct vsd_call *c, const char *name)
{
	return c->header != NULL ? c->header(c->conn, name) : NULL;
}

void vsd_reply_json(struct vsd_reply *out, unsigned status, struct vs_jgen *g)
{
	size_t len;
	const char *text = vs_jgen_text(g, &len);

	out->status = status;
	out->body = xasprintf("%.*s\n", (int)len, text ? text : "");
}

const char *vsd_scope_name(enum vsd_scope s)
{
	switch (s) {
	case VSD_SCOPE_READ:
		return "read";
	case VSD_SCOPE_OPERATE:
		return "operate";
	case VSD_SCOPE_ADMIN:
		return "admin";
	default:
		return "none";
	}
}

bool vsd_owner_visible(const struct vsd_identity *who, const char *owner)
{
	return who->owner[0] == '\0' || (owner != NULL && strcmp(owner, who->owner) == 0);
}

int vsd_scope_parse(const char *s, const char *what, enum vsd_scope *out, struct vs_error *err)
{
	static const enum vsd_scope all[] = {VSD_SCOPE_READ, VSD_SCOPE_OPERATE, VSD_SCOPE_ADMIN};

	for (size_t i = 0; s != NULL && i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(s, vsd_scope_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	return vs_error_kind(err, VS_EK_INVALID, "%s: expected read, operate or admin", what);
}

int vsd_authorize(const struct vsd_identity *who, const struct vsd_route *route, const char *method,
		  struct vs_error *err)
{
	enum vsd_scope need = route->scope;

	if (need == VSD_SCOPE_BY_METHOD)
		need = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0
			   ? VSD_SCOPE_READ
			   : VSD_SCOPE_OPERATE;
	if (need == VSD_SCOPE_PUBLIC)
		return 0;
	if (who->kind == VSD_CRED_NONE)
		return vs_error_kind(err, VS_EK_UNAUTHORIZED,
				     "a credential is needed: a trusted client certificate or "
				     "Authorization: Bearer with an API token");
	if (who->scope < need)
		return vs_error_kind(err, VS_EK_FORBIDDEN, "%s has scope %s; %s %s needs %s",
				     who->name, vsd_scope_name(who->scope), method, route->pattern,
				     vsd_scope_name(need));
	return 0;
}
