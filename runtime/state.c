/* state.json: what is running, written by the monitor, read by everyone.
 * A pid alone is not an identity (pids are recycled), so the start time of
 * init and monitor from /proc/PID/stat is recorded and compared. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_json.h"
#include "lib/vs_util.h"
#include "runtime/rt-private.h"

void rt_paths_init(struct rt_paths *p, const char *root, const char *run_dir,
		   const struct vs_container_config *cfg)
{
	snprintf(p->cdir, sizeof(p->cdir), "%s/containers/%s", root, cfg->name);
	snprintf(p->rundir, sizeof(p->rundir), "%s/containers/%s", run_dir, cfg->name);
	snprintf(p->sock, sizeof(p->sock), "%s/monitor.sock", p->rundir);
	snprintf(p->tmpl, sizeof(p->tmpl), "%s/templates/%s/rootfs", root, cfg->template_name);
}

const char *vs_rt_state_name(enum vs_rt_state s)
{
	switch (s) {
	case VS_RT_STARTING:
		return "starting";
	case VS_RT_RUNNING:
		return "running";
	case VS_RT_STOPPING:
		return "stopping";
	case VS_RT_SUSPENDED:
		return "suspended";
	default:
		return "stopped";
	}
}

uint64_t rt_proc_start_time(pid_t pid)
{
	char path[64], buf[1024];
	cleanup_close int fd = -1;
	ssize_t n;
	char *p;
	unsigned long long st = 0;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = vs_read_all(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold spaces and parens: fields resume after the last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL)
		return 0;
	/* After ") " come field 3 (state) .. field 22 (starttime). */
	if (sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
		   "%*d %llu",
		   &st) != 1)
		return 0;
	if (buf[0] != '\0' && strstr(p, ") Z ") == p)
		return 0; /* a zombie is gone for our purposes */
	return st;
}

bool rt_proc_matches(pid_t pid, uint64_t start_time)
{
	return pid > 0 && start_time != 0 && rt_proc_start_time(pid) == start_time;
}

static int64_t get_int(const struct vs_json *root, const char *key, int64_t dflt)
{
	int64_t v;
	return vs_json_int64(vs_json_get(root, key), &v) ? v : dflt;
}

int rt_state_read(const char *cdir, struct rt_state *st, struct vs_error *err)
{
	cleanup_free char *path = xasprintf("%s/state.json", cdir);
	cleanup_free char *text = NULL;
	cleanup_json struct vs_json *root = NULL;
	const struct vs_json *le;
	struct vs_error e = {0};
	const char *s;

	memset(st, 0, sizeof(*st));
	strcpy(st->state, "stopped");
	st->last_exit_code = -1;
	if (vs_read_file_at(AT_FDCWD, path, 65536, &text, NULL, &e) < 0) {
		if (e.errnum == ENOENT)
			return 0; /* never started: stopped */
		if (err != NULL)
			*err = e;
		return -1;
	}
	if (vs_json_parse(text, &root, err) < 0)
		return vs_error_prefix(err, "%s", path);
	s = vs_json_string(vs_json_get(root, "state"));
	if (s != NULL && strlen(s) < sizeof(st->state))
		strcpy(st->state, s);
	st->init_pid = (pid_t)get_int(root, "init_pid", 0);
	st->init_start_time = (uint64_t)get_int(root, "init_start_time", 0);
	st->monitor_pid = (pid_t)get_int(root, "monitor_pid", 0);
	st->monitor_start_time = (uint64_t)get_int(root, "monitor_start_time", 0);
	st->started_at = get_int(root, "started_at", 0);
	le = vs_json_get(root, "last_exit");
	if (le != NULL) {
		st->last_exit_code = (int)get_int(le, "code", -1);
		st->last_exit_signal = (int)get_int(le, "signal", 0);
	}
	return 0;
}

int rt_state_write(const char *cdir, const struct rt_state *st, const char *prev,
		   struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(true);
	cleanup_close int dfd = open(cdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct rt_state old;
	const char *text;
	size_t len;

	if (dfd < 0)
		return vs_error_set(err, errno, "open %s", cdir);
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "state", st->state);
	vs_jgen_kv_int(g, "init_pid", st->init_pid);
	vs_jgen_kv_int(g, "init_start_time", (int64_t)st->init_start_time);
	vs_jgen_kv_int(g, "monitor_pid", st->monitor_pid);
	vs_jgen_kv_int(g, "monitor_start_time", (int64_t)st->monitor_start_time);
	vs_jgen_kv_int(g, "started_at", st->started_at);
	if (st->last_exit_code >= 0 || st->last_exit_signal > 0) {
		vs_jgen_key(g, "last_exit");
		vs_jgen_obj_open(g);
		vs_jgen_kv_int(g, "code", st->last_exit_code);
		vs_jgen_kv_int(g, "signal", st->last_exit_signal);
		vs_jgen_obj_close(g);
	}
	vs_jgen_obj_close(g);
	text = vs_jgen_text(g, &len);
	/* A suspended container's state must survive a power loss (its image
	 * waits on disk), and so must the step out of it (the image is gone
	 * after a resume). The others need no fsync (two per write, four
	 * writes per start and stop): after a power loss no monitor is alive
	 * and vsd goes by the live processes (pid and start time). */
	if (prev == NULL && rt_state_read(cdir, &old, NULL) == 0)
		prev = old.state;
	if (strcmp(st->state, "suspended") == 0 || (prev != NULL && strcmp(prev, "suspended") == 0))
		return vs_atomic_write_at(dfd, "state.json", text, len, 0644, err);
	return vs_replace_at(dfd, "state.json", text, len, 0644, err);
}

int vs_rt_status(const struct vs_rt_instance *inst, const char *name, struct vs_rt_status *out,
		 struct vs_error *err)
{
	cleanup_free char *cdir = xasprintf("%s/containers/%s", inst->root, name);
	struct rt_state st;
	bool init_alive, mon_alive;

	memset(out, 0, sizeof(*out));
	out->state = VS_RT_STOPPED;
	out->last_exit_code = -1;
	if (rt_state_read(cdir, &st, err) < 0)
		return -1;
	out->last_exit_code = st.last_exit_code;
	out->last_exit_signal = st.last_exit_signal;
	init_alive = rt_proc_matches(st.init_pid, st.init_start_time);
	mon_alive = rt_proc_matches(st.monitor_pid, st.monitor_start_time);
	if (strcmp(st.state, "stopped") == 0)
		return 0;
	if (strcmp(st.state, "suspended") == 0) {
		out->state = VS_RT_SUSPENDED;
		return 0;
	}
	if (init_alive) {
		out->state = strcmp(st.state, "stopping") == 0 ? VS_RT_STOPPING : VS_RT_RUNNING;
		out->init_pid = st.init_pid;
		out->monitor_pid = mon_alive ? st.monitor_pid : 0;
		out->monitor_alive = mon_alive;
		out->started_at = st.started_at;
	} else if (mon_alive && strcmp(st.state, "starting") == 0) {
		out->state = VS_RT_STARTING;
		out->monitor_pid = st.monitor_pid;
		out->monitor_alive = true;
	} else if (mon_alive) {
		/* init gone, monitor still tearing down */
		out->state = VS_RT_STOPPING;
		out->monitor_pid = st.monitor_pid;
		out->monitor_alive = true;
	}
	return 0;
}
