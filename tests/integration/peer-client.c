/* build/test-peer: drives daemon/peer.c for tests/integration/peer.bats.
 *
 *   test-peer request URL FINGERPRINT CERT KEY METHOD PATH [BODY]
 *	one vsd_peer_request; prints "STATUS" and the body, or "error: ..."
 *	(exit 1)
 *   test-peer rsync SRC DST
 *	vsd_peer_rsync_push of SRC to an HTTPS server started here on
 *	127.0.0.1 with libmicrohttpd as vsd starts it, serving the two
 *	requests of docs/migration.md ("Transport") as daemon/migrate-in.c
 *	does: POST .../sync checks {"part","args","stream"} with
 *	vs_mig_rsync_server_argv, runs rsync --server into DST and streams
 *	its output; POST .../sync-input (Vsd-Stream) writes its chunked body
 *	into that rsync's input. Prints the stats (and, with TEST_PEER_TIME
 *	set, the push's milliseconds on stderr); exit 1 with "error: ..."
 *	on either side's failure.
 *   test-peer rsync-refused SRC DST
 *	as rsync, with a target that refuses the sync (it wants another
 *	part): the source's error and no rsync left behind
 *   test-peer rsync-cut SRC DST
 *	as rsync, the link cut once 256 KiB of input came in (both requests'
 *	connections dropped): both sides must fail, neither hang
 */
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "lib/vs_cert.h"
#include "lib/vs_io.h"
#include "lib/vs_json.h"
#include "lib/vs_spawn.h"
#include "lib/vs_tls.h"
#include "lib/vs_util.h"
#include "migrate/vs_migrate.h"

extern char **environ;

static int usage(void)
{
	fprintf(stderr, "usage: test-peer request URL FP CERT KEY METHOD PATH [BODY]\n"
			"       test-peer rsync|rsync-refused|rsync-cut SRC DST\n");
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

	if (vsd_peer_request(&id, argv[5], argv[6], argv[7], &status, &resp, &err) < 0) {
		printf("error: %s\n", err.msg);
		return 1;
	}
	printf("%u\n%s\n", status, resp);
	return 0;
}

/* ---- the target: libmicrohttpd as vsd runs it ---------------------------- */

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
	/* The one stream (a test pushes once). */
	char token[33];
	int in_fd, out_fd, err_fd;
	pid_t pid;
	size_t in; /* input bytes so far */
	bool cut;
};

struct request {
	char *body;
	size_t len;
	int sink; /* sync-input: rsync's stdin */
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

/* The answer's body: rsync's output; at its end, rsync's status is the
 * target's result (migrate-in.c's sess_read). A cut link ends the
 * answer with an error: libmicrohttpd drops the connection. */
static ssize_t read_output(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct target *t = cls;
	struct vs_error err = {0};
	ssize_t n;
	int status = 0;

	do
		n = read(t->out_fd, buf, max);
	while (n < 0 && errno == EINTR);
	if (n > 0 && !__atomic_load_n(&t->cut, __ATOMIC_RELAXED))
		return n;
	/* Cut: rsync's input ended; what it still writes is dropped so that
	 * it can end. */
	while (n > 0 || (n < 0 && errno == EINTR))
		n = read(t->out_fd, buf, max);
	waitpid(t->pid, &status, 0);
	t->pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char line[256];

		vs_spawn_last_line(t->err_fd, line, sizeof(line));
		vs_error_set(&err, 0, "rsync exited with %d: %s",
			     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
			     line);
	}
	finish(t, err.msg[0] ? -1 : 0, err.msg);
	return n == 0 && !t->cut ? MHD_CONTENT_READER_END_OF_STREAM
				 : MHD_CONTENT_READER_END_WITH_ERROR;
}

