/* vs_syscall: the one place raw syscall() wrappers live (clone3, pidfd_*,
 * openat2, the new mount API, close_range). Each returns what the syscall
 * returns (-1 and errno on failure). */
#ifndef VS_SYSCALL_H
#define VS_SYSCALL_H

#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif

/* Resolution inside a container root or template: symlinks and ".." are
 * resolved as if the root were "/", magic links (/proc/self/fd/...) refused. */
#define VS_RESOLVE_ROOT (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
/* Stricter: no symlinks at all (for /proc, /sys, /dev in a rootfs). */
#define VS_RESOLVE_NOLINKS (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS)

pid_t vs_clone3(struct clone_args *args, size_t size);
int vs_pidfd_open(pid_t pid, unsigned int flags);
int vs_pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned int flags);
int vs_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);
int vs_open_tree(int dirfd, const char *path, unsigned int flags);
int vs_move_mount(int from_dirfd, const char *from_path, int to_dirfd, const char *to_path,
		  unsigned int flags);
int vs_mount_setattr(int dirfd, const char *path, unsigned int flags, struct mount_attr *attr,
		     size_t size);
int vs_fsopen(const char *fsname, unsigned int flags);
int vs_fsconfig(int fd, unsigned int cmd, const char *key, const void *value, int aux);
int vs_fsmount(int fd, unsigned int flags, unsigned int attr_flags);
int vs_close_range(unsigned int first, unsigned int last, unsigned int flags);
int vs_pivot_root(const char *new_root, const char *put_old);
/* kcmp(2): 0 when pid1's and pid2's resource of type (KCMP_VM, ...) is
 * the same, 1 or 2 for an order, -1 and errno. */
int vs_kcmp(pid_t pid1, pid_t pid2, int type, unsigned long idx1, unsigned long idx2);

#endif
