/* Checks of a CRIU image before vsd restores it (see vs_mig_image_check in
 * vs_migrate.h for the rules and docs/checkpoint-images.md for the why).
 * CRIU trusts its images: it recreates whatever namespaces, credentials and
 * mounts they describe, with the privileges of the root that runs it. So
 * an image that names the host's user namespace, or a capability the
 * container does not have, or a host file system, is refused here, before
 * CRIU sees it. Field numbers are CRIU's images/ *.proto (stable: CRIU keeps
 * old images readable). */
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
#define MAX_FILES 65536
/* CRIU's task_state of a zombie (criu/include/pstree.h, compel's TASK_DEAD). */
#define CRIU_TASK_DEAD 2

/* task_kobj_ids_entry: namespace ids, fields 5..12. */
enum { NS_PID, NS_NET, NS_IPC, NS_UTS, NS_MNT, NS_USER, NS_CGROUP, NS_TIME, NS_N };
static const char *const ns_names[NS_N] = {"pid", "net",  "ipc",    "uts",
					   "mnt", "user", "cgroup", "time"};
struct ns_ids {
	uint32_t id[NS_N];
	bool has[NS_N];
};

/* mnt_entry.fstype values (images/mnt.proto) vsd lets an image mount. */
enum {
	FS_PROC = 1,
	FS_SYSFS = 2,
	FS_TMPFS = 5,
	FS_DEVPTS = 6,
	FS_CGROUP = 12,
	FS_MQUEUE = 14,
	FS_OVERLAY = 17,
	FS_CGROUP2 = 23
};

/* A declared external mount: binds from it are copies of what vsd chose. */
struct ext_src {
	uint32_t root_dev;
	char root[512];
};

struct ctx {
	const struct vs_mig_image_policy *pol;
	struct ext_src *exts;
	size_t nexts;
	const struct vs_mig_img_file *files;
	size_t n;
	struct ns_ids host;
	bool have_host;
	struct vs_error *err;
};

/* Refuse, naming the image file. */
#define bad(c, file, fmt, ...)                                                                     \
	vs_error_kind((c)->err, VS_EK_INVALID, "image %s: " fmt, file, __VA_ARGS__)

static int parse_ids(struct vs_mig_pb m, struct ns_ids *ids)
{
	struct vs_mig_pb_field f;
	int r;

	memset(ids, 0, sizeof(*ids));
	while ((r = vs_mig_pb_next(&m, &f)) > 0)
		if (f.wt == 0 && f.num >= 5 && f.num < 5 + NS_N && f.v <= UINT32_MAX) {
			ids->id[f.num - 5] = (uint32_t)f.v;
			ids->has[f.num - 5] = true;
		}
	return r;
}

static const struct vs_mig_img_file *find(struct ctx *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->files[i].name, name) == 0)
			return &c->files[i];
	return NULL;
}

/* The first entry of an image, as a message. */
static int first_entry(const struct vs_mig_img_file *f, struct vs_mig_pb *msg)
{
	struct vs_mig_pb entries;
	uint32_t magic;

	if (vs_mig_img_open(f->data, f->len, &entries, &magic) < 0)
		return -1;
	return vs_mig_img_next(&entries, msg) == 1 ? 0 : -1;
}

static int read_inventory(struct ctx *c)
{
	const struct vs_mig_img_file *f = find(c, "inventory.img");
	struct vs_mig_pb m;
	struct vs_mig_pb_field fl;
	int r;

	if (f == NULL)
		return bad(c, "inventory.img", "%s", "missing");
	if (first_entry(f, &m) < 0)
		return bad(c, f->name, "%s", "malformed");
	while ((r = vs_mig_pb_next(&m, &fl)) > 0)
		if (fl.num == 3 && fl.wt == 2) {
			if (parse_ids(fl.sub, &c->host) < 0)
				return bad(c, f->name, "%s", "malformed root_ids");
			c->have_host = true;
		}
	if (r < 0)
		return bad(c, f->name, "%s", "malformed");
	if (!c->pol->privileged && (!c->have_host || !c->host.has[NS_USER]))
		return bad(c, f->name, "%s", "no root_ids.user_ns_id");
	return 0;
}

