/* migrate: the CRIU capability probe. The parsers run on canned CRIU output
 * (4.3 on this kernel, Debian 12's 3.17, non-root, timestamped log lines);
 * the runner and the whole probe run against small /bin/sh stand-ins for
 * criu written into a temporary directory (removed in teardown). The last
 * case probes the real private CRIU when it is installed and we are root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/vs_util.h"
#include "migrate/mig-private.h"
#include "migrate/vs_migrate.h"

static char tmpdir[] = "/tmp/vsd-test-migrate-XXXXXX";

static char *const sh_env[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", NULL};

static int setup(void **state)
{
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static const char *const tmpfiles[] = {
    "criu", "plain", "iptables-restore", "subdir", "criu.log", "inventory.img", "uffd", "fifo"};

static int teardown(void **state)
{
	for (size_t i = 0; i < VS_ARRAY_SIZE(tmpfiles); i++) {
		cleanup_free char *p = xasprintf("%s/%s", tmpdir, tmpfiles[i]);

		if (unlink(p) < 0 && errno == EISDIR)
			rmdir(p);
	}
	return rmdir(tmpdir);
}

static struct vs_mig_result canned(int exit_code, const char *out)
{
	struct vs_mig_result r = {.status = (exit_code & 0xff) << 8, .out = (char *)out};

	r.len = strlen(out);
	return r;
}

/* --- parsers ------------------------------------------------------------ */

static void test_version(void **state)
{
	char v[VS_MIG_VERSION_MAX];

	assert_int_equal(vs_mig_parse_version("Version: 4.3\n", v, sizeof(v)), 0);
	assert_string_equal(v, "4.3");
	assert_int_equal(vs_mig_parse_version("Version: 4.1.1\nGitID: v4.1.1\n", v, sizeof(v)), 0);
	assert_string_equal(v, "4.1.1");
	/* Not the first line; no trailing newline; Debian-style suffix. */
	assert_int_equal(vs_mig_parse_version("Warn: x\nVersion:\t3.17.1+dfsg", v, sizeof(v)), 0);
	assert_string_equal(v, "3.17.1+dfsg");
}

static void test_version_bad(void **state)
{
	static const char *const bad[] = {
	    "",
	    "criu: error while loading shared libraries: libnet.so.9\n",
	    "Version:\n",
	    "Version: 4.3 (custom)\n",
	    "Version: ;rm -rf /\n",
	    "Version: v4.3\n",
	    " Version: 4.3\n",
	};
	char v[VS_MIG_VERSION_MAX];

	for (size_t i = 0; i < VS_ARRAY_SIZE(bad); i++) {
		strcpy(v, "junk");
		assert_int_equal(vs_mig_parse_version(bad[i], v, sizeof(v)), -1);
		assert_string_equal(v, "");
	}
	/* Does not fit: refused rather than cut. */
	assert_int_equal(vs_mig_parse_version("Version: 4.3.10\n", v, 6), -1);
	assert_int_equal(vs_mig_parse_version("Version: 4.3.1\n", v, 6), 0);
	assert_string_equal(v, "4.3.1");
}

static void test_check_ok(void **state)
{
	/* What CRIU 4.3 prints here as root: the RLIMIT error comes on every
	 * successful run too; exit 0 decides. */
	struct vs_mig_result r =
	    canned(0, "Error (criu/util.c:1532): rlimit: Can't setup RLIMIT_NOFILE for self: "
		      "Operation not permitted\nLooks good.\n");
	char msg[64] = "junk";

	assert_true(vs_mig_parse_check(&r, msg, sizeof(msg)));
	assert_string_equal(msg, "");
	r = canned(0, "uffd-noncoop is supported\n");
	assert_true(vs_mig_parse_check(&r, msg, sizeof(msg)));
	assert_string_equal(msg, "");
}

static void test_check_feature_missing(void **state)
{
	/* criu 4.3 `check --feature mem_dirty_track` on this host. */
	struct vs_mig_result r =
	    canned(1, "Warn  (criu/cr-check.c:824): Dirty tracking is OFF. Memory snapshot "
		      "will not work.\n");
	char msg[VS_MIG_MSG_MAX];

	assert_false(vs_mig_parse_check(&r, msg, sizeof(msg)));
	assert_string_equal(msg, "Dirty tracking is OFF. Memory snapshot will not work.");
}

static void test_check_errors_win(void **state)
{
	/* Debian 12's 3.17 on this kernel (noise first, a warning, then the
	 * errors): the errors are the reason, the noise never is. */
	struct vs_mig_result r = canned(
	    1, "Error (criu/util.c:1532): rlimit: Can't setup RLIMIT_NOFILE for self: Operation "
	       "not permitted\n"
	       "Warn  (criu/kerndat.c:1286): Can't keep kdat cache on non-tempfs\n"
	       "Warn  (criu/cr-check.c:824): Dirty tracking is OFF. Memory snapshot will not "
	       "work.\n"
	       "Error (criu/vdso.c:292): vdso: Unexpected rt vDSO area bounds\n"
	       "Error (criu/cr-check.c:1130): Failed to fill kerndat\n");
	char msg[VS_MIG_MSG_MAX];

	assert_false(vs_mig_parse_check(&r, msg, sizeof(msg)));
	assert_string_equal(msg, "vdso: Unexpected rt vDSO area bounds; Failed to fill kerndat");
}

static void test_check_plain_lines(void **state)
{
	/* pr_msg explanations have no prefix; at most three are kept. */
	struct vs_mig_result r =
	    canned(1, "The sock diag infrastructure is incomplete.\nMake sure you have:\n"
		      " 1. *_DIAG kernel config options turned on;\n"
		      " 2. *_diag.ko modules loaded (if compiled as modules).\n");
	char msg[VS_MIG_MSG_MAX];

	assert_false(vs_mig_parse_check(&r, msg, sizeof(msg)));
	assert_string_equal(msg, "The sock diag infrastructure is incomplete.; Make sure you "
				 "have:; 1. *_DIAG kernel config options turned on;");
}

