/* cgroups: host layout detection from mountinfo text (pure, no root). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cgroups/vs_cgroups.h"
#include "lib/vs_util.h"

/* This development machine: v1 controllers each on their own, systemd's
 * named hierarchy, cgroup2 at /sys/fs/cgroup/unified. */
static const char hybrid[] =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

/* A systemd host booted with the unified hierarchy (optional fields too). */
static const char unified[] =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
    "26 22 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "27 26 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:8 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

/* Legacy (Debian 9 / CentOS 7 style): co-mounted cpu,cpuacct and
 * net_cls,net_prio, systemd's hierarchy with extra options, no cgroup2. */
static const char legacy[] =
    "24 18 0:20 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755\n"
    "25 24 0:21 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:5 - cgroup "
    "cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd\n"
    "28 24 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup "
    "rw,cpu,cpuacct\n"
    "29 24 0:25 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid shared:10 - cgroup cgroup "
    "rw,net_cls,net_prio\n"
    "30 24 0:26 / /sys/fs/cgroup/memory rw,nosuid shared:11 - cgroup cgroup rw,memory\n"
    "31 24 0:27 / /sys/fs/cgroup/cpuset rw,nosuid shared:12 - cgroup cgroup "
    "rw,cpuset,clone_children\n";

static struct vs_cg_host *parse_ok(const char *mnt, const char *text)
{
	struct vs_cg_host *h = NULL;
	struct vs_error err = {0};

	if (vs_cg_host_parse(mnt, text, &h, &err) < 0)
		fail_msg("parse: %s", err.msg);
	assert_non_null(h);
	return h;
}

static void assert_strv(const char *const *v, const char *const *want)
{
	size_t i;

	for (i = 0; want[i] != NULL; i++) {
		assert_non_null(v[i]);
		assert_string_equal(v[i], want[i]);
	}
	assert_null(v[i]);
}

static void test_hybrid(void **state)
{
	struct vs_cg_host *h = parse_ok("/sys/fs/cgroup", hybrid);
	struct vs_cg *cg = vs_cg_open(h, "vsd", "web1");
	static const char *const v1[] = {"cpu",	    "cpuacct", "cpuset", "memory",	 "devices",
					 "freezer", "blkio",   "pids",	 "name=systemd", NULL};

	assert_int_equal(vs_cg_host_mode(h), VS_CG_HYBRID);
	assert_string_equal(vs_cg_host_describe(h),
			    "hybrid: cpu,cpuacct,cpuset,memory,devices,"
			    "freezer,blkio,pids,name=systemd (v1) + unified");
	assert_strv(vs_cg_v1_controllers(h), v1);
	assert_int_equal(vs_cg_guest_layout(h), VS_CG_GUEST_UNIFIED);
	assert_non_null(cg);
	assert_string_equal(vs_cg_path(cg, "memory"), "/sys/fs/cgroup/memory/vsd/web1");
	assert_string_equal(vs_cg_path(cg, "cpuacct"), "/sys/fs/cgroup/cpuacct/vsd/web1");
	assert_string_equal(vs_cg_path(cg, "unified"), "/sys/fs/cgroup/unified/vsd/web1");
	assert_string_equal(vs_cg_path(cg, "systemd"), "/sys/fs/cgroup/systemd/vsd/web1");
	assert_string_equal(vs_cg_path(cg, "name=systemd"), "/sys/fs/cgroup/systemd/vsd/web1");
	assert_null(vs_cg_path(cg, "net_cls"));
	/* Not unified: CLONE_INTO_CGROUP is not used, attach is. */
	assert_int_equal(vs_cg_unified_fd(cg), -1);
	vs_cg_free(cg);
	vs_cg_host_free(h);
}

static void test_unified(void **state)
{
	struct vs_cg_host *h = parse_ok("/sys/fs/cgroup", unified);
	struct vs_cg *cg = vs_cg_open(h, "vsd-1a2b3c4d", "db");
	static const char *const none[] = {NULL};

	assert_int_equal(vs_cg_host_mode(h), VS_CG_UNIFIED);
	assert_string_equal(vs_cg_host_describe(h), "unified: (no controllers)");
	assert_strv(vs_cg_v1_controllers(h), none);
	assert_int_equal(vs_cg_guest_layout(h), VS_CG_GUEST_UNIFIED);
	assert_string_equal(vs_cg_path(cg, "unified"), "/sys/fs/cgroup/vsd-1a2b3c4d/db");
	/* parse reads no cgroup.controllers, so no controller is known. */
	assert_null(vs_cg_path(cg, "memory"));
	vs_cg_free(cg);
	vs_cg_host_free(h);
}

