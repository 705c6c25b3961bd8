/* Node commands: node info. */
#include "cli/cli.h"

#include "lib/vs_util.h"

int vc_cmd_node_info(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	int r = vc_parse_reading(ctx, argc, argv, false, "", NULL, err);

	if (r != 0)
		return r == VC_HELP_SHOWN ? 0 : r;
	return vc_show(ctx, "/v1/node", err);
}
