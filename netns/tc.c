/* Traffic control (RTM_*QDISC): a TBF with fq_codel under it as a link's
 * root qdisc (the container's ingress rate), and the qdiscs' drops. The
 * container's egress rate is policed in the firewall (fw_iface_police
 * says why not with an ifb here). */
#include <errno.h>
#include <linux/gen_stats.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "netns/nl-private.h"

/* The TBF's handle (1:), its one class (1:1) and the fq_codel under it. */
#define TBF_HANDLE TC_H_MAKE(1U << 16, 0)
#define TBF_CLASS  TC_H_MAKE(1U << 16, 1)
#define FQ_HANDLE  TC_H_MAKE(0x10U << 16, 0)

/* The smallest bucket: two full Ethernet frames. TBF drops a packet that is
 * larger than its bucket and not GSO (a GSO one it splits). */
#define TBF_MIN_BUCKET (2 * 1514)

int64_t vs_tbf_default_burst(int64_t rate)
{
	/* 10 ms at the rate: the TBF dequeues from an hrtimer, and a bucket
	 * smaller than the time between two wake-ups keeps it below its rate
	 * at high rates. At least 128 KiB: a veth passes GSO packets of up to
	 * 64 KiB of payload, which the qdisc counts with the headers of every
	 * segment (about 69 KB); a bucket that holds two of them lets TBF pass
	 * them whole instead of segmenting each in software (tbf_segment),
	 * and a TCP sender's back-to-back pair does not stall. The average
	 * rate is unaffected; only the first burst after an idle spell goes at
	 * line rate. */
	int64_t b = rate / 8 / 100;

	return b > 128 * 1024 ? b : 128 * 1024;
}

/* time in psched ticks (64 ns: PSCHED_SHIFT 6) to send bytes at rate. */
static uint32_t ticks(int64_t bytes, int64_t rate_bytes)
{
	uint64_t ns = (uint64_t)bytes * 1000000000ULL / (uint64_t)rate_bytes;

	ns >>= 6;
	return ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/* A ratespec whose link layer is Ethernet: the kernel then computes
 * transmission times itself and needs no rate table (TCA_TBF_RTAB). */
static void ratespec(struct tc_ratespec *r, int64_t rate_bytes)
{
	r->linklayer = TC_LINKLAYER_ETHERNET;
	r->rate = rate_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)rate_bytes;
}

static struct nlmsghdr *qdisc_msg(char *buf, uint16_t type, uint16_t flags, int ifindex,
				  uint32_t parent, uint32_t handle, const char *kind)
{
	struct nlmsghdr *nlh = vs_nl_msg(buf, type, flags);
	struct tcmsg *tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));

	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	tcm->tcm_parent = parent;
	tcm->tcm_handle = handle;
	if (kind != NULL)
		mnl_attr_put_strz(nlh, TCA_KIND, kind);
	return nlh;
}

static void tbf_opts(struct nlmsghdr *nlh, int64_t rate, int64_t peak, int64_t burst)
{
	struct tc_tbf_qopt q = {0};
	/* The parsers refuse rates below 8 kbit; never divide by zero here. */
	int64_t rb = rate / 8 > 0 ? rate / 8 : 1, pb = peak / 8, pburst = 0;
	uint64_t limit;
	struct nlattr *opts;

	if (burst <= 0)
		burst = vs_tbf_default_burst(rate);
	if (burst < TBF_MIN_BUCKET)
		burst = TBF_MIN_BUCKET;
	ratespec(&q.rate, rb);
	q.buffer = ticks(burst, rb);
	/* The queue of the bfifo TBF makes until fq_codel replaces it: a
	 * burst plus 100 ms at the rate. */
	limit = (uint64_t)burst + (uint64_t)rb / 10;
	q.limit = limit > UINT32_MAX ? UINT32_MAX : (uint32_t)limit;
	if (pb > rb) {
		/* The peak bucket: 1 ms at the peak rate, at least two frames;
		 * every packet passes through it, so it bounds bursts. */
		pburst = pb / 1000 > TBF_MIN_BUCKET ? pb / 1000 : TBF_MIN_BUCKET;
		ratespec(&q.peakrate, pb);
		q.mtu = ticks(pburst, pb);
	}
	opts = mnl_attr_nest_start(nlh, TCA_OPTIONS);
	mnl_attr_put(nlh, TCA_TBF_PARMS, sizeof(q), &q);
	/* Rates above 4 GB/s (34 gbit) do not fit the ratespec's 32 bits. */
	if (rb > UINT32_MAX)
		mnl_attr_put_u64(nlh, TCA_TBF_RATE64, (uint64_t)rb);
	if (pburst && pb > UINT32_MAX)
		mnl_attr_put_u64(nlh, TCA_TBF_PRATE64, (uint64_t)pb);
	/* Buckets in bytes too: exact, where the tick values round. */
	mnl_attr_put_u32(nlh, TCA_TBF_BURST, (uint32_t)(burst > UINT32_MAX ? UINT32_MAX : burst));
	if (pburst)
		mnl_attr_put_u32(nlh, TCA_TBF_PBURST, (uint32_t)pburst);
	mnl_attr_nest_end(nlh, opts);
}

int vs_nl_tbf_set(struct vs_nl *nl, int ifindex, int64_t rate, int64_t peak, int64_t burst,
		  struct vs_error *err)
{
	char buf[VS_NL_REQ_SIZE];
	struct nlmsghdr *nlh;
	struct vs_error e = {0};

