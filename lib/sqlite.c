/* sqlite.c - the SQLite source: one read transaction, tables streamed as CSV */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "gb.h"
#include "gb-db.h"

struct gb_sqlite {
	sqlite3 *db;
	char *path;
};

/*
 * The wait for a writer (-w, busy_timeout) is one budget for the process,
 * counted from the first time any statement found the database locked:
 * each connection, pragma and BEGIN waiting it anew made -w 3 wait 9 s.
 */
static struct {
	int wait;		/* seconds */
	int64_t since;		/* ns, CLOCK_MONOTONIC; 0: no wait yet */
} busy;

static int64_t
mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int
busy_wait(void *arg, int count)
{
	struct timespec pause = { 0, 20000000 };
	int64_t now = mono_ns(), none = 0;

	(void)arg;
	(void)count;
	/* the connections of the parallel export may get here at once */
	__atomic_compare_exchange_n(&busy.since, &none, now, 0,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	if (now - __atomic_load_n(&busy.since, __ATOMIC_RELAXED) >=
	    (int64_t)busy.wait * 1000000000)
		return 0;
	nanosleep(&pause, NULL);
	return 1;
}

/*
 * Reading a WAL database writes its -shm index: without -wal and -shm
 * files (no one has it open) a reader must create them beside it.
 */
static _Noreturn void
readonly_wal(struct gb_sqlite *s)
{
	struct passwd *pw = getpwuid(geteuid());
	char *dir = gb_strdup(s->path), *slash = strrchr(dir, '/');
	const char *user = pw ? pw->pw_name : "?";

	if (slash)
		*slash = '\0';
	gb_errx(GB_EXIT_RUN, "%s: %s: a WAL database is read through its "
	    "-wal and -shm files, which are missing, and user %s may not "
	    "create them in %s; give %s write access to that directory, or "
	    "export while they exist (the application has the database "
	    "open): see gb-export(1)", s->path, sqlite3_errmsg(s->db), user,
	    slash ? (*dir ? dir : "/") : ".", user);
}

static _Noreturn void
db_fail(struct gb_sqlite *s, const char *what, const char *table)
{
	int code = sqlite3_extended_errcode(s->db) & 0xff;
	int64_t since = __atomic_load_n(&busy.since, __ATOMIC_RELAXED);

	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		gb_errx(GB_EXIT_RUN, "%s: database is locked by a writer "
		    "(waited %d s); retry when the writer is done, or wait "
		    "longer: busy_timeout in the [source] section of the "
		    "config (gb-export -w)", s->path,
		    since ? (int)((mono_ns() - since) / 1000000000) : 0);
	if (code == SQLITE_READONLY &&
	    sqlite3_extended_errcode(s->db) != SQLITE_READONLY_ROLLBACK)
		readonly_wal(s);
	if (code == SQLITE_NOTADB)
		gb_errx(GB_EXIT_RUN, "%s: not an SQLite database", s->path);
	if (table)
		gb_errx(GB_EXIT_RUN, "%s: table %s: %s: %s", s->path, table,
		    what, sqlite3_errmsg(s->db));
	gb_errx(GB_EXIT_RUN, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static sqlite3_stmt *
prepare(struct gb_sqlite *s, const char *sql, const char *table)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		db_fail(s, "cannot read", table);
	return st;
}

struct gb_sqlite *
gb_sqlite_open(const char *path, int wait_seconds, const char *vfs)
{
	struct gb_sqlite *s = gb_calloc(1, sizeof *s);
	struct stat sb;

	/* stat first: SQLite's "unable to open database file" hides why. */
	if (stat(path, &sb) == -1)
		gb_err(GB_EXIT_RUN, "cannot open database %s", path);
	if (S_ISDIR(sb.st_mode))
		gb_errx(GB_EXIT_RUN, "cannot open database %s: is a directory",
		    path);
	s->path = gb_strdup(path);
	/* No memory statistics: they take a lock shared by every thread. */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	/* NOMUTEX: one thread uses the connection; a lock per column costs */
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_NOMUTEX, vfs) != SQLITE_OK)
		gb_errx(GB_EXIT_RUN, "cannot open database %s: %s", path,
		    s->db ? sqlite3_errmsg(s->db) : "out of memory");
	busy.wait = wait_seconds;
	sqlite3_busy_handler(s->db, busy_wait, NULL);
	/* A database nobody here wrote must not run its code in our reads. */
	sqlite3_exec(s->db, "PRAGMA trusted_schema=OFF", NULL, NULL, NULL);
	/* Reads go through each table once: a small cache keeps memory flat. */
	sqlite3_exec(s->db, "PRAGMA cache_size=-512", NULL, NULL, NULL);
	return s;
}

