/* The daemon's side of networking: the node's options (--uplink,
 * --ip-pool, ...), its setup at start, the names, MACs and addresses a
 * create hands out (under d->mutate, checked against every container's
 * config.json, which is where allocations persist), live network changes,
 * and reconciliation after a restart. The kernel work is netns/'s. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "lib/vs_trace.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

/* ---- options ----------------------------------------------------------- */

/* --ip-pool NETWORK=CIDR[@GATEWAY]; NETWORK "bridged" means vsd's own
 * bridge (named once all options are read). */
static int parse_pool(struct vsd *d, const char *arg, struct vs_error *err)
{
	struct vs_net_node *n = &d->net;
	struct vs_net_pool *p;
	const char *eq = strchr(arg, '=');
	char cidr[VS_IP_STRLEN], *at;

	if (n->npools >= VS_NET_POOLS_MAX)
		return vs_error_kind(err, VS_EK_INVALID, "--ip-pool: at most %d pools",
				     VS_NET_POOLS_MAX);
	if (eq == NULL || eq == arg || (size_t)(eq - arg) > VS_IFNAME_MAX)
		return vs_error_kind(err, VS_EK_INVALID,
				     "--ip-pool: '%s': expected NETWORK=CIDR[@GATEWAY] with "
				     "NETWORK 'routed', 'bridged' or a bridge name",
				     arg);
	p = &n->pools[n->npools];
	memset(p, 0, sizeof(*p));
	memcpy(p->network, arg, (size_t)(eq - arg));
	if (strcmp(p->network, "routed") != 0 && strcmp(p->network, "bridged") != 0 &&
	    vs_validate_ifname(p->network, "--ip-pool: network", err) < 0)
		return -1;
	snprintf(cidr, sizeof(cidr), "%s", eq + 1);
	at = strchr(cidr, '@');
	if (at != NULL)
		*at++ = '\0';
	if (vs_parse_cidr(cidr, "--ip-pool", &p->net, err) < 0)
		return -1;
	if (at != NULL) {
		if (vs_parse_ip(at, "--ip-pool: gateway", true, &p->gateway, err) < 0)
			return -1;
		if (!vs_ip_in_net(&p->gateway, &p->net))
			return vs_error_kind(err, VS_EK_INVALID,
					     "--ip-pool: gateway %s is outside %s", at, cidr);
		p->gateway.prefix = p->net.prefix;
	}
	n->npools++;
	return 0;
}

int vsd_net_option(struct vsd *d, int opt, const char *arg, struct vs_error *err)
{
	struct vs_net_node *n = &d->net;

	d->net_configured = true;
	switch (opt) {
	case VSD_OPT_UPLINK:
		if (vs_validate_ifname(arg, "--uplink", err) < 0)
			return -1;
		snprintf(n->uplink, sizeof(n->uplink), "%s", arg);
		return 0;
	case VSD_OPT_BRIDGE:
		if (vs_validate_ifname(arg, "--bridge", err) < 0)
			return -1;
		snprintf(n->bridge, sizeof(n->bridge), "%s", arg);
		return 0;
	case VSD_OPT_IP_POOL:
		return parse_pool(d, arg, err);
	case VSD_OPT_PRIVATE_BRIDGE:
		if (vs_validate_ifname(arg, "--private-bridge", err) < 0)
			return -1;
		if (n->nprivate >= VS_NET_POOLS_MAX)
			return vs_error_kind(err, VS_EK_INVALID, "--private-bridge: at most %d",
					     VS_NET_POOLS_MAX);
		snprintf(n->private_bridges[n->nprivate++], VS_IFNAME_MAX + 1, "%s", arg);
		return 0;
	case VSD_OPT_NAT:
		if (n->nnat >= VS_NET_POOLS_MAX)
			return vs_error_kind(err, VS_EK_INVALID, "--nat: at most %d ranges",
					     VS_NET_POOLS_MAX);
		return vs_parse_cidr(arg, "--nat", &n->nat[n->nnat++], err);
	case VSD_OPT_NAMESERVER:
		if (d->nnameservers >= VS_NET_NAMESERVERS_MAX)
			return vs_error_kind(err, VS_EK_INVALID, "--nameserver: at most %d",
					     VS_NET_NAMESERVERS_MAX);
		return vs_parse_ip(arg, "--nameserver", true, &d->nameservers[d->nnameservers++],
				   err);
	default:
		return vs_error_kind(err, VS_EK_INVALID, "unknown network option");
	}
}

