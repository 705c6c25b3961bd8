/* The credential state's accessor for the auth layer, which cannot see
 * struct vsd (auth.h). */
#include "daemon/daemon.h"

struct vsd_auth *vsd_auth(struct vsd *d)
{
	return &d->auth;
}
