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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/vs_cert.h"
#include "lib/vs_io.h"
#include "lib/vs_tls.h"
#include "lib/vs_util.h"

#define PEM_MAX	     (256 * 1024)
#define HANDSHAKE_MS 15000

struct vc_tls {
	struct vs_tls_client *c;
	gnutls_session_t s;
};

static void tls_free(struct vc_tls *t)
{
	if (t == NULL)
		return;
	vs_tls_client_free(t->c);
	free(t);
}

static int load_identity(struct vc_tls *t, const char *cert_file, const char *key_file,
			 struct vs_error *err)
{
	cleanup_free char *cert = NULL, *key = NULL;
	size_t len;
	int r;

	if (vs_read_file_at(AT_FDCWD, cert_file, PEM_MAX, &cert, &len, err) < 0 ||
	    vs_read_file_at(AT_FDCWD, key_file, PEM_MAX, &key, &len, err) < 0)
		return -1;
	r = vs_tls_client_new(cert, key, &t->c, err);
	gnutls_memset(key, 0, len);
	return r < 0 ? vs_error_prefix(err, "%s, %s", cert_file, key_file) : 0;
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
	fd = vs_tcp_connect(tg->host, tg->port, 0, err);
	if (fd < 0) {
		tls_free(t);
		return -1;
	}
	c->fd = fd;
	c->tls = t;
	if (vs_tls_client_handshake(t->c, fd, c->path, HANDSHAKE_MS, got, err) < 0)
		return -1;
	t->s = vs_tls_client_session(t->c);
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
