/* Links (RTM_*LINK): lookups, veth pairs, bridges and their ports,
 * up/down and deletion; and the loopback
 * of vs_net_loopback_up. */
#include "netns/vs_netns.h"

#include <errno.h>
#include <linux/if_bridge.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "netns/nl-private.h"

/* An RTM_NEWLINK request for the link ifindex in buf (VS_NL_REQ_SIZE):
 * the caller sets flags in *ifm or adds attributes. */
static struct nlmsghdr *link_msg(char *buf, int ifindex, struct ifinfomsg **ifm)
{
	struct nlmsghdr *nlh = vs_nl_msg(buf, RTM_NEWLINK, 0);

	*ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(**ifm));
	(*ifm)->ifi_family = AF_UNSPEC;
	(*ifm)->ifi_index = ifindex;
	return nlh;
}

int vs_nl_link_set_up(struct vs_nl *nl, int ifindex, bool up, const char *what,
		      struct vs_error *err)
{
	char buf[VS_NL_REQ_SIZE];
	struct ifinfomsg *ifm;
	struct nlmsghdr *nlh = link_msg(buf, ifindex, &ifm);

	/* ifi_change masks which flags this request changes. */
	ifm->ifi_change = IFF_UP;
	ifm->ifi_flags = up ? IFF_UP : 0;
	return vs_nl_talk(nl, nlh, NULL, NULL, what, err);
}

int vs_net_loopback_up(struct vs_error *err)
{
	cleanup_nl struct vs_nl nl = {0};
	unsigned int lo = if_nametoindex("lo");

	/* In a fresh namespace lo is index 1, but ask rather than assume. */
	if (lo == 0)
		return vs_error_set(err, errno, "bring up loopback: no 'lo' interface");
	if (vs_nl_open(&nl, err) < 0)
		return vs_error_prefix(err, "bring up loopback");
	return vs_nl_link_set_up(&nl, (int)lo, true, "bring up loopback: RTM_NEWLINK lo up", err);
}

/* Attribute validation for IFLA_*: only the types we read. */
static int link_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (mnl_attr_type_valid(a, IFLA_MAX) < 0)
		return MNL_CB_OK;
	switch (type) {
	case IFLA_IFNAME:
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
			return MNL_CB_ERROR;
		break;
	case IFLA_MASTER:
		if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
			return MNL_CB_ERROR;
		break;
	case IFLA_STATS64:
		if (mnl_attr_validate2(a, MNL_TYPE_UNSPEC, sizeof(struct rtnl_link_stats64)) < 0)
			return MNL_CB_ERROR;
		break;
	case IFLA_LINKINFO:
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0)
			return MNL_CB_ERROR;
		break;
	}
	tb[type] = a;
	return MNL_CB_OK;
}

static void link_read_info(const struct nlattr *info, struct vs_nl_link *l)
{
	const struct nlattr *a, *b;

	mnl_attr_for_each_nested(a, info)
	{
		int t = mnl_attr_get_type(a);

		if (t == IFLA_INFO_KIND && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			snprintf(l->kind, sizeof(l->kind), "%s", mnl_attr_get_str(a));
		/* A bridge port's flags come as the port's "slave data". */
		if (t != IFLA_INFO_SLAVE_DATA || mnl_attr_validate(a, MNL_TYPE_NESTED) < 0)
			continue;
		mnl_attr_for_each_nested(b, a)
		{
			if (mnl_attr_get_type(b) == IFLA_BRPORT_ISOLATED &&
			    mnl_attr_validate(b, MNL_TYPE_U8) == 0)
				l->isolated = mnl_attr_get_u8(b) != 0;
		}
	}
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct vs_nl_link *l = data;
	const struct nlattr *tb[IFLA_MAX + 1] = {0};
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

	if (mnl_attr_parse(nlh, sizeof(*ifm), link_attr_cb, tb) < 0)
		return MNL_CB_ERROR;
	l->index = ifm->ifi_index;
	l->flags = ifm->ifi_flags;
	if (tb[IFLA_MASTER])
		l->master = (int)mnl_attr_get_u32(tb[IFLA_MASTER]);
	if (tb[IFLA_ADDRESS] && mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == 6)
		memcpy(l->mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]), 6);
	if (tb[IFLA_STATS64])
		memcpy(&l->stats, mnl_attr_get_payload(tb[IFLA_STATS64]), sizeof(l->stats));
	if (tb[IFLA_LINKINFO])
		link_read_info(tb[IFLA_LINKINFO], l);
	return MNL_CB_OK;
}

