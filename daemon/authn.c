/* Who makes a request (auth.h). The credential stores themselves are in
 * trust.c and tokens.c. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "daemon/auth.h"

static bool is_bearer(const char *authorization)
{
	return authorization != NULL && strncasecmp(authorization, "Bearer", 6) == 0;
}

int vsd_authenticate(struct vsd *d, bool local, uid_t uid, const char *cert_fp,
		     const char *authorization, struct vsd_identity *who, struct vs_error *err)
{
	char name[64];
	int r;

	memset(who, 0, sizeof(*who));
	snprintf(who->cert_fp, sizeof(who->cert_fp), "%s", cert_fp != NULL ? cert_fp : "");
	if (authorization != NULL && !is_bearer(authorization)) {
		snprintf(who->name, sizeof(who->name), "non-Bearer credential");
		return vs_error_kind(err, VS_EK_UNAUTHORIZED,
				     "Authorization: only Bearer tokens are accepted");
	}
	if (is_bearer(authorization))
		return vsd_token_authenticate(d, authorization, who, err);
	if (local) {
		who->kind = VSD_CRED_LOCAL;
		who->scope = VSD_SCOPE_ADMIN;
		snprintf(who->name, sizeof(who->name), "uid:%d", (int)uid);
		return 0;
	}
	if (who->cert_fp[0] != '\0') {
		r = vsd_trust_lookup(d, who->cert_fp, name, sizeof(name), err);
		if (r < 0)
			return -1;
		if (r == 1) {
			who->kind = VSD_CRED_CERT;
			who->scope = VSD_SCOPE_ADMIN;
			snprintf(who->name, sizeof(who->name), "cert:%s %.16s", name, who->cert_fp);
			return 0;
		}
	}
	who->kind = VSD_CRED_NONE;
	snprintf(who->name, sizeof(who->name), "%s",
		 who->cert_fp[0] != '\0' ? "untrusted certificate" : "anonymous");
	return 0;
}
