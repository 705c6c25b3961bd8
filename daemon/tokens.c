/* API tokens (auth.h). No token store exists yet: every token is
 * unknown. */
#include "daemon/auth.h"

int vsd_token_authenticate(struct vsd *d, const char *authorization, struct vsd_identity *who,
			   struct vs_error *err)
{
	(void)d;
	(void)authorization;
	(void)who;
	return vs_error_kind(err, VS_EK_UNAUTHORIZED, "unknown API token");
}