/* The body's {"part", "args", "stream"} checked as a target checks it. */
static int check_body(struct target *t, const char *body, char ***argv, struct vs_error *err)
{
	cleanup_json struct vs_json *j = NULL;
	const struct vs_json *args;
	const char *list[64], *tok;
	size_t n;

	if (vs_json_parse(body, &j, err) < 0)
		return -1;
	args = vs_json_get(j, "args");
	n = vs_json_array_len(args);
	tok = vs_json_string(vs_json_get(j, "stream"));
	if (strcmp(vs_json_string(vs_json_get(j, "part")) ?: "", t->part) != 0 || n == 0 ||
	    n > 64 || tok == NULL || strlen(tok) != 32)
		return vs_error_kind(err, VS_EK_INVALID, "body: %s", body);
	snprintf(t->token, sizeof(t->token), "%s", tok);
	for (size_t i = 0; i < n; i++)
		if ((list[i] = vs_json_string(vs_json_array_at(args, i))) == NULL)
			return vs_error_kind(err, VS_EK_INVALID, "args[%zu] is not a string", i);
	return vs_mig_rsync_server_argv(list, n, t->dst, argv, err);
}

/* rsync --server on pipes (migrate-in.c's sess_start). */
static int start_rsync(struct target *t, char **argv, struct vs_error *err)
{
	int in[2], out[2], rc;

	t->err_fd = memfd_create("rsync", MFD_CLOEXEC);
	if (t->err_fd < 0 || pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return vs_error_set(err, errno, "rsync's pipes");
	rc = vs_spawn_io(argv, environ, in[0], out[1], t->err_fd, &t->pid);
	close(in[0]);
	close(out[1]);
	t->in_fd = in[1];
	t->out_fd = out[0];
	return rc != 0 ? vs_error_set(err, rc, "start %s", argv[0]) : 0;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, struct MHD_Response *resp)
{
	enum MHD_Result r = MHD_queue_response(c, status, resp);

	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result refuse(struct MHD_Connection *c, unsigned status, const char *msg)
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
	return answer(c, status,
		      MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY));
}

static enum MHD_Result on_sync(struct target *t, struct MHD_Connection *c, struct request *r)
{
	cleanup_strv char **argv = NULL;
	struct vs_error err = {0};

	if (check_body(t, r->body ?: "", &argv, &err) < 0 || start_rsync(t, argv, &err) < 0) {
		finish(t, -1, err.msg);
		return refuse(c, 400, err.msg);
	}
	/* 4096 as vsd's streamed bodies (server.c). */
	return answer(
	    c, 200,
	    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read_output, t, NULL));
}

/* sync-input, first call: the stream its Vsd-Stream names (taken once). */
static bool take_input(struct target *t, struct MHD_Connection *c, struct request *r)
{
	const char *tok = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Vsd-Stream");

	if (tok == NULL || strcmp(tok, t->token) != 0 || t->in_fd < 0)
		return false;
	r->sink = t->in_fd;
	t->in_fd = -1;
	return true;
}

/* sync-input, later calls: the body into rsync's stdin as it arrives, its
 * end as rsync's input's end. */
