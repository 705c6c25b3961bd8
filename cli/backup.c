/* Backup commands: export a container to an archive file, import one. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/vs_util.h"

/* GET the archive into FILE.partial, then rename it to FILE: an
 * interrupted export never leaves a file that looks complete. */
static int download(const struct vc_ctx *ctx, const char *path, const char *file,
		    struct vs_error *err)
{
	cleanup_conn struct vc_conn conn = {.fd = -1};
	cleanup_free char *tmp = xasprintf("%s.partial", file);
	struct vc_http_request req = {.method = "GET", .path = path, .body_fd = -1, .sink = true};
	struct vc_http_response resp;
	int r = -1;

	req.sink_fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
	if (req.sink_fd < 0)
		return vs_error_set(err, errno, "%s", tmp);
	if (vc_ctx_connect(ctx, &conn, err) == 0) {
		if (vc_http_exchange(&conn, &req, &resp, err) < 0) {
			vs_error_prefix(err, "GET %s", path);
		} else {
			r = resp.status >= 200 && resp.status <= 299 ? 0 : vc_api_error(&resp, err);
			vc_http_response_free(&resp);
		}
	}
	if (r == 0 && fsync(req.sink_fd) < 0)
		r = vs_error_set(err, errno, "%s", tmp);
	close(req.sink_fd);
	if (r == 0 && rename(tmp, file) < 0)
		r = vs_error_set(err, errno, "rename %s to %s", tmp, file);
	if (r < 0)
		unlink(tmp);
	return r;
}

int vc_cmd_export(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const struct option opts[] = {
	    {"with-template", no_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	cleanup_free char *path = NULL;
	bool reset = true, with_template = false;
	struct stat st;
	int c;

	while ((c = vc_getopt(argc, argv, "h", opts, &reset, err)) != -1) {
		if (c == 't') {
			with_template = true;
			continue;
		}
		if (c != 'h')
			return VC_ERR_USAGE;
		vc_cmd_help(ctx);
		return 0;
	}
	if (vc_positional(argc, optind, 2, 2, "container name and archive file", err) < 0)
		return VC_ERR_USAGE;
	if (lstat(argv[optind + 1], &st) == 0) {
		vs_error_kind(err, VS_EK_CONFLICT, "%s exists; not overwritten", argv[optind + 1]);
		return VC_ERR_FAIL;
	}
	path = vc_api_path("containers", argv[optind],
			   with_template ? "/export?with_template=1" : "/export");
	if (download(ctx, path, argv[optind + 1], err) < 0)
		return VC_ERR_FAIL;
	return 0;
}

int vc_cmd_import(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err)
{
	static const struct option opts[] = {
	    {"template-mismatch-ok", no_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	cleanup_json struct vs_json *op = NULL;
	cleanup_free char *path = NULL, *name = NULL;
	bool reset = true, mismatch_ok = false;
	int c;

	while ((c = vc_getopt(argc, argv, "h", opts, &reset, err)) != -1) {
		if (c == 'm') {
			mismatch_ok = true;
			continue;
		}
		if (c != 'h')
			return VC_ERR_USAGE;
		vc_cmd_help(ctx);
		return 0;
	}
	if (vc_positional(argc, optind, 1, 2, "archive file and optional container name", err) < 0)
		return VC_ERR_USAGE;
	if (optind + 1 < argc)
		name = vc_http_escape_segment(argv[optind + 1]);
	path = xasprintf("/v1/containers/import%s%s%s", name || mismatch_ok ? "?" : "",
			 name ? "name=" : "", name ? name : "");
	if (mismatch_ok) {
		char *p = xasprintf("%s%stemplate_mismatch_ok=1", path, name ? "&" : "");
		free(path);
		path = p;
	}
	if (vc_upload(ctx, "POST", path, argv[optind], &op, err) < 0)
		return VC_ERR_FAIL;
	return vc_follow_operation(ctx, op, NULL, err);
}
