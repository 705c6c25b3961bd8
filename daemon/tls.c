/* The node's TLS identity (auth.h): its certificate and key, generated
 * with GnuTLS on first start when the operator names none, and
 * fingerprints (SHA-256 of the DER), which are how vsd names certificates
 * everywhere: nothing is verified against a CA, a client is whoever holds
 * the key of a trusted fingerprint. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/auth.h"
#include "daemon/log.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"

#define CERT_FILE "node.crt"
#define KEY_FILE  "node.key"
#define PEM_MAX	  (256 * 1024)
/* Ten years: a pinned certificate should not expire under a node. */
#define CERT_DAYS 3650

struct vsd_tls {
	char *cert_pem;
	char *key_pem;
	char fp[VSD_FP_HEX + 1];
	char **listen;
	size_t nlisten;
};

static void hex(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

int vsd_cert_fingerprint(const void *der, size_t len, char out[VSD_FP_HEX + 1],
			 struct vs_error *err)
{
	unsigned char d[32];
	int r = gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, d);

	if (r < 0)
		return vs_error_set(err, 0, "SHA-256: %s", gnutls_strerror(r));
	hex(d, sizeof(d), out);
	return 0;
}

int vsd_cert_pem_fingerprint(const char *pem, char out[VSD_FP_HEX + 1], struct vs_error *err)
{
	gnutls_datum_t in = {.data = (unsigned char *)pem, .size = (unsigned)strlen(pem)};
	gnutls_datum_t der = {0};
	gnutls_x509_crt_t crt;
	int r;

	if (gnutls_x509_crt_init(&crt) < 0)
		return vs_error_set(err, ENOMEM, "gnutls_x509_crt_init");
	r = gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM);
	if (r >= 0)
		r = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der);
	gnutls_x509_crt_deinit(crt);
	if (r < 0)
		return vs_error_kind(err, VS_EK_INVALID,
				     "certificate: not a PEM X.509 certificate (%s)",
				     gnutls_strerror(r));
	r = vsd_cert_fingerprint(der.data, der.size, out, err);
	gnutls_free(der.data);
	return r;
}

/* One subject alternative name: an IP address when it parses as one. */
static int add_san(gnutls_x509_crt_t crt, const char *s)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, s, a) == 1)
		return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, a, 4,
							    GNUTLS_FSAN_APPEND);
	if (inet_pton(AF_INET6, s, a) == 1)
		return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, a, 16,
							    GNUTLS_FSAN_APPEND);
	return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, s, (unsigned)strlen(s),
						    GNUTLS_FSAN_APPEND);
}

static int fill_cert(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *host,
		     const char *const *sans, size_t nsans)
{
	unsigned char serial[16];
	time_t now = time(NULL);
	int r;

	if ((r = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial))) < 0)
		return r;
	serial[0] &= 0x7f; /* a positive INTEGER */
	if ((r = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (r = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
	    (r = gnutls_x509_crt_set_activation_time(crt, now - 3600)) < 0 ||
	    (r = gnutls_x509_crt_set_expiration_time(crt, now + (time_t)CERT_DAYS * 86400)) < 0 ||
	    (r = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, host,
					       (unsigned)strlen(host))) < 0 ||
	    (r = gnutls_x509_crt_set_key(crt, key)) < 0 ||
	    (r = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    (r = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (r = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
	    (r = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0)) < 0 ||
	    (r = add_san(crt, host)) < 0)
		return r;
	for (size_t i = 0; i < nsans; i++)
		if ((r = add_san(crt, sans[i])) < 0)
			return r;
	return gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0);
}

int vsd_cert_generate(const char *host, const char *const *sans, size_t nsans, char **cert_pem,
		      char **key_pem, struct vs_error *err)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t c = {0}, k = {0};
	int r;

	if ((r = gnutls_x509_privkey_init(&key)) < 0 || (r = gnutls_x509_crt_init(&crt)) < 0)
		goto out;
	r = gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
					 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
	if (r < 0 || (r = fill_cert(crt, key, host, sans, nsans)) < 0 ||
	    (r = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &c)) < 0 ||
	    (r = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &k)) < 0)
		goto out;
	*cert_pem = xstrndup((const char *)c.data, c.size);
	*key_pem = xstrndup((const char *)k.data, k.size);
out:
	gnutls_free(c.data);
	if (k.data != NULL) {
		gnutls_memset(k.data, 0, k.size);
		gnutls_free(k.data);
	}
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	if (key != NULL)
		gnutls_x509_privkey_deinit(key);
	if (r < 0)
		return vs_error_set(err, 0, "generate the node's certificate: %s",
				    gnutls_strerror(r));
	return 0;
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
	r = vsd_cert_generate(host, (const char *const *)sans, t->nlisten, &t->cert_pem,
			      &t->key_pem, err);
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
