/* vs_ws: the pure parts of the WebSocket stream protocol of exec and the
 * console (docs/api.md, "WebSocket streams"), shared by vsd and vsctl:
 * the handshake's key and accept values (RFC 6455 section 4) and the
 * messages carried inside the frames. Framing itself is libwslay's. */
#ifndef VS_WS_H
#define VS_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/vs_error.h"

/* The subprotocol a client may offer (Sec-WebSocket-Protocol). */
#define VS_WS_PROTOCOL "vsd.exec.v1"

/* First byte of a binary message: the channel its data belongs to. */
enum vs_ws_channel {
	VS_WS_STDIN = 0,  /* client -> server */
	VS_WS_STDOUT = 1, /* server -> client (a tty's output too) */
	VS_WS_STDERR = 2, /* server -> client, without a tty only */
};

#define VS_WS_KEY_LEN	 24 /* base64 of 16 bytes */
#define VS_WS_ACCEPT_LEN 28 /* base64 of a SHA-1 */

/* True if key is a Sec-WebSocket-Key: base64 of exactly 16 bytes. */
bool vs_ws_key_valid(const char *key);

/* Sec-WebSocket-Accept of key: base64(SHA-1(key + RFC 6455's GUID)) into
 * out. 0, or -1 with err (VS_EK_INVALID when key is not valid). */
int vs_ws_accept(const char *key, char out[VS_WS_ACCEPT_LEN + 1], struct vs_error *err);

/* A fresh random Sec-WebSocket-Key into out. 0, or -1 with err. */
int vs_ws_new_key(char out[VS_WS_KEY_LEN + 1], struct vs_error *err);

/* The JSON control messages of text frames. */
enum vs_ws_ctl_type {
	VS_WS_CTL_RESIZE, /* client: {"type":"resize","cols":N,"rows":N} */
	VS_WS_CTL_SIGNAL, /* client: {"type":"signal","signal":N} */
	VS_WS_CTL_EOF,	  /* client: {"type":"eof"}: close the command's stdin */
	VS_WS_CTL_EXIT,	  /* server: {"type":"exit","code":N,"signal":N} */
};

struct vs_ws_ctl {
	enum vs_ws_ctl_type type;
	int cols, rows; /* resize: 1..65535 */
	int signal;	/* signal: 1..64; exit: the killing signal or 0 */
	int code;	/* exit: 0..255 (128+signal when killed) */
};

/* Parse a text message of len bytes (not NUL-terminated). Unknown fields
 * are refused, so a typo does not pass silently. 0, or -1 with err
 * (VS_EK_INVALID naming the field). */
int vs_ws_ctl_parse(const char *text, size_t len, struct vs_ws_ctl *out, struct vs_error *err);

/* The JSON text of c (malloc'd, no newline). */
char *vs_ws_ctl_format(const struct vs_ws_ctl *c);

/* The exit message of an exec whose vs_rt_exec_wait status is status (the
 * exit code, or 128+signal). */
struct vs_ws_ctl vs_ws_ctl_exit(int status);

#endif
