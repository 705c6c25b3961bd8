/* The network flags of create and set. Each value is checked here with the
 * lib parsers (addresses, rates, sizes, MACs, interface names), so bad input
 * fails with exit 2 naming the flag before any request; values go to the
 * daemon as given, which checks them again and allocates what is missing. */
#include "cli/cli.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "lib/vs_util.h"
#include "lib/vs_validate.h"

enum {
	OPT_NET = 1100,
	OPT_IP,
	OPT_GATEWAY,
	OPT_MAC,
	OPT_NAMESERVER,
	OPT_SHAPE, /* six: egress rate, peak, burst, ingress rate, peak, burst */
	OPT_IP_ADD = OPT_SHAPE + 6,
	OPT_IP_DEL,
};

static const char *const shape_keys[6] = {"egress_rate",  "egress_peak",  "egress_burst",
					  "ingress_rate", "ingress_peak", "ingress_burst"};
static const char *const shape_flags[6] = {"--egress-rate",  "--egress-peak",  "--egress-burst",
					   "--ingress-rate", "--ingress-peak", "--ingress-burst"};

size_t vc_net_options(struct option *out, size_t max, bool set)
{
	static const struct option base[] = {
	    {"net", required_argument, NULL, OPT_NET},
	    {"ip", required_argument, NULL, OPT_IP},
	    {"gateway", required_argument, NULL, OPT_GATEWAY},
	    {"mac", required_argument, NULL, OPT_MAC},
	    {"nameserver", required_argument, NULL, OPT_NAMESERVER},
	    {"egress-rate", required_argument, NULL, OPT_SHAPE},
	    {"egress-peak", required_argument, NULL, OPT_SHAPE + 1},
	    {"egress-burst", required_argument, NULL, OPT_SHAPE + 2},
	    {"ingress-rate", required_argument, NULL, OPT_SHAPE + 3},
	    {"ingress-peak", required_argument, NULL, OPT_SHAPE + 4},
	    {"ingress-burst", required_argument, NULL, OPT_SHAPE + 5},
	    {"ip-add", required_argument, NULL, OPT_IP_ADD},
	    {"ip-del", required_argument, NULL, OPT_IP_DEL},
	};
	size_t n = 0, want = VS_ARRAY_SIZE(base) - (set ? 0 : 2);

	for (size_t i = 0; i < want && n < max; i++)
		out[n++] = base[i];
	return n;
}

/* The interface the latest --net started (--ip before any --net starts a
 * routed one). NULL with err when there is none. */
static struct vc_net_iface_args *latest(struct vc_net_args *a, const char *flag, bool start,
					struct vs_error *err)
{
	if (a->nifaces == 0 && start) {
		a->ifaces[0] = (struct vc_net_iface_args){.model = "routed"};
		a->nifaces = 1;
	}
	if (a->nifaces == 0) {
		vc_usage(err, "%s: give --net or --ip first (it applies to the latest interface)",
			 flag);
		return NULL;
	}
	return &a->ifaces[a->nifaces - 1];
}

static int opt_net(const char *arg, struct vc_net_args *a, bool set, struct vs_error *err)
{
	struct vs_error e = {0};
	const char *bridge = NULL;

	if (set && strcmp(arg, "none") == 0) {
		a->ifaces_none = true;
		return 1;
	}
	if (a->nifaces == VS_NET_IFACES_MAX)
		return vc_usage(err, "--net: at most %d interfaces", VS_NET_IFACES_MAX);
	if (strncmp(arg, "bridged:", 8) == 0) {
		bridge = arg + 8;
		if (vs_validate_ifname(bridge, "--net", &e) < 0)
			return vc_usage(err, "%s", e.msg);
	} else if (strcmp(arg, "routed") != 0 && strcmp(arg, "bridged") != 0) {
		return vc_usage(err, "--net: expected routed, bridged or bridged:BRIDGE, got '%s'",
				arg);
	}
	a->ifaces[a->nifaces++] = (struct vc_net_iface_args){
	    .model = arg[0] == 'r' ? "routed" : "bridged",
	    .bridge = bridge,
	};
	return 1;
}

static int opt_ip(const char *arg, struct vc_net_args *a, struct vs_error *err)
{
	struct vc_net_iface_args *ifc = latest(a, "--ip", true, err);
	struct vs_error e = {0};
	struct vs_ip ip;

	if (vs_parse_ip(arg, "--ip", true, &ip, &e) < 0)
		return vc_usage(err, "%s", e.msg);
	if (strcmp(ifc->model, "routed") == 0 && ip.prefix != (ip.family == AF_INET ? 32 : 128))
		return vc_usage(err,
				"--ip: '%s': a routed address is a single host (/32 or /128); "
				"the node routes it",
				arg);
	if (ifc->naddrs == VS_NET_ADDRS_MAX)
		return vc_usage(err, "--ip: at most %d addresses per interface", VS_NET_ADDRS_MAX);
	ifc->addrs[ifc->naddrs++] = arg;
	return 1;
}