void
gb_sqlite_close(struct gb_sqlite *s)
{
	if (!s)
		return;
	sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

void
gb_sqlite_snapshot(struct gb_sqlite *s)
{
	/*
	 * A deferred transaction takes its snapshot at the first read, so
	 * read once now: every table is then seen as of this instant.
	 */
	if (sqlite3_exec(s->db, "BEGIN; SELECT count(*) FROM sqlite_schema",
	    NULL, NULL, NULL) != SQLITE_OK)
		db_fail(s, "cannot start the read transaction", NULL);
}

/*
 * n connections to one database, all reading one snapshot, so that tables
 * can be exported in parallel.  Under a rollback journal the first
 * reader's shared lock keeps every writer out until the others have begun.
 * In WAL mode writers go on beside readers, so the writer lock is held
 * (BEGIN IMMEDIATE on a read-write connection, for milliseconds) while the
 * readers begin, and released without writing.  When that lock cannot be
 * had (no write permission), one connection it is.
 */
int
gb_sqlite_snapshots(struct gb_sqlite **conns, int n, const char *path,
    int wait_seconds)
{
	sqlite3 *lock = NULL;
	sqlite3_stmt *st;
	int wal = 0;

	conns[0] = gb_sqlite_open(path, wait_seconds, NULL);
	if (n > 1 && sqlite3_prepare_v2(conns[0]->db, "PRAGMA journal_mode", -1,
	    &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			wal = strcmp((const char *)sqlite3_column_text(st, 0),
			    "wal") == 0;
		else
			n = 1;
		sqlite3_finalize(st);
	}
	if (n > 1 && wal) {
		if (sqlite3_open_v2(path, &lock, SQLITE_OPEN_READWRITE |
		    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
		    sqlite3_busy_handler(lock, busy_wait, NULL) != SQLITE_OK ||
		    sqlite3_exec(lock, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
		    SQLITE_OK)
			n = 1;
	}
	gb_sqlite_snapshot(conns[0]);
	for (int i = 1; i < n; i++) {
		conns[i] = gb_sqlite_open(path, wait_seconds, NULL);
		gb_sqlite_snapshot(conns[i]);
	}
	if (lock) {
		sqlite3_exec(lock, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(lock);
	}
	return n;
}

int
gb_sqlite_rowids(struct gb_sqlite *s, const struct gb_tinfo *ti,
    int64_t *min, int64_t *max)
{
	char *q, *sql;
	sqlite3_stmt *st;
	int r = -1;

	if (!ti->rowid)
		return -1;
	q = gb_quote_ident(ti->name);
	sql = gb_asprintf("SELECT (SELECT min(%s) FROM %s), "
	    "(SELECT max(%s) FROM %s)", ti->rowid_name, q, ti->rowid_name, q);

	/*
	 * A rowid table answers each from an end of its b-tree; min and max
	 * in one SELECT would read the whole table.
	 */
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW &&
		    sqlite3_column_type(st, 0) == SQLITE_INTEGER) {
			*min = sqlite3_column_int64(st, 0);
			*max = sqlite3_column_int64(st, 1);
			r = 0;
		}
		sqlite3_finalize(st);
	}
	free(sql);
	free(q);
	return r;
}

void
gb_free_strv(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

char **
gb_sqlite_tables(struct gb_sqlite *s)
{
	/* not the shadow tables that hold a virtual table's index */
	sqlite3_stmt *st = prepare(s, "SELECT name FROM pragma_table_list "
	    "WHERE schema = 'main' AND type IN ('table', 'virtual') AND "
	    "name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name", NULL);
	char **v = gb_malloc(sizeof *v);
	size_t n = 0;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = gb_realloc(v, (n + 2) * sizeof *v);
		v[n++] = gb_strdup((const char *)sqlite3_column_text(st, 0));
	}
	if (rc != SQLITE_DONE)
		db_fail(s, "cannot list tables", NULL);
	sqlite3_finalize(st);
	v[n] = NULL;
	return v;
}

int
gb_sqlite_tinfo(struct gb_sqlite *s, const char *table, struct gb_tinfo *ti)
{
	sqlite3_stmt *st;
	int rc, found = 0;
	size_t maxpk = 0;
	int *pkpos = NULL;

	memset(ti, 0, sizeof *ti);
	st = prepare(s, "SELECT type = 'table', sql LIKE 'CREATE VIRTUAL %' "
	    "FROM sqlite_schema WHERE name = ?1 AND type IN ('table', 'view')",
	    table);
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		found = sqlite3_column_int(st, 0);
		ti->fts5 = sqlite3_column_int(st, 1);
	} else if (rc != SQLITE_DONE)
		db_fail(s, "cannot read the schema", table);
	sqlite3_finalize(st);
	if (!found)
		return -1;

	ti->name = gb_strdup(table);
	if (ti->fts5) {
		/*
		 * FTS5 (the only virtual table gb_sqlite_schema lets through):
		 * no column may be called rowid, and rows are found by it, so
		 * it goes first, as the key.
		 */
		ti->cols = gb_malloc(sizeof *ti->cols);
		pkpos = gb_malloc(sizeof *pkpos);
		ti->cols[0] = gb_strdup("rowid");
		pkpos[0] = 1;
		ti->ncols = 1;
		maxpk = 1;
	}
	st = prepare(s, "SELECT name, pk FROM pragma_table_info(?1) "
	    "ORDER BY cid", table);
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int pk = sqlite3_column_int(st, 1);
		ti->cols = gb_realloc(ti->cols, (ti->ncols + 1) * sizeof *ti->cols);
		pkpos = gb_realloc(pkpos, (ti->ncols + 1) * sizeof *pkpos);
		ti->cols[ti->ncols] = gb_strdup(
		    (const char *)sqlite3_column_text(st, 0));
		pkpos[ti->ncols++] = pk;
		if ((size_t)pk > maxpk)
			maxpk = (size_t)pk;
	}
	if (rc != SQLITE_DONE)
		db_fail(s, "cannot read the columns", table);
	sqlite3_finalize(st);

	/* pk is the 1-based position of the column in the primary key. */
	ti->pk = gb_calloc(maxpk ? maxpk : 1, sizeof *ti->pk);
	for (size_t i = 0; i < ti->ncols; i++)
		if (pkpos[i] > 0)
			ti->pk[pkpos[i] - 1] = gb_strdup(ti->cols[i]);
	ti->npk = maxpk;
	free(pkpos);

	/*
	 * WITHOUT ROWID tables have none; ordering falls back to the key.  A
	 * column may take a name of the rowid: then another of its names,
	 * and none when columns take all three (a column called _rowid_
	 * would otherwise be read as the rowid, and its NULLs left out of
	 * every part of a split table).
	 */
	static const char *const rowid_names[] = { "_rowid_", "rowid", "oid" };
	for (size_t i = 0; i < 3 && !ti->rowid_name; i++) {
		size_t c = 0;
		while (c < ti->ncols && strcasecmp(ti->cols[c],
		    rowid_names[i]) != 0)
			c++;
		if (c == ti->ncols || (ti->fts5 && c == 0))
			ti->rowid_name = rowid_names[i];
	}
	if (ti->rowid_name) {
		char *q = gb_quote_ident(table);
		char *sql = gb_asprintf("SELECT %s FROM %s LIMIT 0",
		    ti->rowid_name, q);
		sqlite3_stmt *t;
		ti->rowid = sqlite3_prepare_v2(s->db, sql, -1, &t, NULL) ==
		    SQLITE_OK;
		sqlite3_finalize(t);
		free(sql);
		free(q);
	}
	/*
	 * A one-column key is the rowid when the table keeps no index for it
	 * (INTEGER PRIMARY KEY; not INT, not DESC, which get an autoindex).
	 */
	if (ti->rowid && ti->npk == 1) {
		st = prepare(s, "SELECT count(*) FROM pragma_index_list(?1) "
		    "WHERE origin = 'pk'", table);
		sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_ROW)
			db_fail(s, "cannot read the indexes", table);
		ti->rowid_key = sqlite3_column_int(st, 0) == 0;
		sqlite3_finalize(st);
	}
	return 0;
}

