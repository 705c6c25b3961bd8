/* Starting a container, monitor side and child side.
 *
 * Order matters here:
 *  1. cgroups are created and limited before any process of the container
 *     exists, so nothing escapes the limits;
 *  2. init is cloned into new user, pid, uts, ipc and net namespaces, but
 *     NOT yet a new mount, cgroup or time namespace;
 *  3. the monitor writes its id maps, moves it into its cgroups, and mounts
 *     the root on the host: the template id-mapped through init's own user
 *     namespace (which only exists now) under an overlay;
 *  4. only then does the child unshare its mount namespace (a copy that
 *     contains that overlay) and its cgroup namespace (rooted at the cgroup
 *     it was just moved into), make and enter its time namespace (owned by
 *     its user namespace, as CRIU needs: see timens.c), build /proc, /sys, /dev, pivot_root, drop
 *     capabilities, load seccomp and exec init.
 * The id-mapped lower layer thus lives on the host and is detached from
 * the container with the old root: nothing id-mapped is visible inside,
 * which is what CRIU can checkpoint. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include "fs-cow/vs_fs.h"
#include "lib/vs_trace.h"
#include "lib/vs_fdpass.h"
#include "lib/vs_io.h"
#include "lib/vs_syscall.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"
#include "netns/vs_netns.h"
#include "runtime/rt-private.h"

#define MSG_GO	"go"
#define MSG_NET "net"

static void child_fail(int sync_fd, const struct vs_error *err)
{
	vs_error_send(sync_fd, err);
	_exit(1);
}

static int become_root(const struct vs_container_config *cfg, struct vs_error *err)
{
	if (cfg->privileged)
		return 0;
	/* The maps are written by now; become the namespace's root so that
	 * what we create is owned by root of the container. */
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return vs_error_set(err, errno, "become root in the user namespace");
	if (setgroups(0, NULL) < 0)
		return vs_error_set(err, errno, "clear supplementary groups");
	return 0;
}

