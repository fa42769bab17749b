/*
 * gb-export - read the gym database in one consistent snapshot and write
 * the export set: MANIFEST, SCHEMA.sql and one CSV per table, as a pax tar
 * stream on stdout or as a directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "gb.h"
#include "gb-db.h"

/* A file of the export set. */
struct sfile {
	char *path;
	struct gb_spool *sp;	/* a stream's: encrypted; -o DIR: NULL */
};

/* Everything the run knows, bsdtar-style in one place. */
struct export {
	const char *confpath;
	struct gb_conf conf;	/* empty when there is no config */
	const char *source;	/* sqlite:PATH or a PostgreSQL connection */
	char *dbpath;		/* the database in messages */
	struct gb_sqlite *db;	/* the source: one of these two */
	struct gb_pg *pg;
	struct gb_sqlite **conns;	/* SQLite: one per thread, one snapshot */
	struct gb_pg **pgs;		/* PostgreSQL: the same */
	int nthreads;
	struct tjob *jobs;	/* one per table, in manifest order */
	size_t njobs;
	struct tpart **parts;	/* the work: tables or parts, biggest first */
	size_t nparts, next;	/* next: the next part a thread takes */
	pthread_mutex_t mu;
	const char *outdir;	/* NULL: stream on stdout */
	const char *prevpath;
	const char *job;
	char **want;		/* -t tables, in order */
	size_t nwant;
	int wait;
	int verbose;
	struct gb_manifest prev;
	struct gb_manifest m;
	char *work;		/* directory the files are written into */
	struct sfile *files;	/* written under work, in stream order */
	size_t nfiles;
	const char *statedir;	/* -S: the state of exact incrementals */
	char *statedef;		/* the default one */
	unsigned char statekey[GB_STATE_KEY];
	char *stjob;		/* statedir/JOB */
	char *stwork;		/* the new state, until the export is out */
	char **stfiles;		/* its files */
	size_t nstfiles;
};

#define MIN_PART 65536		/* rows: a smaller table is read whole */
#define MAX_PARTS 64

static const char *table_keys[] = { "key", "watermark", "money", "class" };

static void
usage(FILE *fp, int status)
{
	fprintf(fp, "usage: gb-export [-qv] [-c conf] [-i prev_manifest] "
	    "[-j job] [-o dir] [-P threads]\n"
	    "                 [-S statedir] [-s source] [-t table ...] "
	    "[-w seconds]\n");
	exit(status);
}

static const char *
conf_table(struct export *x, const char *table, const char *key)
{
	char *sec = gb_asprintf("table %s", table);
	const char *v = gb_conf_get(&x->conf, sec, key);

	free(sec);
	return v && *v ? v : NULL;
}

/*
 * Are keys the columns of ti's primary key in any order?  As many, and
 * each (distinct) key column among them: so each once.
 */
static int
is_primary_key(const struct gb_tinfo *ti, char *const *keys, size_t n)
{
	if (n != ti->npk)
		return 0;
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		while (j < n && strcmp(ti->pk[i], keys[j]) != 0)
			j++;
		if (j == n)
			return 0;
	}
	return 1;
}

