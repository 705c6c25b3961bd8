/* STAND-IN, delete on merge: vs_validate_ifname and vs_format_ip are
 * declared in lib/vs_validate.h (commit 5caa999) and implemented on the
 * branch that owns lib/vs_validate.c (wt-cfg). netns/firewall.c (wt-fw)
 * needs them to link its tests before that branch lands; these follow the
 * header's contract and must go when the real ones arrive (the linker
 * reports the duplicates). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/vs_validate.h"

int vs_validate_ifname(const char *name, const char *what, struct vs_error *err)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > VS_IFNAME_MAX)
		return vs_error_kind(err, VS_EK_INVALID, "%s: must be 1 to %d characters", what,
				     VS_IFNAME_MAX);
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return vs_error_kind(err, VS_EK_INVALID, "%s: '%s' is not an interface name", what,
				     name);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return vs_error_kind(err, VS_EK_INVALID,
					     "%s: '%s' has a character outside [A-Za-z0-9_.-]",
					     what, name);
	}
	return 0;
}

void vs_format_ip(const struct vs_ip *ip, bool with_prefix, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (len == 0)
		return;
	buf[0] = '\0';
	if ((ip->family != AF_INET && ip->family != AF_INET6) ||
	    !inet_ntop(ip->family, ip->addr, a, sizeof(a)))
		return;
	if (with_prefix)
		snprintf(buf, len, "%s/%u", a, ip->prefix);
	else
		snprintf(buf, len, "%s", a);
}