static int exec_init(const struct vs_container_config *cfg, int sync_fd, struct vs_error *err)
{
	char *envp[] = {"container=vsd",
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"TERM=linux", "HOME=/root", NULL};

	/* Every descriptor but stdio closes at exec: none of the monitor's or
	 * the host's reaches init (CVE-2024-21626). The sync socket closing
	 * tells the monitor that exec succeeded. */
	if (vs_close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		return vs_error_set(err, errno, "close_range");
	(void)sync_fd;
	execve(cfg->init[0], cfg->init, envp);
	return vs_error_set(err, errno, "exec %s", cfg->init[0]);
}

/* The monitor's next go-ahead, msg; anything else (its end closed, an
 * error) means it gave up on this start. */
static void await_msg(int sync_fd, const char *msg)
{
	char buf[16];
	ssize_t n = recv(sync_fd, buf, sizeof(buf), 0);

	if (n != (ssize_t)strlen(msg) || memcmp(buf, msg, (size_t)n) != 0)
		_exit(1);
}

int rt_child_main(struct rt_child_args *a)
{
	const struct vs_container_config *cfg = a->cfg;
	struct vs_error err = {0};
	cleanup_free char *rootfs = xasprintf("%s/rootfs", a->paths->cdir);
	int slave, hostroot, console, own_time;
	struct stat cst, sst;
	struct rt_views views;

	await_msg(a->sync_fd, MSG_GO);
	vs_trace_mark("child.go");
	if (unshare(CLONE_NEWNS | CLONE_NEWCGROUP) < 0) {
		vs_error_set(&err, errno, "unshare mount and cgroup namespaces");
		child_fail(a->sync_fd, &err);
	}
	own_time = rt_timens_enter_own(a->time_zero, &err);
	if (own_time < 0)
		child_fail(a->sync_fd, &err);
	if (sethostname(cfg->hostname, strlen(cfg->hostname)) < 0) {
		vs_error_set(&err, errno, "sethostname");
		child_fail(a->sync_fd, &err);
	}
	if (vs_net_loopback_up(&err) < 0)
		child_fail(a->sync_fd, &err);
	/* Open the root and the console while still the host's uid: the
	 * daemon's directories are 0700 root, out of reach for the
	 * container's root. The console path must still be our pty. */
	hostroot = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	console = open(a->console->slave_path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (hostroot < 0 || console < 0 || fstat(console, &cst) < 0 ||
	    fstat(a->console->slave, &sst) < 0 || cst.st_rdev != sst.st_rdev) {
		vs_error_set(&err, errno ? errno : EIO, "open the container root and console");
		child_fail(a->sync_fd, &err);
	}
	/* The lxcfs files too: its mount is under the run dir, and a bind
	 * source must be a mount of this (new) namespace. */
	vs_trace_mark("child.namespaces");
	if (rt_views_open(a->views, own_time > 0, &views, &err) < 0)
		child_fail(a->sync_fd, &err);
	/* Files we create from here on (in /dev) must belong to container root. */
	if (become_root(cfg, &err) < 0)
		child_fail(a->sync_fd, &err);
	if (rt_setup_rootfs(cfg, hostroot, console, &views, &err) < 0)
		child_fail(a->sync_fd, &err);
	vs_trace_mark("child.rootfs");
	/* Inside the new root, as the container's root: its own files. */
	if ((cfg->net.nifaces > 0 || cfg->net.nnameservers > 0) &&
	    vs_net_write_dns(&cfg->net, cfg->hostname, &err) < 0)
		child_fail(a->sync_fd, &err);
	close(hostroot);
	close(console);
	rt_views_close(&views);
	/* Init's stdio is the console as the container sees it (/dev/console,
	 * our bind mount, nothing of the container's has run yet), so its
	 * /proc/1/fd/ names no host path. */
	slave = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0 || fstat(slave, &cst) < 0 || cst.st_rdev != sst.st_rdev) {
		vs_error_set(&err, errno ? errno : EIO, "open /dev/console");
		child_fail(a->sync_fd, &err);
	}
	close(a->console->slave);
	if (setsid() < 0 || dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0 ||
	    ioctl(0, TIOCSCTTY, 0) < 0) {
		vs_error_set(&err, errno, "make the console init's terminal");
		child_fail(a->sync_fd, &err);
	}
	vs_trace_mark("child.console");
	/* The monitor attached the network meanwhile: init starts with its
	 * interfaces there, as on a machine that boots. */
	await_msg(a->sync_fd, MSG_NET);
	vs_trace_mark("child.network-ready");
	if (rt_caps_apply(&err) < 0 || rt_seccomp_apply(&err) < 0)
		child_fail(a->sync_fd, &err);
	vs_trace_mark("child.caps-seccomp");
	rt_reset_signals();
	exec_init(cfg, a->sync_fd, &err);
	child_fail(a->sync_fd, &err);
	return 1;
}

static int write_maps(pid_t pid, const struct vs_container_config *cfg, struct vs_error *err)
{
	char path[64], map[64];

	snprintf(map, sizeof(map), "0 %u %u\n", cfg->idmap_uid, cfg->idmap_size);
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	if (vs_write_string_at(AT_FDCWD, path, map, err) < 0)
		return -1;
	snprintf(map, sizeof(map), "0 %u %u\n", cfg->idmap_gid, cfg->idmap_size);
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	return vs_write_string_at(AT_FDCWD, path, map, err);
}

/* Wait for the child's verdict: EOF (the sync socket closed at exec) or
 * an error message. */
static int await_exec(int sync_fd, struct vs_error *err)
{
	char buf[VS_ERROR_WIRE_MAX];
	struct pollfd p = {.fd = sync_fd, .events = POLLIN};
	ssize_t n;

	if (poll(&p, 1, 60000) == 0)
		return vs_error_set(err, ETIMEDOUT, "container setup did not finish");
	n = recv(sync_fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return vs_error_set(err, errno, "read from container setup");
	if (n == 0)
		return 0;
	buf[n] = '\0';
	if (vs_error_decode(buf, err) < 0)
		return -1;
	return vs_error_set(err, EPROTO, "unexpected message from container setup");
}

/* init is created inside the container's cgroup2 directory (and joins the
 * v1 hierarchies itself, first thing): see cgroups/join.c for why it is not
 * moved there from outside. */
static pid_t clone_init(const struct vs_container_config *cfg, const struct vs_cg_join *join,
			int *pidfd, struct vs_error *err)
{
	struct clone_args ca = {0};
	pid_t pid;

	ca.flags = CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_PIDFD;
	if (!cfg->privileged)
		ca.flags |= CLONE_NEWUSER;
	if (join->v2_dir >= 0) {
		ca.flags |= CLONE_INTO_CGROUP;
		ca.cgroup = (uint64_t)join->v2_dir;
	}
	ca.pidfd = (uint64_t)(uintptr_t)pidfd;
	ca.exit_signal = SIGCHLD;
	pid = vs_clone3(&ca, sizeof(ca));
	if (pid < 0)
		return vs_error_set(err, errno, "clone3 of the container's init");
	return pid;
}

static int prepare_child(pid_t pid, const struct vs_container_config *cfg,
			 const struct rt_paths *paths, struct vs_error *err)
{
	cleanup_close int userns = -1;
	char nspath[64];

	if (!cfg->privileged && write_maps(pid, cfg, err) < 0)
		return vs_error_prefix(err, "write id maps");
	if (!cfg->privileged) {
		snprintf(nspath, sizeof(nspath), "/proc/%d/ns/user", (int)pid);
		userns = open(nspath, O_RDONLY | O_CLOEXEC);
		if (userns < 0)
			return vs_error_set(err, errno, "open %s", nspath);
	}
	return vs_fs_rootfs_mount(paths->tmpl, paths->cdir, userns, err);
}

/* A privileged container's root could mknod any device: the devices
 * controller (v1) or a BPF device program (v2) keeps it to the usual
 * nodes. A host with neither gets a warning in the monitor's log. */
int rt_restrict_devices(struct vs_cg *cg, struct vs_error *err)
{
	struct vs_error e = {0};

	if (vs_cg_restrict_devices(cg, &e) == 0)
		return 0;
	if (e.kind == VS_EK_UNSUPPORTED) {
		fprintf(stderr,
			"vsd-monitor: privileged container without device restriction: %s\n",
			e.msg);
		return 0;
	}
	*err = e;
	return -1;
}

struct vs_cg *rt_cg_for_start(const struct vs_rt_instance *inst,
			      const struct vs_container_config *cfg, const struct rt_paths *paths,
			      struct vs_error *err)
{
	struct vs_cg *cg = vs_cg_open_pool(inst->cg, inst->cgroup_parent, cfg->pool, cfg->name);
	cleanup_free char *layer = vs_fs_layer_dir(paths->cdir);
	const char *io[3] = {paths->cdir, paths->tmpl, layer};
	struct stat st;

	if (cg == NULL) {
		vs_error_kind(err, VS_EK_INVALID, "pool '%s': not a valid name", cfg->pool);
		return NULL;
	}
	/* The upper layer may sit on a filesystem of its own (the disk quota's
	 * loop-mounted image); the template on another disk again. */
	if (vs_cg_set_io_paths(cg, io, stat(layer, &st) == 0 ? 3 : 2, err) < 0) {
		vs_cg_free(cg);
		return NULL;
	}
	return cg;
}

struct vs_cg *vs_rt_cg_open(const struct vs_rt_instance *inst,
			    const struct vs_container_config *cfg, struct vs_error *err)
{
	struct rt_paths paths;

	rt_paths_init(&paths, inst->root, inst->run_dir, cfg);
	return rt_cg_for_start(inst, cfg, &paths, err);
}

int vs_rt_move_pool(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		    struct vs_error *err)
{
	struct rt_paths paths;
	cleanup_free char *layer = NULL;
	const char *io[3];
	struct stat st;

	rt_paths_init(&paths, inst->root, inst->run_dir, cfg);
	layer = vs_fs_layer_dir(paths.cdir);
	io[0] = paths.cdir;
	io[1] = paths.tmpl;
	io[2] = layer;
	return vs_cg_move_pool(inst->cg, inst->cgroup_parent, cfg->name, cfg->pool,
			       cfg->privileged ? (uid_t)-1 : cfg->idmap_uid,
			       cfg->privileged ? (gid_t)-1 : cfg->idmap_gid, &cfg->limits, io,
			       stat(layer, &st) == 0 ? 3 : 2, err);
}

int rt_container_start(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		       struct rt_running *out, struct vs_error *err)
{
	struct rt_paths paths;
	struct rt_console con = {.master = -1, .slave = -1};
	struct vs_cg *cg = NULL;
	int sv[2] = {-1, -1};
	struct vs_cg_join join = {.v2_dir = -1};
	struct rt_time_zero zero;
	cleanup_free char *views = vs_rt_views_dir(inst->run_dir);
	int pidfd = -1;
	pid_t pid = -1;

	rt_paths_init(&paths, inst->root, inst->run_dir, cfg);
	/* vsd started lxcfs before asking for the start; if it is not serving
	 * now the container still starts, with the host's /proc files (vsd
	 * has logged why; the node info says views are inactive). */
	if (!rt_views_ready(views)) {
		fprintf(stderr, "vsd-monitor: %s: no in-container views (lxcfs not serving %s)\n",
			cfg->name, views);
		free(views);
		views = NULL;
	}
	vs_trace_mark("start.views-checked");
	if ((cg = rt_cg_for_start(inst, cfg, &paths, err)) == NULL)
		goto fail;
	if (vs_cg_create(cg, cfg->privileged ? (uid_t)-1 : cfg->idmap_uid,
			 cfg->privileged ? (gid_t)-1 : cfg->idmap_gid, err) < 0 ||
	    vs_cg_apply(cg, &cfg->limits, err) < 0)
		goto fail;
	if (cfg->privileged && rt_restrict_devices(cg, err) < 0)
		goto fail;
	vs_trace_mark("start.cgroups");
	if (rt_console_create(paths.rundir, cfg, &con, err) < 0)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		vs_error_set(err, errno, "socketpair");
		goto fail;
	}
	if (vs_cg_join_open(cg, &join, err) < 0)
		goto fail;
	vs_trace_mark("start.console");
	rt_time_zero_now(&zero);
	pid = clone_init(cfg, &join, &pidfd, err);
	if (pid < 0)
		goto fail;
	if (pid == 0) {
		struct rt_child_args a = {.cfg = cfg,
					  .paths = &paths,
					  .sync_fd = sv[1],
					  .console = &con,
					  .views = views,
					  .time_zero = &zero};
		if (vs_cg_join_self(&join) < 0) {
			struct vs_error e = {0};
			vs_error_set(&e, errno, "join the container's cgroups");
			child_fail(sv[1], &e);
		}
		vs_cg_join_close(&join);
		close(sv[0]);
		close(con.master);
		_exit(rt_child_main(&a));
	}
	close(sv[1]);
	sv[1] = -1;
	vs_cg_join_close(&join);
	vs_trace_mark("start.clone");
	if (prepare_child(pid, cfg, &paths, err) < 0)
		goto fail;
	vs_trace_mark("start.idmaps");
	/* The child sets up its mounts while we attach its network (both
	 * take milliseconds; the machine has more than one core), and waits
	 * for the second message before it executes init. */
	if (send(sv[0], MSG_GO, strlen(MSG_GO), MSG_NOSIGNAL) < 0) {
		vs_error_set(err, errno, "start container setup");
		goto fail;
	}
	if (rt_net_attach(inst, cfg, pid, false, err) < 0)
		goto fail;
	vs_trace_mark("start.network");
	if (send(sv[0], MSG_NET, strlen(MSG_NET), MSG_NOSIGNAL) < 0) {
		/* The child gave up meanwhile: its message says why. */
		if (await_exec(sv[0], err) == 0)
			vs_error_set(err, EPIPE, "container setup ended before init");
		goto fail;
	}
	if (await_exec(sv[0], err) < 0)
		goto fail;
	vs_trace_mark("start.init-execd");
	close(sv[0]);
	close(con.slave);
	vs_cg_free(cg);
	out->pid = pid;
	out->pidfd = pidfd;
	out->console = con.master;
	return 0;
fail:
	vs_cg_join_close(&join);
	if (pidfd >= 0) {
		siginfo_t si;
		vs_pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
		waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
		close(pidfd);
	}
	for (int i = 0; i < 2; i++)
		if (sv[i] >= 0)
			close(sv[i]);
	if (con.master >= 0)
		close(con.master);
	if (con.slave >= 0)
		close(con.slave);
	vs_cg_free(cg);
	rt_container_cleanup(inst, cfg, false, NULL);
	return -1;
}

int rt_net_arg(struct vs_net_node *net, const char *opt, const char *val, struct vs_error *err)
{
	if (strcmp(opt, "--net-id") == 0) {
		unsigned id;
		if (strlen(val) != 4 || sscanf(val, "%4x", &id) != 1)
			return vs_error_set(err, EINVAL, "--net-id: '%s' is not 4 hex digits", val);
		vs_net_node_set_id(net, id);
		return 1;
	}
	if (strcmp(opt, "--uplink") != 0 && strcmp(opt, "--private-bridge") != 0)
		return 0;
	if (vs_validate_ifname(val, opt, err) < 0)
		return -1;
	if (strcmp(opt, "--uplink") == 0)
		snprintf(net->uplink, sizeof(net->uplink), "%s", val);
	else if (net->nprivate < VS_NET_POOLS_MAX)
		snprintf(net->private_bridges[net->nprivate++], VS_IFNAME_MAX + 1, "%s", val);
	return 1;
}

/* The network namespace of pid: the descriptor, or -1 with err. */
static int open_netns(pid_t pid, struct vs_error *err)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd >= 0 ? fd : vs_error_set(err, errno, "open %s", path);
}

