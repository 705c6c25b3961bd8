/* Limits against the node, and live updates (PATCH /v1/containers/{name}).
 *
 * A live update is all-or-nothing: the new limits are checked against the
 * node first, then applied to the running container, then persisted. If
 * applying fails part-way, the old limits are applied again; if persisting
 * fails, the old limits are applied again too. The stored config.json is
 * replaced only by a complete, atomic write, so it always holds either the
 * old or the new limits, and what runs matches it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "daemon/handlers.h"
#include "fs-cow/vs_fs.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

int vsd_node_facts(struct vsd_node *n, struct vs_error *err)
{
	cleanup_free char *online = NULL;
	uint64_t bits[VS_CPUS_MAX / 64];
	struct sysinfo si;
	int ncpus;

	if (sysinfo(&si) < 0)
		return vs_error_set(err, errno, "sysinfo");
	n->mem_bytes = (int64_t)si.totalram * (int64_t)si.mem_unit;
	if (vs_read_file_at(AT_FDCWD, "/sys/devices/system/cpu/online", 4096, &online, NULL, err) <
	    0)
		return vs_error_prefix(err, "online CPUs");
	online[strcspn(online, "\n")] = '\0';
	if (vs_parse_cpuset(online, "/sys/devices/system/cpu/online", n->cpus_online,
			    sizeof(n->cpus_online), err) < 0)
		return -1;
	ncpus = vs_cpuset_bits(n->cpus_online, bits);
	n->ncpus = ncpus > 0 ? ncpus : 1;
	return 0;
}

/* Every CPU of the container's list must be online. */
static int check_cpuset(const struct vsd_node *n, const char *cpuset, struct vs_error *err)
{
	uint64_t want[VS_CPUS_MAX / 64], have[VS_CPUS_MAX / 64];

	if (cpuset[0] == '\0')
		return 0;
	vs_cpuset_bits(cpuset, want);
	vs_cpuset_bits(n->cpus_online, have);
	for (int i = 0; i < VS_CPUS_MAX / 64; i++)
		if (want[i] & ~have[i])
			return vs_error_kind(err, VS_EK_INVALID,
					     "limits.cpuset: '%s' names CPUs that are not online "
					     "(online: %s)",
					     cpuset, n->cpus_online);
	return 0;
}

/* Memory promised to the other containers (their limits), for the
 * overcommit check. Containers without a memory limit promise nothing, nor
 * do those whose config cannot be read. */
static int64_t memory_promised(struct vsd *d, const char *except)
{
	struct vsd_claims *tmp, *cl = vsd_index_claims(d->index, &tmp);
	struct vs_error e = {0};
	int64_t sum = 0;

	if (vsd_claims_sync(cl, d->index, d->containers_fd, &e) == 0)
		sum = vsd_claims_memory(cl, except);
	vsd_claims_free(tmp);
	return sum;
}

int vsd_check_node_limits(struct vsd *d, const char *name, const struct vs_limits *l,
			  struct vs_error *err)
{
	const struct vsd_node *n = &d->node;
	char a[32], b[32];

	if (l->cpus_milli > (int64_t)n->ncpus * 1000) {
		vs_format_cpus(l->cpus_milli, a, sizeof(a));
		return vs_error_kind(err, VS_EK_INVALID,
				     "limits.cpus: %s is more than this node's %d CPUs", a,
				     n->ncpus);
	}
	if (check_cpuset(n, l->cpuset, err) < 0)
		return -1;
	if (l->memory > 0) {
		int64_t cap = (int64_t)((double)n->mem_bytes * d->mem_overcommit);
		int64_t others = memory_promised(d, name);
		vs_format_size(l->memory, a, sizeof(a));
		if (l->memory > cap) {
			vs_format_size(n->mem_bytes, b, sizeof(b));
			return vs_error_kind(err, VS_EK_INVALID,
					     "limits.memory: %s is more than this node's memory "
					     "(%s, overcommit ratio %.2f)",
					     a, b, d->mem_overcommit);
		}
		if (others + l->memory > cap) {
			vs_format_size(cap - others > 0 ? cap - others : 0, b, sizeof(b));
			return vs_error_kind(
			    err, VS_EK_INVALID,
			    "limits.memory: %s would overcommit this node: only %s "
			    "is left to promise (vsd --memory-overcommit %.2f)",
			    a, b, d->mem_overcommit);
		}
	}
	if (l->memory_min > n->mem_bytes) {
		vs_format_size(l->memory_min, a, sizeof(a));
		return vs_error_kind(err, VS_EK_INVALID,
				     "limits.memory_min: %s is more than this node's memory", a);
	}
	return 0;
}

