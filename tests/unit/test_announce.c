/* netns/announce.c: the frames of an address announcement, byte for byte
 * (a gratuitous ARP request, an unsolicited neighbour advertisement with
 * its ICMPv6 checksum), against frames written out by hand here and a
 * checksum computed independently (Python's sum over the pseudo-header). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "netns/nl-private.h"

static const uint8_t mac[6] = {0x02, 0x00, 0x5e, 0x00, 0x53, 0x01};

static void test_arp_frame(void **state)
{
	static const uint8_t ip4[4] = {192, 0, 2, 95};
	static const uint8_t want[VS_ANNOUNCE_ARP_LEN] = {
	    0x00, 0x01,				/* hardware: Ethernet */
	    0x08, 0x00,				/* protocol: IPv4 */
	    6,	  4,				/* address lengths */
	    0x00, 0x01,				/* request */
	    0x02, 0x00, 0x5e, 0x00, 0x53, 0x01, /* sender MAC */
	    192,  0,	2,    95,		/* sender IP */
	    0,	  0,	0,    0,    0,	  0,	/* target MAC: unknown */
	    192,  0,	2,    95,		/* target IP: the same */
	};
	uint8_t got[VS_ANNOUNCE_ARP_LEN + 1];

	memset(got, 0xaa, sizeof(got));
	vs_announce_arp_build(got, mac, ip4);
	assert_memory_equal(got, want, sizeof(want));
	assert_int_equal(got[VS_ANNOUNCE_ARP_LEN], 0xaa); /* nothing written past it */
}

static void test_na_frame(void **state)
{
	static const uint8_t ip6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 5};
	/* (one row per field, as the RFCs draw them) */
	/* clang-format off */
	static const uint8_t want[VS_ANNOUNCE_NA_LEN] = {
	    /* IPv6: version 6, payload 32, next header ICMPv6, hop limit 255 */
	    0x60, 0, 0, 0, 0, 32, 58, 255,
	    /* source: 2001:db8::5 */
	    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5,
	    /* destination: ff02::1 */
	    0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	    /* ICMPv6: type 136, code 0, checksum 0x4822, flags O */
	    136, 0, 0x48, 0x22, 0x20, 0, 0, 0,
	    /* target */
	    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5,
	    /* option 2 (target link-layer address), length 1 (8 bytes) */
	    2, 1, 0x02, 0x00, 0x5e, 0x00, 0x53, 0x01,
	};
	/* clang-format on */

	uint8_t got[VS_ANNOUNCE_NA_LEN];

	memset(got, 0xaa, sizeof(got));
	vs_announce_na_build(got, mac, ip6);
	assert_memory_equal(got, want, sizeof(want));
	/* A packet with its checksum in place sums to zero. */
	assert_int_equal(vs_icmp6_checksum(got, sizeof(got)), 0);
}

/* The checksum follows the addresses and the MAC (no constant in it), and
 * folds carries: an all-0xff address makes the sum overflow 16 bits many
 * times. */
static void test_na_checksum_varies(void **state)
{
	uint8_t a[VS_ANNOUNCE_NA_LEN], b[VS_ANNOUNCE_NA_LEN];
	uint8_t ip6[16], ones[6];

	memset(ip6, 0xff, sizeof(ip6));
	ip6[0] = 0x20;
	memset(ones, 0xff, sizeof(ones));
	vs_announce_na_build(a, mac, ip6);
	vs_announce_na_build(b, ones, ip6);
	assert_memory_not_equal(a + 42, b + 42, 2);
	assert_int_equal(vs_icmp6_checksum(a, sizeof(a)), 0);
	assert_int_equal(vs_icmp6_checksum(b, sizeof(b)), 0);
	/* A flipped bit anywhere in the message or the addresses shows. */
	for (size_t i = 8; i < sizeof(a); i++) {
		a[i] ^= 0x10;
		assert_int_not_equal(vs_icmp6_checksum(a, sizeof(a)), 0);
		a[i] ^= 0x10;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_arp_frame),
	    cmocka_unit_test(test_na_frame),
	    cmocka_unit_test(test_na_checksum_varies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
