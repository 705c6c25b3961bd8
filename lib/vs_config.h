/* vs_config: the container configuration (containers/NAME/config.json) and
 * the create request body (POST /v1/containers), parsed into typed structs.
 * Field checking follows config-schemas/container-config.json and
 * config-schemas/create-request.json; every error names the field path and
 * has kind VS_EK_INVALID. Unknown fields are errors. */
#ifndef VS_CONFIG_H
#define VS_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/vs_error.h"
#include "lib/vs_json.h"
#include "lib/vs_validate.h"

#define VS_IDMAP_SIZE 65536

/* The resource model. 0 means "no limit / kernel default" for every field. */
struct vs_limits {
	int64_t memory;	     /* bytes: memory.max / memory.limit_in_bytes */
	int64_t memory_swap; /* bytes of swap on top of memory; -1 unlimited, 0 default */
	int64_t cpus_milli;  /* thousandths of a CPU: cpu.max / cfs_quota_us */
	int64_t cpu_weight;  /* 1..10000 (v2 scale): cpu.weight / cpu.shares */
	int64_t pids;	     /* pids.max */
};

struct vs_container_config {
	char name[VS_NAME_MAX + 1];
	char template_name[VS_NAME_MAX + 1];
	char hostname[VS_HOSTNAME_MAX + 1];
	bool privileged;
	/* Host ids that container id 0 maps to; VS_IDMAP_SIZE ids each. Zero
	 * and unused when privileged. Allocated once, persisted, distinct from
	 * every other container's range. */
	uint32_t idmap_uid;
	uint32_t idmap_gid;
	uint32_t idmap_size;
	struct vs_limits limits;
	char **init;	 /* argv of init inside the container; NULL-terminated */
	int stop_signal; /* sent to init by `stop` */
	int64_t created_at;
};

/* Parse config.json text. Returns 0 or -1 (err names the field). On
 * success call vs_config_free(). */
int vs_config_parse(const char *text, struct vs_container_config *cfg, struct vs_error *err);

/* Parse a create request body: {"name", "template", "hostname"?, "privileged"?,
 * "limits": {"memory", "memory_swap", "cpus", "cpu_weight", "pids"}?}. Sizes
 * may be strings ("512M") or byte numbers; cpus a string ("1.5") or number.
 * Fills the user-controlled fields of cfg (hostname defaults to name); the
 * daemon fills idmap, init, stop_signal and created_at. 0 or -1. */
int vs_config_parse_create(const struct vs_json *body, struct vs_container_config *cfg,
			   struct vs_error *err);

/* Parse a limits object (as in the create request) into *limits. 0 or -1. */
int vs_config_parse_limits(const struct vs_json *obj, const char *path, struct vs_limits *limits,
			   struct vs_error *err);

/* Serialize to config.json text (malloc'd). */
char *vs_config_to_json(const struct vs_container_config *cfg);
/* Emit the limits object into a generator (used by status output too). */
void vs_config_gen_limits(struct vs_jgen *g, const struct vs_limits *limits);
/* Emit the "idmap" member (key and object); nothing for privileged. */
void vs_config_gen_idmap(struct vs_jgen *g, const struct vs_container_config *cfg);

void vs_config_free(struct vs_container_config *cfg);

#endif
