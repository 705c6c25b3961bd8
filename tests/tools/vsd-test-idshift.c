/* vsd-test-idshift: a test-only program (never installed) that runs the id
 * range shifts a migration uses on a real checkpoint, for
 * tests/integration/idshift.bats:
 *   vsd-test-idshift image DIR FROM TO COUNT   vs_mig_image_shift_ids
 *   vsd-test-idshift layer DIR FROM TO COUNT   vs_fs_layer_shift
 * Exit 0, or 1 with "vsd-test-idshift: MESSAGE" on stderr; 2 on bad usage. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs-cow/vs_fs.h"
#include "lib/vs_error.h"
#include "lib/vs_util.h"
#include "migrate/vs_migrate.h"

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > UINT32_MAX || s[0] == '-')
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int main(int argc, char **argv)
{
	struct vs_error err = {0};
	uint32_t from, to, count;
	cleanup_close int fd = -1;
	int rc;

	if (argc != 6 || (strcmp(argv[1], "image") != 0 && strcmp(argv[1], "layer") != 0) ||
	    parse_u32(argv[3], &from) < 0 || parse_u32(argv[4], &to) < 0 ||
	    parse_u32(argv[5], &count) < 0) {
		fprintf(stderr, "usage: vsd-test-idshift image|layer DIR FROM TO COUNT\n");
		return 2;
	}
	fd = open(argv[2], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "vsd-test-idshift: open %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	rc = strcmp(argv[1], "image") == 0 ? vs_mig_image_shift_ids(fd, from, to, count, &err)
					   : vs_fs_layer_shift(fd, from, to, count, &err);
	if (rc < 0) {
		fprintf(stderr, "vsd-test-idshift: %s\n", err.msg);
		return 1;
	}
	return 0;
}
