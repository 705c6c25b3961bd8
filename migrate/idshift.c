/* Moving a CRIU image to another id range (vs_mig_image_shift_ids).
 *
 * What CRIU 4.x stores for a task in a user namespace, checked in its
 * sources (criu/ and images/):
 *  - relative to the namespace (nothing to do): credentials and file
 *    owners (fown) are read by the parasite inside the task; loginuid,
 *    ghost files, memfds, ttys, SysV IPC permissions, unix socket files
 *    and the uid=/gid= mount options go through userns_uid()/userns_gid();
 *    tmpfs contents are archived by a tar run inside the user namespace;
 *  - host ids: the user namespace's own maps (userns-*.img, lower_first),
 *    the owners of the cgroups CRIU recreates (cgroup.img, from its own
 *    fstat: vsd delegates the container's cgroups to its root), and the
 *    owner/group of tun devices (netdev-*.img, from sysfs read by CRIU);
 *    autofs's uid/gid options too, but vsd refuses autofs mounts.
 * The rewrite is driven by a small table of those fields; everything else
 * is copied byte for byte, so an unchanged message keeps its encoding. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "migrate/mig-private.h"
#include "migrate/vs_migrate.h"

#define IMG_MAX	  (16u << 20)
#define DEPTH_MAX 256 /* cgroup directories nest; nothing real comes close */
#define FILES_MAX 4096

enum kind {
	K_ID,	  /* a uint32/int32 host id: shifted when in the range */
	K_MSG,	  /* a nested message holding ids somewhere */
	K_EXTENT, /* a uid_gid_extent: the whole extent must be in the range */
};

struct schema;
struct rule {
	uint32_t num;
	enum kind kind;
	const struct schema *sub; /* K_MSG */
	const char *what;	  /* K_EXTENT: "uid_map" */
};
struct schema {
	const struct rule *rules;
	size_t n;
};
#define SCHEMA(r)                                                                                  \
	{                                                                                          \
		r, VS_ARRAY_SIZE(r)                                                                \
	}

/* images/cgroup.proto: cgroup_perms {mode 1, uid 2, gid 3} in
 * cgroup_prop_entry.perms (3) and cgroup_dir_entry.dir_perms (4);
 * cgroup_dir_entry.children (2) nests; cg_controller_entry.dirs (2);
 * cgroup_entry.controllers (2). */
static const struct rule perms_r[] = {{2, K_ID, NULL, NULL}, {3, K_ID, NULL, NULL}};
static const struct schema perms_s = SCHEMA(perms_r);
static const struct rule prop_r[] = {{3, K_MSG, &perms_s, NULL}};
static const struct schema prop_s = SCHEMA(prop_r);
static const struct schema cgdir_s;
static const struct rule cgdir_r[] = {
    {2, K_MSG, &cgdir_s, NULL}, {3, K_MSG, &prop_s, NULL}, {4, K_MSG, &perms_s, NULL}};
static const struct schema cgdir_s = SCHEMA(cgdir_r);
static const struct rule ctl_r[] = {{2, K_MSG, &cgdir_s, NULL}};
static const struct schema ctl_s = SCHEMA(ctl_r);
static const struct rule cgroup_r[] = {{2, K_MSG, &ctl_s, NULL}};
static const struct schema cgroup_s = SCHEMA(cgroup_r);

/* images/userns.proto: userns_entry {uid_map 1, gid_map 2} of
 * uid_gid_extent {first 1, lower_first 2, count 3}. */
static const struct rule userns_r[] = {{1, K_EXTENT, NULL, "uid_map"},
				       {2, K_EXTENT, NULL, "gid_map"}};
static const struct schema userns_s = SCHEMA(userns_r);
static const struct rule lower_r[] = {{2, K_ID, NULL, NULL}};
static const struct schema lower_s = SCHEMA(lower_r);

/* images/netdev.proto: net_device_entry.tun (6), tun_link_entry {owner 2,
 * group 3} (int32, -1 for none). */
static const struct rule tun_r[] = {{2, K_ID, NULL, NULL}, {3, K_ID, NULL, NULL}};
static const struct schema tun_s = SCHEMA(tun_r);
static const struct rule netdev_r[] = {{6, K_MSG, &tun_s, NULL}};
static const struct schema netdev_s = SCHEMA(netdev_r);

struct shift {
	uint32_t from, to, count;
	const char *file;
	struct vs_error *err;
};

static bool in_range(const struct shift *s, uint64_t id)
{
	return id >= s->from && id - s->from < s->count;
}

/* The table for an image file name, or NULL when vsd leaves it alone. */
static const struct schema *schema_for(const char *name, bool *userns)
{
	size_t n = strlen(name);

	*userns = false;
	if (n <= 4 || strcmp(name + n - 4, ".img") != 0)
		return NULL;
	if (strncmp(name, "userns-", 7) == 0) {
		*userns = true;
		return &userns_s;
	}
	if (strcmp(name, "cgroup.img") == 0)
		return &cgroup_s;
	if (strncmp(name, "netdev-", 7) == 0)
		return &netdev_s;
	return NULL;
}

