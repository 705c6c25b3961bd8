/* daemon/peer.c against a fake node: a GnuTLS server on 127.0.0.1 (a
 * thread of this test) that reads one request and answers canned bytes,
 * so the HTTP reading sees what libmicrohttpd never sends (1xx first,
 * chunk extensions, bodies cut short or too big, a close as the end); and
 * rsync's stream as the two requests of docs/migration.md ("Transport"):
 * the sync's chunked answer into the socket, the socket into the input's
 * chunked body, a refused sync or input, a stream cut short. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "lib/vs_cert.h"
#include "lib/vs_tls.h"
#include "lib/vs_util.h"
#include "tests/unit/test_tls_server.h"

struct fake {
	int lfd, port;
	char *cert, *key, *ccert, *ckey;
	char fp[VS_CERT_FP_HEX + 1];
	char url[64];
	const char *answer; /* written after the request */
	/* A stream: after the answer, a second connection (the input
	 * request), its chunked body decoded into got, then input_answer
	 * (NULL: a close without one). */
	bool stream;
	const char *input_answer;
	char req[8192];	 /* the request as received */
	char req2[8192]; /* the input request's head */
	char got[65536]; /* the input's bytes */
	pthread_t th;
};

static struct fake *fk;

static int setup(void **state)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	signal(SIGPIPE, SIG_IGN);
	fk = xcalloc(1, sizeof(*fk));
	if (vs_cert_generate("target", NULL, 0, &fk->cert, &fk->key, NULL) < 0 ||
	    vs_cert_generate("source", NULL, 0, &fk->ccert, &fk->ckey, NULL) < 0 ||
	    vs_cert_pem_fingerprint(fk->cert, fk->fp, NULL) < 0)
		return -1;
	fk->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fk->lfd < 0 || bind(fk->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fk->lfd, 4) < 0 || getsockname(fk->lfd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	fk->port = ntohs(a.sin_port);
	snprintf(fk->url, sizeof(fk->url), "https://127.0.0.1:%d", fk->port);
	return 0;
}

static int teardown(void **state)
{
	close(fk->lfd);
	free(fk->cert);
	free(fk->key);
	free(fk->ccert);
	free(fk->ckey);
	free(fk);
	return 0;
}

/* The request's head and Content-Length body into req (cap bytes). */
static void read_request(gnutls_session_t s, char *req, size_t cap)
{
	size_t len = 0;
	char *end = NULL, *cl;

	for (;;) {
		ssize_t r = gnutls_record_recv(s, req + len, cap - 1 - len);

		if (r <= 0)
			return;
		len += (size_t)r;
		req[len] = '\0';
		end = strstr(req, "\r\n\r\n");
		if (end == NULL)
			continue;
		cl = strstr(req, "Content-Length: ");
		if (cl == NULL || len >= (size_t)(end + 4 - req) + strtoul(cl + 16, NULL, 10))
			return;
	}
}

/* The input request: its head into req2, its chunked body (up to the
 * last chunk or the connection's end) decoded into got. */
static void read_input(gnutls_session_t s)
{
	static char raw[sizeof(fk->got) + 4096];
	size_t len = 0, got = 0;
	char *p, *end = NULL;
	ssize_t r;

	while (len < sizeof(raw) - 1 &&
	       (r = gnutls_record_recv(s, raw + len, sizeof(raw) - 1 - len)) > 0) {
		len += (size_t)r;
		raw[len] = '\0';
		end = strstr(raw, "\r\n\r\n");
		if (end != NULL && (strcmp(end + 4, "0\r\n\r\n") == 0 ||
				    (len >= 7 && strcmp(raw + len - 7, "\r\n0\r\n\r\n") == 0)))
			break;
	}
	if (end == NULL)
		return;
	snprintf(fk->req2, sizeof(fk->req2), "%.*s", (int)(end + 4 - raw), raw);
	for (p = end + 4; p < raw + len;) {
		unsigned long n = strtoul(p, &p, 16);

		if (n == 0 || (p = strstr(p, "\r\n")) == NULL || got + n >= sizeof(fk->got))
			break;
		memcpy(fk->got + got, p + 2, n);
		got += n;
		p += 2 + n + 2;
	}
	fk->got[got] = '\0';
}

