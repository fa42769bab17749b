/*
 * catalog.c - the catalog: which archive is on which medium, where that
 * medium is, the backup log, checks, and the hash-chained audit trail.
 * Short transactions and a busy timeout let several jobs share it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gb.h"
#include "gb-db.h"
#include "gb-pgp.h"

static const char catalog_sql[] =
#include "catalog-schema.inc"
    ;

#define BUSY_MS 60000

/*
 * How long to wait for a catalog another tool is writing: a minute, or
 * GB_CATALOG_TIMEOUT seconds (the tests make it short).
 */
static int
busy_ms(void)
{
	const char *v = getenv("GB_CATALOG_TIMEOUT");
	char *end;
	long s;

	if (!v || !*v)
		return BUSY_MS;
	s = strtol(v, &end, 10);
	if (*end || s < 0 || s > 86400)
		gb_errx(GB_EXIT_USAGE, "GB_CATALOG_TIMEOUT wants seconds (0 to "
		    "86400), not %s", v);
	return (int)(s * 1000);
}

_Noreturn void
gb_catalog_fail(struct gb_catalog *c, const char *what)
{
	gb_errx(GB_EXIT_RUN, "catalog %s: %s: %s", c->path, what,
	    sqlite3_errmsg(c->db));
}

const char *
gb_catalog_path(const struct gb_conf *conf)
{
	const char *p = getenv("GB_CATALOG");

	if (p && *p)
		return p;
	p = gb_conf_get(conf, "catalog", "path");
	return p && *p ? p : NULL;
}

/*
 * Columns added since version 1: a catalog made before gets them, or,
 * opened only to read, a view of each table with them (def as value).
 */
static const struct {
	const char *table, *column, *decl, *def;
} added[] = {
	{ "runs", "pid", "INTEGER", "NULL" },
	{ "runs", "host", "TEXT", "NULL" },
	{ "checks", "manual", "INTEGER NOT NULL DEFAULT 0", "0" },
};

/*
 * Tables added since version 1: the end of catalog.sql from this line on,
 * run where they are missing; opened only to read, empty TEMP tables.
 */
#define ADDED_TABLES "-- Tables added since the first catalogs"

static int
has_table(struct gb_catalog *c, const char *table)
{
	struct gb_stmt *st = gb_catalog_prepare(c, "SELECT count(*) FROM "
	    "main.sqlite_master WHERE type = 'table' AND name = ?1");
	int has;

	gb_bind_text(st, 1, table);
	has = gb_step(st) == GB_ROW && gb_col_int64(st, 0);
	gb_finalize(st);
	return has;
}

static void
add_tables(struct gb_catalog *c)
{
	const char *sql = strstr(catalog_sql, ADDED_TABLES), *p;
	char *s;

	if (!sql)
		gb_errx(GB_EXIT_RUN, "catalog schema: no \"%s\" line",
		    ADDED_TABLES);
	if (has_table(c, "checkpoints"))
		return;
	if (!c->readonly) {
		gb_catalog_exec(c, sql);
		return;
	}
	/* CREATE TABLE -> CREATE TEMP TABLE, each of them */
	s = gb_strdup("");
	while ((p = strstr(sql, "CREATE TABLE "))) {
		char *t = gb_asprintf("%s%.*sCREATE TEMP TABLE ", s, (int)(p -
		    sql), sql);
		free(s);
		s = t;
		sql = p + strlen("CREATE TABLE ");
	}
	p = s;
	s = gb_asprintf("%s%s", p, sql);
	free((char *)p);
	gb_catalog_exec(c, s);
	free(s);
}

static int
has_column(struct gb_catalog *c, const char *table, const char *column)
{
	struct gb_stmt *st = gb_catalog_prepare(c, "SELECT count(*) FROM "
	    "pragma_table_info(?1) WHERE name = ?2");
	int has;

	gb_bind_text(st, 1, table);
	gb_bind_text(st, 2, column);
	has = gb_step(st) == GB_ROW && gb_col_int64(st, 0);
	gb_finalize(st);
	return has;
}

