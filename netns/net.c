/* The network models at work: attach a starting container, set it up
 * again after a restore, detach it, live address and shaping changes, and
 * its counters. The node's own setup, checks and reconciliation are in
 * node.c; the objects (links, addresses, routes, ...) in their own files. */
#include "lib/vs_trace.h"
#include "netns/vs_netns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_bridge.h>
#include <stdio.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "netns/fw-private.h"
#include "netns/net-private.h"

int net_ctx_open(struct net_ctx *c, const struct vs_net_node *node, struct vs_error *err)
{
	c->node = node;
	return vs_nl_open(&c->nl, err);
}

void net_ctx_close(struct net_ctx *c)
{
	vs_nl_close(&c->nl);
}

int net_uplink(struct net_ctx *c, struct vs_error *err)
{
	int idx;

	if (c->node->uplink[0] == '\0')
		return 0;
	idx = vs_nl_link_index(&c->nl, c->node->uplink, err);
	if (idx == 0)
		return vs_error_kind(err, VS_EK_INVALID, "uplink %s does not exist",
				     c->node->uplink);
	return idx;
}

static struct vs_ip gw_ip(int family)
{
	struct vs_ip ip = {.family = family};

	inet_pton(family, family == AF_INET ? VS_NET_GW4 : VS_NET_GW6, ip.addr);
	ip.prefix = family == AF_INET ? 32 : 64;
	return ip;
}

struct vs_nl_route net_host_route(const struct vs_ip *ip, int oif)
{
	return (struct vs_nl_route){.dst = ip,
				    .family = ip->family,
				    .dst_len = net_host_prefix(ip),
				    .type = RTN_UNICAST,
				    .scope = RT_SCOPE_LINK,
				    .oif = oif};
}

int net_node_addr(struct net_ctx *c, bool add, int host_idx, const uint8_t *peer_mac,
		  const struct vs_ip *ip, bool keep_standby, struct vs_error *err)
{
	struct vs_nl_route host = net_host_route(ip, host_idx);
	struct vs_nl_route standby = {.dst = ip,
				      .family = ip->family,
				      .dst_len = net_host_prefix(ip),
				      .type = RTN_UNREACHABLE,
				      .scope = RT_SCOPE_UNIVERSE,
				      .metric = VS_NET_UNREACHABLE_METRIC};
	struct vs_error e = {0};
	int uplink = net_uplink(c, add ? err : &e), r = 0;

	if (uplink < 0 && add)
		return -1;
	if (add) {
		if (host_idx > 0 &&
		    (vs_nl_route(&c->nl, true, &host, err) < 0 ||
		     (peer_mac != NULL &&
		      vs_nl_neigh_static(&c->nl, true, host_idx, ip, peer_mac, false, err) < 0)))
			return -1;
		if (vs_nl_route(&c->nl, true, &standby, err) < 0)
			return -1;
		return uplink > 0 ? vs_nl_proxy(&c->nl, true, uplink, ip, err) : 0;
	}
	/* Best effort: every step runs; the first failure is reported. */
	if (uplink > 0 && vs_nl_proxy(&c->nl, false, uplink, ip, err) < 0)
		r = -1;
	if (host_idx > 0 &&
	    vs_nl_neigh_static(&c->nl, false, host_idx, ip, NULL, false, r < 0 ? &e : err) < 0)
		r = -1;
	if (host_idx > 0 && vs_nl_route(&c->nl, false, &host, r < 0 ? &e : err) < 0)
		r = -1;
	if (!keep_standby && vs_nl_route(&c->nl, false, &standby, r < 0 ? &e : err) < 0)
		r = -1;
	return r;
}

/* The node side of a routed interface: up, the gateway addresses, and per
 * address its host route, permanent neighbour entry, standby route and
 * proxy entries. */
static int node_routed(struct net_ctx *c, const struct vs_net_iface *ifc, int idx,
		       struct vs_error *err)
{
	struct vs_ip g4 = gw_ip(AF_INET), g6 = gw_ip(AF_INET6);

