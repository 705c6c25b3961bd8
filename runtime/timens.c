/* The container's own time namespace: its uptime counts from its start.
 *
 * sysinfo(2).uptime (busybox `uptime`, `free`'s neighbours), /proc/uptime,
 * the start times in /proc/PID/stat and btime in /proc/stat all read
 * CLOCK_BOOTTIME through the reader's time namespace. A namespace whose
 * boottime offset is minus the host's boottime at start therefore shows a
 * freshly booted machine, natively, with no FUSE file in between.
 *
 * CLOCK_MONOTONIC gets the same treatment (minus the host's monotonic at
 * the same instant): on a real machine init starts with both clocks near
 * zero and boottime >= monotonic always (boottime adds suspended time), and
 * software in a guest may rely on either. Timers and sleeps against
 * CLOCK_MONOTONIC are converted by the kernel, so nothing breaks; only
 * CLOCK_REALTIME (date) is never offset (the kernel has no such offset).
 *
 * The kernel takes offsets only before the first process enters the
 * namespace, and CRIU dumps a container only when every namespace of it
 * belongs to its user namespace ("One or more namespaces doesn't belong to
 * the target user namespace"; a time namespace belongs to the user
 * namespace of the process that made it). So the container's child itself
 * makes it, after its id maps are written, with unshare(CLONE_NEWTIME):
 * that changes only the namespace its children would be born into
 * (time_for_children, which /proc/self/timens_offsets names). It writes
 * the offsets there and setns()es into it before exec'ing init. CRIU then
 * dumps the container's clock values and its restore makes a namespace
 * whose clocks go on from those values. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "runtime/rt-private.h"

#define NSEC_PER_SEC 1000000000L

/* The kernel wants "<clock> <secs> <nsecs>" with 0 <= nsecs < 1e9, so a
 * negative offset -(s.n) is written as (-s - 1) and (1e9 - n). */
static int format_one(char *buf, size_t len, clockid_t clock, const struct timespec *now)
{
	long long sec = -(long long)now->tv_sec;
	long nsec = 0;

	if (now->tv_nsec > 0) {
		sec -= 1;
		nsec = NSEC_PER_SEC - now->tv_nsec;
	}
	return snprintf(buf, len, "%d %lld %ld\n", (int)clock, sec, nsec);
}

int rt_timens_offsets_text(const struct timespec *mono, const struct timespec *boot, char *buf,
			   size_t len)
{
	int a, b;

	if (mono->tv_sec < 0 || boot->tv_sec < 0 || mono->tv_nsec < 0 ||
	    mono->tv_nsec >= NSEC_PER_SEC || boot->tv_nsec < 0 || boot->tv_nsec >= NSEC_PER_SEC)
		return -1;
	a = format_one(buf, len, CLOCK_MONOTONIC, mono);
	if (a < 0 || (size_t)a >= len)
		return -1;
	b = format_one(buf + a, len - (size_t)a, CLOCK_BOOTTIME, boot);
	if (b < 0 || (size_t)b >= len - (size_t)a)
		return -1;
	return a + b;
}

void rt_time_zero_now(struct rt_time_zero *z)
{
	/* Read together, so boottime - monotonic (the host's suspended time)
	 * starts at zero in the container as on a freshly booted machine.
	 * Neither call can fail with these clocks and a valid pointer. */
	clock_gettime(CLOCK_MONOTONIC, &z->mono);
	clock_gettime(CLOCK_BOOTTIME, &z->boot);
}

int rt_timens_enter_own(const struct rt_time_zero *z, struct vs_error *err)
{
	cleanup_close int fd = -1, ns = -1;
	char text[128];
	int n;

	if (access("/proc/self/ns/time", F_OK) < 0)
		return 0; /* a kernel without CONFIG_TIME_NS */
	/* z was read before this process was cloned, so its start time (in
	 * /proc/1/stat, what ps shows) is >= 0 in the namespace, and the
	 * kernel, reading its clocks later still, finds now + offset >= 0 as
	 * it requires. */
	n = rt_timens_offsets_text(&z->mono, &z->boot, text, sizeof(text));
	if (n < 0)
		return vs_error_set(err, EINVAL, "time namespace offsets");
	if (unshare(CLONE_NEWTIME) < 0)
		return vs_error_set(err, errno, "unshare the time namespace");
	fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return vs_error_set(err, errno, "open /proc/self/timens_offsets");
	/* One write: the kernel applies a write's lines all or none. */
	if (write(fd, text, (size_t)n) != n)
		return vs_error_set(err, errno ? errno : EIO, "write the time namespace offsets");
	ns = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		return vs_error_set(err, errno, "open /proc/self/ns/time_for_children");
	/* Entering it ourselves (single-threaded, as setns requires) freezes
	 * the offsets; what we exec, init, then runs in it. */
	if (setns(ns, CLONE_NEWTIME) < 0)
		return vs_error_set(err, errno, "enter the new time namespace");
	return 1;
}
