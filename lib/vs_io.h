/* vs_io: EINTR-safe, short-read/write-safe I/O, atomic file replacement,
 * and small file helpers. All descriptors opened here are O_CLOEXEC. */
#ifndef VS_IO_H
#define VS_IO_H

#include <stddef.h>
#include <sys/types.h>

#include "lib/vs_error.h"

/* Write all len bytes; retries on EINTR and short writes. Returns 0 or -1
 * (errno set). */
int vs_write_all(int fd, const void *buf, size_t len);

/* Read up to len bytes, retrying on EINTR and short reads until len bytes
 * or EOF. Returns the number of bytes read or -1 (errno set). */
ssize_t vs_read_all(int fd, void *buf, size_t len);

/* Read a whole file (relative to dirfd, AT_FDCWD allowed) into a fresh
 * NUL-terminated buffer of at most max bytes. Returns 0 and sets *out and *len,
 * or a negative value with err filled (ENOENT stays in err->errnum, and
 * VS_EK_TOO_LARGE when the file exceeds max). */
int vs_read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *len,
		    struct vs_error *err);

/* Replace dirfd/name atomically: write "name.tmp.PID", fsync, rename over
 * name, fsync the directory. Returns 0 or -1 with err filled. */
int vs_atomic_write_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
		       struct vs_error *err);
/* The same without the two fsyncs: readers and a crash of the writer see
 * the old or the new file, a power loss may leave either (or, on some
 * file systems, an empty one). For state that dies with the machine's
 * processes anyway (a running container's state.json). */
int vs_replace_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
		  struct vs_error *err);

/* Write a short string to an existing file (cgroup, /proc knobs): open
 * O_WRONLY, one write. Returns 0 or -1 with err filled naming the path. */
int vs_write_string_at(int dirfd, const char *path, const char *s, struct vs_error *err);

/* mkdir -p for a host path the daemon owns (not for container roots). */
int vs_mkdir_p(const char *path, mode_t mode, struct vs_error *err);

/* fsync a directory by path. */
int vs_fsync_dir(const char *path);

#endif
