/* vs_cgroups: one interface, two backends — cgroup v2 (unified) and cgroup
 * v1 (hybrid hosts, where the resource controllers are v1 hierarchies and
 * /sys/fs/cgroup/unified is a controller-less cgroup2).
 *
 * Layout: every vsd instance owns one subtree ("parent", e.g. "vsd" or
 * "vsd-1a2b3c4d") directly below the root of each hierarchy it uses, and
 * each container one cgroup below it: <hierarchy>/<parent>/<container>.
 * Nothing outside the instance's subtree is ever written, created or
 * removed. The host's hierarchies are never mounted, unmounted or remounted.
 *
 * Delegation: for unprivileged containers the container's cgroup directory
 * (and its cgroup.procs, tasks, cgroup.subtree_control, cgroup.threads,
 * cgroup.clone_children where they exist) is chowned to the container's
 * root uid/gid in every hierarchy so an init such as systemd can build its
 * own tree inside, as on a delegated cgroup v2 subtree. The limit files
 * stay root's, so the guest cannot raise its own limits. */
#ifndef VS_CGROUPS_H
#define VS_CGROUPS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/vs_config.h"
#include "lib/vs_error.h"

enum vs_cg_mode {
	VS_CG_UNIFIED, /* pure cgroup v2 at /sys/fs/cgroup */
	VS_CG_HYBRID,  /* v1 controllers + cgroup2 at /sys/fs/cgroup/unified */
	VS_CG_LEGACY,  /* v1 only */
};

/* The host's cgroup layout, detected once. Opaque. */
struct vs_cg_host;
/* One container's cgroup across all hierarchies. Opaque. */
struct vs_cg;

/* Detect the layout under mount point `mnt` (normally "/sys/fs/cgroup";
 * tests may pass another) from /proc/self/mountinfo: cgroup2 mounted at mnt
 * itself is UNIFIED; v1 hierarchies at mnt/<dir> plus cgroup2 at
 * mnt/unified is HYBRID; v1 hierarchies alone are LEGACY. Also reads the
 * cgroup2 root's cgroup.controllers. Returns 0 and *out, or -1 with err
 * (VS_EK_NOT_FOUND when nothing is mounted there, VS_EK_INVALID when mnt
 * is not absolute). */
int vs_cg_host_detect(const char *mnt, struct vs_cg_host **out, struct vs_error *err);
/* The pure part of vs_cg_host_detect, for tests: the layout under mnt from
 * the text of a mountinfo file. Touches no file, so a cgroup2 hierarchy
 * lists no available controllers. Later mounts on the same point hide
 * earlier ones; the same hierarchy mounted twice counts once. Returns 0 and
 * *out, or -1 with err (malformed line: VS_EK_INVALID naming the line). */
int vs_cg_host_parse(const char *mnt, const char *mountinfo, struct vs_cg_host **out,
		     struct vs_error *err);
void vs_cg_host_free(struct vs_cg_host *h);
enum vs_cg_mode vs_cg_host_mode(const struct vs_cg_host *h);
/* What the host can enforce beyond its mounts, learnt by vs_cg_host_detect
 * (vs_cg_host_parse leaves every fact false). vs_cg_unenforced reads only
 * these and the mode. */
struct vs_cg_host_facts {
	bool swap_accounting; /* memory.memsw.* (v1) / memory.swap.max (v2) */
	bool host_swap;	      /* SwapTotal > 0 in /proc/meminfo */
	bool io_weight;	      /* v1 blkio.bfq.weight / v2 io.weight or io.bfq.weight */
	bool io_throttle;     /* v1 blkio.throttle.* / v2 io.max */
};
void vs_cg_host_get_facts(const struct vs_cg_host *h, struct vs_cg_host_facts *f);
/* Replace the facts (tests; a daemon that knows better). */
void vs_cg_host_set_facts(struct vs_cg_host *h, const struct vs_cg_host_facts *f);
/* Human description for `node info` ("hybrid: cpu,memory,pids (v1) + unified"). */
const char *vs_cg_host_describe(const struct vs_cg_host *h);

