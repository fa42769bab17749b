/*
 * media.c - what the tools share about media: the label, written and read,
 * and finding an archive and its seal on a directory, a tape device or a
 * tape image.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gb.h"
#include "gb-db.h"
#include "gb-media.h"
#include "gb-pgp.h"

/*
 * The value of key in a label's KEY<TAB>VALUE lines (malloc'd), or NULL.
 * They end at the first empty line: what follows is for people (a
 * tape's label tells how to read the tape without this software).
 */
char *
gb_label_value(const char *text, size_t len, const char *key)
{
	const char *p = text, *end = text + len;
	size_t k = strlen(key);

	while (p < end && *p != '\n') {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		if ((size_t)(eol - p) > k && strncmp(p, key, k) == 0 &&
		    p[k] == '\t')
			return gb_strndup(p + k + 1, (size_t)(eol - p) - k - 1);
		p = nl ? nl + 1 : end;
	}
	return NULL;
}

int
gb_label_parse(const char *text, size_t len, char **id, char **pool)
{
	char *v = gb_label_value(text, len, "gymbackup-label");
	int ok = v && strcmp(v, "1") == 0;

	free(v);
	*id = ok ? gb_label_value(text, len, "medium") : NULL;
	*pool = ok ? gb_label_value(text, len, "pool") : NULL;
	if (!ok || !*id || !*pool) {
		free(*id);
		free(*pool);
		*id = *pool = NULL;
		return -1;
	}
	return 0;
}

int
gb_label_read(int fd, char **id, char **pool)
{
	char buf[4096];
	ssize_t n = gb_read_full(fd, buf, sizeof buf);

	*id = *pool = NULL;
	return n > 0 ? gb_label_parse(buf, strnlen(buf, (size_t)n), id, pool) :
	    -1;
}

int
gb_label_read_tape(struct gb_tape *t, unsigned char *buf, char **id,
    char **pool)
{
	ssize_t n = gb_tape_read(t, buf, GB_MAX_BLOCK);

	*id = *pool = NULL;
	return n > 0 ? gb_label_parse((char *)buf, strnlen((char *)buf,
	    (size_t)n), id, pool) : -1;
}

int
gb_media_label_text(const char *media, char **text, size_t *len)
{
	unsigned char *buf;
	struct gb_tape t;
	ssize_t n;
	int fd;

	*text = NULL;
	*len = 0;
	if (!gb_media_is_tape(media)) {
		char *path = gb_asprintf("%s/" GB_LABEL_FILE, media);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		free(path);
		if (fd < 0)
			return -1;
		*text = gb_malloc(65536);
		n = gb_read_full(fd, *text, 65535);
		close(fd);
		if (n <= 0) {
			free(*text);
			*text = NULL;
			return -1;
		}
		(*text)[n] = '\0';
		*len = strlen(*text);
		return 0;
	}
	if (gb_tape_open(&t, media, 0, 0) == -1)
		return -1;
	/* all of tape file 0: a small fixed block size spreads the label */
	buf = gb_malloc(GB_MAX_BLOCK);
	while ((n = gb_tape_read(&t, buf, GB_MAX_BLOCK)) > 0 && *len < 65536) {
		size_t use = strnlen((char *)buf, (size_t)n);
		*text = gb_realloc(*text, *len + use + 1);
		memcpy(*text + *len, buf, use);
		*len += use;
		(*text)[*len] = '\0';
		if (use < (size_t)n)
			break;		/* the padding: the label ends */
	}
	free(buf);
	gb_tape_close(&t);
	return *text ? 0 : -1;
}

int
gb_media_label(const char *media, char **id, char **pool)
{
	char *text;
	size_t len;
	int r;

	*id = *pool = NULL;
	if (gb_media_label_text(media, &text, &len) == -1)
		return -1;
	r = gb_label_parse(text, len, id, pool);
	free(text);
	return r;
}

