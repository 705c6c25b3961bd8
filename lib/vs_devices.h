/* vs_devices: the device nodes a container gets, written once.
 *
 * Every container's /dev holds the same few harmless character devices.
 * Four places need that list and read it here: the mount setup
 * (runtime/mounts.c binds the host's nodes into the container's /dev),
 * checkpoint/restore (migrate/checkpoint.c declares those binds to CRIU as
 * external mounts and, on restore, binds only nodes named here), the
 * cgroup device rules (cgroups/devices.c: v1 devices.allow and the v2 BPF
 * device program) and template import (fs-cow/import.c: the only device
 * nodes an archive may carry). */
#ifndef VS_DEVICES_H
#define VS_DEVICES_H

#include <stdbool.h>
#include <stddef.h>

#define VS_DEVICE_ANY_MINOR (-1)

struct vs_device {
	const char *name; /* node under /dev ("pts": the pty slaves /dev/pts/N) */
	char type;	  /* 'c': all of them are character devices */
	unsigned int major;
	int minor;	    /* VS_DEVICE_ANY_MINOR: every minor of major */
	const char *access; /* cgroup access: "rwm" */
	/* Bind-mounted from the host's /dev/NAME into the container's /dev
	 * (and so an external mount for CRIU). The others are made inside:
	 * console is the monitor's pty, ptmx and the slaves come from the
	 * container's own devpts. */
	bool host_bind;
};

/* The table, in the order the rules are written; vs_devices_count entries. */
extern const struct vs_device vs_devices[];
extern const size_t vs_devices_count;

/* The host-bound device called name ("null", not "/dev/null"), or NULL
 * when name is not one (the only names restore will bind from the host). */
const struct vs_device *vs_device_host(const char *name);

/* The device with exactly these numbers (a listed minor, not a wildcard
 * entry), or NULL. */
const struct vs_device *vs_device_fixed(char type, unsigned int major, unsigned int minor);

/* The cgroup v1 rule of d ("c 1:3 rwm", "c 136:* rwm") into buf. Returns
 * buf. */
const char *vs_device_rule(const struct vs_device *d, char *buf, size_t len);

#endif
