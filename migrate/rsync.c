/* rsync's own protocol over a migration's connection (docs/migration.md,
 * "sync"), as Incus and OpenVZ run it: the source's rsync believes it runs
 * a remote shell (`vsd-helper __fdcat`), which hands the remote command to
 * the daemon and then only moves bytes; the target checks that command
 * against a fixed list before it runs `rsync --server` into the staged
 * part. No TLS here: vsd-helper must not load GnuTLS (the daemon holds the
 * encrypted end, daemon/peer.c). */
#include "migrate/vs_migrate.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_json.h"
#include "lib/vs_spawn.h"
#include "lib/vs_util.h"

/* Letters of a short-option cluster that a receiving server gets from
 * rsync's server_options() for the copies vsd makes, and that neither
 * name a file nor change where writes go. Left out on purpose: s
 * (--secluded-args: the real arguments would come over the protocol,
 * unchecked), b (backups), k/K/L (follow symlinks of the destination),
 * R, y, C, M. */
#define SERVER_SHORT "vqlogDtpAXHrSdWcxIOJUNzEmnu"
/* After 'e' the rest of the cluster is the client's capability string
 * (".iLsfxCIvu" from rsync 3.x), not options. */
#define SERVER_CAPS ".iLsfxCIvu"

static const char *const server_long[] = {
    "--numeric-ids",  "--delete",	"--delete-before",    "--delete-during",
    "--delete-after", "--delete-delay", "--sparse",	      "--partial",
    "--inplace",      "--stats",	"--no-inc-recursive",
};

static int refuse(struct vs_error *err, const char *arg, const char *why)
{
	return vs_error_kind(err, VS_EK_INVALID, "rsync argument '%s' refused: %s", arg, why);
}

static bool short_cluster_ok(const char *a)
{
	const char *e = strchr(a + 1, 'e');
	size_t opts = e != NULL ? (size_t)(e - a - 1) : strlen(a + 1);

	if (opts == 0 && e == NULL)
		return false;
	for (size_t i = 1; i <= opts; i++)
		if (strchr(SERVER_SHORT, a[i]) == NULL)
			return false;
	return e == NULL || strspn(e + 1, SERVER_CAPS) == strlen(e + 1);
}

/* --bwlimit=N with N a rate rsync parses (digits, an optional fraction and
 * one unit letter). */
static bool bwlimit_ok(const char *a)
{
	const char *v = a + strlen("--bwlimit=");
	size_t d = strspn(v, "0123456789.");

	return d > 0 && (v[d] == '\0' || (strchr("bBkKmMgG", v[d]) != NULL && v[d + 1] == '\0'));
}

static int check_option(const char *a, struct vs_error *err)
{
	if (strcmp(a, "--server") == 0)
		return refuse(err, a, "--server given twice");
	if (strcmp(a, "--sender") == 0)
		return refuse(err, a, "this node only receives");
	if (strncmp(a, "--", 2) == 0) {
		if (strncmp(a, "--bwlimit=", 10) == 0)
			return bwlimit_ok(a) ? 0 : refuse(err, a, "not a rate");
		if (strncmp(a, "--timeout=", 10) == 0)
			return a[10] != '\0' && strspn(a + 10, "0123456789") == strlen(a + 10)
				   ? 0
				   : refuse(err, a, "not a number of seconds");
		for (size_t i = 0; i < VS_ARRAY_SIZE(server_long); i++)
			if (strcmp(a, server_long[i]) == 0)
				return 0;
		return refuse(err, a, "not an option a migration's receiver takes");
	}
	if (!short_cluster_ok(a))
		return refuse(err, a, "option letters outside " SERVER_SHORT);
	return 0;
}

