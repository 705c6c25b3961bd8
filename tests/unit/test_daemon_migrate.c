/* daemon: what both ends of a migration record (daemon/migrate.c): ids, the
 * protocol version header, and records that survive a round trip, are
 * listed, and age out only once finished. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/handlers.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "tests/unit/test_fs_helpers.h"

struct fixture {
	char dir[64];
	struct vsd d;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/vsd-test-mig.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->d.root = f->dir;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rm_rf(f->dir);
	free(f);
	return 0;
}

static void test_ids(void **state)
{
	char id[VSD_MIG_ID_LEN + 1], other[VSD_MIG_ID_LEN + 1];
	struct vs_error err = {0};

	(void)state;
	assert_int_equal(vsd_mig_id_new(id, &err), 0);
	assert_int_equal(vsd_mig_id_new(other, &err), 0);
	assert_true(vsd_mig_id_valid(id));
	assert_string_not_equal(id, other);
	assert_false(vsd_mig_id_valid(""));
	assert_false(vsd_mig_id_valid("0123456789abcdef0123456789ABCDEF"));
	assert_false(vsd_mig_id_valid("0123456789abcdef0123456789abcde"));
	assert_false(vsd_mig_id_valid("../../../../etc/passwd0123456789a"));
}

static const char *hdr_value;

static const char *fake_header(void *conn, const char *name)
{
	(void)conn;
	return strcmp(name, VSD_MIG_HEADER) == 0 ? hdr_value : NULL;
}

static void test_version(void **state)
{
	struct vsd_call c = {.header = fake_header};
	struct vs_error err = {0};

	(void)state;
	hdr_value = "1";
	assert_int_equal(vsd_mig_check_version(&c, &err), 0);
	hdr_value = NULL;
	assert_int_equal(vsd_mig_check_version(&c, &err), -1);
	assert_non_null(strstr(err.msg, "missing the Vsd-Migration header"));
	hdr_value = "2";
	assert_int_equal(vsd_mig_check_version(&c, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_non_null(strstr(err.msg, "version 2 is not supported by this node (it speaks 1)"));
	hdr_value = "1x";
	assert_int_equal(vsd_mig_check_version(&c, &err), -1);
}

static void count(struct vsd *d, const struct vsd_mig_record *r, void *ud)
{
	(void)d;
	(void)r;
	(*(int *)ud)++;
}

/* Replace a record's text (as a crash or an editor could). */
/* ID.recheck under the fixture's migrations/ (made), and whether it is
 * there. */
static void touch_list(const struct fixture *f, const char *id)
{
	char path[160];
	int fd;

	snprintf(path, sizeof(path), "%s/migrations/%s" VSD_MIG_LIST_EXT, f->dir, id);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
}

static bool has_list(const struct fixture *f, const char *id)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/migrations/%s" VSD_MIG_LIST_EXT, f->dir, id);
	return access(path, F_OK) == 0;
}

static void put(const struct fixture *f, const char *id, const char *text)
{
	char dir[128], file[64];
	struct vs_error err = {0};
	int dfd;

	snprintf(dir, sizeof(dir), "%s/migrations", f->dir);
	snprintf(file, sizeof(file), "%s.json", id);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(vs_atomic_write_at(dfd, file, text, strlen(text), 0600, &err), 0);
	close(dfd);
}

