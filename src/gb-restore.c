/*
 * gb-restore - bring sealed archives back: to a directory (the export
 * set), or into a new SQLite database (a full, then its incrementals in
 * chain order), or as the restore drill (--test) into a scratch database.
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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "gb.h"

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
	struct gb_pgtarget *pgt;	/* the PostgreSQL target, or NULL */
	int test, verbose;
	const char **media;	/* --media: the archives are on these */
	size_t nmedia;
	struct gb_medium *medium;
	char **from;		/* per archive path: the medium it is on */
	char **argv;		/* ... those paths */
	size_t nfrom;
	struct archive_in *in;	/* in chain order once ordered */
	size_t nin;
	char *dbpath, *tmpdb, *scratchdir;
	sqlite3 *db;
	char **indexes;		/* CREATE INDEX statements, run after the load */
	int mismatch;		/* a table differs from its MANIFEST */
	size_t nindexes;
	int failures;
};

/* The table being loaded: one prepared INSERT or upsert. */
struct load {
	struct restore *r;
	const struct gb_mtable *mt;
	char *table;		/* its name in the database */
	int incremental;
	sqlite3_stmt *st;
	char *affinity;		/* per column: i r n t b (SQLite affinities) */
	size_t ncols;
};

static void
usage(FILE *fp, int status)
{
	fprintf(fp, "usage: gb-restore [-v] [-c conf] [--signer fpr] "
	    "[--media media] [--test | -o dir | -d target] archive...\n"
	    "       gb-restore [-v] [-c conf] [--signer fpr] [--media media] "
	    "[--test]\n"
	    "                  -d postgresql://... [--schema name] archive...\n");
	exit(status);
}

static _Noreturn void
db_fail(struct restore *r, const char *what)
{
	gb_errx(GB_EXIT_RUN, "%s: %s: %s", r->dbpath ? r->dbpath : "scratch "
	    "database", what, sqlite3_errmsg(r->db));
}

