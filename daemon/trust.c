/* Trusted client certificates and one-time join tokens (auth.h), in
 * <root>/auth/trust.json. Every operation reads the file, changes it and
 * writes it back atomically under one mutex: the store is small, and a
 * file edited or restored by hand is seen at the next request. */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/auth.h"
#include "lib/vs_io.h"
#include "lib/vs_json.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

#define TRUST_FILE "trust.json"
#define TRUST_MAX  (4 * 1024 * 1024)

struct vsd_trust {
	int dirfd;
	pthread_mutex_t lock;
};

/* A certificate, or a join token (fp is then the SHA-256 of its secret). */
struct entry {
	char name[VS_NAME_MAX + 1];
	char fp[VSD_FP_HEX + 1];
	int64_t at; /* added_at, created_at */
	int64_t expires_at;
};

struct store {
	struct entry *certs, *tokens;
	size_t ncerts, ntokens;
};

static void store_free(struct store *s)
{
	free(s->certs);
	free(s->tokens);
	memset(s, 0, sizeof(*s));
}

#define cleanup_store __attribute__((cleanup(store_free)))

static bool is_fp(const char *s)
{
	size_t n = strlen(s);

	if (n != VSD_FP_HEX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* A fingerprint as given (either case, colons between bytes allowed) in
 * lowercase hex into out. 0 or -1 (VS_EK_INVALID). */
static int norm_fp(const char *in, char out[VSD_FP_HEX + 1], struct vs_error *err)
{
	size_t j = 0;

	for (const char *p = in; *p != '\0'; p++) {
		if (*p == ':')
			continue;
		if (j == VSD_FP_HEX)
			break;
		out[j++] = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
	}
	out[j] = '\0';
	if (!is_fp(out) || strlen(in) > 3 * VSD_FP_HEX)
		return vs_error_kind(err, VS_EK_INVALID,
				     "fingerprint: expected the SHA-256 of the certificate as 64 "
				     "hex digits");
	return 0;
}

static int parse_entry(const struct vs_json *o, bool token, struct entry *e, struct vs_error *err)
{
	const char *name = vs_json_string(vs_json_get(o, "name"));
	const char *fp = vs_json_string(vs_json_get(o, token ? "sha256" : "fingerprint"));

	if (name == NULL || fp == NULL || !is_fp(fp) || vs_validate_name(name, "name", NULL) < 0 ||
	    !vs_json_int64(vs_json_get(o, token ? "created_at" : "added_at"), &e->at) ||
	    (token && !vs_json_int64(vs_json_get(o, "expires_at"), &e->expires_at)))
		return vs_error_set(err, 0, "a %s entry is malformed",
				    token ? "tokens" : "certificates");
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->fp, sizeof(e->fp), "%s", fp);
	return 0;
}

static int parse_list(const struct vs_json *arr, bool token, struct entry **out, size_t *n,
		      struct vs_error *err)
{
	size_t len = arr ? vs_json_array_len(arr) : 0;

	if (arr != NULL && vs_json_type(arr) != VS_JSON_ARRAY)
		return vs_error_set(err, 0, "%s: expected an array",
				    token ? "tokens" : "certificates");
	*out = xcalloc(len + 1, sizeof(**out));
	for (*n = 0; *n < len; (*n)++)
		if (parse_entry(vs_json_array_at(arr, *n), token, &(*out)[*n], err) < 0)
			return -1;
	return 0;
}

static int load(struct vsd_trust *t, struct store *s, struct vs_error *err)
{
	cleanup_free char *text = NULL;
	cleanup_json struct vs_json *root = NULL;
	size_t len;

	memset(s, 0, sizeof(*s));
	if (vs_read_file_at(t->dirfd, TRUST_FILE, TRUST_MAX, &text, &len, err) < 0) {
		if (err->errnum != ENOENT)
			return vs_error_prefix(err, "read the trust store");
		s->certs = xcalloc(1, sizeof(*s->certs));
		s->tokens = xcalloc(1, sizeof(*s->tokens));
		return 0;
	}
	if (vs_json_parse(text, &root, err) < 0 || vs_json_type(root) != VS_JSON_OBJECT ||
	    parse_list(vs_json_get(root, "certificates"), false, &s->certs, &s->ncerts, err) < 0 ||
	    parse_list(vs_json_get(root, "tokens"), true, &s->tokens, &s->ntokens, err) < 0) {
		err->kind = VS_EK_INTERNAL;
		return vs_error_prefix(err, "the trust store %s is damaged", TRUST_FILE);
	}
	return 0;
}

static void gen_entry(struct vs_jgen *g, const struct entry *e, bool token, bool secret_hash)
{
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "name", e->name);
	if (!token)
		vs_jgen_kv_str(g, "fingerprint", e->fp);
	else if (secret_hash)
		vs_jgen_kv_str(g, "sha256", e->fp);
	vs_jgen_kv_int(g, token ? "created_at" : "added_at", e->at);
	if (token)
		vs_jgen_kv_int(g, "expires_at", e->expires_at);
	vs_jgen_obj_close(g);
}

