/* Disk I/O: the proportional weight and the absolute limits on the disks
 * that hold the container's data, and what a host cannot enforce. */
#include "cgroups/cg-private.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_util.h"

static char *whole_disk(unsigned maj, unsigned min, int depth);

/* A loop device's I/O lands on the disk holding its backing file, charged
 * to the cgroup that issued it (the loop driver's per-cgroup workers):
 * limits go there, once. Limiting the loop device as well would throttle
 * the same bytes twice (measured in the qemu lane: a 4M/s write limit gave
 * about 2.7M/s). NULL when the backing file cannot be found. */
static char *loop_backing_disk(const char *sysdir, int depth)
{
	cleanup_free char *file = NULL;
	struct stat st;

	if (vs_cg_read(sysdir, "loop/backing_file", &file, NULL) < 0)
		return NULL;
	file[strcspn(file, "\n")] = '\0';
	if (file[0] != '/' || stat(file, &st) < 0)
		return NULL;
	return whole_disk(major(st.st_dev), minor(st.st_dev), depth + 1);
}

/* The whole disk of block device maj:min as "MAJ:MIN": a partition's
 * parent disk (the directory above it in sysfs), a loop device's backing
 * disk, anything else as itself (a device-mapper volume). NULL when
 * maj:min is no block device (tmpfs, overlay and btrfs have anonymous
 * devices). depth bounds loops over loops. */
static char *whole_disk(unsigned maj, unsigned min, int depth)
{
	char link[PATH_MAX], real[PATH_MAX];
	cleanup_free char *dev = NULL;
	char *slash;

	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", maj, min);
	if (depth > 4 || realpath(link, real) == NULL)
		return NULL;
	if (vs_cg_exists(real, "loop/backing_file")) {
		char *backing = loop_backing_disk(real, depth);
		return backing != NULL ? backing : xasprintf("%u:%u", maj, min);
	}
	if (!vs_cg_exists(real, "partition"))
		return xasprintf("%u:%u", maj, min);
	slash = strrchr(real, '/');
	if (slash == NULL)
		return NULL;
	*slash = '\0';
	if (vs_cg_read(real, "dev", &dev, NULL) < 0)
		return NULL;
	return steal_ptr(&dev);
}

int vs_cg_set_io_paths(struct vs_cg *cg, const char *const *paths, size_t n, struct vs_error *err)
{
	char **devs = xcalloc(n + 1, sizeof(char *));
	size_t nd = 0;

	for (size_t i = 0; i < n; i++) {
		struct stat st;
		char *d;

		if (stat(paths[i], &st) < 0) {
			int e = errno;
			vs_strv_free(devs);
			return vs_error_set(err, e, "I/O limits: stat %s", paths[i]);
		}
		/* A block device node stands for itself; any other path for
		 * the device of the filesystem holding it. */
		if (S_ISBLK(st.st_mode))
			d = whole_disk(major(st.st_rdev), minor(st.st_rdev), 0);
		else
			d = whole_disk(major(st.st_dev), minor(st.st_dev), 0);
		if (d == NULL || vs_cg_strv_has(devs, d)) {
			free(d);
			continue;
		}
		devs[nd++] = d;
	}
	vs_strv_free(cg->io_devs);
	cg->io_devs = devs;
	return 0;
}

int vs_cg_check_io(const struct vs_limits *l, struct vs_error *err)
{
	if (l->io_weight < 0 || l->io_weight > 10000)
		return vs_error_kind(err, VS_EK_INVALID,
				     "limits.io_weight %" PRId64 ": outside 1 .. 10000",
				     l->io_weight);
	if (l->io_read_bps < 0 || l->io_write_bps < 0 || l->io_read_iops < 0 ||
	    l->io_write_iops < 0)
		return vs_error_kind(err, VS_EK_INVALID, "limits.io_*: negative");
	return 0;
}

static bool any_io_max(const struct vs_limits *l)
{
	return l->io_read_bps > 0 || l->io_write_bps > 0 || l->io_read_iops > 0 ||
	       l->io_write_iops > 0;
}

/* Devices listed in a per-device file ("8:0 rbps=..." or "8:0 1048576")
 * that are not in keep: their limits are stale (the container moved to
 * another disk, or the list shrank). */
