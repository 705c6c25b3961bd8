/* Template builds: the dispatcher and the `busybox` builder.
 *
 * The busybox template is Debian's busybox-static binary with its applet
 * links and a handful of /etc files for busybox init. It is built in well
 * under a second, which makes it the template of the tests. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-cow/fs-private.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"

#define HOST_BUSYBOX "/bin/busybox"

static const struct {
	const char *path;
	mode_t mode;
} bb_dirs[] = {
    {"bin", 0755},	{"sbin", 0755}, {"usr", 0755},	      {"usr/bin", 0755},
    {"usr/sbin", 0755}, {"etc", 0755},	{"etc/init.d", 0755}, {"proc", 0555},
    {"sys", 0555},	{"dev", 0755},	{"run", 0755},	      {"tmp", 01777},
    {"root", 0700},	{"var", 0755},	{"var/log", 0755},    {"home", 0755},
};

/* Busybox init reads this. The runtime has already mounted /proc, /sys,
 * /dev and /run and set the hostname before init runs, so sysinit has
 * little to do. The shell runs on init's console (the pty the monitor
 * holds, what `vsctl console` attaches to) and is respawned when it exits,
 * so init never runs out of work. SIGUSR2 (vsd's stop signal for busybox)
 * runs the shutdown actions, then powers off. */
static const char bb_inittab[] = "# vsd busybox template\n"
				 "::sysinit:/etc/init.d/rcS\n"
				 "::respawn:-/bin/sh\n"
				 "::ctrlaltdel:/sbin/reboot\n"
				 "::shutdown:/bin/sync\n";

static const char bb_rcs[] = "#!/bin/sh\n"
			     "# Run once by busybox init at boot. The runtime has mounted /proc,\n"
			     "# /sys, /dev and /run and set the hostname already.\n"
			     "mkdir -p /var/log /tmp /run\n"
			     "[ -x /etc/rc.local ] && /etc/rc.local\n"
			     "exit 0\n";

static const char bb_profile[] = "export PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
				 "export PS1='\\u@\\h:\\w\\$ '\n"
				 "umask 022\n";

/* busybox's free applet asks sysinfo(2), which knows nothing of cgroups
 * and reports the host's RAM; the container's own figures are in its
 * /proc/meminfo (lxcfs). This free reads that, with the applet's options
 * (-b -k -m -g -h) and procps' columns. (Intercepting sysinfo with seccomp
 * user notification would not survive a checkpoint/restore.) */
static const char bb_free[] =
    "#!/bin/sh\n"
    "# vsd: free from /proc/meminfo (the container's own), not sysinfo(2).\n"
    "unit=1024\n"
    "for a in \"$@\"; do\n"
    "\tcase \"$a\" in\n"
    "\t-b) unit=1 ;; -k) unit=1024 ;; -m) unit=1048576 ;; -g) unit=1073741824 ;;\n"
    "\t-h) unit=h ;;\n"
    "\t*) echo \"usage: free [-b|-k|-m|-g|-h]\" >&2; exit 1 ;;\n"
    "\tesac\n"
    "done\n"
    "exec awk -v unit=\"$unit\" '\n"
    "function show(kb,  b, u, i) {\n"
    "\tb = kb * 1024\n"
    "\tif (unit != \"h\") return int(b / unit)\n"
    "\tsplit(\"B K M G T\", u, \" \"); i = 1\n"
    "\twhile (b >= 1024 && i < 5) { b /= 1024; i++ }\n"
    "\treturn sprintf(i == 1 ? \"%d%s\" : \"%.1f%s\", b, u[i])\n"
    "}\n"
    "/^MemTotal:/ { t = $2 } /^MemFree:/ { f = $2 } /^MemAvailable:/ { a = $2 }\n"
    "/^Buffers:/ { bu = $2 } /^Cached:/ { c = $2 } /^SReclaimable:/ { sr = $2 }\n"
    "/^Shmem:/ { sh = $2 } /^SwapTotal:/ { st = $2 } /^SwapFree:/ { sf = $2 }\n"
    "END {\n"
    "\tbc = bu + c + sr; used = a != \"\" ? t - a : t - f - bc; if (used < 0) used = t - f\n"
    "\tprintf \"%15s%12s%12s%12s%12s%12s\\n\", \"total\", \"used\", \"free\", \"shared\", "
    "\"buff/cache\", \"available\"\n"
    "\tprintf \"Mem:%11s%12s%12s%12s%12s%12s\\n\", show(t), show(used), show(f), show(sh), "
    "show(bc), show(a)\n"
    "\tprintf \"Swap:%10s%12s%12s\\n\", show(st), show(st - sf), show(sf)\n"
    "}' /proc/meminfo\n";

