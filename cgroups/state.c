/* Freezing, killing and emptiness of a container's cgroup tree. */
#include "cgroups/cg-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/vs_syscall.h"
#include "lib/vs_util.h"

/* Most pids signalled per kill round: each holds a pidfd for the round. */
#define KILL_BATCH 512
/* Freezes tried for a tree with no vfork in flight (vs_cg_freeze_settled). */
#define VFORK_TRIES 20

/* The container's directory in one v1 hierarchy, NULL without v1. Every v1
 * hierarchy holds every task; pids, freezer and systemd's are preferred as
 * the ones no guest has a reason to rearrange. */
static const char *v1_tasks_dir(struct vs_cg *cg)
{
	static const char *const pref[] = {"pids", "freezer", "name=systemd"};
	const struct vs_cg_host *h = cg->host;

	for (size_t i = 0; i < VS_ARRAY_SIZE(pref); i++) {
		int j = vs_cg_find(h, pref[i]);
		if (j >= 0 && !h->hier[j].v2)
			return cg->dirs[j];
	}
	for (size_t i = 0; i < h->n; i++)
		if (!h->hier[i].v2)
			return cg->dirs[i];
	return NULL;
}

/* The v1 freezer directory, or NULL when freezing goes through cgroup2. */
static const char *v1_freezer(struct vs_cg *cg)
{
	int i = vs_cg_find(cg->host, "freezer");

	return i >= 0 && !cg->host->hier[i].v2 ? cg->dirs[i] : NULL;
}

static int set_frozen_v1(const char *dir, bool freeze, struct vs_error *err)
{
	const char *want = freeze ? "FROZEN" : "THAWED";
	int64_t deadline = vs_cg_deadline(VS_CG_TIMEOUT_MS);

	/* The v1 freezer reads FREEZING until every task has stopped; tasks
	 * that were busy in the kernel freeze later. Writing FROZEN again
	 * retries the ones it missed (as runc does). */
	do {
		cleanup_free char *state = NULL;

		if (vs_cg_write(dir, "freezer.state", want, err) < 0 ||
		    vs_cg_read(dir, "freezer.state", &state, err) < 0)
			return -1;
		if (strcmp(state, want) == 0)
			return 0;
	} while (vs_cg_wait_step(deadline));
	return vs_error_set(err, ETIMEDOUT, "%s/freezer.state: not %s after %d s", dir, want,
			    VS_CG_TIMEOUT_MS / 1000);
}

static int set_frozen_v2(const char *dir, bool freeze, struct vs_error *err)
{
	int64_t deadline = vs_cg_deadline(VS_CG_TIMEOUT_MS), frozen;

	if (vs_cg_write(dir, "cgroup.freeze", freeze ? "1" : "0", err) < 0)
		return -1;
	do {
		if (vs_cg_read_key(dir, "cgroup.events", "frozen", &frozen, err) < 0)
			return -1;
		if (frozen == (freeze ? 1 : 0))
			return 0;
	} while (vs_cg_wait_step(deadline));
	return vs_error_set(err, ETIMEDOUT, "%s/cgroup.events: not 'frozen %d' after %d s", dir,
			    freeze ? 1 : 0, VS_CG_TIMEOUT_MS / 1000);
}

static int set_frozen(struct vs_cg *cg, bool freeze, struct vs_error *err)
{
	const char *dir = v1_freezer(cg);

	if (dir != NULL)
		return set_frozen_v1(dir, freeze, err);
	if (cg->host->unified >= 0)
		return set_frozen_v2(cg->dirs[cg->host->unified], freeze, err);
	return vs_error_kind(err, VS_EK_UNSUPPORTED, "no freezer on this host");
}

int vs_cg_freeze(struct vs_cg *cg, struct vs_error *err)
{
	if (set_frozen(cg, true, err) == 0)
		return 0;
	/* Half frozen is the worst state to leave a container in. */
	(void)set_frozen(cg, false, NULL);
	return vs_error_prefix(err, "freeze cgroup %s/%s", cg->parent, cg->name);
}

