/* What the installed CRIU can do on this kernel: `criu check` and the
 * optional features migration is built on (lazy pages for post-copy, soft-
 * dirty tracking for iterative pre-copy, a network lock). */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "migrate/mig-private.h"
#include "migrate/vs_migrate.h"

/* snprintf into a message field; truncation is fine (vsnprintf, unlike
 * snprintf, is not second-guessed by -Wformat-truncation). */
__attribute__((format(printf, 3, 4))) static void msgf(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, len, fmt, ap);
	va_end(ap);
}

static bool executable_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

const char *vs_mig_default_criu(void)
{
	if (executable_file(VS_MIG_CRIU_PRIVATE))
		return VS_MIG_CRIU_PRIVATE;
	if (executable_file(VS_MIG_CRIU_SYSTEM))
		return VS_MIG_CRIU_SYSTEM;
	return NULL;
}

const char *vs_mig_netlock_name(enum vs_mig_netlock m)
{
	switch (m) {
	case VS_MIG_NETLOCK_IPTABLES:
		return "iptables";
	case VS_MIG_NETLOCK_NFTABLES:
		return "nftables";
	case VS_MIG_NETLOCK_NONE:
		break;
	}
	return "none";
}

const char *vs_mig_dump_netlock(const struct vs_mig_caps *caps)
{
	return caps->available && caps->network_lock == VS_MIG_NETLOCK_NFTABLES
		   ? vs_mig_netlock_name(caps->network_lock)
		   : NULL;
}

/* Run `criu ARGS...` and tell whether it succeeded. Returns 1 (success), 0
 * (failed, could not start or timed out: why has the reason), or -1 when the
 * probe itself failed (err filled). */
static int criu_ok(const char *criu, const char *a1, const char *a2, const char *a3,
		   struct vs_mig_result *r, char *why, size_t len, struct vs_error *err)
{
	char *argv[] = {(char *)criu, (char *)a1, (char *)a2, (char *)a3, NULL};
	struct vs_error e = {0};
	/* CRIU's environment (PATH=VS_MIG_PATH, C-locale messages: what the
	 * parser reads), its output kept for the parser. */
	int rc = vs_mig_run(argv, &(struct vs_mig_run_opts){.timeout_ms = VS_MIG_PROBE_TIMEOUT_MS},
			    r, &e);

	if (rc == -2) {
		msgf(why, len, "%s", e.msg);
		return 0;
	}
	if (rc < 0) {
		if (err != NULL)
			*err = e;
		return -1;
	}
	return vs_mig_parse_check(r, why, len) ? 1 : 0;
}

/* Ask one `criu check --feature NAME`. Same returns as criu_ok(). */
static int feature(const char *criu, const char *name, char *why, size_t len, struct vs_error *err)
{
	struct vs_mig_result r = {0};
	int rc = criu_ok(criu, "check", "--feature", name, &r, why, len, err);

	vs_mig_result_free(&r);
	return rc;
}

static void set_unusable(struct vs_mig_caps *caps)
{
	static const char why[] = "not probed: CRIU is not usable here";

	caps->available = false;
	msgf(caps->lazy_pages_msg, sizeof(caps->lazy_pages_msg), "%s", why);
	msgf(caps->mem_tracking_msg, sizeof(caps->mem_tracking_msg), "%s", why);
	msgf(caps->network_lock_msg, sizeof(caps->network_lock_msg), "%s", why);
}

/* `criu --version` and `criu check`. Returns 0 (caps->available says how it
 * went) or -1 (err). */
static int probe_base(const char *criu, struct vs_mig_caps *caps, struct vs_error *err)
{
	struct vs_mig_result r = {0};
	char why[VS_MIG_MSG_MAX];
	int rc;

	rc = criu_ok(criu, "--version", NULL, NULL, &r, why, sizeof(why), err);
	if (rc < 0)
		return -1;
	if (rc == 1)
		vs_mig_parse_version(r.out, caps->version, sizeof(caps->version));
	vs_mig_result_free(&r);
	if (rc == 0) {
		msgf(caps->available_msg, sizeof(caps->available_msg), "%s --version failed: %s",
		     criu, why);
		return 0;
	}
	rc = criu_ok(criu, "check", NULL, NULL, &r, why, sizeof(why), err);
	vs_mig_result_free(&r);
	if (rc < 0)
		return -1;
	caps->available = rc == 1;
	if (!caps->available)
		msgf(caps->available_msg, sizeof(caps->available_msg), "%s check failed: %s", criu,
		     why);
	return 0;
}

