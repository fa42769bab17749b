/*
 * restore-sqlite.c - the SQLite target of a restore (struct gb_target):
 * a new database built under a temporary name in one transaction, and
 * renamed into place by finish; or the drill's scratch database.  Each
 * CSV field is bound as the export wrote it, by the column's declared
 * type.  A table's rows are read, checked and turned into values on the
 * caller's thread, and inserted on a thread of their own in batches, each
 * by one INSERT ... SELECT from a virtual table over the batch (SQLite's
 * own loop, without a statement run per row).  Errors return -1 or -2
 * and why; only the drill's export again (gb_sqlite_open, gb_sqlite_dump)
 * is sqlite.c's, which ends the program on its errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "gb.h"
#include "gb-db.h"
#include "gb-pgp.h"

/*
 * SQLite names its temporary files (an index's sort runs, a statement's
 * journal, the temp database) in /var/tmp or /tmp: member data outside
 * the target, where nobody chose to put it.  The target's connections go
 * through a VFS of its own, the default one but for them: it names them
 * beside the database, whose directory the restore already writes
 * (SQLITE_TMPDIR and sqlite3_temp_directory are the whole process's, and
 * read once).  SQLite still makes them 0600 and unlinks them as soon as
 * they are open, so not even a kill -9 leaves one.
 */
struct tmpvfs {
	sqlite3_vfs vfs;	/* first: the default VFS's but for these two */
	char name[40];
	sqlite3_vfs *base;
	const char *near;	/* the database's full path */
	char **paths;		/* the names given, which SQLite keeps */
	size_t npaths;
	pthread_mutex_t mu;
};

static int
tmp_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags,
    int *out)
{
	struct tmpvfs *t = (struct tmpvfs *)v;
	char *path;

	if (name)
		return t->base->xOpen(t->base, name, f, flags, out);
	pthread_mutex_lock(&t->mu);
	path = gb_asprintf("%s-tmp%zu", t->near, t->npaths);
	t->paths = gb_realloc(t->paths, (t->npaths + 1) * sizeof *t->paths);
	t->paths[t->npaths++] = path;
	pthread_mutex_unlock(&t->mu);
	return t->base->xOpen(t->base, path, f, flags | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_EXCLUSIVE | SQLITE_OPEN_DELETEONCLOSE, out);
}

struct lite {
	sqlite3 *db;
	struct tmpvfs vfs;
	char *dbpath;		/* NULL: the drill's scratch database */
	char *tmpdb;		/* built here, renamed to dbpath at the end */
	char *lockpath;		/* dbpath.lock, held while we restore */
	int lockfd;
	char *scratchdir;
	char **indexes;		/* CREATE INDEX statements, run after the load */
	size_t nindexes;
	/*
	 * An incremental's changed rows, per table a temporary table until
	 * its deleted keys are gone (apply_incr), which may come after other
	 * tables' rows.
	 */
	struct incr {
		char *table, *cols, *keys, *temp;	/* quoted */
		char *name;	/* the table's, for messages */
	} *incr;
	size_t nincr, incr_seq;
	const struct batch *rows;	/* what temp.gb_rows reads now */
	size_t ncols;
};

/* A field as it is bound: its SQLite type, and its value. */
struct val {
	int type;	/* SQLITE_NULL, _INTEGER, _FLOAT, _TEXT, _BLOB */
	int n;			/* text, blob: bytes at data + off */
	union {
		sqlite3_int64 i;
		double d;
		size_t off;
	} u;
};

/* Rows of values, their text and blob bytes in data. */
struct batch {
	struct val *v;
	size_t nv, vcap, nrows;
	char *data;
	size_t dlen, dcap;
};

#define NBATCH 3		/* in flight: one filled, two bound */
#define BATCH_ROWS 2048
#define BATCH_BYTES (512 * 1024)

/*
 * The writer: binds and steps the rows of the batches the reader hands
 * it, b[head] first, full of them waiting (the one it works on among
 * them).  After a failure it only hands them back, so the reader never
 * waits for good.
 */
struct writer {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	struct batch b[NBATCH];
	size_t head, full;
	struct batch *cur;	/* the reader's, being filled */
	int started, end, failed;
	char err[512];
};

