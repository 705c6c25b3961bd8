/* Checkpoint commands: suspend, resume, checkpoint --dir, restore --dir.
 * Each starts an operation in the daemon, follows it (progress on stderr)
 * and prints one summary line, or with --json the operation's result. */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/vs_util.h"

static const struct {
	const char *suffix; /* of the container's path */
	const char *verb;
	const char *preposition; /* before the directory, if any */
} kinds[] = {
    [VC_CR_SUSPEND] = {"/suspend", "suspended", NULL},
    [VC_CR_RESUME] = {"/resume", "resumed", NULL},
    [VC_CR_CHECKPOINT] = {"/checkpoint", "checkpointed", "to"},
    [VC_CR_RESTORE] = {"/restore", "restored", "from"},
};

char *vc_abs_path(const char *cwd, const char *path)
{
	size_t n = strlen(cwd);

	if (path[0] == '/')
		return xstrdup(path);
	return xasprintf("%s%s%s", cwd, n > 0 && cwd[n - 1] == '/' ? "" : "/", path);
}

void vc_cr_args_free(struct vc_cr_args *a)
{
	free(a->dir);
	a->dir = NULL;
}

static bool has_dotdot(const char *path)
{
	for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2)
		if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return true;
	return false;
}

static int set_dir(struct vc_cr_args *a, const char *dir, struct vs_error *err)
{
	char cwd[PATH_MAX], real[PATH_MAX];
	cleanup_free char *abs = NULL;
	char *slash;

	if (dir[0] == '\0')
		return vc_usage(err, "--dir must not be empty");
	free(a->dir);
	a->dir = NULL;
	if (dir[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL)
		return vs_error_set(err, errno, "--dir %s: the current directory", dir);
	abs = vc_abs_path(cwd, dir);
	/* The daemon takes no "..": resolve it here, where "../images" was
	 * typed, through the directory that holds the image directory (it
	 * must exist anyway), following symbolic links as the shell would.
	 * When that fails, the daemon's refusal says why. */
	slash = strrchr(abs, '/');
	if (has_dotdot(abs) && strcmp(slash + 1, "..") != 0 && slash != abs) {
		*slash = '\0';
		if (realpath(abs, real) != NULL) {
			a->dir = xasprintf("%s/%s", strcmp(real, "/") == 0 ? "" : real, slash + 1);
			return 0;
		}
		*slash = '/';
	}
	a->dir = steal_ptr(&abs);
	return 0;
}

static const struct option opts_resume[] = {
    {"discard", no_argument, NULL, 'D'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {0},
};
static const struct option opts_plain[] = {
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {0},
};
static const struct option opts_checkpoint[] = {
    {"dir", required_argument, NULL, 'd'},
    {"leave-running", no_argument, NULL, 'l'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {0},
};
static const struct option opts_restore[] = {
    {"dir", required_argument, NULL, 'd'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {0},
};

int vc_cr_parse(struct vc_ctx *ctx, enum vc_cr_kind kind, int argc, char **argv,
		struct vc_cr_args *a, struct vs_error *err)
{
	const struct option *opts = kind == VC_CR_CHECKPOINT ? opts_checkpoint
				    : kind == VC_CR_RESTORE  ? opts_restore
				    : kind == VC_CR_RESUME   ? opts_resume
							     : opts_plain;
	const char *shortopts = kind == VC_CR_CHECKPOINT ? "d:lh"
				: kind == VC_CR_RESTORE	 ? "d:h"
				: kind == VC_CR_RESUME	 ? "Dh"
							 : "h";
	bool reset = true;
	int c, r;

	memset(a, 0, sizeof(*a));
	a->kind = kind;
	while ((c = vc_getopt(argc, argv, shortopts, opts, &reset, err)) != -1) {
		switch (c) {
		case 'd':
			if ((r = set_dir(a, optarg, err)) < 0)
				goto fail;
			break;
		case 'l':
			a->leave_running = true;
			break;
		case 'D':
			a->discard = true;
			break;
		case 'j':
			ctx->json = true;
			break;
		case 'h':
			vc_cr_args_free(a);
			return vc_cmd_help(ctx);
		default:
			r = VC_ERR_USAGE;
			goto fail;
		}
	}
	r = vc_positional(argc, optind, 1, 1, "container name", err);
	if (r < 0)
		goto fail;
	a->name = argv[optind];
	if ((kind == VC_CR_CHECKPOINT || kind == VC_CR_RESTORE) && a->dir == NULL) {
		r = vc_usage(err, "--dir is required");
		goto fail;
	}
	return 0;
fail:
	vc_cr_args_free(a);
	return r;
}

char *vc_cr_body(const struct vc_cr_args *a)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);

	vs_jgen_obj_open(g);
	if (a->dir != NULL)
		vs_jgen_kv_str(g, "dir", a->dir);
	if (a->leave_running)
		vs_jgen_kv_bool(g, "leave_running", true);
	if (a->discard)
		vs_jgen_kv_bool(g, "discard", true);
	vs_jgen_obj_close(g);
	return vs_jgen_steal(g);
}

/* A millisecond field as text ("?" when absent). */
static void ms_text(const struct vs_json *result, const char *key, char *buf, size_t len)
{
	int64_t n;

	if (vs_json_int64(vs_json_get(result, key), &n))
		snprintf(buf, len, "%lld ms", (long long)n);
	else
		snprintf(buf, len, "?");
}

void vc_cr_summary(const struct vc_cr_args *a, const struct vs_json *result, char *buf, size_t len)
{
	const char *dir = vs_json_string(vs_json_get(result, "dir"));
	const char *prep = kinds[a->kind].preposition;
	char frozen[32], criu[32], total[32], image[32] = "?";
	cleanup_free char *where = NULL;
	int64_t n;

	if (a->discard) {
		snprintf(buf, len,
			 "discarded the memory image of %s; it is stopped, its disk as at "
			 "suspend",
			 a->name);
		return;
	}
	if (dir == NULL)
		dir = a->dir;
	where = prep != NULL && dir != NULL ? xasprintf(" %s %s", prep, dir) : xstrdup("");
	ms_text(result, "frozen_ms", frozen, sizeof(frozen));
	ms_text(result, "criu_ms", criu, sizeof(criu));
	ms_text(result, "total_ms", total, sizeof(total));
	if (vs_json_int64(vs_json_get(result, "image_bytes"), &n) && n >= 0)
		vc_format_size_short(n, image, sizeof(image));
	snprintf(buf, len, "%s %s%s: frozen %s, criu %s, total %s, image %s%s", kinds[a->kind].verb,
		 a->name, where, frozen, criu, total, image,
		 a->leave_running ? " (left running)" : "");
}

/* Start the operation, follow it, print the outcome. */
static int run(struct vc_ctx *ctx, const struct vc_cr_args *a, struct vs_error *err)
{
	cleanup_free char *path = vc_api_path("containers", a->name, kinds[a->kind].suffix);
	cleanup_free char *body = vc_cr_body(a);
	cleanup_json struct vs_json *final = NULL;
	const struct vs_json *result;
	char line[PATH_MAX + 256];
	int r = vc_run_operation(ctx, path, body, &final, &result, err);

	if (r != 0)
		return r < 0 ? VC_ERR_FAIL : 0;
	vc_cr_summary(a, result, line, sizeof(line));
	printf("%s\n", line);
	return 0;
}

static int command(struct vc_ctx *ctx, enum vc_cr_kind kind, int argc, char **argv,
		   struct vs_error *err)
{
	struct vc_cr_args a;
	int r = vc_cr_parse(ctx, kind, argc, argv, &a, err);

	if (r != 0)
		return r == VC_HELP_SHOWN ? 0 : r;
	r = run(ctx, &a, err);
	vc_cr_args_free(&a);
	return r;
}

int vc_cmd_suspend(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	return command(ctx, VC_CR_SUSPEND, argc, argv, err);
}

int vc_cmd_resume(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	return command(ctx, VC_CR_RESUME, argc, argv, err);
}

int vc_cmd_checkpoint(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	return command(ctx, VC_CR_CHECKPOINT, argc, argv, err);
}

int vc_cmd_restore(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	return command(ctx, VC_CR_RESTORE, argc, argv, err);
}
