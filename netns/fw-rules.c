/* The firewall's nf_tables objects and rules as libnftnl messages
 * (fwnl-private.h). The rules are those listed at the top of firewall.c, in the
 * kernel's own terms: what nft's syntax implies is written out (meta
 * protocol before a network header match, meta l4proto before a transport
 * header match, meta iiftype before an Ethernet header match), and each
 * anonymous set of nft's text ({ a, b }) is one rule per value, which
 * matches the same packets with the same verdict. */
#include "netns/fwnl-private.h"

#include <arpa/inet.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* nft's data type numbers for a set's key (what `nft list` prints it
 * as): ipv4_addr, and the plain integer of a raw payload (@nh,64,128). */
#define FW_TYPE_INTEGER 4
#define FW_TYPE_IPADDR	7
/* nft's user data on a set: the key's byte order, big endian. */
#define FW_BYTEORDER_BIG 2

/* libnftnl returns NULL only when out of memory: like xmalloc, abort. */
static void *fw_nn(void *p)
{
	if (!p)
		abort();
	return p;
}

void fw_put_table(struct fw_batch *b, uint16_t type, uint16_t family, const char *t)
{
	struct nftnl_table *o = fw_nn(nftnl_table_alloc());
	struct nlmsghdr *nlh;

	nftnl_table_set_str(o, NFTNL_TABLE_NAME, t);
	nftnl_table_set_u32(o, NFTNL_TABLE_FAMILY, family);
	nlh = fw_batch_msg(b, type, family, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0,
			   "%s table %s", type == NFT_MSG_NEWTABLE ? "add" : "delete", t);
	nftnl_table_nlmsg_build_payload(nlh, o);
	fw_batch_next(b, nlh);
	nftnl_table_free(o);
}

static struct nftnl_rule *fw_rule(uint16_t family, const char *t, const char *chain)
{
	struct nftnl_rule *r = fw_nn(nftnl_rule_alloc());

	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, t);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, family);
	return r;
}

static struct nftnl_chain *fw_chain(uint16_t family, const char *t, const char *name)
{
	struct nftnl_chain *c = fw_nn(nftnl_chain_alloc());

	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, t);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, family);
	return c;
}

void fw_put_chain(struct fw_batch *b, uint16_t type, uint16_t family, const char *t,
		  const char *name)
{
	struct nftnl_chain *c = fw_chain(family, t, name);
	const char *verb = type == NFT_MSG_NEWCHAIN  ? "add chain"
			   : type == NFT_MSG_DELRULE ? "flush chain"
						     : "delete chain";
	struct nlmsghdr *nlh;

	nlh = fw_batch_msg(b, type, family, type == NFT_MSG_NEWCHAIN ? NLM_F_CREATE : 0, "%s %s",
			   verb, name);
	if (type == NFT_MSG_DELRULE) {
		/* A DELRULE naming only table and chain deletes all its rules. */
		struct nftnl_rule *r = fw_rule(family, t, name);
		nftnl_rule_nlmsg_build_payload(nlh, r);
		nftnl_rule_free(r);
	} else {
		nftnl_chain_nlmsg_build_payload(nlh, c);
	}
	fw_batch_next(b, nlh);
	nftnl_chain_free(c);
}

void fw_put_base_chain(struct fw_batch *b, uint16_t family, const char *t,
		       const struct fw_base_chain *bc)
{
	struct nftnl_chain *c = fw_chain(family, t, bc->name);
	struct nlmsghdr *nlh;

	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, bc->type);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, bc->hooknum);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, bc->prio);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, bc->policy);
	if (bc->dev)
		nftnl_chain_set_str(c, NFTNL_CHAIN_DEV, bc->dev);
	nlh = fw_batch_msg(b, NFT_MSG_NEWCHAIN, family, NLM_F_CREATE, "add chain %s", bc->name);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	fw_batch_next(b, nlh);
	nftnl_chain_free(c);
}

static struct nftnl_set *fw_set(const char *t, const char *name)
{
	struct nftnl_set *s = fw_nn(nftnl_set_alloc());

	nftnl_set_set_str(s, NFTNL_SET_TABLE, t);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_NETDEV);
	return s;
}

/* A set declared (NEWSET) must be declared as nft made it: the kernel
 * refuses a NEWSET whose flags or key differ from the existing set's. */
