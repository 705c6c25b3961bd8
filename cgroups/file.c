/* Reading and writing cgroup knobs. The directories are the daemon's own
 * (<mount>/<parent>/<name>, built from validated names), so plain paths are
 * fine here; trees a container may have built inside are walked by
 * descriptor in walk.c. */
#include "cgroups/cg-private.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_util.h"

int vs_cg_read(const char *dir, const char *file, char **out, struct vs_error *err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	char *text;
	size_t len;

	/* cgroup files report a size of 4096 or 0, so read to EOF. */
	if (vs_read_file_at(AT_FDCWD, path, 1 << 20, &text, &len, err) < 0)
		return -1;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = '\0';
	*out = text;
	return 0;
}

static int parse_int(const char *s, const char *path, int64_t *out, struct vs_error *err)
{
	char *end;

	if (strcmp(s, "max") == 0) {
		*out = -1;
		return 0;
	}
	errno = 0;
	*out = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return vs_error_set(err, errno ? errno : EINVAL, "%s: unexpected content '%.40s'",
				    path, s);
	return 0;
}

int vs_cg_read_int(const char *dir, const char *file, int64_t *out, struct vs_error *err)
{
	cleanup_free char *text = NULL;
	cleanup_free char *path = NULL;

	if (vs_cg_read(dir, file, &text, err) < 0)
		return -1;
	path = xasprintf("%s/%s", dir, file);
	return parse_int(text, path, out, err);
}

int vs_cg_read_key(const char *dir, const char *file, const char *key, int64_t *out,
		   struct vs_error *err)
{
	cleanup_free char *text = NULL;
	cleanup_free char *path = NULL;
	size_t klen = strlen(key);
	char *save = NULL;

	if (vs_cg_read(dir, file, &text, err) < 0)
		return -1;
	path = xasprintf("%s/%s", dir, file);
	for (char *l = strtok_r(text, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save))
		if (strncmp(l, key, klen) == 0 && l[klen] == ' ')
			return parse_int(l + klen + 1, path, out, err);
	return vs_error_set(err, ENOENT, "%s: no '%s' line", path, key);
}

int vs_cg_write(const char *dir, const char *file, const char *value, struct vs_error *err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t len = strlen(value);
	ssize_t n;

	if (fd < 0)
		return vs_error_set(err, errno, "write '%s' to %s", value, path);
	/* A knob takes the whole value in one write() or rejects it. */
	do {
		n = write(fd, value, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return vs_error_set(err, errno, "write '%s' to %s", value, path);
	if ((size_t)n != len)
		return vs_error_set(err, EIO, "write '%s' to %s: short write", value, path);
	return 0;
}

int vs_cg_write_int(const char *dir, const char *file, int64_t value, struct vs_error *err)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRId64, value);
	return vs_cg_write(dir, file, buf, err);
}

bool vs_cg_exists(const char *dir, const char *file)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);

	return faccessat(AT_FDCWD, path, F_OK, AT_EACCESS) == 0;
}

int64_t vs_cg_deadline(int64_t timeout_ms)
{
	return vs_now_ms() + timeout_ms;
}

bool vs_cg_wait_step(int64_t deadline_ms)
{
	struct timespec ts = {0, 5 * 1000 * 1000};

	if (vs_now_ms() >= deadline_ms)
		return false;
	nanosleep(&ts, NULL);
	return true;
}
