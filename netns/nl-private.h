/* netns/ internals: one rtnetlink socket, the request/ack round trip, and
 * the object files built on it (link.c, addr.c, route.c, neigh.c, tc.c,
 * announce.c). Only files in netns/ (and tests) include this header. Every
 * function returns 0 (or what it says) or -1 with err. */
#ifndef VS_NL_PRIVATE_H
#define VS_NL_PRIVATE_H

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/vs_error.h"
#include "lib/vs_validate.h"

/* Room for one request we build, and for one datagram the kernel sends
 * (dumps use up to 32 KiB per datagram when the buffer allows it). */
#define VS_NL_REQ_SIZE	8192
#define VS_NL_RECV_SIZE 32768

/* An rtnetlink socket in the calling thread's network namespace at the
 * time of vs_nl_open. */
struct vs_nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
	char *buf; /* VS_NL_RECV_SIZE bytes for replies */
};

/* Open a NETLINK_ROUTE socket (SOCK_CLOEXEC) and bind it. 0, or -1 with
 * err. */
int vs_nl_open(struct vs_nl *nl, struct vs_error *err);

/* Close the socket and free the buffer; accepts a zeroed or closed nl. */
void vs_nl_close(struct vs_nl *nl);
#define cleanup_nl __attribute__((cleanup(vs_nl_close)))

/* Start a request of the given type in buf (VS_NL_REQ_SIZE bytes, zeroed
 * here) with NLM_F_REQUEST | NLM_F_ACK | flags. The caller adds the family
 * header and attributes with mnl_nlmsg_put_extra_header / mnl_attr_put*. */
struct nlmsghdr *vs_nl_msg(char *buf, uint16_t type, uint16_t flags);

/* Send nlh (sequence number and port filled in here) and read replies until
 * the kernel's ack (or NLMSG_DONE for dumps); cb, if not NULL, sees each
 * data message (mnl_cb_run semantics). 0, or -1 with err whose errnum is
 * the kernel's answer, as "what: strerror". */
int vs_nl_talk(struct vs_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, const char *what,
	       struct vs_error *err);

/* Run fn(arg, err) with the calling thread in the network namespace
 * netns_fd, then put the thread back into the namespace it was in (opened
 * from /proc/thread-self/ns/net first), on every path. Returns fn's value,
 * or -1 when a setns failed. Sockets fn opens stay in netns_fd. */
int vs_in_netns(int netns_fd, int (*fn)(void *arg, struct vs_error *err), void *arg,
		struct vs_error *err);
/* vs_nl_open in the network namespace netns_fd (through vs_in_netns). */
int vs_nl_open_in(struct vs_nl *nl, int netns_fd, struct vs_error *err);

/* Links (link.c). */
struct vs_nl_link {
	int index;
	unsigned int flags; /* IFF_* */
	int master;	    /* 0: none */
	char kind[16];	    /* IFLA_INFO_KIND, "" for none */
	uint8_t mac[6];
	bool isolated; /* bridge port flag (IFLA_INFO_SLAVE_DATA) */
	struct rtnl_link_stats64 stats;
};
/* Look name up: 1 and *out filled, 0 when there is no such link, -1. */
int vs_nl_link_get(struct vs_nl *nl, const char *name, struct vs_nl_link *out,
		   struct vs_error *err);
/* The link's index, 0 when absent, -1 on error. */
int vs_nl_link_index(struct vs_nl *nl, const char *name, struct vs_error *err);
/* Call fn with the name of every link (a dump). */
int vs_nl_link_each(struct vs_nl *nl, void (*fn)(const char *name, void *arg), void *arg,
		    struct vs_error *err);
/* Every link of the namespace in one RTM_GETLINK dump: fn sees each one's
 * name and what vs_nl_link_get reads of it (index, flags, stats64, ...).
 * 0 or -1. */
int vs_nl_link_dump(struct vs_nl *nl,
		    void (*fn)(const char *name, const struct vs_nl_link *l, void *arg), void *arg,
		    struct vs_error *err);
int vs_nl_link_set_up(struct vs_nl *nl, int ifindex, bool up, const char *what,
		      struct vs_error *err);
/* A veth pair: host here, and peer with the MAC mac in the network
 * namespace peer_netns (-1: here too), both ends with the index ifindex
 * (0: the kernel's choice). A name or index already taken: EEXIST. */
int vs_nl_veth_create(struct vs_nl *nl, const char *host, const char *peer, int peer_netns,
		      int ifindex, const uint8_t mac[6], struct vs_error *err);
/* IPv6 link-local address of link ifindex from its MAC (EUI-64). */
int vs_nl_link_eui64(struct vs_nl *nl, int ifindex, struct vs_error *err);
/* A link of kind kind ("bridge") named name. */
int vs_nl_link_create(struct vs_nl *nl, const char *name, const char *kind, struct vs_error *err);
int vs_nl_link_set_master(struct vs_nl *nl, int ifindex, int master, struct vs_error *err);
/* A link's own MAC address (a bridge with one set keeps it: it no longer
 * takes the lowest of its ports' as they come and go). */
int vs_nl_link_set_mac(struct vs_nl *nl, int ifindex, const uint8_t mac[6], struct vs_error *err);
/* Set the bridge port flag IFLA_BRPORT_ISOLATED of ifindex (a port). */
/* A bridge port's STP state (BR_STATE_DISABLED, BR_STATE_FORWARDING),
 * set by hand as on a bridge without STP. 0 or -1. */
int vs_nl_brport_state(struct vs_nl *nl, int ifindex, uint8_t state, struct vs_error *err);
int vs_nl_brport_isolated(struct vs_nl *nl, int ifindex, bool on, struct vs_error *err);
/* Delete link name; absent is not an error. */
int vs_nl_link_del(struct vs_nl *nl, const char *name, struct vs_error *err);

