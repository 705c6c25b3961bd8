/* lib/vs_mountinfo: mountinfo read through libmount, escaped paths, bad
 * input, and the callers' shapes (cgroups host layout from crafted text). */
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

#include "cgroups/vs_cgroups.h"
#include "lib/vs_io.h"
#include "lib/vs_mountinfo.h"
#include "lib/vs_util.h"

/* What the kernel writes for mount points with a space, a tab, a newline
 * and a backslash in them (show_mountinfo escapes " \t\n\\" as \ooo), with
 * optional fields of varying number before the "-". */
static const char crafted[] =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
    "40 22 0:5 /null /dev/null rw,nosuid - devtmpfs udev rw,size=8k,mode=755\n"
    "41 22 0:5 /null /proc/my\\040keys rw shared:3 master:2 - devtmpfs udev rw\n"
    "42 22 0:44 / /srv/a\\011b\\012c\\134d ro - tmpfs none\\040x rw\n"
    "43 22 0:45 / /proc/meminfo rw - fuse.lxcfs lxcfs rw,user_id=0,group_id=0\n";

struct seen {
	size_t n, stop_at;
	char target[8][64], root[8][64], fstype[8][32], source[8][32], opts[8][64];
	unsigned int major[8], minor[8];
	int id[8], parent[8];
};

static int record(const struct vs_mount *m, void *ud, struct vs_error *err)
{
	struct seen *s = ud;

	assert_true(s->n < 8);
	snprintf(s->target[s->n], sizeof(s->target[0]), "%s", m->target);
	snprintf(s->root[s->n], sizeof(s->root[0]), "%s", m->root);
	snprintf(s->fstype[s->n], sizeof(s->fstype[0]), "%s", m->fstype);
	snprintf(s->source[s->n], sizeof(s->source[0]), "%s", m->source);
	snprintf(s->opts[s->n], sizeof(s->opts[0]), "%s", m->super_options);
	s->major[s->n] = m->major;
	s->minor[s->n] = m->minor;
	s->id[s->n] = m->id;
	s->parent[s->n] = m->parent_id;
	s->n++;
	return s->stop_at != 0 && s->n == s->stop_at ? 1 : 0;
}

static void check_crafted(const struct seen *s)
{
	assert_int_equal(s->n, 5);
	assert_string_equal(s->target[0], "/");
	assert_int_equal(s->id[0], 22);
	assert_int_equal(s->parent[0], 1);
	assert_int_equal(s->major[0], 8);
	assert_int_equal(s->minor[0], 1);
	assert_string_equal(s->source[0], "/dev/sda1");
	assert_string_equal(s->opts[0], "rw,errors=remount-ro");
	assert_string_equal(s->root[1], "/null");
	assert_string_equal(s->fstype[1], "devtmpfs");
	assert_string_equal(s->target[2], "/proc/my keys");
	assert_string_equal(s->target[3], "/srv/a\tb\nc\\d");
	assert_string_equal(s->source[3], "none x");
	assert_string_equal(s->opts[3], "rw");
	assert_string_equal(s->fstype[4], "fuse.lxcfs");
	assert_int_equal(s->minor[4], 45);
}

static void test_parse_text(void **state)
{
	struct seen s = {0};
	struct vs_error err = {0};

	assert_int_equal(vs_mountinfo_parse(crafted, strlen(crafted), record, &s, &err), 0);
	check_crafted(&s);
	/* The callback stops the walk. */
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	assert_int_equal(vs_mountinfo_parse(crafted, strlen(crafted), record, &s, &err), 1);
	assert_int_equal(s.n, 2);
	/* Nothing at all: no mounts. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(vs_mountinfo_parse("", 0, record, &s, &err), 0);
	assert_int_equal(s.n, 0);
}

/* The crafted text as a file, read with a size cap. */
static void test_read_file(void **state)
{
	char path[] = "/tmp/vsd-mountinfo-XXXXXX";
	int fd = mkstemp(path);
	struct seen s = {0};
	struct vs_error err = {0};

	assert_true(fd >= 0);
	assert_int_equal(write(fd, crafted, strlen(crafted)), (ssize_t)strlen(crafted));
	close(fd);
	assert_int_equal(vs_mountinfo_read(path, 1 << 20, record, &s, &err), 0);
	check_crafted(&s);
	memset(&s, 0, sizeof(s));
	assert_int_equal(vs_mountinfo_read(path, 64, record, &s, &err), -1);
	assert_int_equal(s.n, 0);
	assert_non_null(strstr(err.msg, path));
	unlink(path);
	/* The real one has at least the root. */
	memset(&s, 0, sizeof(s));
	s.stop_at = 1;
	assert_int_equal(vs_mountinfo_read("/proc/self/mountinfo", 64 << 20, record, &s, &err), 1);
}

static void expect_malformed(const char *text, const char *msg)
{
	struct seen s = {0};
	struct vs_error err = {0};

	assert_int_equal(vs_mountinfo_parse(text, strlen(text), record, &s, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_string_equal(err.msg, msg);
	/* The whole text is checked before any mount is handed out. */
	assert_int_equal(s.n, 0);
}

static void test_malformed(void **state)
{
	/* No "-" separator. */
	expect_malformed("31 23 0:28 / /x rw - tmpfs none rw\n"
			 "32 31 0:29 / /sys/fs/cgroup/cpu rw cgroup cgroup\n",
			 "mountinfo line 2: malformed");
	/* Not mountinfo at all (libmount would take it for an fstab). */
	expect_malformed("/dev/sda1 / ext4 rw 0 1\n", "mountinfo line 1: malformed");
	expect_malformed("\n\ngarbage\n", "mountinfo line 3: malformed");
	expect_malformed("31 23 0:28 / /x rw - tmpfs\n", "mountinfo line 1: malformed");
}

/* The cgroups module's caller: a hierarchy under an escaped mount point. */
static void test_cgroup_host_escaped(void **state)
{
	static const char text[] =
	    "31 23 0:28 / /run/my\\040cg rw - tmpfs tmpfs rw\n"
	    "32 31 0:29 / /run/my\\040cg/memory rw shared:4 - cgroup cgroup rw,memory\n"
	    "33 31 0:30 / /run/my\\040cg/unified rw - cgroup2 cgroup2 rw\n"
	    "34 31 0:29 / /run/my\\040cg/memory2 rw - cgroup cgroup rw,memory\n";
	struct vs_cg_host *h = NULL;
	struct vs_error err = {0};

	assert_int_equal(vs_cg_host_parse("/run/my cg", text, &h, &err), 0);
	assert_int_equal(vs_cg_host_mode(h), VS_CG_HYBRID);
	/* memory2 is memory bind-mounted again (same 0:29): counted once. */
	assert_string_equal(vs_cg_host_describe(h), "hybrid: memory (v1) + unified");
	vs_cg_host_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_text),
	    cmocka_unit_test(test_read_file),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_cgroup_host_escaped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
