/*
 * fuzz-tape.c - a tape image (tape:PATH.tap): its records read through
 * (gb_tape_read), its label and an archive found on it as gb-verify
 * --media and gb-restore --media find them (gb_media_label,
 * gb_media_fetch), and the end of data found and appended to as gb-write
 * does (gb_tape_eod), and the checkpoints after its seals
 * (gb_checkpoints_read).
 */
#include "fuzz.h"

/* The archive name the first seal on the image names, if any. */
static char *
seal_name(const uint8_t *data, size_t size)
{
	static const char key[] = "\narchive\t";
	const uint8_t *p = memmem(data, size, key, sizeof key - 1), *nl;

	if (!p)
		return gb_strdup("x.tar.gz.gpg");
	p += sizeof key - 1;
	if (!(nl = memchr(p, '\n', size - (size_t)(p - data))) || nl - p > 200)
		return gb_strdup("x.tar.gz.gpg");
	return gb_strndup((const char *)p, (size_t)(nl - p));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = fuzz_file("tape.tap", data, size);
	char *media = gb_asprintf("tape:%s", path), *name = seal_name(data, size);
	char *id, *pool, *archive, *seal, err[512];
	unsigned char *buf = gb_malloc(1 << 16);
	struct gb_tape t;
	ssize_t r;

	if (gb_tape_open(&t, media, 0, 0) == -1)
		abort();
	for (int i = 0; i < 1000 && (r = gb_tape_read(&t, buf, 1 << 16)) >= 0;
	    i++)
		fuzz_touch(buf, (size_t)r);
	if (gb_tape_seek_file(&t, 2) == 0 && gb_tape_read(&t, buf, 1 << 16) > 0)
		fuzz_touch(buf, 1);
	gb_tape_close(&t);

	if (gb_media_label(media, &id, &pool) == 0) {
		free(id);
		free(pool);
	}
	if (strlen(name) > 11 && !strchr(name, '/') &&
	    strcmp(name + strlen(name) - 11, ".tar.gz.gpg") == 0 &&
	    gb_media_fetch(media, name, 0, fuzz_tmpdir(), &archive, &seal, err,
	    sizeof err) == 0) {
		unlink(archive);
		unlink(seal);
		gb_cleanup_forget(archive);
		gb_cleanup_forget(seal);
		free(archive);
		free(seal);
	}

	/* gb-catalog audit --checkpoints: each after its seal */
	{
		struct gb_cptext *v = NULL;
		size_t n = 0;
		(void)gb_checkpoints_read(media, &v, &n, err, sizeof err);
		for (size_t i = 0; i < n; i++)
			fuzz_touch(v[i].text, v[i].len);
		gb_cptexts_free(v, n);
	}

	/* gb-write: to the end of data, then one more file */
	if (gb_tape_open(&t, media, 1, 0) == -1)
		abort();
	if (gb_tape_eod(&t) == 0 && (gb_tape_write(&t, "x", 1) == -1 ||
	    gb_tape_mark(&t, 0) == -1))
		abort();
	gb_tape_close(&t);
	free(buf);
	free(name);
	free(media);
	free(path);
	return 0;
}
