/* GET /v1/containers/{name}/stats and GET /metrics: one container's usage
 * as JSON, and every container's and the node's in the Prometheus text
 * exposition format 0.0.4 (docs/api.md, "Metrics", names every family). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroups/vs_cgroups.h"
#include "daemon/handlers.h"
#include "fs-cow/vs_fs.h"
#include "lib/vs_util.h"

/* Everything known of one container. */
struct cusage {
	char *name;
	const char *state;
	bool running;
	struct vs_cg_stats cg; /* all -1 when not running */
	int64_t limit;	       /* memory limit in force or configured, -1 none */
	int64_t reclaimed;
	double usage_percent; /* -1 unknown */
	struct vsd_oom_info oom;
	bool has_disk; /* a disk quota: the four below are known */
	int64_t disk_used, disk_total, inodes_used, inodes_total;
	size_t nnet; /* interfaces with counters (running containers) */
	struct {
		char name[VS_IFNAME_MAX + 1];
		struct vs_net_ifstats st;
	} net[VS_NET_IFACES_MAX];
};

/* The six per-interface counters, for JSON and metrics alike. */
static const struct {
	const char *key, *metric, *help;
	size_t offset; /* of a uint64_t in struct vs_net_ifstats */
} net_counters[] = {
    {"egress_bytes", "vsd_net_egress_bytes_total", "Bytes the container sent",
     offsetof(struct vs_net_ifstats, egress_bytes)},
    {"egress_packets", "vsd_net_egress_packets_total", "Packets the container sent",
     offsetof(struct vs_net_ifstats, egress_packets)},
    {"egress_drops", "vsd_net_egress_drops_total",
     "Packets the container sent that the shaper or firewall dropped",
     offsetof(struct vs_net_ifstats, egress_drops)},
    {"ingress_bytes", "vsd_net_ingress_bytes_total", "Bytes the container received",
     offsetof(struct vs_net_ifstats, ingress_bytes)},
    {"ingress_packets", "vsd_net_ingress_packets_total", "Packets the container received",
     offsetof(struct vs_net_ifstats, ingress_packets)},
    {"ingress_drops", "vsd_net_ingress_drops_total",
     "Packets for the container that the shaper dropped",
     offsetof(struct vs_net_ifstats, ingress_drops)},
};

static uint64_t net_counter(const struct vs_net_ifstats *st, size_t k)
{
	uint64_t v;
	memcpy(&v, (const char *)st + net_counters[k].offset, sizeof(v));
	return v;
}

/* Counters of a running container's interfaces: from the scrape's table
 * when there is one (GET /metrics), else asked of the kernel per
 * interface (one container's stats). */
static void net_of(struct vsd *d, const struct vs_net_stats_table *tab,
		   const struct vs_container_config *cfg, struct cusage *u)
{
	for (size_t i = 0; u->running && i < cfg->net.nifaces; i++) {
		struct vs_net_ifstats *st = &u->net[u->nnet].st;
		struct vs_error e = {0};
		if ((tab != NULL ? vs_net_stats_of(tab, &cfg->net, i, st, &e)
				 : vs_net_stats(&d->net, &cfg->net, i, st, &e)) < 0) {
			vsd_debug("container %s: counters of %s: %s", cfg->name,
				  cfg->net.ifaces[i].name, e.msg);
			continue;
		}
		snprintf(u->net[u->nnet].name, sizeof(u->net[0].name), "%s",
			 cfg->net.ifaces[i].name);
		u->nnet++;
	}
}

/* The disk quota's use (a container with one; its disk stays mounted
 * while stopped too). Without a quota, or when it cannot be read, the
 * figures stay -1 and JSON says null. */
