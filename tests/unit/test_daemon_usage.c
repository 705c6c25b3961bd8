/* daemon: the usage ledger's arithmetic (daemon/usage.c): runs added up
 * over restarts of the container, "since T" from the samples, the bound on
 * samples, and the file format round trip; and the checks of credentials
 * (daemon/creds.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/handlers.h"
#include "lib/vs_util.h"
#include "netns/stats-private.h"

static struct vsd_ledger_counters reading(int64_t cpu, int64_t rx, int64_t tx)
{
	struct vsd_ledger_counters r = {.cpu_usec = cpu, .nnet = 1};

	snprintf(r.net[0].name, sizeof(r.net[0].name), "eth0");
	r.net[0].rx_bytes = rx;
	r.net[0].tx_bytes = tx;
	return r;
}

static void test_runs_add_up(void **state)
{
	struct vsd_ledger *l = xcalloc(1, sizeof(*l));
	struct vsd_ledger_counters t, r;

	(void)state;
	r = reading(100, 10, 20);
	vsd_ledger_observe(l, 1000, &r);
	r = reading(300, 30, 40);
	vsd_ledger_observe(l, 1000, &r);
	/* A smaller reading in the same run is a glitch: ignored. */
	r = reading(200, 5, 5);
	vsd_ledger_observe(l, 1000, &r);
	vsd_ledger_total(l, &t);
	assert_int_equal(t.cpu_usec, 300);
	assert_int_equal(t.net[0].rx_bytes, 30);
	/* The container restarted: its counters begin at zero again. */
	r = reading(50, 1, 2);
	vsd_ledger_observe(l, 2000, &r);
	vsd_ledger_total(l, &t);
	assert_int_equal(t.cpu_usec, 350);
	assert_int_equal(t.nnet, 1);
	assert_int_equal(t.net[0].rx_bytes, 31);
	assert_int_equal(t.net[0].tx_bytes, 42);
	/* A new interface on the next run is counted beside eth0. */
	r = reading(10, 0, 0);
	snprintf(r.net[0].name, sizeof(r.net[0].name), "eth1");
	r.net[0].rx_bytes = 7;
	vsd_ledger_observe(l, 3000, &r);
	vsd_ledger_total(l, &t);
	assert_int_equal(t.cpu_usec, 360);
	assert_int_equal(t.nnet, 2);
	assert_string_equal(t.net[1].name, "eth1");
	assert_int_equal(t.net[1].rx_bytes, 7);
	free(l);
}

static void test_since(void **state)
{
	struct vsd_ledger *l = xcalloc(1, sizeof(*l));
	struct vsd_ledger_counters u, r;
	int64_t from;

	(void)state;
	r = reading(1000000, 100, 100);
	vsd_ledger_observe(l, 10, &r);
	assert_true(vsd_ledger_sample(l, 100, false));	/* the first one */
	assert_false(vsd_ledger_sample(l, 200, false)); /* within the hour */
	r = reading(4000000, 400, 500);
	vsd_ledger_observe(l, 10, &r);
	assert_true(vsd_ledger_sample(l, 100 + 3600, false));
	r = reading(9000000, 900, 900);
	vsd_ledger_observe(l, 10, &r);
	/* Since creation (before every sample). */
	vsd_ledger_since(l, 50, 5, &u, &from);
	assert_int_equal(from, 5);
	assert_int_equal(u.cpu_usec, 9000000);
	/* Since a time between the samples: from the one at or before it. */
	vsd_ledger_since(l, 3000, 5, &u, &from);
	assert_int_equal(from, 100);
	assert_int_equal(u.cpu_usec, 8000000);
	assert_int_equal(u.net[0].rx_bytes, 800);
	assert_int_equal(u.net[0].tx_bytes, 800);
	vsd_ledger_since(l, 100 + 3600, 5, &u, &from);
	assert_int_equal(from, 3700);
	assert_int_equal(u.cpu_usec, 5000000);
	/* A forced sample (a stop) goes in even within the hour. */
	assert_true(vsd_ledger_sample(l, 3800, true));
	vsd_ledger_since(l, 4000, 5, &u, &from);
	assert_int_equal(from, 3800);
	assert_int_equal(u.cpu_usec, 0);
	free(l);
}