int vs_mig_rsync_server_argv(const char *const *args, size_t n, const char *dest_dir,
			     char ***argv_out, struct vs_error *err)
{
	cleanup_strv char **argv = NULL;
	size_t i, k = 0;

	if (n < 4 || args[0] == NULL || strcmp(args[0], "rsync") != 0)
		return vs_error_kind(
		    err, VS_EK_INVALID,
		    "rsync arguments: expected [\"rsync\", \"--server\", options..., "
		    "\".\", destination]");
	if (strcmp(args[1], "--server") != 0)
		return refuse(err, args[1], "expected --server");
	argv = xcalloc(n + 2, sizeof(*argv));
	argv[k++] = xstrdup(VS_RSYNC_PATH);
	argv[k++] = xstrdup("--server");
	for (i = 2; i < n && strcmp(args[i], ".") != 0; i++) {
		if (args[i][0] != '-')
			return refuse(err, args[i], "not an option (before \".\")");
		if (check_option(args[i], err) < 0)
			return -1;
		argv[k++] = xstrdup(args[i]);
	}
	if (i == n)
		return vs_error_kind(err, VS_EK_INVALID,
				     "rsync arguments: no \".\" before the "
				     "destination");
	if (n - i != 2)
		return refuse(err, n - i > 2 ? args[i + 2] : ".",
			      "expected exactly one destination after \".\"");
	argv[k++] = xstrdup(".");
	argv[k++] = xstrdup(dest_dir);
	*argv_out = steal_ptr(&argv);
	return 0;
}

/* ---- vsd-helper __fdcat: rsync's "remote shell" ----------------------- */

#define FDCAT_FD  3
#define FDCAT_BUF 65536

/* Move what one read gives from in to out. 1: moved, 0: EOF on in, -1: an
 * error on either side. */
static int pump(int in, int out)
{
	char buf[FDCAT_BUF];
	ssize_t n;

	do
		n = read(in, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n == 0 ? 0 : -1;
	return vs_write_all(out, buf, (size_t)n) < 0 ? -1 : 1;
}

/* stdin -> fd 3 and fd 3 -> stdout. rsync waits for its remote shell to
 * exit before it exits itself, without closing our stdin first (as with
 * ssh, whose end comes from the remote side): so the end of fd 3 ends us,
 * while the end of stdin only half-closes fd 3. */
static int fdcat_relay(void)
{
	struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
			      {.fd = FDCAT_FD, .events = POLLIN}};

	for (;;) {
		int r;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 255;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			r = pump(FDCAT_FD, STDOUT_FILENO);
			if (r <= 0)
				return r == 0 ? 0 : 255;
		}
		if (p[0].fd >= 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			r = pump(STDIN_FILENO, FDCAT_FD);
			if (r < 0)
				return 255;
			if (r == 0) {
				shutdown(FDCAT_FD, SHUT_WR);
				p[0].fd = -1;
			}
		}
	}
}

