/* Statistics: the cgroup file parsers (memory.stat, cpu.stat, io.stat,
 * blkio), the idle detector and the kernel log OOM parser (pure, no root). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

#include "cgroups/vs_cgroups.h"
#include "daemon/daemon.h"
#include "lib/vs_util.h"

#define MIB (INT64_C(1) << 20)

static void test_memory_stat(void **state)
{
	struct vs_cg_stats st;

	vs_cg_stats_init(&st);
	vs_cg_parse_memory_stat("anon 4096\nfile 8192\nkernel 0\nfile_mapped 10\npgfault 77\n"
				"pgmajfault 1\n",
				true, &st);
	assert_int_equal(st.memory_anon, 4096);
	assert_int_equal(st.memory_file, 8192);
	assert_int_equal(st.pgfault, 77);
	vs_cg_stats_init(&st);
	/* v1: the hierarchical total_ keys, not the local ones. */
	vs_cg_parse_memory_stat("cache 1\nrss 2\npgfault 3\ntotal_cache 100\ntotal_rss 200\n"
				"total_pgfault 300\ntotal_swap 5",
				false, &st);
	assert_int_equal(st.memory_file, 100);
	assert_int_equal(st.memory_anon, 200);
	assert_int_equal(st.pgfault, 300);
	vs_cg_stats_init(&st);
	vs_cg_parse_memory_stat("file_mapped 5\nanon_thp 3\n", true, &st);
	assert_int_equal(st.memory_file, -1); /* "file_mapped" is not "file" */
	assert_int_equal(st.memory_anon, -1);
}

static void test_parse_key(void **state)
{
	int64_t v = 0;

	assert_true(vs_cg_parse_key("low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\n", "oom_kill", &v));
	assert_int_equal(v, 1);
	assert_true(vs_cg_parse_key("oom_kill_disable 0\nunder_oom 0\noom_kill 4", "oom_kill", &v));
	assert_int_equal(v, 4);
	assert_false(vs_cg_parse_key("oom 2\n", "oom_kill", &v));
	assert_false(vs_cg_parse_key("oom_kill x\n", "oom_kill", &v));
	assert_false(vs_cg_parse_key("", "oom_kill", &v));
}

static void test_cpu_stat(void **state)
{
	struct vs_cg_stats st;

	vs_cg_stats_init(&st);
	vs_cg_parse_cpu_stat(
	    "usage_usec 1000\nuser_usec 600\nsystem_usec 400\ncore_sched.force_idle_"
	    "usec 0\nnr_periods 10\nnr_throttled 3\nthrottled_usec 2500\n",
	    true, &st);
	assert_int_equal(st.cpu_usage_usec, 1000);
	assert_int_equal(st.cpu_user_usec, 600);
	assert_int_equal(st.cpu_system_usec, 400);
	assert_int_equal(st.cpu_nr_throttled, 3);
	assert_int_equal(st.cpu_throttled_usec, 2500);
	vs_cg_stats_init(&st);
	vs_cg_parse_cpu_stat("nr_periods 50\nnr_throttled 7\nthrottled_time 1234567\n", false, &st);
	assert_int_equal(st.cpu_nr_throttled, 7);
	assert_int_equal(st.cpu_throttled_usec, 1234);
	assert_int_equal(st.cpu_usage_usec, -1); /* from cpuacct on v1 */
}

static void test_io_stat(void **state)
{
	struct vs_cg_stats st;

	vs_cg_stats_init(&st);
	vs_cg_parse_io_stat("8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n"
			    "253:1 rbytes=1000 wbytes=2000 rios=10 wios=20 dbytes=5 dios=1\n",
			    &st);
	assert_int_equal(st.io_read_bytes, 1100);
	assert_int_equal(st.io_write_bytes, 2200);
	assert_int_equal(st.io_read_ios, 11);
	assert_int_equal(st.io_write_ios, 22);
	vs_cg_parse_io_stat("", &st);
	assert_int_equal(st.io_read_bytes, 0);
	assert_int_equal(st.io_write_ios, 0);
}

