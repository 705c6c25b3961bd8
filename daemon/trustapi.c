/* The trust routes (docs/api.md "Credentials"): trusted client
 * certificates, one-time join tokens, and the join itself, the one route a
 * TLS client may call without a credential. */
#include <stdio.h>
#include <string.h>

#include "daemon/handlers.h"
#include "lib/vs_util.h"

static struct vsd_trust *store(struct vsd_call *c, struct vs_error *err)
{
	struct vsd_trust *t = vsd_auth(c->d)->trust;

	if (t == NULL)
		vs_error_kind(err, VS_EK_UNSUPPORTED, "the trust store is not open");
	return t;
}

static int gen_list(struct vsd_call *c, bool tokens, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	struct vsd_trust *t = store(c, err);

	if (t == NULL)
		return -1;
	vs_jgen_obj_open(g);
	vs_jgen_key(g, tokens ? "tokens" : "certificates");
	if (vsd_trust_gen(t, tokens, g, err) < 0)
		return -1;
	vs_jgen_obj_close(g);
	vsd_reply_json(out, 200, g);
	return 0;
}

int vsd_h_trust_list(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	return gen_list(c, false, out, err);
}

int vsd_h_trust_token_list(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	return gen_list(c, true, out, err);
}

/* A required string field of body. */
static const char *field(const struct vs_json *body, const char *key, struct vs_error *err)
{
	const struct vs_json *v = vs_json_get(body, key);
	const char *s = v ? vs_json_string(v) : NULL;

	if (s == NULL)
		vs_error_kind(err, VS_EK_INVALID, "%s: %s", key,
			      v ? "expected a string" : "required");
	return s;
}

static void reply_cert(struct vsd_reply *out, unsigned status, const char *name, const char *fp)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);

	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "name", name);
	vs_jgen_kv_str(g, "fingerprint", fp);
	vs_jgen_obj_close(g);
	vsd_reply_json(out, status, g);
}

int vsd_h_trust_add(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	static const char *const keys[] = {"name", "certificate", "fingerprint", NULL};
	cleanup_json struct vs_json *body = NULL;
	struct vsd_trust *t = store(c, err);
	char fp[VSD_FP_HEX + 1];
	const char *name, *pem, *given;

	if (t == NULL || vsd_parse_body(c->body, c->body_len, false, &body, err) < 0 ||
	    vsd_check_fields(body, keys, err) < 0 || (name = field(body, "name", err)) == NULL)
		return -1;
	pem = vs_json_string(vs_json_get(body, "certificate"));
	given = vs_json_string(vs_json_get(body, "fingerprint"));
	if ((pem == NULL) == (given == NULL))
		return vs_error_kind(err, VS_EK_INVALID,
				     "give one of certificate (PEM) and fingerprint, as a string");
	if (pem != NULL && vsd_cert_pem_fingerprint(pem, fp, err) < 0)
		return -1;
	if (vsd_trust_add(t, name, pem ? fp : given, err) < 0)
		return -1;
	/* The stored form (lowercase, no colons). */
	if (pem == NULL)
		for (size_t i = 0, j = 0; given[i] != '\0' && j < VSD_FP_HEX; i++)
			if (given[i] != ':') {
				fp[j++] = (char)(given[i] | 0x20);
				fp[j] = '\0';
			}
	vsd_log("trust: certificate %s (%s) trusted by %s", name, fp, c->who->name);
	reply_cert(out, 201, name, fp);
	return 0;
}

/* DELETE of a certificate or a join token: 200 {"deleted": what was
 * named} like the other deletes, logged. */
static int remove_one(struct vsd_call *c, struct vsd_reply *out, const char *what,
		      int (*rm)(struct vsd_trust *, const char *, struct vs_error *),
		      struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	struct vsd_trust *t = store(c, err);

	if (t == NULL || rm(t, c->m->params[0], err) < 0)
		return -1;
	vsd_log("trust: %s %s removed by %s", what, c->m->params[0], c->who->name);
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "deleted", c->m->params[0]);
	vs_jgen_obj_close(g);
	vsd_reply_json(out, 200, g);
	return 0;
}

int vsd_h_trust_remove(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	return remove_one(c, out, "certificate", vsd_trust_remove, err);
}

int vsd_h_trust_token_create(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	static const char *const keys[] = {"name", "expires", NULL};
	cleanup_json struct vs_json *body = NULL;
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	struct vsd_trust *t = store(c, err);
	char secret[VSD_JOIN_SECRET_HEX + 1];
	int64_t expires = 86400;
	const struct vs_json *e;
	const char *name;

	if (t == NULL || vsd_parse_body(c->body, c->body_len, false, &body, err) < 0 ||
	    vsd_check_fields(body, keys, err) < 0 || (name = field(body, "name", err)) == NULL)
		return -1;
	e = vs_json_get(body, "expires");
	if (e != NULL && !vs_json_int64(e, &expires))
		return vs_error_kind(err, VS_EK_INVALID, "expires: expected whole seconds");
	if (vsd_trust_token_create(t, name, expires, secret, err) < 0)
		return -1;
	vsd_log("trust: join token %s created by %s, valid %lld s", name, c->who->name,
		(long long)expires);
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "name", name);
	vs_jgen_kv_str(g, "token", secret);
	vs_jgen_kv_int(g, "expires_in", expires);
	vs_jgen_obj_close(g);
	vsd_reply_json(out, 201, g);
	memset(secret, 0, sizeof(secret));
	return 0;
}

int vsd_h_trust_token_remove(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	return remove_one(c, out, "join token", vsd_trust_token_remove, err);
}

int vsd_h_trust_join(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	static const char *const keys[] = {"token", NULL};
	cleanup_json struct vs_json *body = NULL;
	struct vsd_trust *t = store(c, err);
	char name[VS_NAME_MAX + 1];
	const char *secret;

	if (t == NULL || vsd_parse_body(c->body, c->body_len, false, &body, err) < 0 ||
	    vsd_check_fields(body, keys, err) < 0 || (secret = field(body, "token", err)) == NULL)
		return -1;
	if (vsd_trust_join(t, secret, c->who->cert_fp, name, sizeof(name), err) < 0) {
		/* Logged without the secret: who tried, and from which key. */
		vsd_log("trust: join refused (%s, certificate %.16s): %s", c->who->name,
			c->who->cert_fp[0] ? c->who->cert_fp : "none", err->msg);
		return -1;
	}
	vsd_log("trust: certificate %s (%s) joined with a token", name, c->who->cert_fp);
	reply_cert(out, 201, name, c->who->cert_fp);
	return 0;
}
