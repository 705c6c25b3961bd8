/* API token commands: create, list, revoke (docs/api.md "Credentials").
 * The secret comes back once, in the answer to create; it is printed on
 * stdout and never passed on a command line. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/vs_util.h"
#include "lib/vs_validate.h"

int vc_parse_lifetime(const char *s, int64_t *seconds, struct vs_error *err)
{
	static const struct {
		char unit;
		int64_t mul;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	cleanup_free char *num = xstrdup(s);
	size_t len = strlen(num);
	int64_t mul = 1, n;

	for (size_t i = 0; len > 1 && i < VS_ARRAY_SIZE(units); i++)
		if (num[len - 1] == units[i].unit) {
			mul = units[i].mul;
			num[len - 1] = '\0';
		}
	if (vs_parse_int(num, "--expires", 1, INT64_MAX / 86400, &n, err) < 0)
		return vs_error_kind(err, VS_EK_INVALID,
				     "--expires: expected seconds or a number with s, m, h or d "
				     "(e.g. 30d)");
	*seconds = n * mul;
	return 0;
}

static int token_body(struct vc_ctx *ctx, int argc, char **argv, struct vs_jgen *g,
		      struct vs_error *err)
{
	static const struct option opts[] = {
	    {"scope", required_argument, NULL, 's'},   {"owner", required_argument, NULL, 'o'},
	    {"expires", required_argument, NULL, 'e'}, {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},	       {0},
	};
	bool reset = true;
	int64_t secs;
	int c;

	vs_jgen_obj_open(g);
	while ((c = vc_getopt(argc, argv, "h", opts, &reset, err)) != -1) {
		switch (c) {
		case 's':
			vs_jgen_kv_str(g, "scope", optarg);
			break;
		case 'o':
			vs_jgen_kv_str(g, "owner", optarg);
			break;
		case 'e':
			if (vc_parse_lifetime(optarg, &secs, err) < 0)
				return VC_ERR_USAGE;
			vs_jgen_kv_int(g, "expires", secs);
			break;
		case 'j':
			ctx->json = true;
			break;
		case 'h':
			return VC_HELP_SHOWN;
		default:
			return VC_ERR_USAGE;
		}
	}
	if (vc_positional(argc, optind, 1, 1, "token name", err) < 0)
		return VC_ERR_USAGE;
	vs_jgen_kv_str(g, "name", argv[optind]);
	vs_jgen_obj_close(g);
	return 0;
}

int vc_cmd_token_create(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_json struct vs_json *answer = NULL;
	cleanup_free char *raw = NULL;
	const char *secret;
	int r = token_body(ctx, argc, argv, g, err);

	if (r == VC_HELP_SHOWN)
		return vc_cmd_help(ctx);
	if (r != 0)
		return r;
	if (vc_api(ctx, "POST", "/v1/tokens", vs_jgen_text(g, NULL), &raw, &answer, err) < 0)
		return VC_ERR_FAIL;
	if (ctx->json) {
		vc_print_raw_json(raw);
		return 0;
	}
	secret = vs_json_string(vs_json_get(answer, "secret"));
	if (secret == NULL)
		return vs_error_set(err, 0, "the daemon's answer holds no secret");
	/* Only the secret on stdout, so that it can be piped into a file. */
	printf("%s\n", secret);
	fprintf(stderr, "vsctl: the secret is shown only this once: keep it now\n");
	return 0;
}

static void token_row(struct vc_table *t, const struct vs_json *k)
{
	char exp[32] = "never";
	const char *cells[5];
	bool expired = false;
	int64_t n;

	if (vs_json_int64(vs_json_get(k, "expires_at"), &n)) {
		time_t when = (time_t)n;
		struct tm tm;

		gmtime_r(&when, &tm);
		strftime(exp, sizeof(exp), "%Y-%m-%d %H:%M UTC", &tm);
	}
	vs_json_bool(vs_json_get(k, "expired"), &expired);
	cells[0] = vs_json_string(vs_json_get(k, "name"));
	cells[1] = vs_json_string(vs_json_get(k, "scope"));
	cells[2] =
	    vs_json_string(vs_json_get(k, "owner")) ? vs_json_string(vs_json_get(k, "owner")) : "-";
	cells[3] = exp;
	cells[4] = expired ? "expired" : "valid";
	vc_table_add(t, cells);
}

int vc_cmd_token_list(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const char *const headers[] = {"NAME", "SCOPE", "OWNER", "EXPIRES", "STATE"};

	return vc_list_command(ctx, argc, argv, "/v1/tokens", "tokens", headers,
			       VS_ARRAY_SIZE(headers), token_row, err);
}

int vc_cmd_token_revoke(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	return vc_delete_command(ctx, argc, argv, "tokens", "token name", err);
}

static void audit_row(struct vc_table *t, const struct vs_json *r)
{
	char status[16] = "?";
	const char *cells[6];
	int64_t n;

	if (vs_json_int64(vs_json_get(r, "status"), &n))
		snprintf(status, sizeof(status), "%lld", (long long)n);
	cells[0] = vs_json_string(vs_json_get(r, "time"));
	cells[1] = vs_json_string(vs_json_get(r, "who"));
	cells[2] = vs_json_string(vs_json_get(r, "method"));
	cells[3] = vs_json_string(vs_json_get(r, "path"));
	cells[4] = status;
	cells[5] = vs_json_string(vs_json_get(r, "message"));
	vc_table_add(t, cells);
}

int vc_cmd_audit(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const char *const headers[] = {"TIME", "WHO", "METHOD", "PATH", "STATUS", "RESULT"};
	static const struct option opts[] = {
	    {"since", required_argument, NULL, 's'},
	    {"limit", required_argument, NULL, 'l'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	cleanup_free char *path = NULL;
	const char *since = "0", *limit = "100";
	bool reset = true;
	int64_t n;
	int c;

	while ((c = vc_getopt(argc, argv, "h", opts, &reset, err)) != -1) {
		if (c == 's' && vs_parse_int(optarg, "--since", 0, INT64_MAX, &n, err) == 0)
			since = optarg;
		else if (c == 'l' && vs_parse_int(optarg, "--limit", 1, 10000, &n, err) == 0)
			limit = optarg;
		else if (c == 'j')
			ctx->json = true;
		else if (c == 'h')
			return vc_cmd_help(ctx);
		else
			return VC_ERR_USAGE;
	}
	if (vc_positional(argc, optind, 0, 0, "", err) < 0)
		return VC_ERR_USAGE;
	path = xasprintf("/v1/audit?since=%s&limit=%s", since, limit);
	/* The options are read: the list command sees none. */
	return vc_list_command(ctx, 1, argv, path, "records", headers, VS_ARRAY_SIZE(headers),
			       audit_row, err);
}
