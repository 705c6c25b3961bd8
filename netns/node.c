/* The node's side of networking that is not one container's: setup at
 * vsd start, checks of a container's interfaces against the node, and the
 * reconciliation after a restart. */
#include "netns/vs_netns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "netns/fw-private.h"
#include "netns/net-private.h"

/* Write a /proc/sys knob of the calling thread's network namespace (the
 * files under /proc/sys/net are those of the opener's namespace). */
static int sysctl_set(const char *path, const char *value, bool optional, struct vs_error *err)
{
	struct vs_error e = {0};

	if (vs_write_string_at(AT_FDCWD, path, value, &e) == 0)
		return 0;
	/* IPv6 may be disabled on the node (no /proc/sys/net/ipv6). */
	if (optional && e.errnum == ENOENT)
		return 0;
	*err = e;
	return -1;
}

/* With forwarding on, the kernel ignores router advertisements on a link
 * whose accept_ra is 1; an uplink configured by SLAAC would lose its
 * address and default route. 2 keeps accepting them. */
static int uplink_accept_ra(const char *uplink, struct vs_error *err)
{
	char path[128], *val = NULL;
	size_t len;
	struct vs_error e = {0};
	int r = 0;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_ra", uplink);
	if (vs_read_file_at(AT_FDCWD, path, 16, &val, &len, &e) < 0)
		return 0;
	if (val[0] == '1')
		r = sysctl_set(path, "2", false, err);
	free(val);
	return r;
}

static int node_sysctls(const struct vs_net_node *node, struct vs_error *err)
{
	char path[128];

	if (sysctl_set("/proc/sys/net/ipv4/ip_forward", "1", false, err) < 0)
		return -1;
	if (node->uplink[0] != '\0' && uplink_accept_ra(node->uplink, err) < 0)
		return -1;
	if (sysctl_set("/proc/sys/net/ipv6/conf/all/forwarding", "1", true, err) < 0)
		return -1;
	if (node->uplink[0] == '\0')
		return 0;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/proxy_ndp", node->uplink);
	return sysctl_set(path, "1", true, err);
}

/* The gateway of a pool on vsd's own bridge: the configured one, or the
 * network's first host address. */
static struct vs_ip pool_gateway(const struct vs_net_pool *p)
{
	struct vs_ip gw = p->gateway;
	int i = p->net.family == AF_INET ? 3 : 15;

	if (gw.family != 0)
		return gw;
	gw = p->net;
	while (i >= 0 && ++gw.addr[i] == 0)
		i--;
	return gw;
}

/* A locally administered unicast MAC of the node's bridge, the same for
 * the same instance and bridge name (FNV-1a over both, two seeds). */
static void bridge_mac(const struct vs_net_node *node, uint8_t mac[6])
{
	uint32_t h[2] = {2166136261u, 2166136261u ^ 0x5bd1e995u};

	for (int k = 0; k < 2; k++) {
		for (const char *p = node->id; *p; p++)
			h[k] = (h[k] ^ (uint8_t)*p) * 16777619u;
		h[k] = (h[k] ^ '/') * 16777619u;
		for (const char *p = node->bridge; *p; p++)
			h[k] = (h[k] ^ (uint8_t)*p) * 16777619u;
	}
	mac[0] = 0x02;
	mac[1] = (uint8_t)(h[0] >> 24), mac[2] = (uint8_t)(h[0] >> 16);
	mac[3] = (uint8_t)(h[0] >> 8), mac[4] = (uint8_t)h[0], mac[5] = (uint8_t)h[1];
}

/* vsd's own bridge: made when missing, with a MAC of its own, up, with
 * its pools' gateways. Without a MAC set, a Linux bridge takes the lowest
 * of its ports' addresses, so every container that comes or goes could
 * change the gateway's MAC under the others and make the kernel flush the
 * node's neighbour entries on the bridge (CI met an announced address's
 * entry gone that way). A bridge the operator made is left as it is. */
