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
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/handlers.h"
#include "lib/vs_util.h"
#include "migrate/vs_migrate.h"

struct pages_run {
	struct vsd_peer_id id; /* a copy without the progress hook */
	char path[128];
	const char *part;
	int fd;
	uint64_t rate;
	uint64_t sent;
	struct vs_error err;
	int rc;
};

static void *pages_thread(void *p)
{
	struct pages_run *pr = p;

	pr->rc = vsd_peer_pages_stream(&pr->id, pr->path, pr->part, pr->fd, pr->rate, &pr->sent,
				       NULL, &pr->err);
	return NULL;
}

/* What the monitor is asked for: pre-copy round `round` (> 0), else the
 * final dump after `rounds` rounds. */
struct pages_ask {
	unsigned round, rounds;
	const char *netlock; /* the final dump's network lock (NULL: CRIU's default) */
};

/* A socket pair, one end streamed to the target's page server (part
 * "round" or "pages"), the other passed to the monitor for criu. */
static int run_pages(struct vsd *d, const struct vs_container_config *cfg,
		     const struct vsd_peer_id *peer, const char *mig_id, uint64_t rate,
		     struct vsd_op_run *run, struct pages_ask ask, int64_t *pages_bytes,
		     struct vs_rt_cr_result *res, struct vs_error *err)
{
	struct pages_run pr = {.id = *peer, .fd = -1, .rate = rate, .rc = -1};
	pthread_t t;
	int sv[2], rc;

	*pages_bytes = 0;
	pr.id.progress = NULL; /* the operation's progress is this thread's */
	pr.part = ask.round > 0 ? "round" : "pages";
	snprintf(pr.path, sizeof(pr.path), "/v1/migrations/%s/sync", mig_id);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return vs_error_set(err, errno, "the page server's socket");
	pr.fd = sv[0];
	if (pthread_create(&t, NULL, pages_thread, &pr) != 0) {
		close(sv[0]);
		close(sv[1]);
		return vs_error_set(err, EAGAIN, "a thread for the pages' stream");
	}
	rc = ask.round > 0 ? vs_rt_predump_pages(&d->inst, cfg, ask.round, sv[1],
						 vsd_op_progress_cb, run, res, err)
			   : vs_rt_checkpoint_pages(&d->inst, cfg, sv[1], ask.rounds, ask.netlock,
						    vsd_op_progress_cb, run, res, err);
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

int vsd_mig_dump_pages(struct vsd *d, const struct vs_container_config *cfg,
		       const struct vsd_peer_id *peer, const char *mig_id, uint64_t rate,
		       unsigned rounds, const char *netlock, struct vsd_op_run *run,
		       int64_t *pages_bytes, struct vs_error *err)
{
	struct vs_rt_cr_result res = {0};

	return run_pages(d, cfg, peer, mig_id, rate, run, (struct pages_ask){0, rounds, netlock},
			 pages_bytes, &res, err);
}

int vsd_mig_precopy_memory(struct vsd *d, const struct vs_container_config *cfg,
			   const struct vsd_peer_id *peer, const char *mig_id, uint64_t rate,
			   struct vsd_op_run *run, struct vsd_mig_rounds *out, struct vs_error *err)
{
	enum vs_mig_precopy_next next = VS_MIG_PRECOPY_AGAIN;

	memset(out, 0, sizeof(*out));
	while (next == VS_MIG_PRECOPY_AGAIN) {
		struct vs_rt_cr_result res = {0};
		int64_t bytes = 0;
		unsigned k = out->n + 1;
		char line[160];

		if (run_pages(d, cfg, peer, mig_id, rate, run, (struct pages_ask){k, 0, NULL},
			      &bytes, &res, err) < 0) {
			vs_rt_drop_rounds(&d->inst, cfg);
			return vs_error_prefix(err, "memory pre-copy round %u", k);
		}
		/* The round's stats-dump counts its pages (res.image_bytes). */
		out->pages[out->n++] = (uint64_t)res.image_bytes / VSD_MIG_PAGE_SIZE;
		out->bytes += bytes;
		next = vs_mig_precopy_next(out->pages, out->n);
		snprintf(line, sizeof(line),
			 "memory pre-copy round %u: %llu pages, %lld bytes sent%s%s", k,
			 (unsigned long long)out->pages[out->n - 1], (long long)bytes,
			 next == VS_MIG_PRECOPY_AGAIN ? "" : "; stopping: ",
			 next == VS_MIG_PRECOPY_AGAIN ? "" : vs_mig_precopy_reason(next));
		vsd_op_progress_cb(run, line);
	}
	return 0;
}

/* ---- post-copy (docs/migration.md, "Post-copy") -------------------------- */

int vsd_mig_dump_lazy(struct vsd *d, const struct vs_container_config *cfg, const char *netlock,
		      struct vsd_op_run *run, int *fd, uint64_t *lazy_pages, struct vs_error *err)
{
	struct vs_rt_cr_result res = {0};
	cleanup_free char *img = xasprintf("%s/containers/%s/checkpoint", d->root, cfg->name);
	cleanup_close int ifd = -1;
	struct vs_error e = {0};
	int sv[2], rc;

	*fd = -1;
	*lazy_pages = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return vs_error_set(err, errno, "the lazy pages' socket");
	rc = vs_rt_checkpoint_lazy(&d->inst, cfg, sv[1], netlock, vsd_op_progress_cb, run, &res,
				   err);
	close(sv[1]);
	if (rc < 0) {
		close(sv[0]);
		return -1;
	}
	*fd = sv[0];
	/* The count is for the result; an image it cannot read is the
	 * target's to refuse. */
	ifd = open(img, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ifd < 0 || vs_mig_image_lazy_pages(ifd, lazy_pages, &e) < 0)
		vsd_log("lazy pages of '%s': %s", cfg->name, ifd < 0 ? strerror(errno) : e.msg);
	return 0;
}

struct vsd_mig_lazy {
	struct pages_run pr;
	pthread_t t;
};

struct vsd_mig_lazy *vsd_mig_lazy_start(const struct vsd_peer_id *peer, const char *mig_id,
					uint64_t rate, int fd, struct vs_error *err)
{
	struct vsd_mig_lazy *l = xcalloc(1, sizeof(*l));

	l->pr = (struct pages_run){.id = *peer, .fd = fd, .rate = rate, .rc = -1, .part = "lazy"};
	l->pr.id.progress = NULL;
	snprintf(l->pr.path, sizeof(l->pr.path), "/v1/migrations/%s/sync", mig_id);
	if (pthread_create(&l->t, NULL, pages_thread, &l->pr) != 0) {
		close(fd);
		free(l);
		vs_error_set(err, EAGAIN, "a thread for the lazy pages' stream");
		return NULL;
	}
	return l;
}

int vsd_mig_lazy_end(struct vsd_mig_lazy *l, bool cut, int64_t *bytes, struct vs_error *err)
{
	int rc;

	if (l == NULL)
		return 0;
	if (cut)
		shutdown(l->pr.fd, SHUT_RDWR);
	pthread_join(l->t, NULL);
	close(l->pr.fd);
	if (bytes != NULL)
		*bytes = (int64_t)l->pr.sent;
	rc = l->pr.rc;
	if (rc < 0 && err != NULL)
		*err = l->pr.err;
	free(l);
	return rc < 0 ? -1 : 0;
}
