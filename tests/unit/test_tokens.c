/* daemon: API tokens (daemon/tokens.c), scopes (vsd_authorize), owners
 * (vsd_owner_visible, access.c) and the owner filter of the event bus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/handlers.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "tests/unit/test_memcmp.h"

struct fixture {
	char root[64];
	struct vsd_tokens *t;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct vs_error err = {0};

	snprintf(f->root, sizeof(f->root), "/tmp/vsd-test-tokens-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	assert_int_equal(vsd_tokens_open(f->root, &f->t, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *file = xasprintf("%s/auth/tokens.json", f->root);
	cleanup_free char *dir = xasprintf("%s/auth", f->root);

	vsd_tokens_free(f->t);
	unlink(file);
	rmdir(dir);
	rmdir(f->root);
	free(f);
	return 0;
}

static void mk(struct fixture *f, const char *name, enum vsd_scope scope, const char *owner,
	       int64_t expires, char secret[VSD_TOKEN_SECRET_LEN + 1])
{
	struct vsd_token_spec spec = {
	    .name = name, .scope = scope, .owner = owner, .expires = expires};
	struct vs_error err = {0};

	assert_int_equal(vsd_tokens_create(f->t, &spec, 1000, secret, &err), 0);
	assert_int_equal(strlen(secret), VSD_TOKEN_SECRET_LEN);
	assert_memory_equal(secret, "vsd_", 4);
}

static void test_create_verify(void **state)
{
	struct fixture *f = *state;
	char s1[VSD_TOKEN_SECRET_LEN + 1], s2[VSD_TOKEN_SECRET_LEN + 1];
	struct vsd_identity who = {0};
	struct vs_error err = {0};

	mk(f, "panel", VSD_SCOPE_OPERATE, "acme", 0, s1);
	mk(f, "ro", VSD_SCOPE_READ, NULL, 0, s2);
	assert_string_not_equal(s1, s2);
	memcmp_calls = 0;
	assert_int_equal(vsd_tokens_verify(f->t, s1, 2000, &who, &err), 0);
	/* Every stored hash is compared in constant time. */
	assert_int_equal(memcmp_calls, 2);
	assert_int_equal(who.kind, VSD_CRED_TOKEN);
	assert_int_equal(who.scope, VSD_SCOPE_OPERATE);
	assert_string_equal(who.name, "token:panel");
	assert_string_equal(who.owner, "acme");
	memset(&who, 0, sizeof(who));
	assert_int_equal(vsd_tokens_verify(f->t, s2, 2000, &who, &err), 0);
	assert_int_equal(who.scope, VSD_SCOPE_READ);
	assert_string_equal(who.owner, "");
}

