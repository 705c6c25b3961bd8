/* The lifecycle event bus: a ring of preformatted Server-Sent Events under
 * one mutex and a condition variable that wakes waiting subscribers.
 * Publishers only append and broadcast, so a slow or dead client costs the
 * daemon nothing but its own connection thread; its cursor tells how far
 * behind it is, and past VSD_EVENTS_LAG_MAX it is dropped. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "daemon/events.h"
#include "lib/vs_json.h"
#include "lib/vs_util.h"

static const char *const type_names[VSD_EV__COUNT] = {
    [VSD_EV_CONTAINER_CREATED] = "container-created",
    [VSD_EV_CONTAINER_STARTED] = "container-started",
    [VSD_EV_CONTAINER_STOPPED] = "container-stopped",
    [VSD_EV_CONTAINER_DESTROYED] = "container-destroyed",
    [VSD_EV_CONTAINER_OOM] = "container-oom",
    [VSD_EV_CONTAINER_UPDATED] = "container-updated",
    [VSD_EV_CONTAINER_SUSPENDED] = "container-suspended",
    [VSD_EV_CONTAINER_RESUMED] = "container-resumed",
    [VSD_EV_OPERATION_PROGRESS] = "operation-progress",
    [VSD_EV_OPERATION_END] = "operation-end",
};

struct ring_ev {
	uint64_t id;
	enum vsd_event_type type;
	char *text; /* the whole SSE record */
	size_t len;
	char *owner; /* of the container it is about; NULL: none */
};

/* A container's owner (vsd_events_set_owner). */
struct owned {
	char *name, *owner;
};

/* What the bus last said about a container's running state. */
struct seen {
	char *name;
	bool running;
	uint64_t gen; /* ev->gen when it last changed */
};

struct vsd_events {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ring_ev ring[VSD_EVENTS_RING];
	uint64_t first_id; /* of this run */
	uint64_t next_id;
	bool stopping;
	size_t nsubs;
	struct seen *seen;
	size_t nseen;
	uint64_t gen;
	struct owned *owners;
	size_t nowners;
	/* The watcher, under its own lock, held while it is called, so that
	 * removing it waits for a call in progress. */
	pthread_mutex_t watch_lock;
	void (*watch_fn)(void *arg, const char *container, bool running);
	void *watch_arg;
};

struct vsd_event_sub {
	struct vsd_events *ev;
	uint32_t mask;
	uint64_t next; /* id of the next event to look at */
	char *owner;   /* only events of this owner's containers; NULL: all */
	char *pending; /* an event being copied out in pieces */
	size_t off, len;
};

const char *vsd_event_type_name(enum vsd_event_type t)
{
	return (size_t)t < VSD_EV__COUNT ? type_names[t] : "unknown";
}

int vsd_events_parse_filter(const char *s, uint32_t *mask, struct vs_error *err)
{
	*mask = 0;
	if (s == NULL || s[0] == '\0') {
		*mask = (1u << VSD_EV__COUNT) - 1;
		return 0;
	}
	for (const char *p = s;;) {
		size_t len = strcspn(p, ",");
		bool found = false;
		for (size_t t = 0; t < VSD_EV__COUNT && !found; t++) {
			if (strlen(type_names[t]) == len && strncmp(p, type_names[t], len) == 0) {
				*mask |= 1u << t;
				found = true;
			}
		}
		if (!found) {
			*mask = 0;
			return vs_error_kind(err, VS_EK_INVALID,
					     "type: unknown event type '%.*s' (known: "
					     "container-created, container-started, "
					     "container-stopped, container-destroyed, "
					     "container-oom, container-updated, "
					     "container-suspended, container-resumed, "
					     "operation-progress, operation-end)",
					     (int)(len > 64 ? 64 : len), p);
		}
		if (p[len] == '\0')
			return 0;
		p += len + 1;
	}
}

