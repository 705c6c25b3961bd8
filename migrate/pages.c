/* Memory pages straight to the target (docs/migration.md, "Pages"): the
 * source's `criu dump --page-server --ps-socket` sends them, while it
 * dumps, to a `criu page-server` on the target, over a socket bridged to
 * the node-to-node HTTPS stream. The target runs a fixed command (nothing
 * the source says reaches criu's argv) writing into a directory of its
 * own next to the staged image, and moves the page files into the image
 * only at the commit, so the rsync of the rest of the image (--delete)
 * never sees them and the image is checked and sealed whole. */
#include "migrate/vs_migrate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "migrate/mig-private.h"

/* The fixed head of a target-side CRIU command on a stream: CRIU ACTION
 * -D dir -W work -o log VERBOSITY, in a vector with room for `more`
 * further arguments (*k: how many are set). NULL with err when the source
 * gave arguments (part names the sync part) or there is no CRIU. */
static char **stream_argv(const char *criu, size_t nargs, const char *part, const char *action,
			  const char *const head[4], const char *verbosity, size_t more, size_t *k,
			  struct vs_error *err)
{
	char **v;

	if (nargs != 0) {
		vs_error_kind(err, VS_EK_INVALID,
			      "args: the %s part takes no arguments (the target runs its own criu "
			      "%s)",
			      part, action);
		return NULL;
	}
	if (criu == NULL) {
		vs_error_kind(err, VS_EK_UNSUPPORTED, "this node has no usable CRIU");
		return NULL;
	}
	v = xcalloc(9 + more + 1, sizeof(*v));
	*k = 0;
	v[(*k)++] = xstrdup(criu);
	v[(*k)++] = xstrdup(action);
	v[(*k)++] = xstrdup("-D");
	v[(*k)++] = xstrdup(head[0]);
	v[(*k)++] = xstrdup("-W");
	v[(*k)++] = xstrdup(head[1]);
	v[(*k)++] = xstrdup("-o");
	v[(*k)++] = xstrdup(head[2]);
	v[(*k)++] = xstrdup(verbosity);
	return v;
}

int vs_mig_page_server_argv(const char *criu, size_t nargs, const char *dir, const char *prev,
			    char ***argv_out, struct vs_error *err)
{
	const char *const head[4] = {dir, dir, VS_MIG_PAGE_SERVER_LOG, NULL};
	size_t k = 0;
	char **v = stream_argv(criu, nargs, "pages", "page-server", head, "-v2", 4, &k, err);

	*argv_out = v;
	if (v == NULL)
		return -1;
	if (prev != NULL) {
		v[k++] = xstrdup("--prev-images-dir");
		v[k++] = xstrdup(prev);
	}
	/* The stream's socket is the program's stdin (and stdout). */
	v[k++] = xstrdup("--ps-socket");
	v[k++] = xstrdup("0");
	return 0;
}

