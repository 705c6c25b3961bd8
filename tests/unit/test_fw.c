/* netns/firewall.c against real packets. Root only; skipped otherwise.
 *
 * Each case runs in a forked child that makes its own network namespace
 * (the "node") and a second one (the "container") with unshare(), joined
 * by a veth pair: vsT0 on the node side, eth0 inside. The firewall chain
 * sits at vsT0's ingress. The container sends hand-made Ethernet frames
 * through an AF_PACKET socket (its kernel has no addresses and IPv6 off,
 * so it sends nothing of its own that could move the counters); the node
 * receives with UDP sockets and the chain's drop counter tells what was
 * dropped. Everything vanishes with the child's namespaces, even when a
 * check fails. The test itself uses `ip` and `nft` to set up and inspect;
 * the code under test does not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/netlink.h>

#include "lib/vs_util.h"
#include "netns/fw-private.h"

#define PORT	  5555
#define FAIL(...) (fprintf(stderr, "test_fw: " __VA_ARGS__), fputc('\n', stderr), 1)

static const uint8_t C_MAC[6] = {0x02, 0, 0, 0, 0, 0xc1};
static const uint8_t SPOOF_MAC[6] = {0x02, 0, 0, 0, 0, 0x66};
static const uint8_t C_IP4[4] = {10, 99, 0, 5}, N_IP4[4] = {10, 99, 0, 1};
static const uint8_t OTHER_IP4[4] = {10, 99, 0, 77};
static const uint8_t C_IP6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 5};
static const uint8_t N_IP6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
static const uint8_t OTHER_IP6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x99};
/* The container's link-local: the EUI-64 of C_MAC. OTHER_LL6 is one that
 * is not (a neighbour's, or a stable-privacy one). */
static const uint8_t C_LL6[16] = {0xfe, 0x80, [11] = 0xff, [12] = 0xfe, [15] = 0xc1};
static const uint8_t OTHER_LL6[16] = {0xfe, 0x80, [15] = 0xc1};
static const uint8_t ALLNODES6[16] = {0xff, 0x02, [15] = 1};

struct env {
	int nfd, cfd;	 /* the node's and the container's namespaces */
	int pkt;	 /* AF_PACKET socket on eth0, in the container */
	int cidx;	 /* eth0's index there */
	uint8_t nmac[6]; /* vsT0's MAC */
	int udp4, udp6;	 /* node side receivers on PORT */
	struct vs_net_node node;
	struct vs_net_iface ifc;
};

/* ------------------------------------------------------------ frames */

static uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t csum_add(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)(p[n - 1] << 8);
	return s;
}

static size_t put_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = type >> 8;
	f[13] = type & 0xff;
	return 14;
}

/* Ethernet + IPv4 + UDP carrying msg. */
static size_t frame_udp4(uint8_t *f, const struct env *e, const uint8_t *smac, const uint8_t *sip,
			 uint16_t sport, const char *msg)
{
	size_t n = put_eth(f, e->nmac, smac, ETH_P_IP), plen = strlen(msg);
	uint8_t *ip = f + n, *udp = ip + 20;
	uint16_t tot = (uint16_t)(20 + 8 + plen), c;

	memset(ip, 0, 28);
	ip[0] = 0x45;
	ip[2] = tot >> 8, ip[3] = tot & 0xff;
	ip[8] = 64, ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, sip, 4);
	memcpy(ip + 16, N_IP4, 4);
	c = csum_fold(csum_add(0, ip, 20));
	ip[10] = c >> 8, ip[11] = c & 0xff;
	udp[0] = sport >> 8, udp[1] = sport & 0xff;
	udp[2] = PORT >> 8, udp[3] = PORT & 0xff;
	udp[4] = (8 + plen) >> 8, udp[5] = (8 + plen) & 0xff;
	memcpy(udp + 8, msg, plen); /* UDP checksum 0: none, allowed over IPv4 */
	return n + tot;
}

/* Ethernet + IPv6 + an upper layer (next header nh) of len bytes at
 * f + 54, whose checksum (at byte ck of it) is filled in here. */
static size_t frame_ip6(uint8_t *f, const uint8_t *dmac, const uint8_t *smac, const uint8_t *sip,
			const uint8_t *dip, uint8_t nh, size_t len, size_t ck)
{
	size_t n = put_eth(f, dmac, smac, ETH_P_IPV6);
	uint8_t *ip = f + n, *l4 = ip + 40, pseudo[8] = {0};
	uint16_t c;

	memset(ip, 0, 40);
	ip[0] = 0x60;
	ip[4] = len >> 8, ip[5] = len & 0xff;
	ip[6] = nh, ip[7] = 255;
	memcpy(ip + 8, sip, 16);
	memcpy(ip + 24, dip, 16);
	pseudo[2] = len >> 8, pseudo[3] = len & 0xff, pseudo[7] = nh;
	l4[ck] = l4[ck + 1] = 0;
	c = csum_fold(csum_add(csum_add(csum_add(0, ip + 8, 32), pseudo, 8), l4, len));
	l4[ck] = c >> 8, l4[ck + 1] = c & 0xff;
	return n + 40 + len;
}

static size_t frame_udp6(uint8_t *f, const struct env *e, const uint8_t *sip, uint16_t sport,
			 const char *msg)
{
	uint8_t *udp = f + 54;
	size_t plen = strlen(msg);

	udp[0] = sport >> 8, udp[1] = sport & 0xff;
	udp[2] = PORT >> 8, udp[3] = PORT & 0xff;
	udp[4] = (8 + plen) >> 8, udp[5] = (8 + plen) & 0xff;
	memcpy(udp + 8, msg, plen);
	return frame_ip6(f, e->nmac, C_MAC, sip, N_IP6, IPPROTO_UDP, 8 + plen, 6);
}

