/* Remotes: other nodes' vsd reached over HTTPS. vsctl keeps, in
 * $XDG_CONFIG_HOME/vsctl (else ~/.config/vsctl; 0700), its own client
 * certificate (client.crt, client.key 0600: generated on first use) and
 * remotes.json (0600): for each remote its URL, the server fingerprint
 * pinned on first contact and, when given one, its API token.
 *
 * Which remote a command talks to is decided once, in vc_remote_resolve
 * (before the command runs): --remote NAME, a REMOTE:NAME argument, or the
 * default remote; every API call then connects through vc_ctx_connect. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/vs_cert.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

#define REMOTES_FILE "remotes.json"
#define CONFIG_MAX   (1024 * 1024)
#define SECRET_MAX   4096

struct vc_remote {
	char *name, *url, *host, *port, *fingerprint, *token; /* token may be NULL */
	char *cert_file, *key_file;
};

static void remote_free(struct vc_remote *r)
{
	if (r == NULL)
		return;
	free(r->name);
	free(r->url);
	free(r->host);
	free(r->port);
	free(r->fingerprint);
	if (r->token != NULL) {
		memset(r->token, 0, strlen(r->token));
		free(r->token);
	}
	free(r->cert_file);
	free(r->key_file);
	free(r);
}

/* The configuration directory (created 0700 when create). malloc'd, or
 * NULL with err. */
static char *config_dir_at(bool create, struct vs_error *err)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char *dir;

	if (xdg != NULL && xdg[0] == '/')
		dir = xasprintf("%s/vsctl", xdg);
	else if (home != NULL && home[0] == '/')
		dir = xasprintf("%s/.config/vsctl", home);
	else {
		vs_error_kind(err, VS_EK_INVALID, "neither XDG_CONFIG_HOME nor HOME is set");
		return NULL;
	}
	if (create && (vs_mkdir_p(dir, 0700, err) < 0 || chmod(dir, 0700) < 0)) {
		if (err->msg[0] == '\0')
			vs_error_set(err, errno, "chmod %s", dir);
		free(dir);
		return NULL;
	}
	return dir;
}

static char *config_dir(struct vs_error *err)
{
	return config_dir_at(true, err);
}

/* vsctl's client certificate: paths of client.crt and client.key in dir,
 * generated on first use (the key first, 0600). 0 or -1. */
static int client_identity(const char *dir, char **cert_file, char **key_file, struct vs_error *err)
{
	cleanup_free char *cert = NULL, *key = NULL;
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char host[256] = "vsctl";

	*cert_file = xasprintf("%s/client.crt", dir);
	*key_file = xasprintf("%s/client.key", dir);
	if (dfd < 0)
		return vs_error_set(err, errno, "open %s", dir);
	if (faccessat(dfd, "client.crt", R_OK, 0) == 0 &&
	    faccessat(dfd, "client.key", R_OK, 0) == 0)
		return 0;
	if (gethostname(host, sizeof(host) - 1) < 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "vsctl");
	if (vc_tls_cert_generate(host, &cert, &key, err) < 0)
		return -1;
	if (vs_atomic_write_at(dfd, "client.key", key, strlen(key), 0600, err) < 0 ||
	    vs_atomic_write_at(dfd, "client.crt", cert, strlen(cert), 0644, err) < 0)
		return vs_error_prefix(err, "store vsctl's certificate in %s", dir);
	memset(key, 0, strlen(key));
	return 0;
}

/* remotes.json, parsed (an empty object when absent). 0 or -1. */
static int load_remotes(const char *dir, struct vs_json **out, struct vs_error *err)
{
	cleanup_free char *path = xasprintf("%s/" REMOTES_FILE, dir);
	cleanup_free char *text = NULL;
	size_t len;

	if (vs_read_file_at(AT_FDCWD, path, CONFIG_MAX, &text, &len, err) < 0) {
		if (err->errnum != ENOENT)
			return -1;
		return vs_json_parse("{\"default\": null, \"remotes\": []}", out, err);
	}
	if (vs_json_parse(text, out, err) < 0 || vs_json_type(*out) != VS_JSON_OBJECT)
		return vs_error_kind(err, VS_EK_INVALID, "%s: damaged (not a JSON object)", path);
	return 0;
}

