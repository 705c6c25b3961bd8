/* netns: the loopback of a fresh network namespace, and the network models
 * (attach, detach, restore, live addresses, shaping, reconcile) between a
 * private "node" namespace and a private "container" namespace, checked by
 * reading the kernel's state back with ip(8) and tc(8) (independent of the
 * code under test). Root only (unshare(CLONE_NEWNET)); skipped otherwise.
 * Each case runs in a forked child that reports through its exit status,
 * so the test process itself never changes namespace and nothing it makes
 * outlives the child (its namespaces die with it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netns/nl-private.h"
#include "netns/vs_netns.h"

enum {
	OK = 0,
	E_UNSHARE = 10,
	E_ALREADY_UP,
	E_CALL,
	E_NOT_UP,
	E_FLAGS,
	E_CAPS,
	E_NO_ERROR,
	E_WRONG_ERROR,
	E_CHECK,
};

/* In a child: report the failed condition and fail the case. */
#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);      \
			return E_CHECK;                                                            \
		}                                                                                  \
	} while (0)
#define CALL(c)                                                                                    \
	do {                                                                                       \
		struct vs_error err_ = {0};                                                        \
		if ((c)(&err_) < 0) {                                                              \
			fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #c, err_.msg);      \
			return E_CALL;                                                             \
		}                                                                                  \
	} while (0)

/* lo's flags in the calling thread's namespace, or -1. */
static int lo_flags(void)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	r = ioctl(fd, SIOCGIFFLAGS, &ifr);
	close(fd);
	return r < 0 ? -1 : ifr.ifr_flags;
}

static int child_up(void)
{
	struct vs_error err = {0};
	int flags;

	if (unshare(CLONE_NEWNET) < 0)
		return E_UNSHARE;
	if ((flags = lo_flags()) < 0)
		return E_FLAGS;
	/* Fresh namespaces start with lo down. */
	if (flags & IFF_UP)
		return E_ALREADY_UP;
	/* Twice: the second call finds it up and must succeed as well. */
	for (int i = 0; i < 2; i++) {
		if (vs_net_loopback_up(&err) < 0) {
			fprintf(stderr, "vs_net_loopback_up: %s\n", err.msg);
			return E_CALL;
		}
		if ((flags = lo_flags()) < 0)
			return E_FLAGS;
		if (!(flags & IFF_UP))
			return E_NOT_UP;
	}
	return OK;
}

/* Without CAP_NET_ADMIN the kernel refuses; the error must say so. */
static int child_no_cap(void)
{
	struct vs_error err = {0};
	cap_value_t net_admin = CAP_NET_ADMIN;
	cap_t caps;
	int r;

	if (unshare(CLONE_NEWNET) < 0)
		return E_UNSHARE;
	caps = cap_get_proc();
	if (caps == NULL)
		return E_CAPS;
	r = cap_set_flag(caps, CAP_EFFECTIVE, 1, &net_admin, CAP_CLEAR);
	if (r == 0)
		r = cap_set_proc(caps);
	cap_free(caps);
	if (r < 0)
		return E_CAPS;
	if (vs_net_loopback_up(&err) == 0)
		return E_NO_ERROR;
	if (err.errnum != EPERM || strstr(err.msg, "loopback") == NULL) {
		fprintf(stderr, "unexpected error: %d %s\n", err.errnum, err.msg);
		return E_WRONG_ERROR;
	}
	if ((r = lo_flags()) < 0)
		return E_FLAGS;
	return r & IFF_UP ? E_ALREADY_UP : OK;
}

static int run_child(int (*fn)(void))
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0)
		exit(fn()); /* exit, not _exit: LeakSanitizer checks the child */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_loopback_up(void **state)
{
	if (geteuid() != 0)
		skip();
	assert_int_equal(run_child(child_up), OK);
}

static void test_loopback_error(void **state)
{
	if (geteuid() != 0)
		skip();
	assert_int_equal(run_child(child_no_cap), OK);
}

/* ---- the network models between a node and a container namespace ---- */

/* The node (the child's own namespace after unshare) and a container: a
 * second namespace held by ct, never entered by the test itself. */
static struct {
	int ct;
	char in[96]; /* command prefix that runs a program inside */
	struct vs_net_node node;
} env;

#define HOST0 "vs1a2b0000010"
#define HOST1 "vs1a2b0000011"
/* The egress policing chain of HOST0. */
#define POLICE0 "nft list chain netdev vsd_1a2b_" HOST0 " eg_" HOST0

/* Output of a shell command (run in the calling process's namespace). */
static char *run(const char *fmt, ...)
{
	char cmd[512], *out = NULL;
	size_t len = 0;
	va_list ap;
	FILE *f, *m = open_memstream(&out, &len);

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	f = popen(cmd, "r");
	if (f != NULL) {
		char buf[4096];
		size_t n;

		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			fwrite(buf, 1, n, m);
		pclose(f);
	}
	fclose(m);
	return out;
}

/* Whether the command's output contains needle; prints it when not as
 * expected. */
