/* API tokens (auth.h). The store is small (a panel or a few), so it is held
 * in memory and the whole file is rewritten on each change; a request with
 * a Bearer token never touches the disk. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/auth.h"
#include "lib/vs_io.h"
#include "lib/vs_json.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

#define TOKENS_FILE	  "tokens.json"
#define TOKENS_FILE_MAX	  (1 << 20)
#define HASH_LEN	  32
#define SECRET_BYTES	  32
#define TOKENS_MAX	  1024
#define TOKEN_EXPIRES_MAX (100LL * 365 * 24 * 3600)

struct token {
	char name[VS_NAME_MAX + 1];
	enum vsd_scope scope;
	char owner[VS_NAME_MAX + 1];
	int64_t created_at, expires_at;
	unsigned char hash[HASH_LEN];
};

struct vsd_tokens {
	pthread_mutex_t lock;
	int dirfd; /* <root>/auth */
	char *dir;
	struct token *v;
	size_t n;
};

static void hex_of(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = '\0';
}

static int unhex(const char *s, unsigned char *out, size_t n)
{
	if (s == NULL || strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1 || !isxdigit((unsigned char)s[2 * i]) ||
		    !isxdigit((unsigned char)s[2 * i + 1]))
			return -1;
		out[i] = (unsigned char)v;
	}
	return 0;
}

static int sha256(const char *s, unsigned char out[HASH_LEN], struct vs_error *err)
{
	int r = gnutls_hash_fast(GNUTLS_DIG_SHA256, s, strlen(s), out);

	if (r < 0)
		return vs_error_set(err, 0, "SHA-256: %s", gnutls_strerror(r));
	return 0;
}

static void token_emit(struct vs_jgen *g, const struct token *k, bool with_hash, int64_t now)
{
	char hex[2 * HASH_LEN + 1];

	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "name", k->name);
	vs_jgen_kv_str(g, "scope", vsd_scope_name(k->scope));
	if (k->owner[0] != '\0')
		vs_jgen_kv_str(g, "owner", k->owner);
	vs_jgen_kv_int(g, "created_at", k->created_at);
	if (k->expires_at != 0)
		vs_jgen_kv_int(g, "expires_at", k->expires_at);
	if (with_hash) {
		hex_of(k->hash, HASH_LEN, hex);
		vs_jgen_kv_str(g, "hash", hex);
	} else {
		vs_jgen_kv_bool(g, "expired", k->expires_at != 0 && now >= k->expires_at);
	}
	vs_jgen_obj_close(g);
}

/* Write the store as it is in memory (t->lock held). */
static int save(struct vsd_tokens *t, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(true);
	const char *text;
	size_t len;

	vs_jgen_obj_open(g);
	vs_jgen_key(g, "tokens");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < t->n; i++)
		token_emit(g, &t->v[i], true, 0);
	vs_jgen_arr_close(g);
	vs_jgen_obj_close(g);
	text = vs_jgen_text(g, &len);
	if (vs_atomic_write_at(t->dirfd, TOKENS_FILE, text, len, 0600, err) < 0)
		return vs_error_prefix(err, "write %s/%s", t->dir, TOKENS_FILE);
	return 0;
}

static int int_field(const struct vs_json *o, const char *key, int64_t *out)
{
	const struct vs_json *v = vs_json_get(o, key);

	*out = 0;
	return v == NULL || vs_json_int64(v, out) ? 0 : -1;
}

static int parse_one(const struct vs_json *o, struct token *k, struct vs_error *err)
{
	const char *name = vs_json_string(vs_json_get(o, "name"));
	const char *owner = vs_json_string(vs_json_get(o, "owner"));

	memset(k, 0, sizeof(*k));
	if (name == NULL || vs_validate_name(name, "token name", err) < 0 ||
	    (owner != NULL && vs_validate_name(owner, "owner", err) < 0) ||
	    vsd_scope_parse(vs_json_string(vs_json_get(o, "scope")), "scope", &k->scope, err) < 0 ||
	    int_field(o, "created_at", &k->created_at) < 0 ||
	    int_field(o, "expires_at", &k->expires_at) < 0 ||
	    unhex(vs_json_string(vs_json_get(o, "hash")), k->hash, HASH_LEN) < 0)
		return vs_error_kind(err, VS_EK_INTERNAL, "a malformed token entry");
	snprintf(k->name, sizeof(k->name), "%s", name);
	snprintf(k->owner, sizeof(k->owner), "%s", owner != NULL ? owner : "");
	return 0;
}

