/* Root passwords and SSH keys a hosting panel sets: at create
 * ("root_password" | "root_password_hash", "ssh_keys"), POST
 * /v1/containers/{name}/password and POST /v1/containers/{name}/ssh-keys.
 *
 * A plain password is hashed here with crypt(3) (yescrypt, a salt from
 * GnuTLS's generator) and never stored, logged or passed on: only the hash
 * goes further. The files are written inside the container by a helper
 * that enters it (vs_rt_creds_apply); the host never follows a path in
 * the container's root. A container that is not running gets the request
 * queued in containers/NAME/credentials.json (0600, hashes and public keys
 * only), applied right after its next start. */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/handlers.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"

#define PENDING_FILE "credentials.json"
/* Queued requests per container at most (each replaces a password or
 * adds keys; more than this while stopped is a panel gone wrong). */
#define PENDING_MAX 16

void vsd_creds_free(struct vsd_creds *c)
{
	if (c->hash != NULL)
		explicit_bzero(c->hash, strlen(c->hash));
	free(c->hash);
	c->hash = NULL;
	vs_strv_free(c->keys);
	c->keys = NULL;
}

int vsd_creds_check_user(const char *u, const char *field, struct vs_error *err)
{
	size_t n = u != NULL ? strlen(u) : 0;

	if (n == 0 || n > VSD_CREDS_USER_MAX || !(u[0] == '_' || (u[0] >= 'a' && u[0] <= 'z')))
		goto bad;
	for (size_t i = 1; i < n; i++)
		if (!(u[i] == '_' || u[i] == '-' || (u[i] >= 'a' && u[i] <= 'z') ||
		      (u[i] >= '0' && u[i] <= '9')))
			goto bad;
	return 0;
bad:
	return vs_error_kind(err, VS_EK_INVALID,
			     "%s: expected a user name (a-z, 0-9, _ and -, at most %d)", field,
			     VSD_CREDS_USER_MAX);
}

/* A crypt(3) hash as /etc/shadow holds it: "$id$...", only the characters
 * of crypt's alphabet (so no ':' or newline can reach the file). */
int vsd_creds_check_hash(const char *h, const char *field, struct vs_error *err)
{
	size_t n = h != NULL ? strlen(h) : 0;

	if (n < 4 || n > 512 || h[0] != '$')
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
		      (h[i] >= '0' && h[i] <= '9') || strchr("./$=,-", h[i]) != NULL))
			goto bad;
	return 0;
bad:
	return vs_error_kind(err, VS_EK_INVALID,
			     "%s: expected a crypt(3) hash like \"$y$...\" or \"$6$...\"", field);
}

/* One public key line: "TYPE BASE64 [comment]", TYPE ssh-*, ecdsa-* or
 * sk-*, printable characters only (no options: a panel gives keys, not
 * restrictions). */
int vsd_creds_check_key(const char *k, const char *field, struct vs_error *err)
{
	size_t n = k != NULL ? strlen(k) : 0;
	const char *sp;

	if (n == 0 || n > VSD_CREDS_KEY_MAX)
		goto bad;
	if (strncmp(k, "ssh-", 4) != 0 && strncmp(k, "ecdsa-", 6) != 0 && strncmp(k, "sk-", 3) != 0)
		goto bad;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)k[i] < 0x20 || k[i] == 0x7f)
			goto bad;
	sp = strchr(k, ' ');
	if (sp == NULL || sp[1] == '\0' || sp[1] == ' ')
		goto bad;
	for (const char *p = sp + 1; *p != '\0' && *p != ' '; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '+' || *p == '/' || *p == '='))
			goto bad;
	return 0;
bad:
	return vs_error_kind(err, VS_EK_INVALID,
			     "%s: expected an SSH public key line \"TYPE BASE64 [COMMENT]\" "
			     "(TYPE ssh-*, ecdsa-* or sk-*; one line, at most %d bytes)",
			     field, VSD_CREDS_KEY_MAX);
}

