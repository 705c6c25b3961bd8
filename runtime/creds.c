/* Credentials inside a running container: a user's password hash in
 * /etc/shadow and SSH public keys in ~/.ssh/authorized_keys.
 *
 * The host never follows a path inside a container's root. vsd spawns the
 * helper `vsd __creds ROOT NAME` (from the sealed memfd copy of vsd) with
 * the request as JSON on stdin (so nothing of it is in any argv) and fd 3
 * a socket for its verdict. The helper makes itself non-dumpable, joins
 * the user and mount namespaces of the container's init (through a pidfd
 * checked to still be init) and becomes the container's root: from then on
 * it can reach only what the container's own root can, and every file is
 * opened with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
 * RESOLVE_NO_SYMLINKS) below the root it sees. Files are replaced
 * atomically (a new file with a random name made with O_EXCL, the old
 * one's mode and owner, fsync, rename); a target that is a symlink or not
 * a regular file is refused, and so is a ~/.ssh that is a symlink. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_json.h"
#include "lib/vs_syscall.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"
#include "runtime/rt-private.h"
#include "runtime/vs_runtime.h"

/* The largest /etc/passwd, /etc/shadow or authorized_keys handled. */
#define CREDS_FILE_MAX (4u << 20)
/* The largest request (keys are at most VS_RT_KEY_MAX each). */
#define CREDS_REQ_MAX (1u << 20)

/* ---- vsd side ---------------------------------------------------------- */

void vs_rt_creds_gen(struct vs_jgen *g, const struct vs_rt_creds *c)
{
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "user", c->user != NULL ? c->user : "root");
	if (c->password_hash != NULL)
		vs_jgen_kv_str(g, "password_hash", c->password_hash);
	vs_jgen_key(g, "keys");
	vs_jgen_arr_open(g);
	for (size_t i = 0; c->keys != NULL && c->keys[i] != NULL; i++)
		vs_jgen_str(g, c->keys[i]);
	vs_jgen_arr_close(g);
	vs_jgen_kv_bool(g, "replace", c->replace);
	vs_jgen_obj_close(g);
}

static char *request_json(const struct vs_rt_creds *c)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);

	vs_rt_creds_gen(g, c);
	return vs_jgen_steal(g);
}

int vs_rt_creds_apply(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		      const struct vs_rt_creds *c, struct vs_error *err)
{
	char *argv[] = {"vsd", "__creds", (char *)inst->root, (char *)cfg->name, NULL};
	cleanup_free char *req = request_json(c);
	int in[2] = {-1, -1}, sv[2] = {-1, -1}, stdio[3] = {-1, -1, -1}, status, r = -1;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0)
		return vs_error_set(err, errno, "pipe");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		vs_error_set(err, errno, "socketpair");
		goto out;
	}
	stdio[0] = in[0];
	pid = rt_spawn_self(inst->self_exe_fd, argv, stdio, &sv[1], 1, false, err);
	if (pid < 0)
		goto out;
	close(in[0]), in[0] = -1;
	close(sv[1]), sv[1] = -1;
	/* The helper reads the whole request before it does anything else. */
	if (vs_write_all(in[1], req, strlen(req)) < 0)
		vs_error_set(err, errno, "send the request to the credentials helper");
	else
		r = 0;
	close(in[1]), in[1] = -1;
	if (r == 0)
		r = rt_helper_verdict(sv[0], NULL, err);
	if (r < 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		r = vs_error_set(err, EIO, "credentials helper failed");
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (sv[i] >= 0)
			close(sv[i]);
	}
	if (r < 0)
		return vs_error_prefix(err, "credentials of '%s'", cfg->name);
	return 0;
}

/* ---- helper side ------------------------------------------------------- */

struct creds_req {
	const char *user, *hash;
	const struct vs_json *keys;
	bool replace;
};

/* Read a whole file opened below dirfd without following any symlink
 * (fd of a regular file only). 0 with *out (malloc'd, NUL-terminated);
 * ENOENT in err->errnum when absent. O_NONBLOCK: the tenant may have put
 * a FIFO there, whose open would otherwise block until a writer comes
 * (holding the container's lock until the helper's timeout); the check
 * below then refuses it. For a regular file the flag does nothing. */
