/*
 * restore-pg.c - the PostgreSQL target of a restore (struct gb_target):
 * into a database (each table into the schema it came from, SQLite's
 * into public; the database must have no tables) or into one schema
 * (which must have none), or into a scratch schema dropped at the end
 * (the restore test).  Tables are made in staging schemas of a random
 * name, their keys held back; a full's rows, checked as the archive
 * streams, go in chunks of whole records to worker connections that
 * COPY them (in the binary format where the column types allow), each
 * table's all to one, and each table's indexes are built on the others
 * once its rows are handed out; finish makes the keys and moves every
 * table into place in one transaction.  Any way out before
 * that drops the staging; a killed restore's is dropped by the next
 * (reap).  Errors return -1 or -2 and why; the connection (gb_pg_open)
 * and the drill's export again (gb_pg_dump) are pg.c's, which end the
 * program on theirs.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "gb.h"
#include "gb-db.h"
#include "gb-pgp.h"

/* Rows go to the workers in chunks of whole records of about this size. */
#define CHUNK (512 << 10)
#define QUEUED 2		/* chunks waiting per worker */
#define WORKERS_MIN 4		/* without GB_THREADS (gb_threads) */
#define WORKERS_MAX 8
/*
 * Spilled rows: while a table's COPY lags behind the reading, its chunks
 * go to files of SEG bytes (encrypted, as the spool), at most SPILL_MAX
 * bytes not yet copied, and the reading goes on to the next tables.
 */
#define SEG (16 << 20)
#define SPILL_MAX ((uint64_t)1 << 30)
#define SPILL_RESERVE ((uint64_t)256 << 20)	/* left free where they go */
/* Staging schemas (GB_PG_STAGE_RE): each locked while its restore runs. */
#define LOCK_KEY 1734439539	/* "gbrs": pg_advisory_lock(LOCK_KEY, ID) */
/* and pg_advisory_xact_lock(LOCK_KEY), one bigint: a move into place */

/* One connection and why its last COPY write failed. */
struct conn {
	struct gb_pg *p;
	PGconn *conn;
	char copyerr[512];
	uint64_t copied;	/* rows the last COPY took */
};

/* A worker's job: whole records of a table, or one statement. */
struct job {
	struct job *next;
	struct table *table;	/* rows of it, or the statement's table */
	char *buf;
	size_t len;
	int binary;		/* rows in COPY's binary format, else CSV */
	uint64_t first;		/* the table's data record its first row is */
	struct gb_spool *seg;	/* else rows spilled to seg_fd, seg_len bytes */
	int seg_fd;
	uint64_t seg_len;
	char *path, *stmt;	/* else SET search_path = path; stmt */
};

struct worker {
	struct pgt *t;
	struct conn c;
	pthread_t tid;
	struct table *copying;	/* the table its COPY is open on */
	int binary;		/* that COPY's format */
	int txn;		/* that COPY is in a transaction begun for it */
	uint64_t first;		/* the table's data record its first row was */
	int busy;
};

struct table {
	char *name;		/* the MANIFEST's, for messages */
	char *rel;		/* staging schema.table, quoted */
	char *head;		/* the CSV header, sent before each CSV COPY */
	size_t headlen;
	uint64_t rows;		/* the rows the server says its COPYs took */
	int changed;		/* since, by an incremental: rows to count */
	size_t pending;		/* chunks not yet in an open COPY (locked) */
	struct worker *owner;	/* the one that COPYs its rows (locked) */
	int fed;		/* all its rows are queued (locked) */
	int begun;		/* its owner has begun a COPY of it */
	struct job *spill;	/* the segment its rows go to now (reader's) */
};

/* A statement held back until the rows are in (its table's, rel). */
struct late {
	char *rel, *path, *stmt;
};

struct pgt {
	struct conn c;		/* the control connection */
	const char *name;	/* host/port/dbname, for messages */
	char *schema;		/* every table into it; NULL: each its own */
	int scratch;		/* the restore test's: dropped at the end */
	uint32_t id;		/* of the staging schemas */
	char **target;		/* per staging schema K: the schema it becomes */
	size_t nstage;
	struct late *late;
	size_t nlate;
	char **final;		/* the keys made of their indexes, at the end */
	size_t nfinal;
	/*
	 * An incremental's changed rows, per table a temporary table until
	 * its deleted keys are gone (apply_incr), which may come after other
	 * tables' rows.
	 */
	struct incr {
		char *rel, *temp, *name;	/* temp: in pg_temp */
		char *on;	/* the key's columns: rel.k = i.k AND ... */
	} *incr;
	size_t nincr, incr_seq;
	struct table **tables;	/* each its own: workers hold them */
	size_t ntables;
	struct worker *w;
	size_t nw;
	pthread_mutex_t lock;
	pthread_cond_t work, done;	/* a job or a flush; a job taken or done */
	struct job *head, **tail;
	size_t queued;
	size_t held;		/* bytes of rows queued or being copied */
	uint64_t spilled;	/* bytes of segments not yet copied */
	int spill;		/* -1: never, 0: when a COPY lags, 1: always */
	int flush;		/* workers end their COPY when idle */
	int stop;		/* workers abort and return */
	int failed;		/* a worker failed: why in err */
	char err[1024];
	int finished;		/* in place (or, scratch, dropped) */
};

/* gb_pg_msg's line is one buffer for every connection. */
static pthread_mutex_t msg_lock = PTHREAD_MUTEX_INITIALIZER;

static void
conn_msg(struct conn *c, const PGresult *res, char *err, size_t errlen)
{
	pthread_mutex_lock(&msg_lock);
	snprintf(err, errlen, "%s", gb_pg_msg(c->p, res));
	pthread_mutex_unlock(&msg_lock);
}

/* One statement (the extended protocol runs one, or none); 0 or -1. */
static int
cexec(struct conn *c, const char *sql, char *err, size_t errlen)
{
	PGresult *res = PQexecParams(c->conn, sql, 0, NULL, NULL, NULL, NULL,
	    0);
	ExecStatusType st = PQresultStatus(res);
	int r = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		conn_msg(c, res, err, errlen);
		r = -1;
	}
	PQclear(res);
	return r;
}

static int
pexec(struct pgt *t, const char *sql, char *err, size_t errlen)
{
	return cexec(&t->c, sql, err, errlen);
}

/* First value of the first row (*value NULL if none); param may be NULL. */
static int
value(struct pgt *t, const char *sql, const char *param, char **v,
    char *err, size_t errlen)
{
	const char *params[] = { param };
	PGresult *res = PQexecParams(t->c.conn, sql, param ? 1 : 0, NULL,
	    params, NULL, NULL, 0);
	int r = 0;

	*v = NULL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		conn_msg(&t->c, res, err, errlen);
		r = -1;
	} else if (PQntuples(res) > 0 && PQnfields(res) > 0 &&
	    !PQgetisnull(res, 0, 0))
		*v = gb_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return r;
}

/*
 * A query of the server's catalog: its rows, or NULL with "TABLE: cannot
 * read the catalog: why" in err.
 */
static PGresult *
catalog_rows(struct pgt *t, const char *sql, int n, const char *const *params,
    char *err, size_t errlen)
{
	PGresult *res = PQexecParams(t->c.conn, sql, n, NULL, params, NULL,
	    NULL, 0);
	char why[512];

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	conn_msg(&t->c, res, why, sizeof why);
	snprintf(err, errlen, "%s: cannot read the catalog: %s", t->name, why);
	PQclear(res);
	return NULL;
}

/* COPY ... FROM STDIN: begin, feed (a gb_write_fn), end (ok 0 aborts). */
static int
copy_begin(struct conn *c, const char *sql, char *err, size_t errlen)
{
	PGresult *res = PQexecParams(c->conn, sql, 0, NULL, NULL, NULL, NULL,
	    0);
	int r = 0;

	c->copyerr[0] = '\0';
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		conn_msg(c, res, err, errlen);
		r = -1;
	}
	PQclear(res);
	return r;
}

static int
copy_put(void *arg, const void *buf, size_t n)
{
	struct conn *c = arg;

	/* libpq takes an int: feed large buffers in parts */
	while (n > 0) {
		int k = n > (1 << 20) ? 1 << 20 : (int)n;
		if (PQputCopyData(c->conn, buf, k) != 1) {
			conn_msg(c, NULL, c->copyerr, sizeof c->copyerr);
			errno = EIO;
			return -1;
		}
		buf = (const char *)buf + k;
		n -= (size_t)k;
	}
	return 0;
}