/* Handle for the container `name` of the instance `parent`, wherever its
 * cgroup is now (nothing is created): in each hierarchy <parent>/<name>
 * when that exists, else <parent>/<pool>.pool/<name> for the pool that
 * holds it (found by listing the pool directories, so every reader --
 * stop, kill, destroy, exec, stats, checkpoint -- finds a pool member
 * without knowing its pool), else <parent>/<name>. Use vs_cg_open_pool to
 * create. parent and name must be validated names; as a last guard, NULL
 * when one is empty, starts with '.' or contains '/'. h must outlive the
 * handle. */
struct vs_cg *vs_cg_open(const struct vs_cg_host *h, const char *parent, const char *name);
/* Handle for where the container's cgroup must be created: inside pool's
 * cgroup (pool "" or NULL: none). The pool level exists in every v1
 * hierarchy and, on a unified host, in cgroup2; on a hybrid host the
 * controller-less cgroup2 tree the guest sees stays at <parent>/<name>.
 * vs_cg_create on such a handle requires the pool's cgroup to exist
 * (vs_cg_pool_apply makes it). NULL on a bad name. */
struct vs_cg *vs_cg_open_pool(const struct vs_cg_host *h, const char *parent, const char *pool,
			      const char *name);
void vs_cg_free(struct vs_cg *cg);

/* Create the cgroups (and the instance parent when missing; for v1 cpuset,
 * cpuset.cpus/mems are copied from the parent so tasks can join). On
 * cgroup2, cpuset, cpu, io, memory and pids (those the root offers) are
 * enabled in the root's and the parent's cgroup.subtree_control where
 * missing; nothing is ever disabled. When owner_uid != (uid_t)-1, delegate
 * to that owner (see above) in every hierarchy. Idempotent. Returns 0 or -1
 * with err; on failure the directories this call made are removed again
 * (controllers it enabled stay enabled). */
int vs_cg_create(struct vs_cg *cg, uid_t owner_uid, gid_t owner_gid, struct vs_error *err);

/* Apply limits (0 fields mean "no limit": the kernel default is written).
 * Works live on a running container: call it again with the full new
 * limits. memory_high is memory.high (v1: memory.soft_limit_in_bytes),
 * memory_min memory.min (v1: nothing, see vs_cg_unenforced). cpuset: an
 * explicit list is written to cpuset.cpus (each CPU must be online, else
 * VS_EK_INVALID naming limits.cpuset); without one but with cpus_milli and
 * ceil(cpus) below the online CPUs, the container gets ceil(cpus) CPUs
 * chosen as the ones its siblings' cpusets use least, keeping its current
 * choice when it has the right count (so nproc inside shows the cap rounded
 * up, as LXD's limits.cpu does); otherwise every online CPU. io_weight is
 * io.weight "default N" (v2; also io.bfq.weight) or blkio.bfq.weight
 * (v1, capped at 1000; skipped when absent); io_* bps/iops are io.max
 * (v2) or blkio.throttle.*_device (v1) on the devices of
 * vs_cg_set_io_paths, and limits on devices no longer listed are removed.
 * Re-applying the previous full limits after a failure always works (the
 * v1 memory/memsw order is chosen from the values in force). On v1 the memory+swap limit is set
 * only when memory.memsw.* exists (memory + memory_swap; unlimited when
 * either is unlimited/0), on v2 memory.swap.max only when it exists. cpu
 * weight becomes cpu.shares on v1 (2 + (w-1)*262142/9999; 1024 for 0).
 * Every value is checked before anything is written (VS_EK_INVALID); a
 * non-zero limit whose controller the host lacks is VS_EK_UNSUPPORTED.
 * Returns 0 or -1 with err naming the file and value. */
int vs_cg_apply(struct vs_cg *cg, const struct vs_limits *limits, struct vs_error *err);

/* Allow only the device nodes every container gets (null, zero, full,
 * random, urandom, tty, console, ptmx, ptys): for privileged containers,
 * whose root could mknod any device. Through the v1 devices controller, or
 * on a unified host a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the
 * container's cgroup (multi: the guest's own programs can only narrow it).
 * VS_EK_UNSUPPORTED on a host with neither. 0 or -1. */
int vs_cg_restrict_devices(struct vs_cg *cg, struct vs_error *err);

/* Move pid into the container's cgroup in every hierarchy (writes
 * cgroup.procs; v1 hierarchies first, cgroup2 last). 0 or -1 with err; a
 * failure part-way leaves pid moved in the earlier hierarchies. */
