/* vsd's entry point: the re-executed modes of the runtime (the per-container
 * monitor and the exec helper) or the daemon. */
#include <string.h>

#include "daemon/server.h"
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
	return vsd_main(argc, argv);
}
