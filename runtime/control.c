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

#include "fs-cow/vs_fs.h"
#include "lib/vs_fdpass.h"
#include "lib/vs_io.h"
#include "lib/vs_syscall.h"
#include "lib/vs_util.h"
#include "migrate/mig-monitor.h"
#include "runtime/rt-private.h"

/* Read the monitor's readiness report: "progress ..." lines, then "ok PID
 * [FROZEN CRIU TOTAL BYTES]" or an error (vs_error_encode's form). */
static int read_ready(int fd, vs_rt_progress_fn progress, void *ud, struct vs_rt_cr_result *res,
		      struct vs_error *err)
{
	char buf[VS_ERROR_WIRE_MAX + 64];
	size_t used = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char *nl;
		ssize_t n;
		if (poll(&p, 1, 600000) == 0)
			return vs_error_set(err, ETIMEDOUT,
					    "the container did not come up in time");
		n = read(fd, buf + used, sizeof(buf) - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
		buf[used] = '\0';
		while ((nl = strchr(buf, '\n')) != NULL && strncmp(buf, "progress ", 9) == 0) {
			*nl = '\0';
			if (progress != NULL)
				progress(ud, buf + 9);
			used -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, used + 1);
		}
		if (used == sizeof(buf) - 1)
			break;
	}
	buf[used] = '\0';
	if (strncmp(buf, "ok ", 3) == 0) {
		long long f = 0, c = 0, t = 0, b = 0;
		if (res != NULL && sscanf(buf, "ok %*d %lld %lld %lld %lld", &f, &c, &t, &b) == 4)
			*res = (struct vs_rt_cr_result){f, c, t, b};
		return 0;
	}
	if (vs_error_decode(buf, err) < 0)
		return -1;
	return vs_error_set(err, EIO, "the container's monitor died during start");
}

/* The node's networking as monitor arguments (parsed by rt_net_arg). */
static void rt_net_args(struct rt_argv *argv, const struct vs_net_node *net)
{
	if (net == NULL)
		return;
	rt_argv_add(argv, "--net-id");
	rt_argv_add(argv, "%s", net->id);
	if (net->uplink[0] != '\0') {
		rt_argv_add(argv, "--uplink");
		rt_argv_add(argv, "%s", net->uplink);
	}
	for (size_t i = 0; i < net->nprivate; i++) {
		rt_argv_add(argv, "--private-bridge");
		rt_argv_add(argv, "%s", net->private_bridges[i]);
	}
}

/* Spawn a monitor for cfg (restore_dir: from an image) and wait for it. */
static int spawn_monitor(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
			 const char *restore_dir, vs_rt_progress_fn progress, void *ud,
			 struct vs_rt_cr_result *res, struct vs_error *err)
{
	struct rt_paths paths;
	cleanup_close int log = -1, rd = -1, wr = -1;
	cleanup_free char *logpath = NULL;
	struct rt_argv argv = {0};
	int p[2], rc;
	int stdio[3] = {-1, -1, -1};

	rt_paths_init(&paths, inst->root, inst->run_dir, cfg);
	if (rt_rundir_prepare(inst->run_dir, paths.rundir, err) < 0)
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
	rt_argv_add(&argv, "vsd");
	rt_argv_add(&argv, "__monitor");
	rt_argv_add(&argv, "%s", inst->root);
	rt_argv_add(&argv, "%s", inst->run_dir);
	rt_argv_add(&argv, "%s", inst->cgroup_parent);
	rt_argv_add(&argv, "%s", cfg->name);
	if (inst->criu_path != NULL) {
		rt_argv_add(&argv, "--criu");
		rt_argv_add(&argv, "%s", inst->criu_path);
	}
	if (restore_dir != NULL) {
		rt_argv_add(&argv, "--restore");
		rt_argv_add(&argv, "%s", restore_dir);
	}
	rt_net_args(&argv, inst->net);
	rc = rt_spawn_self(inst->self_exe_fd, argv.v, stdio, &wr, 1, true, err);
	rt_argv_free(&argv);
	if (rc < 0)
		return -1;
	close(wr);
	wr = -1;
	if (read_ready(rd, progress, ud, res, err) < 0)
		return vs_error_prefix(err, "%s '%s'", restore_dir ? "restore" : "start",
				       cfg->name);
	return 0;
}