struct vsd_events *vsd_events_new(uint64_t first_id)
{
	struct vsd_events *ev = xcalloc(1, sizeof(*ev));
	pthread_condattr_t ca;

	pthread_mutex_init(&ev->lock, NULL);
	pthread_mutex_init(&ev->watch_lock, NULL);
	/* Waits are relative, so the monotonic clock keeps them short when
	 * the wall clock jumps. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ev->cond, &ca);
	pthread_condattr_destroy(&ca);
	ev->first_id = ev->next_id = first_id > 0 ? first_id : 1;
	return ev;
}

void vsd_events_free(struct vsd_events *ev)
{
	if (ev == NULL)
		return;
	for (size_t i = 0; i < VSD_EVENTS_RING; i++) {
		free(ev->ring[i].text);
		free(ev->ring[i].owner);
	}
	for (size_t i = 0; i < ev->nseen; i++)
		free(ev->seen[i].name);
	free(ev->seen);
	for (size_t i = 0; i < ev->nowners; i++) {
		free(ev->owners[i].name);
		free(ev->owners[i].owner);
	}
	free(ev->owners);
	pthread_cond_destroy(&ev->cond);
	pthread_mutex_destroy(&ev->lock);
	pthread_mutex_destroy(&ev->watch_lock);
	free(ev);
}

void vsd_events_stop(struct vsd_events *ev)
{
	pthread_mutex_lock(&ev->lock);
	ev->stopping = true;
	pthread_cond_broadcast(&ev->cond);
	pthread_mutex_unlock(&ev->lock);
}

/* The data object; members of extra (a daemon-made JSON object) follow. */
static char *format_data(uint64_t id, enum vsd_event_type t, const char *container,
			 const char *extra, int64_t now)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	const char *text;
	size_t len;
	const char *inner = NULL;
	size_t ilen = 0;

	vs_jgen_obj_open(g);
	vs_jgen_kv_int(g, "id", (int64_t)id);
	vs_jgen_kv_str(g, "type", type_names[t]);
	vs_jgen_kv_int(g, "time", now);
	vs_jgen_key(g, "container");
	if (container != NULL)
		vs_jgen_str(g, container);
	else
		vs_jgen_null(g);
	vs_jgen_obj_close(g);
	text = vs_jgen_text(g, &len);
	if (extra != NULL) {
		const char *open = strchr(extra, '{'), *close = strrchr(extra, '}');
		if (open != NULL && close != NULL && close > open + 1) {
			inner = open + 1;
			ilen = (size_t)(close - inner);
		}
	}
	/* The generator's text ends in '}': splice extra's members in. */
	if (inner == NULL)
		return xasprintf("%.*s", (int)len, text);
	return xasprintf("%.*s,%.*s}", (int)len - 1, text, (int)ilen, inner);
}

static struct owned *owned_find(struct vsd_events *ev, const char *name)
{
	for (size_t i = 0; name != NULL && i < ev->nowners; i++)
		if (strcmp(ev->owners[i].name, name) == 0)
			return &ev->owners[i];
	return NULL;
}

/* A copy of container's owner, or NULL (lock held). */
static char *owner_locked(struct vsd_events *ev, const char *container)
{
	struct owned *o = owned_find(ev, container);

	return o != NULL ? xstrdup(o->owner) : NULL;
}

static void drop_owner_locked(struct vsd_events *ev, const char *container)
{
	struct owned *o = owned_find(ev, container);

	if (o == NULL)
		return;
	free(o->name);
	free(o->owner);
	*o = ev->owners[--ev->nowners];
}

void vsd_events_set_owner(struct vsd_events *ev, const char *container, const char *owner)
{
	struct owned *o;

	pthread_mutex_lock(&ev->lock);
	drop_owner_locked(ev, container);
	if (owner != NULL && owner[0] != '\0') {
		ev->owners = xrealloc(ev->owners, (ev->nowners + 1) * sizeof(*ev->owners));
		o = &ev->owners[ev->nowners++];
		o->name = xstrdup(container);
		o->owner = xstrdup(owner);
	}
	pthread_mutex_unlock(&ev->lock);
}

