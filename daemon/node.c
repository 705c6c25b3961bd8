/* Small read-only handlers: GET /v1/operations/ID and GET /v1/node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "cgroups/vs_cgroups.h"
#include "daemon/handlers.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

/* Longest ?wait of GET /v1/operations/{id} (seconds). */
#define OP_WAIT_MAX 60

int vsd_h_operation_get(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	const char *since_s = vsd_call_query(c, "since");
	const char *wait_s = vsd_call_query(c, "wait");
	cleanup_free char *text = NULL;
	int64_t since = 0, wait = 0;
	uint64_t id;

	if (vsd_parse_op_id(c->m->params[0], &id, err) < 0)
		return -1;
	if (since_s != NULL && vs_parse_int(since_s, "since", 0, INT64_MAX, &since, err) < 0)
		return -1;
	if (wait_s != NULL && vs_parse_int(wait_s, "wait", 0, OP_WAIT_MAX, &wait, err) < 0)
		return -1;
	/* Each connection has its own thread (server.c), so a long poll
	 * waits here without holding up other requests. */
	if (wait > 0 && vsd_ops_wait(c->d->ops, id, (int)wait * 1000, err) < 0)
		return -1;
	if (vsd_ops_json(c->d->ops, id, (size_t)since, (int64_t)time(NULL), &text, err) < 0)
		return -1;
	out->status = 200;
	out->body = xasprintf("%s\n", text);
	return 0;
}

static const char *mode_name(enum vs_cg_mode m)
{
	switch (m) {
	case VS_CG_UNIFIED:
		return "unified";
	case VS_CG_HYBRID:
		return "hybrid";
	case VS_CG_LEGACY:
		return "legacy";
	}
	return "unknown";
}

void vsd_views_check(struct vsd *d, const char *name)
{
	struct vs_error e = {0};
	pid_t pid = 0;
	int r;

	pthread_mutex_lock(&d->views_lock);
	r = vs_rt_views_ensure(d->run_dir, &pid, &e);
	if (r < 0 && (d->views_active || name == NULL || strcmp(e.msg, d->views_error) != 0))
		vsd_log("warning: in-container views are off%s%s: %s",
			name ? " for container " : "", name ? name : "", e.msg);
	else if (r < 0 && name != NULL)
		vsd_log("warning: container %s starts without in-container views: %s", name, e.msg);
	else if (r == 0 && (!d->views_active || pid != d->views_pid))
		vsd_log("in-container views: lxcfs pid %d", (int)pid);
	d->views_active = r == 0;
	d->views_pid = r == 0 ? pid : 0;
	snprintf(d->views_error, sizeof(d->views_error), "%s", r == 0 ? "" : e.msg);
	pthread_mutex_unlock(&d->views_lock);
}

static void gen_views(struct vsd *d, struct vs_jgen *g)
{
	cleanup_free char *mnt = vs_rt_views_dir(d->run_dir);

	pthread_mutex_lock(&d->views_lock);
	vs_jgen_obj_open(g);
	vs_jgen_kv_bool(g, "active", d->views_active);
	vs_jgen_kv_str(g, "provider", "lxcfs");
	vs_jgen_kv_str(g, "mount", mnt);
	if (d->views_active)
		vs_jgen_kv_int(g, "pid", d->views_pid);
	else
		vs_jgen_kv_str(g, "error", d->views_error);
	vs_jgen_obj_close(g);
	pthread_mutex_unlock(&d->views_lock);
}

static void gen_ip(struct vs_jgen *g, const struct vs_ip *ip, bool prefix)
{
	char s[VS_IP_STRLEN];

	if (ip->family == 0) {
		vs_jgen_null(g);
		return;
	}
	vs_format_ip(ip, prefix, s, sizeof(s));
	vs_jgen_str(g, s);
}

static void gen_network(struct vsd *d, struct vs_jgen *g)
{
	const struct vs_net_node *n = &d->net;

	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "id", n->id);
	vs_jgen_kv_str(g, "uplink", n->uplink[0] ? n->uplink : NULL);
	vs_jgen_kv_str(g, "bridge", n->bridge);
	vs_jgen_kv_str(g, "firewall_table", n->fw_table);
	vs_jgen_key(g, "pools");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < n->npools; i++) {
		vs_jgen_obj_open(g);
		vs_jgen_kv_str(g, "network", n->pools[i].network);
		vs_jgen_key(g, "cidr");
		gen_ip(g, &n->pools[i].net, true);
		vs_jgen_key(g, "gateway");
		gen_ip(g, &n->pools[i].gateway, false);
		vs_jgen_obj_close(g);
	}
	vs_jgen_arr_close(g);
	vs_jgen_key(g, "private_bridges");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < n->nprivate; i++)
		vs_jgen_str(g, n->private_bridges[i]);
	vs_jgen_arr_close(g);
	vs_jgen_key(g, "nat");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < n->nnat; i++)
		gen_ip(g, &n->nat[i], true);
	vs_jgen_arr_close(g);
	vs_jgen_key(g, "nameservers");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < d->nnameservers; i++)
		gen_ip(g, &d->nameservers[i], false);
	vs_jgen_arr_close(g);
	vs_jgen_obj_close(g);
}

/* The HTTPS listener: fingerprint null and no addresses without one. */
static void gen_tls(const struct vsd_tls *t, struct vs_jgen *g)
{
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "fingerprint", t ? vsd_tls_fingerprint(t) : NULL);
	vs_jgen_key(g, "listen");
	vs_jgen_arr_open(g);
	for (size_t i = 0; t != NULL && i < vsd_tls_nlisten(t); i++)
		vs_jgen_str(g, vsd_tls_listen(t, i));
	vs_jgen_arr_close(g);
	vs_jgen_obj_close(g);
}

int vsd_h_node(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	struct vsd *d = c->d;
	struct utsname u;

	if (uname(&u) < 0)
		memset(&u, 0, sizeof(u));
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "version", VSD_VERSION);
	vs_jgen_kv_str(g, "root", d->root);
	vs_jgen_kv_str(g, "run_dir", d->run_dir);
	vs_jgen_kv_str(g, "cgroup_parent", d->cgroup_parent);
	vs_jgen_kv_str(g, "cgroup_mode", mode_name(vs_cg_host_mode(d->cg)));
	vs_jgen_kv_str(g, "cgroups", vs_cg_host_describe(d->cg));
	vs_jgen_kv_str(g, "kernel", u.release);
	vs_jgen_key(g, "criu");
	vsd_criu_gen(d->criu, g);
	/* Read without re-checking: a GET must not start processes. */
	vs_jgen_key(g, "views");
	gen_views(d, g);
	vs_jgen_key(g, "network");
	gen_network(d, g);
	vs_jgen_key(g, "tls");
	gen_tls(d->auth.tls, g);
	vs_jgen_obj_close(g);
	vsd_reply_json(out, 200, g);
	return 0;
}
