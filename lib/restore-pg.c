/*
 * restore-pg.c - the PostgreSQL target of a restore (struct gb_target):
 * one transaction, into a database (each table into the schema it came
 * from, SQLite's into public; the database must have no tables) or into
 * one schema (which must have none), or into a scratch schema rolled back
 * at the end (the restore test).  Rows go in with COPY ... FROM STDIN as
 * the archive streams.  Errors return -1 or -2 and why; the connection
 * (gb_pg_open) and the drill's export again (gb_pg_dump) are pg.c's,
 * which end the program on theirs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "gb.h"
#include "gb-db.h"
#include "gb-pgp.h"

struct pgt {
	struct gb_pg *p;
	PGconn *conn;
	const char *name;	/* host/port/dbname, for messages */
	char *schema;		/* every table into it; NULL: each its own */
	int scratch;		/* the restore test's: rolled back */
	char **late;		/* pairs: search path, CREATE INDEX ... */
	size_t nlate;		/* pairs */
	char copyerr[512];	/* why copy_put failed */
};

/* One statement (the extended protocol runs one, or none); 0 or -1. */
static int
pexec(struct pgt *t, const char *sql, char *err, size_t errlen)
{
	PGresult *res = PQexecParams(t->conn, sql, 0, NULL, NULL, NULL, NULL,
	    0);
	ExecStatusType st = PQresultStatus(res);
	int r = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", gb_pg_msg(t->p, res));
		r = -1;
	}
	PQclear(res);
	return r;
}

/* First value of the first row (*value NULL if none); param may be NULL. */
static int
value(struct pgt *t, const char *sql, const char *param, char **v,
    char *err, size_t errlen)
{
	const char *params[] = { param };
	PGresult *res = PQexecParams(t->conn, sql, param ? 1 : 0, NULL, params,
	    NULL, NULL, 0);
	int r = 0;

	*v = NULL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", gb_pg_msg(t->p, res));
		r = -1;
	} else if (PQntuples(res) > 0 && PQnfields(res) > 0 &&
	    !PQgetisnull(res, 0, 0))
		*v = gb_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return r;
}

/* COPY ... FROM STDIN: begin, feed (a gb_write_fn), end (ok 0 aborts). */
static int
copy_begin(struct pgt *t, const char *sql, char *err, size_t errlen)
{
	PGresult *res = PQexecParams(t->conn, sql, 0, NULL, NULL, NULL, NULL,
	    0);
	int r = 0;

	t->copyerr[0] = '\0';
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		snprintf(err, errlen, "%s", gb_pg_msg(t->p, res));
		r = -1;
	}
	PQclear(res);
	return r;
}

static int
copy_put(void *arg, const void *buf, size_t n)
{
	struct pgt *t = arg;

	/* libpq takes an int: feed large buffers in parts */
	while (n > 0) {
		int k = n > (1 << 20) ? 1 << 20 : (int)n;
		if (PQputCopyData(t->conn, buf, k) != 1) {
			snprintf(t->copyerr, sizeof t->copyerr, "%s",
			    gb_pg_msg(t->p, NULL));
			errno = EIO;
			return -1;
		}
		buf = (const char *)buf + k;
		n -= (size_t)k;
	}
	return 0;
}

