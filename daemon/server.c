/* libmicrohttpd glue: one thread per connection (handlers may block for
 * seconds: starting and stopping containers), request bodies accumulated
 * with the 64 KiB limit or streamed to a file, JSON responses, errors
 * mapped to api.md codes, and the switch to the stream protocol (exec,
 * console) through MHD's upgrade API.
 *
 * Request life cycle in the access handler: the first call (headers only)
 * authorises the peer, matches the route, validates names in the URL and
 * checks the announced body size, answering at once when any fails (MHD
 * then drops the body and closes the connection); later calls consume body
 * chunks; the last call (no data) runs the handler. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon/handlers.h"
#include "daemon/server.h"
#include "lib/vs_trace.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "lib/vs_ws.h"

/* What the access handler's cls points at. */
struct vsd_server {
	struct MHD_Daemon *mhd;
	struct vsd *d;
	int listen_fd;
	const struct vsd_route *table;
	size_t ntable;
	bool tls; /* a --listen socket: clients authenticate by certificate or token */
	struct deadline *deadline; /* TLS: the bound on reading a request head */
};

/* A TLS connection between requests (handshake, request head): MHD's own
 * timeout is an idle one, which a client trickling a byte at a time never
 * meets (slowloris); the reaper cuts such a connection once it has spent
 * `seconds` without a whole request head. Running requests (long polls,
 * event streams) and upgraded streams are not watched. */
struct watch {
	struct watch *next;
	int fd;
	int64_t since_ms; /* INT64_MAX: being handled, or already cut */
};

struct deadline {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct watch *watches;
	int64_t limit_ms;
	bool stop;
	pthread_t reaper;
};

static void *reap(void *cls)
{
	struct deadline *dl = cls;

	pthread_mutex_lock(&dl->lock);
	while (!dl->stop) {
		struct timespec ts;
		int64_t now = vs_now_ms();

		for (struct watch *w = dl->watches; w != NULL; w = w->next)
			if (w->since_ms != INT64_MAX && now - w->since_ms > dl->limit_ms) {
				/* MHD's thread sees EOF and closes it; the fd
				 * stays open (and ours) until CLOSED below. */
				shutdown(w->fd, SHUT_RDWR);
				w->since_ms = INT64_MAX;
				vsd_debug("https: a request head took over %lld ms: connection cut",
					  (long long)dl->limit_ms);
			}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&dl->wake, &dl->lock, &ts);
	}
	pthread_mutex_unlock(&dl->lock);
	return NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct deadline *dl = ((struct vsd_server *)cls)->deadline;
	const union MHD_ConnectionInfo *ci;
	struct watch *w = *socket_context, **p;

	pthread_mutex_lock(&dl->lock);
	if (toe == MHD_CONNECTION_NOTIFY_STARTED &&
	    (ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD)) != NULL) {
		w = xcalloc(1, sizeof(*w));
		w->fd = ci->connect_fd;
		w->since_ms = vs_now_ms();
		w->next = dl->watches;
		dl->watches = w;
		*socket_context = w;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && w != NULL) {
		for (p = &dl->watches; *p != NULL && *p != w; p = &(*p)->next)
			;
		if (*p != NULL)
			*p = w->next;
		free(w);
		*socket_context = NULL;
	}
	pthread_mutex_unlock(&dl->lock);
}

/* A request head arrived (busy) or a request ended (the next head's time
 * starts). */
static void watch_busy(struct vsd_server *s, struct MHD_Connection *conn, bool busy)
{
	const union MHD_ConnectionInfo *ci;
	struct watch *w;

	if (s->deadline == NULL ||
	    (ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT)) == NULL ||
	    (w = ci->socket_context) == NULL)
		return;
	pthread_mutex_lock(&s->deadline->lock);
	w->since_ms = busy ? INT64_MAX : vs_now_ms();
	pthread_mutex_unlock(&s->deadline->lock);
}

static struct deadline *deadline_start(unsigned seconds)
{
	struct deadline *dl = xcalloc(1, sizeof(*dl));

