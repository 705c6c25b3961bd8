/* cr-memhog: hold MB megabytes of touched anonymous memory, for bench/cr.sh.
 *
 *   cr-memhog MB READY              allocate, touch, write READY, sleep
 *   cr-memhog --pivot ROOT MB READY as pid 1 of fresh pid+mount namespaces
 *                                   (unshare --fork --pid --mount ...):
 *                                   pivot_root into ROOT, mount /proc, then
 *                                   re-exec /cr-memhog MB READY from there
 *
 * Built static (gcc -static) so that it runs inside a busybox container
 * and in the bench's bare root, which hold no libc. Every page gets
 * non-zero bytes, so every page is present and private and CRIU dumps all
 * of them. The re-exec in --pivot mode makes the program's own executable
 * live on the new root mount: CRIU must find every file the tree uses
 * (its exe included) on a mount of the dumped namespace. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void pivot(const char *root)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("make / private");
	/* pivot_root needs the new root to be a mount point. */
	if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
		die("bind the root");
	if (chdir(root) < 0)
		die("chdir root");
	mkdir("oldroot", 0700);
	if (syscall(SYS_pivot_root, ".", "oldroot") < 0)
		die("pivot_root");
	if (chdir("/") < 0)
		die("chdir /");
	if (umount2("/oldroot", MNT_DETACH) < 0)
		die("umount oldroot");
	rmdir("/oldroot");
	mkdir("/proc", 0555);
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		die("mount proc");
}

int main(int argc, char **argv)
{
	unsigned long mb;
	size_t len, page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char *p;
	int fd;

	if (argc == 5 && strcmp(argv[1], "--pivot") == 0) {
		char *args[] = {"cr-memhog", argv[3], argv[4], NULL};
		/* Its own session: CRIU refuses a tree whose session leader
		 * is outside its pid namespace. */
		if (setsid() < 0)
			die("setsid");
		pivot(argv[2]);
		execv("/cr-memhog", args);
		die("exec /cr-memhog");
	}
	if (argc != 3) {
		fprintf(stderr, "usage: cr-memhog MB READY | cr-memhog --pivot ROOT MB READY\n");
		return 2;
	}
	mb = strtoul(argv[1], NULL, 10);
	len = mb << 20;
	if (len > 0) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap");
		for (size_t off = 0; off < len; off += page)
			memset(p + off, (int)((off / page) % 251) + 1, page);
	}
	fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, "ready\n", 6) != 6 || close(fd) < 0)
		die(argv[2]);
	/* Nothing of the caller's terminal, pipes or leaked descriptors stays
	 * open (CRIU would have to find them in the dumped namespace). */
	if (syscall(SYS_close_range, 0U, ~0U, 0U) < 0)
		die("close_range");
	/* As pid 1 of its namespace it ignores signals without a handler;
	 * the bench ends it with SIGKILL. */
	for (;;)
		pause();
}