static int
copy_end(struct conn *c, int ok, char *err, size_t errlen)
{
	PGresult *res;
	int r = 0;

	err[0] = '\0';
	if (PQputCopyEnd(c->conn, ok ? NULL : "gymbackup: the data did not "
	    "match its manifest") != 1) {
		conn_msg(c, NULL, err, errlen);
		return -1;
	}
	c->copied = 0;
	while ((res = PQgetResult(c->conn)) != NULL) {
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			c->copied = strtoull(PQcmdTuples(res), NULL, 10);
		else if (r == 0) {
			if (ok)
				conn_msg(c, res, err, errlen);
			r = -1;
		}
		PQclear(res);
	}
	/* a failed write says more than the end of the COPY */
	if (*c->copyerr)
		snprintf(err, errlen, "%s", c->copyerr);
	return ok ? r : -1;
}

/*
 * The COPY of a table's CSV, checked against its header (15+: MATCH), or
 * of rows in the binary format (put_binary); freeze: FREEZE, into a table
 * emptied in the COPY's own transaction.
 */
static char *
copy_sql(struct conn *c, const char *into, int binary, int freeze)
{
	if (binary)
		return gb_asprintf("COPY %s FROM STDIN (FORMAT binary%s)", into,
		    freeze ? ", FREEZE" : "");
	return gb_asprintf("COPY %s FROM STDIN (FORMAT csv, HEADER%s%s)", into,
	    gb_pg_server_version(c->p) >= 150000 ? " MATCH" : "",
	    freeze ? ", FREEZE" : "");
}

/* The binary format's header (no flags, no extension) and trailer. */
static const char bin_head[19] = "PGCOPY\n\377\r\n";
static const char bin_trailer[2] = "\377\377";

/* SET search_path = path, then stmt: one statement per call. */
static int
exec_in(struct conn *c, const char *path, const char *stmt, char *err,
    size_t errlen)
{
	char *set = gb_asprintf("SET search_path = %s", path);
	int r = cexec(c, set, err, errlen);

	free(set);
	return r == -1 ? -1 : cexec(c, stmt, err, errlen);
}

/* ------------------------------------------------------------ workers */

/* The first failure is the one told; the queue is then only emptied. */
static void
fail(struct pgt *t, const char *what, const char *name, const char *why)
{
	pthread_mutex_lock(&t->lock);
	if (!t->failed)
		snprintf(t->err, sizeof t->err, "%s%s: %s", what, name, why);
	t->failed = 1;
	pthread_cond_broadcast(&t->done);
	pthread_mutex_unlock(&t->lock);
}

/* A worker failed?  Then why in err, if given. */
static int
failed(struct pgt *t, char *err, size_t errlen)
{
	int f;

	pthread_mutex_lock(&t->lock);
	if ((f = t->failed) && err)
		snprintf(err, errlen, "%s", t->err);
	pthread_mutex_unlock(&t->lock);
	return f;
}

/* Ends the worker's COPY; ok 0 aborts it. */
static void
end_copy(struct worker *w, int ok)
{
	char why[512];

	if (!w->copying)
		return;
	if (ok && w->binary)
		copy_put(&w->c, bin_trailer, sizeof bin_trailer);
	if (copy_end(&w->c, ok, why, sizeof why) == -1 && ok) {
		/* the server counts lines from this COPY's start, not the CSV's */
		char *at = gb_asprintf("%s (that COPY's first row: data record %"
		    PRIu64 " of the table's CSV)", why, w->first);
		fail(w->t, "table ", w->copying->name, at);
		free(at);
		ok = 0;
	} else if (ok && w->txn && cexec(&w->c, "COMMIT", why,
	    sizeof why) == -1) {
		fail(w->t, "table ", w->copying->name, why);
		ok = 0;
	} else
		__atomic_add_fetch(&w->copying->rows, w->c.copied,
		    __ATOMIC_RELAXED);
	if (!ok && w->txn)
		cexec(&w->c, "ROLLBACK", why, sizeof why);
	w->txn = 0;
	w->copying = NULL;
}

static void
run_job(struct worker *w, struct job *j)
{
	struct pgt *t = w->t;
	struct table *tb = j->table;
	char why[512], *sql;

	if (j->stmt) {
		end_copy(w, 1);
		/*
		 * Its table's rows all in a COPY first: one still open then
		 * holds a lock the statement waits for, not one taken after.
		 */
		pthread_mutex_lock(&t->lock);
		while (tb && tb->pending && !t->failed)
			pthread_cond_wait(&t->done, &t->lock);
		pthread_mutex_unlock(&t->lock);
		if (exec_in(&w->c, j->path, j->stmt, why, sizeof why) == -1)
			fail(t, "", j->stmt, why);
		return;
	}
	if (w->copying && (w->copying != tb || w->binary != j->binary))
		end_copy(w, 1);
	if (!w->copying) {
		/*
		 * The table's first COPY empties it in its own transaction, so
		 * that its rows may go in frozen (FREEZE): then neither the
		 * index builds nor autovacuum write every page of it again to
		 * set hint bits and freeze them, while the other tables load.
		 * Where another session holds a lock on it (a backup of a
		 * database in use reading every table), it loads unfrozen
		 * rather than wait, or keep that session waiting, for the COPY.
		 */
		int freeze = !tb->begun;
		tb->begun = 1;
		if (freeze) {
			if (cexec(&w->c, "BEGIN", why, sizeof why) == -1) {
				fail(t, "table ", tb->name, why);
				return;
			}
			w->txn = 1;
			sql = gb_asprintf("TRUNCATE %s", tb->rel);
			if (cexec(&w->c, "SET LOCAL lock_timeout = '1s'", why,
			    sizeof why) == -1 || cexec(&w->c, sql, why,
			    sizeof why) == -1 || cexec(&w->c,
			    "SET LOCAL lock_timeout = 0", why, sizeof why) == -1) {
				cexec(&w->c, "ROLLBACK", why, sizeof why);
				w->txn = 0;
				freeze = 0;
			}
			free(sql);
		}
		sql = copy_sql(&w->c, tb->rel, j->binary, freeze);
		if (copy_begin(&w->c, sql, why, sizeof why) == -1) {
			free(sql);
			fail(t, "table ", tb->name, why);
			if (w->txn)
				cexec(&w->c, "ROLLBACK", why, sizeof why);
			w->txn = 0;
			return;
		}
		free(sql);
		w->copying = tb;
		w->binary = j->binary;
		w->first = j->first;
		if ((j->binary ? copy_put(&w->c, bin_head, sizeof bin_head) :
		    copy_put(&w->c, tb->head, tb->headlen)) == -1) {
			end_copy(w, 1);
			return;
		}
	}
	if (j->seg) {
		const void *p;
		ssize_t n;
		while ((n = gb_spool_read(j->seg, j->seg_fd, &p)) > 0)
			if (copy_put(&w->c, p, (size_t)n) == -1)
				break;
		if (n == -1) {
			snprintf(why, sizeof why, "rows spilled to %s: %s",
			    gb_tmpdir(), strerror(errno));
			fail(t, "table ", tb->name, why);
			end_copy(w, 0);
		} else if (n > 0)
			end_copy(w, 1);
	} else if (copy_put(&w->c, j->buf, j->len) == -1)
		end_copy(w, 1);
}

static void
job_free(struct job *j)
{
	if (j->seg) {
		close(j->seg_fd);
		gb_spool_free(j->seg);
	}
	free(j->buf);
	free(j->path);
	free(j->stmt);
	free(j);
}

/*
 * The first job in the queue w may take (locked), unlinked, or NULL.  A
 * table's rows all go to one worker, the first that takes some, in the
 * order they come: its heap is then in the archive's order (the source's
 * key order), as pg_restore leaves it, and each index build sorts input
 * that is nearly in order, several times as fast as the interleaved
 * chunks of several COPYs.  A worker whose table is still being fed
 * takes nothing else, so that its rows never wait behind an index build.
 */
