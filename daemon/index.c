/* The container index: every container's parsed config.json, kept in
 * memory so that a list of 1,000 containers does not parse 1,000 files.
 *
 * An entry is served only while the files on disk are the very ones it was
 * parsed from: the container directory (device, inode) and config.json
 * (device, inode, size, mtime, ctime), checked with two fstatat per use.
 * The daemon writes configs atomically (a new inode each time), and an
 * edit in place changes ctime, which no one can set back. What is left is
 * the timestamps' granularity: a file changed twice within one tick, the
 * second time to the same size, looks unchanged. So, like git's "racy
 * clean" rule, a file whose ctime or mtime is younger than `racy_ms` when it
 * is read is not kept: the next use parses it again, until it has aged. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon/store.h"
#include "lib/vs_util.h"

/* ---- pinned files ------------------------------------------------------ */

int vsd_fkey_at(int dirfd, const char *path, int flags, struct vsd_fkey *k, mode_t *mode)
{
	struct stat st;

	memset(k, 0, sizeof(*k));
	if (fstatat(dirfd, path, &st, flags) < 0)
		return -errno;
	k->dev = st.st_dev;
	k->ino = st.st_ino;
	k->size = st.st_size;
	k->mtime = st.st_mtim;
	k->ctime = st.st_ctim;
	*mode = st.st_mode;
	return 0;
}

static bool same_time(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

bool vsd_fkey_same(const struct vsd_fkey *a, const struct vsd_fkey *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       same_time(a->mtime, b->mtime) && same_time(a->ctime, b->ctime);
}

static int64_t ts_ms(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

bool vsd_fkey_settled(const struct vsd_fkey *k, int64_t racy_ms)
{
	struct timespec now;
	int64_t newest = ts_ms(k->ctime) > ts_ms(k->mtime) ? ts_ms(k->ctime) : ts_ms(k->mtime);

	clock_gettime(CLOCK_REALTIME, &now);
	return ts_ms(now) - newest >= racy_ms;
}

/* ---- the name table ----------------------------------------------------- */

/* The slot of name: its index if present (*found), else where it goes. */
static size_t slot(const struct vsd_ntab *t, const char *name, bool *found)
{
	return vs_sorted_find(t->v, t->n, sizeof(*t->v), offsetof(struct vsd_nent, name), name,
			      found);
}

static void drop_at(struct vsd_ntab *t, size_t i)
{
	t->free_val(t->v[i].val);
	free(t->v[i].name);
	memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(t->v[0]));
	t->n--;
}

void *vsd_ntab_get(const struct vsd_ntab *t, const char *name)
{
	bool found;
	size_t i = slot(t, name, &found);

	return found ? t->v[i].val : NULL;
}

void vsd_ntab_put(struct vsd_ntab *t, const char *name, void *val)
{
	bool found;
	size_t i = slot(t, name, &found);

	if (found) {
		t->free_val(t->v[i].val);
		t->v[i].val = val;
		return;
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->v = xrealloc(t->v, t->cap * sizeof(t->v[0]));
	}
	memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof(t->v[0]));
	t->v[i] = (struct vsd_nent){.name = xstrdup(name), .val = val};
	t->n++;
}

