/* lib/vs_validate: table tests of names, hostnames, sizes, CPUs, integers
 * and signals, and the format/parse round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "lib/vs_util.h"
#include "lib/vs_validate.h"

#define KiB INT64_C(1024)
#define MiB (KiB * 1024)
#define GiB (MiB * 1024)
#define TiB (GiB * 1024)

/* A failure must have kind INVALID and a message naming `what`. */
static void check_refusal(const char *input, const struct vs_error *err, const char *what)
{
	if (err->kind != VS_EK_INVALID)
		fail_msg("'%s': error kind %d, not VS_EK_INVALID", input, err->kind);
	if (strstr(err->msg, what) == NULL)
		fail_msg("'%s': message '%s' does not name '%s'", input, err->msg, what);
}

static void test_names(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
	    {"a", true},
	    {"web1", true},
	    {"0", true},
	    {"0-a--", true},
	    {"a-b-c", true},
	    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true},	  /* 64 */
	    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false}, /* 65 */
	    {"", false},
	    {".", false},
	    {"..", false},
	    {"/", false},
	    {"a/b", false},
	    {"../x", false},
	    {"-x", false},
	    {"-", false},
	    {"Web1", false},
	    {"a_b", false},
	    {"a b", false},
	    {"a.b", false},
	    {"x;y", false},
	    {"a\n", false},
	    {"\xc3\xa9t\xc3\xa9", false}, /* UTF-8 */
	};

	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		struct vs_error err = {0};
		int r = vs_validate_name(cases[i].s, "name", &err);

		if (cases[i].ok && r != 0)
			fail_msg("'%s' refused: %s", cases[i].s, err.msg);
		if (!cases[i].ok && r == 0)
			fail_msg("'%s' accepted", cases[i].s);
		if (!cases[i].ok)
			check_refusal(cases[i].s, &err, "name");
	}
	struct vs_error err = {0};
	assert_int_equal(vs_validate_name(NULL, "template", &err), -1);
	check_refusal("(null)", &err, "template");
}

static void test_hostnames(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
	    {"web1", true},
	    {"Web-1", true},
	    {"a", true},
	    {"1.2.3.4", true},
	    {"web1.example.com", true},
	    {"a-b.c-d", true},
	    /* one label of 63, and 64 in total */
	    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true},
	    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b", true},
	    /* a label of 64, and 65 in total */
	    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
	    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bc", false},
	    {"", false},
	    {"-web", false},
	    {"web-", false},
	    {"a.-b", false},
	    {"a-.b", false},
	    {"a..b", false},
	    {".a", false},
	    {"a.", false},
	    {".", false},
	    {"web_1", false},
	    {"web 1", false},
	    {"web/1", false},
	};

	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		struct vs_error err = {0};
		int r = vs_validate_hostname(cases[i].s, "hostname", &err);

		if (cases[i].ok && r != 0)
			fail_msg("'%s' refused: %s", cases[i].s, err.msg);
		if (!cases[i].ok && r == 0)
			fail_msg("'%s' accepted", cases[i].s);
		if (!cases[i].ok)
			check_refusal(cases[i].s, &err, "hostname");
	}
}

static const struct {
	const char *s;
	int64_t bytes; /* 0: refused */
} size_cases[] = {
    {"512M", 512 * MiB},
    {"1.5G", 1536 * MiB},
    {"64k", 64 * KiB},
    {"64K", 64 * KiB},
    {"2GiB", 2 * GiB},
    {"2GB", 2 * GiB},
    {"512MiB", 512 * MiB},
    {"1024", 1024},
    {"1", 1},
    {"0512M", 512 * MiB},
    {"0.5K", 512},
    {"1.25K", 1280},
    {"4.5M", 4608 * KiB},
    {"1T", TiB},
    {"4194303T", 4194303 * TiB}, /* the largest whole number of T below 2^62 */
    {"4611686018427387903", INT64_C(4611686018427387903)}, /* 2^62 - 1 */
    {"0", 0},
    {"0M", 0},
    {"0.0G", 0},
    {"-1", 0},
    {"-1G", 0},
    {"+1G", 0},
    {"1.2345G", 0},
    {"12X", 0},
    {"1.5", 0},	   /* 1.5 bytes */
    {"1.001K", 0}, /* 1025.024 bytes */
    {"1.", 0},
    {".5G", 0},
    {"1..5G", 0},
    {"1.5.5G", 0},
    {"", 0},
    {" 1G", 0},
    {"1 G", 0},
    {"1G ", 0},
    {"1B", 0},
    {"1Gb", 0}, /* gigabits? refused rather than guessed */
    {"1Gib", 0},
    {"1GiBx", 0},
    {"1GG", 0},
    {"1e3", 0},
    {"0x10", 0},
    {"4194304T", 0},		/* 2^62 */
    {"4611686018427387904", 0}, /* 2^62 */
    {"5000000T", 0},		/* used to overflow int64 inside the parser */
    {"8589934592G", 0},		/* 2^63 */
    {"9223372036854775807", 0},
    {"99999999999999999999999", 0},
    {"99999999999999999999999T", 0},
};

