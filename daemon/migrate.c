/* What both ends of a migration keep (docs/migration.md): one record per
 * migration in ROOT/migrations/ID.json, written atomically before each
 * step it describes, so that a daemon that comes back knows where it was
 * and the two nodes can reconcile. The source's record names the target
 * (URL, pinned fingerprint); the target's the container and its staging. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/handlers.h"
#include "lib/vs_io.h"
#include "lib/vs_json.h"
#include "lib/vs_util.h"

#define REC_DIR	      "migrations"
#define REC_MAX	      (64 * 1024)
#define REC_KEEP_DAYS 7

static const char *const state_names[] = {
    [VSD_MIG_RESERVED] = "reserved",	 [VSD_MIG_COPYING] = "copying", [VSD_MIG_DUMPED] = "dumped",
    [VSD_MIG_COMMITTING] = "committing", [VSD_MIG_DONE] = "done",	[VSD_MIG_FAILED] = "failed",
    [VSD_MIG_ABORTED] = "aborted",
};

const char *vsd_mig_state_name(enum vsd_mig_state s)
{
	return (size_t)s < sizeof(state_names) / sizeof(state_names[0]) && state_names[s]
		   ? state_names[s]
		   : "unknown";
}

static int state_parse(const char *s, enum vsd_mig_state *out)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (state_names[i] != NULL && strcmp(state_names[i], s) == 0) {
			*out = (enum vsd_mig_state)i;
			return 0;
		}
	return -1;
}

bool vsd_mig_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n != VSD_MIG_ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

int vsd_mig_id_new(char out[VSD_MIG_ID_LEN + 1], struct vs_error *err)
{
	uint8_t raw[VSD_MIG_ID_LEN / 2];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return vs_error_set(err, errno, "getrandom");
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

int vsd_mig_check_version(const struct vsd_call *c, struct vs_error *err)
{
	const char *v = vsd_call_header(c, VSD_MIG_HEADER);
	char *end = NULL;
	long n;

	if (v == NULL)
		return vs_error_kind(err, VS_EK_INVALID,
				     "missing the %s header (this node speaks migration "
				     "protocol version %d)",
				     VSD_MIG_HEADER, VSD_MIG_VERSION);
	n = strtol(v, &end, 10);
	if (end == v || *end != '\0' || n != VSD_MIG_VERSION) {
		cleanup_free char *clean = vsd_sanitize(v, 32);
		return vs_error_kind(err, VS_EK_INVALID,
				     "migration protocol version %s is not supported by this node "
				     "(it speaks %d)",
				     clean, VSD_MIG_VERSION);
	}
	return 0;
}

/* ROOT/migrations, made on first use (0700). */
static int open_rec_dir(struct vsd *d)
{
	cleanup_free char *path = xasprintf("%s/" REC_DIR, d->root);

	return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static int rec_dir(struct vsd *d, struct vs_error *err)
{
	cleanup_free char *path = xasprintf("%s/" REC_DIR, d->root);
	int fd;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return vs_error_set(err, errno, "create %s", path);
	fd = open_rec_dir(d);
	if (fd < 0)
		return vs_error_set(err, errno, "open %s", path);
	return fd;
}

int vsd_mig_record_save(struct vsd *d, struct vsd_mig_record *r, struct vs_error *err)
{
	cleanup_close int dfd = rec_dir(d, err);
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(true);
	char file[VSD_MIG_ID_LEN + 8];
	const char *text;
	size_t len;

	if (dfd < 0)
		return -1;
	r->updated_at = (int64_t)time(NULL);
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "id", r->id);
	vs_jgen_kv_str(g, "name", r->name);
	vs_jgen_kv_str(g, "role", r->source ? "source" : "target");
	vs_jgen_kv_str(g, "state", vsd_mig_state_name(r->state));
	vs_jgen_kv_str(g, "mode", r->mode);
	vs_jgen_kv_str(g, "peer_url", r->peer_url);
	vs_jgen_kv_str(g, "peer_fingerprint", r->peer_fp);
	vs_jgen_kv_int(g, "idmap_base", r->idmap_base);
	vs_jgen_kv_int(g, "src_idmap_base", r->src_idmap_base);
	vs_jgen_kv_bool(g, "was_running", r->was_running);
	vs_jgen_kv_str(g, "error", r->error);
	vs_jgen_kv_str(g, "sync_error", r->sync_error);
	vs_jgen_kv_str(g, "pull", r->pull);
	vs_jgen_kv_int(g, "updated_at", r->updated_at);
	vs_jgen_obj_close(g);
	text = vs_jgen_text(g, &len);
	snprintf(file, sizeof(file), "%s.json", r->id);
	if (vs_atomic_write_at(dfd, file, text, len, 0600, err) < 0)
		return vs_error_prefix(err, "record migration %s", r->id);
	return 0;
}

