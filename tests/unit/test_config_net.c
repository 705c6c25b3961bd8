/* lib/vs_config: the "net" member of config.json, of create requests and of
 * updates: round trips config -> JSON -> config, the rules of
 * vs_config_parse_net, and errors naming the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vs_config.h"
#include "lib/vs_util.h"

#define FULL_NET                                                                                   \
	"{\"interfaces\": [{\"name\": \"eth0\", \"model\": \"routed\", \"host_ifname\": "          \
	"\"vs1a2b3c4d5e0\", \"mac\": \"02:12:34:56:78:9A\", "                                      \
	"\"addresses\": [\"203.0.113.5\", \"2001:db8::5/128\"]}, {\"name\": \"eth1\", \"model\": " \
	"\"bridged\", \"bridge\": \"vsbr1a2b\", \"host_ifname\": \"vs1a2b3c4d5e1\", "              \
	"\"mac\": \"02:12:34:56:78:9b\", \"addresses\": "                                          \
	"[\"10.0.3.5\", \"fd00:3::5\"], \"gateway4\": \"10.0.3.1\", \"gateway6\": \"fe80::1\"}], " \
	"\"nameservers\": [\"10.0.3.1\", \"2001:db8::53\"], \"shaping\": {\"egress_rate\": "       \
	"\"10mbit\", \"egress_peak\": 20000000, \"egress_burst\": \"256K\", \"ingress_rate\": "    \
	"\"1mbps\"}}"

static char *config_text(const char *net)
{
	return xasprintf("{\"name\": \"web\", \"template\": \"debian\", \"privileged\": true, "
			 "\"init\": [\"/sbin/init\"], \"stop_signal\": \"SIGPWR\"%s%s}",
			 net ? ", \"net\": " : "", net ? net : "");
}

static void ip_is(const struct vs_ip *ip, const char *want)
{
	char buf[VS_IP_STRLEN];

	vs_format_ip(ip, true, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_full_round_trip(void **state)
{
	cleanup_free char *text = config_text(FULL_NET), *json = NULL, *json2 = NULL;
	struct vs_container_config cfg, back;
	struct vs_error err = {0};
	const struct vs_net_config *n = &cfg.net;

	(void)state;
	if (vs_config_parse(text, &cfg, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(n->nifaces, 2);
	assert_string_equal(n->ifaces[0].name, "eth0");
	assert_int_equal(n->ifaces[0].model, VS_NET_ROUTED);
	assert_int_equal(n->ifaces[0].mac[5], 0x9a);
	ip_is(&n->ifaces[0].addrs[0], "203.0.113.5/32");
	ip_is(&n->ifaces[0].addrs[1], "2001:db8::5/128");
	assert_int_equal(n->ifaces[1].model, VS_NET_BRIDGED);
	assert_string_equal(n->ifaces[1].bridge, "vsbr1a2b");
	ip_is(&n->ifaces[1].addrs[0], "10.0.3.5/24");
	ip_is(&n->ifaces[1].addrs[1], "fd00:3::5/64");
	ip_is(&n->ifaces[1].gateway4, "10.0.3.1/32");
	assert_int_equal(n->ifaces[1].gateway6.family, AF_INET6);
	assert_int_equal(n->nnameservers, 2);
	assert_int_equal(n->shaping.egress_rate, 10000000);
	assert_int_equal(n->shaping.egress_peak, 20000000);
	assert_int_equal(n->shaping.egress_burst, 256 * 1024);
	assert_int_equal(n->shaping.ingress_rate, 8000000);
	json = vs_config_to_json(&cfg);
	assert_non_null(strstr(json, "\"egress_rate\": \"10mbit\""));
	assert_non_null(strstr(json, "\"mac\": \"02:12:34:56:78:9a\""));
	if (vs_config_parse(json, &back, &err) < 0)
		fail_msg("%s\n%s", err.msg, json);
	assert_memory_equal(&back.net, &cfg.net, sizeof(cfg.net));
	json2 = vs_config_to_json(&back);
	assert_string_equal(json, json2);
	vs_config_free(&cfg);
	vs_config_free(&back);
}

static void test_no_net_no_member(void **state)
{
	cleanup_free char *text = config_text(NULL), *json = NULL;
	struct vs_container_config cfg;
	struct vs_error err = {0};

	(void)state;
	assert_int_equal(vs_config_parse(text, &cfg, &err), 0);
	json = vs_config_to_json(&cfg);
	assert_null(strstr(json, "\"net\""));
	vs_config_free(&cfg);
	/* Only nameservers: still emitted. */
	cfg.net.nnameservers = 1;
	vs_parse_ip("10.0.0.53", "t", true, &cfg.net.nameservers[0], &err);
	free(json);
	json = vs_config_to_json(&cfg);
	assert_non_null(strstr(json, "\"nameservers\""));
}