/* Comma-separated list into a NULL-terminated vector, items trimmed. */
static char **
split_list(const char *s, size_t *n)
{
	char **v = gb_malloc(sizeof *v);
	const char *p = s;

	*n = 0;
	while (p && *p) {
		const char *end = strchr(p, ','), *e;
		if (!end)
			end = p + strlen(p);
		while (*p == ' ' || *p == '\t')
			p++;
		for (e = end; e > p && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		if (e > p) {
			v = gb_realloc(v, (*n + 2) * sizeof *v);
			v[(*n)++] = gb_strndup(p, (size_t)(e - p));
		}
		p = *end ? end + 1 : end;
	}
	v[*n] = NULL;
	return v;
}

static void
check_conf(struct export *x)
{
	for (size_t i = 0; i < x->conf.n; i++) {
		const struct gb_conf_entry *e = &x->conf.e[i];
		size_t k;
		/* a typo in what gb-export reads must not pass unnoticed */
		if ((strcmp(e->section, "site") == 0 && strcmp(e->key, "name")) ||
		    (strcmp(e->section, "source") == 0 && strcmp(e->key, "uri") &&
		    strcmp(e->key, "busy_timeout")))
			gb_errx(GB_EXIT_USAGE, "%s:%d: [%s]: unknown key %s (known: "
			    "%s)", x->conf.path, e->line, e->section, e->key,
			    *e->section == 's' && e->section[1] == 'i' ? "name" :
			    "uri, busy_timeout");
		if (strncmp(e->section, "table ", 6) != 0)
			continue;
		for (k = 0; k < sizeof table_keys / sizeof *table_keys; k++)
			if (strcmp(e->key, table_keys[k]) == 0)
				break;
		if (k == sizeof table_keys / sizeof *table_keys)
			gb_errx(GB_EXIT_USAGE, "%s:%d: [%s]: unknown key %s "
			    "(known: key, watermark, money, class)", x->conf.path,
			    e->line, e->section, e->key);
		if (strcmp(e->key, "class") == 0 && strcmp(e->value, "master") &&
		    strcmp(e->value, "transaction"))
			gb_errx(GB_EXIT_USAGE, "%s:%d: [%s]: class must be master "
			    "or transaction, not %s", x->conf.path, e->line,
			    e->section, e->value);
	}
}

/*
 * -S DIR, else $XDG_STATE_HOME/gymbackup or ~/.local/state/gymbackup (as
 * duplicity keeps its signatures under ~/.cache): one that cannot be
 * made only costs the next incremental its deltas: -S given, one that
 * cannot be made is an error.
 */
static void
state_setup(struct export *x)
{
	const char *base = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char why[1024];

	if (x->statedir) {
		if (gb_state_key(x->statedir, x->statekey, why, sizeof why))
			gb_errx(GB_EXIT_RUN, "%s", why);
		return;
	}
	if (base && *base == '/')
		x->statedef = gb_asprintf("%s/gymbackup", base);
	else if (home && *home == '/')
		x->statedef = gb_asprintf("%s/.local/state/gymbackup", home);
	if (x->statedef) {
		/* its parents as mkdir -p makes them, only they 0700 */
		for (char *p = strchr(x->statedef + 1, '/'); p;
		    p = strchr(p + 1, '/')) {
			*p = '\0';
			if (mkdir(x->statedef, 0700) == -1 && errno != EEXIST)
				p = NULL;
			if (p)
				*p = '/';
			else
				break;
		}
		if (gb_state_key(x->statedef, x->statekey, why,
		    sizeof why) == 0) {
			x->statedir = x->statedef;
			return;
		}
	} else
		snprintf(why, sizeof why, "neither XDG_STATE_HOME nor HOME set");
	/* a full says nothing: the incremental on it will, where it matters */
	if (x->prevpath)
		gb_warnx("warning: no state kept (%s); give -S DIR: an "
		    "incremental on this export takes its tables whole", why);
}

static void
setup(struct export *x)
{
	const char *v;
	char *real;

	if (gb_conf_open(&x->conf, x->confpath))
		check_conf(x);
	if (!x->source && !(x->source = gb_conf_get(&x->conf, "source", "uri")))
		gb_errx(GB_EXIT_USAGE, "no source: give -s sqlite:PATH or set "
		    "uri in the [source] section of the config");
	if (!gb_pg_is_conninfo(x->source) &&
	    (strncmp(x->source, "sqlite:", 7) != 0 || !x->source[7]))
		gb_errx(GB_EXIT_USAGE, "%s: unknown source; use sqlite:PATH or a "
		    "PostgreSQL URI (postgresql://...)", x->source);
	if (x->prevpath) {
		char why[512];
		if (gb_manifest_load(&x->prev, x->prevpath, why, sizeof why))
			gb_errx(GB_EXIT_USAGE, "previous manifest %s", why);
	}
	state_setup(x);
	if (x->wait < 0) {
		x->wait = 30;
		if ((v = gb_conf_get(&x->conf, "source", "busy_timeout"))) {
			char *end;
			long w = strtol(v, &end, 10);
			if (*end || w < 0 || w > 86400)
				gb_errx(GB_EXIT_USAGE, "%s: [source] busy_timeout "
				    "must be seconds, not %s", x->conf.path, v);
			x->wait = (int)w;
		}
	}

	x->m.format = GB_MANIFEST_FORMAT;
	x->m.site = gb_strdup(gb_site_name(&x->conf));
	x->m.job = gb_strdup(x->job);
	if (gb_pg_is_conninfo(x->source)) {
		/* The name comes from the connection: host/port/dbname. */
		x->pg = gb_pg_open(x->source, x->wait);
		x->dbpath = gb_strdup(gb_pg_name(x->pg));
		x->m.source_kind = gb_strdup("postgresql");
		x->m.source_name = gb_strdup(x->dbpath);
	} else {
		x->dbpath = gb_strdup(x->source + 7);
		x->m.source_kind = gb_strdup("sqlite");
		real = realpath(x->dbpath, NULL);
		x->m.source_name = gb_strdup(real ? real : x->dbpath);
		free(real);
	}

	if (x->prevpath) {
		if (strcmp(x->prev.site, x->m.site) != 0)
			gb_errx(GB_EXIT_USAGE, "%s: previous manifest is of site %s, "
			    "this is site %s; an incremental builds on an export "
			    "of the same site", x->prevpath, x->prev.site, x->m.site);
		if (strcmp(x->prev.source_kind, x->m.source_kind) != 0 ||
		    !x->prev.source_name ||
		    strcmp(x->prev.source_name, x->m.source_name) != 0)
			gb_errx(GB_EXIT_USAGE, "%s: previous manifest is of source "
			    "%s %s, this is %s %s; an incremental builds on an "
			    "export of the same source", x->prevpath,
			    x->prev.source_kind, x->prev.source_name ?
			    x->prev.source_name : "-", x->m.source_kind,
			    x->m.source_name);
		x->m.level = gb_strdup("incremental");
		x->m.base = gb_strdup(x->prev.id);
	} else
		x->m.level = gb_strdup("full");
}

/* The source, SQLite or PostgreSQL: the same calls on either. */
static char **
src_tables(struct export *x)
{
	return x->pg ? gb_pg_tables(x->pg) : gb_sqlite_tables(x->db);
}

static int
src_tinfo(struct export *x, const char *table, struct gb_tinfo *ti)
{
	return x->pg ? gb_pg_tinfo(x->pg, table, ti) :
	    gb_sqlite_tinfo(x->db, table, ti);
}

/* A thread's connection: db for SQLite, pg for PostgreSQL. */
static void
src_wm_max(struct export *x, struct gb_sqlite *db, struct gb_pg *pg,
    const char *table, const char *column, const char *from_type,
    const char *from, char **type, char **value)
{
	if (x->pg)
		gb_pg_wm_max(pg, table, column, from_type, from, type, value);
	else
		gb_sqlite_wm_max(db, table, column, from_type, from, type, value);
}

static void
src_dump(struct export *x, struct gb_sqlite *db, struct gb_pg *pg,
    const struct gb_tinfo *ti, const struct gb_dump *d, struct gb_out *o,
    struct gb_mtable *mt)
{
	if (x->pg)
		gb_pg_dump(pg, ti, d, o, mt);
	else
		gb_sqlite_dump(db, ti, d, o, mt);
}

/* Validates the tables asked for, against the database and the config. */
static char **
choose_tables(struct export *x, size_t *n)
{
	char **all = src_tables(x), **v, *s, *t;
	size_t it = 0;
	const char *name;
	int described = 0;

	if (x->nwant) {
		v = gb_calloc(x->nwant + 1, sizeof *v);
		for (size_t i = 0; i < x->nwant; i++) {
			size_t k;
			for (k = 0; all[k]; k++)
				if (strcmp(all[k], x->want[i]) == 0)
					break;
			if (!all[k])
				gb_errx(GB_EXIT_USAGE, "%s: no table %s in the "
				    "database%s", x->dbpath, x->want[i], x->pg &&
				    gb_pg_splitname(x->want[i], &s, &t) == -1 ?
				    "; PostgreSQL tables are named schema.table, "
				    "e.g. public.members" : "");
			for (k = 0; k < i; k++)
				if (strcmp(x->want[k], x->want[i]) == 0)
					gb_errx(GB_EXIT_USAGE, "table %s given "
					    "twice", x->want[i]);
			v[i] = gb_strdup(x->want[i]);
		}
		*n = x->nwant;
		gb_free_strv(all);
		return v;
	}
	/* Completeness: every table goes; the config only describes them. */
	while ((name = gb_conf_next_section(&x->conf, "table", &it))) {
		size_t k;
		described = 1;
		for (k = 0; all[k]; k++)
			if (strcmp(all[k], name) == 0)
				break;
		if (!all[k])
			gb_warnx("warning: %s: config describes table %s, which "
			    "the database does not have", x->dbpath, name);
	}
	for (*n = 0; all[*n]; (*n)++) {
		char *sec = gb_asprintf("table %s", all[*n]);
		if (described && !gb_conf_has_section(&x->conf, sec))
			gb_warnx("warning: table %s is not described in %s; "
			    "exported with its key from the schema and no money "
			    "sums", all[*n], x->conf.path);
		free(sec);
	}
	return all;
}

static void
check_columns(struct export *x, const struct gb_tinfo *ti, char **cols,
    size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (gb_tinfo_column(ti, cols[i]) < 0)
			gb_errx(GB_EXIT_USAGE, "%s: table %s has no column %s "
			    "(named as its %s in %s)", x->dbpath, ti->name,
			    cols[i], what, x->conf.path ? x->conf.path :
			    "the config");
}

/*
 * A file of the set, in stream order, registered first: a signal after
 * the open finds it known.  A stream's is spooled encrypted, under a key
 * that dies with the process: what a kill -9 leaves is unreadable.
 */
static char *
add_file(struct export *x, const char *name, struct gb_spool **sp)
{
	char *path = gb_asprintf("%s/%s", x->work, name);

	gb_cleanup_add(path);
	x->files = gb_realloc(x->files, (x->nfiles + 1) * sizeof *x->files);
	x->files[x->nfiles].path = path;
	*sp = x->files[x->nfiles++].sp = x->outdir ? NULL : gb_spool_new(1);
	return path;
}

static int
open_file(const char *path)
{
	int fd = gb_cleanup_create(path, 0600);

	if (fd < 0)
		gb_err(GB_EXIT_RUN, "cannot create %s", path);
	return fd;
}

/* An output to fd, encrypted when sp says so. */
static void
out_init(struct gb_out *o, int fd, int hash, struct gb_spool *sp)
{
	gb_out_init(o, fd, hash);
	o->spool = sp;
}

static void
create_file(struct export *x, const char *name, char **pathp,
    struct gb_out *o, int hash)
{
	struct gb_spool *sp;

	*pathp = add_file(x, name, &sp);
	out_init(o, open_file(*pathp), hash, sp);
}

/* Finish a file: flush, and for a directory export make it durable. */
static void
close_file(struct export *x, struct gb_out *o, const char *path, char *hex)
{
	if (gb_out_finish(o, hex) == -1 || (x->outdir && fsync(o->fd) == -1))
		gb_err(GB_EXIT_RUN, "cannot write %s", path);
	if (close(o->fd) == -1)
		gb_err(GB_EXIT_RUN, "cannot write %s", path);
}

/* What exporting one table takes, worked out before any thread starts. */
struct tjob {
	struct gb_tinfo ti;
	struct gb_dump d;
	char *oldstate;		/* the base's state of it: a delta */
	char *newstate;		/* its new state, or NULL: none kept */
	char *delpath;		/* a delta's list of deleted keys */
	struct gb_out del;
	struct gb_out all;	/* an incremental's every row, for its SHA-256 */
	size_t mt;		/* its entry in the manifest */
	char *path;
	struct gb_spool *sp, *delsp;	/* of path and delpath */
	struct gb_out o;	/* its file, open from its first part's start
				   until every part is in: not all at once */
	struct tpart *part;	/* one, or several for a split table */
	int nparts;
	int in;			/* parts in the file: read, and copied in */
	int copying;		/* a thread is copying parts in */
};

/*
 * The unit of work of a thread: a whole table, or a range of rowids of a
 * table too big for one thread.  A later part goes to files of its own,
 * without a name, copied in after the first part when all are read.
 * With a state, each part merges its range and leaves a segment of it.
 */
struct tpart {
	struct tjob *t;
	int k;			/* 0: the first, writing the table's file */
	int64_t lo, hi, size;	/* rowids lo to hi; size: rows, about */
	struct gb_mtable acc;	/* rows and money sums of a split part */
	int fd;			/* a later part's file */
	int afd, dfd;		/* and its every row and deletes, or -1 */
	struct gb_spool *sp, *asp, *dsp;	/* of each */
	char *state;		/* its new state's segment */
	int done;		/* its rows are all read */
};

/*
 * Checks a table against the config and the previous manifest and makes
 * its file: everything but reading the rows, in the main thread.
 */
static void
plan_table(struct export *x, const char *table, struct tjob *j)
{
	struct gb_tinfo ti;
	struct gb_dump d = { 0 };
	struct gb_mtable *mt, *pt = NULL;
	const char *v;
	char **keys = NULL;
	size_t nkeys = 0;

	if (src_tinfo(x, table, &ti) == -1)
		gb_errx(GB_EXIT_USAGE, "%s: no table %s in the database",
		    x->dbpath, table);
	mt = gb_manifest_add_table(&x->m, table);
	mt->file = gb_table_filename(table);

	/* the key as the schema spells its columns: never split or trimmed */
	if ((v = conf_table(x, table, "key"))) {
		keys = split_list(v, &nkeys);
		check_columns(x, &ti, keys, nkeys, "key");
		for (size_t k = 0; k < nkeys; k++) {
			char *c = gb_strdup(ti.cols[gb_tinfo_column(&ti,
			    keys[k])]);
			free(keys[k]);
			keys[k] = c;
		}
	} else if (ti.npk) {
		keys = gb_calloc(ti.npk + 1, sizeof *keys);
		for (nkeys = 0; nkeys < ti.npk; nkeys++)
			keys[nkeys] = gb_strdup(ti.pk[nkeys]);
	}
	for (size_t k = 0; k < nkeys; k++) {
		char *joined = gb_asprintf("%s%s%s", k ? mt->key : "",
		    k ? "," : "", keys[k]);
		free(mt->key);
		mt->key = joined;
	}
	for (size_t k = 0; k < nkeys; k++)
		if (!*keys[k] || strchr(keys[k], ',')) {
			/* the manifest's key line could not name it */
			gb_warnx("warning: table %s: the manifest cannot name "
			    "key column \"%s\" (empty, or with a comma): the "
			    "table goes whole in every incremental", table,
			    keys[k]);
			nkeys = 0;
		}
	if (nkeys && !is_primary_key(&ti, keys, nkeys)) {
		/* unique and never NULL: a restore finds rows by it */
		gb_warnx("warning: table %s: key %s is not its primary key: the "
		    "table goes whole in every incremental", table, mt->key);
		nkeys = 0;
	}
	if (!nkeys) {
		gb_free_strv(keys);
		keys = NULL;
		free(mt->key);
		mt->key = NULL;
	}
	if ((v = conf_table(x, table, "money"))) {
		d.money = split_list(v, &d.nmoney);
		check_columns(x, &ti, d.money, d.nmoney, "money column");
	}
	if ((v = conf_table(x, table, "watermark"))) {
		char *one[] = { (char *)v };
		check_columns(x, &ti, one, 1, "watermark");
		/* PostgreSQL's names are exact: use the column's own */
		d.wm_column = x->pg ? ti.cols[gb_tinfo_column(&ti, v)] : v;
	}
	if (nkeys && x->statedir && !ti.fts5) {
		d.key = keys;
		d.nkey = nkeys;
		keys = NULL;
		j->newstate = gb_asprintf("%s/%s.state", x->stwork, mt->file);
	}
	gb_free_strv(keys);
	/*
	 * An incremental is exact: every row is read and merged with the
	 * state its base left; a watermark decides nothing.  A table with no
	 * key, or no usable state of the base, goes whole.
	 */
	if (x->prevpath) {
		const char *pj = x->prev.job ? x->prev.job : "manual";
		char why[1024], *old, *place;
		d.wm_column = NULL;
		pt = gb_manifest_table(&x->prev, table);
		old = gb_asprintf("%s/jobs/%s/%s/%s.state", x->statedir ?
		    x->statedir : "", pj, x->prev.id, mt->file);
		/* a state is bound to its export and table: the MAC says */
		place = gb_asprintf("%s/%s", x->prev.id, mt->file);
		if (!d.key)
			mt->change = gb_strdup("whole");
		else if (!pt || !x->statedir || !gb_job_name_ok(pj)) {
			mt->change = gb_strdup("whole");
			free(old);
		} else if (gb_state_usable(old, x->statekey, place, mt->key,
		    why, sizeof why) == -1) {
			gb_warnx("warning: table %s: no state of the base %s "
			    "(%s); the table goes whole", table, x->prev.id, why);
			mt->change = gb_strdup("whole");
			free(old);
		} else {
			mt->change = gb_strdup("delta");
			j->oldstate = old;
			old = NULL;
		}
		if (!d.key) {
			gb_warnx("table %s has no key%s: exported whole", table,
			    x->statedir ? "" : " or no state");
			free(old);
		}
		free(place);
	}

	/* named now, in stream order; made when its rows are read */
	j->path = add_file(x, mt->file, &j->sp);
	if (j->oldstate) {
		char *name = gb_deletes_filename(table);
		mt->del = gb_calloc(1, sizeof *mt->del);
		mt->del->name = gb_strdup(table);
		mt->del->file = name;
		mt->del->key = gb_strdup(mt->key);
		j->delpath = add_file(x, name, &j->delsp);
	}
	j->mt = (size_t)(mt - x->m.tables);
	j->ti = ti;
	j->d = d;
}

/* The header of a list of deleted keys: the key's columns. */
static void
write_keys(struct gb_out *o, char *const *key, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			gb_out_putc(o, ',');
		gb_csv_text(o, key[i], strlen(key[i]));
	}
	gb_out_putc(o, '\n');
}