int vs_cg_attach(struct vs_cg *cg, pid_t pid, struct vs_error *err);

/* Resource pools: a cgroup level "<parent>/<pool>.pool" between the
 * instance parent and the containers placed in the pool, carrying the
 * pool's limits for its members together.
 *
 * Create the pool's cgroup where missing and apply l to it: memory,
 * memory_high, memory_swap, cpus_milli, cpu_weight, pids and io_weight are
 * used (cpuset and io device limits are not: a pool's cpuset is the
 * parent's). Idempotent; call at pool create and set, and at daemon start
 * for every stored pool (cgroups vanish on reboot). 0 or -1 with err
 * (VS_EK_INVALID on a bad value or name). */
int vs_cg_pool_apply(const struct vs_cg_host *h, const char *parent, const char *pool,
		     const struct vs_limits *l, struct vs_error *err);
/* Remove the pool's cgroup (missing is fine). -1 with VS_EK_CONFLICT while
 * containers are still in it. */
int vs_cg_pool_remove(const struct vs_cg_host *h, const char *parent, const char *pool,
		      struct vs_error *err);
/* True when the pool's cgroup exists in every hierarchy that carries the
 * pool level. */
bool vs_cg_pool_exists(const struct vs_cg_host *h, const char *parent, const char *pool);
/* Move the RUNNING container `name` into pool new_pool ("" or NULL: out
 * of any pool). On hybrid and legacy hosts every task of the container is
 * moved between the v1 cgroups (created in the new place as vs_cg_create
 * does, delegated to owner_uid/gid unless (uid_t)-1, and given `limits`
 * first, with io_paths as for vs_cg_set_io_paths), then the old v1
 * cgroups are removed; a failure part-way moves
 * the tasks back. Memory already charged stays with the old cgroup's
 * ancestors on v1 (charges do not move) until freed. On a unified host the
 * kernel cannot move a delegated cgroup tree: -1 with VS_EK_CONFLICT ("stop
 * the container to change its pool"), unless the pool does not change
 * (then 0). 0 or -1 with err. */
int vs_cg_move_pool(const struct vs_cg_host *h, const char *parent, const char *name,
		    const char *new_pool, uid_t owner_uid, gid_t owner_gid,
		    const struct vs_limits *limits, const char *const *io_paths, size_t n_io,
		    struct vs_error *err);

/* Descriptors with which a new process joins the container's cgroups by
 * itself, without the cost of being moved (see cgroups/join.c): v2_dir for
 * clone3(CLONE_INTO_CGROUP) (-1 without cgroup2), and the v1 "tasks" files
 * the child writes itself into. */
struct vs_cg_join {
	int v2_dir;
	int v1_tasks[16];
	size_t n_v1;
};
/* Open them (as root, before the fork). 0 or -1 with err; nothing open on
 * failure. */
int vs_cg_join_open(struct vs_cg *cg, struct vs_cg_join *j, struct vs_error *err);
/* In the new, single-threaded child created with CLONE_INTO_CGROUP(v2_dir):
 * move into every v1 hierarchy. Only write(2): async-signal-safe. 0 or -1
 * (errno set). */
int vs_cg_join_self(struct vs_cg_join *j);
/* Close what vs_cg_join_open opened; idempotent. */
void vs_cg_join_close(struct vs_cg_join *j);

/* For clone3(CLONE_INTO_CGROUP): an O_DIRECTORY|O_CLOEXEC fd of the
 * container's cgroup2 directory when the host is unified, which the caller
 * closes; else -1 (v1 needs attach; also -1 with errno when open fails). */
int vs_cg_unified_fd(struct vs_cg *cg);

/* Freeze / thaw every task (freezer.state when a v1 freezer hierarchy
 * exists, else cgroup.freeze on cgroup2); waits up to 10 s until the kernel
 * reports the state reached. 0 or -1 (ETIMEDOUT; a freeze that times out
 * is undone). */
int vs_cg_freeze(struct vs_cg *cg, struct vs_error *err);
int vs_cg_thaw(struct vs_cg *cg, struct vs_error *err);
/* Whether every task is frozen now (freezer.state FROZEN on a v1 freezer,
 * else cgroup.events "frozen 1"): 1 yes, 0 no (thawed, or still
 * freezing), -1 when it cannot be read (err). */