static void fw_put_set(struct fw_batch *b, uint16_t type, const char *t, const char *name,
		       uint32_t ktype, uint32_t klen, uint32_t flags)
{
	struct nftnl_set *s = fw_set(t, name);
	struct nftnl_udata_buf *ud = NULL;
	struct nlmsghdr *nlh;

	if (type == NFT_MSG_NEWSET) {
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, ktype);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, klen);
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
		/* The kernel wants an id, unique in the batch, by which later
		 * messages could name the set: the message's index. */
		nftnl_set_set_u32(s, NFTNL_SET_ID, b->n);
		/* So that `nft list` prints the keys the right way round. */
		ud = fw_nn(nftnl_udata_buf_alloc(64));
		nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, FW_BYTEORDER_BIG);
		nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
				   nftnl_udata_buf_len(ud));
	}
	nlh = fw_batch_msg(b, type, NFPROTO_NETDEV, type == NFT_MSG_NEWSET ? NLM_F_CREATE : 0,
			   "%s set %s", type == NFT_MSG_NEWSET ? "add" : "delete", name);
	nftnl_set_nlmsg_build_payload(nlh, s);
	fw_batch_next(b, nlh);
	nftnl_set_free(s);
	if (ud)
		nftnl_udata_buf_free(ud);
}

void fw_put_set4(struct fw_batch *b, uint16_t type, const char *t, const char *name)
{
	fw_put_set(b, type, t, name, FW_TYPE_IPADDR, 4, 0);
}

void fw_put_set6(struct fw_batch *b, uint16_t type, const char *t, const char *name)
{
	fw_put_set(b, type, t, name, FW_TYPE_INTEGER, 16, NFT_SET_INTERVAL);
}

void fw_put_counter(struct fw_batch *b, uint16_t type, const char *t, const char *name)
{
	struct nftnl_obj *o = fw_nn(nftnl_obj_alloc());
	struct nlmsghdr *nlh;

	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, t);
	nftnl_obj_set_str(o, NFTNL_OBJ_NAME, name);
	nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, NFPROTO_NETDEV);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
	if (type == NFT_MSG_NEWOBJ) {
		/* The kernel wants the object's data even when empty. */
		nftnl_obj_set_u64(o, NFTNL_OBJ_CTR_PKTS, 0);
		nftnl_obj_set_u64(o, NFTNL_OBJ_CTR_BYTES, 0);
	}
	nlh = fw_batch_msg(b, type, NFPROTO_NETDEV, type == NFT_MSG_NEWOBJ ? NLM_F_CREATE : 0,
			   "%s counter %s", type == NFT_MSG_NEWOBJ ? "add" : "delete", name);
	nftnl_obj_nlmsg_build_payload(nlh, o);
	fw_batch_next(b, nlh);
	nftnl_obj_free(o);
}

static void fw_elem_add(struct nftnl_set *s, const uint8_t *key, size_t len, uint32_t flags)
{
	struct nftnl_set_elem *e = fw_nn(nftnl_set_elem_alloc());

	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, (uint32_t)len);
	if (flags)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, flags);
	nftnl_set_elem_add(s, e);
}

void fw_put_elem(struct fw_batch *b, uint16_t type, const char *t, const char *set,
		 const uint8_t *key, size_t len)
{
	struct nftnl_set *s = fw_set(t, set);
	struct nlmsghdr *nlh;

	fw_elem_add(s, key, len, 0);
	if (len == 16) {
		/* An interval set holds [start, end): the end is key + 1, an
		 * element flagged as an interval's end. The caller never
		 * passes the all-ones address, whose end would wrap. */
		uint8_t end[16];
		memcpy(end, key, 16);
		for (int i = 15; i >= 0 && ++end[i] == 0; i--)
			;
		fw_elem_add(s, end, 16, NFT_SET_ELEM_INTERVAL_END);
	}
	nlh = fw_batch_msg(b, type, NFPROTO_NETDEV, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0,
			   "%s element of set %s", type == NFT_MSG_NEWSETELEM ? "add" : "delete",
			   set);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	fw_batch_next(b, nlh);
	nftnl_set_free(s);
}

/* ------------------------------------------------------ expressions */

/* Every match loads into register 1 and compares or looks it up there. */
static void fw_expr_meta(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = fw_nn(nftnl_expr_alloc("meta"));

	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
}

static void fw_expr_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len)
{
	struct nftnl_expr *e = fw_nn(nftnl_expr_alloc("payload"));

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
}

static void fw_expr_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = fw_nn(nftnl_expr_alloc("cmp"));

	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	nftnl_rule_add_expr(r, e);
}

