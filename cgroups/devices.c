/* Device access of privileged containers. An unprivileged container's root
 * cannot open a host device node anyway (mknod is refused in a user
 * namespace and the bind-mounted nodes are the harmless ones); a privileged
 * container's root could mknod /dev/sda. So everything but the nodes vsd
 * gives every container and ptys (lib/vs_devices.h, the one list) is
 * denied: through the v1 devices
 * controller where there is one, else (cgroup v2) with a BPF program of
 * type CGROUP_DEVICE attached to the container's cgroup. */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroups/cg-private.h"
#include "cgroups/vs_cgroups.h"
#include "lib/vs_devices.h"
#include "lib/vs_util.h"

#define INSN(c, d, s_, o, i)                                                                       \
	((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s_), .off = (o), .imm = (i)})

/* r1 = struct bpf_cgroup_dev_ctx *. Allow (r0 = 1) a listed char device,
 * deny (r0 = 0) everything else. Each rule is a run of compares that jump
 * past the rule's "return 1" on mismatch. */
size_t vs_cg_devices_program(struct bpf_insn *p, size_t max)
{
	size_t n = 0;

	p[n++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, 0, 0); /* access_type */
	p[n++] = INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);    /* device type */
	p[n++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_3, BPF_REG_1, 4, 0); /* major */
	p[n++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, 8, 0); /* minor */
	for (size_t i = 0; i < vs_devices_count && n + 6 < max; i++) {
		const struct vs_device *d = &vs_devices[i];
		bool any = d->minor == VS_DEVICE_ANY_MINOR;
		short skip = any ? 3 : 4; /* to the next rule */
		int type = d->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK;
		p[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, skip--, type);
		p[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_3, 0, skip--, (int)d->major);
		if (!any)
			p[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, skip--, d->minor);
		p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
		p[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	}
	p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
	p[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return n;
}

static int attach_bpf(const char *dir, struct vs_error *err)
{
	struct bpf_insn prog[64];
	size_t n = vs_cg_devices_program(prog, VS_ARRAY_SIZE(prog));
	union bpf_attr load = {0}, attach = {0};
	char log[16384] = "";
	cleanup_close int pfd = -1, cgfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (cgfd < 0)
		return vs_error_set(err, errno, "open %s", dir);
	load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	load.insns = (uint64_t)(uintptr_t)prog;
	load.insn_cnt = (uint32_t)n;
	load.license = (uint64_t)(uintptr_t) "GPL";
	/* Without a log first: a log buffer too small for the verifier's
	 * output fails the load (ENOSPC) on older kernels. */
	pfd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof(load));
	if (pfd < 0) {
		int e = errno;
		size_t len;
		const char *last;
		load.log_buf = (uint64_t)(uintptr_t)log;
		load.log_size = sizeof(log);
		load.log_level = 1;
		pfd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof(load));
		if (pfd < 0) {
			/* The verifier's reason is the log's last line. */
			len = strnlen(log, sizeof(log) - 1);
			while (len > 0 && log[len - 1] == '\n')
				log[--len] = '\0';
			last = strrchr(log, '\n');
			return vs_error_set(err, e, "load the device filter (%s)",
					    last ? last + 1 : log);
		}
	}
	attach.target_fd = (uint32_t)cgfd;
	attach.attach_bpf_fd = (uint32_t)pfd;
	attach.attach_type = BPF_CGROUP_DEVICE;
	/* Multi: the guest's own programs below (systemd's) can only narrow it. */
	attach.attach_flags = BPF_F_ALLOW_MULTI;
	if (syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof(attach)) < 0)
		return vs_error_set(err, errno, "attach the device filter to %s", dir);
	/* The attachment holds the program; our descriptors may go. */
	return 0;
}

int vs_cg_restrict_devices(struct vs_cg *cg, struct vs_error *err)
{
	int i = vs_cg_find(cg->host, "devices");

	if (i >= 0 && !cg->host->hier[i].v2) {
		if (vs_cg_write(cg->dirs[i], "devices.deny", "a", err) < 0)
			return -1;
		for (size_t k = 0; k < vs_devices_count; k++) {
			char rule[64];
			vs_device_rule(&vs_devices[k], rule, sizeof(rule));
			if (vs_cg_write(cg->dirs[i], "devices.allow", rule, err) < 0)
				return -1;
		}
		return 0;
	}
	if (cg->host->unified >= 0 && cg->host->mode == VS_CG_UNIFIED)
		return attach_bpf(cg->dirs[cg->host->unified], err);
	return vs_error_kind(err, VS_EK_UNSUPPORTED, "no device controller on this host");
}