static void disk_of(struct vsd *d, const char *name, struct cusage *u)
{
	cleanup_free char *cdir = xasprintf("%s/containers/%s", d->root, name);
	struct vs_error e = {0};

	int r = vs_fs_disk_usage(cdir, &u->disk_used, &u->disk_total, &u->inodes_used,
				 &u->inodes_total, &e);

	u->has_disk = r == 0;
	if (!u->has_disk)
		u->disk_used = u->disk_total = u->inodes_used = u->inodes_total = -1;
	if (r < 0)
		vsd_debug("container %s: disk usage: %s", name, e.msg);
}

static int usage_of(struct vsd *d, const struct vs_net_stats_table *tab, const char *name,
		    struct cusage *u, struct vs_error *err)
{
	cleanup_config struct vs_container_config cfg = {0};
	struct vs_rt_status st;
	struct vs_cg *cg;
	struct vsd_sample cur;

	memset(u, 0, sizeof(*u));
	vs_cg_stats_init(&u->cg);
	if (vsd_index_load(d->index, d->containers_fd, name, &cfg, err) < 0 ||
	    vsd_container_status_kept(d, name, &st, err) < 0)
		return -1;
	u->name = xstrdup(name);
	u->state = vs_rt_state_name(st.state);
	u->running = st.state == VS_RT_RUNNING;
	u->limit = cfg.limits.memory > 0 ? cfg.limits.memory : -1;
	if (u->running && (cg = vsd_cg_of(d, name, cfg.pool)) != NULL) {
		struct vs_error e = {0};
		if (vs_cg_stats(cg, &u->cg, &e) < 0)
			vsd_debug("container %s: %s", name, e.msg);
		vs_cg_free(cg);
	}
	if (u->cg.memory_max > 0)
		u->limit = u->cg.memory_max;
	cur = (struct vsd_sample){.t_ms = vs_now_ms(), .cpu_usec = u->cg.cpu_usage_usec};
	u->reclaimed = vsd_sampler_container(d, name, u->cg.cpu_usage_usec >= 0 ? &cur : NULL,
					     &u->usage_percent);
	if (u->running && u->cg.oom_kills >= 0)
		vsd_oom_get_counted(d, name, &st, u->cg.oom_kills, &u->oom);
	else
		vsd_oom_get(d, name, cfg.pool, &st, &u->oom);
	disk_of(d, name, u);
	net_of(d, tab, &cfg, u);
	return 0;
}

/* ---- JSON ------------------------------------------------------------ */

static void kv_opt(struct vs_jgen *g, const char *key, int64_t v)
{
	vs_jgen_key(g, key);
	if (v >= 0)
		vs_jgen_int(g, v);
	else
		vs_jgen_null(g);
}

