/* migrate: the checks of a CRIU image before restore (bounds-checked
 * protobuf reader, namespace/credential/mount rules) on a real busybox
 * image made by CRIU 4.3 here (tests/unit/data/criu-image/good) and on the
 * security review's tamperings of it (userns, caps, capzero, mount: made with
 * tests/integration/cr-tamper.py); and the image digest (seal, verify,
 * every kind of change refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "migrate/mig-private.h"
#include "migrate/vs_migrate.h"
#include "runtime/rt-private.h"
#include "test_migrate_helpers.h"

#define DATA "tests/unit/data/criu-image"

/* The good image's own policy (id range 1000000). */
static struct vs_mig_image_policy policy(void)
{
	return test_mig_policy(1000000);
}

static int check_dir(const char *which, const struct vs_mig_image_policy *pol, struct vs_error *err)
{
	char path[256];
	int fd, rc;

	snprintf(path, sizeof(path), DATA "/%s", which);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	rc = vs_mig_image_check(fd, pol, err);
	close(fd);
	return rc;
}

static void test_good_image_passes(void **state)
{
	struct vs_mig_image_policy pol = policy();
	struct vs_error err = {0};

	assert_int_equal(check_dir("good", &pol, &err), 0);
}

static void expect_refused(const char *which, const struct vs_mig_image_policy *pol,
			   const char *needle)
{
	struct vs_error err = {0};

	assert_int_equal(check_dir(which, pol, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("'%s' not in '%s'", needle, err.msg);
}

static void test_tampered_refused(void **state)
{
	struct vs_mig_image_policy pol = policy();

	expect_refused("userns", &pol, "host's user namespace");
	expect_refused("caps", &pol, "beyond the container's bounding set");
	expect_refused("capzero", &pol, "bounding capability set of 0 words, not 2");
	expect_refused("mount", &pol, "mount on /mnt/host");
}

static void test_policy_mismatch_refused(void **state)
{
	struct vs_mig_image_policy pol = policy();

	pol.uid_first = 2000000; /* another container's map */
	expect_refused("good", &pol, "uid_map \"0 1000000 65536\" is not the configured");
	pol = policy();
	pol.n_ext_keys = 3; /* an external mount vsd does not declare */
	expect_refused("good", &pol, "external mount on");
	pol = policy();
	pol.cap_bound &= ~(UINT64_C(1) << 21); /* CAP_SYS_ADMIN */
	expect_refused("good", &pol, "beyond the container's bounding set");
}

/* A core image of one entry: core_entry {mtype 1 (x86_64); tc {task_state,
 * exit_code}}, and a thread_core when with_thread (as CRIU 4.3 writes a
 * zombie: fields 1 and 3 only, task_state 2). */
static void core_img(struct vs_mig_pbw *img, uint32_t task_state, bool with_thread)
{
	struct vs_mig_pbw e = {0}, tc = {0};
	uint32_t magics[2] = {VS_MIG_IMG_COMMON_MAGIC, 0x55105940u}, n;

	vs_mig_pbw_varint(&tc, 1 << 3);
	vs_mig_pbw_varint(&tc, task_state);
	vs_mig_pbw_varint(&tc, 2 << 3);
	vs_mig_pbw_varint(&tc, 768);
	vs_mig_pbw_varint(&e, 1 << 3);
	vs_mig_pbw_varint(&e, 1);
	vs_mig_pbw_varint(&e, 3 << 3 | 2);
	vs_mig_pbw_varint(&e, tc.len);
	vs_mig_pbw_bytes(&e, tc.p, tc.len);
	if (with_thread) { /* a thread_core with no creds */
		vs_mig_pbw_varint(&e, 5 << 3 | 2);
		vs_mig_pbw_varint(&e, 0);
	}
	n = (uint32_t)e.len;
	vs_mig_pbw_bytes(img, magics, sizeof(magics));
	vs_mig_pbw_bytes(img, &n, 4);
	vs_mig_pbw_bytes(img, e.p, e.len);
	vs_mig_pbw_free(&e);
	vs_mig_pbw_free(&tc);
}

/* The good image's files, and core-999.img as given (its last entry). */
static int check_with_core(const struct vs_mig_pbw *core, struct vs_error *err)
{
	struct vs_mig_image_policy pol = policy();
	struct vs_mig_img_file files[64];
	char *names[64];
	size_t n = 0;
	struct dirent *e;
	DIR *d = opendir(DATA "/good");
	int dfd, rc;

	assert_non_null(d);
	dfd = dirfd(d);
	while ((e = readdir(d)) != NULL && n < 63) {
		char *data = NULL;
		size_t len = 0;

		if (e->d_name[0] == '.' ||
		    vs_read_file_at(dfd, e->d_name, 1 << 24, &data, &len, NULL) < 0)
			continue;
		names[n] = xstrdup(e->d_name);
		files[n] = (struct vs_mig_img_file){names[n], (const uint8_t *)data, len};
		n++;
	}
	closedir(d);
	files[n++] = (struct vs_mig_img_file){"core-999.img", core->p, core->len};
	rc = vs_mig_image_check_files(files, n, &pol, err);
	for (size_t i = 0; i + 1 < n; i++) {
		free(names[i]);
		free((void *)files[i].data);
	}
	return rc;
}

/* A zombie (a shell's child that exited, not yet waited for) has no
 * thread: it passes; a live task without one does not. */
static void test_zombie_core(void **state)
{
	struct vs_mig_pbw img = {0};
	struct vs_error err = {0};

	core_img(&img, 2, false);
	if (check_with_core(&img, &err) != 0)
		fail_msg("a zombie's core refused: %s", err.msg);
	vs_mig_pbw_free(&img);
	core_img(&img, 1, false);
	assert_int_equal(check_with_core(&img, &err), -1);
	assert_non_null(strstr(err.msg, "core-999.img: malformed (no thread_core)"));
	vs_mig_pbw_free(&img);
	/* Dead with a thread_core: its creds are still checked. */
	core_img(&img, 2, true);
	assert_int_equal(check_with_core(&img, &err), -1);
	assert_non_null(strstr(err.msg, "no creds"));
	vs_mig_pbw_free(&img);
}

static void test_pb_reader_bounds(void **state)
{
	/* field 1 varint 300; field 2 string "ab"; field 3 packed {1, 2} */
	static const uint8_t ok[] = {0x08, 0xac, 0x02, 0x12, 0x02, 'a',
				     'b',  0x1a, 0x02, 0x01, 0x02};
	static const uint8_t overlong[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
					   0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	static const uint8_t trunc_len[] = {0x12, 0x05, 'a'};
	static const uint8_t field0[] = {0x00, 0x01};
	static const uint8_t group[] = {0x0b};
	struct vs_mig_pb pb = {ok, ok + sizeof(ok)};
	struct vs_mig_pb_field f;
	uint32_t vals[2];
	size_t n = 0;
	char s[3];

	assert_int_equal(vs_mig_pb_next(&pb, &f), 1);
	assert_int_equal(f.num, 1);
	assert_int_equal(f.v, 300);
	assert_int_equal(vs_mig_pb_next(&pb, &f), 1);
	assert_true(vs_mig_pb_str(&f, s, sizeof(s)));
	assert_string_equal(s, "ab");
	assert_false(vs_mig_pb_str(&f, s, 2));
	assert_int_equal(vs_mig_pb_next(&pb, &f), 1);
	assert_int_equal(vs_mig_pb_u32s(&f, vals, 2, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(vals[1], 2);
	assert_int_equal(vs_mig_pb_u32s(&f, vals, 2, &n), -1); /* full */
	assert_int_equal(vs_mig_pb_next(&pb, &f), 0);

	pb = (struct vs_mig_pb){overlong, overlong + sizeof(overlong)};
	assert_int_equal(vs_mig_pb_next(&pb, &f), -1);
	pb = (struct vs_mig_pb){trunc_len, trunc_len + sizeof(trunc_len)};
	assert_int_equal(vs_mig_pb_next(&pb, &f), -1);
	pb = (struct vs_mig_pb){field0, field0 + sizeof(field0)};
	assert_int_equal(vs_mig_pb_next(&pb, &f), -1);
	pb = (struct vs_mig_pb){group, group + sizeof(group)};
	assert_int_equal(vs_mig_pb_next(&pb, &f), -1);
}

static void test_img_entries_bounds(void **state)
{
	/* common magic, own magic, an entry claiming 100 bytes */
	static const uint8_t img[] = {0x19, 0x43, 0x56, 0x54, 1, 2, 3, 4, 100, 0, 0, 0, 0x08};
	struct vs_mig_pb entries, msg;
	uint32_t magic;

	assert_int_equal(vs_mig_img_open(img, sizeof(img), &entries, &magic), 0);
	assert_int_equal(magic, 0x04030201);
	assert_int_equal(vs_mig_img_next(&entries, &msg), -1);
	assert_int_equal(vs_mig_img_open(img, 6, &entries, &magic), -1);
}

/* ---- digest ---- */

static char tmpdir[64];

static int digest_setup(void **state)
{
	strcpy(tmpdir, "/tmp/vsd-test-digest-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return 0;
}

static int digest_teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void put(int dfd, const char *name, const char *text)
{
	assert_int_equal(vs_atomic_write_at(dfd, name, text, strlen(text), 0600, NULL), 0);
}

static void expect_verify(int dfd, const uint8_t *key, const char *needle)
{
	struct vs_error err = {0};
	int rc = vs_mig_image_verify(dfd, key, &err);

	if (needle == NULL) {
		if (rc != 0)
			fail_msg("verify failed: %s", err.msg);
		return;
	}
	assert_int_equal(rc, -1);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("'%s' not in '%s'", needle, err.msg);
}

static void test_digest_seal_verify(void **state)
{
	uint8_t key[VS_MIG_KEY_LEN], other[VS_MIG_KEY_LEN];
	int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct vs_error err = {0};

	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));
	put(dfd, "pages-1.img", "secret memory");
	put(dfd, "core-1.img", "core");
	assert_int_equal(mkdirat(dfd, "layer", 0700), 0);
	expect_verify(dfd, key, "no vsd-digest.json");
	assert_int_equal(vs_mig_image_seal(dfd, key, &err), 0);
	expect_verify(dfd, key, NULL);
	/* CRIU's restore log is written into the image later: not covered. */
	put(dfd, "restore.log", "log");
	expect_verify(dfd, key, NULL);
	expect_verify(dfd, other, "bad signature");
	put(dfd, "pages-1.img", "secret memorY"); /* same size */
	expect_verify(dfd, key, "pages-1.img changed");
	put(dfd, "pages-1.img", "secret memory");
	expect_verify(dfd, key, NULL);
	put(dfd, "extra.img", "x");
	expect_verify(dfd, key, "extra file extra.img");
	unlinkat(dfd, "extra.img", 0);
	unlinkat(dfd, "core-1.img", 0);
	expect_verify(dfd, key, "core-1.img missing");
	put(dfd, "core-1.img", "core");
	expect_verify(dfd, key, NULL);
	/* The digest file itself edited (a listed hash changed): signature. */
	{
		char *text = NULL;
		size_t len;
		assert_int_equal(
		    vs_read_file_at(dfd, VS_MIG_DIGEST_FILE, 1 << 20, &text, &len, NULL), 0);
		char *p = strstr(text, "\"size\"");
		assert_non_null(p);
		p = strchr(p, ':') + 1;
		while (*p == ' ')
			p++;
		*p = *p == '1' ? '2' : '1';
		put(dfd, VS_MIG_DIGEST_FILE, text);
		free(text);
		expect_verify(dfd, key, "bad signature");
		put(dfd, VS_MIG_DIGEST_FILE, "{\"format\": 1}");
		expect_verify(dfd, key, "malformed");
	}
	close(dfd);
}

static void relink(int dfd, const char *name, const char *target)
{
	unlinkat(dfd, name, 0);
	assert_int_equal(symlinkat(target, dfd, name), 0);
}

/* An image with two pre-copy rounds: the rounds' pages and the parent
 * links are sealed; a link that leads anywhere but the previous round
 * inside the image is refused, by the seal and by the verification. */
static void test_digest_rounds(void **state)
{
	uint8_t key[VS_MIG_KEY_LEN];
	int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct vs_error err = {0};
	int r1, r2;

	memset(key, 7, sizeof(key));
	put(dfd, "core-1.img", "core");
	put(dfd, "pages-3.img", "final pages");
	assert_int_equal(mkdirat(dfd, "1", 0700), 0);
	assert_int_equal(mkdirat(dfd, "2", 0700), 0);
	r1 = openat(dfd, "1", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r2 = openat(dfd, "2", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	put(r1, "pages-1.img", "round one");
	put(r1, "page-server.log", "not sealed");
	put(r2, "pages-2.img", "round two");
	relink(r2, "parent", "../1");
	relink(dfd, "parent", "2");
	if (vs_mig_image_seal(dfd, key, &err) != 0)
		fail_msg("seal refused: %s", err.msg);
	expect_verify(dfd, key, NULL);
	/* A round's pages are covered like the top's. */
	put(r1, "pages-1.img", "round 0ne");
	expect_verify(dfd, key, "1/pages-1.img changed");
	put(r1, "pages-1.img", "round one");
	expect_verify(dfd, key, NULL);
	put(r2, "core-1.img", "x");
	expect_verify(dfd, key, "2/core-1.img in a round is not a page file");
	unlinkat(r2, "core-1.img", 0);
	put(r2, "pages-9.img", "x");
	expect_verify(dfd, key, "extra file 2/pages-9.img");
	unlinkat(r2, "pages-9.img", 0);
	/* Crafted parent links: out of the image, absolute, the wrong round,
	 * a second link. */
	relink(r2, "parent", "../../../etc");
	expect_verify(dfd, key, "in round 2 points to '../../../etc'");
	memset(&err, 0, sizeof(err));
	assert_int_equal(vs_mig_image_seal(dfd, key, &err), -1);
	assert_non_null(strstr(err.msg, "points to '../../../etc'"));
	relink(r2, "parent", "/etc");
	expect_verify(dfd, key, "points to '/etc'");
	relink(r2, "parent", "../1");
	relink(dfd, "parent", "1");
	expect_verify(dfd, key, "at the top points to '1'");
	relink(dfd, "parent", "2");
	expect_verify(dfd, key, NULL);
	relink(r1, "parent", "../0");
	expect_verify(dfd, key, "unexpected parent link in round 1");
	unlinkat(r1, "parent", 0);
	relink(dfd, "pagemap-1.img", "2/pages-2.img");
	expect_verify(dfd, key, "pagemap-1.img is neither a file nor a directory");
	unlinkat(dfd, "pagemap-1.img", 0);
	/* A round removed: the top's link dangles and the chain is short. */
	assert_int_equal(renameat(dfd, "2", dfd, "3"), 0);
	expect_verify(dfd, key, "round 2 is missing");
	assert_int_equal(renameat(dfd, "3", dfd, "2"), 0);
	expect_verify(dfd, key, NULL);
	/* The digest edited to name another link target: signature. */
	{
		char *text = NULL;
		size_t len;
		char *p;
		assert_int_equal(
		    vs_read_file_at(dfd, VS_MIG_DIGEST_FILE, 1 << 20, &text, &len, NULL), 0);
		p = strstr(text, "\"../1\"");
		assert_non_null(p);
		p[4] = '2';
		put(dfd, VS_MIG_DIGEST_FILE, text);
		free(text);
		expect_verify(dfd, key, "bad signature");
	}
	close(r1);
	close(r2);
	close(dfd);
}

static void test_secure_and_node_key(void **state)
{
	int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint8_t k1[VS_MIG_KEY_LEN], k2[VS_MIG_KEY_LEN];
	struct stat st;

	put(dfd, "pages-1.img", "x");
	fchmodat(dfd, "pages-1.img", 0644, 0);
	fchmod(dfd, 0755);
	assert_int_equal(vs_mig_image_secure(dfd, NULL), 0);
	assert_int_equal(fstatat(dfd, "pages-1.img", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(fstat(dfd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	if (geteuid() == 0) {
		assert_int_equal(vs_mig_node_key(tmpdir, k1, NULL), 0);
		assert_int_equal(vs_mig_node_key(tmpdir, k2, NULL), 0);
		assert_memory_equal(k1, k2, sizeof(k1));
		assert_int_equal(fstatat(dfd, VS_MIG_KEY_FILE, &st, 0), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		fchmodat(dfd, VS_MIG_KEY_FILE, 0644, 0);
		assert_int_equal(vs_mig_node_key(tmpdir, k2, NULL), -1);
	}
	close(dfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_image_passes),
	    cmocka_unit_test(test_tampered_refused),
	    cmocka_unit_test(test_policy_mismatch_refused),
	    cmocka_unit_test(test_zombie_core),
	    cmocka_unit_test(test_pb_reader_bounds),
	    cmocka_unit_test(test_img_entries_bounds),
	    cmocka_unit_test_setup_teardown(test_digest_seal_verify, digest_setup, digest_teardown),
	    cmocka_unit_test_setup_teardown(test_digest_rounds, digest_setup, digest_teardown),
	    cmocka_unit_test_setup_teardown(test_secure_and_node_key, digest_setup,
					    digest_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