	pthread_mutex_init(&dl->lock, NULL);
	pthread_cond_init(&dl->wake, NULL);
	dl->limit_ms = (int64_t)seconds * 1000;
	if (pthread_create(&dl->reaper, NULL, reap, dl) != 0) {
		free(dl);
		return NULL;
	}
	return dl;
}

/* After MHD stopped (every connection CLOSED). */
static void deadline_stop(struct deadline *dl)
{
	if (dl == NULL)
		return;
	pthread_mutex_lock(&dl->lock);
	dl->stop = true;
	pthread_cond_signal(&dl->wake);
	pthread_mutex_unlock(&dl->lock);
	pthread_join(dl->reaper, NULL);
	while (dl->watches != NULL) {
		struct watch *w = dl->watches;
		dl->watches = w->next;
		free(w);
	}
	free(dl);
}

struct vsd_req {
	struct vsd *d;
	struct vsd_server *srv;
	struct vsd_match m;
	struct vsd_body body;
	int upload_fd;
	char *upload_name; /* in d->templates_fd, unlinked when still owned */
	uint64_t upload_bytes;
	int upload_errno;
	struct vsd_reply upgrade; /* its stream is taken by the upgrade handler */
	struct vsd_identity who;  /* set by begin() */
};

/* vsd_call's query: the argument of the request, or NULL. A bare "?force"
 * is present with a NULL value: report it as "". */
static const char *call_query(void *conn, const char *key)
{
	const char *value = NULL;

	if (MHD_lookup_connection_value_n(conn, MHD_GET_ARGUMENT_KIND, key, strlen(key), &value,
					  NULL) != MHD_YES)
		return NULL;
	return value != NULL ? value : "";
}