static int load(struct vsd_tokens *t, struct vs_error *err)
{
	cleanup_free char *text = NULL;
	cleanup_json struct vs_json *doc = NULL;
	const struct vs_json *arr;
	size_t len;

	if (vs_read_file_at(t->dirfd, TOKENS_FILE, TOKENS_FILE_MAX, &text, &len, err) < 0) {
		if (err->errnum == ENOENT) {
			memset(err, 0, sizeof(*err));
			return 0;
		}
		return -1;
	}
	if (vs_json_parse(text, &doc, err) < 0)
		return vs_error_prefix(err, "%s/%s", t->dir, TOKENS_FILE);
	arr = vs_json_get(doc, "tokens");
	if (vs_json_type(arr) != VS_JSON_ARRAY)
		return vs_error_set(err, 0, "%s/%s: expected {\"tokens\": [...]}", t->dir,
				    TOKENS_FILE);
	t->n = vs_json_array_len(arr);
	t->v = xcalloc(t->n + 1, sizeof(*t->v));
	for (size_t i = 0; i < t->n; i++)
		if (parse_one(vs_json_array_at(arr, i), &t->v[i], err) < 0)
			return vs_error_prefix(err, "%s/%s: entry %zu", t->dir, TOKENS_FILE, i);
	return 0;
}

int vsd_tokens_open(const char *root, struct vsd_tokens **out, struct vs_error *err)
{
	struct vsd_tokens *t = xcalloc(1, sizeof(*t));

	pthread_mutex_init(&t->lock, NULL);
	t->dir = xasprintf("%s/auth", root);
	t->dirfd = -1;
	if (mkdir(t->dir, 0700) < 0 && errno != EEXIST) {
		vs_error_set(err, errno, "create %s", t->dir);
		goto fail;
	}
	t->dirfd = open(t->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	/* The directory may predate us with a looser mode: secrets' hashes
	 * and trust live here, so only root reads it. */
	if (t->dirfd < 0 || fchmod(t->dirfd, 0700) < 0) {
		vs_error_set(err, errno, "open %s", t->dir);
		goto fail;
	}
	if (load(t, err) < 0)
		goto fail;
	*out = t;
	return 0;
fail:
	vsd_tokens_free(t);
	return -1;
}

void vsd_tokens_free(struct vsd_tokens *t)
{
	if (t == NULL)
		return;
	vs_closep(&t->dirfd);
	pthread_mutex_destroy(&t->lock);
	free(t->dir);
	free(t->v);
	free(t);
}

static struct token *find(struct vsd_tokens *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].name, name) == 0)
			return &t->v[i];
	return NULL;
}

static int check_spec(const struct vsd_token_spec *s, struct vs_error *err)
{
	if (s->name == NULL)
		return vs_error_kind(err, VS_EK_INVALID, "name: required");
	if (vs_validate_name(s->name, "name", err) < 0)
		return -1;
	if (s->owner != NULL && s->owner[0] != '\0' && vs_validate_name(s->owner, "owner", err) < 0)
		return -1;
	if (s->scope < VSD_SCOPE_READ || s->scope > VSD_SCOPE_ADMIN)
		return vs_error_kind(err, VS_EK_INVALID, "scope: expected read, operate or admin");
	/* admin reaches the node (tokens, templates, privileged containers):
	 * an owner could not confine it. */
	if (s->scope == VSD_SCOPE_ADMIN && s->owner != NULL && s->owner[0] != '\0')
		return vs_error_kind(err, VS_EK_INVALID,
				     "owner: an admin token cannot be owner-scoped (use operate "
				     "or read)");
	if (s->expires < 0 || s->expires > TOKEN_EXPIRES_MAX)
		return vs_error_kind(err, VS_EK_INVALID,
				     "expires: expected seconds from now (0: never), at most %lld",
				     TOKEN_EXPIRES_MAX);
	return 0;
}

int vsd_tokens_create(struct vsd_tokens *t, const struct vsd_token_spec *spec, int64_t now,
		      char secret[VSD_TOKEN_SECRET_LEN + 1], struct vs_error *err)
{
	unsigned char rnd[SECRET_BYTES];
	struct token k = {0};
	int r;

	if (check_spec(spec, err) < 0)
		return -1;
	r = gnutls_rnd(GNUTLS_RND_KEY, rnd, sizeof(rnd));
	if (r < 0)
		return vs_error_set(err, 0, "random secret: %s", gnutls_strerror(r));
	memcpy(secret, VSD_TOKEN_PREFIX, sizeof(VSD_TOKEN_PREFIX) - 1);
	hex_of(rnd, sizeof(rnd), secret + sizeof(VSD_TOKEN_PREFIX) - 1);
	gnutls_memset(rnd, 0, sizeof(rnd));
	snprintf(k.name, sizeof(k.name), "%s", spec->name);
	snprintf(k.owner, sizeof(k.owner), "%s", spec->owner != NULL ? spec->owner : "");
	k.scope = spec->scope;
	k.created_at = now;
	k.expires_at = spec->expires != 0 ? now + spec->expires : 0;
	if (sha256(secret, k.hash, err) < 0)
		return -1;
	pthread_mutex_lock(&t->lock);
	if (find(t, k.name) != NULL)
		r = vs_error_kind(err, VS_EK_CONFLICT, "token '%s' already exists", k.name);
	else if (t->n >= TOKENS_MAX)
		r = vs_error_kind(err, VS_EK_CONFLICT, "at most %d tokens", TOKENS_MAX);
	else {
		t->v = xrealloc(t->v, (t->n + 1) * sizeof(*t->v));
		t->v[t->n++] = k;
		r = save(t, err);
		if (r < 0)
			t->n--;
	}
	pthread_mutex_unlock(&t->lock);
	if (r < 0)
		gnutls_memset(secret, 0, VSD_TOKEN_SECRET_LEN + 1);
	return r;
}

