/* The rtnetlink round trip shared by every netns/ object. */
#include "netns/nl-private.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/vs_util.h"

int vs_nl_open(struct vs_nl *nl, struct vs_error *err)
{
	memset(nl, 0, sizeof(*nl));
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (nl->sock == NULL)
		return vs_error_set(err, errno, "open rtnetlink socket");
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;
		vs_nl_close(nl);
		return vs_error_set(err, e, "bind rtnetlink socket");
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	/* Distinct sequence numbers across sockets make stray replies
	 * recognisable, as in libmnl's examples. */
	nl->seq = (unsigned int)time(NULL);
	nl->buf = xmalloc(VS_NL_RECV_SIZE);
	return 0;
}

void vs_nl_close(struct vs_nl *nl)
{
	if (nl->sock != NULL)
		mnl_socket_close(nl->sock);
	free(nl->buf);
	memset(nl, 0, sizeof(*nl));
}

struct nlmsghdr *vs_nl_msg(char *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh;

	memset(buf, 0, VS_NL_REQ_SIZE);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	return nlh;
}

int vs_nl_talk(struct vs_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, const char *what,
	       struct vs_error *err)
{
	nlh->nlmsg_seq = ++nl->seq;
	nlh->nlmsg_pid = 0;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return vs_error_set(err, errno, "%s: send", what);
	/* mnl_cb_run checks sequence and port, turns an NLMSG_ERROR carrying
	 * an error into -1/errno, and stops (0) at the ack or NLMSG_DONE. */
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sock, nl->buf, VS_NL_RECV_SIZE);
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return vs_error_set(err, errno, "%s: receive", what);
		r = mnl_cb_run(nl->buf, (size_t)n, nlh->nlmsg_seq, nl->portid, cb, data);
		if (r < 0)
			return vs_error_set(err, errno, "%s", what);
		if (r == MNL_CB_STOP)
			return 0;
	}
}

int vs_in_netns(int netns_fd, int (*fn)(void *arg, struct vs_error *err), void *arg,
		struct vs_error *err)
{
	/* thread-self, not self: setns(CLONE_NEWNET) moves only the calling
	 * thread, and the daemon has other threads in the node's namespace. */
	cleanup_close int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int r;

	if (home < 0)
		return vs_error_set(err, errno, "open /proc/thread-self/ns/net");
	if (setns(netns_fd, CLONE_NEWNET) < 0)
		return vs_error_set(err, errno, "enter the container's network namespace");
	r = fn(arg, err);
	if (setns(home, CLONE_NEWNET) < 0) {
		/* Going back into a namespace we hold an fd of cannot fail for
		 * a process that could enter the other one. If it ever does,
		 * carrying on would make every later link, route and firewall
		 * change of this thread act inside a container: stop instead. */
		abort();
	}
	return r;
}

static int open_cb(void *arg, struct vs_error *err)
{
	return vs_nl_open(arg, err);
}

int vs_nl_open_in(struct vs_nl *nl, int netns_fd, struct vs_error *err)
{
	memset(nl, 0, sizeof(*nl));
	return vs_in_netns(netns_fd, open_cb, nl, err);
}

const char *vs_nl_ipstr(const struct vs_ip *ip, char *buf)
{
	vs_format_ip(ip, false, buf, VS_IP_STRLEN);
	return buf;
}
