/* vsctl's network flags (cli/net.c): local checks naming the flag, and the
 * "net" member they build for create and set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/vs_util.h"

/* Feed --name arg as getopt would. */
static int flag(const char *name, const char *arg, bool set, struct vc_net_args *a,
		struct vs_error *err)
{
	struct option opts[32];
	size_t n = vc_net_options(opts, 32, set);

	for (size_t i = 0; i < n; i++)
		if (strcmp(opts[i].name, name) == 0)
			return vc_net_opt(opts[i].val, arg, set, a, err);
	return 0;
}

static char *body(const struct vc_net_args *a, bool set)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);

	vs_jgen_obj_open(g);
	if (set)
		vc_net_gen_update(g, a);
	else
		vc_net_gen_create(g, a);
	vs_jgen_obj_close(g);
	return vs_jgen_steal(g);
}

static void test_create_body(void **state)
{
	static const char *const args[][2] = {
	    {"ip", "203.0.113.5"},     {"ip", "2001:db8::5"},	  {"net", "bridged:br0"},
	    {"ip", "10.0.3.5/24"},     {"gateway", "10.0.3.1"},	  {"mac", "02:00:00:00:00:01"},
	    {"net", "bridged"},	       {"nameserver", "1.1.1.1"}, {"egress-rate", "10mbit"},
	    {"ingress-burst", "256K"}, {"ingress-rate", "1gbit"},
	};
	struct vc_net_args a = {0};
	struct vs_error err = {0};
	cleanup_free char *b = NULL;

	(void)state;
	for (size_t i = 0; i < VS_ARRAY_SIZE(args); i++)
		if (flag(args[i][0], args[i][1], false, &a, &err) != 1)
			fail_msg("--%s %s: %s", args[i][0], args[i][1], err.msg);
	b = body(&a, false);
	assert_string_equal(
	    b,
	    "{\"net\":{\"interfaces\":[{\"model\":\"routed\",\"addresses\":[\"203.0.113.5\","
	    "\"2001:db8::5\"]},{\"model\":\"bridged\",\"bridge\":\"br0\",\"addresses\":[\"10.0."
	    "3.5/24\"],\"mac\":\"02:00:00:00:00:01\",\"gateway4\":\"10.0.3.1\"},{\"model\":"
	    "\"bridged\"}],\"nameservers\":[\"1.1.1.1\"],\"shaping\":{\"egress_rate\":\"10mbit\","
	    "\"ingress_rate\":\"1gbit\",\"ingress_burst\":\"256K\"}}}");
	/* No network flag: no member. */
	memset(&a, 0, sizeof(a));
	free(b);
	b = body(&a, false);
	assert_string_equal(b, "{}");
	/* --ip-add is set's only. */
	assert_int_equal(flag("ip-add", "203.0.113.6", false, &a, &err), 0);
}

static void test_set_body(void **state)
{
	struct vc_net_args a = {0};
	struct vs_error err = {0};
	cleanup_free char *b = NULL;

	(void)state;
	assert_int_equal(flag("ip-add", "203.0.113.6@eth1", true, &a, &err), 1);
	assert_int_equal(flag("ip-add", "10.0.3.9/25", true, &a, &err), 1);
	assert_int_equal(flag("ip-del", "203.0.113.5", true, &a, &err), 1);
	assert_int_equal(flag("egress-rate", "none", true, &a, &err), 1);
	assert_int_equal(flag("nameserver", "none", true, &a, &err), 1);
	assert_int_equal(vc_net_check(&a, &err), 0);
	b = body(&a, true);
	assert_string_equal(b, "{\"net\":{\"add\":[{\"address\":\"203.0.113.6\",\"interface\":"
			       "\"eth1\"},{\"address\":\"10.0.3.9/25\"}],\"remove\":[\"203.0.113."
			       "5\"],\"nameservers\":null,\"shaping\":{\"egress_rate\":null}}}");
	assert_int_equal(flag("net", "routed", true, &a, &err), 1);
	assert_int_equal(vc_net_check(&a, &err), VC_ERR_USAGE);
	/* --net none: an empty list. */
	memset(&a, 0, sizeof(a));
	assert_int_equal(flag("net", "none", true, &a, &err), 1);
	free(b);
	b = body(&a, true);
	assert_string_equal(b, "{\"net\":{\"interfaces\":[]}}");
}

