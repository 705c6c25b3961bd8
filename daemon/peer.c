/* This node as a TLS client of another node's HTTPS API (daemon.h,
 * "peer.c"; docs/migration.md): requests of the migration protocol, and
 * rsync's stream as two plain streamed requests. The session itself is
 * lib/vs_tls.c's (shared with vsctl); the target is pinned by
 * fingerprint, never checked against a CA. */
#include "daemon/daemon.h"

#include <ctype.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/log.h"
#include "lib/vs_io.h"
#include "lib/vs_json.h"
#include "lib/vs_spawn.h"
#include "lib/vs_tls.h"
#include "lib/vs_util.h"
#include "migrate/vs_migrate.h"

extern char **environ;

#define HEAD_MAX   (64 * 1024)
#define STREAM_BUF (64 * 1024)

struct vsd_peer {
	int fd;
	struct vs_tls_client *tls;
	gnutls_session_t s;
	char *url;  /* for messages */
	char *host; /* the Host header: host:port as in the URL */
	int timeout_ms;
	void (*progress)(void *arg, uint64_t sent, uint64_t received);
	void *progress_arg;
	bool broken; /* no close_notify on close */
	bool eof;    /* the peer ended the connection */
	/* Bytes read past a head: the first of its body. */
	char *ahead;
	size_t ahead_len;
};

/* ---- connection -------------------------------------------------------- */

/* "https://HOST:PORT[/]" into host (brackets removed) and port. */
static int parse_url(const char *url, char **host, char **port, struct vs_error *err)
{
	const char *h, *end, *colon;
	size_t plen;

	if (url == NULL || strncmp(url, "https://", 8) != 0)
		return vs_error_kind(err, VS_EK_INVALID,
				     "peer URL '%s': expected https://HOST:PORT", url ? url : "");
	h = url + 8;
	if (*h == '[') {
		end = strchr(h, ']');
		if (end == NULL || end[1] != ':')
			return vs_error_kind(err, VS_EK_INVALID,
					     "peer URL '%s': expected https://[ADDRESS]:PORT", url);
		*host = xstrndup(h + 1, (size_t)(end - h - 1));
		colon = end + 1;
	} else {
		colon = strchr(h, ':');
		if (colon == NULL || colon == h)
			return vs_error_kind(err, VS_EK_INVALID,
					     "peer URL '%s': expected https://HOST:PORT", url);
		*host = xstrndup(h, (size_t)(colon - h));
	}
	plen = strspn(colon + 1, "0123456789");
	if (plen == 0 || plen > 5 || (colon[1 + plen] != '\0' && strcmp(colon + 1 + plen, "/"))) {
		free(*host);
		*host = NULL;
		return vs_error_kind(err, VS_EK_INVALID, "peer URL '%s': expected a port after ':'",
				     url);
	}
	*port = xstrndup(colon + 1, plen);
	return 0;
}

static int check_pin(const char *fp, char out[VS_CERT_FP_HEX + 1], struct vs_error *err)
{
	if (fp == NULL || strlen(fp) != VS_CERT_FP_HEX ||
	    strspn(fp, "0123456789abcdefABCDEF") != VS_CERT_FP_HEX)
		return vs_error_kind(err, VS_EK_INVALID,
				     "peer fingerprint '%s': expected 64 hexadecimal digits",
				     fp ? fp : "");
	for (size_t i = 0; i <= VS_CERT_FP_HEX; i++)
		out[i] = (char)tolower((unsigned char)fp[i]);
	return 0;
}

