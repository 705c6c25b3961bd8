/* vs_migrate: checkpoint/restore with CRIU, and the node-to-node live
 * migration built on it. All CRIU work is in migrate/ (the monitor's side of
 * it behind mig-monitor.h; docs/architecture.md).
 *
 * CRIU is an external program run with an explicit argv and environment
 * (never through a shell). The version vsd relies on (4.3, see
 * scripts/install-criu.sh) lives in a private prefix because it needs a newer
 * libc than the host's; vs_mig_default_criu() finds it. What a given CRIU can
 * do on a given kernel is asked once with vs_mig_probe(). */
#ifndef VS_MIGRATE_H
#define VS_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/vs_error.h"

/* Where scripts/install-criu.sh puts CRIU: a patched copy of criu 4.3 (or a
 * wrapper running it through the prefix's loader), usable as one path. */
#define VS_MIG_CRIU_PRIVATE "/opt/vsd/criu/bin/criu"
/* Debian's own package, the fallback (Debian 12's 3.17 fails `criu check`
 * on recent kernels; the probe then says so). */
#define VS_MIG_CRIU_SYSTEM "/usr/sbin/criu"

/* Each CRIU invocation of the probe is killed (with its process group) after
 * this long. `criu check` takes ~40 ms here. */
#define VS_MIG_PROBE_TIMEOUT_MS 10000

#define VS_MIG_VERSION_MAX 32
/* As long as a vs_error message, so either fits in the other. */
#define VS_MIG_MSG_MAX VS_ERROR_MSG_MAX

/* How CRIU keeps the network quiet while a container is frozen (the value of
 * `criu --network-lock`). */
enum vs_mig_netlock {
	VS_MIG_NETLOCK_NONE = 0, /* neither method works */
	VS_MIG_NETLOCK_IPTABLES, /* iptables-restore/ip6tables-restore from PATH */
	VS_MIG_NETLOCK_NFTABLES, /* libnftables inside CRIU; no helper program */
};

/* What one CRIU binary can do on this kernel. Each *_msg is empty when the
 * feature is there, and otherwise says in one line what is lost and why
 * (CRIU's own reason when it gave one). Fixed-size: nothing to free. */
struct vs_mig_caps {
	bool available;			     /* `criu check` passed */
	char version[VS_MIG_VERSION_MAX];    /* "4.3" from `criu --version`; "" if unknown */
	bool lazy_pages;		     /* userfaultfd, non-cooperative: post-copy */
	bool mem_tracking;		     /* soft-dirty: iterative pre-copy (--track-mem) */
	enum vs_mig_netlock network_lock;    /* best method; NONE when none works */
	char available_msg[VS_MIG_MSG_MAX];  /* why CRIU cannot be used at all */
	char lazy_pages_msg[VS_MIG_MSG_MAX]; /* why no lazy pages */
	char mem_tracking_msg[VS_MIG_MSG_MAX];
	char network_lock_msg[VS_MIG_MSG_MAX];
};

/* The CRIU to use when the configuration names none: VS_MIG_CRIU_PRIVATE if
 * it is an executable regular file, else VS_MIG_CRIU_SYSTEM if that is, else
 * NULL. Returns a static string (never to be freed); does not run CRIU, so
 * the binary found may still fail vs_mig_probe(). Cannot fail otherwise. */
const char *vs_mig_default_criu(void);

/* Ask the CRIU at criu_path (absolute; NULL means vs_mig_default_criu())
 * what it can do here: `criu --version`, `criu check`, and `criu check
 * --feature` for uffd-noncoop, mem_dirty_track and network_lock_nftables,
 * each started with posix_spawn (explicit argv, a fixed PATH and LC_ALL=C,
 * stdin /dev/null, own process group) and killed with its group after
 * VS_MIG_PROBE_TIMEOUT_MS. Must run as root (CRIU needs CAP_SYS_ADMIN).
 *
 * Returns 0 with *caps filled whenever the answer is known, including "CRIU
 * is not usable" (no binary, not executable, `criu check` failed or timed
 * out: available is false and available_msg says why; the other features
 * are then false with a message too). Returns -1 with err filled, *caps
 * zeroed, only when criu_path is not absolute (VS_EK_INVALID) or the probe
 * itself could not run (no pipe or process: errno in err). */
