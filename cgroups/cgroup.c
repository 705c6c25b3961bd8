/* A container's cgroup in every hierarchy: create (with delegation),
 * attach, the cgroup2 directory for CLONE_INTO_CGROUP, destroy. */
#include "cgroups/cg-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/vs_util.h"

bool vs_cg_plain_name(const char *s)
{
	return s != NULL && s[0] != '\0' && s[0] != '.' && strchr(s, '/') == NULL &&
	       strlen(s) + strlen(VS_CG_POOL_SUFFIX) <= NAME_MAX;
}

bool vs_cg_pool_level(const struct vs_cg_host *h, size_t i)
{
	return !h->hier[i].v2 || h->mode == VS_CG_UNIFIED;
}

/* pool_dirs and dirs are arrays of n entries, some NULL: freed entry by
 * entry, unlike a strv. */
static void free_dirs(char **v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

struct vs_cg *vs_cg_open_at(const struct vs_cg_host *h, const char *parent, const char *pool,
			    const char *name)
{
	bool in_pool = pool != NULL && pool[0] != '\0';
	struct vs_cg *cg;

	if (!vs_cg_plain_name(parent) || !vs_cg_plain_name(name) ||
	    (in_pool && !vs_cg_plain_name(pool)))
		return NULL;
	cg = xcalloc(1, sizeof(*cg));
	cg->host = h;
	cg->parent = xstrdup(parent);
	cg->name = xstrdup(name);
	cg->parent_dirs = xcalloc(h->n + 1, sizeof(char *));
	cg->pool_dirs = xcalloc(h->n + 1, sizeof(char *));
	cg->dirs = xcalloc(h->n + 1, sizeof(char *));
	for (size_t i = 0; i < h->n; i++) {
		cg->parent_dirs[i] = xasprintf("%s/%s", h->hier[i].mount, parent);
		if (in_pool && vs_cg_pool_level(h, i)) {
			cg->pool_dirs[i] =
			    xasprintf("%s/%s%s", cg->parent_dirs[i], pool, VS_CG_POOL_SUFFIX);
			cg->dirs[i] = xasprintf("%s/%s", cg->pool_dirs[i], name);
		} else {
			cg->dirs[i] = xasprintf("%s/%s", cg->parent_dirs[i], name);
		}
	}
	return cg;
}

struct vs_cg *vs_cg_open_pool(const struct vs_cg_host *h, const char *parent, const char *pool,
			      const char *name)
{
	return vs_cg_open_at(h, parent, pool, name);
}

/* The pool directory below parent_dir that holds a cgroup `name`, or NULL.
 * Pool names are [a-z0-9-], so at most one matches a sane tree; the first
 * in directory order wins otherwise. */
static char *find_in_pools(const char *parent_dir, const char *name)
{
	cleanup_dir DIR *d = opendir(parent_dir);
	size_t sl = strlen(VS_CG_POOL_SUFFIX);
	struct dirent *de;

	while (d != NULL && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		cleanup_free char *pool_dir = NULL;

		if (de->d_type != DT_DIR || len <= sl ||
		    strcmp(de->d_name + len - sl, VS_CG_POOL_SUFFIX) != 0)
			continue;
		pool_dir = xasprintf("%s/%s", parent_dir, de->d_name);
		if (vs_cg_exists(pool_dir, name))
			return steal_ptr(&pool_dir);
	}
	return NULL;
}

struct vs_cg *vs_cg_open(const struct vs_cg_host *h, const char *parent, const char *name)
{
	struct vs_cg *cg = vs_cg_open_at(h, parent, NULL, name);

	for (size_t i = 0; cg != NULL && i < h->n; i++) {
		char *pool_dir;

		if (!vs_cg_pool_level(h, i) || vs_cg_exists(cg->dirs[i], "."))
			continue;
		pool_dir = find_in_pools(cg->parent_dirs[i], name);
		if (pool_dir == NULL)
			continue;
		cg->pool_dirs[i] = pool_dir;
		free(cg->dirs[i]);
		cg->dirs[i] = xasprintf("%s/%s", pool_dir, name);
	}
	return cg;
}

void vs_cg_free(struct vs_cg *cg)
{
	if (cg == NULL)
		return;
	free_dirs(cg->parent_dirs, cg->host->n);
	free_dirs(cg->pool_dirs, cg->host->n);
	free_dirs(cg->dirs, cg->host->n);
	vs_strv_free(cg->io_devs);
	free(cg->parent);
	free(cg->name);
	free(cg);
}

char **vs_cg_criu_roots(struct vs_cg *cg)
{
	const struct vs_cg_host *h = cg->host;
	char **out = xcalloc(h->n + 1, sizeof(*out));
	const char *urel = NULL;
	size_t k = 0;

	if (h->unified >= 0 && cg->dirs[h->unified] != NULL) {
		urel = cg->dirs[h->unified] + strlen(h->hier[h->unified].mount);
		out[k++] = xstrdup(urel);
	}
	for (size_t j = 0; j < h->n; j++) {
		const char *opts = h->hier[j].options ? h->hier[j].options : h->hier[j].name;
		const char *rel;

		if ((int)j == h->unified || cg->dirs[j] == NULL)
			continue;
		rel = cg->dirs[j] + strlen(h->hier[j].mount);
		if (urel != NULL && strcmp(rel, urel) == 0)
			continue;
		out[k++] = xasprintf("%.*s:%s", (int)strcspn(opts, ","), opts, rel);
	}
	return out;
}

const char *vs_cg_path(struct vs_cg *cg, const char *hierarchy)
{
	const struct vs_cg_host *h = cg->host;
	int i;

	if (strcmp(hierarchy, "unified") == 0)
		return h->unified >= 0 ? cg->dirs[h->unified] : NULL;
	for (size_t j = 0; j < h->n; j++)
		if (strcmp(h->hier[j].name, hierarchy) == 0)
			return cg->dirs[j];
	i = vs_cg_find(h, hierarchy);
	return i >= 0 ? cg->dirs[i] : NULL;
}

/* mkdir that tolerates an existing cgroup; *made tells whether this call
 * created it (and so may remove it again on failure). */
static int make_dir(const char *dir, bool *made, struct vs_error *err)
{
	struct stat st;

	*made = false;
	if (mkdir(dir, 0755) == 0) {
		*made = true;
		return 0;
	}
	if (errno != EEXIST)
		return vs_error_set(err, errno, "mkdir %s", dir);
	/* A v1 knob without a dot ("tasks") could carry the same name. */
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return vs_error_kind(err, VS_EK_CONFLICT, "%s exists and is not a cgroup", dir);
	return 0;
}

/* v1 cpuset starts a new cgroup with empty cpuset.cpus/mems, and no task can
 * join it until both are set: copy them from the parent, which was set up
 * the same way just before. An existing non-empty value is left alone. */
static int cpuset_copy(const char *from, const char *dir, const char *file, struct vs_error *err)
{
	cleanup_free char *cur = NULL;
	cleanup_free char *val = NULL;

	if (vs_cg_read(dir, file, &cur, err) < 0)
		return -1;
	if (cur[0] != '\0')
		return 0;
	if (vs_cg_read(from, file, &val, err) < 0)
		return -1;
	return vs_cg_write(dir, file, val, err);
}

static int init_v1_group(const struct vs_cg_hier *hi, const char *from, const char *dir, bool fresh,
			 struct vs_error *err)
{
	if (vs_cg_strv_has(hi->controllers, "cpuset") &&
	    (cpuset_copy(from, dir, "cpuset.cpus", err) < 0 ||
	     cpuset_copy(from, dir, "cpuset.mems", err) < 0))
		return -1;
	/* Old kernels default to a flat memory hierarchy, where our limits would
	 * not cover sub-cgroups; newer ones are always hierarchical and refuse
	 * the write, which is fine. Only possible before children exist. */
	if (fresh && vs_cg_strv_has(hi->controllers, "memory") &&
	    vs_cg_exists(dir, "memory.use_hierarchy"))
		(void)vs_cg_write(dir, "memory.use_hierarchy", "1", NULL);
	return 0;
}

/* Enable in dir's cgroup.subtree_control each wanted controller it lacks.
 * Never writes "-ctrl": other cgroups below dir may rely on them. */
static int enable_missing(const char *dir, char *const *wanted, struct vs_error *err)
{
	cleanup_free char *cur = NULL;
	cleanup_strv char **have = NULL;
	char *save = NULL;
	size_t n = 0;

	if (vs_cg_read(dir, "cgroup.subtree_control", &cur, err) < 0)
		return -1;
	have = xcalloc(1, sizeof(char *));
	for (char *c = strtok_r(cur, " ", &save); c != NULL; c = strtok_r(NULL, " ", &save)) {
		have = xrealloc(have, (n + 2) * sizeof(char *));
		have[n++] = xstrdup(c);
		have[n] = NULL;
	}
	for (size_t i = 0; wanted[i] != NULL; i++) {
		cleanup_free char *op = NULL;

		if (vs_cg_strv_has(have, wanted[i]))
			continue;
		op = xasprintf("+%s", wanted[i]);
		if (vs_cg_write(dir, "cgroup.subtree_control", op, err) < 0)
			return -1;
	}
	return 0;
}

/* On cgroup2 a controller reaches the container only when every ancestor
 * enables it for its children: the root for the instance parent, the parent
 * for the container. The parent holds no tasks, so the "no internal
 * processes" rule does not get in the way. */
static int enable_v2(const struct vs_cg_hier *hi, const char *parent_dir, struct vs_error *err)
{
	static const char *const want[] = {"cpuset", "cpu", "io", "memory", "pids"};
	char *wanted[VS_ARRAY_SIZE(want) + 1] = {NULL};
	size_t n = 0;

	for (size_t i = 0; i < VS_ARRAY_SIZE(want); i++)
		if (vs_cg_strv_has(hi->controllers, want[i]))
			wanted[n++] = (char *)want[i];
	if (n == 0)
		return 0;
	if (enable_missing(hi->mount, wanted, err) < 0)
		return -1;
	return enable_missing(parent_dir, wanted, err);
}

/* Hand the cgroup to the container's root: it may then create sub-cgroups
 * and move its own tasks between them, but not change our limits (the
 * limit files stay root's). */
static int delegate(const char *dir, uid_t uid, gid_t gid, struct vs_error *err)
{
	static const char *const files[] = {"cgroup.procs", "tasks", "cgroup.threads",
					    "cgroup.subtree_control", "cgroup.clone_children"};
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return vs_error_set(err, errno, "open %s", dir);
	if (fchown(dfd, uid, gid) < 0)
		return vs_error_set(err, errno, "chown %s to %d:%d", dir, (int)uid, (int)gid);
	for (size_t i = 0; i < VS_ARRAY_SIZE(files); i++) {
		if (fchownat(dfd, files[i], uid, gid, AT_SYMLINK_NOFOLLOW) == 0 || errno == ENOENT)
			continue;
		return vs_error_set(err, errno, "chown %s/%s to %d:%d", dir, files[i], (int)uid,
				    (int)gid);
	}
	return 0;
}

struct made {
	bool parent;
	bool dir;
};

static int create_one(struct vs_cg *cg, size_t i, struct made *made, uid_t uid, gid_t gid,
		      struct vs_error *err)
{
	const struct vs_cg_hier *hi = &cg->host->hier[i];
	const char *up = cg->pool_dirs[i] != NULL ? cg->pool_dirs[i] : cg->parent_dirs[i];

	if (make_dir(cg->parent_dirs[i], &made->parent, err) < 0)
		return -1;
	if (!hi->v2 && init_v1_group(hi, hi->mount, cg->parent_dirs[i], made->parent, err) < 0)
		return -1;
	if (hi->v2 && enable_v2(hi, cg->parent_dirs[i], err) < 0)
		return -1;
	if (cg->pool_dirs[i] != NULL && !vs_cg_exists(cg->pool_dirs[i], ".")) {
		/* Made by vs_cg_pool_apply with the pool's limits: a pool
		 * cgroup made here would have none. */
		return vs_error_kind(err, VS_EK_NOT_FOUND, "the pool's cgroup %s does not exist",
				     cg->pool_dirs[i]);
	}
	if (make_dir(cg->dirs[i], &made->dir, err) < 0)
		return -1;
	if (!hi->v2 && init_v1_group(hi, up, cg->dirs[i], made->dir, err) < 0)
		return -1;
	if (uid != (uid_t)-1 && delegate(cg->dirs[i], uid, gid, err) < 0)
		return -1;
	return 0;
}

int vs_cg_create(struct vs_cg *cg, uid_t owner_uid, gid_t owner_gid, struct vs_error *err)
{
	size_t n = cg->host->n;
	cleanup_free struct made *made = xcalloc(n, sizeof(*made));

	for (size_t i = 0; i < n; i++) {
		if (create_one(cg, i, &made[i], owner_uid, owner_gid, err) == 0)
			continue;
		/* Undo only what this call made; an instance parent that other
		 * containers use is not empty, so its rmdir just fails. */
		for (size_t j = i + 1; j-- > 0;) {
			if (made[j].dir)
				rmdir(cg->dirs[j]);
			if (made[j].parent)
				rmdir(cg->parent_dirs[j]);
		}
		return vs_error_prefix(err, "create cgroup %s/%s", cg->parent, cg->name);
	}
	return 0;
}

int vs_cg_attach(struct vs_cg *cg, pid_t pid, struct vs_error *err)
{
	for (size_t i = 0; i < cg->host->n; i++)
		if (vs_cg_write_int(cg->dirs[i], "cgroup.procs", pid, err) < 0)
			return vs_error_prefix(err, "attach pid %d", (int)pid);
	return 0;
}

int vs_cg_unified_fd(struct vs_cg *cg)
{
	if (cg->host->mode != VS_CG_UNIFIED)
		return -1;
	return open(cg->dirs[cg->host->unified], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int rmdir_visit(int parentfd, const char *name, int dfd, void *data, struct vs_error *err)
{
	const char *dir = data;
	int r = name != NULL ? unlinkat(parentfd, name, AT_REMOVEDIR) : rmdir(dir);

	int e = errno;

	if (r == 0 || e == ENOENT)
		return 0;
	if (name != NULL)
		vs_error_set(err, e, "rmdir sub-cgroup '%s'", name);
	else
		vs_error_set(err, e, "rmdir");
	/* EBUSY: tasks are still inside. */
	if (e == EBUSY && err != NULL)
		err->kind = VS_EK_CONFLICT;
	return -1;
}

int vs_cg_rmtree(const char *dir, struct vs_error *err)
{
	return vs_cg_walk(dir, rmdir_visit, (void *)dir, err) < 0 ? -1 : 0;
}

int vs_cg_pool_create(struct vs_cg *pool, struct vs_error *err)
{
	for (size_t i = 0; i < pool->host->n; i++) {
		const struct vs_cg_hier *hi = &pool->host->hier[i];
		bool made_parent, made;

		if (pool->dirs[i] == NULL)
			continue;
		if (make_dir(pool->parent_dirs[i], &made_parent, err) < 0 ||
		    (!hi->v2 &&
		     init_v1_group(hi, hi->mount, pool->parent_dirs[i], made_parent, err) < 0) ||
		    (hi->v2 && enable_v2(hi, pool->parent_dirs[i], err) < 0) ||
		    make_dir(pool->dirs[i], &made, err) < 0 ||
		    (!hi->v2 &&
		     init_v1_group(hi, pool->parent_dirs[i], pool->dirs[i], made, err) < 0) ||
		    (hi->v2 && enable_v2(hi, pool->dirs[i], err) < 0))
			return vs_error_prefix(err, "create pool cgroup %s/%s", pool->parent,
					       pool->name);
	}
	return 0;
}

int vs_cg_destroy(struct vs_cg *cg, struct vs_error *err)
{
	int r = 0;

	/* Go on through the other hierarchies after a failure, so a retry has
	 * less left to do; report the first error. */
	for (size_t i = 0; i < cg->host->n; i++) {
		struct vs_error e;

		if (cg->dirs[i] == NULL ||
		    vs_cg_walk(cg->dirs[i], rmdir_visit, cg->dirs[i], &e) >= 0 || r < 0)
			continue;
		r = -1;
		if (err != NULL)
			*err = e;
	}
	if (r < 0)
		vs_error_prefix(err, "destroy cgroup %s/%s", cg->parent, cg->name);
	return r;
}
