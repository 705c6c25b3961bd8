/* Node commands: node info. */
#include "cli/cli.h"

#include "lib/vs_util.h"

int vc_cmd_node_info(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	cleanup_free char *raw = NULL;
	cleanup_json struct vs_json *root = NULL;
	bool reset = true;
	int c;

	while ((c = vc_getopt(argc, argv, "h", opts, &reset, err)) != -1) {
		if (c == 'j') {
			ctx->json = true;
		} else if (c == 'h') {
			vc_cmd_help(ctx);
			return 0;
		} else {
			return VC_ERR_USAGE;
		}
	}
	if (vc_positional(argc, optind, 0, 0, "", err) < 0)
		return VC_ERR_USAGE;
	if (vc_api(ctx, "GET", "/v1/node", NULL, &raw, &root, err) < 0)
		return VC_ERR_FAIL;
	if (ctx->json)
		vc_print_raw_json(raw);
	else
		vc_print_object(root);
	return 0;
}
