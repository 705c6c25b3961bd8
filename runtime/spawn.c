/* Re-executing the vsd binary for the monitor and exec helper modes. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/vs_trace.h"
#include "lib/vs_io.h"
#include "lib/vs_syscall.h"
#include "lib/vs_util.h"
#include "runtime/rt-private.h"

extern char **environ;

/* The helper binary installed beside vsd (build/ tree or sbin/), or in
 * ../libexec/vsd/; else vsd itself, which knows the modes too. */
static int open_helper(void)
{
	char path[4200];
	int fd;

	if (vs_self_sibling("vsd-helper", path, sizeof(path)) == 0 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0)
		return fd;
	return open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
}

int vs_rt_self_exe(struct vs_error *err)
{
	cleanup_close int src = open_helper();
	cleanup_close int mfd = -1;
	char buf[65536];
	ssize_t n;

	if (src < 0)
		return vs_error_set(err, errno, "open the vsd-helper program");
	mfd = memfd_create("vsd", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return vs_error_set(err, errno, "memfd_create");
	while ((n = read(src, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return vs_error_set(err, errno, "read /proc/self/exe");
		}
		if (vs_write_all(mfd, buf, (size_t)n) < 0)
			return vs_error_set(err, errno, "copy vsd into memfd");
	}
	/* Sealed: no process that later sees it as /proc/PID/exe can change it. */
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
		return vs_error_set(err, errno, "seal the vsd memfd");
	return steal_fd(&mfd);
}

int rt_place_fds(const int *src, int n)
{
	int high[RT_PLACE_MAX];

	if (n > RT_PLACE_MAX)
		return -1;
	for (int i = 0; i < n; i++)
		if ((high[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 64)) < 0)
			return -1;
	for (int i = 0; i < n; i++)
		if (dup2(high[i], i) < 0)
			return -1;
	return 0;
}

/* Child side of rt_spawn_self and rt_spawn_program: async-signal-safe
 * calls only. With program set, that file is executed instead of the vsd
 * binary, with SIGPIPE at its default. mask: the signal mask to execute
 * with. */
static void __attribute__((noreturn))
spawn_child(int exe_fd, const char *program, char *const argv[], const int stdio[3],
	    const int *keep, int nkeep, const sigset_t *mask)
{
	int src[3 + 8], nullfd = -1, exe = -1;

	if (nkeep > 8)
		_exit(126);
	for (int i = 0; i < 3; i++) {
		if (stdio[i] < 0 && nullfd < 0)
			nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
		src[i] = stdio[i] < 0 ? nullfd : stdio[i];
	}
	for (int i = 0; i < nkeep; i++)
		src[3 + i] = keep[i];
	/* The exe fd out of the way of the placed ones, open until exec. */
	if (exe_fd >= 0 && (exe = fcntl(exe_fd, F_DUPFD_CLOEXEC, 64)) < 0)
		_exit(126);
	if (rt_place_fds(src, 3 + nkeep) < 0)
		_exit(126);
	/* Everything else closes at exec (the exe fd must stay open until then). */
	vs_close_range((unsigned int)(3 + nkeep), ~0U, CLOSE_RANGE_CLOEXEC);
	if (program != NULL)
		signal(SIGPIPE, SIG_DFL); /* vsd and the monitor ignore it */
	sigprocmask(SIG_SETMASK, mask, NULL);
	if (program != NULL)
		execve(program, argv, environ);
	else if (exe >= 0)
		syscall(SYS_execveat, exe, "", argv, environ, AT_EMPTY_PATH);
	else
		execve("/proc/self/exe", argv, environ);
	_exit(127);
}

struct spawn_args {
	int exe_fd;
	const char *program;
	char *const *argv;
	const int *stdio;
	const int *keep;
	int nkeep;
	sigset_t mask; /* the caller's */
};

/* The child of vfork_spawn shares our memory until it executes: no
 * handler of ours may run in it (the dispositions are its own copy), and
 * the program starts with the caller's mask (an external one with none). */
static int vfork_child(void *arg)
{
	const struct spawn_args *a = arg;
	struct sigaction sa;
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_IGN &&
		    sa.sa_handler != SIG_DFL)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	spawn_child(a->exe_fd, a->program, a->argv, a->stdio, a->keep, a->nkeep,
		    a->program != NULL ? &none : &a->mask);
}

/* posix_spawn's way: a child that shares our memory and runs until it
 * executes while we wait. A fork() of the daemon copies the page tables
 * of every thread's mappings (about 5 ms per start and per exec here);
 * this copies nothing. */
static pid_t vfork_spawn(struct spawn_args *a, struct vs_error *err)
{
	const size_t stack_size = 256 * 1024;
	void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	sigset_t all;
	pid_t pid;
	int e;

	if (stack == MAP_FAILED)
		return vs_error_set(err, errno, "spawn: a stack for the child");
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &a->mask);
	pid = clone(vfork_child, (char *)stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, a);
	e = errno;
	pthread_sigmask(SIG_SETMASK, &a->mask, NULL);
	munmap(stack, stack_size);
	if (pid < 0)
		return vs_error_set(err, e, "spawn: clone");
	return pid;
}