static bool shows(bool want, const char *needle, const char *cmd)
{
	char *out = run("%s 2>&1", cmd);
	bool has = strstr(out, needle) != NULL;

	if (has != want)
		fprintf(stderr, "'%s' %s '%s':\n%s\n", cmd, want ? "lacks" : "shows", needle, out);
	free(out);
	return has == want;
}
#define HAS(needle, ...)                                                                           \
	do {                                                                                       \
		char c_[512];                                                                      \
		snprintf(c_, sizeof(c_), __VA_ARGS__);                                             \
		CHECK(shows(true, needle, c_));                                                    \
	} while (0)
#define LACKS(needle, ...)                                                                         \
	do {                                                                                       \
		char c_[512];                                                                      \
		snprintf(c_, sizeof(c_), __VA_ARGS__);                                             \
		CHECK(shows(false, needle, c_));                                                   \
	} while (0)

static void ip_parse(const char *s, struct vs_ip *ip)
{
	char buf[64], *slash;

	snprintf(buf, sizeof(buf), "%s", s);
	ip->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	slash = strchr(buf, '/');
	ip->prefix = ip->family == AF_INET ? 32 : 128;
	if (slash) {
		*slash = '\0';
		ip->prefix = (uint8_t)atoi(slash + 1);
	}
	inet_pton(ip->family, buf, ip->addr);
}

static int env_setup(void)
{
	int home;

	if (unshare(CLONE_NEWNET) < 0)
		return E_UNSHARE;
	CALL(vs_net_loopback_up);
	/* No duplicate address detection on links made from here on: the
	 * announcements need a usable link-local source on the uplink. */
	CHECK(system("echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad") == 0);
	/* The uplink: a veth whose peer stays here too (no dummy links in
	 * every kernel). */
	CHECK(system("ip link add up0 type veth peer name up0p && ip link set up0 up && "
		     "ip link set up0p up") == 0);
	home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	CHECK(home >= 0);
	CHECK(unshare(CLONE_NEWNET) == 0);
	env.ct = open("/proc/thread-self/ns/net", O_RDONLY); /* nsenter reopens it */
	CHECK(env.ct >= 0 && setns(home, CLONE_NEWNET) == 0);
	close(home);
	snprintf(env.in, sizeof(env.in), "nsenter --net=/proc/%d/fd/%d ", (int)getpid(), env.ct);
	memset(&env.node, 0, sizeof(env.node));
	snprintf(env.node.uplink, sizeof(env.node.uplink), "up0");
	snprintf(env.node.bridge, sizeof(env.node.bridge), "vsbr1a2b");
	snprintf(env.node.id, sizeof(env.node.id), "1a2b");
	snprintf(env.node.fw_table, sizeof(env.node.fw_table), "vsd_1a2b");
	env.node.npools = 1;
	snprintf(env.node.pools[0].network, sizeof(env.node.pools[0].network), "vsbr1a2b");
	ip_parse("10.0.3.0/24", &env.node.pools[0].net);
	return OK;
}

static void iface(struct vs_net_iface *ifc, int n, enum vs_net_model model, const char *bridge)
{
	static const uint8_t mac[6] = {0x02, 0x12, 0x34, 0x56, 0x78, 0x90};

	memset(ifc, 0, sizeof(*ifc));
	snprintf(ifc->name, sizeof(ifc->name), "eth%d", n);
	ifc->model = model;
	snprintf(ifc->bridge, sizeof(ifc->bridge), "%s", bridge ? bridge : "");
	snprintf(ifc->host_ifname, sizeof(ifc->host_ifname), "vs1a2b000001%d", n);
	memcpy(ifc->mac, mac, 6);
	ifc->mac[5] = (uint8_t)(0x90 + n);
}

static void add_addr(struct vs_net_iface *ifc, const char *s)
{
	ip_parse(s, &ifc->addrs[ifc->naddrs++]);
}

/* eth0 routed (203.0.113.5, 2001:db8::5), eth1 bridged on vsd's bridge. */
static void two_ifaces(struct vs_net_config *net)
{
	memset(net, 0, sizeof(*net));
	net->nifaces = 2;
	iface(&net->ifaces[0], 0, VS_NET_ROUTED, NULL);
	add_addr(&net->ifaces[0], "203.0.113.5");
	add_addr(&net->ifaces[0], "2001:db8::5");
	iface(&net->ifaces[1], 1, VS_NET_BRIDGED, "vsbr1a2b");
	add_addr(&net->ifaces[1], "10.0.3.5/24");
	ip_parse("10.0.3.1", &net->ifaces[1].gateway4);
}

