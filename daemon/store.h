/* store.h: on-disk registries (store.c: containers, id ranges) and
 * per-container locks (locks.c). No runtime or fs-cow calls. */
#ifndef VSD_STORE_H
#define VSD_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "lib/vs_config.h"
#include "lib/vs_error.h"

#define VSD_DEFAULT_ROOT      "/var/lib/vsd"
#define VSD_DEFAULT_RUN_DIR   "/run/vsd"
#define VSD_DEFAULT_REGISTRY  "/var/lib/vsd-idmaps"
#define VSD_DEFAULT_CG_PARENT "vsd"
/* Id ranges: first host id of range k is VSD_IDMAP_BASE + k * VS_IDMAP_SIZE. */
#define VSD_IDMAP_BASE 1000000u
/* A config.json younger than this is parsed again on each use (index.c). */
#define VSD_INDEX_RACY_MS 1000

/* ---- store.c: on-disk registries ------------------------------------ */

/* Visible container names under containers_fd (hidden staging entries and
 * invalid names skipped), sorted. 0 or -1. */
int vsd_store_list(int containers_fd, char ***names, struct vs_error *err);
/* The same, with each directory's inode number (from its directory entry:
 * no stat where the file system gives the type) in *inos[i] (malloc'd). */
int vsd_store_list_ino(int containers_fd, char ***names, ino_t **inos, struct vs_error *err);
/* The staging directory of an incoming migration of name, ".NAME.incoming"
 * (malloc'd), and whether entry is one: of name, or (name NULL) of any
 * valid name. */
char *vsd_store_incoming(const char *name);
bool vsd_store_is_incoming(const char *entry, const char *name);
/* The same with the stagings of incoming migrations (".NAME.incoming")
 * too: what holds addresses, links and memory on this node. */
int vsd_store_list_claimable(int containers_fd, char ***names, ino_t **inos, struct vs_error *err);
/* True if containers/NAME exists (any type). */
bool vsd_store_exists(int containers_fd, const char *name);
/* Load containers/NAME/config.json. VS_EK_NOT_FOUND "container 'NAME' does
 * not exist" when the container is absent. 0 or -1. */
int vsd_store_load(int containers_fd, const char *name, struct vs_container_config *cfg,
		   struct vs_error *err);
/* Write config.json into the container directory dirfd atomically. */
int vsd_store_write_config(int dirfd, const struct vs_container_config *cfg, struct vs_error *err);

/* Machine-wide id-range registry: one file per claimed range in directory
 * `registry`, named by the decimal first host id, holding "ROOT NAME\n".
 * The claim is the O_EXCL create. Claim the first free range for
 * (root, name): 0 and *base, or -1 with err (VS_EK_CONFLICT when every
 * range is taken). */
int vsd_idmap_claim(const char *registry, const char *root, const char *name, uint32_t *base,
		    struct vs_error *err);
/* Claim the range starting at base (a container moving in keeps its
 * range when it can): 0, or -1 (VS_EK_CONFLICT when it is taken). */
int vsd_idmap_claim_at(const char *registry, const char *root, const char *name, uint32_t base,
		       struct vs_error *err);
/* Release the range at base if (and only if) it is claimed by (root, name).
 * A missing claim is fine. 0 or -1. */
int vsd_idmap_release(const char *registry, uint32_t base, const char *root, const char *name,
		      struct vs_error *err);
/* Read the owner of a claim file: 0 with *root and *name malloc'd, or -1. */
int vsd_idmap_owner(int regfd, const char *file, char **root, char **name, struct vs_error *err);
/* keep(ud, name, base): true if root's container `name` still owns base. */
typedef bool (*vsd_idmap_keep_fn)(void *ud, const char *name, uint32_t base);
/* Release every claim of `root` for which keep() says false (stale claims:
 * crash between claim and create, or during destroy). Claims of other
 * roots are never touched. *released counts them. 0 or -1. */
int vsd_idmap_gc(const char *registry, const char *root, vsd_idmap_keep_fn keep, void *ud,
		 unsigned *released, struct vs_error *err);

/* 32-bit FNV-1a (cgroup parent names of non-default roots). */
uint32_t vsd_fnv1a(const char *s);
/* The cgroup parent for a root (realpath): "vsd" for the default root,
 * else "vsd-" + 8 hex digits of its FNV-1a hash. malloc'd. */
char *vsd_cgroup_parent_for(const char *root_realpath);

/* ---- index.c: parsed configs kept in memory ------------------------- */

/* A file pinned by identity: while these are equal it is the same file
 * with the same content (written anew by rename: another inode; edited in
 * place: another ctime, which no one can set back). */
