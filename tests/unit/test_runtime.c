/* Runtime logic that needs no container: state.json round trips and how
 * status reads them against live processes, pid identity by start time,
 * and the checkpoint image metadata (vsd-image.json), whose reader must
 * refuse anything that would make restore bind a path from the image; the
 * time namespace offsets that start a container's clocks at zero. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "migrate/mig-monitor.h"
#include "runtime/rt-private.h"

struct fx {
	char root[64];
	char cdir[128];
};

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	strcpy(f->root, "/tmp/vsd-test-runtime-XXXXXX");
	if (mkdtemp(f->root) == NULL)
		return -1;
	snprintf(f->cdir, sizeof(f->cdir), "%s/containers/c1", f->root);
	if (vs_mkdir_p(f->cdir, 0700, NULL) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[256];
	/* Only our own mkdtemp directory. */
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", f->root);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void test_state_round_trip(void **state)
{
	struct fx *f = *state;
	struct rt_state in = {.state = "running",
			      .init_pid = 1234,
			      .init_start_time = 99,
			      .monitor_pid = 1230,
			      .monitor_start_time = 98,
			      .started_at = 1700000000,
			      .last_exit_code = 3,
			      .last_exit_signal = 0};
	struct rt_state out;

	assert_int_equal(rt_state_write(f->cdir, &in, NULL, NULL), 0);
	assert_int_equal(rt_state_read(f->cdir, &out, NULL), 0);
	assert_string_equal(out.state, "running");
	assert_int_equal(out.init_pid, 1234);
	assert_int_equal(out.init_start_time, 99);
	assert_int_equal(out.monitor_pid, 1230);
	assert_int_equal(out.started_at, 1700000000);
	assert_int_equal(out.last_exit_code, 3);
}

static void test_state_missing_is_stopped(void **state)
{
	struct fx *f = *state;
	struct rt_state out;

	assert_int_equal(rt_state_read(f->cdir, &out, NULL), 0);
	assert_string_equal(out.state, "stopped");
	assert_int_equal(out.init_pid, 0);
}

static void test_proc_identity(void **state)
{
	uint64_t me = rt_proc_start_time(getpid());
	pid_t child;
	uint64_t t;
	int st;

	(void)state;
	assert_true(me > 0);
	assert_true(rt_proc_matches(getpid(), me));
	/* Same pid, another start time: not the same process. */
	assert_false(rt_proc_matches(getpid(), me + 1));
	child = fork();
	if (child == 0)
		_exit(0);
	t = rt_proc_start_time(child);
	waitpid(child, &st, 0);
	/* Reaped: gone, whatever its recorded start time. */
	assert_false(rt_proc_matches(child, t));
	assert_int_equal(rt_proc_start_time(-1), 0);
}

/* status never believes state.json over the processes. */
static void test_status_checks_processes(void **state)
{
	struct fx *f = *state;
	struct vs_rt_instance inst = {.root = f->root, .run_dir = f->root, .self_exe_fd = -1};
	struct vs_rt_status st;
	struct rt_state s = {.state = "running", .last_exit_code = -1};
	pid_t child = fork();
	int ws;

	if (child == 0)
		_exit(0);
	s.init_pid = child;
	s.init_start_time = rt_proc_start_time(child);
	waitpid(child, &ws, 0);
	assert_int_equal(rt_state_write(f->cdir, &s, NULL, NULL), 0);
	assert_int_equal(vs_rt_status(&inst, "c1", &st, NULL), 0);
	assert_int_equal(st.state, VS_RT_STOPPED);
	assert_int_equal(st.init_pid, 0);

	/* A live process with the right start time is running. */
	s.init_pid = getpid();
	s.init_start_time = rt_proc_start_time(getpid());
	assert_int_equal(rt_state_write(f->cdir, &s, NULL, NULL), 0);
	assert_int_equal(vs_rt_status(&inst, "c1", &st, NULL), 0);
	assert_int_equal(st.state, VS_RT_RUNNING);
	assert_int_equal(st.init_pid, getpid());

	strcpy(s.state, "suspended");
	s.init_pid = 0;
	assert_int_equal(rt_state_write(f->cdir, &s, NULL, NULL), 0);
	assert_int_equal(vs_rt_status(&inst, "c1", &st, NULL), 0);
	assert_int_equal(st.state, VS_RT_SUSPENDED);
	assert_string_equal(vs_rt_state_name(st.state), "suspended");
}

