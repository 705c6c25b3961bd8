/* A small HTTP/1.1 client for the daemon's unix socket. libmicrohttpd is a
 * server library only; the client side needs just enough HTTP to send one
 * request per connection and read one response (Content-Length, chunked or
 * read-to-close bodies, and the 101 of an upgraded stream). */
#include "cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/vs_fdpass.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"

void vc_http_response_free(struct vc_http_response *r)
{
	free(r->reason);
	free(r->upgrade);
	free(r->content_type);
	free(r->ws_accept);
	free(r->ws_protocol);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

void vc_http_parser_init(struct vc_http_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->state = VC_HS_HEAD;
}

void vc_http_parser_free(struct vc_http_parser *p)
{
	free(p->head);
	vc_http_response_free(&p->resp);
	memset(p, 0, sizeof(*p));
}

void vc_http_parser_take(struct vc_http_parser *p, struct vc_http_response *out)
{
	*out = p->resp;
	memset(&p->resp, 0, sizeof(p->resp));
	if (out->body == NULL)
		out->body = xstrdup("");
}

static int bad(struct vs_error *err, const char *what)
{
	return vs_error_kind(err, VS_EK_INVALID, "malformed HTTP response: %s", what);
}

static bool sinking(const struct vc_http_parser *p)
{
	return p->sink && p->resp.status >= 200 && p->resp.status <= 299;
}

static void body_append(struct vc_http_parser *p, const char *data, size_t n)
{
	if (sinking(p)) {
		if (p->sink_errno == 0 && vs_write_all(p->sink_fd, data, n) < 0)
			p->sink_errno = errno;
		return;
	}
	if (p->resp.body_len + n + 1 > p->body_cap) {
		size_t cap = p->body_cap ? p->body_cap : 1024;
		while (cap < p->resp.body_len + n + 1)
			cap *= 2;
		p->resp.body = xrealloc(p->resp.body, cap);
		p->body_cap = cap;
	}
	memcpy(p->resp.body + p->resp.body_len, data, n);
	p->resp.body_len += n;
	p->resp.body[p->resp.body_len] = '\0';
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int parse_status_line(struct vc_http_parser *p, char *line, struct vs_error *err)
{
	char *s = line;

	if (strncmp(s, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)s[7]) || s[8] != ' ')
		return bad(err, "bad status line");
	s += 9;
	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
	    !isdigit((unsigned char)s[2]) || (s[3] != ' ' && s[3] != '\0'))
		return bad(err, "bad status code");
	p->resp.status = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	if (p->resp.status < 100 || p->resp.status > 599)
		return bad(err, "bad status code");
	p->resp.reason = xstrdup(s[3] == ' ' ? trim(s + 4) : "");
	return 0;
}

/* Content-Length: decimal digits only (no sign, no list). */
static int parse_content_length(const char *v, int64_t *out, struct vs_error *err)
{
	uint64_t n = 0;

	if (*v == '\0')
		return bad(err, "bad Content-Length");
	for (; *v; v++) {
		if (!isdigit((unsigned char)*v) || n > (UINT64_C(1) << 50))
			return bad(err, "bad Content-Length");
		n = n * 10 + (uint64_t)(*v - '0');
	}
	*out = (int64_t)n;
	return 0;
}

struct head_info {
	int64_t content_length; /* -1 when absent */
	bool chunked;
};

static int parse_header(struct vc_http_parser *p, char *line, struct head_info *hi,
			struct vs_error *err)
{
	char *colon = strchr(line, ':');
	char *name = line, *value;

