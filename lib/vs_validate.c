#include "lib/vs_validate.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int vs_validate_name(const char *name, const char *what, struct vs_error *err)
{
	size_t len;

	if (name == NULL || name[0] == '\0')
		return vs_error_kind(err, VS_EK_INVALID, "%s: must not be empty", what);
	len = strlen(name);
	if (len > VS_NAME_MAX)
		return vs_error_kind(err, VS_EK_INVALID, "%s: longer than %d characters", what,
				     VS_NAME_MAX);
	if (name[0] == '-')
		return vs_error_kind(err, VS_EK_INVALID, "%s: must not start with '-'", what);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return vs_error_kind(err, VS_EK_INVALID,
					     "%s: '%s' has a character outside [a-z0-9-]", what,
					     name);
	}
	return 0;
}

int vs_validate_hostname(const char *host, const char *what, struct vs_error *err)
{
	size_t len, label = 0;

	if (host == NULL || host[0] == '\0')
		return vs_error_kind(err, VS_EK_INVALID, "%s: must not be empty", what);
	len = strlen(host);
	if (len > VS_HOSTNAME_MAX)
		return vs_error_kind(err, VS_EK_INVALID, "%s: longer than %d characters", what,
				     VS_HOSTNAME_MAX);
	for (size_t i = 0; i <= len; i++) {
		char c = host[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || host[i - 1] == '-')
				return vs_error_kind(err, VS_EK_INVALID,
						     "%s: '%s' is not a valid hostname", what,
						     host);
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-')
			return vs_error_kind(err, VS_EK_INVALID, "%s: '%s' is not a valid hostname",
					     what, host);
		if (label == 0 && c == '-')
			return vs_error_kind(err, VS_EK_INVALID, "%s: '%s' is not a valid hostname",
					     what, host);
		label++;
	}
	return 0;
}

/* Parse "123" or "1.5" without floating point: the whole part, and the
 * decimals (at most `decimals` of them) scaled by 10^decimals. The parts
 * stay apart so that a whole part up to INT64_MAX is representable. Returns
 * the position after the number or NULL. */
static const char *parse_fixed(const char *s, int decimals, int64_t *whole, int64_t *frac)
{
	int64_t w = 0, f = 0;
	int nd = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return NULL;
	for (; isdigit((unsigned char)*p); p++) {
		if (w > (INT64_MAX - 9) / 10)
			return NULL;
		w = w * 10 + (*p - '0');
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return NULL;
		for (; isdigit((unsigned char)*p); p++) {
			if (++nd > decimals)
				return NULL;
			f = f * 10 + (*p - '0');
		}
	}
	for (; nd < decimals; nd++)
		f *= 10;
	*whole = w;
	*frac = f;
	return p;
}

/* Sizes are below 2^62 bytes (vs_validate.h). */
#define VS_SIZE_LIMIT (INT64_C(1) << 62)

int vs_parse_size(const char *s, const char *what, int64_t *bytes, struct vs_error *err)
{
	static const char units[] = "KMGT";
	int64_t v, whole, frac, mult = 1;
	const char *p;

	if (s == NULL || (p = parse_fixed(s, 3, &whole, &frac)) == NULL)
		goto bad;
	if (*p != '\0') {
		const char *u = strchr(units, toupper((unsigned char)*p));
		if (u == NULL)
			goto bad;
		for (long i = 0; i <= u - units; i++)
			mult *= 1024;
		p++;
		/* "Gb" would read as gigabits: only "", "B" and "iB" follow a unit. */
		if (strcmp(p, "") != 0 && strcmp(p, "B") != 0 && strcmp(p, "iB") != 0)
			goto bad;
	}
	/* frac is in thousandths of a unit: frac * mult <= 999 * 2^40 cannot
	 * overflow, and a result that is not a whole number of bytes is refused. */
	if (whole > (VS_SIZE_LIMIT - 1) / mult)
		return vs_error_kind(err, VS_EK_INVALID, "%s: '%s' is too large", what, s);
	if ((frac * mult) % 1000 != 0)
		goto bad;
	v = whole * mult + frac * mult / 1000;
	if (v >= VS_SIZE_LIMIT)
		return vs_error_kind(err, VS_EK_INVALID, "%s: '%s' is too large", what, s);
	if (v <= 0)
		return vs_error_kind(err, VS_EK_INVALID, "%s: '%s' must be greater than 0", what,
				     s);
	*bytes = v;
	return 0;
bad:
	return vs_error_kind(err, VS_EK_INVALID, "%s: expected a size like \"512M\", got '%s'",
			     what, s ? s : "(null)");
}