/* The table being loaded: one prepared INSERT. */
struct load {
	struct lite *t;
	const struct gb_mtable *mt;
	char *table;		/* its name in the database */
	int incremental;
	sqlite3_stmt *st;
	char *affinity;		/* per column: i r n t b (SQLite affinities) */
	size_t ncols;
	size_t line;		/* deletes: the record */
	struct writer w;	/* rows: its thread */
	int vtab;		/* rows: temp.gb_rows made */
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
 * Room for n more bytes of data in b; never NULL, even for none: SQLite
 * takes an empty string or blob at a NULL pointer for SQL NULL.
 */
static char *
data_reserve(struct batch *b, size_t n)
{
	if (!b->data || n > b->dcap - b->dlen) {
		if (!b->dcap)
			b->dcap = BATCH_BYTES;
		while (n > b->dcap - b->dlen)
			b->dcap *= 2;
		b->data = gb_realloc(b->data, b->dcap);
	}
	return b->data + b->dlen;
}

/*
 * A plain decimal integer of at most 18 digits, without leading zeros or
 * "-0": most fields of a numeric column, and what the full test below
 * binds as an integer too, with the same value.
 */
static int
plain_int(const char *p, size_t n, sqlite3_int64 *v)
{
	size_t i = p[0] == '-';
	uint64_t x = 0;

	if (n - i == 0 || n - i > 18 || (p[i] == '0' && (i || n > 1)))
		return 0;
	for (; i < n; i++) {
		unsigned d = (unsigned char)p[i] - '0';
		if (d > 9)
			return 0;
		x = x * 10 + d;
	}
	*v = p[0] == '-' ? -(sqlite3_int64)x : (sqlite3_int64)x;
	return 1;
}

/*
 * One CSV field turned into the value bound the way the export wrote it:
 * numbers to numeric columns as numbers, \x hex to BLOB columns as bytes,
 * text as text.  Appended to b.
 */
static void
conv_field(struct batch *b, char aff, const struct gb_csv_field *f)
{
	struct val *v;
	char tmp[64], *end;

	if (b->nv == b->vcap) {
		b->vcap = b->vcap ? 2 * b->vcap : 256;
		b->v = gb_realloc(b->v, b->vcap * sizeof *b->v);
	}
	v = &b->v[b->nv++];
	if (!f->p) {
		v->type = SQLITE_NULL;
		return;
	}
	if (aff == 't')
		goto text;
	if (aff == 'b' && f->n >= 2 && f->p[0] == '\\' && f->p[1] == 'x' &&
	    f->n % 2 == 0) {
		size_t n = (f->n - 2) / 2;
		unsigned char *o = (unsigned char *)data_reserve(b, n);
		size_t k;
		for (k = 0; k < n; k++) {
			int hi = hexval((unsigned char)f->p[2 + 2 * k]);
			int lo = hexval((unsigned char)f->p[3 + 2 * k]);
			if (hi < 0 || lo < 0)
				break;
			o[k] = (unsigned char)(hi << 4 | lo);
		}
		if (k == n) {
			v->type = SQLITE_BLOB;
			v->n = (int)n;
			v->u.off = b->dlen;
			b->dlen += n;
			return;
		}
	}
	if (f->n > 0 && plain_int(f->p, f->n, &v->u.i)) {
		v->type = SQLITE_INTEGER;
		return;
	}
	if (f->n > 0 && f->n < sizeof tmp && !memchr(f->p, '\0', f->n)) {
		memcpy(tmp, f->p, f->n);
		tmp[f->n] = '\0';
		errno = 0;
		long long i = strtoll(tmp, &end, 10);
		if (!*end && !errno && tmp[0] != ' ' && tmp[0] != '+' &&
		    !(tmp[0] == '0' && tmp[1]) && !(tmp[0] == '-' &&
		    (tmp[1] == '0' || !tmp[1]))) {
			v->type = SQLITE_INTEGER;
			v->u.i = i;
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
		v->type = SQLITE_FLOAT;
		v->u.d = d;
		return;
	}
text:
	memcpy(data_reserve(b, f->n), f->p, f->n);
	v->type = SQLITE_TEXT;
	v->n = (int)f->n;
	v->u.off = b->dlen;
	b->dlen += f->n;
}

/* A row's values bound; they stay in b until the statement is stepped. */
static void
bind_row(sqlite3_stmt *st, const struct batch *b, const struct val *v,
    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int k = (int)i + 1;
		switch (v[i].type) {
		case SQLITE_NULL:
			sqlite3_bind_null(st, k);
			break;
		case SQLITE_INTEGER:
			sqlite3_bind_int64(st, k, v[i].u.i);
			break;
		case SQLITE_FLOAT:
			sqlite3_bind_double(st, k, v[i].u.d);
			break;
		case SQLITE_TEXT:
			sqlite3_bind_text(st, k, b->data + v[i].u.off, v[i].n,
			    SQLITE_STATIC);
			break;
		default:
			sqlite3_bind_blob(st, k, b->data + v[i].u.off, v[i].n,
			    SQLITE_STATIC);
		}
	}
}

static void
batch_clear(struct batch *b)
{
	b->nv = b->nrows = b->dlen = 0;
}

static void
batch_free(struct batch *b)
{
	free(b->v);
	free(b->data);
}

/* The memory a batch's rows take. */
static size_t
batch_bytes(const struct batch *b)
{
	return b->dlen + b->nv * sizeof *b->v;
}

/*
 * gb_rows: the virtual table of a load's rows, the batch at t->rows, of
 * t->ncols columns without a type (the table loaded gives the affinity,
 * as it does to bound values).
 */
struct rows_vtab {
	sqlite3_vtab base;
	struct lite *t;
};
struct rows_cursor {
	sqlite3_vtab_cursor base;
	size_t row;
};

static int
rows_create(sqlite3 *db, void *aux, int argc, const char *const *argv,
    sqlite3_vtab **vt, char **errmsg)
{
	struct lite *t = aux;
	struct rows_vtab *v;
	char *sql = gb_strdup("CREATE TABLE x(c0"), *x;
	int rc;

	for (size_t i = 1; i < t->ncols; i++) {
		x = gb_asprintf("%s,c%zu", sql, i);
		free(sql);
		sql = x;
	}
	x = gb_asprintf("%s)", sql);
	free(sql);
	rc = sqlite3_declare_vtab(db, x);
	free(x);
	if (rc != SQLITE_OK)
		return rc;
	v = gb_calloc(1, sizeof *v);
	v->t = t;
	*vt = &v->base;
	return SQLITE_OK;
}

static int
rows_free(sqlite3_vtab *vt)
{
	free(vt);
	return SQLITE_OK;
}

static int
rows_plan(sqlite3_vtab *vt, sqlite3_index_info *ii)
{
	ii->estimatedCost = BATCH_ROWS;
	return SQLITE_OK;
}

static int
rows_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **c)
{
	*c = gb_calloc(1, sizeof(struct rows_cursor));
	return SQLITE_OK;
}

