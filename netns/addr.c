/* Addresses (RTM_NEWADDR / RTM_DELADDR). */
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "netns/nl-private.h"

int vs_nl_addr(struct vs_nl *nl, bool add, int ifindex, const struct vs_ip *ip, uint8_t prefix,
	       uint8_t scope, struct vs_error *err)
{
	char buf[VS_NL_REQ_SIZE], s[VS_IP_STRLEN];
	/* CREATE|REPLACE: adding an address that is already there succeeds
	 * (the kernel answers EEXIST without REPLACE). */
	struct nlmsghdr *nlh =
	    vs_nl_msg(buf, add ? RTM_NEWADDR : RTM_DELADDR, add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	size_t len = ip->family == AF_INET ? 4 : 16;
	struct vs_error e = {0};

	ifa->ifa_family = (unsigned char)ip->family;
	ifa->ifa_prefixlen = prefix;
	ifa->ifa_scope = scope;
	ifa->ifa_index = (unsigned int)ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, len, ip->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, len, ip->addr);
	/* No duplicate address detection: the addresses are the container's
	 * by allocation, and a tentative address could not be used as a
	 * source for about a second after every start and restore. */
	if (add && ip->family == AF_INET6)
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	if (vs_nl_talk(nl, nlh, NULL, NULL, add ? "RTM_NEWADDR" : "RTM_DELADDR", &e) == 0)
		return 0;
	/* Deleting what is not there (any more) is success. */
	if (!add && (e.errnum == EADDRNOTAVAIL || e.errnum == ENODEV))
		return 0;
	*err = e;
	return vs_error_prefix(err, "%s address %s/%u on link %d", add ? "add" : "delete",
			       vs_nl_ipstr(ip, s), prefix, ifindex);
}
