/* Host layout: which cgroup hierarchies are mounted under the cgroup mount
 * point, found from mountinfo (not by probing directories, which anyone
 * with write access to the tmpfs at /sys/fs/cgroup could fake), read by
 * lib/vs_mountinfo (libmount). */
#include "cgroups/cg-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vs_io.h"
#include "lib/vs_mountinfo.h"
#include "lib/vs_util.h"

/* v1 mount options that select a controller. Anything else in the super
 * options (rw, xattr, noprefix, clone_children, release_agent=...) is not a
 * controller. "name=..." names a controller-less hierarchy (systemd's). */
static const char *const v1_controllers[] = {
    "cpu",	"cpuacct",    "cpuset",	 "memory", "devices", "freezer", "blkio", "net_cls",
    "net_prio", "perf_event", "hugetlb", "pids",   "rdma",    "misc",	 "debug", NULL,
};

bool vs_cg_strv_has(char *const *v, const char *s)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static void strv_push(char ***v, size_t *n, char *s)
{
	*v = xrealloc(*v, (*n + 2) * sizeof(char *));
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

static void hier_clear(struct vs_cg_hier *hi)
{
	free(hi->mount);
	free(hi->name);
	free(hi->dev);
	free(hi->options);
	vs_strv_free(hi->controllers);
	memset(hi, 0, sizeof(*hi));
}

void vs_cg_host_free(struct vs_cg_host *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->n; i++)
		hier_clear(&h->hier[i]);
	free(h->hier);
	free(h->mnt);
	vs_strv_free(h->v1_opts);
	free(h->describe);
	free(h);
}

static void host_freep(struct vs_cg_host **h)
{
	vs_cg_host_free(*h);
	*h = NULL;
}

/* The fields of one mount that matter here. */
struct mi_entry {
	const char *dev; /* "0:31": a hierarchy bind-mounted twice has one */
	const char *mountpoint;
	const char *fstype;
	const char *superopts;
};

/* Split v1 super options into the controllers they select. */
static char **v1_split(const char *superopts)
{
	cleanup_free char *copy = xstrdup(superopts);
	char **v = xcalloc(1, sizeof(char *)), *save = NULL;
	size_t n = 0;

	for (char *o = strtok_r(copy, ",", &save); o != NULL; o = strtok_r(NULL, ",", &save)) {
		bool known = strncmp(o, "name=", 5) == 0 && o[5] != '\0';

		for (size_t i = 0; !known && v1_controllers[i] != NULL; i++)
			known = strcmp(o, v1_controllers[i]) == 0;
		if (known && !vs_cg_strv_has(v, o))
			strv_push(&v, &n, xstrdup(o));
	}
	return v;
}

static char *strv_join(char *const *v, const char *sep)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		len += strlen(v[i]) + strlen(sep);
	s = xcalloc(1, len);
	for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
		if (i > 0)
			strcat(s, sep);
		strcat(s, v[i]);
	}
	return s;
}

/* Parse state: the mount at mnt itself and the mounts one level below it.
 * A later mount on the same point hides the earlier one, and a later mount
 * on mnt hides everything mounted below it before. */
struct mi_state {
	const char *mnt;
	size_t mnt_len;
	bool top_cgroup2;
	char *top_dev;
	struct vs_cg_hier *child;
	size_t nchild;
};

static void mi_drop_child(struct mi_state *st, const char *mountpoint)
{
	for (size_t i = 0; i < st->nchild; i++) {
		if (strcmp(st->child[i].mount, mountpoint) != 0)
			continue;
		hier_clear(&st->child[i]);
		memmove(&st->child[i], &st->child[i + 1],
			(st->nchild - i - 1) * sizeof(*st->child));
		st->nchild--;
		return;
	}
}

static void mi_add(struct mi_state *st, const struct mi_entry *e)
{
	bool v1 = strcmp(e->fstype, "cgroup") == 0, v2 = strcmp(e->fstype, "cgroup2") == 0;
	const char *mp = e->mountpoint, *rest;
	struct vs_cg_hier *hi;

	if (strcmp(mp, st->mnt) == 0) {
		for (size_t i = 0; i < st->nchild; i++)
			hier_clear(&st->child[i]);
		st->nchild = 0;
		st->top_cgroup2 = v2;
		free(st->top_dev);
		st->top_dev = v2 ? xstrdup(e->dev) : NULL;
		return;
	}
	rest = mp + st->mnt_len;
	if (strncmp(mp, st->mnt, st->mnt_len) != 0 || (st->mnt_len > 1 && *rest++ != '/') ||
	    *rest == '\0' || strchr(rest, '/') != NULL)
		return;
	mi_drop_child(st, mp);
	/* Only cgroup2 at <mnt>/unified is the hybrid layout; other cgroup2
	 * mounts down here are someone else's. */
	if (!v1 && !(v2 && strcmp(rest, "unified") == 0))
		return;
	st->child = xrealloc(st->child, (st->nchild + 1) * sizeof(*st->child));
	hi = &st->child[st->nchild++];
	memset(hi, 0, sizeof(*hi));
	hi->mount = xstrdup(mp);
	hi->name = xstrdup(rest);
	hi->dev = xstrdup(e->dev);
	hi->v2 = v2;
	hi->controllers = v2 ? xcalloc(1, sizeof(char *)) : v1_split(e->superopts);
	hi->options = v2 ? NULL : strv_join(hi->controllers, ",");
}