/* The address after ip (same family), false past the end of the space. */
static bool ip_next(struct vs_ip *ip)
{
	int len = ip->family == AF_INET ? 4 : 16;

	for (int i = len - 1; i >= 0; i--)
		if (++ip->addr[i] != 0)
			return true;
	return false;
}

/* The first host address of a pool: its gateway when none was named. */
static void pool_first_host(const struct vs_net_pool *p, struct vs_ip *ip)
{
	*ip = p->net;
	ip_next(ip);
	ip->prefix = p->net.prefix;
}

int vsd_net_init(struct vsd *d, struct vs_error *err)
{
	struct vs_net_node *n = &d->net;

	vs_net_node_set_id(n, vsd_fnv1a(d->root));
	for (size_t i = 0; i < n->npools; i++) {
		struct vs_net_pool *p = &n->pools[i];
		if (strcmp(p->network, "bridged") == 0)
			snprintf(p->network, sizeof(p->network), "%s", n->bridge);
		/* A bridged pool's containers need a gateway; on vsd's own
		 * bridge vsd holds it. */
		if (strcmp(p->network, "routed") != 0 && p->gateway.family == 0)
			pool_first_host(p, &p->gateway);
	}
	d->inst.net = n;
	/* Without options vsd changes nothing in the node's namespace (no
	 * bridge, no sysctls); routed interfaces still work there. */
	if (!d->net_configured)
		return 0;
	if (vs_net_node_setup(n, err) < 0)
		return vs_error_prefix(err, "node network");
	return 0;
}

/* ---- what containers hold ------------------------------------------- */

/* Every address, MAC and node-side name of the containers other than
 * `except`: the index's claims table (store.h), brought up to date from
 * the containers directory. The config files are the allocation record: a
 * create writes config.json (atomically) before anything else can see the
 * address, and the next sync reads it. */
struct used {
	struct vsd_claims *cl, *tmp;
	const char *except;
};

static void used_free(struct used *u)
{
	vsd_claims_free(u->tmp);
}
#define cleanup_used __attribute__((cleanup(used_free)))

static int used_load(struct vsd *d, const char *except, struct used *u, struct vs_error *err)
{
	u->cl = vsd_index_claims(d->index, &u->tmp);
	u->except = except;
	if (vsd_claims_sync(u->cl, d->index, d->containers_fd, err) < 0)
		return -1;
	/* An unreadable config may hold addresses: refuse rather than hand
	 * them out twice. */
	if (vsd_claims_readable(u->cl, except, err) < 0)
		return vs_error_prefix(err, "addresses in use");
	return 0;
}

/* ip is an address of the node itself (any of its links): one route
 * lookup, where listing the node's addresses grew with every container's
 * veth. A lookup that fails counts as not local, as a failed listing did. */
static bool node_local(const struct vs_ip *ip)
{
	struct vs_error e = {0};
	char s[VS_IP_STRLEN];
	bool local;

	if (vs_net_ip_local(ip, &local, &e) < 0) {
		vs_format_ip(ip, false, s, sizeof(s));
		vsd_log("is %s an address of this node: %s", s, e.msg);
		return false;
	}
	return local;
}

/* ---- create ------------------------------------------------------------ */

/* The address is taken: by another container, by this config, or it is a
 * pool's gateway. The message names path. */