static void fw_expr_lookup(struct nftnl_rule *r, const char *set, bool inverted)
{
	struct nftnl_expr *e = fw_nn(nftnl_expr_alloc("lookup"));

	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	if (inverted)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	nftnl_rule_add_expr(r, e);
}

static void fw_expr_verdict(struct nftnl_rule *r, uint32_t verdict)
{
	struct nftnl_expr *e = fw_nn(nftnl_expr_alloc("immediate"));

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, verdict);
	nftnl_rule_add_expr(r, e);
}

/* `counter name "d_X" drop`: every drop counts in the interface's counter. */
static void fw_expr_counted_drop(struct nftnl_rule *r, const char *x)
{
	struct nftnl_expr *e = fw_nn(nftnl_expr_alloc("objref"));
	char name[FW_WHAT_MAX];

	snprintf(name, sizeof(name), "d_%s", x);
	nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
	nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, name);
	nftnl_rule_add_expr(r, e);
	fw_expr_verdict(r, NF_DROP);
}

/* meta protocol == ethertype (the packet's, network byte order). */
static void fw_match_proto(struct nftnl_rule *r, uint16_t ethertype)
{
	uint16_t v = htons(ethertype);

	fw_expr_meta(r, NFT_META_PROTOCOL);
	fw_expr_cmp(r, NFT_CMP_EQ, &v, 2);
}

/* meta l4proto == proto, then the transport header's byte at offset. */
static void fw_match_l4_u8(struct nftnl_rule *r, uint8_t proto, uint32_t offset, uint8_t v)
{
	fw_expr_meta(r, NFT_META_L4PROTO);
	fw_expr_cmp(r, NFT_CMP_EQ, &proto, 1);
	fw_expr_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, offset, 1);
	fw_expr_cmp(r, NFT_CMP_EQ, &v, 1);
}

/* meta l4proto == proto, then the 16-bit field at offset == v. */
static void fw_match_l4_u16(struct nftnl_rule *r, uint8_t proto, uint32_t offset, uint16_t v)
{
	uint16_t be = htons(v);

	fw_expr_meta(r, NFT_META_L4PROTO);
	fw_expr_cmp(r, NFT_CMP_EQ, &proto, 1);
	fw_expr_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, offset, 2);
	fw_expr_cmp(r, NFT_CMP_EQ, &be, 2);
}

/* -------------------------------------------------------------- rules */

/* Append r (freed here) at the end of its chain. */
static void fw_put_rule(struct fw_batch *b, struct nftnl_rule *r, int number)
{
	const char *chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
	uint16_t family = (uint16_t)nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY);
	struct nlmsghdr *nlh;

	nlh = fw_batch_msg(b, NFT_MSG_NEWRULE, family, NLM_F_CREATE | NLM_F_APPEND,
			   "add rule %d of chain %s", number, chain);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	fw_batch_next(b, nlh);
	nftnl_rule_free(r);
}

struct fw_names {
	const char *t, *x;
	char chain[FW_WHAT_MAX], a4[FW_WHAT_MAX], a6[FW_WHAT_MAX];
};

static const uint8_t fw_gw6[16] = {0xfe, 0x80, [15] = 1}; /* VS_NET_GW6, fe80::1 */
static const uint8_t fw_any6[16];

/* Rules 1-3: Ethernet source, the link-layer option of neighbour
 * discovery, ARP. */