void
gb_tinfo_free(struct gb_tinfo *ti)
{
	for (size_t i = 0; i < ti->ncols; i++)
		free(ti->cols[i]);
	for (size_t i = 0; i < ti->npk; i++)
		free(ti->pk[i]);
	free(ti->cols);
	free(ti->pk);
	free(ti->name);
	memset(ti, 0, sizeof *ti);
}

int
gb_tinfo_column(const struct gb_tinfo *ti, const char *name)
{
	/* the exact name first: a PostgreSQL table may have "ID" and id */
	for (size_t i = 0; i < ti->ncols; i++)
		if (strcmp(ti->cols[i], name) == 0)
			return (int)i;
	/* SQLite folds ASCII case only, as strcasecmp does in the C locale. */
	for (size_t i = 0; i < ti->ncols; i++)
		if (strcasecmp(ti->cols[i], name) == 0)
			return (int)i;
	return -1;
}

void
gb_sqlite_schema(struct gb_sqlite *s, char *const *tables, size_t n,
    struct gb_out *o)
{
	static const char head[] =
	    "-- gymbackup SCHEMA.sql: the exported tables as SQLite made them\n"
	    "-- (SQLite dialect), with their indexes.\n";
	sqlite3_stmt *st = prepare(s, "SELECT sql FROM sqlite_schema "
	    "WHERE tbl_name = ?1 AND sql IS NOT NULL "
	    "AND type IN ('table', 'index') "
	    "ORDER BY type = 'index', name", NULL);

