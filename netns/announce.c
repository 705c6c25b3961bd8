/* Announcing a container's addresses after a start, a restore or a move:
 * gratuitous ARP (IPv4) and unsolicited neighbour advertisements (IPv6),
 * so that the LAN's neighbour caches and switches learn at once where the
 * addresses are now instead of after their entries time out.
 *
 * The frames are built here and sent through an AF_PACKET SOCK_DGRAM
 * socket bound to the link (the kernel adds only the Ethernet header): a
 * raw ICMPv6 socket would pick its own source address and need a usable
 * link-local address on the uplink, and the routed model's announcement
 * speaks for an address the uplink does not hold. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip6.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/vs_util.h"
#include "netns/net-private.h"

void vs_announce_arp_build(uint8_t out[VS_ANNOUNCE_ARP_LEN], const uint8_t mac[6],
			   const uint8_t ip4[4])
{
	/* RFC 5227 3: an ARP request whose sender and target protocol
	 * addresses are both the announced address; the target hardware
	 * address is ignored and left zero. */
	static const uint8_t head[8] = {0, ARPHRD_ETHER, 0x08, 0x00, 6, 4, 0, ARPOP_REQUEST};

	memset(out, 0, VS_ANNOUNCE_ARP_LEN);
	memcpy(out, head, sizeof(head));
	memcpy(out + 8, mac, 6);
	memcpy(out + 14, ip4, 4);
	memcpy(out + 24, ip4, 4);
}

/* The ones' complement sum of len bytes (big-endian 16-bit words), added
 * to sum. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

uint16_t vs_icmp6_checksum(const uint8_t *pkt, size_t len)
{
	/* Over the pseudo-header (RFC 8200 8.1: source, destination,
	 * upper-layer length, next header) and the ICMPv6 message, whose
	 * checksum field must be zero here. */
	uint8_t pseudo[8] = {0};
	size_t plen = len - sizeof(struct ip6_hdr);
	uint32_t sum = 0;

	pseudo[0] = (uint8_t)(plen >> 24);
	pseudo[1] = (uint8_t)(plen >> 16);
	pseudo[2] = (uint8_t)(plen >> 8);
	pseudo[3] = (uint8_t)plen;
	pseudo[7] = IPPROTO_ICMPV6;
	sum = csum_add(sum, pkt + 8, 32); /* source and destination */
	sum = csum_add(sum, pseudo, sizeof(pseudo));
	sum = csum_add(sum, pkt + sizeof(struct ip6_hdr), plen);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

void vs_announce_na_build(uint8_t out[VS_ANNOUNCE_NA_LEN], const uint8_t mac[6],
			  const uint8_t ip6[16])
{
	/* To all nodes (ff02::1), override set, solicited clear (RFC 4861
	 * 4.4, 7.2.6), hop limit 255 (receivers drop anything else, 7.1.2),
	 * from the announced address itself as Linux's own unsolicited
	 * advertisements are, with the target link-layer address option. */
	static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
	uint8_t *icmp = out + sizeof(struct ip6_hdr);
	uint16_t sum;

	memset(out, 0, VS_ANNOUNCE_NA_LEN);
	out[0] = 0x60;
	out[5] = VS_ANNOUNCE_NA_LEN - sizeof(struct ip6_hdr); /* payload length: 32 */
	out[6] = IPPROTO_ICMPV6;
	out[7] = 255;
	memcpy(out + 8, ip6, 16);
	memcpy(out + 24, all_nodes, 16);
	icmp[0] = ND_NEIGHBOR_ADVERT;
	icmp[4] = 0x20; /* R=0 S=0 O=1 */
	memcpy(icmp + 8, ip6, 16);
	icmp[24] = ND_OPT_TARGET_LINKADDR;
	icmp[25] = 1; /* in units of 8 bytes */
	memcpy(icmp + 26, mac, 6);
	sum = vs_icmp6_checksum(out, VS_ANNOUNCE_NA_LEN);
	icmp[2] = (uint8_t)(sum >> 8);
	icmp[3] = (uint8_t)sum;
}

struct sock_args {
	int protocol;
	int fd;
};

static int sock_cb(void *arg, struct vs_error *err)
{
	struct sock_args *a = arg;

	a->fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, a->protocol);
	if (a->fd < 0)
		return vs_error_set(err, errno, "announce: packet socket");
	return 0;
}