static int read_below(int dirfd, const char *name, char **out, struct stat *st,
		      struct vs_error *err)
{
	cleanup_close int fd = vs_openat2(
	    dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0, VS_RESOLVE_NOLINKS);

	if (fd < 0 && errno == ELOOP)
		return vs_error_kind(err, VS_EK_CONFLICT, "%s is a symlink: refused", name);
	if (fd < 0)
		return vs_error_set(err, errno, "open %s", name);
	if (fstat(fd, st) < 0)
		return vs_error_set(err, errno, "stat %s", name);
	if (!S_ISREG(st->st_mode))
		return vs_error_kind(err, VS_EK_CONFLICT, "%s is not a regular file: refused",
				     name);
	if ((uint64_t)st->st_size > CREDS_FILE_MAX)
		return vs_error_kind(err, VS_EK_TOO_LARGE, "%s is too large", name);
	*out = xmalloc((size_t)st->st_size + 1);
	ssize_t n = vs_read_all(fd, *out, (size_t)st->st_size);
	if (n < 0)
		return vs_error_set(err, errno, "read %s", name);
	(*out)[n] = '\0';
	return 0;
}

/* Replace dirfd/name with data, keeping the old file's mode and owner
 * (mode, uid, gid when it is new). A symlink or anything but a regular
 * file at name is refused. */
static int replace_below(int dirfd, const char *name, const char *data, mode_t mode, uid_t uid,
			 gid_t gid, struct vs_error *err)
{
	char tmp[64];
	struct stat st;
	cleanup_close int fd = -1;
	unsigned rnd = 0;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISREG(st.st_mode))
			return vs_error_kind(err, VS_EK_CONFLICT, "%s is %s: refused", name,
					     S_ISLNK(st.st_mode) ? "a symlink"
								 : "not a regular file");
		mode = st.st_mode & 07777, uid = st.st_uid, gid = st.st_gid;
	} else if (errno != ENOENT) {
		return vs_error_set(err, errno, "stat %s", name);
	}
	if (getentropy(&rnd, sizeof(rnd)) < 0)
		rnd = (unsigned)getpid() ^ (unsigned)time(NULL);
	snprintf(tmp, sizeof(tmp), ".vsd-creds.%08x", rnd);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return vs_error_set(err, errno, "create %s", tmp);
	if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0 ||
	    vs_write_all(fd, data, strlen(data)) < 0 || fsync(fd) < 0 ||
	    renameat(dirfd, tmp, dirfd, name) < 0) {
		int e = errno;
		unlinkat(dirfd, tmp, 0);
		return vs_error_set(err, e, "replace %s", name);
	}
	fsync(dirfd);
	return 0;
}

/* The passwd entry of user: uid, gid and home. VS_EK_NOT_FOUND when the
 * container has no such user. */
static int lookup_user(int etc, const char *user, uid_t *uid, gid_t *gid, char **home,
		       struct vs_error *err)
{
	cleanup_free char *text = NULL;
	struct stat st;
	size_t ulen = strlen(user);

	if (read_below(etc, "passwd", &text, &st, err) < 0)
		return vs_error_prefix(err, "/etc");
	for (char *line = text, *next; line != NULL && *line != '\0'; line = next) {
		char *f[7] = {0};
		size_t n = 0;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (strncmp(line, user, ulen) != 0 || line[ulen] != ':')
			continue;
		for (char *p = line; n < 7 && p != NULL; n++) {
			f[n] = p;
			p = strchr(p, ':');
			if (p != NULL)
				*p++ = '\0';
		}
		if (n < 6 || f[5][0] != '/')
			return vs_error_kind(err, VS_EK_INVALID, "/etc/passwd: bad entry for '%s'",
					     user);
		*uid = (uid_t)strtoul(f[2], NULL, 10);
		*gid = (gid_t)strtoul(f[3], NULL, 10);
		*home = xstrdup(f[5]);
		return 0;
	}
	return vs_error_kind(err, VS_EK_NOT_FOUND, "user '%s' does not exist", user);
}

/* /etc/shadow with user's hash (and the day of the change); a user
 * without a line gets one. A missing shadow file is made (0600 root). */
