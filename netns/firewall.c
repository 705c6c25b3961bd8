/* The firewall of a vsd instance through nf_tables netlink with libnftnl
 * (see fw-private.h for the contract, vs_netns.h for where it sits).
 *
 * Every change is one netlink batch (fw-nl.c) that the kernel applies whole
 * or not at all, holding exactly the messages the operation needs: nothing
 * is fetched first, so a call on one interface costs the same whether the
 * table holds one interface's objects or a thousand (libnftables, used
 * before, fetched the table before every command). Reading a counter is one
 * GETOBJ; fw_reconcile dumps the table's chains, sets and counters (no set
 * elements, no rules). Names are still checked first (interface names
 * through vs_validate_ifname, the table name here): they are attributes
 * now, not script text, but the checks keep them to names vsd makes.
 *
 * Objects of one node-side veth X, all in its own netdev table
 * node->fw_table + "_" + X ("vsd_ab12_vsab12c0"): the kernel validates a
 * table's whole rule set at every commit that adds rules to it, so in one
 * shared table (as before) adding the thousandth interface's chain cost
 * about eight times the first's (test_fw's scale case, 12 rules a chain);
 * in its own table about twice the first's (the kernel finds a table by
 * name in a list). Validation is kept per table since Linux 6.4; before,
 * any commit that needs it validates every table of the namespace, and
 * the split gains nothing there.
 *   chain   ifc_X  base chain, hook ingress device "X", priority -500,
 *                  policy drop
 *   set     a4_X   type ipv4_addr: the container's IPv4 addresses
 *   set     a6_X   128-bit integers (nft: typeof @nh,64,128), flags
 *                  interval, each address the interval [a, a + 1): its
 *                  IPv6 addresses and its EUI-64 link-local address. Both
 *                  the IPv6 source (@nh,64,128) and the target address of
 *                  neighbour discovery messages (@th,64,128) are looked up
 *                  in it; one set keeps the two in step.
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
 * fw-rules.c writes these as nf_tables expressions, with the dependencies
 * nft would add spelled out, and nft's anonymous sets ({ a, b }) as one
 * rule per value: rule 2 is four rules (two message types by two option
 * types), rule 7 two and the MLD part of rule 11 two; rules 3, 4, 6 and 11
 * were two rules in nft's text already.
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
 * state: the interface's table is declared (NEWTABLE without NLM_F_EXCL:
 * a no-op when it exists) and deleted with all it holds in the same batch,
 * which works whether it is there or not; fw_iface_add builds the table
 * anew after that in the same batch.
 *
 * An older vsd kept every interface's objects in the instance's table
 * node->fw_table itself: fw_iface_add and fw_iface_del remove X's there
 * too (each object declared, a chain's rules deleted, then the objects),
 * and fw_reconcile removes those of interfaces no longer kept, so a node
 * upgraded with its containers running keeps their chains until each is
 * rebuilt. */
#include <errno.h>
#include <inttypes.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/object.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/vs_util.h"
#include "lib/vs_validate.h"
#include "netns/fwnl-private.h"
#include "netns/fw-private.h"

#define FW_PRIO	       (-500)
#define FW_PRIO_POLICE (-510)
/* nft's "srcnat" priority of a nat chain at postrouting. */
#define FW_PRIO_SRCNAT 100
/* The smallest policing bucket: a whole 64 KiB GSO packet with headers. */
#define FW_GSO_BUCKET (128 * 1024)

/* The instance's table name: "vsd_" + hex id, letters, digits and '_'
 * only, starting with a letter, with room for "_nat". */
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

/* Both checks every function needs before it names objects: the prefixed
 * names ("ifc_" + an interface name) then fit every buffer and are names
 * nft itself could print and parse back. */
static int fw_check_names(const struct vs_net_node *node, const char *host_ifname,
			  struct vs_error *err)
{
	if (fw_check_table(node, err) < 0)
		return -1;
	return vs_validate_ifname(host_ifname, "firewall: host interface", err);
}

/* The table of interface X: node->fw_table + "_" + X. */
#define FW_TABLE_MAX 48
static void fw_iface_table(const struct vs_net_node *node, const char *x, char t[FW_TABLE_MAX])
{
	snprintf(t, FW_TABLE_MAX, "%s_%s", node->fw_table, x);
}

