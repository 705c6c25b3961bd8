/* vs_cert.h: X.509 certificates as vsd and vsctl use them: self-signed,
 * named by the SHA-256 of their DER (the fingerprint), never checked
 * against a CA. */
#ifndef VS_CERT_H
#define VS_CERT_H

#include <stddef.h>

#include "lib/vs_error.h"

#define VS_CERT_FP_HEX 64 /* SHA-256 in lowercase hex */

/* The fingerprint of a DER certificate (or of any bytes). 0 or -1. */
int vs_cert_fingerprint(const void *der, size_t len, char out[VS_CERT_FP_HEX + 1],
			struct vs_error *err);
/* The fingerprint of the first certificate in PEM text (NUL-terminated). 0,
 * or -1 with VS_EK_INVALID when it is not a PEM X.509 certificate. */
int vs_cert_pem_fingerprint(const char *pem, char out[VS_CERT_FP_HEX + 1], struct vs_error *err);
/* A new self-signed ECDSA P-256 certificate valid ten years (CN and DNS
 * SAN host, one IP or DNS SAN per entry of sans: "127.0.0.1", "::1",
 * "node.example"; usable for TLS servers and clients) and its key, PEM,
 * malloc'd. 0 or -1. */
int vs_cert_generate(const char *host, const char *const *sans, size_t nsans, char **cert_pem,
		     char **key_pem, struct vs_error *err);

#endif