static void test_meta_round_trip(void **state)
{
	struct fx *f = *state;
	struct cr_meta m = {0}, r = {0};
	char *dirs[] = {"system.slice", "system.slice/dbus.service"};

	strcpy(m.console_tty, "tty[8800:2a]");
	strcpy(m.keys[0], "null@/dev/null");
	strcpy(m.keys[1], "null@/proc/keys");
	strcpy(m.keys[2], "lxcfs@/proc/meminfo");
	strcpy(m.keys[3], "lxcfs@/sys/devices/system/cpu/online");
	m.nkeys = 4;
	m.cgdirs = dirs;
	m.ncgdirs = 2;
	assert_int_equal(rt_meta_write(f->cdir, &m, NULL), 0);
	assert_int_equal(rt_meta_read(f->cdir, &r, NULL), 0);
	assert_string_equal(r.console_tty, "tty[8800:2a]");
	assert_int_equal(r.nkeys, 4);
	assert_string_equal(r.keys[1], "null@/proc/keys");
	assert_string_equal(r.keys[3], "lxcfs@/sys/devices/system/cpu/online");
	assert_int_equal(r.ncgdirs, 2);
	assert_string_equal(r.cgdirs[1], "system.slice/dbus.service");
	rt_meta_free(&r);
}

static void expect_refused(const char *cdir, const char *json, const char *needle)
{
	struct cr_meta r = {0};
	struct vs_error err = {0};
	cleanup_close int d = open(cdir, O_RDONLY | O_DIRECTORY);

	assert_int_equal(vs_atomic_write_at(d, "vsd-image.json", json, strlen(json), 0600, NULL),
			 0);
	assert_int_equal(rt_meta_read(cdir, &r, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("'%s' does not mention '%s'", err.msg, needle);
	rt_meta_free(&r);
}

/* An image is not trusted to name what the host binds into a container. */
static void test_meta_refuses(void **state)
{
	struct fx *f = *state;

	expect_refused(f->cdir,
		       "{\"console_tty\": \"tty[1:2]\", \"external_mounts\": [\"sda@/dev/x\"]}",
		       "unknown external mount 'sda@/dev/x'");
	expect_refused(f->cdir,
		       "{\"console_tty\": \"tty[1:2]\", \"external_mounts\": [\"../../etc@/x\"]}",
		       "unknown external mount");
	/* A view key names a bind source under lxcfs: only the fixed files. */
	expect_refused(f->cdir,
		       "{\"console_tty\": \"tty[1:2]\", \"external_mounts\": "
		       "[\"lxcfs@/../../etc/shadow\"]}",
		       "unknown external mount");
	expect_refused(
	    f->cdir,
	    "{\"console_tty\": \"tty[1:2]\", \"external_mounts\": [\"lxcfs@/proc/kcore\"]}",
	    "unknown external mount");
	expect_refused(f->cdir,
		       "{\"console_tty\": \"tty[1:2]\", \"external_mounts\": [\"nodevice\"]}",
		       "bad external mount");
	expect_refused(f->cdir, "{\"console_tty\": \"/etc/passwd\", \"external_mounts\": []}",
		       "malformed");
	expect_refused(f->cdir, "{\"external_mounts\": []}", "malformed");
	expect_refused(f->cdir,
		       "{\"console_tty\": \"tty[1:2]\", \"external_mounts\": [], "
		       "\"cgroup_dirs\": [7]}",
		       "bad cgroup entry");
}

/* The offsets that zero both clocks: the kernel takes only 0 <= nsec < 1e9,
 * so a fractional negative offset borrows a second. */
static void test_timens_offsets(void **state)
{
	struct timespec mono = {.tv_sec = 100, .tv_nsec = 250000000};
	struct timespec boot = {.tv_sec = 5, .tv_nsec = 0};
	struct timespec bad = {.tv_sec = 1, .tv_nsec = 1000000000};
	char buf[128];
	int n;
	(void)state;

	n = rt_timens_offsets_text(&mono, &boot, buf, sizeof(buf));
	assert_string_equal(buf, "1 -101 750000000\n7 -5 0\n");
	assert_int_equal(n, (int)strlen(buf));
	boot = (struct timespec){.tv_sec = 0, .tv_nsec = 1};
	n = rt_timens_offsets_text(&mono, &boot, buf, sizeof(buf));
	assert_string_equal(buf, "1 -101 750000000\n7 -1 999999999\n");
	assert_int_equal(rt_timens_offsets_text(&bad, &boot, buf, sizeof(buf)), -1);
	assert_int_equal(rt_timens_offsets_text(&mono, &bad, buf, sizeof(buf)), -1);
	/* Too small for the second line: refused, never cut. */
	assert_int_equal(rt_timens_offsets_text(&mono, &boot, buf, 20), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_state_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_state_missing_is_stopped, setup, teardown),
	    cmocka_unit_test(test_proc_identity),
	    cmocka_unit_test_setup_teardown(test_status_checks_processes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_meta_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_meta_refuses, setup, teardown),
	    cmocka_unit_test(test_timens_offsets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