static int
rows_close(sqlite3_vtab_cursor *c)
{
	free(c);
	return SQLITE_OK;
}

static int
rows_filter(sqlite3_vtab_cursor *c, int idx, const char *idxstr, int argc,
    sqlite3_value **argv)
{
	((struct rows_cursor *)c)->row = 0;
	return SQLITE_OK;
}

static int
rows_next(sqlite3_vtab_cursor *c)
{
	((struct rows_cursor *)c)->row++;
	return SQLITE_OK;
}

static int
rows_eof(sqlite3_vtab_cursor *c)
{
	struct lite *t = ((struct rows_vtab *)c->pVtab)->t;

	return ((struct rows_cursor *)c)->row >= t->rows->nrows;
}

static int
rows_column(sqlite3_vtab_cursor *c, sqlite3_context *ctx, int i)
{
	struct lite *t = ((struct rows_vtab *)c->pVtab)->t;
	const struct batch *b = t->rows;
	const struct val *v = &b->v[((struct rows_cursor *)c)->row * t->ncols +
	    (size_t)i];

	switch (v->type) {
	case SQLITE_NULL:
		sqlite3_result_null(ctx);
		break;
	case SQLITE_INTEGER:
		sqlite3_result_int64(ctx, v->u.i);
		break;
	case SQLITE_FLOAT:
		sqlite3_result_double(ctx, v->u.d);
		break;
	case SQLITE_TEXT:
		sqlite3_result_text(ctx, b->data + v->u.off, v->n,
		    SQLITE_STATIC);
		break;
	default:
		sqlite3_result_blob(ctx, b->data + v->u.off, v->n,
		    SQLITE_STATIC);
	}
	return SQLITE_OK;
}

