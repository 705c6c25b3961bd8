/* vs_tls: the client side of a TLS connection between vsd's parties (vsctl
 * to a remote node, a node to another in a migration): GnuTLS, TLS 1.2 and
 * 1.3, a client certificate always presented, and the server named by the
 * fingerprint of its certificate (vs_cert.h) instead of a CA. The caller
 * compares the fingerprint with the one it pinned. */
#ifndef VS_TLS_H
#define VS_TLS_H

#include "lib/vs_cert.h"
#include "lib/vs_error.h"

/* TLS 1.2 and 1.3 only, as the daemon. */
#define VS_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct vs_tls_client;

/* A TCP connection to host port (getaddrinfo: names, IPv4, IPv6 without
 * brackets), each address tried in turn, each within timeout_ms (<= 0: the
 * kernel's own). Returns the descriptor (O_CLOEXEC, blocking), or -1 with
 * err: "cannot resolve HOST: ...", "cannot connect to HOST port PORT:
 * Connection refused" or "...: timed out after N ms". */
int vs_tcp_connect(const char *host, const char *port, int timeout_ms, struct vs_error *err);

/* A client presenting the certificate and key in PEM text. 0 with *out, or
 * -1 with err naming which of the two does not load. */
int vs_tls_client_new(const char *cert_pem, const char *key_pem, struct vs_tls_client **out,
		      struct vs_error *err);
/* The handshake over fd (connected; it stays the caller's), within
 * timeout_ms; peer names the server in messages. 0 with the SHA-256 of the
 * server's certificate in fp, or -1 ("TLS handshake with PEER: ...", "PEER
 * presented no certificate"). */
int vs_tls_client_handshake(struct vs_tls_client *t, int fd, const char *peer, int timeout_ms,
			    char fp[VS_CERT_FP_HEX + 1], struct vs_error *err);
/* The session (a gnutls_session_t) after the handshake, for record I/O. */
void *vs_tls_client_session(struct vs_tls_client *t);
/* Frees the session and credentials (not the descriptor); NULL is fine. */
void vs_tls_client_free(struct vs_tls_client *t);

#endif