static void copy_str(const struct vs_json *obj, const char *key, char *out, size_t len)
{
	const char *s = vs_json_string(vs_json_get(obj, key));

	snprintf(out, len, "%s", s != NULL ? s : "");
}

static int record_parse(const char *text, struct vsd_mig_record *r, struct vs_error *err)
{
	cleanup_json struct vs_json *obj = NULL;
	const char *state, *role;
	int64_t v = 0;

	memset(r, 0, sizeof(*r));
	if (vs_json_parse(text, &obj, err) < 0)
		return -1;
	copy_str(obj, "id", r->id, sizeof(r->id));
	copy_str(obj, "name", r->name, sizeof(r->name));
	copy_str(obj, "mode", r->mode, sizeof(r->mode));
	copy_str(obj, "peer_url", r->peer_url, sizeof(r->peer_url));
	copy_str(obj, "peer_fingerprint", r->peer_fp, sizeof(r->peer_fp));
	copy_str(obj, "error", r->error, sizeof(r->error));
	copy_str(obj, "sync_error", r->sync_error, sizeof(r->sync_error));
	copy_str(obj, "pull", r->pull, sizeof(r->pull));
	state = vs_json_string(vs_json_get(obj, "state"));
	role = vs_json_string(vs_json_get(obj, "role"));
	if (!vsd_mig_id_valid(r->id) || state == NULL || state_parse(state, &r->state) < 0 ||
	    role == NULL)
		return vs_error_kind(err, VS_EK_INVALID, "not a migration record");
	r->source = strcmp(role, "source") == 0;
	if (vs_json_int64(vs_json_get(obj, "idmap_base"), &v))
		r->idmap_base = (uint32_t)v;
	if (vs_json_int64(vs_json_get(obj, "src_idmap_base"), &v))
		r->src_idmap_base = (uint32_t)v;
	vs_json_bool(vs_json_get(obj, "was_running"), &r->was_running);
	if (vs_json_int64(vs_json_get(obj, "updated_at"), &v))
		r->updated_at = v;
	return 0;
}

int vsd_mig_record_load(struct vsd *d, const char *id, struct vsd_mig_record *r,
			struct vs_error *err)
{
	cleanup_close int dfd = -1;
	cleanup_free char *text = NULL;
	char file[VSD_MIG_ID_LEN + 8];

	if (!vsd_mig_id_valid(id))
		return vs_error_kind(err, VS_EK_NOT_FOUND, "no migration with that id");
	dfd = open_rec_dir(d);
	if (dfd < 0 && errno != ENOENT)
		return vs_error_kind(err, VS_EK_INTERNAL, "open %s/" REC_DIR ": %s", d->root,
				     strerror(errno));
	snprintf(file, sizeof(file), "%s.json", id);
	if (dfd < 0 || vs_read_file_at(dfd, file, REC_MAX, &text, NULL, err) < 0) {
		if (dfd < 0 || err->errnum == ENOENT)
			return vs_error_kind(err, VS_EK_NOT_FOUND, "no migration %s on this node",
					     id);
		return vs_error_prefix(err, "migration %s", id);
	}
	if (record_parse(text, r, err) < 0 || strcmp(r->id, id) != 0)
		return vs_error_kind(err, VS_EK_INTERNAL, "migration record %s is damaged", id);
	return 0;
}

bool vsd_mig_pull_unsettled(const char *pull)
{
	return strcmp(pull, "pulling") == 0 || strcmp(pull, "failed") == 0 ||
	       strcmp(pull, "removing") == 0;
}

enum vsd_mig_held vsd_mig_held_state(enum vs_rt_state state, bool monitor_alive, int frozen)
{
	if (state != VS_RT_RUNNING)
		return VSD_MIG_HELD_NONE;
	if (!monitor_alive)
		return VSD_MIG_HELD_ORPHAN;
	/* Cannot tell: the monitor's thaw is what a held tree needs, and
	 * does nothing to one that runs. */
	return frozen == 0 ? VSD_MIG_HELD_RUNNING : VSD_MIG_HELD_FROZEN;
}