int vs_cg_frozen(struct vs_cg *cg, struct vs_error *err);
/* Freeze for a checkpoint: as vs_cg_freeze, but never leaving a task
 * frozen while it waits for a vfork child (dash, Debian's /bin/sh, vforks
 * every command it runs). CRIU seizes both and the parent, in an
 * uninterruptible wait for a child CRIU holds stopped, never stops: the
 * dump fails after CRIU's 10 s timeout ("Unseizable non-zombie N found,
 * state D") with the container frozen all along. A vfork counts while the
 * child still runs in its parent's memory (before its exec): a child
 * process sharing its parent's memory (kcmp), whatever the parent's wait
 * channel shows (a retry's thaw leaves it runnable for a moment); such a
 * freeze is thawed, the vfork let run to its end (up to 100 ms), and the
 * freeze tried again, for up to 3 s. A child made with CLONE_VM but no
 * vfork, which CRIU cannot dump either, keeps it from settling. Frozen:
 * how many times it was tried again (0, 1, ...) with *frozen_at (when not
 * NULL) the vs_now_ms() at which the freeze that held began, or -1:
 * vs_cg_freeze's errors, or EBUSY naming the task and its child (the
 * cgroup then thawed). */
int vs_cg_freeze_settled(struct vs_cg *cg, int64_t *frozen_at, struct vs_error *err);
/* True when wchan (/proc/TID/wchan) is where the kernel parks a thread
 * that waits for its vfork child (what vs_cg_freeze_settled falls back on
 * where a thread's children cannot be listed). */
bool vs_cg_wchan_is_vfork(const char *wchan);

/* SIGKILL every task in the cgroup and its descendants (cgroup.kill on
 * cgroup2 when the kernel has it, else by listing cgroup.procs
 * repeatedly; a v1 freezer is thawed so frozen tasks can die) and wait up
 * to 10 s until none is left. 0 (also for a missing cgroup) or -1. */
int vs_cg_kill_all(struct vs_cg *cg, struct vs_error *err);

/* True when no task is left in the container's cgroup tree (any hierarchy:
 * checked on cgroup2's "populated" and by listing one v1 hierarchy, which
 * holds every task) or the cgroup does not exist. False when it cannot
 * tell. */
bool vs_cg_is_empty(struct vs_cg *cg);

/* Remove the container's cgroups, including sub-cgroups its init created
 * (depth first). Idempotent: missing cgroups are fine. 0 or -1 (EBUSY when
 * tasks remain). */
int vs_cg_destroy(struct vs_cg *cg, struct vs_error *err);

/* The block devices I/O limits apply to: the whole disks holding these
 * paths (a partition's disk; a loop device as itself; a block device node
 * names its own device). Paths on no block
 * device (tmpfs, overlay, btrfs' anonymous devices) are skipped, and
 * vs_cg_unenforced says so. Call before vs_cg_apply; copies the list.
 * 0 or -1 with err (a path that cannot be stat'ed). */
int vs_cg_set_io_paths(struct vs_cg *cg, const char *const *paths, size_t n, struct vs_error *err);

/* What this host cannot enforce of l, as "field: reason" lines (a
 * NULL-terminated strv the caller frees; empty when all is enforced). Pure
 * given the host: io_weight without BFQ on v1, memory_min on v1, buffered
 * writes under io_write_* on v1, swap without swap accounting, ... */
char **vs_cg_unenforced(const struct vs_cg_host *h, const struct vs_limits *l);

struct vs_cg_stats {
	int64_t memory_current; /* bytes, -1 unknown */
	int64_t memory_max;	/* bytes, -1 unlimited/unknown */
	int64_t cpu_usage_usec; /* -1 unknown */
	int64_t pids_current;	/* -1 unknown */
	/* -1 unknown for every field below. */
	int64_t memory_peak;	    /* bytes */
	int64_t memory_swap;	    /* bytes of swap in use */
	int64_t memory_file;	    /* page cache */
	int64_t memory_anon;	    /* anonymous memory */
	int64_t pgfault;	    /* page faults, cumulative */
	int64_t cpu_user_usec;	    /* cumulative */
	int64_t cpu_system_usec;    /* cumulative */
	int64_t cpu_throttled_usec; /* time throttled by the CPU cap */
	int64_t cpu_nr_throttled;   /* periods throttled */
	int64_t pids_max;	    /* -1 unlimited */
	int64_t io_read_bytes;	    /* over all devices */
	int64_t io_write_bytes;
	int64_t io_read_ios;
	int64_t io_write_ios;
	int64_t oom_kills; /* processes killed by the memory limit */
};
/* Read usage and limits; a statistic whose controller or file is missing
 * is -1. 0, or -1 with err (VS_EK_NOT_FOUND when the cgroup does not
 * exist). */
