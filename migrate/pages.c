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

#include "lib/vs_util.h"

int vs_mig_page_server_argv(const char *criu, size_t nargs, const char *dir, char ***argv_out,
			    struct vs_error *err)
{
	char **v;
	size_t k = 0;

	*argv_out = NULL;
	if (nargs != 0)
		return vs_error_kind(err, VS_EK_INVALID,
				     "args: the pages part takes no arguments (the target runs "
				     "its own criu page-server)");
	if (criu == NULL)
		return vs_error_kind(err, VS_EK_UNSUPPORTED, "this node has no usable CRIU");
	v = xcalloc(12, sizeof(*v));
	v[k++] = xstrdup(criu);
	v[k++] = xstrdup("page-server");
	v[k++] = xstrdup("-D");
	v[k++] = xstrdup(dir);
	v[k++] = xstrdup("-W");
	v[k++] = xstrdup(dir);
	v[k++] = xstrdup("-o");
	v[k++] = xstrdup(VS_MIG_PAGE_SERVER_LOG);
	v[k++] = xstrdup("-v2");
	/* The stream's socket is the program's stdin (and stdout). */
	v[k++] = xstrdup("--ps-socket");
	v[k++] = xstrdup("0");
	*argv_out = v;
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

/* One pass to check, one to move: a refused directory moves nothing. */
static int check_pages(int pages_fd, int img_fd, size_t *n, struct vs_error *err)
{
	cleanup_dir DIR *d = fdopendir(dup(pages_fd));
	struct dirent *e;
	struct stat st;

	if (d == NULL)
		return vs_error_set(err, errno, "read the pages directory");
	rewinddir(d); /* a dup shares the offset with pages_fd */
	*n = 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, VS_MIG_PAGE_SERVER_LOG) == 0)
			continue;
		if (!vs_mig_page_file_name(e->d_name))
			return vs_error_kind(err, VS_EK_INVALID,
					     "pages: unexpected file '%.64s' from the page server",
					     e->d_name);
		if (fstatat(pages_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return vs_error_set(err, errno, "pages: %s", e->d_name);
		if (!S_ISREG(st.st_mode))
			return vs_error_kind(err, VS_EK_INVALID, "pages: %s is not a regular file",
					     e->d_name);
		if (fstatat(img_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			return vs_error_kind(err, VS_EK_INVALID,
					     "pages: %s came both with the image and from the "
					     "page server",
					     e->d_name);
		(*n)++;
	}
	return 0;
}

int vs_mig_image_take_pages(int img_fd, int pages_fd, size_t *moved, struct vs_error *err)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *e;
	size_t n = 0;

	*moved = 0;
	if (check_pages(pages_fd, img_fd, &n, err) < 0)
		return -1;
	d = fdopendir(dup(pages_fd));
	if (d == NULL)
		return vs_error_set(err, errno, "read the pages directory");
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		if (!vs_mig_page_file_name(e->d_name))
			continue;
		/* RENAME_NOREPLACE: nothing may have come since the check. */
		if (renameat2(pages_fd, e->d_name, img_fd, e->d_name, RENAME_NOREPLACE) < 0)
			return vs_error_set(err, errno, "pages: move %s into the image", e->d_name);
		(*moved)++;
	}
	return 0;
}
