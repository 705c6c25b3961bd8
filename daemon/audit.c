/* The audit log (auth.h): <root>/audit.log, one JSON object a line, mode
 * 0600. Each record is one write(2) on an O_APPEND descriptor, so records
 * of concurrent requests never interleave. Never a secret and never a
 * request body (a password may be in it): only who, what and the result. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/auth.h"
#include "daemon/log.h"
#include "lib/vs_io.h"
#include "lib/vs_json.h"
#include "lib/vs_util.h"

/* Longest message kept: enough for an error, short of a flood. */
#define AUDIT_MSG_MAX 512

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
	line = xasprintf("%.*s\n", (int)len, text);
	pthread_mutex_lock(&lock);
	fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || vs_write_all(fd, line, strlen(line)) < 0)
		vsd_log("audit log %s: %s", file, strerror(errno));
	pthread_mutex_unlock(&lock);
}

void vsd_audit(struct vsd *d, const struct vsd_identity *who, const char *method, const char *path,
	       unsigned status, const char *message)
{
	vsd_audit_to(vsd_auth_root(d), who, method, path, status, message);
}
