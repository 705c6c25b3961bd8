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

/* A guest that rewrites a file while the sender reads it (the stress
 * lane's `echo $i >/root/counter`): the sender's own line names the file,
 * not the closing "(code 23)"; the same line twice (rsync's redo) once. */
static void test_cause_sender(void **state)
{
	static const char sender[] =
	    "rsync: [sender] read errors mapping \"/r/c/upper/root/counter\": No data "
	    "available (61)\n"
	    "rsync: [sender] read errors mapping \"/r/c/upper/root/counter\": No data "
	    "available (61)\n"
	    "rsync: [sender] read errors mapping \"/r/c/upper/tmp/x\": No data available (61)\n"
	    "rsync error: some files/attrs were not transferred (see previous errors) (code 23) "
	    "at main.c(1394) [sender=3.5.0]\n"
	    "\nNumber of files: 5 (reg: 3, dir: 2)\nTotal bytes sent: 3,146,737\n";
	char out[512];

	(void)state;
	vs_mig_rsync_cause(sender, out, sizeof(out));
	assert_string_equal(out, "rsync: [sender] read errors mapping \"/r/c/upper/root/counter\": "
				 "No data available (61); rsync: [sender] read errors mapping "
				 "\"/r/c/upper/tmp/x\": No data available (61)");
	/* At most VS_RSYNC_CAUSE_LINES lines, receiving sides first. */
	vs_mig_rsync_cause("rsync: [sender] s\nrsync: [generator] failed to set times on \"a\"\n"
			   "rsync: [receiver] b\nrsync: [receiver] c\nrsync: [receiver] d\n",
			   out, sizeof(out));
	assert_string_equal(out, "rsync: [generator] failed to set times on \"a\"; rsync: "
				 "[receiver] b; rsync: [receiver] c");
	/* Only the closing line: that one. */
	vs_mig_rsync_cause("rsync error: some files/attrs were not transferred (code 23)\n", out,
			   sizeof(out));
	assert_string_equal(out, "rsync error: some files/attrs were not transferred (code 23)");
	/* Cut to the buffer, joined lines included. */
	vs_mig_rsync_cause("rsync: [receiver] abc\nrsync: [receiver] def\n", out, 24);
	assert_string_equal(out, "rsync: [receiver] abc; ");
}

/* The log's lines: rsync's messages, not its --stats, bounded. */
static void test_messages(void **state)
{
	static const char text[] =
	    "rsync: [sender] read errors mapping \"/u/f\": No data available (61)\n"
	    "file has vanished: \"/u/tmp/a\"\n"
	    "IO error encountered -- skipping file deletion\n"
	    "WARNING: f failed verification -- update discarded (will try again).\n"
	    "\nNumber of files: 5 (reg: 3, dir: 2)\n"
	    "Total bytes sent: 3,146,737\n\n"
	    "sent 3,146,737 bytes  received 85 bytes\n"
	    "rsync error: some files/attrs were not transferred (code 23)\n";
	char out[1024], many[VS_RSYNC_LOG_LINES * 4 + 64] = "";

	(void)state;
	assert_int_equal(vs_mig_rsync_messages(text, out, sizeof(out)), 5);
	assert_string_equal(out, "rsync: [sender] read errors mapping \"/u/f\": No data available "
				 "(61); file has vanished: \"/u/tmp/a\"; IO error encountered -- "
				 "skipping file deletion; WARNING: f failed verification -- update "
				 "discarded (will try again).; rsync error: some files/attrs were "
				 "not transferred (code 23)");
	assert_int_equal(vs_mig_rsync_messages("Number of files: 1\n\n", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	/* At most VS_RSYNC_LOG_LINES of them. */
	for (int i = 0; i < VS_RSYNC_LOG_LINES + 3; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "ERROR: %c\n", 'a' + i);
	assert_int_equal(vs_mig_rsync_messages(many, out, sizeof(out)), VS_RSYNC_LOG_LINES);
	assert_null(strstr(out, "ERROR: k"));
	assert_non_null(strstr(out, "; ERROR: j"));
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
	    cmocka_unit_test(test_cause_sender),
	    cmocka_unit_test(test_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
