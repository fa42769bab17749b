/*
 * gb-write - label media, and write sealed archives from the spool to
 * them: a directory (a mounted USB drive), a Linux tape device, or a tape
 * image.  A copy is recorded as good in the catalog only once it is
 * durable and, by default, read back with its hash compared.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mtio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gb.h"
#include "gb-db.h"
#include "gb-media.h"
#include "gb-pgp.h"

#define COPY_BUF (1 << 20)

struct writer {
	struct gb_conf conf;
	struct gb_catalog *c;
	const char *media, *label, *pool, *signer;
	size_t blocksize;
	long long capacity;
	int verify;
	int force;		/* --check-drive on a labelled cartridge */
	long long size;		/* --check-drive: bytes to write */
	int fill;		/* --check-drive: on to the early warning */
	int tsv;		/* records for a program, not prose */
	int tape;		/* media is a tape device or image */
	struct gb_tape t;
	int lockfd;
	char *id, *mpool;	/* the label read from the medium */
	unsigned char *buf, *buf2;	/* two, to read one while the other goes */
};

static _Noreturn void
usage(FILE *fp, int status)
{
	fprintf(fp, "usage: gb-write [-q] [-c conf] [--pool pool] "
	    "[--no-verify] [--tsv] [-b blocksize]\n"
	    "                media spool/name\n"
	    "       gb-write [-c conf] --label id --pool pool [--capacity bytes] "
	    "[-b blocksize] media\n"
	    "       gb-write --check-drive [--force] [--fill] [--size bytes] "
	    "[-b blocksize] device\n");
	exit(status);
}

/* st(4): a block size or record outside the drive's block limits. */
static _Noreturn void
refused(struct writer *w)
{
	char what[64];

	if (w->blocksize)
		snprintf(what, sizeof what, "blocks of %zu bytes", w->blocksize);
	else
		snprintf(what, sizeof what, "variable records of up to %d bytes",
		    256 * 1024);
	gb_errx(GB_EXIT_USAGE, "%s: the drive refuses %s (outside its block "
	    "limits); choose another -b", w->media, what);
}

static void
open_media(struct writer *w, int writing)
{
	struct stat sb;

	if (!(w->tape = gb_media_is_tape(w->media))) {
		if (stat(w->media, &sb) == -1 || !S_ISDIR(sb.st_mode))
			gb_errx(GB_EXIT_USAGE, "%s: not a directory, a tape device "
			    "or tape:PATH.tap", w->media);
		return;
	}
	if (gb_tape_open(&w->t, w->media, writing, w->blocksize) == -1) {
		if (w->t.setblk && errno == EINVAL)
			refused(w);
		gb_err(GB_EXIT_RUN, "cannot open the tape %s", w->media);
	}
	if (writing && !w->t.image && w->t.comperr)
		gb_warnx("warning: %s: cannot turn the drive's compression off: "
		    "%s; the archives are encrypted and gain nothing from it",
		    w->media, strerror(w->t.comperr));
	/* one writer per medium: a second one waits for nothing, it fails */
	if (w->t.image && flock(w->t.fd, LOCK_EX | LOCK_NB) == -1)
		gb_err(GB_EXIT_RUN, "%s is in use by another gb-write", w->media);
}

/* The label on the medium, or NULL id when there is none. */
static void
read_label(struct writer *w)
{
	if (!w->tape) {
		char *path = gb_asprintf("%s/" GB_LABEL_FILE, w->media);
		/* the label file, held open, is the medium's lock */
		w->lockfd = open(path, O_RDONLY | O_CLOEXEC);
		if (w->lockfd >= 0) {
			gb_label_read(w->lockfd, &w->id, &w->mpool);
			if (flock(w->lockfd, LOCK_EX | LOCK_NB))
				gb_err(GB_EXIT_RUN, "%s is in use by another "
				    "gb-write", w->media);
		}
		free(path);
		return;
	}
	if (gb_tape_rewind(&w->t) == -1)
		gb_err(GB_EXIT_RUN, "%s: cannot rewind", w->media);
	gb_label_read_tape(&w->t, w->buf, &w->id, &w->mpool);
}

/* A pool the config gives a kind takes media of that kind only. */
static void
check_pool_kind(struct writer *w)
{
	char *sec = gb_asprintf("pool %s", w->pool);
	const char *kind = gb_conf_get(&w->conf, sec, "kind");

	if (kind && *kind && strcmp(kind, w->tape ? "tape" : "dir") != 0)
		gb_errx(GB_EXIT_USAGE, "pool %s takes %s media (%s), and %s is "
		    "a %s", w->pool, kind, w->conf.path, w->media, w->tape ?
		    "tape" : "directory");
	free(sec);
}

/*
 * A medium registered ahead (gb-catalog media add) and never written
 * gets its label now; one of another kind or pool, or used, is refused.
 */
static int
registered_unused(struct writer *w)
{
	struct gb_stmt *st = gb_catalog_prepare(w->c, "SELECT kind, pool, (SELECT "
	    "count(*) FROM copies WHERE site = ?2 AND medium = ?1) + CASE WHEN "
	    "device IS NOT NULL THEN 1 ELSE 0 END FROM media WHERE site = ?2 "
	    "AND id = ?1");
	int r = 0;

	/* device is set once a label is written: a labelled medium is used */
	gb_bind_text(st, 1, w->label);
	gb_bind_text(st, 2, w->c->site);
	if (gb_step(st) == GB_ROW) {
		if (strcmp(gb_col(st, 0), w->tape ? "tape" : "dir") ||
		    strcmp(gb_col(st, 1), w->pool) || gb_col_int64(st, 2))
			gb_errx(GB_EXIT_USAGE, "medium %s is already in the catalog "
			    "(a %s of pool %s%s)", w->label, gb_col(st, 0),
			    gb_col(st, 1), gb_col_int64(st, 2) ?
			    ", labelled" : "");
		r = 1;
	}
	gb_finalize(st);
	if (r) {
		char cap[24];
		snprintf(cap, sizeof cap, "%lld", w->capacity);
		gb_catalog_run(w->c, "UPDATE media SET device = ?2, capacity = "
		    "coalesce(?3, capacity) WHERE site = ?4 AND id = ?1", 4,
		    w->label, w->media, w->capacity > 0 ? cap : NULL, w->c->site);
	}
	return r;
}

/* The label just written, read back: nothing is recorded on a bad one. */
static void
check_label(struct writer *w)
{
	char *id = NULL, *pool = NULL;
	int r;

	if (w->tape)
		r = gb_tape_rewind(&w->t) == -1 ? -1 :
		    gb_label_read_tape(&w->t, w->buf, &id, &pool);
	else
		r = gb_media_label(w->media, &id, &pool);
	if (r == -1 || !id || strcmp(id, w->label) || strcmp(pool, w->pool))
		gb_errx(GB_EXIT_RUN, "%s: the label read back is not the one "
		    "written (%s, pool %s); the medium or the drive is failing",
		    w->media, w->label, w->pool);
	free(id);
	free(pool);
}

/*
 * The label's transaction (gb_catalog_txn): written on the medium before
 * the commit, so nothing is recorded of a label not written; a rerun
 * writes the same label again.
 */
static void
label_rows(struct gb_catalog *c, void *arg)
{
	struct writer *w = arg;

	if (registered_unused(w)) {
		/* registered ahead with gb-catalog media add: label it now */
		gb_catalog_audit(c, "label", w->label, "%s medium in pool %s "
		    "at %s", w->tape ? "tape" : "dir", w->pool, w->media);
	} else	/* the catalog refuses a duplicate id before anything is written */
		gb_catalog_add_medium(c, &w->conf, w->label, w->tape ? "tape" :
		    "dir", w->pool, w->capacity, w->media);
	if (gb_label_write(w->media, w->tape ? &w->t : NULL, w->blocksize,
	    w->label, w->pool) == -1) {
		if (!w->tape)
			gb_err(GB_EXIT_RUN, "cannot write the label %s/"
			    GB_LABEL_FILE, w->media);
		gb_err(GB_EXIT_RUN, "cannot write the label on %s", w->media);
	}
	check_label(w);
}

