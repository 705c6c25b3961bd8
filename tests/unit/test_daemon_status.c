/* daemon: run states kept for listing (daemon/status.c): served while
 * state.json is unchanged and the processes it shows alive live; a death,
 * a rewrite, a destroy each end the entry. Real child processes stand in
 * for init and monitor. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/daemon.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "tests/unit/test_fs_helpers.h"

struct fixture {
	char dir[64];
	struct vsd d;
	pid_t kids[2];
};

static pid_t spawn_sleeper(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

/* Field 22 of /proc/PID/stat, as the runtime records it. */
static unsigned long long start_time(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long st = 0;
	cleanup_close int fd = -1;
	ssize_t n;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	assert_non_null(p);
	assert_int_equal(
	    sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
		   "%*d %*d %llu",
		   &st),
	    1);
	return st;
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	cleanup_free char *cdir = NULL;

	snprintf(f->dir, sizeof(f->dir), "/tmp/vsd-test-status-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	cdir = xasprintf("%s/containers", f->dir);
	if (mkdir(cdir, 0700) < 0)
		return -1;
	f->d.inst.root = f->dir;
	f->d.containers_fd = open(cdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	f->d.status_cache = vsd_status_cache_new(0);
	f->kids[0] = f->kids[1] = -1;
	*state = f;
	return f->d.containers_fd < 0 ? -1 : 0;
}

static void reap(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	reap(&f->kids[0]);
	reap(&f->kids[1]);
	vsd_status_cache_free(f->d.status_cache);
	close(f->d.containers_fd);
	rm_rf(f->dir);
	free(f);
	return 0;
}

/* containers/NAME/state.json, written as the monitor writes it (a new
 * file renamed into place). */
static void write_state(struct fixture *f, const char *name, const char *state, pid_t init,
			pid_t mon, int exit_code)
{
	cleanup_free char *text = NULL;
	cleanup_close int dfd = -1;

	mkdirat(f->d.containers_fd, name, 0700);
	dfd = openat(f->d.containers_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	text = xasprintf("{\"state\": \"%s\", \"init_pid\": %d, \"init_start_time\": %llu, "
			 "\"monitor_pid\": %d, \"monitor_start_time\": %llu, \"started_at\": 77"
			 "%s}",
			 state, (int)init, init > 0 ? start_time(init) : 0ULL, (int)mon,
			 mon > 0 ? start_time(mon) : 0ULL,
			 exit_code >= 0 ? ", \"last_exit\": {\"code\": 3, \"signal\": 0}" : "");
	assert_int_equal(vs_atomic_write_at(dfd, "state.json", text, strlen(text), 0644, NULL), 0);
}

static struct vs_rt_status kept(struct fixture *f, const char *name)
{
	struct vs_rt_status st;
	struct vs_error err = {0};

	assert_int_equal(vsd_container_status_kept(&f->d, name, &st, &err), 0);
	return st;
}

static uint64_t hits(struct fixture *f)
{
	size_t n;
	uint64_t h, r;

	vsd_status_cache_counts(f->d.status_cache, &n, &h, &r);
	return h;
}

static size_t entries(struct fixture *f)
{
	size_t n;
	uint64_t h, r;

	vsd_status_cache_counts(f->d.status_cache, &n, &h, &r);
	return n;
}

static void test_deaths_end_the_entry(void **state)
{
	struct fixture *f = *state;
	struct vs_rt_status st;

	f->kids[0] = spawn_sleeper(); /* init */
	f->kids[1] = spawn_sleeper(); /* monitor */
	write_state(f, "web1", "running", f->kids[0], f->kids[1], -1);
	st = kept(f, "web1");
	assert_int_equal(st.state, VS_RT_RUNNING);
	assert_int_equal(st.init_pid, f->kids[0]);
	st = kept(f, "web1");
	assert_int_equal(st.state, VS_RT_RUNNING);
	assert_int_equal(hits(f), 1);
	/* init dies (a zombie, not reaped yet): the monitor is tearing down. */
	kill(f->kids[0], SIGKILL);
	waitid(P_PID, (id_t)f->kids[0], NULL, WEXITED | WNOWAIT);
	st = kept(f, "web1");
	assert_int_equal(st.state, VS_RT_STOPPING);
	assert_int_equal(st.init_pid, 0);
	assert_int_equal(st.monitor_pid, f->kids[1]);
	assert_int_equal(hits(f), 1);
	/* Then the monitor: stopped, with no file written. */
	reap(&f->kids[1]);
	st = kept(f, "web1");
	assert_int_equal(st.state, VS_RT_STOPPED);
	assert_int_equal(st.monitor_pid, 0);
	st = kept(f, "web1");
	assert_int_equal(st.state, VS_RT_STOPPED);
	assert_int_equal(hits(f), 2);
}

static void test_rewrite_refreshes(void **state)
{
	struct fixture *f = *state;
	struct vs_rt_status st;

	/* Never started: no state.json. */
	mkdirat(f->d.containers_fd, "web1", 0700);
	st = kept(f, "web1");
	assert_int_equal(st.state, VS_RT_STOPPED);
	assert_int_equal(st.last_exit_code, -1);
	f->kids[0] = spawn_sleeper();
	f->kids[1] = spawn_sleeper();
	write_state(f, "web1", "running", f->kids[0], f->kids[1], -1);
	st = kept(f, "web1");
	assert_int_equal(st.state, VS_RT_RUNNING);
	write_state(f, "web1", "stopped", 0, 0, 3);
	st = kept(f, "web1");
	assert_int_equal(st.state, VS_RT_STOPPED);
	assert_int_equal(st.last_exit_code, 3);
	assert_int_equal(hits(f), 0);
}

static void test_forget_and_retain(void **state)
{
	struct fixture *f = *state;
	cleanup_strv char **names = vs_strv_dup((char *const[]){"web2", NULL});
	cleanup_free char *web2 = xasprintf("%s/containers/web2", f->dir);
	struct vs_rt_status st;
	struct vs_error err = {0};

	write_state(f, "web1", "stopped", 0, 0, 3);
	write_state(f, "web2", "stopped", 0, 0, 3);
	write_state(f, "web3", "stopped", 0, 0, 3);
	kept(f, "web1");
	kept(f, "web2");
	kept(f, "web3");
	assert_int_equal(entries(f), 3);
	vsd_status_cache_forget(f->d.status_cache, "web1");
	assert_int_equal(entries(f), 2);
	vsd_status_cache_retain(f->d.status_cache, names);
	assert_int_equal(entries(f), 1);
	/* A directory gone: not the old entry but the runtime's answer for
	 * no state.json (stopped, no last exit). */
	rm_rf(web2);
	assert_int_equal(vsd_container_status_kept(&f->d, "web2", &st, &err), 0);
	assert_int_equal(st.state, VS_RT_STOPPED);
	assert_int_equal(st.last_exit_code, -1);
	assert_int_equal(vsd_container_status_kept(&f->d, "web2", &st, &err), 0);
	assert_int_equal(st.last_exit_code, -1);
}

static void test_young_state_not_kept(void **state)
{
	struct fixture *f = *state;

	vsd_status_cache_free(f->d.status_cache);
	f->d.status_cache = vsd_status_cache_new(60 * 1000);
	write_state(f, "web1", "stopped", 0, 0, 3);
	kept(f, "web1");
	kept(f, "web1");
	assert_int_equal(entries(f), 0);
	assert_int_equal(hits(f), 0);
}

/* A stand-in for a cgroup's counter file (memory.oom_control, ...): a
 * file read again from its start each time, rewritten in place like a
 * counter that moves. */
static int named_file(struct fixture *f, const char *name, const char *text)
{
	cleanup_free char *path = xasprintf("%s/%s", f->dir, name);
	cleanup_close int w = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int fd;

	assert_true(w >= 0);
	assert_int_equal(vs_write_all(w, text, strlen(text)), 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static int counter_file(struct fixture *f, const char *text)
{
	return named_file(f, "oom_control", text);
}

static int64_t oom_read(struct fixture *f, const char *pool, const struct vs_rt_status *st)
{
	int64_t kills = -2;

	if (!vsd_status_cache_counter(f->d.status_cache, "web1", pool, st, VS_CG_OOM_KILLS, &kills))
		return -2;
	return kills;
}

static void test_oom_counter_kept_with_the_run(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *path = xasprintf("%s/oom_control", f->dir);
	struct vs_rt_status st, other;

	f->kids[0] = spawn_sleeper();
	f->kids[1] = spawn_sleeper();
	write_state(f, "web1", "running", f->kids[0], f->kids[1], -1);
	st = kept(f, "web1");
	assert_int_equal(oom_read(f, "", &st), -2); /* nothing kept yet */
	vsd_status_cache_keep(f->d.status_cache, "web1", "", &st, VS_CG_OOM_KILLS,
			      counter_file(f, "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"));
	assert_int_equal(oom_read(f, "", &st), 0);
	/* Read each time: a kill shows at once. */
	{
		cleanup_close int w = open(path, O_WRONLY | O_CLOEXEC);
		const char *t = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
		assert_true(w >= 0);
		assert_int_equal(pwrite(w, t, strlen(t), 0), (ssize_t)strlen(t));
	}
	assert_int_equal(oom_read(f, "", &st), 2);
	/* Another pool is another cgroup; another run is another cgroup. */
	assert_int_equal(oom_read(f, "gold", &st), -2);
	other = st;
	other.init_pid++;
	assert_int_equal(oom_read(f, "", &other), -2);
	other = st;
	other.started_at++;
	assert_int_equal(oom_read(f, "", &other), -2);
	/* A keep in another pool (the cgroup moved) replaces what was kept. */
	vsd_status_cache_keep(f->d.status_cache, "web1", "gold", &st, VS_CG_OOM_KILLS,
			      counter_file(f, "oom_kill 9\n"));
	assert_int_equal(oom_read(f, "gold", &st), 9);
	assert_int_equal(oom_read(f, "", &st), -2);
	/* init dies: the entry goes, and with it the descriptor. */
	kill(f->kids[0], SIGKILL);
	waitid(P_PID, (id_t)f->kids[0], NULL, WEXITED | WNOWAIT);
	st = kept(f, "web1");
	assert_int_equal(st.state, VS_RT_STOPPING);
	assert_int_equal(oom_read(f, "", &st), -2);
}

static int64_t counter_read(struct fixture *f, const struct vs_rt_status *st, int which)
{
	int64_t v = -2;

	if (!vsd_status_cache_counter(f->d.status_cache, "web1", "", st, which, &v))
		return -2;
	return v;
}

static void test_sampler_counters_kept(void **state)
{
	struct fixture *f = *state;
	struct vs_rt_status st;

	f->kids[0] = spawn_sleeper();
	f->kids[1] = spawn_sleeper();
	write_state(f, "web1", "running", f->kids[0], f->kids[1], -1);
	st = kept(f, "web1");
	/* Each counter has its own slot, and is parsed as its file reads:
	 * v1's cpuacct.usage in nanoseconds, v2's cpu.stat in microseconds. */
	vsd_status_cache_keep(f->d.status_cache, "web1", "", &st, VS_CG_CPU_USEC,
			      named_file(f, "cpuacct.usage", "7000123\n"));
	assert_int_equal(counter_read(f, &st, VS_CG_CPU_USEC), 7000);
	assert_int_equal(counter_read(f, &st, VS_CG_MEMORY_BYTES), -2);
	vsd_status_cache_keep(f->d.status_cache, "web1", "", &st, VS_CG_MEMORY_BYTES,
			      named_file(f, "memory.current", "4096\n"));
	assert_int_equal(counter_read(f, &st, VS_CG_MEMORY_BYTES), 4096);
	assert_int_equal(counter_read(f, &st, VS_CG_CPU_USEC), 7000);
	/* A second descriptor for a slot is not taken over the first. */
	vsd_status_cache_keep(f->d.status_cache, "web1", "", &st, VS_CG_CPU_USEC,
			      named_file(f, "cpu.stat", "usage_usec 55\nuser_usec 50\n"));
	assert_int_equal(counter_read(f, &st, VS_CG_CPU_USEC), 7000);
	/* Text that is not the counter reads as unknown. */
	vsd_status_cache_forget(f->d.status_cache, "web1");
	st = kept(f, "web1");
	vsd_status_cache_keep(f->d.status_cache, "web1", "", &st, VS_CG_CPU_USEC,
			      named_file(f, "cpu.stat", "usage_usec 55\nuser_usec 50\n"));
	assert_int_equal(counter_read(f, &st, VS_CG_CPU_USEC), 55);
	vsd_status_cache_keep(f->d.status_cache, "web1", "", &st, VS_CG_MEMORY_BYTES,
			      named_file(f, "memory.current", "max\n"));
	assert_int_equal(counter_read(f, &st, VS_CG_MEMORY_BYTES), -1);
	/* No slot past the last. */
	vsd_status_cache_keep(f->d.status_cache, "web1", "", &st, VS_CG_COUNTERS,
			      named_file(f, "x", "1\n"));
	assert_int_equal(counter_read(f, &st, VS_CG_COUNTERS), -2);
}

static void test_oom_counter_not_kept(void **state)
{
	struct fixture *f = *state;
	struct vs_rt_status st;

	/* A stopped container has no cgroup to count in. */
	write_state(f, "web1", "stopped", 0, 0, 3);
	st = kept(f, "web1");
	vsd_status_cache_keep(f->d.status_cache, "web1", "", &st, VS_CG_OOM_KILLS,
			      counter_file(f, "oom_kill 1\n"));
	assert_int_equal(oom_read(f, "", &st), -2);
	/* Opened after init died (the path may name the next run's cgroup). */
	f->kids[0] = spawn_sleeper();
	f->kids[1] = spawn_sleeper();
	write_state(f, "web1", "running", f->kids[0], f->kids[1], -1);
	st = kept(f, "web1");
	kill(f->kids[0], SIGKILL);
	waitid(P_PID, (id_t)f->kids[0], NULL, WEXITED | WNOWAIT);
	vsd_status_cache_keep(f->d.status_cache, "web1", "", &st, VS_CG_OOM_KILLS,
			      counter_file(f, "oom_kill 1\n"));
	assert_int_equal(oom_read(f, "", &st), -2);
}

static void test_oom_counter_dropped_when_unreadable(void **state)
{
	struct fixture *f = *state;
	struct vs_rt_status st;
	int dirfd;

	f->kids[0] = spawn_sleeper();
	f->kids[1] = spawn_sleeper();
	write_state(f, "web1", "running", f->kids[0], f->kids[1], -1);
	st = kept(f, "web1");
	/* A read that fails (here EISDIR; ENODEV for a removed cgroup). */
	dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dirfd >= 0);
	vsd_status_cache_keep(f->d.status_cache, "web1", "", &st, VS_CG_OOM_KILLS, dirfd);
	assert_int_equal(oom_read(f, "", &st), -2);
	/* Dropped: a new one can be kept. */
	vsd_status_cache_keep(f->d.status_cache, "web1", "", &st, VS_CG_OOM_KILLS,
			      counter_file(f, "oom_kill 4\n"));
	assert_int_equal(oom_read(f, "", &st), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_deaths_end_the_entry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rewrite_refreshes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forget_and_retain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_young_state_not_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oom_counter_kept_with_the_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oom_counter_not_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sampler_counters_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oom_counter_dropped_when_unreadable, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
