/* Device access of privileged containers. An unprivileged container's root
 * cannot open a host device node anyway (mknod is refused in a user
 * namespace and the bind-mounted nodes are the harmless ones); a privileged
 * container's root could mknod /dev/sda. On v1 hosts the devices
 * controller then denies everything but the nodes vsd gives every
 * container and ptys. */
#include <errno.h>
#include <string.h>

#include "cgroups/cg-private.h"
#include "cgroups/vs_cgroups.h"

static const char *const allowed[] = {
    "c 1:3 rwm",   /* null */
    "c 1:5 rwm",   /* zero */
    "c 1:7 rwm",   /* full */
    "c 1:8 rwm",   /* random */
    "c 1:9 rwm",   /* urandom */
    "c 5:0 rwm",   /* tty */
    "c 5:1 rwm",   /* console */
    "c 5:2 rwm",   /* ptmx */
    "c 136:* rwm", /* pty slaves */
    NULL,
};

int vs_cg_restrict_devices(struct vs_cg *cg, struct vs_error *err)
{
	int i = vs_cg_find(cg->host, "devices");

	if (i < 0 || cg->host->hier[i].v2)
		return vs_error_kind(err, VS_EK_UNSUPPORTED,
				     "no devices controller on this host (cgroup v2 needs a BPF "
				     "device program, not implemented yet)");
	if (vs_cg_write(cg->dirs[i], "devices.deny", "a", err) < 0)
		return -1;
	for (size_t k = 0; allowed[k] != NULL; k++)
		if (vs_cg_write(cg->dirs[i], "devices.allow", allowed[k], err) < 0)
			return -1;
	return 0;
}
