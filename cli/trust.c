/* Trust commands: list, add, remove, token. Client certificates trusted by
 * their SHA-256, and one-time join tokens that let a remote machine trust
 * itself once (vsctl remote add --join-token-file). */
#include "cli/cli.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

#define PEM_MAX (256 * 1024)

static void cert_row(struct vc_table *t, const struct vs_json *c)
{
	char at[32];
	const char *cells[3];

	vc_format_time(vs_json_get(c, "added_at"), false, at, sizeof(at));
	cells[0] = vs_json_string(vs_json_get(c, "name"));
	cells[1] = vs_json_string(vs_json_get(c, "fingerprint"));
	cells[2] = at;
	vc_table_add(t, cells);
}

int vc_cmd_trust_list(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const char *const headers[] = {"NAME", "FINGERPRINT", "ADDED"};

	return vc_list_command(ctx, argc, argv, "/v1/trust", "certificates", headers,
			       VS_ARRAY_SIZE(headers), cert_row, err);
}

/* trust add: --json, --help, NAME CERTFILE. 0, VC_HELP_SHOWN or
 * VC_ERR_USAGE. */
static int add_args(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'}, {"json", no_argument, NULL, 'j'}, {0}};
	bool reset = true;
	int c;

	while ((c = vc_getopt(argc, argv, "h", opts, &reset, err)) != -1) {
		if (c != 'j')
			return c == 'h' ? vc_cmd_help(ctx) : VC_ERR_USAGE;
		ctx->json = true;
	}
	return vc_positional(argc, optind, 2, 2, "NAME and CERTFILE", err) < 0 ? VC_ERR_USAGE : 0;
}

int vc_cmd_trust_add(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_json struct vs_json *ans = NULL;
	cleanup_free char *pem = NULL, *raw = NULL;
	size_t len;
	int r = add_args(ctx, argc, argv, err);

	if (r != 0)
		return r == VC_HELP_SHOWN ? 0 : r;
	if (vs_validate_name(argv[optind], "name", err) < 0)
		return VC_ERR_USAGE;
	if (vs_read_file_at(AT_FDCWD, argv[optind + 1], PEM_MAX, &pem, &len, err) < 0)
		return VC_ERR_FAIL;
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "name", argv[optind]);
	vs_jgen_kv_str(g, "certificate", pem);
	vs_jgen_obj_close(g);
	if (vc_api(ctx, "POST", "/v1/trust", vs_jgen_text(g, NULL), &raw, &ans, err) < 0)
		return VC_ERR_FAIL;
	if (ctx->json)
		vc_print_raw_json(raw);
	else
		printf("trusted %s: %s\n", argv[optind],
		       vs_json_string(vs_json_get(ans, "fingerprint")));
	return 0;
}

int vc_cmd_trust_remove(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	cleanup_free char *esc = NULL, *path = NULL;
	const char *fp = NULL;
	int r = vc_parse_reading(ctx, argc, argv, true, "FINGERPRINT", &fp, err);

	if (r != 0)
		return r == VC_HELP_SHOWN ? 0 : r;
	esc = vc_http_escape_segment(fp);
	path = xasprintf("/v1/trust/%s", esc);
	return vc_api(ctx, "DELETE", path, NULL, NULL, NULL, err) < 0 ? VC_ERR_FAIL : 0;
}

int vc_parse_duration(const char *s, const char *what, int64_t *out, struct vs_error *err)
{
	static const struct {
		char unit;
		int64_t mult;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	size_t n = strlen(s);
	int64_t mult = 1;
	cleanup_free char *num = xstrdup(s);

	for (size_t i = 0; n > 1 && i < VS_ARRAY_SIZE(units); i++)
		if (s[n - 1] == units[i].unit) {
			mult = units[i].mult;
			num[n - 1] = '\0';
		}
	if (vs_parse_int(num, what, 1, INT64_MAX / 86400, out, NULL) < 0)
		return vs_error_kind(
		    err, VS_EK_INVALID,
		    "%s: expected a duration such as 3600, 30m, 12h or 7d, got '%s'", what, s);
	*out *= mult;
	return 0;
}

int vc_cmd_trust_token(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const struct option opts[] = {{"expires", required_argument, NULL, 'e'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_json struct vs_json *ans = NULL;
	cleanup_free char *raw = NULL;
	int64_t expires = 86400;
	bool reset = true;
	int c;

	while ((c = vc_getopt(argc, argv, "h", opts, &reset, err)) != -1) {
		if (c == 'e' && vc_parse_duration(optarg, "--expires", &expires, err) < 0)
			return VC_ERR_USAGE;
		if (c == 'j')
			ctx->json = true;
		else if (c == 'h')
			return vc_cmd_help(ctx) == VC_HELP_SHOWN ? 0 : VC_ERR_USAGE;
		else if (c != 'e')
			return VC_ERR_USAGE;
	}
	if (vc_positional(argc, optind, 1, 1, "NAME", err) < 0 ||
	    vs_validate_name(argv[optind], "name", err) < 0)
		return VC_ERR_USAGE;
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "name", argv[optind]);
	vs_jgen_kv_int(g, "expires", expires);
	vs_jgen_obj_close(g);
	if (vc_api(ctx, "POST", "/v1/trust/tokens", vs_jgen_text(g, NULL), &raw, &ans, err) < 0)
		return VC_ERR_FAIL;
	if (ctx->json) {
		vc_print_raw_json(raw);
		return 0;
	}
	/* The secret goes to stdout alone (for a file), the rest to stderr. */
	printf("%s\n", vs_json_string(vs_json_get(ans, "token")));
	fprintf(stderr,
		"join token '%s', valid %lld s, shown only now; on the remote machine:\n"
		"  vsctl remote add NAME https://THIS-NODE:PORT --join-token-file FILE\n",
		argv[optind], (long long)expires);
	return 0;
}

static void token_row(struct vc_table *t, const struct vs_json *k)
{
	char at[32], exp[32];
	const char *cells[3];

	vc_format_time(vs_json_get(k, "created_at"), false, at, sizeof(at));
	vc_format_time(vs_json_get(k, "expires_at"), false, exp, sizeof(exp));
	cells[0] = vs_json_string(vs_json_get(k, "name"));
	cells[1] = at;
	cells[2] = exp;
	vc_table_add(t, cells);
}

int vc_cmd_trust_tokens(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const char *const headers[] = {"NAME", "CREATED", "EXPIRES"};

	return vc_list_command(ctx, argc, argv, "/v1/trust/tokens", "tokens", headers,
			       VS_ARRAY_SIZE(headers), token_row, err);
}