/* A packet socket in netns_fd (or here, for -1): the descriptor or -1. */
static int sock_in(int netns_fd, int protocol, struct vs_error *err)
{
	struct sock_args a = {protocol, -1};

	if (netns_fd < 0)
		return sock_cb(&a, err) < 0 ? -1 : a.fd;
	return vs_in_netns(netns_fd, sock_cb, &a, err) < 0 ? -1 : a.fd;
}

int vs_announce(int netns_fd, int ifindex, const uint8_t mac[6], const struct vs_ip *ip,
		struct vs_error *err)
{
	bool v4 = ip->family == AF_INET;
	uint16_t proto = htons(v4 ? ETH_P_ARP : ETH_P_IPV6);
	cleanup_close int fd = sock_in(netns_fd, proto, err);
	uint8_t pkt[VS_ANNOUNCE_NA_LEN];
	size_t len = v4 ? VS_ANNOUNCE_ARP_LEN : VS_ANNOUNCE_NA_LEN;
	struct sockaddr_ll to = {
	    .sll_family = AF_PACKET, .sll_protocol = proto, .sll_ifindex = ifindex, .sll_halen = 6};
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	/* ff02::1 on Ethernet (RFC 2464 7). */
	static const uint8_t all_nodes[6] = {0x33, 0x33, 0, 0, 0, 1};
	char s[VS_IP_STRLEN];

	if (fd < 0)
		return vs_error_prefix(err, "%s", vs_nl_ipstr(ip, s));
	if (v4)
		vs_announce_arp_build(pkt, mac, ip->addr);
	else
		vs_announce_na_build(pkt, mac, ip->addr);
	memcpy(to.sll_addr, v4 ? bcast : all_nodes, 6);
	if (sendto(fd, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return vs_error_set(err, errno, "%s: send %s", vs_nl_ipstr(ip, s),
				    v4 ? "gratuitous ARP" : "neighbour advertisement");
	return 0;
}

/* Where ifc's addresses are announced: the uplink with its MAC for a
 * routed interface (the node answers for them there; idx 0 without an
 * uplink: nobody else needs to learn anything), the interface itself
 * inside the container (*ns = netns_fd) with its own MAC for a bridged
 * one, so that its frames enter the bridge through the container's port:
 * the bridge learns the port, an isolated port keeps them from the other
 * containers, and the LAN behind the bridge learns the MAC. */
static int announce_link(struct net_ctx *c, const struct vs_net_iface *ifc, int netns_fd, int *ns,
			 uint8_t mac[6], struct vs_error *err)
{
	cleanup_nl struct vs_nl in = {0};
	struct vs_nl_link l;
	int r;

	if (ifc->model == VS_NET_ROUTED) {
		*ns = -1;
		if ((r = net_uplink(c, err)) <= 0 ||
		    (r = vs_nl_link_get(&c->nl, c->node->uplink, &l, err)) <= 0)
			return r;
		memcpy(mac, l.mac, 6);
		return l.index;
	}
	*ns = netns_fd;
	memcpy(mac, ifc->mac, 6);
	if (netns_fd < 0)
		return vs_error_set(err, EINVAL, "no network namespace for %s", ifc->name);
	if (vs_nl_open_in(&in, netns_fd, err) < 0 ||
	    (r = vs_nl_link_index(&in, ifc->name, err)) < 0)
		return -1;
	return r > 0 ? r : vs_error_set(err, ENODEV, "no link %s", ifc->name);
}

int vs_net_announce(const struct vs_net_node *node, const struct vs_net_config *net, int netns_fd,
		    struct vs_error *err)
{
	cleanup_ctx struct net_ctx c = {0};
	struct vs_error e = {0};
	int r = 0;

	if (net->nifaces == 0)
		return 0;
	if (net_ctx_open(&c, node, err) < 0)
		return vs_error_prefix(err, "announce addresses");
	/* Best effort: one address that cannot be announced does not keep
	 * the others from it. */
	for (size_t i = 0; i < net->nifaces; i++) {
		const struct vs_net_iface *ifc = &net->ifaces[i];
		uint8_t mac[6];
		int ns, idx = ifc->naddrs ? announce_link(&c, ifc, netns_fd, &ns, mac, &e) : 0;

		for (size_t j = 0; idx > 0 && j < ifc->naddrs; j++)
			if (vs_announce(ns, idx, mac, &ifc->addrs[j], &e) < 0)
				idx = -1;
		if (idx < 0 && r == 0) {
			r = -1;
			*err = e;
			vs_error_prefix(err, "announce addresses of %s", ifc->name);
		}
	}
	return r;
}
