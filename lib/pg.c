/*
 * pg.c - PostgreSQL through libpq: the connection, the names, and the
 * source (one REPEATABLE READ, READ ONLY snapshot, each table streamed
 * with COPY ... TO STDOUT).  Errors end the program (pg_fail).  The
 * target of a restore, which returns its errors, is restore-pg.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "gb.h"
#include "gb-db.h"

struct gb_pg {
	PGconn *conn;
	char *name;		/* host/port/dbname */
	int wait;
};

/* float4, float8: the type oids COPY's text needs help with. */
#define FLOAT4OID 700
#define FLOAT8OID 701
/* int8, int2, int4: a key of one of these splits into ranges. */
#define INT8OID 20
#define INT2OID 21
#define INT4OID 23

/*
 * A message of libpq or the server on one line, in a static buffer: a
 * line break becomes "; " (but where a tab continues a sentence), other
 * white space one space.
 */
static const char *
oneline(const char *s)
{
	static char buf[1024];
	size_t k = 0;
	int space = 0, nl = 0, tab = 0;

	for (; s && *s && k < sizeof buf - 3; s++) {
		if (strchr(" \t\r\n", *s)) {
			space = k > 0;
			nl |= *s == '\n';
			tab |= *s == '\t';
			continue;
		}
		if (space && nl && !(tab && *s >= 'a' && *s <= 'z'))
			buf[k++] = ';';
		if (space)
			buf[k++] = ' ';
		space = nl = tab = 0;
		buf[k++] = *s;
	}
	buf[k] = '\0';
	return k ? buf : "unknown error";
}

/* The result's error message, or the connection's, on one line. */
const char *
gb_pg_msg(struct gb_pg *p, const PGresult *res)
{
	const char *m = res ? PQresultErrorMessage(res) : NULL;

	return oneline(m && *m ? m : PQerrorMessage(p->conn));
}

static int
res_is(PGresult *res, const char *sqlstate)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return s && strcmp(s, sqlstate) == 0;
}

static _Noreturn void
pg_fail(struct gb_pg *p, const char *what, const char *table, PGresult *res)
{
	if (res_is(res, "55P03"))	/* lock_not_available */
		gb_errx(GB_EXIT_RUN, "%s: %s%s is locked (waited %d s): a "
		    "schema change (ALTER, DROP, TRUNCATE, VACUUM FULL) holds "
		    "it; retry when it is done, or wait longer: busy_timeout "
		    "in the [source] section of the config (gb-export -w)",
		    p->name,
		    table ? "table " : "a table", table ? table : "", p->wait);
	if (table)
		gb_errx(GB_EXIT_RUN, "%s: table %s: %s: %s", p->name, table,
		    what, gb_pg_msg(p, res));
	gb_errx(GB_EXIT_RUN, "%s: %s: %s", p->name, what, gb_pg_msg(p, res));
}

/* A query that must work: rows or done, else the program ends. */
static PGresult *
query(struct gb_pg *p, const char *what, const char *table, const char *sql,
    int n, const char *const *params)
{
	PGresult *res = PQexecParams(p->conn, sql, n, NULL, params, NULL, NULL,
	    0);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
		pg_fail(p, what, table, res);
	return res;
}

/* Statements without parameters; several may be given at once. */
static void
command(struct gb_pg *p, const char *what, const char *sql)
{
	PGresult *res = PQexec(p->conn, sql);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
		pg_fail(p, what, NULL, res);
	PQclear(res);
}

/* ------------------------------------------------------------- names */

/* A part of a qualified name: bare unless that would be ambiguous. */
static char *
namepart(const char *s)
{
	if (*s && !strpbrk(s, ".\""))
		return gb_strdup(s);
	return gb_quote_ident(s);
}

char *
gb_pg_qualname(const char *schema, const char *table)
{
	char *s = namepart(schema), *t = namepart(table);
	char *q = gb_asprintf("%s.%s", s, t);

	free(s);
	free(t);
	return q;
}

/* One part: *pp past it; NULL when malformed. */
static char *
splitpart(const char **pp)
{
	const char *p = *pp;
	char *out, *w;

	if (*p != '"') {
		size_t n = strcspn(p, ".\"");
		if (n == 0 || p[n] == '"')
			return NULL;
		*pp = p + n;
		return gb_strndup(p, n);
	}
	w = out = gb_malloc(strlen(p) + 1);
	for (p++; *p; p++) {
		if (*p == '"') {
			if (p[1] != '"')
				break;
			p++;
		}
		*w++ = *p;
	}
	if (*p != '"') {
		free(out);
		return NULL;
	}
	*w = '\0';
	*pp = p + 1;
	return out;
}

int
gb_pg_splitname(const char *name, char **schema, char **table)
{
	const char *p = name;
	char *s, *t = NULL;

	*schema = *table = NULL;
	if (!(s = splitpart(&p)) || *p != '.' || (p++, !(t = splitpart(&p))) ||
	    *p) {
		free(s);
		free(t);
		return -1;
	}
	*schema = s;
	*table = t;
	return 0;
}

char *
gb_pg_flatname(const char *name, char *const *names, size_t n)
{
	char *s, *t, *s2, *t2;

	if (gb_pg_splitname(name, &s, &t) == -1)
		return gb_strdup(name);
	for (size_t i = 0; i < n; i++) {
		int clash;
		if (strcmp(names[i], name) == 0 ||
		    gb_pg_splitname(names[i], &s2, &t2) == -1)
			continue;
		clash = strcmp(t, t2) == 0;
		free(s2);
		free(t2);
		if (clash) {
			free(s);
			free(t);
			return gb_strdup(name);
		}
	}
	free(s);
	return t;
}