int vs_cg_stats(struct vs_cg *cg, struct vs_cg_stats *st, struct vs_error *err);
/* Only the CPU fields of vs_cg_stats (the rest unknown): what a usage
 * reading at stop needs, without the memory and I/O files. */
int vs_cg_cpu_stats(struct vs_cg *cg, struct vs_cg_stats *st, struct vs_error *err);

/* What the sampler needs each interval, and no more: cpu_usage_usec and
 * memory_current (one small file each), and the fields of memory.stat
 * (pgfault, ...) when memory_current is at least faults_from (-1: never);
 * every other field -1. Where vs_cg_stats reads about fifteen files, this
 * reads two or three: a sweep of 1,000 containers every few seconds was
 * mostly opens of cgroup files. 0, or -1 with err (a missing cgroup or file
 * is not an error: its fields are -1). */
int vs_cg_sample(struct vs_cg *cg, int64_t faults_from, struct vs_cg_stats *st,
		 struct vs_error *err);

/* Only the oom_kills of vs_cg_stats (one file, where vs_cg_stats reads a
 * dozen): for a container list, which shows it for every container.
 * 0 with *kills (-1 when the file is missing), or -1 with err. */
int vs_cg_oom_kills(struct vs_cg *cg, int64_t *kills, struct vs_error *err);
/* One counter through a descriptor kept open, so that reading it again is
 * one pread instead of a path walk, an open, a read and a close: the OOM
 * kill counter (memory.events or memory.oom_control), the CPU time
 * (cpuacct.usage on v1, cpu.stat's usage_usec on v2; in microseconds) and
 * the memory in use (memory.usage_in_bytes or memory.current; bytes).
 * vs_cg_counter_open returns a descriptor on the file (O_CLOEXEC), or -1
 * with err (ENOENT when the cgroup or the controller is not there). The
 * descriptor stays on that very cgroup, even once it is removed and made
 * again under the same name: its holder must know the cgroup is still the
 * one it wants. vs_cg_counter_read reads it again from the start: 0 with
 * *v (-1 when the text does not hold the counter), or -1 with err (ENODEV
 * once the cgroup is gone). */
enum vs_cg_counter { VS_CG_OOM_KILLS, VS_CG_CPU_USEC, VS_CG_MEMORY_BYTES, VS_CG_COUNTERS };
int vs_cg_counter_open(struct vs_cg *cg, enum vs_cg_counter which, struct vs_error *err);
int vs_cg_counter_read(int fd, enum vs_cg_counter which, int64_t *v, struct vs_error *err);
/* vs_cg_counter_open of the instance's parent cgroup (<hierarchy>/<parent>,
 * in the hierarchy where cg's counter is): its CPU time counts every
 * container and pool below it (cpuacct and cgroup2's cpu.stat are
 * hierarchical), so one read tells whether any container ran at all. */
int vs_cg_parent_counter_open(struct vs_cg *cg, enum vs_cg_counter which, struct vs_error *err);

/* Every field of st to -1 (unknown). */
void vs_cg_stats_init(struct vs_cg_stats *st);

/* The pure parsers behind vs_cg_stats, for tests. Each sets the fields it
 * covers; a key missing from the text leaves -1 there.
 * vs_cg_parse_key: the integer after "key " in a flat-keyed file (true), or
 * false when the key is absent or its value not an integer. */
bool vs_cg_parse_key(const char *text, const char *key, int64_t *out);
/* memory.stat: v2 anon, file, pgfault; v1 total_rss, total_cache,
 * total_pgfault. */
void vs_cg_parse_memory_stat(const char *text, bool v2, struct vs_cg_stats *st);
/* cpu.stat: v2 usage/user/system/throttled_usec and nr_throttled; v1 only
 * throttled_time (ns, converted to usec) and nr_throttled. */
