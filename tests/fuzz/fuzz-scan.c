/*
 * fuzz-scan.c - a directory medium as gb-catalog import reads it
 * (gb_scan_media): its label, the seals found on it, and the index of
 * when each archive was written.  The input is, split at its first three
 * NUL bytes, GYMBACKUP.LABEL, GYMBACKUP.INDEX, the names of the seals (a
 * line each; those that are no plain file name are left out) and what
 * every seal holds.
 */
#include <dirent.h>
#include <sys/stat.h>

#include "fuzz.h"

#define PARTS 4

static void
put(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char *path = gb_asprintf("%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || gb_write_all(fd, p, n) == -1 || close(fd) == -1) {
		perror(path);
		abort();
	}
	free(path);
}

/* The medium emptied and removed, for the next input. */
static void
clear(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			char *path = gb_asprintf("%s/%s", dir, e->d_name);
			if (unlink(path) == -1)
				abort();
			free(path);
		}
	closedir(d);
	if (rmdir(dir) == -1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *media = gb_asprintf("%s/usb", fuzz_tmpdir()), err[512] = "";
	const uint8_t *part[PARTS], *p = data, *end = data + size, *nul;
	size_t len[PARTS], seals = 0, whole = 0, written = 0;
	struct gb_scan m;

	for (int i = 0; i < PARTS; i++) {
		nul = i < PARTS - 1 ? memchr(p, '\0', (size_t)(end - p)) : NULL;
		part[i] = p;
		len[i] = (size_t)((nul ? nul : end) - p);
		p = nul ? nul + 1 : end;
	}
	if (mkdir(media, 0700) == -1)
		abort();
	put(media, GB_LABEL_FILE, part[0], len[0]);
	put(media, GB_INDEX_FILE, part[1], len[1]);
	for (const uint8_t *q = part[2], *e = part[2] + len[2]; q < e;) {
		const uint8_t *nl = memchr(q, '\n', (size_t)(e - q));
		size_t n = (size_t)((nl ? nl : e) - q);
		char *name = gb_asprintf("%.*s.seal", (int)n, (const char *)q);
		if (n > 0 && n < 200 && !memchr(q, '/', n))
			put(media, name, part[3], len[3]);
		free(name);
		q = nl ? nl + 1 : e;
	}

	if (gb_scan_media(&m, media, "0123456789ABCDEF0123456789ABCDEF01234567",
	    1, err, sizeof err) == 0) {
		if (!m.id || !m.pool || !m.kind || !m.label)
			abort();
		fuzz_touch(m.id, strlen(m.id));
		fuzz_touch(m.pool, strlen(m.pool));
		fuzz_touch(m.label, m.labellen);
		if (m.labelled)
			fuzz_touch(m.labelled, strlen(m.labelled));
		for (size_t i = 0; i < m.n; i++) {
			const struct gb_found *f = &m.f[i];
			fuzz_touch(f->name, strlen(f->name));
			fuzz_touch(f->pos, strlen(f->pos));
			if (f->why)
				fuzz_touch(f->why, strlen(f->why));
			if (f->written) {
				fuzz_touch(f->written, strlen(f->written));
				written++;
			}
			whole += f->whole;
			seals++;
		}
		gb_scan_free(&m);
	} else
		fuzz_touch(err, strlen(err));
	if (getenv("FUZZ_VERBOSE"))
		printf("fuzz-scan: %s, %zu seals, %zu whole, %zu written at\n",
		    *err ? err : "labelled", seals, whole, written);
	clear(media);
	free(media);
	return 0;
}