/* Where a thread waits for its vfork child to exec or exit: the wait is
 * inlined into kernel_clone (5.10 on), _do_fork before. */
bool vs_cg_wchan_is_vfork(const char *wchan)
{
	static const char *const names[] = {"kernel_clone", "_do_fork", "do_fork",
					    "wait_for_vfork_done"};

	for (size_t i = 0; i < VS_ARRAY_SIZE(names); i++)
		if (strcmp(wchan, names[i]) == 0)
			return true;
	return false;
}

/* A thread of pid waiting for a vfork child: its tid, else 0. */
static pid_t vfork_waiter(pid_t pid)
{
	char path[64];
	cleanup_dir DIR *d = NULL;
	struct dirent *e;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while (d != NULL && (e = readdir(d)) != NULL) {
		char wchan[64] = "";
		cleanup_close int fd = -1;
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/wchan", (int)pid, e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		n = fd < 0 ? -1 : read(fd, wchan, sizeof(wchan) - 1);
		wchan[n > 0 ? n : 0] = '\0';
		if (vs_cg_wchan_is_vfork(wchan))
			return (pid_t)atoi(e->d_name);
	}
	return 0;
}

/* The first task of the frozen tree caught waiting for a vfork child, or
 * 0 (also when the tree cannot be listed: CRIU then says what it finds). */
static pid_t frozen_in_vfork(struct vs_cg *cg)
{
	const char *dir = v1_freezer(cg);
	cleanup_free pid_t *pids = NULL;
	size_t n = 0;

	if (dir == NULL && cg->host->unified >= 0)
		dir = cg->dirs[cg->host->unified];
	if (dir == NULL || vs_cg_tree_pids(dir, &pids, &n, NULL) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		pid_t t = vfork_waiter(pids[i]);
		if (t != 0)
			return t;
	}
	return 0;
}

int vs_cg_freeze_settled(struct vs_cg *cg, struct vs_error *err)
{
	pid_t t = 0;

	for (int i = 0; i < VFORK_TRIES; i++) {
		if (vs_cg_freeze(cg, err) < 0)
			return -1;
		t = frozen_in_vfork(cg);
		if (t == 0)
			return i;
		/* The child execs or exits within microseconds once it runs. */
		if (vs_cg_thaw(cg, err) < 0)
			return -1;
		usleep(1000 * (useconds_t)(i + 1));
	}
	return vs_error_set(err, EBUSY,
			    "task %d keeps waiting for a vfork child (tried %d times): the "
			    "tree cannot be checkpointed now",
			    (int)t, VFORK_TRIES);
}

int vs_cg_thaw(struct vs_cg *cg, struct vs_error *err)
{
	if (set_frozen(cg, false, err) < 0)
		return vs_error_prefix(err, "thaw cgroup %s/%s", cg->parent, cg->name);
	return 0;
}

