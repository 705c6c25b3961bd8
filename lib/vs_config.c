#include "lib/vs_config.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "lib/vs_util.h"

/* Checks that every key of obj is in the NULL-terminated allowed list. */
static int check_keys(const struct vs_json *obj, const char *path, const char *const *allowed,
		      struct vs_error *err)
{
	for (size_t i = 0; i < vs_json_object_len(obj); i++) {
		const char *k = vs_json_object_key(obj, i);
		bool ok = false;
		for (size_t j = 0; allowed[j] != NULL; j++)
			if (strcmp(k, allowed[j]) == 0)
				ok = true;
		if (!ok)
			return vs_error_kind(err, VS_EK_INVALID, "%s%s%s: unknown field", path,
					     path[0] ? "." : "", k);
	}
	return 0;
}

static int type_error(const char *path, const char *expected, const struct vs_json *v,
		      struct vs_error *err)
{
	return vs_error_kind(err, VS_EK_INVALID, "%s: expected %s, got %s", path, expected,
			     vs_json_type_name(vs_json_type(v)));
}

static int get_string(const struct vs_json *v, const char *path, char *buf, size_t len,
		      struct vs_error *err)
{
	const char *s = vs_json_string(v);

	if (s == NULL)
		return type_error(path, "a string", v, err);
	if (strlen(s) >= len)
		return vs_error_kind(err, VS_EK_INVALID, "%s: longer than %zu characters", path,
				     len - 1);
	strcpy(buf, s);
	return 0;
}

/* A size given as a string ("512M") or a number of bytes; numbers have
 * the same range as strings (vs_parse_size: 1 .. 2^62 - 1). */
static int get_size(const struct vs_json *v, const char *path, int64_t *out, struct vs_error *err)
{
	if (vs_json_type(v) == VS_JSON_STRING)
		return vs_parse_size(vs_json_string(v), path, out, err);
	if (vs_json_type(v) == VS_JSON_NUMBER) {
		if (!vs_json_int64(v, out) || *out <= 0)
			return vs_error_kind(err, VS_EK_INVALID,
					     "%s: expected a positive number of bytes", path);
		if (*out >= (INT64_C(1) << 62))
			return vs_error_kind(err, VS_EK_INVALID, "%s: %" PRId64 " is too large",
					     path, *out);
		return 0;
	}
	return type_error(path, "a size like \"512M\" or a number of bytes", v, err);
}

static int get_int(const struct vs_json *v, const char *path, int64_t min, int64_t max,
		   int64_t *out, struct vs_error *err)
{
	if (!vs_json_int64(v, out))
		return type_error(path, "an integer", v, err);
	if (*out < min || *out > max)
		return vs_error_kind(err, VS_EK_INVALID,
				     "%s: %" PRId64 " is outside %" PRId64 " .. %" PRId64, path,
				     *out, min, max);
	return 0;
}

static int get_cpus(const struct vs_json *v, const char *path, int64_t *out, struct vs_error *err)
{
	if (vs_json_type(v) == VS_JSON_STRING)
		return vs_parse_cpus(vs_json_string(v), path, out, err);
	if (vs_json_type(v) == VS_JSON_NUMBER)
		return vs_parse_cpus(vs_json_number_text(v), path, out, err);
	return type_error(path, "a number of CPUs like 1.5", v, err);
}

enum lim_kind { LK_SIZE, LK_SWAP, LK_CPUS, LK_INT, LK_CPUSET };