static struct job *
take(struct pgt *t, struct worker *w)
{
	int feeding = w->copying && (!w->copying->fed ||
	    w->copying->pending);

	for (struct job **pj = &t->head; *pj; pj = &(*pj)->next) {
		struct job *j = *pj;
		/* a statement waits in the queue, not on a worker */
		if (j->stmt ? feeding || (j->table && j->table->pending) :
		    !(j->table->owner == w || (!j->table->owner && !feeding)))
			continue;
		if (!(*pj = j->next))
			t->tail = pj;
		if (!j->stmt)
			j->table->owner = w;
		return j;
	}
	return NULL;
}

/*
 * Takes jobs until stopped: rows into a COPY kept open while they are of
 * the same table, each COPY its own transaction (in staging, so no one
 * sees it before the move), or a statement; after a failure only drops
 * them.  On a flush, or when its table's rows are all in, it ends its
 * COPY, so that the rows are committed.
 */
static void *
worker(void *arg)
{
	struct worker *w = arg;
	struct pgt *t = w->t;
	struct job *j;
	int ok;

	pthread_mutex_lock(&t->lock);
	for (;;) {
		while (!t->stop && !(j = take(t, w)) && !(w->copying &&
		    (t->flush || (w->copying->fed && !w->copying->pending))))
			pthread_cond_wait(&t->work, &t->lock);
		if (t->stop)
			break;
		ok = !t->failed;
		if (!j) {	/* a flush, or its table's rows all in */
			w->busy = 1;
			pthread_mutex_unlock(&t->lock);
			end_copy(w, ok);
			pthread_mutex_lock(&t->lock);
			w->busy = 0;
			pthread_cond_broadcast(&t->done);
			continue;
		}
		if (!j->seg && !j->stmt)
			t->queued--;
		w->busy = 1;
		pthread_cond_broadcast(&t->done);
		pthread_mutex_unlock(&t->lock);
		if (ok)
			run_job(w, j);
		pthread_mutex_lock(&t->lock);
		if (!j->stmt)
			j->table->pending--;
		t->held -= j->len;
		t->spilled -= j->seg_len;
		job_free(j);
		w->busy = 0;
		pthread_cond_broadcast(&t->done);
		pthread_cond_broadcast(&t->work);
	}
	pthread_mutex_unlock(&t->lock);
	if (w->copying) {	/* stopped: what it copied goes */
		w->copying = NULL;
		PQputCopyEnd(w->c.conn, "gymbackup: restore abandoned");
		PQclear(PQgetResult(w->c.conn));
		while (PQgetResult(w->c.conn) != NULL)
			;
		/* its TRUNCATE's lock goes now, not when it is closed */
		if (w->txn)
			PQclear(PQexec(w->c.conn, "ROLLBACK"));
		w->txn = 0;
	}
	return NULL;
}

/*
 * Queues a job, waiting while the queue is full, or while the rows held
 * would pass QUEUED + 1 chunks a worker: chunks of long records (up to
 * GB_CSV_RECORD_MAX) are fewer.  -1: a worker failed.
 */
