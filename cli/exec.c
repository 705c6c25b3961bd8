/* exec, enter and console: the upgraded stream (docs/api.md, "Stream
 * protocol"), descriptor passing, and the local terminal.
 *
 * The daemon hands us descriptors (pipes, or a pty master allocated in the
 * container's own devpts) and we copy between them and our stdio. Those
 * descriptors share their open file description with the daemon's side,
 * the console's master with the monitor that drains it while nobody is
 * attached: so we never set O_NONBLOCK on them (it would change the
 * monitor's reads too) and write at most PIPE_BUF bytes after POLLOUT. */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"
#include "lib/vs_ws.h"

#define CTRL_A		 0x01
#define GRACE_AFTER_EXIT 200 /* ms of silence after "exit N" before we stop */

/* ---- the local terminal ----------------------------------------------- */

struct term {
	int fd; /* our terminal (stdin), -1 if stdin is not one */
	bool raw;
	struct termios saved;
	int sigfd; /* signalfd for WINCH and the terminating signals, or -1 */
	sigset_t oldmask;
	bool masked;
};

static void term_restore(struct term *t)
{
	if (t->raw)
		tcsetattr(t->fd, TCSADRAIN, &t->saved);
	t->raw = false;
	if (t->sigfd >= 0)
		close(t->sigfd);
	t->sigfd = -1;
	if (t->masked)
		sigprocmask(SIG_SETMASK, &t->oldmask, NULL);
	t->masked = false;
}
#define cleanup_term __attribute__((cleanup(term_restore)))

/* Raw mode on our terminal, and signals through a signalfd so that every
 * way out (the command ends, SIGTERM, SIGHUP, a lost daemon) passes through
 * term_restore(). Ctrl-c and Ctrl-z are plain bytes in raw mode and go to
 * the container. */
static int term_setup(struct term *t, bool raw, struct vs_error *err)
{
	sigset_t set;

	t->fd = isatty(STDIN_FILENO) ? STDIN_FILENO : -1;
	t->sigfd = -1;
	sigemptyset(&set);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &set, &t->oldmask) < 0)
		return vs_error_set(err, errno, "sigprocmask");
	t->masked = true;
	t->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (t->sigfd < 0)
		return vs_error_set(err, errno, "signalfd");
	if (!raw || t->fd < 0)
		return 0;
	if (tcgetattr(t->fd, &t->saved) < 0)
		return vs_error_set(err, errno, "tcgetattr");
	struct termios rawt = t->saved;
	cfmakeraw(&rawt);
	if (tcsetattr(t->fd, TCSADRAIN, &rawt) < 0)
		return vs_error_set(err, errno, "tcsetattr");
	t->raw = true;
	return 0;
}

/* The window size of our terminal (stdin, else stdout). */
static bool local_winsize(struct winsize *ws)
{
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, ws) == 0 && ws->ws_row > 0)
		return true;
	return ioctl(STDOUT_FILENO, TIOCGWINSZ, ws) == 0 && ws->ws_row > 0;
}

static void sync_winsize(int master)
{
	struct winsize ws;

	if (master >= 0 && local_winsize(&ws))
		ioctl(master, TIOCSWINSZ, &ws);
}

/* ---- the console's detach sequence ------------------------------------ */

ssize_t vc_detach_filter(struct vc_detach *d, const char *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (!d->saw_prefix) {
			if (c == CTRL_A)
				d->saw_prefix = true;
			else
				out[o++] = c;
			continue;
		}
		d->saw_prefix = false;
		if (c == 'q')
			return -1;
		/* Ctrl-a Ctrl-a and Ctrl-a a send one Ctrl-a, as in screen. */
		if (c == CTRL_A || c == 'a') {
			out[o++] = CTRL_A;
		} else {
			out[o++] = CTRL_A;
			out[o++] = c;
		}
	}
	return (ssize_t)o;
}

/* ---- relaying --------------------------------------------------------- */

enum pump_end {
	END_NONE,      /* console input: just stop */
	END_CLOSE_OUT, /* stdin -> fd0: close fd0 so the command sees EOF */
	END_SEND_EOF,  /* stdin -> pty master: type the EOF character once */
	END_CLOSE_IN,  /* fd1/fd2/master -> stdout: close our copy of the source */
};

