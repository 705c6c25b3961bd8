/* mig-private: helpers shared by the files of migrate/ (not a public API;
 * the unit tests include it to test the parsers on canned CRIU output).
 *
 * Conventions as everywhere in vsd: 0 on success, -1 with *err filled. */
#ifndef VS_MIG_PRIVATE_H
#define VS_MIG_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/vs_error.h"

/* The environment CRIU runs with: its helpers (iptables-restore, ip, action
 * scripts) are looked up in this PATH, never in the daemon's. */
#define VS_MIG_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Output kept from one CRIU run; the rest is read and dropped so the child
 * never blocks on a full pipe. */
#define VS_MIG_OUTPUT_MAX (64 * 1024)

/* The outcome of one program run. */
struct vs_mig_result {
	int status;	/* wait status (WIFEXITED, ...); meaningless if timed_out */
	bool timed_out; /* killed after the timeout */
	char *out;	/* stdout and stderr interleaved, NUL-terminated */
	size_t len;
};

/* Free r->out and reset *r. Safe on a zeroed result. */
void vs_mig_result_free(struct vs_mig_result *r);

/* How to run a program (run.c). */
struct vs_mig_run_opts {
	/* The environment: NULL for CRIU's (PATH=VS_MIG_PATH, LC_ALL=C, then
	 * env_extra's "NAME=VALUE" strings, if any). */
	char *const *envp;
	char *const *env_extra;
	const int *keep; /* keep[i] becomes descriptor 3+i (--inherit-fd, --ps-socket) */
	int nkeep;	 /* at most VS_SPAWN_KEEP_MAX */
	int timeout_ms;
	bool discard_output; /* stdout and stderr on /dev/null, r->out empty */
	/* A descriptor that, once readable, ends the run as the timeout does
	 * (NULL: none; its hang-up does not end it). */
	const int *cancel;
};

/* The one runner. Run argv (argv[0] an absolute path) with o's environment
 * and kept descriptors (every other descriptor closed), stdin on /dev/null,
 * stdout and stderr into one pipe (or /dev/null), in a process group of its
 * own, with default signal dispositions and an empty signal mask. Collects
 * up to VS_MIG_OUTPUT_MAX bytes of output. After o->timeout_ms the whole
 * process group is killed (SIGKILL), reaped, and r->timed_out set.
 *
 * Returns 0 with *r filled (free with vs_mig_result_free) once the program
 * ran and was reaped, whatever its exit status. Returns -2 when the program
 * could not be started (missing, not executable, not an executable format,
 * a bad keep list: posix_spawn's errno in err), and -1 for a relative
 * argv[0] (VS_EK_INVALID) or a failure of pipe/poll/wait (errno in err); *r
 * is zeroed on both. */
int vs_mig_run(char *const argv[], const struct vs_mig_run_opts *o, struct vs_mig_result *r,
	       struct vs_error *err);

/* `CRIU ARGS...` through vs_mig_run (output dropped: CRIU logs to
 * logpath, its -o). 0 when it exited with 0; else -1 with err:
 * VS_EK_UNSUPPORTED when criu is NULL or cannot be executed, ETIMEDOUT
 * after o->timeout_ms, otherwise "criu ARGS[0] failed: REASONS (log:
 * LOGPATH)" with the error lines of the log. */
int vs_mig_criu_run(const char *criu, char *const args[], const struct vs_mig_run_opts *o,
		    const char *logpath, struct vs_error *err);

/* vs_mig_criu_run in the background (a `dump --lazy-pages`, which exits
 * only when the target pulled its last page): a child of the caller (a
 * fork, so only for the single-threaded monitor) runs it and exits 0 or 1,
 * its error on a pipe. */
struct vs_mig_bg {
	pid_t pid;    /* the child; <= 0: none */
	int errfd;    /* its error message's pipe (hangs up when the child exits) */
	int cancelfd; /* a byte written here kills CRIU's process group */
};
#define VS_MIG_BG_NONE                                                                             \
	{                                                                                          \
		.pid = -1, .errfd = -1, .cancelfd = -1                                             \
	}
