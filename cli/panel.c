/* The hosting panel's commands: lock and unlock (a panel's suspension for
 * non-payment; `vsctl suspend` is the CRIU suspend, something else). */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "lib/vs_util.h"

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
