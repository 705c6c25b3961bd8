/* vs_netns: container networking through libmnl (rtnetlink) and
 * libnftnl; no `ip`, `tc` or `nft` programs.
 *
 * The models (see vsd(8), "Networking"):
 *   - routed (OpenVZ venet-style): a veth pair per interface, created in
 *     the node's namespace with both ends there, the peer then moved into
 *     the container and renamed (CRIU can restore only such a veth). The
 *     node side carries 169.254.0.1/32 and fe80::1/64; inside, each
 *     address is a /32 or /128 on ethN with default routes via those
 *     (onlink). The node routes each address to the node side (host route,
 *     scope link) and answers ARP/NDP for it on the uplink (proxy
 *     neighbour entries; proxy_ndp on the uplink), so no layer 2 is shared
 *     with other containers.
 *   - bridged: the node side joins a bridge as an isolated port
 *     (IFLA_BRPORT_ISOLATED), unless the bridge is a private network of the
 *     node's configuration where its containers see each other.
 * Each address also has an `unreachable` route of metric
 * VS_NET_UNREACHABLE_METRIC on the node for as long as the container
 * exists in a running or suspended state: while the veth is gone (frozen,
 * suspended, being restored or migrated) nothing it owns is answered by
 * anyone else and no packet for it leaves by a default route.
 *
 * Isolation: an nftables table of this vsd instance (family netdev) with
 * one base chain per node-side veth at ingress: only the container's own
 * MAC and addresses as sources (IPv4, ARP, IPv6, neighbour discovery), no
 * router advertisements, no DHCP/DHCPv6 server answers. Shaping: TBF
 * (rate, peak rate, burst) with fq_codel under it on the node side's
 * egress (the container's ingress); the container's egress is policed (two
 * token buckets: rate with burst, peak) by a chain before the
 * anti-spoofing one, since a tc redirect to an ifb would take the packets
 * past netfilter's ingress hook.
 *
 * All node-side names derive from the container's config (host_ifname),
 * so teardown and reconciliation need nothing but configs:
 * the whole network state of a container is its vs_net_config, which is
 * what a migration hands to another node and re-applies there. */
#ifndef VS_NETNS_H
#define VS_NETNS_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/vs_config.h"
#include "lib/vs_error.h"

/* Bring the loopback interface of the calling thread's network namespace up
 * (RTM_NEWLINK, IFF_UP) and wait for the kernel's ack. 0 or -1 with err. */
int vs_net_loopback_up(struct vs_error *err);

/* Node-side addresses of every routed interface (the container's
 * gateways), and the metric of the standby unreachable routes. */
#define VS_NET_GW4		  "169.254.0.1"
#define VS_NET_GW6		  "fe80::1"
#define VS_NET_UNREACHABLE_METRIC 4000

/* Address pools handed out when a create names no address: per network
 * ("routed", or a bridge name), IPv4 and/or IPv6. */
#define VS_NET_POOLS_MAX 8
struct vs_net_pool {
	char network[VS_IFNAME_MAX + 1]; /* "routed" or a bridge name */
	struct vs_ip net;		 /* 10.0.3.0/24, 2001:db8:1::/64 */
	struct vs_ip gateway;		 /* bridged: the gateway given to containers */
};

/* The node's networking, from vsd's options; the same in the daemon and
 * in every monitor (passed as monitor arguments). */
struct vs_net_node {
	char uplink[VS_IFNAME_MAX + 1]; /* --uplink: proxy ARP/NDP there; "" none */
	char bridge[VS_IFNAME_MAX + 1]; /* vsd's own bridge (created when missing) */
	/* 4 hex digits naming this vsd instance (from its --root): node-side
	 * links are "vs" + id + 6 hex of the container + interface index
	 * (13 characters), their peers "vp" + the same while they are
	 * created; the firewall table is
	 * "vsd_" + id. Reconciliation touches only names with this id. */
	char id[5];
	char fw_table[16];
	size_t npools;
	struct vs_net_pool pools[VS_NET_POOLS_MAX];
	/* Bridges whose ports are not isolated: the node's private networks. */
	size_t nprivate;
	char private_bridges[VS_NET_POOLS_MAX][VS_IFNAME_MAX + 1];
	/* --nat CIDR: masquerade these sources leaving by the uplink. */
	size_t nnat;
	struct vs_ip nat[VS_NET_POOLS_MAX];
};

/* Fill id and fw_table from a hash of the instance's root (its low 16
 * bits), and bridge ("vsbr" + id) when empty (netns/node-id.c). */
void vs_net_node_set_id(struct vs_net_node *node, uint32_t hash);
/* The node-side name of interface `index` of a container (host_ifname)
 * from the node id and 24 random bits. */
void vs_net_iface_names(const struct vs_net_node *node, uint32_t rnd, size_t index,
			struct vs_net_iface *ifc);