/* The limits object, one row per field, in enum vs_limit_field order. */
static const struct lim_field {
	const char *name;
	enum lim_kind kind;
	size_t off;
	int64_t min, max; /* LK_INT range; LK_SIZE minimum */
} lim_fields[VS_LIM_COUNT] = {
    {"memory", LK_SIZE, offsetof(struct vs_limits, memory), 4 << 20, 0},
    {"memory_high", LK_SIZE, offsetof(struct vs_limits, memory_high), 4 << 20, 0},
    {"memory_min", LK_SIZE, offsetof(struct vs_limits, memory_min), 1, 0},
    {"memory_swap", LK_SWAP, offsetof(struct vs_limits, memory_swap), 0, 0},
    {"cpus", LK_CPUS, offsetof(struct vs_limits, cpus_milli), 0, 0},
    {"cpu_weight", LK_INT, offsetof(struct vs_limits, cpu_weight), 1, 10000},
    {"cpuset", LK_CPUSET, offsetof(struct vs_limits, cpuset), 0, 0},
    {"pids", LK_INT, offsetof(struct vs_limits, pids), 1, 4194304},
    {"io_weight", LK_INT, offsetof(struct vs_limits, io_weight), 1, 10000},
    {"io_read_bps", LK_SIZE, offsetof(struct vs_limits, io_read_bps), 4096, 0},
    {"io_write_bps", LK_SIZE, offsetof(struct vs_limits, io_write_bps), 4096, 0},
    {"io_read_iops", LK_INT, offsetof(struct vs_limits, io_read_iops), 1, INT64_C(1) << 40},
    {"io_write_iops", LK_INT, offsetof(struct vs_limits, io_write_iops), 1, INT64_C(1) << 40},
    {"disk", LK_SIZE, offsetof(struct vs_limits, disk), 16 << 20, 0},
    {"inodes", LK_INT, offsetof(struct vs_limits, inodes), 1024, INT64_C(1) << 32},
};

const char *vs_limit_name(enum vs_limit_field f)
{
	return f < VS_LIM_COUNT ? lim_fields[f].name : "?";
}

/* The smallest sizes in words, for the errors ("4M", "16M", "4K"). */
static int check_min_size(const char *path, int64_t v, int64_t min, struct vs_error *err)
{
	char buf[32];

	if (v >= min)
		return 0;
	vs_format_size(min, buf, sizeof(buf));
	return vs_error_kind(err, VS_EK_INVALID, "%s: must be at least %s", path, buf);
}

/* memory_swap: -1 is "unlimited" and 0 (or "0", as in the API's example)
 * "the default"; vs_parse_size refuses both, so they are taken here. */
static int get_swap(const struct vs_json *v, const char *path, int64_t *out, struct vs_error *err)
{
	const char *str = vs_json_string(v);

	if (vs_json_int64(v, out) && (*out == -1 || *out == 0))
		return 0;
	if (str != NULL && strcmp(str, "0") == 0) {
		*out = 0;
		return 0;
	}
	return get_size(v, path, out, err);
}

/* One field of a limits object into *l; null clears it. */
static int parse_lim_field(const struct lim_field *f, const struct vs_json *v, const char *path,
			   struct vs_limits *l, struct vs_error *err)
{
	int64_t *ip = (int64_t *)(void *)((char *)l + f->off);
	char *cp = (char *)l + f->off;

	if (vs_json_type(v) == VS_JSON_NULL) {
		if (f->kind == LK_CPUSET)
			cp[0] = '\0';
		else
			*ip = 0;
		return 0;
	}
	switch (f->kind) {
	case LK_SIZE:
		if (get_size(v, path, ip, err) < 0)
			return -1;
		return check_min_size(path, *ip, f->min, err);
	case LK_SWAP:
		return get_swap(v, path, ip, err);
	case LK_CPUS:
		return get_cpus(v, path, ip, err);
	case LK_INT:
		return get_int(v, path, f->min, f->max, ip, err);
	case LK_CPUSET:
		if (vs_json_string(v) == NULL)
			return type_error(path, "a CPU list like \"0-1\"", v, err);
		return vs_parse_cpuset(vs_json_string(v), path, cp, VS_CPUSET_MAX, err);
	}
	return 0;
}

int vs_config_merge_limits(const struct vs_json *obj, const char *path, struct vs_limits *limits,
			   uint32_t *changed, struct vs_error *err)
{
	const char *keys[VS_LIM_COUNT + 1];
	struct vs_limits l = *limits;
	uint32_t named = 0;
	char p[128];

	for (int i = 0; i < VS_LIM_COUNT; i++)
		keys[i] = lim_fields[i].name;
	keys[VS_LIM_COUNT] = NULL;
	if (vs_json_type(obj) != VS_JSON_OBJECT)
		return type_error(path, "an object", obj, err);
	if (check_keys(obj, path, keys, err) < 0)
		return -1;
	for (int i = 0; i < VS_LIM_COUNT; i++) {
		const struct vs_json *v = vs_json_get(obj, lim_fields[i].name);
		if (v == NULL)
			continue;
		snprintf(p, sizeof(p), "%s.%s", path, lim_fields[i].name);
		if (parse_lim_field(&lim_fields[i], v, p, &l, err) < 0)
			return -1;
		named |= UINT32_C(1) << i;
	}
	if (vs_config_check_limits(&l, path, err) < 0)
		return -1;
	*limits = l;
	if (changed != NULL)
		*changed |= named;
	return 0;
}