/* Start it; o->keep's descriptors reach CRIU as with vs_mig_criu_run. 0 or
 * -1. */
int vs_mig_criu_start(const char *criu, char *const args[], const struct vs_mig_run_opts *o,
		      const char *logpath, struct vs_mig_bg *bg, struct vs_error *err);
/* Wait until the file flag exists (an action script made it) or the run
 * ended: 1 the flag, 0 the run ended (bg reaped; err has its error, or
 * "ended before FLAG" when it exited 0), -1 nothing after timeout_ms. */
int vs_mig_criu_wait_flag(struct vs_mig_bg *bg, const char *flag, int timeout_ms,
			  struct vs_error *err);
/* Wait until fd is readable or hangs up (an action script wrote to a FIFO)
 * or the run ended: as vs_mig_criu_wait_flag, without polling a file. */
int vs_mig_criu_wait_fd(struct vs_mig_bg *bg, int fd, const char *what, int timeout_ms,
			struct vs_error *err);
/* Wait for the run's end (bg reaped): 0 when CRIU exited 0, -1 with its
 * error; -1 with ETIMEDOUT after timeout_ms, the child left running. */
int vs_mig_criu_finish(struct vs_mig_bg *bg, int timeout_ms, struct vs_error *err);
/* Kill CRIU's process group now and reap the run (a run that was cancelled
 * ends with "did not finish"). No-op without a run. */
void vs_mig_criu_abort(struct vs_mig_bg *bg);

/* ---- CRIU's text: the one reader of its logs and output (criulog.c) ---- */

/* A log is read whole up to this size (a -v4 dump log of a systemd guest
 * runs to tens of MiB). */
#define VS_MIG_LOG_MAX (256 << 20)
/* How many of a failed run's error lines its error message carries. */
#define VS_MIG_LOG_REASONS 4

enum vs_mig_log_kind {
	VS_MIG_LOG_ERROR, /* CRIU's "Error (file:line): " */
	VS_MIG_LOG_WARN,  /* CRIU's "Warn  (file:line): " */
	VS_MIG_LOG_OTHER, /* anything else: pr_msg, a helper program's words */
	VS_MIG_LOG_SKIP,  /* blank, or noise this host prints on every run */
};
/* What one line (n bytes, without its newline) of CRIU's output or log is;
 * *text and *tlen (unless SKIP) what a person should read of it: without
 * the timestamp, pid and "Error (file:line): " prefixes. */
enum vs_mig_log_kind vs_mig_log_line(const char *line, size_t n, const char **text, size_t *tlen);
/* Append up to max lines of kind from text (NUL-terminated; the first max,
 * or with last the last max) to msg (len bytes, NUL-terminated), joined
 * with "; ", a tab as a space and other control characters as '?',
 * truncated silently. Returns how
 * many were appended. */
int vs_mig_log_gather(const char *text, enum vs_mig_log_kind kind, int max, bool last, char *msg,
		      size_t len);
/* Read a CRIU log file whole (up to VS_MIG_LOG_MAX). 0 with *text (free
 * it), or -1 with err. */
int vs_mig_log_read(const char *path, char **text, struct vs_error *err);
/* A failed run's reason: the last VS_MIG_LOG_REASONS error lines of the
 * log at path, into msg ("" when it has none or cannot be read). */
void vs_mig_log_errors(const char *path, char *msg, size_t len);

/* Find "Version: X" in `criu --version` output and copy X (digits, letters,
 * '.', '-', '~', '+'; at most len - 1 characters) into ver. Returns 0, or -1
 * (ver = "") when there is no such line or X is empty or malformed. */
int vs_mig_parse_version(const char *out, char *ver, size_t len);

/* Did this `criu check` (or `criu check --feature F`) run succeed? The exit
 * status decides: exited with 0. On failure, msg (of len bytes, always
 * NUL-terminated) gets the reason: CRIU's Error lines without their
 * "Error (file:line): " prefix, else its Warn lines, else its other output,
 * at most three lines joined with "; ", skipping the noise this host prints
 * on every run (RLIMIT_NOFILE without CAP_SYS_RESOURCE, kdat cache); with no
 * text at all, "exited with status N" / "killed by signal N" / "timed out".
 * On success msg is "". */
