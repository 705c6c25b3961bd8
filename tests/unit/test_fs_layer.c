/* fs-cow/layer.c: a layer copy keeps what overlayfs and the container
 * need (ids in the range, trusted.overlay.* xattrs, whiteouts, hard
 * links, holes), a second copy follows changes and deletions, and
 * putting a copy back exchanges the upper layer atomically (a leftover
 * swap directory is removed by recovery). Needs root (mknod, chown,
 * trusted.* xattrs) and /usr/bin/rsync; skipped otherwise. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "fs-cow/vs_fs.h"
#include "tests/unit/test_fs_helpers.h"

#define UID 1065536

struct fx {
	char *root;
	char cdir[4200], upper[4300], copy[4300];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->root = make_tmpdir()) == NULL)
		return -1;
	snprintf(f->cdir, sizeof(f->cdir), "%s/c", f->root);
	snprintf(f->upper, sizeof(f->upper), "%s/upper", f->cdir);
	snprintf(f->copy, sizeof(f->copy), "%s/copy", f->root);
	mkdir(f->cdir, 0700);
	mkdir(f->upper, 0755);
	mkdir(pathf("%s/work", f->cdir), 0700);
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

/* The first line of a small file (static buffer). */
static const char *read_text(const char *path)
{
	static char buf[256];
	FILE *fp = fopen(path, "re");

	buf[0] = '\0';
	if (fp != NULL) {
		if (fgets(buf, sizeof(buf), fp) == NULL)
			buf[0] = '\0';
		fclose(fp);
	}
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static bool usable(void)
{
	return geteuid() == 0 && access(vs_fs_rsync_path(), X_OK) == 0;
}

/* A layer with everything a copy must keep. */
static void make_layer(const char *u)
{
	int fd;

	assert_int_equal(write_text(pathf("%s/file", u), "one"), 0);
	assert_int_equal(link(pathf("%s/file", u), pathf("%s/hard", u)), 0);
	assert_int_equal(chown(pathf("%s/file", u), UID + 5, UID + 6), 0);
	assert_int_equal(mknod(pathf("%s/whiteout", u), S_IFCHR | 0, makedev(0, 0)), 0);
	assert_int_equal(mkdir(pathf("%s/opaque", u), 0750), 0);
	assert_int_equal(setxattr(pathf("%s/opaque", u), "trusted.overlay.opaque", "y", 1, 0), 0);
	fd = open(pathf("%s/sparse", u), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 64 << 20), 0);
	assert_int_equal(pwrite(fd, "x", 1, 32 << 20), 1);
	close(fd);
}

static void check_layer(const char *c)
{
	struct stat a, b;
	char v[8] = "";

	assert_int_equal(lstat(pathf("%s/file", c), &a), 0);
	assert_int_equal(lstat(pathf("%s/hard", c), &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_uid, UID + 5);
	assert_int_equal(a.st_gid, UID + 6);
	assert_int_equal(lstat(pathf("%s/whiteout", c), &a), 0);
	assert_true(S_ISCHR(a.st_mode) && a.st_rdev == makedev(0, 0));
	assert_int_equal(getxattr(pathf("%s/opaque", c), "trusted.overlay.opaque", v, sizeof(v)),
			 1);
	assert_int_equal(v[0], 'y');
	assert_int_equal(lstat(pathf("%s/sparse", c), &a), 0);
	assert_int_equal(a.st_size, 64 << 20);
	assert_true(a.st_blocks * 512 < (1 << 20)); /* still sparse */
}

static void test_copy_keeps_everything(void **state)
{
	struct fx *f = *state;
	struct vs_error err = {0};

	if (!usable())
		skip();
	make_layer(f->upper);
	if (vs_fs_layer_copy(f->cdir, f->copy, NULL, false, &err) < 0)
		fail_msg("copy: %s", err.msg);
	check_layer(f->copy);
	/* A second pass follows a change and a deletion. */
	assert_int_equal(write_text(pathf("%s/file", f->upper), "two, longer"), 0);
	assert_int_equal(unlink(pathf("%s/whiteout", f->upper)), 0);
	if (vs_fs_layer_copy(f->cdir, f->copy, NULL, false, &err) < 0)
		fail_msg("second copy: %s", err.msg);
	assert_string_equal(read_text(pathf("%s/file", f->copy)), "two, longer");
	assert_int_equal(access(pathf("%s/whiteout", f->copy), F_OK), -1);
}

static void test_put_back_and_recover(void **state)
{
	struct fx *f = *state;
	struct vs_error err = {0};
	struct stat st;

	if (!usable())
		skip();
	make_layer(f->upper);
	assert_int_equal(chown(f->upper, UID, UID), 0);
	if (vs_fs_layer_copy(f->cdir, f->copy, NULL, false, &err) < 0)
		fail_msg("copy: %s", err.msg);
	assert_int_equal(write_text(pathf("%s/later", f->upper), "later"), 0);
	assert_int_equal(unlink(pathf("%s/file", f->upper)), 0);
	assert_int_equal(mkdir(pathf("%s/work/work", f->cdir), 0700), 0);
	if (vs_fs_layer_put_back(f->cdir, f->copy, &err) < 0)
		fail_msg("put back: %s", err.msg);
	check_layer(f->upper);
	assert_int_equal(access(pathf("%s/later", f->upper), F_OK), -1);
	assert_int_equal(stat(f->upper, &st), 0);
	assert_int_equal(st.st_uid, UID);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(access(pathf("%s/.upper.vsd-swap", f->cdir), F_OK), -1);
	assert_int_equal(access(pathf("%s/work/work", f->cdir), F_OK), -1);
	/* The copy was copied, not moved: it is still complete. */
	check_layer(f->copy);
	/* A crash's leftover goes at recovery; nothing else is touched. */
	assert_int_equal(mkdir(pathf("%s/.upper.vsd-swap", f->cdir), 0700), 0);
	assert_int_equal(vs_fs_layer_recover(f->cdir, &err), 1);
	assert_int_equal(access(pathf("%s/.upper.vsd-swap", f->cdir), F_OK), -1);
	assert_int_equal(vs_fs_layer_recover(f->cdir, &err), 0);
	check_layer(f->upper);
	/* A missing copy is refused before anything changes. */
	assert_int_equal(vs_fs_layer_put_back(f->cdir, pathf("%s/none", f->root), &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	check_layer(f->upper);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_copy_keeps_everything, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_put_back_and_recover, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
