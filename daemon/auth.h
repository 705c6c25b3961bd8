/* auth.h: the daemon's credentials (docs/api.md "Credentials"): the
 * node's TLS identity (tls.c), trusted client certificates and one-time
 * join tokens (trust.c), API tokens for panels (tokens.c), and the audit
 * log of every change (audit.c). Stored under <root>/auth/ (mode 0700),
 * secrets only as hashes. Above store.h. */
#ifndef VSD_AUTH_H
#define VSD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
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

/* ---- tls.c: the node's certificate ----------------------------------- */

/* The SHA-256 fingerprint of a DER certificate in lowercase hex. 0 or -1. */
int vsd_cert_fingerprint(const void *der, size_t len, char out[VSD_FP_HEX + 1],
			 struct vs_error *err);

/* ---- trust.c: client certificates, join tokens ------------------------ */

/* Is fp (lowercase hex SHA-256) a trusted client certificate? 1 with its
 * name in name (n bytes), 0 when not, -1 with err when the store cannot
 * be read. */
int vsd_trust_lookup(struct vsd *d, const char *fp, char *name, size_t n, struct vs_error *err);

/* ---- tokens.c: API tokens --------------------------------------------- */

/* The value of an Authorization header ("Bearer SECRET") into *who (kind
 * VSD_CRED_TOKEN, its scope and owner). 0, or -1 with VS_EK_UNAUTHORIZED
 * (malformed, unknown, expired or revoked: the message never holds the
 * secret). */
int vsd_token_authenticate(struct vsd *d, const char *authorization, struct vsd_identity *who,
			   struct vs_error *err);

/* ---- audit.c: who changed what ----------------------------------------- */

/* Append one record (time, who, method, path, status, message) to the
 * audit log. Never fails the request; a write error is logged. */
void vsd_audit(struct vsd *d, const struct vsd_identity *who, const char *method, const char *path,
	       unsigned status, const char *message);

#endif
