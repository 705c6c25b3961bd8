/* http.h: pure REST logic of vsd (routes.c): route types and matching,
 * error mapping, body accumulation, JSON helpers, and what a handler sees
 * of a request and answers. No MHD, no disk. Above log.h only. */
#ifndef VSD_HTTP_H
#define VSD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/vs_error.h"
#include "lib/vs_json.h"
#include "lib/vs_validate.h"

/* Largest JSON request body (api.md: 413 too_large above it). */
#define VSD_BODY_MAX (64 * 1024)
/* Idle HTTP connections are closed after this many seconds. */
#define VSD_CONN_TIMEOUT 120

/* ---- routes.c: pure REST logic ---------------------------------------- */

enum vsd_route_id {
	VSD_R_CONTAINER_LIST,
	VSD_R_CONTAINER_CREATE,
	VSD_R_CONTAINER_GET,
	VSD_R_CONTAINER_DELETE,
	VSD_R_CONTAINER_UPDATE,
	VSD_R_CONTAINER_STATE,
	VSD_R_CONTAINER_EXEC,
	VSD_R_CONTAINER_CONSOLE,
	VSD_R_CONTAINER_SUSPEND,
	VSD_R_CONTAINER_RESUME,
	VSD_R_CONTAINER_CHECKPOINT,
	VSD_R_CONTAINER_RESTORE,
	VSD_R_TEMPLATE_LIST,
	VSD_R_TEMPLATE_GET,
	VSD_R_TEMPLATE_CREATE,
	VSD_R_TEMPLATE_ARCHIVE,
	VSD_R_TEMPLATE_DELETE,
	VSD_R_OPERATION_GET,
	VSD_R_NODE,
	VSD_R_POOL_LIST,
	VSD_R_POOL_CREATE,
	VSD_R_POOL_GET,
	VSD_R_POOL_PATCH,
	VSD_R_POOL_DELETE,
	VSD_R_CONTAINER_STATS,
	VSD_R_SNAPSHOT_LIST,
	VSD_R_SNAPSHOT_CREATE,
	VSD_R_SNAPSHOT_GET,
	VSD_R_SNAPSHOT_DELETE,
	VSD_R_SNAPSHOT_RESTORE,
	VSD_R_METRICS,
	VSD_R_CONTAINER_EXPORT,
	VSD_R_CONTAINER_IMPORT,
	VSD_R_EVENTS,
	VSD_R_OPERATION_LIST,
	VSD_R_OPERATION_DELETE,
	VSD_R_OPENAPI,
	VSD_R_TOKEN_LIST,
	VSD_R_TOKEN_CREATE,
	VSD_R_TOKEN_DELETE,
	VSD_R_AUDIT,
	VSD_R_TRUST_LIST,
	VSD_R_TRUST_ADD,
	VSD_R_TRUST_REMOVE,
	VSD_R_TRUST_TOKEN_LIST,
	VSD_R_TRUST_TOKEN_CREATE,
	VSD_R_TRUST_TOKEN_REMOVE,
	VSD_R_TRUST_JOIN,
	VSD_R_CONTAINER_LOCK,
	VSD_R_CONTAINER_UNLOCK,
	VSD_R_CONTAINER_PASSWORD,
	VSD_R_CONTAINER_SSH_KEYS,
	VSD_R_CONTAINER_USAGE,
	VSD_R_CONTAINER_REINSTALL,
	VSD_R_STREAM,
	VSD_R_CONTAINER_MIGRATE,
	VSD_R_MIGRATION_RESERVE,
	VSD_R_MIGRATION_GET,
	VSD_R_MIGRATION_ABORT,
	VSD_R_MIGRATION_SYNC,
	VSD_R_MIGRATION_SYNC_INPUT,
	VSD_R_MIGRATION_COMMIT,
	VSD_R__COUNT,
};

