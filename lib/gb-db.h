/*
 * gb-db.h - databases: the catalog (catalog.c), its checkpoints
 * (checkpoint.c), its report (report.c) and the auditor's (audit.c), SQL
 * text (sql.c), the sources (sqlite.c, pg.c) and the restore targets
 * (restore-sqlite.c, restore-pg.c).
 */
#ifndef GB_DB_H
#define GB_DB_H

#include <setjmp.h>
#include <sqlite3.h>

#include "gb.h"

struct gb_seal;

/*
 * catalog.c: the catalog database (gb-catalog(1), share/catalog.sql).
 * Errors end the program with GB_EXIT_RUN naming the catalog.
 */
struct pg_conn;
struct gb_catalog {
	sqlite3 *db;		/* SQLite: a file */
	struct pg_conn *pg;	/* or PostgreSQL: a connection string */
	char *path;		/* the file, or the connection string */
	char *site;		/* whose rows and audit chain it writes */
	int readonly;	/* opened to read only: no transactions */
	int version;	/* of the schema found (0: none, made) */
	char sqlstate[6];	/* PostgreSQL: of the last error */
	int retryable;	/* that error: the transaction may be run again */
	jmp_buf *retry;	/* in gb_catalog_txn: back to its start */
	int opened;	/* opened: GB_CATALOG_FAIL_ONCE, the site's lock wait */
	int dry_run;	/* gb_catalog_txn rolls back: what it would do */
};
#define GB_CATALOG_VERSION 3	/* of share/catalog.sql */
/*
 * $GB_CATALOG, else [catalog] uri or path (both: exit 2), else NULL; a
 * connection string with a password in it: exit 2.
 */
const char *gb_catalog_path(const struct gb_conf *conf);
/* A PostgreSQL connection string (postgresql://..., key=value ...)? */
int gb_catalog_is_uri(const char *s);
/*
 * GB_CATALOG_READ never writes (a read-only file, directory or mount will
 * do; a missing catalog is an error); GB_CATALOG_ANY writes (and makes)
 * it when it can, and reads it otherwise; GB_CATALOG_WRITE is
 * gb_catalog_open.  A new catalog is made, an old SQLite one upgraded, as
 * it is opened to write; an old PostgreSQL one only by GB_CATALOG_UPGRADE
 * (gb-catalog upgrade).  site: the writer's ([site] name, gb_site_name).
 */
enum { GB_CATALOG_WRITE, GB_CATALOG_READ, GB_CATALOG_ANY,
    GB_CATALOG_UPGRADE };
struct gb_catalog *gb_catalog_open_as(const char *path, const char *site,
    int mode);
struct gb_catalog *gb_catalog_open(const char *path, const char *site);
void gb_catalog_close(struct gb_catalog *c);
/*
 * db.c: the connection.  SQL text without parameters, one statement or
 * more.
 */
void gb_catalog_exec(struct gb_catalog *c, const char *sql);
/* After a failed commit: a new connection, as the next tool reads it. */
struct gb_catalog *gb_catalog_reopen(struct gb_catalog *c);
/*
 * Runs fn(c, arg) as one write transaction, begun (SQLite: BEGIN
 * IMMEDIATE; PostgreSQL: with the site's lock, so a site's writers
 * queue) and committed; the only way to write the catalog.  On
 * PostgreSQL a failure another attempt may not meet (serialization
 * failure 40001, deadlock 40P01, two writers of a site's audit chain:
 * 23505 on audit) rolls it back and runs it again from its start, up to
 * GB_CATALOG_TRIES times; so fn does catalog work only (or work it may
 * do again: gb-write's label), and may run more than once.  Any other
 * error ends the program, the transaction rolled back (never half of
 * it).  gb_catalog_try_txn: -1, rolled back, with
 * the reason in err, when the COMMIT fails (gb-write's good copy).
 */
#define GB_CATALOG_TRIES 10
void gb_catalog_txn(struct gb_catalog *c,
    void (*fn)(struct gb_catalog *, void *), void *arg);