static const struct vs_json *find_remote(const struct vs_json *cfg, const char *name)
{
	const struct vs_json *list = vs_json_get(cfg, "remotes");

	for (size_t i = 0; i < vs_json_array_len(list); i++) {
		const struct vs_json *r = vs_json_array_at(list, i);
		const char *n = vs_json_string(vs_json_get(r, "name"));
		if (n != NULL && strcmp(n, name) == 0)
			return r;
	}
	return NULL;
}

static struct vc_remote *remote_from(const char *dir, const struct vs_json *r, struct vs_error *err)
{
	struct vc_remote *rm = xcalloc(1, sizeof(*rm));
	const char *f[4] = {"name", "host", "port", "fingerprint"};
	char **dst[4] = {&rm->name, &rm->host, &rm->port, &rm->fingerprint};

	for (size_t i = 0; i < 4; i++) {
		const char *s = vs_json_string(vs_json_get(r, f[i]));
		if (s == NULL) {
			remote_free(rm);
			vs_error_kind(err, VS_EK_INVALID, REMOTES_FILE ": a remote lacks %s", f[i]);
			return NULL;
		}
		*dst[i] = xstrdup(s);
	}
	if (vs_json_string(vs_json_get(r, "token")) != NULL)
		rm->token = xstrdup(vs_json_string(vs_json_get(r, "token")));
	if (vs_mkdir_p(dir, 0700, err) < 0 ||
	    client_identity(dir, &rm->cert_file, &rm->key_file, err) < 0) {
		remote_free(rm);
		return NULL;
	}
	return rm;
}

/* "R:N" with R a remote's name and N a valid name: 1 and the split. */
static int split_ref(const char *s, char *remote, size_t n, const char **name)
{
	const char *colon = strchr(s, ':');

	if (colon == NULL || colon == s || (size_t)(colon - s) >= n)
		return 0;
	memcpy(remote, s, (size_t)(colon - s));
	remote[colon - s] = '\0';
	if (vs_validate_name(remote, "remote", NULL) < 0 ||
	    vs_validate_name(colon + 1, "name", NULL) < 0)
		return 0;
	*name = colon + 1;
	return 1;
}

int vc_remote_resolve(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	cleanup_json struct vs_json *cfg = NULL;
	cleanup_free char *dir = NULL, *owned = NULL;
	const char *want = ctx->remote_name, *name;
	const struct vs_json *r;
	char ref[VS_NAME_MAX + 1];

	/* REMOTE:NAME is the command's first word after its name ("vsctl
	 * exec node2:web1 -- uptime"): only there, since option values hold
	 * colons too (--net bridged:br0, --ip fd00::5). Written elsewhere it
	 * stays, and the name check refuses it. */
	if (argc > 1 && argv[1][0] != '-' && split_ref(argv[1], ref, sizeof(ref), &name)) {
		if (want != NULL && strcmp(want, ref) != 0)
			return vc_usage(err, "'%s' names remote %s, but the command goes to %s",
					argv[1], ref, want);
		/* The command sees NAME alone. */
		argv[1] = (char *)name;
		want = owned = xstrdup(ref);
	}
	if (want != NULL && strcmp(want, "local") == 0)
		return 0;
	/* Only read: a command for the unix socket leaves no directory. */
	if ((dir = config_dir_at(false, err)) == NULL) {
		/* No configuration at all: the unix socket, unless asked. */
		return want == NULL ? 0 : VC_ERR_FAIL;
	}
	if (load_remotes(dir, &cfg, err) < 0)
		return VC_ERR_FAIL;
	if (want == NULL)
		want = vs_json_string(vs_json_get(cfg, "default"));
	if (want == NULL || strcmp(want, "local") == 0)
		return 0;
	r = find_remote(cfg, want);
	if (r == NULL)
		return vc_usage(err, "unknown remote '%s' (see vsctl remote list)", want);
	ctx->remote = remote_from(dir, r, err);
	return ctx->remote != NULL ? 0 : VC_ERR_FAIL;
}

