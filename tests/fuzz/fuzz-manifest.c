/*
 * fuzz-manifest.c - MANIFEST text (gb_manifest_read); what it accepts must
 * come back the same through gb_manifest_write and a second read.
 */
#include <sys/mman.h>

#include "fuzz.h"

static int
same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static void
compare(const struct gb_manifest *a, const struct gb_manifest *b)
{
	if (!same(a->site, b->site) || !same(a->job, b->job) ||
	    !same(a->level, b->level) || !same(a->id, b->id) ||
	    !same(a->base, b->base) || !same(a->source_kind, b->source_kind) ||
	    !same(a->source_name, b->source_name) ||
	    !same(a->snapshot, b->snapshot) ||
	    !same(a->creator ? a->creator : "gymbackup " GB_VERSION,
	    b->creator) || a->schema_bytes != b->schema_bytes ||
	    strcmp(a->schema_sha256, b->schema_sha256) ||
	    a->ntables != b->ntables)
		abort();
	for (size_t i = 0; i < a->ntables; i++) {
		const struct gb_mtable *s = &a->tables[i], *t = &b->tables[i];
		if (!same(s->name, t->name) || !same(s->file, t->file) ||
		    s->rows != t->rows || s->bytes != t->bytes ||
		    strcmp(s->sha256, t->sha256) ||
		    !same(s->key && *s->key ? s->key : NULL,
		    t->key && *t->key ? t->key : NULL) ||
		    !same(s->wm_column, t->wm_column) ||
		    !same(s->wm_type, t->wm_type) ||
		    !same(s->wm_from, t->wm_from) || !same(s->wm_to, t->wm_to) ||
		    s->nmoney != t->nmoney)
			abort();
		for (size_t k = 0; k < s->nmoney; k++)
			if (!same(s->money[k].column, t->money[k].column) ||
			    s->money[k].sum != t->money[k].sum)
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gb_manifest m, m2;
	struct gb_out o;
	char err[256];
	FILE *fp;
	int fd;

	if (size == 0 || !(fp = fmemopen((void *)data, size, "r")))
		return 0;
	if (gb_manifest_read(&m, fp, err, sizeof err) == -1) {
		if (!memchr(err, '\0', sizeof err))
			abort();
		fclose(fp);
		return 0;
	}
	fclose(fp);
	if ((fd = memfd_create("manifest", MFD_CLOEXEC)) == -1)
		abort();
	gb_out_init(&o, fd, 0);
	if (gb_manifest_write(&m, &o) == -1 || gb_out_finish(&o, NULL) == -1 ||
	    !(fp = fdopen(fd, "r")) || fseek(fp, 0, SEEK_SET) == -1)
		abort();
	if (gb_manifest_read(&m2, fp, err, sizeof err) == -1) {
		fprintf(stderr, "fuzz-manifest: written, then refused: %s\n", err);
		abort();
	}
	compare(&m, &m2);
	gb_manifest_free(&m2);
	gb_manifest_free(&m);
	fclose(fp);
	return 0;
}