int vs_mig_probe(const char *criu_path, struct vs_mig_caps *caps, struct vs_error *err);

/* The sysctl that lets a task without CAP_SYS_PTRACE in the initial user
 * namespace call userfaultfd(2). */
#define VS_MIG_UFFD_SYSCTL "/proc/sys/vm/unprivileged_userfaultfd"

/* Whether the tasks CRIU restores in a container's user namespace can open
 * a userfaultfd, which `criu restore --lazy-pages` has them do (CRIU 4.3
 * calls userfaultfd(2) in each restored task, criu/uffd.c uffd_open; it
 * never uses /dev/userfaultfd): only when the sysctl at path (normally
 * VS_MIG_UFFD_SYSCTL) reads 1, since capable(CAP_SYS_PTRACE) is asked of
 * the initial user namespace. `criu check --feature uffd-noncoop`, run as
 * root, cannot tell. Returns true, or false with why filled (the sysctl,
 * its value or why it could not be read, and what is lost). */
bool vs_mig_uffd_userns(const char *path, char *why, size_t len);

/* The `--network-lock` argument for m ("iptables", "nftables"), or "none"
 * for VS_MIG_NETLOCK_NONE and unknown values. Static string. */
const char *vs_mig_netlock_name(enum vs_mig_netlock m);

/* The `--network-lock` a dump on this node asks for, from its probe's
 * caps: "nftables" when CRIU can lock that way here (no helper program),
 * else NULL for CRIU's default (iptables). Static string. */
const char *vs_mig_dump_netlock(const struct vs_mig_caps *caps);

/* Scan the text of a finished `criu dump` log (-v4) for inotify/fanotify
 * watches that CRIU could only save as a bare file handle, without a path
 * that leads to the watched inode (see migrate/criulog.c): such an image
 * cannot be restored on a rebuilt root. Returns how many there are (0: none
 * found) and, when there are any, a one-line description in msg (len > 0).
 * Pure; cannot fail. */
int vs_mig_dumplog_unrestorable(const char *log, char *msg, size_t len);
/* ---- Checkpoint images: checked before restore, secret, sealed ----
 *
 * What vsd allows an image to restore. An image is untrusted input: it may
 * have been edited on disk, or come from a backup or another node. */
struct vs_mig_image_policy {
	bool privileged;    /* no user namespace: only mounts are checked */
	uint32_t uid_first; /* the configured id map: 0 -> uid_first/gid_first */
	uint32_t gid_first;
	uint32_t id_count;
	uint64_t cap_bound;	     /* the capabilities vsd leaves a container's tasks */
	bool seccomp;		     /* every task must run under a seccomp filter */
	const char *const *ext_keys; /* the external mount keys vsd declares */
	size_t n_ext_keys;
};

/* Check the CRIU image in directory dirfd against pol before a restore:
 *  - namespaces (unprivileged): every task (ids-*.img) is in a user, pid,
 *    mount, network, ipc and uts namespace of its own, never one of those
 *    CRIU itself ran in at dump (inventory.img root_ids: the host's); its
 *    user namespace has an image (userns-ID.img) whose uid_map and gid_map
 *    are exactly the configured id map;
 *  - credentials: every thread's (core-*.img) inheritable, permitted,
 *    effective, bounding and ambient sets lie within pol->cap_bound and are
 *    at most two 32-bit words; with pol->seccomp, its seccomp mode is
 *    "filter";
 *  - mounts (mountpoints-*.img): the root is the container's overlay; other
 *    mounts are proc, sysfs, tmpfs, devpts, mqueue, cgroup/cgroup2, binds of
 *    the root overlay, or external mounts whose key is one of pol->ext_keys
 *    or "console" (whose sources vsd, not the image, chooses), and binds of
 *    those in other mount namespaces (same device, root at or below). Anything
 *    else (a block device file system, a host devtmpfs, an unknown
 *    external) is refused.
 * Returns 0, or -1 with err (VS_EK_INVALID, "image FILE: WHAT") naming the
 * file and what is wrong. Image files are read with a size cap (16 MiB). */