bool vsd_mig_record_stale(const struct vsd_mig_record *r, int64_t now)
{
	bool finished =
	    r->state == VSD_MIG_DONE || r->state == VSD_MIG_FAILED || r->state == VSD_MIG_ABORTED;
	/* A pull not settled: its record is the only word on which copy may
	 * run (the target's 404 would read as "gone"). */
	return finished && !vsd_mig_pull_unsettled(r->pull) &&
	       now - r->updated_at > REC_KEEP_DAYS * 86400;
}

/* The records' directory, as an fd and a stream over it: 1, 0 when it
 * does not exist (yet), -1 (err). */
static int read_rec_dir(struct vsd *d, int *dfd, DIR **dir, struct vs_error *err)
{
	*dfd = open_rec_dir(d);
	if (*dfd < 0)
		return errno == ENOENT ? 0 : vs_error_set(err, errno, "open %s/" REC_DIR, d->root);
	*dir = fdopendir(dup(*dfd));
	if (*dir == NULL)
		return vs_error_set(err, errno, "read %s/" REC_DIR, d->root);
	return 1;
}

int vsd_mig_record_each(struct vsd *d, vsd_mig_record_fn fn, void *ud, struct vs_error *err)
{
	cleanup_close int dfd = -1;
	cleanup_dir DIR *dir = NULL;
	struct dirent *e;
	int64_t now = (int64_t)time(NULL);
	int rc;

	rc = read_rec_dir(d, &dfd, &dir, err);
	if (rc <= 0)
		return rc;
	while ((e = readdir(dir)) != NULL) {
		struct vsd_mig_record r;
		struct vs_error e2 = {0};
		char id[VSD_MIG_ID_LEN + 1];
		size_t n = strlen(e->d_name);

		if (n != VSD_MIG_ID_LEN + 5 || strcmp(e->d_name + VSD_MIG_ID_LEN, ".json") != 0)
			continue;
		memcpy(id, e->d_name, VSD_MIG_ID_LEN);
		id[VSD_MIG_ID_LEN] = '\0';
		if (vsd_mig_record_load(d, id, &r, &e2) < 0) {
			vsd_log("migration %s: %s", id, e2.msg);
			continue;
		}
		if (vsd_mig_record_stale(&r, now)) {
			char list[VSD_MIG_ID_LEN + sizeof(VSD_MIG_LIST_EXT)];

			/* A list its second pass left (its source killed in
			 * it) goes with it. */
			snprintf(list, sizeof(list), "%s" VSD_MIG_LIST_EXT, id);
			unlinkat(dfd, list, 0);
			unlinkat(dfd, e->d_name, 0);
			continue;
		}
		fn(d, &r, ud);
	}
	return 0;
}

int vsd_mig_sweep_lists(struct vsd *d, struct vs_error *err)
{
	cleanup_close int dfd = -1;
	cleanup_dir DIR *dir = NULL;
	struct dirent *e;
	int n = 0, rc;

	rc = read_rec_dir(d, &dfd, &dir, err);
	if (rc <= 0)
		return rc;
	while ((e = readdir(dir)) != NULL) {
		size_t len = strlen(e->d_name);

		if (len != VSD_MIG_ID_LEN + strlen(VSD_MIG_LIST_EXT) ||
		    strcmp(e->d_name + VSD_MIG_ID_LEN, VSD_MIG_LIST_EXT) != 0)
			continue;
		if (unlinkat(dfd, e->d_name, 0) == 0)
			n++;
		else
			vsd_log("migrations: remove %s: %s", e->d_name, strerror(errno));
	}
	return n;
}

int vsd_mig_opt_bool(const struct vs_json *obj, const char *key, bool *out, struct vs_error *err)
{
	const struct vs_json *v = vs_json_get(obj, key);

	if (v != NULL && !vs_json_bool(v, out))
		return vs_error_kind(err, VS_EK_INVALID, "%s: expected true or false", key);
	return 0;
}

enum vsd_mig_pull_word vsd_mig_pull_word(unsigned status, const char *answer)
{
	cleanup_json struct vs_json *obj = NULL;
	struct vs_error e = {0};
	const char *st, *pull;