/* ICMPv6 type with a 16-byte address at offset 8 (NS/NA target) or zeros
 * (an RA body is 12 bytes after the 4-byte header; 24 bytes cover it). */
static size_t frame_icmp6(uint8_t *f, const struct env *e, const uint8_t *sip, uint8_t type,
			  const uint8_t *target)
{
	uint8_t *icmp = f + 54;

	memset(icmp, 0, 24);
	icmp[0] = type;
	if (type == 136)
		icmp[4] = 0x20; /* override */
	if (target)
		memcpy(icmp + 8, target, 16);
	return frame_ip6(f, e->nmac, C_MAC, sip, type == 134 ? ALLNODES6 : N_IP6, IPPROTO_ICMPV6,
			 24, 2);
}

/* A neighbour solicitation (135) or advertisement (136) for target with
 * a link-layer address option (source: 1, target: 2) carrying mac. */
static size_t frame_nd_opt(uint8_t *f, const struct env *e, const uint8_t *sip, uint8_t type,
			   const uint8_t *target, const uint8_t *mac)
{
	uint8_t *icmp = f + 54;

	memset(icmp, 0, 32);
	icmp[0] = type;
	if (type == 136)
		icmp[4] = 0x20; /* override */
	memcpy(icmp + 8, target, 16);
	icmp[24] = type == 135 ? 1 : 2;
	icmp[25] = 1; /* 8 bytes */
	memcpy(icmp + 26, mac, 6);
	return frame_ip6(f, e->nmac, C_MAC, sip, N_IP6, IPPROTO_ICMPV6, 32, 2);
}

/* ARP reply from sha/spa to the node. */
static size_t frame_arp(uint8_t *f, const struct env *e, const uint8_t *sha, const uint8_t *spa)
{
	size_t n = put_eth(f, e->nmac, C_MAC, ETH_P_ARP);
	uint8_t *a = f + n;

	a[0] = 0, a[1] = 1; /* Ethernet */
	a[2] = 8, a[3] = 0; /* IPv4 */
	a[4] = 6, a[5] = 4; /* lengths */
	a[6] = 0, a[7] = 2; /* reply */
	memcpy(a + 8, sha, 6);
	memcpy(a + 14, spa, 4);
	memcpy(a + 18, e->nmac, 6);
	memcpy(a + 24, N_IP4, 4);
	return n + 28;
}

static int send_frame(const struct env *e, const uint8_t *f, size_t n)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = e->cidx, .sll_halen = 6};

	memcpy(sll.sll_addr, f, 6);
	return sendto(e->pkt, f, n, 0, (struct sockaddr *)&sll, sizeof(sll)) == (ssize_t)n ? 0 : -1;
}

/* ------------------------------------------------------ observation */

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Wait up to 2 s for the drop counter to reach want; the final value. */
static uint64_t drops_reach(const struct env *e, uint64_t want)
{
	uint64_t d = 0;

	for (int i = 0; i < 200 && (d = fw_iface_drops(&e->node, "vsT0")) < want; i++)
		sleep_ms(10);
	return d;
}

/* 1 when msg arrives on fd within ms, 0 when nothing does. */
static int got(int fd, const char *msg, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[256];
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return 0;
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return 0;
	buf[n] = '\0';
	if (strcmp(buf, msg) != 0) {
		fprintf(stderr, "test_fw: got '%s', expected '%s'\n", buf, msg);
		return 0;
	}
	return 1;
}

/* Send a frame that must pass: msg arrives, the counter stays. */
static int pass(struct env *e, const uint8_t *f, size_t n, int fd, const char *msg)
{
	uint64_t before = fw_iface_drops(&e->node, "vsT0");

	if (send_frame(e, f, n) < 0)
		return FAIL("%s: send: %s", msg, strerror(errno));
	if (!got(fd, msg, 2000))
		return FAIL("%s: not received", msg);
	if (fw_iface_drops(&e->node, "vsT0") != before)
		return FAIL("%s: drop counter moved", msg);
	return 0;
}

/* Send a frame that must be dropped by the chain: the counter rises by
 * one and nothing arrives on fd (if fd >= 0). */
static int dropped(struct env *e, const uint8_t *f, size_t n, int fd, const char *what)
{
	uint64_t before = fw_iface_drops(&e->node, "vsT0"), after;

	if (send_frame(e, f, n) < 0)
		return FAIL("%s: send: %s", what, strerror(errno));
	after = drops_reach(e, before + 1);
	if (after != before + 1)
		return FAIL("%s: drops %llu -> %llu, expected +1", what, (unsigned long long)before,
			    (unsigned long long)after);
	/* Processed (counted) already: had it passed, it would be queued. */
	if (fd >= 0 && got(fd, what, 50))
		return FAIL("%s: received although dropped", what);
	return 0;
}

/* nft's JSON listing of the test's table ("" when it does not exist). */
static char *nft_list(const char *family, const char *table)
{
	char cmd[128], *out = xcalloc(1, 1 << 16);
	size_t len = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nft -j list table %s %s 2>/dev/null", family, table);
	if (table == NULL)
		snprintf(cmd, sizeof(cmd), "nft -j list ruleset %s 2>/dev/null", family);
	if ((p = popen(cmd, "r"))) {
		size_t r;
		while (len < (1 << 16) - 1 && (r = fread(out + len, 1, (1 << 16) - 1 - len, p)) > 0)
			len += r;
		pclose(p);
	}
	return out;
}

/* How many times needle occurs in listing. */
static int occurrences(const char *listing, const char *needle)
{
	int n = 0;

	for (const char *m = strstr(listing, needle); m; m = strstr(m + 1, needle))
		n++;
	return n;
}

