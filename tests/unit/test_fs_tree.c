/* vs_fs_remove_tree: never follows symlinks, never crosses mounts, copes
 * with trees deeper than the fd limit. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/mount.h>
#include <sys/resource.h>

#include "fs-cow/fs-private.h"
#include "fs-cow/vs_fs.h"
#include "tests/unit/test_fs_helpers.h"

struct fx {
	char *root;
	int rootfd;
	char mounted[4200]; /* a mount the test made, detached in teardown */
	struct rlimit nofile;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->root = make_tmpdir()) == NULL)
		return -1;
	f->rootfd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	getrlimit(RLIMIT_NOFILE, &f->nofile);
	*state = f;
	return f->rootfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	setrlimit(RLIMIT_NOFILE, &f->nofile);
	if (f->mounted[0] != '\0')
		umount2(f->mounted, MNT_DETACH);
	close(f->rootfd);
	rm_rf(f->root);
	free(f->root);
	free(f);
	return 0;
}

static void test_remove_plain_tree(void **state)
{
	struct fx *f = *state;
	struct vs_error err = {0};
	char outside[4200];

	/* Something outside the tree that symlinks inside point at. */
	snprintf(outside, sizeof(outside), "%s/outside", f->root);
	assert_int_equal(mkdir(outside, 0755), 0);
	assert_int_equal(write_text(pathf("%s/keep", outside), "keep"), 0);

	assert_int_equal(mkdir(pathf("%s/t", f->root), 0755), 0);
	assert_int_equal(mkdir(pathf("%s/t/a", f->root), 0755), 0);
	assert_int_equal(mkdir(pathf("%s/t/a/b", f->root), 0000), 0);
	assert_int_equal(mkdir(pathf("%s/t/e", f->root), 0755), 0);
	assert_int_equal(write_text(pathf("%s/t/a/f", f->root), "f"), 0);
	assert_int_equal(symlink(outside, pathf("%s/t/a/dirlink", f->root)), 0);
	assert_int_equal(symlink(pathf("%s/keep", outside), pathf("%s/t/filelink", f->root)), 0);
	assert_int_equal(symlink("../../outside", pathf("%s/t/e/rel", f->root)), 0);
	assert_int_equal(mkfifo(pathf("%s/t/fifo", f->root), 0600), 0);
	assert_int_equal(link(pathf("%s/t/a/f", f->root), pathf("%s/t/e/hard", f->root)), 0);
	if (geteuid() != 0) /* root can enter a 0000 directory; others cannot */
		chmod(pathf("%s/t/a/b", f->root), 0755);

	assert_int_equal(vs_fs_remove_tree(f->rootfd, "t", &err), 0);
	assert_false(exists(pathf("%s/t", f->root)));
	assert_true(exists(pathf("%s/keep", outside)));
	/* Missing is fine. */
	assert_int_equal(vs_fs_remove_tree(f->rootfd, "t", &err), 0);
	/* A top-level symlink to a directory: the link goes, the target stays. */
	assert_int_equal(symlink(outside, pathf("%s/s", f->root)), 0);
	assert_int_equal(vs_fs_remove_tree(f->rootfd, "s", &err), 0);
	assert_false(exists(pathf("%s/s", f->root)));
	assert_true(exists(pathf("%s/keep", outside)));
	/* A top-level file. */
	assert_int_equal(vs_fs_remove_tree(AT_FDCWD, pathf("%s/keep", outside), &err), 0);
	assert_false(exists(pathf("%s/keep", outside)));
}

/* 3000 levels with only 64 descriptors allowed: the walk holds one. */
static void test_remove_deep_tree(void **state)
{
	struct fx *f = *state;
	struct rlimit small = {64, f->nofile.rlim_max};
	struct vs_error err = {0};
	int fd = openat(f->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(mkdirat(fd, "deep", 0755), 0);
	for (int k = 0; k < 3000; k++) {
		int next = openat(fd, k == 0 ? "deep" : "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(next >= 0);
		close(fd);
		fd = next;
		assert_int_equal(mkdirat(fd, "d", 0755), 0);
		if (k % 100 == 0)
			assert_int_equal(mknodat(fd, "fifo", S_IFIFO | 0600, 0), 0);
	}
	close(fd);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &small), 0);
	assert_int_equal(vs_fs_remove_tree(f->rootfd, "deep", &err), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &f->nofile), 0);
	assert_false(exists(pathf("%s/deep", f->root)));
}