/* The set ("a4_X" or "a6_X") and key of ip, or -1 for an address the sets
 * must not hold: link-local IPv6 overlaps the fe80::/64 range, and the
 * all-ones address has no interval end. */
static int fw_elem(const struct vs_ip *ip, const char *x, char set[FW_WHAT_MAX], size_t *len,
		   struct vs_error *err)
{
	static const uint8_t ones[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	if (ip->family == AF_INET) {
		snprintf(set, FW_WHAT_MAX, "a4_%s", x);
		*len = 4;
		return 0;
	}
	if (ip->family == AF_INET6 && !(ip->addr[0] == 0xfe && (ip->addr[1] & 0xc0) == 0x80) &&
	    memcmp(ip->addr, ones, 16) != 0) {
		snprintf(set, FW_WHAT_MAX, "a6_%s", x);
		*len = 16;
		return 0;
	}
	return vs_error_kind(err, VS_EK_INVALID, "firewall: not an address for an interface set");
}

/* Remove every object an older vsd made for interface X in table t
 * whether it exists or not: each is declared first (nothing happens when
 * it exists; a base chain keeps its hook), a chain's rules are deleted (the
 * sets and the counter they use cannot go while rules refer to them), then
 * the objects. */
static void fw_put_del_legacy(struct fw_batch *b, const char *t, const char *x)
{
	char name[FW_WHAT_MAX];

	for (int eg = 1; eg >= 0; eg--) {
		snprintf(name, sizeof(name), "%s_%s", eg ? "eg" : "ifc", x);
		fw_put_chain(b, NFT_MSG_NEWCHAIN, NFPROTO_NETDEV, t, name);
		fw_put_chain(b, NFT_MSG_DELRULE, NFPROTO_NETDEV, t, name);
		fw_put_chain(b, NFT_MSG_DELCHAIN, NFPROTO_NETDEV, t, name);
	}
	snprintf(name, sizeof(name), "a4_%s", x);
	fw_put_set4(b, NFT_MSG_NEWSET, t, name);
	fw_put_set4(b, NFT_MSG_DELSET, t, name);
	snprintf(name, sizeof(name), "a6_%s", x);
	fw_put_set6(b, NFT_MSG_NEWSET, t, name);
	fw_put_set6(b, NFT_MSG_DELSET, t, name);
	snprintf(name, sizeof(name), "d_%s", x);
	fw_put_counter(b, NFT_MSG_NEWOBJ, t, name);
	fw_put_counter(b, NFT_MSG_DELOBJ, t, name);
}

/* Remove interface X's table and an older vsd's objects of X, whether
 * they exist or not. */
static void fw_put_del(struct fw_batch *b, const struct vs_net_node *node, const char *x)
{
	char t[FW_TABLE_MAX];

	fw_put_table(b, NFT_MSG_NEWTABLE, NFPROTO_NETDEV, node->fw_table);
	fw_put_del_legacy(b, node->fw_table, x);
	fw_iface_table(node, x, t);
	fw_put_table(b, NFT_MSG_NEWTABLE, NFPROTO_NETDEV, t);
	fw_put_table(b, NFT_MSG_DELTABLE, NFPROTO_NETDEV, t);
}

/* The container's IPv6 link-local address: the EUI-64 of its MAC (RFC
 * 4291 appendix A). */
static void fw_eui64(const uint8_t m[6], uint8_t a[16])
{
	memset(a, 0, 16);
	a[0] = 0xfe, a[1] = 0x80;
	a[8] = m[0] ^ 0x02, a[9] = m[1], a[10] = m[2], a[11] = 0xff;
	a[12] = 0xfe, a[13] = m[3], a[14] = m[4], a[15] = m[5];
}

/* The objects of interface X and the chain with the rules listed at the
 * top of the file. */
static void fw_put_iface(struct fw_batch *b, const char *t, const char *x, const uint8_t mac[6])
{
	char name[FW_WHAT_MAX], chain[FW_WHAT_MAX];
	uint8_t ll[16];

	snprintf(name, sizeof(name), "a4_%s", x);
	fw_put_set4(b, NFT_MSG_NEWSET, t, name);
	snprintf(name, sizeof(name), "a6_%s", x);
	fw_put_set6(b, NFT_MSG_NEWSET, t, name);
	snprintf(name, sizeof(name), "d_%s", x);
	fw_put_counter(b, NFT_MSG_NEWOBJ, t, name);
	snprintf(chain, sizeof(chain), "ifc_%s", x);
	fw_put_base_chain(b, NFPROTO_NETDEV, t,
			  &(struct fw_base_chain){.name = chain,
						  .type = "filter",
						  .dev = x,
						  .hooknum = NF_NETDEV_INGRESS,
						  .prio = FW_PRIO,
						  .policy = NF_DROP});
	fw_put_iface_rules(b, t, x, mac);
	/* Its one link-local address: the EUI-64 one (vs_net_attach sets the
	 * inside link's addr_gen_mode to eui64; a guest that changes it cuts
	 * its own IPv6 off, and cannot take a neighbour's link-local). */
	fw_eui64(mac, ll);
	snprintf(name, sizeof(name), "a6_%s", x);
	fw_put_elem(b, NFT_MSG_NEWSETELEM, t, name, ll, 16);
}

/* The NAT table, rebuilt from node->nat (the options may have changed
 * since the last start); without NAT it goes away. */
static int fw_put_nat(struct fw_batch *b, const struct vs_net_node *node, struct vs_error *err)
{
	char nat[sizeof(node->fw_table) + 4];

	snprintf(nat, sizeof(nat), "%s_nat", node->fw_table);
	fw_put_table(b, NFT_MSG_NEWTABLE, NFPROTO_IPV4, nat);
	fw_put_table(b, NFT_MSG_DELTABLE, NFPROTO_IPV4, nat);
	if (node->nnat == 0 || !node->uplink[0])
		return 0;
	if (vs_validate_ifname(node->uplink, "--uplink", err) < 0)
		return -1;
	fw_put_table(b, NFT_MSG_NEWTABLE, NFPROTO_IPV4, nat);
	fw_put_base_chain(b, NFPROTO_IPV4, nat,
			  &(struct fw_base_chain){.name = "postrouting",
						  .type = "nat",
						  .hooknum = NF_INET_POST_ROUTING,
						  .prio = FW_PRIO_SRCNAT,
						  .policy = NF_ACCEPT});
	for (size_t i = 0; i < node->nnat; i++) {
		/* The table is family ip: IPv6 has no NAT here. */
		if (node->nat[i].family != AF_INET || node->nat[i].prefix > 32)
			return vs_error_kind(err, VS_EK_INVALID,
					     "--nat: only IPv4 networks are masqueraded");
		fw_put_masq_rule(b, nat, "postrouting", node->nat[i].addr, node->nat[i].prefix,
				 node->uplink);
	}
	return 0;
}

int fw_node_setup(const struct vs_net_node *node, struct vs_error *err)
{
	struct fw_batch b cleanup_fwbatch = {0};

	if (fw_check_table(node, err) < 0)
		return -1;
	fw_batch_init(&b);
	fw_put_table(&b, NFT_MSG_NEWTABLE, NFPROTO_NETDEV, node->fw_table);
	if (fw_put_nat(&b, node, err) < 0 || fw_batch_commit(&b, err) < 0)
		return vs_error_prefix(err, "firewall table %s", node->fw_table);
	return 0;
}

int fw_iface_add(const struct vs_net_node *node, const struct vs_net_iface *ifc,
		 struct vs_error *err)
{
	const char *x = ifc->host_ifname;
	struct fw_batch b cleanup_fwbatch = {0};
	static const uint8_t zero[6];
	char set[FW_WHAT_MAX], t[FW_TABLE_MAX];
	size_t len;