static const struct {
	const char *path;
	mode_t mode;
	const char *text;
} bb_files[] = {
    {"usr/bin/free", 0755, bb_free},
    {"etc/inittab", 0644, bb_inittab},
    {"etc/init.d/rcS", 0755, bb_rcs},
    {"etc/profile", 0644, bb_profile},
    {"etc/passwd", 0644,
     "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
    {"etc/group", 0644, "root:x:0:\nnogroup:x:65534:\n"},
    {"etc/shadow", 0600, "root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n"},
    {"etc/hostname", 0644, "localhost\n"},
    {"etc/hosts", 0644, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
    {"etc/os-release", 0644,
     "NAME=\"vsd busybox\"\nID=vsd-busybox\nPRETTY_NAME=\"vsd busybox\"\n"
     "HOME_URL=\"https://busybox.net/\"\n"},
};

/* Write a new file (never through an existing name or symlink). */
static int write_new(int dirfd, const char *path, mode_t mode, const char *text,
		     struct vs_error *err)
{
	cleanup_close int fd =
	    openat(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return vs_error_set(err, errno, "create /%s", path);
	if (vs_write_all(fd, text, strlen(text)) < 0 || fchmod(fd, mode) < 0)
		return vs_error_set(err, errno, "write /%s", path);
	return 0;
}

/* A dynamically linked busybox (Debian's `busybox` package instead of
 * `busybox-static`) would find no libc in the template. */
static int check_static(int fd, struct vs_error *err)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(ph) || eh.e_phnum > 512)
		return vs_error_kind(err, VS_EK_UNSUPPORTED, "%s is not a 64-bit ELF executable",
				     HOST_BUSYBOX);
	for (unsigned k = 0; k < eh.e_phnum; k++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + k * sizeof(ph))) !=
		    (ssize_t)sizeof(ph))
			return vs_error_set(err, EIO, "read %s", HOST_BUSYBOX);
		if (ph.p_type == PT_INTERP)
			return vs_error_kind(err, VS_EK_UNSUPPORTED,
					     "%s is dynamically linked; install busybox-static",
					     HOST_BUSYBOX);
	}
	return 0;
}

static int copy_busybox(int rootfd, off_t *size, struct vs_error *err)
{
	cleanup_close int in = open(HOST_BUSYBOX, O_RDONLY | O_CLOEXEC);
	cleanup_close int out = -1;
	char buf[64 << 10];
	ssize_t n;

	*size = 0;
	if (in < 0)
		return vs_error_kind(err, VS_EK_UNSUPPORTED, "%s: %s (install busybox-static)",
				     HOST_BUSYBOX, strerror(errno));
	if (check_static(in, err) < 0)
		return -1;
	out = openat(rootfd, "bin/busybox", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		     0700);
	if (out < 0)
		return vs_error_set(err, errno, "create /bin/busybox");
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return vs_error_set(err, errno, "read %s", HOST_BUSYBOX);
		if (vs_write_all(out, buf, (size_t)n) < 0)
			return vs_error_set(err, errno, "write /bin/busybox");
		*size += n;
	}
	if (fchmod(out, 0755) < 0)
		return vs_error_set(err, errno, "chmod /bin/busybox");
	return 0;
}

struct applets {
	int rootfd;
	size_t links;
};

/* One line of `busybox --list-full`, e.g. "usr/bin/[" or "sbin/init". */
static int applet_link(void *ud, const char *line, struct vs_error *err)
{
	static const char *const dirs[] = {"bin/", "sbin/", "usr/bin/", "usr/sbin/"};
	struct applets *ap = ud;
	const char *name = strrchr(line, '/');
	bool ok = false;

	for (size_t k = 0; k < VS_ARRAY_SIZE(dirs) && name != NULL; k++)
		ok |= strncmp(line, dirs[k], strlen(dirs[k])) == 0 &&
		      (size_t)(name - line) + 1 == strlen(dirs[k]);
	/* Only the four FHS directories made above; anything else (such as the
	 * initrd-only "linuxrc") is not wanted in a container. */
	if (!ok || name[1] == '\0' || strcmp(name, "/.") == 0 || strcmp(name, "/..") == 0)
		return 0;
	if (symlinkat("/bin/busybox", ap->rootfd, line) < 0) {
		if (errno == EEXIST)
			return 0;
		return vs_error_set(err, errno, "symlink /%s", line);
	}
	ap->links++;
	return 0;
}