static int
rows_rowid(sqlite3_vtab_cursor *c, sqlite3_int64 *rowid)
{
	*rowid = (sqlite3_int64)((struct rows_cursor *)c)->row;
	return SQLITE_OK;
}

static const sqlite3_module rows_module = {
	.xCreate = rows_create, .xConnect = rows_create,
	.xBestIndex = rows_plan, .xDisconnect = rows_free,
	.xDestroy = rows_free, .xOpen = rows_open, .xClose = rows_close,
	.xFilter = rows_filter, .xNext = rows_next, .xEof = rows_eof,
	.xColumn = rows_column, .xRowid = rows_rowid
};

/* Inserts the rows of b; -1 and why in w->err when one fails. */
static int
insert_rows(struct load *l, const struct batch *b)
{
	int rc;

	l->t->rows = b;
	rc = sqlite3_step(l->st);
	sqlite3_reset(l->st);
	if (rc != SQLITE_DONE) {
		snprintf(l->w.err, sizeof l->w.err, "table %s: %s",
		    l->mt->name, sqlite3_errmsg(l->t->db));
		return -1;
	}
	return 0;
}

static void *
writer(void *arg)
{
	struct load *l = arg;
	struct writer *w = &l->w;
	int failed = 0;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->full && !w->end)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->full)
			break;
		pthread_mutex_unlock(&w->mu);
		if (!failed)
			failed = insert_rows(l, &w->b[w->head]);
		pthread_mutex_lock(&w->mu);
		w->failed = failed;
		w->head = (w->head + 1) % NBATCH;
		w->full--;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/*
 * Hands the batch being filled to the writer and waits for a free one;
 * -1 and the writer's why when it failed.  A batch that grew for a
 * long record or a wide row is given back to the system.
 */
static int
hand_over(struct load *l, char *err, size_t errlen)
{
	struct writer *w = &l->w;
	struct batch *b;
	int failed;

	pthread_mutex_lock(&w->mu);
	w->full++;
	pthread_cond_broadcast(&w->cv);
	while (w->full == NBATCH && !w->failed)
		pthread_cond_wait(&w->cv, &w->mu);
	b = w->cur = &w->b[(w->head + w->full) % NBATCH];
	if ((failed = w->failed))
		snprintf(err, errlen, "%s", w->err);
	pthread_mutex_unlock(&w->mu);
	if (failed)
		return -1;
	batch_clear(b);
	if (b->dcap > 2 * BATCH_BYTES) {
		free(b->data);
		b->data = NULL;
		b->dcap = 0;
	}
	if (b->vcap * sizeof *b->v > 2 * BATCH_BYTES) {
		free(b->v);
		b->v = NULL;
		b->vcap = 0;
	}
	return 0;
}

/*
 * The rows read so far all inserted (or not), the writer gone; 0, or -1
 * and its why.
 */
static int
writer_end(struct load *l, char *err, size_t errlen)
{
	struct writer *w = &l->w;

	if (!w->started)
		return 0;
	pthread_mutex_lock(&w->mu);
	if (w->cur->nrows && !w->failed)
		w->full++;
	w->end = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	w->started = 0;
	if (w->failed)
		snprintf(err, errlen, "%s", w->err);
	return w->failed ? -1 : 0;
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
	    "pragma_table_info(?1, 'main') WHERE name = ?2 COLLATE NOCASE", -1,
	    &info, NULL) != SQLITE_OK)
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

/*
 * A header's columns: each one's affinity in l, and their names quoted
 * (a vector); NULL and why when one is not in the table.
 */
