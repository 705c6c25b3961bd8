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

/* Networking (netns/, vsd-container.json(5) "net"). A container has up to
 * VS_NET_IFACES_MAX veth interfaces, eth0, eth1, ... inside. */
#define VS_NET_IFACES_MAX      8
#define VS_NET_ADDRS_MAX       16
#define VS_NET_NAMESERVERS_MAX 3

enum vs_net_model {
	VS_NET_ROUTED,	/* venet-style: host routes + proxy ARP/NDP, no shared L2 */
	VS_NET_BRIDGED, /* the node side joins a bridge */
};
const char *vs_net_model_name(enum vs_net_model m); /* "routed", "bridged" */

struct vs_net_iface {
	char name[VS_IFNAME_MAX + 1]; /* inside the container: "eth0" */
	enum vs_net_model model;
	/* bridged: the node's bridge ("" = vsd's own bridge, resolved by the
	 * daemon at create, so config.json always names one). */
	char bridge[VS_IFNAME_MAX + 1];
	/* Node side of the veth pair, fixed at create: "vs" + the vsd
	 * instance's 4 hex id + 6 hex of the container + the interface's
	 * index. */
	char host_ifname[VS_IFNAME_MAX + 1];
	uint8_t mac[6]; /* container side, fixed at create, locally administered */
	/* Addresses: routed ones are /32 and /128; bridged ones carry the
	 * LAN's prefix. */
	size_t naddrs;
	struct vs_ip addrs[VS_NET_ADDRS_MAX];
	/* Default gateways inside (family 0: none). Routed interfaces need
	 * none: their default routes go via 169.254.0.1 and fe80::1, the node
	 * side's link-local addresses. */
	struct vs_ip gateway4, gateway6;
};

/* Traffic shaping, applied on the node side of every interface of the
 * container (each interface gets these rates). 0 means unlimited / the
 * default burst. Rates in bits per second, bursts in bytes. egress is what
 * the container sends, ingress what it receives. */
struct vs_net_shaping {
	int64_t egress_rate, egress_peak, egress_burst;
	int64_t ingress_rate, ingress_peak, ingress_burst;
};

struct vs_net_config {
	size_t nifaces;
	struct vs_net_iface ifaces[VS_NET_IFACES_MAX];
	size_t nnameservers;
	struct vs_ip nameservers[VS_NET_NAMESERVERS_MAX];
	struct vs_net_shaping shaping;
};

/* Longest reason of a lock (bytes). */
#define VS_LOCK_REASON_MAX 256

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
	/* The hosting account it belongs to ("" for none): owner-scoped API
	 * tokens see and act on only their owner's containers. */
	char owner[VS_NAME_MAX + 1];
	/* false: idle reclaim never touches this container. */
	bool idle_reclaim;
	struct vs_net_config net;
	char **init;	 /* argv of init inside the container; NULL-terminated */
	int stop_signal; /* sent to init by `stop` */
	int64_t created_at;
	/* Locked (a hosting panel's suspension for non-payment, not the CRIU
	 * suspend): stopped and refused every start until unlocked. "locked":
	 * {"reason", "at"} in config.json; locked_at 0: not locked. */
	int64_t locked_at;
	char locked_reason[VS_LOCK_REASON_MAX + 1];
};

/* Parse config.json text. Returns 0 or -1 (err names the field). On
 * success call vs_config_free(). */
int vs_config_parse(const char *text, struct vs_container_config *cfg, struct vs_error *err);

/* Parse a create request body: {"name", "template", "hostname"?, "privileged"?,
 * "net"? (vs_config_parse_net; null: none),
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
 * "pool": NAME|null?, "idle_reclaim": bool?, "owner": NAME|null?}, at
 * least one member. */
