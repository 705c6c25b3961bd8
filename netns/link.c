/* Links (RTM_*LINK): the loopback today; veth pairs and bridges join here
 * or in files of their own (veth.c, bridge.c) on top of nl-private.h. */
#include "netns/vs_netns.h"

#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "netns/nl-private.h"

/* Set or clear IFF_UP on the link with index ifindex. */
static int link_set_up(struct vs_nl *nl, unsigned int ifindex, bool up, const char *what,
		       struct vs_error *err)
{
	char buf[VS_NL_REQ_SIZE];
	struct nlmsghdr *nlh = vs_nl_msg(buf, RTM_NEWLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));

	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = (int)ifindex;
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
	return link_set_up(&nl, lo, true, "bring up loopback: RTM_NEWLINK lo up", err);
}