static int check_free(struct vsd *d, const struct used *u, const struct vs_net_config *net,
		      const struct vs_ip *ip, const char *path, struct vs_error *err)
{
	char s[VS_IP_STRLEN], owner[VS_NAME_MAX + 1];
	bool gateway;
	size_t seen = 0;

	vs_format_ip(ip, false, s, sizeof(s));
	if (vsd_claims_ip(u->cl, ip, u->except, owner, &gateway))
		return vs_error_kind(err, VS_EK_CONFLICT, "%s: %s is already %s container '%s'",
				     path, s, gateway ? "the gateway of" : "used by", owner);
	/* A node's own address routed to a container would take it over. */
	if (node_local(ip))
		return vs_error_kind(err, VS_EK_CONFLICT, "%s: %s is an address of this node", path,
				     s);
	for (size_t i = 0; i < d->net.npools; i++)
		if (vs_ip_equal(&d->net.pools[i].gateway, ip))
			return vs_error_kind(err, VS_EK_CONFLICT,
					     "%s: %s is the gateway of network '%s'", path, s,
					     d->net.pools[i].network);
	for (size_t i = 0; i < net->nifaces; i++)
		for (size_t j = 0; j < net->ifaces[i].naddrs; j++)
			seen += vs_ip_equal(&net->ifaces[i].addrs[j], ip);
	if (seen > 1)
		return vs_error_kind(err, VS_EK_INVALID, "%s: %s is given twice", path, s);
	return 0;
}

static const char *iface_network(const struct vs_net_iface *ifc)
{
	return ifc->model == VS_NET_ROUTED ? "routed" : ifc->bridge;
}

/* The first free address of pool p into *ip (routed: host-sized). */
static int pool_take(struct vsd *d, const struct used *u, const struct vs_net_config *net,
		     const struct vs_net_pool *p, bool routed, struct vs_ip *ip,
		     struct vs_error *err)
{
	struct vs_ip cand;
	char s[VS_IP_STRLEN];
	int bits = p->net.family == AF_INET ? 32 : 128;

	pool_first_host(p, &cand);
	for (unsigned tries = 0; tries < 1u << 16; tries++) {
		struct vs_ip next = cand;
		bool last = !ip_next(&next) || !vs_ip_in_net(&next, &p->net);
		struct vs_error e = {0};
		/* The IPv4 broadcast address of a LAN is nobody's. */
		if (last && p->net.family == AF_INET && p->net.prefix < 31)
			break;
		cand.prefix = routed ? (uint8_t)bits : p->net.prefix;
		if (!vs_ip_equal(&cand, &p->gateway) &&
		    check_free(d, u, net, &cand, "pool", &e) == 0) {
			*ip = cand;
			return 0;
		}
		if (last)
			break;
		cand = next;
	}
	vs_format_ip(&p->net, true, s, sizeof(s));
	return vs_error_kind(err, VS_EK_CONFLICT, "address pool %s of network '%s' is exhausted", s,
			     p->network);
}

/* An interface without addresses gets one from each pool of its network. */
static int allocate(struct vsd *d, const struct used *u, struct vs_net_config *net, size_t i,
		    struct vs_error *err)
{
	struct vs_net_iface *ifc = &net->ifaces[i];
	const char *network = iface_network(ifc);

	for (size_t k = 0; k < d->net.npools; k++) {
		const struct vs_net_pool *p = &d->net.pools[k];
		struct vs_ip ip;
		if (strcmp(p->network, network) != 0 || ifc->naddrs >= VS_NET_ADDRS_MAX)
			continue;
		if (pool_take(d, u, net, p, ifc->model == VS_NET_ROUTED, &ip, err) < 0)
			return vs_error_prefix(err, "net.interfaces[%zu]", i);
		ifc->addrs[ifc->naddrs++] = ip;
	}
	if (ifc->naddrs == 0)
		return vs_error_kind(err, VS_EK_INVALID,
				     "net.interfaces[%zu]: no addresses given and network '%s' has "
				     "no address pool (vsd --ip-pool %s=CIDR)",
				     i, network, ifc->model == VS_NET_ROUTED ? "routed" : network);
	return 0;
}

