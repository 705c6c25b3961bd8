/* Reading CRIU's text: the one reader of its logs (-o FILE) and of its
 * output (`criu check`). Nothing else in vsd looks inside them.
 *
 * CRIU prints its messages as "Error (file.c:123): text" or "Warn  (file.c:
 * 123): text" (two spaces after Warn); in a log file each line starts with
 * a "(00.012345) " timestamp, then "    1: " (the pid, at raised log
 * levels) or "pie: 7: " (the restorer's blob, which logs for a restored
 * task); other explanations (pr_msg) come without prefix. Helper programs
 * CRIU runs (ip, iptables-restore) write into the same log with their own
 * words ("Error: ..."), often harmlessly on restore: only CRIU's own
 * "Error (" lines are errors.
 *
 * And what a finished `criu dump` log says will not restore:
 *
 * CRIU records an inotify/fanotify watch by the watched inode's file
 * handle, and, when it can, by a path too (criu/fsnotify.c): it opens the
 * handle, reads the path of what it got, and stats that path; only when the
 * inode there is the watched one does it log "Dumping PATH as path for
 * handle". Otherwise the log shows "openable (inode don't match) as PATH" or
 * "not openable as PATH", or "Handle ... cannot be opened", and the image
 * keeps the bare handle. A handle is good on restore only if the very same
 * inode exists then, which is never true for the files vsd recreates (the
 * guest's cgroup directories are made anew, overlay and tmpfs inodes
 * differ): such a dump is certain to fail at restore ("Failed to restore
 * inotify wd ..."), so it is caught here, before the source is killed. */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "migrate/mig-private.h"
#include "migrate/vs_migrate.h"

/* The next line of text after p (at its '\0' when none). */
static const char *next_line(const char *p)
{
	const char *nl = strchr(p, '\n');

	return nl != NULL ? nl + 1 : p + strlen(p);
}

static bool line_has(const char *line, const char *end, const char *what)
{
	size_t n = strlen(what);

	for (const char *p = line; p + n <= end; p++)
		if (memcmp(p, what, n) == 0)
			return true;
	return false;
}

enum vs_mig_log_kind vs_mig_log_line(const char *line, size_t n, const char **text, size_t *tlen)
{
	const char *p = line, *end = line + n, *close;

	while (p < end && isspace((unsigned char)*p))
		p++;
	/* "(00.012345) " timestamp, then "pie: " and "    1: " pid. */
	if (p < end && *p == '(' && (close = memchr(p, ')', (size_t)(end - p))) != NULL &&
	    close + 1 < end && close[1] == ' ' && isdigit((unsigned char)p[1]))
		p = close + 2;
	while (p < end && isspace((unsigned char)*p))
		p++;
	if ((size_t)(end - p) > 5 && memcmp(p, "pie: ", 5) == 0)
		p += 5;
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
		return VS_MIG_LOG_SKIP;
	/* Printed by every run on this kind of host (root without
	 * CAP_SYS_RESOURCE; /run not a tmpfs): never the reason. */
	if (memmem(p, (size_t)(end - p), "RLIMIT_NOFILE", 13) != NULL ||
	    memmem(p, (size_t)(end - p), "kdat cache", 10) != NULL)
		return VS_MIG_LOG_SKIP;
	*text = p;
	*tlen = (size_t)(end - p);
	if ((size_t)(end - p) > 7 && (memcmp(p, "Error (", 7) == 0 || memcmp(p, "Warn ", 5) == 0)) {
		enum vs_mig_log_kind k = p[0] == 'E' ? VS_MIG_LOG_ERROR : VS_MIG_LOG_WARN;
		const char *c = memmem(p, (size_t)(end - p), "): ", 3);

		if (c != NULL && c + 3 < end) {
			*text = c + 3;
			*tlen = (size_t)(end - (c + 3));
		}
		return k;
	}
	return VS_MIG_LOG_OTHER;
}

