/* lib/vs_validate: IP addresses and networks, rates and interface names
 * (the networking inputs), with their format/parse round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lib/vs_util.h"
#include "lib/vs_validate.h"

/* A failure must have kind INVALID, name `what` and hold `part`. */
static void check_refusal(const char *input, const struct vs_error *err, const char *what,
			  const char *part)
{
	if (err->kind != VS_EK_INVALID)
		fail_msg("'%s': error kind %d, not VS_EK_INVALID", input, err->kind);
	if (strncmp(err->msg, what, strlen(what)) != 0)
		fail_msg("'%s': message '%s' does not start with '%s'", input, err->msg, what);
	if (part != NULL && strstr(err->msg, part) == NULL)
		fail_msg("'%s': message '%s' does not say '%s'", input, err->msg, part);
}

static void test_parse_ip(void **state)
{
	static const struct {
		const char *s;
		bool host_default;
		const char *canon; /* with prefix; NULL: refused */
		const char *why;   /* part of the refusal */
	} cases[] = {
	    {"203.0.113.5", true, "203.0.113.5/32", NULL},
	    {"203.0.113.5/24", false, "203.0.113.5/24", NULL},
	    {"10.0.3.5/32", false, "10.0.3.5/32", NULL},
	    {"2001:db8::5", true, "2001:db8::5/128", NULL},
	    {"2001:DB8:0:0::5/64", false, "2001:db8::5/64", NULL},
	    {"2001:db8::5/128", true, "2001:db8::5/128", NULL},
	    {"300.1.2.3", true, NULL, "'300.1.2.3' is not an IPv4 or IPv6 address"},
	    {"1.2.3", true, NULL, "is not an IPv4"},
	    {"1.2.3.4.5", true, NULL, "is not an IPv4"},
	    {"01.2.3.4", true, NULL, "is not an IPv4"}, /* leading zero: octal elsewhere */
	    {"1.2.3.004", true, NULL, "is not an IPv4"},
	    {" 1.2.3.4", true, NULL, "is not an IPv4"},
	    {"1.2.3.4 ", true, NULL, "is not an IPv4"},
	    {"1.2.3.4/ 24", true, NULL, "expected a prefix length"},
	    {"", true, NULL, "is not an IPv4"},
	    {"/24", true, NULL, "is not an IPv4"},
	    {"1.2.3.4/", true, NULL, "expected a prefix length after '/'"},
	    {"1.2.3.4/33", true, NULL, "prefix length 33 is above 32"},
	    {"1.2.3.4/300", true, NULL, "prefix length 300 is above 32"},
	    {"1.2.3.4/1234", true, NULL, "expected a prefix length"},
	    {"1.2.3.4/024", true, NULL, "expected a prefix length"},
	    {"1.2.3.4/-1", true, NULL, "expected a prefix length"},
	    {"1.2.3.4/+8", true, NULL, "expected a prefix length"},
	    {"1.2.3.4/0", true, NULL, "prefix length 0"},
	    {"1.2.3.4/24/1", true, NULL, "expected a prefix length"},
	    {"2001:db8::5/129", true, NULL, "prefix length 129 is above 128"},
	    {"1.2.3.4", false, NULL, "needs a prefix length (/24)"},
	    {"2001:db8::1", false, NULL, "needs a prefix length (/64)"},
	    {"::ffff:1.2.3.4", true, NULL, "IPv4-mapped IPv6 address; write it as IPv4 (1.2.3.4)"},
	    {"0.0.0.0", true, NULL, "unspecified"},
	    {"0.1.2.3", true, NULL, "unspecified"},
	    {"::", true, NULL, "unspecified"},
	    {"127.0.0.1", true, NULL, "loopback"},
	    {"::1", true, NULL, "loopback"},
	    {"224.0.0.1", true, NULL, "multicast"},
	    {"239.1.1.1", true, NULL, "multicast"},
	    {"ff02::1", true, NULL, "multicast"},
	    {"169.254.0.1", true, NULL, "link-local"},
	    {"fe80::1", true, NULL, "link-local"},
	    {"febf::1", true, NULL, "link-local"},
	    {"255.255.255.255", true, NULL, "broadcast"},
	    {"hello", true, NULL, "is not an IPv4"},
	    {"2001:db8::5%eth0", true, NULL, "is not an IPv4"},
	    {"1:2:3:4:5:6:7:8:9", true, NULL, "is not an IPv4"},
	};
	(void)state;
	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		struct vs_error err = {0};
		struct vs_ip ip;
		char buf[VS_IP_STRLEN];
		int r = vs_parse_ip(cases[i].s, "--ip", cases[i].host_default, &ip, &err);
		if (cases[i].canon == NULL) {
			if (r == 0)
				fail_msg("'%s' accepted", cases[i].s);
			check_refusal(cases[i].s, &err, "--ip: ", cases[i].why);
			continue;
		}
		if (r != 0)
			fail_msg("'%s' refused: %s", cases[i].s, err.msg);
		vs_format_ip(&ip, true, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].canon);
	}
}

