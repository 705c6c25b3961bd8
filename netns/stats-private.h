/* netns/ internals: the table behind vs_net_stats_all (netns/stats.c),
 * filled from the dumps and matched to interfaces by name; exported to
 * the unit tests, which fill it by hand. Only netns/stats.c and tests
 * include this header. */
#ifndef VS_NET_STATS_PRIVATE_H
#define VS_NET_STATS_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/vs_validate.h"
#include "netns/vs_netns.h"

struct net_stats_link {
	char name[VS_IFNAME_MAX + 1];
	int index;
	uint64_t rx_bytes, rx_packets, tx_bytes, tx_packets;
};

struct net_stats_num {
	int index;		      /* qdiscs: the link's index */
	char name[VS_IFNAME_MAX + 1]; /* drop counters: the host_ifname */
	uint64_t n;
};

struct vs_net_stats_table {
	struct net_stats_link *links;
	size_t nlinks, links_cap;
	struct net_stats_num *qdiscs, *drops;
	size_t nqdiscs, qdiscs_cap, ndrops, drops_cap;
	bool sorted;
};

/* Add what the dumps saw, in any order; a name longer than an interface
 * name is left out (no interface of a config can have it). */
void net_stats_add_link(struct vs_net_stats_table *t, const char *name, int index,
			uint64_t rx_bytes, uint64_t rx_packets, uint64_t tx_bytes,
			uint64_t tx_packets);
void net_stats_add_qdisc(struct vs_net_stats_table *t, int index, uint64_t drops);
void net_stats_add_drops(struct vs_net_stats_table *t, const char *host_ifname, uint64_t packets);
/* Sort for the lookups of vs_net_stats_of (done once, after the adds). */
void net_stats_sort(struct vs_net_stats_table *t);

#endif
