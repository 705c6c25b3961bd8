/* Backups of a container (vsctl export / import) and template digests.
 *
 * An archive is a pax tar, zstd-compressed, written and read with
 * libarchive (never the tar program):
 *   backup.json   {"format":"vsd-backup","version":1,"name","template":
 *                  {"name","digest","included"},"created_at"}
 *   config.json   the container's config.json as it was
 *   layer/...     the container's own overlay upper layer
 *   template/...  the template's rootfs (only with --with-template)
 * Owners in layer/ are container ids (host id minus the container's id
 * base), so an import on any node shifts them into the range it allocates.
 * Whiteouts (char 0:0), the meaningful trusted.overlay.* xattrs, POSIX ACLs
 * and file capabilities (their ids shifted too), hard links and user.*
 * xattrs are kept; holes are not marked on export, the import turns zero
 * blocks into holes again. The layer is read fd-relative with O_NOFOLLOW,
 * like every tree a container wrote. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "fs-cow/fs-private.h"
#include "lib/vs_io.h"
#include "lib/vs_json.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

#define DIGEST_FILE "digest"
#define MANIFEST    "backup.json"
#define CONFIG	    "config.json"
#define META_MAX    (256 << 10)
#define DEPTH_MAX   512
#define ID_RANGE    65536u
#define NOBODY	    65534u
#define XATTR_MAX   (64 << 10)

/* ---- pure helpers ------------------------------------------------------- */

bool vs_fs_all_zero(const void *buf, size_t size)
{
	const unsigned char *p = buf;

	return size == 0 || (p[0] == 0 && memcmp(p, p + 1, size - 1) == 0);
}

bool vs_fs_layer_xattr_kept(const char *name)
{
	static const char *const kept[] = {
	    "trusted.overlay.opaque", "trusted.overlay.redirect", "trusted.overlay.impure",
	    "security.capability",    "system.posix_acl_access",  "system.posix_acl_default",
	};

	for (size_t k = 0; k < VS_ARRAY_SIZE(kept); k++)
		if (strcmp(name, kept[k]) == 0)
			return true;
	return false;
}

/* How one id inside an xattr value changes: by a delta (an archive's
 * container ids to host ids and back), or from one range to another. */
struct id_change {
	int64_t delta;
	bool ranged; /* the id must lie in [from, from + count) */
	uint32_t from, count;
};

static int change_id(unsigned char *p, const struct id_change *c)
{
	uint32_t v;
	int64_t n;

	memcpy(&v, p, 4);
	if (c->ranged && (v < c->from || v - c->from >= c->count))
		return -2;
	n = (int64_t)v + c->delta;
	if (n < 0 || n > (int64_t)UINT32_MAX - 1)
		return -1;
	v = (uint32_t)n;
	memcpy(p, &v, 4);
	return 0;
}

static int xattr_change(const char *name, void *value, size_t size, const struct id_change *c)
{
	unsigned char *p = value;

	if (strncmp(name, "system.posix_acl_", 17) == 0) {
		/* struct posix_acl_xattr_header {le32 version=2}, then entries
		 * {le16 tag, le16 perm, le32 id}; ids of ACL_USER (2) and
		 * ACL_GROUP (8) are real ids. */
		uint32_t version;
		if (size < 4 || (size - 4) % 8 != 0)
			return -1;
		memcpy(&version, p, 4);
		if (version != 2)
			return -1;
		for (size_t off = 4; off < size; off += 8) {
			uint16_t tag;
			int r;
			memcpy(&tag, p + off, 2);
			if ((tag == 2 || tag == 8) && (r = change_id(p + off + 4, c)) < 0)
				return r;
		}
		return 0;
	}
	if (strcmp(name, "security.capability") == 0) {
		/* VFS_CAP_REVISION_3 (0x03000000 in magic_etc) adds the root id
		 * the capability belongs to, at offset 20. */
		uint32_t magic;
		if (size < 4)
			return -1;
		memcpy(&magic, p, 4);
		if ((magic & 0xff000000u) == 0x03000000u)
			return size == 24 ? change_id(p + 20, c) : -1;
		return 0;
	}
	return 0;
}

