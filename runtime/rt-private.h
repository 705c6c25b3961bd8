/* Private to runtime/: shared between the monitor, the container child,
 * the exec helper and the daemon-side calls. */
#ifndef VS_RT_PRIVATE_H
#define VS_RT_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "fs-cow/vs_fs.h"
#include "lib/vs_config.h"
#include "lib/vs_error.h"
#include "runtime/vs_runtime.h"

/* Per-container places. */
struct rt_paths {
	char cdir[4096];   /* root/containers/NAME */
	char rundir[2048]; /* run_dir/containers/NAME */
	char sock[4096];   /* rundir/monitor.sock */
	char tmpl[4096];   /* root/templates/TEMPLATE/rootfs */
};
void rt_paths_init(struct rt_paths *p, const char *root, const char *run_dir,
		   const struct vs_container_config *cfg);

/* The handle where a starting (or restored) container's cgroup goes: in
 * its pool, with the I/O limits aimed at the disks of its directory, its
 * upper layer and its template. NULL with err on a bad pool name or a path
 * that cannot be stat'ed. */
struct vs_cg *rt_cg_for_start(const struct vs_rt_instance *inst,
			      const struct vs_container_config *cfg, const struct rt_paths *paths,
			      struct vs_error *err);

/* What state.json says. */
struct rt_state {
	char state[16]; /* "running" | "stopped" | "starting" */
	pid_t init_pid;
	uint64_t init_start_time; /* /proc/PID/stat field 22 */
	pid_t monitor_pid;
	uint64_t monitor_start_time;
	int64_t started_at;
	int last_exit_code; /* -1 none */
	int last_exit_signal;
};
int rt_state_read(const char *cdir, struct rt_state *st, struct vs_error *err);
/* prev: the state st replaces (the caller's last write or read), or NULL
 * to read it from the file: into or out of "suspended" the write is
 * fsync'ed, the others are not. */
int rt_state_write(const char *cdir, const struct rt_state *st, const char *prev,
		   struct vs_error *err);

/* Start time of a live pid (clock ticks since boot), 0 when gone. */
uint64_t rt_proc_start_time(pid_t pid);
/* True when pid is alive and its start time equals start_time. */
bool rt_proc_matches(pid_t pid, uint64_t start_time);

/* Signals back to defaults and an empty mask: dispositions set by vsd or
 * the monitor (SIGPIPE ignored) must not leak into the container. */
void rt_reset_signals(void);

/* Security policy applied to init and to exec'd processes. */
int rt_caps_apply(struct vs_error *err);
/* The capabilities rt_caps_apply leaves (a bit per capability): every one
 * the kernel knows, minus those vsd drops from the bounding set. */
uint64_t rt_caps_bound(void);
int rt_seccomp_apply(struct vs_error *err);
/* Compile the seccomp filter once, so that rt_seccomp_apply in this
 * process and its forks only loads it (the zygote does this first). */
int rt_seccomp_prepare(struct vs_error *err);

/* The host's cgroup layout for a monitor or an exec helper: the one the
 * zygote detected once at its start when this process is its fork (the
 * first call takes it; the caller frees it), else detected now. The
 * detection reads the mount table and the controllers' files: about 1 ms
 * here, 2.5 ms with 900 mounts, once per start and per exec otherwise.
 * The zygote lives as long as its daemon, whose own layout is detected
 * once at its start too. */
int rt_cg_host_take(struct vs_cg_host **out, struct vs_error *err);

/* The container child: builds the container's world and execs init.
 * Runs in the cloned process; never returns on success. */
struct rt_child_args {
	const struct vs_container_config *cfg;
	const struct rt_paths *paths;
	int sync_fd; /* SOCK_SEQPACKET to the monitor */
	const struct rt_console *console;
	const char *views;		      /* lxcfs mount point, NULL: no views */
	const struct rt_time_zero *time_zero; /* read just before the clone */
};
int rt_child_main(struct rt_child_args *a);