static int
cmd_label(struct writer *w)
{
	struct gb_stmt *st;
	int known = 0;

	if (!w->pool)
		gb_errx(GB_EXIT_USAGE, "--label needs --pool POOL");
	open_media(w, 1);
	read_label(w);
	if (w->id) {
		st = gb_catalog_prepare(w->c, "SELECT state FROM media WHERE "
		    "site = ?2 AND id = ?1");
		gb_bind_text(st, 1, w->id);
		gb_bind_text(st, 2, w->c->site);
		known = gb_step(st) == GB_ROW &&
		    strcmp(gb_col(st, 0), "retired") != 0;
		gb_finalize(st);
		if (known)
			gb_errx(GB_EXIT_USAGE, "%s is labelled %s, a medium in the "
			    "catalog; retire it first (gb-catalog media retire %s)",
			    w->media, w->id, w->id);
		gb_warnx("warning: %s was labelled %s, unknown to the catalog or "
		    "retired; relabelling it erases it", w->media, w->id);
	}
	check_pool_kind(w);
	gb_catalog_txn(w->c, label_rows, w);
	printf("%s: labelled %s, pool %s\n", w->media, w->label, w->pool);
	return GB_EXIT_OK;
}

/*
 * Verifies the seal; what is written to the media and kept in the catalog
 * is its signed message exactly as verified, never text around it.
 */
static void
load_seal(struct writer *w, const char *path, struct gb_seal *s)
{
	char err[1024];
	int r;

	if ((r = gb_seal_load(s, path, w->signer, err, sizeof err)) != 0)
		gb_errx(r == -2 ? GB_EXIT_RUN : GB_EXIT_CHECK, "%s; not written",
		    err);
}

/* good_failed's transaction: the copy read good, or marked so. */
struct reread {
	long long copy;
	int good;
};

static void
reread_good(struct gb_catalog *c, void *arg)
{
	struct reread *r = arg;
	struct gb_stmt *st;
	char id[24];

	snprintf(id, sizeof id, "%lld", r->copy);
	st = gb_catalog_prepare(c, "SELECT status = 'good' FROM copies "
	    "WHERE id = ?1");
	gb_bind_int64(st, 1, r->copy);
	r->good = gb_step(st) == GB_ROW && gb_col_int64(st, 0);
	gb_finalize(st);
	if (!r->good)
		gb_catalog_run(c, "UPDATE copies SET error = ?2 WHERE id = ?1 "
		    "AND status = 'writing'", 2, id, "recording it good failed");
}

/*
 * The commit of 'good' failed, perhaps after SQLite had put it in its WAL
 * (a failed fsync): the next tool to open the catalog may read it good,
 * or may not.  Read it as that tool will, from a new connection: good is
 * good (the copy is whole and was read back), with a warning.  Else the
 * copy stays 'writing', its row written again, which overwrites what the
 * failed commit left in the WAL, and the rerun finishes it.
 */
static void
good_failed(struct writer *w, long long copy, const char *err)
{
	struct reread r = { copy, 0 };

	w->c = gb_catalog_reopen(w->c);
	gb_catalog_txn(w->c, reread_good, &r);
	if (r.good) {
		gb_warnx("warning: catalog %s: %s while recording copy %lld "
		    "good; it reads good now", w->c->path, err, copy);
		return;
	}
	gb_errx(GB_EXIT_RUN, "catalog %s: cannot record copy %lld good: %s; "
	    "the copy is whole on %s but left 'writing': run gb-write again to "
	    "finish it", w->c->path, copy, err, w->id);
}

/* The end of a copy, as end_copy records it (gb_catalog_txn). */
struct ended {
	struct writer *w;
	long long copy;
	const char *status, *error;
	uint64_t bytes;
	int next_file, verified;
};

static void
end_rows(struct gb_catalog *c, void *arg)
{
	struct ended *e = arg;
	char now[21], id[24];

	gb_now(now);
	snprintf(id, sizeof id, "%lld", e->copy);
	gb_catalog_run(c, "UPDATE copies SET status = ?2, written_at = ?3, "
	    "verified_at = ?4, error = ?5 WHERE id = ?1", 5, id, e->status,
	    strcmp(e->status, "good") == 0 ? now : NULL, e->verified ? now :
	    NULL, e->error);
	if (strcmp(e->status, "good") == 0) {
		char b[24], nf[24];
		snprintf(b, sizeof b, "%" PRIu64, e->bytes);
		snprintf(nf, sizeof nf, "%d", e->next_file);
		gb_catalog_run(c, "UPDATE media SET bytes_used = bytes_used + "
		    "?2, last_written = ?3, next_file = ?4, device = ?5 WHERE "
		    "site = ?6 AND id = ?1", 6, e->w->id, b, now, nf, e->w->media,
		    c->site);
	} else if (e->error && strstr(e->error, "full"))
		gb_catalog_run(c, "UPDATE media SET state = 'full' WHERE site = "
		    "?2 AND id = ?1", 2, e->w->id, c->site);
	gb_catalog_audit(c, strcmp(e->status, "good") == 0 ? "write" :
	    "write-failed", e->w->id, "copy %lld %s%s%s", e->copy, e->status,
	    e->error ? ": " : "", e->error ? e->error : "");
}

static void
end_copy(struct writer *w, long long copy, const char *status,
    const char *error, uint64_t bytes, int next_file, int verified)
{
	struct ended e = { w, copy, status, error, bytes, next_file, verified };
	char err[256];

	if (strcmp(status, "good") != 0)
		gb_catalog_txn(w->c, end_rows, &e);
	else if (gb_catalog_try_txn(w->c, end_rows, &e, err, sizeof err) == -1)
		good_failed(w, copy, err);
}

/*
 * Read back: the hash of a file, and its size; of the first size bytes of
 * a tape file.
 */
static int
read_back_dir(struct writer *w, const char *path, char hex[65], uint64_t *n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct gb_sha256 h;
	ssize_t r;

	if (fd < 0)
		return -1;
	/* from the drive, not from the page cache */
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	gb_sha256_init(&h);
	*n = 0;
	while ((r = gb_read_full(fd, w->buf, COPY_BUF)) > 0) {
		gb_sha256_update(&h, w->buf, (size_t)r);
		*n += (uint64_t)r;
		gb_progress_add((uint64_t)r);
	}
	gb_sha256_final(&h, hex);
	close(fd);
	return r < 0 ? -1 : 0;
}

static int
read_back_tape(struct writer *w, int fileno, uint64_t size, char hex[65])
{
	struct gb_sha256 h;
	uint64_t got = 0;
	ssize_t r;

	if (gb_tape_seek_file(&w->t, fileno) == -1)
		return -1;
	gb_sha256_init(&h);
	while ((r = gb_tape_read(&w->t, w->buf, GB_MAX_BLOCK)) > 0) {
		size_t use = (uint64_t)r > size - got ? (size_t)(size - got) :
		    (size_t)r;
		gb_sha256_update(&h, w->buf, use);
		got += use;
		gb_progress_add(use);
	}
	gb_sha256_final(&h, hex);
	return r < 0 || got != size ? -1 : 0;
}

/*
 * Writes the index that lets a drive found in a vault describe itself,
 * with the copy being finished (not yet good: that is recorded last).
 */
