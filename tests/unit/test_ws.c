/* lib/vs_ws.c: the Sec-WebSocket-Accept of RFC 6455's own example, key
 * checks, the control messages (parse, refusals naming the field, format
 * round trip, exit status mapping), and vsctl's WebSocket request head and
 * the response headers it keeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/vs_util.h"
#include "lib/vs_ws.h"

static void test_accept_rfc_example(void **state)
{
	char out[VS_WS_ACCEPT_LEN + 1];
	struct vs_error err = {0};

	/* RFC 6455 section 1.3. */
	assert_int_equal(vs_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", out, &err), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_key_checks(void **state)
{
	char out[VS_WS_ACCEPT_LEN + 1], key[VS_WS_KEY_LEN + 1], key2[VS_WS_KEY_LEN + 1];
	struct vs_error err = {0};

	assert_true(vs_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=="));
	assert_false(vs_ws_key_valid(NULL));
	assert_false(vs_ws_key_valid(""));
	assert_false(vs_ws_key_valid("c2hvcnQ="));		   /* 5 bytes */
	assert_false(vs_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=!")); /* not base64 */
	assert_false(vs_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ== "));
	assert_int_equal(vs_ws_accept("c2hvcnQ=", out, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_non_null(strstr(err.msg, "Sec-WebSocket-Key"));
	assert_int_equal(vs_ws_new_key(key, &err), 0);
	assert_int_equal(vs_ws_new_key(key2, &err), 0);
	assert_true(vs_ws_key_valid(key));
	assert_string_not_equal(key, key2);
}

static int parse(const char *text, struct vs_ws_ctl *c, struct vs_error *err)
{
	memset(err, 0, sizeof(*err));
	return vs_ws_ctl_parse(text, strlen(text), c, err);
}

static void test_ctl_parse(void **state)
{
	struct vs_ws_ctl c;
	struct vs_error err;

	assert_int_equal(parse("{\"type\":\"resize\",\"cols\":101,\"rows\":33}", &c, &err), 0);
	assert_int_equal(c.type, VS_WS_CTL_RESIZE);
	assert_int_equal(c.cols, 101);
	assert_int_equal(c.rows, 33);
	assert_int_equal(parse("{\"type\":\"eof\"}", &c, &err), 0);
	assert_int_equal(c.type, VS_WS_CTL_EOF);
	assert_int_equal(parse("{\"type\":\"signal\",\"signal\":15}", &c, &err), 0);
	assert_int_equal(c.signal, 15);
	assert_int_equal(parse("{\"signal\":2,\"code\":130,\"type\":\"exit\"}", &c, &err), 0);
	assert_int_equal(c.type, VS_WS_CTL_EXIT);
	assert_int_equal(c.code, 130);
	assert_int_equal(c.signal, 2);
}

static void expect_refused(const char *text, const char *needle)
{
	struct vs_ws_ctl c;
	struct vs_error err;

	assert_int_equal(parse(text, &c, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("'%s': message '%s' does not name '%s'", text, err.msg, needle);
}

static void test_ctl_refused(void **state)
{
	static const char nul[] = "{\"type\":\"eof\"}\0x";

	expect_refused("{\"type\":\"resize\",\"cols\":0,\"rows\":3}", "cols");
	expect_refused("{\"type\":\"resize\",\"cols\":80}", "rows");
	expect_refused("{\"type\":\"resize\",\"cols\":80,\"rows\":\"24\"}", "rows");
	expect_refused("{\"type\":\"resize\",\"cols\":80,\"rows\":24,\"x\":1}", "x: unknown field");
	expect_refused("{\"type\":\"signal\",\"signal\":65}", "signal");
	expect_refused("{\"type\":\"reboot\"}", "reboot");
	expect_refused("{\"cols\":1}", "type");
	expect_refused("[1]", "object");
	expect_refused("{\"type\":", "control message");
	struct vs_ws_ctl c;
	struct vs_error err = {0};
	assert_int_equal(vs_ws_ctl_parse(nul, sizeof(nul) - 1, &c, &err), -1);
	assert_non_null(strstr(err.msg, "NUL"));
}

static void test_ctl_format_round_trip(void **state)
{
	const struct vs_ws_ctl in[] = {
	    {.type = VS_WS_CTL_RESIZE, .cols = 80, .rows = 24},
	    {.type = VS_WS_CTL_SIGNAL, .signal = 9},
	    {.type = VS_WS_CTL_EOF},
	    {.type = VS_WS_CTL_EXIT, .code = 137, .signal = 9},
	};
	struct vs_error err = {0};

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		cleanup_free char *t = vs_ws_ctl_format(&in[i]);
		struct vs_ws_ctl out;
		assert_int_equal(vs_ws_ctl_parse(t, strlen(t), &out, &err), 0);
		assert_memory_equal(&out, &in[i], sizeof(out));
	}
	cleanup_free char *t = vs_ws_ctl_format(&in[3]);
	assert_string_equal(t, "{\"type\":\"exit\",\"code\":137,\"signal\":9}");
}

static void test_exit_status(void **state)
{
	struct vs_ws_ctl c = vs_ws_ctl_exit(7);

	assert_int_equal(c.code, 7);
	assert_int_equal(c.signal, 0);
	c = vs_ws_ctl_exit(128 + 15);
	assert_int_equal(c.code, 143);
	assert_int_equal(c.signal, 15);
	c = vs_ws_ctl_exit(300);
	assert_int_equal(c.code, 255);
	assert_int_equal(c.signal, 0);
}

static void test_request_head(void **state)
{
	struct vc_http_request req = {.method = "POST",
				      .path = "/v1/containers/a/exec",
				      .body = "{}",
				      .body_len = 2,
				      .body_fd = -1,
				      .upgrade = true,
				      .ws_key = "dGhlIHNhbXBsZSBub25jZQ==",
				      .ws_protocol = VS_WS_PROTOCOL};
	cleanup_free char *head = vc_http_format_request(&req);

	assert_non_null(strstr(head, "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"));
	assert_non_null(strstr(head, "\r\nSec-WebSocket-Version: 13\r\n"));
	assert_non_null(strstr(head, "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
	assert_non_null(strstr(head, "\r\nSec-WebSocket-Protocol: vsd.exec.v1\r\n"));
	assert_null(strstr(head, "vsd-stream"));
}

static void test_response_headers(void **state)
{
	static const char text[] = "HTTP/1.1 101 Switching Protocols\r\n"
				   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
				   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
				   "Sec-WebSocket-Protocol: vsd.exec.v1\r\n\r\n\x82\x01\x01";
	struct vc_http_parser p;
	struct vc_http_response r;
	struct vs_error err = {0};
	size_t used = 0;

	vc_http_parser_init(&p);
	assert_int_equal(vc_http_parse(&p, text, sizeof(text) - 1, &used, &err), 1);
	assert_int_equal(used, sizeof(text) - 1 - 3); /* the frame stays */
	vc_http_parser_take(&p, &r);
	vc_http_parser_free(&p);
	assert_int_equal(r.status, 101);
	assert_string_equal(r.upgrade, "websocket");
	assert_string_equal(r.ws_accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_string_equal(r.ws_protocol, "vsd.exec.v1");
	vc_http_response_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accept_rfc_example),
	    cmocka_unit_test(test_key_checks),
	    cmocka_unit_test(test_ctl_parse),
	    cmocka_unit_test(test_ctl_refused),
	    cmocka_unit_test(test_ctl_format_round_trip),
	    cmocka_unit_test(test_exit_status),
	    cmocka_unit_test(test_request_head),
	    cmocka_unit_test(test_response_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
