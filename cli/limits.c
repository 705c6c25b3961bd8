/* The resource flags shared by `create` and `set`, and the `set` command.
 * Values go to the daemon as given (sizes and CPU amounts as strings, so
 * its error names the field); only integers are parsed here, for their
 * JSON type. In `set`, "none" removes a limit. */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lib/vs_config.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

#define OPT_BASE    1000
#define OPT_POOL    (OPT_BASE + VS_LIM_COUNT)
#define OPT_RECLAIM (OPT_POOL + 1)

/* One flag per limit, in enum vs_limit_field order; integer fields are
 * sent as JSON numbers, the rest as strings. */
static const struct {
	const char *flag;
	bool integer;
} flags[VS_LIM_COUNT] = {
    {"memory", false},	     {"memory-high", false},  {"memory-min", false},
    {"swap", false},	     {"cpus", false},	      {"cpu-weight", true},
    {"cpuset", false},	     {"pids", true},	      {"io-weight", true},
    {"io-read-bps", false},  {"io-write-bps", false}, {"io-read-iops", true},
    {"io-write-iops", true}, {"disk", false},	      {"inodes", true},
};

size_t vc_limit_options(struct option *out, size_t max)
{
	size_t n = 0;

	for (int i = 0; i < VS_LIM_COUNT && n < max; i++)
		out[n++] = (struct option){flags[i].flag, required_argument, NULL, OPT_BASE + i};
	if (n + 2 <= max) {
		out[n++] = (struct option){"pool", required_argument, NULL, OPT_POOL};
		out[n++] = (struct option){"idle-reclaim", required_argument, NULL, OPT_RECLAIM};
	}
	return n;
}

int vc_limit_opt(int c, const char *arg, bool allow_none, struct vc_limit_args *a,
		 struct vs_error *err)
{
	int64_t v;

	if (c == OPT_POOL) {
		a->pool = arg;
		return 1;
	}
	if (c == OPT_RECLAIM) {
		if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0)
			return vc_usage(err, "--idle-reclaim: expected on or off, got '%s'", arg);
		a->reclaim = arg;
		return 1;
	}
	if (c < OPT_BASE || c >= OPT_BASE + VS_LIM_COUNT)
		return 0;
	int i = c - OPT_BASE;
	if (flags[i].integer && !(allow_none && strcmp(arg, "none") == 0)) {
		cleanup_free char *what = xasprintf("--%s", flags[i].flag);
		if (vs_parse_int(arg, what, INT64_MIN, INT64_MAX, &v, err) < 0)
			return VC_ERR_USAGE;
	}
	a->val[i] = arg;
	a->any = true;
	return 1;
}

bool vc_limit_args_empty(const struct vc_limit_args *a)
{
	return !a->any && a->pool == NULL && a->reclaim == NULL;
}

void vc_limit_gen(struct vs_jgen *g, const struct vc_limit_args *a)
{
	if (a->any) {
		vs_jgen_key(g, "limits");
		vs_jgen_obj_open(g);
		for (int i = 0; i < VS_LIM_COUNT; i++) {
			const char *v = a->val[i];
			int64_t n;
			if (v == NULL)
				continue;
			if (strcmp(v, "none") == 0) {
				vs_jgen_key(g, vs_limit_name(i));
				vs_jgen_null(g);
			} else if (flags[i].integer &&
				   vs_parse_int(v, "", INT64_MIN, INT64_MAX, &n, NULL) == 0) {
				vs_jgen_kv_int(g, vs_limit_name(i), n);
			} else {
				vs_jgen_kv_str(g, vs_limit_name(i), v);
			}
		}
		vs_jgen_obj_close(g);
	}
	if (a->pool != NULL) {
		vs_jgen_key(g, "pool");
		if (strcmp(a->pool, "none") == 0)
			vs_jgen_null(g);
		else
			vs_jgen_str(g, a->pool);
	}
	if (a->reclaim != NULL)
		vs_jgen_kv_bool(g, "idle_reclaim", strcmp(a->reclaim, "on") == 0);
}

void vc_limit_warnings(const struct vs_json *status)
{
	const struct vs_json *un = vs_json_get(status, "limits_unenforced");

	for (size_t i = 0; i < vs_json_array_len(un); i++)
		fprintf(stderr, "vsctl: warning: not enforced on this node: %s\n",
			vs_json_string(vs_json_array_at(un, i)));
}

/* set NAME FLAGS...: one PATCH with every flag (limits and network),
 * applied all at once. */
int vc_cmd_set(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	struct option opts[VS_LIM_COUNT + 24];
	size_t n = vc_limit_options(opts, VS_ARRAY_SIZE(opts) - 3);
	struct vc_limit_args a = {0};
	struct vc_net_args net = {0};
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_json struct vs_json *status = NULL;
	cleanup_free char *path = NULL, *raw = NULL;
	bool reset = true;
	int c, r;

	n += vc_net_options(opts + n, VS_ARRAY_SIZE(opts) - n - 3, true);
	opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
	opts[n++] = (struct option){"if-match", required_argument, NULL, 'I'};
	opts[n] = (struct option){0};
	while ((c = vc_getopt(argc, argv, "h", opts, &reset, err)) != -1) {
		if (c == 'h') {
			vc_cmd_help(ctx);
			return 0;
		}
		if (c == 'I') {
			/* GET's ETag header is quoted: take it with or without. */
			size_t l = strlen(optarg);
			if (l >= 2 && optarg[0] == '"' && optarg[l - 1] == '"') {
				optarg[l - 1] = '\0';
				optarg++;
			}
			if (optarg[0] == '\0' || strpbrk(optarg, "\"\r\n") != NULL)
				return vc_usage(err, "--if-match: expected an ETag");
			ctx->if_match = optarg;
			continue;
		}
		r = vc_limit_opt(c, optarg, true, &a, err);
		if (r == 0)
			r = vc_net_opt(c, optarg, true, &net, err);
		if (r <= 0)
			return VC_ERR_USAGE;
	}
	if (vc_positional(argc, optind, 1, 1, "container name", err) < 0)
		return VC_ERR_USAGE;
	if (vc_limit_args_empty(&a) && !net.any)
		return vc_usage(err, "nothing to set (see vsctl set --help)");
	if (vc_net_check(&net, err) < 0)
		return VC_ERR_USAGE;
	vs_jgen_obj_open(g);
	vc_limit_gen(g, &a);
	vc_net_gen_update(g, &net);
	vs_jgen_obj_close(g);
	path = vc_api_path("containers", argv[optind], "");
	if (vc_api(ctx, "PATCH", path, vs_jgen_text(g, NULL), &raw, &status, err) < 0)
		return VC_ERR_FAIL;
	if (ctx->json) {
		vc_print_raw_json(raw);
		return 0;
	}
	vc_limit_warnings(status);
	return 0;
}
