/* Per-container locks: a start, stop, restart or destroy of one container
 * waits for another on the same container, never for unrelated ones, and
 * is refused while an operation (suspend, resume, checkpoint, restore)
 * holds it. The lock is not tied to a thread: an operation takes it in the
 * request that starts it and its worker thread releases it. An entry lives
 * only while someone holds or waits for it. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"
#include "daemon/store.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

struct name_entry {
	struct name_entry *next;
	char name[VS_NAME_MAX + 1];
	unsigned users; /* holder + waiters */
	bool held;
	const char *transition;
	const char *op_kind; /* non-NULL while an operation holds it */
	uint64_t op_id;
	char note[VS_ERROR_MSG_MAX]; /* the holder's own refusal ("" the usual one) */
};

struct vsd_names {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct name_entry *list;
};

struct vsd_names *vsd_names_new(void)
{
	struct vsd_names *n = xcalloc(1, sizeof(*n));

	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	return n;
}

void vsd_names_free(struct vsd_names *n)
{
	if (n == NULL)
		return;
	while (n->list != NULL) {
		struct name_entry *e = n->list;
		n->list = e->next;
		free(e);
	}
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

static struct name_entry *find_locked(struct vsd_names *n, const char *name)
{
	for (struct name_entry *e = n->list; e != NULL; e = e->next)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

/* Drop one user of e; the entry goes with its last user. */
static void put_locked(struct vsd_names *n, struct name_entry *e)
{
	if (--e->users > 0)
		return;
	for (struct name_entry **pp = &n->list; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			free(e);
			return;
		}
	}
}

const char vsd_names_pull_kind[] = "post-copy pull settlement";

static int busy_error(const struct name_entry *e, struct vs_error *err)
{
	if (e->note[0] != '\0')
		return vs_error_kind(err, VS_EK_CONFLICT, "%s", e->note);
	if (e->op_kind == vsd_names_pull_kind)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "container '%s' is held until its failed post-copy pull is "
				     "settled (the target's copy may still run): vsctl migrate %s "
				     "--recover [--force]",
				     e->name, e->name);
	if (e->op_id == 0)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "container '%s' is busy: a %s operation is starting", e->name,
				     e->op_kind);
	return vs_error_kind(err, VS_EK_CONFLICT,
			     "container '%s' is busy with operation %llu (%s) until it ends",
			     e->name, (unsigned long long)e->op_id, e->op_kind);
}

static int hold(struct vsd_names *n, const char *name, const char *transition, const char *op_kind,
		struct vs_error *err)
{
	struct name_entry *e;

	pthread_mutex_lock(&n->lock);
	e = find_locked(n, name);
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		snprintf(e->name, sizeof(e->name), "%s", name);
		e->next = n->list;
		n->list = e;
	}
	e->users++;
	/* Requests wait for requests; nobody waits for an operation, which
	 * may take as long as dumping the container's memory. */
	while (e->held && e->op_kind == NULL)
		pthread_cond_wait(&n->cond, &n->lock);
	if (e->held) {
		busy_error(e, err);
		put_locked(n, e);
		pthread_mutex_unlock(&n->lock);
		return -1;
	}
	e->held = true;
	e->transition = transition;
	e->op_kind = op_kind;
	e->op_id = 0;
	e->note[0] = '\0';
	pthread_mutex_unlock(&n->lock);
	return 0;
}

int vsd_names_lock(struct vsd_names *n, const char *name, const char *transition,
		   struct vs_error *err)
{
	return hold(n, name, transition, NULL, err);
}

int vsd_names_lock_op(struct vsd_names *n, const char *name, const char *op_kind,
		      struct vs_error *err)
{
	return hold(n, name, NULL, op_kind, err);
}

void vsd_names_set_op(struct vsd_names *n, const char *name, uint64_t op_id)
{
	struct name_entry *e;

	pthread_mutex_lock(&n->lock);
	e = find_locked(n, name);
	if (e != NULL && e->held && e->op_kind != NULL)
		e->op_id = op_id;
	pthread_mutex_unlock(&n->lock);
}

void vsd_names_set_kind(struct vsd_names *n, const char *name, const char *op_kind)
{
	struct name_entry *e;

	pthread_mutex_lock(&n->lock);
	e = find_locked(n, name);
	if (e != NULL && e->held) {
		e->op_kind = op_kind;
		e->op_id = 0;
	}
	/* Requests waiting on a request's hold are refused from now. */
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

void vsd_names_set_note(struct vsd_names *n, const char *name, const char *note)
{
	struct name_entry *e;

	pthread_mutex_lock(&n->lock);
	e = find_locked(n, name);
	if (e != NULL && e->held)
		snprintf(e->note, sizeof(e->note), "%s", note != NULL ? note : "");
	pthread_mutex_unlock(&n->lock);
}

void vsd_names_set_transition(struct vsd_names *n, const char *name, const char *transition)
{
	struct name_entry *e;

	pthread_mutex_lock(&n->lock);
	e = find_locked(n, name);
	if (e != NULL)
		e->transition = transition;
	pthread_mutex_unlock(&n->lock);
}

void vsd_names_unlock(struct vsd_names *n, const char *name)
{
	struct name_entry *e;

	pthread_mutex_lock(&n->lock);
	e = find_locked(n, name);
	if (e != NULL && e->held) {
		e->held = false;
		e->transition = NULL;
		e->op_kind = NULL;
		e->op_id = 0;
		e->note[0] = '\0';
		put_locked(n, e);
	}
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

bool vsd_names_info(struct vsd_names *n, const char *name, struct vsd_hold_info *info)
{
	struct name_entry *e;
	bool held;

	memset(info, 0, sizeof(*info));
	pthread_mutex_lock(&n->lock);
	e = find_locked(n, name);
	held = e != NULL && e->held;
	if (held) {
		info->transition = e->transition;
		info->op_kind = e->op_kind;
		info->op_id = e->op_id;
	}
	pthread_mutex_unlock(&n->lock);
	return held;
}

int vsd_names_check_op(struct vsd_names *n, const char *name, struct vs_error *err)
{
	struct name_entry *e;
	int r = 0;

	pthread_mutex_lock(&n->lock);
	e = find_locked(n, name);
	if (e != NULL && e->held && e->op_kind != NULL)
		r = busy_error(e, err);
	pthread_mutex_unlock(&n->lock);
	return r;
}
