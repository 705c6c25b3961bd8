/* The API of the event bus and of operations beyond GET one: GET
 * /v1/events (a subscriber, streamed by the server as the client reads),
 * GET /v1/operations, DELETE /v1/operations/{id}; and If-Match. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/handlers.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"

/* Last-Event-ID header, else ?last_event_id: 0 when absent. */
static int last_event_id(struct vsd_call *c, uint64_t *id, struct vs_error *err)
{
	const char *s = vsd_call_header(c, "Last-Event-ID");
	struct vs_error e = {0};
	int64_t v;

	*id = 0;
	if (s == NULL)
		s = vsd_call_query(c, "last_event_id");
	if (s == NULL || s[0] == '\0')
		return 0;
	if (vs_parse_int(s, "Last-Event-ID", 0, INT64_MAX, &v, &e) < 0)
		return vs_error_kind(err, VS_EK_INVALID, "Last-Event-ID: expected an event id");
	*id = (uint64_t)v;
	return 0;
}

static ssize_t read_events(void *cls, char *buf, size_t max)
{
	return vsd_events_read(cls, buf, max, VSD_EVENTS_KEEPALIVE_MS);
}

static void done_events(void *cls)
{
	vsd_events_unsubscribe(cls);
}

int vsd_h_events(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	uint32_t mask;
	uint64_t last;

	if (c->d->events == NULL)
		return vs_error_kind(err, VS_EK_UNSUPPORTED, "events are not available");
	if (vsd_events_parse_filter(vsd_call_query(c, "type"), &mask, err) < 0 ||
	    last_event_id(c, &last, err) < 0)
		return -1;
	out->status = 200;
	out->content_type = "text/event-stream";
	out->reader = read_events;
	out->reader_done = done_events;
	/* An owner-scoped credential hears only of its owner's containers. */
	out->reader_cls = vsd_events_subscribe_owner(c->d->events, mask, last, c->who->owner);
	return 0;
}

/* The list as an owner-scoped credential may see it: the operations of its
 * own containers. */
static int filter_ops(struct vsd_call *c, const char *text, struct vsd_reply *out,
		      struct vs_error *err)
{
	cleanup_json struct vs_json *doc = NULL;
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	const struct vs_json *ops;

	if (vs_json_parse(text, &doc, err) < 0)
		return -1;
	ops = vs_json_get(doc, "operations");
	vs_jgen_obj_open(g);
	vs_jgen_key(g, "operations");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < vs_json_array_len(ops); i++) {
		const struct vs_json *op = vs_json_array_at(ops, i);

		if (vsd_op_visible(c->d, c->who, vs_json_string(vs_json_get(op, "kind")),
				   vs_json_string(vs_json_get(op, "target")),
				   vs_json_string(vs_json_get(op, "owner"))))
			vs_jgen_value(g, op);
	}
	vs_jgen_arr_close(g);
	vs_jgen_obj_close(g);
	vsd_reply_json(out, 200, g);
	return 0;
}

int vsd_h_operation_list(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_free char *text = vsd_ops_list_json(c->d->ops, (int64_t)time(NULL));

	if (c->who->owner[0] != '\0')
		return filter_ops(c, text, out, err);
	out->status = 200;
	out->body = xasprintf("%s\n", text);
	return 0;
}

int vsd_parse_op_id(const char *ids, uint64_t *id, struct vs_error *err)
{
	struct vs_error e = {0};
	int64_t v;

	/* Ids are what the daemon handed out: anything else names no
	 * operation rather than being a malformed request. */
	if (vs_parse_int(ids, "id", 1, INT64_MAX, &v, &e) < 0) {
		cleanup_free char *clean = vsd_sanitize(ids, 64);
		return vs_error_kind(err, VS_EK_NOT_FOUND, "operation '%s' does not exist", clean);
	}
	*id = (uint64_t)v;
	return 0;
}

int vsd_h_operation_delete(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_free char *text = NULL;
	uint64_t id;

	if (vsd_parse_op_id(c->m->params[0], &id, err) < 0 ||
	    vsd_ops_cancel(c->d->ops, id, err) < 0)
		return -1;
	vsd_log("operation %" PRIu64 ": cancel requested", id);
	/* The worker ends soon after; answer with the operation as it is. */
	if (vsd_ops_json(c->d->ops, id, 0, (int64_t)time(NULL), &text, err) < 0)
		return -1;
	out->status = 202;
	out->body = xasprintf("%s\n", text);
	return 0;
}

int vsd_check_if_match(const struct vsd_call *c, const char *etag, struct vs_error *err)
{
	const char *want = vsd_call_header(c, "If-Match");
	size_t len;

	if (want == NULL)
		return 0;
	want += strspn(want, " \t");
	if (strcmp(want, "*") == 0)
		return 0;
	/* Weak validators (W/"...") compare the same: the tag is a hash of
	 * the stored bytes either way. */
	if (strncmp(want, "W/", 2) == 0)
		want += 2;
	if (want[0] == '"')
		want++;
	len = strcspn(want, "\" \t");
	if (len == strlen(etag) && strncmp(want, etag, len) == 0)
		return 0;
	return vs_error_kind(err, VS_EK_PRECONDITION,
			     "If-Match: the stored configuration changed (its ETag is now "
			     "\"%s\"); read it again and retry",
			     etag);
}