/* Bridged interfaces without a gateway take their pool's. */
static void default_gateways(struct vsd *d, struct vs_net_iface *ifc)
{
	if (ifc->model != VS_NET_BRIDGED)
		return;
	for (size_t k = 0; k < d->net.npools; k++) {
		const struct vs_net_pool *p = &d->net.pools[k];
		struct vs_ip *gw = p->net.family == AF_INET ? &ifc->gateway4 : &ifc->gateway6;
		if (strcmp(p->network, ifc->bridge) != 0 || gw->family != 0)
			continue;
		for (size_t j = 0; j < ifc->naddrs; j++)
			if (vs_ip_in_net(&ifc->addrs[j], &p->net)) {
				*gw = p->gateway;
				break;
			}
	}
}

static bool mac_used(const struct used *u, const struct vs_net_config *net, size_t upto,
		     const uint8_t mac[6])
{
	if (vsd_claims_mac(u->cl, mac, u->except))
		return true;
	for (size_t i = 0; i < upto; i++)
		if (memcmp(net->ifaces[i].mac, mac, 6) == 0)
			return true;
	return false;
}

static bool ifname_used(const struct used *u, const char *name)
{
	return vsd_claims_ifname(u->cl, name, u->except);
}

/* Node-side names and a MAC for interface i (a MAC the user gave is kept
 * if no other interface has it). */
static int name_iface(struct vsd *d, const struct used *u, struct vs_net_config *net, size_t i,
		      uint32_t rnd, struct vs_error *err)
{
	struct vs_net_iface *ifc = &net->ifaces[i];
	static const uint8_t zero[6];
	bool given = memcmp(ifc->mac, zero, 6) != 0;

	if (given && mac_used(u, net, i, ifc->mac)) {
		char m[18];
		vs_format_mac(ifc->mac, m, sizeof(m));
		return vs_error_kind(err, VS_EK_CONFLICT, "net.interfaces[%zu].mac: %s is in use",
				     i, m);
	}
	for (int tries = 0; !given && tries < 64; tries++) {
		if (getrandom(ifc->mac, 6, 0) != 6)
			return vs_error_set(err, errno, "getrandom");
		/* Locally administered, unicast. */
		ifc->mac[0] = (uint8_t)((ifc->mac[0] & 0xfc) | 0x02);
		if (!mac_used(u, net, i, ifc->mac))
			break;
	}
	vs_net_iface_names(&d->net, rnd, i, ifc);
	if (ifname_used(u, ifc->host_ifname))
		return vs_error_kind(err, VS_EK_CONFLICT, "interface name %s is taken; try again",
				     ifc->host_ifname);
	if (ifc->model == VS_NET_BRIDGED && ifc->bridge[0] == '\0')
		snprintf(ifc->bridge, sizeof(ifc->bridge), "%s", d->net.bridge);
	return 0;
}

/* Check and complete net: names, MACs, bridges, addresses (taken from
 * the pools when none are named), gateways, nameservers. except: the
 * container's own name (an update), else NULL. */
static int complete_net(struct vsd *d, const char *except, struct vs_net_config *net,
			struct vs_error *err)
{
	cleanup_used struct used u = {0};
	uint32_t rnd;