static int link_query(struct vs_nl *nl, const char *name, struct vs_nl_link *out,
		      struct vs_error *err)
{
	char buf[VS_NL_REQ_SIZE];
	struct nlmsghdr *nlh = vs_nl_msg(buf, RTM_GETLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));

	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return vs_nl_talk(nl, nlh, link_cb, out, "RTM_GETLINK", err);
}

int vs_nl_link_get(struct vs_nl *nl, const char *name, struct vs_nl_link *out, struct vs_error *err)
{
	struct vs_error e = {0};

	memset(out, 0, sizeof(*out));
	if (link_query(nl, name, out, &e) < 0) {
		if (e.errnum == ENODEV)
			return 0;
		*err = e;
		return vs_error_prefix(err, "look up link %s", name);
	}
	return 1;
}

int vs_nl_link_index(struct vs_nl *nl, const char *name, struct vs_error *err)
{
	struct vs_nl_link l;
	int r = vs_nl_link_get(nl, name, &l, err);

	return r <= 0 ? r : l.index;
}

struct dump_ctx {
	void (*fn)(const char *name, const struct vs_nl_link *l, void *arg);
	void *arg;
};

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *c = data;
	const struct nlattr *tb[IFLA_MAX + 1] = {0};
	struct vs_nl_link l = {0};

	if (mnl_attr_parse(nlh, sizeof(struct ifinfomsg), link_attr_cb, tb) < 0 ||
	    link_cb(nlh, &l) < 0)
		return MNL_CB_ERROR;
	if (tb[IFLA_IFNAME])
		c->fn(mnl_attr_get_str(tb[IFLA_IFNAME]), &l, c->arg);
	return MNL_CB_OK;
}

int vs_nl_link_dump(struct vs_nl *nl,
		    void (*fn)(const char *name, const struct vs_nl_link *l, void *arg), void *arg,
		    struct vs_error *err)
{
	char buf[VS_NL_REQ_SIZE];
	struct nlmsghdr *nlh = vs_nl_msg(buf, RTM_GETLINK, NLM_F_DUMP);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	struct dump_ctx c = {fn, arg};

	ifm->ifi_family = AF_UNSPEC;
	return vs_nl_talk(nl, nlh, dump_cb, &c, "list links: RTM_GETLINK", err);
}

struct each_ctx {
	void (*fn)(const char *name, void *arg);
	void *arg;
};

static void each_name(const char *name, const struct vs_nl_link *l, void *arg)
{
	struct each_ctx *c = arg;

	c->fn(name, c->arg);
}

int vs_nl_link_each(struct vs_nl *nl, void (*fn)(const char *name, void *arg), void *arg,
		    struct vs_error *err)
{
	struct each_ctx c = {fn, arg};

	return vs_nl_link_dump(nl, each_name, &c, err);
}

int vs_nl_veth_create(struct vs_nl *nl, const char *host, const char *peer, int peer_netns,
		      int ifindex, const uint8_t mac[6], struct vs_error *err)
{
	char buf[VS_NL_REQ_SIZE];
	struct nlmsghdr *nlh = vs_nl_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	struct nlattr *info, *data, *peer_nest;
	struct ifinfomsg *pifm;

	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, host);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	/* VETH_INFO_PEER carries a whole ifinfomsg and its attributes. */
	peer_nest = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	pifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifm));
	pifm->ifi_family = AF_UNSPEC;
	/* veth_newlink takes the peer's index only when the first end has
	 * one too. */
	pifm->ifi_index = ifindex;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
	mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	/* The peer is registered in its namespace from the start: no
	 * dev_change_net_namespace and its RCU grace periods. */
	if (peer_netns >= 0)
		mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_netns);
	mnl_attr_nest_end(nlh, peer_nest);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	if (vs_nl_talk(nl, nlh, NULL, NULL, "RTM_NEWLINK veth", err) < 0)
		return vs_error_prefix(err, "create veth pair %s/%s", host, peer);
	return 0;
}