	if (fw_check_names(node, x, err) < 0)
		return -1;
	if (memcmp(ifc->mac, zero, 6) == 0 || (ifc->mac[0] & 1))
		return vs_error_kind(err, VS_EK_INVALID, "firewall %s: no unicast MAC", x);
	fw_iface_table(node, x, t);
	fw_batch_init(&b);
	/* A leftover table of the same name (a crash, a device that went
	 * away) is replaced in the same batch. */
	fw_put_del(&b, node, x);
	fw_put_table(&b, NFT_MSG_NEWTABLE, NFPROTO_NETDEV, t);
	fw_put_iface(&b, t, x, ifc->mac);
	for (size_t i = 0; i < ifc->naddrs; i++) {
		if (fw_elem(&ifc->addrs[i], x, set, &len, err) < 0)
			return vs_error_prefix(err, "firewall %s: address %zu", x, i);
		fw_put_elem(&b, NFT_MSG_NEWSETELEM, t, set, ifc->addrs[i].addr, len);
	}
	if (fw_batch_commit(&b, err) < 0)
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
	const char *x = host_ifname;
	struct fw_batch b cleanup_fwbatch = {0};
	int64_t pburst = peak / 8 / 1000;
	char chain[FW_WHAT_MAX], ctr[FW_WHAT_MAX], t[FW_TABLE_MAX];

