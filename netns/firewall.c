/* The firewall of a vsd instance through libnftables (see fw-private.h for
 * the contract, vs_netns.h for where it sits).
 *
 * Every call builds one nft script and runs it with one
 * nft_run_cmd_from_buffer(), which libnftables sends as one netlink batch:
 * the kernel applies all of it or nothing. Names that go into a script are
 * checked first (interface names through vs_validate_ifname, the table name
 * here) and addresses and MACs are formatted from bytes, so no string that
 * reached us from outside can add a command or a statement.
 *
 * Objects of one node-side veth X (all in the netdev table node->fw_table):
 *   chain   ifc_X  base chain, hook ingress device "X", priority -500,
 *                  policy drop
 *   set     a4_X   type ipv4_addr: the container's IPv4 addresses
 *   set     a6_X   typeof @nh,64,128, flags interval: its IPv6 addresses
 *                  and its EUI-64 link-local address. nft 1.0.6 has no expression
 *                  for the target address of neighbour discovery messages,
 *                  so the set holds 128-bit integers that both the IPv6
 *                  source (@nh,64,128) and the ND target (@th,64,128) are
 *                  looked up in; one set keeps the two in step.
 *   counter d_X    every drop of the chain counts here (fw_iface_drops)
 *   chain   eg_X   base chain, hook ingress device "X", priority -510,
 *                  policy accept: the container's egress rate (policing,
 *                  fw_iface_police); only while it has one
 *
 * The rules of ifc_X, in order (first match wins):
 *   1 ether saddr != MAC                                   count, drop
 *   2 neighbour solicitation/advertisement whose link-layer address
 *     option is not MAC                                    count, drop
 *   3 ARP (Ethernet/IPv4) with sender MAC == MAC and sender IP in a4_X
 *     or 0.0.0.0 (an ARP probe, RFC 5227)                       accept
 *   4 IPv4 UDP source port 67 or destination port 68 (DHCP server
 *     answers)                                             count, drop
 *   5 IPv4 source in a4_X                                        accept
 *   6 IPv6 UDP source port 547 or destination port 546 (DHCPv6 server
 *     answers)                                             count, drop
 *   7 ICMPv6 router advertisement (134), redirect (137)    count, drop
 *   8 IPv6 source fe80::1 (the routed gateway, the node's) count, drop
 *   9 neighbour advertisement whose target is not in a6_X  count, drop
 *  10 neighbour advertisement whose target is fe80::1      count, drop
 *  11 source :: (duplicate address detection): neighbour solicitation
 *     whose target is in a6_X, MLD (v1, v2) listener reports    accept
 *  12 IPv6 source in a6_X (own addresses, its link-local)        accept
 *  13 anything else (other ethertypes, VLAN tags too)      count, drop
 * The only link-local source allowed is the EUI-64 one of the container's
 * MAC, so it cannot answer for a neighbour's or the router's link-local
 * address; vs_net_attach sets the inside link's addr_gen_mode to eui64.
 *
 * Deleted devices (measured on kernel 6.18 with nft 1.0.6, see
 * tests/unit/test_fw.c "device_gone"): deleting the hooked veth leaves
 * the chain, its rules, sets and counter in the table; since Linux 6.16 a
 * netdev hook is bound by name, so a new device of the same name is hooked
 * again by the old chain (older kernels delete the base chain with its
 * device). fw_iface_del and fw_iface_add therefore never assume either
 * state: each object is first declared with `add` (a no-op when it exists)
 * and then deleted in the same batch, which works whether the chain is
 * there or not, and fw_iface_add builds the new chain after that in the
 * same batch. */
#include <errno.h>
#include <inttypes.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/vs_json.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"
#include "netns/fw-private.h"

#define FW_PRIO	       "-500"
#define FW_PRIO_POLICE "-510"
/* The smallest policing bucket: a whole 64 KiB GSO packet with headers. */
#define FW_GSO_BUCKET (128 * 1024)

/* libnftables keeps process-wide state (its gmp allocator hooks, the
 * symbol tables it loads); one script at a time keeps us off its
 * thread-safety questions. Scripts are short. */
static pthread_mutex_t fw_lock = PTHREAD_MUTEX_INITIALIZER;

/* A growing nft script. */
struct fw_buf {
	char *s;
	size_t len, cap;
};

static void fw_buf_free(struct fw_buf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}
#define cleanup_fwbuf __attribute__((cleanup(fw_buf_free)))