static const char *call_header(void *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* Queue body (malloc'd, taken over; JSON unless content_type says) with
 * status. */
static enum MHD_Result queue_body_etag(struct MHD_Connection *conn, unsigned status, char *body,
				       const char *allow, const char *content_type,
				       const char *etag)
{
	struct MHD_Response *resp;
	enum MHD_Result r;

	resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				content_type ? content_type : "application/json");
	if (allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (etag != NULL && etag[0] != '\0') {
		char quoted[32];
		snprintf(quoted, sizeof(quoted), "\"%s\"", etag);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, quoted);
	}
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result queue_body(struct MHD_Connection *conn, unsigned status, char *body,
				  const char *allow, const char *content_type)
{
	return queue_body_etag(conn, status, body, allow, content_type, NULL);
}

/* A body made as the client takes it (the event stream). MHD calls the
 * reader from the connection's own thread (one per connection), so a
 * reader that waits for the next event holds up no other request; ending
 * it (-1) closes the connection. */
struct streamed {
	ssize_t (*read)(void *cls, char *buf, size_t max);
	void (*done)(void *cls);
	void *cls;
};

static ssize_t read_streamed(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct streamed *s = cls;
	ssize_t n = s->read(s->cls, buf, max);

	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return n < 0 ? MHD_CONTENT_READER_END_WITH_ERROR : n;
}

static void free_streamed(void *cls)
{
	struct streamed *s = cls;

	s->done(s->cls);
	free(s);
}

static enum MHD_Result queue_streamed(struct MHD_Connection *conn, struct vsd_reply *reply)
{
	struct streamed *s = xcalloc(1, sizeof(*s));
	struct MHD_Response *resp;
	enum MHD_Result r;

	s->read = reply->reader;
	s->done = reply->reader_done;
	s->cls = reply->reader_cls;
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read_streamed, s,
						 free_streamed);
	if (resp == NULL) {
		free_streamed(s);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				reply->content_type ? reply->content_type
						    : "application/octet-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	r = MHD_queue_response(conn, reply->status, resp);
	MHD_destroy_response(resp);
	return r;
}

/* A file as the body, read by libmicrohttpd as the client takes it (memory
 * stays bounded whatever its size); the fd is taken over. */
static enum MHD_Result queue_file(struct MHD_Connection *conn, struct vsd_reply *reply)
{
	struct MHD_Response *resp = MHD_create_response_from_fd64(reply->file_size, reply->file_fd);
	enum MHD_Result r;

	if (resp == NULL) {
		close(reply->file_fd);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				reply->content_type ? reply->content_type
						    : "application/octet-stream");
	r = MHD_queue_response(conn, reply->status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result queue_json(struct MHD_Connection *conn, unsigned status, char *body,
				  const char *allow)
{
	return queue_body(conn, status, body, allow, NULL);
}

static enum MHD_Result queue_error(struct MHD_Connection *conn, const char *method, const char *url,
				   unsigned status, const char *code, const char *allow,
				   const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static enum MHD_Result queue_error(struct MHD_Connection *conn, const char *method, const char *url,
				   unsigned status, const char *code, const char *allow,
				   const char *fmt, ...)
{
	char msg[VS_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (status >= 500)
		vsd_log("%s %s: %u %s", method, url, status, msg);
	else
		vsd_debug("%s %s: %u %s", method, url, status, msg);
	return queue_json(conn, status, vsd_error_body(code, msg), allow);
}

static enum MHD_Result queue_vs_error(struct MHD_Connection *conn, const char *method,
				      const char *url, const struct vs_error *err)
{
	return queue_error(conn, method, url, vsd_error_status(err->kind),
			   vsd_error_code(err->kind), NULL, "%s", err->msg);
}

/* api.md: only uid 0 and the daemon's own uid are served. */
static bool peer_allowed(struct MHD_Connection *conn, uid_t *uid)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct ucred cr;
	socklen_t len = sizeof(cr);

	*uid = (uid_t)-1;
	if (ci == NULL || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return false;
	*uid = cr.uid;
	return cr.uid == 0 || cr.uid == geteuid();
}

static int open_upload(struct vsd *d, char **name, struct vs_error *err)
{
	for (int i = 0; i < 16; i++) {
		cleanup_free char *n = NULL;
		uint64_t rnd = 0;
		int fd;

		if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return vs_error_set(err, errno, "getrandom");
		n = xasprintf(".upload.%016" PRIx64, rnd);
		fd = openat(d->templates_fd, n,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			*name = steal_ptr(&n);
			return fd;
		}
		if (errno != EEXIST)
			return vs_error_set(err, errno, "create %s/templates/%s", d->root, n);
	}
	return vs_error_set(err, EEXIST, "create an upload file in %s/templates", d->root);
}

/* Checks an upgrade route's request can switch to the stream protocol:
 * vsd-stream (descriptor passing) or a WebSocket handshake (RFC 6455 4.2.1;
 * the handler computes the accept value). */
static int check_upgrade(struct MHD_Connection *conn, const char *version, struct vs_error *err)
{
	const char *c = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Connection");
	const char *u = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Upgrade");
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Version");

	if (strcmp(version, MHD_HTTP_VERSION_1_1) != 0 || !vsd_header_has_token(c, "upgrade") ||
	    u == NULL || (strcasecmp(u, "vsd-stream") != 0 && strcasecmp(u, "websocket") != 0))
		return vs_error_kind(err, VS_EK_INVALID,
				     "this request needs HTTP/1.1 with 'Connection: Upgrade' "
				     "and 'Upgrade: vsd-stream' or 'Upgrade: websocket'");
	if (strcasecmp(u, "websocket") != 0)
		return 0;
	if (v == NULL || strcmp(v, "13") != 0)
		return vs_error_kind(err, VS_EK_INVALID, "Sec-WebSocket-Version: expected 13");
	if (!vs_ws_key_valid(
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key")))
		return vs_error_kind(err, VS_EK_INVALID,
				     "Sec-WebSocket-Key: expected the base64 of 16 bytes");
	return 0;
}

/* A request for a stream ticket (exec, console): no Upgrade header at all;
 * the handler refuses it unless the body asks for a ticket. */
static bool ticket_request(const struct vsd_route *route, struct MHD_Connection *conn)
{
	return route->ticket &&
	       MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Upgrade") == NULL;
}

static enum MHD_Result count_one(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	const char *name = ((const char **)cls)[0];

	if (strcasecmp(key, name) == 0)
		(*((size_t **)cls)[1])++;
	return MHD_YES;
}

/* How many times the request holds header `name` (MHD's lookup only sees
 * the first: two Content-Lengths that disagree are a smuggling attempt). */
static size_t count_header(struct MHD_Connection *conn, const char *name)
{
	size_t n = 0;
	const void *cls[2] = {name, &n};

	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_one, cls);
	return n;
}

/* The unescape step of libmicrohttpd (path and query arguments): its own
 * %HH decoding, with decoded NULs kept visible (vsd_unescape_nul). */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	return vsd_unescape_nul(s, MHD_http_unescape(s));
}

static bool is_read(const char *method)
{
	return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

/* The audit log holds every request that may change something and every
 * refused credential, whatever its method (docs/api.md "Audit log"). */
static void audit(struct vsd_req *r, const char *method, const char *url, unsigned status,
		  const char *msg)
{
	if (!is_read(method) || status == 401 || status == 403)
		vsd_audit(r->d, &r->who, method, url, status, msg);
}

/* Answer err, audited. */
static enum MHD_Result refuse(struct vsd_req *r, struct MHD_Connection *conn, const char *method,
			      const char *url, const struct vs_error *err)
{
	audit(r, method, url, vsd_error_status(err->kind), err->msg);
	return queue_vs_error(conn, method, url, err);
}

/* Who makes the request: the unix socket's peer uid, or over TLS the
 * fingerprint of the client's certificate; a Bearer token on either. */
static int authenticate(struct vsd_req *r, struct MHD_Connection *conn, uid_t uid,
			struct vs_error *err)
{
	const char *authz = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	const union MHD_ConnectionInfo *ci;
	char fp[VSD_FP_HEX + 1] = "";

	if (!r->srv->tls)
		return vsd_authenticate(r->d, true, uid, "", authz, &r->who, err);
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	vsd_tls_peer_fingerprint(ci != NULL ? ci->tls_session : NULL, fp);
	return vsd_authenticate(r->d, false, 0, fp, authz, &r->who, err);
}

/* A sink's descriptor may be one end of a socket that the program also
 * writes its output to (the page server's, daemon/migrate-in.c): closing
 * our copy would not end its input while the output's copy lives, a
 * half-close does. On a pipe or a file the shutdown fails harmlessly. */
static void sink_end(int *fd)
{
	if (*fd >= 0)
		shutdown(*fd, SHUT_WR);
	vs_closep(fd);
}

/* Before the body is read: the route's pre-check, then (a sink route)
 * where the body goes. */
static int prepare_body(struct vsd_req *r, struct MHD_Connection *conn, struct vs_error *err)
{
	struct vsd_call call = {.d = r->d,
				.m = &r->m,
				.query = call_query,
				.header = call_header,
				.conn = conn,
				.who = &r->who};

	if (r->m.route->precheck != NULL && r->m.route->precheck(&call, err) < 0)
		return -1;
	if (r->m.route->body == VSD_BODY_SINK)
		return r->m.route->sink(&call, &r->upload_fd, err);
	return 0;
}

/* First call: everything that can be refused before reading the body. */
static enum MHD_Result begin(struct vsd_req *r, struct MHD_Connection *conn, const char *url,
			     const char *method, const char *version)
{
	struct vs_error err = {0};
	enum vsd_match_result m;
	char allow[128];
	uid_t uid = 0;

	if (!r->srv->tls && !peer_allowed(conn, &uid))
		return queue_error(conn, method, url, 403, "forbidden", NULL,
				   "uid %d may not use this socket", (int)uid);
	if (authenticate(r, conn, uid, &err) < 0) {
		vsd_log("%s %s: refused (%s): %s", method, url, r->who.name, err.msg);
		return refuse(r, conn, method, url, &err);
	}
	if (count_header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH) > 1)
		return queue_error(conn, method, url, 400, "invalid", NULL,
				   "Content-Length: given more than once");
	m = vsd_route_match(r->srv->table, r->srv->ntable, method, url, &r->m, allow,
			    sizeof(allow));
	/* A path with a decoded %00 (or another control character) is 400
	 * whatever it would match; when it matches, the parameter holding it
	 * is named below. */
	if (m != VSD_MATCH_OK && vsd_path_check(url, &err) < 0)
		return queue_vs_error(conn, method, url, &err);
	switch (m) {
	case VSD_MATCH_NO_ROUTE:
		return queue_error(conn, method, url, 404, "not_found", NULL,
				   "no such resource: %s", url);
	case VSD_MATCH_BAD_METHOD:
		return queue_error(conn, method, url, 405, "method_not_allowed", allow,
				   "method %s is not allowed on %s (allowed: %s)", method, url,
				   allow);
	case VSD_MATCH_OK:
		break;
	}
	if (vsd_authorize(&r->who, r->m.route, method, &err) < 0) {
		vsd_log("%s %s: refused (%s): %s", method, url, r->who.name, err.msg);
		return refuse(r, conn, method, url, &err);
	}
	if (vsd_match_validate(&r->m, &err) < 0 || vsd_path_check(url, &err) < 0 ||
	    (r->m.route->upgrade && !ticket_request(r->m.route, conn) &&
	     check_upgrade(conn, version, &err) < 0))
		return queue_vs_error(conn, method, url, &err);
	/* Before any handler or pre-check: an owner-scoped credential sees
	 * only its owner's containers, on every route that names one. */
	{
		struct vsd_call call = {.d = r->d, .m = &r->m, .who = &r->who};

		if (vsd_access_check(&call, &err) < 0)
			return refuse(r, conn, method, url, &err);
	}
	if (r->m.route->body == VSD_BODY_JSON &&
	    vsd_content_length_exceeds(
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length"), VSD_BODY_MAX))
		return queue_error(conn, method, url, 413, "too_large", NULL,
				   "request body larger than %d bytes", VSD_BODY_MAX);
	if (prepare_body(r, conn, &err) < 0)
		return refuse(r, conn, method, url, &err);
	if (r->m.route->body == VSD_BODY_STREAM) {
		r->upload_fd = open_upload(r->d, &r->upload_name, &err);
		if (r->upload_fd < 0)
			return queue_vs_error(conn, method, url, &err);
	}
	return MHD_YES;
}

static void consume(struct vsd_req *r, const char *data, size_t n)
{
	if (r->m.route == NULL)
		return;
	switch (r->m.route->body) {
	case VSD_BODY_NONE:
		break;
	case VSD_BODY_JSON:
		vsd_body_append(&r->body, data, n, VSD_BODY_MAX);
		break;
	case VSD_BODY_STREAM:
	case VSD_BODY_SINK:
		/* Written as it arrives: uploads are not held in memory. */
		if (r->upload_errno == 0 && vs_write_all(r->upload_fd, data, n) < 0)
			r->upload_errno = errno;
		r->upload_bytes += n;
		break;
	}
}

static enum MHD_Result queue_upgrade(struct vsd_req *r, struct MHD_Connection *conn,
				     struct vsd_reply *reply);

/* Last call: run the handler and answer. */
static enum MHD_Result finish(struct vsd_req *r, struct MHD_Connection *conn, const char *url,
			      const char *method)
{
	struct vsd_reply reply = {0};
	struct vs_error err = {0};
	struct vsd_call call = {
	    .d = r->d,
	    .m = &r->m,
	    .body = r->body.buf,
	    .body_len = r->body.len,
	    .query = call_query,
	    .header = call_header,
	    .conn = conn,
	    .who = &r->who,
	};

	if (r->body.too_large)
		return queue_error(conn, method, url, 413, "too_large", NULL,
				   "request body larger than %d bytes", VSD_BODY_MAX);
	if (r->m.route->body == VSD_BODY_STREAM) {
		if (r->upload_errno != 0)
			return queue_error(conn, method, url, 500, "internal", NULL,
					   "write the upload to %s/templates/%s: %s", r->d->root,
					   r->upload_name, strerror(r->upload_errno));
		vs_closep(&r->upload_fd);
		call.upload_name = steal_ptr(&r->upload_name);
		call.body_len = (size_t)r->upload_bytes;
	}
	if (r->m.route->body == VSD_BODY_SINK) {
		/* The end of the body is the end of the program's input. */
		sink_end(&r->upload_fd);
		if (r->upload_errno != 0)
			return queue_error(conn, method, url, 500, "internal", NULL,
					   "pass the body on: %s", strerror(r->upload_errno));
		call.body_len = (size_t)r->upload_bytes;
	}
	vs_trace_mark("api.handler");
	if (r->m.route->handler(&call, &reply, &err) < 0) {
		r->upload_name = steal_ptr(&call.upload_name);
		free(reply.body);
		if (reply.stream != NULL)
			reply.stream_free(reply.stream);
		return refuse(r, conn, method, url, &err);
	}
	r->upload_name = steal_ptr(&call.upload_name);
	vs_trace_mark("api.handled");
	audit(r, method, url, reply.stream != NULL ? 101 : reply.status, "ok");
	if (reply.stream != NULL)
		return queue_upgrade(r, conn, &reply);
	if (reply.file_fd_set)
		return queue_file(conn, &reply);
	if (reply.reader != NULL)
		return queue_streamed(conn, &reply);
	vsd_debug("%s %s: %u", method, url, reply.status);
	return queue_body_etag(conn, reply.status, reply.body, NULL, reply.content_type,
			       reply.etag);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct vsd_req *r = *con_cls;

	if (r == NULL) {
		r = xcalloc(1, sizeof(*r));
		r->srv = cls;
		r->d = r->srv->d;
		r->upload_fd = -1;
		*con_cls = r;
		watch_busy(r->srv, conn, true);
		return begin(r, conn, url, method, version);
	}
	if (*upload_data_size > 0) {
		consume(r, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	return finish(r, conn, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct vsd_req *r = *con_cls;

	if (r == NULL)
		return;
	*con_cls = NULL;
	/* An upgraded connection is a stream now: never cut. */
	if (r->upgrade.stream_run == NULL)
		watch_busy(r->srv, conn, false);
	vsd_match_clear(&r->m);
	vsd_body_free(&r->body);
	sink_end(&r->upload_fd); /* a cut input ends the program's input too */
	if (r->upload_name != NULL && unlinkat(r->d->templates_fd, r->upload_name, 0) < 0)
		vsd_log("remove %s/templates/%s: %s", r->d->root, r->upload_name, strerror(errno));
	free(r->upload_name);
	if (r->upgrade.stream != NULL)
		r->upgrade.stream_free(r->upgrade.stream);
	free(r);
}

/* MHD calls this after the 101 went out (before on_completed, from the
 * connection's thread). The stream leaves the request here. */
static void on_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
			size_t extra_in_size, MHD_socket sock,
			struct MHD_UpgradeResponseHandle *urh)
{
	struct vsd_req *r = con_cls;
	struct vsd_stream *s = steal_ptr(&r->upgrade.stream);
	const union MHD_ConnectionInfo *ci =
	    r->srv->tls ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD) : NULL;

	/* Clients send nothing after the request; extra_in is ignored. */
	r->upgrade.stream_run(r->d, s, sock, ci != NULL ? ci->connect_fd : -1, urh);
}

static enum MHD_Result queue_upgrade(struct vsd_req *r, struct MHD_Connection *conn,
				     struct vsd_reply *reply)
{
	struct MHD_Response *resp = MHD_create_response_for_upgrade(on_upgraded, r->d);
	enum MHD_Result ret;

	free(reply->body);
	if (resp == NULL) {
		reply->stream_free(reply->stream);
		return MHD_NO;
	}
	r->upgrade = *reply;
	r->upgrade.body = NULL;
	if (reply->ws_accept[0] != '\0') {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
		MHD_add_response_header(resp, "Sec-WebSocket-Accept", reply->ws_accept);
		if (reply->ws_protocol != NULL)
			MHD_add_response_header(resp, "Sec-WebSocket-Protocol", reply->ws_protocol);
	} else {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "vsd-stream");
	}
	ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	vsd_debug("http: %s", buf);
}

/* poll(), not select(): the daemon holds descriptors per running container
 * (pidfds of inits and monitors), so past about 500 running a connection's
 * descriptor is above FD_SETSIZE, and a select()ing MHD drops it at once
 * (the client sees its connection reset). */
#define VSD_MHD_FLAGS                                                                              \
	(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |          \
	 MHD_ALLOW_UPGRADE | MHD_USE_ITC | MHD_USE_ERROR_LOG)

int vsd_server_start(struct vsd *d, int listen_fd, const struct vsd_route *table, size_t n,
		     struct vsd_server **out, struct vs_error *err)
{
	struct vsd_server *s = xcalloc(1, sizeof(*s));
	unsigned flags = VSD_MHD_FLAGS;

	s->d = d;
	s->listen_fd = listen_fd;
	s->table = table;
	s->ntable = n;
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
				  on_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, listen_fd,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)VSD_CONN_TIMEOUT,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
				  MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
	if (s->mhd == NULL) {
		free(s);
		close(listen_fd);
		return vs_error_set(err, 0, "start the HTTP server (libmicrohttpd)");
	}
	*out = s;
	return 0;
}

/* TLS 1.2 and 1.3 only, GnuTLS's default suites otherwise. */
#define VSD_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

int vsd_server_start_tls(struct vsd *d, int listen_fd, const struct vsd_route *table, size_t n,
			 const struct vsd_listen_opts *o, struct vsd_server **out,
			 struct vs_error *err)
{
	struct vsd_server *s = xcalloc(1, sizeof(*s));
	unsigned flags = VSD_MHD_FLAGS | MHD_USE_TLS;

	s->d = d;
	s->listen_fd = listen_fd;
	s->table = table;
	s->ntable = n;
	s->tls = true;
	s->deadline = deadline_start(o->timeout);
	if (s->deadline == NULL) {
		free(s);
		close(listen_fd);
		return vs_error_set(err, EAGAIN, "start the HTTPS request deadline thread");
	}
	/* MEM_TRUST makes MHD ask for a client certificate; nothing is
	 * verified against it (the node's own certificate): the client's
	 * fingerprint is looked up in the trust store instead. */
	s->mhd = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_HTTPS_MEM_CERT, o->cert_pem,
	    MHD_OPTION_HTTPS_MEM_KEY, o->key_pem, MHD_OPTION_HTTPS_MEM_TRUST, o->cert_pem,
	    MHD_OPTION_HTTPS_PRIORITIES, VSD_TLS_PRIORITIES, MHD_OPTION_CONNECTION_TIMEOUT,
	    o->timeout, MHD_OPTION_CONNECTION_LIMIT, o->max_conns,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_per_ip, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)VSD_CONN_MEMORY, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_UNESCAPE_CALLBACK, unescape,
	    NULL, MHD_OPTION_END);
	if (s->mhd == NULL) {
		deadline_stop(s->deadline);
		free(s);
		close(listen_fd);
		return vs_error_set(err, 0, "start the HTTPS server (libmicrohttpd with GnuTLS)");
	}
	*out = s;
	return 0;
}

void vsd_server_quiesce(struct vsd_server *s)
{
	MHD_socket fd;

	if (s == NULL)
		return;
	fd = MHD_quiesce_daemon(s->mhd);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}

void vsd_server_stop(struct vsd_server *s)
{
	if (s == NULL)
		return;
	MHD_stop_daemon(s->mhd);
	deadline_stop(s->deadline);
	free(s);
}
