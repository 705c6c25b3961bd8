/* disk-tool: drives fs-cow's disk functions directly for disk.bats, until
 * `vsctl set --disk` (the lead's PATCH flow) calls them through the API.
 *   disk-tool resize CDIR OLD_BYTES OLD_INODES NEW_BYTES NEW_INODES
 *   disk-tool usage CDIR     prints "used total inodes_used inodes_total"
 * Exit 0 on success, 1 with the error on stderr. Built by disk.bats
 * against build/o/libvsd.a. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs-cow/vs_fs.h"

int main(int argc, char **argv)
{
	struct vs_error err = {0};
	struct vs_limits o = {0}, n = {0};
	int64_t u, t, iu, it;

	if (argc == 7 && strcmp(argv[1], "resize") == 0) {
		o.disk = atoll(argv[3]);
		o.inodes = atoll(argv[4]);
		n.disk = atoll(argv[5]);
		n.inodes = atoll(argv[6]);
		if (vs_fs_disk_resize(argv[2], &o, &n, &err) < 0) {
			fprintf(stderr, "disk-tool: %s\n", err.msg);
			return 1;
		}
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "usage") == 0) {
		if (vs_fs_disk_usage(argv[2], &u, &t, &iu, &it, &err) < 0) {
			fprintf(stderr, "disk-tool: %s\n", err.msg);
			return 1;
		}
		printf("%lld %lld %lld %lld\n", (long long)u, (long long)t, (long long)iu,
		       (long long)it);
		return 0;
	}
	fprintf(stderr,
		"usage: disk-tool resize CDIR OLD OLD_INODES NEW NEW_INODES | usage CDIR\n");
	return 2;
}