static void
add_money(struct export *x, struct gb_mtable *mt, struct gb_money *to,
    const struct gb_money *from, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (__builtin_add_overflow(to[k].sum, from[k].sum, &to[k].sum))
			gb_errx(GB_EXIT_RUN, "%s: table %s: sum of money column %s "
			    "overflows 64 bits", x->dbpath, mt->name,
			    mt->money[k].column);
}

/* Adds a part's rows, deletes, money sums and totals to the table's. */
static void
add_part(struct export *x, struct gb_mtable *mt, struct gb_mtable *acc)
{
	mt->rows += acc->rows;
	if (acc->del) {
		mt->del->rows += acc->del->rows;
		free(acc->del);
	}
	if (!mt->money) {
		mt->money = acc->money;
		mt->nmoney = acc->nmoney;
	} else {
		add_money(x, mt, mt->money, acc->money, acc->nmoney);
		for (size_t k = 0; k < acc->nmoney; k++)
			free(acc->money[k].column);
		free(acc->money);
	}
	if (acc->has_total && !mt->has_total) {
		mt->has_total = 1;
		mt->total_money = acc->total_money;
	} else if (acc->has_total) {
		add_money(x, mt, mt->total_money, acc->total_money, mt->nmoney);
		free(acc->total_money);
	}
	mt->total_rows += acc->total_rows;
}