/* One extent "0 first count" exactly. */
static int check_map(struct ctx *c, const char *file, struct vs_mig_pb m, uint32_t first,
		     const char *which)
{
	struct vs_mig_pb_field f;
	uint32_t v[3] = {UINT32_MAX, UINT32_MAX, UINT32_MAX};
	bool seen[3] = {false, false, false};
	int r;

	while ((r = vs_mig_pb_next(&m, &f)) > 0)
		if (f.num >= 1 && f.num <= 3 && f.wt == 0 && f.v <= UINT32_MAX) {
			v[f.num - 1] = (uint32_t)f.v;
			seen[f.num - 1] = true;
		}
	if (r < 0 || !seen[0] || !seen[1] || !seen[2])
		return bad(c, file, "malformed %s", which);
	if (v[0] != 0 || v[1] != first || v[2] != c->pol->id_count) {
		return bad(c, file, "%s \"%u %u %u\" is not the configured \"0 %u %u\"", which,
			   v[0], v[1], v[2], first, c->pol->id_count);
	}
	return 0;
}

static int check_userns(struct ctx *c, uint32_t id)
{
	char name[64];
	const struct vs_mig_img_file *f;
	struct vs_mig_pb m;
	struct vs_mig_pb_field fl;
	int nuid = 0, ngid = 0, r;

	snprintf(name, sizeof(name), "userns-%u.img", id);
	f = find(c, name);
	if (f == NULL)
		return bad(c, name, "%s",
			   "missing: the tasks' user namespace is not one CRIU creates");
	if (first_entry(f, &m) < 0)
		return bad(c, name, "%s", "malformed");
	while ((r = vs_mig_pb_next(&m, &fl)) > 0) {
		if ((fl.num != 1 && fl.num != 2) || fl.wt != 2)
			continue;
		if (fl.num == 1 ? nuid++ : ngid++)
			return bad(c, name, "%s", "more than one id map extent");
		if (check_map(c, name, fl.sub, fl.num == 1 ? c->pol->uid_first : c->pol->gid_first,
			      fl.num == 1 ? "uid_map" : "gid_map") < 0)
			return -1;
	}
	if (r < 0 || nuid != 1 || ngid != 1)
		return bad(c, name, "%s", "malformed id maps");
	return 0;
}

static int check_ids(struct ctx *c, const struct vs_mig_img_file *f)
{
	struct vs_mig_pb m;
	struct ns_ids ids;
	static const int own[] = {NS_USER, NS_PID, NS_MNT, NS_NET, NS_IPC, NS_UTS};

	if (first_entry(f, &m) < 0 || parse_ids(m, &ids) < 0)
		return bad(c, f->name, "%s", "malformed");
	if (c->pol->privileged)
		return 0;
	for (size_t i = 0; i < VS_ARRAY_SIZE(own); i++) {
		int k = own[i];
		if (!ids.has[k])
			return bad(c, f->name, "no %s namespace id", ns_names[k]);
		if (c->host.has[k] && ids.id[k] == c->host.id[k])
			return bad(c, f->name, "a task is in the host's %s namespace", ns_names[k]);
	}
	return check_userns(c, ids.id[NS_USER]);
}

/* creds_entry (images/creds.proto): cap_inh 9, cap_prm 10, cap_eff 11,
 * cap_bnd 12, cap_amb 19 (CRIU 4.x), each the kernel's two 32-bit words.
 * A set that is missing or short is refused as well as one too wide: CRIU
 * would leave such a set as the restoring process (host root) had it. */
