/* vs_runtime: running containers.
 *
 * Process model. `vs_rt_start` spawns a per-container monitor: the vsd
 * binary re-executed (from a sealed memfd copy, see vs_rt_self_exe) as
 * `vsd __monitor ...`, double-forked so it is not vsd's child and survives
 * vsd stopping, crashing or being upgraded. The monitor:
 *   - creates the container's cgroups and applies limits,
 *   - mounts the root (id-mapped template under overlay) on the host,
 *   - clones init into new user, mount, pid, uts, ipc, net and cgroup
 *     namespaces, writes its id maps, and lets it build its world (mounts,
 *     /dev, console pty, pivot_root, capabilities, seccomp) and exec init,
 *   - is init's parent: reaps it, records its exit in state.json, holds the
 *     console pty master (draining it to console.log while nobody is
 *     attached), restarts the container when init asked for a reboot,
 *   - serves a SOCK_SEQPACKET control socket (run-dir/containers/NAME/
 *     monitor.sock) that vsd connects to, also after a vsd restart,
 *   - on init's exit tears down mounts and cgroups and exits.
 * `vs_rt_exec` runs a command inside a running container through a helper
 * (`vsd __exec ...`) that joins its namespaces and cgroup.
 *
 * Files under run-dir/containers/NAME/: monitor.sock, console.log.
 * Files under root/containers/NAME/: state.json (written by the monitor,
 * atomically): {"state":"running","init_pid":N,"init_start_time":T,
 * "monitor_pid":M,"started_at":S} or {"state":"stopped","last_exit":{...}}.
 */
#ifndef VS_RUNTIME_H
#define VS_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroups/vs_cgroups.h"
#include "lib/vs_config.h"
#include "lib/vs_error.h"
#include "migrate/vs_migrate.h"
#include "netns/vs_netns.h"

/* One vsd instance's places. Filled by the daemon at start. */
struct vs_rt_instance {
	const char *root;	   /* --root, e.g. /var/lib/vsd */
	const char *run_dir;	   /* --run-dir, e.g. /run/vsd */
	const char *cgroup_parent; /* instance subtree name, e.g. "vsd" */
	struct vs_cg_host *cg;	   /* detected host cgroup layout */
	int self_exe_fd;	   /* sealed memfd copy of the vsd binary, or -1 */
	const char *criu_path;	   /* criu program for checkpoint/restore, or NULL */
	/* The node's networking (vsd --uplink, ...); the monitor gets it as
	 * arguments. Never NULL once the daemon or monitor has started. */
	const struct vs_net_node *net;
};

enum vs_rt_state {
	VS_RT_STOPPED,
	VS_RT_STARTING,
	VS_RT_RUNNING,
	VS_RT_STOPPING,
	VS_RT_SUSPENDED, /* checkpointed to its image and not running */
};
const char *vs_rt_state_name(enum vs_rt_state s);

struct vs_rt_status {
	enum vs_rt_state state;
	pid_t init_pid;	      /* host pid of init while running, else 0 */
	pid_t monitor_pid;    /* 0 if none */
	int64_t started_at;   /* unix seconds, 0 if stopped */
	bool monitor_alive;   /* false when init runs but the monitor is gone */
	int last_exit_code;   /* -1 unknown */
	int last_exit_signal; /* 0 none */
};

/* Make a sealed memfd copy of the program that runs the monitor and exec
 * modes: vsd-helper beside the vsd binary (or in ../libexec/vsd/), else
 * vsd itself (CVE-2019-5736: a process that joins a container can then not
 * be used to overwrite a binary on disk through /proc/PID/exe). Returns the
 * fd or -1 with err. */
int vs_rt_self_exe(struct vs_error *err);

/* In-container views (runtime/views.c): one lxcfs per vsd instance,
 * mounted at RUN_DIR/lxcfs, pid in RUN_DIR/lxcfs.pid, log in
 * RUN_DIR/lxcfs.log. Its files are bound over /proc/{cpuinfo,diskstats,
 * loadavg,meminfo,stat,swaps,uptime} and /sys/devices/system/cpu/online in
 * every container started while it serves. */
#define VS_RT_LXCFS "/usr/bin/lxcfs"

/* The lxcfs mount point of an instance (realpath of run_dir + "/lxcfs");
 * the caller frees it. */
char *vs_rt_views_dir(const char *run_dir);