static int
write_index(struct writer *w, long long copy)
{
	char *path = gb_asprintf("%s/" GB_INDEX_FILE, w->media);
	struct gb_stmt *st = gb_catalog_prepare(w->c, "SELECT c.archive, a.size, "
	    "a.sha256, a.job, a.level, a.snapshot, coalesce(c.written_at, ?3) "
	    "FROM copies c "
	    "JOIN archives a ON a.site = c.site AND a.name = c.archive WHERE "
	    "c.site = ?4 AND c.medium = ?1 AND (c.status = 'good' OR c.id = ?2) "
	    "ORDER BY c.id");
	struct gb_atomic a;
	char now[21];
	FILE *fp;
	int e, fd;

	if (gb_atomic_open(&a, path, 0644) == -1)
		goto fail;
	if ((fd = dup(a.fd)) < 0 || !(fp = fdopen(fd, "w"))) {
		e = errno;
		if (fd >= 0)
			close(fd);
		gb_atomic_abort(&a);
		errno = e;
		goto fail;
	}
	fprintf(fp, "# gymbackup medium %s, pool %s: its archives, written by "
	    "gb-write.\n# Each NAME.tar.gz.gpg has its NAME.seal beside it; "
	    "check one with\n#   gpg --verify NAME.seal && sha256sum -c "
	    "NAME.seal\n# archive\tbytes\tsha256\tjob\tlevel\tsnapshot\twritten\n",
	    w->id, w->mpool);
	gb_bind_text(st, 1, w->id);
	gb_bind_int64(st, 2, copy);
	gb_now(now);
	gb_bind_text(st, 3, now);
	gb_bind_text(st, 4, w->c->site);
	while (gb_step(st) == GB_ROW)
		fprintf(fp, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", gb_col(st, 0),
		    gb_col(st, 1), gb_col(st, 2), gb_col(st, 3), gb_col(st, 4),
		    gb_col(st, 5), gb_col(st, 6));
	gb_finalize(st);
	st = NULL;
	if (fclose(fp) == EOF) {
		gb_atomic_abort(&a);
		goto fail;
	}
	if (gb_atomic_commit(&a) == -1)
		goto fail;
	free(path);
	return 0;
fail:
	e = errno;
	gb_finalize(st);	/* NULL once done */
	gb_warn("cannot write %s", path);
	free(path);
	errno = e;
	return -1;
}

static _Noreturn void
media_full(struct writer *w, long long copy, const char *spoolname)
{
	char *msg = gb_asprintf("medium %s is full", w->id), *others =
	    gb_strdup("");
	struct gb_stmt *st;

	end_copy(w, copy, "failed", msg, 0, 0, 0);
	st = gb_catalog_prepare(w->c, "SELECT id FROM media WHERE site = ?2 AND "
	    "pool = ?1 AND state = 'usable' AND location = 'onsite' ORDER BY id");
	gb_bind_text(st, 1, w->mpool);
	gb_bind_text(st, 2, w->c->site);
	while (gb_step(st) == GB_ROW) {
		char *o = gb_asprintf("%s%s%s", others, *others ? ", " : "",
		    gb_col(st, 0));
		free(others);
		others = o;
	}
	gb_finalize(st);
	if (w->tsv) {
		printf("full\t%s\n", w->id);
		fflush(stdout);
	}
	gb_errx(GB_EXIT_RUN, "%s: nothing of %s is recorded on it; mount the "
	    "next medium of pool %s (%s) and run: gb-write MEDIA %s", msg,
	    spoolname, w->mpool, *others ? others : "none usable onsite: label "
	    "a new one", spoolname);
}

/* An expired copy's files removed: its transaction (gb_catalog_txn). */
struct reclaimed {
	struct writer *w;
	const char *copy, *name;
};

static void
reclaimed(struct gb_catalog *c, void *arg)
{
	struct reclaimed *r = arg;

	gb_catalog_run(c, "UPDATE copies SET position = '' WHERE id = ?1", 1,
	    r->copy);
	gb_catalog_run(c, "UPDATE media SET bytes_used = CASE WHEN bytes_used "
	    "> s THEN bytes_used - s ELSE 0 END FROM (SELECT size AS s FROM "
	    "archives WHERE site = ?3 AND name = ?2) a WHERE site = ?3 AND id = "
	    "?1", 3, r->w->id, r->name, c->site);
	gb_catalog_audit(c, "reclaim", r->w->id, "removed expired %s", r->name);
}

/*
 * Expired archives on a directory medium give their space back before a
 * write: retention has let them go.
 */
static void
reclaim_dir(struct writer *w)
{
	struct gb_stmt *st = gb_catalog_prepare(w->c, "SELECT id, archive FROM "
	    "copies WHERE site = ?2 AND medium = ?1 AND status = 'expired' AND "
	    "position <> ''");

	gb_bind_text(st, 1, w->id);
	gb_bind_text(st, 2, w->c->site);
	while (gb_step(st) == GB_ROW) {
		const char *name = gb_col(st, 1);
		size_t n = strlen(name) - strlen(".tar.gz.gpg");
		char *a = gb_asprintf("%s/%s", w->media, name);
		char *s = gb_asprintf("%s/%.*s.seal", w->media, (int)n, name);
		if ((unlink(a) == 0 || errno == ENOENT) &&
		    (unlink(s) == 0 || errno == ENOENT)) {
			struct reclaimed r = { w, gb_col(st, 0), name };
			gb_catalog_txn(w->c, reclaimed, &r);
		}
		free(a);
		free(s);
	}
	gb_finalize(st);
}

/*
 * Temporary files that a killed gb-write left on the medium, of any
 * archive (a job's rerun names a new one) or index: each of ours whose
 * process is gone (gb_tmp_reap).  Ours is locked: no live gb-write.
 */
static void
remove_stale(struct writer *w)
{
	gb_tmp_reap(w->media, NULL);
}

/* A tape written over from file 1: its transaction (gb_catalog_txn). */
static void
overwritten(struct gb_catalog *c, void *arg)
{
	struct writer *w = arg;

	gb_catalog_run(c, "UPDATE media SET bytes_used = 0 WHERE site = ?2 AND "
	    "id = ?1", 2, w->id, c->site);
	gb_catalog_audit(c, "overwrite", w->id, "nothing live: written over "
	    "from file 1");
}

/*
 * Where on a tape the next archive goes: after the last whole (archive,
 * seal) pair, and never before the end of the good copies the catalog
 * records on it; a tape with none is written over from file 1.  What
 * follows that place (an archive whose seal was never written, a record
 * a crash left unfinished) is written over; a damaged record before it
 * is reported and nothing is written.
 */
static int
tape_position(struct writer *w)
{
	struct gb_stmt *st = gb_catalog_prepare(w->c, "SELECT max(CAST(position "
	    "AS INTEGER)) FROM copies WHERE site = ?2 AND medium = ?1 AND status "
	    "= 'good'");
	struct gb_tfile after;
	int known = 1, f;

	gb_bind_text(st, 1, w->id);
	gb_bind_text(st, 2, w->c->site);
	if (gb_step(st) == GB_ROW &&
	    !gb_col_null(st, 0))
		known = gb_col_int64(st, 0) + 2;
	gb_finalize(st);
	if (known == 1) {
		/* nothing live: whatever follows the label is written over */
		if (gb_tape_seek_file(&w->t, 1) == -1)
			gb_err(GB_EXIT_RUN, "%s: cannot go to file 1", w->media);
		if (gb_tfile_read(&w->t, w->buf, &after) == 0)
			gb_catalog_txn(w->c, overwritten, w);
		gb_tfile_free(&after);
		f = 1;
	} else if ((f = gb_tape_pairs_end(&w->t, known, w->buf, &after)) ==
	    -1) {
		if (errno == EIO && w->t.bad >= 0)
			gb_errx(GB_EXIT_RUN, "%s: damaged record at byte %lld, "
			    "before tape file %d where the good copies the catalog "
			    "records on %s end; nothing written: write to another "
			    "medium, and check this one with gb-verify --media",
			    w->media, (long long)w->t.bad, known, w->id);
		if (errno == ENODATA && gb_tape_eod(&w->t) == 0)
			gb_errx(GB_EXIT_RUN, "%s ends at tape file %d, before tape "
			    "file %d where the good copies the catalog records on %s "
			    "end; nothing written", w->media, w->t.fileno, known,
			    w->id);
		gb_err(GB_EXIT_RUN, "%s: cannot go to tape file %d", w->media,
		    known);
	} else {
		if (after.kind == GB_TF_ARCHIVE && after.bad < 0)
			gb_warnx("warning: %s tape file %d: an archive without its "
			    "seal, left by a write that did not finish; written "
			    "over", w->media, f);
		else if (after.bad >= 0)
			gb_warnx("warning: %s: damaged record at byte %lld (tape "
			    "file %d), after the last whole archive and seal; "
			    "written over", w->media, (long long)after.bad, f);
		else if (after.kind != GB_TF_NONE)
			gb_warnx("warning: %s tape file %d: no archive and seal; "
			    "written over", w->media, f);
		gb_tfile_free(&after);
	}
	if (gb_tape_seek_file(&w->t, f) == -1 || gb_tape_truncate(&w->t) == -1)
		gb_err(GB_EXIT_RUN, "%s: cannot go to tape file %d", w->media, f);
	return f;
}

