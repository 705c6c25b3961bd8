/* The one wire form of an error between vsd's processes (lib/vs_error.h)
 * and its users on both ends: the helpers' rt_helper_fail/verdict. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/vs_error.h"
#include "lib/vs_util.h"
#include "runtime/rt-private.h"

static void round_trip(const struct vs_error *in)
{
	char buf[VS_ERROR_WIRE_MAX];
	struct vs_error out = {0};
	int n = vs_error_encode(in, buf, sizeof(buf));

	assert_int_equal(n, (int)strlen(buf));
	assert_int_equal(vs_error_decode(buf, &out), -1);
	assert_int_equal(out.kind, in->kind);
	assert_int_equal(out.errnum, in->errnum);
	assert_string_equal(out.msg, in->msg);
}

static void test_round_trip(void **state)
{
	struct vs_error e = {0};

	/* errno and its strerror as the sender had them, not appended twice. */
	vs_error_set(&e, ENOENT, "open /x y");
	round_trip(&e);
	vs_error_kind(&e, VS_EK_CONFLICT, "container 'c1' is running");
	round_trip(&e);
	vs_error_kind(&e, VS_EK_LAST, "%s", "");
	round_trip(&e);
	/* Whatever a message holds: digits and spaces first, "error" inside. */
	vs_error_kind(&e, VS_EK_INVALID, "12 34 error 5 6 x");
	round_trip(&e);
	/* The longest message fits whole. */
	memset(e.msg, 'm', sizeof(e.msg) - 1);
	e.msg[sizeof(e.msg) - 1] = '\0';
	e.errnum = 4095;
	round_trip(&e);
}

static void test_encode_form(void **state)
{
	struct vs_error e = {0};
	char buf[VS_ERROR_WIRE_MAX], small[12];

	vs_error_set(&e, EACCES, "open");
	vs_error_encode(&e, buf, sizeof(buf));
	assert_string_equal(buf, "error 0 13 open: Permission denied");
	vs_error_kind(&e, VS_EK_UNSUPPORTED, "no criu");
	vs_error_encode(&e, buf, sizeof(buf));
	assert_string_equal(buf, "error 5 0 no criu");
	/* A short buffer: truncated, terminated, the length it holds. */
	assert_int_equal(vs_error_encode(&e, small, sizeof(small)), (int)sizeof(small) - 1);
	assert_string_equal(small, "error 5 0 n");
}

static void test_decode(void **state)
{
	struct vs_error e = {0};

	/* Not an error: the caller's own answers, err untouched. */
	vs_error_kind(&e, VS_EK_NOT_FOUND, "before");
	assert_int_equal(vs_error_decode("ok 42", &e), 0);
	assert_int_equal(vs_error_decode("progress dumping", &e), 0);
	assert_int_equal(vs_error_decode("", &e), 0);
	assert_int_equal(vs_error_decode("errors 1 2 x", &e), 0);
	assert_int_equal(vs_error_decode("error: unknown request", &e), 0); /* the old form */
	assert_string_equal(e.msg, "before");
	/* The readiness pipe's line ends in a newline. */
	assert_int_equal(vs_error_decode("error 3 0 container 'a' is running\n", &e), -1);
	assert_int_equal(e.kind, VS_EK_CONFLICT);
	assert_int_equal(e.errnum, 0);
	assert_string_equal(e.msg, "container 'a' is running");
	assert_int_equal(vs_error_decode("error 1 22", &e), -1);
	assert_int_equal(e.kind, VS_EK_INVALID);
	assert_int_equal(e.errnum, EINVAL);
	assert_string_equal(e.msg, "");
}

static void expect_malformed(const char *text)
{
	struct vs_error e = {0};

	assert_int_equal(vs_error_decode(text, &e), -1);
	assert_int_equal(e.kind, VS_EK_INTERNAL);
	assert_int_equal(e.errnum, EPROTO);
	if (strncmp(e.msg, "malformed error report", 22) != 0)
		fail_msg("'%s' for '%s'", e.msg, text);
}

static void test_decode_malformed(void **state)
{
	expect_malformed("error ");
	expect_malformed("error 3 no errno"); /* the old "error KIND MSG" */
	expect_malformed("error 2");	      /* the zygote's old "error ERRNO" */
	expect_malformed("error -1 0 x");
	expect_malformed("error 99 0 x");
	expect_malformed("error 1 -5 x");
	expect_malformed("error 1 100000 x");
}

/* Both ends of a helper's first message: rt_helper_fail writes on fd 3,
 * rt_helper_verdict reads it as vsd does. */
static void test_helper_ends(void **state)
{
	struct vs_error sent = {0}, got = {0};
	int sv[2], saved = fcntl(3, F_DUPFD_CLOEXEC, 10);

	/* Both ends above 3 first: one of them may have been given fd 3. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	for (int i = 0; i < 2; i++) {
		int high = fcntl(sv[i], F_DUPFD_CLOEXEC, 10);
		assert_true(high >= 10);
		close(sv[i]);
		sv[i] = high;
	}
	assert_int_equal(dup2(sv[1], 3), 3);
	vs_error_kind(&sent, VS_EK_NOT_FOUND, "user 'bob' does not exist");
	assert_int_equal(rt_helper_fail(&sent), 1);
	assert_int_equal(rt_helper_verdict(sv[0], NULL, &got), -1);
	assert_int_equal(got.kind, VS_EK_NOT_FOUND);
	assert_string_equal(got.msg, "user 'bob' does not exist");
	vs_error_set(&sent, ESRCH, "join the namespaces of the container");
	rt_helper_fail(&sent);
	assert_int_equal(rt_helper_verdict(sv[0], NULL, &got), -1);
	assert_int_equal(got.kind, VS_EK_INTERNAL);
	assert_int_equal(got.errnum, ESRCH);
	assert_string_equal(got.msg, "join the namespaces of the container: No such process");
	/* An answer that is neither: a protocol error, not a success. */
	assert_int_equal(send(3, "hello", 5, 0), 5);
	assert_int_equal(rt_helper_verdict(sv[0], NULL, &got), -1);
	assert_int_equal(got.errnum, EPROTO);
	assert_int_equal(send(3, "ok", 2, 0), 2);
	assert_int_equal(rt_helper_verdict(sv[0], NULL, &got), 0);
	if (saved >= 0)
		dup2(saved, 3);
	else
		close(3);
	close(saved);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),	cmocka_unit_test(test_encode_form),
	    cmocka_unit_test(test_decode),	cmocka_unit_test(test_decode_malformed),
	    cmocka_unit_test(test_helper_ends),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