static void test_cpuacct_all(void **state)
{
	int64_t u = -1, y = -1;

	assert_true(vs_cg_parse_cpuacct_all("cpu user system\n0 10 20\n1 30 40\n", &u, &y));
	assert_int_equal(u, 40);
	assert_int_equal(y, 60);
	/* The header only (no CPU line) is no table; nor is another text. */
	u = y = -1;
	assert_false(vs_cg_parse_cpuacct_all("cpu user system", &u, &y));
	assert_false(vs_cg_parse_cpuacct_all("0 10 20\n", &u, &y));
	assert_false(vs_cg_parse_cpuacct_all("cpu user system\n0 10\n", &u, &y));
	assert_false(vs_cg_parse_cpuacct_all("cpu user system\n0 10 20 30\n", &u, &y));
	assert_false(vs_cg_parse_cpuacct_all("cpu user system\n0 -1 20\n", &u, &y));
	assert_int_equal(u, -1);
	assert_int_equal(y, -1);
}

static void test_blkio(void **state)
{
	int64_t r = -1, w = -1;

	vs_cg_parse_blkio("254:0 Read 4096\n254:0 Write 8388608\n254:0 Sync 8388608\n"
			  "254:0 Async 0\n254:0 Discard 0\n254:0 Total 8392704\n"
			  "8:0 Read 1\n8:0 Write 2\nTotal 8392707\n",
			  &r, &w);
	assert_int_equal(r, 4097);
	assert_int_equal(w, 8388610);
	vs_cg_parse_blkio("Total 0\n", &r, &w);
	assert_int_equal(r, 0);
	assert_int_equal(w, 0);
}

/* n samples one second apart, each adding cpu_us of CPU and faults. */
static void samples(struct vsd_sample *s, size_t n, int64_t cpu_us, int64_t faults, int64_t memory)
{
	for (size_t i = 0; i < n; i++)
		s[i] = (struct vsd_sample){.t_ms = 1000 * (int64_t)i,
					   .cpu_usec = cpu_us * (int64_t)i,
					   .pgfault = faults * (int64_t)i,
					   .memory = memory};
}

static void test_idle_decide(void **state)
{
	struct vsd_idle_cfg cfg = {.enabled = true, .interval_s = 1, .cpu_threshold = 0.02};
	struct vsd_idle_params p;
	struct vsd_sample s[8];

	vsd_idle_params_default(&cfg, &p);
	/* Quiet: 1 ms of CPU per second, no faults; 5% of 100 MiB. */
	samples(s, 4, 1000, 0, 100 * MIB);
	assert_int_equal(vsd_idle_decide(&p, s, 4, 0), 5 * MIB);
	/* Not enough history yet (window 3 needs 4 samples). */
	assert_int_equal(vsd_idle_decide(&p, s, 3, 0), 0);
	/* Busy: 50 ms of CPU per second is 5% of a CPU. */
	samples(s, 4, 50000, 0, 100 * MIB);
	assert_int_equal(vsd_idle_decide(&p, s, 4, 0), 0);
	/* Busy in only the last interval. */
	samples(s, 4, 1000, 0, 100 * MIB);
	s[3].cpu_usec += 100000;
	assert_int_equal(vsd_idle_decide(&p, s, 4, 0), 0);
	/* Faulting pages in without CPU to speak of. */
	samples(s, 4, 1000, 500, 100 * MIB);
	assert_int_equal(vsd_idle_decide(&p, s, 4, 0), 0);
	/* memory_min bounds the step; below step_min nothing is done. */
	samples(s, 4, 0, 0, 100 * MIB);
	assert_int_equal(vsd_idle_decide(&p, s, 4, 98 * MIB), 2 * MIB);
	assert_int_equal(vsd_idle_decide(&p, s, 4, 100 * MIB - 4096), 0);
	assert_int_equal(vsd_idle_decide(&p, s, 4, 200 * MIB), 0);
	/* The step is capped. */
	samples(s, 4, 0, 0, 8192 * MIB);
	assert_int_equal(vsd_idle_decide(&p, s, 4, 0), p.step_max);
	/* Unknown or reset counters are not idle. */
	samples(s, 4, 0, 0, 100 * MIB);
	s[2].pgfault = -1;
	assert_int_equal(vsd_idle_decide(&p, s, 4, 0), 0);
	samples(s, 4, 1000, 0, 100 * MIB);
	s[3].cpu_usec = 0; /* a restarted container */
	assert_int_equal(vsd_idle_decide(&p, s, 4, 0), 0);
	/* Below vsd_idle_worth no step is ever taken (so the sampler need not
	 * read the page faults); at it, one is. */
	for (int64_t min = 0; min <= 64 * MIB; min += 16 * MIB) {
		int64_t w = vsd_idle_worth(&p, min);
		samples(s, 4, 0, 0, w - 4096);
		assert_int_equal(vsd_idle_decide(&p, s, 4, min), 0);
		samples(s, 4, 0, 0, w);
		assert_true(vsd_idle_decide(&p, s, 4, min) >= p.step_min);
	}
}

