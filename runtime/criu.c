/* Running the criu program: explicit argv, its log in the image
 * directory, and on failure the log's error lines as the message. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_spawn.h"
#include "lib/vs_syscall.h"
#include "lib/vs_util.h"
#include "runtime/rt-private.h"

extern char **environ;

void rt_argv_add(struct rt_argv *a, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? a->cap * 2 : 32;
		a->v = xrealloc(a->v, a->cap * sizeof(char *));
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

void rt_argv_free(struct rt_argv *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}

/* The last few "Error" lines of a criu log, joined, as the message. */
static void log_errors(const char *logpath, char *out, size_t len)
{
	cleanup_free char *text = NULL;
	char *lines[4] = {0};
	size_t k = 0;

	out[0] = '\0';
	if (vs_read_file_at(AT_FDCWD, logpath, 64 << 20, &text, NULL, NULL) < 0)
		return;
	for (char *p = strtok(text, "\n"); p != NULL; p = strtok(NULL, "\n")) {
		/* CRIU's own errors only: helper programs (ip) print "Error:"
		 * lines that are harmless on restore. */
		if (strstr(p, "Error (") == NULL || strstr(p, "RLIMIT_NOFILE") != NULL)
			continue;
		lines[k % 4] = p;
		k++;
	}
	for (size_t i = k > 4 ? k - 4 : 0; i < k; i++) {
		const char *l = lines[i % 4];
		const char *msg = strstr(l, "): ");
		size_t used = strlen(out);
		snprintf(out + used, len - used, "%s%s", used ? "; " : "", msg ? msg + 3 : l);
	}
}

int rt_criu_run(const char *criu, struct rt_argv *args, const int *keep, int nkeep,
		const char *logpath, int timeout_s, struct vs_error *err)
{
	struct rt_argv argv = {0};
	cleanup_close int pidfd = -1;
	pid_t pid;
	int status = 0, rc;
	struct pollfd p;

	if (criu == NULL)
		return vs_error_kind(err, VS_EK_UNSUPPORTED,
				     "checkpoint/restore needs criu (see scripts/install-criu.sh)");
	rt_argv_add(&argv, "%s", criu);
	for (size_t i = 0; i < args->n; i++)
		rt_argv_add(&argv, "%s", args->v[i]);
	/* keep[] land on 3, 4, ...: the caller names them so to criu. */
	rc = vs_spawn(argv.v, environ, -1, keep, nkeep, &pid);
	if (rc != 0) {
		rt_argv_free(&argv);
		if (rc == ENOENT || rc == EACCES || rc == ENOEXEC)
			return vs_error_kind(err, VS_EK_UNSUPPORTED, "cannot run %s: %s", criu,
					     strerror(rc));
		return vs_error_set(err, rc, "start %s", criu);
	}
	rt_argv_free(&argv);
	pidfd = vs_pidfd_open(pid, 0);
	p = (struct pollfd){.fd = pidfd, .events = POLLIN};
	if (pidfd >= 0 && poll(&p, 1, timeout_s * 1000) == 0) {
		kill(-pid, SIGKILL); /* criu and what it forked (tar, ip) */
		waitpid(pid, &status, 0);
		return vs_error_set(err, ETIMEDOUT, "criu did not finish in %d s", timeout_s);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return vs_error_set(err, errno, "wait for criu");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	{
		char msg[VS_ERROR_MSG_MAX - 64];
		log_errors(logpath, msg, sizeof(msg));
		return vs_error_set(err, 0, "criu %s failed%s%s (log: %s)", args->v[0],
				    msg[0] ? ": " : "", msg, logpath);
	}
}
