/* Running CRIU: the one runner every CRIU run goes through (the probe's
 * `criu --version` and `criu check`, and in the monitor dump, pre-dump and
 * restore): explicit argv and environment, the caller's descriptors on 3,
 * 4, ... and no other (close_range in the child), output captured or
 * dropped, bounded in time; a failed CRIU run's error is the error lines of
 * its log.
 *
 * The daemon is multi-threaded, so the program is started with posix_spawn
 * (glibc's clone(CLONE_VM|CLONE_VFORK) + execve: no code of ours runs in the
 * child). Its exit is watched through a pidfd, so a program that closes its
 * output early (or keeps it open in a leftover child) cannot make us wait
 * past the deadline. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_syscall.h"
#include "lib/vs_spawn.h"
#include "lib/vs_util.h"
#include "migrate/mig-private.h"

void vs_mig_result_free(struct vs_mig_result *r)
{
	free(r->out);
	memset(r, 0, sizeof(*r));
}

struct outbuf {
	char *buf;
	size_t len, cap;
};

static void outbuf_freep(struct outbuf *o)
{
	free(o->buf);
	o->buf = NULL;
}

/* Read what the pipe has now. Returns 1 at EOF, 0 when it would block, -1 on
 * error (errno set). */
static int drain(int fd, struct outbuf *o)
{
	char tmp[4096];

	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		size_t keep;

		if (n == 0)
			return 1;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		keep = o->len < VS_MIG_OUTPUT_MAX ? VS_MIG_OUTPUT_MAX - o->len : 0;
		if ((size_t)n < keep)
			keep = (size_t)n;
		if (o->len + keep + 1 > o->cap) {
			while (o->len + keep + 1 > o->cap)
				o->cap = o->cap ? o->cap * 2 : 4096;
			o->buf = xrealloc(o->buf, o->cap);
		}
		memcpy(o->buf + o->len, tmp, keep);
		o->len += keep;
	}
}

/* Collect output until the child has exited (pidfd readable) or the
 * deadline passes (or cancel, when >= 0, becomes readable). Returns 1 when
 * the child exited, 0 on timeout or cancel, -1 on
 * error (errno set). Without a pidfd (none was left to open) the end of
 * the output stands for the exit, and the caller's wait has no deadline,
 * as before pidfds: the run is not killed for want of a descriptor. */
static int collect(int rd, int pidfd, int cancel, long long deadline, struct outbuf *o)
{
	bool eof = rd < 0; /* no pipe: only the exit is waited for */

	for (;;) {
		struct pollfd p[3] = {{.fd = pidfd, .events = POLLIN},
				      {.fd = eof ? -1 : rd, .events = POLLIN},
				      {.fd = cancel, .events = POLLIN}};
		long long left = deadline - vs_now_ms();
		int n;

		if (eof && pidfd < 0)
			return 1;
		if (left <= 0)
			return 0;
		n = poll(p, 3, (int)(left > 60000 ? 60000 : left));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (p[2].revents & POLLIN)
			return 0; /* cancelled: as a timeout */
		if (p[2].revents & (POLLHUP | POLLERR | POLLNVAL))
			cancel = -1; /* no one can cancel any more */
		if (!eof && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			int d = drain(rd, o);

			if (d < 0)
				return -1;
			eof = d == 1;
		}
		if (p[0].revents & POLLIN) {
			/* Its writes happened before its exit: all its output is
			 * in the pipe now (a grandchild's may not be; not
			 * waited for). */
			if (!eof && drain(rd, o) < 0)
				return -1;
			return 1;
		}
	}
}