static int
copy_end(struct pgt *t, int ok, char *err, size_t errlen)
{
	PGresult *res;
	int r = 0;

	err[0] = '\0';
	if (PQputCopyEnd(t->conn, ok ? NULL : "gymbackup: the data did not "
	    "match its manifest") != 1) {
		snprintf(err, errlen, "%s", gb_pg_msg(t->p, NULL));
		return -1;
	}
	while ((res = PQgetResult(t->conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && r == 0) {
			if (ok)
				snprintf(err, errlen, "%s", gb_pg_msg(t->p, res));
			r = -1;
		}
		PQclear(res);
	}
	/* a failed write says more than the end of the COPY */
	if (*t->copyerr)
		snprintf(err, errlen, "%s", t->copyerr);
	return ok ? r : -1;
}

/* The relations in a schema (NULL: in the database's own), in *n. */
static int
count_relations(struct pgt *t, const char *schema, int *n, char *err,
    size_t errlen)
{
	static const char kinds[] = "c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')";
	char *sql, *v, why[512];

	if (schema)
		sql = gb_asprintf("SELECT count(*) FROM pg_class c JOIN "
		    "pg_namespace n ON n.oid = c.relnamespace WHERE "
		    "n.nspname = $1 AND %s", kinds);
	else
		sql = gb_asprintf("SELECT count(*) FROM pg_class c JOIN "
		    "pg_namespace n ON n.oid = c.relnamespace WHERE %s AND "
		    "c.relpersistence <> 't' AND n.nspname NOT IN ('pg_catalog', "
		    "'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%%' "
		    "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = "
		    "'pg_class'::regclass AND d.objid = c.oid AND "
		    "d.deptype = 'e')", kinds);
	if (value(t, sql, schema, &v, why, sizeof why) == -1) {
		snprintf(err, errlen, "%s: cannot read the catalog: %s", t->name,
		    why);
		free(sql);
		return -1;
	}
	*n = v ? atoi(v) : 0;
	free(v);
	free(sql);
	return 0;
}

/* Schema and table a table of the export goes to. */
static void
target_parts(struct pgt *t, const struct gb_manifest *m, const char *name,
    char **schema, char **table)
{
	if (strcmp(m->source_kind, "postgresql") == 0 &&
	    gb_pg_splitname(name, schema, table) == 0) {
		if (t->schema) {
			free(*schema);
			*schema = gb_strdup(t->schema);
		}
		return;
	}
	*schema = gb_strdup(t->schema ? t->schema : "public");
	*table = gb_strdup(name);
}

/* The schema.table a table of the export set m is restored as. */
static char *
target_table(struct pgt *t, const struct gb_manifest *m, const char *name)
{
	char *s, *tb, *q;

	target_parts(t, m, name, &s, &tb);
	q = gb_pg_qualname(s, tb);
	free(s);
	free(tb);
	return q;
}

static void
keep_late(struct pgt *t, const char *path, const char *stmt)
{
	t->late = gb_realloc(t->late, 2 * (t->nlate + 1) * sizeof *t->late);
	t->late[2 * t->nlate] = gb_strdup(path);
	t->late[2 * t->nlate++ + 1] = gb_strdup(stmt);
}

/* SET search_path = path, then stmt: one statement per call. */
static int
exec_in(struct pgt *t, const char *path, const char *stmt, char *err,
    size_t errlen)
{
	char *set = gb_asprintf("SET search_path = %s", path);
	int r = pexec(t, set, err, errlen);

	free(set);
	return r == -1 ? -1 : pexec(t, stmt, err, errlen);
}

/*
 * SCHEMA.sql of a PostgreSQL export: only the statements the export
 * writes (gb_ddl_parse), each run alone, into the schemas they name, or
 * with every table put into the target schema (its CREATE SCHEMA and SET
 * search_path then left out).  Schemas and search paths are made anew
 * from the names they give.
 */
static int
schema_pg(struct pgt *t, const char *sql, char *err, size_t errlen)
{
	struct gb_ddl *d;
	size_t n;
	char *path = gb_strdup("pg_catalog"), why[512];
	int r = 0;

	if (gb_ddl_parse(1, sql, strlen(sql), &d, &n, err, errlen) == -1) {
		free(path);
		return -1;
	}
	if (t->schema) {
		free(path);
		path = gb_quote_ident(t->schema);
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		char *q = gb_quote_ident(d[i].name), *run;
		switch (d[i].kind) {
		case GB_DDL_PATH:
			if (!t->schema) {
				free(path);
				path = gb_strdup(q);
			}
			break;
		case GB_DDL_SCHEMA:
			if (t->schema)
				break;
			run = gb_asprintf("CREATE SCHEMA IF NOT EXISTS %s", q);
			if (pexec(t, run, why, sizeof why) == -1) {
				snprintf(err, errlen, "SCHEMA.sql: %s", why);
				r = -2;
			}
			free(run);
			break;
		case GB_DDL_TABLE:
			run = gb_ddl_if_not_exists(&d[i]);
			if (exec_in(t, path, run, why, sizeof why) == -1) {
				snprintf(err, errlen, "SCHEMA.sql: %s", why);
				r = -2;
			}
			free(run);
			break;
		case GB_DDL_INDEX:
			run = gb_ddl_if_not_exists(&d[i]);
			keep_late(t, path, run);
			free(run);
			break;
		}
		free(q);
	}
	gb_ddl_free(d, n);
	free(path);
	if (pexec(t, "SET search_path = pg_catalog", why,
	    sizeof why) == -1 && r == 0) {
		snprintf(err, errlen, "%s", why);
		r = -2;
	}
	return r;
}

/* A PostgreSQL type for an SQLite declared type, by SQLite's rules. */
static const char *
pg_type(const char *decl)
{
	char u[64];

	snprintf(u, sizeof u, "%s", decl ? decl : "");
	switch (gb_sql_affinity(u)) {
	case 'i':
		return "bigint";
	case 'r':
		return "double precision";
	case 'b':
		if (*u)
			return "bytea";
		break;		/* untyped: anything, as text */
	case 'n':
		if (strcasestr(u, "NUMERIC") || strcasestr(u, "DECIMAL"))
			return "numeric";
		break;		/* DATE, BOOLEAN, ...: as stored */
	}
	return "text COLLATE \"C\"";	/* SQLite's BINARY order */
}

/*
 * SCHEMA.sql of an SQLite export: SQLite reads it into a database in
 * memory, and the tables and plain indexes it describes are made anew.
 */
static int
schema_sqlite(struct pgt *t, const struct gb_manifest *m,
    const char *sql, char *err, size_t errlen)
{
	sqlite3 *db;
	sqlite3_stmt *st, *ix, *cols;
	struct gb_ddl *d;
	size_t nd;
	char why[512];
	int r = 0;

	if (gb_ddl_parse(0, sql, strlen(sql), &d, &nd, err, errlen) == -1)
		return -1;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
		snprintf(err, errlen, "sqlite3: out of memory");
		sqlite3_close(db);
		gb_ddl_free(d, nd);
		return -2;
	}
	if (gb_sqlite_ddl_run(db, d, nd, 0, err, errlen) == -1 ||
	    gb_sqlite_ddl_run(db, d, nd, 1, err, errlen) == -1)
		r = -1;
	sqlite3_prepare_v2(db, "SELECT name, type, \"notnull\", pk FROM "
	    "pragma_table_info(?1) ORDER BY cid", -1, &st, NULL);
	sqlite3_prepare_v2(db, "SELECT name, \"unique\", origin, partial FROM "
	    "pragma_index_list(?1) ORDER BY name", -1, &ix, NULL);
	sqlite3_prepare_v2(db, "SELECT cid, name, \"desc\" FROM "
	    "pragma_index_xinfo(?1) WHERE key ORDER BY seqno", -1, &cols, NULL);
	for (size_t i = 0; r == 0 && i < m->ntables; i++) {
		const char *name = m->tables[i].name;
		char *rel, *ddl, *pk = gb_strdup(""), *x, *s, *tb;
		int maxpk = 0, n = 0;

		target_parts(t, m, name, &s, &tb);
		rel = gb_sql_rel(s, tb);
		ddl = gb_asprintf("CREATE TABLE IF NOT EXISTS %s (", rel);
		/* an FTS5 table: a plain one here, its rowid the key */
		for (size_t k = 0; k < nd; k++)
			if (d[k].kind == GB_DDL_VTABLE &&
			    strcasecmp(d[k].name, name) == 0) {
				x = gb_asprintf("%s\n\trowid bigint NOT NULL", ddl);
				free(ddl);
				ddl = x;
				free(pk);
				pk = gb_strdup("rowid");
				n++;
			}
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			char *qc = gb_quote_ident((const char *)
			    sqlite3_column_text(st, 0));
			x = gb_asprintf("%s%s\n\t%s %s%s", ddl, n++ ? "," : "", qc,
			    pg_type((const char *)sqlite3_column_text(st, 1)),
			    sqlite3_column_int(st, 2) ? " NOT NULL" : "");
			free(ddl);
			ddl = x;
			if (sqlite3_column_int(st, 3) > maxpk)
				maxpk = sqlite3_column_int(st, 3);
			free(qc);
		}
		/* key columns in key order */
		for (int k = 1; k <= maxpk; k++) {
			sqlite3_reset(st);
			while (sqlite3_step(st) == SQLITE_ROW)
				if (sqlite3_column_int(st, 3) == k) {
					char *qc = gb_quote_ident((const char *)
					    sqlite3_column_text(st, 0));
					x = gb_asprintf("%s%s%s", pk, k > 1 ? ", " : "",
					    qc);
					free(pk);
					pk = x;
					free(qc);
				}
		}
		sqlite3_reset(st);
		if (n == 0) {
			snprintf(err, errlen, "SCHEMA.sql does not create table %s",
			    name);
			r = -1;
		} else {
			x = gb_asprintf("%s%s%s%s\n)", ddl, *pk ?
			    ",\n\tPRIMARY KEY (" : "", pk, *pk ? ")" : "");
			free(ddl);
			ddl = x;
			if (pexec(t, ddl, why, sizeof why) == -1) {
				snprintf(err, errlen, "SCHEMA.sql: table %s: %s",
				    name, why);
				r = -2;
			}
		}
		/* indexes on plain columns; SQLite's own others are left */
		sqlite3_bind_text(ix, 1, name, -1, SQLITE_STATIC);
		while (r == 0 && sqlite3_step(ix) == SQLITE_ROW) {
			const char *iname = (const char *)sqlite3_column_text(ix, 0);
			const char *origin = (const char *)sqlite3_column_text(ix, 2);
			char *list = gb_strdup(""), *under = gb_strdup(""), *qi,
			    *pgname;
			int plain = !sqlite3_column_int(ix, 3), k = 0;
			if (strcmp(origin, "pk") == 0) {
				free(list);
				free(under);
				continue;
			}
			sqlite3_bind_text(cols, 1, iname, -1, SQLITE_STATIC);
			while (sqlite3_step(cols) == SQLITE_ROW) {
				char *qc;
				if (sqlite3_column_int(cols, 0) < 0) {
					plain = 0;
					break;
				}
				qc = gb_quote_ident((const char *)
				    sqlite3_column_text(cols, 1));
				x = gb_asprintf("%s%s%s%s", list, k++ ? ", " : "", qc,
				    sqlite3_column_int(cols, 2) ? " DESC" : "");
				free(list);
				list = x;
				free(qc);
				x = gb_asprintf("%s_%s", under, (const char *)
				    sqlite3_column_text(cols, 1));
				free(under);
				under = x;
			}
			sqlite3_reset(cols);
			/* a UNIQUE constraint's: named as PostgreSQL would */
			pgname = strncmp(iname, "sqlite_autoindex_", 17) == 0 ?
			    gb_asprintf("%s%s_key", tb, under) : gb_strdup(iname);
			qi = gb_quote_ident(pgname);
			if (plain) {
				x = gb_asprintf("CREATE %sINDEX IF NOT EXISTS %s ON "
				    "%s (%s)", sqlite3_column_int(ix, 1) ?
				    "UNIQUE " : "", qi, rel, list);
				keep_late(t, "pg_catalog", x);
				free(x);
			} else
				gb_warnx("warning: table %s: index %s is not made "
				    "in PostgreSQL (an expression or partial index "
				    "of SQLite)", name, iname);
			free(qi);
			free(pgname);
			free(list);
			free(under);
		}
		sqlite3_reset(ix);
		free(ddl);
		free(pk);
		free(rel);
		free(s);
		free(tb);
	}
	sqlite3_finalize(st);
	sqlite3_finalize(ix);
	sqlite3_finalize(cols);
	sqlite3_close(db);
	gb_ddl_free(d, nd);
	return r;
}

