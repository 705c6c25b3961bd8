#include "lib/vs_validate.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
