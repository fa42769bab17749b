/*
 * gb-restore - bring sealed archives back: to a directory (the export
 * set), or into a new SQLite database (a full, then its incrementals in
 * chain order; the chains of several jobs one after the other), or as
 * the restore drill (--test) into a scratch database.  --at takes the
 * chains current at a time from the catalog; --media finds each archive
 * on whichever medium given holds it.
 * Every seal is verified before anything is read; each sealed file is
 * read once, its bytes hashed as they are decrypted; its hash and the
 * inner signature are checked before anything is made usable: output is
 * built under a temporary name (a database in one transaction) and
 * renamed into place only when every archive checked, and taken away
 * again when its directory cannot be synced.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gb.h"
#include "gb-db.h"
#include "gb-media.h"
#include "gb-pgp.h"

struct archive_in {
	char *path;		/* the .tar.gz.gpg */
	struct gb_seal seal;
};

struct restore {
	const char *confpath;
	struct gb_conf conf;
	const char *signer;
	const char *outdir;
	const char *target;	/* sqlite:PATH or a PostgreSQL connection */
	const char *pgschema;	/* --schema: PostgreSQL's tables all go there */
	struct gb_target t;	/* -d or --test: the target, t.t NULL if none */
	int test, verbose;
	const char **media;	/* --media: the archives are on these */
	size_t nmedia;
	const char *at;		/* --at: the moment restored */
	char when[21];		/* ... as the catalog writes times */
	const char *site;	/* --site: whose archives (the config's) */
	const char **jobs;	/* -j: only the chains of these jobs */
	size_t njobs;
	const char **tables;	/* -t: only these tables */
	size_t ntables;
	int list;		/* --list: the plan first (or only) */
	struct gb_catalog *cat;	/* read only; NULL without a catalog */
	struct gb_medium *medium;
	char **from;		/* per archive path: the medium it is on */
	char **argv;		/* ... those paths */
	size_t nfrom;
	struct archive_in *in;	/* in chain order once ordered */
	size_t nin;
	int mismatch;		/* a table differs from its MANIFEST */
	int failures;
};

static void
usage(FILE *fp, int status)
{
	fprintf(fp, "usage: gb-restore [-qv] [-c conf] [--signer fpr] "
	    "[--media media ...]\n"
	    "                  [-t table ...] [--list] "
	    "--test | -o dir | -d target\n"
	    "                  archive ...\n"
	    "       gb-restore [-qv] [-c conf] [--signer fpr] "
	    "[--media media ...]\n"
	    "                  [-t table ...] [--list] [--test] "
	    "-d postgresql://...\n"
	    "                  [--schema name] archive ...\n"
	    "       gb-restore [-qv] [-c conf] [--signer fpr] "
	    "[--media media ...]\n"
	    "                  --at time [--site site] [-j job ...] "
	    "[-t table ...]\n"
	    "                  [--list] [--test | -o dir | -d target]\n"
	    "       gb-restore [-c conf] [--signer fpr] "
	    "[--media media ...] --list\n"
	    "                  archive ...\n");
	exit(status);
}

/* Is table name one to restore (-t, or every table)? */
static int
chosen(const struct restore *r, const char *name)
{
	for (size_t i = 0; i < r->ntables; i++)
		if (strcmp(r->tables[i], name) == 0)
			return 1;
	return r->ntables == 0;
}

/* A table restored that both fulls hold, or NULL. */
static const char *
shared_table(const struct restore *r, const struct archive_in *a,
    const struct archive_in *b)
{
	const struct gb_manifest *m = &a->seal.manifest;

	for (size_t i = 0; i < m->ntables; i++)
		if (chosen(r, m->tables[i].name) &&
		    gb_manifest_table(&b->seal.manifest, m->tables[i].name))
			return m->tables[i].name;
	return NULL;
}

/* Loads and checks the seal of one archive named on the command line. */
static void
load_seal(struct restore *r, struct archive_in *in, const char *arg)
{
	char *sealpath = gb_seal_path(arg), err[1024];
	const char *base;
	struct stat sb;
	int rc;

	in->path = gb_archive_path(arg);
	if (strcmp(sealpath, in->path) == 0)
		gb_errx(GB_EXIT_USAGE, "%s: not an archive (.tar.gz.gpg) "
		    "or a seal (.seal)", arg);
	rc = gb_seal_load(&in->seal, sealpath, r->signer, err, sizeof err);
	if (rc)
		gb_errx(rc == -2 ? GB_EXIT_RUN : GB_EXIT_CHECK, "%s; "
		    "nothing restored", err);
	base = strrchr(in->path, '/') ? strrchr(in->path, '/') + 1 : in->path;
	if (strcmp(base, in->seal.archive) != 0)
		gb_errx(GB_EXIT_CHECK, "%s: the seal is of %s; nothing "
		    "restored", sealpath, in->seal.archive);
	/*
	 * The size, early; the hash is of the bytes decrypted, taken
	 * as they are read (gb_walk_archive): hashing the file now
	 * would prove nothing about what is read later.
	 */
	if (stat(in->path, &sb) == -1)
		gb_err(GB_EXIT_RUN, "cannot read %s", in->path);
	if ((uint64_t)sb.st_size != in->seal.size)
		gb_errx(GB_EXIT_CHECK, "%s: size or SHA-256 differs from "
		    "its seal (truncated or altered); nothing restored",
		    in->path);
	free(sealpath);
}

