/*
 * replay.c - runs a fuzz target over the files named on the command line,
 * without libFuzzer: make check replays the committed seeds with it (and
 * under SANITIZE=1 with the sanitizers).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "gb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
main(int argc, char *argv[])
{
	gb_setprogname(argv[0]);
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		unsigned char *buf = NULL;
		size_t n = 0, cap = 0, r;

		if (!f)
			gb_err(GB_EXIT_RUN, "%s", argv[i]);
		do {
			if (n == cap)
				buf = gb_realloc(buf, cap = cap ? 2 * cap : 65536);
			n += r = fread(buf + n, 1, cap - n, f);
		} while (r > 0);
		if (ferror(f))
			gb_err(GB_EXIT_RUN, "%s", argv[i]);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
		free(buf);
	}
	return 0;
}
