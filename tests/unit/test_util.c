/* lib/vs_util.c: vs_self_sibling finds files installed with the running
 * program, and vs_shed_idle_memory gives back the dead stack below the
 * caller and the heap's free pages (what an idle monitor holds per VPS). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/vs_util.h"

/* Rss in KiB of the mapping whose line names what ("[stack]", "[heap]"). */
static long rss_of(const char *what)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	bool in = false;
	long kb = -1;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		/* A mapping's first line starts with its address (lowercase
		 * hex); its fields start with a capital ("Rss:"). */
		if (strchr("0123456789abcdef", line[0]) != NULL)
			in = strstr(line, what) != NULL;
		else if (in && sscanf(line, "Rss: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* Dirty about depth * 16 KiB of stack, then return. */
static __attribute__((noinline)) int dirty_stack(int depth)
{
	volatile char buf[16384];

	memset((char *)buf, depth, sizeof(buf));
	return depth > 0 ? dirty_stack(depth - 1) + buf[100] : buf[200];
}

static void test_shed_stack(void **state)
{
	long before, after;

	assert_true(dirty_stack(48) >= 0); /* ~768 KiB */
	before = rss_of("[stack]");
	vs_shed_idle_memory();
	after = rss_of("[stack]");
	print_message("[stack] Rss %ld KiB -> %ld KiB\n", before, after);
	assert_true(before >= 700);
	assert_true(after <= before - 600);
	/* What was given back reads as zeros again: the stack still works. */
	assert_true(dirty_stack(48) >= 0);
	assert_true(rss_of("[stack]") >= 700);
}

/* glibc's heap (under ASan its own allocator owns memory: not run). */
#ifndef __SANITIZE_ADDRESS__
static void test_shed_heap(void **state)
{
	enum { N = 8192, SZ = 1000 };
	static void *p[N];
	long before, after;

	for (int i = 0; i < N; i++) {
		p[i] = xmalloc(SZ);
		memset(p[i], 1, SZ);
	}
	/* Free all but the last block, which pins the heap's top. */
	for (int i = 0; i < N - 1; i++)
		free(p[i]);
	before = rss_of("[heap]");
	vs_shed_idle_memory();
	after = rss_of("[heap]");
	print_message("[heap] Rss %ld KiB -> %ld KiB\n", before, after);
	assert_true(before >= 7000);
	assert_true(after <= before - 6000);
	free(p[N - 1]);
}
#endif

static void test_self_sibling(void **state)
{
	char self[4096], path[4200];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *base;

	assert_true(n > 0);
	self[n] = '\0';
	base = strrchr(self, '/') + 1;
	/* The test binary finds itself beside itself. */
	assert_int_equal(vs_self_sibling(base, path, sizeof(path)), 0);
	assert_string_equal(path + strlen(path) - strlen(base), base);
	assert_int_equal(access(path, X_OK), 0);
	/* Absent beside it and in ../libexec/vsd/: ENOENT. */
	errno = 0;
	assert_int_equal(vs_self_sibling("no-such-vsd-file", path, sizeof(path)), -1);
	assert_int_equal(errno, ENOENT);
	/* A path that does not fit is not found (never truncated). */
	errno = 0;
	assert_int_equal(vs_self_sibling(base, path, 8), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_sorted_find(void **state)
{
	struct item {
		int pad;
		const char *name;
	} v[] = {{0, "a"}, {0, "c"}, {0, "e"}};
	/* name, elements searched, index wanted, found wanted */
	const struct {
		const char *name;
		size_t n, at;
		bool found;
	} cases[] = {{"c", 3, 1, true},	 {"a", 3, 0, true},  {"e", 3, 2, true},
		     {"d", 3, 2, false}, {"z", 3, 3, false}, {"a", 0, 0, false}};
	bool found;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(vs_sorted_find(v, cases[i].n, sizeof(v[0]),
						offsetof(struct item, name), cases[i].name, &found),
				 cases[i].at);
		assert_int_equal(found, cases[i].found);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shed_stack),
#ifndef __SANITIZE_ADDRESS__
	    cmocka_unit_test(test_shed_heap),
#endif
	    cmocka_unit_test(test_self_sibling),
	    cmocka_unit_test(test_sorted_find),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
