/* Who may touch which container (docs/api.md "Credentials"): the owner
 * check every route with a container {name} passes through (server.c runs
 * it before any handler), and the admin check of isolation-weakening
 * settings that every path writing a config calls. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "daemon/handlers.h"
#include "lib/vs_util.h"

/* A route whose first parameter is a container's name. */
static bool names_container(const struct vsd_route *route)
{
	return route->what != NULL && strcmp(route->what, "container name") == 0;
}

/* Is container `name` there for who? 1 yes, 0 no (absent or another
 * owner's), -1 when its config cannot be read. */
static int container_visible(struct vsd *d, const struct vsd_identity *who, const char *name,
			     struct vs_error *err)
{
	cleanup_config struct vs_container_config cfg = {0};

	if (vsd_index_load(d->index, d->containers_fd, name, &cfg, err) < 0)
		return err->kind == VS_EK_NOT_FOUND ? 0 : -1;
	return vsd_owner_visible(who, cfg.owner) ? 1 : 0;
}

bool vsd_op_visible(struct vsd *d, const struct vsd_identity *who, const char *kind,
		    const char *target, const char *owner)
{
	struct vs_error err = {0};

	if (who->owner[0] == '\0')
		return true;
	/* Started by this owner's credential (an import before its
	 * container exists, or one that failed). */
	if (owner != NULL && strcmp(owner, who->owner) == 0)
		return true;
	/* Operations on a container or its snapshots name it as their target;
	 * others (template builds) belong to the node. */
	return kind != NULL && target != NULL &&
	       (strncmp(kind, "container-", 10) == 0 || strncmp(kind, "snapshot-", 9) == 0) &&
	       container_visible(d, who, target, &err) == 1;
}

/* GET/DELETE /v1/operations/{id}: someone else's operation is missing. */
static int operation_visible(const struct vsd_call *c, struct vs_error *err)
{
	cleanup_free char *text = NULL;
	cleanup_json struct vs_json *doc = NULL;
	const struct vs_json *op;
	uint64_t id;

	if (vsd_parse_op_id(c->m->params[0], &id, err) < 0 ||
	    vsd_ops_json(c->d->ops, id, 0, (int64_t)time(NULL), &text, err) < 0)
		return -1;
	if (vs_json_parse(text, &doc, err) < 0)
		return -1;
	op = vs_json_get(doc, "operation");
	if (op == NULL)
		op = doc;
	if (vsd_op_visible(c->d, c->who, vs_json_string(vs_json_get(op, "kind")),
			   vs_json_string(vs_json_get(op, "target")),
			   vs_json_string(vs_json_get(op, "owner"))))
		return 0;
	return vs_error_kind(err, VS_EK_NOT_FOUND, "operation '%llu' does not exist",
			     (unsigned long long)id);
}

/* Routes an owner-scoped credential never uses: the node's pools, the
 * details of a template (listing them is enough to create), metrics of
 * every container, (should one ever have admin scope) credentials, the
 * audit log and templates, and the lock: a panel locks an account's VPS
 * for non-payment, so the account's own token must not lift it. */
static bool node_route(enum vsd_route_id id)
{
	switch (id) {
	case VSD_R_TOKEN_LIST:
	case VSD_R_TOKEN_CREATE:
	case VSD_R_TOKEN_DELETE:
	case VSD_R_AUDIT:
	case VSD_R_TEMPLATE_CREATE:
	case VSD_R_TEMPLATE_DELETE:
	case VSD_R_TEMPLATE_ARCHIVE:
	case VSD_R_POOL_LIST:
	case VSD_R_POOL_GET:
	case VSD_R_POOL_CREATE:
	case VSD_R_POOL_PATCH:
	case VSD_R_POOL_DELETE:
	case VSD_R_TEMPLATE_GET:
	case VSD_R_METRICS:
	case VSD_R_CONTAINER_LOCK:
	case VSD_R_CONTAINER_UNLOCK:
		return true;
	default:
		return false;
	}
}

