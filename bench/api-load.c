/* api-load: requests per second and latency percentiles of vsd's REST API,
 * over the unix socket or HTTPS, through libcurl (one kept-alive
 * connection per client thread). Used by bench/api.sh.
 *
 *   api-load [--unix SOCK | --url https://HOST:PORT] [--token-file F]
 *            [--clients N] get PATH COUNT
 *   api-load ... cycle TEMPLATE PREFIX COUNT
 *
 * get: COUNT GETs of PATH in all, spread over the clients.
 * cycle: COUNT create+destroy pairs of containers PREFIX-<i> from TEMPLATE
 *        (each pair timed as one), spread over the clients.
 * Prints one line: "requests N seconds S rps R p50_ms A p99_ms B". Any
 * answer other than 2xx stops the run with exit 1. The HTTPS server's
 * certificate is not verified (a benchmark against the node's own
 * self-signed certificate on loopback). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct opts {
	const char *unix_path;
	const char *base; /* "http://localhost" or the https URL */
	char auth[512];	  /* "Authorization: Bearer ..." or "" */
	int clients;
	int cycle;
	const char *path, *tmpl, *prefix;
	long count;
};

struct worker {
	const struct opts *o;
	int index;
	long first, n; /* this worker's share */
	double *lat;   /* seconds, n entries */
	int failed;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t size, size_t n, void *cls)
{
	(void)p;
	(void)cls;
	return size * n;
}

static CURL *handle(const struct opts *o, struct curl_slist **hdrs)
{
	CURL *h = curl_easy_init();

	if (h == NULL)
		return NULL;
	if (o->unix_path != NULL)
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, o->unix_path);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	*hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (o->auth[0] != '\0')
		*hdrs = curl_slist_append(*hdrs, o->auth);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
	return h;
}

/* One request; 0 on a 2xx answer. */
static int request(CURL *h, const struct opts *o, const char *method, const char *path,
		   const char *body)
{
	char url[1024];
	long status = 0;
	CURLcode rc;

	snprintf(url, sizeof(url), "%s%s", o->base, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	if (body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST,
				 strcmp(method, "GET") == 0 ? NULL : method);
	}
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK || status < 200 || status > 299) {
		fprintf(stderr, "api-load: %s %s: %s, HTTP %ld\n", method, path,
			curl_easy_strerror(rc), status);
		return -1;
	}
	return 0;
}

static int one(CURL *h, const struct opts *o, long i)
{
	char body[512], path[256];

	if (!o->cycle)
		return request(h, o, "GET", o->path, NULL);
	snprintf(body, sizeof(body), "{\"name\": \"%s-%ld\", \"template\": \"%s\"}", o->prefix, i,
		 o->tmpl);
	snprintf(path, sizeof(path), "/v1/containers/%s-%ld", o->prefix, i);
	if (request(h, o, "POST", "/v1/containers", body) < 0)
		return -1;
	return request(h, o, "DELETE", path, NULL);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct curl_slist *hdrs = NULL;
	CURL *h = handle(w->o, &hdrs);

	if (h == NULL) {
		w->failed = 1;
		return NULL;
	}
	for (long k = 0; k < w->n && !w->failed; k++) {
		double t0 = now();

		if (one(h, w->o, w->first + k) < 0)
			w->failed = 1;
		w->lat[k] = now() - t0;
	}
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int read_token(const char *file, struct opts *o)
{
	char tok[400] = "";
	FILE *f = fopen(file, "r");

	if (f == NULL || fgets(tok, sizeof(tok), f) == NULL) {
		fprintf(stderr, "api-load: cannot read the token from %s\n", file);
		if (f != NULL)
			fclose(f);
		return -1;
	}
	fclose(f);
	tok[strcspn(tok, "\r\n")] = '\0';
	snprintf(o->auth, sizeof(o->auth), "Authorization: Bearer %s", tok);
	return 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
	int i = 1;

	o->base = "http://localhost";
	o->clients = 1;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--unix") == 0)
			o->unix_path = argv[i + 1];
		else if (strcmp(argv[i], "--url") == 0)
			o->base = argv[i + 1];
		else if (strcmp(argv[i], "--clients") == 0)
			o->clients = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--token-file") == 0) {
			if (read_token(argv[i + 1], o) < 0)
				return -1;
		} else
			return -1;
	}
	if (i + 3 == argc && strcmp(argv[i], "get") == 0) {
		o->path = argv[i + 1];
		o->count = atol(argv[i + 2]);
	} else if (i + 4 == argc && strcmp(argv[i], "cycle") == 0) {
		o->cycle = 1;
		o->tmpl = argv[i + 1];
		o->prefix = argv[i + 2];
		o->count = atol(argv[i + 3]);
	} else
		return -1;
	return o->clients >= 1 && o->count >= o->clients ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	struct worker *w;
	pthread_t *t;
	double *all, t0, secs;
	long done = 0;
	int failed = 0;

	if (parse(argc, argv, &o) < 0) {
		fprintf(stderr, "usage: api-load [--unix SOCK|--url URL] [--token-file F] "
				"[--clients N] get PATH COUNT | cycle TEMPLATE PREFIX COUNT\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	w = calloc((size_t)o.clients, sizeof(*w));
	t = calloc((size_t)o.clients, sizeof(*t));
	all = calloc((size_t)o.count, sizeof(*all));
	if (w == NULL || t == NULL || all == NULL)
		return 1;
	t0 = now();
	for (int c = 0; c < o.clients; c++) {
		long share = o.count / o.clients + (c < o.count % o.clients);

		w[c] = (struct worker){
		    .o = &o, .index = c, .first = done, .n = share, .lat = all + done};
		done += share;
		pthread_create(&t[c], NULL, work, &w[c]);
	}
	for (int c = 0; c < o.clients; c++) {
		pthread_join(t[c], NULL);
		failed |= w[c].failed;
	}
	secs = now() - t0;
	if (failed)
		return 1;
	qsort(all, (size_t)o.count, sizeof(*all), cmp);
	printf("requests %ld seconds %.3f rps %.1f p50_ms %.2f p99_ms %.2f\n", o.count, secs,
	       (double)o.count / secs, all[o.count / 2] * 1e3,
	       all[(long)((double)o.count * 0.99)] * 1e3);
	free(w);
	free(t);
	free(all);
	curl_global_cleanup();
	return 0;
}