/* What a person needs to read a tape without this software. */
static char *
tape_howto(size_t blocksize)
{
	char bs[32];

	if (blocksize)
		snprintf(bs, sizeof bs, "%zu", blocksize);
	else
		snprintf(bs, sizeof bs, "256k");
	return gb_asprintf(
	    "This tape was written by gymbackup (gb-write(1)).  Tape file 0 is\n"
	    "this label.  Then each archive takes two tape files: first\n"
	    "NAME.tar.gz.gpg, an OpenPGP message (gpg --decrypt gives a gzip'd\n"
	    "tar: MANIFEST, SCHEMA.sql and one CSV per table), in records of\n"
	    "%s bytes%s; then NAME.seal, its clear-signed seal (gpg --verify\n"
	    "NAME.seal; its size and sha256 lines are those of the archive).\n"
	    "Every tape file ends with a tape mark.  To read tape file N of\n"
	    "a drive:\n"
	    "  mt -f /dev/nst0 rewind; mt -f /dev/nst0 fsf N\n"
	    "  dd if=/dev/nst0 bs=%s of=FILE\n"
	    "then cut the archive to the size its seal states (head -c SIZE).\n"
	    "A tape image (tape:FILE.tap) is in the SIMH format: each record\n"
	    "is its 32-bit little-endian length, the data padded to an even\n"
	    "size, and the length again; a zero length is a tape mark.\n"
	    "gb-catalog import --list lists the archives on this tape, and\n"
	    "gb-catalog import rebuilds the catalog from the media.\n",
	    blocksize ? bs : "up to 256k", blocksize ? ", the last one padded "
	    "with zeros" : "", blocksize ? bs : "16M");
}

int
gb_label_write(const char *media, struct gb_tape *t, size_t blocksize,
    const char *id, const char *pool)
{
	char now[21], *text, *path;
	unsigned char *rec;
	size_t n, len;
	int r, e;

	gb_now(now);
	if (t) {
		char *howto = tape_howto(blocksize);
		text = gb_asprintf("gymbackup-label\t1\nmedium\t%s\npool\t%s\n"
		    "kind\ttape\nlabelled\t%s\nblocksize\t%zu\n\n%s", id, pool,
		    now, blocksize, howto);
		free(howto);
	} else
		text = gb_asprintf("gymbackup-label\t1\nmedium\t%s\npool\t%s\n"
		    "kind\tdir\nlabelled\t%s\n", id, pool, now);
	n = strlen(text);
	if (!t) {
		struct gb_atomic a;
		path = gb_asprintf("%s/" GB_LABEL_FILE, media);
		r = gb_atomic_open(&a, path, 0644);
		if (r == 0 && (gb_write_all(a.fd, text, n) == -1 ||
		    gb_atomic_commit(&a) == -1)) {
			gb_atomic_abort(&a);
			r = -1;
		}
		free(path);
		free(text);
		return r;
	}
	/*
	 * One record, the label and zeros to the block size; a fixed block
	 * smaller than the label takes as many as it needs (the key lines
	 * fit in the first).
	 */
	len = blocksize ? blocksize : n;
	rec = gb_calloc(1, (n + len - 1) / len * len);
	memcpy(rec, text, n);
	r = gb_tape_rewind(t) == -1 ? -1 : 0;
	for (size_t off = 0; r == 0 && off < n; off += len)
		r = gb_tape_write(t, rec + off, len);
	if (r == 0 && gb_tape_mark(t, 1) == -1)
		r = -1;
	e = errno;
	free(rec);
	free(text);
	errno = e;
	return r;
}

int
gb_media_is_tape(const char *media)
{
	struct stat sb;

	return strncmp(media, "tape:", 5) == 0 ||
	    (stat(media, &sb) == 0 && S_ISCHR(sb.st_mode));
}

