/* OOM events: the kernel log lines that name the killed task, and the
 * per-container record in containers/NAME/oom.json.
 *
 * The count comes from the cgroup (memory.events or memory.oom_control
 * "oom_kill"), which is exact but restarts at 0 with each new cgroup (every
 * container start); the record keeps the running total over restarts. The
 * command and the time come from the kernel log, the only place that names
 * the victim. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"

#define OOM_FILE "oom.json"

/* Copy the value of "key=" in the comma-separated list msg (up to ',' or
 * the end of the line) into out. False when absent or too long. */
static bool field(const char *msg, size_t len, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key);

	for (const char *p = msg; p < msg + len;) {
		const char *end = memchr(p, ',', (size_t)(msg + len - p));
		size_t flen = end ? (size_t)(end - p) : (size_t)(msg + len - p);
		if (flen > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			size_t vlen = flen - klen - 1;
			if (vlen >= outlen)
				return false;
			memcpy(out, p + klen + 1, vlen);
			out[vlen] = '\0';
			return true;
		}
		p += flen + 1;
	}
	return false;
}

/* "/<parent>/<name>[/...]" → name. */
static bool memcg_container(const char *memcg, const char *parent, char *out, size_t outlen)
{
	size_t plen = strlen(parent), nlen;
	const char *name;

	if (memcg[0] != '/' || strncmp(memcg + 1, parent, plen) != 0 || memcg[plen + 1] != '/')
		return false;
	name = memcg + plen + 2;
	nlen = strcspn(name, "/");
	if (nlen == 0 || nlen >= outlen)
		return false;
	memcpy(out, name, nlen);
	out[nlen] = '\0';
	return true;
}

static int parse_oom_kill(const char *msg, size_t len, const char *parent, struct vsd_oom_line *out)
{
	char memcg[512], pid[32];

	if (!field(msg, len, "oom_memcg", memcg, sizeof(memcg)) ||
	    !memcg_container(memcg, parent, out->container, sizeof(out->container)) ||
	    !field(msg, len, "task", out->command, sizeof(out->command)))
		return 0;
	out->pid = field(msg, len, "pid", pid, sizeof(pid)) ? strtoll(pid, NULL, 10) : 0;
	return 1;
}

static int parse_killed(const char *msg, size_t len, struct vsd_oom_line *out)
{
	static const char prefix[] = "Memory cgroup out of memory: Killed process ";
	const char *p = msg + sizeof(prefix) - 1, *open, *close;
	char *end;

	if (len < sizeof(prefix) || strncmp(msg, prefix, sizeof(prefix) - 1) != 0)
		return 0;
	out->pid = strtoll(p, &end, 10);
	open = end;
	if (end == p || *open != ' ' || open[1] != '(')
		return 0;
	open += 2;
	close = memchr(open, ')', (size_t)(msg + len - open));
	if (close == NULL || (size_t)(close - open) >= sizeof(out->command))
		return 0;
	memcpy(out->command, open, (size_t)(close - open));
	out->command[close - open] = '\0';
	out->container[0] = '\0';
	return 1;
}

int vsd_oom_parse_kmsg(const char *rec, size_t len, const char *parent, struct vsd_oom_line *out)
{
	const char *semi = memchr(rec, ';', len), *msg, *nl;
	unsigned long long pri, seq, ts;

	memset(out, 0, sizeof(*out));
	if (semi == NULL || sscanf(rec, "%llu,%llu,%llu", &pri, &seq, &ts) != 3)
		return 0;
	msg = semi + 1;
	nl = memchr(msg, '\n', (size_t)(rec + len - msg));
	len = nl ? (size_t)(nl - msg) : (size_t)(rec + len - msg);
	out->ts_usec = (int64_t)ts;
	if (len > 9 && strncmp(msg, "oom-kill:", 9) == 0)
		return parse_oom_kill(msg + 9, len - 9, parent, out);
	return parse_killed(msg, len, out);
}

void vsd_oom_load(struct vsd *d, const char *name, struct vsd_oom_rec *r)
{
	cleanup_free char *path = xasprintf("%s/%s", name, OOM_FILE);
	cleanup_free char *text = NULL;
	cleanup_json struct vs_json *j = NULL;
	struct vs_error err = {0};
	const char *cmd;
	size_t len;

	memset(r, 0, sizeof(*r));
	r->loaded = true;
	if (vs_read_file_at(d->containers_fd, path, 64 * 1024, &text, &len, &err) < 0) {
		if (err.errnum != ENOENT)
			vsd_log("container %s: %s", name, err.msg);
		return;
	}
	if (vs_json_parse(text, &j, &err) < 0 || vs_json_type(j) != VS_JSON_OBJECT) {
		vsd_log("container %s: %s: not a JSON object, starting afresh", name, OOM_FILE);
		return;
	}
	vs_json_int64(vs_json_get(j, "kills"), &r->info.kills);
	vs_json_int64(vs_json_get(j, "last_at"), &r->info.last_at);
	vs_json_int64(vs_json_get(j, "cgroup_kills"), &r->cg_kills);
	vs_json_int64(vs_json_get(j, "started_at"), &r->started_at);
	cmd = vs_json_string(vs_json_get(j, "last_command"));
	if (cmd != NULL)
		snprintf(r->info.last_command, sizeof(r->info.last_command), "%s", cmd);
}

void vsd_oom_store(struct vsd *d, const char *name, const struct vsd_oom_rec *r)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_close int dfd = -1;
	struct vs_error err = {0};
	const char *text;
	size_t len;

	vs_jgen_obj_open(g);
	vs_jgen_kv_int(g, "kills", r->info.kills);
	vs_jgen_kv_int(g, "last_at", r->info.last_at);
	vs_jgen_kv_str(g, "last_command", r->info.last_command);
	vs_jgen_kv_int(g, "cgroup_kills", r->cg_kills);
	vs_jgen_kv_int(g, "started_at", r->started_at);
	vs_jgen_obj_close(g);
	text = vs_jgen_text(g, &len);
	dfd = openat(d->containers_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	/* A container destroyed meanwhile keeps no record. */
	if (dfd < 0)
		return;
	if (vs_atomic_write_at(dfd, OOM_FILE, text, len, 0600, &err) < 0)
		vsd_log("container %s: %s", name, err.msg);
}

bool vsd_oom_count(struct vsd_oom_rec *r, int64_t started_at, int64_t cg_kills)
{
	if (cg_kills < 0)
		return false;
	/* A new start is a new cgroup whose counter began at 0. Not a change
	 * to write by itself: a record of an earlier start, read back, is
	 * reset here the same way (this spares every start's answer two
	 * fsyncs). */
	if (started_at != r->started_at) {
		r->started_at = started_at;
		r->cg_kills = 0;
	}
	/* Also a new cgroup: restarted within the same second. */
	if (cg_kills < r->cg_kills)
		r->cg_kills = 0;
	if (cg_kills == r->cg_kills)
		return false;
	r->info.kills += cg_kills - r->cg_kills;
	r->cg_kills = cg_kills;
	return true;
}
