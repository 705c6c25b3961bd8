/* The per-container monitor: `vsd __monitor ROOT RUN_DIR CGROUP_PARENT NAME`
 * with the readiness pipe on fd 3.
 *
 * It is the parent of the container's init and the only process that
 * waits for it. Its control socket speaks one-line messages
 * (SOCK_SEQPACKET, so no framing):
 *   "stop TIMEOUT FORCE" -> "stopped" once init is gone and cleaned up
 *   "console"            -> "console" + the pty master (SCM_RIGHTS); the
 *                           monitor stops draining the console until that
 *                           connection closes
 *   "status"             -> "running PID"
 *   "checkpoint MODE\nCRIU\nDIR" -> "progress ..." lines, then "done ..."
 *                           (migrate/checkpoint.c); MODE 2 comes with a page
 *                           server's socket (SCM_RIGHTS) and leaves the
 *                           tree held: frozen, alive
 *   "release-held KILL"  -> "ok": thaw a held tree (KILL 0) or kill it
 *                           (1); a "stop" kills a held tree first
 * and a failure (a checkpoint that failed, an unknown request) in the one
 * error form of vs_error_send.
 * The monitor enforces the stop timeout itself, so a vsd that dies in the
 * middle of a stop still gets the container stopped. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs-cow/vs_fs.h"
#include "lib/vs_trace.h"
#include "lib/vs_fdpass.h"
#include "migrate/vs_migrate.h"
#include "lib/vs_io.h"
#include "lib/vs_syscall.h"
#include "lib/vs_util.h"
#include "migrate/mig-monitor.h"
#include "runtime/rt-private.h"

#define MAX_CLIENTS	32
#define CONSOLE_LOG_MAX (1024 * 1024)

enum client_kind { CL_NEW, CL_STOP, CL_CONSOLE, CL_CHECKPOINT };

struct client {
	int fd;
	enum client_kind kind;
	char *reply; /* CL_CHECKPOINT: sent once the container is gone */
};

struct monitor {
	struct vs_rt_instance inst;
	struct vs_net_node net; /* from --net-id, --uplink, --private-bridge */
	struct vs_container_config cfg;
	struct rt_paths paths;
	struct rt_running run;
	int listen_fd;
	int console_log;
	struct client clients[MAX_CLIENTS];
	size_t nclients;
	bool stopping;
	int64_t deadline_ms; /* when to SIGKILL; 0 none */
	int64_t console_retry_ms;
	int restarts;
	int64_t restart_window_start;
	const char *final_state; /* state.json after init's exit: "stopped" or "suspended" */
	bool exit_now;		 /* a dump took the container down: finish up */
	bool held;		 /* dumped to a page server, frozen: vs_rt_checkpoint_pages */
	const char *restore_dir; /* --restore: bring up from this image */
	int64_t announce_ms;	 /* when to announce the addresses again; 0 never */
	char last_state[16];	 /* what state.json said before our last write */
};

static void logmsg(const char *fmt, const char *a)
{
	fprintf(stderr, "vsd-monitor[%d]: ", (int)getpid());
	fprintf(stderr, fmt, a);
	fputc('\n', stderr);
}

/* The container came up (start, restore, restart): tell the LAN where its
 * addresses are, once now and once more from the loop 100 ms later (a
 * single frame may be lost, and a switch may still be learning the port);
 * waiting here would lengthen every start and restore. */
static void announce(struct monitor *m, bool first)
{
	rt_net_announce(&m->inst, &m->cfg, m->run.pid);
	m->announce_ms = first ? vs_now_ms() + 100 : 0;
}

static int write_state(struct monitor *m, const char *state, int code, int sig)
{
	struct rt_state st = {0};
	struct vs_error err = {0};

	snprintf(st.state, sizeof(st.state), "%s", state);
	st.monitor_pid = getpid();
	st.monitor_start_time = rt_proc_start_time(getpid());
	st.last_exit_code = code;
	st.last_exit_signal = sig;
	if (strcmp(state, "running") == 0 || strcmp(state, "stopping") == 0) {
		st.init_pid = m->run.pid;
		st.init_start_time = rt_proc_start_time(m->run.pid);
		st.started_at = (int64_t)time(NULL);
	}
	if (strcmp(state, "stopped") == 0 || strcmp(state, "suspended") == 0)
		st.monitor_pid = 0, st.monitor_start_time = 0;
	if (rt_state_write(m->paths.cdir, &st, m->last_state, &err) < 0) {
		logmsg("%s", err.msg);
		return -1;
	}
	snprintf(m->last_state, sizeof(m->last_state), "%s", state);
	return 0;
}

