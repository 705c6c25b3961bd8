/* netns/ internals: one rtnetlink socket and the request/ack round trip
 * every object file (link.c today; veth, bridge, addr, route next) builds
 * on. Only files in netns/ include this header. */
#ifndef VS_NL_PRIVATE_H
#define VS_NL_PRIVATE_H

#include <libmnl/libmnl.h>
#include <stddef.h>

#include "lib/vs_error.h"

/* Room for one request we build, and for one datagram the kernel sends
 * (dumps use up to 32 KiB per datagram when the buffer allows it). */
#define VS_NL_REQ_SIZE	8192
#define VS_NL_RECV_SIZE 32768

/* An rtnetlink socket in the calling thread's network namespace at the
 * time of vs_nl_open. */
struct vs_nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
	char *buf; /* VS_NL_RECV_SIZE bytes for replies */
};

/* Open a NETLINK_ROUTE socket (SOCK_CLOEXEC) and bind it. 0, or -1 with
 * err. */
int vs_nl_open(struct vs_nl *nl, struct vs_error *err);

/* Close the socket and free the buffer; accepts a zeroed or closed nl. */
void vs_nl_close(struct vs_nl *nl);
#define cleanup_nl __attribute__((cleanup(vs_nl_close)))

/* Start a request of the given type in buf (VS_NL_REQ_SIZE bytes, zeroed
 * here) with NLM_F_REQUEST | NLM_F_ACK | flags. The caller adds the family
 * header and attributes with mnl_nlmsg_put_extra_header / mnl_attr_put*. */
struct nlmsghdr *vs_nl_msg(char *buf, uint16_t type, uint16_t flags);

/* Send nlh (sequence number and port filled in here) and read replies until
 * the kernel's ack (or NLMSG_DONE for dumps); cb, if not NULL, sees each
 * data message (mnl_cb_run semantics). 0, or -1 with err whose errnum is
 * the kernel's answer, as "what: strerror". */
int vs_nl_talk(struct vs_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, const char *what,
	       struct vs_error *err);

#endif
