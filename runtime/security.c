/* The security policy of a container's processes: a trimmed capability
 * bounding set (libcap) and a default seccomp filter (libseccomp).
 *
 * A system container runs a whole distribution, so root inside keeps the
 * capabilities an init needs over its own namespaces (CAP_SYS_ADMIN for
 * mounts in its mount namespace, CAP_NET_ADMIN for its network namespace,
 * CAP_SYS_BOOT so reboot(2) restarts the container). What goes are the
 * capabilities whose object is the host itself. */
#include <errno.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/vs_util.h"
#include "runtime/rt-private.h"

static const cap_value_t dropped_caps[] = {
    CAP_SYS_MODULE,    CAP_SYS_RAWIO, CAP_SYS_TIME,   CAP_MAC_ADMIN,	 CAP_MAC_OVERRIDE,
    CAP_AUDIT_CONTROL, CAP_SYSLOG,    CAP_WAKE_ALARM, CAP_BLOCK_SUSPEND,
#ifdef CAP_PERFMON
    CAP_PERFMON,
#endif
#ifdef CAP_BPF
    CAP_BPF,
#endif
};

void rt_reset_signals(void)
{
	sigset_t all;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

uint64_t rt_caps_bound(void)
{
	int last = cap_max_bits() - 1;
	uint64_t mask = last >= 63 ? UINT64_MAX : (UINT64_C(1) << (last + 1)) - 1;

	for (size_t i = 0; i < VS_ARRAY_SIZE(dropped_caps); i++)
		mask &= ~(UINT64_C(1) << dropped_caps[i]);
	return mask;
}

int rt_caps_apply(struct vs_error *err)
{
	cap_t caps;

	for (size_t i = 0; i < VS_ARRAY_SIZE(dropped_caps); i++) {
		if (!CAP_IS_SUPPORTED(dropped_caps[i]))
			continue;
		if (cap_drop_bound(dropped_caps[i]) < 0)
			return vs_error_set(err, errno, "drop capability %s from bounding set",
					    cap_to_name(dropped_caps[i]));
	}
	/* Nothing is inherited across exec beyond what root naturally gets. */
	if (cap_reset_ambient() < 0 && errno != EINVAL)
		return vs_error_set(err, errno, "clear ambient capabilities");
	caps = cap_get_proc();
	if (caps == NULL)
		return vs_error_set(err, errno, "cap_get_proc");
	if (cap_clear_flag(caps, CAP_INHERITABLE) < 0 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, VS_ARRAY_SIZE(dropped_caps), dropped_caps,
			 CAP_CLEAR) < 0 ||
	    cap_set_flag(caps, CAP_PERMITTED, VS_ARRAY_SIZE(dropped_caps), dropped_caps,
			 CAP_CLEAR) < 0 ||
	    cap_set_proc(caps) < 0) {
		int e = errno;
		cap_free(caps);
		return vs_error_set(err, e, "set process capabilities");
	}
	cap_free(caps);
	return 0;
}

/* Denied with EPERM: loading kernels and modules, handle-based opens (the
 * "shocker" escape; name_to_handle_at stays: systemd reads cgroup ids
 * with it and a handle is useless without open_by_handle_at), host time, swap, kernel log,
 * accounting, raw I/O ports, the kernel keyring (not namespaced), and obsolete calls. reboot(2) is
 * allowed: in a child pid namespace the kernel turns it into a signal to the container's init,
 * which the monitor reads as restart or stop. */
static const char *const denied_syscalls[] = {
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "open_by_handle_at",
    "iopl",
    "ioperm",
    "swapon",
    "swapoff",
    "syslog",
    "acct",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "stime",
    "lookup_dcookie",
    "add_key",
    "request_key",
    "keyctl",
    "uselib",
    "nfsservctl",
    "get_kernel_syms",
    "query_module",
    "vm86",
    "vm86old",
    "_sysctl",
    "quotactl",
    "perf_event_open",
};

static int add_rules(scmp_filter_ctx ctx, struct vs_error *err)
{
	for (size_t i = 0; i < VS_ARRAY_SIZE(denied_syscalls); i++) {
		int nr = seccomp_syscall_resolve_name(denied_syscalls[i]);
		int r;
		if (nr == __NR_SCMP_ERROR)
			continue; /* not a syscall on these architectures */
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (r < 0 && r != -EEXIST)
			return vs_error_set(err, -r, "seccomp rule for %s", denied_syscalls[i]);
	}
	return 0;
}

/* The filter compiled once (rt_seccomp_prepare), or none. */
static struct sock_fprog prepared;

/* The filter in libseccomp's hands; NULL with err (and *rc) on failure. */
static scmp_filter_ctx build_filter(int *rc, struct vs_error *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	*rc = 0;
	if (ctx == NULL) {
		vs_error_set(err, ENOMEM, "seccomp_init");
		return NULL;
	}
	/* The same rules for the 32-bit ABIs, so int 0x80 is no way around. */
	if ((r = seccomp_arch_add(ctx, SCMP_ARCH_X86)) < 0 && r != -EEXIST)
		goto fail;
	if ((r = seccomp_arch_add(ctx, SCMP_ARCH_X32)) < 0 && r != -EEXIST)
		goto fail;
	/* Root in the container has CAP_SYS_ADMIN in its user namespace, which
	 * is what loading a filter without no_new_privs requires; leaving
	 * no_new_privs unset keeps setuid programs (su, ping) working. */
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0)
		goto fail;
	if (add_rules(ctx, err) < 0) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
fail:
	seccomp_release(ctx);
	*rc = r;
	vs_error_set(err, -r, "build seccomp filter");
	return NULL;
}

int rt_seccomp_prepare(struct vs_error *err)
{
	cleanup_close int fd = memfd_create("vsd-seccomp", MFD_CLOEXEC);
	scmp_filter_ctx ctx;
	off_t size;
	int r;

	if (prepared.filter != NULL)
		return 0;
	if (fd < 0)
		return vs_error_set(err, errno, "memfd for the seccomp filter");
	if ((ctx = build_filter(&r, err)) == NULL)
		return -1;
	r = seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	if (r < 0)
		return vs_error_set(err, -r, "export the seccomp filter");
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || size % (off_t)sizeof(struct sock_filter) != 0 ||
	    size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS)
		return vs_error_set(err, EINVAL, "exported seccomp filter of %lld bytes",
				    (long long)size);
	prepared.filter = xmalloc((size_t)size);
	if (pread(fd, prepared.filter, (size_t)size, 0) != size) {
		free(prepared.filter);
		prepared.filter = NULL;
		return vs_error_set(err, EIO, "read back the seccomp filter");
	}
	prepared.len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
	return 0;
}

int rt_seccomp_apply(struct vs_error *err)
{
	scmp_filter_ctx ctx;
	int r;

	/* What seccomp_load would do with this filter (no flags, no
	 * no_new_privs), without compiling it again. */
	if (prepared.filter != NULL) {
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prepared) < 0)
			return vs_error_set(err, errno, "load seccomp filter");
		return 0;
	}
	if ((ctx = build_filter(&r, err)) == NULL)
		return -1;
	r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0)
		return vs_error_set(err, -r, "load seccomp filter");
	return 0;
}
