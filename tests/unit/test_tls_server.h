/* A GnuTLS server session for tests that play a node (test_daemon_peer.c):
 * the certificate and key in PEM, TLS 1.2
 * and 1.3 as vsd, a client certificate required (not verified). */
#ifndef TEST_TLS_SERVER_H
#define TEST_TLS_SERVER_H

#include <gnutls/gnutls.h>
#include <string.h>

#include "lib/vs_tls.h"

/* Handshake as the server on fd. 0 with *cred and *s (free both, also on
 * failure), or GnuTLS's error. */
static inline int test_tls_accept(int fd, const char *cert, const char *key,
				  gnutls_certificate_credentials_t *cred, gnutls_session_t *s)
{
	gnutls_datum_t c = {(unsigned char *)cert, (unsigned)strlen(cert)};
	gnutls_datum_t k = {(unsigned char *)key, (unsigned)strlen(key)};
	int r;

	gnutls_certificate_allocate_credentials(cred);
	gnutls_certificate_set_x509_key_mem(*cred, &c, &k, GNUTLS_X509_FMT_PEM);
	gnutls_init(s, GNUTLS_SERVER);
	gnutls_priority_set_direct(*s, VS_TLS_PRIORITIES, NULL);
	gnutls_credentials_set(*s, GNUTLS_CRD_CERTIFICATE, *cred);
	gnutls_certificate_server_set_request(*s, GNUTLS_CERT_REQUIRE);
	gnutls_transport_set_int(*s, fd);
	do
		r = gnutls_handshake(*s);
	while (r < 0 && gnutls_error_is_fatal(r) == 0);
	return r;
}

#endif