static int parse_create_net(const char *net, struct vs_net_config *out, struct vs_error *err)
{
	cleanup_json struct vs_json *v = NULL;

	if (vs_json_parse(net, &v, err) < 0)
		fail_msg("bad test JSON %s: %s", net, err->msg);
	return vs_config_parse_net(v, "net", out, err);
}

static void test_create_form(void **state)
{
	struct vs_net_config n;
	struct vs_error err = {0};
	static const uint8_t zero[6];

	(void)state;
	if (parse_create_net("{\"interfaces\": [{\"model\": \"routed\", \"addresses\": "
			     "[\"203.0.113.5\"]}, {\"model\": \"bridged\"}, {}]}",
			     &n, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(n.nifaces, 3);
	assert_string_equal(n.ifaces[0].name, "eth0");
	assert_string_equal(n.ifaces[1].name, "eth1");
	assert_string_equal(n.ifaces[2].name, "eth2");
	assert_int_equal(n.ifaces[2].model, VS_NET_ROUTED); /* the default */
	assert_string_equal(n.ifaces[1].bridge, "");	    /* vsd's own, named by the daemon */
	assert_string_equal(n.ifaces[0].host_ifname, "");
	assert_memory_equal(n.ifaces[0].mac, zero, 6);
	assert_int_equal(n.ifaces[1].naddrs, 0); /* allocated by the daemon */
	/* Names and host names are the daemon's in a create request. */
	assert_int_equal(parse_create_net("{\"interfaces\": [{\"name\": \"eth0\"}]}", &n, &err),
			 -1);
	assert_string_equal(err.msg, "net.interfaces[0].name: unknown field");
}

static void test_errors_name_the_field(void **state)
{
	static const struct {
		const char *net;
		const char *msg; /* the error starts with this */
	} cases[] = {
	    {"{\"interfaces\": [{\"addresses\": [\"203.0.113.5/24\"]}]}",
	     "net.interfaces[0].addresses[0]: '203.0.113.5/24': a routed address is a single host"},
	    {"{\"interfaces\": [{}, {\"addresses\": [\"300.1.2.3\"]}]}",
	     "net.interfaces[1].addresses[0]: '300.1.2.3' is not an IPv4 or IPv6 address"},
	    {"{\"interfaces\": [{\"addresses\": [\"203.0.113.5\"]}, {\"addresses\": "
	     "[\"203.0.113.5/32\"]}]}",
	     "net.interfaces[1].addresses[0]: 203.0.113.5 is given twice (also "
	     "net.interfaces[0].addresses[0])"},
	    {"{\"interfaces\": [{\"addresses\": [\"2001:db8::5\", \"2001:DB8::5\"]}]}",
	     "net.interfaces[0].addresses[1]: 2001:db8::5 is given twice"},
	    {"{\"interfaces\": [{\"model\": \"bridged\", \"addresses\": [\"10.0.3.5\"], "
	     "\"gateway4\": \"10.0.4.1\"}]}",
	     "net.interfaces[0].gateway4: 10.0.4.1 is outside the interface's IPv4 networks"},
	    {"{\"interfaces\": [{\"model\": \"bridged\", \"addresses\": [\"10.0.3.5\"], "
	     "\"gateway4\": \"10.0.3.5\"}]}",
	     "net.interfaces[0].gateway4: 10.0.3.5 is the interface's own address"},
	    {"{\"interfaces\": [{\"model\": \"bridged\", \"addresses\": [\"10.0.3.5\"], "
	     "\"gateway4\": \"fd00::1\"}]}",
	     "net.interfaces[0].gateway4: 'fd00::1' is not an IPv4 address"},
	    {"{\"interfaces\": [{\"model\": \"bridged\", \"gateway6\": \"fd00::1\"}]}",
	     "net.interfaces[0].gateway6: fd00::1 is outside the interface's IPv6 networks"},
	    {"{\"interfaces\": [{\"addresses\": [\"203.0.113.5\"], \"gateway4\": "
	     "\"203.0.113.1\"}]}",
	     "net.interfaces[0].gateway4: a routed interface takes no gateway"},
	    {"{\"interfaces\": [{\"model\": \"bridged\", \"addresses\": [\"10.0.3.0/24\"]}]}",
	     "net.interfaces[0].addresses[0]: '10.0.3.0/24' is the network's own or broadcast"},
	    {"{\"interfaces\": [{\"model\": \"bridged\", \"addresses\": [\"10.0.3.255\"]}]}",
	     "net.interfaces[0].addresses[0]: '10.0.3.255' is the network's own or broadcast"},
	    {"{\"interfaces\": [{\"model\": \"venet\"}]}",
	     "net.interfaces[0].model: expected \"routed\" or \"bridged\""},
	    {"{\"interfaces\": [{\"bridge\": \"br0\"}]}",
	     "net.interfaces[0].bridge: only a bridged interface joins a bridge"},
	    {"{\"interfaces\": [{\"model\": \"bridged\", \"bridge\": \"a-very-long-bridge\"}]}",
	     "net.interfaces[0].bridge: longer than 15 characters"},
	    {"{\"interfaces\": [{\"model\": \"bridged\", \"bridge\": \"br:0\"}]}",
	     "net.interfaces[0].bridge: 'br:0' has a character outside"},
	    {"{\"interfaces\": [{\"mac\": \"03:00:00:00:00:01\"}]}",
	     "net.interfaces[0].mac: '03:00:00:00:00:01' is a multicast address"},
	    {"{\"interfaces\": [{\"mac\": \"02:00:00:00:00\"}]}",
	     "net.interfaces[0].mac: '02:00:00:00:00' is not a MAC address"},
	    {"{\"interfaces\": [{\"mac\": \"00:00:00:00:00:00\"}]}",
	     "net.interfaces[0].mac: '00:00:00:00:00:00' is all zeros"},
	    {"{\"interfaces\": [{}, {}, {}, {}, {}, {}, {}, {}, {}]}",
	     "net.interfaces: more than 8 interfaces"},
	    {"{\"interfaces\": {}}", "net.interfaces: expected an array of interfaces, got object"},
	    {"{\"interfaces\": [{\"addresses\": \"203.0.113.5\"}]}",
	     "net.interfaces[0].addresses: expected an array of addresses"},
	    {"{\"nameservers\": [\"1.1.1.1\", \"8.8.8.8\", \"9.9.9.9\", \"1.0.0.1\"]}",
	     "net.nameservers: more than 3 addresses"},
	    {"{\"nameservers\": [\"1.1.1.1\", \"1.1.1.1\"]}",
	     "net.nameservers[1]: '1.1.1.1' is given twice (also net.nameservers[0])"},
	    {"{\"nameservers\": [\"1.1.1.1/32\"]}",
	     "net.nameservers[0]: '1.1.1.1/32': expected an address without a prefix"},
	    {"{\"shaping\": {\"egress_rate\": \"10mb\"}}",
	     "net.shaping.egress_rate: '10mb': unknown unit"},
	    {"{\"shaping\": {\"egress_rate\": \"10mbit\", \"egress_peak\": \"5mbit\"}}",
	     "net.shaping.egress_peak: 5mbit is below egress_rate (10mbit)"},
	    {"{\"shaping\": {\"ingress_peak\": \"5mbit\"}}",
	     "net.shaping.ingress_peak: needs ingress_rate"},
	    {"{\"shaping\": {\"ingress_burst\": \"64K\"}}",
	     "net.shaping.ingress_burst: needs ingress_rate"},
	    {"{\"shaping\": {\"egress_rate\": 0}}", "net.shaping.egress_rate: expected a rate"},
	    {"{\"shaping\": {\"egress_rate\": 100000000001}}",
	     "net.shaping.egress_rate: expected a rate"},
	    {"{\"shaping\": {\"egress_rate\": \"1mbit\", \"egress_burst\": \"1K\"}}",
	     "net.shaping.egress_burst: must be at least 2K"},
	    {"{\"shaping\": {\"egress_rate\": \"1mbit\", \"egress_burst\": \"2G\"}}",
	     "net.shaping.egress_burst: 2G is above 1G"},
	    {"{\"shaping\": {\"egress\": \"1mbit\"}}", "net.shaping.egress: unknown field"},
	    {"{\"routes\": []}", "net.routes: unknown field"},
	};
	(void)state;
	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		struct vs_net_config n;
		struct vs_error err = {0};
		if (parse_create_net(cases[i].net, &n, &err) == 0)
			fail_msg("accepted: %s", cases[i].net);
		assert_int_equal(err.kind, VS_EK_INVALID);
		if (strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)) != 0)
			fail_msg("%s\n  got:  %s\n  want: %s", cases[i].net, err.msg, cases[i].msg);
	}
}

