#include "lib/vs_config.h"

#include <arpa/inet.h>
#include <ctype.h>
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

/* ---- networking ("net") ------------------------------------------------ */

const char *vs_net_model_name(enum vs_net_model m)
{
	return m == VS_NET_BRIDGED ? "bridged" : "routed";
}

void vs_format_mac(const uint8_t mac[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
}

static int hexval(char c)
{
	return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

static bool mac_is_zero(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	return memcmp(mac, zero, 6) == 0;
}

int vs_parse_mac(const char *s, const char *what, uint8_t mac[6], struct vs_error *err)
{
	uint8_t m[6];

	if (s == NULL || strlen(s) != 17)
		goto bad;
	for (int i = 0; i < 6; i++) {
		const char *p = s + i * 3;
		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
		    (i < 5 && p[2] != ':'))
			goto bad;
		m[i] = (uint8_t)(hexval(p[0]) << 4 | hexval(p[1]));
	}
	if (mac_is_zero(m))
		return vs_error_kind(err, VS_EK_INVALID, "%s: '%s' is all zeros", what, s);
	/* The group bit: a multicast MAC on an interface breaks the LAN. */
	if (m[0] & 1)
		return vs_error_kind(
		    err, VS_EK_INVALID,
		    "%s: '%s' is a multicast address (its first byte must be even)", what, s);
	memcpy(mac, m, 6);
	return 0;
bad:
	return vs_error_kind(err, VS_EK_INVALID,
			     "%s: '%s' is not a MAC address like 02:00:5e:10:00:01", what,
			     s ? s : "(null)");
}

static int64_t *shaping_field(struct vs_net_shaping *sh, int i)
{
	int64_t *f[6] = {&sh->egress_rate,  &sh->egress_peak,  &sh->egress_burst,
			 &sh->ingress_rate, &sh->ingress_peak, &sh->ingress_burst};

	return f[i];
}

/* In the order of shaping_field: rate, peak, burst per direction. */
static const char *const shaping_names[] = {
    "egress_rate",   "egress_peak", "egress_burst", "ingress_rate", "ingress_peak",
    "ingress_burst", NULL};

#define VS_RATE_MAX_BPS (INT64_C(100) * 1000 * 1000 * 1000)
#define VS_BURST_MIN	2048
#define VS_BURST_MAX	(INT64_C(1) << 30)

static int get_rate(const struct vs_json *v, const char *path, int64_t *out, struct vs_error *err)
{
	if (vs_json_type(v) == VS_JSON_STRING)
		return vs_parse_rate(vs_json_string(v), path, out, err);
	if (vs_json_int64(v, out) && *out >= VS_RATE_MIN && *out <= VS_RATE_MAX_BPS)
		return 0;
	return vs_error_kind(err, VS_EK_INVALID,
			     "%s: expected a rate like \"10mbit\" or a number of bits per second "
			     "from 8000 to 100000000000",
			     path);
}

static int get_burst(const struct vs_json *v, const char *path, int64_t *out, struct vs_error *err)
{
	char buf[32];

	if (get_size(v, path, out, err) < 0 || check_min_size(path, *out, VS_BURST_MIN, err) < 0)
		return -1;
	if (*out > VS_BURST_MAX) {
		vs_format_size(*out, buf, sizeof(buf));
		return vs_error_kind(err, VS_EK_INVALID, "%s: %s is above 1G", path, buf);
	}
	return 0;
}

/* Relations inside one direction: a peak or burst needs its rate, and a
 * peak below the rate would never be reached. */
static int check_shaping(const struct vs_net_shaping *sh, const char *path, struct vs_error *err)
{
	struct vs_net_shaping s = *sh;
	char a[32], b[32];

	for (int d = 0; d < 6; d += 3) {
		int64_t rate = *shaping_field(&s, d), peak = *shaping_field(&s, d + 1);
		if (rate == 0 && (peak != 0 || *shaping_field(&s, d + 2) != 0))
			return vs_error_kind(err, VS_EK_INVALID, "%s.%s: needs %s", path,
					     shaping_names[peak != 0 ? d + 1 : d + 2],
					     shaping_names[d]);
		if (peak != 0 && peak < rate) {
			vs_format_rate(peak, a, sizeof(a));
			vs_format_rate(rate, b, sizeof(b));
			return vs_error_kind(err, VS_EK_INVALID, "%s.%s: %s is below %s (%s)", path,
					     shaping_names[d + 1], a, shaping_names[d], b);
		}
	}
	return 0;
}

int vs_config_merge_shaping(const struct vs_json *obj, const char *path, struct vs_net_shaping *sh,
			    struct vs_error *err)
{
	struct vs_net_shaping s = *sh;
	char p[128];

	if (vs_json_type(obj) != VS_JSON_OBJECT)
		return type_error(path, "an object", obj, err);
	if (check_keys(obj, path, shaping_names, err) < 0)
		return -1;
	for (int i = 0; i < 6; i++) {
		const struct vs_json *v = vs_json_get(obj, shaping_names[i]);
		int64_t *f = shaping_field(&s, i);
		if (v == NULL)
			continue;
		snprintf(p, sizeof(p), "%s.%s", path, shaping_names[i]);
		if (vs_json_type(v) == VS_JSON_NULL) {
			/* Removing a rate removes its peak and burst (named
			 * later in the table, so a request naming them too
			 * still sets them and is refused below). */
			*f = 0;
			if (i % 3 == 0)
				*shaping_field(&s, i + 1) = *shaping_field(&s, i + 2) = 0;
			continue;
		}
		if ((i % 3 == 2 ? get_burst(v, p, f, err) : get_rate(v, p, f, err)) < 0)
			return -1;
	}
	if (check_shaping(&s, path, err) < 0)
		return -1;
	*sh = s;
	return 0;
}

static bool shaping_empty(const struct vs_net_shaping *sh)
{
	static const struct vs_net_shaping zero;

	return memcmp(sh, &zero, sizeof(zero)) == 0;
}

static const char *family_name(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

/* A list of bare addresses (nameservers; with_prefix: update removals,
 * where a prefix is allowed and ignored). No address twice. */
static int parse_ip_list(const struct vs_json *v, const char *path, bool with_prefix, size_t max,
			 struct vs_ip *out, size_t *n, struct vs_error *err)
{
	char p[128];

	if (vs_json_type(v) != VS_JSON_ARRAY)
		return type_error(path, "an array of addresses", v, err);
	if (vs_json_array_len(v) > max)
		return vs_error_kind(err, VS_EK_INVALID, "%s: more than %zu addresses", path, max);
	for (size_t i = 0; i < vs_json_array_len(v); i++) {
		const struct vs_json *e = vs_json_array_at(v, i);
		const char *s = vs_json_string(e);
		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		if (s == NULL)
			return type_error(p, "an address string", e, err);
		if (!with_prefix && strchr(s, '/') != NULL)
			return vs_error_kind(err, VS_EK_INVALID,
					     "%s: '%s': expected an address without a prefix", p,
					     s);
		if (vs_parse_ip(s, p, true, &out[i], err) < 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (vs_ip_equal(&out[i], &out[j]))
				return vs_error_kind(err, VS_EK_INVALID,
						     "%s: '%s' is given twice (also %s[%zu])", p, s,
						     path, j);
	}
	*n = vs_json_array_len(v);
	return 0;
}

/* An IPv4 address that is its network's own address or its broadcast
 * address (prefixes up to /30, where those exist). */
static bool v4_network_or_broadcast(const struct vs_ip *ip)
{
	uint32_t a, host;

	if (ip->family != AF_INET || ip->prefix > 30)
		return false;
	a = (uint32_t)ip->addr[0] << 24 | (uint32_t)ip->addr[1] << 16 | (uint32_t)ip->addr[2] << 8 |
	    ip->addr[3];
	host = ip->prefix == 0 ? UINT32_MAX : (UINT32_C(1) << (32 - ip->prefix)) - 1;
	return (a & host) == 0 || (a & host) == host;
}

/* One interface address: routed ones are single hosts (a bare address
 * becomes /32 or /128), bridged ones carry the LAN's prefix (default /24
 * and /64). */
static int iface_addr(const struct vs_json *v, const char *path, enum vs_net_model model,
		      struct vs_ip *ip, struct vs_error *err)
{
	const char *s = vs_json_string(v);

	if (s == NULL)
		return type_error(path, "an address string like \"203.0.113.5\"", v, err);
	if (vs_parse_ip(s, path, true, ip, err) < 0)
		return -1;
	if (model == VS_NET_ROUTED && ip->prefix != (ip->family == AF_INET ? 32 : 128))
		return vs_error_kind(err, VS_EK_INVALID,
				     "%s: '%s': a routed address is a single host (/32 or /128); "
				     "the node routes it",
				     path, s);
	if (model == VS_NET_BRIDGED && strchr(s, '/') == NULL)
		ip->prefix = ip->family == AF_INET ? 24 : 64;
	if (model == VS_NET_BRIDGED && v4_network_or_broadcast(ip))
		return vs_error_kind(err, VS_EK_INVALID,
				     "%s: '%s' is the network's own or broadcast address", path, s);
	return 0;
}

/* gateway4 or gateway6: an address of family inside one of the interface's
 * networks (or, for IPv6, a link-local router address). */
static int iface_gateway(const struct vs_json *v, const char *path, int family,
			 const struct vs_net_iface *ifc, struct vs_ip *gw, struct vs_error *err)
{
	const char *s = vs_json_string(v);
	char buf[VS_IP_STRLEN];

	if (s == NULL)
		return type_error(path, "an address string", v, err);
	if (strchr(s, '/') != NULL)
		return vs_error_kind(err, VS_EK_INVALID,
				     "%s: '%s': expected an address without a prefix", path, s);
	if (ifc->model == VS_NET_ROUTED)
		return vs_error_kind(err, VS_EK_INVALID,
				     "%s: a routed interface takes no gateway (its default routes "
				     "go via the node: 169.254.0.1 and fe80::1)",
				     path);
	memset(gw, 0, sizeof(*gw));
	/* IPv6 routers are commonly reached at a link-local address. */
	if (family == AF_INET6 && inet_pton(AF_INET6, s, gw->addr) == 1 && gw->addr[0] == 0xfe &&
	    (gw->addr[1] & 0xc0) == 0x80) {
		gw->family = AF_INET6;
		gw->prefix = 128;
		return 0;
	}
	if (vs_parse_ip(s, path, true, gw, err) < 0)
		return -1;
	if (gw->family != family)
		return vs_error_kind(err, VS_EK_INVALID, "%s: '%s' is not an %s address", path, s,
				     family_name(family));
	for (size_t i = 0; i < ifc->naddrs; i++) {
		if (vs_ip_equal(gw, &ifc->addrs[i]))
			return vs_error_kind(err, VS_EK_INVALID,
					     "%s: %s is the interface's own address", path, s);
		if (vs_ip_in_net(gw, &ifc->addrs[i]))
			return 0;
	}
	vs_format_ip(gw, false, buf, sizeof(buf));
	return vs_error_kind(err, VS_EK_INVALID,
			     "%s: %s is outside the interface's %s networks (give an address "
			     "in its network)",
			     path, buf, family_name(family));
}

/* An interface name member (name, bridge, host_ifname). */
static int get_ifname(const struct vs_json *v, const char *path, char *buf, struct vs_error *err)
{
	if (get_string(v, path, buf, VS_IFNAME_MAX + 1, err) < 0)
		return -1;
	return vs_validate_ifname(buf, path, err);
}

/* A member that the full (config.json) form requires. */
static const struct vs_json *member(const struct vs_json *obj, const char *key, const char *path,
				    bool required, struct vs_error *err)
{
	const struct vs_json *v = vs_json_get(obj, key);

	if (v == NULL && required)
		vs_error_kind(err, VS_EK_INVALID, "%s.%s: required", path, key);
	return v;
}

/* Model, names and MAC of one interface. */
static int parse_iface_ids(const struct vs_json *obj, const char *path, size_t idx, bool full,
			   struct vs_net_iface *ifc, struct vs_error *err)
{
	static const char *const ifkeys[] = {"name", "host_ifname"};
	char *const ifbufs[] = {ifc->name, ifc->host_ifname};
	const struct vs_json *v;
	const char *s;
	char p[256];

	if ((v = member(obj, "model", path, full, err)) == NULL && full)
		return -1;
	s = vs_json_string(v);
	if (v != NULL && (s == NULL || (strcmp(s, "routed") != 0 && strcmp(s, "bridged") != 0)))
		return vs_error_kind(err, VS_EK_INVALID,
				     "%s.model: expected \"routed\" or \"bridged\"", path);
	ifc->model = s != NULL && strcmp(s, "bridged") == 0 ? VS_NET_BRIDGED : VS_NET_ROUTED;
	snprintf(ifc->name, sizeof(ifc->name), "eth%u", (unsigned)(unsigned char)idx);
	for (size_t i = 0; full && i < VS_ARRAY_SIZE(ifkeys); i++) {
		snprintf(p, sizeof(p), "%s.%s", path, ifkeys[i]);
		if ((v = member(obj, ifkeys[i], path, true, err)) == NULL ||
		    get_ifname(v, p, ifbufs[i], err) < 0)
			return -1;
	}
	if ((v = vs_json_get(obj, "bridge")) != NULL) {
		snprintf(p, sizeof(p), "%s.bridge", path);
		if (ifc->model == VS_NET_ROUTED)
			return vs_error_kind(err, VS_EK_INVALID,
					     "%s: only a bridged interface joins a bridge", p);
		if (get_ifname(v, p, ifc->bridge, err) < 0)
			return -1;
	} else if (full && ifc->model == VS_NET_BRIDGED) {
		return vs_error_kind(err, VS_EK_INVALID, "%s.bridge: required", path);
	}
	if ((v = member(obj, "mac", path, full, err)) == NULL)
		return full ? -1 : 0;
	snprintf(p, sizeof(p), "%s.mac", path);
	if (vs_json_string(v) == NULL)
		return type_error(p, "a MAC address string", v, err);
	return vs_parse_mac(vs_json_string(v), p, ifc->mac, err);
}

static int parse_iface(const struct vs_json *obj, const char *path, size_t idx, bool full,
		       struct vs_net_iface *ifc, struct vs_error *err)
{
	static const char *const create_keys[] = {"model",    "bridge",	  "addresses", "mac",
						  "gateway4", "gateway6", NULL};
	static const char *const full_keys[] = {"name",	       "model",	   "bridge",
						"host_ifname", "mac",	   "addresses",
						"gateway4",    "gateway6", NULL};
	const struct vs_json *v;
	char p[256];

	memset(ifc, 0, sizeof(*ifc));
	if (vs_json_type(obj) != VS_JSON_OBJECT)
		return type_error(path, "an object", obj, err);
	if (check_keys(obj, path, full ? full_keys : create_keys, err) < 0 ||
	    parse_iface_ids(obj, path, idx, full, ifc, err) < 0)
		return -1;
	if ((v = vs_json_get(obj, "addresses")) != NULL) {
		snprintf(p, sizeof(p), "%s.addresses", path);
		if (vs_json_type(v) != VS_JSON_ARRAY)
			return type_error(p, "an array of addresses", v, err);
		if (vs_json_array_len(v) > VS_NET_ADDRS_MAX)
			return vs_error_kind(err, VS_EK_INVALID, "%s: more than %d addresses", p,
					     VS_NET_ADDRS_MAX);
		for (size_t i = 0; i < vs_json_array_len(v); i++) {
			snprintf(p, sizeof(p), "%s.addresses[%zu]", path, i);
			if (iface_addr(vs_json_array_at(v, i), p, ifc->model, &ifc->addrs[i], err) <
			    0)
				return -1;
			ifc->naddrs++;
		}
	}
	if ((v = vs_json_get(obj, "gateway4")) != NULL) {
		snprintf(p, sizeof(p), "%s.gateway4", path);
		if (iface_gateway(v, p, AF_INET, ifc, &ifc->gateway4, err) < 0)
			return -1;
	}
	if ((v = vs_json_get(obj, "gateway6")) != NULL) {
		snprintf(p, sizeof(p), "%s.gateway6", path);
		if (iface_gateway(v, p, AF_INET6, ifc, &ifc->gateway6, err) < 0)
			return -1;
	}
	return 0;
}

/* No address on two interfaces (or twice on one), no name twice. */
static int check_ifaces(const struct vs_net_iface *ifs, size_t n, const char *path,
			struct vs_error *err)
{
	char buf[VS_IP_STRLEN];

	for (size_t i = 0; i < n; i++) {
		for (size_t a = 0; a < ifs[i].naddrs; a++)
			for (size_t j = 0; j <= i; j++)
				for (size_t b = 0; b < (j == i ? a : ifs[j].naddrs); b++) {
					if (!vs_ip_equal(&ifs[i].addrs[a], &ifs[j].addrs[b]))
						continue;
					vs_format_ip(&ifs[i].addrs[a], false, buf, sizeof(buf));
					return vs_error_kind(
					    err, VS_EK_INVALID,
					    "%s[%zu].addresses[%zu]: %s is given twice (also "
					    "%s[%zu].addresses[%zu])",
					    path, i, a, buf, path, j, b);
				}
		for (size_t j = 0; j < i; j++) {
			const char *dup =
			    strcmp(ifs[i].name, ifs[j].name) == 0 ? "name"
			    : ifs[i].host_ifname[0] != '\0' &&
				    strcmp(ifs[i].host_ifname, ifs[j].host_ifname) == 0
				? "host_ifname"
				: NULL;
			if (dup != NULL)
				return vs_error_kind(err, VS_EK_INVALID,
						     "%s[%zu].%s: the same as %s[%zu]'s", path, i,
						     dup, path, j);
		}
	}
	return 0;
}

static int parse_ifaces(const struct vs_json *v, const char *path, bool full,
			struct vs_net_iface *ifs, size_t *n, struct vs_error *err)
{
	char p[128];

	if (vs_json_type(v) != VS_JSON_ARRAY)
		return type_error(path, "an array of interfaces", v, err);
	if (vs_json_array_len(v) > VS_NET_IFACES_MAX)
		return vs_error_kind(err, VS_EK_INVALID, "%s: more than %d interfaces", path,
				     VS_NET_IFACES_MAX);
	*n = 0;
	for (size_t i = 0; i < vs_json_array_len(v); i++) {
		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		if (parse_iface(vs_json_array_at(v, i), p, i, full, &ifs[i], err) < 0)
			return -1;
	}
	*n = vs_json_array_len(v);
	return check_ifaces(ifs, *n, path, err);
}

static int parse_net(const struct vs_json *obj, const char *path, bool full,
		     struct vs_net_config *net, struct vs_error *err)
{
	static const char *const keys[] = {"interfaces", "nameservers", "shaping", NULL};
	const struct vs_json *v;
	char p[128];

	memset(net, 0, sizeof(*net));
	if (vs_json_type(obj) != VS_JSON_OBJECT)
		return type_error(path, "an object", obj, err);
	if (check_keys(obj, path, keys, err) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s.interfaces", path);
	if ((v = vs_json_get(obj, "interfaces")) != NULL &&
	    parse_ifaces(v, p, full, net->ifaces, &net->nifaces, err) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s.nameservers", path);
	if ((v = vs_json_get(obj, "nameservers")) != NULL && vs_json_type(v) != VS_JSON_NULL &&
	    parse_ip_list(v, p, false, VS_NET_NAMESERVERS_MAX, net->nameservers, &net->nnameservers,
			  err) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s.shaping", path);
	if ((v = vs_json_get(obj, "shaping")) != NULL && vs_json_type(v) != VS_JSON_NULL &&
	    vs_config_merge_shaping(v, p, &net->shaping, err) < 0)
		return -1;
	return 0;
}

int vs_config_parse_net(const struct vs_json *obj, const char *path, struct vs_net_config *net,
			struct vs_error *err)
{
	return parse_net(obj, path, false, net, err);
}

/* The "add" list of an update: {"address": A[/P], "interface": IF?}. A
 * bare address keeps prefix 0: the daemon gives it the interface's
 * (/32 routed, /24 or /64 bridged). */
static int parse_update_add(const struct vs_json *v, struct vs_config_update *u,
			    struct vs_error *err)
{
	static const char *const keys[] = {"address", "interface", NULL};
	char p[128];

	if (vs_json_type(v) != VS_JSON_ARRAY)
		return type_error("net.add", "an array", v, err);
	if (vs_json_array_len(v) > VS_NET_ADDRS_MAX)
		return vs_error_kind(err, VS_EK_INVALID, "net.add: more than %d addresses",
				     VS_NET_ADDRS_MAX);
	for (size_t i = 0; i < vs_json_array_len(v); i++) {
		const struct vs_json *e = vs_json_array_at(v, i), *f;
		const char *s;
		snprintf(p, sizeof(p), "net.add[%zu]", i);
		if (vs_json_type(e) != VS_JSON_OBJECT)
			return type_error(p, "an object", e, err);
		if (check_keys(e, p, keys, err) < 0)
			return -1;
		snprintf(p, sizeof(p), "net.add[%zu].address", i);
		if ((f = vs_json_get(e, "address")) == NULL)
			return vs_error_kind(err, VS_EK_INVALID, "%s: required", p);
		if ((s = vs_json_string(f)) == NULL)
			return type_error(p, "an address string", f, err);
		if (vs_parse_ip(s, p, true, &u->add[i], err) < 0)
			return -1;
		if (strchr(s, '/') == NULL)
			u->add[i].prefix = 0;
		for (size_t j = 0; j < i; j++)
			if (vs_ip_equal(&u->add[i], &u->add[j]))
				return vs_error_kind(err, VS_EK_INVALID,
						     "%s: '%s' is given twice (also net.add[%zu])",
						     p, s, j);
		snprintf(p, sizeof(p), "net.add[%zu].interface", i);
		if ((f = vs_json_get(e, "interface")) != NULL &&
		    get_ifname(f, p, u->add_iface[i], err) < 0)
			return -1;
		u->nadd++;
	}
	return 0;
}

static int parse_update_net(const struct vs_json *obj, struct vs_config_update *u,
			    struct vs_error *err)
{
	static const char *const keys[] = {"add",	  "remove",	"shaping",
					   "nameservers", "interfaces", NULL};
	const struct vs_json *v;

	if (vs_json_type(obj) != VS_JSON_OBJECT)
		return type_error("net", "an object", obj, err);
	if (check_keys(obj, "net", keys, err) < 0)
		return -1;
	if (vs_json_object_len(obj) == 0)
		return vs_error_kind(err, VS_EK_INVALID,
				     "net: nothing to change (expected add, remove, shaping, "
				     "nameservers or interfaces)");
	if (vs_json_get(obj, "interfaces") != NULL &&
	    (vs_json_get(obj, "add") != NULL || vs_json_get(obj, "remove") != NULL))
		return vs_error_kind(err, VS_EK_INVALID,
				     "net.interfaces: replaces the whole list; it cannot come with "
				     "net.add or net.remove");
	if ((v = vs_json_get(obj, "add")) != NULL && parse_update_add(v, u, err) < 0)
		return -1;
	if ((v = vs_json_get(obj, "remove")) != NULL &&
	    parse_ip_list(v, "net.remove", true, VS_NET_ADDRS_MAX, u->del, &u->ndel, err) < 0)
		return -1;
	for (size_t i = 0; i < u->ndel; i++)
		for (size_t j = 0; j < u->nadd; j++)
			if (vs_ip_equal(&u->del[i], &u->add[j]))
				return vs_error_kind(err, VS_EK_INVALID,
						     "net.remove[%zu]: also in net.add[%zu]", i, j);
	if ((v = vs_json_get(obj, "shaping")) != NULL) {
		u->shaping_set = true;
		if (vs_json_type(v) == VS_JSON_NULL)
			memset(&u->shaping, 0, sizeof(u->shaping));
		else if (vs_config_merge_shaping(v, "net.shaping", &u->shaping, err) < 0)
			return -1;
	}
	if ((v = vs_json_get(obj, "nameservers")) != NULL) {
		u->nameservers_set = true;
		if (vs_json_type(v) != VS_JSON_NULL &&
		    parse_ip_list(v, "net.nameservers", false, VS_NET_NAMESERVERS_MAX,
				  u->nameservers, &u->nnameservers, err) < 0)
			return -1;
	}
	if ((v = vs_json_get(obj, "interfaces")) != NULL) {
		u->ifaces_set = true;
		if (parse_ifaces(v, "net.interfaces", false, u->ifaces, &u->nifaces, err) < 0)
			return -1;
	}
	return 0;
}

static void gen_iface(struct vs_jgen *g, const struct vs_net_iface *ifc)
{
	char buf[VS_IP_STRLEN];

	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "name", ifc->name);
	vs_jgen_kv_str(g, "model", vs_net_model_name(ifc->model));
	if (ifc->bridge[0] != '\0')
		vs_jgen_kv_str(g, "bridge", ifc->bridge);
	if (ifc->host_ifname[0] != '\0')
		vs_jgen_kv_str(g, "host_ifname", ifc->host_ifname);
	if (!mac_is_zero(ifc->mac)) {
		vs_format_mac(ifc->mac, buf, sizeof(buf));
		vs_jgen_kv_str(g, "mac", buf);
	}
	vs_jgen_key(g, "addresses");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < ifc->naddrs; i++) {
		vs_format_ip(&ifc->addrs[i], true, buf, sizeof(buf));
		vs_jgen_str(g, buf);
	}
	vs_jgen_arr_close(g);
	if (ifc->gateway4.family != 0) {
		vs_format_ip(&ifc->gateway4, false, buf, sizeof(buf));
		vs_jgen_kv_str(g, "gateway4", buf);
	}
	if (ifc->gateway6.family != 0) {
		vs_format_ip(&ifc->gateway6, false, buf, sizeof(buf));
		vs_jgen_kv_str(g, "gateway6", buf);
	}
	vs_jgen_obj_close(g);
}

void vs_config_gen_net(struct vs_jgen *g, const struct vs_net_config *net)
{
	struct vs_net_shaping sh = net->shaping;
	char buf[VS_IP_STRLEN];

	vs_jgen_obj_open(g);
	vs_jgen_key(g, "interfaces");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < net->nifaces; i++)
		gen_iface(g, &net->ifaces[i]);
	vs_jgen_arr_close(g);
	if (net->nnameservers > 0) {
		vs_jgen_key(g, "nameservers");
		vs_jgen_arr_open(g);
		for (size_t i = 0; i < net->nnameservers; i++) {
			vs_format_ip(&net->nameservers[i], false, buf, sizeof(buf));
			vs_jgen_str(g, buf);
		}
		vs_jgen_arr_close(g);
	}
	if (!shaping_empty(&sh)) {
		vs_jgen_key(g, "shaping");
		vs_jgen_obj_open(g);
		for (int i = 0; i < 6; i++) {
			int64_t v = *shaping_field(&sh, i);
			if (v == 0)
				continue;
			if (i % 3 == 2)
				vs_format_size(v, buf, sizeof(buf));
			else
				vs_format_rate(v, buf, sizeof(buf));
			vs_jgen_kv_str(g, shaping_names[i], buf);
		}
		vs_jgen_obj_close(g);
	}
	vs_jgen_obj_close(g);
}

static bool net_empty(const struct vs_net_config *net)
{
	return net->nifaces == 0 && net->nnameservers == 0 && shaping_empty(&net->shaping);
}

int vs_config_parse_update(const struct vs_json *body, const struct vs_limits *base,
			   struct vs_config_update *u, struct vs_error *err)
{
	static const struct vs_net_shaping none;

	return vs_config_parse_update_net(body, base, &none, u, err);
}

int vs_config_parse_update_net(const struct vs_json *body, const struct vs_limits *base,
			       const struct vs_net_shaping *shaping, struct vs_config_update *u,
			       struct vs_error *err)
{
	static const char *const keys[] = {"limits", "pool", "idle_reclaim", "net", "owner", NULL};
	const struct vs_json *v;

	memset(u, 0, sizeof(*u));
	u->limits = *base;
	u->shaping = *shaping;
	if (vs_json_type(body) != VS_JSON_OBJECT)
		return type_error("(body)", "an object", body, err);
	if (check_keys(body, "", keys, err) < 0)
		return -1;
	if (vs_json_object_len(body) == 0)
		return vs_error_kind(err, VS_EK_INVALID,
				     "(body): nothing to change (expected limits, pool, "
				     "idle_reclaim, net or owner)");
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
	if ((v = vs_json_get(body, "owner")) != NULL) {
		u->owner_set = true;
		if (vs_json_type(v) != VS_JSON_NULL &&
		    (get_string(v, "owner", u->owner, sizeof(u->owner), err) < 0 ||
		     vs_validate_name(u->owner, "owner", err) < 0))
			return -1;
	}
	if ((v = vs_json_get(body, "idle_reclaim")) != NULL) {
		if (get_bool(v, "idle_reclaim", &u->idle_reclaim, err) < 0)
			return -1;
		u->reclaim_set = true;
	}
	if ((v = vs_json_get(body, "net")) != NULL && parse_update_net(v, u, err) < 0)
		return -1;
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
	if ((v = vs_json_get(root, "owner")) != NULL && vs_json_type(v) != VS_JSON_NULL &&
	    (get_string(v, "owner", cfg->owner, sizeof(cfg->owner), err) < 0 ||
	     vs_validate_name(cfg->owner, "owner", err) < 0))
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
	static const char *const keys[] = {"name", "template", "hostname", "privileged", "limits",
					   "pool", "idle_reclaim", "net", "owner",
					   /* the daemon's (daemon/creds.c) */
					   "root_password", "root_password_hash", "ssh_keys",
					   /* the daemon's (containers.c): start once made */
					   "start", NULL};
	const struct vs_json *v;

	memset(cfg, 0, sizeof(*cfg));
	if (vs_json_type(body) != VS_JSON_OBJECT)
		return type_error("(body)", "an object", body, err);
	if (check_keys(body, "", keys, err) < 0 || parse_common(body, cfg, err) < 0)
		return -1;
	if ((v = vs_json_get(body, "net")) != NULL && vs_json_type(v) != VS_JSON_NULL &&
	    vs_config_parse_net(v, "net", &cfg->net, err) < 0)
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

/* "locked": {"reason": S, "at": unix seconds > 0}. */
static int parse_locked(const struct vs_json *v, struct vs_container_config *cfg,
			struct vs_error *err)
{
	static const char *const keys[] = {"reason", "at", NULL};

	if (vs_json_type(v) != VS_JSON_OBJECT)
		return type_error("locked", "an object", v, err);
	if (check_keys(v, "locked", keys, err) < 0 ||
	    get_string(vs_json_get(v, "reason"), "locked.reason", cfg->locked_reason,
		       sizeof(cfg->locked_reason), err) < 0 ||
	    get_int(vs_json_get(v, "at"), "locked.at", 1, INT64_MAX, &cfg->locked_at, err) < 0)
		return -1;
	return 0;
}

void vs_config_gen_locked(struct vs_jgen *g, const struct vs_container_config *cfg)
{
	if (cfg->locked_at <= 0)
		return;
	vs_jgen_key(g, "locked");
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "reason", cfg->locked_reason);
	vs_jgen_kv_int(g, "at", cfg->locked_at);
	vs_jgen_obj_close(g);
}

int vs_config_parse(const char *text, struct vs_container_config *cfg, struct vs_error *err)
{
	static const char *const keys[] = {
	    "name",	  "template",	  "hostname", "privileged", "limits",
	    "pool",	  "idle_reclaim", "idmap",    "init",	    "stop_signal",
	    "created_at", "net",	  "owner",    "locked",	    NULL};
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
	if ((v = vs_json_get(root, "net")) != NULL && parse_net(v, "net", true, &cfg->net, err) < 0)
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
	if ((v = vs_json_get(root, "locked")) != NULL && vs_json_type(v) != VS_JSON_NULL &&
	    parse_locked(v, cfg, err) < 0)
		goto fail;
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
	if (cfg->owner[0] != '\0')
		vs_jgen_kv_str(g, "owner", cfg->owner);
	vs_jgen_kv_bool(g, "idle_reclaim", cfg->idle_reclaim);
	if (!net_empty(&cfg->net)) {
		vs_jgen_key(g, "net");
		vs_config_gen_net(g, &cfg->net);
	}
	vs_jgen_key(g, "init");
	vs_jgen_arr_open(g);
	for (size_t i = 0; cfg->init != NULL && cfg->init[i] != NULL; i++)
		vs_jgen_str(g, cfg->init[i]);
	vs_jgen_arr_close(g);
	vs_format_signal(cfg->stop_signal, sig, sizeof(sig));
	vs_jgen_kv_str(g, "stop_signal", sig);
	vs_jgen_kv_int(g, "created_at", cfg->created_at);
	vs_config_gen_locked(g, cfg);
	vs_jgen_obj_close(g);
	return vs_jgen_steal(g);
}

void vs_config_free(struct vs_container_config *cfg)
{
	vs_strv_free(cfg->init);
	cfg->init = NULL;
}