static void test_legacy_comounted(void **state)
{
	struct vs_cg_host *h = parse_ok("/sys/fs/cgroup", legacy);
	struct vs_cg *cg = vs_cg_open(h, "vsd", "c");
	static const char *const v1[] = {"name=systemd", "cpu,cpuacct", "net_cls,net_prio",
					 "memory",	 "cpuset",	NULL};
	const char *cpu = "/sys/fs/cgroup/cpu,cpuacct/vsd/c";

	assert_int_equal(vs_cg_host_mode(h), VS_CG_LEGACY);
	assert_string_equal(vs_cg_host_describe(h), "legacy: name=systemd,cpu,cpuacct,net_cls,"
						    "net_prio,memory,cpuset (v1)");
	/* xattr, release_agent=, clone_children are options, not controllers. */
	assert_strv(vs_cg_v1_controllers(h), v1);
	assert_int_equal(vs_cg_guest_layout(h), VS_CG_GUEST_HYBRID);
	assert_string_equal(vs_cg_path(cg, "cpu"), cpu);
	assert_string_equal(vs_cg_path(cg, "cpuacct"), cpu);
	assert_string_equal(vs_cg_path(cg, "cpu,cpuacct"), cpu);
	assert_string_equal(vs_cg_path(cg, "net_prio"), "/sys/fs/cgroup/net_cls,net_prio/vsd/c");
	assert_null(vs_cg_path(cg, "unified"));
	assert_null(vs_cg_path(cg, "pids"));
	vs_cg_free(cg);
	vs_cg_host_free(h);
}

/* Only mounts directly below the mount point count; a later mount on the
 * same point hides the earlier; a bind mount of the same hierarchy counts
 * once; escaped names are decoded; trailing slashes are ignored. */
static void test_mount_selection(void **state)
{
	static const char text[] = "50 1 0:40 / /srv/cg rw - tmpfs tmpfs rw\n"
				   "51 50 0:41 / /srv/cg/memory rw - cgroup cgroup rw,memory\n"
				   "52 50 0:42 / /srv/cg/pids rw - cgroup cgroup rw,pids\n"
				   "53 50 0:43 / /srv/cg/pids rw - tmpfs tmpfs rw\n"
				   "54 50 0:41 / /srv/cg/mem2 rw - cgroup cgroup rw,memory\n"
				   "55 50 0:44 / /srv/cg/a/b rw - cgroup cgroup rw,freezer\n"
				   "56 1 0:45 / /srv/cgx/cpu rw - cgroup cgroup rw,cpu\n"
				   "57 50 0:46 / /srv/cg/my\\040cpu rw - cgroup cgroup rw,cpu\n"
				   "58 50 0:47 / /srv/cg/other2 rw - cgroup2 cgroup2 rw\n"
				   "\n";
	struct vs_cg_host *h = parse_ok("/srv/cg//", text);
	struct vs_cg *cg = vs_cg_open(h, "p", "n");
	static const char *const v1[] = {"memory", "cpu", NULL};

	assert_int_equal(vs_cg_host_mode(h), VS_CG_LEGACY);
	assert_strv(vs_cg_v1_controllers(h), v1);
	assert_string_equal(vs_cg_path(cg, "memory"), "/srv/cg/memory/p/n");
	assert_string_equal(vs_cg_path(cg, "cpu"), "/srv/cg/my cpu/p/n");
	assert_null(vs_cg_path(cg, "pids"));
	assert_null(vs_cg_path(cg, "freezer"));
	assert_null(vs_cg_path(cg, "unified"));
	vs_cg_free(cg);
	vs_cg_host_free(h);
}

/* A tmpfs mounted over a cgroup2 mount point hides it and everything
 * mounted below before it: what is left is the hybrid layout on top. */
static void test_overmount(void **state)
{
	static const char text[] =
	    "60 1 0:50 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
	    "61 60 0:51 / /sys/fs/cgroup/zzz rw - cgroup cgroup rw,devices\n"
	    "62 1 0:52 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
	    "63 62 0:53 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
	    "64 62 0:50 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
	struct vs_cg_host *h = parse_ok("/sys/fs/cgroup", text);
	static const char *const v1[] = {"memory", NULL};

	assert_int_equal(vs_cg_host_mode(h), VS_CG_HYBRID);
	assert_strv(vs_cg_v1_controllers(h), v1);
	vs_cg_host_free(h);
}