int vc_remote_target(const char *name, char **url, char **fp, struct vs_error *err)
{
	cleanup_json struct vs_json *cfg = NULL;
	cleanup_free char *dir = NULL;
	const struct vs_json *r;
	const char *host, *port, *f;

	if (strcmp(name, "local") == 0)
		return vs_error_kind(err, VS_EK_INVALID,
				     "--to local: a migration goes to another node (a remote)");
	dir = config_dir_at(false, err);
	if (dir == NULL || load_remotes(dir, &cfg, err) < 0 || (r = find_remote(cfg, name)) == NULL)
		return vs_error_kind(err, VS_EK_INVALID,
				     "unknown remote '%s' (see vsctl remote list)", name);
	host = vs_json_string(vs_json_get(r, "host"));
	port = vs_json_string(vs_json_get(r, "port"));
	f = vs_json_string(vs_json_get(r, "fingerprint"));
	if (host == NULL || port == NULL || f == NULL)
		return vs_error_kind(err, VS_EK_INVALID, REMOTES_FILE ": remote '%s' is incomplete",
				     name);
	*url = xasprintf(strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
	*fp = xstrdup(f);
	return 0;
}

int vc_ctx_connect(const struct vc_ctx *ctx, struct vc_conn *c, struct vs_error *err)
{
	const struct vc_remote *r = ctx->remote;
	char got[VS_CERT_FP_HEX + 1];

	if (r == NULL)
		return vc_conn_open(c, ctx->socket_path, err);
	if (vc_conn_open_tls(c,
			     &(struct vc_tls_target){.host = r->host,
						     .port = r->port,
						     .cert_file = r->cert_file,
						     .key_file = r->key_file,
						     .pin = r->fingerprint},
			     got, err) < 0)
		return -1;
	/* Descriptors cannot cross TCP: exec, enter and console speak
	 * WebSocket to a remote. */
	c->stream_ws = true;
	c->authorization = vc_ctx_authorization(ctx);
	return 0;
}

char *vc_ctx_authorization(const struct vc_ctx *ctx)
{
	if (ctx->remote == NULL || ctx->remote->token == NULL)
		return NULL;
	return xasprintf("Bearer %s", ctx->remote->token);
}

void vc_ctx_release(struct vc_ctx *ctx)
{
	remote_free(ctx->remote);
	ctx->remote = NULL;
}

/* ---- vsctl remote ... ---------------------------------------------- */

static int save_remotes(const char *dir, struct vs_json *cfg, const struct vs_json *add,
			const char *drop, const char *def, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(true);
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	const struct vs_json *list = vs_json_get(cfg, "remotes");
	const char *old_def = vs_json_string(vs_json_get(cfg, "default"));
	const char *text;
	size_t len;

	if (dfd < 0)
		return vs_error_set(err, errno, "open %s", dir);
	if (def == NULL)
		def = old_def != NULL && (drop == NULL || strcmp(old_def, drop) != 0) ? old_def
										      : NULL;
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "default", def != NULL && strcmp(def, "local") != 0 ? def : NULL);
	vs_jgen_key(g, "remotes");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < vs_json_array_len(list); i++) {
		const struct vs_json *r = vs_json_array_at(list, i);
		const char *n = vs_json_string(vs_json_get(r, "name"));
		if (n != NULL && drop != NULL && strcmp(n, drop) == 0)
			continue;
		vs_jgen_value(g, r);
	}
	if (add != NULL)
		vs_jgen_value(g, add);
	vs_jgen_arr_close(g);
	vs_jgen_obj_close(g);
	text = vs_jgen_text(g, &len);
	return vs_atomic_write_at(dfd, REMOTES_FILE, text, len, 0600, err);
}