struct pump {
	int in, out;
	enum pump_end end;
	bool required; /* the relay ends only once this pump is done */
	bool eof, done;
	struct vc_detach *detach; /* console input filter, or NULL */
	char buf[PIPE_BUF + 1];
	size_t off, len;
};

struct relay {
	struct pump p[3]; /* stdin -> daemon first, then daemon -> stdout/stderr */
	size_t n;
	struct vc_conn *conn;
	bool want_exit; /* the daemon sends "exit N" at the end */
	bool conn_eof;
	bool exit_seen;
	int exit_code;
	int master; /* pty master for window sizes, or -1 */
	struct term *term;
	int signo; /* terminating signal received, 0 if none */
	bool detached;
};

static void pump_finish(struct pump *p)
{
	p->done = true;
	if (p->end == END_CLOSE_OUT && p->out >= 0)
		close(p->out);
	if (p->end == END_CLOSE_IN && p->in >= 0)
		close(p->in);
	if (p->end == END_CLOSE_OUT)
		p->out = -1;
	if (p->end == END_CLOSE_IN)
		p->in = -1;
}

static void pump_read(struct relay *r, struct pump *p)
{
	char tmp[PIPE_BUF / 2];
	ssize_t n = read(p->in, p->detach ? tmp : p->buf, p->detach ? sizeof(tmp) : PIPE_BUF);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	/* A pty master reports EIO once the last slave is closed: that is EOF. */
	if (n <= 0) {
		p->eof = true;
		if (p->end == END_SEND_EOF) {
			p->buf[0] = 0x04;
			p->off = 0;
			p->len = 1;
		}
		return;
	}
	p->off = 0;
	p->len = (size_t)n;
	if (p->detach != NULL) {
		ssize_t m = vc_detach_filter(p->detach, tmp, (size_t)n, p->buf);
		if (m < 0) {
			r->detached = true;
			m = 0;
		}
		p->len = (size_t)m;
	}
}

static void pump_write(struct pump *p)
{
	ssize_t n = write(p->out, p->buf + p->off, p->len - p->off);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n < 0) {
		/* The reader went away: stop this direction. Closing the source
		 * of an output pump lets the command get its own SIGPIPE. */
		p->len = p->off = 0;
		p->eof = true;
		return;
	}
	p->off += (size_t)n;
	if (p->off == p->len)
		p->off = p->len = 0;
}

static int handle_conn(struct relay *r, struct vs_error *err)
{
	char line[64];
	int64_t code;
	ssize_t n = vc_conn_recv(r->conn, err);
	int got;

	if (n < 0)
		return -1;
	if (n == 0)
		r->conn_eof = true;
	while ((got = vc_conn_pop_line(r->conn, line, sizeof(line), err)) == 1) {
		if (strncmp(line, "exit ", 5) != 0)
			continue; /* room for later messages */
		if (vs_parse_int(line + 5, "exit status", 0, INT_MAX, &code, err) < 0)
			return vs_error_prefix(err, "the daemon's stream");
		r->exit_seen = true;
		r->exit_code = code > 255 ? 255 : (int)code;
	}
	return got < 0 ? -1 : 0;
}

static void handle_signals(struct relay *r)
{
	struct signalfd_siginfo si;

	while (read(r->term->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGWINCH)
			sync_winsize(r->master);
		else
			r->signo = (int)si.ssi_signo;
	}
}

static bool relay_finished(const struct relay *r)
{
	if (r->detached || r->signo != 0)
		return true;
	for (size_t i = 0; i < r->n; i++)
		if (r->p[i].required && !r->p[i].done)
			return false;
	return !r->want_exit || r->exit_seen || r->conn_eof;
}

/* Poll set: [0..n) pumps (in or out), then the connection, then signals. */
static size_t relay_pollset(struct relay *r, struct pollfd *pfd, int *which)
{
	size_t k = 0;

	for (size_t i = 0; i < r->n; i++) {
		struct pump *p = &r->p[i];
		/* Input is pointless once the command has ended. */
		if (p->done || (r->exit_seen && p->end != END_CLOSE_IN))
			continue;
		if (p->len > 0)
			pfd[k] = (struct pollfd){.fd = p->out, .events = POLLOUT};
		else if (!p->eof)
			pfd[k] = (struct pollfd){.fd = p->in, .events = POLLIN};
		else
			continue;
		which[k++] = (int)i;
	}
	if (r->conn != NULL && !r->conn_eof) {
		pfd[k] = (struct pollfd){.fd = r->conn->fd, .events = POLLIN};
		which[k++] = -1;
	}
	if (r->term != NULL && r->term->sigfd >= 0) {
		pfd[k] = (struct pollfd){.fd = r->term->sigfd, .events = POLLIN};
		which[k++] = -2;
	}
	return k;
}