void vs_format_size(int64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (u < 3 && bytes >= 1024 && bytes % 1024 == 0) {
		bytes /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRId64, bytes);
	else
		snprintf(buf, len, "%" PRId64 "%c", bytes, units[u]);
}

int vs_parse_cpus(const char *s, const char *what, int64_t *milli, struct vs_error *err)
{
	int64_t whole, frac;
	const char *p;

	if (s == NULL || (p = parse_fixed(s, 3, &whole, &frac)) == NULL || *p != '\0')
		return vs_error_kind(err, VS_EK_INVALID,
				     "%s: expected a number of CPUs like \"1.5\", got '%s'", what,
				     s ? s : "(null)");
	if (whole > 1024 || whole * 1000 + frac < 10 || whole * 1000 + frac > 1024 * 1000)
		return vs_error_kind(err, VS_EK_INVALID, "%s: '%s' is outside 0.01 .. 1024", what,
				     s);
	*milli = whole * 1000 + frac;
	return 0;
}

void vs_format_cpus(int64_t milli, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%" PRId64 ".%03" PRId64, milli / 1000, milli % 1000);
	/* Trim trailing zeros and a bare dot: 1.500 -> 1.5, 2.000 -> 2. */
	while (n > 0 && (size_t)n < len && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && (size_t)n < len && buf[n - 1] == '.')
		buf[--n] = '\0';
}

int vs_parse_int(const char *s, const char *what, int64_t min, int64_t max, int64_t *out,
		 struct vs_error *err)
{
	char *end = NULL;
	long long v;

	if (s == NULL ||
	    !(isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1]))))
		goto bad;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		goto bad;
	if (v < min || v > max)
		return vs_error_kind(err, VS_EK_INVALID,
				     "%s: %lld is outside %" PRId64 " .. %" PRId64, what, v, min,
				     max);
	*out = v;
	return 0;
bad:
	return vs_error_kind(err, VS_EK_INVALID, "%s: expected an integer, got '%s'", what,
			     s ? s : "(null)");
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},	    {"QUIT", SIGQUIT}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
    {"USR2", SIGUSR2}, {"TERM", SIGTERM},   {"PWR", SIGPWR},   {"CONT", SIGCONT}, {"STOP", SIGSTOP},
    {"ALRM", SIGALRM}, {"WINCH", SIGWINCH}, {"CHLD", SIGCHLD}, {"ABRT", SIGABRT},
};

int vs_parse_signal(const char *s, const char *what, int *sig, struct vs_error *err)
{
	const char *n = s;
	int64_t v;

	if (s == NULL || s[0] == '\0')
		goto bad;
	if (isdigit((unsigned char)s[0])) {
		if (vs_parse_int(s, what, 1, SIGRTMAX, &v, err) < 0)
			return -1;
		*sig = (int)v;
		return 0;
	}
	if (strncmp(n, "SIG", 3) == 0)
		n += 3;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (strcmp(n, signals[i].name) == 0) {
			*sig = signals[i].sig;
			return 0;
		}
	if (strncmp(n, "RTMIN", 5) == 0) {
		v = 0;
		if (n[5] == '+' && vs_parse_int(n + 6, what, 0, SIGRTMAX - SIGRTMIN, &v, err) < 0)
			return -1;
		if (n[5] != '\0' && n[5] != '+')
			goto bad;
		*sig = SIGRTMIN + (int)v;
		return 0;
	}
bad:
	return vs_error_kind(err, VS_EK_INVALID, "%s: unknown signal '%s'", what, s ? s : "(null)");
}

void vs_format_signal(int sig, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (signals[i].sig == sig) {
			snprintf(buf, len, "SIG%s", signals[i].name);
			return;
		}
	if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
		if (sig == SIGRTMIN)
			snprintf(buf, len, "SIGRTMIN");
		else
			snprintf(buf, len, "SIGRTMIN+%d", sig - SIGRTMIN);
		return;
	}
	snprintf(buf, len, "%d", sig);
}