/* How many of the objects of interface x (chain, sets, counter) the
 * listing holds. */
static int objects_of(const char *listing, const char *x)
{
	const char *pfx[] = {"ifc_", "a4_", "a6_", "d_"};
	char needle[64];
	int n = 0;

	for (size_t i = 0; i < VS_ARRAY_SIZE(pfx); i++) {
		snprintf(needle, sizeof(needle), "\"name\": \"%s%s\"", pfx[i], x);
		n += strstr(listing, needle) != NULL;
	}
	return n;
}

/* ------------------------------------------------------------ setup */

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int r = system(cmd);
	if (r != 0)
		fprintf(stderr, "test_fw: '%s' failed (%d)\n", cmd, r);
	return r == 0 ? 0 : -1;
}

static int udp_socket(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(PORT)};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(PORT)};

	if (fd < 0)
		return -1;
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (family == AF_INET6 ? bind(fd, (struct sockaddr *)&a6, sizeof(a6))
			       : bind(fd, (struct sockaddr *)&a4, sizeof(a4))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The veth pair with the node's addresses on vsT0, the container's eth0
 * (its MAC, up, no IPv6, no addresses) and its packet socket. Called in
 * the node namespace. */
static int make_veth(struct env *e)
{
	struct ifreq ifr = {0};
	int fd;

	/* rp_filter may be inherited from the machine (Debian: 2, loose):
	 * with it the node would drop the spoofed sources by itself. */
	if (run("sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0") < 0 ||
	    run("ip link add vsT0 type veth peer name eth0 netns /proc/%d/fd/%d", getpid(),
		e->cfd) < 0 ||
	    run("ip link set vsT0 up && ip addr add 10.99.0.1/24 dev vsT0 && "
		"ip addr add 2001:db8::1/64 dev vsT0 nodad") < 0)
		return -1;
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "vsT0");
	int r = ioctl(fd, SIOCGIFHWADDR, &ifr);
	close(fd);
	if (r < 0)
		return -1;
	memcpy(e->nmac, ifr.ifr_hwaddr.sa_data, 6);
	if (setns(e->cfd, CLONE_NEWNET) < 0)
		return -1;
	r = run("sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1 && "
		"ip link set eth0 address 02:00:00:00:00:c1 up");
	if (e->pkt >= 0)
		close(e->pkt);
	e->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	e->cidx = (int)if_nametoindex("eth0");
	if (setns(e->nfd, CLONE_NEWNET) < 0 || r < 0 || e->pkt < 0 || e->cidx == 0)
		return -1;
	return 0;
}

/* The node namespace (this process from now on), the container's, the
 * veth between them, node addresses and receivers. */
