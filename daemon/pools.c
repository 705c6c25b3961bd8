/* Resource pools: definitions under <root>/pools/NAME.json, the REST
 * handlers (GET/POST /v1/pools, GET/PATCH/DELETE /v1/pools/{name}), and
 * their cgroups (cgroups/pool.c).
 *
 * A definition keeps what the operator wrote: a size or a percentage of
 * the node's RAM, CPUs or a percentage of the online CPUs, and "weight" as
 * a percentage of the node. The percentages are resolved against the node
 * each time the pool is applied (create, set, daemon start), so a pool of
 * "50%" stays half of whatever node it lands on. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "cgroups/vs_cgroups.h"
#include "daemon/handlers.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

/* "P%" with P an integer 1..100: P, else 0 (not a percentage), -1 bad. */
static int parse_pct(const char *s, const char *what, struct vs_error *err)
{
	size_t len = strlen(s);
	cleanup_free char *num = NULL;
	int64_t p;

	if (len == 0 || s[len - 1] != '%')
		return 0;
	num = xstrndup(s, len - 1);
	if (vs_parse_int(num, what, 1, 100, &p, err) < 0)
		return -1;
	return (int)p;
}

static int parse_memory(const struct vs_json *v, struct vsd_pool *p, struct vs_error *err)
{
	const char *s = vs_json_string(v);
	int pct;

	p->memory = 0;
	p->memory_pct = 0;
	if (s == NULL) {
		if (!vs_json_int64(v, &p->memory) || p->memory <= 0)
			return vs_error_kind(err, VS_EK_INVALID,
					     "memory: expected a size like \"512M\" or \"50%%\"");
		return 0;
	}
	if ((pct = parse_pct(s, "memory", err)) < 0)
		return -1;
	if (pct > 0) {
		p->memory_pct = pct;
		return 0;
	}
	return vs_parse_size(s, "memory", &p->memory, err);
}

static int parse_cpus(const struct vs_json *v, struct vsd_pool *p, struct vs_error *err)
{
	const char *s = vs_json_string(v);
	int pct;

	p->cpus_milli = 0;
	p->cpus_pct = 0;
	if (s == NULL)
		s = vs_json_number_text(v);
	if (s == NULL)
		return vs_error_kind(err, VS_EK_INVALID,
				     "cpus: expected CPUs like \"1.5\" or \"50%%\"");
	if ((pct = parse_pct(s, "cpus", err)) < 0)
		return -1;
	if (pct > 0) {
		p->cpus_pct = pct;
		return 0;
	}
	return vs_parse_cpus(s, "cpus", &p->cpus_milli, err);
}

static int parse_int_field(const struct vs_json *v, const char *what, int64_t min, int64_t max,
			   int64_t *out, struct vs_error *err)
{
	if (!vs_json_int64(v, out) || *out < min || *out > max)
		return vs_error_kind(err, VS_EK_INVALID,
				     "%s: expected an integer %" PRId64 " .. %" PRId64, what, min,
				     max);
	return 0;
}

static int parse_weight(const struct vs_json *v, struct vsd_pool *p, struct vs_error *err)
{
	const char *s = vs_json_string(v);
	int64_t w;
	int pct;

	if (s != NULL) {
		if ((pct = parse_pct(s, "weight", err)) < 0)
			return -1;
		if (pct == 0)
			return vs_error_kind(err, VS_EK_INVALID,
					     "weight: expected a percentage like \"25%%\"");
		p->weight_pct = pct;
		return 0;
	}
	if (parse_int_field(v, "weight", 1, 100, &w, err) < 0)
		return -1;
	p->weight_pct = (int)w;
	return 0;
}

/* One field; null removes it. */
static int parse_field(const char *key, const struct vs_json *v, struct vsd_pool *p,
		       struct vs_error *err)
{
	bool null = vs_json_type(v) == VS_JSON_NULL;