struct vsd_fkey {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};
/* fstatat(dirfd, path, flags) into *k and *mode. 0, or -errno. */
int vsd_fkey_at(int dirfd, const char *path, int flags, struct vsd_fkey *k, mode_t *mode);
bool vsd_fkey_same(const struct vsd_fkey *a, const struct vsd_fkey *b);
/* True when the file's mtime and ctime are at least racy_ms old: a change
 * within one timestamp tick of the last, to the same size, would not show
 * in the key (git's "racy clean"), so younger files are not kept. */
bool vsd_fkey_settled(const struct vsd_fkey *k, int64_t racy_ms);

/* Entries sorted by name, each value owned by the table (free_val frees
 * it). Not locked: its owner locks. */
struct vsd_ntab {
	struct vsd_nent {
		char *name;
		void *val;
	} * v;
	size_t n, cap;
	void (*free_val)(void *val);
};
/* name's value or NULL. */
void *vsd_ntab_get(const struct vsd_ntab *t, const char *name);
/* Set name's value (the old one freed). */
void vsd_ntab_put(struct vsd_ntab *t, const char *name, void *val);
/* Drop name (if there); drop every name not in names (sorted by strcmp, as
 * vsd_store_list gives them); drop everything. */
void vsd_ntab_del(struct vsd_ntab *t, const char *name);
void vsd_ntab_retain(struct vsd_ntab *t, char *const *names);
void vsd_ntab_clear(struct vsd_ntab *t);

/* Each container's parsed config.json, so that listing N containers does
 * not parse N files. An entry is served only while containers/NAME and its
 * config.json are the same files (device, inode, size, mtime, ctime) as
 * when it was parsed; a config younger than racy_ms is parsed on every use
 * until it ages (timestamp granularity). Thread-safe. */
struct vsd_index;
struct vsd_index *vsd_index_new(int64_t racy_ms);
void vsd_index_free(struct vsd_index *ix);
/* vsd_store_load with its contract and errors, served from the index when
 * the files are unchanged. ix NULL: vsd_store_load. 0 or -1. */
int vsd_index_load(struct vsd_index *ix, int containers_fd, const char *name,
		   struct vs_container_config *cfg, struct vs_error *err);
/* Drop name's entry (a destroyed container). ix may be NULL. */
void vsd_index_forget(struct vsd_index *ix, const char *name);
/* Drop every entry not named in names (sorted by strcmp, as
 * vsd_store_list gives them). ix may be NULL. */
void vsd_index_retain(struct vsd_index *ix, char *const *names);
/* Entries held, uses served from memory, parses done (tests, debugging). */
void vsd_index_counts(struct vsd_index *ix, size_t *entries, uint64_t *hits, uint64_t *parses);

/* What the containers claim of the node: the memory their limits promise
 * (the overcommit check) and the addresses, MACs and node-side link names
 * their interfaces hold (a create's and an update's allocation), kept so
 * that a create reads O(1) configs whatever the number of containers.
 *
 * vsd_claims_sync brings the table up to date with the containers
 * directory: one readdir, with each directory's inode from its entry; an
 * entry whose name is gone is dropped, and a new name, a directory of
 * another inode (destroyed and made again) or a config unreadable last
 * time is read (through ix). An incoming migration's staging
 * (".NAME.incoming") claims what its staged config holds from its
 * reservation to its commit, under that entry's name; the checks' except
 * NAME covers it too. So every create, destroy, migration, import
 * or crash recovery is seen at the next sync, and the first sync after a
 * start reads every config. What a sync cannot see is a config.json
 * rewritten in place: whoever rewrites one with other limits or
 * interfaces (a live update) calls vsd_claims_put with what it wrote;
 * lock, unlock and reinstall change neither. A config edited by hand
 * while vsd runs is seen by reads at once but by these checks only after a
 * restart. Callers hold d->mutate from the sync to the last check, so
 * checks and the write they allow are one step; each call also takes the
 * table's own lock. */
struct vsd_claims;
struct vsd_claims *vsd_claims_new(void);
void vsd_claims_free(struct vsd_claims *cl);
/* ix's table, or (ix NULL, as in unit tests) a new one in *tmp that the
 * caller frees with vsd_claims_free. */
struct vsd_claims *vsd_index_claims(struct vsd_index *ix, struct vsd_claims **tmp);
int vsd_claims_sync(struct vsd_claims *cl, struct vsd_index *ix, int containers_fd,
		    struct vs_error *err);