static void
exec(struct restore *r, const char *sql)
{
	if (sqlite3_exec(r->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		db_fail(r, sql);
}

/* Verifies every seal, then puts the archives in chain order. */
static void
load_and_order(struct restore *r, char **args, size_t n)
{
	struct archive_in *in = gb_calloc(n, sizeof *in);
	struct archive_in **order = gb_calloc(n, sizeof *order);
	size_t full = n;

	for (size_t i = 0; i < n; i++) {
		char *sealpath = gb_seal_path(args[i]), err[1024];
		const char *base;
		struct stat sb;
		int rc;

		in[i].path = gb_archive_path(args[i]);
		if (strcmp(sealpath, in[i].path) == 0)
			gb_errx(GB_EXIT_USAGE, "%s: not an archive (.tar.gz.gpg) "
			    "or a seal (.seal)", args[i]);
		rc = gb_seal_load(&in[i].seal, sealpath, r->signer, err,
		    sizeof err);
		if (rc)
			gb_errx(rc == -2 ? GB_EXIT_RUN : GB_EXIT_CHECK, "%s; "
			    "nothing restored", err);
		base = strrchr(in[i].path, '/') ? strrchr(in[i].path, '/') + 1 :
		    in[i].path;
		if (strcmp(base, in[i].seal.archive) != 0)
			gb_errx(GB_EXIT_CHECK, "%s: the seal is of %s; nothing "
			    "restored", sealpath, in[i].seal.archive);
		/*
		 * The size, early; the hash is of the bytes decrypted, taken
		 * as they are read (gb_walk_archive): hashing the file now
		 * would prove nothing about what is read later.
		 */
		if (stat(in[i].path, &sb) == -1)
			gb_err(GB_EXIT_RUN, "cannot read %s", in[i].path);
		if ((uint64_t)sb.st_size != in[i].seal.size)
			gb_errx(GB_EXIT_CHECK, "%s: size or SHA-256 differs from "
			    "its seal (truncated or altered); nothing restored",
			    in[i].path);
		if (strcmp(in[i].seal.manifest.level, "full") == 0) {
			if (full != n)
				gb_errx(GB_EXIT_USAGE, "%s and %s are both full "
				    "exports; restore one chain at a time",
				    in[full].path, in[i].path);
			full = i;
		}
		free(sealpath);
	}
	if (full == n)
		gb_errx(GB_EXIT_USAGE, "no full export among the archives; an "
		    "incremental needs the full it builds on");
	order[0] = &in[full];
	for (size_t k = 1; k < n; k++) {
		const struct gb_manifest *prev = &order[k - 1]->seal.manifest;
		size_t next = n;
		for (size_t i = 0; i < n; i++) {
			const struct gb_manifest *m = &in[i].seal.manifest;
			if (m->base && strcmp(m->base, prev->id) == 0) {
				if (next != n)
					gb_errx(GB_EXIT_USAGE, "%s and %s both build "
					    "on %s; give one chain", in[next].path,
					    in[i].path, prev->id);
				next = i;
			}
		}
		if (next == n)
			gb_errx(GB_EXIT_USAGE, "the chain has a gap: no archive "
			    "builds on %s (%s)", prev->id, order[k - 1]->path);
		if (strcmp(in[next].seal.manifest.site, prev->site) ||
		    strcmp(in[next].seal.manifest.source_name ?
		    in[next].seal.manifest.source_name : "",
		    prev->source_name ? prev->source_name : ""))
			gb_errx(GB_EXIT_USAGE, "%s is from another site or source",
			    in[next].path);
		order[k] = &in[next];
	}
	r->in = gb_calloc(n, sizeof *r->in);
	for (size_t k = 0; k < n; k++)
		r->in[k] = *order[k];
	r->nin = n;
	free(order);
	free(in);
}

/* SQLite's column affinity rules, from the declared type. */
static char
affinity(const char *decl)
{
	char *u = gb_strdup(decl ? decl : ""), a;

	for (char *p = u; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	if (strstr(u, "INT"))
		a = 'i';
	else if (strstr(u, "CHAR") || strstr(u, "CLOB") || strstr(u, "TEXT"))
		a = 't';
	else if (strstr(u, "BLOB") || !*u)
		a = 'b';
	else if (strstr(u, "REAL") || strstr(u, "FLOA") || strstr(u, "DOUB"))
		a = 'r';
	else
		a = 'n';
	free(u);
	return a;
}

static int
hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
	    c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/*
 * Binds one CSV field the way the export wrote it: numbers to numeric
 * columns as numbers, \x hex to BLOB columns as bytes, text as text.
 */
static void
bind_field(sqlite3_stmt *st, int i, char aff, const struct gb_csv_field *f)
{
	char tmp[64], *end;

	if (!f->p) {
		sqlite3_bind_null(st, i);
		return;
	}
	if (aff == 't') {
		sqlite3_bind_text(st, i, f->p, (int)f->n, SQLITE_TRANSIENT);
		return;
	}
	if (aff == 'b' && f->n >= 2 && f->p[0] == '\\' && f->p[1] == 'x' &&
	    f->n % 2 == 0) {
		size_t n = (f->n - 2) / 2;
		unsigned char *b = gb_malloc(n ? n : 1);
		size_t k;
		for (k = 0; k < n; k++) {
			int hi = hexval((unsigned char)f->p[2 + 2 * k]);
			int lo = hexval((unsigned char)f->p[3 + 2 * k]);
			if (hi < 0 || lo < 0)
				break;
			b[k] = (unsigned char)(hi << 4 | lo);
		}
		if (k == n) {
			sqlite3_bind_blob(st, i, b, (int)n, free);
			return;
		}
		free(b);
	}
	if (f->n > 0 && f->n < sizeof tmp && !memchr(f->p, '\0', f->n)) {
		memcpy(tmp, f->p, f->n);
		tmp[f->n] = '\0';
		errno = 0;
		long long v = strtoll(tmp, &end, 10);
		if (!*end && !errno && tmp[0] != ' ' && tmp[0] != '+' &&
		    !(tmp[0] == '0' && tmp[1]) && !(tmp[0] == '-' &&
		    (tmp[1] == '0' || !tmp[1]))) {
			sqlite3_bind_int64(st, i, v);
			return;
		}
		double d;
		if (strcmp(tmp, "Infinity") == 0)
			d = INFINITY;
		else if (strcmp(tmp, "-Infinity") == 0)
			d = -INFINITY;
		else {
			d = strtod(tmp, &end);
			if (*end || tmp[0] == ' ' || isnan(d) || isinf(d))
				goto text;
			/* only what the export writes: no hex, no padding */
			char back[32];
			gb_fmt_real(back, sizeof back, d);
			if (strcmp(back, tmp) != 0)
				goto text;
		}
		sqlite3_bind_double(st, i, d);
		return;
	}
text:
	sqlite3_bind_text(st, i, f->p, (int)f->n, SQLITE_TRANSIENT);
}

/* A virtual table (FTS5, as SCHEMA.sql may make one)? */
static int
is_virtual(struct restore *r, const char *table)
{
	sqlite3_stmt *st;
	int v = 0;

	if (sqlite3_prepare_v2(r->db, "SELECT sql LIKE 'CREATE VIRTUAL %' "
	    "FROM sqlite_schema WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
		db_fail(r, "cannot read the schema");
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int
load_record(void *arg, struct gb_csv_field *f, size_t n, char *err,
    size_t errlen)
{
	struct load *l = arg;
	struct restore *r = l->r;

	if (!l->st) {		/* the header: prepare the statement */
		char *cols = gb_strdup(""), *vals = gb_strdup(""), *sets =
		    gb_strdup(""), *q = gb_quote_ident(l->table), *sql;
		sqlite3_stmt *info;
		l->affinity = gb_calloc(n, 1);
		l->ncols = n;
		for (size_t i = 0; i < n; i++) {
			char *name = gb_strndup(f[i].p ? f[i].p : "", f[i].n);
			char *qc = gb_quote_ident(name), *t;
			t = gb_asprintf("%s%s%s", cols, i ? "," : "", qc);
			free(cols);
			cols = t;
			t = gb_asprintf("%s%s?%zu", vals, i ? "," : "", i + 1);
			free(vals);
			vals = t;
			t = gb_asprintf("%s%s%s=excluded.%s", sets, i ? "," : "",
			    qc, qc);
			free(sets);
			sets = t;
			/* the declared type decides how values are bound */
			if (sqlite3_prepare_v2(r->db, "SELECT type FROM "
			    "pragma_table_info(?1) WHERE name = ?2 COLLATE NOCASE",
			    -1, &info, NULL) != SQLITE_OK)
				db_fail(r, "cannot read the schema");
			sqlite3_bind_text(info, 1, l->table, -1, SQLITE_STATIC);
			sqlite3_bind_text(info, 2, name, -1, SQLITE_STATIC);
			if (sqlite3_step(info) == SQLITE_ROW)
				l->affinity[i] = affinity((const char *)
				    sqlite3_column_text(info, 0));
			else if (strcasecmp(name, "rowid") == 0)
				l->affinity[i] = 'i';	/* an FTS5 table's */
			else {
				snprintf(err, errlen, "table %s has no column %s "
				    "in SCHEMA.sql", l->mt->name, name);
				sqlite3_finalize(info);
				return -1;
			}
			sqlite3_finalize(info);
			free(name);
			free(qc);
		}
		if (l->incremental) {
			char *keys = gb_strdup(""), *kv = gb_strdup(l->mt->key ?
			    l->mt->key : ""), *tok, *save;
			for (tok = strtok_r(kv, ",", &save); tok;
			    tok = strtok_r(NULL, ",", &save)) {
				char *qk = gb_quote_ident(tok), *t;
				t = gb_asprintf("%s%s%s", keys, *keys ? "," : "", qk);
				free(keys);
				free(qk);
				keys = t;
			}
			free(kv);
			if (!*keys) {
				snprintf(err, errlen, "table %s has no key; an "
				    "incremental cannot be applied", l->mt->name);
				return -1;
			}
			/* a virtual table takes no upsert; FTS5 replaces */
			if (is_virtual(r, l->table))
				sql = gb_asprintf("INSERT OR REPLACE INTO %s(%s) "
				    "VALUES(%s)", q, cols, vals);
			else
				sql = gb_asprintf("INSERT OR ABORT INTO %s(%s) "
				    "VALUES(%s) ON CONFLICT(%s) DO UPDATE SET %s", q,
				    cols, vals, keys, sets);
			free(keys);
		} else	/* OR ABORT: no ON CONFLICT IGNORE drops a row */
			sql = gb_asprintf("INSERT OR ABORT INTO %s(%s) VALUES(%s)",
			    q, cols, vals);
		if (sqlite3_prepare_v2(r->db, sql, -1, &l->st, NULL) != SQLITE_OK) {
			snprintf(err, errlen, "table %s: %s", l->mt->name,
			    sqlite3_errmsg(r->db));
			free(sql);
			return -1;
		}
		free(sql);
		free(cols);
		free(vals);
		free(sets);
		free(q);
		return 0;
	}
	for (size_t i = 0; i < n && i < l->ncols; i++)
		bind_field(l->st, (int)i + 1, l->affinity[i], &f[i]);
	if (sqlite3_step(l->st) != SQLITE_DONE) {
		snprintf(err, errlen, "table %s: %s", l->mt->name,
		    sqlite3_errmsg(r->db));
		return -1;
	}
	sqlite3_reset(l->st);
	return 0;
}

/*
 * Runs SCHEMA.sql's CREATE TABLE statements now and keeps its CREATE
 * INDEX statements for after the load; anything the export does not
 * write is refused (gb_ddl_parse).  IF NOT EXISTS: an incremental's
 * SCHEMA.sql brings tables new since the full, and repeats the others.
 */
static int
create_schema(struct restore *r, const char *sql, size_t len, char *err,
    size_t errlen)
{
	struct gb_ddl *d;
	size_t n;
	int rc;

	if (gb_ddl_parse(0, sql, len, &d, &n, err, errlen) == -1)
		return -1;
	rc = gb_sqlite_ddl_run(r->db, d, n, 0, err, errlen);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (d[i].kind == GB_DDL_INDEX) {
			r->indexes = gb_realloc(r->indexes, (r->nindexes + 1) *
			    sizeof *r->indexes);
			r->indexes[r->nindexes++] = gb_ddl_if_not_exists(&d[i]);
		}
	gb_ddl_free(d, n);
	return rc;
}

/*
 * The name a table has in an SQLite database: a PostgreSQL table's
 * without its schema, as the "-- sqlite: " lines of its SCHEMA.sql make
 * it (gb_pg_flatname).
 */
static char *
lite_name(const struct gb_manifest *m, const char *name)
{
	char **names, *flat;

	if (strcmp(m->source_kind, "postgresql") != 0)
		return gb_strdup(name);
	names = gb_calloc(m->ntables + 1, sizeof *names);
	for (size_t i = 0; i < m->ntables; i++)
		names[i] = m->tables[i].name;
	flat = gb_pg_flatname(name, names, m->ntables);
	free(names);
	return flat;
}

/*
 * SCHEMA.sql into the target, whichever dialect each side speaks; first
 * held to what the export writes, as gb-verify --deep holds it.
 */
static int
make_schema(struct restore *r, const struct gb_manifest *m, const char *sql,
    size_t len, char *err, size_t errlen)
{
	char *lite;
	int rc;

	if (gb_schema_check(m, sql, len, err, errlen) == -1)
		return -1;
	if (r->pgt)
		return gb_pgtarget_schema_sql(r->pgt, m, sql, err, errlen);
	if (strcmp(m->source_kind, "postgresql") != 0)
		return create_schema(r, sql, len, err, errlen);
	lite = gb_pg_sqlite_ddl(sql);
	rc = create_schema(r, lite, strlen(lite), err, errlen);
	free(lite);
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
	if (strcmp(name, "SCHEMA.sql") == 0 && (r->db || r->pgt))
		return make_schema(r, &t->a->seal.manifest, buf, n, err,
		    errlen);
	return 0;
}

/* A table's CSV, checked as it streams: to a file, or loaded. */
static int
into_table(void *arg, size_t i, struct gb_unpack *u, char *err,
    size_t errlen)
{
	struct into *t = arg;
	struct restore *r = t->r;
	const struct gb_manifest *m = &t->a->seal.manifest;
	const struct gb_mtable *mt = &m->tables[i];
	struct load l = { .r = r, .mt = mt, .incremental =
	    strcmp(m->level, "incremental") == 0, .table = lite_name(m,
	    mt->name) };
	char *path = NULL;
	int fd = -1, status = 0;

	if (t->dir && (status = create_in(t, mt->file, &path, &fd, err,
	    errlen)) != 0) {
		free(path);
		free(l.table);
		return status;
	}
	if (r->pgt)	/* COPY FROM STDIN as the bytes stream */
		status = gb_pgtarget_load(r->pgt, m, mt, l.incremental,
		    gb_unpack_read, u, err, errlen);
	else
		status = gb_check_table(mt, gb_unpack_read, u, fd, r->db ?
		    load_record : NULL, &l, err, errlen);
	if (status == -1)
		r->mismatch = 1;
	if (fd >= 0)
		status = close_in(fd, path, status, err, errlen);
	sqlite3_finalize(l.st);
	free(l.affinity);
	free(l.table);
	free(path);
	if (status == 0 && r->verbose)
		fprintf(stderr, "gb-restore: %s: %s: %" PRIu64 " rows\n",
		    t->a->seal.archive, mt->name, mt->rows);
	return status;
}

/* Reads one archive into the database or directory; 0, -1 or -2 and why. */
static int
restore_one(struct restore *r, struct archive_in *a, const char *dir,
    char *err, size_t errlen)
{
	struct into t = { r, a, dir };
	struct gb_walk w = { into_small, into_table, &t };

	return gb_walk_archive(a->path, &a->seal, r->signer, &w, err, errlen);
}

/*
 * The drill's proof: what the database now holds, exported again the way
 * gb-export does, hashes to what the MANIFEST says (a full: every row;
 * an incremental: the rows past its watermark).
 */
static int
test_tables(struct restore *r, const struct gb_manifest *m)
{
	/* PostgreSQL: in the restore's own transaction, which sees it all */
	struct gb_pg *pg = r->pgt ? gb_pgtarget_pg(r->pgt) : NULL;
	struct gb_sqlite *db = pg ? NULL : gb_sqlite_open(r->tmpdb, 5);
	int bad = 0, devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (db)
		gb_sqlite_snapshot(db);
	for (size_t i = 0; i < m->ntables; i++) {
		const struct gb_mtable *mt = &m->tables[i];
		struct gb_mtable got = { 0 };
		struct gb_dump d = { 0 };
		struct gb_tinfo ti;
		struct gb_out o;
		char hex[65], *name = pg ? gb_pgtarget_table(r->pgt, m,
		    mt->name) : lite_name(m, mt->name);
		int ok;

		if ((pg ? gb_pg_tinfo(pg, name, &ti) :
		    gb_sqlite_tinfo(db, name, &ti)) == -1)
			gb_errx(GB_EXIT_RUN, "restored database lacks table %s",
			    name);
		free(name);
		d.money = gb_calloc(mt->nmoney + 1, sizeof *d.money);
		for (size_t k = 0; k < mt->nmoney; k++)
			d.money[k] = mt->money[k].column;
		d.nmoney = mt->nmoney;
		if (mt->wm_column && mt->wm_from) {
			d.wm_column = mt->wm_column;
			d.wm_type = mt->wm_type;
			d.wm_from = mt->wm_from;
		}
		gb_out_init(&o, devnull, 1);
		if (pg)
			gb_pg_dump(pg, &ti, &d, &o, &got);
		else
			gb_sqlite_dump(db, &ti, &d, &o, &got);
		gb_out_finish(&o, hex);
		ok = got.rows == mt->rows && o.bytes == mt->bytes &&
		    strcmp(hex, mt->sha256) == 0;
		for (size_t k = 0; k < mt->nmoney; k++)
			ok = ok && got.money[k].sum == mt->money[k].sum;
		printf("%s: %s %s: %" PRIu64 " rows, sha256 %s, money sums %s\n",
		    ok ? "OK" : "FAIL", m->id, mt->name, got.rows,
		    strcmp(hex, mt->sha256) == 0 ? "match" : "DIFFER",
		    ok ? "match" : "checked");
		bad += !ok;
		for (size_t k = 0; k < got.nmoney; k++)
			free(got.money[k].column);
		free(got.money);
		free(d.money);
		gb_tinfo_free(&ti);
	}
	close(devnull);
	if (db)
		gb_sqlite_close(db);
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
	char *name, *q, *qc, *sql;
	sqlite3_stmt *st;
	int64_t n = -1;

	if (r->pgt)
		return gb_pgtarget_rows(r->pgt, m, mt, past);
	name = lite_name(m, mt->name);
	q = gb_quote_ident(name);
	qc = past ? gb_quote_ident(mt->wm_column) : NULL;
	sql = gb_asprintf("SELECT count(*) FROM %s%s%s%s", q, past ? " WHERE " :
	    "", past ? qc : "", past ? " > ?1" : "");
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) == SQLITE_OK) {
		/* the watermark bound as the export bound it */
		if (past && strcmp(mt->wm_type, "integer") == 0)
			sqlite3_bind_int64(st, 1, strtoll(mt->wm_from, NULL, 10));
		else if (past && strcmp(mt->wm_type, "real") == 0)
			sqlite3_bind_double(st, 1, strtod(mt->wm_from, NULL));
		else if (past)
			sqlite3_bind_text(st, 1, mt->wm_from, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_ROW)
			db_fail(r, "cannot count the rows");
		n = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	free(sql);
	free(qc);
	free(q);
	free(name);
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
		int64_t got = target_rows(r, m, mt, 0), past = -1;
		int64_t want = (int64_t)mt->rows;
		int ok;

		if (!before)
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

static void
open_db(struct restore *r)
{
	if (sqlite3_open_v2(r->tmpdb, &r->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		gb_errx(GB_EXIT_RUN, "cannot create %s: %s", r->tmpdb,
		    sqlite3_errmsg(r->db));
	/* A file nobody uses until the rename: no journal needed. */
	exec(r, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; "
	    "PRAGMA cache_size=-16384");
}

static void
prepare_target(struct restore *r)
{
	struct stat sb;

	if (r->target && gb_pg_is_conninfo(r->target)) {
		r->pgt = gb_pgtarget_open(r->target, r->pgschema, r->test);
		return;
	}
	if (r->test) {
		int fd;
		r->scratchdir = gb_tmp_template("%s/gb-restore", gb_tmpdir());
		if (gb_mktemp(r->scratchdir, 1) == -1)
			gb_err(GB_EXIT_RUN, "cannot create %s", r->scratchdir);
		r->tmpdb = gb_asprintf("%s/scratch.db", r->scratchdir);
		/* 0600, not SQLite's 0644; its journals take the same mode */
		gb_cleanup_add(r->tmpdb);
		if ((fd = open(r->tmpdb, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600)) < 0 || close(fd) == -1)
			gb_err(GB_EXIT_RUN, "cannot create %s", r->tmpdb);
		open_db(r);
		return;
	}
	if (!r->target)
		return;
	if (strncmp(r->target, "sqlite:", 7) != 0 || !r->target[7])
		gb_errx(GB_EXIT_USAGE, "%s: unknown target; use sqlite:PATH or "
		    "a PostgreSQL URI (postgresql://...)", r->target);
	r->dbpath = gb_strdup(r->target + 7);
	if (stat(r->dbpath, &sb) == 0) {
		sqlite3 *db;
		int tables = 1;
		if (sqlite3_open_v2(r->dbpath, &db, SQLITE_OPEN_READONLY, NULL) ==
		    SQLITE_OK) {
			sqlite3_stmt *st;
			if (sqlite3_prepare_v2(db, "SELECT count(*) FROM "
			    "sqlite_schema", -1, &st, NULL) == SQLITE_OK &&
			    sqlite3_step(st) == SQLITE_ROW)
				tables = sqlite3_column_int(st, 0);
			sqlite3_finalize(st);
		}
		sqlite3_close(db);
		if (tables)
			gb_errx(GB_EXIT_USAGE, "%s is not empty; restore into a "
			    "new database", r->dbpath);
	}
	r->tmpdb = gb_tmp_template("%s.tmp", r->dbpath);
	{
		int fd = gb_mktemp(r->tmpdb, 0);	/* 0600 */
		if (fd < 0)
			gb_err(GB_EXIT_RUN, "cannot create %s", r->tmpdb);
		close(fd);
	}
	open_db(r);
}

/*
 * The rename of tmp to path may not last (the directory cannot be
 * synced): the output goes back under its temporary name, which the
 * cleanup removes on the way out, and the restore fails.
 */
static void
rename_durable(const char *tmp, const char *path)
{
	switch (gb_rename_durable(tmp, path)) {
	case -1:
		gb_err(GB_EXIT_RUN, "cannot rename %s to %s", tmp, path);
	case -2:
		gb_err(GB_EXIT_RUN, "cannot sync the directory of %s; nothing "
		    "restored", path);
	case -3:
		gb_err(GB_EXIT_RUN, "cannot sync the directory of %s, nor take "
		    "it back: it stays", path);
	}
}

static void
finish_db(struct restore *r)
{
	int fd;

	for (size_t i = 0; i < r->nindexes; i++)
		exec(r, r->indexes[i]);
	if (sqlite3_close(r->db) != SQLITE_OK)
		gb_errx(GB_EXIT_RUN, "%s: cannot close", r->tmpdb);
	r->db = NULL;
	if (r->test)
		return;
	if ((fd = open(r->tmpdb, O_RDONLY | O_CLOEXEC)) < 0 || fsync(fd) ||
	    close(fd))
		gb_err(GB_EXIT_RUN, "cannot sync %s", r->tmpdb);
	rename_durable(r->tmpdb, r->dbpath);
	gb_cleanup_forget(r->tmpdb);
}

static void
restore_dirs(struct restore *r)
{
	struct stat sb;
	char *tmp;

	if (lstat(r->outdir, &sb) == 0)
		gb_errx(GB_EXIT_USAGE, "%s exists; restore into a new directory",
		    r->outdir);
	tmp = gb_tmp_template("%s.tmp", r->outdir);
	if (gb_mktemp(tmp, 1) == -1)
		gb_err(GB_EXIT_RUN, "cannot create %s", tmp);
	for (size_t i = 0; i < r->nin; i++) {
		char err[1024], *dir = tmp;
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
			gb_errx(rc == -2 ? GB_EXIT_RUN : GB_EXIT_CHECK, "%s: %s; "
			    "nothing restored", r->in[i].path, err);
		if (dir != tmp)
			free(dir);
	}
	rename_durable(tmp, r->outdir);
	gb_cleanup_clear();
	free(tmp);
}

/*
 * The archives named are looked for on each medium in turn: a chain may
 * span a weekly tape and the daily drives.
 */
static void
find_on_media(struct restore *r, int argc, char **argv)
{
	const char *path = gb_catalog_path(&r->conf);
	struct gb_catalog *cat = path ? gb_catalog_open(path) : NULL;
	char err[1024];

	r->medium = gb_calloc(r->nmedia, sizeof *r->medium);
	for (size_t k = 0; k < r->nmedia; k++)
		if (gb_medium_open(&r->medium[k], r->media[k], err,
		    sizeof err) == -1)
			gb_errx(GB_EXIT_RUN, "%s", err);
	r->from = gb_calloc((size_t)argc, sizeof *r->from);
	for (int i = 0; i < argc; i++) {
		char *found = NULL;
		for (size_t k = 0; k < r->nmedia && !found; k++)
			if ((found = gb_medium_archive(&r->medium[k], cat, argv[i],
			    err, sizeof err)))
				r->from[i] = r->medium[k].id;
		if (!found)
			gb_errx(GB_EXIT_RUN, "%s%s; nothing restored", err,
			    r->nmedia > 1 ? " (nor on the other media)" : "");
		argv[i] = found;	/* freed with the process */
	}
	r->nfrom = (size_t)argc;
	r->argv = argv;
	gb_catalog_close(cat);
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

/* The policy's restore test goes into the catalog, when there is one. */
static void
record_test(struct restore *r)
{
	const char *path = gb_catalog_path(&r->conf);
	struct gb_catalog *c;
	char detail[128];

	if (!path)
		return;
	c = gb_catalog_open(path);
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
	for (size_t i = 0; i < r->nindexes; i++)
		free(r->indexes[i]);
	free(r->indexes);
	free(r->dbpath);
	free(r->tmpdb);
	free(r->scratchdir);
	gb_conf_free(&r->conf);
	for (size_t k = 0; k < r->nmedia; k++)
		gb_medium_close(&r->medium[k]);
	free(r->medium);
	free(r->media);
	free(r->from);
	gb_pgtarget_close(r->pgt);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "test", no_argument, NULL, 'T' },
		{ "signer", required_argument, NULL, 'S' },
		{ "media", required_argument, NULL, 'M' },
		{ "schema", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct restore r = { 0 };
	int c;

	gb_setprogname(argv[0]);
	atexit(gb_close_stdout);
	while ((c = getopt_long(argc, argv, "c:d:ho:v", longopts, NULL)) != -1)
		switch (c) {
		case 'c': r.confpath = optarg; break;
		case 'd': r.target = optarg; break;
		case 'h': usage(stdout, GB_EXIT_OK); break;
		case 'o': r.outdir = optarg; break;
		case 'S': r.signer = optarg; break;
		case 'M':
			r.media = gb_realloc(r.media, (r.nmedia + 1) *
			    sizeof *r.media);
			r.media[r.nmedia++] = optarg;
			break;
		case 'P': r.pgschema = optarg; break;
		case 'T': r.test = 1; break;
		case 'v': r.verbose = 1; break;
		default: usage(stderr, GB_EXIT_USAGE);
		}
	argc -= optind;
	argv += optind;
	/* --test goes with -d only for PostgreSQL: a scratch schema there */
	if (argc == 0 || (!!r.outdir + !!r.target + r.test) != 1 + (r.test &&
	    r.target && gb_pg_is_conninfo(r.target)))
		usage(stderr, GB_EXIT_USAGE);
	if (r.pgschema && (!r.target || !gb_pg_is_conninfo(r.target) ||
	    r.test || !*r.pgschema))
		gb_errx(GB_EXIT_USAGE, "--schema goes with -d postgresql://..., "
		    "without --test");
	gb_conf_open(&r.conf, r.confpath);
	if (!r.signer)
		r.signer = gb_conf_get(&r.conf, "keys", "signer");
	if (!r.signer || !*r.signer)
		gb_errx(GB_EXIT_USAGE, "no signer pinned: give --signer "
		    "FINGERPRINT or set signer in the [keys] section of the "
		    "config");
	gb_cleanup_signals();
	gb_tmp_reap(gb_tmpdir(), "gb-restore");	/* a killed drill's scratch */
	if (r.nmedia)
		find_on_media(&r, argc, argv);
	load_and_order(&r, argv, (size_t)argc);

	if (r.outdir) {
		restore_dirs(&r);
		restore_free(&r);
		return GB_EXIT_OK;
	}
	prepare_target(&r);
	if (r.db)
		exec(&r, "BEGIN");
	for (size_t i = 0; i < r.nin; i++) {
		const struct gb_manifest *m = &r.in[i].seal.manifest;
		int64_t *before = NULL;
		char err[1024];
		int rc;

		if (!r.test && strcmp(m->level, "incremental") == 0) {
			before = gb_calloc(m->ntables, sizeof *before);
			for (size_t k = 0; k < m->ntables; k++)
				if ((before[k] = target_rows(&r, m, &m->tables[k],
				    0)) < 0)
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
			gb_errx(rc == -2 ? GB_EXIT_RUN : GB_EXIT_CHECK, "%s: %s; "
			    "nothing restored", r.in[i].path, err);
		if (!r.test)
			check_rows(&r, &r.in[i], before);
		free(before);
		if (r.test && r.pgt)
			r.failures += test_tables(&r, &r.in[i].seal.manifest);
		else if (r.test) {
			exec(&r, "COMMIT");
			r.failures += test_tables(&r, &r.in[i].seal.manifest);
			exec(&r, "BEGIN");
		}
	}
	if (r.pgt) {
		char err[1024];
		if (gb_pgtarget_finish(r.pgt, err, sizeof err) == -1)
			gb_errx(GB_EXIT_RUN, "%s: %s; nothing restored",
			    gb_pg_name(gb_pgtarget_pg(r.pgt)), err);
	} else {
		exec(&r, "COMMIT");
		finish_db(&r);
	}
	if (r.test) {
		printf("restore test: %zu archive%s, %s\n", r.nin, r.nin == 1 ?
		    "" : "s", r.failures ? "FAILED" : "OK");
		record_test(&r);
		gb_cleanup_run();	/* the scratch database goes */
	}
	restore_free(&r);
	return r.failures ? GB_EXIT_CHECK : GB_EXIT_OK;
}