	if (fw_check_names(node, x, err) < 0)
		return -1;
	fw_iface_table(node, x, t);
	if (rate > 0 && rate < VS_RATE_MIN)
		return vs_error_kind(err, VS_EK_INVALID, "egress rate of %s: below 8kbit", x);
	if (pburst < FW_GSO_BUCKET)
		pburst = FW_GSO_BUCKET;
	snprintf(chain, sizeof(chain), "eg_%s", x);
	snprintf(ctr, sizeof(ctr), "d_%s", x);
	fw_batch_init(&b);
	fw_put_table(&b, NFT_MSG_NEWTABLE, NFPROTO_NETDEV, t);
	fw_put_counter(&b, NFT_MSG_NEWOBJ, t, ctr);
	fw_put_chain(&b, NFT_MSG_NEWCHAIN, NFPROTO_NETDEV, t, chain);
	fw_put_chain(&b, NFT_MSG_DELRULE, NFPROTO_NETDEV, t, chain);
	fw_put_chain(&b, NFT_MSG_DELCHAIN, NFPROTO_NETDEV, t, chain);
	if (rate > 0) {
		fw_put_base_chain(&b, NFPROTO_NETDEV, t,
				  &(struct fw_base_chain){.name = chain,
							  .type = "filter",
							  .dev = x,
							  .hooknum = NF_NETDEV_INGRESS,
							  .prio = FW_PRIO_POLICE,
							  .policy = NF_ACCEPT});
		/* The kernel's bucket is 32 bits of bytes. */
		fw_put_police_rule(&b, t, x, (uint64_t)rate / 8,
				   (uint32_t)(burst > UINT32_MAX ? UINT32_MAX : burst));
		if (peak > 0)
			fw_put_police_rule(&b, t, x, (uint64_t)peak / 8,
					   (uint32_t)(pburst > UINT32_MAX ? UINT32_MAX : pburst));
	}
	if (fw_batch_commit(&b, err) < 0)
		return vs_error_prefix(err, "egress rate of %s", x);
	return 0;
}

int fw_iface_del(const struct vs_net_node *node, const char *host_ifname, struct vs_error *err)
{
	struct fw_batch b cleanup_fwbatch = {0};

	if (fw_check_names(node, host_ifname, err) < 0)
		return -1;
	fw_batch_init(&b);
	fw_put_del(&b, node, host_ifname);
	if (fw_batch_commit(&b, err) < 0)
		return vs_error_prefix(err, "firewall chain of %s", host_ifname);
	return 0;
}

int fw_iface_addr(const struct vs_net_node *node, const char *host_ifname, const struct vs_ip *ip,
		  bool add, struct vs_error *err)
{
	struct fw_batch b cleanup_fwbatch = {0};
	char set[FW_WHAT_MAX], t[FW_TABLE_MAX];
	size_t len;

	if (fw_check_names(node, host_ifname, err) < 0 ||
	    fw_elem(ip, host_ifname, set, &len, err) < 0)
		return -1;
	fw_iface_table(node, host_ifname, t);
	fw_batch_init(&b);
	/* Adding is idempotent (NEWSETELEM without NLM_F_EXCL); removing an
	 * absent element is not, so it is added first in the same batch. */
	fw_put_elem(&b, NFT_MSG_NEWSETELEM, t, set, ip->addr, len);
	if (!add)
		fw_put_elem(&b, NFT_MSG_DELSETELEM, t, set, ip->addr, len);
	if (fw_batch_commit(&b, err) < 0)
		return vs_error_prefix(err, "firewall set of %s", host_ifname);
	return 0;
}

static int fw_counter_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_obj *o = nftnl_obj_alloc();