static pid_t spawn(int self_exe_fd, const char *program, char *const argv[], const int stdio[3],
		   const int *keep_fds, int nkeep, bool detach, struct vs_error *err)
{
	struct spawn_args a = {.exe_fd = self_exe_fd,
			       .program = program,
			       .argv = argv,
			       .stdio = stdio,
			       .keep = keep_fds,
			       .nkeep = nkeep};
	pid_t pid;

	vs_trace_mark("spawn.prepared");
	if (program == NULL && detach) {
		struct vs_error zerr = {0};
		pid = rt_zygote_spawn(self_exe_fd, argv, stdio, keep_fds, nkeep, &zerr);
		if (pid > 0)
			return pid;
		fprintf(stderr, "vsd: %s; starting the monitor by itself\n", zerr.msg);
	}
	/* A detached vsd mode leaves our process tree by itself (the monitor's
	 * first step); an external program is detached by a double fork. */
	if (program == NULL || !detach) {
		pid = vfork_spawn(&a, err);
		if (pid < 0)
			return -1;
	} else if ((pid = fork()) < 0) {
		return vs_error_set(err, errno, "fork");
	} else if (pid == 0) {
		/* New session, and reparented away from vsd: it outlives the
		 * daemon. */
		pid_t p2;
		sigset_t none;
		setsid();
		p2 = fork();
		if (p2 != 0)
			_exit(p2 < 0 ? 1 : 0);
		sigemptyset(&none);
		spawn_child(-1, program, argv, stdio, NULL, 0, &none);
	}
	if (detach) {
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			return vs_error_set(err, EAGAIN, "could not start a detached %s",
					    program ? program : "monitor process");
	}
	return pid;
}

pid_t rt_spawn_self(int self_exe_fd, char *const argv[], const int stdio[3], const int *keep_fds,
		    int nkeep, bool detach, struct vs_error *err)
{
	return spawn(self_exe_fd, NULL, argv, stdio, keep_fds, nkeep, detach, err);
}

int rt_spawn_program(char *const argv[], const int stdio[3], struct vs_error *err)
{
	return spawn(-1, argv[0], argv, stdio, NULL, 0, true, err) < 0 ? -1 : 0;
}

int rt_monitor_connect(const char *sock_path, struct vs_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	cleanup_close int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return vs_error_set(err, errno, "socket");
	if (strlen(sock_path) >= sizeof(sa.sun_path))
		return vs_error_set(err, ENAMETOOLONG, "%s", sock_path);
	strcpy(sa.sun_path, sock_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return vs_error_set(err, errno, "connect to monitor %s", sock_path);
	return steal_fd(&fd);
}

void rt_argv_add(struct rt_argv *a, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? a->cap * 2 : 32;
		a->v = xrealloc(a->v, a->cap * sizeof(char *));
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

void rt_argv_free(struct rt_argv *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}