static void test_check_not_root(void **state)
{
	/* criu 4.3 `check` as nobody, byte for byte (note the trailing blank). */
	struct vs_mig_result r =
	    canned(1, "CRIU needs to have the CAP_SYS_ADMIN or the CAP_CHECKPOINT_RESTORE "
		      "capability: \nsetcap cap_checkpoint_restore+eip /opt/vsd/criu/bin/criu\n");
	char msg[VS_MIG_MSG_MAX];

	assert_false(vs_mig_parse_check(&r, msg, sizeof(msg)));
	assert_string_equal(msg, "CRIU needs to have the CAP_SYS_ADMIN or the "
				 "CAP_CHECKPOINT_RESTORE capability:; setcap "
				 "cap_checkpoint_restore+eip /opt/vsd/criu/bin/criu");
}

static void test_check_log_prefixes(void **state)
{
	/* A log file line: timestamp and pid before the level. */
	struct vs_mig_result r =
	    canned(1, "(00.074160)      1: mnt: Cleaning mount namespace\n"
		      "(00.074161)      1: Error (criu/mount.c:48): mnt: BUG at criu/mount.c:48\n");
	char msg[VS_MIG_MSG_MAX];

	assert_false(vs_mig_parse_check(&r, msg, sizeof(msg)));
	assert_string_equal(msg, "mnt: BUG at criu/mount.c:48");
}

static void test_check_no_text(void **state)
{
	struct vs_mig_result r = canned(3, "");
	char msg[VS_MIG_MSG_MAX];

	assert_false(vs_mig_parse_check(&r, msg, sizeof(msg)));
	assert_string_equal(msg, "exited with status 3");
	/* Only noise is as good as no text. */
	r = canned(1, "Warn  (criu/kerndat.c:1286): Can't keep kdat cache on non-tempfs\n\n");
	assert_false(vs_mig_parse_check(&r, msg, sizeof(msg)));
	assert_string_equal(msg, "exited with status 1");
	r = canned(0, "");
	r.status = SIGSEGV; /* WIFSIGNALED */
	assert_false(vs_mig_parse_check(&r, msg, sizeof(msg)));
	assert_string_equal(msg, "killed by signal 11");
	r = canned(0, "Looks good.\n");
	r.timed_out = true; /* killed by us: never a success */
	assert_false(vs_mig_parse_check(&r, msg, sizeof(msg)));
	assert_string_equal(msg, "timed out: Looks good.");
	r = canned(0, "");
	r.timed_out = true;
	assert_false(vs_mig_parse_check(&r, msg, sizeof(msg)));
	assert_string_equal(msg, "timed out");
}

static void test_check_truncates_and_sanitizes(void **state)
{
	struct vs_mig_result r = canned(1, "Error (x.c:1): bad\033[31m red\n");
	char msg[8];
	char big[VS_MIG_MSG_MAX];

	assert_false(vs_mig_parse_check(&r, msg, sizeof(msg)));
	assert_string_equal(msg, "bad?[31");
	assert_false(vs_mig_parse_check(&r, big, sizeof(big)));
	assert_string_equal(big, "bad?[31m red");
}

/* --- PATH lookup -------------------------------------------------------- */

static void write_file(const char *name, const char *text, mode_t mode)
{
	cleanup_free char *p = xasprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(p, "we");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(p, mode), 0);
}

static void test_in_path(void **state)
{
	cleanup_free char *path = xasprintf("/nonexistent:%s", tmpdir);
	cleanup_free char *sub = xasprintf("%s/subdir", tmpdir);
	char cwd[4096];

	write_file("iptables-restore", "#!/bin/sh\n", 0755);
	write_file("plain", "data\n", 0644);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_true(vs_mig_in_path(path, "iptables-restore"));
	assert_false(vs_mig_in_path(path, "plain"));  /* not executable */
	assert_false(vs_mig_in_path(path, "subdir")); /* not a file */
	assert_false(vs_mig_in_path(path, "ip6tables-restore"));
	assert_false(vs_mig_in_path(path, ""));
	assert_false(vs_mig_in_path("/", "tmp/x"));
	/* Empty and relative entries never mean the current directory. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	assert_false(vs_mig_in_path("::.:", "iptables-restore"));
	assert_int_equal(chdir(cwd), 0);
}

/* --- runner ------------------------------------------------------------- */

static void test_run_output_and_status(void **state)
{
	char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL};
	struct vs_mig_result r = {0};
	struct vs_error err = {0};

	assert_int_equal(vs_mig_run(argv,
				    &(struct vs_mig_run_opts){.envp = sh_env, .timeout_ms = 5000},
				    &r, &err),
			 0);
	assert_false(r.timed_out);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 3);
	assert_string_equal(r.out, "out\nerr\n");
	assert_int_equal(r.len, 8);
	vs_mig_result_free(&r);
	assert_null(r.out);
}

/* A process without a descriptor left for the pidfd (EMFILE; the output
 * dropped, so no pipe is needed): the run is not killed for it, and its
 * status comes as usual. */
static void test_run_without_pidfd(void **state)
{
	char *argv[] = {"/bin/sh", "-c", "exit 4", NULL};
	struct vs_mig_result r = {0};
	struct vs_error err = {0};
	struct rlimit old, low;
	int fds[64], n = 0, rc;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (n < 64 && (fds[n] = dup(0)) >= 0)
		n++;
	rc = vs_mig_run(
	    argv,
	    &(struct vs_mig_run_opts){.envp = sh_env, .timeout_ms = 5000, .discard_output = true},
	    &r, &err);
	while (n > 0)
		close(fds[--n]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	if (rc != 0)
		fail_msg("%s", err.msg);
	assert_false(r.timed_out);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 4);
	vs_mig_result_free(&r);
}