static enum MHD_Result on_input(struct target *t, struct MHD_Connection *c, struct request *r,
				const char *data, size_t *size)
{
	char ok[64];

	if (r->sink < 0)
		return refuse(c, 404, "no open stream");
	if (*size > 0) {
		if (vs_write_all(r->sink, data, *size) < 0)
			return MHD_NO;
		t->in += *size;
		if (t->cut_after > 0 && t->in >= t->cut_after) {
			__atomic_store_n(&t->cut, true, __ATOMIC_RELAXED);
			return MHD_NO; /* the link is cut */
		}
		*size = 0;
		return MHD_YES;
	}
	close(r->sink);
	r->sink = -1;
	snprintf(ok, sizeof(ok), "{\"bytes\":%zu}", t->in);
	return answer(c, 200,
		      MHD_create_response_from_buffer(strlen(ok), ok, MHD_RESPMEM_MUST_COPY));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **con_cls)
{
	struct target *t = cls;
	struct request *r = *con_cls;
	size_t ulen = strlen(url);
	bool input = ulen > 6 && strcmp(url + ulen - 6, "-input") == 0;

	if (r == NULL) {
		*con_cls = r = xcalloc(1, sizeof(*r));
		r->sink = -1;
		if (input)
			take_input(t, c, r);
		return MHD_YES;
	}
	if (strcmp(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Vsd-Migration") ?: "", "1"))
		return refuse(c, 400, "no Vsd-Migration: 1");
	if (input)
		return on_input(t, c, r, data, size);
	if (*size > 0) {
		r->body = xrealloc(r->body, r->len + *size + 1);
		memcpy(r->body + r->len, data, *size);
		r->len += *size;
		r->body[r->len] = '\0';
		*size = 0;
		return MHD_YES;
	}
	return on_sync(t, c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct request *r = *con_cls;

	if (r != NULL) {
		if (r->sink >= 0)
			close(r->sink);
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

static int do_rsync(char **argv, const char *part, size_t cut_after)
{
	struct target t = {.dst = argv[2],
			   .part = part,
			   .cut_after = cut_after,
			   .lock = PTHREAD_MUTEX_INITIALIZER,
			   .cond = PTHREAD_COND_INITIALIZER,
			   .in_fd = -1,
			   .out_fd = -1,
			   .err_fd = -1};
	cleanup_free char *ccert = NULL, *ckey = NULL, *url = NULL;
	char fp[VS_CERT_FP_HEX + 1];
	struct vs_mig_rsync_stats st = {0};
	struct vs_error err = {0};
	struct MHD_Daemon *d = NULL;
	int64_t t0;
	int port = 0, fd, r;

	if (vs_cert_generate("target", NULL, 0, &t.cert, &t.key, &err) < 0 ||
	    vs_cert_generate("source", NULL, 0, &ccert, &ckey, &err) < 0 ||
	    vs_cert_pem_fingerprint(t.cert, fp, &err) < 0) {
		printf("error: %s\n", err.msg);
		return 1;
	}
	fd = listen_local(&port);
	if (fd >= 0)
		d = start_target(&t, fd);
	if (d == NULL) {
		printf("error: cannot start the target\n");
		return 1;
	}
	url = xasprintf("https://127.0.0.1:%d", port);
	struct vsd_peer_id id = {
	    .url = url, .fingerprint = fp, .cert_pem = ccert, .key_pem = ckey, .timeout_ms = 20000};
	t0 = vs_now_ms();
	r = vsd_peer_rsync_push(&id, "/v1/migrations/test/sync", "layer", argv[1], NULL, NULL, &st,
				&err);
	t0 = vs_now_ms() - t0;
	pthread_mutex_lock(&t.lock);
	while (!t.done)
		pthread_cond_wait(&t.cond, &t.lock);
	pthread_mutex_unlock(&t.lock);
	MHD_stop_daemon(d);
	close(fd);
	free(t.cert);
	free(t.key);
	vs_closep(&t.in_fd);
	vs_closep(&t.out_fd);
	vs_closep(&t.err_fd);
	if (r < 0)
		printf("error: source: %s\n", err.msg);
	if (t.rc < 0)
		printf("error: target: %s\n", t.msg);
	if (r < 0 || t.rc < 0)
		return 1;
	if (getenv("TEST_PEER_TIME") != NULL) /* for docs/migration.md's figures */
		fprintf(stderr, "push took %lld ms\n", (long long)t0);
	printf("sent %llu received %llu files %llu\n", (unsigned long long)st.bytes_sent,
	       (unsigned long long)st.bytes_received, (unsigned long long)st.files_transferred);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if ((argc == 8 || argc == 9) && strcmp(argv[1], "request") == 0)
		return do_request(argv + 1);
	if (argc == 4 && strcmp(argv[1], "rsync") == 0)
		return do_rsync(argv + 1, "layer", 0);
	if (argc == 4 && strcmp(argv[1], "rsync-refused") == 0)
		return do_rsync(argv + 1, "image", 0);
	if (argc == 4 && strcmp(argv[1], "rsync-cut") == 0)
		return do_rsync(argv + 1, "layer", 256 * 1024);
	return usage();
}