static void gen_usage(struct vs_jgen *g, const struct cusage *u)
{
	const struct vs_cg_stats *c = &u->cg;

	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "name", u->name);
	vs_jgen_kv_str(g, "state", u->state);
	vs_jgen_key(g, "cpu");
	vs_jgen_obj_open(g);
	kv_opt(g, "usage_usec", c->cpu_usage_usec);
	kv_opt(g, "user_usec", c->cpu_user_usec);
	kv_opt(g, "system_usec", c->cpu_system_usec);
	kv_opt(g, "throttled_usec", c->cpu_throttled_usec);
	kv_opt(g, "nr_throttled", c->cpu_nr_throttled);
	vs_jgen_key(g, "usage_percent");
	if (u->usage_percent >= 0)
		vs_jgen_double(g, u->usage_percent);
	else
		vs_jgen_null(g);
	vs_jgen_obj_close(g);
	vs_jgen_key(g, "memory");
	vs_jgen_obj_open(g);
	kv_opt(g, "current", c->memory_current);
	kv_opt(g, "peak", c->memory_peak);
	kv_opt(g, "limit", u->limit);
	kv_opt(g, "swap", c->memory_swap);
	kv_opt(g, "file", c->memory_file);
	kv_opt(g, "anon", c->memory_anon);
	kv_opt(g, "pgfault", c->pgfault);
	vs_jgen_kv_int(g, "reclaimed", u->reclaimed);
	vs_jgen_obj_close(g);
	vs_jgen_key(g, "pids");
	vs_jgen_obj_open(g);
	kv_opt(g, "current", c->pids_current);
	kv_opt(g, "max", c->pids_max);
	vs_jgen_obj_close(g);
	vs_jgen_key(g, "io");
	vs_jgen_obj_open(g);
	kv_opt(g, "read_bytes", c->io_read_bytes);
	kv_opt(g, "write_bytes", c->io_write_bytes);
	kv_opt(g, "read_ios", c->io_read_ios);
	kv_opt(g, "write_ios", c->io_write_ios);
	vs_jgen_obj_close(g);
	vs_jgen_key(g, "disk");
	if (u->has_disk) {
		vs_jgen_obj_open(g);
		kv_opt(g, "used", u->disk_used);
		kv_opt(g, "total", u->disk_total);
		kv_opt(g, "inodes_used", u->inodes_used);
		kv_opt(g, "inodes_total", u->inodes_total);
		vs_jgen_obj_close(g);
	} else {
		vs_jgen_null(g); /* no disk quota */
	}
	vs_jgen_key(g, "oom");
	vs_jgen_obj_open(g);
	vs_jgen_kv_int(g, "kills", u->oom.kills);
	kv_opt(g, "last_at", u->oom.last_at > 0 ? u->oom.last_at : -1);
	vs_jgen_kv_str(g, "last_command", u->oom.last_command[0] ? u->oom.last_command : NULL);
	vs_jgen_obj_close(g);
	vs_jgen_key(g, "net");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < u->nnet; i++) {
		vs_jgen_obj_open(g);
		vs_jgen_kv_str(g, "interface", u->net[i].name);
		for (size_t k = 0; k < VS_ARRAY_SIZE(net_counters); k++)
			vs_jgen_kv_int(g, net_counters[k].key,
				       (int64_t)net_counter(&u->net[i].st, k));
		vs_jgen_obj_close(g);
	}
	vs_jgen_arr_close(g);
	vs_jgen_obj_close(g);
}

int vsd_h_container_stats(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	struct cusage u;

	if (usage_of(c->d, NULL, c->m->params[0], &u, err) < 0) {
		free(u.name);
		return -1;
	}
	gen_usage(g, &u);
	free(u.name);
	vsd_reply_json(out, 200, g);
	return 0;
}

/* ---- Prometheus text format ------------------------------------------- */

enum mval { V_INT, V_USEC_AS_SECONDS };

/* One per-container family: where its value is in struct cusage. */
struct family {
	const char *name, *type, *help;
	size_t offset; /* of an int64_t in struct cusage */
	enum mval kind;
	bool all; /* also for containers that are not running */
};