int vs_rt_start(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		struct vs_error *err)
{
	struct vs_rt_status st;

	if (vs_rt_status(inst, cfg->name, &st, err) < 0)
		return -1;
	if (st.state == VS_RT_SUSPENDED)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     VS_RT_SUSPENDED_HINT " or destroy it with force", cfg->name,
				     cfg->name);
	if (st.state != VS_RT_STOPPED)
		return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' is %s", cfg->name,
				     vs_rt_state_name(st.state));
	return spawn_monitor(inst, cfg, NULL, NULL, NULL, NULL, err);
}

/* The image's file system first (see VS_RT_LAYER_DIR), once its seal
 * holds (the monitor checks the whole image again before CRIU runs); an
 * image without a layer copy (made before vsd kept one) restores over the
 * current layer as before. */
static int put_back_layer(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
			  const char *dir, vs_rt_progress_fn progress, void *ud,
			  struct vs_error *err)
{
	cleanup_free char *layer = xasprintf("%s/" VS_RT_LAYER_DIR, dir);
	cleanup_free char *cdir = xasprintf("%s/containers/%s", inst->root, cfg->name);
	struct stat st;

	if (lstat(layer, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	if (rt_image_verify_sealed(inst, dir, err) < 0)
		return -1;
	if (progress != NULL)
		progress(ud, "putting the checkpoint's layer back");
	return vs_fs_layer_put_back(cdir, layer, err);
}

int vs_rt_restore(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		  const char *dir, vs_rt_progress_fn progress, void *ud,
		  struct vs_rt_cr_result *res, struct vs_error *err)
{
	struct vs_rt_status st;
	cleanup_free char *own = xasprintf("%s/containers/%s/checkpoint", inst->root, cfg->name);
	struct vs_rt_cr_result r = {0};

	if (vs_rt_status(inst, cfg->name, &st, err) < 0)
		return -1;
	if (dir == NULL && st.state != VS_RT_SUSPENDED)
		return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' is %s, not suspended",
				     cfg->name, vs_rt_state_name(st.state));
	if (dir != NULL && st.state != VS_RT_STOPPED)
		return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' is %s, not stopped",
				     cfg->name, vs_rt_state_name(st.state));
	if (inst->criu_path == NULL)
		return vs_error_kind(err, VS_EK_UNSUPPORTED,
				     "checkpoint/restore needs criu (see scripts/install-criu.sh)");
	if (dir != NULL && put_back_layer(inst, cfg, dir, progress, ud, err) < 0)
		return -1;
	if (spawn_monitor(inst, cfg, dir != NULL ? dir : own, progress, ud, &r, err) < 0)
		return -1;
	if (res != NULL)
		*res = r;
	return 0;
}

int vs_rt_discard_image(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
			struct vs_error *err)
{
	struct rt_paths paths;
	struct vs_rt_status st;
	struct rt_state old = {.last_exit_code = -1};
	cleanup_close int cfd = -1;