/* A manifest's job, "" for none: chains are ordered and matched by it. */
static const char *
job_of(const struct archive_in *a)
{
	return a->seal.manifest.job ? a->seal.manifest.job : "";
}

static int
is_full(const struct archive_in *a)
{
	return strcmp(a->seal.manifest.level, "full") == 0;
}

/* The full not yet used of the first job by name, or n. */
static size_t
next_full(const struct archive_in *in, const char *used, size_t n)
{
	size_t best = n;

	for (size_t i = 0; i < n; i++)
		if (!used[i] && is_full(&in[i]) && (best == n ||
		    strcmp(job_of(&in[i]), job_of(&in[best])) < 0))
			best = i;
	return best;
}

/* The archive not yet used that builds on prev, or n. */
static size_t
next_on(const struct archive_in *in, const char *used, size_t n,
    const struct archive_in *prev)
{
	const struct gb_manifest *p = &prev->seal.manifest;
	size_t next = n;

	for (size_t i = 0; i < n; i++) {
		const struct gb_manifest *m = &in[i].seal.manifest;
		if (used[i] || !m->base || strcmp(m->base, p->id) != 0)
			continue;
		if (next != n)
			gb_errx(GB_EXIT_USAGE, "%s and %s both build on %s; "
			    "give one chain", in[next].path, in[i].path, p->id);
		next = i;
	}
	if (next < n && (strcmp(in[next].seal.manifest.site, p->site) ||
	    strcmp(in[next].seal.manifest.source_name ?
	    in[next].seal.manifest.source_name : "", p->source_name ?
	    p->source_name : "")))
		gb_errx(GB_EXIT_USAGE, "%s is from another site or source",
		    in[next].path);
	return next;
}

/* An archive on no chain: the gap is after the chain of its job. */
static _Noreturn void
gap(const struct restore *r, size_t k, const struct archive_in *a)
{
	size_t end = k - 1;

	for (size_t j = 0; j < k; j++)
		if ((j + 1 == k || is_full(&r->in[j + 1])) &&
		    strcmp(job_of(&r->in[j]), job_of(a)) == 0)
			end = j;
	gb_errx(GB_EXIT_USAGE, "the chain has a gap: no archive builds on %s "
	    "(%s), and %s builds on %s", r->in[end].seal.manifest.id,
	    r->in[end].path, a->path, a->seal.manifest.base);
}

/*
 * Verifies every seal, then puts the archives in chain order: a full,
 * what builds on it in turn, then the next full and its chain.  Chains
 * of several jobs go into one target when no table restored is in two
 * of them.
 */
static void
load_and_order(struct restore *r, char **args, size_t n)
{
	struct archive_in *in = gb_calloc(n, sizeof *in);
	char *used = gb_calloc(n, 1);
	const char *t;
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		load_seal(r, &in[i], args[i]);
	for (size_t f = 0; f < n; f++)
		for (size_t g = 0; g < f && is_full(&in[f]); g++)
			if (is_full(&in[g]) && (t = shared_table(r, &in[g],
			    &in[f])))
				gb_errx(GB_EXIT_USAGE, "%s and %s are both "
				    "full exports holding table %s; restore one "
				    "chain per job", in[g].path, in[f].path, t);
	r->in = gb_calloc(n, sizeof *r->in);
	/* chain after chain in the order of their jobs, as the catalog's */
	for (size_t i = next_full(in, used, n); i < n;) {
		r->in[k++] = in[i];
		used[i] = 1;
		if ((i = next_on(in, used, n, &r->in[k - 1])) == n)
			i = next_full(in, used, n);
	}
	if (k == 0)
		gb_errx(GB_EXIT_USAGE, "no full export among the archives; an "
		    "incremental needs the full it builds on");
	for (size_t i = 0; i < n; i++)
		if (!used[i])
			gap(r, k, &in[i]);
	r->nin = n;
	free(used);
	free(in);
}

/*
 * -t: the statements of SCHEMA.sql in one dialect that make the tables
 * chosen and their indexes, into o.  A PostgreSQL export's tables are in
 * the schema of the SET search_path before them; its SQLite ones (lite:
 * written back as its "-- sqlite: " lines) have their flat names.
 */
static int
pick_ddl(const struct restore *r, const struct gb_manifest *m, int pg,
    int lite, const char *sql, struct gb_out *o, char *err, size_t errlen)
{
	struct gb_ddl *d;
	size_t n;
	char *path = gb_strdup("public");

	if (gb_ddl_parse(pg, sql, strlen(sql), &d, &n, err, errlen) == -1) {
		free(path);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *of = d[i].kind == GB_DDL_INDEX ? d[i].on : d[i].name;
		char *text, *name = NULL;
		int keep = 0;
		if (d[i].kind == GB_DDL_PATH) {
			free(path);
			path = gb_strdup(d[i].name);
		}
		if (d[i].kind == GB_DDL_PATH || d[i].kind == GB_DDL_SCHEMA)
			keep = 1;
		else if (pg)
			keep = chosen(r, name = gb_pg_qualname(path, of));
		else if (lite) {
			char **names = gb_calloc(m->ntables + 1, sizeof *names);
			for (size_t k = 0; k < m->ntables; k++)
				names[k] = m->tables[k].name;
			for (size_t t = 0; !keep && t < r->ntables; t++) {
				free(name);
				name = gb_pg_flatname(r->tables[t], names,
				    m->ntables);
				keep = strcmp(name, of) == 0;
			}
			free(names);
		} else
			keep = chosen(r, of);
		free(name);
		if (!keep)
			continue;
		text = gb_asprintf("%s;\n", d[i].text);
		if (lite)
			gb_pg_put_lite(o, text);
		else
			gb_out_write(o, text, strlen(text));
		free(text);
	}
	gb_ddl_free(d, n);
	free(path);
	return 0;
}