/* Accept and handshake; -1 on failure. */
static int fake_accept(gnutls_certificate_credentials_t *cred, gnutls_session_t *s)
{
	int fd = accept4(fk->lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd >= 0 && test_tls_accept(fd, fk->cert, fk->key, cred, s) == 0)
		return fd;
	if (fd >= 0) {
		gnutls_deinit(*s);
		gnutls_certificate_free_credentials(*cred);
		close(fd);
	}
	return -1;
}

/* Every connection here ends with a TCP close without close_notify. */
static void fake_close(int fd, gnutls_certificate_credentials_t cred, gnutls_session_t s)
{
	gnutls_deinit(s);
	gnutls_certificate_free_credentials(cred);
	close(fd);
}

static void *fake_main(void *arg)
{
	gnutls_certificate_credentials_t cred, cred2;
	gnutls_session_t s, s2;
	int fd = fake_accept(&cred, &s), fd2;

	if (fd < 0)
		return NULL;
	read_request(s, fk->req, sizeof(fk->req));
	if (fk->answer != NULL)
		gnutls_record_send(s, fk->answer, strlen(fk->answer));
	/* The sync's answer ends with the connection: a cut stream is one
	 * whose last chunk never came. */
	fake_close(fd, cred, s);
	if (!fk->stream || (fd2 = fake_accept(&cred2, &s2)) < 0)
		return NULL;
	read_input(s2);
	if (fk->input_answer != NULL)
		gnutls_record_send(s2, fk->input_answer, strlen(fk->input_answer));
	fake_close(fd2, cred2, s2);
	return NULL;
}

static void fake_start(const char *answer, bool stream, const char *input_answer)
{
	fk->answer = answer;
	fk->stream = stream;
	fk->input_answer = input_answer;
	fk->req[0] = fk->req2[0] = fk->got[0] = '\0';
	assert_int_equal(pthread_create(&fk->th, NULL, fake_main, NULL), 0);
}

static struct vsd_peer_id peer_id(void)
{
	return (struct vsd_peer_id){.url = fk->url,
				    .fingerprint = fk->fp,
				    .cert_pem = fk->ccert,
				    .key_pem = fk->ckey,
				    .timeout_ms = 5000};
}

/* One request to the fake; 0 or -1 as vsd_peer_request. */
static int ask(const char *answer, const char *method, const char *body, unsigned *status,
	       char **resp, struct vs_error *err)
{
	struct vsd_peer_id id = peer_id();
	int r;

	fake_start(answer, false, NULL);
	r = vsd_peer_request(&id, method, "/v1/migrations", body, status, resp, err);
	pthread_join(fk->th, NULL);
	return r;
}

static void test_length_and_headers(void **state)
{
	struct vs_error err = {0};
	char *resp = NULL;
	unsigned status = 0;

	assert_int_equal(ask("HTTP/1.1 201 Created\r\nContent-Length: 11\r\n\r\n{\"id\":\"x\"}\n",
			     "POST", "{\"a\":1}", &status, &resp, &err),
			 0);
	assert_int_equal(status, 201);
	assert_string_equal(resp, "{\"id\":\"x\"}\n");
	free(resp);
	assert_non_null(strstr(fk->req, "POST /v1/migrations HTTP/1.1\r\n"));
	assert_non_null(strstr(fk->req, "\r\nHost: 127.0.0.1:"));
	assert_non_null(strstr(fk->req, "\r\nVsd-Migration: 1\r\n"));
	assert_non_null(strstr(fk->req, "\r\nContent-Type: application/json\r\n"));
	assert_non_null(strstr(fk->req, "\r\nContent-Length: 7\r\n\r\n{\"a\":1}"));
	/* No body: neither header. */
	assert_int_equal(ask("HTTP/1.1 204 No Content\r\n\r\n", "GET", NULL, &status, &resp, &err),
			 0);
	assert_int_equal(status, 204);
	assert_string_equal(resp, "");
	free(resp);
	assert_null(strstr(fk->req, "Content-Length"));
}

