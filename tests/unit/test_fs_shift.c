/* Unit tests for vs_fs_layer_shift: a layer moved from one id range to
 * another, on a real tree in /tmp (ext4 here: ACLs, security and trusted
 * xattrs). The tree tests need root (chown, capabilities, whiteouts) and
 * are skipped without it. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs-cow/fs-private.h"
#include "fs-cow/vs_fs.h"
#include "lib/vs_util.h"
#include "test_fs_helpers.h"

#define FROM 100000u
#define TO   300000u
#define N    65536u

/* An access ACL: user::rw-, user:U:r--, group::r--, group:G:r--, mask::r--,
 * other::r-- (entries in the kernel's order: tag, then id). */
static size_t make_acl(uint8_t *buf, uint32_t u, uint32_t g)
{
	static const uint16_t tags[] = {1, 2, 4, 8, 0x10, 0x20};
	uint32_t ids[] = {UINT32_MAX, u, UINT32_MAX, g, UINT32_MAX, UINT32_MAX};
	uint32_t version = 2;
	size_t off = 4;

	memcpy(buf, &version, 4);
	for (size_t k = 0; k < 6; k++, off += 8) {
		uint16_t perm = k == 0 ? 6 : 4;
		memcpy(buf + off, &tags[k], 2);
		memcpy(buf + off + 2, &perm, 2);
		memcpy(buf + off + 4, &ids[k], 4);
	}
	return off;
}

static uint32_t acl_id(const uint8_t *buf, size_t k)
{
	uint32_t id;

	memcpy(&id, buf + 4 + 8 * k + 4, 4);
	return id;
}

/* A v3 capability: cap_net_bind_service permitted and effective. */
static void make_cap(uint8_t cap[24], uint32_t rootid)
{
	uint32_t words[6] = {0x03000001u, 1u << 10, 0, 0, 0, rootid};

	memcpy(cap, words, 24);
}

static void test_xattr_remap(void **state)
{
	uint8_t acl[64], cap[24];
	size_t n = make_acl(acl, FROM + 10, FROM + 11);

	(void)state;
	assert_int_equal(vs_fs_xattr_remap("system.posix_acl_access", acl, n, FROM, TO, N), 0);
	assert_int_equal(acl_id(acl, 1), TO + 10);
	assert_int_equal(acl_id(acl, 3), TO + 11);
	assert_int_equal(acl_id(acl, 0), UINT32_MAX); /* user:: has no id */
	n = make_acl(acl, FROM + 10, 1000);
	assert_int_equal(vs_fs_xattr_remap("system.posix_acl_default", acl, n, FROM, TO, N), -2);
	assert_int_equal(vs_fs_xattr_remap("system.posix_acl_access", acl, 7, FROM, TO, N), -1);
	make_cap(cap, FROM);
	assert_int_equal(vs_fs_xattr_remap("security.capability", cap, 24, FROM, TO, N), 0);
	assert_int_equal(cap[20] | cap[21] << 8 | cap[22] << 16, TO);
	make_cap(cap, 0);
	assert_int_equal(vs_fs_xattr_remap("security.capability", cap, 24, FROM, TO, N), -2);
	assert_int_equal(vs_fs_xattr_remap("trusted.overlay.opaque", cap, 1, FROM, TO, N), 0);
}

