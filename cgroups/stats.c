/* Statistics and reclaim. Each statistic comes from whichever hierarchy
 * carries its controller (vs_cg_find): a v1 hierarchy on hybrid and legacy
 * hosts, cgroup2 on unified ones. The text parsers are pure and exported
 * for the unit tests; the readers below only fetch files. */
#include "cgroups/cg-private.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
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

bool vs_cg_parse_cpuacct_all(const char *text, int64_t *user, int64_t *sys)
{
	static const char head[] = "cpu user system\n";
	int64_t u = 0, y = 0;
	const char *l;

	if (strncmp(text, head, sizeof(head) - 1) != 0)
		return false;
	/* "CPU USER SYSTEM" per possible CPU. */
	for (l = text + sizeof(head) - 1; *l != '\0';) {
		const char *nl = strchr(l, '\n');
		unsigned cpu;
		long long a, b;
		int n = 0;
		if (sscanf(l, "%u %lld %lld%n", &cpu, &a, &b, &n) != 3 || a < 0 || b < 0 ||
		    (l[n] != '\n' && l[n] != '\0'))
			return false;
		u += a;
		y += b;
		l = nl ? nl + 1 : l + strlen(l);
	}
	*user = u;
	*sys = y;
	return true;
}

/* ---- readers ------------------------------------------------------- */

/* The text of one statistics file. Most fit in small; a larger one (many
 * block devices) is read again whole into big. */
struct stat_text {
	char small[4096];
	char *big;
	const char *s; /* NULL: dir is NULL or the file is missing */
};

static void stat_text_free(struct stat_text *t)
{
	free(t->big);
}
#define cleanup_stat_text __attribute__((cleanup(stat_text_free)))

/* dir/file into t, with one open and one read: these files are seq_files,
 * whose read fills the buffer until it is full or the text ends, so a
 * read that leaves room came to the end (no second read for EOF, no
 * allocation). t->s NULL when dir is NULL or the file is missing
 * (controller absent, older kernel). 0, or -1 for any other failure. */