	/* Continuation lines (obsolete line folding) and empty names are refused. */
	if (colon == NULL || colon == line || line[0] == ' ' || line[0] == '\t')
		return bad(err, "bad header line");
	*colon = '\0';
	for (char *c = name; *c; c++)
		if (!isgraph((unsigned char)*c))
			return bad(err, "bad header name");
	value = trim(colon + 1);
	if (strcasecmp(name, "Content-Length") == 0) {
		int64_t n = 0;
		if (parse_content_length(value, &n, err) < 0)
			return -1;
		if (hi->content_length >= 0 && hi->content_length != n)
			return bad(err, "conflicting Content-Length headers");
		hi->content_length = n;
	} else if (strcasecmp(name, "Transfer-Encoding") == 0) {
		/* The daemon never compresses; chunked is the only coding we take. */
		if (strcasecmp(value, "chunked") != 0)
			return bad(err, "unsupported Transfer-Encoding");
		hi->chunked = true;
	} else if (strcasecmp(name, "Upgrade") == 0) {
		free(p->resp.upgrade);
		p->resp.upgrade = xstrdup(value);
	} else if (strcasecmp(name, "Content-Type") == 0) {
		free(p->resp.content_type);
		p->resp.content_type = xstrdup(value);
	} else if (strcasecmp(name, "Sec-WebSocket-Accept") == 0) {
		free(p->resp.ws_accept);
		p->resp.ws_accept = xstrdup(value);
	} else if (strcasecmp(name, "Sec-WebSocket-Protocol") == 0) {
		free(p->resp.ws_protocol);
		p->resp.ws_protocol = xstrdup(value);
	}
	return 0;
}

/* The head is complete in p->head (NUL-terminated, lines end in LF or
 * CRLF). Decide how the body is delimited. */
static int finish_head(struct vc_http_parser *p, struct vs_error *err)
{
	struct head_info hi = {.content_length = -1};
	char *save = NULL, *line;
	bool first = true;

	for (line = strtok_r(p->head, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(line);
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (n == 0)
			break;
		if (first) {
			if (parse_status_line(p, line, err) < 0)
				return -1;
			first = false;
		} else if (parse_header(p, line, &hi, err) < 0) {
			return -1;
		}
	}
	if (first)
		return bad(err, "empty head");
	p->head_len = 0;
	if (p->resp.status == 100) {
		/* An interim response; the real one follows. */
		vc_http_response_free(&p->resp);
		return 0;
	}
	if ((p->resp.status >= 100 && p->resp.status < 200) || p->resp.status == 204 ||
	    p->resp.status == 304) {
		p->state = VC_HS_DONE;
	} else if (hi.chunked) {
		p->state = VC_HS_CHUNK_SIZE;
	} else if (hi.content_length >= 0) {
		if (hi.content_length > VC_HTTP_BODY_MAX && !sinking(p))
			return bad(err, "body too large");
		p->remaining = (uint64_t)hi.content_length;
		p->state = p->remaining ? VC_HS_BODY_LEN : VC_HS_DONE;
	} else {
		p->state = VC_HS_BODY_CLOSE;
	}
	return 0;
}

/* Collect head bytes until an empty line. Returns bytes used. */
static ssize_t feed_head(struct vc_http_parser *p, const char *data, size_t len,
			 struct vs_error *err)
{
	for (size_t i = 0; i < len; i++) {
		if (p->head_len + 2 > VC_HTTP_HEAD_MAX)
			return bad(err, "head too large");
		if (p->head_len + 2 > p->head_cap) {
			p->head_cap = p->head_cap ? p->head_cap * 2 : 512;
			p->head = xrealloc(p->head, p->head_cap);
		}
		p->head[p->head_len++] = data[i];
		p->head[p->head_len] = '\0';
		/* Leading empty lines before a status line are tolerated (RFC 9112 2.2). */
		if (p->head_len <= 2 &&
		    (strcmp(p->head, "\n") == 0 || strcmp(p->head, "\r\n") == 0)) {
			p->head_len = 0;
			continue;
		}
		if (data[i] != '\n')
			continue;
		if ((p->head_len >= 2 && p->head[p->head_len - 2] == '\n') ||
		    (p->head_len >= 3 && memcmp(p->head + p->head_len - 3, "\n\r\n", 3) == 0)) {
			if (memchr(p->head, '\0', p->head_len) != NULL)
				return bad(err, "NUL byte in head");
			if (finish_head(p, err) < 0)
				return -1;
			return (ssize_t)i + 1;
		}
	}
	return (ssize_t)len;
}

/* Collect one line (chunk size or trailer). Returns bytes used; *done when
 * the line is complete in p->line (without CRLF). */
static ssize_t feed_line(struct vc_http_parser *p, const char *data, size_t len, bool *done,
			 struct vs_error *err)
{
	*done = false;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n') {
			if (p->line_len > 0 && p->line[p->line_len - 1] == '\r')
				p->line_len--;
			p->line[p->line_len] = '\0';
			p->line_len = 0;
			*done = true;
			return (ssize_t)i + 1;
		}
		if (p->line_len + 1 >= sizeof(p->line))
			return bad(err, "chunk line too long");
		p->line[p->line_len++] = data[i];
	}
	return (ssize_t)len;
}

