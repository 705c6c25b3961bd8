/* The hosting panel's commands: lock and unlock (a panel's suspension for
 * non-payment; `vsctl suspend` is the CRIU suspend, something else). */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/vs_util.h"
#include "lib/vs_validate.h"

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

/* --since: unix seconds, or a UTC date "YYYY-MM-DD" with an optional
 * time "THH:MM[:SS]" (or a space instead of the T). */
int vc_parse_since(const char *s, int64_t *out, struct vs_error *err)
{
	static const char *const formats[] = {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
					      "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"};
	struct tm tm;

	if (vs_parse_int(s, "--since", 0, INT64_MAX, out, err) == 0)
		return 0;
	for (size_t i = 0; i < VS_ARRAY_SIZE(formats); i++) {
		const char *end;
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, formats[i], &tm);
		if (end != NULL && *end == '\0') {
			*out = (int64_t)timegm(&tm);
			if (*out >= 0)
				return 0;
		}
	}
	return vs_error_kind(err, VS_EK_INVALID,
			     "--since: expected unix seconds or a UTC date like 2026-12-01 or "
			     "2026-12-01T13:00");
}

/* vsctl usage NAME [--since DATE|SECONDS] [--json] */
int vc_cmd_usage(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const struct option opts[] = {
	    {"since", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	cleanup_free char *path = NULL, *query = NULL;
	bool reset = true;
	int64_t since = -1;
	int c;

	while ((c = vc_getopt(argc, argv, "s:jh", opts, &reset, err)) != -1) {
		if (c == 's') {
			if (vc_parse_since(optarg, &since, err) < 0)
				return VC_ERR_USAGE;
		} else if (c == 'j') {
			ctx->json = true;
		} else if (c == 'h') {
			vc_cmd_help(ctx);
			return 0;
		} else {
			return VC_ERR_USAGE;
		}
	}
	if (vc_positional(argc, optind, 1, 1, "container name", err) < 0)
		return VC_ERR_USAGE;
	query = since >= 0 ? xasprintf("/usage?since=%" PRId64, since) : xstrdup("/usage");
	path = vc_api_path("containers", argv[optind], query);
	return vc_show(ctx, path, err);
}
