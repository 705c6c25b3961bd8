/* Walks over a container's cgroup tree. Below the container's own cgroup
 * every name was chosen by the container (delegation), so the walk is
 * descriptor-relative and never builds a path from those names. */
#include "cgroups/cg-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_util.h"

/* The sub-cgroup names of dfd. The directory is read completely and closed
 * before the caller descends, so one descriptor per level stays open. */
static int list_children(int dfd, char ***names, struct vs_error *err)
{
	cleanup_close int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_dir DIR *d = NULL;
	char **v = xcalloc(1, sizeof(char *));
	size_t n = 0;
	struct dirent *de;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		vs_strv_free(v);
		return vs_error_set(err, errno, "open cgroup directory");
	}
	steal_fd(&fd);
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		v = xrealloc(v, (n + 2) * sizeof(char *));
		v[n++] = xstrdup(de->d_name);
		v[n] = NULL;
	}
	if (errno != 0) {
		vs_strv_free(v);
		return vs_error_set(err, errno, "read cgroup directory");
	}
	*names = v;
	return 0;
}

static int walk_at(int parentfd, const char *name, int dfd, int depth, vs_cg_visit_fn fn,
		   void *data, struct vs_error *err)
{
	cleanup_strv char **children = NULL;

	if (depth > VS_CG_MAX_DEPTH)
		return vs_error_set(err, ELOOP, "cgroup tree deeper than %d levels",
				    VS_CG_MAX_DEPTH);
	if (list_children(dfd, &children, err) < 0)
		return -1;
	for (size_t i = 0; children[i] != NULL; i++) {
		cleanup_close int cfd =
		    openat(dfd, children[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		/* Gone meanwhile (the container removed it): nothing to visit. */
		if (cfd < 0 && errno == ENOENT)
			continue;
		if (cfd < 0)
			return vs_error_set(err, errno, "open sub-cgroup '%s'", children[i]);
		if (walk_at(dfd, children[i], cfd, depth + 1, fn, data, err) < 0)
			return -1;
	}
	return fn(parentfd, name, dfd, data, err);
}

int vs_cg_walk(const char *dir, vs_cg_visit_fn fn, void *data, struct vs_error *err)
{
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0 && errno == ENOENT)
		return 1;
	if (dfd < 0)
		return vs_error_set(err, errno, "open %s", dir);
	if (walk_at(-1, NULL, dfd, 0, fn, data, err) < 0)
		return vs_error_prefix(err, "%s", dir);
	return 0;
}

struct pid_list {
	pid_t *pids;
	size_t n;
};

static int collect_pids(int parentfd, const char *name, int dfd, void *data, struct vs_error *err)
{
	struct pid_list *pl = data;
	cleanup_free char *text = NULL;
	char *save = NULL;

	struct vs_error e;

	if (vs_read_file_at(dfd, "cgroup.procs", 1 << 24, &text, NULL, &e) < 0) {
		/* Removed between listing and reading (ENOENT, or ENODEV through
		 * a descriptor to a removed cgroup): its tasks are gone too. */
		if (e.errnum == ENOENT || e.errnum == ENODEV)
			return 0;
		if (err != NULL)
			*err = e;
		return -1;
	}
	for (char *l = strtok_r(text, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		char *end;
		long pid = strtol(l, &end, 10);

		if (*end != '\0' || pid <= 0)
			return vs_error_set(err, EINVAL, "cgroup.procs: unexpected line '%.20s'",
					    l);
		pl->pids = xrealloc(pl->pids, (pl->n + 1) * sizeof(pid_t));
		pl->pids[pl->n++] = (pid_t)pid;
	}
	return 0;
}

int vs_cg_tree_pids(const char *dir, pid_t **pids, size_t *n, struct vs_error *err)
{
	struct pid_list pl = {*pids, *n};
	int r = vs_cg_walk(dir, collect_pids, &pl, err);

	*pids = pl.pids;
	*n = pl.n;
	return r < 0 ? -1 : 0;
}
