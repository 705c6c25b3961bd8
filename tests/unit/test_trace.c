/* lib: the benchmark's step marks (lib/vs_trace.c): nothing without
 * VSD_TRACE_FILE, one "SECONDS.MICROS PID STEP" line per mark with it, in
 * order, and a reopen after the descriptor was closed behind its back (a
 * zygote's child closes everything) writes to the file again, not to
 * whatever took the old descriptor's number. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/vs_trace.h"
#include "lib/vs_util.h"

static char path[64];

static char *slurp(void)
{
	char *text = NULL;
	FILE *f = fopen(path, "r");
	size_t cap = 0;
	ssize_t n;

	if (f == NULL)
		return xstrdup("");
	n = getdelim(&text, &cap, '\0', f);
	fclose(f);
	if (n < 0) {
		free(text);
		return xstrdup("");
	}
	return text;
}

/* Each line is SECONDS.MICROS (6 digits) PID STEP; the steps in order. */
static void check_lines(const char *text, const char *const *steps, size_t nsteps)
{
	const char *p = text;
	double prev = 0;

	for (size_t i = 0; i < nsteps; i++) {
		long long sec, usec;
		int pid, off = 0;
		char step[64];
		const char *dot = strchr(p, '.');

		assert_non_null(dot);
		assert_int_equal(sscanf(p, "%lld.%lld %d %63s%n", &sec, &usec, &pid, step, &off),
				 4);
		assert_int_equal(strspn(dot + 1, "0123456789"), 6);
		assert_int_equal(pid, (int)getpid());
		assert_string_equal(step, steps[i]);
		assert_true(sec + usec / 1e6 >= prev);
		prev = sec + usec / 1e6;
		p += off;
		assert_int_equal(*p, '\n');
		p++;
	}
	assert_int_equal(*p, '\0');
}

static void test_marks(void **state)
{
	static const char *const steps[] = {"first.step", "second", "after.reopen"};
	cleanup_free char *before = NULL, *text = NULL;
	int fd, other;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/vsd-test-trace-%d", (int)getpid());
	unlink(path);
	/* Without the variable: no file, no error. */
	unsetenv("VSD_TRACE_FILE");
	vs_trace_init();
	vs_trace_mark("nothing");
	assert_int_equal(access(path, F_OK), -1);
	/* A relative path is refused too. */
	setenv("VSD_TRACE_FILE", "relative/trace", 1);
	vs_trace_init();
	vs_trace_mark("nothing");
	assert_int_equal(access("relative/trace", F_OK), -1);

	setenv("VSD_TRACE_FILE", path, 1);
	vs_trace_init();
	vs_trace_mark(steps[0]);
	vs_trace_mark(steps[1]);
	/* Close every descriptor above stdio as a zygote's child does, and let
	 * another file take the number: the reopened trace goes to the file. */
	before = slurp();
	for (fd = 3; fd < 64; fd++)
		close(fd);
	other = open("/dev/null", O_WRONLY | O_CLOEXEC);
	assert_true(other >= 0);
	vs_trace_reopen();
	vs_trace_mark(steps[2]);
	close(other);
	text = slurp();
	assert_int_equal(strncmp(text, before, strlen(before)), 0);
	check_lines(text, steps, VS_ARRAY_SIZE(steps));
	unlink(path);
	unsetenv("VSD_TRACE_FILE");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_marks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
