/* mig-monitor: the checkpoint/restore side of migrate/ that runs inside a
 * container's monitor (checkpoint.c, cr-verify.c, imgsec.c), and what the
 * monitor (runtime/monitor.c) and the daemon-side calls (runtime/control.c)
 * call of it. Only runtime/ and those files include it; those files are the
 * only ones of migrate/ that may include runtime's headers (they work on
 * the monitor's container: its paths, cgroups, console and network), see
 * docs/architecture.md "Modules and include rules". */
#ifndef VS_MIG_MONITOR_H
#define VS_MIG_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/vs_config.h"
#include "lib/vs_error.h"
#include "runtime/vs_runtime.h"

struct rt_running;

/* Dump-time care (cr-verify.c). rt_pin_cgroup_files opens (O_PATH) every
 * "*.events" file of the container's cgroup2 tree so their dentries stay
 * cached and connected while CRIU dumps the guest's inotify watches on them;
 * returns how many it holds (0 when unified_dir is NULL or unreadable: best
 * effort, never fails). rt_pins_release closes them. */
struct rt_pins {
	int *fds;
	size_t n, cap;
	size_t unpinned; /* past the limit or not openable: looked up only */
};
int rt_pin_cgroup_files(const char *unified_dir, struct rt_pins *p);
void rt_pins_release(struct rt_pins *p);
/* Read a finished dump's log for what cannot restore (watches saved as
 * bare file handles). 0 when none; -1 with VS_EK_CONFLICT and the reason,
 * or with the read error. */
int rt_dump_verify(const char *logpath, struct vs_error *err);
/* Give every cgroup below unified_dir (the container's delegated cgroup2
 * directory), and every file in them, to uid/gid, as a fresh boot inside
 * has them; the top directory itself is left alone. 0 (also when
 * unified_dir is NULL) or -1. */
int rt_cg_give_subtree(const char *unified_dir, uid_t uid, gid_t gid, struct vs_error *err);

/* Monitor side of checkpoint (checkpoint.c): request is "checkpoint
 * MODE\nCRIU\nDIR|-" (MODE 0 stop, 1 leave running, 2 hold: ps_fd is
 * the page server's socket, else -1). Sends "progress ..." lines on
 * reply_fd; on success fills done with "done FROZEN_MS CRIU_MS TOTAL_MS
 * BYTES", tree_gone when the container was killed after the dump, held
 * when it stays frozen with its node sides down (the pages went to the
 * page server; rt_monitor_release_held ends that). On failure the
 * container runs on as before. 0 or -1. */
int rt_monitor_checkpoint(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
			  pid_t init, int console_master, int reply_fd, const char *request,
			  int ps_fd, char *done, size_t done_len, bool *tree_gone, bool *held,
			  struct vs_error *err);
/* A held container (see above): kill its tasks while frozen (the move
 * succeeded; the monitor then sees init go), or bring its node sides up
 * and thaw it (the move failed: it runs on as before the dump). The own
 * image, which has no pages, is removed either way. After a post-copy
 * dump (MODE 4) a kill first waits until that CRIU served the last page
 * and exited 0 (else -1: still held, never thawed), and a thaw first ends
 * its serving. 0 or -1. */
int rt_monitor_release_held(const struct vs_rt_instance *inst,
			    const struct vs_container_config *cfg, pid_t init, bool kill,
			    struct vs_error *err);
/* Remove cdir's pre-copy rounds (VS_RT_ROUNDS_DIR), if any. */
void rt_drop_rounds(const char *cdir);

/* vsd-image.json, beside CRIU's images: what vsd must tell CRIU on restore
 * (checkpoint.c). */
#define RT_MAX_EXT 32
struct cr_meta {
	char console_tty[64]; /* "tty[rdev:dev]" id of the console slave at dump */
	char keys[RT_MAX_EXT][600];
	size_t nkeys;
	char **cgdirs; /* sub-cgroups the guest made in its cgroup2, parents first */
	size_t ncgdirs;
};
/* Write / read it. rt_meta_read refuses (VS_EK_INVALID) external mounts
 * whose device is not one of the fixed host nodes and malformed entries;
 * paths from the image never reach a mount call. 0 or -1. */
int rt_meta_write(const char *dir, const struct cr_meta *m, struct vs_error *err);
int rt_meta_read(const char *dir, struct cr_meta *m, struct vs_error *err);
void rt_meta_free(struct cr_meta *m);

/* Image secrecy and checks (imgsec.c). */
/* After a dump: make dir root-only and seal it with the node key (under
 * inst->root). 0 or -1 with err. */
int rt_image_seal(const struct vs_rt_instance *inst, const char *dir, struct vs_error *err);
/* Before a restore: verify dir's digest under the node key, then check its
 * namespaces, credentials and mounts against cfg (vs_mig_image_check) with
 * the external mount keys of m. 0, or -1 with err naming what is wrong. */
int rt_image_admit(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
		   const char *dir, const struct cr_meta *m, struct vs_error *err);
/* Only the digest under the node key: before anything is taken from dir
 * (its layer put back), so a foreign or altered image changes nothing. */
int rt_image_verify_sealed(const struct vs_rt_instance *inst, const char *dir,
			   struct vs_error *err);
/* For the length of a CRIU restore: the restored tasks read some image
 * files themselves, as the container's root (its host uid), after they
 * entered its user namespace; give dir to that uid (files 0600; only
 * timens-*.img, clock offsets opened before the id map may be written, 0644
 * in a 0711 directory). rt_image_secure takes it back (root, 0700/0600). */
int rt_image_lend(const struct vs_container_config *cfg, const char *dir, struct vs_error *err);
int rt_image_secure(const char *dir, struct vs_error *err);
/* After a restore, before the container counts as running: every task in
 * the container's cgroup (cgroup dir, NULL: only init) is in a user
 * namespace other than the host's whose uid_map/gid_map are cfg's id map
 * (unprivileged), holds no capability outside rt_caps_bound(), and runs
 * under seccomp filter mode. 0, or -1 with err (the caller kills the tree). */
int rt_restored_verify(const struct vs_container_config *cfg, pid_t init, const char *cgdir,
		       struct vs_error *err);

/* Monitor side of restore: rebuild root, cgroups, console and run criu
 * restore from dir. progress_fd gets "progress ..." lines. On success out
 * describes the restored init (our child). */
int rt_container_restore(const struct vs_rt_instance *inst, const struct vs_container_config *cfg,
			 const char *dir, int progress_fd, struct rt_running *out,
			 struct vs_rt_cr_result *res, struct vs_error *err);

#endif
