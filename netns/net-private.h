/* netns/ internals shared by the orchestration files (net.c, node.c):
 * one rtnetlink socket in the node's namespace and what attach, restore,
 * detach and the live changes do per interface. */
#ifndef VS_NET_PRIVATE_H
#define VS_NET_PRIVATE_H

#include <sys/socket.h>

#include "netns/nl-private.h"
#include "netns/vs_netns.h"

struct net_ctx {
	const struct vs_net_node *node;
	struct vs_nl nl; /* the node's (calling thread's) namespace */
};

/* Open ctx->nl here. 0 or -1. */
int net_ctx_open(struct net_ctx *c, const struct vs_net_node *node, struct vs_error *err);
void net_ctx_close(struct net_ctx *c);
#define cleanup_ctx __attribute__((cleanup(net_ctx_close)))
/* The uplink's index: 0 when the node has none, -1 when it is missing. */
int net_uplink(struct net_ctx *c, struct vs_error *err);
/* The node's host route of a routed address: ip/32 or /128, scope link,
 * through link oif. */
struct vs_nl_route net_host_route(const struct vs_ip *ip, int oif);
/* Node-side state of one routed address: host route to host_idx (when
 * > 0) with a permanent neighbour entry at peer_mac (the container's end;
 * NULL: none), proxy entries on the uplink, the standby unreachable route
 * (del: unless keep_standby). */
int net_node_addr(struct net_ctx *c, bool add, int host_idx, const uint8_t *peer_mac,
		  const struct vs_ip *ip, bool keep_standby, struct vs_error *err);
/* Set up the node side of ifc (its link exists): routed: up, gateway
 * addresses, per address host route, standby route, proxy entries;
 * bridged: port of its bridge (isolated unless private), up. host_mac
 * gets the node side's MAC. */
int node_side(struct net_ctx *c, const struct vs_net_iface *ifc, uint8_t host_mac[6],
	      struct vs_error *err);
/* Apply sh to ifc's links (rate 0: remove). */
int shape_iface(struct net_ctx *c, const struct vs_net_shaping *sh, const struct vs_net_iface *ifc,
		struct vs_error *err);
/* Inside (nl in the container): the default route of family for interface
 * number n on link idx, when the interface has one; routed, with the
 * gateway's permanent neighbour entry at gw_mac (NULL: none). */
int inside_default(struct vs_nl *nl, const struct vs_net_iface *ifc, size_t n, int idx, int family,
		   const uint8_t *gw_mac, struct vs_error *err);
/* Inside the container (netns_fd): interface n's addr_gen_mode, addresses,
 * link up and default routes (gw_mac: the node side's MAC, as for
 * inside_default); every step may be repeated. 0 or -1. */
int inside_setup(int netns_fd, const struct vs_net_iface *ifc, size_t n, const uint8_t *gw_mac,
		 struct vs_error *err);
/* The prefix length an address of ifc gets inside. */
uint8_t inside_prefix(const struct vs_net_iface *ifc, const struct vs_ip *ip);

/* The host prefix of ip's family: 32 or 128. */
static inline uint8_t net_host_prefix(const struct vs_ip *ip)
{
	return ip->family == AF_INET ? 32 : 128;
}

#endif