static int attach(const struct vs_net_config *net)
{
	struct vs_error err = {0};

	if (vs_net_attach(&env.node, net, env.ct, &err) < 0) {
		fprintf(stderr, "vs_net_attach: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int node_setup(struct vs_error *err)
{
	return vs_net_node_setup(&env.node, err);
}

static bool file_is(const char *path, const char *want)
{
	char buf[64] = "";
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return false;
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, want) != 0)
		fprintf(stderr, "%s is '%s', not '%s'\n", path, buf, want);
	return strcmp(buf, want) == 0;
}

/* A UDP datagram from the node to 203.0.113.5 and the answer back: the
 * host route, the veth, and the container's default route via
 * 169.254.0.1 onlink. */
struct udp_args {
	int fd;
};
static int udp_cb(void *arg, struct vs_error *err)
{
	struct udp_args *a = arg;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(5000)};

	inet_pton(AF_INET, "203.0.113.5", &sa.sin_addr);
	a->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (a->fd < 0 || bind(a->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return vs_error_set(err, errno, "bind in the container");
	return 0;
}

static int udp_round_trip(void)
{
	struct udp_args a = {-1};
	struct vs_error err = {0};
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(5000)}, from;
	socklen_t flen = sizeof(from);
	struct timeval tv = {2, 0};
	char buf[8];
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	CHECK(vs_in_netns(env.ct, udp_cb, &a, &err) == 0);
	inet_pton(AF_INET, "203.0.113.5", &to.sin_addr);
	setsockopt(a.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	CHECK(sendto(fd, "ping", 4, 0, (struct sockaddr *)&to, sizeof(to)) == 4);
	CHECK(recvfrom(a.fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen) == 4);
	CHECK(sendto(a.fd, "pong", 4, 0, (struct sockaddr *)&from, flen) == 4);
	CHECK(recv(fd, buf, sizeof(buf), 0) == 4 && memcmp(buf, "pong", 4) == 0);
	close(fd);
	close(a.fd);
	return OK;
}

/* The state vs_net_attach promises for two_ifaces(). */
static int check_attached(void)
{
	/* Node side, routed. */
	HAS("veth", "ip -d link show " HOST0);
	HAS(",UP", "ip link show " HOST0);
	HAS("inet 169.254.0.1/32 scope link", "ip addr show dev " HOST0);
	HAS("inet6 fe80::1/64 scope link", "ip addr show dev " HOST0);
	HAS("203.0.113.5 dev " HOST0 " proto 86 scope link", "ip route");
	HAS("unreachable 203.0.113.5 proto 86 metric 4000", "ip route");
	HAS("2001:db8::5 dev " HOST0, "ip -6 route");
	HAS("unreachable 2001:db8::5 dev lo proto 86 metric 4000", "ip -6 route");
	HAS("203.0.113.5 dev up0 proxy", "ip neigh show proxy");
	HAS("2001:db8::5 dev up0 proxy", "ip -6 neigh show proxy");
	/* Node side, bridged: an isolated port of vsd's bridge. */
	HAS("master vsbr1a2b", "ip -d link show " HOST1);
	HAS("isolated on", "ip -d link show " HOST1);
	LACKS("10.0.3.5", "ip route");
	/* The firewall's chain of each interface. */
	HAS("chain ifc_" HOST0, "nft list table netdev vsd_1a2b_" HOST0);
	HAS("chain ifc_" HOST1, "nft list table netdev vsd_1a2b_" HOST1);
	/* Inside. */
	HAS("link/ether 02:12:34:56:78:90", "%sip link show eth0", env.in);
	HAS("link/ether 02:12:34:56:78:91", "%sip link show eth1", env.in);
	HAS("inet 203.0.113.5/32", "%sip addr show dev eth0", env.in);
	HAS("inet6 2001:db8::5/128", "%sip addr show dev eth0", env.in);
	HAS("inet 10.0.3.5/24", "%sip addr show dev eth1", env.in);
	HAS("default via 169.254.0.1 dev eth0 proto static onlink", "%sip route", env.in);
	HAS("default via 10.0.3.1 dev eth1 proto static metric 1", "%sip route", env.in);
	HAS("default via fe80::1 dev eth0 proto static metric 1024", "%sip -6 route", env.in);
	LACKS("vs1a2b", "%sip link", env.in);
	return OK;
}

static int check_detached(bool standby)
{
	LACKS("vs1a2b", "ip link");
	LACKS("vi1a2b", "ip link");
	LACKS("vp1a2b", "ip link");
	LACKS("eth", "%sip link", env.in);
	LACKS("proxy", "ip neigh show proxy");
	LACKS("proxy", "ip -6 neigh show proxy");
	LACKS("203.0.113.5 dev", "ip route");
	LACKS("chain ifc_", "nft list ruleset netdev");
	if (standby) {
		HAS("unreachable 203.0.113.5 proto 86 metric 4000", "ip route");
		HAS("unreachable 2001:db8::5 dev lo proto 86 metric 4000", "ip -6 route");
	} else {
		LACKS("203.0.113.5", "ip route");
		LACKS("2001:db8::5", "ip -6 route");
	}
	return OK;
}

static int child_attach_detach(void)
{
	struct vs_net_config net;
	struct vs_error err = {0};
	int r;

	if ((r = env_setup()) != OK)
		return r;
	CALL(node_setup);
	/* Twice: idempotent. */
	CALL(node_setup);
	CHECK(file_is("/proc/sys/net/ipv4/ip_forward", "1"));
	CHECK(file_is("/proc/sys/net/ipv6/conf/all/forwarding", "1"));
	CHECK(file_is("/proc/sys/net/ipv6/conf/up0/proxy_ndp", "1"));
	HAS("inet 10.0.3.1/24", "ip addr show dev vsbr1a2b");
	two_ifaces(&net);
	CHECK(vs_net_check(&env.node, &net, &err) == 0);
	CHECK(attach(&net) == 0);
	if ((r = check_attached()) != OK)
		return r;
	if ((r = udp_round_trip()) != OK)
		return r;
	CHECK(vs_net_detach(&env.node, &net, true, &err) == 0);
	if ((r = check_detached(true)) != OK)
		return r;
	/* Again (a suspended container that is then stopped): idempotent, and
	 * now the standby routes go too. */
	CHECK(vs_net_detach(&env.node, &net, false, &err) == 0);
	CHECK(vs_net_detach(&env.node, &net, false, &err) == 0);
	return check_detached(false);
}

/* The index of the pair named host: both ends carry it (the inside's link
 * ifname shows it first in `ip -o link`). */
static bool pair_at(const char *host, const char *ifname, int want)
{
	char needle[64];
	char *out = run("%sip -o link show %s", env.in, ifname);
	bool ok;

	snprintf(needle, sizeof(needle), "%d: %s@", want, ifname);
	ok = (int)if_nametoindex(host) == want && out != NULL &&
	     strncmp(out, needle, strlen(needle)) == 0;
	if (!ok)
		fprintf(stderr, "%s: index %u, inside: %s (want %d)\n", host, if_nametoindex(host),
			out ? out : "", want);
	free(out);
	return ok;
}

/* Both ends of a pair at vs_net_veth_ifindex's index (what CRIU re-creates
 * at restore), the next try's when a node link holds the first. */
static int child_pair_index(void)
{
	struct vs_net_config net;
	char cmd[128];
	int taken, r;

	if ((r = env_setup()) != OK)
		return r;
	CALL(node_setup);
	taken = vs_net_veth_ifindex(HOST0, 0);
	snprintf(cmd, sizeof(cmd), "ip link add blk0 index %d type veth peer name blk0p", taken);
	CHECK(system(cmd) == 0);
	CHECK((int)if_nametoindex("blk0") == taken);
	two_ifaces(&net);
	CHECK(attach(&net) == 0);
	CHECK(pair_at(HOST0, "eth0", vs_net_veth_ifindex(HOST0, 1)));
	CHECK(pair_at(HOST1, "eth1", vs_net_veth_ifindex(HOST1, 0)));
	return udp_round_trip();
}

/* The range and the tries of vs_net_veth_ifindex. */
static void test_veth_ifindex(void **state)
{
	int a = vs_net_veth_ifindex(HOST0, 0), b = vs_net_veth_ifindex(HOST1, 0);

	assert_true(a >= VS_NET_IFINDEX_BASE && a <= INT_MAX);
	assert_true(b >= VS_NET_IFINDEX_BASE && b <= INT_MAX);
	assert_int_not_equal(a, b);
	assert_int_equal(vs_net_veth_ifindex(HOST0, 0), a);
	assert_int_equal(vs_net_veth_ifindex(HOST0, 1), a == INT_MAX ? VS_NET_IFINDEX_BASE : a + 1);
	/* Every try stays in the range, wrapping at its end. */
	for (unsigned i = 0; i < 4; i++) {
		int x = vs_net_veth_ifindex(HOST0, (unsigned)(INT_MAX - a) + i);

		assert_int_equal(x, i == 0 ? INT_MAX : VS_NET_IFINDEX_BASE + (int)i - 1);
	}
}

/* A private network: its ports see each other (not isolated). */
static int child_private_bridge(void)
{
	struct vs_net_config net = {0};
	int r;

	if ((r = env_setup()) != OK)
		return r;
	CHECK(system("ip link add lan0 type bridge") == 0);
	env.node.nprivate = 1;
	snprintf(env.node.private_bridges[0], sizeof(env.node.private_bridges[0]), "lan0");
	net.nifaces = 1;
	iface(&net.ifaces[0], 0, VS_NET_BRIDGED, "lan0");
	add_addr(&net.ifaces[0], "2001:db8:1::5/64");
	ip_parse("2001:db8:1::1", &net.ifaces[0].gateway6);
	CHECK(attach(&net) == 0);
	HAS("master lan0", "ip -d link show " HOST0);
	HAS("isolated off", "ip -d link show " HOST0);
	HAS("inet6 2001:db8:1::5/64", "%sip addr show dev eth0", env.in);
	HAS("default via 2001:db8:1::1 dev eth0 proto static metric 1024", "%sip -6 route", env.in);
	LACKS("default", "%sip -4 route", env.in);
	LACKS("2001:db8:1::5", "ip -6 route");
	return OK;
}

/* A bridge that does not exist: check refuses it, attach leaves nothing
 * (the routed interface before it is undone). */
static int child_attach_fails(void)
{
	struct vs_net_config net;
	struct vs_error err = {0};
	int r;

	if ((r = env_setup()) != OK)
		return r;
	two_ifaces(&net);
	snprintf(net.ifaces[1].bridge, sizeof(net.ifaces[1].bridge), "nosuchbr");
	CHECK(vs_net_check(&env.node, &net, &err) < 0);
	CHECK(err.kind == VS_EK_INVALID);
	CHECK(strstr(err.msg, "net.interfaces[1].bridge") != NULL);
	CHECK(vs_net_attach(&env.node, &net, env.ct, &err) < 0);
	CHECK(strstr(err.msg, "nosuchbr") != NULL);
	if ((r = check_detached(false)) != OK)
		return r;
	/* An uplink that does not exist. */
	snprintf(env.node.uplink, sizeof(env.node.uplink), "nosuch0");
	CHECK(vs_net_node_setup(&env.node, &err) < 0);
	CHECK(err.kind == VS_EK_INVALID && strstr(err.msg, "--uplink") != NULL &&
	      strstr(err.msg, "nosuch0") != NULL);
	LACKS("vsbr1a2b", "ip link");
	return OK;
}

static int child_addr_live(void)
{
	struct vs_net_config net = {0};
	struct vs_error err = {0};
	struct vs_ip a4, a6;
	int r;

	if ((r = env_setup()) != OK)
		return r;
	/* IPv6 only at first: no IPv4 default route inside. */
	net.nifaces = 1;
	iface(&net.ifaces[0], 0, VS_NET_ROUTED, NULL);
	add_addr(&net.ifaces[0], "2001:db8::5");
	CHECK(attach(&net) == 0);
	LACKS("default", "%sip -4 route", env.in);
	ip_parse("203.0.113.6", &a4);
	ip_parse("2001:db8::6", &a6);
	CHECK(vs_net_addr_add(&env.node, &net, 0, &a4, env.ct, &err) == 0);
	CHECK(vs_net_addr_add(&env.node, &net, 0, &a6, env.ct, &err) == 0);
	HAS("inet 203.0.113.6/32", "%sip addr show dev eth0", env.in);
	HAS("inet6 2001:db8::6/128", "%sip addr show dev eth0", env.in);
	HAS("default via 169.254.0.1 dev eth0 proto static onlink", "%sip route", env.in);
	HAS("203.0.113.6 dev " HOST0, "ip route");
	HAS("unreachable 203.0.113.6 proto 86 metric 4000", "ip route");
	HAS("203.0.113.6 dev up0 proxy", "ip neigh show proxy");
	HAS("2001:db8::6 dev up0 proxy", "ip -6 neigh show proxy");
	CHECK(vs_net_addr_del(&env.node, &net, 0, &a4, env.ct, &err) == 0);
	CHECK(vs_net_addr_del(&env.node, &net, 0, &a6, env.ct, &err) == 0);
	/* Twice: removing what is gone is fine. */
	CHECK(vs_net_addr_del(&env.node, &net, 0, &a4, env.ct, &err) == 0);
	LACKS("203.0.113.6", "%sip addr", env.in);
	LACKS("2001:db8::6", "%sip addr", env.in);
	LACKS("203.0.113.6", "ip route");
	LACKS("2001:db8::6", "ip -6 route");
	LACKS("203.0.113.6", "ip neigh show proxy");
	LACKS("2001:db8::6", "ip -6 neigh show proxy");
	HAS("2001:db8::5 dev up0 proxy", "ip -6 neigh show proxy");
	/* A failed add leaves nothing: no such interface inside any more. */
	CHECK(vs_net_addr_add(&env.node, &net, 3, &a4, env.ct, &err) < 0);
	snprintf(net.ifaces[0].name, sizeof(net.ifaces[0].name), "eth9");
	CHECK(vs_net_addr_add(&env.node, &net, 0, &a4, env.ct, &err) < 0);
	LACKS("203.0.113.6", "ip route");
	LACKS("203.0.113.6", "ip neigh show proxy");
	return OK;
}

static int child_shaping(void)
{
	struct vs_net_config net = {0};
	struct vs_net_ifstats st;
	struct vs_error err = {0};
	bool fq_codel;
	int r;

	if ((r = env_setup()) != OK)
		return r;
	fq_codel = system("tc qdisc add dev up0p root fq_codel 2>/dev/null") == 0;
	net.nifaces = 1;
	iface(&net.ifaces[0], 0, VS_NET_ROUTED, NULL);
	add_addr(&net.ifaces[0], "203.0.113.5");
	net.shaping.egress_rate = 10000000;
	net.shaping.egress_peak = 20000000;
	net.shaping.egress_burst = 256 * 1024;
	net.shaping.ingress_rate = 5000000;
	CHECK(attach(&net) == 0);
	/* The container receives through the node side's root TBF. */
	HAS("qdisc tbf 1: root", "tc qdisc show dev " HOST0);
	HAS("rate 5Mbit burst 128Kb", "tc qdisc show dev " HOST0);
	/* fq_codel under it where the kernel has it; otherwise TBF's own FIFO
	 * (tc hides it; " lat " shows its limit is set). */
	HAS(fq_codel ? "qdisc fq_codel 10: parent 1:1" : " lat ", "tc qdisc show dev " HOST0);
	/* What it sends is policed before the anti-spoofing chain (no ifb:
	 * its redirect would skip that chain). */
	LACKS("ingress", "tc qdisc show dev " HOST0);
	HAS("limit rate over 1250000 bytes/second burst 256 kbytes", POLICE0);
	HAS("limit rate over 2500000 bytes/second", POLICE0);
	HAS("priority -510", POLICE0);
	if ((r = udp_round_trip()) != OK)
		return r;
	CHECK(vs_net_stats(&env.node, &net, 0, &st, &err) == 0);
	CHECK(st.egress_packets >= 1 && st.ingress_packets >= 1);
	CHECK(st.egress_bytes >= 32 && st.ingress_bytes >= 32);
	/* The scrape's table (three dumps) says the same of the interface. */
	{
		cleanup_net_stats struct vs_net_stats_table *tab = NULL;
		struct vs_net_ifstats all;
		CHECK(vs_net_stats_all(&env.node, &tab, &err) == 0);
		CHECK(vs_net_stats_of(tab, &net, 0, &all, &err) == 1);
		CHECK(memcmp(&all, &st, sizeof(st)) == 0);
	}
	/* Changed live; above 32 bits of bytes per second (TCA_TBF_RATE64). */
	net.shaping.ingress_rate = 50000000000LL;
	net.shaping.egress_peak = 0;
	CHECK(vs_net_shaping_apply(&env.node, &net, &err) == 0);
	HAS("rate 50Gbit", "tc qdisc show dev " HOST0);
	LACKS("2500000 bytes/second", POLICE0);
	/* Removed. */
	memset(&net.shaping, 0, sizeof(net.shaping));
	CHECK(vs_net_shaping_apply(&env.node, &net, &err) == 0);
	CHECK(vs_net_shaping_apply(&env.node, &net, &err) == 0);
	LACKS("tbf", "tc qdisc show dev " HOST0);
	LACKS("ingress", "tc qdisc show dev " HOST0);
	LACKS("limit rate", "nft list ruleset netdev");
	CHECK(vs_net_stats(&env.node, &net, 0, &st, &err) == 0);
	CHECK(vs_net_detach(&env.node, &net, false, &err) == 0);
	/* Gone: zeros, no error. */
	CHECK(vs_net_stats(&env.node, &net, 0, &st, &err) == 0 && st.egress_packets == 0);
	{
		cleanup_net_stats struct vs_net_stats_table *tab = NULL;
		CHECK(vs_net_stats_all(&env.node, &tab, &err) == 0);
		CHECK(vs_net_stats_of(tab, &net, 0, &st, &err) == 0 && st.egress_packets == 0);
	}
	return OK;
}

/* After a restore the node side is down and bare (CRIU recreates it so). */
static int child_restored(void)
{
	struct vs_net_config net;
	struct vs_error err = {0};
	int r;

	if ((r = env_setup()) != OK)
		return r;
	CALL(node_setup);
	two_ifaces(&net);
	net.shaping.ingress_rate = 1000000;
	CHECK(attach(&net) == 0);
	CHECK(system("ip link set " HOST0 " down && ip addr flush dev " HOST0
		     " && ip link set " HOST1 " down nomaster && tc qdisc del dev " HOST0
		     " root") == 0);
	LACKS("169.254.0.1", "ip addr show dev " HOST0);
	if (vs_net_restored(&env.node, &net, env.ct, &err) < 0) {
		fprintf(stderr, "vs_net_restored: %s\n", err.msg);
		return E_CALL;
	}
	if ((r = check_attached()) != OK)
		return r;
	HAS("rate 1Mbit", "tc qdisc show dev " HOST0);
	return udp_round_trip();
}

/* A packet socket that sees every frame arriving at link name, with a
 * short receive timeout; -1 on failure. */
static int sniffer(const char *name)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	sll.sll_ifindex = (int)if_nametoindex(name);
	if (fd < 0 || sll.sll_ifindex == 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -1;
	return fd;
}

/* Read frames from fd until one is dst, src, type and payload (or the
 * socket stays silent): true when it came. */
static bool frame_seen(int fd, const uint8_t dst[6], const uint8_t src[6], uint16_t type,
		       const uint8_t *payload, size_t len)
{
	uint8_t f[2048];
	ssize_t n;

	while ((n = recv(fd, f, sizeof(f), 0)) >= 0)
		if ((size_t)n >= 14 + len && memcmp(f, dst, 6) == 0 && memcmp(f + 6, src, 6) == 0 &&
		    (f[12] << 8 | f[13]) == type && memcmp(f + 14, payload, len) == 0)
			return true;
	return false;
}

/* vs_net_announce puts the frames on the wire: the routed addresses from
 * the uplink with the uplink's MAC (seen at its peer), the bridged one from
 * inside the container with its own MAC, entering the bridge through its
 * port (seen on the bridge). */
static int child_announce(void)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t all_nodes[6] = {0x33, 0x33, 0, 0, 0, 1};
	struct vs_net_config net;
	struct vs_error err = {0};
	struct ifreq ifr = {0};
	uint8_t up_mac[6], arp[VS_ANNOUNCE_ARP_LEN], na[VS_ANNOUNCE_NA_LEN];
	int r, up, br, fd;

	if ((r = env_setup()) != OK)
		return r;
	CALL(node_setup);
	two_ifaces(&net);
	CHECK(attach(&net) == 0);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "up0");
	CHECK(fd >= 0 && ioctl(fd, SIOCGIFHWADDR, &ifr) == 0);
	close(fd);
	memcpy(up_mac, ifr.ifr_hwaddr.sa_data, 6);
	CHECK((up = sniffer("up0p")) >= 0 && (br = sniffer("vsbr1a2b")) >= 0);
	if (vs_net_announce(&env.node, &net, env.ct, &err) < 0) {
		fprintf(stderr, "vs_net_announce: %s\n", err.msg);
		return E_CALL;
	}
	vs_announce_arp_build(arp, up_mac, net.ifaces[0].addrs[0].addr);
	CHECK(frame_seen(up, bcast, up_mac, ETH_P_ARP, arp, sizeof(arp)));
	vs_announce_na_build(na, up_mac, net.ifaces[0].addrs[1].addr);
	CHECK(frame_seen(up, all_nodes, up_mac, ETH_P_IPV6, na, sizeof(na)));
	vs_announce_arp_build(arp, net.ifaces[1].mac, net.ifaces[1].addrs[0].addr);
	CHECK(frame_seen(br, bcast, net.ifaces[1].mac, ETH_P_ARP, arp, sizeof(arp)));
	/* Without an uplink the routed addresses have nobody to tell; the
	 * bridged one is still announced. */
	env.node.uplink[0] = '\0';
	CHECK(vs_net_announce(&env.node, &net, env.ct, &err) == 0);
	CHECK(frame_seen(br, bcast, net.ifaces[1].mac, ETH_P_ARP, arp, sizeof(arp)));
	/* A link gone inside: an error naming the interface. */
	{
		char cmd[160];
		snprintf(cmd, sizeof(cmd), "%sip link del eth1", env.in);
		CHECK(system(cmd) == 0);
	}
	CHECK(vs_net_announce(&env.node, &net, env.ct, &err) < 0);
	CHECK(strstr(err.msg, "eth1") != NULL);
	close(up);
	close(br);
	return OK;
}