static bool has_pid(const pid_t *pids, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/* Without cgroup.kill: signal what cgroup.procs lists. A listed pid may
 * exit and be reused by an unrelated process before kill(), so each pid is
 * pinned with a pidfd first and signalled only if a second listing still
 * shows it: then the pidfd's process is the one in the cgroup. */
static int kill_listed(const char *dir, struct vs_error *err)
{
	cleanup_free pid_t *pids = NULL;
	cleanup_free pid_t *again = NULL;
	size_t n = 0, m = 0;
	int fds[KILL_BATCH], r;

	if (vs_cg_tree_pids(dir, &pids, &n, err) < 0)
		return -1;
	if (n > KILL_BATCH)
		n = KILL_BATCH;
	for (size_t i = 0; i < n; i++) {
		fds[i] = vs_pidfd_open(pids[i], 0);
		/* Kernels before 5.3 have no pidfds: plain kill, small race. */
		if (fds[i] < 0 && errno == ENOSYS)
			kill(pids[i], SIGKILL);
	}
	r = vs_cg_tree_pids(dir, &again, &m, err);
	for (size_t i = 0; i < n; i++) {
		if (r == 0 && fds[i] >= 0 && has_pid(again, m, pids[i]))
			vs_pidfd_send_signal(fds[i], SIGKILL, NULL, 0);
		vs_closep(&fds[i]);
	}
	return r;
}

/* One round: cgroup.kill on cgroup2 where the kernel has it (the whole
 * tree at once, and racing forks fail), else signal what cgroup.procs
 * lists; on hybrid hosts also what the v1 side lists, in case a task got
 * into our v1 cgroups but not into cgroup2 (a half-done attach). */
static int kill_round(struct vs_cg *cg, struct vs_error *err)
{
	const char *frz = v1_freezer(cg), *v1 = v1_tasks_dir(cg);
	const struct vs_cg_host *h = cg->host;
	const char *uni = h->unified >= 0 ? cg->dirs[h->unified] : NULL;

	if (uni != NULL && vs_cg_exists(uni, "cgroup.kill")) {
		if (vs_cg_write(uni, "cgroup.kill", "1", err) < 0)
			return -1;
	} else if (uni != NULL && kill_listed(uni, err) < 0) {
		return -1;
	}
	if (v1 != NULL && kill_listed(v1, err) < 0)
		return -1;
	/* Tasks frozen by the v1 freezer keep a pending SIGKILL until thawed. */
	if (frz != NULL && vs_cg_exists(frz, "freezer.state"))
		return vs_cg_write(frz, "freezer.state", "THAWED", err);
	return 0;
}

/* cgroup2's "populated" covers the whole subtree. *empty is true when it
 * reads 0 or the cgroup does not exist. */
static int v2_empty(const char *dir, bool *empty, struct vs_error *err)
{
	struct vs_error e;
	int64_t populated;

	if (vs_cg_read_key(dir, "cgroup.events", "populated", &populated, &e) == 0) {
		*empty = populated == 0;
		return 0;
	}
	if (e.errnum == ENOENT && !vs_cg_exists(dir, ".")) {
		*empty = true;
		return 0;
	}
	if (err != NULL)
		*err = e;
	return -1;
}

static int tree_empty(struct vs_cg *cg, bool *empty, struct vs_error *err)
{
	const struct vs_cg_host *h = cg->host;
	const char *v1 = v1_tasks_dir(cg);
	cleanup_free pid_t *pids = NULL;
	size_t n = 0;

	*empty = true;
	if (h->unified >= 0 && v2_empty(cg->dirs[h->unified], empty, err) < 0)
		return -1;
	if (!*empty || v1 == NULL)
		return 0;
	if (vs_cg_tree_pids(v1, &pids, &n, err) < 0)
		return -1;
	*empty = n == 0;
	return 0;
}

bool vs_cg_is_empty(struct vs_cg *cg)
{
	bool empty = false;

	/* When we cannot tell, say "not empty": callers use this to decide
	 * whether removing the cgroup is safe. */
	return tree_empty(cg, &empty, NULL) == 0 && empty;
}

int vs_cg_kill_all(struct vs_cg *cg, struct vs_error *err)
{
	int64_t deadline = vs_cg_deadline(VS_CG_TIMEOUT_MS);
	bool empty = false;

	do {
		if (tree_empty(cg, &empty, err) < 0)
			return vs_error_prefix(err, "kill cgroup %s/%s", cg->parent, cg->name);
		if (empty)
			return 0;
		if (kill_round(cg, err) < 0)
			return vs_error_prefix(err, "kill cgroup %s/%s", cg->parent, cg->name);
	} while (vs_cg_wait_step(deadline));
	vs_error_set(err, ETIMEDOUT, "tasks left after %d s", VS_CG_TIMEOUT_MS / 1000);
	return vs_error_prefix(err, "kill cgroup %s/%s", cg->parent, cg->name);
}