static void fw_add(struct fw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fw_add(struct fw_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (b->len + (size_t)n + 1 > b->cap) {
		b->cap = (b->len + (size_t)n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void fw_ctx_freep(struct nft_ctx **ctx)
{
	if (*ctx)
		nft_ctx_free(*ctx);
}

/* nft's error text is "Error: what\n<the command>\n<carets>\n" per error:
 * keep the first error and its command on one line. */
static int fw_error(struct vs_error *err, const char *text)
{
	char line[2][512] = {"", ""};
	int n = 0;

	for (const char *p = text ? text : ""; *p && n < 2;) {
		size_t l = strcspn(p, "\n");
		snprintf(line[n++], sizeof(line[0]), "%.*s", (int)l, p);
		p += l + (p[l] == '\n');
	}
	const char *what = strncmp(line[0], "Error: ", 7) == 0 ? line[0] + 7 : line[0];
	return vs_error_set(err, 0, "nftables: %s%s%s", what[0] ? what : "the command failed",
			    line[1][0] ? " in: " : "", line[1]);
}

/* Run one nft script (one netlink batch). out (may be NULL) receives
 * what nft printed (JSON when json). 0 or -1 with err. */
static int fw_run(const char *script, bool json, char **out, struct vs_error *err)
{
	struct nft_ctx *ctx __attribute__((cleanup(fw_ctx_freep))) = NULL;
	int r = 0;

	pthread_mutex_lock(&fw_lock);
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx) {
		r = vs_error_set(err, ENOMEM, "nftables: nft_ctx_new");
		goto out;
	}
	if (nft_ctx_buffer_output(ctx) < 0 || nft_ctx_buffer_error(ctx) < 0) {
		r = vs_error_set(err, ENOMEM, "nftables: output buffers");
		goto out;
	}
	if (json)
		nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
	if (nft_run_cmd_from_buffer(ctx, script) != 0) {
		r = fw_error(err, nft_ctx_get_error_buffer(ctx));
		goto out;
	}
	if (out) {
		const char *o = nft_ctx_get_output_buffer(ctx);
		*out = xstrdup(o ? o : "");
	}
out:
	/* The context (its netlink socket) goes before other threads may
	 * start their own. */
	nft_ctx_free(steal_pointer(&ctx));
	pthread_mutex_unlock(&fw_lock);
	return r;
}

/* The instance's table name goes into scripts unquoted: "vsd_" + hex id,
 * letters, digits and '_' only, starting with a letter. */
static int fw_check_table(const struct vs_net_node *node, struct vs_error *err)
{
	const char *t = node->fw_table;
	size_t len = strnlen(t, sizeof(node->fw_table));

	if (len == 0 || len >= sizeof(node->fw_table) - 4 /* room for "_nat" */ ||
	    !((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z')))
		return vs_error_kind(err, VS_EK_INVALID, "firewall table name '%.*s' is not valid",
				     (int)len, t);
	for (size_t i = 0; i < len; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
		      (t[i] >= '0' && t[i] <= '9') || t[i] == '_'))
			return vs_error_kind(err, VS_EK_INVALID,
					     "firewall table name '%s' is not valid", t);
	return 0;
}

/* Both checks every function needs before it writes a name into a script.
 * nft identifiers may hold [A-Za-z0-9_.-/] after a leading letter, so the
 * prefixed interface names ("ifc_" + name) are valid identifiers. */
static int fw_check_names(const struct vs_net_node *node, const char *host_ifname,
			  struct vs_error *err)
{
	if (fw_check_table(node, err) < 0)
		return -1;
	return vs_validate_ifname(host_ifname, "firewall: host interface", err);
}

/* An IPv6 address as the 128-bit integer the a6 set holds. */
static void fw_hex128(const uint8_t a[16], char buf[35])
{
	buf[0] = '0';
	buf[1] = 'x';
	for (int i = 0; i < 16; i++)
		snprintf(buf + 2 + 2 * i, 3, "%02x", a[i]);
}

/* The element of ip in its set ("a4" or "a6"), or -1 for an address the
 * sets must not hold (link-local IPv6 overlaps the fe80::/64 range). */
static int fw_elem(const struct vs_ip *ip, const char **set, char buf[VS_IP_STRLEN],
		   struct vs_error *err)
{
	if (ip->family == AF_INET) {
		*set = "a4";
		vs_format_ip(ip, false, buf, VS_IP_STRLEN);
		return 0;
	}
	if (ip->family == AF_INET6 && !(ip->addr[0] == 0xfe && (ip->addr[1] & 0xc0) == 0x80)) {
		*set = "a6";
		fw_hex128(ip->addr, buf);
		return 0;
	}
	return vs_error_kind(err, VS_EK_INVALID, "firewall: not an address for an interface set");
}

/* Remove every object of interface X whether it exists or not: `add`
 * declares it (nothing happens when it exists; a base chain keeps its
 * hook), then the batch flushes and deletes it. */
static void fw_script_del(struct fw_buf *b, const char *t, const char *x)
{
	fw_add(b, "add chain netdev %s eg_%s\n", t, x);
	fw_add(b, "delete chain netdev %s eg_%s\n", t, x);
	fw_add(b, "add chain netdev %s ifc_%s\n", t, x);
	fw_add(b, "flush chain netdev %s ifc_%s\n", t, x);
	fw_add(b, "delete chain netdev %s ifc_%s\n", t, x);
	fw_add(b, "add set netdev %s a4_%s { type ipv4_addr; }\n", t, x);
	fw_add(b, "delete set netdev %s a4_%s\n", t, x);
	fw_add(b, "add set netdev %s a6_%s { typeof @nh,64,128; flags interval; }\n", t, x);
	fw_add(b, "delete set netdev %s a6_%s\n", t, x);
	fw_add(b, "add counter netdev %s d_%s\n", t, x);
	fw_add(b, "delete counter netdev %s d_%s\n", t, x);
}

/* The container's IPv6 link-local address (EUI-64 of its MAC, RFC 4291
 * appendix A) as a 128-bit integer. */
static void fw_eui64(const uint8_t m[6], char buf[35])
{
	uint8_t a[16] = {0xfe, 0x80};

	a[8] = m[0] ^ 0x02, a[9] = m[1], a[10] = m[2], a[11] = 0xff;
	a[12] = 0xfe, a[13] = m[3], a[14] = m[4], a[15] = m[5];
	fw_hex128(a, buf);
}

/* The chain of interface X with the rules listed at the top of the file. */
static void fw_script_chain(struct fw_buf *b, const char *t, const char *x, const char *mac,
			    const uint8_t m[6])
{
	const char *drop = "counter name \"d_";
	char ll[35];

	fw_add(b, "add set netdev %s a4_%s { type ipv4_addr; }\n", t, x);
	fw_add(b, "add set netdev %s a6_%s { typeof @nh,64,128; flags interval; }\n", t, x);
	fw_add(b, "add counter netdev %s d_%s\n", t, x);
	fw_add(
	    b,
	    "add chain netdev %s ifc_%s { type filter hook ingress device \"%s\" priority " FW_PRIO
	    "; policy drop; }\n",
	    t, x, x);
#define R(...) (fw_add(b, "add rule netdev %s ifc_%s ", t, x), fw_add(b, __VA_ARGS__))
	R("ether saddr != %s %s%s\" drop\n", mac, drop, x);
	/* The link-layer address option of a neighbour solicitation (type 1)
	 * or advertisement (type 2), one 8-byte option, must be its own MAC:
	 * ARP's sender check, for IPv6. */
	R("meta protocol ip6 icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } "
	  "@th,192,16 { 0x0101, 0x0201 } @th,208,48 != 0x%02x%02x%02x%02x%02x%02x %s%s\" drop\n",
	  m[0], m[1], m[2], m[3], m[4], m[5], drop, x);
	R("meta protocol arp arp htype 1 arp ptype ip arp hlen 6 arp plen 4 arp saddr ether %s "
	  "arp saddr ip @a4_%s accept\n",
	  mac, x);
	R("meta protocol arp arp htype 1 arp ptype ip arp hlen 6 arp plen 4 arp saddr ether %s "
	  "arp saddr ip 0.0.0.0 accept\n",
	  mac);
	/* DHCP server answers, by the server's port or the client's. */
	R("meta protocol ip udp sport 67 %s%s\" drop\n", drop, x);
	R("meta protocol ip udp dport 68 %s%s\" drop\n", drop, x);
	R("meta protocol ip ip saddr @a4_%s accept\n", x);
	R("meta protocol ip6 udp sport 547 %s%s\" drop\n", drop, x);
	R("meta protocol ip6 udp dport 546 %s%s\" drop\n", drop, x);
	R("meta protocol ip6 icmpv6 type { nd-router-advert, nd-redirect } %s%s\" drop\n", drop, x);
	R("meta protocol ip6 ip6 saddr " VS_NET_GW6 " %s%s\" drop\n", drop, x);
	R("meta protocol ip6 icmpv6 type nd-neighbor-advert @th,64,128 != @a6_%s %s%s\" drop\n", x,
	  drop, x);
	/* fe80::1 as a 128-bit integer: rule 9 of the list above. */
	R("meta protocol ip6 icmpv6 type nd-neighbor-advert "
	  "@th,64,128 0xfe800000000000000000000000000001 %s%s\" drop\n",
	  drop, x);
	R("meta protocol ip6 ip6 saddr :: icmpv6 type nd-neighbor-solicit @th,64,128 @a6_%s "
	  "accept\n",
	  x);
	R("meta protocol ip6 ip6 saddr :: "
	  "icmpv6 type { mld-listener-report, mld2-listener-report } accept\n");
	R("meta protocol ip6 @nh,64,128 @a6_%s accept\n", x);
	R("%s%s\" drop\n", drop, x);
#undef R
	/* Its one link-local address: the EUI-64 one (vs_net_attach sets the
	 * inside link's addr_gen_mode to eui64; a guest that changes it cuts
	 * its own IPv6 off, and cannot take a neighbour's link-local). */
	fw_eui64(m, ll);
	fw_add(b, "add element netdev %s a6_%s { %s }\n", t, x, ll);
}

int fw_node_setup(const struct vs_net_node *node, struct vs_error *err)
{
	struct fw_buf b cleanup_fwbuf = {0};
	const char *t = node->fw_table;
	char cidr[VS_IP_STRLEN];

	if (fw_check_table(node, err) < 0)
		return -1;
	fw_add(&b, "add table netdev %s\n", t);
	/* The NAT table is rebuilt from node->nat every time (the options may
	 * have changed since the last start); without NAT it goes away. */
	fw_add(&b, "add table ip %s_nat\ndelete table ip %s_nat\n", t, t);
	if (node->nnat > 0 && node->uplink[0]) {
		if (vs_validate_ifname(node->uplink, "--uplink", err) < 0)
			return -1;
		fw_add(&b, "add table ip %s_nat\n", t);
		fw_add(
		    &b,
		    "add chain ip %s_nat postrouting { type nat hook postrouting priority srcnat; "
		    "policy accept; }\n",
		    t);
		for (size_t i = 0; i < node->nnat; i++) {
			/* The table is family ip: IPv6 has no NAT here. */
			if (node->nat[i].family != AF_INET)
				return vs_error_kind(err, VS_EK_INVALID,
						     "--nat: only IPv4 networks are masqueraded");
			vs_format_ip(&node->nat[i], true, cidr, sizeof(cidr));
			fw_add(&b,
			       "add rule ip %s_nat postrouting ip saddr %s oifname \"%s\" "
			       "masquerade\n",
			       t, cidr, node->uplink);
		}
	}
	if (fw_run(b.s, false, NULL, err) < 0)
		return vs_error_prefix(err, "firewall table %s", t);
	return 0;
}

int fw_iface_add(const struct vs_net_node *node, const struct vs_net_iface *ifc,
		 struct vs_error *err)
{
	struct fw_buf b cleanup_fwbuf = {0};
	const char *t = node->fw_table, *x = ifc->host_ifname, *set;
	char mac[18], elem[VS_IP_STRLEN];
	static const uint8_t zero[6];

	if (fw_check_names(node, x, err) < 0)
		return -1;
	if (memcmp(ifc->mac, zero, 6) == 0 || (ifc->mac[0] & 1))
		return vs_error_kind(err, VS_EK_INVALID, "firewall %s: no unicast MAC", x);
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", ifc->mac[0], ifc->mac[1],
		 ifc->mac[2], ifc->mac[3], ifc->mac[4], ifc->mac[5]);
	fw_add(&b, "add table netdev %s\n", t);
	/* A leftover chain of the same name (a crash, a device that went
	 * away) is replaced in the same batch. */
	fw_script_del(&b, t, x);
	fw_script_chain(&b, t, x, mac, ifc->mac);
	for (size_t i = 0; i < ifc->naddrs; i++) {
		if (fw_elem(&ifc->addrs[i], &set, elem, err) < 0)
			return vs_error_prefix(err, "firewall %s: address %zu", x, i);
		fw_add(&b, "add element netdev %s %s_%s { %s }\n", t, set, x, elem);
	}
	if (fw_run(b.s, false, NULL, err) < 0)
		return vs_error_prefix(err, "firewall chain of %s", x);
	return 0;
}

/* Egress rate by policing, not an ifb: a tc redirect to an ifb hands the
 * packet back with tc classification marked done, and the kernel then
 * skips netfilter's ingress hook too, so the anti-spoofing chain would
 * never see a shaped container's packets. The policing chain runs before
 * it (priority -510) and drops what exceeds the rate (and the peak rate);
 * TCP backs off to the rate. Its buckets hold a 64 KiB GSO packet, which
 * the hook sees whole. */
int fw_iface_police(const struct vs_net_node *node, const char *host_ifname, int64_t rate,
		    int64_t peak, int64_t burst, struct vs_error *err)
{
	struct fw_buf b cleanup_fwbuf = {0};
	const char *t = node->fw_table, *x = host_ifname;
	const char *drop = "counter name \"d_";
	int64_t pburst = peak / 8 / 1000;

	if (fw_check_names(node, x, err) < 0)
		return -1;
	if (rate > 0 && rate < VS_RATE_MIN)
		return vs_error_kind(err, VS_EK_INVALID, "egress rate of %s: below 8kbit", x);
	if (pburst < FW_GSO_BUCKET)
		pburst = FW_GSO_BUCKET;
	fw_add(&b, "add table netdev %s\n", t);
	fw_add(&b, "add counter netdev %s d_%s\n", t, x);
	fw_add(&b, "add chain netdev %s eg_%s\n", t, x);
	fw_add(&b, "delete chain netdev %s eg_%s\n", t, x);
	if (rate > 0) {
		fw_add(&b,
		       "add chain netdev %s eg_%s { type filter hook ingress device \"%s\" "
		       "priority " FW_PRIO_POLICE "; policy accept; }\n",
		       t, x, x);
		fw_add(&b,
		       "add rule netdev %s eg_%s limit rate over %" PRId64
		       " bytes/second burst %" PRId64 " bytes %s%s\" drop\n",
		       t, x, rate / 8, burst, drop, x);
		if (peak > 0)
			fw_add(&b,
			       "add rule netdev %s eg_%s limit rate over %" PRId64
			       " bytes/second burst %" PRId64 " bytes %s%s\" drop\n",
			       t, x, peak / 8, pburst, drop, x);
	}
	if (fw_run(b.s, false, NULL, err) < 0)
		return vs_error_prefix(err, "egress rate of %s", x);
	return 0;
}

int fw_iface_del(const struct vs_net_node *node, const char *host_ifname, struct vs_error *err)
{
	struct fw_buf b cleanup_fwbuf = {0};

	if (fw_check_names(node, host_ifname, err) < 0)
		return -1;
	fw_add(&b, "add table netdev %s\n", node->fw_table);
	fw_script_del(&b, node->fw_table, host_ifname);
	if (fw_run(b.s, false, NULL, err) < 0)
		return vs_error_prefix(err, "firewall chain of %s", host_ifname);
	return 0;
}

int fw_iface_addr(const struct vs_net_node *node, const char *host_ifname, const struct vs_ip *ip,
		  bool add, struct vs_error *err)
{
	struct fw_buf b cleanup_fwbuf = {0};
	const char *t = node->fw_table, *set;
	char elem[VS_IP_STRLEN];

	if (fw_check_names(node, host_ifname, err) < 0 || fw_elem(ip, &set, elem, err) < 0)
		return -1;
	/* add is idempotent in nft; removal of an absent element is not,
	 * so it is added first in the same batch. */
	fw_add(&b, "add element netdev %s %s_%s { %s }\n", t, set, host_ifname, elem);
	if (!add)
		fw_add(&b, "delete element netdev %s %s_%s { %s }\n", t, set, host_ifname, elem);
	if (fw_run(b.s, false, NULL, err) < 0)
		return vs_error_prefix(err, "firewall set of %s", host_ifname);
	return 0;
}

/* The objects of nft's JSON listing: {"nftables": [{"table": {...}},
 * {"chain": {...}}, ...]}. NULL when it is not that. */
static const struct vs_json *fw_json_list(const struct vs_json *root)
{
	const struct vs_json *l = root ? vs_json_get(root, "nftables") : NULL;

	return l && vs_json_type(l) == VS_JSON_ARRAY ? l : NULL;
}

uint64_t fw_iface_drops(const struct vs_net_node *node, const char *host_ifname)
{
	struct vs_json *root __attribute__((cleanup(vs_json_freep))) = NULL;
	struct fw_buf b cleanup_fwbuf = {0};
	struct vs_error err = {0};
	cleanup_free char *out = NULL;
	const struct vs_json *l;
	int64_t n;

	if (fw_check_names(node, host_ifname, &err) < 0)
		return 0;
	fw_add(&b, "list counter netdev %s d_%s\n", node->fw_table, host_ifname);
	if (fw_run(b.s, true, &out, &err) < 0 || vs_json_parse(out, &root, &err) < 0 ||
	    !(l = fw_json_list(root)))
		return 0;
	for (size_t i = 0; i < vs_json_array_len(l); i++) {
		const struct vs_json *c = vs_json_get(vs_json_array_at(l, i), "counter");
		if (c && vs_json_int64(vs_json_get(c, "packets"), &n) && n >= 0)
			return (uint64_t)n;
	}
	return 0;
}

/* The interface an object of our table belongs to ("ifc_X", "a4_X",
 * "a6_X", "d_X" -> "X"), or NULL. */
static const char *fw_owner(const char *kind, const char *name)
{
	static const char *const chain_pfx[] = {"ifc_", "eg_"}, *const set_pfx[] = {"a4_", "a6_"},
				 *const ctr_pfx[] = {"d_"};
	const char *const *pfx = NULL;
	size_t n = 0;

	if (strcmp(kind, "chain") == 0)
		pfx = chain_pfx, n = 2;
	else if (strcmp(kind, "set") == 0)
		pfx = set_pfx, n = 2;
	else if (strcmp(kind, "counter") == 0)
		pfx = ctr_pfx, n = 1;
	for (size_t i = 0; i < n; i++)
		if (strncmp(name, pfx[i], strlen(pfx[i])) == 0)
			return name + strlen(pfx[i]);
	return NULL;
}

static bool fw_kept(const char *x, const char *const *keep, size_t nkeep)
{
	for (size_t i = 0; i < nkeep; i++)
		if (strcmp(keep[i], x) == 0)
			return true;
	return false;
}

int fw_reconcile(const struct vs_net_node *node, const char *const *keep, size_t nkeep,
		 struct vs_error *err)
{
	struct vs_json *root __attribute__((cleanup(vs_json_freep))) = NULL;
	struct fw_buf b cleanup_fwbuf = {0}, done cleanup_fwbuf = {0};
	cleanup_free char *out = NULL;
	const char *t = node->fw_table;
	const struct vs_json *l;
	char tag[VS_IFNAME_MAX + 3];

	if (fw_check_table(node, err) < 0)
		return -1;
	/* The whole netdev family lists without an error when our table does
	 * not exist yet; other tables in it are only read. */
	if (fw_run("list ruleset netdev\n", true, &out, err) < 0 ||
	    vs_json_parse(out, &root, err) < 0)
		return vs_error_prefix(err, "firewall table %s", t);
	if (!(l = fw_json_list(root)))
		return vs_error_set(err, 0, "firewall table %s: unexpected listing", t);
	fw_add(&done, "/");
	for (size_t i = 0; i < vs_json_array_len(l); i++) {
		const struct vs_json *it = vs_json_array_at(l, i), *o;
		const char *kind = vs_json_object_len(it) == 1 ? vs_json_object_key(it, 0) : "";
		const char *table, *name, *x;
		struct vs_error ignored;

		o = vs_json_object_len(it) == 1 ? vs_json_object_value(it, 0) : NULL;
		table = o ? vs_json_string(vs_json_get(o, "table")) : NULL;
		name = o ? vs_json_string(vs_json_get(o, "name")) : NULL;
		if (!table || !name || strcmp(table, t) != 0 || !(x = fw_owner(kind, name)) ||
		    fw_kept(x, keep, nkeep))
			continue;
		/* A name we could not have made is left alone rather than
		 * written into a script. */
		if (vs_validate_ifname(x, "firewall object", &ignored) < 0)
			continue;
		snprintf(tag, sizeof(tag), "/%s/", x);
		if (strstr(done.s, tag))
			continue;
		fw_add(&done, "%s/", x);
		fw_script_del(&b, t, x);
	}
	if (!b.s)
		return 0;
	if (fw_run(b.s, false, NULL, err) < 0)
		return vs_error_prefix(err, "firewall table %s: removing stale chains", t);
	return 0;
}