/* Closes fd on every path: r, what was done with it, or close's failure. */
static int
close_after(int fd, int r)
{
	int e = errno;

	if (r == -1) {
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

/* A tape file's records into fd, at most limit bytes (the rest is pad). */
static int
copy_tape_file(struct gb_tape *t, unsigned char *buf, int fd, uint64_t limit)
{
	uint64_t got = 0;
	ssize_t r;

	while ((r = gb_tape_read(t, buf, GB_MAX_BLOCK)) > 0) {
		size_t use = (uint64_t)r > limit - got ? (size_t)(limit - got) :
		    (size_t)r;
		if (use && gb_write_all(fd, buf, use) == -1)
			return -1;
		got += use;
	}
	return r < 0 ? -1 : 0;
}

void
gb_tfile_free(struct gb_tfile *f)
{
	free(f->text);
	free(f->name);
	free(f->ck);
	memset(f, 0, sizeof *f);
	f->bad = -1;
}

int
gb_tfile_read(struct gb_tape *t, unsigned char *buf, struct gb_tfile *f)
{
	size_t begin = strlen(GB_SEAL_BEGIN);
	ssize_t r;

	memset(f, 0, sizeof *f);
	f->bad = -1;
	for (;;) {
		/* an archive's data is not needed, only its length */
		r = gb_tape_read(t, f->kind == GB_TF_ARCHIVE && t->image ? NULL :
		    buf, GB_MAX_BLOCK);
		if (r == 0) {
			f->marked = 1;
			break;
		}
		if (r < 0) {
			/* past the data a drive says EIO or ENOSPC */
			if (errno == ENODATA || !t->image)
				break;
			/* a damaged record stepped over, or the end of it all */
			if (errno != EIO || t->bad < 0 || t->bad == f->bad) {
				f->lost = 1;
				if (f->bad < 0)
					f->bad = t->bad;
				break;
			}
			f->bad = t->bad;
			continue;
		}
		if (f->records++ == 0)
			f->kind = (size_t)r >= begin && memcmp(buf, GB_SEAL_BEGIN,
			    begin) == 0 ? GB_TF_SEAL : buf[0] & 0x80 ?
			    GB_TF_ARCHIVE : GB_TF_OTHER;
		if (f->kind == GB_TF_SEAL) {
			if (f->len + (size_t)r > GB_SEAL_MAX) {
				f->kind = GB_TF_OTHER;	/* too large for a seal */
				free(f->text);
				f->text = NULL;
			} else {
				f->text = gb_realloc(f->text, f->len + (size_t)r + 1);
				memcpy(f->text + f->len, buf, (size_t)r);
				f->len += (size_t)r;
				f->text[f->len] = '\0';
			}
		}
		f->bytes += (uint64_t)r;
		f->last = (size_t)r;
	}
	if (f->kind == GB_TF_SEAL) {
		size_t all = f->len;
		const char *ck;
		f->len = strlen(f->text);	/* the padding goes */
		/* unverified: only to find things */
		gb_seal_peek(f->text, &f->name, &f->size);
		/* after the seal's NUL, past any padding: the checkpoint */
		for (ck = f->text + f->len; ck < f->text + all && !*ck; ck++)
			;
		if (ck < f->text + all)
			f->ck = gb_strdup(ck);
	}
	return f->records || f->marked || f->bad >= 0 ? 0 : -1;
}

int
gb_tfile_pair(const struct gb_tfile *a, const struct gb_tfile *s)
{
	return a->kind == GB_TF_ARCHIVE && a->marked && a->bad < 0 &&
	    s->kind == GB_TF_SEAL && s->marked && s->bad < 0 && s->name &&
	    s->size > 0 && a->bytes >= s->size && a->bytes - s->size < a->last;
}

/* Says why the scan of a tape stopped at a damaged record. */
static void
damaged(const char *media, int fileno, const struct gb_tfile *f, char *err,
    size_t errlen)
{
	snprintf(err, errlen, "%s: damaged record at byte %lld (tape file %d)%s",
	    media, (long long)f->bad, fileno, f->lost ? "; nothing after it can "
	    "be read" : "");
}

int
gb_media_fetch(const char *media, const char *name, int fileno,
    const char *tmpdir, char **archive, char **seal, char *err, size_t errlen)
{
	struct gb_tape t;
	struct gb_tfile a = { .bad = -1 }, s = { .bad = -1 };
	unsigned char *buf;
	int fd, r = -1, found = -1, badfile = 0;
	off_t firstbad = -1;

	*archive = *seal = NULL;
	if (!gb_media_is_tape(media)) {
		size_t n = strlen(name);
		int ha, hs, e;
		if (n <= 11 || strcmp(name + n - 11, ".tar.gz.gpg") != 0 ||
		    strchr(name, '/')) {
			snprintf(err, errlen, "%s: not an archive name "
			    "(NAME.tar.gz.gpg)", name);
			return -1;
		}
		*archive = gb_asprintf("%s/%s", media, name);
		*seal = gb_asprintf("%s/%.*s.seal", media, (int)(n - 11), name);
		/* a chain spans media: claim only what this one holds */
		ha = access(*archive, F_OK) == 0;
		e = ha ? 0 : errno;
		hs = access(*seal, F_OK) == 0;
		e = e ? e : hs ? 0 : errno;
		if (ha && hs)
			return 0;
		if (e != ENOENT)
			snprintf(err, errlen, "cannot read %s: %s", ha ? *seal :
			    *archive, strerror(e));
		else
			snprintf(err, errlen, "%s is not on %s%s", name, media,
			    ha ? " (its seal is not there)" : hs ? " (only its "
			    "seal is there)" : "");
		free(*archive);
		free(*seal);
		*archive = *seal = NULL;
		return -1;
	}
	if (gb_tape_open(&t, media, 0, 0) == -1) {
		snprintf(err, errlen, "cannot open the tape %s: %s", media,
		    strerror(errno));
		return -1;
	}
	buf = gb_malloc(GB_MAX_BLOCK);
	/* the catalog's hint first: the archive, then its seal */
	if (fileno > 0 && gb_tape_seek_file(&t, fileno) == 0 &&
	    gb_tfile_read(&t, buf, &a) == 0 && gb_tfile_read(&t, buf, &s) == 0 &&
	    gb_tfile_pair(&a, &s) && strcmp(s.name, name) == 0)
		found = fileno;
	/*
	 * Else every tape file in turn, each known by its content: a seal
	 * pairs with the archive file just before it when that holds the
	 * size the seal states.  An archive without its seal (a write that
	 * did not finish) is skipped, and shifts nothing.
	 */
	snprintf(err, errlen, "%s is not on %s", name, media);
	if (found < 0) {
		gb_tfile_free(&a);
		gb_tfile_free(&s);
		if (gb_tape_seek_file(&t, 1) == -1) {
			if (errno == EIO && t.bad >= 0)
				snprintf(err, errlen, "%s is not on %s: damaged record "
				    "at byte %lld before tape file 1", name, media,
				    (long long)t.bad);
			goto out;
		}
	}
	for (int f = 1, end = 0; found < 0 && !end; f++) {
		gb_tfile_free(&a);
		a = s;
		/* s is read afresh: a owns what it held */
		end = gb_tfile_read(&t, buf, &s) == -1;
		if (a.kind == GB_TF_ARCHIVE && a.bad < 0 && !gb_tfile_pair(&a, &s))
			gb_warnx("warning: %s tape file %d: an archive without its "
			    "seal (a write that did not finish), skipped", media,
			    f - 1);
		if (s.bad >= 0 && firstbad < 0) {
			firstbad = s.bad;
			badfile = f;
		}
		if (s.bad >= 0) {
			gb_warnx("warning: %s: damaged record at byte %lld (tape "
			    "file %d)", media, (long long)s.bad, f);
			if (s.lost) {
				damaged(media, f, &s, err, errlen);
				snprintf(err + strlen(err), errlen - strlen(err),
				    "; %s not found before it", name);
				break;
			}
		}
		if (s.kind == GB_TF_SEAL && s.name && strcmp(s.name, name) == 0) {
			if (gb_tfile_pair(&a, &s))
				found = f - 1;
			else if (a.bad >= 0)
				damaged(media, f - 1, &a, err, errlen);
			else
				snprintf(err, errlen, "%s: the seal of %s at tape "
				    "file %d follows no archive of the size it states",
				    media, name, f);
		}
	}
	if (found < 0) {
		if (firstbad >= 0 && strstr(err, " is not on "))
			snprintf(err + strlen(err), errlen - strlen(err), " (damaged "
			    "record at byte %lld, tape file %d)", (long long)firstbad,
			    badfile);
		goto out;
	}
	*seal = gb_asprintf("%s/%.*s.seal", tmpdir, (int)(strlen(name) - 11),
	    name);
	*archive = gb_asprintf("%s/%s", tmpdir, name);
	gb_cleanup_add(*seal);
	gb_cleanup_add(*archive);
	if ((fd = open(*seal, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
	    close_after(fd, gb_write_all(fd, s.text, s.len)) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", *seal,
		    strerror(errno));
		goto out;
	}
	if ((fd = open(*archive, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0 || close_after(fd, gb_tape_seek_file(&t, found) == -1 ?
	    -1 : copy_tape_file(&t, buf, fd, s.size)) == -1) {
		if (errno == EIO && t.bad >= 0)
			snprintf(err, errlen, "cannot read %s from %s file %d: "
			    "damaged record at byte %lld", name, media, found,
			    (long long)t.bad);
		else
			snprintf(err, errlen, "cannot read %s from %s file %d: %s",
			    name, media, found, strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (r == -1 && *seal) {
		/* nothing of a failed fetch stays in tmpdir */
		unlink(*seal);
		unlink(*archive);
		gb_cleanup_forget(*seal);
		gb_cleanup_forget(*archive);
		free(*seal);
		free(*archive);
		*seal = *archive = NULL;
	}
	gb_tfile_free(&a);
	gb_tfile_free(&s);
	free(buf);
	gb_tape_close(&t);
	return r;
}

int
gb_tape_pairs_end(struct gb_tape *t, int from, unsigned char *buf,
    struct gb_tfile *after)
{
	struct gb_tfile a, s;
	int f = from;

	memset(after, 0, sizeof *after);
	after->bad = -1;
	if (gb_tape_seek_file(t, from) == -1)
		return -1;
	if (t->bad >= 0) {	/* stepped over on the way: damage before from */
		errno = EIO;
		return -1;
	}
	for (;;) {
		if (gb_tfile_read(t, buf, &a) == -1)
			return f;	/* the end of data */
		if (a.kind != GB_TF_ARCHIVE || !a.marked || a.bad >= 0 ||
		    gb_tfile_read(t, buf, &s) == -1) {
			*after = a;
			return f;
		}
		if (!gb_tfile_pair(&a, &s)) {
			gb_tfile_free(&s);
			*after = a;
			return f;
		}
		gb_tfile_free(&a);
		gb_tfile_free(&s);
		f += 2;
	}
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

/* NAME.tar.gz.gpg of NAME, NAME.seal or NAME.tar.gz.gpg (malloc'd). */
static char *
full_name(const char *name)
{
	size_t n = strlen(name);

	return n > 11 && strcmp(name + n - 11, ".tar.gz.gpg") == 0 ?
	    gb_strdup(name) : n > 5 && strcmp(name + n - 5, ".seal") == 0 ?
	    gb_asprintf("%.*s.tar.gz.gpg", (int)(n - 5), name) :
	    gb_asprintf("%s.tar.gz.gpg", name);
}

/*
 * Has the catalog a good copy of archive on medium id?  *fileno: where
 * on a tape it is.
 */
static int
catalog_copy(struct gb_catalog *c, const char *site, const char *archive,
    const char *id, int *fileno)
{
	struct gb_stmt *st;
	int found;

	*fileno = 0;
	if (!c)
		return 0;
	st = gb_catalog_prepare(c, "SELECT position FROM copies WHERE "
	    "site = ?3 AND archive = ?1 AND medium = ?2 AND status = 'good' "
	    "ORDER BY id DESC LIMIT 1");
	gb_bind_text(st, 1, archive);
	gb_bind_text(st, 2, id);
	gb_bind_text(st, 3, site);
	if ((found = gb_step(st) == GB_ROW))
		*fileno = atoi(gb_col(st, 0));
	gb_finalize(st);
	return found;
}

/* The path of archive full on one medium; NULL and why. */
static char *
medium_archive(struct gb_medium *m, const char *full, int fileno,
    char *err, size_t errlen)
{
	char *archive, *seal;

	if (gb_media_fetch(m->path, full, fileno, m->tmpdir, &archive, &seal,
	    err, errlen) == -1)
		return NULL;
	if (m->tmpdir) {
		m->files = gb_realloc(m->files, (m->nfiles + 2) * sizeof *m->files);
		m->files[m->nfiles++] = gb_strdup(archive);
		m->files[m->nfiles++] = seal;
		seal = NULL;
	}
	free(seal);
	return archive;
}

char *
gb_medium_find(struct gb_medium *m, size_t n, struct gb_catalog *c,
    const char *site, const char *name, const char **on, char *err,
    size_t errlen)
{
	const char **ids;
	char *path = NULL, *full = full_name(name), *where;
	size_t k, len;
	int fileno;

	*on = NULL;
	/*
	 * First the media the catalog has a copy on, then the others: a
	 * tape is not read to its end for an archive on a USB drive.
	 */
	for (int pass = 0; pass < 2 && !path; pass++)
		for (k = 0; k < n && !path; k++)
			if (catalog_copy(c, site, full, m[k].id, &fileno) == !pass &&
			    (path = medium_archive(&m[k], full, fileno, err,
			    errlen)))
				*on = m[k].id;
	if (!path && n > 1 && (len = strlen(err)) + 1 < errlen)
		snprintf(err + len, errlen - len, " (nor on the other media)");
	if (path || !c) {
		free(full);
		return path;
	}
	/* the medium to bring: its label and where the catalog has it */
	ids = gb_calloc(n, sizeof *ids);
	for (k = 0; k < n; k++)
		ids[k] = m[k].id;
	where = gb_catalog_where(c, site, full, ids, n);
	if (where && (len = strlen(err)) + 1 < errlen)
		snprintf(err + len, errlen - len, "; the catalog has it on %s",
		    where);
	free(where);
	free(full);
	free(ids);
	return NULL;
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
