/*
 * db.c - the catalog's connection and statements, the same on SQLite and
 * on PostgreSQL, so the catalog's SQL is written once.  Parameters are
 * written ?1, ?2... (PostgreSQL gets $1, $2...) and bound as text or
 * integers; a PostgreSQL SELECT is read through a cursor, FETCH_ROWS at a
 * time, so no result is held whole, and statements may nest as on SQLite.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "gb.h"
#include "gb-db.h"

#define FETCH_ROWS 256

struct gb_stmt {
	struct gb_catalog *c;
	char *sql;		/* as given: for messages */
	sqlite3_stmt *st;	/* SQLite */
	/* PostgreSQL: the text with $N, the parameters, the current batch */
	char *pgsql;
	char **params;
	int nparams;
	int select;		/* read through a cursor */
	int running;		/* run since the last reset */
	char cursor[32];	/* its name while open, else "" */
	PGresult *res;
	int row, nrows;
	long long changes;
};

int
gb_catalog_is_pg(const struct gb_catalog *c)
{
	return c->pg != NULL;
}

/* The server's reason, its first line, without "ERROR:  ". */
static const char *
pg_reason(struct gb_catalog *c)
{
	static char why[512];
	const char *m = PQerrorMessage(c->pg);

	for (const char *const *p = (const char *const []){ "ERROR:  ",
	    "FATAL:  ", NULL }; *p; p++)
		if (strncmp(m, *p, strlen(*p)) == 0)
			m += strlen(*p);
	snprintf(why, sizeof why, "%.*s", (int)strcspn(m, "\n"), m);
	return *why ? why : "the connection failed";
}

/* Why the last attempt of a transaction failed: said when giving up. */
static char failed[1024];

/*
 * PostgreSQL: what failed (res NULL: nothing): its SQLSTATE, and whether
 * running the transaction again may succeed.
 */
static void
pg_note(struct gb_catalog *c, PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) :
	    NULL;
	const char *table = res ? PQresultErrorField(res, PG_DIAG_TABLE_NAME) :
	    NULL;

	snprintf(c->sqlstate, sizeof c->sqlstate, "%s", state ? state : "");
	c->retryable = state && (strcmp(state, "40001") == 0 ||
	    strcmp(state, "40P01") == 0 || (strcmp(state, "23505") == 0 &&
	    table && strcmp(table, "audit") == 0));
}

/* Inside gb_catalog_txn, a failure worth another attempt goes back. */
static void
retry(struct gb_catalog *c, const char *what)
{
	if (!c->pg || !c->retry || !c->retryable)
		return;
	snprintf(failed, sizeof failed, "%s%s%s", what ? what : "", what ?
	    ": " : "", pg_reason(c));
	longjmp(*c->retry, 1);
}

_Noreturn void
gb_catalog_fail(struct gb_catalog *c, const char *what)
{
	retry(c, what);
	gb_errx(GB_EXIT_RUN, "catalog %s: %s: %s", c->path, what, c->pg ?
	    pg_reason(c) : sqlite3_errmsg(c->db));
}

/* A statement's result judged and cleared: 0, or -1 with the SQLSTATE kept. */
static int
pg_done(struct gb_catalog *c, PGresult *res)
{
	ExecStatusType s = PQresultStatus(res);
	int ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;

	pg_note(c, ok ? NULL : res);
	PQclear(res);
	return ok ? 0 : -1;
}

/* A statement of the connection's own (no cursor, parameters as text). */
static int
pg_exec(struct gb_catalog *c, const char *sql, int n, const char *const *v)
{
	return pg_done(c, PQexecParams(c->pg, sql, n, NULL, v, NULL, NULL, 0));
}

/* Runs SQL text, one statement or more, without parameters. */
void
gb_catalog_exec(struct gb_catalog *c, const char *sql)
{
	char *msg = NULL;

	if (c->pg) {
		/* PQexec: schema text is several statements */
		if (pg_done(c, PQexec(c->pg, sql)) == -1) {
			retry(c, NULL);
			gb_errx(GB_EXIT_RUN, "catalog %s: %s", c->path,
			    pg_reason(c));
		}
		return;
	}
	if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		char *m = gb_strdup(msg ? msg : "?");
		sqlite3_free(msg);
		gb_errx(GB_EXIT_RUN, "catalog %s: %s", c->path, m);
	}
}

