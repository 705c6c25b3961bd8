/* nf_tables netlink for the firewall: batches and queries (fwnl-private.h). */
#include "netns/fwnl-private.h"

#include <errno.h>
#include <libnftnl/common.h>
#include <linux/netfilter/nfnetlink.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/vs_util.h"

/* Replies are small (acks, one object, dump datagrams of up to 32 KiB). */
#define FW_RECV_SIZE 32768
/* Room the kernel takes per queued ack (its skb), generously: the socket's
 * receive buffer must hold every ack of a batch at once. */
#define FW_ACK_TRUESIZE 1024

static void fw_sock_close(struct mnl_socket **s)
{
	if (*s)
		mnl_socket_close(*s);
}
#define cleanup_mnl __attribute__((cleanup(fw_sock_close)))

static struct mnl_socket *fw_sock_open(struct vs_error *err)
{
	struct mnl_socket *s = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	int one = 1;

	if (!s) {
		vs_error_set(err, errno, "nftables: open netlink socket");
		return NULL;
	}
	if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
		vs_error_set(err, errno, "nftables: bind netlink socket");
		mnl_socket_close(s);
		return NULL;
	}
	/* An error answer then carries the header of the refused message
	 * only (its sequence number is all we need), not all of it. */
	mnl_socket_setsockopt(s, NETLINK_CAP_ACK, &one, sizeof(one));
	return s;
}

/* Distinct sequence numbers across sockets and calls make a stray answer
 * recognisable, as in libmnl's examples. */
static uint32_t fw_seq_start(void)
{
	static uint32_t counter;
	return (uint32_t)time(NULL) + __atomic_add_fetch(&counter, 0x10000, __ATOMIC_RELAXED);
}

static void fw_batch_reserve(struct fw_batch *b)
{
	if (b->len + FW_MSG_MAX > b->cap) {
		b->cap = (b->len + FW_MSG_MAX) * 2;
		b->buf = xrealloc(b->buf, b->cap);
	}
	if (b->n >= b->what_cap) {
		b->what_cap = b->what_cap ? b->what_cap * 2 : 32;
		b->what = xrealloc(b->what, b->what_cap * sizeof(*b->what));
	}
	/* libnftnl writes attributes without bounds checks: the message is
	 * built in zeroed room of FW_MSG_MAX bytes, more than any we make. */
	memset(b->buf + b->len, 0, FW_MSG_MAX);
}

void fw_batch_init(struct fw_batch *b)
{
	*b = (struct fw_batch){.seq0 = fw_seq_start()};
	fw_batch_reserve(b);
	snprintf(b->what[0], FW_WHAT_MAX, "batch");
	fw_batch_next(b, nftnl_batch_begin(b->buf, b->seq0));
}

void fw_batch_free(struct fw_batch *b)
{
	free(b->buf);
	free(b->what);
	*b = (struct fw_batch){0};
}

struct nlmsghdr *fw_batch_msg(struct fw_batch *b, uint16_t type, uint16_t family, uint16_t flags,
			      const char *fmt, ...)
{
	va_list ap;

	fw_batch_reserve(b);
	va_start(ap, fmt);
	vsnprintf(b->what[b->n], FW_WHAT_MAX, fmt, ap);
	va_end(ap);
	return nftnl_nlmsg_build_hdr(b->buf + b->len, type, family, flags | NLM_F_ACK,
				     b->seq0 + b->n);
}

void fw_batch_next(struct fw_batch *b, struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
	b->n++;
}

/* Answers to a batch: every message with NLM_F_ACK gets an NLMSG_ERROR,
 * error 0 for an ack; the first refusal is kept. */
struct fw_acks {
	const struct fw_batch *b;
	uint32_t got;
	int error;
	uint32_t error_at; /* index of the refused message */
};

static int fw_ack_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	struct fw_acks *a = data;
	uint32_t i = nlh->nlmsg_seq - a->b->seq0;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	/* Not one of ours (unsigned: below seq0 wraps to a large index). */
	if (i >= a->b->n)
		return MNL_CB_OK;
	a->got++;
	if (e->error < 0 && !a->error)
		a->error = -e->error, a->error_at = i;
	return MNL_CB_OK;
}