/* Append text to msg (capacity len) after "; " when msg is not empty,
 * a tab as a space and other control characters as '?'. Truncates
 * silently. */
static void append(char *msg, size_t len, const char *text, size_t tlen)
{
	size_t used = strlen(msg);

	if (used > 0 && used + 2 < len) {
		memcpy(msg + used, "; ", 2);
		used += 2;
	}
	for (size_t i = 0; i < tlen && used + 1 < len; i++) {
		unsigned char c = (unsigned char)text[i];

		msg[used++] = c == '\t' ? ' ' : (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	msg[used] = '\0';
}

/* Call fn on every line of text of the given kind, in order. */
static int each_of_kind(const char *text, enum vs_mig_log_kind want,
			void (*fn)(const char *t, size_t tlen, void *ud), void *ud)
{
	int n = 0;

	for (const char *line = text; *line != '\0'; line = next_line(line)) {
		const char *t = NULL;
		size_t tlen = 0;

		if (vs_mig_log_line(line, strcspn(line, "\n"), &t, &tlen) != want)
			continue;
		if (fn != NULL)
			fn(t, tlen, ud);
		n++;
	}
	return n;
}

struct gather {
	char *msg;
	size_t len;
	int skip, left;
};

static void gather_one(const char *t, size_t tlen, void *ud)
{
	struct gather *g = ud;

	if (g->skip > 0) {
		g->skip--;
		return;
	}
	if (g->left == 0)
		return;
	append(g->msg, g->len, t, tlen);
	g->left--;
}

int vs_mig_log_gather(const char *text, enum vs_mig_log_kind kind, int max, bool last, char *msg,
		      size_t len)
{
	struct gather g = {.msg = msg, .len = len, .left = max};
	int n = each_of_kind(text, kind, NULL, NULL);

	if (len == 0 || max <= 0)
		return 0;
	if (last && n > max)
		g.skip = n - max;
	each_of_kind(text, kind, gather_one, &g);
	return max - g.left;
}

int vs_mig_log_read(const char *path, char **text, struct vs_error *err)
{
	*text = NULL;
	if (vs_read_file_at(AT_FDCWD, path, VS_MIG_LOG_MAX, text, NULL, err) < 0)
		return vs_error_prefix(err, "read criu's log");
	return 0;
}

void vs_mig_log_errors(const char *path, char *msg, size_t len)
{
	cleanup_free char *text = NULL;

	if (len > 0)
		msg[0] = '\0';
	if (vs_mig_log_read(path, &text, NULL) == 0)
		vs_mig_log_gather(text, VS_MIG_LOG_ERROR, VS_MIG_LOG_REASONS, true, msg, len);
}

int vs_mig_dumplog_unrestorable(const char *log, char *msg, size_t len)
{
	int bad = 0;
	bool pending = false;
	char first[160] = "";

	if (len > 0)
		msg[0] = '\0';
	for (const char *line = log; *line != '\0'; line = next_line(line)) {
		const char *end = line + strcspn(line, "\n");
		bool handle = line_has(line, end, "fsnotify: \tHandle 0x") ||
			      line_has(line, end, "fsnotify: Handle 0x");

		if (handle || line_has(line, end, "fsnotify: wd: ")) {
			/* A new watch: did the previous one get its path? */
			if (pending)
				bad++;
			pending = handle;
			if (handle && bad == 0) {
				const char *h = strstr(line, "Handle 0x");
				snprintf(first, sizeof(first), "%.*s", (int)strcspn(h + 7, " \n"),
					 h + 7);
			}
			continue;
		}
		if (pending && line_has(line, end, "as path for handle"))
			pending = false;
	}
	if (pending)
		bad++;
	if (bad > 0 && len > 0)
		snprintf(msg, len,
			 "%d inotify/fanotify watch%s saved as a bare file handle (first: dev:ino "
			 "%s), which cannot be opened on restore",
			 bad, bad == 1 ? " was" : "es were", first[0] ? first : "?");
	return bad;
}