/*
 * The copy a gb-write that did not finish left 'writing' (killed, or the
 * catalog locked past its timeout after the archive was in place): its id
 * and position, or 0.  The medium is ours alone (locked), so no other
 * writer is behind it.
 */
static long long
stale_copy(struct writer *w, const char *name, char **pos)
{
	/*
	 * On a tape, not one that a good copy was written at or after
	 * since: the tape file it names holds another archive now, and it
	 * stays as it was left.
	 */
	struct gb_stmt *st = gb_catalog_prepare(w->c, "SELECT id, position FROM "
	    "copies c WHERE site = ?4 AND archive = ?1 AND medium = ?2 AND "
	    "status = 'writing' AND NOT (?3 AND EXISTS (SELECT 1 FROM copies g "
	    "WHERE g.site = ?4 AND g.medium = ?2 AND g.status = 'good' AND "
	    "CAST(g.position AS INTEGER) >= CAST(c.position AS INTEGER))) ORDER "
	    "BY id DESC LIMIT 1");
	long long id = 0;

	gb_bind_text(st, 1, name);
	gb_bind_text(st, 2, w->id);
	gb_bind_int64(st, 3, w->tape);
	gb_bind_text(st, 4, w->c->site);
	if (gb_step(st) == GB_ROW) {
		id = gb_col_int64(st, 0);
		*pos = gb_strdup(gb_col(st, 1));
	}
	gb_finalize(st);
	return id;
}

/*
 * Is NAME on the directory medium, whole, as its seal says?  Then the
 * copy is finished rather than written again: its seal is (re)written
 * and both are made durable.  1 finished, 0 not the sealed bytes (the
 * caller replaces them), -1 and errno when the medium failed.
 */
