/* daemon: the node's certificate and fingerprints (daemon/tls.c), the
 * trust store and join tokens (daemon/trust.c), and --listen parsing
 * (daemon/listen.c), in a private temporary directory. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/server.h"
#include "lib/vs_cert.h"
#include "lib/vs_io.h"
#include "lib/vs_json.h"
#include "lib/vs_util.h"

struct fixture {
	char dir[64];
	int fd;
	struct vsd_trust *t;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct vs_error err = {0};

	snprintf(f->dir, sizeof(f->dir), "/tmp/vsd-test-trust-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->fd >= 0);
	assert_int_equal(vsd_trust_open(f->fd, &f->t, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	const char *files[] = {"trust.json", "node.crt", "node.key"};

	vsd_trust_free(f->t);
	for (size_t i = 0; i < VS_ARRAY_SIZE(files); i++)
		unlinkat(f->fd, files[i], 0);
	close(f->fd);
	rmdir(f->dir);
	free(f);
	return 0;
}

static const char FP_A[] = "aa00000000000000000000000000000000000000000000000000000000000001";
static const char FP_B[] = "bb00000000000000000000000000000000000000000000000000000000000002";

/* The fingerprint of a PEM certificate is the SHA-256 of its DER, and a
 * generated certificate holds the SANs asked for. */
