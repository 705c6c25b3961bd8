/* server.h: the top of the daemon: recovery (recover.c), the HTTP server
 * (server.c) and main (vsd.c). */
#ifndef VSD_SERVER_H
#define VSD_SERVER_H

#include "daemon/daemon.h"
#include "daemon/http.h"

/* Startup recovery (docs/architecture.md). Logs what it does; failures of
 * single containers are logged, not fatal. 0 or -1 (fatal). */
int vsd_recover(struct vsd *d, struct vs_error *err);

struct vsd_server;
/* Serve the routes of table (n entries; matched with vsd_route_match, each
 * request run by its route's pre-check and handler) on the listening unix
 * socket fd (taken over). 0 or -1. */
int vsd_server_start(struct vsd *d, int listen_fd, const struct vsd_route *table, size_t n,
		     struct vsd_server **out, struct vs_error *err);
/* Stop accepting connections (running requests go on). NULL is fine. */
void vsd_server_quiesce(struct vsd_server *s);
/* Finish running requests and release everything (after
 * vsd_server_quiesce, and after upgraded streams were told to stop, since
 * MHD waits for them). NULL is fine. */
void vsd_server_stop(struct vsd_server *s);

/* The daemon's main (argv without the mode dispatch). Exit code. */
int vsd_main(int argc, char **argv);

#endif
