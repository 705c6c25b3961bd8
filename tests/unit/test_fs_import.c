/* Template import from crafted archives: what must be extracted faithfully
 * and what must be refused without leaving anything behind. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "fs-cow/fs-private.h"
#include "fs-cow/vs_fs.h"
#include "tests/unit/test_fs_helpers.h"

struct fx {
	char *root;
	char tar[4200];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->root = make_tmpdir()) == NULL)
		return -1;
	snprintf(f->tar, sizeof(f->tar), "%s/in.tar", f->root);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	rm_rf(f->root);
	free(f->root);
	free(f);
	return 0;
}

/* The members every acceptable tree needs: an init. */
#define INIT_MEMBERS                                                                               \
	{.path = "bin/busybox", .perm = 0755, .data = "not really busybox"},                       \
	{                                                                                          \
		.path = "sbin/init", .type = AE_IFLNK, .link = "/bin/busybox"                      \
	}

static int import(struct fx *f, const char *name, struct vs_error *err)
{
	return vs_fs_template_import(f->root, name, f->tar, NULL, NULL, err);
}

/* Nothing at all may remain of a refused import: no template, no staging. */
static void assert_nothing_left(struct fx *f)
{
	assert_int_equal(count_entries(pathf("%s/templates", f->root)), 0);
	/* Only the archive and the templates directory in the root. */
	assert_int_equal(count_entries(f->root), 2);
}

static void test_normalise(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"a/b", "a/b"},	    {"./a//b/./c/", "a/b/c"}, {".", ""},    {"./", ""},
	    {"..a/b..", "..a/b.."}, {"/etc/x", NULL},	      {"..", NULL}, {"a/../b", NULL},
	    {"./../x", NULL},	    {"a/b/..", NULL},
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		char *got = vs_fs_normalise_path(cases[k].in);
		if (cases[k].out == NULL) {
			assert_null(got);
		} else {
			assert_non_null(got);
			assert_string_equal(got, cases[k].out);
		}
		free(got);
	}
}

static void progress_count(void *ud, const char *line)
{
	(*(int *)ud)++;
	(void)line;
}