static void test_generate_and_fingerprint(void **state)
{
	const char *sans[] = {"127.0.0.1", "::1", "node.example"};
	cleanup_free char *cert = NULL, *key = NULL;
	char fp[VSD_FP_HEX + 1], fp2[VSD_FP_HEX + 1], san[64];
	struct vs_error err = {0};
	gnutls_datum_t in, der = {0};
	gnutls_x509_crt_t crt;
	size_t len = sizeof(san);
	unsigned critical;

	assert_int_equal(vs_cert_generate("host1", sans, 3, &cert, &key, &err), 0);
	assert_non_null(strstr(cert, "BEGIN CERTIFICATE"));
	assert_non_null(strstr(key, "PRIVATE KEY"));
	assert_int_equal(vsd_cert_pem_fingerprint(cert, fp, &err), 0);
	assert_int_equal(strlen(fp), VSD_FP_HEX);

	in.data = (unsigned char *)cert;
	in.size = (unsigned)strlen(cert);
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	assert_int_equal(gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM), 0);
	assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der), 0);
	assert_int_equal(vsd_cert_fingerprint(der.data, der.size, fp2, &err), 0);
	assert_string_equal(fp, fp2);
	/* SAN 0 is the host, then the three asked for; an IP as 4 bytes. */
	assert_int_equal(gnutls_x509_crt_get_subject_alt_name(crt, 0, san, &len, &critical),
			 GNUTLS_SAN_DNSNAME);
	assert_string_equal(san, "host1");
	len = sizeof(san);
	assert_int_equal(gnutls_x509_crt_get_subject_alt_name(crt, 1, san, &len, &critical),
			 GNUTLS_SAN_IPADDRESS);
	assert_int_equal(len, 4);
	len = sizeof(san);
	assert_int_equal(gnutls_x509_crt_get_subject_alt_name(crt, 2, san, &len, &critical),
			 GNUTLS_SAN_IPADDRESS);
	assert_int_equal(len, 16);
	gnutls_free(der.data);
	gnutls_x509_crt_deinit(crt);

	/* Two certificates, two fingerprints; garbage is 400. */
	{
		cleanup_free char *c2 = NULL, *k2 = NULL;
		assert_int_equal(vs_cert_generate("host1", sans, 0, &c2, &k2, &err), 0);
		assert_int_equal(vsd_cert_pem_fingerprint(c2, fp2, &err), 0);
		assert_string_not_equal(fp, fp2);
	}
	assert_int_equal(vsd_cert_pem_fingerprint("not a certificate", fp2, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	(void)state;
}

/* vsd_tls_open generates node.crt and node.key (0600) once and reuses them. */
static void test_tls_open_reuses(void **state)
{
	struct fixture *f = *state;
	char *listen[] = {"127.0.0.1:8443", "[::1]:8443", NULL};
	struct vsd_tls *a = NULL, *b = NULL;
	struct vs_error err = {0};
	struct stat st;

	assert_int_equal(vsd_tls_open(f->fd, f->dir, NULL, NULL, listen, 2, &a, &err), 0);
	assert_int_equal(fstatat(f->fd, "node.key", &st, 0), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(vsd_tls_open(f->fd, f->dir, NULL, NULL, listen, 2, &b, &err), 0);
	assert_string_equal(vsd_tls_fingerprint(a), vsd_tls_fingerprint(b));
	assert_int_equal(vsd_tls_nlisten(b), 2);
	assert_string_equal(vsd_tls_listen(b, 1), "[::1]:8443");
	assert_null(vsd_tls_listen(b, 2));
	vsd_tls_free(a);
	vsd_tls_free(b);
}

static void test_add_find_remove(void **state)
{
	struct fixture *f = *state;
	char name[VS_NAME_MAX + 1];
	struct vs_error err = {0};
	char upper[VSD_FP_HEX + 1];

	assert_int_equal(vsd_trust_find(f->t, FP_A, name, sizeof(name), &err), 0);
	assert_int_equal(vsd_trust_add(f->t, "laptop", FP_A, &err), 0);
	assert_int_equal(vsd_trust_find(f->t, FP_A, name, sizeof(name), &err), 1);
	assert_string_equal(name, "laptop");
	/* Same name, same fingerprint (in upper case): 409. */
	assert_int_equal(vsd_trust_add(f->t, "laptop", FP_B, &err), -1);
	assert_int_equal(err.kind, VS_EK_CONFLICT);
	for (size_t i = 0; i <= VSD_FP_HEX; i++)
		upper[i] = (char)(FP_A[i] >= 'a' && FP_A[i] <= 'f' ? FP_A[i] - 32 : FP_A[i]);
	assert_int_equal(vsd_trust_add(f->t, "other", upper, &err), -1);
	assert_int_equal(err.kind, VS_EK_CONFLICT);
	/* Bad input: nothing stored. */
	assert_int_equal(vsd_trust_add(f->t, "Bad Name", FP_B, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_int_equal(vsd_trust_add(f->t, "x", "abc", &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_int_equal(vsd_trust_find(f->t, FP_B, name, sizeof(name), &err), 0);
	/* A second store on the same directory sees it (it is on disk). */
	{
		struct vsd_trust *t2 = NULL;
		assert_int_equal(vsd_trust_open(f->fd, &t2, &err), 0);
		assert_int_equal(vsd_trust_find(t2, FP_A, name, sizeof(name), &err), 1);
		vsd_trust_free(t2);
	}
	assert_int_equal(vsd_trust_remove(f->t, FP_A, &err), 0);
	assert_int_equal(vsd_trust_find(f->t, FP_A, name, sizeof(name), &err), 0);
	assert_int_equal(vsd_trust_remove(f->t, FP_A, &err), -1);
	assert_int_equal(err.kind, VS_EK_NOT_FOUND);
}

static void test_join_once(void **state)
{
	struct fixture *f = *state;
	char secret[VSD_JOIN_SECRET_HEX + 1], s2[VSD_JOIN_SECRET_HEX + 1];
	char name[VS_NAME_MAX + 1];
	cleanup_free char *text = NULL;
	struct vs_error err = {0};
	size_t len;

	assert_int_equal(vsd_trust_token_create(f->t, "node2", 600, secret, &err), 0);
	assert_int_equal(strlen(secret), VSD_JOIN_SECRET_HEX);
	/* The secret is never stored, only its hash. */
	assert_int_equal(vs_read_file_at(f->fd, "trust.json", 1 << 20, &text, &len, &err), 0);
	assert_null(strstr(text, secret));
	assert_non_null(strstr(text, "\"sha256\""));
	/* Same name again: 409; bad expiry: 400. */
	assert_int_equal(vsd_trust_token_create(f->t, "node2", 600, s2, &err), -1);
	assert_int_equal(err.kind, VS_EK_CONFLICT);
	assert_int_equal(vsd_trust_token_create(f->t, "n3", 0, s2, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	/* Wrong secret: 401, without the secret in the message. */
	assert_int_equal(vsd_trust_join(f->t, "0123", FP_A, name, sizeof(name), &err), -1);
	assert_int_equal(err.kind, VS_EK_UNAUTHORIZED);
	assert_null(strstr(err.msg, "0123"));
	/* No certificate: 400, the token stays. */
	assert_int_equal(vsd_trust_join(f->t, secret, "", name, sizeof(name), &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_int_equal(vsd_trust_join(f->t, secret, FP_A, name, sizeof(name), &err), 0);
	assert_string_equal(name, "node2");
	assert_int_equal(vsd_trust_find(f->t, FP_A, name, sizeof(name), &err), 1);
	assert_string_equal(name, "node2");
	/* Once only. */
	assert_int_equal(vsd_trust_join(f->t, secret, FP_B, name, sizeof(name), &err), -1);
	assert_int_equal(err.kind, VS_EK_UNAUTHORIZED);
	assert_int_equal(vsd_trust_find(f->t, FP_B, name, sizeof(name), &err), 0);
}

static void test_token_expired_and_removed(void **state)
{
	struct fixture *f = *state;
	char secret[VSD_JOIN_SECRET_HEX + 1], name[VS_NAME_MAX + 1];
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	struct vs_error err = {0};

	assert_int_equal(vsd_trust_token_create(f->t, "soon", 1, secret, &err), 0);
	sleep(2);
	assert_int_equal(vsd_trust_join(f->t, secret, FP_A, name, sizeof(name), &err), -1);
	assert_int_equal(err.kind, VS_EK_UNAUTHORIZED);
	assert_int_equal(vsd_trust_token_create(f->t, "later", 600, secret, &err), 0);
	assert_int_equal(vsd_trust_gen(f->t, true, g, &err), 0);
	/* Listed without secret or hash; the expired one is gone. */
	assert_non_null(strstr(vs_jgen_text(g, NULL), "\"later\""));
	assert_null(strstr(vs_jgen_text(g, NULL), "soon"));
	assert_null(strstr(vs_jgen_text(g, NULL), "sha256"));
	assert_int_equal(vsd_trust_token_remove(f->t, "later", &err), 0);
	assert_int_equal(vsd_trust_token_remove(f->t, "later", &err), -1);
	assert_int_equal(err.kind, VS_EK_NOT_FOUND);
	assert_int_equal(vsd_trust_join(f->t, secret, FP_A, name, sizeof(name), &err), -1);
}

/* A damaged file is an error, never silently emptied. */
static void test_damaged_store(void **state)
{
	struct fixture *f = *state;
	char name[VS_NAME_MAX + 1];
	struct vs_error err = {0};

	assert_int_equal(
	    vs_atomic_write_at(f->fd, "trust.json", "{\"certificates\": 3}", 19, 0600, &err), 0);
	assert_int_equal(vsd_trust_find(f->t, FP_A, name, sizeof(name), &err), -1);
	assert_int_equal(vsd_trust_add(f->t, "x", FP_A, &err), -1);
}

static void test_listen_parse(void **state)
{
	struct sockaddr_storage ss;
	struct vs_error err = {0};
	socklen_t len;
	const char *bad[] = {"",	 "8443",  "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536",
			     "::1:8443", "[::1]", "[::1]:",    "host:8443",   "127.0.0.1:84x"};

	assert_int_equal(vsd_listen_parse("127.0.0.1:8443", &ss, &len, &err), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 8443);
	assert_int_equal(vsd_listen_parse("[::1]:443", &ss, &len, &err), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	for (size_t i = 0; i < VS_ARRAY_SIZE(bad); i++) {
		assert_int_equal(vsd_listen_parse(bad[i], &ss, &len, &err), -1);
		assert_int_equal(err.kind, VS_EK_INVALID);
	}
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_generate_and_fingerprint),
	    cmocka_unit_test_setup_teardown(test_tls_open_reuses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_add_find_remove, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_join_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_token_expired_and_removed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_damaged_store, setup, teardown),
	    cmocka_unit_test(test_listen_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
