/* GET/POST /v1/tokens, DELETE /v1/tokens/{name} and GET /v1/audit
 * (docs/api.md "Credentials"): the API tokens of tokens.c and the audit
 * log of audit.c. Admin routes (api.c). */
#include <string.h>
#include <time.h>

#include "daemon/handlers.h"
#include "lib/vs_util.h"

int vsd_h_token_list(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);

	vs_jgen_obj_open(g);
	vs_jgen_key(g, "tokens");
	vsd_tokens_list(c->d->tokens, time(NULL), g);
	vs_jgen_obj_close(g);
	vsd_reply_json(out, 200, g);
	return 0;
}

static int opt_str(const struct vs_json *body, const char *key, const char **out,
		   struct vs_error *err)
{
	const struct vs_json *v = vs_json_get(body, key);

	*out = NULL;
	if (v == NULL || vs_json_type(v) == VS_JSON_NULL)
		return 0;
	*out = vs_json_string(v);
	if (*out == NULL)
		return vs_error_kind(err, VS_EK_INVALID, "%s: expected a string", key);
	return 0;
}

static int parse_spec(const struct vs_json *body, struct vsd_token_spec *s, struct vs_error *err)
{
	static const char *const fields[] = {"name", "scope", "owner", "expires", NULL};
	const struct vs_json *exp = vs_json_get(body, "expires");
	const char *scope;

	memset(s, 0, sizeof(*s));
	s->scope = VSD_SCOPE_OPERATE;
	if (vsd_check_fields(body, fields, err) < 0 || opt_str(body, "name", &s->name, err) < 0 ||
	    opt_str(body, "owner", &s->owner, err) < 0 || opt_str(body, "scope", &scope, err) < 0)
		return -1;
	if (scope != NULL && vsd_scope_parse(scope, "scope", &s->scope, err) < 0)
		return -1;
	if (exp != NULL && vs_json_type(exp) != VS_JSON_NULL && !vs_json_int64(exp, &s->expires))
		return vs_error_kind(err, VS_EK_INVALID, "expires: expected whole seconds");
	return 0;
}

int vsd_h_token_create(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_json struct vs_json *body = NULL;
	cleanup_jgen struct vs_jgen *g = NULL;
	char secret[VSD_TOKEN_SECRET_LEN + 1];
	struct vsd_token_spec spec;
	int64_t now = time(NULL);

	if (vsd_parse_body(c->body, c->body_len, false, &body, err) < 0 ||
	    parse_spec(body, &spec, err) < 0 ||
	    vsd_tokens_create(c->d->tokens, &spec, now, secret, err) < 0)
		return -1;
	vsd_log("token %s: created (scope %s%s%s) by %s", spec.name, vsd_scope_name(spec.scope),
		spec.owner != NULL && spec.owner[0] != '\0' ? ", owner " : "",
		spec.owner != NULL ? spec.owner : "", c->who->name);
	g = vs_jgen_new(false);
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "name", spec.name);
	vs_jgen_kv_str(g, "scope", vsd_scope_name(spec.scope));
	if (spec.owner != NULL && spec.owner[0] != '\0')
		vs_jgen_kv_str(g, "owner", spec.owner);
	vs_jgen_kv_int(g, "created_at", now);
	if (spec.expires != 0)
		vs_jgen_kv_int(g, "expires_at", now + spec.expires);
	/* Shown this once; only its hash is kept. */
	vs_jgen_kv_str(g, "secret", secret);
	vs_jgen_obj_close(g);
	explicit_bzero(secret, sizeof(secret));
	vsd_reply_json(out, 201, g);
	return 0;
}

int vsd_h_token_delete(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = NULL;

	if (vsd_tokens_revoke(c->d->tokens, c->m->params[0], err) < 0)
		return -1;
	vsd_log("token %s: revoked by %s", c->m->params[0], c->who->name);
	g = vs_jgen_new(false);
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "deleted", c->m->params[0]);
	vs_jgen_obj_close(g);
	vsd_reply_json(out, 200, g);
	return 0;
}

int vsd_h_audit(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	const char *since_s = vsd_call_query(c, "since");
	const char *limit_s = vsd_call_query(c, "limit");
	int64_t since = 0, limit = 100;

	if ((since_s != NULL && vs_parse_int(since_s, "since", 0, INT64_MAX, &since, err) < 0) ||
	    (limit_s != NULL && vs_parse_int(limit_s, "limit", 1, 10000, &limit, err) < 0))
		return -1;
	vs_jgen_obj_open(g);
	vs_jgen_key(g, "records");
	if (vsd_audit_read(c->d->root, since, (size_t)limit, g, err) < 0)
		return -1;
	vs_jgen_obj_close(g);
	vsd_reply_json(out, 200, g);
	return 0;
}
