/* exec and enter: a command inside a running container.
 *
 * vsd spawns the helper `vsd __exec ROOT RUN_DIR CGROUP_PARENT NAME TTY
 * ROWS COLS CWD [-e K=V]... -- CMD...` (from the sealed memfd copy of vsd)
 * with fd 3 a socket back to vsd. The helper makes itself non-dumpable,
 * joins the container's cgroup and, through a pidfd of init, all its
 * namespaces at once; with a tty it allocates a pty in the container's own
 * devpts (checked to be devpts, opened without following links) and sends
 * the master to vsd. Then it forks the command (the fork is what enters the
 * pid namespace), applies the container's capability and seccomp policy,
 * and reports the command's status as its own exit status. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/magic.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "lib/vs_trace.h"
#include "lib/vs_fdpass.h"
#include "lib/vs_io.h"
#include "lib/vs_syscall.h"
#include "lib/vs_util.h"
#include "runtime/rt-private.h"

/* The helper reports the command's status as "exit N" on its socket
 * (it may be the zygote's child, not ours); when we started it ourselves
 * we reap it too. */
struct vs_rt_exec {
	pid_t helper;
	int sock;
	bool ours;
};

static char **build_helper_argv(const struct vs_rt_instance *inst,
				const struct vs_container_config *cfg,
				const struct vs_rt_exec_req *req)
{
	size_t nenv = vs_strv_len(req->env), ncmd = vs_strv_len(req->argv);
	char **argv = xcalloc(12 + 2 * nenv + ncmd + 1, sizeof(char *));
	size_t n = 0;

	argv[n++] = xstrdup("vsd");
	argv[n++] = xstrdup("__exec");
	argv[n++] = xstrdup(inst->root);
	argv[n++] = xstrdup(inst->run_dir);
	argv[n++] = xstrdup(inst->cgroup_parent);
	argv[n++] = xstrdup(cfg->name);
	argv[n++] = xstrdup(req->tty ? "1" : "0");
	argv[n++] = xasprintf("%u", (unsigned)req->rows);
	argv[n++] = xasprintf("%u", (unsigned)req->cols);
	argv[n++] = xstrdup(req->cwd != NULL ? req->cwd : "");
	for (size_t i = 0; i < nenv; i++) {
		argv[n++] = xstrdup("-e");
		argv[n++] = xstrdup(req->env[i]);
	}
	argv[n++] = xstrdup("--");
	for (size_t i = 0; i < ncmd; i++)
		argv[n++] = xstrdup(req->argv[i]);
	return argv;
}

int rt_helper_verdict(int sock, int *master, struct vs_error *err)
{
	char buf[VS_ERROR_WIRE_MAX];
	int fds[1];
	size_t nfds = 0;
	struct pollfd p = {.fd = sock, .events = POLLIN};
	ssize_t n;

	if (poll(&p, 1, 30000) <= 0)
		return vs_error_set(err, ETIMEDOUT, "exec helper did not answer");
	n = vs_recv_fds(sock, buf, sizeof(buf) - 1, fds, 1, &nfds);
	if (n <= 0)
		return vs_error_set(err, n < 0 ? errno : EIO, "exec helper died");
	buf[n] = '\0';
	if (strcmp(buf, "ok") == 0) {
		if (nfds == 1 && master != NULL)
			*master = fds[0];
		else if (nfds == 1)
			close(fds[0]);
		return 0;
	}
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	if (vs_error_decode(buf, err) < 0)
		return -1;
	return vs_error_set(err, EPROTO, "exec helper: unexpected answer");
}

