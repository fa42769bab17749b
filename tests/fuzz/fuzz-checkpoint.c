/*
 * fuzz-checkpoint.c - the signed text of a checkpoint
 * (gb_checkpoint_parse); what parses is written again (gb_checkpoint_format)
 * and must parse to the same.
 */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gb_checkpoint k, again;
	char err[256], *text;

	if (gb_checkpoint_parse(&k, (const char *)data, size, err,
	    sizeof err) == -1)
		return 0;
	fuzz_touch(k.site, strlen(k.site));
	if (k.medium)
		fuzz_touch(k.medium, strlen(k.medium));
	text = gb_checkpoint_format(&k);
	if (gb_checkpoint_parse(&again, text, strlen(text), err,
	    sizeof err) == -1 || again.entries != k.entries ||
	    strcmp(again.head, k.head) || strcmp(again.site, k.site) ||
	    strcmp(again.issued, k.issued) || strcmp(again.signer, k.signer) ||
	    !again.medium != !k.medium || (k.medium &&
	    strcmp(again.medium, k.medium)))
		abort();
	free(text);
	gb_checkpoint_free(&again);
	gb_checkpoint_free(&k);
	return 0;
}