int vsd_tokens_revoke(struct vsd_tokens *t, const char *name, struct vs_error *err)
{
	struct token *k, saved;
	size_t at;
	int r = 0;

	pthread_mutex_lock(&t->lock);
	k = find(t, name);
	if (k == NULL) {
		pthread_mutex_unlock(&t->lock);
		return vs_error_kind(err, VS_EK_NOT_FOUND, "token '%s' does not exist", name);
	}
	saved = *k;
	at = (size_t)(k - t->v);
	memmove(k, k + 1, (t->n - at - 1) * sizeof(*k));
	t->n--;
	if (save(t, err) < 0) {
		/* Put it back: memory and disk agree on failure. */
		memmove(t->v + at + 1, t->v + at, (t->n - at) * sizeof(*k));
		t->v[at] = saved;
		t->n++;
		r = -1;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

int vsd_tokens_verify(struct vsd_tokens *t, const char *secret, int64_t now,
		      struct vsd_identity *who, struct vs_error *err)
{
	unsigned char h[HASH_LEN];
	const struct token *hit = NULL;
	int64_t expires_at = 0;

	if (strncmp(secret, VSD_TOKEN_PREFIX, sizeof(VSD_TOKEN_PREFIX) - 1) != 0 ||
	    strlen(secret) != VSD_TOKEN_SECRET_LEN) {
		snprintf(who->name, sizeof(who->name), "malformed token");
		return vs_error_kind(err, VS_EK_UNAUTHORIZED, "malformed API token");
	}
	if (sha256(secret, h, err) < 0)
		return -1;
	pthread_mutex_lock(&t->lock);
	/* Every entry is compared, in constant time, so neither the timing
	 * of a comparison nor the position of a match says anything. */
	for (size_t i = 0; i < t->n; i++)
		if (gnutls_memcmp(h, t->v[i].hash, HASH_LEN) == 0)
			hit = &t->v[i];
	/* Copied under the lock: a create or revoke may move the entries. */
	if (hit != NULL) {
		who->kind = VSD_CRED_TOKEN;
		who->scope = hit->scope;
		snprintf(who->name, sizeof(who->name), "token:%s", hit->name);
		snprintf(who->owner, sizeof(who->owner), "%s", hit->owner);
		expires_at = hit->expires_at;
	}
	pthread_mutex_unlock(&t->lock);
	if (hit == NULL) {
		snprintf(who->name, sizeof(who->name), "unknown token");
		return vs_error_kind(err, VS_EK_UNAUTHORIZED, "unknown API token");
	}
	if (expires_at != 0 && now >= expires_at) {
		who->kind = VSD_CRED_NONE;
		who->scope = VSD_SCOPE_BY_METHOD;
		return vs_error_kind(err, VS_EK_UNAUTHORIZED, "API token '%s' expired",
				     who->name + strlen("token:"));
	}
	return 0;
}

void vsd_tokens_list(struct vsd_tokens *t, int64_t now, struct vs_jgen *g)
{
	pthread_mutex_lock(&t->lock);
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < t->n; i++)
		token_emit(g, &t->v[i], false, now);
	vs_jgen_arr_close(g);
	pthread_mutex_unlock(&t->lock);
}

int vsd_token_authenticate(struct vsd *d, const char *authorization, struct vsd_identity *who,
			   struct vs_error *err)
{
	const char *s = authorization + strlen("Bearer");

	if (*s != ' ' && *s != '\t')
		return vs_error_kind(err, VS_EK_UNAUTHORIZED,
				     "Authorization: expected 'Bearer TOKEN'");
	while (*s == ' ' || *s == '\t')
		s++;
	return vsd_tokens_verify(vsd_auth_tokens(d), s, time(NULL), who, err);
}
