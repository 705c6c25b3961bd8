/* build/test-peer: drives daemon/peer.c for tests/integration/peer.bats.
 *
 *   test-peer request URL FINGERPRINT CERT KEY METHOD PATH
 *	one vsd_peer_request; prints "STATUS" and the body, or "error: ..."
 *	(exit 1)
 *   test-peer rsync SRC DST
 *	vsd_peer_rsync_push of SRC to a TLS server started here on
 *	127.0.0.1, which checks the upgrade's arguments with
 *	vs_mig_rsync_server_argv and runs vsd_peer_rsync_serve into DST the
 *	way a vsd target does: behind a relay that, like libmicrohttpd
 *	0.9.75, never passes the end of the upgraded stream on to TLS. Prints
 *	the stats; exit 1 with "error: ..." on either side's failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "lib/vs_cert.h"
#include "lib/vs_io.h"
#include "lib/vs_json.h"
#include "lib/vs_tls.h"
#include "lib/vs_util.h"
#include "migrate/vs_migrate.h"

static int usage(void)
{
	fprintf(stderr, "usage: test-peer request URL FP CERT KEY METHOD PATH\n"
			"       test-peer rsync SRC DST\n");
	return 2;
}

static char *slurp(const char *path)
{
	struct vs_error err = {0};
	char *s = NULL;
	size_t len;

	if (vs_read_file_at(AT_FDCWD, path, 1 << 20, &s, &len, &err) < 0) {
		fprintf(stderr, "error: %s\n", err.msg);
		exit(1);
	}
	return s;
}

static int do_request(char **argv)
{
	cleanup_free char *cert = slurp(argv[3]), *key = slurp(argv[4]), *resp = NULL;
	struct vsd_peer_id id = {.url = argv[1], .fingerprint = argv[2], .cert_pem = cert,
				 .key_pem = key, .timeout_ms = 10000};
	struct vs_error err = {0};
	unsigned status = 0;

	if (vsd_peer_request(&id, argv[5], argv[6], NULL, &status, &resp, &err) < 0) {
		printf("error: %s\n", err.msg);
		return 1;
	}
	printf("%u\n%s\n", status, resp);
	return 0;
}

/* ---- the target side of the rsync mode ----------------------------------- */

struct target {
	int listen_fd;
	const char *dst;
	char *cert, *key;
	int rc;
	char msg[VS_ERROR_MSG_MAX];
};

struct pipe_relay {
	gnutls_session_t s;
	int tcp, sock;
};

/* libmicrohttpd's part after a 101 over TLS, as 0.9.75 does it: bytes
 * both ways; the peer's end shuts the socketpair down; the socketpair's
 * end is never passed on. */