static int probe_network_lock(const char *criu, struct vs_mig_caps *caps, struct vs_error *err)
{
	char why[VS_MIG_MSG_MAX];
	int rc = feature(criu, "network_lock_nftables", why, sizeof(why), err);

	if (rc < 0)
		return -1;
	if (rc == 1) {
		caps->network_lock = VS_MIG_NETLOCK_NFTABLES;
		return 0;
	}
	/* CRIU's iptables method runs both programs (IPv4 and IPv6 rules)
	 * through execvp with the PATH we give it. */
	if (vs_mig_in_path(VS_MIG_PATH, "iptables-restore") &&
	    vs_mig_in_path(VS_MIG_PATH, "ip6tables-restore")) {
		caps->network_lock = VS_MIG_NETLOCK_IPTABLES;
		return 0;
	}
	msgf(caps->network_lock_msg, sizeof(caps->network_lock_msg),
	     "no network lock while frozen: nftables: %s; iptables: iptables-restore and "
	     "ip6tables-restore not both in %s (install the iptables package)",
	     why, VS_MIG_PATH);
	return 0;
}

bool vs_mig_uffd_userns(const char *path, char *why, size_t len)
{
	cleanup_free char *text = NULL;
	struct vs_error e = {0};

	if (vs_read_file_at(AT_FDCWD, path, 64, &text, NULL, &e) < 0) {
		msgf(why, len,
		     "cannot read %s (%s): a restored container's tasks may not be allowed to "
		     "open userfaultfd",
		     path, e.msg);
		return false;
	}
	text[strcspn(text, "\n")] = '\0';
	if (strcmp(text, "1") == 0)
		return true;
	msgf(why, len,
	     "vm.unprivileged_userfaultfd is %.16s: a restored container's tasks run in its "
	     "user namespace, where CRIU's userfaultfd(2) fails with EPERM unless the "
	     "sysctl is 1 (\"To use --lazy-pages, run with CAP_SYS_PTRACE in the root user "
	     "namespace or set 'sysctl -w vm.unprivileged_userfaultfd=1'\")",
	     text);
	return false;
}

static int probe_features(const char *criu, struct vs_mig_caps *caps, struct vs_error *err)
{
	char why[VS_MIG_MSG_MAX];
	int rc;

	/* uffd-noncoop checks uffd itself first, then the fork/remap/unmap
	 * events a restored tree needs. */
	rc = feature(criu, "uffd-noncoop", why, sizeof(why), err);
	if (rc < 0)
		return -1;
	/* As root it passes where the restored tasks, in the container's
	 * user namespace, would still be refused their userfaultfd. */
	if (rc == 1 && !vs_mig_uffd_userns(VS_MIG_UFFD_SYSCTL, why, sizeof(why)))
		rc = 0;
	caps->lazy_pages = rc == 1;
	if (!caps->lazy_pages)
		msgf(caps->lazy_pages_msg, sizeof(caps->lazy_pages_msg),
		     "no lazy pages (post-copy migration): %s", why);
	rc = feature(criu, "mem_dirty_track", why, sizeof(why), err);
	if (rc < 0)
		return -1;
	caps->mem_tracking = rc == 1;
	if (!caps->mem_tracking)
		msgf(caps->mem_tracking_msg, sizeof(caps->mem_tracking_msg),
		     "no memory change tracking (iterative pre-copy, pre-dump --track-mem; "
		     "needs a kernel with CONFIG_MEM_SOFT_DIRTY): %s",
		     why);
	return probe_network_lock(criu, caps, err);
}

int vs_mig_probe(const char *criu_path, struct vs_mig_caps *caps, struct vs_error *err)
{
	memset(caps, 0, sizeof(*caps));
	if (criu_path == NULL)
		criu_path = vs_mig_default_criu();
	if (criu_path == NULL) {
		msgf(caps->available_msg, sizeof(caps->available_msg),
		     "no CRIU found (neither %s nor %s); install it with "
		     "scripts/install-criu.sh",
		     VS_MIG_CRIU_PRIVATE, VS_MIG_CRIU_SYSTEM);
		set_unusable(caps);
		return 0;
	}
	if (criu_path[0] != '/')
		return vs_error_kind(err, VS_EK_INVALID, "criu path must be absolute, not '%.200s'",
				     criu_path);
	if (!executable_file(criu_path)) {
		msgf(caps->available_msg, sizeof(caps->available_msg),
		     "%s is not an executable file", criu_path);
		set_unusable(caps);
		return 0;
	}
	if (probe_base(criu_path, caps, err) < 0)
		goto fail;
	if (!caps->available) {
		set_unusable(caps);
		return 0;
	}
	if (probe_features(criu_path, caps, err) < 0)
		goto fail;
	return 0;
fail:
	memset(caps, 0, sizeof(*caps));
	return vs_error_prefix(err, "probe %s", criu_path);
}