int vs_fs_xattr_shift(const char *name, void *value, size_t size, int64_t delta)
{
	struct id_change c = {.delta = delta};

	return xattr_change(name, value, size, &c);
}

int vs_fs_xattr_remap(const char *name, void *value, size_t size, uint32_t from, uint32_t to,
		      uint32_t count)
{
	struct id_change c = {
	    .delta = (int64_t)to - from, .ranged = true, .from = from, .count = count};

	return xattr_change(name, value, size, &c);
}

/* ---- template digest ------------------------------------------------------ */

/* SHA-256 through GnuTLS, the TLS library vsd already links (checkpoint
 * image digests use it too). */
static void hash_freep(gnutls_hash_hd_t *h)
{
	if (*h != NULL)
		gnutls_hash_deinit(*h, NULL);
}
#define cleanup_hash __attribute__((cleanup(hash_freep)))

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in dirfd (without . and ..), sorted bytewise so every node walks a
 * tree in the same order. */
static int sorted_names(int dirfd, char ***out, size_t *n, struct vs_error *err)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_dir DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	char **v = NULL;
	size_t cap = 0, k = 0;
	struct dirent *de;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return vs_error_set(err, errno, "read directory");
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (k + 1 >= cap) {
			cap = cap ? cap * 2 : 32;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[k++] = xstrdup(de->d_name);
	}
	if (k > 0)
		qsort(v, k, sizeof(*v), cmp_names);
	*out = v;
	*n = k;
	return 0;
}

static void free_names(char **v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		free(v[k]);
	free(v);
}

static int hash_fd(gnutls_hash_hd_t h, int fd, struct vs_error *err)
{
	cleanup_free char *buf = xmalloc(1 << 16);
	ssize_t n;

	while ((n = vs_read_all(fd, buf, 1 << 16)) > 0)
		gnutls_hash(h, buf, (size_t)n);
	return n < 0 ? vs_error_set(err, errno, "read") : 0;
}

/* One record per entry: path, type, mode, owner, then the content, the
 * link target or the device number. Times are left out: the same tree
 * built on two nodes differs only in them. */
static int hash_entry(gnutls_hash_hd_t h, int dirfd, const char *name, const char *path, int depth,
		      struct vs_error *err);

static int hash_dir(gnutls_hash_hd_t h, int fd, const char *path, int depth, struct vs_error *err)
{
	char **names = NULL;
	size_t n = 0;
	int r = 0;

	if (depth > DEPTH_MAX)
		return vs_error_kind(err, VS_EK_INVALID, "%s: nested too deeply", path);
	if (sorted_names(fd, &names, &n, err) < 0)
		return -1;
	for (size_t k = 0; k < n && r == 0; k++) {
		cleanup_free char *sub = xasprintf("%s/%s", path, names[k]);
		r = hash_entry(h, fd, names[k], sub, depth + 1, err);
	}
	free_names(names, n);
	return r;
}

static int hash_entry(gnutls_hash_hd_t h, int dirfd, const char *name, const char *path, int depth,
		      struct vs_error *err)
{
	cleanup_close int fd = -1;
	struct stat st;
	char rec[128], target[4096];
	ssize_t len;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return vs_error_set(err, errno, "stat %s", path);
	gnutls_hash(h, path, strlen(path) + 1);
	snprintf(rec, sizeof(rec), "%o %u %u %lld %u:%u\n", st.st_mode, st.st_uid, st.st_gid,
		 S_ISREG(st.st_mode) ? (long long)st.st_size : 0LL,
		 S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? major(st.st_rdev) : 0,
		 S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? minor(st.st_rdev) : 0);
	gnutls_hash(h, rec, strlen(rec));
	if (S_ISLNK(st.st_mode)) {
		len = readlinkat(dirfd, name, target, sizeof(target));
		if (len < 0)
			return vs_error_set(err, errno, "readlink %s", path);
		gnutls_hash(h, target, (size_t)len);
		return 0;
	}
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return 0;
	fd = openat(dirfd, name,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
	if (fd < 0)
		return vs_error_set(err, errno, "open %s", path);
	if (S_ISDIR(st.st_mode))
		return hash_dir(h, fd, path, depth, err);
	if (hash_fd(h, fd, err) < 0)
		return vs_error_prefix(err, "%s", path);
	return 0;
}

int vs_fs_tree_digest(int rootfd, char out[VS_FS_DIGEST_LEN], struct vs_error *err)
{
	cleanup_hash gnutls_hash_hd_t h = NULL;
	unsigned char md[32];

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) {
		h = NULL;
		return vs_error_kind(err, VS_EK_INTERNAL, "sha256 unavailable");
	}
	if (hash_dir(h, rootfd, "", 0, err) < 0)
		return -1;
	gnutls_hash_output(h, md);
	memcpy(out, "sha256:", 7);
	for (unsigned k = 0; k < 32; k++)
		snprintf(out + 7 + 2 * k, 3, "%02x", md[k]);
	return 0;
}