/* When the sampler may skip every container: only when nothing it could
 * learn from them moved since its last full sweep. */
static void test_sweep_quiet(void **state)
{
	const struct vsd_sweep_mark last = {
	    .parent_cpu_usec = 5000, .events_last = 7, .changes = 3};
	struct vsd_sweep_mark now = last;

	assert_true(vsd_sweep_quiet(&last, true, &now, false));
	/* The last full sweep missed a running container: look again. */
	assert_false(vsd_sweep_quiet(&last, false, &now, false));
	/* The usage round reads every container's ledger counters (traffic
	 * needs no CPU of the container's own). */
	assert_false(vsd_sweep_quiet(&last, true, &now, true));
	/* Any CPU time anywhere under the parent. */
	now.parent_cpu_usec = 5001;
	assert_false(vsd_sweep_quiet(&last, true, &now, false));
	/* The parent's counter unknown (not there yet, a read failed). */
	now.parent_cpu_usec = -1;
	assert_false(vsd_sweep_quiet(&last, true, &now, false));
	{
		const struct vsd_sweep_mark unknown = {.parent_cpu_usec = -1};
		assert_false(vsd_sweep_quiet(&unknown, true, &now, false));
	}
	/* An event published (create, destroy, a config update, an OOM). */
	now = last;
	now.events_last = 8;
	assert_false(vsd_sweep_quiet(&last, true, &now, false));
	/* A start or stop the bus told the sampler of (also one behind vsd's
	 * back, seen through the init's pidfd). */
	now = last;
	now.changes = 4;
	assert_false(vsd_sweep_quiet(&last, true, &now, false));
}

static void test_kmsg(void **state)
{
	struct vsd_oom_line l;
	static const char oom[] =
	    "6,1234,5678901234,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,"
	    "mems_allowed=0,oom_memcg=/vsd-bats-1a/oomc,task_memcg=/vsd-bats-1a/oomc/sub,task=dd,"
	    "pid=4242,uid=100000\n";
	static const char killed[] = "3,1235,5678901300,-;Memory cgroup out of memory: Killed "
				     "process 4242 (dd) total-vm:104000kB, anon-rss:30000kB\n"
				     " SUBSYSTEM=memory\n";

	assert_int_equal(vsd_oom_parse_kmsg(oom, strlen(oom), "vsd-bats-1a", &l), 1);
	assert_string_equal(l.container, "oomc");
	assert_string_equal(l.command, "dd");
	assert_int_equal(l.pid, 4242);
	assert_int_equal(l.ts_usec, 5678901234);
	/* Another instance's container, or a prefix of our parent's name. */
	assert_int_equal(vsd_oom_parse_kmsg(oom, strlen(oom), "vsd-bats-1", &l), 0);
	assert_int_equal(vsd_oom_parse_kmsg(oom, strlen(oom), "vsd", &l), 0);
	assert_int_equal(vsd_oom_parse_kmsg(killed, strlen(killed), "vsd-bats-1a", &l), 1);
	assert_string_equal(l.container, "");
	assert_string_equal(l.command, "dd");
	assert_int_equal(l.pid, 4242);
	assert_int_equal(vsd_oom_parse_kmsg("6,1,2,-;hello\n", 14, "vsd", &l), 0);
	assert_int_equal(vsd_oom_parse_kmsg("garbage", 7, "vsd", &l), 0);
	assert_int_equal(vsd_oom_parse_kmsg("6,1,2,-;oom-kill:task=x\n", 24, "vsd", &l), 0);
}

