/* Limits: memory, CPU bandwidth and weight, pids, and the order of it all.
 * Each resource goes to whichever hierarchy carries its controller: a v1
 * hierarchy on hybrid and legacy hosts, cgroup2 on unified ones
 * (vs_cg_find). cpuset.c and io.c do the rest. */
#include "cgroups/cg-private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lib/vs_util.h"

#define CFS_PERIOD_US 100000

static int check_limits(const struct vs_limits *l, struct vs_error *err)
{
	if (l->memory < 0)
		return vs_error_kind(err, VS_EK_INVALID, "memory limit %" PRId64 ": negative",
				     l->memory);
	if (l->memory_high < 0 || l->memory_min < 0)
		return vs_error_kind(err, VS_EK_INVALID, "memory_high/memory_min: negative");
	if (l->memory_swap < -1)
		return vs_error_kind(err, VS_EK_INVALID, "memory_swap %" PRId64 ": below -1",
				     l->memory_swap);
	/* The kernel's minimum CFS quota is 1 ms per 100 ms period. */
	if (l->cpus_milli != 0 && (l->cpus_milli < 10 || l->cpus_milli > 1024 * 1000))
		return vs_error_kind(err, VS_EK_INVALID,
				     "cpus %" PRId64 "/1000: outside 0.01 .. 1024", l->cpus_milli);
	if (l->cpu_weight < 0 || l->cpu_weight > 10000)
		return vs_error_kind(err, VS_EK_INVALID,
				     "cpu_weight %" PRId64 ": outside 1 .. 10000", l->cpu_weight);
	if (l->pids < 0)
		return vs_error_kind(err, VS_EK_INVALID, "pids %" PRId64 ": negative", l->pids);
	if (vs_cg_check_cpuset(l, err) < 0)
		return -1;
	return vs_cg_check_io(l, err);
}

static int missing(const char *ctrl, const char *what, struct vs_error *err)
{
	return vs_error_kind(err, VS_EK_UNSUPPORTED, "%s limit: no %s controller on this host",
			     what, ctrl);
}

static int write_max(const char *dir, const char *file, int64_t v, struct vs_error *err)
{
	return v > 0 ? vs_cg_write_int(dir, file, v, err) : vs_cg_write(dir, file, "max", err);
}

/* The soft limit is independent of the others (only reclaim under host
 * memory pressure looks at it), so it may go last. */
static int write_soft(const char *dir, const struct vs_limits *l, struct vs_error *err)
{
	return vs_cg_write_int(dir, "memory.soft_limit_in_bytes",
			       l->memory_high > 0 ? l->memory_high : -1, err);
}

/* v1 refuses memory.limit_in_bytes above memory.memsw.limit_in_bytes and the
 * other way round, at every step. Writing memory first works whenever the
 * new memory limit fits under the current memsw limit; otherwise the new
 * memsw limit is at least the current memory limit (it is at least the new
 * one), so writing memsw first works. */
static int apply_memory_v1(const char *dir, const struct vs_limits *l, struct vs_error *err)
{
	int64_t mem = l->memory > 0 ? l->memory : -1;
	int64_t memsw = -1, cur_memsw;
	bool mem_first;

	if (!vs_cg_exists(dir, "memory.memsw.limit_in_bytes"))
		return vs_cg_write_int(dir, "memory.limit_in_bytes", mem, err) < 0
			   ? -1
			   : write_soft(dir, l, err);
	/* Without a memory limit memsw cannot be bounded either (it may not be
	 * below the memory limit). Swap 0 is the kernel default: unlimited. */
	if (mem > 0 && l->memory_swap > 0)
		memsw = mem + l->memory_swap;
	if (vs_cg_read_int(dir, "memory.memsw.limit_in_bytes", &cur_memsw, err) < 0)
		return -1;
	if (cur_memsw >= V1_UNLIMITED)
		cur_memsw = -1;
	mem_first = cur_memsw < 0 || (mem > 0 && mem <= cur_memsw);
	if (mem_first && vs_cg_write_int(dir, "memory.limit_in_bytes", mem, err) < 0)
		return -1;
	if (vs_cg_write_int(dir, "memory.memsw.limit_in_bytes", memsw, err) < 0)
		return -1;
	if (!mem_first && vs_cg_write_int(dir, "memory.limit_in_bytes", mem, err) < 0)
		return -1;
	return write_soft(dir, l, err);
}

