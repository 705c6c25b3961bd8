/* vsctl stats and vsctl top: one container's usage, and a refreshing table
 * of all containers (like lxc-top and vztop). */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/vs_util.h"

int vc_cmd_stats(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	cleanup_free char *path = NULL;
	const char *name = NULL;
	int r = vc_parse_reading(ctx, argc, argv, true, "container name", &name, err);

	if (r != 0)
		return r == VC_HELP_SHOWN ? 0 : r;
	path = vc_api_path("containers", name, "/stats");
	return vc_show(ctx, path, err);
}

/* ---- top ---------------------------------------------------------------- */

/* One row of the table, and what the next refresh needs for rates. */
struct top_row {
	char *name;
	char *state;
	double cpu;	/* percent of one CPU, -1 unknown */
	int64_t memory; /* -1 unknown */
	int64_t limit;
	int64_t pids;
	int64_t cpu_usec, rbytes, wbytes; /* cumulative, -1 unknown */
	double rrate, wrate;		  /* bytes per second, -1 unknown */
};

static int64_t get_int(const struct vs_json *o, const char *a, const char *b)
{
	int64_t v;

	return vs_json_int64(vs_json_get(vs_json_get(o, a), b), &v) ? v : -1;
}

static void row_from(struct top_row *r, const struct vs_json *st)
{
	double d;

	r->name = xstrdup(vs_json_string(vs_json_get(st, "name")) ?: "?");
	r->state = xstrdup(vs_json_string(vs_json_get(st, "state")) ?: "?");
	r->cpu = vs_json_double(vs_json_get(vs_json_get(st, "cpu"), "usage_percent"), &d) ? d : -1;
	r->memory = get_int(st, "memory", "current");
	r->limit = get_int(st, "memory", "limit");
	r->pids = get_int(st, "pids", "current");
	r->cpu_usec = get_int(st, "cpu", "usage_usec");
	r->rbytes = get_int(st, "io", "read_bytes");
	r->wbytes = get_int(st, "io", "write_bytes");
	r->rrate = r->wrate = -1;
}

static void rows_free(struct top_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rows[i].name);
		free(rows[i].state);
	}
	free(rows);
}

/* Every container's stats (one GET for the list, one per container; a
 * container destroyed meanwhile is left out). */
static int fetch_rows(const struct vc_ctx *ctx, struct top_row **out, size_t *n,
		      struct vs_error *err)
{
	cleanup_json struct vs_json *list = NULL;
	const struct vs_json *arr;
	struct top_row *rows;

	if (vc_api(ctx, "GET", "/v1/containers", NULL, NULL, &list, err) < 0)
		return VC_ERR_FAIL;
	arr = vs_json_get(list, "containers");
	rows = xcalloc(vs_json_array_len(arr) + 1, sizeof(*rows));
	*n = 0;
	for (size_t i = 0; i < vs_json_array_len(arr); i++) {
		const char *name = vs_json_string(vs_json_get(vs_json_array_at(arr, i), "name"));
		cleanup_free char *path = NULL;
		cleanup_json struct vs_json *st = NULL;
		struct vs_error e = {0};
		if (name == NULL)
			continue;
		path = vc_api_path("containers", name, "/stats");
		if (vc_api(ctx, "GET", path, NULL, NULL, &st, &e) < 0)
			continue;
		row_from(&rows[(*n)++], st);
	}
	*out = rows;
	return 0;
}

/* Rates against the previous refresh, dt seconds ago. */
static void rates(struct top_row *rows, size_t n, const struct top_row *prev, size_t np, double dt)
{
	for (size_t i = 0; i < n && dt > 0; i++) {
		for (size_t j = 0; j < np; j++) {
			struct top_row *r = &rows[i];
			const struct top_row *p = &prev[j];
			if (strcmp(r->name, p->name) != 0)
				continue;
			if (r->cpu_usec >= p->cpu_usec && p->cpu_usec >= 0)
				r->cpu = (double)(r->cpu_usec - p->cpu_usec) / 1e4 / dt;
			if (r->rbytes >= p->rbytes && p->rbytes >= 0)
				r->rrate = (double)(r->rbytes - p->rbytes) / dt;
			if (r->wbytes >= p->wbytes && p->wbytes >= 0)
				r->wrate = (double)(r->wbytes - p->wbytes) / dt;
		}
	}
}

