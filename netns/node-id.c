/* The names a vsd instance's network objects carry (see struct
 * vs_net_node). Shared by the daemon and the monitor. */
#include "netns/vs_netns.h"

#include <stdio.h>
#include <string.h>

void vs_net_node_set_id(struct vs_net_node *node, uint32_t hash)
{
	snprintf(node->id, sizeof(node->id), "%04x", (unsigned)(hash & 0xffff));
	snprintf(node->fw_table, sizeof(node->fw_table), "vsd_%s", node->id);
	if (node->bridge[0] == '\0')
		snprintf(node->bridge, sizeof(node->bridge), "vsbr%s", node->id);
}

void vs_net_iface_names(const struct vs_net_node *node, uint32_t rnd, size_t index,
			struct vs_net_iface *ifc)
{
	snprintf(ifc->host_ifname, sizeof(ifc->host_ifname), "vs%s%06x%zu", node->id,
		 (unsigned)(rnd & 0xffffff), index % 10);
}

int vs_net_veth_ifindex(const char *host_ifname, unsigned attempt)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *p = host_ifname; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return (int)(VS_NET_IFINDEX_BASE + ((h + attempt) & (VS_NET_IFINDEX_BASE - 1)));
}