	if (strcmp(key, "memory") == 0)
		return null ? (p->memory = p->memory_pct = 0) : parse_memory(v, p, err);
	if (strcmp(key, "cpus") == 0)
		return null ? (p->cpus_milli = p->cpus_pct = 0) : parse_cpus(v, p, err);
	if (strcmp(key, "weight") == 0)
		return null ? (p->weight_pct = 0) : parse_weight(v, p, err);
	if (strcmp(key, "cpu_weight") == 0)
		return null ? (int)(p->cpu_weight = 0)
			    : parse_int_field(v, key, 1, 10000, &p->cpu_weight, err);
	if (strcmp(key, "io_weight") == 0)
		return null ? (int)(p->io_weight = 0)
			    : parse_int_field(v, key, 1, 10000, &p->io_weight, err);
	if (strcmp(key, "pids") == 0)
		return null ? (int)(p->pids = 0)
			    : parse_int_field(v, key, 1, INT32_MAX, &p->pids, err);
	return vs_error_kind(err, VS_EK_INVALID, "%s: unknown field", key);
}

int vsd_pool_parse(const struct vs_json *obj, bool patch, struct vsd_pool *p, struct vs_error *err)
{
	struct vsd_pool tmp = *p;

	if (vs_json_type(obj) != VS_JSON_OBJECT)
		return vs_error_kind(err, VS_EK_INVALID, "body: expected an object");
	for (size_t i = 0; i < vs_json_object_len(obj); i++) {
		const char *key = vs_json_object_key(obj, i);
		const struct vs_json *v = vs_json_object_value(obj, i);

		if (strcmp(key, "name") == 0) {
			const char *s = vs_json_string(v);
			if (patch)
				return vs_error_kind(err, VS_EK_INVALID,
						     "name: a pool cannot be renamed");
			if (s == NULL || strlen(s) > VS_NAME_MAX ||
			    vs_validate_name(s, "name", err) < 0)
				return s == NULL ? vs_error_kind(err, VS_EK_INVALID,
								 "name: expected a string")
						 : -1;
			snprintf(tmp.name, sizeof(tmp.name), "%s", s);
			continue;
		}
		if (parse_field(key, v, &tmp, err) < 0)
			return -1;
	}
	if (tmp.name[0] == '\0')
		return vs_error_kind(err, VS_EK_INVALID, "name: required");
	*p = tmp;
	return 0;
}

void vsd_pool_limits(const struct vsd_pool *p, int64_t mem_total, int ncpus, struct vs_limits *l)
{
	memset(l, 0, sizeof(*l));
	l->memory = p->memory_pct > 0 ? mem_total / 100 * p->memory_pct : p->memory;
	l->cpus_milli = p->cpus_pct > 0 ? (int64_t)ncpus * 10 * p->cpus_pct : p->cpus_milli;
	/* The v2 weight scale is 1..10000 around a default of 100: P% of the
	 * node is P*100, so two pools of 50% share like equals, and a pool of
	 * 100% counts as much as 100 pool-less containers of the default. */
	l->cpu_weight = p->cpu_weight > 0 ? p->cpu_weight : p->weight_pct * 100;
	l->io_weight = p->io_weight > 0 ? p->io_weight : p->weight_pct * 100;
	l->pids = p->pids;
}

void vsd_pool_gen(struct vs_jgen *g, const struct vsd_pool *p)
{
	char buf[64];

	vs_jgen_kv_str(g, "name", p->name);
	if (p->memory_pct > 0) {
		snprintf(buf, sizeof(buf), "%d%%", p->memory_pct);
		vs_jgen_kv_str(g, "memory", buf);
	} else if (p->memory > 0) {
		vs_format_size(p->memory, buf, sizeof(buf));
		vs_jgen_kv_str(g, "memory", buf);
	}
	if (p->cpus_pct > 0) {
		snprintf(buf, sizeof(buf), "%d%%", p->cpus_pct);
		vs_jgen_kv_str(g, "cpus", buf);
	} else if (p->cpus_milli > 0) {
		vs_format_cpus(p->cpus_milli, buf, sizeof(buf));
		vs_jgen_kv_str(g, "cpus", buf);
	}
	if (p->weight_pct > 0) {
		snprintf(buf, sizeof(buf), "%d%%", p->weight_pct);
		vs_jgen_kv_str(g, "weight", buf);
	}
	if (p->cpu_weight > 0)
		vs_jgen_kv_int(g, "cpu_weight", p->cpu_weight);
	if (p->io_weight > 0)
		vs_jgen_kv_int(g, "io_weight", p->io_weight);
	if (p->pids > 0)
		vs_jgen_kv_int(g, "pids", p->pids);
}