/* A secret from a file, or "-" for stdin: its first line. */
static char *read_secret(const char *file, struct vs_error *err)
{
	cleanup_free char *text = NULL;
	size_t len = 0;

	if (strcmp(file, "-") == 0) {
		text = xmalloc(SECRET_MAX);
		ssize_t n = vs_read_all(0, text, SECRET_MAX - 1);
		if (n < 0) {
			vs_error_set(err, errno, "reading the secret from stdin");
			return NULL;
		}
		text[n] = '\0';
	} else if (vs_read_file_at(AT_FDCWD, file, SECRET_MAX, &text, &len, err) < 0) {
		return NULL;
	}
	text[strcspn(text, "\r\n")] = '\0';
	if (text[0] == '\0') {
		vs_error_kind(err, VS_EK_INVALID, "%s: empty", file);
		return NULL;
	}
	return steal_ptr(&text);
}

/* https://HOST:PORT (HOST may be [IPv6]; no path). 0 or VC_ERR_USAGE. */
static int parse_url(const char *url, char **host, char **port, struct vs_error *err)
{
	const char *h = url + 8, *colon;
	int64_t p;

	if (strncmp(url, "https://", 8) != 0)
		goto bad;
	colon = strrchr(h, ':');
	if (colon == NULL || colon == h || vs_parse_int(colon + 1, "port", 1, 65535, &p, NULL) < 0)
		goto bad;
	if (h[0] == '[' && colon[-1] == ']')
		*host = xstrndup(h + 1, (size_t)(colon - h - 2));
	else if (memchr(h, '/', (size_t)(colon - h)) == NULL)
		*host = xstrndup(h, (size_t)(colon - h));
	else
		goto bad;
	*port = xstrdup(colon + 1);
	return 0;
bad:
	return vc_usage(err, "'%s': expected https://HOST:PORT", url);
}

static void norm_fp(const char *in, char *out, size_t n)
{
	size_t j = 0;

	for (; *in != '\0' && j + 1 < n; in++)
		if (*in != ':')
			out[j++] = (char)(*in >= 'A' && *in <= 'F' ? *in + 32 : *in);
	out[j] = '\0';
}

/* Ask on the terminal whether to trust fp. true when answered yes. */
static bool ask_tty(const char *url, const char *fp)
{
	FILE *tty = fopen("/dev/tty", "r+e");
	char line[16] = "";
	bool yes;

	if (tty == NULL)
		return false;
	fprintf(tty,
		"%s presents the certificate\n  SHA-256 %s\n"
		"Compare it with `vsctl node info` on that node. Trust it? [y/N] ",
		url, fp);
	fflush(tty);
	yes = fgets(line, sizeof(line), tty) != NULL && (line[0] == 'y' || line[0] == 'Y');
	fclose(tty);
	return yes;
}

struct add_args {
	const char *name, *url, *token_file, *join_file, *accept;
};

