/* vs_netns: network namespaces through libmnl (rtnetlink). Today: the
 * loopback of a fresh namespace. Next (its own issue): veth pairs created in
 * the host namespace and moved into the container (CRIU can restore only
 * those), bridges, routes, addresses, tc shaping. */
#ifndef VS_NETNS_H
#define VS_NETNS_H

#include "lib/vs_error.h"

/* Bring the loopback interface of the calling thread's network namespace up
 * (RTM_NEWLINK, IFF_UP) and wait for the kernel's ack. 0 or -1 with err. */
int vs_net_loopback_up(struct vs_error *err);

#endif
