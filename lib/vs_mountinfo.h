/* vs_mountinfo: the one reader of /proc/PID/mountinfo, through util-linux's
 * libmount (its table parser: fields split, optional fields skipped, the
 * kernel's octal escapes of space, tab, newline and backslash undone).
 *
 * Only the kernel's text is read: nothing here follows a path (a mount
 * point inside a container's root is a string to compare, never opened),
 * so the daemon and the monitor may read a container's mountinfo and
 * decide on the host from it. */
#ifndef VS_MOUNTINFO_H
#define VS_MOUNTINFO_H

#include <stddef.h>

#include "lib/vs_error.h"

/* One mount (one line). The strings live until the callback returns. */
struct vs_mount {
	int id, parent_id;
	unsigned int major, minor; /* of the mounted filesystem ("0:31") */
	const char *root;	   /* the mount's root inside that filesystem */
	const char *target;	   /* the mount point */
	const char *fstype;	   /* "cgroup2", "fuse.lxcfs", ... */
	const char *source;	   /* "" when none */
	const char *super_options; /* "rw,cpu", "" when none */
};

/* Called for each mount in the file's order. Returns 0 to go on, 1 to stop
 * (found what it looked for), -1 (with err) to fail the walk. */
typedef int (*vs_mountinfo_fn)(const struct vs_mount *m, void *ud, struct vs_error *err);

/* Walk len bytes of mountinfo text. The whole text is parsed before fn
 * sees any mount: a malformed line fails the walk with VS_EK_INVALID
 * "mountinfo line N: malformed" and fn is never called. Returns 0 when
 * every mount was seen, 1 when fn stopped, -1 with err. */
int vs_mountinfo_parse(const char *text, size_t len, vs_mountinfo_fn fn, void *ud,
		       struct vs_error *err);

/* The same for the file at path (/proc/self/mountinfo, /proc/PID/mountinfo),
 * refused (E2BIG) when larger than max_bytes: a container can make its own
 * mount table as large as it likes. */
int vs_mountinfo_read(const char *path, size_t max_bytes, vs_mountinfo_fn fn, void *ud,
		      struct vs_error *err);

#endif
