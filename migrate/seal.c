/* Image secrecy and digests (vs_mig_image_secure/seal/verify, the node
 * key). The digest file, vsd-digest.json:
 *
 *   {"format": "vsd-image-digest/1",
 *    "files": [{"name": "core-1.img", "size": 2270, "sha256": "<hex>"}, ...],
 *    "dirs": ["layer"],
 *    "links": [{"name": "parent", "target": "2"}],
 *    "hmac_sha256": "<hex>"}
 *
 * The HMAC (key: the node key) is over the canonical text
 *   "vsd-image-digest/1\n" + per entry, sorted by name,
 *   "file <sha256> <size> <name>\n", "dir <name>\n" or
 *   "link <target> <name>\n"
 * so the JSON's layout does not matter. An image with pre-copy rounds
 * (vs_migrate.h) lists its rounds' files as "K/pages-1.img" and its parent
 * links ("links", absent without rounds, so an image without rounds is
 * sealed as before); every other subdirectory (the layer) is listed by
 * name only. SHA-256 and HMAC come from GnuTLS,
 * which libmicrohttpd already links. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_json.h"
#include "lib/vs_syscall.h"
#include "lib/vs_util.h"
#include "migrate/vs_migrate.h"

#define FORMAT	     "vsd-image-digest/1"
#define MAX_ENTRIES  65536
#define NAME_MAX_LEN 255
#define SHA_HEX	     65

/* kind: 'f' a regular file, 'd' a directory, 'l' a parent link */
struct entry {
	char name[NAME_MAX_LEN + 1];
	char kind;
	int64_t size;
	char sha[SHA_HEX];
	char target[16];
};

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

int vs_mig_node_key(const char *root, uint8_t key[VS_MIG_KEY_LEN], struct vs_error *err)
{
	cleanup_close int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int fd = -1;
	struct stat st;

	if (dfd < 0)
		return vs_error_set(err, errno, "open %s", root);
	fd = openat(dfd, VS_MIG_KEY_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		uint8_t fresh[VS_MIG_KEY_LEN];
		if (getrandom(fresh, sizeof(fresh), 0) != (ssize_t)sizeof(fresh))
			return vs_error_set(err, errno, "node key: getrandom");
		/* Atomic: two daemons racing both write a full key; one wins. */
		if (vs_atomic_write_at(dfd, VS_MIG_KEY_FILE, fresh, sizeof(fresh), 0600, err) < 0)
			return vs_error_prefix(err, "node key");
		fd = openat(dfd, VS_MIG_KEY_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0 || fstat(fd, &st) < 0)
		return vs_error_set(err, errno, "node key %s/%s", root, VS_MIG_KEY_FILE);
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 077) != 0 ||
	    st.st_size != VS_MIG_KEY_LEN)
		return vs_error_kind(err, VS_EK_INVALID,
				     "node key %s/%s must be a root-owned 0600 file of %d bytes",
				     root, VS_MIG_KEY_FILE, VS_MIG_KEY_LEN);
	if (vs_read_all(fd, key, VS_MIG_KEY_LEN) != VS_MIG_KEY_LEN)
		return vs_error_set(err, errno ? errno : EIO, "read node key");
	return 0;
}

static int secure_at(int dfd, int depth, struct vs_error *err)
{
	cleanup_dir DIR *d = fdopendir(dup(dfd));
	struct dirent *e;

	if (d == NULL)
		return vs_error_set(err, errno, "read image directory");
	if (fchown(dfd, 0, 0) < 0 || fchmod(dfd, 0700) < 0)
		return vs_error_set(err, errno, "secure image directory");
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    (depth == 0 && strcmp(e->d_name, VS_MIG_LAYER_SUBDIR) == 0))
			continue;
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return vs_error_set(err, errno, "stat image file %s", e->d_name);
		if (S_ISDIR(st.st_mode)) {
			cleanup_close int sub =
			    openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (depth >= 64)
				return vs_error_set(err, ELOOP, "image directory too deep");
			if (sub < 0 || secure_at(sub, depth + 1, err) < 0)
				return sub < 0 ? vs_error_set(err, errno, "open %s", e->d_name)
					       : -1;
		} else if (S_ISREG(st.st_mode)) {
			if (fchownat(dfd, e->d_name, 0, 0, AT_SYMLINK_NOFOLLOW) < 0 ||
			    fchmodat(dfd, e->d_name, 0600, 0) < 0)
				return vs_error_set(err, errno, "secure image file %s", e->d_name);
		} else if (!S_ISLNK(st.st_mode)) {
			/* Device nodes, fifos, sockets: take them from other users too. */
			if (fchownat(dfd, e->d_name, 0, 0, AT_SYMLINK_NOFOLLOW) < 0)
				return vs_error_set(err, errno, "secure image file %s", e->d_name);
		}
	}
	return 0;
}

