/* Container commands: create, start, stop, restart, destroy, list, status. */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vs_util.h"
#include "lib/vs_validate.h"

/* Commands whose only argument is NAME, plus --help. */
static int parse_name_only(struct vc_ctx *ctx, int argc, char **argv, const char **name,
			   struct vs_error *err)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	bool reset = true;
	int c;

	while ((c = vc_getopt(argc, argv, "h", opts, &reset, err)) != -1) {
		if (c == 'h')
			return vc_cmd_help(ctx);
		return VC_ERR_USAGE;
	}
	if (vc_positional(argc, optind, 1, 1, "container name", err) < 0)
		return VC_ERR_USAGE;
	*name = argv[optind];
	return 0;
}

struct create_args {
	const char *name, *template_name, *hostname, *owner;
	bool privileged;
	struct vc_limit_args lim;
	struct vc_net_args net;
	/* --root-password-file, --ssh-key-file (cli/panel.c reads them) */
	const char *pwfile, *keyfile;
	char *pw, **keys;
};

static char *create_body(const struct create_args *a)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);

	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "name", a->name);
	vs_jgen_kv_str(g, "template", a->template_name);
	if (a->hostname != NULL)
		vs_jgen_kv_str(g, "hostname", a->hostname);
	if (a->privileged)
		vs_jgen_kv_bool(g, "privileged", true);
	if (a->owner != NULL)
		vs_jgen_kv_str(g, "owner", a->owner);
	vc_limit_gen(g, &a->lim);
	vc_net_gen_create(g, &a->net);
	vc_creds_gen(g, a->pw, a->keys);
	vs_jgen_obj_close(g);
	return vs_jgen_steal(g);
}

static int parse_create(struct vc_ctx *ctx, int argc, char **argv, struct create_args *a,
			struct vs_error *err)
{
	static const struct option base[] = {
	    {"template", required_argument, NULL, 'T'},
	    {"hostname", required_argument, NULL, 'H'},
	    {"privileged", no_argument, NULL, 'P'},
	    {"owner", required_argument, NULL, 'O'},
	    {"root-password-file", required_argument, NULL, 'W'},
	    {"ssh-key-file", required_argument, NULL, 'K'},
	    {"help", no_argument, NULL, 'h'},
	};
	struct option opts[VS_ARRAY_SIZE(base) + 40];
	size_t n = VS_ARRAY_SIZE(base);
	bool reset = true;
	int c, r;

	memcpy(opts, base, sizeof(base));
	n += vc_limit_options(opts + n, VS_ARRAY_SIZE(opts) - n - 1);
	n += vc_net_options(opts + n, VS_ARRAY_SIZE(opts) - n - 1, false);
	opts[n] = (struct option){0};
	while ((c = vc_getopt(argc, argv, "T:H:PW:K:h", opts, &reset, err)) != -1) {
		switch (c) {
		case 'W':
			a->pwfile = optarg;
			break;
		case 'K':
			a->keyfile = optarg;
			break;
		case 'T':
			a->template_name = optarg;
			break;
		case 'H':
			a->hostname = optarg;
			break;
		case 'P':
			a->privileged = true;
			break;
		case 'O':
			a->owner = optarg;
			break;
		case 'h':
			return vc_cmd_help(ctx);
		default:
			r = vc_limit_opt(c, optarg, false, &a->lim, err);
			if (r == 0)
				r = vc_net_opt(c, optarg, false, &a->net, err);
			if (r <= 0)
				return VC_ERR_USAGE;
		}
	}
	if (vc_positional(argc, optind, 1, 1, "container name", err) < 0)
		return VC_ERR_USAGE;
	a->name = argv[optind];
	if (a->template_name == NULL)
		return vc_usage(err, "--template is required");
	return 0;
}

int vc_cmd_create(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	struct create_args a = {0};
	cleanup_free char *body = NULL;
	cleanup_json struct vs_json *status = NULL;
	const char *name;
	int r = parse_create(ctx, argc, argv, &a, err);

	if (r != 0)
		return r == VC_HELP_SHOWN ? 0 : r;
	if ((a.pwfile != NULL && vc_read_password(a.pwfile, &a.pw, err) < 0) ||
	    (a.keyfile != NULL && vc_read_keys(a.keyfile, &a.keys, err) < 0))
		r = VC_ERR_FAIL;
	else
		body = create_body(&a);
	if (a.pw != NULL)
		explicit_bzero(a.pw, strlen(a.pw));
	free(a.pw);
	vs_strv_free(a.keys);
	if (r == 0 && vc_api(ctx, "POST", "/v1/containers", body, NULL, &status, err) < 0)
		r = VC_ERR_FAIL;
	if (body != NULL)
		explicit_bzero(body, strlen(body));
	if (r != 0)
		return r;
	name = vs_json_string(vs_json_get(status, "name"));
	printf("%s\n", name ? name : a.name);
	vc_limit_warnings(status);
	return 0;
}