	if (!o)
		abort();
	if (nftnl_obj_nlmsg_parse(nlh, o) == 0 && nftnl_obj_is_set(o, NFTNL_OBJ_CTR_PKTS))
		*(uint64_t *)data = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS);
	nftnl_obj_free(o);
	return MNL_CB_OK;
}

uint64_t fw_iface_drops(const struct vs_net_node *node, const char *host_ifname)
{
	struct nftnl_obj *o;
	struct vs_error err = {0};
	char name[FW_WHAT_MAX], t[FW_TABLE_MAX];
	struct nlmsghdr *nlh;
	uint64_t packets = 0;
	cleanup_free char *buf = NULL;

	if (fw_check_names(node, host_ifname, &err) < 0)
		return 0;
	snprintf(name, sizeof(name), "d_%s", host_ifname);
	fw_iface_table(node, host_ifname, t);
	buf = xcalloc(1, FW_MSG_MAX);
	if (!(o = nftnl_obj_alloc()))
		abort();
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, t);
	nftnl_obj_set_str(o, NFTNL_OBJ_NAME, name);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
	/* One object by name: the kernel answers with it and the ack. */
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETOBJ, NFPROTO_NETDEV, NLM_F_ACK, 0);
	nftnl_obj_nlmsg_build_payload(nlh, o);
	nftnl_obj_free(o);
	/* No counter (no chain yet, or gone) reads as no drops. */
	if (fw_nl_query(nlh, fw_counter_cb, &packets, name, &err) < 0)
		return 0;
	return packets;
}

struct fw_drops_ctx {
	const struct vs_net_node *node;
	void (*fn)(const char *host_ifname, uint64_t packets, void *arg);
	void *arg;
};

/* Whether counter "d_X" of table t is interface X's: in X's own table,
 * or in the instance's (an older vsd's). */
static bool fw_drops_ours(const struct vs_net_node *node, const char *t, const char *name)
{
	char own[FW_TABLE_MAX];

	struct vs_error ignored;

	/* Any netdev counter of the namespace comes here: only a name vsd
	 * could have made is compared. */
	if (strncmp(name, "d_", 2) != 0 ||
	    vs_validate_ifname(name + 2, "firewall counter", &ignored) < 0)
		return false;
	fw_iface_table(node, name + 2, own);
	return strcmp(t, own) == 0 || strcmp(t, node->fw_table) == 0;
}

static int fw_drops_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fw_drops_ctx *c = data;
	struct nftnl_obj *o = nftnl_obj_alloc();
	const char *name, *t;

	if (!o)
		abort();
	/* The dump holds every netdev counter of the namespace: only ours
	 * count here. */
	if (nftnl_obj_nlmsg_parse(nlh, o) == 0 && nftnl_obj_is_set(o, NFTNL_OBJ_CTR_PKTS) &&
	    (t = nftnl_obj_get_str(o, NFTNL_OBJ_TABLE)) != NULL &&
	    (name = nftnl_obj_get_str(o, NFTNL_OBJ_NAME)) != NULL &&
	    fw_drops_ours(c->node, t, name))
		c->fn(name + 2, nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS), c->arg);
	nftnl_obj_free(o);
	return MNL_CB_OK;
}

int fw_drops_each(const struct vs_net_node *node,
		  void (*fn)(const char *host_ifname, uint64_t packets, void *arg), void *arg,
		  struct vs_error *err)
{
	struct fw_drops_ctx c = {node, fn, arg};
	cleanup_free char *buf = NULL;
	struct vs_error e = {0};
	struct nftnl_obj *o;
	struct nlmsghdr *nlh;