int gb_catalog_try_txn(struct gb_catalog *c,
    void (*fn)(struct gb_catalog *, void *), void *arg, char *err,
    size_t errlen);
/*
 * What fn says, to standard output or as gb_warnx: said once the
 * transaction is over, so once however often fn runs, and not at all
 * when it fails; said at once outside a transaction.
 */
void gb_catalog_printf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
void gb_catalog_warnx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* Closes the connection, whatever its state: 0, or -1 and why. */
int gb_catalog_disconnect(struct gb_catalog *c, char *err, size_t errlen);
/*
 * The schema: made at this version, in the open transaction; the tables
 * and columns there are (old: of an upgrade's tables set aside),
 * NULL-ended lists freed by gb_list_free; a table's columns as the SELECT
 * list of its rows named a, its site the expression given.
 */
void gb_catalog_create(struct gb_catalog *c);
int gb_catalog_has_table(struct gb_catalog *c, const char *table);
char **gb_catalog_columns(struct gb_catalog *c, const char *table, int old);
char *gb_catalog_select_at(struct gb_catalog *c, const char *table,
    const char *site);
void gb_list_free(char **v);
int gb_list_has(char *const *v, const char *s);
/*
 * migrate.c: an older catalog brought to this version in place, in the
 * open transaction (gb_catalog_open_as does it); a SQLite catalog copied
 * into an empty PostgreSQL one in one transaction, its chains checked
 * (gb-catalog migrate; an exit status).
 */
void gb_catalog_upgrade(struct gb_catalog *c);
int gb_catalog_migrate(struct gb_catalog *from, struct gb_catalog *to);
/*
 * db.c: the catalog's statements, the same on SQLite and PostgreSQL.
 * Parameters are written ?1, ?2...; an error ends the program
 * (gb_catalog_fail).  A PostgreSQL SELECT is read through a cursor, a few
 * hundred rows at a time.
 */