int vs_config_parse_limits(const struct vs_json *obj, const char *path, struct vs_limits *limits,
			   struct vs_error *err)
{
	memset(limits, 0, sizeof(*limits));
	return vs_config_merge_limits(obj, path, limits, NULL, err);
}

int vs_config_check_limits(const struct vs_limits *l, const char *path, struct vs_error *err)
{
	char a[32], b[32];

	if (l->memory > 0 && l->memory_high > l->memory) {
		vs_format_size(l->memory_high, a, sizeof(a));
		vs_format_size(l->memory, b, sizeof(b));
		return vs_error_kind(err, VS_EK_INVALID, "%s.memory_high: %s is above memory (%s)",
				     path, a, b);
	}
	if (l->memory > 0 && l->memory_min > l->memory) {
		vs_format_size(l->memory_min, a, sizeof(a));
		vs_format_size(l->memory, b, sizeof(b));
		return vs_error_kind(err, VS_EK_INVALID, "%s.memory_min: %s is above memory (%s)",
				     path, a, b);
	}
	if (l->memory_high > 0 && l->memory_min > l->memory_high) {
		vs_format_size(l->memory_min, a, sizeof(a));
		vs_format_size(l->memory_high, b, sizeof(b));
		return vs_error_kind(err, VS_EK_INVALID,
				     "%s.memory_min: %s is above memory_high (%s)", path, a, b);
	}
	if (l->inodes > 0 && l->disk == 0)
		return vs_error_kind(err, VS_EK_INVALID,
				     "%s.inodes: needs a disk limit (disk) to hold it", path);
	return 0;
}

static int get_bool(const struct vs_json *v, const char *path, bool *out, struct vs_error *err)
{
	if (!vs_json_bool(v, out))
		return type_error(path, "true or false", v, err);
	return 0;
}

int vs_config_parse_update(const struct vs_json *body, const struct vs_limits *base,
			   struct vs_config_update *u, struct vs_error *err)
{
	static const char *const keys[] = {"limits", "pool", "idle_reclaim", NULL};
	const struct vs_json *v;

	memset(u, 0, sizeof(*u));
	u->limits = *base;
	if (vs_json_type(body) != VS_JSON_OBJECT)
		return type_error("(body)", "an object", body, err);
	if (check_keys(body, "", keys, err) < 0)
		return -1;
	if (vs_json_object_len(body) == 0)
		return vs_error_kind(err, VS_EK_INVALID,
				     "(body): nothing to change (expected limits, pool or "
				     "idle_reclaim)");
	if ((v = vs_json_get(body, "limits")) != NULL &&
	    vs_config_merge_limits(v, "limits", &u->limits, &u->changed, err) < 0)
		return -1;
	if ((v = vs_json_get(body, "pool")) != NULL) {
		u->pool_set = true;
		if (vs_json_type(v) != VS_JSON_NULL &&
		    (get_string(v, "pool", u->pool, sizeof(u->pool), err) < 0 ||
		     vs_validate_name(u->pool, "pool", err) < 0))
			return -1;
	}
	if ((v = vs_json_get(body, "idle_reclaim")) != NULL) {
		if (get_bool(v, "idle_reclaim", &u->idle_reclaim, err) < 0)
			return -1;
		u->reclaim_set = true;
	}
	return 0;
}

/* Fields shared by the create body and config.json. */
static int parse_common(const struct vs_json *root, struct vs_container_config *cfg,
			struct vs_error *err)
{
	const struct vs_json *v;

