/* The container's device list: see vs_devices.h. */
#include "lib/vs_devices.h"

#include <stdio.h>
#include <string.h>

#include "lib/vs_util.h"

const struct vs_device vs_devices[] = {
    {"null", 'c', 1, 3, "rwm", true},
    {"zero", 'c', 1, 5, "rwm", true},
    {"full", 'c', 1, 7, "rwm", true},
    {"random", 'c', 1, 8, "rwm", true},
    {"urandom", 'c', 1, 9, "rwm", true},
    {"tty", 'c', 5, 0, "rwm", true},
    {"console", 'c', 5, 1, "rwm", false},
    {"ptmx", 'c', 5, 2, "rwm", false},
    {"pts", 'c', 136, VS_DEVICE_ANY_MINOR, "rwm", false},
};

const size_t vs_devices_count = VS_ARRAY_SIZE(vs_devices);

const struct vs_device *vs_device_host(const char *name)
{
	for (size_t i = 0; i < vs_devices_count; i++)
		if (vs_devices[i].host_bind && strcmp(vs_devices[i].name, name) == 0)
			return &vs_devices[i];
	return NULL;
}

const struct vs_device *vs_device_fixed(char type, unsigned int major, unsigned int minor)
{
	for (size_t i = 0; i < vs_devices_count; i++) {
		const struct vs_device *d = &vs_devices[i];
		if (d->type == type && d->major == major && d->minor >= 0 &&
		    (unsigned int)d->minor == minor)
			return d;
	}
	return NULL;
}

const char *vs_device_rule(const struct vs_device *d, char *buf, size_t len)
{
	if (d->minor == VS_DEVICE_ANY_MINOR)
		snprintf(buf, len, "%c %u:* %s", d->type, d->major, d->access);
	else
		snprintf(buf, len, "%c %u:%d %s", d->type, d->major, d->minor, d->access);
	return buf;
}
