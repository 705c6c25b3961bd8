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

/* A mounted hierarchy under the host's cgroup mount point. */
struct vs_cg_hier {
	char *mount;	    /* absolute mount point, e.g. /sys/fs/cgroup/memory */
	char *name;	    /* last component of mount: "memory", "cpu,cpuacct", "unified" */
	char *dev;	    /* "major:minor" of the superblock, to drop duplicate mounts */
	char *options;	    /* v1: the controller options joined ("cpu,cpuacct", "name=systemd") */
	char **controllers; /* v1: options split; v2: root's cgroup.controllers (detect only) */
	bool v2;
};

struct vs_cg_host {
	enum vs_cg_mode mode;
	char *mnt;
	struct vs_cg_hier *hier; /* v1 hierarchies in mountinfo order, then the cgroup2 one */
	size_t n;
	int unified;	/* index of the cgroup2 hierarchy in hier, or -1 */
	char **v1_opts; /* NULL-terminated, for vs_cg_v1_controllers() */
	char *describe;
};

struct vs_cg {
	const struct vs_cg_host *host;
	char *parent;
	char *name;
	char **parent_dirs; /* per hierarchy: <mount>/<parent> */
	char **dirs;	    /* per hierarchy: <mount>/<parent>/<name> */
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

#endif
