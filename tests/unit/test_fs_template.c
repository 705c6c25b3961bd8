/* Templates: the busybox build, get/list/remove, bad sources, recovery. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/mount.h>
#include <time.h>

#include "fs-cow/vs_fs.h"
#include "lib/vs_json.h"
#include "tests/unit/test_fs_helpers.h"

struct fx {
	char *root;
	char mounted[4200]; /* a mount a test made, detached in teardown */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->root = make_tmpdir()) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->mounted[0] != '\0')
		umount2(f->mounted, MNT_DETACH);
	rm_rf(f->root);
	free(f->root);
	free(f);
	return 0;
}

struct lines {
	int n;
	bool saw_links;
};

static void on_progress(void *ud, const char *line)
{
	struct lines *l = ud;

	l->n++;
	if (strstr(line, "applet links") != NULL)
		l->saw_links = true;
}

static int file_contains(const char *path, const char *needle)
{
	char buf[4096];
	FILE *fp = fopen(path, "r");
	size_t n;

	if (fp == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

static void test_busybox_build(void **state)
{
	struct fx *f = *state;
	struct vs_template_info info = {0};
	struct vs_error err = {0};
	struct lines lines = {0};
	struct timespec t0, t1;
	char rf[4200], buf[64];
	struct stat st;
	ssize_t n;

	snprintf(rf, sizeof(rf), "%s/templates/bb/rootfs", f->root);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(vs_fs_template_build(f->root, "bb", "busybox", on_progress, &lines, &err),
			 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* "seconds at most": generous against a loaded machine, but a build
	 * that walked something big or waited on a pipe would show. */
	assert_true(t1.tv_sec - t0.tv_sec < 10);
	assert_true(lines.saw_links);

	assert_int_equal(vs_fs_template_get(f->root, "bb", &info, &err), 0);
	assert_string_equal(info.name, "bb");
	assert_string_equal(info.source, "busybox");
	assert_string_equal(info.init_system, "busybox");
	assert_int_equal(info.stop_signal, SIGUSR2);
	assert_string_equal(info.init[0], "/sbin/init");
	assert_null(info.init[1]);
	assert_true(info.size_bytes > 500000); /* the static binary alone is ~2 MB */
	assert_true(info.created_at > 1700000000);
	vs_template_info_free(&info);

	assert_int_equal(stat(pathf("%s/bin/busybox", rf), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	n = readlink(pathf("%s/sbin/init", rf), buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "/bin/busybox");
	assert_int_equal(lstat(pathf("%s/bin/sh", rf), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(lstat(pathf("%s/usr/bin/env", rf), &st), 0);
	assert_false(exists(pathf("%s/linuxrc", rf)));
	assert_int_equal(lstat(pathf("%s/tmp", rf), &st), 0);
	assert_int_equal(st.st_mode & 07777, 01777);
	assert_int_equal(lstat(pathf("%s/proc", rf), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(lstat(pathf("%s/etc/init.d/rcS", rf), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);
	assert_int_equal(lstat(pathf("%s/etc/shadow", rf), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(file_contains(pathf("%s/etc/inittab", rf), "::sysinit:/etc/init.d/rcS"));
	assert_true(file_contains(pathf("%s/etc/passwd", rf), "root:x:0:0:root:/root:/bin/sh"));
	assert_true(file_contains(pathf("%s/etc/os-release", rf), "vsd busybox"));
	assert_true(file_contains(pathf("%s/templates/bb/template.json", f->root),
				  "\"stop_signal\": \"SIGUSR2\""));
	assert_int_equal(count_entries(pathf("%s/templates", f->root)), 1);

	assert_int_equal(vs_fs_template_build(f->root, "bb", "busybox", NULL, NULL, &err), -1);
	assert_int_equal(err.kind, VS_EK_CONFLICT);
	assert_int_equal(count_entries(pathf("%s/templates", f->root)), 1);
}

static void test_bad_sources(void **state)
{
	struct fx *f = *state;
	const char *bad[] = {
	    "ubuntu", "debian:", "debian:Bookworm", "debian:book-worm", "debian:../x", "busybox:1",
	    "",	      NULL};
	struct vs_error err = {0};

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		assert_int_equal(vs_fs_template_build(f->root, "t", bad[k], NULL, NULL, &err), -1);
		assert_int_equal(err.kind, VS_EK_INVALID);
		assert_non_null(strstr(err.msg, "from:"));
	}
	assert_int_equal(vs_fs_template_build(f->root, "Bad_Name", "busybox", NULL, NULL, &err),
			 -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	/* A mirror that could smuggle shell syntax into debootstrap. */
	setenv("VSD_DEBIAN_MIRROR", "http://x/$(reboot)", 1);
	assert_int_equal(vs_fs_template_build(f->root, "t", "debian", NULL, NULL, &err), -1);
	unsetenv("VSD_DEBIAN_MIRROR");
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_non_null(strstr(err.msg, "VSD_DEBIAN_MIRROR"));
	/* Bad input creates nothing. */
	assert_false(exists(pathf("%s/templates", f->root)));
}

static void test_get_list_remove(void **state)
{
	struct fx *f = *state;
	struct vs_template_info info = {0}, *all = NULL;
	struct vs_error err = {0};
	size_t n = 99;

	assert_int_equal(vs_fs_template_list(f->root, &all, &n, &err), 0);
	assert_int_equal(n, 0);
	free(all);
	assert_int_equal(vs_fs_template_get(f->root, "zeta", &info, &err), -1);
	assert_int_equal(err.kind, VS_EK_NOT_FOUND);

	assert_int_equal(vs_fs_template_build(f->root, "zeta", "busybox", NULL, NULL, &err), 0);
	assert_int_equal(vs_fs_template_build(f->root, "alpha", "busybox", NULL, NULL, &err), 0);
	/* Not templates: a foreign directory, a staging leftover, a file. */
	assert_int_equal(mkdir(pathf("%s/templates/notes", f->root), 0700), 0);
	assert_int_equal(mkdir(pathf("%s/templates/.x.building", f->root), 0700), 0);
	assert_int_equal(write_text(pathf("%s/templates/README", f->root), "hi\n"), 0);

	assert_int_equal(vs_fs_template_list(f->root, &all, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(all[0].name, "alpha");
	assert_string_equal(all[1].name, "zeta");
	for (size_t k = 0; k < n; k++)
		vs_template_info_free(&all[k]);
	free(all);

	assert_int_equal(vs_fs_template_get(f->root, "../zeta", &info, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_int_equal(vs_fs_template_remove(f->root, "alpha", &err), 0);
	assert_false(exists(pathf("%s/templates/alpha", f->root)));
	assert_false(exists(pathf("%s/templates/.alpha.removing", f->root)));
	assert_int_equal(vs_fs_template_remove(f->root, "alpha", &err), -1);
	assert_int_equal(err.kind, VS_EK_NOT_FOUND);
	assert_int_equal(vs_fs_template_get(f->root, "zeta", &info, &err), 0);
	vs_template_info_free(&info);

	/* A damaged template.json is reported, naming the template. */
	assert_int_equal(
	    write_text(pathf("%s/templates/zeta/template.json", f->root), "{\"name\":"), 0);
	assert_int_equal(vs_fs_template_get(f->root, "zeta", &info, &err), -1);
	assert_non_null(strstr(err.msg, "zeta"));
	assert_int_equal(vs_fs_template_list(f->root, &all, &n, &err), -1);
	assert_non_null(strstr(err.msg, "zeta"));
}

static void test_gen_roundtrip(void **state)
{
	char *init[] = {"/sbin/init", "--log", NULL};
	struct vs_template_info t = {.name = "n",
				     .source = "debian:trixie",
				     .init_system = "systemd",
				     .init = init,
				     .stop_signal = SIGRTMIN + 3,
				     .created_at = 17,
				     .size_bytes = 1234};
	struct vs_jgen *g = vs_jgen_new(false);
	struct vs_json *j = NULL;
	struct vs_error err = {0};
	int64_t v;

	vs_fs_template_gen(g, &t);
	assert_int_equal(vs_json_parse(vs_jgen_text(g, NULL), &j, &err), 0);
	assert_string_equal(vs_json_string(vs_json_get(j, "stop_signal")), "SIGRTMIN+3");
	assert_string_equal(vs_json_string(vs_json_get(j, "source")), "debian:trixie");
	assert_int_equal(vs_json_array_len(vs_json_get(j, "init")), 2);
	assert_true(vs_json_int64(vs_json_get(j, "size"), &v));
	assert_int_equal(v, 1234);
	assert_true(vs_json_int64(vs_json_get(j, "created_at"), &v));
	assert_int_equal(v, 17);
	vs_json_free(j);
	vs_jgen_free(g);
}

static void test_recover(void **state)
{
	struct fx *f = *state;
	struct vs_error err = {0};
	const char *t = NULL;

	assert_int_equal(vs_fs_recover(f->root, &err), 0); /* no templates dir: fine */
	assert_int_equal(vs_fs_template_build(f->root, "keep", "busybox", NULL, NULL, &err), 0);
	t = strdup(pathf("%s/templates", f->root));
	assert_int_equal(mkdir(pathf("%s/.a.building", t), 0700), 0);
	assert_int_equal(mkdir(pathf("%s/.a.building/rootfs", t), 0700), 0);
	assert_int_equal(write_text(pathf("%s/.a.building/rootfs/x", t), "x"), 0);
	assert_int_equal(mkdir(pathf("%s/.b.removing", t), 0700), 0);
	assert_int_equal(symlink("/etc", pathf("%s/.b.removing/etc", t)), 0);
	assert_int_equal(write_text(pathf("%s/.upload.123", t), "partial upload"), 0);
	assert_int_equal(write_text(pathf("%s/.other", t), "not ours to judge"), 0);
	if (geteuid() == 0) {
		/* A debootstrap killed with vsd leaves its /proc mounted. */
		assert_int_equal(mkdir(pathf("%s/.c.building", t), 0700), 0);
		assert_int_equal(mkdir(pathf("%s/.c.building/proc", t), 0700), 0);
		snprintf(f->mounted, sizeof(f->mounted), "%s/.c.building/proc", t);
		assert_int_equal(mount("none", f->mounted, "tmpfs", 0, "size=1m"), 0);
		assert_int_equal(write_text(pathf("%s/.c.building/proc/y", t), "y"), 0);
	}
	assert_int_equal(vs_fs_recover(f->root, &err), 0);
	assert_false(exists(pathf("%s/.a.building", t)));
	assert_false(exists(pathf("%s/.b.removing", t)));
	assert_false(exists(pathf("%s/.upload.123", t)));
	assert_false(exists(pathf("%s/.c.building", t)));
	assert_true(exists(pathf("%s/.other", t)));
	assert_true(exists("/etc/passwd"));
	assert_true(exists(pathf("%s/keep/rootfs/sbin/init", t)));
	f->mounted[0] = '\0';
	free((char *)t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_busybox_build, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_sources, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_get_list_remove, setup, teardown),
	    cmocka_unit_test(test_gen_roundtrip),
	    cmocka_unit_test_setup_teardown(test_recover, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
