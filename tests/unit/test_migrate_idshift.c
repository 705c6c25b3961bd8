/* migrate: moving a CRIU image to another id range (vs_mig_image_shift_ids)
 * on the real busybox image made by CRIU 4.3 here
 * (tests/unit/data/criu-image/good: id range 1000000 x 65536) and on canned
 * cgroup, netdev and userns images built with the pbuf writer. */
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
#include "test_migrate_helpers.h"

#define DATA "tests/unit/data/criu-image/good"
#define FROM 1000000u
#define TO   2000000u
#define N    65536u

static char tmpdir[64];

static int setup(void **state)
{
	strcpy(tmpdir, "/tmp/vsd-test-idshift-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- builders ---- */

static void f_varint(struct vs_mig_pbw *w, uint32_t num, uint64_t v)
{
	vs_mig_pbw_varint(w, (uint64_t)num << 3);
	vs_mig_pbw_varint(w, v);
}

static void f_bytes(struct vs_mig_pbw *w, uint32_t num, const void *b, size_t n)
{
	vs_mig_pbw_varint(w, (uint64_t)num << 3 | 2);
	vs_mig_pbw_varint(w, n);
	vs_mig_pbw_bytes(w, b, n);
}

static void f_msg(struct vs_mig_pbw *w, uint32_t num, struct vs_mig_pbw *sub)
{
	f_bytes(w, num, sub->p, sub->len);
	vs_mig_pbw_free(sub);
}

/* An image file: the common magic, an own magic, then the entries. */
static void image(struct vs_mig_pbw *img, struct vs_mig_pbw *entry)
{
	uint32_t magics[2] = {VS_MIG_IMG_COMMON_MAGIC, 0x12345678u};
	uint32_t n = (uint32_t)entry->len;

	if (img->len == 0)
		vs_mig_pbw_bytes(img, magics, sizeof(magics));
	vs_mig_pbw_bytes(img, &n, 4);
	vs_mig_pbw_bytes(img, entry->p, entry->len);
	vs_mig_pbw_free(entry);
}

static void perms(struct vs_mig_pbw *w, uint32_t num, uint32_t uid, uint32_t gid)
{
	struct vs_mig_pbw p = {0};

	f_varint(&p, 1, 040755);
	f_varint(&p, 2, uid);
	f_varint(&p, 3, gid);
	f_msg(w, num, &p);
}

/* cgroup_entry: a set, one controller with the delegated top (host root's)
 * and a child of the container's root with a property of another of its
 * users, plus a field vsd does not know. */
static void cgroup_img(struct vs_mig_pbw *img)
{
	struct vs_mig_pbw e = {0}, set = {0}, ctl = {0}, top = {0}, child = {0}, prop = {0};

	f_varint(&set, 1, 1);
	f_msg(&e, 1, &set);
	f_bytes(&prop, 1, "memory.max", 10);
	f_bytes(&prop, 2, "max", 3);
	perms(&prop, 3, FROM + 5, FROM + 6);
	f_bytes(&child, 1, "c", 1);
	f_msg(&child, 3, &prop);
	perms(&child, 4, FROM, FROM);
	f_varint(&child, 99, 7);
	f_bytes(&top, 1, "vsd-x", 5);
	f_msg(&top, 2, &child);
	perms(&top, 4, 0, 0);
	f_bytes(&ctl, 1, "memory", 6);
	f_msg(&ctl, 2, &top);
	f_msg(&e, 2, &ctl);
	image(img, &e);
}

/* net_device_entry for a tun device: owner -1 (none, a 10-byte varint),
 * group one of the container's. */
static void netdev_img(struct vs_mig_pbw *img)
{
	struct vs_mig_pbw e = {0}, tun = {0};

	f_varint(&e, 1, 5);
	f_varint(&e, 2, 3);
	f_bytes(&e, 5, "tun0", 4);
	f_varint(&tun, 1, 0x1001);
	f_varint(&tun, 2, (uint64_t)(int64_t)-1);
	f_varint(&tun, 3, FROM + 1);
	f_varint(&tun, 4, 0);
	f_varint(&tun, 5, 212992);
	f_msg(&e, 6, &tun);
	image(img, &e);
}

static void userns_img(struct vs_mig_pbw *img, uint32_t lower, uint32_t count)
{
	struct vs_mig_pbw e = {0}, u = {0}, g = {0};

	f_varint(&u, 1, 0);
	f_varint(&u, 2, lower);
	f_varint(&u, 3, count);
	f_varint(&g, 1, 0);
	f_varint(&g, 2, lower);
	f_varint(&g, 3, count);
	f_msg(&e, 1, &u);
	f_msg(&e, 2, &g);
	image(img, &e);
}

/* ---- reading back ---- */

/* The value of the field at path (numbers, each in the first entry's
 * first matching nested message), or UINT64_MAX. */
static uint64_t dig(const struct vs_mig_pbw *img, const uint32_t *path, size_t n)
{
	struct vs_mig_pb entries, m;
	struct vs_mig_pb_field f;
	uint32_t magic;

	assert_int_equal(vs_mig_img_open(img->p, img->len, &entries, &magic), 0);
	assert_int_equal(vs_mig_img_next(&entries, &m), 1);
	for (size_t k = 0; k < n; k++) {
		bool found = false;
		while (!found && vs_mig_pb_next(&m, &f) > 0)
			found = f.num == path[k];
		if (!found)
			return UINT64_MAX;
		if (k + 1 < n)
			m = f.sub;
	}
	return f.v;
}

static void shift(const char *name, const struct vs_mig_pbw *in, uint32_t from, uint32_t to,
		  struct vs_mig_pbw *out)
{
	struct vs_error err = {0};

	if (vs_mig_image_shift_file(name, in->p, in->len, from, to, N, out, &err) < 0)
		fail_msg("shift %s: %s", name, err.msg);
}

static void test_cgroup_perms(void **state)
{
	static const uint32_t top_uid[] = {2, 2, 4, 2};
	static const uint32_t child_uid[] = {2, 2, 2, 4, 2};
	static const uint32_t prop_gid[] = {2, 2, 2, 3, 3, 3};
	static const uint32_t unknown[] = {2, 2, 2, 99};
	struct vs_mig_pbw img = {0}, out = {0}, back = {0};

	cgroup_img(&img);
	shift("cgroup.img", &img, FROM, TO, &out);
	assert_int_equal(dig(&out, top_uid, 4), 0);
	assert_int_equal(dig(&out, child_uid, 5), TO);
	assert_int_equal(dig(&out, prop_gid, 6), TO + 6);
	assert_int_equal(dig(&out, unknown, 4), 7);
	shift("cgroup.img", &out, TO, FROM, &back);
	assert_int_equal(back.len, img.len);
	assert_memory_equal(back.p, img.p, img.len);
	vs_mig_pbw_free(&img);
	vs_mig_pbw_free(&out);
	vs_mig_pbw_free(&back);
}

static void test_netdev_tun(void **state)
{
	static const uint32_t owner[] = {6, 2}, group[] = {6, 3}, sndbuf[] = {6, 5};
	struct vs_mig_pbw img = {0}, out = {0}, same = {0};

	netdev_img(&img);
	shift("netdev-9.img", &img, FROM, TO, &out);
	assert_int_equal(dig(&out, owner, 2), UINT64_MAX); /* -1 as a varint */
	assert_int_equal(dig(&out, group, 2), TO + 1);
	assert_int_equal(dig(&out, sndbuf, 2), 212992);
	/* an image vsd does not shift, and one whose ids lie elsewhere */
	shift("core-1.img", &img, FROM, TO, &same);
	assert_memory_equal(same.p, img.p, img.len);
	vs_mig_pbw_free(&same);
	shift("netdev-9.img", &img, 5000000, TO, &same);
	assert_memory_equal(same.p, img.p, img.len);
	vs_mig_pbw_free(&img);
	vs_mig_pbw_free(&out);
	vs_mig_pbw_free(&same);
}

static void expect_refused(const char *name, const struct vs_mig_pbw *img, const char *msg)
{
	struct vs_error err = {0};
	struct vs_mig_pbw out = {0};

	assert_int_equal(vs_mig_image_shift_file(name, img->p, img->len, FROM, TO, N, &out, &err),
			 -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_string_equal(err.msg, msg);
	assert_null(out.p);
}

static void test_userns_refusals(void **state)
{
	struct vs_mig_pbw img = {0};

	userns_img(&img, 100000, N);
	expect_refused("userns-3.img", &img,
		       "image userns-3.img: uid_map \"0 100000 65536\" is not inside the id range "
		       "1000000-1065535");
	vs_mig_pbw_free(&img);
	userns_img(&img, FROM + 1, N); /* runs one past the range */
	expect_refused("userns-3.img", &img,
		       "image userns-3.img: uid_map \"0 1000001 65536\" is not inside the id "
		       "range 1000000-1065535");
	img.len -= 3; /* truncated */
	expect_refused("userns-3.img", &img, "image userns-3.img: malformed");
	vs_mig_pbw_free(&img);
	expect_refused("userns-3.img", &img, "image userns-3.img: malformed"); /* empty */
}

/* ---- a real image directory ---- */

static void copy_dir(const char *from, int dfd)
{
	DIR *d = opendir(from);
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char *data = NULL;
		size_t len;
		if (e->d_name[0] == '.')
			continue;
		assert_int_equal(vs_read_file_at(dirfd(d), e->d_name, 1 << 20, &data, &len, NULL),
				 0);
		assert_int_equal(vs_atomic_write_at(dfd, e->d_name, data, len, 0600, NULL), 0);
		free(data);
	}
	closedir(d);
}

static int diff(int dfd, const char *name)
{
	char *a = NULL, *b = NULL;
	size_t la, lb;
	int r;

	assert_int_equal(vs_read_file_at(AT_FDCWD, name, 1 << 20, &a, &la, NULL), 0);
	assert_int_equal(vs_read_file_at(dfd, strrchr(name, '/') + 1, 1 << 20, &b, &lb, NULL), 0);
	r = la != lb || memcmp(a, b, la) != 0;
	free(a);
	free(b);
	return r;
}

static int check(int dfd, uint32_t first, struct vs_error *err)
{
	struct vs_mig_image_policy pol = test_mig_policy(first);

	return vs_mig_image_check(dfd, &pol, err);
}

static void test_real_image_round_trip(void **state)
{
	static const char *const same[] = {DATA "/core-1.img", DATA "/ids-1.img",
					   DATA "/inventory.img", DATA "/mountpoints-14.img"};
	struct vs_error err = {0};
	struct stat st;
	int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(dfd >= 0);
	copy_dir(DATA, dfd);
	assert_int_equal(check(dfd, FROM, &err), 0);
	assert_int_equal(vs_mig_image_shift_ids(dfd, FROM, TO, N, &err), 0);
	assert_int_equal(check(dfd, TO, &err), 0);
	assert_int_equal(check(dfd, FROM, &err), -1);
	assert_non_null(strstr(err.msg, "uid_map \"0 2000000 65536\" is not the configured"));
	assert_true(diff(dfd, DATA "/userns-15.img"));
	for (size_t i = 0; i < VS_ARRAY_SIZE(same); i++)
		assert_false(diff(dfd, same[i]));
	assert_int_equal(fstatat(dfd, "userns-15.img", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* a range the image is not in: refused, nothing written */
	assert_int_equal(vs_mig_image_shift_ids(dfd, FROM, TO, N, &err), -1);
	assert_non_null(strstr(err.msg, "is not inside the id range 1000000-1065535"));
	assert_int_equal(check(dfd, TO, &err), 0);
	/* and back: byte for byte what CRIU wrote */
	assert_int_equal(vs_mig_image_shift_ids(dfd, TO, FROM, N, &err), 0);
	assert_false(diff(dfd, DATA "/userns-15.img"));
	close(dfd);
}

static void test_dir_refusals(void **state)
{
	struct vs_error err = {0};
	int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct vs_mig_pbw img = {0};

	assert_int_equal(vs_mig_image_shift_ids(dfd, FROM, TO, 0, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_int_equal(vs_mig_image_shift_ids(dfd, FROM, UINT32_MAX - 5, N, &err), -1);
	cgroup_img(&img);
	assert_int_equal(vs_atomic_write_at(dfd, "cgroup.img", img.p, img.len, 0600, NULL), 0);
	assert_int_equal(vs_mig_image_shift_ids(dfd, FROM, TO, N, &err), -1);
	assert_string_equal(err.msg, "image: no userns-*.img (not the image of a container in a "
				     "user namespace)");
	char *data = NULL;
	size_t len;
	assert_int_equal(vs_read_file_at(dfd, "cgroup.img", 1 << 20, &data, &len, NULL), 0);
	assert_int_equal(len, img.len);
	assert_memory_equal(data, img.p, len); /* unchanged */
	free(data);
	close(dfd);
	vs_mig_pbw_free(&img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cgroup_perms),
	    cmocka_unit_test(test_netdev_tun),
	    cmocka_unit_test(test_userns_refusals),
	    cmocka_unit_test_setup_teardown(test_real_image_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dir_refusals, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