static int bind_control(struct monitor *m, struct vs_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, probe;
	mode_t old;

	probe = rt_monitor_connect(m->paths.sock, NULL);
	if (probe >= 0) {
		close(probe);
		return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' is already running",
				     m->cfg.name);
	}
	unlink(m->paths.sock);
	if (strlen(m->paths.sock) >= sizeof(sa.sun_path))
		return vs_error_set(err, ENAMETOOLONG, "%s", m->paths.sock);
	strcpy(sa.sun_path, m->paths.sock);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return vs_error_set(err, errno, "socket");
	old = umask(077);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		int e = errno;
		umask(old);
		close(fd);
		return vs_error_set(err, e, "bind %s", m->paths.sock);
	}
	umask(old);
	m->listen_fd = fd;
	return 0;
}

static void client_drop(struct monitor *m, size_t i)
{
	close(m->clients[i].fd);
	free(m->clients[i].reply);
	m->clients[i] = m->clients[--m->nclients];
}

static bool console_attached(const struct monitor *m)
{
	for (size_t i = 0; i < m->nclients; i++)
		if (m->clients[i].kind == CL_CONSOLE)
			return true;
	return false;
}

static void begin_stop(struct monitor *m, int timeout_s, bool force)
{
	int64_t deadline = vs_now_ms() + (int64_t)timeout_s * 1000;

	vs_trace_mark("stop.monitor-asked");
	if (force || timeout_s == 0) {
		vs_pidfd_send_signal(m->run.pidfd, SIGKILL, NULL, 0);
		m->deadline_ms = 0;
	} else {
		if (!m->stopping)
			vs_pidfd_send_signal(m->run.pidfd, m->cfg.stop_signal, NULL, 0);
		if (m->deadline_ms == 0 || deadline < m->deadline_ms)
			m->deadline_ms = deadline;
	}
	if (!m->stopping) {
		m->stopping = true;
		write_state(m, "stopping", -1, 0);
	}
}

/* The configuration as vsd last wrote it: live changes (addresses,
 * shaping, limits) land in config.json while the container runs, and what
 * the monitor does next (a checkpoint, the cleanup, a restart after a
 * reboot) must act on them, not on the copy read at start. A config that
 * cannot be read keeps the old copy (logged). */
static void reload_config(struct monitor *m)
{
	cleanup_free char *path = xasprintf("%s/config.json", m->paths.cdir), *text = NULL;
	struct vs_container_config fresh = {0};
	struct vs_error err = {0};

	if (vs_read_file_at(AT_FDCWD, path, 1 << 20, &text, NULL, &err) < 0 ||
	    vs_config_parse(text, &fresh, &err) < 0 || strcmp(fresh.name, m->cfg.name) != 0) {
		logmsg("keeping the configuration read at start: %s", err.msg);
		vs_config_free(&fresh);
		return;
	}
	vs_config_free(&m->cfg);
	m->cfg = fresh;
}

static void handle_checkpoint(struct monitor *m, struct client *c, const char *req, int ps_fd)
{
	struct vs_error err = {0};
	char done[128];
	bool gone = false;

	reload_config(m);
	if (m->held) {
		vs_error_kind(&err, VS_EK_CONFLICT, "the container is held after a dump");
		vs_error_send(c->fd, &err);
		return;
	}
	if (rt_monitor_checkpoint(&m->inst, &m->cfg, m->run.pid, m->run.console, c->fd, req, ps_fd,
				  done, sizeof(done), &gone, &m->held, &err) < 0) {
		vs_error_send(c->fd, &err);
		return;
	}
	if (!gone) {
		send(c->fd, done, strlen(done), MSG_NOSIGNAL);
		return;
	}
	/* CRIU killed the container after dumping it: tear down, record the
	 * new state, and only then answer. */
	c->kind = CL_CHECKPOINT;
	c->reply = xstrdup(done);
	m->stopping = true;
	m->final_state = strcmp(req + strlen(req) - 2, "\n-") == 0 ? "suspended" : "stopped";
	m->exit_now = true;
}

/* "release-held KILL": end the hold of a dump whose pages went to a page
 * server; "ok" also when nothing is held (a retry after a lost answer). */
static void handle_release(struct monitor *m, struct client *c, int kill)
{
	struct vs_error err = {0};

	if (m->held &&
	    rt_monitor_release_held(&m->inst, &m->cfg, m->run.pid, kill != 0, &err) < 0) {
		vs_error_send(c->fd, &err);
		return;
	}
	m->held = false;
	send(c->fd, "ok", 2, MSG_NOSIGNAL);
}