static void
add_columns(struct gb_catalog *c)
{
	const size_t n = sizeof added / sizeof *added;

	for (size_t i = 0, k; i < n; i = k) {
		char *extra = gb_strdup(""), *sql;
		for (k = i; k < n && strcmp(added[k].table, added[i].table) == 0;
		    k++) {
			if (has_column(c, added[k].table, added[k].column))
				continue;
			if (c->readonly) {
				sql = gb_asprintf("%s, %s AS %s", extra, added[k].def,
				    added[k].column);
				free(extra);
				extra = sql;
				continue;
			}
			sql = gb_asprintf("ALTER TABLE %s ADD COLUMN %s %s",
			    added[k].table, added[k].column, added[k].decl);
			gb_catalog_exec(c, sql);
			free(sql);
		}
		/* TEMP objects come first in name lookup: the view is the table */
		if (*extra) {
			sql = gb_asprintf("CREATE TEMP VIEW %s AS SELECT *%s FROM "
			    "main.%s", added[i].table, extra, added[i].table);
			gb_catalog_exec(c, sql);
			free(sql);
		}
		free(extra);
	}
}

/* The directory a catalog is in: for messages. */
static char *
catalog_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return gb_strdup(".");
	return slash == path ? gb_strdup("/") : gb_strndup(path, (size_t)(slash -
	    path));
}

/*
 * No catalog file at path (errno e), or none could be made there: say
 * whether its directory is missing, and what to do.
 */
static _Noreturn void
no_catalog(const char *path, int e, int mode)
{
	char *dir = catalog_dir(path);
	struct stat sb;

	if (e == ENOENT && stat(dir, &sb) == -1 && errno == ENOENT)
		gb_errx(GB_EXIT_RUN, "catalog %s: its directory %s does not "
		    "exist; create it (mkdir -p %s, writable by the user who runs "
		    "the backups), or set path in the [catalog] section of the "
		    "config, or GB_CATALOG, to where the catalog is", path, dir,
		    dir);
	if (e == ENOENT && mode == GB_CATALOG_READ)
		gb_errx(GB_EXIT_RUN, "catalog %s: no such file; if the catalog "
		    "is elsewhere, set path in the [catalog] section of the config "
		    "or GB_CATALOG; a new one is made by the first gb-write --label "
		    "or gb-catalog media add", path);
	if (e == ENOENT && access(dir, W_OK) == -1)
		gb_errx(GB_EXIT_RUN, "catalog %s: cannot make it in %s: %s; run "
		    "%s as the user who may write there, or set path in the "
		    "[catalog] section of the config, or GB_CATALOG", path, dir,
		    strerror(errno), gb_progname);
	gb_errx(GB_EXIT_RUN, "catalog %s: %s; the user running %s needs "
	    "search access to %s and read access to the catalog", path,
	    strerror(e), gb_progname, dir);
}

/*
 * Opened to write, the catalog or its directory is read-only: why, and
 * what access writing needs.
 */
static _Noreturn void
cannot_write(struct gb_catalog *c)
{
	char *dir = catalog_dir(c->path), why[512];
	int fd = open(c->path, O_RDWR | O_CLOEXEC);

	if (fd == -1)
		snprintf(why, sizeof why, "%s", strerror(errno));
	else if (close(fd), access(dir, W_OK) == -1)
		snprintf(why, sizeof why, "its directory %s: %s", dir,
		    strerror(errno));
	else
		snprintf(why, sizeof why, "%s", sqlite3_errmsg(c->db));
	gb_errx(GB_EXIT_RUN, "catalog %s cannot be written (%s): %s needs write "
	    "access to it and to its directory %s, where SQLite keeps its -wal "
	    "and -shm files (the commands of "
	    "gb-catalog that only read need read access only)", c->path, why,
	    gb_progname, dir);
}

