/* The `debian` builder (debootstrap, the one external tool fs-cow runs)
 * and the small spawner it and the busybox builder use.
 *
 * The daemon is multi-threaded, so programs are started with posix_spawn
 * (no code of ours runs between fork and exec) with an explicit argv and
 * environment; never through a shell. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs-cow/fs-private.h"
#include "lib/vs_io.h"
#include "lib/vs_syscall.h"
#include "lib/vs_spawn.h"
#include "lib/vs_util.h"

#define DEBOOTSTRAP    "/usr/sbin/debootstrap"
#define DEFAULT_MIRROR "http://deb.debian.org/debian"
/* minbase has no init: systemd-sysv makes /sbin/init systemd. dbus is what
 * systemctl talks to; the rest is what an operator expects on a VPS. */
#define DEBIAN_INCLUDE "systemd,systemd-sysv,dbus,iproute2,procps,iputils-ping,netbase"
#define LINE_MAX_LEN   4096

struct reader {
	vs_fs_line_fn on_line;
	void *ud;
	char line[LINE_MAX_LEN];
	size_t len;
	char last[256]; /* last non-empty line, for the error message */
	int failed;
};

static int flush_line(struct reader *r, struct vs_error *err)
{
	if (r->len == 0)
		return 0;
	r->line[r->len] = '\0';
	r->len = 0;
	vs_fs_printable(r->line, r->last, sizeof(r->last));
	if (r->on_line == NULL || r->failed)
		return 0;
	if (r->on_line(r->ud, r->line, err) < 0)
		r->failed = 1;
	return r->failed ? -1 : 0;
}

/* Read the child's output to EOF. Returns -1 when on_line failed. */
static int read_lines(int fd, struct reader *r, struct vs_error *err)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return vs_error_set(err, errno, "read program output");
		for (ssize_t k = 0; k < n; k++) {
			/* debootstrap and wget draw progress with '\r'. */
			if (buf[k] == '\n' || buf[k] == '\r' || r->len == sizeof(r->line) - 1) {
				if (flush_line(r, err) < 0)
					return -1;
				if (buf[k] == '\n' || buf[k] == '\r')
					continue;
			}
			r->line[r->len++] = buf[k];
		}
	}
	return flush_line(r, err);
}

int vs_fs_run(char *const argv[], char *const envp[], vs_fs_line_fn on_line, void *ud,
	      struct vs_error *err)
{
	cleanup_free struct reader *r = xcalloc(1, sizeof(*r));
	cleanup_close int rd = -1, wr = -1;
	int p[2], status, rc;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return vs_error_set(err, errno, "pipe");
	rd = p[0];
	wr = p[1];
	rc = vs_spawn(argv, envp, wr, NULL, 0, &pid);
	if (rc != 0)
		return vs_error_set(err, rc, "start %s", argv[0]);
	vs_closep(&wr);
	r->on_line = on_line;
	r->ud = ud;
	rc = read_lines(rd, r, err);
	if (rc < 0)
		kill(-pid, SIGKILL);
	vs_closep(&rd);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return vs_error_set(err, errno, "wait for %s", argv[0]);
	}
	if (rc < 0)
		return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		return vs_error_set(err, 0, "%s killed by signal %d (last output: %s)", argv[0],
				    WTERMSIG(status), r->last);
	return vs_error_set(err, 0, "%s exited with status %d (last output: %s)", argv[0],
			    WEXITSTATUS(status), r->last);
}

static bool mirror_ok(const char *m)
{
	size_t n = strlen(m);

	if (n == 0 || n > 512)
		return false;
	if (strncmp(m, "http://", 7) != 0 && strncmp(m, "https://", 8) != 0 &&
	    strncmp(m, "file:///", 8) != 0)
		return false;
	/* debootstrap is a shell script: keep quoting characters out. */
	for (const char *c = m; *c; c++)
		if (*c <= 0x20 || *c >= 0x7f || strchr("'\"`$\\;&|<>(){}*?!", *c) != NULL)
			return false;
	return true;
}

int vs_fs_debian_check(const char *suite, const char **mirror, struct vs_error *err)
{
	size_t n = strlen(suite);
	const char *m = getenv("VSD_DEBIAN_MIRROR");
	char buf[64];

	if (n == 0 || n > 32 || strspn(suite, "abcdefghijklmnopqrstuvwxyz") != n) {
		vs_fs_printable(suite, buf, sizeof(buf));
		return vs_error_kind(
		    err, VS_EK_INVALID,
		    "from: bad Debian suite '%s' (lowercase letters, e.g. bookworm)", buf);
	}
	if (m == NULL || m[0] == '\0')
		m = DEFAULT_MIRROR;
	if (!mirror_ok(m))
		return vs_error_kind(
		    err, VS_EK_INVALID,
		    "VSD_DEBIAN_MIRROR: expected an http://, https:// or file:/// URL "
		    "without spaces or shell characters");
	if (access(DEBOOTSTRAP, X_OK) < 0)
		return vs_error_kind(err, VS_EK_UNSUPPORTED, "%s is not installed", DEBOOTSTRAP);
	*mirror = m;
	return 0;
}

