/* Statistics and reclaim. Each statistic comes from whichever hierarchy
 * carries its controller (vs_cg_find): a v1 hierarchy on hybrid and legacy
 * hosts, cgroup2 on unified ones. The text parsers are pure and exported
 * for the unit tests; the readers below only fetch files. */
#include "cgroups/cg-private.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/vs_util.h"

/* v1 reclaim lowers the limit in this many steps, so a step the kernel
 * cannot reach (EBUSY) still leaves the earlier steps' work done. */
#define V1_RECLAIM_STEPS 4

/* The directory of the container's cgroup carrying ctrl; *v2 tells
 * whether it is cgroup2. NULL when the host lacks the controller. */
static const char *stat_dir(struct vs_cg *cg, const char *ctrl, bool *v2)
{
	int v = V1;
	const char *dir = ctrl_dir(cg, ctrl, &v);

	*v2 = v == V2;
	return dir;
}

/* ---- pure parsers -------------------------------------------------- */

bool vs_cg_parse_key(const char *text, const char *key, int64_t *out)
{
	size_t klen = strlen(key);

	for (const char *l = text; l != NULL && *l != '\0';) {
		const char *nl = strchr(l, '\n');
		if (strncmp(l, key, klen) == 0 && l[klen] == ' ') {
			char *end;
			long long v;
			errno = 0;
			v = strtoll(l + klen + 1, &end, 10);
			if (errno == 0 && end != l + klen + 1 && (*end == '\n' || *end == '\0')) {
				*out = v;
				return true;
			}
			return false;
		}
		l = nl ? nl + 1 : NULL;
	}
	return false;
}

static void key_or_unknown(const char *text, const char *key, int64_t *out)
{
	if (!vs_cg_parse_key(text, key, out))
		*out = -1;
}

void vs_cg_parse_memory_stat(const char *text, bool v2, struct vs_cg_stats *st)
{
	key_or_unknown(text, v2 ? "anon" : "total_rss", &st->memory_anon);
	key_or_unknown(text, v2 ? "file" : "total_cache", &st->memory_file);
	key_or_unknown(text, v2 ? "pgfault" : "total_pgfault", &st->pgfault);
}

void vs_cg_parse_cpu_stat(const char *text, bool v2, struct vs_cg_stats *st)
{
	key_or_unknown(text, "nr_throttled", &st->cpu_nr_throttled);
	if (v2) {
		key_or_unknown(text, "usage_usec", &st->cpu_usage_usec);
		key_or_unknown(text, "user_usec", &st->cpu_user_usec);
		key_or_unknown(text, "system_usec", &st->cpu_system_usec);
		key_or_unknown(text, "throttled_usec", &st->cpu_throttled_usec);
		return;
	}
	/* v1 cpu.stat counts throttled time in nanoseconds; usage comes from
	 * cpuacct there. */
	key_or_unknown(text, "throttled_time", &st->cpu_throttled_usec);
	if (st->cpu_throttled_usec > 0)
		st->cpu_throttled_usec /= 1000;
}

/* Add "key=N" of one io.stat line to *sum (which starts at 0). */
static void add_io_field(const char *line, size_t len, const char *key, int64_t *sum)
{
	size_t klen = strlen(key);

	for (const char *p = line; p < line + len;) {
		const char *sp = memchr(p, ' ', (size_t)(line + len - p));
		size_t flen = sp ? (size_t)(sp - p) : (size_t)(line + len - p);
		if (flen > klen && strncmp(p, key, klen) == 0 && p[klen] == '=')
			*sum += strtoll(p + klen + 1, NULL, 10);
		p += flen + 1;
	}
}

void vs_cg_parse_io_stat(const char *text, struct vs_cg_stats *st)
{
	st->io_read_bytes = st->io_write_bytes = st->io_read_ios = st->io_write_ios = 0;
	/* One line per device: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N ...". */
	for (const char *l = text; l != NULL && *l != '\0';) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		add_io_field(l, len, "rbytes", &st->io_read_bytes);
		add_io_field(l, len, "wbytes", &st->io_write_bytes);
		add_io_field(l, len, "rios", &st->io_read_ios);
		add_io_field(l, len, "wios", &st->io_write_ios);
		l = nl ? nl + 1 : NULL;
	}
}

void vs_cg_parse_blkio(const char *text, int64_t *read, int64_t *write)
{
	*read = *write = 0;
	/* "MAJ:MIN Read N" per device and operation, then "Total N", which is
	 * skipped (it sums Sync/Async too). */
	for (const char *l = text; l != NULL && *l != '\0';) {
		const char *nl = strchr(l, '\n');
		char dev[32], op[16];
		long long v;
		if (sscanf(l, "%31s %15s %lld", dev, op, &v) == 3 && strchr(dev, ':') != NULL) {
			if (strcmp(op, "Read") == 0)
				*read += v;
			else if (strcmp(op, "Write") == 0)
				*write += v;
		}
		l = nl ? nl + 1 : NULL;
	}
}