static int relay_step(struct relay *r, struct pollfd *pfd, const int *which, size_t k,
		      struct vs_error *err)
{
	for (size_t j = 0; j < k; j++) {
		if (pfd[j].revents == 0)
			continue;
		if (which[j] == -1) {
			if (handle_conn(r, err) < 0)
				return -1;
			continue;
		}
		if (which[j] == -2) {
			handle_signals(r);
			continue;
		}
		struct pump *p = &r->p[which[j]];
		if (pfd[j].revents & POLLNVAL) {
			/* e.g. vsctl was started with stdin closed */
			p->eof = true;
			p->len = 0;
		} else if (pfd[j].events & POLLOUT) {
			pump_write(p);
		} else {
			pump_read(r, p);
		}
		if (p->eof && p->len == 0)
			pump_finish(p);
	}
	return 0;
}

/* Copy until relay_finished(). Once the exit status is known, a further
 * GRACE_AFTER_EXIT ms of silence also ends it: a background process that
 * kept the command's stdout open must not hold vsctl forever. */
static int relay_run(struct relay *r, struct vs_error *err)
{
	struct pollfd pfd[8];
	int which[8];
	int ret = 0;

	while (ret == 0 && !relay_finished(r)) {
		size_t k = relay_pollset(r, pfd, which);
		if (k == 0)
			break; /* nothing left that could make progress */
		int n = poll(pfd, k, r->exit_seen ? GRACE_AFTER_EXIT : -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = vs_error_set(err, errno, "poll");
		else if (n == 0)
			break;
		else
			ret = relay_step(r, pfd, which, k, err);
	}
	/* On every way out: close the daemon's descriptors (never our stdio). */
	for (size_t i = 0; i < r->n; i++)
		if (!r->p[i].done)
			pump_finish(&r->p[i]);
	return ret;
}

/* ---- the upgrade ------------------------------------------------------ */

/* POST path with body and an upgrade (to a WebSocket with ws_key, else to
 * vsd-stream); 0 with *resp (caller frees) once the daemon answered 101,
 * or -1 with err (the API's error for a refusal). */
static int upgrade(struct vc_conn *c, const char *path, const char *body, const char *ws_key,
		   struct vc_http_response *resp, struct vs_error *err)
{
	struct vc_http_request req = {
	    .method = "POST",
	    .path = path,
	    .body = body,
	    .body_len = strlen(body),
	    .body_fd = -1,
	    .upgrade = true,
	    .ws_key = ws_key,
	    .ws_protocol = ws_key != NULL ? VS_WS_PROTOCOL : NULL,
	};

	if (vc_http_exchange(c, &req, resp, err) < 0)
		return vs_error_prefix(err, "POST %s", path);
	if (resp->status == 101)
		return 0;
	if (resp->status >= 200 && resp->status <= 299)
		vs_error_kind(err, VS_EK_INTERNAL,
			      "the daemon did not switch to the stream (HTTP %d)", resp->status);
	else
		vc_api_error(resp, err);
	vc_http_response_free(resp);
	return -1;
}

/* ---- the WebSocket stream (docs/api.md "WebSocket streams") ----------- */

/* Input is read only while wslay's send queue is below this. */
#define WS_QUEUE_MAX (256 * 1024)

struct ws_client {
	struct vc_conn *conn;
	wslay_event_context_ptr ctx;
	bool readable; /* poll said the connection has bytes */
	bool exec;     /* an exec: the stream ends with an exit message */
	bool tty;      /* a terminal: resize messages on SIGWINCH */
	bool in_eof;   /* our stdin ended (or is not read: console detach) */
	bool conn_eof; /* the daemon closed the connection */
	struct term *term;
	struct vc_detach *detach; /* console input filter, or NULL */
	bool detached;
	bool exit_seen;
	int exit_code;
	int signo; /* terminating signal received, 0 if none */
	struct vs_error err;
	bool failed;
};

static ssize_t wsc_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
			   void *user)
{
	struct ws_client *w = user;
	struct vc_conn *c = w->conn;
	size_t n;

	/* Bytes that came with the 101 wait in pending; then one receive
	 * per readable poll, so a blocking socket never blocks here. */
	if (c->pending_len == 0) {
		ssize_t r;
		if (!w->readable) {
			wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
			return -1;
		}
		w->readable = false;
		r = vc_conn_recv(c, &w->err);
		if (r <= 0) {
			w->conn_eof = r == 0;
			w->failed = r < 0;
			wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
			return -1;
		}
	}
	n = c->pending_len < len ? c->pending_len : len;
	memcpy(buf, c->pending, n);
	c->pending_len -= n;
	memmove(c->pending, c->pending + n, c->pending_len);
	return (ssize_t)n;
}