enum vsd_body_kind {
	VSD_BODY_NONE,	 /* any body is read and ignored */
	VSD_BODY_JSON,	 /* buffered, at most VSD_BODY_MAX bytes */
	VSD_BODY_STREAM, /* streamed to a file, any size */
	VSD_BODY_SINK,	 /* written as it arrives into the route's sink (a program's input) */
};

struct vsd;
struct vsd_stream;
struct vsd_match;

/* ---- who makes a request (docs/api.md "Credentials") ------------------ */

/* What a credential may do, and what a route needs. A route's zero value
 * (VSD_SCOPE_BY_METHOD) needs read for GET and operate for the rest. */
enum vsd_scope {
	VSD_SCOPE_BY_METHOD = 0,
	VSD_SCOPE_PUBLIC,  /* route: any TLS client, no credential (join) */
	VSD_SCOPE_READ,	   /* sees, changes nothing */
	VSD_SCOPE_OPERATE, /* lifecycle and plans of the containers it sees */
	VSD_SCOPE_ADMIN,   /* the node, credentials, isolation-weakening settings */
};

enum vsd_cred_kind {
	VSD_CRED_NONE,	/* no credential (a PUBLIC route) */
	VSD_CRED_LOCAL, /* the unix socket: a peer uid allowed by SO_PEERCRED */
	VSD_CRED_CERT,	/* a TLS client certificate in the trust store */
	VSD_CRED_TOKEN, /* an API token (Authorization: Bearer) */
};

#define VSD_FP_HEX  64 /* SHA-256 fingerprint in lowercase hex */
#define VSD_WHO_MAX 96

struct vsd_identity {
	enum vsd_cred_kind kind;
	enum vsd_scope scope;
	/* For the audit log and messages, never a secret: "uid:0",
	 * "token:panel1", "cert:<name> <first 16 hex of fingerprint>". */
	char name[VSD_WHO_MAX];
	/* Owner-scoped credentials see and act on only this owner's
	 * containers; "" = every owner. */
	char owner[VS_NAME_MAX + 1];
	/* The TLS client certificate's fingerprint, "" when there is none
	 * (a join redeems it even before it is trusted). */
	char cert_fp[VSD_FP_HEX + 1];
};

/* ---- requests and replies ------------------------------------------- */

/* What a handler sees of a request. */
struct vsd_call {
	struct vsd *d;
	const struct vsd_match *m;
	const char *body; /* NUL-terminated JSON body, or NULL */
	size_t body_len;
	char *upload_name; /* VSD_BODY_STREAM: file in templates_fd; steal to keep */
	/* Query arguments, looked up by the server that made the call (the
	 * HTTP layer below the handlers does not know libmicrohttpd). */
	const char *(*query)(void *conn, const char *key);
	/* Request headers, likewise. */
	const char *(*header)(void *conn, const char *name);
	void *conn;
	/* Who asks (never NULL once the server dispatches). */
	const struct vsd_identity *who;
};

/* What a handler answers: a JSON body with a status, or (upgrade routes) a
 * stream to switch protocols to. */
struct vsd_reply {
	unsigned status;
	char *body; /* malloc'd JSON text */
	/* Upgrade routes: the stream to switch protocols to, and what runs it
	 * (on the raw socket after the 101 went out; takes the stream over)
	 * or frees it when the switch never happens. Set by the handler, so the
	 * server names no stream module. */
	struct vsd_stream *stream;
	/* tcp_fd: over TLS, the connection's own TCP socket (sock is then
	 * one end of libmicrohttpd's socketpair), else -1. libmicrohttpd
	 * 0.9.75 does not close a TLS connection when the upgraded stream is
	 * closed, so a WebSocket's end is the stream's to make: it shuts
	 * tcp_fd down once the close handshake is over, before giving the
	 * stream back. */
	void (*stream_run)(struct vsd *d, struct vsd_stream *s, int sock, int tcp_fd, void *urh);
	void (*stream_free)(struct vsd_stream *s);
	/* A WebSocket upgrade (docs/api.md "WebSocket streams"): the
	 * Sec-WebSocket-Accept of the 101 ("" for vsd-stream) and the chosen
	 * subprotocol (static, or NULL). */
	char ws_accept[32];
	const char *ws_protocol;
	const char *content_type; /* static; NULL: application/json */
	/* A file answered as the body (taken over; file_fd_set says it is
	 * there, since a zeroed reply has fd 0): an export. */
	bool file_fd_set;
	int file_fd;
	uint64_t file_size;
	/* A body of unknown length made as the client takes it (GET
	 * /v1/events): read(cls, buf, max) returns bytes (> 0; it may wait),
	 * 0 at its end or -1 to cut the connection; done(cls) frees cls. The server owns cls once
	 * the handler succeeded; on failure the handler frees it. */
	ssize_t (*reader)(void *cls, char *buf, size_t max);
	void (*reader_done)(void *cls);
	void *reader_cls;
	/* An ETag for the body (the server quotes it), or "". */
	char etag[24];
};

