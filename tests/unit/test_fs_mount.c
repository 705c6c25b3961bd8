/* The container layer and its root mount: the template id-mapped through a
 * user namespace under an overlay. The mount tests need root and are
 * skipped without it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "fs-cow/fs-private.h"
#include "fs-cow/vs_fs.h"
#include "tests/unit/test_fs_helpers.h"

#define HOST_BASE 1000000

struct fx {
	char *root;
	char tmpl[4200]; /* template rootfs */
	char cdir[4200]; /* container directory */
	pid_t child;	 /* holder of the user namespace */
	int userns_fd;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->root = make_tmpdir()) == NULL)
		return -1;
	snprintf(f->tmpl, sizeof(f->tmpl), "%s/tmpl", f->root);
	snprintf(f->cdir, sizeof(f->cdir), "%s/c1", f->root);
	f->userns_fd = -1;
	*state = f;
	if (mkdir(f->tmpl, 0755) < 0 || mkdir(f->cdir, 0700) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	/* Whatever the test left mounted, however it failed. */
	for (int k = 0; k < 4; k++) {
		umount2(pathf("%s/rootfs", f->cdir), MNT_DETACH);
		umount2(pathf("%s/lower", f->cdir), MNT_DETACH);
	}
	if (f->userns_fd >= 0)
		close(f->userns_fd);
	if (f->child > 0) {
		kill(f->child, SIGKILL);
		waitpid(f->child, NULL, 0);
	}
	rm_rf(f->root);
	free(f->root);
	free(f);
	return 0;
}

/* A user namespace mapping 0..65535 to HOST_BASE..: a child unshares it and
 * waits; we write its maps and keep a descriptor of the namespace. */