static int
submit(struct pgt *t, struct job *j)
{
	int r = 0;

	pthread_mutex_lock(&t->lock);
	/* a segment or a statement holds no memory: it never waits */
	while (!t->failed && !j->seg && !j->stmt && (t->queued >= QUEUED *
	    t->nw || (t->held && t->held + j->len > (QUEUED + 1) * t->nw *
	    CHUNK)))
		pthread_cond_wait(&t->done, &t->lock);
	if (t->failed) {
		job_free(j);
		r = -1;
	} else {
		if (!j->stmt)
			j->table->pending++;
		j->next = NULL;
		*t->tail = j;
		t->tail = &j->next;
		if (!j->seg && !j->stmt)
			t->queued++;
		t->held += j->len;
		/* not every worker may take it */
		pthread_cond_broadcast(&t->work);
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

/*
 * Waits until every job is done and every COPY ended: all that was
 * queued is committed.  0, or -2 and the worker's failure.
 */
static int
drain(struct pgt *t, char *err, size_t errlen)
{
	char why[sizeof t->err];
	int idle;

	pthread_mutex_lock(&t->lock);
	t->flush = 1;
	pthread_cond_broadcast(&t->work);
	for (;;) {
		idle = !t->head;
		for (size_t i = 0; idle && i < t->nw; i++)
			idle = !t->w[i].busy && !t->w[i].copying;
		if (idle)
			break;
		pthread_cond_wait(&t->done, &t->lock);
	}
	t->flush = 0;
	pthread_mutex_unlock(&t->lock);
	if (failed(t, why, sizeof why)) {
		snprintf(err, errlen, "%s: %s; nothing restored", t->name, why);
		return -2;
	}
	return 0;
}

/* The table loaded by the workers as rel, or NULL. */
static struct table *
find_table(struct pgt *t, const char *rel)
{
	for (size_t i = 0; i < t->ntables; i++)
		if (strcmp(t->tables[i]->rel, rel) == 0)
			return t->tables[i];
	return NULL;
}

/*
 * The keys and indexes held back while the rows of table rel (NULL: of
 * every table) went in, handed to the workers: a sort of the loaded table
 * is much cheaper than an index kept up row by row, and they are built
 * several at a time, while other tables load.
 */
static int
submit_late(struct pgt *t, const char *rel)
{
	size_t k = 0;
	int r = 0;

	for (size_t i = 0; i < t->nlate; i++) {
		struct late *l = &t->late[i];
		struct job *j;
		if (rel && strcmp(l->rel, rel) != 0) {
			t->late[k++] = *l;
			continue;
		}
		j = gb_calloc(1, sizeof *j);
		j->table = find_table(t, l->rel);
		j->path = l->path;
		j->stmt = l->stmt;
		free(l->rel);
		if (submit(t, j) == -1)	/* which frees it */
			r = -1;
	}
	t->nlate = k;
	return r;
}

/* All of them made; then every key made of its index. */
static int
build_late(struct pgt *t, char *err, size_t errlen)
{
	submit_late(t, NULL);
	return drain(t, err, errlen);
}

static void
keep_late(struct pgt *t, const char *rel, const char *path, const char *stmt)
{
	t->late = gb_realloc(t->late, (t->nlate + 1) * sizeof *t->late);
	t->late[t->nlate++] = (struct late){ gb_strdup(rel), gb_strdup(path),
	    gb_strdup(stmt) };
}

/* ------------------------------------------------------------ staging */

/* The name (unquoted) of this restore's staging schema k. */
static char *
stage_name(const struct pgt *t, size_t k)
{
	return gb_asprintf("gb_restore_%08" PRIx32 "_%zu", t->id, k);
}

/* The staging schema (unquoted) of a target schema, made when new. */
static int
stage_of(struct pgt *t, const char *target, char **stage, char *err,
    size_t errlen)
{
	char why[512], *q, *sql;
	size_t k;
	int r;

	for (k = 0; k < t->nstage && strcmp(t->target[k], target) != 0; k++)
		;
	*stage = stage_name(t, k);
	if (k < t->nstage)
		return 0;
	q = gb_quote_ident(*stage);
	sql = gb_asprintf("CREATE SCHEMA %s", q);
	r = pexec(t, sql, why, sizeof why);
	free(sql);
	free(q);
	if (r == -1) {
		snprintf(err, errlen, "%s: cannot create the staging schema %s: "
		    "%s", t->name, *stage, why);
		return -2;
	}
	t->target = gb_realloc(t->target, (k + 2) * sizeof *t->target);
	t->target[t->nstage++] = gb_strdup(target);
	t->target[t->nstage] = NULL;
	return 0;
}

/*
 * A table just made in staging: its key and unique constraints are taken
 * off; their indexes are built after the rows (build_late), each one on
 * its own while other indexes of the table are built, and made the
 * constraints again at the end (finish).
 */
static int
made_table(struct pgt *t, const char *rel, char *err, size_t errlen)
{
	const char *params[] = { rel };
	PGresult *res = catalog_rows(t, "SELECT conname, "
	    "pg_get_indexdef(conindid), CASE contype WHEN 'p' THEN 'PRIMARY "
	    "KEY' ELSE 'UNIQUE' END FROM pg_constraint WHERE conrelid = "
	    "$1::regclass AND contype IN ('p', 'u') ORDER BY contype, conname",
	    1, params, err, errlen);
	char why[512];
	int r = 0;

	if (!res)
		return -2;
	for (int i = 0; r == 0 && i < PQntuples(res); i++) {
		char *qc = gb_quote_ident(PQgetvalue(res, i, 0)), *sql;
		sql = gb_asprintf("ALTER TABLE %s DROP CONSTRAINT %s", rel, qc);
		if (pexec(t, sql, why, sizeof why) == -1) {
			snprintf(err, errlen, "%s: %s", rel, why);
			r = -2;
		}
		free(sql);
		keep_late(t, rel, "pg_catalog", PQgetvalue(res, i, 1));
		t->final = gb_realloc(t->final, (t->nfinal + 1) *
		    sizeof *t->final);
		t->final[t->nfinal++] = gb_asprintf("ALTER TABLE %s ADD "
		    "CONSTRAINT %s %s USING INDEX %s", rel, qc,
		    PQgetvalue(res, i, 2), qc);
		free(qc);
	}
	PQclear(res);
	return r;
}

/*
 * Staging schemas left by a restore that was killed: their restore's lock
 * is free.  Dropped, saying so.
 */
static int
reap(struct pgt *t, char *err, size_t errlen)
{
	char *q = gb_asprintf("SELECT nspname, pg_try_advisory_lock(%d, "
	    "('x' || substr(nspname, 12, 8))::bit(32)::int) FROM pg_namespace "
	    "WHERE nspname ~ '" GB_PG_STAGE_RE "' ORDER BY 1", LOCK_KEY);
	PGresult *res = catalog_rows(t, q, 0, NULL, err, errlen);
	char why[512];
	int r = 0;

	free(q);
	if (!res)
		return -2;
	for (int i = 0; r == 0 && i < PQntuples(res); i++) {
		char *sql;
		if (PQgetvalue(res, i, 1)[0] != 't')
			continue;	/* its restore runs */
		q = gb_quote_ident(PQgetvalue(res, i, 0));
		sql = gb_asprintf("DROP SCHEMA IF EXISTS %s CASCADE", q);
		if (pexec(t, sql, why, sizeof why) == -1) {
			snprintf(err, errlen, "%s: cannot drop the staging schema "
			    "%s of a restore that did not finish: %s", t->name,
			    PQgetvalue(res, i, 0), why);
			r = -2;
		} else
			gb_warnx("%s: dropped the staging schema %s of a restore "
			    "that did not finish", t->name, PQgetvalue(res, i, 0));
		free(sql);
		free(q);
	}
	PQclear(res);
	/* the locks taken go with their own restore's, at the end */
	if (r == 0 && pexec(t, "SELECT pg_advisory_unlock_all()", why,
	    sizeof why) == -1) {
		snprintf(err, errlen, "%s: %s", t->name, why);
		r = -2;
	}
	return r;
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
		    "d.deptype = 'e') AND n.nspname !~ '" GB_PG_STAGE_RE "'",
		    kinds);
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

/* Staging schema and table a table of the export set m is loaded as. */
static int
stage_parts(struct pgt *t, const struct gb_manifest *m, const char *name,
    char **stage, char **table, char *err, size_t errlen)
{
	char *s;
	int r;

	target_parts(t, m, name, &s, table);
	r = stage_of(t, s, stage, err, errlen);
	free(s);
	return r;
}

/* The same as a quoted relation (qual 0) or schema.table (qual 1). */
static char *
stage_rel(struct pgt *t, const struct gb_manifest *m, const char *name,
    int qual, char *err, size_t errlen)
{
	char *s, *tb, *rel = NULL;

	if (stage_parts(t, m, name, &s, &tb, err, errlen) == 0)
		rel = qual ? gb_pg_qualname(s, tb) : gb_sql_rel(s, tb);
	free(s);
	free(tb);
	return rel;
}

/*
 * CREATE TABLE [IF NOT EXISTS] rel (stmt) after SET search_path = path;
 * a table made new has its keys held back (made_table).
 */
static int
create_table(struct pgt *t, const char *path, const char *stmt,
    const char *rel, char *err, size_t errlen)
{
	char *v, why[512];
	int r = value(t, "SELECT to_regclass($1) IS NULL", rel, &v, why,
	    sizeof why), isnew;

	isnew = v && *v == 't';
	free(v);
	if (r == 0 && (r = exec_in(&t->c, path, stmt, why, sizeof why)) == 0)
		return isnew ? made_table(t, rel, err, errlen) : 0;
	snprintf(err, errlen, "SCHEMA.sql: %s", why);
	return -2;
}

/*
 * SCHEMA.sql of a PostgreSQL export: only the statements the export
 * writes (gb_ddl_parse), each run alone, into the staging schemas of the
 * schemas they name, or every table into the target schema's (its CREATE
 * SCHEMA and SET search_path then left out).
 */
static int
schema_pg(struct pgt *t, const char *sql, char *err, size_t errlen)
{
	struct gb_ddl *d;
	size_t n;
	char *path = gb_strdup("pg_catalog"), *stage, *rel, why[512];
	int r = 0;

	if (gb_ddl_parse(1, sql, strlen(sql), &d, &n, err, errlen) == -1) {
		free(path);
		return -1;
	}
	if (t->schema) {
		free(path);
		if (stage_of(t, t->schema, &stage, err, errlen)) {
			gb_ddl_free(d, n);
			return -2;
		}
		path = gb_quote_ident(stage);
		free(stage);
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		char *q = gb_quote_ident(d[i].name), *run;
		switch (d[i].kind) {
		case GB_DDL_PATH:
		case GB_DDL_SCHEMA:
			if (t->schema)
				break;
			if ((r = stage_of(t, d[i].name, &stage, err, errlen)))
				break;
			if (d[i].kind == GB_DDL_PATH) {
				free(path);
				path = gb_quote_ident(stage);
			}
			free(stage);
			break;
		case GB_DDL_TABLE:
			run = gb_ddl_if_not_exists(&d[i]);
			rel = gb_asprintf("%s.%s", path, q);
			r = create_table(t, path, run, rel, err, errlen);
			free(rel);
			free(run);
			break;
		case GB_DDL_INDEX:
			run = gb_ddl_if_not_exists(&d[i]);
			free(q);
			q = gb_quote_ident(d[i].on);
			rel = gb_asprintf("%s.%s", path, q);
			keep_late(t, rel, path, run);
			free(rel);
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

		if ((r = stage_parts(t, m, name, &s, &tb, err, errlen))) {
			free(pk);
			break;
		}
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
			r = create_table(t, "pg_catalog", ddl, rel, err, errlen);
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
				keep_late(t, rel, "pg_catalog", x);
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

/*
 * The join of rel with the rows (or keys) in a, on the key: "=", which
 * an index or a hash can take.  A primary key's columns are never NULL; a
 * NULL in another key (an older gymbackup's incremental) matches nothing,
 * and the restore ends on the count of rows.
 */
static char *
key_join(const char *rel, const char *key, const char *a)
{
	char *pat = gb_strdup(key), *on = gb_strdup(""), *k, *sv, *x;

	for (k = strtok_r(pat, ",", &sv); k; k = strtok_r(NULL, ",", &sv)) {
		char *qc = gb_quote_ident(k);
		x = gb_asprintf("%s%s%s.%s = %s.%s", on, *on ? " AND " : "", rel,
		    qc, a, qc);
		free(on);
		on = x;
		free(qc);
	}
	free(pat);
	return on;
}

static void
incr_free(struct incr *c)
{
	free(c->rel);
	free(c->temp);
	free(c->name);
	free(c->on);
}

/*
 * An incremental's changed rows into their table (rel; NULL: into every
 * table): first every row of their keys out, then all of them in.  Not
 * row by row (upserts): a unique value that went from one row to another
 * (swapped, or taken from a row deleted) would collide with its old row
 * not yet changed.  The deleted keys went before (deletes).
 */
static int
apply_incr(struct pgt *t, const char *rel, char *err, size_t errlen)
{
	size_t k = 0;
	int r = 0;

	for (size_t i = 0; i < t->nincr; i++) {
		struct incr *c = &t->incr[i];
		char *dup, *del, *ins, *drop, *v = NULL, why[512];
		if (r || (rel && strcmp(c->rel, rel) != 0)) {
			t->incr[k++] = *c;
			continue;
		}
		/* a key more than one row holds: refused, not all replaced */
		dup = gb_asprintf("SELECT 1 FROM %s JOIN pg_temp.%s i ON %s "
		    "GROUP BY i.ctid HAVING count(*) > 1 LIMIT 1", c->rel,
		    c->temp, c->on);
		del = gb_asprintf("DELETE FROM %s USING pg_temp.%s i WHERE %s",
		    c->rel, c->temp, c->on);
		ins = gb_asprintf("INSERT INTO %s SELECT * FROM pg_temp.%s",
		    c->rel, c->temp);
		drop = gb_asprintf("DROP TABLE pg_temp.%s", c->temp);
		if (value(t, dup, NULL, &v, why, sizeof why) == -1 ||
		    (!v && (pexec(t, del, why, sizeof why) == -1 ||
		    pexec(t, ins, why, sizeof why) == -1 ||
		    pexec(t, drop, why, sizeof why) == -1))) {
			snprintf(err, errlen, "table %s: %s", c->name, why);
			r = -2;
		} else if (v) {
			snprintf(err, errlen, "table %s: its key is not unique; "
			    "an incremental cannot be applied", c->name);
			r = -2;
		}
		free(v);
		free(dup);
		free(del);
		free(ins);
		free(drop);
		incr_free(c);
	}
	t->nincr = k;
	return r;
}

static int
schema_sql(void *arg, const struct gb_manifest *m, const char *sql,
    size_t len, char *err, size_t errlen)
{
	if (apply_incr(arg, NULL, err, errlen) == -2)
		return -2;
	if (strcmp(m->source_kind, "postgresql") == 0)
		return schema_pg(arg, sql, err, errlen);
	return schema_sqlite(arg, m, sql, err, errlen);
}

/*
 * f's CSV into table into by COPY on the control connection, checked as
 * it streams.  0; -1 the CSV differs from the MANIFEST, -2 it could not
 * be done; the server's words in why, else (why empty) the check's in err.
 */
static int
copy_in(struct pgt *t, const char *into, const struct gb_mtable *f,
    gb_read_fn fn, void *arg, char *err, size_t errlen, char *why,
    size_t whylen)
{
	char *sql = copy_sql(&t->c, into, 0, 0);
	int status;

	*why = '\0';
	status = copy_begin(&t->c, sql, why, whylen) == -1 ? -2 : 0;
	free(sql);
	if (status)
		return status;
	status = gb_check_table_to(f, fn, arg, copy_put, &t->c, NULL, NULL,
	    err, errlen);
	if (copy_end(&t->c, status == 0, why, whylen) == -1 &&
	    (status == 0 || (status == -2 && *why)))
		return -2;
	*why = '\0';
	return status;
}

/* Columns whose binary form is written here (binary_cols). */
enum { COL_TEXT, COL_INT2, COL_INT4, COL_INT8, COL_BYTEA };

/*
 * A full's table: its records, as the check parses them, go to the
 * workers in chunks of whole records, in COPY's binary format while they
 * can (the server then parses no CSV: its COPY takes about 30% less
 * CPU), else as CSV written anew.
 */
struct feed {
	struct pgt *t;
	struct table *table;
	char *kind;		/* per column: COL_*; NULL: CSV only */
	char **names;
	size_t ncols;
	int header;		/* the next record is the header */
	int binary;		/* records go in the binary format */
	char *buf;
	size_t len, cap;
	int sent;		/* a chunk went to the workers */
	uint64_t rec;		/* data records so far */
	uint64_t first;		/* the chunk's first */
};

/*
 * The columns a COPY without a column list fills in rel, when each is of
 * a type the server reads from the binary form with the very code it
 * reads the CSV's text with once parsed (text and varchar: the same
 * bytes, checked as UTF-8 either way; integers; bytea), in a UTF8
 * database (else a NUL in text would differ) from PostgreSQL 12 on
 * (attgenerated): their kinds and names into f; none, and the table goes
 * as CSV, when one is of another type.  0, or -2 when the catalog cannot
 * be read.
 */
static int
binary_cols(struct pgt *t, const char *rel, struct feed *f, char *err,
    size_t errlen)
{
	const char *params[] = { rel };
	PGresult *res;
	int n;

	if (gb_pg_server_version(t->c.p) < 120000)
		return 0;
	/* the kinds as their COL_ values; NULL: another type */
	res = catalog_rows(t, "SELECT attname, CASE atttypid WHEN "
	    "'text'::regtype THEN 0 WHEN 'varchar'::regtype THEN 0 WHEN "
	    "'int2'::regtype THEN 1 WHEN 'int4'::regtype THEN 2 WHEN "
	    "'int8'::regtype THEN 3 WHEN 'bytea'::regtype THEN 4 END FROM "
	    "pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND "
	    "NOT attisdropped AND attgenerated = '' AND "
	    "current_setting('server_encoding') = 'UTF8' ORDER BY attnum", 1,
	    params, err, errlen);
	if (!res)
		return -2;
	n = PQntuples(res);
	for (int i = 0; i < n; i++)
		if (PQgetisnull(res, i, 1))
			n = 0;
	if (n) {
		f->ncols = (size_t)n;
		f->kind = gb_malloc(f->ncols);
		f->names = gb_calloc(f->ncols + 1, sizeof *f->names);
		for (int i = 0; i < n; i++) {
			f->kind[i] = (char)atoi(PQgetvalue(res, i, 1));
			f->names[i] = gb_strdup(PQgetvalue(res, i, 0));
		}
	}
	PQclear(res);
	return 0;
}

/* Room for need more bytes; a chunk is sent when it passes CHUNK. */
static char *
feed_room(struct feed *f, size_t need)
{
	if (f->cap - f->len < need) {
		f->cap = f->len + need + CHUNK;
		f->buf = gb_realloc(f->buf, f->cap);
	}
	return f->buf + f->len;
}

/*
 * A new segment for table tb's rows: a file made in $TMPDIR and unlinked
 * at once, encrypted (gb_spool).  NULL where none may be made: no room
 * there, or it is in memory (tmpfs), where it would be no better than
 * waiting.
 */
static struct job *
segment_open(struct pgt *t, struct table *tb)
{
	char *path = gb_tmp_template("%s/gb-restore-spill", gb_tmpdir());
	int fd = mkostemp(path, O_CLOEXEC);
	struct statfs fs;
	struct statvfs vfs;
	struct job *j;

	if (fd >= 0 && unlink(path) == -1) {
		close(fd);
		fd = -1;
	}
	free(path);
	if (fd < 0)
		return NULL;
	if (fstatfs(fd, &fs) == -1 || fs.f_type == TMPFS_MAGIC ||
	    fs.f_type == RAMFS_MAGIC || fstatvfs(fd, &vfs) == -1 ||
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < SEG + SPILL_RESERVE +
	    (uint64_t)vfs.f_blocks * vfs.f_frsize / 20) {
		close(fd);
		return NULL;
	}
	j = gb_calloc(1, sizeof *j);
	j->table = tb;
	j->seg = gb_spool_new(1);
	j->seg_fd = fd;
	return j;
}

/* The table's segment, whole: queued after its rows before it. */
static int
segment_close(struct pgt *t, struct table *tb)
{
	struct job *j = tb->spill;

	tb->spill = NULL;
	gb_spool_end(j->seg);
	return submit(t, j);
}

/*
 * A chunk of rows: queued, or while the table's COPY lags behind (chunks
 * waiting for it) spilled, so that the reading goes on to the next table,
 * whose COPY and index builds keep the other cores busy; the rows after a
 * spilled one follow it there, until its segment is whole.  -1: a worker
 * failed; -2: the spill could not be written, why in err.
 */
static int
send_rows(struct pgt *t, struct job *j, char *err, size_t errlen)
{
	struct table *tb = j->table;
	int lagging;

	pthread_mutex_lock(&t->lock);
	lagging = t->spill == 1 || (t->spill == 0 && tb->pending >= QUEUED &&
	    t->spilled + SEG <= SPILL_MAX);
	pthread_mutex_unlock(&t->lock);
	/* a segment's rows are of one format: one COPY takes them */
	if (tb->spill && tb->spill->seg_len && tb->spill->binary != j->binary &&
	    segment_close(t, tb) == -1) {
		job_free(j);
		return -1;
	}
	/* where none can be made now, none is tried again */
	if (!tb->spill && lagging && t->spill >= 0 &&
	    !(tb->spill = segment_open(t, tb)))
		t->spill = -1;
	if (!tb->spill)
		return submit(t, j);
	if (tb->spill->seg_len == 0) {
		tb->spill->binary = j->binary;
		tb->spill->first = j->first;
	}
	/* each chunk of a table is in its format */
	if (gb_spool_write(tb->spill->seg, tb->spill->seg_fd, j->buf,
	    j->len) == -1) {
		snprintf(err, errlen, "cannot spill rows of table %s to %s: "
		    "%s", tb->name, gb_tmpdir(), strerror(errno));
		job_free(j);
		return -2;
	}
	pthread_mutex_lock(&t->lock);
	tb->spill->seg_len += j->len;
	t->spilled += j->len;
	pthread_mutex_unlock(&t->lock);
	job_free(j);
	if (tb->spill->seg_len >= SEG)
		return segment_close(t, tb);
	return 0;
}

/* The chunk so far to the workers, in the format it was written in. */
static int
feed_send(struct feed *f, char *err, size_t errlen)
{
	struct job *j = gb_calloc(1, sizeof *j);

	j->table = f->table;
	j->buf = f->buf;
	j->len = f->len;
	j->binary = f->binary;
	j->first = f->first;
	f->buf = NULL;
	f->len = f->cap = 0;
	f->sent = 1;
	return send_rows(f->t, j, err, errlen);
}

/*
 * A record as CSV that COPY reads as the check parsed it: each value
 * quoted (so never the NULL, which stays an empty field unquoted).
 */
static void
put_csv(struct feed *f, const struct gb_csv_field *fl, size_t nf)
{
	size_t need = 1;
	const char *p, *e, *q;
	char *w;

	for (size_t i = 0; i < nf; i++) {
		need += 3 + fl[i].n;
		for (p = fl[i].p, e = p + fl[i].n; p && (q = memchr(p, '"',
		    (size_t)(e - p))); p = q + 1)
			need++;
	}
	w = feed_room(f, need);
	for (size_t i = 0; i < nf; i++) {
		if (i)
			*w++ = ',';
		if (!(p = fl[i].p))
			continue;
		*w++ = '"';
		for (e = p + fl[i].n; (q = memchr(p, '"', (size_t)(e - p)));
		    p = q + 1) {
			memcpy(w, p, (size_t)(q + 1 - p));
			w += q + 1 - p;
			*w++ = '"';
		}
		memcpy(w, p, (size_t)(e - p));
		w += e - p;
		*w++ = '"';
	}
	*w++ = '\n';
	f->len = (size_t)(w - f->buf);
}

/*
 * Text an integer column's input function takes as this value, in
 * [-max - 1, max]: only plain digits and a minus (no blanks, plus,
 * underscores or other bases: those go as CSV, read by the server).
 */
static int
parse_int(const char *p, size_t n, uint64_t max, int64_t *v)
{
	size_t neg = n && *p == '-', i = neg;
	uint64_t u = 0;

	if (i == n || n - i > 19)
		return -1;
	for (; i < n; i++) {
		unsigned d = (unsigned char)p[i] - '0';
		if (d > 9)
			return -1;
		u = u * 10 + d;
	}
	if (u > max + neg)
		return -1;
	*v = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * A record in COPY's binary format (a field count, then each value's
 * length, -1 for NULL, and bytes in network order), or -1 when a value
 * is not in the one form written for it (put_csv then).
 */
static int
put_binary(struct feed *f, const struct gb_csv_field *fl, size_t nf)
{
	static const uint64_t max[] = { [COL_INT2] = INT16_MAX,
	    [COL_INT4] = INT32_MAX, [COL_INT8] = INT64_MAX };
	size_t need = 2;
	unsigned char *w;
	uint16_t n16 = htobe16((uint16_t)nf);
	uint32_t n32;
	uint64_t n64;
	int64_t v;

	for (size_t i = 0; i < nf; i++)
		need += 12 + fl[i].n;
	w = (unsigned char *)feed_room(f, need);
	memcpy(w, &n16, 2);
	w += 2;
	for (size_t i = 0; i < nf; i++) {
		const char *p = fl[i].p;
		size_t n = fl[i].n, size;
		int k = f->kind[i];

		if (!p) {
			memcpy(w, "\377\377\377\377", 4);
			w += 4;
			continue;
		}
		switch (k) {
		case COL_TEXT:
			n32 = htobe32((uint32_t)n);
			memcpy(w, &n32, 4);
			memcpy(w + 4, p, n);
			w += 4 + n;
			break;
		case COL_BYTEA:	/* \x and hex digits, as gb-export writes */
			if (n < 2 || n % 2 || p[0] != '\\' || p[1] != 'x')
				return -1;
			n32 = htobe32((uint32_t)(n - 2) / 2);
			memcpy(w, &n32, 4);
			w += 4;
			for (size_t c = 2; c < n; c += 2) {
				int hi = hexval(p[c]), lo = hexval(p[c + 1]);
				if (hi < 0 || lo < 0)
					return -1;
				*w++ = (unsigned char)(hi << 4 | lo);
			}
			break;
		default:
			if (parse_int(p, n, max[k], &v) == -1)
				return -1;
			size = k == COL_INT2 ? 2 : k == COL_INT4 ? 4 : 8;
			n32 = htobe32((uint32_t)size);
			n64 = htobe64((uint64_t)v << (64 - 8 * size));
			memcpy(w, &n32, 4);
			memcpy(w + 4, &n64, size);
			w += 4 + size;
			break;
		}
	}
	f->len = (size_t)((char *)w - f->buf);
	return 0;
}

/*
 * Each record the check parsed (a gb_record_fn): the header, written
 * anew to go first in each CSV COPY, decides the binary format when it
 * names the table's columns in order; the first value out of its
 * column's form ends it, and the rest of the table goes as CSV.
 */
static int
feed_rec(void *arg, struct gb_csv_field *fl, size_t nf, char *err,
    size_t errlen)
{
	struct feed *f = arg;
	struct table *tb = f->table;
	int r = 0;

	if (f->header) {
		f->header = 0;
		f->binary = f->kind && nf == f->ncols;
		for (size_t i = 0; f->binary && i < nf; i++)
			f->binary = fl[i].p && fl[i].n == strlen(f->names[i]) &&
			    memcmp(fl[i].p, f->names[i], fl[i].n) == 0;
		put_csv(f, fl, nf);
		tb->head = f->buf;
		tb->headlen = f->len;
		f->buf = NULL;
		f->len = f->cap = 0;
		return 0;
	}
	if (!f->len)
		f->first = f->rec + 1;
	f->rec++;
	if (f->binary && put_binary(f, fl, nf) == -1) {
		r = f->len ? feed_send(f, err, errlen) : 0;
		f->first = f->rec;
		f->binary = 0;
	}
	if (!f->binary)
		put_csv(f, fl, nf);
	if (r == 0 && f->len >= CHUNK)
		r = feed_send(f, err, errlen);
	if (r == -1)	/* a worker failed: its why */
		failed(f->t, err, errlen);
	return r;
}

/*
 * A full's table: its rows checked here as they stream and handed to the
 * workers in chunks, while the next table is read.
 */
static int
load_rows(struct pgt *t, const char *rel, const struct gb_mtable *mt,
    gb_read_fn fn, void *arg, char *err, size_t errlen)
{
	struct table *tb = gb_calloc(1, sizeof *tb);
	struct feed f = { .t = t, .table = tb, .header = 1 };
	int status;

	tb->name = gb_strdup(mt->name);
	tb->rel = gb_strdup(rel);
	/* two tables into one (the drill's one schema): the first's rows stay */
	tb->begun = find_table(t, rel) != NULL;
	t->tables = gb_realloc(t->tables, (t->ntables + 1) * sizeof *t->tables);
	t->tables[t->ntables++] = tb;
	status = binary_cols(t, rel, &f, err, errlen);
	if (status == 0)
		status = gb_check_table_to(mt, fn, arg, NULL, NULL, feed_rec, &f,
		    err, errlen);
	/* no rows: the COPY of the header alone still checks it */
	if (status == 0 && (f.len || !f.sent))
		status = feed_send(&f, err, errlen) ? -2 : 0;
	if (tb->spill && status == 0)
		status = segment_close(t, tb) ? -2 : 0;
	else if (tb->spill) {
		job_free(tb->spill);
		tb->spill = NULL;
	}
	pthread_mutex_lock(&t->lock);
	tb->fed = 1;
	pthread_cond_broadcast(&t->work);
	pthread_mutex_unlock(&t->lock);
	if (status == 0)
		submit_late(t, rel);
	free(f.buf);
	free(f.kind);
	gb_free_strv(f.names);
	if (failed(t, err, errlen))
		return -2;
	return status;
}

static int
load(void *targ, const struct gb_manifest *m, const struct gb_mtable *mt,
    gb_read_fn fn, void *arg, char *err, size_t errlen)
{
	struct pgt *t = targ;
	int incremental = strcmp(m->level, "incremental") == 0;
	char *rel, *sql, *tmp = NULL, why[512];
	const char *into;
	int status;

	if (!(rel = stage_rel(t, m, mt->name, 0, err, errlen)))
		return -2;
	if (!incremental) {
		status = load_rows(t, rel, mt, fn, arg, err, errlen);
		free(rel);
		return status;
	}
	/* the keys the changes go by, and the rows they go to, first */
	if (build_late(t, err, errlen) == -2) {
		free(rel);
		return -2;
	}
	if (find_table(t, rel))
		find_table(t, rel)->changed = 1;
	into = rel;
	if (mt->change && strcmp(mt->change, "whole") == 0) {
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
		/* rows go to a copy of the table first (apply_incr) */
		struct incr c = { gb_strdup(rel), gb_asprintf("gb_incr_%zu",
		    t->incr_seq++), gb_strdup(mt->name), key_join(rel,
		    mt->key ? mt->key : "", "i") };
		t->incr = gb_realloc(t->incr, (t->nincr + 1) * sizeof *t->incr);
		t->incr[t->nincr++] = c;
		if (!*c.on) {
			snprintf(err, errlen, "table %s has no key; an "
			    "incremental cannot be applied", mt->name);
			free(rel);
			return -2;
		}
		sql = gb_asprintf("CREATE TEMP TABLE %s (LIKE %s)", c.temp, rel);
		status = pexec(t, sql, why, sizeof why);
		free(sql);
		if (status == -1) {
			snprintf(err, errlen, "table %s: %s", mt->name, why);
			free(rel);
			return -2;
		}
		into = tmp = gb_asprintf("pg_temp.%s", c.temp);
	}
	status = copy_in(t, into, mt, fn, arg, err, errlen, why, sizeof why);
	free(tmp);
	if (status && *why)
		snprintf(err, errlen, "table %s: %s", mt->name, why);
	/* with deleted keys to come, the rows wait for them */
	if (status == 0 && incremental && !mt->del)
		status = apply_incr(t, rel, err, errlen);
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
	char *rel, *sql, *keys, *on, why[512];
	PGresult *res;
	int status;

	if (build_late(t, err, errlen) == -2 ||
	    !(rel = stage_rel(t, m, mt->name, 0, err, errlen)))
		return -2;
	if (find_table(t, rel))
		find_table(t, rel)->changed = 1;
	keys = gb_sql_keys(mt->key);
	on = key_join(rel, mt->key, "d");
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
		res = PQexecParams(t->c.conn, sql, 0, NULL, NULL, NULL, NULL, 0);
		free(sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			conn_msg(&t->c, res, why, sizeof why);
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
	else	/* its changed rows, now that these are gone */
		status = apply_incr(t, rel, err, errlen);
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

	*n = -1;
	if (apply_incr(t, NULL, err, errlen) == -2 ||
	    drain(t, err, errlen) == -2 ||
	    stage_parts(t, m, mt->name, &s, &tb, err, errlen))
		return -2;
	params[0] = s;
	params[1] = tb;
	res = catalog_rows(t, "SELECT count(*) FROM pg_class c JOIN "
	    "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 "
	    "AND c.relname = $2 AND c.relkind IN ('r', 'p')", 2, params, err,
	    errlen);
	if (!res) {
		free(s);
		free(tb);
		return -2;
	}
	there = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	rel = gb_sql_rel(s, tb);
	if (there && !past && find_table(t, rel) &&
	    !find_table(t, rel)->changed)
		/* only the workers' COPYs wrote it: no scan to count */
		*n = (int64_t)find_table(t, rel)->rows;
	else if (there) {
		/* the parameter takes the column's type, as in the export */
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
	}
	free(rel);
	free(s);
	free(tb);
	return r;
}

/* Every index built, and the keys made of theirs. */
static int
make_keys(struct pgt *t, char *err, size_t errlen)
{
	char why[512];
	int r = build_late(t, err, errlen);

	for (size_t i = 0; i < t->nfinal; i++) {
		if (r == 0 && pexec(t, t->final[i], why, sizeof why) == -1) {
			snprintf(err, errlen, "%s: %s; nothing restored", t->name,
			    why);
			r = -2;
		}
		free(t->final[i]);
	}
	t->nfinal = 0;
	return r;
}

/* The drill: what the staging schema holds once keys and indexes are made. */
static int
dump(void *arg, const struct gb_manifest *m, const struct gb_mtable *mt,
    const struct gb_dump *d, struct gb_out *o, struct gb_mtable *got,
    char *err, size_t errlen)
{
	struct pgt *t = arg;
	struct gb_tinfo ti;
	char *name;

	if (apply_incr(t, NULL, err, errlen) == -2 ||
	    make_keys(t, err, errlen) == -2 ||
	    !(name = stage_rel(t, m, mt->name, 1, err, errlen)))
		return -2;
	if (gb_pg_tinfo(t->c.p, name, &ti) == -1) {
		snprintf(err, errlen, "restored database lacks table %s", name);
		free(name);
		return -2;
	}
	free(name);
	gb_pg_dump(t->c.p, &ti, d, o, got);
	gb_tinfo_free(&ti);
	return 0;
}

/* Drops the staging schemas (CASCADE: with what they hold). */
static int
drop_stages(struct pgt *t, char *err, size_t errlen)
{
	char why[512];
	int r = 0;

	for (size_t k = 0; k < t->nstage; k++) {
		char *s = stage_name(t, k);
		char *q = gb_quote_ident(s), *sql = gb_asprintf("DROP SCHEMA IF "
		    "EXISTS %s CASCADE", q);
		if (pexec(t, sql, why, sizeof why) == -1 && r == 0) {
			snprintf(err, errlen, "%s: cannot drop the staging schema "
			    "%s: %s", t->name, s, why);
			r = -2;
		}
		free(sql);
		free(q);
		free(s);
	}
	return r;
}

/*
 * Every table of the staging schemas into the schemas they stand for, in
 * one transaction: the restore is there whole, or not at all.  One move
 * at a time into a database, and only into a target still empty: tables
 * made there since the start (by a restore that ran alongside, whose
 * staging the start did not count) are not merged with these.
 */
static int
move_into_place(struct pgt *t, char *why, size_t whylen)
{
	char *lock = gb_asprintf("SELECT pg_advisory_xact_lock(%d)", LOCK_KEY);
	int r = pexec(t, "BEGIN", why, whylen), n;

	if (r == 0)
		r = pexec(t, lock, why, whylen);
	free(lock);
	if (r == 0 && count_relations(t, t->schema, &n, why, whylen) == -1)
		r = -1;
	else if (r == 0 && n) {
		if (t->schema)
			snprintf(why, whylen, "schema %s has tables now, made "
			    "while this restore ran", t->schema);
		else
			snprintf(why, whylen, "the database has tables now, "
			    "made while this restore ran");
		r = -1;
	}
	for (size_t k = 0; r == 0 && k < t->nstage; k++) {
		char *s = stage_name(t, k);
		char *qs = gb_quote_ident(s), *qt = gb_quote_ident(t->target[k]);
		char *sql = gb_asprintf("CREATE SCHEMA IF NOT EXISTS %s", qt);
		const char *params[] = { s };
		PGresult *res;

		r = pexec(t, sql, why, whylen);
		free(sql);
		res = PQexecParams(t->c.conn, "SELECT c.relname FROM pg_class c "
		    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
		    "n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY 1", 1,
		    NULL, params, NULL, NULL, 0);
		if (r == 0 && PQresultStatus(res) != PGRES_TUPLES_OK) {
			conn_msg(&t->c, res, why, whylen);
			r = -1;
		}
		for (int i = 0; r == 0 && i < PQntuples(res); i++) {
			char *qr = gb_quote_ident(PQgetvalue(res, i, 0));
			sql = gb_asprintf("ALTER TABLE %s.%s SET SCHEMA %s", qs, qr,
			    qt);
			r = pexec(t, sql, why, whylen);
			free(sql);
			free(qr);
		}
		PQclear(res);
		sql = gb_asprintf("DROP SCHEMA %s", qs);
		if (r == 0)
			r = pexec(t, sql, why, whylen);
		free(sql);
		free(qs);
		free(qt);
		free(s);
	}
	if (r == 0)
		return pexec(t, "COMMIT", why, whylen);
	PQclear(PQexec(t->c.conn, "ROLLBACK"));
	return -1;
}

/*
 * Keys and indexes, then the move into place; the restore test's staging
 * is dropped instead.
 */
static int
finish(void *arg, char *err, size_t errlen)
{
	struct pgt *t = arg;
	char why[512];

	if (apply_incr(t, NULL, err, errlen) == -2 ||
	    make_keys(t, err, errlen) == -2)
		return -2;
	if (t->scratch) {
		if (drop_stages(t, err, errlen) == -2)
			return -2;
	} else if (move_into_place(t, why, sizeof why) == -1) {
		snprintf(err, errlen, "%s: %s; nothing restored", t->name, why);
		return -2;
	}
	t->finished = 1;
	return 0;
}

/* Workers stopped (a COPY open is abandoned) and their connections shut. */
static void
stop_workers(struct pgt *t)
{
	pthread_mutex_lock(&t->lock);
	t->stop = 1;
	pthread_cond_broadcast(&t->work);
	pthread_mutex_unlock(&t->lock);
	for (size_t i = 0; i < t->nw; i++) {
		pthread_join(t->w[i].tid, NULL);
		gb_pg_close(t->w[i].c.p);
	}
	t->nw = 0;
	while (t->head) {
		struct job *j = t->head;
		t->head = j->next;
		job_free(j);
	}
}

/* The target open now, for the way out through gb_errx. */
static struct pgt *open_pgt;

/*
 * Leaving without finish (gb_errx, exit): the staging schemas go.  When
 * that cannot be done (the server gone) or the process is killed, the
 * next restore into the database drops them (reap).
 */
static void
cleanup_at_exit(void)
{
	struct pgt *t = open_pgt;
	char err[1024];

	if (!t || t->finished)
		return;
	stop_workers(t);
	if (PQstatus(t->c.conn) != CONNECTION_OK)
		PQreset(t->c.conn);
	if (PQtransactionStatus(t->c.conn) != PQTRANS_IDLE)
		PQclear(PQexec(t->c.conn, "ROLLBACK"));
	drop_stages(t, err, sizeof err);
	t->finished = 1;
}

static void
close_target(void *arg)
{
	struct pgt *t = arg;

	cleanup_at_exit();
	open_pgt = NULL;
	stop_workers(t);
	gb_pg_close(t->c.p);
	for (size_t i = 0; i < t->nlate; i++) {
		free(t->late[i].rel);
		free(t->late[i].path);
		free(t->late[i].stmt);
	}
	free(t->late);
	for (size_t i = 0; i < t->nfinal; i++)
		free(t->final[i]);
	free(t->final);
	for (size_t i = 0; i < t->nincr; i++)
		incr_free(&t->incr[i]);
	free(t->incr);
	for (size_t i = 0; i < t->ntables; i++) {
		free(t->tables[i]->name);
		free(t->tables[i]->rel);
		free(t->tables[i]->head);
		free(t->tables[i]);
	}
	free(t->tables);
	gb_free_strv(t->target);
	free(t->w);
	free(t->schema);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->work);
	pthread_cond_destroy(&t->done);
	free(t);
}

/* A worker's connection. */
static int
setup_conn(struct pgt *t, struct conn *c, const char *conninfo, char *err,
    size_t errlen)
{
	char why[512];

	c->p = gb_pg_open(conninfo, 30);
	c->conn = gb_pg_conn(c->p);
	/*
	 * '...' as SCHEMA.sql was lexed: a backslash is a backslash.  The
	 * staging's commits need not wait for the disk: the move into
	 * place, on the control connection, waits, and WAL is written in
	 * order, so it never lasts without them.  The workers build
	 * several indexes at once: a build's own parallel workers on top
	 * took a third more CPU for no less time.
	 */
	if (cexec(c, "SET standard_conforming_strings = on", why,
	    sizeof why) == -1 || cexec(c, "SET synchronous_commit = off",
	    why, sizeof why) == -1 || cexec(c, "SET "
	    "max_parallel_maintenance_workers = 0", why, sizeof why) == -1) {
		snprintf(err, errlen, "%s: %s", t->name, why);
		return -2;
	}
	return 0;
}

/*
 * Worker connections: $GB_THREADS, else one per core up to WORKERS_MAX
 * (gb_threads); without GB_THREADS more than cores on a small machine,
 * where a worker often waits (for rows, for a lock, for its COPY's end)
 * while the others keep the server busy.
 */
static size_t
workers_wanted(void)
{
	const char *env = getenv("GB_THREADS");
	int n = gb_threads(0, WORKERS_MAX);

	return !(env && *env) && n < WORKERS_MIN ? WORKERS_MIN : (size_t)n;
}

/*
 * GB_RESTORE_SPILL: never, always (tests), else when a COPY lags and
 * there is more than one core: on one, the spill is only more work.
 */
static int
spill_wanted(void)
{
	const char *env = getenv("GB_RESTORE_SPILL");

	if (env && strcmp(env, "never") == 0)
		return -1;
	if (env && strcmp(env, "always") == 0)
		return 1;
	return sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 0 : -1;
}

int
gb_restore_pg_open(struct gb_target *tg, const char *conninfo,
    const char *schema, int scratch, char *err, size_t errlen)
{
	struct pgt *t = gb_calloc(1, sizeof *t);
	char why[512], *sql;
	size_t nw;
	int n;

	*tg = (struct gb_target){ t, schema_sql, load, deletes, rows, dump, finish,
	    close_target };
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->work, NULL);
	pthread_cond_init(&t->done, NULL);
	t->tail = &t->head;
	t->target = gb_calloc(1, sizeof *t->target);
	t->c.p = gb_pg_open(conninfo, 30);
	t->c.conn = gb_pg_conn(t->c.p);
	t->name = gb_pg_name(t->c.p);
	t->scratch = scratch;
	if (getrandom(&t->id, sizeof t->id, 0) != sizeof t->id) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -2;
	}
	if (reap(t, err, errlen) == -2)
		return -2;
	/* held while this restore runs: its staging is not reaped */
	sql = gb_asprintf("SELECT pg_advisory_lock(%d, %" PRId32 ")", LOCK_KEY,
	    (int32_t)t->id);
	n = pexec(t, sql, why, sizeof why);
	free(sql);
	if (n == -1 || cexec(&t->c, "SET standard_conforming_strings = on",
	    why, sizeof why) == -1) {
		snprintf(err, errlen, "%s: %s", t->name, why);
		return -2;
	}
	if (scratch)
		t->schema = gb_strdup("gb_restore_test");	/* never made */
	else if (schema) {
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
	open_pgt = t;
	atexit(cleanup_at_exit);
	nw = workers_wanted();
	t->w = gb_calloc(nw, sizeof *t->w);
	for (size_t i = 0; i < nw; i++) {
		struct worker *w = &t->w[i];
		w->t = t;
		if (setup_conn(t, &w->c, conninfo, err, errlen) == -2) {
			gb_pg_close(w->c.p);
			return -2;
		}
		if (gb_thread_create(&w->tid, worker, w) != 0) {
			snprintf(err, errlen, "cannot start a thread: %s",
			    strerror(errno));
			gb_pg_close(w->c.p);
			return -2;
		}
		t->nw++;
	}
	/* with one connection, the next table's rows wait for it anyway */
	t->spill = nw > 1 ? spill_wanted() : -1;
	return 0;
}