/*
 * SCHEMA.sql into the target, whichever dialect each side speaks; first
 * held to what the export writes, as gb-verify --deep holds it.
 */
static int
make_schema(struct restore *r, const struct gb_manifest *m, const char *sql,
    size_t len, char *err, size_t errlen)
{
	struct gb_out o;
	char *lite;
	int rc, pg = strcmp(m->source_kind, "postgresql") == 0;

	if (gb_schema_check(m, sql, len, !(r->target &&
	    gb_pg_is_conninfo(r->target)), err, errlen) == -1)
		return -1;
	if (!r->ntables)
		return r->t.schema(r->t.t, m, sql, len, err, errlen);
	/* -t: only the tables chosen and their indexes, in both dialects */
	gb_out_init(&o, -1, 0);
	rc = pick_ddl(r, m, pg, 0, sql, &o, err, errlen);
	if (pg && rc == 0) {
		lite = gb_pg_sqlite_ddl(sql);
		rc = pick_ddl(r, m, 0, 1, lite, &o, err, errlen);
		free(lite);
	}
	gb_out_putc(&o, '\0');
	if (rc == 0)
		rc = r->t.schema(r->t.t, m, (char *)o.buf, o.len - 1, err,
		    errlen);
	gb_out_finish(&o, NULL);
	return rc;
}

/* Where restore_one puts what the walk of one archive reads. */
struct into {
	struct restore *r;
	struct archive_in *a;
	const char *dir;	/* -o: the export set's directory */
};

/* A file of the set in the directory, 0600; -2 when it cannot be made. */
static int
create_in(struct into *t, const char *name, char **path, int *fd, char *err,
    size_t errlen)
{
	*path = gb_asprintf("%s/%s", t->dir, name);
	*fd = open(*path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (*fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", *path,
		    strerror(errno));
		return -2;
	}
	gb_cleanup_add(*path);
	return 0;
}

static int
close_in(int fd, const char *path, int status, char *err, size_t errlen)
{
	if (status == 0 && (fsync(fd) == -1 || close(fd) == -1)) {
		snprintf(err, errlen, "cannot write %s: %s", path,
		    strerror(errno));
		return -2;
	}
	if (status != 0)
		close(fd);
	return status;
}

/* MANIFEST and SCHEMA.sql, checked: into the directory, or the schema. */
static int
into_small(void *arg, const char *name, const char *buf, size_t n,
    char *err, size_t errlen)
{
	struct into *t = arg;
	struct restore *r = t->r;
	char *path;
	int fd, status;

	if (t->dir) {
		if ((status = create_in(t, name, &path, &fd, err, errlen)) == 0 &&
		    gb_write_all(fd, buf, n) == -1) {
			snprintf(err, errlen, "cannot write %s: %s", path,
			    strerror(errno));
			status = -2;
		}
		status = fd >= 0 ? close_in(fd, path, status, err, errlen) :
		    status;
		free(path);
		return status;
	}
	if (strcmp(name, "SCHEMA.sql") == 0 && r->t.t)
		return make_schema(r, &t->a->seal.manifest, buf, n, err,
		    errlen);
	return 0;
}

/*
 * A table's CSV (deleted 0) or its list of deleted keys (deleted 1),
 * checked as it streams: to a file, or loaded or applied.
 */
static int
into_file(struct into *t, size_t i, int deleted, struct gb_unpack *u,
    char *err, size_t errlen)
{
	struct restore *r = t->r;
	const struct gb_manifest *m = &t->a->seal.manifest;
	const struct gb_mtable *mt = &m->tables[i];
	const struct gb_mtable *f = deleted ? mt->del : mt;
	char *path = NULL;
	int fd = -1, status = 0;

	if (!chosen(r, mt->name))	/* -t: checked, kept nowhere */
		return gb_check_table(f, gb_unpack_read, u, -1, NULL, NULL,
		    err, errlen);
	if (t->dir && (status = create_in(t, f->file, &path, &fd, err,
	    errlen)) != 0) {
		free(path);
		return status;
	}
	if (t->dir)
		status = gb_check_table(f, gb_unpack_read, u, fd, NULL, NULL,
		    err, errlen);
	else
		status = (deleted ? r->t.deletes : r->t.load)(r->t.t, m, mt,
		    gb_unpack_read, u, err, errlen);
	if (status == -1)
		r->mismatch = 1;
	if (fd >= 0)
		status = close_in(fd, path, status, err, errlen);
	free(path);
	if (status == 0 && r->verbose) {
		gb_progress_clear();
		fprintf(stderr, "gb-restore: %s: %s: %" PRIu64 " rows%s\n",
		    t->a->seal.archive, mt->name, f->rows, deleted ?
		    " deleted" : "");
	}
	return status;
}

