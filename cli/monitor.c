/* vsctl monitor: follow GET /v1/events (Server-Sent Events) and print one
 * line per event. The request is HTTP/1.0 so that the stream comes
 * unchunked and ends when the daemon closes it; a closed stream (the
 * daemon restarts, or dropped this client for falling behind) is resumed
 * with Last-Event-ID, a bounded number of times in a row. */
#include "cli/cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_util.h"

#define RETRIES	     30
#define RETRY_DELAY  1 /* seconds */
#define LINE_MAX_LEN (256 * 1024)

struct monitor {
	const char *types; /* --type, or NULL */
	bool json;
	uint64_t last_id; /* of the last event printed */
	bool got_any;	  /* since the last connect */
};

static void print_event(const struct monitor *m, const char *data)
{
	cleanup_json struct vs_json *v = NULL;
	const struct vs_json *op;
	char when[64];
	const char *line;

	if (m->json) {
		printf("%s\n", data);
		fflush(stdout);
		return;
	}
	if (vs_json_parse(data, &v, NULL) < 0)
		return;
	vc_format_time(vs_json_get(v, "time"), true, when, sizeof(when));
	printf("%s %s", when, vs_json_string(vs_json_get(v, "type")));
	if (vs_json_string(vs_json_get(v, "container")) != NULL)
		printf(" %s", vs_json_string(vs_json_get(v, "container")));
	op = vs_json_get(v, "operation");
	if (op != NULL)
		printf(" operation %s %s %s %s", vs_json_string(vs_json_get(op, "id")),
		       vs_json_string(vs_json_get(op, "kind")),
		       vs_json_string(vs_json_get(op, "target")),
		       vs_json_string(vs_json_get(op, "status")));
	if ((line = vs_json_string(vs_json_get(v, "line"))) != NULL)
		printf(": %s", line);
	if ((line = vs_json_string(vs_json_get(v, "command"))) != NULL)
		printf(" killed %s", line);
	printf("\n");
	fflush(stdout);
}

/* Status line and headers. 0 on 200, -1 with err otherwise (the API's
 * message when the body is one). */
static int read_head(struct vc_conn *c, char *buf, struct vs_error *err)
{
	int status = 0;

	if (vc_conn_read_line(c, buf, LINE_MAX_LEN, err) < 0)
		return -1;
	if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1)
		return vs_error_kind(err, VS_EK_INTERNAL, "the daemon's answer is not HTTP");
	for (;;) {
		if (vc_conn_read_line(c, buf, LINE_MAX_LEN, err) < 0)
			return -1;
		buf[strcspn(buf, "\r")] = '\0';
		if (buf[0] == '\0')
			break;
	}
	if (status != 200) {
		struct vc_http_response resp = {.status = status};
		cleanup_free char *body = NULL;
		/* The error body: whatever is pending and what follows up to
		 * the close (HTTP/1.0). */
		while (vc_conn_recv(c, err) > 0)
			;
		body = xstrndup(c->pending ? c->pending : "", c->pending_len);
		resp.body = body;
		resp.body_len = strlen(body);
		vc_api_error(&resp, err);
		err->errnum = status; /* 4xx: no point retrying */
		return -1;
	}
	return 0;
}

/* One connection: print events until the stream ends. 0 when it ended (try
 * again), -1 with err when the daemon refused the request. */
static int follow(const struct vc_ctx *ctx, struct monitor *m, char *buf, struct vs_error *err)
{
	cleanup_conn struct vc_conn c = {.fd = -1};
	cleanup_free char *req = NULL, *q = NULL, *data = NULL, *last = NULL;
	uint64_t id = 0;

	if (vc_ctx_connect(ctx, &c, err) < 0)
		return 0;
	if (m->types != NULL) {
		cleanup_free char *esc = vc_http_escape_segment(m->types);
		q = xasprintf("?type=%s", esc);
	}
	if (m->last_id != 0)
		last = xasprintf("Last-Event-ID: %" PRIu64 "\r\n", m->last_id);
	/* The remote's token, when it has one (the request is written here:
	 * the answer is read as a stream, not by vc_http_exchange). */
	req = xasprintf("GET /v1/events%s HTTP/1.0\r\nHost: vsd\r\n"
			"Accept: text/event-stream\r\n%s%s%s%s\r\n",
			q ? q : "", last ? last : "", c.authorization ? "Authorization: " : "",
			c.authorization ? c.authorization : "", c.authorization ? "\r\n" : "");
	if (vc_conn_send_all(&c, req, strlen(req), err) < 0)
		return 0;
	if (read_head(&c, buf, err) < 0)
		return err->errnum >= 400 && err->errnum < 500 ? -1 : 0;
	m->got_any = true;
	while (vc_conn_read_line(&c, buf, LINE_MAX_LEN, err) == 0) {
		if (strncmp(buf, "id: ", 4) == 0) {
			id = strtoull(buf + 4, NULL, 10);
		} else if (strncmp(buf, "data: ", 6) == 0) {
			free(data);
			data = xstrdup(buf + 6);
		} else if (buf[0] == '\0' && data != NULL) {
			print_event(m, data);
			free(data);
			data = NULL;
			if (id != 0)
				m->last_id = id;
		}
	}
	return 0;
}

int vc_cmd_monitor(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"type", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	cleanup_free char *buf = xmalloc(LINE_MAX_LEN);
	struct monitor m = {.json = ctx->json};
	bool reset = true;
	int c, tries = 0;

	while ((c = vc_getopt(argc, argv, "h", opts, &reset, err)) != -1) {
		if (c == 'j')
			m.json = true;
		else if (c == 't')
			m.types = optarg;
		else if (c == 'h')
			return vc_cmd_help(ctx) == VC_HELP_SHOWN ? 0 : VC_ERR_USAGE;
		else
			return VC_ERR_USAGE;
	}
	if (vc_positional(argc, optind, 0, 0, "", err) < 0)
		return VC_ERR_USAGE;
	for (;;) {
		m.got_any = false;
		if (follow(ctx, &m, buf, err) < 0)
			return VC_ERR_FAIL;
		/* A stream that was served resets the count: only failures in
		 * a row give up. */
		tries = m.got_any ? 0 : tries + 1;
		if (tries >= RETRIES) {
			vs_error_kind(err, VS_EK_INTERNAL,
				      "the event stream ended and vsd did not answer again "
				      "within %d s",
				      RETRIES * RETRY_DELAY);
			return VC_ERR_FAIL;
		}
		sleep(RETRY_DELAY);
	}
}