/*
 * SQLite: IMMEDIATE, the write lock taken now, so two writers queue, not
 * fail.  PostgreSQL: the site's lock, held to the end of the
 * transaction, so the writers of a site queue and its audit chain stays
 * one chain; other sites go on.  It is the site's row of site_locks,
 * which only its roles and the owner may lock (an advisory lock, open to
 * every role, would let another site hang its writers).  With no row (a
 * site not in sites) only the owner may write: an advisory lock does.
 * The opening writes no site's rows (schema_lock guards a schema being
 * made or upgraded, site_locks with it), so takes neither.  READ
 * COMMITTED whatever the database's default: under the lock each
 * statement sees the head its site's last writer committed, and a
 * database set to SERIALIZABLE would fail writers of other sites for
 * nothing.
 */
static void
begin(struct gb_catalog *c)
{
	const char *const site[] = { c->site };
	PGresult *res;
	int rows;

	if (!c->pg) {
		gb_catalog_exec(c, "BEGIN IMMEDIATE");
		return;
	}
	if (pg_exec(c, "BEGIN ISOLATION LEVEL READ COMMITTED", 0, NULL) == -1)
		gb_catalog_fail(c, "cannot begin a transaction");
	if (!c->opened)
		return;
	res = PQexecParams(c->pg, "SELECT 1 FROM site_locks WHERE site = $1 "
	    "FOR UPDATE", 1, NULL, site, NULL, NULL, 0);
	rows = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : 0;
	if (pg_done(c, res) == -1 || (rows == 0 && pg_exec(c, "SELECT "
	    "pg_advisory_xact_lock(hashtextextended('gymbackup site ' || $1, "
	    "0))", 1, site) == -1))
		gb_catalog_fail(c, "cannot begin a transaction");
}

static void
rollback(struct gb_catalog *c)
{
	if (c->pg)
		(void)pg_exec(c, "ROLLBACK", 0, NULL);
	else if (!sqlite3_get_autocommit(c->db))
		(void)sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

/*
 * A COMMIT that may fail: 0, or -1 with the transaction rolled back and
 * the reason in err.
 */
static int
commit(struct gb_catalog *c, char *err, size_t errlen)
{
	if (c->pg) {
		int again;
		if (pg_exec(c, "COMMIT", 0, NULL) == 0)
			return 0;
		snprintf(err, errlen, "%s", pg_reason(c));
		again = c->retryable;
		rollback(c);
		c->retryable = again;
		return -1;
	}
	if (sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s", sqlite3_errmsg(c->db));
	rollback(c);
	return -1;
}

/*
 * The test hook of gb-catalog(1) ENVIRONMENT: GB_CATALOG_FAIL_ONCE=SQLSTATE
 * makes the server fail the first write transaction of the process after
 * the catalog's opening (the tool's work) with that SQLSTATE (as a
 * failure on the audit table), after its work and before its COMMIT.
 */
static void
fail_once(struct gb_catalog *c)
{
	static int done;
	const char *s = getenv("GB_CATALOG_FAIL_ONCE");
	char *sql;

	if (done || !c->pg || !c->opened || !s || !*s)
		return;
	done = 1;
	if (strlen(s) != 5 || strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
	    != 5)
		gb_errx(GB_EXIT_USAGE, "GB_CATALOG_FAIL_ONCE wants an SQLSTATE "
		    "(5 digits or capitals), not %s", s);
	sql = gb_asprintf("DO $$BEGIN RAISE EXCEPTION 'GB_CATALOG_FAIL_ONCE=%s' "
	    "USING ERRCODE = '%s', TABLE = 'audit'; END$$", s, s);
	gb_catalog_exec(c, sql);
	free(sql);
}

/*
 * What fn says (gb_catalog_printf, gb_catalog_warnx): held while it runs,
 * said once it is committed (or rolled back, a dry run), dropped with an
 * attempt run again or failed: said once, and only of what was done.
 */
static struct {
	FILE *f;	/* NULL: nothing held */
	char *text;
	size_t len;
} held[2];	/* standard output, standard error */
static int holding;

static FILE *
hold(int i)
{
	if (!held[i].f && !(held[i].f = open_memstream(&held[i].text,
	    &held[i].len)))
		gb_err(GB_EXIT_RUN, "cannot hold a message");
	return held[i].f;
}

static void
held_end(int say)
{
	for (int i = 0; i < 2; i++) {
		if (!held[i].f)
			continue;
		fclose(held[i].f);
		if (say) {
			if (i)
				gb_progress_clear();
			fwrite(held[i].text, 1, held[i].len, i ? stderr :
			    stdout);
		}
		free(held[i].text);
		held[i].f = NULL;
	}
	holding = 0;
}

void
gb_catalog_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(holding ? hold(0) : stdout, fmt, ap);
	va_end(ap);
}

void
gb_catalog_warnx(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = gb_vasprintf(fmt, ap);
	va_end(ap);
	if (holding)
		fprintf(hold(1), "%s: %s\n", gb_progname, s);
	else
		gb_warnx("%s", s);
	free(s);
}

int
gb_catalog_try_txn(struct gb_catalog *c,
    void (*fn)(struct gb_catalog *, void *), void *arg, char *err,
    size_t errlen)
{
	static int seeded;
	jmp_buf again;
	volatile int tries = 1;
	int r;

	if (setjmp(again)) {
		/* the server ended the transaction; the ROLLBACK makes it so */
		c->retry = NULL;
		held_end(0);
		rollback(c);
		if (++tries > GB_CATALOG_TRIES)
			gb_errx(GB_EXIT_RUN, "catalog %s: %s; gave up after %d "
			    "tries", c->path, failed, GB_CATALOG_TRIES);
		if (!seeded) {
			/* else every process waits in step and clashes again */
			srand((unsigned)getpid() ^ (unsigned)time(NULL));
			seeded = 1;
		}
		usleep((useconds_t)(1000 * (tries * 10 + rand() % 50)));
	}
	c->retry = &again;
	holding = 1;
	begin(c);
	fn(c, arg);
	fail_once(c);
	if (c->dry_run) {
		rollback(c);
		r = 0;
	} else if ((r = commit(c, err, errlen)) == -1 && c->pg &&
	    c->retryable) {
		snprintf(failed, sizeof failed, "COMMIT: %s", err);
		longjmp(again, 1);
	}
	c->retry = NULL;
	held_end(r == 0);
	return r;
}

void
gb_catalog_txn(struct gb_catalog *c, void (*fn)(struct gb_catalog *, void *),
    void *arg)
{
	char err[512];

	if (gb_catalog_try_txn(c, fn, arg, err, sizeof err) == -1)
		gb_errx(GB_EXIT_RUN, "catalog %s: %s", c->path, err);
}

/* The connection closed, whatever its state; 0, or -1 and why in err. */
int
gb_catalog_disconnect(struct gb_catalog *c, char *err, size_t errlen)
{
	int r = 0;

	if (c->pg)
		PQfinish(c->pg);
	else if (sqlite3_close_v2(c->db) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(c->db));
		r = -1;
	}
	c->pg = NULL;
	c->db = NULL;
	return r;
}