static int
into_table(void *arg, size_t i, struct gb_unpack *u, char *err,
    size_t errlen)
{
	return into_file(arg, i, 0, u, err, errlen);
}

static int
into_deletes(void *arg, size_t i, struct gb_unpack *u, char *err,
    size_t errlen)
{
	return into_file(arg, i, 1, u, err, errlen);
}

/* Reads one archive into the database or directory; 0, -1 or -2 and why. */
static int
restore_one(struct restore *r, struct archive_in *a, const char *dir,
    char *err, size_t errlen)
{
	struct into t = { r, a, dir };
	struct gb_walk w = { into_small, into_table, &t, into_deletes };

	return gb_walk_archive(a->path, &a->seal, r->signer, &w, err, errlen);
}

/*
 * The drill's proof: what the database now holds, exported again the way
 * gb-export does, hashes to what the MANIFEST says (a full: every row;
 * an exact incremental: the whole table at its snapshot; an older one:
 * the rows past its watermark).
 */
static int
test_tables(struct restore *r, const struct gb_manifest *m)
{
	int bad = 0, devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

	for (size_t i = 0; i < m->ntables; i++) {
		const struct gb_mtable *mt = &m->tables[i];
		struct gb_mtable got = { 0 };
		struct gb_dump d = { 0 };
		struct gb_out o;
		char hex[65], err[1024];
		const char *want_sha;
		int ok;

		if (!chosen(r, mt->name))
			continue;
		d.money = gb_calloc(mt->nmoney + 1, sizeof *d.money);
		for (size_t k = 0; k < mt->nmoney; k++)
			d.money[k] = mt->money[k].column;
		d.nmoney = mt->nmoney;
		if (mt->wm_column && mt->wm_from && !mt->change) {
			d.wm_column = mt->wm_column;
			d.wm_type = mt->wm_type;
			d.wm_from = mt->wm_from;
		}
		if (mt->has_total && mt->key && *mt->key) {
			/* in key order, as the export hashed the whole table */
			char *keys = gb_strdup(mt->key), *k, *sv;
			d.key = gb_calloc(strlen(keys) + 2, sizeof *d.key);
			for (k = strtok_r(keys, ",", &sv); k; k = strtok_r(NULL,
			    ",", &sv))
				d.key[d.nkey++] = gb_strdup(k);
			free(keys);
		}
		gb_out_init(&o, devnull, 1);
		if (r->t.dump(r->t.t, m, mt, &d, &o, &got, err, sizeof err))
			gb_errx(GB_EXIT_RUN, "%s", err);
		gb_out_finish(&o, hex);
		if (mt->has_total) {
			want_sha = mt->total_sha256;
			ok = got.rows == mt->total_rows &&
			    strcmp(hex, want_sha) == 0;
			for (size_t k = 0; k < mt->nmoney; k++)
				ok = ok && got.money[k].sum ==
				    mt->total_money[k].sum;
		} else {
			want_sha = mt->sha256;
			ok = got.rows == mt->rows && o.bytes == mt->bytes &&
			    strcmp(hex, want_sha) == 0;
			for (size_t k = 0; k < mt->nmoney; k++)
				ok = ok && got.money[k].sum == mt->money[k].sum;
		}
		printf("%s: %s %s: %" PRIu64 " rows, sha256 %s, money sums %s\n",
		    ok ? "OK" : "FAIL", m->id, mt->name, got.rows,
		    strcmp(hex, want_sha) == 0 ? "match" : "DIFFER",
		    ok ? "match" : "checked");
		gb_free_strv(d.key);
		bad += !ok;
		for (size_t k = 0; k < got.nmoney; k++)
			free(got.money[k].column);
		free(got.money);
		free(d.money);
	}
	close(devnull);
	return bad;
}

/*
 * The rows in a table of the target now (past 1: only those above the
 * watermark the incremental was cut from); -1 when it is not there.
 */
static int64_t
target_rows(struct restore *r, const struct gb_manifest *m,
    const struct gb_mtable *mt, int past)
{
	char err[1024];
	int64_t n;

	if (r->t.rows(r->t.t, m, mt, past, &n, err, sizeof err))
		gb_errx(GB_EXIT_RUN, "%s", err);
	return n;
}

/*
 * After -d, the rows the target holds against the MANIFEST, table by
 * table.  A full: exactly its rows.  An incremental holds upserts and no
 * deletions, so the table lost none, gained at most the incremental's
 * rows, held at least them, and (with a watermark) holds exactly its rows
 * past the watermark it was cut from.  before: the counts before it.
 */
