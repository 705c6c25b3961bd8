/* cli/http.c: the HTTP/1.1 response parser on canned byte strings (fed
 * whole and in pieces of every small size), request formatting, path
 * escaping, API error mapping, and the connection's line reading with
 * descriptors passed over a socketpair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/vs_fdpass.h"
#include "lib/vs_util.h"

/* Feed text in pieces of `step` bytes (0: all at once), then EOF if the
 * parser still wants more and `eof` is set. Returns 1 complete, -1 error;
 * *used is where the response ended in text. */
static int feed(struct vc_http_parser *p, const char *text, size_t len, size_t step, bool eof,
		size_t *used, struct vs_error *err)
{
	size_t off = 0;

	*used = 0;
	while (off < len) {
		size_t n = step == 0 || len - off < step ? len - off : step;
		size_t u = 0;
		int r = vc_http_parse(p, text + off, n, &u, err);
		if (r < 0)
			return -1;
		if (u > n)
			fail_msg("parser used %zu of %zu bytes", u, n);
		off += u;
		if (r == 1) {
			*used = off;
			return 1;
		}
		if (u != n)
			fail_msg("parser stopped early (%zu of %zu) without completing", u, n);
	}
	*used = off;
	if (eof)
		return vc_http_parse_eof(p, err);
	return 0;
}

struct good_case {
	const char *name;
	const char *text;
	size_t len; /* 0: strlen */
	bool eof;   /* the body is delimited by the connection's end */
	int status;
	const char *body;
	size_t body_len;  /* 0: strlen(body) */
	const char *rest; /* bytes after the response */
	const char *upgrade;
};

static const struct good_case good[] = {
    {"content-length",
     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n"
     "{\"a\": \"b c\"}\n",
     0, false, 200, "{\"a\": \"b c\"}\n", 0, "", NULL},
    {"lower-case header names, odd spacing",
     "HTTP/1.1 404 Not Found\r\ncontent-length:2\r\nCONTENT-TYPE:   text/plain  \r\n\r\nno", 0,
     false, 404, "no", 0, "", NULL},
    {"chunked with extensions and a trailer",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5;name=x\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n",
     0, false, 200, "hello 0123456789", 0, "", NULL},
    {"chunked beats Content-Length",
     "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n"
     "3\r\nabc\r\n0\r\n\r\n",
     0, false, 200, "abc", 0, "", NULL},
    {"chunked, upper-case hex, empty",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
     "1F\r\n0123456789012345678901234567890\r\n0\r\n\r\n",
     0, false, 200, "0123456789012345678901234567890", 0, "", NULL},
    {"read until close", "HTTP/1.1 500 Internal Server Error\r\n\r\n{\"error\": 1}", 0, true, 500,
     "{\"error\": 1}", 0, "", NULL},
    {"101 leaves the stream's bytes",
     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: vsd-stream\r\nConnection: Upgrade\r\n\r\n"
     "fds 3\n",
     0, false, 101, "", 0, "fds 3\n", "vsd-stream"},
    {"bytes after a Content-Length body are not taken",
     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n", 0, false, 200, "ok", 0,
     "HTTP/1.1 200 OK\r\n", NULL},
    {"interim 100 Continue is skipped",
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}", 0, false,
     201, "{}", 0, "", NULL},
    {"204 has no body", "HTTP/1.1 204 No Content\r\n\r\n", 0, false, 204, "", 0, "", NULL},
    {"LF-only line ends", "HTTP/1.0 200 OK\nContent-Length: 3\n\nabc", 0, false, 200, "abc", 0, "",
     NULL},
    {"no reason phrase", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 0, false, 200, "", 0, "",
     NULL},
    {"leading empty line", "\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 0, false, 200, "x",
     0, "", NULL},
    {"binary body with a NUL", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\na\0b", 41, false, 200,
     "a\0b", 3, "", NULL},
};

