/* Daemon-side calls: start a monitor, ask it to stop, attach to the
 * console, and recover after crashes. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/vs_fdpass.h"
#include "lib/vs_io.h"
#include "lib/vs_syscall.h"
#include "lib/vs_util.h"
#include "runtime/rt-private.h"

/* Read the monitor's readiness line: "ok PID" or "error KIND MESSAGE". */
static int read_ready(int fd, struct vs_error *err)
{
	char buf[VS_ERROR_MSG_MAX + 64];
	size_t used = 0;
	int kind = 0, off = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;
		if (poll(&p, 1, 120000) == 0)
			return vs_error_set(err, ETIMEDOUT, "the container did not start in time");
		n = read(fd, buf + used, sizeof(buf) - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
		if (used == sizeof(buf) - 1)
			break;
	}
	buf[used] = '\0';
	if (strncmp(buf, "ok ", 3) == 0)
		return 0;
	if (sscanf(buf, "error %d %n", &kind, &off) == 1 && off > 0) {
		char *nl = strchr(buf + off, '\n');
		if (nl != NULL)
			*nl = '\0';
		vs_error_kind(err, (enum vs_error_kind)kind, "%s", buf + off);
		return -1;
	}
	return vs_error_set(err, EIO, "the container's monitor died during start");
}

int vs_rt_start(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		struct vs_error *err)
{
	struct rt_paths paths;
	struct vs_rt_status st;
	cleanup_close int log = -1, rd = -1, wr = -1;
	cleanup_free char *logpath = NULL;
	int p[2];
	char *argv[] = {"vsd",
			"__monitor",
			(char *)inst->root,
			(char *)inst->run_dir,
			(char *)inst->cgroup_parent,
			(char *)cfg->name,
			NULL};
	int stdio[3] = {-1, -1, -1};

	if (vs_rt_status(inst, cfg->name, &st, err) < 0)
		return -1;
	if (st.state != VS_RT_STOPPED)
		return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' is %s", cfg->name,
				     vs_rt_state_name(st.state));
	rt_paths_init(&paths, inst->root, inst->run_dir, cfg);
	if (vs_mkdir_p(paths.rundir, 0700, err) < 0)
		return -1;
	logpath = xasprintf("%s/monitor.log", paths.rundir);
	log = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (log < 0)
		return vs_error_set(err, errno, "open %s", logpath);
	if (pipe2(p, O_CLOEXEC) < 0)
		return vs_error_set(err, errno, "pipe");
	rd = p[0];
	wr = p[1];
	stdio[1] = stdio[2] = log;
	if (rt_spawn_self(inst->self_exe_fd, argv, stdio, &wr, 1, true, err) < 0)
		return -1;
	close(wr);
	wr = -1;
	if (read_ready(rd, err) < 0)
		return vs_error_prefix(err, "start '%s'", cfg->name);
	return 0;
}

/* Monitor gone but init alive (someone killed the monitor): stop it
 * ourselves, by pidfd so a recycled pid cannot be hit. */
static int stop_orphan(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		       pid_t pid, int timeout_s, bool force, struct vs_error *err)
{
	cleanup_close int pidfd = vs_pidfd_open(pid, 0);
	struct pollfd p;

	if (pidfd < 0)
		return vs_rt_recover(inst, cfg, err);
	p = (struct pollfd){.fd = pidfd, .events = POLLIN};
	if (!force && timeout_s > 0) {
		vs_pidfd_send_signal(pidfd, cfg->stop_signal, NULL, 0);
		if (poll(&p, 1, timeout_s * 1000) > 0)
			return vs_rt_recover(inst, cfg, err);
	}
	vs_pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
	poll(&p, 1, 10000);
	return vs_rt_recover(inst, cfg, err);
}

int vs_rt_stop(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
	       int timeout_s, bool force, struct vs_error *err)
{
	struct rt_paths paths;
	struct vs_rt_status st;
	cleanup_close int fd = -1;
	char msg[64];
	struct pollfd p;
	int len;

	if (vs_rt_status(inst, cfg->name, &st, err) < 0)
		return -1;
	if (st.state == VS_RT_STOPPED)
		return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' is not running",
				     cfg->name);
	rt_paths_init(&paths, inst->root, inst->run_dir, cfg);
	fd = rt_monitor_connect(paths.sock, NULL);
	if (fd < 0)
		return stop_orphan(inst, cfg, st.init_pid, timeout_s, force, err);
	len = snprintf(msg, sizeof(msg), "stop %d %d", timeout_s, force ? 1 : 0);
	if (send(fd, msg, (size_t)len, MSG_NOSIGNAL) < 0)
		return vs_error_set(err, errno, "ask the monitor to stop '%s'", cfg->name);
	/* The monitor kills at the deadline; allow it time to clean up. */
	p = (struct pollfd){.fd = fd, .events = POLLIN};
	if (poll(&p, 1, (timeout_s + 60) * 1000) <= 0)
		return vs_error_set(err, ETIMEDOUT, "container '%s' did not stop", cfg->name);
	len = (int)recv(fd, msg, sizeof(msg) - 1, 0);
	if (len > 0) {
		msg[len] = '\0';
		if (strcmp(msg, "stopped") == 0)
			return 0;
	}
	/* The monitor went away without an answer: find out what is true. */
	if (vs_rt_status(inst, cfg->name, &st, err) < 0)
		return -1;
	if (st.state == VS_RT_STOPPED)
		return vs_rt_recover(inst, cfg, err);
	return vs_error_set(err, EIO, "lost the monitor of '%s' while stopping", cfg->name);
}

int vs_rt_recover(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		  struct vs_error *err)
{
	struct rt_paths paths;
	struct vs_rt_status st;
	struct rt_state old;

	if (vs_rt_status(inst, cfg->name, &st, err) < 0)
		return -1;
	if (st.state != VS_RT_STOPPED)
		return 0; /* alive: nothing to recover */
	rt_paths_init(&paths, inst->root, inst->run_dir, cfg);
	if (rt_container_cleanup(inst, cfg, err) < 0)
		return -1;
	unlink(paths.sock);
	if (rt_state_read(paths.cdir, &old, NULL) == 0 && strcmp(old.state, "stopped") != 0) {
		struct rt_state s = {.state = "stopped",
				     .last_exit_code = old.last_exit_code,
				     .last_exit_signal = old.last_exit_signal};
		if (rt_state_write(paths.cdir, &s, err) < 0)
			return -1;
	}
	return 0;
}

int vs_rt_console_attach(const struct vs_rt_instance *inst, const char *name, int *master_fd,
			 int *hold_fd, struct vs_error *err)
{
	cleanup_free char *sock = xasprintf("%s/containers/%s/monitor.sock", inst->run_dir, name);
	cleanup_close int fd = rt_monitor_connect(sock, NULL);
	char buf[32];
	int fds[1];
	size_t nfds = 0;
	ssize_t n;

	if (fd < 0)
		return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' is not running", name);
	if (send(fd, "console", 7, MSG_NOSIGNAL) < 0)
		return vs_error_set(err, errno, "ask the monitor for the console");
	n = vs_recv_fds(fd, buf, sizeof(buf), fds, 1, &nfds);
	if (n <= 0 || nfds != 1)
		return vs_error_set(err, n < 0 ? errno : EIO, "get the console of '%s'", name);
	*master_fd = fds[0];
	*hold_fd = steal_fd(&fd);
	return 0;
}