int vsd_creds_hash(const char *plain, char **hash, struct vs_error *err)
{
	unsigned char rb[16];
	cleanup_free char *salt = NULL;
	struct crypt_data *cd;
	const char *h;
	int r = 0;

	if (gnutls_rnd(GNUTLS_RND_NONCE, rb, sizeof(rb)) < 0)
		return vs_error_set(err, EIO, "random bytes for a password salt");
	salt = crypt_gensalt_ra("$y$", 0, (const char *)rb, sizeof(rb));
	if (salt == NULL)
		return vs_error_set(err, errno, "crypt_gensalt");
	cd = xcalloc(1, sizeof(*cd));
	h = crypt_r(plain, salt, cd);
	if (h == NULL || h[0] == '*')
		r = vs_error_set(err, errno ? errno : EINVAL, "crypt");
	else
		*hash = xstrdup(h);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return r;
}

/* A password: 1..1024 bytes, no NUL (JSON strings carry none anyway). */
static int take_password(const struct vs_json *v, const char *field, struct vsd_creds *c,
			 struct vs_error *err)
{
	const char *s = vs_json_string(v);

	if (s == NULL || s[0] == '\0' || strlen(s) > 1024)
		return vs_error_kind(err, VS_EK_INVALID, "%s: expected a string of 1 to 1024 bytes",
				     field);
	return vsd_creds_hash(s, &c->hash, err);
}

static int take_hash(const struct vs_json *v, const char *field, struct vsd_creds *c,
		     struct vs_error *err)
{
	if (vsd_creds_check_hash(vs_json_string(v), field, err) < 0)
		return -1;
	c->hash = xstrdup(vs_json_string(v));
	return 0;
}

static int take_keys(const struct vs_json *v, const char *field, struct vsd_creds *c,
		     struct vs_error *err)
{
	size_t n = vs_json_array_len(v);

	if (vs_json_type(v) != VS_JSON_ARRAY || n > VSD_CREDS_KEYS_MAX)
		return vs_error_kind(err, VS_EK_INVALID, "%s: expected an array of at most %d keys",
				     field, VSD_CREDS_KEYS_MAX);
	c->keys = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		char path[64];
		snprintf(path, sizeof(path), "%s[%zu]", field, i);
		if (vsd_creds_check_key(vs_json_string(vs_json_array_at(v, i)), path, err) < 0)
			return -1;
		c->keys[i] = xstrdup(vs_json_string(vs_json_array_at(v, i)));
	}
	return 0;
}

/* The password members of obj (names pw and hash): at most one of them. */
static int take_secret(const struct vs_json *obj, const char *pw, const char *hash,
		       struct vsd_creds *c, struct vs_error *err)
{
	const struct vs_json *p = vs_json_get(obj, pw), *h = vs_json_get(obj, hash);

	if (p != NULL && h != NULL)
		return vs_error_kind(err, VS_EK_INVALID, "%s, %s: give one of them", pw, hash);
	if (p != NULL)
		return take_password(p, pw, c, err);
	if (h != NULL)
		return take_hash(h, hash, c, err);
	return 0;
}

int vsd_creds_parse(const struct vs_json *obj, enum vsd_creds_kind kind, struct vsd_creds *c,
		    struct vs_error *err)
{
	static const char *const pw_keys[] = {"user", "password", "password_hash", NULL};
	static const char *const key_keys[] = {"user", "keys", "replace", NULL};
	const struct vs_json *v;
	int r;

