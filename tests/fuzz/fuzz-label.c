/* fuzz-label.c - a medium's label (gb_label_parse) */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *id, *pool;

	if (gb_label_parse((const char *)data, size, &id, &pool) == 0) {
		if (!id || !pool)
			abort();
		fuzz_touch(id, strlen(id));
		fuzz_touch(pool, strlen(pool));
		free(id);
		free(pool);
	} else if (id || pool)
		abort();
	return 0;
}
