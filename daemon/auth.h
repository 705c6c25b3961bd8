/* auth.h: the daemon's credentials (docs/api.md "Credentials"): the
 * node's TLS identity (tls.c), trusted client certificates and one-time
 * join tokens (trust.c), API tokens for panels (tokens.c), and the audit
 * log of every change (audit.c). Stored under <root>/auth/ (mode 0700),
 * secrets only as hashes. Above store.h. */
#ifndef VSD_AUTH_H
#define VSD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/http.h"
#include "daemon/store.h"
#include "lib/vs_error.h"

struct vsd;

/* ---- authn.c: who asks -------------------------------------------------- */

/* Who makes a request. local: it came over the unix socket from uid (which
 * SO_PEERCRED already allowed); else over TLS, with the fingerprint of the
 * client's certificate in cert_fp ("" when it sent none). authorization:
 * the Authorization header, or NULL. A Bearer token decides on either
 * transport (so a panel on the node can confine itself to its token);
 * without one, the unix socket's peer is a local administrator, a trusted
 * certificate is an administrator, anything else is nobody (kind NONE,
 * which only PUBLIC routes serve). 0, or -1 with VS_EK_UNAUTHORIZED (a
 * token that is malformed, unknown, expired or revoked) or another kind
 * (the store cannot be read). */
int vsd_authenticate(struct vsd *d, bool local, uid_t uid, const char *cert_fp,
		     const char *authorization, struct vsd_identity *who, struct vs_error *err);

/* The credential state of a daemon. It is a member of struct vsd
 * (daemon.h), which this layer cannot see: vsd_auth() hands it down. */
struct vsd_tls;
struct vsd_trust;
struct vsd_auth {
	struct vsd_tls *tls;	 /* NULL when vsd has no --listen */
	struct vsd_trust *trust; /* the trust store; NULL before start */
};
/* d's credential state (defined in the daemon.h layer, authstate.c). */
struct vsd_auth *vsd_auth(struct vsd *d);

/* ---- tls.c: the node's certificate ----------------------------------- */

/* The SHA-256 fingerprint of a DER certificate in lowercase hex. 0 or -1. */
int vsd_cert_fingerprint(const void *der, size_t len, char out[VSD_FP_HEX + 1],
			 struct vs_error *err);
/* The fingerprint of the first certificate in PEM text (NUL-terminated). 0,
 * or -1 with VS_EK_INVALID when it is not a PEM X.509 certificate. */
int vsd_cert_pem_fingerprint(const char *pem, char out[VSD_FP_HEX + 1], struct vs_error *err);
/* The node's TLS identity: the certificate and key named by the operator
 * (cert_file and key_file both set), else those in auth_dir_fd
 * (<root>/auth) as node.crt and node.key, generated there (key 0600,
 * written atomically) on first start for listen (the --listen addresses,
 * which become the SANs with the hostname). Keeps a copy of listen for
 * GET /v1/node. 0 or -1. */
int vsd_tls_open(int auth_dir_fd, const char *auth_dir, const char *cert_file, const char *key_file,
		 char *const *listen, size_t nlisten, struct vsd_tls **out, struct vs_error *err);
void vsd_tls_free(struct vsd_tls *t);
/* PEM of the certificate and of the key (for libmicrohttpd), the
 * certificate's fingerprint, the listen addresses. Valid while t lives. */
const char *vsd_tls_cert_pem(const struct vsd_tls *t);
const char *vsd_tls_key_pem(const struct vsd_tls *t);
const char *vsd_tls_fingerprint(const struct vsd_tls *t);
size_t vsd_tls_nlisten(const struct vsd_tls *t);
const char *vsd_tls_listen(const struct vsd_tls *t, size_t i);
/* The fingerprint of the certificate the client of a GnuTLS session (a
 * gnutls_session_t) presented into out; "" when it presented none. */
void vsd_tls_peer_fingerprint(void *session, char out[VSD_FP_HEX + 1]);

/* ---- trust.c: client certificates, join tokens ------------------------ */

/* Is fp (lowercase hex SHA-256) a trusted client certificate? 1 with its
 * name in name (n bytes), 0 when not, -1 with err when the store cannot
 * be read. */
int vsd_trust_lookup(struct vsd *d, const char *fp, char *name, size_t n, struct vs_error *err);

/* The store itself, <root>/auth/trust.json (atomic writes, one mutex):
 * {"certificates": [{"name", "fingerprint", "added_at"}], "tokens":
 * [{"name", "sha256", "created_at", "expires_at"}]}. Join tokens are kept
 * only as the SHA-256 of their secret. Names are vs_validate_name names. */
#define VSD_JOIN_SECRET_HEX  64 /* 32 random bytes */
#define VSD_JOIN_EXPIRES_MAX (366 * 86400)
/* Open (create when absent) the store in auth_dir_fd; the fd is dup'd.
 * 0 or -1 (a file that does not parse is an error, never emptied). */
