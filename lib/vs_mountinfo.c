/* mountinfo through libmount: see vs_mountinfo.h. */
#include "lib/vs_mountinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <libmount.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "lib/vs_io.h"
#include "lib/vs_util.h"

static void table_unref(struct libmnt_table **tb)
{
	mnt_unref_table(*tb);
	*tb = NULL;
}

static void iter_free(struct libmnt_iter **it)
{
	mnt_free_iter(*it);
	*it = NULL;
}

/* libmount reports a bad line here and goes on unless told otherwise: the
 * first one aborts the parse, its number kept for the message. */
static int parse_error(struct libmnt_table *tb, const char *filename, int line)
{
	int *first = mnt_table_get_userdata(tb);

	if (*first == 0)
		*first = line;
	return -EINVAL;
}

static const char *or_empty(const char *s)
{
	return s != NULL ? s : "";
}

static int walk(struct libmnt_table *tb, vs_mountinfo_fn fn, void *ud, struct vs_error *err)
{
	struct libmnt_iter *it __attribute__((cleanup(iter_free))) = mnt_new_iter(MNT_ITER_FORWARD);
	struct libmnt_fs *fs;
	int r;

	if (it == NULL)
		return vs_error_set(err, ENOMEM, "mountinfo");
	while (mnt_table_next_fs(tb, it, &fs) == 0) {
		dev_t dev = mnt_fs_get_devno(fs);
		const struct vs_mount m = {
		    .id = mnt_fs_get_id(fs),
		    .parent_id = mnt_fs_get_parent_id(fs),
		    .major = major(dev),
		    .minor = minor(dev),
		    .root = or_empty(mnt_fs_get_root(fs)),
		    .target = or_empty(mnt_fs_get_target(fs)),
		    .fstype = or_empty(mnt_fs_get_fstype(fs)),
		    .source = or_empty(mnt_fs_get_source(fs)),
		    .super_options = or_empty(mnt_fs_get_fs_options(fs)),
		};
		if ((r = fn(&m, ud, err)) != 0)
			return r < 0 ? -1 : 1;
	}
	return 0;
}

/* libmount guesses the format from the first line and would read a text
 * that does not start like mountinfo as an fstab: refuse it here. 0, or the
 * number of that line. */
static int not_mountinfo(const char *text, size_t len)
{
	const char *end = text + len;
	unsigned int a, b;
	int line = 1;

	for (const char *p = text; p < end; p++, line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		char first[64];
		size_t n = (size_t)((nl != NULL ? nl : end) - p);
		if (strspn(p, " \t") >= n) {
			if (nl == NULL)
				break;
			p = nl;
			continue;
		}
		n = n < sizeof(first) - 1 ? n : sizeof(first) - 1;
		memcpy(first, p, n);
		first[n] = '\0';
		return sscanf(first, "%u %u", &a, &b) == 2 ? 0 : line;
	}
	return 0;
}

int vs_mountinfo_parse(const char *text, size_t len, vs_mountinfo_fn fn, void *ud,
		       struct vs_error *err)
{
	struct libmnt_table *tb __attribute__((cleanup(table_unref))) = NULL;
	cleanup_file FILE *f = NULL;
	int bad_line = 0, r;

	/* fmemopen refuses an empty buffer; an empty table has no mounts. */
	if (len == 0)
		return 0;
	if ((bad_line = not_mountinfo(text, len)) > 0)
		return vs_error_kind(err, VS_EK_INVALID, "mountinfo line %d: malformed", bad_line);
	f = fmemopen((void *)text, len, "r");
	tb = mnt_new_table();
	if (f == NULL || tb == NULL)
		return vs_error_set(err, f == NULL ? errno : ENOMEM, "mountinfo");
	mnt_table_set_userdata(tb, &bad_line);
	mnt_table_set_parser_errcb(tb, parse_error);
	r = mnt_table_parse_stream(tb, f, "mountinfo");
	if (bad_line > 0)
		return vs_error_kind(err, VS_EK_INVALID, "mountinfo line %d: malformed", bad_line);
	if (r < 0)
		return vs_error_set(err, -r, "parse mountinfo");
	return walk(tb, fn, ud, err);
}

int vs_mountinfo_read(const char *path, size_t max_bytes, vs_mountinfo_fn fn, void *ud,
		      struct vs_error *err)
{
	cleanup_free char *text = NULL;
	size_t len = 0;

	int r;

	if (vs_read_file_at(AT_FDCWD, path, max_bytes, &text, &len, err) < 0)
		return -1;
	if ((r = vs_mountinfo_parse(text, len, fn, ud, err)) < 0)
		return vs_error_prefix(err, "%s", path);
	return r;
}
