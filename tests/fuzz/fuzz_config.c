/* libFuzzer harness for the parsers of untrusted JSON: container
 * configurations (vs_config_parse) and API request bodies
 * (vs_json_parse + vs_config_parse_create / vs_config_parse_limits).
 * Besides the sanitizers it checks a round trip: a configuration that
 * parses serializes to text that parses again to the same fields.
 *
 * Built by `make fuzz` (clang, -fsanitize=fuzzer); run:
 *   build/fuzz/fuzz_config build/fuzz-corpus-config -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vs_config.h"
#include "lib/vs_json.h"
#include "lib/vs_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const struct vs_container_config *a)
{
	struct vs_container_config b;
	struct vs_error err = {0};
	cleanup_free char *text = vs_config_to_json(a);

	if (vs_config_parse(text, &b, &err) < 0)
		abort(); /* what we write must read back */
	if (strcmp(a->name, b.name) != 0 || strcmp(a->hostname, b.hostname) != 0 ||
	    a->limits.memory != b.limits.memory || a->limits.pids != b.limits.pids ||
	    a->limits.cpus_milli != b.limits.cpus_milli || a->idmap_uid != b.idmap_uid)
		abort();
	vs_config_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cleanup_free char *text = xstrndup((const char *)data, size);
	struct vs_container_config cfg;
	struct vs_error err = {0};
	struct vs_json *body = NULL;

	if (vs_config_parse(text, &cfg, &err) == 0) {
		round_trip(&cfg);
		vs_config_free(&cfg);
	}
	if (vs_json_parse(text, &body, &err) == 0) {
		struct vs_limits l;
		if (vs_config_parse_create(body, &cfg, &err) == 0)
			vs_config_free(&cfg);
		vs_config_parse_limits(body, "limits", &l, &err);
		vs_json_free(body);
	}
	return 0;
}