static void handle_message(struct monitor *m, size_t i)
{
	struct client *c = &m->clients[i];
	char buf[4400];
	int fd = -1;
	size_t nfds = 0;
	/* One descriptor may come along: a page server's socket. */
	ssize_t n = vs_recv_fds(c->fd, buf, sizeof(buf) - 1, &fd, 1, &nfds);
	int timeout = 0, force = 0, kill = 0;

	if (nfds == 0)
		fd = -1;
	if (n <= 0) {
		vs_closep(&fd);
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			client_drop(m, i);
		return;
	}
	buf[n] = '\0';
	if (strncmp(buf, "checkpoint ", 11) != 0 && fd >= 0)
		vs_closep(&fd);
	if (sscanf(buf, "stop %d %d", &timeout, &force) == 2) {
		c->kind = CL_STOP;
		/* A held tree is frozen: only a kill ends it. */
		if (m->held &&
		    rt_monitor_release_held(&m->inst, &m->cfg, m->run.pid, true, NULL) == 0)
			m->held = false;
		begin_stop(m, timeout < 0 ? 0 : timeout, force != 0);
	} else if (sscanf(buf, "release-held %d", &kill) == 1) {
		handle_release(m, c, kill);
	} else if (strcmp(buf, "console") == 0) {
		if (vs_send_fds(c->fd, "console", 7, &m->run.console, 1) < 0)
			client_drop(m, i);
		else
			c->kind = CL_CONSOLE;
	} else if (strncmp(buf, "checkpoint ", 11) == 0) {
		handle_checkpoint(m, c, buf, fd);
		vs_closep(&fd);
	} else if (strcmp(buf, "status") == 0) {
		int len = snprintf(buf, sizeof(buf), "running %d", (int)m->run.pid);
		send(c->fd, buf, (size_t)len, MSG_NOSIGNAL);
	} else {
		struct vs_error e;
		vs_error_kind(&e, VS_EK_INVALID, "unknown request");
		vs_error_send(c->fd, &e);
	}
}

