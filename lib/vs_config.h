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

/* A CPU list as the kernel writes it ("0-1", "0,2-3"): at most this long. */
#define VS_CPUSET_MAX 64

/* The resource model. 0 (or "" for cpuset) means "no limit / kernel
 * default" for every field. What each field becomes on cgroup v2 and v1 is
 * in cgroups/limits.c and vsd-container.json(5). */
struct vs_limits {
	int64_t memory;		    /* bytes: memory.max / memory.limit_in_bytes */
	int64_t memory_high;	    /* bytes: memory.high (v1: soft limit) */
	int64_t memory_min;	    /* bytes: memory.min, protected from reclaim */
	int64_t memory_swap;	    /* bytes of swap on top of memory; 0 none, -1 unlimited */
	int64_t cpus_milli;	    /* thousandths of a CPU: cpu.max / cfs_quota_us */
	int64_t cpu_weight;	    /* 1..10000 (v2 scale): cpu.weight / cpu.shares */
	char cpuset[VS_CPUSET_MAX]; /* CPUs the container may run on ("0-1") */
	int64_t pids;		    /* pids.max */
	int64_t io_weight;	    /* 1..10000: io.weight / blkio.bfq.weight */
	int64_t io_read_bps;	    /* bytes per second: io.max rbps / throttle */
	int64_t io_write_bps;
	int64_t io_read_iops;
	int64_t io_write_iops;
	int64_t disk;	/* bytes of the container's own layer (disk quota) */
	int64_t inodes; /* files in the container's own layer */
};

/* Which fields of a vs_limits a request named (a live update changes only
 * those). One bit per field, in the order of struct vs_limits. */
enum vs_limit_field {
	VS_LIM_MEMORY,
	VS_LIM_MEMORY_HIGH,
	VS_LIM_MEMORY_MIN,
	VS_LIM_MEMORY_SWAP,
	VS_LIM_CPUS,
	VS_LIM_CPU_WEIGHT,
	VS_LIM_CPUSET,
	VS_LIM_PIDS,
	VS_LIM_IO_WEIGHT,
	VS_LIM_IO_READ_BPS,
	VS_LIM_IO_WRITE_BPS,
	VS_LIM_IO_READ_IOPS,
	VS_LIM_IO_WRITE_IOPS,
	VS_LIM_DISK,
	VS_LIM_INODES,
	VS_LIM_COUNT,
};
/* The JSON name of a field ("memory_high"). */
const char *vs_limit_name(enum vs_limit_field f);

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
	/* The resource pool the container belongs to ("" for none). */
	char pool[VS_NAME_MAX + 1];
	/* false: idle reclaim never touches this container. */
	bool idle_reclaim;
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
/* Parse a partial limits object (a live update) on top of *limits: a named
 * field replaces the value, null removes the limit (0), absent fields keep
 * theirs. Sets bit (1 << field) in *changed for every field named. On
 * failure *limits is unchanged. 0 or -1 (err names the field). */
int vs_config_merge_limits(const struct vs_json *obj, const char *path, struct vs_limits *limits,
			   uint32_t *changed, struct vs_error *err);
/* A live update (PATCH /v1/containers/{name}): {"limits": {...}?,
 * "pool": NAME|null?, "idle_reclaim": bool?}, at least one member. */
struct vs_config_update {
	struct vs_limits limits; /* base with the request's changes */
	uint32_t changed;	 /* bits of enum vs_limit_field named */
	bool pool_set;		 /* pool named; pool "" when null */
	char pool[VS_NAME_MAX + 1];
	bool reclaim_set, idle_reclaim;
};
/* Parse an update body on top of the current limits base. 0 or -1 (err
 * names the field); follows config-schemas/update-request.json. */
int vs_config_parse_update(const struct vs_json *body, const struct vs_limits *base,
			   struct vs_config_update *u, struct vs_error *err);

/* Relations between fields that no single field shows: memory_min and
 * memory_high at most memory, memory_min at most memory_high. 0 or -1
 * (VS_EK_INVALID naming the field under path). */
int vs_config_check_limits(const struct vs_limits *l, const char *path, struct vs_error *err);

/* Serialize to config.json text (malloc'd). */
char *vs_config_to_json(const struct vs_container_config *cfg);
/* Emit the limits object into a generator (used by status output too). */
void vs_config_gen_limits(struct vs_jgen *g, const struct vs_limits *limits);
/* Emit the "idmap" member (key and object); nothing for privileged. */
void vs_config_gen_idmap(struct vs_jgen *g, const struct vs_container_config *cfg);

void vs_config_free(struct vs_container_config *cfg);

#endif
