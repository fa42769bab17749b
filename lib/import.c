/*
 * import.c - a medium read on its own, as after a fire that took the
 * catalog (Bacula's bscan): its label, and each archive with its seal
 * verified against the pinned signer; then the medium, its archives,
 * copies and chains recorded in a catalog, empty or not (gb-catalog
 * import).  Nothing the catalog holds is overwritten: what differs is
 * reported.
 */
#include <dirent.h>
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

void
gb_scan_free(struct gb_scan *m)
{
	for (size_t i = 0; i < m->n; i++) {
		gb_seal_free(&m->f[i].s);
		free(m->f[i].name);
		free(m->f[i].pos);
		free(m->f[i].why);
		free(m->f[i].written);
	}
	free(m->f);
	free(m->id);
	free(m->pool);
	free(m->kind);
	free(m->labelled);
	free(m->label);
	memset(m, 0, sizeof *m);
}

static struct gb_found *
add_found(struct gb_scan *m)
{
	struct gb_found *f;

	m->f = gb_realloc(m->f, (m->n + 1) * sizeof *m->f);
	f = &m->f[m->n++];
	memset(f, 0, sizeof *f);
	return f;
}

/* The seal's text verified: f->s, or f->why. */
static void
verify_seal(struct gb_found *f, const char *text, size_t len,
    const char *signer)
{
	char err[1024];

	if (gb_seal_verify(&f->s, text, len, signer, err, sizeof err) == -1)
		f->why = gb_asprintf("seal: %s", err);
	else if (strcmp(f->s.archive, f->name) != 0)
		f->why = gb_asprintf("seal: it is the seal of %s", f->s.archive);
	else
		f->sealok = 1;
}

static void
check_hash(struct gb_found *f, int ok, const char *hex)
{
	if (!ok) {
		f->hashed = -1;
		f->why = gb_asprintf("cannot read the archive: %s",
		    strerror(errno));
	} else if (strcmp(hex, f->s.sha256) != 0) {
		f->hashed = -1;
		f->why = gb_asprintf("its bytes differ from the seal's (sha256 "
		    "%s, the seal states %s)", hex, f->s.sha256);
	} else
		f->hashed = 1;
}

/* When gb-write wrote each archive, from the index it keeps beside them. */
static void
index_times(struct gb_scan *m, const char *media)
{
	char *path = gb_asprintf("%s/" GB_INDEX_FILE, media), *line = NULL;
	FILE *fp = fopen(path, "re");
	size_t cap = 0;

	free(path);
	if (!fp)
		return;
	while (getline(&line, &cap, fp) > 0) {
		char *field[8], *p = line, *save;
		int n = 0;
		if (*line == '#')
			continue;
		line[strcspn(line, "\n")] = '\0';
		for (; n < 8 && (field[n] = strtok_r(p, "\t", &save)); n++)
			p = NULL;
		if (n != 7)
			continue;
		for (size_t i = 0; i < m->n; i++)
			if (!m->f[i].written && strcmp(m->f[i].name, field[0]) == 0)
				m->f[i].written = gb_strdup(field[6]);
	}
	free(line);
	fclose(fp);
}

static int
is_seal(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && strcmp(d->d_name + n - 5, ".seal") == 0;
}

