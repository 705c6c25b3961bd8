/* Reading a finished `criu dump` log for what will not restore.
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
#include <stdio.h>
#include <string.h>

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