/* Addresses (addr.c): ip with prefix length prefix on ifindex, add
 * (replacing, so repeating it succeeds) or delete (absent is fine). */
int vs_nl_addr(struct vs_nl *nl, bool add, int ifindex, const struct vs_ip *ip, uint8_t prefix,
	       uint8_t scope, struct vs_error *err);

/* The rtm_protocol of vsd's routes and the NDA_PROTOCOL of its proxy
 * entries (unassigned in rtnetlink.h's list): what reconciliation looks
 * for. One vsd instance manages the networking of a network namespace. */
#define VS_RTPROT 86

/* Every host-sized route (main table) and proxy entry marked VS_RTPROT:
 * fn(ip, proxy, ifindex) with ifindex 0 for an unreachable route, -1 for
 * another route, the link for a proxy entry. 0 or -1. */
int vs_nl_vsd_each(struct vs_nl *nl,
		   void (*fn)(const struct vs_ip *ip, bool proxy, int ifindex, void *arg),
		   void *arg, struct vs_error *err);

/* Routes (route.c) in the main table. */
struct vs_nl_route {
	const struct vs_ip *dst; /* NULL: default route of family */
	int family;
	uint8_t dst_len;
	uint8_t type;  /* RTN_UNICAST, RTN_UNREACHABLE */
	uint8_t scope; /* RT_SCOPE_UNIVERSE, RT_SCOPE_LINK */
	int oif;       /* 0: none */
	const struct vs_ip *gw;
	uint32_t metric; /* 0: the kernel's default */
	bool onlink;
};
/* Add (replace) or delete (absent is fine) a route. */
int vs_nl_route(struct vs_nl *nl, bool add, const struct vs_nl_route *r, struct vs_error *err);

/* Proxy neighbour entry (proxy ARP / NDP) for ip on ifindex (neigh.c);
 * delete: absent is fine. */
int vs_nl_proxy(struct vs_nl *nl, bool add, int ifindex, const struct vs_ip *ip,
		struct vs_error *err);
/* A permanent neighbour entry: ip is at mac on ifindex (router: the
 * entry of a gateway, NTF_ROUTER), added or replaced; delete: absent is
 * fine. The kernel neither resolves nor ages it, and does not count it
 * against the neighbour table's limit (gc_thresh3), which is one for the
 * whole machine. */
int vs_nl_neigh_static(struct vs_nl *nl, bool add, int ifindex, const struct vs_ip *ip,
		       const uint8_t mac[6], bool router, struct vs_error *err);

/* tc (tc.c). TBF (rates in bit/s, burst in bytes, 0: the default burst)
 * with fq_codel under it as the root qdisc of ifindex, created or
 * changed. */
int vs_nl_tbf_set(struct vs_nl *nl, int ifindex, int64_t rate, int64_t peak, int64_t burst,
		  struct vs_error *err);
/* Remove the root qdisc of ifindex if it is a TBF (back to the default). */
int vs_nl_tbf_del(struct vs_nl *nl, int ifindex, struct vs_error *err);
/* Qdiscs of ifindex: root kind (or "") and the drops of all of them. */
struct vs_nl_qdiscs {
	char root_kind[16];
	bool ingress;
	uint64_t drops;
};
int vs_nl_qdiscs(struct vs_nl *nl, int ifindex, struct vs_nl_qdiscs *q, struct vs_error *err);
/* Every qdisc of the namespace in one RTM_GETQDISC dump: fn sees each
 * one's link index and drops. 0 or -1. */
int vs_nl_qdisc_dump(struct vs_nl *nl, void (*fn)(int ifindex, uint64_t drops, void *arg),
		     void *arg, struct vs_error *err);
/* The burst TBF gets when none is configured, for a rate in bit/s. */
int64_t vs_tbf_default_burst(int64_t rate);

/* Announcements (announce.c) of ip from the link ifindex with MAC mac, on a
 * packet socket opened in netns_fd (-1: the calling thread's namespace):
 * gratuitous ARP for IPv4, an unsolicited neighbour advertisement with the
 * override flag for IPv6, one copy. 0 or -1 with err naming the address. */
int vs_announce(int netns_fd, int ifindex, const uint8_t mac[6], const struct vs_ip *ip,
		struct vs_error *err);
/* The frames behind the Ethernet header. An ARP request (28 bytes):
 * sender hardware address mac, sender and target protocol address ip4. */
#define VS_ANNOUNCE_ARP_LEN 28
void vs_announce_arp_build(uint8_t out[VS_ANNOUNCE_ARP_LEN], const uint8_t mac[6],
			   const uint8_t ip4[4]);
/* An IPv6 packet (72 bytes): header from ip6 to ff02::1, hop limit 255,
 * and an ICMPv6 neighbour advertisement (override) of target ip6 with the
 * target link-layer address option mac, its checksum filled in. */
#define VS_ANNOUNCE_NA_LEN 72
void vs_announce_na_build(uint8_t out[VS_ANNOUNCE_NA_LEN], const uint8_t mac[6],
			  const uint8_t ip6[16]);
/* The ICMPv6 checksum of an IPv6 packet of len bytes without extension
 * headers (its checksum field zero), over the pseudo-header and the
 * message; a packet with its checksum filled in sums to 0. */
uint16_t vs_icmp6_checksum(const uint8_t *pkt, size_t len);

/* vs_format_ip without the prefix into buf (VS_IP_STRLEN), returned, so
 * that it fits in an argument list. */
const char *vs_nl_ipstr(const struct vs_ip *ip, char *buf);

#endif
