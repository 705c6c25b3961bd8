/* Copies of a container's own layer: for checkpoints (the file system a
 * memory image was taken with) and snapshots.
 *
 * The layer is <cdir>/upper, or <cdir>/disk/upper with a disk quota. The
 * template is the shared read-only lower layer and is never copied.
 *
 * Why a real copy and not hard links: overlayfs writes to upper files in
 * place (an open(O_WRONLY) of an upper file that is already there is not a
 * copy-up), so a hard-linked "snapshot" would change with the container.
 * The copy is made by rsync (-aHAX --numeric-ids --sparse): it keeps
 * ownership in the container's id range, hard links, ACLs and every xattr
 * (as root rsync copies the trusted.* namespace too, which holds overlay's
 * opaque/redirect marks), sparse files, and whiteouts (0:0 character
 * devices, -D). Its quick check (size + mtime to the nanosecond) makes a
 * second run over a changed tree cost a walk plus the changed files, which
 * is what the frozen delta of a live checkpoint needs. rsync has no reflink
 * support: on btrfs/XFS a FICLONE copier would make these copies O(1) in
 * data; ext4 (the development hosts) has no reflinks either way.
 *
 * Snapshots of the same container are immutable once made, so a new one
 * hard-links files unchanged since the newest previous one
 * (--link-dest): safe because neither copy is ever written in place again
 * (putting a snapshot back copies it, see vs_fs_layer_put_back). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs-cow/fs-private.h"
#include "lib/vs_io.h"
#include "lib/vs_spawn.h"
#include "lib/vs_syscall.h"
#include "lib/vs_util.h"

#define RSYNC	 VS_RSYNC_PATH
#define SWAP_DIR ".upper.vsd-swap"

extern char **environ;

/* A copy is durable before anything refers to it: syncfs flushes the
 * whole filesystem holding path (one call for a tree of any size). */
static int sync_tree(const char *path, struct vs_error *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || syncfs(fd) < 0)
		return vs_error_set(err, errno, "sync %s", path);
	return 0;
}

char *vs_fs_upper_dir(const char *cdir)
{
	cleanup_close int cfd = open(cdir, O_PATH | O_DIRECTORY | O_CLOEXEC);

	return xasprintf("%s/%supper", cdir, cfd >= 0 ? vs_fs_layer_prefix(cfd) : "");
}

const char *vs_fs_rsync_path(void)
{
	return RSYNC;
}

/* rsync's exit code for a copy from which source files vanished. */
#define RSYNC_VANISHED 24

/* rsync src/ into dst/ so that dst equals src (--delete); link_dest: a
 * previous immutable copy to hard-link unchanged files from, or NULL;
 * live: vanished source files are no error. */
static int run_rsync(const char *src, const char *dst, const char *link_dest, bool live,
		     struct vs_error *err)
{
	cleanup_free char *s = xasprintf("%s/", src);
	cleanup_free char *t = xasprintf("%s/", dst);
	cleanup_free char *ld = link_dest ? xasprintf("--link-dest=%s", link_dest) : NULL;
	char *argv[] = {
	    RSYNC, "-aHAX", "--numeric-ids", "--sparse", "--delete", "--quiet", "--", s, t,
	    NULL,  NULL};
	cleanup_close int out = memfd_create("rsync", MFD_CLOEXEC);
	int status = 0, rc;
	pid_t pid;
	char msg[512];

	if (ld != NULL) { /* before "--" */
		memmove(&argv[7], &argv[6], 3 * sizeof(char *));
		argv[6] = ld;
	}
	if (out < 0)
		return vs_error_set(err, errno, "memfd");
	rc = vs_spawn(argv, environ, out, NULL, 0, &pid);
	if (rc != 0)
		return rc == ENOENT
			   ? vs_error_kind(err, VS_EK_UNSUPPORTED,
					   "copying a layer needs %s (install rsync)", RSYNC)
			   : vs_error_set(err, rc, "start %s", RSYNC);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return vs_error_set(err, errno, "wait for rsync");
	if (WIFEXITED(status) &&
	    (WEXITSTATUS(status) == 0 || (live && WEXITSTATUS(status) == RSYNC_VANISHED)))
		return 0;
	vs_spawn_last_line(out, msg, sizeof(msg));
	if (WIFEXITED(status))
		return vs_error_set(err, 0, "copy %s to %s: rsync exited with %d%s%s", src, dst,
				    WEXITSTATUS(status), msg[0] ? ": " : "", msg);
	return vs_error_set(err, 0, "copy %s to %s: rsync killed by signal %d", src, dst,
			    WTERMSIG(status));
}

int vs_fs_layer_copy(const char *cdir, const char *dst, const char *link_dest, bool live,
		     struct vs_error *err)
{
	cleanup_free char *upper = vs_fs_upper_dir(cdir);
	struct stat st;