int vsd_access_check(const struct vsd_call *c, struct vs_error *err)
{
	const struct vsd_route *route = c->m->route;
	const char *name;
	int r;

	if (c->who->owner[0] == '\0')
		return 0;
	if (node_route(route->id))
		return vs_error_kind(err, VS_EK_FORBIDDEN,
				     "%s is scoped to owner '%s'; %s %s is not", c->who->name,
				     c->who->owner, route->method, route->pattern);
	if (route->id == VSD_R_OPERATION_GET || route->id == VSD_R_OPERATION_DELETE)
		return operation_visible(c, err);
	if (!names_container(route) || c->m->nparams == 0)
		return 0;
	name = c->m->params[0];
	/* Another owner's container answers exactly as a missing one, so an
	 * owner-scoped token cannot learn which names exist. */
	r = container_visible(c->d, c->who, name, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return vs_error_kind(err, VS_EK_NOT_FOUND, "container '%s' does not exist", name);
	return 0;
}

/* Is bridge one the node declared for containers? "" is vsd's own. */
static bool bridge_declared(const struct vs_net_node *node, const char *bridge)
{
	if (bridge[0] == '\0')
		return true;
	if (node == NULL)
		return false;
	if (strcmp(bridge, node->bridge) == 0)
		return true;
	for (size_t i = 0; i < node->npools; i++)
		if (strcmp(bridge, node->pools[i].network) == 0)
			return true;
	for (size_t i = 0; i < node->nprivate; i++)
		if (strcmp(bridge, node->private_bridges[i]) == 0)
			return true;
	return false;
}

static bool had_bridge(const struct vs_container_config *old, const char *bridge)
{
	for (size_t i = 0; old != NULL && i < old->net.nifaces; i++)
		if (old->net.ifaces[i].model == VS_NET_BRIDGED &&
		    strcmp(old->net.ifaces[i].bridge, bridge) == 0)
			return true;
	return false;
}

static bool had_address(const struct vs_container_config *old, const struct vs_ip *ip)
{
	for (size_t i = 0; old != NULL && i < old->net.nifaces; i++)
		for (size_t j = 0; j < old->net.ifaces[i].naddrs; j++)
			if (vs_ip_equal(&old->net.ifaces[i].addrs[j], ip))
				return true;
	return false;
}

/* Does one of the node's --ip-pool ranges of ifc's network hold ip? */
static bool in_pool(const struct vs_net_node *node, const struct vs_net_iface *ifc,
		    const struct vs_ip *ip)
{
	const char *network = ifc->model == VS_NET_ROUTED ? "routed" : ifc->bridge;

	if (node == NULL)
		return false;
	if (network[0] == '\0')
		network = node->bridge;
	for (size_t k = 0; k < node->npools; k++)
		if (strcmp(node->pools[k].network, network) == 0 &&
		    vs_ip_in_net(ip, &node->pools[k].net))
			return true;
	return false;
}

/* The network settings of new that old did not have and only an admin may
 * give: a host bridge the node did not declare, an address outside the
 * node's pools (anything else could take over an address the node or its
 * LAN uses: a resolver, the panel, another server). */
static int check_net(const struct vsd_identity *who, const struct vs_net_node *node,
		     const struct vs_container_config *old, const struct vs_container_config *new,
		     struct vs_error *err)
{
	char ip[VS_IP_STRLEN];

	for (size_t i = 0; i < new->net.nifaces; i++) {
		const struct vs_net_iface *ifc = &new->net.ifaces[i];

		if (ifc->model == VS_NET_BRIDGED && !bridge_declared(node, ifc->bridge) &&
		    !had_bridge(old, ifc->bridge))
			return vs_error_kind(err, VS_EK_FORBIDDEN,
					     "net.interfaces[%zu].bridge: '%s' is not a network "
					     "of this node (vsd's bridge, an --ip-pool or a "
					     "--private-bridge); another host bridge needs admin "
					     "scope (%s has %s)",
					     i, ifc->bridge, who->name, vsd_scope_name(who->scope));
		for (size_t j = 0; j < ifc->naddrs; j++) {
			if (in_pool(node, ifc, &ifc->addrs[j]) || had_address(old, &ifc->addrs[j]))
				continue;
			vs_format_ip(&ifc->addrs[j], false, ip, sizeof(ip));
			return vs_error_kind(
			    err, VS_EK_FORBIDDEN,
			    "net.interfaces[%zu]: address %s is outside the node's "
			    "--ip-pool ranges for this network; only admin scope "
			    "may give it (%s has %s)",
			    i, ip, who->name, vsd_scope_name(who->scope));
		}
	}
	return 0;
}

int vsd_require_admin_for(const struct vsd_identity *who, const struct vs_net_node *node,
			  const struct vs_container_config *old,
			  const struct vs_container_config *new, struct vs_error *err)
{
	if (who->scope >= VSD_SCOPE_ADMIN)
		return 0;
	if (new->privileged && (old == NULL || !old->privileged))
		return vs_error_kind(err, VS_EK_FORBIDDEN,
				     "privileged: a privileged container needs admin scope (%s has "
				     "%s)",
				     who->name, vsd_scope_name(who->scope));
	return check_net(who, node, old, new, err);
}

int vsd_owner_for_create(const struct vsd_identity *who, struct vs_container_config *cfg,
			 struct vs_error *err)
{
	const char *mine = who->owner;

	if (mine[0] == '\0')
		return 0;
	if (cfg->owner[0] == '\0')
		snprintf(cfg->owner, sizeof(cfg->owner), "%s", mine);
	else if (strcmp(cfg->owner, mine) != 0)
		return vs_error_kind(err, VS_EK_FORBIDDEN,
				     "owner: %s may create only containers owned by '%s'",
				     who->name, mine);
	return 0;
}