static ssize_t wsc_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
			   void *user)
{
	struct ws_client *w = user;
	ssize_t n = vc_conn_send(w->conn, data, len, &w->err);

	if (n == 0)
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
	if (n < 0) {
		w->failed = true;
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	}
	return n > 0 ? n : -1;
}

/* Masking keys (RFC 6455 5.3: unpredictable) from the kernel. */
static int wsc_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
	if (getrandom(buf, len, 0) != (ssize_t)len) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return 0;
}

static void wsc_control(struct ws_client *w, const uint8_t *msg, size_t len)
{
	struct vs_error err = {0};
	struct vs_ws_ctl c;

	/* Unknown messages are left for later versions of the daemon. */
	if (vs_ws_ctl_parse((const char *)msg, len, &c, &err) < 0 || c.type != VS_WS_CTL_EXIT)
		return;
	w->exit_seen = true;
	w->exit_code = c.code;
}

static void wsc_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
		       void *user)
{
	struct ws_client *w = user;
	int fd;

	if (a->opcode == WSLAY_TEXT_FRAME) {
		wsc_control(w, a->msg, a->msg_length);
		return;
	}
	if (a->opcode != WSLAY_BINARY_FRAME || a->msg_length == 0)
		return;
	fd = a->msg[0] == VS_WS_STDERR ? STDERR_FILENO : STDOUT_FILENO;
	/* Our own stdio blocks: a slow terminal slows the stream down. */
	if (vs_write_all(fd, a->msg + 1, a->msg_length - 1) < 0 && fd == STDOUT_FILENO)
		w->in_eof = true;
}

static void wsc_queue(struct ws_client *w, uint8_t opcode, const void *data, size_t len)
{
	struct wslay_event_msg m = {.opcode = opcode, .msg = data, .msg_length = len};

	/* Fails only once a close is under way: what is left is dropped. */
	wslay_event_queue_msg(w->ctx, &m);
}

static void wsc_ctl(struct ws_client *w, const struct vs_ws_ctl *c)
{
	cleanup_free char *t = vs_ws_ctl_format(c);

	wsc_queue(w, WSLAY_TEXT_FRAME, t, strlen(t));
}

static void wsc_resize(struct ws_client *w)
{
	struct winsize ws;

	if (w->tty && local_winsize(&ws)) {
		struct vs_ws_ctl c = {
		    .type = VS_WS_CTL_RESIZE, .cols = ws.ws_col, .rows = ws.ws_row};
		wsc_ctl(w, &c);
	}
}

/* Our stdin ended (or was closed when vsctl started): the command's too. */
static void wsc_stdin_end(struct ws_client *w)
{
	struct vs_ws_ctl c = {.type = VS_WS_CTL_EOF};

	w->in_eof = true;
	if (w->exec)
		wsc_ctl(w, &c);
}

static void wsc_stdin(struct ws_client *w)
{
	uint8_t buf[1 + PIPE_BUF];
	char tmp[PIPE_BUF / 2];
	ssize_t n;

	n = read(STDIN_FILENO, w->detach ? tmp : (char *)buf + 1,
		 w->detach ? sizeof(tmp) : sizeof(buf) - 1);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		wsc_stdin_end(w);
		return;
	}
	if (w->detach != NULL) {
		n = vc_detach_filter(w->detach, tmp, (size_t)n, (char *)buf + 1);
		if (n < 0) {
			w->detached = w->in_eof = true;
			wslay_event_queue_close(w->ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
			return;
		}
	}
	buf[0] = VS_WS_STDIN;
	if (n > 0)
		wsc_queue(w, WSLAY_BINARY_FRAME, buf, (size_t)n + 1);
}