/* ---- readers ------------------------------------------------------- */

/* Contents of dir/file, or NULL when dir is NULL or the file is missing
 * (controller absent, older kernel). -1 for any other failure. */
static int read_opt(const char *dir, const char *file, char **out, struct vs_error *err)
{
	struct vs_error e = {0};

	*out = NULL;
	if (dir == NULL || vs_cg_read(dir, file, out, &e) == 0)
		return 0;
	if (e.errnum == ENOENT)
		return 0;
	if (err != NULL)
		*err = e;
	return -1;
}

/* One integer statistic: -1 when missing (or "max"). */
static int stat_int(const char *dir, const char *file, int64_t *out, struct vs_error *err)
{
	cleanup_free char *text = NULL;
	char *end;

	*out = -1;
	if (read_opt(dir, file, &text, err) < 0)
		return -1;
	if (text == NULL || strcmp(text, "max") == 0)
		return 0;
	errno = 0;
	*out = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0') {
		*out = -1;
		return vs_error_set(err, EINVAL, "%s/%s: unexpected content '%.40s'", dir, file,
				    text);
	}
	return 0;
}

static int stat_key(const char *dir, const char *file, const char *key, int64_t *out,
		    struct vs_error *err)
{
	cleanup_free char *text = NULL;

	*out = -1;
	if (read_opt(dir, file, &text, err) < 0)
		return -1;
	if (text != NULL)
		key_or_unknown(text, key, out);
	return 0;
}

static int stats_memory(struct vs_cg *cg, struct vs_cg_stats *st, struct vs_error *err)
{
	bool v2;
	const char *dir = stat_dir(cg, "memory", &v2);
	cleanup_free char *text = NULL;
	int64_t memsw = -1;

	if (stat_int(dir, v2 ? "memory.current" : "memory.usage_in_bytes", &st->memory_current,
		     err) < 0 ||
	    stat_int(dir, v2 ? "memory.max" : "memory.limit_in_bytes", &st->memory_max, err) < 0 ||
	    stat_int(dir, v2 ? "memory.peak" : "memory.max_usage_in_bytes", &st->memory_peak, err) <
		0 ||
	    read_opt(dir, "memory.stat", &text, err) < 0)
		return -1;
	if (st->memory_max >= V1_UNLIMITED)
		st->memory_max = -1;
	if (text != NULL)
		vs_cg_parse_memory_stat(text, v2, st);
	if (v2)
		return stat_int(dir, "memory.swap.current", &st->memory_swap, err) < 0 ||
			       stat_key(dir, "memory.events", "oom_kill", &st->oom_kills, err) < 0
			   ? -1
			   : 0;
	/* v1 counts swap only inside memory+swap usage (with swap accounting). */
	if (stat_int(dir, "memory.memsw.usage_in_bytes", &memsw, err) < 0)
		return -1;
	if (memsw >= 0 && st->memory_current >= 0)
		st->memory_swap = memsw > st->memory_current ? memsw - st->memory_current : 0;
	else if (text != NULL)
		key_or_unknown(text, "total_swap", &st->memory_swap);
	return stat_key(dir, "memory.oom_control", "oom_kill", &st->oom_kills, err);
}

static void ns_to_usec(int64_t *v)
{
	if (*v > 0)
		*v /= 1000;
}

static int stats_cpu(struct vs_cg *cg, struct vs_cg_stats *st, struct vs_error *err)
{
	bool v2, cv2;
	const char *acct = stat_dir(cg, "cpuacct", &v2), *cpu = stat_dir(cg, "cpu", &cv2);
	cleanup_free char *text = NULL;

	if (acct != NULL && !v2) {
		if (stat_int(acct, "cpuacct.usage", &st->cpu_usage_usec, err) < 0 ||
		    stat_int(acct, "cpuacct.usage_user", &st->cpu_user_usec, err) < 0 ||
		    stat_int(acct, "cpuacct.usage_sys", &st->cpu_system_usec, err) < 0)
			return -1;
		/* cpuacct counts nanoseconds. */
		ns_to_usec(&st->cpu_usage_usec);
		ns_to_usec(&st->cpu_user_usec);
		ns_to_usec(&st->cpu_system_usec);
		if (read_opt(cpu != NULL && !cv2 ? cpu : NULL, "cpu.stat", &text, err) < 0)
			return -1;
		if (text != NULL)
			vs_cg_parse_cpu_stat(text, false, st);
		return 0;
	}
	/* cpu.stat is a core cgroup2 file, there even without the controller. */
	if (read_opt(cg->host->unified >= 0 ? cg->dirs[cg->host->unified] : NULL, "cpu.stat", &text,
		     err) < 0)
		return -1;
	if (text != NULL)
		vs_cg_parse_cpu_stat(text, true, st);
	return 0;
}

