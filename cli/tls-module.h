/* The interface between vsctl and its TLS module, vsctl-tls.so (tls.c,
 * built with GnuTLS and loaded by tls-load.c on the first remote call):
 * most vsctl commands talk to the local daemon over its unix socket and
 * should not pay for loading GnuTLS (about 3.5 ms per process here). The
 * module resolves vsctl's own functions (errors, allocation, file reads)
 * from the executable, so both must come from the same build; the name
 * of the table carries a version that changes with this structure. */
#ifndef VC_TLS_MODULE_H
#define VC_TLS_MODULE_H

#include "cli/cli.h"

#define VC_TLS_MODULE_FILE   "vsctl-tls.so"
#define VC_TLS_MODULE_SYMBOL "vc_tls_module_v1"

struct vc_tls_module {
	int (*open)(struct vc_conn *c, const struct vc_tls_target *tg, char got[64 + 1],
		    struct vs_error *err);
	ssize_t (*send)(struct vc_conn *c, const void *buf, size_t len);
	ssize_t (*recv)(struct vc_conn *c, void *buf, size_t len);
	void (*close)(struct vc_conn *c);
	bool (*pending)(const struct vc_conn *c);
	int (*cert_generate)(const char *host, char **cert_pem, char **key_pem,
			     struct vs_error *err);
};

#endif
