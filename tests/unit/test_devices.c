/* The container's device list (lib/vs_devices.h) and what its users make
 * of it: the cgroup v1 rules, the cgroup v2 BPF device program (run here
 * by a small interpreter of the few instructions it uses), the names
 * restore may bind from the host, and the nodes an import may carry. */
#include <errno.h>
#include <linux/bpf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroups/cg-private.h"
#include "lib/vs_devices.h"
#include "lib/vs_util.h"

/* What the cgroup rules allowed before the list was written once: the
 * v1 rules must stay exactly these. */
static const char *const v1_rules[] = {
    "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm",	  "c 1:9 rwm",
    "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm",
};

static void test_v1_rules(void **state)
{
	char buf[64];

	assert_int_equal(vs_devices_count, VS_ARRAY_SIZE(v1_rules));
	for (size_t i = 0; i < vs_devices_count; i++)
		assert_string_equal(vs_device_rule(&vs_devices[i], buf, sizeof(buf)), v1_rules[i]);
}

/* The host binds: mounts.c's /dev nodes and checkpoint's external mounts. */
static void test_host_binds(void **state)
{
	static const char *const bound[] = {"null", "zero", "full", "random", "urandom", "tty"};
	size_t n = 0;

	for (size_t i = 0; i < VS_ARRAY_SIZE(bound); i++) {
		const struct vs_device *d = vs_device_host(bound[i]);
		assert_non_null(d);
		assert_string_equal(d->name, bound[i]);
		assert_int_equal(d->type, 'c');
	}
	for (size_t i = 0; i < vs_devices_count; i++)
		n += vs_devices[i].host_bind;
	assert_int_equal(n, VS_ARRAY_SIZE(bound));
	assert_int_equal(vs_device_host("null")->minor, 3);
	assert_int_equal(vs_device_host("tty")->major, 5);
	/* Made inside the container, never bound from the host. */
	assert_null(vs_device_host("console"));
	assert_null(vs_device_host("ptmx"));
	assert_null(vs_device_host("pts"));
	/* What an image could try to name. */
	assert_null(vs_device_host("sda"));
	assert_null(vs_device_host("../null"));
	assert_null(vs_device_host("null/"));
	assert_null(vs_device_host(""));
}

static void test_fixed(void **state)
{
	assert_string_equal(vs_device_fixed('c', 1, 3)->name, "null");
	assert_string_equal(vs_device_fixed('c', 5, 2)->name, "ptmx");
	assert_null(vs_device_fixed('c', 1, 1)); /* /dev/mem */
	assert_null(vs_device_fixed('c', 1, 2)); /* /dev/kmem */
	assert_null(vs_device_fixed('b', 1, 3));
	/* A pty slave is allowed in the cgroup, not as a node in a rootfs. */
	assert_null(vs_device_fixed('c', 136, 0));
	assert_null(vs_device_fixed('c', 0, 0));
}

/* Run the device program for one access: 1 allow, 0 deny. Only the
 * instructions vs_cg_devices_program emits are known; anything else (or
 * a jump out of the program) fails the test. */
static int run_program(const struct bpf_insn *p, size_t n, int type, int access, unsigned int maj,
		       unsigned int min)
{
	const uint32_t ctx[3] = {(uint32_t)(access << 16 | type), maj, min};
	int64_t r[11] = {0};

	for (size_t pc = 0; pc < n; pc++) {
		const struct bpf_insn *i = &p[pc];
		switch (i->code) {
		case BPF_LDX | BPF_W | BPF_MEM:
			assert_int_equal(i->src_reg, BPF_REG_1);
			assert_true(i->off >= 0 && i->off <= 8 && i->off % 4 == 0);
			r[i->dst_reg] = ctx[i->off / 4];
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			r[i->dst_reg] = (uint32_t)(r[i->dst_reg] & i->imm);
			break;
		case BPF_ALU64 | BPF_MOV | BPF_K:
			r[i->dst_reg] = i->imm;
			break;
		case BPF_JMP | BPF_JNE | BPF_K:
			if (r[i->dst_reg] != i->imm)
				pc += (size_t)i->off;
			assert_true(pc < n);
			break;
		case BPF_JMP | BPF_EXIT:
			return (int)r[BPF_REG_0];
		default:
			fail_msg("instruction %zu: unexpected opcode 0x%x", pc, i->code);
		}
	}
	fail_msg("the program ran off its end");
	return -1;
}

static void test_bpf_program(void **state)
{
	struct bpf_insn p[64];
	size_t n = vs_cg_devices_program(p, VS_ARRAY_SIZE(p));
	const int rw = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

	assert_true(n > 0 && n < VS_ARRAY_SIZE(p));
	for (size_t i = 0; i < vs_devices_count; i++) {
		const struct vs_device *d = &vs_devices[i];
		unsigned int min = d->minor < 0 ? 7 : (unsigned int)d->minor;
		if (run_program(p, n, BPF_DEVCG_DEV_CHAR, rw, d->major, min) != 1)
			fail_msg("%s (%u:%u) denied", d->name, d->major, min);
		assert_int_equal(
		    run_program(p, n, BPF_DEVCG_DEV_CHAR, BPF_DEVCG_ACC_MKNOD, d->major, min), 1);
		/* The same numbers as a block device are something else. */
		assert_int_equal(run_program(p, n, BPF_DEVCG_DEV_BLOCK, rw, d->major, min), 0);
	}
	assert_int_equal(run_program(p, n, BPF_DEVCG_DEV_CHAR, rw, 136, 4095), 1);
	assert_int_equal(run_program(p, n, BPF_DEVCG_DEV_CHAR, rw, 1, 1), 0);  /* mem */
	assert_int_equal(run_program(p, n, BPF_DEVCG_DEV_CHAR, rw, 1, 11), 0); /* kmsg */
	assert_int_equal(run_program(p, n, BPF_DEVCG_DEV_CHAR, rw, 5, 3), 0);
	assert_int_equal(run_program(p, n, BPF_DEVCG_DEV_CHAR, rw, 4, 0), 0);	 /* tty0 */
	assert_int_equal(run_program(p, n, BPF_DEVCG_DEV_CHAR, rw, 10, 229), 0); /* fuse */
	assert_int_equal(run_program(p, n, BPF_DEVCG_DEV_BLOCK, rw, 8, 0), 0);	 /* sda */
}

/* The kernel's verifier takes the program (root only; nothing attached). */
static void test_bpf_verifier(void **state)
{
	struct bpf_insn p[64];
	size_t n = vs_cg_devices_program(p, VS_ARRAY_SIZE(p));
	union bpf_attr load = {0};
	char log[16384] = "";
	int fd;

	if (geteuid() != 0) {
		skip();
		return;
	}
	load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	load.insns = (uint64_t)(uintptr_t)p;
	load.insn_cnt = (uint32_t)n;
	load.license = (uint64_t)(uintptr_t) "GPL";
	load.log_buf = (uint64_t)(uintptr_t)log;
	load.log_size = sizeof(log);
	load.log_level = 1;
	fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof(load));
	if (fd < 0)
		fail_msg("BPF_PROG_LOAD: %s\n%s", strerror(errno), log);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v1_rules),	 cmocka_unit_test(test_host_binds),
	    cmocka_unit_test(test_fixed),	 cmocka_unit_test(test_bpf_program),
	    cmocka_unit_test(test_bpf_verifier),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