	/* Up first: the kernel refuses routes through a link that is down. */
	if (vs_nl_link_set_up(&c->nl, idx, true, "RTM_NEWLINK up", err) < 0 ||
	    vs_nl_addr(&c->nl, true, idx, &g4, 32, RT_SCOPE_LINK, err) < 0 ||
	    vs_nl_addr(&c->nl, true, idx, &g6, 64, RT_SCOPE_LINK, err) < 0)
		return -1;
	for (size_t i = 0; i < ifc->naddrs; i++)
		if (net_node_addr(c, true, idx, ifc->mac, &ifc->addrs[i], false, err) < 0)
			return -1;
	return 0;
}

static bool private_bridge(const struct vs_net_node *node, const char *bridge)
{
	for (size_t i = 0; i < node->nprivate; i++)
		if (strcmp(node->private_bridges[i], bridge) == 0)
			return true;
	return false;
}

/* Forwarding again after vs_net_quiesce. A port without carrier yet (a
 * new one: its peer comes up later) is refused with ENETDOWN and forwards
 * by itself once it has one; a bridge with STP decides itself. Neither is
 * an error. */
static int set_forwarding(struct net_ctx *c, const struct vs_net_iface *ifc, int idx)
{
	struct vs_error e = {0};

	if (vs_nl_brport_state(&c->nl, idx, BR_STATE_FORWARDING, &e) < 0 && e.errnum != ENETDOWN)
		fprintf(stderr, "vsd: bridge port %s: %s\n", ifc->host_ifname, e.msg);
	return 0;
}

/* The node side of a bridged interface: a port of its bridge, isolated
 * unless the bridge is one of the node's private networks. */
static int node_bridged(struct net_ctx *c, const struct vs_net_iface *ifc, int idx,
			struct vs_error *err)
{
	int br = vs_nl_link_index(&c->nl, ifc->bridge, err);

	if (br < 0)
		return -1;
	if (br == 0)
		return vs_error_kind(err, VS_EK_INVALID, "bridge %s does not exist", ifc->bridge);
	if (vs_nl_link_set_master(&c->nl, idx, br, err) < 0 ||
	    vs_nl_brport_isolated(&c->nl, idx, !private_bridge(c->node, ifc->bridge), err) < 0 ||
	    vs_nl_link_set_up(&c->nl, idx, true, "RTM_NEWLINK up", err) < 0 ||
	    set_forwarding(c, ifc, idx) < 0)
		return -1;
	return 0;
}

int node_side(struct net_ctx *c, const struct vs_net_iface *ifc, uint8_t host_mac[6],
	      struct vs_error *err)
{
	struct vs_nl_link l;
	int r = vs_nl_link_get(&c->nl, ifc->host_ifname, &l, err);

	if (r == 0)
		vs_error_set(err, ENODEV, "no link %s", ifc->host_ifname);
	if (r <= 0)
		return -1;
	memcpy(host_mac, l.mac, 6);
	if (ifc->model == VS_NET_ROUTED)
		return node_routed(c, ifc, l.index, err);
	return node_bridged(c, ifc, l.index, err);
}

/* The shaping of one interface: a TBF on the node side's egress (what the
 * container receives), and policing in the firewall for what it sends
 * (fw_iface_police says why not an ifb); rate 0 removes each. */
int shape_iface(struct net_ctx *c, const struct vs_net_shaping *sh, const struct vs_net_iface *ifc,
		struct vs_error *err)
{
	int host = vs_nl_link_index(&c->nl, ifc->host_ifname, err);
	int64_t burst =
	    sh->egress_burst > 0 ? sh->egress_burst : vs_tbf_default_burst(sh->egress_rate);

	if (host == 0)
		vs_error_set(err, ENODEV, "no link %s", ifc->host_ifname);
	if (host <= 0)
		return -1;
	if (sh->ingress_rate > 0 ? vs_nl_tbf_set(&c->nl, host, sh->ingress_rate, sh->ingress_peak,
						 sh->ingress_burst, err)
				 : vs_nl_tbf_del(&c->nl, host, err))
		return -1;
	return fw_iface_police(c->node, ifc->host_ifname, sh->egress_rate, sh->egress_peak, burst,
			       err);
}

/* The default route of ip's family on the inside link idx, if the
 * interface has one: routed via the node side's link-local addresses,
 * bridged via its gateways. Interface n uses metric n (IPv6: 1024 + n) so
 * that each interface's default routes can coexist. A routed interface's
 * gateway gets a permanent neighbour entry at the node side's MAC
 * (gw_mac, when known): the container never resolves it, and a node of
 * 1,000 VPSes that talk does not fill the machine's neighbour table (its
 * limit, gc_thresh3, counts every namespace's resolved entries). */
