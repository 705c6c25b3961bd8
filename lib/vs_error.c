#include "lib/vs_error.h"

#include <stdio.h>
#include <string.h>

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
