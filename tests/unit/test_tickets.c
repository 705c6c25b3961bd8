/* daemon: one-time stream tickets (daemon/tickets.c): made with a random
 * id and secret, redeemed once, only with the right secret and before
 * they expire, bound to the container and credential that made them, and
 * bounded in number; and the stream route's scope (PUBLIC: the secret is
 * the credential). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/handlers.h"
#include "lib/vs_util.h"
#include "tests/unit/test_memcmp.h"

static const struct vsd_identity acme = {
    .kind = VSD_CRED_TOKEN, .scope = VSD_SCOPE_OPERATE, .name = "token:p1", .owner = "acme"};

struct made {
	char id[VSD_TICKET_ID_LEN + 1];
	char secret[VSD_TICKET_SECRET_LEN + 1];
	int64_t expires;
};

static void make(struct vsd_tickets *t, const char *ct, const char *body, int64_t now,
		 struct made *m)
{
	struct vsd_ticket_spec spec = {
	    .kind = VSD_TICKET_EXEC, .container = ct, .who = &acme, .body = body};
	struct vs_error err = {0};

	assert_int_equal(vsd_tickets_create(t, &spec, now, m->id, m->secret, &m->expires, &err), 0);
}

static void test_redeem_once(void **state)
{
	struct vsd_tickets *t = vsd_tickets_new(30000, 8);
	struct vs_error err = {0};
	struct vsd_ticket *k = NULL;
	struct made a, b;

	make(t, "web1", "{\"command\":[\"id\"]}", 1000, &a);
	make(t, "web2", NULL, 1000, &b);
	assert_int_equal(strlen(a.id), VSD_TICKET_ID_LEN);
	assert_int_equal(strlen(a.secret), VSD_TICKET_SECRET_LEN);
	assert_int_equal(a.expires, 31000);
	assert_string_not_equal(a.id, b.id);
	assert_string_not_equal(a.secret, b.secret);
	assert_int_equal(vsd_tickets_count(t, 1000), 2);
	/* Bound: b's secret does not open a, and a wrong one does not spend it. */
	memcmp_calls = 0;
	assert_int_equal(vsd_tickets_redeem(t, a.id, b.secret, 2000, &k, &err), -1);
	assert_int_equal(err.kind, VS_EK_UNAUTHORIZED);
	assert_true(memcmp_calls >= 1);
	assert_null(strstr(err.msg, b.secret));
	assert_int_equal(vsd_tickets_redeem(t, a.id, "", 2000, &k, &err), -1);
	assert_int_equal(vsd_tickets_redeem(t, a.id, NULL, 2000, &k, &err), -1);
	assert_int_equal(vsd_tickets_count(t, 2000), 2);
	assert_int_equal(vsd_tickets_redeem(t, a.id, a.secret, 2000, &k, &err), 0);
	assert_string_equal(k->id, a.id);
	assert_string_equal(k->container, "web1");
	assert_string_equal(k->who.owner, "acme");
	assert_string_equal(k->who.name, "token:p1");
	assert_int_equal(k->kind, VSD_TICKET_EXEC);
	assert_string_equal(k->body, "{\"command\":[\"id\"]}");
	vsd_ticket_free(k);
	/* Single use. */
	err = (struct vs_error){0};
	assert_int_equal(vsd_tickets_redeem(t, a.id, a.secret, 2000, &k, &err), -1);
	assert_int_equal(err.kind, VS_EK_UNAUTHORIZED);
	assert_non_null(strstr(err.msg, "unknown stream ticket"));
	/* No body: "{}". */
	assert_int_equal(vsd_tickets_redeem(t, b.id, b.secret, 2000, &k, &err), 0);
	assert_string_equal(k->body, "{}");
	assert_string_equal(k->container, "web2");
	vsd_ticket_free(k);
	assert_int_equal(vsd_tickets_count(t, 2000), 0);
	vsd_tickets_free(t);
}

static void test_expiry(void **state)
{
	struct vsd_tickets *t = vsd_tickets_new(500, 8);
	struct vs_error err = {0};
	struct vsd_ticket *k = NULL;
	struct made a, b;

	make(t, "web1", NULL, 1000, &a);
	make(t, "web1", NULL, 1200, &b);
	/* At its last millisecond a ticket still works; at its end it does not. */
	assert_int_equal(vsd_tickets_redeem(t, a.id, a.secret, 1499, &k, &err), 0);
	vsd_ticket_free(k);
	assert_int_equal(vsd_tickets_redeem(t, b.id, b.secret, 1700, &k, &err), -1);
	assert_int_equal(err.kind, VS_EK_UNAUTHORIZED);
	assert_non_null(strstr(err.msg, "expired"));
	assert_int_equal(vsd_tickets_count(t, 1700), 0);
	/* Swept without being redeemed. */
	make(t, "web1", NULL, 2000, &a);
	make(t, "web1", NULL, 2400, &b);
	assert_int_equal(vsd_tickets_count(t, 2000), 2);
	assert_int_equal(vsd_tickets_count(t, 2500), 1);
	assert_int_equal(vsd_tickets_count(t, 2900), 0);
	vsd_tickets_free(t);
}