/* The console pty (see console.c). */
struct rt_console {
	int master;
	int slave;
	char dir[2100];	       /* rundir/console: the devpts mount */
	char slave_path[2200]; /* dir/N */
};
int rt_console_create(const char *rundir, const struct vs_container_config *cfg,
		      struct rt_console *out, struct vs_error *err);
/* Create run_dir/containers/NAME (rundir) with search permission for all
 * on the way (see console.c). 0 or -1. */
int rt_rundir_prepare(const char *run_dir, const char *rundir, struct vs_error *err);
/* Unmount the console devpts (fine if absent). */
void rt_console_destroy(const char *rundir);

/* Mount setup inside the new mount namespace, then pivot_root. hostroot is
 * an O_PATH fd of the merged root on the host, opened in this namespace;
 * console_src an O_PATH fd of the console pty slave in this namespace
 * (bind-mounted on /dev/console); views the lxcfs files (bound read-only
 * over /proc and /sys files; -1 entries are skipped). On return the root is the container's. */
struct rt_views;
int rt_setup_rootfs(const struct vs_container_config *cfg, int hostroot, int console_src,
		    const struct rt_views *views, struct vs_error *err);

/* Monitor-side: start the container (cgroups, maps, mounts, clone, wait for
 * exec). Returns init's pid and a pidfd, and the console master. On failure
 * everything is undone. */
struct rt_running {
	pid_t pid;
	int pidfd;
	int console;
};
int rt_container_start(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		       struct rt_running *out, struct vs_error *err);
/* Privileged containers: only the usual device nodes (container.c). */
int rt_restrict_devices(struct vs_cg *cg, struct vs_error *err);

/* Undo mounts, cgroups and the node side of the network of a container
 * whose processes are gone (kills leftovers first). suspended: it stays
 * suspended, so its addresses keep their standby routes. Idempotent. */
int rt_container_cleanup(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
			 bool suspended, struct vs_error *err);

/* A monitor argument pair of the node's networking (--net-id ID,
 * --uplink IF, --private-bridge B) into *net: 1 taken, 0 not one of
 * them, -1 invalid (err). */
int rt_net_arg(struct vs_net_node *net, const char *opt, const char *val, struct vs_error *err);

/* Wire the network of the container whose init is pid (vs_net_attach on
 * its namespace), or after a restore re-apply the node side
 * (vs_net_restored). Nothing to do without interfaces. 0 or -1. */
int rt_net_attach(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		  pid_t pid, bool restored, struct vs_error *err);
/* Announce the addresses of the running container whose init is pid
 * (vs_net_announce, one copy). A failure is only logged (the monitor's
 * log): the container runs, and the LAN learns on its own later. */
void rt_net_announce(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		     pid_t pid);

/* Start the vsd binary (self_exe_fd, or /proc/self/exe when -1) with
 * argv, the posix_spawn way (the child shares our memory until it
 * executes); keep_fds[i] becomes fd 3+i in the child, stdin/stdout/stderr
 * from stdio[3] (-1: /dev/null). With detach, the mode started leaves our
 * process tree by itself (setsid and fork, as the monitor does first) and
 * its first process exits: the returned pid is that one, already reaped.
 * Returns pid or -1 with err. */
pid_t rt_spawn_self(int self_exe_fd, char *const argv[], const int stdio[3], const int *keep_fds,
		    int nkeep, bool detach, struct vs_error *err);

/* In a new child (after fork or vfork, before exec): src[i] becomes
 * descriptor i for i < n (at most RT_PLACE_MAX); every copy is
 * close-on-exec except the placed ones. Lifts them all above the target
 * range first, so the moves cannot clobber one another. Async-signal-safe.
 * 0, or -1 (the child should _exit). */
#define RT_PLACE_MAX 16
int rt_place_fds(const int *src, int n);

