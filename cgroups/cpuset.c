/* cpuset: an explicit CPU list, or the automatic one that makes nproc
 * inside a container show its CPU cap rounded up (LXD's limits.cpu does
 * the same), or every online CPU. */
#include "cgroups/cg-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vs_io.h"
#include "lib/vs_util.h"

#define NWORDS (VS_CPUS_MAX / 64)

static bool has(const uint64_t *bits, int cpu)
{
	return (bits[cpu / 64] >> (cpu % 64)) & 1;
}

static void set_bit(uint64_t *bits, int cpu)
{
	bits[cpu / 64] |= UINT64_C(1) << (cpu % 64);
}

int vs_cg_online_cpus(uint64_t bits[VS_CPUS_MAX / 64], struct vs_error *err)
{
	cleanup_free char *text = NULL;
	size_t len;
	int n;

	if (vs_read_file_at(AT_FDCWD, "/sys/devices/system/cpu/online", 4096, &text, &len, err) < 0)
		return -1;
	while (len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	n = vs_cpuset_bits(text, bits);
	if (n <= 0)
		return vs_error_kind(err, VS_EK_INVALID, "online CPUs '%s': not a CPU list", text);
	return n;
}

/* The canonical list ("0-2,5") of a bitmap. */
static void format_cpus(const uint64_t *bits, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int c = 0; c < VS_CPUS_MAX; c++) {
		int end = c;

		if (!has(bits, c))
			continue;
		while (end + 1 < VS_CPUS_MAX && has(bits, end + 1))
			end++;
		used += (size_t)snprintf(buf + used, len > used ? len - used : 0,
					 end > c ? "%s%d-%d" : "%s%d", used ? "," : "", c, end);
		c = end;
	}
}

int vs_cg_check_cpuset(const struct vs_limits *l, struct vs_error *err)
{
	uint64_t want[NWORDS] = {0}, online[NWORDS] = {0};

	if (l->cpuset[0] == '\0')
		return 0;
	if (vs_cpuset_bits(l->cpuset, want) <= 0)
		return vs_error_kind(err, VS_EK_INVALID, "limits.cpuset '%s': not a CPU list",
				     l->cpuset);
	if (vs_cg_online_cpus(online, err) < 0)
		return -1;
	for (int c = 0; c < VS_CPUS_MAX; c++)
		if (has(want, c) && !has(online, c))
			return vs_error_kind(err, VS_EK_INVALID,
					     "limits.cpuset '%s': CPU %d is not online", l->cpuset,
					     c);
	return 0;
}

/* Add to use[] one count per CPU for every sibling cgroup of self in dir
 * (the directory holding the container's cgroup) whose cpuset.cpus is not
 * every online CPU: those are the containers pinned somewhere. */
static void count_siblings(const char *dir, const char *self, const uint64_t *online, int *use)
{
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		cleanup_free char *sub = NULL;
		cleanup_free char *cpus = NULL;
		uint64_t bits[NWORDS] = {0};
		int n = 0, total = 0;

		if (de->d_type != DT_DIR || de->d_name[0] == '.' || strcmp(de->d_name, self) == 0)
			continue;
		sub = xasprintf("%s/%s", dir, de->d_name);
		if (vs_cg_read(sub, "cpuset.cpus", &cpus, NULL) < 0 || cpus[0] == '\0' ||
		    vs_cpuset_bits(cpus, bits) <= 0)
			continue;
		for (int c = 0; c < VS_CPUS_MAX; c++) {
			total += has(online, c);
			n += has(online, c) && has(bits, c);
		}
		if (n == total)
			continue;
		for (int c = 0; c < VS_CPUS_MAX; c++)
			use[c] += has(online, c) && has(bits, c);
	}
}

/* Choose `want` online CPUs: keep the current set when it already has that
 * many (stable across live updates); else the least used by the siblings,
 * preferring CPUs already held, then lower numbers. */
static void choose_auto(const char *dir, const char *self, const char *current,
			const uint64_t *online, int want, uint64_t *out)
{
	uint64_t cur[NWORDS] = {0};
	int use[VS_CPUS_MAX]; /* 4 KiB: on the stack, so threads may apply at once */
	int n = 0;

	if (current != NULL && current[0] != '\0' && vs_cpuset_bits(current, cur) == want) {
		bool all_online = true;

		for (int c = 0; c < VS_CPUS_MAX; c++)
			if (has(cur, c) && !has(online, c))
				all_online = false;
		if (all_online) {
			memcpy(out, cur, sizeof(cur));
			return;
		}
	}
	memset(use, 0, sizeof(use));
	count_siblings(dir, self, online, use);
	for (; n < want; n++) {
		int best = -1;

		for (int c = 0; c < VS_CPUS_MAX; c++) {
			if (!has(online, c) || has(out, c))
				continue;
			if (best < 0 || use[c] < use[best] ||
			    (use[c] == use[best] && has(cur, c) && !has(cur, best)))
				best = c;
		}
		if (best < 0)
			break;
		set_bit(out, best);
	}
}

/* The directory holding dir (its parent), into buf. */
static void dir_of(const char *dir, char *buf, size_t len)
{
	char *slash;

	snprintf(buf, len, "%s", dir);
	slash = strrchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
}

int vs_cg_apply_cpuset(struct vs_cg *cg, const struct vs_limits *l, struct vs_error *err)
{
	uint64_t online[NWORDS] = {0}, bits[NWORDS] = {0};
	cleanup_free char *current = NULL;
	cleanup_free char *mems = NULL;
	char list[4096], up[4096];
	int v, n_online, want;
	const char *dir = ctrl_dir(cg, "cpuset", &v);

	/* A pool's cpuset stays its parent's (copied at creation), so members
	 * can be pinned anywhere. */
	if (cg->is_pool)
		return 0;
	if (dir == NULL)
		return l->cpuset[0] != '\0' ? vs_error_kind(err, VS_EK_UNSUPPORTED,
							    "cpuset limit: no cpuset controller "
							    "on this host")
					    : 0;
	if ((n_online = vs_cg_online_cpus(online, err)) < 0)
		return -1;
	want = l->cpus_milli > 0 ? (int)((l->cpus_milli + 999) / 1000) : 0;
	dir_of(dir, up, sizeof(up));
	if (l->cpuset[0] != '\0') {
		snprintf(list, sizeof(list), "%s", l->cpuset);
	} else if (want > 0 && want < n_online) {
		(void)vs_cg_read(dir, "cpuset.cpus", &current, NULL);
		choose_auto(up, cg->name, current, online, want, bits);
		format_cpus(bits, list, sizeof(list));
	} else {
		format_cpus(online, list, sizeof(list));
	}
	/* v1 refuses tasks in a cpuset without memory nodes; a cgroup made
	 * before the parent had any would still lack them. */
	if (v == V1 && vs_cg_read(dir, "cpuset.mems", &mems, err) == 0 && mems[0] == '\0') {
		free(mems);
		mems = NULL;
		if (vs_cg_read(up, "cpuset.mems", &mems, err) < 0 ||
		    vs_cg_write(dir, "cpuset.mems", mems, err) < 0)
			return -1;
	}
	return vs_cg_write(dir, "cpuset.cpus", list, err);
}