	if (rate <= 0)
		return vs_error_kind(err, VS_EK_INVALID, "shaping: rate must be positive");
	/* CREATE|REPLACE: a TBF already at 1: is changed in place (its
	 * fq_codel and queue stay); the default qdisc is replaced. */
	nlh = qdisc_msg(buf, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE, ifindex, TC_H_ROOT,
			TBF_HANDLE, "tbf");
	tbf_opts(nlh, rate, peak, burst);
	if (vs_nl_talk(nl, nlh, NULL, NULL, "RTM_NEWQDISC tbf", err) < 0)
		return vs_error_prefix(err, "shape link %d", ifindex);
	nlh = qdisc_msg(buf, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE, ifindex, TBF_CLASS,
			FQ_HANDLE, "fq_codel");
	if (vs_nl_talk(nl, nlh, NULL, NULL, "RTM_NEWQDISC fq_codel", &e) == 0)
		return 0;
	/* A kernel without fq_codel (CONFIG_NET_SCH_FQ_CODEL unset, as on
	 * the development machines) answers ENOENT for the unknown kind: the
	 * TBF's own byte FIFO (limit above) then queues, which shapes just as
	 * exactly, only without fair queueing between flows. */
	if (e.errnum == ENOENT)
		return 0;
	*err = e;
	return vs_error_prefix(err, "shape link %d", ifindex);
}

static int qdisc_del(struct vs_nl *nl, int ifindex, uint32_t parent, uint32_t handle,
		     struct vs_error *err)
{
	char buf[VS_NL_REQ_SIZE];
	struct nlmsghdr *nlh = qdisc_msg(buf, RTM_DELQDISC, 0, ifindex, parent, handle, NULL);
	struct vs_error e = {0};

	if (vs_nl_talk(nl, nlh, NULL, NULL, "RTM_DELQDISC", &e) == 0 || e.errnum == ENODEV)
		return 0;
	*err = e;
	return vs_error_prefix(err, "remove the qdisc of link %d", ifindex);
}

int vs_nl_tbf_del(struct vs_nl *nl, int ifindex, struct vs_error *err)
{
	struct vs_nl_qdiscs q;

	/* Ask first: deleting the default qdisc is an error (EINVAL or
	 * ENOENT) that would hide real ones. */
	if (vs_nl_qdiscs(nl, ifindex, &q, err) < 0)
		return -1;
	if (strcmp(q.root_kind, "tbf") != 0)
		return 0;
	return qdisc_del(nl, ifindex, TC_H_ROOT, 0, err);
}

struct qd_ctx {
	int ifindex;
	struct vs_nl_qdiscs *q;
};

/* The drops of one qdisc: its TCA_STATS2's queue statistics. */
static uint64_t qdisc_stats(const struct nlattr *st)
{
	const struct nlattr *a;
	uint64_t drops = 0;

	mnl_attr_for_each_nested(a, st)
	{
		struct gnet_stats_queue gq;

		if (mnl_attr_get_type(a) != TCA_STATS_QUEUE ||
		    mnl_attr_get_payload_len(a) < sizeof(gq))
			continue;
		memcpy(&gq, mnl_attr_get_payload(a), sizeof(gq));
		drops += gq.drops;
	}
	return drops;
}

static int qdisc_cb(const struct nlmsghdr *nlh, void *data)
{
	struct qd_ctx *c = data;
	const struct tcmsg *tcm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	const char *kind = "";

	if (tcm->tcm_ifindex != c->ifindex)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*tcm))
	{
		int t = mnl_attr_get_type(a);

		if (t == TCA_KIND && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			kind = mnl_attr_get_str(a);
		if (t == TCA_STATS2 && mnl_attr_validate(a, MNL_TYPE_NESTED) == 0)
			c->q->drops += qdisc_stats(a);
	}
	if (tcm->tcm_parent == TC_H_ROOT)
		snprintf(c->q->root_kind, sizeof(c->q->root_kind), "%s", kind);
	if (tcm->tcm_parent == TC_H_INGRESS)
		c->q->ingress = true;
	return MNL_CB_OK;
}

int vs_nl_qdiscs(struct vs_nl *nl, int ifindex, struct vs_nl_qdiscs *q, struct vs_error *err)
{
	char buf[VS_NL_REQ_SIZE];
	struct nlmsghdr *nlh = qdisc_msg(buf, RTM_GETQDISC, NLM_F_DUMP, ifindex, 0, 0, NULL);
	struct qd_ctx c = {ifindex, q};

	memset(q, 0, sizeof(*q));
	if (vs_nl_talk(nl, nlh, qdisc_cb, &c, "RTM_GETQDISC", err) < 0)
		return vs_error_prefix(err, "list the qdiscs of link %d", ifindex);
	return 0;
}

struct qdump_ctx {
	void (*fn)(int ifindex, uint64_t drops, void *arg);
	void *arg;
};

static int qdump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct qdump_ctx *c = data;
	const struct tcmsg *tcm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	uint64_t drops = 0;

	mnl_attr_for_each(a, nlh, sizeof(*tcm))
	{
		if (mnl_attr_get_type(a) == TCA_STATS2 &&
		    mnl_attr_validate(a, MNL_TYPE_NESTED) == 0)
			drops += qdisc_stats(a);
	}
	c->fn(tcm->tcm_ifindex, drops, c->arg);
	return MNL_CB_OK;
}

int vs_nl_qdisc_dump(struct vs_nl *nl, void (*fn)(int ifindex, uint64_t drops, void *arg),
		     void *arg, struct vs_error *err)
{
	char buf[VS_NL_REQ_SIZE];
	struct nlmsghdr *nlh = qdisc_msg(buf, RTM_GETQDISC, NLM_F_DUMP, 0, 0, 0, NULL);
	struct qdump_ctx c = {fn, arg};

	if (vs_nl_talk(nl, nlh, qdump_cb, &c, "RTM_GETQDISC", err) < 0)
		return vs_error_prefix(err, "list the qdiscs");
	return 0;
}
