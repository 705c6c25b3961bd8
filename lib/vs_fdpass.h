/* vs_fdpass: descriptors over unix sockets (SCM_RIGHTS). Used by the
 * monitor (console master to vsd), the exec helper (pty master to vsd) and
 * the REST stream protocol (vsd to vsctl). */
#ifndef VS_FDPASS_H
#define VS_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

#define VS_FDPASS_MAX 8

/* Send len bytes (len >= 1) with nfds descriptors attached in one message.
 * Returns 0 or -1 (errno set). Retries EINTR. */
int vs_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds);

/* Receive one message of at most len bytes and up to maxfds descriptors
 * (made O_CLOEXEC). Returns the number of bytes (0 at EOF) and sets *nfds,
 * or -1 (errno set). Descriptors beyond maxfds, or any when the message was
 * truncated, are closed and the call fails with EBADMSG. */
ssize_t vs_recv_fds(int sock, void *buf, size_t len, int *fds, size_t maxfds, size_t *nfds);

#endif
