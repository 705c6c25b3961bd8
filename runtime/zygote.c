/* The zygote: one vsd-helper per daemon, started on first use with its
 * libraries loaded and relocated, that forks each container's monitor and
 * each exec helper on request. Either then costs a fork of a small
 * single-threaded process instead of an execve of the helper (the dynamic
 * loader and the libraries' initialisation: several milliseconds per
 * start and per exec here), and a monitor's library pages stay shared
 * with the zygote and the other monitors instead of being relocated into
 * each one.
 *
 * Protocol over a SOCK_SEQPACKET pair (the zygote's fd 3): a request is
 * the monitor's arguments, NUL-separated, with stdin, stdout, stderr and
 * the descriptors to keep as SCM_RIGHTS; the answer is "ok PID" or an
 * error (vs_error_encode's form). The zygote leaves when the daemon's end
 * closes (a vsd that exits or dies); monitors it forked have left its tree
 * already (vs_rt_monitor_main detaches first) and live on. Anything that
 * fails here makes the caller fall back to starting the helper the old
 * way. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/vs_fdpass.h"
#include "lib/vs_syscall.h"
#include "lib/vs_trace.h"
#include "lib/vs_util.h"
#include "runtime/rt-private.h"

#define ZYGOTE_REQ_MAX	16384
#define ZYGOTE_ARGS_MAX 64
#define ZYGOTE_FDS_MAX	VS_FDPASS_MAX

static pthread_mutex_t zygote_lock = PTHREAD_MUTEX_INITIALIZER;
static int zygote_fd = -1;
static pid_t zygote_pid = -1;

/* The zygote's command line, long enough to take that of any monitor or
 * helper it forks (see set_cmdline). */
#define ZYGOTE_CMDLINE_ROOM 4096

static int zygote_start(int self_exe_fd, struct vs_error *err)
{
	char room[ZYGOTE_CMDLINE_ROOM];
	char *argv[] = {"vsd", "__zygote", room, NULL};
	int sv[2];
	int stdio[3] = {-1, -1, 2};
	pid_t pid;

	memset(room, ' ', sizeof(room) - 1);
	room[sizeof(room) - 1] = '\0';
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return vs_error_set(err, errno, "zygote: socketpair");
	/* Not detached: it is our child until we go (a zygote that died is
	 * reaped when it is replaced); the detach of a monitor is its own. */
	pid = rt_spawn_self(self_exe_fd, argv, stdio, &sv[1], 1, false, err);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return -1;
	}
	zygote_fd = sv[0];
	zygote_pid = pid;
	/* A fork takes milliseconds; a zygote that does not answer in this
	 * time (stopped, stuck) is replaced rather than waited for. */
	setsockopt(zygote_fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){.tv_sec = 10},
		   sizeof(struct timeval));
	return 0;
}

/* One request and its answer: the pid, or -1 with *answered false and
 * errno when the zygote is gone or stuck, or with *answered true and err
 * when it answered with an error. */
static pid_t zygote_ask(const char *req, size_t len, const int *fds, size_t nfds, bool *answered,
			struct vs_error *err)
{
	char ans[VS_ERROR_WIRE_MAX];
	ssize_t n;
	long pid;

	if (vs_send_fds(zygote_fd, req, len, fds, nfds) < 0)
		return -1;
	do
		n = recv(zygote_fd, ans, sizeof(ans) - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		errno = n == 0 ? EPIPE : errno;
		return -1;
	}
	ans[n] = '\0';
	*answered = true;
	if (sscanf(ans, "ok %ld", &pid) == 1 && pid > 0)
		return (pid_t)pid;
	if (vs_error_decode(ans, err) == 0)
		vs_error_set(err, EPROTO, "unexpected answer '%.32s'", ans);
	return vs_error_prefix(err, "zygote");
}

