/* vs_ws: handshake values and control messages of the WebSocket streams.
 * SHA-1 and base64 come from nettle, the random key from getrandom():
 * nothing here is hand-written crypto, and vsctl does not load GnuTLS
 * for a local exec. */
#include "lib/vs_ws.h"

#include <errno.h>
#include <nettle/base64.h>
#include <nettle/sha1.h>
#include <string.h>
#include <sys/random.h>

#include "lib/vs_json.h"
#include "lib/vs_util.h"

/* RFC 6455 section 1.3. */
static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool vs_ws_key_valid(const char *key)
{
	struct base64_decode_ctx ctx;
	uint8_t raw[BASE64_DECODE_LENGTH(VS_WS_KEY_LEN)];
	size_t n = sizeof(raw);

	if (key == NULL || strlen(key) != VS_WS_KEY_LEN)
		return false;
	base64_decode_init(&ctx);
	if (!base64_decode_update(&ctx, &n, raw, VS_WS_KEY_LEN, key) || !base64_decode_final(&ctx))
		return false;
	return n == 16;
}

/* base64 of n bytes into out (NUL-terminated); out holds
 * BASE64_ENCODE_RAW_LENGTH(n) + 1. */
static void b64(const void *data, size_t n, char *out)
{
	base64_encode_raw(out, n, data);
	out[BASE64_ENCODE_RAW_LENGTH(n)] = '\0';
}

int vs_ws_accept(const char *key, char out[VS_WS_ACCEPT_LEN + 1], struct vs_error *err)
{
	struct sha1_ctx ctx;
	uint8_t sha[SHA1_DIGEST_SIZE];

	_Static_assert(BASE64_ENCODE_RAW_LENGTH(SHA1_DIGEST_SIZE) == VS_WS_ACCEPT_LEN,
		       "accept length");
	if (!vs_ws_key_valid(key))
		return vs_error_kind(err, VS_EK_INVALID,
				     "Sec-WebSocket-Key: expected the base64 of 16 bytes");
	sha1_init(&ctx);
	sha1_update(&ctx, VS_WS_KEY_LEN, (const uint8_t *)key);
	sha1_update(&ctx, sizeof(WS_GUID) - 1, (const uint8_t *)WS_GUID);
	sha1_digest(&ctx, sizeof(sha), sha);
	b64(sha, sizeof(sha), out);
	return 0;
}

int vs_ws_new_key(char out[VS_WS_KEY_LEN + 1], struct vs_error *err)
{
	unsigned char raw[16];

	_Static_assert(BASE64_ENCODE_RAW_LENGTH(sizeof(raw)) == VS_WS_KEY_LEN, "key length");
	/* A nonce (RFC 6455: random, not secret); 16 bytes never block once
	 * the pool is initialized, and never come short. */
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return vs_error_set(err, errno, "random key");
	b64(raw, sizeof(raw), out);
	return 0;
}

static int get_int(const struct vs_json *o, const char *key, int lo, int hi, int *out,
		   struct vs_error *err)
{
	const struct vs_json *v = vs_json_get(o, key);
	int64_t n;

	if (v == NULL || !vs_json_int64(v, &n) || n < lo || n > hi)
		return vs_error_kind(err, VS_EK_INVALID, "%s: expected an integer from %d to %d",
				     key, lo, hi);
	*out = (int)n;
	return 0;
}

/* Every key of o is type or one of keys. */
static int check_keys(const struct vs_json *o, const char *const *keys, struct vs_error *err)
{
	for (size_t i = 0; i < vs_json_object_len(o); i++) {
		const char *k = vs_json_object_key(o, i);
		bool known = strcmp(k, "type") == 0;
		for (size_t j = 0; keys[j] != NULL && !known; j++)
			known = strcmp(k, keys[j]) == 0;
		if (!known)
			return vs_error_kind(err, VS_EK_INVALID, "%s: unknown field", k);
	}
	return 0;
}