static int
schema_sql(void *arg, const struct gb_manifest *m, const char *sql,
    size_t len, char *err, size_t errlen)
{
	if (strcmp(m->source_kind, "postgresql") == 0)
		return schema_pg(arg, sql, err, errlen);
	return schema_sqlite(arg, m, sql, err, errlen);
}

/* The upsert that applies an incremental's rows, loaded into gb_incr. */
static int
upsert(struct pgt *t, const struct gb_manifest *m,
    const struct gb_mtable *mt, const char *rel, char *err, size_t errlen)
{
	struct gb_tinfo ti;
	char *qual = target_table(t, m, mt->name), *keys, *sets, *x, *sql,
	    why[512];
	int r = 0;

	if (gb_pg_tinfo(t->p, qual, &ti) == -1) {
		snprintf(err, errlen, "%s: table %s is gone", t->name, qual);
		free(qual);
		return -2;
	}
	keys = gb_sql_keys(mt->key);
	sets = gb_strdup("");
	for (size_t c = 0; c < ti.ncols; c++) {
		char *qc = gb_quote_ident(ti.cols[c]), *pat = gb_strdup(mt->key ?
		    mt->key : ""), *k2, *s2;
		int iskey = 0;
		for (k2 = strtok_r(pat, ",", &s2); k2; k2 = strtok_r(NULL, ",",
		    &s2))
			iskey |= strcmp(k2, ti.cols[c]) == 0;
		free(pat);
		if (!iskey) {
			x = gb_asprintf("%s%s%s = EXCLUDED.%s", sets, *sets ? ", " :
			    "", qc, qc);
			free(sets);
			sets = x;
		}
		free(qc);
	}
	if (!*keys) {
		snprintf(err, errlen, "table %s has no key; an incremental "
		    "cannot be applied", mt->name);
		r = -2;
	} else {
		sql = gb_asprintf("INSERT INTO %s SELECT * FROM pg_temp.gb_incr "
		    "ON CONFLICT (%s) DO %s%s", rel, keys, *sets ?
		    "UPDATE SET " : "NOTHING", sets);
		if (pexec(t, sql, why, sizeof why) == -1 ||
		    pexec(t, "DROP TABLE pg_temp.gb_incr", why,
		    sizeof why) == -1) {
			snprintf(err, errlen, "table %s: %s", mt->name, why);
			r = -2;
		}
		free(sql);
	}
	gb_tinfo_free(&ti);
	free(qual);
	free(keys);
	free(sets);
	return r;
}

