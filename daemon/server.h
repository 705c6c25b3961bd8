/* server.h: the top of the daemon: recovery (recover.c), the HTTP server
 * (server.c) and main (vsd.c). */
#ifndef VSD_SERVER_H
#define VSD_SERVER_H

#include <sys/socket.h>

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
/* The HTTPS listener's settings (vsd --listen...). */
struct vsd_listen_opts {
	const char *cert_pem, *key_pem; /* the node's (vsd_tls_cert_pem...) */
	unsigned timeout;		/* seconds a connection may stay silent */
	unsigned max_conns;		/* at once, in total */
	unsigned max_per_ip;		/* at once, from one address */
};
#define VSD_LISTEN_TIMEOUT    30
#define VSD_LISTEN_MAX_CONNS  256
#define VSD_LISTEN_MAX_PER_IP 32
/* Per connection: request line, headers and buffers (bodies go elsewhere). */
#define VSD_CONN_MEMORY (64 * 1024)
/* Like vsd_server_start, over TLS 1.2/1.3 on a listening TCP socket, with
 * o's limits, in a libmicrohttpd daemon of its own so that no TCP client
 * can hold up the unix socket. 0 or -1. */
int vsd_server_start_tls(struct vsd *d, int listen_fd, const struct vsd_route *table, size_t n,
			 const struct vsd_listen_opts *o, struct vsd_server **out,
			 struct vs_error *err);
/* ---- listen.c: the HTTPS listeners and the credential stores --------- */

#define VSD_LISTEN_MAX 8
/* vsd's options for them (getopt values). */
enum {
	VSD_OPT_LISTEN = 0x200,
	VSD_OPT_TLS_CERT,
	VSD_OPT_TLS_KEY,
	VSD_OPT_LISTEN_TIMEOUT,
	VSD_OPT_LISTEN_MAX_CONNS,
	VSD_OPT_LISTEN_MAX_PER_IP,
};
struct vsd_listen_cfg {
	char *listen[VSD_LISTEN_MAX + 1]; /* "127.0.0.1:8443", "[::1]:8443"; NULL-ended */
	size_t nlisten;
	const char *cert_file, *key_file; /* both or neither */
	struct vsd_listen_opts lim;
	struct vsd_server *srv[VSD_LISTEN_MAX];
};
/* Defaults into c. */
void vsd_listen_init(struct vsd_listen_cfg *c);
/* Take one of the options above. 0 or -1 (err names the option). */
int vsd_listen_option(struct vsd_listen_cfg *c, int opt, const char *arg, struct vs_error *err);
/* Parse "ADDR:PORT" (IPv4, or IPv6 in brackets; a port from 1 to 65535)
 * into ss. 0 or -1 (VS_EK_INVALID). */
int vsd_listen_parse(const char *spec, struct sockaddr_storage *ss, socklen_t *len,
		     struct vs_error *err);
/* Open <root>/auth (0700), the trust store and, when c has --listen
 * addresses, the node's certificate (what vsd's own calls to other nodes
 * present). 0 or -1. */
int vsd_listen_load(struct vsd *d, struct vsd_listen_cfg *c, struct vs_error *err);
/* After vsd_listen_load: one HTTPS server per --listen address, serving
 * from now. 0 or -1. */
int vsd_listen_start(struct vsd *d, struct vsd_listen_cfg *c, struct vs_error *err);
/* vsd_server_quiesce, vsd_server_stop of every HTTPS server. */
void vsd_listen_quiesce(struct vsd_listen_cfg *c);
void vsd_listen_stop(struct vsd *d, struct vsd_listen_cfg *c);

/* Stop accepting connections (running requests go on). NULL is fine. */
void vsd_server_quiesce(struct vsd_server *s);
/* Finish running requests and release everything (after
 * vsd_server_quiesce, and after upgraded streams were told to stop, since
 * MHD waits for them). NULL is fine. */
void vsd_server_stop(struct vsd_server *s);

/* The daemon's main (argv without the mode dispatch). Exit code. */
int vsd_main(int argc, char **argv);

#endif
