/* Helpers shared by the migrate unit tests (tests/unit/test_migrate_*.c):
 * the policy that the real busybox image in tests/unit/data/criu-image/good
 * (made by CRIU 4.3 here) passes, for an id range starting at `first`. */
#ifndef TEST_MIGRATE_HELPERS_H
#define TEST_MIGRATE_HELPERS_H

#include <stdint.h>

#include "lib/vs_util.h"
#include "migrate/vs_migrate.h"
#include "runtime/rt-private.h"

/* The external mount keys vsd declared when it made that image. */
static const char *const test_mig_keys[] = {
    "tty@/dev/tty",	   "urandom@/dev/urandom",
    "random@/dev/random",  "full@/dev/full",
    "zero@/dev/zero",	   "null@/dev/null",
    "null@/proc/kallsyms", "null@/proc/timer_list",
    "null@/proc/keys",	   "lxcfs@/proc/swaps",
    "lxcfs@/proc/stat",	   "lxcfs@/proc/meminfo",
    "lxcfs@/proc/loadavg", "lxcfs@/proc/diskstats",
    "lxcfs@/proc/cpuinfo", "lxcfs@/sys/devices/system/cpu/online",
};

static inline struct vs_mig_image_policy test_mig_policy(uint32_t first)
{
	return (struct vs_mig_image_policy){
	    .uid_first = first,
	    .gid_first = first,
	    .id_count = 65536,
	    .cap_bound = rt_caps_bound(),
	    .seccomp = true,
	    .ext_keys = test_mig_keys,
	    .n_ext_keys = VS_ARRAY_SIZE(test_mig_keys),
	};
}

#endif
