/* Statistics: usage and limits read back from whichever hierarchy carries
 * each controller. */
#include "cgroups/cg-private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lib/vs_util.h"

/* One statistic: -1 when the file is missing (controller absent or not
 * enabled), an error for anything else. */
static int stat_int(const char *dir, const char *file, const char *key, int64_t *out,
		    struct vs_error *err)
{
	struct vs_error e;
	int r;

	*out = -1;
	if (dir == NULL)
		return 0;
	r = key ? vs_cg_read_key(dir, file, key, out, &e) : vs_cg_read_int(dir, file, out, &e);
	if (r == 0)
		return 0;
	*out = -1;
	if (e.errnum == ENOENT)
		return 0;
	if (err != NULL)
		*err = e;
	return -1;
}

static int stats_cpu(struct vs_cg *cg, struct vs_cg_stats *st, struct vs_error *err)
{
	int v;
	const char *dir = ctrl_dir(cg, "cpuacct", &v);

	if (dir != NULL && v == V1) {
		if (stat_int(dir, "cpuacct.usage", NULL, &st->cpu_usage_usec, err) < 0)
			return -1;
		if (st->cpu_usage_usec > 0)
			st->cpu_usage_usec /= 1000;
		return 0;
	}
	/* cpu.stat is a core cgroup2 file, there even without the controller. */
	dir = cg->host->unified >= 0 ? cg->dirs[cg->host->unified] : NULL;
	return stat_int(dir, "cpu.stat", "usage_usec", &st->cpu_usage_usec, err);
}

int vs_cg_stats(struct vs_cg *cg, struct vs_cg_stats *st, struct vs_error *err)
{
	int vm = V1, vp = V1;
	const char *mem = ctrl_dir(cg, "memory", &vm), *pids = ctrl_dir(cg, "pids", &vp);

	st->memory_current = st->memory_max = st->cpu_usage_usec = st->pids_current = -1;
	if (!vs_cg_exists(cg->dirs[0], ".")) {
		vs_error_kind(err, VS_EK_NOT_FOUND, "cgroup %s does not exist", cg->dirs[0]);
		return vs_error_prefix(err, "stats of cgroup %s/%s", cg->parent, cg->name);
	}
	if (stat_int(mem, vm == V2 ? "memory.current" : "memory.usage_in_bytes", NULL,
		     &st->memory_current, err) < 0 ||
	    stat_int(mem, vm == V2 ? "memory.max" : "memory.limit_in_bytes", NULL, &st->memory_max,
		     err) < 0 ||
	    stats_cpu(cg, st, err) < 0 ||
	    stat_int(pids, "pids.current", NULL, &st->pids_current, err) < 0)
		return vs_error_prefix(err, "stats of cgroup %s/%s", cg->parent, cg->name);
	if (st->memory_max >= V1_UNLIMITED)
		st->memory_max = -1;
	return 0;
}