static int own_bridge(struct net_ctx *c, struct vs_error *err)
{
	const struct vs_net_node *node = c->node;
	struct vs_nl_link l;
	uint8_t mac[6];
	int r = vs_nl_link_get(&c->nl, node->bridge, &l, err);

	if (r == 0) {
		bridge_mac(node, mac);
		if (vs_nl_link_create(&c->nl, node->bridge, "bridge", err) < 0 ||
		    (r = vs_nl_link_get(&c->nl, node->bridge, &l, err)) == 0)
			return vs_error_set(err, ENODEV, "bridge %s vanished", node->bridge);
		if (r > 0 && vs_nl_link_set_mac(&c->nl, l.index, mac, err) < 0)
			return vs_error_prefix(err, "bridge %s", node->bridge);
	}
	if (r < 0)
		return -1;
	if (strcmp(l.kind, "bridge") != 0)
		return vs_error_kind(err, VS_EK_INVALID, "--bridge: %s is not a bridge",
				     node->bridge);
	if (vs_nl_link_set_up(&c->nl, l.index, true, "RTM_NEWLINK bridge up", err) < 0)
		return -1;
	for (size_t i = 0; i < node->npools; i++) {
		const struct vs_net_pool *p = &node->pools[i];
		struct vs_ip gw = pool_gateway(p);

		if (strcmp(p->network, node->bridge) != 0)
			continue;
		if (vs_nl_addr(&c->nl, true, l.index, &gw, p->net.prefix, RT_SCOPE_UNIVERSE, err) <
		    0)
			return -1;
	}
	return 0;
}

int vs_net_node_setup(const struct vs_net_node *node, struct vs_error *err)
{
	cleanup_ctx struct net_ctx c = {0};

	if (net_ctx_open(&c, node, err) < 0)
		return vs_error_prefix(err, "node network setup");
	if (net_uplink(&c, err) < 0)
		return vs_error_prefix(err, "--uplink");
	if ((node->bridge[0] != '\0' && own_bridge(&c, err) < 0) || node_sysctls(node, err) < 0 ||
	    fw_node_setup(node, err) < 0)
		return vs_error_prefix(err, "node network setup");
	return 0;
}

int vs_net_check(const struct vs_net_node *node, const struct vs_net_config *net,
		 struct vs_error *err)
{
	cleanup_nl struct vs_nl nl = {0};
	struct vs_nl_link l;

	for (size_t i = 0; i < net->nifaces; i++) {
		const struct vs_net_iface *ifc = &net->ifaces[i];
		int r;

		if (ifc->model != VS_NET_BRIDGED || strcmp(ifc->bridge, node->bridge) == 0)
			continue;
		if (nl.sock == NULL && vs_nl_open(&nl, err) < 0)
			return vs_error_prefix(err, "check network");
		if ((r = vs_nl_link_get(&nl, ifc->bridge, &l, err)) < 0)
			return vs_error_prefix(err, "check network");
		if (r == 0 || strcmp(l.kind, "bridge") != 0)
			return vs_error_kind(
			    err, VS_EK_INVALID,
			    "net.interfaces[%zu].bridge: no bridge '%s' on this node", i,
			    ifc->bridge);
	}
	return 0;
}

struct leftovers {
	const struct vs_net_node *node;
	const struct vs_net_config *const *keep;
	size_t nkeep;
	char (*names)[VS_IFNAME_MAX + 1];
	size_t n, cap;
};

static bool kept_link(const struct leftovers *lo, const char *name)
{
	for (size_t i = 0; i < lo->nkeep; i++)
		for (size_t j = 0; j < lo->keep[i]->nifaces; j++) {
			const struct vs_net_iface *ifc = &lo->keep[i]->ifaces[j];

			if (strcmp(ifc->host_ifname, name) == 0)
				return true;
		}
	return false;
}

/* Collects this instance's links ("vs" + its id, and "vp" + its id: a
 * peer left by a crash before the move) of no kept container; deleting
 * them inside the dump would disturb it. */
static void leftover_cb(const char *name, void *arg)
{
	struct leftovers *lo = arg;
	char prefix[2][8];

	for (int i = 0; i < 2; i++)
		snprintf(prefix[i], sizeof(prefix[i]), "v%c%s", "sp"[i], lo -> node -> id);
	for (int i = 0; i < 2; i++) {
		if (strncmp(name, prefix[i], strlen(prefix[i])) != 0 ||
		    strcmp(name, lo->node->bridge) == 0 || kept_link(lo, name))
			continue;
		if (lo->n < lo->cap)
			snprintf(lo->names[lo->n++], VS_IFNAME_MAX + 1, "%s", name);
		return;
	}
}

