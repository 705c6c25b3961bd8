/* GET /v1/openapi.json: the API's contract (docs/openapi.json), embedded
 * in the binary at build time so the daemon never reads the repository or
 * an installed copy at run time, and the document served is always the one
 * the binary was built with. */
#include <string.h>

#include "daemon/handlers.h"
#include "lib/vs_util.h"

/* .incbin takes the file as it is; the Makefile makes this object depend
 * on docs/openapi.json (the assembler's include is not seen by -MMD).
 * The path is relative to the directory make runs in: the repository. */
__asm__(".pushsection .rodata,\"a\",@progbits\n"
	".global vsd_openapi_start\n"
	"vsd_openapi_start:\n"
	".incbin \"docs/openapi.json\"\n"
	".global vsd_openapi_end\n"
	"vsd_openapi_end:\n"
	".byte 0\n"
	".popsection\n");

extern const char vsd_openapi_start[];
extern const char vsd_openapi_end[];

const char *vsd_openapi_json(size_t *len)
{
	*len = (size_t)(vsd_openapi_end - vsd_openapi_start);
	return vsd_openapi_start;
}

int vsd_h_openapi(struct vsd_call *c, struct vsd_reply *out, struct vs_error *err)
{
	size_t len;
	const char *doc = vsd_openapi_json(&len);

	out->status = 200;
	out->body = xstrndup(doc, len);
	return 0;
}