/*
 * A spool file read back short of its end: exit 3.  A changed one fails
 * its check before any byte of the MiB that differs is passed on.
 */
static _Noreturn void
read_back_fail(struct export *x, const struct gb_spool *sp, const char *what)
{
	if (errno == EBADMSG)
		gb_errx(GB_EXIT_RUN, "cannot read back %s: the spool file is "
		    "not what was written (its MiB at byte %llu fails its "
		    "check): something altered it in %s", what,
		    (unsigned long long)sp->off, x->work);
	gb_err(GB_EXIT_RUN, "cannot read back %s", what);
}

/* Copies a file of a later part into one of the table's, through its hash. */
static void
copy_fd(struct export *x, struct tjob *t, struct tpart *p, int fd,
    struct gb_spool *sp, struct gb_out *to)
{
	const void *buf;
	ssize_t n;

	while ((n = gb_spool_read(sp, fd, &buf)) > 0)
		gb_out_write(to, buf, (size_t)n);
	if (n < 0) {
		int e = errno;
		char *what = gb_asprintf("part %d of table %s", p->k + 1,
		    x->m.tables[t->mt].name);
		errno = e;
		read_back_fail(x, sp, what);
	}
	close(fd);
	gb_spool_free(sp);
}

static void
copy_part(struct export *x, struct tjob *t, struct tpart *p)
{
	copy_fd(x, t, p, p->fd, p->sp, &t->o);
	if (p->afd >= 0)
		copy_fd(x, t, p, p->afd, p->asp, &t->all);
	if (p->dfd >= 0)
		copy_fd(x, t, p, p->dfd, p->dsp, &t->del);
}