static int check_creds(struct ctx *c, const char *file, struct vs_mig_pb m)
{
	static const char *const names[] = {"inheritable", "permitted", "effective", "bounding",
					    "ambient"};
	uint32_t caps[5][2];
	size_t n[5] = {0};
	struct vs_mig_pb_field f;
	int r;

	while ((r = vs_mig_pb_next(&m, &f)) > 0) {
		int k = f.num >= 9 && f.num <= 12 ? (int)f.num - 9 : f.num == 19 ? 4 : -1;
		if (k >= 0 && vs_mig_pb_u32s(&f, caps[k], 2, &n[k]) < 0)
			return bad(c, file, "%s capability set longer than the kernel's", names[k]);
	}
	if (r < 0)
		return bad(c, file, "%s", "malformed creds");
	for (int k = 0; k < 5; k++) {
		if (n[k] != 2 && !(k == 4 && n[k] == 0))
			return bad(c, file, "%s capability set of %zu words, not 2", names[k],
				   n[k]);
		for (size_t w = 0; w < n[k]; w++) {
			uint32_t allowed = (uint32_t)(c->pol->cap_bound >> (32 * w));
			if (caps[k][w] & ~allowed)
				return bad(c, file,
					   "%s capabilities beyond the container's bounding set",
					   names[k]);
		}
	}
	return 0;
}

/* task_core_entry.task_state (1) is CRIU's TASK_DEAD. */
static bool task_dead(struct vs_mig_pb tc)
{
	struct vs_mig_pb_field fl;

	while (vs_mig_pb_next(&tc, &fl) > 0)
		if (fl.num == 1 && fl.wt == 0)
			return fl.v == CRIU_TASK_DEAD;
	return false;
}

/* core_entry.thread_core (5): creds (10), seccomp_mode (11). A zombie
 * (core_entry.tc (3) in TASK_DEAD) has no thread: CRIU dumps only its exit
 * code, and restores it as a child that exits at once; a shell caught
 * between its child's exit and its wait() leaves one in the image. */
static int check_core(struct ctx *c, const struct vs_mig_img_file *f)
{
	struct vs_mig_pb m, tc;
	struct vs_mig_pb_field fl;
	bool have_tc = false, have_creds = false, dead = false;
	uint64_t seccomp = 0;
	int r;

	if (first_entry(f, &m) < 0)
		return bad(c, f->name, "%s", "malformed");
	while ((r = vs_mig_pb_next(&m, &fl)) > 0)
		if (fl.num == 5 && fl.wt == 2) {
			tc = fl.sub;
			have_tc = true;
		} else if (fl.num == 3 && fl.wt == 2) {
			dead = task_dead(fl.sub);
		}
	if (r == 0 && !have_tc && dead)
		return 0;
	if (r < 0 || !have_tc)
		return bad(c, f->name, "%s", "malformed (no thread_core)");
	while ((r = vs_mig_pb_next(&tc, &fl)) > 0) {
		if (fl.num == 10 && fl.wt == 2) {
			if (c->pol->privileged ? 0 : check_creds(c, f->name, fl.sub) < 0)
				return -1;
			have_creds = true;
		} else if (fl.num == 11 && fl.wt == 0) {
			seccomp = fl.v;
		}
	}
	if (r < 0 || (!have_creds && !c->pol->privileged))
		return bad(c, f->name, "%s", "malformed (no creds)");
	if (c->pol->seccomp && seccomp != 2)
		return bad(c, f->name, "%s", "a thread without the container's seccomp filter");
	return 0;
}

struct mnt {
	uint32_t fstype, root_dev;
	bool ext;
	char root[512], mountpoint[512], key[512], source[128];
};

static int parse_mnt(struct vs_mig_pb m, struct mnt *mt)
{
	struct vs_mig_pb_field f;
	int r;

	memset(mt, 0, sizeof(*mt));
	while ((r = vs_mig_pb_next(&m, &f)) > 0) {
		bool ok = true;
		if (f.num == 1 && f.wt == 0)
			mt->fstype = (uint32_t)f.v;
		else if (f.num == 3 && f.wt == 0)
			mt->root_dev = (uint32_t)f.v;
		else if (f.num == 6)
			ok = vs_mig_pb_str(&f, mt->root, sizeof(mt->root));
		else if (f.num == 7)
			ok = vs_mig_pb_str(&f, mt->mountpoint, sizeof(mt->mountpoint));
		else if (f.num == 8 && !vs_mig_pb_str(&f, mt->source, sizeof(mt->source)))
			strcpy(mt->source, "?");
		else if (f.num == 13 && f.wt == 0)
			mt->ext = mt->ext || f.v != 0;
		else if (f.num == 18) {
			ok = vs_mig_pb_str(&f, mt->key, sizeof(mt->key));
			mt->ext = true;
		}
		if (!ok)
			return -1;
	}
	return r < 0 || mt->mountpoint[0] != '/' ? -1 : 0;
}