static void test_full_form_required(void **state)
{
	static const struct {
		const char *iface;
		const char *msg;
	} cases[] = {
	    {"{\"model\": \"routed\", \"host_ifname\": \"vs0\", \"mac\": "
	     "\"02:00:00:00:00:01\"}",
	     "net.interfaces[0].name: required"},
	    {"{\"name\": \"eth0\", \"host_ifname\": \"vs0\", \"mac\": "
	     "\"02:00:00:00:00:01\"}",
	     "net.interfaces[0].model: required"},
	    {"{\"name\": \"eth0\", \"model\": \"routed\", \"mac\": "
	     "\"02:00:00:00:00:01\"}",
	     "net.interfaces[0].host_ifname: required"},
	    {"{\"name\": \"eth0\", \"model\": \"routed\", \"host_ifname\": \"vs0\"}",
	     "net.interfaces[0].mac: required"},
	    {"{\"name\": \"eth0\", \"model\": \"bridged\", \"host_ifname\": \"vs0\", "
	     "\"mac\": \"02:00:00:00:00:01\"}",
	     "net.interfaces[0].bridge: required"},
	    {"{\"name\": \"eth0/1\", \"model\": \"routed\", \"host_ifname\": \"vs0\", "
	     "\"mac\": \"02:00:00:00:00:01\"}",
	     "net.interfaces[0].name: 'eth0/1' has a character outside"},
	};
	(void)state;
	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		cleanup_free char *net = xasprintf("{\"interfaces\": [%s]}", cases[i].iface);
		cleanup_free char *text = config_text(net);
		struct vs_container_config cfg;
		struct vs_error err = {0};
		if (vs_config_parse(text, &cfg, &err) == 0)
			fail_msg("accepted: %s", cases[i].iface);
		if (strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)) != 0)
			fail_msg("%s\n  got:  %s\n  want: %s", cases[i].iface, err.msg,
				 cases[i].msg);
	}
	/* Two interfaces with one host name. */
	{
		cleanup_free char *text =
		    config_text("{\"interfaces\": [{\"name\": \"eth0\", \"model\": \"routed\", "
				"\"host_ifname\": "
				"\"vs0\", \"mac\": \"02:00:00:00:00:01\"}, {\"name\": "
				"\"eth1\", \"model\": \"routed\", \"host_ifname\": \"vs0\", "
				"\"mac\": \"02:00:00:00:00:02\"}]}");
		struct vs_container_config cfg;
		struct vs_error err = {0};
		assert_int_equal(vs_config_parse(text, &cfg, &err), -1);
		assert_string_equal(
		    err.msg, "net.interfaces[1].host_ifname: the same as net.interfaces[0]'s");
	}
}

