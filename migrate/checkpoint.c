/* Checkpoint and restore of a container with CRIU.
 *
 * What CRIU cannot see on its own is described to it:
 *  - the host device nodes bind-mounted into /dev (and over masked /proc
 *    files) are external mounts, keyed "<device>@<mount point>"; on restore
 *    the key's device name (checked against a fixed list, never a path
 *    from the image) says which host node to bind again;
 *  - the in-container views (lxcfs files bound over /proc and /sys files,
 *    see runtime/views.c) are FUSE mounts, which CRIU cannot dump: they are
 *    external mounts keyed "lxcfs@<mount point>", the mount point checked
 *    against the fixed list of view files; restore binds the same file of
 *    this instance's lxcfs again;
 *  - the console (runtime/console.c) is an external tty plus the external bind
 *    mount on /dev/console; restore hands CRIU the slave of a fresh console
 *    pty in its place (--inherit-fd) and the monitor keeps its master.
 * The id-mapped template is mounted on the host and was detached from the
 * container at pivot_root, so CRIU sees an overlay root (--root on restore,
 * rebuilt with the same options) and no id-mapped mount.
 *
 * Checkpoint freezes the container's cgroup first so the frozen window is
 * measured from the moment the container stops running. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs-cow/vs_fs.h"
#include "lib/vs_devices.h"
#include "lib/vs_io.h"
#include "lib/vs_json.h"
#include "lib/vs_mountinfo.h"
#include "lib/vs_syscall.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"
#include "migrate/vs_migrate.h"
#include "migrate/mig-monitor.h"
#include "migrate/mig-private.h"
#include "runtime/rt-private.h"

#define META_FILE   "vsd-image.json"
#define SYNC_SCRIPT "layer-sync"  /* in the monitor's run dir, see precopy_layer */
#define LAZY_SCRIPT "lazy-dumped" /* in the monitor's run dir, see lazy_dump */
#define LAZY_FLAG   "lazy-dumped.flag"
/* In the monitor's run dir, see freeze_gate. */
#define GATE_SCRIPT "freeze-at-pre-dump"
#define GATE_ASK    "freeze-ask"
#define GATE_ANSWER "freeze-answer"
/* How long CRIU may take from its start to its pre-dump action script
 * (start-up and kernel probes take well under a second). */
#define GATE_WAIT_MS (60 * 1000)
#define MAX_CGDIRS   4096
#define MAX_CGDEPTH  32
/* A dump, pre-dump or restore of a whole container. */
#define CRIU_TIMEOUT_MS (600 * 1000)

void rt_meta_free(struct cr_meta *m)
{
	for (size_t i = 0; i < m->ncgdirs; i++)
		free(m->cgdirs[i]);
	free(m->cgdirs);
	m->cgdirs = NULL;
	m->ncgdirs = 0;
}

/* The guest's own cgroup tree (systemd's slices and services) in the
 * unified hierarchy. CRIU recreates only the cgroups that hold tasks, but
 * systemd watches the cgroup.events of empty ones too, and its restore
 * fails if they are missing; so vsd records the tree at dump and rebuilds
 * it before restore. Walked by directory fds: the names are the guest's. */
static int walk_cgdirs(int dfd, const char *prefix, int depth, struct cr_meta *m,
		       struct vs_error *err)
{
	cleanup_dir DIR *d = fdopendir(dup(dfd));
	struct dirent *e;

	if (d == NULL)
		return vs_error_set(err, errno, "read cgroup %s", prefix);
	while ((e = readdir(d)) != NULL) {
		cleanup_close int sub = -1;
		char *rel;
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		if (depth >= MAX_CGDEPTH || m->ncgdirs >= MAX_CGDIRS)
			return vs_error_set(err, E2BIG, "the container's cgroup tree is too large");
		rel = prefix[0] ? xasprintf("%s/%s", prefix, e->d_name) : xstrdup(e->d_name);
		m->cgdirs = xrealloc(m->cgdirs, (m->ncgdirs + 1) * sizeof(char *));
		m->cgdirs[m->ncgdirs++] = rel;
		sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0 || walk_cgdirs(sub, rel, depth + 1, m, err) < 0)
			return sub < 0 ? vs_error_set(err, errno, "open cgroup %s", rel) : -1;
	}
	return 0;
}

static int collect_cgdirs(struct vs_cg *cg, struct cr_meta *m, struct vs_error *err)
{
	const char *dir = vs_cg_path(cg, "unified");
	cleanup_close int dfd = -1;

	if (dir == NULL)
		return 0;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return vs_error_set(err, errno, "open %s", dir);
	return walk_cgdirs(dfd, "", 0, m, err);
}

/* Recreate them, owned by the container's root like the delegated top. */
static int rebuild_cgdirs(struct vs_cg *cg, const struct vs_container_config *cfg,
			  const struct cr_meta *m, struct vs_error *err)
{
	const char *dir = vs_cg_path(cg, "unified");
	cleanup_close int dfd = -1;

	if (dir == NULL || m->ncgdirs == 0)
		return 0;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return vs_error_set(err, errno, "open %s", dir);
	for (size_t i = 0; i < m->ncgdirs; i++) {
		const char *rel = m->cgdirs[i];
		if (rel[0] == '/' || strstr(rel, "..") != NULL)
			return vs_error_kind(err, VS_EK_INVALID, "bad cgroup path '%s' in image",
					     rel);
		if (mkdirat(dfd, rel, 0755) < 0 && errno != EEXIST)
			return vs_error_set(err, errno, "create cgroup %s/%s", dir, rel);
	}
	/* Directories and the files the kernel made in them: the guest's. */
	if (!cfg->privileged)
		return rt_cg_give_subtree(dir, cfg->idmap_uid, cfg->idmap_gid, err);
	return 0;
}

/* The devices mounts.c binds from the host (lib/vs_devices.h): the only
 * names a key may give, so restore binds nothing else from /dev. */
static bool is_host_device(const char *name)
{
	return vs_device_host(name) != NULL;
}

#define VIEW_KEY "lxcfs"

/* Is "dev@mnt" a key we accept: a host device bind, or a view bind over
 * one of the fixed view files. */
static bool known_external(const char *dev, const char *mnt)
{
	if (strcmp(dev, VIEW_KEY) == 0)
		return mnt[0] == '/' && rt_view_index(mnt + 1) >= 0;
	return is_host_device(dev);
}

static int add_external(const struct vs_mount *mnt, void *ud, struct vs_error *err)
{
	struct cr_meta *m = ud;
	const char *dev = NULL;

	if (strcmp(mnt->fstype, "devtmpfs") == 0 && mnt->root[0] == '/' &&
	    is_host_device(mnt->root + 1))
		dev = mnt->root + 1;
	else if (strcmp(mnt->fstype, "fuse.lxcfs") == 0 && known_external(VIEW_KEY, mnt->target))
		dev = VIEW_KEY;
	if (dev == NULL)
		return 0;
	if (m->nkeys == RT_MAX_EXT)
		return vs_error_set(err, E2BIG, "too many external mounts");
	if (snprintf(m->keys[m->nkeys], sizeof(m->keys[0]), "%s@%s", dev, mnt->target) >=
	    (int)sizeof(m->keys[0]))
		return vs_error_set(err, ENAMETOOLONG, "external mount %s: path too long",
				    mnt->target);
	m->nkeys++;
	return 0;
}

/* External mounts of a running container, from its init's mountinfo (the
 * kernel's text; nothing in it is opened): devtmpfs binds (host device
 * nodes) and lxcfs view binds. (The console is added by the caller.) */