void vs_cg_parse_cpu_stat(const char *text, bool v2, struct vs_cg_stats *st);
/* v2 io.stat: rbytes, wbytes, rios, wios summed over every device (0 when
 * the text lists none). */
void vs_cg_parse_io_stat(const char *text, struct vs_cg_stats *st);
/* v1 blkio.throttle.io_service_bytes_recursive or io_serviced_recursive:
 * the Read and Write lines summed over devices (the Total line skipped). */
void vs_cg_parse_blkio(const char *text, int64_t *read, int64_t *write);
/* v1 cpuacct.usage_all ("cpu user system" and a line per CPU): the user
 * and system columns summed (ns). false (outputs untouched) when the text
 * is not that table. */
bool vs_cg_parse_cpuacct_all(const char *text, int64_t *user, int64_t *sys);

/* Reclaim up to `bytes` of the container's memory now (idle reclaim):
 * memory.reclaim on cgroup v2; on v1 by lowering memory.limit_in_bytes
 * towards usage - bytes and restoring the configured limit `limit` (0: no
 * limit) at once, so the limit in force is never left lowered. *reclaimed
 * gets the drop in usage. 0 or -1 with err (EAGAIN-like results where the
 * kernel could not reclaim are 0 with a smaller *reclaimed).
 * On v1 the limit is lowered in four steps towards usage - bytes and the
 * first step the kernel refuses (EBUSY) ends the lowering; the configured
 * limit is written back in every case (if refused, the limit read before
 * lowering). memory.high and memory.soft_limit_in_bytes are never written.
 * The caller serialises this with live limit updates of the container. */
int vs_cg_reclaim(struct vs_cg *cg, int64_t bytes, int64_t limit, int64_t *reclaimed,
		  struct vs_error *err);

/* What init should see at /sys/fs/cgroup inside the container. The runtime
 * mounts these after entering the container's cgroup namespace (in which
 * the container's cgroup is the root).
 *
 * Decision: whenever the host has a cgroup2 hierarchy (unified, or hybrid
 * with cgroup2 at /sys/fs/cgroup/unified) the guest gets GUEST_UNIFIED: the
 * container's delegated cgroup in that cgroup2 hierarchy is mounted at
 * /sys/fs/cgroup, so systemd in the guest runs in unified mode and builds
 * its tree there (on a hybrid host without controllers: bookkeeping only),
 * while the limits are enforced from outside by the host's v1 controllers
 * on the container's cgroups, which the guest neither sees nor can raise.
 * Only a legacy host (no cgroup2 at all) gets GUEST_HYBRID. */
enum vs_cg_guest_layout {
	VS_CG_GUEST_UNIFIED, /* cgroup2 at /sys/fs/cgroup */
	VS_CG_GUEST_HYBRID,  /* tmpfs with v1 controllers + unified */
};
enum vs_cg_guest_layout vs_cg_guest_layout(const struct vs_cg_host *h);
/* NULL-terminated list of v1 controller mount option strings for a hybrid
 * guest, one per host hierarchy in mount order ("cpu", "memory",
 * "cpu,cpuacct" when co-mounted, "name=systemd", ...), owned by h. Empty on
 * a unified host. */
const char *const *vs_cg_v1_controllers(const struct vs_cg_host *h);

/* Path of the container's cgroup in a given hierarchy (e.g. "memory" or
 * "unified"), for diagnostics and tests; NULL if that hierarchy is absent.
 * The hierarchy is named by its directory under the mount point
 * ("cpu,cpuacct", "systemd"), by "unified" for cgroup2, or by a controller
 * it carries ("cpuacct", "name=systemd"; on a unified host "memory" gives
 * the cgroup2 path when the root offers memory). Owned by cg. */
const char *vs_cg_path(struct vs_cg *cg, const char *hierarchy);
/* The values of `criu restore --cgroup-root` that put a restored tree into
 * this cgroup, wherever it was dumped: its path below the cgroup2 mount
 * (the default for every controller), then "CONTROLLER:PATH" for each v1
 * hierarchy where the path differs (pools without a level there).
 * CRIU rewrites the dumped paths below the tasks' cgroup-namespace root,
 * so the guest's own sub-cgroups keep their place. NULL-terminated,
 * malloc'd (vs_strv_free). */
char **vs_cg_criu_roots(struct vs_cg *cg);

#endif