struct vs_config_update {
	struct vs_limits limits; /* base with the request's changes */
	uint32_t changed;	 /* bits of enum vs_limit_field named */
	bool pool_set;		 /* pool named; pool "" when null */
	char pool[VS_NAME_MAX + 1];
	bool reclaim_set, idle_reclaim;
	bool owner_set; /* owner named; owner "" when null */
	char owner[VS_NAME_MAX + 1];
	/* "net": {"add": [{"address": A, "interface": "eth0"?}], "remove":
	 * [A], "shaping": {partial}, "nameservers": [A]|null,
	 * "interfaces": [...]} (interfaces: the whole list, stopped only). */
	size_t nadd;
	/* prefix 0: none was given; the daemon gives the interface's (/32 or
	 * /128 routed, /24 or /64 bridged). */
	struct vs_ip add[VS_NET_ADDRS_MAX];
	char add_iface[VS_NET_ADDRS_MAX][VS_IFNAME_MAX + 1]; /* "" = pick */
	size_t ndel;
	struct vs_ip del[VS_NET_ADDRS_MAX];
	bool shaping_set; /* shaping = base with the request's changes */
	struct vs_net_shaping shaping;
	bool nameservers_set;
	size_t nnameservers;
	struct vs_ip nameservers[VS_NET_NAMESERVERS_MAX];
	bool ifaces_set; /* ifaces as requested (create-request form) */
	size_t nifaces;
	struct vs_net_iface ifaces[VS_NET_IFACES_MAX];
};
/* Parse an update body on top of the current limits base. 0 or -1 (err
 * names the field); follows config-schemas/update-request.json. */
int vs_config_parse_update(const struct vs_json *body, const struct vs_limits *base,
			   struct vs_config_update *u, struct vs_error *err);
/* The same with the container's current shaping as the base of a partial
 * "net.shaping" (vs_config_parse_update uses all-zero shaping). */
int vs_config_parse_update_net(const struct vs_json *body, const struct vs_limits *base,
			       const struct vs_net_shaping *shaping, struct vs_config_update *u,
			       struct vs_error *err);

/* The "net" member of a create request: interfaces as the user asked
 * ({"model": "routed"|"bridged", "bridge"?, "addresses"?: [...], "mac"?,
 * "gateway4"?, "gateway6"?}), "nameservers"?, "shaping"?. Names eth0..N
 * are given in order; host_ifname and unnamed MACs stay
 * empty/zero for the daemon to fill. Checks: each address valid, routed
 * addresses host-sized (/32, /128; a bare address becomes one), bridged
 * addresses carry a prefix (default /24 and /64), no address twice, a
 * gateway inside one of the interface's networks. 0 or -1 naming the
 * field ("net.interfaces[1].addresses[0]: ..."). */
int vs_config_parse_net(const struct vs_json *obj, const char *path, struct vs_net_config *net,
			struct vs_error *err);
/* Parse a (partial) shaping object on top of *sh: "egress_rate" etc. as
 * rate strings ("10mbit") or numbers (bit/s), bursts as sizes; null
 * removes (a rate's null also removes its peak and burst). A peak below
 * its rate, or a peak or burst without its rate, is an error. On failure
 * *sh is unchanged. 0 or -1. */
int vs_config_merge_shaping(const struct vs_json *obj, const char *path, struct vs_net_shaping *sh,
			    struct vs_error *err);
/* Emit the "net" object (config.json form, also used in status): the
 * value only, the caller emits the key. vs_config_to_json emits "net" when
 * there is an interface, a nameserver or some shaping. Rates are written
 * as rate strings ("10mbit"), bursts as sizes ("256K"). */
void vs_config_gen_net(struct vs_jgen *g, const struct vs_net_config *net);
/* "02:ab:..." into buf (18 bytes); parse the same. */
void vs_format_mac(const uint8_t mac[6], char *buf, size_t len);
int vs_parse_mac(const char *s, const char *what, uint8_t mac[6], struct vs_error *err);

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
/* The "locked": {"reason", "at"} member when cfg is locked; nothing else. */
void vs_config_gen_locked(struct vs_jgen *g, const struct vs_container_config *cfg);

void vs_config_free(struct vs_container_config *cfg);

#endif