int vs_nl_link_eui64(struct vs_nl *nl, int ifindex, struct vs_error *err)
{
	char buf[VS_NL_REQ_SIZE];
	struct ifinfomsg *ifm;
	struct nlmsghdr *nlh = link_msg(buf, ifindex, &ifm);
	struct nlattr *spec, *in6;

	spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	in6 = mnl_attr_nest_start(nlh, AF_INET6);
	mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_EUI64);
	mnl_attr_nest_end(nlh, in6);
	mnl_attr_nest_end(nlh, spec);
	return vs_nl_talk(nl, nlh, NULL, NULL, "set addr_gen_mode eui64: RTM_NEWLINK", err);
}

int vs_nl_link_create(struct vs_nl *nl, const char *name, const char *kind, struct vs_error *err)
{
	char buf[VS_NL_REQ_SIZE];
	struct nlmsghdr *nlh = vs_nl_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	struct nlattr *info;

	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
	mnl_attr_nest_end(nlh, info);
	if (vs_nl_talk(nl, nlh, NULL, NULL, "RTM_NEWLINK", err) < 0)
		return vs_error_prefix(err, "create %s %s", kind, name);
	return 0;
}

int vs_nl_link_set_mac(struct vs_nl *nl, int ifindex, const uint8_t mac[6], struct vs_error *err)
{
	char buf[VS_NL_REQ_SIZE];
	struct ifinfomsg *ifm;
	struct nlmsghdr *nlh = link_msg(buf, ifindex, &ifm);

	mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	return vs_nl_talk(nl, nlh, NULL, NULL, "set address: RTM_NEWLINK", err);
}

int vs_nl_link_set_master(struct vs_nl *nl, int ifindex, int master, struct vs_error *err)
{
	char buf[VS_NL_REQ_SIZE];
	struct ifinfomsg *ifm;
	struct nlmsghdr *nlh = link_msg(buf, ifindex, &ifm);

	mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
	return vs_nl_talk(nl, nlh, NULL, NULL, "set master: RTM_NEWLINK", err);
}

/* One u8 attribute in IFLA_PROTINFO of an AF_BRIDGE RTM_SETLINK. */
static int brport_set(struct vs_nl *nl, int ifindex, uint16_t attr, uint8_t v, const char *what,
		      struct vs_error *err)
{
	char buf[VS_NL_REQ_SIZE];
	struct nlmsghdr *nlh = vs_nl_msg(buf, RTM_SETLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	struct nlattr *nest;

	ifm->ifi_family = AF_BRIDGE;
	ifm->ifi_index = ifindex;
	nest = mnl_attr_nest_start(nlh, IFLA_PROTINFO);
	mnl_attr_put_u8(nlh, attr, v);
	mnl_attr_nest_end(nlh, nest);
	return vs_nl_talk(nl, nlh, NULL, NULL, what, err);
}

int vs_nl_brport_state(struct vs_nl *nl, int ifindex, uint8_t state, struct vs_error *err)
{
	return brport_set(nl, ifindex, IFLA_BRPORT_STATE, state,
			  "set bridge port state: RTM_SETLINK", err);
}

int vs_nl_brport_isolated(struct vs_nl *nl, int ifindex, bool on, struct vs_error *err)
{
	return brport_set(nl, ifindex, IFLA_BRPORT_ISOLATED, on ? 1 : 0,
			  "set bridge port isolated: RTM_SETLINK", err);
}

int vs_nl_link_del(struct vs_nl *nl, const char *name, struct vs_error *err)
{
	char buf[VS_NL_REQ_SIZE];
	struct nlmsghdr *nlh = vs_nl_msg(buf, RTM_DELLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	struct vs_error e = {0};

	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (vs_nl_talk(nl, nlh, NULL, NULL, "RTM_DELLINK", &e) == 0 || e.errnum == ENODEV)
		return 0;
	*err = e;
	return vs_error_prefix(err, "delete link %s", name);
}