void vsd_ntab_del(struct vsd_ntab *t, const char *name)
{
	bool found;
	size_t i = slot(t, name, &found);

	if (found)
		drop_at(t, i);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void vsd_ntab_retain(struct vsd_ntab *t, char *const *names)
{
	size_t n = vs_strv_len(names);

	for (size_t i = t->n; i-- > 0;) {
		const char *key = t->v[i].name;
		if (bsearch(&key, names, n, sizeof(names[0]), cmp_name) == NULL)
			drop_at(t, i);
	}
}

void vsd_ntab_clear(struct vsd_ntab *t)
{
	while (t->n > 0)
		drop_at(t, t->n - 1);
	free(t->v);
	t->v = NULL;
	t->cap = 0;
}

/* ---- the index ---------------------------------------------------------- */

/* containers/NAME (not followed) and its config.json. */
struct cfg_key {
	struct vsd_fkey dir, file;
};

/* A config is about 5 KB, mostly the room for eight interfaces of which a
 * container has one or two: an entry keeps the bytes before the first
 * unused interface and those after the last one (the unused ones are
 * zeros in a parsed config), about 1.6 KB for one interface. */
#define CFG_IFACES offsetof(struct vs_container_config, net.ifaces)
#define CFG_AFTER  offsetof(struct vs_container_config, net.nnameservers)
#define CFG_TAIL   (sizeof(struct vs_container_config) - CFG_AFTER)
#define CFG_INIT   offsetof(struct vs_container_config, init)

struct entry {
	struct cfg_key key;
	size_t head;	       /* bytes up to the first unused interface */
	unsigned char bytes[]; /* head bytes, then CFG_TAIL bytes; init is copied */
};

struct vsd_index {
	pthread_mutex_t lock;
	int64_t racy_ms;
	struct vsd_ntab tab; /* of struct entry */
	uint64_t hits, parses;
	struct vsd_claims *claims;
};

/* The entry's config, as it was kept (init not copied: still the entry's). */
static void unpack(const struct entry *e, struct vs_container_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	memcpy(cfg, e->bytes, e->head);
	memcpy((unsigned char *)cfg + CFG_AFTER, e->bytes + e->head, CFG_TAIL);
}

static struct entry *pack(const struct cfg_key *k, const struct vs_container_config *cfg)
{
	size_t head = CFG_IFACES + cfg->net.nifaces * sizeof(cfg->net.ifaces[0]);
	struct entry *e = xmalloc(sizeof(*e) + head + CFG_TAIL);
	/* The kept copy owns an init vector of its own. */
	char **init = cfg->init != NULL ? vs_strv_dup(cfg->init) : NULL;

	_Static_assert(CFG_INIT >= CFG_AFTER, "init is in the kept tail");
	e->key = *k;
	e->head = head;
	memcpy(e->bytes, cfg, head);
	memcpy(e->bytes + head, (const unsigned char *)cfg + CFG_AFTER, CFG_TAIL);
	memcpy(e->bytes + head + (CFG_INIT - CFG_AFTER), &init, sizeof(init));
	return e;
}

static void entry_free(void *p)
{
	struct entry *e = p;
	struct vs_container_config cfg;

	unpack(e, &cfg);
	vs_config_free(&cfg);
	free(e);
}

struct vsd_index *vsd_index_new(int64_t racy_ms)
{
	struct vsd_index *ix = xcalloc(1, sizeof(*ix));

	pthread_mutex_init(&ix->lock, NULL);
	ix->racy_ms = racy_ms;
	ix->tab.free_val = entry_free;
	ix->claims = vsd_claims_new();
	return ix;
}

void vsd_index_free(struct vsd_index *ix)
{
	if (ix == NULL)
		return;
	vsd_ntab_clear(&ix->tab);
	vsd_claims_free(ix->claims);
	pthread_mutex_destroy(&ix->lock);
	free(ix);
}

/* The key of containers/NAME and its config.json; false when either is
 * missing, the directory is not one (a symlink), or config.json is not a
 * regular file (a symlink's target could change under an unchanged link). */
static bool stat_key(int containers_fd, const char *name, struct cfg_key *k)
{
	cleanup_free char *path = xasprintf("%s/config.json", name);
	mode_t dm, fm;

	return vsd_fkey_at(containers_fd, name, AT_SYMLINK_NOFOLLOW, &k->dir, &dm) == 0 &&
	       S_ISDIR(dm) &&
	       vsd_fkey_at(containers_fd, path, AT_SYMLINK_NOFOLLOW, &k->file, &fm) == 0 &&
	       S_ISREG(fm);
}

static bool same_key(const struct cfg_key *a, const struct cfg_key *b)
{
	return a->dir.dev == b->dir.dev && a->dir.ino == b->dir.ino &&
	       vsd_fkey_same(&a->file, &b->file);
}

/* A copy of name's entry if its key is k; an entry of another key goes. */
static bool lookup(struct vsd_index *ix, const char *name, const struct cfg_key *k,
		   struct vs_container_config *cfg)
{
	struct entry *e;
	bool hit = false;

	pthread_mutex_lock(&ix->lock);
	e = vsd_ntab_get(&ix->tab, name);
	if (e != NULL && same_key(&e->key, k)) {
		unpack(e, cfg);
		cfg->init = cfg->init != NULL ? vs_strv_dup(cfg->init) : NULL;
		ix->hits++;
		hit = true;
	} else if (e != NULL) {
		vsd_ntab_del(&ix->tab, name);
	}
	pthread_mutex_unlock(&ix->lock);
	return hit;
}

int vsd_index_load(struct vsd_index *ix, int containers_fd, const char *name,
		   struct vs_container_config *cfg, struct vs_error *err)
{
	struct cfg_key before, after;
	bool have;

	if (ix == NULL)
		return vsd_store_load(containers_fd, name, cfg, err);
	have = stat_key(containers_fd, name, &before);
	if (have && lookup(ix, name, &before, cfg))
		return 0;
	if (!have)
		vsd_index_forget(ix, name);
	/* The store's own reading: its errors are the index's. */
	if (vsd_store_load(containers_fd, name, cfg, err) < 0)
		return -1;
	pthread_mutex_lock(&ix->lock);
	ix->parses++;
	/* Kept only when nothing changed while it was read. */
	if (have && stat_key(containers_fd, name, &after) && same_key(&before, &after) &&
	    vsd_fkey_settled(&after.file, ix->racy_ms)) {
		vsd_ntab_put(&ix->tab, name, pack(&after, cfg));
	}
	pthread_mutex_unlock(&ix->lock);
	return 0;
}

void vsd_index_forget(struct vsd_index *ix, const char *name)
{
	if (ix == NULL)
		return;
	/* Its claims too (before the index's lock: the claims' lock always
	 * comes first): a new directory of the same name may get the freed
	 * inode, and would then pass a sync as the old one. */
	vsd_claims_forget(ix->claims, name);
	pthread_mutex_lock(&ix->lock);
	vsd_ntab_del(&ix->tab, name);
	pthread_mutex_unlock(&ix->lock);
}

void vsd_index_retain(struct vsd_index *ix, char *const *names)
{
	if (ix == NULL)
		return;
	pthread_mutex_lock(&ix->lock);
	vsd_ntab_retain(&ix->tab, names);
	pthread_mutex_unlock(&ix->lock);
}

void vsd_index_counts(struct vsd_index *ix, size_t *entries, uint64_t *hits, uint64_t *parses)
{
	pthread_mutex_lock(&ix->lock);
	*entries = ix->tab.n;
	*hits = ix->hits;
	*parses = ix->parses;
	pthread_mutex_unlock(&ix->lock);
}

/* ---- what containers claim of the node ---------------------------------- */

/* One container's. Its addresses and links are in the table's arrays,
 * owned by `name` (this string). */
struct claim {
	char *name;
	ino_t ino;	      /* containers/NAME when its config was read */
	int64_t memory;	      /* limits.memory */
	struct vs_error *bad; /* why its config could not be read; NULL: read */
};

/* An address held: a container's own, or a bridged interface's gateway
 * (shared by the containers on that bridge). Sorted by family and bytes. */
struct claim_ip {
	struct vs_ip ip;
	bool gateway;
	const char *owner;
};

/* An interface's MAC and node-side link name. */
struct claim_link {
	uint8_t mac[6];
	char ifname[VS_IFNAME_MAX + 1];
	const char *owner;
};

struct vsd_claims {
	pthread_mutex_t lock;
	struct vsd_ntab tab; /* of struct claim */
	int64_t memory;	     /* the sum of the table's */
	size_t nbad;
	struct claim_ip *ips;
	size_t nips, capips;
	struct claim_link *links;
	size_t nlinks, caplinks;
	uint64_t reads;
};

static void claim_free(void *p)
{
	struct claim *c = p;

	free(c->bad);
	free(c->name);
	free(c);
}

struct vsd_claims *vsd_index_claims(struct vsd_index *ix, struct vsd_claims **tmp)
{
	*tmp = NULL;
	if (ix != NULL)
		return ix->claims;
	*tmp = vsd_claims_new();
	return *tmp;
}

struct vsd_claims *vsd_claims_new(void)
{
	struct vsd_claims *cl = xcalloc(1, sizeof(*cl));

	pthread_mutex_init(&cl->lock, NULL);
	cl->tab.free_val = claim_free;
	return cl;
}

void vsd_claims_free(struct vsd_claims *cl)
{
	if (cl == NULL)
		return;
	vsd_ntab_clear(&cl->tab);
	free(cl->ips);
	free(cl->links);
	pthread_mutex_destroy(&cl->lock);
	free(cl);
}

static int ip_cmp(const struct vs_ip *a, const struct vs_ip *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* The first entry of ip in the sorted array (or where it goes); after:
 * the first entry past ip's. */
static size_t ip_find(const struct vsd_claims *cl, const struct vs_ip *ip, bool after)
{
	size_t lo = 0, hi = cl->nips;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = ip_cmp(&cl->ips[mid].ip, ip);
		if (c < 0 || (after && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void add_ip(struct vsd_claims *cl, const struct vs_ip *ip, bool gateway, const char *owner)
{
	struct vs_ip key = {.family = ip->family};
	size_t i;

	/* Compared without the prefix (vs_ip_equal's sense); holders of one
	 * address (a shared gateway) in the order they were read. */
	memcpy(key.addr, ip->addr, sizeof(key.addr));
	i = ip_find(cl, &key, true);
	if (cl->nips == cl->capips) {
		cl->capips = cl->capips ? cl->capips * 2 : 64;
		cl->ips = xrealloc(cl->ips, cl->capips * sizeof(cl->ips[0]));
	}
	memmove(&cl->ips[i + 1], &cl->ips[i], (cl->nips - i) * sizeof(cl->ips[0]));
	cl->ips[i] = (struct claim_ip){.ip = key, .gateway = gateway, .owner = owner};
	cl->nips++;
}

static void add_link(struct vsd_claims *cl, const struct vs_net_iface *ifc, const char *owner)
{
	struct claim_link *l;

	if (cl->nlinks == cl->caplinks) {
		cl->caplinks = cl->caplinks ? cl->caplinks * 2 : 64;
		cl->links = xrealloc(cl->links, cl->caplinks * sizeof(cl->links[0]));
	}
	l = &cl->links[cl->nlinks++];
	memcpy(l->mac, ifc->mac, sizeof(l->mac));
	memcpy(l->ifname, ifc->host_ifname, sizeof(l->ifname));
	l->owner = owner;
}

/* Drop c's addresses, links, memory and error (its entry stays). */
static void unclaim(struct vsd_claims *cl, struct claim *c)
{
	size_t k = 0;

	for (size_t i = 0; i < cl->nips; i++)
		if (cl->ips[i].owner != c->name)
			cl->ips[k++] = cl->ips[i];
	cl->nips = k;
	k = 0;
	for (size_t i = 0; i < cl->nlinks; i++)
		if (cl->links[i].owner != c->name)
			cl->links[k++] = cl->links[i];
	cl->nlinks = k;
	cl->memory -= c->memory;
	c->memory = 0;
	if (c->bad != NULL) {
		free(c->bad);
		c->bad = NULL;
		cl->nbad--;
	}
}

static void claim_cfg(struct vsd_claims *cl, struct claim *c, const struct vs_container_config *cfg)
{
	c->memory = cfg->limits.memory;
	cl->memory += c->memory;
	for (size_t i = 0; i < cfg->net.nifaces; i++) {
		const struct vs_net_iface *ifc = &cfg->net.ifaces[i];
		if (ifc->gateway4.family != 0)
			add_ip(cl, &ifc->gateway4, true, c->name);
		if (ifc->gateway6.family != 0)
			add_ip(cl, &ifc->gateway6, true, c->name);
		add_link(cl, ifc, c->name);
		for (size_t j = 0; j < ifc->naddrs; j++)
			add_ip(cl, &ifc->addrs[j], false, c->name);
	}
}

static void drop_claim(struct vsd_claims *cl, const char *name)
{
	struct claim *c = vsd_ntab_get(&cl->tab, name);

	if (c == NULL)
		return;
	unclaim(cl, c);
	vsd_ntab_del(&cl->tab, name);
}

void vsd_claims_forget(struct vsd_claims *cl, const char *name)
{
	pthread_mutex_lock(&cl->lock);
	drop_claim(cl, name);
	pthread_mutex_unlock(&cl->lock);
}

/* (Re)read name's config (directory inode ino) into its entry. A
 * migration's staging (".NAME.incoming") is read from its directory, not
 * through the index (it is no container yet); one whose config cannot be
 * read (being staged, or left by a crash) claims nothing. */
static void read_claim(struct vsd_claims *cl, struct vsd_index *ix, int containers_fd,
		       const char *name, ino_t ino)
{
	cleanup_config struct vs_container_config cfg = {0};
	struct vs_error e = {0};
	struct claim *c;
	bool staging = name[0] == '.';
	int r;

	cl->reads++;
	r = staging ? vsd_store_load(containers_fd, name, &cfg, &e)
		    : vsd_index_load(ix, containers_fd, name, &cfg, &e);
	if (r < 0 && (staging || e.kind == VS_EK_NOT_FOUND)) {
		drop_claim(cl, name); /* destroyed meanwhile */
		return;
	}
	c = vsd_ntab_get(&cl->tab, name);
	if (c == NULL) {
		c = xcalloc(1, sizeof(*c));
		c->name = xstrdup(name);
		vsd_ntab_put(&cl->tab, name, c);
	} else {
		unclaim(cl, c);
	}
	c->ino = ino;
	if (r < 0) {
		c->bad = xmalloc(sizeof(*c->bad));
		*c->bad = e;
		cl->nbad++;
		return;
	}
	claim_cfg(cl, c, &cfg);
}

int vsd_claims_sync(struct vsd_claims *cl, struct vsd_index *ix, int containers_fd,
		    struct vs_error *err)
{
	cleanup_strv char **names = NULL;
	cleanup_free ino_t *inos = NULL;

	if (vsd_store_list_claimable(containers_fd, &names, &inos, err) < 0)
		return -1;
	pthread_mutex_lock(&cl->lock);
	/* Gone: both lists are sorted by strcmp. */
	for (size_t i = cl->tab.n, j = vs_strv_len(names); i-- > 0;) {
		const char *have = cl->tab.v[i].name;
		while (j > 0 && strcmp(names[j - 1], have) > 0)
			j--;
		if (j == 0 || strcmp(names[j - 1], have) != 0)
			drop_claim(cl, have);
	}
	/* New, another directory of the same name, or unreadable last time. */
	for (size_t i = 0; names[i] != NULL; i++) {
		struct claim *c = vsd_ntab_get(&cl->tab, names[i]);
		if (c == NULL || c->ino != inos[i] || c->bad != NULL)
			read_claim(cl, ix, containers_fd, names[i], inos[i]);
	}
	pthread_mutex_unlock(&cl->lock);
	return 0;
}

void vsd_claims_put(struct vsd_claims *cl, const struct vs_container_config *cfg)
{
	struct claim *c;

	pthread_mutex_lock(&cl->lock);
	c = vsd_ntab_get(&cl->tab, cfg->name);
	if (c != NULL) {
		unclaim(cl, c);
		claim_cfg(cl, c, cfg);
	}
	pthread_mutex_unlock(&cl->lock);
}

/* The claims of owner are except's own: its config's, or those of its
 * staging when it arrives by migration (a move tried again). */
static bool excepted(const char *owner, const char *except)
{
	return except != NULL &&
	       (strcmp(owner, except) == 0 || vsd_store_is_incoming(owner, except));
}

int64_t vsd_claims_memory(struct vsd_claims *cl, const char *except)
{
	int64_t sum;

	pthread_mutex_lock(&cl->lock);
	sum = cl->memory;
	if (except != NULL) {
		cleanup_free char *staging = vsd_store_incoming(except);
		const struct claim *own = vsd_ntab_get(&cl->tab, except);
		const struct claim *arriving = vsd_ntab_get(&cl->tab, staging);

		sum -= (own != NULL ? own->memory : 0) + (arriving != NULL ? arriving->memory : 0);
	}
	pthread_mutex_unlock(&cl->lock);
	return sum;
}

int vsd_claims_readable(struct vsd_claims *cl, const char *except, struct vs_error *err)
{
	int r = 0;

	pthread_mutex_lock(&cl->lock);
	for (size_t i = 0; cl->nbad > 0 && i < cl->tab.n; i++) {
		const struct claim *c = cl->tab.v[i].val;
		if (c->bad != NULL && !excepted(c->name, except)) {
			*err = *c->bad;
			r = -1;
			break;
		}
	}
	pthread_mutex_unlock(&cl->lock);
	return r;
}

bool vsd_claims_ip(struct vsd_claims *cl, const struct vs_ip *ip, const char *except,
		   char owner[VS_NAME_MAX + 1], bool *gateway)
{
	struct vs_ip key = {.family = ip->family};
	bool found = false;

	memcpy(key.addr, ip->addr, sizeof(key.addr));
	pthread_mutex_lock(&cl->lock);
	for (size_t i = ip_find(cl, &key, false); i < cl->nips && ip_cmp(&cl->ips[i].ip, &key) == 0;
	     i++) {
		const struct claim_ip *h = &cl->ips[i];
		if (excepted(h->owner, except))
			continue;
		snprintf(owner, VS_NAME_MAX + 1, "%s", h->owner);
		*gateway = h->gateway;
		found = true;
		break;
	}
	pthread_mutex_unlock(&cl->lock);
	return found;
}

/* Some other container's link has this MAC (mac != NULL) or node-side name. */
static bool link_claimed(struct vsd_claims *cl, const uint8_t *mac, const char *ifname,
			 const char *except)
{
	bool found = false;

	pthread_mutex_lock(&cl->lock);
	for (size_t i = 0; i < cl->nlinks && !found; i++) {
		const struct claim_link *l = &cl->links[i];
		found = (mac != NULL ? memcmp(l->mac, mac, sizeof(l->mac)) == 0
				     : strcmp(l->ifname, ifname) == 0) &&
			!excepted(l->owner, except);
	}
	pthread_mutex_unlock(&cl->lock);
	return found;
}

bool vsd_claims_mac(struct vsd_claims *cl, const uint8_t mac[6], const char *except)
{
	return link_claimed(cl, mac, NULL, except);
}

bool vsd_claims_ifname(struct vsd_claims *cl, const char *ifname, const char *except)
{
	return link_claimed(cl, NULL, ifname, except);
}

void vsd_claims_counts(struct vsd_claims *cl, size_t *entries, size_t *ips, uint64_t *reads)
{
	pthread_mutex_lock(&cl->lock);
	*entries = cl->tab.n;
	*ips = cl->nips;
	*reads = cl->reads;
	pthread_mutex_unlock(&cl->lock);
}