static char **stale_devices(const char *dir, const char *file, char *const *keep)
{
	cleanup_free char *text = NULL;
	char **out = xcalloc(1, sizeof(char *)), *save = NULL;
	size_t n = 0;

	if (vs_cg_read(dir, file, &text, NULL) < 0)
		return out;
	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');

		if (sp == NULL)
			continue;
		*sp = '\0';
		if (vs_cg_strv_has(keep, line) || vs_cg_strv_has(out, line))
			continue;
		out = xrealloc(out, (n + 2) * sizeof(char *));
		out[n++] = xstrdup(line);
		out[n] = NULL;
	}
	return out;
}

static void fmt_max(char *buf, size_t len, const char *key, int64_t v)
{
	if (v > 0)
		snprintf(buf, len, " %s=%" PRId64, key, v);
	else
		snprintf(buf, len, " %s=max", key);
}

static int io_max_v2(const char *dir, const char *dev, const struct vs_limits *l, bool on,
		     struct vs_error *err)
{
	char r[48], w[48], ri[48], wi[48];
	cleanup_free char *line = NULL;

	fmt_max(r, sizeof(r), "rbps", on ? l->io_read_bps : 0);
	fmt_max(w, sizeof(w), "wbps", on ? l->io_write_bps : 0);
	fmt_max(ri, sizeof(ri), "riops", on ? l->io_read_iops : 0);
	fmt_max(wi, sizeof(wi), "wiops", on ? l->io_write_iops : 0);
	line = xasprintf("%s%s%s%s%s", dev, r, w, ri, wi);
	return vs_cg_write(dir, "io.max", line, err);
}

static int apply_v2(struct vs_cg *cg, const char *dir, const struct vs_limits *l,
		    struct vs_error *err)
{
	cleanup_strv char **stale = NULL;
	int64_t w = l->io_weight > 0 ? l->io_weight : 100;

	if (vs_cg_exists(dir, "io.weight")) {
		cleanup_free char *val = xasprintf("default %" PRId64, w);
		if (vs_cg_write(dir, "io.weight", val, err) < 0)
			return -1;
	}
	/* BFQ's own knob (1..1000) where the scheduler is BFQ. */
	if (vs_cg_exists(dir, "io.bfq.weight")) {
		cleanup_free char *val = xasprintf("default %" PRId64, w > 1000 ? 1000 : w);
		if (vs_cg_write(dir, "io.bfq.weight", val, err) < 0)
			return -1;
	}
	if (cg->is_pool || !vs_cg_exists(dir, "io.max"))
		return 0;
	stale = stale_devices(dir, "io.max", cg->io_devs);
	for (size_t i = 0; stale[i] != NULL; i++)
		if (io_max_v2(dir, stale[i], l, false, err) < 0)
			return -1;
	for (size_t i = 0; cg->io_devs != NULL && cg->io_devs[i] != NULL; i++)
		if (io_max_v2(dir, cg->io_devs[i], l, true, err) < 0)
			return -1;
	return 0;
}

/* One blkio.throttle.*_device file: 0 removes a device's rule. */
static int throttle_v1(struct vs_cg *cg, const char *dir, const char *file, int64_t v,
		       struct vs_error *err)
{
	cleanup_strv char **stale = stale_devices(dir, file, cg->io_devs);
	char line[80];

	for (size_t i = 0; stale[i] != NULL; i++) {
		snprintf(line, sizeof(line), "%s 0", stale[i]);
		if (vs_cg_write(dir, file, line, err) < 0)
			return -1;
	}
	for (size_t i = 0; cg->io_devs != NULL && cg->io_devs[i] != NULL; i++) {
		snprintf(line, sizeof(line), "%s %" PRId64, cg->io_devs[i], v > 0 ? v : 0);
		if (vs_cg_write(dir, file, line, err) < 0)
			return -1;
	}
	return 0;
}

static int apply_v1(struct vs_cg *cg, const char *dir, const struct vs_limits *l,
		    struct vs_error *err)
{
	/* blkio.bfq.weight exists only while BFQ is loaded; without it the
	 * weight is reported by vs_cg_unenforced instead. 1..1000. */
	if (vs_cg_exists(dir, "blkio.bfq.weight")) {
		int64_t w = l->io_weight > 0 ? l->io_weight : 100;
		if (vs_cg_write_int(dir, "blkio.bfq.weight", w > 1000 ? 1000 : w, err) < 0)
			return -1;
	}
	if (cg->is_pool || !vs_cg_exists(dir, "blkio.throttle.read_bps_device"))
		return 0;
	if (throttle_v1(cg, dir, "blkio.throttle.read_bps_device", l->io_read_bps, err) < 0 ||
	    throttle_v1(cg, dir, "blkio.throttle.write_bps_device", l->io_write_bps, err) < 0 ||
	    throttle_v1(cg, dir, "blkio.throttle.read_iops_device", l->io_read_iops, err) < 0 ||
	    throttle_v1(cg, dir, "blkio.throttle.write_iops_device", l->io_write_iops, err) < 0)
		return -1;
	return 0;
}