static void
finish_table(struct export *x, struct tjob *t)
{
	struct gb_mtable *mt = &x->m.tables[t->mt];

	for (int k = 0; k < t->nparts && t->nparts > 1; k++)
		add_part(x, mt, &t->part[k].acc);
	if (t->delpath) {
		close_file(x, &t->del, t->delpath, mt->del->sha256);
		mt->del->bytes = t->del.bytes;
	}
	if (t->newstate && x->prevpath)
		gb_out_finish(&t->all, mt->total_sha256);
	close_file(x, &t->o, t->path, mt->sha256);
	mt->bytes = t->o.bytes;
	if (x->verbose) {
		gb_progress_clear();
		fprintf(stderr, "gb-export: %s: %llu rows, %llu bytes%s\n",
		    mt->name, (unsigned long long)mt->rows,
		    (unsigned long long)mt->bytes, t->nparts > 1 ?
		    ", read in parts" : "");
	}
	gb_free_strv(t->d.money);
	gb_free_strv(t->d.key);
	free(t->oldstate);
	if (t->newstate) {	/* tables finish on any thread */
		pthread_mutex_lock(&x->mu);
		x->stfiles = gb_realloc(x->stfiles, (x->nstfiles + (size_t)
		    t->nparts) * sizeof *x->stfiles);
		for (int k = 0; k < t->nparts; k++)
			x->stfiles[x->nstfiles++] = t->part[k].state;
		pthread_mutex_unlock(&x->mu);
		free(t->newstate);
	}
	gb_tinfo_free(&t->ti);
	free(t->part);
}

/*
 * A part is read.  Parts go into the file in order, as soon as each one
 * and those before it are read, by whichever thread finds them ready;
 * the hash sees the bytes in file order.
 */
static void
part_done(struct export *x, struct tpart *p)
{
	struct tjob *t = p->t;

	pthread_mutex_lock(&x->mu);
	p->done = 1;
	while (!t->copying && t->in < t->nparts && t->part[t->in].done) {
		struct tpart *next = &t->part[t->in];
		t->copying = 1;
		pthread_mutex_unlock(&x->mu);
		if (next->k > 0)
			copy_part(x, t, next);
		pthread_mutex_lock(&x->mu);
		t->copying = 0;
		if (++t->in == t->nparts) {
			pthread_mutex_unlock(&x->mu);
			finish_table(x, t);
			return;
		}
	}
	pthread_mutex_unlock(&x->mu);
}

struct thread {
	struct export *x;
	struct gb_sqlite *db;	/* its connection, of one of the two */
	struct gb_pg *pg;
	pthread_t tid;
};

/* Reads one table's rows, or one part's, on the thread's connection. */
static void
run_part(struct export *x, struct thread *th, struct tpart *p)
{
	struct tjob *t = p->t;
	struct gb_mtable *mt = &x->m.tables[t->mt];
	struct gb_mtable *acc = t->nparts > 1 ? &p->acc : mt;
	struct gb_dump d = t->d;
	struct gb_out o, all, del, *out = &t->o, *pall = &t->all,
	    *pdel = &t->del;
	int newfd = -1;

	if (p->k == 0) {
		out_init(&t->o, open_file(t->path), 1, t->sp);
		if (t->delpath) {
			out_init(&t->del, open_file(t->delpath), 1, t->delsp);
			write_keys(&t->del, d.key, d.nkey);
		}
		if (t->newstate && x->prevpath)
			gb_out_init(&t->all, GB_OUT_SINK, 1);
	} else {
		out_init(out = &o, p->fd, 0, p->sp);
		if (p->dfd >= 0)
			out_init(pdel = &del, p->dfd, 0, p->dsp);
		if (p->afd >= 0)
			out_init(pall = &all, p->afd, 0, p->asp);
	}
	if (t->newstate) {
		/* each part merges its range, into a segment of its own */
		char *place = gb_asprintf("%s/%s", x->m.id, mt->file);
		p->state = p->k ? gb_asprintf("%s.%d", t->newstate, p->k) :
		    gb_strdup(t->newstate);
		gb_cleanup_add(p->state);
		newfd = open_file(p->state);
		if (t->delpath && acc != mt)
			acc->del = gb_calloc(1, sizeof *acc->del);
		d.delta = gb_delta_open(mt->name, t->oldstate, newfd,
		    x->statekey, place, mt->key, d.nkey, t->nparts > 1 ? p->lo :
		    INT64_MIN, t->nparts > 1 ? p->hi : INT64_MAX, out,
		    t->delpath ? pdel : NULL, x->prevpath ? pall : NULL, acc,
		    d.nmoney);
		free(place);
	}
	if (p->k == 0 && d.wm_column) {
		char *wmtype = NULL, *wmto = NULL;
		src_wm_max(x, th->db, th->pg, mt->name, d.wm_column, d.wm_type,
		    d.wm_from, &wmtype, &wmto);
		mt->wm_column = gb_strdup(d.wm_column);
		if (!wmto && d.wm_from) {	/* nothing new: keep the mark */
			wmtype = gb_strdup(d.wm_type);
			wmto = gb_strdup(d.wm_from);
		}
		mt->wm_type = wmtype ? wmtype : gb_strdup("text");
		mt->wm_from = d.wm_from ? gb_strdup(d.wm_from) : NULL;
		mt->wm_to = wmto;
	}
	if (t->nparts > 1) {
		d.ranged = 1;
		d.part = p->k;
		d.lo = p->lo;
		d.hi = p->hi;
		p->acc.name = mt->name;
	}
	src_dump(x, th->db, th->pg, &t->ti, &d, out, acc);
	if (d.delta && (gb_delta_finish(d.delta, x->prevpath != NULL) == -1 ||
	    fsync(newfd) == -1 || close(newfd) == -1))
		gb_err(GB_EXIT_RUN, "cannot write %s", p->state);
	if (p->k > 0 && (gb_out_finish(out, NULL) == -1 || (pdel == &del &&
	    gb_out_finish(pdel, NULL) == -1) || (pall == &all &&
	    gb_out_finish(pall, NULL) == -1)))
		gb_err(GB_EXIT_RUN, "cannot write part %d of table %s in %s",
		    p->k + 1, mt->name, x->work);
	part_done(x, p);
}

