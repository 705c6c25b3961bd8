/* One-time stream tickets (docs/api.md "Browser terminals"): a browser can
 * open a WebSocket only with GET and without an Authorization header, so a
 * credential that may exec asks for a ticket first (POST .../exec with
 * "ticket": true) and hands its id and secret to the page, which redeems it
 * once with GET /v1/streams/{id}?secret=S. Tickets live only in memory,
 * for a short time, bounded in number; the secret is kept as its SHA-256
 * and compared in constant time. */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/auth.h"
#include "lib/vs_util.h"

#define HASH_LEN 32
/* Outstanding tickets one credential may hold: one tenant cannot use up
 * the store for every other tenant's consoles. */
#define TICKETS_PER_CREDENTIAL 32

struct ticket_slot {
	struct vsd_ticket t;
	unsigned char hash[HASH_LEN];
};

struct vsd_tickets {
	pthread_mutex_t lock;
	int64_t ttl_ms;
	size_t max;
	struct ticket_slot **v;
	size_t n;
};

struct vsd_tickets *vsd_tickets_new(int64_t ttl_ms, size_t max)
{
	struct vsd_tickets *t = xcalloc(1, sizeof(*t));

	pthread_mutex_init(&t->lock, NULL);
	t->ttl_ms = ttl_ms;
	t->max = max;
	t->v = xcalloc(max, sizeof(*t->v));
	return t;
}

void vsd_ticket_free(struct vsd_ticket *k)
{
	if (k == NULL)
		return;
	free(k->body);
	free(k); /* k is the first member of its slot */
}

void vsd_tickets_free(struct vsd_tickets *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++)
		vsd_ticket_free(&t->v[i]->t);
	free(t->v);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* Remove slot i (order does not matter) and return it. */
static struct ticket_slot *take(struct vsd_tickets *t, size_t i)
{
	struct ticket_slot *s = t->v[i];

	t->v[i] = t->v[--t->n];
	return s;
}

/* Drop the expired tickets; under t->lock. */
static void sweep(struct vsd_tickets *t, int64_t now_ms)
{
	for (size_t i = 0; i < t->n;) {
		if (t->v[i]->t.expires_ms <= now_ms)
			vsd_ticket_free(&take(t, i)->t);
		else
			i++;
	}
}

static int hex_random(char *out, size_t nbytes, struct vs_error *err)
{
	unsigned char rnd[HASH_LEN];
	gnutls_datum_t d = {.data = rnd, .size = (unsigned)nbytes};
	size_t len = 2 * nbytes + 1;
	int r = gnutls_rnd(GNUTLS_RND_KEY, rnd, nbytes);

	if (r == 0)
		r = gnutls_hex_encode(&d, out, &len);
	gnutls_memset(rnd, 0, sizeof(rnd));
	if (r < 0)
		return vs_error_set(err, 0, "random ticket: %s", gnutls_strerror(r));
	return 0;
}

static int hash_secret(const char *secret, unsigned char out[HASH_LEN], struct vs_error *err)
{
	int r = gnutls_hash_fast(GNUTLS_DIG_SHA256, secret, strlen(secret), out);

	if (r < 0)
		return vs_error_set(err, 0, "SHA-256: %s", gnutls_strerror(r));
	return 0;
}

static struct ticket_slot *slot_new(const struct vsd_ticket_spec *spec, int64_t expires_ms)
{
	struct ticket_slot *s = xcalloc(1, sizeof(*s));

	s->t.kind = spec->kind;
	snprintf(s->t.container, sizeof(s->t.container), "%s", spec->container);
	s->t.who = *spec->who;
	s->t.body = xstrdup(spec->body != NULL ? spec->body : "{}");
	s->t.expires_ms = expires_ms;
	return s;
}

/* Tickets outstanding that who made (under the lock). */
static size_t held_by(const struct vsd_tickets *t, const struct vsd_identity *who)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i]->t.who.name, who->name) == 0)
			n++;
	return n;
}

int vsd_tickets_create(struct vsd_tickets *t, const struct vsd_ticket_spec *spec, int64_t now_ms,
		       char id[VSD_TICKET_ID_LEN + 1], char secret[VSD_TICKET_SECRET_LEN + 1],
		       int64_t *expires_ms, struct vs_error *err)
{
	struct ticket_slot *s;
	int r = -1;

	pthread_mutex_lock(&t->lock);
	sweep(t, now_ms);
	if (t->n >= t->max) {
		vs_error_kind(err, VS_EK_CONFLICT,
			      "too many stream tickets outstanding (%zu, each valid %lld ms): "
			      "redeem or let some expire first",
			      t->max, (long long)t->ttl_ms);
		goto out;
	}
	if (held_by(t, spec->who) >= TICKETS_PER_CREDENTIAL) {
		vs_error_kind(err, VS_EK_CONFLICT,
			      "%s holds %d stream tickets already (each valid %lld ms): redeem or "
			      "let some expire first",
			      spec->who->name, TICKETS_PER_CREDENTIAL, (long long)t->ttl_ms);
		goto out;
	}
	s = slot_new(spec, now_ms + t->ttl_ms);
	if (hex_random(s->t.id, VSD_TICKET_ID_LEN / 2, err) < 0 ||
	    hex_random(secret, VSD_TICKET_SECRET_LEN / 2, err) < 0 ||
	    hash_secret(secret, s->hash, err) < 0) {
		gnutls_memset(secret, 0, VSD_TICKET_SECRET_LEN + 1);
		vsd_ticket_free(&s->t);
		goto out;
	}
	memcpy(id, s->t.id, VSD_TICKET_ID_LEN + 1);
	*expires_ms = s->t.expires_ms;
	t->v[t->n++] = s;
	r = 0;
out:
	pthread_mutex_unlock(&t->lock);
	return r;
}

int vsd_tickets_redeem(struct vsd_tickets *t, const char *id, const char *secret, int64_t now_ms,
		       struct vsd_ticket **out, struct vs_error *err)
{
	unsigned char h[HASH_LEN];
	size_t i;
	int r = -1;

	if (secret == NULL || secret[0] == '\0')
		return vs_error_kind(err, VS_EK_UNAUTHORIZED,
				     "a stream needs its ticket's secret (?secret= or the "
				     "subprotocol vsd.ticket.SECRET)");
	if (hash_secret(secret, h, err) < 0)
		return -1;
	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->n && strcmp(t->v[i]->t.id, id) != 0; i++)
		;
	if (i == t->n) {
		vs_error_kind(err, VS_EK_UNAUTHORIZED,
			      "unknown stream ticket (used, expired or never made)");
	} else if (t->v[i]->t.expires_ms <= now_ms) {
		vsd_ticket_free(&take(t, i)->t);
		vs_error_kind(err, VS_EK_UNAUTHORIZED, "stream ticket expired");
	} else if (gnutls_memcmp(h, t->v[i]->hash, HASH_LEN) != 0) {
		/* Not spent: a wrong guess must not cancel the owner's ticket
		 * (the 256-bit secret makes guessing hopeless anyway). */
		vs_error_kind(err, VS_EK_UNAUTHORIZED, "wrong secret for stream ticket");
	} else {
		*out = &take(t, i)->t;
		r = 0;
	}
	sweep(t, now_ms);
	pthread_mutex_unlock(&t->lock);
	return r;
}

size_t vsd_tickets_count(struct vsd_tickets *t, int64_t now_ms)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	sweep(t, now_ms);
	n = t->n;
	pthread_mutex_unlock(&t->lock);
	return n;
}
