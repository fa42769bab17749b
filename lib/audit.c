/*
 * audit.c - what an auditor asks of the catalog (gb-catalog(1) audit):
 * the trail's chain, the signed checkpoints held against it, and the
 * report of a period from the verified seals and checkpoints, as text or
 * CSV, clear-signed when the signer's secret key is at hand.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gb.h"
#include "gb-db.h"
#include "gb-media.h"
#include "gb-pgp.h"

static void
bind(struct gb_stmt *st, int i, const char *v)
{
	gb_bind_text(st, i, v);
}

/*
 * A site's own chain (of the catalog's site when site is NULL), named in
 * its line or not: the line, and 0 or -1 and why in err.
 */
static int
site_trail(struct gb_catalog *c, const char *site, long long *n,
    char head[65], char *err, size_t errlen, int named)
{
	char of[256] = "";

	if (named)
		snprintf(of, sizeof of, " of site %s", site);
	if (gb_catalog_audit_head(c, site ? site : c->site, n, head, err,
	    errlen) == -1) {
		printf("FAIL: audit trail%s broken: %s\n", of, err);
		return -1;
	}
	printf("OK: audit trail%s intact, %lld entries, head %s\n", of, *n,
	    head);
	return 0;
}

/*
 * The sites with a trail in the catalog, NULL-ended; *n of them.  The
 * trail of a catalog of one site is that site's, whatever the config says.
 */
static char **
trail_sites(struct gb_catalog *c, size_t *n)
{
	struct gb_stmt *st = gb_catalog_prepare(c, "SELECT DISTINCT site FROM "
	    "audit ORDER BY site");
	char **v = gb_calloc(1, sizeof *v);

	*n = 0;
	while (gb_step(st) == GB_ROW) {
		v = gb_realloc(v, (*n + 2) * sizeof *v);
		v[(*n)++] = gb_strdup(gb_col(st, 0));
		v[*n] = NULL;
	}
	gb_finalize(st);
	return v;
}