static void test_exact_messages(void **state)
{
	struct vs_error err = {0};
	struct vs_ip ip;
	int64_t v;

	(void)state;
	assert_int_equal(vs_parse_ip("300.1.2.3", "--ip", true, &ip, &err), -1);
	assert_string_equal(err.msg, "--ip: '300.1.2.3' is not an IPv4 or IPv6 address");
	assert_int_equal(vs_parse_rate("10mb", "--egress-rate", &v, &err), -1);
	assert_string_equal(err.msg, "--egress-rate: '10mb': unknown unit (bit, kbit, mbit, gbit, "
				     "bps, kbps, mbps, gbps)");
}

static void test_parse_cidr(void **state)
{
	static const struct {
		const char *s;
		const char *canon;
		const char *why;
	} cases[] = {
	    {"10.0.3.0/24", "10.0.3.0/24", NULL},
	    {"0.0.0.0/0", "0.0.0.0/0", NULL},
	    {"192.168.0.0/16", "192.168.0.0/16", NULL},
	    {"10.0.3.128/25", "10.0.3.128/25", NULL},
	    {"2001:db8::/32", "2001:db8::/32", NULL},
	    {"fd00:1::/64", "fd00:1::/64", NULL},
	    {"10.0.3.5/24", NULL, "has host bits set (the network is 10.0.3.0/24)"},
	    {"10.0.3.129/25", NULL, "the network is 10.0.3.128/25"},
	    {"2001:db8::1/64", NULL, "the network is 2001:db8::/64"},
	    {"10.0.3.0", NULL, "needs a prefix length"},
	    {"10.0.3.0/33", NULL, "above 32"},
	    {"10.0.3.0/", NULL, "expected a prefix length"},
	    {"10.0.3/24", NULL, "is not an IPv4"},
	};
	(void)state;
	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		struct vs_error err = {0};
		struct vs_ip net;
		char buf[VS_IP_STRLEN];
		int r = vs_parse_cidr(cases[i].s, "--nat", &net, &err);
		if (cases[i].canon == NULL) {
			if (r == 0)
				fail_msg("'%s' accepted", cases[i].s);
			check_refusal(cases[i].s, &err, "--nat: ", cases[i].why);
			continue;
		}
		if (r != 0)
			fail_msg("'%s' refused: %s", cases[i].s, err.msg);
		vs_format_ip(&net, true, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].canon);
	}
}

static struct vs_ip ip_of(const char *s)
{
	struct vs_ip ip;
	struct vs_error err = {0};

	if (vs_parse_ip(s, "t", true, &ip, &err) < 0 && vs_parse_cidr(s, "t", &ip, &err) < 0)
		fail_msg("%s: %s", s, err.msg);
	return ip;
}