struct progress_ctx {
	vs_fs_progress_fn fn;
	void *ud;
	const atomic_bool *cancel;
};

/* Failing here makes vs_fs_run kill debootstrap's process group. */
static int progress_line(void *ud, const char *line, struct vs_error *err)
{
	struct progress_ctx *p = ud;

	if (p->cancel != NULL && atomic_load(p->cancel))
		return vs_error_kind(err, VS_EK_CONFLICT, "cancelled");
	if (p->fn != NULL)
		p->fn(p->ud, line);
	return 0;
}

/* Replace dirfd/name by a new regular file (whatever was there, a symlink
 * included, is unlinked, never written through). */
static int replace_file(int dirfd, const char *name, const char *text, mode_t mode,
			struct vs_error *err)
{
	cleanup_close int fd = -1;

	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return vs_error_set(err, errno, "remove /etc/%s", name);
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || vs_write_all(fd, text, strlen(text)) < 0 || fchmod(fd, mode) < 0)
		return vs_error_set(err, errno, "write /etc/%s", name);
	return 0;
}

/* What debootstrap leaves host-specific: every container must get its own
 * machine id (systemd makes one at boot when the file is empty), and dbus
 * keeps a copy of it. The hostname is set by the runtime at start. */
static int debian_configure(int rootfd, struct vs_error *err)
{
	cleanup_close int etc =
	    vs_openat2(rootfd, "etc", O_RDONLY | O_DIRECTORY, 0, VS_RESOLVE_NOLINKS);
	cleanup_close int dbus = -1;

	if (etc < 0)
		return vs_error_set(err, errno, "open /etc of the new tree");
	if (replace_file(etc, "hostname", "localhost\n", 0644, err) < 0 ||
	    replace_file(etc, "machine-id", "", 0444, err) < 0)
		return -1;
	dbus = vs_openat2(rootfd, "var/lib/dbus", O_RDONLY | O_DIRECTORY, 0, VS_RESOLVE_NOLINKS);
	if (dbus < 0)
		return 0;
	if ((unlinkat(dbus, "machine-id", 0) < 0 && errno != ENOENT) ||
	    symlinkat("/etc/machine-id", dbus, "machine-id") < 0)
		return vs_error_set(err, errno, "link /var/lib/dbus/machine-id");
	return 0;
}

/* The proxy settings of the daemon's environment, if any, reach the
 * package downloads; nothing else of it does. */
static char **debootstrap_env(void)
{
	static const char *const pass[] = {"http_proxy", "https_proxy", "no_proxy",
					   "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"};
	char **env = xcalloc(VS_ARRAY_SIZE(pass) + 5, sizeof(char *));
	size_t n = 0;

	env[n++] = xstrdup("PATH=/usr/sbin:/usr/bin:/sbin:/bin");
	env[n++] = xstrdup("LC_ALL=C");
	env[n++] = xstrdup("DEBIAN_FRONTEND=noninteractive");
	env[n++] = xstrdup("HOME=/root");
	for (size_t k = 0; k < VS_ARRAY_SIZE(pass); k++)
		if (getenv(pass[k]) != NULL)
			env[n++] = xasprintf("%s=%s", pass[k], getenv(pass[k]));
	return env;
}

int vs_fs_build_debian(const struct vs_fs_stage *st, const char *suite, const char *mirror,
		       vs_fs_progress_fn progress, void *ud, const atomic_bool *cancel,
		       struct vs_error *err)
{
	const char *cache = getenv("VSD_DEBOOTSTRAP_CACHE");
	cleanup_strv char **env = debootstrap_env();
	cleanup_free char *cache_opt = NULL, *msg = NULL, *target = NULL;
	struct progress_ctx pc = {progress, ud, cancel};
	char link[64], path[4096];
	struct stat sb;
	ssize_t n;
	char *argv[8];
	size_t a = 0;

	/* The absolute, kernel-resolved name of the staging rootfs. */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", st->rootfsfd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n < 0)
		return vs_error_set(err, errno, "readlink %s", link);
	path[n] = '\0';
	target = xstrdup(path);
	argv[a++] = DEBOOTSTRAP;
	argv[a++] = "--variant=minbase";
	argv[a++] = "--include=" DEBIAN_INCLUDE;
	/* A shared package cache makes the second build of a suite fast. */
	if (cache != NULL && cache[0] == '/' && stat(cache, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		cache_opt = xasprintf("--cache-dir=%s", cache);
		argv[a++] = cache_opt;
	}
	argv[a++] = (char *)suite;
	argv[a++] = target;
	argv[a++] = (char *)mirror;
	argv[a] = NULL;
	msg = xasprintf("debian: debootstrap %s from %s", suite, mirror);
	if (progress != NULL)
		progress(ud, msg);
	if (vs_fs_run(argv, env, progress_line, &pc, err) < 0)
		return -1;
	if (debian_configure(st->rootfsfd, err) < 0)
		return -1;
	if (progress != NULL)
		progress(ud, "debian: configured");
	return 0;
}