int vs_mig_image_check(int dirfd, const struct vs_mig_image_policy *pol, struct vs_error *err);

/* Move a CRIU image of an unprivileged container to another id range (a
 * migration to a node where its range [from, from + count) is taken; the
 * same range applies to uids and gids). CRIU stores the ids of the tasks,
 * files, ghost files, memfds, ttys, SysV IPC, unix socket files, mount
 * options and tmpfs contents relative to the container's user namespace;
 * what it stores as host ids is rewritten here:
 *  - userns-*.img: the uid_map and gid_map extents, whose lower_first must
 *    lie in the range with the whole extent;
 *  - cgroup.img: the owners of the cgroup directories and files CRIU
 *    recreates with --manage-cgroups (the container's delegated cgroups);
 *    ids outside the range (host root's) stay;
 *  - netdev-*.img: the owner and group of tun/tap devices, as cgroup.img.
 * Every other field, and every other file, is kept byte for byte (unknown
 * fields included), so shifting there and back gives the same files.
 * Each changed file is replaced atomically, keeping its mode. The image's
 * seal (VS_MIG_DIGEST_FILE) no longer matches: seal it again.
 *
 * All files are read and re-encoded before the first is written, so a
 * malformed image, a missing userns-*.img or a map extent outside the
 * range changes nothing (VS_EK_INVALID, "image FILE: WHAT"); an I/O error
 * while writing may leave some files shifted. count 0 or a range past
 * 2^32-1 is VS_EK_INVALID. 0 or -1. */
int vs_mig_image_shift_ids(int dirfd, uint32_t from, uint32_t to, uint32_t count,
			   struct vs_error *err);

/* The digest file every image directory vsd writes carries (format in
 * docs/checkpoint-images.md): the SHA-256 and size of every regular file,
 * and an HMAC-SHA256 over that list under the node key. */
#define VS_MIG_DIGEST_FILE "vsd-digest.json"
#define VS_MIG_KEY_LEN	   32
/* The node key file under the daemon root (0600 root, 32 random bytes). */
#define VS_MIG_KEY_FILE "node-image.key"

/* Read the node key from ROOT/VS_MIG_KEY_FILE, creating it (getrandom,
 * 0600, atomically) on first use. -1 with err if it cannot be read or made,
 * or is not a root-owned 0600 file of VS_MIG_KEY_LEN bytes. */
int vs_mig_node_key(const char *root, uint8_t key[VS_MIG_KEY_LEN], struct vs_error *err);

/* A subdirectory of an image directory holding a copy of the container's
 * own file system layer (checkpoints that carry their file system): its
 * owners and modes are the guest's and stay as they are; the image
 * directory's own root-only mode keeps host users out of it. */
#define VS_MIG_LAYER_SUBDIR "layer"

/* Make an image directory root-only: the directory root:root 0700, every
 * entry in it (recursively) root:root, files 0600 and directories 0700;
 * symlinks and a top-level VS_MIG_LAYER_SUBDIR are left as they are. -1
 * with err on the first failure. */
int vs_mig_image_secure(int dirfd, struct vs_error *err);

/* Seal the image directory dirfd: write VS_MIG_DIGEST_FILE (atomically,
 * 0600) listing every regular file at its top level (except the digest
 * itself, *.log and stats-restore, which CRIU writes at restore) with its size
 * and SHA-256, and the names of its subdirectories, plus an HMAC under key.
 * Subdirectory contents are not hashed (a copy of a file system layer is
 * sealed by whoever writes it). Call it last, when the directory is
 * complete. -1 with err if a file cannot be read or the digest written. */
