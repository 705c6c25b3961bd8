/* exec and console: the stream protocol of api.md. The handler validates
 * the request and gets descriptors from the runtime before anything is
 * switched, so every failure is still a normal JSON error; after the 101
 * the stream runs in its own thread (never blocking MHD):
 *   "fds N\n" + N descriptors (SCM_RIGHTS), then for exec "exit N\n" when
 *   the command ends; for the console nothing, until the client closes.
 * With 'Upgrade: websocket' the thread relays instead between the socket
 * and the descriptors, in RFC 6455 frames made by libwslay. */
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "daemon/handlers.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "lib/vs_ws.h"

enum stream_kind {
	STREAM_EXEC,
	STREAM_CONSOLE,
};

struct vsd_stream {
	struct vsd_stream *next; /* in d->streams while running */
	enum stream_kind kind;
	struct vsd *d;
	char name[VS_NAME_MAX + 1];
	struct vs_rt_exec *ex;
	int fds[3];
	int nfds;
	int hold_fd; /* console: keeps the monitor from draining */
	int sock;
	int tcp_fd; /* over TLS: the TCP socket (http.h, stream_run), else -1 */
	struct MHD_UpgradeResponseHandle *urh;
	bool ws; /* a WebSocket stream, not descriptor passing */
};

static struct vsd_stream *stream_new(enum stream_kind kind, const char *name)
{
	struct vsd_stream *s = xcalloc(1, sizeof(*s));

	s->kind = kind;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->fds[0] = s->fds[1] = s->fds[2] = -1;
	s->hold_fd = -1;
	s->sock = -1;
	s->tcp_fd = -1;
	return s;
}

static void close_fds(struct vsd_stream *s)
{
	for (int i = 0; i < 3; i++)
		vs_closep(&s->fds[i]);
}

static void *reaper_thread(void *arg)
{
	struct vs_rt_exec *ex = arg;
	struct vs_error err = {0};
	int status;

	if (vs_rt_exec_wait(ex, &status, &err) < 0)
		vsd_log("exec: %s", err.msg);
	vs_rt_exec_free(ex);
	return NULL;
}

/* An exec whose stream never ran (the client left before the 101): its
 * helper is our child and must be reaped, but the command may run for a
 * long time (with its stdin closed), so wait for it off this thread. */
static void reap_later(struct vs_rt_exec *ex)
{
	pthread_attr_t attr;
	pthread_t t;
	int r;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &attr, reaper_thread, ex);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		vsd_log("exec: cannot start a reaper thread: %s", strerror(r));
		vs_rt_exec_free(ex);
	}
}

static void vsd_stream_free(struct vsd_stream *s)
{
	if (s == NULL)
		return;
	close_fds(s);
	vs_closep(&s->hold_fd);
	if (s->ex != NULL)
		reap_later(steal_ptr(&s->ex));
	free(s);
}

/* "fds N\n" with the descriptors attached to its first byte. */
static int send_fds(int sock, const int *fds, int n)
{
	char line[16];
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov;
	struct msghdr msg = {0};
	struct cmsghdr *cm;
	int len = snprintf(line, sizeof(line), "fds %d\n", n);
	ssize_t w;

	memset(&u, 0, sizeof(u));
	iov.iov_base = line;
	iov.iov_len = (size_t)len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, (size_t)n * sizeof(int));
	do {
		w = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (w < 0 && errno == EINTR);
	if (w < 0)
		return -1;
	/* The descriptors went with the first byte; the rest is plain data. */
	if (w < len && vs_write_all(sock, line + w, (size_t)(len - w)) < 0)
		return -1;
	return 0;
}