static int env_init(struct env *e)
{
	*e = (struct env){.nfd = -1, .cfd = -1, .pkt = -1, .udp4 = -1, .udp6 = -1};
	if (unshare(CLONE_NEWNET) < 0 ||
	    (e->nfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0 ||
	    unshare(CLONE_NEWNET) < 0 ||
	    (e->cfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0 ||
	    setns(e->nfd, CLONE_NEWNET) < 0)
		return FAIL("namespaces: %s", strerror(errno));
	if (make_veth(e) < 0)
		return FAIL("veth");
	if ((e->udp4 = udp_socket(AF_INET)) < 0 || (e->udp6 = udp_socket(AF_INET6)) < 0)
		return FAIL("node setup");
	snprintf(e->node.fw_table, sizeof(e->node.fw_table), "vsd_t");
	snprintf(e->node.id, sizeof(e->node.id), "0000");
	snprintf(e->ifc.host_ifname, sizeof(e->ifc.host_ifname), "vsT0");
	memcpy(e->ifc.mac, C_MAC, 6);
	e->ifc.naddrs = 2;
	e->ifc.addrs[0] = (struct vs_ip){.family = AF_INET, .prefix = 24};
	memcpy(e->ifc.addrs[0].addr, C_IP4, 4);
	e->ifc.addrs[1] = (struct vs_ip){.family = AF_INET6, .prefix = 64};
	memcpy(e->ifc.addrs[1].addr, C_IP6, 16);
	return 0;
}

static int fw_up(struct env *e)
{
	struct vs_error err = {0};

	if (fw_node_setup(&e->node, &err) < 0 || fw_iface_add(&e->node, &e->ifc, &err) < 0)
		return FAIL("firewall: %s", err.msg);
	return 0;
}

/* ------------------------------------------------------------ cases */

/* Without a chain the spoofed frames arrive: the checks below can fail. */
static int control(struct env *e)
{
	uint8_t f[256];
	size_t n;

	n = frame_udp4(f, e, C_MAC, OTHER_IP4, 40000, "control-ip");
	if (send_frame(e, f, n) < 0 || !got(e->udp4, "control-ip", 2000))
		return FAIL("control: spoofed IPv4 source not received without the firewall");
	n = frame_udp4(f, e, SPOOF_MAC, C_IP4, 40000, "control-mac");
	if (send_frame(e, f, n) < 0 || !got(e->udp4, "control-mac", 2000))
		return FAIL("control: spoofed MAC not received without the firewall");
	return 0;
}

/* pass() with no socket: the frame must not be counted as a drop. */
static int not_dropped(struct env *e, const uint8_t *f, size_t n, const char *what)
{
	uint64_t before = fw_iface_drops(&e->node, "vsT0");

	if (send_frame(e, f, n) < 0)
		return FAIL("%s: send", what);
	/* The next frame is a known drop: once it is counted, this one (sent
	 * before it on the same queue) has been processed too. */
	uint8_t g[256];
	size_t m = frame_udp4(g, e, SPOOF_MAC, C_IP4, 40000, "marker");
	if (send_frame(e, g, m) < 0)
		return FAIL("%s: send marker", what);
	uint64_t after = drops_reach(e, before + 1);
	if (after != before + 1)
		return FAIL("%s: drops %llu -> %llu, expected only the marker's", what,
			    (unsigned long long)before, (unsigned long long)after);
	return 0;
}

static int ipv4_cases(struct env *e)
{
	uint8_t f[256];
	size_t n;

	n = frame_udp4(f, e, C_MAC, C_IP4, 40000, "legit4");
	if (pass(e, f, n, e->udp4, "legit4"))
		return 1;
	n = frame_udp4(f, e, C_MAC, OTHER_IP4, 40000, "spoof-ip4");
	if (dropped(e, f, n, e->udp4, "spoof-ip4"))
		return 1;
	n = frame_udp4(f, e, SPOOF_MAC, C_IP4, 40000, "spoof-mac");
	if (dropped(e, f, n, e->udp4, "spoof-mac"))
		return 1;
	/* A DHCP server's answer from the container's own address. */
	n = frame_udp4(f, e, C_MAC, C_IP4, 67, "dhcp-server");
	if (dropped(e, f, n, e->udp4, "dhcp-server"))
		return 1;
	n = frame_arp(f, e, C_MAC, C_IP4);
	if (not_dropped(e, f, n, "arp-own"))
		return 1;
	n = frame_arp(f, e, C_MAC, OTHER_IP4);
	if (dropped(e, f, n, -1, "arp-spoof-ip"))
		return 1;
	n = frame_arp(f, e, SPOOF_MAC, C_IP4);
	return dropped(e, f, n, -1, "arp-spoof-mac");
}

static int ipv6_cases(struct env *e)
{
	static const uint8_t spoof6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x66};
	uint8_t f[256];
	size_t n;

	n = frame_udp6(f, e, C_IP6, 40000, "legit6");
	if (pass(e, f, n, e->udp6, "legit6"))
		return 1;
	n = frame_udp6(f, e, spoof6, 40000, "spoof-ip6");
	if (dropped(e, f, n, e->udp6, "spoof-ip6"))
		return 1;
	n = frame_udp6(f, e, C_IP6, 547, "dhcp6-server");
	if (dropped(e, f, n, e->udp6, "dhcp6-server"))
		return 1;
	n = frame_icmp6(f, e, C_LL6, 134, NULL);
	if (dropped(e, f, n, -1, "router-advert"))
		return 1;
	n = frame_icmp6(f, e, C_LL6, 137, NULL);
	if (dropped(e, f, n, -1, "redirect"))
		return 1;
	n = frame_icmp6(f, e, C_LL6, 136, OTHER_IP6);
	if (dropped(e, f, n, -1, "na-foreign-target"))
		return 1;
	n = frame_icmp6(f, e, C_IP6, 136, C_IP6);
	if (not_dropped(e, f, n, "na-own-target"))
		return 1;
	n = frame_icmp6(f, e, C_LL6, 135, N_IP6); /* resolving the gateway */
	if (not_dropped(e, f, n, "ns-from-link-local"))
		return 1;
	n = frame_icmp6(f, e, OTHER_LL6, 135, N_IP6);
	if (dropped(e, f, n, -1, "ns-from-foreign-link-local"))
		return 1;
	n = frame_nd_opt(f, e, C_IP6, 136, C_IP6, C_MAC);
	if (not_dropped(e, f, n, "na-own-lladdr"))
		return 1;
	n = frame_nd_opt(f, e, C_IP6, 136, C_IP6, SPOOF_MAC);
	if (dropped(e, f, n, -1, "na-foreign-lladdr"))
		return 1;
	n = frame_nd_opt(f, e, C_LL6, 135, N_IP6, SPOOF_MAC);
	if (dropped(e, f, n, -1, "ns-foreign-lladdr"))
		return 1;
	n = frame_icmp6(f, e, in6addr_any.s6_addr, 135, C_IP6); /* DAD of its own */
	if (not_dropped(e, f, n, "dad-own"))
		return 1;
	n = frame_icmp6(f, e, in6addr_any.s6_addr, 135, OTHER_IP6); /* DAD of another's */
	return dropped(e, f, n, -1, "dad-foreign");
}

/* fw_iface_addr moves what passes without touching the chain. */
static int addr_cases(struct env *e)
{
	struct vs_ip ip4 = {.family = AF_INET, .prefix = 32},
		     ip6 = {.family = AF_INET6, .prefix = 128};
	struct vs_error err = {0};
	uint8_t f[256];
	size_t n;

	memcpy(ip4.addr, OTHER_IP4, 4);
	memcpy(ip6.addr, OTHER_IP6, 16);
	if (fw_iface_addr(&e->node, "vsT0", &ip4, true, &err) < 0 ||
	    fw_iface_addr(&e->node, "vsT0", &ip6, true, &err) < 0 ||
	    fw_iface_addr(&e->node, "vsT0", &ip6, true, &err) < 0) /* twice: idempotent */
		return FAIL("fw_iface_addr add: %s", err.msg);
	n = frame_udp4(f, e, C_MAC, OTHER_IP4, 40000, "added4");
	if (pass(e, f, n, e->udp4, "added4"))
		return 1;
	n = frame_udp6(f, e, OTHER_IP6, 40000, "added6");
	if (pass(e, f, n, e->udp6, "added6"))
		return 1;
	if (fw_iface_addr(&e->node, "vsT0", &ip4, false, &err) < 0 ||
	    fw_iface_addr(&e->node, "vsT0", &ip6, false, &err) < 0 ||
	    fw_iface_addr(&e->node, "vsT0", &ip6, false, &err) < 0) /* absent: not an error */
		return FAIL("fw_iface_addr remove: %s", err.msg);
	n = frame_udp4(f, e, C_MAC, OTHER_IP4, 40000, "removed4");
	if (dropped(e, f, n, e->udp4, "removed4"))
		return 1;
	n = frame_udp6(f, e, OTHER_IP6, 40000, "removed6");
	if (dropped(e, f, n, e->udp6, "removed6"))
		return 1;
	/* The container's own address stays. */
	n = frame_udp4(f, e, C_MAC, C_IP4, 40000, "still4");
	return pass(e, f, n, e->udp4, "still4");
}

/* What fw_drops_each saw: how many counters, and vsT0's. */
struct seen_drops {
	size_t n;
	bool t0;
	uint64_t t0_packets;
};

static void on_drops(const char *host_ifname, uint64_t packets, void *arg)
{
	struct seen_drops *s = arg;

	s->n++;
	if (strcmp(host_ifname, "vsT0") == 0)
		s->t0 = true, s->t0_packets = packets;
}

/* The dump of every counter says what the GET of one says, and holds
 * want counters (the table's own only), vsT0's among them when t0. */
static int drops_dump_agrees(const struct env *e, size_t want, bool t0)
{
	struct seen_drops s = {0};
	struct vs_error err = {0};
	uint64_t one;

	if (fw_drops_each(&e->node, on_drops, &s, &err) < 0)
		return FAIL("fw_drops_each: %s", err.msg);
	one = fw_iface_drops(&e->node, "vsT0");
	if (s.t0 != t0 || s.t0_packets != one || s.n != want)
		return FAIL("fw_drops_each: %zu counters (expected %zu), vsT0 %s with %llu, "
			    "fw_iface_drops %llu",
			    s.n, want, s.t0 ? "seen" : "not seen", (unsigned long long)s.t0_packets,
			    (unsigned long long)one);
	return 0;
}

static int child_packets(void)
{
	struct env e;

	/* No table yet: no counters, no error. */
	if (env_init(&e) || drops_dump_agrees(&e, 0, false) || control(&e) || fw_up(&e) ||
	    ipv4_cases(&e) || ipv6_cases(&e) || addr_cases(&e))
		return 1;
	if (fw_iface_drops(&e.node, "vsT0") == 0)
		return FAIL("no drops counted after the drop cases");
	if (drops_dump_agrees(&e, 1, true))
		return 1;
	fprintf(stderr, "test_fw: %llu drops counted\n",
		(unsigned long long)fw_iface_drops(&e.node, "vsT0"));
	return 0;
}

/* What the kernel does with the chain when its device goes, and that
 * fw_iface_add/del cope with either outcome. */
static int child_device_gone(void)
{
	cleanup_free char *l1 = NULL, *l2 = NULL, *l3 = NULL;
	struct vs_error err = {0};
	uint8_t f[256];
	struct env e;
	size_t n;

	if (env_init(&e) || fw_up(&e))
		return 1;
	if (run("ip link del vsT0") < 0)
		return 1;
	l1 = nft_list("netdev", NULL);
	int left = objects_of(l1, "vsT0");
	if (make_veth(&e) < 0)
		return FAIL("veth again");
	/* Is the same-named new device hooked by the old chain? */
	n = frame_udp4(f, &e, SPOOF_MAC, C_IP4, 40000, "rehook");
	uint64_t before = fw_iface_drops(&e.node, "vsT0");
	send_frame(&e, f, n);
	bool rehooked = drops_reach(&e, before + 1) == before + 1;
	if (!rehooked)
		got(e.udp4, "rehook", 500);
	fprintf(stderr,
		"test_fw: device deleted: %d of 4 objects of its chain left; a new device of "
		"the same name is %s\n",
		left, rehooked ? "hooked again by it" : "not hooked");
	/* Replace the leftover (or make it anew), then check it works. */
	if (fw_iface_add(&e.node, &e.ifc, &err) < 0)
		return FAIL("fw_iface_add over a leftover: %s", err.msg);
	n = frame_udp4(f, &e, C_MAC, C_IP4, 40000, "after-replace");
	if (pass(&e, f, n, e.udp4, "after-replace"))
		return 1;
	n = frame_udp4(f, &e, SPOOF_MAC, C_IP4, 40000, "after-replace-spoof");
	if (dropped(&e, f, n, e.udp4, "after-replace-spoof"))
		return 1;
	/* Delete with the device gone, then once more (absent). */
	if (run("ip link del vsT0") < 0 || fw_iface_del(&e.node, "vsT0", &err) < 0 ||
	    fw_iface_del(&e.node, "vsT0", &err) < 0)
		return FAIL("fw_iface_del without its device: %s", err.msg);
	l2 = nft_list("netdev", NULL);
	if (objects_of(l2, "vsT0") != 0 || !strstr(l2, "\"vsd_t\""))
		return FAIL("objects left after fw_iface_del: %s", l2);
	/* And with the device present. */
	if (make_veth(&e) < 0 || fw_iface_add(&e.node, &e.ifc, &err) < 0 ||
	    fw_iface_del(&e.node, "vsT0", &err) < 0)
		return FAIL("add/del with the device: %s", err.msg);
	l3 = nft_list("netdev", NULL);
	if (objects_of(l3, "vsT0") != 0)
		return FAIL("objects left after fw_iface_del: %s", l3);
	return 0;
}

/* The objects an older vsd made for interface x in the instance's table. */
static int add_legacy(const char *x)
{
	return run("nft 'add set netdev vsd_t a4_%s { type ipv4_addr; }; "
		   "add set netdev vsd_t a6_%s { typeof @nh,64,128; flags interval; }; "
		   "add counter netdev vsd_t d_%s; "
		   "add chain netdev vsd_t ifc_%s { type filter hook ingress device \"%s\" "
		   "priority -500; policy drop; }; "
		   "add rule netdev vsd_t ifc_%s ip saddr @a4_%s accept; "
		   "add rule netdev vsd_t ifc_%s counter name \"d_%s\" drop'",
		   x, x, x, x, x, x, x, x, x);
}

/* fw_reconcile keeps exactly the named interfaces, each in its own table
 * and an older vsd's objects in the instance's table; fw_iface_add moves
 * an interface off the latter; fw_node_setup keeps chains and rebuilds
 * NAT. */
static int child_reconcile(void)
{
	struct vs_error err = {0};
	struct vs_net_iface second;
	struct env e;

	if (env_init(&e) || fw_up(&e))
		return 1;
	if (run("ip link add vsT1 type veth peer name vcT1") < 0)
		return 1;
	second = e.ifc;
	snprintf(second.host_ifname, sizeof(second.host_ifname), "vsT1");
	if (fw_iface_add(&e.node, &second, &err) < 0)
		return FAIL("second chain: %s", err.msg);
	/* node setup again (a vsd restart) keeps both chains. */
	if (fw_node_setup(&e.node, &err) < 0)
		return FAIL("setup again: %s", err.msg);
	cleanup_free char *l0 = nft_list("netdev", "vsd_t_vsT0");
	cleanup_free char *l0b = nft_list("netdev", "vsd_t_vsT1");
	if (objects_of(l0, "vsT0") != 4 || objects_of(l0b, "vsT1") != 4)
		return FAIL("fw_node_setup lost chains: %s", l0);
	if (add_legacy("vsT0") < 0 || add_legacy("vsT1") < 0)
		return 1;
	const char *keep[] = {"vsT1", "vsX9"};
	bool old[2] = {false, false};
	if (fw_reconcile(&e.node, keep, 2, old, &err) < 0)
		return FAIL("reconcile: %s", err.msg);
	cleanup_free char *l1 = nft_list("netdev", "vsd_t");
	cleanup_free char *l1a = nft_list("netdev", "vsd_t_vsT0");
	cleanup_free char *l1b = nft_list("netdev", "vsd_t_vsT1");
	if (objects_of(l1, "vsT0") != 0 || objects_of(l1, "vsT1") != 4 || l1a[0] ||
	    objects_of(l1b, "vsT1") != 4)
		return FAIL("reconcile kept the wrong ones: %s / %s", l1, l1b);
	if (!old[0] || old[1])
		return FAIL("reconcile: older objects of vsT1 %s, of vsX9 %s",
			    old[0] ? "seen" : "missed", old[1] ? "seen" : "none");
	/* Rebuilding a kept interface drops an older vsd's objects of it. */
	if (fw_iface_add(&e.node, &second, &err) < 0)
		return FAIL("rebuild: %s", err.msg);
	cleanup_free char *l2 = nft_list("netdev", "vsd_t");
	cleanup_free char *l2b = nft_list("netdev", "vsd_t_vsT1");
	if (objects_of(l2, "vsT1") != 0 || objects_of(l2b, "vsT1") != 4)
		return FAIL("rebuild kept the old objects: %s", l2);
	if (fw_reconcile(&e.node, NULL, 0, NULL, &err) < 0)
		return FAIL("reconcile all: %s", err.msg);
	cleanup_free char *l3 = nft_list("netdev", NULL);
	if (objects_of(l3, "vsT1") != 0 || strstr(l3, "\"chain\""))
		return FAIL("reconcile left chains: %s", l3);
	return 0;
}

static int child_nat(void)
{
	struct vs_error err = {0};
	struct env e;

	if (env_init(&e))
		return 1;
	snprintf(e.node.uplink, sizeof(e.node.uplink), "vsT0");
	e.node.nnat = 2;
	e.node.nat[0] = (struct vs_ip){.family = AF_INET, .addr = {10, 0, 3, 0}, .prefix = 24};
	e.node.nat[1] = (struct vs_ip){.family = AF_INET, .addr = {192, 168, 0, 0}, .prefix = 16};
	if (fw_node_setup(&e.node, &err) < 0 || fw_node_setup(&e.node, &err) < 0)
		return FAIL("nat setup: %s", err.msg);
	cleanup_free char *l1 = nft_list("ip", "vsd_t_nat");
	/* Twice set up: each rule once. */
	int count = occurrences(l1, "\"masquerade\"");
	if (count != 2 || !strstr(l1, "\"10.0.3.0\"") || !strstr(l1, "\"192.168.0.0\"") ||
	    !strstr(l1, "\"vsT0\""))
		return FAIL("nat rules (%d): %s", count, l1);
	e.node.nnat = 0;
	if (fw_node_setup(&e.node, &err) < 0)
		return FAIL("nat off: %s", err.msg);
	cleanup_free char *l2 = nft_list("ip", "vsd_t_nat");
	if (l2[0])
		return FAIL("nat table left: %s", l2);
	return 0;
}

/* fw_iface_police: a policing chain with one limit per rate before the
 * anti-spoofing chain, gone again with rate 0 and with fw_iface_del. */
static int child_police(void)
{
	struct vs_error err = {0};
	uint8_t f[256];
	struct env e;
	size_t n;

	if (env_init(&e) || fw_up(&e))
		return 1;
	if (fw_iface_police(&e.node, "vsT0", 8000000, 16000000, 65536, &err) < 0 ||
	    fw_iface_police(&e.node, "vsT0", 8000000, 16000000, 65536, &err) < 0)
		return FAIL("police: %s", err.msg);
	cleanup_free char *l1 = nft_list("netdev", NULL);
	int limits = occurrences(l1, "\"limit\"");
	if (!strstr(l1, "\"eg_vsT0\"") || limits != 2)
		return FAIL("police: %d limits: %s", limits, l1);
	/* Within the rate the anti-spoofing chain still decides. */
	n = frame_udp4(f, &e, C_MAC, C_IP4, 40000, "policed");
	if (pass(&e, f, n, e.udp4, "policed"))
		return 1;
	n = frame_udp4(f, &e, SPOOF_MAC, C_IP4, 40000, "policed-spoof");
	if (dropped(&e, f, n, e.udp4, "policed-spoof"))
		return 1;
	if (fw_iface_police(&e.node, "vsT0", 0, 0, 0, &err) < 0)
		return FAIL("police off: %s", err.msg);
	cleanup_free char *l2 = nft_list("netdev", NULL);
	if (strstr(l2, "\"eg_vsT0\"") || objects_of(l2, "vsT0") != 4)
		return FAIL("police off: %s", l2);
	if (fw_iface_police(&e.node, "vsT0", 8000000, 0, 65536, &err) < 0 ||
	    fw_iface_del(&e.node, "vsT0", &err) < 0)
		return FAIL("police then del: %s", err.msg);
	cleanup_free char *l3 = nft_list("netdev", NULL);
	if (strstr(l3, "\"eg_vsT0\"") || objects_of(l3, "vsT0") != 0)
		return FAIL("police then del left objects: %s", l3);
	return 0;
}

/* Names that could smuggle nft syntax are refused before any script. */
static int child_names(void)
{
	struct vs_net_node node = {0};
	struct vs_net_iface ifc = {0};
	struct vs_error err = {0};
	struct vs_ip ip = {.family = AF_INET, .addr = {10, 0, 0, 1}, .prefix = 32};

	if (unshare(CLONE_NEWNET) < 0)
		return FAIL("unshare");
	snprintf(node.fw_table, sizeof(node.fw_table), "vsd_t");
	snprintf(ifc.host_ifname, sizeof(ifc.host_ifname), "a\";flush");
	memcpy(ifc.mac, C_MAC, 6);
	if (fw_iface_add(&node, &ifc, &err) == 0 || err.kind != VS_EK_INVALID)
		return FAIL("bad host_ifname accepted");
	if (fw_iface_del(&node, "x y", &err) == 0 || fw_iface_addr(&node, "", &ip, true, &err) == 0)
		return FAIL("bad name accepted");
	snprintf(node.fw_table, sizeof(node.fw_table), "t;flush");
	if (fw_node_setup(&node, &err) == 0 || err.kind != VS_EK_INVALID)
		return FAIL("bad table accepted");
	snprintf(node.fw_table, sizeof(node.fw_table), "vsd_t");
	snprintf(ifc.host_ifname, sizeof(ifc.host_ifname), "vsT0");
	memset(ifc.mac, 0, 6);
	if (fw_iface_add(&node, &ifc, &err) == 0)
		return FAIL("zero MAC accepted");
	/* An nft error comes back as the message. */
	if (fw_iface_addr(&node, "vsT0", &ip, true, &err) == 0 || !strstr(err.msg, "nftables"))
		return FAIL("missing set not reported: '%s'", err.msg);
	return 0;
}

/* ------------------------------------------------------------ scale */

/* Netlink traffic of the calls under test, counted by interposing the
 * socket calls: a definition here takes precedence over libc's for the
 * test's own code, for libvsd.a and for libmnl (whose PLT resolves to the
 * executable first). Only netlink sockets are counted; the counts are what
 * the scale case compares, since a count cannot flake and a time can. */
static unsigned long nl_sent_bytes, nl_recv_msgs;

static bool is_netlink(int fd)
{
	int domain = 0;
	socklen_t len = sizeof(domain);

	return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_NETLINK;
}

/* Netlink messages in a datagram of n bytes. */
static void count_recv(int fd, const void *buf, ssize_t n)
{
	if (n <= 0 || !is_netlink(fd))
		return;
	for (const struct nlmsghdr *h = buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n))
		nl_recv_msgs++;
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *a,
	       socklen_t alen)
{
	static ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	if (!real)
		real = dlsym(RTLD_NEXT, "sendto");
	ssize_t r = real(fd, buf, len, flags, a, alen);
	if (r > 0 && is_netlink(fd))
		nl_sent_bytes += (unsigned long)r;
	return r;
}

ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	static ssize_t (*real)(int, const struct msghdr *, int);
	if (!real)
		real = dlsym(RTLD_NEXT, "sendmsg");
	ssize_t r = real(fd, m, flags);
	if (r > 0 && is_netlink(fd))
		nl_sent_bytes += (unsigned long)r;
	return r;
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	static ssize_t (*real)(int, void *, size_t, int);
	if (!real)
		real = dlsym(RTLD_NEXT, "recv");
	ssize_t r = real(fd, buf, len, flags);
	if (!(flags & MSG_PEEK))
		count_recv(fd, buf, r);
	return r;
}

ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	static ssize_t (*real)(int, struct msghdr *, int);
	if (!real)
		real = dlsym(RTLD_NEXT, "recvmsg");
	ssize_t r = real(fd, m, flags);
	if (!(flags & MSG_PEEK) && r > 0 && m->msg_iovlen == 1)
		count_recv(fd, m->msg_iov[0].iov_base, r);
	return r;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One interface's operations, timed (mean of reps) and counted (the last
 * repetition's netlink traffic). */