static void test_continue_chunked_close(void **state)
{
	struct vs_error err = {0};
	char *resp = NULL;
	unsigned status = 0;

	assert_int_equal(ask("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
			     "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n"
			     "0\r\nX-Trailer: 1\r\n\r\n",
			     "GET", NULL, &status, &resp, &err),
			 0);
	assert_int_equal(status, 200);
	assert_string_equal(resp, "hello world");
	free(resp);
	/* Neither length nor chunks: the close ends the body. */
	assert_int_equal(
	    ask("HTTP/1.0 404 Not Found\r\n\r\n{\"error\":{}}", "GET", NULL, &status, &resp, &err),
	    0);
	assert_int_equal(status, 404);
	assert_string_equal(resp, "{\"error\":{}}");
	free(resp);
}

static void assert_answer_error(const char *answer, const char *what)
{
	struct vs_error err = {0};
	char *resp = NULL;
	unsigned status = 0;

	assert_int_equal(ask(answer, "GET", NULL, &status, &resp, &err), -1);
	assert_null(resp);
	if (strstr(err.msg, what) == NULL || strstr(err.msg, fk->url) == NULL)
		fail_msg("'%s': expected '%s' and the URL", err.msg, what);
}

static void test_bad_answers(void **state)
{
	assert_answer_error("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
			    "the connection closed in the answer");
	assert_answer_error("HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n",
			    "malformed answer: body over 4 MiB");
	assert_answer_error("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
			    "malformed answer: Content-Length");
	assert_answer_error("SSH-2.0-OpenSSH\r\n\r\n", "malformed answer: status line");
	assert_answer_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
			    "malformed answer: chunk size");
	assert_answer_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
			    "the connection closed in the answer");
	assert_answer_error(NULL, "the connection closed before the answer");
}

struct seen {
	int calls;
	uint64_t sent, received;
};

static void on_progress(void *arg, uint64_t sent, uint64_t received)
{
	struct seen *s = arg;

	s->calls++;
	s->sent = sent;
	s->received = received;
}

#define SYNC_PATH "/v1/migrations/x/sync"
#define COMMAND	  "[\"rsync\",\"--server\",\"-a\",\".\",\".\"]\n"
#define STREAM_OK "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

/* The input's 200 answer, as vsd gives it, for n bytes. */
static void input_ok(char *buf, size_t cap, size_t n)
{
	char body[64];

	snprintf(body, sizeof(body), "{\"bytes\":%zu}", n);
	snprintf(buf, cap, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(body), body);
}

struct run {
	struct vs_error err;
	uint64_t sent, received;
	char out[256]; /* what came out of the socket */
	int rc;
};

/* vsd_peer_rsync_stream with rsync's side played on a socketpair: its
 * command line and input, its end; then what the stream wrote back. */
static void stream_run(const char *answer, const char *input, const char *input_answer,
		       struct seen *seen, struct run *r)
{
	struct vsd_peer_id id = peer_id();
	int sv[2];
	ssize_t n, len = 0;

	id.progress = seen != NULL ? on_progress : NULL;
	id.progress_arg = seen;
	fake_start(answer, true, input_answer);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(write(sv[1], COMMAND, strlen(COMMAND)), (ssize_t)strlen(COMMAND));
	assert_int_equal(write(sv[1], input, strlen(input)), (ssize_t)strlen(input));
	shutdown(sv[1], SHUT_WR);
	r->rc =
	    vsd_peer_rsync_stream(&id, SYNC_PATH, "layer", sv[0], &r->sent, &r->received, &r->err);
	pthread_join(fk->th, NULL);
	shutdown(sv[0], SHUT_WR);
	while ((n = read(sv[1], r->out + len, sizeof(r->out) - 1 - (size_t)len)) > 0)
		len += n;
	r->out[len] = '\0';
	close(sv[0]);
	close(sv[1]);
}

