/* The HTTPS listeners (vsd --listen) and the credential stores under
 * <root>/auth: each listener is a libmicrohttpd daemon of its own, apart
 * from the unix socket's, with bounded connections in total and per
 * address and an idle timeout, so that slow or hostile TCP clients use up
 * only their own share. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/handlers.h"
#include "daemon/server.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"

void vsd_listen_init(struct vsd_listen_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->lim.timeout = VSD_LISTEN_TIMEOUT;
	c->lim.max_conns = VSD_LISTEN_MAX_CONNS;
	c->lim.max_per_ip = VSD_LISTEN_MAX_PER_IP;
}

static const char *opt_name(int opt)
{
	switch (opt) {
	case VSD_OPT_LISTEN:
		return "--listen";
	case VSD_OPT_TLS_CERT:
		return "--tls-cert";
	case VSD_OPT_TLS_KEY:
		return "--tls-key";
	case VSD_OPT_LISTEN_TIMEOUT:
		return "--listen-timeout";
	case VSD_OPT_LISTEN_MAX_CONNS:
		return "--listen-max-conns";
	default:
		return "--listen-max-per-ip";
	}
}

int vsd_listen_option(struct vsd_listen_cfg *c, int opt, const char *arg, struct vs_error *err)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int64_t v;

	switch (opt) {
	case VSD_OPT_LISTEN:
		if (c->nlisten == VSD_LISTEN_MAX)
			return vs_error_kind(err, VS_EK_INVALID, "--listen: at most %d addresses",
					     VSD_LISTEN_MAX);
		if (vsd_listen_parse(arg, &ss, &len, err) < 0)
			return vs_error_prefix(err, "--listen");
		c->listen[c->nlisten++] = xstrdup(arg);
		return 0;
	case VSD_OPT_TLS_CERT:
	case VSD_OPT_TLS_KEY:
		if (arg[0] != '/')
			return vs_error_kind(err, VS_EK_INVALID, "%s: expected an absolute path",
					     opt_name(opt));
		*(opt == VSD_OPT_TLS_CERT ? &c->cert_file : &c->key_file) = arg;
		return 0;
	default:
		if (vs_parse_int(arg, opt_name(opt), 1,
				 opt == VSD_OPT_LISTEN_TIMEOUT ? 3600 : 100000, &v, err) < 0)
			return -1;
		*(opt == VSD_OPT_LISTEN_TIMEOUT	    ? &c->lim.timeout
		  : opt == VSD_OPT_LISTEN_MAX_CONNS ? &c->lim.max_conns
						    : &c->lim.max_per_ip) = (unsigned)v;
		return 0;
	}
}

int vsd_listen_parse(const char *spec, struct sockaddr_storage *ss, socklen_t *len,
		     struct vs_error *err)
{
	const char *colon = strrchr(spec, ':');
	char host[INET6_ADDRSTRLEN + 2];
	int64_t port;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (colon == NULL || colon == spec)
		goto bad;
	hl = (size_t)(colon - spec);
	if (hl >= sizeof(host))
		goto bad;
	memcpy(host, spec, hl);
	host[hl] = '\0';
	if (vs_parse_int(colon + 1, "port", 1, 65535, &port, NULL) < 0)
		goto bad;
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
			goto bad;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a);
		return 0;
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
		goto bad;
	a4->sin_family = AF_INET;
	a4->sin_port = htons((uint16_t)port);
	*len = sizeof(*a4);
	return 0;
bad:
	return vs_error_kind(err, VS_EK_INVALID,
			     "'%s': expected ADDR:PORT, an IPv4 address or an IPv6 address in "
			     "brackets and a port from 1 to 65535 (127.0.0.1:8443, [::1]:8443)",
			     spec);
}

static int tcp_socket(const char *spec, struct vs_error *err)
{
	struct sockaddr_storage ss;
	cleanup_close int fd = -1;
	socklen_t len;
	int one = 1;

	if (vsd_listen_parse(spec, &ss, &len, err) < 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return vs_error_set(err, errno, "socket for %s", spec);
	/* [::1]:P is that address only, never the IPv4 one too. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0))
		return vs_error_set(err, errno, "setsockopt on %s", spec);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 128) < 0)
		return vs_error_set(err, errno, "listen on %s", spec);
	return steal_fd(&fd);
}

static int open_auth_dir(struct vsd *d, int *fd, struct vs_error *err)
{
	cleanup_free char *dir = xasprintf("%s/auth", d->root);

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return vs_error_set(err, errno, "create %s", dir);
	*fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	/* Secrets' hashes and the node's key live here: owner only, even
	 * when an older directory was looser. */
	if (*fd < 0 || fchmod(*fd, 0700) < 0)
		return vs_error_set(err, errno, "open %s", dir);
	return 0;
}

int vsd_listen_load(struct vsd *d, struct vsd_listen_cfg *c, struct vs_error *err)
{
	cleanup_free char *dir = xasprintf("%s/auth", d->root);
	cleanup_close int dfd = -1;

	if ((c->cert_file == NULL) != (c->key_file == NULL))
		return vs_error_kind(err, VS_EK_INVALID, "--tls-cert and --tls-key go together");
	if (open_auth_dir(d, &dfd, err) < 0 || vsd_trust_open(dfd, &d->auth.trust, err) < 0)
		return -1;
	if (c->nlisten == 0)
		return 0;
	if (vsd_tls_open(dfd, dir, c->cert_file, c->key_file, c->listen, c->nlisten, &d->auth.tls,
			 err) < 0)
		return vs_error_prefix(err, "TLS");
	return 0;
}

int vsd_listen_start(struct vsd *d, struct vsd_listen_cfg *c, struct vs_error *err)
{
	struct vsd_listen_opts o = c->lim;

	if (c->nlisten == 0)
		return 0;
	o.cert_pem = vsd_tls_cert_pem(d->auth.tls);
	o.key_pem = vsd_tls_key_pem(d->auth.tls);
	for (size_t i = 0; i < c->nlisten; i++) {
		int fd = tcp_socket(c->listen[i], err);
		if (fd < 0 ||
		    vsd_server_start_tls(d, fd, vsd_routes, vsd_nroutes, &o, &c->srv[i], err) < 0)
			return -1;
		vsd_log("serving HTTPS on %s (certificate %s)", c->listen[i],
			vsd_tls_fingerprint(d->auth.tls));
	}
	return 0;
}

void vsd_listen_quiesce(struct vsd_listen_cfg *c)
{
	for (size_t i = 0; i < c->nlisten; i++)
		vsd_server_quiesce(c->srv[i]);
}

void vsd_listen_stop(struct vsd *d, struct vsd_listen_cfg *c)
{
	for (size_t i = 0; i < c->nlisten; i++) {
		vsd_server_stop(c->srv[i]);
		c->srv[i] = NULL;
	}
	vsd_tls_free(d->auth.tls);
	d->auth.tls = NULL;
}
