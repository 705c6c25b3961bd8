/* vs_error: the one error convention of vsd.
 *
 * A fallible function returns a negative number on failure and fills the
 * caller's struct vs_error (errno value + message). Callers add context on
 * the way up with vs_error_prefix(); the error is printed once, in main() or
 * in the REST layer. */
#ifndef VS_ERROR_H
#define VS_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#define VS_ERROR_MSG_MAX 1024

/* Error kinds beyond errno that the REST layer maps to HTTP statuses. */
enum vs_error_kind {
	VS_EK_INTERNAL = 0, /* 500 */
	VS_EK_INVALID,	    /* 400: bad input */
	VS_EK_NOT_FOUND,    /* 404 */
	VS_EK_CONFLICT,	    /* 409: exists, in use, wrong state */
	VS_EK_TOO_LARGE,    /* 413 */
	VS_EK_UNSUPPORTED,  /* 501 */
	VS_EK_PRECONDITION, /* 412: If-Match does not match */
	VS_EK_UNAUTHORIZED, /* 401: no, a wrong, an expired or a revoked credential */
	VS_EK_FORBIDDEN,    /* 403: a credential whose scope does not allow this */
};
#define VS_EK_LAST VS_EK_FORBIDDEN /* the highest kind (vs_error_decode checks) */

struct vs_error {
	int errnum;		 /* errno value, 0 if none */
	enum vs_error_kind kind; /* how the REST layer reports it */
	char msg[VS_ERROR_MSG_MAX];
};

/* Fill *err with errnum and a printf-style message; when errnum != 0,
 * ": strerror(errnum)" is appended. Returns -1 so callers can
 * `return vs_error_set(err, errno, "open %s", p);`. err may be NULL. */
int vs_error_set(struct vs_error *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like vs_error_set, and records the kind (invalid input, not found, ...). */
int vs_error_kind(struct vs_error *err, enum vs_error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepend "context: " to the message already in *err. Returns -1. */
int vs_error_prefix(struct vs_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reset to "no error". */
void vs_error_clear(struct vs_error *err);

/* The one form an error takes between vsd's own processes: the monitor's
 * answers on its control socket and its readiness report, the exec and
 * creds helpers' first message, the zygote's answer, and the container
 * child's report to its monitor all carry
 *
 *     "error KIND ERRNO MESSAGE"
 *
 * (KIND the enum vs_error_kind value, ERRNO the errno value or 0, both
 * decimal; MESSAGE as in err->msg, strerror included). A buffer of
 * VS_ERROR_WIRE_MAX bytes holds any of them whole. */
#define VS_ERROR_WIRE_MAX (VS_ERROR_MSG_MAX + 48)

/* Write err's wire form into buf (NUL-terminated; truncated to size).
 * Returns its length without the NUL. */
int vs_error_encode(const struct vs_error *err, char *buf, size_t size);

/* Send err's wire form as one message on a socket (MSG_NOSIGNAL: a peer
 * that left is not a reason to die). 0, or -1 with errno. */
int vs_error_send(int sock, const struct vs_error *err);

/* When text (NUL-terminated) is an error's wire form, fill *err with its
 * kind, errno and message as they were (one trailing newline dropped) and
 * return -1; a text that starts "error " but is malformed gives EPROTO
 * "malformed error report: ...", also -1. Any other text returns 0 and
 * leaves *err alone (the caller's own answer, "ok ..."). */
int vs_error_decode(const char *text, struct vs_error *err);

#endif
