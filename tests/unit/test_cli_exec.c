/* cli/exec.c: the console's Ctrl-a q detach filter, fed whole and byte by
 * byte (the prefix may end one read and the key start the next). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cli/cli.h"
#include "lib/vs_util.h"

static const struct {
	const char *name;
	const char *in;
	const char *out; /* bytes passed on before detaching or the end */
	bool detach;
} cases[] = {
    {"plain text", "ls -l\r", "ls -l\r", false},
    {"Ctrl-a q detaches", "abc\001q", "abc", true},
    {"nothing after the detach is sent", "\001qrest", "", true},
    {"Ctrl-a Ctrl-a sends one Ctrl-a", "\001\001x", "\001x", false},
    {"Ctrl-a a sends one Ctrl-a", "\001a", "\001", false},
    {"Ctrl-a and another key pass both", "\001x", "\001x", false},
    {"Ctrl-a Q is not q", "\001Q", "\001Q", false},
    {"q alone is text", "quit\r", "quit\r", false},
    {"Ctrl-a Ctrl-a q: the escaped Ctrl-a does not arm", "\001\001q", "\001q", false},
    {"pending prefix at the end", "ab\001", "ab", false},
};

static void run(size_t i, size_t step)
{
	struct vc_detach d = {0};
	const char *in = cases[i].in;
	size_t len = strlen(in), off = 0, got = 0;
	char out[64];
	bool detached = false;

	while (off < len && !detached) {
		size_t n = step == 0 || len - off < step ? len - off : step;
		char buf[64];
		ssize_t m = vc_detach_filter(&d, in + off, n, buf);

		assert_true(m <= (ssize_t)n + 1);
		if (m < 0) {
			detached = true;
			break;
		}
		memcpy(out + got, buf, (size_t)m);
		got += (size_t)m;
		off += n;
	}
	if (detached != cases[i].detach)
		fail_msg("%s (step %zu): detach %d", cases[i].name, step, detached);
	/* Fed whole, a detaching read passes nothing of itself on; fed in
	 * pieces, the pieces before it went out already. */
	if (!cases[i].detach || step != 0) {
		size_t want = strlen(cases[i].out);
		if (got != want || memcmp(out, cases[i].out, want) != 0)
			fail_msg("%s (step %zu): passed '%.*s'", cases[i].name, step, (int)got,
				 out);
	}
}

static void test_detach_filter(void **state)
{
	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++)
		for (size_t step = 0; step <= 3; step++)
			run(i, step);
}

/* The prefix survives across calls. */
static void test_detach_split(void **state)
{
	struct vc_detach d = {0};
	char buf[8];

	assert_int_equal(vc_detach_filter(&d, "x\001", 2, buf), 1);
	assert_true(d.saw_prefix);
	assert_int_equal(vc_detach_filter(&d, "q", 1, buf), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_detach_filter),
	    cmocka_unit_test(test_detach_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