struct op_cost {
	double ms[3];		/* add, drops, del */
	unsigned long msgs[3];	/* netlink messages received */
	unsigned long bytes[3]; /* netlink bytes sent */
};

static int measure_ops(struct env *e, int reps, struct op_cost *c)
{
	struct vs_error err = {0};

	*c = (struct op_cost){0};
	for (int i = 0; i < reps; i++) {
		for (int op = 0; op < 3; op++) {
			nl_sent_bytes = nl_recv_msgs = 0;
			double t0 = now_ms();
			int r = op == 0	  ? fw_iface_add(&e->node, &e->ifc, &err)
				: op == 1 ? (fw_iface_drops(&e->node, "vsT0"), 0)
					  : fw_iface_del(&e->node, "vsT0", &err);
			c->ms[op] += (now_ms() - t0) / reps;
			c->msgs[op] = nl_recv_msgs, c->bytes[op] = nl_sent_bytes;
			if (r < 0)
				return FAIL("scale: operation %d: %s", op, err.msg);
		}
	}
	return 0;
}

/* n other interfaces' tables (a hooked chain with 12 rules, both sets, a
 * counter: about what vsd makes), made by nft in one script so that
 * making them is quick. */
static int add_others(int n)
{
	char path[] = "/tmp/test_fw_scale.XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (!f)
		return FAIL("scale: script: %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		fprintf(f, "add table netdev vsd_t_vsF%d\n", i);
		fprintf(f, "add set netdev vsd_t_vsF%d a4_vsF%d { type ipv4_addr; }\n", i, i);
		fprintf(f,
			"add set netdev vsd_t_vsF%d a6_vsF%d { typeof @nh,64,128; flags "
			"interval; }\n",
			i, i);
		fprintf(f, "add counter netdev vsd_t_vsF%d d_vsF%d\n", i, i);
		fprintf(f,
			"add chain netdev vsd_t_vsF%d ifc_vsF%d { type filter hook ingress device "
			"\"vsF%d\" priority -500; policy drop; }\n",
			i, i, i);
		for (int k = 0; k < 10; k++)
			fprintf(f,
				"add rule netdev vsd_t_vsF%d ifc_vsF%d meta protocol ip udp sport "
				"%d counter name \"d_vsF%d\" drop\n",
				i, i, 60 + k, i);
		fprintf(f, "add rule netdev vsd_t_vsF%d ifc_vsF%d ip saddr @a4_vsF%d accept\n", i,
			i, i);
		fprintf(f, "add rule netdev vsd_t_vsF%d ifc_vsF%d counter name \"d_vsF%d\" drop\n",
			i, i, i);
	}
	fclose(f);
	int r = run("nft -f %s", path);
	unlink(path);
	return r;
}