static int parse_obj(const struct vs_json *o, struct vs_ws_ctl *out, struct vs_error *err)
{
	static const char *const resize[] = {"cols", "rows", NULL}, *const sig[] = {"signal", NULL},
				 *const none[] = {NULL}, *const ex[] = {"code", "signal", NULL};
	const char *t = vs_json_string(vs_json_get(o, "type"));

	memset(out, 0, sizeof(*out));
	if (t == NULL)
		return vs_error_kind(err, VS_EK_INVALID, "type: expected a string");
	if (strcmp(t, "resize") == 0) {
		out->type = VS_WS_CTL_RESIZE;
		return check_keys(o, resize, err) < 0 ||
			       get_int(o, "cols", 1, 65535, &out->cols, err) < 0 ||
			       get_int(o, "rows", 1, 65535, &out->rows, err) < 0
			   ? -1
			   : 0;
	}
	if (strcmp(t, "signal") == 0) {
		out->type = VS_WS_CTL_SIGNAL;
		return check_keys(o, sig, err) < 0 ||
			       get_int(o, "signal", 1, 64, &out->signal, err) < 0
			   ? -1
			   : 0;
	}
	if (strcmp(t, "eof") == 0) {
		out->type = VS_WS_CTL_EOF;
		return check_keys(o, none, err);
	}
	if (strcmp(t, "exit") == 0) {
		out->type = VS_WS_CTL_EXIT;
		return check_keys(o, ex, err) < 0 ||
			       get_int(o, "code", 0, 255, &out->code, err) < 0 ||
			       get_int(o, "signal", 0, 64, &out->signal, err) < 0
			   ? -1
			   : 0;
	}
	return vs_error_kind(err, VS_EK_INVALID, "type: unknown message type '%s'", t);
}

int vs_ws_ctl_parse(const char *text, size_t len, struct vs_ws_ctl *out, struct vs_error *err)
{
	cleanup_free char *s = xmalloc(len + 1);
	cleanup_json struct vs_json *o = NULL;

	memcpy(s, text, len);
	s[len] = '\0';
	if (strlen(s) != len)
		return vs_error_kind(err, VS_EK_INVALID, "control message: holds a NUL byte");
	if (vs_json_parse(s, &o, err) < 0)
		return vs_error_prefix(err, "control message");
	if (vs_json_type(o) != VS_JSON_OBJECT)
		return vs_error_kind(err, VS_EK_INVALID, "control message: expected an object");
	return parse_obj(o, out, err);
}

char *vs_ws_ctl_format(const struct vs_ws_ctl *c)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);

	vs_jgen_obj_open(g);
	switch (c->type) {
	case VS_WS_CTL_RESIZE:
		vs_jgen_kv_str(g, "type", "resize");
		vs_jgen_kv_int(g, "cols", c->cols);
		vs_jgen_kv_int(g, "rows", c->rows);
		break;
	case VS_WS_CTL_SIGNAL:
		vs_jgen_kv_str(g, "type", "signal");
		vs_jgen_kv_int(g, "signal", c->signal);
		break;
	case VS_WS_CTL_EOF:
		vs_jgen_kv_str(g, "type", "eof");
		break;
	case VS_WS_CTL_EXIT:
		vs_jgen_kv_str(g, "type", "exit");
		vs_jgen_kv_int(g, "code", c->code);
		vs_jgen_kv_int(g, "signal", c->signal);
		break;
	}
	vs_jgen_obj_close(g);
	return vs_jgen_steal(g);
}

struct vs_ws_ctl vs_ws_ctl_exit(int status)
{
	struct vs_ws_ctl c = {.type = VS_WS_CTL_EXIT};

	c.code = status < 0 ? 255 : status > 255 ? 255 : status;
	c.signal = status > 128 && status <= 128 + 64 ? status - 128 : 0;
	return c;
}