	memset(c, 0, sizeof(*c));
	strcpy(c->user, "root");
	if (kind == VSD_CREDS_CREATE) {
		r = take_secret(obj, "root_password", "root_password_hash", c, err);
		if (r == 0 && (v = vs_json_get(obj, "ssh_keys")) != NULL)
			r = take_keys(v, "ssh_keys", c, err);
		goto out;
	}
	if (vsd_check_fields(obj, kind == VSD_CREDS_PASSWORD ? pw_keys : key_keys, err) < 0)
		return -1;
	if ((v = vs_json_get(obj, "user")) != NULL) {
		if (vsd_creds_check_user(vs_json_string(v), "user", err) < 0)
			return -1;
		snprintf(c->user, sizeof(c->user), "%s", vs_json_string(v));
	}
	if (kind == VSD_CREDS_PASSWORD) {
		r = take_secret(obj, "password", "password_hash", c, err);
		if (r == 0 && c->hash == NULL)
			r = vs_error_kind(err, VS_EK_INVALID,
					  "password: required (or password_hash)");
		goto out;
	}
	v = vs_json_get(obj, "replace");
	if (v != NULL && !vs_json_bool(v, &c->replace)) {
		r = vs_error_kind(err, VS_EK_INVALID, "replace: expected true or false");
		goto out;
	}
	if ((v = vs_json_get(obj, "keys")) == NULL)
		r = vs_error_kind(err, VS_EK_INVALID, "keys: required");
	else
		r = take_keys(v, "keys", c, err);
	if (r == 0 && !c->replace && c->keys[0] == NULL)
		r = vs_error_kind(err, VS_EK_INVALID, "keys: empty (to remove every key, replace)");
out:
	if (r < 0)
		vsd_creds_free(c);
	return r;
}

bool vsd_creds_empty(const struct vsd_creds *c)
{
	return c->hash == NULL && (c->keys == NULL || c->keys[0] == NULL) && !c->replace;
}

/* ---- the queue of a stopped container --------------------------------- */

/* What the runtime's helper takes (it borrows c's strings). */
static struct vs_rt_creds rt_creds(const struct vsd_creds *c)
{
	return (struct vs_rt_creds){
	    .user = c->user, .password_hash = c->hash, .keys = c->keys, .replace = c->replace};
}

/* A queued entry: the helper's request form. */
static void gen_entry(struct vs_jgen *g, const struct vsd_creds *c)
{
	const struct vs_rt_creds rc = rt_creds(c);

	vs_rt_creds_gen(g, &rc);
}

/* The queue of cdir's container as JSON ({"pending": [...]}), or NULL
 * when there is none. */
static struct vs_json *load_queue(int cfd)
{
	cleanup_free char *text = NULL;
	struct vs_json *j = NULL;
	struct vs_error e = {0};

	if (vs_read_file_at(cfd, PENDING_FILE, 1 << 20, &text, NULL, &e) < 0)
		return NULL;
	if (vs_json_parse(text, &j, &e) < 0)
		return NULL;
	return j;
}

int vsd_creds_queue_at(int cfd, const struct vsd_creds *c, struct vs_error *err)
{
	cleanup_json struct vs_json *old = load_queue(cfd);
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	const struct vs_json *arr = vs_json_get(old, "pending");
	size_t n = vs_json_array_len(arr);
	const char *text;
	size_t len;

	if (n >= PENDING_MAX)
		return vs_error_kind(err, VS_EK_CONFLICT,
				     "%d credential changes already wait for the container's "
				     "next start",
				     PENDING_MAX);
	vs_jgen_obj_open(g);
	vs_jgen_key(g, "pending");
	vs_jgen_arr_open(g);
	for (size_t i = 0; i < n; i++) {
		struct vsd_creds e = {0};
		struct vs_error ig = {0};
		if (vsd_creds_from_entry(vs_json_array_at(arr, i), &e, &ig) == 0)
			gen_entry(g, &e);
		vsd_creds_free(&e);
	}
	gen_entry(g, c);
	vs_jgen_arr_close(g);
	vs_jgen_obj_close(g);
	text = vs_jgen_text(g, &len);
	return vs_atomic_write_at(cfd, PENDING_FILE, text, len, 0600, err);
}

int vsd_creds_from_entry(const struct vs_json *e, struct vsd_creds *c, struct vs_error *err)
{
	const struct vs_json *v;

	memset(c, 0, sizeof(*c));
	if (vsd_creds_check_user(vs_json_string(vs_json_get(e, "user")), "user", err) < 0)
		return -1;
	snprintf(c->user, sizeof(c->user), "%s", vs_json_string(vs_json_get(e, "user")));
	if ((v = vs_json_get(e, "password_hash")) != NULL &&
	    take_hash(v, "password_hash", c, err) < 0)
		goto fail;
	if (take_keys(vs_json_get(e, "keys"), "keys", c, err) < 0)
		goto fail;
	if (!vs_json_bool(vs_json_get(e, "replace"), &c->replace))
		c->replace = false;
	return 0;
fail:
	vsd_creds_free(c);
	return -1;
}

