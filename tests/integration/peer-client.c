/* build/test-peer: drives daemon/peer.c for tests/integration/peer.bats.
 *
 *   test-peer request URL FINGERPRINT CERT KEY METHOD PATH
 *	one vsd_peer_request; prints "STATUS" and the body, or "error: ..."
 *	(exit 1)
 *   test-peer upgrade URL FINGERPRINT CERT KEY PATH BODY
 *	one vsd_peer_upgrade; prints "101", or "error: ..." (exit 1)
 *   test-peer rsync SRC DST
 *	vsd_peer_rsync_push of SRC to an HTTPS server started here on
 *	127.0.0.1 with libmicrohttpd as vsd starts it, which checks the
 *	upgrade's arguments with vs_mig_rsync_server_argv and runs
 *	vsd_peer_rsync_serve into DST from the upgraded stream, as a vsd
 *	target's sync handler does. Prints the stats; exit 1 with
 *	"error: ..." on either side's failure.
 *   test-peer rsync-refused SRC DST
 *	as rsync, with a target that refuses the upgrade (it wants another
 *	part): the source's error and no rsync left behind
 *   test-peer rsync-direct SRC DST
 *	the same with the target's TLS served by GnuTLS directly (full
 *	buffers, the stream's end not passed on either), for what the
 *	transport costs without libmicrohttpd 0.9.75's 4-byte relay.
 *   test-peer rsync-cut SRC DST
 *	as rsync-direct, the target's TCP connection cut after 256 KiB came
 *	in: both sides must fail, neither hang
 */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
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
#include "tests/unit/test_tls_server.h"

static int usage(void)
{
	fprintf(stderr, "usage: test-peer request URL FP CERT KEY METHOD PATH\n"
			"       test-peer upgrade URL FP CERT KEY PATH BODY\n"
			"       test-peer rsync|rsync-refused|rsync-direct|rsync-cut SRC DST\n");
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
	struct vsd_peer_id id = {.url = argv[1],
				 .fingerprint = argv[2],
				 .cert_pem = cert,
				 .key_pem = key,
				 .timeout_ms = 10000};
	struct vs_error err = {0};
	unsigned status = 0;

	if (vsd_peer_request(&id, argv[5], argv[6], NULL, &status, &resp, &err) < 0) {
		printf("error: %s\n", err.msg);
		return 1;
	}
	printf("%u\n%s\n", status, resp);
	return 0;
}

static int do_upgrade(char **argv)
{
	cleanup_free char *cert = slurp(argv[3]), *key = slurp(argv[4]);
	struct vsd_peer_id id = {.url = argv[1],
				 .fingerprint = argv[2],
				 .cert_pem = cert,
				 .key_pem = key,
				 .timeout_ms = 10000};
	struct vs_error err = {0};
	struct vsd_peer *p = NULL;
	int r = vsd_peer_open(&id, &p, &err);

	if (r == 0)
		r = vsd_peer_upgrade(p, argv[5], argv[6], &err);
	vsd_peer_close(p);
	if (r < 0) {
		printf("error: %s (kind %d)\n", err.msg, (int)err.kind);
		return 1;
	}
	printf("101\n");
	return 0;
}

/* ---- the target side of the rsync mode: libmicrohttpd as vsd runs it ---- */

struct target {
	const char *dst;
	const char *part; /* the part it expects: "layer" (rsync-refused: "image") */
	size_t cut_after; /* rsync-cut */
	char *cert, *key;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int rc;
	char msg[VS_ERROR_MSG_MAX];
};

struct request {
	char *body;
	size_t len;
	char **argv; /* checked rsync command */
};

struct stream {
	struct target *t;
	char **argv;
	int sock, tcp_fd;
	struct MHD_UpgradeResponseHandle *urh;
};

static void finish(struct target *t, int rc, const char *msg)
{
	pthread_mutex_lock(&t->lock);
	t->rc = rc;
	snprintf(t->msg, sizeof(t->msg), "%s", msg);
	t->done = true;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

/* What the lead's sync handler's stream_run does, in a thread of its own
 * (libmicrohttpd relays the TLS side from the connection's thread once
 * the upgrade callback returned). */
static void *stream_main(void *arg)
{
	struct stream *st = arg;
	struct vs_error err = {0};
	int rc = vsd_peer_rsync_serve(st->sock, st->tcp_fd, st->argv, &err);

	if (st->tcp_fd >= 0)
		shutdown(st->tcp_fd, SHUT_RDWR);
	MHD_upgrade_action(st->urh, MHD_UPGRADE_ACTION_CLOSE);
	finish(st->t, rc, err.msg);
	vs_strv_free(st->argv);
	free(st);
	return NULL;
}

static void on_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
			size_t extra_in_size, MHD_socket sock,
			struct MHD_UpgradeResponseHandle *urh)
{
	struct request *r = con_cls;
	struct stream *st = xcalloc(1, sizeof(*st));
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	pthread_t th;