static int
is_select(const char *sql)
{
	sql += strspn(sql, " \t\n");
	return strncasecmp(sql, "SELECT", 6) == 0 || strncasecmp(sql, "WITH", 4)
	    == 0;
}

struct gb_stmt *
gb_catalog_prepare(struct gb_catalog *c, const char *sql)
{
	struct gb_stmt *st = gb_calloc(1, sizeof *st);

	st->c = c;
	st->sql = gb_strdup(sql);
	if (!c->pg) {
		if (sqlite3_prepare_v2(c->db, sql, -1, &st->st, NULL) !=
		    SQLITE_OK)
			gb_catalog_fail(c, sql);
		return st;
	}
	st->pgsql = gb_sql_pg_params(sql, &st->nparams);
	st->params = gb_calloc((size_t)st->nparams + 1, sizeof *st->params);
	st->select = is_select(sql);
	return st;
}

static void
pg_param(struct gb_stmt *st, int i, char *v)
{
	if (i < 1 || i > st->nparams)
		gb_errx(GB_EXIT_RUN, "catalog: parameter %d of %d: %s", i,
		    st->nparams, st->sql);
	free(st->params[i - 1]);
	st->params[i - 1] = v;
}

void
gb_bind_text(struct gb_stmt *st, int i, const char *v)
{
	if (!st->c->pg) {
		if (v)
			sqlite3_bind_text(st->st, i, v, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st->st, i);
	} else
		pg_param(st, i, v ? gb_strdup(v) : NULL);
}

void
gb_bind_int64(struct gb_stmt *st, int i, long long v)
{
	if (!st->c->pg)
		sqlite3_bind_int64(st->st, i, v);
	else
		pg_param(st, i, gb_asprintf("%lld", v));
}

void
gb_bind_null(struct gb_stmt *st, int i)
{
	gb_bind_text(st, i, NULL);
}

/* The statement failed on the server: its reason is the connection's. */
static _Noreturn void
pg_fail(struct gb_stmt *st, PGresult *res)
{
	pg_note(st->c, res);
	PQclear(res);
	gb_catalog_fail(st->c, st->sql);
}