static int rewrite(const struct shift *s, struct vs_mig_pb m, const struct schema *sc, int depth,
		   struct vs_mig_pbw *out);

/* uid_gid_extent: lower_first (and the count after it) inside the range. */
static int extent(const struct shift *s, const struct rule *ru, struct vs_mig_pb m,
		  struct vs_mig_pbw *out)
{
	struct vs_mig_pb pb = m;
	struct vs_mig_pb_field f;
	uint64_t v[3] = {0};
	bool seen[3] = {false};
	int r;

	while ((r = vs_mig_pb_next(&pb, &f)) > 0)
		if (f.num >= 1 && f.num <= 3 && f.wt == 0) {
			v[f.num - 1] = f.v;
			seen[f.num - 1] = true;
		}
	if (r < 0 || !seen[0] || !seen[1] || !seen[2])
		return vs_error_kind(s->err, VS_EK_INVALID, "image %s: malformed %s", s->file,
				     ru->what);
	if (!in_range(s, v[1]) || v[2] == 0 || v[2] > s->count - (v[1] - s->from))
		return vs_error_kind(s->err, VS_EK_INVALID,
				     "image %s: %s \"%llu %llu %llu\" is not inside the id range "
				     "%u-%u",
				     s->file, ru->what, (unsigned long long)v[0],
				     (unsigned long long)v[1], (unsigned long long)v[2], s->from,
				     s->from + s->count - 1);
	return rewrite(s, m, &lower_s, 1, out);
}

/* One field with a rule: append its new encoding, or its bytes [start,
 * end) when it does not change. */
static int field(const struct shift *s, const struct rule *ru, const struct vs_mig_pb_field *f,
		 const uint8_t *start, const uint8_t *end, int depth, struct vs_mig_pbw *out)
{
	cleanup_free uint8_t *sub = NULL;
	struct vs_mig_pbw w = {0};
	size_t n;

	if (ru->kind == K_ID) {
		if (f->wt != 0)
			return vs_error_kind(s->err, VS_EK_INVALID, "image %s: malformed id field",
					     s->file);
		if (!in_range(s, f->v)) {
			vs_mig_pbw_bytes(out, start, (size_t)(end - start));
			return 0;
		}
		vs_mig_pbw_varint(out, (uint64_t)f->num << 3);
		vs_mig_pbw_varint(out, f->v - s->from + s->to);
		return 0;
	}
	if (f->wt != 2)
		return vs_error_kind(s->err, VS_EK_INVALID, "image %s: malformed message field",
				     s->file);
	if ((ru->kind == K_EXTENT ? extent(s, ru, f->sub, &w)
				  : rewrite(s, f->sub, ru->sub, depth + 1, &w)) < 0) {
		vs_mig_pbw_free(&w);
		return -1;
	}
	sub = w.p;
	n = (size_t)(f->sub.end - f->sub.p);
	if (w.len == n && (n == 0 || memcmp(w.p, f->sub.p, n) == 0)) {
		vs_mig_pbw_bytes(out, start, (size_t)(end - start));
		return 0;
	}
	vs_mig_pbw_varint(out, (uint64_t)f->num << 3 | 2);
	vs_mig_pbw_varint(out, w.len);
	vs_mig_pbw_bytes(out, w.p, w.len);
	return 0;
}

static int rewrite(const struct shift *s, struct vs_mig_pb m, const struct schema *sc, int depth,
		   struct vs_mig_pbw *out)
{
	struct vs_mig_pb_field f;
	const uint8_t *start = m.p;
	int r;

	if (depth > DEPTH_MAX)
		return vs_error_kind(s->err, VS_EK_INVALID, "image %s: nested too deep", s->file);
	while ((r = vs_mig_pb_next(&m, &f)) > 0) {
		const struct rule *ru = NULL;
		for (size_t k = 0; k < sc->n && ru == NULL; k++)
			if (sc->rules[k].num == f.num)
				ru = &sc->rules[k];
		if (ru == NULL)
			vs_mig_pbw_bytes(out, start, (size_t)(m.p - start));
		else if (field(s, ru, &f, start, m.p, depth, out) < 0)
			return -1;
		start = m.p;
	}
	if (r < 0)
		return vs_error_kind(s->err, VS_EK_INVALID, "image %s: malformed", s->file);
	return 0;
}