/* Make sure this instance's lxcfs serves: keep one that answers a read of
 * proc/uptime; else kill our stale one (pidfile pid whose command line
 * names our mount point), detach a dead fuse.lxcfs mount at our mount point
 * (nothing else), and start a new one detached (own session, survives vsd)
 * and wait up to 5 s for it. *pid (may be NULL) gets its pid, 0 if unknown.
 * Returns 0, or -1 with err (VS_EK_UNSUPPORTED when lxcfs is not
 * installed). Containers start without views when this fails. */
int vs_rt_views_ensure(const char *run_dir, pid_t *pid, struct vs_error *err);

/* Start container `cfg->name` (config already on disk, template present).
 * Spawns the monitor and waits until init has been exec'd or setup failed;
 * on failure everything the attempt made is undone and err says why
 * (VS_EK_CONFLICT when already running). 0 or -1. */
int vs_rt_start(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		struct vs_error *err);

/* Stop: send init cfg->stop_signal (unless force), SIGKILL the container
 * after timeout_s seconds, wait until the monitor has cleaned up. The
 * timeout is enforced by the monitor, so a vsd dying mid-stop still gets
 * the container stopped. VS_EK_CONFLICT when not running. 0 or -1. */
int vs_rt_stop(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
	       int timeout_s, bool force, struct vs_error *err);

/* The truth about a container, from state.json checked against the live
 * processes (pid + start time, so a recycled pid is not mistaken). */
int vs_rt_status(const struct vs_rt_instance *inst, const char *name, struct vs_rt_status *st,
		 struct vs_error *err);

/* The container's cgroup handle as a start makes it: in its pool, with the
 * I/O limits aimed at the devices of its directory, own layer and
 * template; for live limit changes. NULL with err. */
struct vs_cg *vs_rt_cg_open(const struct vs_rt_instance *inst,
			    const struct vs_container_config *cfg, struct vs_error *err);

/* Move the running container into cfg->pool with cfg's limits (see
 * vs_cg_move_pool: live on hybrid hosts, VS_EK_CONFLICT on unified ones).
 * 0 or -1 with err. */
int vs_rt_move_pool(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		    struct vs_error *err);

/* The network namespace of a running container's init, for live address
 * changes (O_CLOEXEC fd; the pid is checked against state.json's start
 * time while a pidfd holds it). VS_EK_CONFLICT when not running. fd or
 * -1 with err. */
int vs_rt_netns_open(const struct vs_rt_instance *inst, const char *name, struct vs_error *err);

/* After a vsd restart or crash: for a container that is not running, undo
 * anything a dead monitor left (mounts, cgroups, stale state). 0 or -1. */
int vs_rt_recover(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		  struct vs_error *err);

/* exec. The caller gets descriptors to hand to the client and a session to
 * wait on. With tty, fds[0] is the master of a pty allocated in the
 * container's own devpts (so nothing of the host's terminals reaches the
 * container); without, fds[0..2] are the client ends of pipes for stdin,
 * stdout and stderr. */
struct vs_rt_exec_req {
	char **argv; /* NULL-terminated; NULL means a login shell */
	char **env;  /* extra KEY=VALUE, NULL-terminated, may be NULL */
	bool tty;
	unsigned short rows, cols;
	const char *cwd; /* inside the container, default "/" (or $HOME for login) */
};
struct vs_rt_exec;
int vs_rt_exec_start(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		     const struct vs_rt_exec_req *req, struct vs_rt_exec **out, int fds[3],
		     int *nfds, struct vs_error *err);
/* Wait for the command; *status is its exit code, or 128+signal. */
int vs_rt_exec_wait(struct vs_rt_exec *ex, int *status, struct vs_error *err);
void vs_rt_exec_free(struct vs_rt_exec *ex);

/* Console: a dup of the console pty master for an attached client. While
 * the returned hold_fd stays open, the monitor stops draining the console
 * (so client and monitor do not split the output); close it to detach. */
int vs_rt_console_attach(const struct vs_rt_instance *inst, const char *name, int *master_fd,
			 int *hold_fd, struct vs_error *err);

/* Checkpoint / restore with CRIU (see migrate/checkpoint.c).
 *
 * The image of `suspend` lives in root/containers/NAME/checkpoint/ and is
 * removed with the container or after a successful resume; `checkpoint`
 * and `restore` take an operator-given directory that vsd never removes.
 * Phases are separate steps (freeze, dump, kill or thaw; mount, restore,
 * adopt) so live migration can put a transfer between them. */
