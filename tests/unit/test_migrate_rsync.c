/* migrate/rsync.c: the target's check of the rsync command a source asks
 * for (docs/migration.md, sync), and the reading of rsync --stats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "lib/vs_spawn.h"
#include "lib/vs_util.h"
#include "migrate/vs_migrate.h"

#define DEST "/var/lib/vsd/containers/.web.incoming/upper"

/* args as a NULL-terminated list; returns what the check returned. */
static int check(const char *const *args, char ***argv, struct vs_error *err)
{
	size_t n = 0;

	while (args[n] != NULL)
		n++;
	*argv = NULL;
	return vs_mig_rsync_server_argv(args, n, DEST, argv, err);
}

static void assert_refused(const char *const *args, const char *named)
{
	struct vs_error err = {0};
	char **argv;

	assert_int_equal(check(args, &argv, &err), -1);
	assert_null(argv);
	assert_int_equal(err.kind, VS_EK_INVALID);
	if (strstr(err.msg, named) == NULL)
		fail_msg("error '%s' does not name '%s'", err.msg, named);
}

/* What rsync 3.x sends for vsd_peer_rsync_push's options. */
static void test_push_command_accepted(void **state)
{
	const char *args[] = {"rsync",
			      "--server",
			      "-lHogDtpAXrSe.iLsfxCIvu",
			      "--timeout=30",
			      "--delete",
			      "--stats",
			      "--numeric-ids",
			      "--bwlimit=1000",
			      ".",
			      ".",
			      NULL};
	struct vs_error err = {0};
	char **argv;

	assert_int_equal(check(args, &argv, &err), 0);
	assert_string_equal(argv[0], VS_RSYNC_PATH);
	assert_string_equal(argv[1], "--server");
	assert_string_equal(argv[2], "-lHogDtpAXrSe.iLsfxCIvu");
	assert_string_equal(argv[7], "--bwlimit=1000");
	assert_string_equal(argv[8], ".");
	/* The destination is the target's, whatever the source named. */
	assert_string_equal(argv[9], DEST);
	assert_null(argv[10]);
	vs_strv_free(argv);
}

static void test_other_receiver_options(void **state)
{
	const char *args[] = {"rsync",
			      "--server",
			      "-vlogDtprze.iLsfxCIvu",
			      "--partial",
			      "--inplace",
			      "--delete-after",
			      "--sparse",
			      "--bwlimit=1.5m",
			      ".",
			      "x",
			      NULL};
	struct vs_error err = {0};
	char **argv;

	assert_int_equal(check(args, &argv, &err), 0);
	assert_string_equal(argv[9], DEST);
	vs_strv_free(argv);
}

static void test_sender_and_server_twice(void **state)
{
	assert_refused(
	    (const char *[]){"rsync", "--server", "--sender", "-logDtpr", ".", "x", NULL},
	    "--sender");
	assert_refused(
	    (const char *[]){"rsync", "--server", "--server", "-logDtpr", ".", "x", NULL},
	    "--server given twice");
}

static void test_files_and_programs_refused(void **state)
{
	static const char *const bad[] = {
	    "--rsync-path=/tmp/x",
	    "--temp-dir=/tmp",
	    "--log-file=/etc/passwd",
	    "--files-from=/x",
	    "--config=/x",
	    "--daemon",
	    "--remote-option=x",
	    "--backup-dir=/x",
	    "--compare-dest=/x",
	    "--link-dest=/",
	    "--copy-dest=/",
	    "--include-from=/x",
	    "--exclude-from=/x",
	    "--filter=merge /x",
	    "--partial-dir=/x",
	    "--bwlimit=1; rm",
	    "--timeout=",
	    "--timeout=1x",
	    "-M--log-file=/x",
	    "-logDtps",
	    "-logb",
	    "-K",
	    "-L",
	    "-",
	    "-logDtpe.iLsfxCIvu/",
	    "--secluded-args",
	    "--protect-args",
	};

	for (size_t i = 0; i < VS_ARRAY_SIZE(bad); i++)
		assert_refused((const char *[]){"rsync", "--server", bad[i], ".", "x", NULL},
			       bad[i]);
}

static void test_shape(void **state)
{
	/* Not rsync, not a server, no ".", two destinations, a file among
	 * the options. */
	assert_refused((const char *[]){"sh", "--server", "-r", ".", "x", NULL}, "expected");
	assert_refused((const char *[]){"rsync", "-r", "--server", ".", "x", NULL}, "-r");
	assert_refused((const char *[]){"rsync", "--server", "-r", "x", NULL}, "'x'");
	assert_refused((const char *[]){"rsync", "--server", "-r", "x", "y", NULL}, "'x'");
	assert_refused((const char *[]){"rsync", "--server", "-r", ".", "x", "y", NULL}, "'y'");
	assert_refused((const char *[]){"rsync", "--server", "-r", ".", NULL}, "expected");
}

static void test_stats(void **state)
{
	static const char out[] = "\nNumber of files: 5 (reg: 3, dir: 2)\n"
				  "Number of created files: 4 (reg: 3, dir: 1)\n"
				  "Number of regular files transferred: 3\n"
				  "Total file size: 3,145,734 bytes\n"
				  "Total bytes sent: 3,146,737\n"
				  "Total bytes received: 85\n\n"
				  "sent 3,146,737 bytes  received 85 bytes\n";
	struct vs_mig_rsync_stats st;

	assert_int_equal(vs_mig_rsync_stats_parse(out, &st), 3);
	assert_int_equal(st.bytes_sent, 3146737);
	assert_int_equal(st.bytes_received, 85);
	assert_int_equal(st.files_transferred, 3);
	assert_int_equal(vs_mig_rsync_stats_parse("rsync error: something\n", &st), 0);
	assert_int_equal(st.bytes_sent, 0);
}

static void test_cause(void **state)
{
	static const char full[] =
	    "rsync: [receiver] write failed on \"/r/.x.incoming/upper/f\": No space left on "
	    "device (28)\n"
	    "rsync error: error in file IO (code 11) at receiver.c(657) [receiver=3.5.0]\n"
	    "rsync: [sender] write error: Broken pipe (32)\n";
	char out[128];

	(void)state;
	vs_mig_rsync_cause(full, out, sizeof(out));
	assert_string_equal(out, "rsync: [receiver] write failed on \"/r/.x.incoming/upper/f\": "
				 "No space left on device (28)");
	/* No receiver's line: the last one. */
	vs_mig_rsync_cause("a\r\nrsync: [sender] write error: Broken pipe (32)\n\n", out,
			   sizeof(out));
	assert_string_equal(out, "rsync: [sender] write error: Broken pipe (32)");
	vs_mig_rsync_cause("rsync: [generator] failed to set times\nlater\n", out, sizeof(out));
	assert_string_equal(out, "rsync: [generator] failed to set times");
	/* Truncated to the buffer; nothing for nothing. */
	vs_mig_rsync_cause("rsync: [receiver] abcdefgh\n", out, 12);
	assert_string_equal(out, "rsync: [rec");
	vs_mig_rsync_cause("\n\n", out, sizeof(out));
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_push_command_accepted),
	    cmocka_unit_test(test_other_receiver_options),
	    cmocka_unit_test(test_sender_and_server_twice),
	    cmocka_unit_test(test_files_and_programs_refused),
	    cmocka_unit_test(test_shape),
	    cmocka_unit_test(test_stats),
	    cmocka_unit_test(test_cause),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