static int reap(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

/* The environment every CRIU run gets: a fixed PATH (CRIU's helpers,
 * iptables-restore, ip and action scripts, are looked up there, never in
 * the daemon's or the monitor's PATH, so what the probe found is what a
 * dump uses), C-locale messages (what the log parser reads), and the
 * caller's extra variables (an action script's). */
static char **criu_env(char *const *extra)
{
	size_t n = 2 + (extra != NULL ? vs_strv_len(extra) : 0);
	char **env = xcalloc(n + 1, sizeof(char *));

	env[0] = xstrdup("PATH=" VS_MIG_PATH);
	env[1] = xstrdup("LC_ALL=C");
	for (size_t i = 2; i < n; i++)
		env[i] = xstrdup(extra[i - 2]);
	return env;
}

int vs_mig_run(char *const argv[], const struct vs_mig_run_opts *o, struct vs_mig_result *r,
	       struct vs_error *err)
{
	cleanup_close int rd = -1, wr = -1, pidfd = -1;
	cleanup_strv char **env = o->envp == NULL ? criu_env(o->env_extra) : NULL;
	__attribute__((cleanup(outbuf_freep))) struct outbuf ob = {0};
	int p[2], rc, done, saved, status;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	if (argv == NULL || argv[0] == NULL || argv[0][0] != '/')
		return vs_error_kind(err, VS_EK_INVALID, "program path must be absolute");
	if (!o->discard_output) {
		if (pipe2(p, O_CLOEXEC) < 0)
			return vs_error_set(err, errno, "pipe");
		rd = p[0];
		wr = p[1];
		/* Only our end: the child's must block when the pipe is full. */
		if (fcntl(rd, F_SETFL, O_NONBLOCK) < 0)
			return vs_error_set(err, errno, "fcntl O_NONBLOCK");
	}
	rc = vs_spawn(argv, env != NULL ? env : o->envp, wr, o->keep, o->nkeep, &pid);
	if (rc != 0) {
		vs_error_set(err, rc, "start %s", argv[0]);
		return -2;
	}
	vs_closep(&wr);
	/* pid is our unreaped child: it cannot be recycled under the pidfd. */
	pidfd = vs_pidfd_open(pid, 0);
	done = collect(rd, pidfd, o->cancel != NULL ? *o->cancel : -1, vs_now_ms() + o->timeout_ms,
		       &ob);
	saved = errno;
	if (done <= 0)
		kill(-pid, SIGKILL); /* its group: pid is the leader, not yet reaped */
	if (reap(pid, &status) < 0)
		return vs_error_set(err, errno, "wait for %s", argv[0]);
	if (done < 0)
		return vs_error_set(err, saved, "collect the output of %s", argv[0]);
	r->status = status;
	r->timed_out = done == 0;
	r->out = ob.buf != NULL ? steal_ptr(&ob.buf) : xmalloc(1);
	r->len = ob.len;
	r->out[r->len] = '\0';
	return 0;
}

int vs_mig_criu_run(const char *criu, char *const args[], const struct vs_mig_run_opts *o,
		    const char *logpath, struct vs_error *err)
{
	cleanup_free char **argv = NULL;
	struct vs_mig_run_opts opts = *o;
	struct vs_mig_result r = {0};
	size_t n = vs_strv_len(args);
	bool timed_out;
	int rc, status;

	if (criu == NULL)
		return vs_error_kind(err, VS_EK_UNSUPPORTED,
				     "checkpoint/restore needs criu (see scripts/install-criu.sh)");
	argv = xcalloc(n + 2, sizeof(char *));
	argv[0] = (char *)criu;
	memcpy(argv + 1, args, n * sizeof(char *));
	/* CRIU writes what matters to its log (-o): its output is dropped
	 * unread, as it always was. */
	opts.discard_output = true;
	rc = vs_mig_run(argv, &opts, &r, err);
	status = r.status;
	timed_out = r.timed_out;
	vs_mig_result_free(&r); /* no output: only the status is used */
	if (rc == -2) {
		if (err != NULL &&
		    (err->errnum == ENOENT || err->errnum == EACCES || err->errnum == ENOEXEC))
			return vs_error_kind(err, VS_EK_UNSUPPORTED, "cannot run %s: %s", criu,
					     strerror(err->errnum));
		return -1;
	}
	if (rc < 0)
		return -1;
	if (timed_out)
		return vs_error_set(err, ETIMEDOUT, "criu did not finish in %d s",
				    o->timeout_ms / 1000);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	{
		char msg[VS_ERROR_MSG_MAX - 64];
		vs_mig_log_errors(logpath, msg, sizeof(msg));
		return vs_error_set(err, 0, "criu %s failed%s%s (log: %s)", args[0],
				    msg[0] ? ": " : "", msg, logpath);
	}
}

/* ---- in the background --------------------------------------------------- */

int vs_mig_criu_start(const char *criu, char *const args[], const struct vs_mig_run_opts *o,
		      const char *logpath, struct vs_mig_bg *bg, struct vs_error *err)
{
	int p[2], c[2];
	pid_t pid;

	bg->pid = -1;
	bg->errfd = -1;
	bg->cancelfd = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return vs_error_set(err, errno, "pipe");
	if (pipe2(c, O_CLOEXEC) < 0) {
		close(p[0]);
		close(p[1]);
		return vs_error_set(err, errno, "pipe");
	}
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		close(c[0]);
		close(c[1]);
		return vs_error_set(err, errno, "fork");
	}
	if (pid == 0) {
		struct vs_error e = {0};
		struct vs_mig_run_opts opts = *o;
		int rc;

		close(p[0]);
		close(c[1]);
		opts.cancel = &c[0];
		rc = vs_mig_criu_run(criu, args, &opts, logpath, &e);
		if (rc < 0)
			vs_write_all(p[1], e.msg, strlen(e.msg));
		_exit(rc < 0 ? 1 : 0);
	}
	close(p[1]);
	close(c[0]);
	bg->pid = pid;
	bg->errfd = p[0];
	bg->cancelfd = c[1];
	return 0;
}