static void fw_rules_link(struct fw_batch *b, const struct fw_names *n, const uint8_t mac[6])
{
	static const uint8_t arp_eth_ip[4] = {0, 1, 8, 0}, arp_lens[2] = {6, 4};
	const uint16_t ether = ARPHRD_ETHER;
	struct nftnl_rule *r = fw_rule(NFPROTO_NETDEV, n->t, n->chain);
	uint8_t sender[10] = {0};

	fw_expr_meta(r, NFT_META_IIFTYPE);
	fw_expr_cmp(r, NFT_CMP_EQ, &ether, 2);
	fw_expr_payload(r, NFT_PAYLOAD_LL_HEADER, 6, 6);
	fw_expr_cmp(r, NFT_CMP_NEQ, mac, 6);
	fw_expr_counted_drop(r, n->x);
	fw_put_rule(b, r, 1);
	/* A neighbour solicitation (135) or advertisement (136) whose first
	 * option is a source (type 1) or target (type 2) link-layer address
	 * of one 8-byte unit must carry the MAC: ARP's sender check, for
	 * IPv6. One rule per message and option type. */
	for (uint8_t type = 135; type <= 136; type++)
		for (uint16_t opt = 0x0101; opt <= 0x0201; opt += 0x0100) {
			uint16_t be = htons(opt);
			r = fw_rule(NFPROTO_NETDEV, n->t, n->chain);
			fw_match_proto(r, ETH_P_IPV6);
			fw_match_l4_u8(r, IPPROTO_ICMPV6, 0, type);
			fw_expr_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 24, 2);
			fw_expr_cmp(r, NFT_CMP_EQ, &be, 2);
			fw_expr_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 26, 6);
			fw_expr_cmp(r, NFT_CMP_NEQ, mac, 6);
			fw_expr_counted_drop(r, n->x);
			fw_put_rule(b, r, 2);
		}
	/* ARP for Ethernet/IPv4 whose sender is the MAC with one of its
	 * addresses, or with 0.0.0.0 (an ARP probe, RFC 5227). */
	memcpy(sender, mac, 6);
	for (int probe = 0; probe <= 1; probe++) {
		r = fw_rule(NFPROTO_NETDEV, n->t, n->chain);
		fw_match_proto(r, ETH_P_ARP);
		fw_expr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 0, 4);
		fw_expr_cmp(r, NFT_CMP_EQ, arp_eth_ip, 4);
		fw_expr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 4, 2);
		fw_expr_cmp(r, NFT_CMP_EQ, arp_lens, 2);
		fw_expr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, probe ? 10 : 6);
		fw_expr_cmp(r, NFT_CMP_EQ, sender, probe ? 10 : 6);
		if (!probe) {
			fw_expr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 14, 4);
			fw_expr_lookup(r, n->a4, false);
		}
		fw_expr_verdict(r, NF_ACCEPT);
		fw_put_rule(b, r, 3);
	}
}

/* DHCP (or DHCPv6) server answers, by the server's port or the client's:
 * counted drops (rules 4 and 6). */
static void fw_rules_dhcp(struct fw_batch *b, const struct fw_names *n, uint16_t ethertype,
			  uint16_t server, uint16_t client, int number)
{
	for (int dport = 0; dport <= 1; dport++) {
		struct nftnl_rule *r = fw_rule(NFPROTO_NETDEV, n->t, n->chain);
		fw_match_proto(r, ethertype);
		fw_match_l4_u16(r, IPPROTO_UDP, dport ? 2 : 0, dport ? client : server);
		fw_expr_counted_drop(r, n->x);
		fw_put_rule(b, r, number);
	}
}

/* The network header's source address (len bytes at offset) in set:
 * accepted (rules 5 and 12). */
static void fw_rule_own_source(struct fw_batch *b, const struct fw_names *n, uint16_t ethertype,
			       uint32_t offset, uint32_t len, const char *set, int number)
{
	struct nftnl_rule *r = fw_rule(NFPROTO_NETDEV, n->t, n->chain);

	fw_match_proto(r, ethertype);
	fw_expr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, offset, len);
	fw_expr_lookup(r, set, false);
	fw_expr_verdict(r, NF_ACCEPT);
	fw_put_rule(b, r, number);
}

/* Rules 6-8: DHCPv6 server answers, router advertisements and redirects,
 * the gateway's source address. */
static void fw_rules_ipv6_drops(struct fw_batch *b, const struct fw_names *n)
{
	struct nftnl_rule *r;

	fw_rules_dhcp(b, n, ETH_P_IPV6, 547, 546, 6);
	for (int redirect = 0; redirect <= 1; redirect++) {
		r = fw_rule(NFPROTO_NETDEV, n->t, n->chain);
		fw_match_proto(r, ETH_P_IPV6);
		fw_match_l4_u8(r, IPPROTO_ICMPV6, 0, redirect ? 137 : 134);
		fw_expr_counted_drop(r, n->x);
		fw_put_rule(b, r, 7);
	}
	r = fw_rule(NFPROTO_NETDEV, n->t, n->chain);
	fw_match_proto(r, ETH_P_IPV6);
	fw_expr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 16);
	fw_expr_cmp(r, NFT_CMP_EQ, fw_gw6, 16);
	fw_expr_counted_drop(r, n->x);
	fw_put_rule(b, r, 8);
}

/* Rules 9-12: neighbour advertisements only for its own targets (never
 * the gateway's), duplicate address detection from ::, its own IPv6
 * sources. The ND target sits at offset 8 of the ICMPv6 header. */