static void test_parse_size(void **state)
{
	for (size_t i = 0; i < VS_ARRAY_SIZE(size_cases); i++) {
		struct vs_error err = {0};
		int64_t bytes = -7;
		int r = vs_parse_size(size_cases[i].s, "limits.memory", &bytes, &err);

		if (size_cases[i].bytes > 0) {
			if (r != 0)
				fail_msg("'%s' refused: %s", size_cases[i].s, err.msg);
			if (bytes != size_cases[i].bytes)
				fail_msg("'%s': %" PRId64 ", expected %" PRId64, size_cases[i].s,
					 bytes, size_cases[i].bytes);
		} else {
			if (r == 0)
				fail_msg("'%s' accepted as %" PRId64, size_cases[i].s, bytes);
			assert_int_equal(bytes, -7); /* untouched on failure */
			check_refusal(size_cases[i].s, &err, "limits.memory");
		}
	}
	struct vs_error err = {0};
	int64_t b;
	assert_int_equal(vs_parse_size(NULL, "x", &b, &err), -1);
}

static void test_format_size(void **state)
{
	static const struct {
		int64_t bytes;
		const char *s;
	} cases[] = {
	    {1, "1"},
	    {123, "123"},
	    {1023, "1023"},
	    {1024, "1K"},
	    {1536, "1536"},
	    {1536 * KiB, "1536K"},
	    {512 * MiB, "512M"},
	    {1536 * MiB, "1536M"},
	    {2 * GiB, "2G"},
	    {TiB, "1T"},
	    {1024 * TiB, "1024T"}, /* T is the largest unit */
	    {INT64_C(4611686018427387903), "4611686018427387903"},
	};
	char buf[64];

	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		vs_format_size(cases[i].bytes, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].s);
	}
	/* A short buffer is truncated, never overrun. */
	char small[3] = {'x', 'x', 'x'};
	vs_format_size(512 * MiB, small, sizeof(small));
	assert_string_equal(small, "51");
}

/* format(parse(s)) parses back to the same bytes, for every valid case. */
static void test_size_round_trip(void **state)
{
	for (size_t i = 0; i < VS_ARRAY_SIZE(size_cases); i++) {
		struct vs_error err = {0};
		int64_t a, b;
		char buf[64];

		if (size_cases[i].bytes <= 0)
			continue;
		assert_int_equal(vs_parse_size(size_cases[i].s, "x", &a, &err), 0);
		vs_format_size(a, buf, sizeof(buf));
		if (vs_parse_size(buf, "x", &b, &err) != 0)
			fail_msg("'%s' -> '%s' refused: %s", size_cases[i].s, buf, err.msg);
		assert_int_equal(a, b);
	}
	/* Powers of two and their neighbours. */
	for (int s = 0; s < 62; s++) {
		int64_t v[] = {INT64_C(1) << s, (INT64_C(1) << s) + 1, (INT64_C(1) << s) * 3 / 2};
		for (size_t j = 0; j < VS_ARRAY_SIZE(v); j++) {
			struct vs_error err = {0};
			char buf[64];
			int64_t back;

			if (v[j] <= 0 || v[j] >= (INT64_C(1) << 62))
				continue;
			vs_format_size(v[j], buf, sizeof(buf));
			if (vs_parse_size(buf, "x", &back, &err) != 0 || back != v[j])
				fail_msg("%" PRId64 " -> '%s' -> %s", v[j], buf, err.msg);
		}
	}
}

