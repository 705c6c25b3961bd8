/* Per-container locks: a start, stop, restart or destroy of one container
 * waits for another on the same container, never for unrelated ones. An
 * entry lives only while someone holds or waits for it. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

struct name_entry {
	struct name_entry *next;
	char name[VS_NAME_MAX + 1];
	unsigned users; /* holder + waiters */
	bool held;
	const char *transition;
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

void vsd_names_lock(struct vsd_names *n, const char *name, const char *transition)
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
	while (e->held)
		pthread_cond_wait(&n->cond, &n->lock);
	e->held = true;
	e->transition = transition;
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
	struct name_entry **pp;

	pthread_mutex_lock(&n->lock);
	for (pp = &n->list; *pp != NULL; pp = &(*pp)->next) {
		struct name_entry *e = *pp;
		if (strcmp(e->name, name) != 0)
			continue;
		e->held = false;
		e->transition = NULL;
		if (--e->users == 0) {
			*pp = e->next;
			free(e);
		}
		break;
	}
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

const char *vsd_names_transition(struct vsd_names *n, const char *name)
{
	const char *t = NULL;
	struct name_entry *e;

	pthread_mutex_lock(&n->lock);
	e = find_locked(n, name);
	if (e != NULL && e->held)
		t = e->transition;
	pthread_mutex_unlock(&n->lock);
	return t;
}
