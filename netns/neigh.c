/* Proxy neighbour entries (RTM_NEWNEIGH / RTM_DELNEIGH with NTF_PROXY):
 * the node answers ARP and neighbour solicitations for a routed
 * container's addresses on the uplink. */
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "netns/nl-private.h"

int vs_nl_proxy(struct vs_nl *nl, bool add, int ifindex, const struct vs_ip *ip,
		struct vs_error *err)
{
	char buf[VS_NL_REQ_SIZE], s[VS_IP_STRLEN];
	struct nlmsghdr *nlh = vs_nl_msg(buf, add ? RTM_NEWNEIGH : RTM_DELNEIGH,
					 add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	struct vs_error e = {0};

	nd->ndm_family = (unsigned char)ip->family;
	nd->ndm_ifindex = ifindex;
	nd->ndm_flags = NTF_PROXY;
	nd->ndm_state = NUD_PERMANENT;
	mnl_attr_put(nlh, NDA_DST, ip->family == AF_INET ? 4 : 16, ip->addr);
	if (vs_nl_talk(nl, nlh, NULL, NULL, add ? "RTM_NEWNEIGH" : "RTM_DELNEIGH", &e) == 0)
		return 0;
	if (!add && (e.errnum == ENOENT || e.errnum == ENODEV))
		return 0;
	*err = e;
	return vs_error_prefix(err, "%s proxy entry %s on link %d", add ? "add" : "delete",
			       vs_nl_ipstr(ip, s), ifindex);
}
