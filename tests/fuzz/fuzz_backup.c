/* libFuzzer harness for backup import (fs-cow/backup.c): archive bytes are
 * read as a vsd backup (manifest and config) and, when they pass, their
 * layer/ and template/ sections are extracted into a private directory
 * with small caps. Besides the sanitizers it checks the promise of the
 * import: nothing appears beside the destination directory. Built and run
 * by `make fuzz` with the seed corpus in tests/fuzz/corpus/backup. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-cow/vs_fs.h"
#include "lib/vs_io.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[] = "/tmp/vsd-fuzz-backup-XXXXXX";
static char archive[sizeof(root) + 16];

static void cleanup(void)
{
	struct vs_error err;

	vs_fs_remove_tree(AT_FDCWD, root, &err);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (mkdtemp(root) == NULL)
		abort();
	snprintf(archive, sizeof(archive), "%s/in", root);
	atexit(cleanup);
	return 0;
}

/* Entries of root besides "in" and "out". */
static int strays(void)
{
	DIR *d = opendir(root);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		abort();
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, "in") && strcmp(de->d_name, "out"))
			n++;
	closedir(d);
	return n;
}

static void extract(int fd, const char *section)
{
	static const struct vs_fs_import_caps caps = {.max_bytes = 16 << 20, .max_files = 4096};
	struct vs_error err = {0};
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), out;

	if (rootfd < 0 || mkdirat(rootfd, "out", 0755) < 0)
		abort();
	out = openat(rootfd, "out", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (out < 0)
		abort();
	if (vs_fs_backup_extract(fd, section, out, 0, &caps, &err) < 0 && err.msg[0] == '\0')
		abort(); /* an error without a message */
	close(out);
	if (vs_fs_remove_tree(rootfd, "out", &err) < 0 || strays() != 0)
		abort(); /* something outside the destination */
	close(rootfd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vs_fs_backup_info info;
	struct vs_error err = {0};
	int fd = open(archive, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || vs_write_all(fd, data, size) < 0)
		abort();
	if (vs_fs_backup_read_info(fd, &info, &err) == 0) {
		vs_fs_backup_info_free(&info);
		extract(fd, "layer");
		extract(fd, "template");
	} else if (err.msg[0] == '\0') {
		abort();
	}
	close(fd);
	return 0;
}