/* One "N" or "N-M" item of a CPU list into bits; the end of it in *end. */
static bool cpuset_item(const char *s, const char **end, uint64_t *bits)
{
	char *e;
	long a, b;

	if (!isdigit((unsigned char)*s))
		return false;
	a = strtol(s, &e, 10);
	b = a;
	if (*e == '-') {
		if (!isdigit((unsigned char)e[1]))
			return false;
		b = strtol(e + 1, &e, 10);
	}
	if (a < 0 || b < a || b >= VS_CPUS_MAX)
		return false;
	for (long i = a; i <= b; i++)
		bits[i / 64] |= UINT64_C(1) << (i % 64);
	*end = e;
	return true;
}

int vs_cpuset_bits(const char *s, uint64_t bits[VS_CPUS_MAX / 64])
{
	const char *p = s;
	int n = 0;

	memset(bits, 0, VS_CPUS_MAX / 8);
	if (s == NULL || *s == '\0')
		return -1;
	for (;;) {
		if (!cpuset_item(p, &p, bits))
			return -1;
		if (*p == '\0')
			break;
		if (*p++ != ',')
			return -1;
	}
	for (int i = 0; i < VS_CPUS_MAX / 64; i++)
		n += __builtin_popcountll(bits[i]);
	return n;
}

static bool cpu_bit(const uint64_t *bits, int i)
{
	return i < VS_CPUS_MAX && (bits[i / 64] >> (i % 64)) & 1;
}

int vs_parse_cpuset(const char *s, const char *what, char *canon, size_t len, struct vs_error *err)
{
	uint64_t bits[VS_CPUS_MAX / 64];
	size_t off = 0;

	if (vs_cpuset_bits(s, bits) < 0)
		return vs_error_kind(err, VS_EK_INVALID,
				     "%s: expected a CPU list like \"0-1\" or \"0,2\" (CPUs below "
				     "%d), got '%s'",
				     what, VS_CPUS_MAX, s ? s : "(null)");
	canon[0] = '\0';
	for (int i = 0; i < VS_CPUS_MAX; i++) {
		int j = i;
		if (!cpu_bit(bits, i))
			continue;
		while (cpu_bit(bits, j + 1))
			j++;
		int n = j > i ? snprintf(canon + off, len - off, "%s%d-%d", off ? "," : "", i, j)
			      : snprintf(canon + off, len - off, "%s%d", off ? "," : "", i);
		if (n < 0 || (size_t)n >= len - off)
			return vs_error_kind(err, VS_EK_INVALID, "%s: '%s' is too long", what, s);
		off += (size_t)n;
		i = j;
	}
	return 0;
}

/* ---- IP addresses ------------------------------------------------------ */

static size_t ip_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* Addresses no interface may carry, with the reason, or NULL. */
static const char *ip_unusable(const struct vs_ip *ip)
{
	static const uint8_t zero[16];
	const uint8_t *a = ip->addr;

	if (ip->family == AF_INET) {
		if (a[0] == 0)
			return "the unspecified network (0.0.0.0/8)";
		if (a[0] == 127)
			return "a loopback address";
		if (a[0] >= 224 && a[0] <= 239)
			return "a multicast address";
		if (a[0] == 169 && a[1] == 254)
			return "a link-local address";
		if (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255)
			return "the broadcast address";
		return NULL;
	}
	if (memcmp(a, zero, 16) == 0)
		return "the unspecified address";
	if (memcmp(a, zero, 15) == 0 && a[15] == 1)
		return "the loopback address";
	if (a[0] == 0xff)
		return "a multicast address";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return "a link-local address";
	return NULL;
}

/* "ADDR" or "ADDR/PREFIX" into ip; *has_prefix says whether one was
 * given (ip->prefix is the family's maximum when not). 0 or -1. */
