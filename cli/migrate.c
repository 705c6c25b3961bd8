/* vsctl migrate NAME --to REMOTE: ask the node that holds NAME (the local
 * daemon, or --remote) to move it to REMOTE, a node vsctl knows
 * (vsctl remote add). vsctl only names the target: its URL and the pinned
 * fingerprint go to the source daemon, which talks to the target itself
 * with its own node certificate (docs/migration.md). */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vs_util.h"

struct mig_args {
	const char *name;
	const char *to;
	const char *mode;
	const char *bandwidth;
	bool check;
	bool recover, force;
};

static const struct option opts[] = {
    {"to", required_argument, NULL, 't'},
    {"mode", required_argument, NULL, 'm'},
    {"bandwidth", required_argument, NULL, 'b'},
    {"check", no_argument, NULL, 'c'},
    {"recover", no_argument, NULL, 'r'},
    {"force", no_argument, NULL, 'f'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {0},
};

static int parse(struct vc_ctx *ctx, int argc, char **argv, struct mig_args *a,
		 struct vs_error *err)
{
	bool reset = true;
	int c, r;

	memset(a, 0, sizeof(*a));
	while ((c = vc_getopt(argc, argv, "t:m:b:crfjh", opts, &reset, err)) != -1) {
		switch (c) {
		case 't':
			a->to = optarg;
			break;
		case 'm':
			a->mode = optarg;
			break;
		case 'b':
			a->bandwidth = optarg;
			break;
		case 'c':
			a->check = true;
			break;
		case 'r':
			a->recover = true;
			break;
		case 'f':
			a->force = true;
			break;
		case 'j':
			ctx->json = true;
			break;
		case 'h':
			return vc_cmd_help(ctx);
		default:
			return VC_ERR_USAGE;
		}
	}
	r = vc_positional(argc, optind, 1, 1, "container name", err);
	if (r < 0)
		return r;
	a->name = argv[optind];
	if (a->force && !a->recover)
		return vc_usage(err, "--force goes with --recover");
	if (a->recover && (a->to != NULL || a->check || a->mode != NULL || a->bandwidth != NULL))
		return vc_usage(err, "--recover takes no --to, --mode, --bandwidth or --check (the "
				     "migration's record names its target)");
	if (a->to == NULL && !a->recover)
		return vc_usage(err, "--to REMOTE is required (see vsctl remote list)");
	return 0;
}

static char *body_of(const struct mig_args *a, const char *url, const char *fp)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);

	vs_jgen_obj_open(g);
	vs_jgen_key(g, "target");
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "url", url);
	vs_jgen_kv_str(g, "fingerprint", fp);
	vs_jgen_obj_close(g);
	if (a->mode != NULL)
		vs_jgen_kv_str(g, "mode", a->mode);
	if (a->bandwidth != NULL)
		vs_jgen_kv_str(g, "bandwidth", a->bandwidth);
	if (a->check)
		vs_jgen_kv_bool(g, "check", true);
	vs_jgen_obj_close(g);
	return vs_jgen_steal(g);
}

/* --check: what the target says, one blocker per line; exit 1 when any. */
static int print_check(const struct vc_ctx *ctx, const struct mig_args *a, const char *raw,
		       const struct vs_json *obj, struct vs_error *err)
{
	const struct vs_json *list = vs_json_get(obj, "blockers");
	bool ok = false;

	vs_json_bool(vs_json_get(obj, "ok"), &ok);
	if (ctx->json)
		vc_print_raw_json(raw);
	else if (ok)
		printf("%s can move to %s\n", a->name, a->to);
	else
		for (size_t i = 0; i < vs_json_array_len(list); i++)
			printf("blocked: %s\n", vs_json_string(vs_json_array_at(list, i)));
	if (ok)
		return 0;
	vs_error_kind(err, VS_EK_CONFLICT, "%s cannot move to %s", a->name, a->to);
	return VC_ERR_FAIL;
}