	if (net->nifaces == 0)
		return 0;
	if (used_load(d, except, &u, err) < 0)
		return -1;
	for (int tries = 0;; tries++) {
		if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return vs_error_set(err, errno, "getrandom");
		vs_net_iface_names(&d->net, rnd, 0, &net->ifaces[0]);
		if (!ifname_used(&u, net->ifaces[0].host_ifname) || tries > 16)
			break;
	}
	for (size_t i = 0; i < net->nifaces; i++) {
		struct vs_net_iface *ifc = &net->ifaces[i];
		if (name_iface(d, &u, net, i, rnd, err) < 0)
			return -1;
		for (size_t j = 0; j < ifc->naddrs; j++) {
			char path[96];
			snprintf(path, sizeof(path), "net.interfaces[%zu].addresses[%zu]", i, j);
			if (check_free(d, &u, net, &ifc->addrs[j], path, err) < 0)
				return -1;
		}
		if (ifc->naddrs == 0 && allocate(d, &u, net, i, err) < 0)
			return -1;
		default_gateways(d, ifc);
	}
	if (net->nnameservers == 0) {
		memcpy(net->nameservers, d->nameservers, sizeof(net->nameservers));
		net->nnameservers = d->nnameservers;
	}
	return vs_net_check(&d->net, net, err);
}

int vsd_net_prepare_create(struct vsd *d, struct vs_container_config *cfg, struct vs_error *err)
{
	return complete_net(d, NULL, &cfg->net, err);
}

/* ---- live changes ------------------------------------------------------ */

/* Index of the interface that holds ip, or -1. */
static int iface_of(const struct vs_net_config *net, const struct vs_ip *ip, size_t *addr)
{
	for (size_t i = 0; i < net->nifaces; i++)
		for (size_t j = 0; j < net->ifaces[i].naddrs; j++)
			if (vs_ip_equal(&net->ifaces[i].addrs[j], ip)) {
				*addr = j;
				return (int)i;
			}
	return -1;
}

/* Where an added address goes: the named interface, else the first
 * routed one, else the first bridged one whose network holds it. */
static int pick_iface(const struct vs_net_config *net, const char *name, struct vs_ip *ip, size_t k,
		      struct vs_error *err)
{
	char s[VS_IP_STRLEN];

	vs_format_ip(ip, false, s, sizeof(s));
	for (size_t i = 0; i < net->nifaces; i++) {
		const struct vs_net_iface *ifc = &net->ifaces[i];
		if (name[0] != '\0' ? strcmp(ifc->name, name) == 0 : ifc->model == VS_NET_ROUTED)
			return (int)i;
		for (size_t j = 0; name[0] == '\0' && j < ifc->naddrs; j++)
			if (ifc->addrs[j].family == ip->family && vs_ip_in_net(ip, &ifc->addrs[j]))
				return (int)i;
	}
	if (name[0] != '\0')
		return vs_error_kind(err, VS_EK_INVALID,
				     "net.add[%zu].interface: no interface '%s'", k, name);
	return vs_error_kind(err, VS_EK_INVALID,
			     "net.add[%zu].address: %s fits no interface (name one with "
			     "ADDR@IFACE)",
			     k, s);
}

/* An added address's prefix: host-sized on a routed interface; on a
 * bridged one the one given, else its LAN's, else /24 or /64. */
static void fit_prefix(const struct vs_net_iface *ifc, struct vs_ip *ip)
{
	if (ifc->model == VS_NET_ROUTED) {
		ip->prefix = ip->family == AF_INET ? 32 : 128;
		return;
	}
	if (ip->prefix != 0)
		return;
	for (size_t j = 0; j < ifc->naddrs; j++)
		if (ifc->addrs[j].family == ip->family && vs_ip_in_net(ip, &ifc->addrs[j])) {
			ip->prefix = ifc->addrs[j].prefix;
			return;
		}
	ip->prefix = ip->family == AF_INET ? 24 : 64;
}

