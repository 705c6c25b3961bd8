/* libFuzzer harness for template import (vs_fs_template_import): archive
 * bytes from the fuzzer are imported into a private temporary root.
 *
 * Not part of `make`. Build and run from the repository root:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
 *     tests/fuzz/fuzz_import.c fs-cow/[a-z]*.c lib/[a-z]*.c \
 *     $(pkg-config --cflags --libs libarchive yajl) -o build/fuzz_import
 *   mkdir -p build/fuzz-corpus && build/fuzz_import build/fuzz-corpus
 *
 * Seed the corpus with a few small tar/tar.gz files for faster coverage.
 * Besides the sanitizers, the harness checks the promise of the import:
 * after a failure nothing is left in R/templates, after a success exactly
 * the template, which then has to be removable. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "fs-cow/vs_fs.h"
#include "lib/vs_io.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[] = "/tmp/vsd-fuzz-import-XXXXXX";
static char archive[sizeof(root) + 16];
static char templates[sizeof(root) + 16];

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
	snprintf(templates, sizeof(templates), "%s/templates", root);
	atexit(cleanup);
	return 0;
}

/* Entries of R/templates, or 0 when it does not exist. */
static int count_templates(void)
{
	DIR *d = opendir(templates);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vs_error err = {0};
	int fd = open(archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || vs_write_all(fd, data, size) < 0)
		abort();
	close(fd);
	if (vs_fs_template_import(root, "fuzz", archive, NULL, NULL, &err) < 0) {
		if (err.msg[0] == '\0' || count_templates() != 0)
			abort(); /* an error without a message, or something left behind */
		return 0;
	}
	if (count_templates() != 1 || vs_fs_template_remove(root, "fuzz", &err) < 0 ||
	    count_templates() != 0)
		abort();
	return 0;
}