uint64_t vsd_events_publish(struct vsd_events *ev, enum vsd_event_type t, const char *container,
			    const char *extra, int64_t now)
{
	struct ring_ev *slot;
	uint64_t id;
	char *data;

	pthread_mutex_lock(&ev->lock);
	id = ev->next_id++;
	data = format_data(id, t, container, extra, now);
	slot = &ev->ring[id % VSD_EVENTS_RING];
	free(slot->text);
	slot->id = id;
	slot->type = t;
	slot->text = xasprintf("id: %" PRIu64 "\nevent: %s\ndata: %s\n\n", id, type_names[t], data);
	slot->len = strlen(slot->text);
	free(slot->owner);
	slot->owner = owner_locked(ev, container);
	pthread_cond_broadcast(&ev->cond);
	pthread_mutex_unlock(&ev->lock);
	free(data);
	return id;
}

/* ev->seen is kept sorted by name: the sampler looks up every running
 * container twice a sweep, which a linear search made quadratic. The
 * index of name, or where it would go (*found false). */
static size_t seen_at(const struct vsd_events *ev, const char *name, bool *found)
{
	return vs_sorted_find(ev->seen, ev->nseen, sizeof(*ev->seen), offsetof(struct seen, name),
			      name, found);
}

static struct seen *seen_find(struct vsd_events *ev, const char *name)
{
	bool found;
	size_t i = seen_at(ev, name, &found);

	return found ? &ev->seen[i] : NULL;
}

/* Set a container's reported state (lock held); true if it changed or
 * was unknown. Every change bumps the generation. */
static bool set_seen_locked(struct vsd_events *ev, const char *container, bool running,
			    bool *was_known)
{
	bool found;
	size_t i = seen_at(ev, container, &found);
	struct seen *s = found ? &ev->seen[i] : NULL;

	*was_known = s != NULL;
	if (s == NULL) {
		ev->seen = xrealloc(ev->seen, (ev->nseen + 1) * sizeof(*ev->seen));
		memmove(&ev->seen[i + 1], &ev->seen[i], (ev->nseen - i) * sizeof(*ev->seen));
		ev->nseen++;
		s = &ev->seen[i];
		s->name = xstrdup(container);
		s->running = !running;
	}
	if (s->running == running && *was_known)
		return false;
	s->running = running;
	s->gen = ++ev->gen;
	return true;
}

void vsd_events_set_watcher(struct vsd_events *ev,
			    void (*fn)(void *arg, const char *container, bool running), void *arg)
{
	pthread_mutex_lock(&ev->watch_lock);
	ev->watch_fn = fn;
	ev->watch_arg = arg;
	pthread_mutex_unlock(&ev->watch_lock);
}

/* Tell the watcher, outside the bus's lock (it takes locks of its own). */
static void tell_watcher(struct vsd_events *ev, const char *container, bool running)
{
	pthread_mutex_lock(&ev->watch_lock);
	if (ev->watch_fn != NULL)
		ev->watch_fn(ev->watch_arg, container, running);
	pthread_mutex_unlock(&ev->watch_lock);
}

static void publish_state(struct vsd_events *ev, const char *container, bool running, int64_t now)
{
	vsd_events_publish(ev, running ? VSD_EV_CONTAINER_STARTED : VSD_EV_CONTAINER_STOPPED,
			   container, NULL, now);
}

bool vsd_events_state(struct vsd_events *ev, const char *container, bool running, int64_t now)
{
	bool known, changed;

	pthread_mutex_lock(&ev->lock);
	changed = set_seen_locked(ev, container, running, &known);
	pthread_mutex_unlock(&ev->lock);
	if (changed) {
		tell_watcher(ev, container, running);
		publish_state(ev, container, running, now);
	}
	return changed;
}