static int collect_externals(pid_t init, struct cr_meta *m, struct vs_error *err)
{
	cleanup_free char *path = xasprintf("/proc/%d/mountinfo", (int)init);

	return vs_mountinfo_read(path, 1 << 20, add_external, m, err) < 0 ? -1 : 0;
}

static int console_tty_id(const char *rundir, int master, char *out, size_t len,
			  struct vs_error *err)
{
	char path[2300];
	struct stat st;
	int index = -1;

	if (ioctl(master, TIOCGPTN, &index) < 0)
		return vs_error_set(err, errno, "console pty index");
	snprintf(path, sizeof(path), "%s/console/%d", rundir, index);
	if (stat(path, &st) < 0)
		return vs_error_set(err, errno, "stat %s", path);
	snprintf(out, len, "tty[%llx:%llx]", (unsigned long long)st.st_rdev,
		 (unsigned long long)st.st_dev);
	return 0;
}

int rt_meta_write(const char *dir, const struct cr_meta *m, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(true);
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	const char *text;
	size_t len;

	if (dfd < 0)
		return vs_error_set(err, errno, "open %s", dir);
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "console_tty", m->console_tty);
	vs_jgen_key(g, "external_mounts");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < m->nkeys; i++)
		vs_jgen_str(g, m->keys[i]);
	vs_jgen_arr_close(g);
	vs_jgen_key(g, "cgroup_dirs");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < m->ncgdirs; i++)
		vs_jgen_str(g, m->cgdirs[i]);
	vs_jgen_arr_close(g);
	vs_jgen_obj_close(g);
	text = vs_jgen_text(g, &len);
	return vs_atomic_write_at(dfd, META_FILE, text, len, 0600, err);
}

int rt_meta_read(const char *dir, struct cr_meta *m, struct vs_error *err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, META_FILE);
	cleanup_free char *text = NULL;
	cleanup_json struct vs_json *root = NULL;
	const struct vs_json *keys;
	const char *tty;

	memset(m, 0, sizeof(*m));
	if (vs_read_file_at(AT_FDCWD, path, 4 << 20, &text, NULL, err) < 0 ||
	    vs_json_parse(text, &root, err) < 0)
		return vs_error_prefix(err, "not a vsd checkpoint image");
	tty = vs_json_string(vs_json_get(root, "console_tty"));
	keys = vs_json_get(root, "external_mounts");
	if (tty == NULL || strncmp(tty, "tty[", 4) != 0 || strlen(tty) >= sizeof(m->console_tty) ||
	    vs_json_array_len(keys) > RT_MAX_EXT)
		return vs_error_kind(err, VS_EK_INVALID, "%s: malformed", path);
	strcpy(m->console_tty, tty);
	for (size_t i = 0; i < vs_json_array_len(keys); i++) {
		const char *k = vs_json_string(vs_json_array_at(keys, i));
		char dev[32];
		const char *at = k ? strchr(k, '@') : NULL;
		if (at == NULL || (size_t)(at - k) >= sizeof(dev) ||
		    strlen(k) >= sizeof(m->keys[0]))
			return vs_error_kind(err, VS_EK_INVALID, "%s: bad external mount", path);
		memcpy(dev, k, (size_t)(at - k));
		dev[at - k] = '\0';
		if (!known_external(dev, at + 1))
			return vs_error_kind(err, VS_EK_INVALID, "%s: unknown external mount '%s'",
					     path, k);
		strcpy(m->keys[m->nkeys++], k);
	}
	keys = vs_json_get(root, "cgroup_dirs");
	if (vs_json_array_len(keys) > MAX_CGDIRS)
		return vs_error_kind(err, VS_EK_INVALID, "%s: too many cgroups", path);
	for (size_t i = 0; i < vs_json_array_len(keys); i++) {
		const char *k = vs_json_string(vs_json_array_at(keys, i));
		if (k == NULL)
			return vs_error_kind(err, VS_EK_INVALID, "%s: bad cgroup entry", path);
		m->cgdirs = xrealloc(m->cgdirs, (m->ncgdirs + 1) * sizeof(char *));
		m->cgdirs[m->ncgdirs++] = xstrdup(k);
	}
	return 0;
}

static int64_t dir_bytes(const char *dir)
{
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *e;
	int64_t sum = 0;
	struct stat st;

	while (d != NULL && (e = readdir(d)) != NULL)
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			sum += st.st_size;
	return sum;
}

/* A process's parent pid from /proc/PID/status, 0 when unknown. */
static pid_t parent_of(const char *pid)
{
	cleanup_free char *path = xasprintf("/proc/%s/status", pid);
	cleanup_free char *text = NULL;
	const char *p;

	if (vs_read_file_at(AT_FDCWD, path, 65536, &text, NULL, NULL) < 0)
		return 0;
	p = strstr(text, "\nPPid:");
	return p != NULL ? (pid_t)atoi(p + 6) : 0;
}

/* Commands run by vsctl exec/enter are children of an exec helper on the
 * host side: a parent CRIU cannot dump. Refuse clearly while any runs. */
static int check_no_sessions(struct vs_cg *cg, pid_t init, struct vs_error *err)
{
	const char *dir = vs_cg_path(cg, "pids");
	cleanup_free char *procs = NULL, *path = NULL;
	char nsinit[64] = "", link[64], ns[64];
	int n = 0;

	if (dir == NULL)
		dir = vs_cg_path(cg, "unified");
	if (dir == NULL)
		return 0;
	snprintf(link, sizeof(link), "/proc/%d/ns/pid", (int)init);
	if (readlink(link, nsinit, sizeof(nsinit) - 1) < 0)
		return vs_error_set(err, errno, "read %s", link);
	path = xasprintf("%s/cgroup.procs", dir);
	if (vs_read_file_at(AT_FDCWD, path, 1 << 22, &procs, NULL, NULL) < 0)
		return 0;
	for (char *p = strtok(procs, "\n"); p != NULL; p = strtok(NULL, "\n")) {
		pid_t parent = atoi(p) == init ? 0 : parent_of(p);
		if (parent <= 0)
			continue;
		snprintf(link, sizeof(link), "/proc/%d/ns/pid", (int)parent);
		memset(ns, 0, sizeof(ns));
		if (readlink(link, ns, sizeof(ns) - 1) > 0 && strcmp(ns, nsinit) != 0)
			n++;
	}
	if (n > 0)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "the container has %d active exec/enter session%s; end them "
				     "and retry",
				     n, n == 1 ? "" : "s");
	return 0;
}

/* Restore: where the bind source of an external mount key is. A view
 * comes from this instance's lxcfs (views NULL when it is not serving: the
 * host's own file then, what a container started without views sees). */
static void add_external_source(struct rt_argv *a, const char *key, const char *views)
{
	const char *at = strchr(key, '@');

	if (strncmp(key, VIEW_KEY "@", strlen(VIEW_KEY) + 1) != 0)
		rt_argv_add(a, "--external=mnt[%s]:/dev/%.*s", key, (int)(at - key), key);
	else if (views != NULL)
		rt_argv_add(a, "--external=mnt[%s]:%s%s", key, views, at + 1);
	else
		rt_argv_add(a, "--external=mnt[%s]:%s", key, at + 1);
}

/* views: the lxcfs mount for restore (see add_external_source). */
static void add_common(struct rt_argv *a, const struct cr_meta *m, bool restore, const char *views)
{
	rt_argv_add(a, "-v4");
	rt_argv_add(a, "--tcp-established");
	rt_argv_add(a, "--file-locks");
	rt_argv_add(a, "--manage-cgroups");
	for (size_t i = 0; i < m->nkeys; i++) {
		if (restore)
			add_external_source(a, m->keys[i], views);
		else
			rt_argv_add(a, "--external=mnt[%s]:%s", strchr(m->keys[i], '@') + 1,
				    m->keys[i]);
	}
}

