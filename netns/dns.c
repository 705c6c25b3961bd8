/* /etc/resolv.conf and /etc/hosts of a container, written by its setup
 * child after pivot_root (the current root is the container's). The files
 * belong to the guest: a symlink (systemd-resolved's stub) or a file that
 * says "# vsd: keep" is left alone, and nothing is followed out of /etc. */
#include "netns/vs_netns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_syscall.h"
#include "lib/vs_util.h"
#include "netns/nl-private.h"

#define KEEP_MARK "# vsd: keep"

/* 1 when etc/name may be replaced (absent, or a regular file without the
 * keep mark), 0 when it is to be left alone, -1 on error. */
static int replaceable(int etc, const char *name, struct vs_error *err)
{
	struct stat st;
	cleanup_close int fd = -1;
	char buf[65536];
	ssize_t n;

	if (fstatat(etc, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 1 : vs_error_set(err, errno, "stat /etc/%s", name);
	if (!S_ISREG(st.st_mode))
		return 0;
	fd = openat(etc, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return vs_error_set(err, errno, "open /etc/%s", name);
	n = vs_read_all(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return vs_error_set(err, errno, "read /etc/%s", name);
	buf[n] = '\0';
	return strstr(buf, KEEP_MARK) == NULL;
}

static int write_etc(int etc, const char *name, const char *text, struct vs_error *err)
{
	int r = replaceable(etc, name, err);

	if (r <= 0)
		return r;
	return vs_atomic_write_at(etc, name, text, strlen(text), 0644, err);
}

static char *resolv_text(const struct vs_net_config *net)
{
	char *s = xstrdup("# Written by vsd at every start; add \"" KEEP_MARK
			  "\" to keep your own.\n"),
	     *t, ip[VS_IP_STRLEN];

	for (size_t i = 0; i < net->nnameservers; i++) {
		t = xasprintf("%snameserver %s\n", s, vs_nl_ipstr(&net->nameservers[i], ip));
		free(s);
		s = t;
	}
	return s;
}

/* The first address of a family over all interfaces, or NULL. */
static const struct vs_ip *first_addr(const struct vs_net_config *net, int family)
{
	for (size_t i = 0; i < net->nifaces; i++)
		for (size_t j = 0; j < net->ifaces[i].naddrs; j++)
			if (net->ifaces[i].addrs[j].family == family)
				return &net->ifaces[i].addrs[j];
	return NULL;
}

static char *hosts_text(const struct vs_net_config *net, const char *hostname)
{
	char short_name[256], names[600], ip[VS_IP_STRLEN], *s, *t;
	const struct vs_ip *a4 = first_addr(net, AF_INET), *a6 = first_addr(net, AF_INET6);

	/* "web.example.com web" (the short name too, as Debian writes it). */
	snprintf(short_name, sizeof(short_name), "%s", hostname);
	short_name[strcspn(short_name, ".")] = '\0';
	snprintf(names, sizeof(names), "%s%s%s", hostname, strcmp(short_name, hostname) ? " " : "",
		 strcmp(short_name, hostname) ? short_name : "");
	s = xasprintf("# Written by vsd at every start; add \"" KEEP_MARK "\" to keep your own.\n"
		      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
		      "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n");
	/* Without an address of its own, the name resolves to loopback. */
	t = xasprintf("%s%s\t%s\n", s, a4 ? vs_nl_ipstr(a4, ip) : "127.0.1.1", names);
	free(s);
	s = t;
	if (a6 != NULL) {
		t = xasprintf("%s%s\t%s\n", s, vs_nl_ipstr(a6, ip), names);
		free(s);
		s = t;
	}
	return s;
}

int vs_net_write_dns(const struct vs_net_config *net, const char *hostname, struct vs_error *err)
{
	cleanup_close int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int etc = -1;
	cleanup_free char *resolv = NULL;
	cleanup_free char *hosts = NULL;

	if (root < 0)
		return vs_error_set(err, errno, "write DNS files: open /");
	/* No symlink on the way: /etc must be the root's own directory. */
	etc = vs_openat2(root, "etc", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, VS_RESOLVE_NOLINKS);
	if (etc < 0 && (errno == ENOENT || errno == ELOOP || errno == ENOTDIR))
		return 0;
	if (etc < 0)
		return vs_error_set(err, errno, "write DNS files: open /etc");
	if (net->nnameservers > 0) {
		resolv = resolv_text(net);
		if (write_etc(etc, "resolv.conf", resolv, err) < 0)
			return vs_error_prefix(err, "write /etc/resolv.conf");
	}
	if (hostname != NULL && hostname[0] != '\0') {
		hosts = hosts_text(net, hostname);
		if (write_etc(etc, "hosts", hosts, err) < 0)
			return vs_error_prefix(err, "write /etc/hosts");
	}
	return 0;
}