static int ip_text(const char *s, const char *what, struct vs_ip *ip, bool *has_prefix,
		   struct vs_error *err)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *slash;
	size_t alen;
	int64_t prefix;

	memset(ip, 0, sizeof(*ip));
	if (s == NULL)
		return vs_error_kind(err, VS_EK_INVALID, "%s: expected an address", what);
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(buf))
		goto bad;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	/* inet_pton refuses leading zeros in IPv4 ("010.0.0.1" would read as
	 * octal to some tools), spaces and trailing junk. */
	if (inet_pton(AF_INET, buf, ip->addr) == 1)
		ip->family = AF_INET;
	else if (strchr(buf, ':') != NULL && inet_pton(AF_INET6, buf, ip->addr) == 1)
		ip->family = AF_INET6;
	else
		goto bad;
	ip->prefix = ip->family == AF_INET ? 32 : 128;
	*has_prefix = slash != NULL;
	if (slash == NULL)
		return 0;
	/* The prefix: decimal digits only, no sign, no leading zero. */
	if (!isdigit((unsigned char)slash[1]) || (slash[1] == '0' && slash[2] != '\0') ||
	    strlen(slash + 1) > 3 || strspn(slash + 1, "0123456789") != strlen(slash + 1))
		return vs_error_kind(err, VS_EK_INVALID,
				     "%s: '%s': expected a prefix length after '/'", what, s);
	prefix = strtol(slash + 1, NULL, 10);
	if (prefix > ip->prefix)
		return vs_error_kind(err, VS_EK_INVALID,
				     "%s: '%s': prefix length %" PRId64 " is above %d", what, s,
				     prefix, ip->prefix);
	ip->prefix = (uint8_t)prefix;
	return 0;
bad:
	return vs_error_kind(err, VS_EK_INVALID, "%s: '%s' is not an IPv4 or IPv6 address", what,
			     s);
}

int vs_parse_ip(const char *s, const char *what, bool host_default, struct vs_ip *ip,
		struct vs_error *err)
{
	struct vs_ip v;
	const char *why;
	bool has_prefix;

	if (ip_text(s, what, &v, &has_prefix, err) < 0)
		return -1;
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (v.family == AF_INET6 && memcmp(v.addr, v4mapped, 12) == 0)
		return vs_error_kind(err, VS_EK_INVALID,
				     "%s: '%s' is an IPv4-mapped IPv6 address; write it as IPv4 "
				     "(%u.%u.%u.%u)",
				     what, s, v.addr[12], v.addr[13], v.addr[14], v.addr[15]);
	if ((why = ip_unusable(&v)) != NULL)
		return vs_error_kind(err, VS_EK_INVALID, "%s: '%s' is %s", what, s, why);
	if (!has_prefix && !host_default)
		return vs_error_kind(err, VS_EK_INVALID, "%s: '%s' needs a prefix length (%s)",
				     what, s, v.family == AF_INET ? "/24" : "/64");
	if (has_prefix && v.prefix == 0)
		return vs_error_kind(err, VS_EK_INVALID,
				     "%s: '%s': prefix length 0 is not an interface's network",
				     what, s);
	*ip = v;
	return 0;
}

int vs_parse_cidr(const char *s, const char *what, struct vs_ip *net, struct vs_error *err)
{
	struct vs_ip v, base;
	bool has_prefix;
	char buf[VS_IP_STRLEN];

	if (ip_text(s, what, &v, &has_prefix, err) < 0)
		return -1;
	if (!has_prefix)
		return vs_error_kind(err, VS_EK_INVALID,
				     "%s: '%s' needs a prefix length (a network like %s)", what, s,
				     v.family == AF_INET ? "10.0.3.0/24" : "fd00::/64");
	base = v;
	for (size_t i = 0; i < ip_len(v.family); i++) {
		int keep = (int)v.prefix - (int)i * 8;
		base.addr[i] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
	}
	if (!vs_ip_equal(&v, &base)) {
		vs_format_ip(&base, true, buf, sizeof(buf));
		return vs_error_kind(err, VS_EK_INVALID,
				     "%s: '%s' has host bits set (the network is %s)", what, s,
				     buf);
	}
	*net = v;
	return 0;
}

void vs_format_ip(const struct vs_ip *ip, bool with_prefix, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (ip->family != AF_INET && ip->family != AF_INET6) {
		snprintf(buf, len, "-");
		return;
	}
	inet_ntop(ip->family, ip->addr, a, sizeof(a));
	if (with_prefix)
		snprintf(buf, len, "%s/%u", a, ip->prefix);
	else
		snprintf(buf, len, "%s", a);
}