/* The interface index of both ends of the veth pair named host_ifname,
 * try `attempt` (0, 1, ... when the last one was taken): in
 * [VS_NET_IFINDEX_BASE, INT_MAX], from a hash of the name. Why: CRIU
 * (4.3) re-creates the container's end through a socket in the node's
 * namespace with the dumped index and without NLM_F_EXCL; the kernel looks
 * the index up there first and, finding another link, answers EOPNOTSUPP
 * (a veth has no changelink). The node allocates its own indexes upwards
 * from 1, so it does not reach this range. */
#define VS_NET_IFINDEX_BASE 0x40000000
int vs_net_veth_ifindex(const char *host_ifname, unsigned attempt);

/* Once per vsd start (after an upgrade or crash too; idempotent): create
 * vsd's own bridge when missing and give it the gateway addresses of its
 * pools, turn on forwarding (IPv4, IPv6) and proxy_ndp on the uplink,
 * create this instance's nftables table with its NAT rules. An uplink that
 * does not exist is an error naming it (VS_EK_INVALID). 0 or -1. */
int vs_net_node_setup(const struct vs_net_node *node, struct vs_error *err);

/* Is ip an address of the calling thread's network namespace? One route
 * lookup (RTM_GETROUTE, as `ip route get`): true when it resolves to a
 * local route, whatever the number of links (an address dump grows with
 * every veth). 0 or -1. */
int vs_net_ip_local(const struct vs_ip *ip, bool *local, struct vs_error *err);

/* Check a container's interfaces against the node before create/set: a
 * bridged interface's bridge exists (or is vsd's own); a routed interface
 * needs nothing. VS_EK_INVALID naming the field. 0 or -1. */
int vs_net_check(const struct vs_net_node *node, const struct vs_net_config *net,
		 struct vs_error *err);

/* Wire a starting container: for every interface create the veth pair in
 * the node's namespace, move the peer into netns_fd (the container's
 * network namespace) as ifname with its MAC; set up the node side (up,
 * link-local gateway addresses, host routes, proxy entries, standby
 * unreachable routes, bridge port, firewall chain, shaping) and the inside
 * (addresses, up, default routes; interface n's default routes have
 * metric n, IPv6 1024 + n, so several interfaces' coexist). Links left
 * over with the interface's names are deleted first. Standby routes are
 * made for routed addresses only: a bridged address lies in its LAN's
 * prefix, where a /32 unreachable route would cut the node off from it.
 * On failure everything made is removed again. 0 or -1. */
int vs_net_attach(const struct vs_net_node *node, const struct vs_net_config *net, int netns_fd,
		  struct vs_error *err);

/* After a CRIU restore, which recreated each veth pair with the node side
 * named host_ifname (down, without addresses) and the inside as it was:
 * set the node side up again as vs_net_attach does (firewall first: the
 * restored tasks run already), give the inside the configured addresses
 * and default routes again (an image older than a live address change
 * lacks them). Announcing the addresses is vs_net_announce's (the
 * caller's, once the container runs). Idempotent. 0 or -1. */
int vs_net_restored(const struct vs_net_node *node, const struct vs_net_config *net, int netns_fd,
		    struct vs_error *err);

/* Tell the LAN where the container's addresses are now (activation after
 * a restore or a move; after a start it does no harm): from the calling
 * thread's namespace (the node's), one gratuitous ARP per IPv4 address
 * and one unsolicited neighbour advertisement (override, to ff02::1, hop
 * limit 255) per IPv6 address. Routed interfaces: on the uplink, with the
 * uplink's MAC (the node answers for them there; nothing without an
 * uplink). Bridged: on the interface inside the container (netns_fd, its
 * network namespace), with its configured MAC, so that the frames enter
 * the bridge through the container's port and the bridge and the LAN
 * learn that port (an isolated port keeps them from the other
 * containers). One copy per call: the runtime calls it twice, 100 ms
 * apart. Best effort: goes on after a failure and reports the first.
 * 0 or -1. */
int vs_net_announce(const struct vs_net_node *node, const struct vs_net_config *net, int netns_fd,
		    struct vs_error *err);

/* Before a dump: cut every interface off (no IP leaves the container, its
 * routed addresses lose their host routes so the standby routes answer,
 * bridged ports stop forwarding), links and carrier untouched, until the
 * container is killed; vs_net_restored brings one that keeps running
 * back. 0 or -1. */
int vs_net_quiesce(const struct vs_net_node *node, const struct vs_net_config *net,
		   struct vs_error *err);

/* Remove what the node holds for the container: node-side links (if they
 * still exist), host routes, proxy entries, firewall chains; the
 * standby unreachable routes too unless keep_standby (a suspended
 * container keeps them). Idempotent, best effort: goes on after a failure
 * and reports the first. 0 or -1. */