static void
check_rows(struct restore *r, const struct archive_in *a,
    const int64_t *before)
{
	const struct gb_manifest *m = &a->seal.manifest;

	for (size_t i = 0; i < m->ntables; i++) {
		const struct gb_mtable *mt = &m->tables[i];
		int64_t got, past = -1, want = (int64_t)mt->rows;
		int ok;

		if (!chosen(r, mt->name))
			continue;
		got = target_rows(r, m, mt, 0);
		if (mt->has_total)	/* an exact incremental: the whole table */
			ok = got == (int64_t)mt->total_rows;
		else if (!before || (mt->change && strcmp(mt->change,
		    "whole") == 0))
			ok = got == want;
		else {
			ok = got >= before[i] && got <= before[i] + want &&
			    got >= want;
			if (ok && mt->wm_column && mt->wm_from)
				ok = (past = target_rows(r, m, mt, 1)) == want;
		}
		if (ok)
			continue;
		if (past >= 0)
			gb_errx(GB_EXIT_CHECK, "%s: table %s: %" PRId64 " rows "
			    "past the watermark in the target after loading, the "
			    "MANIFEST says %" PRId64 "; nothing restored", a->path,
			    mt->name, past, want);
		if (mt->has_total)
			gb_errx(GB_EXIT_CHECK, "%s: table %s: %" PRId64 " rows in "
			    "the target after loading, the source held %" PRIu64
			    " at the snapshot; nothing restored", a->path,
			    mt->name, got, mt->total_rows);
		if (before)
			gb_errx(GB_EXIT_CHECK, "%s: table %s: %" PRId64 " rows in "
			    "the target after loading (%" PRId64 " before), which "
			    "the MANIFEST's %" PRId64 " upserted rows do not "
			    "account for; nothing restored", a->path, mt->name,
			    got, before[i], want);
		gb_errx(GB_EXIT_CHECK, "%s: table %s: %" PRId64 " rows in the "
		    "target after loading, the MANIFEST says %" PRId64 "; "
		    "nothing restored", a->path, mt->name, got, want);
	}
}

/* -d or --test: the target, chosen once. */
static void
open_target(struct restore *r)
{
	char err[1024];
	int rc;

	if (r->target && gb_pg_is_conninfo(r->target))
		rc = gb_restore_pg_open(&r->t, r->target, r->pgschema, r->test,
		    err, sizeof err);
	else if (r->test)
		rc = gb_restore_sqlite_open(&r->t, NULL, err, sizeof err);
	else if (strncmp(r->target, "sqlite:", 7) != 0 || !r->target[7])
		gb_errx(GB_EXIT_USAGE, "%s: unknown target; use sqlite:PATH or "
		    "a PostgreSQL URI (postgresql://...)", r->target);
	else
		rc = gb_restore_sqlite_open(&r->t, r->target + 7, err,
		    sizeof err);
	if (rc)
		gb_errx(rc == -1 ? GB_EXIT_USAGE : GB_EXIT_RUN, "%s", err);
}

/* Indexes and commit: the output usable (the drill's rolled back). */
static void
finish_target(struct restore *r)
{
	char err[1024];

	if (r->t.finish(r->t.t, err, sizeof err))
		gb_errx(GB_EXIT_RUN, "%s", err);
}

static void
restore_dirs(struct restore *r)
{
	struct stat sb;
	char *tmp, err[1024];

	if (lstat(r->outdir, &sb) == 0)
		gb_errx(GB_EXIT_USAGE, "%s exists; restore into a new directory",
		    r->outdir);
	tmp = gb_tmp_template("%s.tmp", r->outdir);
	if (gb_mktemp(tmp, 1) == -1)
		gb_err(GB_EXIT_RUN, "cannot create %s", tmp);
	for (size_t i = 0; i < r->nin; i++) {
		char *dir = tmp;
		int rc;
		if (r->nin > 1) {	/* one export set per archive */
			dir = gb_asprintf("%s/%.*s", tmp, (int)(strlen(
			    r->in[i].seal.archive) - strlen(".tar.gz.gpg")),
			    r->in[i].seal.archive);
			if (mkdir(dir, 0700) == -1)
				gb_err(GB_EXIT_RUN, "cannot create %s", dir);
			gb_cleanup_add(dir);
		}
		if ((rc = restore_one(r, &r->in[i], dir, err, sizeof err)))
			gb_errx(rc < -1 ? GB_EXIT_RUN : GB_EXIT_CHECK, "%s: %s; "
			    "nothing restored", r->in[i].path, err);
		if (dir != tmp)
			free(dir);
	}
	if (gb_restore_rename(tmp, r->outdir, err, sizeof err))
		gb_errx(GB_EXIT_RUN, "%s", err);
	gb_cleanup_clear();
	free(tmp);
}

/* The media given, by their labels. */
static void
open_media(struct restore *r)
{
	char err[1024];

	r->medium = gb_calloc(r->nmedia, sizeof *r->medium);
	for (size_t k = 0; k < r->nmedia; k++)
		if (gb_medium_open(&r->medium[k], r->media[k], err,
		    sizeof err) == -1)
			gb_errx(GB_EXIT_RUN, "%s", err);
}

/*
 * Each archive named on whichever medium given holds it, in any order: a
 * chain may span a weekly tape and the daily drives.
 */
