/* daemon: the container index (daemon/index.c), parsed configs kept in
 * memory: served only while the files are unchanged, refreshed after a
 * change, gone with the container, and failing exactly as the store does. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/daemon.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "tests/unit/test_fs_helpers.h"

struct fixture {
	char dir[64];
	int cfd; /* the containers directory */
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/vsd-test-index-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->cfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->cfd < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->cfd);
	rm_rf(f->dir);
	free(f);
	return 0;
}

/* containers/NAME/config.json (atomically, as the daemon writes it) of
 * cfg, which the caller may have given limits and interfaces. */
static void write_cfg(int cfd, const char *name, const char *hostname,
		      struct vs_container_config *cfg)
{
	static char *const init[] = {"/sbin/init", NULL};
	cleanup_close int dfd = -1;

	mkdirat(cfd, name, 0700);
	dfd = openat(cfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	snprintf(cfg->name, sizeof(cfg->name), "%s", name);
	strcpy(cfg->template_name, "busybox");
	snprintf(cfg->hostname, sizeof(cfg->hostname), "%s", hostname);
	cfg->idmap_uid = cfg->idmap_gid = 1000000;
	cfg->idmap_size = VS_IDMAP_SIZE;
	cfg->init = (char **)init;
	cfg->stop_signal = 15;
	cfg->created_at = 1234;
	assert_int_equal(vsd_store_write_config(dfd, cfg, NULL), 0);
}

static void write_config(int cfd, const char *name, const char *hostname)
{
	struct vs_container_config cfg = {0};

	write_cfg(cfd, name, hostname, &cfg);
}

static void counts(struct vsd_index *ix, size_t *entries, uint64_t *hits, uint64_t *parses)
{
	vsd_index_counts(ix, entries, hits, parses);
}

/* Load name through the index and check its hostname. */
static void expect_host(struct vsd_index *ix, int cfd, const char *name, const char *host)
{
	cleanup_config struct vs_container_config cfg = {0};
	struct vs_error err = {0};

	assert_int_equal(vsd_index_load(ix, cfd, name, &cfg, &err), 0);
	assert_string_equal(cfg.hostname, host);
	assert_string_equal(cfg.template_name, "busybox");
	assert_non_null(cfg.init);
	assert_string_equal(cfg.init[0], "/sbin/init");
}

static void test_served_from_memory(void **state)
{
	struct fixture *f = *state;
	struct vsd_index *ix = vsd_index_new(0);
	size_t n;
	uint64_t hits, parses;

	write_config(f->cfd, "web1", "one");
	expect_host(ix, f->cfd, "web1", "one");
	expect_host(ix, f->cfd, "web1", "one");
	expect_host(ix, f->cfd, "web1", "one");
	counts(ix, &n, &hits, &parses);
	assert_int_equal(n, 1);
	assert_int_equal(parses, 1);
	assert_int_equal(hits, 2);
	vsd_index_free(ix);
}

static void test_refreshed_after_change(void **state)
{
	struct fixture *f = *state;
	struct vsd_index *ix = vsd_index_new(0);
	cleanup_free char *path = xasprintf("%s/web1/config.json", f->dir);
	cleanup_free char *text = NULL;
	char *p;
	FILE *fp;
	size_t n;
	uint64_t hits, parses;

	write_config(f->cfd, "web1", "one");
	expect_host(ix, f->cfd, "web1", "one");
	/* The daemon's way: a new file renamed over the old one. */
	write_config(f->cfd, "web1", "two");
	expect_host(ix, f->cfd, "web1", "two");
	/* An operator's way: the same file rewritten in place, longer. */
	assert_int_equal(vs_read_file_at(AT_FDCWD, path, 1 << 20, &text, NULL, NULL), 0);
	p = strstr(text, "\"two\"");
	assert_non_null(p);
	fp = fopen(path, "r+");
	assert_non_null(fp);
	fprintf(fp, "%.*s\"three\"%s", (int)(p - text), text, p + 5);
	fclose(fp);
	expect_host(ix, f->cfd, "web1", "three");
	counts(ix, &n, &hits, &parses);
	assert_int_equal(parses, 3);
	assert_int_equal(hits, 0);
	vsd_index_free(ix);
}

static void test_young_file_not_kept(void **state)
{
	struct fixture *f = *state;
	struct vsd_index *ix = vsd_index_new(60 * 1000);
	size_t n;
	uint64_t hits, parses;

	/* Just written: a change within the same timestamp tick could go
	 * unseen, so it is parsed every time. */
	write_config(f->cfd, "web1", "one");
	expect_host(ix, f->cfd, "web1", "one");
	expect_host(ix, f->cfd, "web1", "one");
	counts(ix, &n, &hits, &parses);
	assert_int_equal(n, 0);
	assert_int_equal(parses, 2);
	assert_int_equal(hits, 0);
	vsd_index_free(ix);
}

static void test_gone_with_container(void **state)
{
	struct fixture *f = *state;
	struct vsd_index *ix = vsd_index_new(0);
	cleanup_strv char **names = NULL;
	struct vs_container_config cfg = {0};
	struct vs_error err = {0}, want = {0};
	cleanup_free char *dir = xasprintf("%s/web1", f->dir);
	size_t n;
	uint64_t hits, parses;

	write_config(f->cfd, "web1", "one");
	write_config(f->cfd, "web2", "two");
	expect_host(ix, f->cfd, "web1", "one");
	expect_host(ix, f->cfd, "web2", "two");
	counts(ix, &n, &hits, &parses);
	assert_int_equal(n, 2);
	vsd_index_forget(ix, "web2");
	counts(ix, &n, &hits, &parses);
	assert_int_equal(n, 1);
	/* Removed behind the daemon's back: not found, as the store says. */
	rm_rf(dir);
	assert_int_equal(vsd_index_load(ix, f->cfd, "web1", &cfg, &err), -1);
	assert_int_equal(vsd_store_load(f->cfd, "web1", &cfg, &want), -1);
	assert_int_equal(err.kind, VS_EK_NOT_FOUND);
	assert_string_equal(err.msg, want.msg);
	counts(ix, &n, &hits, &parses);
	assert_int_equal(n, 0);
	/* retain: what a listing no longer shows goes. */
	write_config(f->cfd, "web3", "three");
	write_config(f->cfd, "web4", "four");
	expect_host(ix, f->cfd, "web3", "three");
	expect_host(ix, f->cfd, "web4", "four");
	names = vs_strv_dup((char *const[]){"web2", "web4", NULL});
	vsd_index_retain(ix, names);
	counts(ix, &n, &hits, &parses);
	assert_int_equal(n, 1);
	expect_host(ix, f->cfd, "web4", "four");
	counts(ix, &n, &hits, &parses);
	assert_int_equal(hits, 1);
	vsd_index_free(ix);
}

/* index and store give the same answer for name. */
static void same_error(struct vsd_index *ix, int cfd, const char *name)
{
	struct vs_container_config cfg = {0};
	struct vs_error err = {0}, want = {0};

	assert_int_equal(vsd_store_load(cfd, name, &cfg, &want), -1);
	assert_int_equal(vsd_index_load(ix, cfd, name, &cfg, &err), -1);
	assert_int_equal(err.kind, want.kind);
	assert_int_equal(err.errnum, want.errnum);
	assert_string_equal(err.msg, want.msg);
}

static void test_bad_files_same_errors(void **state)
{
	struct fixture *f = *state;
	struct vsd_index *ix = vsd_index_new(0);
	cleanup_close int dfd = -1;
	cleanup_free char *target = xasprintf("%s/moved", f->dir);
	size_t n;
	uint64_t hits, parses;

	/* Not JSON, and valid JSON that is not a config. */
	write_config(f->cfd, "web1", "one");
	expect_host(ix, f->cfd, "web1", "one");
	dfd = openat(f->cfd, "web1", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(vs_atomic_write_at(dfd, "config.json", "{nope", 5, 0600, NULL), 0);
	same_error(ix, f->cfd, "web1");
	assert_int_equal(vs_atomic_write_at(dfd, "config.json", "{\"name\": 3}", 11, 0600, NULL),
			 0);
	same_error(ix, f->cfd, "web1");
	/* No config.json, and no directory at all. */
	assert_int_equal(unlinkat(dfd, "config.json", 0), 0);
	same_error(ix, f->cfd, "web1");
	same_error(ix, f->cfd, "nosuch");
	counts(ix, &n, &hits, &parses);
	assert_int_equal(n, 0);
	/* Fixed again: served. */
	write_config(f->cfd, "web1", "back");
	expect_host(ix, f->cfd, "web1", "back");
	/* A known container's directory replaced by a symlink to it: the
	 * store refuses it, so does the index (not its old entry). */
	expect_host(ix, f->cfd, "web1", "back");
	assert_int_equal(renameat(f->cfd, "web1", f->cfd, "moved"), 0);
	assert_int_equal(symlinkat(target, f->cfd, "web1"), 0);
	same_error(ix, f->cfd, "web1");
	/* config.json a symlink: never kept (its target may change). */
	assert_int_equal(unlinkat(f->cfd, "web1", 0), 0);
	write_config(f->cfd, "web1", "x");
	close(dfd);
	dfd = openat(f->cfd, "web1", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(unlinkat(dfd, "config.json", 0), 0);
	assert_int_equal(symlinkat("../moved/config.json", dfd, "config.json"), 0);
	counts(ix, &n, &hits, &parses);
	{
		struct vs_container_config cfg = {0};
		struct vs_error err = {0}, want = {0};
		int a = vsd_store_load(f->cfd, "web1", &cfg, &want);
		vs_config_free(&cfg);
		assert_int_equal(vsd_index_load(ix, f->cfd, "web1", &cfg, &err), a);
		assert_string_equal(err.msg, want.msg);
		vs_config_free(&cfg);
	}
	counts(ix, &n, &hits, &parses);
	assert_int_equal(n, 0);
	vsd_index_free(ix);
}

static void test_no_index_is_the_store(void **state)
{
	struct fixture *f = *state;

	write_config(f->cfd, "web1", "one");
	expect_host(NULL, f->cfd, "web1", "one");
	same_error(NULL, f->cfd, "nosuch");
	vsd_index_forget(NULL, "web1");
	vsd_index_retain(NULL, NULL);
}

/* An entry keeps only the interfaces in use: what it serves is, byte for
 * byte in JSON, what the store reads (two interfaces, nameservers, limits,
 * a lock reason after the interfaces). */
static void test_kept_config_whole(void **state)
{
	struct fixture *f = *state;
	struct vsd_index *ix = vsd_index_new(0);
	struct vs_container_config cfg = {0};
	struct vs_error err = {0};
	cleanup_free char *want = NULL;
	uint64_t hits, parses;
	size_t n;

	cfg.limits.memory = 256 << 20;
	cfg.limits.pids = 64;
	cfg.net.nifaces = 2;
	for (size_t i = 0; i < 2; i++) {
		struct vs_net_iface *ifc = &cfg.net.ifaces[i];
		snprintf(ifc->name, sizeof(ifc->name), "eth%zu", i);
		snprintf(ifc->host_ifname, sizeof(ifc->host_ifname), "vsx%zu", i);
		memcpy(ifc->mac, (uint8_t[6]){0x02, 0, 0, 0, 1, (uint8_t)i}, 6);
		assert_int_equal(
		    vs_parse_ip(i ? "10.64.0.8" : "10.64.0.7", "a", true, &ifc->addrs[0], NULL), 0);
		ifc->naddrs = 1;
	}
	cfg.net.nnameservers = 1;
	assert_int_equal(vs_parse_ip("10.0.0.53", "ns", true, &cfg.net.nameservers[0], NULL), 0);
	cfg.locked_at = 99;
	strcpy(cfg.locked_reason, "unpaid");
	write_cfg(f->cfd, "full", "full", &cfg);
	{
		cleanup_config struct vs_container_config disk = {0};
		assert_int_equal(vsd_store_load(f->cfd, "full", &disk, &err), 0);
		want = vs_config_to_json(&disk);
	}
	for (int k = 0; k < 3; k++) {
		cleanup_config struct vs_container_config got = {0};
		cleanup_free char *text = NULL;
		assert_int_equal(vsd_index_load(ix, f->cfd, "full", &got, &err), 0);
		text = vs_config_to_json(&got);
		assert_string_equal(text, want);
	}
	counts(ix, &n, &hits, &parses);
	assert_int_equal(parses, 1);
	assert_int_equal(hits, 2);
	vsd_index_free(ix);
}

/* ---- the claims table ---------------------------------------------------- */

/* containers/NAME with memory (MiB) and one interface: routed with addr,
 * or (gw given) bridged on vsbr0 with addr/24 and that gateway. */
static void write_claim(int cfd, const char *name, int64_t mib, const char *hostif, uint8_t mac5,
			const char *addr, const char *gw)
{
	struct vs_container_config cfg = {0};
	struct vs_net_iface *ifc = &cfg.net.ifaces[0];

	cfg.limits.memory = mib << 20;
	cfg.net.nifaces = 1;
	strcpy(ifc->name, "eth0");
	snprintf(ifc->host_ifname, sizeof(ifc->host_ifname), "%s", hostif);
	memcpy(ifc->mac, (uint8_t[6]){0x02, 0, 0, 0, 0, mac5}, 6);
	ifc->model = gw != NULL ? VS_NET_BRIDGED : VS_NET_ROUTED;
	if (gw != NULL) {
		strcpy(ifc->bridge, "vsbr0");
		assert_int_equal(vs_parse_ip(gw, "gw", true, &ifc->gateway4, NULL), 0);
		ifc->gateway4.prefix = 24;
	}
	assert_int_equal(vs_parse_ip(addr, "addr", true, &ifc->addrs[0], NULL), 0);
	if (gw != NULL)
		ifc->addrs[0].prefix = 24;
	ifc->naddrs = 1;
	write_cfg(cfd, name, name, &cfg);
}

static void sync_ok(struct vsd_claims *cl, struct vsd_index *ix, int cfd)
{
	struct vs_error err = {0};

	assert_int_equal(vsd_claims_sync(cl, ix, cfd, &err), 0);
}

/* Who holds addr, other than except ("" when nobody). */
static const char *holder(struct vsd_claims *cl, const char *addr, const char *except,
			  bool *gateway)
{
	static char owner[VS_NAME_MAX + 1];
	struct vs_ip ip;

	assert_int_equal(vs_parse_ip(addr, "addr", true, &ip, NULL), 0);
	if (!vsd_claims_ip(cl, &ip, except, owner, gateway))
		owner[0] = '\0';
	return owner;
}

static uint64_t reads_of(struct vsd_claims *cl)
{
	size_t n, nips;
	uint64_t reads;

	vsd_claims_counts(cl, &n, &nips, &reads);
	return reads;
}

static void test_claims_read_once(void **state)
{
	struct fixture *f = *state;
	struct vsd_index *ix = vsd_index_new(0);
	struct vsd_claims *tmp, *cl = vsd_index_claims(ix, &tmp);
	bool gw;

	assert_null(tmp);
	write_claim(f->cfd, "a", 256, "vsa", 1, "10.64.0.2", NULL);
	write_claim(f->cfd, "b", 512, "vsb", 2, "10.64.0.3", NULL);
	sync_ok(cl, ix, f->cfd);
	assert_int_equal(reads_of(cl), 2);
	assert_int_equal(vsd_claims_memory(cl, NULL), 768 << 20);
	assert_int_equal(vsd_claims_memory(cl, "b"), 256 << 20);
	assert_string_equal(holder(cl, "10.64.0.3", NULL, &gw), "b");
	assert_false(gw);
	assert_string_equal(holder(cl, "10.64.0.3", "b", &gw), "");
	assert_string_equal(holder(cl, "10.64.0.4", NULL, &gw), "");
	/* Nothing changed: nothing read again. */
	sync_ok(cl, ix, f->cfd);
	assert_int_equal(reads_of(cl), 2);
	/* A create: only the new one is read. */
	write_claim(f->cfd, "c", 128, "vsc", 3, "10.64.0.4", NULL);
	sync_ok(cl, ix, f->cfd);
	assert_int_equal(reads_of(cl), 3);
	assert_int_equal(vsd_claims_memory(cl, NULL), 896 << 20);
	assert_string_equal(holder(cl, "10.64.0.4", NULL, &gw), "c");
	assert_true(vsd_claims_mac(cl, (uint8_t[6]){0x02, 0, 0, 0, 0, 3}, NULL));
	assert_false(vsd_claims_mac(cl, (uint8_t[6]){0x02, 0, 0, 0, 0, 3}, "c"));
	assert_false(vsd_claims_mac(cl, (uint8_t[6]){0x02, 0, 0, 0, 0, 9}, NULL));
	assert_true(vsd_claims_ifname(cl, "vsa", NULL));
	assert_false(vsd_claims_ifname(cl, "vsa", "a"));
	assert_false(vsd_claims_ifname(cl, "vsz", NULL));
	vsd_index_free(ix);
}

static void test_claims_follow_changes(void **state)
{
	struct fixture *f = *state;
	struct vsd_index *ix = vsd_index_new(0);
	struct vsd_claims *tmp, *cl = vsd_index_claims(ix, &tmp);
	cleanup_free char *dir = xasprintf("%s/a", f->dir);
	cleanup_config struct vs_container_config cfg = {0};
	struct vs_error err = {0};
	bool gw;

	write_claim(f->cfd, "a", 256, "vsa", 1, "10.64.0.2", NULL);
	write_claim(f->cfd, "b", 512, "vsb", 2, "10.64.0.3", NULL);
	sync_ok(cl, ix, f->cfd);
	/* Destroyed: its memory and address are free at the next sync. */
	rm_rf(dir);
	sync_ok(cl, ix, f->cfd);
	assert_int_equal(vsd_claims_memory(cl, NULL), 512 << 20);
	assert_string_equal(holder(cl, "10.64.0.2", NULL, &gw), "");
	assert_false(vsd_claims_ifname(cl, "vsa", NULL));
	/* Made again under the same name (another directory): read again. */
	write_claim(f->cfd, "a", 64, "vsa2", 4, "10.64.0.9", NULL);
	sync_ok(cl, ix, f->cfd);
	assert_int_equal(vsd_claims_memory(cl, NULL), 576 << 20);
	assert_string_equal(holder(cl, "10.64.0.9", NULL, &gw), "a");
	/* Rewritten in place (an update) and told: the new limits count. */
	assert_int_equal(vsd_store_load(f->cfd, "b", &cfg, &err), 0);
	cfg.limits.memory = 1024 << 20;
	assert_int_equal(vs_parse_ip("10.64.0.30", "addr", true, &cfg.net.ifaces[0].addrs[0], NULL),
			 0);
	vsd_claims_put(cl, &cfg);
	sync_ok(cl, ix, f->cfd);
	assert_int_equal(vsd_claims_memory(cl, NULL), (1024 + 64) << 20);
	assert_string_equal(holder(cl, "10.64.0.3", NULL, &gw), "");
	assert_string_equal(holder(cl, "10.64.0.30", NULL, &gw), "b");
	/* A name the table never read: put leaves it to the next sync. */
	snprintf(cfg.name, sizeof(cfg.name), "zz");
	vsd_claims_put(cl, &cfg);
	assert_int_equal(vsd_claims_memory(cl, NULL), (1024 + 64) << 20);
	vsd_index_free(ix);
}

/* A destroy forgets the claims at once: a container made again under the
 * name whose directory got the freed inode would otherwise pass a sync as
 * the old one (here: the same directory, its config rewritten). */
static void test_claims_forget(void **state)
{
	struct fixture *f = *state;
	struct vsd_index *ix = vsd_index_new(0);
	struct vsd_claims *tmp, *cl = vsd_index_claims(ix, &tmp);
	bool gw;

	write_claim(f->cfd, "a", 256, "vsa", 1, "10.64.0.2", NULL);
	write_claim(f->cfd, "b", 512, "vsb", 2, "10.64.0.3", NULL);
	sync_ok(cl, ix, f->cfd);
	vsd_index_forget(ix, "a");
	assert_int_equal(vsd_claims_memory(cl, NULL), 512 << 20);
	assert_string_equal(holder(cl, "10.64.0.2", NULL, &gw), "");
	write_claim(f->cfd, "a", 64, "vsa2", 4, "10.64.0.9", NULL);
	sync_ok(cl, ix, f->cfd);
	assert_int_equal(vsd_claims_memory(cl, NULL), 576 << 20);
	assert_string_equal(holder(cl, "10.64.0.2", NULL, &gw), "");
	assert_string_equal(holder(cl, "10.64.0.9", NULL, &gw), "a");
	assert_false(vsd_claims_ifname(cl, "vsa", NULL));
	vsd_index_free(ix);
}

static void test_claims_shared_gateway(void **state)
{
	struct fixture *f = *state;
	struct vsd_claims *tmp, *cl = vsd_index_claims(NULL, &tmp);
	bool gw;

	/* Without an index (unit tests): a table of its own, read in full. */
	assert_non_null(tmp);
	write_claim(f->cfd, "a", 0, "vsa", 1, "10.0.3.5", "10.0.3.1");
	write_claim(f->cfd, "b", 0, "vsb", 2, "10.0.3.6", "10.0.3.1");
	sync_ok(cl, NULL, f->cfd);
	assert_int_equal(vsd_claims_memory(cl, NULL), 0);
	/* The gateway is both's: excepting one, the other still holds it. */
	assert_string_equal(holder(cl, "10.0.3.1", NULL, &gw), "a");
	assert_true(gw);
	assert_string_equal(holder(cl, "10.0.3.1", "a", &gw), "b");
	assert_true(gw);
	assert_string_equal(holder(cl, "10.0.3.6", "a", &gw), "b");
	assert_false(gw);
	vsd_claims_free(tmp);
}

/* An incoming migration's staging claims what its config holds from the
 * reservation to the commit (a create meanwhile cannot take its address,
 * MAC or link name, and its memory counts), except for the arriving name
 * itself; a staging without a readable config claims nothing and blocks
 * nothing; other hidden entries are not read. */
static void test_claims_staging(void **state)
{
	struct fixture *f = *state;
	struct vsd_index *ix = vsd_index_new(0);
	struct vsd_claims *tmp, *cl = vsd_index_claims(ix, &tmp);
	struct vs_error err = {0};
	bool gw;

	write_claim(f->cfd, "a", 256, "vsa", 1, "10.64.0.2", NULL);
	write_claim(f->cfd, "web", 512, "vsw", 5, "10.64.0.5", NULL);
	assert_int_equal(renameat(f->cfd, "web", f->cfd, ".web.incoming"), 0);
	write_claim(f->cfd, "tmp", 64, "vst", 6, "10.64.0.6", NULL);
	assert_int_equal(renameat(f->cfd, "tmp", f->cfd, ".tmp.creating"), 0);
	assert_int_equal(mkdirat(f->cfd, ".half.incoming", 0700), 0);
	sync_ok(cl, ix, f->cfd);
	assert_string_equal(holder(cl, "10.64.0.5", NULL, &gw), ".web.incoming");
	assert_string_equal(holder(cl, "10.64.0.5", "web", &gw), "");
	assert_string_equal(holder(cl, "10.64.0.6", NULL, &gw), "");
	assert_int_equal(vsd_claims_memory(cl, NULL), (256 + 512) << 20);
	assert_int_equal(vsd_claims_memory(cl, "web"), 256 << 20);
	assert_true(vsd_claims_mac(cl, (uint8_t[6]){0x02, 0, 0, 0, 0, 5}, NULL));
	assert_false(vsd_claims_mac(cl, (uint8_t[6]){0x02, 0, 0, 0, 0, 5}, "web"));
	assert_true(vsd_claims_ifname(cl, "vsw", "a"));
	assert_int_equal(vsd_claims_readable(cl, NULL, &err), 0);
	/* The commit renames it into place: the same claims, now web's. */
	assert_int_equal(renameat(f->cfd, ".web.incoming", f->cfd, "web"), 0);
	sync_ok(cl, ix, f->cfd);
	assert_string_equal(holder(cl, "10.64.0.5", NULL, &gw), "web");
	assert_int_equal(vsd_claims_memory(cl, NULL), (256 + 512) << 20);
	vsd_index_free(ix);
}

static void test_claims_unreadable(void **state)
{
	struct fixture *f = *state;
	struct vsd_index *ix = vsd_index_new(0);
	struct vsd_claims *tmp, *cl = vsd_index_claims(ix, &tmp);
	struct vs_error err = {0};
	cleanup_close int dfd = -1;

	write_claim(f->cfd, "a", 256, "vsa", 1, "10.64.0.2", NULL);
	write_claim(f->cfd, "b", 512, "vsb", 2, "10.64.0.3", NULL);
	dfd = openat(f->cfd, "b", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(vs_atomic_write_at(dfd, "config.json", "{", 1, 0600, NULL), 0);
	sync_ok(cl, ix, f->cfd);
	/* Its memory is not counted (as before); its addresses are unknown. */
	assert_int_equal(vsd_claims_memory(cl, NULL), 256 << 20);
	assert_int_equal(vsd_claims_readable(cl, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "container 'b'"));
	assert_int_equal(vsd_claims_readable(cl, "b", &err), 0);
	/* Read again at each sync until it can be. */
	write_claim(f->cfd, "b", 512, "vsb", 2, "10.64.0.3", NULL);
	sync_ok(cl, ix, f->cfd);
	assert_int_equal(vsd_claims_readable(cl, NULL, &err), 0);
	assert_int_equal(vsd_claims_memory(cl, NULL), 768 << 20);
	vsd_index_free(ix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_served_from_memory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refreshed_after_change, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_young_file_not_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gone_with_container, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_files_same_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_index_is_the_store, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kept_config_whole, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claims_read_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claims_follow_changes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claims_forget, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claims_staging, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claims_shared_gateway, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claims_unreadable, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
