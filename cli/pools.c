/* Pool commands: create, set, list, remove. A pool is a cgroup level above
 * its members carrying limits they share (see daemon/pools.c). */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vs_util.h"
#include "lib/vs_validate.h"

static const struct option pool_opts[] = {
    {"memory", required_argument, NULL, 'm'},
    {"cpus", required_argument, NULL, 'c'},
    {"cpu-weight", required_argument, NULL, 'w'},
    {"pids", required_argument, NULL, 'p'},
    {"io-weight", required_argument, NULL, 'i'},
    {"weight", required_argument, NULL, 'W'},
    {"help", no_argument, NULL, 'h'},
    {0},
};

/* An integer flag into the body. 0 or -1 (usage). */
static int int_flag(struct vs_jgen *g, const char *key, const char *flag, const char *val,
		    int64_t max, struct vs_error *err)
{
	int64_t n;

	if (vs_parse_int(val, flag, 1, max, &n, err) < 0)
		return -1;
	vs_jgen_kv_int(g, key, n);
	return 0;
}

/* The flags of create and set as a request body (name only for create).
 * 0, 1 after --help, or VC_ERR_USAGE. */
static int pool_body(struct vc_ctx *ctx, int argc, char **argv, bool with_name, struct vs_jgen *g,
		     struct vs_error *err)
{
	bool reset = true;
	int c;

	vs_jgen_obj_open(g);
	while ((c = vc_getopt(argc, argv, "h", pool_opts, &reset, err)) != -1) {
		int r = 0;

		switch (c) {
		case 'm':
			vs_jgen_kv_str(g, "memory", optarg);
			break;
		case 'c':
			vs_jgen_kv_str(g, "cpus", optarg);
			break;
		case 'W': {
			cleanup_free char *w =
			    xasprintf("%s%s", optarg, strchr(optarg, '%') ? "" : "%");
			vs_jgen_kv_str(g, "weight", w);
			break;
		}
		case 'w':
			r = int_flag(g, "cpu_weight", "--cpu-weight", optarg, 10000, err);
			break;
		case 'i':
			r = int_flag(g, "io_weight", "--io-weight", optarg, 10000, err);
			break;
		case 'p':
			r = int_flag(g, "pids", "--pids", optarg, INT32_MAX, err);
			break;
		case 'h':
			vc_cmd_help(ctx);
			return 1;
		default:
			return VC_ERR_USAGE;
		}
		if (r < 0)
			return VC_ERR_USAGE;
	}
	if (vc_positional(argc, optind, 1, 1, "pool name", err) < 0)
		return VC_ERR_USAGE;
	if (with_name)
		vs_jgen_kv_str(g, "name", argv[optind]);
	vs_jgen_obj_close(g);
	return 0;
}

static int pool_write(struct vc_ctx *ctx, int argc, char **argv, bool create, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_free char *path = NULL;
	cleanup_free char *raw = NULL;
	int r = pool_body(ctx, argc, argv, create, g, err);

	if (r != 0)
		return r == 1 ? 0 : r;
	path = create ? xstrdup("/v1/pools") : vc_api_path("pools", argv[optind], "");
	if (vc_api(ctx, create ? "POST" : "PATCH", path, vs_jgen_text(g, NULL), &raw, NULL, err) <
	    0)
		return VC_ERR_FAIL;
	if (ctx->json)
		vc_print_raw_json(raw);
	return 0;
}

int vc_cmd_pool_create(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	return pool_write(ctx, argc, argv, true, err);
}

int vc_cmd_pool_set(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	return pool_write(ctx, argc, argv, false, err);
}

static void pool_row(struct vc_table *t, const struct vs_json *p)
{
	const struct vs_json *eff = vs_json_get(p, "effective");
	const struct vs_json *members = vs_json_get(p, "members");
	char mem[32] = "-", cpus[32] = "-", cw[32] = "-", pids[32] = "-", mlist[256] = "";
	const char *cells[6];
	int64_t n;

	if (vs_json_int64(vs_json_get(eff, "memory"), &n) && n > 0)
		vc_format_size_short(n, mem, sizeof(mem));
	if (vs_json_string(vs_json_get(eff, "cpus")) != NULL)
		snprintf(cpus, sizeof(cpus), "%s", vs_json_string(vs_json_get(eff, "cpus")));
	if (vs_json_int64(vs_json_get(eff, "cpu_weight"), &n))
		snprintf(cw, sizeof(cw), "%lld", (long long)n);
	if (vs_json_int64(vs_json_get(eff, "pids"), &n) && n > 0)
		snprintf(pids, sizeof(pids), "%lld", (long long)n);
	for (size_t i = 0; i < vs_json_array_len(members); i++) {
		const char *m = vs_json_string(vs_json_array_at(members, i));
		snprintf(mlist + strlen(mlist), sizeof(mlist) - strlen(mlist), "%s%s", i ? "," : "",
			 m ? m : "?");
	}
	cells[0] = vs_json_string(vs_json_get(p, "name"));
	cells[1] = mem;
	cells[2] = cpus;
	cells[3] = cw;
	cells[4] = pids;
	cells[5] = mlist[0] ? mlist : "-";
	vc_table_add(t, cells);
}

int vc_cmd_pool_list(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const char *const headers[] = {"NAME",	"MEMORY", "CPUS",
					      "WEIGHT", "PIDS",	  "MEMBERS"};

	return vc_list_command(ctx, argc, argv, "/v1/pools", "pools", headers,
			       VS_ARRAY_SIZE(headers), pool_row, err);
}

int vc_cmd_pool_remove(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	return vc_delete_command(ctx, argc, argv, "pools", "pool name", err);
}