static void test_refusals(void **state)
{
	static const struct {
		const char *flag, *arg;
		bool set;
		const char *msg;
	} cases[] = {
	    {"ip", "300.1.2.3", false, "--ip: '300.1.2.3' is not an IPv4 or IPv6 address"},
	    {"ip", "203.0.113.5/24", false, "--ip: '203.0.113.5/24': a routed address"},
	    {"egress-rate", "10mb", false,
	     "--egress-rate: '10mb': unknown unit (bit, kbit, mbit, gbit, bps, kbps, mbps, gbps)"},
	    {"egress-rate", "none", false, "--egress-rate: expected a rate"},
	    {"ingress-burst", "1x", false, "--ingress-burst: expected a size"},
	    {"ingress-peak", "0", false, "--ingress-peak: '0' is below 8kbit"},
	    {"net", "venet", false, "--net: expected routed, bridged or bridged:BRIDGE"},
	    {"net", "none", false, "--net: expected routed"},
	    {"net", "bridged:", false, "--net: must not be empty"},
	    {"net", "bridged:br/0", false, "--net: 'br/0' has a character outside"},
	    {"gateway", "10.0.3.1", false, "--gateway: give --net or --ip first"},
	    {"mac", "02:00:00:00:00:01", false, "--mac: give --net or --ip first"},
	    {"nameserver", "1.1.1.1/32", false, "--nameserver: '1.1.1.1/32': expected an address"},
	    {"nameserver", "127.0.0.1", false, "--nameserver: '127.0.0.1' is a loopback address"},
	    {"ip-add", "300.1.2.3@eth0", true, "--ip-add: '300.1.2.3' is not an IPv4"},
	    {"ip-add", "203.0.113.6@", true, "--ip-add: must not be empty"},
	    {"ip-del", "203.0.113.", true, "--ip-del: '203.0.113.' is not an IPv4"},
	};
	(void)state;
	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		struct vc_net_args a = {0};
		struct vs_error err = {0};
		if (flag(cases[i].flag, cases[i].arg, cases[i].set, &a, &err) != VC_ERR_USAGE)
			fail_msg("--%s %s accepted", cases[i].flag, cases[i].arg);
		if (strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)) != 0)
			fail_msg("--%s %s\n  got:  %s\n  want: %s", cases[i].flag, cases[i].arg,
				 err.msg, cases[i].msg);
	}
}

static void test_limits(void **state)
{
	struct vc_net_args a = {0};
	struct vs_error err = {0};

	(void)state;
	for (int i = 0; i < VS_NET_IFACES_MAX; i++)
		assert_int_equal(flag("net", "routed", false, &a, &err), 1);
	assert_int_equal(flag("net", "routed", false, &a, &err), VC_ERR_USAGE);
	assert_string_equal(err.msg, "--net: at most 8 interfaces");
	for (int i = 0; i < VS_NET_NAMESERVERS_MAX; i++)
		assert_int_equal(flag("nameserver", "1.1.1.1", false, &a, &err), 1);
	assert_int_equal(flag("nameserver", "1.1.1.2", false, &a, &err), VC_ERR_USAGE);
	assert_int_equal(flag("gateway", "10.0.0.1", false, &a, &err), 1);
	assert_int_equal(flag("gateway", "10.0.0.2", false, &a, &err), VC_ERR_USAGE);
	assert_string_equal(err.msg, "--gateway: interface 7 has an IPv4 gateway already");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_body),
	    cmocka_unit_test(test_set_body),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
