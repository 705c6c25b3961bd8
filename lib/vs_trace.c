#include "lib/vs_trace.h"

#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int trace_fd = -1;

void vs_trace_init(void)
{
	const char *path = getenv("VSD_TRACE_FILE");

	if (trace_fd >= 0 || path == NULL || path[0] != '/')
		return;
	trace_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
}

void vs_trace_reopen(void)
{
	trace_fd = -1;
	vs_trace_init();
}

/* Decimal digits of v, at least min_digits of them, onto line at *n. */
static void put_u(char *line, size_t *n, unsigned long long v, int min_digits)
{
	char num[24];
	char *p = num + sizeof(num);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
		min_digits--;
	} while (v != 0 || min_digits > 0);
	while (p < num + sizeof(num))
		line[(*n)++] = *p++;
}

void vs_trace_mark(const char *step)
{
	char line[128];
	struct timespec ts;
	size_t n = 0;

	if (trace_fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	put_u(line, &n, (unsigned long long)ts.tv_sec, 1);
	line[n++] = '.';
	put_u(line, &n, (unsigned long long)ts.tv_nsec / 1000, 6);
	line[n++] = ' ';
	put_u(line, &n, (unsigned long long)getpid(), 1);
	line[n++] = ' ';
	for (; *step != '\0' && n < sizeof(line) - 1; step++)
		line[n++] = *step;
	line[n++] = '\n';
	if (write(trace_fd, line, n) < 0) {
		/* a benchmark's aid: a failed write is not worth an error */
	}
}
