/* Announcing an address after a restore or a move: gratuitous ARP (IPv4)
 * and unsolicited neighbour advertisements (IPv6), so that neighbours
 * update their caches at once instead of after their entries time out. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/vs_util.h"
#include "netns/nl-private.h"

struct sock_args {
	int domain, type, protocol;
	int fd;
};

static int sock_cb(void *arg, struct vs_error *err)
{
	struct sock_args *a = arg;

	a->fd = socket(a->domain, a->type | SOCK_CLOEXEC, a->protocol);
	if (a->fd < 0)
		return vs_error_set(err, errno, "announce: socket");
	return 0;
}

/* A socket in netns_fd (or here, for -1): -1 or the descriptor. */
static int sock_in(int netns_fd, int domain, int type, int protocol, struct vs_error *err)
{
	struct sock_args a = {domain, type, protocol, -1};

	if (netns_fd < 0)
		return sock_cb(&a, err) < 0 ? -1 : a.fd;
	return vs_in_netns(netns_fd, sock_cb, &a, err) < 0 ? -1 : a.fd;
}

/* A gratuitous ARP request: sender and target are the address itself. */
static int garp(int netns_fd, int ifindex, const uint8_t mac[6], const struct vs_ip *ip,
		struct vs_error *err)
{
	cleanup_close int fd = sock_in(netns_fd, AF_PACKET, SOCK_DGRAM, htons(ETH_P_ARP), err);
	struct sockaddr_ll to = {0};
	uint8_t pkt[sizeof(struct arphdr) + 20] = {0};
	struct arphdr *ah = (struct arphdr *)pkt;
	uint8_t *p = pkt + sizeof(*ah);

	if (fd < 0)
		return -1;
	ah->ar_hrd = htons(ARPHRD_ETHER);
	ah->ar_pro = htons(ETH_P_IP);
	ah->ar_hln = 6;
	ah->ar_pln = 4;
	ah->ar_op = htons(ARPOP_REQUEST);
	memcpy(p, mac, 6);
	memcpy(p + 6, ip->addr, 4);
	memcpy(p + 16, ip->addr, 4); /* target hardware address stays zero */
	to.sll_family = AF_PACKET;
	to.sll_protocol = htons(ETH_P_ARP);
	to.sll_ifindex = ifindex;
	to.sll_halen = 6;
	memset(to.sll_addr, 0xff, 6);
	if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return vs_error_set(err, errno, "announce: send gratuitous ARP");
	return 0;
}

/* An unsolicited neighbour advertisement to all nodes (ff02::1) with the
 * override flag and the target's link-layer address. */
static int unsolicited_na(int netns_fd, int ifindex, const uint8_t mac[6], const struct vs_ip *ip,
			  struct vs_error *err)
{
	cleanup_close int fd = sock_in(netns_fd, AF_INET6, SOCK_RAW, IPPROTO_ICMPV6, err);
	struct sockaddr_in6 to = {0};
	struct {
		struct nd_neighbor_advert na;
		struct nd_opt_hdr opt;
		uint8_t mac[6];
	} __attribute__((packed)) pkt = {0};
	/* Neighbour discovery is accepted only with hop limit 255 (RFC 4861
	 * 7.1.2), proving the sender is on the link. */
	int hops = 255, idx = ifindex;

	if (fd < 0)
		return -1;
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof(idx)) < 0)
		return vs_error_set(err, errno, "announce: setsockopt");
	pkt.na.nd_na_type = ND_NEIGHBOR_ADVERT;
	pkt.na.nd_na_flags_reserved = ND_NA_FLAG_OVERRIDE;
	memcpy(&pkt.na.nd_na_target, ip->addr, 16);
	pkt.opt.nd_opt_type = ND_OPT_TARGET_LINKADDR;
	pkt.opt.nd_opt_len = 1; /* in units of 8 bytes */
	memcpy(pkt.mac, mac, 6);
	/* The kernel fills in the ICMPv6 checksum on raw ICMPv6 sockets. */
	to.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
	to.sin6_scope_id = (uint32_t)ifindex;
	if (sendto(fd, &pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return vs_error_set(err, errno, "announce: send neighbour advertisement");
	return 0;
}

int vs_announce(int netns_fd, int ifindex, const uint8_t mac[6], const struct vs_ip *ip,
		struct vs_error *err)
{
	char s[VS_IP_STRLEN];
	int r = ip->family == AF_INET ? garp(netns_fd, ifindex, mac, ip, err)
				      : unsolicited_na(netns_fd, ifindex, mac, ip, err);

	return r < 0 ? vs_error_prefix(err, "%s", vs_nl_ipstr(ip, s)) : 0;
}