#define CG(f) offsetof(struct cusage, cg.f)
static const struct family families[] = {
    {"vsd_container_cpu_seconds_total", "counter", "CPU time used", CG(cpu_usage_usec),
     V_USEC_AS_SECONDS, false},
    {"vsd_container_cpu_user_seconds_total", "counter", "CPU time used in user mode",
     CG(cpu_user_usec), V_USEC_AS_SECONDS, false},
    {"vsd_container_cpu_system_seconds_total", "counter", "CPU time used in the kernel",
     CG(cpu_system_usec), V_USEC_AS_SECONDS, false},
    {"vsd_container_cpu_throttled_seconds_total", "counter", "Time throttled by the CPU cap",
     CG(cpu_throttled_usec), V_USEC_AS_SECONDS, false},
    {"vsd_container_cpu_throttled_periods_total", "counter",
     "Scheduler periods in which the CPU cap throttled", CG(cpu_nr_throttled), V_INT, false},
    {"vsd_container_memory_bytes", "gauge", "Memory in use (page cache included)",
     CG(memory_current), V_INT, false},
    {"vsd_container_memory_peak_bytes", "gauge", "Largest memory use seen", CG(memory_peak), V_INT,
     false},
    {"vsd_container_memory_limit_bytes", "gauge", "Memory limit (absent when unlimited)",
     offsetof(struct cusage, limit), V_INT, true},
    {"vsd_container_memory_cache_bytes", "gauge", "Page cache", CG(memory_file), V_INT, false},
    {"vsd_container_memory_anon_bytes", "gauge", "Anonymous memory", CG(memory_anon), V_INT, false},
    {"vsd_container_swap_bytes", "gauge", "Swap in use", CG(memory_swap), V_INT, false},
    {"vsd_container_page_faults_total", "counter", "Page faults", CG(pgfault), V_INT, false},
    {"vsd_container_pids", "gauge", "Processes and threads", CG(pids_current), V_INT, false},
    {"vsd_container_pids_limit", "gauge", "Process limit (absent when unlimited)", CG(pids_max),
     V_INT, false},
    {"vsd_container_io_read_bytes_total", "counter", "Bytes read from block devices",
     CG(io_read_bytes), V_INT, false},
    {"vsd_container_io_write_bytes_total", "counter", "Bytes written to block devices",
     CG(io_write_bytes), V_INT, false},
    {"vsd_container_io_read_ops_total", "counter", "Read operations on block devices",
     CG(io_read_ios), V_INT, false},
    {"vsd_container_io_write_ops_total", "counter", "Write operations on block devices",
     CG(io_write_ios), V_INT, false},
    {"vsd_container_disk_used_bytes", "gauge", "Bytes used on the disk quota's file system",
     offsetof(struct cusage, disk_used), V_INT, true},
    {"vsd_container_disk_quota_bytes", "gauge", "Size of the disk quota's file system",
     offsetof(struct cusage, disk_total), V_INT, true},
    {"vsd_container_disk_inodes_used", "gauge", "Files on the disk quota's file system",
     offsetof(struct cusage, inodes_used), V_INT, true},
    {"vsd_container_disk_inodes_quota", "gauge", "Files the disk quota allows",
     offsetof(struct cusage, inodes_total), V_INT, true},
    {"vsd_container_oom_kills_total", "counter",
     "Processes killed by the memory limit since the container was created",
     offsetof(struct cusage, oom.kills), V_INT, true},
    {"vsd_container_memory_reclaimed_bytes_total", "counter",
     "Memory taken back by idle reclaim since vsd started", offsetof(struct cusage, reclaimed),
     V_INT, true},
};
#undef CG

static void header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void emit_family(FILE *f, const struct family *fam, const struct cusage *u, size_t n)
{
	header(f, fam->name, fam->type, fam->help);
	for (size_t i = 0; i < n; i++) {
		int64_t v;
		memcpy(&v, (const char *)&u[i] + fam->offset, sizeof(v));
		if (v < 0 || (!fam->all && !u[i].running))
			continue;
		fprintf(f, "%s{container=\"", fam->name);
		label(f, u[i].name);
		if (fam->kind == V_USEC_AS_SECONDS)
			fprintf(f, "\"} %" PRId64 ".%06" PRId64 "\n", v / 1000000, v % 1000000);
		else
			fprintf(f, "\"} %" PRId64 "\n", v);
	}
}

/* The per-interface counters, labelled by container and interface. */
static void emit_net(FILE *f, const struct cusage *u, size_t n)
{
	for (size_t k = 0; k < VS_ARRAY_SIZE(net_counters); k++) {
		header(f, net_counters[k].metric, "counter", net_counters[k].help);
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < u[i].nnet; j++) {
				fprintf(f, "%s{container=\"", net_counters[k].metric);
				label(f, u[i].name);
				fprintf(f, "\",interface=\"%s\"} %" PRIu64 "\n", u[i].net[j].name,
					net_counter(&u[i].net[j].st, k));
			}
	}
}