	if (fw_check_table(node, err) < 0)
		return -1;
	buf = xcalloc(1, FW_MSG_MAX);
	if (!(o = nftnl_obj_alloc()))
		abort();
	/* No table named: the counters of every table, in one dump. */
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETOBJ, NFPROTO_NETDEV, NLM_F_DUMP, 0);
	nftnl_obj_nlmsg_build_payload(nlh, o);
	nftnl_obj_free(o);
	if (fw_nl_query(nlh, fw_drops_cb, &c, "list counters", &e) == 0)
		return 0;
	/* No table yet: no counters, as fw_iface_drops reads a missing one. */
	if (e.errnum == ENOENT)
		return 0;
	*err = e;
	return -1;
}

/* ------------------------------------------------------ reconcile */

/* The interfaces whose objects fw_reconcile removes, each once: names
 * from the instance's table (an older vsd's objects), tables the
 * interfaces' own. */
struct fw_stale {
	const char *t;
	const char *const *keep;
	size_t nkeep;
	bool *old; /* keep[i] has objects in the instance's table */
	char **names;
	size_t n;
	char **tables;
	size_t ntables;
};

static void fw_stale_free(struct fw_stale *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	for (size_t i = 0; i < s->ntables; i++)
		free(s->tables[i]);
	free(s->tables);
}

/* The index of interface x in keep, or -1. */
static ssize_t fw_kept(const struct fw_stale *s, const char *x)
{
	for (size_t i = 0; i < s->nkeep; i++)
		if (strcmp(s->keep[i], x) == 0)
			return (ssize_t)i;
	return -1;
}

/* The interface an object of our table belongs to ("ifc_X", "eg_X",
 * "a4_X", "a6_X", "d_X" -> "X"), or NULL. */
static const char *fw_owner(uint16_t kind, const char *name)
{
	static const char *const chain_pfx[] = {"ifc_", "eg_"}, *const set_pfx[] = {"a4_", "a6_"},
				 *const ctr_pfx[] = {"d_"};
	const char *const *pfx = kind == NFT_MSG_GETCHAIN ? chain_pfx
				 : kind == NFT_MSG_GETSET ? set_pfx
							  : ctr_pfx;
	size_t n = kind == NFT_MSG_GETOBJ ? 1 : 2;

	for (size_t i = 0; i < n; i++)
		if (strncmp(name, pfx[i], strlen(pfx[i])) == 0)
			return name + strlen(pfx[i]);
	return NULL;
}

static void fw_stale_note(struct fw_stale *s, uint16_t kind, const char *table, const char *name)
{
	struct vs_error ignored;
	const char *x;
	ssize_t k;

	if (!table || !name || strcmp(table, s->t) != 0 || !(x = fw_owner(kind, name)))
		return;
	if ((k = fw_kept(s, x)) >= 0) {
		if (s->old != NULL)
			s->old[k] = true;
		return;
	}
	/* A name we could not have made is left alone. */
	if (vs_validate_ifname(x, "firewall object", &ignored) < 0)
		return;
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], x) == 0)
			return;
	s->names = xrealloc(s->names, (s->n + 1) * sizeof(*s->names));
	s->names[s->n++] = xstrdup(x);
}

/* A netdev table "T_X" (T the instance's) of an interface X not kept. */
static int fw_table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fw_stale *s = data;
	struct nftnl_table *t = nftnl_table_alloc();
	size_t plen = strlen(s->t);
	struct vs_error ignored;
	const char *name;

	if (!t)
		abort();
	if (nftnl_table_nlmsg_parse(nlh, t) == 0 &&
	    (name = nftnl_table_get_str(t, NFTNL_TABLE_NAME)) != NULL &&
	    strncmp(name, s->t, plen) == 0 && name[plen] == '_' &&
	    fw_kept(s, name + plen + 1) < 0 &&
	    vs_validate_ifname(name + plen + 1, "firewall table", &ignored) == 0) {
		s->tables = xrealloc(s->tables, (s->ntables + 1) * sizeof(*s->tables));
		s->tables[s->ntables++] = xstrdup(name);
	}
	nftnl_table_free(t);
	return MNL_CB_OK;
}