	/* The commit happened: a target without the record lost it (or
	 * another node answers at its address), which proves nothing. */
	if (status != 200 || answer == NULL || vs_json_parse(answer, &obj, &e) < 0)
		return VSD_MIG_PULL_UNKNOWN;
	st = vs_json_string(vs_json_get(obj, "state"));
	pull = vs_json_string(vs_json_get(obj, "pull"));
	if (st == NULL)
		return VSD_MIG_PULL_UNKNOWN;
	if (strcmp(st, "failed") == 0 || strcmp(st, "aborted") == 0)
		return VSD_MIG_PULL_GONE;
	if (strcmp(st, "done") == 0 && pull != NULL && strcmp(pull, "lost") == 0)
		return VSD_MIG_PULL_GONE;
	if (strcmp(st, "done") == 0 && pull != NULL && strcmp(pull, "pulled") == 0)
		return VSD_MIG_PULL_PULLED;
	return VSD_MIG_PULL_RUNNING;
}

int vsd_mig_lazy_blocker(const char *node_info, char *buf, size_t len)
{
	cleanup_json struct vs_json *obj = NULL;
	cleanup_free char *clean = NULL;
	struct vs_error e = {0};
	const struct vs_json *criu, *msgs, *have;
	const char *why = NULL;
	bool lazy = false;

	if (node_info == NULL || vs_json_parse(node_info, &obj, &e) < 0) {
		snprintf(buf, len, "the target's node info could not be read");
		return 1;
	}
	criu = vs_json_get(obj, "criu");
	have = vs_json_get(vs_json_get(criu, "features"), "lazy_pages");
	if (have == NULL || !vs_json_bool(have, &lazy)) {
		snprintf(buf, len,
			 "the target does not say it can restore lazily (post-copy): an older vsd");
		return 1;
	}
	if (lazy)
		return 0;
	msgs = vs_json_get(criu, "messages");
	for (size_t i = 0; i < vs_json_array_len(msgs); i++) {
		const char *m = vs_json_string(vs_json_array_at(msgs, i));
		if (m != NULL && (why == NULL || strncmp(m, "no lazy pages", 13) == 0))
			why = m;
		if (why != NULL && strncmp(why, "no lazy pages", 13) == 0)
			break;
	}
	clean = vsd_sanitize(why != NULL ? why : "criu.features.lazy_pages is false", 400);
	snprintf(buf, len, "the target cannot restore lazily (post-copy): %s", clean);
	return 1;
}

void vsd_mig_gen_record(struct vs_jgen *g, const struct vsd_mig_record *r)
{
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "id", r->id);
	vs_jgen_kv_str(g, "name", r->name);
	vs_jgen_kv_str(g, "state", vsd_mig_state_name(r->state));
	vs_jgen_kv_str(g, "mode", r->mode);
	if (r->error[0] != '\0')
		vs_jgen_kv_str(g, "error", r->error);
	if (r->sync_error[0] != '\0')
		vs_jgen_kv_str(g, "sync_error", r->sync_error);
	if (r->pull[0] != '\0')
		vs_jgen_kv_str(g, "pull", r->pull);
	vs_jgen_obj_close(g);
}

void vsd_mig_sync_error_format(char *buf, size_t len, const char *id, const char *part,
			       const char *what, int status, const char *line)
{
	cleanup_free char *clean = vsd_sanitize(line != NULL ? line : "", 400);

	if (clean[0] != '\0')
		snprintf(buf, len, "%s: %s ended with status %d: %s", part, what, status, clean);
	else
		snprintf(buf, len,
			 "%s: %s ended with status %d: it printed nothing here (its messages went "
			 "to the source over the stream: see the source's log for migration %s)",
			 part, what, status, id);
}

void vsd_mig_sync_cause(const char *answer, const char *part, char *buf, size_t len)
{
	cleanup_json struct vs_json *obj = NULL;
	cleanup_free char *clean = NULL;
	struct vs_error e = {0};
	const char *line;
	size_t n = strlen(part);

	if (len == 0)
		return;
	buf[0] = '\0';
	if (answer == NULL || vs_json_parse(answer, &obj, &e) < 0)
		return;
	line = vs_json_string(vs_json_get(obj, "sync_error"));
	if (line == NULL || strncmp(line, part, n) != 0 || strncmp(line + n, ": ", 2) != 0)
		return;
	/* A remote's text: bounded, no control characters. */
	clean = vsd_sanitize(line + n + 2, VSD_MIG_SYNC_ERROR_MAX - 1);
	snprintf(buf, len, "%s", clean);
}