static void test_samples_bounded(void **state)
{
	struct vsd_ledger *l = xcalloc(1, sizeof(*l));
	struct vsd_ledger_counters u, r;
	int64_t from;

	(void)state;
	for (int64_t i = 0; i < VSD_LEDGER_SAMPLES_MAX + 10; i++) {
		r = reading(i * 1000, 0, 0);
		vsd_ledger_observe(l, 1, &r);
		vsd_ledger_sample(l, i * 3600, false);
	}
	assert_int_equal(l->nsamples, VSD_LEDGER_SAMPLES_MAX);
	assert_true(l->trimmed);
	assert_int_equal(l->samples[0].t, 10 * 3600);
	/* Older than the oldest kept: from the oldest, not since creation. */
	vsd_ledger_since(l, 0, 0, &u, &from);
	assert_int_equal(from, 10 * 3600);
	assert_int_equal(u.cpu_usec, (VSD_LEDGER_SAMPLES_MAX + 9 - 10) * 1000);
	free(l);
}

static void test_file_round_trip(void **state)
{
	struct vsd_ledger *l = xcalloc(1, sizeof(*l)), *b = xcalloc(1, sizeof(*b));
	struct vsd_ledger_counters r = reading(123, 4, 5);
	struct vs_error err = {0};
	char *text;

	(void)state;
	vsd_ledger_observe(l, 77, &r);
	vsd_ledger_sample(l, 1000, true);
	r = reading(9, 1, 1);
	vsd_ledger_observe(l, 88, &r);
	text = vsd_ledger_gen(l);
	assert_int_equal(vsd_ledger_parse(text, b, &err), 0);
	assert_int_equal(b->run_started_at, 88);
	assert_int_equal(b->base.cpu_usec, 123);
	assert_int_equal(b->run.cpu_usec, 9);
	assert_int_equal(b->nsamples, 1);
	assert_int_equal(b->samples[0].c.net[0].tx_bytes, 5);
	free(text);
	assert_int_equal(vsd_ledger_parse("{\"base\": 1}", b, &err), -1);
	assert_int_equal(err.kind, VS_EK_INVALID);
	assert_int_equal(
	    vsd_ledger_parse("{\"written\":1,\"run_started_at\":0,\"base\":{\"cpu_usec\":-5,"
			     "\"net\":{}},\"run\":{\"cpu_usec\":0,\"net\":{}},"
			     "\"samples\":[]}",
			     b, &err),
	    -1);
	free(l);
	free(b);
}

static ino_t ledger_ino(int dfd)
{
	struct stat st;

	assert_int_equal(fstatat(dfd, "c1/usage.json", &st, 0), 0);
	return st.st_ino;
}

/* The sampler's readings: written when they change (at most once a
 * minute), not when they do not; true only once the file holds them. */
static void test_observe_writes_changes(void **state)
{
	char dir[] = "/tmp/vsd-usage-XXXXXX";
	struct vsd d = {.containers_fd = -1};
	struct vs_container_config cfg = {0};
	struct vsd_ledger *l = xcalloc(1, sizeof(*l));
	struct vsd_ledger_counters r;
	cleanup_free char *rm = NULL;
	ino_t ino;

	(void)state;
	assert_non_null(mkdtemp(dir));
	rm = xasprintf("rm -rf '%s'", dir);
	d.containers_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(d.containers_fd >= 0);
	assert_int_equal(mkdirat(d.containers_fd, "c1", 0700), 0);
	snprintf(cfg.name, sizeof(cfg.name), "c1");
	r = reading(100, 10, 20);
	assert_true(vsd_usage_observe(&d, &cfg, 1000, &r, VSD_USAGE_SAMPLER, NULL));
	ino = ledger_ino(d.containers_fd);
	/* The same reading again: held already, the file left alone. */
	assert_true(vsd_usage_observe(&d, &cfg, 1000, &r, VSD_USAGE_SAMPLER, NULL));
	assert_int_equal(ledger_ino(d.containers_fd), ino);
	/* A new one within the minute: not written yet, so not held. */
	r = reading(200, 10, 20);
	assert_false(vsd_usage_observe(&d, &cfg, 1000, &r, VSD_USAGE_SAMPLER, NULL));
	assert_int_equal(ledger_ino(d.containers_fd), ino);
	/* A read writes it. */
	assert_true(vsd_usage_observe(&d, &cfg, 1000, &r, VSD_USAGE_READ, l));
	assert_true(ledger_ino(d.containers_fd) != ino);
	assert_int_equal(l->run.cpu_usec, 200);
	close(d.containers_fd);
	free(l);
	assert_int_equal(system(rm), 0);
}

