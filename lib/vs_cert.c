/* X.509 certificates with GnuTLS (vs_cert.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/vs_cert.h"
#include "lib/vs_util.h"

/* Ten years: a pinned certificate should not expire under a node. */
#define CERT_DAYS 3650

static void hex(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

int vs_cert_fingerprint(const void *der, size_t len, char out[VS_CERT_FP_HEX + 1],
			struct vs_error *err)
{
	unsigned char d[32];
	int r = gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, d);

	if (r < 0)
		return vs_error_set(err, 0, "SHA-256: %s", gnutls_strerror(r));
	hex(d, sizeof(d), out);
	return 0;
}

int vs_cert_pem_fingerprint(const char *pem, char out[VS_CERT_FP_HEX + 1], struct vs_error *err)
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
	r = vs_cert_fingerprint(der.data, der.size, out, err);
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

int vs_cert_generate(const char *host, const char *const *sans, size_t nsans, char **cert_pem,
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
		return vs_error_set(err, 0, "generate a certificate: %s", gnutls_strerror(r));
	return 0;
}