static void summary(const struct mig_args *a, const struct vs_json *result)
{
	const char *mode = vs_json_string(vs_json_get(result, "mode"));
	const char *warning = vs_json_string(vs_json_get(result, "warning"));
	int64_t frozen = -1, total = -1, bytes = 0, rounds = 0;
	char size[32];

	vs_json_int64(vs_json_get(result, "frozen_ms"), &frozen);
	vs_json_int64(vs_json_get(result, "total_ms"), &total);
	vs_json_int64(vs_json_get(result, "bytes"), &bytes);
	vs_json_int64(vs_json_get(result, "rounds"), &rounds);
	vc_format_size_short(bytes, size, sizeof(size));
	printf("migrated %s to %s (%s): frozen %lld ms, total %lld ms, %s sent in %lld rounds\n",
	       a->name, a->to, mode ? mode : "?", (long long)frozen, (long long)total, size,
	       (long long)
		   rounds); /* Moved, but something here was left undone (a copy not removed). */
	if (warning != NULL)
		fprintf(stderr, "vsctl: warning: %s\n", warning);
}

/* --recover [--force]: a failed post-copy pull's frozen copy runs here
 * again once the target's is known gone, or a moved copy left here is
 * removed (docs/migration.md); an operation whose result's message is
 * printed, whose error is the refusal. */
static int recover(struct vc_ctx *ctx, const struct mig_args *a, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_free char *path = vc_api_path("containers", a->name, "/migrate");
	cleanup_json struct vs_json *final = NULL;
	const struct vs_json *result;
	const char *msg;
	int r;

	vs_jgen_obj_open(g);
	vs_jgen_kv_bool(g, "recover", true);
	if (a->force)
		vs_jgen_kv_bool(g, "force", true);
	vs_jgen_obj_close(g);
	r = vc_run_operation(ctx, path, vs_jgen_text(g, NULL), &final, &result, err);
	if (r != 0)
		return r < 0 ? VC_ERR_FAIL : 0;
	msg = vs_json_string(vs_json_get(result, "message"));
	printf("%s\n", msg != NULL ? msg : "recovered");
	return 0;
}

int vc_cmd_migrate(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	struct mig_args a;
	cleanup_free char *url = NULL;
	cleanup_free char *fp = NULL;
	cleanup_free char *body = NULL;
	cleanup_free char *path = NULL;
	cleanup_free char *raw = NULL;
	cleanup_json struct vs_json *obj = NULL;
	cleanup_json struct vs_json *final = NULL;
	const struct vs_json *result;
	int r = parse(ctx, argc, argv, &a, err);

	if (r != 0)
		return r == VC_HELP_SHOWN ? 0 : r;
	if (a.recover)
		return recover(ctx, &a, err);
	if (vc_remote_target(a.to, &url, &fp, err) < 0)
		return VC_ERR_USAGE;
	body = body_of(&a, url, fp);
	path = vc_api_path("containers", a.name, "/migrate");
	if (a.check) {
		if (vc_api(ctx, "POST", path, body, &raw, &obj, err) < 0)
			return VC_ERR_FAIL;
		return print_check(ctx, &a, raw, obj, err);
	}
	r = vc_run_operation(ctx, path, body, &final, &result, err);
	if (r != 0)
		return r < 0 ? VC_ERR_FAIL : 0;
	summary(&a, result);
	return 0;
}

/* ---- node evacuate: every container off this node ------------------------ */

#define EVACUATE_PARALLEL_MAX 16

struct evac {
	char *name;
	struct vs_json *op; /* the 202's operation while it runs */
	struct vs_error err;
	bool failed;
};

static const struct option evac_opts[] = {
    {"to", required_argument, NULL, 't'},   {"parallel", required_argument, NULL, 'p'},
    {"mode", required_argument, NULL, 'm'}, {"bandwidth", required_argument, NULL, 'b'},
    {"help", no_argument, NULL, 'h'},	    {0},
};