	if ((v = vs_json_get(root, "name")) == NULL)
		return vs_error_kind(err, VS_EK_INVALID, "name: required");
	if (get_string(v, "name", cfg->name, sizeof(cfg->name), err) < 0 ||
	    vs_validate_name(cfg->name, "name", err) < 0)
		return -1;
	if ((v = vs_json_get(root, "template")) == NULL)
		return vs_error_kind(err, VS_EK_INVALID, "template: required");
	if (get_string(v, "template", cfg->template_name, sizeof(cfg->template_name), err) < 0 ||
	    vs_validate_name(cfg->template_name, "template", err) < 0)
		return -1;
	if ((v = vs_json_get(root, "hostname")) != NULL && vs_json_type(v) != VS_JSON_NULL) {
		if (get_string(v, "hostname", cfg->hostname, sizeof(cfg->hostname), err) < 0 ||
		    vs_validate_hostname(cfg->hostname, "hostname", err) < 0)
			return -1;
	} else {
		strcpy(cfg->hostname, cfg->name);
	}
	if ((v = vs_json_get(root, "privileged")) != NULL &&
	    get_bool(v, "privileged", &cfg->privileged, err) < 0)
		return -1;
	if ((v = vs_json_get(root, "limits")) != NULL && vs_json_type(v) != VS_JSON_NULL &&
	    vs_config_parse_limits(v, "limits", &cfg->limits, err) < 0)
		return -1;
	if ((v = vs_json_get(root, "pool")) != NULL && vs_json_type(v) != VS_JSON_NULL &&
	    (get_string(v, "pool", cfg->pool, sizeof(cfg->pool), err) < 0 ||
	     vs_validate_name(cfg->pool, "pool", err) < 0))
		return -1;
	cfg->idle_reclaim = true;
	if ((v = vs_json_get(root, "idle_reclaim")) != NULL &&
	    get_bool(v, "idle_reclaim", &cfg->idle_reclaim, err) < 0)
		return -1;
	return 0;
}

int vs_config_parse_create(const struct vs_json *body, struct vs_container_config *cfg,
			   struct vs_error *err)
{
	static const char *const keys[] = {"name",   "template", "hostname",	 "privileged",
					   "limits", "pool",	 "idle_reclaim", NULL};

	memset(cfg, 0, sizeof(*cfg));
	if (vs_json_type(body) != VS_JSON_OBJECT)
		return type_error("(body)", "an object", body, err);
	if (check_keys(body, "", keys, err) < 0 || parse_common(body, cfg, err) < 0)
		return -1;
	return 0;
}

static int parse_idmap(const struct vs_json *v, struct vs_container_config *cfg,
		       struct vs_error *err)
{
	static const char *const keys[] = {"uid", "gid", "size", NULL};
	int64_t n;

	if (vs_json_type(v) != VS_JSON_OBJECT)
		return type_error("idmap", "an object", v, err);
	if (check_keys(v, "idmap", keys, err) < 0)
		return -1;
	if (get_int(vs_json_get(v, "uid"), "idmap.uid", 1, UINT32_MAX - VS_IDMAP_SIZE, &n, err) < 0)
		return -1;
	cfg->idmap_uid = (uint32_t)n;
	if (get_int(vs_json_get(v, "gid"), "idmap.gid", 1, UINT32_MAX - VS_IDMAP_SIZE, &n, err) < 0)
		return -1;
	cfg->idmap_gid = (uint32_t)n;
	if (get_int(vs_json_get(v, "size"), "idmap.size", 65536, 65536, &n, err) < 0)
		return -1;
	cfg->idmap_size = (uint32_t)n;
	return 0;
}

static int parse_init(const struct vs_json *v, struct vs_container_config *cfg,
		      struct vs_error *err)
{
	size_t n = vs_json_array_len(v);

	if (vs_json_type(v) != VS_JSON_ARRAY || n == 0 || n > 64)
		return type_error("init", "a non-empty array of strings", v, err);
	cfg->init = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		const char *s = vs_json_string(vs_json_array_at(v, i));
		if (s == NULL || (i == 0 && s[0] != '/'))
			return vs_error_kind(err, VS_EK_INVALID, "init[%zu]: expected a string%s",
					     i, i == 0 ? " holding an absolute path" : "");
		cfg->init[i] = xstrdup(s);
	}
	return 0;
}

