/* vs_validate: names, sizes, CPU amounts, signals. Pure functions, unit
 * tested. Every failure fills err with kind VS_EK_INVALID and a message that
 * names `what` (the field or argument being checked). */
#ifndef VS_VALIDATE_H
#define VS_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/vs_error.h"

#define VS_NAME_MAX	64
#define VS_HOSTNAME_MAX 64

/* Container and template names: 1..64 of [a-z0-9-], not starting with '-'.
 * (This excludes "", ".", "..", "/" and every path trick.) 0 or -1. */
int vs_validate_name(const char *name, const char *what, struct vs_error *err);

/* Hostnames: RFC 1123 labels of [A-Za-z0-9-] separated by dots, each 1..63,
 * not starting or ending with '-', total 1..64. 0 or -1. */
int vs_validate_hostname(const char *host, const char *what, struct vs_error *err);

/* Sizes: "512M", "2G", "1.5G", "1024", "64k", "512MiB", "2GB" (binary
 * multiples K, M, G, T). Result in bytes, > 0 and < 2^62. 0 or -1. */
int vs_parse_size(const char *s, const char *what, int64_t *bytes, struct vs_error *err);

/* Format bytes as the shortest exact human string ("512M", "1536K", "123"). */
void vs_format_size(int64_t bytes, char *buf, size_t len);

/* CPUs as a decimal: "1.5", "0.25", "2" -> thousandths (1500, 250, 2000).
 * At most 3 decimals; 0.01 .. 1024. 0 or -1. */
int vs_parse_cpus(const char *s, const char *what, int64_t *milli, struct vs_error *err);

/* Format thousandths of a CPU as a decimal string ("1.5"). */
void vs_format_cpus(int64_t milli, char *buf, size_t len);

/* CPU lists as the kernel takes them ("0-1", "0,2-5"): CPU numbers below
 * VS_CPUS_MAX, ranges ascending. The canonical form (sorted, merged: "0-2,5")
 * goes into canon (at least 64 bytes; a list whose canonical form is longer
 * is refused). 0 or -1. */
#define VS_CPUS_MAX 1024
int vs_parse_cpuset(const char *s, const char *what, char *canon, size_t len, struct vs_error *err);
/* The CPUs of a canonical or valid list as a bitmap of VS_CPUS_MAX bits;
 * returns how many are set, -1 when s is not a valid list. */
int vs_cpuset_bits(const char *s, uint64_t bits[VS_CPUS_MAX / 64]);

/* Decimal integer in [min, max] without sign tricks or trailing junk. */
int vs_parse_int(const char *s, const char *what, int64_t min, int64_t max, int64_t *out,
		 struct vs_error *err);

/* Signal names: "SIGTERM", "TERM", "SIGRTMIN+3", "15". 0 or -1. */
int vs_parse_signal(const char *s, const char *what, int *sig, struct vs_error *err);
/* Canonical name ("SIGRTMIN+3", "SIGTERM") into buf. */
void vs_format_signal(int sig, char *buf, size_t len);

/* IP addresses. An address with its prefix length; family 0 means "none".
 * Bytes in network order (the first 4 for AF_INET). */
struct vs_ip {
	int family; /* 0, AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t prefix; /* 0..32 or 0..128 */
};
/* Longest text of an address with its prefix ("ffff:...:ffff/128"). */
#define VS_IP_STRLEN 64

/* Parse "203.0.113.5", "203.0.113.5/24", "2001:db8::5", "2001:db8::5/64".
 * Without a prefix: 32 or 128 when host_default, else an error ("needs a
 * prefix"). Host bits are allowed (an interface address). Refuses the
 * unspecified, loopback, multicast and link-local addresses and
 * 255.255.255.255. 0 or -1 naming what. */
int vs_parse_ip(const char *s, const char *what, bool host_default, struct vs_ip *ip,
		struct vs_error *err);
/* Parse a network "10.0.3.0/24" (host bits must be zero). 0 or -1. */
int vs_parse_cidr(const char *s, const char *what, struct vs_ip *net, struct vs_error *err);
/* "203.0.113.5/32" (with_prefix) or "203.0.113.5" into buf (VS_IP_STRLEN). */
void vs_format_ip(const struct vs_ip *ip, bool with_prefix, char *buf, size_t len);
/* Same family and same address bytes (prefix ignored). */
bool vs_ip_equal(const struct vs_ip *a, const struct vs_ip *b);
/* a lies inside the network net (net's prefix). */
bool vs_ip_in_net(const struct vs_ip *a, const struct vs_ip *net);

/* Rates in bits per second as tc writes them: "500kbit", "10mbit", "1gbit",
 * "100bit", also "mbps"-style bytes ("1mbps" = 8 mbit) and plain numbers
 * (bits per second); k/m/g are powers of 1000 as in tc. Result from
 * VS_RATE_MIN (8 kbit) to 100 gbit. 0 or -1 naming what. */
#define VS_RATE_MIN 8000
int vs_parse_rate(const char *s, const char *what, int64_t *bps, struct vs_error *err);
/* Shortest exact rate string ("10mbit", "1500kbit", "123bit"). */
void vs_format_rate(int64_t bps, char *buf, size_t len);

/* Linux interface names: 1..15 characters (IFNAMSIZ - 1) of [A-Za-z0-9_.-],
 * not "." or "..", no '/', ':' or whitespace. 0 or -1 naming what. */
#define VS_IFNAME_MAX 15
int vs_validate_ifname(const char *name, const char *what, struct vs_error *err);

#endif