/* Leftovers of a dead vsd: links of containers that are not running go,
 * those of running ones stay; proxy entries and standby routes of stopped
 * containers go. */
static int child_reconcile(void)
{
	struct vs_net_config run1 = {0}, stop1 = {0};
	const struct vs_net_config *running[] = {&run1}, *stopped[] = {&stop1};
	struct vs_error err = {0};
	int r;

	if ((r = env_setup()) != OK)
		return r;
	run1.nifaces = 1;
	iface(&run1.ifaces[0], 0, VS_NET_ROUTED, NULL);
	add_addr(&run1.ifaces[0], "203.0.113.5");
	CHECK(attach(&run1) == 0);
	stop1.nifaces = 1;
	iface(&stop1.ifaces[0], 1, VS_NET_ROUTED, NULL);
	add_addr(&stop1.ifaces[0], "203.0.113.7");
	CHECK(system("ip link add " HOST1 " type veth peer name vp1a2b0000011 && "
		     "ip link add other0 type bridge && "
		     "ip route add unreachable 203.0.113.7 metric 4000 proto 86 && "
		     "ip neigh add proxy 203.0.113.7 dev up0 protocol 86 && "
		     "ip route add unreachable 203.0.113.8 metric 4000 proto static && "
		     "ip neigh add proxy 203.0.113.8 dev up0") == 0);
	/* run1's chain as an older vsd made it: in the instance's table. */
	CHECK(system("nft 'delete table netdev vsd_1a2b_" HOST0 "; add table netdev vsd_1a2b; "
		     "add set netdev vsd_1a2b a4_" HOST0 " { type ipv4_addr; }; "
		     "add chain netdev vsd_1a2b ifc_" HOST0 " { type filter hook ingress device "
		     "\"" HOST0 "\" priority -500; policy drop; }; "
		     "add rule netdev vsd_1a2b ifc_" HOST0 " ip saddr @a4_" HOST0 " accept'") == 0);
	/* stop1 is stopped: only run1 is passed as running. Entries marked as
	 * vsd's for an address no running container has go (also when no
	 * config names them: a destroyed container's); the operator's stay. */
	(void)stopped;
	CHECK(vs_net_reconcile(&env.node, running, 1, &err) == 0);
	/* The older chain of a running container is rebuilt in its own table. */
	HAS("chain ifc_" HOST0, "nft list table netdev vsd_1a2b_" HOST0);
	LACKS("ifc_", "nft list table netdev vsd_1a2b");
	HAS(HOST0, "ip link");
	HAS("other0", "ip link");
	LACKS(HOST1, "ip link");
	LACKS("vp1a2b", "ip link");
	LACKS("203.0.113.7", "ip route");
	LACKS("203.0.113.7", "ip neigh show proxy");
	HAS("unreachable 203.0.113.8", "ip route show table all");
	HAS("203.0.113.8 dev up0 proxy", "ip neigh show proxy");
	HAS("203.0.113.5 dev " HOST0, "ip route");
	HAS("203.0.113.5 dev up0 proxy", "ip neigh show proxy");
	HAS("inet 203.0.113.5/32", "%sip addr show dev eth0", env.in);
	return OK;
}