int vs_config_parse(const char *text, struct vs_container_config *cfg, struct vs_error *err)
{
	static const char *const keys[] = {"name",   "template",    "hostname",	    "privileged",
					   "limits", "pool",	    "idle_reclaim", "idmap",
					   "init",   "stop_signal", "created_at",   NULL};
	cleanup_json struct vs_json *root = NULL;
	const struct vs_json *v;
	int64_t n;

	memset(cfg, 0, sizeof(*cfg));
	if (vs_json_parse(text, &root, err) < 0)
		return -1;
	if (vs_json_type(root) != VS_JSON_OBJECT)
		return type_error("(config)", "an object", root, err);
	if (check_keys(root, "", keys, err) < 0 || parse_common(root, cfg, err) < 0)
		goto fail;
	if (!cfg->privileged) {
		if ((v = vs_json_get(root, "idmap")) == NULL) {
			vs_error_kind(err, VS_EK_INVALID, "idmap: required unless privileged");
			goto fail;
		}
		if (parse_idmap(v, cfg, err) < 0)
			goto fail;
	}
	if ((v = vs_json_get(root, "init")) == NULL) {
		vs_error_kind(err, VS_EK_INVALID, "init: required");
		goto fail;
	}
	if (parse_init(v, cfg, err) < 0)
		goto fail;
	if ((v = vs_json_get(root, "stop_signal")) == NULL || vs_json_string(v) == NULL) {
		vs_error_kind(err, VS_EK_INVALID, "stop_signal: expected a signal name");
		goto fail;
	}
	if (vs_parse_signal(vs_json_string(v), "stop_signal", &cfg->stop_signal, err) < 0)
		goto fail;
	if ((v = vs_json_get(root, "created_at")) != NULL) {
		if (get_int(v, "created_at", 0, INT64_MAX, &n, err) < 0)
			goto fail;
		cfg->created_at = n;
	}
	return 0;
fail:
	vs_config_free(cfg);
	return -1;
}

void vs_config_gen_limits(struct vs_jgen *g, const struct vs_limits *l)
{
	char buf[64];

	vs_jgen_obj_open(g);
	for (int i = 0; i < VS_LIM_COUNT; i++) {
		const struct lim_field *f = &lim_fields[i];
		const int64_t *ip = (const int64_t *)(const void *)((const char *)l + f->off);
		switch (f->kind) {
		case LK_CPUSET:
			if (l->cpuset[0] != '\0')
				vs_jgen_kv_str(g, f->name, l->cpuset);
			break;
		case LK_CPUS:
			if (*ip > 0) {
				vs_format_cpus(*ip, buf, sizeof(buf));
				vs_jgen_kv_str(g, f->name, buf);
			}
			break;
		case LK_SWAP:
			if (*ip != 0)
				vs_jgen_kv_int(g, f->name, *ip);
			break;
		default:
			if (*ip > 0)
				vs_jgen_kv_int(g, f->name, *ip);
		}
	}
	vs_jgen_obj_close(g);
}

void vs_config_gen_idmap(struct vs_jgen *g, const struct vs_container_config *cfg)
{
	if (cfg->privileged)
		return;
	vs_jgen_key(g, "idmap");
	vs_jgen_obj_open(g);
	vs_jgen_kv_int(g, "uid", cfg->idmap_uid);
	vs_jgen_kv_int(g, "gid", cfg->idmap_gid);
	vs_jgen_kv_int(g, "size", cfg->idmap_size);
	vs_jgen_obj_close(g);
}

char *vs_config_to_json(const struct vs_container_config *cfg)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(true);
	char sig[32];

	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "name", cfg->name);
	vs_jgen_kv_str(g, "template", cfg->template_name);
	vs_jgen_kv_str(g, "hostname", cfg->hostname);
	vs_jgen_kv_bool(g, "privileged", cfg->privileged);
	vs_config_gen_idmap(g, cfg);
	vs_jgen_key(g, "limits");
	vs_config_gen_limits(g, &cfg->limits);
	if (cfg->pool[0] != '\0')
		vs_jgen_kv_str(g, "pool", cfg->pool);
	vs_jgen_kv_bool(g, "idle_reclaim", cfg->idle_reclaim);
	vs_jgen_key(g, "init");
	vs_jgen_arr_open(g);
	for (size_t i = 0; cfg->init != NULL && cfg->init[i] != NULL; i++)
		vs_jgen_str(g, cfg->init[i]);
	vs_jgen_arr_close(g);
	vs_format_signal(cfg->stop_signal, sig, sizeof(sig));
	vs_jgen_kv_str(g, "stop_signal", sig);
	vs_jgen_kv_int(g, "created_at", cfg->created_at);
	vs_jgen_obj_close(g);
	return vs_jgen_steal(g);
}

void vs_config_free(struct vs_container_config *cfg)
{
	vs_strv_free(cfg->init);
	cfg->init = NULL;
}