static int read_opt(const char *dir, const char *file, struct stat_text *t, struct vs_error *err)
{
	char path[PATH_MAX];
	cleanup_close int fd = -1;
	ssize_t n;

	t->s = NULL;
	if (dir == NULL)
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return vs_error_set(err, ENAMETOOLONG, "%s/%s: path too long", dir, file);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return errno == ENOENT ? 0 : vs_error_set(err, errno, "open %s", path);
	do
		n = read(fd, t->small, sizeof(t->small) - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return vs_error_set(err, errno, "read %s", path);
	if ((size_t)n == sizeof(t->small) - 1) {
		if (vs_cg_read(dir, file, &t->big, err) < 0)
			return -1;
		t->s = t->big;
		return 0;
	}
	/* Trailing newlines and spaces go, as vs_cg_read cuts them. */
	while (n > 0 && (t->small[n - 1] == '\n' || t->small[n - 1] == ' '))
		n--;
	t->small[n] = '\0';
	t->s = t->small;
	return 0;
}

/* One integer statistic: -1 when missing (or "max"). */
static int stat_int(const char *dir, const char *file, int64_t *out, struct vs_error *err)
{
	cleanup_stat_text struct stat_text t = {0};
	char *end;

	*out = -1;
	if (read_opt(dir, file, &t, err) < 0)
		return -1;
	if (t.s == NULL || strcmp(t.s, "max") == 0)
		return 0;
	errno = 0;
	*out = strtoll(t.s, &end, 10);
	if (errno != 0 || end == t.s || *end != '\0') {
		*out = -1;
		return vs_error_set(err, EINVAL, "%s/%s: unexpected content '%.40s'", dir, file,
				    t.s);
	}
	return 0;
}

static int stat_key(const char *dir, const char *file, const char *key, int64_t *out,
		    struct vs_error *err)
{
	cleanup_stat_text struct stat_text t = {0};

	*out = -1;
	if (read_opt(dir, file, &t, err) < 0)
		return -1;
	if (t.s != NULL)
		key_or_unknown(t.s, key, out);
	return 0;
}

static int stats_memory(struct vs_cg *cg, struct vs_cg_stats *st, struct vs_error *err)
{
	bool v2;
	const char *dir = stat_dir(cg, "memory", &v2);
	cleanup_stat_text struct stat_text text = {0};
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
	if (text.s != NULL)
		vs_cg_parse_memory_stat(text.s, v2, st);
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
	else if (text.s != NULL)
		key_or_unknown(text.s, "total_swap", &st->memory_swap);
	return stat_key(dir, "memory.oom_control", "oom_kill", &st->oom_kills, err);
}

static void ns_to_usec(int64_t *v)
{
	if (*v > 0)
		*v /= 1000;
}

/* v1 user and system time (ns): both from cpuacct.usage_all, which the
 * kernel fills per CPU from the same counters as cpuacct.usage_user and
 * usage_sys (one file read, not two); from those two where it is missing
 * (before Linux 4.7). cpuacct.usage itself is not their sum on current
 * kernels (it is exact, they are tick-based), so it is still read. */
static int cpuacct_user_sys(const char *acct, struct vs_cg_stats *st, struct vs_error *err)
{
	cleanup_stat_text struct stat_text all = {0};

	if (read_opt(acct, "cpuacct.usage_all", &all, err) < 0)
		return -1;
	if (all.s != NULL &&
	    vs_cg_parse_cpuacct_all(all.s, &st->cpu_user_usec, &st->cpu_system_usec))
		return 0;
	return stat_int(acct, "cpuacct.usage_user", &st->cpu_user_usec, err) < 0 ||
		       stat_int(acct, "cpuacct.usage_sys", &st->cpu_system_usec, err) < 0
		   ? -1
		   : 0;
}

static int stats_cpu(struct vs_cg *cg, struct vs_cg_stats *st, struct vs_error *err)
{
	bool v2, cv2;
	const char *acct = stat_dir(cg, "cpuacct", &v2), *cpu = stat_dir(cg, "cpu", &cv2);
	cleanup_stat_text struct stat_text text = {0};

	if (acct != NULL && !v2) {
		if (stat_int(acct, "cpuacct.usage", &st->cpu_usage_usec, err) < 0 ||
		    cpuacct_user_sys(acct, st, err) < 0)
			return -1;
		/* cpuacct counts nanoseconds. */
		ns_to_usec(&st->cpu_usage_usec);
		ns_to_usec(&st->cpu_user_usec);
		ns_to_usec(&st->cpu_system_usec);
		if (read_opt(cpu != NULL && !cv2 ? cpu : NULL, "cpu.stat", &text, err) < 0)
			return -1;
		if (text.s != NULL)
			vs_cg_parse_cpu_stat(text.s, false, st);
		return 0;
	}
	/* cpu.stat is a core cgroup2 file, there even without the controller. */
	if (read_opt(cg->host->unified >= 0 ? cg->dirs[cg->host->unified] : NULL, "cpu.stat", &text,
		     err) < 0)
		return -1;
	if (text.s != NULL)
		vs_cg_parse_cpu_stat(text.s, true, st);
	return 0;
}

/* The sums of file_recursive, or of file when that lists no device (see
 * stats_io). */
static int blkio_sum(const char *dir, const char *file, int64_t *read, int64_t *write,
		     struct vs_error *err)
{
	static const char *const suffix[] = {"_recursive", ""};
	char name[64];

	for (size_t i = 0; i < VS_ARRAY_SIZE(suffix); i++) {
		cleanup_stat_text struct stat_text t = {0};
		snprintf(name, sizeof(name), "%s%s", file, suffix[i]);
		if (read_opt(dir, name, &t, err) < 0)
			return -1;
		if (t.s == NULL)
			continue;
		vs_cg_parse_blkio(t.s, read, write);
		/* A device line ("MAJ:MIN Read N"), not only "Total N". */
		if (strchr(t.s, ':') != NULL)
			return 0;
	}
	return 0;
}

static int stats_io(struct vs_cg *cg, struct vs_cg_stats *st, struct vs_error *err)
{
	bool v2;
	const char *dir = stat_dir(cg, "io", &v2);
	cleanup_stat_text struct stat_text bytes = {0};

	if (dir != NULL && v2) {
		if (read_opt(dir, "io.stat", &bytes, err) < 0)
			return -1;
		if (bytes.s != NULL)
			vs_cg_parse_io_stat(bytes.s, st);
		return 0;
	}
	/* v1: the throttle files count every I/O (the CFQ/BFQ ones only what
	 * went through that scheduler). The _recursive ones add the
	 * container's own sub-cgroups (its cgroup is delegated), so they are
	 * never below the plain ones when they list devices at all; some
	 * kernels leave them empty, and then the plain ones are read. These
	 * files are among the dearest of a scrape, and where the _recursive
	 * ones are filled (6.18 here) this reads one of each pair, not both. */
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

int vs_cg_sample(struct vs_cg *cg, int64_t faults_from, struct vs_cg_stats *st,
		 struct vs_error *err)
{
	bool v2, mv2;
	const char *acct = stat_dir(cg, "cpuacct", &v2), *mem = stat_dir(cg, "memory", &mv2);
	cleanup_stat_text struct stat_text text = {0}, mstat = {0};
	int r;

	/* No existence check (vs_cg_stats's access()): a cgroup that is gone
	 * reads as missing files, all -1. */
	vs_cg_stats_init(st);
	if (acct != NULL && !v2) {
		r = stat_int(acct, "cpuacct.usage", &st->cpu_usage_usec, err);
		ns_to_usec(&st->cpu_usage_usec);
	} else {
		r = read_opt(cg->host->unified >= 0 ? cg->dirs[cg->host->unified] : NULL,
			     "cpu.stat", &text, err);
		if (r == 0 && text.s != NULL)
			key_or_unknown(text.s, "usage_usec", &st->cpu_usage_usec);
	}
	if (r < 0 || stat_int(mem, mv2 ? "memory.current" : "memory.usage_in_bytes",
			      &st->memory_current, err) < 0)
		return vs_error_prefix(err, "sample of cgroup %s/%s", cg->parent, cg->name);
	if (faults_from < 0 || st->memory_current < faults_from)
		return 0;
	if (read_opt(mem, "memory.stat", &mstat, err) < 0)
		return vs_error_prefix(err, "sample of cgroup %s/%s", cg->parent, cg->name);
	if (mstat.s != NULL)
		vs_cg_parse_memory_stat(mstat.s, mv2, st);
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

/* The directory and file of counter which in cg; false when the host
 * lacks its controller. */
static bool counter_file(struct vs_cg *cg, enum vs_cg_counter which, const char **dir,
			 const char **file)
{
	bool v2;

	switch (which) {
	case VS_CG_OOM_KILLS:
		*dir = stat_dir(cg, "memory", &v2);
		*file = v2 ? "memory.events" : "memory.oom_control";
		break;
	case VS_CG_CPU_USEC:
		/* As vs_cg_sample: cpuacct on v1, the unified cpu.stat else. */
		*dir = stat_dir(cg, "cpuacct", &v2);
		*file = "cpuacct.usage";
		if (*dir == NULL || v2) {
			*dir = cg->host->unified >= 0 ? cg->dirs[cg->host->unified] : NULL;
			*file = "cpu.stat";
		}
		break;
	case VS_CG_MEMORY_BYTES:
		*dir = stat_dir(cg, "memory", &v2);
		*file = v2 ? "memory.current" : "memory.usage_in_bytes";
		break;
	default:
		*dir = NULL;
	}
	return *dir != NULL;
}

/* The counter's file in the container's cgroup, or (parent) in the
 * instance's parent cgroup in the same hierarchy. */
static int counter_open(struct vs_cg *cg, enum vs_cg_counter which, bool parent,
			struct vs_error *err)
{
	const char *dir, *file;
	cleanup_free char *path = NULL;
	int fd;

	if (!counter_file(cg, which, &dir, &file))
		return vs_error_set(err, ENOENT, "no controller for counter %d of cgroup %s/%s",
				    (int)which, cg->parent, cg->name);
	/* dir is dirs[i] of one hierarchy i: the parent's is parent_dirs[i]. */
	for (size_t i = 0; parent && i < cg->host->n; i++)
		if (cg->dirs[i] == dir)
			dir = cg->parent_dirs[i];
	path = xasprintf("%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return vs_error_set(err, errno, "open %s", path);
	return fd;
}

int vs_cg_counter_open(struct vs_cg *cg, enum vs_cg_counter which, struct vs_error *err)
{
	return counter_open(cg, which, false, err);
}

int vs_cg_parent_counter_open(struct vs_cg *cg, enum vs_cg_counter which, struct vs_error *err)
{
	return counter_open(cg, which, true, err);
}

int vs_cg_counter_read(int fd, enum vs_cg_counter which, int64_t *v, struct vs_error *err)
{
	/* memory.events (8 short lines), memory.oom_control (3), cpu.stat
	 * (at most a dozen) and the one-number files fit. */
	char buf[1024], *end;
	ssize_t n;

	*v = -1;
	do {
		/* A cgroup file is a seq_file: reading at 0 makes it anew. */
		n = pread(fd, buf, sizeof(buf) - 1, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return vs_error_set(err, errno, "read cgroup counter %d", (int)which);
	if ((size_t)n == sizeof(buf) - 1)
		return vs_error_kind(err, VS_EK_TOO_LARGE,
				     "cgroup counter %d: the file is larger than expected",
				     (int)which);
	buf[n] = '\0';
	if (which == VS_CG_OOM_KILLS) {
		key_or_unknown(buf, "oom_kill", v);
		return 0;
	}
	/* v2's cpu.stat has keys; cpuacct.usage and the memory files are one
	 * number (cpuacct.usage in nanoseconds). */
	if (which == VS_CG_CPU_USEC && vs_cg_parse_key(buf, "usage_usec", v))
		return 0;
	errno = 0;
	*v = strtoll(buf, &end, 10);
	if (errno != 0 || end == buf || (*end != '\n' && *end != '\0') || *v < 0) {
		*v = -1;
		return 0;
	}
	if (which == VS_CG_CPU_USEC)
		ns_to_usec(v);
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