static void
find_on_media(struct restore *r, int argc, char **argv)
{
	char err[1024];

	r->from = gb_calloc((size_t)argc, sizeof *r->from);
	for (int i = 0; i < argc; i++) {
		const char *on;
		char *found = gb_medium_find(r->medium, r->nmedia, r->cat,
		    r->site, argv[i], &on, err, sizeof err);
		if (!found)
			gb_errx(GB_EXIT_RUN, "%s; nothing restored", err);
		r->from[i] = (char *)on;
		argv[i] = found;	/* freed with the process */
	}
	r->nfrom = (size_t)argc;
	r->argv = argv;
}

/* The medium an archive was read from, or NULL. */
static const char *
medium_of(const struct restore *r, const char *archive_path)
{
	for (size_t i = 0; i < r->nfrom; i++)
		if (strcmp(r->argv[i], archive_path) == 0)
			return r->from[i];
	return NULL;
}

/* Is the medium id one of those given? */
static int
given(const struct restore *r, const char *id)
{
	for (size_t k = 0; k < r->nmedia; k++)
		if (strcmp(r->medium[k].id, id) == 0)
			return 1;
	return 0;
}

/* Adds s to the list *v unless it is there. */
static void
add_once(char ***v, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0)
			return;
	*v = gb_realloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = gb_strdup(s);
}

static void
print_list(const char *what, char **v, size_t n)
{
	printf("%s:", what);
	for (size_t i = 0; i < n; i++) {
		printf("%s%s", i ? ", " : " ", v[i]);
		free(v[i]);
	}
	printf("%s\n", n ? "" : " nothing");
	free(v);
}

/*
 * --list: the archives in the order they are restored, the media that
 * hold each and where each is (the catalog's good copies; without a
 * catalog the medium given that holds it), and what to fetch from the
 * vault: a medium offsite for each archive on no medium onsite or given.
 * 1 when an archive has no good copy.
 */
static int
print_plan(struct restore *r, const struct gb_link *v, size_t n)
{
	struct gb_stmt *st = r->cat ? gb_catalog_prepare(r->cat, "SELECT "
	    "c.medium, m.location, m.kind, c.position FROM copies c JOIN media "
	    "m ON " GB_COPY_MEDIUM("c", "m") " WHERE c.site = ?2 AND "
	    "c.archive = ?1 AND c.status = 'good' ORDER BY c.id, m.site") :
	    NULL;
	char **vault = NULL, **transit = NULL;
	size_t nvault = 0, ntransit = 0, chains = 0;
	int lost = 0;

	for (size_t i = 0; i < n; i++)
		chains += strcmp(v[i].level, "full") == 0;
	if (r->at)
		printf("plan for the state at %s: ", r->when);
	else
		printf("plan: ");
	printf("%zu chain%s, %zu archive%s\n", chains, chains == 1 ? "" : "s",
	    n, n == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++) {
		char *off = NULL, *moving = NULL;
		const char *on;
		int here = 0, copies = 0;
		if (strcmp(v[i].level, "full") == 0)
			printf("job %s:\n", v[i].job);
		printf("  %zu  %-11s  %s  %s\n", i + 1, v[i].level,
		    v[i].snapshot, v[i].name);
		if (!st) {	/* no catalog: the medium given, or a file */
			on = medium_of(r, r->in[i].path);
			printf("      %s %s\n", on ? "on" : "at", on ? on :
			    r->in[i].path);
			continue;
		}
		gb_reset(st);
		gb_bind_text(st, 1, v[i].name);
		gb_bind_text(st, 2, r->site);
		while (gb_step(st) == GB_ROW) {
			const char *id = gb_col(st, 0), *loc = gb_col(st, 1);
			printf("      on %s (%s, %s %s)\n", id, loc,
			    strcmp(gb_col(st, 2), "tape") == 0 ? "tape file" :
			    "file", gb_col(st, 3));
			copies++;
			if (strcmp(loc, "onsite") == 0 || given(r, id))
				here = 1;
			else if (strcmp(loc, "offsite") == 0 && !off)
				off = gb_strdup(id);
			else if (strcmp(loc, "transit") == 0 && !moving)
				moving = gb_strdup(id);
		}
		if (!copies) {
			printf("      NO GOOD COPY on any medium\n");
			lost = 1;
		} else if (!here && off)
			add_once(&vault, &nvault, off);
		else if (!here)
			add_once(&transit, &ntransit, moving);
		free(off);
		free(moving);
	}
	if (!st)	/* only the catalog knows where media are */
		return lost;
	gb_finalize(st);
	print_list("fetch from the vault", vault, nvault);
	if (ntransit)
		print_list("in transit", transit, ntransit);
	else
		free(transit);
	return lost;
}

/*
 * --at: the chains of the site current then, of every job or of each job
 * named, from the catalog; a job without one is exit 1.
 */
static struct gb_link *
at_plan(struct restore *r, const char *catpath, size_t *n)
{
	struct gb_link *v = gb_catalog_chains(r->cat, r->site, r->when,
	    r->jobs, r->njobs, n);

	if (!*n && !r->njobs)
		gb_errx(GB_EXIT_CHECK, "no full archive at or before %s in the "
		    "catalog %s for site %s", r->when, catpath, r->site);
	for (size_t j = 0; j < r->njobs; j++) {
		size_t i = 0;
		while (i < *n && strcmp(v[i].job, r->jobs[j]) != 0)
			i++;
		if (i == *n)
			gb_errx(GB_EXIT_CHECK, "job %s: no full archive at or "
			    "before %s in the catalog %s for site %s", r->jobs[j],
			    r->when, catpath, r->site);
	}
	return v;
}