bool vs_ip_equal(const struct vs_ip *a, const struct vs_ip *b)
{
	return a->family != 0 && a->family == b->family &&
	       memcmp(a->addr, b->addr, ip_len(a->family)) == 0;
}

bool vs_ip_in_net(const struct vs_ip *a, const struct vs_ip *net)
{
	size_t whole = net->prefix / 8;
	int rest = net->prefix % 8;

	if (a->family == 0 || a->family != net->family || net->prefix > ip_len(net->family) * 8)
		return false;
	if (memcmp(a->addr, net->addr, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a->addr[whole] & mask) == (net->addr[whole] & mask);
}

/* ---- rates --------------------------------------------------------------- */

#define VS_RATE_MAX (INT64_C(100) * 1000 * 1000 * 1000)

static const struct {
	const char *unit;
	int64_t mult; /* bits per second */
} rate_units[] = {
    {"bit", 1},
    {"kbit", 1000},
    {"mbit", 1000 * 1000},
    {"gbit", 1000 * 1000 * 1000},
    {"bps", 8},
    {"kbps", 8 * 1000},
    {"mbps", 8 * 1000 * 1000},
    {"gbps", INT64_C(8) * 1000 * 1000 * 1000},
};

int vs_parse_rate(const char *s, const char *what, int64_t *bps, struct vs_error *err)
{
	int64_t whole, frac, mult = 0;
	const char *p;

	if (s == NULL || (p = parse_fixed(s, 3, &whole, &frac)) == NULL) {
		if (s != NULL && strspn(s, "0123456789") > 15)
			goto large;
		return vs_error_kind(err, VS_EK_INVALID,
				     "%s: expected a rate like \"10mbit\", got '%s'", what,
				     s ? s : "(null)");
	}
	if (*p == '\0')
		mult = 1;
	for (size_t i = 0; i < sizeof(rate_units) / sizeof(rate_units[0]) && mult == 0; i++)
		if (strcasecmp(p, rate_units[i].unit) == 0)
			mult = rate_units[i].mult;
	if (mult == 0)
		return vs_error_kind(err, VS_EK_INVALID,
				     "%s: '%s': unknown unit (bit, kbit, mbit, gbit, bps, kbps, "
				     "mbps, gbps)",
				     what, s);
	if (whole > VS_RATE_MAX / mult)
		goto large;
	if ((frac * mult) % 1000 != 0)
		return vs_error_kind(err, VS_EK_INVALID, "%s: '%s' is not a whole number of bits",
				     what, s);
	*bps = whole * mult + frac * mult / 1000;
	if (*bps > VS_RATE_MAX)
		goto large;
	/* Below a kilobyte per second no shaper keeps time (TBF's byte
	 * clock and nft's limit both work in whole bytes per second). */
	if (*bps < VS_RATE_MIN)
		return vs_error_kind(err, VS_EK_INVALID, "%s: '%s' is below 8kbit", what, s);
	return 0;
large:
	return vs_error_kind(err, VS_EK_INVALID, "%s: '%s' is above 100gbit", what, s);
}

void vs_format_rate(int64_t bps, char *buf, size_t len)
{
	static const char *const units[] = {"bit", "kbit", "mbit", "gbit"};
	int u = 0;

	while (u < 3 && bps >= 1000 && bps % 1000 == 0) {
		bps /= 1000;
		u++;
	}
	snprintf(buf, len, "%" PRId64 "%s", bps, units[u]);
}

/* ---- interface names ------------------------------------------------------ */

int vs_validate_ifname(const char *name, const char *what, struct vs_error *err)
{
	size_t len;

	if (name == NULL || name[0] == '\0')
		return vs_error_kind(err, VS_EK_INVALID, "%s: must not be empty", what);
	len = strlen(name);
	if (len > VS_IFNAME_MAX)
		return vs_error_kind(err, VS_EK_INVALID, "%s: '%s' is longer than %d characters",
				     what, name, VS_IFNAME_MAX);
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return vs_error_kind(err, VS_EK_INVALID, "%s: '%s' is not an interface name", what,
				     name);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!isalnum((unsigned char)c) && c != '_' && c != '.' && c != '-')
			return vs_error_kind(err, VS_EK_INVALID,
					     "%s: '%s' has a character outside [A-Za-z0-9_.-]",
					     what, name);
	}
	return 0;
}