int vs_mig_image_secure(int dirfd, struct vs_error *err)
{
	return secure_at(dirfd, 0, err);
}

static int file_sha256(int dfd, const char *name, int64_t *size, char *out, struct vs_error *err)
{
	/* name may be a round's "K/pages-1.img": no link is followed. */
	cleanup_close int fd =
	    vs_openat2(dfd, name, O_RDONLY | O_NOFOLLOW, 0,
		       RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	struct sha256_ctx h;
	uint8_t buf[1 << 16], digest[SHA256_DIGEST_SIZE];
	ssize_t n;
	int64_t total = 0;

	if (fd < 0)
		return vs_error_set(err, errno, "open image file %s", name);
	sha256_init(&h);
	while ((n = vs_read_all(fd, buf, sizeof(buf))) > 0) {
		sha256_update(&h, (size_t)n, buf);
		total += n;
	}
	sha256_digest(&h, sizeof(digest), digest);
	if (n < 0)
		return vs_error_set(err, errno, "read image file %s", name);
	*size = total;
	hex(digest, sizeof(digest), out);
	return 0;
}

/* Not covered: what CRIU writes into the image directory at restore (its
 * log and "stats-restore"); CRIU never reads them. */
static bool skipped(const char *name)
{
	size_t n = strlen(name);
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	       strcmp(name, VS_MIG_DIGEST_FILE) == 0 ||
	       strncmp(name, VS_MIG_DIGEST_FILE ".tmp", strlen(VS_MIG_DIGEST_FILE) + 4) == 0 ||
	       strcmp(name, "stats-restore") == 0 || (n > 4 && strcmp(name + n - 4, ".log") == 0);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static struct entry *add_entry(struct entry **out, size_t *n, unsigned level, const char *name,
			       char kind)
{
	struct entry *en;

	*out = xrealloc(*out, (*n + 1) * sizeof(**out));
	en = &(*out)[(*n)++];
	memset(en, 0, sizeof(*en));
	if (level > 0)
		snprintf(en->name, sizeof(en->name), "%u/%s", level, name);
	else
		snprintf(en->name, sizeof(en->name), "%s", name);
	en->kind = kind;
	return en;
}

/* One level of the directory as it is (0: the top, K: round K): regular
 * files hashed (when hash), directories by name, the parent link by its
 * target into l, a round's directory descended into. Anything else (another
 * symlink, a device, a round holding more than pages) is an error: CRIU
 * writes none. */
static int scan_level(int dfd, unsigned level, bool hash, struct vs_mig_layout *l,
		      struct entry **out, size_t *n, struct vs_error *err)
{
	cleanup_dir DIR *d = fdopendir(dup(dfd));
	struct dirent *e;

	if (d == NULL)
		return vs_error_set(err, errno, "read image directory");
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		struct entry *en;
		unsigned k = level == 0 ? vs_mig_round_number(e->d_name) : 0;
		if (skipped(e->d_name))
			continue;
		if (*n >= MAX_ENTRIES || strlen(e->d_name) > NAME_MAX_LEN - 3)
			return vs_error_kind(err, VS_EK_INVALID,
					     "image: too many or too long names");
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return vs_error_set(err, errno, "stat image file %s", e->d_name);
		if (S_ISLNK(st.st_mode) && strcmp(e->d_name, VS_MIG_PARENT_LINK) == 0) {
			char buf[64];
			vs_mig_layout_link(l, level, buf,
					   readlinkat(dfd, e->d_name, buf, sizeof(buf)));
			en = add_entry(out, n, level, e->d_name, 'l');
			strcpy(en->target, l->target[level]);
			continue;
		}
		if (S_ISDIR(st.st_mode) && k > 0) {
			cleanup_close int sub =
			    openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				return vs_error_set(err, errno, "open image round %s", e->d_name);
			l->round[k] = true;
			add_entry(out, n, 0, e->d_name, 'd');
			if (scan_level(sub, k, hash, l, out, n, err) < 0)
				return -1;
			continue;
		}
		if (!S_ISREG(st.st_mode) && !(S_ISDIR(st.st_mode) && level == 0))
			return vs_error_kind(err, VS_EK_INVALID,
					     "image digest: %.0u%s%s is neither a file nor a "
					     "directory",
					     level, level > 0 ? "/" : "", e->d_name);
		if (level > 0 && !vs_mig_page_file_name(e->d_name))
			return vs_error_kind(err, VS_EK_INVALID,
					     "image digest: %u/%s in a round is not a page file",
					     level, e->d_name);
		en = add_entry(out, n, level, e->d_name, S_ISDIR(st.st_mode) ? 'd' : 'f');
		en->size = st.st_size;
		if (en->kind == 'f' && hash &&
		    file_sha256(dfd, e->d_name, &en->size, en->sha, err) < 0)
			return -1;
	}
	return 0;
}

/* The directory as it is, sorted by name, its rounds' layout checked. */
static int scan(int dfd, bool hash, struct entry **out, size_t *n, struct vs_error *err)
{
	struct vs_mig_layout l = {0};
	unsigned rounds;

	*out = NULL;
	*n = 0;
	if (scan_level(dfd, 0, hash, &l, out, n, err) < 0 ||
	    vs_mig_layout_check(&l, "image", &rounds, err) < 0)
		return -1;
	qsort(*out, *n, sizeof(**out), cmp_entry);
	return 0;
}

static char *canonical(const struct entry *es, size_t n)
{
	char *text = xstrdup(FORMAT "\n");
	for (size_t i = 0; i < n; i++) {
		char *next = es[i].kind == 'd' ? xasprintf("%sdir %s\n", text, es[i].name)
			     : es[i].kind == 'l'
				 ? xasprintf("%slink %s %s\n", text, es[i].target, es[i].name)
				 : xasprintf("%sfile %s %lld %s\n", text, es[i].sha,
					     (long long)es[i].size, es[i].name);
		free(text);
		text = next;
	}
	return text;
}

/* Nettle, not GnuTLS: the monitor checks images too, and GnuTLS's
 * initialisation at load time costs every monitor and exec helper about
 * 2 ms and its share of memory. */
static int mac(const uint8_t *key, const char *text, char out[SHA_HEX], struct vs_error *err)
{
	struct hmac_sha256_ctx h;
	uint8_t digest[SHA256_DIGEST_SIZE];

	(void)err;
	hmac_sha256_set_key(&h, VS_MIG_KEY_LEN, key);
	hmac_sha256_update(&h, strlen(text), (const uint8_t *)text);
	hmac_sha256_digest(&h, sizeof(digest), digest);
	hex(digest, sizeof(digest), out);
	return 0;
}

int vs_mig_image_seal(int dirfd, const uint8_t key[VS_MIG_KEY_LEN], struct vs_error *err)
{
	cleanup_free struct entry *es = NULL;
	cleanup_free char *text = NULL;
	cleanup_jgen struct vs_jgen *g = NULL;
	char hm[SHA_HEX];
	const char *json;
	size_t n, len;

	if (scan(dirfd, true, &es, &n, err) < 0)
		return vs_error_prefix(err, "seal image");
	text = canonical(es, n);
	if (mac(key, text, hm, err) < 0)
		return -1;
	g = vs_jgen_new(true);
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "format", FORMAT);
	vs_jgen_key(g, "files");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < n; i++) {
		if (es[i].kind != 'f')
			continue;
		vs_jgen_obj_open(g);
		vs_jgen_kv_str(g, "name", es[i].name);
		vs_jgen_kv_int(g, "size", es[i].size);
		vs_jgen_kv_str(g, "sha256", es[i].sha);
		vs_jgen_obj_close(g);
	}
	vs_jgen_arr_close(g);
	vs_jgen_key(g, "dirs");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < n; i++)
		if (es[i].kind == 'd')
			vs_jgen_str(g, es[i].name);
	vs_jgen_arr_close(g);
	for (size_t i = 0, nl = 0; i < n; i++) {
		if (es[i].kind != 'l')
			continue;
		if (nl++ == 0) {
			vs_jgen_key(g, "links");
			vs_jgen_arr_open(g);
		}
		vs_jgen_obj_open(g);
		vs_jgen_kv_str(g, "name", es[i].name);
		vs_jgen_kv_str(g, "target", es[i].target);
		vs_jgen_obj_close(g);
	}
	for (size_t i = 0; i < n; i++)
		if (es[i].kind == 'l') {
			vs_jgen_arr_close(g);
			break;
		}
	vs_jgen_kv_str(g, "hmac_sha256", hm);
	vs_jgen_obj_close(g);
	json = vs_jgen_text(g, &len);
	return vs_atomic_write_at(dirfd, VS_MIG_DIGEST_FILE, json, len, 0600, err);
}