static bool digest_valid(const char *s)
{
	if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != VS_FS_DIGEST_LEN - 1)
		return false;
	for (const char *p = s + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

int vs_fs_template_digest(const char *root, const char *name, char out[VS_FS_DIGEST_LEN],
			  struct vs_error *err)
{
	cleanup_close int tfd = -1, dfd = -1, rfd = -1;
	cleanup_free char *text = NULL;
	size_t len = 0;

	if (vs_validate_name(name, "template name", err) < 0)
		return -1;
	tfd = vs_fs_templates_open(root, false, err);
	if (tfd < 0)
		return -1;
	dfd = openat(tfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? vs_error_kind(err, VS_EK_NOT_FOUND,
						       "template '%s' does not exist", name)
				       : vs_error_set(err, errno, "open template '%s'", name);
	if (vs_read_file_at(dfd, DIGEST_FILE, 128, &text, &len, err) == 0) {
		text[strcspn(text, "\n")] = '\0';
		if (digest_valid(text)) {
			memcpy(out, text, VS_FS_DIGEST_LEN);
			return 0;
		}
	}
	/* Older templates have none: compute it once and keep it. */
	rfd = openat(dfd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rfd < 0)
		return vs_error_set(err, errno, "open template '%s' rootfs", name);
	if (vs_fs_tree_digest(rfd, out, err) < 0)
		return vs_error_prefix(err, "digest of template '%s'", name);
	return vs_fs_digest_store(dfd, out, err);
}

int vs_fs_digest_store(int tdirfd, const char digest[VS_FS_DIGEST_LEN], struct vs_error *err)
{
	cleanup_free char *line = xasprintf("%s\n", digest);

	return vs_atomic_write_at(tdirfd, DIGEST_FILE, line, strlen(line), 0644, err);
}

/* ---- export ------------------------------------------------------------ */

struct seen_link {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct writer {
	struct archive *w;
	uint32_t base; /* host id of container id 0; 0 for a template */
	bool layer;    /* a container layer (else a template's rootfs) */
	dev_t dev;     /* the tree's filesystem: no crossing of mounts */
	struct seen_link *links;
	size_t nlinks, lcap;
	char *buf;
	uint64_t members;
};

static void archive_wfreep(struct archive **a)
{
	if (*a != NULL)
		archive_write_free(*a);
}
#define cleanup_warchive __attribute__((cleanup(archive_wfreep)))

static int64_t rel_id(const struct writer *wr, uint32_t id)
{
	if (wr->base == 0)
		return id;
	/* Ids outside the range show as nobody inside the container. */
	return id >= wr->base && id - wr->base < ID_RANGE ? id - wr->base : NOBODY;
}

static int archive_fail(struct writer *wr, const char *path, struct vs_error *err)
{
	return vs_error_kind(err, VS_EK_INTERNAL, "archive %s: %s", path,
			     archive_error_string(wr->w));
}

/* Copy the xattrs a restore needs from fd into e, ids made relative. */
static int add_xattrs(struct writer *wr, struct archive_entry *e, int fd, const char *path,
		      struct vs_error *err)
{
	cleanup_free char *names = xmalloc(XATTR_MAX), *val = xmalloc(XATTR_MAX);
	ssize_t len = flistxattr(fd, names, XATTR_MAX);

	if (len < 0)
		return errno == ENOTSUP ? 0 : vs_error_set(err, errno, "list xattrs of %s", path);
	for (char *n = names; n < names + len; n += strlen(n) + 1) {
		bool kept = vs_fs_layer_xattr_kept(n);
		ssize_t vl;
		if (strncmp(n, "user.", 5) != 0 && !(kept && wr->layer) &&
		    strcmp(n, "security.capability") != 0)
			continue;
		vl = fgetxattr(fd, n, val, XATTR_MAX);
		if (vl < 0) {
			if (errno == ENODATA)
				continue;
			return vs_error_set(err, errno, "read xattr %s of %s", n, path);
		}
		if (wr->base != 0 && vs_fs_xattr_shift(n, val, (size_t)vl, -(int64_t)wr->base) < 0)
			continue; /* an id outside the range: dropped, not exported wrong */
		archive_entry_xattr_add_entry(e, n, val, (size_t)vl);
	}
	return 0;
}

static int write_data(struct writer *wr, int fd, const char *path, struct vs_error *err)
{
	ssize_t n;

	while ((n = vs_read_all(fd, wr->buf, 1 << 16)) > 0)
		if (archive_write_data(wr->w, wr->buf, (size_t)n) != n)
			return archive_fail(wr, path, err);
	return n < 0 ? vs_error_set(err, errno, "read %s", path) : 0;
}

/* A second name of an inode already written: a hard link member. */
static const char *link_seen(struct writer *wr, const struct stat *st, const char *apath)
{
	for (size_t k = 0; k < wr->nlinks; k++)
		if (wr->links[k].dev == st->st_dev && wr->links[k].ino == st->st_ino)
			return wr->links[k].path;
	if (wr->nlinks == wr->lcap) {
		wr->lcap = wr->lcap ? wr->lcap * 2 : 64;
		wr->links = xrealloc(wr->links, wr->lcap * sizeof(*wr->links));
	}
	wr->links[wr->nlinks++] = (struct seen_link){st->st_dev, st->st_ino, xstrdup(apath)};
	return NULL;
}

static int write_entry(struct writer *wr, int dirfd, const char *name, const char *apath, int depth,
		       struct vs_error *err);

static int write_children(struct writer *wr, int fd, const char *apath, int depth,
			  struct vs_error *err)
{
	char **names = NULL;
	size_t n = 0;
	int r = 0;

	if (depth > DEPTH_MAX)
		return vs_error_kind(err, VS_EK_INVALID, "%s: nested too deeply", apath);
	if (sorted_names(fd, &names, &n, err) < 0)
		return vs_error_prefix(err, "%s", apath);
	for (size_t k = 0; k < n && r == 0; k++) {
		cleanup_free char *sub = xasprintf("%s/%s", apath, names[k]);
		r = write_entry(wr, fd, names[k], sub, depth + 1, err);
	}
	free_names(names, n);
	return r;
}

/* Header fields from st; ids relative to the container's range. */
static struct archive_entry *entry_for(struct writer *wr, const struct stat *st, const char *apath)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_copy_stat(e, st);
	archive_entry_set_pathname(e, apath);
	archive_entry_set_uid(e, rel_id(wr, st->st_uid));
	archive_entry_set_gid(e, rel_id(wr, st->st_gid));
	archive_entry_set_nlink(e, 1);
	return e;
}

static void entry_freep(struct archive_entry **e)
{
	if (*e != NULL)
		archive_entry_free(*e);
}
#define cleanup_entry __attribute__((cleanup(entry_freep)))

static int write_entry(struct writer *wr, int dirfd, const char *name, const char *apath, int depth,
		       struct vs_error *err)
{
	cleanup_entry struct archive_entry *e = NULL;
	cleanup_close int fd = -1;
	char target[4096];
	struct stat st;
	const char *first;
	ssize_t len;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return vs_error_set(err, errno, "stat %s", apath);
	if (st.st_dev != wr->dev)
		return vs_error_kind(err, VS_EK_CONFLICT, "%s: a mount point inside the layer",
				     apath);
	if (S_ISSOCK(st.st_mode))
		return 0; /* sockets do not survive a restart either */
	e = entry_for(wr, &st, apath);
	if (S_ISREG(st.st_mode) && st.st_nlink > 1 && (first = link_seen(wr, &st, apath))) {
		archive_entry_set_hardlink(e, first);
		archive_entry_set_size(e, 0);
		wr->members++;
		return archive_write_header(wr->w, e) == ARCHIVE_OK ? 0
								    : archive_fail(wr, apath, err);
	}
	if (S_ISLNK(st.st_mode)) {
		len = readlinkat(dirfd, name, target, sizeof(target) - 1);
		if (len < 0)
			return vs_error_set(err, errno, "readlink %s", apath);
		target[len] = '\0';
		archive_entry_set_symlink(e, target);
	} else if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
		fd = openat(dirfd, name,
			    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME |
				(S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
		if (fd < 0 && errno == EPERM)
			fd = openat(dirfd, name,
				    O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
					(S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
		if (fd < 0)
			return vs_error_set(err, errno, "open %s", apath);
		if (add_xattrs(wr, e, fd, apath, err) < 0)
			return -1;
	}
	wr->members++;
	if (archive_write_header(wr->w, e) != ARCHIVE_OK)
		return archive_fail(wr, apath, err);
	if (S_ISREG(st.st_mode))
		return write_data(wr, fd, apath, err);
	if (S_ISDIR(st.st_mode))
		return write_children(wr, fd, apath, depth, err);
	return 0;
}

static int write_tree(struct writer *wr, int rootfd, const char *top, struct vs_error *err)
{
	struct stat st;
	int r;

	if (fstat(rootfd, &st) < 0)
		return vs_error_set(err, errno, "stat %s", top);
	wr->dev = st.st_dev;
	wr->buf = xmalloc(1 << 16);
	r = write_entry(wr, rootfd, ".", top, 0, err);
	for (size_t k = 0; k < wr->nlinks; k++)
		free(wr->links[k].path);
	free(wr->links);
	free(wr->buf);
	wr->links = NULL;
	wr->nlinks = wr->lcap = 0;
	return r;
}

static int write_blob(struct archive *w, const char *name, const char *text, struct vs_error *err)
{
	cleanup_entry struct archive_entry *e = archive_entry_new();
	size_t len = strlen(text);

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_mtime(e, time(NULL), 0);
	if (archive_write_header(w, e) != ARCHIVE_OK ||
	    archive_write_data(w, text, len) != (la_ssize_t)len)
		return vs_error_kind(err, VS_EK_INTERNAL, "archive %s: %s", name,
				     archive_error_string(w));
	return 0;
}

static char *manifest_text(const struct vs_fs_backup_info *info)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(true);

	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "format", "vsd-backup");
	vs_jgen_kv_int(g, "version", 1);
	vs_jgen_kv_str(g, "name", info->name);
	vs_jgen_key(g, "template");
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "name", info->template_name);
	vs_jgen_kv_str(g, "digest", info->template_digest);
	vs_jgen_kv_bool(g, "included", info->with_template);
	vs_jgen_obj_close(g);
	vs_jgen_kv_int(g, "created_at", (int64_t)time(NULL));
	vs_jgen_obj_close(g);
	return vs_jgen_steal(g);
}

static struct archive *open_writer(int outfd, struct vs_error *err)
{
	cleanup_warchive struct archive *w = archive_write_new();

	/* pax keeps xattrs, long names and big ids; zstd level 3 is fast. */
	if (w == NULL || archive_write_set_format_pax_restricted(w) != ARCHIVE_OK ||
	    archive_write_add_filter_zstd(w) != ARCHIVE_OK ||
	    archive_write_set_filter_option(w, "zstd", "compression-level", "3") != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w, 1) != ARCHIVE_OK ||
	    archive_write_open_fd(w, outfd) != ARCHIVE_OK) {
		vs_error_kind(err, VS_EK_UNSUPPORTED, "archive writer: %s",
			      w ? archive_error_string(w) : "out of memory");
		return NULL;
	}
	return steal_ptr(&w);
}

int vs_fs_backup_write(int outfd, const struct vs_fs_backup_info *info, int layerfd,
		       uint32_t id_base, int template_rootfd, struct vs_error *err)
{
	cleanup_warchive struct archive *w = open_writer(outfd, err);
	cleanup_free char *manifest = NULL;
	struct writer wr = {.base = id_base, .layer = true};

	if (w == NULL)
		return -1;
	wr.w = w;
	manifest = manifest_text(info);
	if (write_blob(w, MANIFEST, manifest, err) < 0 ||
	    write_blob(w, CONFIG, info->config_json, err) < 0 ||
	    write_tree(&wr, layerfd, "layer", err) < 0)
		return -1;
	if (template_rootfd >= 0) {
		struct writer tw = {.w = w, .base = 0, .layer = false};
		if (write_tree(&tw, template_rootfd, "template", err) < 0)
			return -1;
	}
	if (archive_write_close(w) != ARCHIVE_OK)
		return vs_error_kind(err, VS_EK_INTERNAL, "finish archive: %s",
				     archive_error_string(w));
	return 0;
}

/* ---- import ------------------------------------------------------------ */

static void archive_rfreep(struct archive **a)
{
	if (*a != NULL)
		archive_read_free(*a);
}
#define cleanup_rarchive __attribute__((cleanup(archive_rfreep)))

void vs_fs_backup_info_free(struct vs_fs_backup_info *info)
{
	free(info->config_json);
	info->config_json = NULL;
}

/* The next member must be a small regular file called name: its text. */
static int read_blob(struct archive *a, const char *name, char **out, struct vs_error *err)
{
	struct archive_entry *e;
	cleanup_free char *buf = NULL;
	int64_t size;
	la_ssize_t n;

	if (archive_read_next_header(a, &e) != ARCHIVE_OK)
		return vs_error_kind(err, VS_EK_INVALID, "not a vsd backup: %s",
				     archive_error_string(a) ? archive_error_string(a)
							     : "archive ends early");
	size = archive_entry_size(e);
	if (archive_entry_pathname(e) == NULL || strcmp(archive_entry_pathname(e), name) != 0 ||
	    archive_entry_filetype(e) != AE_IFREG || size < 0 || size > META_MAX)
		return vs_error_kind(err, VS_EK_INVALID,
				     "not a vsd backup: expected %s (at most %d bytes) here", name,
				     META_MAX);
	buf = xmalloc((size_t)size + 1);
	n = archive_read_data(a, buf, (size_t)size);
	if (n != (la_ssize_t)size)
		return vs_error_kind(err, VS_EK_INVALID, "%s: truncated", name);
	buf[size] = '\0';
	if (memchr(buf, '\0', (size_t)size) != NULL)
		return vs_error_kind(err, VS_EK_INVALID, "%s: not text", name);
	*out = steal_ptr(&buf);
	return 0;
}

static int copy_str(const struct vs_json *v, const char *field, char *dst, size_t len,
		    struct vs_error *err)
{
	const char *s = vs_json_string(v);

	if (s == NULL || strlen(s) >= len)
		return vs_error_kind(err, VS_EK_INVALID, "backup.json: %s: expected a string",
				     field);
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

int vs_fs_backup_parse_manifest(const char *text, struct vs_fs_backup_info *info,
				struct vs_error *err)
{
	cleanup_json struct vs_json *j = NULL;
	const struct vs_json *t;
	int64_t version = 0;
	const char *format;

	if (vs_json_parse(text, &j, err) < 0)
		return vs_error_prefix(err, "backup.json");
	format = vs_json_string(vs_json_get(j, "format"));
	if (format == NULL || strcmp(format, "vsd-backup") != 0)
		return vs_error_kind(err, VS_EK_INVALID, "backup.json: format is not vsd-backup");
	if (!vs_json_int64(vs_json_get(j, "version"), &version) || version != 1)
		return vs_error_kind(err, VS_EK_INVALID,
				     "backup.json: version %lld is not supported (1 is)",
				     (long long)version);
	t = vs_json_get(j, "template");
	if (copy_str(vs_json_get(j, "name"), "name", info->name, sizeof(info->name), err) < 0 ||
	    copy_str(vs_json_get(t, "name"), "template.name", info->template_name,
		     sizeof(info->template_name), err) < 0 ||
	    copy_str(vs_json_get(t, "digest"), "template.digest", info->template_digest,
		     sizeof(info->template_digest), err) < 0)
		return -1;
	if (!vs_json_bool(vs_json_get(t, "included"), &info->with_template))
		return vs_error_kind(err, VS_EK_INVALID,
				     "backup.json: template.included: expected a boolean");
	if (vs_validate_name(info->name, "backup.json: name", err) < 0 ||
	    vs_validate_name(info->template_name, "backup.json: template.name", err) < 0)
		return -1;
	if (!digest_valid(info->template_digest))
		return vs_error_kind(err, VS_EK_INVALID,
				     "backup.json: template.digest: expected sha256:<64 hex>");
	return 0;
}

static struct archive *reader_at_start(int fd, struct vs_error *err)
{
	if (lseek(fd, 0, SEEK_SET) < 0) {
		vs_error_set(err, errno, "rewind the archive");
		return NULL;
	}
	return vs_fs_archive_reader(fd, err);
}

int vs_fs_backup_read_info(int fd, struct vs_fs_backup_info *info, struct vs_error *err)
{
	cleanup_rarchive struct archive *a = reader_at_start(fd, err);
	cleanup_free char *manifest = NULL;

	memset(info, 0, sizeof(*info));
	if (a == NULL || read_blob(a, MANIFEST, &manifest, err) < 0 ||
	    vs_fs_backup_parse_manifest(manifest, info, err) < 0 ||
	    read_blob(a, CONFIG, &info->config_json, err) < 0) {
		vs_fs_backup_info_free(info);
		return -1;
	}
	return 0;
}

int vs_fs_backup_extract(int fd, const char *section, int destfd, uint32_t id_shift,
			 const struct vs_fs_import_caps *caps, struct vs_error *err)
{
	cleanup_rarchive struct archive *a = reader_at_start(fd, err);
	struct vs_fs_extract_opts o = {
	    .prefix = section,
	    .layer = strcmp(section, "layer") == 0,
	    .id_shift = id_shift,
	    .max_bytes = caps ? caps->max_bytes : 0,
	    .max_files = caps ? caps->max_files : 0,
	};

	if (a == NULL)
		return -1;
	if (vs_fs_extract(a, destfd, &o, NULL, NULL, err) < 0)
		return vs_error_prefix(err, "%s", section);
	return 0;
}

int vs_fs_template_from_backup(const char *root, const char *name, int fd, const char *want_digest,
			       const struct vs_fs_import_caps *caps, struct vs_error *err)
{
	struct vs_fs_stage st;
	char got[VS_FS_DIGEST_LEN];
	cleanup_free char *source = xasprintf("backup:%s", name);

	if (vs_fs_stage_begin(root, name, &st, err) < 0)
		return -1;
	if (vs_fs_backup_extract(fd, "template", st.rootfsfd, 0, caps, err) < 0 ||
	    vs_fs_tree_digest(st.rootfsfd, got, err) < 0)
		goto fail;
	/* The archive's template must be the one its manifest names. */
	if (strcmp(got, want_digest) != 0) {
		vs_error_kind(err, VS_EK_INVALID,
			      "the archive's template has digest %s, its manifest says %s", got,
			      want_digest);
		goto fail;
	}
	if (vs_fs_stage_commit(&st, source, err) < 0)
		goto fail;
	vs_fs_stage_release(&st);
	return 0;
fail:
	vs_fs_stage_abort(&st);
	return vs_error_prefix(err, "import template '%s' from the backup", name);
}