static int add_parse(struct vc_ctx *ctx, int argc, char **argv, struct add_args *a,
		     struct vs_error *err)
{
	static const struct option opts[] = {
	    {"token-file", required_argument, NULL, 't'},
	    {"join-token-file", required_argument, NULL, 'J'},
	    {"accept-fingerprint", required_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	bool reset = true;
	int c;

	while ((c = vc_getopt(argc, argv, "h", opts, &reset, err)) != -1) {
		if (c == 't')
			a->token_file = optarg;
		else if (c == 'J')
			a->join_file = optarg;
		else if (c == 'a')
			a->accept = optarg;
		else if (c == 'h')
			return vc_cmd_help(ctx);
		else
			return VC_ERR_USAGE;
	}
	if (vc_positional(argc, optind, 2, 2, "NAME and URL", err) < 0)
		return VC_ERR_USAGE;
	a->name = argv[optind];
	a->url = argv[optind + 1];
	if (vs_validate_name(a->name, "remote name", err) < 0)
		return VC_ERR_USAGE;
	if (strcmp(a->name, "local") == 0)
		return vc_usage(err, "'local' is the unix socket, not a remote name");
	if (a->token_file != NULL && a->join_file != NULL)
		return vc_usage(err, "--token-file and --join-token-file exclude each other");
	return 0;
}

/* First contact: the server's fingerprint, accepted by --accept-fingerprint
 * or on the terminal. 0 or VC_ERR_FAIL. */
static int first_contact(struct vc_remote *r, const struct add_args *a, bool stdin_secret,
			 struct vs_error *err)
{
	cleanup_conn struct vc_conn c = {.fd = -1};
	char got[VS_CERT_FP_HEX + 1], want[3 * VS_CERT_FP_HEX];

	if (vc_conn_open_tls(&c,
			     &(struct vc_tls_target){.host = r->host,
						     .port = r->port,
						     .cert_file = r->cert_file,
						     .key_file = r->key_file},
			     got, err) < 0)
		return VC_ERR_FAIL;
	if (a->accept != NULL) {
		norm_fp(a->accept, want, sizeof(want));
		if (strcmp(want, got) != 0) {
			vs_error_kind(err, VS_EK_FORBIDDEN,
				      "%s presents certificate %s, not %s: not added", a->url, got,
				      want);
			return VC_ERR_FAIL;
		}
	} else if (stdin_secret || !isatty(0) || !ask_tty(a->url, got)) {
		vs_error_kind(err, VS_EK_FORBIDDEN,
			      "%s presents certificate %s; check it (vsctl node info on that node) "
			      "and pass --accept-fingerprint %s",
			      a->url, got, got);
		return VC_ERR_FAIL;
	}
	r->fingerprint = xstrdup(got);
	return 0;
}

/* Redeem the join token, or check the API token (or the certificate). */
static int authenticate(struct vc_ctx *ctx, const char *join, struct vs_error *err)
{
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	struct vs_error e = {0};

	if (join == NULL) {
		if (vc_api(ctx, "GET", "/v1/node", NULL, NULL, NULL, &e) >= 0)
			return 0;
		if (e.kind != VS_EK_UNAUTHORIZED || ctx->remote->token != NULL) {
			*err = e;
			return VC_ERR_FAIL;
		}
		fprintf(stderr,
			"vsctl: warning: %s does not trust this machine yet; on the node: "
			"vsctl trust add NAME CERTFILE with this machine's client.crt\n",
			ctx->remote->name);
		return 0;
	}
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "token", join);
	vs_jgen_obj_close(g);
	if (vc_api(ctx, "POST", "/v1/trust/join", vs_jgen_text(g, NULL), NULL, NULL, &e) < 0 &&
	    e.kind != VS_EK_CONFLICT) {
		*err = e;
		vs_error_prefix(err, "join %s", ctx->remote->name);
		return VC_ERR_FAIL;
	}
	return 0;
}

static void gen_remote(struct vs_jgen *g, const struct vc_remote *r, const char *url)
{
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "name", r->name);
	vs_jgen_kv_str(g, "url", url);
	vs_jgen_kv_str(g, "host", r->host);
	vs_jgen_kv_str(g, "port", r->port);
	vs_jgen_kv_str(g, "fingerprint", r->fingerprint);
	if (r->token != NULL)
		vs_jgen_kv_str(g, "token", r->token);
	vs_jgen_obj_close(g);
}

int vc_cmd_remote_add(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	struct add_args a = {0};
	cleanup_free char *dir = NULL, *join = NULL;
	cleanup_json struct vs_json *cfg = NULL, *entry = NULL;
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	struct vc_remote *r;
	int rc = add_parse(ctx, argc, argv, &a, err);

	if (rc != 0)
		return rc == VC_HELP_SHOWN ? 0 : rc;
	if ((dir = config_dir(err)) == NULL || load_remotes(dir, &cfg, err) < 0)
		return VC_ERR_FAIL;
	if (find_remote(cfg, a.name) != NULL) {
		vs_error_kind(err, VS_EK_CONFLICT, "remote '%s' exists (vsctl remote remove first)",
			      a.name);
		return VC_ERR_FAIL;
	}
	r = ctx->remote = xcalloc(1, sizeof(*r));
	r->name = xstrdup(a.name);
	if (parse_url(a.url, &r->host, &r->port, err) < 0)
		return VC_ERR_USAGE;
	if (a.token_file != NULL && (r->token = read_secret(a.token_file, err)) == NULL)
		return VC_ERR_FAIL;
	if (a.join_file != NULL && (join = read_secret(a.join_file, err)) == NULL)
		return VC_ERR_FAIL;
	if (client_identity(dir, &r->cert_file, &r->key_file, err) < 0)
		return VC_ERR_FAIL;
	rc = first_contact(r, &a,
			   (a.token_file && strcmp(a.token_file, "-") == 0) ||
			       (a.join_file && strcmp(a.join_file, "-") == 0),
			   err);
	if (rc == 0)
		rc = authenticate(ctx, join, err);
	if (join != NULL)
		memset(join, 0, strlen(join));
	if (rc != 0)
		return rc;
	gen_remote(g, r, a.url);
	if (vs_json_parse(vs_jgen_text(g, NULL), &entry, err) < 0 ||
	    save_remotes(dir, cfg, entry, NULL, NULL, err) < 0)
		return VC_ERR_FAIL;
	printf("remote %s added: %s, certificate %s\n", a.name, a.url, r->fingerprint);
	return 0;
}

