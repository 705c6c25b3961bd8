/* daemon/peer.c against a fake node: a GnuTLS server on 127.0.0.1 (a
 * thread of this test) that reads one request and answers canned bytes,
 * so the HTTP reading sees what libmicrohttpd never sends (1xx first,
 * chunk extensions, bodies cut short or too big, a close as the end) and
 * the upgrade and relay run against a peer whose end is a TCP close. */
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
	bool stream;	    /* then read the stream until its end, end TCP */
	char req[8192];	    /* the request as received */
	char got[64];	    /* the stream's bytes */
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

/* The request's head and Content-Length body into fk->req. */
static void read_request(gnutls_session_t s)
{
	size_t len = 0;
	char *end = NULL, *cl;

	for (;;) {
		ssize_t r = gnutls_record_recv(s, fk->req + len, sizeof(fk->req) - 1 - len);

		if (r <= 0)
			return;
		len += (size_t)r;
		fk->req[len] = '\0';
		end = strstr(fk->req, "\r\n\r\n");
		if (end == NULL)
			continue;
		cl = strstr(fk->req, "Content-Length: ");
		if (cl == NULL || len >= (size_t)(end + 4 - fk->req) + strtoul(cl + 16, NULL, 10))
			return;
	}
}

static void serve_stream(gnutls_session_t s, int fd)
{
	size_t len = 0;
	ssize_t r;

	while ((r = gnutls_record_recv(s, fk->got + len, sizeof(fk->got) - 1 - len)) > 0)
		len += (size_t)r;
	fk->got[len] = '\0';
	/* As a vsd target does: its end is a TCP close, no close_notify. */
	shutdown(fd, SHUT_WR);
	while (gnutls_record_recv(s, fk->got + len, sizeof(fk->got) - 1 - len) > 0)
		;
}

static void *fake_main(void *arg)
{
	gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	int fd = accept4(fk->lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (test_tls_accept(fd, fk->cert, fk->key, &cred, &s) == 0) {
		read_request(s);
		if (fk->answer != NULL)
			gnutls_record_send(s, fk->answer, strlen(fk->answer));
		if (fk->stream)
			serve_stream(s, fd);
	}
	/* The end of every answer here is a TCP close without close_notify. */
	gnutls_deinit(s);
	gnutls_certificate_free_credentials(cred);
	close(fd);
	return NULL;
}

static void fake_start(const char *answer, bool stream)
{
	fk->answer = answer;
	fk->stream = stream;
	fk->req[0] = fk->got[0] = '\0';
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

	fake_start(answer, false);
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

static void test_upgrade_and_relay(void **state)
{
	struct vsd_peer_id id = peer_id();
	struct seen seen = {0};
	struct vs_error err = {0};
	struct vsd_peer *p = NULL;
	uint64_t sent = 0, received = 0;
	char buf[64];
	ssize_t n, len = 0;
	int sv[2];

	/* The stream's first bytes come in the 101's packet. */
	fake_start("HTTP/1.1 101 Switching Protocols\r\nUpgrade: vsd-stream\r\n\r\nabc", true);
	id.progress = on_progress;
	id.progress_arg = &seen;
	assert_int_equal(vsd_peer_open(&id, &p, &err), 0);
	assert_int_equal(vsd_peer_upgrade(p, "/v1/migrations/x/sync", "{\"part\":\"layer\"}", &err),
			 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(write(sv[1], "xyz", 3), 3);
	shutdown(sv[1], SHUT_WR);
	assert_int_equal(vsd_peer_relay(p, sv[0], &sent, &received, &err), 0);
	while ((n = read(sv[1], buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
		len += n;
	buf[len] = '\0';
	vsd_peer_close(p);
	pthread_join(fk->th, NULL);
	assert_string_equal(buf, "abc");
	assert_string_equal(fk->got, "xyz");
	assert_int_equal(sent, 3);
	assert_int_equal(received, 3);
	/* At least the report at the end, with the totals. */
	assert_true(seen.calls >= 1);
	assert_int_equal(seen.sent, 3);
	assert_int_equal(seen.received, 3);
	assert_non_null(strstr(fk->req, "\r\nConnection: Upgrade\r\nUpgrade: vsd-stream\r\n"));
	close(sv[0]);
	close(sv[1]);
}

static void test_upgrade_refused(void **state)
{
	struct vsd_peer_id id = peer_id();
	struct vs_error err = {0};
	struct vsd_peer *p = NULL;
	char want[128];

	fake_start("HTTP/1.1 409 Conflict\r\nContent-Length: 39\r\n\r\n"
		   "{\"error\":{\"code\":\"x\",\"message\":\"busy\"}}",
		   false);
	assert_int_equal(vsd_peer_open(&id, &p, &err), 0);
	assert_int_equal(vsd_peer_upgrade(p, "/v1/migrations/x/sync", "{}", &err), -1);
	vsd_peer_close(p);
	pthread_join(fk->th, NULL);
	snprintf(want, sizeof(want), "%s: 409: busy", fk->url);
	assert_string_equal(err.msg, want);
	assert_int_equal(err.kind, VS_EK_CONFLICT);
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
	fake_start(NULL, false);
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
	    cmocka_unit_test(test_upgrade_and_relay),
	    cmocka_unit_test(test_upgrade_refused),
	    cmocka_unit_test(test_pin_and_url),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