static void
free_sites(char **v)
{
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

/*
 * The site whose trail a checkpoint or report is held against: the
 * catalog's one site, else the config's.
 */
static char *
one_site(struct gb_catalog *c)
{
	size_t k;
	char **v = trail_sites(c, &k);
	char *site = gb_strdup(k == 1 ? v[0] : c->site);

	free_sites(v);
	return site;
}

static int
trail(struct gb_catalog *c, long long *n, char head[65], char *err,
    size_t errlen)
{
	char *site = one_site(c);
	int r = site_trail(c, site, n, head, err, errlen, 0);

	free(site);
	return r;
}

/* Every site's chain: each named when there are more than one. */
int
gb_audit_verify(struct gb_catalog *c)
{
	size_t n;
	char head[65], err[256], **v = trail_sites(c, &n);
	long long entries;
	int r = GB_EXIT_OK;

	if (n <= 1)
		r = trail(c, &entries, head, err, sizeof err);
	for (size_t i = 0; n > 1 && i < n; i++)
		if (site_trail(c, v[i], &entries, head, err, sizeof err, 1) ==
		    -1)
			r = -1;
	free_sites(v);
	return r == -1 ? GB_EXIT_CHECK : GB_EXIT_OK;
}

/*
 * Each signed checkpoint on the media and in the files, by the pinned
 * signer, held against the trail: a prefix of it, or a contradiction.
 * The first checkpoint contradicted (the fewest entries) is named: the
 * trail was rewritten at or before its last entry.
 */
int
gb_audit_checkpoints(struct gb_catalog *c, const char *signer,
    const char *site, int argc, char **argv)
{
	struct gb_cptext *v = NULL;
	struct gb_checkpoint first = { 0 };
	char head[65], err[1024], why[1024], broken[256], *firstplace = NULL,
	    *firstwhy = NULL;
	size_t n = 0, nok = 0, nbad = 0, nrefused = 0;
	long long entries;
	int r = GB_EXIT_OK, whole;

	if (!(whole = trail(c, &entries, head, broken, sizeof broken) == 0))
		r = GB_EXIT_CHECK;
	for (int i = 0; i < argc; i++) {
		size_t before = n;
		int k = gb_checkpoints_read(argv[i], &v, &n, err, sizeof err);
		if (k == -2) {
			gb_warnx("%s", err);
			r = GB_EXIT_RUN;
		} else if (k == -1 || n == before) {
			printf("FAIL %s: %s\n", argv[i], k == -1 ? err :
			    "no checkpoint on it");
			nrefused++;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct gb_checkpoint ck;
		if (gb_checkpoint_verify(&ck, v[i].text, v[i].len, signer, err,
		    sizeof err) == -1) {
			printf("FAIL %s: not trusted: %s\n", v[i].place, err);
			nrefused++;
			continue;
		}
		if (site && *site && strcmp(site, ck.site) != 0) {
			printf("FAIL %s: a checkpoint of site %s, not %s\n",
			    v[i].place, ck.site, site);
			nrefused++;
		} else if (gb_checkpoint_check(c, entries, whole ? NULL :
		    broken, &ck, why, sizeof why) == -1) {
			printf("FAIL %s: %lld entries, issued %s: %s\n",
			    v[i].place, ck.entries, ck.issued, why);
			nbad++;
			if (!firstplace || ck.entries < first.entries ||
			    (ck.entries == first.entries && strcmp(ck.issued,
			    first.issued) < 0)) {
				gb_checkpoint_free(&first);
				free(firstplace);
				free(firstwhy);
				first = ck;
				memset(&ck, 0, sizeof ck);
				firstplace = gb_strdup(v[i].place);
				firstwhy = gb_strdup(why);
			}
		} else {
			printf("ok   %s: %lld entries, head %.16s..., issued %s\n",
			    v[i].place, ck.entries, ck.head, ck.issued);
			nok++;
		}
		gb_checkpoint_free(&ck);
	}
	if (firstplace)
		printf("FAIL: the audit trail contradicts the checkpoint of %s "
		    "(%lld entries, issued %s): %s\n", firstplace, first.entries,
		    first.issued, firstwhy);
	printf("%zu checkpoints: %zu agree, %zu contradict the trail, %zu "
	    "refused\n", nok + nbad + nrefused, nok, nbad, nrefused);
	if ((nbad || nrefused) && r == GB_EXIT_OK)
		r = GB_EXIT_CHECK;
	gb_checkpoint_free(&first);
	free(firstplace);
	free(firstwhy);
	gb_cptexts_free(v, n);
	return r;
}

/*
 * The report: text lines (f), or CSV records through the export's writer
 * (csv), into memory, to be signed.
 */
struct rep {
	FILE *f;
	struct gb_out *csv;
};

static const char *const rep_cols[] = { "record", "time", "archive", "job",
    "level", "bytes", "sha256", "seal_sha256", "signer", "medium", "pool",
    "location", "position", "status", "by", "detail" };
enum { R_RECORD, R_TIME, R_ARCHIVE, R_JOB, R_LEVEL, R_BYTES, R_SHA256,
    R_SEALSHA, R_SIGNER, R_MEDIUM, R_POOL, R_LOCATION, R_POSITION,
    R_STATUS, R_BY, R_DETAIL, R_NCOLS };

/* One record of the CSV report: a field NULL or "" is empty. */
static void
rep_row(struct rep *o, const char *const *f)
{
	for (int i = 0; i < R_NCOLS; i++) {
		if (i)
			gb_out_putc(o->csv, ',');
		if (f[i] && *f[i])
			gb_csv_text(o->csv, f[i], strlen(f[i]));
	}
	gb_out_putc(o->csv, '\n');
}

static void
rep_copies(struct gb_catalog *c, struct rep *o, const char *site,
    const char *archive)
{
	struct gb_stmt *st = gb_catalog_prepare(c, "SELECT c.medium, m.pool, m.location, "
	    "c.position, c.status, c.written_at, c.verified_at, m.kind FROM "
	    "copies c JOIN media m ON " GB_COPY_MEDIUM("c", "m") " WHERE "
	    "c.site = ?2 AND c.archive = ?1 ORDER BY c.id, m.site");

	bind(st, 1, archive);
	bind(st, 2, site);
	while (gb_step(st) == GB_ROW) {
		const char *f[R_NCOLS] = { "copy", gb_col(st, 5), archive };
		char *verified = gb_asprintf("verified %s", *gb_col(st, 6) ?
		    gb_col(st, 6) : "never");
		if (o->csv) {
			f[R_MEDIUM] = gb_col(st, 0);
			f[R_POOL] = gb_col(st, 1);
			f[R_LOCATION] = gb_col(st, 2);
			f[R_POSITION] = gb_col(st, 3);
			f[R_STATUS] = gb_col(st, 4);
			f[R_DETAIL] = verified;
			rep_row(o, f);
		} else
			fprintf(o->f, "    copy on %s (pool %s, %s), %s %s: %s, "
			    "written %s, %s\n", gb_col(st, 0), gb_col(st, 1),
			    gb_col(st, 2), strcmp(gb_col(st, 7), "tape") ? "file" :
			    "tape file", gb_col(st, 3), gb_col(st, 4),
			    *gb_col(st, 5) ? gb_col(st, 5) : "never", verified);
		free(verified);
	}
	gb_finalize(st);
}

/*
 * Each archive whose snapshot is in the period, from its verified seal:
 * every seal is verified, and its own snapshot decides (a seal that does
 * not verify, the catalog's column, and it is shown as such).
 */
static int
rep_archives(struct gb_catalog *c, struct rep *o, const char *signer,
    const char *from, const char *to)
{
	struct gb_stmt *st = gb_catalog_prepare(c, "SELECT name, job, seal, snapshot, "
	    "site FROM archives ORDER BY snapshot, name, site");
	char *lines = NULL;
	size_t len = 0, n = 0;
	FILE *f = open_memstream(&lines, &len);
	/* its count comes first: the lines wait */
	struct rep b = { f, o->csv };
	int bad = 0;

	while (gb_step(st) == GB_ROW) {
		const char *name = gb_col(st, 0), *seal = gb_col(st, 2);
		size_t seallen = strlen(seal);
		struct gb_seal s;
		char err[1024], sealsha[65], size[24];
		struct gb_sha256 h;

		err[0] = '\0';
		gb_sha256_init(&h);
		gb_sha256_update(&h, seal, seallen);
		gb_sha256_final(&h, sealsha);
		if (gb_seal_verify(&s, seal, seallen, signer, err,
		    sizeof err) == -1 || strcmp(s.archive, name) != 0) {
			if (!err[0]) {
				snprintf(err, sizeof err, "the seal is of %s",
				    s.archive);
				gb_seal_free(&s);
			}
			if (strcmp(gb_col(st, 3), from) < 0 ||
			    strcmp(gb_col(st, 3), to) > 0)
				continue;
			bad = 1;
			n++;
			if (o->csv) {
				const char *fl[R_NCOLS] = { "archive", NULL, name,
				    gb_col(st, 1) };
				fl[R_SEALSHA] = sealsha;
				fl[R_STATUS] = "SEAL NOT VERIFIED";
				fl[R_DETAIL] = err;
				rep_row(&b, fl);
			} else
				fprintf(f, "  %s  job %s: SEAL NOT VERIFIED: %s\n"
				    "    seal sha256 %s\n", name, gb_col(st, 1), err,
				    sealsha);
			rep_copies(c, &b, gb_col(st, 4), name);
			continue;
		}
		if (strcmp(s.manifest.snapshot, from) < 0 ||
		    strcmp(s.manifest.snapshot, to) > 0) {
			gb_seal_free(&s);
			continue;
		}
		n++;
		snprintf(size, sizeof size, "%llu", (unsigned long long)s.size);
		if (o->csv) {
			const char *fl[R_NCOLS] = { "archive", s.manifest.snapshot,
			    name, s.manifest.job, s.manifest.level, size, s.sha256,
			    sealsha, s.signer };
			fl[R_STATUS] = "sealed";
			fl[R_DETAIL] = s.sealed;
			rep_row(&b, fl);
		} else
			fprintf(f, "  %s  job %s, %s, snapshot %s\n"
			    "    sealed %s, %s bytes, sha256 %s\n"
			    "    seal sha256 %s, signed by %s\n", name,
			    s.manifest.job, s.manifest.level, s.manifest.snapshot,
			    s.sealed, size, s.sha256, sealsha, s.signer);
		rep_copies(c, &b, gb_col(st, 4), name);
		gb_seal_free(&s);
	}
	gb_finalize(st);
	if (fclose(f) != 0)
		gb_errx(GB_EXIT_RUN, "out of memory");
	if (!o->csv) {
		fprintf(o->f, "\narchives made in the period: %zu\n", n);
		fputs(lines, o->f);
	}
	free(lines);
	return bad;
}

/* The text report's heading of a section: what of TABLE the period holds. */
static void
rep_count(struct gb_catalog *c, struct rep *o, const char *table,
    const char *what, const char *from, const char *to)
{
	char *sql;
	struct gb_stmt *cnt;

	if (o->csv)
		return;
	sql = gb_asprintf("SELECT count(*) FROM %s WHERE at BETWEEN ?1 AND ?2",
	    table);
	cnt = gb_catalog_prepare(c, sql);
	bind(cnt, 1, from);
	bind(cnt, 2, to);
	if (gb_step(cnt) == GB_ROW)
		fprintf(o->f, "\n%s in the period: %lld\n", what,
		    gb_col_int64(cnt, 0));
	gb_finalize(cnt);
	free(sql);
}

static void
rep_moves(struct gb_catalog *c, struct rep *o, const char *from, const char *to)
{
	struct gb_stmt *st = gb_catalog_prepare(c, "SELECT at, medium, from_loc, to_loc, by, "
	    "coalesce(why, '') FROM movements WHERE at BETWEEN ?1 AND ?2 "
	    "ORDER BY at, id");

	rep_count(c, o, "movements", "custody moves", from, to);
	bind(st, 1, from);
	bind(st, 2, to);
	while (gb_step(st) == GB_ROW) {
		char *move = gb_asprintf("%s -> %s", gb_col(st, 2), gb_col(st, 3));
		if (o->csv) {
			const char *f[R_NCOLS] = { "move", gb_col(st, 0) };
			f[R_MEDIUM] = gb_col(st, 1);
			f[R_LOCATION] = gb_col(st, 3);
			f[R_STATUS] = move;
			f[R_BY] = gb_col(st, 4);
			f[R_DETAIL] = gb_col(st, 5);
			rep_row(o, f);
		} else
			fprintf(o->f, "  %s  %s  %s  by %s%s%s\n", gb_col(st, 0),
			    gb_col(st, 1), move, gb_col(st, 4), *gb_col(st, 5) ?
			    ": " : "", gb_col(st, 5));
		free(move);
	}
	gb_finalize(st);
}

static void
rep_checks(struct gb_catalog *c, struct rep *o, const char *from, const char *to)
{
	struct gb_stmt *st = gb_catalog_prepare(c, "SELECT at, kind, archive, coalesce(medium, "
	    "''), ok, coalesce(detail, ''), manual FROM checks WHERE at BETWEEN "
	    "?1 AND ?2 ORDER BY at, id");

	rep_count(c, o, "checks", "verifications and restore tests", from, to);
	bind(st, 1, from);
	bind(st, 2, to);
	while (gb_step(st) == GB_ROW) {
		const char *ok = gb_col_int64(st, 4) ? "ok" : "FAILED";
		char *what = gb_asprintf("%s%s%s%s", gb_col(st, 1),
		    gb_col_int64(st, 6) ? " (recorded by hand)" : "",
		    *gb_col(st, 5) ? ": " : "", gb_col(st, 5));
		if (o->csv) {
			const char *f[R_NCOLS] = { "check", gb_col(st, 0),
			    gb_col(st, 2) };
			f[R_MEDIUM] = gb_col(st, 3);
			f[R_STATUS] = ok;
			f[R_DETAIL] = what;
			rep_row(o, f);
		} else
			fprintf(o->f, "  %s  %s%s%s: %s, %s\n", gb_col(st, 0),
			    gb_col(st, 2), *gb_col(st, 3) ? " on " : "",
			    gb_col(st, 3), ok, what);
		free(what);
	}
	gb_finalize(st);
}

/*
 * The checkpoints issued that vouch for an entry of the period (their
 * count reaches its first), from their verified text, each held against
 * the trail (verified entries of it, broken: why not more, or NULL).
 */
static int
rep_checkpoints(struct gb_catalog *c, struct rep *o, const char *signer,
    long long verified, const char *broken, const char *from, const char *to)
{
	struct gb_stmt *st = gb_catalog_prepare(c, "SELECT text, place FROM checkpoints ORDER "
	    "BY id");
	struct gb_stmt *lim = gb_catalog_prepare(c, "SELECT min(seq), max(seq) FROM audit WHERE "
	    "at BETWEEN ?1 AND ?2");
	long long firstseq = 0, lastseq = 0;
	char *lines = NULL;
	size_t len = 0, n = 0;
	FILE *f = open_memstream(&lines, &len);
	/* its count comes first: the lines wait */
	struct rep to_lines = { f, o->csv };
	int bad = 0;

	bind(lim, 1, from);
	bind(lim, 2, to);
	if (gb_step(lim) == GB_ROW) {
		firstseq = gb_col_int64(lim, 0);
		lastseq = gb_col_int64(lim, 1);
	}
	gb_finalize(lim);
	while (gb_step(st) == GB_ROW) {
		struct gb_checkpoint ck;
		char err[1024], why[1024], entries[24], *covers;
		if (gb_checkpoint_verify(&ck, gb_col(st, 0),
		    strlen(gb_col(st, 0)), signer, err,
		    sizeof err) == -1) {
			bad = 1;
			n++;
			if (o->csv) {
				const char *fl[R_NCOLS] = { "checkpoint" };
				fl[R_POSITION] = gb_col(st, 1);
				fl[R_STATUS] = "NOT VERIFIED";
				fl[R_DETAIL] = err;
				rep_row(&to_lines, fl);
			} else
				fprintf(f, "  %s: NOT VERIFIED: %s\n", gb_col(st, 1),
				    err);
			continue;
		}
		if (!firstseq || ck.entries < firstseq) {
			gb_checkpoint_free(&ck);
			continue;
		}
		n++;
		snprintf(entries, sizeof entries, "%lld", ck.entries);
		if (gb_checkpoint_check(c, verified, broken, &ck, why,
		    sizeof why) == -1) {
			bad = 1;
			covers = gb_asprintf("CONTRADICTED BY THE TRAIL: %s", why);
		} else
			covers = ck.entries >= lastseq ? gb_strdup("covers the "
			    "whole period") : gb_asprintf("covers the period to "
			    "entry %lld of %lld", ck.entries, lastseq);
		if (o->csv) {
			const char *fl[R_NCOLS] = { "checkpoint", ck.issued };
			fl[R_BYTES] = entries;
			fl[R_SHA256] = ck.head;
			fl[R_SIGNER] = ck.signer;
			fl[R_MEDIUM] = ck.medium;
			fl[R_POSITION] = gb_col(st, 1);
			fl[R_STATUS] = covers;
			fl[R_DETAIL] = ck.site;
			rep_row(&to_lines, fl);
		} else
			fprintf(f, "  %s  %lld entries, head %s\n    site %s, %s%s "
			    "(%s%s), signed by %s; %s\n", ck.issued, ck.entries,
			    ck.head, ck.site, ck.medium ? "on " : "in ", ck.medium ?
			    ck.medium : "a file", strspn(gb_col(st, 1), "0123456789") ==
			    strlen(gb_col(st, 1)) ? "tape file " : "", gb_col(st, 1),
			    ck.signer, covers);
		free(covers);
		gb_checkpoint_free(&ck);
	}
	gb_finalize(st);
	if (fclose(f) != 0)
		gb_errx(GB_EXIT_RUN, "out of memory");
	if (!o->csv) {
		fprintf(o->f, "\ncheckpoints that cover the period: %zu\n", n);
		fputs(lines, o->f);
	}
	free(lines);
	return bad;
}

int
gb_audit_report(const struct gb_audit_report *r)
{
	struct gb_catalog *c = r->c;
	const char *signer = r->signer, *from = r->from, *to = r->to;
	char head[65], err[512], *text = NULL, *out, *site;
	struct rep o = { NULL, NULL };
	struct gb_out csv;
	size_t len = 0, olen;
	int fd = -1;
	long long n;
	int bad = 0, broken;
	gpgme_ctx_t g;
	gpgme_key_t key;

	if (r->csv) {
		if ((fd = memfd_create("gb-catalog-report", MFD_CLOEXEC)) == -1)
			gb_err(GB_EXIT_RUN, "memfd_create");
		gb_out_init(&csv, fd, 0);
		o.csv = &csv;
	} else
		o.f = open_memstream(&text, &len);
	site = one_site(c);
	broken = gb_catalog_audit_head(c, site, &n, head, err, sizeof err) == -1;
	free(site);
	if (o.csv) {
		const char *f[R_NCOLS] = { "trail", r->now };
		char count[24];
		rep_row(&o, rep_cols);
		snprintf(count, sizeof count, "%lld", n);
		f[R_BYTES] = count;
		f[R_SHA256] = head;
		f[R_STATUS] = broken ? "BROKEN" : "intact";
		f[R_DETAIL] = broken ? err : r->site;
		rep_row(&o, f);
	} else {
		fprintf(o.f, "gymbackup audit report, site %s: %s to %s\n",
		    r->site, from, to);
		fprintf(o.f, "made %s from the catalog %s\n", r->now, c->path);
		if (broken)
			fprintf(o.f, "audit trail: BROKEN: %s (%lld entries verify, "
			    "head %s)\n", err, n, head);
		else
			fprintf(o.f, "audit trail: intact, %lld entries, head %s\n",
			    n, head);
	}
	bad |= broken;
	bad |= rep_archives(c, &o, signer, from, to);
	rep_moves(c, &o, from, to);
	rep_checks(c, &o, from, to);
	bad |= rep_checkpoints(c, &o, signer, n, broken ? err : NULL, from, to);
	if (o.csv) {
		struct stat sb;
		if (gb_out_finish(&csv, NULL) == -1 || fstat(fd, &sb) == -1)
			gb_err(GB_EXIT_RUN, "the report in memory");
		len = (size_t)sb.st_size;
		text = gb_malloc(len + 1);
		if (pread(fd, text, len, 0) != (ssize_t)len)
			gb_err(GB_EXIT_RUN, "the report in memory");
		text[len] = '\0';
		close(fd);
	} else if (fclose(o.f) != 0)
		gb_errx(GB_EXIT_RUN, "out of memory");
	/* signed when the signer's secret key is here; else said so */
	g = gb_pgp_new();
	if ((key = gb_pgp_key(g, signer, 's', err, sizeof err))) {
		out = gb_clearsign(g, key, "report", text, &olen, err,
		    sizeof err);
		gpgme_key_unref(key);
		if (!out)
			gb_errx(GB_EXIT_RUN, "%s", err);
		fwrite(out, 1, olen, stdout);
		free(out);
	} else {
		gb_warnx("warning: the report is not signed: %s", err);
		fwrite(text, 1, len, stdout);
	}
	gpgme_release(g);
	free(text);
	return bad ? GB_EXIT_CHECK : GB_EXIT_OK;
}