static void test_hash_only_on_disk(void **state)
{
	struct fixture *f = *state;
	char s[VSD_TOKEN_SECRET_LEN + 1];
	cleanup_free char *dir = xasprintf("%s/auth", f->root);
	cleanup_free char *text = NULL;
	struct vs_error err = {0};
	struct stat st;
	size_t len;

	mk(f, "disk", VSD_SCOPE_ADMIN, NULL, 0, s);
	{
		cleanup_free char *file = xasprintf("%s/tokens.json", dir);
		assert_int_equal(vs_read_file_at(AT_FDCWD, file, 1 << 20, &text, &len, &err), 0);
		assert_int_equal(stat(file, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	assert_null(strstr(text, s));
	assert_null(strstr(text, s + 4));
	assert_non_null(strstr(text, "\"hash\""));
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
}

static void test_expire_revoke_persist(void **state)
{
	struct fixture *f = *state;
	char s1[VSD_TOKEN_SECRET_LEN + 1], s2[VSD_TOKEN_SECRET_LEN + 1];
	struct vsd_identity who = {0};
	struct vs_error err = {0};
	struct vsd_tokens *again = NULL;

	mk(f, "short", VSD_SCOPE_ADMIN, NULL, 60, s1);
	mk(f, "keep", VSD_SCOPE_ADMIN, NULL, 0, s2);
	assert_int_equal(vsd_tokens_verify(f->t, s1, 1059, &who, &err), 0);
	assert_int_equal(vsd_tokens_verify(f->t, s1, 1060, &who, &err), -1);
	assert_int_equal(err.kind, VS_EK_UNAUTHORIZED);
	assert_non_null(strstr(err.msg, "expired"));
	assert_null(strstr(err.msg, s1));
	assert_int_equal(vsd_tokens_revoke(f->t, "short", &err), 0);
	assert_int_equal(vsd_tokens_verify(f->t, s1, 1000, &who, &err), -1);
	assert_string_equal(err.msg, "unknown API token");
	assert_int_equal(vsd_tokens_revoke(f->t, "short", &err), -1);
	assert_int_equal(err.kind, VS_EK_NOT_FOUND);
	/* The store survives a restart; the revoked token stays gone. */
	assert_int_equal(vsd_tokens_open(f->root, &again, &err), 0);
	assert_int_equal(vsd_tokens_verify(again, s2, 5000, &who, &err), 0);
	assert_string_equal(who.name, "token:keep");
	assert_int_equal(vsd_tokens_verify(again, s1, 1000, &who, &err), -1);
	vsd_tokens_free(again);
}

static void test_bad_input(void **state)
{
	struct fixture *f = *state;
	char s[VSD_TOKEN_SECRET_LEN + 1];
	struct vsd_identity who = {0};
	struct vs_error err = {0};
	struct vsd_token_spec bad[] = {
	    {.name = "../x", .scope = VSD_SCOPE_READ},
	    {.name = "ok", .scope = VSD_SCOPE_PUBLIC},
	    {.name = "ok", .scope = VSD_SCOPE_READ, .owner = "Bad Owner"},
	    {.name = "ok", .scope = VSD_SCOPE_READ, .expires = -1},
	    {.name = NULL, .scope = VSD_SCOPE_READ},
	    {.name = "ok", .scope = VSD_SCOPE_ADMIN, .owner = "acme"},
	};

	for (size_t i = 0; i < VS_ARRAY_SIZE(bad); i++) {
		memset(&err, 0, sizeof(err));
		assert_int_equal(vsd_tokens_create(f->t, &bad[i], 1000, s, &err), -1);
		assert_int_equal(err.kind, VS_EK_INVALID);
	}
	mk(f, "dup", VSD_SCOPE_READ, NULL, 0, s);
	assert_int_equal(vsd_tokens_create(
			     f->t, &(struct vsd_token_spec){.name = "dup", .scope = VSD_SCOPE_READ},
			     1000, s, &err),
			 -1);
	assert_int_equal(err.kind, VS_EK_CONFLICT);
	assert_int_equal(vsd_tokens_verify(f->t, "vsd_short", 1000, &who, &err), -1);
	assert_int_equal(err.kind, VS_EK_UNAUTHORIZED);
	assert_int_equal(vsd_tokens_verify(f->t, "", 1000, &who, &err), -1);
}

static const struct vsd_route *route(const char *method, const char *path)
{
	static struct vsd_match m;
	char allow[64];

	vsd_match_clear(&m);
	assert_int_equal(
	    vsd_route_match(vsd_routes, vsd_nroutes, method, path, &m, allow, sizeof(allow)),
	    VSD_MATCH_OK);
	return m.route;
}

static void test_authorize(void **state)
{
	struct vsd_identity rd = {.kind = VSD_CRED_TOKEN, .scope = VSD_SCOPE_READ, .name = "t"};
	struct vsd_identity opr = {.kind = VSD_CRED_TOKEN, .scope = VSD_SCOPE_OPERATE, .name = "t"};
	struct vsd_identity adm = {.kind = VSD_CRED_LOCAL, .scope = VSD_SCOPE_ADMIN, .name = "u"};
	struct vsd_identity none = {.kind = VSD_CRED_NONE};
	struct vs_error err = {0};

	assert_int_equal(vsd_authorize(&rd, route("GET", "/v1/containers"), "GET", &err), 0);
	assert_int_equal(vsd_authorize(&rd, route("POST", "/v1/containers"), "POST", &err), -1);
	assert_int_equal(err.kind, VS_EK_FORBIDDEN);
	assert_int_equal(vsd_authorize(&opr, route("POST", "/v1/containers"), "POST", &err), 0);
	/* Admin routes: tokens, pools, templates, raw host paths. */
	static const char *const admin[][2] = {
	    {"GET", "/v1/tokens"},
	    {"POST", "/v1/tokens"},
	    {"DELETE", "/v1/tokens/x"},
	    {"POST", "/v1/pools"},
	    {"PATCH", "/v1/pools/p"},
	    {"DELETE", "/v1/pools/p"},
	    {"POST", "/v1/templates"},
	    {"DELETE", "/v1/templates/t"},
	    {"PUT", "/v1/templates/t/archive"},
	    {"POST", "/v1/containers/c/checkpoint"},
	    {"POST", "/v1/containers/c/restore"},
	};
	for (size_t i = 0; i < VS_ARRAY_SIZE(admin); i++) {
		const struct vsd_route *r = route(admin[i][0], admin[i][1]);
		assert_int_equal(vsd_authorize(&opr, r, admin[i][0], &err), -1);
		assert_int_equal(err.kind, VS_EK_FORBIDDEN);
		assert_int_equal(vsd_authorize(&adm, r, admin[i][0], &err), 0);
	}
	assert_int_equal(vsd_authorize(&none, route("GET", "/v1/containers"), "GET", &err), -1);
	assert_int_equal(err.kind, VS_EK_UNAUTHORIZED);
	vsd_match_clear(&(struct vsd_match){0});
}

static void test_owner_rules(void **state)
{
	struct vsd_identity acme = {
	    .kind = VSD_CRED_TOKEN, .scope = VSD_SCOPE_OPERATE, .name = "token:p", .owner = "acme"};
	struct vsd_identity all = {
	    .kind = VSD_CRED_TOKEN, .scope = VSD_SCOPE_OPERATE, .name = "token:q"};
	struct vsd_identity adm = {.kind = VSD_CRED_LOCAL, .scope = VSD_SCOPE_ADMIN};
	struct vs_container_config cfg = {0};
	struct vs_error err = {0};

	assert_true(vsd_owner_visible(&acme, "acme"));
	assert_false(vsd_owner_visible(&acme, "other"));
	assert_false(vsd_owner_visible(&acme, ""));
	assert_true(vsd_owner_visible(&all, "other"));
	assert_true(vsd_owner_visible(&all, ""));
	/* Create: the owner is forced, another is refused. */
	assert_int_equal(vsd_owner_for_create(&acme, &cfg, &err), 0);
	assert_string_equal(cfg.owner, "acme");
	strcpy(cfg.owner, "zed");
	assert_int_equal(vsd_owner_for_create(&acme, &cfg, &err), -1);
	assert_int_equal(err.kind, VS_EK_FORBIDDEN);
	assert_int_equal(vsd_owner_for_create(&all, &cfg, &err), 0);
	assert_string_equal(cfg.owner, "zed");
	/* Privileged needs admin. */
	cfg.privileged = true;
	assert_int_equal(vsd_require_admin_for(&all, NULL, NULL, &cfg, &err), -1);
	assert_int_equal(err.kind, VS_EK_FORBIDDEN);
	assert_non_null(strstr(err.msg, "privileged"));
	assert_int_equal(vsd_require_admin_for(&adm, NULL, NULL, &cfg, &err), 0);
	cfg.privileged = false;
	assert_int_equal(vsd_require_admin_for(&all, NULL, NULL, &cfg, &err), 0);
	/* A host bridge the node did not declare needs admin; vsd's own, a
	 * pool's and a private one do not. */
	struct vs_net_node node = {.bridge = "vsbr1", .npools = 1, .nprivate = 1};
	snprintf(node.pools[0].network, sizeof(node.pools[0].network), "lan0");
	snprintf(node.private_bridges[0], sizeof(node.private_bridges[0]), "priv0");
	cfg.net.nifaces = 1;
	cfg.net.ifaces[0].model = VS_NET_BRIDGED;
	const char *ok[] = {"", "vsbr1", "lan0", "priv0"};
	for (size_t i = 0; i < 4; i++) {
		snprintf(cfg.net.ifaces[0].bridge, sizeof(cfg.net.ifaces[0].bridge), "%s", ok[i]);
		assert_int_equal(vsd_require_admin_for(&all, &node, NULL, &cfg, &err), 0);
	}
	snprintf(cfg.net.ifaces[0].bridge, sizeof(cfg.net.ifaces[0].bridge), "mgmt0");
	assert_int_equal(vsd_require_admin_for(&all, &node, NULL, &cfg, &err), -1);
	assert_int_equal(err.kind, VS_EK_FORBIDDEN);
	assert_non_null(strstr(err.msg, "mgmt0"));
	assert_int_equal(vsd_require_admin_for(&adm, &node, NULL, &cfg, &err), 0);
	/* A PATCH keeps what the container had: only additions are checked. */
	struct vs_container_config had = cfg;
	assert_int_equal(vsd_require_admin_for(&all, &node, &had, &cfg, &err), 0);
	cfg.net.ifaces[0].model = VS_NET_ROUTED;
	assert_int_equal(vsd_require_admin_for(&all, &node, NULL, &cfg, &err), 0);
	/* Addresses: inside a pool of the interface's network, or admin. */
	node.npools = 2;
	snprintf(node.pools[1].network, sizeof(node.pools[1].network), "routed");
	assert_int_equal(vs_parse_cidr("203.0.113.0/28", "t", &node.pools[1].net, &err), 0);
	cfg.net.ifaces[0].naddrs = 1;
	assert_int_equal(vs_parse_ip("203.0.113.5", "t", true, &cfg.net.ifaces[0].addrs[0], &err),
			 0);
	assert_int_equal(vsd_require_admin_for(&all, &node, NULL, &cfg, &err), 0);
	assert_int_equal(vs_parse_ip("198.51.100.53", "t", true, &cfg.net.ifaces[0].addrs[0], &err),
			 0);
	assert_int_equal(vsd_require_admin_for(&all, &node, NULL, &cfg, &err), -1);
	assert_int_equal(err.kind, VS_EK_FORBIDDEN);
	assert_non_null(strstr(err.msg, "198.51.100.53"));
	assert_int_equal(vsd_require_admin_for(&adm, &node, NULL, &cfg, &err), 0);
	/* ... unless the container already had it (an admin gave it). */
	had = cfg;
	assert_int_equal(vsd_require_admin_for(&all, &node, &had, &cfg, &err), 0);
	/* The same address in lan0's pool does not count for routed. */
	assert_int_equal(vs_parse_cidr("198.51.100.0/24", "t", &node.pools[0].net, &err), 0);
	assert_int_equal(vsd_require_admin_for(&all, &node, NULL, &cfg, &err), -1);
}

/* The events of an owner-scoped subscriber: only its owner's containers. */
static void test_events_owner_filter(void **state)
{
	struct vsd_events *ev = vsd_events_new(1);
	struct vsd_event_sub *mine, *every;
	char buf[4096];
	ssize_t n;

	vsd_events_set_owner(ev, "a1", "acme");
	vsd_events_set_owner(ev, "b1", "other");
	mine = vsd_events_subscribe_owner(ev, ~0u, 0, "acme");
	every = vsd_events_subscribe_owner(ev, ~0u, 0, NULL);
	vsd_events_publish(ev, VSD_EV_CONTAINER_CREATED, "b1", NULL, 1);
	vsd_events_publish(ev, VSD_EV_CONTAINER_CREATED, "c1", NULL, 1);
	vsd_events_publish(ev, VSD_EV_OPERATION_END, NULL, NULL, 1);
	vsd_events_publish(ev, VSD_EV_CONTAINER_CREATED, "a1", NULL, 1);
	vsd_events_forget(ev, "a1");
	vsd_events_publish(ev, VSD_EV_CONTAINER_DESTROYED, "a1", NULL, 1);
	n = vsd_events_read(mine, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "\"container\":\"a1\""));
	assert_int_equal(vsd_events_read(mine, buf, sizeof(buf), 0), 0);
	for (int i = 0; i < 5; i++)
		assert_true(vsd_events_read(every, buf, sizeof(buf), 0) > 0);
	vsd_events_unsubscribe(mine);
	vsd_events_unsubscribe(every);
	vsd_events_free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_create_verify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hash_only_on_disk, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expire_revoke_persist, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
	    cmocka_unit_test(test_authorize),
	    cmocka_unit_test(test_owner_rules),
	    cmocka_unit_test(test_events_owner_filter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
