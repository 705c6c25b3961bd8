/* Reading CRIU's answers: `criu --version`, and why a `criu check` failed.
 *
 * CRIU prints "X is supported" / "Looks good." on stdout and its reasons on
 * stderr as "Error (file.c:123): text" or "Warn  (file.c:123): text" (two
 * spaces after Warn), sometimes with a "(00.012345) " timestamp and a
 * "    1: " pid in front when a log level is raised; other explanations
 * (pr_msg) come without prefix. The exit status is what decides; the text
 * only explains. */
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

enum line_kind { LINE_ERROR, LINE_WARN, LINE_OTHER, LINE_SKIP };

/* Classify one line and point *text at what a person should read. */
static enum line_kind classify(const char *line, size_t n, const char **text, size_t *tlen)
{
	const char *p = line, *end = line + n, *close;

	while (p < end && isspace((unsigned char)*p))
		p++;
	/* "(00.012345) " timestamp, then "    1: " pid, as in CRIU's logs. */
	if (p < end && *p == '(' && (close = memchr(p, ')', (size_t)(end - p))) != NULL &&
	    close + 1 < end && close[1] == ' ' && isdigit((unsigned char)p[1]))
		p = close + 2;
	while (p < end && isspace((unsigned char)*p))
		p++;
	if (p < end && isdigit((unsigned char)*p)) {
		const char *q = p;

		while (q < end && isdigit((unsigned char)*q))
			q++;
		if (q + 1 < end && q[0] == ':' && q[1] == ' ')
			p = q + 2;
	}
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	if (p == end)
		return LINE_SKIP;
	/* Printed by every run on this kind of host (root without
	 * CAP_SYS_RESOURCE; /run not a tmpfs): never the reason. */
	if (memmem(p, (size_t)(end - p), "RLIMIT_NOFILE", 13) != NULL ||
	    memmem(p, (size_t)(end - p), "kdat cache", 10) != NULL)
		return LINE_SKIP;
	*text = p;
	*tlen = (size_t)(end - p);
	if ((size_t)(end - p) > 5 && (strncmp(p, "Error", 5) == 0 || strncmp(p, "Warn ", 5) == 0)) {
		enum line_kind k = p[0] == 'E' ? LINE_ERROR : LINE_WARN;
		const char *c = memmem(p, (size_t)(end - p), "): ", 3);

		if (c != NULL && c + 3 < end) {
			*text = c + 3;
			*tlen = (size_t)(end - (c + 3));
		}
		return k;
	}
	return LINE_OTHER;
}

/* Append text to msg (capacity len) after "; " when msg is not empty,
 * replacing control characters. Truncates silently. */
static void append(char *msg, size_t len, const char *text, size_t tlen)
{
	size_t used = strlen(msg);

	if (used > 0 && used + 2 < len) {
		memcpy(msg + used, "; ", 2);
		used += 2;
	}
	for (size_t i = 0; i < tlen && used + 1 < len; i++) {
		unsigned char c = (unsigned char)text[i];

		msg[used++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	msg[used] = '\0';
}

/* Append up to `left` lines of the given kind; returns how many. */
static int gather(const char *out, enum line_kind want, char *msg, size_t len, int left)
{
	const char *line = out;
	int taken = 0;

	while (taken < left && line != NULL && *line != '\0') {
		const char *end = strchr(line, '\n'), *text = NULL;
		size_t n = end ? (size_t)(end - line) : strlen(line), tlen = 0;

		if (classify(line, n, &text, &tlen) == want) {
			append(msg, len, text, tlen);
			taken++;
		}
		line = end ? end + 1 : NULL;
	}
	return taken;
}

bool vs_mig_parse_check(const struct vs_mig_result *r, char *msg, size_t len)
{
	static const enum line_kind order[] = {LINE_ERROR, LINE_WARN, LINE_OTHER};
	char reasons[VS_ERROR_MSG_MAX] = "";
	const char *out = r->out != NULL ? r->out : "";

	if (len == 0)
		return !r->timed_out && WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
	msg[0] = '\0';
	if (!r->timed_out && WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0)
		return true;
	/* The most specific kind of line present is the reason. */
	for (size_t i = 0; i < VS_ARRAY_SIZE(order) && reasons[0] == '\0'; i++)
		gather(out, order[i], reasons, sizeof(reasons), MAX_REASONS);
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