/* ---- the node and the store ------------------------------------------ */

static void node_size(int64_t *mem_total, int *ncpus)
{
	struct sysinfo si;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	*mem_total = sysinfo(&si) == 0 ? (int64_t)si.totalram * si.mem_unit : 0;
	*ncpus = n > 0 ? (int)n : 1;
}

static int pools_dir(struct vsd *d, struct vs_error *err)
{
	cleanup_free char *path = xasprintf("%s/pools", d->root);
	int fd;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return vs_error_set(err, errno, "mkdir %s", path);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return vs_error_set(err, errno, "open %s", path);
	return fd;
}

static int pool_load(int dfd, const char *name, struct vsd_pool *p, struct vs_error *err)
{
	cleanup_free char *file = xasprintf("%s.json", name);
	cleanup_free char *text = NULL;
	cleanup_json struct vs_json *obj = NULL;
	struct vs_error e = {0};

	memset(p, 0, sizeof(*p));
	if (vs_validate_name(name, "pool", err) < 0)
		return -1;
	if (vs_read_file_at(dfd, file, 64 * 1024, &text, NULL, &e) < 0) {
		if (e.errnum == ENOENT)
			return vs_error_kind(err, VS_EK_NOT_FOUND, "pool '%s' does not exist",
					     name);
		*err = e;
		return -1;
	}
	if (vs_json_parse(text, &obj, err) < 0 || vsd_pool_parse(obj, false, p, err) < 0)
		return vs_error_prefix(err, "pools/%s", file);
	return 0;
}

static int pool_store(int dfd, const struct vsd_pool *p, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(true);
	cleanup_free char *file = xasprintf("%s.json", p->name);
	cleanup_free char *text = NULL;

	vs_jgen_obj_open(g);
	vsd_pool_gen(g, p);
	vs_jgen_obj_close(g);
	text = vs_jgen_steal(g);
	return vs_atomic_write_at(dfd, file, text, strlen(text), 0600, err);
}

static int pool_apply(struct vsd *d, const struct vsd_pool *p, struct vs_error *err)
{
	struct vs_limits l;
	int64_t mem;
	int ncpus;

	node_size(&mem, &ncpus);
	vsd_pool_limits(p, mem, ncpus, &l);
	return vs_cg_pool_apply(d->cg, d->cgroup_parent, p->name, &l, err);
}

/* Names of the containers whose config names pool (NULL-terminated). */
static int pool_members(struct vsd *d, const char *pool, char ***out, struct vs_error *err)
{
	cleanup_strv char **names = NULL;
	char **v = xcalloc(1, sizeof(char *));
	size_t n = 0;

	if (vsd_store_list(d->containers_fd, &names, err) < 0) {
		free(v);
		return -1;
	}
	for (size_t i = 0; names[i] != NULL; i++) {
		cleanup_config struct vs_container_config cfg = {0};

		if (vsd_index_load(d->index, d->containers_fd, names[i], &cfg, NULL) < 0 ||
		    strcmp(cfg.pool, pool) != 0)
			continue;
		v = xrealloc(v, (n + 2) * sizeof(char *));
		v[n++] = xstrdup(names[i]);
		v[n] = NULL;
	}
	*out = v;
	return 0;
}

int vsd_pool_check(struct vsd *d, const char *pool, const char *field, struct vs_error *err)
{
	cleanup_close int dfd = -1;
	struct vsd_pool p;

	if (pool == NULL || pool[0] == '\0')
		return 0;
	if ((dfd = pools_dir(d, err)) < 0)
		return -1;
	if (pool_load(dfd, pool, &p, err) == 0)
		return 0;
	if (err != NULL && err->kind == VS_EK_NOT_FOUND)
		return vs_error_kind(err, VS_EK_INVALID, "%s: pool '%s' does not exist", field,
				     pool);
	return -1;
}