int vs_mig_image_seal(int dirfd, const uint8_t key[VS_MIG_KEY_LEN], struct vs_error *err);

/* Verify a sealed image directory: the digest file is present and its HMAC
 * matches under key, every listed file exists with that size and SHA-256,
 * and no file or subdirectory is there that the digest does not list
 * (*.log and stats-restore excepted). Returns 0, or -1 with err (VS_EK_INVALID) naming the
 * file: "image digest: FILE changed", "... FILE missing", "... extra file
 * FILE", "... no vsd-digest.json", "... bad signature". */
int vs_mig_image_verify(int dirfd, const uint8_t key[VS_MIG_KEY_LEN], struct vs_error *err);

/* Does the directory dirfd hold a CRIU image (its inventory.img, a regular
 * file)? Only a first look before a restore is accepted: the image is
 * verified and checked later. */
bool vs_mig_image_present(int dirfd);

/* ---- rsync over a migration's stream (migrate/rsync.c) ------------------ */

/* The target's side of POST /v1/migrations/{id}/sync: args (n strings) are
 * what the source's rsync asked its remote shell to run. Accepted only as
 * ["rsync", "--server", options..., ".", destination] where each option is
 * a short cluster of letters a receiving server gets (after 'e': the
 * capability string) or one of a few long options (--numeric-ids,
 * --delete*, --sparse, --partial, --inplace, --stats, --bwlimit=RATE,
 * --timeout=SECONDS):
 * never --sender, a second --server, or anything naming a file or program
 * of this node. 0 with *argv_out (NULL-terminated, free with vs_strv_free):
 * VS_RSYNC_PATH, "--server", the checked options, ".", dest_dir. -1 with
 * VS_EK_INVALID naming the refused argument; nothing allocated. */
int vs_mig_rsync_server_argv(const char *const *args, size_t n, const char *dest_dir,
			     char ***argv_out, struct vs_error *err);

/* What rsync --stats printed: bytes on the wire each way and the regular
 * files it transferred; and how rsync ended (its exit status, -1 when a
 * signal ended it). */
struct vs_mig_rsync_stats {
	uint64_t bytes_sent;
	uint64_t bytes_received;
	uint64_t files_transferred;
	int exit_status;
};
/* rsync's exit status when files it listed were gone before it sent them
 * (a warning: everything else was sent). */
#define VS_RSYNC_VANISHED 24
/* Read --stats output (text, NUL-terminated; numbers may hold thousands
 * separators). Fields not found stay 0. Returns how many of the three
 * lines were found. */
int vs_mig_rsync_stats_parse(const char *text, struct vs_mig_rsync_stats *st);
/* rsync's exit status when some files or attributes were not transferred
 * ("partial transfer due to error": a file that shrank while it was read,
 * one it could not open or whose times it could not set). */
#define VS_RSYNC_PARTIAL 23
/* The lines of rsync's output (text, NUL-terminated) that say why it
 * failed, joined by "; " into out (len bytes, truncated, NUL-terminated):
 * the first VS_RSYNC_CAUSE_LINES complaints of the receiving side ("rsync:
 * [receiver] ...", "rsync: [generator] ..."), else the first of any side
 * ("rsync: [sender] read errors mapping "FILE": ..."), else the last
 * non-empty line; "" for no line. */
#define VS_RSYNC_CAUSE_LINES 3
void vs_mig_rsync_cause(const char *text, char *out, size_t len);
/* For the log: the first VS_RSYNC_LOG_LINES of rsync's messages in text
 * (about files, and its closing "rsync error: ..."; not its --stats),
 * joined by "; " into out (len bytes, truncated, NUL-terminated). Returns
 * how many lines it took. */
#define VS_RSYNC_LOG_LINES 10
unsigned vs_mig_rsync_messages(const char *text, char *out, size_t len);