/* The stream's token: the sync body's "stream", the input's Vsd-Stream. */
static void assert_same_token(void)
{
	char body_tok[33] = "", head_tok[33] = "";
	const char *b = strstr(fk->req, "\"stream\":\""), *h = strstr(fk->req2, "\r\nVsd-Stream: ");

	assert_non_null(b);
	assert_non_null(h);
	assert_int_equal(sscanf(b + 10, "%32[0-9a-f]", body_tok), 1);
	assert_int_equal(sscanf(h + 14, "%32[0-9a-f]", head_tok), 1);
	assert_int_equal(strlen(body_tok), 32);
	assert_string_equal(body_tok, head_tok);
}

static void test_stream_both_ways(void **state)
{
	static char input[40000];
	struct seen seen = {0};
	struct run r = {0};
	char ok[128];

	/* More input than one read, so it travels as several chunks. */
	memset(input, 'i', sizeof(input) - 1);
	input_ok(ok, sizeof(ok), sizeof(input) - 1);
	stream_run(STREAM_OK "3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\n\r\n", input, ok, &seen, &r);
	if (r.rc != 0)
		fail_msg("%s", r.err.msg);
	assert_string_equal(r.out, "abcdefg");
	assert_string_equal(fk->got, input);
	assert_int_equal(r.sent, sizeof(input) - 1);
	assert_int_equal(r.received, 7);
	/* The report at the end carries the totals. */
	assert_true(seen.calls >= 1);
	assert_int_equal(seen.sent, sizeof(input) - 1);
	assert_int_equal(seen.received, 7);
	/* The sync: the command as args, the part, a token; no upgrade. */
	assert_non_null(strstr(fk->req, "POST " SYNC_PATH " HTTP/1.1\r\n"));
	assert_non_null(strstr(fk->req, "\r\nVsd-Migration: 1\r\n"));
	assert_non_null(strstr(fk->req,
			       "{\"part\":\"layer\",\"args\":[\"rsync\",\"--server\",\"-a\","
			       "\".\",\".\"],\"stream\":\""));
	assert_null(strcasestr(fk->req, "Upgrade"));
	assert_non_null(strstr(fk->req2, "POST " SYNC_PATH "-input HTTP/1.1\r\n"));
	assert_non_null(strstr(fk->req2, "\r\nVsd-Migration: 1\r\n"));
	assert_non_null(strstr(fk->req2, "\r\nTransfer-Encoding: chunked\r\n"));
	assert_same_token();
}