/* The larger sums of file and file_recursive (see stats_io). */
static int blkio_sum(const char *dir, const char *file, int64_t *read, int64_t *write,
		     struct vs_error *err)
{
	static const char *const suffix[] = {"", "_recursive"};

	for (size_t i = 0; i < VS_ARRAY_SIZE(suffix); i++) {
		cleanup_free char *name = xasprintf("%s%s", file, suffix[i]);
		cleanup_free char *text = NULL;
		int64_t r, w;
		if (read_opt(dir, name, &text, err) < 0)
			return -1;
		if (text == NULL)
			continue;
		vs_cg_parse_blkio(text, &r, &w);
		*read = r > *read ? r : *read;
		*write = w > *write ? w : *write;
	}
	return 0;
}

static int stats_io(struct vs_cg *cg, struct vs_cg_stats *st, struct vs_error *err)
{
	bool v2;
	const char *dir = stat_dir(cg, "io", &v2);
	cleanup_free char *bytes = NULL;

	if (dir != NULL && v2) {
		if (read_opt(dir, "io.stat", &bytes, err) < 0)
			return -1;
		if (bytes != NULL)
			vs_cg_parse_io_stat(bytes, st);
		return 0;
	}
	/* v1: the throttle files count every I/O (the CFQ/BFQ ones only what
	 * went through that scheduler). The _recursive ones would include the
	 * container's own sub-cgroups, but this kernel leaves them empty, and
	 * the guest sees no blkio hierarchy to make sub-cgroups in: the larger
	 * of the two sums is the container's. */
	dir = stat_dir(cg, "blkio", &v2);
	if (dir == NULL)
		return 0;
	st->io_read_bytes = st->io_write_bytes = st->io_read_ios = st->io_write_ios = 0;
	return blkio_sum(dir, "blkio.throttle.io_service_bytes", &st->io_read_bytes,
			 &st->io_write_bytes, err) < 0 ||
		       blkio_sum(dir, "blkio.throttle.io_serviced", &st->io_read_ios,
				 &st->io_write_ios, err) < 0
		   ? -1
		   : 0;
}

void vs_cg_stats_init(struct vs_cg_stats *st)
{
	int64_t *f = (int64_t *)st;

	for (size_t i = 0; i < sizeof(*st) / sizeof(int64_t); i++)
		f[i] = -1;
}

static int stats_begin(struct vs_cg *cg, struct vs_cg_stats *st, struct vs_error *err)
{
	vs_cg_stats_init(st);
	if (!vs_cg_exists(cg->dirs[0], ".")) {
		vs_error_kind(err, VS_EK_NOT_FOUND, "cgroup %s does not exist", cg->dirs[0]);
		return vs_error_prefix(err, "stats of cgroup %s/%s", cg->parent, cg->name);
	}
	return 0;
}

int vs_cg_cpu_stats(struct vs_cg *cg, struct vs_cg_stats *st, struct vs_error *err)
{
	if (stats_begin(cg, st, err) < 0)
		return -1;
	if (stats_cpu(cg, st, err) < 0)
		return vs_error_prefix(err, "stats of cgroup %s/%s", cg->parent, cg->name);
	return 0;
}

int vs_cg_stats(struct vs_cg *cg, struct vs_cg_stats *st, struct vs_error *err)
{
	bool v2;
	const char *pids = stat_dir(cg, "pids", &v2);

	if (stats_begin(cg, st, err) < 0)
		return -1;
	if (stats_memory(cg, st, err) < 0 || stats_cpu(cg, st, err) < 0 ||
	    stats_io(cg, st, err) < 0 ||
	    stat_int(pids, "pids.current", &st->pids_current, err) < 0 ||
	    stat_int(pids, "pids.max", &st->pids_max, err) < 0)
		return vs_error_prefix(err, "stats of cgroup %s/%s", cg->parent, cg->name);
	return 0;
}

int vs_cg_oom_kills(struct vs_cg *cg, int64_t *kills, struct vs_error *err)
{
	bool v2;
	const char *dir = stat_dir(cg, "memory", &v2);

	*kills = -1;
	if (stat_key(dir, v2 ? "memory.events" : "memory.oom_control", "oom_kill", kills, err) < 0)
		return vs_error_prefix(err, "OOM kills of cgroup %s/%s", cg->parent, cg->name);
	return 0;
}

