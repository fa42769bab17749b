/*
 * restore-sqlite.c - the SQLite target of a restore (struct gb_target):
 * a new database built under a temporary name in one transaction, and
 * renamed into place by finish; or the drill's scratch database.  Each
 * CSV field is bound as the export wrote it, by the column's declared
 * type.  Errors return -1 or -2 and why; only the drill's export again
 * (gb_sqlite_open, gb_sqlite_dump) is sqlite.c's, which ends the program
 * on its errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "gb.h"
#include "gb-db.h"
#include "gb-pgp.h"

struct lite {
	sqlite3 *db;
	char *dbpath;		/* NULL: the drill's scratch database */
	char *tmpdb;		/* built here, renamed to dbpath at the end */
	char *scratchdir;
	char **indexes;		/* CREATE INDEX statements, run after the load */
	size_t nindexes;
};

/* The table being loaded: one prepared INSERT or upsert. */
struct load {
	struct lite *t;
	const struct gb_mtable *mt;
	char *table;		/* its name in the database */
	int incremental;
	sqlite3_stmt *st;
	char *affinity;		/* per column: i r n t b (SQLite affinities) */
	size_t ncols;
	size_t line;		/* deletes: the record */
};

static int
db_fail(struct lite *t, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s: %s", t->dbpath ? t->dbpath : "scratch "
	    "database", what, sqlite3_errmsg(t->db));
	return -2;
}