static int parse_update(const char *text, const struct vs_net_shaping *sh,
			struct vs_config_update *u, struct vs_error *err)
{
	cleanup_json struct vs_json *body = NULL;
	struct vs_limits none = {0};

	if (vs_json_parse(text, &body, err) < 0)
		fail_msg("bad test JSON %s: %s", text, err->msg);
	return vs_config_parse_update_net(body, &none, sh, u, err);
}

static void test_update(void **state)
{
	struct vs_net_shaping base = {.egress_rate = 10000000,
				      .egress_peak = 20000000,
				      .ingress_rate = 1000000,
				      .ingress_burst = 65536};
	struct vs_config_update u;
	struct vs_error err = {0};

	(void)state;
	if (parse_update("{\"net\": {\"add\": [{\"address\": \"203.0.113.6\", \"interface\": "
			 "\"eth0\"}, {\"address\": \"10.0.3.7/25\"}], \"remove\": "
			 "[\"203.0.113.5\", \"2001:db8::5/128\"], \"shaping\": {\"egress_rate\": "
			 "\"15mbit\", \"ingress_rate\": null}, \"nameservers\": [\"1.1.1.1\"]}}",
			 &base, &u, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(u.nadd, 2);
	assert_int_equal(u.add[0].prefix, 0); /* the daemon picks by model */
	assert_string_equal(u.add_iface[0], "eth0");
	assert_int_equal(u.add[1].prefix, 25);
	assert_string_equal(u.add_iface[1], "");
	assert_int_equal(u.ndel, 2);
	assert_true(u.shaping_set);
	assert_int_equal(u.shaping.egress_rate, 15000000);
	assert_int_equal(u.shaping.egress_peak, 20000000);
	assert_int_equal(u.shaping.ingress_rate, 0);
	assert_int_equal(u.shaping.ingress_burst, 0); /* goes with its rate */
	assert_true(u.nameservers_set);
	assert_int_equal(u.nnameservers, 1);
	assert_false(u.ifaces_set);

	assert_int_equal(parse_update("{\"net\": {\"nameservers\": null}}", &base, &u, &err), 0);
	assert_true(u.nameservers_set);
	assert_int_equal(u.nnameservers, 0);
	assert_false(u.shaping_set);
	assert_int_equal(parse_update("{\"net\": {\"interfaces\": [{\"model\": \"bridged\"}]}}",
				      &base, &u, &err),
			 0);
	assert_true(u.ifaces_set);
	assert_int_equal(u.nifaces, 1);
	assert_string_equal(u.ifaces[0].name, "eth0");
	assert_int_equal(parse_update("{\"net\": {\"interfaces\": []}}", &base, &u, &err), 0);
	assert_true(u.ifaces_set);
	assert_int_equal(u.nifaces, 0);
	/* vs_config_parse_update: all-zero shaping as the base. */
	{
		cleanup_json struct vs_json *b = NULL;
		struct vs_limits none = {0};
		assert_int_equal(vs_json_parse("{\"net\": {\"shaping\": {\"egress_peak\": "
					       "\"5mbit\"}}}",
					       &b, &err),
				 0);
		assert_int_equal(vs_config_parse_update(b, &none, &u, &err), -1);
		assert_string_equal(err.msg, "net.shaping.egress_peak: needs egress_rate");
	}
}

static void test_update_errors(void **state)
{
	static const struct {
		const char *body;
		const char *msg;
	} cases[] = {
	    {"{\"net\": {}}", "net: nothing to change"},
	    {"{\"net\": {\"add\": [{\"address\": \"300.1.2.3\"}]}}",
	     "net.add[0].address: '300.1.2.3' is not an IPv4 or IPv6 address"},
	    {"{\"net\": {\"add\": [{\"interface\": \"eth0\"}]}}", "net.add[0].address: required"},
	    {"{\"net\": {\"add\": [\"203.0.113.6\"]}}", "net.add[0]: expected an object"},
	    {"{\"net\": {\"add\": [{\"address\": \"203.0.113.6\", \"iface\": \"eth0\"}]}}",
	     "net.add[0].iface: unknown field"},
	    {"{\"net\": {\"add\": [{\"address\": \"203.0.113.6\", \"interface\": \"eth 0\"}]}}",
	     "net.add[0].interface: 'eth 0' has a character outside"},
	    {"{\"net\": {\"add\": [{\"address\": \"203.0.113.6\"}, {\"address\": "
	     "\"203.0.113.6/32\"}]}}",
	     "net.add[1].address: '203.0.113.6/32' is given twice (also net.add[0])"},
	    {"{\"net\": {\"remove\": [\"203.0.113.5\", \"203.0.113.5\"]}}",
	     "net.remove[1]: '203.0.113.5' is given twice"},
	    {"{\"net\": {\"add\": [{\"address\": \"203.0.113.6\"}], \"remove\": "
	     "[\"203.0.113.6\"]}}",
	     "net.remove[0]: also in net.add[0]"},
	    {"{\"net\": {\"shaping\": {\"egress_peak\": \"5mbit\"}}}",
	     "net.shaping.egress_peak: 5mbit is below egress_rate (10mbit)"},
	    {"{\"net\": {\"shaping\": {\"egress_rate\": null, \"egress_peak\": \"5mbit\"}}}",
	     "net.shaping.egress_peak: needs egress_rate"},
	    {"{\"net\": {\"nameservers\": \"1.1.1.1\"}}",
	     "net.nameservers: expected an array of addresses"},
	    {"{\"net\": {\"interfaces\": [{\"addresses\": [\"203.0.113.5/24\"]}]}}",
	     "net.interfaces[0].addresses[0]: '203.0.113.5/24': a routed address"},
	    {"{\"net\": {\"interfaces\": [], \"add\": [{\"address\": \"203.0.113.6\"}]}}",
	     "net.interfaces: replaces the whole list"},
	    {"{\"net\": {\"flush\": true}}", "net.flush: unknown field"},
	};
	struct vs_net_shaping base = {.egress_rate = 10000000};
	(void)state;
	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		struct vs_config_update u;
		struct vs_error err = {0};
		if (parse_update(cases[i].body, &base, &u, &err) == 0)
			fail_msg("accepted: %s", cases[i].body);
		if (strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)) != 0)
			fail_msg("%s\n  got:  %s\n  want: %s", cases[i].body, err.msg,
				 cases[i].msg);
	}
}

