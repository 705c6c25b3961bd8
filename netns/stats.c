/* The counters of every container interface for one scrape (GET /metrics):
 * three dumps into a table, then lookups by the node-side name. What one
 * interface's vs_net_stats asks the kernel in three requests (its link,
 * every qdisc of the namespace, its drop counter), a scrape of N asks in
 * three dumps: with 1,000 containers that is 3 requests instead of 3,000,
 * and one qdisc listing instead of 1,000 listings of 1,000 qdiscs. */
#include "netns/stats-private.h"

#include <stdlib.h>
#include <string.h>

#include "lib/vs_util.h"
#include "netns/fw-private.h"
#include "netns/nl-private.h"

#define GROW(arr, n, cap)                                                                          \
	do {                                                                                       \
		if ((n) == (cap)) {                                                                \
			(cap) = (cap) ? (cap)*2 : 64;                                              \
			(arr) = xrealloc((arr), (cap) * sizeof(*(arr)));                           \
		}                                                                                  \
	} while (0)

void net_stats_add_link(struct vs_net_stats_table *t, const char *name, int index,
			uint64_t rx_bytes, uint64_t rx_packets, uint64_t tx_bytes,
			uint64_t tx_packets)
{
	struct net_stats_link *l;

	if (strlen(name) > VS_IFNAME_MAX)
		return;
	GROW(t->links, t->nlinks, t->links_cap);
	l = &t->links[t->nlinks++];
	memset(l, 0, sizeof(*l));
	strcpy(l->name, name);
	l->index = index;
	l->rx_bytes = rx_bytes;
	l->rx_packets = rx_packets;
	l->tx_bytes = tx_bytes;
	l->tx_packets = tx_packets;
	t->sorted = false;
}

void net_stats_add_qdisc(struct vs_net_stats_table *t, int index, uint64_t drops)
{
	GROW(t->qdiscs, t->nqdiscs, t->qdiscs_cap);
	t->qdiscs[t->nqdiscs++] = (struct net_stats_num){.index = index, .n = drops};
	t->sorted = false;
}

void net_stats_add_drops(struct vs_net_stats_table *t, const char *host_ifname, uint64_t packets)
{
	struct net_stats_num *d;

	if (strlen(host_ifname) > VS_IFNAME_MAX)
		return;
	GROW(t->drops, t->ndrops, t->drops_cap);
	d = &t->drops[t->ndrops++];
	memset(d, 0, sizeof(*d));
	strcpy(d->name, host_ifname);
	d->n = packets;
	t->sorted = false;
}

static int link_cmp(const void *a, const void *b)
{
	return strcmp(((const struct net_stats_link *)a)->name,
		      ((const struct net_stats_link *)b)->name);
}

static int index_cmp(const void *a, const void *b)
{
	int x = ((const struct net_stats_num *)a)->index,
	    y = ((const struct net_stats_num *)b)->index;
	return (x > y) - (x < y);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct net_stats_num *)a)->name,
		      ((const struct net_stats_num *)b)->name);
}

void net_stats_sort(struct vs_net_stats_table *t)
{
	if (t->nlinks)
		qsort(t->links, t->nlinks, sizeof(*t->links), link_cmp);
	if (t->nqdiscs)
		qsort(t->qdiscs, t->nqdiscs, sizeof(*t->qdiscs), index_cmp);
	if (t->ndrops)
		qsort(t->drops, t->ndrops, sizeof(*t->drops), name_cmp);
	t->sorted = true;
}

/* The drops of every qdisc on link index (a link has its root qdisc and
 * those under it, and maybe an ingress one): the sorted run of them. */
static uint64_t qdisc_drops_of(const struct vs_net_stats_table *t, int index)
{
	struct net_stats_num key = {.index = index};
	const struct net_stats_num *q;
	uint64_t sum = 0;

	if (t->nqdiscs == 0 ||
	    (q = bsearch(&key, t->qdiscs, t->nqdiscs, sizeof(*q), index_cmp)) == NULL)
		return 0;
	while (q > t->qdiscs && q[-1].index == index)
		q--;
	for (; q < t->qdiscs + t->nqdiscs && q->index == index; q++)
		sum += q->n;
	return sum;
}