static int by_cpu(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;

	if (x->cpu != y->cpu)
		return x->cpu < y->cpu ? 1 : -1;
	return strcmp(x->name, y->name);
}

static void size_cell(int64_t v, char *buf, size_t len)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else
		vc_format_size_short(v, buf, len);
}

static void rate_cell(double v, char *buf, size_t len)
{
	char s[24];

	if (v < 0) {
		snprintf(buf, len, "-");
		return;
	}
	vc_format_size_short((int64_t)v, s, sizeof(s));
	snprintf(buf, len, "%s/s", s);
}

static void print_top(struct top_row *rows, size_t n)
{
	static const char *const headers[] = {"NAME",  "STATE", "CPU%", "MEMORY",
					      "LIMIT", "PIDS",	"READ", "WRITE"};
	struct vc_table *t = vc_table_new(VS_ARRAY_SIZE(headers), headers);

	qsort(rows, n, sizeof(*rows), by_cpu);
	for (size_t i = 0; i < n; i++) {
		char cpu[32], mem[32], lim[32], pids[32], rd[40], wr[40];
		const char *cells[8] = {rows[i].name, rows[i].state, cpu, mem, lim, pids, rd, wr};
		if (rows[i].cpu >= 0)
			snprintf(cpu, sizeof(cpu), "%.1f", rows[i].cpu);
		else
			snprintf(cpu, sizeof(cpu), "-");
		size_cell(rows[i].memory, mem, sizeof(mem));
		size_cell(rows[i].limit, lim, sizeof(lim));
		if (rows[i].pids >= 0)
			snprintf(pids, sizeof(pids), "%" PRId64, rows[i].pids);
		else
			snprintf(pids, sizeof(pids), "-");
		rate_cell(rows[i].rrate, rd, sizeof(rd));
		rate_cell(rows[i].wrate, wr, sizeof(wr));
		vc_table_add(t, cells);
	}
	vc_table_print(t);
}

static int parse_top(struct vc_ctx *ctx, int argc, char **argv, double *interval, bool *once,
		     struct vs_error *err)
{
	static const struct option opts[] = {
	    {"interval", required_argument, NULL, 'i'},
	    {"once", no_argument, NULL, '1'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	bool reset = true;
	char *end;
	int c;

	while ((c = vc_getopt(argc, argv, "h", opts, &reset, err)) != -1) {
		switch (c) {
		case 'i':
			*interval = strtod(optarg, &end);
			if (end == optarg || *end != '\0' ||
			    !(*interval >= 0.2 && *interval <= 3600))
				return vc_usage(err,
						"--interval: expected seconds from 0.2 to "
						"3600, got '%s'",
						optarg);
			break;
		case '1':
			*once = true;
			break;
		case 'h':
			return vc_cmd_help(ctx);
		default:
			return VC_ERR_USAGE;
		}
	}
	return vc_positional(argc, optind, 0, 0, "argument", err) < 0 ? VC_ERR_USAGE : 0;
}

int vc_cmd_top(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	struct top_row *prev = NULL;
	size_t np = 0;
	double interval = 2;
	bool once = false, tty = isatty(STDOUT_FILENO);
	int64_t prev_ms = 0;
	int r = parse_top(ctx, argc, argv, &interval, &once, err);

	if (r != 0)
		return r == VC_HELP_SHOWN ? 0 : r;
	for (;;) {
		struct top_row *rows;
		size_t n;
		int64_t now = vs_now_ms();
		if (fetch_rows(ctx, &rows, &n, err) < 0) {
			rows_free(prev, np);
			return VC_ERR_FAIL;
		}
		if (prev != NULL)
			rates(rows, n, prev, np, (double)(now - prev_ms) / 1000.0);
		if (tty && !once)
			fputs("\033[H\033[2J", stdout);
		print_top(rows, n);
		fflush(stdout);
		rows_free(prev, np);
		prev = rows, np = n, prev_ms = now;
		if (once)
			break;
		nanosleep(
		    &(struct timespec){.tv_sec = (time_t)interval,
				       .tv_nsec = (long)((interval - (time_t)interval) * 1e9)},
		    NULL);
	}
	rows_free(prev, np);
	return 0;
}