static PGresult *
pg_run(struct gb_stmt *st, const char *sql, int nparams, ExecStatusType want)
{
	PGresult *res = PQexecParams(st->c->pg, sql, nparams, NULL,
	    (const char *const *)st->params, NULL, NULL, 0);

	if (PQresultStatus(res) != want && !(want == PGRES_COMMAND_OK &&
	    PQresultStatus(res) == PGRES_TUPLES_OK))
		pg_fail(st, res);
	return res;
}

static void
pg_close_cursor(struct gb_stmt *st)
{
	char sql[48];

	if (!*st->cursor)
		return;
	snprintf(sql, sizeof sql, "CLOSE %s", st->cursor);
	*st->cursor = '\0';
	PQclear(pg_run(st, sql, 0, PGRES_COMMAND_OK));
}

static int
pg_step(struct gb_stmt *st)
{
	static unsigned long long cursors;
	char sql[64];

	if (!st->running) {
		st->running = 1;
		st->row = -1;
		st->nrows = 0;
		if (!st->select) {
			st->res = pg_run(st, st->pgsql, st->nparams,
			    PGRES_COMMAND_OK);
			st->changes = strtoll(PQcmdTuples(st->res), NULL, 10);
			st->nrows = PQntuples(st->res);	/* RETURNING */
		} else {
			/* WITH HOLD: it outlives a COMMIT while it is read */
			snprintf(st->cursor, sizeof st->cursor,
			    "gb_cursor_%llu", ++cursors);
			char *decl = gb_asprintf("DECLARE %s NO SCROLL CURSOR "
			    "WITH HOLD FOR %s", st->cursor, st->pgsql);
			PQclear(pg_run(st, decl, st->nparams,
			    PGRES_COMMAND_OK));
			free(decl);
		}
	}
	if (st->row + 1 < st->nrows) {
		st->row++;
		return GB_ROW;
	}
	if (!*st->cursor)	/* no cursor, or one read to its end */
		return GB_DONE;
	PQclear(st->res);
	snprintf(sql, sizeof sql, "FETCH %d FROM %s", FETCH_ROWS, st->cursor);
	st->res = pg_run(st, sql, 0, PGRES_TUPLES_OK);
	st->nrows = PQntuples(st->res);
	st->row = 0;
	if (st->nrows > 0)
		return GB_ROW;
	pg_close_cursor(st);
	return GB_DONE;
}

int
gb_step(struct gb_stmt *st)
{
	int r;

	if (st->c->pg)
		return pg_step(st);
	r = sqlite3_step(st->st);
	if (r == SQLITE_ROW)
		return GB_ROW;
	if (r != SQLITE_DONE)
		gb_catalog_fail(st->c, st->sql);
	st->changes = sqlite3_changes(st->c->db);
	return GB_DONE;
}

void
gb_reset(struct gb_stmt *st)
{
	if (!st->c->pg) {
		sqlite3_reset(st->st);
		return;
	}
	pg_close_cursor(st);
	PQclear(st->res);
	st->res = NULL;
	st->running = 0;
}

void
gb_finalize(struct gb_stmt *st)
{
	if (!st)
		return;
	if (st->c->pg) {
		gb_reset(st);
		for (int i = 0; i < st->nparams; i++)
			free(st->params[i]);
		free(st->params);
		free(st->pgsql);
	} else
		sqlite3_finalize(st->st);
	free(st->sql);
	free(st);
}

int
gb_col_null(struct gb_stmt *st, int i)
{
	if (!st->c->pg)
		return sqlite3_column_type(st->st, i) == SQLITE_NULL;
	return !st->res || st->row < 0 || st->row >= st->nrows ||
	    i >= PQnfields(st->res) || PQgetisnull(st->res, st->row, i);
}

const char *
gb_col_text(struct gb_stmt *st, int i)
{
	if (!st->c->pg)
		return (const char *)sqlite3_column_text(st->st, i);
	return gb_col_null(st, i) ? NULL : PQgetvalue(st->res, st->row, i);
}

const char *
gb_col(struct gb_stmt *st, int i)
{
	const char *t = gb_col_text(st, i);

	return t ? t : "";
}

long long
gb_col_int64(struct gb_stmt *st, int i)
{
	const char *t;

	if (!st->c->pg)
		return sqlite3_column_int64(st->st, i);
	if (!(t = gb_col_text(st, i)))
		return 0;
	if (strcmp(t, "t") == 0)	/* a boolean, as SQLite gives it */
		return 1;
	return strtoll(t, NULL, 10);
}

double
gb_col_double(struct gb_stmt *st, int i)
{
	const char *t;

	if (!st->c->pg)
		return sqlite3_column_double(st->st, i);
	return (t = gb_col_text(st, i)) ? strtod(t, NULL) : 0;
}

long long
gb_changes(struct gb_stmt *st)
{
	return st->changes;
}