static void test_ip_relations(void **state)
{
	struct vs_ip a = ip_of("10.0.3.5/24"), b = ip_of("10.0.3.5/32"), c = ip_of("10.0.3.6");
	struct vs_ip net = ip_of("10.0.3.0/24"), net25 = ip_of("10.0.3.128/25");
	struct vs_ip v6 = ip_of("2001:db8::5"), v6net = ip_of("2001:db8::/64");
	struct vs_ip all = ip_of("0.0.0.0/0"), zero = {0};
	char buf[VS_IP_STRLEN];

	(void)state;
	assert_true(vs_ip_equal(&a, &b)); /* prefix ignored */
	assert_false(vs_ip_equal(&a, &c));
	assert_false(vs_ip_equal(&a, &v6));
	assert_false(vs_ip_equal(&zero, &zero));
	assert_true(vs_ip_in_net(&a, &net));
	assert_true(vs_ip_in_net(&c, &net));
	assert_false(vs_ip_in_net(&a, &net25));
	assert_true(vs_ip_in_net(&a, &all));
	assert_false(vs_ip_in_net(&v6, &net));
	assert_true(vs_ip_in_net(&v6, &v6net));
	assert_false(vs_ip_in_net(&a, &v6net));
	assert_true(vs_ip_in_net(&a, &a)); /* an interface address is its own network */
	vs_format_ip(&a, false, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.3.5");
	vs_format_ip(&zero, true, buf, sizeof(buf));
	assert_string_equal(buf, "-");
}

static void test_parse_rate(void **state)
{
	static const struct {
		const char *s;
		int64_t bps; /* -1: refused */
		const char *why;
	} cases[] = {
	    {"500kbit", 500000, NULL},
	    {"10mbit", 10000000, NULL},
	    {"10Mbit", 10000000, NULL},
	    {"1gbit", 1000000000, NULL},
	    {"8000bit", 8000, NULL},
	    {"8kbit", 8000, NULL},
	    {"100bit", -1, "is below 8kbit"},
	    {"7999", -1, "is below 8kbit"},
	    {"1mbps", 8000000, NULL},
	    {"1kbps", 8000, NULL},
	    {"2bps", -1, "is below 8kbit"},
	    {"1gbps", 8000000000, NULL},
	    {"1.5mbit", 1500000, NULL},
	    {"12345", 12345, NULL},
	    {"100gbit", 100000000000, NULL},
	    {"12.5gbps", 100000000000, NULL},
	    {"0", -1, "is below 8kbit"},
	    {"0mbit", -1, "is below 8kbit"},
	    {"0.000kbit", -1, "is below 8kbit"},
	    {"101gbit", -1, "is above 100gbit"},
	    {"100000000001", -1, "is above 100gbit"},
	    {"99999999999999999999999", -1, "is above 100gbit"},
	    {"9223372036854775807gbit", -1, "is above 100gbit"},
	    {"10mb", -1, "unknown unit"},
	    {"10m", -1, "unknown unit"},
	    {"10 mbit", -1, "unknown unit"},
	    {"10tbit", -1, "unknown unit"},
	    {"1.0001mbit", -1, "expected a rate"},
	    {"1.5bit", -1, "not a whole number of bits"},
	    {"-1mbit", -1, "expected a rate"},
	    {"", -1, "expected a rate"},
	    {"mbit", -1, "expected a rate"},
	    {" 10mbit", -1, "expected a rate"},
	};
	(void)state;
	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		struct vs_error err = {0};
		int64_t v = 0;
		int r = vs_parse_rate(cases[i].s, "--egress-rate", &v, &err);
		if (cases[i].bps < 0) {
			if (r == 0)
				fail_msg("'%s' accepted as %" PRId64, cases[i].s, v);
			check_refusal(cases[i].s, &err, "--egress-rate: ", cases[i].why);
			continue;
		}
		if (r != 0)
			fail_msg("'%s' refused: %s", cases[i].s, err.msg);
		assert_int_equal(v, cases[i].bps);
	}
}

static void test_format_rate(void **state)
{
	static const struct {
		int64_t bps;
		const char *s;
	} cases[] = {
	    {10000000, "10mbit"},  {1500000, "1500kbit"},     {12345, "12345bit"}, {8000, "8kbit"},
	    {8000000000, "8gbit"}, {100000000000, "100gbit"}, {8001, "8001bit"},
	};
	(void)state;
	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		char buf[32];
		int64_t back = 0;
		struct vs_error err = {0};
		vs_format_rate(cases[i].bps, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].s);
		assert_int_equal(vs_parse_rate(buf, "r", &back, &err), 0);
		assert_int_equal(back, cases[i].bps);
	}
}

static void test_ifname(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
	    {"eth0", true},
	    {"vsbr1a2b", true},
	    {"br-lan.10", true},
	    {"a_b", true},
	    {"123456789012345", true},
	    {"1234567890123456", false},
	    {"", false},
	    {".", false},
	    {"..", false},
	    {"eth0:1", false},
	    {"a/b", false},
	    {"a b", false},
	    {"eth\t0", false},
	    {"\xc3\xa9th0", false},
	};
	(void)state;
	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		struct vs_error err = {0};
		int r = vs_validate_ifname(cases[i].s, "--net", &err);
		if (cases[i].ok && r != 0)
			fail_msg("'%s' refused: %s", cases[i].s, err.msg);
		if (!cases[i].ok) {
			if (r == 0)
				fail_msg("'%s' accepted", cases[i].s);
			check_refusal(cases[i].s, &err, "--net: ", NULL);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_ip),   cmocka_unit_test(test_exact_messages),
	    cmocka_unit_test(test_parse_cidr), cmocka_unit_test(test_ip_relations),
	    cmocka_unit_test(test_parse_rate), cmocka_unit_test(test_format_rate),
	    cmocka_unit_test(test_ifname),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