static int parse_chunk_size(struct vc_http_parser *p, struct vs_error *err)
{
	uint64_t n = 0;
	const char *s = p->line;

	if (!isxdigit((unsigned char)*s))
		return bad(err, "bad chunk size");
	for (; isxdigit((unsigned char)*s); s++) {
		if (n > VC_HTTP_BODY_MAX)
			return bad(err, "body too large");
		n = n * 16 + (uint64_t)(isdigit((unsigned char)*s)
					    ? *s - '0'
					    : tolower((unsigned char)*s) - 'a' + 10);
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '\0' && *s != ';') /* chunk extensions are ignored */
		return bad(err, "bad chunk size");
	if (n + p->resp.body_len > VC_HTTP_BODY_MAX)
		return bad(err, "body too large");
	p->remaining = n;
	p->state = n ? VC_HS_CHUNK_DATA : VC_HS_TRAILER;
	return 0;
}

static ssize_t feed_body(struct vc_http_parser *p, const char *data, size_t len,
			 struct vs_error *err)
{
	size_t n = len;

	if (p->state == VC_HS_BODY_CLOSE) {
		if (p->resp.body_len + len > VC_HTTP_BODY_MAX && !sinking(p))
			return bad(err, "body too large");
		body_append(p, data, len);
		return (ssize_t)len;
	}
	if (n > p->remaining)
		n = (size_t)p->remaining;
	body_append(p, data, n);
	p->remaining -= n;
	if (p->remaining == 0)
		p->state = p->state == VC_HS_BODY_LEN ? VC_HS_DONE : VC_HS_CHUNK_CRLF;
	return (ssize_t)n;
}

/* One step of the state machine; returns bytes used or -1. */
static ssize_t step(struct vc_http_parser *p, const char *data, size_t len, struct vs_error *err)
{
	bool done;
	ssize_t n;

	switch (p->state) {
	case VC_HS_HEAD:
		return feed_head(p, data, len, err);
	case VC_HS_BODY_LEN:
	case VC_HS_BODY_CLOSE:
	case VC_HS_CHUNK_DATA:
		return feed_body(p, data, len, err);
	case VC_HS_CHUNK_SIZE:
		n = feed_line(p, data, len, &done, err);
		if (n >= 0 && done && parse_chunk_size(p, err) < 0)
			return -1;
		return n;
	case VC_HS_CHUNK_CRLF:
		n = feed_line(p, data, len, &done, err);
		if (n >= 0 && done) {
			if (p->line[0] != '\0')
				return bad(err, "chunk not followed by CRLF");
			p->state = VC_HS_CHUNK_SIZE;
		}
		return n;
	case VC_HS_TRAILER:
		n = feed_line(p, data, len, &done, err);
		if (n >= 0 && done && p->line[0] == '\0')
			p->state = VC_HS_DONE;
		return n;
	case VC_HS_DONE:
		return 0;
	}
	return bad(err, "parser state");
}

