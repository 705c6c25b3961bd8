/* The source's live dump with its memory pages sent straight to the
 * target (docs/migration.md, "Pages"): a socket pair, one end passed to
 * the container's monitor for `criu dump --page-server --ps-socket`, the
 * other bridged by vsd_peer_pages_stream to the target's `criu
 * page-server` over the node-to-node HTTPS stream. No page is written to
 * this node's disk. The dump leaves the container held (frozen, node
 * sides down, tasks alive) instead of killed: its pages now exist only in
 * its memory and on the target, so a move that fails before the commit
 * point thaws it (vs_rt_release_held) rather than restoring an image. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/handlers.h"
#include "lib/vs_util.h"

struct pages_run {
	struct vsd_peer_id id; /* a copy without the progress hook */
	char path[128];
	int fd;
	uint64_t rate;
	uint64_t sent;
	struct vs_error err;
	int rc;
};

static void *pages_thread(void *p)
{
	struct pages_run *pr = p;

	pr->rc =
	    vsd_peer_pages_stream(&pr->id, pr->path, pr->fd, pr->rate, &pr->sent, NULL, &pr->err);
	return NULL;
}

int vsd_mig_dump_pages(struct vsd *d, const struct vs_container_config *cfg,
		       const struct vsd_peer_id *peer, const char *mig_id, uint64_t rate,
		       const char *netlock, struct vsd_op_run *run, int64_t *pages_bytes,
		       struct vs_error *err)
{
	struct pages_run pr = {.id = *peer, .fd = -1, .rate = rate, .rc = -1};
	struct vs_rt_cr_result res = {0};
	pthread_t t;
	int sv[2], rc;

	*pages_bytes = 0;
	pr.id.progress = NULL; /* the operation's progress is this thread's */
	snprintf(pr.path, sizeof(pr.path), "/v1/migrations/%s/sync", mig_id);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return vs_error_set(err, errno, "the page server's socket");
	pr.fd = sv[0];
	if (pthread_create(&t, NULL, pages_thread, &pr) != 0) {
		close(sv[0]);
		close(sv[1]);
		return vs_error_set(err, EAGAIN, "a thread for the pages' stream");
	}
	rc = vs_rt_checkpoint_pages(&d->inst, cfg, sv[1], netlock, vsd_op_progress_cb, run, &res,
				    err);
	/* Our copy closed, the monitor's gone with criu: the stream's input
	 * ends, the target's page server ends its answer, the thread ends. */
	close(sv[1]);
	if (rc < 0)
		shutdown(sv[0], SHUT_RDWR); /* a stream still opening gives up */
	pthread_join(t, NULL);
	close(sv[0]);
	*pages_bytes = (int64_t)pr.sent;
	if (rc < 0) {
		/* The page server's end usually says why criu could not write. */
		if (pr.rc < 0) {
			struct vs_error dump = *err;
			vs_error_kind(err, dump.kind, "%s (the pages' stream: %s)", dump.msg,
				      pr.err.msg);
		}
		return -1;
	}
	if (pr.rc < 0) {
		*err = pr.err;
		return vs_error_prefix(err, "send the memory pages to the target's page server");
	}
	return 0;
}