static void test_stream_refused(void **state)
{
	struct run r = {0};
	char want[160];

	/* The sync refused: its message, no input request made. */
	fake_start("HTTP/1.1 409 Conflict\r\nContent-Length: 39\r\n\r\n"
		   "{\"error\":{\"code\":\"x\",\"message\":\"busy\"}}",
		   false, NULL);
	{
		struct vsd_peer_id id = peer_id();
		int sv[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		assert_int_equal(write(sv[1], COMMAND, strlen(COMMAND)), (ssize_t)strlen(COMMAND));
		r.rc = vsd_peer_rsync_stream(&id, SYNC_PATH, "layer", sv[0], NULL, NULL, &r.err);
		pthread_join(fk->th, NULL);
		close(sv[0]);
		close(sv[1]);
	}
	assert_int_equal(r.rc, -1);
	snprintf(want, sizeof(want), "%s: 409: busy", fk->url);
	assert_string_equal(r.err.msg, want);
	assert_int_equal(r.err.kind, VS_EK_CONFLICT);
	/* The input refused (no such stream): its message, though the
	 * output ended well. */
	r = (struct run){0};
	stream_run(STREAM_OK "2\r\nok\r\n0\r\n\r\n", "in",
		   "HTTP/1.1 404 Not Found\r\nContent-Length: 44\r\n\r\n"
		   "{\"error\":{\"code\":\"x\",\"message\":\"no stream\"}}",
		   NULL, &r);
	assert_int_equal(r.rc, -1);
	snprintf(want, sizeof(want), "%s: 404: no stream", fk->url);
	assert_string_equal(r.err.msg, want);
	assert_int_equal(r.err.kind, VS_EK_NOT_FOUND);
	assert_string_equal(r.out, "ok");
}

static void test_stream_cut(void **state)
{
	struct run r = {0};
	char ok[128];

	input_ok(ok, sizeof(ok), 2);
	/* The sync's connection ends inside a chunk: an error naming the
	 * URL, whatever the input's answer, and no hang. */
	stream_run(STREAM_OK "3\r\nabc\r\n10\r\nonly", "in", ok, NULL, &r);
	assert_int_equal(r.rc, -1);
	if (strstr(r.err.msg, fk->url) == NULL || strstr(r.err.msg, "the stream was cut") == NULL)
		fail_msg("%s", r.err.msg);
	assert_int_equal(r.received, 7);
	/* Between chunks, before any, and a stream that is not chunked. */
	stream_run(STREAM_OK "3\r\nabc\r\n", "in", ok, NULL, &r);
	assert_int_equal(r.rc, -1);
	assert_string_equal(r.out, "abc");
	assert_non_null(strstr(r.err.msg, "the stream was cut"));
	stream_run(STREAM_OK, "in", ok, NULL, &r);
	assert_int_equal(r.rc, -1);
	assert_non_null(strstr(r.err.msg, "the stream was cut"));
	assert_non_null(strstr(r.err.msg, fk->url));
	stream_run("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", "in", ok, NULL, &r);
	assert_int_equal(r.rc, -1);
	assert_non_null(strstr(r.err.msg, "malformed answer: the stream is not chunked"));
}

static void test_pin_and_url(void **state)
{
	struct vsd_peer_id id = peer_id();
	static const char *const bad_urls[] = {"http://127.0.0.1:1", "https://127.0.0.1",
					       "https://[::1]",	     "https://[::1]x:1",
					       "https://h:123456",   "https://h:1/v1"};
	struct vs_error err = {0};
	struct vsd_peer *p = NULL;
	char wrong[VS_CERT_FP_HEX + 1], want[512];

	memset(wrong, 'a', VS_CERT_FP_HEX);
	wrong[VS_CERT_FP_HEX] = '\0';
	id.fingerprint = wrong;
	fake_start(NULL, false, NULL);
	assert_int_equal(vsd_peer_open(&id, &p, &err), -1);
	pthread_join(fk->th, NULL);
	assert_null(p);
	snprintf(want, sizeof(want),
		 "fingerprint mismatch: expected %s, the node at %s presented %s", wrong, fk->url,
		 fk->fp);
	assert_string_equal(err.msg, want);
	assert_int_equal(err.kind, VS_EK_FORBIDDEN);
	for (size_t i = 0; i < VS_ARRAY_SIZE(bad_urls); i++) {
		id = peer_id();
		id.url = bad_urls[i];
		err = (struct vs_error){0};
		assert_int_equal(vsd_peer_open(&id, &p, &err), -1);
		if (err.kind != VS_EK_INVALID || strstr(err.msg, bad_urls[i]) == NULL)
			fail_msg("%s: %s", bad_urls[i], err.msg);
	}
	id = peer_id();
	id.fingerprint = "abc";
	assert_int_equal(vsd_peer_open(&id, &p, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_length_and_headers),
	    cmocka_unit_test(test_continue_chunked_close),
	    cmocka_unit_test(test_bad_answers),
	    cmocka_unit_test(test_stream_both_ways),
	    cmocka_unit_test(test_stream_refused),
	    cmocka_unit_test(test_stream_cut),
	    cmocka_unit_test(test_pin_and_url),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