static bool is_hex64(const char *s)
{
	if (s == NULL || strlen(s) != 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/* A listed name: a top-level name, or a round's "K/NAME" (a page file or
 * the parent link); a link only as "parent" or "K/parent". */
static bool name_ok(const char *name, char kind)
{
	const char *slash = strchr(name, '/');
	char num[4];

	if (name[0] == '\0' || strlen(name) > NAME_MAX_LEN || skipped(name))
		return false;
	if (slash == NULL)
		return kind != 'l' || strcmp(name, VS_MIG_PARENT_LINK) == 0;
	if (kind == 'd' || (size_t)(slash - name) >= sizeof(num))
		return false;
	memcpy(num, name, (size_t)(slash - name));
	num[slash - name] = '\0';
	if (vs_mig_round_number(num) == 0 || strchr(slash + 1, '/') != NULL)
		return false;
	return kind == 'l' ? strcmp(slash + 1, VS_MIG_PARENT_LINK) == 0
			   : vs_mig_page_file_name(slash + 1);
}

/* Entry i of the digest's "files", "dirs" and "links", in that order. */
static int read_entry(const struct vs_json *root, size_t i, struct entry *en, struct vs_error *err)
{
	const struct vs_json *files = vs_json_get(root, "files"), *dirs = vs_json_get(root, "dirs");
	const struct vs_json *links = vs_json_get(root, "links"), *v;
	size_t nf = vs_json_array_len(files), nd = vs_json_array_len(dirs);
	char kind = i < nf ? 'f' : i < nf + nd ? 'd' : 'l';
	const char *name, *sha = NULL, *target = NULL;
	int64_t size = 0;

	v = kind == 'f'	  ? vs_json_array_at(files, i)
	    : kind == 'd' ? vs_json_array_at(dirs, i - nf)
			  : vs_json_array_at(links, i - nf - nd);
	name = kind == 'd' ? vs_json_string(v) : vs_json_string(vs_json_get(v, "name"));
	if (kind == 'f')
		sha = vs_json_string(vs_json_get(v, "sha256"));
	if (kind == 'l')
		target = vs_json_string(vs_json_get(v, "target"));
	if (name == NULL || !name_ok(name, kind) ||
	    (kind == 'f' &&
	     (!is_hex64(sha) || !vs_json_int64(vs_json_get(v, "size"), &size) || size < 0)) ||
	    (kind == 'l' && (target == NULL || strlen(target) >= sizeof(en->target))))
		return vs_error_kind(err, VS_EK_INVALID, "image digest: malformed entry %zu", i);
	memset(en, 0, sizeof(*en));
	strcpy(en->name, name);
	en->kind = kind;
	en->size = size;
	if (sha != NULL)
		strcpy(en->sha, sha);
	if (target != NULL)
		strcpy(en->target, target);
	return 0;
}

/* The digest file's entries, checked for shape and sorted. */
static int read_digest(int dfd, struct entry **out, size_t *n, char hm[SHA_HEX],
		       struct vs_error *err)
{
	cleanup_free char *text = NULL;
	cleanup_json struct vs_json *root = NULL;
	const char *fmt, *h;
	size_t total;

	*out = NULL;
	*n = 0;
	if (vs_read_file_at(dfd, VS_MIG_DIGEST_FILE, 16 << 20, &text, NULL, err) < 0)
		return vs_error_kind(err, VS_EK_INVALID, "image digest: no %s (%s)",
				     VS_MIG_DIGEST_FILE, strerror(err ? err->errnum : 0));
	if (vs_json_parse(text, &root, err) < 0)
		return vs_error_kind(err, VS_EK_INVALID, "image digest: %s is not JSON",
				     VS_MIG_DIGEST_FILE);
	fmt = vs_json_string(vs_json_get(root, "format"));
	h = vs_json_string(vs_json_get(root, "hmac_sha256"));
	total = vs_json_array_len(vs_json_get(root, "files")) +
		vs_json_array_len(vs_json_get(root, "dirs")) +
		vs_json_array_len(vs_json_get(root, "links"));
	if (fmt == NULL || strcmp(fmt, FORMAT) != 0 || !is_hex64(h) || total > MAX_ENTRIES)
		return vs_error_kind(err, VS_EK_INVALID, "image digest: malformed %s",
				     VS_MIG_DIGEST_FILE);
	strcpy(hm, h);
	*out = xcalloc(total + 1, sizeof(**out));
	for (size_t i = 0; i < total; i++) {
		if (read_entry(root, i, &(*out)[i], err) < 0)
			return -1;
		(*n)++;
	}
	qsort(*out, *n, sizeof(**out), cmp_entry);
	for (size_t i = 1; i < *n; i++)
		if (strcmp((*out)[i - 1].name, (*out)[i].name) == 0)
			return vs_error_kind(err, VS_EK_INVALID, "image digest: %s listed twice",
					     (*out)[i].name);
	return 0;
}

/* Compare the listed entries with the directory (both sorted). */
static int compare(int dfd, const struct entry *want, size_t nw, const struct entry *have,
		   size_t nh, struct vs_error *err)
{
	size_t i = 0, j = 0;

	while (i < nw || j < nh) {
		int c = i == nw ? 1 : j == nh ? -1 : strcmp(want[i].name, have[j].name);
		if (c < 0)
			return vs_error_kind(err, VS_EK_INVALID, "image digest: %s missing",
					     want[i].name);
		if (c > 0)
			return vs_error_kind(err, VS_EK_INVALID, "image digest: extra file %s",
					     have[j].name);
		if (want[i].kind != have[j].kind ||
		    (want[i].kind == 'f' && want[i].size != have[j].size) ||
		    (want[i].kind == 'l' && strcmp(want[i].target, have[j].target) != 0))
			return vs_error_kind(err, VS_EK_INVALID, "image digest: %s changed",
					     want[i].name);
		if (want[i].kind == 'f') {
			char sha[SHA_HEX];
			int64_t size;
			if (file_sha256(dfd, want[i].name, &size, sha, err) < 0)
				return -1;
			if (size != want[i].size || strcmp(sha, want[i].sha) != 0)
				return vs_error_kind(err, VS_EK_INVALID, "image digest: %s changed",
						     want[i].name);
		}
		i++;
		j++;
	}
	return 0;
}

int vs_mig_image_verify(int dirfd, const uint8_t key[VS_MIG_KEY_LEN], struct vs_error *err)
{
	cleanup_free struct entry *want = NULL;
	cleanup_free struct entry *have = NULL;
	cleanup_free char *text = NULL;
	char hm[SHA_HEX], got[SHA_HEX];
	size_t nw, nh;

	if (read_digest(dirfd, &want, &nw, hm, err) < 0)
		return -1;
	text = canonical(want, nw);
	if (mac(key, text, got, err) < 0)
		return -1;
	if (!memeql_sec(got, hm, 64))
		return vs_error_kind(err, VS_EK_INVALID,
				     "image digest: bad signature (%s was changed, or sealed by "
				     "another node's key)",
				     VS_MIG_DIGEST_FILE);
	/* Size and type first, without hashing: a cheap refusal of a changed
	 * directory before reading gigabytes of pages. */
	if (scan(dirfd, false, &have, &nh, err) < 0)
		return -1;
	return compare(dirfd, want, nw, have, nh, err);
}

bool vs_mig_image_present(int dirfd)
{
	struct stat st;

	return fstatat(dirfd, "inventory.img", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode);
}
