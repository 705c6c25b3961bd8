/* vs_spawn: starting another program (debootstrap, criu) from vsd, the
 * monitor or a helper. posix_spawn (clone(CLONE_VM|CLONE_VFORK) + execve
 * in glibc) runs no code of ours in the child, which is what a
 * multi-threaded daemon needs. */
#ifndef VS_SPAWN_H
#define VS_SPAWN_H

#include <sys/types.h>

#define VS_SPAWN_KEEP_MAX 4

/* Start argv[0] (an absolute path) with envp: stdin /dev/null, stdout and
 * stderr on outfd (-1: /dev/null), keep[i] on descriptor 3+i (so a keep[i]
 * already open below 3+nkeep must be exactly 3+i), every other descriptor
 * closed; default signal dispositions, an empty signal mask, and a process
 * group of its own (kill(-pid) reaches what it forks). Returns 0 with
 * *pid, or an errno value (EINVAL for a bad keep list). */
int vs_spawn(char *const argv[], char *const envp[], int outfd, const int *keep, int nkeep,
	     pid_t *pid);

#endif