/* exec.c, shared with creds.c (helpers that enter a running container):
 * a pidfd of the container's init, checked to still be init (pid + start
 * time from state.json), or -1 with VS_EK_CONFLICT when it is not
 * running; the helper's first message to vsd on fd 3: "ok" (+ an fd) or
 * an error (vs_error_send; rt_helper_fail sends it and returns 1, the
 * helper's exit code); rt_helper_verdict reads it on vsd's side (30 s at
 * most): 0 (*fd set when one came), or -1 with the helper's error. */
int rt_open_init(const char *root, const char *name, pid_t *pid, struct vs_error *err);
int rt_helper_fail(const struct vs_error *err);
int rt_helper_verdict(int sock, int *fd, struct vs_error *err);

/* Fork a monitor or an exec helper (argv[1] "__monitor" or "__exec") from
 * the zygote (zygote.c), started from self_exe_fd on first use;
 * descriptors as in rt_spawn_self (at most 5 kept). Returns the pid (the
 * zygote's child, not ours to wait for) or -1 with err, and then the
 * caller starts the mode the old way. */
pid_t rt_zygote_spawn(int self_exe_fd, char *const argv[], const int stdio[3], const int *keep,
		      int nkeep, struct vs_error *err);

/* Start program argv[0] (absolute path) detached like the monitor (own
 * session, reparented away from us, so it outlives vsd), stdio as in
 * rt_spawn_self, no other descriptor. 0 or -1 with err. */
int rt_spawn_program(char *const argv[], const int stdio[3], struct vs_error *err);

/* In-container views (views.c): the lxcfs files bound over their /proc
 * and /sys counterparts, relative to the lxcfs mount and the root. */
#define RT_VIEW_FILES 8
extern const char *const rt_view_files[RT_VIEW_FILES + 1];
/* Index of path ("proc/meminfo") in rt_view_files, or -1. */
int rt_view_index(const char *path);
/* True when mnt is a fuse.lxcfs mount that answers a read. */
bool rt_views_ready(const char *mnt);
/* O_PATH fds of the view files under mnt, opened in the calling mount
 * namespace (bind sources must be mounts of the namespace they are cloned
 * in). mnt NULL: all -1 (no views). With own_time (the container has its
 * own time namespace, whose kernel /proc/uptime is right and survives a
 * restore) proc/uptime is left -1. 0 or -1 with err (all closed). */
struct rt_views {
	int fd[RT_VIEW_FILES];
};
int rt_views_open(const char *mnt, bool own_time, struct rt_views *v, struct vs_error *err);

/* The container's time namespace (timens.c). rt_time_zero_now reads the
 * host's CLOCK_MONOTONIC and CLOCK_BOOTTIME: the moment the container's
 * clocks start from; the monitor reads it just before cloning init. In the
 * container's child, after its id maps are written, rt_timens_enter_own
 * makes a time namespace owned by its user namespace whose two clocks
 * were zero at z, and enters it. Returns 1 when it did, 0 on a kernel
 * without time namespaces (nothing changed), -1 with err. */
struct rt_time_zero {
	struct timespec mono, boot;
};
void rt_time_zero_now(struct rt_time_zero *z);
int rt_timens_enter_own(const struct rt_time_zero *z, struct vs_error *err);
/* The timens_offsets text that sets both clocks to zero when the host's
 * read mono and boot (both >= 0). Length written, or -1 (bad input, or len
 * too small). Pure: exported for the unit tests. */
int rt_timens_offsets_text(const struct timespec *mono, const struct timespec *boot, char *buf,
			   size_t len);
void rt_views_close(struct rt_views *v);

/* Connect to a monitor's control socket. Returns the fd or -1 with err
 * (errnum ECONNREFUSED/ENOENT when no monitor listens). */
int rt_monitor_connect(const char *sock_path, struct vs_error *err);

/* Building an argv (the monitor's, criu's); spawn.c. */
struct rt_argv {
	char **v;
	size_t n, cap;
};
void rt_argv_add(struct rt_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rt_argv_free(struct rt_argv *a);

#endif