int vsd_trust_open(int auth_dir_fd, struct vsd_trust **out, struct vs_error *err);
void vsd_trust_free(struct vsd_trust *t);
/* Like vsd_trust_lookup on a store. */
int vsd_trust_find(struct vsd_trust *t, const char *fp, char *name, size_t n, struct vs_error *err);
/* Trust certificate fingerprint fp (64 hex digits, either case) as name.
 * 0, or -1 with VS_EK_INVALID (a bad name or fingerprint) or
 * VS_EK_CONFLICT (the name or the fingerprint is already there). */
int vsd_trust_add(struct vsd_trust *t, const char *name, const char *fp, struct vs_error *err);
/* Stop trusting fp. 0, or -1 with VS_EK_NOT_FOUND. */
int vsd_trust_remove(struct vsd_trust *t, const char *fp, struct vs_error *err);
/* A new join token name valid for expires seconds (1..VSD_JOIN_EXPIRES_MAX)
 * from now: its secret (shown once, never stored) into secret. 0, or -1
 * with VS_EK_INVALID or VS_EK_CONFLICT (a token or certificate of that
 * name exists). */
int vsd_trust_token_create(struct vsd_trust *t, const char *name, int64_t expires,
			   char secret[VSD_JOIN_SECRET_HEX + 1], struct vs_error *err);
/* Remove join token name. 0, or -1 with VS_EK_NOT_FOUND. */
int vsd_trust_token_remove(struct vsd_trust *t, const char *name, struct vs_error *err);
/* Redeem a join token: when secret is a stored, unexpired token, trust fp
 * under the token's name (into name, n bytes) and delete the token, in
 * one write. 0, or -1 with VS_EK_UNAUTHORIZED (unknown, used or expired:
 * the message never holds the secret), VS_EK_INVALID (no fp) or
 * VS_EK_CONFLICT (fp already trusted). Expired tokens are dropped. */
int vsd_trust_join(struct vsd_trust *t, const char *secret, const char *fp, char *name, size_t n,
		   struct vs_error *err);
/* Emit the certificates (tokens: the join tokens, without secrets or
 * hashes) as a JSON array into g. 0 or -1. */
int vsd_trust_gen(struct vsd_trust *t, bool tokens, struct vs_jgen *g, struct vs_error *err);

/* ---- tokens.c: API tokens --------------------------------------------- */

/* The value of an Authorization header ("Bearer SECRET") into *who (kind
 * VSD_CRED_TOKEN, its scope and owner). 0, or -1 with VS_EK_UNAUTHORIZED
 * (malformed, unknown, expired or revoked: the message never holds the
 * secret). */
int vsd_token_authenticate(struct vsd *d, const char *authorization, struct vsd_identity *who,
			   struct vs_error *err);

/* The token store: <root>/auth/tokens.json (directory 0700, file 0600,
 * replaced atomically), held in memory under a mutex and written on every
 * change. Each token: a name (vs_validate_name), a scope, an optional
 * owner, created_at and expires_at (Unix seconds; 0 = never) and the
 * SHA-256 of its secret in hex. The secret itself is never stored. */
struct vsd_tokens;

/* The daemon's token store (defined by the layer that owns struct vsd). */
struct vsd_tokens *vsd_auth_tokens(struct vsd *d);

/* Open (create when missing) the store under root. 0 with *out, or -1. */
int vsd_tokens_open(const char *root, struct vsd_tokens **out, struct vs_error *err);
void vsd_tokens_free(struct vsd_tokens *t);

#define VSD_TOKEN_PREFIX     "vsd_"
#define VSD_TOKEN_SECRET_LEN (sizeof(VSD_TOKEN_PREFIX) - 1 + 64) /* prefix + 32 bytes hex */

struct vsd_token_spec {
	const char *name;
	enum vsd_scope scope; /* READ, OPERATE or ADMIN */
	const char *owner;    /* NULL or "": every owner */
	int64_t expires;      /* seconds from now; 0 = never */
};

/* Make a token: a new random secret (gnutls_rnd, 32 bytes) written to
 * secret, its hash stored. 0, or -1 with VS_EK_INVALID (a bad name, owner,
 * scope or lifetime, named), VS_EK_CONFLICT (the name is taken) or an I/O
 * error (nothing changed). */
int vsd_tokens_create(struct vsd_tokens *t, const struct vsd_token_spec *spec, int64_t now,
		      char secret[VSD_TOKEN_SECRET_LEN + 1], struct vs_error *err);
/* Revoke (forget) token name. 0, or -1 with VS_EK_NOT_FOUND or an I/O
 * error. */