/* A thread takes the next part, biggest first, until none is left. */
static void *
worker(void *arg)
{
	struct thread *t = arg;
	struct export *x = t->x;

	for (;;) {
		size_t i;
		pthread_mutex_lock(&x->mu);
		i = x->next++;
		pthread_mutex_unlock(&x->mu);
		if (i >= x->nparts)
			return NULL;
		run_part(x, t, x->parts[i]);
	}
}

/*
 * A file for a later part: made in the work directory, then unlinked;
 * a stream's encrypted, as its named files are.
 */
static int
part_file(struct export *x, struct gb_spool **sp)
{
	char *path = gb_asprintf("%s/.part.XXXXXX", x->work);
	int fd = mkostemp(path, O_CLOEXEC);

	if (fd < 0 || unlink(path) == -1)
		gb_err(GB_EXIT_RUN, "cannot create a file in %s", x->work);
	free(path);
	*sp = gb_spool_new(!x->outdir);
	return fd;
}

/*
 * Splits a table into ranges of rowids when it holds more than a quarter
 * of a thread's share of the rows (on the reference gym, consumptions
 * holds half of them).  Threads take parts as they come free, so parts
 * of about that size even out tables whose rows cost more to write.
 * Rows come out of each part in key order and the parts in turn: the file
 * is the same bytes as one thread's.
 */
static void
split_table(struct export *x, struct tjob *t, int64_t min, int64_t max,
    int64_t total)
{
	int64_t size, share = total / (4 * x->nthreads);
	int n = 1;

	if (__builtin_sub_overflow(max, min, &size) || size == INT64_MAX)
		size = INT64_MAX - 1;	/* rowids all over: split evenly anyway */
	size++;
	/* the parts come in the order of the rows: of a merge, its key's */
	if (x->nthreads > 1 && (t->d.key ? t->ti.rowid_key && t->d.nkey == 1 &&
	    strcmp(t->d.key[0], t->ti.pk[0]) == 0 : t->ti.rowid_key ||
	    (t->ti.npk == 0 && t->ti.rowid)) && size > share &&
	    size >= 2 * MIN_PART) {
		int64_t want = size / (share > MIN_PART ? share : MIN_PART) + 1;
		n = want > MAX_PARTS ? MAX_PARTS : (int)want;
	}
	t->nparts = n;
	t->part = gb_calloc((size_t)n, sizeof *t->part);
	for (int k = 0; k < n; k++) {
		struct tpart *p = &t->part[k];
		p->t = t;
		p->k = k;
		p->size = size / n;
		p->lo = k == 0 ? INT64_MIN : min + size / n * k;
		p->hi = k == n - 1 ? INT64_MAX : min + size / n * (k + 1) - 1;
		p->fd = k > 0 ? part_file(x, &p->sp) : -1;
		p->afd = k > 0 && t->newstate && x->prevpath ?
		    part_file(x, &p->asp) : -1;
		p->dfd = k > 0 && t->delpath ? part_file(x, &p->dsp) : -1;
	}
}

static void
export_tables(struct export *x, char **tables, size_t n)
{
	struct thread *t;
	int64_t (*ids)[2] = gb_calloc(n, sizeof *ids), total = 0, size;
	size_t np = 0;

	x->jobs = gb_calloc(n, sizeof *x->jobs);
	x->njobs = n;
	for (size_t i = 0; i < n; i++) {
		plan_table(x, tables[i], &x->jobs[i]);
		if ((x->pg ? gb_pg_rowids(x->pg, &x->jobs[i].ti, &ids[i][0],
		    &ids[i][1]) : gb_sqlite_rowids(x->db, &x->jobs[i].ti, &ids[i][0],
		    &ids[i][1])) == -1)
			ids[i][0] = 1, ids[i][1] = 0;	/* no rowids: size 0 */
		else if (__builtin_sub_overflow(ids[i][1], ids[i][0], &size) ||
		    __builtin_add_overflow(total, size, &total))
			total = INT64_MAX;
	}
	for (size_t i = 0; i < n; i++) {
		split_table(x, &x->jobs[i], ids[i][0], ids[i][1], total);
		np += (size_t)x->jobs[i].nparts;
	}
	free(ids);
	x->parts = gb_calloc(np, sizeof *x->parts);
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < x->jobs[i].nparts; k++)
			x->parts[x->nparts++] = &x->jobs[i].part[k];
	for (size_t i = 1; i < np; i++)	/* insertion sort: few parts */
		for (size_t k = i; k > 0 && x->parts[k]->size >
		    x->parts[k - 1]->size; k--) {
			struct tpart *tmp = x->parts[k];
			x->parts[k] = x->parts[k - 1];
			x->parts[k - 1] = tmp;
		}
	pthread_mutex_init(&x->mu, NULL);
	if (x->nthreads <= 1) {
		struct thread one = { .x = x, .db = x->db, .pg = x->pg };
		worker(&one);
	} else {
		t = gb_calloc((size_t)x->nthreads, sizeof *t);
		for (int i = 0; i < x->nthreads; i++) {
			t[i].x = x;
			t[i].db = x->conns ? x->conns[i] : NULL;
			t[i].pg = x->pgs ? x->pgs[i] : NULL;
			if (gb_thread_create(&t[i].tid, worker, &t[i]))
				gb_errx(GB_EXIT_RUN, "cannot start a thread");
		}
		for (int i = 0; i < x->nthreads; i++)
			pthread_join(t[i].tid, NULL);
		free(t);
	}
	pthread_mutex_destroy(&x->mu);
}