static void test_parse_cpus(void **state)
{
	static const struct {
		const char *s;
		int64_t milli; /* 0: refused */
	} cases[] = {
	    {"1.5", 1500},
	    {"0.25", 250},
	    {"2", 2000},
	    {"0.01", 10},
	    {"0.010", 10},
	    {"1024", 1024000},
	    {"1024.000", 1024000},
	    {"1.125", 1125},
	    {"03", 3000},
	    {"1023.999", 1023999},
	    {"0", 0},
	    {"0.0", 0},
	    {"0.001", 0},
	    {"0.009", 0},
	    {"1024.001", 0},
	    {"2000", 0},
	    {"abc", 0},
	    {"", 0},
	    {"-1", 0},
	    {"+1", 0},
	    {"1.2345", 0},
	    {"1.", 0},
	    {".5", 0},
	    {"1e2", 0},
	    {"1,5", 0},
	    {"1.5 ", 0},
	    {" 1.5", 0},
	    {"1.5x", 0},
	    {"99999999999999999999", 0},
	};

	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		struct vs_error err = {0};
		int64_t milli = -7;
		int r = vs_parse_cpus(cases[i].s, "limits.cpus", &milli, &err);

		if (cases[i].milli > 0) {
			if (r != 0)
				fail_msg("'%s' refused: %s", cases[i].s, err.msg);
			assert_int_equal(milli, cases[i].milli);
		} else {
			if (r == 0)
				fail_msg("'%s' accepted as %" PRId64, cases[i].s, milli);
			assert_int_equal(milli, -7);
			check_refusal(cases[i].s, &err, "limits.cpus");
		}
	}
}

static void test_format_cpus(void **state)
{
	static const struct {
		int64_t milli;
		const char *s;
	} cases[] = {
	    {1500, "1.5"},   {2000, "2"},	{250, "0.25"},	       {10, "0.01"},
	    {1001, "1.001"}, {1024000, "1024"}, {1023999, "1023.999"}, {100, "0.1"},
	};
	char buf[32];

	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		vs_format_cpus(cases[i].milli, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].s);
	}
	/* Every valid amount survives format -> parse. */
	for (int64_t m = 10; m <= 1024000; m += (m < 5000 ? 1 : 997)) {
		struct vs_error err = {0};
		int64_t back;

		vs_format_cpus(m, buf, sizeof(buf));
		if (vs_parse_cpus(buf, "cpus", &back, &err) != 0 || back != m)
			fail_msg("%" PRId64 " -> '%s' -> %s", m, buf, err.msg);
	}
}

static void test_parse_int(void **state)
{
	static const struct {
		const char *s;
		bool ok;
		int64_t v;
	} cases[] = {
	    {"0", true, 0},	{"3600", true, 3600},
	    {"-5", true, -5},	{"007", true, 7},
	    {"3601", false, 0}, {"-6", false, 0},
	    {"abc", false, 0},	{"", false, 0},
	    {"1x", false, 0},	{" 1", false, 0},
	    {"+1", false, 0},	{"1.0", false, 0},
	    {"-", false, 0},	{"99999999999999999999", false, 0},
	};

	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		struct vs_error err = {0};
		int64_t v = 42;
		int r = vs_parse_int(cases[i].s, "--timeout", -5, 3600, &v, &err);

		if (cases[i].ok) {
			if (r != 0)
				fail_msg("'%s' refused: %s", cases[i].s, err.msg);
			assert_int_equal(v, cases[i].v);
		} else {
			if (r == 0)
				fail_msg("'%s' accepted", cases[i].s);
			assert_int_equal(v, 42);
			check_refusal(cases[i].s, &err, "--timeout");
		}
	}
}

