/* The hosting panel's commands: lock and unlock (a panel's suspension for
 * non-payment; `vsctl suspend` is the CRIU suspend, something else). */
#include "cli/cli.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

/* vsctl lock NAME [--reason TEXT] */
int vc_cmd_lock(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const struct option opts[] = {
	    {"reason", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_free char *path = NULL;
	const char *reason = NULL;
	bool reset = true;
	int c;

	while ((c = vc_getopt(argc, argv, "r:h", opts, &reset, err)) != -1) {
		if (c == 'r')
			reason = optarg;
		else if (c == 'h') {
			vc_cmd_help(ctx);
			return 0;
		} else
			return VC_ERR_USAGE;
	}
	if (vc_positional(argc, optind, 1, 1, "container name", err) < 0)
		return VC_ERR_USAGE;
	vs_jgen_obj_open(g);
	if (reason != NULL)
		vs_jgen_kv_str(g, "reason", reason);
	vs_jgen_obj_close(g);
	path = vc_api_path("containers", argv[optind], "/lock");
	if (vc_api(ctx, "POST", path, vs_jgen_text(g, NULL), NULL, NULL, err) < 0)
		return VC_ERR_FAIL;
	return 0;
}

/* vsctl unlock NAME [--start] */
int vc_cmd_unlock(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const struct option opts[] = {
	    {"start", no_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	cleanup_free char *path = NULL;
	bool reset = true, start = false;
	int c;

	while ((c = vc_getopt(argc, argv, "sh", opts, &reset, err)) != -1) {
		if (c == 's')
			start = true;
		else if (c == 'h') {
			vc_cmd_help(ctx);
			return 0;
		} else
			return VC_ERR_USAGE;
	}
	if (vc_positional(argc, optind, 1, 1, "container name", err) < 0)
		return VC_ERR_USAGE;
	path = vc_api_path("containers", argv[optind], "/unlock");
	if (vc_api(ctx, "POST", path, start ? "{\"start\":true}" : "{}", NULL, NULL, err) < 0)
		return VC_ERR_FAIL;
	return 0;
}

/* --since: unix seconds, or a UTC date "YYYY-MM-DD" with an optional
 * time "THH:MM[:SS]" (or a space instead of the T). */
int vc_parse_since(const char *s, int64_t *out, struct vs_error *err)
{
	static const char *const formats[] = {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
					      "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"};
	struct tm tm;

	if (vs_parse_int(s, "--since", 0, INT64_MAX, out, err) == 0)
		return 0;
	for (size_t i = 0; i < VS_ARRAY_SIZE(formats); i++) {
		const char *end;
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, formats[i], &tm);
		if (end != NULL && *end == '\0') {
			*out = (int64_t)timegm(&tm);
			if (*out >= 0)
				return 0;
		}
	}
	return vs_error_kind(err, VS_EK_INVALID,
			     "--since: expected unix seconds or a UTC date like 2026-12-01 or "
			     "2026-12-01T13:00");
}

/* vsctl usage NAME [--since DATE|SECONDS] [--json] */
int vc_cmd_usage(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const struct option opts[] = {
	    {"since", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	cleanup_free char *path = NULL, *query = NULL;
	bool reset = true;
	int64_t since = -1;
	int c;

	while ((c = vc_getopt(argc, argv, "s:jh", opts, &reset, err)) != -1) {
		if (c == 's') {
			if (vc_parse_since(optarg, &since, err) < 0)
				return VC_ERR_USAGE;
		} else if (c == 'j') {
			ctx->json = true;
		} else if (c == 'h') {
			vc_cmd_help(ctx);
			return 0;
		} else {
			return VC_ERR_USAGE;
		}
	}
	if (vc_positional(argc, optind, 1, 1, "container name", err) < 0)
		return VC_ERR_USAGE;
	query = since >= 0 ? xasprintf("/usage?since=%" PRId64, since) : xstrdup("/usage");
	path = vc_api_path("containers", argv[optind], query);
	return vc_show(ctx, path, err);
}

/* ---- passwords and keys: from files or stdin, never from argv ---------- */

/* Read a whole small file, or stdin for "-". 0 with *out, or -1. */
static int read_input(const char *path, char **out, struct vs_error *err)
{
	if (strcmp(path, "-") == 0)
		return vs_read_file_at(AT_FDCWD, "/dev/stdin", 1 << 20, out, NULL, err);
	return vs_read_file_at(AT_FDCWD, path, 1 << 20, out, NULL, err);
}

int vc_read_password(const char *path, char **pw, struct vs_error *err)
{
	size_t n;

	if (isatty(STDIN_FILENO) && strcmp(path, "-") == 0) {
		/* Typed: no echo. */
		struct termios old, quiet;
		char buf[1100];
		bool ok;
		fprintf(stderr, "New password: ");
		fflush(stderr);
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		ok = fgets(buf, sizeof(buf), stdin) != NULL;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
		if (!ok)
			return vs_error_kind(err, VS_EK_INVALID, "no password given");
		*pw = xstrdup(buf);
		explicit_bzero(buf, sizeof(buf));
	} else if (read_input(path, pw, err) < 0) {
		return vs_error_prefix(err, "--password-file");
	}
	/* One trailing newline is the file's, not the password's. */
	n = strlen(*pw);
	if (n > 0 && (*pw)[n - 1] == '\n')
		(*pw)[--n] = '\0';
	if (n > 0 && (*pw)[n - 1] == '\r')
		(*pw)[--n] = '\0';
	if (n == 0)
		return vs_error_kind(err, VS_EK_INVALID, "the password is empty");
	return 0;
}

int vc_read_keys(const char *path, char ***keys, struct vs_error *err)
{
	cleanup_free char *text = NULL;
	size_t n = 0;

	if (read_input(path, &text, err) < 0)
		return vs_error_prefix(err, "--ssh-key-file");
	*keys = xcalloc(strlen(text) / 2 + 2, sizeof(char *));
	for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		size_t l = strlen(line);
		if (l > 0 && line[l - 1] == '\r')
			line[--l] = '\0';
		if (l == 0 || line[0] == '#')
			continue;
		(*keys)[n++] = xstrdup(line);
	}
	if (n == 0)
		return vs_error_kind(err, VS_EK_INVALID, "%s: no key in it", path);
	return 0;
}

void vc_creds_gen(struct vs_jgen *g, const char *pw, char **keys)
{
	if (pw != NULL)
		vs_jgen_kv_str(g, "root_password", pw);
	if (keys != NULL) {
		vs_jgen_key(g, "ssh_keys");
		vs_jgen_arr_open(g);
		for (size_t i = 0; keys[i] != NULL; i++)
			vs_jgen_str(g, keys[i]);
		vs_jgen_arr_close(g);
	}
}

/* Free a password (wiped) and keys. */
static void creds_clear(char **pw, char ***keys)
{
	if (*pw != NULL)
		explicit_bzero(*pw, strlen(*pw));
	free(*pw);
	*pw = NULL;
	vs_strv_free(*keys);
	*keys = NULL;
}

/* The body is sent and wiped: it may hold a password. */
static int post_secret(struct vc_ctx *ctx, const char *path, struct vs_jgen *g,
		       struct vs_error *err)
{
	size_t len;
	char *text = (char *)vs_jgen_text(g, &len);
	int r = vc_api(ctx, "POST", path, text, NULL, NULL, err);

	explicit_bzero(text, len);
	return r < 0 ? VC_ERR_FAIL : 0;
}

/* vsctl passwd NAME [--user U] [--password-file F|-] */
int vc_cmd_passwd(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const struct option opts[] = {
	    {"user", required_argument, NULL, 'u'},
	    {"password-file", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_free char *path = NULL;
	const char *user = "root", *file = "-";
	char *pw = NULL, **keys = NULL;
	bool reset = true;
	int c, r;

	while ((c = vc_getopt(argc, argv, "u:p:h", opts, &reset, err)) != -1) {
		if (c == 'u') {
			user = optarg;
		} else if (c == 'p') {
			file = optarg;
		} else if (c == 'h') {
			vc_cmd_help(ctx);
			return 0;
		} else {
			return VC_ERR_USAGE;
		}
	}
	if (vc_positional(argc, optind, 1, 1, "container name", err) < 0)
		return VC_ERR_USAGE;
	if (vc_read_password(file, &pw, err) < 0)
		return VC_ERR_FAIL;
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "user", user);
	vs_jgen_kv_str(g, "password", pw);
	vs_jgen_obj_close(g);
	creds_clear(&pw, &keys);
	path = vc_api_path("containers", argv[optind], "/password");
	r = post_secret(ctx, path, g, err);
	return r;
}

/* vsctl ssh-key add NAME --file F [--user U] [--replace] */
int vc_cmd_ssh_key_add(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const struct option opts[] = {
	    {"file", required_argument, NULL, 'f'},
	    {"user", required_argument, NULL, 'u'},
	    {"replace", no_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_free char *path = NULL;
	cleanup_strv char **keys = NULL;
	const char *user = "root", *file = NULL;
	bool reset = true, replace = false;
	int c;

	while ((c = vc_getopt(argc, argv, "f:u:rh", opts, &reset, err)) != -1) {
		if (c == 'f') {
			file = optarg;
		} else if (c == 'u') {
			user = optarg;
		} else if (c == 'r') {
			replace = true;
		} else if (c == 'h') {
			vc_cmd_help(ctx);
			return 0;
		} else {
			return VC_ERR_USAGE;
		}
	}
	if (vc_positional(argc, optind, 1, 1, "container name", err) < 0)
		return VC_ERR_USAGE;
	if (file == NULL)
		return vc_usage(err, "--file is required");
	if (vc_read_keys(file, &keys, err) < 0)
		return VC_ERR_FAIL;
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "user", user);
	vs_jgen_key(g, "keys");
	vs_jgen_arr_open(g);
	for (size_t i = 0; keys[i] != NULL; i++)
		vs_jgen_str(g, keys[i]);
	vs_jgen_arr_close(g);
	if (replace)
		vs_jgen_kv_bool(g, "replace", true);
	vs_jgen_obj_close(g);
	path = vc_api_path("containers", argv[optind], "/ssh-keys");
	if (vc_api(ctx, "POST", path, vs_jgen_text(g, NULL), NULL, NULL, err) < 0)
		return VC_ERR_FAIL;
	return 0;
}

/* Reinstall erases the container's files: confirmed by --yes, or typed
 * on a terminal. */
static int confirm(const char *name, struct vs_error *err)
{
	char buf[16];

	if (!isatty(STDIN_FILENO))
		return vc_usage(err, "reinstall erases every file of '%s': give --yes", name);
	fprintf(stderr, "Reinstall '%s'? Every file in it is lost. [y/N] ", name);
	if (fgets(buf, sizeof(buf), stdin) == NULL || (buf[0] != 'y' && buf[0] != 'Y')) {
		vs_error_kind(err, VS_EK_CONFLICT, "not confirmed: nothing changed");
		return VC_ERR_FAIL;
	}
	return 0;
}

/* vsctl reinstall NAME [--template T] [--root-password-file F|-]
 * [--ssh-key-file F] [--yes] */
int vc_cmd_reinstall(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const struct option opts[] = {
	    {"template", required_argument, NULL, 'T'},
	    {"root-password-file", required_argument, NULL, 'p'},
	    {"ssh-key-file", required_argument, NULL, 'k'},
	    {"yes", no_argument, NULL, 'y'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_free char *path = NULL;
	const char *tpl = NULL, *pwfile = NULL, *keyfile = NULL;
	char *pw = NULL, **keys = NULL;
	bool reset = true, yes = false;
	int c, r;

	while ((c = vc_getopt(argc, argv, "T:p:k:yh", opts, &reset, err)) != -1) {
		if (c == 'T')
			tpl = optarg;
		else if (c == 'p')
			pwfile = optarg;
		else if (c == 'k')
			keyfile = optarg;
		else if (c == 'y')
			yes = true;
		else if (c == 'h') {
			vc_cmd_help(ctx);
			return 0;
		} else
			return VC_ERR_USAGE;
	}
	if (vc_positional(argc, optind, 1, 1, "container name", err) < 0)
		return VC_ERR_USAGE;
	if (!yes && (r = confirm(argv[optind], err)) != 0)
		return r;
	if ((pwfile != NULL && vc_read_password(pwfile, &pw, err) < 0) ||
	    (keyfile != NULL && vc_read_keys(keyfile, &keys, err) < 0)) {
		creds_clear(&pw, &keys);
		return VC_ERR_FAIL;
	}
	vs_jgen_obj_open(g);
	if (tpl != NULL)
		vs_jgen_kv_str(g, "template", tpl);
	vc_creds_gen(g, pw, keys);
	vs_jgen_obj_close(g);
	creds_clear(&pw, &keys);
	path = vc_api_path("containers", argv[optind], "/reinstall");
	return post_secret(ctx, path, g, err);
}