/* A URI for path with query (file: URIs escape '?', '#', '%' and more). */
static char *
catalog_uri(const char *path, const char *query)
{
	static const char hex[] = "0123456789ABCDEF";
	char *uri = gb_malloc(strlen(path) * 3 + strlen(query) + 16), *u = uri;

	u += sprintf(u, "file:");
	if (*path == '/')	/* "file:" then "//" would start an authority */
		u += sprintf(u, "//");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		if (strchr("/-_.~", *p) || (*p >= '0' && *p <= '9') ||
		    (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
			*u++ = (char)*p;
		else {
			*u++ = '%';
			*u++ = hex[*p >> 4];
			*u++ = hex[*p & 15];
		}
	sprintf(u, "?%s", query);
	return uri;
}

/* SQLite's result of reading the schema: the first read opens the WAL. */
static int
probe(struct gb_catalog *c)
{
	return sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_master", NULL,
	    NULL, NULL) & 0xff;
}

/*
 * Read-only: no lock taken, nothing made.  A catalog in WAL mode needs
 * its -shm file, which a read-only directory cannot get: then it is read
 * as immutable, which is right for a copy nobody writes.
 */
static int immutable_ok(struct gb_catalog *c);

static void
open_ro(struct gb_catalog *c)
{
	int r = SQLITE_CANTOPEN;

	for (int immutable = 0; immutable < 2 && (r == SQLITE_CANTOPEN ||
	    r == SQLITE_READONLY); immutable++) {
		char *uri;
		if (immutable && !immutable_ok(c))
			break;
		uri = catalog_uri(c->path, immutable ? "mode=ro&immutable=1" :
		    "mode=ro");
		if (c->db)
			(void)sqlite3_close_v2(c->db);
		c->db = NULL;
		if (sqlite3_open_v2(uri, &c->db, SQLITE_OPEN_READONLY |
		    SQLITE_OPEN_URI, NULL) != SQLITE_OK)
			gb_errx(GB_EXIT_RUN, "cannot open the catalog %s: %s",
			    c->path, c->db ? sqlite3_errmsg(c->db) : "out of memory");
		free(uri);
		sqlite3_busy_timeout(c->db, busy_ms());
		r = probe(c);
	}
	if (r != SQLITE_OK)
		gb_catalog_fail(c, "cannot read");
	c->readonly = 1;
}

/*
 * Immutable (no locks, no -wal read) only for what it is right for: a
 * copy in a directory nobody may write, with no -shm to read the -wal
 * through.  A -wal with changes in it is never left out unsaid: what it
 * holds may be what check must see.
 */
static int
immutable_ok(struct gb_catalog *c)
{
	char *dir = gb_strdup(c->path), *slash = strrchr(dir, '/');
	char *wal = gb_asprintf("%s-wal", c->path);
	char *shm = gb_asprintf("%s-shm", c->path);
	struct stat sb;
	int ok;

	if (slash)
		slash[slash == dir] = '\0';
	ok = access(slash ? dir : ".", W_OK) == -1 && stat(shm, &sb) == -1;
	if (ok && stat(wal, &sb) == 0 && sb.st_size > 0)
		gb_errx(GB_EXIT_RUN, "catalog %s: %s holds changes that cannot "
		    "be read in a read-only directory without %s; copy the "
		    "catalog with sqlite3 %s '.backup COPY' (which takes them "
		    "in) and read the copy", c->path, wal, shm, c->path);
	free(dir);
	free(wal);
	free(shm);
	return ok;
}

/*
 * Read-write: made if missing.  -1 when it cannot be written and mode is
 * GB_CATALOG_ANY (the caller reads it instead).
 */
static int
open_rw(struct gb_catalog *c, int mode)
{
	int r;

	if (sqlite3_open_v2(c->path, &c->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		if (c->db && (sqlite3_errcode(c->db) & 0xff) == SQLITE_CANTOPEN &&
		    access(c->path, F_OK) == -1)
			no_catalog(c->path, errno, mode);
		gb_errx(GB_EXIT_RUN, "cannot open the catalog %s: %s", c->path,
		    c->db ? sqlite3_errmsg(c->db) : "out of memory");
	}
	sqlite3_busy_timeout(c->db, busy_ms());
	/* WAL: readers never wait for a writer; FULL: a commit survives. */
	r = sqlite3_db_readonly(c->db, "main") == 1 ? SQLITE_READONLY :
	    sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) &
	    0xff;
	if (r == SQLITE_READONLY || r == SQLITE_CANTOPEN) {
		if (mode == GB_CATALOG_ANY)
			return -1;
		cannot_write(c);
	}
	if (r != SQLITE_OK)
		gb_catalog_fail(c, "cannot read");
	gb_catalog_exec(c, "PRAGMA synchronous=FULL");
	gb_catalog_exec(c, "PRAGMA foreign_keys=ON");
	chmod(c->path, 0600);
	return 0;
}

struct gb_catalog *
gb_catalog_open_as(const char *path, int mode)
{
	struct gb_catalog *c = gb_calloc(1, sizeof *c);
	struct stat sb;
	struct gb_stmt *st;
	int version = 0;

	c->path = gb_strdup(path);
	if (stat(path, &sb) == -1 && (errno != ENOENT || mode == GB_CATALOG_READ))
		no_catalog(path, errno, GB_CATALOG_READ);
	if (mode == GB_CATALOG_READ || open_rw(c, mode) == -1)
		open_ro(c);
	if (!c->readonly)
		gb_catalog_begin(c);
	st = gb_catalog_prepare(c, "PRAGMA user_version");
	if (gb_step(st) != GB_ROW)
		gb_catalog_fail(c, "cannot read");
	version = (int)gb_col_int64(st, 0);
	gb_finalize(st);
	if (version == 0 && c->readonly)
		gb_errx(GB_EXIT_RUN, "catalog %s is empty: not a gymbackup catalog, "
		    "or one no tool has written yet", path);
	if (version == 0)
		gb_catalog_exec(c, catalog_sql);
	else if (version != 1)
		gb_errx(GB_EXIT_RUN, "catalog %s: version %d is not known to "
		    "gymbackup " GB_VERSION, path, version);
	add_columns(c);
	add_tables(c);
	if (!c->readonly)
		gb_catalog_commit(c);
	return c;
}

struct gb_catalog *
gb_catalog_open(const char *path)
{
	return gb_catalog_open_as(path, GB_CATALOG_WRITE);
}

void
gb_catalog_close(struct gb_catalog *c)
{
	if (!c)
		return;
	if (sqlite3_close(c->db) != SQLITE_OK)
		gb_catalog_fail(c, "cannot close");
	free(c->path);
	free(c);
}

/*
 * A COMMIT that may fail: 0, or -1 with the transaction rolled back and
 * the reason in err.
 */
int
gb_catalog_try_commit(struct gb_catalog *c, char *err, size_t errlen)
{
	if (sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s", sqlite3_errmsg(c->db));
	if (!sqlite3_get_autocommit(c->db))
		(void)sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/*
 * After a failed commit: the connection closed whatever its state, and a
 * new one opened, which reads the catalog as the next tool will.
 */
struct gb_catalog *
gb_catalog_reopen(struct gb_catalog *c)
{
	char *path = c->path;

	(void)sqlite3_close_v2(c->db);
	free(c);
	c = gb_catalog_open(path);
	free(path);
	return c;
}

void
gb_catalog_exec(struct gb_catalog *c, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		char *m = gb_strdup(msg ? msg : "?");
		sqlite3_free(msg);
		gb_errx(GB_EXIT_RUN, "catalog %s: %s", c->path, m);
	}
}

/* IMMEDIATE: take the write lock now, so two writers queue, not fail. */
void
gb_catalog_begin(struct gb_catalog *c)
{
	gb_catalog_exec(c, "BEGIN IMMEDIATE");
}

void
gb_catalog_commit(struct gb_catalog *c)
{
	gb_catalog_exec(c, "COMMIT");
}

/* Runs a statement with text parameters (NULL binds NULL); no rows. */
void
gb_catalog_run(struct gb_catalog *c, const char *sql, int n, ...)
{
	struct gb_stmt *st = gb_catalog_prepare(c, sql);
	va_list ap;

	va_start(ap, n);
	for (int i = 1; i <= n; i++) {
		const char *v = va_arg(ap, const char *);
		if (v)
			gb_bind_text(st, i, v);
	}
	va_end(ap);
	if (gb_step(st) != GB_DONE)
		gb_catalog_fail(c, sql);
	gb_finalize(st);
}

void
gb_now(char buf[21])
{
	gb_fmt_time(buf, time(NULL));
}

const char *
gb_actor(void)
{
	static char name[64];
	const char *s = getenv("SUDO_USER");
	struct passwd *pw;

	if (s && *s)
		return s;
	if ((pw = getpwuid(getuid())))
		snprintf(name, sizeof name, "%s", pw->pw_name);
	else
		snprintf(name, sizeof name, "uid %u", (unsigned)getuid());
	return name;
}

static void
audit_hash(const char *prev, long long seq, const char *at, const char *actor,
    const char *action, const char *object, const char *detail, char hex[65])
{
	struct gb_sha256 h;
	char num[32];
	const char *parts[] = { prev, num, at, actor, action, object, detail };

	snprintf(num, sizeof num, "%lld", seq);
	gb_sha256_init(&h);
	for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
		/* each part with its length: no two entries hash alike */
		char len[24];
		int n = snprintf(len, sizeof len, "%zu:", strlen(parts[i]));
		gb_sha256_update(&h, len, (size_t)n);
		gb_sha256_update(&h, parts[i], strlen(parts[i]));
	}
	gb_sha256_final(&h, hex);
}

void
gb_catalog_audit(struct gb_catalog *c, const char *action, const char *object,
    const char *fmt, ...)
{
	struct gb_stmt *st;
	char prev[65] = "0", hash[65], at[21], seqs[32];
	long long seq = 1;
	char *detail;
	va_list ap;

	va_start(ap, fmt);
	detail = gb_vasprintf(fmt, ap);
	va_end(ap);
	st = gb_catalog_prepare(c, "SELECT seq, hash FROM audit ORDER BY seq "
	    "DESC LIMIT 1");
	if (gb_step(st) == GB_ROW) {
		seq = gb_col_int64(st, 0) + 1;
		snprintf(prev, sizeof prev, "%s", gb_col_text(st, 1));
	}
	gb_finalize(st);
	gb_now(at);
	audit_hash(prev, seq, at, gb_actor(), action, object, detail, hash);
	snprintf(seqs, sizeof seqs, "%lld", seq);
	gb_catalog_run(c, "INSERT INTO audit(seq, at, actor, action, object, "
	    "detail, prev, hash) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", 8,
	    seqs, at, gb_actor(), action, object, detail, prev, hash);
	free(detail);
}

int
gb_catalog_audit_verify(struct gb_catalog *c, char *head, char *err,
    size_t errlen)
{
	long long n;

	return gb_catalog_audit_head(c, &n, head, err, errlen);
}

int
gb_catalog_audit_head(struct gb_catalog *c, long long *n, char *head,
    char *err, size_t errlen)
{
	struct gb_stmt *st = gb_catalog_prepare(c, "SELECT seq, at, actor, "
	    "action, object, detail, prev, hash FROM audit ORDER BY seq");
	char prev[65] = "0", hex[65];
	long long expect = 1;
	int r = 0;

	while (gb_step(st) == GB_ROW) {
		long long seq = gb_col_int64(st, 0);
		const char *f[7];
		for (int i = 0; i < 7; i++)
			f[i] = gb_col_text(st, i + 1);
		if (seq != expect) {
			snprintf(err, errlen, "entry %lld is missing", expect);
			r = -1;
			break;
		}
		for (int i = 0; i < 7; i++)
			if (!f[i]) {
				snprintf(err, errlen, "entry %lld has a NULL field",
				    seq);
				r = -1;
				goto out;
			}
		if (strcmp(f[5], prev) != 0) {
			snprintf(err, errlen, "entry %lld does not follow entry "
			    "%lld (removed or replaced)", seq, seq - 1);
			r = -1;
			break;
		}
		audit_hash(prev, seq, f[0], f[1], f[2], f[3], f[4], hex);
		if (strcmp(hex, f[6]) != 0) {
			snprintf(err, errlen, "entry %lld was edited (its hash "
			    "does not match its content)", seq);
			r = -1;
			break;
		}
		snprintf(prev, sizeof prev, "%s", f[6]);
		expect++;
	}
out:
	gb_finalize(st);
	if (head)
		snprintf(head, 65, "%s", prev);
	*n = expect - 1;
	return r;
}

int
gb_catalog_audit_hash_at(struct gb_catalog *c, long long seq, char hash[65])
{
	struct gb_stmt *st;
	int r = -1;

	if (seq == 0) {	/* before the first entry: its prev */
		snprintf(hash, 65, "0");
		return 0;
	}
	st = gb_catalog_prepare(c, "SELECT hash FROM audit WHERE seq = ?1");
	gb_bind_int64(st, 1, seq);
	if (gb_step(st) == GB_ROW) {
		snprintf(hash, 65, "%s", gb_col(st, 0));
		r = 0;
	}
	gb_finalize(st);
	return r;
}

long long
gb_catalog_audit_count(struct gb_catalog *c)
{
	struct gb_stmt *st = gb_catalog_prepare(c, "SELECT count(*) FROM audit");
	long long n = 0;

	if (gb_step(st) == GB_ROW)
		n = gb_col_int64(st, 0);
	gb_finalize(st);
	return n;
}

void
gb_catalog_add_checkpoint(struct gb_catalog *c, long long entries,
    const char *head, const char *issued, const char *medium,
    const char *place, const char *text)
{
	char n[24];

	snprintf(n, sizeof n, "%lld", entries);
	gb_catalog_run(c, "INSERT INTO checkpoints(issued, entries, head, "
	    "medium, place, text) VALUES(?1, ?2, ?3, ?4, ?5, ?6)", 6, issued, n,
	    head, medium, place, text);
}

int
gb_catalog_record_archive(struct gb_catalog *c, const struct gb_seal *s,
    const char *seal_text, const char *job)
{
	const struct gb_manifest *m = &s->manifest;
	struct gb_stmt *st;
	char *chain = NULL, now[21], size[24], psize[24], rows[24];
	uint64_t total = 0;
	int exists;

	st = gb_catalog_prepare(c, "SELECT 1 FROM archives WHERE name = ?1");
	gb_bind_text(st, 1, s->archive);
	exists = gb_step(st) == GB_ROW;
	gb_finalize(st);
	if (exists)
		return 0;
	if (m->base) {
		st = gb_catalog_prepare(c, "SELECT chain FROM archives WHERE "
		    "export_id = ?1");
		gb_bind_text(st, 1, m->base);
		if (gb_step(st) == GB_ROW)
			chain = gb_strdup(gb_col(st, 0));
		gb_finalize(st);
	}
	if (!chain)	/* a full, or an incremental whose base is unknown */
		chain = gb_strdup(m->base ? m->base : m->id);
	for (size_t i = 0; i < m->ntables; i++)
		total += m->tables[i].rows;
	gb_now(now);
	snprintf(size, sizeof size, "%llu", (unsigned long long)s->size);
	snprintf(psize, sizeof psize, "%llu", (unsigned long long)s->packed_size);
	snprintf(rows, sizeof rows, "%llu", (unsigned long long)total);
	gb_catalog_run(c, "INSERT INTO archives(name, job, level, export_id, "
	    "base_id, chain, site, source, snapshot, size, sha256, packed_size, "
	    "packed_sha256, rows, seal, recorded_at) VALUES(?1, ?2, ?3, ?4, ?5, "
	    "?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)", 16,
	    s->archive, job ? job : m->job, m->level, m->id, m->base, chain,
	    m->site, m->source_name ? m->source_name : "", m->snapshot, size,
	    s->sha256, psize, s->packed_sha256, rows, seal_text, now);
	for (size_t i = 0; i < m->ntables; i++) {
		const struct gb_mtable *t = &m->tables[i];
		char r[24], b[24], *money = gb_strdup("");
		for (size_t k = 0; k < t->nmoney; k++) {
			char *n = gb_asprintf("%s%s%s=%lld", money, k ? " " : "",
			    t->money[k].column, (long long)t->money[k].sum);
			free(money);
			money = n;
		}
		snprintf(r, sizeof r, "%llu", (unsigned long long)t->rows);
		snprintf(b, sizeof b, "%llu", (unsigned long long)t->bytes);
		gb_catalog_run(c, "INSERT INTO archive_tables(archive, tbl, rows, "
		    "bytes, sha256, money) VALUES(?1, ?2, ?3, ?4, ?5, ?6)", 6,
		    s->archive, t->name, r, b, t->sha256, money);
		free(money);
	}
	gb_catalog_audit(c, "archive", s->archive, "job %s, %s, export %s, "
	    "sha256 %s", job ? job : m->job, m->level, m->id, s->sha256);
	free(chain);
	return 1;
}

void
gb_catalog_add_medium(struct gb_catalog *c, const struct gb_conf *conf,
    const char *id, const char *kind, const char *pool, long long capacity,
    const char *device)
{
	struct gb_stmt *st;
	char now[21], cap[24], *section;
	int exists;

	if (strcmp(kind, "dir") && strcmp(kind, "tape"))
		gb_errx(GB_EXIT_USAGE, "medium kind must be dir or tape, not %s",
		    kind);
	if (!*id || strlen(id) > 64 || strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(id))
		gb_errx(GB_EXIT_USAGE, "%s: a medium id is 1 to 64 letters, digits, "
		    "'-', '_' or '.'", id);
	st = gb_catalog_prepare(c, "SELECT 1 FROM media WHERE id = ?1");
	gb_bind_text(st, 1, id);
	exists = gb_step(st) == GB_ROW;
	gb_finalize(st);
	if (exists)
		gb_errx(GB_EXIT_USAGE, "medium %s is already in the catalog", id);
	section = gb_asprintf("pool %s", pool);
	if (!gb_conf_has_section(conf, section))
		gb_warnx("warning: pool %s is not described in the config; it "
		    "gets the default rules (30 days' retention, stays onsite)",
		    pool);
	free(section);
	gb_now(now);
	snprintf(cap, sizeof cap, "%lld", capacity);
	gb_catalog_run(c, "INSERT INTO media(id, kind, pool, capacity, "
	    "labelled_at, device) VALUES(?1, ?2, ?3, ?4, ?5, ?6)", 6, id, kind,
	    pool, capacity > 0 ? cap : NULL, now, device);
	gb_catalog_audit(c, "label", id, "%s medium in pool %s%s%s", kind, pool,
	    device ? " at " : "", device ? device : "");
}

void
gb_catalog_add_check(struct gb_catalog *c, const char *kind,
    const char *archive, const char *medium, int ok, const char *detail,
    const char *at, int manual)
{
	gb_catalog_run(c, "INSERT INTO checks(kind, archive, medium, at, ok, "
	    "detail, manual) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)", 7, kind,
	    archive, medium, at, ok ? "1" : "0", detail, manual ? "1" : "0");
	if (ok && medium && strcmp(kind, "restore-test") != 0)
		gb_catalog_run(c, "UPDATE copies SET verified_at = ?3 WHERE "
		    "archive = ?1 AND medium = ?2 AND status = 'good'", 3, archive,
		    medium, at);
	gb_catalog_audit(c, kind, archive, "%s%s%s%s%s%s", ok ? "ok" : "FAILED",
	    manual ? " (recorded by hand)" : "", medium ? " on " : "",
	    medium ? medium : "", detail ? ": " : "", detail ? detail : "");
}

static void
record_check(struct gb_catalog *c, const char *kind, const char *archive,
    const char *medium, int ok, const char *detail, const char *at,
    int manual)
{
	char now[21];

	if (at)
		snprintf(now, sizeof now, "%s", at);
	else
		gb_now(now);
	gb_catalog_begin(c);
	gb_catalog_add_check(c, kind, archive, medium, ok, detail, now, manual);
	gb_catalog_commit(c);
}

void
gb_catalog_record_check(struct gb_catalog *c, const char *kind,
    const char *archive, const char *medium, int ok, const char *detail,
    const char *at)
{
	record_check(c, kind, archive, medium, ok, detail, at, 0);
}

void
gb_catalog_record_by_hand(struct gb_catalog *c, const char *kind,
    const char *archive, const char *medium, int ok, const char *detail,
    const char *at)
{
	record_check(c, kind, archive, medium, ok, detail, at, 1);
}

static void
add_link(struct gb_link **v, size_t *n, struct gb_stmt *st, const char *level)
{
	*v = gb_realloc(*v, (*n + 1) * sizeof **v);
	(*v)[*n] = (struct gb_link){ gb_strdup(gb_col(st, 0)),
	    gb_strdup(gb_col(st, 1)), gb_strdup(level),
	    gb_strdup(gb_col(st, 2)) };
	(*n)++;
}

struct gb_link *
gb_catalog_chains(struct gb_catalog *c, const char *at,
    const char *const *jobs, size_t njobs, size_t *n)
{
	struct gb_stmt *fulls = gb_catalog_prepare(c, "SELECT a.job, a.name, "
	    "a.snapshot, a.chain FROM archives a WHERE a.name = (SELECT b.name "
	    "FROM archives b WHERE b.job = a.job AND b.level = 'full' AND "
	    "b.expired_at IS NULL AND b.snapshot <= ?1 ORDER BY b.snapshot "
	    "DESC, b.rowid DESC LIMIT 1) ORDER BY a.job");
	struct gb_stmt *incr = gb_catalog_prepare(c, "SELECT job, name, snapshot "
	    "FROM archives WHERE chain = ?1 AND level = 'incremental' AND "
	    "snapshot <= ?2 AND expired_at IS NULL ORDER BY snapshot");
	struct gb_link *v = NULL;

	*n = 0;
	gb_bind_text(fulls, 1, at);
	gb_bind_text(incr, 2, at);
	while (gb_step(fulls) == GB_ROW) {
		size_t k = 0;
		while (k < njobs && strcmp(jobs[k], gb_col(fulls, 0)) != 0)
			k++;
		if (njobs && k == njobs)
			continue;
		add_link(&v, n, fulls, "full");
		gb_reset(incr);
		gb_bind_text(incr, 1, gb_col(fulls, 3));
		while (gb_step(incr) == GB_ROW)
			add_link(&v, n, incr, "incremental");
	}
	gb_finalize(fulls);
	gb_finalize(incr);
	return v;
}

void
gb_links_free(struct gb_link *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].job);
		free(v[i].name);
		free(v[i].level);
		free(v[i].snapshot);
	}
	free(v);
}