/* COPY FROM STDIN, checked against the manifest as it streams. */
/*
 * f's CSV into table into by COPY, checked as it streams (HEADER MATCH,
 * 15 and later, also checks the columns' order).  0; -1 the CSV differs
 * from the MANIFEST, -2 it could not be done; the server's words in why,
 * else (why empty) the check's in err.
 */
static int
copy_in(struct pgt *t, const char *into, const struct gb_mtable *f,
    gb_read_fn fn, void *arg, char *err, size_t errlen, char *why,
    size_t whylen)
{
	char *sql = gb_asprintf("COPY %s FROM STDIN (FORMAT csv, HEADER%s)",
	    into, gb_pg_server_version(t->p) >= 150000 ? " MATCH" : "");
	int status;

	*why = '\0';
	status = copy_begin(t, sql, why, whylen) == -1 ? -2 : 0;
	free(sql);
	if (status)
		return status;
	status = gb_check_table_to(f, fn, arg, copy_put, t, NULL, NULL, err,
	    errlen);
	if (copy_end(t, status == 0, why, whylen) == -1 &&
	    (status == 0 || (status == -2 && *why)))
		return -2;
	*why = '\0';
	return status;
}

static int
load(void *targ, const struct gb_manifest *m, const struct gb_mtable *mt,
    gb_read_fn fn, void *arg, char *err, size_t errlen)
{
	struct pgt *t = targ;
	int incremental = strcmp(m->level, "incremental") == 0;
	char *s, *tb, *rel, *sql, why[512];
	const char *into;
	int status;

	target_parts(t, m, mt->name, &s, &tb);
	rel = gb_sql_rel(s, tb);
	free(s);
	free(tb);
	into = rel;
	if (incremental && mt->change && strcmp(mt->change, "whole") == 0) {
		/* the whole table: it replaces what the chain gave so far */
		sql = gb_asprintf("DELETE FROM %s", rel);
		status = pexec(t, sql, why, sizeof why);
		free(sql);
		if (status == -1) {
			snprintf(err, errlen, "table %s: %s", mt->name, why);
			free(rel);
			return -2;
		}
		incremental = 0;
	}
	if (incremental) {
		/* rows go to a copy of the table first, then are upserted */
		sql = gb_asprintf("CREATE TEMP TABLE gb_incr (LIKE %s)", rel);
		status = pexec(t, sql, why, sizeof why);
		free(sql);
		if (status == -1) {
			snprintf(err, errlen, "table %s: %s", mt->name, why);
			free(rel);
			return -2;
		}
		into = "pg_temp.gb_incr";
	}
	status = copy_in(t, into, mt, fn, arg, err, errlen, why, sizeof why);
	if (status && *why)
		snprintf(err, errlen, "table %s: %s", mt->name, why);
	if (status == 0 && incremental)
		status = upsert(t, m, mt, rel, err, errlen);
	free(rel);
	return status;
}

