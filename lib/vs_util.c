#include "lib/vs_util.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static void oom(void)
{
	static const char msg[] = "vsd: out of memory\n";
	ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)r;
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		oom();
	return p;
}

void *xcalloc(size_t nmemb, size_t n)
{
	void *p = calloc(nmemb ? nmemb : 1, n ? n : 1);
	if (p == NULL)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (p == NULL)
		oom();
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (p == NULL)
		oom();
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p = NULL;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (r < 0)
		oom();
	return p;
}

int64_t vs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int vs_self_sibling(const char *name, char *out, size_t cap)
{
	static const char *const where[] = {"%s/%s", "%s/../libexec/vsd/%s"};
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return -1;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash == NULL) {
		errno = ENOENT;
		return -1;
	}
	*slash = '\0';
	for (size_t i = 0; i < VS_ARRAY_SIZE(where); i++) {
		int len = snprintf(out, cap, where[i], self, name);

		if (len > 0 && (size_t)len < cap && access(out, F_OK) == 0)
			return 0;
	}
	errno = ENOENT;
	return -1;
}

/* The lowest address of the [stack] mapping, or 0. */
static uintptr_t stack_low(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	uintptr_t lo = 0, hi;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "[stack]") != NULL &&
		    sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) == 2)
			break;
	fclose(f);
	return lo;
}

__attribute__((noinline)) void vs_shed_idle_memory(void)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = stack_low();
	/* Two pages of margin below this frame: our own locals and the
	 * madvise call stay on live pages. */
	uintptr_t top = ((uintptr_t)__builtin_frame_address(0) & ~(pg - 1)) - 2 * pg;

	if (lo != 0 && top > lo)
		madvise((void *)lo, top - lo, MADV_DONTNEED);
	malloc_trim(0);
}

void vs_freep(void *p)
{
	void **pp = (void **)p;
	free(*pp);
	*pp = NULL;
}

size_t vs_sorted_find(const void *base, size_t n, size_t sz, size_t off, const char *name,
		      bool *found)
{
	size_t lo = 0, hi = n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *at = *(char *const *)((const char *)base + mid * sz + off);
		int c = strcmp(at, name);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void vs_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
	*fd = -1;
}

void vs_closedirp(DIR **d)
{
	if (*d != NULL)
		closedir(*d);
	*d = NULL;
}

void vs_fclosep(FILE **f)
{
	if (*f != NULL)
		fclose(*f);
	*f = NULL;
}

size_t vs_strv_len(char *const *v)
{
	size_t n = 0;
	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

void vs_strv_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

void vs_strvfreep(char ***v)
{
	vs_strv_free(*v);
	*v = NULL;
}

char **vs_strv_dup(char *const *v)
{
	size_t n = vs_strv_len(v);
	char **r = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		r[i] = xstrdup(v[i]);
	return r;
}