/* "schema"."table" for SQL, from a qualified name (exits if not one). */
static char *
relation(struct gb_pg *p, const char *table)
{
	char *s, *t, *r;

	if (gb_pg_splitname(table, &s, &t) == -1)
		gb_errx(GB_EXIT_USAGE, "%s: %s is not a table name of the form "
		    "schema.table", p->name, table);
	r = gb_sql_rel(s, t);
	free(s);
	free(t);
	return r;
}

/* ------------------------------------------------------- connecting */

int
gb_pg_is_conninfo(const char *s)
{
	return strncmp(s, "postgresql://", 13) == 0 ||
	    strncmp(s, "postgres://", 11) == 0 ||
	    (strncmp(s, "sqlite:", 7) != 0 && strchr(s, '=') != NULL);
}

/*
 * A connection set up as every reader of pg.c wants it; NULL, with why in
 * msg, when the server cannot be reached.
 */
static struct gb_pg *
pg_connect(const char *conninfo, int wait_seconds, char *msg, size_t len)
{
	struct gb_pg *p;
	PQconninfoOption *opts;
	PGconn *conn;
	char *why = NULL, tmo[16], *set;
	const char *kw[] = { "connect_timeout", "fallback_application_name",
	    "dbname", NULL };
	const char *val[] = { tmo, gb_progname, conninfo, NULL };
	const char *host;
	int pw = 0;

	/* Not echoed: a connection string may hold what must not show. */
	if (!(opts = PQconninfoParse(conninfo, &why))) {
		snprintf(msg, len, "%s", why ? oneline(why) :
		    "out of memory");
		PQfreemem(why);
		gb_errx(GB_EXIT_USAGE, "not a PostgreSQL connection string: %s",
		    msg);
	}
	for (PQconninfoOption *o = opts; o->keyword; o++)
		pw |= strcmp(o->keyword, "password") == 0 && o->val && *o->val;
	PQconninfoFree(opts);
	if (pw)
		gb_errx(GB_EXIT_USAGE, "the PostgreSQL connection string holds a "
		    "password, which would show in ps and in logs; put it in "
		    "~/.pgpass or the file PGPASSFILE names");

	/* The connection string comes last, so its connect_timeout wins. */
	snprintf(tmo, sizeof tmo, "%d", wait_seconds > 2 ? wait_seconds : 2);
	if (!(conn = PQconnectdbParams(kw, val, 1))) {
		snprintf(msg, len, "out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(msg, len, "%s", oneline(PQerrorMessage(conn)));
		PQfinish(conn);
		return NULL;
	}
	p = gb_calloc(1, sizeof *p);
	p->conn = conn;
	p->wait = wait_seconds;
	host = PQhost(p->conn);
	p->name = gb_asprintf("%s/%s/%s", host && *host ? host : "localhost",
	    PQport(p->conn), PQdb(p->conn));

	/*
	 * Output that does not depend on the server's or the role's
	 * settings: times in UTC and ISO form, bytea in hex, floats in their
	 * shortest exact form; catalog names first on the search path;
	 * rows hidden by row-level security an error, not a silent gap.
	 */
	if (PQsetClientEncoding(p->conn, "UTF8") != 0)
		pg_fail(p, "cannot set the client encoding to UTF8", NULL, NULL);
	set = gb_asprintf("SET search_path = pg_catalog; SET TimeZone = 'UTC'; "
	    "SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; "
	    "SET extra_float_digits = 1; SET bytea_output = 'hex'; "
	    "SET standard_conforming_strings = on; SET row_security = off; "
	    "SET statement_timeout = 0; SET client_min_messages = warning; "
	    "SET idle_in_transaction_session_timeout = 0; "
	    "SET lock_timeout = %d", wait_seconds > 0 ? wait_seconds * 1000 : 1);
	command(p, "cannot set up the session", set);
	free(set);
	return p;
}

struct gb_pg *
gb_pg_open(const char *conninfo, int wait_seconds)
{
	struct gb_pg *p;
	char msg[1024];

	if (!(p = pg_connect(conninfo, wait_seconds, msg, sizeof msg)))
		gb_errx(GB_EXIT_RUN, "%s: cannot connect: %s%s", conninfo, msg,
		    strstr(msg, "password") ? "; check the password in "
		    "~/.pgpass or the file PGPASSFILE names" : "");
	return p;
}

void
gb_pg_close(struct gb_pg *p)
{
	if (!p)
		return;
	PQfinish(p->conn);
	free(p->name);
	free(p);
}

const char *
gb_pg_name(const struct gb_pg *p)
{
	return p->name;
}

int
gb_pg_server_version(const struct gb_pg *p)
{
	return PQserverVersion(p->conn);
}

PGconn *
gb_pg_conn(struct gb_pg *p)
{
	return p->conn;
}

/* ------------------------------------------------------------ source */

void
gb_pg_snapshot(struct gb_pg *p)
{
	/* The snapshot is taken by the first query, so make one now. */
	command(p, "cannot start the read transaction",
	    "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT 1");
}

int
gb_pg_snapshots(struct gb_pg **conns, int n, const char *conninfo,
    int wait_seconds)
{
	PGresult *res;
	char *id, *sql, msg[1024];
	int i;

	gb_pg_snapshot(conns[0]);
	if (n <= 1)
		return 1;
	/*
	 * As pg_dump -j does: the first transaction exports its snapshot and
	 * stays open while the others take it, so all see one instant.
	 */
	res = query(conns[0], "cannot export the snapshot", NULL,
	    "SELECT pg_export_snapshot()", 0, NULL);
	id = PQescapeLiteral(conns[0]->conn, PQgetvalue(res, 0, 0),
	    strlen(PQgetvalue(res, 0, 0)));
	PQclear(res);
	if (!id)
		pg_fail(conns[0], "cannot quote the snapshot", NULL, NULL);
	sql = gb_asprintf("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; "
	    "SET TRANSACTION SNAPSHOT %s", id);
	PQfreemem(id);
	for (i = 1; i < n; i++) {
		/* too few connections allowed: fewer threads */
		if (!(conns[i] = pg_connect(conninfo, wait_seconds, msg,
		    sizeof msg))) {
			gb_warnx("warning: %s: %d connection%s, not %d: %s",
			    conns[0]->name, i, i == 1 ? "" : "s", n, msg);
			break;
		}
		command(conns[i], "cannot take the snapshot", sql);
	}
	free(sql);
	return i;
}

char **
gb_pg_tables(struct gb_pg *p)
{
	/*
	 * Ordinary and partitioned tables (partitions are read through
	 * their parent), not temporary ones, not those of extensions, not
	 * those of a restore's staging.
	 */
	PGresult *res = query(p, "cannot list tables", NULL,
	    "SELECT n.nspname, c.relname FROM pg_class c "
	    "JOIN pg_namespace n ON n.oid = c.relnamespace "
	    "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
	    "AND c.relpersistence <> 't' "
	    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
	    "AND n.nspname NOT LIKE 'pg\\_toast%' "
	    "AND n.nspname !~ '" GB_PG_STAGE_RE "' "
	    "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = "
	    "'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') "
	    "ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"", 0, NULL);
	int n = PQntuples(res);
	char **v = gb_calloc((size_t)n + 1, sizeof *v);

	for (int i = 0; i < n; i++)
		v[i] = gb_pg_qualname(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
	PQclear(res);
	/*
	 * As pg_dump does: a table read later must not be dropped, altered
	 * or truncated meanwhile, which the snapshot alone would not show.
	 */
	gb_pg_lock(p, v, (size_t)n);
	return v;
}

void
gb_pg_lock(struct gb_pg *p, char *const *tables, size_t n)
{
	char *lock = NULL, *x;

	for (size_t i = 0; i < n; i++) {
		char *rel = relation(p, tables[i]);
		x = gb_asprintf("%s%s%s", lock ? lock : "LOCK TABLE ",
		    i ? ", " : "", rel);
		free(lock);
		lock = x;
		free(rel);
	}
	if (lock) {
		char *sql = gb_asprintf("%s IN ACCESS SHARE MODE", lock);
		PQclear(query(p, "cannot lock the tables", NULL, sql, 0, NULL));
		free(sql);
		free(lock);
	}
}

/* The table's oid as text, or NULL when there is no such table. */
static char *
table_oid(struct gb_pg *p, const char *table)
{
	const char *params[2];
	char *s, *t, *oid = NULL;
	PGresult *res;

	if (gb_pg_splitname(table, &s, &t) == -1)
		return NULL;
	params[0] = s;
	params[1] = t;
	res = query(p, "cannot read the catalog", table,
	    "SELECT c.oid FROM pg_class c JOIN pg_namespace n "
	    "ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 "
	    "AND c.relkind IN ('r', 'p')", 2, params);
	if (PQntuples(res) == 1)
		oid = gb_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	free(s);
	free(t);
	return oid;
}

/* Column facts: name, type oid, collatable, SQL type, SQLite type. */
enum { C_NAME, C_TYPE, C_COLL, C_DECL, C_NOTNULL, C_LITE, C_SHOWN };
static PGresult *
columns(struct gb_pg *p, const char *table, const char *oid)
{
	const char *params[] = { oid };

	/*
	 * Types outside pg_catalog (enums, domains, extensions' types) may
	 * not exist where the table is restored: their values go as text.
	 * SQLite gets INTEGER for integers (numeric(p,0) too: money), REAL,
	 * BLOB; everything else as text, numeric's exact digits included.
	 */
	return query(p, "cannot read the columns", table,
	    "SELECT a.attname, a.atttypid, a.attcollation <> 0, "
	    "CASE WHEN t.typnamespace = 'pg_catalog'::regnamespace "
	    "THEN format_type(a.atttypid, a.atttypmod) || "
	    "CASE WHEN a.attcollation <> t.typcollation AND "
	    "co.collnamespace = 'pg_catalog'::regnamespace THEN ' COLLATE ' || "
	    "quote_ident(co.collname) ELSE '' END ELSE 'text' END, "
	    "a.attnotnull, "
	    "CASE WHEN t.typnamespace <> 'pg_catalog'::regnamespace "
	    "THEN 'TEXT' WHEN t.typname IN ('int2', 'int4', 'int8') "
	    "THEN 'INTEGER' WHEN t.typname IN ('float4', 'float8') THEN 'REAL' "
	    "WHEN t.typname = 'numeric' AND a.atttypmod >= 4 AND "
	    "(a.atttypmod - 4) & 65535 = 0 AND (a.atttypmod - 4) >> 16 <= 18 "
	    "THEN 'INTEGER' "
	    "WHEN t.typname = 'bytea' THEN 'BLOB' ELSE 'TEXT' END, "
	    "format_type(a.atttypid, a.atttypmod) "
	    "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
	    "LEFT JOIN pg_collation co ON co.oid = a.attcollation "
	    "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped "
	    "ORDER BY a.attnum", 1, params);
}

static char **
primary_key(struct gb_pg *p, const char *table, const char *oid, size_t *n)
{
	const char *params[] = { oid };
	PGresult *res = query(p, "cannot read the primary key", table,
	    "SELECT a.attname FROM pg_index i "
	    "CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY "
	    "AS k(attnum, n) "
	    "JOIN pg_attribute a ON a.attrelid = i.indrelid "
	    "AND a.attnum = k.attnum "
	    "WHERE i.indrelid = $1::oid AND i.indisprimary ORDER BY k.n", 1,
	    params);
	char **v = gb_calloc((size_t)PQntuples(res) + 1, sizeof *v);

	*n = (size_t)PQntuples(res);
	for (size_t i = 0; i < *n; i++)
		v[i] = gb_strdup(PQgetvalue(res, (int)i, 0));
	PQclear(res);
	return v;
}

int
gb_pg_tinfo(struct gb_pg *p, const char *table, struct gb_tinfo *ti)
{
	char *oid = table_oid(p, table);
	PGresult *res;

	memset(ti, 0, sizeof *ti);
	if (!oid)
		return -1;
	ti->name = gb_strdup(table);
	res = columns(p, table, oid);
	ti->ncols = (size_t)PQntuples(res);
	ti->cols = gb_calloc(ti->ncols + 1, sizeof *ti->cols);
	for (size_t i = 0; i < ti->ncols; i++)
		ti->cols[i] = gb_strdup(PQgetvalue(res, (int)i, C_NAME));
	ti->pk = primary_key(p, table, oid, &ti->npk);
	ti->rowid = 0;		/* PostgreSQL has none to order by */
	/*
	 * A key of one integer column plays the rowid's part: its index
	 * gives ranges of it in order, so the table may be read in parts.
	 */
	if (ti->npk == 1) {
		int c = gb_tinfo_column(ti, ti->pk[0]);
		long type = strtol(PQgetvalue(res, c, C_TYPE), NULL, 10);
		ti->rowid_key = type == INT2OID || type == INT4OID ||
		    type == INT8OID;
	}
	PQclear(res);
	free(oid);
	return 0;
}

int
gb_pg_rowids(struct gb_pg *p, const struct gb_tinfo *ti, int64_t *min,
    int64_t *max)
{
	char *rel, *qc, *sql;
	PGresult *res;
	int r = -1;

	if (!ti->rowid_key)
		return -1;
	rel = relation(p, ti->name);
	qc = gb_quote_ident(ti->pk[0]);
	/* each from an end of the key's index */
	sql = gb_asprintf("SELECT min(%s), max(%s) FROM %s", qc, qc, rel);
	res = query(p, "cannot read the key's range", ti->name, sql, 0, NULL);
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		*min = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		*max = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		r = 0;
	}
	PQclear(res);
	free(sql);
	free(qc);
	free(rel);
	return r;
}

/* ------------------------------------------------------------ schema */

static void
put(struct gb_out *o, const char *s)
{
	gb_out_write(o, s, strlen(s));
}

/*
 * Text from the catalog made safe inside a comment: no line ends, no
 * control characters, nothing that opens or closes a block comment.
 */
static char *
comment_text(const char *s)
{
	char *c = gb_strdup(s);

	for (size_t i = 0; c[i]; i++)
		if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f ||
		    (c[i] == '/' && ((i > 0 && s[i - 1] == '*') ||
		    s[i + 1] == '*')))
			c[i] = '?';
	return c;
}

static void
schema_table(struct gb_pg *p, const char *table, const char *flat,
    struct gb_out *o)
{
	char *oid = table_oid(p, table), *s, *t, *lite, *qt, *ql, *x, *shown;
	char **pk;
	size_t npk;
	PGresult *res;
	const char *params[1];

	if (!oid)
		gb_errx(GB_EXIT_USAGE, "%s: no table %s in the database", p->name,
		    table);
	gb_pg_splitname(table, &s, &t);
	qt = gb_quote_ident(t);
	ql = gb_quote_ident(flat);
	res = columns(p, table, oid);
	pk = primary_key(p, table, oid, &npk);

	/* no name in a comment: a line end in it would end the comment */
	put(o, "\nCREATE TABLE ");
	put(o, qt);
	put(o, " (");
	lite = gb_asprintf("CREATE TABLE %s (", ql);
	for (int i = 0; i < PQntuples(res); i++) {
		char *qc = gb_quote_ident(PQgetvalue(res, i, C_NAME));
		int nn = PQgetvalue(res, i, C_NOTNULL)[0] == 't';
		put(o, i ? ",\n\t" : "\n\t");
		put(o, qc);
		gb_out_putc(o, ' ');
		put(o, PQgetvalue(res, i, C_DECL));
		if (nn)
			put(o, " NOT NULL");
		shown = comment_text(PQgetvalue(res, i, C_SHOWN));
		if (strcmp(PQgetvalue(res, i, C_DECL), "text") == 0 &&
		    strcmp(shown, "text") != 0) {
			put(o, " /* ");
			put(o, shown);
			put(o, " */");
		}
		/* SQLite keeps the PostgreSQL type as a comment. */
		x = gb_asprintf("%s%s\t%s %s%s /* %s */", lite, i ? ",\n" : "\n",
		    qc, PQgetvalue(res, i, C_LITE), nn ? " NOT NULL" : "", shown);
		free(shown);
		free(lite);
		lite = x;
		free(qc);
	}
	if (npk) {
		put(o, ",\n\tPRIMARY KEY (");
		x = gb_asprintf("%s,\n\tPRIMARY KEY (", lite);
		free(lite);
		lite = x;
		for (size_t k = 0; k < npk; k++) {
			char *qc = gb_quote_ident(pk[k]);
			if (k)
				put(o, ", ");
			put(o, qc);
			x = gb_asprintf("%s%s%s", lite, k ? ", " : "", qc);
			free(lite);
			lite = x;
			free(qc);
		}
		put(o, ")");
		x = gb_asprintf("%s)", lite);
		free(lite);
		lite = x;
	}
	put(o, "\n);\n");
	x = gb_asprintf("%s\n);", lite);
	free(lite);
	lite = x;
	PQclear(res);
	gb_free_strv(pk);

	/*
	 * Indexes but the primary key's, as pg_get_indexdef writes them, the
	 * table unqualified so that a restore may put it in another schema.
	 * SQLite gets those on plain columns; the others it cannot make.
	 */
	params[0] = oid;
	/* pg_get_indexdef qualifies the table: unqualify it */
	res = query(p, "cannot read the indexes", table,
	    "SELECT ic.relname, i.indisunique, "
	    "replace(replace(pg_get_indexdef(i.indexrelid), "
	    "' ON ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || "
	    "' USING ', ' ON ' || quote_ident(c.relname) || ' USING '), "
	    "' ON ONLY ' || quote_ident(n.nspname) || '.' || "
	    "quote_ident(c.relname) || ' USING ', ' ON ONLY ' || "
	    "quote_ident(c.relname) || ' USING '), "
	    "i.indexprs IS NULL AND i.indpred IS NULL AND am.amname = 'btree', "
	    "(SELECT string_agg(quote_ident(a.attname) || CASE WHEN "
	    "i.indoption[k.n - 1] & 1 = 1 THEN ' DESC' ELSE '' END, ', ' "
	    "ORDER BY k.n) FROM unnest(i.indkey::int2[]) WITH ORDINALITY "
	    "AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = i.indrelid "
	    "AND a.attnum = k.attnum WHERE k.n <= i.indnkeyatts) "
	    "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
	    "JOIN pg_class c ON c.oid = i.indrelid "
	    "JOIN pg_namespace n ON n.oid = c.relnamespace "
	    "JOIN pg_am am ON am.oid = ic.relam "
	    "WHERE i.indrelid = $1::oid AND NOT i.indisprimary "
	    "ORDER BY ic.relname COLLATE \"C\"", 1, params);
	gb_pg_put_lite(o, lite);
	free(lite);
	for (int i = 0; i < PQntuples(res); i++) {
		put(o, PQgetvalue(res, i, 2));
		put(o, ";\n");
	}
	for (int i = 0; i < PQntuples(res); i++) {
		char *qi = gb_quote_ident(PQgetvalue(res, i, 0));
		if (PQgetvalue(res, i, 3)[0] == 't' && !PQgetisnull(res, i, 4))
			x = gb_asprintf("CREATE %sINDEX %s ON %s (%s);",
			    PQgetvalue(res, i, 1)[0] == 't' ? "UNIQUE " : "", qi,
			    ql, PQgetvalue(res, i, 4));
		else {
			char *c = comment_text(qi);
			x = gb_asprintf("-- (not in SQLite: index %s)", c);
			free(c);
		}
		gb_pg_put_lite(o, x);
		free(x);
		free(qi);
	}
	PQclear(res);
	free(oid);
	free(s);
	free(t);
	free(qt);
	free(ql);
}

void
gb_pg_schema(struct gb_pg *p, char *const *tables, size_t n,
    struct gb_out *o)
{
	static const char head[] =
	    "-- gymbackup SCHEMA.sql (dialect postgresql): the exported tables\n"
	    "-- as PostgreSQL has them: columns, NOT NULL, primary keys and\n"
	    "-- indexes; no defaults, sequences, foreign keys, checks or\n"
	    "-- triggers.  psql -f SCHEMA.sql makes them.  The lines starting\n"
	    "-- \"-- sqlite: \" are the same tables for SQLite:\n"
	    "--   sed -n 's/^-- sqlite: //p' SCHEMA.sql | sqlite3 new.db\n";
	char *cur = NULL;

	put(o, head);
	for (size_t i = 0; i < n; i++) {
		char *s, *t, *flat, *qs, *set;
		if (gb_pg_splitname(tables[i], &s, &t) == -1)
			gb_errx(GB_EXIT_USAGE, "%s: no table %s in the database",
			    p->name, tables[i]);
		if (!cur || strcmp(cur, s) != 0) {
			qs = gb_quote_ident(s);
			put(o, "\nCREATE SCHEMA IF NOT EXISTS ");
			put(o, qs);
			put(o, ";\nSET search_path = ");
			put(o, qs);
			put(o, ";\n");
			/* names in index expressions relative to the table's */
			set = gb_asprintf("SET search_path = pg_catalog, %s", qs);
			command(p, "cannot set the search path", set);
			free(set);
			free(qs);
			free(cur);
			cur = gb_strdup(s);
		}
		flat = gb_pg_flatname(tables[i], tables, n);
		schema_table(p, tables[i], flat, o);
		free(flat);
		free(s);
		free(t);
	}
	free(cur);
	command(p, "cannot set the search path", "SET search_path = pg_catalog");
}

/* -------------------------------------------------------------- dump */

struct dumpstate {
	struct gb_pg *p;
	const struct gb_tinfo *ti;
	struct gb_mtable *mt;
	struct gb_out *o;
	char *isfloat;		/* per column */
	int *money;		/* per column: 1 + index of its sum, or 0 */
	int *pkcol;		/* column of each key part */
	const char **f;		/* the record's fields (NULL: SQL NULL) */
	size_t *fn;
	char *buf;		/* unquoted field bytes of the record */
	size_t cap;
	struct gb_money *sums;	/* mt's, or the row's (state.c) */
	int verbatim;		/* the record as COPY sent it is the export's */
	size_t need;		/* the fields looked at in such a record */
};

/* A decimal integer of n bytes: 0, or -1 when it is not one of 64 bits. */
static int
parse_int(const char *p, size_t n, int64_t *v)
{
	uint64_t u = 0, lim = INT64_MAX;
	size_t i = n > 0 && *p == '-';

	if (i == n)
		return -1;
	lim += i;		/* -2^63 */
	for (; i < n; i++) {
		unsigned d = (unsigned char)p[i] - '0';
		if (d > 9 || u > (lim - d) / 10)
			return -1;
		u = u * 10 + d;
	}
	*v = *p == '-' ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

static _Noreturn void
bad_record(struct dumpstate *s)
{
	gb_errx(GB_EXIT_RUN, "%s: table %s: COPY sent a record that is not "
	    "the CSV asked for (record %llu)", s->p->name, s->ti->name,
	    (unsigned long long)s->mt->rows + 1);
}

/*
 * May the record (n bytes, the last a newline) go out as COPY sent it?
 * COPY quotes what holds a separator, a quote or a line end, and the
 * empty string, as the export does, with the same bytes; not edge
 * spaces, nor "\." beside other fields.  Those are looked for where a
 * space or a backslash is, erring on the safe side.
 */
static int
as_sent(const char *p, size_t n)
{
	const char *q = p, *end = p + n - 1;

	while ((q = memchr(q, ' ', (size_t)(end - q))) != NULL) {
		if (q == p || q[-1] == ',' || q[1] == ',' || q[1] == '\n')
			return 0;
		q++;
	}
	return !memchr(p, '\\', n);
}

/*
 * Splits one record of COPY's CSV (the server sends one per message,
 * ending in a newline) into fields, quoted ones unquoted into buf: of a
 * record that goes out as it came, only the first s->need.
 */
static void
split_record(struct dumpstate *s, const char *p, size_t n)
{
	size_t i = 0, col = 0, w = 0, upto;

	if (n + 1 > s->cap) {
		s->cap = n + 1 > 2 * s->cap ? n + 1 : 2 * s->cap;
		s->buf = gb_realloc(s->buf, s->cap);
	}
	if (n == 0 || p[n - 1] != '\n')
		bad_record(s);
	s->verbatim = as_sent(p, n);
	upto = s->verbatim ? s->need : s->ti->ncols;
	for (;;) {
		if (col == s->ti->ncols)
			bad_record(s);
		if (p[i] == '"') {
			size_t start = w;
			for (i++;;) {
				const char *q = memchr(p + i, '"', n - i);
				if (!q)
					bad_record(s);
				memcpy(s->buf + w, p + i, (size_t)(q - p) - i);
				w += (size_t)(q - p) - i;
				i = (size_t)(q - p) + 1;
				if (p[i] != '"')
					break;
				s->buf[w++] = '"';
				i++;
			}
			s->f[col] = s->buf + start;
			s->fn[col] = w - start;
		} else {
			size_t start = i;
			while (p[i] != ',' && p[i] != '\n')
				i++;
			s->f[col] = i > start ? p + start : NULL;
			s->fn[col] = i - start;
		}
		if (s->isfloat[col] && s->f[col]) {	/* written again */
			s->verbatim = 0;
			upto = s->ti->ncols;
		}
		if (++col == upto && upto < s->ti->ncols)
			return;
		if (p[i] == '\n' && i + 1 == n)
			break;
		if (p[i] != ',')
			bad_record(s);
		i++;
	}
	if (col != s->ti->ncols)
		bad_record(s);
}

static char *
record_key(struct dumpstate *s)
{
	char *k = gb_strdup("");

	for (size_t i = 0; i < s->ti->npk; i++) {
		int c = s->pkcol[i];
		char *nk = gb_asprintf("%s%s%s=%.*s", k, i ? ", " : "",
		    s->ti->pk[i], c >= 0 && s->f[c] ? (int)s->fn[c] : 4,
		    c >= 0 && s->f[c] ? s->f[c] : "NULL");
		free(k);
		k = nk;
	}
	return k;
}

/* The record in the export dialect; its money into the sums. */
static void
put_record(struct dumpstate *s, const char *rec, size_t n)
{
	if (s->verbatim)
		gb_out_write(s->o, rec, n);
	else {
		for (size_t c = 0; c < s->ti->ncols; c++) {
			if (c)
				gb_out_putc(s->o, ',');
			if (s->f[c] && s->isfloat[c]) {
				/* shortest %.{15,16,17}g, as for SQLite's reals */
				char tmp[64], *end;
				double v;
				if (s->fn[c] >= sizeof tmp)
					bad_record(s);
				memcpy(tmp, s->f[c], s->fn[c]);
				tmp[s->fn[c]] = '\0';
				v = strtod(tmp, &end);
				if (*end)
					bad_record(s);
				gb_csv_real(s->o, v);
			} else
				gb_csv_text(s->o, s->f[c], s->fn[c]);
		}
		gb_out_putc(s->o, '\n');
	}
	for (size_t c = 0; c < s->ti->ncols; c++) {
		int64_t v, *sum;
		if (!s->money[c] || !s->f[c])
			continue;
		sum = &s->sums[s->money[c] - 1].sum;
		if (parse_int(s->f[c], s->fn[c], &v) == -1) {
			char *key;
			s->need = s->ti->ncols;	/* every field, for the key */
			split_record(s, rec, n);
			key = record_key(s);
			gb_errx(GB_EXIT_RUN, "%s: table %s: money column %s "
			    "holds a value that is not an integer at %s; "
			    "money columns hold integer cents", s->p->name,
			    s->ti->name, s->ti->cols[c], key);
		}
		if (__builtin_add_overflow(*sum, v, sum))
			gb_errx(GB_EXIT_RUN, "%s: table %s: sum of money column "
			    "%s overflows 64 bits", s->p->name, s->ti->name,
			    s->ti->cols[c]);
	}
}

/* A key part of the record, as its type orders it (state.c). */
static void
key_value(struct dumpstate *s, int c, int type, struct gb_kval *k)
{
	char tmp[64], *end;

	memset(k, 0, sizeof *k);
	if (!s->f[c]) {
		k->type = GB_K_LAST;	/* NULLS LAST */
		return;
	}
	k->type = GB_K_TEXT;
	k->p = s->f[c];
	k->n = s->fn[c];
	if (type == GB_K_TEXT || s->fn[c] >= sizeof tmp)
		return;
	if (type == GB_K_INT) {
		if (parse_int(s->f[c], s->fn[c], &k->i) == 0)
			k->type = GB_K_INT;
	} else {
		memcpy(tmp, s->f[c], s->fn[c]);
		tmp[s->fn[c]] = '\0';
		k->r = strtod(tmp, &end);
		if (!*end)
			k->type = GB_K_REAL;
	}
}

/*
 * COPY's CSV differs from the export dialect in details (edge spaces and
 * "\." unquoted, floats in their shortest digits), so each record is
 * split, and written again where it differs: the same table gives the
 * same bytes from PostgreSQL and from SQLite.
 */
void
gb_pg_dump(struct gb_pg *p, const struct gb_tinfo *ti,
    const struct gb_dump *d, struct gb_out *o, struct gb_mtable *mt)
{
	struct dumpstate s = { .p = p, .ti = ti, .mt = mt, .o = d->delta ?
	    gb_delta_buf(d->delta) : o };
	char *oid = table_oid(p, ti->name), *rel, *cols = gb_strdup(""),
	    *order = gb_strdup(""), *where = NULL, *sql, *x, *row, *ktype;
	char **key = d->key ? d->key : ti->pk;
	size_t nkey = d->key ? d->nkey : ti->npk;
	int *kcol;
	struct gb_kval *kv;
	PGresult *res;
	int n, unsent = 0;

	if (!oid)
		gb_errx(GB_EXIT_RUN, "%s: table %s is gone", p->name, ti->name);
	rel = relation(p, ti->name);
	res = columns(p, ti->name, oid);
	if ((size_t)PQntuples(res) != ti->ncols)
		gb_errx(GB_EXIT_RUN, "%s: table %s changed while read", p->name,
		    ti->name);
	s.isfloat = gb_calloc(ti->ncols + 1, 1);
	s.money = gb_calloc(ti->ncols + 1, sizeof *s.money);
	s.pkcol = gb_calloc(ti->npk + 1, sizeof *s.pkcol);
	s.f = gb_calloc(ti->ncols + 1, sizeof *s.f);
	s.fn = gb_calloc(ti->ncols + 1, sizeof *s.fn);
	for (size_t c = 0; c < ti->ncols; c++) {
		char *qc = gb_quote_ident(ti->cols[c]);
		long type = strtol(PQgetvalue(res, (int)c, C_TYPE), NULL, 10);
		s.isfloat[c] = type == FLOAT4OID || type == FLOAT8OID;
		x = gb_asprintf("%s%s%s", cols, c ? ", " : "", qc);
		free(cols);
		cols = x;
		/* no key: order by every column's text, which any type has */
		if (ti->npk == 0) {
			x = gb_asprintf("%s%s%s::text COLLATE \"C\"", order,
			    c ? ", " : "", qc);
			free(order);
			order = x;
		}
		for (size_t k = 0; k < ti->npk; k++)
			if (strcmp(ti->pk[k], ti->cols[c]) == 0)
				s.pkcol[k] = (int)c;
		free(qc);
	}
	/*
	 * Key order as SQLite's BINARY collation has it: bytes.  A key given
	 * (d->key): numbers by value, any other type by its text in bytes,
	 * as the merge of state.c compares them.
	 */
	kcol = gb_calloc(nkey + 1, sizeof *kcol);
	ktype = gb_calloc(nkey + 1, 1);
	kv = gb_calloc(nkey + 1, sizeof *kv);
	for (size_t k = 0; k < nkey; k++) {
		char *qc = gb_quote_ident(key[k]);
		int c = gb_tinfo_column(ti, key[k]), coll;
		const char *lite;
		if (c < 0)
			gb_errx(GB_EXIT_RUN, "%s: table %s has no column %s",
			    p->name, ti->name, key[k]);
		kcol[k] = c;
		coll = PQgetvalue(res, c, C_COLL)[0] == 't';
		lite = PQgetvalue(res, c, C_LITE);
		ktype[k] = !strcmp(lite, "INTEGER") ? GB_K_INT :
		    !strcmp(lite, "REAL") ? GB_K_REAL : GB_K_TEXT;
		x = gb_asprintf("%s%s%s%s", order, k ? ", " : "", qc,
		    coll || (d->key && ktype[k] == GB_K_TEXT) ?
		    d->key && !coll ? "::text COLLATE \"C\"" : " COLLATE \"C\"" :
		    "");
		free(order);
		order = x;
		free(qc);
	}
	PQclear(res);

	mt->money = gb_calloc(d->nmoney + 1, sizeof *mt->money);
	mt->nmoney = d->nmoney;
	for (size_t k = 0; k < d->nmoney; k++) {
		int c = gb_tinfo_column(ti, d->money[k]);
		mt->money[k].column = gb_strdup(d->money[k]);
		if (c >= 0)
			s.money[c] = (int)k + 1;
	}
	/* the fields a record that goes out as it came is split for */
	s.need = 1;
	for (size_t c = 0; c < ti->ncols; c++)
		if (s.money[c] || s.isfloat[c])
			s.need = c + 1;
	for (size_t k = 0; k < nkey && d->delta; k++)
		if ((size_t)kcol[k] + 1 > s.need)
			s.need = (size_t)kcol[k] + 1;
	if (d->wm_column && d->wm_from) {
		/* COPY takes no parameters: a literal, typed by the column */
		char *lit = PQescapeLiteral(p->conn, d->wm_from, strlen(d->wm_from));
		char *qc = gb_quote_ident(d->wm_column);
		if (!lit)
			pg_fail(p, "cannot quote the watermark", ti->name, NULL);
		where = gb_asprintf(" WHERE %s > %s", qc, lit);
		PQfreemem(lit);
		free(qc);
	}
	if (d->ranged) {
		/* a range of the key is in key order only when it is the key */
		char *qc = gb_quote_ident(ti->pk[0]);
		if (!ti->rowid_key || nkey != 1 || strcmp(key[0], ti->pk[0]))
			gb_errx(GB_EXIT_RUN, "%s: table %s: a split table has no "
			    "key order", p->name, ti->name);
		/* no bound at an end: -2^63 would be a numeric, not a key */
		if (d->lo != INT64_MIN) {
			x = gb_asprintf("%s %s %s >= %lld", where ? where : "",
			    where ? "AND" : "WHERE", qc, (long long)d->lo);
			free(where);
			where = x;
		}
		if (d->hi != INT64_MAX) {
			x = gb_asprintf("%s %s %s <= %lld", where ? where : "",
			    where ? "AND" : "WHERE", qc, (long long)d->hi);
			free(where);
			where = x;
		}
		free(qc);
	}
	sql = gb_asprintf("COPY (SELECT %s FROM %s%s%s%s) TO STDOUT "
	    "(FORMAT csv)", *cols ? cols : "", rel, where ? where : "",
	    *order ? " ORDER BY " : "", order);
	res = PQexecParams(p->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COPY_OUT)
		pg_fail(p, "cannot read", ti->name, res);
	PQclear(res);

	s.sums = d->delta ? gb_delta_sums(d->delta) : mt->money;
	for (size_t c = 0; c < ti->ncols && !d->part; c++) {
		gb_csv_text(s.o, ti->cols[c], strlen(ti->cols[c]));
		gb_out_putc(s.o, c + 1 < ti->ncols ? ',' : '\n');
	}
	if (ti->ncols == 0 && !d->part)
		gb_out_putc(s.o, '\n');
	if (d->delta)
		gb_delta_head(d->delta);
	mt->rows = 0;
	while ((n = PQgetCopyData(p->conn, &row, 0)) > 0) {
		if (ti->ncols == 0) {
			/* a table without columns: COPY sends empty records */
			gb_out_putc(s.o, '\n');
		} else {
			split_record(&s, row, (size_t)n);
			put_record(&s, row, (size_t)n);
		}
		if (d->delta) {
			for (size_t k = 0; k < nkey; k++)
				key_value(&s, kcol[k], ktype[k], &kv[k]);
			gb_delta_row(d->delta, kv);
		} else
			mt->rows++;
		PQfreemem(row);
		/* the count is shared by the threads: not at every row */
		if (++unsent == 4096) {
			gb_progress_add((uint64_t)unsent);
			unsent = 0;
		}
		if (o->err)
			break;
	}
	gb_progress_add((uint64_t)unsent);
	if (!o->err) {
		if (n == -2)
			pg_fail(p, "cannot read", ti->name, NULL);
		while ((res = PQgetResult(p->conn)) != NULL) {
			if (PQresultStatus(res) != PGRES_COMMAND_OK)
				pg_fail(p, "cannot read", ti->name, res);
			PQclear(res);
		}
	}
	free(kcol);
	free(ktype);
	free(kv);
	free(s.isfloat);
	free(s.money);
	free(s.pkcol);
	free(s.f);
	free(s.fn);
	free(s.buf);
	free(sql);
	free(where);
	free(order);
	free(cols);
	free(rel);
	free(oid);
}

void
gb_pg_wm_max(struct gb_pg *p, const char *table, const char *column,
    const char *from_type, const char *from, char **type, char **value)
{
	char *oid = table_oid(p, table), *rel = relation(p, table);
	char *qc = gb_quote_ident(column), *sql;
	const char *params[2] = { NULL, column };
	const char *t;
	PGresult *res;

	*type = *value = NULL;
	if (!oid)
		gb_errx(GB_EXIT_RUN, "%s: table %s is gone", p->name, table);
	params[0] = oid;
	res = query(p, "cannot read the watermark", table,
	    "SELECT t.typname FROM pg_attribute a JOIN pg_type t "
	    "ON t.oid = a.atttypid WHERE a.attrelid = $1::oid "
	    "AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped", 2,
	    params);
	if (PQntuples(res) != 1)
		gb_errx(GB_EXIT_USAGE, "%s: table %s has no column %s", p->name,
		    table, column);
	/* Recorded as integer, real or text, else PostgreSQL's type name. */
	t = PQgetvalue(res, 0, 0);
	if (strcmp(t, "bytea") == 0)
		gb_errx(GB_EXIT_RUN, "%s: table %s: watermark column %s holds "
		    "bytes; a watermark must be a number or a time", p->name,
		    table, column);
	if (!strcmp(t, "int2") || !strcmp(t, "int4") || !strcmp(t, "int8"))
		t = "integer";
	else if (!strcmp(t, "float4") || !strcmp(t, "float8"))
		t = "real";
	else if (!strcmp(t, "text") || !strcmp(t, "varchar") ||
	    !strcmp(t, "bpchar"))
		t = "text";
	*type = gb_strdup(t);
	PQclear(res);

	/* The parameter takes the column's type: compared as that type. */
	(void)from_type;
	sql = gb_asprintf("SELECT max(%s)::text FROM %s%s%s%s", qc, rel,
	    from ? " WHERE " : "", from ? qc : "", from ? " > $1" : "");
	params[0] = from;
	res = query(p, "cannot read the watermark", table, sql, from ? 1 : 0,
	    params);
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		const char *v = PQgetvalue(res, 0, 0);
		if (strcmp(*type, "real") == 0) {
			char buf[32];
			gb_fmt_real(buf, sizeof buf, strtod(v, NULL));
			*value = gb_strdup(buf);
		} else
			*value = gb_strdup(v);
	} else {
		free(*type);
		*type = NULL;
	}
	PQclear(res);
	free(sql);
	free(qc);
	free(rel);
	free(oid);
}