/*
 * An incremental's deleted keys: copied into a table of the key's
 * columns, then deleted by a join, each key exactly one row.
 */
static int
deletes(void *targ, const struct gb_manifest *m, const struct gb_mtable *mt,
    gb_read_fn fn, void *arg, char *err, size_t errlen)
{
	struct pgt *t = targ;
	char *s, *tb, *rel, *sql, *keys = gb_sql_keys(mt->key), *on, *x, why[512];
	char *pat = gb_strdup(mt->key), *k, *sv;
	PGresult *res;
	int status;

	target_parts(t, m, mt->name, &s, &tb);
	rel = gb_sql_rel(s, tb);
	free(s);
	free(tb);
	on = gb_strdup("");
	for (k = strtok_r(pat, ",", &sv); k; k = strtok_r(NULL, ",", &sv)) {
		char *qc = gb_quote_ident(k);
		x = gb_asprintf("%s%s%s.%s IS NOT DISTINCT FROM d.%s", on,
		    *on ? " AND " : "", rel, qc, qc);
		free(on);
		on = x;
		free(qc);
	}
	free(pat);
	sql = gb_asprintf("CREATE TEMP TABLE gb_del AS SELECT %s FROM %s "
	    "WITH NO DATA", keys, rel);
	status = pexec(t, sql, why, sizeof why) == -1 ? -2 : 0;
	free(sql);
	if (status == 0 && (status = copy_in(t, "pg_temp.gb_del", mt->del, fn,
	    arg, err, errlen, why, sizeof why)) && !*why)
		snprintf(why, sizeof why, "%s", err);
	if (status == 0) {
		sql = gb_asprintf("DELETE FROM %s USING pg_temp.gb_del d WHERE "
		    "%s", rel, on);
		res = PQexecParams(t->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
		free(sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			snprintf(why, sizeof why, "%s", gb_pg_msg(t->p, res));
			status = -2;
		} else if (strtoull(PQcmdTuples(res), NULL, 10) != mt->del->rows) {
			snprintf(why, sizeof why, "%s rows deleted, the MANIFEST "
			    "lists %" PRIu64 " keys: the chain is broken",
			    PQcmdTuples(res), mt->del->rows);
			status = -1;
		}
		PQclear(res);
	}
	if (status == 0 && pexec(t, "DROP TABLE pg_temp.gb_del", why,
	    sizeof why) == -1)
		status = -2;
	if (status)
		snprintf(err, errlen, "table %s: deletes: %s", mt->name, why);
	free(on);
	free(keys);
	free(rel);
	return status;
}

/* Rows in a table now (past 1: above the watermark); *n -1: no table. */
static int
rows(void *arg, const struct gb_manifest *m, const struct gb_mtable *mt,
    int past, int64_t *n, char *err, size_t errlen)
{
	struct pgt *t = arg;
	char *s, *tb, *rel, *sql, *v, why[512];
	const char *params[2];
	int64_t there;
	PGresult *res;
	int r = 0;

	target_parts(t, m, mt->name, &s, &tb);
	params[0] = s;
	params[1] = tb;
	*n = -1;
	res = PQexecParams(t->conn, "SELECT count(*) FROM pg_class c JOIN "
	    "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 "
	    "AND c.relname = $2 AND c.relkind IN ('r', 'p')", 2, NULL, params,
	    NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s: cannot read the catalog: %s",
		    t->name, gb_pg_msg(t->p, res));
		PQclear(res);
		free(s);
		free(tb);
		return -2;
	}
	there = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (there) {
		/* the parameter takes the column's type, as in the export */
		rel = gb_sql_rel(s, tb);
		sql = gb_sql_count(rel, past ? mt->wm_column : NULL, "$1");
		if (value(t, sql, past ? mt->wm_from : NULL, &v, why,
		    sizeof why) == -1) {
			snprintf(err, errlen, "%s: table %s: cannot count the "
			    "rows: %s", t->name, mt->name, why);
			r = -2;
		} else
			*n = v ? strtoll(v, NULL, 10) : 0;
		free(v);
		free(sql);
		free(rel);
	}
	free(s);
	free(tb);
	return r;
}