/* Block until the client closes its end (or shutdown wakes us). */
static void wait_client_gone(int sock)
{
	char buf[512];

	for (;;) {
		struct pollfd p = {.fd = sock, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (p.revents & (POLLERR | POLLNVAL))
			return;
		n = read(sock, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* clients send nothing; data is read and dropped */
	}
}

/* Socket writes and the final close go through d->streams_lock, so that
 * after vsd_streams_stop (MHD shutting down and closing upgraded sockets
 * itself) no stream touches a descriptor or handle MHD may have freed. */
static bool stream_send_fds(struct vsd_stream *s)
{
	bool ok = false;

	pthread_mutex_lock(&s->d->streams_lock);
	if (!s->d->stopping)
		ok = send_fds(s->sock, s->fds, s->nfds) == 0;
	pthread_mutex_unlock(&s->d->streams_lock);
	if (!ok)
		vsd_log("container %s: sending descriptors failed: %s", s->name, strerror(errno));
	close_fds(s); /* the client has its copies now */
	return ok;
}

static void stream_close(struct vsd_stream *s, const char *last_line)
{
	struct vsd *d = s->d;
	struct vsd_stream **pp;

	pthread_mutex_lock(&d->streams_lock);
	for (pp = &d->streams; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	if (!d->stopping) {
		if (last_line != NULL && vs_write_all(s->sock, last_line, strlen(last_line)) < 0)
			vsd_debug("container %s: client left before the exit status", s->name);
		MHD_upgrade_action(s->urh, MHD_UPGRADE_ACTION_CLOSE);
	}
	pthread_mutex_unlock(&d->streams_lock);
	vsd_stream_free(s);
}

/* ---- the WebSocket stream (docs/api.md "WebSocket streams") ----------- */

/* Back-pressure: output is read only while wslay's send queue holds less
 * than this, and the socket only while this much stdin waits to be
 * written, so a slow side never makes the daemon buffer without bound. */
#define WS_QUEUE_MAX (256 * 1024)
#define WS_MSG_MAX   (1024 * 1024) /* largest message a client may send */

struct ws_relay {
	struct vsd_stream *s;
	wslay_event_context_ptr ctx;
	int in;	    /* stdin pipe or pty master; -1 once closed */
	int out[2]; /* stdout (or the master), stderr; -1 at EOF */
	bool tty;
	bool in_eof;   /* close stdin once pending is written */
	char *pending; /* client data not yet written to in: [off, len) */
	size_t pending_off, pending_len, pending_cap;
	bool gone; /* the peer left, or the socket failed */
};

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
			  void *user)
{
	struct ws_relay *w = user;
	ssize_t n;

	if (w->pending_len - w->pending_off >= WS_QUEUE_MAX) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	do {
		n = recv(w->s->sock, buf, len, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (n <= 0) {
		w->gone = true;
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return n;
}

/* Under streams_lock, as every write of the fd path: after
 * vsd_streams_stop the socket belongs to MHD. */
static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
			  void *user)
{
	struct ws_relay *w = user;
	ssize_t n = -1;
	int e = EPIPE;

	pthread_mutex_lock(&w->s->d->streams_lock);
	if (!w->s->d->stopping) {
		do {
			n = send(w->s->sock, data, len, MSG_NOSIGNAL);
		} while (n < 0 && errno == EINTR);
		e = errno;
	}
	pthread_mutex_unlock(&w->s->d->streams_lock);
	if (n < 0 && (e == EAGAIN || e == EWOULDBLOCK)) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (n < 0) {
		w->gone = true;
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return n;
}

static void ws_close_in(struct ws_relay *w)
{
	static const char eot = 0x04;

	if (w->in < 0)
		return;
	if (w->tty) {
		/* The master is also the output: type the EOF character once. */
		if (write(w->in, &eot, 1) < 0)
			vsd_debug("container %s: EOF to the tty: %s", w->s->name, strerror(errno));
		w->in = -1;
		return;
	}
	vs_closep(&w->s->fds[0]);
	w->in = -1;
}

static void ws_control(struct ws_relay *w, const uint8_t *msg, size_t len)
{
	struct vs_error err = {0};
	struct vs_ws_ctl c;
	struct winsize ws = {0};

	if (vs_ws_ctl_parse((const char *)msg, len, &c, &err) < 0) {
		vsd_debug("container %s: websocket: %s", w->s->name, err.msg);
		wslay_event_queue_close(w->ctx, WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA,
					(const uint8_t *)err.msg, strnlen(err.msg, 120));
		return;
	}
	switch (c.type) {
	case VS_WS_CTL_RESIZE:
		ws.ws_row = (unsigned short)c.rows;
		ws.ws_col = (unsigned short)c.cols;
		if (w->tty && w->out[0] >= 0)
			ioctl(w->out[0], TIOCSWINSZ, &ws);
		break;
	case VS_WS_CTL_EOF:
		/* The console's input is never closed: it is init's terminal. */
		if (w->s->kind == STREAM_EXEC)
			w->in_eof = true;
		break;
	case VS_WS_CTL_SIGNAL: /* not supported yet: see api.md */
	case VS_WS_CTL_EXIT:   /* the server's own message */
		vsd_debug("container %s: websocket: message ignored", w->s->name);
		break;
	}
}

/* The consumed head is reclaimed once it is at least as long as what is
 * left (so each byte moves O(1) times), and the socket is read only while
 * less than WS_QUEUE_MAX waits: the buffer stays within twice
 * WS_QUEUE_MAX + WS_MSG_MAX + one read, however much a client sends. */
static void ws_pending_append(struct ws_relay *w, const uint8_t *data, size_t len)
{
	size_t live = w->pending_len - w->pending_off;

	if (w->pending_off > 0 && w->pending_off >= live) {
		memmove(w->pending, w->pending + w->pending_off, live);
		w->pending_off = 0;
		w->pending_len = live;
	}
	if (w->pending_len + len > w->pending_cap) {
		w->pending_cap = w->pending_len + len;
		w->pending = xrealloc(w->pending, w->pending_cap);
	}
	memcpy(w->pending + w->pending_len, data, len);
	w->pending_len += len;
}

static void ws_stdin(struct ws_relay *w, const uint8_t *msg, size_t len)
{
	if (len == 0 || msg[0] != VS_WS_STDIN) {
		wslay_event_queue_close(w->ctx, WSLAY_CODE_PROTOCOL_ERROR,
					(const uint8_t *)"expected channel 0", 18);
		return;
	}
	if (w->in < 0 || w->in_eof || len == 1)
		return; /* stdin is closed: data is dropped; or no data */
	ws_pending_append(w, msg + 1, len - 1);
}

static void ws_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
		      void *user)
{
	struct ws_relay *w = user;

	if (a->opcode == WSLAY_BINARY_FRAME)
		ws_stdin(w, a->msg, a->msg_length);
	else if (a->opcode == WSLAY_TEXT_FRAME)
		ws_control(w, a->msg, a->msg_length);
}

static int ws_queue(struct ws_relay *w, uint8_t opcode, const void *data, size_t len)
{
	struct wslay_event_msg m = {.opcode = opcode, .msg = data, .msg_length = len};

	return wslay_event_queue_msg(w->ctx, &m);
}

/* One read of an output descriptor into a binary message on channel ch. */
static void ws_output(struct ws_relay *w, int i)
{
	uint8_t buf[1 + 16384];
	ssize_t n;

	do {
		n = read(w->out[i], buf + 1, sizeof(buf) - 1);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	/* A pty master reports EIO once the last slave is closed: EOF. */
	if (n <= 0) {
		w->out[i] = -1;
		return;
	}
	buf[0] = i == 0 ? VS_WS_STDOUT : VS_WS_STDERR;
	if (ws_queue(w, WSLAY_BINARY_FRAME, buf, (size_t)n + 1) != 0)
		w->gone = true;
}

static void ws_write_in(struct ws_relay *w)
{
	size_t n = w->pending_len - w->pending_off;
	ssize_t r;

	/* The exec's input is non-blocking (ws_stream). The console's master
	 * is shared with the monitor (no O_NONBLOCK): at most PIPE_BUF after
	 * POLLOUT, which a terminal that reads its input takes at once. */
	r = write(w->in, w->pending + w->pending_off, n > PIPE_BUF ? PIPE_BUF : n);
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r < 0) {
		w->pending_off = w->pending_len = 0;
		w->in_eof = true; /* the command closed its stdin */
		return;
	}
	w->pending_off += (size_t)r;
}

/* Poll set: the socket, then in (POLLOUT), then out[0], out[1]. */
static nfds_t ws_pollset(struct ws_relay *w, struct pollfd *p)
{
	bool room = wslay_event_get_queued_msg_length(w->ctx) < WS_QUEUE_MAX;
	bool closing = wslay_event_get_close_sent(w->ctx);
	nfds_t k = 1;

	p[0] = (struct pollfd){.fd = w->s->sock};
	if (wslay_event_want_read(w->ctx) && w->pending_len - w->pending_off < WS_QUEUE_MAX)
		p[0].events |= POLLIN;
	if (wslay_event_want_write(w->ctx))
		p[0].events |= POLLOUT;
	p[1] = (struct pollfd){.fd = -1};
	if (w->in >= 0 && w->pending_off < w->pending_len)
		p[1] = (struct pollfd){.fd = w->in, .events = POLLOUT};
	k++;
	for (int i = 0; i < 2; i++) {
		p[2 + i] = (struct pollfd){.fd = -1};
		if (w->out[i] >= 0 && room && !closing)
			p[2 + i] = (struct pollfd){.fd = w->out[i], .events = POLLIN};
		k++;
	}
	return k;
}

/* Relay until the command's output ends (true) or the peer leaves or the
 * stream fails (false). */
static bool ws_relay_run(struct ws_relay *w)
{
	struct pollfd p[4];

	while (!w->gone && (w->out[0] >= 0 || w->out[1] >= 0)) {
		nfds_t k = ws_pollset(w, p);

		if (p[0].events == 0 && !wslay_event_want_read(w->ctx))
			return false; /* the peer closed and our close is out */
		if (poll(p, k, -1) < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		if (p[0].revents & (POLLERR | POLLNVAL))
			return false;
		/* poll reports a hang-up even while the socket is not read (the
		 * stdin backlog is full): wslay_event_recv would return at once
		 * and this loop spin. The peer can take no output either: gone. */
		if ((p[0].revents & POLLHUP) && !(p[0].events & POLLIN))
			return false;
		if ((p[0].revents & (POLLIN | POLLHUP)) && wslay_event_recv(w->ctx) != 0)
			return false;
		if (p[1].revents != 0)
			ws_write_in(w);
		if (w->in_eof && w->pending_off == w->pending_len)
			ws_close_in(w);
		for (int i = 0; i < 2; i++)
			if (p[2 + i].revents != 0)
				ws_output(w, i);
		if (wslay_event_want_write(w->ctx) && wslay_event_send(w->ctx) != 0)
			return false;
		if (wslay_event_get_close_received(w->ctx))
			return false;
	}
	return !w->gone;
}

/* Send what is queued (the output's tail and the exit message, or the
 * close frame) and, if closing, wait for the peer's close (RFC 6455 7.1.1:
 * the server closes the connection after both). Gives up after two
 * seconds in which the peer took nothing and sent nothing, or after
 * 10000 rounds (a peer that keeps pinging and never closes). */
static void ws_finish(struct ws_relay *w, bool closing)
{
	int idle = 0;

	/* Nothing more is written to the command: drop the stdin backlog, so
	 * that the socket is read to the peer's close, not held back (a
	 * hang-up would then make poll return at once, every round). */
	w->in = -1;
	w->pending_off = w->pending_len = 0;

	for (int i = 0; i < 10000 && idle < 20 && !w->gone; i++) {
		struct pollfd p = {.fd = w->s->sock};
		bool want_read = closing && wslay_event_want_read(w->ctx) &&
				 !wslay_event_get_close_received(w->ctx);
		int n;

		if (want_read)
			p.events |= POLLIN;
		if (wslay_event_want_write(w->ctx))
			p.events |= POLLOUT;
		if (p.events == 0)
			return;
		n = poll(&p, 1, 100);
		if (n < 0 && errno != EINTR)
			return;
		idle = n == 0 ? idle + 1 : 0;
		if ((p.revents & (POLLIN | POLLHUP)) && wslay_event_recv(w->ctx) != 0)
			return;
		if ((p.revents & POLLOUT) && wslay_event_send(w->ctx) != 0)
			return;
		if (p.revents & (POLLERR | POLLNVAL))
			return;
	}
}

/* Over TLS, end the TCP connection once the WebSocket is done (the close
 * handshake is over, or the peer left or stopped answering): libmicrohttpd
 * would keep it open, and a client waiting for the server's TCP close
 * (RFC 6455 7.1.1; Node's WebSocket, browsers) would wait for ever. The
 * socket is still the connection's: libmicrohttpd keeps it until the
 * stream is given back (stream_close). */
static void ws_end_tcp(struct vsd_stream *s)
{
	if (s->tcp_fd >= 0)
		shutdown(s->tcp_fd, SHUT_RDWR);
}

static void ws_relay_free(struct ws_relay *w)
{
	wslay_event_context_free(w->ctx);
	free(w->pending);
}

/* The stream thread's WebSocket side: relay, then for exec the exit
 * message, then a close frame (1000). A peer that leaves early ends the
 * command as with the fd path: its descriptors close (a tty's session gets
 * SIGHUP, pipes EPIPE) and the exec is reaped off this thread. */
static void ws_stream(struct vsd_stream *s)
{
	static const struct wslay_event_callbacks cb = {.recv_callback = ws_recv_cb,
							.send_callback = ws_send_cb,
							.on_msg_recv_callback = ws_on_msg};
	struct ws_relay w = {.s = s, .in = s->fds[0], .out = {s->fds[0], -1}};
	struct vs_error err = {0};
	int status;

	w.tty = s->nfds == 1;
	if (!w.tty)
		w.out[0] = s->fds[1], w.out[1] = s->fds[2];
	/* Only vsd holds an exec's stdin pipe or pty master. A pty takes a
	 * write only as far as its buffer has room and blocks for the rest
	 * even after POLLOUT: blocked there, the relay would neither read the
	 * output nor see the peer leave. */
	if (s->kind == STREAM_EXEC) {
		int fl = fcntl(w.in, F_GETFL);
		if (fl >= 0)
			fcntl(w.in, F_SETFL, fl | O_NONBLOCK);
	}
	if (wslay_event_context_server_init(&w.ctx, &cb, &w) != 0) {
		stream_close(s, NULL);
		return;
	}
	wslay_event_config_set_max_recv_msg_length(w.ctx, WS_MSG_MAX);
	if (!ws_relay_run(&w)) {
		ws_finish(&w, true);
		vsd_debug("container %s: websocket peer left", s->name);
		ws_relay_free(&w);
		ws_end_tcp(s);
		stream_close(s, NULL); /* frees s: closes the fds, reaps later */
		return;
	}
	close_fds(s);
	if (s->kind == STREAM_EXEC) {
		int r = vs_rt_exec_wait(s->ex, &status, &err);
		vs_rt_exec_free(steal_ptr(&s->ex));
		if (r < 0) {
			vsd_log("container %s: exec: %s", s->name, err.msg);
		} else {
			struct vs_ws_ctl c = vs_ws_ctl_exit(status);
			cleanup_free char *t = vs_ws_ctl_format(&c);
			vsd_debug("container %s: exec ended with %d", s->name, status);
			/* Before the close is queued: wslay sends control
			 * frames ahead of data, and nothing after a close. */
			ws_queue(&w, WSLAY_TEXT_FRAME, t, strlen(t));
			ws_finish(&w, false);
		}
	}
	wslay_event_queue_close(w.ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
	ws_finish(&w, true);
	ws_relay_free(&w);
	ws_end_tcp(s);
	stream_close(s, NULL);
}

static void *stream_thread(void *arg)
{
	struct vsd_stream *s = arg;
	struct vs_error err = {0};
	char line[32];
	int flags, status, r;

	/* MHD hands over a non-blocking socket; this thread wants blocking. */
	flags = fcntl(s->sock, F_GETFL);
	if (s->ws) {
		ws_stream(s); /* keeps the socket non-blocking */
		return NULL;
	}
	if (flags >= 0)
		fcntl(s->sock, F_SETFL, flags & ~O_NONBLOCK);
	if (!stream_send_fds(s)) {
		stream_close(s, NULL);
		return NULL;
	}
	if (s->kind == STREAM_CONSOLE) {
		wait_client_gone(s->sock);
		vsd_debug("container %s: console detached", s->name);
		stream_close(s, NULL);
		return NULL;
	}
	r = vs_rt_exec_wait(s->ex, &status, &err);
	vs_rt_exec_free(steal_ptr(&s->ex));
	if (r < 0) {
		vsd_log("container %s: exec: %s", s->name, err.msg);
		stream_close(s, NULL);
		return NULL;
	}
	vsd_debug("container %s: exec ended with %d", s->name, status);
	snprintf(line, sizeof(line), "exit %d\n", status);
	stream_close(s, line);
	return NULL;
}

static void vsd_stream_run(struct vsd *d, struct vsd_stream *s, int sock, int tcp_fd, void *urh)
{
	pthread_attr_t attr;
	pthread_t t;
	int r;

	if (s == NULL) {
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		return;
	}
	s->d = d;
	s->sock = sock;
	s->tcp_fd = tcp_fd;
	s->urh = urh;
	pthread_mutex_lock(&d->streams_lock);
	s->next = d->streams;
	d->streams = s;
	pthread_mutex_unlock(&d->streams_lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &attr, stream_thread, s);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		vsd_log("container %s: cannot start a stream thread: %s", s->name, strerror(r));
		stream_close(s, NULL);
	}
}

void vsd_streams_stop(struct vsd *d)
{
	pthread_mutex_lock(&d->streams_lock);
	d->stopping = true;
	/* Wakes console threads blocked in poll(); MHD closes the sockets. */
	for (struct vsd_stream *s = d->streams; s != NULL; s = s->next)
		shutdown(s->sock, SHUT_RDWR);
	pthread_mutex_unlock(&d->streams_lock);
}

struct exec_body {
	char **argv;
	char **env;
	bool tty;
	int64_t rows, cols;
};

static void exec_body_free(struct exec_body *b)
{
	vs_strv_free(b->argv);
	vs_strv_free(b->env);
}

static int get_dim(const struct vs_json *body, const char *key, int64_t def, int64_t *out,
		   struct vs_error *err)
{
	const struct vs_json *v = vs_json_get(body, key);

	*out = def;
	if (v == NULL || vs_json_type(v) == VS_JSON_NULL)
		return 0;
	if (!vs_json_int64(v, out) || *out < 1 || *out > 65535)
		return vs_error_kind(err, VS_EK_INVALID, "%s: expected an integer from 1 to 65535",
				     key);
	return 0;
}

static int parse_exec_body(const struct vs_json *body, struct exec_body *b, struct vs_error *err)
{
	static const char *const keys[] = {"command", "tty", "env", "rows", "cols", "ticket", NULL};
	const struct vs_json *v;

	memset(b, 0, sizeof(*b));
	if (vsd_check_fields(body, keys, err) < 0 ||
	    vsd_json_strv(vs_json_get(body, "command"), "command", &b->argv, err) < 0 ||
	    vsd_json_strv(vs_json_get(body, "env"), "env", &b->env, err) < 0)
		return -1;
	if (b->argv != NULL && b->argv[0] == NULL) {
		vs_strv_free(b->argv); /* empty: a login shell */
		b->argv = NULL;
	}
	if (b->argv != NULL && b->argv[0][0] == '\0')
		return vs_error_kind(err, VS_EK_INVALID, "command[0]: must not be empty");
	for (size_t i = 0; b->env != NULL && b->env[i] != NULL; i++) {
		const char *eq = strchr(b->env[i], '=');
		if (eq == NULL || eq == b->env[i])
			return vs_error_kind(err, VS_EK_INVALID, "env[%zu]: expected KEY=VALUE", i);
	}
	v = vs_json_get(body, "tty");
	if (v != NULL && vs_json_type(v) != VS_JSON_NULL && !vs_json_bool(v, &b->tty))
		return vs_error_kind(err, VS_EK_INVALID, "tty: expected true or false");
	if (get_dim(body, "rows", 24, &b->rows, err) < 0 ||
	    get_dim(body, "cols", 80, &b->cols, err) < 0)
		return -1;
	return 0;
}

/* The container's config, if it is running (404 / 409 otherwise). Called
 * with the container's lock held, so no operation (suspend, checkpoint)
 * starts while the command is being set up. */
static int load_running(struct vsd *d, const char *name, struct vs_container_config *cfg,
			struct vs_error *err)
{
	struct vs_rt_status st;

	if (vsd_store_load(d->containers_fd, name, cfg, err) < 0 ||
	    vsd_container_status(d, name, &st, err) < 0 || vsd_check_unlocked(cfg, err) < 0)
		return -1;
	if (st.state != VS_RT_RUNNING)
		return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' is not running (%s)",
				     name, vs_rt_state_name(st.state));
	return 0;
}

/* For a WebSocket upgrade (the server checked version and key), the
 * accept value and subprotocol of the 101, and mark the stream. 0, or -1
 * with err. */
static int ws_reply(const struct vsd_call *c, struct vsd_stream *s, struct vsd_reply *out,
		    struct vs_error *err)
{
	const char *u = vsd_call_header(c, "Upgrade");

	if (u == NULL || strcasecmp(u, "websocket") != 0)
		return 0;
	if (vs_ws_accept(vsd_call_header(c, "Sec-WebSocket-Key"), out->ws_accept, err) < 0)
		return -1;
	if (vsd_header_has_token(vsd_call_header(c, "Sec-WebSocket-Protocol"), VS_WS_PROTOCOL))
		out->ws_protocol = VS_WS_PROTOCOL;
	s->ws = true;
	return 0;
}

/* Start the command; called with the container's lock held. */
static int exec_locked(struct vsd *d, const char *name, const struct exec_body *b,
		       struct vsd_stream **out, struct vs_error *err)
{
	cleanup_config struct vs_container_config cfg = {0};
	struct vs_rt_exec_req req = {0};
	struct vsd_stream *s;

	if (load_running(d, name, &cfg, err) < 0)
		return -1;
	req.argv = b->argv;
	req.env = b->env;
	req.tty = b->tty;
	req.rows = (unsigned short)b->rows;
	req.cols = (unsigned short)b->cols;
	s = stream_new(STREAM_EXEC, name);
	if (vs_rt_exec_start(&d->inst, &cfg, &req, &s->ex, s->fds, &s->nfds, err) < 0) {
		/* Nothing is handed out on failure: do not close what the
		 * runtime may have stored and closed itself. */
		s->fds[0] = s->fds[1] = s->fds[2] = -1;
		s->ex = NULL;
		vsd_stream_free(s);
		return vs_error_prefix(err, "exec in '%s'", name);
	}
	if (s->nfds != (b->tty ? 1 : 3)) {
		vs_error_set(err, 0, "exec in '%s': the runtime returned %d descriptors", name,
			     s->nfds);
		vsd_stream_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

/* The "ticket" member of an exec or console body, held against the
 * request's headers (server.c lets a request without any Upgrade header
 * through to here): a ticket is asked for without upgrading, and a request
 * that does not upgrade must ask for one. 0 or -1 (VS_EK_INVALID). */
static int want_ticket(const struct vsd_call *c, const struct vs_json *body, bool *ticket,
		       struct vs_error *err)
{
	const struct vs_json *v = vs_json_get(body, "ticket");
	bool upgrade = vsd_call_header(c, "Upgrade") != NULL;

	*ticket = false;
	if (v != NULL && vs_json_type(v) != VS_JSON_NULL && !vs_json_bool(v, ticket))
		return vs_error_kind(err, VS_EK_INVALID, "ticket: expected true or false");
	if (*ticket && upgrade)
		return vs_error_kind(err, VS_EK_INVALID,
				     "ticket: a ticket is asked for without 'Upgrade' headers (its "
				     "stream is opened with GET /v1/streams/{id})");
	if (!*ticket && !upgrade)
		return vs_error_kind(err, VS_EK_INVALID,
				     "this request needs HTTP/1.1 with 'Connection: Upgrade' "
				     "and 'Upgrade: vsd-stream' or 'Upgrade: websocket' (or "
				     "\"ticket\": true in its body)");
	return 0;
}

/* 201 with a stream ticket for what the (validated) body asks: nothing
 * runs until GET /v1/streams/{id} redeems it. The container must be
 * running now, as for a stream; it is checked again then. */
static int make_ticket(struct vsd_call *c, enum vsd_ticket_kind kind, const char *name,
		       struct vsd_reply *out, struct vs_error *err)
{
	cleanup_config struct vs_container_config cfg = {0};
	cleanup_jgen struct vs_jgen *g = NULL;
	const struct vsd_ticket_spec spec = {
	    .kind = kind, .container = name, .who = c->who, .body = c->body};
	char id[VSD_TICKET_ID_LEN + 1], secret[VSD_TICKET_SECRET_LEN + 1];
	cleanup_free char *url = NULL;
	int64_t now = vs_now_ms(), expires;
	int r;

	if (vsd_names_lock(c->d->names, name, NULL, err) < 0)
		return -1;
	r = load_running(c->d, name, &cfg, err);
	vsd_names_unlock(c->d->names, name);
	if (r < 0 ||
	    vsd_tickets_create(vsd_auth_tickets(c->d), &spec, now, id, secret, &expires, err) < 0)
		return -1;
	vsd_log("container %s: %s ticket %s made by %s", name,
		kind == VSD_TICKET_EXEC ? "exec" : "console", id, c->who->name);
	url = xasprintf("/v1/streams/%s", id);
	g = vs_jgen_new(false);
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "id", id);
	vs_jgen_kv_str(g, "url", url);
	vs_jgen_kv_str(g, "secret", secret); /* shown this once */
	vs_jgen_kv_int(g, "expires_at", (int64_t)time(NULL) + (expires - now + 999) / 1000);
	vs_jgen_obj_close(g);
	explicit_bzero(secret, sizeof(secret));
	vsd_reply_json(out, 201, g);
	return 0;
}

/* Start the command of b (taken over) in name, answering the 101. */
static int start_exec(struct vsd_call *c, const char *name, struct exec_body *b,
		      struct vsd_reply *out, struct vs_error *err)
{
	struct vsd_stream *s = NULL;
	int r;

	if (vsd_names_lock(c->d->names, name, NULL, err) < 0) {
		exec_body_free(b);
		return -1;
	}
	r = exec_locked(c->d, name, b, &s, err);
	vsd_names_unlock(c->d->names, name);
	if (r < 0) {
		exec_body_free(b);
		return -1;
	}
	vsd_log("container %s: exec %s%s", name, b->argv ? b->argv[0] : "(login shell)",
		b->tty ? " (tty)" : "");
	exec_body_free(b);
	if (ws_reply(c, s, out, err) < 0) {
		vsd_stream_free(s);
		return -1;
	}
	out->status = 101;
	out->stream = s;
	out->stream_run = vsd_stream_run;
	out->stream_free = vsd_stream_free;
	return 0;
}

int vsd_h_container_exec(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	cleanup_json struct vs_json *body = NULL;
	const char *name = c->m->params[0];
	struct exec_body b = {0};
	bool ticket;

	if (vsd_parse_body(c->body, c->body_len, true, &body, err) < 0 ||
	    parse_exec_body(body, &b, err) < 0 || want_ticket(c, body, &ticket, err) < 0) {
		exec_body_free(&b);
		return -1;
	}
	if (ticket) {
		exec_body_free(&b);
		return make_ticket(c, VSD_TICKET_EXEC, name, out, err);
	}
	return start_exec(c, name, &b, out, err);
}

/* Attach to the console; called with the container's lock held. */
static int console_locked(struct vsd *d, const char *name, struct vsd_stream **out,
			  struct vs_error *err)
{
	cleanup_config struct vs_container_config cfg = {0};
	struct vsd_stream *s;

	if (load_running(d, name, &cfg, err) < 0)
		return -1;
	s = stream_new(STREAM_CONSOLE, name);
	if (vs_rt_console_attach(&d->inst, name, &s->fds[0], &s->hold_fd, err) < 0) {
		s->fds[0] = s->hold_fd = -1; /* nothing is handed out on failure */
		vsd_stream_free(s);
		return vs_error_prefix(err, "console of '%s'", name);
	}
	s->nfds = 1;
	*out = s;
	return 0;
}

/* Attach to name's console, answering the 101. */
static int start_console(struct vsd_call *c, const char *name, struct vsd_reply *out,
			 struct vs_error *err)
{
	struct vsd_stream *s = NULL;
	int r;

	if (vsd_names_lock(c->d->names, name, NULL, err) < 0)
		return -1;
	r = console_locked(c->d, name, &s, err);
	vsd_names_unlock(c->d->names, name);
	if (r < 0)
		return -1;
	if (ws_reply(c, s, out, err) < 0) {
		vsd_stream_free(s);
		return -1;
	}
	vsd_log("container %s: console attached", name);
	out->status = 101;
	out->stream = s;
	out->stream_run = vsd_stream_run;
	out->stream_free = vsd_stream_free;
	return 0;
}

int vsd_h_container_console(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	static const char *const keys[] = {"ticket", NULL};
	cleanup_json struct vs_json *body = NULL;
	const char *name = c->m->params[0];
	bool ticket;

	if (vsd_parse_body(c->body, c->body_len, true, &body, err) < 0 ||
	    vsd_check_fields(body, keys, err) < 0 || want_ticket(c, body, &ticket, err) < 0)
		return -1;
	if (ticket)
		return make_ticket(c, VSD_TICKET_CONSOLE, name, out, err);
	return start_console(c, name, out, err);
}

/* ---- GET /v1/streams/{id}: a redeemed ticket (browser terminals) ------ */

/* The ticket's secret: ?secret=, or a subprotocol "vsd.ticket.SECRET"
 * offered beside vsd.exec.v1 (so it stays out of the URL). NULL if none;
 * else copied to buf. */
static const char *ticket_secret(const struct vsd_call *c, char *buf, size_t n)
{
	const char *q = vsd_call_query(c, "secret");
	const char *p = vsd_call_header(c, "Sec-WebSocket-Protocol");
	const char *t;
	size_t len;

	if (q != NULL)
		return q;
	t = p != NULL ? strstr(p, VSD_TICKET_SUBPROTOCOL) : NULL;
	if (t == NULL)
		return NULL;
	t += strlen(VSD_TICKET_SUBPROTOCOL);
	len = strcspn(t, ", \t");
	if (len >= n)
		return NULL;
	memcpy(buf, t, len);
	buf[len] = '\0';
	return buf;
}

/* Is the ticket's container still there for the credential that made it
 * (its owner may have changed since)? 0, or -1 with VS_EK_NOT_FOUND as for
 * a missing container. Called with the container's lock held. */
static int ticket_owner_check(struct vsd *d, const struct vsd_ticket *k, struct vs_error *err)
{
	cleanup_config struct vs_container_config cfg = {0};

	if (vsd_store_load(d->containers_fd, k->container, &cfg, err) < 0)
		return -1;
	if (!vsd_owner_visible(&k->who, cfg.owner))
		return vs_error_kind(err, VS_EK_NOT_FOUND, "container '%s' does not exist",
				     k->container);
	return 0;
}

static int start_ticket(struct vsd_call *c, const struct vsd_ticket *k, struct vsd_reply *out,
			struct vs_error *err)
{
	cleanup_json struct vs_json *body = NULL;
	struct exec_body b = {0};
	int r;

	if (vsd_names_lock(c->d->names, k->container, NULL, err) < 0)
		return -1;
	r = ticket_owner_check(c->d, k, err);
	vsd_names_unlock(c->d->names, k->container);
	if (r < 0)
		return -1;
	if (k->kind == VSD_TICKET_CONSOLE)
		return start_console(c, k->container, out, err);
	if (vsd_parse_body(k->body, strlen(k->body), true, &body, err) < 0 ||
	    parse_exec_body(body, &b, err) < 0) {
		exec_body_free(&b);
		return -1;
	}
	return start_exec(c, k->container, &b, out, err);
}

int vsd_h_stream(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	const char *u = vsd_call_header(c, "Upgrade");
	char buf[VSD_TICKET_SECRET_LEN + 1];
	struct vsd_ticket *k = NULL;
	const char *secret;
	int r;

	/* Before the ticket is spent: only a WebSocket can redeem it. */
	if (u == NULL || strcasecmp(u, "websocket") != 0)
		return vs_error_kind(err, VS_EK_INVALID,
				     "GET /v1/streams/{id} needs 'Upgrade: websocket'");
	secret = ticket_secret(c, buf, sizeof(buf));
	r = vsd_tickets_redeem(vsd_auth_tickets(c->d), c->m->params[0], secret, vs_now_ms(), &k,
			       err);
	explicit_bzero(buf, sizeof(buf));
	if (r < 0)
		return -1;
	r = start_ticket(c, k, out, err);
	/* The stream runs as the credential that made the ticket. */
	vsd_audit(c->d, &k->who, "GET", "/v1/streams/{id}",
		  r < 0 ? vsd_error_status(err->kind) : 101, r < 0 ? err->msg : "ok");
	vsd_ticket_free(k);
	return r;
}
