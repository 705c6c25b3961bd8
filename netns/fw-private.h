/* netns/ internals: the firewall of a vsd instance, nf_tables netlink
 * through libnftnl (netns/firewall.c; the batches in fw-nl.c, the rules in
 * fw-rules.c). Only files in netns/ include this header. Every call opens
 * its own netlink socket: calls from several threads need no lock.
 *
 * One table per node-side veth, `netdev` family, named node->fw_table +
 * "_" + host_ifname (an interface's objects in a table of its own: the
 * kernel validates a whole table at each commit adding rules to it),
 * holding the interface's base chain ("ifc_" + host_ifname) hooked at that
 * device's ingress, priority -500 (before anything else), policy drop for
 * what it does not accept: the container's own source MAC and addresses
 * (named sets per chain so addresses change without replacing rules), ARP
 * whose sender is its own, IPv6 from its own addresses, from fe80::/64
 * (with its own MAC only: stable-privacy link-locals are not derived from
 * the MAC) and from :: (duplicate address detection: neighbour
 * solicitations for its own targets, MLD reports); neighbour
 * advertisements only for its own targets; never router advertisements
 * (ICMPv6 134), redirects (137), DHCP server (UDP source port 67) or
 * DHCPv6 server (547) answers. Every drop is counted in a named counter
 * ("d_" + host_ifname). The exact rules are listed in firewall.c. The
 * netdev table node->fw_table itself is kept empty: an older vsd held every
 * interface's objects there, and they are removed. An `ip` family table,
 * node->fw_table + "_nat", holds masquerade rules for node->nat sources
 * (IPv4 only) leaving by the uplink, and exists only while there are any. */
#ifndef VS_FW_PRIVATE_H
#define VS_FW_PRIVATE_H

#include "lib/vs_config.h"
#include "lib/vs_error.h"
#include "netns/vs_netns.h"

/* Create the instance's tables (idempotent; keeps existing chains) and
 * replace the NAT table's rules with node->nat. 0 or -1. */
int fw_node_setup(const struct vs_net_node *node, struct vs_error *err);

/* Create (or replace) the chain of one interface: its host_ifname must
 * exist (the hook binds to it). 0 or -1. */
int fw_iface_add(const struct vs_net_node *node, const struct vs_net_iface *ifc,
		 struct vs_error *err);
/* The container's egress rate on interface host_ifname: a policing chain
 * before the anti-spoofing one dropping what exceeds rate (bits/s, burst
 * bytes) and peak (bits/s, 0 none); rate 0 removes it. Drops count in the
 * interface's counter. 0 or -1. */
int fw_iface_police(const struct vs_net_node *node, const char *host_ifname, int64_t rate,
		    int64_t peak, int64_t burst, struct vs_error *err);
/* Delete the chains and sets of one interface; absent is not an error. */
int fw_iface_del(const struct vs_net_node *node, const char *host_ifname, struct vs_error *err);
/* Add or remove one address in the interface's sets. 0 or -1. */
int fw_iface_addr(const struct vs_net_node *node, const char *host_ifname, const struct vs_ip *ip,
		  bool add, struct vs_error *err);
/* Delete every interface table (and an older vsd's objects in the
 * instance's table) whose host_ifname is not in keep (nkeep names). When
 * old (an array of nkeep, or NULL) is given, old[i] says whether keep[i]
 * still has an older vsd's objects: its chain is to be rebuilt
 * (fw_iface_add, then its policing), since the other calls use only the
 * interface's own table. 0 or -1. */
int fw_reconcile(const struct vs_net_node *node, const char *const *keep, size_t nkeep, bool *old,
		 struct vs_error *err);
/* Packets dropped by the chain of one interface so far (a counter on its
 * final rule); 0 when it has none. */
uint64_t fw_iface_drops(const struct vs_net_node *node, const char *host_ifname);
/* Every interface's drop counter of the table in one dump: fn sees the
 * host_ifname of each and its packets. 0 (no table: none seen) or -1. */
int fw_drops_each(const struct vs_net_node *node,
		  void (*fn)(const char *host_ifname, uint64_t packets, void *arg), void *arg,
		  struct vs_error *err);

#endif