void vsd_gen_unenforced(struct vs_jgen *g, struct vsd *d, const struct vs_limits *l)
{
	cleanup_strv char **lines = vs_cg_unenforced(d->cg, l);

	vs_jgen_key(g, "limits_unenforced");
	vs_jgen_arr_open(g);
	for (size_t i = 0; lines != NULL && lines[i] != NULL; i++)
		vs_jgen_str(g, lines[i]);
	vs_jgen_arr_close(g);
}

static bool is_live(enum vs_rt_state s)
{
	return s == VS_RT_RUNNING || s == VS_RT_STARTING || s == VS_RT_STOPPING;
}

/* Apply lim to the running container's cgroups. */
static int apply_live(struct vsd *d, const struct vs_container_config *cfg,
		      const struct vs_limits *lim, struct vs_error *err)
{
	struct vs_cg *cg = vs_rt_cg_open(&d->inst, cfg, err);
	int r;

	if (cg == NULL)
		return -1;
	r = vs_cg_apply(cg, lim, err);
	vs_cg_free(cg);
	return r;
}

/* Undo the live part of an update: back into the old pool, old limits. */
static void revert_live(struct vsd *d, const struct vs_container_config *old, bool moved)
{
	struct vs_error e = {0};

	if (moved && vs_rt_move_pool(&d->inst, old, &e) < 0)
		vsd_log("container %s: moving back into pool '%s' failed: %s", old->name, old->pool,
			e.msg);
	if (apply_live(d, old, &old->limits, &e) < 0)
		vsd_log("container %s: restoring the previous limits failed: %s", old->name, e.msg);
}

/* What can be checked before anything changes. */
static int check_update(struct vsd *d, const struct vs_container_config *new, struct vs_error *err)
{
	if (vsd_check_node_limits(d, new->name, &new->limits, err) < 0 ||
	    vsd_pool_check(d, new->pool, "pool", err) < 0)
		return -1;
	if (new->limits.disk > 0 && vs_fs_disk_check(new->limits.disk, new->limits.inodes, err) < 0)
		return vs_error_prefix(err, "limits");
	return 0;
}

/* The running container: pool, cgroup limits, then the disk (the one step
 * that cannot always be undone, so it comes last). */
static int change_live(struct vsd *d, const struct vs_container_config *old,
		       const struct vs_container_config *new, const char *cdir, bool *moved,
		       struct vs_error *err)
{
	*moved = false;
	if (strcmp(old->pool, new->pool) != 0) {
		if (vs_rt_move_pool(&d->inst, new, err) < 0)
			return -1;
		*moved = true;
	}
	if (apply_live(d, new, &new->limits, err) < 0 ||
	    vs_fs_disk_resize(cdir, &old->limits, &new->limits, err) < 0) {
		revert_live(d, old, *moved);
		return -1;
	}
	return 0;
}

static bool net_named(const struct vs_config_update *u)
{
	return u->nadd > 0 || u->ndel > 0 || u->shaping_set || u->nameservers_set || u->ifaces_set;
}

/* Called with d->mutate and the container's lock held. new is old with
 * the request's limit changes (its net ones are merged here); both share
 * old's init vector. */
