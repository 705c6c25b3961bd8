/* The audit log (auth.h): <root>/audit.log, one JSON object a line, mode
 * 0600. Each record is one write(2) on an O_APPEND descriptor, so records
 * of concurrent requests never interleave. Never a secret and never a
 * request body (a password may be in it): only who, what and the result. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/auth.h"
#include "daemon/log.h"
#include "lib/vs_io.h"
#include "lib/vs_json.h"
#include "lib/vs_util.h"

/* Longest message kept: enough for an error, short of a flood. */
#define AUDIT_MSG_MAX 512
/* The log is moved to audit.log.1 (replacing it) past this size. */
#define AUDIT_ROTATE_BYTES (64 << 20)
/* Records of requests without a valid credential (anyone on the network
 * can make them) per second at most; the rest are counted and the count
 * is recorded when the next second's first one is. */
#define AUDIT_ANON_PER_SEC 20

/* Under the log's lock: may a record of who be written now? *dropped gets
 * how many credential-less records were left out before this one. */
static bool anon_admit(const struct vsd_identity *who, time_t now, unsigned *dropped)
{
	static time_t second;
	static unsigned used, skipped;

	*dropped = 0;
	if (who->kind != VSD_CRED_NONE)
		return true;
	if (now != second) {
		second = now;
		used = 0;
		*dropped = skipped;
		skipped = 0;
	}
	if (used >= AUDIT_ANON_PER_SEC) {
		skipped++;
		return false;
	}
	used++;
	return true;
}

/* Open the log for appending, rotating it first when it grew too big. */
static int open_log(const char *file)
{
	int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	cleanup_free char *old = NULL;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < AUDIT_ROTATE_BYTES)
		return fd;
	close(fd);
	old = xasprintf("%s.1", file);
	if (rename(file, old) < 0)
		vsd_log("audit log %s: rotate: %s", file, strerror(errno));
	return open(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
}

void vsd_audit_to(const char *root, const struct vsd_identity *who, const char *method,
		  const char *path, unsigned status, const char *message)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	cleanup_free char *file = xasprintf("%s/audit.log", root);
	cleanup_free char *p = vsd_sanitize(path, 1024);
	cleanup_free char *m = vsd_sanitize(message != NULL ? message : "", AUDIT_MSG_MAX);
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_close int fd = -1;
	cleanup_free char *line = NULL;
	char when[32];
	struct tm tm;
	time_t now = time(NULL);
	const char *text;
	unsigned dropped;
	size_t len;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "time", when);
	vs_jgen_kv_int(g, "unix", (int64_t)now);
	vs_jgen_kv_str(g, "who", who->name[0] != '\0' ? who->name : "anonymous");
	if (who->owner[0] != '\0')
		vs_jgen_kv_str(g, "owner", who->owner);
	vs_jgen_kv_str(g, "method", method);
	vs_jgen_kv_str(g, "path", p);
	vs_jgen_kv_int(g, "status", status);
	vs_jgen_kv_str(g, "message", m);
	vs_jgen_obj_close(g);
	text = vs_jgen_text(g, &len);
	pthread_mutex_lock(&lock);
	if (!anon_admit(who, now, &dropped)) {
		pthread_mutex_unlock(&lock);
		return;
	}
	if (dropped > 0)
		line = xasprintf("{\"time\":\"%s\",\"unix\":%lld,\"who\":\"anonymous\","
				 "\"method\":\"-\",\"path\":\"-\",\"status\":401,"
				 "\"message\":\"%u more refused requests without a credential "
				 "not recorded (at most %d a second)\"}\n%.*s\n",
				 when, (long long)now, dropped, AUDIT_ANON_PER_SEC, (int)len, text);
	else
		line = xasprintf("%.*s\n", (int)len, text);
	fd = open_log(file);
	if (fd < 0 || vs_write_all(fd, line, strlen(line)) < 0)
		vsd_log("audit log %s: %s", file, strerror(errno));
	pthread_mutex_unlock(&lock);
}

void vsd_audit(struct vsd *d, const struct vsd_identity *who, const char *method, const char *path,
	       unsigned status, const char *message)
{
	vsd_audit_to(vsd_auth_root(d), who, method, path, status, message);
}

/* What GET /v1/audit reads of the log: its end, at most this much. */
#define AUDIT_READ_MAX (4 << 20)

/* The last AUDIT_READ_MAX bytes of the log from its first whole line
 * (malloc'd, NUL-terminated; "" when there is no log). 0 or -1. */
static int read_tail(const char *file, char **out, struct vs_error *err)
{
	cleanup_close int fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_free char *buf = NULL;
	struct stat st;
	off_t from;
	ssize_t n;
	char *start;

	if (fd < 0 && errno == ENOENT) {
		*out = xstrdup("");
		return 0;
	}
	if (fd < 0 || fstat(fd, &st) < 0)
		return vs_error_set(err, errno, "open %s", file);
	from = st.st_size > AUDIT_READ_MAX ? st.st_size - AUDIT_READ_MAX : 0;
	buf = xmalloc((size_t)(st.st_size - from) + 1);
	n = pread(fd, buf, (size_t)(st.st_size - from), from);
	if (n < 0)
		return vs_error_set(err, errno, "read %s", file);
	buf[n] = '\0';
	start = buf;
	/* A cut line is not a record. */
	if (from > 0 && (start = strchr(buf, '\n')) != NULL)
		start++;
	*out = xstrdup(start != NULL ? start : "");
	return 0;
}

int vsd_audit_read(const char *root, int64_t since, size_t limit, struct vs_jgen *g,
		   struct vs_error *err)
{
	cleanup_free char *file = xasprintf("%s/audit.log", root);
	cleanup_free char *text = NULL;
	size_t n = 0, skip;
	char *save = NULL;
	struct vs_json **recs = NULL;

	if (read_tail(file, &text, err) < 0)
		return -1;
	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		struct vs_json *rec = NULL;
		struct vs_error e = {0};
		int64_t t = 0;

		if (vs_json_parse(line, &rec, &e) < 0)
			continue;
		if (!vs_json_int64(vs_json_get(rec, "unix"), &t) || t < since) {
			vs_json_free(rec);
			continue;
		}
		recs = xrealloc(recs, (n + 1) * sizeof(*recs));
		recs[n++] = rec;
	}
	/* The newest `limit`, oldest first. */
	skip = n > limit ? n - limit : 0;
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < n; i++) {
		if (i >= skip)
			vs_jgen_value(g, recs[i]);
		vs_json_free(recs[i]);
	}
	vs_jgen_arr_close(g);
	free(recs);
	return 0;
}
