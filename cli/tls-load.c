/* vsctl's TLS functions (cli.h), served by vsctl-tls.so: loaded on the
 * first call that needs TLS (a remote), so that a local command does not
 * map GnuTLS and its eight libraries and run their constructors. */
#include "cli/tls-module.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "lib/vs_util.h"

static const struct vc_tls_module *tls_mod;

/* The module beside vsctl (the build tree) or in ../libexec/vsd/. 0 or
 * -1 with err naming the file and dlopen's reason. */
static int load(struct vs_error *err)
{
	char path[PATH_MAX];
	void *h;

	if (tls_mod != NULL)
		return 0;
	if (vs_self_sibling(VC_TLS_MODULE_FILE, path, sizeof(path)) < 0)
		return vs_error_set(err, ENOENT,
				    "TLS for remotes: %s is neither beside vsctl nor in "
				    "../libexec/vsd/ (is vsd installed whole?)",
				    VC_TLS_MODULE_FILE);
	/* RTLD_NOW: a module from another build fails here, whole, not at
	 * its first call. */
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		return vs_error_set(err, 0, "TLS for remotes: load %s: %s", path, dlerror());
	tls_mod = dlsym(h, VC_TLS_MODULE_SYMBOL);
	if (tls_mod == NULL) {
		dlclose(h);
		return vs_error_set(err, 0, "TLS for remotes: %s has no %s (another vsd version?)",
				    path, VC_TLS_MODULE_SYMBOL);
	}
	return 0;
}

int vc_conn_open_tls(struct vc_conn *c, const struct vc_tls_target *tg, char got[64 + 1],
		     struct vs_error *err)
{
	if (load(err) < 0) {
		memset(c, 0, sizeof(*c));
		c->fd = -1;
		return -1;
	}
	return tls_mod->open(c, tg, got, err);
}

/* A connection with c->tls set was opened through the module. */
ssize_t vc_tls_send(struct vc_conn *c, const void *buf, size_t len)
{
	return tls_mod->send(c, buf, len);
}

ssize_t vc_tls_recv(struct vc_conn *c, void *buf, size_t len)
{
	return tls_mod->recv(c, buf, len);
}

void vc_tls_close(struct vc_conn *c)
{
	if (c->tls != NULL)
		tls_mod->close(c);
}

bool vc_tls_pending(const struct vc_conn *c)
{
	return c->tls != NULL && tls_mod->pending(c);
}

int vc_tls_cert_generate(const char *host, char **cert_pem, char **key_pem, struct vs_error *err)
{
	if (load(err) < 0)
		return -1;
	return tls_mod->cert_generate(host, cert_pem, key_pem, err);
}