static int update_locked(struct vsd *d, const struct vsd_identity *who,
			 const struct vs_container_config *old, struct vs_container_config *new,
			 const struct vs_config_update *u, struct vs_error *err)
{
	cleanup_free char *cdir = xasprintf("%s/containers/%s", d->root, new->name);
	cleanup_close int dfd = -1;
	struct vs_rt_status st;
	bool live, moved = false;

	if (check_update(d, new, err) < 0 || vsd_container_status(d, new->name, &st, err) < 0)
		return -1;
	live = is_live(st.state);
	/* The memory image holds the old addresses inside. */
	if (st.state == VS_RT_SUSPENDED && net_named(u))
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "container '%s' is suspended: resume it before changing its "
				     "network",
				     new->name);
	if (vsd_net_merge_update(d, old, new, u, live, err) < 0 ||
	    vsd_require_admin_for(who, &d->net, old, new, err) < 0)
		return -1;
	/* The network first: it is undone completely, a disk resize is not. */
	if (live && vsd_net_apply_live(d, old, new, err) < 0)
		return vs_error_prefix(err, "update '%s' (nothing changed)", new->name);
	if (live && change_live(d, old, new, cdir, &moved, err) < 0) {
		vsd_net_revert_live(d, old, new);
		return vs_error_prefix(err, "update '%s' (nothing changed)", new->name);
	}
	if (!live && vs_fs_disk_resize(cdir, &old->limits, &new->limits, err) < 0)
		return vs_error_prefix(err, "update '%s' (nothing changed)", new->name);
	dfd = openat(d->containers_fd, new->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 || vsd_store_write_config(dfd, new, err) < 0) {
		if (dfd < 0)
			vs_error_set(err, errno, "open containers/%s", new->name);
		if (live) {
			vsd_net_revert_live(d, old, new);
			revert_live(d, old, moved);
		}
		if (old->limits.disk != new->limits.disk)
			vsd_log("container %s: its disk is now %" PRId64 " bytes but the stored "
				"limit still says %" PRId64,
				new->name, new->limits.disk, old->limits.disk);
		return vs_error_prefix(err, "update '%s' (nothing changed)", new->name);
	}
	/* Rewritten in place: the one change a claims sync cannot see. */
	if (d->index != NULL) {
		struct vsd_claims *tmp;
		vsd_claims_put(vsd_index_claims(d->index, &tmp), new);
	}
	return 0;
}

int vsd_h_container_update(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_config struct vs_container_config cfg = {0};
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_json struct vs_json *body = NULL;
	const char *name = c->m->params[0];
	struct vs_container_config new;
	struct vs_config_update r;
	int ret;

	if (vsd_parse_body(c->body, c->body_len, false, &body, err) < 0)
		return -1;
	/* mutate: the overcommit sum must not race a create or another
	 * update; then the container itself. */
	pthread_mutex_lock(&c->d->mutate);
	ret = vsd_container_lock_if_match(c, name, err);
	if (ret == 0) {
		ret = vsd_store_load(c->d->containers_fd, name, &cfg, err);
		if (ret == 0)
			ret = vs_config_parse_update_net(body, &cfg.limits, &cfg.net.shaping, &r,
							 err);
		if (ret == 0) {
			new = cfg;
			new.limits = r.limits;
			if (r.pool_set)
				strcpy(new.pool, r.pool);
			if (r.reclaim_set)
				new.idle_reclaim = r.idle_reclaim;
			if (r.owner_set)
				strcpy(new.owner, r.owner);
			/* Who owns a container is the node's business, not its
			 * owner's (an owner-scoped token could give it away). */
			if (r.owner_set &&
			    (c->who->scope < VSD_SCOPE_ADMIN || c->who->owner[0] != '\0'))
				ret = vs_error_kind(err, VS_EK_FORBIDDEN,
						    "owner: changing a container's owner needs "
						    "admin scope (%s has %s)",
						    c->who->name, vsd_scope_name(c->who->scope));
			else
				ret = update_locked(c->d, c->who, &cfg, &new, &r, err);
		}
		vsd_names_unlock(c->d->names, name);
	}
	pthread_mutex_unlock(&c->d->mutate);
	if (ret < 0)
		return -1;
	vsd_log("container %s: limits updated", name);
	vsd_emit(c->d, VSD_EV_CONTAINER_UPDATED, name, NULL);
	if (vsd_store_load(c->d->containers_fd, name, &new, err) < 0)
		return -1;
	vs_config_free(&cfg);
	cfg = new;
	if (vsd_gen_loaded(c->d, &cfg, g, err) < 0 ||
	    vsd_container_etag(c->d, name, out->etag, err) < 0)
		return -1;
	vsd_reply_json(out, 200, g);
	return 0;
}