/* --gateway: its family says whether it is gateway4 or gateway6. IPv6
 * routers are often link-local (fe80::1), which vs_parse_ip refuses for
 * interface addresses, so the syntax is all that is checked here. */
static int opt_gateway(const char *arg, struct vc_net_args *a, struct vs_error *err)
{
	struct vc_net_iface_args *ifc = latest(a, "--gateway", false, err);
	uint8_t buf[16];
	const char **slot;

	if (ifc == NULL)
		return VC_ERR_USAGE;
	if (inet_pton(AF_INET, arg, buf) == 1)
		slot = &ifc->gw4;
	else if (inet_pton(AF_INET6, arg, buf) == 1)
		slot = &ifc->gw6;
	else
		return vc_usage(err, "--gateway: '%s' is not an IPv4 or IPv6 address", arg);
	if (*slot != NULL)
		return vc_usage(err, "--gateway: interface %zu has an %s gateway already",
				a->nifaces - 1, slot == &ifc->gw4 ? "IPv4" : "IPv6");
	*slot = arg;
	return 1;
}

static int opt_simple(int c, const char *arg, bool set, struct vc_net_args *a, struct vs_error *err)
{
	struct vs_error e = {0};
	struct vs_ip ip;
	uint8_t mac[6];
	int64_t v;

	if (c == OPT_MAC) {
		struct vc_net_iface_args *ifc = latest(a, "--mac", false, err);
		if (ifc == NULL)
			return VC_ERR_USAGE;
		if (vs_parse_mac(arg, "--mac", mac, &e) < 0)
			return vc_usage(err, "%s", e.msg);
		ifc->mac = arg;
		return 1;
	}
	if (c == OPT_NAMESERVER) {
		if (set && strcmp(arg, "none") == 0) {
			a->nameservers_none = true;
			return 1;
		}
		if (vs_parse_ip(arg, "--nameserver", true, &ip, &e) < 0)
			return vc_usage(err, "%s", e.msg);
		if (strchr(arg, '/') != NULL)
			return vc_usage(
			    err, "--nameserver: '%s': expected an address without a prefix", arg);
		if (a->nnameservers == VS_NET_NAMESERVERS_MAX)
			return vc_usage(err, "--nameserver: at most %d", VS_NET_NAMESERVERS_MAX);
		a->nameservers[a->nnameservers++] = arg;
		return 1;
	}
	int i = c - OPT_SHAPE;
	if (!(set && strcmp(arg, "none") == 0) &&
	    (i % 3 == 2 ? vs_parse_size(arg, shape_flags[i], &v, &e)
			: vs_parse_rate(arg, shape_flags[i], &v, &e)) < 0)
		return vc_usage(err, "%s", e.msg);
	a->shaping[i] = arg;
	return 1;
}

/* --ip-add ADDR[/PREFIX][@IFACE] and --ip-del ADDR (set only). */
static int opt_add_del(int c, const char *arg, struct vc_net_args *a, struct vs_error *err)
{
	const char *flag = c == OPT_IP_ADD ? "--ip-add" : "--ip-del";
	const char *at = c == OPT_IP_ADD ? strchr(arg, '@') : NULL;
	cleanup_free char *addr = at ? xstrndup(arg, (size_t)(at - arg)) : xstrdup(arg);
	struct vs_error e = {0};
	struct vs_ip ip;
	size_t *n = c == OPT_IP_ADD ? &a->nadd : &a->ndel;

	if (vs_parse_ip(addr, flag, true, &ip, &e) < 0 ||
	    (at != NULL && vs_validate_ifname(at + 1, flag, &e) < 0))
		return vc_usage(err, "%s", e.msg);
	if (*n == VS_NET_ADDRS_MAX)
		return vc_usage(err, "%s: at most %d addresses at once", flag, VS_NET_ADDRS_MAX);
	(c == OPT_IP_ADD ? a->add : a->del)[(*n)++] = arg;
	return 1;
}

int vc_net_opt(int c, const char *arg, bool set, struct vc_net_args *a, struct vs_error *err)
{
	int r;

	switch (c) {
	case OPT_NET:
		r = opt_net(arg, a, set, err);
		break;
	case OPT_IP:
		r = opt_ip(arg, a, err);
		break;
	case OPT_GATEWAY:
		r = opt_gateway(arg, a, err);
		break;
	case OPT_IP_ADD:
	case OPT_IP_DEL:
		r = set ? opt_add_del(c, arg, a, err) : 0;
		break;
	default:
		if (c != OPT_MAC && c != OPT_NAMESERVER && (c < OPT_SHAPE || c >= OPT_SHAPE + 6))
			return 0;
		r = opt_simple(c, arg, set, a, err);
	}
	if (r == 1)
		a->any = true;
	return r;
}