static int set_password(int etc, const char *user, const char *hash, struct vs_error *err)
{
	cleanup_free char *text = NULL, *out = NULL;
	struct stat st;
	size_t ulen = strlen(user), cap, len = 0;
	long day = (long)(time(NULL) / 86400);
	bool done = false;

	if (read_below(etc, "shadow", &text, &st, err) < 0) {
		if (err->errnum != ENOENT)
			return vs_error_prefix(err, "/etc");
		text = xstrdup("");
	}
	cap = strlen(text) + strlen(hash) + ulen + 64;
	out = xmalloc(cap);
	for (char *line = text, *next; line != NULL && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (!done && strncmp(line, user, ulen) == 0 && line[ulen] == ':') {
			/* name:HASH:LASTCHG:rest */
			char *rest = strchr(line + ulen + 1, ':');
			rest = rest != NULL ? strchr(rest + 1, ':') : NULL;
			len += (size_t)snprintf(out + len, cap - len, "%s:%s:%ld%s\n", user, hash,
						day, rest != NULL ? rest : ":0:99999:7:::");
			done = true;
			continue;
		}
		len += (size_t)snprintf(out + len, cap - len, "%s\n", line);
	}
	if (!done)
		snprintf(out + len, cap - len, "%s:%s:%ld:0:99999:7:::\n", user, hash, day);
	return replace_below(etc, "shadow", out, 0600, 0, 0, err) < 0 ? vs_error_prefix(err, "/etc")
								      : 0;
}

/* Does text hold line (ending in a newline) as a whole line? */
static bool has_line(const char *text, const char *line)
{
	for (const char *p = strstr(text, line); p != NULL; p = strstr(p + 1, line))
		if (p == text || p[-1] == '\n')
			return true;
	return false;
}

/* The keys of r added to ~/.ssh/authorized_keys (each once), or the file
 * replaced by them. ~/.ssh is made (0700, the user's) when missing. */
static int set_keys(int root, const struct creds_req *r, uid_t uid, gid_t gid, const char *home,
		    struct vs_error *err)
{
	cleanup_close int hfd = -1, sfd = -1;
	cleanup_free char *text = NULL, *out = NULL;
	struct stat st;
	size_t cap, len;