/* An image directory written by `checkpoint` (not the own suspend image)
 * also holds DIR/layer: the container's upper layer as it was at the
 * dump (copied while running, the rest while frozen at criu's post-dump).
 * vs_rt_restore from such a directory first puts that layer back
 * (vs_fs_layer_put_back), so the disk is the checkpoint's again: a
 * checkpoint is a snapshot with memory. A restore that fails after that
 * leaves the container stopped with the checkpoint's layer. */
#define VS_RT_LAYER_DIR VS_MIG_LAYER_SUBDIR
/* containers/NAME/VS_RT_ROUNDS_DIR/K: memory pre-copy round K's CRIU
 * files on the source (vs_rt_predump_pages). */
#define VS_RT_ROUNDS_DIR "precopy"

struct vs_rt_cr_result {
	int64_t frozen_ms;   /* checkpoint: container frozen (freeze .. thaw/kill) */
	int64_t criu_ms;     /* time spent in the criu program */
	int64_t total_ms;    /* the whole operation */
	int64_t image_bytes; /* size of the image directory */
};
typedef void (*vs_rt_progress_fn)(void *ud, const char *line);

/* Checkpoint a running container into dir (NULL: its own suspend image).
 * leave_running: thaw it afterwards; otherwise it is stopped once the
 * image is complete (state "suspended" when dir is NULL, else "stopped").
 * On failure the container is thawed and running exactly as before, and a
 * partial image is removed. netlock: CRIU's `--network-lock` method
 * ("nftables", "iptables"), NULL for CRIU's default; the image records it
 * and a restore uses it. VS_EK_CONFLICT when not running,
 * VS_EK_UNSUPPORTED without a usable criu. 0 or -1. */
int vs_rt_checkpoint(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		     const char *dir, bool leave_running, const char *netlock,
		     vs_rt_progress_fn progress, void *ud, struct vs_rt_cr_result *res,
		     struct vs_error *err);

/* The live migration's dump (docs/migration.md, "Pages"): into the own
 * suspend image, but the memory pages go, while criu dumps, to the page
 * server at the other end of ps_fd (a connected socket, passed to the
 * monitor; the caller keeps and closes its copy). On success the
 * container is *held*: its tasks are alive and frozen, its node sides
 * down, its image (without pages) in containers/NAME/checkpoint, its
 * state still "running"; a stop (vs_rt_stop, destroy) kills it while
 * frozen, vs_rt_release_held thaws it. On failure it is thawed and runs as
 * before. Errors as vs_rt_checkpoint. 0 or -1. */
int vs_rt_checkpoint_pages(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
			   int ps_fd, unsigned rounds, const char *netlock,
			   vs_rt_progress_fn progress, void *ud, struct vs_rt_cr_result *res,
			   struct vs_error *err);

/* Memory pre-copy round `round` (1, 2, ...; at most VS_MIG_ROUNDS_MAX) of
 * a running container: `criu pre-dump --track-mem` (the kernel's
 * soft-dirty tracking) sends the pages dirtied since the round before
 * (round 1: all) to the page server at the other end of ps_fd, as
 * vs_rt_checkpoint_pages does, while the container runs on (frozen only
 * while CRIU drains the pages into pipes). Its CRIU files stay in
 * containers/NAME/VS_RT_ROUNDS_DIR/ROUND for the next round and for the
 * final vs_rt_checkpoint_pages with rounds = the last round's number
 * (which adds --track-mem --prev-images-dir, so its frozen window carries
 * only what was dirtied since). res->image_bytes: the bytes of pages the
 * round sent. On failure the container runs as before and the rounds'
 * files are gone. 0 or -1. */
int vs_rt_predump_pages(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
			unsigned round, int ps_fd, vs_rt_progress_fn progress, void *ud,
			struct vs_rt_cr_result *res, struct vs_error *err);

/* Remove a container's pre-copy rounds (VS_RT_ROUNDS_DIR), when a move
 * that made them gives up before its final dump. */
void vs_rt_drop_rounds(const struct vs_rt_instance *inst, const struct vs_container_config *cfg);

/* A held container (see vs_rt_checkpoint_pages) runs again: node sides
 * up, thawed, its partial image removed. 0 also when it is not held; -1
 * when its monitor cannot be asked. */
int vs_rt_release_held(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		       struct vs_error *err);