static void fw_rules_ipv6_accepts(struct fw_batch *b, const struct fw_names *n)
{
	static const uint8_t mld[2] = {131, 143}; /* MLD v1, v2 listener reports */
	struct nftnl_rule *r;

	for (int gw = 0; gw <= 1; gw++) {
		r = fw_rule(NFPROTO_NETDEV, n->t, n->chain);
		fw_match_proto(r, ETH_P_IPV6);
		fw_match_l4_u8(r, IPPROTO_ICMPV6, 0, 136);
		fw_expr_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 8, 16);
		if (gw)
			fw_expr_cmp(r, NFT_CMP_EQ, fw_gw6, 16);
		else
			fw_expr_lookup(r, n->a6, true);
		fw_expr_counted_drop(r, n->x);
		fw_put_rule(b, r, gw ? 10 : 9);
	}
	for (int i = 0; i < 3; i++) {
		r = fw_rule(NFPROTO_NETDEV, n->t, n->chain);
		fw_match_proto(r, ETH_P_IPV6);
		fw_expr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 16);
		fw_expr_cmp(r, NFT_CMP_EQ, fw_any6, 16);
		fw_match_l4_u8(r, IPPROTO_ICMPV6, 0, i == 0 ? 135 : mld[i - 1]);
		if (i == 0) {
			fw_expr_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 8, 16);
			fw_expr_lookup(r, n->a6, false);
		}
		fw_expr_verdict(r, NF_ACCEPT);
		fw_put_rule(b, r, 11);
	}
	fw_rule_own_source(b, n, ETH_P_IPV6, 8, 16, n->a6, 12);
}

void fw_put_iface_rules(struct fw_batch *b, const char *t, const char *x, const uint8_t mac[6])
{
	struct fw_names n = {.t = t, .x = x};
	struct nftnl_rule *r;

	snprintf(n.chain, sizeof(n.chain), "ifc_%s", x);
	snprintf(n.a4, sizeof(n.a4), "a4_%s", x);
	snprintf(n.a6, sizeof(n.a6), "a6_%s", x);
	fw_rules_link(b, &n, mac);
	fw_rules_dhcp(b, &n, ETH_P_IP, 67, 68, 4);
	fw_rule_own_source(b, &n, ETH_P_IP, 12, 4, n.a4, 5);
	fw_rules_ipv6_drops(b, &n);
	fw_rules_ipv6_accepts(b, &n);
	/* Rule 13: anything else, other ethertypes and VLAN tags too. */
	r = fw_rule(NFPROTO_NETDEV, t, n.chain);
	fw_expr_counted_drop(r, x);
	fw_put_rule(b, r, 13);
}

void fw_put_police_rule(struct fw_batch *b, const char *t, const char *x, uint64_t bytes_per_s,
			uint32_t burst)
{
	struct nftnl_expr *e = fw_nn(nftnl_expr_alloc("limit"));
	char chain[FW_WHAT_MAX];
	struct nftnl_rule *r;

	snprintf(chain, sizeof(chain), "eg_%s", x);
	r = fw_rule(NFPROTO_NETDEV, t, chain);
	/* `limit rate over N bytes/second burst B bytes`: matches what
	 * exceeds the rate. */
	nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, bytes_per_s);
	nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, burst);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKT_BYTES);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, NFT_LIMIT_F_INV);
	nftnl_rule_add_expr(r, e);
	fw_expr_counted_drop(r, x);
	fw_put_rule(b, r, 1);
}

void fw_put_masq_rule(struct fw_batch *b, const char *t, const char *chain, const uint8_t net[4],
		      uint8_t prefix, const char *oifname)
{
	struct nftnl_rule *r = fw_rule(NFPROTO_IPV4, t, chain);
	struct nftnl_expr *e = fw_nn(nftnl_expr_alloc("bitwise"));
	uint32_t mask = prefix ? htonl(~0u << (32 - prefix)) : 0, xor = 0, want;
	char ifname[16] = {0}; /* IFNAMSIZ: the kernel compares all of it */

	/* ip saddr NET/PREFIX: the source masked, compared to the network. */
	memcpy(&want, net, 4);
	want &= mask;
	fw_expr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, 4);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &xor, 4);
	nftnl_rule_add_expr(r, e);
	fw_expr_cmp(r, NFT_CMP_EQ, &want, 4);
	snprintf(ifname, sizeof(ifname), "%s", oifname);
	fw_expr_meta(r, NFT_META_OIFNAME);
	fw_expr_cmp(r, NFT_CMP_EQ, ifname, sizeof(ifname));
	nftnl_rule_add_expr(r, fw_nn(nftnl_expr_alloc("masq")));
	fw_put_rule(b, r, 1);
}