static int save(struct vsd_trust *t, const struct store *s, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(true);
	const char *text;
	size_t len;

	vs_jgen_obj_open(g);
	vs_jgen_key(g, "certificates");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < s->ncerts; i++)
		gen_entry(g, &s->certs[i], false, false);
	vs_jgen_arr_close(g);
	vs_jgen_key(g, "tokens");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < s->ntokens; i++)
		gen_entry(g, &s->tokens[i], true, true);
	vs_jgen_arr_close(g);
	vs_jgen_obj_close(g);
	text = vs_jgen_text(g, &len);
	if (vs_atomic_write_at(t->dirfd, TRUST_FILE, text, len, 0600, err) < 0)
		return vs_error_prefix(err, "write the trust store");
	return 0;
}

static ssize_t find(const struct entry *v, size_t n, const char *name, const char *fp)
{
	for (size_t i = 0; i < n; i++)
		if ((name != NULL && strcmp(v[i].name, name) == 0) ||
		    (fp != NULL && strcmp(v[i].fp, fp) == 0))
			return (ssize_t)i;
	return -1;
}

static void drop(struct entry *v, size_t *n, size_t i)
{
	memmove(&v[i], &v[i + 1], (*n - i - 1) * sizeof(*v));
	(*n)--;
}

/* Drop expired join tokens; true when any went. */
static bool expire(struct store *s, int64_t now)
{
	bool changed = false;

	for (size_t i = s->ntokens; i-- > 0;)
		if (s->tokens[i].expires_at <= now) {
			drop(s->tokens, &s->ntokens, i);
			changed = true;
		}
	return changed;
}

int vsd_trust_open(int auth_dir_fd, struct vsd_trust **out, struct vs_error *err)
{
	struct vsd_trust *t = xcalloc(1, sizeof(*t));
	struct store s cleanup_store = {0};

	t->dirfd = fcntl(auth_dir_fd, F_DUPFD_CLOEXEC, 0);
	if (t->dirfd < 0) {
		free(t);
		return vs_error_set(err, errno, "dup");
	}
	pthread_mutex_init(&t->lock, NULL);
	if (load(t, &s, err) < 0) {
		vsd_trust_free(t);
		return -1;
	}
	*out = t;
	return 0;
}

