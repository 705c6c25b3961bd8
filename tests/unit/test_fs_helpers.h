/* Helpers shared by the fs-cow unit tests (tests/unit/test_fs_*.c).
 *
 * Cleanup here deliberately does not use the code under test
 * (vs_fs_remove_tree): a bug there must not also leave the test's files
 * behind. nftw with FTW_PHYS|FTW_MOUNT never follows symlinks and never
 * enters another mount. */
#ifndef TEST_FS_HELPERS_H
#define TEST_FS_HELPERS_H

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static inline void rm_rf(const char *path)
{
	if (path != NULL && path[0] != '\0')
		nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static inline char *make_tmpdir(void)
{
	char *p = strdup("/tmp/vsd-fs-test-XXXXXX");

	if (p == NULL || mkdtemp(p) == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

/* printf into a static rotating buffer (eight of them: keep a result longer
 * than the next few calls in a buffer of your own), for test paths. */
static inline const char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline const char *pathf(const char *fmt, ...)
{
	static char bufs[8][4096];
	static int next;
	char *b = bufs[next++ % 8];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b, sizeof(bufs[0]), fmt, ap);
	va_end(ap);
	return b;
}

/* Number of entries in a directory (not counting . and ..), -1 if absent. */
static inline int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static inline bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static inline int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* One archive member for build_tar(). type 0 means a regular file. */
struct member {
	const char *path;
	mode_t type; /* AE_IFREG (or 0), AE_IFDIR, AE_IFLNK, AE_IFCHR, AE_IFBLK, AE_IFIFO */
	mode_t perm;
	const char *data;     /* regular file contents */
	const char *link;     /* symlink target */
	const char *hardlink; /* hard link target (makes it a hard link) */
	unsigned maj, min;
	long long uid, gid;
	time_t mtime;
	const char *xattr; /* "name=value" */
};

/* Write members to file with libarchive's writer; filter is an
 * ARCHIVE_FILTER_* code (ARCHIVE_FILTER_NONE for plain tar). 0 or -1. */
static inline int build_tar(const char *file, int filter, const struct member *m, size_t n)
{
	struct archive *a = archive_write_new();
	int rc = 0;

	if (a == NULL || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    (filter != ARCHIVE_FILTER_NONE && archive_write_add_filter(a, filter) != ARCHIVE_OK) ||
	    archive_write_open_filename(a, file) != ARCHIVE_OK) {
		if (a != NULL)
			archive_write_free(a);
		return -1;
	}
	for (size_t k = 0; k < n && rc == 0; k++) {
		struct archive_entry *e = archive_entry_new();
		mode_t type = m[k].type ? m[k].type : AE_IFREG;
		size_t len = m[k].data ? strlen(m[k].data) : 0;

		archive_entry_set_pathname(e, m[k].path);
		archive_entry_set_filetype(e, type);
		archive_entry_set_perm(e, m[k].perm ? m[k].perm : (type == AE_IFDIR ? 0755 : 0644));
		archive_entry_set_uid(e, m[k].uid);
		archive_entry_set_gid(e, m[k].gid);
		archive_entry_set_mtime(e, m[k].mtime ? m[k].mtime : 1700000000, 0);
		if (type == AE_IFLNK)
			archive_entry_set_symlink(e, m[k].link);
		if (type == AE_IFCHR || type == AE_IFBLK) {
			archive_entry_set_rdevmajor(e, m[k].maj);
			archive_entry_set_rdevminor(e, m[k].min);
		}
		if (m[k].hardlink != NULL) {
			archive_entry_set_hardlink(e, m[k].hardlink);
			len = 0;
		}
		if (m[k].xattr != NULL) {
			const char *eq = strchr(m[k].xattr, '=');
			char name[128];
			snprintf(name, sizeof(name), "%.*s", (int)(eq - m[k].xattr), m[k].xattr);
			archive_entry_xattr_add_entry(e, name, eq + 1, strlen(eq + 1));
		}
		archive_entry_set_size(e, type == AE_IFREG ? (la_int64_t)len : 0);
		if (archive_write_header(a, e) != ARCHIVE_OK)
			rc = -1;
		else if (len > 0 && archive_write_data(a, m[k].data, len) != (la_ssize_t)len)
			rc = -1;
		archive_entry_free(e);
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		rc = -1;
	archive_write_free(a);
	return rc;
}

#endif