int vs_fs_build_busybox(int rootfd, vs_fs_progress_fn progress, void *ud, struct vs_error *err)
{
	char *const argv[] = {HOST_BUSYBOX, "--list-full", NULL};
	char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};
	struct applets ap = {.rootfd = rootfd};
	cleanup_free char *msg = NULL;
	off_t size;

	for (size_t k = 0; k < VS_ARRAY_SIZE(bb_dirs); k++) {
		/* mkdirat applies the umask; fchmodat sets the exact mode. */
		if (mkdirat(rootfd, bb_dirs[k].path, 0700) < 0 ||
		    fchmodat(rootfd, bb_dirs[k].path, bb_dirs[k].mode, 0) < 0)
			return vs_error_set(err, errno, "create /%s", bb_dirs[k].path);
	}
	if (copy_busybox(rootfd, &size, err) < 0)
		return -1;
	msg = xasprintf("busybox: copied %s (%lld bytes)", HOST_BUSYBOX, (long long)size);
	if (progress != NULL)
		progress(ud, msg);
	if (vs_fs_run(argv, envp, applet_link, &ap, err) < 0)
		return vs_error_prefix(err, "busybox applet links");
	free(msg);
	msg = xasprintf("busybox: %zu applet links", ap.links);
	if (progress != NULL)
		progress(ud, msg);
	/* The free applet's link gives way to the script above. */
	if (unlinkat(rootfd, "usr/bin/free", 0) < 0 && errno != ENOENT)
		return vs_error_set(err, errno, "remove the free applet link");
	for (size_t k = 0; k < VS_ARRAY_SIZE(bb_files); k++)
		if (write_new(rootfd, bb_files[k].path, bb_files[k].mode, bb_files[k].text, err) <
		    0)
			return -1;
	if (progress != NULL)
		progress(ud, "busybox: wrote /etc");
	return 0;
}

enum source_kind { SRC_BUSYBOX, SRC_DEBIAN };

static int parse_from(const char *from, enum source_kind *kind, char *suite, size_t len,
		      struct vs_error *err)
{
	if (from != NULL && strcmp(from, "busybox") == 0) {
		*kind = SRC_BUSYBOX;
		return 0;
	}
	if (from != NULL && strcmp(from, "debian") == 0) {
		*kind = SRC_DEBIAN;
		snprintf(suite, len, "bookworm");
		return 0;
	}
	if (from != NULL && strncmp(from, "debian:", 7) == 0 && strlen(from + 7) < len) {
		*kind = SRC_DEBIAN;
		snprintf(suite, len, "%s", from + 7);
		return 0;
	}
	char buf[64];
	vs_fs_printable(from ? from : "(null)", buf, sizeof(buf));
	return vs_error_kind(err, VS_EK_INVALID,
			     "from: unknown source '%s' (expected busybox, debian or debian:SUITE)",
			     buf);
}

int vs_fs_template_build(const char *root, const char *name, const char *from,
			 vs_fs_progress_fn progress, void *ud, struct vs_error *err)
{
	return vs_fs_template_build_cancellable(root, name, from, progress, ud, NULL, err);
}

int vs_fs_template_build_cancellable(const char *root, const char *name, const char *from,
				     vs_fs_progress_fn progress, void *ud,
				     const atomic_bool *cancel, struct vs_error *err)
{
	struct vs_fs_stage st;
	enum source_kind kind;
	char suite[64], source[128];
	const char *mirror = NULL;
	int rc;

	/* Everything checkable is checked before anything is created. */
	if (parse_from(from, &kind, suite, sizeof(suite), err) < 0)
		return -1;
	if (kind == SRC_DEBIAN && vs_fs_debian_check(suite, &mirror, err) < 0)
		return -1;
	if (vs_fs_stage_begin(root, name, &st, err) < 0)
		return -1;
	if (kind == SRC_BUSYBOX) {
		snprintf(source, sizeof(source), "busybox");
		rc = vs_fs_build_busybox(st.rootfsfd, progress, ud, err);
	} else {
		snprintf(source, sizeof(source), "debian:%s", suite);
		rc = vs_fs_build_debian(&st, suite, mirror, progress, ud, cancel, err);
	}
	if (rc == 0 && cancel != NULL && atomic_load(cancel))
		rc = vs_error_kind(err, VS_EK_CONFLICT, "cancelled");
	if (rc == 0)
		rc = vs_fs_stage_commit(&st, source, err);
	if (rc < 0) {
		vs_fs_stage_abort(&st);
		return -1; /* the caller names the template */
	}
	vs_fs_stage_release(&st);
	if (progress != NULL)
		progress(ud, "template ready");
	return 0;
}