static void test_oom_count(void **state)
{
	struct vsd_oom_rec r = {0};

	assert_true(vsd_oom_count(&r, 100, 1));
	assert_int_equal(r.info.kills, 1);
	assert_false(vsd_oom_count(&r, 100, 1));
	assert_true(vsd_oom_count(&r, 100, 3));
	assert_int_equal(r.info.kills, 3);
	/* Restarted: a new cgroup counting from 0. Nothing to write yet: the
	 * base is reset in memory, as a record read back would be. */
	assert_false(vsd_oom_count(&r, 200, 0));
	assert_int_equal(r.info.kills, 3);
	assert_int_equal(r.started_at, 200);
	assert_int_equal(r.cg_kills, 0);
	/* The stored record (of the start at 100, 3 counted) read back after
	 * a daemon restart counts the new cgroup's kills from 0. */
	struct vsd_oom_rec back = {.info = {.kills = 3}, .started_at = 100, .cg_kills = 3};
	assert_true(vsd_oom_count(&back, 200, 2));
	assert_int_equal(back.info.kills, 5);
	assert_true(vsd_oom_count(&r, 200, 2));
	assert_int_equal(r.info.kills, 5);
	/* Restarted within the same second. */
	assert_true(vsd_oom_count(&r, 200, 1));
	assert_int_equal(r.info.kills, 6);
	assert_false(vsd_oom_count(&r, 200, -1));
}

/* ---- vs_cg_stats on a fake v1 host (plain files in a temporary tree) -- */