int vsd_pools_restore(struct vsd *d, struct vs_error *err)
{
	cleanup_close int dfd = pools_dir(d, err);
	cleanup_dir DIR *dir = NULL;
	struct dirent *de;

	if (dfd < 0 || (dir = fdopendir(dup(dfd))) == NULL)
		return dfd < 0 ? -1 : vs_error_set(err, errno, "list pools");
	while ((de = readdir(dir)) != NULL) {
		size_t len = strlen(de->d_name);
		cleanup_free char *name = NULL;
		struct vsd_pool p;
		struct vs_error e = {0};

		if (len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		name = xstrndup(de->d_name, len - 5);
		if (pool_load(dfd, name, &p, &e) < 0 || pool_apply(d, &p, &e) < 0)
			vsd_log("pool %s: %s", name, e.msg);
	}
	return 0;
}

/* ---- handlers -------------------------------------------------------- */

static void gen_pool(struct vsd *d, struct vs_jgen *g, const struct vsd_pool *p)
{
	cleanup_strv char **members = NULL;
	struct vs_limits l;
	int64_t mem;
	int ncpus;
	char buf[32];

	node_size(&mem, &ncpus);
	vsd_pool_limits(p, mem, ncpus, &l);
	vs_jgen_obj_open(g);
	vsd_pool_gen(g, p);
	/* What the percentages come to on this node. */
	vs_jgen_key(g, "effective");
	vs_jgen_obj_open(g);
	vs_jgen_kv_int(g, "memory", l.memory);
	vs_format_cpus(l.cpus_milli, buf, sizeof(buf));
	vs_jgen_kv_str(g, "cpus", l.cpus_milli > 0 ? buf : NULL);
	vs_jgen_kv_int(g, "cpu_weight", l.cpu_weight > 0 ? l.cpu_weight : 100);
	vs_jgen_kv_int(g, "io_weight", l.io_weight > 0 ? l.io_weight : 100);
	vs_jgen_kv_int(g, "pids", l.pids);
	vs_jgen_obj_close(g);
	vs_jgen_key(g, "members");
	vs_jgen_arr_open(g);
	if (pool_members(d, p->name, &members, NULL) == 0)
		for (size_t i = 0; members[i] != NULL; i++)
			vs_jgen_str(g, members[i]);
	vs_jgen_arr_close(g);
	vs_jgen_obj_close(g);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_names(int dfd, char ***out, struct vs_error *err)
{
	cleanup_dir DIR *dir = fdopendir(dup(dfd));
	char **v = xcalloc(1, sizeof(char *));
	size_t n = 0;
	struct dirent *de;

	if (dir == NULL) {
		free(v);
		return vs_error_set(err, errno, "list pools");
	}
	while ((de = readdir(dir)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len <= 5 || de->d_name[0] == '.' || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		v = xrealloc(v, (n + 2) * sizeof(char *));
		v[n++] = xstrndup(de->d_name, len - 5);
		v[n] = NULL;
	}
	qsort(v, n, sizeof(char *), cmp_str);
	*out = v;
	return 0;
}

int vsd_h_pool_list(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_close int dfd = pools_dir(c->d, err);
	cleanup_strv char **names = NULL;

	if (dfd < 0 || list_names(dfd, &names, err) < 0)
		return -1;
	vs_jgen_obj_open(g);
	vs_jgen_key(g, "pools");
	vs_jgen_arr_open(g);
	for (size_t i = 0; names[i] != NULL; i++) {
		struct vsd_pool p;

		if (pool_load(dfd, names[i], &p, NULL) == 0)
			gen_pool(c->d, g, &p);
	}
	vs_jgen_arr_close(g);
	vs_jgen_obj_close(g);
	vsd_reply_json(out, 200, g);
	return 0;
}

static int pool_etag(int dfd, const char *name, char etag[24], struct vs_error *err)
{
	cleanup_free char *file = xasprintf("%s.json", name);

	return vsd_etag_file(dfd, file, etag, err);
}

int vsd_h_pool_get(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_close int dfd = pools_dir(c->d, err);
	struct vsd_pool p;

	if (dfd < 0 || pool_load(dfd, c->m->params[0], &p, err) < 0 ||
	    pool_etag(dfd, p.name, out->etag, err) < 0)
		return -1;
	gen_pool(c->d, g, &p);
	vsd_reply_json(out, 200, g);
	return 0;
}

/* Create (p loaded empty) or change a pool: cgroup first, then the
 * definition, so a definition on disk always has had its cgroup. */
static int pool_write(struct vsd_call *c, bool patch, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_json struct vs_json *body = NULL;
	cleanup_close int dfd = pools_dir(c->d, err);
	struct vsd_pool p = {0};
	struct vs_error e = {0};

	if (dfd < 0 || vsd_parse_body(c->body, c->body_len, false, &body, err) < 0)
		return -1;
	if (patch && (pool_load(dfd, c->m->params[0], &p, err) < 0 ||
		      pool_etag(dfd, p.name, out->etag, err) < 0 ||
		      vsd_check_if_match(c, out->etag, err) < 0))
		return -1;
	if (vsd_pool_parse(body, patch, &p, err) < 0)
		return -1;
	if (!patch && pool_load(dfd, p.name, &(struct vsd_pool){0}, &e) == 0)
		return vs_error_kind(err, VS_EK_CONFLICT, "pool '%s' already exists", p.name);
	if (pool_apply(c->d, &p, err) < 0 || pool_store(dfd, &p, err) < 0 ||
	    pool_etag(dfd, p.name, out->etag, err) < 0)
		return -1;
	gen_pool(c->d, g, &p);
	vsd_reply_json(out, patch ? 200 : 201, g);
	return 0;
}

int vsd_h_pool_create(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	int r;

	pthread_mutex_lock(&c->d->mutate);
	r = pool_write(c, false, out, err);
	pthread_mutex_unlock(&c->d->mutate);
	return r;
}

int vsd_h_pool_patch(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	int r;

	pthread_mutex_lock(&c->d->mutate);
	r = pool_write(c, true, out, err);
	pthread_mutex_unlock(&c->d->mutate);
	return r;
}

static int pool_delete(struct vsd *d, const char *name, struct vs_error *err)
{
	cleanup_close int dfd = pools_dir(d, err);
	cleanup_strv char **members = NULL;
	cleanup_free char *file = NULL;
	struct vsd_pool p;

	if (dfd < 0 || pool_load(dfd, name, &p, err) < 0 ||
	    pool_members(d, name, &members, err) < 0)
		return -1;
	if (members[0] != NULL) {
		char list[512] = "";

		for (size_t i = 0; members[i] != NULL; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 i ? ", " : "", members[i]);
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "pool '%s' has members (%s): move or destroy them first", name,
				     list);
	}
	if (vs_cg_pool_remove(d->cg, d->cgroup_parent, name, err) < 0)
		return -1;
	file = xasprintf("%s.json", name);
	if (unlinkat(dfd, file, 0) < 0)
		return vs_error_set(err, errno, "remove pools/%s", file);
	return fsync(dfd) < 0 ? vs_error_set(err, errno, "fsync pools") : 0;
}

int vsd_h_pool_delete(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	int r;

	pthread_mutex_lock(&c->d->mutate);
	r = pool_delete(c->d, c->m->params[0], err);
	pthread_mutex_unlock(&c->d->mutate);
	cleanup_jgen struct vs_jgen *g = NULL;

	if (r < 0)
		return -1;
	vsd_log("pool %s: removed", c->m->params[0]);
	g = vs_jgen_new(false);
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "deleted", c->m->params[0]);
	vs_jgen_obj_close(g);
	vsd_reply_json(out, 200, g);
	return 0;
}
