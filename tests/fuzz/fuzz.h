/*
 * fuzz.h - what the fuzz targets share.  Each tests/fuzz/fuzz-NAME.c is a
 * libFuzzer target (make fuzz); replay.c runs the same target over files
 * given as arguments (the committed seeds, in make check).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gb.h"
#include "gb-db.h"
#include "gb-media.h"
#include "gb-pgp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *fuzz_dir;

static inline void
fuzz_rmdir(void)
{
	char *cmd = gb_asprintf("rm -rf '%s'", fuzz_dir);

	if (system(cmd) != 0)
		fprintf(stderr, "fuzz: cannot remove %s\n", fuzz_dir);
	free(cmd);
}

/* A directory of this process's own, removed at exit. */
static inline const char *
fuzz_tmpdir(void)
{
	const char *tmp = getenv("TMPDIR");

	if (fuzz_dir)
		return fuzz_dir;
	fuzz_dir = gb_asprintf("%s/gb-fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(fuzz_dir)) {
		perror(fuzz_dir);
		abort();
	}
	atexit(fuzz_rmdir);
	return fuzz_dir;
}

/* The input as the file NAME there, for parsers that open a path. */
static inline char *
fuzz_file(const char *name, const uint8_t *data, size_t size)
{
	char *path = gb_asprintf("%s/%s", fuzz_tmpdir(), name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || gb_write_all(fd, data, size) == -1 || close(fd) == -1) {
		perror(path);
		abort();
	}
	return path;
}

/* Reads a buffer as a gb_read_fn, in pieces of varying size. */
struct fuzz_mem {
	const uint8_t *p;
	size_t n, off, step;
};

static inline ssize_t
fuzz_mem_read(void *arg, void *buf, size_t n)
{
	struct fuzz_mem *m = arg;

	if (m->step && n > m->step)
		n = m->step;
	if (n > m->n - m->off)
		n = m->n - m->off;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	if (m->step)
		m->step = m->step % 7 * 131 + 1;
	return (ssize_t)n;
}

/* Touches every byte, so that ASan sees a field that points wrong. */
static inline unsigned
fuzz_touch(const void *p, size_t n)
{
	volatile unsigned sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += ((const unsigned char *)p)[i];
	return sum;
}

/* A gb_record_fn that touches every field of a record. */
static inline int
fuzz_rec(void *arg, struct gb_csv_field *f, size_t n, char *err,
    size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		if (f[i].p)
			fuzz_touch(f[i].p, f[i].n);
	return 0;
}