int inside_default(struct vs_nl *nl, const struct vs_net_iface *ifc, size_t n, int idx, int family,
		   const uint8_t *gw_mac, struct vs_error *err)
{
	struct vs_ip gw = gw_ip(family);
	struct vs_nl_route r = {.family = family,
				.type = RTN_UNICAST,
				.scope = RT_SCOPE_UNIVERSE,
				.oif = idx,
				.gw = &gw,
				.metric = (uint32_t)n + (family == AF_INET6 ? 1024 : 0),
				.onlink = ifc->model == VS_NET_ROUTED && family == AF_INET};

	if (ifc->model == VS_NET_BRIDGED) {
		const struct vs_ip *g = family == AF_INET ? &ifc->gateway4 : &ifc->gateway6;

		if (g->family != family)
			return 0;
		gw = *g;
	} else if (gw_mac != NULL &&
		   vs_nl_neigh_static(nl, true, idx, &gw, gw_mac, true, err) < 0) {
		return -1;
	}
	return vs_nl_route(nl, true, &r, err);
}

static bool has_family(const struct vs_net_iface *ifc, int family)
{
	for (size_t i = 0; i < ifc->naddrs; i++)
		if (ifc->addrs[i].family == family)
			return true;
	return false;
}

/* Prefix of an address inside: routed ones are always host addresses. */
uint8_t inside_prefix(const struct vs_net_iface *ifc, const struct vs_ip *ip)
{
	return ifc->model == VS_NET_ROUTED ? net_host_prefix(ip) : ip->prefix;
}

/* The inside of interface n: addresses, up, default routes. */
int inside_setup(int netns_fd, const struct vs_net_iface *ifc, size_t n, const uint8_t *gw_mac,
		 struct vs_error *err)
{
	cleanup_nl struct vs_nl nl = {0};
	int idx;

	if (vs_nl_open_in(&nl, netns_fd, err) < 0)
		return -1;
	idx = vs_nl_link_index(&nl, ifc->name, err);
	if (idx == 0)
		vs_error_set(err, ENODEV, "no link %s in the container", ifc->name);
	if (idx <= 0)
		return -1;
	/* The one link-local address the firewall lets out is the EUI-64 one
	 * (a namespace may default to stable-privacy). */
	if (vs_nl_link_eui64(&nl, idx, err) < 0)
		return -1;
	for (size_t i = 0; i < ifc->naddrs; i++) {
		const struct vs_ip *ip = &ifc->addrs[i];

		if (vs_nl_addr(&nl, true, idx, ip, inside_prefix(ifc, ip), RT_SCOPE_UNIVERSE, err) <
		    0)
			return -1;
	}
	if (vs_nl_link_set_up(&nl, idx, true, "RTM_NEWLINK up (inside)", err) < 0)
		return -1;
	for (int f = 0; f < 2; f++) {
		int family = f == 0 ? AF_INET : AF_INET6;

		if (has_family(ifc, family) &&
		    inside_default(&nl, ifc, n, idx, family, gw_mac, err) < 0)
			return -1;
	}
	return 0;
}

/* The tries at a free index for a pair (vs_net_veth_ifindex): the range
 * holds 2^30 indexes, so more than one try is already rare. */
#define PAIR_INDEX_TRIES 8

/* The veth pair, the peer created directly in the container's namespace
 * under its own name: moving it there would cost about 20 ms of RCU grace
 * periods in the kernel (dev_change_net_namespace). Both ends get an index
 * of vs_net_veth_ifindex, which CRIU can re-create at restore (a peer made
 * in a fresh namespace would otherwise get index 2, which the node has).
 * Leftovers with the interface's names go first: the names belong to this
 * container (vp... is the temporary peer name of older versions). */
static int make_pair(struct net_ctx *c, const struct vs_net_iface *ifc, int netns_fd,
		     struct vs_error *err)
{
	char peer[VS_IFNAME_MAX + 1];

