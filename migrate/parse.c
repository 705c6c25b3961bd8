/* Reading CRIU's answers: `criu --version`, and why a `criu check` failed.
 *
 * CRIU prints "X is supported" / "Looks good." on stdout and its reasons on
 * stderr, read line by line by the log reader (criulog.c). The exit status
 * is what decides; the text only explains. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/vs_util.h"
#include "migrate/mig-private.h"

#define MAX_REASONS 3

int vs_mig_parse_version(const char *out, char *ver, size_t len)
{
	const char *line = out;

	ver[0] = '\0';
	while (line != NULL && *line != '\0') {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);

		if (n > 8 && strncmp(line, "Version:", 8) == 0) {
			const char *v = line + 8;
			size_t k;

			while (v < line + n && (*v == ' ' || *v == '\t'))
				v++;
			k = strspn(v, "0123456789abcdefghijklmnopqrstuvwxyz"
				      "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-~+");
			if (k == 0 || k >= len || !isdigit((unsigned char)v[0]))
				return -1;
			/* Anything but trailing blanks after the version is not
			 * a version line we understand. */
			for (const char *t = v + k; t < line + n; t++)
				if (*t != ' ' && *t != '\t' && *t != '\r')
					return -1;
			memcpy(ver, v, k);
			ver[k] = '\0';
			return 0;
		}
		line = end ? end + 1 : NULL;
	}
	return -1;
}

bool vs_mig_parse_check(const struct vs_mig_result *r, char *msg, size_t len)
{
	static const enum vs_mig_log_kind order[] = {VS_MIG_LOG_ERROR, VS_MIG_LOG_WARN,
						     VS_MIG_LOG_OTHER};
	char reasons[VS_ERROR_MSG_MAX] = "";
	const char *out = r->out != NULL ? r->out : "";

	if (len == 0)
		return !r->timed_out && WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
	msg[0] = '\0';
	if (!r->timed_out && WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0)
		return true;
	/* The most specific kind of line present is the reason. */
	for (size_t i = 0; i < VS_ARRAY_SIZE(order) && reasons[0] == '\0'; i++)
		vs_mig_log_gather(out, order[i], MAX_REASONS, false, reasons, sizeof(reasons));
	if (r->timed_out)
		snprintf(msg, len, "timed out%s%s", reasons[0] ? ": " : "", reasons);
	else if (reasons[0] != '\0')
		snprintf(msg, len, "%s", reasons);
	else if (WIFSIGNALED(r->status))
		snprintf(msg, len, "killed by signal %d", WTERMSIG(r->status));
	else
		snprintf(msg, len, "exited with status %d", WEXITSTATUS(r->status));
	return false;
}

bool vs_mig_in_path(const char *path, const char *name)
{
	const char *dir = path;

	if (name[0] == '\0' || strchr(name, '/') != NULL)
		return false;
	while (dir != NULL && *dir != '\0') {
		const char *colon = strchr(dir, ':');
		size_t n = colon ? (size_t)(colon - dir) : strlen(dir);

		/* An empty entry would mean the current directory: never. */
		if (n > 0 && dir[0] == '/') {
			cleanup_free char *p = xasprintf("%.*s/%s", (int)n, dir, name);
			struct stat st;

			if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0)
				return true;
		}
		dir = colon ? colon + 1 : NULL;
	}
	return false;
}