/* The child has exited (status): 0, or -1 with what it wrote. */
static int bg_outcome(struct vs_mig_bg *bg, int status, struct vs_error *err)
{
	char msg[VS_ERROR_MSG_MAX];
	ssize_t n = read(bg->errfd, msg, sizeof(msg) - 1);

	vs_closep(&bg->errfd);
	vs_closep(&bg->cancelfd);
	bg->pid = -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	msg[n > 0 ? n : 0] = '\0';
	return vs_error_set(err, 0, "%s", msg[0] ? msg : "criu ended abnormally");
}

/* 1 exited (reaped, *status), 0 still running, -1 error. */
static int bg_reaped(struct vs_mig_bg *bg, int *status)
{
	pid_t r;

	do
		r = waitpid(bg->pid, status, WNOHANG);
	while (r < 0 && errno == EINTR);
	return r == bg->pid ? 1 : r == 0 ? 0 : -1;
}

/* Is the run still going: 1 yes, 0 it ended (bg reaped; err has its
 * error, or "criu ended before WHAT" when it exited 0), -1 error. */
static int bg_running(struct vs_mig_bg *bg, const char *what, struct vs_error *err)
{
	int status = 0, r = bg_reaped(bg, &status);

	if (r < 0)
		return vs_error_set(err, errno, "wait for criu");
	if (r == 0)
		return 1;
	if (bg_outcome(bg, status, err) == 0)
		vs_error_set(err, EPROTO, "criu ended before %s", what);
	return 0;
}

int vs_mig_criu_wait_flag(struct vs_mig_bg *bg, const char *flag, int timeout_ms,
			  struct vs_error *err)
{
	long long until = vs_now_ms() + timeout_ms;
	int r;

	while (vs_now_ms() < until) {
		if (access(flag, F_OK) == 0)
			return 1;
		if ((r = bg_running(bg, flag, err)) <= 0)
			return r;
		usleep(5000);
	}
	return vs_error_set(err, ETIMEDOUT, "criu did not get to %s in %d s", flag,
			    timeout_ms / 1000);
}

int vs_mig_criu_finish(struct vs_mig_bg *bg, int timeout_ms, struct vs_error *err)
{
	long long until = vs_now_ms() + timeout_ms;
	int status = 0, r;

	if (bg->pid <= 0)
		return 0;
	/* The error pipe hangs up at the child's exit: no sleep between
	 * checks adds to a frozen window. */
	while ((r = bg_reaped(bg, &status)) == 0 && vs_now_ms() < until) {
		long long left = until - vs_now_ms();
		struct pollfd p = {.fd = bg->errfd, .events = POLLIN};

		if (left > 0 && poll(&p, 1, (int)(left > 1000 ? 1000 : left)) > 0 &&
		    (p.revents & POLLIN))
			usleep(1000); /* an error message, the exit follows */
	}
	if (r < 0)
		return vs_error_set(err, errno, "wait for criu");
	if (r == 0)
		return vs_error_set(err, ETIMEDOUT, "criu did not end in %d s", timeout_ms / 1000);
	return bg_outcome(bg, status, err);
}

int vs_mig_criu_wait_fd(struct vs_mig_bg *bg, int fd, const char *what, int timeout_ms,
			struct vs_error *err)
{
	long long until = vs_now_ms() + timeout_ms;
	int r;

	for (;;) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = bg->errfd, .events = 0}};
		long long left = until - vs_now_ms();
		int n;

		if ((r = bg_running(bg, what, err)) <= 0)
			return r;
		if (left <= 0)
			break;
		n = poll(p, 2, (int)(left > 1000 ? 1000 : left));
		if (n < 0 && errno != EINTR)
			return vs_error_set(err, errno, "wait for criu");
		if (n > 0 && (p[0].revents & (POLLIN | POLLHUP)))
			return 1;
		if (n > 0 && p[1].revents != 0)
			usleep(1000); /* the child's exit; reaped next time round */
	}
	return vs_error_set(err, ETIMEDOUT, "criu did not get to %s in %d s", what,
			    timeout_ms / 1000);
}

void vs_mig_criu_abort(struct vs_mig_bg *bg)
{
	if (bg->pid <= 0)
		return;
	if (bg->cancelfd >= 0)
		(void)!write(bg->cancelfd, "x", 1);
	vs_mig_criu_finish(bg, 60000, NULL);
}
