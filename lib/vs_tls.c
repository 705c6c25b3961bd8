/* The client side of vsd's TLS connections (vs_tls.h). */
#include "lib/vs_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/vs_util.h"

struct vs_tls_client {
	gnutls_session_t s;
	gnutls_certificate_credentials_t cred;
	gnutls_pcert_st pcert;
	gnutls_privkey_t key;
	bool have_pcert;
};

/* connect() within timeout_ms: a non-blocking connect and a poll. */
static int connect_within(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
	int fl = fcntl(fd, F_GETFL), e = 0, r;
	socklen_t elen = sizeof(e);
	struct pollfd p = {.fd = fd, .events = POLLOUT};

	if (timeout_ms <= 0)
		return connect(fd, sa, len);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	r = connect(fd, sa, len);
	if (r < 0 && errno == EINPROGRESS) {
		do
			r = poll(&p, 1, timeout_ms);
		while (r < 0 && errno == EINTR);
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (r > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) == 0 && e != 0) {
			errno = e;
			return -1;
		}
		r = r > 0 ? 0 : -1;
	}
	if (r == 0 && fcntl(fd, F_SETFL, fl) < 0)
		return -1;
	return r;
}

int vs_tcp_connect(const char *host, const char *port, int timeout_ms, struct vs_error *err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int fd = -1, e = 0;
	int r = getaddrinfo(host, port, &hints, &res);

	if (r != 0)
		return vs_error_kind(err, VS_EK_INVALID, "cannot resolve %s: %s", host,
				     gai_strerror(r));
	for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd >= 0 && connect_within(fd, a->ai_addr, a->ai_addrlen, timeout_ms) < 0) {
			e = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0 && e == ETIMEDOUT && timeout_ms > 0)
		return vs_error_set(err, 0, "cannot connect to %s port %s: timed out after %d ms",
				    host, port, timeout_ms);
	if (fd < 0)
		return vs_error_set(err, e, "cannot connect to %s port %s", host, port);
	return fd;
}

/* Our certificate whatever CAs the server names: it asks for "a"
 * certificate and looks up its fingerprint. */
static int retrieve(gnutls_session_t s, const gnutls_datum_t *req_ca, int nreq,
		    const gnutls_pk_algorithm_t *algos, int nalgos, gnutls_pcert_st **pcert,
		    unsigned *n, gnutls_privkey_t *key)
{
	struct vs_tls_client *t = gnutls_session_get_ptr(s);

	*pcert = &t->pcert;
	*n = 1;
	*key = t->key;
	return 0;
}

void vs_tls_client_free(struct vs_tls_client *t)
{
	if (t == NULL)
		return;
	if (t->s != NULL)
		gnutls_deinit(t->s);
	if (t->cred != NULL)
		gnutls_certificate_free_credentials(t->cred);
	if (t->have_pcert)
		gnutls_pcert_deinit(&t->pcert);
	if (t->key != NULL)
		gnutls_privkey_deinit(t->key);
	free(t);
}

int vs_tls_client_new(const char *cert_pem, const char *key_pem, struct vs_tls_client **out,
		      struct vs_error *err)
{
	struct vs_tls_client *t = xcalloc(1, sizeof(*t));
	gnutls_datum_t c = {.data = (unsigned char *)cert_pem, .size = (unsigned)strlen(cert_pem)};
	gnutls_datum_t k = {.data = (unsigned char *)key_pem, .size = (unsigned)strlen(key_pem)};
	int r = gnutls_pcert_import_x509_raw(&t->pcert, &c, GNUTLS_X509_FMT_PEM, 0);

	if (r < 0) {
		vs_tls_client_free(t);
		return vs_error_set(err, 0, "client certificate: %s", gnutls_strerror(r));
	}
	t->have_pcert = true;
	if ((r = gnutls_privkey_init(&t->key)) < 0 ||
	    (r = gnutls_privkey_import_x509_raw(t->key, &k, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		vs_tls_client_free(t);
		return vs_error_set(err, 0, "client key: %s", gnutls_strerror(r));
	}
	*out = t;
	return 0;
}

int vs_tls_client_handshake(struct vs_tls_client *t, int fd, const char *peer, int timeout_ms,
			    char fp[VS_CERT_FP_HEX + 1], struct vs_error *err)
{
	const gnutls_datum_t *certs;
	unsigned n = 0;
	int r;

	if ((r = gnutls_certificate_allocate_credentials(&t->cred)) < 0 ||
	    (r = gnutls_init(&t->s, GNUTLS_CLIENT)) < 0 ||
	    (r = gnutls_priority_set_direct(t->s, VS_TLS_PRIORITIES, NULL)) < 0 ||
	    (r = gnutls_credentials_set(t->s, GNUTLS_CRD_CERTIFICATE, t->cred)) < 0)
		return vs_error_set(err, 0, "TLS setup: %s", gnutls_strerror(r));
	gnutls_certificate_set_retrieve_function2(t->cred, retrieve);
	gnutls_session_set_ptr(t->s, t);
	gnutls_transport_set_int(t->s, fd);
	gnutls_handshake_set_timeout(t->s, timeout_ms > 0 ? (unsigned)timeout_ms : 0);
	do
		r = gnutls_handshake(t->s);
	while (r < 0 && gnutls_error_is_fatal(r) == 0);
	if (r < 0)
		return vs_error_set(err, 0, "TLS handshake with %s: %s", peer, gnutls_strerror(r));
	certs = gnutls_certificate_get_peers(t->s, &n);
	if (certs == NULL || n == 0)
		return vs_error_set(err, 0, "%s presented no certificate", peer);
	return vs_cert_fingerprint(certs[0].data, certs[0].size, fp, err);
}

void *vs_tls_client_session(struct vs_tls_client *t)
{
	return t->s;
}
