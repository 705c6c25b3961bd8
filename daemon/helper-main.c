/* vsd-helper: the runtime's re-executed modes (the per-container monitor
 * and the exec helper) in a binary of their own. It links only what the
 * runtime needs (no HTTP server, no TLS, no archive library), so each
 * container start and each exec loads a handful of libraries instead of
 * thirty. vsd also understands both modes itself and falls back to its
 * own binary when vsd-helper is not installed beside it. */
#include <stdio.h>
#include <string.h>

#include "lib/vs_trace.h"
#include "migrate/vs_migrate.h"
#include "runtime/vs_runtime.h"

int main(int argc, char **argv)
{
	vs_trace_init();
	if (argc > 1 && strcmp(argv[1], "__monitor") == 0)
		return vs_rt_monitor_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "__exec") == 0)
		return vs_rt_exec_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "__creds") == 0)
		return vs_rt_creds_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "__zygote") == 0)
		return vs_rt_zygote_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "__fdcat") == 0)
		return vs_mig_fdcat_main(argc, argv);
	fprintf(stderr, "vsd-helper: internal program of vsd(8), not to be run by hand\n");
	return 2;
}