static int put_state(struct vc_ctx *ctx, const char *name, const char *action, int64_t timeout,
		     bool force, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_free char *path = vc_api_path("containers", name, "/state");

	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "action", action);
	if (timeout >= 0)
		vs_jgen_kv_int(g, "timeout", timeout);
	if (force)
		vs_jgen_kv_bool(g, "force", true);
	vs_jgen_obj_close(g);
	if (vc_api(ctx, "PUT", path, vs_jgen_text(g, NULL), NULL, NULL, err) < 0)
		return VC_ERR_FAIL;
	return 0;
}

int vc_cmd_start(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	const char *name = NULL;
	int r = parse_name_only(ctx, argc, argv, &name, err);

	if (r != 0)
		return r == VC_HELP_SHOWN ? 0 : r;
	return put_state(ctx, name, "start", -1, false, err);
}

/* stop and restart: NAME [--timeout S] [--force (stop only)]. */
static int stop_like(struct vc_ctx *ctx, int argc, char **argv, const char *action,
		     bool allow_force, struct vs_error *err)
{
	static const struct option opts[] = {
	    {"timeout", required_argument, NULL, 't'},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int64_t timeout = -1;
	bool reset = true, force = false;
	int c;

	while ((c = vc_getopt(argc, argv, allow_force ? "t:fh" : "t:h", opts, &reset, err)) != -1) {
		if (c == 't') {
			if (vs_parse_int(optarg, "--timeout", 0, 3600, &timeout, err) < 0)
				return VC_ERR_USAGE;
		} else if (c == 'f' && allow_force) {
			force = true;
		} else if (c == 'h') {
			vc_cmd_help(ctx);
			return 0;
		} else if (c == 'f') {
			return vc_usage(err, "unknown option '--force'");
		} else {
			return VC_ERR_USAGE;
		}
	}
	if (vc_positional(argc, optind, 1, 1, "container name", err) < 0)
		return VC_ERR_USAGE;
	return put_state(ctx, argv[optind], action, timeout, force, err);
}

int vc_cmd_stop(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	return stop_like(ctx, argc, argv, "stop", true, err);
}

int vc_cmd_restart(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	return stop_like(ctx, argc, argv, "restart", false, err);
}

int vc_cmd_destroy(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	cleanup_free char *path = NULL;
	bool reset = true, force = false;
	int c;

	while ((c = vc_getopt(argc, argv, "fh", opts, &reset, err)) != -1) {
		if (c == 'f') {
			force = true;
		} else if (c == 'h') {
			vc_cmd_help(ctx);
			return 0;
		} else {
			return VC_ERR_USAGE;
		}
	}
	if (vc_positional(argc, optind, 1, 1, "container name", err) < 0)
		return VC_ERR_USAGE;
	path = vc_api_path("containers", argv[optind], force ? "?force=1" : "");
	if (vc_api(ctx, "DELETE", path, NULL, NULL, NULL, err) < 0)
		return VC_ERR_FAIL;
	return 0;
}

static void list_row(struct vc_table *t, const struct vs_json_cell *c)
{
	const char *cells[5];
	char pid[32];
	int64_t n;

	for (size_t i = 0; i < 4; i++)
		cells[i] = c[i].type == VS_JSON_STRING ? c[i].text : NULL;
	cells[4] = NULL;
	if (vs_json_cell_int64(&c[4], &n) && n > 0) {
		snprintf(pid, sizeof(pid), "%" PRId64, n);
		cells[4] = pid;
	}
	vc_table_add(t, cells);
}

int vc_cmd_list(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const char *const headers[] = {"NAME", "STATE", "TEMPLATE", "HOSTNAME", "PID"};
	static const char *const fields[] = {"name", "state", "template", "hostname", "init_pid"};

	return vc_list_flat(ctx, argc, argv, "/v1/containers", "containers", headers, fields,
			    VS_ARRAY_SIZE(headers), list_row, err);
}

int vc_cmd_status(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	cleanup_free char *path = NULL;
	const char *name = NULL;
	int r = vc_parse_reading(ctx, argc, argv, true, "container name", &name, err);

	if (r != 0)
		return r == VC_HELP_SHOWN ? 0 : r;
	path = vc_api_path("containers", name, "");
	return vc_show(ctx, path, err);
}