	st->t = cls;
	st->argv = steal_ptr(&r->argv);
	st->sock = sock;
	st->tcp_fd = ci != NULL ? ci->connect_fd : -1;
	st->urh = urh;
	pthread_create(&th, NULL, stream_main, st);
	pthread_detach(th);
}

/* The body's {"part", "args"} checked as a target checks it. */
static int check_body(struct target *t, const char *body, char ***argv, struct vs_error *err)
{
	cleanup_json struct vs_json *j = NULL;
	const struct vs_json *args;
	const char *list[64];
	size_t n;

	if (vs_json_parse(body, &j, err) < 0)
		return -1;
	args = vs_json_get(j, "args");
	n = vs_json_array_len(args);
	if (strcmp(vs_json_string(vs_json_get(j, "part")) ?: "", t->part) != 0 || n == 0 || n > 64)
		return vs_error_kind(err, VS_EK_INVALID, "body: %s", body);
	for (size_t i = 0; i < n; i++)
		if ((list[i] = vs_json_string(vs_json_array_at(args, i))) == NULL)
			return vs_error_kind(err, VS_EK_INVALID, "args[%zu] is not a string", i);
	return vs_mig_rsync_server_argv(list, n, t->dst, argv, err);
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, struct MHD_Response *resp)
{
	enum MHD_Result r = MHD_queue_response(c, status, resp);

	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result refuse(struct MHD_Connection *c, const char *msg)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	size_t len;
	const char *text;

	vs_jgen_obj_open(g);
	vs_jgen_key(g, "error");
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "message", msg);
	vs_jgen_obj_close(g);
	vs_jgen_obj_close(g);
	text = vs_jgen_text(g, &len);
	return answer(c, 400,
		      MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **con_cls)
{
	struct target *t = cls;
	struct request *r = *con_cls;
	struct vs_error err = {0};
	struct MHD_Response *up;

	if (r == NULL) {
		*con_cls = xcalloc(1, sizeof(*r));
		return MHD_YES;
	}
	if (*size > 0) {
		r->body = xrealloc(r->body, r->len + *size + 1);
		memcpy(r->body + r->len, data, *size);
		r->len += *size;
		r->body[r->len] = '\0';
		*size = 0;
		return MHD_YES;
	}
	if (strcmp(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Vsd-Migration") ?: "", "1"))
		return refuse(c, "no Vsd-Migration: 1");
	if (check_body(t, r->body ?: "", &r->argv, &err) < 0) {
		finish(t, -1, err.msg);
		return refuse(c, err.msg);
	}
	up = MHD_create_response_for_upgrade(on_upgraded, t);
	MHD_add_response_header(up, MHD_HTTP_HEADER_UPGRADE, "vsd-stream");
	return answer(c, MHD_HTTP_SWITCHING_PROTOCOLS, up);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct request *r = *con_cls;

	if (r != NULL) {
		vs_strv_free(r->argv);
		free(r->body);
		free(r);
	}
	*con_cls = NULL;
}

/* As vsd_server_start_tls starts it (daemon/server.c). */
static struct MHD_Daemon *start_target(struct target *t, int listen_fd)
{
	return MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
		MHD_ALLOW_UPGRADE | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_TLS,
	    0, NULL, NULL, on_request, t, MHD_OPTION_LISTEN_SOCKET, listen_fd,
	    MHD_OPTION_HTTPS_MEM_CERT, t->cert, MHD_OPTION_HTTPS_MEM_KEY, t->key,
	    MHD_OPTION_HTTPS_MEM_TRUST, t->cert, MHD_OPTION_HTTPS_PRIORITIES, VS_TLS_PRIORITIES,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, NULL, MHD_OPTION_END);
}

/* ---- the target side of rsync-direct: a plain GnuTLS server ---------------- */

struct pipe_relay {
	gnutls_session_t s;
	int tcp, sock;
	size_t cut_after; /* rsync-cut: end TCP after this many bytes in; 0: never */
	size_t in;
};

/* What libmicrohttpd does after a 101 over TLS, with full buffers: bytes
 * both ways; the peer's end shuts the socketpair down; the socketpair's
 * end is never passed on (as in 0.9.75). */
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
			r->in += (size_t)n;
			if (r->cut_after > 0 && r->in >= r->cut_after) {
				shutdown(r->tcp, SHUT_RDWR); /* the link is cut */
				break;
			}
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

/* The request's head and body (Content-Length), the body checked. */
static int read_upgrade(struct target *t, gnutls_session_t s, char ***argv, struct vs_error *err)
{
	char buf[65536];
	size_t len = 0;
	char *end = NULL, *cl = NULL;

	while (end == NULL || len < (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10)) {
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
	return check_body(t, end + 4, argv, err);
}

static int direct_serve(struct target *t, int fd, struct vs_error *err)
{
	gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	cleanup_strv char **argv = NULL;
	struct pipe_relay pr;
	pthread_t th;
	int sv[2], r;
	static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
				 "Upgrade: vsd-stream\r\n\r\n";

	r = test_tls_accept(fd, t->cert, t->key, &cred, &s);
	if (r < 0)
		r = vs_error_set(err, 0, "server handshake: %s", gnutls_strerror(r));
	else if ((r = read_upgrade(t, s, &argv, err)) == 0 &&
		 socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		r = vs_error_set(err, errno, "socketpair");
	if (r == 0) {
		gnutls_record_send(s, ok, sizeof(ok) - 1);
		pr = (struct pipe_relay){
		    .s = s, .tcp = fd, .sock = sv[0], .cut_after = t->cut_after};
		pthread_create(&th, NULL, mhd_like_relay, &pr);
		r = vsd_peer_rsync_serve(sv[1], fd, argv, err);
		shutdown(fd, SHUT_RDWR);
		pthread_join(th, NULL);
		close(sv[0]);
		close(sv[1]);
	}
	gnutls_deinit(s);
	gnutls_certificate_free_credentials(cred);
	return r;
}

struct direct {
	struct target *t;
	int listen_fd;
};

static void *direct_main(void *arg)
{
	struct direct *dt = arg;
	struct vs_error err = {0};
	int fd = accept4(dt->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	int rc = fd < 0 ? vs_error_set(&err, errno, "accept") : direct_serve(dt->t, fd, &err);

	if (fd >= 0)
		close(fd);
	finish(dt->t, rc, err.msg);
	return NULL;
}

static int listen_local(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

static int do_rsync(char **argv, bool mhd, const char *part, size_t cut_after)
{
	struct target t = {.dst = argv[2],
			   .part = part,
			   .cut_after = cut_after,
			   .lock = PTHREAD_MUTEX_INITIALIZER,
			   .cond = PTHREAD_COND_INITIALIZER};
	cleanup_free char *ccert = NULL, *ckey = NULL, *url = NULL;
	char fp[VS_CERT_FP_HEX + 1];
	struct vs_mig_rsync_stats st = {0};
	struct vs_error err = {0};
	struct MHD_Daemon *d = NULL;
	struct direct dt = {.t = &t};
	pthread_t th;
	int port = 0, fd, r;

	if (vs_cert_generate("target", NULL, 0, &t.cert, &t.key, &err) < 0 ||
	    vs_cert_generate("source", NULL, 0, &ccert, &ckey, &err) < 0 ||
	    vs_cert_pem_fingerprint(t.cert, fp, &err) < 0) {
		printf("error: %s\n", err.msg);
		return 1;
	}
	fd = listen_local(&port);
	dt.listen_fd = fd;
	if (fd >= 0 && mhd)
		d = start_target(&t, fd);
	else if (fd >= 0 && pthread_create(&th, NULL, direct_main, &dt) == 0)
		pthread_detach(th);
	else
		fd = -1;
	if (fd < 0 || (mhd && d == NULL)) {
		printf("error: cannot start the target\n");
		return 1;
	}
	url = xasprintf("https://127.0.0.1:%d", port);
	struct vsd_peer_id id = {
	    .url = url, .fingerprint = fp, .cert_pem = ccert, .key_pem = ckey, .timeout_ms = 20000};
	r = vsd_peer_rsync_push(&id, "/v1/migrations/test/sync", "layer", argv[1], NULL, &st, &err);
	pthread_mutex_lock(&t.lock);
	while (!t.done)
		pthread_cond_wait(&t.cond, &t.lock);
	pthread_mutex_unlock(&t.lock);
	if (d != NULL)
		MHD_stop_daemon(d);
	close(fd);
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
	if (argc == 8 && strcmp(argv[1], "upgrade") == 0)
		return do_upgrade(argv + 1);
	if (argc == 4 && strcmp(argv[1], "rsync") == 0)
		return do_rsync(argv + 1, true, "layer", 0);
	if (argc == 4 && strcmp(argv[1], "rsync-refused") == 0)
		return do_rsync(argv + 1, true, "image", 0);
	if (argc == 4 && strcmp(argv[1], "rsync-direct") == 0)
		return do_rsync(argv + 1, false, "layer", 0);
	if (argc == 4 && strcmp(argv[1], "rsync-cut") == 0)
		return do_rsync(argv + 1, false, "layer", 256 * 1024);
	return usage();
}