static int apply_memory(struct vs_cg *cg, const struct vs_limits *l, struct vs_error *err)
{
	int v;
	const char *dir = ctrl_dir(cg, "memory", &v);

	if (dir == NULL)
		return l->memory != 0 || l->memory_swap > 0 || l->memory_high > 0 ||
			       l->memory_min > 0
			   ? missing("memory", "memory", err)
			   : 0;
	if (v == V1)
		return apply_memory_v1(dir, l, err);
	/* memory.min and memory.high take any value regardless of memory.max,
	 * so their order does not matter; memory.min is "0", not "max", when
	 * unset. */
	if (write_max(dir, "memory.max", l->memory, err) < 0 ||
	    write_max(dir, "memory.high", l->memory_high, err) < 0 ||
	    vs_cg_write_int(dir, "memory.min", l->memory_min, err) < 0)
		return -1;
	/* memory.swap.max exists only with swap accounting. */
	if (vs_cg_exists(dir, "memory.swap.max"))
		return write_max(dir, "memory.swap.max", l->memory_swap, err);
	return 0;
}

/* v1 shares from a v2 weight: the linear map of [1, 10000] onto
 * [2, 262144] that runc and crun use (default weight 100 ~ 2597 shares);
 * without a weight the v1 default of 1024. */
static int64_t weight_to_shares(int64_t weight)
{
	return weight > 0 ? 2 + ((weight - 1) * 262142) / 9999 : 1024;
}

static int apply_cpu(struct vs_cg *cg, const struct vs_limits *l, struct vs_error *err)
{
	int v;
	const char *dir = ctrl_dir(cg, "cpu", &v);
	int64_t quota = l->cpus_milli > 0 ? l->cpus_milli * (CFS_PERIOD_US / 1000) : -1;
	char buf[64];

	if (dir == NULL)
		return l->cpus_milli != 0 || l->cpu_weight != 0 ? missing("cpu", "cpu", err) : 0;
	if (v == V1) {
		/* The period first: the quota is checked against it. */
		if (vs_cg_write_int(dir, "cpu.cfs_period_us", CFS_PERIOD_US, err) < 0 ||
		    vs_cg_write_int(dir, "cpu.cfs_quota_us", quota, err) < 0)
			return -1;
		return vs_cg_write_int(dir, "cpu.shares", weight_to_shares(l->cpu_weight), err);
	}
	if (quota > 0)
		snprintf(buf, sizeof(buf), "%" PRId64 " %d", quota, CFS_PERIOD_US);
	else
		snprintf(buf, sizeof(buf), "max %d", CFS_PERIOD_US);
	if (vs_cg_write(dir, "cpu.max", buf, err) < 0)
		return -1;
	return vs_cg_write_int(dir, "cpu.weight", l->cpu_weight > 0 ? l->cpu_weight : 100, err);
}

static int apply_pids(struct vs_cg *cg, const struct vs_limits *l, struct vs_error *err)
{
	int v;
	const char *dir = ctrl_dir(cg, "pids", &v);

	if (dir == NULL)
		return l->pids != 0 ? missing("pids", "pids", err) : 0;
	return write_max(dir, "pids.max", l->pids, err);
}

int vs_cg_apply(struct vs_cg *cg, const struct vs_limits *limits, struct vs_error *err)
{
	if (check_limits(limits, err) < 0 || apply_memory(cg, limits, err) < 0 ||
	    apply_cpu(cg, limits, err) < 0 || apply_pids(cg, limits, err) < 0 ||
	    vs_cg_apply_cpuset(cg, limits, err) < 0 || vs_cg_apply_io(cg, limits, err) < 0)
		return vs_error_prefix(err, "limits of cgroup %s/%s", cg->parent, cg->name);
	return 0;
}