static char **
header(struct load *l, const struct gb_csv_field *f, size_t n, char *err,
    size_t errlen)
{
	char **qc = gb_calloc(n + 1, sizeof *qc);

	l->affinity = gb_calloc(n + 1, 1);
	l->ncols = n;
	for (size_t i = 0; i < n; i++) {
		char *name = gb_strndup(f[i].p ? f[i].p : "", f[i].n);
		int r = affinity(l, name, &l->affinity[i], err, errlen);
		qc[i] = gb_quote_ident(name);
		free(name);
		if (r) {
			gb_free_strv(qc);
			return NULL;
		}
	}
	return qc;
}

/* A deleted key: its header prepares the DELETE; each deletes one row. */
static int
delete_record(void *arg, struct gb_csv_field *f, size_t n, char *err,
    size_t errlen)
{
	struct load *l = arg;
	char **qc, *where, *q, *sql, *x;

	if (l->st) {
		struct batch *b = l->w.cur;
		batch_clear(b);
		for (size_t i = 0; i < n && i < l->ncols; i++)
			conv_field(b, l->affinity[i], &f[i]);
		bind_row(l->st, b, b->v, b->nv);
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
		return 0;
	}
	if (!(qc = header(l, f, n, err, errlen)))
		return -1;
	where = gb_strdup("");
	for (size_t i = 0; i < n; i++) {
		x = gb_asprintf("%s%s%s IS ?%zu", where, i ? " AND " : "", qc[i],
		    i + 1);
		free(where);
		where = x;
	}
	q = gb_quote_ident(l->table);
	sql = gb_asprintf("DELETE FROM main.%s WHERE %s", q, where);
	if (sqlite3_prepare_v2(l->t->db, sql, -1, &l->st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "table %s: %s", l->mt->name,
		    sqlite3_errmsg(l->t->db));
		l->st = NULL;
	}
	l->line = 1;
	gb_free_strv(qc);
	free(sql);
	free(q);
	free(where);
	return l->st ? 0 : -1;
}

static void
incr_free(struct incr *c)
{
	free(c->table);
	free(c->cols);
	free(c->keys);
	free(c->temp);
	free(c->name);
}

/*
 * An incremental's changed rows into their table (quoted; NULL: into
 * every table): first every row of their keys out, then all of them in.
 * Not row by row (upserts): a unique value that went from one row to
 * another (swapped, or taken from a row deleted) would collide with its
 * old row not yet changed.  The deleted keys went before (deletes).  A key
 * that more than one row holds (an older gymbackup's incremental, whose
 * key was the configuration's) is refused, not all its rows replaced.
 */
