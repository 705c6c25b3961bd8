/* The TLS side of vc_conn (cli.h): a connection to a remote vsd over
 * HTTPS with GnuTLS. vsctl always presents its client certificate (its
 * fingerprint is its identity on the node) and never checks the server
 * against a CA: the server's fingerprint is compared with the one pinned
 * when the remote was added. Built into vsctl-tls.so, which vsctl loads
 * only when it talks to a remote (tls-module.h). */
#include "cli/tls-module.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/vs_cert.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"

#define PEM_MAX (256 * 1024)
/* TLS 1.2 and 1.3 only, as the daemon. */
#define VC_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define HANDSHAKE_MS	  15000

struct vc_tls {
	gnutls_session_t s;
	gnutls_certificate_credentials_t cred;
	gnutls_pcert_st pcert;
	gnutls_privkey_t key;
	bool have_pcert;
};

/* Our certificate whatever CAs the server names: it asks for "a"
 * certificate and looks up its fingerprint. */
static int retrieve(gnutls_session_t s, const gnutls_datum_t *req_ca, int nreq,
		    const gnutls_pk_algorithm_t *algos, int nalgos, gnutls_pcert_st **pcert,
		    unsigned *n, gnutls_privkey_t *key)
{
	struct vc_tls *t = gnutls_session_get_ptr(s);

	*pcert = &t->pcert;
	*n = 1;
	*key = t->key;
	return 0;
}

static void tls_free(struct vc_tls *t)
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

static int load_identity(struct vc_tls *t, const char *cert_file, const char *key_file,
			 struct vs_error *err)
{
	cleanup_free char *cert = NULL, *key = NULL;
	gnutls_datum_t c, k;
	size_t len;
	int r;

	if (vs_read_file_at(AT_FDCWD, cert_file, PEM_MAX, &cert, &len, err) < 0 ||
	    vs_read_file_at(AT_FDCWD, key_file, PEM_MAX, &key, &len, err) < 0)
		return -1;
	c = (gnutls_datum_t){.data = (unsigned char *)cert, .size = (unsigned)strlen(cert)};
	k = (gnutls_datum_t){.data = (unsigned char *)key, .size = (unsigned)len};
	r = gnutls_pcert_import_x509_raw(&t->pcert, &c, GNUTLS_X509_FMT_PEM, 0);
	if (r < 0)
		return vs_error_set(err, 0, "%s: %s", cert_file, gnutls_strerror(r));
	t->have_pcert = true;
	if ((r = gnutls_privkey_init(&t->key)) < 0 ||
	    (r = gnutls_privkey_import_x509_raw(t->key, &k, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0)
		r = vs_error_set(err, 0, "%s: %s", key_file, gnutls_strerror(r));
	gnutls_memset(key, 0, len);
	return r < 0 ? -1 : 0;
}

static int tcp_connect(const char *host, const char *port, struct vs_error *err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int fd = -1, e = 0;
	int r = getaddrinfo(host, port, &hints, &res);

	if (r != 0)
		return vs_error_kind(err, VS_EK_INVALID, "cannot resolve %s: %s", host,
				     gai_strerror(r));
	for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
			e = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		return vs_error_set(err, e, "cannot connect to %s port %s", host, port);
	return fd;
}

static int handshake(struct vc_tls *t, int fd, const char *host, struct vs_error *err)
{
	int r;

	if ((r = gnutls_certificate_allocate_credentials(&t->cred)) < 0 ||
	    (r = gnutls_init(&t->s, GNUTLS_CLIENT)) < 0 ||
	    (r = gnutls_priority_set_direct(t->s, VC_TLS_PRIORITIES, NULL)) < 0 ||
	    (r = gnutls_credentials_set(t->s, GNUTLS_CRD_CERTIFICATE, t->cred)) < 0)
		return vs_error_set(err, 0, "TLS setup: %s", gnutls_strerror(r));
	gnutls_certificate_set_retrieve_function2(t->cred, retrieve);
	gnutls_session_set_ptr(t->s, t);
	gnutls_transport_set_int(t->s, fd);
	gnutls_handshake_set_timeout(t->s, HANDSHAKE_MS);
	do
		r = gnutls_handshake(t->s);
	while (r < 0 && gnutls_error_is_fatal(r) == 0);
	if (r < 0)
		return vs_error_set(err, 0, "TLS handshake with %s: %s", host, gnutls_strerror(r));
	return 0;
}

static int peer_fp(struct vc_tls *t, char out[VS_CERT_FP_HEX + 1], struct vs_error *err)
{
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(t->s, &n);

	if (certs == NULL || n == 0)
		return vs_error_set(err, 0, "the server presented no certificate");
	return vs_cert_fingerprint(certs[0].data, certs[0].size, out, err);
}

static int tls_open(struct vc_conn *c, const struct vc_tls_target *tg, char got[VS_CERT_FP_HEX + 1],
		    struct vs_error *err)
{
	struct vc_tls *t = xcalloc(1, sizeof(*t));
	int fd;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->path = xasprintf("%s:%s", tg->host, tg->port);
	if (load_identity(t, tg->cert_file, tg->key_file, err) < 0) {
		tls_free(t);
		return -1;
	}
	fd = tcp_connect(tg->host, tg->port, err);
	if (fd < 0) {
		tls_free(t);
		return -1;
	}
	c->fd = fd;
	c->tls = t;
	if (handshake(t, fd, c->path, err) < 0 || peer_fp(t, got, err) < 0)
		return -1;
	if (tg->pin != NULL && strcmp(tg->pin, got) != 0)
		return vs_error_kind(err, VS_EK_FORBIDDEN,
				     "%s: the server's certificate changed: pinned %s, now %s; "
				     "if that is expected, run vsctl remote remove and add again",
				     c->path, tg->pin, got);
	return 0;
}

static ssize_t tls_send(struct vc_conn *c, const void *buf, size_t len)
{
	struct vc_tls *t = c->tls;
	ssize_t n;

	do
		n = gnutls_record_send(t->s, buf, len);
	while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
	if (n < 0)
		errno = EPIPE;
	return n < 0 ? -1 : n;
}

static ssize_t tls_recv(struct vc_conn *c, void *buf, size_t len)
{
	struct vc_tls *t = c->tls;
	ssize_t n;

	do
		n = gnutls_record_recv(t->s, buf, len);
	while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
	/* A server that closes after its answer without close_notify has
	 * still answered: the HTTP parser knows whether the body is whole. */
	if (n == GNUTLS_E_PREMATURE_TERMINATION)
		return 0;
	if (n < 0)
		errno = ECONNRESET;
	return n < 0 ? -1 : n;
}

static void tls_close(struct vc_conn *c)
{
	tls_free(c->tls);
	c->tls = NULL;
}

static bool tls_pending(const struct vc_conn *c)
{
	return c->tls != NULL && gnutls_record_check_pending(c->tls->s) > 0;
}

/* vsctl's client certificate, made by `vsctl remote add`. */
static int cert_generate(const char *host, char **cert_pem, char **key_pem, struct vs_error *err)
{
	return vs_cert_generate(host, NULL, 0, cert_pem, key_pem, err);
}

/* The only symbol the module exports (-fvisibility=hidden). */
__attribute__((visibility("default"))) const struct vc_tls_module vc_tls_module_v1 = {
    .open = tls_open,
    .send = tls_send,
    .recv = tls_recv,
    .close = tls_close,
    .pending = tls_pending,
    .cert_generate = cert_generate,
};