	if (vs_rt_status(inst, cfg->name, &st, err) < 0)
		return -1;
	if (st.state != VS_RT_SUSPENDED)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "container '%s' is %s, not suspended (nothing to discard)",
				     cfg->name, vs_rt_state_name(st.state));
	rt_paths_init(&paths, inst->root, inst->run_dir, cfg);
	/* A failed resume cleans up after itself; make sure nothing of it
	 * (cgroups, the root mount) is left before the disk is declared
	 * usable again. */
	if (rt_container_cleanup(inst, cfg, false, err) < 0)
		return vs_error_prefix(err, "discard the image of '%s'", cfg->name);
	/* The state goes first: a crash between the two leaves a stopped
	 * container with a stale image directory (removed at the next
	 * suspend), never a suspended one without its image. */
	rt_state_read(paths.cdir, &old, NULL);
	{
		struct rt_state s = {.state = "stopped",
				     .last_exit_code = old.last_exit_code,
				     .last_exit_signal = old.last_exit_signal};
		if (rt_state_write(paths.cdir, &s, old.state, err) < 0)
			return vs_error_prefix(err, "discard the image of '%s'", cfg->name);
	}
	cfd = open(paths.cdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0 || vs_fs_remove_tree(cfd, "checkpoint", err) < 0)
		return cfd < 0 ? vs_error_set(err, errno, "open %s", paths.cdir)
			       : vs_error_prefix(err, "remove the image of '%s'", cfg->name);
	return 0;
}

/* The checkpoint request (MODE and ROUNDS as in rt_monitor_checkpoint,
 * then the network lock's method when one is asked for), with ps_fd
 * passed along when >= 0, and the monitor's answer. */
static int ask_checkpoint(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
			  const char *dir, int mode, unsigned rounds, int ps_fd,
			  const char *netlock, vs_rt_progress_fn progress, void *ud,
			  struct vs_rt_cr_result *res, struct vs_error *err)
{
	struct rt_paths paths;
	struct vs_rt_status st;
	cleanup_close int fd = -1;
	cleanup_free char *req = NULL;
	char msg[VS_ERROR_WIRE_MAX + 64];

	if (vs_rt_status(inst, cfg->name, &st, err) < 0)
		return -1;
	if (st.state != VS_RT_RUNNING)
		return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' is %s, not running",
				     cfg->name, vs_rt_state_name(st.state));
	if (inst->criu_path == NULL)
		return vs_error_kind(err, VS_EK_UNSUPPORTED,
				     "checkpoint/restore needs criu (see scripts/install-criu.sh)");
	rt_paths_init(&paths, inst->root, inst->run_dir, cfg);
	fd = rt_monitor_connect(paths.sock, err);
	if (fd < 0)
		return vs_error_prefix(err, "checkpoint '%s'", cfg->name);
	if (strchr(inst->criu_path, '\n') != NULL || (dir != NULL && strchr(dir, '\n') != NULL))
		return vs_error_kind(err, VS_EK_INVALID, "paths with newlines are not supported");
	/* The daemon's criu, which may be newer than the one this container's
	 * monitor was started with. */
	if (netlock != NULL && strcmp(netlock, "nftables") != 0 && strcmp(netlock, "iptables") != 0)
		return vs_error_kind(err, VS_EK_INVALID, "unknown network lock method '%s'",
				     netlock);
	if (rounds > 0)
		req = xasprintf("checkpoint %d %u%s%s\n%s\n-", mode, rounds, netlock ? " " : "",
				netlock ? netlock : "", inst->criu_path);
	else
		req = xasprintf("checkpoint %d%s%s\n%s\n%s", mode, netlock ? " " : "",
				netlock ? netlock : "", inst->criu_path, dir != NULL ? dir : "-");
	if ((ps_fd >= 0 ? vs_send_fds(fd, req, strlen(req), &ps_fd, 1)
			: send(fd, req, strlen(req), MSG_NOSIGNAL)) < 0)
		return vs_error_set(err, errno, "ask the monitor to checkpoint '%s'", cfg->name);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long long f, c, t, b;
		ssize_t n;
		if (poll(&p, 1, 900000) <= 0)
			return vs_error_set(err, ETIMEDOUT, "checkpoint of '%s' timed out",
					    cfg->name);
		n = recv(fd, msg, sizeof(msg) - 1, 0);
		if (n <= 0)
			return vs_error_set(err, EIO, "lost the monitor of '%s' during checkpoint",
					    cfg->name);
		msg[n] = '\0';
		if (strncmp(msg, "progress ", 9) == 0) {
			if (progress != NULL)
				progress(ud, msg + 9);
		} else if (sscanf(msg, "done %lld %lld %lld %lld", &f, &c, &t, &b) == 4) {
			if (res != NULL)
				*res = (struct vs_rt_cr_result){f, c, t, b};
			return 0;
		} else if (vs_error_decode(msg, err) < 0) {
			return -1;
		} else {
			return vs_error_set(err, EPROTO, "unexpected answer from the monitor");
		}
	}
}

