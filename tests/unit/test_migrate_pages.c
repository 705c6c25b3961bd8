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
#include "migrate/mig-private.h"
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
	assert_int_equal(
	    vs_mig_page_server_argv("/opt/vsd/criu/bin/criu", 0, DIR_, NULL, &argv, &err), 0);
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
	assert_int_equal(vs_mig_page_server_argv("/usr/sbin/criu", 1, DIR_, "1", &argv, &err), -1);
	assert_null(argv);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_non_null(strstr(err.msg, "args"));
	memset(&err, 0, sizeof(err));
	assert_int_equal(vs_mig_page_server_argv(NULL, 0, DIR_, NULL, &argv, &err), -1);
	assert_null(argv);
	assert_int_equal(err.kind, VS_EK_UNSUPPORTED);
}

/* Post-copy's lazy-pages daemon: a fixed command, its work directory (the
 * unix socket restore meets it at) apart from the image; arguments from
 * the source refused. */
static void test_lazy_argv(void **state)
{
	struct vs_error err = {0};
	char **argv = NULL;
	const char *want[] = {"/opt/vsd/criu/bin/criu",
			      "lazy-pages",
			      "-D",
			      DIR_ "/img",
			      "-W",
			      "/run/vsd/containers/c1/lazy-pages",
			      "-o",
			      VS_MIG_LAZY_LOG,
			      "-v4",
			      "--page-server",
			      "--ps-socket",
			      "0",
			      "--status-fd",
			      "2",
			      NULL};
	size_t i;

	(void)state;
	assert_int_equal(vs_mig_lazy_pages_argv("/opt/vsd/criu/bin/criu", 0, DIR_ "/img",
						"/run/vsd/containers/c1/lazy-pages", &argv, &err),
			 0);
	for (i = 0; want[i] != NULL; i++) {
		assert_non_null(argv[i]);
		assert_string_equal(argv[i], want[i]);
	}
	assert_null(argv[i]);
	vs_strv_free(argv);
	argv = (char **)1;
	assert_int_equal(vs_mig_lazy_pages_argv("/usr/sbin/criu", 2, DIR_, "/w", &argv, &err), -1);
	assert_null(argv);
	assert_int_equal(err.kind, VS_EK_INVALID);
	memset(&err, 0, sizeof(err));
	assert_int_equal(vs_mig_lazy_pages_argv(NULL, 0, DIR_, "/w", &argv, &err), -1);
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

/* The move refused with an error naming named, and nothing counted. */
static void take_refused(struct dirs *d, const char *named)
{
	struct vs_error err = {0};
	size_t moved = 9;

	assert_int_equal(vs_mig_image_take_pages(d->img, d->pages, &moved, &err), -1);
	assert_int_equal(moved, 0);
	assert_int_equal(err.kind, VS_EK_INVALID);
	if (strstr(err.msg, named) == NULL)
		fail_msg("error '%s' does not name '%s'", err.msg, named);
}

/* A refused directory moves nothing. */
static void assert_refused_unmoved(struct dirs *d, const char *named)
{
	take_refused(d, named);
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

/* ---- pre-copy rounds ---- */

static void test_round_names(void **state)
{
	(void)state;
	assert_int_equal(vs_mig_round_number("1"), 1);
	assert_int_equal(vs_mig_round_number("9"), 9);
	assert_int_equal(vs_mig_round_number("16"), VS_MIG_ROUNDS_MAX);
	assert_int_equal(vs_mig_round_number("17"), 0);
	assert_int_equal(vs_mig_round_number("0"), 0);
	assert_int_equal(vs_mig_round_number("01"), 0);
	assert_int_equal(vs_mig_round_number("+1"), 0);
	assert_int_equal(vs_mig_round_number("1a"), 0);
	assert_int_equal(vs_mig_round_number("100"), 0);
	assert_int_equal(vs_mig_round_number(""), 0);
	assert_int_equal(vs_mig_round_number("layer"), 0);
}

static void test_parent_link_rule(void **state)
{
	(void)state;
	/* The top names the last round; round K names K-1; round 1 none. */
	assert_true(vs_mig_parent_link_ok(0, 3, "3"));
	assert_true(vs_mig_parent_link_ok(3, 3, "../2"));
	assert_true(vs_mig_parent_link_ok(2, 3, "../1"));
	assert_false(vs_mig_parent_link_ok(1, 3, "../0"));
	assert_false(vs_mig_parent_link_ok(0, 3, "2"));
	assert_false(vs_mig_parent_link_ok(0, 3, "./3"));
	assert_false(vs_mig_parent_link_ok(0, 3, "3/"));
	assert_false(vs_mig_parent_link_ok(0, 3, "/3"));
	assert_false(vs_mig_parent_link_ok(3, 3, "../1"));
	assert_false(vs_mig_parent_link_ok(3, 3, "../../2"));
	assert_false(vs_mig_parent_link_ok(2, 3, "/etc"));
	assert_false(vs_mig_parent_link_ok(4, 3, "../3"));
	assert_false(vs_mig_parent_link_ok(0, 0, "0"));
	assert_false(vs_mig_parent_link_ok(0, 0, ""));
}

static void expect_layout(const struct vs_mig_layout *l, unsigned want, const char *needle)
{
	struct vs_error err = {0};
	unsigned n = 99;
	int rc = vs_mig_layout_check(l, "image", &n, &err);

	if (needle == NULL) {
		if (rc != 0)
			fail_msg("layout refused: %s", err.msg);
		assert_int_equal(n, want);
		return;
	}
	assert_int_equal(rc, -1);
	assert_int_equal(n, 0);
	assert_int_equal(err.kind, VS_EK_INVALID);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("'%s' not in '%s'", needle, err.msg);
}

static void set_link(struct vs_mig_layout *l, unsigned level, const char *target)
{
	vs_mig_layout_link(l, level, target, (ssize_t)strlen(target));
}

static void test_layout_check(void **state)
{
	struct vs_mig_layout l = {0};

	(void)state;
	expect_layout(&l, 0, NULL); /* no rounds, no links: a plain image */
	set_link(&l, 0, "1");
	expect_layout(&l, 0, "unexpected parent link (no rounds)");
	l.round[1] = l.round[2] = true;
	expect_layout(&l, 0, "at the top points to '1'");
	set_link(&l, 0, "2");
	expect_layout(&l, 0, "no parent link in round 2");
	set_link(&l, 2, "../1");
	expect_layout(&l, 2, NULL);
	set_link(&l, 1, "../0");
	expect_layout(&l, 0, "unexpected parent link in round 1");
	l.link[1] = false;
	set_link(&l, 2, "../../../etc");
	expect_layout(&l, 0, "in round 2 points to '../../../etc'");
	set_link(&l, 2, "../1");
	l.round[4] = true;
	expect_layout(&l, 0, "round 3 is missing");
	l.round[4] = false;
	/* A target longer than any right one is recorded as wrong. */
	vs_mig_layout_link(&l, 0, "2/../../../../../../../../x", 27);
	expect_layout(&l, 0, "points to '?'");
	vs_mig_layout_link(&l, 0, "2\0x", 3);
	expect_layout(&l, 0, "points to '?'");
	l.link[0] = false;
	expect_layout(&l, 0, "no parent link at the top");
}

static int opendirat(int dfd, const char *name)
{
	int fd;

	assert_int_equal(mkdirat(dfd, name, 0700), 0);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/* What the target's page servers write for two rounds and the final dump. */
static void two_rounds(struct dirs *d)
{
	int r1 = opendirat(d->pages, "1"), r2 = opendirat(d->pages, "2");

	mkfile(r1, "pagemap-1.img", "map1");
	mkfile(r1, "pages-1.img", "pages1");
	mkfile(r1, VS_MIG_PAGE_SERVER_LOG, "log");
	mkfile(r2, "pagemap-1.img", "map2");
	mkfile(r2, "pages-2.img", "pages2");
	assert_int_equal(symlinkat("../1", r2, VS_MIG_PARENT_LINK), 0);
	mkfile(d->pages, "pagemap-1.img", "map");
	mkfile(d->pages, "pages-3.img", "pages");
	assert_int_equal(symlinkat("2", d->pages, VS_MIG_PARENT_LINK), 0);
	close(r1);
	close(r2);
}

static void test_take_moves_rounds(void **state)
{
	struct dirs *d = *state;
	struct vs_error err = {0};
	size_t moved = 0;
	char buf[16];
	ssize_t n;

	two_rounds(d);
	if (vs_mig_image_take_pages(d->img, d->pages, &moved, &err) != 0)
		fail_msg("refused: %s", err.msg);
	assert_int_equal(moved, 6);
	assert_true(exists(d->img, "1/pages-1.img"));
	assert_true(exists(d->img, "1/" VS_MIG_PAGE_SERVER_LOG));
	assert_true(exists(d->img, "2/pages-2.img"));
	assert_true(exists(d->img, "pages-3.img"));
	n = readlinkat(d->img, VS_MIG_PARENT_LINK, buf, sizeof(buf));
	assert_int_equal(n, 1);
	n = readlinkat(d->img, "2/" VS_MIG_PARENT_LINK, buf, sizeof(buf));
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "../1", 4);
	/* The chain resolves inside the image after the move. */
	assert_true(exists(d->img, "parent/parent/pages-1.img"));
	assert_false(exists(d->pages, "1"));
}

static void assert_rounds_unmoved(struct dirs *d, const char *named)
{
	take_refused(d, named);
	assert_true(exists(d->pages, "pages-3.img"));
	assert_false(exists(d->img, "pages-3.img"));
	assert_false(exists(d->img, "1"));
}

/* A parent link that leads out of the pages (and so out of the image). */
static void test_take_refuses_crafted_parent(void **state)
{
	struct dirs *d = *state;

	two_rounds(d);
	assert_int_equal(unlinkat(d->pages, "2/" VS_MIG_PARENT_LINK, 0), 0);
	assert_int_equal(symlinkat("../../../../etc", d->pages, "2/" VS_MIG_PARENT_LINK), 0);
	assert_rounds_unmoved(d, "points to '../../../../etc'");
	assert_int_equal(unlinkat(d->pages, "2/" VS_MIG_PARENT_LINK, 0), 0);
	assert_int_equal(symlinkat("/etc", d->pages, "2/" VS_MIG_PARENT_LINK), 0);
	assert_rounds_unmoved(d, "points to '/etc'");
}

static void test_take_refuses_round_layouts(void **state)
{
	struct dirs *d = *state;
	int r;

	two_rounds(d);
	/* A subdirectory in a round. */
	assert_int_equal(mkdirat(d->pages, "1/sub", 0700), 0);
	assert_rounds_unmoved(d, "'sub'");
	assert_int_equal(unlinkat(d->pages, "1/sub", AT_REMOVEDIR), 0);
	/* A parent link that is a directory. */
	assert_int_equal(unlinkat(d->pages, VS_MIG_PARENT_LINK, 0), 0);
	assert_int_equal(mkdirat(d->pages, VS_MIG_PARENT_LINK, 0700), 0);
	assert_rounds_unmoved(d, "parent is not a symlink");
	assert_int_equal(unlinkat(d->pages, VS_MIG_PARENT_LINK, AT_REMOVEDIR), 0);
	assert_int_equal(symlinkat("2", d->pages, VS_MIG_PARENT_LINK), 0);
	/* A gap. */
	r = opendirat(d->pages, "4");
	close(r);
	assert_rounds_unmoved(d, "round 3 is missing");
	assert_int_equal(unlinkat(d->pages, "4", AT_REMOVEDIR), 0);
	/* A round the image already holds. */
	r = opendirat(d->img, "1");
	close(r);
	take_refused(d, "1 came both");
	assert_true(exists(d->pages, "1/pages-1.img"));
	assert_false(exists(d->img, "1/pages-1.img"));
}

/* A later round's page server names the round before, which CRIU makes
 * the directory's parent link from. */
static void test_argv_prev(void **state)
{
	struct vs_error err = {0};
	char **argv = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(
	    vs_mig_page_server_argv("/usr/sbin/criu", 0, DIR_ "/3", "../2", &argv, &err), 0);
	while (argv[n] != NULL)
		n++;
	assert_int_equal(n, 13);
	assert_string_equal(argv[9], "--prev-images-dir");
	assert_string_equal(argv[10], "../2");
	assert_string_equal(argv[12], "0");
	vs_strv_free(argv);
}

static void test_stopping_rule(void **state)
{
	static const uint64_t shrinking[] = {25600, 6000, 2500, 1500, 1100, 1050, 1030, 1025};
	static const uint64_t few[] = {25600, 800};
	static const uint64_t grew[] = {25600, 6000, 6000};
	static const uint64_t small[] = {300};

	(void)state;
	assert_int_equal(vs_mig_precopy_next(NULL, 0), VS_MIG_PRECOPY_AGAIN);
	assert_int_equal(vs_mig_precopy_next(shrinking, 1), VS_MIG_PRECOPY_AGAIN);
	assert_int_equal(vs_mig_precopy_next(shrinking, 2), VS_MIG_PRECOPY_AGAIN);
	assert_int_equal(vs_mig_precopy_next(shrinking, 7), VS_MIG_PRECOPY_AGAIN);
	assert_int_equal(vs_mig_precopy_next(shrinking, 8), VS_MIG_PRECOPY_LIMIT);
	assert_int_equal(vs_mig_precopy_next(few, 2), VS_MIG_PRECOPY_FEW);
	assert_int_equal(vs_mig_precopy_next(grew, 3), VS_MIG_PRECOPY_GREW);
	assert_int_equal(vs_mig_precopy_next(small, 1), VS_MIG_PRECOPY_FEW);
	/* Few pages wins over a round that grew from fewer still. */
	{
		static const uint64_t tiny[] = {10, 20};
		assert_int_equal(vs_mig_precopy_next(tiny, 2), VS_MIG_PRECOPY_FEW);
	}
	assert_true(VS_MIG_PRECOPY_ROUNDS < VS_MIG_ROUNDS_MAX);
	assert_string_equal(vs_mig_precopy_reason(VS_MIG_PRECOPY_GREW), "the round did not shrink");
}

static void put_u32(struct vs_mig_pbw *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	vs_mig_pbw_bytes(w, b, 4);
}

/* A stats-dump image: service magic, stats magic, one stats_entry whose
 * dump (field 1) holds the counters given as (field, value) pairs. */
static void stats_image(struct vs_mig_pbw *img, const uint64_t *fv, size_t n, uint32_t magic)
{
	struct vs_mig_pbw dump = {0}, entry = {0};

	for (size_t i = 0; i < n; i++) {
		vs_mig_pbw_varint(&dump, fv[2 * i] << 3);
		vs_mig_pbw_varint(&dump, fv[2 * i + 1]);
	}
	vs_mig_pbw_varint(&entry, (1 << 3) | 2);
	vs_mig_pbw_varint(&entry, dump.len);
	vs_mig_pbw_bytes(&entry, dump.p, dump.len);
	put_u32(img, 0x55105940u);
	put_u32(img, magic);
	put_u32(img, (uint32_t)entry.len);
	vs_mig_pbw_bytes(img, entry.p, entry.len);
	vs_mig_pbw_free(&dump);
	vs_mig_pbw_free(&entry);
}

static void test_stats_pages(void **state)
{
	static const uint64_t both[] = {1, 12, 5, 30000, 6, 4000, 7, 26000, 14, 16};
	static const uint64_t none[] = {1, 12, 5, 30000};
	struct vs_mig_pbw img = {0};
	uint64_t pages = 9;

	(void)state;
	stats_image(&img, both, 5, 0x57093306u);
	assert_int_equal(vs_mig_dump_stats_pages(img.p, img.len, &pages), 0);
	assert_int_equal(pages, 26016);
	/* Cut short anywhere: refused, never read past the end. */
	for (size_t len = 0; len < img.len; len++)
		assert_int_equal(vs_mig_dump_stats_pages(img.p, len, &pages), -1);
	vs_mig_pbw_free(&img);
	stats_image(&img, none, 2, 0x57093306u);
	assert_int_equal(vs_mig_dump_stats_pages(img.p, img.len, &pages), -1);
	vs_mig_pbw_free(&img);
	stats_image(&img, both, 5, 0x12345678u); /* another image's magic */
	assert_int_equal(vs_mig_dump_stats_pages(img.p, img.len, &pages), -1);
	vs_mig_pbw_free(&img);
}

/* A lazy dump's page map: a head, then entries; only those flagged lazy
 * (PE_LAZY, 2) count, by nr_pages (5) where given, else compat_nr_pages. */
static void pagemap_entry(struct vs_mig_pbw *img, const uint64_t *fv, size_t n)
{
	struct vs_mig_pbw e = {0};

	for (size_t i = 0; i < n; i++) {
		vs_mig_pbw_varint(&e, fv[2 * i] << 3);
		vs_mig_pbw_varint(&e, fv[2 * i + 1]);
	}
	put_u32(img, (uint32_t)e.len);
	vs_mig_pbw_bytes(img, e.p, e.len);
	vs_mig_pbw_free(&e);
}

static void test_pagemap_lazy(void **state)
{
	static const uint64_t head[] = {1, 1};
	static const uint64_t lazy[] = {1, 0x7f0000000000, 2, 12288, 4, 2, 5, 12288};
	static const uint64_t present[] = {1, 0x7f1000000000, 2, 40, 4, 4};
	static const uint64_t compat[] = {1, 0x7f2000000000, 2, 9, 4, 2 | 4};
	struct vs_mig_pbw img = {0};
	uint64_t pages = 1;

	(void)state;
	put_u32(&img, 0x54564319u);
	put_u32(&img, 0x56084025u);
	pagemap_entry(&img, head, 1);
	pagemap_entry(&img, lazy, 4);
	pagemap_entry(&img, present, 3);
	pagemap_entry(&img, compat, 3);
	assert_int_equal(vs_mig_pagemap_lazy(img.p, img.len, &pages), 0);
	assert_int_equal(pages, 12297);
	/* Cut short anywhere: refused, never read past the end. */
	for (size_t len = 0; len < 12; len++)
		assert_int_equal(vs_mig_pagemap_lazy(img.p, len, &pages), -1);
	for (size_t len = 13; len < img.len; len++)
		assert_true(vs_mig_pagemap_lazy(img.p, len, &pages) < 0 || pages <= 12297);
	img.p[7] ^= 0xff; /* another image's magic */
	assert_int_equal(vs_mig_pagemap_lazy(img.p, img.len, &pages), -1);
	vs_mig_pbw_free(&img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_argv_fixed),
	    cmocka_unit_test(test_argv_args_refused),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_lazy_argv),
	    cmocka_unit_test(test_pagemap_lazy),
	    cmocka_unit_test_setup_teardown(test_take_moves_pages, dirs_setup, dirs_teardown),
	    cmocka_unit_test_setup_teardown(test_take_refuses_other_files, dirs_setup,
					    dirs_teardown),
	    cmocka_unit_test_setup_teardown(test_take_refuses_symlink, dirs_setup, dirs_teardown),
	    cmocka_unit_test_setup_teardown(test_take_refuses_collision, dirs_setup, dirs_teardown),
	    cmocka_unit_test(test_argv_prev),
	    cmocka_unit_test(test_stopping_rule),
	    cmocka_unit_test(test_stats_pages),
	    cmocka_unit_test(test_round_names),
	    cmocka_unit_test(test_parent_link_rule),
	    cmocka_unit_test(test_layout_check),
	    cmocka_unit_test_setup_teardown(test_take_moves_rounds, dirs_setup, dirs_teardown),
	    cmocka_unit_test_setup_teardown(test_take_refuses_crafted_parent, dirs_setup,
					    dirs_teardown),
	    cmocka_unit_test_setup_teardown(test_take_refuses_round_layouts, dirs_setup,
					    dirs_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