/* ip is an address of a running (or suspended) container. */
static bool kept_addr(const struct vs_net_config *const *keep, size_t nkeep, const struct vs_ip *ip)
{
	for (size_t i = 0; i < nkeep; i++)
		for (size_t j = 0; j < keep[i]->nifaces; j++)
			for (size_t k = 0; k < keep[i]->ifaces[j].naddrs; k++) {
				const struct vs_ip *a = &keep[i]->ifaces[j].addrs[k];

				if (a->family == ip->family &&
				    memcmp(a->addr, ip->addr, ip->family == AF_INET ? 4 : 16) == 0)
					return true;
			}
	return false;
}

/* vsd's routes and proxy entries (marked VS_RTPROT) whose address no
 * running or suspended container holds: leftovers of containers that
 * stopped, or were destroyed, while vsd was away or failed to clean up. */
struct orphans {
	const struct vs_net_config *const *keep;
	size_t nkeep;
	struct vs_ip ip[256];
	int proxy_if[256]; /* link of a proxy entry, 0: a route */
	size_t n;
};

static void orphan_cb(const struct vs_ip *ip, bool proxy, int ifindex, void *arg)
{
	struct orphans *o = arg;

	if (kept_addr(o->keep, o->nkeep, ip) || o->n >= VS_ARRAY_SIZE(o->ip))
		return;
	o->ip[o->n] = *ip;
	o->proxy_if[o->n++] = proxy ? ifindex : 0;
}

static int reconcile_addrs(struct net_ctx *c, const struct vs_net_config *const *running,
			   size_t nrunning, struct vs_error *err)
{
	struct orphans *o = xcalloc(1, sizeof(*o));
	struct vs_error e = {0};
	int r = 0;

	o->keep = running, o->nkeep = nrunning;
	if (vs_nl_vsd_each(&c->nl, orphan_cb, o, err) < 0)
		r = -1;
	for (size_t i = 0; i < o->n; i++) {
		if (o->proxy_if[i] > 0
			? vs_nl_proxy(&c->nl, false, o->proxy_if[i], &o->ip[i], r < 0 ? &e : err)
			: net_node_addr(c, false, 0, NULL, &o->ip[i], false, r < 0 ? &e : err))
			r = -1;
	}
	free(o);
	return r;
}

int vs_net_reconcile(const struct vs_net_node *node, const struct vs_net_config *const *running,
		     size_t nrunning, struct vs_error *err)
{
	cleanup_ctx struct net_ctx c = {0};
	struct leftovers lo = {node, running, nrunning, NULL, 0, 4096};
	cleanup_free const char **keep = xcalloc(nrunning * VS_NET_IFACES_MAX + 1, sizeof(*keep));
	cleanup_free bool *old = NULL;
	size_t nkeep = 0;
	struct vs_error e = {0};
	int r = 0;

	if (net_ctx_open(&c, node, err) < 0)
		return vs_error_prefix(err, "reconcile network");
	lo.names = xcalloc(lo.cap, sizeof(*lo.names));
	if (vs_nl_link_each(&c.nl, leftover_cb, &lo, err) < 0)
		r = -1;
	for (size_t i = 0; i < lo.n; i++)
		if (vs_nl_link_del(&c.nl, lo.names[i], r < 0 ? &e : err) < 0)
			r = -1;
	free(lo.names);
	for (size_t i = 0; i < nrunning; i++)
		for (size_t j = 0; j < running[i]->nifaces; j++)
			keep[nkeep++] = running[i]->ifaces[j].host_ifname;
	old = xcalloc(nkeep + 1, sizeof(*old));
	if (fw_reconcile(node, keep, nkeep, old, r < 0 ? &e : err) < 0)
		r = -1;
	/* A running container's chain an older vsd made in the instance's
	 * table is rebuilt in its own, where live changes look for it. */
	for (size_t i = 0, k = 0; i < nrunning; i++)
		for (size_t j = 0; j < running[i]->nifaces; j++, k++)
			if (old[k] &&
			    (fw_iface_add(node, &running[i]->ifaces[j], r < 0 ? &e : err) < 0 ||
			     shape_iface(&c, &running[i]->shaping, &running[i]->ifaces[j],
					 r < 0 ? &e : err) < 0))
				r = -1;
	if (reconcile_addrs(&c, running, nrunning, r < 0 ? &e : err) < 0)
		r = -1;
	return r < 0 ? vs_error_prefix(err, "reconcile network") : 0;
}
