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
 * (and its cgroup.procs, tasks, cgroup.subtree_control, cgroup.threads) is
 * chowned to the container's root uid/gid so an init such as systemd can
 * build its own tree inside, as on a delegated cgroup v2 subtree. */
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
 * tests may pass another). Returns 0 and *out, or -1 with err. */
int vs_cg_host_detect(const char *mnt, struct vs_cg_host **out, struct vs_error *err);
void vs_cg_host_free(struct vs_cg_host *h);
enum vs_cg_mode vs_cg_host_mode(const struct vs_cg_host *h);
/* Human description for `node info` ("hybrid: cpu,memory,pids (v1) + unified"). */
const char *vs_cg_host_describe(const struct vs_cg_host *h);

/* Handle for <parent>/<name> in every hierarchy (nothing is created).
 * parent and name must be validated names (no '/'). */
struct vs_cg *vs_cg_open(const struct vs_cg_host *h, const char *parent, const char *name);
void vs_cg_free(struct vs_cg *cg);

/* Create the cgroups (and the instance parent when missing; for v1 cpuset,
 * cpuset.cpus/mems are copied from the parent so tasks can join). When
 * owner_uid != (uid_t)-1, delegate to that owner (see above). Idempotent.
 * Returns 0 or -1 with err; on failure nothing new is left behind. */
int vs_cg_create(struct vs_cg *cg, uid_t owner_uid, gid_t owner_gid, struct vs_error *err);

/* Apply limits (0 fields mean "no limit": the kernel default is written).
 * Works live on a running container. On v1 the memory+swap limit is set
 * only when memory.memsw.* exists. Returns 0 or -1 with err naming the file. */
int vs_cg_apply(struct vs_cg *cg, const struct vs_limits *limits, struct vs_error *err);

/* Move pid into the container's cgroup in every hierarchy. 0 or -1. */
int vs_cg_attach(struct vs_cg *cg, pid_t pid, struct vs_error *err);

/* For clone3(CLONE_INTO_CGROUP): an O_DIRECTORY fd of the container's
 * cgroup2 directory when the host is unified, else -1 (v1 needs attach). */
int vs_cg_unified_fd(struct vs_cg *cg);

/* Freeze / thaw every task (cgroup.freeze on v2, freezer.state on v1);
 * waits until the kernel reports the state reached. 0 or -1. */
int vs_cg_freeze(struct vs_cg *cg, struct vs_error *err);
int vs_cg_thaw(struct vs_cg *cg, struct vs_error *err);

/* SIGKILL every task in the cgroup (cgroup.kill on v2, else by listing
 * cgroup.procs repeatedly). 0 or -1. */
int vs_cg_kill_all(struct vs_cg *cg, struct vs_error *err);

/* True when no task is left in the container's cgroup (any hierarchy). */
bool vs_cg_is_empty(struct vs_cg *cg);

/* Remove the container's cgroups, including sub-cgroups its init created
 * (depth first). Idempotent: missing cgroups are fine. 0 or -1 (EBUSY when
 * tasks remain). */
int vs_cg_destroy(struct vs_cg *cg, struct vs_error *err);

struct vs_cg_stats {
	int64_t memory_current; /* bytes, -1 unknown */
	int64_t memory_max;     /* bytes, -1 unlimited/unknown */
	int64_t cpu_usage_usec; /* -1 unknown */
	int64_t pids_current;   /* -1 unknown */
};
int vs_cg_stats(struct vs_cg *cg, struct vs_cg_stats *st, struct vs_error *err);

/* What init should see at /sys/fs/cgroup inside the container. The runtime
 * mounts these after entering the container's cgroup namespace (in which
 * the container's cgroup is the root). */
enum vs_cg_guest_layout {
	VS_CG_GUEST_UNIFIED, /* cgroup2 at /sys/fs/cgroup */
	VS_CG_GUEST_HYBRID,  /* tmpfs with v1 controllers + unified */
};
enum vs_cg_guest_layout vs_cg_guest_layout(const struct vs_cg_host *h);
/* NULL-terminated list of v1 controller mount option strings for a hybrid
 * guest ("cpu", "memory", "name=systemd", ...), owned by h. */
const char *const *vs_cg_v1_controllers(const struct vs_cg_host *h);

/* Path of the container's cgroup in a given hierarchy (e.g. "memory" or
 * "unified"), for diagnostics and tests; NULL if that hierarchy is absent.
 * Owned by cg. */
const char *vs_cg_path(struct vs_cg *cg, const char *hierarchy);

#endif
