/* cgroups/ internals shared by host.c (layout detection), cgroup.c
 * (create, attach, destroy), limits.c (limits and stats), state.c (freeze,
 * kill, emptiness), walk.c (descendant walks) and file.c (knob I/O). Only
 * files in cgroups/ include this header. */
#ifndef VS_CG_PRIVATE_H
#define VS_CG_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroups/vs_cgroups.h"
#include "lib/vs_error.h"
#include "lib/vs_validate.h"

/* A mounted hierarchy under the host's cgroup mount point. */
struct vs_cg_hier {
	char *mount;	    /* absolute mount point, e.g. /sys/fs/cgroup/memory */
	char *name;	    /* last component of mount: "memory", "cpu,cpuacct", "unified" */
	char *dev;	    /* "major:minor" of the superblock, to drop duplicate mounts */
	char *options;	    /* v1: the controller options joined ("cpu,cpuacct", "name=systemd") */
	char **controllers; /* v1: options split; v2: root's cgroup.controllers (detect only) */
	bool v2;
};

/* What detection learns beyond the mounts (see vs_cg_host_facts). */
struct vs_cg_host {
	enum vs_cg_mode mode;
	char *mnt;
	struct vs_cg_hier *hier; /* v1 hierarchies in mountinfo order, then the cgroup2 one */
	size_t n;
	int unified;	/* index of the cgroup2 hierarchy in hier, or -1 */
	char **v1_opts; /* NULL-terminated, for vs_cg_v1_controllers() */
	char *describe;
	struct vs_cg_host_facts facts;
};

/* The suffix of a pool's cgroup directory. Container names are [a-z0-9-],
 * so "<pool>.pool" can never be a container's cgroup. */
#define VS_CG_POOL_SUFFIX ".pool"

struct vs_cg {
	const struct vs_cg_host *host;
	char *parent;
	char *name;
	char **parent_dirs; /* per hierarchy: <mount>/<parent> */
	/* per hierarchy: <mount>/<parent>/<pool>.pool, or NULL where the
	 * container is not in a pool (or the pool has no level there) */
	char **pool_dirs;
	char **dirs;	/* per hierarchy: the container's cgroup */
	char **io_devs; /* "MAJ:MIN" of the disks I/O limits apply to */
	bool is_pool;	/* a pool's own cgroup: no cpuset, no io devices */
};

/* How long freeze, thaw and kill_all wait for the kernel to finish. */
#define VS_CG_TIMEOUT_MS 10000
/* Deepest sub-cgroup tree a container may build that we still walk. Each
 * level holds one descriptor during walks. */
#define VS_CG_MAX_DEPTH 256

/* --- host.c --- */

/* Index of the hierarchy that carries controller ctrl ("memory", "pids"):
 * a v1 hierarchy mounted with it, else the cgroup2 hierarchy when its root
 * offers it. -1 when none does. */
int vs_cg_find(const struct vs_cg_host *h, const char *ctrl);

/* True when the NULL-terminated vector v holds s. */
bool vs_cg_strv_has(char *const *v, const char *s);

/* v1 reports "unlimited" as the largest page-aligned counter value
 * (9223372036854771712 on x86-64); vs_parse_size caps limits below 2^62. */
#define V1_UNLIMITED (INT64_C(1) << 62)

enum { V1, V2 };

/* The directory of the container's cgroup that carries ctrl and whether it
 * is cgroup2; NULL when the host has no such controller (or, for a pool,
 * when the pool has no level in that hierarchy). */
static inline const char *ctrl_dir(struct vs_cg *cg, const char *ctrl, int *version)
{
	int i = vs_cg_find(cg->host, ctrl);

	if (i < 0)
		return NULL;
	*version = cg->host->hier[i].v2 ? V2 : V1;
	return cg->dirs[i];
}

/* --- limits.c, cpuset.c, io.c --- */

/* Each checks its fields first (VS_EK_INVALID naming the field) and then
 * writes; 0 or -1 with err. */
int vs_cg_apply_cpuset(struct vs_cg *cg, const struct vs_limits *l, struct vs_error *err);
int vs_cg_check_cpuset(const struct vs_limits *l, struct vs_error *err);
int vs_cg_apply_io(struct vs_cg *cg, const struct vs_limits *l, struct vs_error *err);
int vs_cg_check_io(const struct vs_limits *l, struct vs_error *err);