static void test_run_env_and_signals(void **state)
{
	/* The child gets exactly our environment, an empty signal mask and no
	 * ignored signals even when the caller blocks and ignores some (as the
	 * daemon does). No shell in between: dash clears its mask itself. */
	char *env[] = {"/usr/bin/env", NULL};
	char *sig[] = {"/bin/grep", "^Sig[BI]", "/proc/self/status", NULL};
	struct vs_mig_result r = {0}, rs = {0};
	struct vs_error err = {0};
	struct sigaction ign = {.sa_handler = SIG_IGN}, oldpipe;
	sigset_t block, old;
	const char *ignored;
	int rc_env, rc_sig;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigaction(SIGPIPE, &ign, &oldpipe);
	rc_env = vs_mig_run(env, &(struct vs_mig_run_opts){.envp = sh_env, .timeout_ms = 5000}, &r,
			    &err);
	rc_sig = vs_mig_run(sig, &(struct vs_mig_run_opts){.envp = sh_env, .timeout_ms = 5000}, &rs,
			    &err);
	sigaction(SIGPIPE, &oldpipe, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	assert_int_equal(rc_env, 0);
	assert_string_equal(r.out, "PATH=/usr/bin:/bin\nLC_ALL=C\n");
	assert_int_equal(rc_sig, 0);
	assert_non_null(strstr(rs.out, "SigBlk:\t0000000000000000\n"));
	ignored = strstr(rs.out, "SigIgn:\t");
	assert_non_null(ignored);
	/* Signals 1-31. glibc's posix_spawn leaves its two internal signals
	 * (32, 33: thread cancellation, setxid) ignored; nothing uses them. */
	assert_int_equal(strtoull(ignored + 8, NULL, 16) & 0x7fffffffULL, 0);
	vs_mig_result_free(&r);
	vs_mig_result_free(&rs);
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Running (not a zombie, not gone)? */
static bool alive(pid_t pid)
{
	cleanup_free char *p = xasprintf("/proc/%d/stat", (int)pid);
	char buf[512], *rp;
	FILE *f = fopen(p, "re");
	size_t n;

	if (f == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp != NULL && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

static void test_run_timeout_kills_group(void **state)
{
	/* sh forks a sleep (same process group) and waits: on timeout both
	 * must be gone, and we must not wait for the 30 s. */
	char *argv[] = {"/bin/sh", "-c", "sleep 30 & echo $!; wait", NULL};
	struct vs_mig_result r = {0};
	struct vs_error err = {0};
	long long t0 = mono_ms(), dt;
	pid_t child;

	assert_int_equal(vs_mig_run(argv,
				    &(struct vs_mig_run_opts){.envp = sh_env, .timeout_ms = 300},
				    &r, &err),
			 0);
	dt = mono_ms() - t0;
	assert_true(r.timed_out);
	assert_true(dt >= 300 && dt < 5000);
	child = (pid_t)atoi(r.out);
	assert_true(child > 1);
	for (int i = 0; i < 100 && alive(child); i++)
		usleep(10000);
	if (alive(child))
		kill(child, SIGKILL); /* ours: do not leak it when failing */
	assert_false(alive(child));
	vs_mig_result_free(&r);
}

static void test_run_output_capped(void **state)
{
	/* 200 KB: kept up to the cap, the rest read and dropped, no block. */
	char *argv[] = {"/bin/sh", "-c", "head -c 200000 /dev/zero | tr '\\0' a; echo done >&2",
			NULL};
	struct vs_mig_result r = {0};
	struct vs_error err = {0};

	assert_int_equal(vs_mig_run(argv,
				    &(struct vs_mig_run_opts){.envp = sh_env, .timeout_ms = 5000},
				    &r, &err),
			 0);
	assert_false(r.timed_out);
	assert_int_equal(WEXITSTATUS(r.status), 0);
	assert_int_equal(r.len, VS_MIG_OUTPUT_MAX);
	assert_int_equal(strlen(r.out), VS_MIG_OUTPUT_MAX);
	assert_int_equal(strspn(r.out, "a"), VS_MIG_OUTPUT_MAX);
	vs_mig_result_free(&r);
}

static void test_run_bad_program(void **state)
{
	char *missing[] = {"/nonexistent/criu", "check", NULL};
	char *relative[] = {"sh", "-c", "true", NULL};
	struct vs_mig_result r = {.len = 7};
	struct vs_error err = {0};

	assert_int_equal(vs_mig_run(missing,
				    &(struct vs_mig_run_opts){.envp = sh_env, .timeout_ms = 1000},
				    &r, &err),
			 -2);
	assert_int_equal(err.errnum, ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent/criu"));
	assert_null(r.out);
	assert_int_equal(r.len, 0);
	vs_error_clear(&err);
	assert_int_equal(vs_mig_run(relative,
				    &(struct vs_mig_run_opts){.envp = sh_env, .timeout_ms = 1000},
				    &r, &err),
			 -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
}

static void test_run_keep_and_env(void **state)
{
	/* keep[0] lands on 3; a descriptor we did not keep, even one without
	 * O_CLOEXEC, is closed; with no envp the program gets CRIU's
	 * environment and the caller's extra variables, nothing of ours. */
	int p[2];
	int stray = fcntl(STDERR_FILENO, F_DUPFD, 10); /* no O_CLOEXEC */
	cleanup_free char *script =
	    xasprintf("echo kept >&3; if [ -e /dev/fd/%d ]; then echo leaked; fi", stray);
	char *argv[] = {"/bin/sh", "-c", script, NULL};
	char *env[] = {"/usr/bin/env", NULL};
	char *const extra[] = {"VSD_LAYER_SRC=/a", NULL};
	struct vs_mig_result r = {0};
	struct vs_error err = {0};
	char buf[16] = "";

	assert_true(stray >= 10);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(
	    vs_mig_run(argv,
		       &(struct vs_mig_run_opts){
			   .env_extra = extra, .keep = &p[1], .nkeep = 1, .timeout_ms = 5000},
		       &r, &err),
	    0);
	close(p[1]);
	close(stray);
	assert_int_equal(read(p[0], buf, sizeof(buf) - 1), 5);
	close(p[0]);
	assert_string_equal(buf, "kept\n");
	assert_int_equal(WEXITSTATUS(r.status), 0);
	assert_string_equal(r.out, "");
	vs_mig_result_free(&r);
	assert_int_equal(
	    vs_mig_run(env, &(struct vs_mig_run_opts){.env_extra = extra, .timeout_ms = 5000}, &r,
		       &err),
	    0);
	assert_string_equal(r.out, "PATH=" VS_MIG_PATH "\nLC_ALL=C\nVSD_LAYER_SRC=/a\n");
	vs_mig_result_free(&r);
	/* Output dropped: nothing collected, the status still there. */
	{
		char *quiet[] = {"/bin/sh", "-c", "echo out; exit 4", NULL};
		assert_int_equal(vs_mig_run(quiet,
					    &(struct vs_mig_run_opts){.envp = sh_env,
								      .timeout_ms = 5000,
								      .discard_output = true},
					    &r, &err),
				 0);
		assert_int_equal(r.len, 0);
		assert_string_equal(r.out, "");
		assert_int_equal(WEXITSTATUS(r.status), 4);
		vs_mig_result_free(&r);
	}
}

/* vs_mig_criu_run: a failed run's error is its log's error lines. */
static void test_criu_run(void **state)
{
	cleanup_free char *criu = xasprintf("%s/criu", tmpdir);
	cleanup_free char *log = xasprintf("%s/criu.log", tmpdir);
	char *const dump[] = {"dump", "-o", log, NULL};
	const struct vs_mig_run_opts o = {.timeout_ms = 5000};
	struct vs_error err = {0};

	/* criu writes its log (-o) and fails: the last error lines, CRIU's
	 * own ("Error (file:line): "), the restorer's ("pie: PID: ") too; a
	 * helper's "Error:" line and the RLIMIT noise are not reasons. */
	write_file("criu",
		   "#!/bin/sh\n"
		   "printf '%s\\n' '(00.000100)      1: Error (criu/util.c:1): rlimit: Can'\\''t "
		   "setup RLIMIT_NOFILE' '(00.000200)      1: Error (criu/mount.c:2): mnt: first' "
		   "'Error: Nexthop has invalid gateway.' '(00.000300) pie: 7: Error "
		   "(criu/pie/restorer.c:3): second' > \"$3\"\nexit 1\n",
		   0755);
	assert_int_equal(vs_mig_criu_run(criu, dump, &o, log, &err), -1);
	assert_non_null(strstr(err.msg, "criu dump failed: mnt: first; second (log: "));
	assert_null(strstr(err.msg, "RLIMIT"));
	assert_null(strstr(err.msg, "Nexthop"));
	/* Success, a missing program, none configured, too slow. */
	write_file("criu", "#!/bin/sh\nexit 0\n", 0755);
	assert_int_equal(vs_mig_criu_run(criu, dump, &o, log, &err), 0);
	vs_error_clear(&err);
	assert_int_equal(vs_mig_criu_run("/nonexistent/criu", dump, &o, log, &err), -1);
	assert_int_equal(err.kind, VS_EK_UNSUPPORTED);
	vs_error_clear(&err);
	assert_int_equal(vs_mig_criu_run(NULL, dump, &o, log, &err), -1);
	assert_int_equal(err.kind, VS_EK_UNSUPPORTED);
	vs_error_clear(&err);
	write_file("criu", "#!/bin/sh\nexec sleep 30\n", 0755);
	assert_int_equal(
	    vs_mig_criu_run(criu, dump, &(struct vs_mig_run_opts){.timeout_ms = 200}, log, &err),
	    -1);
	assert_int_equal(err.errnum, ETIMEDOUT);
}

/* A FIFO's reading end afresh: one whose writer came and went hangs up. */
static int reopen_fifo(int fd, const char *path)
{
	close(fd);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/* CRIU in the background, met at an action script's FIFO (the dump's
 * freeze at pre-dump): the FIFO written, the run ended first (its error,
 * or "ended before" when it exited 0), nothing within the wait, and a
 * cancel that kills CRIU's whole process group at once. */
static void test_criu_background(void **state)
{
	cleanup_free char *criu = xasprintf("%s/criu", tmpdir);
	cleanup_free char *log = xasprintf("%s/criu.log", tmpdir);
	cleanup_free char *fifo = xasprintf("%s/fifo", tmpdir);
	cleanup_free char *env0 = xasprintf("VSD_FIFO=%s", fifo);
	char *extra[] = {env0, NULL};
	char *const dump[] = {"dump", "-o", log, NULL};
	const struct vs_mig_run_opts o = {.env_extra = extra, .timeout_ms = 30000};
	struct vs_mig_bg bg = VS_MIG_BG_NONE;
	struct vs_error err = {0};
	cleanup_close int fd = -1;
	char buf[32] = "";
	long long t0;
	pid_t sleeper;

	assert_int_equal(mkfifo(fifo, 0600), 0);
	fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(fd >= 0);
	/* At the script: then cancelled, the sleep it became killed. */
	write_file("criu", "#!/bin/sh\necho $$ >\"$VSD_FIFO\"\nexec sleep 30\n", 0755);
	assert_int_equal(vs_mig_criu_start(criu, dump, &o, log, &bg, &err), 0);
	assert_int_equal(vs_mig_criu_wait_fd(&bg, fd, "the script", 10000, &err), 1);
	for (int i = 0; i < 100 && read(fd, buf, sizeof(buf) - 1) <= 0; i++)
		usleep(10000);
	sleeper = (pid_t)atoi(buf);
	assert_true(sleeper > 1);
	t0 = mono_ms();
	vs_mig_criu_abort(&bg);
	assert_true(mono_ms() - t0 < 10000);
	assert_int_equal(bg.pid, -1);
	assert_int_equal(bg.cancelfd, -1);
	for (int i = 0; i < 100 && alive(sleeper); i++)
		usleep(10000);
	if (alive(sleeper))
		kill(sleeper, SIGKILL); /* ours: do not leak it when failing */
	assert_false(alive(sleeper));
	/* Ended first, failing: its error. */
	write_file("criu",
		   "#!/bin/sh\necho '(00.1) Error (criu/x.c:1): bad option' >\"$3\"\nexit 1\n",
		   0755);
	fd = reopen_fifo(fd, fifo);
	assert_int_equal(vs_mig_criu_start(criu, dump, &o, log, &bg, &err), 0);
	assert_int_equal(vs_mig_criu_wait_fd(&bg, fd, "the script", 10000, &err), 0);
	assert_non_null(strstr(err.msg, "criu dump failed: bad option"));
	assert_int_equal(bg.pid, -1);
	vs_error_clear(&err);
	/* Ended first, with 0. */
	write_file("criu", "#!/bin/sh\nexit 0\n", 0755);
	fd = reopen_fifo(fd, fifo);
	assert_int_equal(vs_mig_criu_start(criu, dump, &o, log, &bg, &err), 0);
	assert_int_equal(vs_mig_criu_wait_fd(&bg, fd, "the script", 10000, &err), 0);
	assert_non_null(strstr(err.msg, "criu ended before the script"));
	vs_error_clear(&err);
	/* Never there: the wait ends, the run goes on until cancelled. */
	write_file("criu", "#!/bin/sh\nexec sleep 30\n", 0755);
	fd = reopen_fifo(fd, fifo);
	assert_int_equal(vs_mig_criu_start(criu, dump, &o, log, &bg, &err), 0);
	assert_int_equal(vs_mig_criu_wait_fd(&bg, fd, "the script", 200, &err), -1);
	assert_int_equal(err.errnum, ETIMEDOUT);
	assert_true(bg.pid > 0);
	vs_error_clear(&err);
	vs_mig_criu_abort(&bg);
	assert_int_equal(bg.pid, -1);
	/* At the script, then a good end: finish says 0. */
	write_file("criu", "#!/bin/sh\necho x >\"$VSD_FIFO\"\nexit 0\n", 0755);
	fd = reopen_fifo(fd, fifo);
	assert_int_equal(vs_mig_criu_start(criu, dump, &o, log, &bg, &err), 0);
	assert_int_equal(vs_mig_criu_wait_fd(&bg, fd, "the script", 10000, &err), 1);
	assert_int_equal(vs_mig_criu_finish(&bg, 10000, &err), 0);
	assert_int_equal(bg.pid, -1);
}

/* The dump's network lock from the caps; an image directory's first look. */
static void test_netlock_and_image_present(void **state)
{
	struct vs_mig_caps k = {.available = true, .network_lock = VS_MIG_NETLOCK_NFTABLES};
	cleanup_free char *inv = xasprintf("%s/inventory.img", tmpdir);
	cleanup_close int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_string_equal(vs_mig_dump_netlock(&k), "nftables");
	k.network_lock = VS_MIG_NETLOCK_IPTABLES;
	assert_null(vs_mig_dump_netlock(&k));
	k.network_lock = VS_MIG_NETLOCK_NFTABLES;
	k.available = false;
	assert_null(vs_mig_dump_netlock(&k));

	assert_true(dfd >= 0);
	assert_false(vs_mig_image_present(dfd));
	assert_int_equal(symlink("/etc/passwd", inv), 0); /* not followed */
	assert_false(vs_mig_image_present(dfd));
	assert_int_equal(unlink(inv), 0);
	assert_int_equal(mkdir(inv, 0700), 0);
	assert_false(vs_mig_image_present(dfd));
	assert_int_equal(rmdir(inv), 0);
	write_file("inventory.img", "", 0600);
	assert_true(vs_mig_image_present(dfd));
}

/* --- the whole probe, against stand-ins --------------------------------- */

/* A fake criu: prints `version`, then answers `check` and the three
 * features with the given exit status and text (stderr for failures). */
static void write_fake_criu(const char *version, const char *check, const char *uffd,
			    const char *dirty, const char *nft)
{
	cleanup_free char *text =
	    xasprintf("#!/bin/sh\n"
		      "answer() { if [ \"$1\" = 0 ]; then echo \"$2\"; else echo \"$2\" >&2; fi; "
		      "exit $1; }\n"
		      "case \"$*\" in\n"
		      "--version) echo '%s'; exit 0;;\n"
		      "check) answer %s;;\n"
		      "'check --feature uffd-noncoop') answer %s;;\n"
		      "'check --feature mem_dirty_track') answer %s;;\n"
		      "'check --feature network_lock_nftables') answer %s;;\n"
		      "*) echo \"Error (fake): unexpected: $*\" >&2; exit 99;;\n"
		      "esac\n",
		      version, check, uffd, dirty, nft);

	write_file("criu", text, 0755);
}

static void test_probe_criu43_here(void **state)
{
	cleanup_free char *criu = xasprintf("%s/criu", tmpdir);
	struct vs_mig_caps caps;
	struct vs_error err = {0};

	/* What CRIU 4.3 answers on this host. */
	write_fake_criu("Version: 4.3", "0 'Looks good.'", "0 'uffd-noncoop is supported'",
			"1 'Warn  (criu/cr-check.c:824): Dirty tracking is OFF. Memory snapshot "
			"will not work.'",
			"0 'network_lock_nftables is supported'");
	char why[VS_MIG_MSG_MAX];
	bool userns = vs_mig_uffd_userns(VS_MIG_UFFD_SYSCTL, why, sizeof(why));

	assert_int_equal(vs_mig_probe(criu, &caps, &err), 0);
	assert_true(caps.available);
	assert_string_equal(caps.available_msg, "");
	assert_string_equal(caps.version, "4.3");
	/* uffd-noncoop passes as root; lazy pages also need the sysctl that
	 * lets the restored tasks (in the container's user namespace) open a
	 * userfaultfd: 0 on this host. */
	assert_int_equal(caps.lazy_pages, userns);
	if (userns) {
		assert_string_equal(caps.lazy_pages_msg, "");
	} else {
		assert_non_null(strstr(caps.lazy_pages_msg, "post-copy"));
		assert_non_null(strstr(caps.lazy_pages_msg, "vm.unprivileged_userfaultfd"));
	}
	assert_false(caps.mem_tracking);
	assert_non_null(strstr(caps.mem_tracking_msg, "pre-copy"));
	assert_non_null(strstr(caps.mem_tracking_msg, "Dirty tracking is OFF"));
	assert_int_equal(caps.network_lock, VS_MIG_NETLOCK_NFTABLES);
	assert_string_equal(vs_mig_netlock_name(caps.network_lock), "nftables");
	assert_string_equal(caps.network_lock_msg, "");
}

/* vs_mig_uffd_userns: the sysctl's file as the kernel writes it. */
static void test_uffd_userns(void **state)
{
	cleanup_free char *path = xasprintf("%s/uffd", tmpdir);
	cleanup_free char *gone = xasprintf("%s/nonexistent", tmpdir);
	char why[VS_MIG_MSG_MAX];

	write_file("uffd", "1\n", 0644);
	why[0] = '\0';
	assert_true(vs_mig_uffd_userns(path, why, sizeof(why)));
	assert_string_equal(why, "");
	write_file("uffd", "0\n", 0644);
	assert_false(vs_mig_uffd_userns(path, why, sizeof(why)));
	assert_non_null(strstr(why, "vm.unprivileged_userfaultfd is 0:"));
	assert_non_null(strstr(why, "user namespace"));
	assert_non_null(strstr(why, "sysctl -w vm.unprivileged_userfaultfd=1"));
	/* Anything but 1 is not 1 (a future value, a stray byte). */
	write_file("uffd", "10\n", 0644);
	assert_false(vs_mig_uffd_userns(path, why, sizeof(why)));
	assert_non_null(strstr(why, "is 10:"));
	write_file("uffd", "", 0644);
	assert_false(vs_mig_uffd_userns(path, why, sizeof(why)));
	/* A kernel without the sysctl (before 5.2): unknown, so refused. */
	assert_false(vs_mig_uffd_userns(gone, why, sizeof(why)));
	assert_non_null(strstr(why, "cannot read"));
	assert_non_null(strstr(why, gone));
}

static void test_probe_check_fails(void **state)
{
	cleanup_free char *criu = xasprintf("%s/criu", tmpdir);
	struct vs_mig_caps caps;
	struct vs_error err = {0};

	/* Debian 12's CRIU on this kernel; the features must not be asked
	 * (the fake would answer 99 and "unexpected"). */
	write_fake_criu("Version: 3.17.1",
			"1 'Error (criu/vdso.c:292): vdso: Unexpected rt vDSO area bounds'", "99 x",
			"99 x", "99 x");
	assert_int_equal(vs_mig_probe(criu, &caps, &err), 0);
	assert_false(caps.available);
	assert_string_equal(caps.version, "3.17.1");
	assert_non_null(strstr(caps.available_msg, "check failed: vdso: Unexpected rt vDSO"));
	assert_non_null(strstr(caps.available_msg, criu));
	assert_false(caps.lazy_pages);
	assert_false(caps.mem_tracking);
	assert_int_equal(caps.network_lock, VS_MIG_NETLOCK_NONE);
	assert_non_null(strstr(caps.lazy_pages_msg, "not usable"));
	assert_non_null(strstr(caps.network_lock_msg, "not usable"));
}

static void test_probe_no_nftables(void **state)
{
	cleanup_free char *criu = xasprintf("%s/criu", tmpdir);
	struct vs_mig_caps caps;
	struct vs_error err = {0};
	bool ipt = vs_mig_in_path(VS_MIG_PATH, "iptables-restore") &&
		   vs_mig_in_path(VS_MIG_PATH, "ip6tables-restore");

	write_fake_criu("Version: 4.1.1\nGitID: v4.1.1", "0 'Looks good.'",
			"1 'Error (criu/cr-check.c:1100): Non-cooperative UFFD is not supported'",
			"0 'mem_dirty_track is supported'",
			"1 'Error (criu/cr-check.c:1934): Unknown feature network_lock_nftables'");
	assert_int_equal(vs_mig_probe(criu, &caps, &err), 0);
	assert_true(caps.available);
	assert_string_equal(caps.version, "4.1.1");
	assert_false(caps.lazy_pages);
	assert_non_null(strstr(caps.lazy_pages_msg, "post-copy"));
	assert_non_null(strstr(caps.lazy_pages_msg, "Non-cooperative UFFD is not supported"));
	assert_true(caps.mem_tracking);
	assert_string_equal(caps.mem_tracking_msg, "");
	/* Falls back to iptables exactly when the host has both programs. */
	if (ipt) {
		assert_int_equal(caps.network_lock, VS_MIG_NETLOCK_IPTABLES);
		assert_string_equal(caps.network_lock_msg, "");
	} else {
		assert_int_equal(caps.network_lock, VS_MIG_NETLOCK_NONE);
		assert_non_null(strstr(caps.network_lock_msg, "Unknown feature"));
		assert_non_null(strstr(caps.network_lock_msg, "iptables"));
	}
}

static void test_probe_broken_binary(void **state)
{
	cleanup_free char *criu = xasprintf("%s/criu", tmpdir);
	cleanup_free char *plain = xasprintf("%s/plain", tmpdir);
	struct vs_mig_caps caps;
	struct vs_error err = {0};

	/* A loader error, as when the prefix lost a library. */
	write_file("criu",
		   "#!/bin/sh\necho 'criu: error while loading shared libraries: libnet.so.9: "
		   "cannot open shared object file' >&2\nexit 127\n",
		   0755);
	assert_int_equal(vs_mig_probe(criu, &caps, &err), 0);
	assert_false(caps.available);
	assert_string_equal(caps.version, "");
	assert_non_null(strstr(caps.available_msg, "--version failed"));
	assert_non_null(strstr(caps.available_msg, "libnet.so.9"));
	/* Not executable, missing: not usable, with the path named. */
	write_file("plain", "data\n", 0644);
	assert_int_equal(vs_mig_probe(plain, &caps, &err), 0);
	assert_false(caps.available);
	assert_non_null(strstr(caps.available_msg, "plain is not an executable file"));
	assert_int_equal(vs_mig_probe("/nonexistent/criu", &caps, &err), 0);
	assert_false(caps.available);
	assert_non_null(strstr(caps.mem_tracking_msg, "not usable"));
}

static void test_probe_relative_path(void **state)
{
	struct vs_mig_caps caps;
	struct vs_error err = {0};

	memset(&caps, 0xff, sizeof(caps));
	assert_int_equal(vs_mig_probe("criu", &caps, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_non_null(strstr(err.msg, "'criu'"));
	assert_false(caps.available);
	assert_string_equal(caps.available_msg, "");
}

static void test_default_and_names(void **state)
{
	const char *d = vs_mig_default_criu();

	if (access(VS_MIG_CRIU_PRIVATE, X_OK) == 0)
		assert_string_equal(d, VS_MIG_CRIU_PRIVATE);
	else if (access(VS_MIG_CRIU_SYSTEM, X_OK) == 0)
		assert_string_equal(d, VS_MIG_CRIU_SYSTEM);
	else
		assert_null(d);
	assert_string_equal(vs_mig_netlock_name(VS_MIG_NETLOCK_IPTABLES), "iptables");
	assert_string_equal(vs_mig_netlock_name(VS_MIG_NETLOCK_NONE), "none");
	assert_string_equal(vs_mig_netlock_name((enum vs_mig_netlock)42), "none");
}

static void test_probe_real_criu(void **state)
{
	struct vs_mig_caps caps;
	struct vs_error err = {0};

	if (geteuid() != 0 || access(VS_MIG_CRIU_PRIVATE, X_OK) != 0)
		skip(); /* scripts/install-criu.sh not run, or not root */
	assert_int_equal(vs_mig_probe(NULL, &caps, &err), 0);
	print_message("criu %s: available=%d lazy_pages=%d mem_tracking=%d network_lock=%s\n",
		      caps.version, caps.available, caps.lazy_pages, caps.mem_tracking,
		      vs_mig_netlock_name(caps.network_lock));
	if (!caps.mem_tracking)
		print_message("  %s\n", caps.mem_tracking_msg);
	if (!caps.lazy_pages)
		print_message("  %s\n", caps.lazy_pages_msg);
	assert_true(caps.available);
	assert_string_equal(caps.available_msg, "");
	assert_true(caps.version[0] >= '4' && caps.version[0] <= '9');
}

/* The log reader: one line's kind and text, the first or last few of a
 * kind, a log file's errors. */
static void test_log_lines(void **state)
{
	static const struct {
		const char *line;
		enum vs_mig_log_kind kind;
		const char *text;
	} cases[] = {
	    {"(00.074161)      1: Error (criu/mount.c:48): mnt: BUG", VS_MIG_LOG_ERROR, "mnt: BUG"},
	    {"(00.158950) pie: 128: Error (criu/pie/restorer.c:9): rst: no", VS_MIG_LOG_ERROR,
	     "rst: no"},
	    {"Error (criu/cr-check.c:1130): Failed to fill kerndat", VS_MIG_LOG_ERROR,
	     "Failed to fill kerndat"},
	    {"Warn  (criu/cr-check.c:824): Dirty tracking is OFF.", VS_MIG_LOG_WARN,
	     "Dirty tracking is OFF."},
	    /* A helper program's own words are not CRIU's errors. */
	    {"(00.2) Error: Nexthop has invalid gateway.", VS_MIG_LOG_OTHER,
	     "Error: Nexthop has invalid gateway."},
	    {"(00.074160)      1: mnt: Cleaning mount namespace", VS_MIG_LOG_OTHER,
	     "mnt: Cleaning mount namespace"},
	    {"Error (criu/util.c:1532): rlimit: Can't setup RLIMIT_NOFILE", VS_MIG_LOG_SKIP, NULL},
	    {"(00.1)   \t ", VS_MIG_LOG_SKIP, NULL},
	};
	static const char log[] = "(00.1) 1: Error (a.c:1): one\n"
				  "(00.2) 1: Warn  (a.c:2): careful\n"
				  "(00.3) 1: Error (a.c:3): two\n"
				  "(00.4) pie: 9: Error (b.c:4): three\n"
				  "no newline at the end: Error (x)";
	cleanup_free char *missing = xasprintf("%s/criu.log", tmpdir);
	char msg[64] = "";

	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		const char *t = NULL;
		size_t tlen = 0;
		enum vs_mig_log_kind k =
		    vs_mig_log_line(cases[i].line, strlen(cases[i].line), &t, &tlen);

		assert_int_equal(k, cases[i].kind);
		if (cases[i].text != NULL) {
			assert_int_equal(tlen, strlen(cases[i].text));
			assert_memory_equal(t, cases[i].text, tlen);
		}
	}
	assert_int_equal(vs_mig_log_gather(log, VS_MIG_LOG_ERROR, 2, false, msg, sizeof(msg)), 2);
	assert_string_equal(msg, "one; two");
	msg[0] = '\0';
	assert_int_equal(vs_mig_log_gather(log, VS_MIG_LOG_ERROR, 2, true, msg, sizeof(msg)), 2);
	assert_string_equal(msg, "two; three");
	msg[0] = '\0';
	assert_int_equal(vs_mig_log_gather(log, VS_MIG_LOG_ERROR, 9, true, msg, sizeof(msg)), 3);
	assert_string_equal(msg, "one; two; three");
	msg[0] = '\0';
	assert_int_equal(vs_mig_log_gather(log, VS_MIG_LOG_WARN, 4, true, msg, sizeof(msg)), 1);
	assert_string_equal(msg, "careful");
	/* A tab reads as a space, another control character as '?'. */
	msg[0] = '\0';
	assert_int_equal(vs_mig_log_gather("(00.1) Error (a.c:1): x\ty\001z\n", VS_MIG_LOG_ERROR, 1,
					   false, msg, sizeof(msg)),
			 1);
	assert_string_equal(msg, "x y?z");
	/* No log (CRIU failed before it opened one): no reason, no error. */
	unlink(missing);
	strcpy(msg, "junk");
	vs_mig_log_errors(missing, msg, sizeof(msg));
	assert_string_equal(msg, "");
}

/* vs_mig_dumplog_unrestorable: the lines of criu/fsnotify.c at -v4. */
static void test_dumplog_watches(void **state)
{
	static const char good[] =
	    "(00.100000) fsnotify: wd: wd 0x000001 s_dev 0x000021 i_ino 0x1f mask 0x0\n"
	    "(00.100001) fsnotify: \tHandle 0x21:0x1f is openable\n"
	    "(00.100002) fsnotify: \t\t\topenable (inode match) as sys/fs/cgroup/a/cgroup.events\n"
	    "(00.100003) fsnotify: \tDumping sys/fs/cgroup/a/cgroup.events as path for handle\n";
	static const char bad[] =
	    "(00.100000) fsnotify: wd: wd 0x000001 s_dev 0x000021 i_ino 0x1f mask 0x0\n"
	    "(00.100001) fsnotify: \tHandle 0x21:0x1f is openable\n"
	    "(00.100002) fsnotify: \t\t\topenable (inode don't match) as /\n"
	    "(00.100003) fsnotify: wd: wd 0x000002 s_dev 0x000021 i_ino 0x20 mask 0x0\n"
	    "(00.100004) fsnotify: \tHandle 0x21:0x20 is openable\n"
	    "(00.100005) fsnotify: \tDumping sys/fs/cgroup/b/cgroup.events as path for handle\n"
	    "(00.100006) Warn  (criu/fsnotify.c:1): fsnotify: \tHandle 0x21:0x21 cannot be "
	    "opened\n";
	char msg[300];

	assert_int_equal(vs_mig_dumplog_unrestorable(good, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "");
	assert_int_equal(vs_mig_dumplog_unrestorable("", msg, sizeof(msg)), 0);
	assert_int_equal(vs_mig_dumplog_unrestorable(bad, msg, sizeof(msg)), 2);
	assert_non_null(strstr(msg, "2 inotify/fanotify watches were saved"));
	assert_non_null(strstr(msg, "0x21:0x1f"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dumplog_watches),
	    cmocka_unit_test(test_log_lines),
	    cmocka_unit_test(test_version),
	    cmocka_unit_test(test_version_bad),
	    cmocka_unit_test(test_check_ok),
	    cmocka_unit_test(test_check_feature_missing),
	    cmocka_unit_test(test_check_errors_win),
	    cmocka_unit_test(test_check_plain_lines),
	    cmocka_unit_test(test_check_not_root),
	    cmocka_unit_test(test_check_log_prefixes),
	    cmocka_unit_test(test_check_no_text),
	    cmocka_unit_test(test_check_truncates_and_sanitizes),
	    cmocka_unit_test(test_in_path),
	    cmocka_unit_test(test_run_output_and_status),
	    cmocka_unit_test(test_run_env_and_signals),
	    cmocka_unit_test(test_run_timeout_kills_group),
	    cmocka_unit_test(test_run_output_capped),
	    cmocka_unit_test(test_run_bad_program),
	    cmocka_unit_test(test_run_without_pidfd),
	    cmocka_unit_test(test_run_keep_and_env),
	    cmocka_unit_test(test_criu_run),
	    cmocka_unit_test(test_netlock_and_image_present),
	    cmocka_unit_test(test_uffd_userns),
	    cmocka_unit_test(test_probe_criu43_here),
	    cmocka_unit_test(test_probe_check_fails),
	    cmocka_unit_test(test_criu_background),
	    cmocka_unit_test(test_probe_no_nftables),
	    cmocka_unit_test(test_probe_broken_binary),
	    cmocka_unit_test(test_probe_relative_path),
	    cmocka_unit_test(test_default_and_names),
	    cmocka_unit_test(test_probe_real_criu),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