char *
gb_catalog_where(struct gb_catalog *c, const char *archive,
    const char *const *skip, size_t nskip)
{
	struct gb_stmt *st = gb_catalog_prepare(c, "SELECT c.medium, "
	    "m.location FROM copies c JOIN media m ON m.id = c.medium WHERE "
	    "c.archive = ?1 AND c.status = 'good' ORDER BY c.id");
	char *s = NULL;

	gb_bind_text(st, 1, archive);
	while (gb_step(st) == GB_ROW) {
		size_t k = 0;
		char *t;
		while (k < nskip && strcmp(skip[k], gb_col(st, 0)) != 0)
			k++;
		if (k < nskip)
			continue;
		t = gb_asprintf("%s%s%s (%s)", s ? s : "", s ? ", " : "",
		    gb_col(st, 0), gb_col(st, 1));
		free(s);
		s = t;
	}
	gb_finalize(st);
	return s;
}

int
gb_parse_date(const char *s, char out[21])
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof tm);
	if ((end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) && !*end)
		;
	else if (memset(&tm, 0, sizeof tm), (end = strptime(s,
	    "%Y-%m-%d %H:%M:%S", &tm)) && !*end)
		;
	else if (memset(&tm, 0, sizeof tm), (end = strptime(s, "%Y-%m-%d",
	    &tm)) && !*end) {
		tm.tm_hour = 23;	/* a day means all of that day */
		tm.tm_min = 59;
		tm.tm_sec = 59;
	} else
		return -1;
	gb_fmt_time(out, timegm(&tm));
	return 0;
}