void vsd_trust_free(struct vsd_trust *t)
{
	if (t == NULL)
		return;
	close(t->dirfd);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int vsd_trust_find(struct vsd_trust *t, const char *fp, char *name, size_t n, struct vs_error *err)
{
	struct store s cleanup_store = {0};
	ssize_t i;
	int r;

	if (n > 0)
		name[0] = '\0';
	pthread_mutex_lock(&t->lock);
	r = load(t, &s, err);
	pthread_mutex_unlock(&t->lock);
	if (r < 0)
		return -1;
	i = find(s.certs, s.ncerts, NULL, fp);
	if (i < 0)
		return 0;
	snprintf(name, n, "%s", s.certs[i].name);
	return 1;
}

int vsd_trust_lookup(struct vsd *d, const char *fp, char *name, size_t n, struct vs_error *err)
{
	struct vsd_trust *t = vsd_auth(d)->trust;

	if (t == NULL) {
		if (n > 0)
			name[0] = '\0';
		return 0;
	}
	return vsd_trust_find(t, fp, name, n, err);
}

/* Add a certificate to a loaded store (names are unique across
 * certificates and tokens: a token becomes the certificate of its name). */
static int add_cert(struct store *s, const char *name, const char *fp, bool token_ok,
		    struct vs_error *err)
{
	if (find(s->certs, s->ncerts, NULL, fp) >= 0)
		return vs_error_kind(err, VS_EK_CONFLICT, "certificate %.16s... is already trusted",
				     fp);
	if (find(s->certs, s->ncerts, name, NULL) >= 0 ||
	    (!token_ok && find(s->tokens, s->ntokens, name, NULL) >= 0))
		return vs_error_kind(err, VS_EK_CONFLICT, "name '%s' is already in the trust store",
				     name);
	s->certs = xrealloc(s->certs, (s->ncerts + 1) * sizeof(*s->certs));
	memset(&s->certs[s->ncerts], 0, sizeof(*s->certs));
	snprintf(s->certs[s->ncerts].name, sizeof(s->certs->name), "%s", name);
	snprintf(s->certs[s->ncerts].fp, sizeof(s->certs->fp), "%s", fp);
	s->certs[s->ncerts].at = (int64_t)time(NULL);
	s->ncerts++;
	return 0;
}

int vsd_trust_add(struct vsd_trust *t, const char *name, const char *fp, struct vs_error *err)
{
	struct store s cleanup_store = {0};
	char nfp[VSD_FP_HEX + 1];
	int r;

	if (vs_validate_name(name, "name", err) < 0 || norm_fp(fp, nfp, err) < 0)
		return -1;
	pthread_mutex_lock(&t->lock);
	r = load(t, &s, err);
	if (r == 0)
		r = add_cert(&s, name, nfp, false, err);
	if (r == 0)
		r = save(t, &s, err);
	pthread_mutex_unlock(&t->lock);
	return r;
}

int vsd_trust_remove(struct vsd_trust *t, const char *fp, struct vs_error *err)
{
	struct store s cleanup_store = {0};
	char nfp[VSD_FP_HEX + 1];
	ssize_t i;
	int r;

	if (norm_fp(fp, nfp, err) < 0)
		return -1;
	pthread_mutex_lock(&t->lock);
	r = load(t, &s, err);
	if (r == 0 && (i = find(s.certs, s.ncerts, NULL, nfp)) < 0)
		r = vs_error_kind(err, VS_EK_NOT_FOUND, "certificate %s is not trusted", nfp);
	else if (r == 0) {
		drop(s.certs, &s.ncerts, (size_t)i);
		r = save(t, &s, err);
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

/* SHA-256 of a join token's secret, in hex. */
static int secret_hash(const char *secret, char out[VSD_FP_HEX + 1], struct vs_error *err)
{
	return vsd_cert_fingerprint(secret, strlen(secret), out, err);
}

int vsd_trust_token_create(struct vsd_trust *t, const char *name, int64_t expires,
			   char secret[VSD_JOIN_SECRET_HEX + 1], struct vs_error *err)
{
	struct store s cleanup_store = {0};
	unsigned char rnd[VSD_JOIN_SECRET_HEX / 2];
	struct entry e = {0};
	int r;

	if (vs_validate_name(name, "name", err) < 0)
		return -1;
	if (expires < 1 || expires > VSD_JOIN_EXPIRES_MAX)
		return vs_error_kind(err, VS_EK_INVALID, "expires: expected seconds from 1 to %d",
				     VSD_JOIN_EXPIRES_MAX);
	if ((r = gnutls_rnd(GNUTLS_RND_KEY, rnd, sizeof(rnd))) < 0)
		return vs_error_set(err, 0, "random secret: %s", gnutls_strerror(r));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(secret + 2 * i, 3, "%02x", rnd[i]);
	gnutls_memset(rnd, 0, sizeof(rnd));
	snprintf(e.name, sizeof(e.name), "%s", name);
	e.at = (int64_t)time(NULL);
	e.expires_at = e.at + expires;
	if (secret_hash(secret, e.fp, err) < 0)
		return -1;
	pthread_mutex_lock(&t->lock);
	r = load(t, &s, err);
	if (r == 0) {
		expire(&s, e.at);
		if (find(s.tokens, s.ntokens, name, NULL) >= 0 ||
		    find(s.certs, s.ncerts, name, NULL) >= 0)
			r = vs_error_kind(err, VS_EK_CONFLICT,
					  "name '%s' is already in the trust store", name);
	}
	if (r == 0) {
		s.tokens = xrealloc(s.tokens, (s.ntokens + 1) * sizeof(*s.tokens));
		s.tokens[s.ntokens++] = e;
		r = save(t, &s, err);
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

int vsd_trust_token_remove(struct vsd_trust *t, const char *name, struct vs_error *err)
{
	struct store s cleanup_store = {0};
	ssize_t i;
	int r;

	pthread_mutex_lock(&t->lock);
	r = load(t, &s, err);
	if (r == 0 && (i = find(s.tokens, s.ntokens, name, NULL)) < 0)
		r = vs_error_kind(err, VS_EK_NOT_FOUND, "join token '%s' does not exist", name);
	else if (r == 0) {
		drop(s.tokens, &s.ntokens, (size_t)i);
		r = save(t, &s, err);
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

/* Under the lock with s loaded: redeem. */
static int join_locked(struct vsd_trust *t, struct store *s, const char *hash, const char *fp,
		       char *name, size_t n, struct vs_error *err)
{
	bool expired = expire(s, (int64_t)time(NULL));
	ssize_t i = find(s->tokens, s->ntokens, NULL, hash);

	if (i < 0) {
		if (expired)
			save(t, s, NULL);
		return vs_error_kind(err, VS_EK_UNAUTHORIZED,
				     "join token: unknown, already used or expired");
	}
	snprintf(name, n, "%s", s->tokens[i].name);
	if (add_cert(s, s->tokens[i].name, fp, true, err) < 0)
		return -1;
	drop(s->tokens, &s->ntokens, (size_t)i);
	return save(t, s, err);
}

int vsd_trust_join(struct vsd_trust *t, const char *secret, const char *fp, char *name, size_t n,
		   struct vs_error *err)
{
	struct store s cleanup_store = {0};
	char hash[VSD_FP_HEX + 1];
	int r;

	if (n > 0)
		name[0] = '\0';
	if (fp == NULL || fp[0] == '\0')
		return vs_error_kind(err, VS_EK_INVALID,
				     "join: present a client certificate on this connection; it "
				     "is what the token makes trusted");
	if (secret_hash(secret, hash, err) < 0)
		return -1;
	pthread_mutex_lock(&t->lock);
	r = load(t, &s, err);
	if (r == 0)
		r = join_locked(t, &s, hash, fp, name, n, err);
	pthread_mutex_unlock(&t->lock);
	return r;
}

int vsd_trust_gen(struct vsd_trust *t, bool tokens, struct vs_jgen *g, struct vs_error *err)
{
	struct store s cleanup_store = {0};
	int r;

	pthread_mutex_lock(&t->lock);
	r = load(t, &s, err);
	pthread_mutex_unlock(&t->lock);
	if (r < 0)
		return -1;
	if (tokens)
		expire(&s, (int64_t)time(NULL)); /* listed as gone; dropped at the next write */
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < (tokens ? s.ntokens : s.ncerts); i++)
		gen_entry(g, tokens ? &s.tokens[i] : &s.certs[i], tokens, false);
	vs_jgen_arr_close(g);
	return 0;
}