void vsd_events_note(struct vsd_events *ev, const char *container, bool running)
{
	bool known;

	bool changed;

	pthread_mutex_lock(&ev->lock);
	changed = set_seen_locked(ev, container, running, &known);
	pthread_mutex_unlock(&ev->lock);
	if (changed)
		tell_watcher(ev, container, running);
}

bool vsd_events_observe(struct vsd_events *ev, const char *container, bool running, uint64_t gen,
			int64_t now)
{
	struct seen *s;
	bool known = false, changed = false;

	pthread_mutex_lock(&ev->lock);
	s = seen_find(ev, container);
	/* Something reported since the observer looked: its look is stale. */
	if (s == NULL || s->gen == gen)
		changed = set_seen_locked(ev, container, running, &known);
	pthread_mutex_unlock(&ev->lock);
	if (changed)
		tell_watcher(ev, container, running);
	/* A first registration is quiet: only a known container's change is
	 * news. */
	if (changed && known)
		publish_state(ev, container, running, now);
	return changed && known;
}

size_t vsd_events_watch_list(struct vsd_events *ev, char ***names, uint64_t **gens)
{
	size_t n = 0;

	pthread_mutex_lock(&ev->lock);
	*names = xcalloc(ev->nseen + 1, sizeof(char *));
	*gens = xcalloc(ev->nseen + 1, sizeof(uint64_t));
	for (size_t i = 0; i < ev->nseen; i++) {
		if (!ev->seen[i].running)
			continue;
		(*names)[n] = xstrdup(ev->seen[i].name);
		(*gens)[n++] = ev->seen[i].gen;
	}
	pthread_mutex_unlock(&ev->lock);
	return n;
}

uint64_t vsd_events_gen(struct vsd_events *ev, const char *container)
{
	struct seen *s;
	uint64_t g;

	pthread_mutex_lock(&ev->lock);
	s = seen_find(ev, container);
	g = s != NULL ? s->gen : 0;
	pthread_mutex_unlock(&ev->lock);
	return g;
}

void vsd_events_forget(struct vsd_events *ev, const char *container)
{
	bool found;
	size_t i;

	pthread_mutex_lock(&ev->lock);
	i = seen_at(ev, container, &found);
	if (found) {
		free(ev->seen[i].name);
		memmove(&ev->seen[i], &ev->seen[i + 1], (ev->nseen - i - 1) * sizeof(*ev->seen));
		ev->nseen--;
	}
	drop_owner_locked(ev, container);
	pthread_mutex_unlock(&ev->lock);
	tell_watcher(ev, container, false);
}

/* Oldest id still in the ring; called with the lock held. */
static uint64_t oldest_locked(const struct vsd_events *ev)
{
	uint64_t n = ev->next_id - ev->first_id;

	return n > VSD_EVENTS_RING ? ev->next_id - VSD_EVENTS_RING : ev->first_id;
}

/* The oldest id a new subscriber may start from (lock held). */
static uint64_t floor_locked(const struct vsd_events *ev)
{
	uint64_t lag = ev->next_id - VSD_EVENTS_LAG_MAX;
	uint64_t oldest = oldest_locked(ev);

	if (ev->next_id - ev->first_id <= VSD_EVENTS_LAG_MAX)
		return oldest;
	return lag > oldest ? lag : oldest;
}

struct vsd_event_sub *vsd_events_subscribe(struct vsd_events *ev, uint32_t mask, uint64_t last_id)
{
	struct vsd_event_sub *sub = xcalloc(1, sizeof(*sub));

