/* Changes to a container that is already wired: after a restore, live
 * address and shaping changes, and its counters. */
#include "netns/vs_netns.h"

#include <errno.h>
#include <linux/if_bridge.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "netns/fw-private.h"
#include "netns/net-private.h"

int vs_net_restored(const struct vs_net_node *node, const struct vs_net_config *net, int netns_fd,
		    struct vs_error *err)
{
	cleanup_ctx struct net_ctx c = {0};
	uint8_t host_mac[6];

	if (net_ctx_open(&c, node, err) < 0)
		return vs_error_prefix(err, "restore network");
	for (size_t i = 0; i < net->nifaces; i++) {
		const struct vs_net_iface *ifc = &net->ifaces[i];

		/* The qdiscs died with the old node side; the firewall
		 * chains are rebuilt for the new one, before it comes up:
		 * the restored tasks already run. */
		/* The image may predate a live change of the addresses: the
		 * inside gets the configured ones again (added, never removed:
		 * an address the config dropped passes no firewall). CRIU
		 * made a new node side, with a MAC of its own: the inside's
		 * gateway entry is replaced with it. */
		if (fw_iface_add(node, ifc, err) < 0 ||
		    shape_iface(&c, &net->shaping, ifc, err) < 0 ||
		    node_side(&c, ifc, host_mac, err) < 0 ||
		    inside_setup(netns_fd, ifc, i, host_mac, err) < 0)
			return vs_error_prefix(err, "restore network: interface %s (%s)", ifc->name,
					       ifc->host_ifname);
	}
	return 0;
}

/* Inside: ip on interface n, with its default route (the first address of
 * a family brings the family's default route), or ip gone. */
static int inside_addr(const struct vs_net_config *net, size_t n, const struct vs_ip *ip, bool add,
		       const uint8_t *gw_mac, int netns_fd, struct vs_error *err)
{
	const struct vs_net_iface *ifc = &net->ifaces[n];
	cleanup_nl struct vs_nl nl = {0};
	int idx;

	if (vs_nl_open_in(&nl, netns_fd, err) < 0)
		return -1;
	if ((idx = vs_nl_link_index(&nl, ifc->name, err)) <= 0)
		return idx == 0 && add ? vs_error_set(err, ENODEV, "no link %s", ifc->name) : idx;
	if (vs_nl_addr(&nl, add, idx, ip, inside_prefix(ifc, ip), RT_SCOPE_UNIVERSE, err) < 0)
		return -1;
	return add ? inside_default(&nl, ifc, n, idx, ip->family, gw_mac, err) : 0;
}

/* Best effort removal of ip from interface n, inside and on the node. */
static int addr_del(struct net_ctx *c, const struct vs_net_config *net, size_t n,
		    const struct vs_ip *ip, int netns_fd, struct vs_error *err)
{
	const struct vs_net_iface *ifc = &net->ifaces[n];
	struct vs_error e = {0};
	int r = 0, host;

	if (inside_addr(net, n, ip, false, NULL, netns_fd, err) < 0)
		r = -1;
	if (ifc->model == VS_NET_ROUTED) {
		host = vs_nl_link_index(&c->nl, ifc->host_ifname, &e);
		if (net_node_addr(c, false, host > 0 ? host : 0, NULL, ip, false,
				  r < 0 ? &e : err) < 0)
			r = -1;
	}
	if (fw_iface_addr(c->node, ifc->host_ifname, ip, false, r < 0 ? &e : err) < 0)
		r = -1;
	return r;
}

/* The steps of an add: node (routed: routes, the neighbour entry, proxy
 * entries), firewall set, inside. */
