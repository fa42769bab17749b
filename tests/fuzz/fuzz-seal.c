/* fuzz-seal.c - the signed text of a seal (gb_seal_parse) */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gb_seal s;
	char err[256];

	if (gb_seal_parse(&s, (const char *)data, size, err, sizeof err) == 0) {
		fuzz_touch(s.archive, strlen(s.archive));
		fuzz_touch(s.manifest_text, s.manifest_len);
		for (char **r = s.recipients; *r; r++)
			fuzz_touch(*r, strlen(*r));
		if (strlen(s.sha256) != 64 || strlen(s.packed_sha256) != 64)
			abort();
		gb_seal_free(&s);
	}
	return 0;
}