void vsd_node_memory(int64_t *total, int64_t *avail)
{
	cleanup_file FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	long long kb;

	*total = *avail = -1;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "MemTotal: %lld kB", &kb) == 1)
			*total = kb * 1024;
		else if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1)
			*avail = kb * 1024;
	}
}

static void emit_node(FILE *f, struct vsd *d, const struct cusage *u, size_t n)
{
	static const char *const states[] = {"stopped", "starting", "running", "stopping",
					     "suspended"};
	int64_t total, avail, bytes, count;
	bool enabled;

	header(f, "vsd_containers", "gauge", "Containers by state");
	for (size_t s = 0; s < VS_ARRAY_SIZE(states); s++) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			k += strcmp(u[i].state, states[s]) == 0;
		fprintf(f, "vsd_containers{state=\"%s\"} %zu\n", states[s], k);
	}
	vsd_node_memory(&total, &avail);
	header(f, "vsd_node_memory_total_bytes", "gauge", "Memory of the node");
	fprintf(f, "vsd_node_memory_total_bytes %" PRId64 "\n", total);
	header(f, "vsd_node_memory_available_bytes", "gauge", "Memory available for new work");
	fprintf(f, "vsd_node_memory_available_bytes %" PRId64 "\n", avail);
	vsd_sampler_totals(d, &bytes, &count, &enabled);
	header(f, "vsd_idle_reclaim_enabled", "gauge", "1 when idle reclaim is on");
	fprintf(f, "vsd_idle_reclaim_enabled %d\n", enabled ? 1 : 0);
	header(f, "vsd_idle_reclaim_bytes_total", "counter",
	       "Memory taken back from idle containers since vsd started");
	fprintf(f, "vsd_idle_reclaim_bytes_total %" PRId64 "\n", bytes);
	header(f, "vsd_idle_reclaims_total", "counter", "Idle reclaims done since vsd started");
	fprintf(f, "vsd_idle_reclaims_total %" PRId64 "\n", count);
	header(f, "vsd_container_up", "gauge", "1 when the container is running, else 0");
	for (size_t i = 0; i < n; i++) {
		fputs("vsd_container_up{container=\"", f);
		label(f, u[i].name);
		fprintf(f, "\"} %d\n", u[i].running ? 1 : 0);
	}
}

int vsd_h_metrics(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_strv char **names = NULL;
	cleanup_net_stats struct vs_net_stats_table *tab = NULL;
	struct vs_error ne = {0};
	struct cusage *u;
	size_t n = 0, len = 0;
	char *text = NULL;
	FILE *f;

	if (vsd_store_list(c->d->containers_fd, &names, err) < 0)
		return -1;
	/* Every interface's counters in three dumps, not three requests per
	 * interface; without the table each interface is asked on its own. */
	if (vs_net_stats_all(&c->d->net, &tab, &ne) < 0)
		vsd_debug("metrics: %s", ne.msg);
	u = xcalloc(vs_strv_len(names) + 1, sizeof(*u));
	vsd_oom_batch(c->d, true);
	for (size_t i = 0; names[i] != NULL; i++) {
		struct vs_error e = {0};
		/* One container that cannot be read (or vanished) is left out. */
		if (usage_of(c->d, tab, names[i], &u[n], &e) == 0)
			n++;
		else
			free(u[n].name);
	}
	vsd_oom_batch(c->d, false);
	f = open_memstream(&text, &len);
	if (f == NULL)
		abort(); /* allocation failure aborts, as xmalloc does */
	emit_node(f, c->d, u, n);
	for (size_t i = 0; i < VS_ARRAY_SIZE(families); i++)
		emit_family(f, &families[i], u, n);
	emit_net(f, u, n);
	fclose(f);
	for (size_t i = 0; i < n; i++)
		free(u[i].name);
	free(u);
	out->status = 200;
	out->body = text;
	out->content_type = "text/plain; version=0.0.4; charset=utf-8";
	return 0;
}
