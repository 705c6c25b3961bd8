/* netns/ internals: nf_tables netlink for the firewall (firewall.c)
 * through libnftnl and libmnl. fw-nl.c holds the batch and the queries,
 * fw-rules.c the objects and expressions of the rules. Only firewall.c,
 * fw-nl.c and fw-rules.c include this header.
 *
 * Every change is one batch (NFNL_MSG_BATCH_BEGIN ... END) that the kernel
 * applies whole or not at all; every message in it asks for an ACK, and
 * fw_batch_commit checks each one. Every call opens its own netlink socket,
 * so calls from several threads (or processes) share nothing. */
#ifndef VS_FW_NL_H
#define VS_FW_NL_H

#include <libmnl/libmnl.h>
#include <libnftnl/rule.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/vs_error.h"

/* What an error names: "add chain ifc_vsX" and the like. */
#define FW_WHAT_MAX 64

/* A batch being built: messages one after the other in buf. Message i
 * (sequence number seq0 + i) is described by what[i]. */
struct fw_batch {
	char *buf;
	size_t len, cap;
	uint32_t seq0;
	uint32_t n; /* messages so far, BATCH_BEGIN included */
	char (*what)[FW_WHAT_MAX];
	size_t what_cap;
};

/* An empty batch (BATCH_BEGIN only). */
void fw_batch_init(struct fw_batch *b);
void fw_batch_free(struct fw_batch *b);
#define cleanup_fwbatch __attribute__((cleanup(fw_batch_free)))

/* Room for one more message of up to FW_MSG_MAX bytes at the end of the
 * batch: its header (type NFT_MSG_*, family, flags besides NLM_F_REQUEST
 * and NLM_F_ACK) with the next sequence number, described by what (a
 * format). The caller adds the payload and then calls fw_batch_next. */
#define FW_MSG_MAX 8192
struct nlmsghdr *fw_batch_msg(struct fw_batch *b, uint16_t type, uint16_t family, uint16_t flags,
			      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void fw_batch_next(struct fw_batch *b, struct nlmsghdr *nlh);

/* Send the batch (adding BATCH_END) on a new NETLINK_NETFILTER socket and
 * check the kernel's answer to every message. 0, or -1 with err naming the
 * first message the kernel refused ("nftables: add set a4_vsX: No such
 * file or directory", errnum the kernel's errno). An empty batch (nothing
 * after BATCH_BEGIN) sends nothing and returns 0. */
int fw_batch_commit(struct fw_batch *b, struct vs_error *err);

/* One request (a GET, or a dump with NLM_F_DUMP) built in a buffer of
 * FW_MSG_MAX bytes; cb sees every answer (mnl_cb_run). 0, or -1 with err
 * ("nftables: what: strerror", errnum the kernel's errno). */
int fw_nl_query(struct nlmsghdr *nlh, mnl_cb_t cb, void *data, const char *what,
		struct vs_error *err);

/* Objects (fw-rules.c). t is the table, family an NFPROTO_*; type the
 * NFT_MSG_NEW* or NFT_MSG_DEL* of the object. NEW without NLM_F_EXCL is a
 * no-op for an object that exists (a set or counter must then be declared
 * as it was made). */
void fw_put_table(struct fw_batch *b, uint16_t type, uint16_t family, const char *t);
/* A chain by name only: declared (NEW), deleted (DEL), or its rules
 * deleted (NFT_MSG_DELRULE). */
void fw_put_chain(struct fw_batch *b, uint16_t type, uint16_t family, const char *t,
		  const char *name);
/* A base chain hooked at hooknum (of device dev, NULL for none). */
struct fw_base_chain {
	const char *name, *type, *dev;
	uint32_t hooknum, policy;
	int32_t prio;
};
void fw_put_base_chain(struct fw_batch *b, uint16_t family, const char *t,
		       const struct fw_base_chain *c);
/* The interface's sets a4_X (IPv4 addresses) and a6_X (128-bit integers,
 * intervals), netdev family. */
void fw_put_set4(struct fw_batch *b, uint16_t type, const char *t, const char *name);
void fw_put_set6(struct fw_batch *b, uint16_t type, const char *t, const char *name);
/* A named counter, netdev family. */
void fw_put_counter(struct fw_batch *b, uint16_t type, const char *t, const char *name);
/* One element (NFT_MSG_NEWSETELEM or DELSETELEM) of a4 (4 bytes) or a6 (16
 * bytes, sent as the interval [key, key + 1)). */
void fw_put_elem(struct fw_batch *b, uint16_t type, const char *t, const char *set,
		 const uint8_t *key, size_t len);

/* The rules (fw-rules.c), appended to chains declared in the same batch:
 * the 13 rules of ifc_X (listed at the top of firewall.c) for the MAC mac,
 * the policing rules of eg_X, and NAT's masquerade rule. */
void fw_put_iface_rules(struct fw_batch *b, const char *t, const char *x, const uint8_t mac[6]);
void fw_put_police_rule(struct fw_batch *b, const char *t, const char *x, uint64_t bytes_per_s,
			uint32_t burst);
void fw_put_masq_rule(struct fw_batch *b, const char *t, const char *chain, const uint8_t net[4],
		      uint8_t prefix, const char *oifname);

#endif
