#include "lib/vs_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/vs_util.h"

int vs_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t vs_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int vs_read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *len,
		    struct vs_error *err)
{
	cleanup_close int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	cleanup_free char *buf = NULL;
	size_t cap = 4096, used = 0;

	if (fd < 0)
		return vs_error_set(err, errno, "open %s", path);
	buf = xmalloc(cap);
	for (;;) {
		ssize_t n;
		if (used + 1 >= cap) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		n = read(fd, buf + used, cap - used - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return vs_error_set(err, errno, "read %s", path);
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max)
			return vs_error_kind(err, VS_EK_TOO_LARGE, "%s: larger than %zu bytes",
					     path, max);
	}
	buf[used] = '\0';
	*out = steal_ptr(&buf);
	if (len != NULL)
		*len = used;
	return 0;
}

static int replace_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
		      bool durable, struct vs_error *err)
{
	char tmp[NAME_MAX + 1];
	cleanup_close int fd = -1;

	if (snprintf(tmp, sizeof(tmp), ".%s.tmp.%d", name, (int)getpid()) >= (int)sizeof(tmp))
		return vs_error_set(err, ENAMETOOLONG, "atomic write %s", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return vs_error_set(err, errno, "create %s", tmp);
	if (vs_write_all(fd, data, len) < 0 || (durable && fsync(fd) < 0)) {
		int e = errno;
		unlinkat(dirfd, tmp, 0);
		return vs_error_set(err, e, "write %s", tmp);
	}
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		int e = errno;
		unlinkat(dirfd, tmp, 0);
		return vs_error_set(err, e, "rename %s", name);
	}
	/* The rename is durable only once the directory entry is on disk. */
	if (!durable)
		return 0;
	if (dirfd == AT_FDCWD) {
		cleanup_close int d = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (d >= 0)
			fsync(d);
	} else {
		fsync(dirfd);
	}
	return 0;
}

int vs_atomic_write_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
		       struct vs_error *err)
{
	return replace_at(dirfd, name, data, len, mode, true, err);
}

int vs_replace_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
		  struct vs_error *err)
{
	return replace_at(dirfd, name, data, len, mode, false, err);
}

int vs_write_string_at(int dirfd, const char *path, const char *s, struct vs_error *err)
{
	cleanup_close int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t len = strlen(s);
	ssize_t n;

	if (fd < 0)
		return vs_error_set(err, errno, "open %s", path);
	do {
		n = write(fd, s, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return vs_error_set(err, errno, "write '%s' to %s", s, path);
	if ((size_t)n != len)
		return vs_error_set(err, EIO, "short write to %s", path);
	return 0;
}

int vs_mkdir_p(const char *path, mode_t mode, struct vs_error *err)
{
	cleanup_free char *p = xstrdup(path);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return vs_error_set(err, errno, "mkdir %s", p);
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return vs_error_set(err, errno, "mkdir %s", p);
	return 0;
}

int vs_fsync_dir(const char *path)
{
	cleanup_close int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	return fsync(fd);
}