static void wsc_signals(struct ws_client *w)
{
	struct signalfd_siginfo si;

	while (read(w->term->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGWINCH)
			wsc_resize(w);
		else
			w->signo = (int)si.ssi_signo;
	}
}

/* Poll set: the connection, stdin, signals. */
static nfds_t wsc_pollset(struct ws_client *w, struct pollfd *p)
{
	bool room = wslay_event_get_queued_msg_length(w->ctx) < WS_QUEUE_MAX;

	p[0] = (struct pollfd){.fd = w->conn->fd};
	if (wslay_event_want_read(w->ctx))
		p[0].events |= POLLIN;
	if (wslay_event_want_write(w->ctx))
		p[0].events |= POLLOUT;
	p[1] = (struct pollfd){.fd = -1};
	if (!w->in_eof && room && !wslay_event_get_close_sent(w->ctx) &&
	    !wslay_event_get_close_received(w->ctx))
		p[1] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
	p[2] = (struct pollfd){.fd = w->term->sigfd, .events = POLLIN};
	return 3;
}

static bool wsc_finished(struct ws_client *w)
{
	if (w->failed || w->conn_eof || w->signo != 0)
		return true;
	/* Both closes exchanged (or the daemon's close came and ours is out). */
	return !wslay_event_want_read(w->ctx) && !wslay_event_want_write(w->ctx);
}

static int wsc_run(struct ws_client *w)
{
	struct pollfd p[3];

	while (!wsc_finished(w)) {
		nfds_t k = wsc_pollset(w, p);
		/* Bytes GnuTLS already decrypted do not wake poll(). */
		bool buffered = vc_tls_pending(w->conn);
		if (poll(p, k, buffered ? 0 : -1) < 0) {
			if (errno == EINTR)
				continue;
			return vs_error_set(&w->err, errno, "poll");
		}
		if (buffered)
			p[0].revents |= POLLIN;
		if (p[2].revents != 0)
			wsc_signals(w);
		if (p[1].revents & POLLNVAL) {
			wsc_stdin_end(w); /* vsctl was started with stdin closed */
		} else if (p[1].revents != 0) {
			wsc_stdin(w);
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			w->readable = true;
			/* wslay's recv fails once the peer is gone: the flags say why. */
			if (wslay_event_recv(w->ctx) != 0 && !w->conn_eof && !w->failed)
				return vs_error_kind(&w->err, VS_EK_INVALID,
						     "the daemon's WebSocket stream is malformed");
		}
		if (wslay_event_want_write(w->ctx) && wslay_event_send(w->ctx) != 0 && !w->failed)
			w->failed = true;
	}
	return w->failed ? -1 : 0;
}

/* POST path with body as a WebSocket handshake; 0 once the daemon
 * answered 101 with the right Sec-WebSocket-Accept, or -1 with err. */
static int ws_handshake(struct vc_conn *c, const char *path, const char *body, struct vs_error *err)
{
	char key[VS_WS_KEY_LEN + 1], accept[VS_WS_ACCEPT_LEN + 1];
	struct vc_http_response resp;
	int r = 0;

	if (vs_ws_new_key(key, err) < 0 || vs_ws_accept(key, accept, err) < 0 ||
	    upgrade(c, path, body, key, &resp, err) < 0)
		return -1;
	if (resp.upgrade == NULL || strcasecmp(resp.upgrade, "websocket") != 0 ||
	    resp.ws_accept == NULL || strcmp(resp.ws_accept, accept) != 0)
		r = vs_error_kind(err, VS_EK_INTERNAL,
				  "the daemon's WebSocket handshake did not match our key");
	vc_http_response_free(&resp);
	return r;
}

/* The stream over a WebSocket: exec (tty or not) or the console. Returns
 * the command's exit code (exec), 0 (console), 128+signal when a signal
 * ended vsctl, or VC_ERR_FAIL with err. */
static int ws_stream(struct vc_conn *c, const char *path, const char *body, bool exec, bool tty,
		     struct vc_detach *detach, bool *detached, struct vs_error *err)
{
	static const struct wslay_event_callbacks cb = {.recv_callback = wsc_recv_cb,
							.send_callback = wsc_send_cb,
							.genmask_callback = wsc_genmask_cb,
							.on_msg_recv_callback = wsc_on_msg};
	cleanup_term struct term t = {.fd = -1, .sigfd = -1};
	struct ws_client w = {.conn = c, .exec = exec, .tty = tty, .term = &t, .detach = detach};
	int r;