/* Adds s to a list of options' arguments. */
static void
push(const char ***v, size_t *n, const char *s)
{
	*v = gb_realloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = s;
}

/* -t: each table is in an archive. */
static void
check_tables(const struct restore *r)
{
	for (size_t t = 0; t < r->ntables; t++) {
		size_t i = 0;
		while (i < r->nin && !gb_manifest_table(&r->in[i].seal.manifest,
		    r->tables[t]))
			i++;
		if (i == r->nin)
			gb_errx(GB_EXIT_USAGE, "-t %s: no table of that name "
			    "in the archives; nothing restored", r->tables[t]);
	}
}

/* The policy's restore test goes into the catalog, when there is one. */
static void
record_test(struct restore *r)
{
	const char *path = gb_catalog_path(&r->conf);
	struct gb_catalog *c;
	char detail[128];

	if (!path)
		return;
	/* the catalog keys a test by the host's site and the archive's name */
	if (strcmp(r->site, gb_site_name(&r->conf))) {
		gb_warnx("warning: restore test of site %s's archives not "
		    "recorded: this host records site %s's", r->site,
		    gb_site_name(&r->conf));
		return;
	}
	c = gb_catalog_open(path, gb_site_name(&r->conf));
	snprintf(detail, sizeof detail, "chain of %zu, %d table%s differ%s",
	    r->nin, r->failures, r->failures == 1 ? "" : "s",
	    r->failures == 1 ? "s" : "");
	for (size_t i = 0; i < r->nin; i++)
		gb_catalog_record_check(c, "restore-test", r->in[i].seal.archive,
		    medium_of(r, r->in[i].path), !r->failures, detail, NULL);
	gb_catalog_close(c);
}