static void test_bad_range(void **state)
{
	struct vs_error err = {0};

	(void)state;
	assert_int_equal(vs_fs_layer_shift(AT_FDCWD, FROM, TO, 0, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_int_equal(vs_fs_layer_shift(AT_FDCWD, FROM, UINT32_MAX - 10, N, &err), -1);
	assert_int_equal(vs_fs_layer_shift(AT_FDCWD, UINT32_MAX - 10, TO, N, &err), -1);
}

static void own(int dfd, const char *name, uint32_t uid, uint32_t gid, mode_t mode)
{
	assert_int_equal(fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW), 0);
	if (mode != 0)
		assert_int_equal(fchmodat(dfd, name, mode, 0), 0);
}

static void put(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
}

static void xset(const char *path, const char *name, const void *v, size_t n)
{
	assert_int_equal(lsetxattr(path, name, v, n, 0), 0);
}

/* The layer: its root, a setgid directory with a default ACL and an opaque
 * mark, a file with two more links, setuid and setgid files, an ACL, a v3
 * capability, symlinks (one to a host file that must stay as it is) and a
 * whiteout owned by host root. */
static void build(const char *top, int lfd)
{
	uint8_t acl[64], cap[24];
	size_t n;

	own(lfd, ".", FROM, FROM, 0755);
	assert_int_equal(mkdirat(lfd, "d", 0755), 0);
	own(lfd, "d", FROM + 1, FROM + 2, 02775);
	n = make_acl(acl, FROM + 20, FROM + 21);
	xset(pathf("%s/d", top), "system.posix_acl_default", acl, n);
	xset(pathf("%s/d", top), "trusted.overlay.opaque", "y", 1);
	put(lfd, "d/f");
	own(lfd, "d/f", FROM + 5, FROM + 6, 0);
	assert_int_equal(linkat(lfd, "d/f", lfd, "d/g", 0), 0);
	assert_int_equal(linkat(lfd, "d/f", lfd, "h", 0), 0);
	put(lfd, "su");
	own(lfd, "su", FROM, FROM, 04755);
	put(lfd, "sg");
	own(lfd, "sg", FROM + 3, FROM + 4, 02711);
	put(lfd, "acl");
	own(lfd, "acl", FROM + 7, FROM + 7, 0);
	n = make_acl(acl, FROM + 10, FROM + 11);
	xset(pathf("%s/acl", top), "system.posix_acl_access", acl, n);
	put(lfd, "cap");
	own(lfd, "cap", FROM, FROM, 0755);
	make_cap(cap, FROM);
	xset(pathf("%s/cap", top), "security.capability", cap, sizeof(cap));
	assert_int_equal(symlinkat(pathf("%s/../host", top), lfd, "l"), 0);
	own(lfd, "l", FROM + 8, FROM + 9, 0);
	assert_int_equal(mknodat(lfd, "d/wh", S_IFCHR | 0, makedev(0, 0)), 0);
	own(lfd, "d/wh", 0, 0, 0); /* not the setgid directory's group */
}

static void expect(int lfd, const char *name, uint32_t uid, uint32_t gid, mode_t mode)
{
	struct stat st;

	assert_int_equal(fstatat(lfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(st.st_gid, gid);
	if (mode != 0)
		assert_int_equal(st.st_mode & 07777, mode);
}

static void check_shifted(const char *top, int lfd)
{
	uint8_t buf[128];
	struct stat st;
	ssize_t n;

	expect(lfd, ".", TO, TO, 0755);
	expect(lfd, "d", TO + 1, TO + 2, 02775);
	expect(lfd, "d/f", TO + 5, TO + 6, 0644);
	assert_int_equal(fstatat(lfd, "h", &st, 0), 0);
	assert_int_equal(st.st_nlink, 3);
	expect(lfd, "su", TO, TO, 04755);
	expect(lfd, "sg", TO + 3, TO + 4, 02711);
	expect(lfd, "l", TO + 8, TO + 9, 0);
	expect(lfd, "d/wh", 0, 0, 0);
	expect(AT_FDCWD, pathf("%s/../host", top), 0, 0, 0644);
	n = getxattr(pathf("%s/acl", top), "system.posix_acl_access", buf, sizeof(buf));
	assert_int_equal(n, 52);
	assert_int_equal(acl_id(buf, 1), TO + 10);
	assert_int_equal(acl_id(buf, 3), TO + 11);
	n = getxattr(pathf("%s/d", top), "system.posix_acl_default", buf, sizeof(buf));
	assert_int_equal(n, 52);
	assert_int_equal(acl_id(buf, 1), TO + 20);
	assert_int_equal(getxattr(pathf("%s/d", top), "trusted.overlay.opaque", buf, sizeof(buf)),
			 1);
	assert_int_equal(buf[0], 'y');
	n = getxattr(pathf("%s/cap", top), "security.capability", buf, sizeof(buf));
	assert_int_equal(n, 24);
	uint32_t root, perm;
	memcpy(&perm, buf + 4, 4);
	memcpy(&root, buf + 20, 4);
	assert_int_equal(perm, 1u << 10);
	assert_int_equal(root, TO);
	expect(lfd, "cap", TO, TO, 0755);
}

/* Each tree test gets a fresh directory; the teardown detaches what the
 * mount test mounted and removes the directory, also after a failed
 * assert. */
static char tmp_dir[64];

static int tree_setup(void **state)
{
	(void)state;
	strcpy(tmp_dir, "/tmp/vsd-fs-test-XXXXXX");
	return mkdtemp(tmp_dir) == NULL ? -1 : 0;
}

static int tree_teardown(void **state)
{
	(void)state;
	umount2(pathf("%s/layer/m", tmp_dir), MNT_DETACH);
	umount2(pathf("%s/layer/f", tmp_dir), MNT_DETACH);
	rm_rf(tmp_dir);
	return 0;
}

static void test_shift_tree(void **state)
{
	const char *dir = tmp_dir;
	struct vs_error err = {0};
	int lfd;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(mkdir(pathf("%s/layer", dir), 0755), 0);
	put(AT_FDCWD, pathf("%s/host", dir));
	lfd = open(pathf("%s/layer", dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(lfd >= 0);
	build(pathf("%s/layer", dir), lfd);
	assert_int_equal(vs_fs_layer_shift(lfd, FROM, TO, N, &err), 0);
	check_shifted(pathf("%s/layer", dir), lfd);
	/* and back: the ranges may be anywhere, the same code runs */
	assert_int_equal(vs_fs_layer_shift(lfd, TO, FROM, N, &err), 0);
	expect(lfd, "su", FROM, FROM, 04755);
	expect(lfd, "d/f", FROM + 5, FROM + 6, 0644);
	close(lfd);
}

/* One owner outside the range: refused, naming it, and nothing changed. */
static void test_outside_refused(void **state)
{
	const char *dir = tmp_dir;
	struct vs_error err = {0};
	uint8_t acl[64];
	int lfd;

	(void)state;
	if (geteuid() != 0)
		skip();
	lfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	own(lfd, ".", FROM, FROM, 0755);
	put(lfd, "a");
	own(lfd, "a", FROM, FROM, 04755);
	assert_int_equal(mkdirat(lfd, "sub", 0755), 0);
	own(lfd, "sub", FROM, FROM, 0);
	put(lfd, "sub/bad\n");
	own(lfd, "sub/bad\n", FROM + 1, 5, 0);
	assert_int_equal(vs_fs_layer_shift(lfd, FROM, TO, N, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_string_equal(
	    err.msg, "layer /sub/bad?: owner 100001:5 is outside the id range 100000-165535");
	expect(lfd, "a", FROM, FROM, 04755);
	expect(lfd, ".", FROM, FROM, 0755);
	/* an ACL entry outside the range */
	own(lfd, "sub/bad\n", FROM, FROM, 0);
	size_t n = make_acl(acl, 0, FROM);
	xset(pathf("%s/a", dir), "system.posix_acl_access", acl, n);
	assert_int_equal(vs_fs_layer_shift(lfd, FROM, TO, N, &err), -1);
	assert_string_equal(err.msg, "layer /a: system.posix_acl_access names an id outside the id "
				     "range 100000-165535");
	expect(lfd, "sub", FROM, FROM, 0755);
	close(lfd);
}

/* A mount inside the layer (a directory, then a file bind-mounted over a
 * layer file) is never entered or changed: refused naming it, nothing
 * changed. */

static void test_mount_refused(void **state)
{
	struct vs_error err = {0};
	int lfd;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(mkdir(pathf("%s/layer", tmp_dir), 0755), 0);
	assert_int_equal(mkdir(pathf("%s/host", tmp_dir), 0755), 0);
	put(AT_FDCWD, pathf("%s/host/secret", tmp_dir));
	lfd = open(pathf("%s/layer", tmp_dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(lfd >= 0);
	own(lfd, ".", FROM, FROM, 0);
	assert_int_equal(mkdirat(lfd, "m", 0755), 0);
	own(lfd, "m", FROM, FROM, 0);
	assert_int_equal(
	    mount(pathf("%s/host", tmp_dir), pathf("%s/layer/m", tmp_dir), NULL, MS_BIND, NULL), 0);
	assert_int_equal(vs_fs_layer_shift(lfd, FROM, TO, N, &err), -1);
	assert_int_equal(err.errnum, EBUSY);
	assert_non_null(strstr(err.msg, "mount point ./m"));
	expect(lfd, ".", FROM, FROM, 0);
	assert_int_equal(umount2(pathf("%s/layer/m", tmp_dir), MNT_DETACH), 0);
	put(lfd, "f");
	own(lfd, "f", FROM, FROM, 0);
	assert_int_equal(mount(pathf("%s/host/secret", tmp_dir), pathf("%s/layer/f", tmp_dir), NULL,
			       MS_BIND, NULL),
			 0);
	assert_int_equal(vs_fs_layer_shift(lfd, FROM, TO, N, &err), -1);
	assert_string_equal(err.msg, "layer /f: refusing a mount point: Device or resource busy");
	expect(AT_FDCWD, pathf("%s/host/secret", tmp_dir), 0, 0, 0);
	expect(lfd, ".", FROM, FROM, 0);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_xattr_remap),
	    cmocka_unit_test(test_bad_range),
	    cmocka_unit_test_setup_teardown(test_shift_tree, tree_setup, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_outside_refused, tree_setup, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_mount_refused, tree_setup, tree_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
