/* Running CRIU: one program, explicit argv and environment, output captured,
 * bounded in time.
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

#include "lib/vs_syscall.h"
#include "lib/vs_util.h"
#include "migrate/mig-private.h"

void vs_mig_result_free(struct vs_mig_result *r)
{
	free(r->out);
	memset(r, 0, sizeof(*r));
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* posix_spawn with stdout/stderr on outfd. Returns 0 or an errno value. */
static int spawn(char *const argv[], char *const envp[], int outfd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none;
	int rc;

	sigfillset(&all);
	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, outfd, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, outfd, STDERR_FILENO);
	/* Every fd of ours is O_CLOEXEC already; this also covers fds a library
	 * opened without it. CRIU would otherwise see (and may refuse) them. */
	posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
	posix_spawnattr_init(&attr);
	/* The daemon blocks or ignores signals for its own loop; CRIU must start
	 * with defaults. Its own process group lets a timeout kill the helpers
	 * it forked too. */
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
					    POSIX_SPAWN_SETPGROUP);
	rc = posix_spawn(pid, argv[0], &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
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
 * deadline passes. Returns 1 when the child exited, 0 on timeout, -1 on
 * error (errno set). */
static int collect(int rd, int pidfd, long long deadline, struct outbuf *o)
{
	bool eof = false;

	for (;;) {
		struct pollfd p[2] = {{.fd = pidfd, .events = POLLIN},
				      {.fd = eof ? -1 : rd, .events = POLLIN}};
		long long left = deadline - now_ms();
		int n;

		if (left <= 0)
			return 0;
		n = poll(p, 2, (int)(left > 60000 ? 60000 : left));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
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

int vs_mig_run(char *const argv[], char *const envp[], int timeout_ms, struct vs_mig_result *r,
	       struct vs_error *err)
{
	cleanup_close int rd = -1, wr = -1, pidfd = -1;
	__attribute__((cleanup(outbuf_freep))) struct outbuf o = {0};
	int p[2], rc, done, saved, status;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	if (argv == NULL || argv[0] == NULL || argv[0][0] != '/')
		return vs_error_kind(err, VS_EK_INVALID, "program path must be absolute");
	if (pipe2(p, O_CLOEXEC) < 0)
		return vs_error_set(err, errno, "pipe");
	rd = p[0];
	wr = p[1];
	/* Only our end: the child's must block when the pipe is full. */
	if (fcntl(rd, F_SETFL, O_NONBLOCK) < 0)
		return vs_error_set(err, errno, "fcntl O_NONBLOCK");
	rc = spawn(argv, envp, wr, &pid);
	if (rc != 0) {
		vs_error_set(err, rc, "start %s", argv[0]);
		return -2;
	}
	vs_closep(&wr);
	/* pid is our unreaped child: it cannot be recycled under the pidfd. */
	pidfd = vs_pidfd_open(pid, 0);
	done = pidfd < 0 ? -1 : collect(rd, pidfd, now_ms() + timeout_ms, &o);
	saved = errno;
	if (done <= 0)
		kill(-pid, SIGKILL); /* its group: pid is the leader, not yet reaped */
	if (reap(pid, &status) < 0)
		return vs_error_set(err, errno, "wait for %s", argv[0]);
	if (done < 0)
		return vs_error_set(err, saved, "collect the output of %s", argv[0]);
	r->status = status;
	r->timed_out = done == 0;
	r->out = o.buf != NULL ? steal_ptr(&o.buf) : xmalloc(1);
	r->len = o.len;
	r->out[r->len] = '\0';
	return 0;
}