static int
exec(struct lite *t, const char *sql, char *err, size_t errlen)
{
	if (sqlite3_exec(t->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(t, sql, err, errlen);
	return 0;
}

/* "what path: why", errno's. */
static int
sys_fail(const char *what, const char *path, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
	return -2;
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

/* A virtual table (FTS5, as SCHEMA.sql may make one)?  1, 0, or -1. */
static int
is_virtual(struct lite *t, const char *table, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int v = 0;

	if (sqlite3_prepare_v2(t->db, "SELECT sql LIKE 'CREATE VIRTUAL %' "
	    "FROM sqlite_schema WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
		return db_fail(t, "cannot read the schema", err, errlen);
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The declared type of a column decides how its values are bound. */
static int
affinity(struct load *l, const char *name, char *aff, char *err,
    size_t errlen)
{
	sqlite3_stmt *info;
	int r = 0;

	if (sqlite3_prepare_v2(l->t->db, "SELECT type FROM "
	    "pragma_table_info(?1) WHERE name = ?2 COLLATE NOCASE", -1, &info,
	    NULL) != SQLITE_OK)
		return db_fail(l->t, "cannot read the schema", err, errlen);
	sqlite3_bind_text(info, 1, l->table, -1, SQLITE_STATIC);
	sqlite3_bind_text(info, 2, name, -1, SQLITE_STATIC);
	if (sqlite3_step(info) == SQLITE_ROW)
		*aff = gb_sql_affinity((const char *)sqlite3_column_text(info,
		    0));
	else if (strcasecmp(name, "rowid") == 0)
		*aff = 'i';	/* an FTS5 table's */
	else {
		snprintf(err, errlen, "table %s has no column %s in SCHEMA.sql",
		    l->mt->name, name);
		r = -1;
	}
	sqlite3_finalize(info);
	return r;
}

/* A deleted key: its header prepares the DELETE; each deletes one row. */
static int
delete_record(void *arg, struct gb_csv_field *f, size_t n, char *err,
    size_t errlen)
{
	struct load *l = arg;
	char *where = gb_strdup(""), *q, *sql, *x;

	if (l->st) {
		for (size_t i = 0; i < n && i < l->ncols; i++)
			bind_field(l->st, (int)i + 1, l->affinity[i], &f[i]);
		if (sqlite3_step(l->st) != SQLITE_DONE) {
			snprintf(err, errlen, "table %s: %s", l->mt->name,
			    sqlite3_errmsg(l->t->db));
			return -1;
		}
		sqlite3_reset(l->st);
		if (sqlite3_changes(l->t->db) != 1) {
			snprintf(err, errlen, "table %s: a deleted key (line "
			    "%zu of %s) is not in the table: the chain is "
			    "broken", l->mt->name, l->line + 1, l->mt->del->file);
			return -1;
		}
		l->line++;
		free(where);
		return 0;
	}
	l->affinity = gb_calloc(n + 1, 1);
	l->ncols = n;
	for (size_t i = 0; i < n; i++) {
		char *name = gb_strndup(f[i].p ? f[i].p : "", f[i].n);
		char *qc = gb_quote_ident(name);
		int r = affinity(l, name, &l->affinity[i], err, errlen);
		x = gb_asprintf("%s%s%s IS ?%zu", where, i ? " AND " : "", qc,
		    i + 1);
		free(where);
		where = x;
		free(name);
		free(qc);
		if (r) {
			free(where);
			return -1;
		}
	}
	q = gb_quote_ident(l->table);
	sql = gb_asprintf("DELETE FROM %s WHERE %s", q, where);
	if (sqlite3_prepare_v2(l->t->db, sql, -1, &l->st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "table %s: %s", l->mt->name,
		    sqlite3_errmsg(l->t->db));
		l->st = NULL;
	}
	l->line = 1;
	free(sql);
	free(q);
	free(where);
	return l->st ? 0 : -1;
}

static int
load_record(void *arg, struct gb_csv_field *f, size_t n, char *err,
    size_t errlen)
{
	struct load *l = arg;
	struct lite *lt = l->t;

	if (!l->st) {		/* the header: prepare the statement */
		char *cols = gb_strdup(""), *vals = gb_strdup(""), *sets =
		    gb_strdup(""), *q = gb_quote_ident(l->table), *sql;
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
			if (affinity(l, name, &l->affinity[i], err, errlen))
				return -1;
			free(name);
			free(qc);
		}
		if (l->incremental) {
			char *keys = gb_sql_keys(l->mt->key);
			int virt;
			if (!*keys) {
				snprintf(err, errlen, "table %s has no key; an "
				    "incremental cannot be applied", l->mt->name);
				free(keys);
				return -1;
			}
			/* a virtual table takes no upsert; FTS5 replaces */
			if ((virt = is_virtual(lt, l->table, err, errlen)) < 0)
				return -1;
			if (virt)
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
		if (sqlite3_prepare_v2(lt->db, sql, -1, &l->st, NULL) != SQLITE_OK) {
			snprintf(err, errlen, "table %s: %s", l->mt->name,
			    sqlite3_errmsg(lt->db));
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
		    sqlite3_errmsg(lt->db));
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
create_schema(struct lite *t, const char *sql, size_t len, char *err,
    size_t errlen)
{
	struct gb_ddl *d;
	size_t n;
	int rc;

	if (gb_ddl_parse(0, sql, len, &d, &n, err, errlen) == -1)
		return -1;
	rc = gb_sqlite_ddl_run(t->db, d, n, 0, err, errlen);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (d[i].kind == GB_DDL_INDEX) {
			t->indexes = gb_realloc(t->indexes, (t->nindexes + 1) *
			    sizeof *t->indexes);
			t->indexes[t->nindexes++] = gb_ddl_if_not_exists(&d[i]);
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

/* SCHEMA.sql; a PostgreSQL export's in its SQLite dialect (-- sqlite:). */
static int
schema(void *arg, const struct gb_manifest *m, const char *sql, size_t len,
    char *err, size_t errlen)
{
	char *lite;
	int rc;

	if (strcmp(m->source_kind, "postgresql") != 0)
		return create_schema(arg, sql, len, err, errlen);
	lite = gb_pg_sqlite_ddl(sql);
	rc = create_schema(arg, lite, strlen(lite), err, errlen);
	free(lite);
	return rc;
}

/* The rows (or deleted keys) of f through rec, checked; l freed after. */
static int
stream(struct load *l, const struct gb_mtable *f, gb_read_fn fn,
    void *fnarg, gb_record_fn rec, char *err, size_t errlen)
{
	int status = gb_check_table(f, fn, fnarg, -1, rec, l, err, errlen);

	sqlite3_finalize(l->st);
	free(l->affinity);
	free(l->table);
	return status;
}

static int
load(void *arg, const struct gb_manifest *m, const struct gb_mtable *mt,
    gb_read_fn fn, void *fnarg, char *err, size_t errlen)
{
	struct load l = { .t = arg, .mt = mt, .incremental =
	    strcmp(m->level, "incremental") == 0, .table = lite_name(m,
	    mt->name) };
	int status;

	if (l.incremental && mt->change && strcmp(mt->change, "whole") == 0) {
		/* the whole table: it replaces what the chain gave so far */
		char *q = gb_quote_ident(l.table), *sql = gb_asprintf("DELETE "
		    "FROM %s", q);
		status = exec(l.t, sql, err, errlen);
		free(sql);
		free(q);
		if (status) {
			free(l.table);
			return status;
		}
		l.incremental = 0;
	}
	return stream(&l, mt, fn, fnarg, load_record, err, errlen);
}

static int
deletes(void *arg, const struct gb_manifest *m, const struct gb_mtable *mt,
    gb_read_fn fn, void *fnarg, char *err, size_t errlen)
{
	struct load l = { .t = arg, .mt = mt, .table = lite_name(m,
	    mt->name) };

	return stream(&l, mt->del, fn, fnarg, delete_record, err, errlen);
}

static int
rows(void *arg, const struct gb_manifest *m, const struct gb_mtable *mt,
    int past, int64_t *n, char *err, size_t errlen)
{
	struct lite *t = arg;
	char *name = lite_name(m, mt->name), *q = gb_quote_ident(name), *sql;
	sqlite3_stmt *st;
	int r = 0;

	*n = -1;
	sql = gb_sql_count(q, past ? mt->wm_column : NULL, "?1");
	if (sqlite3_prepare_v2(t->db, sql, -1, &st, NULL) == SQLITE_OK) {
		/* the watermark bound as the export bound it */
		if (past && strcmp(mt->wm_type, "integer") == 0)
			sqlite3_bind_int64(st, 1, strtoll(mt->wm_from, NULL, 10));
		else if (past && strcmp(mt->wm_type, "real") == 0)
			sqlite3_bind_double(st, 1, strtod(mt->wm_from, NULL));
		else if (past)
			sqlite3_bind_text(st, 1, mt->wm_from, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_ROW)
			r = db_fail(t, "cannot count the rows", err, errlen);
		else
			*n = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	free(sql);
	free(q);
	free(name);
	return r;
}

/*
 * The drill: the transaction so far committed, the table read back on a
 * connection of its own, as gb-export reads a database.
 */
static int
dump(void *arg, const struct gb_manifest *m, const struct gb_mtable *mt,
    const struct gb_dump *d, struct gb_out *o, struct gb_mtable *got,
    char *err, size_t errlen)
{
	struct lite *t = arg;
	struct gb_sqlite *db;
	struct gb_tinfo ti;
	char *name = lite_name(m, mt->name);
	int r = 0;

	if (exec(t, "COMMIT", err, errlen) == -2) {
		free(name);
		return -2;
	}
	db = gb_sqlite_open(t->tmpdb, 5);
	gb_sqlite_snapshot(db);
	if (gb_sqlite_tinfo(db, name, &ti) == -1) {
		snprintf(err, errlen, "restored database lacks table %s", name);
		r = -2;
	} else {
		gb_sqlite_dump(db, &ti, d, o, got);
		gb_tinfo_free(&ti);
	}
	gb_sqlite_close(db);
	free(name);
	return r ? r : exec(t, "BEGIN", err, errlen);
}

/*
 * The rename of tmp to path may not last (the directory cannot be
 * synced): the output goes back under its temporary name, which the
 * cleanup removes on the way out, and the restore fails.
 */
int
gb_restore_rename(const char *tmp, const char *path, char *err,
    size_t errlen)
{
	switch (gb_rename_durable(tmp, path)) {
	case -1:
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path,
		    strerror(errno));
		return -2;
	case -2:
		snprintf(err, errlen, "cannot sync the directory of %s; nothing "
		    "restored: %s", path, strerror(errno));
		return -2;
	case -3:
		snprintf(err, errlen, "cannot sync the directory of %s, nor take "
		    "it back: it stays: %s", path, strerror(errno));
		return -2;
	}
	return 0;
}

/* Commit, the indexes, then the database synced and renamed into place. */
static int
finish(void *arg, char *err, size_t errlen)
{
	struct lite *t = arg;
	int fd;

	if (exec(t, "COMMIT", err, errlen) == -2)
		return -2;
	for (size_t i = 0; i < t->nindexes; i++)
		if (exec(t, t->indexes[i], err, errlen) == -2)
			return -2;
	if (sqlite3_close(t->db) != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot close", t->tmpdb);
		return -2;
	}
	t->db = NULL;
	if (!t->dbpath)
		return 0;
	if ((fd = open(t->tmpdb, O_RDONLY | O_CLOEXEC)) < 0 || fsync(fd) ||
	    close(fd))
		return sys_fail("cannot sync", t->tmpdb, err, errlen);
	if (gb_restore_rename(t->tmpdb, t->dbpath, err, errlen) == -2)
		return -2;
	gb_cleanup_forget(t->tmpdb);
	return 0;
}

/* Without finish, the transaction is rolled back; the cleanup takes tmpdb. */
static void
close_target(void *arg)
{
	struct lite *t = arg;

	sqlite3_close(t->db);
	for (size_t i = 0; i < t->nindexes; i++)
		free(t->indexes[i]);
	free(t->indexes);
	free(t->dbpath);
	free(t->tmpdb);
	free(t->scratchdir);
	free(t);
}

/* Refuses a database that has tables: a restore makes a new one. */
static int
empty(const char *path, char *err, size_t errlen)
{
	struct stat sb;
	sqlite3 *db;
	int tables = 1;

	if (stat(path, &sb) == -1)
		return 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(db, "SELECT count(*) FROM "
		    "sqlite_schema", -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			tables = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	if (tables) {
		snprintf(err, errlen, "%s is not empty; restore into a new "
		    "database", path);
		return -1;
	}
	return 0;
}

int
gb_restore_sqlite_open(struct gb_target *tg, const char *path, char *err,
    size_t errlen)
{
	struct lite *t = gb_calloc(1, sizeof *t);
	int fd;

	*tg = (struct gb_target){ t, schema, load, deletes, rows, dump, finish,
	    close_target };
	if (!path) {
		t->scratchdir = gb_tmp_template("%s/gb-restore", gb_tmpdir());
		if (gb_mktemp(t->scratchdir, 1) == -1)
			return sys_fail("cannot create", t->scratchdir, err,
			    errlen);
		t->tmpdb = gb_asprintf("%s/scratch.db", t->scratchdir);
		/* 0600, not SQLite's 0644; its journals take the same mode */
		gb_cleanup_add(t->tmpdb);
		if ((fd = open(t->tmpdb, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600)) < 0 || close(fd) == -1)
			return sys_fail("cannot create", t->tmpdb, err, errlen);
	} else {
		if (empty(path, err, errlen) == -1)
			return -1;
		t->dbpath = gb_strdup(path);
		t->tmpdb = gb_tmp_template("%s.tmp", t->dbpath);
		if ((fd = gb_mktemp(t->tmpdb, 0)) < 0)	/* 0600 */
			return sys_fail("cannot create", t->tmpdb, err, errlen);
		close(fd);
	}
	if (sqlite3_open_v2(t->tmpdb, &t->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot create %s: %s", t->tmpdb,
		    sqlite3_errmsg(t->db));
		return -2;
	}
	/* A file nobody uses until the rename: no journal needed. */
	if (exec(t, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; "
	    "PRAGMA cache_size=-16384", err, errlen) == -2)
		return -2;
	return exec(t, "BEGIN", err, errlen);
}