	hfd = vs_openat2(root, home, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, VS_RESOLVE_NOLINKS);
	if (hfd < 0)
		return vs_error_set(err, errno, "open home %s", home);
	if (mkdirat(hfd, ".ssh", 0700) == 0) {
		if (fchownat(hfd, ".ssh", uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			return vs_error_set(err, errno, "chown %s/.ssh", home);
	} else if (errno != EEXIST) {
		return vs_error_set(err, errno, "mkdir %s/.ssh", home);
	}
	sfd = vs_openat2(hfd, ".ssh", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0,
			 VS_RESOLVE_NOLINKS);
	if (sfd < 0 && (errno == ELOOP || errno == ENOTDIR))
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "%s/.ssh is a symlink or not a directory: "
				     "refused",
				     home);
	if (sfd < 0)
		return vs_error_set(err, errno, "open %s/.ssh", home);
	if (r->replace || read_below(sfd, "authorized_keys", &text, &st, err) < 0) {
		if (!r->replace && err->errnum != ENOENT)
			return vs_error_prefix(err, "%s/.ssh", home);
		free(text);
		text = xstrdup("");
	}
	len = strlen(text);
	cap = len + 2;
	for (size_t i = 0; i < vs_json_array_len(r->keys); i++)
		cap += strlen(vs_json_string(vs_json_array_at(r->keys, i))) + 1;
	out = xmalloc(cap);
	len =
	    (size_t)snprintf(out, cap, "%s%s", text, len > 0 && text[len - 1] != '\n' ? "\n" : "");
	for (size_t i = 0; i < vs_json_array_len(r->keys); i++) {
		const char *k = vs_json_string(vs_json_array_at(r->keys, i));
		cleanup_free char *line = xasprintf("%s\n", k);
		if (has_line(out, line))
			continue;
		len += (size_t)snprintf(out + len, cap - len, "%s", line);
	}
	if (replace_below(sfd, "authorized_keys", out, 0600, uid, gid, err) < 0)
		return vs_error_prefix(err, "%s/.ssh", home);
	return 0;
}

static int parse_req(const struct vs_json *j, struct creds_req *r, struct vs_error *err)
{
	r->user = vs_json_string(vs_json_get(j, "user"));
	r->hash = vs_json_string(vs_json_get(j, "password_hash"));
	r->keys = vs_json_get(j, "keys");
	if (!vs_json_bool(vs_json_get(j, "replace"), &r->replace))
		r->replace = false;
	if (r->user == NULL || vs_json_type(r->keys) != VS_JSON_ARRAY)
		return vs_error_set(err, EINVAL, "credentials helper: bad request");
	for (size_t i = 0; i < vs_json_array_len(r->keys); i++)
		if (vs_json_string(vs_json_array_at(r->keys, i)) == NULL)
			return vs_error_set(err, EINVAL, "credentials helper: bad key");
	return 0;
}

/* Inside: everything relative to the root this process now sees. */
static int apply_inside(const struct creds_req *r, struct vs_error *err)
{
	cleanup_close int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int etc = -1;
	cleanup_free char *home = NULL;
	uid_t uid = 0;
	gid_t gid = 0;

	if (root < 0)
		return vs_error_set(err, errno, "open /");
	etc = vs_openat2(root, "etc", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, VS_RESOLVE_NOLINKS);
	if (etc < 0)
		return vs_error_set(err, errno, "open /etc");
	if (lookup_user(etc, r->user, &uid, &gid, &home, err) < 0)
		return -1;
	if (r->hash != NULL && set_password(etc, r->user, r->hash, err) < 0)
		return -1;
	if ((vs_json_array_len(r->keys) > 0 || r->replace) &&
	    set_keys(root, r, uid, gid, home, err) < 0)
		return -1;
	return 0;
}

/* Join init's user and mount namespaces and become the container's root. */
static int enter(const char *root, const char *name, struct vs_error *err)
{
	cleanup_free char *cfgpath = xasprintf("%s/containers/%s/config.json", root, name);
	cleanup_free char *text = NULL;
	cleanup_close int pidfd = -1;
	struct vs_container_config cfg = {0};
	pid_t init;
	int flags = CLONE_NEWNS;

	if (vs_read_file_at(AT_FDCWD, cfgpath, 1 << 20, &text, NULL, err) < 0 ||
	    vs_config_parse(text, &cfg, err) < 0)
		return -1;
	if (!cfg.privileged)
		flags |= CLONE_NEWUSER;
	vs_config_free(&cfg);
	if ((pidfd = rt_open_init(root, name, &init, err)) < 0)
		return -1;
	if (setns(pidfd, flags) < 0)
		return vs_error_set(err, errno, "join the namespaces of the container");
	if (flags & CLONE_NEWUSER &&
	    (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0 || setgroups(0, NULL) < 0))
		return vs_error_set(err, errno, "become root in the container");
	if (chdir("/") < 0)
		return vs_error_set(err, errno, "chdir / in the container");
	return 0;
}

int vs_rt_creds_main(int argc, char **argv)
{
	cleanup_free char *req = xmalloc(CREDS_REQ_MAX + 1);
	cleanup_json struct vs_json *j = NULL;
	struct creds_req r = {0};
	struct vs_error err = {0};
	ssize_t n;

	/* Nothing in the container may ptrace us or read our memory. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	fcntl(3, F_SETFD, FD_CLOEXEC);
	if (argc != 4) {
		vs_error_set(&err, EINVAL, "usage: vsd __creds ROOT NAME");
		return rt_helper_fail(&err);
	}
	if (vs_validate_name(argv[3], "container name", &err) < 0)
		return rt_helper_fail(&err);
	n = vs_read_all(0, req, CREDS_REQ_MAX);
	if (n < 0) {
		vs_error_set(&err, errno, "read the request");
		return rt_helper_fail(&err);
	}
	req[n] = '\0';
	if (vs_json_parse(req, &j, &err) < 0 || parse_req(j, &r, &err) < 0 ||
	    enter(argv[2], argv[3], &err) < 0 || apply_inside(&r, &err) < 0)
		return rt_helper_fail(&err);
	send(3, "ok", 2, MSG_NOSIGNAL);
	return 0;
}