int vs_rt_exec_start(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		     const struct vs_rt_exec_req *req, struct vs_rt_exec **out, int fds[3],
		     int *nfds, struct vs_error *err)
{
	cleanup_strv char **argv = build_helper_argv(inst, cfg, req);
	int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1}, sv[2] = {-1, -1};
	int stdio[3] = {-1, -1, -1}, master = -1;
	struct vs_rt_status st;
	pid_t pid;
	bool ours;

	if (vs_rt_status(inst, cfg->name, &st, err) < 0)
		return -1;
	if (st.state != VS_RT_RUNNING)
		return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' is not running",
				     cfg->name);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return vs_error_set(err, errno, "socketpair");
	if (!req->tty) {
		if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0 ||
		    pipe2(perr, O_CLOEXEC) < 0) {
			vs_error_set(err, errno, "pipe");
			goto fail;
		}
		stdio[0] = pin[0], stdio[1] = pout[1], stdio[2] = perr[1];
	}
	vs_trace_mark("exec.checked");
	/* Forked by the zygote (no execve of the helper: milliseconds less
	 * per exec), or started by us when the zygote cannot. */
	pid = rt_zygote_spawn(inst->self_exe_fd, argv, stdio, &sv[1], 1, NULL);
	ours = pid < 0;
	if (ours &&
	    (pid = rt_spawn_self(inst->self_exe_fd, argv, stdio, &sv[1], 1, false, err)) < 0)
		goto fail;
	close(sv[1]), sv[1] = -1;
	if (rt_helper_verdict(sv[0], &master, err) < 0) {
		int status;
		if (ours) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		}
		goto fail;
	}
	*out = xcalloc(1, sizeof(**out));
	(*out)->helper = pid;
	(*out)->sock = steal_fd(&sv[0]);
	(*out)->ours = ours;
	if (req->tty) {
		fds[0] = master;
		*nfds = 1;
	} else {
		close(pin[0]), close(pout[1]), close(perr[1]);
		fds[0] = pin[1], fds[1] = pout[0], fds[2] = perr[0];
		*nfds = 3;
	}
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		int *all[] = {pin, pout, perr, sv};
		for (size_t j = 0; j < VS_ARRAY_SIZE(all); j++)
			if (all[j][i] >= 0)
				close(all[j][i]);
	}
	return -1;
}