static void put(const char *root, const char *ctrl, const char *file, const char *text)
{
	cleanup_free char *p = xasprintf("%s/%s/vsd-t/c1/%s", root, ctrl, file);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The temporary tree, made before the case and removed after it even
 * when an assertion fails. */
static char stats_root[] = "/tmp/test_stats.XXXXXX";

static int tree_setup(void **state)
{
	return mkdtemp(stats_root) == NULL ? -1 : 0;
}

static int tree_teardown(void **state)
{
	cleanup_free char *cmd = xasprintf("rm -rf '%s'", stats_root);

	return system(cmd) == 0 ? 0 : -1;
}

/* memory.stat past the 4 KiB a stat file is read into at once: the keys
 * read come last, after 500 lines the kernel may add. */
static char *big_memory_stat(void)
{
	size_t cap = 1 << 14, len = 0;
	char *t = xmalloc(cap);

	for (int i = 0; i < 500; i++)
		len += (size_t)snprintf(t + len, cap - len, "extra_%d 0\n", i);
	snprintf(t + len, cap - len, "total_cache 100\ntotal_rss 200\ntotal_pgfault 300\n");
	assert_true(strlen(t) > 4096);
	return t;
}

static void test_stats_files(void **state)
{
	static const char *const ctrls[] = {"cpu", "cpuacct", "memory", "blkio", "pids"};
	const char *root = stats_root;
	cleanup_free char *mountinfo = NULL, *mem = big_memory_stat();
	struct vs_cg_host *h = NULL;
	struct vs_error err = {0};
	struct vs_cg_stats st;
	struct vs_cg *cg;

	mountinfo = xasprintf("31 23 0:28 / %s rw - tmpfs tmpfs rw\n"
			      "32 31 0:29 / %s/cpu rw - cgroup cgroup rw,cpu\n"
			      "33 31 0:30 / %s/cpuacct rw - cgroup cgroup rw,cpuacct\n"
			      "35 31 0:32 / %s/memory rw - cgroup cgroup rw,memory\n"
			      "38 31 0:35 / %s/blkio rw - cgroup cgroup rw,blkio\n"
			      "39 31 0:36 / %s/pids rw - cgroup cgroup rw,pids\n",
			      root, root, root, root, root, root);
	for (size_t i = 0; i < VS_ARRAY_SIZE(ctrls); i++) {
		cleanup_free char *d = xasprintf("%s/%s/vsd-t/c1", root, ctrls[i]);
		cleanup_free char *cmd = xasprintf("mkdir -p '%s'", d);
		assert_int_equal(system(cmd), 0);
	}
	put(root, "memory", "memory.usage_in_bytes", "4096\n");
	put(root, "memory", "memory.limit_in_bytes", "268435456\n");
	put(root, "memory", "memory.max_usage_in_bytes", "8192\n");
	put(root, "memory", "memory.stat", mem);
	put(root, "memory", "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
	put(root, "cpuacct", "cpuacct.usage", "5000000\n");
	/* User and system time from usage_all: the two files it replaces
	 * would fail the call if read. */
	put(root, "cpuacct", "cpuacct.usage_all",
	    "cpu user system\n0 1000000 500000\n1 2000000 1500000\n");
	put(root, "cpuacct", "cpuacct.usage_user", "bad\n");
	put(root, "cpuacct", "cpuacct.usage_sys", "bad\n");
	put(root, "cpu", "cpu.stat", "nr_periods 4\nnr_throttled 1\nthrottled_time 7000\n");
	/* Bytes: the _recursive file lists no device, the plain one counts;
	 * operations: the _recursive one counts (sub-cgroups included). */
	put(root, "blkio", "blkio.throttle.io_service_bytes_recursive", "Total 0\n");
	put(root, "blkio", "blkio.throttle.io_service_bytes",
	    "8:0 Read 10\n8:0 Write 20\nTotal 30\n");
	put(root, "blkio", "blkio.throttle.io_serviced_recursive",
	    "8:0 Read 3\n8:0 Write 4\nTotal 7\n");
	put(root, "blkio", "blkio.throttle.io_serviced", "8:0 Read 1\n8:0 Write 1\nTotal 2\n");
	put(root, "pids", "pids.current", "3\n");
	put(root, "pids", "pids.max", "max\n");
	if (vs_cg_host_parse(root, mountinfo, &h, &err) < 0)
		fail_msg("host: %s", err.msg);
	cg = vs_cg_open(h, "vsd-t", "c1");
	assert_non_null(cg);
	if (vs_cg_stats(cg, &st, &err) < 0)
		fail_msg("stats: %s", err.msg);
	assert_int_equal(st.memory_current, 4096);
	assert_int_equal(st.memory_max, 268435456);
	assert_int_equal(st.memory_peak, 8192);
	assert_int_equal(st.memory_file, 100);
	assert_int_equal(st.memory_anon, 200);
	assert_int_equal(st.pgfault, 300);
	assert_int_equal(st.memory_swap, -1); /* no memsw file, no total_swap */
	assert_int_equal(st.oom_kills, 2);
	assert_int_equal(st.cpu_usage_usec, 5000);
	assert_int_equal(st.cpu_user_usec, 3000);
	assert_int_equal(st.cpu_system_usec, 2000);
	assert_int_equal(st.cpu_nr_throttled, 1);
	assert_int_equal(st.cpu_throttled_usec, 7);
	assert_int_equal(st.io_read_bytes, 10);
	assert_int_equal(st.io_write_bytes, 20);
	assert_int_equal(st.io_read_ios, 3);
	assert_int_equal(st.io_write_ios, 4);
	assert_int_equal(st.pids_current, 3);
	assert_int_equal(st.pids_max, -1);
	/* Without usage_all (before Linux 4.7), the two files. */
	{
		cleanup_free char *p = xasprintf("%s/cpuacct/vsd-t/c1/cpuacct.usage_all", root);
		assert_int_equal(unlink(p), 0);
	}
	put(root, "cpuacct", "cpuacct.usage_user", "6000000\n");
	put(root, "cpuacct", "cpuacct.usage_sys", "1000000\n");
	if (vs_cg_stats(cg, &st, &err) < 0)
		fail_msg("stats: %s", err.msg);
	assert_int_equal(st.cpu_user_usec, 6000);
	assert_int_equal(st.cpu_system_usec, 1000);
	/* The sampler's reading: CPU and usage, memory.stat only from
	 * faults_from bytes of usage, nothing else. */
	assert_int_equal(vs_cg_sample(cg, -1, &st, &err), 0);
	assert_int_equal(st.cpu_usage_usec, 5000);
	assert_int_equal(st.memory_current, 4096);
	assert_int_equal(st.pgfault, -1);
	assert_int_equal(st.memory_max, -1);
	assert_int_equal(st.oom_kills, -1);
	assert_int_equal(st.pids_current, -1);
	assert_int_equal(vs_cg_sample(cg, 4097, &st, &err), 0);
	assert_int_equal(st.pgfault, -1);
	assert_int_equal(vs_cg_sample(cg, 4096, &st, &err), 0);
	assert_int_equal(st.pgfault, 300);
	put(root, "memory", "memory.usage_in_bytes", "lots\n");
	assert_int_equal(vs_cg_sample(cg, -1, &st, &err), -1);
	assert_non_null(strstr(err.msg, "memory.usage_in_bytes: unexpected content 'lots'"));
	put(root, "memory", "memory.usage_in_bytes", "4096\n");
	/* The same counters through descriptors kept open (the sampler's and
	 * a list's): read again from the start each time. */
	{
		const int64_t want[VS_CG_COUNTERS] = {2, 5000, 4096};
		int fds[VS_CG_COUNTERS];
		int64_t v;

		for (int i = 0; i < VS_CG_COUNTERS; i++) {
			fds[i] = vs_cg_counter_open(cg, i, &err);
			assert_true(fds[i] >= 0);
			assert_int_equal(vs_cg_counter_read(fds[i], i, &v, &err), 0);
			assert_int_equal(v, want[i]);
		}
		put(root, "memory", "memory.usage_in_bytes", "8192\n");
		put(root, "cpuacct", "cpuacct.usage", "9000000\n");
		assert_int_equal(
		    vs_cg_counter_read(fds[VS_CG_MEMORY_BYTES], VS_CG_MEMORY_BYTES, &v, &err), 0);
		assert_int_equal(v, 8192);
		assert_int_equal(vs_cg_counter_read(fds[VS_CG_CPU_USEC], VS_CG_CPU_USEC, &v, &err),
				 0);
		assert_int_equal(v, 9000);
		/* Not a number: unknown, not an error. */
		put(root, "memory", "memory.usage_in_bytes", "lots\n");
		assert_int_equal(
		    vs_cg_counter_read(fds[VS_CG_MEMORY_BYTES], VS_CG_MEMORY_BYTES, &v, &err), 0);
		assert_int_equal(v, -1);
		for (int i = 0; i < VS_CG_COUNTERS; i++)
			close(fds[i]);
		put(root, "memory", "memory.usage_in_bytes", "4096\n");
		put(root, "cpuacct", "cpuacct.usage", "5000000\n");
		/* The instance parent's CPU time (the sampler's "did anything
		 * run" read): the parent's own file, not the container's. */
		{
			cleanup_free char *pp = xasprintf("%s/cpuacct/vsd-t/cpuacct.usage", root);
			FILE *f = fopen(pp, "w");
			int pfd;

			assert_non_null(f);
			fputs("7000000\n", f);
			fclose(f);
			pfd = vs_cg_parent_counter_open(cg, VS_CG_CPU_USEC, &err);
			assert_true(pfd >= 0);
			assert_int_equal(vs_cg_counter_read(pfd, VS_CG_CPU_USEC, &v, &err), 0);
			assert_int_equal(v, 7000);
			close(pfd);
			unlink(pp);
			assert_int_equal(vs_cg_parent_counter_open(cg, VS_CG_CPU_USEC, &err), -1);
			assert_int_equal(err.errnum, ENOENT);
		}
		/* A controller the host lacks: ENOENT. */
		assert_int_equal(vs_cg_counter_open(cg, VS_CG_COUNTERS, &err), -1);
		assert_int_equal(err.errnum, ENOENT);
	}
	/* A file that is not a number names itself. */
	put(root, "pids", "pids.current", "three\n");
	assert_int_equal(vs_cg_stats(cg, &st, &err), -1);
	assert_non_null(strstr(err.msg, "pids.current: unexpected content 'three'"));
	vs_cg_free(cg);
	vs_cg_host_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_memory_stat),
	    cmocka_unit_test(test_parse_key),
	    cmocka_unit_test(test_cpu_stat),
	    cmocka_unit_test(test_io_stat),
	    cmocka_unit_test(test_blkio),
	    cmocka_unit_test(test_idle_decide),
	    cmocka_unit_test(test_sweep_quiet),
	    cmocka_unit_test(test_kmsg),
	    cmocka_unit_test(test_oom_count),
	    cmocka_unit_test(test_cpuacct_all),
	    cmocka_unit_test_setup_teardown(test_stats_files, tree_setup, tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