int rt_net_attach(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		  pid_t pid, bool restored, struct vs_error *err)
{
	cleanup_close int fd = -1;

	if (cfg->net.nifaces == 0)
		return 0;
	if (inst->net == NULL)
		return vs_error_set(err, EINVAL, "network of '%s': no node network settings",
				    cfg->name);
	if ((fd = open_netns(pid, err)) < 0)
		return -1;
	if (restored)
		return vs_net_restored(inst->net, &cfg->net, fd, err);
	return vs_net_attach(inst->net, &cfg->net, fd, err);
}

void rt_net_announce(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		     pid_t pid)
{
	struct vs_error e = {0};
	cleanup_close int fd = -1;

	if (cfg->net.nifaces == 0 || inst->net == NULL)
		return;
	if ((fd = open_netns(pid, &e)) < 0 || vs_net_announce(inst->net, &cfg->net, fd, &e) < 0)
		fprintf(stderr, "vsd-monitor: %s: %s\n", cfg->name, e.msg);
}

int rt_container_cleanup(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
			 bool suspended, struct vs_error *err)
{
	struct rt_paths paths;
	struct vs_cg *cg = vs_cg_open(inst->cg, inst->cgroup_parent, cfg->name);
	int r = 0;

	rt_paths_init(&paths, inst->root, inst->run_dir, cfg);
	/* Processes that outlived init (a privileged container's setns'd
	 * helpers, say) must go before the cgroup can. */
	if (!vs_cg_is_empty(cg) && vs_cg_kill_all(cg, err) < 0)
		r = -1;
	if (vs_fs_rootfs_umount(paths.cdir, r < 0 ? NULL : err) < 0)
		r = -1;
	vs_trace_mark("stop.rootfs-unmounted");
	if (vs_cg_destroy(cg, r < 0 ? NULL : err) < 0)
		r = -1;
	vs_trace_mark("stop.cgroups-removed");
	if (cfg->net.nifaces > 0 && inst->net != NULL &&
	    vs_net_detach(inst->net, &cfg->net, suspended, r < 0 ? NULL : err) < 0)
		r = -1;
	rt_console_destroy(paths.rundir);
	vs_cg_free(cg);
	return r;
}