int vsd_net_merge_update(struct vsd *d, const struct vs_container_config *old,
			 struct vs_container_config *new, const struct vs_config_update *u,
			 bool live, struct vs_error *err)
{
	struct vs_net_config *net = &new->net;

	if (u->ifaces_set) {
		if (live)
			return vs_error_kind(err, VS_EK_CONFLICT,
					     "net.interfaces: '%s' is running; replacing its "
					     "interfaces needs a stop (addresses change live with "
					     "net.add and net.remove)",
					     old->name);
		memcpy(net->ifaces, u->ifaces, sizeof(net->ifaces));
		net->nifaces = u->nifaces;
	}
	for (size_t k = 0; k < u->ndel; k++) {
		size_t j;
		int i = iface_of(net, &u->del[k], &j);
		char s[VS_IP_STRLEN];
		if (i < 0) {
			vs_format_ip(&u->del[k], false, s, sizeof(s));
			return vs_error_kind(err, VS_EK_INVALID,
					     "net.remove[%zu]: %s is not one of "
					     "'%s' addresses",
					     k, s, old->name);
		}
		struct vs_net_iface *ifc = &net->ifaces[i];
		memmove(&ifc->addrs[j], &ifc->addrs[j + 1],
			(ifc->naddrs - j - 1) * sizeof(ifc->addrs[0]));
		ifc->naddrs--;
	}
	for (size_t k = 0; k < u->nadd; k++) {
		struct vs_ip ip = u->add[k];
		size_t j;
		int i = pick_iface(net, u->add_iface[k], &ip, k, err);
		if (i < 0)
			return -1;
		if (iface_of(net, &ip, &j) >= 0) {
			char s[VS_IP_STRLEN];
			vs_format_ip(&ip, false, s, sizeof(s));
			return vs_error_kind(
			    err, VS_EK_CONFLICT,
			    "net.add[%zu].address: %s is already an address of '%s'", k, s,
			    old->name);
		}
		if (net->ifaces[i].naddrs >= VS_NET_ADDRS_MAX)
			return vs_error_kind(err, VS_EK_INVALID,
					     "net.add[%zu]: interface %s has "
					     "%d addresses already",
					     k, net->ifaces[i].name, VS_NET_ADDRS_MAX);
		fit_prefix(&net->ifaces[i], &ip);
		net->ifaces[i].addrs[net->ifaces[i].naddrs++] = ip;
	}
	if (u->shaping_set)
		net->shaping = u->shaping;
	if (u->nameservers_set && u->nnameservers == 0) { /* null: the node's */
		memcpy(net->nameservers, d->nameservers, sizeof(net->nameservers));
		net->nnameservers = d->nnameservers;
	} else if (u->nameservers_set) {
		memcpy(net->nameservers, u->nameservers, sizeof(net->nameservers));
		net->nnameservers = u->nnameservers;
	}
	if (u->ifaces_set)
		return complete_net(d, old->name, net, err);
	if (u->nadd > 0) {
		cleanup_used struct used used = {0};
		if (used_load(d, old->name, &used, err) < 0)
			return -1;
		for (size_t k = 0; k < u->nadd; k++) {
			char path[48];
			snprintf(path, sizeof(path), "net.add[%zu].address", k);
			if (check_free(d, &used, net, &u->add[k], path, err) < 0)
				return -1;
		}
	}
	return 0;
}

/* Apply the address lists of `to` where `from` differs: removals first
 * (they cannot fail for want of room), then additions. */
static int apply_addrs(struct vsd *d, const struct vs_net_config *from,
		       const struct vs_net_config *to, int nsfd, struct vs_error *err)
{
	for (size_t i = 0; i < from->nifaces; i++)
		for (size_t j = 0; j < from->ifaces[i].naddrs; j++) {
			size_t k;
			if (iface_of(to, &from->ifaces[i].addrs[j], &k) >= 0)
				continue;
			if (vs_net_addr_del(&d->net, from, i, &from->ifaces[i].addrs[j], nsfd,
					    err) < 0)
				return -1;
		}
	for (size_t i = 0; i < to->nifaces; i++)
		for (size_t j = 0; j < to->ifaces[i].naddrs; j++) {
			size_t k;
			if (iface_of(from, &to->ifaces[i].addrs[j], &k) >= 0)
				continue;
			if (vs_net_addr_add(&d->net, to, i, &to->ifaces[i].addrs[j], nsfd, err) < 0)
				return -1;
		}
	return 0;
}

