#include "lib/vs_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <unistd.h>

static int spawn(char *const argv[], char *const envp[], int infd, int outfd, int errfd,
		 const int *keep, int nkeep, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none;
	int rc;

	if (nkeep < 0 || nkeep > VS_SPAWN_KEEP_MAX)
		return EINVAL;
	/* The dup2s below run in order: a source sitting on another's target
	 * would be overwritten before it is copied. */
	for (int i = 0; i < nkeep; i++)
		if (keep[i] < 3 + nkeep && keep[i] != 3 + i)
			return EINVAL;
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	if (infd >= 0)
		posix_spawn_file_actions_adddup2(&fa, infd, STDIN_FILENO);
	else
		posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (outfd >= 0) {
		posix_spawn_file_actions_adddup2(&fa, outfd, STDOUT_FILENO);
		posix_spawn_file_actions_adddup2(&fa, errfd, STDERR_FILENO);
	} else {
		posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
	}
	/* dup2 onto itself clears FD_CLOEXEC (glibc >= 2.29). */
	for (int i = 0; i < nkeep; i++)
		posix_spawn_file_actions_adddup2(&fa, keep[i], 3 + i);
	/* Our descriptors are O_CLOEXEC already; this also covers any a
	 * library opened without it. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3 + nkeep);
	posix_spawnattr_init(&attr);
	/* vsd and the monitor ignore SIGPIPE and may block signals; the
	 * program starts with defaults (shell pipelines in debootstrap need
	 * SIGPIPE). */
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
					    POSIX_SPAWN_SETPGROUP);
	rc = posix_spawn(pid, argv[0], &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

int vs_spawn(char *const argv[], char *const envp[], int outfd, const int *keep, int nkeep,
	     pid_t *pid)
{
	return spawn(argv, envp, -1, outfd, outfd, keep, nkeep, pid);
}

int vs_spawn_io(char *const argv[], char *const envp[], int infd, int outfd, int errfd, pid_t *pid)
{
	if (infd < 3 || outfd < 3 || errfd < 3)
		return EINVAL;
	return spawn(argv, envp, infd, outfd, errfd, NULL, 0, pid);
}

void vs_spawn_last_line(int fd, char *out, size_t len)
{
	char buf[4096];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	char *end, *start;

	out[0] = '\0';
	if (n <= 0 || len == 0)
		return;
	buf[n] = '\0';
	end = buf + n;
	while (end > buf && (end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	start = strrchr(buf, '\n');
	start = start != NULL ? start + 1 : buf;
	if (strlen(start) >= len)
		start[len - 1] = '\0';
	memcpy(out, start, strlen(start) + 1);
}