static void accept_client(struct monitor *m)
{
	int fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (fd < 0)
		return;
	/* Only root (vsd) may steer a container. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0 ||
	    m->nclients == MAX_CLIENTS) {
		close(fd);
		return;
	}
	m->clients[m->nclients++] = (struct client){.fd = fd, .kind = CL_NEW};
}

/* Keep the console's output while nobody is attached, so init never blocks
 * writing to it; console.log is bounded. */
static void drain_console(struct monitor *m)
{
	char buf[4096];
	ssize_t n = read(m->run.console, buf, sizeof(buf));
	struct stat st;

	if (n <= 0) {
		/* No slave open (EIO): retry later instead of spinning. */
		m->console_retry_ms = vs_now_ms() + 500;
		return;
	}
	if (m->console_log < 0)
		return;
	if (fstat(m->console_log, &st) == 0 && st.st_size > CONSOLE_LOG_MAX)
		ftruncate(m->console_log, 0);
	vs_write_all(m->console_log, buf, (size_t)n);
}

/* init is gone: collect its status. Returns true when it asked for a
 * reboot (reboot(2) in a pid namespace kills init with SIGHUP). */
static bool reap_init(struct monitor *m, int *code, int *sig)
{
	siginfo_t si = {0};

	while (waitid(P_PIDFD, (id_t)m->run.pidfd, &si, WEXITED) < 0 && errno == EINTR)
		;
	close(m->run.pidfd);
	m->run.pidfd = -1;
	close(m->run.console);
	m->run.console = -1;
	*code = si.si_code == CLD_EXITED ? si.si_status : -1;
	*sig = si.si_code == CLD_EXITED ? 0 : si.si_status;
	return !m->stopping && *sig == SIGHUP;
}

static bool may_restart(struct monitor *m)
{
	int64_t t = vs_now_ms();

	if (t - m->restart_window_start > 60000) {
		m->restart_window_start = t;
		m->restarts = 0;
	}
	return ++m->restarts <= 10;
}

static void finish_waiters(struct monitor *m)
{
	for (size_t i = 0; i < m->nclients; i++) {
		struct client *c = &m->clients[i];
		if (c->kind == CL_STOP)
			send(c->fd, "stopped", 7, MSG_NOSIGNAL);
		else if (c->kind == CL_CHECKPOINT)
			send(c->fd, c->reply, strlen(c->reply), MSG_NOSIGNAL);
	}
	while (m->nclients > 0)
		client_drop(m, 0);
}

/* Returns true to keep running (the container was restarted). */
static bool on_init_exit(struct monitor *m)
{
	struct vs_error err = {0};
	int code, sig;
	bool reboot = reap_init(m, &code, &sig);

	vs_trace_mark("stop.init-reaped");
	reload_config(m);
	if (rt_container_cleanup(&m->inst, &m->cfg,
				 m->final_state != NULL && strcmp(m->final_state, "suspended") == 0,
				 &err) < 0)
		logmsg("cleanup: %s", err.msg);
	vs_trace_mark("stop.cleaned-up");
	if (reboot && may_restart(m)) {
		if (rt_container_start(&m->inst, &m->cfg, &m->run, &err) == 0) {
			write_state(m, "running", code, sig);
			announce(m, true);
			vs_shed_idle_memory();
			return true;
		}
		logmsg("restart failed: %s", err.msg);
	}
	/* After a dump CRIU killed the tree: that SIGKILL is no exit status. */
	if (m->final_state != NULL)
		code = -1, sig = 0;
	write_state(m, m->final_state ? m->final_state : "stopped", code, sig);
	finish_waiters(m);
	return false;
}

static void loop(struct monitor *m)
{
	for (;;) {
		struct pollfd p[MAX_CLIENTS + 3];
		size_t n = 0, first_client;
		int timeout = -1;
		bool want_console = !console_attached(m) && vs_now_ms() >= m->console_retry_ms;

		p[n++] = (struct pollfd){.fd = m->run.pidfd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = m->listen_fd, .events = POLLIN};
		p[n++] =
		    (struct pollfd){.fd = want_console ? m->run.console : -1, .events = POLLIN};
		first_client = n;
		for (size_t i = 0; i < m->nclients; i++)
			p[n++] = (struct pollfd){.fd = m->clients[i].fd, .events = POLLIN};
		if (m->deadline_ms > 0)
			timeout =
			    (int)(m->deadline_ms > vs_now_ms() ? m->deadline_ms - vs_now_ms() : 0);
		if (!want_console && !console_attached(m))
			timeout = timeout < 0 || timeout > 500 ? 500 : timeout;
		if (m->announce_ms > 0) {
			int64_t left = m->announce_ms - vs_now_ms();
			left = left < 0 ? 0 : left;
			timeout = timeout < 0 || timeout > left ? (int)left : timeout;
		}
		if (poll(p, n, timeout) < 0 && errno != EINTR)
			return;
		if (p[0].revents) {
			if (!on_init_exit(m))
				return;
			continue;
		}
		if (m->announce_ms > 0 && vs_now_ms() >= m->announce_ms)
			announce(m, false);
		if (m->deadline_ms > 0 && vs_now_ms() >= m->deadline_ms) {
			vs_pidfd_send_signal(m->run.pidfd, SIGKILL, NULL, 0);
			m->deadline_ms = 0;
		}
		if (p[1].revents & POLLIN)
			accept_client(m);
		if (p[2].revents)
			drain_console(m);
		/* Walk clients backwards: handle_message may drop (swap-remove). */
		for (size_t i = n - first_client; i-- > 0;)
			if (i < m->nclients && p[first_client + i].revents)
				handle_message(m, i);
		if (m->exit_now) {
			on_init_exit(m);
			return;
		}
	}
}

static int monitor_setup(struct monitor *m, int argc, char **argv, struct vs_error *err)
{
	cleanup_free char *cfgpath = NULL, *text = NULL, *logpath = NULL;
	struct vs_cg_host *cg = NULL;

	if (argc < 6 || argc % 2 != 0)
		return vs_error_set(err, EINVAL,
				    "usage: vsd __monitor ROOT RUN_DIR CGROUP_PARENT NAME "
				    "[--criu PATH] [--restore DIR] [--net-id ID] [--uplink IF] "
				    "[--private-bridge BR]...");
	for (int i = 6; i + 1 < argc; i += 2) {
		int r = rt_net_arg(&m->net, argv[i], argv[i + 1], err);
		if (r < 0)
			return -1;
		if (r == 1)
			continue;
		if (strcmp(argv[i], "--criu") == 0)
			m->inst.criu_path = argv[i + 1];
		else if (strcmp(argv[i], "--restore") == 0)
			m->restore_dir = argv[i + 1];
		else
			return vs_error_set(err, EINVAL, "__monitor: unknown option %s", argv[i]);
	}
	m->inst.net = &m->net;
	m->inst.root = argv[2];
	m->inst.run_dir = argv[3];
	m->inst.cgroup_parent = argv[4];
	m->inst.self_exe_fd = -1;
	if (vs_validate_name(argv[5], "container name", err) < 0)
		return -1;
	if (rt_cg_host_take(&cg, err) < 0)
		return -1;
	m->inst.cg = cg;
	cfgpath = xasprintf("%s/containers/%s/config.json", argv[2], argv[5]);
	if (vs_read_file_at(AT_FDCWD, cfgpath, 1 << 20, &text, NULL, err) < 0 ||
	    vs_config_parse(text, &m->cfg, err) < 0)
		return vs_error_prefix(err, "%s", cfgpath);
	if (m->inst.criu_path == NULL)
		m->inst.criu_path = vs_mig_default_criu();
	rt_paths_init(&m->paths, m->inst.root, m->inst.run_dir, &m->cfg);
	if (rt_rundir_prepare(m->inst.run_dir, m->paths.rundir, err) < 0 ||
	    bind_control(m, err) < 0)
		return -1;
	logpath = xasprintf("%s/console.log", m->paths.rundir);
	m->console_log = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	return 0;
}

/* Bring the container up: a fresh start, or a restore from an image. */
static int bring_up(struct monitor *m, const char *restore_dir, struct vs_rt_cr_result *res,
		    struct vs_error *err)
{
	if (restore_dir == NULL)
		return rt_container_start(&m->inst, &m->cfg, &m->run, err);
	return rt_container_restore(&m->inst, &m->cfg, restore_dir, 3, &m->run, res, err);
}

static void after_restore(struct monitor *m, const char *restore_dir)
{
	cleanup_free char *own = xasprintf("%s/checkpoint", m->paths.cdir);
	cleanup_close int cfd = -1;

	/* A resumed suspend image has served its purpose; an operator's
	 * checkpoint directory is theirs to keep. */
	if (restore_dir == NULL || strcmp(restore_dir, own) != 0)
		return;
	cfd = open(m->paths.cdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd >= 0)
		vs_fs_remove_tree(cfd, "checkpoint", NULL);
}

/* Out of vsd's process tree, so that the monitor outlives the daemon:
 * vsd waits for this first process, which leaves at once; the monitor
 * goes on in a new session as a child of init (or the subreaper), not its
 * leader, so no terminal it opens becomes its controlling one. */
static void detach(void)
{
	pid_t pid;

	setsid();
	pid = fork();
	if (pid != 0)
		_exit(pid < 0 ? 1 : 0);
}

int vs_rt_monitor_main(int argc, char **argv)
{
	struct monitor m = {
	    .listen_fd = -1, .console_log = -1, .run = {.pidfd = -1, .console = -1}};
	struct vs_error err = {0};
	struct vs_rt_cr_result res = {0};
	struct rt_state before = {0};
	char msg[VS_ERROR_WIRE_MAX + 1];
	int ready = 3;
	int len;

	vs_trace_mark("monitor.exec");
	detach();
	signal(SIGPIPE, SIG_IGN);
	fcntl(ready, F_SETFD, FD_CLOEXEC);
	if (monitor_setup(&m, argc, argv, &err) < 0)
		goto fail;
	vs_trace_mark("monitor.setup");
	rt_state_read(m.paths.cdir, &before, NULL);
	snprintf(m.last_state, sizeof(m.last_state), "%s", before.state);
	write_state(&m, "starting", -1, 0);
	if (bring_up(&m, m.restore_dir, &res, &err) < 0) {
		/* Leave the state as it was: "suspended" stays suspended. */
		before.monitor_pid = 0, before.monitor_start_time = 0;
		rt_state_write(m.paths.cdir, &before, m.last_state, NULL);
		unlink(m.paths.sock);
		goto fail;
	}
	vs_trace_mark("monitor.init-running");
	write_state(&m, "running", -1, 0);
	announce(&m, true);
	after_restore(&m, m.restore_dir);
	len = snprintf(msg, sizeof(msg), "ok %d %lld %lld %lld %lld\n", (int)m.run.pid,
		       (long long)res.frozen_ms, (long long)res.criu_ms, (long long)res.total_ms,
		       (long long)res.image_bytes);
	vs_write_all(ready, msg, (size_t)len);
	close(ready);
	vs_shed_idle_memory();
	loop(&m);
	unlink(m.paths.sock);
	close(m.listen_fd);
	vs_config_free(&m.cfg);
	vs_cg_host_free(m.inst.cg);
	return 0;
fail:
	len = vs_error_encode(&err, msg, sizeof(msg) - 1);
	msg[len++] = '\n';
	vs_write_all(ready, msg, (size_t)len);
	return 1;
}
