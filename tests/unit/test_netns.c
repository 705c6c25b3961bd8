/* netns: the loopback of a fresh network namespace, brought up through
 * rtnetlink. Root only (unshare(CLONE_NEWNET)); skipped otherwise. Each
 * case runs in a forked child that reports through its exit status, so the
 * test process itself never changes namespace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netns/vs_netns.h"

enum {
	OK = 0,
	E_UNSHARE = 10,
	E_ALREADY_UP,
	E_CALL,
	E_NOT_UP,
	E_FLAGS,
	E_CAPS,
	E_NO_ERROR,
	E_WRONG_ERROR,
};

/* lo's flags in the calling thread's namespace, or -1. */
static int lo_flags(void)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	r = ioctl(fd, SIOCGIFFLAGS, &ifr);
	close(fd);
	return r < 0 ? -1 : ifr.ifr_flags;
}

static int child_up(void)
{
	struct vs_error err = {0};
	int flags;

	if (unshare(CLONE_NEWNET) < 0)
		return E_UNSHARE;
	if ((flags = lo_flags()) < 0)
		return E_FLAGS;
	/* Fresh namespaces start with lo down. */
	if (flags & IFF_UP)
		return E_ALREADY_UP;
	/* Twice: the second call finds it up and must succeed as well. */
	for (int i = 0; i < 2; i++) {
		if (vs_net_loopback_up(&err) < 0) {
			fprintf(stderr, "vs_net_loopback_up: %s\n", err.msg);
			return E_CALL;
		}
		if ((flags = lo_flags()) < 0)
			return E_FLAGS;
		if (!(flags & IFF_UP))
			return E_NOT_UP;
	}
	return OK;
}

/* Without CAP_NET_ADMIN the kernel refuses; the error must say so. */
static int child_no_cap(void)
{
	struct vs_error err = {0};
	cap_value_t net_admin = CAP_NET_ADMIN;
	cap_t caps;
	int r;

	if (unshare(CLONE_NEWNET) < 0)
		return E_UNSHARE;
	caps = cap_get_proc();
	if (caps == NULL)
		return E_CAPS;
	r = cap_set_flag(caps, CAP_EFFECTIVE, 1, &net_admin, CAP_CLEAR);
	if (r == 0)
		r = cap_set_proc(caps);
	cap_free(caps);
	if (r < 0)
		return E_CAPS;
	if (vs_net_loopback_up(&err) == 0)
		return E_NO_ERROR;
	if (err.errnum != EPERM || strstr(err.msg, "loopback") == NULL) {
		fprintf(stderr, "unexpected error: %d %s\n", err.errnum, err.msg);
		return E_WRONG_ERROR;
	}
	if ((r = lo_flags()) < 0)
		return E_FLAGS;
	return r & IFF_UP ? E_ALREADY_UP : OK;
}

static int run_child(int (*fn)(void))
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_loopback_up(void **state)
{
	if (geteuid() != 0)
		skip();
	assert_int_equal(run_child(child_up), OK);
}

static void test_loopback_error(void **state)
{
	if (geteuid() != 0)
		skip();
	assert_int_equal(run_child(child_no_cap), OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_loopback_up),
	    cmocka_unit_test(test_loopback_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