	if (vc_wslay_load(err) < 0 || ws_handshake(c, path, body, err) < 0)
		return VC_ERR_FAIL;
	if (term_setup(&t, tty, err) < 0)
		return VC_ERR_FAIL;
	if (wslay_event_context_client_init(&w.ctx, &cb, &w) != 0)
		return vs_error_set(err, ENOMEM, "WebSocket context"), VC_ERR_FAIL;
	wsc_resize(&w);
	r = wsc_run(&w);
	wslay_event_context_free(w.ctx);
	term_restore(&t);
	if (detached != NULL)
		*detached = w.detached;
	if (r < 0 || (w.failed && !w.exit_seen)) {
		*err = w.err;
		return VC_ERR_FAIL;
	}
	if (w.signo != 0)
		return 128 + w.signo;
	if (!exec)
		return 0;
	if (!w.exit_seen)
		return vs_error_kind(err, VS_EK_INTERNAL,
				     "the connection to vsd closed before the exit status"),
		       VC_ERR_FAIL;
	return w.exit_code;
}

/* ---- the stream ------------------------------------------------------- */

/* POST path with body and Upgrade: vsd-stream; expect 101, then the
 * "fds N" message carrying want descriptors into fds[]. */
static int open_stream(const struct vc_ctx *ctx, const char *path, const char *body, size_t want,
		       struct vc_conn *c, int *fds, struct vs_error *err)
{
	struct vc_http_response resp;
	char line[64];
	int64_t n;

	if (upgrade(c, path, body, NULL, &resp, err) < 0)
		return -1;
	vc_http_response_free(&resp);
	if (vc_conn_read_line(c, line, sizeof(line), err) < 0)
		return -1;
	if (strncmp(line, "fds ", 4) != 0 || vs_parse_int(line + 4, "fds", 0, 16, &n, err) < 0)
		return vs_error_kind(err, VS_EK_INTERNAL, "the daemon's stream began with '%s'",
				     line);
	if ((size_t)n != want || c->nfds != want)
		return vs_error_kind(
		    err, VS_EK_INTERNAL,
		    "the daemon passed %zu descriptors (announced %d, expected %zu)", c->nfds,
		    (int)n, want);
	memcpy(fds, c->fds, want * sizeof(int));
	c->nfds = 0;
	return 0;
}

struct exec_args {
	const char *name;
	char **cmd; /* NULL: login shell */
	bool tty;
	const char **env;
	size_t nenv;
	bool ticket; /* --ticket: print a stream ticket instead */
};

static char *exec_body(const struct exec_args *a)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	const char *term = getenv("TERM");
	bool has_term = false;
	struct winsize ws;

	vs_jgen_obj_open(g);
	if (a->cmd != NULL) {
		vs_jgen_key(g, "command");
		vs_jgen_arr_open(g);
		for (size_t i = 0; a->cmd[i] != NULL; i++)
			vs_jgen_str(g, a->cmd[i]);
		vs_jgen_arr_close(g);
	}
	vs_jgen_kv_bool(g, "tty", a->tty);
	vs_jgen_key(g, "env");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < a->nenv; i++) {
		vs_jgen_str(g, a->env[i]);
		has_term |= strncmp(a->env[i], "TERM=", 5) == 0;
	}
	/* With a terminal, the container's programs need to know its type. */
	if (a->tty && !has_term && term != NULL && term[0] != '\0') {
		cleanup_free char *kv = xasprintf("TERM=%s", term);
		vs_jgen_str(g, kv);
	}
	vs_jgen_arr_close(g);
	if (a->tty && local_winsize(&ws)) {
		vs_jgen_kv_int(g, "rows", ws.ws_row);
		vs_jgen_kv_int(g, "cols", ws.ws_col);
	}
	if (a->ticket)
		vs_jgen_kv_bool(g, "ticket", true);
	vs_jgen_obj_close(g);
	return vs_jgen_steal(g);
}

static int finish_exec(struct relay *r, struct vs_error *err)
{
	if (r->signo != 0)
		return 128 + r->signo;
	if (!r->exit_seen)
		return vs_error_kind(err, VS_EK_INTERNAL,
				     "the connection to vsd closed before the exit status");
	return r->exit_code;
}