static void host_add(struct vs_cg_host *h, struct vs_cg_hier *hi)
{
	for (size_t i = 0; i < h->n; i++) {
		/* The same hierarchy bind-mounted twice: use it once. */
		if (strcmp(h->hier[i].dev, hi->dev) == 0) {
			hier_clear(hi);
			return;
		}
	}
	h->hier = xrealloc(h->hier, (h->n + 1) * sizeof(*h->hier));
	h->hier[h->n++] = *hi;
	memset(hi, 0, sizeof(*hi));
}

static void mi_to_host(struct mi_state *st, struct vs_cg_host *h)
{
	h->unified = -1;
	if (st->top_cgroup2) {
		struct vs_cg_hier hi = {
		    .mount = xstrdup(st->mnt),
		    .name = xstrdup("unified"),
		    .dev = xstrdup(st->top_dev),
		    .controllers = xcalloc(1, sizeof(char *)),
		    .v2 = true,
		};
		h->mode = VS_CG_UNIFIED;
		host_add(h, &hi);
		h->unified = 0;
		return;
	}
	for (size_t i = 0; i < st->nchild; i++)
		if (!st->child[i].v2)
			host_add(h, &st->child[i]);
	for (size_t i = 0; i < st->nchild; i++) {
		if (st->child[i].v2) {
			host_add(h, &st->child[i]);
			h->unified = (int)h->n - 1;
		}
	}
	h->mode = h->unified >= 0 ? VS_CG_HYBRID : VS_CG_LEGACY;
}

/* (Re)build the derived strings: v1 option list and description. */
static void host_finish(struct vs_cg_host *h)
{
	char **v1 = xcalloc(1, sizeof(char *)), **ctl = xcalloc(1, sizeof(char *));
	size_t n1 = 0, nc = 0;
	cleanup_free char *v1s = NULL;
	cleanup_free char *v2s = NULL;

	for (size_t i = 0; i < h->n; i++) {
		if (h->hier[i].v2)
			continue;
		strv_push(&v1, &n1, xstrdup(h->hier[i].options));
		for (size_t j = 0; h->hier[i].controllers[j] != NULL; j++)
			strv_push(&ctl, &nc, xstrdup(h->hier[i].controllers[j]));
	}
	v1s = strv_join(ctl, ",");
	v2s = h->unified >= 0 ? strv_join(h->hier[h->unified].controllers, ",") : xstrdup("");
	vs_strv_free(ctl);
	vs_strv_free(h->v1_opts);
	h->v1_opts = v1;
	free(h->describe);
	if (h->mode == VS_CG_UNIFIED)
		h->describe = xasprintf("unified: %s", *v2s ? v2s : "(no controllers)");
	else if (h->mode == VS_CG_HYBRID)
		h->describe = xasprintf("hybrid: %s (v1) + unified%s%s%s", v1s, *v2s ? " (" : "",
					v2s, *v2s ? ")" : "");
	else
		h->describe = xasprintf("legacy: %s (v1)", v1s);
}

static char *normalize_mnt(const char *mnt)
{
	char *m = xstrdup(mnt);
	size_t len = strlen(m);

	while (len > 1 && m[len - 1] == '/')
		m[--len] = '\0';
	return m;
}

static int mi_visit(const struct vs_mount *m, void *ud, struct vs_error *err)
{
	char dev[32];
	const struct mi_entry e = {.dev = dev,
				   .mountpoint = m->target,
				   .fstype = m->fstype,
				   .superopts = m->super_options};

	snprintf(dev, sizeof(dev), "%u:%u", m->major, m->minor);
	mi_add(ud, &e);
	return 0;
}

int vs_cg_host_parse(const char *mnt, const char *mountinfo, struct vs_cg_host **out,
		     struct vs_error *err)
{
	cleanup_free char *m = NULL;
	struct vs_cg_host *h __attribute__((cleanup(host_freep))) = NULL;
	struct mi_state st = {0};
	int r;

	if (mnt == NULL || mnt[0] != '/')
		return vs_error_kind(err, VS_EK_INVALID, "cgroup mount point '%s': not absolute",
				     mnt ? mnt : "(null)");
	m = normalize_mnt(mnt);
	st.mnt = m;
	st.mnt_len = strlen(m);
	r = vs_mountinfo_parse(mountinfo, strlen(mountinfo), mi_visit, &st, err);
	h = xcalloc(1, sizeof(*h));
	h->mnt = steal_ptr(&m);
	if (r == 0)
		mi_to_host(&st, h);
	for (size_t i = 0; i < st.nchild; i++)
		hier_clear(&st.child[i]);
	free(st.child);
	free(st.top_dev);
	if (r < 0)
		return -1;
	if (h->n == 0)
		return vs_error_kind(err, VS_EK_NOT_FOUND, "no cgroup hierarchy mounted at %s",
				     h->mnt);
	host_finish(h);
	*out = steal_ptr(&h);
	return 0;
}

