/* The node's TLS identity (auth.h): its certificate and key, generated
 * with GnuTLS on first start when the operator names none, and
 * fingerprints (SHA-256 of the DER), which are how vsd names certificates
 * everywhere: nothing is verified against a CA, a client is whoever holds
 * the key of a trusted fingerprint. */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/auth.h"
#include "daemon/log.h"
#include "lib/vs_cert.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"

#define CERT_FILE "node.crt"
#define KEY_FILE  "node.key"
#define PEM_MAX	  (256 * 1024)

struct vsd_tls {
	char *cert_pem;
	char *key_pem;
	char fp[VSD_FP_HEX + 1];
	char **listen;
	size_t nlisten;
};

int vsd_cert_fingerprint(const void *der, size_t len, char out[VSD_FP_HEX + 1],
			 struct vs_error *err)
{
	return vs_cert_fingerprint(der, len, out, err);
}

int vsd_cert_pem_fingerprint(const char *pem, char out[VSD_FP_HEX + 1], struct vs_error *err)
{
	return vs_cert_pem_fingerprint(pem, out, err);
}

/* The host part of a --listen address ("[::1]:8443" -> "::1"). */
static char *listen_host(const char *spec)
{
	const char *colon = strrchr(spec, ':');

	if (spec[0] == '[' && colon != NULL && colon > spec && colon[-1] == ']')
		return xstrndup(spec + 1, (size_t)(colon - spec - 2));
	return colon != NULL ? xstrndup(spec, (size_t)(colon - spec)) : xstrdup(spec);
}

/* Generate node.crt and node.key in dirfd (the key first: a certificate
 * without its key must never be left). */
static int generate_files(struct vsd_tls *t, int dirfd, const char *dir, struct vs_error *err)
{
	char host[256] = "localhost";
	char **sans = xcalloc(t->nlisten + 1, sizeof(*sans));
	int r;

	if (gethostname(host, sizeof(host) - 1) < 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	for (size_t i = 0; i < t->nlisten; i++)
		sans[i] = listen_host(t->listen[i]);
	r = vs_cert_generate(host, (const char *const *)sans, t->nlisten, &t->cert_pem, &t->key_pem,
			     err);
	vs_strv_free(sans);
	if (r < 0)
		return -1;
	if (vs_atomic_write_at(dirfd, KEY_FILE, t->key_pem, strlen(t->key_pem), 0600, err) < 0 ||
	    vs_atomic_write_at(dirfd, CERT_FILE, t->cert_pem, strlen(t->cert_pem), 0644, err) < 0)
		return vs_error_prefix(err, "store the node's certificate in %s", dir);
	return 0;
}

static int load(struct vsd_tls *t, int dirfd, const char *cert, const char *key,
		struct vs_error *err)
{
	size_t len;

	if (vs_read_file_at(dirfd, cert, PEM_MAX, &t->cert_pem, &len, err) < 0 ||
	    vs_read_file_at(dirfd, key, PEM_MAX, &t->key_pem, &len, err) < 0)
		return -1;
	return 0;
}

int vsd_tls_open(int auth_dir_fd, const char *auth_dir, const char *cert_file, const char *key_file,
		 char *const *listen, size_t nlisten, struct vsd_tls **out, struct vs_error *err)
{
	struct vsd_tls *t = xcalloc(1, sizeof(*t));
	struct vs_error e = {0};
	int r;

	t->listen = vs_strv_dup(listen);
	t->nlisten = nlisten;
	if (cert_file != NULL)
		r = load(t, AT_FDCWD, cert_file, key_file, err);
	else if ((r = load(t, auth_dir_fd, CERT_FILE, KEY_FILE, &e)) < 0 && e.errnum == ENOENT) {
		free(t->cert_pem);
		t->cert_pem = NULL;
		r = generate_files(t, auth_dir_fd, auth_dir, err);
		if (r == 0)
			vsd_log("generated the node's certificate %s/%s", auth_dir, CERT_FILE);
	} else if (r < 0)
		*err = e;
	if (r == 0 && vsd_cert_pem_fingerprint(t->cert_pem, t->fp, err) < 0)
		r = vs_error_prefix(err, "%s", cert_file ? cert_file : CERT_FILE);
	if (r < 0) {
		vsd_tls_free(t);
		return -1;
	}
	*out = t;
	return 0;
}

void vsd_tls_free(struct vsd_tls *t)
{
	if (t == NULL)
		return;
	free(t->cert_pem);
	if (t->key_pem != NULL) {
		gnutls_memset(t->key_pem, 0, strlen(t->key_pem));
		free(t->key_pem);
	}
	vs_strv_free(t->listen);
	free(t);
}

const char *vsd_tls_cert_pem(const struct vsd_tls *t)
{
	return t->cert_pem;
}

const char *vsd_tls_key_pem(const struct vsd_tls *t)
{
	return t->key_pem;
}

const char *vsd_tls_fingerprint(const struct vsd_tls *t)
{
	return t->fp;
}

size_t vsd_tls_nlisten(const struct vsd_tls *t)
{
	return t->nlisten;
}

const char *vsd_tls_listen(const struct vsd_tls *t, size_t i)
{
	return i < t->nlisten ? t->listen[i] : NULL;
}

void vsd_tls_peer_fingerprint(void *session, char out[VSD_FP_HEX + 1])
{
	const gnutls_datum_t *certs;
	unsigned n = 0;

	out[0] = '\0';
	if (session == NULL)
		return;
	certs = gnutls_certificate_get_peers(session, &n);
	if (certs == NULL || n == 0 ||
	    vsd_cert_fingerprint(certs[0].data, certs[0].size, out, NULL) < 0)
		out[0] = '\0';
}