int vs_mig_lazy_pages_argv(const char *criu, size_t nargs, const char *img, const char *work,
			   char ***argv_out, struct vs_error *err)
{
	static const char *const tail[] = {"--page-server", "--ps-socket", "0", "--status-fd", "2"};
	const char *const head[4] = {img, work, VS_MIG_LAZY_LOG, NULL};
	size_t k = 0, n = VS_ARRAY_SIZE(tail);
	char **v = stream_argv(criu, nargs, "lazy", "lazy-pages", head, "-v4", n, &k, err);

	*argv_out = v;
	if (v == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		v[k++] = xstrdup(tail[i]);
	return 0;
}

/* "PREFIX" then digits then ".img", nothing else. */
static bool numbered(const char *name, const char *prefix)
{
	size_t p = strlen(prefix), d;

	if (strncmp(name, prefix, p) != 0)
		return false;
	d = strspn(name + p, "0123456789");
	return d > 0 && d <= 20 && strcmp(name + p + d, ".img") == 0;
}

bool vs_mig_page_file_name(const char *name)
{
	return numbered(name, "pagemap-") || numbered(name, "pagemap-shmem-") ||
	       numbered(name, "pages-");
}

/* ---- post-copy: the pages a lazy dump left behind ---- */

/* images/magic.h PAGEMAP_MAGIC; criu/include/pagemap.h PE_LAZY. */
#define PAGEMAP_MAGIC 0x56084025u
#define PE_LAZY	      (1u << 1)

/* pagemap_head, then pagemap_entry {vaddr = 1, compat_nr_pages = 2,
 * in_parent = 3, flags = 4, nr_pages = 5} (images/pagemap.proto). */
int vs_mig_pagemap_lazy(const uint8_t *buf, size_t len, uint64_t *pages)
{
	struct vs_mig_pb entries, msg;
	struct vs_mig_pb_field f;
	uint32_t magic;
	bool head = true;
	int r;

	*pages = 0;
	if (vs_mig_img_open(buf, len, &entries, &magic) < 0 || magic != PAGEMAP_MAGIC)
		return -1;
	while ((r = vs_mig_img_next(&entries, &msg)) == 1) {
		uint64_t compat = 0, nr = 0, flags = 0;
		bool has_nr = false;

		if (head) {
			head = false;
			continue;
		}
		while ((r = vs_mig_pb_next(&msg, &f)) > 0) {
			if (f.wt != 0)
				continue;
			if (f.num == 2)
				compat = f.v;
			else if (f.num == 4)
				flags = f.v;
			else if (f.num == 5)
				nr = f.v, has_nr = true;
		}
		if (r < 0)
			return -1;
		if (flags & PE_LAZY)
			*pages += has_nr ? nr : compat;
	}
	return r < 0 || head ? -1 : 0;
}

int vs_mig_image_lazy_pages(int img_fd, uint64_t *pages, struct vs_error *err)
{
	cleanup_dir DIR *d = fdopendir(fcntl(img_fd, F_DUPFD_CLOEXEC, 3));
	struct dirent *e;

	*pages = 0;
	if (d == NULL)
		return vs_error_set(err, errno, "read the image");
	while ((e = readdir(d)) != NULL) {
		cleanup_free char *text = NULL;
		size_t len = 0;
		uint64_t n = 0;

		if (!numbered(e->d_name, "pagemap-"))
			continue;
		if (vs_read_file_at(img_fd, e->d_name, 64 << 20, &text, &len, err) < 0)
			return -1;
		if (vs_mig_pagemap_lazy((const uint8_t *)text, len, &n) < 0)
			return vs_error_kind(err, VS_EK_INVALID, "%s: not a page map", e->d_name);
		*pages += n;
	}
	return 0;
}

/* ---- the rounds' layout ---- */

unsigned vs_mig_round_number(const char *name)
{
	unsigned v = 0;

	if (name[0] < '1' || name[0] > '9' || strlen(name) > 2)
		return 0;
	for (const char *p = name; *p; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		v = v * 10 + (unsigned)(*p - '0');
	}
	return v <= VS_MIG_ROUNDS_MAX ? v : 0;
}

bool vs_mig_parent_link_ok(unsigned level, unsigned nrounds, const char *target)
{
	char want[16];

	if (nrounds == 0 || nrounds > VS_MIG_ROUNDS_MAX || level > nrounds || level == 1)
		return false;
	if (level == 0)
		snprintf(want, sizeof(want), "%u", nrounds);
	else
		snprintf(want, sizeof(want), "../%u", level - 1);
	return strcmp(target, want) == 0;
}

void vs_mig_layout_link(struct vs_mig_layout *l, unsigned level, const char *buf, ssize_t n)
{
	if (level > VS_MIG_ROUNDS_MAX)
		return;
	l->link[level] = true;
	if (n < 0 || (size_t)n >= sizeof(l->target[level]) || memchr(buf, '\0', (size_t)n) != NULL)
		strcpy(l->target[level], "?"); /* never right */
	else {
		memcpy(l->target[level], buf, (size_t)n);
		l->target[level][n] = '\0';
	}
}

int vs_mig_layout_check(const struct vs_mig_layout *l, const char *what, unsigned *nrounds,
			struct vs_error *err)
{
	unsigned n = 0;

	*nrounds = 0;
	for (unsigned k = 1; k <= VS_MIG_ROUNDS_MAX; k++)
		if (l->round[k])
			n = k;
	for (unsigned k = 1; k < n; k++)
		if (!l->round[k])
			return vs_error_kind(err, VS_EK_INVALID,
					     "%s: round %u is missing (rounds up to %u)", what, k,
					     n);
	for (unsigned k = 0; k <= n; k++) {
		bool need = n > 0 && k != 1;
		if (l->link[k] && !need)
			return vs_error_kind(err, VS_EK_INVALID,
					     "%s: unexpected " VS_MIG_PARENT_LINK " link%s%.0u",
					     what, k == 0 ? " (no rounds)" : " in round ", k);
		if (!need)
			continue;
		if (!l->link[k])
			return vs_error_kind(err, VS_EK_INVALID,
					     "%s: no " VS_MIG_PARENT_LINK " link %s%.0u", what,
					     k == 0 ? "at the top" : "in round ", k);
		if (!vs_mig_parent_link_ok(k, n, l->target[k]))
			return vs_error_kind(err, VS_EK_INVALID,
					     "%s: the " VS_MIG_PARENT_LINK
					     " link %s%.0u points to '%s', not the previous round",
					     what, k == 0 ? "at the top" : "in round ", k,
					     l->target[k]);
	}
	*nrounds = n;
	return 0;
}

/* What moves: the page files, the rounds' directories and the top's
 * parent link; the page server's log stays. */
static bool moves(const char *name)
{
	return vs_mig_page_file_name(name) || vs_mig_round_number(name) > 0 ||
	       strcmp(name, VS_MIG_PARENT_LINK) == 0;
}

/* One level of the pages directory (0: its top, k: round k): page files,
 * a parent link, and at the top the rounds' directories; counted into
 * files[level]. The image must not hold what the top moves. */
static int check_level(int dfd, unsigned level, int img_fd, struct vs_mig_layout *l,
		       size_t files[VS_MIG_ROUNDS_MAX + 1], struct vs_error *err)
{
	cleanup_dir DIR *d = fdopendir(dup(dfd));
	struct dirent *e;
	struct stat st;

	if (d == NULL)
		return vs_error_set(err, errno, "read the pages directory");
	rewinddir(d); /* a dup shares the offset with dfd */
	while ((e = readdir(d)) != NULL) {
		unsigned k = level == 0 ? vs_mig_round_number(e->d_name) : 0;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, VS_MIG_PAGE_SERVER_LOG) == 0)
			continue;
		if (!vs_mig_page_file_name(e->d_name) && k == 0 &&
		    strcmp(e->d_name, VS_MIG_PARENT_LINK) != 0)
			return vs_error_kind(err, VS_EK_INVALID,
					     "pages: unexpected file '%.64s' from the page server",
					     e->d_name);
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return vs_error_set(err, errno, "pages: %s", e->d_name);
		if (strcmp(e->d_name, VS_MIG_PARENT_LINK) == 0) {
			char buf[64];
			if (!S_ISLNK(st.st_mode))
				return vs_error_kind(err, VS_EK_INVALID,
						     "pages: %s is not a symlink", e->d_name);
			vs_mig_layout_link(l, level, buf,
					   readlinkat(dfd, e->d_name, buf, sizeof(buf)));
		} else if (k > 0) {
			cleanup_close int sub =
			    openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (!S_ISDIR(st.st_mode) || sub < 0)
				return vs_error_kind(err, VS_EK_INVALID,
						     "pages: round %s is not a directory",
						     e->d_name);
			l->round[k] = true;
			if (check_level(sub, k, -1, l, files, err) < 0)
				return -1;
		} else if (!S_ISREG(st.st_mode)) {
			return vs_error_kind(err, VS_EK_INVALID,
					     "pages: %.0u%s%.64s is not a regular file", level,
					     level > 0 ? "/" : "", e->d_name);
		} else {
			files[level]++;
		}
		if (img_fd >= 0 && fstatat(img_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			return vs_error_kind(err, VS_EK_INVALID,
					     "pages: %s came both with the image and from the "
					     "page server",
					     e->d_name);
	}
	return 0;
}

int vs_mig_image_take_pages(int img_fd, int pages_fd, size_t *moved, struct vs_error *err)
{
	struct vs_mig_layout l = {0};
	size_t files[VS_MIG_ROUNDS_MAX + 1] = {0};
	cleanup_dir DIR *d = NULL;
	struct dirent *e;
	unsigned n;

	*moved = 0;
	/* One pass to check, one to move: a refused directory moves nothing. */
	if (check_level(pages_fd, 0, img_fd, &l, files, err) < 0 ||
	    vs_mig_layout_check(&l, "pages", &n, err) < 0)
		return -1;
	d = fdopendir(dup(pages_fd));
	if (d == NULL)
		return vs_error_set(err, errno, "read the pages directory");
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		unsigned k = vs_mig_round_number(e->d_name);
		if (!moves(e->d_name))
			continue;
		/* RENAME_NOREPLACE: nothing may have come since the check. */
		if (renameat2(pages_fd, e->d_name, img_fd, e->d_name, RENAME_NOREPLACE) < 0)
			return vs_error_set(err, errno, "pages: move %s into the image", e->d_name);
		if (k > 0)
			*moved += files[k];
		else if (vs_mig_page_file_name(e->d_name))
			(*moved)++;
	}
	return 0;
}