static int make_userns(struct fx *f)
{
	int ready[2], hold[2];
	char c;

	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(hold, O_CLOEXEC) < 0)
		return -1;
	f->child = fork();
	if (f->child < 0)
		return -1;
	if (f->child == 0) {
		close(ready[0]);
		close(hold[1]);
		if (unshare(CLONE_NEWUSER) < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		while (read(hold[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	if (read(ready[0], &c, 1) != 1)
		return -1;
	close(ready[0]);
	if (write_text(pathf("/proc/%d/uid_map", f->child), pathf("0 %d 65536\n", HOST_BASE)) < 0 ||
	    write_text(pathf("/proc/%d/gid_map", f->child), pathf("0 %d 65536\n", HOST_BASE)) < 0)
		return -1;
	f->userns_fd = open(pathf("/proc/%d/ns/user", f->child), O_RDONLY | O_CLOEXEC);
	/* The descriptor keeps the namespace; the child may go (closing hold). */
	close(hold[1]);
	return f->userns_fd < 0 ? -1 : 0;
}

/* Mounts at or below dir in our mount namespace. */
static int mounts_below(const char *dir)
{
	FILE *fp = fopen("/proc/self/mountinfo", "r");
	char line[8192], mp[4200];
	int n = 0;

	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "%*s %*s %*s %*s %4199s", mp) == 1 &&
		    strncmp(mp, dir, strlen(dir)) == 0)
			n++;
	fclose(fp);
	return n;
}

static void test_layer_create(void **state)
{
	struct fx *f = *state;
	struct vs_error err = {0};
	uid_t uid = geteuid() == 0 ? HOST_BASE : geteuid();
	gid_t gid = geteuid() == 0 ? HOST_BASE : getegid();
	struct stat st;

	umask(077); /* the modes must not depend on the caller's umask */
	assert_int_equal(vs_fs_layer_create(f->cdir, uid, gid, &err), 0);
	umask(022);
	assert_int_equal(stat(pathf("%s/upper", f->cdir), &st), 0);
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(st.st_gid, gid);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(stat(pathf("%s/work", f->cdir), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(pathf("%s/lower", f->cdir), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(stat(pathf("%s/rootfs", f->cdir), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	/* Again: fine. */
	assert_int_equal(vs_fs_layer_create(f->cdir, uid, gid, &err), 0);
	assert_int_equal(vs_fs_layer_create(pathf("%s/nope", f->root), uid, gid, &err), -1);
	assert_non_null(strstr(err.msg, "nope"));

	assert_false(vs_fs_rootfs_mounted(f->cdir));
	assert_int_equal(vs_fs_rootfs_umount(f->cdir, &err), 0); /* not mounted: fine */
	/* Paths overlayfs or mountinfo could not carry are refused up front. */
	assert_int_equal(vs_fs_rootfs_mount(f->tmpl, "/tmp/a:b", -1, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
}

static void make_template(struct fx *f)
{
	assert_int_equal(mkdir(pathf("%s/etc", f->tmpl), 0755), 0);
	assert_int_equal(write_text(pathf("%s/etc/f", f->tmpl), "template\n"), 0);
	assert_int_equal(write_text(pathf("%s/etc/gone", f->tmpl), "delete me\n"), 0);
	assert_int_equal(mkdir(pathf("%s/home", f->tmpl), 0755), 0);
	assert_int_equal(mkdir(pathf("%s/home/u", f->tmpl), 0755), 0);
	assert_int_equal(chown(pathf("%s/home/u", f->tmpl), 1000, 1000), 0);
}

static void test_mount_idmapped(void **state)
{
	struct fx *f = *state;
	struct vs_error err = {0};
	struct stat st;

	if (geteuid() != 0) {
		skip();
		return;
	}
	make_template(f);
	assert_int_equal(make_userns(f), 0);
	assert_int_equal(vs_fs_layer_create(f->cdir, HOST_BASE, HOST_BASE, &err), 0);
	if (vs_fs_rootfs_mount(f->tmpl, f->cdir, f->userns_fd, &err) < 0)
		fail_msg("mount: %s", err.msg);
	assert_true(vs_fs_rootfs_mounted(f->cdir));
	assert_int_equal(mounts_below(f->cdir), 2);
	/* Idempotent: a second call mounts nothing more. */
	assert_int_equal(vs_fs_rootfs_mount(f->tmpl, f->cdir, f->userns_fd, &err), 0);
	assert_int_equal(mounts_below(f->cdir), 2);

	/* Template uid 0 shows as the container's root on the host. */
	assert_int_equal(stat(pathf("%s/rootfs/etc/f", f->cdir), &st), 0);
	assert_int_equal(st.st_uid, HOST_BASE);
	assert_int_equal(st.st_gid, HOST_BASE);
	assert_int_equal(stat(pathf("%s/rootfs/home/u", f->cdir), &st), 0);
	assert_int_equal(st.st_uid, HOST_BASE + 1000);
	assert_int_equal(stat(pathf("%s/rootfs", f->cdir), &st), 0);
	assert_int_equal(st.st_uid, HOST_BASE);
	/* ...while the template itself is unchanged. */
	assert_int_equal(stat(pathf("%s/etc/f", f->tmpl), &st), 0);
	assert_int_equal(st.st_uid, 0);
	/* The attach point of the template is read-only. */
	assert_int_equal(write_text(pathf("%s/lower/etc/x", f->cdir), "x"), -1);

	/* Writes go to upper/, never into the template. */
	assert_int_equal(write_text(pathf("%s/rootfs/new", f->cdir), "new\n"), 0);
	assert_int_equal(write_text(pathf("%s/rootfs/etc/f", f->cdir), "changed\n"), 0);
	assert_int_equal(unlink(pathf("%s/rootfs/etc/gone", f->cdir)), 0);
	assert_true(exists(pathf("%s/upper/new", f->cdir)));
	assert_true(exists(pathf("%s/upper/etc/f", f->cdir)));
	assert_false(exists(pathf("%s/tmpl/new", f->root)));
	assert_true(exists(pathf("%s/etc/gone", f->tmpl)));
	assert_int_equal(stat(pathf("%s/etc/f", f->tmpl), &st), 0);
	assert_int_equal(st.st_size, strlen("template\n"));
	/* A directory from the template can be renamed (redirect_dir=on). */
	assert_int_equal(rename(pathf("%s/rootfs/home", f->cdir), pathf("%s/rootfs/h2", f->cdir)),
			 0);
	assert_true(exists(pathf("%s/rootfs/h2/u", f->cdir)));
	assert_true(exists(pathf("%s/home/u", f->tmpl)));

	/* While mounted, the layer cannot be removed through the mount. */
	assert_int_equal(vs_fs_remove_tree(AT_FDCWD, f->cdir, &err), -1);
	assert_int_equal(err.errnum, EBUSY);

	assert_int_equal(vs_fs_rootfs_umount(f->cdir, &err), 0);
	assert_false(vs_fs_rootfs_mounted(f->cdir));
	assert_int_equal(mounts_below(f->cdir), 0);
	/* The upper layer keeps the container's files, owned as written. */
	assert_int_equal(stat(pathf("%s/upper/new", f->cdir), &st), 0);
	assert_int_equal(st.st_uid, 0); /* written by host root here */
	/* Mount again over the same layer: the changes are still there. */
	assert_int_equal(vs_fs_rootfs_mount(f->tmpl, f->cdir, f->userns_fd, &err), 0);
	assert_false(exists(pathf("%s/rootfs/etc/gone", f->cdir)));
	assert_true(exists(pathf("%s/rootfs/h2/u", f->cdir)));
	assert_int_equal(vs_fs_rootfs_umount(f->cdir, &err), 0);
	assert_int_equal(mounts_below(f->cdir), 0);
	if (vs_fs_remove_tree(AT_FDCWD, f->cdir, &err) < 0)
		fail_msg("remove layer: %s", err.msg);
}

/* In a mount namespace of its own (nothing of it outlives the child): a
 * tmpfs on a directory whose name mountinfo escapes (space, tab,
 * backslash) stops vs_fs_remove_tree, and vs_fs_unmount_under finds it. */
static int escaped_mount_child(const char *cdir)
{
	const char *dir = pathf("%s/a b", cdir), *mnt = pathf("%s/a b/m\tn\\o", cdir);
	struct vs_error err = {0};

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mkdir(dir, 0755) < 0 || mkdir(mnt, 0755) < 0 ||
	    mount("tmpfs", mnt, "tmpfs", 0, "size=64k") < 0)
		return 10;
	if (vs_fs_remove_tree(AT_FDCWD, dir, &err) != -1 || err.errnum != EBUSY ||
	    strstr(err.msg, "m\tn\\o is a mount point") == NULL)
		return 11;
	if (vs_fs_unmount_under(open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), &err) < 0)
		return 12;
	if (vs_fs_remove_tree(AT_FDCWD, dir, &err) < 0)
		return 13;
	return 0;
}

static void test_escaped_mount_point(void **state)
{
	struct fx *f = *state;
	pid_t pid;
	int status = 0;

	if (geteuid() != 0) {
		skip();
		return;
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(escaped_mount_child(f->cdir));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_false(exists(pathf("%s/a b", f->cdir)));
}

/* Privileged containers: no id map, template ids as they are. */
static void test_mount_privileged(void **state)
{
	struct fx *f = *state;
	struct vs_error err = {0};
	struct stat st;

	if (geteuid() != 0) {
		skip();
		return;
	}
	make_template(f);
	assert_int_equal(vs_fs_layer_create(f->cdir, 0, 0, &err), 0);
	assert_int_equal(vs_fs_rootfs_mount(f->tmpl, f->cdir, -1, &err), 0);
	assert_int_equal(stat(pathf("%s/rootfs/home/u", f->cdir), &st), 0);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(vs_fs_rootfs_umount(f->cdir, &err), 0);
	assert_int_equal(mounts_below(f->cdir), 0);
}

/* A failed mount leaves nothing mounted (here: no work/ directory). */
static void test_mount_failure_leaves_nothing(void **state)
{
	struct fx *f = *state;
	struct vs_error err = {0};

	if (geteuid() != 0) {
		skip();
		return;
	}
	make_template(f);
	assert_int_equal(vs_fs_layer_create(f->cdir, 0, 0, &err), 0);
	assert_int_equal(rmdir(pathf("%s/work", f->cdir)), 0);
	assert_int_equal(vs_fs_rootfs_mount(f->tmpl, f->cdir, -1, &err), -1);
	assert_non_null(strstr(err.msg, "overlay"));
	assert_int_equal(mounts_below(f->cdir), 0);
	assert_int_equal(vs_fs_rootfs_mount(pathf("%s/missing", f->root), f->cdir, -1, &err), -1);
	assert_int_equal(mounts_below(f->cdir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_layer_create, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mount_idmapped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mount_privileged, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mount_failure_leaves_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_escaped_mount_point, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