/* A setns into something that is not a network namespace fails and leaves
 * the thread where it was. */
static int child_netns_error(void)
{
	struct vs_nl nl;
	struct vs_error err = {0};
	struct stat before, after;
	int fd = open("/", O_RDONLY);

	CHECK(stat("/proc/thread-self/ns/net", &before) == 0);
	CHECK(vs_nl_open_in(&nl, fd, &err) < 0);
	CHECK(err.errnum == EINVAL);
	CHECK(stat("/proc/thread-self/ns/net", &after) == 0);
	CHECK(before.st_ino == after.st_ino);
	return OK;
}

static bool file_shows(const char *path, const char *needle, bool want)
{
	char buf[4096] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	bool has = n >= 0 && strstr(buf, needle) != NULL;

	if (fd >= 0)
		close(fd);
	if (has != want)
		fprintf(stderr, "%s %s '%s':\n%s\n", path, want ? "lacks" : "shows", needle, buf);
	return has == want;
}
#define file_has(path, needle) file_shows(path, needle, true)

static bool write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	bool ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);

	if (fd >= 0)
		close(fd);
	return ok;
}

static char dns_dir[64];

/* /etc of the current root: written atomically, symlinks and "# vsd: keep"
 * files left alone. The child chroots into a tmpfs of its own mount
 * namespace (no shell in there: plain calls). */