	gb_out_write(o, head, sizeof head - 1);
	for (size_t i = 0; i < n; i++) {
		int rc;
		sqlite3_bind_text(st, 1, tables[i], -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *text = (const char *)sqlite3_column_text(st, 0);
			struct gb_ddl *d;
			size_t nd;
			char why[512];
			/* nothing a restore would refuse: it would not come back */
			if (gb_ddl_parse(0, text, (size_t)sqlite3_column_bytes(st,
			    0), &d, &nd, why, sizeof why) == 0 && nd != 1)
				snprintf(why, sizeof why, "SCHEMA.sql: not one "
				    "statement: %.60s", text);
			if (nd != 1)
				gb_errx(GB_EXIT_RUN, "%s: table %s cannot be backed "
				    "up so that it restores (of virtual tables, "
				    "FTS5 ones with their own content only): %s",
				    s->path, tables[i], why + strlen("SCHEMA.sql: "));
			gb_ddl_free(d, nd);
			gb_out_write(o, sqlite3_column_text(st, 0),
			    (size_t)sqlite3_column_bytes(st, 0));
			gb_out_write(o, ";\n", 2);
		}
		if (rc != SQLITE_DONE)
			db_fail(s, "cannot read the schema", tables[i]);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
}

static void
bind_typed(sqlite3_stmt *st, int i, const char *type, const char *v)
{
	if (strcmp(type, "integer") == 0)
		sqlite3_bind_int64(st, i, strtoll(v, NULL, 10));
	else if (strcmp(type, "real") == 0)
		sqlite3_bind_double(st, i, strtod(v, NULL));
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

/* The row's key as "col=value, ..." for messages. */
static char *
row_key(sqlite3_stmt *st, const struct gb_tinfo *ti)
{
	char *k = gb_strdup("");

	for (size_t i = 0; i < ti->npk; i++) {
		int c = gb_tinfo_column(ti, ti->pk[i]);
		const unsigned char *v = c >= 0 ? sqlite3_column_text(st, c) : NULL;
		char *nk = gb_asprintf("%s%s%s=%s", k, i ? ", " : "", ti->pk[i],
		    v ? (const char *)v : "NULL");
		free(k);
		k = nk;
	}
	if (ti->npk == 0 && ti->rowid) {
		free(k);
		k = gb_asprintf("rowid=%lld", (long long)sqlite3_column_int64(st,
		    (int)ti->ncols));
	}
	return k;
}

/* A key part of the row, typed as SQLite holds it (state.c). */
static void
key_value(sqlite3_stmt *st, int c, struct gb_kval *k)
{
	switch (sqlite3_column_type(st, c)) {
	case SQLITE_NULL:
		k->type = GB_K_NULL;
		break;
	case SQLITE_INTEGER:
		k->type = GB_K_INT;
		k->i = sqlite3_column_int64(st, c);
		break;
	case SQLITE_FLOAT:
		k->type = GB_K_REAL;
		k->r = sqlite3_column_double(st, c);
		break;
	case SQLITE_TEXT:
		k->type = GB_K_TEXT;
		k->p = (const char *)sqlite3_column_text(st, c);
		k->n = (size_t)sqlite3_column_bytes(st, c);
		break;
	default:
		k->type = GB_K_BLOB;
		k->p = sqlite3_column_blob(st, c);
		k->n = (size_t)sqlite3_column_bytes(st, c);
	}
}

void
gb_sqlite_dump(struct gb_sqlite *s, const struct gb_tinfo *ti,
    const struct gb_dump *d, struct gb_out *o, struct gb_mtable *mt)
{
	char *q = gb_quote_ident(ti->name), *order = NULL, *where = NULL, *sql;
	int *money = gb_calloc(ti->ncols, sizeof *money);	/* 1 + index */
	sqlite3_stmt *st;
	int ncol = (int)ti->ncols, rc;

	char **kcols = d->key ? d->key : ti->pk;
	size_t nkey = d->key ? d->nkey : ti->npk;
	int *kcol = gb_calloc(nkey + 1, sizeof *kcol);
	struct gb_kval *kv = gb_calloc(nkey + 1, sizeof *kv);
	struct gb_out *out = d->delta ? gb_delta_buf(d->delta) : o;
	struct gb_money *sums;

	/* text in bytes: the order PostgreSQL's COLLATE "C" gives too */
	for (size_t i = 0; i < nkey; i++) {
		char *c = gb_quote_ident(kcols[i]);
		char *no = gb_asprintf("%s%s%s%s", order ? order : "",
		    order ? ", " : "", c, d->key ? " COLLATE BINARY" : "");
		free(order);
		free(c);
		order = no;
		kcol[i] = gb_tinfo_column(ti, kcols[i]);
	}
	/* parts are ranges of rowids: of a key, only of the rowid's */
	if (d->ranged && d->key && !(ti->rowid_key && d->nkey == 1 &&
	    strcmp(d->key[0], ti->pk[0]) == 0))
		gb_errx(GB_EXIT_RUN, "table %s: a split table has no key order",
		    ti->name);
	if (!order && ti->rowid)
		order = gb_strdup(ti->rowid_name);
	if (d->wm_column && d->wm_from) {
		char *c = gb_quote_ident(d->wm_column);
		where = gb_asprintf(" WHERE %s > ?1", c);
		free(c);
	}
	if (d->ranged) {	/* order is the rowid: see gb_tinfo.rowid_key */
		char *w = gb_asprintf("%s %s %s >= ?2 AND %s <= ?3",
		    where ? where : "", where ? "AND" : "WHERE",
		    ti->rowid_name, ti->rowid_name);
		free(where);
		where = w;
	}
	/* The rowid rides along after the columns, for messages only. */
	sql = gb_asprintf("SELECT %s*%s%s FROM %s%s%s%s", ti->fts5 ? "rowid, " :
	    "", ti->npk == 0 && ti->rowid ? ", " : "", ti->npk == 0 &&
	    ti->rowid ? ti->rowid_name : "", q, where ? where : "",
	    order ? " ORDER BY " : "", order ? order : "");
	st = prepare(s, sql, ti->name);
	if (d->wm_column && d->wm_from)
		bind_typed(st, 1, d->wm_type, d->wm_from);
	if (d->ranged) {
		sqlite3_bind_int64(st, 2, d->lo);
		sqlite3_bind_int64(st, 3, d->hi);
	}

	mt->money = gb_calloc(d->nmoney, sizeof *mt->money);
	mt->nmoney = d->nmoney;
	for (size_t k = 0; k < d->nmoney; k++) {
		int c = gb_tinfo_column(ti, d->money[k]);
		mt->money[k].column = gb_strdup(d->money[k]);
		if (c >= 0)
			money[c] = (int)k + 1;
	}

	sums = d->delta ? gb_delta_sums(d->delta) : mt->money;
	for (int i = 0; i < ncol && !d->part; i++) {
		const char *name = sqlite3_column_name(st, i);
		gb_csv_text(out, name, strlen(name));
		gb_out_putc(out, i + 1 < ncol ? ',' : '\n');
	}
	if (d->delta)
		gb_delta_head(d->delta);

	mt->rows = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < ncol; i++) {
			if (i)
				gb_out_putc(out, ',');
			switch (sqlite3_column_type(st, i)) {
			case SQLITE_NULL:
				break;
			case SQLITE_INTEGER: {
				int64_t v = sqlite3_column_int64(st, i);
				gb_csv_int(out, v);
				if (money[i]) {
					int64_t *sum = &sums[money[i] - 1].sum;
					if (__builtin_add_overflow(*sum, v, sum))
						gb_errx(GB_EXIT_RUN, "%s: table %s: sum "
						    "of money column %s overflows 64 bits",
						    s->path, ti->name, ti->cols[i]);
				}
				continue;
			}
			case SQLITE_FLOAT:
				gb_csv_real(out, sqlite3_column_double(st, i));
				break;
			case SQLITE_TEXT:
				gb_csv_text(out, (const char *)sqlite3_column_text(st,
				    i), (size_t)sqlite3_column_bytes(st, i));
				break;
			default:
				gb_csv_blob(out, sqlite3_column_blob(st, i),
				    (size_t)sqlite3_column_bytes(st, i));
			}
			if (money[i] && sqlite3_column_type(st, i) != SQLITE_NULL) {
				char *key = row_key(st, ti);
				gb_errx(GB_EXIT_RUN, "%s: table %s: money column %s "
				    "holds a value that is not an integer at %s; "
				    "money columns hold integer cents", s->path,
				    ti->name, ti->cols[i], key);
			}
		}
		gb_out_putc(out, '\n');
		if (d->delta) {
			for (size_t k = 0; k < nkey; k++)
				key_value(st, kcol[k], &kv[k]);
			gb_delta_row(d->delta, kv);
		} else
			mt->rows++;
		gb_progress_add(1);
		if (o->err)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		db_fail(s, "cannot read", ti->name);
	sqlite3_finalize(st);
	free(money);
	free(sql);
	free(where);
	free(order);
	free(q);
	free(kcol);
	free(kv);
}

void
gb_sqlite_wm_max(struct gb_sqlite *s, const char *table, const char *column,
    const char *from_type, const char *from, char **type, char **value)
{
	char *qt = gb_quote_ident(table), *qc = gb_quote_ident(column);
	char *sql = gb_asprintf("SELECT max(%s) FROM %s%s%s%s", qc, qt,
	    from ? " WHERE " : "", from ? qc : "", from ? " > ?1" : "");
	sqlite3_stmt *st = prepare(s, sql, table);
	char buf[32];

	if (from)
		bind_typed(st, 1, from_type, from);
	*type = *value = NULL;
	if (sqlite3_step(st) != SQLITE_ROW)
		db_fail(s, "cannot read the watermark", table);
	switch (sqlite3_column_type(st, 0)) {
	case SQLITE_NULL:
		break;
	case SQLITE_INTEGER:
		*type = gb_strdup("integer");
		*value = gb_strdup((const char *)sqlite3_column_text(st, 0));
		break;
	case SQLITE_FLOAT:
		gb_fmt_real(buf, sizeof buf, sqlite3_column_double(st, 0));
		*type = gb_strdup("real");
		*value = gb_strdup(buf);
		break;
	case SQLITE_TEXT:
		*type = gb_strdup("text");
		*value = gb_strdup((const char *)sqlite3_column_text(st, 0));
		break;
	default:
		gb_errx(GB_EXIT_RUN, "%s: table %s: watermark column %s holds "
		    "a blob; a watermark must be a number or a time", s->path,
		    table, column);
	}
	sqlite3_finalize(st);
	free(sql);
	free(qt);
	free(qc);
}
