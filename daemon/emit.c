/* Events from where things happen: the helpers that handlers, workers and
 * the sampler call to publish on the bus (events.c), its start with the
 * operations registry hooked to it, and ETags of stored files. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"

/* The bus learns a container's owner when it is created or changed (and
 * at start, vsd_emit_owners), so that publishing never reads a file. */
static void learn_owner(struct vsd *d, const char *container)
{
	cleanup_config struct vs_container_config cfg = {0};
	struct vs_error err = {0};

	if (vsd_index_load(d->index, d->containers_fd, container, &cfg, &err) == 0)
		vsd_events_set_owner(d->events, container, cfg.owner);
}

void vsd_emit_owners(struct vsd *d)
{
	cleanup_strv char **names = NULL;
	struct vs_error err = {0};

	if (d->events == NULL || vsd_store_list(d->containers_fd, &names, &err) < 0)
		return;
	for (size_t i = 0; names[i] != NULL; i++)
		learn_owner(d, names[i]);
}

void vsd_emit(struct vsd *d, enum vsd_event_type t, const char *container, const char *extra)
{
	if (d->events != NULL && container != NULL &&
	    (t == VSD_EV_CONTAINER_CREATED || t == VSD_EV_CONTAINER_UPDATED))
		learn_owner(d, container);
	if (d->events != NULL)
		vsd_events_publish(d->events, t, container, extra, (int64_t)time(NULL));
}

void vsd_emit_state(struct vsd *d, const char *container, bool running)
{
	if (d->events != NULL)
		vsd_events_state(d->events, container, running, (int64_t)time(NULL));
}

/* Operations of a container ("container-suspend" ..., and its snapshots'
 * "snapshot-create" ...) name it, so owner-scoped subscribers get them. */
static void on_op(void *ud, bool end, const char *kind, const char *target, const char *extra)
{
	struct vsd *d = ud;
	const char *container =
	    strncmp(kind, "container-", 10) == 0 || strncmp(kind, "snapshot-", 9) == 0 ? target
										       : NULL;

	vsd_emit(d, end ? VSD_EV_OPERATION_END : VSD_EV_OPERATION_PROGRESS, container, extra);
}

void vsd_events_init(struct vsd *d)
{
	/* Ids go on increasing over restarts: a client resuming with the
	 * last id of an earlier run gets this run's events from its start. */
	d->events = vsd_events_new((uint64_t)time(NULL) * 1000000u);
	vsd_ops_set_notify(d->ops, on_op, d);
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
