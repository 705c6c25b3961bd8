#include "lib/vs_error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static void vformat(struct vs_error *err, int errnum, const char *fmt, va_list ap)
{
	int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (n < 0)
		n = 0;
	if (errnum != 0 && (size_t)n < sizeof(err->msg))
		snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s", strerror(errnum));
	err->errnum = errnum;
}

int vs_error_set(struct vs_error *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vformat(err, errnum, fmt, ap);
	va_end(ap);
	err->kind = VS_EK_INTERNAL;
	return -1;
}

int vs_error_kind(struct vs_error *err, enum vs_error_kind kind, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vformat(err, 0, fmt, ap);
	va_end(ap);
	err->kind = kind;
	return -1;
}

int vs_error_prefix(struct vs_error *err, const char *fmt, ...)
{
	char prefix[VS_ERROR_MSG_MAX];
	char old[VS_ERROR_MSG_MAX];
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	size_t plen;

	memcpy(old, err->msg, sizeof(old));
	plen = strnlen(prefix, sizeof(err->msg) - 3);
	memcpy(err->msg, prefix, plen);
	memcpy(err->msg + plen, ": ", 2);
	plen += 2;
	memcpy(err->msg + plen, old, strnlen(old, sizeof(err->msg) - plen - 1));
	err->msg[plen + strnlen(old, sizeof(err->msg) - plen - 1)] = '\0';
	return -1;
}

void vs_error_clear(struct vs_error *err)
{
	if (err == NULL)
		return;
	err->errnum = 0;
	err->kind = VS_EK_INTERNAL;
	err->msg[0] = '\0';
}

#define WIRE_PREFIX "error "

int vs_error_encode(const struct vs_error *err, char *buf, size_t size)
{
	int n = snprintf(buf, size, WIRE_PREFIX "%d %d %s", (int)err->kind, err->errnum, err->msg);

	if (n < 0) {
		buf[0] = '\0';
		return 0;
	}
	return (size_t)n < size ? n : (int)size - 1;
}

int vs_error_send(int sock, const struct vs_error *err)
{
	char buf[VS_ERROR_WIRE_MAX];
	int n = vs_error_encode(err, buf, sizeof(buf));

	return send(sock, buf, (size_t)n, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

int vs_error_decode(const char *text, struct vs_error *err)
{
	int kind = -1, errnum = -1, off = 0;
	size_t len;

	if (strncmp(text, WIRE_PREFIX, strlen(WIRE_PREFIX)) != 0)
		return 0;
	if (err == NULL)
		return -1;
	if (sscanf(text, WIRE_PREFIX "%d %d %n", &kind, &errnum, &off) != 2 || off == 0 ||
	    kind < VS_EK_INTERNAL || kind > VS_EK_LAST || errnum < 0 || errnum > 4095)
		return vs_error_set(err, EPROTO, "malformed error report: %.64s", text);
	len = strnlen(text + off, sizeof(err->msg) - 1);
	memcpy(err->msg, text + off, len);
	if (len > 0 && err->msg[len - 1] == '\n')
		len--;
	err->msg[len] = '\0';
	err->kind = (enum vs_error_kind)kind;
	err->errnum = errnum;
	return -1;
}
