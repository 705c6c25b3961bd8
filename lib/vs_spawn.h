/* vs_spawn: starting another program (debootstrap, criu) from vsd, the
 * monitor or a helper. posix_spawn (clone(CLONE_VM|CLONE_VFORK) + execve
 * in glibc) runs no code of ours in the child, which is what a
 * multi-threaded daemon needs. */
#ifndef VS_SPAWN_H
#define VS_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#define VS_SPAWN_KEEP_MAX 4

/* The rsync every copy of a layer runs, here and on a migration's target
 * (an absolute path: never looked up in PATH). */
#define VS_RSYNC_PATH "/usr/bin/rsync"

/* Start argv[0] (an absolute path) with envp: stdin /dev/null, stdout and
 * stderr on outfd (-1: /dev/null), keep[i] on descriptor 3+i (so a keep[i]
 * already open below 3+nkeep must be exactly 3+i), every other descriptor
 * closed; default signal dispositions, an empty signal mask, and a process
 * group of its own (kill(-pid) reaches what it forks). Returns 0 with
 * *pid, or an errno value (EINVAL for a bad keep list). */
int vs_spawn(char *const argv[], char *const envp[], int outfd, const int *keep, int nkeep,
	     pid_t *pid);
/* Like vs_spawn without kept descriptors, with stdin on infd, stdout on
 * outfd and stderr on errfd (each above 2; the same socket may be both
 * stdin and stdout). 0 with *pid, or an errno value. */
int vs_spawn_io(char *const argv[], char *const envp[], int infd, int outfd, int errfd, pid_t *pid);

/* The last non-empty line a program wrote to fd (a memfd given as its
 * outfd: its error message) into out (len bytes, truncated, NUL-terminated;
 * "" when it wrote nothing). Reads the file's first 4 KiB from offset 0. */
void vs_spawn_last_line(int fd, char *out, size_t len);

#endif
