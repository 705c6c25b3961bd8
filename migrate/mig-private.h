/* mig-private: helpers shared by the files of migrate/ (not a public API;
 * the unit tests include it to test the parsers on canned CRIU output).
 *
 * Conventions as everywhere in vsd: 0 on success, -1 with *err filled. */
#ifndef VS_MIG_PRIVATE_H
#define VS_MIG_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

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

/* Run argv (argv[0] an absolute path) with envp, stdin on /dev/null, stdout
 * and stderr into one pipe, in a process group of its own, with default
 * signal dispositions and an empty signal mask. Collects up to
 * VS_MIG_OUTPUT_MAX bytes of output. After timeout_ms the whole process
 * group is killed (SIGKILL), reaped, and r->timed_out set.
 *
 * Returns 0 with *r filled (free with vs_mig_result_free) once the program
 * ran and was reaped, whatever its exit status. Returns -2 when the program
 * could not be started (missing, not executable, not an executable format:
 * posix_spawn's errno in err), and -1 for a relative argv[0]
 * (VS_EK_INVALID) or a failure of pipe/poll/wait (errno in err); *r is
 * zeroed on both. */
int vs_mig_run(char *const argv[], char *const envp[], int timeout_ms, struct vs_mig_result *r,
	       struct vs_error *err);

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

#endif