static void test_records(void **state)
{
	struct fixture *f = *state;
	struct vsd_mig_record r = {0}, back;
	struct vs_error err = {0};
	struct stat st;
	char path[128];
	int n = 0;

	assert_int_equal(vsd_mig_id_new(r.id, &err), 0);
	snprintf(r.name, sizeof(r.name), "web1");
	snprintf(r.mode, sizeof(r.mode), "live");
	snprintf(r.peer_url, sizeof(r.peer_url), "https://10.0.0.2:8443");
	memset(r.peer_fp, 'a', 64);
	r.source = true;
	r.was_running = true;
	r.state = VSD_MIG_COMMITTING;
	r.idmap_base = 1065536;
	r.src_idmap_base = 1000000;
	assert_int_equal(vsd_mig_record_save(&f->d, &r, &err), 0);
	snprintf(path, sizeof(path), "%s/migrations/%s.json", f->dir, r.id);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(vsd_mig_record_load(&f->d, r.id, &back, &err), 0);
	assert_string_equal(back.name, "web1");
	assert_string_equal(back.mode, "live");
	assert_string_equal(back.peer_url, "https://10.0.0.2:8443");
	assert_string_equal(back.peer_fp, r.peer_fp);
	assert_true(back.source);
	assert_true(back.was_running);
	assert_int_equal(back.state, VSD_MIG_COMMITTING);
	assert_int_equal(back.idmap_base, 1065536);
	assert_int_equal(back.src_idmap_base, 1000000);
	assert_string_equal(vsd_mig_state_name(back.state), "committing");

	/* Unknown and malformed ids are "not found", never a path. */
	assert_int_equal(
	    vsd_mig_record_load(&f->d, "0123456789abcdef0123456789abcdef", &back, &err), -1);
	assert_int_equal(err.kind, VS_EK_NOT_FOUND);
	assert_int_equal(vsd_mig_record_load(&f->d, "../config", &back, &err), -1);
	assert_int_equal(err.kind, VS_EK_NOT_FOUND);

	/* A damaged record is refused, not taken for an empty one. */
	snprintf(path, sizeof(path), "%s/migrations/%s.json", f->dir, r.id);
	put(f, r.id, "{\"id\": 5}");
	assert_int_equal(vsd_mig_record_load(&f->d, r.id, &back, &err), -1);
	assert_int_equal(err.kind, VS_EK_INTERNAL);

	/* Listed while open; an old finished one is removed, an old open one
	 * never. */
	r.state = VSD_MIG_DONE;
	assert_int_equal(vsd_mig_record_save(&f->d, &r, &err), 0);
	assert_int_equal(vsd_mig_record_each(&f->d, count, &n, &err), 0);
	assert_int_equal(n, 1);
	{
		char text[512];
		int len = snprintf(text, sizeof(text),
				   "{\"id\":\"%s\",\"name\":\"web1\",\"role\":\"source\",\"state\":"
				   "\"done\",\"updated_at\":1000}",
				   r.id);
		assert_true(len > 0);
		put(f, r.id, text);
	}
	/* Its second pass's list, left by a source killed in it, goes too. */
	touch_list(f, r.id);
	n = 0;
	assert_int_equal(vsd_mig_record_each(&f->d, count, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(stat(path, &st), -1);
	assert_false(has_list(f, r.id));
	{
		char text[512];
		int len = snprintf(text, sizeof(text),
				   "{\"id\":\"%s\",\"name\":\"web1\",\"role\":\"source\",\"state\":"
				   "\"committing\",\"updated_at\":1000}",
				   r.id);
		assert_true(len > 0);
		put(f, r.id, text);
	}
	n = 0;
	assert_int_equal(vsd_mig_record_each(&f->d, count, &n, &err), 0);
	assert_int_equal(n, 1);
}

/* At vsd's start every second-pass list goes (no move runs yet), with a
 * record or without; records and other names stay. */
static void test_sweep_lists(void **state)
{
	struct fixture *f = *state;
	const char *a = "0123456789abcdef0123456789abcdef", *b = "fedcba9876543210fedcba9876543210";
	char path[160];
	struct vs_error err = {0};
	struct stat st;

	assert_int_equal(vsd_mig_sweep_lists(&f->d, &err), 0); /* no directory yet */
	snprintf(path, sizeof(path), "%s/migrations", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	put(f, a, "{}");
	touch_list(f, a);
	touch_list(f, b);
	snprintf(path, sizeof(path), "%s/migrations/notes.recheck", f->dir);
	close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	assert_int_equal(vsd_mig_sweep_lists(&f->d, &err), 2);
	assert_false(has_list(f, a));
	assert_false(has_list(f, b));
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/migrations/%s.json", f->dir, a);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(vsd_mig_sweep_lists(&f->d, &err), 0);
}

/* The target's failed part survives in its record and its GET answer;
 * the source takes the line only for the part it sent, sanitised. */
static void test_sync_error(void **state)
{
	struct fixture *f = *state;
	struct vsd_mig_record r = {0}, back;
	struct vs_error err = {0};
	struct vs_jgen *g;
	const char *text;
	size_t len;
	char buf[VSD_MIG_SYNC_ERROR_MAX];
	char big[2048];

	assert_int_equal(vsd_mig_id_new(r.id, &err), 0);
	snprintf(r.name, sizeof(r.name), "web1");
	snprintf(r.mode, sizeof(r.mode), "live");
	r.state = VSD_MIG_RESERVED;
	assert_int_equal(vsd_mig_record_save(&f->d, &r, &err), 0);
	g = vs_jgen_new(false);
	vsd_mig_gen_record(g, &r);
	assert_null(strstr(vs_jgen_text(g, &len), "sync_error"));
	vs_jgen_free(g);

	snprintf(r.sync_error, sizeof(r.sync_error),
		 "layer: rsync ended with status 11: rsync: [receiver] write failed on "
		 "\"/x/fill\": No space left on device (28)");
	assert_int_equal(vsd_mig_record_save(&f->d, &r, &err), 0);
	assert_int_equal(vsd_mig_record_load(&f->d, r.id, &back, &err), 0);
	assert_string_equal(back.sync_error, r.sync_error);
	g = vs_jgen_new(false);
	vsd_mig_gen_record(g, &back);
	text = vs_jgen_text(g, &len);
	vsd_mig_sync_cause(text, "layer", buf, sizeof(buf));
	assert_string_equal(buf, "rsync ended with status 11: rsync: [receiver] write failed on "
				 "\"/x/fill\": No space left on device (28)");
	/* Another part's failure is not this one's cause. */
	vsd_mig_sync_cause(text, "image", buf, sizeof(buf));
	assert_string_equal(buf, "");
	vsd_mig_sync_cause(text, "lay", buf, sizeof(buf));
	assert_string_equal(buf, "");
	vs_jgen_free(g);

	/* A remote's text: control characters replaced, bounded. */
	vsd_mig_sync_cause("{\"sync_error\": \"layer: a\\u001b[2Jb\\nc\"}", "layer", buf,
			   sizeof(buf));
	assert_string_equal(buf, "a?[2Jb?c");
	memset(big, 'x', sizeof(big));
	memcpy(big, "{\"sync_error\": \"layer: ", strlen("{\"sync_error\": \"layer: "));
	memcpy(big + sizeof(big) - 3, "\"}", 3);
	vsd_mig_sync_cause(big, "layer", buf, sizeof(buf));
	assert_int_equal(strlen(buf), VSD_MIG_SYNC_ERROR_MAX - 1);
	vsd_mig_sync_cause("not json", "layer", buf, sizeof(buf));
	assert_string_equal(buf, "");
	vsd_mig_sync_cause("{\"sync_error\": 5}", "layer", buf, sizeof(buf));
	assert_string_equal(buf, "");
	/* The target's text: rsync's line, or where to look when it had none
	 * (a push's receiver prints nothing). */
	vsd_mig_sync_error_format(buf, sizeof(buf), r.id, "layer", "rsync", 11,
				  "write failed\n(28)");
	assert_string_equal(buf, "layer: rsync ended with status 11: write failed?(28)");
	vsd_mig_sync_error_format(buf, sizeof(buf), r.id, "layer", "rsync", 12, "");
	assert_non_null(strstr(buf, "layer: rsync ended with status 12: it printed nothing here"));
	assert_non_null(strstr(buf, "see the source's log for migration "));
	assert_non_null(strstr(buf, r.id));
	snprintf(r.sync_error, sizeof(r.sync_error), "%s", buf);
	g = vs_jgen_new(false);
	vsd_mig_gen_record(g, &r);
	vsd_mig_sync_cause(vs_jgen_text(g, &len), "layer", buf, sizeof(buf));
	vs_jgen_free(g);
	assert_non_null(strstr(buf, "rsync ended with status 12: it printed nothing here"));
}

/* A post-copy pull's word survives the record's round trip and shows in
 * the GET answer only when set; the source reads the target's answer
 * into what it may do with its frozen copy (docs/migration.md, "A failed
 * pull"): bring it back only when the target's copy is known gone. */
static void test_pull(void **state)
{
	struct fixture *f = *state;
	struct vsd_mig_record r = {0}, back;
	struct vs_error err = {0};
	struct vs_jgen *g;
	size_t len;

	assert_int_equal(vsd_mig_id_new(r.id, &err), 0);
	snprintf(r.name, sizeof(r.name), "web1");
	snprintf(r.mode, sizeof(r.mode), "live");
	r.state = VSD_MIG_DONE;
	g = vs_jgen_new(false);
	vsd_mig_gen_record(g, &r);
	assert_null(strstr(vs_jgen_text(g, &len), "pull"));
	vs_jgen_free(g);
	snprintf(r.pull, sizeof(r.pull), "lost");
	assert_int_equal(vsd_mig_record_save(&f->d, &r, &err), 0);
	assert_int_equal(vsd_mig_record_load(&f->d, r.id, &back, &err), 0);
	assert_string_equal(back.pull, "lost");
	g = vs_jgen_new(false);
	vsd_mig_gen_record(g, &back);
	assert_int_equal(vsd_mig_pull_word(200, vs_jgen_text(g, &len)), VSD_MIG_PULL_GONE);
	vs_jgen_free(g);

	assert_int_equal(vsd_mig_pull_word(404, NULL), VSD_MIG_PULL_UNKNOWN);
	assert_int_equal(vsd_mig_pull_word(200, "{\"state\": \"failed\"}"), VSD_MIG_PULL_GONE);
	assert_int_equal(vsd_mig_pull_word(200, "{\"state\": \"aborted\"}"), VSD_MIG_PULL_GONE);
	assert_int_equal(vsd_mig_pull_word(200, "{\"state\": \"done\", \"pull\": \"pulled\"}"),
			 VSD_MIG_PULL_PULLED);
	/* Its copy may run: a pull it has not seen fail, an older target
	 * that keeps no pull word, a restore still under way. */
	assert_int_equal(vsd_mig_pull_word(200, "{\"state\": \"done\", \"pull\": \"pulling\"}"),
			 VSD_MIG_PULL_RUNNING);
	assert_int_equal(vsd_mig_pull_word(200, "{\"state\": \"done\"}"), VSD_MIG_PULL_RUNNING);
	assert_int_equal(vsd_mig_pull_word(200, "{\"state\": \"committing\"}"),
			 VSD_MIG_PULL_RUNNING);
	/* No usable answer is no word at all. */
	assert_int_equal(vsd_mig_pull_word(200, "not json"), VSD_MIG_PULL_UNKNOWN);
	assert_int_equal(vsd_mig_pull_word(200, "{\"pull\": \"lost\"}"), VSD_MIG_PULL_UNKNOWN);
	assert_int_equal(vsd_mig_pull_word(500, "{\"state\": \"failed\"}"), VSD_MIG_PULL_UNKNOWN);
	assert_int_equal(vsd_mig_pull_word(401, NULL), VSD_MIG_PULL_UNKNOWN);
}

/* --check --mode postcopy: the target's node info, read into a blocker
 * with its own reason (sanitised), or none. */
static void test_lazy_blocker(void **state)
{
	char buf[512];

	(void)state;
	assert_int_equal(vsd_mig_lazy_blocker("{\"criu\": {\"features\": {\"lazy_pages\": true}}}",
					      buf, sizeof(buf)),
			 0);
	assert_int_equal(vsd_mig_lazy_blocker(
			     "{\"criu\": {\"features\": {\"lazy_pages\": false}, \"messages\": "
			     "[\"no memory tracking: x\", \"no lazy pages (post-copy migration): "
			     "vm.unprivileged_userfaultfd is 0\\u001b\"]}}",
			     buf, sizeof(buf)),
			 1);
	assert_string_equal(buf, "the target cannot restore lazily (post-copy): no lazy pages "
				 "(post-copy migration): vm.unprivileged_userfaultfd is 0?");
	/* CRIU unusable there: its one message is the reason. */
	assert_int_equal(vsd_mig_lazy_blocker("{\"criu\": {\"features\": {\"lazy_pages\": "
					      "false}, \"messages\": [\"criu not found\"]}}",
					      buf, sizeof(buf)),
			 1);
	assert_string_equal(buf, "the target cannot restore lazily (post-copy): criu not found");
	assert_int_equal(vsd_mig_lazy_blocker("{\"criu\": {\"features\": {\"lazy_pages\": "
					      "false}}}",
					      buf, sizeof(buf)),
			 1);
	assert_string_equal(buf, "the target cannot restore lazily (post-copy): "
				 "criu.features.lazy_pages is false");
	/* An older vsd says nothing of it; an answer that is no JSON. */
	assert_int_equal(vsd_mig_lazy_blocker("{\"criu\": {\"features\": {}}}", buf, sizeof(buf)),
			 1);
	assert_non_null(strstr(buf, "an older vsd"));
	assert_int_equal(vsd_mig_lazy_blocker("<html>", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "the target's node info could not be read");
}

/* Optional booleans of a request body: absent leaves the default, a
 * non-boolean is refused naming the key. */
static void test_opt_bool(void **state)
{
	struct vs_json *obj = NULL;
	struct vs_error err = {0};
	bool b = false;

	(void)state;
	assert_int_equal(vs_json_parse("{\"recover\": true, \"force\": \"yes\"}", &obj, &err), 0);
	assert_int_equal(vsd_mig_opt_bool(obj, "recover", &b, &err), 0);
	assert_true(b);
	b = false;
	assert_int_equal(vsd_mig_opt_bool(obj, "check", &b, &err), 0);
	assert_false(b);
	assert_int_equal(vsd_mig_opt_bool(obj, "force", &b, &err), -1);
	assert_string_equal(err.msg, "force: expected true or false");
	vs_json_free(obj);
}

/* Old finished records go, except those whose pull is not settled. */
static void test_stale(void **state)
{
	struct vsd_mig_record r = {0};
	int64_t now = 100 * 86400;

	(void)state;
	r.state = VSD_MIG_DONE;
	r.updated_at = now - 8 * 86400;
	assert_true(vsd_mig_record_stale(&r, now));
	r.updated_at = now - 6 * 86400;
	assert_false(vsd_mig_record_stale(&r, now));
	r.updated_at = now - 30 * 86400;
	snprintf(r.pull, sizeof(r.pull), "failed");
	assert_false(vsd_mig_record_stale(&r, now));
	snprintf(r.pull, sizeof(r.pull), "pulling");
	assert_false(vsd_mig_record_stale(&r, now));
	snprintf(r.pull, sizeof(r.pull), "removing");
	assert_false(vsd_mig_record_stale(&r, now));
	snprintf(r.pull, sizeof(r.pull), "pulled");
	assert_true(vsd_mig_record_stale(&r, now));
	snprintf(r.pull, sizeof(r.pull), "recovered");
	assert_true(vsd_mig_record_stale(&r, now));
	snprintf(r.pull, sizeof(r.pull), "lost");
	assert_true(vsd_mig_record_stale(&r, now));
	r.state = VSD_MIG_COMMITTING;
	assert_false(vsd_mig_record_stale(&r, now));
}

/* A pull is settled once the copy here was recovered or removed; until
 * then its thread holds the container. */
static void test_pull_unsettled(void **state)
{
	(void)state;
	assert_true(vsd_mig_pull_unsettled("pulling"));
	assert_true(vsd_mig_pull_unsettled("failed"));
	assert_true(vsd_mig_pull_unsettled("removing"));
	assert_false(vsd_mig_pull_unsettled("pulled"));
	assert_false(vsd_mig_pull_unsettled("removed"));
	assert_false(vsd_mig_pull_unsettled("recovered"));
	assert_false(vsd_mig_pull_unsettled("lost"));
	assert_false(vsd_mig_pull_unsettled(""));
}

/* A failed pull's copy is said to be thawed from its freeze only when it
 * was held frozen; otherwise what it is decides what is done. */
static void test_held_state(void **state)
{
	(void)state;
	assert_int_equal(vsd_mig_held_state(VS_RT_RUNNING, true, 1), VSD_MIG_HELD_FROZEN);
	/* Cannot tell: the monitor's thaw, harmless on a tree that runs. */
	assert_int_equal(vsd_mig_held_state(VS_RT_RUNNING, true, -1), VSD_MIG_HELD_FROZEN);
	assert_int_equal(vsd_mig_held_state(VS_RT_RUNNING, true, 0), VSD_MIG_HELD_RUNNING);
	/* Its monitor gone: only a kill, whatever the freezer says. */
	assert_int_equal(vsd_mig_held_state(VS_RT_RUNNING, false, 1), VSD_MIG_HELD_ORPHAN);
	assert_int_equal(vsd_mig_held_state(VS_RT_RUNNING, false, 0), VSD_MIG_HELD_ORPHAN);
	/* Not running (a node restarted since): nothing holds its memory. */
	assert_int_equal(vsd_mig_held_state(VS_RT_STOPPED, false, -1), VSD_MIG_HELD_NONE);
	assert_int_equal(vsd_mig_held_state(VS_RT_SUSPENDED, false, -1), VSD_MIG_HELD_NONE);
	assert_int_equal(vsd_mig_held_state(VS_RT_STOPPING, true, 1), VSD_MIG_HELD_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ids),
	    cmocka_unit_test(test_version),
	    cmocka_unit_test_setup_teardown(test_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sweep_lists, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sync_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pull, setup, teardown),
	    cmocka_unit_test(test_opt_bool),
	    cmocka_unit_test(test_stale),
	    cmocka_unit_test(test_pull_unsettled),
	    cmocka_unit_test(test_held_state),
	    cmocka_unit_test(test_lazy_blocker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
