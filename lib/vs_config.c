#include "lib/vs_config.h"

#include <inttypes.h>
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

int vs_config_parse_limits(const struct vs_json *obj, const char *path, struct vs_limits *limits,
			   struct vs_error *err)
{
	static const char *const keys[] = {"memory",	 "memory_swap", "cpus",
					   "cpu_weight", "pids",	NULL};
	char p[128];
	const struct vs_json *v;

	memset(limits, 0, sizeof(*limits));
	if (vs_json_type(obj) != VS_JSON_OBJECT)
		return type_error(path, "an object", obj, err);
	if (check_keys(obj, path, keys, err) < 0)
		return -1;
	if ((v = vs_json_get(obj, "memory")) != NULL && vs_json_type(v) != VS_JSON_NULL) {
		snprintf(p, sizeof(p), "%s.memory", path);
		if (get_size(v, p, &limits->memory, err) < 0)
			return -1;
		if (limits->memory < 4 * 1024 * 1024)
			return vs_error_kind(err, VS_EK_INVALID, "%s: must be at least 4M", p);
	}
	if ((v = vs_json_get(obj, "memory_swap")) != NULL && vs_json_type(v) != VS_JSON_NULL) {
		snprintf(p, sizeof(p), "%s.memory_swap", path);
		/* -1 is "unlimited" and 0 (or "0", as in the API's example) "the
		 * default"; vs_parse_size refuses both, so they are taken here. */
		const char *str = vs_json_string(v);
		if (vs_json_int64(v, &limits->memory_swap) &&
		    (limits->memory_swap == -1 || limits->memory_swap == 0))
			;
		else if (str != NULL && strcmp(str, "0") == 0)
			limits->memory_swap = 0;
		else if (get_size(v, p, &limits->memory_swap, err) < 0)
			return -1;
	}
	if ((v = vs_json_get(obj, "cpus")) != NULL && vs_json_type(v) != VS_JSON_NULL) {
		snprintf(p, sizeof(p), "%s.cpus", path);
		if (get_cpus(v, p, &limits->cpus_milli, err) < 0)
			return -1;
	}
	if ((v = vs_json_get(obj, "cpu_weight")) != NULL && vs_json_type(v) != VS_JSON_NULL) {
		snprintf(p, sizeof(p), "%s.cpu_weight", path);
		if (get_int(v, p, 1, 10000, &limits->cpu_weight, err) < 0)
			return -1;
	}
	if ((v = vs_json_get(obj, "pids")) != NULL && vs_json_type(v) != VS_JSON_NULL) {
		snprintf(p, sizeof(p), "%s.pids", path);
		if (get_int(v, p, 1, 4194304, &limits->pids, err) < 0)
			return -1;
	}
	return 0;
}

static int get_bool(const struct vs_json *v, const char *path, bool *out, struct vs_error *err)
{
	if (!vs_json_bool(v, out))
		return type_error(path, "true or false", v, err);
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
	return 0;
}

int vs_config_parse_create(const struct vs_json *body, struct vs_container_config *cfg,
			   struct vs_error *err)
{
	static const char *const keys[] = {"name",	 "template", "hostname",
					   "privileged", "limits",   NULL};

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
	static const char *const keys[] = {"name",	 "template", "hostname", "privileged",
					   "limits",	 "idmap",    "init",	 "stop_signal",
					   "created_at", NULL};
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
	if (l->memory > 0)
		vs_jgen_kv_int(g, "memory", l->memory);
	if (l->memory_swap != 0)
		vs_jgen_kv_int(g, "memory_swap", l->memory_swap);
	if (l->cpus_milli > 0) {
		vs_format_cpus(l->cpus_milli, buf, sizeof(buf));
		vs_jgen_kv_str(g, "cpus", buf);
	}
	if (l->cpu_weight > 0)
		vs_jgen_kv_int(g, "cpu_weight", l->cpu_weight);
	if (l->pids > 0)
		vs_jgen_kv_int(g, "pids", l->pids);
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