static int no_file(int dirfd, const char *name, const char *path, void *ud, struct vs_error *err)
{
	return 0;
}

static void check_refuses_mount(struct fx *f, const char *how)
{
	const struct vs_fs_walk_ops ops = {.file = no_file, .dir = no_file};
	struct vs_error err = {0};

	assert_int_equal(vs_fs_remove_tree(f->rootfd, "t", &err), -1);
	assert_int_equal(err.errnum, EBUSY);
	if (strstr(err.msg, "t/a/m") == NULL)
		fail_msg("%s: message '%s' does not name t/a/m", how, err.msg);
	/* Refused before anything was removed; what is behind the mount is
	 * untouched. */
	assert_true(exists(pathf("%s/t/a/file", f->root)));
	assert_true(exists(pathf("%s/t/a/m/inside", f->root)));
	/* The walk itself (the guard against a mount appearing meanwhile)
	 * stops at the mount point too. */
	assert_int_equal(vs_fs_walk(f->rootfd, "t", &ops, NULL, &err), -1);
	assert_int_equal(err.errnum, EBUSY);
	if (strstr(err.msg, "t/a/m") == NULL)
		fail_msg("%s: walk message '%s' does not name t/a/m", how, err.msg);
	assert_int_equal(umount2(f->mounted, MNT_DETACH), 0);
	f->mounted[0] = '\0';
}

static void test_refuses_to_cross_mounts(void **state)
{
	struct fx *f = *state;
	struct vs_error err = {0};

	if (geteuid() != 0) {
		skip();
		return;
	}
	assert_int_equal(mkdir(pathf("%s/t", f->root), 0755), 0);
	assert_int_equal(mkdir(pathf("%s/t/a", f->root), 0755), 0);
	assert_int_equal(mkdir(pathf("%s/t/a/m", f->root), 0755), 0);
	assert_int_equal(write_text(pathf("%s/t/a/file", f->root), "x"), 0);
	snprintf(f->mounted, sizeof(f->mounted), "%s/t/a/m", f->root);

	/* Another filesystem (tmpfs): a different st_dev. */
	assert_int_equal(mount("none", f->mounted, "tmpfs", 0, "size=1m"), 0);
	assert_int_equal(write_text(pathf("%s/inside", f->mounted), "x"), 0);
	check_refuses_mount(f, "tmpfs");

	/* A bind mount of the same filesystem: same st_dev, still a mount. */
	assert_int_equal(mkdir(pathf("%s/src", f->root), 0755), 0);
	assert_int_equal(write_text(pathf("%s/src/inside", f->root), "x"), 0);
	snprintf(f->mounted, sizeof(f->mounted), "%s/t/a/m", f->root);
	assert_int_equal(mount(pathf("%s/src", f->root), f->mounted, NULL, MS_BIND, NULL), 0);
	check_refuses_mount(f, "bind");

	/* The top itself being a mount point is refused too. */
	snprintf(f->mounted, sizeof(f->mounted), "%s/t", f->root);
	assert_int_equal(mount("none", f->mounted, "tmpfs", 0, "size=1m"), 0);
	assert_int_equal(vs_fs_remove_tree(f->rootfd, "t", &err), -1);
	assert_int_equal(err.errnum, EBUSY);
	assert_int_equal(umount2(f->mounted, MNT_DETACH), 0);
	f->mounted[0] = '\0';

	/* With the mount gone the removal completes. */
	assert_int_equal(vs_fs_remove_tree(f->rootfd, "t", &err), 0);
	assert_false(exists(pathf("%s/t", f->root)));
	assert_true(exists(pathf("%s/src/inside", f->root)));
}