/* --ticket: ask for a one-time stream ticket (docs/api.md, "Browser
 * terminals") and print the daemon's JSON as it is; nothing runs. */
static int print_ticket(const struct vc_ctx *ctx, const char *path, const char *body,
			struct vs_error *err)
{
	cleanup_free char *raw = NULL;

	if (vc_api(ctx, "POST", path, body, &raw, NULL, err) < 0)
		return VC_ERR_FAIL;
	vc_print_raw_json(raw);
	return 0;
}

static int run_exec(const struct vc_ctx *ctx, const struct exec_args *a, struct vs_error *err)
{
	cleanup_conn struct vc_conn c = {.fd = -1};
	cleanup_term struct term t = {.fd = -1, .sigfd = -1};
	cleanup_free char *path = vc_api_path("containers", a->name, "/exec");
	cleanup_free char *body = exec_body(a);
	struct relay r = {.conn = &c, .want_exit = true, .master = -1};
	int fds[3] = {-1, -1, -1};

	if (a->ticket)
		return print_ticket(ctx, path, body, err);
	if (vc_ctx_connect(ctx, &c, err) < 0)
		return VC_ERR_FAIL;
	if (c.stream_ws)
		return ws_stream(&c, path, body, true, a->tty, NULL, NULL, err);
	if (open_stream(ctx, path, body, a->tty ? 1 : 3, &c, fds, err) < 0)
		return VC_ERR_FAIL;
	if (a->tty) {
		r.master = fds[0];
		r.p[0] = (struct pump){.in = STDIN_FILENO, .out = fds[0], .end = END_SEND_EOF};
		r.p[1] = (struct pump){
		    .in = fds[0], .out = STDOUT_FILENO, .end = END_CLOSE_IN, .required = true};
		r.n = 2;
		if (term_setup(&t, true, err) < 0) {
			close(fds[0]);
			return VC_ERR_FAIL;
		}
		r.term = &t;
		sync_winsize(r.master);
	} else {
		r.p[0] = (struct pump){.in = STDIN_FILENO, .out = fds[0], .end = END_CLOSE_OUT};
		r.p[1] = (struct pump){
		    .in = fds[1], .out = STDOUT_FILENO, .end = END_CLOSE_IN, .required = true};
		r.p[2] = (struct pump){
		    .in = fds[2], .out = STDERR_FILENO, .end = END_CLOSE_IN, .required = true};
		r.n = 3;
	}
	/* Pumps never close our stdio, only the daemon's descriptors. */
	if (relay_run(&r, err) < 0)
		return VC_ERR_FAIL;
	return finish_exec(&r, err);
}

static int add_env(struct exec_args *a, const char *kv, struct vs_error *err)
{
	const char *eq = strchr(kv, '=');

	if (eq == NULL || eq == kv)
		return vc_usage(err, "--env: expected K=V, got '%s'", kv);
	a->env = xrealloc(a->env, (a->nenv + 1) * sizeof(char *));
	a->env[a->nenv++] = kv;
	return 0;
}

/* exec NAME [--tty|-t] [--env K=V]... [--] CMD [ARG...]. Options end at
 * "--" or at the first word after NAME, so the command's own options are
 * never taken for ours. Returns 0, VC_HELP_SHOWN or VC_ERR_USAGE. */
static int parse_exec(struct vc_ctx *ctx, int argc, char **argv, struct exec_args *a,
		      struct vs_error *err)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (strcmp(s, "--") == 0) {
			i++;
			break;
		}
		if (s[0] != '-' || s[1] == '\0') {
			if (a->name != NULL)
				break;
			a->name = s;
		} else if (strcmp(s, "-t") == 0 || strcmp(s, "--tty") == 0) {
			a->tty = true;
		} else if (strcmp(s, "--ticket") == 0) {
			a->ticket = true;
		} else if (strcmp(s, "-e") == 0 || strcmp(s, "--env") == 0) {
			if (i + 1 >= argc)
				return vc_usage(err, "option '%s' needs a value", s);
			if (add_env(a, argv[++i], err) < 0)
				return VC_ERR_USAGE;
		} else if (strncmp(s, "--env=", 6) == 0) {
			if (add_env(a, s + 6, err) < 0)
				return VC_ERR_USAGE;
		} else if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
			return vc_cmd_help(ctx);
		} else {
			return vc_usage(err, "unknown option '%s'", s);
		}
	}
	if (a->name == NULL && i < argc)
		a->name = argv[i++];
	if (a->name == NULL)
		return vc_usage(err, "missing container name");
	if (i >= argc)
		return vc_usage(err, "missing the command to run (after '--')");
	a->cmd = argv + i;
	return 0;
}