/* NAME of remove and default. 0, VC_HELP_SHOWN or VC_ERR_USAGE. */
static int one_name(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	bool reset = true;
	int c;

	while ((c = vc_getopt(argc, argv, "h", opts, &reset, err)) != -1)
		return c == 'h' ? vc_cmd_help(ctx) : VC_ERR_USAGE;
	return vc_positional(argc, optind, 1, 1, "NAME", err) < 0 ? VC_ERR_USAGE : 0;
}

static int change(struct vc_ctx *ctx, int argc, char **argv, bool remove, struct vs_error *err)
{
	cleanup_free char *dir = NULL;
	cleanup_json struct vs_json *cfg = NULL;
	const char *name;
	int rc = one_name(ctx, argc, argv, err);

	if (rc != 0)
		return rc == VC_HELP_SHOWN ? 0 : rc;
	name = argv[optind];
	if ((dir = config_dir(err)) == NULL || load_remotes(dir, &cfg, err) < 0)
		return VC_ERR_FAIL;
	if ((remove || strcmp(name, "local") != 0) && find_remote(cfg, name) == NULL) {
		vs_error_kind(err, VS_EK_NOT_FOUND, "remote '%s' does not exist", name);
		return VC_ERR_FAIL;
	}
	if (save_remotes(dir, cfg, NULL, remove ? name : NULL, remove ? NULL : name, err) < 0)
		return VC_ERR_FAIL;
	return 0;
}

int vc_cmd_remote_remove(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	return change(ctx, argc, argv, true, err);
}

int vc_cmd_remote_default(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	return change(ctx, argc, argv, false, err);
}

int vc_cmd_remote_list(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const char *const headers[] = {"NAME", "URL", "AUTH", "DEFAULT", "FINGERPRINT"};
	cleanup_free char *dir = NULL;
	cleanup_json struct vs_json *cfg = NULL;
	const struct vs_json *list;
	const char *def;
	struct vc_table *t;
	int rc = vc_parse_reading(ctx, argc, argv, false, "", NULL, err);

	if (rc != 0)
		return rc == VC_HELP_SHOWN ? 0 : rc;
	if ((dir = config_dir(err)) == NULL || load_remotes(dir, &cfg, err) < 0)
		return VC_ERR_FAIL;
	list = vs_json_get(cfg, "remotes");
	def = vs_json_string(vs_json_get(cfg, "default"));
	t = vc_table_new(VS_ARRAY_SIZE(headers), headers);
	vc_table_add(t, (const char *const[]){"local", ctx->socket_path, "local",
					      def == NULL ? "*" : "", "-"});
	for (size_t i = 0; i < vs_json_array_len(list); i++) {
		const struct vs_json *r = vs_json_array_at(list, i);
		const char *n = vs_json_string(vs_json_get(r, "name"));
		/* Never the token itself. */
		const char *cells[5] = {n, vs_json_string(vs_json_get(r, "url")),
					vs_json_get(r, "token") ? "token" : "certificate",
					def && n && strcmp(def, n) == 0 ? "*" : "",
					vs_json_string(vs_json_get(r, "fingerprint"))};
		vc_table_add(t, cells);
	}
	vc_table_print(t);
	return 0;
}