int vsd_net_apply_live(struct vsd *d, const struct vs_container_config *old,
		       const struct vs_container_config *new, struct vs_error *err)
{
	cleanup_close int nsfd = -1;
	struct vs_error e = {0};

	if (old->net.nifaces == 0 || (memcmp(&old->net, &new->net, sizeof(old->net)) == 0))
		return 0;
	nsfd = vs_rt_netns_open(&d->inst, old->name, err);
	if (nsfd < 0)
		return -1;
	if (apply_addrs(d, &old->net, &new->net, nsfd, err) < 0)
		goto undo;
	if (memcmp(&old->net.shaping, &new->net.shaping, sizeof(old->net.shaping)) != 0 &&
	    vs_net_shaping_apply(&d->net, &new->net, err) < 0)
		goto undo;
	return 0;
undo:
	if (apply_addrs(d, &new->net, &old->net, nsfd, &e) < 0 ||
	    vs_net_shaping_apply(&d->net, &old->net, &e) < 0)
		vsd_log("container %s: undoing a network change failed: %s", old->name, e.msg);
	return -1;
}

void vsd_net_revert_live(struct vsd *d, const struct vs_container_config *old,
			 const struct vs_container_config *new)
{
	struct vs_error e = {0};

	if (vsd_net_apply_live(d, new, old, &e) < 0)
		vsd_log("container %s: undoing a network change failed: %s", old->name, e.msg);
}

/* ---- status, stats, teardown, reconciliation ------------------------- */

void vsd_net_release(struct vsd *d, const struct vs_container_config *cfg)
{
	struct vs_error e = {0};

	if (cfg->net.nifaces > 0 && vs_net_detach(&d->net, &cfg->net, false, &e) < 0)
		vsd_log("container %s: removing its network from the node: %s", cfg->name, e.msg);
}

int vsd_net_reconcile(struct vsd *d, struct vs_error *err)
{
	cleanup_strv char **names = NULL;
	struct vs_container_config *cfgs = NULL;
	const struct vs_net_config **live = NULL;
	size_t n = 0, nlive = 0;
	bool unknown = false;
	int r = 0;

	if (vsd_store_list(d->containers_fd, &names, err) < 0)
		return -1;
	for (size_t i = 0; names[i] != NULL; i++)
		n++;
	cfgs = xcalloc(n + 1, sizeof(*cfgs));
	live = xcalloc(n + 1, sizeof(*live));
	for (size_t i = 0; i < n; i++) {
		struct vs_rt_status st;
		struct vs_error e = {0};
		/* At start the cache is empty, so this reads afresh, and
		 * keeps what the first list after a restart is served from. */
		if (vsd_index_load(d->index, d->containers_fd, names[i], &cfgs[i], &e) < 0 ||
		    vsd_container_status_kept(d, names[i], &st, &e) < 0) {
			vsd_log("network reconciliation: %s", e.msg);
			unknown = true;
			continue;
		}
		if (st.state != VS_RT_STOPPED)
			live[nlive++] = &cfgs[i].net;
	}
	/* A container that cannot be read may own links, routes and proxy
	 * entries nobody else can name: then nothing is removed this time. */
	vs_trace_mark("reconcile.states");
	if (unknown)
		vsd_log("network reconciliation skipped: a container's state is unknown");
	else
		r = vs_net_reconcile(&d->net, live, nlive, err);
	vs_trace_mark("reconcile.done");
	for (size_t i = 0; i < n; i++)
		vs_config_free(&cfgs[i]);
	free(cfgs);
	free(live);
	return r;
}