int vs_net_stats_of(const struct vs_net_stats_table *t, const struct vs_net_config *net,
		    size_t iface, struct vs_net_ifstats *st, struct vs_error *err)
{
	struct net_stats_link lkey = {0};
	struct net_stats_num dkey = {0};
	const struct net_stats_link *l;
	const struct net_stats_num *d;
	const char *host;

	memset(st, 0, sizeof(*st));
	if (iface >= net->nifaces)
		return vs_error_kind(err, VS_EK_INVALID, "stats: no interface %zu", iface);
	host = net->ifaces[iface].host_ifname;
	if (!t->sorted || strlen(host) > VS_IFNAME_MAX)
		return 0;
	strcpy(lkey.name, host);
	if (t->nlinks == 0 ||
	    (l = bsearch(&lkey, t->links, t->nlinks, sizeof(*l), link_cmp)) == NULL)
		return 0;
	/* The node side receives what the container sends. */
	st->egress_bytes = l->rx_bytes;
	st->egress_packets = l->rx_packets;
	st->ingress_bytes = l->tx_bytes;
	st->ingress_packets = l->tx_packets;
	st->ingress_drops = qdisc_drops_of(t, l->index);
	/* Policing and anti-spoofing drops share the chain's counter. */
	strcpy(dkey.name, host);
	if (t->ndrops && (d = bsearch(&dkey, t->drops, t->ndrops, sizeof(*d), name_cmp)) != NULL)
		st->egress_drops = d->n;
	return 1;
}

static void on_link(const char *name, const struct vs_nl_link *l, void *arg)
{
	net_stats_add_link(arg, name, l->index, l->stats.rx_bytes, l->stats.rx_packets,
			   l->stats.tx_bytes, l->stats.tx_packets);
}

static void on_qdisc(int ifindex, uint64_t drops, void *arg)
{
	net_stats_add_qdisc(arg, ifindex, drops);
}

static void on_drops(const char *host_ifname, uint64_t packets, void *arg)
{
	net_stats_add_drops(arg, host_ifname, packets);
}

int vs_net_stats_all(const struct vs_net_node *node, struct vs_net_stats_table **out,
		     struct vs_error *err)
{
	cleanup_net_stats struct vs_net_stats_table *t = xcalloc(1, sizeof(*t));
	cleanup_nl struct vs_nl nl = {0};

	*out = NULL;
	if (vs_nl_open(&nl, err) < 0 || vs_nl_link_dump(&nl, on_link, t, err) < 0 ||
	    vs_nl_qdisc_dump(&nl, on_qdisc, t, err) < 0 ||
	    fw_drops_each(node, on_drops, t, err) < 0)
		return vs_error_prefix(err, "network stats");
	net_stats_sort(t);
	*out = steal_ptr(&t);
	return 0;
}

int vs_net_links_all(struct vs_net_stats_table **out, struct vs_error *err)
{
	cleanup_net_stats struct vs_net_stats_table *t = xcalloc(1, sizeof(*t));
	cleanup_nl struct vs_nl nl = {0};

	*out = NULL;
	if (vs_nl_open(&nl, err) < 0 || vs_nl_link_dump(&nl, on_link, t, err) < 0)
		return vs_error_prefix(err, "network traffic");
	net_stats_sort(t);
	*out = steal_ptr(&t);
	return 0;
}

void vs_net_stats_all_free(struct vs_net_stats_table *t)
{
	if (t == NULL)
		return;
	free(t->links);
	free(t->qdiscs);
	free(t->drops);
	free(t);
}

void vs_net_stats_all_freep(struct vs_net_stats_table **t)
{
	vs_net_stats_all_free(*t);
	*t = NULL;
}