int vc_net_check(const struct vc_net_args *a, struct vs_error *err)
{
	if ((a->nifaces > 0 || a->ifaces_none) && (a->nadd > 0 || a->ndel > 0))
		return vc_usage(err, "--net/--ip replace the interfaces (container stopped); they "
				     "cannot come with --ip-add or --ip-del");
	if (a->nifaces > 0 && a->ifaces_none)
		return vc_usage(err, "--net none cannot come with another --net or --ip");
	return 0;
}

static void gen_ifaces(struct vs_jgen *g, const struct vc_net_args *a)
{
	vs_jgen_key(g, "interfaces");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < a->nifaces; i++) {
		const struct vc_net_iface_args *f = &a->ifaces[i];
		vs_jgen_obj_open(g);
		vs_jgen_kv_str(g, "model", f->model);
		if (f->bridge != NULL)
			vs_jgen_kv_str(g, "bridge", f->bridge);
		if (f->naddrs > 0) {
			vs_jgen_key(g, "addresses");
			vs_jgen_arr_open(g);
			for (size_t j = 0; j < f->naddrs; j++)
				vs_jgen_str(g, f->addrs[j]);
			vs_jgen_arr_close(g);
		}
		if (f->mac != NULL)
			vs_jgen_kv_str(g, "mac", f->mac);
		if (f->gw4 != NULL)
			vs_jgen_kv_str(g, "gateway4", f->gw4);
		if (f->gw6 != NULL)
			vs_jgen_kv_str(g, "gateway6", f->gw6);
		vs_jgen_obj_close(g);
	}
	vs_jgen_arr_close(g);
}

/* nameservers and shaping, the same in both bodies ("none": null). */
static void gen_common(struct vs_jgen *g, const struct vc_net_args *a)
{
	bool shaping = false;

	if (a->nameservers_none) {
		vs_jgen_key(g, "nameservers");
		vs_jgen_null(g);
	} else if (a->nnameservers > 0) {
		vs_jgen_key(g, "nameservers");
		vs_jgen_arr_open(g);
		for (size_t i = 0; i < a->nnameservers; i++)
			vs_jgen_str(g, a->nameservers[i]);
		vs_jgen_arr_close(g);
	}
	for (int i = 0; i < 6; i++)
		shaping = shaping || a->shaping[i] != NULL;
	if (!shaping)
		return;
	vs_jgen_key(g, "shaping");
	vs_jgen_obj_open(g);
	for (int i = 0; i < 6; i++) {
		if (a->shaping[i] == NULL)
			continue;
		vs_jgen_key(g, shape_keys[i]);
		if (strcmp(a->shaping[i], "none") == 0)
			vs_jgen_null(g);
		else
			vs_jgen_str(g, a->shaping[i]);
	}
	vs_jgen_obj_close(g);
}

void vc_net_gen_create(struct vs_jgen *g, const struct vc_net_args *a)
{
	if (!a->any)
		return;
	vs_jgen_key(g, "net");
	vs_jgen_obj_open(g);
	if (a->nifaces > 0)
		gen_ifaces(g, a);
	gen_common(g, a);
	vs_jgen_obj_close(g);
}

void vc_net_gen_update(struct vs_jgen *g, const struct vc_net_args *a)
{
	if (!a->any)
		return;
	vs_jgen_key(g, "net");
	vs_jgen_obj_open(g);
	if (a->nadd > 0) {
		vs_jgen_key(g, "add");
		vs_jgen_arr_open(g);
		for (size_t i = 0; i < a->nadd; i++) {
			const char *at = strchr(a->add[i], '@');
			cleanup_free char *addr =
			    at ? xstrndup(a->add[i], (size_t)(at - a->add[i])) : xstrdup(a->add[i]);
			vs_jgen_obj_open(g);
			vs_jgen_kv_str(g, "address", addr);
			if (at != NULL)
				vs_jgen_kv_str(g, "interface", at + 1);
			vs_jgen_obj_close(g);
		}
		vs_jgen_arr_close(g);
	}
	if (a->ndel > 0) {
		vs_jgen_key(g, "remove");
		vs_jgen_arr_open(g);
		for (size_t i = 0; i < a->ndel; i++)
			vs_jgen_str(g, a->del[i]);
		vs_jgen_arr_close(g);
	}
	if (a->nifaces > 0 || a->ifaces_none)
		gen_ifaces(g, a);
	gen_common(g, a);
	vs_jgen_obj_close(g);
}
