/* Freezing, killing and emptiness of a container's cgroup tree. */
#include "cgroups/cg-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_syscall.h"
#include "lib/vs_util.h"

/* Most pids signalled per kill round: each holds a pidfd for the round. */
#define KILL_BATCH 512
/* How long vs_cg_freeze_settled tries to freeze a tree with no vfork in
 * flight, and how long it lets one caught vfork run on before it tries
 * again. */
#define VFORK_BUDGET_MS 3000
#define VFORK_WAIT_MS	100

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

/* A thread caught in a vfork that has not ended: tid waits, child (its
 * vfork child) still runs in tid's memory, before its exec. */
struct vfork_wait {
	pid_t pid, tid, child;
};

/* Contents of /proc/PATH (at most size - 1 bytes, NUL-terminated, the
 * trailing newline dropped); "" when it cannot be read. */
static void read_proc(const char *path, char *buf, size_t size)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : vs_read_all(fd, buf, size - 1);

	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* A child process of thread tid (of pid) that shares its memory (kcmp
 * KCMP_VM, as CRIU compares address spaces): a vfork child that has
 * neither exec'd nor exited, its parent waiting for it in the kernel.
 * 1 with *child set, 0 when there is none, -1 when the children cannot be
 * told (no /proc/.../children, a list too long to read whole, or kcmp
 * refused).
 *
 * The parent's wait channel is not what decides: a thaw wakes every task
 * of the tree, the vfork parent too, which finds its child not done and
 * sleeps again; runnable meanwhile, /proc shows it no wait channel ("0"),
 * and a freeze that follows the thaw closely (a retry) could take it for
 * a parent whose vfork had ended: CRIU then waited on it for its timeout
 * ("Unseizable non-zombie N found, state D"). A child sharing the
 * parent's memory is there, asleep or not. */
static int shared_vm_child(pid_t pid, pid_t tid, pid_t *child)
{
	cleanup_free char *kids = NULL;
	char path[80], *save = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)tid);
	if (vs_read_file_at(AT_FDCWD, path, 1 << 20, &kids, &len, NULL) < 0)
		return -1;
	/* Oldest first: a vfork child, the newest, comes last. */
	for (char *k = strtok_r(kids, " \n", &save); k != NULL; k = strtok_r(NULL, " \n", &save)) {
		pid_t c = (pid_t)atoi(k);
		int same = c > 0 ? vs_kcmp(tid, c, KCMP_VM, 0, 0) : 1;

		if (same == 0) {
			*child = c;
			return 1;
		}
		if (same < 0 && errno != ESRCH)
			return -1;
	}
	return 0;
}

/* Whether a thread of pid has a vfork child that has not exec'd: fills
 * *w. Where the children cannot be told, a thread whose wait channel is
 * the vfork wait counts (child -1), as before these checks. */
static bool vfork_pending(pid_t pid, struct vfork_wait *w)
{
	char path[64];
	cleanup_dir DIR *d = NULL;
	struct dirent *e;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while (d != NULL && (e = readdir(d)) != NULL) {
		char wchan[64];
		pid_t tid = (pid_t)atoi(e->d_name), child = -1;
		int r;

		if (tid <= 0)
			continue;
		r = shared_vm_child(pid, tid, &child);
		if (r < 0) {
			snprintf(path, sizeof(path), "/proc/%d/task/%d/wchan", (int)pid, (int)tid);
			read_proc(path, wchan, sizeof(wchan));
			r = vs_cg_wchan_is_vfork(wchan);
			child = -1;
		}
		if (r == 0)
			continue;
		*w = (struct vfork_wait){.pid = pid, .tid = tid, .child = child};
		return true;
	}
	return false;
}

/* The first task of the frozen tree caught in an unfinished vfork, or
 * false (also when the tree cannot be listed: CRIU then says what it
 * finds). */
static bool frozen_in_vfork(struct vs_cg *cg, struct vfork_wait *w)
{
	const char *dir = v1_freezer(cg);
	cleanup_free pid_t *pids = NULL;
	size_t n = 0;

	if (dir == NULL && cg->host->unified >= 0)
		dir = cg->dirs[cg->host->unified];
	if (dir == NULL || vs_cg_tree_pids(dir, &pids, &n, NULL) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (vfork_pending(pids[i], w))
			return true;
	return false;
}

/* Thawed, until the caught vfork has ended (the child exec'd or exited)
 * or VFORK_WAIT_MS passed: the next freeze then falls on the parent's
 * wait for its (now exec'd) child, not on the same vfork. Polling a
 * fixed delay instead failed on a loaded machine, where the thawed child
 * had not run yet when the tree was frozen again. */
static void wait_vfork_done(const struct vfork_wait *w)
{
	int64_t deadline = vs_now_ms() + VFORK_WAIT_MS;
	struct vfork_wait again;

	while (vs_now_ms() < deadline) {
		usleep(100);
		if (!vfork_pending(w->pid, &again) || again.tid != w->tid ||
		    again.child != w->child)
			return;
	}
}

/* "N (comm)" for the error: the container's own name for the task. */
static void task_name(pid_t pid, char *buf, size_t size)
{
	char path[64], comm[32];

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	read_proc(path, comm, sizeof(comm));
	/* The container's own bytes: printable ASCII only. */
	for (char *c = comm; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
	snprintf(buf, size, "%d (%s)", (int)pid, comm[0] ? comm : "?");
}

int vs_cg_freeze_settled(struct vs_cg *cg, int64_t *frozen_at, struct vs_error *err)
{
	int64_t t0 = vs_now_ms();
	struct vfork_wait w = {0};
	char waiter[64], child[64];
	int tries = 0;

	for (;;) {
		if (frozen_at != NULL)
			*frozen_at = vs_now_ms();
		if (vs_cg_freeze(cg, err) < 0)
			return -1;
		if (!frozen_in_vfork(cg, &w))
			return tries;
		if (vs_cg_thaw(cg, err) < 0)
			return -1;
		tries++;
		if (vs_now_ms() - t0 >= VFORK_BUDGET_MS)
			break;
		wait_vfork_done(&w);
	}
	task_name(w.tid, waiter, sizeof(waiter));
	if (w.child > 0)
		task_name(w.child, child, sizeof(child));
	else
		snprintf(child, sizeof(child), "(not known)");
	return vs_error_set(
	    err, EBUSY,
	    "task %s keeps a child sharing its memory, %s (a vfork child not yet "
	    "exec'd; frozen %d times in %lld ms): the tree cannot be checkpointed now",
	    waiter, child, tries, (long long)(vs_now_ms() - t0));
}

int vs_cg_frozen(struct vs_cg *cg, struct vs_error *err)
{
	const char *dir = v1_freezer(cg);
	cleanup_free char *state = NULL;
	int64_t frozen;

	if (dir != NULL) {
		if (vs_cg_read(dir, "freezer.state", &state, err) < 0)
			return -1;
		return strcmp(state, "FROZEN") == 0;
	}
	if (cg->host->unified < 0)
		return vs_error_kind(err, VS_EK_UNSUPPORTED, "no freezer on this host");
	if (vs_cg_read_key(cg->dirs[cg->host->unified], "cgroup.events", "frozen", &frozen, err) <
	    0)
		return -1;
	return frozen == 1;
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
