/* Node commands: node info. */
#include "cli/cli.h"

#include "lib/vs_util.h"

int vc_cmd_node_info(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	cleanup_free char *raw = NULL;
	cleanup_json struct vs_json *root = NULL;
	int r = vc_parse_reading(ctx, argc, argv, false, "", NULL, err);

	if (r != 0)
		return r == VC_HELP_SHOWN ? 0 : r;
	if (vc_api(ctx, "GET", "/v1/node", NULL, &raw, &root, err) < 0)
		return VC_ERR_FAIL;
	if (ctx->json)
		vc_print_raw_json(raw);
	else
		vc_print_object(root);
	return 0;
}