static int apply_now(struct vsd *d, const struct vs_container_config *cfg,
		     const struct vsd_creds *c, struct vs_error *err)
{
	const struct vs_rt_creds rc = rt_creds(c);

	return vs_rt_creds_apply(&d->inst, cfg, &rc, err);
}

void vsd_creds_apply_pending(struct vsd *d, const struct vs_container_config *cfg)
{
	cleanup_close int cfd =
	    openat(d->containers_fd, cfg->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_json struct vs_json *q = cfd >= 0 ? load_queue(cfd) : NULL;
	const struct vs_json *arr = vs_json_get(q, "pending");

	if (q == NULL)
		return;
	for (size_t i = 0; i < vs_json_array_len(arr); i++) {
		struct vsd_creds c = {0};
		struct vs_error e = {0};
		if (vsd_creds_from_entry(vs_json_array_at(arr, i), &c, &e) < 0 ||
		    apply_now(d, cfg, &c, &e) < 0)
			/* Kept would fail the same way at every start. */
			vsd_log("container %s: credentials for '%s' not applied: %s", cfg->name,
				c.user, e.msg);
		else
			vsd_log("container %s: credentials for '%s' applied", cfg->name, c.user);
		vsd_creds_free(&c);
	}
	if (unlinkat(cfd, PENDING_FILE, 0) < 0)
		vsd_log("container %s: removing %s failed: %s", cfg->name, PENDING_FILE,
			strerror(errno));
}

/* ---- handlers ----------------------------------------------------------- */

/* With the container's lock held: apply now (1) when it runs, else queue
 * (0). */
static int set_locked(struct vsd *d, const char *name, const struct vsd_creds *c,
		      struct vs_error *err)
{
	cleanup_config struct vs_container_config cfg = {0};
	cleanup_close int cfd = -1;
	struct vs_rt_status st;

	if (vsd_store_load(d->containers_fd, name, &cfg, err) < 0 ||
	    vsd_container_status(d, name, &st, err) < 0)
		return -1;
	if (st.state == VS_RT_RUNNING)
		return apply_now(d, &cfg, c, err) < 0 ? -1 : 1;
	if (st.state != VS_RT_STOPPED)
		return vs_error_kind(err, VS_EK_CONFLICT, "container '%s' is %s", name,
				     vs_rt_state_name(st.state));
	cfd = openat(d->containers_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (cfd < 0)
		return vs_error_set(err, errno, "open containers/%s", name);
	return vsd_creds_queue_at(cfd, c, err);
}

static int creds_handle(struct vsd_call *c, enum vsd_creds_kind kind, struct vsd_reply *out,
			struct vs_error *err)
{
	cleanup_json struct vs_json *body = NULL;
	cleanup_jgen struct vs_jgen *g = vs_jgen_new(false);
	const char *name = c->m->params[0];
	struct vsd_creds cr;
	int r;

	if (vsd_parse_body(c->body, c->body_len, false, &body, err) < 0 ||
	    vsd_creds_parse(body, kind, &cr, err) < 0)
		return -1;
	r = vsd_names_lock(c->d->names, name, NULL, err);
	if (r == 0) {
		r = set_locked(c->d, name, &cr, err);
		vsd_names_unlock(c->d->names, name);
	}
	if (r >= 0)
		vsd_log("container %s: %s of '%s' %s", name,
			kind == VSD_CREDS_PASSWORD ? "password" : "ssh keys", cr.user,
			r == 1 ? "set" : "queued for the next start");
	vs_jgen_obj_open(g);
	vs_jgen_kv_str(g, "user", cr.user);
	vs_jgen_kv_bool(g, "applied", r == 1);
	vs_jgen_obj_close(g);
	vsd_creds_free(&cr);
	if (r < 0)
		return -1;
	vsd_reply_json(out, 200, g);
	return 0;
}

int vsd_h_container_password(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	return creds_handle(c, VSD_CREDS_PASSWORD, out, err);
}

int vsd_h_container_ssh_keys(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	return creds_handle(c, VSD_CREDS_KEYS, out, err);
}