int vs_mig_fdcat_main(int argc, char **argv)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	cleanup_free char *line = NULL;

	/* argv: vsd-helper __fdcat HOST COMMAND... (rsync's -e convention). */
	if (argc < 4) {
		fprintf(stderr, "vsd-helper __fdcat: internal program of vsd(8), not to be "
				"run by hand\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	vs_jgen_arr_open(g);
	for (int i = 3; i < argc; i++)
		vs_jgen_str(g, argv[i]);
	vs_jgen_arr_close(g);
	line = xasprintf("%s\n", vs_jgen_text(g, NULL));
	if (vs_write_all(FDCAT_FD, line, strlen(line)) < 0) {
		fprintf(stderr, "vsd-helper __fdcat: cannot hand the command to vsd: %s\n",
			strerror(errno));
		return 255;
	}
	return fdcat_relay();
}

/* "LABEL: 1,234,567" anywhere in text, thousands separators skipped. */
static bool stats_field(const char *text, const char *label, uint64_t *out)
{
	const char *p = strstr(text, label);
	uint64_t v = 0;

	if (p == NULL)
		return false;
	p += strlen(label);
	p += strspn(p, " ");
	if (*p < '0' || *p > '9')
		return false;
	for (; (*p >= '0' && *p <= '9') || *p == ','; p++)
		if (*p != ',')
			v = v * 10 + (uint64_t)(*p - '0');
	*out = v;
	return true;
}

int vs_mig_rsync_stats_parse(const char *text, struct vs_mig_rsync_stats *st)
{
	memset(st, 0, sizeof(*st));
	return stats_field(text, "Total bytes sent:", &st->bytes_sent) +
	       stats_field(text, "Total bytes received:", &st->bytes_received) +
	       stats_field(text, "Number of regular files transferred:", &st->files_transferred);
}

/* The beginnings of the lines rsync writes about files and its end (not
 * its --stats): "rsync: [sender] read errors mapping ...", "rsync error:
 * ... (code 23)", "file has vanished: ...", "IO error encountered --
 * skipping file deletion", "WARNING: F failed verification ...". */
static const char *const message_start[] = {
    "rsync: ", "rsync error: ",	       "rsync warning: ", "file has vanished: ", "WARNING: ",
    "ERROR: ", "IO error encountered", "cannot delete ",  "could not make way ", "skipping ",
};

static bool is_message(const char *p, size_t l)
{
	for (size_t i = 0; i < VS_ARRAY_SIZE(message_start); i++) {
		size_t n = strlen(message_start[i]);

		if (l >= n && strncmp(p, message_start[i], n) == 0)
			return true;
	}
	return false;
}

/* A receiving side's own complaint ("rsync: [receiver] ...", "rsync:
 * [generator] ...", as its messages reach the sender or its own stderr). */
static bool is_receiving(const char *p, size_t l)
{
	return l > 8 && strncmp(p, "rsync: [", 8) == 0 &&
	       (strncmp(p + 8, "receiver]", 9) == 0 || strncmp(p + 8, "generator]", 10) == 0);
}

/* A complaint about a file or the stream ("rsync: ..."), not rsync's
 * closing "rsync error: ... (code N)". */
static bool is_complaint(const char *p, size_t l)
{
	return l > 7 && strncmp(p, "rsync: ", 7) == 0;
}

/* Append line (l bytes) to out (len, holding *at bytes), after "; " when
 * not the first; truncated to what fits. */
static void append_line(char *out, size_t len, size_t *at, const char *line, size_t l)
{
	int n = snprintf(out + *at, len - *at, "%s%.*s", *at > 0 ? "; " : "", (int)l, line);

	*at += n < 0 ? 0 : (size_t)n < len - *at ? (size_t)n : len - *at - 1;
}

/* Up to max lines of text for which pick says yes, joined into out. The
 * number of lines taken (a line the same as the last one taken is
 * skipped). */
static unsigned pick_lines(const char *text, bool (*pick)(const char *, size_t), unsigned max,
			   char *out, size_t len)
{
	const char *prev = NULL;
	size_t at = 0, prev_l = 0;
	unsigned taken = 0;

	out[0] = '\0';
	for (const char *p = text; *p != '\0' && taken < max;) {
		size_t l = strcspn(p, "\r\n");

		/* A line the same as the one before (rsync's redo of a file
		 * says it again) is said once. */
		if (l > 0 && pick(p, l) && !(l == prev_l && memcmp(p, prev, l) == 0)) {
			append_line(out, len, &at, p, l);
			taken++;
			prev = p;
			prev_l = l;
		}
		p += l;
		p += strspn(p, "\r\n");
	}
	return taken;
}

/* The receiver's (or its generator's) own complaint says what went wrong
 * on the target ("rsync: [receiver] write failed on ...: No space left on
 * device (28)"); the lines after it are the sender's echo of the broken
 * pipe. Without one, the sender's own ("rsync: [sender] read errors
 * mapping "F": No data available (61)"), which names the file; else the
 * last line. */
void vs_mig_rsync_cause(const char *text, char *out, size_t len)
{
	const char *last = NULL;
	size_t n = 0;

	if (len == 0)
		return;
	if (pick_lines(text, is_receiving, VS_RSYNC_CAUSE_LINES, out, len) > 0 ||
	    pick_lines(text, is_complaint, VS_RSYNC_CAUSE_LINES, out, len) > 0)
		return;
	for (const char *p = text; *p != '\0';) {
		size_t l = strcspn(p, "\r\n");

		if (l > 0) {
			last = p;
			n = l;
		}
		p += l;
		p += strspn(p, "\r\n");
	}
	if (last == NULL) {
		out[0] = '\0';
		return;
	}
	n = n < len - 1 ? n : len - 1;
	memcpy(out, last, n);
	out[n] = '\0';
}

unsigned vs_mig_rsync_messages(const char *text, char *out, size_t len)
{
	if (len == 0)
		return 0;
	return pick_lines(text, is_message, VS_RSYNC_LOG_LINES, out, len);
}