static void check_good(const struct good_case *c, size_t step)
{
	struct vc_http_parser p;
	struct vc_http_response resp;
	struct vs_error err = {0};
	size_t len = c->len ? c->len : strlen(c->text);
	size_t blen = c->body_len ? c->body_len : strlen(c->body);
	size_t used;
	int r;

	vc_http_parser_init(&p);
	r = feed(&p, c->text, len, step, c->eof, &used, &err);
	if (r != 1)
		fail_msg("%s (step %zu): %d %s", c->name, step, r, err.msg);
	vc_http_parser_take(&p, &resp);
	vc_http_parser_free(&p);
	assert_int_equal(resp.status, c->status);
	assert_int_equal(resp.body_len, blen);
	assert_memory_equal(resp.body, c->body, blen);
	assert_int_equal(resp.body[blen], '\0');
	if (strlen(c->rest) != len - used || memcmp(c->text + used, c->rest, len - used) != 0)
		fail_msg("%s (step %zu): left '%.*s', expected '%s'", c->name, step,
			 (int)(len - used), c->text + used, c->rest);
	if (c->upgrade != NULL)
		assert_string_equal(resp.upgrade, c->upgrade);
	else
		assert_null(resp.upgrade);
	vc_http_response_free(&resp);
}

static void test_good_responses(void **state)
{
	for (size_t i = 0; i < VS_ARRAY_SIZE(good); i++)
		for (size_t step = 0; step <= 9; step++)
			check_good(&good[i], step);
}

static void test_header_fields(void **state)
{
	const char *text = "HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n"
			   "Content-Length: 2\r\n\r\n{}";
	struct vc_http_parser p;
	struct vc_http_response resp;
	struct vs_error err = {0};
	size_t used;

	vc_http_parser_init(&p);
	assert_int_equal(feed(&p, text, strlen(text), 0, false, &used, &err), 1);
	vc_http_parser_take(&p, &resp);
	vc_http_parser_free(&p);
	assert_string_equal(resp.reason, "Conflict");
	assert_string_equal(resp.content_type, "application/json");
	vc_http_response_free(&resp);
	/* Freeing twice is harmless (the struct was zeroed). */
	vc_http_response_free(&resp);
}