int vs_net_detach(const struct vs_net_node *node, const struct vs_net_config *net,
		  bool keep_standby, struct vs_error *err);

/* Live address changes on a running container (netns_fd its namespace):
 * add ip to interface iface (index into net->ifaces; the address already
 * in net->ifaces[iface] or not, either works) inside and on the node
 * (routes, proxy entries, firewall set), or remove it. 0 or -1; a failed
 * add leaves nothing behind. */
int vs_net_addr_add(const struct vs_net_node *node, const struct vs_net_config *net, size_t iface,
		    const struct vs_ip *ip, int netns_fd, struct vs_error *err);
int vs_net_addr_del(const struct vs_net_node *node, const struct vs_net_config *net, size_t iface,
		    const struct vs_ip *ip, int netns_fd, struct vs_error *err);

/* Apply net->shaping to every interface of a running container (replace
 * or remove the qdiscs). 0 or -1. */
int vs_net_shaping_apply(const struct vs_net_node *node, const struct vs_net_config *net,
			 struct vs_error *err);

/* Traffic counters of one interface, from the container's view: egress =
 * what it sent (the node side's rx), ingress = what it received. drops
 * count the shaper's and the firewall's drops where known. */
struct vs_net_ifstats {
	uint64_t egress_bytes, egress_packets, egress_drops;
	uint64_t ingress_bytes, ingress_packets, ingress_drops;
};
/* Counters of net->ifaces[iface] (zero when its link is gone): bytes and
 * packets of the node-side link; drops of the qdiscs on it (ingress) and
 * of the firewall chains, policing and anti-spoofing (egress). 0 or -1. */
int vs_net_stats(const struct vs_net_node *node, const struct vs_net_config *net, size_t iface,
		 struct vs_net_ifstats *st, struct vs_error *err);
/* The counters of every interface of the node at one moment, for a scrape
 * of all containers: one rtnetlink socket with one RTM_GETLINK dump (all
 * links with their stats64) and one RTM_GETQDISC dump, and one dump of the
 * firewall's drop counters, where vs_net_stats makes three requests per
 * interface. The table holds copies (nothing points into the kernel's
 * state) and is read with vs_net_stats_of; free it with
 * vs_net_stats_all_free. 0 with *out, or -1 with err. */
struct vs_net_stats_table;
int vs_net_stats_all(const struct vs_net_node *node, struct vs_net_stats_table **out,
		     struct vs_error *err);
/* What vs_net_stats says of net->ifaces[iface], from the table: matched by
 * the node-side name, then its link index for the qdiscs. 1, or 0 with
 * zeros when the table has no such link (gone); -1 with err for a bad
 * iface. */
int vs_net_stats_of(const struct vs_net_stats_table *t, const struct vs_net_config *net,
		    size_t iface, struct vs_net_ifstats *st, struct vs_error *err);
/* Only the links' part of vs_net_stats_all (one link dump, no qdisc or
 * firewall listing): what vs_net_traffic says of every interface at once
 * (the usage ledger's readings of all containers in one request). Read
 * with vs_net_stats_of (drops 0). 0 with *out, or -1 with err. */
int vs_net_links_all(struct vs_net_stats_table **out, struct vs_error *err);
/* Accepts NULL; the p form for cleanup_net_stats. */
void vs_net_stats_all_free(struct vs_net_stats_table *t);
void vs_net_stats_all_freep(struct vs_net_stats_table **t);
#define cleanup_net_stats __attribute__((cleanup(vs_net_stats_all_freep)))
/* Only the bytes and packets of vs_net_stats (drops 0): one netlink
 * request, no qdisc or firewall listing (the usage ledger's reading,
 * taken on every stop). 0 or -1. */
int vs_net_traffic(const struct vs_net_config *net, size_t iface, struct vs_net_ifstats *st,
		   struct vs_error *err);

/* After a vsd restart: remove node-side leftovers of containers that are
 * not running. running: configs of the containers that run or are
 * suspended (their links, routes, proxy entries and chains stay;
 * suspended ones have only standby routes). Everything else this instance
 * made goes: links named "vs"/"vp" + its id, chains in its table, and
 * routes and proxy entries marked as vsd's whose address no running
 * container holds (also those of destroyed containers). 0 or -1. */
int vs_net_reconcile(const struct vs_net_node *node, const struct vs_net_config *const *running,
		     size_t nrunning, struct vs_error *err);

/* Write /etc/resolv.conf and /etc/hosts of the calling process's root (a
 * container's setup child after pivot_root, as the container's root; it
 * never runs on the host's files): nameservers, and hostname with the
 * container's first addresses. Leaves a file alone that is a symlink
 * (systemd-resolved's) or carries "# vsd: keep". 0 or -1. */
int vs_net_write_dns(const struct vs_net_config *net, const char *hostname, struct vs_error *err);

#endif