static int
scan_dir(struct gb_scan *m, const char *media, const char *signer,
    int verify, char *err, size_t errlen)
{
	struct dirent **ents;
	int n = scandir(media, &ents, is_seal, alphasort);

	if (n < 0) {
		snprintf(err, errlen, "cannot read %s: %s", media,
		    strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const char *sname = ents[i]->d_name;
		struct gb_found *f = add_found(m);
		char *spath = gb_asprintf("%s/%s", media, sname), *apath, *text;
		struct stat sb;
		ssize_t len;
		int fd;

		f->name = gb_asprintf("%.*s.tar.gz.gpg", (int)(strlen(sname) - 5),
		    sname);
		f->pos = gb_strdup(f->name);
		text = gb_malloc(GB_SEAL_MAX + 1);
		if ((fd = open(spath, O_RDONLY | O_CLOEXEC)) < 0 ||
		    (len = gb_read_full(fd, text, GB_SEAL_MAX + 1)) < 0) {
			f->why = gb_asprintf("cannot read %s: %s", spath,
			    strerror(errno));
			len = -1;
		}
		if (fd >= 0)
			close(fd);
		if (len >= 0)
			verify_seal(f, text, (size_t)len, signer);
		free(text);
		free(spath);
		free(ents[i]);
		if (!f->sealok)
			continue;
		apath = gb_asprintf("%s/%s", media, f->name);
		if (stat(apath, &sb) == -1)
			f->why = gb_asprintf("no archive beside its seal: %s",
			    strerror(errno));
		else if ((uint64_t)sb.st_size != f->s.size)
			f->why = gb_asprintf("the archive has %lld bytes, the seal "
			    "states %llu", (long long)sb.st_size,
			    (unsigned long long)f->s.size);
		else
			f->whole = 1;
		if (f->whole && verify) {
			struct gb_sha256 h;
			unsigned char *buf = gb_malloc(1 << 20);
			char hex[65];
			ssize_t r = -1;
			gb_sha256_init(&h);
			if ((fd = open(apath, O_RDONLY | O_CLOEXEC)) >= 0) {
				while ((r = gb_read_full(fd, buf, 1 << 20)) > 0)
					gb_sha256_update(&h, buf, (size_t)r);
				close(fd);
			}
			gb_sha256_final(&h, hex);
			check_hash(f, r == 0, hex);
			free(buf);
		}
		free(apath);
	}
	free(ents);
	index_times(m, media);
	return 0;
}

/* SHA-256 of the first size bytes of tape file fileno (the rest is pad). */
static int
hash_tape_file(struct gb_tape *t, int fileno, uint64_t size,
    unsigned char *buf, char hex[65])
{
	struct gb_sha256 h;
	uint64_t got = 0;
	ssize_t r;

	if (gb_tape_seek_file(t, fileno) == -1)
		return -1;
	gb_sha256_init(&h);
	while ((r = gb_tape_read(t, buf, GB_MAX_BLOCK)) > 0) {
		size_t use = (uint64_t)r > size - got ? (size_t)(size - got) :
		    (size_t)r;
		gb_sha256_update(&h, buf, use);
		got += use;
	}
	gb_sha256_final(&h, hex);
	if (r == 0 && got != size)
		errno = EIO;
	return r < 0 || got != size ? -1 : 0;
}

/*
 * Every tape file in turn, each known by its content (as gb_media_fetch
 * finds one): a seal, and the archive in the file before it.
 */
static int
scan_tape(struct gb_scan *m, const char *media, const char *signer,
    int verify, char *err, size_t errlen)
{
	struct gb_tfile a = { .bad = -1 }, s = { .bad = -1 };
	struct gb_tape t;
	unsigned char *buf;
	int f;

	if (gb_tape_open(&t, media, 0, 0) == -1) {
		snprintf(err, errlen, "cannot open the tape %s: %s", media,
		    strerror(errno));
		return -1;
	}
	buf = gb_malloc(GB_MAX_BLOCK);
	m->next_file = 1;
	if (gb_tape_seek_file(&t, 1) == -1)
		goto done;	/* a label and nothing more */
	for (f = 1;; f++) {
		gb_tfile_free(&a);
		a = s;
		if (gb_tfile_read(&t, buf, &s) == -1)
			break;
		if (s.bad >= 0) {
			gb_warnx("warning: %s: damaged record at byte %lld (tape "
			    "file %d)%s", media, (long long)s.bad, f, s.lost ?
			    "; nothing after it can be read" : "");
			if (s.lost)
				break;
		}
		if (s.kind != GB_TF_SEAL) {
			if (a.kind == GB_TF_ARCHIVE)
				gb_warnx("warning: %s tape file %d: an archive "
				    "without its seal (a write that did not "
				    "finish), skipped", media, f - 1);
			continue;
		}
		struct gb_found *x = add_found(m);
		x->name = gb_strdup(s.name ? s.name : "?");
		x->pos = gb_asprintf("%d", f - 1);
		m->next_file = f + 1;
		verify_seal(x, s.text, s.len, signer);
		if (!x->sealok)
			continue;
		if (gb_tfile_pair(&a, &s))
			x->whole = 1;
		else if (a.kind != GB_TF_ARCHIVE)
			x->why = gb_asprintf("no archive in the tape file before "
			    "its seal (tape file %d)", f);
		else if (a.bad >= 0)
			x->why = gb_asprintf("damaged record at byte %lld",
			    (long long)a.bad);
		else
			x->why = gb_asprintf("the archive has %llu bytes, the seal "
			    "states %llu", (unsigned long long)a.bytes,
			    (unsigned long long)x->s.size);
	}
	if (a.kind == GB_TF_ARCHIVE && s.kind == GB_TF_NONE)
		gb_warnx("warning: %s tape file %d: an archive without its seal "
		    "(a write that did not finish), skipped", media, f - 1);
	for (size_t i = 0; verify && i < m->n; i++) {
		struct gb_found *x = &m->f[i];
		char hex[65];
		if (x->whole)
			check_hash(x, hash_tape_file(&t, atoi(x->pos), x->s.size,
			    buf, hex) == 0, hex);
	}
done:
	gb_tfile_free(&a);
	gb_tfile_free(&s);
	free(buf);
	gb_tape_close(&t);
	return 0;
}

int
gb_scan_media(struct gb_scan *m, const char *media, const char *signer,
    int verify, char *err, size_t errlen)
{
	memset(m, 0, sizeof *m);
	if (gb_media_label_text(media, &m->label, &m->labellen) == -1 ||
	    gb_label_parse(m->label, m->labellen, &m->id, &m->pool) == -1) {
		snprintf(err, errlen, "%s: no gymbackup label (not a medium, or "
		    "cannot be read)", media);
		gb_scan_free(m);
		return -1;
	}
	m->kind = gb_strdup(gb_media_is_tape(media) ? "tape" : "dir");
	m->verified = verify;
	m->labelled = gb_label_value(m->label, m->labellen, "labelled");
	if ((gb_media_is_tape(media) ? scan_tape : scan_dir)(m, media, signer,
	    verify, err, errlen) == -1) {
		gb_scan_free(m);
		return -1;
	}
	return 0;
}

/*
 * Incrementals first seen before their base: chain from the base's, of
 * the site's own.
 */
static int
complete_chains(struct gb_catalog *c)
{
	struct gb_stmt *st = gb_catalog_prepare(c, "UPDATE archives SET chain "
	    "= (SELECT b.chain FROM archives b WHERE b.site = archives.site AND "
	    "b.export_id = archives.base_id) WHERE site = ?1 AND base_id IS NOT "
	    "NULL AND EXISTS (SELECT 1 FROM archives b WHERE b.site = "
	    "archives.site AND b.export_id = archives.base_id AND b.chain <> "
	    "archives.chain)");
	long long n = 0, k;

	gb_bind_text(st, 1, c->site);
	do {
		gb_reset(st);
		gb_step(st);
		n += k = gb_changes(st);
	} while (k > 0 && n < 1000000);
	gb_finalize(st);
	return (int)n;
}

/*
 * The catalog's archive of that name or export id, when it is not this
 * one: a conflict, said in why.
 */
static int
archive_conflict(struct gb_catalog *c, const struct gb_seal *s, char *why,
    size_t whylen)
{
	struct gb_stmt *st = gb_catalog_prepare(c, "SELECT name, export_id, "
	    "sha256 FROM archives WHERE site = ?3 AND (name = ?1 OR export_id = "
	    "?2)");
	int bad = 0;

	gb_bind_text(st, 1, s->archive);
	gb_bind_text(st, 2, s->manifest.id);
	gb_bind_text(st, 3, c->site);
	while (!bad && gb_step(st) == GB_ROW) {
		if (strcmp(gb_col(st, 0), s->archive) != 0)
			snprintf(why, whylen, "its export %s is archive %s in the "
			    "catalog", s->manifest.id, gb_col(st, 0));
		else if (strcmp(gb_col(st, 1), s->manifest.id) != 0 ||
		    strcmp(gb_col(st, 2), s->sha256) != 0)
			snprintf(why, whylen, "the catalog's archive of that name "
			    "is another (export %s, sha256 %s; the seal states "
			    "export %s, sha256 %s)", gb_col(st, 1), gb_col(st, 2),
			    s->manifest.id, s->sha256);
		else
			continue;
		bad = 1;
	}
	gb_finalize(st);
	return bad;
}

/* 1 a copy recorded, 0 known already, -1 a conflict (said). */
static int
record_copy(struct gb_catalog *c, const struct gb_scan *m,
    const struct gb_found *f, const char *media, const char *now)
{
	struct gb_stmt *st = gb_catalog_prepare(c, "SELECT position, status "
	    "FROM copies WHERE site = ?4 AND archive = ?1 AND medium = ?2 "
	    "ORDER BY position = ?3 DESC, status = 'good' DESC, id");
	int good = f->whole && f->hashed >= 0, r = 1;
	const char *at = f->written ? f->written : now;

	gb_bind_text(st, 1, f->name);
	gb_bind_text(st, 2, m->id);
	gb_bind_text(st, 3, f->pos);
	gb_bind_text(st, 4, c->site);
	if (gb_step(st) == GB_ROW) {
		if (strcmp(gb_col(st, 0), f->pos) == 0)
			r = 0;
		else if (strcmp(gb_col(st, 1), "good") == 0) {
			gb_catalog_warnx("%s: conflict: the catalog has %s "
			    "good on %s at %s %s, the medium at %s; left as the "
			    "catalog has it", media, f->name, m->id,
			    strcmp(m->kind, "tape") ? "file" : "tape file",
			    gb_col(st, 0), f->pos);
			r = -1;
		}
	}
	gb_finalize(st);
	if (r != 1)
		return r;
	gb_catalog_run(c, "INSERT INTO copies(site, archive, medium, position, "
	    "status, started_at, written_at, verified_at, error) VALUES(?8, "
	    "?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)", 8, f->name, m->id, f->pos, good ?
	    "good" : "failed", at, f->hashed > 0 ? now : NULL, good ? NULL :
	    f->why, c->site);
	if (f->hashed)
		gb_catalog_add_check(c, "verify", f->name, m->id, f->hashed > 0,
		    f->hashed > 0 ? "read by gb-catalog import --verify" : f->why,
		    now, 0);
	return 1;
}

static int
by_snapshot(const void *a, const void *b)
{
	const struct gb_found *x = a, *y = b;

	if (!x->sealok || !y->sealok)
		return x->sealok - y->sealok;
	return strcmp(x->s.manifest.snapshot, y->s.manifest.snapshot);
}

/* An import's counts, as its transaction (gb_catalog_txn) leaves them. */
struct imported {
	const struct gb_conf *conf;
	struct gb_scan *m;
	const char *media;
	int narch, ncopy, nbad, nknown, conflicts, same;
};

/* The import's transaction: it may run again, and counts afresh. */
static void
import_rows(struct gb_catalog *c, void *arg)
{
	struct imported *k = arg;
	const struct gb_conf *conf = k->conf;
	struct gb_scan *m = k->m;
	const char *media = k->media;
	int narch = 0, ncopy = 0, nbad = 0, nknown = 0, conflicts = 0;
	int exists, same = 1, nf;
	char now[21], why[1024], num[24], next[24];
	const char *last = NULL;
	uint64_t bytes = 0;
	struct gb_stmt *st;

	gb_now(now);
	st = gb_catalog_prepare(c, "SELECT kind, pool FROM media WHERE site = "
	    "?2 AND id = ?1");
	gb_bind_text(st, 1, m->id);
	gb_bind_text(st, 2, c->site);
	if ((exists = gb_step(st) == GB_ROW))
		same = strcmp(gb_col(st, 0), m->kind) == 0 &&
		    strcmp(gb_col(st, 1), m->pool) == 0;
	k->same = same;
	if (!same) {
		gb_catalog_warnx("%s: conflict: medium %s is a %s of pool %s in "
		    "the catalog, the label says a %s of pool %s; nothing of it "
		    "imported", media, m->id, gb_col(st, 0), gb_col(st, 1),
		    m->kind, m->pool);
		gb_finalize(st);
		return;	/* nothing was written */
	}
	gb_finalize(st);
	if (!exists) {
		gb_catalog_add_medium(c, conf, m->id, m->kind, m->pool, 0, media);
		gb_catalog_run(c, "UPDATE media SET labelled_at = ?2 WHERE site "
		    "= ?3 AND id = ?1", 3, m->id, m->labelled ? m->labelled : now,
		    c->site);
	}
	for (size_t i = 0; i < m->n; i++) {
		struct gb_found *f = &m->f[i];
		int r;
		if (archive_conflict(c, &f->s, why, sizeof why)) {
			gb_catalog_warnx("%s: conflict: %s: %s; left as the "
			    "catalog has it", media, f->name, why);
			conflicts++;
			continue;
		}
		narch += gb_catalog_record_archive(c, &f->s, f->s.signed_text,
		    f->s.manifest.job ? f->s.manifest.job : "manual");
		if ((r = record_copy(c, m, f, media, now)) == -1)
			conflicts++;
		else if (r == 0)
			nknown++;
		else if (f->whole && f->hashed >= 0) {
			ncopy++;
			bytes += f->s.size;
			if (f->written && (!last || strcmp(f->written, last) > 0))
				last = f->written;
		} else {
			nbad++;
			gb_catalog_warnx("%s: %s on %s: recorded failed: %s",
			    media, f->name, m->id, f->why);
		}
	}
	if (narch || ncopy || nbad || !exists) {
		/* never write over what is on it: past the last seal found */
		snprintf(num, sizeof num, "%llu", (unsigned long long)bytes);
		snprintf(next, sizeof next, "%d", m->next_file);
		/* a directory has no next file: 0, as gb-write records */
		gb_catalog_run(c, "UPDATE media SET bytes_used = bytes_used + ?2, "
		    "device = ?3, last_written = CASE WHEN coalesce(last_written, "
		    "'') > ?4 THEN last_written ELSE ?4 END, next_file = CASE WHEN "
		    "CAST(?5 AS INTEGER) IS NULL THEN 0 WHEN next_file > CAST(?5 AS "
		    "INTEGER) THEN next_file ELSE CAST(?5 AS INTEGER) END WHERE "
		    "site = ?6 AND id = ?1", 6, m->id, num,
		    media, last ? last : now, strcmp(m->kind, "tape") ? NULL :
		    next, c->site);
		nf = complete_chains(c);
		gb_catalog_audit(c, "import", m->id, "from %s: %d archives and %d "
		    "copies new (%d good, %s; %d failed), %d known, %d in "
		    "conflict, %d chains completed", media, narch, ncopy + nbad,
		    ncopy, m->verified ? "read through" : "sizes checked", nbad,
		    nknown, conflicts, nf);
	}
	*k = (struct imported){ conf, m, media, narch, ncopy, nbad, nknown,
	    conflicts, same };
}

int
gb_import(struct gb_catalog *c, const struct gb_conf *conf,
    struct gb_scan *m, const char *media, const char *site)
{
	struct imported k = { conf, m, media, 0, 0, 0, 0, 0, 1 };

	/* a seal the pinned signer did not make, or of another site: no */
	for (size_t i = 0; i < m->n; i++) {
		struct gb_found *f = &m->f[i];
		if (!f->sealok) {
			gb_warnx("%s (medium %s): refused: %s: %s; nothing of it "
			    "imported (gb-catalog import --list shows it)", media,
			    m->id, f->name, f->why);
			return GB_EXIT_CHECK;
		}
		if (strcmp(f->s.manifest.site, site) != 0) {
			gb_warnx("%s (medium %s): refused: %s is of site %s, not "
			    "of this site %s ([site] name); nothing of it imported",
			    media, m->id, f->name, f->s.manifest.site, site);
			return GB_EXIT_CHECK;
		}
	}
	qsort(m->f, m->n, sizeof *m->f, by_snapshot);
	gb_catalog_txn(c, import_rows, &k);
	if (!k.same)
		return GB_EXIT_CHECK;
	printf("%s: medium %s (%s, pool %s): %d archives and %d copies new "
	    "(%d good, %d failed), %d already in the catalog%s\n", media,
	    m->id, m->kind, m->pool, k.narch, k.ncopy + k.nbad, k.ncopy, k.nbad,
	    k.nknown, k.conflicts ? ", conflicts above" : "");
	return k.nbad || k.conflicts ? GB_EXIT_CHECK : GB_EXIT_OK;
}