/* vsd-helper __fdcat HOST COMMAND...: rsync's remote shell (-e). Writes
 * COMMAND as one line of JSON array to fd 3 (a socket to the daemon),
 * then relays stdin -> fd 3 and fd 3 -> stdout; stdin's end half-closes
 * fd 3, fd 3's end (the target is done) ends the program. Returns its exit
 * status: 0, 2 (bad usage) or 255 (an I/O error, as ssh). */
int vs_mig_fdcat_main(int argc, char **argv);

/* ---- pages through a CRIU page server (migrate/pages.c) ------------------ */

/* The page server's log, in the directory it writes (kept for the
 * operator; never part of the image). */
#define VS_MIG_PAGE_SERVER_LOG "page-server.log"

/* The target's side of POST /v1/migrations/{id}/sync with part "pages":
 * the source may ask for nothing (nargs must be 0); the command is fixed:
 * criu page-server -D dir -W dir -o page-server.log --ps-socket 0 (the
 * stream's socket on its stdin), with --prev-images-dir prev when prev is
 * not NULL (a later pre-copy round, or the final dump after rounds: the
 * target's own choice, see "pre-copy rounds" below; CRIU makes dir's
 * parent link from it and tells the dumping side which pages the parent
 * holds). 0 with *argv_out (free with
 * vs_strv_free); -1 with VS_EK_INVALID (arguments given) or
 * VS_EK_UNSUPPORTED (criu NULL), *argv_out NULL. */
int vs_mig_page_server_argv(const char *criu, size_t nargs, const char *dir, const char *prev,
			    char ***argv_out, struct vs_error *err);

/* Post-copy (docs/migration.md, "Post-copy"): the target's side of POST
 * /v1/migrations/{id}/sync with part "lazy". nargs must be 0; the command
 * is fixed: criu lazy-pages -D img -W work -o lazy-pages.log --page-server
 * --ps-socket 0 --status-fd 2 (the stream's socket on its stdin and
 * stdout; it asks the source's `dump --lazy-pages` for the pages the
 * restored tasks fault on, then for the rest; its readiness, a NUL byte
 * once its unix socket in work listens for `restore --lazy-pages`, on its
 * stderr). work must lie outside the image (the socket is no image file).
 * 0 with *argv_out, or -1 as vs_mig_page_server_argv. */
#define VS_MIG_LAZY_LOG "lazy-pages.log"
/* The work directory of a post-copy restore: RUN/containers/NAME/lazy-pages,
 * made by the target's daemon, where lazy-pages listens on its socket. */
#define VS_MIG_LAZY_DIR	   "lazy-pages"
#define VS_MIG_LAZY_SOCKET "lazy-pages.socket"
int vs_mig_lazy_pages_argv(const char *criu, size_t nargs, const char *img, const char *work,
			   char ***argv_out, struct vs_error *err);

/* The pages a page map image (pagemap-N.img, buf of len bytes) marks lazy
 * (left on the source by `dump --lazy-pages`). 0, or -1 for anything that
 * is not a page map. */
int vs_mig_pagemap_lazy(const uint8_t *buf, size_t len, uint64_t *pages);
/* The sum over the image's pagemap-N.img at img_fd. 0 or -1. */
int vs_mig_image_lazy_pages(int img_fd, uint64_t *pages, struct vs_error *err);

/* Whether name is one a page server writes: pagemap-N.img,
 * pagemap-shmem-N.img or pages-N.img (N decimal). */
bool vs_mig_page_file_name(const char *name);

/* Move the page server's files from pages_fd into the image at img_fd
 * before the image is checked and sealed. Every entry but the logs must be
 * a regular file with a page file's name, or (pre-copy rounds) a round's
 * directory of such files or a parent link, all in the layout described
 * below ("pre-copy rounds"), that the image does not hold yet; else -1
 * with VS_EK_INVALID naming it and nothing moved. Round directories move
 * whole (their relative links stay right). *moved counts the page files
 * moved, those in rounds too (also on a later failure). 0 or -1. */
int vs_mig_image_take_pages(int img_fd, int pages_fd, size_t *moved, struct vs_error *err);

/* ---- memory pre-copy rounds: when to stop (migrate/precopy.c) ----------- */