static int addr_add(struct net_ctx *c, const struct vs_net_config *net, size_t n,
		    const struct vs_ip *ip, int netns_fd, struct vs_error *err)
{
	const struct vs_net_iface *ifc = &net->ifaces[n];
	struct vs_nl_link host = {0};
	int r;

	if (ifc->model == VS_NET_ROUTED) {
		if ((r = vs_nl_link_get(&c->nl, ifc->host_ifname, &host, err)) <= 0)
			return r == 0 ? vs_error_set(err, ENODEV, "no link %s", ifc->host_ifname)
				      : -1;
		if (net_node_addr(c, true, host.index, ifc->mac, ip, false, err) < 0)
			return -1;
	}
	if (fw_iface_addr(c->node, ifc->host_ifname, ip, true, err) < 0)
		return -1;
	return inside_addr(net, n, ip, true, ifc->model == VS_NET_ROUTED ? host.mac : NULL,
			   netns_fd, err);
}

int vs_net_addr_add(const struct vs_net_node *node, const struct vs_net_config *net, size_t iface,
		    const struct vs_ip *ip, int netns_fd, struct vs_error *err)
{
	cleanup_ctx struct net_ctx c = {0};
	struct vs_error ignored = {0};
	char s[VS_IP_STRLEN];

	if (iface >= net->nifaces)
		return vs_error_kind(err, VS_EK_INVALID, "add address: no interface %zu", iface);
	if (net_ctx_open(&c, node, err) < 0)
		return vs_error_prefix(err, "add address %s", vs_nl_ipstr(ip, s));
	if (addr_add(&c, net, iface, ip, netns_fd, err) == 0)
		return 0;
	/* A failed add leaves nothing behind. */
	addr_del(&c, net, iface, ip, netns_fd, &ignored);
	return vs_error_prefix(err, "add address %s to %s", vs_nl_ipstr(ip, s),
			       net->ifaces[iface].name);
}

int vs_net_addr_del(const struct vs_net_node *node, const struct vs_net_config *net, size_t iface,
		    const struct vs_ip *ip, int netns_fd, struct vs_error *err)
{
	cleanup_ctx struct net_ctx c = {0};
	char s[VS_IP_STRLEN];

	if (iface >= net->nifaces)
		return vs_error_kind(err, VS_EK_INVALID, "remove address: no interface %zu", iface);
	if (net_ctx_open(&c, node, err) < 0 || addr_del(&c, net, iface, ip, netns_fd, err) < 0)
		return vs_error_prefix(err, "remove address %s from %s", vs_nl_ipstr(ip, s),
				       net->ifaces[iface].name);
	return 0;
}

int vs_net_shaping_apply(const struct vs_net_node *node, const struct vs_net_config *net,
			 struct vs_error *err)
{
	cleanup_ctx struct net_ctx c = {0};

	if (net_ctx_open(&c, node, err) < 0)
		return vs_error_prefix(err, "apply shaping");
	for (size_t i = 0; i < net->nifaces; i++)
		if (shape_iface(&c, &net->shaping, &net->ifaces[i], err) < 0)
			return vs_error_prefix(err, "apply shaping to %s", net->ifaces[i].name);
	return 0;
}

/* Drops of the qdiscs on link name (0 when it or they are absent). */
static int qdisc_drops(struct vs_nl *nl, const char *name, uint64_t *drops, struct vs_error *err)
{
	struct vs_nl_qdiscs q;
	int idx = vs_nl_link_index(nl, name, err);

	*drops = 0;
	if (idx <= 0)
		return idx;
	if (vs_nl_qdiscs(nl, idx, &q, err) < 0)
		return -1;
	*drops = q.drops;
	return 0;
}

/* The link's counters into st; 1, 0 when the link is gone, or -1. */
static int link_traffic(struct vs_nl *nl, const struct vs_net_config *net, size_t iface,
			struct vs_net_ifstats *st, struct vs_error *err)
{
	const struct vs_net_iface *ifc;
	struct vs_nl_link l;
	int r;

