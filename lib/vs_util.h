/* vs_util: allocation that aborts on failure, cleanup attributes, ownership
 * transfer helpers. Every owned resource in vsd carries a cleanup attribute;
 * ownership leaves a function visibly through steal_fd()/steal_ptr(). */
#ifndef VS_UTIL_H
#define VS_UTIL_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Allocation failure is not recoverable in vsd: these abort(). */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Cleanup functions: accept NULL / -1, idempotent. */
void vs_freep(void *p);
void vs_closep(int *fd);
/* Binary search of name in base[0..n), elements of size sz sorted by
 * strcmp of the char * at offset off in each: its index, or where it
 * would be inserted (*found false). */
size_t vs_sorted_find(const void *base, size_t n, size_t sz, size_t off, const char *name,
		      bool *found);
void vs_closedirp(DIR **d);
void vs_fclosep(FILE **f);
void vs_strvfreep(char ***v);

#define cleanup_free  __attribute__((cleanup(vs_freep)))
#define cleanup_close __attribute__((cleanup(vs_closep)))
#define cleanup_dir   __attribute__((cleanup(vs_closedirp)))
#define cleanup_file  __attribute__((cleanup(vs_fclosep)))
#define cleanup_strv  __attribute__((cleanup(vs_strvfreep)))

/* Hand an owned descriptor / pointer out: returns it and resets the source. */
static inline int steal_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

static inline void *steal_ptr(void *pp)
{
	void **p = (void **)pp;
	void *r = *p;
	*p = NULL;
	return r;
}
#define steal_pointer(pp) steal_ptr(pp)

/* Milliseconds of CLOCK_MONOTONIC: for deadlines and durations. */
int64_t vs_now_ms(void);

/* The path of name as installed with the running program: beside its
 * binary (the build tree, or sbin/ and bin/), else in ../libexec/vsd/
 * (make install). 0 with out filled, or -1 with errno ENOENT when neither
 * exists (or the path does not fit in cap). */
int vs_self_sibling(const char *name, char *out, size_t cap);

/* For a single-threaded process about to wait a long time (a container's
 * monitor): give back the stack pages below the caller's frame, which its
 * setup's deep calls dirtied and nothing will read again (they come back
 * as zero pages if touched), and the heap's free pages. Best effort. */
void vs_shed_idle_memory(void);

/* NULL-terminated string vectors. */
size_t vs_strv_len(char *const *v);
void vs_strv_free(char **v);
char **vs_strv_dup(char *const *v);

#define VS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