static void
remove_state(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			char *p = gb_asprintf("%s/%s", dir, de->d_name);
			unlink(p);
			free(p);
		}
	if (d)
		closedir(d);
	if (rmdir(dir) == -1)
		gb_warn("warning: cannot remove the old state %s", dir);
}

static void
drop_state(void *arg, const char *path, long pid)
{
	remove_state(path);
}

/*
 * The new state goes in a directory of its own until the export is out:
 * STATEDIR/jobs/JOB/, beside STATEDIR/key.
 */
static void
make_statedir(struct export *x)
{
	char *jobs;

	if (!x->statedir)
		return;
	if (!gb_job_name_ok(x->job))
		gb_errx(GB_EXIT_USAGE, "-j %s: a job name is letters, digits, "
		    "'.', '_' and '-', a letter or digit first (it names the "
		    "job's state directory)", x->job);
	/* jobs apart from the key: any job name may be "key" */
	jobs = gb_asprintf("%s/jobs", x->statedir);
	x->stjob = gb_asprintf("%s/%s", jobs, x->job);
	if ((mkdir(jobs, 0700) == -1 && errno != EEXIST) ||
	    (mkdir(x->stjob, 0700) == -1 && errno != EEXIST))
		gb_err(GB_EXIT_RUN, "cannot make %s", x->stjob);
	free(jobs);
	/* a killed export's new state is no plaintext: it goes quietly */
	gb_tmp_stale(x->stjob, "gb-state", drop_state, NULL);
	x->stwork = gb_tmp_template("%s/gb-state", x->stjob);
	if (gb_mktemp(x->stwork, 1) == -1)
		gb_err(GB_EXIT_RUN, "cannot create %s", x->stwork);
}

/*
 * The export is out: its state becomes STATEDIR/jobs/JOB/ID, which the next
 * incremental on it reads.  A later failure (pack, seal, write) leaves
 * the base's state too, since the next incremental names its base: of
 * this job's states, its own, the base's and KEEP_STATES others stay.
 */