/* A held container whose monitor died (docs/migration.md, "Exactly one
 * copy"): nothing can thaw it into a supervised container again (the
 * monitor was its init's parent and its console's keeper), so its tasks
 * are killed while still frozen, its partial image and rounds removed,
 * and it is cleaned up as a stopped container (cgroup, mounts, node
 * sides; state.json "stopped"). 0 also when nothing is left to kill; -1
 * with VS_EK_CONFLICT when its monitor is alive (vs_rt_release_held is
 * the way then), or the kill's or the clean-up's error. */
int vs_rt_kill_held(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		    struct vs_error *err);
/* Post-copy (docs/migration.md, "Post-copy"): a `criu dump --lazy-pages`
 * of a running container, held as vs_rt_checkpoint_pages holds it; the
 * image (without the lazy pages) is complete when this returns, while
 * CRIU serves the lazy pages on the socket at the other end of ps_fd
 * until the target took them all. vs_rt_end_held ends the hold (the
 * target resumed it), vs_rt_release_held (before that) thaws it. 0 or
 * -1 (then it runs as before). */
int vs_rt_checkpoint_lazy(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
			  int ps_fd, const char *netlock, vs_rt_progress_fn progress, void *ud,
			  struct vs_rt_cr_result *res, struct vs_error *err);
/* A held container's end once the target runs it: after a post-copy dump
 * only when CRIU served its last page and exited 0 (waits up to 15 min);
 * then its tasks are killed, still frozen. -1 when CRIU failed: it stays held, never thawed. */
int vs_rt_end_held(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		   struct vs_error *err);

/* What an operator can do with a suspended container, for every error
 * that refuses one: format arguments are the name twice. Callers append
 * their own last option (" or destroy it with force", ...). */
#define VS_RT_SUSPENDED_HINT                                                                       \
	"container '%s' is suspended; resume it, discard its memory image with `vsctl resume "     \
	"%s --discard` (it is then stopped with its disk as at suspend),"

/* Drop the suspend image of a suspended container (its own, under
 * containers/NAME/checkpoint) and mark it stopped, leaving its disk (the
 * copy-on-write layer, untouched since the suspend) as it is: the way out
 * when an image cannot be restored (corrupt, refused, a failed resume). Needs
 * no criu. VS_EK_CONFLICT when the container is not suspended; on failure
 * the container stays suspended. 0 or -1. */
int vs_rt_discard_image(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
			struct vs_error *err);

/* Restore a container from dir (NULL: its own suspend image; the container
 * must then be suspended, else stopped). Spawns a monitor that rebuilds the
 * root, cgroups (same limits) and console and runs criu restore; the
 * restored init becomes the monitor's child. On failure nothing is left
 * running, the image is intact and the state is what it was. 0 or -1. */
int vs_rt_restore(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		  const char *dir, vs_rt_progress_fn progress, void *ud,
		  struct vs_rt_cr_result *res, struct vs_error *err);

/* Credentials inside a running container (runtime/creds.c): a helper
 * joins the user and mount namespaces of its init as the container's root
 * and, opening everything below the root it sees with openat2
 * (RESOLVE_IN_ROOT, no symlinks), sets user's password hash in
 * /etc/shadow and adds keys to (or with replace, replaces) ~/.ssh/
 * authorized_keys, atomically and keeping modes and owners. The request
 * reaches the helper on a pipe, never in argv. A symlinked target or
 * ~/.ssh is refused. 0, or -1 with err: VS_EK_NOT_FOUND "user 'x' does
 * not exist", VS_EK_CONFLICT when the container is not running. */
struct vs_rt_creds {
	const char *user;	   /* NULL: "root" */
	const char *password_hash; /* a crypt(3) hash, or NULL: unchanged */
	char **keys;		   /* NULL-terminated public key lines, or NULL */
	bool replace;		   /* keys replace authorized_keys */
};
int vs_rt_creds_apply(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		      const struct vs_rt_creds *c, struct vs_error *err);
/* c as the JSON object the helper reads ({"user", "password_hash"?,
 * "keys", "replace"}); the daemon's queue of a stopped container keeps
 * entries in the same form. */
void vs_rt_creds_gen(struct vs_jgen *g, const struct vs_rt_creds *c);

/* Entry points of the re-executed modes, dispatched by daemon/main.c when
 * argv[1] is "__monitor" or "__exec". They return the process exit code. */
int vs_rt_monitor_main(int argc, char **argv);
int vs_rt_exec_main(int argc, char **argv);
int vs_rt_creds_main(int argc, char **argv);  /* argv[1] "__creds" */
int vs_rt_zygote_main(int argc, char **argv); /* argv[1] "__zygote" */

#endif