	if (stat(upper, &st) < 0 || !S_ISDIR(st.st_mode))
		return vs_error_set(err, errno ? errno : ENOTDIR, "layer %s", upper);
	if (mkdir(dst, 0700) < 0 && errno != EEXIST)
		return vs_error_set(err, errno, "create %s", dst);
	if (run_rsync(upper, dst, link_dest, live, err) < 0)
		return -1;
	return sync_tree(dst, err);
}

char *vs_fs_layer_sync_script(void)
{
	/* criu executes an action script as a program, for every action;
	 * only post-dump (all tasks dumped and still frozen) copies. The
	 * paths come through the environment so nothing is quoted into the
	 * shell text. A failure makes criu leave the tasks running and fail
	 * the dump. */
	return xasprintf("#!/bin/sh\n"
			 "[ \"$CRTOOLS_SCRIPT_ACTION\" = post-dump ] || exit 0\n"
			 "exec %s -aHAX --numeric-ids --sparse --delete --quiet -- "
			 "\"$VSD_LAYER_SRC/\" \"$VSD_LAYER_DST/\"\n",
			 RSYNC);
}

/* The directory holding upper/ and work/ (cdir or cdir/disk), opened. */
static int open_base(const char *cdir, struct vs_error *err)
{
	cleanup_close int cfd = open(cdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	const char *prefix;
	int fd;

	if (cfd < 0)
		return vs_error_set(err, errno, "open %s", cdir);
	prefix = vs_fs_layer_prefix(cfd);
	if (prefix[0] == '\0')
		return steal_fd(&cfd);
	fd = openat(cfd, prefix, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return vs_error_set(err, errno, "open %s/%s", cdir, prefix);
	return fd;
}

/* overlayfs' scratch directory may hold what a mount left (work/work,
 * index); it must not outlive the upper it belonged to. */
static int reset_work(int basefd, struct vs_error *err)
{
	cleanup_dir DIR *d = NULL;
	cleanup_close int wfd =
	    openat(basefd, "work", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *e;

	if (wfd < 0)
		return errno == ENOENT ? 0 : vs_error_set(err, errno, "open work");
	d = fdopendir(dup(wfd));
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (vs_fs_remove_tree(wfd, e->d_name, err) < 0)
			return -1;
	}
	return 0;
}

int vs_fs_layer_put_back(const char *cdir, const char *src, struct vs_error *err)
{
	cleanup_close int basefd = -1;
	cleanup_free char *swap = NULL;
	cleanup_free char *base = NULL;
	struct stat st;

	if (vs_fs_rootfs_mounted(cdir))
		return vs_error_kind(
		    err, VS_EK_CONFLICT,
		    "the container's root is mounted; its layer cannot be replaced");
	if (stat(src, &st) < 0 || !S_ISDIR(st.st_mode))
		return vs_error_kind(err, VS_EK_INVALID, "%s: no layer copy there", src);
	if (vs_fs_disk_mount(cdir, err) < 0 || (basefd = open_base(cdir, err)) < 0)
		return -1;
	/* A path rsync (another process) can open; basefd pins the same
	 * directory for the renames. */
	{
		cleanup_close int cfd = open(cdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		base = xasprintf("%s/%s", cdir, cfd >= 0 ? vs_fs_layer_prefix(cfd) : "");
	}
	swap = xasprintf("%s" SWAP_DIR, base);
	/* A leftover of a crash: either half a copy or the old layer. */
	if (vs_fs_remove_tree(basefd, SWAP_DIR, err) < 0)
		return -1;
	if (mkdirat(basefd, SWAP_DIR, 0700) < 0)
		return vs_error_set(err, errno, "create %s/%s", cdir, SWAP_DIR);
	if (run_rsync(src, swap, NULL, false, err) < 0 || sync_tree(swap, err) < 0) {
		vs_fs_remove_tree(basefd, SWAP_DIR, NULL);
		return vs_error_prefix(err, "put the layer back");
	}
	/* One atomic step: a crash before it leaves the old upper (and a
	 * partial swap directory), after it the new upper (and the old one
	 * in the swap directory); vs_fs_layer_recover removes the swap
	 * directory in both cases. */
	if (renameat2(basefd, SWAP_DIR, basefd, "upper", RENAME_EXCHANGE) < 0)
		return vs_error_set(err, errno, "exchange %s/upper", cdir);
	fsync(basefd);
	if (vs_fs_remove_tree(basefd, SWAP_DIR, err) < 0 || reset_work(basefd, err) < 0)
		return vs_error_prefix(err, "put the layer back (the new layer is in place)");
	return 0;
}

int vs_fs_layer_recover(const char *cdir, struct vs_error *err)
{
	cleanup_close int basefd = -1;
	struct stat st;

	if (vs_fs_disk_present(cdir) && vs_fs_disk_mount(cdir, err) < 0)
		return -1;
	basefd = open_base(cdir, err);
	if (basefd < 0)
		return -1;
	if (fstatat(basefd, SWAP_DIR, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return vs_fs_remove_tree(basefd, SWAP_DIR, err) < 0 ? -1 : 1;
}