/* The stopping rule of the memory rounds, as P.Haul's and Incus's: after
 * each round, stop when it sent few pages (the final dump's frozen window
 * then carries about that much), when it did not shrink against the round
 * before (the guest dirties memory as fast as the link carries it: more
 * rounds would not help), or at the round limit. */
#define VS_MIG_PRECOPY_ROUNDS	 8
#define VS_MIG_PRECOPY_FEW_PAGES 1024 /* 4 MiB of 4 KiB pages */
enum vs_mig_precopy_next {
	VS_MIG_PRECOPY_AGAIN,
	VS_MIG_PRECOPY_FEW,
	VS_MIG_PRECOPY_GREW,
	VS_MIG_PRECOPY_LIMIT
};
/* pages[0..n-1]: what each round so far sent. AGAIN for no round yet. */
enum vs_mig_precopy_next vs_mig_precopy_next(const uint64_t *pages, size_t n);
/* Why the rounds stopped, for the progress ("few pages left", ...). */
const char *vs_mig_precopy_reason(enum vs_mig_precopy_next r);

/* The pages a dump or pre-dump wrote (pages_written plus shpages_written
 * of CRIU's stats-dump image, buf of len bytes). 0, or -1 for anything
 * that is not a stats image with pages_written. */
int vs_mig_dump_stats_pages(const uint8_t *buf, size_t len, uint64_t *pages);
/* The pages a `dump --lazy-pages` left lazy (pages_lazy of its stats-dump,
 * written when the last of them went). 0, or -1 as above. */
int vs_mig_dump_stats_lazy(const uint8_t *buf, size_t len, uint64_t *pages);

/* ---- memory pre-copy rounds: the image's layout (migrate/pages.c) ------- */

/* An image with pre-copy rounds (docs/migration.md, "Memory pre-copy
 * rounds"): the final dump at the image's top, each earlier round's pages
 * in a subdirectory named by its number, 1..N, and CRIU's chain of
 * `parent` links between them:
 *
 *   IMAGE/parent -> N        IMAGE/k/parent -> ../k-1 (k > 1)
 *
 * Nothing else: no other symlink anywhere, no subdirectory in a round, and
 * only page files (and logs) in a round. The target's page servers write
 * the same layout under its pages directory, and the seal and the move of
 * the pages into the image check it, so no link leads out of the image. */
#define VS_MIG_ROUNDS_MAX  16
#define VS_MIG_PARENT_LINK "parent"

/* A round's directory name ("1".."16", decimal, no sign or leading zero):
 * its number, else 0. */
unsigned vs_mig_round_number(const char *name);

/* Whether target is what the parent link at level (0: the image's top, k:
 * round k) of an image with nrounds rounds must say: "NROUNDS" at the top,
 * "../K-1" in round K > 1; no other link (round 1, or a top without
 * rounds) is ever right. */
bool vs_mig_parent_link_ok(unsigned level, unsigned nrounds, const char *target);

/* What one image directory holds of the layout: round[k] for a directory
 * k, link[k] for a parent link at level k (0: the top) with its target. */
struct vs_mig_layout {
	bool round[VS_MIG_ROUNDS_MAX + 1];
	bool link[VS_MIG_ROUNDS_MAX + 1];
	char target[VS_MIG_ROUNDS_MAX + 1][16];
};

/* Record a parent link read at level (readlinkat's n bytes of buf; a
 * longer one than target holds is recorded as wrong). */
void vs_mig_layout_link(struct vs_mig_layout *l, unsigned level, const char *buf, ssize_t n);

/* Check the layout: rounds 1..N without a gap, and exactly the parent
 * links the chain needs, each saying what vs_mig_parent_link_ok wants.
 * what names the directory in the error. 0 with *nrounds = N, or -1 with
 * VS_EK_INVALID naming the missing round or the wrong link. */
int vs_mig_layout_check(const struct vs_mig_layout *l, const char *what, unsigned *nrounds,
			struct vs_error *err);

#endif