/* name is gone (vsd_index_forget calls it): its claims go now, not at the
 * next sync. */
void vsd_claims_forget(struct vsd_claims *cl, const char *name);
/* cfg->name's config.json was rewritten in place with cfg. */
void vsd_claims_put(struct vsd_claims *cl, const struct vs_container_config *cfg);
/* The memory limits of every container but except (NULL: none); a
 * config that cannot be read promises nothing. */
int64_t vsd_claims_memory(struct vsd_claims *cl, const char *except);
/* 0, or -1 with the error of a config (not except's) that cannot be read:
 * what it holds is unknown. */
int vsd_claims_readable(struct vsd_claims *cl, const char *except, struct vs_error *err);
/* A container other than except holds ip (the prefix aside): true, with its
 * name in owner and whether ip is one of its bridged gateways. */
bool vsd_claims_ip(struct vsd_claims *cl, const struct vs_ip *ip, const char *except,
		   char owner[VS_NAME_MAX + 1], bool *gateway);
/* A container other than except has an interface with this MAC, or with
 * this node-side link name. */
bool vsd_claims_mac(struct vsd_claims *cl, const uint8_t mac[6], const char *except);
bool vsd_claims_ifname(struct vsd_claims *cl, const char *ifname, const char *except);
/* Entries, addresses held and configs read so far (tests). */
void vsd_claims_counts(struct vsd_claims *cl, size_t *entries, size_t *ips, uint64_t *reads);

struct vsd_names;
/* ---- locks.c: per-container locks ------------------------------------ */

/* A container is held by one request at a time. Requests (start, stop,
 * destroy, exec) wait for each other, because each takes at most seconds;
 * an operation (suspend, resume, checkpoint, restore) holds the container
 * from the request that starts it until its worker ends, and every other
 * request is refused with 409 meanwhile rather than left waiting. */
struct vsd_names *vsd_names_new(void);
void vsd_names_free(struct vsd_names *n);
/* Hold container `name` for a request: wait while another request holds
 * it. `transition` ("starting", "stopping" or NULL) is what GET shows as
 * the state while held. 0, or -1 with VS_EK_CONFLICT (nothing held) when an
 * operation holds it (now or when the wait ends). */
int vsd_names_lock(struct vsd_names *n, const char *name, const char *transition,
		   struct vs_error *err);
/* Hold container `name` for an operation of kind op_kind (a static
 * string): like vsd_names_lock; the operation's id is added with
 * vsd_names_set_op once it exists. 0, or -1 with VS_EK_CONFLICT. */
int vsd_names_lock_op(struct vsd_names *n, const char *name, const char *op_kind,
		      struct vs_error *err);
void vsd_names_set_op(struct vsd_names *n, const char *name, uint64_t op_id);
/* An operation's (or a request's) hold passes to a holder of another
 * kind (a static string), with no operation id; requests waiting on it are
 * refused from then on. */
void vsd_names_set_kind(struct vsd_names *n, const char *name, const char *op_kind);
/* The refusal (409) every other request on held `name` gets, in the
 * holder's words, until it lets go ("" or NULL: the usual one). */
void vsd_names_set_note(struct vsd_names *n, const char *name, const char *note);
/* The holder kind of a migration's settlement on its source after the
 * commit (migrate-pull.c: a failed post-copy pull, or a moved copy whose
 * removal failed): a request on a name held so is refused naming the way
 * out (vsctl migrate NAME --recover [--force], or the holder's note), not
 * "an operation is starting". */
extern const char vsd_names_pull_kind[];
void vsd_names_set_transition(struct vsd_names *n, const char *name, const char *transition);
void vsd_names_unlock(struct vsd_names *n, const char *name);
/* What GET shows of a held container; all empty when it is not held. */
struct vsd_hold_info {
	const char *transition; /* static string or NULL */
	const char *op_kind;	/* static string, NULL unless an operation holds it */
	uint64_t op_id;		/* 0 until known */
};
/* Fill *info (never blocks on a holder). True if the container is held. */
bool vsd_names_info(struct vsd_names *n, const char *name, struct vsd_hold_info *info);
/* 0, or -1 with VS_EK_CONFLICT when an operation holds `name` (for
 * requests that do not take the lock, such as exec and console). */
int vsd_names_check_op(struct vsd_names *n, const char *name, struct vs_error *err);

/* cleanup attribute for a struct vs_container_config (frees its vectors). */
static inline void vsd_config_freep(struct vs_container_config *cfg)
{
	vs_config_free(cfg);
}
#define cleanup_config __attribute__((cleanup(vsd_config_freep)))

#endif