static void
restore_free(struct restore *r)
{
	for (size_t i = 0; i < r->nin; i++) {
		free(r->in[i].path);
		gb_seal_free(&r->in[i].seal);
	}
	free(r->in);
	gb_conf_free(&r->conf);
	for (size_t k = 0; k < r->nmedia; k++)
		gb_medium_close(&r->medium[k]);
	free(r->medium);
	free(r->media);
	free(r->from);
	free(r->jobs);
	free(r->tables);
	gb_catalog_close(r->cat);
	if (r->t.t)
		r->t.close(r->t.t);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "test", no_argument, NULL, 'T' },
		{ "signer", required_argument, NULL, 'S' },
		{ "media", required_argument, NULL, 'M' },
		{ "schema", required_argument, NULL, 'P' },
		{ "at", required_argument, NULL, 'A' },
		{ "list", no_argument, NULL, 'L' },
		{ "site", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, GB_OPT_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	struct restore r = { 0 };
	struct gb_link *plan = NULL;
	size_t nplan = 0;
	const char *catpath;
	int c, modes, lost = 0;

	gb_setprogname(argv[0]);
	atexit(gb_close_stdout);
	while ((c = getopt_long(argc, argv, "c:d:hj:o:qt:v", longopts, NULL)) !=
	    -1)
		switch (c) {
		case 'A': r.at = optarg; break;
		case 'G': r.site = optarg; break;
		case 'j': push(&r.jobs, &r.njobs, optarg); break;
		case 'L': r.list = 1; break;
		case 't': push(&r.tables, &r.ntables, optarg); break;
		case 'c': r.confpath = optarg; break;
		case 'd': r.target = optarg; break;
		case 'h': usage(stdout, GB_EXIT_OK); break;
		case 'o': r.outdir = optarg; break;
		case 'S': r.signer = optarg; break;
		case 'M':
			push(&r.media, &r.nmedia, optarg);
			break;
		case 'P': r.pgschema = optarg; break;
		case 'q': gb_progress_quiet(); break;
		case 'T': r.test = 1; break;
		case 'v': r.verbose = 1; break;
		case GB_OPT_VERSION: gb_version();
		default: usage(stderr, GB_EXIT_USAGE);
		}
	argc -= optind;
	argv += optind;
	/* --test goes with -d only for PostgreSQL: a scratch schema there */
	modes = !!r.outdir + !!r.target + r.test;
	if ((r.at ? argc != 0 : argc == 0) || (modes || !r.list ? modes !=
	    1 + (r.test && r.target && gb_pg_is_conninfo(r.target)) : 0))
		usage(stderr, GB_EXIT_USAGE);
	if (r.njobs && !r.at)
		gb_errx(GB_EXIT_USAGE, "-j goes with --at: restore the chains "
		    "of jobs at a time, or name the archives");
	if (r.site && !*r.site)
		gb_errx(GB_EXIT_USAGE, "--site wants a site's name");
	if (r.at && gb_parse_date(r.at, r.when) == -1)
		gb_errx(GB_EXIT_USAGE, "--at %s: not a time (YYYY-MM-DD or "
		    "YYYY-MM-DDTHH:MM:SSZ)", r.at);
	if (r.at && modes && !r.nmedia)
		gb_errx(GB_EXIT_USAGE, "--at needs --media: the media that "
		    "hold the archives (--at %s --list shows which)", r.at);
	if (r.pgschema && (!r.target || !gb_pg_is_conninfo(r.target) ||
	    r.test || !*r.pgschema))
		gb_errx(GB_EXIT_USAGE, "--schema goes with -d postgresql://..., "
		    "without --test");
	gb_conf_open(&r.conf, r.confpath);
	if (!r.site)
		r.site = gb_site_name(&r.conf);
	if (!r.signer)
		r.signer = gb_conf_get(&r.conf, "keys", "signer");
	if ((!r.signer || !*r.signer) && (modes || !r.at))
		gb_errx(GB_EXIT_USAGE, "no signer pinned: give --signer "
		    "FINGERPRINT or set signer in the [keys] section of the "
		    "config");
	/*
	 * Read only, to plan and to find archives: an auditor's copy of
	 * the catalog will do.  Lost with the server, the seals on the
	 * media order the chains.
	 */
	catpath = gb_catalog_path(&r.conf);
	if (r.at && !catpath)
		gb_errx(GB_EXIT_USAGE, "--at needs the catalog: set "
		    "GB_CATALOG or path in the [catalog] section of the "
		    "config; without it, name the archives");
	if (catpath && (r.at || ((r.nmedia || r.list) && access(catpath,
	    F_OK) == 0)))
		r.cat = gb_catalog_open_as(catpath, gb_site_name(&r.conf),
		    GB_CATALOG_READ);
	if (r.at)
		plan = at_plan(&r, catpath, &nplan);
	gb_cleanup_signals();
	gb_tmp_reap(gb_tmpdir(), "gb-restore");	/* a killed drill's scratch */
	if (r.nmedia)
		open_media(&r);
	if (r.at && r.list)
		lost = print_plan(&r, plan, nplan);
	if (r.at && !modes) {
		gb_links_free(plan, nplan);
		restore_free(&r);
		return lost ? GB_EXIT_CHECK : GB_EXIT_OK;
	}
	if (r.at) {	/* the archives of the plan, as if named */
		argc = (int)nplan;
		argv = gb_calloc(nplan + 1, sizeof *argv);
		for (size_t i = 0; i < nplan; i++)
			argv[i] = plan[i].name;
	}
	if (r.nmedia)
		find_on_media(&r, argc, argv);
	load_and_order(&r, argv, (size_t)argc);
	check_tables(&r);
	if (!r.at && r.list) {
		plan = gb_calloc(r.nin, sizeof *plan);
		for (size_t i = 0; i < r.nin; i++) {
			const struct gb_manifest *m = &r.in[i].seal.manifest;
			/* borrowed, not freed */
			plan[i] = (struct gb_link){ m->job ? m->job :
			    (char *)"-", r.in[i].seal.archive, m->level,
			    m->snapshot, (char *)r.site };
		}
		lost = print_plan(&r, plan, r.nin);
		free(plan);
		plan = NULL;
		if (!modes) {
			restore_free(&r);
			return lost ? GB_EXIT_CHECK : GB_EXIT_OK;
		}
	}
	fflush(stdout);

	if (r.outdir) {
		restore_dirs(&r);
		gb_links_free(plan, nplan);
		restore_free(&r);
		return GB_EXIT_OK;
	}
	open_target(&r);
	for (size_t i = 0; i < r.nin; i++) {
		const struct gb_manifest *m = &r.in[i].seal.manifest;
		int64_t *before = NULL;
		char err[1024];
		int rc;

		if (!r.test && strcmp(m->level, "incremental") == 0) {
			before = gb_calloc(m->ntables, sizeof *before);
			for (size_t k = 0; k < m->ntables; k++)
				if (!chosen(&r, m->tables[k].name) ||
				    (before[k] = target_rows(&r, m,
				    &m->tables[k], 0)) < 0)
					before[k] = 0;	/* new since the full */
		}
		rc = restore_one(&r, &r.in[i], NULL, err, sizeof err);
		if (rc == -1 && r.test && r.mismatch) {	/* the drill's finding */
			printf("FAIL: %s: %s\n", r.in[i].seal.manifest.id, err);
			printf("restore test: %zu archive%s, FAILED\n", r.nin,
			    r.nin == 1 ? "" : "s");
			r.failures++;
			record_test(&r);
			gb_errx(GB_EXIT_CHECK, "%s: %s; nothing restored",
			    r.in[i].path, err);
		}
		if (rc)
			gb_errx(rc < -1 ? GB_EXIT_RUN : GB_EXIT_CHECK, "%s: %s; "
			    "nothing restored", r.in[i].path, err);
		if (!r.test)
			check_rows(&r, &r.in[i], before);
		free(before);
		if (r.test)
			r.failures += test_tables(&r, &r.in[i].seal.manifest);
	}
	finish_target(&r);
	if (r.test) {
		printf("restore test: %zu archive%s, %s\n", r.nin, r.nin == 1 ?
		    "" : "s", r.failures ? "FAILED" : "OK");
		record_test(&r);
		gb_cleanup_run();	/* the scratch database goes */
	}
	gb_links_free(plan, nplan);
	restore_free(&r);
	return r.failures ? GB_EXIT_CHECK : GB_EXIT_OK;
}