	snprintf(peer, sizeof(peer), "vp%s", ifc->host_ifname + (ifc->host_ifname[0] ? 2 : 0));
	if (vs_nl_link_del(&c->nl, ifc->host_ifname, err) < 0 ||
	    vs_nl_link_del(&c->nl, peer, err) < 0)
		return -1;
	for (unsigned i = 0; i < PAIR_INDEX_TRIES; i++) {
		int idx = vs_net_veth_ifindex(ifc->host_ifname, i);

		*err = (struct vs_error){0};
		if (vs_nl_veth_create(&c->nl, ifc->host_ifname, ifc->name, netns_fd, idx, ifc->mac,
				      err) == 0)
			return 0;
		/* The names are free: EEXIST is the index. */
		if (err->errnum != EEXIST)
			return -1;
	}
	return vs_error_prefix(err, "no free interface index after %d tries", PAIR_INDEX_TRIES);
}

/* Everything the node holds for one interface; best effort. */
static int detach_iface(struct net_ctx *c, const struct vs_net_iface *ifc, bool keep_standby,
			struct vs_error *err)
{
	struct vs_error e = {0};
	int r = 0;

	if (fw_iface_del(c->node, ifc->host_ifname, err) < 0)
		r = -1;
	/* The link takes its host routes, addresses, qdiscs and its peer in
	 * the container with it. */
	if (vs_nl_link_del(&c->nl, ifc->host_ifname, r < 0 ? &e : err) < 0)
		r = -1;
	if (ifc->model != VS_NET_ROUTED)
		return r;
	for (size_t i = 0; i < ifc->naddrs; i++)
		if (net_node_addr(c, false, 0, NULL, &ifc->addrs[i], keep_standby,
				  r < 0 ? &e : err) < 0)
			r = -1;
	return r;
}

static int attach_iface(struct net_ctx *c, const struct vs_net_config *net, size_t n, int netns_fd,
			struct vs_error *err)
{
	const struct vs_net_iface *ifc = &net->ifaces[n];
	uint8_t host_mac[6];

	/* The firewall before the link comes up: nothing passes unfiltered. */
	if (make_pair(c, ifc, netns_fd, err) < 0)
		goto fail;
	vs_trace_mark("net.veth-pair");
	if (fw_iface_add(c->node, ifc, err) < 0)
		goto fail;
	vs_trace_mark("net.firewall");
	/* A new link has no qdisc, and the firewall's batch has just removed
	 * any policing chain of this name: only a rate needs a request. */
	if ((net->shaping.egress_rate > 0 || net->shaping.ingress_rate > 0) &&
	    shape_iface(c, &net->shaping, ifc, err) < 0)
		goto fail;
	vs_trace_mark("net.shaping");
	if (node_side(c, ifc, host_mac, err) < 0)
		goto fail;
	vs_trace_mark("net.node-side");
	if (inside_setup(netns_fd, ifc, n, host_mac, err) < 0)
		goto fail;
	vs_trace_mark("net.inside");
	return 0;
fail:
	return vs_error_prefix(err, "interface %s (%s)", ifc->name, ifc->host_ifname);
}

int vs_net_attach(const struct vs_net_node *node, const struct vs_net_config *net, int netns_fd,
		  struct vs_error *err)
{
	cleanup_ctx struct net_ctx c = {0};
	struct vs_error ignored = {0};

	if (net_ctx_open(&c, node, err) < 0)
		return vs_error_prefix(err, "attach network");
	vs_trace_mark("net.opened");
	for (size_t i = 0; i < net->nifaces; i++) {
		if (attach_iface(&c, net, i, netns_fd, err) == 0)
			continue;
		/* All or nothing: undo this interface and those before it. */
		for (size_t j = 0; j <= i; j++)
			detach_iface(&c, &net->ifaces[j], false, &ignored);
		return vs_error_prefix(err, "attach network");
	}
	return 0;
}

int vs_net_detach(const struct vs_net_node *node, const struct vs_net_config *net,
		  bool keep_standby, struct vs_error *err)
{
	cleanup_ctx struct net_ctx c = {0};
	struct vs_error e = {0};
	int r = 0;

	if (net_ctx_open(&c, node, err) < 0)
		return vs_error_prefix(err, "detach network");
	for (size_t i = 0; i < net->nifaces; i++)
		if (detach_iface(&c, &net->ifaces[i], keep_standby, r < 0 ? &e : err) < 0)
			r = -1;
	return r < 0 ? vs_error_prefix(err, "detach network") : 0;
}