typedef int (*vsd_handler_fn)(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err);
/* A route's pre-check: runs on the headers, before the body is read (so a
 * large upload that will be refused is not read for nothing). c->body is
 * NULL. 0 or -1 with err. */
typedef int (*vsd_precheck_fn)(const struct vsd_call *c, struct vs_error *err);

/* Query argument of the request (through c->query), or NULL. A bare
 * "?force" is "". */
const char *vsd_call_query(const struct vsd_call *c, const char *key);
/* Request header (through c->header), or NULL. */
const char *vsd_call_header(const struct vsd_call *c, const char *name);
/* Set out to status + the generator's text. */
void vsd_reply_json(struct vsd_reply *out, unsigned status, struct vs_jgen *g);

struct vsd_route {
	const char *method;
	/* Literal segments and placeholders: "{name}" (validated with
	 * vs_validate_name as `what`) or "{id}" (checked by the handler). */
	const char *pattern;
	enum vsd_route_id id;
	vsd_handler_fn handler; /* runs once the body is read */
	enum vsd_body_kind body;
	bool upgrade;		  /* needs Connection: Upgrade + Upgrade: vsd-stream or websocket */
	const char *what;	  /* name of the {name} parameter in error messages */
	vsd_precheck_fn precheck; /* NULL, or refuses before the body is read */
	/* VSD_BODY_SINK: where the body goes, asked before it is read: 0 with
	 * *fd (taken over; closed when the body ended, before the handler
	 * runs), or -1 with err. */
	int (*sink)(const struct vsd_call *c, int *fd, struct vs_error *err);
	enum vsd_scope scope; /* what the caller needs (0: by method) */
	/* An upgrade route that without any Upgrade header may answer a
	 * stream ticket instead (the handler decides: exec, console). */
	bool ticket;
};

/* May who call route (method as requested)? 0, or -1 with
 * VS_EK_UNAUTHORIZED (nobody, on a route that is not PUBLIC) or
 * VS_EK_FORBIDDEN (a scope below the route's; the message names both). */
int vsd_authorize(const struct vsd_identity *who, const struct vsd_route *route, const char *method,
		  struct vs_error *err);
/* May who see a container owned by owner ("" for none)? A credential
 * without an owner sees all; an owner-scoped one only its owner's. */
bool vsd_owner_visible(const struct vsd_identity *who, const char *owner);
/* "read", "operate", "admin" (else "none"). */
const char *vsd_scope_name(enum vsd_scope s);
/* A credential's scope by name (read, operate, admin). 0 or -1 with
 * VS_EK_INVALID naming `what`. */
int vsd_scope_parse(const char *s, const char *what, enum vsd_scope *out, struct vs_error *err);

#define VSD_PARAMS_MAX 2

struct vsd_match {
	const struct vsd_route *route;
	char *params[VSD_PARAMS_MAX]; /* malloc'd, in pattern order */
	size_t nparams;
};

enum vsd_match_result {
	VSD_MATCH_OK,
	VSD_MATCH_NO_ROUTE,   /* 404 */
	VSD_MATCH_BAD_METHOD, /* 405: the path exists with other methods */
};