static void test_parse_errors(void **state)
{
	struct vs_cg_host *h = NULL;
	struct vs_error err = {0};

	assert_int_equal(vs_cg_host_parse("/sys/fs/cgroup", "", &h, &err), -1);
	assert_int_equal(err.kind, VS_EK_NOT_FOUND);
	assert_non_null(strstr(err.msg, "/sys/fs/cgroup"));
	assert_null(h);

	assert_int_equal(vs_cg_host_parse("/sys/fs/cgroup", unified, &h, &err), 0);
	vs_cg_host_free(h);
	h = NULL;
	/* The same layout under another mount point is not there. */
	assert_int_equal(vs_cg_host_parse("/sys/fs/cgroup2", unified, &h, &err), -1);
	assert_int_equal(err.kind, VS_EK_NOT_FOUND);

	assert_int_equal(vs_cg_host_parse("sys/fs/cgroup", hybrid, &h, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_null(h);

	assert_int_equal(vs_cg_host_parse("/sys/fs/cgroup",
					  "31 23 0:28 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
					  "32 31 0:29 / /sys/fs/cgroup/cpu rw cgroup cgroup\n",
					  &h, &err),
			 -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_string_equal(err.msg, "mountinfo line 2: malformed");
	assert_null(h);
}

static void test_open_rejects_paths(void **state)
{
	struct vs_cg_host *h = parse_ok("/sys/fs/cgroup", hybrid);
	struct vs_cg *cg;

	assert_null(vs_cg_open(h, "vsd", "a/b"));
	assert_null(vs_cg_open(h, "vsd", ".."));
	assert_null(vs_cg_open(h, "vsd", ""));
	assert_null(vs_cg_open(h, "..", "web1"));
	assert_null(vs_cg_open(h, "vsd/x", "web1"));
	assert_null(vs_cg_open(h, "vsd", ".hidden"));
	cg = vs_cg_open(h, "vsd", "web-1");
	assert_non_null(cg);
	vs_cg_free(cg);
	vs_cg_host_free(h);
}

/* True when one line of v starts with prefix and contains part. */
static bool has_line(char **v, const char *prefix, const char *part)
{
	for (size_t i = 0; v[i] != NULL; i++)
		if (strncmp(v[i], prefix, strlen(prefix)) == 0 && strstr(v[i], part) != NULL)
			return true;
	return false;
}

static void test_unenforced(void **state)
{
	struct vs_cg_host *h = parse_ok("/sys/fs/cgroup", hybrid);
	struct vs_cg_host_facts f = {.io_throttle = true};
	struct vs_limits l = {.memory = 1 << 30,
			      .memory_min = 1 << 20,
			      .memory_swap = 1 << 20,
			      .io_weight = 500,
			      .io_write_bps = 1 << 20,
			      .io_read_bps = 1 << 20};
	struct vs_limits none = {.memory = 1 << 30, .cpus_milli = 1000};
	char **v;

	vs_cg_host_set_facts(h, &f);
	v = vs_cg_unenforced(h, &l);
	assert_true(has_line(v, "memory_min: ", "cgroup v1"));
	assert_true(has_line(v, "memory_swap: ", "no swap accounting"));
	assert_true(has_line(v, "io_weight: ", "BFQ"));
	assert_true(has_line(v, "io_write_bps: ", "buffered writes are not throttled"));
	assert_false(has_line(v, "io_read_bps", ""));
	vs_strv_free(v);
	/* With swap accounting but no swap on the host; BFQ present. */
	f.swap_accounting = true;
	f.io_weight = true;
	vs_cg_host_set_facts(h, &f);
	v = vs_cg_unenforced(h, &l);
	assert_true(has_line(v, "memory_swap: ", "no swap"));
	assert_false(has_line(v, "io_weight", ""));
	vs_strv_free(v);
	/* No throttling at all: every io limit named. */
	f.io_throttle = false;
	vs_cg_host_set_facts(h, &f);
	v = vs_cg_unenforced(h, &l);
	assert_true(has_line(v, "io_read_bps: ", "no I/O throttling"));
	assert_true(has_line(v, "io_write_bps: ", "no I/O throttling"));
	vs_strv_free(v);
	/* Plain limits: nothing to report. */
	v = vs_cg_unenforced(h, &none);
	assert_null(v[0]);
	vs_strv_free(v);
	vs_cg_host_free(h);
	/* Pure v2 without io.weight (a parsed host lists no controllers, so
	 * the lines read as for a host without them). */
	h = parse_ok("/sys/fs/cgroup", unified);
	f = (struct vs_cg_host_facts){
	    .io_throttle = true, .swap_accounting = true, .host_swap = true};
	vs_cg_host_set_facts(h, &f);
	v = vs_cg_unenforced(h, &(struct vs_limits){.io_weight = 10, .memory_min = 1});
	assert_true(has_line(v, "io_weight: ", "io.weight"));
	assert_false(has_line(v, "memory_min", "cgroup v1"));
	vs_strv_free(v);
	vs_cg_host_free(h);
}

/* The kernel's names for the wait of a vfork parent, and others not. */
static void test_wchan_vfork(void **state)
{
	(void)state;
	assert_true(vs_cg_wchan_is_vfork("kernel_clone"));
	assert_true(vs_cg_wchan_is_vfork("_do_fork"));
	assert_true(vs_cg_wchan_is_vfork("wait_for_vfork_done"));
	assert_false(vs_cg_wchan_is_vfork("do_wait"));
	assert_false(vs_cg_wchan_is_vfork("__refrigerator"));
	assert_false(vs_cg_wchan_is_vfork("kernel_clone2"));
	assert_false(vs_cg_wchan_is_vfork(""));
	assert_false(vs_cg_wchan_is_vfork("0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hybrid),
	    cmocka_unit_test(test_unified),
	    cmocka_unit_test(test_legacy_comounted),
	    cmocka_unit_test(test_mount_selection),
	    cmocka_unit_test(test_overmount),
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_open_rejects_paths),
	    cmocka_unit_test(test_unenforced),
	    cmocka_unit_test(test_wchan_vfork),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