static int fw_chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (!c)
		abort();
	if (nftnl_chain_nlmsg_parse(nlh, c) == 0)
		fw_stale_note(data, NFT_MSG_GETCHAIN, nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE),
			      nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

static int fw_set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		abort();
	if (nftnl_set_nlmsg_parse(nlh, s) == 0)
		fw_stale_note(data, NFT_MSG_GETSET, nftnl_set_get_str(s, NFTNL_SET_TABLE),
			      nftnl_set_get_str(s, NFTNL_SET_NAME));
	nftnl_set_free(s);
	return MNL_CB_OK;
}

static int fw_obj_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_obj *o = nftnl_obj_alloc();

	if (!o)
		abort();
	if (nftnl_obj_nlmsg_parse(nlh, o) == 0)
		fw_stale_note(data, NFT_MSG_GETOBJ, nftnl_obj_get_str(o, NFTNL_OBJ_TABLE),
			      nftnl_obj_get_str(o, NFTNL_OBJ_NAME));
	nftnl_obj_free(o);
	return MNL_CB_OK;
}

/* One dump of the netdev tables, or of the instance's table's chains,
 * sets or objects (kind NFT_MSG_GET*). The kernel filters sets and objects
 * by table (and answers ENOENT when there is none yet); it lists every
 * netdev table and chain, which the callbacks filter. */
static int fw_dump(struct fw_stale *s, uint16_t kind, mnl_cb_t cb, struct vs_error *err)
{
	cleanup_free char *buf = xcalloc(1, FW_MSG_MAX);
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, kind, NFPROTO_NETDEV, NLM_F_DUMP, 0);

	if (kind == NFT_MSG_GETSET) {
		struct nftnl_set *o = nftnl_set_alloc();
		if (!o)
			abort();
		nftnl_set_set_str(o, NFTNL_SET_TABLE, s->t);
		nftnl_set_nlmsg_build_payload(nlh, o);
		nftnl_set_free(o);
	} else if (kind == NFT_MSG_GETOBJ) {
		struct nftnl_obj *o = nftnl_obj_alloc();
		if (!o)
			abort();
		nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, s->t);
		nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
		nftnl_obj_nlmsg_build_payload(nlh, o);
		nftnl_obj_free(o);
	}
	if (fw_nl_query(nlh, cb, s, "listing", err) < 0 && err->errnum != ENOENT)
		return -1;
	return 0;
}

int fw_reconcile(const struct vs_net_node *node, const char *const *keep, size_t nkeep, bool *old,
		 struct vs_error *err)
{
	struct fw_stale s __attribute__((cleanup(fw_stale_free))) = {
	    .t = node->fw_table, .keep = keep, .nkeep = nkeep, .old = old};
	struct fw_batch b cleanup_fwbatch = {0};

	if (fw_check_table(node, err) < 0)
		return -1;
	if (fw_dump(&s, NFT_MSG_GETTABLE, fw_table_cb, err) < 0 ||
	    fw_dump(&s, NFT_MSG_GETCHAIN, fw_chain_cb, err) < 0 ||
	    fw_dump(&s, NFT_MSG_GETSET, fw_set_cb, err) < 0 ||
	    fw_dump(&s, NFT_MSG_GETOBJ, fw_obj_cb, err) < 0)
		return vs_error_prefix(err, "firewall table %s", node->fw_table);
	fw_batch_init(&b);
	for (size_t i = 0; i < s.n; i++)
		fw_put_del_legacy(&b, node->fw_table, s.names[i]);
	/* Declared first: one gone since the dump must not fail the batch. */
	for (size_t i = 0; i < s.ntables; i++) {
		fw_put_table(&b, NFT_MSG_NEWTABLE, NFPROTO_NETDEV, s.tables[i]);
		fw_put_table(&b, NFT_MSG_DELTABLE, NFPROTO_NETDEV, s.tables[i]);
	}
	if (fw_batch_commit(&b, err) < 0)
		return vs_error_prefix(err, "firewall table %s: removing stale chains",
				       node->fw_table);
	return 0;
}