/* One credential holds at most 32; another still gets tickets. */
static void test_per_credential(void **state)
{
	struct vsd_tickets *t = vsd_tickets_new(1000, 1024);
	struct vsd_identity zed = acme;
	struct vsd_ticket_spec spec = {.kind = VSD_TICKET_CONSOLE, .container = "c", .who = &acme};
	struct vs_error err = {0};
	struct made x;

	(void)state;
	snprintf(zed.name, sizeof(zed.name), "token:zed");
	for (int i = 0; i < 32; i++)
		assert_int_equal(vsd_tickets_create(t, &spec, 10, x.id, x.secret, &x.expires, &err),
				 0);
	assert_int_equal(vsd_tickets_create(t, &spec, 10, x.id, x.secret, &x.expires, &err), -1);
	assert_int_equal(err.kind, VS_EK_CONFLICT);
	assert_non_null(strstr(err.msg, "holds 32 stream tickets"));
	spec.who = &zed;
	assert_int_equal(vsd_tickets_create(t, &spec, 10, x.id, x.secret, &x.expires, &err), 0);
	/* Expired ones no longer count. */
	spec.who = &acme;
	assert_int_equal(vsd_tickets_create(t, &spec, 2000, x.id, x.secret, &x.expires, &err), 0);
	vsd_tickets_free(t);
}

static void test_bounded(void **state)
{
	struct vsd_tickets *t = vsd_tickets_new(1000, 3);
	struct vsd_ticket_spec spec = {.kind = VSD_TICKET_CONSOLE, .container = "c", .who = &acme};
	struct vs_error err = {0};
	struct vsd_ticket *k = NULL;
	struct made m[3], x;

	for (int i = 0; i < 3; i++)
		make(t, "c", NULL, 0, &m[i]);
	assert_int_equal(vsd_tickets_create(t, &spec, 10, x.id, x.secret, &x.expires, &err), -1);
	assert_int_equal(err.kind, VS_EK_CONFLICT);
	assert_non_null(strstr(err.msg, "too many stream tickets"));
	/* A redeemed one makes room; so do expired ones. */
	assert_int_equal(vsd_tickets_redeem(t, m[1].id, m[1].secret, 10, &k, &err), 0);
	vsd_ticket_free(k);
	assert_int_equal(vsd_tickets_create(t, &spec, 10, x.id, x.secret, &x.expires, &err), 0);
	assert_int_equal(vsd_tickets_create(t, &spec, 20, x.id, x.secret, &x.expires, &err), -1);
	make(t, "c", NULL, 1000, &x);
	assert_int_equal(vsd_tickets_count(t, 1000), 2);
	assert_int_equal(vsd_tickets_redeem(t, x.id, x.secret, 1000, &k, &err), 0);
	assert_int_equal(k->kind, VSD_TICKET_EXEC);
	vsd_ticket_free(k);
	vsd_tickets_free(t); /* frees what is still outstanding */
}

static void test_route_public(void **state)
{
	const struct vsd_identity nobody = {.kind = VSD_CRED_NONE};
	struct vs_error err = {0};
	struct vsd_match m = {0};
	char allow[64];

	assert_int_equal(vsd_route_match(vsd_routes, vsd_nroutes, "GET", "/v1/streams/abc", &m,
					 allow, sizeof(allow)),
			 VSD_MATCH_OK);
	assert_int_equal(m.route->id, VSD_R_STREAM);
	assert_true(m.route->upgrade);
	assert_int_equal(vsd_authorize(&nobody, m.route, "GET", &err), 0);
	vsd_match_clear(&m);
	/* exec and console may answer a ticket; no other route may. */
	for (size_t i = 0; i < vsd_nroutes; i++)
		assert_int_equal(vsd_routes[i].ticket,
				 vsd_routes[i].id == VSD_R_CONTAINER_EXEC ||
				     vsd_routes[i].id == VSD_R_CONTAINER_CONSOLE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_redeem_once),	 cmocka_unit_test(test_expiry),
	    cmocka_unit_test(test_bounded),	 cmocka_unit_test(test_per_credential),
	    cmocka_unit_test(test_route_public),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
