/* migrate/pages.c: the target's fixed page-server command (nothing of the
 * source's reaches its argv) and the move of the page server's files into
 * the image before it is checked and sealed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/vs_util.h"
#include "migrate/vs_migrate.h"

#define DIR_ "/var/lib/vsd/containers/.web.incoming/incoming-pages"

static void test_argv_fixed(void **state)
{
	struct vs_error err = {0};
	char **argv = NULL;
	const char *want[] = {
	    "/opt/vsd/criu/bin/criu", "page-server", "-D",	    DIR_, "-W", DIR_, "-o",
	    VS_MIG_PAGE_SERVER_LOG,   "-v2",	     "--ps-socket", "0",  NULL};
	size_t i;

	(void)state;
	assert_int_equal(vs_mig_page_server_argv("/opt/vsd/criu/bin/criu", 0, DIR_, &argv, &err),
			 0);
	for (i = 0; want[i] != NULL; i++) {
		assert_non_null(argv[i]);
		assert_string_equal(argv[i], want[i]);
	}
	assert_null(argv[i]);
	vs_strv_free(argv);
}

/* Any argument from the source is refused, and nothing is made. */
static void test_argv_args_refused(void **state)
{
	struct vs_error err = {0};
	char **argv = (char **)1;

	(void)state;
	assert_int_equal(vs_mig_page_server_argv("/usr/sbin/criu", 1, DIR_, &argv, &err), -1);
	assert_null(argv);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_non_null(strstr(err.msg, "args"));
	memset(&err, 0, sizeof(err));
	assert_int_equal(vs_mig_page_server_argv(NULL, 0, DIR_, &argv, &err), -1);
	assert_null(argv);
	assert_int_equal(err.kind, VS_EK_UNSUPPORTED);
}

static void test_names(void **state)
{
	static const char *const good[] = {"pagemap-1.img", "pagemap-12345.img", "pages-65537.img",
					   "pagemap-shmem-4242.img", NULL};
	static const char *const bad[] = {"pagemap-.img",
					  "pages-1.img.tmp",
					  "pages-1",
					  "core-1.img",
					  "pages-x.img",
					  "../pages-1.img",
					  "pagemap-1.img/",
					  "pages-1.imgx",
					  "pagemap-shmem-.img",
					  "pages-123456789012345678901.img",
					  "",
					  NULL};

	(void)state;
	for (size_t i = 0; good[i] != NULL; i++)
		if (!vs_mig_page_file_name(good[i]))
			fail_msg("'%s' refused", good[i]);
	for (size_t i = 0; bad[i] != NULL; i++)
		if (vs_mig_page_file_name(bad[i]))
			fail_msg("'%s' accepted", bad[i]);
}

struct dirs {
	char top[64];
	int img, pages;
};

static void mkfile(int dfd, const char *name, const char *text)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int dirs_setup(void **state)
{
	struct dirs *d = xcalloc(1, sizeof(*d));
	char path[128];

	snprintf(d->top, sizeof(d->top), "/tmp/vsd-test-pages-XXXXXX");
	assert_non_null(mkdtemp(d->top));
	snprintf(path, sizeof(path), "%s/img", d->top);
	assert_int_equal(mkdir(path, 0700), 0);
	d->img = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(path, sizeof(path), "%s/pages", d->top);
	assert_int_equal(mkdir(path, 0700), 0);
	d->pages = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(d->img >= 0 && d->pages >= 0);
	mkfile(d->img, "core-1.img", "core");
	*state = d;
	return 0;
}

static int dirs_teardown(void **state)
{
	struct dirs *d = *state;
	char cmd[128];

	close(d->img);
	close(d->pages);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", d->top);
	if (system(cmd) != 0)
		return -1;
	free(d);
	return 0;
}

static bool exists(int dfd, const char *name)
{
	struct stat st;

	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void test_take_moves_pages(void **state)
{
	struct dirs *d = *state;
	struct vs_error err = {0};
	size_t moved = 0;

	mkfile(d->pages, "pagemap-1.img", "map");
	mkfile(d->pages, "pages-65537.img", "pages");
	mkfile(d->pages, "pagemap-shmem-7.img", "shm");
	mkfile(d->pages, VS_MIG_PAGE_SERVER_LOG, "log");
	assert_int_equal(vs_mig_image_take_pages(d->img, d->pages, &moved, &err), 0);
	assert_int_equal(moved, 3);
	assert_true(exists(d->img, "pagemap-1.img"));
	assert_true(exists(d->img, "pages-65537.img"));
	assert_true(exists(d->img, "pagemap-shmem-7.img"));
	assert_false(exists(d->img, VS_MIG_PAGE_SERVER_LOG));
	assert_true(exists(d->pages, VS_MIG_PAGE_SERVER_LOG));
	assert_false(exists(d->pages, "pages-65537.img"));
}

/* A refused directory moves nothing. */
static void assert_refused_unmoved(struct dirs *d, const char *named)
{
	struct vs_error err = {0};
	size_t moved = 9;

	assert_int_equal(vs_mig_image_take_pages(d->img, d->pages, &moved, &err), -1);
	assert_int_equal(moved, 0);
	assert_int_equal(err.kind, VS_EK_INVALID);
	if (strstr(err.msg, named) == NULL)
		fail_msg("error '%s' does not name '%s'", err.msg, named);
	assert_true(exists(d->pages, "pages-1.img"));
	assert_false(exists(d->img, "pages-1.img") && !exists(d->pages, "pages-1.img"));
}

static void test_take_refuses_other_files(void **state)
{
	struct dirs *d = *state;

	mkfile(d->pages, "pages-1.img", "pages");
	mkfile(d->pages, "inventory.img", "not a page file");
	assert_refused_unmoved(d, "inventory.img");
}

static void test_take_refuses_symlink(void **state)
{
	struct dirs *d = *state;

	mkfile(d->pages, "pages-1.img", "pages");
	assert_int_equal(symlinkat("/etc/shadow", d->pages, "pagemap-1.img"), 0);
	assert_refused_unmoved(d, "pagemap-1.img");
}

static void test_take_refuses_collision(void **state)
{
	struct dirs *d = *state;

	mkfile(d->pages, "pages-1.img", "pages");
	mkfile(d->pages, "pagemap-2.img", "from the page server");
	mkfile(d->img, "pagemap-2.img", "from rsync");
	assert_refused_unmoved(d, "pagemap-2.img");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_argv_fixed),
	    cmocka_unit_test(test_argv_args_refused),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test_setup_teardown(test_take_moves_pages, dirs_setup, dirs_teardown),
	    cmocka_unit_test_setup_teardown(test_take_refuses_other_files, dirs_setup,
					    dirs_teardown),
	    cmocka_unit_test_setup_teardown(test_take_refuses_symlink, dirs_setup, dirs_teardown),
	    cmocka_unit_test_setup_teardown(test_take_refuses_collision, dirs_setup, dirs_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