static void test_good_tree(void **state)
{
	struct fx *f = *state;
	bool root = geteuid() == 0;
	const struct member m[] = {
	    {.path = "./", .type = AE_IFDIR, .perm = 0755},
	    INIT_MEMBERS,
	    {.path = "etc", .type = AE_IFDIR, .perm = 0751, .mtime = 1000000},
	    {.path = "etc/passwd", .data = "root:x:0:0::/root:/bin/sh\n", .mtime = 12345},
	    {.path = "etc/link", .type = AE_IFLNK, .link = "../../../../etc/shadow"},
	    {.path = "etc/tagged", .data = "t", .xattr = "user.vsd=hello"},
	    {.path = "usr/bin/su", .perm = 04755, .data = "su"},
	    {.path = "usr/bin/sudo", .hardlink = "usr/bin/su"},
	    {.path = "home/user/f", .data = "mine", .uid = 1000, .gid = 1001},
	    {.path = "dev/null", .type = AE_IFCHR, .perm = 0666, .maj = 1, .min = 3},
	    {.path = "run/fifo", .type = AE_IFIFO, .perm = 0600},
	};
	struct vs_template_info info = {0};
	struct vs_error err = {0};
	char rf[4200];
	struct stat st, st2;
	char buf[64];
	ssize_t n;
	int lines = 0;

	snprintf(rf, sizeof(rf), "%s/templates/good/rootfs", f->root);
	assert_int_equal(build_tar(f->tar, ARCHIVE_FILTER_NONE, m, sizeof(m) / sizeof(m[0])), 0);
	assert_int_equal(
	    vs_fs_template_import(f->root, "good", f->tar, progress_count, &lines, &err), 0);
	assert_true(lines > 0);
	assert_int_equal(vs_fs_template_get(f->root, "good", &info, &err), 0);
	assert_string_equal(info.name, "good");
	assert_string_equal(info.source, "import:in.tar");
	assert_string_equal(info.init_system, "busybox");
	assert_int_equal(info.stop_signal, SIGUSR2);
	assert_string_equal(info.init[0], "/sbin/init");
	assert_null(info.init[1]);
	assert_true(info.size_bytes > 0);
	vs_template_info_free(&info);

	assert_int_equal(lstat(pathf("%s/usr/bin/su", rf), &st), 0);
	assert_int_equal(st.st_mode & 07777, 04755);
	assert_int_equal(lstat(pathf("%s/usr/bin/sudo", rf), &st2), 0);
	assert_int_equal(st.st_ino, st2.st_ino);
	assert_int_equal(lstat(pathf("%s/etc/passwd", rf), &st), 0);
	assert_int_equal(st.st_mtime, 12345);
	assert_int_equal(st.st_size, strlen("root:x:0:0::/root:/bin/sh\n"));
	assert_int_equal(lstat(pathf("%s/etc", rf), &st), 0);
	assert_int_equal(st.st_mtime, 1000000);
	assert_int_equal(st.st_mode & 07777, 0751);
	n = readlink(pathf("%s/etc/link", rf), buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "../../../../etc/shadow");
	n = lgetxattr(pathf("%s/etc/tagged", rf), "user.vsd", buf, sizeof(buf));
	if (n >= 0) /* tmpfs before 6.6 has no user xattrs; ext4 does */
		assert_memory_equal(buf, "hello", 5);
	assert_int_equal(lstat(pathf("%s/run/fifo", rf), &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	/* /proc and /sys did not come with the archive: made as directories. */
	assert_int_equal(lstat(pathf("%s/proc", rf), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0555);
	assert_int_equal(lstat(pathf("%s/sys", rf), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	if (root) {
		assert_int_equal(lstat(pathf("%s/home/user/f", rf), &st), 0);
		assert_int_equal(st.st_uid, 1000);
		assert_int_equal(st.st_gid, 1001);
		assert_int_equal(lstat(pathf("%s/dev/null", rf), &st), 0);
		assert_true(S_ISCHR(st.st_mode));
		assert_int_equal(major(st.st_rdev), 1);
		assert_int_equal(minor(st.st_rdev), 3);
	}
	/* The templates directory is private; no staging is left. */
	assert_int_equal(lstat(pathf("%s/templates", f->root), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(count_entries(pathf("%s/templates", f->root)), 1);
}

/* A top-level rootfs/ is the root; gzip; a merged-/usr systemd layout. */
static void test_rootfs_prefix_systemd_gzip(void **state)
{
	struct fx *f = *state;
	const struct member m[] = {
	    {.path = "rootfs/", .type = AE_IFDIR},
	    {.path = "rootfs/usr/lib/systemd/systemd", .perm = 0755, .data = "elf"},
	    {.path = "rootfs/lib", .type = AE_IFLNK, .link = "usr/lib"},
	    {.path = "rootfs/sbin", .type = AE_IFLNK, .link = "usr/sbin"},
	    {.path = "rootfs/usr/sbin/init", .type = AE_IFLNK, .link = "../lib/systemd/systemd"},
	};
	struct vs_template_info info = {0};
	struct vs_error err = {0};

	assert_int_equal(build_tar(f->tar, ARCHIVE_FILTER_GZIP, m, sizeof(m) / sizeof(m[0])), 0);
	assert_int_equal(import(f, "deb", &err), 0);
	assert_int_equal(vs_fs_template_get(f->root, "deb", &info, &err), 0);
	assert_string_equal(info.init_system, "systemd");
	assert_int_equal(info.stop_signal, SIGRTMIN + 3);
	vs_template_info_free(&info);
	assert_true(exists(pathf("%s/templates/deb/rootfs/usr/lib/systemd/systemd", f->root)));
	assert_false(exists(pathf("%s/templates/deb/rootfs/rootfs", f->root)));
}

static void test_sysvinit_and_filters(void **state)
{
	struct fx *f = *state;
	const struct member m[] = {
	    {.path = "sbin/init", .perm = 0755, .data = "elf"},
	    {.path = "etc/inittab", .data = "id:2:initdefault:\n"},
	};
	const int filters[] = {ARCHIVE_FILTER_XZ, ARCHIVE_FILTER_ZSTD, ARCHIVE_FILTER_BZIP2};
	struct vs_template_info info = {0};
	struct vs_error err = {0};

	for (size_t k = 0; k < sizeof(filters) / sizeof(filters[0]); k++) {
		const char *name = pathf("t%zu", k);
		assert_int_equal(build_tar(f->tar, filters[k], m, 2), 0);
		assert_int_equal(import(f, name, &err), 0);
		assert_int_equal(vs_fs_template_get(f->root, name, &info, &err), 0);
		assert_string_equal(info.init_system, "sysvinit");
		assert_int_equal(info.stop_signal, SIGPWR);
		vs_template_info_free(&info);
	}
}

/* Later members replace earlier non-directories, as with tar. */
static void test_duplicate_member(void **state)
{
	struct fx *f = *state;
	const struct member m[] = {
	    INIT_MEMBERS,
	    {.path = "etc/f", .data = "one"},
	    {.path = "etc/f", .data = "second"},
	};
	struct vs_error err = {0};
	struct stat st;

	assert_int_equal(build_tar(f->tar, ARCHIVE_FILTER_NONE, m, 4), 0);
	assert_int_equal(import(f, "dup", &err), 0);
	assert_int_equal(stat(pathf("%s/templates/dup/rootfs/etc/f", f->root), &st), 0);
	assert_int_equal(st.st_size, 6);
}

struct bad_case {
	const char *what;
	struct member m[4];
	size_t n;
	const char *expect; /* substring of the error message */
};

static const struct bad_case bad_cases[] = {
    {"dotdot", {{.path = "../x", .data = "x"}}, 1, "entry '../x'"},
    {"absolute", {{.path = "/etc/x", .data = "x"}}, 1, "entry '/etc/x'"},
    {"inner dotdot", {{.path = "a/../../x", .data = "x"}}, 1, "entry 'a/../../x'"},
    {"hardlink outside",
     {{.path = "x", .hardlink = "../../etc/passwd"}},
     1,
     "entry 'x': hard link target"},
    {"hardlink missing", {{.path = "x", .hardlink = "nope"}}, 1, "entry 'x'"},
    {"hardlink to symlink",
     {{.path = "l", .type = AE_IFLNK, .link = "/etc/passwd"}, {.path = "x", .hardlink = "l"}},
     2,
     "entry 'x'"},
    {"through symlink",
     {{.path = "d", .type = AE_IFLNK, .link = "/etc"}, {.path = "d/passwd", .data = "pwned"}},
     2,
     "entry 'd/passwd': 'd' is a symlink"},
    {"deep through symlink",
     {{.path = "a/b", .type = AE_IFLNK, .link = "../../../tmp"},
      {.path = "a/b/c/x", .data = "pwned"}},
     2,
     "entry 'a/b/c/x': 'a/b' is a symlink"},
    {"block device",
     {{.path = "dev/sda", .type = AE_IFBLK, .maj = 8, .min = 0}},
     1,
     "entry 'dev/sda': block device 8:0"},
    {"char device 8:0",
     {{.path = "dev/x", .type = AE_IFCHR, .maj = 8, .min = 0}},
     1,
     "entry 'dev/x': character device 8:0"},
    {"kmem", {{.path = "kmem", .type = AE_IFCHR, .maj = 1, .min = 2}}, 1, "entry 'kmem'"},
    {"proc symlink", {{.path = "proc", .type = AE_IFLNK, .link = "/"}}, 1, "entry 'proc'"},
    {"dev file", {{.path = "./dev", .data = "x"}}, 1, "entry './dev'"},
    {"sys hardlink", {{.path = "sys", .hardlink = "bin/busybox"}}, 1, "entry 'sys'"},
    {"file over dir",
     {{.path = "etc", .type = AE_IFDIR}, {.path = "etc", .data = "x"}},
     2,
     "entry 'etc': would replace a directory"},
    {"uid out of range", {{.path = "f", .data = "x", .uid = 70000}}, 1, "entry 'f': owner"},
    {"outside rootfs/",
     {{.path = "rootfs/", .type = AE_IFDIR}, {.path = "etc/x", .data = "x"}},
     2,
     "entry 'etc/x'"},
};

static void test_refused(void **state)
{
	struct fx *f = *state;

	for (size_t k = 0; k < sizeof(bad_cases) / sizeof(bad_cases[0]); k++) {
		const struct bad_case *c = &bad_cases[k];
		struct member m[8] = {INIT_MEMBERS};
		struct vs_error err = {0};
		size_t n = 2;

		/* The prefix case needs its rootfs/ member first. */
		if (strcmp(c->what, "outside rootfs/") == 0)
			n = 0;
		memcpy(m + n, c->m, c->n * sizeof(c->m[0]));
		n += c->n;
		assert_int_equal(build_tar(f->tar, ARCHIVE_FILTER_NONE, m, n), 0);
		assert_int_equal(import(f, "bad", &err), -1);
		print_message("%-20s -> %s\n", c->what, err.msg);
		assert_int_equal(err.kind, VS_EK_INVALID);
		if (strstr(err.msg, c->expect) == NULL)
			fail_msg("case %s: message '%s' lacks '%s'", c->what, err.msg, c->expect);
		assert_non_null(strstr(err.msg, "import template 'bad'"));
		assert_nothing_left(f);
	}
	/* Nothing escaped next to the staging directory either. */
	assert_false(exists(pathf("%s/x", f->root)));
	assert_false(exists(pathf("%s/templates/x", f->root)));
}

static void test_no_init(void **state)
{
	struct fx *f = *state;
	const struct member m[] = {
	    {.path = "etc/passwd", .data = "root:x:0:0::/root:/bin/sh\n"},
	    {.path = "sbin/init", .type = AE_IFLNK, .link = "/bin/missing"},
	};
	struct vs_error err = {0};

	assert_int_equal(build_tar(f->tar, ARCHIVE_FILTER_NONE, m, 2), 0);
	assert_int_equal(import(f, "noinit", &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_non_null(strstr(err.msg, "/sbin/init"));
	assert_nothing_left(f);
}

/* A symlink loop at /sbin/init is refused, not followed forever. */
static void test_init_loop(void **state)
{
	struct fx *f = *state;
	const struct member m[] = {
	    {.path = "sbin/init", .type = AE_IFLNK, .link = "/sbin/init2"},
	    {.path = "sbin/init2", .type = AE_IFLNK, .link = "init"},
	};
	struct vs_error err = {0};

	assert_int_equal(build_tar(f->tar, ARCHIVE_FILTER_NONE, m, 2), 0);
	assert_int_equal(import(f, "loop", &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_non_null(strstr(err.msg, "/sbin/init"));
	assert_nothing_left(f);
}

static void test_not_an_archive(void **state)
{
	struct fx *f = *state;
	struct vs_error err = {0};

	assert_int_equal(write_text(f->tar, "this is no tar archive, not even close\n"), 0);
	assert_int_equal(import(f, "junk", &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_false(exists(pathf("%s/templates/junk", f->root)));
	assert_true(count_entries(pathf("%s/templates", f->root)) <= 0);

	assert_int_equal(build_tar(f->tar, ARCHIVE_FILTER_NONE, NULL, 0), 0);
	assert_int_equal(import(f, "empty", &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_true(count_entries(pathf("%s/templates", f->root)) <= 0);

	assert_int_equal(
	    vs_fs_template_import(f->root, "x", "/nonexistent/a.tar", NULL, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent/a.tar"));
}

static void test_name_and_conflict(void **state)
{
	struct fx *f = *state;
	const struct member m[] = {INIT_MEMBERS};
	struct vs_error err = {0};

	assert_int_equal(build_tar(f->tar, ARCHIVE_FILTER_NONE, m, 2), 0);
	assert_int_equal(import(f, "../evil", &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_int_equal(import(f, "Upper", &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	/* Bad names create nothing, not even the templates directory. */
	assert_false(exists(pathf("%s/templates", f->root)));
	assert_int_equal(import(f, "one", &err), 0);
	assert_int_equal(import(f, "one", &err), -1);
	assert_int_equal(err.kind, VS_EK_CONFLICT);
	assert_true(exists(pathf("%s/templates/one/rootfs/sbin/init", f->root)));
	assert_int_equal(count_entries(pathf("%s/templates", f->root)), 1);
}

static void test_progress_every_n(void **state)
{
	struct fx *f = *state;
	struct member *m = calloc(2600, sizeof(*m));
	struct vs_error err = {0};
	int lines = 0;

	assert_non_null(m);
	m[0] = (struct member){.path = "bin/busybox", .data = "x"};
	m[1] = (struct member){.path = "sbin/init", .type = AE_IFLNK, .link = "/bin/busybox"};
	for (int k = 2; k < 2600; k++)
		m[k] = (struct member){.path = strdup(pathf("many/f%d", k)), .data = "x"};
	assert_int_equal(build_tar(f->tar, ARCHIVE_FILTER_NONE, m, 2600), 0);
	assert_int_equal(
	    vs_fs_template_import(f->root, "many", f->tar, progress_count, &lines, &err), 0);
	/* 1000, 2000, the final count and "template ready". */
	assert_int_equal(lines, 4);
	assert_int_equal(count_entries(pathf("%s/templates/many/rootfs/many", f->root)), 2598);
	for (int k = 2; k < 2600; k++)
		free((char *)m[k].path);
	free(m);
}

/* The import caps: a zstd archive of a few KB whose members unpack past
 * a low size cap, or are more than a low member cap, is refused naming the
 * cap, and nothing is left; the same archive passes under the defaults. */
static void test_import_caps(void **state)
{
	struct fx *f = *state;
	char *big = malloc(200001);
	struct vs_error err = {0};
	struct vs_fs_import_caps caps = {.max_bytes = 100000, .max_files = 0};

	assert_non_null(big);
	memset(big, 'a', 200000);
	big[200000] = '\0';
	const struct member m[] = {
	    INIT_MEMBERS,
	    {.path = "big", .data = big},
	};
	assert_int_equal(build_tar(f->tar, ARCHIVE_FILTER_ZSTD, m, 3), 0);
	vs_fs_import_caps_set(&caps);
	assert_int_equal(import(f, "capped", &err), -1);
	assert_int_equal(err.kind, VS_EK_TOO_LARGE);
	assert_non_null(strstr(err.msg, "more than 100000 bytes (vsd --import-max-size)"));
	assert_nothing_left(f);
	caps = (struct vs_fs_import_caps){.max_bytes = 0, .max_files = 2};
	vs_fs_import_caps_set(&caps);
	assert_int_equal(import(f, "capped", &err), -1);
	assert_non_null(strstr(err.msg, "more than 2 members (vsd --import-max-files)"));
	assert_nothing_left(f);
	caps = (struct vs_fs_import_caps){0};
	vs_fs_import_caps_set(&caps);
	assert_int_equal(vs_fs_import_caps_get().max_bytes, VS_FS_IMPORT_MAX_BYTES_DEFAULT);
	assert_int_equal(import(f, "capped", &err), 0);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_normalise),
	    cmocka_unit_test_setup_teardown(test_good_tree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rootfs_prefix_systemd_gzip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sysvinit_and_filters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_duplicate_member, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_init, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_init_loop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_an_archive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_name_and_conflict, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_progress_every_n, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_import_caps, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
