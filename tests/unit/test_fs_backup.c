/* Unit tests for the pure parts of backups and a write/extract round
 * trip in a temporary directory (ids shifted, hard links, whiteouts when
 * run as root). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs-cow/fs-private.h"
#include "fs-cow/vs_fs.h"

static void test_all_zero(void **state)
{
	char buf[64] = {0};

	(void)state;
	assert_true(vs_fs_all_zero(buf, sizeof(buf)));
	assert_true(vs_fs_all_zero(buf, 0));
	buf[63] = 1;
	assert_false(vs_fs_all_zero(buf, sizeof(buf)));
}

static void test_xattr_shift_acl(void **state)
{
	/* version 2; USER_OBJ; USER 1000; GROUP 1000; OTHER */
	uint32_t acl[] = {2,	      0x00070001, 0xffffffff, 0x00060002, 1000,
			  0x00050008, 1000,	  0x00040020, 0xffffffff};
	(void)state;
	assert_int_equal(vs_fs_xattr_shift("system.posix_acl_access", acl, sizeof(acl), 100000), 0);
	assert_int_equal(acl[4], 101000);
	assert_int_equal(acl[6], 101000);
	assert_int_equal(acl[2], 0xffffffff); /* USER_OBJ untouched */
	assert_int_equal(vs_fs_xattr_shift("system.posix_acl_access", acl, sizeof(acl), -200000),
			 -1);
	assert_int_equal(vs_fs_xattr_shift("system.posix_acl_access", acl, 7, 1), -1);
	assert_int_equal(vs_fs_xattr_shift("user.x", acl, 3, 1), 0);
}

static void test_xattr_shift_cap(void **state)
{
	uint32_t v3[6] = {0x03000000, 0, 0, 0, 0, 100000};
	uint32_t v2[5] = {0x02000000, 0, 0, 0, 0};

	(void)state;
	assert_int_equal(vs_fs_xattr_shift("security.capability", v3, sizeof(v3), -100000), 0);
	assert_int_equal(v3[5], 0);
	assert_int_equal(vs_fs_xattr_shift("security.capability", v2, sizeof(v2), 5), 0);
	assert_int_equal(vs_fs_xattr_shift("security.capability", v3, 20, 5), -1);
}

static void test_kept(void **state)
{
	(void)state;
	assert_true(vs_fs_layer_xattr_kept("trusted.overlay.opaque"));
	assert_true(vs_fs_layer_xattr_kept("system.posix_acl_default"));
	assert_false(vs_fs_layer_xattr_kept("trusted.overlay.origin"));
	assert_false(vs_fs_layer_xattr_kept("security.selinux"));
}

static void test_manifest(void **state)
{
	struct vs_fs_backup_info i = {0};
	struct vs_error err = {0};
	char ok[512];

	(void)state;
	snprintf(ok, sizeof(ok),
		 "{\"format\":\"vsd-backup\",\"version\":1,\"name\":\"a\",\"template\":"
		 "{\"name\":\"busybox\",\"digest\":\"sha256:%064d\",\"included\":false}}",
		 0);
	assert_int_equal(vs_fs_backup_parse_manifest(ok, &i, &err), 0);
	assert_string_equal(i.template_name, "busybox");
	assert_false(i.with_template);
	assert_int_equal(vs_fs_backup_parse_manifest("{\"format\":\"x\"}", &i, &err), -1);
	assert_int_equal(
	    vs_fs_backup_parse_manifest("{\"format\":\"vsd-backup\",\"version\":2}", &i, &err), -1);
	assert_non_null(strstr(err.msg, "version 2"));
	assert_int_equal(vs_fs_backup_parse_manifest(
			     "{\"format\":\"vsd-backup\",\"version\":1,\"name\":\"../x\","
			     "\"template\":{\"name\":\"b\",\"digest\":\"sha256:00\","
			     "\"included\":false}}",
			     &i, &err),
			 -1);
}

/* write a small layer, export it relative to base 100000, extract shifted
 * to 200000, compare. */
static void test_round_trip(void **state)
{
	char dir[] = "/tmp/vsd-unit-backup-XXXXXX";
	struct vs_fs_backup_info info = {.name = "a", .template_name = "t", .config_json = "{}"};
	struct vs_error err = {0};
	int dfd, src, dst, out;
	struct stat st;
	bool root = geteuid() == 0;

	(void)state;
	memset(info.template_digest, 0, sizeof(info.template_digest));
	snprintf(info.template_digest, sizeof(info.template_digest), "sha256:%064d", 0);
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_int_equal(mkdirat(dfd, "src", 0755), 0);
	assert_int_equal(mkdirat(dfd, "dst", 0755), 0);
	src = openat(dfd, "src", O_RDONLY | O_DIRECTORY);
	dst = openat(dfd, "dst", O_RDONLY | O_DIRECTORY);
	assert_int_equal(mkdirat(src, "d", 0700), 0);
	out = openat(src, "d/f", O_WRONLY | O_CREAT, 0644);
	assert_int_equal(write(out, "hello", 5), 5);
	assert_int_equal(ftruncate(out, 1 << 20), 0); /* a hole after the data */
	close(out);
	assert_int_equal(linkat(src, "d/f", src, "d/g", 0), 0);
	assert_int_equal(symlinkat("/etc/passwd", src, "l"), 0);
	if (root) {
		assert_int_equal(fchownat(src, "d/f", 101000, 101000, 0), 0);
		assert_int_equal(mknodat(src, "wh", S_IFCHR | 0, makedev(0, 0)), 0);
	}
	out = openat(dfd, "a.tar.zst", O_RDWR | O_CREAT, 0600);
	assert_int_equal(vs_fs_backup_write(out, &info, src, root ? 100000 : 0, -1, &err), 0);
	struct vs_fs_backup_info back;
	assert_int_equal(vs_fs_backup_read_info(out, &back, &err), 0);
	assert_string_equal(back.config_json, "{}");
	vs_fs_backup_info_free(&back);
	assert_int_equal(vs_fs_backup_extract(out, "layer", dst, root ? 200000 : 0, NULL, &err), 0);
	assert_int_equal(fstatat(dst, "d/f", &st, 0), 0);
	assert_int_equal(st.st_size, 1 << 20);
	assert_int_equal(st.st_nlink, 2);
	assert_true(st.st_blocks * 512 < (1 << 20)); /* still sparse */
	if (root) {
		assert_int_equal(st.st_uid, 201000);
		assert_int_equal(fstatat(dst, "wh", &st, AT_SYMLINK_NOFOLLOW), 0);
		assert_true(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
	}
	assert_int_equal(fstatat(dst, "l", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISLNK(st.st_mode));
	/* a cap of 1000 bytes refuses the 1 MiB file */
	struct vs_fs_import_caps caps = {.max_bytes = 1000};
	assert_int_equal(mkdirat(dfd, "dst2", 0755), 0);
	int dst2 = openat(dfd, "dst2", O_RDONLY | O_DIRECTORY);
	assert_int_equal(vs_fs_backup_extract(out, "layer", dst2, 0, &caps, &err), -1);
	assert_non_null(strstr(err.msg, "import-max-size"));
	close(dst2);
	close(out);
	close(src);
	close(dst);
	assert_int_equal(vs_fs_remove_tree(AT_FDCWD, dir, &err), 0);
	close(dfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_all_zero),	    cmocka_unit_test(test_xattr_shift_acl),
	    cmocka_unit_test(test_xattr_shift_cap), cmocka_unit_test(test_kept),
	    cmocka_unit_test(test_manifest),	    cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
