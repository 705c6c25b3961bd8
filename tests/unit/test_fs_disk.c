/* Disk quotas: the pure parts (size and inode arithmetic, the mkfs command
 * line, messages, the layer's place) of fs-cow/disk.c and disk-resize.c.
 * Mounting and resizing real images is disk.bats' job (root, loop). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs-cow/fs-private.h"
#include "fs-cow/vs_fs.h"
#include "lib/vs_util.h"
#include "tests/unit/test_fs_helpers.h"

#define M (INT64_C(1) << 20)

static void test_round(void **state)
{
	assert_int_equal(vs_fs_disk_round(0), 0);
	assert_int_equal(vs_fs_disk_round(1), 4096);
	assert_int_equal(vs_fs_disk_round(4096), 4096);
	assert_int_equal(vs_fs_disk_round(64 * M + 1), 64 * M + 4096);
}

static void test_journal(void **state)
{
	assert_int_equal(vs_fs_disk_journal_mb(16 * M), 4);
	assert_int_equal(vs_fs_disk_journal_mb(1024 * M), 4);
	assert_int_equal(vs_fs_disk_journal_mb(4096 * M), 16);
	assert_int_equal(vs_fs_disk_journal_mb(INT64_C(1) << 40), 64);
}

static void test_check(void **state)
{
	struct vs_error err = {0};

	assert_int_equal(vs_fs_disk_check(64 * M, 0, &err), 0);
	assert_int_equal(vs_fs_disk_check(64 * M, 2000, &err), 0);
	assert_int_equal(vs_fs_disk_check(8 * M, 0, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_non_null(strstr(err.msg, "disk: 8M is too small (at least 16M)"));
	/* One inode per KiB at most. */
	assert_int_equal(vs_fs_disk_check(16 * M, 16384, &err), 0);
	assert_int_equal(vs_fs_disk_check(16 * M, 16385, &err), -1);
	assert_non_null(strstr(err.msg, "inodes: 16385 is out of range"));
	assert_int_equal(vs_fs_disk_check(64 * M, -1, &err), -1);
}

static void test_size_approx(void **state)
{
	char b[32];
	const struct {
		int64_t v;
		const char *s;
	} cases[] = {
	    {0, "0"},
	    {1000, "1000"},
	    {1024, "1K"},
	    {16 * M, "16M"},
	    {20 * M + 30000, "20M"},
	    {INT64_C(1395864371), "1.3G"},
	    {1024 * M, "1G"},
	    {INT64_C(1536) * M, "1.5G"},
	    {INT64_C(1023) * M + 100 * 1024, "1023M"},
	};

	for (size_t k = 0; k < VS_ARRAY_SIZE(cases); k++) {
		vs_fs_size_approx(cases[k].v, b, sizeof(b));
		assert_string_equal(b, cases[k].s);
	}
}

static char *joined(char **v)
{
	size_t n = 1;
	char *s;

	for (size_t k = 0; v[k] != NULL; k++)
		n += strlen(v[k]) + 1;
	s = xcalloc(1, n);
	for (size_t k = 0; v[k] != NULL; k++) {
		strcat(s, v[k]);
		if (v[k + 1] != NULL)
			strcat(s, " ");
	}
	return s;
}

static void test_mkfs_argv(void **state)
{
	cleanup_strv char **a = vs_fs_mkfs_argv("/r/containers/.x.creating/disk.img", 64 * M, 0);
	cleanup_strv char **b = vs_fs_mkfs_argv("/img", 4096 * M, 2000);
	cleanup_free char *sa = joined(a);
	cleanup_free char *sb = joined(b);

	assert_string_equal(sa, "/usr/sbin/mkfs.ext4 -q -F -b 4096 -m 0 -i 16384 -J size=4 -E "
				"lazy_itable_init=1,lazy_journal_init=1,nodiscard,root_owner=0:0 "
				"/r/containers/.x.creating/disk.img");
	assert_non_null(strstr(sb, " -N 2000 -J size=16 "));
	assert_null(strstr(sb, " -i "));
}

static void test_layer_prefix(void **state)
{
	char *dir = make_tmpdir();
	cleanup_free char *img = NULL;
	int fd;

	if (dir == NULL) {
		fail();
		return;
	}
	img = xasprintf("%s/disk.img", dir);
	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int64_t u, t, iu, it;
	struct vs_error err = {0};

	assert_true(fd >= 0);
	assert_string_equal(vs_fs_layer_prefix(fd), "");
	assert_false(vs_fs_disk_present(dir));
	/* No disk: usage says so (1), mount has nothing to do (1). */
	assert_int_equal(vs_fs_disk_usage(dir, &u, &t, &iu, &it, &err), 1);
	assert_int_equal(u + t + iu + it, 0);
	assert_int_equal(vs_fs_disk_mount(dir, &err), 1);
	assert_int_equal(vs_fs_disk_umount(dir, &err), 0);
	close(open(img, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	assert_string_equal(vs_fs_layer_prefix(fd), "disk/");
	assert_true(vs_fs_disk_present(dir));
	/* An image that is not mounted is not silently skipped. */
	assert_int_equal(vs_fs_disk_usage(dir, &u, &t, &iu, &it, &err), -1);
	assert_int_equal(err.kind, VS_EK_CONFLICT);
	unlink(img);
	close(fd);
	rmdir(dir);
	free(dir);
}

static void test_resize_refusals(void **state)
{
	char *dir = make_tmpdir();
	struct vs_limits none = {0}, some = {.disk = 64 * M}, other = {.disk = 64 * M, .inodes = 5};
	struct vs_error err = {0};
	cleanup_free char *img = NULL;

	if (dir == NULL) {
		fail();
		return;
	}
	img = xasprintf("%s/disk.img", dir);
	assert_int_equal(vs_fs_disk_resize(dir, &none, &none, &err), 0);
	assert_int_equal(vs_fs_disk_resize(dir, &none, &some, &err), -1);
	assert_int_equal(err.kind, VS_EK_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "adding one later is not supported"));
	assert_int_equal(vs_fs_disk_resize(dir, &some, &none, &err), -1);
	assert_non_null(strstr(err.msg, "removing one later"));
	close(open(img, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	assert_int_equal(vs_fs_disk_resize(dir, &some, &other, &err), -1);
	assert_non_null(strstr(err.msg, "inodes: cannot be changed on an existing disk (ext4 "
					"fixes the inode count at creation)"));
	unlink(img);
	rmdir(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round),	    cmocka_unit_test(test_journal),
	    cmocka_unit_test(test_check),	    cmocka_unit_test(test_size_approx),
	    cmocka_unit_test(test_mkfs_argv),	    cmocka_unit_test(test_layer_prefix),
	    cmocka_unit_test(test_resize_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