struct gb_stmt;
enum { GB_DONE = 0, GB_ROW = 1 };
struct gb_stmt *gb_catalog_prepare(struct gb_catalog *c, const char *sql);
void gb_bind_text(struct gb_stmt *st, int i, const char *v);	/* copied */
void gb_bind_int64(struct gb_stmt *st, int i, long long v);
void gb_bind_null(struct gb_stmt *st, int i);
int gb_step(struct gb_stmt *st);	/* GB_ROW or GB_DONE */
void gb_reset(struct gb_stmt *st);	/* to run it again; bindings kept */
void gb_finalize(struct gb_stmt *st);
const char *gb_col(struct gb_stmt *st, int i);	/* "" for NULL */
const char *gb_col_text(struct gb_stmt *st, int i);	/* NULL for NULL */
long long gb_col_int64(struct gb_stmt *st, int i);
double gb_col_double(struct gb_stmt *st, int i);
int gb_col_null(struct gb_stmt *st, int i);
long long gb_changes(struct gb_stmt *st);	/* rows its last run changed */
int gb_catalog_is_pg(const struct gb_catalog *c);
/* A statement with n text parameters (NULL binds NULL), no result rows. */
void gb_catalog_run(struct gb_catalog *c, const char *sql, int n, ...);
_Noreturn void gb_catalog_fail(struct gb_catalog *c, const char *what);
/* Appends to the site's audit trail, inside the caller's transaction. */
void gb_catalog_audit(struct gb_catalog *c, const char *action,
    const char *object, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/*
 * The audit trail of a site (each site has its own chain): 0 when it
 * verifies whole, else -1 and why; *n the entries that verify (the
 * whole trail, or those before the first that does not), head the hash
 * of the last of them ("0" for none; 65 bytes).
 */
int gb_catalog_audit_head(struct gb_catalog *c, const char *site,
    long long *n, char *head, char *err, size_t errlen);
/* The hash stored for entry seq ("0" for 0); -1 when there is none. */
int gb_catalog_audit_hash_at(struct gb_catalog *c, const char *site,
    long long seq, char hash[65]);
long long gb_catalog_audit_count(struct gb_catalog *c, const char *site);
/*
 * Records a checkpoint issued (gb-checkpoint(5)): its signed text and
 * where it went (medium NULL: a file, place its path).  Its own
 * transaction.
 */
void gb_catalog_record_checkpoint(struct gb_catalog *c, long long entries,
    const char *head, const char *issued, const char *medium,
    const char *place, const char *text);
/*
 * checkpoint.c: a checkpoint of the catalog's trail (its part that
 * verifies), issued for site (and medium, or NULL) and signed by the
 * secret key of signer: 0, or -1 and why (no key, cannot sign).
 */
struct gb_checkpoint;
int gb_checkpoint_issue(struct gb_checkpoint *k, struct gb_catalog *c,
    const char *site, const char *signer, const char *medium, char *err,
    size_t errlen);
/*
 * Is the verified checkpoint k a prefix of the catalog's trail: as many
 * entries at least, all of them in the part that verifies (verified and
 * broken: the count and why of gb_catalog_audit_head, broken NULL for a
 * whole trail), the same hash at its count?  0, or -1 and why.
 */
int gb_checkpoint_check(struct gb_catalog *c, long long verified,
    const char *broken, const struct gb_checkpoint *k, char *why,
    size_t whylen);
void gb_now(char buf[21]);
const char *gb_actor(void);	/* who runs this: $SUDO_USER or the user */
/*
 * Records a sealed archive and its tables (once; 1 if new), inside the
 * caller's transaction.
 */
struct gb_seal;
void gb_catalog_add_medium(struct gb_catalog *c, const struct gb_conf *conf,
    const char *id, const char *kind, const char *pool, long long capacity,
    const char *device);
int gb_catalog_record_archive(struct gb_catalog *c, const struct gb_seal *s,
    const char *seal_text, const char *job);
/*
 * A verification ("verify", "deep-verify") or restore test
 * ("restore-test") of an archive, on a medium or not; a good check of a
 * copy also marks the copy verified.  Its own transaction.
 */
void gb_catalog_record_check(struct gb_catalog *c, const char *kind,
    const char *archive, const char *medium, int ok, const char *detail,
    const char *at);	/* at: NULL for now */
/* The same inside the caller's transaction, at a time (not NULL). */
void gb_catalog_add_check(struct gb_catalog *c, const char *kind,
    const char *archive, const char *medium, int ok, const char *detail,
    const char *at, int manual);
/* The same, told by a person (gb-catalog tested, verified): manual. */
void gb_catalog_record_by_hand(struct gb_catalog *c, const char *kind,
    const char *archive, const char *medium, int ok, const char *detail,
    const char *at);
/*
 * The chains current at time at (a catalog timestamp): for each job (of
 * jobs, or every job when njobs is 0) of the site (NULL: of every row the
 * role reads, as one) the newest unexpired full at or before at, then the
 * incrementals resting on it up to at, in order.  gb-catalog chain shows
 * them, gb-restore --at restores them.
 */
struct gb_link {
	char *job, *name, *level, *snapshot, *site;
};
struct gb_link *gb_catalog_chains(struct gb_catalog *c, const char *site,
    const char *at, const char *const *jobs, size_t njobs, size_t *n);
void gb_links_free(struct gb_link *v, size_t n);
/*
 * The good copies of an archive of a site, but those on the media skip
 * names: "T1 (offsite), U2 (onsite)"; NULL when there are none.
 */
char *gb_catalog_where(struct gb_catalog *c, const char *site,
    const char *archive, const char *const *skip, size_t nskip);
/* "2026-11-24" (all that day) or a UTC timestamp into out; -1 if neither. */
int gb_parse_date(const char *s, char out[21]);

/*
 * report.c: the quarterly assessment (gb-catalog(1) GROWTH REPORT) of the
 * catalog as of now (a UTC timestamp), with the pools' rotation and the
 * jobs' schedules from the config: of one site, or of every site of
 * sites (nsites > 0), a summary first.  Text and CSV to stdout or o; HTML
 * to path, whole or not at all.  Each returns an exit status.
 */
struct gb_report_pool {
	const char *name;
	int offsite;
	long offsite_days;	/* 0: no due date */
};
struct gb_report_job {
	const char *name, *pool, *schedule;
};
struct gb_report {
	struct gb_catalog *c;
	const char *catalog;	/* its path, named on the page */
	const char *now;
	int raw;		/* sizes in bytes */
	const char *site;	/* the site reported (NULL: every row) ... */
	int named;		/* ... and named (--site) */
	char **sites;		/* or these, each after a summary of them */
	size_t nsites;
	const char *own;	/* the config's site: the jobs are its */
	struct gb_report_pool *pools;
	size_t npools;
	struct gb_report_job *jobs;
	size_t njobs;
};
/*
 * The sites of the catalog's rows, and also (when not NULL), in byte
 * order, NULL after them (gb_free_strv): on PostgreSQL, those the role
 * may read (a site's own, or every site for head office).
 */
char **gb_catalog_sites(struct gb_catalog *c, const char *also, size_t *n);
/*
 * SQL: is the column col of the site ?n, or is ?n NULL (a view of every
 * row the role may read)?
 */
#define GB_OF_SITE(col, n) "(?" #n " IS NULL OR " col " = ?" #n ")"
/*
 * SQL: is the medium m (an alias of media) the one the copy c holds?
 * Labels are per site, so it is the medium of the copy's site (the site
 * that wrote it owned the medium then), or, when that site has none of
 * that id now, the one that moved to another site.
 */
/*
 * Archives in time, dir "" (oldest first) or "DESC": by snapshot, then in
 * the order they were recorded (the first copy's id: an archive is
 * recorded with its first copy), for archives of one second.
 */
#define GB_ARCHIVE_ORDER(a, dir) a ".snapshot " dir ", " a ".recorded_at " \
    dir ", coalesce((SELECT min(k.id) FROM copies k WHERE k.site = " a \
    ".site AND k.archive = " a ".name), 0) " dir ", " a ".name " dir
#define GB_COPY_MEDIUM(c, m) m ".id = " c ".medium AND (" m ".site = " c \
    ".site OR NOT EXISTS (SELECT 1 FROM media o WHERE o.site = " c ".site " \
    "AND o.id = " c ".medium))"
int gb_report_text(const struct gb_report *r);
int gb_report_csv(const struct gb_report *r, struct gb_out *o);
int gb_report_html(const struct gb_report *r, const char *path);

/*
 * audit.c: the auditor's questions (gb-catalog(1) audit), printed on
 * stdout; each returns an exit status.  The trail's chain; each signed
 * checkpoint on the media or in the files (gb_checkpoints_read) verified
 * against the pinned signer, of the site (when not NULL), and held
 * against the trail; the report of the period from..to (UTC timestamps),
 * from the seals and checkpoints verified against the signer, as text or
 * CSV, clear-signed when its secret key is at hand.
 */
int gb_audit_verify(struct gb_catalog *c);
int gb_audit_checkpoints(struct gb_catalog *c, const char *signer,
    const char *site, int argc, char **argv);
struct gb_audit_report {
	struct gb_catalog *c;
	const char *signer, *site, *now, *from, *to;
	int csv;
};
int gb_audit_report(const struct gb_audit_report *r);

/*
 * sql.c: SQL as text, both dialects.  Errors return -1 and why.
 */
/* An SQL identifier in double quotes, quotes within doubled (malloc'd). */
char *gb_quote_ident(const char *name);
/* "schema"."table", both parts quoted (malloc'd). */
char *gb_sql_rel(const char *schema, const char *table);
/* A MANIFEST's key "a,b" as "a", "b" (malloc'd; "" for none). */
char *gb_sql_keys(const char *key);
/* SELECT count(*) of rel, or of its rows with wm_column > param. */
char *gb_sql_count(const char *rel, const char *wm_column, const char *param);
/* Past white space and SQL comments. */
const char *gb_sql_skip(const char *s);
/*
 * The catalog's SQL for PostgreSQL: ?N as $N and ? as the next $N where
 * ? is a token, not inside a string (E'' and $tag$ too), a quoted name or
 * a comment; *max gets the highest parameter number.  A parameter only
 * tested for NULL has no type the server can infer: "?N IS [NOT] NULL"
 * is text (the catalog's optional filters are names and times).
 */
char *gb_sql_pg_params(const char *sql, int *max);
/* SQLite's affinity of a declared type: i, t, b (or none), r, n. */
char gb_sql_affinity(const char *decl);
/* The "-- sqlite: " lines of a PostgreSQL SCHEMA.sql, prefix removed. */
char *gb_pg_sqlite_ddl(const char *schema_sql);
/* Its inverse: the lines of s, each after "-- sqlite: ", into o. */
void gb_pg_put_lite(struct gb_out *o, const char *s);
/*
 * SCHEMA.sql as the export writes it, and only that (gb_ddl_parse, pg 1
 * for PostgreSQL's dialect): CREATE TABLE name (...) [WITHOUT ROWID]
 * [STRICT]; CREATE VIRTUAL TABLE name USING fts5(...) with its own content;
 * CREATE [UNIQUE] INDEX name ON table ...; PostgreSQL's also CREATE
 * SCHEMA IF NOT EXISTS name and SET search_path = name.  Any other
 * statement is refused with -1 and why, naming it.
 */
enum { GB_DDL_TABLE = 1, GB_DDL_VTABLE, GB_DDL_INDEX, GB_DDL_SCHEMA,
    GB_DDL_PATH };
struct gb_ddl {
	int kind;
	char *text;		/* the statement, without its ';' */
	size_t at;		/* where its name starts in text */
	char *name;		/* what it makes (PATH: the schema), unquoted */
	char *on;		/* INDEX: the table it is on, unquoted */
};
int gb_ddl_parse(int pg, const char *sql, size_t len, struct gb_ddl **v,
    size_t *n, char *err, size_t errlen);
void gb_ddl_free(struct gb_ddl *v, size_t n);
/* The statement with IF NOT EXISTS before its name (malloc'd). */
char *gb_ddl_if_not_exists(const struct gb_ddl *d);
/*
 * Runs the tables (indexes 0; -1: into a fresh database, where a table
 * already there is refused) or the indexes (1), each one statement.
 */
int gb_sqlite_ddl_run(sqlite3 *db, const struct gb_ddl *v, size_t n,
    int indexes, char *err, size_t errlen);
/*
 * What gb-restore refuses of a SCHEMA.sql; gb-verify --deep calls it too.
 * A PostgreSQL export's "-- sqlite: " lines are always parsed, and run in
 * SQLite only into_sqlite.  0, or -1 with why.
 */
int gb_schema_check(const struct gb_manifest *m, const char *sql, size_t len,
    int into_sqlite, char *err, size_t errlen);

/*
 * sqlite.c: the SQLite source.  Database errors end the program with
 * GB_EXIT_RUN and a message naming the database (and table).
 */
struct gb_sqlite;
struct gb_tinfo {
	char *name;
	char **cols;		/* column names, in table order */
	size_t ncols;
	char **pk;		/* primary key columns, in key order */
	size_t npk;
	int rowid;		/* rows have a rowid to order by ... */
	const char *rowid_name;	/* ... by this name: the first of _rowid_,
				   rowid, oid that no column takes */
	int rowid_key;		/* the one key column is the rowid itself (or,
				   PostgreSQL, an integer: gb_pg_tinfo) */
	int fts5;		/* an FTS5 table: cols[0] is its rowid */
};
struct gb_dump {
	const char *wm_column;	/* export rows with wm_column > wm_from ... */
	const char *wm_type;	/* ... compared as integer, real or text */
	const char *wm_from;	/* NULL: every row */
	char **money;		/* money columns to sum (integer cents) */
	size_t nmoney;
	/*
	 * A table split for threads (SQLite, ordered by rowid; PostgreSQL,
	 * by its one integer key): this part reads rowids (keys) lo to hi,
	 * both included; parts after the first write no header line.
	 */
	int ranged, part;
	int64_t lo, hi;
	/*
	 * Rows in the order of these columns (NULL: the primary key's), text
	 * in bytes (BINARY, COLLATE "C"); with delta, each row goes through
	 * it (state.c) instead of straight into the output.
	 */
	char **key;
	size_t nkey;
	struct gb_delta *delta;
};
/* Read only, through the VFS named (NULL: the default). */
struct gb_sqlite *gb_sqlite_open(const char *path, int wait_seconds,
    const char *vfs);
void gb_sqlite_close(struct gb_sqlite *db);
/* Starts the read transaction all later reads share: one instant. */
void gb_sqlite_snapshot(struct gb_sqlite *db);
/*
 * Opens up to n connections on one snapshot, for exporting tables in
 * parallel; returns how many (1 when they cannot be lined up).
 */
int gb_sqlite_snapshots(struct gb_sqlite **conns, int n, const char *path,
    int wait_seconds);
/* User tables in name order; a NULL-terminated array. */
char **gb_sqlite_tables(struct gb_sqlite *db);
/* 0, or -1 when there is no such table. */
int gb_sqlite_tinfo(struct gb_sqlite *db, const char *table,
    struct gb_tinfo *ti);
void gb_tinfo_free(struct gb_tinfo *ti);
/* About how many rows a table holds, cheaply; 0 when it cannot tell. */
/* The lowest and highest rowid of a table; -1 if it has none. */
int gb_sqlite_rowids(struct gb_sqlite *db, const struct gb_tinfo *ti,
    int64_t *min,
    int64_t *max);
/* Column index by name, exact, else as SQLite compares identifiers; or -1. */
int gb_tinfo_column(const struct gb_tinfo *ti, const char *name);

/* CREATE statements of the tables and their indexes. */
void gb_sqlite_schema(struct gb_sqlite *db, char *const *tables, size_t n,
    struct gb_out *o);
/* Writes the table's CSV; fills rows and money sums of mt. */
void gb_sqlite_dump(struct gb_sqlite *db, const struct gb_tinfo *ti,
    const struct gb_dump *d, struct gb_out *o, struct gb_mtable *mt);
/*
 * Highest watermark value above from (every value when from is NULL), as
 * text with its type; *value NULL when there is none.
 */
void gb_sqlite_wm_max(struct gb_sqlite *db, const char *table,
    const char *column, const char *from_type, const char *from,
    char **type, char **value);
void gb_free_strv(char **v);

/*
 * state.c: exact incrementals (gb-export -S).  A key part as the source
 * has it; the merge compares them as SQLite orders them (NULL, numbers,
 * text and blobs in bytes), PostgreSQL's NULLs (GB_K_LAST) last.
 */
enum { GB_K_NULL = 'n', GB_K_INT = 'i', GB_K_REAL = 'r', GB_K_TEXT = 't',
    GB_K_BLOB = 'b', GB_K_LAST = 'z' };
struct gb_kval {
	int type;
	int64_t i;
	double r;
	const char *p;
	size_t n;
};
#define GB_STATE_KEY 32
/* The digest key of the state directory dir, made (0600) at its first use. */
int gb_state_key(const char *dir, unsigned char key[GB_STATE_KEY], char *err,
    size_t errlen);
/*
 * Is the state at path (its segments path, path.1, ...) whole, of this
 * key, made for its place ("ID/FILE": the export and the table's file)
 * with keycols, and does it cover every key?
 */
int gb_state_usable(const char *path, const unsigned char key[GB_STATE_KEY],
    const char *place, const char *keycols, char *err, size_t errlen);
/*
 * One table's merge, or one part's: the rows whose key's first part is
 * an integer from lo to hi (INT64_MIN, INT64_MAX: no bound).  Rows come
 * in key order into gb_delta_buf (the header first, then gb_delta_head),
 * each then given with its key to gb_delta_row and its money added to
 * gb_delta_sums.  Changed and new rows go to o and count in mt (rows,
 * money), every row also to all when given (the whole table's SHA-256);
 * with an old state, keys in the range no longer there go to del as CSV,
 * counted in mt->del.  The new state, a segment of that range for its
 * place (as gb_state_usable), goes to newfd.  finish writes the rest of the deletes and the new state (0, or
 * -1 + errno), and with totals the range's rows and sums into mt.
 */
struct gb_delta;
struct gb_delta *gb_delta_open(const char *table, const char *oldpath,
    int newfd, const unsigned char key[GB_STATE_KEY], const char *place,
    const char *keycols, size_t nkey, int64_t lo, int64_t hi, struct gb_out *o, struct gb_out *del,
    struct gb_out *all, struct gb_mtable *mt, size_t nmoney);
struct gb_out *gb_delta_buf(struct gb_delta *d);
struct gb_money *gb_delta_sums(struct gb_delta *d);
void gb_delta_head(struct gb_delta *d);
void gb_delta_row(struct gb_delta *d, const struct gb_kval *k);
int gb_delta_finish(struct gb_delta *d, int totals);

/*
 * ---- pg.c: PostgreSQL, as a source, and its connection (libpq) ----
 *
 * A source or target is a libpq connection string: a URI (postgresql://,
 * postgres://) or key=value pairs.  One holding a password is refused:
 * passwords come from ~/.pgpass or PGPASSFILE.  Tables are named
 * schema.table, always; a part holding '.' or '"' (or empty) is written
 * in double quotes with quotes doubled: public."odd.name".
 *
 * The source API mirrors sqlite.c: errors end the program with
 * GB_EXIT_RUN (GB_EXIT_USAGE for a bad connection string) and a message
 * naming the database, as host/port/dbname, and the table.
 */
struct gb_pg;
int gb_pg_is_conninfo(const char *s);
struct gb_pg *gb_pg_open(const char *conninfo, int wait_seconds);
void gb_pg_close(struct gb_pg *p);
/* host/port/dbname: the manifest's source name; never a password. */
const char *gb_pg_name(const struct gb_pg *p);
/* BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; the snapshot taken. */
void gb_pg_snapshot(struct gb_pg *p);
/*
 * The snapshot on conns[0], open, and up to n - 1 more connections to
 * conninfo on the same snapshot (pg_export_snapshot); returns how many
 * (fewer, with a warning, when the server allows no more).
 */
int gb_pg_snapshots(struct gb_pg **conns, int n, const char *conninfo,
    int wait_seconds);
/*
 * gb-restore's staging schemas, gb_restore_ID_K: never user data, so never
 * exported (and never locked by an export, which would hold the restore).
 */
#define GB_PG_STAGE_RE "^gb_restore_[0-9a-f]{8}_[0-9]+$"
/* User tables as schema.table, in name order; each is locked ACCESS SHARE. */
char **gb_pg_tables(struct gb_pg *p);
/* The tables locked ACCESS SHARE in p's transaction. */
void gb_pg_lock(struct gb_pg *p, char *const *tables, size_t n);
/* rowid_key set: the key is one integer column (gb_pg_rowids splits it). */
int gb_pg_tinfo(struct gb_pg *p, const char *table, struct gb_tinfo *ti);
/* The lowest and highest key of a rowid_key table; -1 if none or empty. */
int gb_pg_rowids(struct gb_pg *p, const struct gb_tinfo *ti, int64_t *min,
    int64_t *max);
/* PostgreSQL DDL, with the SQLite dialect in "-- sqlite: " lines. */
void gb_pg_schema(struct gb_pg *p, char *const *tables, size_t n,
    struct gb_out *o);
/* COPY (SELECT ...) TO STDOUT, rewritten into the export CSV dialect. */
void gb_pg_dump(struct gb_pg *p, const struct gb_tinfo *ti,
    const struct gb_dump *d, struct gb_out *o, struct gb_mtable *mt);
void gb_pg_wm_max(struct gb_pg *p, const char *table, const char *column,
    const char *from_type, const char *from, char **type, char **value);

/* Names: "schema.table" made and split (0, or -1: not of that form). */
char *gb_pg_qualname(const char *schema, const char *table);
int gb_pg_splitname(const char *name, char **schema, char **table);
/*
 * The name a PostgreSQL table takes where there are no schemas (SQLite):
 * its table part, or its whole name when another of names has the same
 * table part.
 */
char *gb_pg_flatname(const char *name, char *const *names, size_t n);

/*
 * For restore-pg.c: the connection under it, and a result's error message
 * (or, res NULL, the connection's) on one line, in a static buffer.
 */
struct pg_conn;
struct pg_result;
struct pg_conn *gb_pg_conn(struct gb_pg *p);
const char *gb_pg_msg(struct gb_pg *p, const struct pg_result *res);
int gb_pg_server_version(const struct gb_pg *p);

/*
 * ---- restore-sqlite.c, restore-pg.c: the targets of a restore ----
 *
 * gb-restore reads the archives and drives a target through these calls,
 * chosen once when it is opened (as bsdtar's reader drives the writer it
 * is given).  In order: schema (SCHEMA.sql, already held to what the
 * export writes by gb_schema_check: tables now, indexes kept for finish);
 * load, per table (its CSV from fn, checked against the MANIFEST as it
 * streams; an incremental's rows held until its deleted keys are gone,
 * then replacing the rows of their keys, or, change "whole", replacing the
 * table's); deletes, per table of change "delta" (its list of deleted keys
 * from fn, checked against mt->del: each key deletes exactly one row,
 * else -1; then its rows held); rows (what
 * a table holds now, past 1: only above the watermark mt was cut from; *n
 * -1 when it is not there); dump, for the drill (a table exported again
 * as gb-export does, into o); finish (indexes, then commit, the output
 * made usable; the drill's scratch rolled back); close (frees; without
 * finish nothing is kept).
 *
 * Each returns 0, or -1 (a check failed, SCHEMA.sql refused; for open: the
 * target refused, a usage error) or -2 (the target failed) with why in
 * err: schema and load name the table, gb-restore the archive; the others
 * give the whole message.  None ends the program, but through the
 * connection (gb_pg_open), the source calls dump makes (sqlite.c, pg.c)
 * and running out of memory.
 *
 * Open fills in tg even when it fails: close it.
 */
struct gb_target {
	void *t;
	int (*schema)(void *t, const struct gb_manifest *m, const char *sql,
	    size_t len, char *err, size_t errlen);
	int (*load)(void *t, const struct gb_manifest *m,
	    const struct gb_mtable *mt, gb_read_fn fn, void *arg, char *err,
	    size_t errlen);
	int (*deletes)(void *t, const struct gb_manifest *m,
	    const struct gb_mtable *mt, gb_read_fn fn, void *arg, char *err,
	    size_t errlen);
	int (*rows)(void *t, const struct gb_manifest *m,
	    const struct gb_mtable *mt, int past, int64_t *n, char *err,
	    size_t errlen);
	int (*dump)(void *t, const struct gb_manifest *m,
	    const struct gb_mtable *mt, const struct gb_dump *d,
	    struct gb_out *o, struct gb_mtable *got, char *err, size_t errlen);
	int (*finish)(void *t, char *err, size_t errlen);
	void (*close)(void *t);
};
/*
 * A new SQLite database at path, built under a temporary name and renamed
 * into place by finish; path NULL: the drill's scratch database, in a
 * directory of its own that the cleanup removes.
 */
int gb_restore_sqlite_open(struct gb_target *tg, const char *path,
    char *err, size_t errlen);
/*
 * PostgreSQL, loaded on several connections into staging schemas that
 * finish moves into place in one transaction: into a database (schema
 * NULL: tables into the schemas they came from, SQLite's into public; it
 * must have no tables), into one schema (it must have none), or (scratch)
 * into a staging schema that finish drops.  Leaving without finish drops
 * the staging; a killed restore's is dropped by the next one.
 */
int gb_restore_pg_open(struct gb_target *tg, const char *conninfo,
    const char *schema, int scratch, char *err, size_t errlen);
/*
 * gb_rename_durable, with why it failed (-2): a restore's output is kept
 * only when its rename lasts (restore-sqlite.c).
 */
int gb_restore_rename(const char *tmp, const char *path, char *err,
    size_t errlen);

#endif