static int
apply_incr(struct lite *t, const char *table, char *err, size_t errlen)
{
	size_t k = 0;
	int r = 0;

	for (size_t i = 0; i < t->nincr; i++) {
		struct incr *c = &t->incr[i];
		char *sql, *in;
		sqlite3_stmt *st;
		int rc;
		if (r || (table && strcmp(c->table, table) != 0)) {
			t->incr[k++] = *c;
			continue;
		}
		in = gb_asprintf("main.%s WHERE (%s) IN (SELECT %s FROM temp.%s)",
		    c->table, c->keys, c->keys, c->temp);
		sql = gb_asprintf("SELECT 1 FROM %s GROUP BY %s HAVING "
		    "count(*) > 1", in, c->keys);
		rc = sqlite3_prepare_v2(t->db, sql, -1, &st, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(st);
		sqlite3_finalize(st);
		free(sql);
		sql = gb_asprintf("DELETE FROM %s; INSERT OR ABORT INTO "
		    "main.%s(%s) SELECT %s FROM temp.%s; DROP TABLE temp.%s", in,
		    c->table, c->cols, c->cols, c->temp, c->temp);
		if (rc == SQLITE_ROW)
			snprintf(err, errlen, "table %s: its key (%s) is not "
			    "unique; an incremental cannot be applied", c->name,
			    c->keys);
		else if (rc != SQLITE_DONE || sqlite3_exec(t->db, sql, NULL,
		    NULL, NULL) != SQLITE_OK)
			snprintf(err, errlen, "table %s: %s", c->name,
			    sqlite3_errmsg(t->db));
		else
			rc = SQLITE_OK;
		r = rc == SQLITE_OK ? 0 : -2;
		free(sql);
		free(in);
		incr_free(c);
	}
	t->nincr = k;
	return r;
}

/*
 * The rows' header: the INSERT (an incremental's: into temp.gb_incr_N)
 * from temp.gb_rows prepared, and the writer started.
 */
static int
prepare_rows(struct load *l, struct gb_csv_field *f, size_t n, char *err,
    size_t errlen)
{
	struct lite *lt = l->t;
	char **qc, *cols = gb_strdup(""), *q = NULL,
	    *keys = NULL, *sql = NULL, *x;
	int virt, r = -1;

	if (!(qc = header(l, f, n, err, errlen)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		x = gb_asprintf("%s%s%s", cols, i ? "," : "", qc[i]);
		free(cols);
		cols = x;
	}
	q = gb_quote_ident(l->table);
	if (l->incremental) {
		keys = gb_sql_keys(l->mt->key);
		if (!*keys) {
			snprintf(err, errlen, "table %s has no key; an "
			    "incremental cannot be applied", l->mt->name);
			goto out;
		}
		/* a virtual table takes no upsert; FTS5 replaces */
		if ((virt = is_virtual(lt, l->table, err, errlen)) < 0)
			goto out;
		if (virt)
			sql = gb_asprintf("INSERT OR REPLACE INTO main.%s(%s) "
			    "SELECT * FROM temp.gb_rows", q, cols);
		else {
			/* the table's columns, with their affinities */
			struct incr c = { gb_strdup(q), gb_strdup(cols),
			    gb_strdup(keys), gb_asprintf("gb_incr_%zu",
			    lt->incr_seq++), gb_strdup(l->mt->name) };
			lt->incr = gb_realloc(lt->incr, (lt->nincr + 1) *
			    sizeof *lt->incr);
			lt->incr[lt->nincr++] = c;
			x = gb_asprintf("CREATE TEMP TABLE %s AS SELECT %s FROM "
			    "main.%s WHERE false", c.temp, cols, q);
			r = exec(lt, x, err, errlen);
			free(x);
			if (r == -2)
				goto out;
			r = -1;
			sql = gb_asprintf("INSERT INTO temp.%s SELECT * FROM "
			    "temp.gb_rows", c.temp);
		}
	} else	/* OR ABORT: no ON CONFLICT IGNORE drops a row */
		sql = gb_asprintf("INSERT OR ABORT INTO main.%s(%s) SELECT * "
		    "FROM temp.gb_rows", q, cols);
	lt->ncols = n;
	if (exec(lt, "CREATE VIRTUAL TABLE temp.gb_rows USING gb_rows", err,
	    errlen) == -2)
		goto out;
	l->vtab = 1;
	if (sqlite3_prepare_v2(lt->db, sql, -1, &l->st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "table %s: %s", l->mt->name,
		    sqlite3_errmsg(lt->db));
		goto out;
	}
	if (gb_thread_create(&l->w.thread, writer, l)) {
		snprintf(err, errlen, "table %s: cannot start a thread",
		    l->mt->name);
		goto out;
	}
	l->w.started = 1;
	r = 0;
out:
	gb_free_strv(qc);
	free(cols);
	free(q);
	free(keys);
	free(sql);
	return r;
}

/*
 * A batch is handed over at BATCH_ROWS rows or BATCH_BYTES of values and
 * their bytes: a table of many columns of NULLs holds 16 bytes of value
 * per byte of CSV.
 */
static int
load_record(void *arg, struct gb_csv_field *f, size_t n, char *err,
    size_t errlen)
{
	struct load *l = arg;
	struct batch *b;

	if (!l->st)
		return prepare_rows(l, f, n, err, errlen);
	b = l->w.cur;
	/* the check gave the header's count of fields */
	for (size_t i = 0; i < n; i++)
		conv_field(b, l->affinity[i], &f[i]);
	if (++b->nrows == BATCH_ROWS || batch_bytes(b) >= BATCH_BYTES)
		return hand_over(l, err, errlen);
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

	if (apply_incr(arg, NULL, err, errlen) == -2)
		return -2;
	if (strcmp(m->source_kind, "postgresql") != 0)
		return create_schema(arg, sql, len, err, errlen);
	lite = gb_pg_sqlite_ddl(sql);
	rc = create_schema(arg, lite, strlen(lite), err, errlen);
	free(lite);
	return rc;
}

/*
 * The rows (or deleted keys) of f through rec, checked; l freed after.
 * A row the writer could not insert comes before anything the reader
 * found after it: its failure is the one told.
 */
static int
stream(struct load *l, const struct gb_mtable *f, gb_read_fn fn,
    void *fnarg, gb_record_fn rec, char *err, size_t errlen)
{
	int status;

	pthread_mutex_init(&l->w.mu, NULL);
	pthread_cond_init(&l->w.cv, NULL);
	l->w.cur = &l->w.b[0];
	status = gb_check_table(f, fn, fnarg, -1, rec, l, err, errlen);
	if (writer_end(l, err, errlen) == -1)
		status = -2;
	pthread_mutex_destroy(&l->w.mu);
	pthread_cond_destroy(&l->w.cv);
	for (size_t i = 0; i < NBATCH; i++)
		batch_free(&l->w.b[i]);
	sqlite3_finalize(l->st);
	if (l->vtab && status == 0)
		status = exec(l->t, "DROP TABLE temp.gb_rows", err, errlen);
	else if (l->vtab)
		sqlite3_exec(l->t->db, "DROP TABLE temp.gb_rows", NULL, NULL,
		    NULL);
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
	char *q = gb_quote_ident(l.table);
	int status;

	if (l.incremental && mt->change && strcmp(mt->change, "whole") == 0) {
		/* the whole table: it replaces what the chain gave so far */
		char *sql = gb_asprintf("DELETE FROM main.%s", q);
		status = exec(l.t, sql, err, errlen);
		free(sql);
		if (status) {
			free(q);
			free(l.table);
			return status;
		}
		l.incremental = 0;
	}
	status = stream(&l, mt, fn, fnarg, load_record, err, errlen);
	/* with deleted keys to come, the rows wait for them */
	if (status == 0 && !mt->del)
		status = apply_incr(arg, q, err, errlen);
	free(q);
	return status;
}

static int
deletes(void *arg, const struct gb_manifest *m, const struct gb_mtable *mt,
    gb_read_fn fn, void *fnarg, char *err, size_t errlen)
{
	struct load l = { .t = arg, .mt = mt, .table = lite_name(m,
	    mt->name) };
	char *q = gb_quote_ident(l.table);
	int status;

	status = stream(&l, mt->del, fn, fnarg, delete_record, err, errlen);
	if (status == 0)	/* its changed rows, now that these are gone */
		status = apply_incr(arg, q, err, errlen);
	free(q);
	return status;
}

static int
rows(void *arg, const struct gb_manifest *m, const struct gb_mtable *mt,
    int past, int64_t *n, char *err, size_t errlen)
{
	struct lite *t = arg;
	char *name, *q, *sql;
	sqlite3_stmt *st;
	int r = 0;

	*n = -1;
	if (apply_incr(t, NULL, err, errlen) == -2)
		return -2;
	name = lite_name(m, mt->name);
	q = gb_quote_ident(name);
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

	if (apply_incr(t, NULL, err, errlen) == -2 ||
	    exec(t, "COMMIT", err, errlen) == -2) {
		free(name);
		return -2;
	}
	db = gb_sqlite_open(t->tmpdb, 5, t->vfs.name);
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

	/*
	 * SQLite's own cache size for the indexes: its sorter builds them
	 * in runs of about the cache's size, and shorter runs sort faster.
	 */
	if (apply_incr(t, NULL, err, errlen) == -2 ||
	    exec(t, "COMMIT; PRAGMA cache_size=-2000", err, errlen) == -2)
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
	if (t->vfs.base) {
		sqlite3_vfs_unregister(&t->vfs.vfs);
		pthread_mutex_destroy(&t->vfs.mu);
	}
	for (size_t i = 0; i < t->vfs.npaths; i++)
		free(t->vfs.paths[i]);
	free(t->vfs.paths);
	if (t->lockfd >= 0) {	/* unlinked while held: see lock_target */
		unlink(t->lockpath);
		gb_cleanup_forget(t->lockpath);
		close(t->lockfd);
	}
	free(t->lockpath);
	for (size_t i = 0; i < t->nincr; i++)
		incr_free(&t->incr[i]);
	free(t->incr);
	for (size_t i = 0; i < t->nindexes; i++)
		free(t->indexes[i]);
	free(t->indexes);
	free(t->dbpath);
	free(t->tmpdb);
	free(t->scratchdir);
	free(t);
}

/*
 * One restore into a path at a time: a second one would build its own
 * temporary database and the last rename would win, silently.  PATH.lock
 * is locked (flock) for the whole restore, the holder's pid in it; one
 * left by a killed run is not locked, and is taken over.
 */
static int
lock_target(struct lite *t, char *err, size_t errlen)
{
	struct stat held, now;
	char pid[32];
	ssize_t n;
	int fd;

	t->lockpath = gb_asprintf("%s.lock", t->dbpath);
	for (;;) {
		if ((fd = open(t->lockpath, O_RDWR | O_CREAT | O_CLOEXEC,
		    0600)) < 0)
			return sys_fail("cannot create", t->lockpath, err,
			    errlen);
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			int e = errno;
			n = e == EWOULDBLOCK ? pread(fd, pid, sizeof pid - 1, 0) :
			    -1;
			close(fd);
			errno = e;
			if (e != EWOULDBLOCK)
				return sys_fail("cannot lock", t->lockpath, err,
				    errlen);
			pid[n > 0 ? n : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			snprintf(err, errlen, "%s is being restored by %s%s; wait "
			    "for it to end, or restore elsewhere", t->dbpath,
			    *pid ? "process " : "another process", pid);
			return -2;
		}
		/* still the file at the path: a holder ending unlinks it */
		if (fstat(fd, &held) == 0 && stat(t->lockpath, &now) == 0 &&
		    held.st_dev == now.st_dev && held.st_ino == now.st_ino)
			break;
		close(fd);
	}
	t->lockfd = fd;
	gb_cleanup_add(t->lockpath);
	n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || gb_write_all(fd, pid, (size_t)n) == -1)
		return sys_fail("cannot write", t->lockpath, err, errlen);
	return 0;
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
	t->lockfd = -1;
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
		t->dbpath = gb_strdup(path);
		if (lock_target(t, err, errlen) == -2)
			return -2;
		if (empty(path, err, errlen) == -1)
			return -1;
		t->tmpdb = gb_tmp_template("%s.tmp", t->dbpath);
		if ((fd = gb_mktemp(t->tmpdb, 0)) < 0)	/* 0600 */
			return sys_fail("cannot create", t->tmpdb, err, errlen);
		close(fd);
	}
	if (!(t->vfs.base = sqlite3_vfs_find(NULL))) {
		snprintf(err, errlen, "SQLite has no default VFS");
		return -2;
	}
	t->vfs.vfs = *t->vfs.base;
	snprintf(t->vfs.name, sizeof t->vfs.name, "gb-restore-%p", (void *)t);
	t->vfs.vfs.zName = t->vfs.name;
	t->vfs.vfs.xOpen = tmp_open;
	pthread_mutex_init(&t->vfs.mu, NULL);
	if (sqlite3_vfs_register(&t->vfs.vfs, 0) != SQLITE_OK) {
		t->vfs.base = NULL;
		snprintf(err, errlen, "SQLite: cannot add a VFS");
		return -2;
	}
	/* used by one thread at a time (the writer's, then ours): no mutex */
	if (sqlite3_open_v2(t->tmpdb, &t->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, t->vfs.name) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "cannot create %s: %s", t->tmpdb,
		    sqlite3_errmsg(t->db));
		return -2;
	}
	t->vfs.near = sqlite3_db_filename(t->db, "main");
	if (sqlite3_create_module(t->db, "gb_rows", &rows_module, t) !=
	    SQLITE_OK)
		return db_fail(t, "cannot add a module", err, errlen);
	/* A file nobody uses until the rename: no journal needed. */
	if (exec(t, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; "
	    "PRAGMA cache_size=-16384", err, errlen) == -2)
		return -2;
	return exec(t, "BEGIN", err, errlen);
}