int vs_cg_apply_io(struct vs_cg *cg, const struct vs_limits *l, struct vs_error *err)
{
	int v;
	const char *dir = ctrl_dir(cg, "blkio", &v);

	if (dir == NULL)
		dir = ctrl_dir(cg, "io", &v);
	/* Missing controllers are reported by vs_cg_unenforced, not refused:
	 * an I/O limit is a best effort on hosts that cannot throttle. */
	if (dir == NULL)
		return 0;
	return v == V2 ? apply_v2(cg, dir, l, err) : apply_v1(cg, dir, l, err);
}

static void add(char ***v, size_t *n, const char *field, const char *reason)
{
	*v = xrealloc(*v, (*n + 2) * sizeof(char *));
	(*v)[(*n)++] = xasprintf("%s: %s", field, reason);
	(*v)[*n] = NULL;
}

static void unenforced_memory(const struct vs_cg_host *h, const struct vs_limits *l, char ***v,
			      size_t *n)
{
	bool v1 = vs_cg_find(h, "memory") >= 0 && !h->hier[vs_cg_find(h, "memory")].v2;

	if (vs_cg_find(h, "memory") < 0) {
		if (l->memory_high > 0)
			add(v, n, "memory_high", "no memory controller on this host");
		if (l->memory_min > 0)
			add(v, n, "memory_min", "no memory controller on this host");
		return;
	}
	if (v1 && l->memory_min > 0)
		add(v, n, "memory_min",
		    "cgroup v1 has no memory protection (memory.min); not guaranteed");
	if (v1 && l->memory_high > 0)
		add(v, n, "memory_high",
		    "cgroup v1 has no memory.high: used as the soft limit, which only steers "
		    "reclaim under host memory pressure and never throttles");
	if (l->memory_swap != 0 && !h->facts.swap_accounting)
		add(v, n, "memory_swap", "no swap accounting on this host; swap is not limited");
	else if (l->memory_swap != 0 && !h->facts.host_swap)
		add(v, n, "memory_swap", "the host has no swap");
}

static void unenforced_io(const struct vs_cg_host *h, const struct vs_limits *l, char ***v,
			  size_t *n)
{
	int i = vs_cg_find(h, "blkio");
	bool v1;

	if (i < 0)
		i = vs_cg_find(h, "io");
	v1 = i >= 0 && !h->hier[i].v2;
	if (l->io_weight > 0 && !h->facts.io_weight)
		add(v, n, "io_weight",
		    v1 ? "cgroup v1 weights need the BFQ scheduler (no blkio.bfq.weight here)"
		       : "no io.weight on this host (needs BFQ or the io.cost controller)");
	if (any_io_max(l) && (i < 0 || !h->facts.io_throttle)) {
		const char *names[] = {"io_read_bps", "io_write_bps", "io_read_iops",
				       "io_write_iops"};
		int64_t vals[] = {l->io_read_bps, l->io_write_bps, l->io_read_iops,
				  l->io_write_iops};

		for (size_t k = 0; k < VS_ARRAY_SIZE(names); k++)
			if (vals[k] > 0)
				add(v, n, names[k], "no I/O throttling on this host");
		return;
	}
	if (v1 && l->io_write_bps > 0)
		add(v, n, "io_write_bps",
		    "buffered writes are not throttled on cgroup v1, only direct I/O");
	if (v1 && l->io_write_iops > 0)
		add(v, n, "io_write_iops",
		    "buffered writes are not throttled on cgroup v1, only direct I/O");
}

char **vs_cg_unenforced(const struct vs_cg_host *h, const struct vs_limits *l)
{
	char **v = xcalloc(1, sizeof(char *));
	size_t n = 0;

	unenforced_memory(h, l, &v, &n);
	if (l->cpuset[0] != '\0' && vs_cg_find(h, "cpuset") < 0)
		add(&v, &n, "cpuset", "no cpuset controller on this host");
	unenforced_io(h, l, &v, &n);
	return v;
}