static int child_dns(void)
{
	struct vs_net_config net;
	struct vs_error err = {0};
	struct stat st;
	DIR *d;
	struct dirent *de;

	two_ifaces(&net);
	net.nnameservers = 2;
	ip_parse("10.0.3.1", &net.nameservers[0]);
	ip_parse("2001:db8::53", &net.nameservers[1]);
	CHECK(unshare(CLONE_NEWNS) == 0);
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	CHECK(mount("tmpfs", dns_dir, "tmpfs", 0, "size=1m") == 0);
	CHECK(chroot(dns_dir) == 0 && chdir("/") == 0 && mkdir("/etc", 0755) == 0);
	CHECK(write_file("/etc/resolv.conf", "nameserver 9.9.9.9 # vsd: keep\n"));
	CHECK(symlink("/nowhere", "/etc/hosts") == 0);
	CHECK(vs_net_write_dns(&net, "web.example.com", &err) == 0);
	CHECK(file_has("/etc/resolv.conf", "9.9.9.9"));
	CHECK(lstat("/etc/hosts", &st) == 0 && S_ISLNK(st.st_mode));
	CHECK(unlink("/etc/resolv.conf") == 0 && unlink("/etc/hosts") == 0);
	CHECK(write_file("/etc/resolv.conf", "nameserver 9.9.9.9\n"));
	CHECK(vs_net_write_dns(&net, "web.example.com", &err) == 0);
	CHECK(file_has("/etc/resolv.conf", "nameserver 10.0.3.1\nnameserver 2001:db8::53\n"));
	CHECK(file_shows("/etc/resolv.conf", "9.9.9.9", false));
	CHECK(file_has("/etc/hosts", "203.0.113.5\tweb.example.com web\n"));
	CHECK(file_has("/etc/hosts", "2001:db8::5\tweb.example.com web\n"));
	CHECK(file_has("/etc/hosts", "127.0.0.1\tlocalhost"));
	/* No temporary file left behind. */
	CHECK((d = opendir("/etc")) != NULL);
	while ((de = readdir(d)) != NULL)
		CHECK(strstr(de->d_name, "tmp") == NULL);
	closedir(d);
	/* /etc a symlink: nothing is written through it. */
	CHECK(rename("/etc", "/real") == 0 && symlink("/real", "/etc") == 0);
	CHECK(unlink("/real/hosts") == 0);
	CHECK(vs_net_write_dns(&net, "web", &err) == 0);
	CHECK(stat("/real/hosts", &st) < 0 && errno == ENOENT);
	return OK;
}