int vc_http_parse(struct vc_http_parser *p, const char *data, size_t len, size_t *used,
		  struct vs_error *err)
{
	size_t off = 0;

	while (p->state != VC_HS_DONE && off < len) {
		ssize_t n = step(p, data + off, len - off, err);
		if (n < 0)
			return -1;
		off += (size_t)n;
	}
	*used = off;
	return p->state == VC_HS_DONE ? 1 : 0;
}

int vc_http_parse_eof(struct vc_http_parser *p, struct vs_error *err)
{
	if (p->state == VC_HS_DONE)
		return 1;
	if (p->state == VC_HS_BODY_CLOSE) {
		p->state = VC_HS_DONE;
		return 1;
	}
	if (p->state == VC_HS_HEAD && p->head_len == 0 && p->resp.status == 0)
		return vs_error_kind(err, VS_EK_INTERNAL, "connection closed without a response");
	return vs_error_kind(err, VS_EK_INTERNAL,
			     "connection closed in the middle of the response");
}

char *vc_http_escape_segment(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xmalloc(strlen(s) * 3 + 1), *o = out;

	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (isalnum(*c) || *c == '-' || *c == '.' || *c == '_' || *c == '~') {
			*o++ = (char)*c;
		} else {
			*o++ = '%';
			*o++ = hex[*c >> 4];
			*o++ = hex[*c & 15];
		}
	}
	*o = '\0';
	return out;
}

char *vc_http_format_request(const struct vc_http_request *req)
{
	int64_t len = req->body_fd >= 0 ? req->body_fd_len : (int64_t)req->body_len;
	bool has_body = req->body_fd >= 0 || req->body != NULL;
	cleanup_free char *up = NULL;

	if (req->upgrade && req->ws_key != NULL)
		up = xasprintf("Connection: Upgrade\r\nUpgrade: websocket\r\n"
			       "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n%s%s%s",
			       req->ws_key, req->ws_protocol ? "Sec-WebSocket-Protocol: " : "",
			       req->ws_protocol ? req->ws_protocol : "",
			       req->ws_protocol ? "\r\n" : "");
	else
		up = xstrdup(req->upgrade ? "Connection: Upgrade\r\nUpgrade: vsd-stream\r\n"
					  : "Connection: close\r\n");
	return xasprintf(
	    "%s %s HTTP/1.1\r\n"
	    "Host: vsd\r\n"
	    "User-Agent: vsctl/" VSD_VERSION "\r\n"
	    "Accept: application/json\r\n"
	    "%s%s%s"
	    "Content-Length: %" PRId64 "\r\n"
	    "%s%s%s%s"
	    "%s%s%s"
	    "\r\n",
	    req->method, req->path, has_body ? "Content-Type: " : "",
	    has_body ? (req->content_type ? req->content_type : "application/json") : "",
	    has_body ? "\r\n" : "", has_body ? len : 0, up, req->if_match ? "If-Match: \"" : "",
	    req->if_match ? req->if_match : "", req->if_match ? "\"\r\n" : "",
	    req->authorization ? "Authorization: " : "",
	    req->authorization ? req->authorization : "", req->authorization ? "\r\n" : "");
}

int vc_conn_open(struct vc_conn *c, const char *path, struct vs_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *mode = getenv("VSCTL_STREAM");
	cleanup_close int fd = -1;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->path = xstrdup(path);
	if (strlen(path) >= sizeof(sa.sun_path))
		return vs_error_kind(err, VS_EK_INVALID, "cannot connect to %s: path too long",
				     path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return vs_error_set(err, errno, "socket");
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		if (e == EINTR)
			continue;
		vs_error_kind(err, VS_EK_INTERNAL, "cannot connect to %s: %s (is vsd running?)",
			      path, strerror(e));
		err->errnum = e;
		return -1;
	}
	c->fd = steal_fd(&fd);
	/* The unix socket passes descriptors; tests ask for the WebSocket. */
	c->stream_ws = mode != NULL && strcmp(mode, "websocket") == 0;
	return 0;
}