	sub->ev = ev;
	sub->mask = mask;
	pthread_mutex_lock(&ev->lock);
	/* An id from the future (a client of another vsd) means "only new".
	 * One from too long ago starts as far back as a subscriber may lag
	 * (it would be dropped at once otherwise, and reconnect forever); the
	 * gap in the ids tells it what it missed. */
	if (last_id == 0 || last_id >= ev->next_id)
		sub->next = ev->next_id;
	else if (last_id + 1 < floor_locked(ev))
		sub->next = floor_locked(ev);
	else
		sub->next = last_id + 1;
	ev->nsubs++;
	pthread_mutex_unlock(&ev->lock);
	return sub;
}

struct vsd_event_sub *vsd_events_subscribe_owner(struct vsd_events *ev, uint32_t mask,
						 uint64_t last_id, const char *owner)
{
	struct vsd_event_sub *sub = vsd_events_subscribe(ev, mask, last_id);

	/* Set before the first read, so no event slips through unfiltered. */
	if (owner != NULL && owner[0] != '\0')
		sub->owner = xstrdup(owner);
	return sub;
}

void vsd_events_unsubscribe(struct vsd_event_sub *sub)
{
	if (sub == NULL)
		return;
	pthread_mutex_lock(&sub->ev->lock);
	sub->ev->nsubs--;
	pthread_mutex_unlock(&sub->ev->lock);
	free(sub->pending);
	free(sub->owner);
	free(sub);
}

/* The next event for sub (copied into sub->pending), called with the lock
 * held. 1 found, 0 none yet, -1 fell behind. */
static int next_locked(struct vsd_event_sub *sub)
{
	struct vsd_events *ev = sub->ev;

	if (ev->next_id - sub->next > VSD_EVENTS_LAG_MAX || sub->next < oldest_locked(ev))
		return -1;
	for (; sub->next < ev->next_id; sub->next++) {
		const struct ring_ev *e = &ev->ring[sub->next % VSD_EVENTS_RING];
		if (!(sub->mask & (1u << e->type)))
			continue;
		if (sub->owner != NULL && (e->owner == NULL || strcmp(e->owner, sub->owner) != 0))
			continue;
		free(sub->pending);
		sub->pending = xstrdup(e->text);
		sub->len = e->len;
		sub->off = 0;
		sub->next++;
		return 1;
	}
	return 0;
}

static void deadline(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

ssize_t vsd_events_read(struct vsd_event_sub *sub, char *buf, size_t max, int timeout_ms)
{
	static const char keepalive[] = ": keepalive\n\n";
	struct vsd_events *ev = sub->ev;
	struct timespec until;
	size_t n;
	int r = 0;

	if (sub->pending == NULL || sub->off == sub->len) {
		deadline(&until, timeout_ms);
		pthread_mutex_lock(&ev->lock);
		while (!ev->stopping && (r = next_locked(sub)) == 0 && timeout_ms > 0)
			if (pthread_cond_timedwait(&ev->cond, &ev->lock, &until) == ETIMEDOUT)
				break;
		if (!ev->stopping && r == 0 && timeout_ms > 0)
			r = next_locked(sub);
		if (ev->stopping)
			r = -1;
		pthread_mutex_unlock(&ev->lock);
		if (r < 0)
			return -1;
		if (r == 0) {
			if (timeout_ms == 0)
				return 0;
			n = sizeof(keepalive) - 1 < max ? sizeof(keepalive) - 1 : max;
			memcpy(buf, keepalive, n);
			return (ssize_t)n;
		}
	}
	n = sub->len - sub->off < max ? sub->len - sub->off : max;
	memcpy(buf, sub->pending + sub->off, n);
	sub->off += n;
	return (ssize_t)n;
}

uint64_t vsd_events_last_id(struct vsd_events *ev)
{
	uint64_t id;

	pthread_mutex_lock(&ev->lock);
	id = ev->next_id - 1;
	pthread_mutex_unlock(&ev->lock);
	return id;
}

size_t vsd_events_subscribers(struct vsd_events *ev)
{
	size_t n;

	pthread_mutex_lock(&ev->lock);
	n = ev->nsubs;
	pthread_mutex_unlock(&ev->lock);
	return n;
}
