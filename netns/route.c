/* Routes (RTM_NEWROUTE / RTM_DELROUTE) in the main table: host routes to a
 * container's node side, standby unreachable routes, default routes. */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <sys/socket.h>

#include "netns/nl-private.h"
#include "netns/vs_netns.h"

static void route_fill(struct nlmsghdr *nlh, const struct vs_nl_route *r)
{
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	size_t len = r->family == AF_INET ? 4 : 16;

	rtm->rtm_family = (unsigned char)r->family;
	rtm->rtm_dst_len = r->dst ? r->dst_len : 0;
	rtm->rtm_table = RT_TABLE_MAIN;
	/* The node's routes to containers (host and standby routes: they
	 * have a destination) are marked as vsd's, so reconciliation finds
	 * those whose container is gone (vs_nl_vsd_each); default routes
	 * inside a container are plain static ones. */
	rtm->rtm_protocol = r->dst ? VS_RTPROT : RTPROT_STATIC;
	rtm->rtm_scope = r->scope;
	rtm->rtm_type = r->type;
	if (r->onlink)
		rtm->rtm_flags |= RTNH_F_ONLINK;
	if (r->dst)
		mnl_attr_put(nlh, RTA_DST, len, r->dst->addr);
	if (r->gw)
		mnl_attr_put(nlh, RTA_GATEWAY, len, r->gw->addr);
	if (r->oif)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)r->oif);
	if (r->metric)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, r->metric);
	mnl_attr_put_u32(nlh, RTA_TABLE, RT_TABLE_MAIN);
}

static const char *route_name(const struct vs_nl_route *r, char *buf, size_t len)
{
	char a[VS_IP_STRLEN], g[VS_IP_STRLEN];

	snprintf(buf, len, "%s%s%s%s%s dev %d metric %u",
		 r->type == RTN_UNREACHABLE ? "unreachable " : "",
		 r->dst ? vs_nl_ipstr(r->dst, a) : "default", r->gw ? " via " : "",
		 r->gw ? vs_nl_ipstr(r->gw, g) : "", r->onlink ? " onlink" : "", r->oif, r->metric);
	return buf;
}

int vs_nl_route(struct vs_nl *nl, bool add, const struct vs_nl_route *r, struct vs_error *err)
{
	char buf[VS_NL_REQ_SIZE], name[3 * VS_IP_STRLEN];
	/* CREATE|REPLACE: the same route again (same destination, metric)
	 * replaces it, so repeating an attach succeeds. */
	struct nlmsghdr *nlh = vs_nl_msg(buf, add ? RTM_NEWROUTE : RTM_DELROUTE,
					 add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	struct vs_error e = {0};

	route_fill(nlh, r);
	if (vs_nl_talk(nl, nlh, NULL, NULL, add ? "RTM_NEWROUTE" : "RTM_DELROUTE", &e) == 0)
		return 0;
	/* Gone already (its link was deleted, or it was never made). */
	if (!add && (e.errnum == ESRCH || e.errnum == ENODEV || e.errnum == ENOENT))
		return 0;
	*err = e;
	return vs_error_prefix(err, "%s route %s", add ? "add" : "delete",
			       route_name(r, name, sizeof(name)));
}

static int local_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type == RTM_NEWROUTE)
		*(bool *)data = rtm->rtm_type == RTN_LOCAL;
	return MNL_CB_OK;
}

int vs_net_ip_local(const struct vs_ip *ip, bool *local, struct vs_error *err)
{
	cleanup_nl struct vs_nl nl = {0};
	char buf[VS_NL_REQ_SIZE];
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	struct vs_error e = {0};
	size_t len = ip->family == AF_INET ? 4 : 16;

	*local = false;
	if (vs_nl_open(&nl, err) < 0)
		return -1;
	nlh = vs_nl_msg(buf, RTM_GETROUTE, 0);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)ip->family;
	rtm->rtm_dst_len = (unsigned char)(len * 8);
	mnl_attr_put(nlh, RTA_DST, len, ip->addr);
	if (vs_nl_talk(&nl, nlh, local_cb, local, "route lookup: RTM_GETROUTE", &e) == 0)
		return 0;
	/* No route to it at all: not local either. */
	if (e.errnum == ENETUNREACH || e.errnum == EHOSTUNREACH)
		return 0;
	if (err != NULL)
		*err = e;
	return -1;
}
