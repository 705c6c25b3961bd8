/* Resource pools: a cgroup level "<parent>/<pool>.pool" above its members,
 * and moving a running container between pools on v1 hierarchies. */
#include "cgroups/cg-private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/vs_util.h"

/* The pool's own cgroup as a handle: dirs[i] is the pool directory where
 * the pool has a level, NULL elsewhere (so nothing touches those). */
static struct vs_cg *open_pool_cg(const struct vs_cg_host *h, const char *parent, const char *pool,
				  struct vs_error *err)
{
	cleanup_free char *dirname = NULL;
	struct vs_cg *cg;

	if (pool == NULL || !vs_cg_plain_name(pool)) {
		vs_error_kind(err, VS_EK_INVALID, "pool name '%s': not a plain name",
			      pool ? pool : "(null)");
		return NULL;
	}
	dirname = xasprintf("%s%s", pool, VS_CG_POOL_SUFFIX);
	cg = vs_cg_open_at(h, parent, NULL, dirname);
	if (cg == NULL) {
		vs_error_kind(err, VS_EK_INVALID, "cgroup parent '%s': not a plain name", parent);
		return NULL;
	}
	cg->is_pool = true;
	for (size_t i = 0; i < h->n; i++) {
		if (vs_cg_pool_level(h, i))
			continue;
		free(cg->dirs[i]);
		cg->dirs[i] = NULL;
	}
	return cg;
}

static void cg_freep(struct vs_cg **cg)
{
	vs_cg_free(*cg);
	*cg = NULL;
}
#define cleanup_cg __attribute__((cleanup(cg_freep)))

int vs_cg_pool_apply(const struct vs_cg_host *h, const char *parent, const char *pool,
		     const struct vs_limits *l, struct vs_error *err)
{
	cleanup_cg struct vs_cg *cg = open_pool_cg(h, parent, pool, err);
	struct vs_limits pl = *l;

	if (cg == NULL)
		return -1;
	/* What a pool does not carry (see the header). */
	pl.cpuset[0] = '\0';
	pl.io_read_bps = pl.io_write_bps = pl.io_read_iops = pl.io_write_iops = 0;
	pl.memory_min = 0;
	if (vs_cg_pool_create(cg, err) < 0 || vs_cg_apply(cg, &pl, err) < 0)
		return vs_error_prefix(err, "pool '%s'", pool);
	return 0;
}

int vs_cg_pool_remove(const struct vs_cg_host *h, const char *parent, const char *pool,
		      struct vs_error *err)
{
	cleanup_cg struct vs_cg *cg = open_pool_cg(h, parent, pool, err);

	if (cg == NULL)
		return -1;
	/* Only the pool's own directory: a member's cgroup below it makes
	 * rmdir fail with EBUSY rather than being removed with it. */
	for (size_t i = 0; i < h->n; i++) {
		if (cg->dirs[i] == NULL || rmdir(cg->dirs[i]) == 0 || errno == ENOENT)
			continue;
		vs_error_set(err, errno, "rmdir %s", cg->dirs[i]);
		if (errno == EBUSY || errno == ENOTEMPTY)
			err->kind = VS_EK_CONFLICT;
		return vs_error_prefix(err, "remove pool '%s'", pool);
	}
	return 0;
}

bool vs_cg_pool_exists(const struct vs_cg_host *h, const char *parent, const char *pool)
{
	cleanup_cg struct vs_cg *cg = open_pool_cg(h, parent, pool, NULL);

	if (cg == NULL)
		return false;
	for (size_t i = 0; i < h->n; i++)
		if (cg->dirs[i] != NULL && !vs_cg_exists(cg->dirs[i], "."))
			return false;
	return true;
}

/* Move every process of the tree at from into the cgroup to (cgroup.procs
 * moves a whole thread group). Forks racing with the move land in from;
 * passes repeat until from's tree is empty. 0 or -1. */
static int move_tasks(const char *from, const char *to, struct vs_error *err)
{
	for (int pass = 0; pass < 100; pass++) {
		cleanup_free pid_t *pids = NULL;
		size_t n = 0;

		if (vs_cg_tree_pids(from, &pids, &n, err) < 0)
			return -1;
		if (n == 0)
			return 0;
		for (size_t k = 0; k < n; k++) {
			struct vs_error e;

			if (vs_cg_write_int(to, "cgroup.procs", pids[k], &e) < 0 &&
			    e.errnum != ESRCH) {
				if (err != NULL)
					*err = e;
				return -1;
			}
		}
	}
	return vs_error_set(err, EAGAIN, "tasks keep appearing in %s", from);
}

/* Hierarchies where the container's cgroup changes place. */
static bool moves(const struct vs_cg *a, const struct vs_cg *b, size_t i)
{
	return strcmp(a->dirs[i], b->dirs[i]) != 0;
}

static int move_all(struct vs_cg *old, struct vs_cg *new, struct vs_error *err)
{
	size_t i;

	for (i = 0; i < old->host->n; i++) {
		if (!moves(old, new, i))
			continue;
		/* v1 memory charges stay behind unless asked to move (a
		 * deprecated knob newer kernels may refuse: best effort). */
		if (vs_cg_exists(new->dirs[i], "memory.move_charge_at_immigrate"))
			(void)vs_cg_write(new->dirs[i], "memory.move_charge_at_immigrate", "3",
					  NULL);
		if (move_tasks(old->dirs[i], new->dirs[i], err) < 0)
			break;
	}
	if (i == old->host->n)
		return 0;
	/* Put back what moved, so the container stays whole in the old place. */
	for (size_t j = 0; j <= i; j++)
		if (moves(old, new, j))
			(void)move_tasks(new->dirs[j], old->dirs[j], NULL);
	return -1;
}

int vs_cg_move_pool(const struct vs_cg_host *h, const char *parent, const char *name,
		    const char *new_pool, uid_t owner_uid, gid_t owner_gid,
		    const struct vs_limits *limits, const char *const *io_paths, size_t n_io,
		    struct vs_error *err)
{
	cleanup_cg struct vs_cg *old = vs_cg_open(h, parent, name);
	cleanup_cg struct vs_cg *new = vs_cg_open_pool(h, parent, new_pool, name);
	bool any = false;

	if (old == NULL || new == NULL)
		return vs_error_kind(err, VS_EK_INVALID, "pool '%s' or container '%s': bad name",
				     new_pool ? new_pool : "", name);
	for (size_t i = 0; i < h->n; i++)
		any |= moves(old, new, i);
	if (!any)
		return 0;
	if (h->mode == VS_CG_UNIFIED)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "container '%s': stop the container to change its pool (on "
				     "cgroup v2 the kernel cannot move its cgroup tree)",
				     name);
	if (vs_cg_create(new, owner_uid, owner_gid, err) < 0 ||
	    vs_cg_set_io_paths(new, io_paths, n_io, err) < 0 || vs_cg_apply(new, limits, err) < 0 ||
	    move_all(old, new, err) < 0) {
		for (size_t i = 0; i < h->n; i++)
			if (moves(old, new, i))
				(void)vs_cg_rmtree(new->dirs[i], NULL);
		return vs_error_prefix(err, "move container '%s' to pool '%s'", name,
				       new_pool ? new_pool : "");
	}
	for (size_t i = 0; i < h->n; i++)
		if (moves(old, new, i) && vs_cg_rmtree(old->dirs[i], err) < 0)
			return vs_error_prefix(err, "remove the old cgroup of '%s'", name);
	return 0;
}
