/* vsctl snapshot create|list|restore|delete NAME [SNAP]: snapshots of a
 * container's own layer (REST /v1/containers/{name}/snapshots). create
 * and restore are operations, followed with progress on stderr. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vs_util.h"

struct snap_args {
	const char *name;
	const char *snap; /* NULL when not given */
	bool with_memory;
	bool stop;
};

/* Options common to the four commands; each accepts only its own (the
 * shortopts string). min/max: SNAP optional or required. */
static int parse(struct vc_ctx *ctx, int argc, char **argv, const char *shortopts, int min,
		 struct snap_args *a, struct vs_error *err)
{
	static const struct option opts[] = {
	    {"with-memory", no_argument, NULL, 'm'},
	    {"stop", no_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	bool reset = true;
	int c;

	memset(a, 0, sizeof(*a));
	while ((c = vc_getopt(argc, argv, shortopts, opts, &reset, err)) != -1) {
		if (c == 'h') {
			vc_cmd_help(ctx);
			return VC_HELP_SHOWN;
		}
		if (c < 0 || strchr(shortopts, c) == NULL)
			return c < 0 ? c : vc_usage(err, "option not accepted here");
		if (c == 'm')
			a->with_memory = true;
		else if (c == 's')
			a->stop = true;
		else if (c == 'j')
			ctx->json = true;
	}
	if (vc_positional(argc, optind, min, 2, "container name and snapshot name", err) < 0)
		return VC_ERR_USAGE;
	a->name = argv[optind];
	a->snap = argc - optind > 1 ? argv[optind + 1] : NULL;
	return 0;
}

static char *snap_path(const struct snap_args *a, const char *tail)
{
	cleanup_free char *esc = a->snap ? vc_http_escape_segment(a->snap) : NULL;
	cleanup_free char *suffix =
	    esc ? xasprintf("/snapshots/%s%s", esc, tail) : xasprintf("/snapshots%s", tail);

	return vc_api_path("containers", a->name, suffix);
}

/* POST, follow, print the result (JSON) or `line`. */
static int run_op(struct vc_ctx *ctx, const char *path, const char *body, const char *what,
		  struct vs_error *err)
{
	cleanup_json struct vs_json *final = NULL;
	const struct vs_json *result;
	int64_t ms = -1;
	int r = vc_run_operation(ctx, path, body, &final, &result, err);

	if (r != 0)
		return r < 0 ? VC_ERR_FAIL : 0;
	vs_json_int64(vs_json_get(result, "total_ms"), &ms);
	printf("%s in %lld ms\n", what, (long long)ms);
	return 0;
}

int vc_cmd_snapshot_create(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	struct snap_args a;
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_free char *path = NULL, *what = NULL;
	int r = parse(ctx, argc, argv, "mjh", 1, &a, err);

	if (r != 0)
		return r == VC_HELP_SHOWN ? 0 : r;
	vs_jgen_obj_open(g);
	if (a.snap != NULL)
		vs_jgen_kv_str(g, "name", a.snap);
	if (a.with_memory)
		vs_jgen_kv_bool(g, "with_memory", true);
	vs_jgen_obj_close(g);
	path = vc_api_path("containers", a.name, "/snapshots");
	what = xasprintf("snapshot of %s made%s (snapshots are not counted against the disk "
			 "quota)",
			 a.name, a.with_memory ? " with memory" : "");
	return run_op(ctx, path, vs_jgen_text(g, NULL), what, err);
}

int vc_cmd_snapshot_restore(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	struct snap_args a;
	cleanup_free char *path = NULL, *what = NULL;
	int r = parse(ctx, argc, argv, "sjh", 2, &a, err);

	if (r != 0)
		return r == VC_HELP_SHOWN ? 0 : r;
	path = snap_path(&a, "/restore");
	what = xasprintf("%s restored from snapshot %s", a.name, a.snap);
	return run_op(ctx, path, a.stop ? "{\"stop\":true}" : "{}", what, err);
}

int vc_cmd_snapshot_delete(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	struct snap_args a;
	cleanup_free char *path = NULL;
	int r = parse(ctx, argc, argv, "h", 2, &a, err);

	if (r != 0)
		return r == VC_HELP_SHOWN ? 0 : r;
	path = snap_path(&a, "");
	return vc_api(ctx, "DELETE", path, NULL, NULL, NULL, err) < 0 ? VC_ERR_FAIL : 0;
}

static void list_row(struct vc_table *t, const struct vs_json *s)
{
	char size[32] = "-", mem[8];
	int64_t n;
	bool b = false;
	const char *cells[5];

	if (vs_json_int64(vs_json_get(s, "size_bytes"), &n))
		vc_format_size_short(n, size, sizeof(size));
	vs_json_bool(vs_json_get(s, "with_memory"), &b);
	snprintf(mem, sizeof(mem), "%s", b ? "yes" : "no");
	cells[0] = vs_json_string(vs_json_get(s, "name"));
	cells[1] = vs_json_string(vs_json_get(s, "created_at"));
	cells[2] = size;
	cells[3] = mem;
	cells[4] = vs_json_string(vs_json_get(s, "state"));
	vc_table_add(t, cells);
}

int vc_cmd_snapshot_list(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const char *const headers[] = {"NAME", "CREATED", "SIZE", "MEMORY", "STATE"};
	struct snap_args a;
	cleanup_free char *raw = NULL, *path = NULL;
	cleanup_json struct vs_json *root = NULL;
	const struct vs_json *list;
	struct vc_table *t;
	int r = parse(ctx, argc, argv, "jh", 1, &a, err);

	if (r != 0)
		return r == VC_HELP_SHOWN ? 0 : r;
	if (a.snap != NULL)
		return vc_usage(err, "snapshot list takes only the container name");
	path = vc_api_path("containers", a.name, "/snapshots");
	if (vc_api(ctx, "GET", path, NULL, &raw, &root, err) < 0)
		return VC_ERR_FAIL;
	if (ctx->json) {
		vc_print_raw_json(raw);
		return 0;
	}
	list = vs_json_get(root, "snapshots");
	t = vc_table_new(5, headers);
	for (size_t i = 0; i < vs_json_array_len(list); i++)
		list_row(t, vs_json_array_at(list, i));
	vc_table_print(t);
	printf("(%s)\n", vs_json_string(vs_json_get(root, "note"))
			     ? vs_json_string(vs_json_get(root, "note"))
			     : "snapshots are not counted against the disk quota");
	return 0;
}
