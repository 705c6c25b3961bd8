/* Following an operation (template build and import, suspend, resume,
 * checkpoint, restore): poll it and print its progress as it comes. */
#include "cli/cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/vs_util.h"
#include "lib/vs_validate.h"

#define POLL_INTERVAL_NS (200 * 1000 * 1000)

/* Print progress lines from index *since on; returns the operation's status. */
static const char *print_progress(const struct vs_json *op, int64_t *since)
{
	const struct vs_json *lines = vs_json_get(op, "progress");
	int64_t offset;

	if (!vs_json_int64(vs_json_get(op, "progress_offset"), &offset))
		offset = 0; /* a daemon that ignores ?since sends everything */
	for (size_t i = 0; i < vs_json_array_len(lines); i++) {
		const char *s = vs_json_string(vs_json_array_at(lines, i));
		if (offset + (int64_t)i < *since || s == NULL)
			continue;
		fprintf(stderr, "%s\n", s);
		*since = offset + (int64_t)i + 1;
	}
	fflush(stderr);
	return vs_json_string(vs_json_get(op, "status"));
}

static int operation_failed(const struct vs_json *op, struct vs_error *err)
{
	const struct vs_json *e = vs_json_get(op, "error");
	const char *msg = vs_json_string(vs_json_get(e, "message"));

	if (msg == NULL || msg[0] == '\0')
		msg = "the operation failed (no message)";
	return vs_error_kind(err, vc_api_error_kind(vs_json_string(vs_json_get(e, "code"))), "%s",
			     msg);
}

int vc_follow_operation(const struct vc_ctx *ctx, const struct vs_json *first,
			struct vs_json **final, struct vs_error *err)
{
	const struct vs_json *idv = vs_json_get(first, "id");
	const char *id =
	    vs_json_type(idv) == VS_JSON_NUMBER ? vs_json_number_text(idv) : vs_json_string(idv);
	cleanup_free char *base = NULL;
	int64_t since = 0;

	if (final != NULL)
		*final = NULL;
	if (id == NULL)
		return vs_error_kind(err, VS_EK_INTERNAL,
				     "the daemon's answer has no operation id");
	base = vc_api_path("operations", id, "?since=");
	for (;;) {
		cleanup_free char *path = xasprintf("%s%" PRId64, base, since);
		cleanup_json struct vs_json *op = NULL;
		const char *status;

		if (vc_api(ctx, "GET", path, NULL, NULL, &op, err) < 0)
			return vs_error_prefix(err, "following operation %s", id);
		status = print_progress(op, &since);
		if (status != NULL && strcmp(status, "success") == 0) {
			if (final != NULL)
				*final = steal_ptr(&op);
			return 0;
		}
		if (status != NULL && strcmp(status, "failure") == 0)
			return operation_failed(op, err);
		if (status == NULL || strcmp(status, "running") != 0)
			return vs_error_kind(err, VS_EK_INTERNAL,
					     "operation %s has an unknown status", id);
		nanosleep(&(struct timespec){.tv_nsec = POLL_INTERVAL_NS}, NULL);
	}
}

/* operation list [--json]: every operation the daemon remembers. */
static void operation_row(struct vc_table *t, const struct vs_json *op)
{
	char created[64], finished[64];
	const char *cells[6];

	vc_format_time(vs_json_get(op, "created_at"), true, created, sizeof(created));
	vc_format_time(vs_json_get(op, "finished_at"), true, finished, sizeof(finished));
	cells[0] = vs_json_string(vs_json_get(op, "id"));
	cells[1] = vs_json_string(vs_json_get(op, "kind"));
	cells[2] = vs_json_string(vs_json_get(op, "target"));
	cells[3] = vs_json_string(vs_json_get(op, "status"));
	cells[4] = created;
	cells[5] = finished;
	vc_table_add(t, cells);
}

int vc_cmd_operation_list(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const char *const headers[] = {"ID",	"KIND",	   "TARGET",
					      "STATUS", "CREATED", "FINISHED"};

	return vc_list_command(ctx, argc, argv, "/v1/operations", "operations", headers,
			       VS_ARRAY_SIZE(headers), operation_row, err);
}

/* operation show ID [--wait S] [--json]: one operation, after waiting up
 * to S seconds (at most 60) for it to end. */
int vc_cmd_operation_show(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"wait", required_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	cleanup_free char *path = NULL, *q = NULL;
	int64_t wait = 0;
	bool reset = true;
	int c;

	while ((c = vc_getopt(argc, argv, "h", opts, &reset, err)) != -1) {
		if (c == 'j')
			ctx->json = true;
		else if (c == 'h')
			return vc_cmd_help(ctx) == VC_HELP_SHOWN ? 0 : VC_ERR_USAGE;
		else if (c == 'w' && vs_parse_int(optarg, "--wait", 0, 60, &wait, err) < 0)
			return VC_ERR_USAGE;
		else if (c != 'w')
			return VC_ERR_USAGE;
	}
	if (vc_positional(argc, optind, 1, 1, "operation id", err) < 0)
		return VC_ERR_USAGE;
	q = xasprintf("?wait=%" PRId64, wait);
	path = vc_api_path("operations", argv[optind], q);
	return vc_show(ctx, path, err);
}

/* operation cancel ID: where the work allows it (a template build). */
int vc_cmd_operation_cancel(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	cleanup_free char *path = NULL;
	const char *id;
	int r = vc_parse_reading(ctx, argc, argv, true, "operation id", &id, err);

	if (r != 0)
		return r == VC_HELP_SHOWN ? 0 : r;
	path = vc_api_path("operations", id, "");
	if (vc_api(ctx, "DELETE", path, NULL, NULL, NULL, err) < 0)
		return VC_ERR_FAIL;
	return 0;
}

int vc_run_operation(const struct vc_ctx *ctx, const char *path, const char *body,
		     struct vs_json **final, const struct vs_json **result, struct vs_error *err)
{
	cleanup_json struct vs_json *op = NULL;

	*final = NULL;
	*result = NULL;
	if (vc_api(ctx, "POST", path, body, NULL, &op, err) < 0 ||
	    vc_follow_operation(ctx, op, final, err) < 0)
		return VC_ERR_FAIL;
	*result = vs_json_get(*final, "result");
	if (!ctx->json)
		return 0;
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	if (*result != NULL)
		vs_jgen_value(g, *result);
	else
		vs_jgen_null(g);
	vc_print_raw_json(vs_jgen_text(g, NULL));
	return 1;
}