/* Match method + path (already percent-decoded, no query string) against
 * table. On VSD_MATCH_OK fills *m (free with vsd_match_clear). On
 * VSD_MATCH_BAD_METHOD writes the allowed methods ("GET, DELETE") to allow.
 * Empty segments never match a placeholder. */
enum vsd_match_result vsd_route_match(const struct vsd_route *table, size_t n, const char *method,
				      const char *path, struct vsd_match *m, char *allow,
				      size_t allow_len);
void vsd_match_clear(struct vsd_match *m);

/* Check the {name} and {snap} parameters of a match with
 * vs_validate_name. 0 or -1 (VS_EK_INVALID, the message names the
 * parameter). */
int vsd_match_validate(const struct vsd_match *m, struct vs_error *err);

/* Names in URLs are exact. libmicrohttpd percent-decodes the path in place,
 * so a "%00" would end the C string early and "/v1/containers/nul1%00x"
 * would reach the routes as ".../nul1". The server's unescape step hands
 * the decoded text (len bytes) to vsd_unescape_nul, which turns every NUL
 * into VSD_DECODED_NUL (a control character, which no name and no path
 * may hold) and returns len, so the whole path reaches the matcher and is
 * refused there. */
#define VSD_DECODED_NUL '\x01'
size_t vsd_unescape_nul(char *s, size_t len);
/* 0, or -1 (VS_EK_INVALID) when the decoded path holds a control
 * character. */
int vsd_path_check(const char *path, struct vs_error *err);

/* HTTP status and api.md error code of an error kind. */
unsigned vsd_error_status(enum vs_error_kind kind);
const char *vsd_error_code(enum vs_error_kind kind);
/* {"error": {"code": code, "message": msg}} (malloc'd, ends in "\n"). */
char *vsd_error_body(const char *code, const char *msg);
/* Emit {"code": ..., "message": ...} of err into g. */
void vsd_gen_error(struct vs_jgen *g, const struct vs_error *err);

/* Copy of s safe to put into JSON and onto a terminal: invalid UTF-8
 * bytes and control characters other than tab (C0, DEL, and C1 as one
 * '?' each) become '?', at most max bytes kept. */
char *vsd_sanitize(const char *s, size_t max);

/* Request body accumulation with the size limit. */
struct vsd_body {
	char *buf; /* NUL-terminated when non-NULL */
	size_t len, cap;
	bool too_large; /* more than max bytes arrived; later data is dropped */
};
/* Append n bytes unless that makes the body larger than max; then set
 * too_large, free what was kept and drop everything from now on.
 * Returns false once the body is too large. */
bool vsd_body_append(struct vsd_body *b, const char *data, size_t n, size_t max);
void vsd_body_free(struct vsd_body *b);
/* True if a Content-Length header value announces more than max bytes (a
 * malformed value counts as too large only if it is all digits and long). */
bool vsd_content_length_exceeds(const char *value, size_t max);

/* True if the comma-separated header value (e.g. of Connection) holds
 * token, compared case-insensitively. NULL holds nothing. */
bool vsd_header_has_token(const char *value, const char *token);

/* Parse a JSON request body of len bytes, NUL-terminated at body[len] (as
 * the server keeps bodies): NULL/empty counts as "{}" when allow_empty,
 * else an error; embedded NUL bytes and non-objects are refused. 0 or -1
 * (VS_EK_INVALID). */
int vsd_parse_body(const char *body, size_t len, bool allow_empty, struct vs_json **out,
		   struct vs_error *err);
/* Every key of obj must be in the NULL-terminated allowed list; else -1
 * with VS_EK_INVALID "KEY: unknown field". */
int vsd_check_fields(const struct vs_json *obj, const char *const *allowed, struct vs_error *err);
/* An optional array of strings (field `what`) into a NULL-terminated vector
 * (*out NULL when v is NULL or JSON null). 0 or -1 (VS_EK_INVALID). */
int vsd_json_strv(const struct vs_json *v, const char *what, char ***out, struct vs_error *err);

#endif