struct ck_req {
	bool leave_running;
	bool hold;	 /* pages to ps_fd's page server; the tree stays frozen */
	bool predump;	 /* a memory pre-copy round to ps_fd's page server */
	bool lazy;	 /* hold, post-copy: criu dump --lazy-pages serves ps_fd */
	unsigned rounds; /* predump: this round's number; hold: the rounds before */
	int ps_fd;	 /* -1: pages into the image */
	bool own;
	char netlock[16]; /* criu --network-lock METHOD; "" for criu's default */
	char criu[1024];  /* the daemon's criu now, not the one the monitor started with */
	char dir[4200];
	char *layer_env[3]; /* VSD_LAYER_SRC=, VSD_LAYER_DST= for the layer-sync script */
};

/* "checkpoint MODE[ ROUNDS][ NETLOCK]\nCRIU\nDIR" (DIR "-": the suspend
 * image). MODE 0 stops the tree, 1 leaves it running, 2 (the suspend image
 * only, with a page server's socket passed along) holds it frozen: see
 * vs_rt_checkpoint_pages; ROUNDS: the memory pre-copy rounds before it.
 * MODE 3 (with the socket, DIR "-") is pre-copy round ROUNDS: see
 * vs_rt_predump_pages. MODE 4 (with the socket, DIR "-", no rounds) holds
 * it as 2 after a `dump --lazy-pages` that serves its pages on the socket
 * (post-copy): see lazy_dump. NETLOCK: "nftables" or "iptables", CRIU's
 * --network-lock for a dump. */
static int parse_request(const char *req, const char *cdir, struct ck_req *r, struct vs_error *err)
{
	int leave = 0, off = 0, off2 = 0;
	const char *criu, *dir, *nl;

	if (sscanf(req, "checkpoint %d%n", &leave, &off) != 1)
		return vs_error_set(err, EPROTO, "bad checkpoint request");
	if (req[off] == ' ' && sscanf(req + off, " %u%n", &r->rounds, &off2) == 1)
		off += off2;
	if (strncmp(req + off, " nftables\n", 10) == 0 ||
	    strncmp(req + off, " iptables\n", 10) == 0) {
		memcpy(r->netlock, req + off + 1, 8);
		r->netlock[8] = '\0';
		off += 9;
	}
	if (req[off] != '\n' || r->rounds > VS_MIG_ROUNDS_MAX ||
	    (r->rounds > 0 && leave != 2 && leave != 3) || (leave == 3 && r->rounds == 0) ||
	    leave < 0 || leave > 4)
		return vs_error_set(err, EPROTO, "bad checkpoint request");
	criu = req + off + 1;
	nl = strchr(criu, '\n');
	if (nl == NULL || (size_t)(nl - criu) >= sizeof(r->criu))
		return vs_error_set(err, EPROTO, "bad checkpoint request");
	memcpy(r->criu, criu, (size_t)(nl - criu));
	r->criu[nl - criu] = '\0';
	dir = nl + 1;
	r->leave_running = leave == 1;
	r->hold = leave == 2 || leave == 4;
	r->lazy = leave == 4;
	r->predump = leave == 3;
	r->own = strcmp(dir, "-") == 0;
	if ((r->hold || r->predump) != (r->ps_fd >= 0) || ((r->hold || r->predump) && !r->own))
		return vs_error_set(err, EPROTO, "bad checkpoint request (page server)");
	if (r->own)
		snprintf(r->dir, sizeof(r->dir), "%s/checkpoint", cdir);
	else if (dir[0] != '/' || strlen(dir) >= sizeof(r->dir))
		return vs_error_kind(err, VS_EK_INVALID, "checkpoint directory must be absolute");
	else
		strcpy(r->dir, dir);
	return 0;
}

static void send_progress(int fd, const char *line)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "progress %s", line);
	send(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1, MSG_NOSIGNAL);
}

/* After a good dump of a container that is to stop: kill it while still
 * frozen (CRIU ran with --leave-running and, having found the cgroup
 * frozen, froze it again before letting go of the tasks), so that no task
 * runs a single instruction past the image. */
static int verify_then_kill(struct vs_cg *cg, const char *log, bool kill, struct vs_error *err)
{
	if (rt_dump_verify(log, err) < 0)
		return -1;
	if (!kill)
		return 0;
	/* Whatever CRIU did with the freezer, nothing runs from here on. */
	if (vs_cg_freeze(cg, err) < 0 || vs_cg_kill_all(cg, err) < 0)
		return vs_error_prefix(err, "stop the container after its dump");
	return 0;
}

/* The container keeps running after a dump: its node sides up again as
 * after a restore. A failure is logged (the monitor's log): the container
 * then runs unreachable rather than not at all. */
static void rt_net_wake(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
			pid_t init)
{
	struct vs_error e = {0};

	if (cfg->net.nifaces > 0 && rt_net_attach(inst, cfg, init, true, &e) < 0)
		fprintf(stderr, "vsd-monitor: %s: network after the dump: %s\n", cfg->name, e.msg);
}

/* Post-copy: the `dump --lazy-pages` running in the background. One per
 * monitor: its container is held until it ends. */
static struct {
	struct vs_mig_bg bg;
	/* Its socket while the checkpoint request runs (borrowed, never a
	 * copy: the stream's end on the daemon's side comes only when every
	 * descriptor of this end is closed); shut down, it ends the serving. */
	int sk;
} lazy_run = {.bg = VS_MIG_BG_NONE, .sk = -1};

#define LAZY_FLAG_ENV "VSD_DUMPED="

/* End the lazy dump. Before the target resumed (!all): its socket shut
 * down (during the request; later the daemon cuts its end), CRIU's page
 * server sees the end, lets the tasks go (still frozen: the cgroup) and
 * exits. After (all): wait until CRIU exits, which it does when the target
 * took every page (or its stream ended). 0, or -1 when it failed or did
 * not end in time (then the tree stays held). */
static int lazy_end(bool all, struct vs_error *err)
{
	if (lazy_run.bg.pid <= 0)
		return 0;
	if (!all && lazy_run.sk >= 0)
		shutdown(lazy_run.sk, SHUT_RDWR);
	if (vs_mig_criu_finish(&lazy_run.bg, all ? CRIU_TIMEOUT_MS : 60000, err) < 0)
		return vs_error_prefix(err, "the post-copy dump");
	return 0;
}

/* Post-copy's dump (docs/migration.md, "Post-copy"): CRIU writes the image
 * without the lazy pages, runs the post-dump action script (which makes
 * RUNDIR/LAZY_FLAG: the image is complete, the tree dumped), then serves
 * the lazy pages on the socket until the target took the last one, and
 * only then exits. So it runs in the background and the dump counts as
 * done at the flag; rt_monitor_release_held waits for its end.
 * lazy_prepare writes the script and returns its environment variable
 * (the caller frees it); lazy_wait takes over the started run. */
