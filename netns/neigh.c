/* Neighbour entries (RTM_NEWNEIGH / RTM_DELNEIGH): proxy entries
 * (NTF_PROXY), with which the node answers ARP and neighbour solicitations
 * for a routed container's addresses on the uplink, and the permanent
 * entries of a routed link's two ends. */
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

#include "netns/nl-private.h"

/* One neighbour request: a proxy entry (lladdr NULL, NTF_PROXY) or a
 * permanent entry for ip at lladdr. */
static int neigh_req(struct vs_nl *nl, bool add, int ifindex, const struct vs_ip *ip,
		     const uint8_t *lladdr, uint8_t flags, struct vs_error *err)
{
	char buf[VS_NL_REQ_SIZE], s[VS_IP_STRLEN];
	struct nlmsghdr *nlh = vs_nl_msg(buf, add ? RTM_NEWNEIGH : RTM_DELNEIGH,
					 add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	struct vs_error e = {0};

	nd->ndm_family = (unsigned char)ip->family;
	nd->ndm_ifindex = ifindex;
	nd->ndm_flags = flags;
	nd->ndm_state = NUD_PERMANENT;
	mnl_attr_put(nlh, NDA_DST, ip->family == AF_INET ? 4 : 16, ip->addr);
	if (add && lladdr != NULL)
		mnl_attr_put(nlh, NDA_LLADDR, 6, lladdr);
	if (add)
		mnl_attr_put_u8(nlh, NDA_PROTOCOL, VS_RTPROT);
	if (vs_nl_talk(nl, nlh, NULL, NULL, add ? "RTM_NEWNEIGH" : "RTM_DELNEIGH", &e) == 0)
		return 0;
	if (!add && (e.errnum == ENOENT || e.errnum == ENODEV))
		return 0;
	*err = e;
	return vs_error_prefix(err, "%s %s entry %s on link %d", add ? "add" : "delete",
			       flags & NTF_PROXY ? "proxy" : "neighbour", vs_nl_ipstr(ip, s),
			       ifindex);
}

int vs_nl_proxy(struct vs_nl *nl, bool add, int ifindex, const struct vs_ip *ip,
		struct vs_error *err)
{
	return neigh_req(nl, add, ifindex, ip, NULL, NTF_PROXY, err);
}

int vs_nl_neigh_static(struct vs_nl *nl, bool add, int ifindex, const struct vs_ip *ip,
		       const uint8_t mac[6], bool router, struct vs_error *err)
{
	return neigh_req(nl, add, ifindex, ip, mac, router ? NTF_ROUTER : 0, err);
}

/* One route or proxy entry of a dump: its destination and where. */
struct vsd_each {
	void (*fn)(const struct vs_ip *ip, bool proxy, int ifindex, void *arg);
	void *arg;
};

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(a);

	/* RTA_DST and NDA_DST share the value 1, RTA_OIF 4 and NDA_PROTOCOL
	 * 12 are read per family below; anything above 32 is not ours. */
	if (type <= 32)
		tb[type] = a;
	return MNL_CB_OK;
}

static bool dst_of(const struct nlattr *a, int family, struct vs_ip *ip)
{
	size_t len = family == AF_INET ? 4 : 16;

	if (a == NULL || mnl_attr_get_payload_len(a) != len)
		return false;
	memset(ip, 0, sizeof(*ip));
	ip->family = family;
	ip->prefix = (uint8_t)(len * 8);
	memcpy(ip->addr, mnl_attr_get_payload(a), len);
	return true;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct vsd_each *e = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[33] = {0};
	struct vs_ip ip;

	if (rtm->rtm_protocol != VS_RTPROT || rtm->rtm_table != RT_TABLE_MAIN ||
	    (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) ||
	    rtm->rtm_dst_len != (rtm->rtm_family == AF_INET ? 32 : 128))
		return MNL_CB_OK;
	if (mnl_attr_parse(nlh, sizeof(*rtm), attr_cb, tb) < 0)
		return MNL_CB_ERROR;
	if (dst_of(tb[RTA_DST], rtm->rtm_family, &ip))
		e->fn(&ip, false, rtm->rtm_type == RTN_UNREACHABLE ? 0 : -1, e->arg);
	return MNL_CB_OK;
}

static int proxy_cb(const struct nlmsghdr *nlh, void *data)
{
	struct vsd_each *e = data;
	const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[33] = {0};
	struct vs_ip ip;

	if (!(nd->ndm_flags & NTF_PROXY))
		return MNL_CB_OK;
	if (mnl_attr_parse(nlh, sizeof(*nd), attr_cb, tb) < 0)
		return MNL_CB_ERROR;
	if (tb[NDA_PROTOCOL] == NULL || mnl_attr_get_u8(tb[NDA_PROTOCOL]) != VS_RTPROT)
		return MNL_CB_OK;
	if (dst_of(tb[NDA_DST], nd->ndm_family, &ip))
		e->fn(&ip, true, nd->ndm_ifindex, e->arg);
	return MNL_CB_OK;
}

int vs_nl_vsd_each(struct vs_nl *nl,
		   void (*fn)(const struct vs_ip *ip, bool proxy, int ifindex, void *arg),
		   void *arg, struct vs_error *err)
{
	char buf[VS_NL_REQ_SIZE];
	struct vsd_each e = {fn, arg};
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	struct ndmsg *nd;

	for (int f = 0; f < 2; f++) {
		nlh = vs_nl_msg(buf, RTM_GETROUTE, NLM_F_DUMP);
		rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
		rtm->rtm_family = f == 0 ? AF_INET : AF_INET6;
		if (vs_nl_talk(nl, nlh, route_cb, &e, "list routes: RTM_GETROUTE", err) < 0)
			return -1;
		nlh = vs_nl_msg(buf, RTM_GETNEIGH, NLM_F_DUMP);
		nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
		nd->ndm_family = f == 0 ? AF_INET : AF_INET6;
		nd->ndm_flags = NTF_PROXY;
		if (vs_nl_talk(nl, nlh, proxy_cb, &e, "list proxy entries: RTM_GETNEIGH", err) < 0)
			return -1;
	}
	return 0;
}
