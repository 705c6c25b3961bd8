/* vsd-test-memsum MB FILE: hold MB megabytes of pseudo-random anonymous
 * memory (every page private, present and incompressible), write its
 * checksum to FILE once filled, and again each time SIGUSR1 arrives,
 * computed afresh over the memory. The migration tests compare the two
 * across a move: the memory that arrived is the memory that left.
 *
 * vsd-test-memsum vfork PROGRAM: run PROGRAM through vfork and exec, one
 * after the other for ever, as dash runs every command: a checkpoint must
 * cope with a task caught waiting for its vfork child.
 *
 * Built static (make test-tools): it runs in a busybox guest, which has
 * no libc. Only the standard library and raw syscalls, so no project code. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t checksum(const uint64_t *p, size_t words)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < words; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

/* FILE.new then rename: a reader never sees it half written. */
static int report(const char *file, uint64_t sum)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.new", file);
	f = fopen(tmp, "we");
	if (f == NULL)
		return -1;
	fprintf(f, "%016llx\n", (unsigned long long)sum);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, file);
}

int main(int argc, char **argv)
{
	uint64_t x, *p;
	size_t words;
	sigset_t set;
	int sig;

	if (argc == 3 && strcmp(argv[1], "vfork") == 0) {
		for (;;) {
			pid_t c = vfork();

			if (c == 0) {
				execv(argv[2], argv + 2);
				_exit(127);
			}
			if (c < 0 || waitpid(c, NULL, 0) < 0)
				usleep(1000);
		}
	}
	if (argc != 3) {
		fprintf(stderr, "usage: vsd-test-memsum MB FILE | vfork PROGRAM\n");
		return 2;
	}
	words = (strtoul(argv[1], NULL, 10) << 20) / sizeof(uint64_t);
	p = mmap(NULL, words * sizeof(uint64_t), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	x = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ULL;
	for (size_t i = 0; i < words; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x;
	}
	/* SIGUSR1 taken by sigwait only, never by a handler. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (report(argv[2], checksum(p, words)) < 0) {
		perror(argv[2]);
		return 1;
	}
	/* No descriptor of the caller's stays open (CRIU would have to find
	 * it in the dumped namespace). */
	syscall(SYS_close_range, 0U, ~0U, 0U);
	for (;;)
		if (sigwait(&set, &sig) == 0 && report(argv[2], checksum(p, words)) < 0)
			return 1;
}