int vs_cg_oom_open(struct vs_cg *cg, struct vs_error *err)
{
	bool v2;
	const char *dir = stat_dir(cg, "memory", &v2);
	cleanup_free char *path = NULL;
	int fd;

	if (dir == NULL)
		return vs_error_set(err, ENOENT, "no memory controller for cgroup %s/%s",
				    cg->parent, cg->name);
	path = xasprintf("%s/%s", dir, v2 ? "memory.events" : "memory.oom_control");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return vs_error_set(err, errno, "open %s", path);
	return fd;
}

int vs_cg_oom_kills_fd(int fd, int64_t *kills, struct vs_error *err)
{
	/* memory.events (8 short lines) and memory.oom_control (3) fit. */
	char buf[1024];
	ssize_t n;

	*kills = -1;
	do {
		/* A cgroup file is a seq_file: reading at 0 makes it anew. */
		n = pread(fd, buf, sizeof(buf) - 1, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return vs_error_set(err, errno, "read the OOM kill counter");
	if ((size_t)n == sizeof(buf) - 1)
		return vs_error_kind(err, VS_EK_TOO_LARGE,
				     "the OOM kill counter's file is larger "
				     "than expected");
	buf[n] = '\0';
	key_or_unknown(buf, "oom_kill", kills);
	return 0;
}

/* ---- reclaim ------------------------------------------------------- */

/* v1 has no memory.reclaim: lowering memory.limit_in_bytes below usage
 * makes the kernel reclaim down to it inside the write, or fail with EBUSY
 * after its retries (it never OOM-kills on a limit write). Lowering needs no
 * care about memory.memsw.limit_in_bytes (mem may always go below memsw);
 * restoring raises mem back to a value that fitted under memsw before, so
 * it fits again. While lowered, an allocation inside could find nothing
 * reclaimable and OOM: the window is the few writes below, and the caller
 * only reclaims from idle containers. */
static int reclaim_v1(const char *dir, int64_t bytes, int64_t limit, struct vs_error *err)
{
	int64_t start, before, target;
	struct vs_error e = {0};
	int r = 0;

	if (vs_cg_read_int(dir, "memory.usage_in_bytes", &start, err) < 0 ||
	    vs_cg_read_int(dir, "memory.limit_in_bytes", &before, err) < 0)
		return -1;
	target = start - bytes;
	for (int i = 1; i <= V1_RECLAIM_STEPS && target > 0; i++) {
		int64_t step = start - (bytes * i) / V1_RECLAIM_STEPS;
		if (vs_cg_write_int(dir, "memory.limit_in_bytes", step, &e) < 0)
			break; /* EBUSY: nothing more to take at this level */
	}
	/* Always put the configured limit back; if that is refused (a memsw
	 * limit changed meanwhile), the limit that was in force before. */
	if (vs_cg_write_int(dir, "memory.limit_in_bytes", limit > 0 ? limit : -1, &e) < 0)
		r = vs_cg_write_int(dir, "memory.limit_in_bytes",
				    before >= V1_UNLIMITED ? -1 : before, err);
	return r;
}

int vs_cg_reclaim(struct vs_cg *cg, int64_t bytes, int64_t limit, int64_t *reclaimed,
		  struct vs_error *err)
{
	bool v2;
	const char *dir = stat_dir(cg, "memory", &v2);
	const char *usage = v2 ? "memory.current" : "memory.usage_in_bytes";
	int64_t before, after;
	struct vs_error e = {0};

	*reclaimed = 0;
	if (dir == NULL)
		return vs_error_kind(err, VS_EK_UNSUPPORTED, "reclaim: no memory controller");
	if (bytes <= 0)
		return 0;
	if (vs_cg_read_int(dir, usage, &before, err) < 0)
		return vs_error_prefix(err, "reclaim from cgroup %s/%s", cg->parent, cg->name);
	if (v2) {
		/* EAGAIN: the kernel reclaimed less than asked; that is fine. */
		if (vs_cg_write_int(dir, "memory.reclaim", bytes, &e) < 0 && e.errnum != EAGAIN) {
			*err = e;
			return vs_error_prefix(err, "reclaim from cgroup %s/%s", cg->parent,
					       cg->name);
		}
	} else if (reclaim_v1(dir, bytes, limit, err) < 0) {
		return vs_error_prefix(err, "reclaim from cgroup %s/%s", cg->parent, cg->name);
	}
	if (vs_cg_read_int(dir, usage, &after, err) < 0)
		return vs_error_prefix(err, "reclaim from cgroup %s/%s", cg->parent, cg->name);
	*reclaimed = before > after ? before - after : 0;
	return 0;
}
