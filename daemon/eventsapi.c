/* The API of the event bus and of operations beyond GET one: GET
 * /v1/events (the subscriber is streamed by server.c), GET /v1/operations,
 * DELETE /v1/operations/{id}; the publish helpers the handlers call; and
 * ETags of stored configuration files. */
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

void vsd_emit(struct vsd *d, enum vsd_event_type t, const char *container, const char *extra)
{
	if (d->events != NULL)
		vsd_events_publish(d->events, t, container, extra, (int64_t)time(NULL));
}

void vsd_emit_state(struct vsd *d, const char *container, bool running)
{
	if (d->events != NULL)
		vsd_events_state(d->events, container, running, (int64_t)time(NULL));
}

/* Operations of a container ("container-suspend" ...) name it. */
static void on_op(void *ud, bool end, const char *kind, const char *target, const char *extra)
{
	struct vsd *d = ud;
	const char *container = strncmp(kind, "container-", 10) == 0 ? target : NULL;

	vsd_emit(d, end ? VSD_EV_OPERATION_END : VSD_EV_OPERATION_PROGRESS, container, extra);
}

void vsd_events_init(struct vsd *d)
{
	/* Ids go on increasing over restarts: a client resuming with the
	 * last id of an earlier run gets this run's events from its start. */
	d->events = vsd_events_new((uint64_t)time(NULL) * 1000000u);
	vsd_ops_set_notify(d->ops, on_op, d);
}

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
	out->events = vsd_events_subscribe(c->d->events, mask, last);
	return 0;
}

int vsd_h_operation_list(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_free char *text = vsd_ops_list_json(c->d->ops, (int64_t)time(NULL));

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

int vsd_etag_file(int dirfd, const char *path, char etag[24], struct vs_error *err)
{
	cleanup_free char *text = NULL;
	uint64_t h = 0xcbf29ce484222325ull;
	size_t len;

	/* Config files are small (the API body limit bounds them). */
	if (vs_read_file_at(dirfd, path, 4 * VSD_BODY_MAX, &text, &len, err) < 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)text[i];
		h *= 0x100000001b3ull;
	}
	snprintf(etag, 24, "%016" PRIx64, h);
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