static int
resume_dir(struct writer *w, const struct gb_seal *s, const char *dst,
    const char *sdst)
{
	struct gb_atomic sa;
	char hex[65];
	uint64_t n;
	int fd, r, e;

	if (read_back_dir(w, dst, hex, &n) == -1)
		return -1;
	if (n != s->size || strcmp(hex, s->sha256) != 0)
		return 0;
	/* durable, whoever renamed it: the file, then the directory */
	if ((fd = open(dst, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	r = fsync(fd);
	e = errno;
	close(fd);
	errno = e;
	if (r == -1 || gb_atomic_open(&sa, sdst, 0644) == -1)
		return -1;
	if (gb_write_all(sa.fd, s->signed_text, s->signed_len) == -1) {
		gb_atomic_abort(&sa);
		return -1;
	}
	return gb_atomic_commit(&sa) == -1 ? -1 : 1;
}

/*
 * The same on a tape: the archive at file pos, read back equal to its
 * seal, its seal in the next file, and nothing after them.
 */
static int
resume_tape(struct writer *w, const struct gb_seal *s, const char *pos)
{
	struct gb_tfile seal, after = { 0 };
	char hex[65], *end;
	long p = strtol(pos, &end, 10);
	int ok;

	if (*end || end == pos || p < 1 || p > INT_MAX - 2)
		return 0;
	if (read_back_tape(w, (int)p, s->size, hex) == -1 ||
	    strcmp(hex, s->sha256) != 0)
		return 0;
	if (gb_tfile_read(&w->t, w->buf, &seal) == -1)
		return 0;
	ok = seal.kind == GB_TF_SEAL && seal.bad < 0 && seal.marked &&
	    seal.len == s->signed_len &&
	    memcmp(seal.text, s->signed_text, s->signed_len) == 0 &&
	    gb_tfile_read(&w->t, w->buf, &after) == -1;
	gb_tfile_free(&seal);
	if (ok)
		return 1;
	gb_tfile_free(&after);
	return 0;
}

/* One archive on its way to the medium. */
struct copy {
	const char *spoolname;
	char *archive;		/* SPOOLNAME.tar.gz.gpg */
	int fd;			/* it, open */
	struct gb_seal s;
	const char *name;	/* its name, as the seal says */
	long long id;		/* its copies row */
	long long stale;	/* a row left 'writing' for it, or 0 */
	char *oldpos;		/* the position of that row */
	char *pos;		/* its position on the medium */
	int fileno;		/* a tape's */
	int resumed;		/* finished, not written again */
	int verified;		/* read back */
	uint64_t written;
	char hex[65];		/* of the bytes written */
	struct gb_checkpoint ck;	/* of the audit trail, written with it */
	char *ckplace;		/* where it went; NULL: not written */
};

/* The labelled medium, known to the catalog, may take the archive. */
static void
check_medium(struct writer *w, const char *name)
{
	struct gb_stmt *st;

	if (!w->id)
		gb_errx(GB_EXIT_USAGE, "%s has no gymbackup label; label it first: "
		    "gb-write --label ID --pool POOL %s", w->media, w->media);
	st = gb_catalog_prepare(w->c, "SELECT pool, state, location, capacity, "
	    "next_file FROM media WHERE site = ?2 AND id = ?1");
	gb_bind_text(st, 1, w->id);
	gb_bind_text(st, 2, w->c->site);
	if (gb_step(st) != GB_ROW)
		gb_errx(GB_EXIT_USAGE, "medium %s (%s) is not in the catalog %s; "
		    "it belongs to another catalog, or was never registered",
		    w->id, w->media, w->c->path);
	if (strcmp(gb_col(st, 0), w->mpool) != 0)
		gb_errx(GB_EXIT_USAGE, "medium %s: its label says pool %s, the "
		    "catalog %s", w->id, w->mpool, gb_col(st, 0));
	if (strcmp(gb_col(st, 2), "onsite") != 0)
		gb_errx(GB_EXIT_USAGE, "medium %s is %s; only onsite media are "
		    "written (gb-catalog move %s --to onsite when it is back)",
		    w->id, gb_col(st, 2), w->id);
	if (strcmp(gb_col(st, 1), "usable") != 0)
		gb_errx(GB_EXIT_USAGE, "medium %s is %s; use another medium of "
		    "pool %s", w->id, gb_col(st, 1), w->mpool);
	if (w->pool && strcmp(w->pool, w->mpool) != 0)
		gb_errx(GB_EXIT_USAGE, "medium %s is of pool %s, not %s", w->id,
		    w->mpool, w->pool);
	if (w->tape && w->t.image)
		w->t.capacity = gb_col_int64(st, 3);
	gb_finalize(st);

	st = gb_catalog_prepare(w->c, "SELECT 1 FROM copies WHERE archive = ?1 "
	    "AND site = ?3 AND medium = ?2 AND status = 'good'");
	gb_bind_text(st, 1, name);
	gb_bind_text(st, 2, w->id);
	gb_bind_text(st, 3, w->c->site);
	if (gb_step(st) == GB_ROW)
		gb_errx(GB_EXIT_USAGE, "%s already has a good copy on %s", name,
		    w->id);
	gb_finalize(st);
}

/*
 * 'writing' until durable and read back: a crash leaves no 'good'.  A
 * copy left 'writing' by a gb-write that did not finish is this one:
 * resumed or written again, never a second row.
 */
struct begun {
	struct writer *w;
	struct copy *k;
	const char *job;
};

/* begin_copy's transaction (gb_catalog_txn: it may run again). */
static void
begin_rows(struct gb_catalog *c, void *arg)
{
	struct begun *b = arg;
	struct writer *w = b->w;
	struct copy *k = b->k;
	char now[21], id[24];

	gb_catalog_record_archive(c, &k->s, k->s.signed_text, b->job);
	gb_now(now);
	snprintf(id, sizeof id, "%lld", k->stale);
	if (k->stale) {
		gb_catalog_run(c, "UPDATE copies SET position = ?2, "
		    "started_at = ?3, error = NULL WHERE id = ?1", 3, id, k->pos,
		    now);
		gb_catalog_run(c, "UPDATE copies SET status = 'failed', "
		    "error = 'left by a gb-write that did not finish' WHERE "
		    "site = ?4 AND archive = ?1 AND medium = ?2 AND status = "
		    "'writing' AND id <> ?3", 4, k->name, w->id, id, c->site);
		gb_catalog_audit(c, "write-resume", w->id, "copy %lld of %s, "
		    "left writing: %s", k->stale, k->name, k->resumed ?
		    "whole on the medium, finished" : "written again");
		k->id = k->stale;
	} else {
		struct gb_stmt *st = gb_catalog_prepare(c, "INSERT INTO "
		    "copies(site, archive, medium, position, status, started_at) "
		    "VALUES(?5, ?1, ?2, ?3, 'writing', ?4) RETURNING id");
		gb_bind_text(st, 5, c->site);
		gb_bind_text(st, 1, k->name);
		gb_bind_text(st, 2, w->id);
		gb_bind_text(st, 3, k->pos);
		gb_bind_text(st, 4, now);
		if (gb_step(st) != GB_ROW)
			gb_catalog_fail(c, "cannot record the copy");
		k->id = gb_col_int64(st, 0);
		gb_finalize(st);
	}
}

static void
begin_copy(struct writer *w, struct copy *k)
{
	char *job = gb_strdup(k->s.manifest.job ? k->s.manifest.job : "manual");
	struct begun b = { w, k, job };

	gb_catalog_txn(w->c, begin_rows, &b);
	free(job);
	if (k->resumed) {
		/* what was read back is what the seal says */
		k->written = k->s.size;
		memcpy(k->hex, k->s.sha256, sizeof k->hex);
		k->verified = 1;
	}
}

/* Are the bytes written those the seal describes? */
static int
as_sealed(const struct copy *k)
{
	return k->written == k->s.size && strcmp(k->hex, k->s.sha256) == 0;
}

static _Noreturn void
differs(struct writer *w, struct copy *k, const char *what)
{
	end_copy(w, k->id, "failed", "spool file differs from its seal", 0, 0,
	    0);
	gb_errx(GB_EXIT_CHECK, "%s differs from its seal; %s", k->archive, what);
}

/*
 * The archive to a new file under a temporary name, hashed while it is
 * written and checked before its rename (a bad copy never appears), then
 * its seal; both made durable, and read back.
 */
static void
copy_dir(struct writer *w, struct copy *k, const char *dst, const char *sdst)
{
	unsigned char *cur = w->buf, *next = w->buf2, *t;
	struct gb_hasher h;
	struct gb_atomic a, sa;
	sigset_t held;
	uint64_t behind = 0;
	ssize_t n;

	gb_progress_start("written", 0, k->s.size);
	gb_hasher_start(&h);
	if (gb_atomic_open(&a, dst, 0640) == -1)
		gb_err(GB_EXIT_RUN, "cannot create %s", dst);
	/* a block is hashed while it is written and the next read */
	n = gb_read_full(k->fd, cur, COPY_BUF);
	while (n > 0) {
		ssize_t m;
		int r;
		gb_hasher_feed(&h, cur, (size_t)n);
		r = gb_write_all(a.fd, cur, (size_t)n);
		m = r == -1 ? 0 : gb_read_full(k->fd, next, COPY_BUF);
		gb_hasher_wait(&h);
		if (r == -1)
			break;
		k->written += (uint64_t)n;
		gb_progress_add((uint64_t)n);
		gb_write_behind(a.fd, &behind, k->written);
		n = m;
		t = cur, cur = next, next = t;
	}
	gb_hasher_final(&h, k->hex);
	if (n == 0 && !as_sealed(k)) {
		gb_atomic_abort(&a);
		differs(w, k, "nothing written");
	}
	/* from the archive's rename to its seal's: one step */
	gb_signals_defer(&held);
	if (n != 0 || gb_atomic_commit(&a) == -1) {
		int e = errno;
		struct stat sb;
		gb_atomic_abort(&a);
		/* renamed, but not durable: as after a crash */
		if (n == 0 && lstat(dst, &sb) == 0)
			gb_errx(GB_EXIT_RUN, "%s: %s after it was renamed into "
			    "place; it is not recorded: run gb-write again to "
			    "finish it", dst, strerror(e));
		if (e == ENOSPC || e == EDQUOT)
			media_full(w, k->id, k->spoolname);
		end_copy(w, k->id, "failed", strerror(e), 0, 0, 0);
		errno = e;
		gb_err(GB_EXIT_RUN, "cannot write %s", dst);
	}
	if (gb_atomic_open(&sa, sdst, 0644) == -1 ||
	    gb_write_all(sa.fd, k->s.signed_text, k->s.signed_len) == -1 ||
	    gb_atomic_commit(&sa) == -1) {
		int e = errno;
		gb_atomic_abort(&sa);
		/* renamed or not: the seal goes, then its archive */
		unlink(sdst);
		unlink(dst);
		if (e == ENOSPC || e == EDQUOT)
			media_full(w, k->id, k->spoolname);
		end_copy(w, k->id, "failed", strerror(e), 0, 0, 0);
		errno = e;
		gb_err(GB_EXIT_RUN, "cannot write %s", sdst);
	}
	gb_signals_resume(&held);
	if (w->verify) {
		char rhex[65];
		uint64_t rn;
		gb_progress_start("read back", 0, k->s.size);
		if (read_back_dir(w, dst, rhex, &rn) == -1 ||
		    rn != k->s.size || strcmp(rhex, k->s.sha256) != 0) {
			end_copy(w, k->id, "failed", "read back differs", 0, 0, 0);
			gb_errx(GB_EXIT_RUN, "%s: read back differs from the "
			    "seal; the medium may be failing", dst);
		}
		k->verified = 1;
	}
}

/*
 * The checkpoint beside the index, replacing the one there: the newest
 * vouches for all before it.
 */
static int
write_checkpoint(struct writer *w, struct copy *k)
{
	char *path = gb_asprintf("%s/" GB_CHECKPOINT_FILE, w->media);
	struct gb_atomic a;
	int e;

	if (gb_atomic_open(&a, path, 0644) == -1)
		goto fail;
	if (gb_write_all(a.fd, k->ck.signed_text, k->ck.signed_len) == -1) {
		gb_atomic_abort(&a);
		goto fail;
	}
	if (gb_atomic_commit(&a) == -1)
		goto fail;
	free(path);
	k->ckplace = gb_strdup(GB_CHECKPOINT_FILE);
	return 0;
fail:
	e = errno;
	gb_warn("cannot write %s", path);
	free(path);
	errno = e;
	return -1;
}

static void
write_dir(struct writer *w, struct copy *k)
{
	char *dst = gb_asprintf("%s/%s", w->media, k->name);
	char *sdst = gb_asprintf("%s/%.*s.seal", w->media, (int)(strlen(
	    k->name) - strlen(".tar.gz.gpg")), k->name);
	struct stat sb;

	reclaim_dir(w);
	remove_stale(w);
	/*
	 * Left by a gb-write that failed after its rename: finished when
	 * it is the sealed bytes, else replaced.
	 */
	if (lstat(dst, &sb) == 0) {
		if (!S_ISREG(sb.st_mode))
			gb_errx(GB_EXIT_USAGE, "%s exists on the medium and is not "
			    "a file", dst);
		if ((k->resumed = resume_dir(w, &k->s, dst, sdst)) == -1)
			gb_err(GB_EXIT_RUN, "%s", dst);
		if (!k->resumed) {
			gb_warnx("warning: %s is not the archive its seal "
			    "describes (left by a gb-write that did not "
			    "finish?); writing it again", dst);
			/* the seal first: never a seal without its archive */
			if (unlink(sdst) == -1 && errno != ENOENT)
				gb_err(GB_EXIT_RUN, "cannot remove %s", sdst);
			if (unlink(dst) == -1)
				gb_err(GB_EXIT_RUN, "cannot remove %s", dst);
		}
	}
	k->pos = gb_strdup(k->name);
	begin_copy(w, k);
	if (!k->resumed)
		copy_dir(w, k, dst, sdst);
	/*
	 * 'good' is recorded after the index and the checkpoint, once
	 * everything is durable
	 */
	if (write_index(w, k->id) == -1)
		/* as after a crash: whole on the medium, the copy 'writing' */
		gb_errx(GB_EXIT_RUN, "%s: cannot write the index: %s; %s is "
		    "on %s but not recorded: run gb-write again to finish it",
		    w->media, strerror(errno), k->name, w->id);
	if (write_checkpoint(w, k) == -1)
		gb_errx(GB_EXIT_RUN, "%s: cannot write the checkpoint: %s; %s "
		    "is on %s but not recorded: run gb-write again to finish it",
		    w->media, strerror(errno), k->name, w->id);
	free(dst);
	free(sdst);
}

static _Noreturn void
tape_failed(struct writer *w, struct copy *k)
{
	if (errno == EINVAL && !w->t.image) {
		/* st(4): a record outside the drive's block limits */
		end_copy(w, k->id, "failed", "the drive refused the record size",
		    0, 0, 0);
		refused(w);
	}
	if (errno == ENOSPC || errno == EIO) {
		/*
		 * On a drive, the file is ended by its filemark (allowed past
		 * the early warning) rather than by the driver at close: what
		 * is on the tape is an archive without its seal, as the next
		 * gb-write expects, and writes over.
		 */
		if (!w->t.image && gb_tape_mark(&w->t, 1) == -1)
			gb_warn("warning: %s: cannot end the file with a filemark",
			    w->media);
		media_full(w, k->id, k->spoolname);
	}
	end_copy(w, k->id, "failed", strerror(errno), 0, 0, 0);
	gb_err(GB_EXIT_RUN, "cannot write to %s", w->media);
}

/*
 * The archive in records, hashed while it is written, a tape mark, its
 * seal in records, a mark that makes both durable; read back.  In
 * fixed-block mode a file's last record is padded to a full block; in
 * variable mode (-b 0) it is as long as what is left.
 */
static void
copy_tape(struct writer *w, struct copy *k)
{
	size_t bs = w->blocksize ? w->blocksize : 256 * 1024;
	unsigned char *cur = w->buf, *next = w->buf2, *t;
	/* the seal, a NUL, the checkpoint (gb-checkpoint(5)) */
	size_t seallen = k->s.signed_len, textlen = seallen + 1 +
	    k->ck.signed_len;
	char *text = gb_malloc(textlen);
	struct gb_hasher h;
	ssize_t n;

	memcpy(text, k->s.signed_text, seallen);
	text[seallen] = '\0';
	memcpy(text + seallen + 1, k->ck.signed_text, k->ck.signed_len);

	gb_progress_start("written", 0, k->s.size);
	gb_hasher_start(&h);
	n = gb_read_full(k->fd, cur, bs);
	while (n > 0) {
		ssize_t m = 0;
		int r;
		/* hashed while it is written and the next one read */
		gb_hasher_feed(&h, cur, (size_t)n);
		if ((size_t)n < bs && w->blocksize)
			memset(cur + n, 0, bs - (size_t)n);
		r = gb_tape_write(&w->t, cur, w->blocksize ? bs : (size_t)n);
		if (r == 0 && (size_t)n == bs)
			m = gb_read_full(k->fd, next, bs);
		gb_hasher_wait(&h);
		if (r == -1)
			tape_failed(w, k);
		k->written += (uint64_t)n;
		gb_progress_add((uint64_t)n);
		n = m;
		t = cur, cur = next, next = t;
	}
	if (n < 0)
		gb_err(GB_EXIT_RUN, "cannot read %s", k->archive);
	/* the seal's mark makes both durable: one fsync */
	if (gb_tape_mark(&w->t, 0) == -1)
		tape_failed(w, k);
	for (size_t off = 0, len; off < textlen; off += len) {
		/*
		 * Fixed blocks: the checkpoint goes on in the seal's padding.
		 * Variable ones: the seal's records are as long as the seal,
		 * the checkpoint's, the NUL first, come after them.
		 */
		size_t end = w->blocksize || off >= seallen ? textlen : seallen;
		len = end - off < bs ? end - off : bs;
		memset(w->buf, 0, bs);
		memcpy(w->buf, text + off, len);
		/*
		 * Past a drive's early warning st(4) refuses every other write
		 * so that a trailer can be written: the seal is the archive's
		 * trailer, and goes in on the second try.
		 */
		if (gb_tape_write(&w->t, w->buf, w->blocksize ? bs : len) == -1 &&
		    (errno != ENOSPC || w->t.image || gb_tape_write(&w->t, w->buf,
		    w->blocksize ? bs : len) == -1))
			tape_failed(w, k);
	}
	free(text);
	if (gb_tape_mark(&w->t, 1) == -1)
		tape_failed(w, k);
	k->ckplace = gb_asprintf("%d", k->fileno + 1);
	gb_hasher_final(&h, k->hex);
	if (!as_sealed(k))
		differs(w, k, gb_asprintf("the copy on %s is recorded as failed",
		    w->id));
	if (w->verify) {
		char rhex[65];
		gb_progress_start("read back", 0, k->s.size);
		if (read_back_tape(w, k->fileno, k->s.size, rhex) == -1 ||
		    strcmp(rhex, k->s.sha256) != 0) {
			end_copy(w, k->id, "failed", "read back differs", 0, 0, 0);
			gb_errx(GB_EXIT_RUN, "%s file %d: read back differs from "
			    "the seal; the tape may be failing", w->media,
			    k->fileno);
		}
		k->verified = 1;
	}
}

static void
write_tape(struct writer *w, struct copy *k)
{
	/* a copy left 'writing' may be whole where it was written */
	if (k->stale && (k->resumed = resume_tape(w, &k->s, k->oldpos)))
		k->fileno = atoi(k->oldpos);
	else
		k->fileno = tape_position(w);
	k->pos = gb_asprintf("%d", k->fileno);
	begin_copy(w, k);
	if (!k->resumed)
		copy_tape(w, k);
}

/* A tape past its early warning: its transaction (gb_catalog_txn). */
struct filled {
	struct writer *w;
	const char *name;
};

static void
filled(struct gb_catalog *c, void *arg)
{
	struct filled *f = arg;

	gb_catalog_run(c, "UPDATE media SET state = 'full' WHERE site = ?2 AND "
	    "id = ?1", 2, f->w->id, c->site);
	gb_catalog_audit(c, "full", f->w->id, "early warning met while writing "
	    "%s, written whole", f->name);
}

static int
cmd_write(struct writer *w, const char *spoolname)
{
	char *sealpath = gb_asprintf("%s.seal", spoolname), err[1024];
	struct copy k = { .spoolname = spoolname };

	k.archive = gb_asprintf("%s.tar.gz.gpg", spoolname);
	load_seal(w, sealpath, &k.s);
	k.name = k.s.archive;
	open_media(w, 1);
	read_label(w);
	check_medium(w, k.name);
	/* signed before anything is written: no key, nothing written */
	if (gb_checkpoint_issue(&k.ck, w->c, gb_site_name(&w->conf), w->signer,
	    w->id, err, sizeof err) == -1)
		gb_errx(GB_EXIT_RUN, "%s; nothing written", err);
	if ((k.fd = open(k.archive, O_RDONLY | O_CLOEXEC)) < 0)
		gb_err(GB_EXIT_RUN, "cannot read %s", k.archive);
	k.stale = stale_copy(w, k.name, &k.oldpos);
	if (w->tape)
		write_tape(w, &k);
	else
		write_dir(w, &k);
	gb_progress_end();
	close(k.fd);
	if (k.ckplace) {	/* a tape copy finished as it was has none new */
		gb_catalog_record_checkpoint(w->c, k.ck.entries, k.ck.head,
		    k.ck.issued, w->id, k.ckplace, k.ck.signed_text);
	}
	/* 'good' is recorded last, once everything else is durable */
	end_copy(w, k.id, "good", NULL, k.written, w->tape ? k.fileno + 2 : 0,
	    k.verified);
	if (w->tape && w->t.eom) {
		/* the seal went in past the early warning: nothing more does */
		struct filled f = { w, k.name };
		gb_catalog_txn(w->c, filled, &f);
		gb_warnx("%s: medium %s met its end of medium with %s, written "
		    "whole; recorded full: the next archive goes to another "
		    "medium of pool %s", w->media, w->id, k.name, w->mpool);
	}
	if (w->tsv)
		printf("written\t%s\t%s\t%s\t%s\t%s\t%s\n", k.name, w->id,
		    w->tape ? "tape" : "file", k.pos, k.verified ? "read-back" :
		    "unverified", k.resumed ? "finished" : "new");
	else
		printf("%s: written to %s (%s %s)%s%s\n", k.name, w->id, w->tape ?
		    "tape file" : "file", k.pos, k.verified ? ", read back OK" :
		    "", k.resumed ? " (finished the copy an earlier gb-write "
		    "left)" : "");
	free(k.pos);
	free(k.oldpos);
	free(k.archive);
	free(k.ckplace);
	free(sealpath);
	gb_seal_free(&k.s);
	gb_checkpoint_free(&k.ck);
	return GB_EXIT_OK;
}

/*
 * --check-drive: what Bacula's btape "test" does, on a scratch cartridge.
 * Native rates are the LTO Program's (lto.org) for each generation; the
 * lowest speed-matching rates are IBM's full-height drives' (the
 * TS4300 manual, "Speed matching", for LTO-7 to 9; 40 MB/s for LTO-5 and
 * 6 from IBM's LTO-5/6 drive manuals).  Other drives match down to other
 * rates: the half-height ones less far (LTO-9 HH 177 to 284 MB/s).
 */
static const struct lto {
	int density;		/* the code in mt_dsreg */
	const char *name;
	double native, lowest;	/* MB/s, 10^6 bytes */
} ltos[] = {
	{ 0x58, "LTO-5", 140, 40 },
	{ 0x5a, "LTO-6", 160, 40 },
	{ 0x5c, "LTO-7", 300, 101.46 },
	{ 0x5e, "LTO-8", 360, 112 },
	{ 0x60, "LTO-9", 400, 177 },
};

/* Record rec of file f of the test: bytes that do not compress. */
static void
pattern(unsigned char *buf, size_t len, int f, uint64_t rec)
{
	uint64_t x = ((uint64_t)f << 40 | rec) * 0x9e3779b97f4a7c15ULL | 1;

	/* eight bytes a step: the test must outrun the drive it measures */
	for (size_t i = 0; i + 8 <= len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(buf + i, &x, 8);
	}
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int check_failed;

static void
verdict(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
verdict(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s ", ok ? "ok  " : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	check_failed |= !ok;
}

static int
mtop(struct writer *w, short op, int count)
{
	struct mtop mt = { .mt_op = op, .mt_count = count };

	return ioctl(w->t.fd, MTIOCTOP, &mt);
}

/* Is the next record record rec of file f?  -1 when it cannot be read. */
static int
next_is(struct writer *w, size_t rs, int f, uint64_t rec)
{
	/* fixed blocks: one a read, as a variable record is */
	ssize_t n = gb_tape_read(&w->t, w->buf, w->blocksize ? rs :
	    GB_MAX_BLOCK);

	if (n < 0)
		return -1;
	pattern(w->buf2, rs, f, rec);
	return (size_t)n == rs && memcmp(w->buf, w->buf2, rs) == 0;
}

static int
at_file(struct writer *w, int f)
{
	struct mtget g;

	return gb_tape_status(&w->t, &g) == 0 && g.mt_fileno == f;
}

static void
speed(const char *what, double mbs, const struct lto *l)
{
	if (!l) {
		printf("     %s %.1f MB/s\n", what, mbs);
		return;
	}
	/* slow is the host's fault, not the drive's: no failed check */
	printf("%s %s %.1f MB/s: %s (%s: %.0f MB/s native, speed matching "
	    "down to %.0f MB/s)\n", mbs >= l->lowest ? "ok  " : "SLOW", what, mbs,
	    mbs >= l->native ? "streams at native speed" : mbs >= l->lowest ?
	    "within speed matching: the drive slows down and keeps streaming" :
	    "below the lowest speed-matching rate: the drive would shoe-shine",
	    l->name, l->native, l->lowest);
}

static int
cmd_check(struct writer *w)
{
	size_t rs = w->blocksize ? w->blocksize : 256 * 1024;
	uint64_t nrec = (uint64_t)w->size / rs, recs[3], bytes = 0, n;
	const struct lto *l = NULL;
	char *id = NULL, *pool = NULL, mode[64];
	struct mtget g;
	double t0, t1;
	ssize_t r;
	int f;

	if (!gb_media_is_tape(w->media) || strncmp(w->media, "tape:", 5) == 0)
		gb_errx(GB_EXIT_USAGE, "%s: --check-drive tests a tape drive "
		    "(/dev/nstN), not a directory or an image", w->media);
	w->tape = 1;
	open_media(w, 1);
	if (gb_tape_status(&w->t, &g) == -1)
		gb_err(GB_EXIT_RUN, "%s: cannot read the drive's status", w->media);
	for (size_t i = 0; i < sizeof ltos / sizeof ltos[0]; i++)
		if (ltos[i].density == (int)((unsigned long)g.mt_dsreg >>
		    MT_ST_DENSITY_SHIFT & 0xff))
			l = &ltos[i];
	if (w->blocksize)
		snprintf(mode, sizeof mode, "fixed blocks of %zu bytes",
		    w->blocksize);
	else
		snprintf(mode, sizeof mode, "variable blocks, records of %zu "
		    "bytes", rs);
	printf("drive %s: density code 0x%02lx (%s), %s\n", w->media,
	    (unsigned long)g.mt_dsreg >> MT_ST_DENSITY_SHIFT & 0xff, l ? l->name :
	    "not an LTO-5 to 9 code: no rates to compare", mode);
	verdict(!w->t.comperr, "compression off%s%s", w->t.comperr ? ": " : "",
	    w->t.comperr ? strerror(w->t.comperr) : "");
	/* a scratch cartridge: never one of ours, unless told */
	if (gb_tape_rewind(&w->t) == -1)
		gb_err(GB_EXIT_RUN, "%s: cannot rewind", w->media);
	if (gb_label_read_tape(&w->t, w->buf, &id, &pool) == 0 && !w->force)
		gb_errx(GB_EXIT_USAGE, "%s holds gymbackup medium %s of pool %s; "
		    "--check-drive writes over the cartridge: load a scratch one "
		    "(or --force, and retire %s)", w->media, id, pool, id);
	free(id);
	free(pool);
	if (nrec < 8)
		nrec = 8;
	recs[0] = nrec / 2;
	recs[1] = 3;
	recs[2] = nrec - recs[0] - 3;

	/* three files, each ended by a filemark */
	if (gb_tape_rewind(&w->t) == -1)
		gb_err(GB_EXIT_RUN, "%s: cannot rewind", w->media);
	t0 = now_s();
	for (f = 0; f < 3; f++) {
		for (n = 0; n < recs[f]; n++) {
			pattern(w->buf, rs, f, n);
			if (gb_tape_write(&w->t, w->buf, rs) == -1)
				gb_err(GB_EXIT_RUN, "%s: cannot write record %" PRIu64
				    " of file %d", w->media, n, f);
			bytes += rs;
		}
		if (gb_tape_mark(&w->t, 1) == -1)
			gb_err(GB_EXIT_RUN, "%s: cannot write a filemark",
			    w->media);
	}
	t1 = now_s();
	verdict(at_file(w, 3), "wrote %" PRIu64 " records of %zu bytes in 3 "
	    "files, each ended by a filemark", recs[0] + recs[1] + recs[2], rs);
	speed("write", (double)bytes / 1e6 / (t1 - t0), l);

	/* read back: every record, every filemark, then the end of data */
	if (gb_tape_rewind(&w->t) == -1)
		gb_err(GB_EXIT_RUN, "%s: cannot rewind", w->media);
	t0 = now_s();
	for (f = 0; f < 3; f++) {
		int ok = 1;
		for (n = 0; n < recs[f] && ok == 1; n++)
			ok = next_is(w, rs, f, n);
		if (ok == 1)
			ok = gb_tape_read(&w->t, w->buf, rs) == 0;
		if (ok != 1)
			verdict(0, "file %d: record %" PRIu64 " read back %s", f,
			    n - 1, ok == -1 ? strerror(errno) : "differs");
	}
	r = gb_tape_read(&w->t, w->buf, rs);
	t1 = now_s();
	verdict(r == -1 && errno == ENODATA, "read back every record and "
	    "filemark, then the end of data");
	speed("read", (double)bytes / 1e6 / (t1 - t0), l);

	/* positioning */
	verdict(gb_tape_seek_file(&w->t, 2) == 0 && next_is(w, rs, 2, 0) == 1,
	    "MTREW, MTFSF 2: at file 2");
	verdict(mtop(w, MTBSF, 1) == 0 && at_file(w, 1) && mtop(w, MTFSF, 1) ==
	    0 && next_is(w, rs, 2, 0) == 1, "MTBSF 1, MTFSF 1: back at file 2");
	verdict(gb_tape_seek_file(&w->t, 1) == 0 && mtop(w, MTFSR, 2) == 0 &&
	    next_is(w, rs, 1, 2) == 1 && mtop(w, MTBSR, 1) == 0 &&
	    next_is(w, rs, 1, 2) == 1, "MTFSR 2, MTBSR 1: at record 2 of file 1");
	verdict(gb_tape_eod(&w->t) == 0 && w->t.fileno == 3 &&
	    gb_tape_status(&w->t, &g) == 0 && GMT_EOD(g.mt_gstat),
	    "MTEOM: at the end of data, file 3");

	/* appending at the end of data */
	pattern(w->buf, rs, 3, 0);
	verdict(gb_tape_write(&w->t, w->buf, rs) == 0 &&
	    gb_tape_mark(&w->t, 1) == 0 && gb_tape_seek_file(&w->t, 3) == 0 &&
	    next_is(w, rs, 3, 0) == 1 && gb_tape_read(&w->t, w->buf, rs) == 0 &&
	    gb_tape_read(&w->t, w->buf, rs) == -1 && errno == ENODATA, "appended file 3 at the end of data, read "
	    "it back");

	if (w->fill) {
		/* on to the early warning: the rest of the cartridge */
		uint64_t filled = 0;
		if (gb_tape_eod(&w->t) == -1)
			gb_err(GB_EXIT_RUN, "%s: cannot go to the end of data",
			    w->media);
		for (n = 0;; n++) {
			pattern(w->buf, rs, 4, n);
			if (gb_tape_write(&w->t, w->buf, rs) == -1)
				break;
			filled += rs;
		}
		verdict(errno == ENOSPC, "end of medium after %" PRIu64 " more "
		    "bytes: %s", filled, strerror(errno));
		verdict(gb_tape_mark(&w->t, 1) == 0, "a filemark written past "
		    "the early warning");
		verdict(gb_tape_seek_file(&w->t, 4) == 0 && next_is(w, rs, 4, 0) ==
		    1, "the first record of the filled file read back");
	}
	if (gb_tape_rewind(&w->t) == -1)
		gb_err(GB_EXIT_RUN, "%s: cannot rewind", w->media);
	printf("%s: %s; the cartridge holds test data now\n", w->media,
	    check_failed ? "the drive FAILED a check" : "all checks passed");
	return check_failed ? GB_EXIT_CHECK : GB_EXIT_OK;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "capacity", required_argument, NULL, 'C' },
		{ "check-drive", no_argument, NULL, 'D' },
		{ "fill", no_argument, NULL, 'F' },
		{ "force", no_argument, NULL, 'f' },
		{ "size", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, GB_OPT_VERSION },
		{ "label", required_argument, NULL, 'L' },
		{ "no-verify", no_argument, NULL, 'N' },
		{ "pool", required_argument, NULL, 'p' },
		{ "tsv", no_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 }
	};
	struct writer w = { .verify = 1, .lockfd = -1, .blocksize = 256 * 1024 };
	const char *confpath = NULL, *path;
	char *end;
	int c, r, check = 0;

	gb_setprogname(argv[0]);
	atexit(gb_close_stdout);
	w.t.fd = -1;
	while ((c = getopt_long(argc, argv, "b:c:hq", longopts, NULL)) != -1)
		switch (c) {
		case 'b':
			w.blocksize = strtoul(optarg, &end, 10);
			if (*end == 'k' || *end == 'K')
				w.blocksize *= 1024, end++;
			else if (*end == 'm' || *end == 'M')
				w.blocksize *= 1024 * 1024, end++;
			/* 0: variable blocks, 256 KiB records and a short last */
			if (*end || end == optarg || w.blocksize % 512 ||
			    w.blocksize > GB_MAX_BLOCK)
				gb_errx(GB_EXIT_USAGE, "-b wants 0 (variable blocks) "
				    "or a block size, a multiple of 512 up to 16M, not "
				    "%s", optarg);
			break;
		case 'c': confpath = optarg; break;
		case 'C':
			if (gb_parse_size(optarg, &w.capacity) == -1)
				gb_errx(GB_EXIT_USAGE, "--capacity wants bytes (with "
				    "K, M, G or T for powers of 1024), not %s", optarg);
			break;
		case 'D': check = 1; break;
		case 'F': w.fill = 1; break;
		case 'f': w.force = 1; break;
		case 'S':
			if (gb_parse_size(optarg, &w.size) == -1)
				gb_errx(GB_EXIT_USAGE, "--size wants bytes (with K, M, "
				    "G or T for powers of 1024), not %s", optarg);
			break;
		case 'h': usage(stdout, GB_EXIT_OK);
		case 'L': w.label = optarg; break;
		case 'N': w.verify = 0; break;
		case 'p': w.pool = optarg; break;
		case 'q': gb_progress_quiet(); break;
		case GB_OPT_VERSION: gb_version();
		case 'T': w.tsv = 1; break;
		default: usage(stderr, GB_EXIT_USAGE);
		}
	argc -= optind;
	argv += optind;
	if (check) {
		/* the drive alone: no catalog, no keys */
		if (argc != 1 || w.label || w.tsv)
			usage(stderr, GB_EXIT_USAGE);
		w.media = argv[0];
		if (!w.size)
			w.size = 4LL << 30;
		w.buf = gb_malloc(GB_MAX_BLOCK);
		w.buf2 = gb_malloc(GB_MAX_BLOCK);
		r = cmd_check(&w);
		gb_tape_close(&w.t);
		free(w.buf);
		free(w.buf2);
		return r;
	}
	if (argc != (w.label ? 1 : 2) || (w.label && w.tsv) || w.force ||
	    w.fill || w.size)
		usage(stderr, GB_EXIT_USAGE);
	w.media = argv[0];
	path = gb_conf_open(&w.conf, confpath);
	if (!(path = gb_catalog_path(&w.conf)))
		gb_errx(GB_EXIT_USAGE, "no catalog: set GB_CATALOG or path in the "
		    "[catalog] section of the config");
	w.signer = gb_conf_get(&w.conf, "keys", "signer");
	if (!w.label && (!w.signer || !*w.signer))
		gb_errx(GB_EXIT_USAGE, "no signer pinned: set signer in the [keys] "
		    "section of the config; gb-write checks each seal first");
	w.buf = gb_malloc(GB_MAX_BLOCK);
	w.buf2 = gb_malloc(GB_MAX_BLOCK);
	gb_cleanup_signals();
	w.c = gb_catalog_open(path, gb_site_name(&w.conf));
	r = w.label ? cmd_label(&w) : cmd_write(&w, argv[1]);
	if (w.tape)
		gb_tape_close(&w.t);
	if (w.lockfd >= 0)
		close(w.lockfd);
	gb_catalog_close(w.c);
	gb_conf_free(&w.conf);
	free(w.id);
	free(w.mpool);
	free(w.buf);
	free(w.buf2);
	return r;
}