/* cgroup.controllers of the cgroup2 root: what can be enabled below it. */
static int read_v2_controllers(struct vs_cg_hier *hi, struct vs_error *err)
{
	cleanup_free char *text = NULL;
	char *save = NULL;
	size_t n = 0;

	if (vs_cg_read(hi->mount, "cgroup.controllers", &text, err) < 0)
		return -1;
	vs_strv_free(hi->controllers);
	hi->controllers = xcalloc(1, sizeof(char *));
	for (char *c = strtok_r(text, " \n", &save); c != NULL; c = strtok_r(NULL, " \n", &save))
		strv_push(&hi->controllers, &n, xstrdup(c));
	return 0;
}

/* SwapTotal of /proc/meminfo is above 0. */
static bool host_has_swap(void)
{
	cleanup_free char *text = NULL;
	const char *p;

	if (vs_read_file_at(AT_FDCWD, "/proc/meminfo", 1 << 16, &text, NULL, NULL) < 0)
		return false;
	p = strstr(text, "SwapTotal:");
	return p != NULL && strtoll(p + 10, NULL, 10) > 0;
}

/* The files a controller's root offers tell what it can enforce. A v2 root
 * has no memory.swap.max or io.max itself: swap accounting is on unless
 * the kernel was told otherwise, io.max comes with the io controller, and
 * io.weight needs the io.cost controller (io.cost.qos at the root) or BFQ
 * (io.bfq.weight files once it is loaded). */
static void detect_facts(struct vs_cg_host *h)
{
	int m = vs_cg_find(h, "memory"), b = vs_cg_find(h, "blkio");
	struct vs_cg_host_facts *f = &h->facts;

	if (b < 0)
		b = vs_cg_find(h, "io");
	f->host_swap = host_has_swap();
	if (m >= 0)
		f->swap_accounting =
		    h->hier[m].v2 ? true
				  : vs_cg_exists(h->hier[m].mount, "memory.memsw.limit_in_bytes");
	if (b >= 0 && !h->hier[b].v2) {
		f->io_throttle = vs_cg_exists(h->hier[b].mount, "blkio.throttle.read_bps_device");
		f->io_weight = vs_cg_exists(h->hier[b].mount, "blkio.bfq.weight");
	} else if (b >= 0) {
		f->io_throttle = true;
		cleanup_free char *qos = NULL;

		/* io.weight does nothing until io.cost is enabled on a device. */
		f->io_weight = (vs_cg_read(h->hier[b].mount, "io.cost.qos", &qos, NULL) == 0 &&
				strstr(qos, "enable=1") != NULL) ||
			       vs_cg_exists(h->hier[b].mount, "io.bfq.weight");
	}
}

void vs_cg_host_get_facts(const struct vs_cg_host *h, struct vs_cg_host_facts *f)
{
	*f = h->facts;
}

void vs_cg_host_set_facts(struct vs_cg_host *h, const struct vs_cg_host_facts *f)
{
	h->facts = *f;
}

int vs_cg_host_detect(const char *mnt, struct vs_cg_host **out, struct vs_error *err)
{
	struct vs_cg_host *h __attribute__((cleanup(host_freep))) = NULL;
	cleanup_free char *text = NULL;

	if (vs_read_file_at(AT_FDCWD, "/proc/self/mountinfo", 16 << 20, &text, NULL, err) < 0)
		return -1;
	if (vs_cg_host_parse(mnt, text, &h, err) < 0)
		return -1;
	if (h->unified >= 0 && read_v2_controllers(&h->hier[h->unified], err) < 0)
		return vs_error_prefix(err, "cgroup2 at %s", h->hier[h->unified].mount);
	detect_facts(h);
	host_finish(h);
	*out = steal_ptr(&h);
	return 0;
}

enum vs_cg_mode vs_cg_host_mode(const struct vs_cg_host *h)
{
	return h->mode;
}

const char *vs_cg_host_describe(const struct vs_cg_host *h)
{
	return h->describe;
}

int vs_cg_find(const struct vs_cg_host *h, const char *ctrl)
{
	for (size_t i = 0; i < h->n; i++)
		if (!h->hier[i].v2 && vs_cg_strv_has(h->hier[i].controllers, ctrl))
			return (int)i;
	if (h->unified >= 0 && vs_cg_strv_has(h->hier[h->unified].controllers, ctrl))
		return h->unified;
	return -1;
}

enum vs_cg_guest_layout vs_cg_guest_layout(const struct vs_cg_host *h)
{
	return h->unified >= 0 ? VS_CG_GUEST_UNIFIED : VS_CG_GUEST_HYBRID;
}

const char *const *vs_cg_v1_controllers(const struct vs_cg_host *h)
{
	return (const char *const *)h->v1_opts;
}
