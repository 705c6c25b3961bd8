/* A new process joins the container's cgroups by itself.
 *
 * Moving another process (writing its pid to cgroup.procs) takes the
 * kernel's global threadgroup lock for writing, which waits for an RCU
 * grace period: milliseconds, on every container start and every exec.
 * Two ways around it, used together: clone3(CLONE_INTO_CGROUP) places the
 * child in the cgroup2 directory as it is created, and a thread that writes
 * "0" (itself) to a v1 hierarchy's "tasks" file moves only itself, which
 * the kernel does without that lock. Our children are single-threaded at
 * that point, so moving the thread moves the process. The files are opened
 * by the (root) parent: v1 checks the opener's credentials, so the child may
 * already be in a user namespace of its own. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cgroups/cg-private.h"
#include "cgroups/vs_cgroups.h"
#include "lib/vs_util.h"

int vs_cg_join_open(struct vs_cg *cg, struct vs_cg_join *j, struct vs_error *err)
{
	memset(j, 0, sizeof(*j));
	j->v2_dir = -1;
	for (size_t i = 0; i < cg->host->n; i++) {
		const struct vs_cg_hier *h = &cg->host->hier[i];
		if (h->v2) {
			j->v2_dir = open(cg->dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (j->v2_dir < 0)
				goto fail;
			continue;
		}
		if (j->n_v1 == VS_ARRAY_SIZE(j->v1_tasks)) {
			errno = E2BIG;
			goto fail;
		}
		j->v1_tasks[j->n_v1] =
		    openat(AT_FDCWD, cg->dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (j->v1_tasks[j->n_v1] >= 0) {
			int dfd = j->v1_tasks[j->n_v1];
			j->v1_tasks[j->n_v1] = openat(dfd, "tasks", O_WRONLY | O_CLOEXEC);
			close(dfd);
		}
		if (j->v1_tasks[j->n_v1] < 0)
			goto fail;
		j->n_v1++;
	}
	return 0;
fail:
	vs_error_set(err, errno, "open the cgroups of '%s' for joining", cg->name);
	vs_cg_join_close(j);
	return -1;
}

int vs_cg_join_self(struct vs_cg_join *j)
{
	for (size_t i = 0; i < j->n_v1; i++) {
		ssize_t n;
		do {
			n = write(j->v1_tasks[i], "0", 1);
		} while (n < 0 && errno == EINTR);
		if (n != 1)
			return -1;
	}
	return 0;
}

void vs_cg_join_close(struct vs_cg_join *j)
{
	for (size_t i = 0; i < j->n_v1; i++)
		if (j->v1_tasks[i] >= 0)
			close(j->v1_tasks[i]);
	j->n_v1 = 0;
	if (j->v2_dir >= 0)
		close(j->v2_dir);
	j->v2_dir = -1;
}