void vc_conn_close(struct vc_conn *c)
{
	vc_tls_close(c);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	for (size_t i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	c->nfds = 0;
	free(c->pending);
	c->pending = NULL;
	c->pending_len = c->pending_cap = 0;
	free(c->path);
	c->path = NULL;
	free(c->authorization);
	c->authorization = NULL;
}

ssize_t vc_conn_recv(struct vc_conn *c, struct vs_error *err)
{
	int fds[VS_FDPASS_MAX];
	size_t nfds = 0;
	ssize_t n;

	if (c->pending_cap - c->pending_len < 16384) {
		c->pending_cap = c->pending_len + 65536;
		c->pending = xrealloc(c->pending, c->pending_cap);
	}
	/* Always recvmsg with room for descriptors: a plain read() that consumes
	 * the bytes they are attached to would make the kernel discard them. */
	if (c->tls != NULL)
		n = vc_tls_recv(c, c->pending + c->pending_len, c->pending_cap - c->pending_len);
	else
		n = vs_recv_fds(c->fd, c->pending + c->pending_len, c->pending_cap - c->pending_len,
				fds, VS_FDPASS_MAX, &nfds);
	if (n < 0 && errno == EBADMSG)
		return vs_error_kind(err, VS_EK_INVALID, "%s: the daemon sent too many descriptors",
				     c->path);
	if (n < 0)
		return vs_error_set(err, errno, "reading from %s", c->path);
	c->pending_len += (size_t)n;
	for (size_t i = 0; i < nfds; i++) {
		if (c->nfds < VC_CONN_FDS_MAX) {
			c->fds[c->nfds++] = fds[i];
			continue;
		}
		for (size_t j = i; j < nfds; j++)
			close(fds[j]);
		return vs_error_kind(err, VS_EK_INVALID, "%s: the daemon sent too many descriptors",
				     c->path);
	}
	return n;
}

int vc_conn_pop_line(struct vc_conn *c, char *buf, size_t len, struct vs_error *err)
{
	char *nl = c->pending_len ? memchr(c->pending, '\n', c->pending_len) : NULL;
	size_t n;

	if (nl == NULL) {
		if (c->pending_len >= len)
			return vs_error_kind(err, VS_EK_INVALID,
					     "the daemon sent an overlong line");
		return 0;
	}
	n = (size_t)(nl - c->pending);
	if (n >= len)
		return vs_error_kind(err, VS_EK_INVALID, "the daemon sent an overlong line");
	memcpy(buf, c->pending, n);
	buf[n] = '\0';
	c->pending_len -= n + 1;
	memmove(c->pending, nl + 1, c->pending_len);
	return 1;
}

int vc_conn_read_line(struct vc_conn *c, char *buf, size_t len, struct vs_error *err)
{
	for (;;) {
		int r = vc_conn_pop_line(c, buf, len, err);
		if (r != 0)
			return r < 0 ? -1 : 0;
		ssize_t n = vc_conn_recv(c, err);
		if (n < 0)
			return -1;
		if (n == 0)
			return vs_error_kind(err, VS_EK_INTERNAL,
					     "%s: connection closed by the daemon", c->path);
	}
}

/* The one send of the transport: bytes sent, or -1 with errno. */
static ssize_t send_some(struct vc_conn *c, const void *buf, size_t len, int flags)
{
	ssize_t n;

	/* TLS records go out whole: a blocking send (short, the stream's
	 * input), never "would block". */
	if (c->tls != NULL)
		return vc_tls_send(c, buf, len);
	do {
		n = send(c->fd, buf, len, MSG_NOSIGNAL | flags);
	} while (n < 0 && errno == EINTR);
	return n;
}

int vc_conn_send_all(struct vc_conn *c, const char *buf, size_t len, struct vs_error *err)
{
	while (len > 0) {
		ssize_t n = send_some(c, buf, len, 0);
		if (n < 0)
			return vs_error_set(err, errno, "writing to %s", c->path);
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t vc_conn_send(struct vc_conn *c, const void *buf, size_t n, struct vs_error *err)
{
	ssize_t r = send_some(c, buf, n, MSG_DONTWAIT);

	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (r < 0)
		return vs_error_set(err, errno, "writing to %s", c->path);
	return r;
}

static int send_file_body(struct vc_conn *c, int fd, int64_t len, struct vs_error *err)
{
	cleanup_free char *buf = xmalloc(65536);

	while (len > 0) {
		size_t want = len > 65536 ? 65536 : (size_t)len;
		ssize_t n = vs_read_all(fd, buf, want);
		if (n < 0)
			return vs_error_set(err, errno, "reading the upload");
		if (n == 0)
			return vs_error_kind(err, VS_EK_INTERNAL,
					     "the upload shrank while sending");
		if (vc_conn_send_all(c, buf, (size_t)n, err) < 0)
			return -1;
		len -= n;
	}
	return 0;
}

static int send_request(struct vc_conn *c, const struct vc_http_request *req, struct vs_error *err)
{
	struct vc_http_request with_auth = *req;
	cleanup_free char *head = NULL;

	if (with_auth.authorization == NULL)
		with_auth.authorization = c->authorization;
	head = vc_http_format_request(&with_auth);
	if (vc_conn_send_all(c, head, strlen(head), err) < 0)
		return -1;
	if (req->body_fd >= 0)
		return send_file_body(c, req->body_fd, req->body_fd_len, err);
	if (req->body != NULL)
		return vc_conn_send_all(c, req->body, req->body_len, err);
	return 0;
}

/* Feed pending bytes to the parser; what follows the response stays. */
static int parse_pending(struct vc_conn *c, struct vc_http_parser *p, struct vs_error *err)
{
	size_t used = 0;
	int r = vc_http_parse(p, c->pending, c->pending_len, &used, err);

	if (r < 0)
		return -1;
	if (used > 0) {
		c->pending_len -= used;
		memmove(c->pending, c->pending + used, c->pending_len);
	}
	return r;
}

int vc_http_exchange(struct vc_conn *c, const struct vc_http_request *req,
		     struct vc_http_response *resp, struct vs_error *err)
{
	struct vc_http_parser p;
	struct vs_error send_err = {0};
	int r = 0;

	memset(resp, 0, sizeof(*resp));
	/* The daemon may refuse a request before reading its body (an upload
	 * to a template that exists): keep what the send said, and prefer the
	 * daemon's answer if one arrives. */
	bool send_failed = send_request(c, req, &send_err) < 0;

	/* No shutdown(SHUT_WR) after the request: libmicrohttpd takes a
	 * half-closed connection for a client that went away. */
	if (send_failed && send_err.errnum != EPIPE && send_err.errnum != ECONNRESET) {
		*err = send_err;
		return -1;
	}
	vc_http_parser_init(&p);
	p.sink = req->sink;
	p.sink_fd = req->sink_fd;
	while ((r = parse_pending(c, &p, err)) == 0) {
		ssize_t n = vc_conn_recv(c, err);
		if (n < 0)
			break;
		if (n == 0) {
			r = vc_http_parse_eof(&p, err);
			break;
		}
	}
	if (r == 1 && p.sink_errno != 0) {
		r = vs_error_set(err, p.sink_errno, "writing the response body");
	}
	if (r == 1)
		vc_http_parser_take(&p, resp);
	vc_http_parser_free(&p);
	if (r == 1)
		return 0;
	if (send_failed)
		*err = send_err;
	return -1;
}
