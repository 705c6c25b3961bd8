/* The container's console: a pty from a devpts instance of its own,
 * created by the monitor outside the container and mounted only at
 * run-dir/containers/NAME/console (0700, root). The container gets the
 * slave as init's stdio and bind-mounted on /dev/console; the master stays
 * with the monitor. Nothing the container controls is involved in
 * allocating it, so it cannot swap the pty under us (CVE-2025-52565), and
 * for CRIU the console is one external tty plus one external bind mount,
 * both re-creatable on restore. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_syscall.h"
#include "lib/vs_util.h"
#include "runtime/rt-private.h"

static int mount_devpts(const char *dir, uid_t uid, gid_t gid, struct vs_error *err)
{
	cleanup_close int fsfd = vs_fsopen("devpts", 0);
	cleanup_close int mfd = -1, target = -1;
	char u[32], g[32];

	if (fsfd < 0)
		return vs_error_set(err, errno, "fsopen devpts");
	snprintf(u, sizeof(u), "%u", (unsigned)uid);
	snprintf(g, sizeof(g), "%u", (unsigned)gid);
	/* New ptys belong to the container's root and tty group, so its
	 * getty may chown and chmod its console like on a real machine. */
	if (vs_fsconfig(fsfd, FSCONFIG_SET_STRING, "uid", u, 0) < 0 ||
	    vs_fsconfig(fsfd, FSCONFIG_SET_STRING, "gid", g, 0) < 0 ||
	    vs_fsconfig(fsfd, FSCONFIG_SET_STRING, "mode", "0620", 0) < 0 ||
	    vs_fsconfig(fsfd, FSCONFIG_SET_STRING, "ptmxmode", "0600", 0) < 0 ||
	    vs_fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return vs_error_set(err, errno, "configure the console devpts");
	mfd = vs_fsmount(fsfd, 0, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
	if (mfd < 0)
		return vs_error_set(err, errno, "fsmount devpts");
	target = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (target < 0)
		return vs_error_set(err, errno, "open %s", dir);
	if (vs_move_mount(mfd, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
	    0)
		return vs_error_set(err, errno, "mount devpts on %s", dir);
	return 0;
}

int rt_console_create(const char *rundir, const struct vs_container_config *cfg,
		      struct rt_console *out, struct vs_error *err)
{
	uid_t uid = cfg->privileged ? 0 : cfg->idmap_uid;
	gid_t gid = (cfg->privileged ? 0 : cfg->idmap_gid) + 5; /* tty */
	cleanup_close int master = -1, slave = -1;
	struct winsize ws = {.ws_row = 24, .ws_col = 80};
	int unlock = 0, index = -1;

	snprintf(out->dir, sizeof(out->dir), "%s/console", rundir);
	rt_console_destroy(rundir);
	if (mkdir(out->dir, 0700) < 0 && errno != EEXIST)
		return vs_error_set(err, errno, "mkdir %s", out->dir);
	if (mount_devpts(out->dir, uid, gid, err) < 0)
		return -1;
	master = vs_openat2(AT_FDCWD, out->dir, O_PATH | O_DIRECTORY, 0, 0);
	if (master >= 0) {
		int d = master;
		master = openat(d, "ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
		close(d);
	}
	if (master < 0)
		goto fail;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &index) < 0)
		goto fail;
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		goto fail;
	ioctl(master, TIOCSWINSZ, &ws);
	snprintf(out->slave_path, sizeof(out->slave_path), "%s/%d", out->dir, index);
	out->master = steal_fd(&master);
	out->slave = steal_fd(&slave);
	return 0;
fail:
	vs_error_set(err, errno, "allocate the console pty");
	rt_console_destroy(rundir);
	return -1;
}

int rt_rundir_prepare(const char *run_dir, const char *rundir, struct vs_error *err)
{
	cleanup_free char *containers = xasprintf("%s/containers", run_dir);
	const char *const dirs[] = {run_dir, containers, rundir};
	struct stat st;

	if (vs_mkdir_p(rundir, 0711, err) < 0)
		return -1;
	/* Search permission (never read) for everyone down to the console's
	 * devpts: CRIU restores the /dev/console bind mount from inside the
	 * container's user namespace, as the container's root. What is in
	 * these directories is protected by its own modes (sockets and logs
	 * 0600, ptys owned by the container). */
	for (size_t i = 0; i < VS_ARRAY_SIZE(dirs); i++)
		if (stat(dirs[i], &st) == 0 && (st.st_mode & 0111) != 0111 &&
		    chmod(dirs[i], (st.st_mode & 07777) | 0111) < 0)
			return vs_error_set(err, errno, "chmod %s", dirs[i]);
	return 0;
}

void rt_console_destroy(const char *rundir)
{
	cleanup_free char *dir = xasprintf("%s/console", rundir);

	/* Detached: the pty lives on while an fd (a restarting init) holds it. */
	while (umount2(dir, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
		;
}