static int shift_entries(const struct shift *s, const struct schema *sc, const uint8_t *data,
			 size_t len, struct vs_mig_pbw *out)
{
	struct vs_mig_pb entries, msg;
	uint32_t magic;
	int r;

	if (vs_mig_img_open(data, len, &entries, &magic) < 0)
		return vs_error_kind(s->err, VS_EK_INVALID, "image %s: malformed", s->file);
	vs_mig_pbw_bytes(out, data, (size_t)(entries.p - data));
	while ((r = vs_mig_img_next(&entries, &msg)) > 0) {
		struct vs_mig_pbw w = {0};
		uint32_t n;
		if (rewrite(s, msg, sc, 0, &w) < 0) {
			vs_mig_pbw_free(&w);
			return -1;
		}
		if (w.len > UINT32_MAX) {
			vs_mig_pbw_free(&w);
			return vs_error_kind(s->err, VS_EK_INVALID, "image %s: entry too long",
					     s->file);
		}
		n = (uint32_t)w.len; /* little endian, as CRIU writes it (x86, arm64) */
		vs_mig_pbw_bytes(out, &n, 4);
		vs_mig_pbw_bytes(out, w.p, w.len);
		vs_mig_pbw_free(&w);
	}
	if (r < 0)
		return vs_error_kind(s->err, VS_EK_INVALID, "image %s: malformed", s->file);
	return 0;
}

int vs_mig_image_shift_file(const char *name, const uint8_t *data, size_t len, uint32_t from,
			    uint32_t to, uint32_t count, struct vs_mig_pbw *out,
			    struct vs_error *err)
{
	struct shift s = {.from = from, .to = to, .count = count, .file = name, .err = err};
	bool userns;
	const struct schema *sc = schema_for(name, &userns);

	memset(out, 0, sizeof(*out));
	/* CRIU leaves some images empty; nothing to shift in those. */
	if (sc == NULL || (len == 0 && !userns)) {
		vs_mig_pbw_bytes(out, data, len);
		return 0;
	}
	if (shift_entries(&s, sc, data, len, out) < 0) {
		vs_mig_pbw_free(out);
		return -1;
	}
	return 0;
}

/* One image file to shift: its name, mode and new bytes. */
struct pending {
	char *name;
	mode_t mode;
	bool changed;
	struct vs_mig_pbw out;
};

static void pending_free(struct pending *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].name);
		vs_mig_pbw_free(&p[i].out);
	}
	free(p);
}

static int shift_one(int dirfd, const char *name, uint32_t from, uint32_t to, uint32_t count,
		     struct pending *p, struct vs_error *err)
{
	cleanup_free char *data = NULL;
	size_t len = 0;
	struct stat st;

	/* Never follow a link planted in an image directory. */
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return vs_error_set(err, errno, "image %s", name);
	if (!S_ISREG(st.st_mode))
		return vs_error_kind(err, VS_EK_INVALID, "image %s: not a regular file", name);
	if (vs_read_file_at(dirfd, name, IMG_MAX, &data, &len, err) < 0)
		return vs_error_prefix(err, "image %s", name);
	if (vs_mig_image_shift_file(name, (const uint8_t *)data, len, from, to, count, &p->out,
				    err) < 0)
		return -1;
	p->name = xstrdup(name);
	p->mode = st.st_mode & 07777;
	p->changed = p->out.len != len || memcmp(p->out.p, data, len) != 0;
	return 0;
}

/* Read and re-encode every image vsd shifts, writing nothing. */
static int collect(int dirfd, uint32_t from, uint32_t to, uint32_t count, struct pending **out,
		   size_t *n, struct vs_error *err)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *e;
	size_t nuserns = 0;
	int fd = dup(dirfd);

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		return vs_error_set(err, saved, "read image directory");
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		bool userns;
		if (schema_for(e->d_name, &userns) == NULL)
			continue;
		if (*n == FILES_MAX)
			return vs_error_kind(err, VS_EK_INVALID, "image: too many files");
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		memset(&(*out)[*n], 0, sizeof(**out));
		if (shift_one(dirfd, e->d_name, from, to, count, &(*out)[(*n)++], err) < 0)
			return -1;
		nuserns += userns;
	}
	if (nuserns == 0)
		return vs_error_kind(err, VS_EK_INVALID,
				     "image: no userns-*.img (not the image "
				     "of a container in a user namespace)");
	return 0;
}

int vs_mig_image_shift_ids(int dirfd, uint32_t from, uint32_t to, uint32_t count,
			   struct vs_error *err)
{
	struct pending *p = NULL;
	size_t n = 0;
	int rc = 0;

	if (count == 0 || (uint64_t)from + count > UINT32_MAX || (uint64_t)to + count > UINT32_MAX)
		return vs_error_kind(err, VS_EK_INVALID, "id range shift %u -> %u x %u: bad range",
				     from, to, count);
	if (collect(dirfd, from, to, count, &p, &n, err) < 0) {
		pending_free(p, n);
		return -1;
	}
	for (size_t i = 0; i < n && rc == 0; i++)
		if (p[i].changed && vs_atomic_write_at(dirfd, p[i].name, p[i].out.p, p[i].out.len,
						       p[i].mode, err) < 0)
			rc = vs_error_prefix(err, "image %s", p[i].name);
	pending_free(p, n);
	return rc;
}