/* An operation on one interface costs the same whatever else the table
 * holds: the same netlink messages with VSD_FW_SCALE (500) other
 * interfaces as with none. Times are printed, never asserted. */
static int child_scale(void)
{
	const char *env = getenv("VSD_FW_SCALE");
	const char *name[3] = {"fw_iface_add", "fw_iface_drops", "fw_iface_del"};
	int n = env ? atoi(env) : 500;
	struct op_cost c0, c1;
	struct env e;

	if (env_init(&e) || fw_up(&e))
		return 1;
	if (measure_ops(&e, 20, &c0) < 0 || add_others(n) < 0 || measure_ops(&e, 5, &c1) < 0)
		return 1;
	/* One dump sees every interface's counter: the others' (measure_ops
	 * deleted vsT0's objects last). */
	if (drops_dump_agrees(&e, (size_t)n, false))
		return 1;
	for (int op = 0; op < 3; op++)
		fprintf(stderr,
			"test_fw: %-14s %8.3f ms alone, %8.3f ms with %d others (x%.2f); "
			"netlink messages received %lu / %lu, bytes sent %lu / %lu\n",
			name[op], c0.ms[op], c1.ms[op], n, c1.ms[op] / c0.ms[op], c0.msgs[op],
			c1.msgs[op], c0.bytes[op], c1.bytes[op]);
	for (int op = 0; op < 3; op++)
		if (c1.msgs[op] != c0.msgs[op] || c1.bytes[op] != c0.bytes[op])
			return FAIL("scale: %s exchanges more netlink traffic with %d other "
				    "interfaces' objects in the table",
				    name[op], n);
	/* The others' tables were made by nft: reconcile removes them all in
	 * one batch. */
	struct vs_error err = {0};
	double t0 = now_ms();
	if (fw_reconcile(&e.node, NULL, 0, NULL, &err) < 0)
		return FAIL("scale: reconcile: %s", err.msg);
	fprintf(stderr, "test_fw: fw_reconcile of %d interfaces: %.1f ms\n", n, now_ms() - t0);
	cleanup_free char *l = nft_list("netdev", NULL);
	if (strstr(l, "\"chain\"") || strstr(l, "\"set\"") || strstr(l, "\"counter\""))
		return FAIL("scale: reconcile left objects");
	return 0;
}

/* ------------------------------------------------------------ driver */

static void in_child(int (*fn)(void))
{
	if (geteuid() != 0)
		skip();
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	/* exit(), not _exit(): under ASan the leak check runs in the child,
	 * where the firewall calls were made. */
	if (pid == 0)
		exit(fn());
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_packets(void **state)
{
	in_child(child_packets);
}
static void test_device_gone(void **state)
{
	in_child(child_device_gone);
}
static void test_reconcile(void **state)
{
	in_child(child_reconcile);
}
static void test_nat(void **state)
{
	in_child(child_nat);
}
static void test_names(void **state)
{
	in_child(child_names);
}
static void test_police(void **state)
{
	in_child(child_police);
}
static void test_scale(void **state)
{
	in_child(child_scale);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_packets),   cmocka_unit_test(test_device_gone),
	    cmocka_unit_test(test_reconcile), cmocka_unit_test(test_nat),
	    cmocka_unit_test(test_names),     cmocka_unit_test(test_scale),
	    cmocka_unit_test(test_police),
	};
	if (geteuid() != 0)
		fprintf(stderr,
			"test_fw: not root, the cases skip (they need unshare(CLONE_NEWNET))\n");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