int vc_cmd_exec(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	struct exec_args a = {0};
	cleanup_free const char **env = NULL;
	int r = parse_exec(ctx, argc, argv, &a, err);

	env = a.env;
	if (r != 0)
		return r == VC_HELP_SHOWN ? 0 : r;
	return run_exec(ctx, &a, err);
}

/* NAME and --help, and --ticket when ticket is not NULL. 0,
 * VC_HELP_SHOWN or VC_ERR_USAGE. */
static int parse_name(struct vc_ctx *ctx, int argc, char **argv, const char **name, bool *ticket,
		      struct vs_error *err)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'}, {"ticket", no_argument, NULL, 'T'}, {0}};
	bool reset = true;
	int c;

	while ((c = vc_getopt(argc, argv, "h", opts, &reset, err)) != -1) {
		if (c == 'T' && ticket != NULL) {
			*ticket = true;
			continue;
		}
		if (c == 'T')
			return vc_usage(err, "unknown option '--ticket'");
		if (c != 'h')
			return VC_ERR_USAGE;
		return vc_cmd_help(ctx);
	}
	if (vc_positional(argc, optind, 1, 1, "container name", err) < 0)
		return VC_ERR_USAGE;
	*name = argv[optind];
	return 0;
}

int vc_cmd_enter(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	struct exec_args a = {.tty = true};
	int r = parse_name(ctx, argc, argv, &a.name, NULL, err);

	if (r != 0)
		return r == VC_HELP_SHOWN ? 0 : r;
	return run_exec(ctx, &a, err);
}

static int ws_console(struct vc_conn *c, const char *path, const char *name, struct vs_error *err)
{
	struct vc_detach detach = {0};
	bool detached = false;
	int r;

	fprintf(stderr, "Connected to the console of %s; detach with Ctrl-a q\n", name);
	r = ws_stream(c, path, "{}", false, true, &detach, &detached, err);
	if (r == 0 && detached)
		fprintf(stderr, "\nDetached from the console of %s\n", name);
	return r;
}

int vc_cmd_console(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	cleanup_conn struct vc_conn c = {.fd = -1};
	cleanup_term struct term t = {.fd = -1, .sigfd = -1};
	cleanup_free char *path = NULL;
	struct vc_detach detach = {0};
	struct relay rl = {.conn = &c, .master = -1, .term = &t};
	const char *name = NULL;
	bool ticket = false;
	int master = -1;
	int r = parse_name(ctx, argc, argv, &name, &ticket, err);

	if (r != 0)
		return r == VC_HELP_SHOWN ? 0 : r;
	path = vc_api_path("containers", name, "/console");
	if (ticket)
		return print_ticket(ctx, path, "{\"ticket\": true}", err);
	if (vc_ctx_connect(ctx, &c, err) < 0)
		return VC_ERR_FAIL;
	if (c.stream_ws)
		return ws_console(&c, path, name, err);
	if (open_stream(ctx, path, "{}", 1, &c, &master, err) < 0)
		return VC_ERR_FAIL;
	fprintf(stderr, "Connected to the console of %s; detach with Ctrl-a q\n", name);
	rl.master = master;
	rl.p[0] =
	    (struct pump){.in = STDIN_FILENO, .out = master, .end = END_NONE, .detach = &detach};
	rl.p[1] = (struct pump){
	    .in = master, .out = STDOUT_FILENO, .end = END_CLOSE_IN, .required = true};
	rl.n = 2;
	if (term_setup(&t, true, err) < 0) {
		close(master);
		return VC_ERR_FAIL;
	}
	sync_winsize(master);
	if (relay_run(&rl, err) < 0)
		return VC_ERR_FAIL;
	term_restore(&t);
	if (rl.signo != 0)
		return 128 + rl.signo;
	if (rl.detached)
		fprintf(stderr, "\nDetached from the console of %s\n", name);
	return 0;
}