int vs_rt_checkpoint(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		     const char *dir, bool leave_running, const char *netlock,
		     vs_rt_progress_fn progress, void *ud, struct vs_rt_cr_result *res,
		     struct vs_error *err)
{
	return ask_checkpoint(inst, cfg, dir, leave_running ? 1 : 0, 0, -1, netlock, progress, ud,
			      res, err);
}

int vs_rt_checkpoint_pages(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
			   int ps_fd, unsigned rounds, const char *netlock,
			   vs_rt_progress_fn progress, void *ud, struct vs_rt_cr_result *res,
			   struct vs_error *err)
{
	if (ps_fd < 0)
		return vs_error_kind(err, VS_EK_INVALID, "no page server socket");
	return ask_checkpoint(inst, cfg, NULL, 2, rounds, ps_fd, netlock, progress, ud, res, err);
}

int vs_rt_predump_pages(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
			unsigned round, int ps_fd, vs_rt_progress_fn progress, void *ud,
			struct vs_rt_cr_result *res, struct vs_error *err)
{
	if (ps_fd < 0 || round == 0 || round > VS_MIG_ROUNDS_MAX)
		return vs_error_kind(err, VS_EK_INVALID, "pre-copy round %u: bad request", round);
	return ask_checkpoint(inst, cfg, NULL, 3, round, ps_fd, NULL, progress, ud, res, err);
}

void vs_rt_drop_rounds(const struct vs_rt_instance *inst, const struct vs_container_config *cfg)
{
	struct rt_paths paths;

	rt_paths_init(&paths, inst->root, inst->run_dir, cfg);
	rt_drop_rounds(paths.cdir);
}

/* "release-held KILL", answered "ok" within timeout_ms. */
static int release_held(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
			bool kill, int timeout_ms, struct vs_error *err)
{
	struct rt_paths paths;
	cleanup_close int fd = -1;
	char msg[VS_ERROR_MSG_MAX + 64];
	const char *what = kill ? "end" : "thaw";
	struct pollfd p;
	ssize_t n;

	rt_paths_init(&paths, inst->root, inst->run_dir, cfg);
	fd = rt_monitor_connect(paths.sock, err);
	if (fd < 0)
		return vs_error_prefix(err, "%s '%s' after its dump", what, cfg->name);
	if (send(fd, kill ? "release-held 1" : "release-held 0", 14, MSG_NOSIGNAL) < 0)
		return vs_error_set(err, errno, "ask the monitor of '%s' to %s it", cfg->name,
				    what);
	p = (struct pollfd){.fd = fd, .events = POLLIN};
	n = poll(&p, 1, timeout_ms) > 0 ? recv(fd, msg, sizeof(msg) - 1, 0) : -1;
	if (n <= 0)
		return vs_error_set(err, EIO, "no answer from the monitor of '%s' to %s it",
				    cfg->name, what);
	msg[n] = '\0';
	if (vs_error_decode(msg, err) < 0)
		return -1;
	if (strcmp(msg, "ok") == 0)
		return 0;
	return vs_error_set(err, EPROTO, "unexpected answer from the monitor");
}

int vs_rt_release_held(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		       struct vs_error *err)
{
	return release_held(inst, cfg, false, 90000, err);
}

int vs_rt_end_held(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		   struct vs_error *err)
{
	return release_held(inst, cfg, true, 15 * 60 * 1000, err);
}