	memset(st, 0, sizeof(*st));
	if (iface >= net->nifaces)
		return vs_error_kind(err, VS_EK_INVALID, "stats: no interface %zu", iface);
	ifc = &net->ifaces[iface];
	if (vs_nl_open(nl, err) < 0 || (r = vs_nl_link_get(nl, ifc->host_ifname, &l, err)) < 0)
		return vs_error_prefix(err, "network stats of %s", ifc->name);
	if (r == 0)
		return 0;
	/* The node side receives what the container sends. */
	st->egress_bytes = l.stats.rx_bytes;
	st->egress_packets = l.stats.rx_packets;
	st->ingress_bytes = l.stats.tx_bytes;
	st->ingress_packets = l.stats.tx_packets;
	return 1;
}

int vs_net_traffic(const struct vs_net_config *net, size_t iface, struct vs_net_ifstats *st,
		   struct vs_error *err)
{
	cleanup_nl struct vs_nl nl = {0};

	return link_traffic(&nl, net, iface, st, err) < 0 ? -1 : 0;
}

int vs_net_stats(const struct vs_net_node *node, const struct vs_net_config *net, size_t iface,
		 struct vs_net_ifstats *st, struct vs_error *err)
{
	cleanup_nl struct vs_nl nl = {0};
	const struct vs_net_iface *ifc;
	uint64_t in_drops;
	int r = link_traffic(&nl, net, iface, st, err);

	if (r <= 0)
		return r;
	ifc = &net->ifaces[iface];
	if (qdisc_drops(&nl, ifc->host_ifname, &in_drops, err) < 0)
		return vs_error_prefix(err, "network stats of %s", ifc->name);
	/* Policing and anti-spoofing drops share the chain's counter. */
	st->egress_drops = fw_iface_drops(node, ifc->host_ifname);
	st->ingress_drops = in_drops;
	return 0;
}

/* Cut one interface off while its container is dumped, without touching
 * its link or carrier (CRIU dumps the inside's routes with their flags,
 * and restores none marked LINKDOWN): the firewall chain keeps only the
 * MAC (no address: no IP leaves the container), routed addresses lose
 * their host routes (the standby routes answer), a bridged port stops
 * forwarding. */
static int quiesce_iface(struct net_ctx *c, const struct vs_net_iface *ifc, int idx,
			 struct vs_error *err)
{
	struct vs_net_iface mute = *ifc;

	mute.naddrs = 0;
	if (fw_iface_add(c->node, &mute, err) < 0)
		return -1;
	if (ifc->model == VS_NET_BRIDGED) {
		struct vs_error e = {0};
		/* A bridge running STP owns its port states: the muted chain
		 * then has to do (inbound frames may still reach the
		 * container). */
		if (vs_nl_brport_state(&c->nl, idx, BR_STATE_DISABLED, &e) < 0)
			fprintf(stderr, "vsd: quiesce %s: %s\n", ifc->host_ifname, e.msg);
		return 0;
	}
	for (size_t i = 0; i < ifc->naddrs; i++) {
		struct vs_nl_route host = net_host_route(&ifc->addrs[i], idx);
		struct vs_error e = {0};
		if (vs_nl_route(&c->nl, false, &host, &e) < 0 && e.errnum != ESRCH) {
			*err = e;
			return -1;
		}
	}
	return 0;
}

int vs_net_quiesce(const struct vs_net_node *node, const struct vs_net_config *net,
		   struct vs_error *err)
{
	cleanup_ctx struct net_ctx c = {0};

	if (net_ctx_open(&c, node, err) < 0)
		return vs_error_prefix(err, "quiesce network");
	for (size_t i = 0; i < net->nifaces; i++) {
		const char *host = net->ifaces[i].host_ifname;
		int idx = vs_nl_link_index(&c.nl, host, err);
		if (idx < 0)
			return vs_error_prefix(err, "quiesce network: %s", host);
		/* Gone already (a dead container): nothing can pass it. */
		if (idx > 0 && quiesce_iface(&c, &net->ifaces[i], idx, err) < 0)
			return vs_error_prefix(err, "quiesce network: %s", host);
	}
	return 0;
}
