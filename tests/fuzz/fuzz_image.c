/* libFuzzer harness for the CRIU image checks (migrate/imgcheck.c,
 * migrate/pbuf.c): bytes an attacker controls when an image comes from a
 * backup or another node. The input is split at the marker "VSDF" into up
 * to five parts, used as inventory.img, ids-1.img, core-1.img,
 * userns-1.img and mountpoints-1.img (a missing part is empty); the
 * checker must only ever accept or refuse, never read out of bounds. Each
 * part is also shifted to another id range as a userns, cgroup and netdev
 * image (migrate/idshift.c).
 *
 * Built by `make fuzz`; seed it with the real images of the unit tests:
 *   build/fuzz/fuzz_image build/fuzz-corpus-image -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/mig-private.h"
#include "migrate/vs_migrate.h"
#include "tests/unit/test_migrate_helpers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"inventory.img", "ids-1.img", "core-1.img",
					    "userns-1.img", "mountpoints-1.img"};
	struct vs_mig_img_file files[5];
	/* The policy of the seed image (tests/unit/data/criu-image/good), so
	 * that mutations of it get past the first checks. */
	struct vs_mig_image_policy pol = {
	    .uid_first = 1000000,
	    .gid_first = 1000000,
	    .id_count = 65536,
	    .cap_bound = 0x120bdfcffffULL, /* rt_caps_bound() on this kernel */
	    .seccomp = true,
	    .ext_keys = test_mig_keys,
	    .n_ext_keys = sizeof(test_mig_keys) / sizeof(test_mig_keys[0]),
	};
	struct vs_error err = {0};
	const uint8_t *p = data, *end = data + size;

	for (size_t i = 0; i < 5; i++) {
		const uint8_t *m = p < end ? memmem(p, (size_t)(end - p), "VSDF", 4) : NULL;
		const uint8_t *stop = m != NULL && i < 4 ? m : end;
		/* Copies, so ASan sees reads past each part's own end. */
		uint8_t *copy = malloc((size_t)(stop - p) + 1);
		memcpy(copy, p, (size_t)(stop - p));
		files[i] = (struct vs_mig_img_file){names[i], copy, (size_t)(stop - p)};
		p = stop < end ? stop + 4 : end;
	}
	(void)vs_mig_image_check_files(files, 5, &pol, &err);
	pol.privileged = true;
	(void)vs_mig_image_check_files(files, 5, &pol, &err);
	/* The id range shift re-encodes the images it rewrites: each part as
	 * each kind of image it reads. */
	static const char *const shifted[] = {"userns-1.img", "cgroup.img", "netdev-1.img"};
	for (size_t i = 0; i < 5; i++)
		for (size_t k = 0; k < 3; k++) {
			struct vs_mig_pbw out;
			if (vs_mig_image_shift_file(shifted[k], files[i].data, files[i].len,
						    1000000, 2000000, 65536, &out, &err) == 0)
				vs_mig_pbw_free(&out);
		}
	for (size_t i = 0; i < 5; i++)
		free((void *)files[i].data);
	return 0;
}