pid_t rt_zygote_spawn(int self_exe_fd, char *const argv[], const int stdio[3], const int *keep,
		      int nkeep, struct vs_error *err)
{
	char req[ZYGOTE_REQ_MAX];
	int fds[ZYGOTE_FDS_MAX];
	cleanup_close int nullfd = -1;
	size_t len = 0;
	pid_t pid = -1;

	if (nkeep > ZYGOTE_FDS_MAX - 3 || vs_strv_len(argv) > ZYGOTE_ARGS_MAX)
		return vs_error_set(err, E2BIG, "zygote: too many arguments or descriptors");
	for (size_t i = 0; argv[i] != NULL; i++) {
		size_t n = strlen(argv[i]) + 1;
		if (len + n > sizeof(req))
			return vs_error_set(err, E2BIG, "zygote: arguments too long");
		memcpy(req + len, argv[i], n);
		len += n;
	}
	for (int i = 0; i < 3; i++) {
		if (stdio[i] < 0 && nullfd < 0 &&
		    (nullfd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
			return vs_error_set(err, errno, "open /dev/null");
		fds[i] = stdio[i] >= 0 ? stdio[i] : nullfd;
	}
	for (int i = 0; i < nkeep; i++)
		fds[3 + i] = keep[i];
	pthread_mutex_lock(&zygote_lock);
	/* A zygote that went away (killed by hand, say) is replaced once. */
	for (int attempt = 0; attempt < 2 && pid < 0; attempt++) {
		if (zygote_fd < 0 && zygote_start(self_exe_fd, err) < 0)
			break;
		bool answered = false;
		pid = zygote_ask(req, len, fds, (size_t)(3 + nkeep), &answered, err);
		if (pid < 0 && !answered &&
		    (errno == EPIPE || errno == ECONNRESET || errno == EAGAIN)) {
			/* It is gone (its socket closed with it), or stuck (no
			 * answer in time: ended here): reap it. */
			if (errno == EAGAIN)
				kill(zygote_pid, SIGKILL);
			close(zygote_fd);
			zygote_fd = -1;
			while (waitpid(zygote_pid, NULL, 0) < 0 && errno == EINTR)
				;
			continue;
		}
		if (pid < 0 && !answered)
			vs_error_set(err, errno, "zygote: ask for a monitor");
		break;
	}
	pthread_mutex_unlock(&zygote_lock);
	return pid;
}

/* ------------------------------------------------------------ the zygote */

/* The cgroup layout detected at the zygote's start (NULL: none, or in
 * anything but the zygote's forks once taken). */
static struct vs_cg_host *zygote_cg;

int rt_cg_host_take(struct vs_cg_host **out, struct vs_error *err)
{
	if (zygote_cg != NULL) {
		*out = steal_ptr(&zygote_cg);
		return 0;
	}
	return vs_cg_host_detect("/sys/fs/cgroup", out, err);
}

/* The zygote's own argument strings, one contiguous area. */
static char *cmdline_area;
static size_t cmdline_len;

/* A forked child shows its own arguments in /proc/PID/cmdline (ps, and
 * the tests' and benchmarks' cleanups, which find a vsd instance's
 * monitors by the directories they name): they are written over the
 * zygote's, NUL-separated, the rest zeroed. */
static void set_cmdline(const char *req, size_t len, const char *comm)
{
	if (cmdline_area != NULL && cmdline_len > 1) {
		size_t n = len < cmdline_len - 1 ? len : cmdline_len - 1;
		memset(cmdline_area, 0, cmdline_len);
		memcpy(cmdline_area, req, n);
	}
	prctl(PR_SET_NAME, comm, 0, 0, 0);
}

/* The forked child: its descriptors where the mode expects them, then
 * the mode itself (a monitor or an exec helper). Nothing of the zygote's
 * stays open. */
static void __attribute__((noreturn)) become(char *req, size_t len, int *fds, size_t nfds)
{
	char *argv[ZYGOTE_ARGS_MAX + 1];
	int argc = 0;

	for (size_t off = 0; off < len && argc < ZYGOTE_ARGS_MAX; off += strlen(req + off) + 1)
		argv[argc++] = req + off;
	argv[argc] = NULL;
	set_cmdline(req, len,
		    argc > 1 && strcmp(argv[1], "__monitor") == 0 ? "vsd-monitor" : "vsd-exec");
	if (rt_place_fds(fds, (int)nfds) < 0)
		_exit(126);
	vs_close_range((unsigned int)nfds, ~0U, 0);
	vs_trace_reopen();
	signal(SIGCHLD, SIG_DFL);
	if (argc > 1 && strcmp(argv[1], "__monitor") == 0)
		exit(vs_rt_monitor_main(argc, argv));
	if (argc > 1 && strcmp(argv[1], "__exec") == 0)
		exit(vs_rt_exec_main(argc, argv));
	_exit(126);
}

/* Serve requests until vsd's end closes. */
int vs_rt_zygote_main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = SIG_IGN, .sa_flags = SA_NOCLDWAIT};
	static char req[ZYGOTE_REQ_MAX + 1];
	int fds[ZYGOTE_FDS_MAX];

	cmdline_area = argv[0];
	cmdline_len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]);
	fcntl(3, F_SETFD, FD_CLOEXEC);
	/* The monitors' first processes exit at once (their detach): the
	 * kernel reaps them. */
	sigaction(SIGCHLD, &sa, NULL);
	prctl(PR_SET_NAME, "vsd-zygote", 0, 0, 0);
	/* Each container's init and each command would compile the same
	 * filter (about a millisecond each); its forks inherit it compiled. A
	 * failure here only means they compile it themselves. */
	rt_seccomp_prepare(NULL);
	/* Likewise the cgroup layout (rt_cg_host_take); on failure each fork
	 * detects it, and reports the error, itself. */
	if (vs_cg_host_detect("/sys/fs/cgroup", &zygote_cg, NULL) < 0)
		zygote_cg = NULL;
	for (;;) {
		char ans[VS_ERROR_WIRE_MAX];
		struct vs_error e = {0};
		size_t nfds = 0;
		ssize_t n = vs_recv_fds(3, req, ZYGOTE_REQ_MAX, fds, ZYGOTE_FDS_MAX, &nfds);
		pid_t pid;
		bool valid;
		int alen;

		if (n == 0 || (n < 0 && errno != EINTR && errno != EBADMSG))
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0)
			req[n] = '\0';
		valid = n > 0 && nfds >= 3 && req[n - 1] == '\0';
		pid = valid ? fork() : (errno = EINVAL, -1);
		if (pid < 0)
			vs_error_set(&e, errno, valid ? "fork" : "malformed request");
		if (pid == 0) {
			close(3);
			become(req, (size_t)n, fds, nfds);
		}
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		if (pid > 0)
			alen = snprintf(ans, sizeof(ans), "ok %d", (int)pid);
		else
			alen = vs_error_encode(&e, ans, sizeof(ans));
		if (send(3, ans, (size_t)alen, MSG_NOSIGNAL) < 0)
			return 0;
	}
}
