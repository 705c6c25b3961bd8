/* daemon: the id-range registry and the containers directory
 * (daemon/store.c), in a private temporary directory. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/daemon.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"

#define ROOT_A "/var/lib/vsd-a"
#define ROOT_B "/srv/vsd b" /* roots may hold spaces */

struct fixture {
	char dir[64];
	char *registry;
	char *containers;
};

/* Remove a directory tree made by these tests (plain files and dirs). */
static void rm_tree(const char *path)
{
	cleanup_dir DIR *d = opendir(path);
	struct dirent *e;

	while (d != NULL && (e = readdir(d)) != NULL) {
		cleanup_free char *p = NULL;
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		p = xasprintf("%s/%s", path, e->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rm_tree(p);
		else
			unlink(p);
	}
	rmdir(path);
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/vsd-test-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->registry = xasprintf("%s/idmaps", f->dir);
	f->containers = xasprintf("%s/containers", f->dir);
	if (mkdir(f->registry, 0700) < 0 || mkdir(f->containers, 0700) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rm_tree(f->dir);
	free(f->registry);
	free(f->containers);
	free(f);
	return 0;
}

static bool file_exists(const char *dir, uint32_t base)
{
	cleanup_free char *p = xasprintf("%s/%u", dir, base);
	struct stat st;

	return stat(p, &st) == 0;
}

static void test_claim_distinct_and_release(void **state)
{
	struct fixture *f = *state;
	struct vs_error err = {0};
	cleanup_free char *text = NULL;
	cleanup_free char *p = NULL;
	uint32_t a, b, c;

	assert_int_equal(vsd_idmap_claim(f->registry, ROOT_A, "web1", &a, &err), 0);
	assert_int_equal(vsd_idmap_claim(f->registry, ROOT_B, "web1", &b, &err), 0);
	assert_int_equal(a, 1000000);
	assert_int_equal(b, 1000000 + 65536);
	p = xasprintf("%s/%u", f->registry, b);
	assert_int_equal(vs_read_file_at(AT_FDCWD, p, 4096, &text, NULL, &err), 0);
	assert_string_equal(text, ROOT_B " web1\n");

	/* Only the owner releases. */
	assert_int_equal(vsd_idmap_release(f->registry, a, ROOT_B, "web1", &err), -1);
	assert_int_equal(err.kind, VS_EK_CONFLICT);
	assert_int_equal(vsd_idmap_release(f->registry, a, ROOT_A, "web2", &err), -1);
	assert_true(file_exists(f->registry, a));
	assert_int_equal(vsd_idmap_release(f->registry, a, ROOT_A, "web1", &err), 0);
	assert_false(file_exists(f->registry, a));
	/* Releasing twice is fine. */
	assert_int_equal(vsd_idmap_release(f->registry, a, ROOT_A, "web1", &err), 0);

	/* The freed range is the first free one again. */
	assert_int_equal(vsd_idmap_claim(f->registry, ROOT_A, "web3", &c, &err), 0);
	assert_int_equal(c, a);
}

static void test_claim_skips_foreign_files(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *p = xasprintf("%s/1000000", f->registry);
	struct vs_error err = {0};
	uint32_t a;
	int fd;

	/* A half-written claim (crash) still counts as taken. */
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(vsd_idmap_claim(f->registry, ROOT_A, "x", &a, &err), 0);
	assert_int_equal(a, 1065536);
	assert_int_equal(vsd_idmap_claim("/nonexistent/vsd-registry", ROOT_A, "x", &a, &err), -1);
}

/* A claim starts where the last one ended (not at the first range, past
 * every claim), and still takes the first free range after a release. */
static void test_claim_resumes(void **state)
{
	struct fixture *f = *state;
	struct vs_error err = {0};
	cleanup_free char *p = NULL;
	uint32_t b[4];

	for (int i = 0; i < 3; i++)
		assert_int_equal(vsd_idmap_claim(f->registry, ROOT_A, "w", &b[i], &err), 0);
	assert_int_equal(b[2], 1000000 + 2 * 65536);
	assert_int_equal(vsd_idmap_release(f->registry, b[1], ROOT_A, "w", &err), 0);
	assert_int_equal(vsd_idmap_claim(f->registry, ROOT_A, "w", &b[3], &err), 0);
	assert_int_equal(b[3], b[1]);
	assert_int_equal(vsd_idmap_claim(f->registry, ROOT_A, "w", &b[3], &err), 0);
	assert_int_equal(b[3], 1000000 + 3 * 65536);
	/* Emptied behind its back (or another registry at this path): the
	 * range below the hint is not claimed, so it starts over. */
	for (int i = 0; i < 4; i++) {
		free(p);
		p = xasprintf("%s/%u", f->registry, 1000000 + i * 65536);
		unlink(p);
	}
	assert_int_equal(vsd_idmap_claim(f->registry, ROOT_A, "w", &b[0], &err), 0);
	assert_int_equal(b[0], 1000000);
}

static const char *const live[] = {"web1", "db", NULL};

/* The fake "containers that exist": web1 with range 1000000, db any. */
static bool keep(void *ud, const char *name, uint32_t base)
{
	for (size_t i = 0; live[i] != NULL; i++)
		if (strcmp(live[i], name) == 0)
			return strcmp(name, "web1") != 0 || base == 1000000;
	return false;
}

static void test_gc_stale_claims(void **state)
{
	struct fixture *f = *state;
	struct vs_error err = {0};
	uint32_t web1, gone, db, other, web1_dup;
	unsigned released = 99;

	assert_int_equal(vsd_idmap_claim(f->registry, ROOT_A, "web1", &web1, &err), 0);
	assert_int_equal(vsd_idmap_claim(f->registry, ROOT_A, "gone", &gone, &err), 0);
	assert_int_equal(vsd_idmap_claim(f->registry, ROOT_A, "db", &db, &err), 0);
	assert_int_equal(vsd_idmap_claim(f->registry, ROOT_B, "gone", &other, &err), 0);
	/* A second claim for web1 its config does not use (crash mid-create). */
	assert_int_equal(vsd_idmap_claim(f->registry, ROOT_A, "web1", &web1_dup, &err), 0);
	assert_int_equal(web1, 1000000);

	assert_int_equal(vsd_idmap_gc(f->registry, ROOT_A, keep, NULL, &released, &err), 0);
	assert_int_equal(released, 2);
	assert_true(file_exists(f->registry, web1));
	assert_true(file_exists(f->registry, db));
	assert_false(file_exists(f->registry, gone));
	assert_false(file_exists(f->registry, web1_dup));
	/* Another root's claims are never touched. */
	assert_true(file_exists(f->registry, other));

	assert_int_equal(vsd_idmap_gc(f->registry, ROOT_A, keep, NULL, &released, &err), 0);
	assert_int_equal(released, 0);
}

static void test_owner_parse(void **state)
{
	struct fixture *f = *state;
	cleanup_close int dfd = open(f->registry, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	static const struct {
		const char *file, *text;
		bool ok;
	} cases[] = {
	    {"2000000", "/r web1\n", true},  {"2065536", "/r web1", false},
	    {"2131072", "r web1\n", false},  {"2196608", "/r Web1\n", false},
	    {"2262144", "/rweb1x\n", false}, {"2327680", "\n", false},
	    {"2393216", "/a b c-1\n", true},
	};

	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		cleanup_free char *root = NULL;
		cleanup_free char *name = NULL;
		assert_int_equal(vs_atomic_write_at(dfd, cases[i].file, cases[i].text,
						    strlen(cases[i].text), 0644, NULL),
				 0);
		assert_int_equal(vsd_idmap_owner(dfd, cases[i].file, &root, &name, NULL),
				 cases[i].ok ? 0 : -1);
	}
	{
		cleanup_free char *root = NULL;
		cleanup_free char *name = NULL;
		assert_int_equal(vsd_idmap_owner(dfd, "2393216", &root, &name, NULL), 0);
		assert_string_equal(root, "/a b");
		assert_string_equal(name, "c-1");
	}
}

static void test_store_list_and_load(void **state)
{
	struct fixture *f = *state;
	cleanup_close int cfd = open(f->containers, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int wfd = -1;
	cleanup_strv char **names = NULL;
	struct vs_container_config cfg = {0};
	struct vs_container_config back = {0};
	static char *const init[] = {"/sbin/init", NULL};
	struct vs_error err = {0};
	static const char *const dirs[] = {"web2", "a1", ".web3.creating", "Bad"};

	for (size_t i = 0; i < VS_ARRAY_SIZE(dirs); i++)
		assert_int_equal(mkdirat(cfd, dirs[i], 0700), 0);
	assert_int_equal(vs_atomic_write_at(cfd, "file", "x", 1, 0600, NULL), 0);
	assert_int_equal(vsd_store_list(cfd, &names, &err), 0);
	assert_int_equal(vs_strv_len(names), 2);
	assert_string_equal(names[0], "a1");
	assert_string_equal(names[1], "web2");
	assert_true(vsd_store_exists(cfd, "web2"));
	assert_false(vsd_store_exists(cfd, "web9"));

	assert_int_equal(vsd_store_load(cfd, "web9", &back, &err), -1);
	assert_int_equal(err.kind, VS_EK_NOT_FOUND);
	assert_string_equal(err.msg, "container 'web9' does not exist");
	/* A directory without config.json is broken, not missing. */
	assert_int_equal(vsd_store_load(cfd, "a1", &back, &err), -1);
	assert_int_not_equal(err.kind, VS_EK_NOT_FOUND);

	strcpy(cfg.name, "web2");
	strcpy(cfg.template_name, "deb12");
	strcpy(cfg.hostname, "web2");
	cfg.idmap_uid = cfg.idmap_gid = 1000000;
	cfg.idmap_size = VS_IDMAP_SIZE;
	cfg.init = (char **)init;
	cfg.stop_signal = 15;
	cfg.created_at = 1234;
	wfd = openat(cfd, "web2", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(vsd_store_write_config(wfd, &cfg, &err), 0);
	assert_int_equal(vsd_store_load(cfd, "web2", &back, &err), 0);
	assert_string_equal(back.template_name, "deb12");
	assert_int_equal(back.idmap_uid, 1000000);
	assert_int_equal(back.created_at, 1234);
	assert_string_equal(back.init[0], "/sbin/init");
	vs_config_free(&back);
}

static void test_cgroup_parent(void **state)
{
	cleanup_free char *def = vsd_cgroup_parent_for(VSD_DEFAULT_ROOT);
	cleanup_free char *other = vsd_cgroup_parent_for("/tmp/x");

	/* FNV-1a reference values. */
	assert_int_equal(vsd_fnv1a(""), 0x811c9dc5u);
	assert_int_equal(vsd_fnv1a("a"), 0xe40c292cu);
	assert_int_equal(vsd_fnv1a("foobar"), 0xbf9cf968u);
	assert_string_equal(def, "vsd");
	assert_int_equal(strlen(other), 12);
	assert_int_equal(strncmp(other, "vsd-", 4), 0);
	assert_int_equal(strtoul(other + 4, NULL, 16), vsd_fnv1a("/tmp/x"));
}

/* The one spelling of an incoming migration's staging. */
static void test_incoming_name(void **state)
{
	cleanup_free char *s = vsd_store_incoming("web");

	assert_string_equal(s, ".web.incoming");
	assert_true(vsd_store_is_incoming(s, NULL));
	assert_true(vsd_store_is_incoming(s, "web"));
	assert_false(vsd_store_is_incoming(s, "we"));
	assert_false(vsd_store_is_incoming(s, "webb"));
	assert_false(vsd_store_is_incoming("web", NULL));
	assert_false(vsd_store_is_incoming(".incoming", NULL));
	assert_false(vsd_store_is_incoming("..incoming", NULL));
	assert_false(vsd_store_is_incoming(".we/b.incoming", NULL));
	assert_false(vsd_store_is_incoming(".web.creating", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_claim_distinct_and_release, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claim_skips_foreign_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claim_resumes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gc_stale_claims, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_owner_parse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_store_list_and_load, setup, teardown),
	    cmocka_unit_test(test_cgroup_parent),
	    cmocka_unit_test(test_incoming_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