int vs_rt_checkpoint_lazy(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
			  int ps_fd, const char *netlock, vs_rt_progress_fn progress, void *ud,
			  struct vs_rt_cr_result *res, struct vs_error *err)
{
	if (ps_fd < 0)
		return vs_error_kind(err, VS_EK_INVALID, "no page server socket");
	return ask_checkpoint(inst, cfg, NULL, 4, 0, ps_fd, netlock, progress, ud, res, err);
}

/* Every task of the container killed through its cgroup, which also
 * thaws a v1 freezer: a frozen task (a tree held after a dump, whose
 * monitor died) keeps a pending SIGKILL until thawed. Best effort: the
 * caller waits for init and reports what is left. */
static void kill_cgroup(const struct vs_rt_instance *inst, const struct vs_container_config *cfg)
{
	struct vs_cg *cg = vs_cg_open(inst->cg, inst->cgroup_parent, cfg->name);

	vs_cg_kill_all(cg, NULL);
	vs_cg_free(cg);
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
	kill_cgroup(inst, cfg);
	poll(&p, 1, 10000);
	return vs_rt_recover(inst, cfg, err);
}

int vs_rt_kill_held(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		    struct vs_error *err)
{
	struct vs_rt_status st;
	cleanup_close int pidfd = -1;
	struct pollfd p;

	if (vs_rt_status(inst, cfg->name, &st, err) < 0)
		return -1;
	if (st.monitor_alive)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "container '%s' has its monitor: it can be thawed", cfg->name);
	if (st.init_pid > 0) {
		pidfd = vs_pidfd_open(st.init_pid, 0);
		/* Killed while frozen and with its node sides still down, as
		 * the monitor would (the image without pages, and any
		 * pre-copy rounds, go too). */
		if (rt_monitor_release_held(inst, cfg, st.init_pid, true, err) < 0)
			return vs_error_prefix(err, "kill the held tasks of '%s'", cfg->name);
		p = (struct pollfd){.fd = pidfd, .events = POLLIN};
		if (pidfd >= 0 && poll(&p, 1, 10000) <= 0)
			return vs_error_set(err, ETIMEDOUT, "the init of '%s' outlived its kill",
					    cfg->name);
	}
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
	if (rt_container_cleanup(inst, cfg, false, err) < 0)
		return -1;
	unlink(paths.sock);
	if (rt_state_read(paths.cdir, &old, NULL) == 0 && strcmp(old.state, "stopped") != 0) {
		struct rt_state s = {.state = "stopped",
				     .last_exit_code = old.last_exit_code,
				     .last_exit_signal = old.last_exit_signal};
		if (rt_state_write(paths.cdir, &s, old.state, err) < 0)
			return -1;
	}
	return 0;
}

int vs_rt_netns_open(const struct vs_rt_instance *inst, const char *name, struct vs_error *err)
{
	struct vs_rt_status st, again;
	cleanup_close int pidfd = -1;
	char path[64];
	int fd;

	if (vs_rt_status(inst, name, &st, err) < 0)
		return -1;
	if (st.state != VS_RT_RUNNING)
		return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' is %s, not running", name,
				     vs_rt_state_name(st.state));
	/* The pidfd pins the process; status again proves it is still init
	 * (pid and start time); a live pidfd after the open proves the
	 * /proc entry we opened was that process's. */
	pidfd = vs_pidfd_open(st.init_pid, 0);
	if (pidfd < 0)
		return vs_error_set(err, errno, "pidfd of '%s' init", name);
	if (vs_rt_status(inst, name, &again, err) < 0)
		return -1;
	if (again.state != VS_RT_RUNNING || again.init_pid != st.init_pid)
		return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' stopped meanwhile", name);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)st.init_pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vs_error_set(err, errno, "open %s", path);
	if (vs_pidfd_send_signal(pidfd, 0, NULL, 0) < 0) {
		close(fd);
		return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' stopped meanwhile", name);
	}
	return fd;
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
