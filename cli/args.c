/* Option parsing shared by the commands: getopt_long with our own messages
 * (getopt's would not follow the "vsctl: " one-line convention). */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int vc_usage(struct vs_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->errnum = 0;
	err->kind = VS_EK_INVALID;
	return VC_ERR_USAGE;
}

int vc_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
	      bool *optind_reset, struct vs_error *err)
{
	char spec[64];
	int c;

	if (*optind_reset) {
		/* 0 makes glibc re-initialise its scanner for a new argv. */
		optind = 0;
		*optind_reset = false;
	}
	opterr = 0;
	/* A leading ':' (after a '+' scanning mode) tells a missing value
	 * (':') apart from an unknown option ('?'). */
	if (shortopts[0] == '+')
		snprintf(spec, sizeof(spec), "+:%s", shortopts + 1);
	else
		snprintf(spec, sizeof(spec), ":%s", shortopts);
	c = getopt_long(argc, argv, spec, longopts, NULL);
	if (c == '?') {
		if (optopt != 0 && (optind <= 1 || strncmp(argv[optind - 1], "--", 2) != 0))
			return vc_usage(err, "unknown option '-%c'", optopt);
		return vc_usage(err, "unknown option '%s'", argv[optind - 1]);
	}
	if (c == ':') {
		const char *opt = argv[optind - 1];
		if (strncmp(opt, "--", 2) == 0)
			return vc_usage(err, "option '%s' needs a value", opt);
		return vc_usage(err, "option '-%c' needs a value", optopt);
	}
	return c;
}

int vc_positional(int argc, int first, int min, int max, const char *what, struct vs_error *err)
{
	int n = argc - first;

	if (n < min)
		return vc_usage(err, "missing %s", what);
	if (max >= 0 && n > max)
		return vc_usage(err, "too many arguments");
	return 0;
}

int vc_parse_reading(struct vc_ctx *ctx, int argc, char **argv, bool want_name, const char *what,
		     const char **name, struct vs_error *err)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	bool reset = true;
	int c;

	while ((c = vc_getopt(argc, argv, "h", opts, &reset, err)) != -1) {
		if (c == 'j')
			ctx->json = true;
		else if (c == 'h')
			return vc_cmd_help(ctx);
		else
			return VC_ERR_USAGE;
	}
	if (vc_positional(argc, optind, want_name, want_name, what, err) < 0)
		return VC_ERR_USAGE;
	if (want_name)
		*name = argv[optind];
	return 0;
}

int vc_cmd_help(const struct vc_ctx *ctx)
{
	const struct vc_cmd *c = ctx->cmd;

	printf("Usage: vsctl %s%s%s %s\n\n%s\n", c->group ? c->group : "", c->group ? " " : "",
	       c->name, c->synopsis, c->summary);
	printf("\nOptions:\n%s  -h, --help      this help\n", c->options ? c->options : "");
	return VC_HELP_SHOWN;
}
