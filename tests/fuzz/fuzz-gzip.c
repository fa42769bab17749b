/*
 * fuzz-gzip.c - gzip members (gb_gzr_open, gb_gzr_read) from memory, on
 * one thread and on three: both must give the same bytes and verdict.
 */
#include "fuzz.h"

static unsigned char *
inflate_all(const uint8_t *data, size_t size, int threads, size_t *len,
    int *failed)
{
	struct fuzz_mem m = { data, size, 0, threads > 1 ? 0 : size % 3 };
	struct gb_gzr *g = gb_gzr_open(fuzz_mem_read, &m, threads);
	size_t cap = 65536, step = 1 + size % 4096;
	unsigned char *out = gb_malloc(cap);
	ssize_t r;

	*len = 0;
	for (;;) {
		if (cap - *len < step)
			out = gb_realloc(out, cap *= 2);
		if ((r = gb_gzr_read(g, out + *len, step)) <= 0)
			break;
		*len += (size_t)r;
		if (*len > (256u << 20))
			abort();	/* no bound on memory */
	}
	*failed = r < 0;
	if (*failed != (gb_gzr_error(g) != NULL))
		abort();	/* an error and no message, or the reverse */
	gb_gzr_close(g);
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n1, n3;
	int f1, f3;
	unsigned char *o1 = inflate_all(data, size, 1, &n1, &f1);
	unsigned char *o3 = inflate_all(data, size, 3, &n3, &f3);

	if (f1 != f3 || (!f1 && (n1 != n3 || memcmp(o1, o3, n1) != 0)))
		abort();	/* threads change what is read */
	free(o1);
	free(o3);
	return 0;
}