static void test_mac(void **state)
{
	uint8_t mac[6];
	char buf[18];
	struct vs_error err = {0};

	(void)state;
	assert_int_equal(vs_parse_mac("02:AB:cd:00:01:ff", "--mac", mac, &err), 0);
	vs_format_mac(mac, buf, sizeof(buf));
	assert_string_equal(buf, "02:ab:cd:00:01:ff");
	assert_int_equal(vs_parse_mac("00:16:3e:00:00:01", "--mac", mac, &err), 0);
	assert_int_equal(vs_parse_mac("02-ab-cd-00-01-ff", "--mac", mac, &err), -1);
	assert_string_equal(
	    err.msg, "--mac: '02-ab-cd-00-01-ff' is not a MAC address like 02:00:5e:10:00:01");
	assert_int_equal(vs_parse_mac("02:ab:cd:00:01:fg", "--mac", mac, &err), -1);
	assert_int_equal(vs_parse_mac("02:ab:cd:00:01:ff:", "--mac", mac, &err), -1);
	assert_int_equal(vs_parse_mac("ff:ff:ff:ff:ff:ff", "--mac", mac, &err), -1);
	assert_string_equal(vs_net_model_name(VS_NET_ROUTED), "routed");
	assert_string_equal(vs_net_model_name(VS_NET_BRIDGED), "bridged");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_round_trip),    cmocka_unit_test(test_no_net_no_member),
	    cmocka_unit_test(test_create_form),	       cmocka_unit_test(test_errors_name_the_field),
	    cmocka_unit_test(test_full_form_required), cmocka_unit_test(test_update),
	    cmocka_unit_test(test_update_errors),      cmocka_unit_test(test_mac),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