int vs_rt_exec_wait(struct vs_rt_exec *ex, int *status, struct vs_error *err)
{
	char msg[32];
	ssize_t n;
	int st, code = -1;

	do
		n = recv(ex->sock, msg, sizeof(msg) - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		msg[n] = '\0';
		if (sscanf(msg, "exit %d", &code) != 1 || code < 0 || code > 255)
			code = -1;
	}
	if (ex->ours) {
		while (waitpid(ex->helper, &st, 0) < 0)
			if (errno != EINTR)
				return vs_error_set(err, errno, "wait for exec helper");
		if (code < 0)
			code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
	if (code < 0)
		return vs_error_set(err, EIO, "the exec helper ended without the command's status");
	*status = code;
	return 0;
}

void vs_rt_exec_free(struct vs_rt_exec *ex)
{
	if (ex != NULL && ex->sock >= 0)
		close(ex->sock);
	free(ex);
}

/* ---- helper side ---- */

struct helper_args {
	const char *root, *run_dir, *cgroup_parent, *name, *cwd;
	bool tty;
	unsigned short rows, cols;
	char **env;  /* extra KEY=VALUE */
	char **argv; /* may be empty: login shell */
};

static int parse_helper_args(int argc, char **argv, struct helper_args *a, struct vs_error *err)
{
	int i = 10;

	if (argc < 11)
		return vs_error_set(err, EINVAL, "usage: vsd __exec ...");
	a->root = argv[2], a->run_dir = argv[3], a->cgroup_parent = argv[4], a->name = argv[5];
	a->tty = strcmp(argv[6], "1") == 0;
	a->rows = (unsigned short)atoi(argv[7]);
	a->cols = (unsigned short)atoi(argv[8]);
	a->cwd = argv[9][0] ? argv[9] : NULL;
	a->env = xcalloc((size_t)argc, sizeof(char *));
	for (size_t n = 0; i + 1 < argc && strcmp(argv[i], "-e") == 0; i += 2)
		a->env[n++] = argv[i + 1];
	if (i >= argc || strcmp(argv[i], "--") != 0)
		return vs_error_set(err, EINVAL, "exec helper: missing --");
	a->argv = &argv[i + 1];
	return vs_validate_name(a->name, "container name", err);
}

/* True when pid's namespace of this kind is not ours. */
static bool same_ns_differs(pid_t pid, const char *kind)
{
	char a[64] = "", b[64] = "", path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, kind);
	if (readlink(path, a, sizeof(a) - 1) <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/self/ns/%s", kind);
	if (readlink(path, b, sizeof(b) - 1) <= 0)
		return false;
	return strcmp(a, b) != 0;
}

int rt_open_init(const char *root, const char *name, pid_t *pid, struct vs_error *err)
{
	cleanup_free char *cdir = xasprintf("%s/containers/%s", root, name);
	cleanup_close int pidfd = -1;
	struct rt_state st;

	if (rt_state_read(cdir, &st, err) < 0)
		return -1;
	if (strcmp(st.state, "running") != 0 || st.init_pid <= 0)
		return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' is not running", name);
	pidfd = vs_pidfd_open(st.init_pid, 0);
	/* The pidfd pins the process; the start time proves it is still init. */
	if (pidfd < 0 || !rt_proc_matches(st.init_pid, st.init_start_time))
		return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' is not running", name);
	*pid = st.init_pid;
	return steal_fd(&pidfd);
}

/* Open what the command needs to join the container's cgroups by itself
 * (cgroups/join.c): the helper itself stays out of them, so its memory is
 * not the container's to pay for (nor its OOM killer's to pick). */
static int open_join(const struct helper_args *a, struct vs_cg_join *j, struct vs_error *err)
{
	struct vs_cg_host *h = NULL;
	struct vs_cg *cg;
	int r;

	if (rt_cg_host_take(&h, err) < 0)
		return -1;
	cg = vs_cg_open(h, a->cgroup_parent, a->name);
	r = vs_cg_join_open(cg, j, err);
	vs_cg_free(cg);
	vs_cg_host_free(h);
	return r;
}

/* In the command's process: every namespace of init but the pid one (the
 * fork already entered that), then root of the container. */
static int join_rest(const struct vs_container_config *cfg, int pidfd, pid_t init,
		     struct vs_error *err)
{
	int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP;

	if (!cfg->privileged)
		flags |= CLONE_NEWUSER;
	/* Every container runs in a time namespace of its own (timens.c; a
	 * restored one in CRIU's remake of it): commands share its clocks
	 * (uptime, ps), and must, or the next checkpoint cannot be restored
	 * (CRIU restores one time namespace per tree). Only a container
	 * started on a kernel without time namespaces, or before vsd made
	 * them, shares ours: setns would then be a no-op. */
	if (same_ns_differs(init, "time"))
		flags |= CLONE_NEWTIME;
	if (setns(pidfd, flags) < 0)
		return vs_error_set(err, errno, "join the namespaces of the container");
	if (!cfg->privileged &&
	    (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0 || setgroups(0, NULL) < 0))
		return vs_error_set(err, errno, "become root in the container");
	if (chdir("/") < 0)
		return vs_error_set(err, errno, "chdir / in the container");
	return 0;
}

/* A pty from the container's devpts. The container controls its mount
 * table, so the opened ptmx is checked to be the real thing. */
static int open_pty(const struct helper_args *a, int *slave, struct vs_error *err)
{
	cleanup_close int master = vs_openat2(AT_FDCWD, "/dev/pts/ptmx", O_RDWR | O_NOCTTY, 0,
					      RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	struct statfs sfs;
	struct stat st;
	struct winsize ws = {.ws_row = a->rows ? a->rows : 24, .ws_col = a->cols ? a->cols : 80};
	int unlock = 0;

	if (master < 0)
		return vs_error_set(err, errno, "open /dev/pts/ptmx in the container");
	if (fstatfs(master, &sfs) < 0 || sfs.f_type != DEVPTS_SUPER_MAGIC ||
	    fstat(master, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 ||
	    minor(st.st_rdev) != 2)
		return vs_error_set(err, EPERM,
				    "the container's /dev/pts/ptmx is not a devpts ptmx");
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		return vs_error_set(err, errno, "unlock pty");
	*slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0)
		return vs_error_set(err, errno, "open pty peer");
	ioctl(master, TIOCSWINSZ, &ws);
	return steal_fd(&master);
}

static char **command_env(const struct helper_args *a, bool login, const char *shell)
{
	size_t n = vs_strv_len(a->env);
	char **env = xcalloc(n + 10, sizeof(char *));
	size_t k = 0;
	bool have_term = false;

	env[k++] = xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	env[k++] = xstrdup("HOME=/root");
	env[k++] = xstrdup("container=vsd");
	if (login) {
		env[k++] = xstrdup("USER=root");
		env[k++] = xstrdup("LOGNAME=root");
		env[k++] = xasprintf("SHELL=%s", shell);
	}
	for (size_t i = 0; i < n; i++) {
		if (strncmp(a->env[i], "TERM=", 5) == 0)
			have_term = true;
		env[k++] = xstrdup(a->env[i]);
	}
	if (a->tty && !have_term)
		env[k++] = xstrdup("TERM=xterm");
	return env;
}

static void __attribute__((noreturn)) run_command(const struct helper_args *a, int slave)
{
	struct vs_error err = {0};
	bool login = a->argv[0] == NULL;
	const char *shell = access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh";
	char *login_argv[] = {strcmp(shell, "/bin/bash") == 0 ? "-bash" : "-sh", NULL};
	char **env = command_env(a, login, shell);
	const char *cwd = a->cwd ? a->cwd : (login ? "/root" : "/");

	/* Its own session either way: a session (or process group) whose leader
	 * sits outside the container's pid namespace would make the container
	 * impossible to checkpoint once the command left children behind. */
	if (setsid() < 0)
		_exit(126);
	if (slave >= 0) {
		if (ioctl(slave, TIOCSCTTY, 0) < 0 || dup2(slave, 0) < 0 || dup2(slave, 1) < 0 ||
		    dup2(slave, 2) < 0)
			_exit(126);
	}
	if (rt_caps_apply(&err) < 0 || rt_seccomp_apply(&err) < 0) {
		fprintf(stderr, "vsd: %s\n", err.msg);
		_exit(126);
	}
	vs_trace_mark("exec.caps-seccomp");
	if (chdir(cwd) < 0 && chdir("/") < 0)
		_exit(126);
	rt_reset_signals();
	vs_close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	if (login)
		execve(shell, login_argv, env);
	else
		execvpe(a->argv[0], a->argv, env);
	fprintf(stderr, "vsd: exec %s: %s\n", login ? shell : a->argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

int rt_helper_fail(const struct vs_error *err)
{
	vs_error_send(3, err);
	return 1;
}

/* The command's process (created in the container's cgroup2 and pid
 * namespace): join the v1 hierarchies and the other namespaces, report
 * "ok" (with the pty master) to vsd and run the command. */
static void __attribute__((noreturn))
command_child(const struct helper_args *a, const struct vs_container_config *cfg, int pidfd,
	      pid_t init, struct vs_cg_join *join)
{
	struct vs_error err = {0};
	int slave = -1, master = -1;

	if (vs_cg_join_self(join) < 0) {
		vs_error_set(&err, errno, "join the container's cgroups");
		_exit(rt_helper_fail(&err));
	}
	vs_cg_join_close(join);
	if (join_rest(cfg, pidfd, init, &err) < 0 ||
	    (a->tty && (master = open_pty(a, &slave, &err)) < 0))
		_exit(rt_helper_fail(&err));
	close(pidfd);
	vs_trace_mark("exec.joined");
	if (vs_send_fds(3, "ok", 2, &master, master >= 0 ? 1 : 0) < 0)
		_exit(126);
	if (master >= 0)
		close(master);
	close(3);
	run_command(a, slave);
}

int vs_rt_exec_main(int argc, char **argv)
{
	struct helper_args a = {0};
	struct vs_container_config cfg = {0};
	struct vs_error err = {0};
	struct vs_cg_join join = {.v2_dir = -1};
	struct clone_args ca = {.exit_signal = SIGCHLD};
	cleanup_free char *cfgpath = NULL, *text = NULL;
	cleanup_close int pidfd = -1;
	char msg[32];
	int status, code, len;
	pid_t child, init = 0;

	vs_trace_mark("exec.helper-exec");
	/* Nothing in the container may ptrace us or open /proc/PID/exe. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	fcntl(3, F_SETFD, FD_CLOEXEC);
	if (parse_helper_args(argc, argv, &a, &err) < 0)
		return rt_helper_fail(&err);
	cfgpath = xasprintf("%s/containers/%s/config.json", a.root, a.name);
	if (vs_read_file_at(AT_FDCWD, cfgpath, 1 << 20, &text, NULL, &err) < 0 ||
	    vs_config_parse(text, &cfg, &err) < 0)
		return rt_helper_fail(&err);
	if ((pidfd = rt_open_init(a.root, a.name, &init, &err)) < 0 ||
	    open_join(&a, &join, &err) < 0)
		return rt_helper_fail(&err);
	vs_trace_mark("exec.config-read");
	/* Only the pid namespace for now: it takes effect for the child we
	 * create next, while we stay on the host side of everything else. */
	if (setns(pidfd, CLONE_NEWPID) < 0) {
		vs_error_set(&err, errno, "join the pid namespace of '%s'", a.name);
		return rt_helper_fail(&err);
	}
	if (join.v2_dir >= 0) {
		ca.flags |= CLONE_INTO_CGROUP;
		ca.cgroup = (uint64_t)join.v2_dir;
	}
	child = vs_clone3(&ca, sizeof(ca));
	if (child < 0) {
		vs_error_set(&err, errno, "clone3 of the command");
		return rt_helper_fail(&err);
	}
	if (child == 0)
		command_child(&a, &cfg, pidfd, init, &join);
	vs_cg_join_close(&join);
	/* Our stdio (pipes to vsd) must not be held open past the command. */
	for (int fd = 0; fd < 3; fd++)
		close(fd);
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return 126;
	vs_config_free(&cfg);
	free(a.env);
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	/* vsd may not be our parent (the zygote forked us): the status goes
	 * back on the socket as well. */
	len = snprintf(msg, sizeof(msg), "exit %d", code);
	send(3, msg, (size_t)len, MSG_NOSIGNAL);
	return code;
}
