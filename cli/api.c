/* JSON API calls: one request per connection, API errors turned into
 * vs_error messages (the daemon's own message, which names the field). */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/vs_util.h"

enum vs_error_kind vc_api_error_kind(const char *code)
{
	static const struct {
		const char *code;
		enum vs_error_kind kind;
	} map[] = {
	    {"invalid", VS_EK_INVALID},		  {"not_found", VS_EK_NOT_FOUND},
	    {"conflict", VS_EK_CONFLICT},	  {"too_large", VS_EK_TOO_LARGE},
	    {"unsupported", VS_EK_UNSUPPORTED},	  {"precondition_failed", VS_EK_PRECONDITION},
	    {"unauthorized", VS_EK_UNAUTHORIZED}, {"forbidden", VS_EK_FORBIDDEN},
	};

	for (size_t i = 0; code != NULL && i < VS_ARRAY_SIZE(map); i++)
		if (strcmp(code, map[i].code) == 0)
			return map[i].kind;
	return VS_EK_INTERNAL;
}

int vc_api_error(const struct vc_http_response *resp, struct vs_error *err)
{
	cleanup_json struct vs_json *root = NULL;
	const struct vs_json *e;
	const char *msg;

	if (resp->body != NULL && resp->body_len > 0 &&
	    vs_json_parse(resp->body, &root, NULL) == 0 &&
	    (e = vs_json_get(root, "error")) != NULL &&
	    (msg = vs_json_string(vs_json_get(e, "message"))) != NULL && msg[0] != '\0')
		return vs_error_kind(err, vc_api_error_kind(vs_json_string(vs_json_get(e, "code"))),
				     "%s", msg);
	return vs_error_kind(err, VS_EK_INTERNAL, "the daemon answered HTTP %d%s%s", resp->status,
			     resp->reason && resp->reason[0] ? " " : "",
			     resp->reason ? resp->reason : "");
}

char *vc_api_path(const char *collection, const char *name, const char *suffix)
{
	cleanup_free char *esc = vc_http_escape_segment(name);

	return xasprintf("/v1/%s/%s%s", collection, esc, suffix);
}

int vc_api(const struct vc_ctx *ctx, const char *method, const char *path, const char *body,
	   char **raw, struct vs_json **json, struct vs_error *err)
{
	cleanup_conn struct vc_conn c = {.fd = -1};
	struct vc_http_response resp;
	struct vc_http_request req = {
	    .method = method,
	    .path = path,
	    .body = body,
	    .body_len = body ? strlen(body) : 0,
	    .body_fd = -1,
	    .if_match = ctx->if_match,
	};
	cleanup_free char *authz = vc_ctx_authorization(ctx);
	int status;

	req.authorization = authz;
	if (vc_ctx_connect(ctx, &c, err) < 0)
		return -1;
	if (vc_http_exchange(&c, &req, &resp, err) < 0)
		return vs_error_prefix(err, "%s %s", method, path);
	status = resp.status;
	if (status < 200 || status > 299) {
		vc_api_error(&resp, err);
		vc_http_response_free(&resp);
		return -1;
	}
	if (json != NULL) {
		*json = NULL;
		if (resp.body_len > 0 && vs_json_parse(resp.body, json, err) < 0) {
			vc_http_response_free(&resp);
			return vs_error_prefix(err, "%s %s: the daemon's answer", method, path);
		}
	}
	if (raw != NULL)
		*raw = steal_ptr(&resp.body);
	vc_http_response_free(&resp);
	return status;
}

int vc_upload(const struct vc_ctx *ctx, const char *method, const char *path, const char *file,
	      struct vs_json **op, struct vs_error *err)
{
	cleanup_conn struct vc_conn conn = {.fd = -1};
	struct vc_http_request req = {
	    .method = method,
	    .path = path,
	    .content_type = "application/octet-stream",
	    .body_fd = -1,
	};
	cleanup_close int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	cleanup_free char *authz = vc_ctx_authorization(ctx);
	struct vc_http_response resp;
	struct stat st;
	int r;

	if (fd < 0 || fstat(fd, &st) < 0)
		return vs_error_set(err, errno, "%s", file);
	/* The body goes out with a Content-Length, so its size must be known. */
	if (!S_ISREG(st.st_mode))
		return vs_error_kind(err, VS_EK_INVALID, "%s: not a regular file", file);
	req.body_fd = fd;
	req.body_fd_len = st.st_size;
	req.authorization = authz;
	if (vc_ctx_connect(ctx, &conn, err) < 0)
		return -1;
	if (vc_http_exchange(&conn, &req, &resp, err) < 0)
		return vs_error_prefix(err, "%s %s", method, path);
	if (resp.status < 200 || resp.status > 299)
		r = vc_api_error(&resp, err);
	else
		r = vs_json_parse(resp.body, op, err);
	vc_http_response_free(&resp);
	return r;
}