/* _exit: in the chroot there is no /proc for LeakSanitizer to read. */
static int child_dns_chrooted(void)
{
	_exit(child_dns());
}

static void test_write_dns(void **state)
{
	if (geteuid() != 0)
		skip();
	snprintf(dns_dir, sizeof(dns_dir), "/tmp/vs-dns-XXXXXX");
	assert_non_null(mkdtemp(dns_dir));
	int r = run_child(child_dns_chrooted);
	rmdir(dns_dir);
	assert_int_equal(r, OK);
}

#define ROOT_CASE(name, fn)                                                                        \
	static void name(void **state)                                                             \
	{                                                                                          \
		if (geteuid() != 0)                                                                \
			skip();                                                                    \
		assert_int_equal(run_child(fn), OK);                                               \
	}
ROOT_CASE(test_attach_detach, child_attach_detach)
ROOT_CASE(test_private_bridge, child_private_bridge)
ROOT_CASE(test_attach_fails, child_attach_fails)
ROOT_CASE(test_addr_live, child_addr_live)
ROOT_CASE(test_shaping, child_shaping)
ROOT_CASE(test_restored, child_restored)
ROOT_CASE(test_announce, child_announce)
ROOT_CASE(test_reconcile, child_reconcile)
ROOT_CASE(test_netns_error, child_netns_error)
ROOT_CASE(test_pair_index, child_pair_index)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_loopback_up),	  cmocka_unit_test(test_loopback_error),
	    cmocka_unit_test(test_attach_detach), cmocka_unit_test(test_private_bridge),
	    cmocka_unit_test(test_attach_fails),  cmocka_unit_test(test_addr_live),
	    cmocka_unit_test(test_shaping),	  cmocka_unit_test(test_restored),
	    cmocka_unit_test(test_announce),	  cmocka_unit_test(test_reconcile),
	    cmocka_unit_test(test_netns_error),	  cmocka_unit_test(test_write_dns),
	    cmocka_unit_test(test_veth_ifindex),  cmocka_unit_test(test_pair_index),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