/* The sampler's readings come from one link dump for every container:
 * the same figures as one request per link (the node side receives what
 * the container sends), a link gone reads as zeros. Traffic needs no CPU
 * time of the container's own (a pinged container is billed). */
static void test_reading_from_dump(void **state)
{
	cleanup_net_stats struct vs_net_stats_table *t = xcalloc(1, sizeof(*t));
	struct vs_container_config *cfg = xcalloc(1, sizeof(*cfg));
	struct vsd_ledger_counters r;
	struct vs_cg_stats cst;

	vs_cg_stats_init(&cst);
	cst.cpu_usage_usec = 0;
	cfg->net.nifaces = 2;
	strcpy(cfg->net.ifaces[0].name, "eth0");
	strcpy(cfg->net.ifaces[0].host_ifname, "vs1a2b_7");
	strcpy(cfg->net.ifaces[1].name, "eth1");
	strcpy(cfg->net.ifaces[1].host_ifname, "vs1a2b_8");
	net_stats_add_link(t, "vs9f9f_7", 42, 900, 90, 900, 90);
	net_stats_add_link(t, "vs1a2b_7", 40, 100, 10, 200, 20);
	net_stats_sort(t);
	vsd_usage_reading(cfg, &cst, t, &r);
	assert_int_equal(r.cpu_usec, 0);
	assert_int_equal(r.nnet, 2);
	assert_string_equal(r.net[0].name, "eth0");
	assert_int_equal(r.net[0].rx_bytes, 200);
	assert_int_equal(r.net[0].tx_bytes, 100);
	assert_string_equal(r.net[1].name, "eth1");
	assert_int_equal(r.net[1].rx_bytes, 0);
	assert_int_equal(r.net[1].tx_bytes, 0);
	free(cfg);
}

static void test_creds_checks(void **state)
{
	struct vs_error err = {0};
	char *h = NULL;

	(void)state;
	assert_int_equal(vsd_creds_check_user("root", "user", &err), 0);
	assert_int_equal(vsd_creds_check_user("web_admin-2", "user", &err), 0);
	assert_int_equal(vsd_creds_check_user("Root", "user", &err), -1);
	assert_int_equal(vsd_creds_check_user("a:b", "user", &err), -1);
	assert_int_equal(vsd_creds_check_user("", "user", &err), -1);
	assert_int_equal(vsd_creds_check_hash("$6$salt$abc./", "h", &err), 0);
	assert_int_equal(vsd_creds_check_hash("$6$a:0:0$b", "h", &err), -1);
	assert_int_equal(vsd_creds_check_hash("$6$a\nroot::0", "h", &err), -1);
	assert_int_equal(vsd_creds_check_hash("plain", "h", &err), -1);
	assert_int_equal(vsd_creds_check_key("ssh-ed25519 AAAAC3Nz== me@x", "k", &err), 0);
	assert_int_equal(vsd_creds_check_key("ecdsa-sha2-nistp256 AAAA", "k", &err), 0);
	assert_int_equal(vsd_creds_check_key("command=\"sh\" ssh-ed25519 AAAA", "k", &err), -1);
	assert_int_equal(vsd_creds_check_key("ssh-ed25519 AAAA\nssh-rsa BBBB", "k", &err), -1);
	assert_int_equal(vsd_creds_check_key("ssh-ed25519", "k", &err), -1);
	assert_int_equal(vsd_creds_check_key("ssh-ed25519 AA*A", "k", &err), -1);
	/* A hash of a password verifies and passes the hash check. */
	assert_int_equal(vsd_creds_hash("pass word", &h, &err), 0);
	assert_true(strncmp(h, "$y$", 3) == 0);
	assert_int_equal(vsd_creds_check_hash(h, "h", &err), 0);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_runs_add_up),
	    cmocka_unit_test(test_since),
	    cmocka_unit_test(test_samples_bounded),
	    cmocka_unit_test(test_file_round_trip),
	    cmocka_unit_test(test_creds_checks),
	    cmocka_unit_test(test_reading_from_dump),
	    cmocka_unit_test(test_observe_writes_changes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