#define KEEP_STATES 3
static void
commit_state(struct export *x)
{
	char *final, *base;
	struct dirent **v;
	int fd, n;

	if (!x->stwork)
		return;
	final = gb_asprintf("%s/%s", x->stjob, x->m.id);
	if ((fd = open(x->stwork, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fsync(fd) == -1 || close(fd) == -1 ||
	    gb_rename_durable(x->stwork, final) != 0)
		gb_err(GB_EXIT_RUN, "cannot keep the state %s", final);
	for (size_t i = 0; i < x->nstfiles; i++) {
		gb_cleanup_forget(x->stfiles[i]);
		free(x->stfiles[i]);
	}
	gb_cleanup_forget(x->stwork);
	base = x->prevpath ? x->prev.id : NULL;
	/* ids begin with their time: the newest sort last */
	if ((n = scandir(x->stjob, &v, NULL, alphasort)) >= 0) {
		int kept = 0;
		while (n-- > 0) {
			const char *name = v[n]->d_name;
			/* this one and its base stay, whatever their names */
			if (name[0] != '.' && !strchr(name, '.') &&
			    strcmp(name, x->m.id) && (!base || strcmp(name,
			    base)) && ++kept > KEEP_STATES) {
				char *p = gb_asprintf("%s/%s", x->stjob, name);
				remove_state(p);
				free(p);
			}
			free(v[n]);
		}
		free(v);
	}
	free(final);
}

static void
make_workdir(struct export *x)
{
	if (x->outdir) {
		struct stat sb;
		if (lstat(x->outdir, &sb) == 0)
			gb_errx(GB_EXIT_USAGE, "%s exists; give a new directory "
			    "for the export set", x->outdir);
		x->work = gb_tmp_template("%s.tmp", x->outdir);
		/* a killed stream export's plaintext goes at any next run */
		gb_tmp_reap(gb_tmpdir(), "gb-export");
	} else
		x->work = gb_tmp_template("%s/gb-export", gb_tmpdir());
	if (gb_mktemp(x->work, 1) == -1)
		gb_err(GB_EXIT_RUN, "cannot create %s", x->work);
}

static void
write_manifest(struct export *x)
{
	struct gb_out o;
	struct sfile f;
	char *path;

	create_file(x, "MANIFEST", &path, &o, 0);
	gb_manifest_write(&x->m, &o);
	close_file(x, &o, path, NULL);
	/* MANIFEST was made last but goes first in the stream. */
	f = x->files[x->nfiles - 1];
	memmove(x->files + 1, x->files, (x->nfiles - 1) * sizeof *x->files);
	x->files[0] = f;
}

static void
finish_dir(struct export *x)
{
	int fd = open(x->work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) == -1 || close(fd) == -1)
		gb_err(GB_EXIT_RUN, "cannot sync %s", x->work);
	/* Not durable: back under the work name, where the cleanup removes it. */
	switch (gb_rename_durable(x->work, x->outdir)) {
	case -1:
		gb_err(GB_EXIT_RUN, "cannot rename %s to %s", x->work, x->outdir);
	case -2:
		gb_err(GB_EXIT_RUN, "cannot sync the directory holding %s",
		    x->outdir);
	case -3:
		gb_err(GB_EXIT_RUN, "cannot sync the directory holding %s, nor "
		    "take it back: it stays", x->outdir);
	}
	gb_cleanup_clear();	/* the files are DIR's now */
}

static _Noreturn void
stream_fail(struct archive *a)
{
	int e = archive_errno(a);

	gb_errx(GB_EXIT_RUN, "cannot write the export stream: %s%s%s",
	    archive_error_string(a), e > 0 ? ": " : "", e > 0 ? strerror(e) : "");
}

static void
stream_tar(struct export *x, time_t snaptime)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();

	gb_pipe_grow(STDOUT_FILENO);
	/* big writes */
	if (gb_tar_format(a, 1 << 16) == -1 ||
	    archive_write_open_fd(a, STDOUT_FILENO) != ARCHIVE_OK)
		stream_fail(a);
	for (size_t i = 0; i < x->nfiles; i++) {
		const char *path = x->files[i].path;
		const char *base = strrchr(path, '/') + 1;
		struct gb_spool *sp = x->files[i].sp;
		const void *buf;
		ssize_t n;
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			gb_err(GB_EXIT_RUN, "cannot read %s", path);
		/* the size written, whatever the file's is now */
		if (gb_tar_header(a, e, base, (int64_t)sp->size, snaptime) == -1)
			stream_fail(a);
		while ((n = gb_spool_read(sp, fd, &buf)) > 0)
			if (archive_write_data(a, buf, (size_t)n) != n)
				stream_fail(a);
		if (n < 0)
			read_back_fail(x, sp, path);
		close(fd);
		gb_spool_free(sp);
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		stream_fail(a);
	commit_state(x);
	archive_entry_free(e);
	archive_write_free(a);
	gb_cleanup_run();	/* the stream is out: remove the files */
}

static void
new_id(struct export *x, time_t t)
{
	char stamp[21], compact[17];
	uint32_t r;
	struct tm tm;

	if (getrandom(&r, sizeof r, 0) != sizeof r)
		gb_err(GB_EXIT_RUN, "getrandom");
	gb_fmt_time(stamp, t);
	gmtime_r(&t, &tm);
	strftime(compact, sizeof compact, "%Y%m%dT%H%M%SZ", &tm);
	x->m.snapshot = gb_strdup(stamp);
	x->m.id = gb_asprintf("%s-%08x", compact, r);
}

int
main(int argc, char *argv[])
{
	struct export x = { .job = "manual", .wait = -1 };
	struct gb_out o;
	char **tables, *path;
	size_t ntables;
	time_t snaptime;
	int c;

	gb_setprogname(argv[0]);
	atexit(gb_close_stdout);
	while ((c = getopt_long(argc, argv, "c:hi:j:o:P:qS:s:t:vw:",
	    gb_stdopts, NULL)) != -1)
		switch (c) {
		case 'c': x.confpath = optarg; break;
		case 'h': usage(stdout, GB_EXIT_OK); break;
		case 'i': x.prevpath = optarg; break;
		case 'j': x.job = optarg; break;
		case 'o': x.outdir = strcmp(optarg, "-") ? optarg : NULL; break;
		case 'P': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || end == optarg || n < 1 || n > 64)
				gb_errx(GB_EXIT_USAGE, "-P wants 1 to 64 threads, not "
				    "%s", optarg);
			x.nthreads = (int)n;
			break;
		}
		case 'q': gb_progress_quiet(); break;
		case 'S': x.statedir = optarg; break;
		case 's': x.source = optarg; break;
		case 't':
			x.want = gb_realloc(x.want, (x.nwant + 1) * sizeof *x.want);
			x.want[x.nwant++] = optarg;
			break;
		case 'v': x.verbose = 1; break;
		case 'w': {
			char *end;
			long w = strtol(optarg, &end, 10);
			if (*end || end == optarg || w < 0 || w > 86400)
				gb_errx(GB_EXIT_USAGE, "-w wants seconds, not %s",
				    optarg);
			x.wait = (int)w;
			break;
		}
		case GB_OPT_VERSION: gb_version();
		default: usage(stderr, GB_EXIT_USAGE);
		}
	if (optind != argc)
		usage(stderr, GB_EXIT_USAGE);
	if (!x.outdir && isatty(STDOUT_FILENO))
		gb_errx(GB_EXIT_USAGE, "the export stream is binary: redirect "
		    "stdout, or write a directory with -o DIR");

	setup(&x);
	gb_cleanup_signals();
	x.nthreads = gb_threads(x.nthreads, 4);	/* default: cores, up to 4 */
	if (x.pg) {
		x.pgs = gb_calloc((size_t)x.nthreads, sizeof *x.pgs);
		x.pgs[0] = x.pg;
		x.nthreads = gb_pg_snapshots(x.pgs, x.nthreads, x.source, x.wait);
	} else {
		x.conns = gb_calloc((size_t)x.nthreads, sizeof *x.conns);
		x.nthreads = gb_sqlite_snapshots(x.conns, x.nthreads, x.dbpath,
		    x.wait);
		x.db = x.conns[0];
	}
	if (x.verbose)
		fprintf(stderr, "gb-export: %d thread%s on one snapshot\n",
		    x.nthreads, x.nthreads == 1 ? "" : "s");
	snaptime = time(NULL);
	new_id(&x, snaptime);
	tables = choose_tables(&x, &ntables);
	if (ntables == 0)
		gb_errx(GB_EXIT_RUN, "%s: the database has no tables", x.dbpath);
	/*
	 * The other connections lock them too, now: a schema change that
	 * queues for the first one's lock would hold up their reads behind
	 * it until -w ran out.
	 */
	for (int i = 1; x.pgs && i < x.nthreads; i++)
		gb_pg_lock(x.pgs[i], tables, ntables);
	make_workdir(&x);
	make_statedir(&x);
	gb_progress_start("exported", 1, 0);

	create_file(&x, "SCHEMA.sql", &path, &o, 1);
	if (x.pg)
		gb_pg_schema(x.pg, tables, ntables, &o);
	else
		gb_sqlite_schema(x.db, tables, ntables, &o);
	close_file(&x, &o, path, x.m.schema_sha256);
	x.m.schema_bytes = o.bytes;
	export_tables(&x, tables, ntables);
	gb_progress_end();
	for (int i = 0; x.pgs && i < x.nthreads; i++)
		gb_pg_close(x.pgs[i]);	/* ends the read transactions */
	for (int i = 0; x.conns && i < x.nthreads; i++)
		gb_sqlite_close(x.conns[i]);
	write_manifest(&x);

	if (x.outdir) {
		finish_dir(&x);
		commit_state(&x);
	} else
		stream_tar(&x, snaptime);

	gb_free_strv(tables);
	for (size_t i = 0; i < x.nfiles; i++)
		free(x.files[i].path);
	free(x.files);
	free(x.work);
	free(x.want);
	free(x.dbpath);
	free(x.conns);
	free(x.pgs);
	free(x.jobs);
	free(x.parts);
	free(x.stjob);
	free(x.statedef);
	free(x.stwork);
	free(x.stfiles);
	gb_manifest_free(&x.m);
	gb_manifest_free(&x.prev);
	gb_conf_free(&x.conf);
	return GB_EXIT_OK;
}