/* Buffers big enough for the whole batch going out and all of its acks
 * coming back at once (the kernel answers while we are still in sendto,
 * and a full receive queue would drop acks). As root we may force them
 * past the sysctl limits; without, the plain calls may still do. */
static void fw_sock_size(struct mnl_socket *s, const struct fw_batch *b)
{
	int snd = (int)b->len + 4096, rcv = (int)b->n * FW_ACK_TRUESIZE;

	if (snd > 200000 &&
	    setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd)) < 0)
		setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
	if (rcv > 200000 &&
	    setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0)
		setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
}

/* Read answers until every message is answered, or a refusal has come
 * and nothing more is queued (a refused batch may leave later messages
 * unanswered). nfnetlink processes a batch inside our sendto, so the
 * answers are queued by the time we read; the poll is a safety net. */
static int fw_batch_acks(struct mnl_socket *s, struct fw_acks *a, struct vs_error *err)
{
	/* mnl_cb_run2 takes the table without const. */
	static mnl_cb_t ctl[NLMSG_MIN_TYPE] = {[NLMSG_ERROR] = fw_ack_cb};
	cleanup_free char *buf = xmalloc(FW_RECV_SIZE);
	uint32_t want = a->b->n - 2; /* all but BATCH_BEGIN and END */
	int fd = mnl_socket_get_fd(s);

	for (;;) {
		ssize_t n = recv(fd, buf, FW_RECV_SIZE, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			if (a->got >= want || a->error)
				return 0;
			if (poll(&p, 1, 5000) == 0)
				return vs_error_set(err, ETIMEDOUT, "nftables: %u of %u answers",
						    a->got, want);
			continue;
		}
		if (n < 0)
			return vs_error_set(err, errno, "nftables: receive");
		if (mnl_cb_run2(buf, (size_t)n, 0, mnl_socket_get_portid(s), NULL, a, ctl,
				NLMSG_MIN_TYPE) < 0)
			return vs_error_set(err, errno, "nftables: answer");
	}
}

int fw_batch_commit(struct fw_batch *b, struct vs_error *err)
{
	struct mnl_socket *s cleanup_mnl = NULL;
	struct fw_acks a = {.b = b};

	if (b->n <= 1)
		return 0;
	fw_batch_reserve(b);
	snprintf(b->what[b->n], FW_WHAT_MAX, "batch");
	fw_batch_next(b, nftnl_batch_end(b->buf + b->len, b->seq0 + b->n));
	if (!(s = fw_sock_open(err)))
		return -1;
	fw_sock_size(s, b);
	if (mnl_socket_sendto(s, b->buf, b->len) < 0)
		return vs_error_set(err, errno, "nftables: send %zu bytes", b->len);
	if (fw_batch_acks(s, &a, err) < 0)
		return -1;
	if (a.error)
		return vs_error_set(err, a.error, "nftables: %s", b->what[a.error_at]);
	return 0;
}

int fw_nl_query(struct nlmsghdr *nlh, mnl_cb_t cb, void *data, const char *what,
		struct vs_error *err)
{
	struct mnl_socket *s cleanup_mnl = NULL;
	cleanup_free char *buf = xmalloc(FW_RECV_SIZE);
	uint32_t portid;
	int r = MNL_CB_OK;

	if (!(s = fw_sock_open(err)))
		return -1;
	portid = mnl_socket_get_portid(s);
	nlh->nlmsg_seq = fw_seq_start();
	if (mnl_socket_sendto(s, nlh, nlh->nlmsg_len) < 0)
		return vs_error_set(err, errno, "nftables: %s: send", what);
	/* mnl_cb_run checks sequence and port and stops (0) at the ack of a
	 * GET or the NLMSG_DONE of a dump; a refusal is -1 with errno. */
	do {
		ssize_t n = mnl_socket_recvfrom(s, buf, FW_RECV_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return vs_error_set(err, errno, "nftables: %s: receive", what);
		r = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, cb, data);
		if (r < 0)
			return vs_error_set(err, errno, "nftables: %s", what);
	} while (r > MNL_CB_STOP);
	return 0;
}
