/* vsd's log: one line per event on stderr (journald adds the time). Each
 * line goes out in a single write(2) so lines of concurrent threads never
 * interleave. */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "daemon/log.h"

/* Set once at startup, before any thread exists. */
static bool debug_enabled;

void vsd_log_set_debug(bool on)
{
	debug_enabled = on;
}

bool vsd_log_debug_enabled(void)
{
	return debug_enabled;
}

static void vlog(const char *fmt, va_list ap)
{
	char line[2048];
	int n = snprintf(line, sizeof(line), "vsd: ");

	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* Nowhere left to report it. */
	}
}

void vsd_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void vsd_debug(const char *fmt, ...)
{
	va_list ap;

	if (!debug_enabled)
		return;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}