int vsd_tokens_revoke(struct vsd_tokens *t, const char *name, struct vs_error *err);
/* A secret ("vsd_..." without "Bearer ") into *who, comparing hashes in
 * constant time. 0, or -1 with VS_EK_UNAUTHORIZED ("unknown API token",
 * "API token 'NAME' expired"). */
int vsd_tokens_verify(struct vsd_tokens *t, const char *secret, int64_t now,
		      struct vsd_identity *who, struct vs_error *err);
/* Emit the tokens as a JSON array (name, scope, owner, created_at,
 * expires_at, expired; never the hash). */
void vsd_tokens_list(struct vsd_tokens *t, int64_t now, struct vs_jgen *g);

/* ---- tickets.c: one-time stream tickets (browser terminals) ---------- */

/* A ticket is valid this long after it is made (docs/api.md "Browser
 * terminals"), and at most this many are outstanding at once. */
#define VSD_TICKET_TTL_MS      30000
#define VSD_TICKETS_MAX	       1024
#define VSD_TICKET_ID_LEN      32 /* 16 random bytes in hex */
#define VSD_TICKET_SECRET_LEN  64 /* 32 random bytes in hex */
#define VSD_TICKET_SUBPROTOCOL "vsd.ticket."

enum vsd_ticket_kind {
	VSD_TICKET_EXEC,
	VSD_TICKET_CONSOLE,
};

/* What a ticket will start once redeemed. */
struct vsd_ticket {
	char id[VSD_TICKET_ID_LEN + 1];
	enum vsd_ticket_kind kind;
	char container[VS_NAME_MAX + 1];
	struct vsd_identity who; /* the credential that made it */
	char *body;		 /* the request's JSON, validated when made */
	int64_t expires_ms;	 /* on vs_now_ms()'s clock */
};

struct vsd_ticket_spec {
	enum vsd_ticket_kind kind;
	const char *container;
	const struct vsd_identity *who;
	const char *body; /* NULL: "{}" */
};

/* The in-memory ticket store (thread-safe). vsd_tickets_new never fails. */
struct vsd_tickets;
struct vsd_tickets *vsd_tickets_new(int64_t ttl_ms, size_t max);
void vsd_tickets_free(struct vsd_tickets *t);
/* The daemon's ticket store (defined by the layer that owns struct vsd). */
struct vsd_tickets *vsd_auth_tickets(struct vsd *d);
/* Make a ticket valid until now_ms + ttl: its random id and secret
 * (gnutls_rnd) into id and secret, its end into *expires_ms; only the secret's SHA-256 is kept.
 * Expired tickets are dropped first. 0, or -1 with VS_EK_CONFLICT (max
 * tickets outstanding) or an internal error (nothing kept). */
int vsd_tickets_create(struct vsd_tickets *t, const struct vsd_ticket_spec *spec, int64_t now_ms,
		       char id[VSD_TICKET_ID_LEN + 1], char secret[VSD_TICKET_SECRET_LEN + 1],
		       int64_t *expires_ms, struct vs_error *err);
/* Redeem ticket id with secret: on success the ticket leaves the store
 * (single use) into *out (free with vsd_ticket_free). -1 with
 * VS_EK_UNAUTHORIZED when the id is unknown (used, expired, never made),
 * the ticket expired (it is dropped) or the secret is wrong (the ticket
 * stays); the message never holds the secret. */
int vsd_tickets_redeem(struct vsd_tickets *t, const char *id, const char *secret, int64_t now_ms,
		       struct vsd_ticket **out, struct vs_error *err);
void vsd_ticket_free(struct vsd_ticket *k);
/* Tickets outstanding at now_ms (after dropping the expired). */
size_t vsd_tickets_count(struct vsd_tickets *t, int64_t now_ms);

/* ---- audit.c: who changed what ----------------------------------------- */

/* Append one record (time, who, method, path, status, message) to the
 * audit log. Never fails the request; a write error is logged. */
void vsd_audit(struct vsd *d, const struct vsd_identity *who, const char *method, const char *path,
	       unsigned status, const char *message);
/* The same into <root>/audit.log (what vsd_audit does with d's root). */
void vsd_audit_to(const char *root, const struct vsd_identity *who, const char *method,
		  const char *path, unsigned status, const char *message);
/* GET /v1/audit: the records of <root>/audit.log with unix time >= since,
 * the newest `limit` of them, oldest first, as a JSON array into g. Only
 * the log's last 4 MiB are read (the file itself is complete); a line
 * that is not JSON is skipped. 0 or -1 (the log cannot be read). */
int vsd_audit_read(const char *root, int64_t since, size_t limit, struct vs_jgen *g,
		   struct vs_error *err);
/* The daemon's root directory (defined by the layer that owns struct vsd). */
const char *vsd_auth_root(struct vsd *d);

#endif
