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
 * deadline passes. Returns 1 when the child exited, 0 on timeout, -1 on
 * error (errno set). */
static int collect(int rd, int pidfd, long long deadline, struct outbuf *o)
{
	bool eof = false;

	for (;;) {
		struct pollfd p[2] = {{.fd = pidfd, .events = POLLIN},
				      {.fd = eof ? -1 : rd, .events = POLLIN}};
		long long left = deadline - vs_now_ms();
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
	rc = vs_spawn(argv, envp, wr, NULL, 0, &pid);
	if (rc != 0) {
		vs_error_set(err, rc, "start %s", argv[0]);
		return -2;
	}
	vs_closep(&wr);
	/* pid is our unreaped child: it cannot be recycled under the pidfd. */
	pidfd = vs_pidfd_open(pid, 0);
	done = pidfd < 0 ? -1 : collect(rd, pidfd, vs_now_ms() + timeout_ms, &o);
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