static int parse_evacuate(struct vc_ctx *ctx, int argc, char **argv, struct mig_args *a,
			  long *parallel, struct vs_error *err)
{
	bool reset = true;
	char *end;
	int c;

	memset(a, 0, sizeof(*a));
	*parallel = 1;
	while ((c = vc_getopt(argc, argv, "t:p:m:b:h", evac_opts, &reset, err)) != -1) {
		switch (c) {
		case 't':
			a->to = optarg;
			break;
		case 'p':
			*parallel = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || *parallel < 1 ||
			    *parallel > EVACUATE_PARALLEL_MAX)
				return vc_usage(err, "--parallel: expected 1 to %d",
						EVACUATE_PARALLEL_MAX);
			break;
		case 'm':
			a->mode = optarg;
			break;
		case 'b':
			a->bandwidth = optarg;
			break;
		case 'h':
			return vc_cmd_help(ctx);
		default:
			return VC_ERR_USAGE;
		}
	}
	if (vc_positional(argc, optind, 0, 0, "", err) < 0)
		return VC_ERR_USAGE;
	if (a->to == NULL)
		return vc_usage(err, "--to REMOTE is required (see vsctl remote list)");
	return 0;
}

/* The names of every container on the node. */
static int list_names(const struct vc_ctx *ctx, struct evac **out, size_t *n, struct vs_error *err)
{
	cleanup_json struct vs_json *list = NULL;
	const struct vs_json *arr;

	if (vc_api(ctx, "GET", "/v1/containers", NULL, NULL, &list, err) < 0)
		return -1;
	arr = vs_json_get(list, "containers");
	*n = 0;
	*out = xcalloc(vs_json_array_len(arr) + 1, sizeof(**out));
	for (size_t i = 0; i < vs_json_array_len(arr); i++) {
		const char *name = vs_json_string(vs_json_get(vs_json_array_at(arr, i), "name"));
		if (name != NULL)
			(*out)[(*n)++].name = xstrdup(name);
	}
	return 0;
}

/* Start one move; a refusal is that container's failure, not the run's. */
static void evac_start(const struct vc_ctx *ctx, struct evac *e, const struct mig_args *a,
		       const char *url, const char *fp)
{
	cleanup_free char *body = body_of(a, url, fp);
	cleanup_free char *path = vc_api_path("containers", e->name, "/migrate");

	if (vc_api(ctx, "POST", path, body, NULL, &e->op, &e->err) < 0)
		e->failed = true;
}

static void evac_finish(const struct vc_ctx *ctx, struct evac *e, const struct mig_args *a)
{
	cleanup_json struct vs_json *final = NULL;
	struct mig_args one = *a;

	if (!e->failed && vc_follow_operation(ctx, e->op, &final, &e->err) < 0)
		e->failed = true;
	vs_json_freep(&e->op);
	if (e->failed) {
		printf("failed %s: %s\n", e->name, e->err.msg);
		return;
	}
	one.name = e->name;
	summary(&one, vs_json_get(final, "result"));
}

int vc_cmd_node_evacuate(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	struct mig_args a;
	cleanup_free char *url = NULL;
	cleanup_free char *fp = NULL;
	struct evac *all = NULL;
	size_t n = 0, failed = 0;
	long parallel;
	int r = parse_evacuate(ctx, argc, argv, &a, &parallel, err);

	if (r != 0)
		return r == VC_HELP_SHOWN ? 0 : r;
	if (vc_remote_target(a.to, &url, &fp, err) < 0)
		return VC_ERR_USAGE;
	if (list_names(ctx, &all, &n, err) < 0)
		return VC_ERR_FAIL;
	/* Batches of `parallel` moves: all started, then followed. */
	for (size_t i = 0; i < n; i += (size_t)parallel) {
		size_t end = i + (size_t)parallel < n ? i + (size_t)parallel : n;
		for (size_t k = i; k < end; k++)
			evac_start(ctx, &all[k], &a, url, fp);
		for (size_t k = i; k < end; k++) {
			evac_finish(ctx, &all[k], &a);
			failed += all[k].failed;
		}
	}
	for (size_t k = 0; k < n; k++)
		free(all[k].name);
	free(all);
	if (failed == 0)
		return 0;
	vs_error_kind(err, VS_EK_CONFLICT, "%zu of %zu containers did not move (they stay here)",
		      failed, n);
	return VC_ERR_FAIL;
}