static bool known_key(const struct vs_mig_image_policy *pol, const char *key)
{
	if (strcmp(key, "console") == 0)
		return true;
	for (size_t i = 0; i < pol->n_ext_keys; i++)
		if (strcmp(pol->ext_keys[i], key) == 0)
			return true;
	return false;
}

/* A bind of (part of) a declared external mount, made in another mount
 * namespace (systemd's PrivateDevices= binds /dev/null, /dev/tty, ...):
 * CRIU restores it by binding from that external mount, whose source vsd
 * chose. Same device, and a root at or below the external's root. */
static bool from_external(const struct ctx *c, const struct mnt *mt)
{
	for (size_t i = 0; i < c->nexts; i++) {
		size_t n = strlen(c->exts[i].root);
		if (c->exts[i].root_dev == mt->root_dev &&
		    strncmp(mt->root, c->exts[i].root, n) == 0 &&
		    (mt->root[n] == '\0' || mt->root[n] == '/' || n == 1))
			return true;
	}
	return false;
}

static int check_mount(struct ctx *c, const char *file, const struct mnt *mt, uint32_t root_dev)
{
	if (mt->ext) {
		if (mt->key[0] != '\0' && known_key(c->pol, mt->key))
			return 0;
		return bad(c, file, "external mount on %s with key '%s' that vsd does not declare",
			   mt->mountpoint, mt->key);
	}
	if (from_external(c, mt))
		return 0;
	switch (mt->fstype) {
	case FS_PROC:
	case FS_SYSFS:
	case FS_TMPFS:
	case FS_DEVPTS:
	case FS_CGROUP:
	case FS_MQUEUE:
	case FS_CGROUP2:
		return 0;
	case FS_OVERLAY:
		if (mt->root_dev == root_dev)
			return 0;
		break;
	default:
		break;
	}
	return bad(c, file,
		   "mount on %s (file system type %u, source '%s') is not one the container may "
		   "have (only its root overlay, virtual file systems and the external mounts vsd "
		   "declares)",
		   mt->mountpoint, mt->fstype, mt->source);
}

static int check_mounts(struct ctx *c, const struct vs_mig_img_file *f)
{
	struct vs_mig_pb entries, m;
	struct mnt mt;
	uint32_t magic, root_dev = 0;
	bool have_root = false;
	int r;

	/* Pass 1: the root mount of this mount namespace, the container's
	 * overlay; binds of it are its own files. */
	if (vs_mig_img_open(f->data, f->len, &entries, &magic) < 0)
		return bad(c, f->name, "%s", "malformed");
	while ((r = vs_mig_img_next(&entries, &m)) > 0) {
		if (parse_mnt(m, &mt) < 0)
			return bad(c, f->name, "%s", "malformed mount entry");
		if (strcmp(mt.mountpoint, "/") == 0 && !mt.ext) {
			if (mt.fstype != FS_OVERLAY || have_root)
				return bad(c, f->name, "%s",
					   "the root is not the container's overlay");
			root_dev = mt.root_dev;
			have_root = true;
		}
	}
	if (r < 0 || !have_root)
		return bad(c, f->name, "%s", r < 0 ? "malformed" : "no root mount");
	vs_mig_img_open(f->data, f->len, &entries, &magic);
	while (vs_mig_img_next(&entries, &m) > 0)
		if (parse_mnt(m, &mt) < 0 || check_mount(c, f->name, &mt, root_dev) < 0)
			return -1;
	return 0;
}