/* The online CPUs (/sys/devices/system/cpu/online) as a bitmap; returns
 * how many, or -1 with err. */
int vs_cg_online_cpus(uint64_t bits[VS_CPUS_MAX / 64], struct vs_error *err);

/* --- cgroup.c --- */

/* Build a handle whose directory in hierarchy i is <parent>/<pool>.pool/
 * <name> where pool_level(i), else <parent>/<name>. pool may be NULL or ""
 * (no pool). */
struct vs_cg *vs_cg_open_at(const struct vs_cg_host *h, const char *parent, const char *pool,
			    const char *name);
/* True when hierarchy i of h carries the pool level: every v1 hierarchy,
 * and cgroup2 only on a unified host (on hybrid hosts the guest's cgroup2
 * tree has no controllers and stays at <parent>/<name>). */
bool vs_cg_pool_level(const struct vs_cg_host *h, size_t i);
bool vs_cg_plain_name(const char *s);
/* Remove the cgroup dir and every sub-cgroup, depth first; missing is
 * fine. 0 or -1 (VS_EK_CONFLICT when tasks remain). */
int vs_cg_rmtree(const char *dir, struct vs_error *err);
/* Create a pool handle's cgroups (and the instance parent), enabling the
 * cgroup2 controllers for the pool's children. Idempotent. 0 or -1. */
int vs_cg_pool_create(struct vs_cg *pool, struct vs_error *err);

/* --- file.c --- */

/* Read dir/file into a fresh string without the trailing newline. 0, or -1
 * with err (errnum ENOENT when the file does not exist). */
int vs_cg_read(const char *dir, const char *file, char **out, struct vs_error *err);

/* Read dir/file as one decimal integer; "max" reads as -1. 0 or -1. */
int vs_cg_read_int(const char *dir, const char *file, int64_t *out, struct vs_error *err);

/* Read the integer after "key " in a flat-keyed file (cgroup.events,
 * cpu.stat). 0, or -1 with err (ENOENT when the key is missing). */
int vs_cg_read_key(const char *dir, const char *file, const char *key, int64_t *out,
		   struct vs_error *err);

/* Write value to dir/file (one write). The error names file and value.
 * 0 or -1. */
int vs_cg_write(const char *dir, const char *file, const char *value, struct vs_error *err);

/* vs_cg_write with a decimal integer. */
int vs_cg_write_int(const char *dir, const char *file, int64_t value, struct vs_error *err);

/* True when dir/file exists. */
bool vs_cg_exists(const char *dir, const char *file);

/* Sleep a few milliseconds; returns false once deadline_ms (CLOCK_MONOTONIC
 * milliseconds from vs_cg_deadline) has passed. */
int64_t vs_cg_deadline(int64_t timeout_ms);
bool vs_cg_wait_step(int64_t deadline_ms);

/* --- walk.c --- */

/* Called for every cgroup of a tree, children before their parent. dfd is
 * the cgroup's directory; parentfd/name locate it in its parent (name is
 * NULL for the tree's root). Return 0 to go on, -1 (with err) to stop. */
typedef int (*vs_cg_visit_fn)(int parentfd, const char *name, int dfd, void *data,
			      struct vs_error *err);

/* Walk the tree at dir depth first (descriptor-relative, so names a
 * delegated container chose are never joined into paths). A missing dir is
 * an empty walk (returns 1). Returns 0, 1, or -1 with err. */
int vs_cg_walk(const char *dir, vs_cg_visit_fn fn, void *data, struct vs_error *err);

/* The pids in cgroup.procs of dir and every descendant, appended to *pids
 * (xrealloc'd, *n updated). 0 or -1 with err. Missing dir: nothing added. */
int vs_cg_tree_pids(const char *dir, pid_t **pids, size_t *n, struct vs_error *err);

/* devices.c: the cgroup v2 device program (BPF_PROG_TYPE_CGROUP_DEVICE)
 * allowing exactly the devices of lib/vs_devices.h, into p (room for max
 * instructions). Returns the number of instructions. */
struct bpf_insn;
size_t vs_cg_devices_program(struct bpf_insn *p, size_t max);

#endif