/* The drill: in the restore's own transaction, which sees it all. */
static int
dump(void *arg, const struct gb_manifest *m, const struct gb_mtable *mt,
    const struct gb_dump *d, struct gb_out *o, struct gb_mtable *got,
    char *err, size_t errlen)
{
	struct pgt *t = arg;
	struct gb_tinfo ti;
	char *name = target_table(t, m, mt->name);

	if (gb_pg_tinfo(t->p, name, &ti) == -1) {
		snprintf(err, errlen, "restored database lacks table %s", name);
		free(name);
		return -2;
	}
	free(name);
	gb_pg_dump(t->p, &ti, d, o, got);
	gb_tinfo_free(&ti);
	return 0;
}

/* Indexes, then COMMIT; the restore test's scratch schema is rolled back. */
static int
finish(void *arg, char *err, size_t errlen)
{
	struct pgt *t = arg;
	char why[512];

	for (size_t i = 0; i < t->nlate; i++)
		if (exec_in(t, t->late[2 * i], t->late[2 * i + 1], why,
		    sizeof why) == -1) {
			snprintf(err, errlen, "%s: index: %s; nothing restored",
			    t->name, why);
			return -2;
		}
	if (pexec(t, t->scratch ? "ROLLBACK" : "COMMIT", why,
	    sizeof why) == -1) {
		snprintf(err, errlen, "%s: COMMIT: %s; nothing restored",
		    t->name, why);
		return -2;
	}
	return 0;
}

