/*
 * media.c - what the tools share about media: the label, and finding an
 * archive and its seal on a directory, a tape device or a tape image.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gb.h"

#define MAX_BLOCK (16 << 20)

int
gb_label_parse(const char *text, size_t len, char **id, char **pool)
{
	char *copy = gb_strndup(text, len), *line, *save;
	int ok = 0;

	*id = *pool = NULL;
	for (line = strtok_r(copy, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t');
		if (!tab)
			continue;
		*tab = '\0';
		if (strcmp(line, "gymbackup-label") == 0)
			ok = strcmp(tab + 1, "1") == 0;
		else if (strcmp(line, "medium") == 0 && !*id)
			*id = gb_strdup(tab + 1);
		else if (strcmp(line, "pool") == 0 && !*pool)
			*pool = gb_strdup(tab + 1);
	}
	free(copy);
	if (!ok || !*id || !*pool) {
		free(*id);
		free(*pool);
		*id = *pool = NULL;
		return -1;
	}
	return 0;
}

int
gb_media_label(const char *media, char **id, char **pool)
{
	unsigned char *buf;
	ssize_t n = -1;

	*id = *pool = NULL;
	if (!gb_media_is_tape(media)) {
		char *path = gb_asprintf("%s/" GB_LABEL_FILE, media);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		free(path);
		if (fd < 0)
			return -1;
		buf = gb_malloc(4096);
		n = gb_read_full(fd, buf, 4096);
		close(fd);
	} else {
		struct gb_tape t;
		if (gb_tape_open(&t, media, 0, 0) == -1)
			return -1;
		buf = gb_malloc(MAX_BLOCK);
		n = gb_tape_read(&t, buf, MAX_BLOCK);
		gb_tape_close(&t);
	}
	n = n > 0 ? gb_label_parse((char *)buf, strnlen((char *)buf, (size_t)n),
	    id, pool) : -1;
	free(buf);
	return (int)n;
}

int
gb_media_is_tape(const char *media)
{
	struct stat sb;

	return strncmp(media, "tape:", 5) == 0 ||
	    (stat(media, &sb) == 0 && S_ISCHR(sb.st_mode));
}

/* A tape file's records into fd, at most limit bytes (the rest is pad). */
static int
copy_tape_file(struct gb_tape *t, unsigned char *buf, int fd, uint64_t limit)
{
	uint64_t got = 0;
	ssize_t r;

	while ((r = gb_tape_read(t, buf, MAX_BLOCK)) > 0) {
		size_t use = (uint64_t)r > limit - got ? (size_t)(limit - got) :
		    (size_t)r;
		if (use && gb_write_all(fd, buf, use) == -1)
			return -1;
		got += use;
	}
	return r < 0 ? -1 : 0;
}

/* The seal text of a tape file: one block, zero padded. */
static char *
read_seal_file(struct gb_tape *t, unsigned char *buf, size_t *len)
{
	ssize_t r = gb_tape_read(t, buf, MAX_BLOCK);
	char *text;

	if (r <= 0)
		return NULL;
	*len = strnlen((char *)buf, (size_t)r);
	text = gb_strndup((char *)buf, *len);
	while ((r = gb_tape_read(t, buf, MAX_BLOCK)) > 0)
		;	/* to the tape mark */
	return text;
}

/* The archive name in a seal's text, unverified: only to find it. */
static int
seal_names(const char *text, const char *name)
{
	const char *p = strstr(text, "\narchive\t");
	size_t n = strlen(name);

	return p && strncmp(p + 9, name, n) == 0 && p[9 + n] == '\n';
}