static void test_parse_signal(void **state)
{
	const struct {
		const char *s;
		int sig; /* 0: refused */
	} cases[] = {
	    {"SIGRTMIN+3", SIGRTMIN + 3},
	    {"RTMIN+3", SIGRTMIN + 3},
	    {"SIGRTMIN", SIGRTMIN},
	    {"SIGRTMIN+0", SIGRTMIN},
	    {"TERM", SIGTERM},
	    {"SIGTERM", SIGTERM},
	    {"SIGKILL", SIGKILL},
	    {"PWR", SIGPWR},
	    {"SIGINT", SIGINT},
	    {"15", 15},
	    {"9", 9},
	    {"64", 64},
	    {"SIGFOO", 0},
	    {"FOO", 0},
	    {"", 0},
	    {"0", 0},
	    {"65", 0},
	    {"-15", 0},
	    {"15x", 0},
	    {"term", 0},
	    {"sigterm", 0},
	    {"SIG", 0},
	    {"SIGSIGTERM", 0},
	    {"SIGRTMINX", 0},
	    {"SIGRTMIN+", 0},
	    {"SIGRTMIN+-1", 0},
	    {"SIGRTMIN+31", 0}, /* past SIGRTMAX */
	    {"SIGTERM ", 0},
	};

	for (size_t i = 0; i < VS_ARRAY_SIZE(cases); i++) {
		struct vs_error err = {0};
		int sig = -7;
		int r = vs_parse_signal(cases[i].s, "stop_signal", &sig, &err);

		if (cases[i].sig > 0) {
			if (r != 0)
				fail_msg("'%s' refused: %s", cases[i].s, err.msg);
			if (sig != cases[i].sig)
				fail_msg("'%s': %d, expected %d", cases[i].s, sig, cases[i].sig);
		} else {
			if (r == 0)
				fail_msg("'%s' accepted as %d", cases[i].s, sig);
			assert_int_equal(sig, -7);
			check_refusal(cases[i].s, &err, "stop_signal");
		}
	}
}

static void test_signal_round_trip(void **state)
{
	char buf[32];

	vs_format_signal(SIGTERM, buf, sizeof(buf));
	assert_string_equal(buf, "SIGTERM");
	vs_format_signal(SIGRTMIN + 3, buf, sizeof(buf));
	assert_string_equal(buf, "SIGRTMIN+3");
	vs_format_signal(SIGRTMIN, buf, sizeof(buf));
	assert_string_equal(buf, "SIGRTMIN");
	for (int sig = 1; sig <= SIGRTMAX; sig++) {
		struct vs_error err = {0};
		int back = 0;

		vs_format_signal(sig, buf, sizeof(buf));
		if (vs_parse_signal(buf, "sig", &back, &err) != 0 || back != sig)
			fail_msg("%d -> '%s' -> %d (%s)", sig, buf, back, err.msg);
	}
}

static void test_parse_cpuset(void **state)
{
	char c[64];
	uint64_t bits[VS_CPUS_MAX / 64];
	struct vs_error err = {0};

	assert_int_equal(vs_parse_cpuset("0", "cpuset", c, sizeof(c), &err), 0);
	assert_string_equal(c, "0");
	assert_int_equal(vs_parse_cpuset("3,0-1,2,7", "cpuset", c, sizeof(c), &err), 0);
	assert_string_equal(c, "0-3,7");
	assert_int_equal(vs_parse_cpuset("1023", "cpuset", c, sizeof(c), &err), 0);
	assert_int_equal(vs_cpuset_bits("0-3,7", bits), 5);
	assert_int_equal(bits[0], 0x8f);
	static const char *const bad[] = {"",	  "-1", "1-0",	"0-",	"a",
					  "0,,1", "0 ", "1024", "0-1,", NULL};
	for (int i = 0; bad[i] != NULL; i++) {
		assert_int_equal(vs_parse_cpuset(bad[i], "cpuset", c, sizeof(c), &err), -1);
		assert_non_null(strstr(err.msg, "cpuset"));
	}
	/* Every other CPU up to 1022: too long a canonical form. */
	char big[4096] = "";
	for (int i = 0; i < 1024; i += 2)
		snprintf(big + strlen(big), sizeof(big) - strlen(big), "%s%d", i ? "," : "", i);
	assert_int_equal(vs_parse_cpuset(big, "cpuset", c, sizeof(c), &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),	    cmocka_unit_test(test_hostnames),
	    cmocka_unit_test(test_parse_size),	    cmocka_unit_test(test_format_size),
	    cmocka_unit_test(test_size_round_trip), cmocka_unit_test(test_parse_cpus),
	    cmocka_unit_test(test_format_cpus),	    cmocka_unit_test(test_parse_int),
	    cmocka_unit_test(test_parse_signal),    cmocka_unit_test(test_signal_round_trip),
	    cmocka_unit_test(test_parse_cpuset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