static char *lazy_prepare(const char *rundir, struct vs_error *err)
{
	cleanup_free char *flag = xasprintf("%s/" LAZY_FLAG, rundir);
	cleanup_close int dfd = open(rundir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	static const char script[] = "#!/bin/sh\n"
				     "[ \"$CRTOOLS_SCRIPT_ACTION\" = post-dump ] || exit 0\n"
				     ": >\"$VSD_DUMPED\"\n";

	if (lazy_run.bg.pid > 0) {
		vs_error_kind(err, VS_EK_CONFLICT, "a post-copy dump still runs");
		return NULL;
	}
	unlink(flag);
	if (dfd < 0 ||
	    vs_atomic_write_at(dfd, LAZY_SCRIPT, script, strlen(script), 0700, err) < 0) {
		if (dfd < 0)
			vs_error_set(err, errno, "open %s", rundir);
		return NULL;
	}
	return xasprintf(LAZY_FLAG_ENV "%s", flag);
}

static int lazy_wait(struct vs_mig_bg *bg, int sk, const char *rundir, struct vs_error *err)
{
	cleanup_free char *flag = xasprintf("%s/" LAZY_FLAG, rundir);
	int rc;

	lazy_run.bg = *bg;
	*bg = (struct vs_mig_bg)VS_MIG_BG_NONE;
	lazy_run.sk = sk;
	rc = vs_mig_criu_wait_flag(&lazy_run.bg, flag, CRIU_TIMEOUT_MS, err);
	unlink(flag);
	if (rc == 1)
		return 0;
	lazy_end(false, NULL);
	return -1;
}

/* The freeze happens inside CRIU's run, at its pre-dump action script
 * (cr_dump_tasks runs it after CRIU's start-up and kernel probes and
 * before it seizes a task), so that start-up is not frozen time. The
 * script says it is there on the FIFO RUNDIR/GATE_ASK and waits for the
 * monitor's answer on RUNDIR/GATE_ANSWER: "frozen" (exit 0, CRIU goes on
 * and finds the cgroup frozen) or anything else (exit 1: CRIU aborts with
 * "Pre dump script failed"). The monitor holds the answer FIFO open for
 * reading and writing, so the script's open never blocks, an answer
 * written first waits in the pipe, and the monitor's death is an end of
 * file (the script fails). Every other action passes. */
struct freeze_gate {
	int ask, answer;
	char *env[2]; /* VSD_FREEZE_ASK=, VSD_FREEZE_ANSWER= */
	char *ask_path, *answer_path;
};

static void gate_close(struct freeze_gate *g)
{
	vs_closep(&g->ask);
	vs_closep(&g->answer);
	for (size_t i = 0; i < 2; i++)
		free(g->env[i]);
	if (g->ask_path != NULL)
		unlink(g->ask_path);
	if (g->answer_path != NULL)
		unlink(g->answer_path);
	free(g->ask_path);
	free(g->answer_path);
	memset(g, 0, sizeof(*g));
	g->ask = g->answer = -1;
}

static int gate_open(const char *rundir, struct freeze_gate *g, struct vs_error *err)
{
	static const char script[] = "#!/bin/sh\n"
				     "[ \"$CRTOOLS_SCRIPT_ACTION\" = pre-dump ] || exit 0\n"
				     "echo pre-dump >\"$VSD_FREEZE_ASK\" || exit 1\n"
				     "read -r answer <\"$VSD_FREEZE_ANSWER\" || exit 1\n"
				     "[ \"$answer\" = frozen ]\n";
	cleanup_close int dfd = open(rundir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	memset(g, 0, sizeof(*g));
	g->ask = g->answer = -1;
	g->ask_path = xasprintf("%s/" GATE_ASK, rundir);
	g->answer_path = xasprintf("%s/" GATE_ANSWER, rundir);
	if (dfd < 0)
		return vs_error_set(err, errno, "open %s", rundir);
	if (vs_atomic_write_at(dfd, GATE_SCRIPT, script, strlen(script), 0700, err) < 0)
		return -1;
	unlink(g->ask_path);
	unlink(g->answer_path);
	if (mkfifo(g->ask_path, 0600) < 0 || mkfifo(g->answer_path, 0600) < 0)
		return vs_error_set(err, errno, "mkfifo in %s", rundir);
	g->ask = open(g->ask_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	g->answer = open(g->answer_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (g->ask < 0 || g->answer < 0)
		return vs_error_set(err, errno, "open the FIFOs in %s", rundir);
	g->env[0] = xasprintf("VSD_FREEZE_ASK=%s", g->ask_path);
	g->env[1] = xasprintf("VSD_FREEZE_ANSWER=%s", g->answer_path);
	return 0;
}

/* Answer the script; on "failed" wait for CRIU's end (it aborts). 0, or
 * -1 when the answer could not be written (CRIU killed). */
static int gate_answer(struct freeze_gate *g, struct vs_mig_bg *bg, bool frozen,
		       struct vs_error *err)
{
	const char *a = frozen ? "frozen\n" : "failed\n";

	if (vs_write_all(g->answer, a, strlen(a)) < 0) {
		vs_error_set(err, errno, "answer criu's pre-dump script");
		vs_mig_criu_abort(bg);
		return -1;
	}
	if (!frozen && vs_mig_criu_finish(bg, 10000, NULL) < 0)
		vs_mig_criu_abort(bg);
	return 0;
}

/* Test hook: with $VSD_TEST_DUMP_FREEZE_FAIL in the monitor's environment
 * (the daemon's), a dump's freeze that held counts as failed, so that the
 * tests see the failed freeze's path with CRIU waiting at its pre-dump
 * script (tests/integration/checkpoint.bats). */
static int injected_freeze_failure(struct vs_error *err)
{
	return vs_error_set(err, EIO, "injected freeze failure (VSD_TEST_DUMP_FREEZE_FAIL)");
}

/* How long CRIU may take to its pre-dump script: GATE_WAIT_MS, or (test
 * hook) $VSD_TEST_GATE_WAIT_MS milliseconds from the monitor's
 * environment, so that the tests see a CRIU that never gets there killed
 * without waiting a minute. */
static int gate_wait_ms(void)
{
	const char *s = getenv("VSD_TEST_GATE_WAIT_MS");
	int64_t v;

	if (s != NULL && vs_parse_int(s, "VSD_TEST_GATE_WAIT_MS", 1, GATE_WAIT_MS, &v, NULL) == 0)
		return (int)v;
	return GATE_WAIT_MS;
}

/* Test hook: with $VSD_TEST_DUMP_NET_FAIL in the monitor's environment,
 * taking the node sides down at the freeze counts as failed once it has
 * been done, so that the tests see the failure's path give the network
 * back (tests/integration/network.bats). */
static int injected_net_failure(struct vs_error *err)
{
	return vs_error_set(err, EIO, "injected failure (VSD_TEST_DUMP_NET_FAIL)");
}

/* Start CRIU, freeze at its pre-dump script (freeze_gate), dump, check the
 * image, then thaw (leave_running) or kill the tree. vsd freezes the
 * cgroup itself: CRIU's own freezing (--freeze-cgroup on a thawed cgroup)
 * sleeps a fixed 100 ms before its first check, and vs_cg_freeze_settled
 * never leaves a task frozen in a vfork. CRIU's start-up and kernel probes
 * (tens of ms) run before its pre-dump script, while the container runs
 * on; nothing of the container is touched before the freeze. CRIU always
 * runs with --leave-running: vsd, not CRIU, kills the tree, and only once
 * the image has passed rt_dump_verify, so that a container is never killed
 * for an image that cannot come back. The frozen window ends when vsd
 * thaws (leave_running, or a refused image) or kills. */
static int do_dump(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		   struct vs_cg *cg, pid_t init, const char *rundir, const struct ck_req *r,
		   const struct cr_meta *m, int reply_fd, struct vs_rt_cr_result *res,
		   struct vs_error *err)
{
	struct rt_argv a = {0};
	struct rt_pins pins;
	struct freeze_gate g = {.ask = -1, .answer = -1};
	struct vs_mig_bg bg = VS_MIG_BG_NONE;
	const char *freezer = vs_cg_path(cg, "freezer");
	const char *criu = r->criu[0] ? r->criu : inst->criu_path;
	cleanup_free char *log = xasprintf("%s/dump.log", r->dir);
	cleanup_free char *lazy_env = NULL;
	char *env[6] = {NULL};
	size_t nenv = 0;
	int64_t t_freeze, t_criu;
	int rc;

	if (freezer == NULL)
		freezer = vs_cg_path(cg, "unified");
	if (criu == NULL || criu[0] == '\0')
		return vs_error_kind(err, VS_EK_UNSUPPORTED,
				     "checkpoint/restore needs criu (see scripts/install-criu.sh)");
	rt_argv_add(&a, "dump");
	rt_argv_add(&a, "-t");
	rt_argv_add(&a, "%d", (int)init);
	rt_argv_add(&a, "-D");
	rt_argv_add(&a, "%s", r->dir);
	rt_argv_add(&a, "-o");
	rt_argv_add(&a, "dump.log");
	rt_argv_add(&a, "--freeze-cgroup=%s", freezer);
	rt_argv_add(&a, "--external=mnt[/dev/console]:console");
	rt_argv_add(&a, "--external=%s", m->console_tty);
	rt_argv_add(&a, "--leave-running");
	if (r->netlock[0])
		rt_argv_add(&a, "--network-lock=%s", r->netlock);
	if (r->lazy) {
		/* The pages of private anonymous memory stay here, served on
		 * fd 3 once the dump is done (see lazy_prepare). */
		rt_argv_add(&a, "--lazy-pages");
		rt_argv_add(&a, "--ps-socket=3");
		rt_argv_add(&a, "--action-script=%s/" LAZY_SCRIPT, rundir);
	} else if (r->ps_fd >= 0) {
		/* keep[] lands on fd 3 in criu (vs_mig_run). */
		rt_argv_add(&a, "--page-server");
		rt_argv_add(&a, "--ps-socket=3");
	}
	if (r->rounds > 0) {
		/* Only what was dirtied since the last round: relative to -D. */
		rt_argv_add(&a, "--track-mem");
		rt_argv_add(&a, "--prev-images-dir=../" VS_RT_ROUNDS_DIR "/%u", r->rounds);
	}
	if (!r->own)
		rt_argv_add(&a, "--action-script=%s/" SYNC_SCRIPT, rundir);
	rt_argv_add(&a, "--action-script=%s/" GATE_SCRIPT, rundir);
	add_common(&a, m, false, NULL);
	if ((r->lazy && (lazy_env = lazy_prepare(rundir, err)) == NULL) ||
	    gate_open(rundir, &g, err) < 0) {
		gate_close(&g);
		rt_argv_free(&a);
		return -1;
	}
	for (size_t i = 0; r->layer_env[i] != NULL; i++)
		env[nenv++] = r->layer_env[i];
	env[nenv++] = g.env[0];
	env[nenv++] = g.env[1];
	if (lazy_env != NULL)
		env[nenv++] = lazy_env;
	{
		struct vs_mig_run_opts o = {.env_extra = env,
					    .keep = r->ps_fd >= 0 ? &r->ps_fd : NULL,
					    .nkeep = r->ps_fd >= 0 ? 1 : 0,
					    .timeout_ms = CRIU_TIMEOUT_MS};
		t_criu = vs_now_ms(); /* criu_ms: CRIU's whole run */
		rc = vs_mig_criu_start(criu, a.v, &o, log, &bg, err);
	}
	rt_argv_free(&a);
	/* Until its pre-dump script: CRIU dying on the way (a bad option, a
	 * failed probe) is its error, and nothing was frozen or taken down. */
	if (rc == 0 && (rc = vs_mig_criu_wait_fd(&bg, g.ask, "its pre-dump script", gate_wait_ms(),
						 err)) != 1) {
		vs_mig_criu_abort(&bg); /* timed out: killed (ended: nothing) */
		gate_close(&g);
		return -1;
	}
	/* Frozen time counts from the freeze that held, not the retries'. */
	rc = vs_cg_freeze_settled(cg, &t_freeze, err);
	if (rc >= 0 && getenv("VSD_TEST_DUMP_FREEZE_FAIL") != NULL)
		rc = injected_freeze_failure(err);
	if (rc < 0) {
		gate_answer(&g, &bg, false, NULL);
		gate_close(&g);
		vs_cg_thaw(cg, NULL);
		return vs_error_prefix(err, "freeze");
	}
	if (rc > 0) {
		char line[96];

		snprintf(line, sizeof(line),
			 "frozen again %d times (a task waited for a vfork child)", rc);
		send_progress(reply_fd, line);
	}
	/* Frozen: no cgroup comes or goes until the dump is over. The node
	 * sides go down too: CRIU unlocks the network when it lets go of the
	 * (still frozen) tasks, and neither an ACK for data the image does not
	 * hold nor the FIN of the kill may reach a peer; the standby routes
	 * answer for the addresses meanwhile. */
	rt_pin_cgroup_files(vs_cg_path(cg, "unified"), &pins);
	if (cfg->net.nifaces > 0 &&
	    (vs_net_quiesce(inst->net, &cfg->net, err) < 0 ||
	     (getenv("VSD_TEST_DUMP_NET_FAIL") != NULL && injected_net_failure(err) < 0))) {
		gate_answer(&g, &bg, false, NULL);
		gate_close(&g);
		rt_pins_release(&pins);
		rt_net_wake(inst, cfg, init);
		vs_cg_thaw(cg, NULL);
		return vs_error_prefix(err, "take the network down");
	}
	rc = gate_answer(&g, &bg, true, err); /* -1: CRIU killed, a failed dump */
	if (rc == 0) {
		send_progress(reply_fd, "frozen; dumping with criu");
		if (r->lazy)
			rc = lazy_wait(&bg, r->ps_fd, rundir, err);
		else if ((rc = vs_mig_criu_finish(&bg, CRIU_TIMEOUT_MS, err)) < 0)
			vs_mig_criu_abort(&bg);
	}
	gate_close(&g);
	res->criu_ms = vs_now_ms() - t_criu;
	rt_pins_release(&pins);
	if (rc == 0)
		rc = verify_then_kill(cg, log, !r->leave_running && !r->hold, err);
	if (rc < 0 && r->lazy)
		lazy_end(false, NULL);
	if (rc == 0 && r->hold) {
		/* Still frozen (criu found the cgroup frozen and left it so),
		 * node sides down: rt_monitor_release_held ends it. */
		res->frozen_ms = vs_now_ms() - t_freeze;
		return 0;
	}
	if (rc < 0 || r->leave_running)
		rt_net_wake(inst, cfg, init);
	/* CRIU thaws what it froze, also when it fails; make sure. */
	vs_cg_thaw(cg, NULL);
	res->frozen_ms = vs_now_ms() - t_freeze;
	return rc;
}

/* A failed dump leaves no partial image behind. criu's log is kept for
 * the operator: in the (otherwise emptied) operator directory, or moved
 * next to the container's own directory as last-checkpoint.log; the
 * error's "(log: ...)" is pointed there. */
static void discard_image(const struct ck_req *r, const struct rt_paths *paths,
			  struct vs_error *err)
{
	if (r->hold)
		rt_drop_rounds(paths->cdir);
	cleanup_close int dfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_dir DIR *d = NULL;
	cleanup_free char *kept = xasprintf("%s/last-checkpoint.log", paths->cdir);
	struct dirent *e;

	if (dfd < 0)
		return;
	if (r->own) {
		if (renameat(dfd, "dump.log", AT_FDCWD, kept) == 0 && err != NULL) {
			char *p = strstr(err->msg, "(log: ");
			if (p != NULL)
				snprintf(p, sizeof(err->msg) - (size_t)(p - err->msg), "(log: %s)",
					 kept);
		}
		{
			cleanup_close int cfd =
			    open(paths->cdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (cfd >= 0)
				vs_fs_remove_tree(cfd, "checkpoint", NULL);
		}
		return;
	}
	d = fdopendir(dup(dfd));
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, "dump.log") == 0)
			continue;
		vs_fs_remove_tree(dfd, e->d_name, NULL);
	}
}

/* A checkpoint into an operator's directory carries the file system it
 * was taken with: the container's upper layer is copied to DIR/layer
 * while the container runs (the bulk), and criu's post-dump action script
 * copies what changed since while the tasks are dumped and still frozen,
 * so the copy is the layer at the moment of the dump (for suspend too:
 * criu kills the tree only after post-dump). The own suspend image needs
 * no copy: nothing can change the layer of a suspended container. */
static int precopy_layer(const struct rt_paths *paths, struct ck_req *r, int reply_fd,
			 struct vs_error *err)
{
	cleanup_free char *dst = xasprintf("%s/" VS_RT_LAYER_DIR, r->dir);
	cleanup_free char *upper = vs_fs_upper_dir(paths->cdir);
	cleanup_free char *script = vs_fs_layer_sync_script();
	cleanup_close int rundir_fd = open(paths->rundir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int64_t t0 = vs_now_ms();
	char line[128];

	send_progress(reply_fd, "copying the container's layer");
	if (vs_fs_layer_copy(paths->cdir, dst, NULL, true, err) < 0)
		return vs_error_prefix(err, "copy the layer");
	snprintf(line, sizeof(line), "layer copied in %lld ms; freezing",
		 (long long)(vs_now_ms() - t0));
	send_progress(reply_fd, line);
	if (rundir_fd < 0 ||
	    vs_atomic_write_at(rundir_fd, SYNC_SCRIPT, script, strlen(script), 0700, err) < 0)
		return rundir_fd < 0 ? vs_error_set(err, errno, "open %s", paths->rundir) : -1;
	r->layer_env[0] = xasprintf("VSD_LAYER_SRC=%s", upper);
	r->layer_env[1] = xasprintf("VSD_LAYER_DST=%s", dst);
	return 0;
}

/* A memory pre-copy round: `criu pre-dump --track-mem` into
 * containers/NAME/precopy/K (round 1 starts the directory afresh), its
 * pages to the page server at r->ps_fd. CRIU stops the tasks itself, one
 * by one with ptrace from init down (no --freeze-cgroup), lets them go as
 * soon as the dirty pages are drained into pipes, and sends them while
 * the container runs. Not the freezer: a freeze can catch a shell in its
 * vfork (dash vforks every command) with the child not yet exec'd, and
 * CRIU then waits for the parent, which waits for the child CRIU holds,
 * until its timeout (10 s frozen, the round and the move failed); vsd
 * cannot settle the freeze first as it does for a dump, since CRIU would
 * then keep the tree frozen for the whole round. Stopped by ptrace, a
 * parent in its vfork stops once the child (not yet seized) has exec'd.
 * The round's CRIU files (inventory, stats-dump) stay here for the next
 * round's and the final dump's --prev-images-dir. done: "done FROZEN
 * CRIU TOTAL BYTES", BYTES the pages sent. */
static int predump_round(const struct vs_rt_instance *inst, struct vs_cg *cg, pid_t init,
			 const struct rt_paths *paths, const struct ck_req *r,
			 const struct cr_meta *m, char *done, size_t done_len, struct vs_error *err)
{
	cleanup_free char *top = xasprintf("%s/" VS_RT_ROUNDS_DIR, paths->cdir);
	cleanup_free char *dir = xasprintf("%s/%u", top, r->rounds);
	cleanup_free char *log = xasprintf("%s/predump.log", dir);
	cleanup_free char *stats = NULL;
	cleanup_close int cfd = open(paths->cdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct rt_argv a = {0};
	int64_t t0 = vs_now_ms();
	uint64_t pages = 0;
	size_t len = 0;
	int rc;

	if (cfd < 0 || (r->rounds == 1 && vs_fs_remove_tree(cfd, VS_RT_ROUNDS_DIR, err) < 0) ||
	    (r->rounds == 1 && mkdir(top, 0700) < 0) || mkdir(dir, 0700) < 0)
		return vs_error_set(err, errno, "prepare %s", dir);
	rt_argv_add(&a, "pre-dump");
	rt_argv_add(&a, "-t");
	rt_argv_add(&a, "%d", (int)init);
	rt_argv_add(&a, "-D");
	rt_argv_add(&a, "%s", dir);
	rt_argv_add(&a, "-o");
	rt_argv_add(&a, "predump.log");
	rt_argv_add(&a, "--track-mem");
	rt_argv_add(&a, "--page-server");
	rt_argv_add(&a, "--ps-socket=3");
	if (r->rounds > 1)
		rt_argv_add(&a, "--prev-images-dir=../%u", r->rounds - 1);
	rt_argv_add(&a, "--external=mnt[/dev/console]:console");
	rt_argv_add(&a, "--external=%s", m->console_tty);
	add_common(&a, m, false, NULL);
	rc = vs_mig_criu_run(
	    r->criu[0] ? r->criu : inst->criu_path, a.v,
	    &(struct vs_mig_run_opts){.keep = &r->ps_fd, .nkeep = 1, .timeout_ms = CRIU_TIMEOUT_MS},
	    log, err);
	rt_argv_free(&a);
	if (rc < 0)
		return vs_error_prefix(err, "pre-copy round %u", r->rounds);
	{
		cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || vs_read_file_at(dfd, "stats-dump", 1 << 20, &stats, &len, err) < 0 ||
		    vs_mig_dump_stats_pages((const uint8_t *)stats, len, &pages) < 0)
			return vs_error_kind(err, VS_EK_INVALID,
					     "pre-copy round %u: no page count in %s/stats-dump",
					     r->rounds, dir);
	}
	snprintf(done, done_len, "done 0 %lld %lld %llu", (long long)(vs_now_ms() - t0),
		 (long long)(vs_now_ms() - t0),
		 (unsigned long long)pages * (unsigned long long)sysconf(_SC_PAGESIZE));
	return 0;
}

int rt_monitor_checkpoint(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
			  pid_t init, int console_master, int reply_fd, const char *request,
			  int ps_fd, char *done, size_t done_len, bool *tree_gone, bool *held,
			  struct vs_error *err)
{
	struct rt_paths paths;
	struct ck_req r = {.ps_fd = ps_fd};
	struct cr_meta m = {0};
	struct vs_rt_cr_result res = {0};
	struct vs_cg *cg = vs_cg_open(inst->cg, inst->cgroup_parent, cfg->name);
	int64_t t0 = vs_now_ms();
	int rc = -1;

	*tree_gone = false;
	*held = false;
	rt_paths_init(&paths, inst->root, inst->run_dir, cfg);
	if (parse_request(request, paths.cdir, &r, err) < 0 || check_no_sessions(cg, init, err) < 0)
		goto out;
	if (r.predump) {
		rc = collect_externals(init, &m, err) < 0 ||
			     console_tty_id(paths.rundir, console_master, m.console_tty,
					    sizeof(m.console_tty), err) < 0
			 ? -1
			 : predump_round(inst, cg, init, &paths, &r, &m, done, done_len, err);
		if (rc < 0)
			rt_drop_rounds(paths.cdir);
		vs_cg_free(cg);
		rt_meta_free(&m);
		return rc;
	}
	if (r.own) {
		cleanup_close int cfd = open(paths.cdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cfd < 0 || vs_fs_remove_tree(cfd, "checkpoint", err) < 0 ||
		    mkdir(r.dir, 0700) < 0) {
			vs_error_set(err, errno, "prepare %s", r.dir);
			goto out;
		}
	}
	/* Root-only from the first file CRIU writes (an operator's --dir may
	 * be open), and the node key made now, before anything is killed, so
	 * that sealing after the dump cannot fail for want of it. */
	{
		uint8_t key[VS_MIG_KEY_LEN];
		if (rt_image_secure(r.dir, err) < 0 || vs_mig_node_key(inst->root, key, err) < 0)
			goto out;
	}
	if (collect_externals(init, &m, err) < 0 || collect_cgdirs(cg, &m, err) < 0 ||
	    console_tty_id(paths.rundir, console_master, m.console_tty, sizeof(m.console_tty),
			   err) < 0 ||
	    rt_meta_write(r.dir, &m, err) < 0)
		goto out;
	if (!r.own && precopy_layer(&paths, &r, reply_fd, err) < 0)
		goto out;
	rc = do_dump(inst, cfg, cg, init, paths.rundir, &r, &m, reply_fd, &res, err);
	if (rc < 0)
		goto out;
	*tree_gone = !r.leave_running && !r.hold;
	*held = r.hold;
	/* CRIU's link to the last round (../precopy/N) is this node's: the
	 * target makes its own (docs/migration.md, "Memory pre-copy rounds"),
	 * and the seal takes no link out of the image. */
	if (r.rounds > 0) {
		cleanup_free char *link = xasprintf("%s/" VS_MIG_PARENT_LINK, r.dir);
		if (unlink(link) < 0 && errno != ENOENT) {
			rc = vs_error_set(err, errno, "remove %s", link);
			goto out;
		}
	}
	/* The image holds the container's memory: root-only, and sealed so a
	 * restore can tell it was not changed. A dump whose image cannot be
	 * sealed is a failed dump (the image is discarded below). */
	if ((rc = rt_image_seal(inst, r.dir, err)) < 0)
		goto out;
	res.image_bytes = dir_bytes(r.dir);
	res.total_ms = vs_now_ms() - t0;
	snprintf(done, done_len, "done %lld %lld %lld %lld", (long long)res.frozen_ms,
		 (long long)res.criu_ms, (long long)res.total_ms, (long long)res.image_bytes);
out:
	if (rc < 0 && *held) {
		/* Sealing failed after a held dump: the container runs on. */
		rt_monitor_release_held(inst, cfg, init, false, NULL);
		*held = false;
	}
	if (rc < 0)
		discard_image(&r, &paths, err);
	lazy_run.sk = -1; /* the request's socket, closed by the caller */
	free(r.layer_env[0]);
	free(r.layer_env[1]);
	vs_cg_free(cg);
	rt_meta_free(&m);
	return rc;
}

int rt_monitor_release_held(const struct vs_rt_instance *inst,
			    const struct vs_container_config *cfg, pid_t init, bool kill,
			    struct vs_error *err)
{
	struct vs_cg *cg = NULL;
	cleanup_free char *cdir = xasprintf("%s/containers/%s", inst->root, cfg->name);
	cleanup_close int cfd = -1;
	int rc;

	/* Post-copy: never killed before its last page went (the target runs
	 * it and pulls from it), nor thawed while CRIU holds its tasks. A
	 * CRIU that ended with an error (its stream cut: a failed pull, or a
	 * daemon restarted) holds nothing: the thaw goes on (docs/migration.md,
	 * "A failed pull"); one still running after the wait does not. */
	if (lazy_end(kill, err) < 0 && (kill || lazy_run.bg.pid > 0))
		return -1;
	cg = vs_cg_open(inst->cg, inst->cgroup_parent, cfg->name);
	if (kill) {
		/* Killed while frozen and with its node sides still down: no
		 * task runs an instruction, and no FIN or ACK leaves, past the
		 * image the target now runs. */
		rc = vs_cg_kill_all(cg, err);
	} else {
		rt_net_wake(inst, cfg, init);
		rc = vs_cg_thaw(cg, err);
	}
	vs_cg_free(cg);
	/* The image without its pages is of no use here. */
	cfd = open(cdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd >= 0)
		vs_fs_remove_tree(cfd, "checkpoint", NULL);
	rt_drop_rounds(cdir);
	return rc;
}

void rt_drop_rounds(const char *cdir)
{
	cleanup_close int cfd = open(cdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (cfd >= 0)
		vs_fs_remove_tree(cfd, VS_RT_ROUNDS_DIR, NULL);
}

/* ---- restore ---- */

/* A user namespace with the container's id map, held by a throwaway child,
 * for the id-mapped template mount (the restored init's own user namespace
 * does not exist yet). Returns the ns fd or -1. */
static int mapped_userns(const struct vs_container_config *cfg, struct vs_error *err)
{
	int pipefd[2];
	pid_t pid;
	char path[64], map[64];
	int fd = -1, status;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return vs_error_set(err, errno, "pipe");
	pid = fork();
	if (pid == 0) {
		char c;
		close(pipefd[1]);
		if (unshare(CLONE_NEWUSER) < 0)
			_exit(1);
		(void)!read(pipefd[0], &c, 1);
		_exit(0);
	}
	close(pipefd[0]);
	if (pid < 0) {
		close(pipefd[1]);
		return vs_error_set(err, errno, "fork");
	}
	/* The child unshares asynchronously: wait until its ns differs. */
	for (int i = 0; i < 1000; i++) {
		char a[64] = "", b[64] = "";
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		if (readlink(path, a, sizeof(a) - 1) > 0 &&
		    readlink("/proc/self/ns/user", b, sizeof(b) - 1) > 0 && strcmp(a, b) != 0)
			break;
		usleep(1000);
	}
	snprintf(map, sizeof(map), "0 %u %u\n", cfg->idmap_uid, cfg->idmap_size);
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	if (vs_write_string_at(AT_FDCWD, path, map, err) == 0) {
		snprintf(map, sizeof(map), "0 %u %u\n", cfg->idmap_gid, cfg->idmap_size);
		snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
		if (vs_write_string_at(AT_FDCWD, path, map, err) == 0) {
			snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				vs_error_set(err, errno, "open %s", path);
		}
	}
	close(pipefd[1]);
	waitpid(pid, &status, 0);
	return fd;
}

static void progress_line(int fd, const char *line)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "progress %s\n", line);
	if (fd >= 0)
		vs_write_all(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Restore: each interface's veth pair is made again by CRIU with the node
 * side named as at start (and put into its bridge); vs_net_restored then
 * sets that side up. */
static void add_veths(struct rt_argv *a, const struct vs_container_config *cfg)
{
	for (size_t i = 0; i < cfg->net.nifaces; i++) {
		const struct vs_net_iface *ifc = &cfg->net.ifaces[i];
		if (ifc->model == VS_NET_BRIDGED)
			rt_argv_add(a, "--external=veth[%s]:%s@%s", ifc->name, ifc->host_ifname,
				    ifc->bridge);
		else
			rt_argv_add(a, "--external=veth[%s]:%s", ifc->name, ifc->host_ifname);
	}
}

static int run_restore(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		       struct vs_cg *cg, const struct rt_paths *paths, const char *dir,
		       const struct cr_meta *m, const struct rt_console *con, pid_t *pid,
		       struct vs_error *err)
{
	cleanup_strv char **roots = vs_cg_criu_roots(cg);
	struct rt_argv a = {0};
	cleanup_free char *lazy = xasprintf("%s/" VS_MIG_LAZY_DIR, paths->rundir);
	cleanup_free char *sock = xasprintf("%s/" VS_MIG_LAZY_SOCKET, lazy);
	struct stat st;
	/* Post-copy: the target's daemon started `criu lazy-pages` in this
	 * host directory (never the image's: attacker-written) for this
	 * restore; its socket there is the sign. */
	bool is_lazy = lstat(sock, &st) == 0 && S_ISSOCK(st.st_mode);
	cleanup_free char *log = xasprintf("%s/restore.log", is_lazy ? lazy : dir);
	cleanup_free char *pidfile = xasprintf("%s/init.pid", paths->rundir);
	cleanup_free char *text = NULL;
	cleanup_free char *views = vs_rt_views_dir(inst->run_dir);
	int rc;

	if (!rt_views_ready(views)) {
		fprintf(stderr,
			"vsd-monitor: %s: restored without in-container views (lxcfs not "
			"serving %s)\n",
			paths->rundir, views);
		free(views);
		views = NULL;
	}
	unlink(pidfile);
	rt_argv_add(&a, "restore");
	rt_argv_add(&a, "-D");
	rt_argv_add(&a, "%s", dir);
	rt_argv_add(&a, "-o");
	rt_argv_add(&a, "restore.log");
	rt_argv_add(&a, "--root=%s/rootfs", paths->cdir);
	rt_argv_add(&a, "--restore-detached");
	rt_argv_add(&a, "--restore-sibling");
	rt_argv_add(&a, "--pidfile=%s", pidfile);
	if (is_lazy) {
		/* Its log and the socket it meets lazy-pages at live there. */
		rt_argv_add(&a, "--lazy-pages");
		rt_argv_add(&a, "-W");
		rt_argv_add(&a, "%s", lazy);
	}
	rt_argv_add(&a, "--external=mnt[console]:%s", con->slave_path);
	rt_argv_add(&a, "--inherit-fd=fd[3]:%s", m->console_tty); /* con->slave, see vs_mig_run */
	add_common(&a, m, true, views);
	add_veths(&a, cfg);
	/* Into this node's cgroup for it, wherever the image was dumped
	 * (another node's cgroup parent, or another pool). */
	for (size_t i = 0; roots[i] != NULL; i++)
		rt_argv_add(&a, "--cgroup-root=%s", roots[i]);
	rc = vs_mig_criu_run(inst->criu_path, a.v,
			     &(struct vs_mig_run_opts){
				 .keep = &con->slave, .nkeep = 1, .timeout_ms = CRIU_TIMEOUT_MS},
			     log, err);
	rt_argv_free(&a);
	if (rc < 0)
		return -1;
	if (vs_read_file_at(AT_FDCWD, pidfile, 64, &text, NULL, err) < 0)
		return vs_error_prefix(err, "criu restore gave no pid");
	*pid = (pid_t)atoi(text);
	unlink(pidfile);
	return *pid > 0 ? 0 : vs_error_set(err, EIO, "criu restore gave a bad pid");
}

int rt_container_restore(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
			 const char *dir, int progress_fd, struct rt_running *out,
			 struct vs_rt_cr_result *res, struct vs_error *err)
{
	struct rt_paths paths;
	struct rt_console con = {.master = -1, .slave = -1};
	struct cr_meta m = {0};
	struct vs_cg *cg = NULL;
	cleanup_close int userns = -1;
	int64_t t0 = vs_now_ms(), t1;
	pid_t pid = -1;
	int rc;

	rt_paths_init(&paths, inst->root, inst->run_dir, cfg);
	if ((cg = rt_cg_for_start(inst, cfg, &paths, err)) == NULL ||
	    rt_meta_read(dir, &m, err) < 0 || rt_image_admit(inst, cfg, dir, &m, err) < 0 ||
	    rt_image_lend(cfg, dir, err) < 0)
		goto fail;
	if (vs_cg_create(cg, cfg->privileged ? (uid_t)-1 : cfg->idmap_uid,
			 cfg->privileged ? (gid_t)-1 : cfg->idmap_gid, err) < 0 ||
	    vs_cg_apply(cg, &cfg->limits, err) < 0 ||
	    (cfg->privileged && rt_restrict_devices(cg, err) < 0) ||
	    rebuild_cgdirs(cg, cfg, &m, err) < 0 ||
	    rt_console_create(paths.rundir, cfg, &con, err) < 0)
		goto fail;
	if (!cfg->privileged && (userns = mapped_userns(cfg, err)) < 0)
		goto fail;
	if (vs_fs_rootfs_mount(paths.tmpl, paths.cdir, userns, err) < 0)
		goto fail;
	progress_line(progress_fd, "root mounted; restoring with criu");
	t1 = vs_now_ms();
	rc = run_restore(inst, cfg, cg, &paths, dir, &m, &con, &pid, err);
	rt_image_secure(dir, NULL);
	if (rc < 0)
		goto fail;
	res->criu_ms = vs_now_ms() - t1;
	if (rt_restored_verify(cfg, pid,
			       vs_cg_path(cg, "pids") ? vs_cg_path(cg, "pids")
						      : vs_cg_path(cg, "unified"),
			       err) < 0) {
		vs_error_prefix(err, "restore refused, the restored tree was killed");
		vs_cg_kill_all(cg, NULL);
		goto fail;
	}
	/* CRIU made more (the cgroups that hold tasks) and enabled controllers,
	 * which added files: hand those to the guest too. The restored tree
	 * already runs, so a failure is only logged (in the monitor's log):
	 * the guest then meets EACCES on those files, not a dead container. */
	if (!cfg->privileged) {
		struct vs_error e = {0};
		if (rt_cg_give_subtree(vs_cg_path(cg, "unified"), cfg->idmap_uid, cfg->idmap_gid,
				       &e) < 0)
			fprintf(stderr, "vsd-monitor: %s: restored cgroups: %s\n", paths.rundir,
				e.msg);
	}
	if (rt_net_attach(inst, cfg, pid, true, err) < 0) {
		vs_error_prefix(err, "restore: network of the restored container (killed)");
		vs_cg_kill_all(cg, NULL);
		goto fail;
	}
	out->pid = pid;
	out->pidfd = vs_pidfd_open(pid, 0);
	if (out->pidfd < 0) {
		vs_error_set(err, errno, "pidfd of restored init");
		goto fail;
	}
	out->console = con.master;
	close(con.slave);
	vs_cg_free(cg);
	rt_meta_free(&m);
	res->image_bytes = dir_bytes(dir);
	res->total_ms = vs_now_ms() - t0;
	res->frozen_ms = res->total_ms;
	return 0;
fail:
	rt_image_secure(dir, NULL);
	if (con.master >= 0)
		close(con.master);
	if (con.slave >= 0)
		close(con.slave);
	vs_cg_free(cg);
	rt_meta_free(&m);
	{
		cleanup_free char *own = xasprintf("%s/checkpoint", paths.cdir);
		/* A failed resume leaves the container suspended: its
		 * addresses keep their standby routes. */
		rt_container_cleanup(inst, cfg, strcmp(dir, own) == 0, NULL);
	}
	return -1;
}