int
gb_media_fetch(const char *media, const char *name, int fileno,
    const char *tmpdir, char **archive, char **seal, char *err, size_t errlen)
{
	struct gb_tape t;
	unsigned char *buf;
	char *text = NULL;
	size_t len = 0;
	int fd, r = -1;
	struct gb_seal s;

	*archive = *seal = NULL;
	if (!gb_media_is_tape(media)) {
		size_t n = strlen(name);
		if (n <= 11 || strcmp(name + n - 11, ".tar.gz.gpg") != 0 ||
		    strchr(name, '/')) {
			snprintf(err, errlen, "%s: not an archive name "
			    "(NAME.tar.gz.gpg)", name);
			return -1;
		}
		*archive = gb_asprintf("%s/%s", media, name);
		*seal = gb_asprintf("%s/%.*s.seal", media, (int)(n - 11), name);
		return 0;
	}
	if (gb_tape_open(&t, media, 0, 0) == -1) {
		snprintf(err, errlen, "cannot open the tape %s: %s", media,
		    strerror(errno));
		return -1;
	}
	buf = gb_malloc(MAX_BLOCK);
	/* the seal follows its archive: try the hint, else scan them all */
	if (fileno > 0 && gb_tape_seek_file(&t, fileno + 1) == 0 &&
	    (text = read_seal_file(&t, buf, &len)) && !seal_names(text, name)) {
		free(text);
		text = NULL;
	}
	for (int f = 2; !text; f += 2) {
		if (gb_tape_seek_file(&t, f) == -1 ||
		    !(text = read_seal_file(&t, buf, &len))) {
			snprintf(err, errlen, "%s is not on %s", name, media);
			goto out;
		}
		if (seal_names(text, name))
			fileno = f - 1;
		else {
			free(text);
			text = NULL;
		}
	}
	{
		const char *body = strstr(text, "gymbackup-seal\t");
		if (!body)
			body = text;
		if (gb_seal_parse(&s, body, len - (size_t)(body - text), err,
		    errlen) == -1)
			goto out;
	}
	*seal = gb_asprintf("%s/%.*s.seal", tmpdir, (int)(strlen(name) - 11),
	    name);
	*archive = gb_asprintf("%s/%s", tmpdir, name);
	gb_cleanup_add(*seal);
	gb_cleanup_add(*archive);
	if ((fd = open(*seal, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
	    gb_write_all(fd, text, len) == -1 || close(fd) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", *seal,
		    strerror(errno));
		goto out_seal;
	}
	if ((fd = open(*archive, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0 || gb_tape_seek_file(&t, fileno) == -1 ||
	    copy_tape_file(&t, buf, fd, s.size) == -1 || close(fd) == -1) {
		snprintf(err, errlen, "cannot read %s from %s file %d: %s", name,
		    media, fileno, strerror(errno));
		goto out_seal;
	}
	r = 0;
out_seal:
	gb_seal_free(&s);
out:
	free(text);
	free(buf);
	gb_tape_close(&t);
	return r;
}

int
gb_medium_open(struct gb_medium *m, const char *path, char *err,
    size_t errlen)
{
	memset(m, 0, sizeof *m);
	m->path = path;
	if (gb_media_label(path, &m->id, &m->pool) == -1) {
		snprintf(err, errlen, "%s: no gymbackup label (not a medium, or "
		    "cannot be read)", path);
		return -1;
	}
	if (gb_media_is_tape(path)) {
		m->tmpdir = gb_tmp_template("%s/gb-media", gb_tmpdir());
		if (gb_mktemp(m->tmpdir, 1) == -1) {
			snprintf(err, errlen, "cannot create %s: %s", m->tmpdir,
			    strerror(errno));
			free(m->tmpdir);
			m->tmpdir = NULL;
			return -1;
		}
	}
	return 0;
}

char *
gb_medium_archive(struct gb_medium *m, struct gb_catalog *c,
    const char *name, char *err, size_t errlen)
{
	char *full, *archive, *seal;
	size_t n = strlen(name);
	int fileno = 0;

	full = n > 11 && strcmp(name + n - 11, ".tar.gz.gpg") == 0 ?
	    gb_strdup(name) : n > 5 && strcmp(name + n - 5, ".seal") == 0 ?
	    gb_asprintf("%.*s.tar.gz.gpg", (int)(n - 5), name) :
	    gb_asprintf("%s.tar.gz.gpg", name);
	if (c) {	/* the catalog knows where on the tape it is */
		sqlite3_stmt *st = gb_catalog_prepare(c, "SELECT position FROM "
		    "copies WHERE archive = ?1 AND medium = ?2 AND status = "
		    "'good' ORDER BY id DESC LIMIT 1");
		sqlite3_bind_text(st, 1, full, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, m->id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			fileno = atoi(gb_col(st, 0));
		sqlite3_finalize(st);
	}
	if (gb_media_fetch(m->path, full, fileno, m->tmpdir, &archive, &seal,
	    err, errlen) == -1)
		archive = NULL;
	else if (m->tmpdir) {
		m->files = gb_realloc(m->files, (m->nfiles + 2) * sizeof *m->files);
		m->files[m->nfiles++] = gb_strdup(archive);
		m->files[m->nfiles++] = seal;
		seal = NULL;
	}
	free(seal);
	free(full);
	return archive;
}

void
gb_medium_close(struct gb_medium *m)
{
	for (size_t i = 0; i < m->nfiles; i++) {
		unlink(m->files[i]);
		gb_cleanup_forget(m->files[i]);
		free(m->files[i]);
	}
	free(m->files);
	if (m->tmpdir) {
		rmdir(m->tmpdir);
		gb_cleanup_forget(m->tmpdir);
	}
	free(m->tmpdir);
	free(m->id);
	free(m->pool);
	memset(m, 0, sizeof *m);
}