bool vs_mig_parse_check(const struct vs_mig_result *r, char *msg, size_t len);

/* Is there an executable regular file `name` in one of the ':'-separated
 * directories of path? (Mirrors how CRIU's execvp finds its helpers.) */
bool vs_mig_in_path(const char *path, const char *name);

/* ---- CRIU images: a bounds-checked protobuf reader (pbuf.c) ----
 *
 * CRIU image files are "magic(s), then entries": a little-endian u32 length
 * and that many bytes of one protobuf message, repeated. */
#define VS_MIG_IMG_COMMON_MAGIC	 0x54564319u
#define VS_MIG_IMG_SERVICE_MAGIC 0x55105940u

/* A view of bytes [p, end); never owns them. */
struct vs_mig_pb {
	const uint8_t *p, *end;
};

/* One field: number, wire type, value (varint/fixed; the length for wire
 * type 2, whose bytes are in sub). */
struct vs_mig_pb_field {
	uint32_t num;
	unsigned wt;
	uint64_t v;
	struct vs_mig_pb sub;
};

/* Read the next field of pb into *f. Returns 1, 0 at the end of the
 * message, -1 on malformed input (truncated, overlong varint, field 0,
 * group wire types). */
int vs_mig_pb_next(struct vs_mig_pb *pb, struct vs_mig_pb_field *f);
/* Append a repeated uint32 field's value(s) (plain or packed) to vals
 * (at most max, count in *n). -1 on overflow or a value above 32 bits. */
int vs_mig_pb_u32s(const struct vs_mig_pb_field *f, uint32_t *vals, size_t max, size_t *n);
/* Copy a string field into out (len bytes with the NUL). False if it is
 * not length-delimited, does not fit, or holds a NUL. */
bool vs_mig_pb_str(const struct vs_mig_pb_field *f, char *out, size_t len);
/* Skip an image's magic(s): *magic is the image's own magic, *entries the
 * rest. -1 if buf is too short. */
int vs_mig_img_open(const uint8_t *buf, size_t len, struct vs_mig_pb *entries, uint32_t *magic);
/* The next entry of an image as a message: 1, 0 at the end, -1 if the
 * length runs past the end. */
int vs_mig_img_next(struct vs_mig_pb *entries, struct vs_mig_pb *msg);

/* A growing output buffer for re-encoded messages (free with
 * vs_mig_pbw_free; zero-initialise). Allocation failure aborts. */
struct vs_mig_pbw {
	uint8_t *p;
	size_t len, cap;
};
void vs_mig_pbw_bytes(struct vs_mig_pbw *w, const void *b, size_t n);
/* Append v as a minimal varint (what protobuf-c writes, so an unchanged
 * value re-encodes to the same bytes). */
void vs_mig_pbw_varint(struct vs_mig_pbw *w, uint64_t v);
void vs_mig_pbw_free(struct vs_mig_pbw *w);

/* Shift the ids of the images in memory: the rules of
 * vs_mig_image_shift_ids (vs_migrate.h) over one file's bytes. *out gets
 * the new bytes (free with vs_mig_pbw_free; equal to data when nothing
 * changed). 0, or -1 with err naming the file ("image NAME: ..."); a file
 * vsd does not shift is copied. For the unit tests and the fuzzer. */
int vs_mig_image_shift_file(const char *name, const uint8_t *data, size_t len, uint32_t from,
			    uint32_t to, uint32_t count, struct vs_mig_pbw *out,
			    struct vs_error *err);

/* Check the images in memory: the same rules as vs_mig_image_check (see
 * vs_migrate.h), over files already read (name, bytes). For the unit tests
 * and the fuzzer. */
struct vs_mig_img_file {
	const char *name;
	const uint8_t *data;
	size_t len;
};
struct vs_mig_image_policy;
int vs_mig_image_check_files(const struct vs_mig_img_file *files, size_t n,
			     const struct vs_mig_image_policy *pol, struct vs_error *err);

#endif
