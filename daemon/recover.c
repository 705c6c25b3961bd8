/* Startup recovery (docs/architecture.md, "State and crash safety"):
 *   1. fs-cow removes its template staging leftovers (vs_fs_recover);
 *   2. containers/.NAME.creating (a create cut short) are removed, and
 *      containers/.NAME.destroying (a destroy cut short) are finished,
 *      their disk unmounted first (a loop device that was attached but
 *      not yet mounted went away with the dead vsd: autoclear);
 *      templates/.upload.* (archive uploads cut short) are removed;
 *   3. id-range claims of this root whose container does not exist (or
 *      does not use that range) are released;
 *   4. every container's disk (limits.disk) is mounted if it is not
 *      (after a host reboot), whatever its state;
 *   5. every stopped container (not running, starting or stopping, which
 *      have a live monitor, nor suspended, which waits for a resume) gets
 *      vs_rt_recover, which undoes what a dead monitor left behind.
 * Problems with single entries are logged and skipped: a daemon that
 * refuses to start helps nobody. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/handlers.h"
#include "daemon/server.h"
#include "fs-cow/vs_fs.h"
#include "lib/vs_trace.h"
#include "lib/vs_util.h"

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && strcmp(s + n - m, suffix) == 0;
}

static DIR *reopen_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (d == NULL)
		close(fd);
	return d;
}

static void remove_container_leftovers(struct vsd *d)
{
	cleanup_dir DIR *dir = reopen_dir(d->containers_fd);
	struct dirent *e;

	if (dir == NULL) {
		vsd_log("recovery: cannot list %s/containers: %s", d->root, strerror(errno));
		return;
	}
	while ((e = readdir(dir)) != NULL) {
		struct vs_error err = {0};
		bool creating = has_suffix(e->d_name, ".creating");

		if (e->d_name[0] != '.' || (!creating && !has_suffix(e->d_name, ".destroying")))
			continue;
		if (vsd_container_unmount_disk(d, e->d_name, &err) < 0 ||
		    vs_fs_remove_tree(d->containers_fd, e->d_name, &err) < 0)
			vsd_log("recovery: removing containers/%s failed: %s", e->d_name, err.msg);
		else
			vsd_log("recovery: %s containers/%s", creating ? "undid" : "finished",
				e->d_name);
	}
}

static void remove_uploads(struct vsd *d)
{
	cleanup_dir DIR *dir = reopen_dir(d->templates_fd);
	struct dirent *e;

	if (dir == NULL)
		return;
	while ((e = readdir(dir)) != NULL) {
		if (strncmp(e->d_name, ".upload.", 8) != 0)
			continue;
		if (unlinkat(d->templates_fd, e->d_name, 0) < 0)
			vsd_log("recovery: removing templates/%s failed: %s", e->d_name,
				strerror(errno));
		else
			vsd_log("recovery: removed templates/%s", e->d_name);
	}
}

/* vsd_idmap_keep_fn: does container `name` of this root own `base`? */
static bool claim_in_use(void *ud, const char *name, uint32_t base)
{
	struct vsd *d = ud;
	cleanup_config struct vs_container_config cfg = {0};
	cleanup_free char *creating = xasprintf(".%s.creating", name);
	cleanup_free char *destroying = xasprintf(".%s.destroying", name);
	struct vs_error err = {0};

	if (!vsd_store_exists(d->containers_fd, name))
		/* Keep ranges whose files could not be removed above. */
		return vsd_store_exists(d->containers_fd, creating) ||
		       vsd_store_exists(d->containers_fd, destroying);
	if (vsd_index_load(d->index, d->containers_fd, name, &cfg, &err) < 0)
		return true; /* cannot tell: keep */
	return !cfg.privileged && cfg.idmap_uid == base;
}

static void recover_container(struct vsd *d, const char *name)
{
	cleanup_config struct vs_container_config cfg = {0};
	cleanup_free char *cdir = xasprintf("%s/containers/%s", d->root, name);
	struct vs_rt_status st;
	struct vs_error err = {0};

	/* Through the index: the id-range check above read it, and the
	 * network's reconciliation and the first list read it again. */
	if (vsd_index_load(d->index, d->containers_fd, name, &cfg, &err) < 0 ||
	    vsd_container_status(d, name, &st, &err) < 0) {
		vsd_log("recovery: container %s: %s", name, err.msg);
		return;
	}
	/* Mounted from create to destroy: after a host reboot, again here. */
	if (vs_fs_disk_mount(cdir, &err) < 0)
		vsd_log("recovery: container %s: %s", name, err.msg);
	vsd_snapshots_recover(d, name);
	/* A suspended container has no processes; its image waits for a
	 * resume (the runtime's recovery leaves it alone too). */
	if (st.state == VS_RT_SUSPENDED) {
		vsd_log("container %s: suspended", name);
		return;
	}
	if (st.state != VS_RT_STOPPED) {
		vsd_log("container %s: %s (init pid %d, monitor pid %d)", name,
			vs_rt_state_name(st.state), (int)st.init_pid, (int)st.monitor_pid);
		return;
	}
	if (vs_rt_recover(&d->inst, &cfg, &err) < 0)
		vsd_log("recovery: container %s: %s", name, err.msg);
	else
		vsd_debug("container %s: stopped", name);
}

int vsd_recover(struct vsd *d, struct vs_error *err)
{
	cleanup_strv char **names = NULL;
	struct vs_error e = {0};
	unsigned released = 0;

	vs_trace_mark("recover.begin");
	if (vs_fs_recover(d->root, &e) < 0)
		vsd_log("recovery: templates: %s", e.msg);
	remove_container_leftovers(d);
	remove_uploads(d);
	/* Before the id-range claims are collected: a staged incoming
	 * container holds one until its migration is decided. */
	vsd_mig_recover_incoming(d);
	if (vsd_idmap_gc(d->idmap_registry, d->root, claim_in_use, d, &released, &e) < 0)
		vsd_log("recovery: id ranges: %s", e.msg);
	else if (released > 0)
		vsd_log("recovery: released %u stale id range claim(s)", released);
	vs_trace_mark("recover.idmaps");
	if (vsd_store_list(d->containers_fd, &names, err) < 0)
		return -1;
	for (size_t i = 0; names[i] != NULL; i++)
		recover_container(d, names[i]);
	vs_trace_mark("recover.containers");
	return 0;
}