static void *mhd_like_relay(void *arg)
{
	struct pipe_relay *r = arg;
	char buf[65536];
	bool sock_eof = false;

	for (;;) {
		struct pollfd pf[2] = {{.fd = r->tcp, .events = POLLIN},
				       {.fd = sock_eof ? -1 : r->sock, .events = POLLIN}};
		ssize_t n;

		if (gnutls_record_check_pending(r->s) == 0 && poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (gnutls_record_check_pending(r->s) > 0 || pf[0].revents) {
			n = gnutls_record_recv(r->s, buf, sizeof(buf));
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				continue;
			if (n <= 0)
				break;
			if (vs_write_all(r->sock, buf, (size_t)n) < 0)
				break;
		}
		if (pf[1].revents) {
			n = read(r->sock, buf, sizeof(buf));
			if (n <= 0) {
				sock_eof = true;
				continue;
			}
			for (ssize_t off = 0; off < n;) {
				ssize_t w = gnutls_record_send(r->s, buf + off, (size_t)(n - off));

				if (w < 0)
					return NULL;
				off += w;
			}
		}
	}
	shutdown(r->sock, SHUT_RDWR);
	return NULL;
}

/* The request's head and JSON body; the body's args checked. */
static int read_upgrade(gnutls_session_t s, const char *dst, char ***argv, struct vs_error *err)
{
	char buf[65536];
	size_t len = 0;
	char *end = NULL, *cl;
	cleanup_json struct vs_json *j = NULL;
	const struct vs_json *args;
	const char *list[64];
	size_t n;

	while (end == NULL || len < (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10)) {
		ssize_t r = gnutls_record_recv(s, buf + len, sizeof(buf) - 1 - len);

		if (r <= 0)
			return vs_error_set(err, 0, "request: %s", gnutls_strerror((int)r));
		len += (size_t)r;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		cl = end ? strcasestr(buf, "Content-Length: ") : NULL;
		if (end != NULL && (cl == NULL || strstr(buf, "Vsd-Migration: 1\r\n") == NULL ||
				    strstr(buf, "Upgrade: vsd-stream\r\n") == NULL))
			return vs_error_set(err, 0, "request without the expected headers");
	}
	if (vs_json_parse(end + 4, &j, err) < 0)
		return -1;
	args = vs_json_get(j, "args");
	n = vs_json_array_len(args);
	if (strcmp(vs_json_string(vs_json_get(j, "part")) ?: "", "layer") != 0 || n == 0 ||
	    n > 64)
		return vs_error_set(err, 0, "body: %s", end + 4);
	for (size_t i = 0; i < n; i++)
		if ((list[i] = vs_json_string(vs_json_array_at(args, i))) == NULL)
			return vs_error_set(err, 0, "args[%zu] is not a string", i);
	return vs_mig_rsync_server_argv(list, n, dst, argv, err);
}

static int serve_one(struct target *t, int fd, struct vs_error *err)
{
	gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	cleanup_strv char **argv = NULL;
	struct pipe_relay pr;
	pthread_t th;
	gnutls_datum_t c = {(unsigned char *)t->cert, (unsigned)strlen(t->cert)};
	gnutls_datum_t k = {(unsigned char *)t->key, (unsigned)strlen(t->key)};
	int sv[2], r;
	static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
				 "Upgrade: vsd-stream\r\n\r\n";

	gnutls_certificate_allocate_credentials(&cred);
	gnutls_certificate_set_x509_key_mem(cred, &c, &k, GNUTLS_X509_FMT_PEM);
	gnutls_init(&s, GNUTLS_SERVER);
	gnutls_priority_set_direct(s, VS_TLS_PRIORITIES, NULL);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
	gnutls_transport_set_int(s, fd);
	do
		r = gnutls_handshake(s);
	while (r < 0 && gnutls_error_is_fatal(r) == 0);
	if (r < 0)
		return vs_error_set(err, 0, "server handshake: %s", gnutls_strerror(r));
	if (read_upgrade(s, t->dst, &argv, err) < 0)
		return -1;
	gnutls_record_send(s, ok, sizeof(ok) - 1);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return vs_error_set(err, errno, "socketpair");
	pr = (struct pipe_relay){.s = s, .tcp = fd, .sock = sv[0]};
	pthread_create(&th, NULL, mhd_like_relay, &pr);
	r = vsd_peer_rsync_serve(sv[1], fd, argv, err);
	/* What a stream_run does after: give the stream back, end TCP. */
	shutdown(fd, SHUT_RDWR);
	pthread_join(th, NULL);
	close(sv[0]);
	close(sv[1]);
	gnutls_deinit(s);
	gnutls_certificate_free_credentials(cred);
	return r;
}

static void *target_main(void *arg)
{
	struct target *t = arg;
	struct vs_error err = {0};
	int fd = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	t->rc = fd < 0 ? vs_error_set(&err, errno, "accept") : serve_one(t, fd, &err);
	snprintf(t->msg, sizeof(t->msg), "%s", err.msg);
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int listen_local(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

static int do_rsync(char **argv)
{
	struct target t = {.dst = argv[2]};
	cleanup_free char *ccert = NULL, *ckey = NULL, *url = NULL;
	char fp[VS_CERT_FP_HEX + 1];
	struct vs_mig_rsync_stats st = {0};
	struct vs_error err = {0};
	pthread_t th;
	int port = 0, r;

	if (vs_cert_generate("target", NULL, 0, &t.cert, &t.key, &err) < 0 ||
	    vs_cert_generate("source", NULL, 0, &ccert, &ckey, &err) < 0 ||
	    vs_cert_pem_fingerprint(t.cert, fp, &err) < 0) {
		printf("error: %s\n", err.msg);
		return 1;
	}
	t.listen_fd = listen_local(&port);
	if (t.listen_fd < 0) {
		printf("error: listen: %s\n", strerror(errno));
		return 1;
	}
	url = xasprintf("https://127.0.0.1:%d", port);
	pthread_create(&th, NULL, target_main, &t);
	struct vsd_peer_id id = {.url = url, .fingerprint = fp, .cert_pem = ccert,
				 .key_pem = ckey, .timeout_ms = 20000};
	r = vsd_peer_rsync_push(&id, "/v1/migrations/test/sync", "layer", argv[1], NULL, &st, &err);
	pthread_join(th, NULL);
	free(t.cert);
	free(t.key);
	if (r < 0)
		printf("error: source: %s\n", err.msg);
	if (t.rc < 0)
		printf("error: target: %s\n", t.msg);
	if (r < 0 || t.rc < 0)
		return 1;
	printf("sent %llu received %llu files %llu\n", (unsigned long long)st.bytes_sent,
	       (unsigned long long)st.bytes_received, (unsigned long long)st.files_transferred);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 8 && strcmp(argv[1], "request") == 0)
		return do_request(argv + 1);
	if (argc == 4 && strcmp(argv[1], "rsync") == 0)
		return do_rsync(argv + 1);
	return usage();
}