static int count_file(int dirfd, const char *name, const char *path, void *ud, struct vs_error *err)
{
	(*(int *)ud)++;
	return 0;
}

static int count_dir(int dirfd, const char *name, const char *path, void *ud, struct vs_error *err)
{
	(*(int *)ud) += 1000;
	return 0;
}

/* The walk itself: every entry once, directories after their contents. */
static void test_walk_counts(void **state)
{
	struct fx *f = *state;
	const struct vs_fs_walk_ops ops = {.file = count_file, .dir = count_dir};
	struct vs_error err = {0};
	int n = 0;

	assert_int_equal(mkdir(pathf("%s/w", f->root), 0755), 0);
	assert_int_equal(mkdir(pathf("%s/w/x", f->root), 0755), 0);
	assert_int_equal(write_text(pathf("%s/w/x/1", f->root), "1"), 0);
	assert_int_equal(write_text(pathf("%s/w/2", f->root), "2"), 0);
	assert_int_equal(symlink("x", pathf("%s/w/l", f->root)), 0);
	assert_int_equal(vs_fs_walk(f->rootfd, "w", &ops, &n, &err), 0);
	assert_int_equal(n, 2003);
	assert_int_equal(vs_fs_walk(f->rootfd, "nope", &ops, &n, &err), 1);
}

static bool listed(const char *list, size_t len, const char *want)
{
	for (size_t at = 0; at < len; at += strlen(list + at) + 1)
		if (strcmp(list + at, want) == 0)
			return true;
	return false;
}

/* The files changed since a time, as rsync include rules: only those, by
 * their change time (a hard link's other name too: one inode), anchored,
 * wildcard characters escaped only where rsync reads escapes; past max,
 * counted and not listed. */
static void test_changed_since(void **state)
{
	struct fx *f = *state;
	struct vs_error err = {0};
	struct timespec since;
	struct stat st;
	size_t len, n, at, rules = 0;
	char *list = NULL;

	assert_int_equal(write_text(pathf("%s/old", f->root), "1"), 0);
	assert_int_equal(write_text(pathf("%s/old2", f->root), "2"), 0);
	assert_int_equal(mkdir(pathf("%s/d", f->root), 0755), 0);
	assert_int_equal(stat(pathf("%s/d", f->root), &st), 0);
	since = st.st_ctim;
	since.tv_nsec++; /* after everything above */
	/* More than a tick of the file system's coarse clock. */
	nanosleep(&(struct timespec){.tv_nsec = 50 * 1000000L}, NULL);
	assert_int_equal(write_text(pathf("%s/d/new", f->root), "3"), 0);
	assert_int_equal(symlink("new", pathf("%s/d/ln", f->root)), 0);
	assert_int_equal(write_text(pathf("%s/d/w*[x]", f->root), "4"), 0);
	assert_int_equal(write_text(pathf("%s/d/b\\s", f->root), "5"), 0);
	assert_int_equal(link(pathf("%s/old2", f->root), pathf("%s/d/l2", f->root)), 0);

	assert_int_equal(vs_fs_changed_since(f->rootfd, &since, 100, &list, &len, &n, &err), 0);
	for (at = 0; at < len; at += strlen(list + at) + 1)
		rules++;
	assert_int_equal(n, 6);
	assert_int_equal(rules, 6);
	assert_true(listed(list, len, "/d/new"));
	assert_true(listed(list, len, "/d/ln"));
	assert_true(listed(list, len, "/d/w\\*\\[x]"));
	assert_true(listed(list, len, "/d/b\\s"));
	assert_true(listed(list, len, "/d/l2"));
	assert_true(listed(list, len, "/old2")); /* the same inode as d/l2 */
	assert_false(listed(list, len, "/old"));
	assert_false(listed(list, len, "/d"));
	free(list);

	list = (char *)"x";
	assert_int_equal(vs_fs_changed_since(f->rootfd, &since, 5, &list, &len, &n, &err), 1);
	assert_null(list);
	assert_int_equal(n, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_remove_plain_tree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_deep_tree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_to_cross_mounts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_walk_counts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_changed_since, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
