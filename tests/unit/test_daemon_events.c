/* daemon: the event bus (daemon/events.c): the type filter, the ring and
 * its ids, resuming after an id, dropping a subscriber that falls behind,
 * keepalives, the reported-state table; and the operations registry's
 * long-poll, cancel and notify hooks (daemon/ops.c); If-Match (eventsapi.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>

#include "daemon/daemon.h"
#include "daemon/handlers.h"
#include "lib/vs_util.h"

#define ALL ((1u << VSD_EV__COUNT) - 1)

static void test_filter(void **state)
{
	struct vs_error err = {0};
	uint32_t m;

	assert_int_equal(vsd_events_parse_filter(NULL, &m, &err), 0);
	assert_int_equal(m, ALL);
	assert_int_equal(vsd_events_parse_filter("", &m, &err), 0);
	assert_int_equal(m, ALL);
	assert_int_equal(vsd_events_parse_filter("container-oom", &m, &err), 0);
	assert_int_equal(m, 1u << VSD_EV_CONTAINER_OOM);
	assert_int_equal(vsd_events_parse_filter("operation-end,container-created", &m, &err), 0);
	assert_int_equal(m, (1u << VSD_EV_OPERATION_END) | (1u << VSD_EV_CONTAINER_CREATED));
	/* Unknown, empty elements, prefixes and case are refused. */
	assert_int_equal(vsd_events_parse_filter("container-created,nope", &m, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_non_null(strstr(err.msg, "'nope'"));
	assert_int_equal(vsd_events_parse_filter("container-created,", &m, &err), -1);
	assert_int_equal(vsd_events_parse_filter(",", &m, &err), -1);
	assert_int_equal(vsd_events_parse_filter("container", &m, &err), -1);
	assert_int_equal(vsd_events_parse_filter("Container-Created", &m, &err), -1);
	for (int t = 0; t < VSD_EV__COUNT; t++) {
		assert_int_equal(vsd_events_parse_filter(vsd_event_type_name(t), &m, &err), 0);
		assert_int_equal(m, 1u << t);
	}
}

/* The next whole record of sub (no wait), or NULL. */
static char *next_record(struct vsd_event_sub *sub)
{
	char buf[4096];
	ssize_t n = vsd_events_read(sub, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

static void test_publish_and_read(void **state)
{
	struct vsd_events *ev = vsd_events_new(5000);
	struct vsd_event_sub *sub = vsd_events_subscribe(ev, ALL, 0);
	cleanup_free char *r1 = NULL, *r2 = NULL;
	char small[8], rebuilt[512] = "";
	ssize_t n;

	assert_null(next_record(sub));
	assert_int_equal(vsd_events_publish(ev, VSD_EV_CONTAINER_CREATED, "c1", NULL, 77), 5000);
	assert_int_equal(
	    vsd_events_publish(ev, VSD_EV_CONTAINER_OOM, "c1", "{\"command\":\"x\",\"pid\":3}", 78),
	    5001);
	r1 = next_record(sub);
	assert_string_equal(r1, "id: 5000\nevent: container-created\ndata: "
				"{\"id\":5000,\"type\":\"container-created\",\"time\":77,"
				"\"container\":\"c1\"}\n\n");
	/* A small buffer takes a record in pieces. */
	while ((n = vsd_events_read(sub, small, sizeof(small), 0)) > 0) {
		strncat(rebuilt, small, (size_t)n);
		if (strstr(rebuilt, "\n\n") != NULL)
			break;
	}
	assert_string_equal(rebuilt, "id: 5001\nevent: container-oom\ndata: "
				     "{\"id\":5001,\"type\":\"container-oom\",\"time\":78,"
				     "\"container\":\"c1\",\"command\":\"x\",\"pid\":3}\n\n");
	assert_null(next_record(sub));
	assert_int_equal(vsd_events_last_id(ev), 5001);
	assert_int_equal(vsd_events_subscribers(ev), 1);
	vsd_events_unsubscribe(sub);
	assert_int_equal(vsd_events_subscribers(ev), 0);
	(void)r2;
	vsd_events_free(ev);
}

static void test_filter_and_resume(void **state)
{
	struct vsd_events *ev = vsd_events_new(1);
	struct vsd_event_sub *only_end, *resume, *future;
	cleanup_free char *a = NULL, *b = NULL, *c = NULL;

	vsd_events_publish(ev, VSD_EV_CONTAINER_CREATED, "a", NULL, 1);	  /* 1 */
	vsd_events_publish(ev, VSD_EV_OPERATION_PROGRESS, NULL, NULL, 1); /* 2 */
	vsd_events_publish(ev, VSD_EV_OPERATION_END, NULL, NULL, 1);	  /* 3 */
	/* Resume after 1: 2 and 3; filtered: only 3. */
	resume = vsd_events_subscribe(ev, ALL, 1);
	only_end = vsd_events_subscribe(ev, 1u << VSD_EV_OPERATION_END, 1);
	future = vsd_events_subscribe(ev, ALL, 999);
	a = next_record(resume);
	assert_true(strncmp(a, "id: 2\n", 6) == 0);
	free(a);
	a = next_record(resume);
	assert_true(strncmp(a, "id: 3\n", 6) == 0);
	assert_null(next_record(resume));
	b = next_record(only_end);
	assert_true(strncmp(b, "id: 3\nevent: operation-end\n", 27) == 0);
	assert_null(next_record(only_end));
	/* An id this bus never gave out (another run's): only new events. */
	assert_null(next_record(future));
	vsd_events_publish(ev, VSD_EV_CONTAINER_DESTROYED, "a", NULL, 2);
	c = next_record(future);
	assert_true(strncmp(c, "id: 4\n", 6) == 0);
	vsd_events_unsubscribe(resume);
	vsd_events_unsubscribe(only_end);
	vsd_events_unsubscribe(future);
	vsd_events_free(ev);
}

static void test_ring_wraps_and_slow_is_dropped(void **state)
{
	struct vsd_events *ev = vsd_events_new(1);
	struct vsd_event_sub *slow = vsd_events_subscribe(ev, ALL, 0);
	struct vsd_event_sub *old, *filtered;
	cleanup_free char *first = NULL;
	char buf[256];
	char want[32];

	for (int i = 0; i < VSD_EVENTS_LAG_MAX; i++)
		vsd_events_publish(ev, VSD_EV_CONTAINER_UPDATED, "c", NULL, 1);
	/* Exactly LAG_MAX behind is still served... */
	first = next_record(slow);
	assert_true(strncmp(first, "id: 1\n", 6) == 0);
	/* ...one more than that is dropped, and stays ended. */
	for (int i = 0; i < 2; i++)
		vsd_events_publish(ev, VSD_EV_CONTAINER_UPDATED, "c", NULL, 1);
	assert_int_equal(vsd_events_read(slow, buf, sizeof(buf), 0), -1);
	assert_int_equal(vsd_events_read(slow, buf, sizeof(buf), 0), -1);
	vsd_events_unsubscribe(slow);
	/* Past the ring: a resume from id 1 starts... */
	for (int i = 0; i < VSD_EVENTS_RING; i++)
		vsd_events_publish(ev, VSD_EV_CONTAINER_UPDATED, "c", NULL, 1);
	old = vsd_events_subscribe(ev, ALL, 1);
	/* ...as far back as a subscriber may lag, not further (it would be
	 * dropped at once and reconnect forever). */
	snprintf(want, sizeof(want), "id: %llu\n",
		 (unsigned long long)(vsd_events_last_id(ev) - VSD_EVENTS_LAG_MAX + 1));
	free(first);
	first = next_record(old);
	assert_true(strncmp(first, want, strlen(want)) == 0);
	vsd_events_unsubscribe(old);
	/* A resume within the window works. */
	filtered = vsd_events_subscribe(ev, ALL, vsd_events_last_id(ev) - 3);
	snprintf(want, sizeof(want), "id: %llu\n",
		 (unsigned long long)(vsd_events_last_id(ev) - 2));
	free(first);
	first = next_record(filtered);
	assert_true(strncmp(first, want, strlen(want)) == 0);
	vsd_events_unsubscribe(filtered);
	vsd_events_free(ev);
}

static void test_keepalive_and_stop(void **state)
{
	struct vsd_events *ev = vsd_events_new(1);
	struct vsd_event_sub *sub = vsd_events_subscribe(ev, ALL, 0);
	char buf[64];
	ssize_t n = vsd_events_read(sub, buf, sizeof(buf) - 1, 50);

	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, ": keepalive\n\n");
	vsd_events_stop(ev);
	assert_int_equal(vsd_events_read(sub, buf, sizeof(buf), 1000), -1);
	vsd_events_unsubscribe(sub);
	vsd_events_free(ev);
}

/* Types of the records pending for sub, space separated. */
static void types_of(struct vsd_event_sub *sub, char *out, size_t len)
{
	char *r;

	out[0] = '\0';
	while ((r = next_record(sub)) != NULL) {
		char *t = strstr(r, "event: ") + 7;
		snprintf(out + strlen(out), len - strlen(out), "%.*s ", (int)strcspn(t, "\n"), t);
		free(r);
	}
}

static void test_state_reported_once(void **state)
{
	struct vsd_events *ev = vsd_events_new(1);
	struct vsd_event_sub *sub = vsd_events_subscribe(ev, ALL, 0);
	char got[512];
	uint64_t gen;

	/* A watcher's first look registers quietly. */
	assert_false(vsd_events_observe(ev, "w", true, vsd_events_gen(ev, "w"), 1));
	/* The daemon's own changes are reported, once. */
	assert_true(vsd_events_state(ev, "c", true, 1));
	assert_false(vsd_events_state(ev, "c", true, 1));
	/* A stale look (taken before a change) is dropped... */
	gen = vsd_events_gen(ev, "c");
	assert_true(vsd_events_state(ev, "c", false, 2));
	assert_false(vsd_events_observe(ev, "c", true, gen, 2));
	/* ...a fresh one is reported once. */
	assert_true(vsd_events_state(ev, "c", true, 3));
	gen = vsd_events_gen(ev, "c");
	assert_true(vsd_events_observe(ev, "c", false, gen, 4));
	assert_false(vsd_events_state(ev, "c", false, 4));
	/* Suspend and resume set it without started/stopped events. */
	vsd_events_note(ev, "w", false);
	types_of(sub, got, sizeof(got));
	assert_string_equal(got, "container-started container-stopped container-started "
				 "container-stopped ");
	{
		cleanup_strv char **names = NULL;
		cleanup_free uint64_t *gens = NULL;
		assert_true(vsd_events_state(ev, "c", true, 5));
		assert_int_equal(vsd_events_watch_list(ev, &names, &gens), 1);
		assert_string_equal(names[0], "c");
		assert_int_equal(gens[0], vsd_events_gen(ev, "c"));
	}
	vsd_events_forget(ev, "c");
	assert_int_equal(vsd_events_gen(ev, "c"), 0);
	vsd_events_unsubscribe(sub);
	vsd_events_free(ev);
}

/* The watcher hears every change of the states the bus knows, quiet ones
 * too, and forget; nothing that changes nothing. */
static void record_change(void *arg, const char *container, bool running)
{
	char *log = arg;

	snprintf(log + strlen(log), 256 - strlen(log), "%s%c ", container, running ? '+' : '-');
}

static void test_state_watcher(void **state)
{
	struct vsd_events *ev = vsd_events_new(1);
	char log[256] = "";

	vsd_events_set_watcher(ev, record_change, log);
	assert_false(vsd_events_observe(ev, "w", true, vsd_events_gen(ev, "w"), 1));
	assert_true(vsd_events_state(ev, "c", true, 1));
	assert_false(vsd_events_state(ev, "c", true, 1));
	assert_false(vsd_events_observe(ev, "c", true, vsd_events_gen(ev, "c"), 2));
	assert_true(vsd_events_observe(ev, "c", false, vsd_events_gen(ev, "c"), 2));
	vsd_events_note(ev, "w", false);
	vsd_events_note(ev, "w", false);
	vsd_events_forget(ev, "c");
	assert_string_equal(log, "w+ c+ c- w- c- ");
	vsd_events_set_watcher(ev, NULL, NULL);
	assert_true(vsd_events_state(ev, "d", true, 3));
	assert_string_equal(log, "w+ c+ c- w- c- ");
	vsd_events_free(ev);
}

struct notes {
	int progress, end;
	char last[512];
};

static void on_note(void *ud, bool end, const char *kind, const char *target, const char *extra)
{
	struct notes *n = ud;

	if (end)
		n->end++;
	else
		n->progress++;
	snprintf(n->last, sizeof(n->last), "%s", extra);
}

static bool flag;
static void set_flag(void *ud)
{
	flag = true;
}

static void test_ops_hooks(void **state)
{
	struct vsd_ops *ops = vsd_ops_new();
	struct vs_error err = {0};
	struct notes n = {0};
	cleanup_free char *list = NULL;
	uint64_t a, b;
	struct timespec t0, t1;

	vsd_ops_set_notify(ops, on_note, &n);
	a = vsd_ops_add(ops, "template-build", "t", 100);
	b = vsd_ops_add(ops, "container-suspend", "c", 101);
	vsd_ops_progress(ops, a, "line one");
	assert_int_equal(n.progress, 1);
	assert_non_null(strstr(n.last, "\"line\":\"line one\""));
	assert_non_null(strstr(n.last, "\"kind\":\"template-build\""));
	/* Not cancellable by default, with the reason given. */
	assert_int_equal(vsd_ops_cancel(ops, b, &err), -1);
	assert_int_equal(err.kind, VS_EK_CONFLICT);
	vsd_ops_set_cancel(ops, b, NULL, NULL, "CRIU is busy");
	assert_int_equal(vsd_ops_cancel(ops, b, &err), -1);
	assert_non_null(strstr(err.msg, "CRIU is busy"));
	/* Cancellable: the hook runs once. */
	vsd_ops_set_cancel(ops, a, set_flag, NULL, NULL);
	assert_int_equal(vsd_ops_cancel(ops, a, &err), 0);
	assert_true(flag);
	assert_true(vsd_ops_cancelled(ops, a));
	assert_int_equal(vsd_ops_cancel(ops, a, &err), -1);
	assert_int_equal(vsd_ops_cancel(ops, 999, &err), -1);
	assert_int_equal(err.kind, VS_EK_NOT_FOUND);
	/* Long-poll: a running operation times out... */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(vsd_ops_wait(ops, b, 100, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 90);
	/* ...an ended one returns at once. */
	vsd_ops_finish(ops, a, &(struct vs_error){.kind = VS_EK_CONFLICT, .msg = "cancelled"}, NULL,
		       102);
	assert_int_equal(n.end, 1);
	assert_non_null(strstr(n.last, "\"status\":\"failure\""));
	assert_int_equal(vsd_ops_wait(ops, a, 60000, &err), 0);
	assert_int_equal(vsd_ops_cancel(ops, a, &err), -1);
	assert_non_null(strstr(err.msg, "already ended"));
	assert_int_equal(vsd_ops_wait(ops, 999, 10, &err), -1);
	/* The list: oldest first, with times. */
	list = vsd_ops_list_json(ops, 103);
	assert_non_null(strstr(list, "{\"operations\":[{\"id\":\"1\""));
	assert_non_null(strstr(list, "\"created_at\":100,\"finished_at\":102"));
	assert_non_null(strstr(list, "\"finished_at\":null"));
	assert_non_null(strstr(list, "\"cancelled\":true"));
	vsd_ops_free(ops);
}

static const char *if_match_value;
static const char *fake_header(void *conn, const char *name)
{
	return strcasecmp(name, "If-Match") == 0 ? if_match_value : NULL;
}

static void test_if_match(void **state)
{
	struct vsd_call c = {.header = fake_header};
	struct vs_error err = {0};
	static const struct {
		const char *value;
		int want;
	} cases[] = {
	    {NULL, 0},
	    {"*", 0},
	    {"\"00112233aabbccdd\"", 0},
	    {"00112233aabbccdd", 0},
	    {"W/\"00112233aabbccdd\"", 0},
	    {" \"00112233aabbccdd\"", 0},
	    {"\"00112233aabbccde\"", -1},
	    {"\"00112233aabbccdd0\"", -1},
	    {"\"00112233aabbccd\"", -1},
	    {"", -1},
	    {"\"\"", -1},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if_match_value = cases[i].value;
		assert_int_equal(vsd_check_if_match(&c, "00112233aabbccdd", &err), cases[i].want);
		if (cases[i].want < 0) {
			assert_int_equal(err.kind, VS_EK_PRECONDITION);
			assert_int_equal(vsd_error_status(err.kind), 412);
			assert_string_equal(vsd_error_code(err.kind), "precondition_failed");
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_filter),
	    cmocka_unit_test(test_publish_and_read),
	    cmocka_unit_test(test_filter_and_resume),
	    cmocka_unit_test(test_ring_wraps_and_slow_is_dropped),
	    cmocka_unit_test(test_keepalive_and_stop),
	    cmocka_unit_test(test_state_reported_once),
	    cmocka_unit_test(test_state_watcher),
	    cmocka_unit_test(test_ops_hooks),
	    cmocka_unit_test(test_if_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