static bool prefixed(const char *name, const char *prefix)
{
	size_t n = strlen(name);
	return strncmp(name, prefix, strlen(prefix)) == 0 && n > 4 &&
	       strcmp(name + n - 4, ".img") == 0;
}

/* Every declared external mount of every mount namespace. */
static int collect_externals(struct ctx *c)
{
	for (size_t i = 0; i < c->n; i++) {
		struct vs_mig_pb entries, m;
		struct mnt mt;
		uint32_t magic;
		if (!prefixed(c->files[i].name, "mountpoints-") ||
		    vs_mig_img_open(c->files[i].data, c->files[i].len, &entries, &magic) < 0)
			continue;
		while (vs_mig_img_next(&entries, &m) > 0) {
			if (parse_mnt(m, &mt) < 0 || !mt.ext || !known_key(c->pol, mt.key) ||
			    mt.root[0] != '/')
				continue;
			if (c->nexts >= MAX_FILES)
				return bad(c, c->files[i].name, "%s", "too many external mounts");
			c->exts = xrealloc(c->exts, (c->nexts + 1) * sizeof(*c->exts));
			c->exts[c->nexts].root_dev = mt.root_dev;
			strcpy(c->exts[c->nexts++].root, mt.root);
		}
	}
	return 0;
}

/* Inventory first (the host's namespace ids), then every task and mount
 * namespace image. */
static int check_all(struct ctx *c)
{
	size_t nids = 0, nmnt = 0;

	if (read_inventory(c) < 0)
		return -1;
	for (size_t i = 0; i < c->n; i++) {
		const struct vs_mig_img_file *f = &c->files[i];
		int r = 0;
		if (prefixed(f->name, "ids-")) {
			nids++;
			r = check_ids(c, f);
		} else if (prefixed(f->name, "core-")) {
			r = check_core(c, f);
		} else if (prefixed(f->name, "mountpoints-")) {
			nmnt++;
			r = check_mounts(c, f);
		}
		if (r < 0)
			return -1;
	}
	if (nids == 0 || nmnt == 0)
		return vs_error_kind(c->err, VS_EK_INVALID, "image: no %s",
				     nids == 0 ? "task ids (ids-*.img)"
					       : "mounts (mountpoints-*.img)");
	return 0;
}

int vs_mig_image_check_files(const struct vs_mig_img_file *files, size_t n,
			     const struct vs_mig_image_policy *pol, struct vs_error *err)
{
	struct ctx c = {.pol = pol, .files = files, .n = n, .err = err};
	int rc = collect_externals(&c) < 0 ? -1 : check_all(&c);

	free(c.exts);
	return rc;
}

static bool wanted(const char *name)
{
	return strcmp(name, "inventory.img") == 0 || prefixed(name, "ids-") ||
	       prefixed(name, "core-") || prefixed(name, "mountpoints-") ||
	       prefixed(name, "userns-");
}

static void files_free(struct vs_mig_img_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((void *)files[i].name);
		free((void *)files[i].data);
	}
	free(files);
}

int vs_mig_image_check(int dirfd, const struct vs_mig_image_policy *pol, struct vs_error *err)
{
	cleanup_dir DIR *d = fdopendir(dup(dirfd));
	struct vs_mig_img_file *files = NULL;
	struct dirent *e;
	size_t n = 0;
	int rc;

	if (d == NULL)
		return vs_error_set(err, errno, "read image directory");
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		char *data = NULL;
		size_t len = 0;
		if (!wanted(e->d_name))
			continue;
		if (n == MAX_FILES) {
			files_free(files, n);
			return vs_error_kind(err, VS_EK_INVALID, "image: too many files");
		}
		if (vs_read_file_at(dirfd, e->d_name, IMG_MAX, &data, &len, err) < 0) {
			files_free(files, n);
			return vs_error_prefix(err, "image %s", e->d_name);
		}
		files = xrealloc(files, (n + 1) * sizeof(*files));
		files[n++] = (struct vs_mig_img_file){xstrdup(e->d_name), (uint8_t *)data, len};
	}
	rc = vs_mig_image_check_files(files, n, pol, err);
	files_free(files, n);
	return rc;
}
