/* netns: the table of one scrape's network counters (vs_net_stats_all)
 * matched to containers' interfaces by node-side name: links, qdiscs and
 * drop counters dumped in any order, a missing link, links and counters
 * of other interfaces or another node's, qdiscs of other links. Pure: the
 * table is filled by hand (the dumps themselves are checked against the
 * kernel in test_netns.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netns/stats-private.h"

static void config(struct vs_net_config *net, size_t n, const char *const *hosts)
{
	memset(net, 0, sizeof(*net));
	net->nifaces = n;
	for (size_t i = 0; i < n; i++) {
		snprintf(net->ifaces[i].name, sizeof(net->ifaces[i].name), "eth%zu", i);
		snprintf(net->ifaces[i].host_ifname, sizeof(net->ifaces[i].host_ifname), "%s",
			 hosts[i]);
	}
}

/* The same counters, added in the given order of three kinds. */
static void fill(struct vs_net_stats_table *t, bool reversed)
{
	for (int k = 0; k < 3; k++) {
		int i = reversed ? 2 - k : k;
		switch (i) {
		case 0:
			net_stats_add_link(t, "lo", 1, 5, 5, 5, 5);
			net_stats_add_link(t, "vs1a2b_7", 40, 100, 10, 200, 20);
			net_stats_add_link(t, "vs1a2b_8", 41, 300, 30, 400, 40);
			/* Another node's link and one of another container. */
			net_stats_add_link(t, "vs9f9f_7", 42, 900, 90, 900, 90);
			break;
		case 1:
			/* Root and child qdiscs of 40, one of 41, others. */
			net_stats_add_qdisc(t, 41, 3);
			net_stats_add_qdisc(t, 40, 1);
			net_stats_add_qdisc(t, 1, 50);
			net_stats_add_qdisc(t, 40, 2);
			net_stats_add_qdisc(t, 42, 70);
			break;
		default:
			net_stats_add_drops(t, "vs9f9f_7", 99);
			net_stats_add_drops(t, "vs1a2b_7", 6);
			break;
		}
	}
	net_stats_sort(t);
}

static void check_table(struct vs_net_stats_table *t)
{
	static const char *const hosts[] = {"vs1a2b_7", "vs1a2b_8", "vs1a2b_9"};
	struct vs_net_config net;
	struct vs_net_ifstats st;
	struct vs_error err = {0};

	config(&net, 3, hosts);
	assert_int_equal(vs_net_stats_of(t, &net, 0, &st, &err), 1);
	/* The node side receives what the container sends. */
	assert_int_equal(st.egress_bytes, 100);
	assert_int_equal(st.egress_packets, 10);
	assert_int_equal(st.ingress_bytes, 200);
	assert_int_equal(st.ingress_packets, 20);
	assert_int_equal(st.ingress_drops, 3); /* both qdiscs of link 40 */
	assert_int_equal(st.egress_drops, 6);
	assert_int_equal(vs_net_stats_of(t, &net, 1, &st, &err), 1);
	assert_int_equal(st.egress_bytes, 300);
	assert_int_equal(st.ingress_packets, 40);
	assert_int_equal(st.ingress_drops, 3);
	assert_int_equal(st.egress_drops, 0); /* no counter (yet) */
	/* Missing link: zeros, not another's counters. */
	memset(&st, 0xff, sizeof(st));
	assert_int_equal(vs_net_stats_of(t, &net, 2, &st, &err), 0);
	assert_int_equal(st.egress_bytes, 0);
	assert_int_equal(st.ingress_drops, 0);
	assert_int_equal(st.egress_drops, 0);
	/* No such interface in the config: a clear error. */
	assert_int_equal(vs_net_stats_of(t, &net, 3, &st, &err), -1);
	assert_non_null(strstr(err.msg, "no interface 3"));
}

static void test_any_order(void **state)
{
	struct vs_net_stats_table *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));

	(void)state;
	assert_true(a != NULL && b != NULL);
	fill(a, false);
	check_table(a);
	fill(b, true);
	check_table(b);
	vs_net_stats_all_free(a);
	vs_net_stats_all_free(b);
}

static void test_empty(void **state)
{
	static const char *const hosts[] = {"vs1a2b_7"};
	cleanup_net_stats struct vs_net_stats_table *t = calloc(1, sizeof(*t));
	struct vs_net_config net;
	struct vs_net_ifstats st;
	struct vs_error err = {0};

	(void)state;
	assert_non_null(t);
	config(&net, 1, hosts);
	/* Unsorted (never filled): nothing found, nothing read. */
	assert_int_equal(vs_net_stats_of(t, &net, 0, &st, &err), 0);
	net_stats_sort(t);
	assert_int_equal(vs_net_stats_of(t, &net, 0, &st, &err), 0);
	assert_int_equal(st.egress_packets, 0);
	/* A name too long for an interface is never stored. */
	net_stats_add_link(t, "a-name-longer-than-15", 3, 1, 1, 1, 1);
	net_stats_add_drops(t, "a-name-longer-than-15", 1);
	assert_int_equal(t->nlinks, 0);
	assert_int_equal(t->ndrops, 0);
}

static void test_many(void **state)
{
	cleanup_net_stats struct vs_net_stats_table *t = calloc(1, sizeof(*t));
	struct vs_net_config net;
	struct vs_net_ifstats st;
	struct vs_error err = {0};
	char name[16];
	const char *host[] = {name};

	(void)state;
	assert_non_null(t);
	/* 1,000 links, added backwards, each with two qdiscs and a counter. */
	for (int i = 999; i >= 0; i--) {
		snprintf(name, sizeof(name), "vs1a2b_%d", i);
		net_stats_add_link(t, name, 100 + i, (uint64_t)i, 1, 2, 3);
		net_stats_add_qdisc(t, 100 + i, (uint64_t)i);
		net_stats_add_qdisc(t, 100 + i, 1);
		net_stats_add_drops(t, name, (uint64_t)i * 2);
	}
	net_stats_sort(t);
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "vs1a2b_%d", i);
		config(&net, 1, host);
		assert_int_equal(vs_net_stats_of(t, &net, 0, &st, &err), 1);
		assert_int_equal(st.egress_bytes, (uint64_t)i);
		assert_int_equal(st.ingress_drops, (uint64_t)i + 1);
		assert_int_equal(st.egress_drops, (uint64_t)i * 2);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_any_order),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