/* Reads and writes of the blocking socket end after timeout_ms. */
static void set_timeouts(int fd, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void vsd_peer_close(struct vsd_peer *p)
{
	if (p == NULL)
		return;
	if (p->s != NULL && !p->broken)
		gnutls_bye(p->s, GNUTLS_SHUT_WR);
	vs_tls_client_free(p->tls);
	if (p->fd >= 0)
		close(p->fd);
	free(p->url);
	free(p->host);
	free(p->ahead);
	free(p);
}

static void peer_freep(struct vsd_peer **p)
{
	vsd_peer_close(*p);
}

int vsd_peer_open(const struct vsd_peer_id *id, struct vsd_peer **out, struct vs_error *err)
{
	__attribute__((cleanup(peer_freep))) struct vsd_peer *p = NULL;
	cleanup_free char *host = NULL, *port = NULL;
	char pin[VS_CERT_FP_HEX + 1], got[VS_CERT_FP_HEX + 1];

	if (parse_url(id->url, &host, &port, err) < 0 || check_pin(id->fingerprint, pin, err) < 0)
		return -1;
	if (id->cert_pem == NULL || id->key_pem == NULL)
		return vs_error_kind(err, VS_EK_INVALID,
				     "%s: this node has no certificate "
				     "(vsd needs --listen or --tls-cert)",
				     id->url);
	p = xcalloc(1, sizeof(*p));
	p->fd = -1;
	p->url = xstrdup(id->url);
	p->host = xstrndup(id->url + 8, strcspn(id->url + 8, "/"));
	p->timeout_ms = id->timeout_ms > 0 ? id->timeout_ms : VSD_PEER_TIMEOUT_MS;
	p->progress = id->progress;
	p->progress_arg = id->progress_arg;
	p->broken = true; /* until the handshake is done */
	if (vs_tls_client_new(id->cert_pem, id->key_pem, &p->tls, err) < 0)
		return vs_error_prefix(err, "%s", p->url);
	p->fd = vs_tcp_connect(host, port, p->timeout_ms, err);
	if (p->fd < 0)
		return vs_error_prefix(err, "%s", p->url);
	set_timeouts(p->fd, p->timeout_ms);
	if (vs_tls_client_handshake(p->tls, p->fd, p->url, p->timeout_ms, got, err) < 0)
		return -1;
	p->s = vs_tls_client_session(p->tls);
	p->broken = false;
	if (strcmp(pin, got) != 0)
		return vs_error_kind(
		    err, VS_EK_FORBIDDEN,
		    "fingerprint mismatch: expected %s, the node at %s presented %s", pin, p->url,
		    got);
	*out = steal_ptr(&p);
	return 0;
}

/* ---- HTTP/1.1 on the session ------------------------------------------ */

static int io_error(struct vsd_peer *p, ssize_t r, struct vs_error *err)
{
	p->broken = true;
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
		return vs_error_set(err, 0, "%s: timed out after %d ms", p->url, p->timeout_ms);
	return vs_error_set(err, 0, "%s: %s", p->url, gnutls_strerror((int)r));
}

static int send_all(struct vsd_peer *p, const char *buf, size_t len, struct vs_error *err)
{
	while (len > 0) {
		ssize_t n = gnutls_record_send(p->s, buf, len);

		if (n < 0)
			return io_error(p, n, err);
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Up to cap of the bytes read ahead (p->ahead_len > 0). */
static ssize_t take_ahead(struct vsd_peer *p, char *buf, size_t cap)
{
	size_t n = p->ahead_len < cap ? p->ahead_len : cap;

	memcpy(buf, p->ahead, n);
	memmove(p->ahead, p->ahead + n, p->ahead_len - n);
	p->ahead_len -= n;
	return (ssize_t)n;
}

/* Up to cap bytes: those read ahead first. 0 at the end of the stream (a
 * close without close_notify counts: the framing says whether the answer
 * was whole). */
static ssize_t recv_some(struct vsd_peer *p, char *buf, size_t cap, struct vs_error *err)
{
	ssize_t n;

	if (p->ahead_len > 0)
		return take_ahead(p, buf, cap);
	n = gnutls_record_recv(p->s, buf, cap);
	if (n == GNUTLS_E_PREMATURE_TERMINATION)
		n = 0;
	p->eof = n == 0;
	return n < 0 ? io_error(p, n, err) : n;
}

static void push_back(struct vsd_peer *p, const char *data, size_t len)
{
	char *a = xmalloc(p->ahead_len + len + 1);

	memcpy(a, data, len);
	if (p->ahead_len > 0)
		memcpy(a + len, p->ahead, p->ahead_len);
	free(p->ahead);
	p->ahead = a;
	p->ahead_len += len;
}

struct answer {
	unsigned status;
	int64_t length; /* Content-Length, -1 when none */
	bool chunked;
	char *body;
	size_t len;
};

static int malformed(struct vsd_peer *p, const char *what, struct vs_error *err)
{
	p->broken = true;
	return vs_error_kind(err, VS_EK_INTERNAL, "%s: malformed answer: %s", p->url, what);
}

static const char *header_value(char *line, const char *name)
{
	size_t n = strlen(name);

	if (strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	line += n + 1;
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

/* The status line and headers of head (NUL-terminated, CRLF lines). */
static int parse_head(struct vsd_peer *p, char *head, struct answer *a, struct vs_error *err)
{
	char *save = NULL, *line = strtok_r(head, "\r\n", &save);
	unsigned st;

	a->length = -1;
	if (line == NULL || sscanf(line, "HTTP/1.%*1[01] %3u", &st) != 1 || st < 100 || st > 599)
		return malformed(p, "status line", err);
	a->status = st;
	while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
		const char *v;
		char *end;

		if ((v = header_value(line, "Content-Length")) != NULL) {
			errno = 0;
			a->length = strtoll(v, &end, 10);
			if (errno != 0 || end == v || *end != '\0' || a->length < 0)
				return malformed(p, "Content-Length", err);
		} else if ((v = header_value(line, "Transfer-Encoding")) != NULL) {
			a->chunked = strcasecmp(v, "chunked") == 0;
		}
	}
	return 0;
}

static int read_head(struct vsd_peer *p, struct answer *a, struct vs_error *err)
{
	cleanup_free char *buf = xmalloc(HEAD_MAX + 1);
	size_t len = 0;
	char *end;

	for (;;) {
		ssize_t n = recv_some(p, buf + len, HEAD_MAX - len, err);

		if (n < 0)
			return -1;
		if (n == 0) {
			p->broken = true;
			return vs_error_set(err, 0, "%s: the connection closed before the answer",
					    p->url);
		}
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end != NULL)
			break;
		if (len == HEAD_MAX)
			return malformed(p, "header over 64 KiB", err);
	}
	push_back(p, end + 4, len - (size_t)(end + 4 - buf));
	end[2] = '\0';
	return parse_head(p, buf, a, err);
}

/* Exactly n more bytes (or, with n < 0, up to the close) onto a->body. */
static int read_body(struct vsd_peer *p, struct answer *a, int64_t n, struct vs_error *err)
{
	char buf[16384];

	while (n != 0) {
		size_t want = n < 0 || n > (int64_t)sizeof(buf) ? sizeof(buf) : (size_t)n;
		ssize_t r = recv_some(p, buf, want, err);

		if (r < 0)
			return -1;
		if (r == 0) {
			p->broken = true;
			return n < 0
				   ? 0
				   : vs_error_set(err, 0, "%s: the connection closed in the answer",
						  p->url);
		}
		if (a->len + (size_t)r > VSD_PEER_BODY_MAX)
			return malformed(p, "body over 4 MiB", err);
		a->body = xrealloc(a->body, a->len + (size_t)r + 1);
		memcpy(a->body + a->len, buf, (size_t)r);
		a->len += (size_t)r;
		if (n > 0)
			n -= r;
	}
	return 0;
}

/* One CRLF-terminated line (chunk sizes, trailers) into line. */
static int read_line(struct vsd_peer *p, char *line, size_t cap, struct vs_error *err)
{
	size_t len = 0;

	for (;;) {
		char c;
		ssize_t r = recv_some(p, &c, 1, err);

		if (r <= 0)
			return r < 0 ? -1 : malformed(p, "cut in chunked framing", err);
		if (c == '\n')
			break;
		if (len + 1 >= cap)
			return malformed(p, "chunk line too long", err);
		line[len++] = c;
	}
	if (len > 0 && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	return 0;
}

/* A chunk's size line. */
static int read_chunk_size(struct vsd_peer *p, unsigned long long *n, struct vs_error *err)
{
	char line[256];
	char *end;

	if (read_line(p, line, sizeof(line), err) < 0)
		return -1;
	errno = 0;
	*n = strtoull(line, &end, 16);
	if (errno != 0 || end == line || (*end != '\0' && *end != ';'))
		return malformed(p, "chunk size", err);
	return 0;
}

static int read_chunked(struct vsd_peer *p, struct answer *a, struct vs_error *err)
{
	char line[256];

	for (;;) {
		unsigned long long n;

		if (read_chunk_size(p, &n, err) < 0)
			return -1;
		if (n > VSD_PEER_BODY_MAX)
			return malformed(p, "body over 4 MiB", err);
		if (n == 0)
			break;
		if (read_body(p, a, (int64_t)n, err) < 0 ||
		    read_line(p, line, sizeof(line), err) < 0)
			return -1;
		if (line[0] != '\0')
			return malformed(p, "no CRLF after a chunk", err);
	}
	do /* trailers up to the empty line */
		if (read_line(p, line, sizeof(line), err) < 0)
			return -1;
	while (line[0] != '\0');
	return 0;
}

static int send_request(struct vsd_peer *p, const char *method, const char *path, const char *body,
			struct vs_error *err)
{
	cleanup_free char *head = NULL;
	size_t blen = body != NULL ? strlen(body) : 0;

	if (body != NULL)
		head = xasprintf("%s %s HTTP/1.1\r\nHost: %s\r\nVsd-Migration: 1\r\n"
				 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
				 method, path, p->host, blen);
	else
		head = xasprintf("%s %s HTTP/1.1\r\nHost: %s\r\nVsd-Migration: 1\r\n\r\n", method,
				 path, p->host);
	if (send_all(p, head, strlen(head), err) < 0)
		return -1;
	return blen > 0 ? send_all(p, body, blen, err) : 0;
}

static int read_answer_body(struct vsd_peer *p, const char *method, struct answer *a,
			    struct vs_error *err)
{
	if (strcmp(method, "HEAD") == 0 || a->status == 204 || a->status == 304)
		return 0;
	if (a->chunked)
		return read_chunked(p, a, err);
	if (a->length >= 0)
		return a->length > VSD_PEER_BODY_MAX ? malformed(p, "body over 4 MiB", err)
						     : read_body(p, a, a->length, err);
	return read_body(p, a, -1, err);
}

int vsd_peer_call(struct vsd_peer *p, const char *method, const char *path, const char *body,
		  unsigned *status, char **resp, struct vs_error *err)
{
	struct answer a = {0};

	if (p->broken)
		return vs_error_set(err, 0, "%s: the connection is no longer usable", p->url);
	if (send_request(p, method, path, body, err) < 0)
		return -1;
	/* 1xx answers (100 Continue) come before the real one. */
	do {
		free(a.body);
		a = (struct answer){0};
		if (read_head(p, &a, err) < 0)
			return -1;
	} while (a.status >= 100 && a.status < 200);
	if (read_answer_body(p, method, &a, err) < 0) {
		free(a.body);
		return -1;
	}
	if (a.body == NULL)
		a.body = xstrdup("");
	a.body[a.len] = '\0';
	*status = a.status;
	*resp = a.body;
	return 0;
}

int vsd_peer_request(const struct vsd_peer_id *id, const char *method, const char *path,
		     const char *body, unsigned *status, char **resp, struct vs_error *err)
{
	struct vsd_peer *p = NULL;
	int r;

	if (vsd_peer_open(id, &p, err) < 0)
		return -1;
	r = vsd_peer_call(p, method, path, body, status, resp, err);
	vsd_peer_close(p);
	return r;
}

enum vs_error_kind vsd_peer_status_kind(unsigned status)
{
	switch (status) {
	case 400:
		return VS_EK_INVALID;
	case 401:
		return VS_EK_UNAUTHORIZED;
	case 403:
		return VS_EK_FORBIDDEN;
	case 404:
		return VS_EK_NOT_FOUND;
	case 409:
		return VS_EK_CONFLICT;
	case 412:
		return VS_EK_PRECONDITION;
	case 413:
		return VS_EK_TOO_LARGE;
	case 501:
		return VS_EK_UNSUPPORTED;
	default:
		return VS_EK_INTERNAL;
	}
}

/* An answer's {"error": {"message": ...}} as the error. */
static int answer_error(struct vsd_peer *p, unsigned status, const char *body, struct vs_error *err)
{
	cleanup_json struct vs_json *j = NULL;
	const char *msg = NULL;

	if (vs_json_parse(body, &j, NULL) == 0)
		msg = vs_json_string(vs_json_get(vs_json_get(j, "error"), "message"));
	return vs_error_kind(err, vsd_peer_status_kind(status), "%s: %u: %s", p->url, status,
			     msg != NULL ? msg : "(no error message)");
}

/* ---- rsync over the stream ---------------------------------------------- */

#define CMD_MAX (64 * 1024)

static int wait_child(pid_t pid, int *status, struct vs_error *err)
{
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return vs_error_set(err, errno, "wait for rsync");
	return 0;
}

/* The first len - 1 bytes rsync wrote (its messages come before its
 * --stats), NUL-terminated. */
static void rsync_head(int outfd, char *text, size_t len)
{
	ssize_t n = pread(outfd, text, len - 1, 0);

	text[n > 0 ? n : 0] = '\0';
}

/* A failed rsync's messages (which files, and why) into the log, bounded:
 * the error keeps only the cause. */
static void log_messages(const char *src_dir, const char *url, int status, int outfd)
{
	char text[4096], msgs[2048];

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	rsync_head(outfd, text, sizeof(text));
	vs_mig_rsync_messages(text, msgs, sizeof(msgs));
	if (WIFEXITED(status))
		vsd_log("rsync %s to %s ended with status %d: %s", src_dir, url,
			WEXITSTATUS(status), msgs[0] ? msgs : "(no message)");
	else
		vsd_log("rsync %s to %s killed by signal %d: %s", src_dir, url, WTERMSIG(status),
			msgs[0] ? msgs : "(no message)");
}

/* rsync's end as an error ("rsync exited with N: LINE", the line that
 * says why: vs_mig_rsync_cause), or 0. */
static int rsync_status(int status, int outfd, struct vs_error *err)
{
	char text[4096], msg[640];

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	rsync_head(outfd, text, sizeof(text));
	vs_mig_rsync_cause(text, msg, sizeof(msg));
	if (WIFEXITED(status))
		return vs_error_set(err, 0, "rsync exited with %d%s%s", WEXITSTATUS(status),
				    msg[0] ? ": " : "", msg);
	return vs_error_set(err, 0, "rsync killed by signal %d", WTERMSIG(status));
}

/* The command line __fdcat writes first (one JSON array and '\n') as the
 * sync request's body; only that line is taken from fd, what follows is
 * rsync's protocol. */
static int read_command(int fd, int timeout_ms, const char *part, const char *token, char **body,
			struct vs_error *err)
{
	cleanup_free char *buf = xmalloc(CMD_MAX + 1);
	cleanup_json struct vs_json *j = NULL;
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	char *nl = NULL;
	ssize_t n = 0;

	while (nl == NULL) {
		int r = poll(&pf, 1, timeout_ms);

		if (r == 0)
			return vs_error_set(err, 0, "rsync did not start its remote shell");
		n = r < 0 ? -1 : recv(fd, buf, CMD_MAX, MSG_PEEK);
		if (n < 0 && errno != EINTR)
			return vs_error_set(err, errno, "read rsync's remote command");
		if (n == 0)
			return vs_error_set(err, 0, "rsync ended before its remote shell started");
		if (n >= CMD_MAX)
			return vs_error_set(err, 0, "rsync's remote command is over 64 KiB");
		buf[n > 0 ? n : 0] = '\0';
		nl = strchr(buf, '\n');
	}
	n = nl - buf + 1;
	if (vs_read_all(fd, buf, (size_t)n) != n)
		return vs_error_set(err, errno, "read rsync's remote command");
	*nl = '\0';
	if (vs_json_parse(buf, &j, err) < 0 || vs_json_type(j) != VS_JSON_ARRAY)
		return vs_error_set(err, 0, "rsync's remote command is not a JSON array");
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "part", part);
	vs_jgen_key(g, "args");
	vs_jgen_value(g, j);
	vs_jgen_kv_str(g, "stream", token);
	vs_jgen_obj_close(g);
	*body = vs_jgen_steal(g);
	return 0;
}

/* ---- rsync's stream as two plain requests --------------------------------
 *
 * libmicrohttpd 0.9.75 relays an upgraded TLS connection 4 bytes at a time
 * (docs/migration.md, "Transport"), so the two directions of rsync's
 * protocol travel as two ordinary requests on two connections: the answer
 * to POST PATH streams the target rsync's output, the chunked body of POST
 * PATH-input (naming the same stream) carries its input. */

struct push {
	const struct vsd_peer_id *id;
	const char *path, *part;
	int fd; /* our end of rsync's remote shell */
	int timeout_ms;
	uint64_t received;
	int64_t reported_ms;
};

struct uplink {
	struct vsd_peer *p;
	int fd;
	uint64_t rate; /* bytes a second, 0: no limit (rsync limits its own) */
	uint64_t sent; /* atomic: the download's progress reads it */
	struct vs_error err;
	int rc;
};

/* Sleep until what was sent fits the rate since t0. */
static void pace(const struct uplink *u, int64_t t0)
{
	int64_t due;

	if (u->rate == 0)
		return;
	due = t0 + (int64_t)(u->sent * 1000 / u->rate);
	while (vs_now_ms() < due)
		usleep((useconds_t)((due - vs_now_ms()) * 1000));
}

/* fd -> the input request's chunked body, then its answer. */
static void *upload(void *arg)
{
	struct uplink *u = arg;
	char buf[STREAM_BUF + 32];
	struct answer a = {0};
	int64_t t0 = vs_now_ms();

	u->rc = -1;
	for (;;) {
		ssize_t n;
		int h;

		pace(u, t0);
		n = read(u->fd, buf + 16, STREAM_BUF);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		h = snprintf(buf, 16, "%zx\r\n", (size_t)n);
		memmove(buf + h, buf + 16, (size_t)n);
		memcpy(buf + h + n, "\r\n", 2);
		if (send_all(u->p, buf, (size_t)h + (size_t)n + 2, &u->err) < 0)
			return NULL;
		__atomic_add_fetch(&u->sent, (uint64_t)n, __ATOMIC_RELAXED);
	}
	if (send_all(u->p, "0\r\n\r\n", 5, &u->err) < 0 || read_head(u->p, &a, &u->err) < 0 ||
	    read_answer_body(u->p, "POST", &a, &u->err) < 0) {
		free(a.body);
		return NULL;
	}
	if (a.status != 200) {
		if (a.body == NULL)
			a.body = xstrdup("");
		a.body[a.len] = '\0';
		answer_error(u->p, a.status, a.body, &u->err);
	} else {
		u->rc = 0;
	}
	free(a.body);
	return NULL;
}

/* The id's progress hook, from the caller's thread only (the download's):
 * at most every VSD_PEER_PROGRESS_MS, and once at the end. */
static void report(struct push *ps, const struct uplink *up, bool last)
{
	int64_t now = vs_now_ms();

	if (ps->id->progress == NULL || (!last && now - ps->reported_ms < VSD_PEER_PROGRESS_MS))
		return;
	ps->reported_ms = now;
	ps->id->progress(ps->id->progress_arg, __atomic_load_n(&up->sent, __ATOMIC_RELAXED),
			 ps->received);
}

/* n bytes of the answer's body to fd. */
static int pass_bytes(struct push *ps, const struct uplink *up, struct vsd_peer *p, uint64_t n,
		      struct vs_error *err)
{
	char buf[STREAM_BUF];

	while (n > 0) {
		ssize_t r = recv_some(p, buf, n < sizeof(buf) ? (size_t)n : sizeof(buf), err);

		if (r <= 0) /* 0: p->eof, which download() names */
			return -1;
		if (vs_write_all(ps->fd, buf, (size_t)r) < 0)
			return vs_error_set(err, errno, "pass rsync's stream on");
		n -= (uint64_t)r;
		ps->received += (uint64_t)r;
		report(ps, up, false);
	}
	return 0;
}

/* The output answer's chunked body to fd, then fd's end. */
static int download(struct push *ps, const struct uplink *up, struct vsd_peer *p,
		    const struct answer *a, struct vs_error *err)
{
	char line[256];

	if (!a->chunked)
		return malformed(p, "the stream is not chunked", err);
	for (;;) {
		unsigned long long n;

		if (read_chunk_size(p, &n, err) < 0 ||
		    (n > 0 && pass_bytes(ps, up, p, n, err) < 0) ||
		    (n > 0 && read_line(p, line, sizeof(line), err) < 0))
			goto failed;
		if (n == 0)
			break;
		if (line[0] != '\0')
			return malformed(p, "no CRLF after a chunk", err);
	}
	shutdown(ps->fd, SHUT_WR);
	return 0;
failed:
	/* The connection's end before the last chunk: the target, or the
	 * link, cut the stream. */
	if (p->eof) {
		p->broken = true;
		return vs_error_set(err, 0, "%s: the stream was cut", p->url);
	}
	return -1;
}

/* The output request; its answer's head (a 200 streams, else the error). */
static int open_output(struct push *ps, const char *body, struct vsd_peer **out, struct answer *a,
		       struct vs_error *err)
{
	struct vsd_peer *p = NULL;

	if (vsd_peer_open(ps->id, &p, err) < 0)
		return -1;
	*out = p;
	if (send_request(p, "POST", ps->path, body, err) < 0)
		return -1;
	do {
		free(a->body);
		*a = (struct answer){0};
		if (read_head(p, a, err) < 0)
			return -1;
	} while (a->status >= 100 && a->status < 200);
	if (a->status == 200)
		return 0;
	if (read_answer_body(p, "POST", a, err) == 0) {
		if (a->body == NULL)
			a->body = xstrdup("");
		a->body[a->len] = '\0';
		answer_error(p, a->status, a->body, err);
	}
	return -1;
}

static int open_input(struct push *ps, const char *token, struct vsd_peer **out,
		      struct vs_error *err)
{
	cleanup_free char *head = NULL;
	struct vsd_peer *p = NULL;

	if (vsd_peer_open(ps->id, &p, err) < 0)
		return -1;
	*out = p;
	head = xasprintf("POST %s-input HTTP/1.1\r\nHost: %s\r\nVsd-Migration: 1\r\n"
			 "Vsd-Stream: %s\r\nContent-Type: application/octet-stream\r\n"
			 "Transfer-Encoding: chunked\r\n\r\n",
			 ps->path, p->host, token);
	return send_all(p, head, strlen(head), err);
}

/* The two directions, once both requests are open. */
static int run_stream(struct push *ps, struct vsd_peer *outp, const struct answer *a,
		      struct uplink *up, struct vs_error *err)
{
	pthread_t t;
	int r;

	if (pthread_create(&t, NULL, upload, up) != 0)
		return vs_error_set(err, errno, "a thread for rsync's input");
	r = download(ps, up, outp, a, err);
	if (r < 0)
		shutdown(ps->fd, SHUT_RDWR); /* the upload sees its end */
	pthread_join(t, NULL);
	report(ps, up, true);
	if (r == 0 && up->rc < 0) {
		*err = up->err;
		r = -1;
	}
	return r;
}

static int new_token(char token[33], struct vs_error *err)
{
	uint8_t raw[16];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return vs_error_set(err, errno, "getrandom");
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(token + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

/* The two requests around fd once the sync's body is known. */
static int stream_fd(struct push *ps, const char *body, const char *token, uint64_t rate,
		     uint64_t *sent, uint64_t *received, struct vs_error *err)
{
	struct vsd_peer *outp = NULL;
	struct uplink up = {.fd = ps->fd, .rate = rate, .rc = -1};
	struct answer a = {0};
	int r = -1;

	if (open_output(ps, body, &outp, &a, err) == 0 && open_input(ps, token, &up.p, err) == 0)
		r = run_stream(ps, outp, &a, &up, err);
	if (sent != NULL)
		*sent = up.sent;
	if (received != NULL)
		*received = ps->received;
	free(a.body);
	vsd_peer_close(outp);
	vsd_peer_close(up.p);
	return r;
}

int vsd_peer_rsync_stream(const struct vsd_peer_id *id, const char *path, const char *part, int fd,
			  uint64_t *sent, uint64_t *received, struct vs_error *err)
{
	struct push ps = {.id = id, .path = path, .part = part, .fd = fd};
	cleanup_free char *body = NULL;
	char token[33];

	ps.timeout_ms = id->timeout_ms > 0 ? id->timeout_ms : VSD_PEER_TIMEOUT_MS;
	ps.reported_ms = vs_now_ms();
	if (new_token(token, err) < 0 ||
	    read_command(fd, ps.timeout_ms, part, token, &body, err) < 0)
		return -1;
	return stream_fd(&ps, body, token, 0, sent, received, err);
}

int vsd_peer_pages_stream(const struct vsd_peer_id *id, const char *path, const char *part, int fd,
			  uint64_t rate, uint64_t *sent, uint64_t *received, struct vs_error *err)
{
	struct push ps = {.id = id, .path = path, .part = part, .fd = fd};
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_free char *body = NULL;
	char token[33];

	ps.timeout_ms = id->timeout_ms > 0 ? id->timeout_ms : VSD_PEER_TIMEOUT_MS;
	ps.reported_ms = vs_now_ms();
	if (new_token(token, err) < 0)
		return -1;
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "part", part);
	vs_jgen_key(g, "args");
	vs_jgen_arr_open(g);
	vs_jgen_arr_close(g);
	vs_jgen_kv_str(g, "stream", token);
	vs_jgen_obj_close(g);
	body = vs_jgen_steal(g);
	return stream_fd(&ps, body, token, rate, sent, received, err);
}

static char **push_argv(const char *helper, const char *src_dir, const char *bwlimit,
			const char *recheck, int timeout_ms)
{
	char **v = xcalloc(24, sizeof(*v));
	size_t k = 0;

	v[k++] = xstrdup(VS_RSYNC_PATH);
	v[k++] = xstrdup("-aHAX");
	v[k++] = xstrdup("--numeric-ids");
	v[k++] = xstrdup("--sparse");
	if (recheck == NULL) {
		v[k++] = xstrdup("--delete");
	} else {
		/* The listed files, every directory walked to reach them,
		 * nothing else; the rules stay with this rsync (the receiving
		 * server is given -I only). */
		v[k++] = xstrdup("-I");
		v[k++] = xstrdup("--from0");
		v[k++] = xasprintf("--include-from=%s", recheck);
		v[k++] = xstrdup("--include=*/");
		v[k++] = xstrdup("--exclude=*");
	}
	v[k++] = xstrdup("--stats");
	if (bwlimit != NULL)
		v[k++] = xasprintf("--bwlimit=%s", bwlimit);
	/* rsync's own I/O timeout watches the stream; its keep-alives keep
	 * a quiet but live stream under the sockets' timeout (the same). */
	v[k++] = xasprintf("--timeout=%d", (timeout_ms + 999) / 1000);
	v[k++] = xstrdup("-e");
	v[k++] = xasprintf("%s __fdcat", helper);
	v[k++] = xstrdup("--");
	v[k++] = xasprintf("%s/", src_dir);
	v[k++] = xstrdup("vsd:.");
	return v;
}

static int push_stats(int outfd, struct vs_mig_rsync_stats *st)
{
	char buf[8192];
	off_t size = lseek(outfd, 0, SEEK_END);
	off_t at = size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0;
	ssize_t n = pread(outfd, buf, sizeof(buf) - 1, at);

	buf[n > 0 ? n : 0] = '\0';
	return vs_mig_rsync_stats_parse(buf, st);
}

/* A transport error, with rsync's own end when it says more. */
static int push_failed(struct vs_error *err, const char *src_dir, int status, int out)
{
	struct vs_error rs = {0};
	char msg[VS_ERROR_MSG_MAX];

	if (WIFSIGNALED(status) || rsync_status(status, out, &rs) == 0)
		return vs_error_prefix(err, "rsync %s", src_dir);
	snprintf(msg, sizeof(msg), "%s", err->msg);
	return vs_error_set(err, 0, "rsync %s: %s (%s)", src_dir, msg, rs.msg);
}

int vsd_peer_rsync_push(const struct vsd_peer_id *id, const char *path, const char *part,
			const char *src_dir, const char *bwlimit, const char *recheck,
			struct vs_mig_rsync_stats *st, struct vs_error *err)
{
	cleanup_close int out = memfd_create("rsync", MFD_CLOEXEC);
	cleanup_strv char **argv = NULL;
	char helper[PATH_MAX];
	int sv[2], rc, status = 0, timeout_ms;
	pid_t pid;

	timeout_ms = id->timeout_ms > 0 ? id->timeout_ms : VSD_PEER_TIMEOUT_MS;
	if (vs_self_sibling("vsd-helper", helper, sizeof(helper)) < 0)
		return vs_error_set(err, errno, "vsd-helper (rsync's remote shell)");
	/* rsync splits -e at spaces. */
	if (strchr(helper, ' ') != NULL)
		return vs_error_set(err, 0, "%s: a path with a space cannot be rsync's -e", helper);
	if (bwlimit != NULL && (bwlimit[0] == '\0' || strchr(bwlimit, ' ') != NULL))
		return vs_error_kind(err, VS_EK_INVALID, "bandwidth '%s': not a rate", bwlimit);
	if (out < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return vs_error_set(err, errno, "rsync: memfd or socketpair");
	argv = push_argv(helper, src_dir, bwlimit, recheck, timeout_ms);
	rc = vs_spawn(argv, environ, out, &sv[1], 1, &pid);
	close(sv[1]);
	if (rc != 0) {
		close(sv[0]);
		return vs_error_set(err, rc, "start %s", VS_RSYNC_PATH);
	}
	rc = vsd_peer_rsync_stream(id, path, part, sv[0], NULL, NULL, err);
	close(sv[0]);
	if (rc < 0)
		kill(-pid, SIGTERM); /* its remote shell is in its group */
	if (wait_child(pid, &status, rc < 0 ? NULL : err) < 0)
		return -1;
	log_messages(src_dir, id->url, status, out);
	if (rc < 0) /* the transport's errors name the URL */
		return push_failed(err, src_dir, status, out);
	if (st != NULL) {
		push_stats(out, st);
		st->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	}
	if (rsync_status(status, out, err) < 0)
		return vs_error_prefix(err, "rsync %s to %s", src_dir, id->url);
	return 0;
}