/* Without finish, the server rolls the transaction back. */
static void
close_target(void *arg)
{
	struct pgt *t = arg;

	gb_pg_close(t->p);
	for (size_t i = 0; i < 2 * t->nlate; i++)
		free(t->late[i]);
	free(t->late);
	free(t->schema);
	free(t);
}

int
gb_restore_pg_open(struct gb_target *tg, const char *conninfo,
    const char *schema, int scratch, char *err, size_t errlen)
{
	struct pgt *t = gb_calloc(1, sizeof *t);
	char why[512], *q, *sql;
	int n, r;

	*tg = (struct gb_target){ t, schema_sql, load, deletes, rows, dump, finish,
	    close_target };
	t->p = gb_pg_open(conninfo, 30);
	t->conn = gb_pg_conn(t->p);
	t->name = gb_pg_name(t->p);
	t->scratch = scratch;
	if (scratch) {
		uint32_t rnd;
		if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd) {
			snprintf(err, errlen, "getrandom: %s", strerror(errno));
			return -2;
		}
		t->schema = gb_asprintf("gb_restore_test_%08x", rnd);
	} else if (schema) {
		t->schema = gb_strdup(schema);
		if (count_relations(t, schema, &n, err, errlen) == -1)
			return -2;
		if (n) {
			snprintf(err, errlen, "%s: schema %s is not empty; "
			    "restore into a new or empty schema", t->name,
			    schema);
			return -1;
		}
	} else {
		if (count_relations(t, NULL, &n, err, errlen) == -1)
			return -2;
		if (n) {
			snprintf(err, errlen, "%s: the database is not empty (it "
			    "has tables); restore into a new database, or into a "
			    "new schema with --schema", t->name);
			return -1;
		}
	}
	if (pexec(t, "BEGIN", why, sizeof why) == -1) {
		snprintf(err, errlen, "%s: BEGIN: %s", t->name, why);
		return -2;
	}
	/* '...' as SCHEMA.sql was lexed: a backslash is a backslash */
	if (pexec(t, "SET LOCAL standard_conforming_strings = on", why,
	    sizeof why) == -1) {
		snprintf(err, errlen, "%s: %s", t->name, why);
		return -2;
	}
	if (t->schema) {
		q = gb_quote_ident(t->schema);
		sql = gb_asprintf("CREATE SCHEMA %s%s", scratch ? "" :
		    "IF NOT EXISTS ", q);
		r = pexec(t, sql, why, sizeof why);
		free(sql);
		free(q);
		if (r == -1) {
			snprintf(err, errlen, "%s: cannot create schema %s: %s",
			    t->name, t->schema, why);
			return -2;
		}
	}
	return 0;
}