static const struct {
	const char *name;
	const char *text;
	bool eof;
} bad[] = {
    {"HTTP/2", "HTTP/2 200 OK\r\n\r\n", false},
    {"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", false},
    {"two-digit status", "HTTP/1.1 20 OK\r\n\r\n", false},
    {"letters in status", "HTTP/1.1 2x0 OK\r\n\r\n", false},
    {"status 099", "HTTP/1.1 099 Low\r\n\r\n", false},
    {"status 600", "HTTP/1.1 600 High\r\n\r\n", false},
    {"status glued to reason", "HTTP/1.1 200OK\r\n\r\n", false},
    {"header without colon", "HTTP/1.1 200 OK\r\nContent-Length 2\r\n\r\nok", false},
    {"empty header name", "HTTP/1.1 200 OK\r\n: x\r\n\r\n", false},
    {"space in header name", "HTTP/1.1 200 OK\r\nContent Length: 2\r\n\r\nok", false},
    {"folded header", "HTTP/1.1 200 OK\r\nX-A: 1\r\n  continued\r\n\r\n", false},
    {"negative Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false},
    {"Content-Length with junk", "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n", false},
    {"empty Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", false},
    {"Content-Length list", "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", false},
    {"conflicting Content-Lengths",
     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", false},
    {"huge Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
     false},
    {"body over the limit", "HTTP/1.1 200 OK\r\nContent-Length: 67108865\r\n\r\n", false},
    {"gzip transfer coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", false},
    {"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false},
    {"empty chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", false},
    {"negative chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", false},
    {"chunk size overflow",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n", false},
    {"chunk without CRLF after data",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n", false},
    {"truncated Content-Length body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", true},
    {"truncated chunked body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
     true},
    {"missing last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n", true},
    {"truncated head", "HTTP/1.1 200 OK\r\nContent-Le", true},
    {"nothing at all", "", true},
};

static void test_bad_responses(void **state)
{
	for (size_t i = 0; i < VS_ARRAY_SIZE(bad); i++) {
		for (size_t step = 0; step <= 5; step++) {
			struct vc_http_parser p;
			struct vs_error err = {0};
			size_t used;
			int r;

			vc_http_parser_init(&p);
			r = feed(&p, bad[i].text, strlen(bad[i].text), step, bad[i].eof, &used,
				 &err);
			vc_http_parser_free(&p);
			if (r != -1)
				fail_msg("%s (step %zu): accepted (%d)", bad[i].name, step, r);
			if (err.msg[0] == '\0')
				fail_msg("%s: no message", bad[i].name);
		}
	}
}

static void test_head_too_large(void **state)
{
	struct vc_http_parser p;
	struct vs_error err = {0};
	cleanup_free char *hdr = xmalloc(1000);
	const char *start = "HTTP/1.1 200 OK\r\n";
	size_t used;
	int r = 0;

	memset(hdr, 'a', 996);
	memcpy(hdr, "X-A: ", 5);
	memcpy(hdr + 996, "\r\n", 3);
	vc_http_parser_init(&p);
	assert_int_equal(vc_http_parse(&p, start, strlen(start), &used, &err), 0);
	for (int i = 0; i < 100 && r == 0; i++)
		r = vc_http_parse(&p, hdr, strlen(hdr), &used, &err);
	vc_http_parser_free(&p);
	assert_int_equal(r, -1);
	assert_non_null(strstr(err.msg, "head too large"));
}

static void test_body_until_close_limit(void **state)
{
	struct vc_http_parser p;
	struct vs_error err = {0};
	const char *head = "HTTP/1.1 200 OK\r\n\r\n";
	cleanup_free char *chunk = xcalloc(1, 1 << 20);
	size_t used;
	int r = 0;

	vc_http_parser_init(&p);
	assert_int_equal(vc_http_parse(&p, head, strlen(head), &used, &err), 0);
	for (int i = 0; i < 70 && r == 0; i++)
		r = vc_http_parse(&p, chunk, 1 << 20, &used, &err);
	vc_http_parser_free(&p);
	assert_int_equal(r, -1);
	assert_non_null(strstr(err.msg, "too large"));
}

static void test_format_request(void **state)
{
	struct vc_http_request get = {.method = "GET", .path = "/v1/containers", .body_fd = -1};
	struct vc_http_request post = {.method = "POST",
				       .path = "/v1/containers",
				       .body = "{\"name\":\"a\"}",
				       .body_len = 12,
				       .body_fd = -1};
	struct vc_http_request up = {.method = "POST",
				     .path = "/v1/containers/a/exec",
				     .body = "{}",
				     .body_len = 2,
				     .body_fd = -1,
				     .upgrade = true};
	struct vc_http_request put = {.method = "PUT",
				      .path = "/v1/templates/t/archive",
				      .content_type = "application/octet-stream",
				      .body_fd = 5,
				      .body_fd_len = 123456789012};
	cleanup_free char *a = vc_http_format_request(&get);
	cleanup_free char *b = vc_http_format_request(&post);
	cleanup_free char *c = vc_http_format_request(&up);
	cleanup_free char *d = vc_http_format_request(&put);

	assert_string_equal(a, "GET /v1/containers HTTP/1.1\r\nHost: vsd\r\n"
			       "User-Agent: vsctl/" VSD_VERSION "\r\nAccept: application/json\r\n"
			       "Content-Length: 0\r\nConnection: close\r\n\r\n");
	assert_string_equal(b, "POST /v1/containers HTTP/1.1\r\nHost: vsd\r\n"
			       "User-Agent: vsctl/" VSD_VERSION "\r\nAccept: application/json\r\n"
			       "Content-Type: application/json\r\nContent-Length: 12\r\n"
			       "Connection: close\r\n\r\n");
	assert_non_null(strstr(c, "\r\nConnection: Upgrade\r\nUpgrade: vsd-stream\r\n\r\n"));
	assert_null(strstr(c, "close"));
	assert_non_null(strstr(d, "\r\nContent-Type: application/octet-stream\r\n"));
	assert_non_null(strstr(d, "\r\nContent-Length: 123456789012\r\n"));
}

static void test_escape_segment(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"web1", "web1"},
	    {"a-b_c.d~e", "a-b_c.d~e"},
	    {"a/b", "a%2Fb"},
	    {"..", ".."}, /* the daemon refuses it by name; nothing to hide here */
	    {"x?force=1", "x%3Fforce%3D1"},
	    {"a b#c%", "a%20b%23c%25"},
	    {"", ""},
	    {"\xc3\xa9", "%C3%A9"},
	};

	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		cleanup_free char *s = vc_http_escape_segment(cases[i].in);
		assert_string_equal(s, cases[i].out);
	}
	cleanup_free char *p = vc_api_path("containers", "a/b", "/state");
	assert_string_equal(p, "/v1/containers/a%2Fb/state");
}

static void test_api_error(void **state)
{
	struct vc_http_response r = {.status = 404, .reason = "Not Found"};
	struct vs_error err = {0};

	r.body = "{\"error\": {\"code\": \"not_found\", \"message\": \"container 'x' does not "
		 "exist\"}}";
	r.body_len = strlen(r.body);
	assert_int_equal(vc_api_error(&r, &err), -1);
	assert_string_equal(err.msg, "container 'x' does not exist");
	assert_int_equal(err.kind, VS_EK_NOT_FOUND);

	r.status = 502;
	r.reason = "Bad Gateway";
	r.body = "<html>oops</html>";
	r.body_len = strlen(r.body);
	assert_int_equal(vc_api_error(&r, &err), -1);
	assert_string_equal(err.msg, "the daemon answered HTTP 502 Bad Gateway");
	assert_int_equal(err.kind, VS_EK_INTERNAL);

	r.body = "{\"error\": {\"code\": \"conflict\"}}"; /* no message */
	r.body_len = strlen(r.body);
	vc_api_error(&r, &err);
	assert_string_equal(err.msg, "the daemon answered HTTP 502 Bad Gateway");

	assert_int_equal(vc_api_error_kind("invalid"), VS_EK_INVALID);
	assert_int_equal(vc_api_error_kind("conflict"), VS_EK_CONFLICT);
	assert_int_equal(vc_api_error_kind("too_large"), VS_EK_TOO_LARGE);
	assert_int_equal(vc_api_error_kind("unsupported"), VS_EK_UNSUPPORTED);
	assert_int_equal(vc_api_error_kind("whatever"), VS_EK_INTERNAL);
	assert_int_equal(vc_api_error_kind(NULL), VS_EK_INTERNAL);
}

/* A connection over one end of a socketpair; the test plays the daemon. */
static void conn_on(struct vc_conn *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->path = xstrdup("(socketpair)");
}

/* The 101, the "fds N" message with its descriptors, and the exit line
 * arriving together: the descriptors must survive the HTTP reading. */
static void test_exchange_upgrade_with_fds(void **state)
{
	const char *head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: vsd-stream\r\n\r\n";
	struct vc_http_request req = {.method = "POST",
				      .path = "/v1/containers/a/exec",
				      .body = "{}",
				      .body_len = 2,
				      .body_fd = -1,
				      .upgrade = true};
	struct vc_http_response resp;
	struct vs_error err = {0};
	cleanup_conn struct vc_conn c = {.fd = -1};
	cleanup_close int peer = -1;
	int sv[2], pipefd[2];
	char line[64], buf[8];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	conn_on(&c, sv[0]);
	peer = sv[1];
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	assert_int_equal(write(peer, head, strlen(head)), (ssize_t)strlen(head));
	assert_int_equal(vs_send_fds(peer, "fds 2\n", 6, pipefd, 2), 0);
	close(pipefd[0]);
	assert_int_equal(write(peer, "exit 3\n", 7), 7);

	if (vc_http_exchange(&c, &req, &resp, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(resp.status, 101);
	vc_http_response_free(&resp);
	assert_int_equal(vc_conn_read_line(&c, line, sizeof(line), &err), 0);
	assert_string_equal(line, "fds 2");
	assert_int_equal(c.nfds, 2);
	/* The received ends are the pipe: write into ours, read from theirs. */
	assert_int_equal(write(pipefd[1], "ok", 2), 2);
	close(pipefd[1]);
	assert_int_equal(read(c.fds[0], buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "ok", 2);
	assert_true(fcntl(c.fds[0], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(vc_conn_read_line(&c, line, sizeof(line), &err), 0);
	assert_string_equal(line, "exit 3");
	/* And the request went out as formatted. */
	ssize_t n = read(peer, buf, 5);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "POST ", 5);
	/* EOF before a line is an error naming the connection. */
	shutdown(peer, SHUT_WR);
	assert_int_equal(vc_conn_read_line(&c, line, sizeof(line), &err), -1);
	assert_non_null(strstr(err.msg, "closed"));
}

static void test_exchange_errors(void **state)
{
	struct vc_http_request req = {.method = "GET", .path = "/v1/node", .body_fd = -1};
	struct vc_http_response resp;
	struct vs_error err = {0};
	const char *garbage = "SSH-2.0-x\r\n\r\n";

	for (int k = 0; k < 2; k++) {
		cleanup_conn struct vc_conn c = {.fd = -1};
		cleanup_close int peer = -1;
		int sv[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		conn_on(&c, sv[0]);
		peer = sv[1];
		if (k == 0)
			assert_int_equal(write(peer, garbage, strlen(garbage)),
					 (ssize_t)strlen(garbage));
		shutdown(peer, SHUT_WR); /* k == 1: closed without a word */
		assert_int_equal(vc_http_exchange(&c, &req, &resp, &err), -1);
		assert_non_null(strstr(err.msg, k == 0 ? "malformed" : "without a response"));
	}
}

static void test_conn_open_missing(void **state)
{
	struct vc_conn c;
	struct vs_error err = {0};

	assert_int_equal(vc_conn_open(&c, "/nonexistent/vsctl-test.sock", &err), -1);
	assert_string_equal(err.msg, "cannot connect to /nonexistent/vsctl-test.sock: No such file "
				     "or directory (is vsd running?)");
	assert_int_equal(err.errnum, ENOENT);
	vc_conn_close(&c);
	vc_conn_close(&c); /* idempotent */
}

static void test_pop_line_limits(void **state)
{
	cleanup_conn struct vc_conn c = {.fd = -1};
	struct vs_error err = {0};
	char line[8];

	c.pending = xstrdup("0123456789\nab");
	c.pending_len = c.pending_cap = strlen(c.pending);
	assert_int_equal(vc_conn_pop_line(&c, line, sizeof(line), &err), -1);
	free(c.pending);
	c.pending = xstrdup("a\nb\nc");
	c.pending_len = c.pending_cap = strlen(c.pending);
	assert_int_equal(vc_conn_pop_line(&c, line, sizeof(line), &err), 1);
	assert_string_equal(line, "a");
	assert_int_equal(vc_conn_pop_line(&c, line, sizeof(line), &err), 1);
	assert_string_equal(line, "b");
	assert_int_equal(vc_conn_pop_line(&c, line, sizeof(line), &err), 0);
	assert_int_equal(c.pending_len, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_responses),
	    cmocka_unit_test(test_header_fields),
	    cmocka_unit_test(test_bad_responses),
	    cmocka_unit_test(test_head_too_large),
	    cmocka_unit_test(test_body_until_close_limit),
	    cmocka_unit_test(test_format_request),
	    cmocka_unit_test(test_escape_segment),
	    cmocka_unit_test(test_api_error),
	    cmocka_unit_test(test_exchange_upgrade_with_fds),
	    cmocka_unit_test(test_exchange_errors),
	    cmocka_unit_test(test_conn_open_missing),
	    cmocka_unit_test(test_pop_line_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
