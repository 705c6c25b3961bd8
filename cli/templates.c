/* Template commands: build, import, list, remove. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/vs_util.h"

int vc_cmd_template_build(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const struct option opts[] = {
	    {"from", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_json struct vs_json *op = NULL;
	const char *from = NULL;
	bool reset = true;
	int c;

	while ((c = vc_getopt(argc, argv, "f:h", opts, &reset, err)) != -1) {
		if (c == 'f') {
			from = optarg;
		} else if (c == 'h') {
			vc_cmd_help(ctx);
			return 0;
		} else {
			return VC_ERR_USAGE;
		}
	}
	if (vc_positional(argc, optind, 1, 1, "template name", err) < 0)
		return VC_ERR_USAGE;
	if (from == NULL)
		return vc_usage(err, "--from is required");
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "name", argv[optind]);
	vs_jgen_kv_str(g, "from", from);
	vs_jgen_obj_close(g);
	if (vc_api(ctx, "POST", "/v1/templates", vs_jgen_text(g, NULL), NULL, &op, err) < 0)
		return VC_ERR_FAIL;
	return vc_follow_operation(ctx, op, NULL, err);
}

int vc_cmd_template_import(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	cleanup_json struct vs_json *op = NULL;
	cleanup_free char *path = NULL;
	bool reset = true;
	int c;

	while ((c = vc_getopt(argc, argv, "h", opts, &reset, err)) != -1) {
		if (c != 'h')
			return VC_ERR_USAGE;
		vc_cmd_help(ctx);
		return 0;
	}
	if (vc_positional(argc, optind, 2, 2, "template name and archive file", err) < 0)
		return VC_ERR_USAGE;
	path = vc_api_path("templates", argv[optind], "/archive");
	if (vc_upload(ctx, "PUT", path, argv[optind + 1], &op, err) < 0)
		return VC_ERR_FAIL;
	return vc_follow_operation(ctx, op, NULL, err);
}

static void template_row(struct vc_table *t, const struct vs_json *tp)
{
	const char *cells[5];
	char size[32] = "-", created[32];
	int64_t n;

	cells[0] = vs_json_string(vs_json_get(tp, "name"));
	cells[1] = vs_json_string(vs_json_get(tp, "source"));
	cells[2] = vs_json_string(vs_json_get(tp, "init_system"));
	if (vs_json_int64(vs_json_get(tp, "size"), &n) && n >= 0)
		vc_format_size_short(n, size, sizeof(size));
	cells[3] = size;
	vc_format_time(vs_json_get(tp, "created_at"), false, created, sizeof(created));
	cells[4] = created;
	vc_table_add(t, cells);
}

int vc_cmd_template_list(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const char *const headers[] = {"NAME", "SOURCE", "INIT", "SIZE", "CREATED"};

	return vc_list_command(ctx, argc, argv, "/v1/templates", "templates", headers,
			       VS_ARRAY_SIZE(headers), template_row, err);
}

int vc_cmd_template_remove(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	return vc_delete_command(ctx, argc, argv, "templates", "template name", err);
}
