/* libFuzzer harness for request bodies as the daemon reads them: the body
 * parser (size, NUL bytes, non-objects), the create request, and the
 * checkpoint/restore requests of every kind (including directory
 * normalisation). Built by `make fuzz`; run:
 *   build/fuzz/fuzz_api build/fuzz-corpus-api -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "lib/vs_config.h"
#include "lib/vs_json.h"
#include "lib/vs_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The server keeps bodies NUL-terminated; so does the harness. */
	cleanup_free char *body = xmalloc(size + 1);
	struct vs_error err = {0};
	struct vs_json *json = NULL;
	struct vs_container_config cfg;

	memcpy(body, data, size);
	body[size] = '\0';
	if (vsd_parse_body(body, size, true, &json, &err) == 0) {
		if (vs_config_parse_create(json, &cfg, &err) == 0)
			vs_config_free(&cfg);
		vs_json_free(json);
	}
	for (int k = VSD_CR_SUSPEND; k <= VSD_CR_RESTORE; k++) {
		struct vsd_cr_req req;
		if (vsd_cr_parse((enum vsd_cr_kind)k, body, size, &req, &err) == 0)
			vsd_cr_req_free(&req);
	}
	return 0;
}
