/*
 * gb-catalog - the catalog: media and where they are, archives and their
 * copies, rotation, retention, the backup log, health checks, growth
 * reports and the audit trail.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gb.h"
#include "gb-db.h"
#include "gb-media.h"
#include "gb-pgp.h"

struct cat {
	struct gb_conf conf;
	struct gb_catalog *c;
	char now[21];		/* --date, or the present */
	int csv, dry_run, verify, verbose, raw, quiet;
	int list;		/* import --list */
	int report, checkpoints, daily;	/* audit --report, --checkpoints;
				   checkpoint --daily */
	const char *signer;	/* --signer: the pinned signer */
	const char *output;	/* checkpoint -o FILE */
	int dated;		/* now is --date's */
	const char *html;	/* report --html FILE */
	const char *to, *by, *why, *kind, *pool, *capacity, *job, *at, *detail;
	const char *to_site;	/* move --to-site */
	const char *archive, *rows, *bytes, *error, *medium, *status, *pid;
	int limit;
	struct gb_out out;	/* stdout, for --csv */
	const char **jobs;	/* every --job, for latest */
	size_t njobs;
	const char *site;	/* --site: the site a view shows */
	int all_sites;		/* --all-sites */
};

/* One entry per command, as usage and gb-catalog(1) show it. */
static const char *const synopsis[] = {
	"media [list [-b] | show id [-b] | retire id [--why text] |\n"
	"                  add id --kind dir|tape --pool pool "
	"[--capacity bytes]]",
	"archives [-b] [--job job]",
	"copies [--site site] [archive]",
	"move medium --to onsite|transit|offsite [--by name]\n"
	"                  [--why text] [--date date]",
	"move medium --to-site site [--by name] [--why text] [--date date]",
	"receive medium [--by name] [--why text] [--date date]",
	"due [-q] [--date date] [--site site | --all-sites]",
	"chain [--at time] [--job job] [--site site | --all-sites]",
	"expire [--dry-run] [--date date]",
	"log [-b] [--job job] [--site site] [-n count] [--csv]",
	"log start job [--pid pid] [--date date]",
	"log end id ok|failed [--archive archive] [--rows n]\n"
	"                  [--bytes n] [--error text] [--date date]",
	"tested|verified archive ok|failed [--medium medium]\n"
	"                  [--detail text] [--date date]",
	"check [-v] [--date date] [--site site | --all-sites]",
	"report [-b] [--csv | --html file] [--date date]\n"
	"                  [--site site | --all-sites]",
	"audit [--verify]",
	"audit --verify --checkpoints [--signer fpr] media|file ...",
	"audit --report [--csv] [--signer fpr] from to",
	"checkpoint [--daily] [--date date] [-o file]",
	"latest --job job ...",
	"manifest [--site site] archive",
	"import [--list] [--verify] [-b] media ...",
	"upgrade",
	"migrate --to uri",
	"job|pool [name ...]",
	"site [list | add name role]",
};

/*
 * Does the synopsis line s show command cmd (its first word, or one of
 * its '|' alternatives)?
 */
static int
shows(const char *s, const char *cmd)
{
	size_t n = strlen(cmd);

	for (;;) {
		if (strncmp(s, cmd, n) == 0 && (s[n] == ' ' || s[n] == '|' ||
		    !s[n]))
			return 1;
		s += strcspn(s, "| ");
		if (*s++ != '|')
			return 0;
	}
}

/* The usage of every command, or of cmd (NULL: every). */
static _Noreturn void
usage_of(FILE *fp, const char *cmd, int status)
{
	int n = 0;

	for (size_t i = 0; i < sizeof synopsis / sizeof *synopsis; i++)
		if (!cmd || shows(synopsis[i], cmd))
			fprintf(fp, "%s gb-catalog [-c conf] %s\n", n++ ? "      " :
			    "usage:", synopsis[i]);
	exit(status);
}

static _Noreturn void
usage(FILE *fp, int status)
{
	usage_of(fp, NULL, status);
}

/* "2026-11-24" or a full UTC timestamp, as the catalog writes times. */
static void
parse_date(const char *s, char out[21])
{
	if (gb_parse_date(s, out) == -1)
		gb_errx(GB_EXIT_USAGE, "%s: not a date (YYYY-MM-DD or "
		    "YYYY-MM-DDTHH:MM:SSZ)", s);
}

static long
conf_num(struct cat *x, const char *section, const char *key, long def)
{
	const char *v = gb_conf_get(&x->conf, section, key);
	char *end;
	long n;

	if (!v || !*v)
		return def;
	n = strtol(v, &end, 10);
	if (*end || n < 0)
		gb_errx(GB_EXIT_USAGE, "%s: [%s] %s must be a number, not %s",
		    x->conf.path, section, key, v);
	return n;
}

static struct gb_stmt *
q(struct cat *x, const char *sql)
{
	return gb_catalog_prepare(x->c, sql);
}

static void
bind(struct gb_stmt *st, int i, const char *v)
{
	if (v)
		gb_bind_text(st, i, v);
}

static int
medium_exists(struct cat *x, const char *id, char *loc, size_t loclen)
{
	struct gb_stmt *st = q(x, "SELECT location FROM media WHERE site = ?2 "
	    "AND id = ?1");
	int found;

	bind(st, 1, id);
	bind(st, 2, x->c->site);
	found = gb_step(st) == GB_ROW;
	if (found && loc)
		snprintf(loc, loclen, "%s", gb_col(st, 0));
	gb_finalize(st);
	return found;
}

/*
 * The sites a view (due, chain, check, report) shows, *n of them, NULL
 * after them: --site's, one the catalog has rows of (or the writer's
 * own); every site of the catalog and also, when not NULL (--all-sites;
 * for an empty catalog, the writer's own); or, with neither option, NULL
 * and *n 1: every row the role may read as one, as a single site's
 * catalog always was (on PostgreSQL a site's role reads its own site's).
 */
static char **
view_sites(struct cat *x, const char *also, size_t *n)
{
	char **v;
	size_t i;

	*n = 1;
	if (!x->site && !x->all_sites)
		return NULL;
	v = gb_catalog_sites(x->c, also, n);
	if (x->site) {
		for (i = 0; i < *n && strcmp(v[i], x->site); i++)
			;
		if (i == *n && strcmp(x->site, x->c->site))
			gb_errx(GB_EXIT_USAGE, "--site %s: no such site in the "
			    "catalog%s", x->site, gb_catalog_is_pg(x->c) ? ", or "
			    "not one this role may read" : "");
		gb_free_strv(v);
		v = NULL;
	}
	if (!v || !*n) {
		gb_free_strv(v);
		v = gb_calloc(2, sizeof *v);
		v[0] = gb_strdup(x->site ? x->site : x->c->site);
		*n = 1;
	}
	return v;
}

/* job, pool ------------------------------------------------------------ */

/*
 * The task table as gb-backup reads it (gb-catalog(1)): without names an
 * index, with names their records, each judged; exit 2 after every error.
 */
static int
cmd_job(struct cat *x, const char *cmd, int argc, char **argv)
{
	int pool = strcmp(cmd, "pool") == 0, bad = 0, i;
	union { struct gb_job j; struct gb_pool p; } *r;
	struct gb_pool p;
	const char *name, *cat = gb_catalog_path(&x->conf);
	size_t it = 0;

	if (argc == 0) {
		if (cat)
			printf("catalog\t%s\n", cat);
		printf("spool\t%s\n", gb_spool_dir(&x->conf));
		while ((name = gb_conf_next_section(&x->conf, "job", &it)))
			printf("job\t%s\n", name);
		it = 0;
		while ((name = gb_conf_next_section(&x->conf, "pool", &it)))
			printf("pool\t%s\n", name);
		return GB_EXIT_OK;
	}
	r = gb_calloc((size_t)argc, sizeof *r);
	if (!pool)
		bad += gb_spool_check(&x->conf);
	for (i = 0; i < argc; i++) {
		char *s = gb_asprintf("%s %s", cmd, argv[i]);
		if (!gb_conf_has_section(&x->conf, s))
			bad += (gb_warnx("config: %s: no [%s] section", x->conf.path,
			    s), 1);
		else
			bad += pool ? gb_pool_read(&x->conf, argv[i], &r[i].p) :
			    gb_job_read(&x->conf, argv[i], &r[i].j);
		free(s);
	}
	/* the pools of the jobs, each judged once */
	for (i = 0; !pool && i < argc; i++) {
		const char *pn = r[i].j.pool;
		char *s = gb_asprintf("pool %s", pn ? pn : "");
		int k = 0;
		while (pn && k < i && (!r[k].j.pool || strcmp(r[k].j.pool, pn)))
			k++;
		if (pn && k == i && gb_conf_has_section(&x->conf, s))
			bad += gb_pool_read(&x->conf, pn, &p);
		free(s);
	}
	for (i = 0; !bad && i < argc; i++)
		if (pool)
			gb_pool_print(stdout, &r[i].p);
		else
			gb_job_print(stdout, &x->conf, &r[i].j);
	free(r);
	return bad ? GB_EXIT_USAGE : GB_EXIT_OK;
}

/* media ------------------------------------------------------------- */

/* media add and retire: their transactions (gb_catalog_txn). */
struct medium {
	struct cat *x;
	const char *id;
	long long cap;
};

static void
media_add(struct gb_catalog *c, void *arg)
{
	struct medium *m = arg;

	gb_catalog_add_medium(c, &m->x->conf, m->id, m->x->kind, m->x->pool,
	    m->cap, NULL);
}

static void
media_retire(struct gb_catalog *c, void *arg)
{
	struct medium *m = arg;
	const char *why = m->x->why;

	gb_catalog_run(c, "UPDATE media SET state = 'retired' WHERE site = ?2 "
	    "AND id = ?1", 2, m->id, c->site);
	gb_catalog_audit(c, "retire", m->id, "retired by %s%s%s", gb_actor(),
	    why ? ": " : "", why ? why : "");
}

static int
cmd_media(struct cat *x, int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : "list";
	struct medium m = { x, argc > 1 ? argv[1] : NULL, 0 };
	struct gb_stmt *st;

	if (strcmp(sub, "list") == 0) {
		st = q(x, "SELECT m.id, m.kind, m.pool, m.state, m.location, "
		    "m.bytes_used, coalesce(CAST(m.capacity AS TEXT), ''), "
		    "coalesce(m.due_back, "
		    "''), (SELECT count(*) FROM copies c WHERE "
		    GB_COPY_MEDIUM("c", "m") " AND c.status = 'good') FROM media "
		    "m ORDER BY m.pool, m.id, m.site");
		struct gb_table t;
		gb_table_init(&t, "lllllrrrl");
		for (int i = 0; i < 9; i++)
			gb_table_add(&t, (const char *[]){ "MEDIUM", "KIND", "POOL",
			    "STATE", "WHERE", "USED", "CAPACITY", "COPIES",
			    "DUE BACK" }[i]);
		while (gb_step(st) == GB_ROW) {
			for (int i = 0; i < 5; i++)
				gb_table_add(&t, gb_col(st, i));
			gb_table_size(&t, gb_col_int64(st, 5), x->raw);
			if (gb_col_int64(st, 6) > 0)
				gb_table_size(&t, gb_col_int64(st, 6), x->raw);
			else
				gb_table_add(&t, "");
			gb_table_add(&t, gb_col(st, 8));
			gb_table_add(&t, gb_col(st, 7));
		}
		gb_finalize(st);
		gb_table_print(&t, stdout, "");
		return GB_EXIT_OK;
	}
	if (argc < 2)
		usage(stderr, GB_EXIT_USAGE);
	if (strcmp(sub, "show") == 0) {
		char loc[16];
		if (!medium_exists(x, argv[1], loc, sizeof loc))
			gb_errx(GB_EXIT_USAGE, "no medium %s in the catalog",
			    argv[1]);
		st = q(x, "SELECT id, kind, pool, state, location, capacity, "
		    "bytes_used, labelled_at, last_written, due_back, next_file, "
		    "device FROM media WHERE site = ?2 AND id = ?1");
		bind(st, 1, argv[1]);
		bind(st, 2, x->c->site);
		if (gb_step(st) == GB_ROW) {
			static const char *names[] = { "medium", "kind", "pool",
			    "state", "location", "capacity", "used", "labelled",
			    "last written", "due back", "next tape file", "device" };
			for (int i = 0; i < 12; i++) {
				char sz[GB_SIZE_LEN] = "";
				if ((i == 5 || i == 6) && !gb_col_null(st, i))
					gb_fmt_size(sz, gb_col_int64(st, i), x->raw);
				printf("%-15s %s\n", names[i], *sz ? sz : gb_col(st, i));
			}
		}
		gb_finalize(st);
		printf("\ncopies:\n");
		st = q(x, "SELECT c.archive, c.position, c.status, coalesce("
		    "c.written_at, c.started_at), coalesce(c.verified_at, "
		    "'never') FROM copies c JOIN media m ON " GB_COPY_MEDIUM("c",
		    "m") " WHERE m.site = ?2 AND m.id = ?1 ORDER BY c.id");
		bind(st, 1, argv[1]);
		bind(st, 2, x->c->site);
		while (gb_step(st) == GB_ROW)
			printf("  %-40s %-8s %-8s %s verified %s\n", gb_col(st, 0),
			    gb_col(st, 1), gb_col(st, 2), gb_col(st, 3),
			    gb_col(st, 4));
		gb_finalize(st);
		printf("\nmovements:\n");
		st = q(x, "SELECT at, from_loc, to_loc, by, coalesce(why, '') "
		    "FROM movements WHERE site = ?2 AND medium = ?1 ORDER BY id");
		bind(st, 1, argv[1]);
		bind(st, 2, x->c->site);
		while (gb_step(st) == GB_ROW)
			printf("  %s %s -> %s by %s %s\n", gb_col(st, 0),
			    gb_col(st, 1), gb_col(st, 2), gb_col(st, 3),
			    gb_col(st, 4));
		gb_finalize(st);
		return GB_EXIT_OK;
	}
	if (strcmp(sub, "add") == 0) {
		if (!x->kind || !x->pool)
			gb_errx(GB_EXIT_USAGE, "media add needs --kind dir|tape "
			    "and --pool POOL");
		if (x->capacity && gb_parse_size(x->capacity, &m.cap) == -1)
			gb_errx(GB_EXIT_USAGE, "--capacity wants bytes (with K, M, G "
			    "or T for powers of 1024), not %s", x->capacity);
		gb_catalog_txn(x->c, media_add, &m);
		return GB_EXIT_OK;
	}
	if (strcmp(sub, "retire") == 0) {
		if (!medium_exists(x, argv[1], NULL, 0))
			gb_errx(GB_EXIT_USAGE, "no medium %s in the catalog",
			    argv[1]);
		gb_catalog_txn(x->c, media_retire, &m);
		return GB_EXIT_OK;
	}
	usage(stderr, GB_EXIT_USAGE);
}

/* archives and copies ------------------------------------------------ */

/*
 * The site whose archive name a command names: --site's; else the one
 * site with an archive of that name among the rows the role reads (a
 * site's host reads its own), or the writer's own when none has it (for
 * the caller's "no archive").  Names are per site: held by more than one,
 * exit 2 and --site decides.  Allocated.
 */
static char *
named_site(struct cat *x, const char *name)
{
	struct gb_stmt *st;
	char **v = NULL, *list, *t;
	size_t n = 0;

	if (x->site)
		return gb_strdup(x->site);
	st = q(x, "SELECT DISTINCT site FROM archives WHERE name = ?1 ORDER BY "
	    "site");
	bind(st, 1, name);
	while (gb_step(st) == GB_ROW) {
		v = gb_realloc(v, (n + 1) * sizeof *v);
		v[n++] = gb_strdup(gb_col(st, 0));
	}
	gb_finalize(st);
	if (n > 1) {
		list = gb_strdup(v[0]);
		for (size_t i = 1; i < n; i++) {
			t = gb_asprintf("%s%s%s", list, i + 1 < n ? ", " : " and ",
			    v[i]);
			free(list);
			list = t;
		}
		gb_errx(GB_EXIT_USAGE, "archive %s is held by sites %s: give "
		    "--site", name, list);
	}
	t = n ? v[0] : gb_strdup(x->c->site);
	free(v);
	return t;
}

static int
cmd_archives(struct cat *x)
{
	struct gb_stmt *st = q(x, "SELECT a.name, a.job, a.level, a.snapshot, "
	    "a.size, a.rows, (SELECT count(*) FROM copies c WHERE c.site = "
	    "a.site AND c.archive = a.name AND c.status = 'good'), coalesce("
	    "a.expired_at, '') FROM archives a WHERE ?1 IS NULL OR a.job = ?1 "
	    "ORDER BY a.snapshot");

	struct gb_table t;

	bind(st, 1, x->job);
	gb_table_init(&t, "llllrrrl");
	for (int i = 0; i < 8; i++)
		gb_table_add(&t, (const char *[]){ "ARCHIVE", "JOB", "LEVEL",
		    "SNAPSHOT", "SIZE", "ROWS", "COPIES", "EXPIRED" }[i]);
	while (gb_step(st) == GB_ROW)
		for (int i = 0; i < 8; i++)
			if (i == 4)
				gb_table_size(&t, gb_col_int64(st, i), x->raw);
			else
				gb_table_add(&t, gb_col(st, i));
	gb_finalize(st);
	gb_table_print(&t, stdout, "");
	return GB_EXIT_OK;
}

static int
cmd_copies(struct cat *x, const char *archive)
{
	struct gb_stmt *st = q(x, "SELECT c.archive, c.medium, m.location, "
	    "c.position, c.status, coalesce(c.written_at, c.started_at), "
	    "coalesce(c.verified_at, 'never'), coalesce(c.error, '') FROM "
	    "copies c JOIN media m ON " GB_COPY_MEDIUM("c", "m") " WHERE "
	    GB_OF_SITE("c.site", 2) " AND (?1 IS NULL OR c.archive = ?1) ORDER "
	    "BY c.id, m.site");
	char *site = archive ? named_site(x, archive) : NULL;
	struct gb_table t;

	bind(st, 1, archive);
	bind(st, 2, site ? site : x->site);
	free(site);
	gb_table_init(&t, "llllllll");
	for (int i = 0; i < 8; i++)
		gb_table_add(&t, (const char *[]){ "ARCHIVE", "MEDIUM", "WHERE",
		    "POSITION", "STATUS", "WRITTEN", "VERIFIED", "ERROR" }[i]);
	while (gb_step(st) == GB_ROW)
		for (int i = 0; i < 8; i++)
			gb_table_add(&t, gb_col(st, i));
	gb_finalize(st);
	gb_table_print(&t, stdout, "");
	return GB_EXIT_OK;
}

/* move and due ------------------------------------------------------- */

/*
 * A move --date may not come before what the catalog knows of the medium:
 * custody cannot change before it was labelled, last written or last
 * moved.
 */
static void
custody_in_order(struct cat *x, const char *site, const char *medium)
{
	static const char *what[] = { "labelled", "last written", "last moved" };
	struct gb_stmt *st = q(x, "SELECT labelled_at, last_written, (SELECT "
	    "max(at) FROM movements WHERE site = ?2 AND medium = ?1) FROM media "
	    "WHERE site = ?2 AND id = ?1");

	bind(st, 1, medium);
	bind(st, 2, site);
	if (gb_step(st) == GB_ROW)
		for (int i = 2; i >= 0; i--)
			if (strcmp(gb_col(st, i), x->now) > 0)
				gb_errx(GB_EXIT_USAGE, "medium %s was %s at %s, after "
				    "--date %s: custody cannot move before that; give "
				    "the date it really moved (or no --date, for now)",
				    medium, what[i], gb_col(st, i), x->now);
	gb_finalize(st);
}

/*
 * The pool's section, read as gb-backup reads it into *p: 0 for a pool
 * without a section (or one it refuses).
 */
static int
pool_conf(struct cat *x, const char *name, struct gb_pool *p)
{
	char *s = gb_asprintf("pool %s", name);
	int r = gb_conf_has_section(&x->conf, s) &&
	    gb_pool_read(&x->conf, name, p) == 0;

	free(s);
	return r;
}

/* Days a medium of the pool stays in the vault: 0 when unset. */
static long
pool_offsite_days(struct cat *x, const char *name)
{
	struct gb_pool p;

	return pool_conf(x, name, &p) && p.offsite_days > 0 ?
	    p.offsite_days : 0;
}

struct move {
	struct cat *x;
	const char *medium;
	char from[16], due[21];
};

/* A move's transaction (gb_catalog_txn: it may run again). */
static void
move(struct gb_catalog *c, void *arg)
{
	struct move *m = arg;
	struct cat *x = m->x;
	const char *medium = m->medium;
	char *from = m->from, *due = m->due, *pool = NULL;
	struct gb_stmt *st;
	long days;

	*due = '\0';
	if (!medium_exists(x, medium, from, sizeof m->from))
		gb_errx(GB_EXIT_USAGE, "no medium %s in the catalog", medium);
	if (strcmp(from, x->to) == 0)
		gb_errx(GB_EXIT_USAGE, "medium %s is already %s", medium, x->to);
	if (x->dated)
		custody_in_order(x, x->c->site, medium);
	st = q(x, "SELECT pool FROM media WHERE site = ?2 AND id = ?1");
	bind(st, 1, medium);
	bind(st, 2, x->c->site);
	if (gb_step(st) == GB_ROW)
		pool = gb_strdup(gb_col(st, 0));
	gb_finalize(st);
	if (strcmp(x->to, "offsite") == 0 && pool &&
	    (days = pool_offsite_days(x, pool)) > 0) {
		gb_fmt_time(due, gb_parse_time(x->now) + days * 86400);
	}
	gb_catalog_run(x->c, "INSERT INTO movements(site, medium, at, from_loc, "
	    "to_loc, by, why) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)", 7, x->c->site,
	    medium, x->now, from, x->to, x->by ? x->by : gb_actor(), x->why);
	/*
	 * a medium on its way back stays due when it was due; one on its way
	 * to another site is no longer
	 */
	gb_catalog_run(x->c, "UPDATE media SET location = ?2, due_back = CASE "
	    "WHEN ?2 = 'onsite' THEN NULL WHEN ?3 IS NOT NULL THEN ?3 ELSE "
	    "due_back END, to_site = NULL WHERE site = ?4 AND id = ?1", 4, medium,
	    x->to, *due ? due : NULL, x->c->site);
	gb_catalog_audit(c, "move", medium, "%s -> %s by %s%s%s", from,
	    x->to, x->by ? x->by : gb_actor(), x->why ? ": " : "",
	    x->why ? x->why : "");
	free(pool);
}

static int move_to_site(struct cat *x, const char *medium);

static int
cmd_move(struct cat *x, const char *medium)
{
	struct move m = { x, medium, "", "" };

	if (x->to_site)
		return move_to_site(x, medium);
	if (!x->to || (strcmp(x->to, "onsite") && strcmp(x->to, "transit") &&
	    strcmp(x->to, "offsite")))
		gb_errx(GB_EXIT_USAGE, "move needs --to onsite, transit or "
		    "offsite, or --to-site site");
	gb_catalog_txn(x->c, move, &m);
	printf("%s: %s -> %s%s%s\n", medium, m.from, x->to, *m.due ?
	    ", due back " : "", m.due);
	return GB_EXIT_OK;
}

/* sites and the media that move between them -------------------------- */

/*
 * Sites, their roles and the moves between them are kept in a chain's
 * catalog on PostgreSQL; an SQLite catalog is one site's (a medium from
 * another site is taken in by gb-catalog import).
 */
static void
need_pg(struct cat *x, const char *what)
{
	if (!gb_catalog_is_pg(x->c))
		gb_errx(GB_EXIT_USAGE, "%s needs the catalog on PostgreSQL "
		    "([catalog] uri); %s is an SQLite catalog, one site's (a "
		    "medium from another site is taken in with gb-catalog import)",
		    what, x->c->path);
}

/*
 * A medium between two sites: the sender's half (move --to-site) or the
 * receiver's (receive).  other: the site at the other end; from: where
 * the medium was (the sender's half); why: the movement's why.
 */
struct transfer {
	struct cat *x;
	const char *medium;
	char *other, *why, from[16];
};

/* Starts an attempt of a transaction afresh (gb_catalog_txn may rerun). */
static void
transfer_reset(struct transfer *t)
{
	free(t->other);
	free(t->why);
	t->other = t->why = NULL;
	*t->from = '\0';
}

/* The sender's transaction: the medium leaves, in transit to x->to_site. */
static void
send_medium(struct gb_catalog *c, void *arg)
{
	struct transfer *t = arg;
	struct cat *x = t->x;
	const char *to = x->to_site;
	struct gb_stmt *st;
	int known;

	transfer_reset(t);
	st = q(x, "SELECT 1 FROM sites WHERE name = ?1");
	bind(st, 1, to);
	known = gb_step(st) == GB_ROW;
	gb_finalize(st);
	if (!known)
		gb_errx(GB_EXIT_USAGE, "no site %s in the catalog (gb-catalog "
		    "site list shows them)", to);
	st = q(x, "SELECT location, coalesce(to_site, '') FROM media WHERE "
	    "site = ?1 AND id = ?2");
	bind(st, 1, c->site);
	bind(st, 2, t->medium);
	if (gb_step(st) != GB_ROW)
		gb_errx(GB_EXIT_USAGE, "no medium %s of site %s in the catalog",
		    t->medium, c->site);
	if (strcmp(to, c->site) == 0)
		gb_errx(GB_EXIT_USAGE, "medium %s is site %s's already",
		    t->medium, to);
	if (strcmp(gb_col(st, 1), to) == 0)
		gb_errx(GB_EXIT_USAGE, "medium %s is on its way to site %s "
		    "already", t->medium, to);
	snprintf(t->from, sizeof t->from, "%s", gb_col(st, 0));
	gb_finalize(st);
	if (x->dated)
		custody_in_order(x, c->site, t->medium);
	t->why = gb_asprintf("to site %s%s%s", to, x->why ? ": " : "", x->why ?
	    x->why : "");
	gb_catalog_run(c, "INSERT INTO movements(site, medium, at, from_loc, "
	    "to_loc, by, why) VALUES(?1, ?2, ?3, ?4, 'transit', ?5, ?6)", 6,
	    c->site, t->medium, x->now, t->from, x->by ? x->by : gb_actor(),
	    t->why);
	gb_catalog_run(c, "UPDATE media SET location = 'transit', to_site = ?3, "
	    "due_back = NULL WHERE site = ?1 AND id = ?2", 3, c->site, t->medium,
	    to);
	gb_catalog_audit(c, "move", t->medium, "%s -> transit by %s, %s",
	    t->from, x->by ? x->by : gb_actor(), t->why);
}

static int
move_to_site(struct cat *x, const char *medium)
{
	struct transfer t = { x, medium, NULL, NULL, "" };

	need_pg(x, "move --to-site");
	if (x->to)
		gb_errx(GB_EXIT_USAGE, "move takes --to or --to-site, not both");
	gb_catalog_txn(x->c, send_medium, &t);
	printf("%s: %s -> transit, to site %s\n", medium, t.from, x->to_site);
	transfer_reset(&t);
	return GB_EXIT_OK;
}

/*
 * The receiver's transaction: the medium on its way here becomes this
 * site's, onsite.  Its copies stay the rows of the sites that wrote them.
 */
static void
receive_medium(struct gb_catalog *c, void *arg)
{
	struct transfer *t = arg;
	struct cat *x = t->x;
	struct gb_stmt *st;
	char *pool = NULL, *section;
	int mine;

	transfer_reset(t);
	st = q(x, "SELECT site, pool FROM media WHERE id = ?1 AND to_site = ?2 "
	    "ORDER BY site");
	bind(st, 1, t->medium);
	bind(st, 2, c->site);
	if (gb_step(st) == GB_ROW) {
		t->other = gb_strdup(gb_col(st, 0));
		pool = gb_strdup(gb_col(st, 1));
	}
	gb_finalize(st);
	st = q(x, "SELECT 1 FROM media WHERE site = ?1 AND id = ?2");
	bind(st, 1, c->site);
	bind(st, 2, t->medium);
	mine = gb_step(st) == GB_ROW;
	gb_finalize(st);
	if (!t->other && mine)
		gb_errx(GB_EXIT_USAGE, "medium %s is site %s's already", t->medium,
		    c->site);
	if (!t->other)
		gb_errx(GB_EXIT_USAGE, "no medium %s on its way to site %s: the "
		    "site that sends it runs gb-catalog move %s --to-site %s",
		    t->medium, c->site, t->medium, c->site);
	if (mine)
		gb_errx(GB_EXIT_USAGE, "site %s has a medium %s already, and "
		    "site %s's %s cannot take its name; site %s takes it back "
		    "(gb-catalog move %s --to onsite) and gives it a new label",
		    c->site, t->medium, t->other, t->medium, t->other, t->medium);
	if (x->dated)
		custody_in_order(x, t->other, t->medium);
	section = gb_asprintf("pool %s", pool);
	if (!gb_conf_has_section(&x->conf, section))
		gb_catalog_warnx("warning: pool %s is not described in the "
		    "config; it gets the default rules (30 days' retention, "
		    "stays onsite)", pool);
	free(section);
	free(pool);
	t->why = gb_asprintf("from site %s%s%s", t->other, x->why ? ": " : "",
	    x->why ? x->why : "");
	/* the sender may have called the move off since */
	st = q(x, "UPDATE media SET site = ?1, to_site = NULL, location = "
	    "'onsite', due_back = NULL WHERE site = ?3 AND id = ?2 AND to_site "
	    "= ?1");
	bind(st, 1, c->site);
	bind(st, 2, t->medium);
	bind(st, 3, t->other);
	if (gb_step(st) != GB_DONE || gb_changes(st) != 1)
		gb_errx(GB_EXIT_USAGE, "medium %s is no longer on its way to site "
		    "%s: site %s called the move off", t->medium, c->site,
		    t->other);
	gb_finalize(st);
	gb_catalog_run(c, "INSERT INTO movements(site, medium, at, from_loc, "
	    "to_loc, by, why) VALUES(?1, ?2, ?3, 'transit', 'onsite', ?4, ?5)",
	    5, c->site, t->medium, x->now, x->by ? x->by : gb_actor(), t->why);
	gb_catalog_audit(c, "receive", t->medium, "transit -> onsite by %s, %s",
	    x->by ? x->by : gb_actor(), t->why);
}

static int
cmd_receive(struct cat *x, const char *medium)
{
	struct transfer t = { x, medium, NULL, NULL, "" };

	need_pg(x, "receive");
	gb_catalog_txn(x->c, receive_medium, &t);
	printf("%s: transit -> onsite, from site %s\n", medium, t.other);
	transfer_reset(&t);
	return GB_EXIT_OK;
}

/*
 * Every pool judged as gb-backup judges it (lib/job.c), before a command
 * that reads them: a pool the config gets wrong must not pass unnoticed.
 */
static void
check_pools(struct cat *x)
{
	struct gb_pool p;
	const char *name;
	size_t it = 0;
	int bad = 0;

	while ((name = gb_conf_next_section(&x->conf, "pool", &it)))
		bad += gb_pool_read(&x->conf, name, &p);
	if (bad)
		exit(GB_EXIT_USAGE);
}

/* Do the pool's media rotate to the vault?  (A pool without a section: no.) */
static int
pool_offsite(struct cat *x, const char *name)
{
	struct gb_pool p;

	return pool_conf(x, name, &p) && p.offsite;
}

/*
 * Was the site's medium offsite since time t (its last write)?  A trip to
 * transit and back (the courier did not come) is no trip to the vault.
 */
static int
offsite_since(struct cat *x, const char *site, const char *id, const char *t)
{
	struct gb_stmt *st = q(x, "SELECT 1 FROM movements WHERE "
	    GB_OF_SITE("site", 3) " AND medium = ?1 AND to_loc = 'offsite' AND "
	    "at >= ?2");
	int r;

	bind(st, 1, id);
	bind(st, 2, t);
	bind(st, 3, site);
	r = gb_step(st) == GB_ROW;
	gb_finalize(st);
	return r;
}

/*
 * What must go out today: written media of pools that rotate offsite and
 * are still here.  What must come back: offsite media due by today.  Of
 * a site, its pools' rotation as the config has it.
 */
static void
due_site(struct cat *x, const char *site)
{
	struct gb_stmt *st = q(x, "SELECT id, pool, location, coalesce("
	    "last_written, ''), coalesce(due_back, '') FROM media WHERE "
	    GB_OF_SITE("site", 1) " AND state <> 'retired' ORDER BY pool, id");
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int out = 0, back = 0;

	if (!f)
		gb_err(GB_EXIT_RUN, "out of memory");
	bind(st, 1, site);
	fprintf(f, "send offsite:\n");
	while (gb_step(st) == GB_ROW) {
		const char *loc = gb_col(st, 2), *written = gb_col(st, 3);
		if (pool_offsite(x, gb_col(st, 1)) && strcmp(loc, "onsite") == 0 &&
		    *written && !offsite_since(x, site, gb_col(st, 0), written)) {
			fprintf(f, "  %-16s pool %-10s written %s\n", gb_col(st, 0),
			    gb_col(st, 1), written);
			out++;
		}
	}
	if (!out)
		fprintf(f, "  (none)\n");
	gb_reset(st);
	fprintf(f, "recall (due back by %.10s):\n", x->now);
	while (gb_step(st) == GB_ROW) {
		const char *due = gb_col(st, 4);
		if (strcmp(gb_col(st, 2), "offsite") == 0 && *due &&
		    strcmp(due, x->now) <= 0) {
			fprintf(f, "  %-16s pool %-10s due %s\n", gb_col(st, 0),
			    gb_col(st, 1), due);
			back++;
		}
	}
	if (!back)
		fprintf(f, "  (none)\n");
	gb_finalize(st);
	if (fclose(f) != 0)
		gb_err(GB_EXIT_RUN, "out of memory");
	/* -q: nothing to do, nothing said (cron mails only work) */
	if ((out || back || !x->quiet) && x->all_sites)
		printf("site %s:\n", site);
	if (out || back || !x->quiet)
		fwrite(text, 1, len, stdout);
	free(text);
}

static int
cmd_due(struct cat *x)
{
	size_t n;
	char **sites = view_sites(x, NULL, &n);

	check_pools(x);
	for (size_t i = 0; i < n; i++)
		due_site(x, sites ? sites[i] : NULL);
	gb_free_strv(sites);
	return GB_EXIT_OK;
}

/* chain ---------------------------------------------------------------- */

static void
print_copies(struct cat *x, const char *site, const char *archive)
{
	/*
	 * A copy's medium is its site's (ids are per site), or, when the site
	 * has none of that id now, the one that moved to another site.
	 */
	struct gb_stmt *st = q(x, "SELECT c.medium, m.location, c.position, "
	    "m.kind, CASE WHEN m.site = c.site THEN '' ELSE m.site END FROM "
	    "copies c JOIN media m ON " GB_COPY_MEDIUM("c", "m") " WHERE "
	    "c.site = ?2 AND c.archive = ?1 AND c.status = 'good' ORDER BY "
	    "c.id, m.site");
	int n = 0;

	bind(st, 1, archive);
	bind(st, 2, site);
	while (gb_step(st) == GB_ROW) {
		printf("      on %s (%s%s%s, %s %s)\n", gb_col(st, 0),
		    gb_col(st, 1), *gb_col(st, 4) ? " at site " : "", gb_col(st, 4),
		    strcmp(gb_col(st, 3), "tape") == 0 ? "tape file" : "file",
		    gb_col(st, 2));
		n++;
	}
	if (!n)
		printf("      NO GOOD COPY on any medium\n");
	gb_finalize(st);
}

/*
 * For each job of a site that makes fulls: the newest full at or before
 * --at, and the incrementals resting on it up to then, in order.  1 when
 * there is none.
 */
static int
chain_site(struct cat *x, const char *site)
{
	size_t n;
	struct gb_link *v = gb_catalog_chains(x->c, site, x->now, &x->job,
	    !!x->job, &n);

	if (x->all_sites)
		printf("site %s: ", site);
	printf("to restore the state at %s:\n", x->now);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].level, "full") == 0)
			printf("job %s:\n  full         %s  %s\n", v[i].job,
			    v[i].snapshot, v[i].name);
		else
			printf("  incremental  %s  %s (job %s)\n",
			    v[i].snapshot, v[i].name, v[i].job);
		print_copies(x, v[i].site, v[i].name);
	}
	gb_links_free(v, n);
	if (!n) {
		printf("  no full archive at or before that time\n");
		return GB_EXIT_CHECK;
	}
	return GB_EXIT_OK;
}

static int
cmd_chain(struct cat *x)
{
	size_t n;
	char **sites = view_sites(x, NULL, &n);
	int r = GB_EXIT_OK;

	for (size_t i = 0; i < n; i++)
		if (chain_site(x, sites ? sites[i] : NULL) != GB_EXIT_OK)
			r = GB_EXIT_CHECK;
	gb_free_strv(sites);
	return r;
}

/* expire --------------------------------------------------------------- */

/*
 * A job's number by a rule of lib/job.c (retention days, alert hours):
 * its -1 comes after the config's file:line errors.
 */
static long
job_rule(struct cat *x, const char *job,
    long (*rule)(const struct gb_conf *, const char *))
{
	long v = rule(&x->conf, job);

	if (v < 0)
		exit(GB_EXIT_USAGE);
	return v;
}

struct expiry {
	struct cat *x;
	char **names, **chains;
	size_t n, expired;
};

/* The archives that a rerun finds again, forgotten. */
static void
expiry_reset(struct expiry *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->names[i]);
		free(e->chains[i]);
	}
	free(e->names);
	free(e->chains);
	e->names = e->chains = NULL;
	e->n = e->expired = 0;
}

/*
 * Retention: an archive past its job's retention_days goes, unless its
 * chain still has a live member, or its chain is the newest one of its
 * full job that has a good copy (never expire the last way back).
 * gb_catalog_txn: it may run again.
 */
static void
expire(struct gb_catalog *c, void *arg)
{
	struct expiry *e = arg;
	struct cat *x = e->x;
	time_t now;
	struct gb_stmt *st;

	expiry_reset(e);
	now = gb_parse_time(x->now);
	/* the writer's own archives: their chains are within its site */
	st = q(x, "SELECT name, job, snapshot, chain FROM archives WHERE "
	    "site = ?1 AND expired_at IS NULL ORDER BY snapshot");
	bind(st, 1, c->site);
	while (gb_step(st) == GB_ROW) {
		char cutoff[21];
		gb_fmt_time(cutoff, now - job_rule(x, gb_col(st, 1),
		    gb_job_retention) * 86400);
		if (strcmp(gb_col(st, 2), cutoff) < 0) {
			e->names = gb_realloc(e->names, (e->n + 1) *
			    sizeof *e->names);
			e->chains = gb_realloc(e->chains, (e->n + 1) *
			    sizeof *e->chains);
			e->names[e->n] = gb_strdup(gb_col(st, 0));
			e->chains[e->n++] = gb_strdup(gb_col(st, 3));
		}
	}
	gb_finalize(st);
	/* a chain stays whole while any member is live or it is the newest */
	st = q(x, "SELECT (SELECT count(*) FROM archives a WHERE a.site = ?3 "
	    "AND a.chain = ?1 AND a.expired_at IS NULL AND a.snapshot >= ?2) + "
	    "(SELECT count(*) FROM archives f WHERE f.site = ?3 AND f.export_id "
	    "= ?1 AND f.name = (SELECT g.name FROM archives g WHERE g.site = ?3 "
	    "AND g.job = f.job AND g.level = 'full' AND g.expired_at IS NULL AND "
	    "EXISTS (SELECT 1 FROM copies c WHERE c.site = g.site AND c.archive "
	    "= g.name AND c.status = 'good') ORDER BY "
	    GB_ARCHIVE_ORDER("g", "DESC") " LIMIT 1))");
	bind(st, 3, c->site);
	for (size_t i = 0; i < e->n; i++) {
		char cutoff[21];
		struct gb_stmt *job = q(x, "SELECT job FROM archives WHERE "
		    "site = ?2 AND export_id = ?1");
		long keep = 30;
		bind(job, 1, e->chains[i]);
		bind(job, 2, c->site);
		if (gb_step(job) == GB_ROW)
			keep = job_rule(x, gb_col(job, 0), gb_job_retention);
		gb_finalize(job);
		gb_fmt_time(cutoff, now - keep * 86400);
		gb_reset(st);
		bind(st, 1, e->chains[i]);
		bind(st, 2, cutoff);
		if (gb_step(st) == GB_ROW && gb_col_int64(st, 0)) {
			gb_catalog_printf("keep   %s (its chain is still "
			    "needed)\n", e->names[i]);
			continue;
		}
		gb_catalog_printf("%s %s\n", x->dry_run ? "would expire" :
		    "expire", e->names[i]);
		gb_catalog_run(x->c, "UPDATE archives SET expired_at = ?2 WHERE "
		    "site = ?3 AND name = ?1", 3, e->names[i], x->now, c->site);
		gb_catalog_run(x->c, "UPDATE copies SET status = 'expired' WHERE "
		    "site = ?2 AND archive = ?1 AND status = 'good'", 2,
		    e->names[i], c->site);
		gb_catalog_audit(c, "expire", e->names[i], "retention");
		e->expired++;
	}
	gb_finalize(st);
	/* media holding nothing live can be written again */
	st = q(x, "SELECT id FROM media m WHERE site = ?1 AND state = 'full' "
	    "AND NOT EXISTS (SELECT 1 FROM copies c WHERE " GB_COPY_MEDIUM("c",
	    "m") " AND c.status = 'good')");
	bind(st, 1, x->c->site);
	while (gb_step(st) == GB_ROW) {
		gb_catalog_printf("%s %s: nothing live left, reusable\n",
		    x->dry_run ? "would free" : "free", gb_col(st, 0));
		gb_catalog_run(x->c, "UPDATE media SET state = 'usable' WHERE "
		    "site = ?2 AND id = ?1", 2, gb_col(st, 0), x->c->site);
		gb_catalog_audit(x->c, "reuse", gb_col(st, 0), "no live copies");
	}
	gb_finalize(st);
}

static int
cmd_expire(struct cat *x)
{
	struct expiry e = { x, NULL, NULL, 0, 0 };

	check_pools(x);
	/* a dry run does it all, then rolls it back: it tells the truth */
	x->c->dry_run = x->dry_run;
	gb_catalog_txn(x->c, expire, &e);
	printf("%zu archive%s %sexpired\n", e.expired, e.expired == 1 ? "" :
	    "s", x->dry_run ? "would be " : "");
	expiry_reset(&e);
	return GB_EXIT_OK;
}

/* log, tested, verified ------------------------------------------------ */

/* CSV output goes through the export's writer: the same dialect. */
static void
csv_line(struct cat *x, const char *text)
{
	gb_out_write(&x->out, text, strlen(text));
	gb_out_putc(&x->out, '\n');
}

static void
csv_row(struct cat *x, struct gb_stmt *st, int n)
{
	for (int i = 0; i < n; i++) {
		if (i)
			gb_out_putc(&x->out, ',');
		if (!gb_col_null(st, i))
			gb_csv_text(&x->out, gb_col(st, i), strlen(gb_col(st, i)));
	}
	gb_out_putc(&x->out, '\n');
}

/* The runs of a site's job a killed gb-backup left running (reap). */
struct reaping {
	struct cat *x;
	const char *site, *job;
	int check, found;
};
static void reap(struct gb_catalog *c, void *arg);

/* log start and log end: their transactions (gb_catalog_txn). */
struct logrun {
	struct cat *x;
	char **argv;
	long long id;
};

/* The job's runs left running reaped first, in the same transaction. */
static void
log_start(struct gb_catalog *c, void *arg)
{
	struct logrun *k = arg;
	struct reaping r = { k->x, c->site, k->argv[1], 0, 0 };
	struct gb_stmt *st;

	reap(c, &r);
	st = q(k->x, "INSERT INTO runs(site, job, started, "
	    "status, pid, host) VALUES(?5, ?1, ?2, 'running', ?3, ?4) RETURNING "
	    "id");

	bind(st, 1, k->argv[1]);
	bind(st, 2, k->x->now);
	bind(st, 3, k->x->pid);
	bind(st, 4, gb_host_name());
	bind(st, 5, c->site);
	if (gb_step(st) != GB_ROW)
		gb_catalog_fail(c, "cannot log");
	k->id = gb_col_int64(st, 0);
	gb_finalize(st);
}

static void
log_end(struct gb_catalog *c, void *arg)
{
	struct logrun *k = arg;
	struct cat *x = k->x;
	struct gb_stmt *st = q(x, "UPDATE runs SET ended = ?2, status = ?3, "
	    "archive = ?4, rows = ?5, bytes = ?6, error = ?7 WHERE id = ?1 AND "
	    "status = 'running' AND site = ?8");

	bind(st, 1, k->argv[1]);
	bind(st, 2, x->now);
	bind(st, 3, k->argv[2]);
	bind(st, 4, x->archive);
	bind(st, 5, x->rows);
	bind(st, 6, x->bytes);
	bind(st, 7, x->error);
	bind(st, 8, c->site);	/* another site's run is not this one's */
	if (gb_step(st) != GB_DONE)
		gb_catalog_fail(c, "cannot log");
	if (gb_changes(st) != 1)
		gb_errx(GB_EXIT_USAGE, "no running job run %s", k->argv[1]);
	gb_finalize(st);
}

static int
cmd_log(struct cat *x, int argc, char **argv)
{
	struct logrun k = { x, argv, 0 };
	struct gb_stmt *st;

	if (argc >= 2 && strcmp(argv[0], "start") == 0) {
		/* without --pid (not run by gb-backup) no process is known */
		if (x->pid && (strspn(x->pid, "0123456789") != strlen(x->pid) ||
		    !*x->pid || strlen(x->pid) > 9))
			gb_errx(GB_EXIT_USAGE, "--pid wants a process id, not %s",
			    x->pid);
		gb_catalog_txn(x->c, log_start, &k);
		printf("%lld\n", k.id);
		return GB_EXIT_OK;
	}
	if (argc >= 3 && strcmp(argv[0], "end") == 0) {
		if (strcmp(argv[2], "ok") && strcmp(argv[2], "failed"))
			gb_errx(GB_EXIT_USAGE, "log end ID ok|failed");
		if (strspn(argv[1], "0123456789") != strlen(argv[1]) ||
		    !*argv[1] || strlen(argv[1]) > 18)
			gb_errx(GB_EXIT_USAGE, "no running job run %s", argv[1]);
		gb_catalog_txn(x->c, log_end, &k);
		return GB_EXIT_OK;
	}
	if (argc)
		usage(stderr, GB_EXIT_USAGE);
	st = q(x, "SELECT id, job, started, ended, status, rows, bytes, "
	    "archive, error FROM (SELECT * FROM runs WHERE " GB_OF_SITE("job", 1)
	    " AND " GB_OF_SITE("site", 3) " ORDER BY id DESC LIMIT ?2) AS r "
	    "ORDER BY id");
	bind(st, 1, x->job);
	gb_bind_int64(st, 2, x->limit > 0 ? x->limit : 50);
	bind(st, 3, x->site);
	if (x->csv) {
		csv_line(x, "id,job,started,ended,status,rows,bytes,archive,error");
		while (gb_step(st) == GB_ROW)
			csv_row(x, st, 9);
		gb_finalize(st);
		return GB_EXIT_OK;
	}
	struct gb_table t;
	gb_table_init(&t, "rllllrrl");
	for (int i = 0; i < 8; i++)
		gb_table_add(&t, (const char *[]){ "RUN", "JOB", "STARTED",
		    "ENDED", "STATUS", "ROWS", "BYTES", "ARCHIVE / ERROR" }[i]);
	while (gb_step(st) == GB_ROW) {
		for (int i = 0; i < 6; i++)
			gb_table_add(&t, gb_col(st, i));
		if (gb_col_null(st, 6))
			gb_table_add(&t, "");
		else
			gb_table_size(&t, gb_col_int64(st, 6), x->raw);
		gb_table_add(&t, *gb_col(st, 8) ? gb_col(st, 8) : gb_col(st, 7));
	}
	gb_finalize(st);
	gb_table_print(&t, stdout, "");
	return GB_EXIT_OK;
}

/* A restore test (tested) or a verification (verified) of an archive. */
static int
cmd_checked(struct cat *x, const char *kind, int argc, char **argv)
{
	struct gb_stmt *st;

	if (argc != 2 || (strcmp(argv[1], "ok") && strcmp(argv[1], "failed")))
		usage(stderr, GB_EXIT_USAGE);
	st = q(x, "SELECT 1 FROM archives WHERE site = ?2 AND name = ?1");
	bind(st, 1, argv[0]);
	bind(st, 2, x->c->site);	/* it records the writer's own */
	if (gb_step(st) != GB_ROW)
		gb_errx(GB_EXIT_USAGE, "no archive %s in the catalog", argv[0]);
	gb_finalize(st);
	gb_catalog_record_by_hand(x->c, kind, argv[0], x->medium,
	    strcmp(argv[1], "ok") == 0, x->detail, x->now);
	if (strcmp(kind, "restore-test") == 0)
		gb_warnx("note: a restore test recorded by hand is kept as such; "
		    "check wants one that gb-restore --test ran and recorded");
	return GB_EXIT_OK;
}

/* check ---------------------------------------------------------------- */

#define CHECKPOINT_DAYS 2	/* gb-backup issues one a day */

/* --site, --all-sites: each problem names its site, this one. */
static const char *problem_site;

static int
problem(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = gb_vasprintf(fmt, ap);
	va_end(ap);
	/* reap says its problems in a transaction: once it is over */
	gb_catalog_printf("%s%s%s%s\n", problem_site ? "site " : "",
	    problem_site ? problem_site : "", problem_site ? ": " : "", s);
	free(s);
	return 1;
}

/* A key expiring soon, or unusable: one problem line. */
static int
check_key(struct cat *x, gpgme_ctx_t c, const char *name, int usage,
    time_t now, long days)
{
	char why[512];
	gpgme_key_t k = gb_pgp_key(c, name, usage, why, sizeof why);
	int bad = 0;

	if (!k)
		return problem("key: %s", why);
	/* the primary's expiry ends every subkey with it */
	if (k->subkeys && k->subkeys->expires &&
	    k->subkeys->expires < now + days * 86400) {
		char when[21];
		gb_fmt_time(when, k->subkeys->expires);
		bad = problem("key: %s %s (%s) expires %s, within %ld days; "
		    "extend it or replace it", usage == 'e' ? "recipient" :
		    "signer", name, gb_pgp_uid(k), when, days);
		gpgme_key_unref(k);
		return bad;
	}
	for (gpgme_subkey_t s = k->subkeys; s; s = s->next) {
		if (s->revoked || s->expired || s->disabled || s->invalid ||
		    !(usage == 'e' ? s->can_encrypt : s->can_sign))
			continue;
		if (s->expires && s->expires < now + days * 86400) {
			char when[21];
			gb_fmt_time(when, s->expires);
			bad = problem("key: %s %s (%s) expires %s, within %ld days; "
			    "extend it or replace it", usage == 'e' ? "recipient" :
			    "signer", name, gb_pgp_uid(k), when, days);
			break;
		}
	}
	gpgme_key_unref(k);
	return bad;
}

/*
 * What a tool killed outright (SIGKILL, the OOM killer, a power cut) left
 * in $TMPDIR, the spool and the directory media the catalog knows: its
 * work directories and temporary files, stale once their process is gone.
 * Each is one problem; they may hold plaintext.
 */
static void
stale_tmp(void *arg, const char *path, long pid)
{
	struct stat sb;

	*(int *)arg += problem("temporary %s %s: left by process %ld, which "
	    "did not finish; remove it", lstat(path, &sb) == 0 &&
	    S_ISDIR(sb.st_mode) ? "directory" : "file", path, pid);
}

static int
check_tmpfiles(struct cat *x)
{
	const char *spool = gb_conf_get(&x->conf, "spool", "dir");
	char **dirs = gb_calloc(2, sizeof *dirs);
	size_t n = 0;
	struct gb_stmt *st;
	int bad = 0;

	dirs[n++] = gb_strdup(gb_tmpdir());
	dirs[n++] = gb_strdup(spool && *spool ? spool : "/var/spool/gymbackup");
	/* this host's media are its site's */
	st = q(x, "SELECT DISTINCT device FROM media WHERE site = ?1 AND kind = "
	    "'dir' AND device IS NOT NULL ORDER BY device");
	bind(st, 1, x->c->site);
	while (gb_step(st) == GB_ROW) {
		dirs = gb_realloc(dirs, (n + 1) * sizeof *dirs);
		dirs[n++] = gb_strdup(gb_col(st, 0));
	}
	gb_finalize(st);
	for (size_t i = 0; i < n; i++) {
		struct stat a, b;
		size_t k;
		for (k = 0; k < i; k++)	/* each directory once */
			if (stat(dirs[i], &a) == 0 && stat(dirs[k], &b) == 0 &&
			    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
				break;
		if (k == i)
			gb_tmp_stale(dirs[i], NULL, stale_tmp, &bad);
	}
	for (size_t i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
	return bad;
}

/* runs left running ------------------------------------------------- */

/*
 * Runs of a site (NULL: of every site the role reads) a gb-backup left
 * 'running' when it was killed outright (SIGKILL, out of memory, power
 * cut): its process on this host is gone.  They are marked failed, each
 * said on stderr (log start) or as a problem (check); check also names
 * runs it cannot judge (another host, no pid recorded, another site's,
 * which this host may not write) that have run longer than their job's
 * period.  The number found, in r->found.  In the caller's transaction
 * (log start's, check's), or none: read-only, nothing marked.
 */
static void
reap(struct gb_catalog *c, void *arg)
{
	struct reaping *r = arg;
	struct cat *x = r->x;
	const char *site = r->site, *job = r->job;
	int check = r->check;
	struct gb_stmt *st;
	const char *host = gb_host_name();
	char **ids = NULL;
	size_t nids = 0;
	int found = 0;

	st = q(x, "SELECT id, job, started, pid, host, site FROM runs WHERE "
	    GB_OF_SITE("site", 2) " AND status = 'running' AND "
	    GB_OF_SITE("job", 1) " ORDER BY id");
	bind(st, 1, job);
	bind(st, 2, site);
	while (gb_step(st) == GB_ROW) {
		const char *id = gb_col(st, 0), *j = gb_col(st, 1);
		const char *started = gb_col(st, 2), *h = gb_col(st, 4);
		long pid = gb_col_int64(st, 3);
		if (pid > 0 && strcmp(h, host) == 0 &&
		    strcmp(gb_col(st, 5), x->c->site) == 0) {
			/* a process started after the run is not its gb-backup */
			if (!gb_pid_gone(pid, gb_parse_time(started)))
				continue;
			ids = gb_realloc(ids, (nids + 1) * sizeof *ids);
			ids[nids++] = gb_asprintf("%s\t%s: killed: its gb-backup "
			    "(pid %ld on %s) ended without logging the run", id,
			    started, pid, h);
			if (check)
				problem("run %s of job %s (started %s): its gb-backup "
				    "(pid %ld) is gone, killed; %s", id, j, started, pid,
				    x->c->readonly ? "not marked failed: the catalog is "
				    "read-only here" : "marked failed");
			else
				gb_catalog_warnx("warning: run %s of job %s "
				    "(started %s) was left running by a "
				    "gb-backup that was killed (pid %ld); "
				    "marked failed", id, j, started, pid);
			found++;
		} else if (check && gb_parse_time(started) <
		    gb_parse_time(x->now) -
		    job_rule(x, j, gb_job_alert_hours) * 3600) {
			problem("run %s of job %s: running since %s%s%s; if no "
			    "gb-backup runs it, it was killed", id, j, started,
			    *h ? " on " : "", h);
			found++;
		}
	}
	gb_finalize(st);
	for (size_t i = 0; i < nids; i++) {
		char *tab = strchr(ids[i], '\t');
		*tab = '\0';
		if (!c->readonly)
			gb_catalog_run(x->c, "UPDATE runs SET status = 'failed', "
			    "ended = ?2, error = ?3 WHERE id = ?1 AND status = "
			    "'running'", 3, ids[i], x->now, tab + 1);
		free(ids[i]);
	}
	free(ids);
	r->found = found;
}

static int
check_runs(struct cat *x, const char *site)
{
	struct reaping r = { x, site, NULL, 1, 0 };

	if (x->c->readonly)
		reap(x->c, &r);
	else
		gb_catalog_txn(x->c, reap, &r);
	return r.found;
}

/* A job of a site (NULL: of every row) without a good backup in time. */
static int
check_job(struct cat *x, const char *site, const char *job)
{
	/* hours a job may go without a good backup */
	long hours = job_rule(x, job, gb_job_alert_hours);
	struct gb_stmt *st = q(x, "SELECT max(a.snapshot) FROM archives a WHERE "
	    GB_OF_SITE("a.site", 2) " AND a.job = ?1 AND EXISTS (SELECT 1 FROM "
	    "copies c WHERE c.site = a.site AND c.archive = a.name AND c.status "
	    "= 'good')");
	int bad = 0;

	bind(st, 1, job);
	bind(st, 2, site);
	gb_step(st);
	if (gb_col_null(st, 0))
		bad = problem("job %s: no good backup yet", job);
	else if (gb_parse_time(gb_col(st, 0)) < gb_parse_time(x->now) - hours *
	    3600)
		bad = problem("job %s: no good backup within %ld hours (last %s)",
		    job, hours, gb_col(st, 0));
	gb_finalize(st);
	return bad;
}

/*
 * The problems of a site's rows (NULL: every row) in the catalog: how
 * many.  The jobs it holds the site to: the config's, for its own site
 * (and every row); for another, those it has runs or archives of in the
 * last RETIRED_DAYS (a job with none since is taken as retired).
 */
#define RETIRED_DAYS 91

static int
check_site(struct cat *x, const char *site)
{
	time_t now = gb_parse_time(x->now);
	char since[21];
	const char *job;
	struct gb_stmt *st;
	size_t it = 0;
	int bad = 0;
	long days;

	if (!site || strcmp(site, x->c->site) == 0)
		while ((job = gb_conf_next_section(&x->conf, "job", &it)))
			bad += check_job(x, site, job);
	else {
		gb_fmt_time(since, now - RETIRED_DAYS * 86400L);
		st = q(x, "SELECT job FROM runs WHERE site = ?1 AND started >= ?2 "
		    "UNION SELECT job FROM archives WHERE site = ?1 AND snapshot >= "
		    "?2 ORDER BY 1");
		bind(st, 1, site);
		bind(st, 2, since);
		while (gb_step(st) == GB_ROW)
			bad += check_job(x, site, gb_col(st, 0));
		gb_finalize(st);
	}
	st = q(x, "SELECT id, location, due_back FROM media WHERE "
	    GB_OF_SITE("site", 2) " AND location <> 'onsite' AND due_back IS NOT "
	    "NULL AND due_back < ?1");
	bind(st, 1, x->now);
	bind(st, 2, site);
	while (gb_step(st) == GB_ROW)
		bad += problem("medium %s: overdue to come back (%s, due %s)",
		    gb_col(st, 0), gb_col(st, 1), gb_col(st, 2));
	gb_finalize(st);

	days = conf_num(x, "check", "restore_test_days", 30);
	st = q(x, "SELECT max(at) FILTER (WHERE manual = 0), max(at) FILTER "
	    "(WHERE manual <> 0) FROM checks WHERE " GB_OF_SITE("site", 1) " AND "
	    "kind = 'restore-test' AND ok = 1");
	bind(st, 1, site);
	gb_step(st);
	if (gb_col_null(st, 0) &&
	    !gb_col_null(st, 1))
		bad += problem("restore test: only one recorded by hand (%s), "
		    "which does not count; run gb-restore --test", gb_col(st, 1));
	else if (gb_col_null(st, 0))
		bad += problem("restore test: none recorded; run gb-restore --test");
	else if (gb_parse_time(gb_col(st, 0)) < now - days * 86400)
		bad += problem("restore test: none within %ld days (last %s)",
		    days, gb_col(st, 0));
	gb_finalize(st);

	/*
	 * The trail is safe from a rewrite only up to its newest checkpoint
	 * (gb-checkpoint(5)); gb-backup issues one a day.
	 */
	st = q(x, "SELECT (SELECT max(issued) FROM checkpoints WHERE "
	    GB_OF_SITE("site", 1) "), (SELECT min(at) FROM audit WHERE "
	    GB_OF_SITE("site", 1) ")");
	bind(st, 1, site);
	gb_step(st);
	if (!gb_col_null(st, 0) &&
	    gb_parse_time(gb_col(st, 0)) < now - CHECKPOINT_DAYS * 86400)
		bad += problem("audit trail: no checkpoint within %d days (last "
		    "%s); write a medium or run gb-catalog checkpoint",
		    CHECKPOINT_DAYS, gb_col(st, 0));
	else if (gb_col_null(st, 0) &&
	    !gb_col_null(st, 1) &&
	    gb_parse_time(gb_col(st, 1)) < now - CHECKPOINT_DAYS * 86400)
		bad += problem("audit trail: no checkpoint, entries since %s; "
		    "write a medium or run gb-catalog checkpoint", gb_col(st, 1));
	gb_finalize(st);

	bad += check_runs(x, site);

	/* a writer that died leaves its copy 'writing': say so after a while */
	gb_fmt_time(since, now - 6 * 3600);
	st = q(x, "SELECT archive, medium, started_at FROM copies WHERE "
	    GB_OF_SITE("site", 2) " AND status = 'writing' AND started_at < ?1");
	bind(st, 1, since);
	bind(st, 2, site);
	while (gb_step(st) == GB_ROW)
		bad += problem("copy of %s on %s: still being written since %s; "
		    "the gb-write must have died: write it again", gb_col(st, 0),
		    gb_col(st, 1), gb_col(st, 2));
	gb_finalize(st);

	st = q(x, "SELECT c.archive, c.medium, coalesce(c.written_at, "
	    "c.started_at) FROM copies c WHERE " GB_OF_SITE("c.site", 1) " AND "
	    "c.status = 'good' AND c.verified_at IS NULL");
	bind(st, 1, site);
	while (gb_step(st) == GB_ROW)
		bad += problem("copy of %s on %s: never verified (written %s)",
		    gb_col(st, 0), gb_col(st, 1), gb_col(st, 2));
	gb_finalize(st);
	return bad;
}

/* The problems of this host: its config's keys, its temporary files. */
static int
check_host(struct cat *x)
{
	time_t now = gb_parse_time(x->now);
	int bad = 0;

	if (gb_conf_has_section(&x->conf, "keys")) {
		const char *r = gb_conf_get(&x->conf, "keys", "recipients");
		const char *signer = gb_conf_get(&x->conf, "keys", "signer");
		char *copy = gb_strdup(r ? r : ""), *save, *t;
		size_t n = 0;
		gpgme_ctx_t c = gb_pgp_new();
		long days = conf_num(x, "check", "key_expiry_days", 30);
		for (t = strtok_r(copy, " ,\t", &save); t;
		    t = strtok_r(NULL, " ,\t", &save), n++)
			bad += check_key(x, c, t, 'e', now, days);
		if (n < 2)
			bad += problem("keys: %zu recipient%s; two at least "
			    "(operations and escrow), so a lost key loses no "
			    "backup", n, n == 1 ? "" : "s");
		if (signer && *signer)
			bad += check_key(x, c, signer, 's', now, days);
		else
			bad += problem("keys: no signer configured");
		gpgme_release(c);
		free(copy);
	}
	return bad + check_tmpfiles(x);
}

/*
 * Every row the role reads, then this host; or --site's, or every site's
 * (--all-sites: those of the catalog, and the writer's own when its
 * config has jobs), each problem then naming its site.  This host's
 * problems are its own site's, and go with no other.
 */
static int
cmd_check(struct cat *x)
{
	size_t n, it = 0;
	char **sites;
	int bad = 0, host = 0;

	check_pools(x);
	sites = view_sites(x, gb_conf_next_section(&x->conf, "job", &it) ?
	    x->c->site : NULL, &n);
	for (size_t i = 0; i < n; i++) {
		problem_site = sites ? sites[i] : NULL;
		bad += check_site(x, problem_site);
		if (!sites || strcmp(sites[i], x->c->site) == 0) {
			bad += check_host(x);
			host = 1;
		}
	}
	if (x->all_sites && !host) {
		problem_site = x->c->site;
		bad += check_host(x);
	}
	gb_free_strv(sites);
	if (!bad && x->verbose)	/* silent on success, for cron */
		printf("OK: no problems\n");
	return bad ? GB_EXIT_CHECK : GB_EXIT_OK;
}

/* report --------------------------------------------------------------- */

/*
 * The report (lib/report.c), with the rotation and schedules it needs:
 * of every row the role reads, --site's, or every site's.
 */
static int
cmd_report(struct cat *x)
{
	struct gb_report r = { .c = x->c, .catalog = x->c->path, .now = x->now,
	    .raw = x->raw, .own = x->c->site, .named = !!x->site };
	const char *name;
	size_t it = 0;
	int st;

	if (x->csv && x->html) {
		gb_warnx("report: --csv or --html, not both");
		usage_of(stderr, "report", GB_EXIT_USAGE);
	}

	check_pools(x);
	while ((name = gb_conf_next_section(&x->conf, "pool", &it))) {
		struct gb_pool p;
		gb_pool_read(&x->conf, name, &p);
		r.pools = gb_realloc(r.pools, (r.npools + 1) * sizeof *r.pools);
		r.pools[r.npools++] = (struct gb_report_pool){ name, p.offsite,
		    p.offsite_days < 0 ? 0 : p.offsite_days };
	}
	it = 0;
	while ((name = gb_conf_next_section(&x->conf, "job", &it))) {
		char *sec = gb_asprintf("job %s", name);
		const char *pool = gb_conf_get(&x->conf, sec, "pool");
		r.jobs = gb_realloc(r.jobs, (r.njobs + 1) * sizeof *r.jobs);
		r.jobs[r.njobs++] = (struct gb_report_job){ name, pool ? pool : "",
		    gb_conf_get(&x->conf, sec, "schedule") };
		free(sec);
	}
	r.sites = view_sites(x, NULL, &r.nsites);
	r.site = r.sites ? r.sites[0] : NULL;
	if (!x->all_sites)	/* one site: its report alone */
		r.nsites = 0;
	if (x->html)
		st = gb_report_html(&r, x->html);
	else if (x->csv)
		st = gb_report_csv(&r, &x->out);
	else
		st = gb_report_text(&r);
	gb_free_strv(r.sites);
	free(r.pools);
	free(r.jobs);
	return st;
}

/* audit ---------------------------------------------------------------- */

/* The pinned signer: --signer, else [keys] signer; exit 2 without one. */
static const char *
pinned(struct cat *x, const char *why)
{
	const char *signer = x->signer ? x->signer : gb_conf_get(&x->conf,
	    "keys", "signer");

	if (!signer || !*signer)
		gb_errx(GB_EXIT_USAGE, "no signer pinned: give --signer FPR or set "
		    "signer in the [keys] section of the config; %s", why);
	return signer;
}

/* audit --report FROM TO: FROM a day is from its start, TO to its end. */
static int
audit_report(struct cat *x, const char *fromarg, const char *toarg)
{
	struct gb_audit_report r = { .c = x->c, .site =
	    gb_site_name(&x->conf), .now = x->now, .csv = x->csv };
	char from[21], to[21];

	r.signer = pinned(x, "the seals and checkpoints in the report are "
	    "verified against it");
	parse_date(fromarg, from);
	if (strlen(fromarg) == 10)	/* a day: from its start */
		memcpy(from + 11, "00:00:00", 8);
	parse_date(toarg, to);
	if (strcmp(from, to) > 0)
		gb_errx(GB_EXIT_USAGE, "audit --report: %s is after %s", fromarg,
		    toarg);
	r.from = from;
	r.to = to;
	return gb_audit_report(&r);
}

static int
cmd_audit(struct cat *x, int argc, char **argv)
{
	struct gb_stmt *st;

	if (x->csv && !x->report) {
		gb_warnx("audit: --csv goes with --report");
		usage_of(stderr, "audit", GB_EXIT_USAGE);
	}
	if (x->report) {
		if (argc != 2 || x->verify || x->checkpoints) {
			gb_warnx("audit --report takes FROM and TO, and neither "
			    "--verify nor --checkpoints");
			usage_of(stderr, "audit", GB_EXIT_USAGE);
		}
		return audit_report(x, argv[0], argv[1]);
	}
	if (x->checkpoints) {
		if (!x->verify || argc == 0) {
			gb_warnx("audit --checkpoints goes with --verify and takes "
			    "media or files");
			usage_of(stderr, "audit", GB_EXIT_USAGE);
		}
		return gb_audit_checkpoints(x->c, pinned(x, "each checkpoint is "
		    "verified against it"), gb_conf_get(&x->conf, "site", "name"),
		    argc, argv);
	}
	if (argc) {
		gb_warnx("audit: extra operand '%s'", argv[0]);
		usage_of(stderr, "audit", GB_EXIT_USAGE);
	}
	if (x->verify)
		return gb_audit_verify(x->c);
	st = q(x, "SELECT seq, at, actor, action, object, detail FROM audit "
	    "ORDER BY seq");
	while (gb_step(st) == GB_ROW)
		printf("%6s %s %-10s %-12s %-40s %s\n", gb_col(st, 0),
		    gb_col(st, 1), gb_col(st, 2), gb_col(st, 3), gb_col(st, 4),
		    gb_col(st, 5));
	gb_finalize(st);
	return GB_EXIT_OK;
}

/*
 * checkpoint [--daily] [-o FILE]: a checkpoint issued now, to FILE or
 * standard output, and recorded.  --daily: none when one was issued
 * today (UTC) already, on a medium or to a file.
 */
static int
cmd_checkpoint(struct cat *x)
{
	const char *signer = pinned(x, "the checkpoint is signed by it");
	struct gb_checkpoint k;
	char err[1024], day[21];
	struct gb_atomic a;

	if (x->daily) {
		struct gb_stmt *st = q(x, "SELECT issued, coalesce(medium, place) "
		    "FROM checkpoints WHERE issued >= ?1 ORDER BY issued DESC "
		    "LIMIT 1");
		snprintf(day, sizeof day, "%.10sT00:00:00Z", x->now);
		bind(st, 1, day);
		if (gb_step(st) == GB_ROW) {
			printf("checkpoint: one was issued today already (%s, %s)\n",
			    gb_col(st, 0), gb_col(st, 1));
			gb_finalize(st);
			return GB_EXIT_OK;
		}
		gb_finalize(st);
	}
	if (gb_checkpoint_issue(&k, x->c, gb_site_name(&x->conf), signer, NULL,
	    err, sizeof err) == -1)
		gb_errx(GB_EXIT_RUN, "%s", err);
	if (!x->output)
		fwrite(k.signed_text, 1, k.signed_len, stdout);
	else if (gb_atomic_open(&a, x->output, 0644) == -1 ||
	    gb_write_all(a.fd, k.signed_text, k.signed_len) == -1 ||
	    gb_atomic_commit(&a) == -1) {
		gb_atomic_abort(&a);
		gb_err(GB_EXIT_RUN, "cannot write %s", x->output);
	}
	gb_catalog_record_checkpoint(x->c, k.entries, k.head, k.issued, NULL,
	    x->output ? x->output : "-", k.signed_text);
	if (x->output)
		printf("checkpoint: %lld entries, head %s: %s\n", k.entries,
		    k.head, x->output);
	gb_checkpoint_free(&k);
	return GB_EXIT_OK;
}

/*
 * The newest live archive of these jobs with a good copy: what the next
 * incremental of their chain builds on.  Exit 1 when there is none.
 */
static int
cmd_latest(struct cat *x)
{
	struct gb_stmt *st = q(x, "SELECT a.name, a.job FROM archives a WHERE "
	    "a.site = ?1 AND a.expired_at IS NULL AND EXISTS (SELECT 1 FROM "
	    "copies c WHERE c.site = a.site AND c.archive = a.name AND c.status "
	    "= 'good') ORDER BY " GB_ARCHIVE_ORDER("a", "DESC"));
	int found = 0;

	bind(st, 1, x->c->site);	/* the writer's chain goes on */
	while (!found && gb_step(st) == GB_ROW)
		for (size_t i = 0; i < x->njobs && !found; i++)
			if (strcmp(gb_col(st, 1), x->jobs[i]) == 0) {
				printf("%s\n", gb_col(st, 0));
				found = 1;
			}
	gb_finalize(st);
	return found ? GB_EXIT_OK : GB_EXIT_CHECK;
}

/*
 * The MANIFEST of an archive, from its seal as the catalog keeps it,
 * verified again against the pinned signer: what an incremental builds
 * on is only ever what the signer signed.
 */
static int
cmd_manifest(struct cat *x, const char *archive)
{
	struct gb_stmt *st = q(x, "SELECT seal FROM archives WHERE site = ?2 AND "
	    "name = ?1");
	const char *signer = gb_conf_get(&x->conf, "keys", "signer");
	char err[1024], *site = named_site(x, archive);
	struct gb_seal s;

	bind(st, 1, archive);
	bind(st, 2, site);
	free(site);
	if (gb_step(st) != GB_ROW)
		gb_errx(GB_EXIT_USAGE, "no archive %s in the catalog", archive);
	if (!signer || !*signer)
		gb_errx(GB_EXIT_USAGE, "no signer pinned: set signer in the [keys] "
		    "section of the config; the seal in the catalog is verified "
		    "before its manifest is used");
	if (gb_seal_verify(&s, gb_col_text(st, 0),
	    strlen(gb_col(st, 0)), signer, err, sizeof err) == -1)
		gb_errx(GB_EXIT_CHECK, "archive %s: the seal in the catalog does "
		    "not verify: %s", archive, err);
	if (strcmp(s.archive, archive) != 0)
		gb_errx(GB_EXIT_CHECK, "archive %s: the seal in the catalog is of "
		    "%s", archive, s.archive);
	fwrite(s.manifest_text, 1, s.manifest_len, stdout);
	gb_seal_free(&s);
	gb_finalize(st);
	return GB_EXIT_OK;
}

/* import --------------------------------------------------------------- */

/* What import --list says of a medium: its label, then each archive. */
static void
list_medium(struct cat *x, const char *media, const struct gb_scan *m)
{
	struct gb_table t;
	const char *head[] = { "ARCHIVE", "JOB", "LEVEL", "SNAPSHOT", "SIZE",
	    "POSITION", "SEAL" };

	printf("%s: medium %s, pool %s, %s, labelled %s\n", media, m->id,
	    m->pool, m->kind, m->labelled ? m->labelled : "(no time)");
	gb_table_init(&t, "llllrll");
	for (size_t i = 0; i < 7; i++)
		gb_table_add(&t, head[i]);
	for (size_t i = 0; i < m->n; i++) {
		const struct gb_found *f = &m->f[i];
		const struct gb_manifest *mf = &f->s.manifest;
		gb_table_add(&t, f->name);
		gb_table_add(&t, f->sealok ? mf->job : "?");
		gb_table_add(&t, f->sealok ? mf->level : "?");
		gb_table_add(&t, f->sealok ? mf->snapshot : "?");
		if (f->sealok)
			gb_table_size(&t, (long long)f->s.size, x->raw);
		else
			gb_table_add(&t, "?");
		gb_table_addf(&t, "%s %s", strcmp(m->kind, "tape") ? "file" :
		    "tape file", f->pos);
		gb_table_addf(&t, "%s%s%s", !f->sealok ? "NOT VERIFIED" :
		    f->hashed > 0 ? "verified, bytes match" : f->whole &&
		    !f->hashed ? "verified" : "verified, ARCHIVE BAD", f->why ?
		    ": " : "", f->why ? f->why : "");
	}
	gb_table_print(&t, stdout, "  ");
	if (!m->n)
		printf("  no archives\n");
}

/*
 * Each medium read on its own, its seals verified against the pinned
 * signer: listed (--list), or recorded in the catalog (gb_import).  Exit
 * status: the worst of the media.
 */
static int
cmd_import(struct cat *x, int argc, char **argv)
{
	const char *signer = gb_conf_get(&x->conf, "keys", "signer");
	const char *site = gb_site_name(&x->conf);
	char err[1024];
	int r = GB_EXIT_OK;

	if (!signer || !*signer)
		gb_errx(GB_EXIT_USAGE, "no signer pinned: set signer in the [keys] "
		    "section of the config; every seal on a medium is verified "
		    "against it");
	for (int i = 0; i < argc; i++) {
		struct gb_scan m;
		int k;
		if (gb_scan_media(&m, argv[i], signer, x->verify, err,
		    sizeof err) == -1) {
			gb_warnx("%s", err);
			r = GB_EXIT_RUN;
			continue;
		}
		if (x->list) {
			list_medium(x, argv[i], &m);
			k = GB_EXIT_OK;
			for (size_t j = 0; j < m.n; j++)
				if (!m.f[j].sealok || !m.f[j].whole ||
				    m.f[j].hashed < 0)
					k = GB_EXIT_CHECK;
		} else
			k = gb_import(x->c, &x->conf, &m, argv[i], site);
		if (k > r)
			r = k;
		gb_scan_free(&m);
	}
	return r;
}

/* site ----------------------------------------------------------------- */

/*
 * The sites of the chain and the roles that write them (gb-catalog(1)
 * SITES): whether each role can write, and whether it is the caller's.
 */
static int
site_list(struct cat *x)
{
	struct gb_stmt *st = q(x, "SELECT s.name, s.role, CASE WHEN r.oid IS "
	    "NULL THEN 'no such role' WHEN pg_has_role(r.oid, 'gb_site_host', "
	    "'USAGE') THEN 'writes' ELSE 'not in gb_site_host' END, CASE WHEN "
	    "s.name IN (SELECT gb_own_sites()) THEN 'yes' ELSE '' END FROM "
	    "sites s LEFT JOIN pg_roles r ON r.rolname = s.role ORDER BY "
	    "s.name");
	struct gb_table t;

	gb_table_init(&t, "llll");
	for (int i = 0; i < 4; i++)
		gb_table_add(&t, (const char *[]){ "SITE", "ROLE", "STATE",
		    "YOURS" }[i]);
	while (gb_step(st) == GB_ROW)
		for (int i = 0; i < 4; i++)
			gb_table_add(&t, gb_col(st, i));
	gb_finalize(st);
	gb_table_print(&t, stdout, "");
	return GB_EXIT_OK;
}

struct site_add {
	struct cat *x;
	const char *name, *role;
};

/* site add's transaction, in the new site's audit chain. */
static void
add_site(struct gb_catalog *c, void *arg)
{
	struct site_add *a = arg;
	struct gb_stmt *st = q(a->x, "SELECT name, role FROM sites WHERE name "
	    "= ?1 OR role = ?2");

	bind(st, 1, a->name);
	bind(st, 2, a->role);
	if (gb_step(st) == GB_ROW)
		gb_errx(GB_EXIT_USAGE, "site %s is written by role %s already; a "
		    "site has one role, and a role one site", gb_col(st, 0),
		    gb_col(st, 1));
	gb_finalize(st);
	gb_catalog_run(c, "INSERT INTO sites(name, role) VALUES(?1, ?2)", 2,
	    a->name, a->role);
	gb_catalog_run(c, "INSERT INTO site_locks(site) VALUES(?1)", 1, a->name);
	gb_catalog_audit(c, "site", a->name, "written by role %s, added by %s",
	    a->role, gb_actor());
}

/*
 * The catalog's owner gives a site to the role its backup hosts log in
 * as; the site's audit chain starts with it.
 */
static int
site_add(struct cat *x, const char *name, const char *role)
{
	struct site_add a = { x, name, role };
	char *own = x->c->site;
	struct gb_stmt *st;
	int member;

	if (!*name || strlen(name) > 64 || strcspn(name, "\t\n\r") !=
	    strlen(name))
		gb_errx(GB_EXIT_USAGE, "%s: a site name is 1 to 64 characters, "
		    "no tabs or line breaks", name);
	if (strcmp(role, "gb_site_host") == 0 || strcmp(role,
	    "gb_head_office") == 0)
		gb_errx(GB_EXIT_USAGE, "%s is the group of every site's (or head "
		    "office's) roles; a site needs a role of its own", role);
	st = q(x, "SELECT CASE WHEN pg_has_role(oid, 'gb_site_host', 'USAGE') "
	    "THEN 1 ELSE 0 END FROM pg_roles WHERE rolname = ?1");
	bind(st, 1, role);
	if (gb_step(st) != GB_ROW)
		gb_errx(GB_EXIT_USAGE, "no role %s in the database server: create "
		    "it first (CREATE ROLE %s LOGIN; GRANT gb_site_host TO %s)",
		    role, role, role);
	member = (int)gb_col_int64(st, 0);
	gb_finalize(st);
	x->c->site = (char *)name;	/* its chain, and its writers' lock */
	gb_catalog_txn(x->c, add_site, &a);
	x->c->site = own;
	if (!member)
		gb_warnx("warning: role %s is not in gb_site_host and cannot write "
		    "the catalog until it is: GRANT gb_site_host TO %s", role,
		    role);
	return GB_EXIT_OK;
}

static int
cmd_site(struct cat *x, int argc, char **argv)
{
	need_pg(x, "site");
	if (argc == 3 && strcmp(argv[0], "add") == 0)
		return site_add(x, argv[1], argv[2]);
	return site_list(x);
}

/* upgrade and migrate ------------------------------------------------- */

/* The catalog at this version: made, upgraded (as it was opened), or so. */
static int
cmd_upgrade(struct cat *x)
{
	if (x->c->version == 0)
		printf("catalog %s: made at version %d\n", x->c->path,
		    GB_CATALOG_VERSION);
	else if (x->c->version < GB_CATALOG_VERSION)
		printf("catalog %s: upgraded from version %d to %d\n",
		    x->c->path, x->c->version, GB_CATALOG_VERSION);
	else
		printf("catalog %s: version %d already\n", x->c->path,
		    GB_CATALOG_VERSION);
	return GB_EXIT_OK;
}

/* The catalog (SQLite) copied into an empty PostgreSQL catalog. */
static int
cmd_migrate(struct cat *x)
{
	struct gb_catalog *to;
	int r;

	if (!x->to || !gb_catalog_is_uri(x->to)) {
		gb_warnx("migrate --to wants a PostgreSQL connection string "
		    "(postgresql://... or host=... dbname=...)%s%s", x->to ?
		    ", not " : "", x->to ? x->to : "");
		usage_of(stderr, "migrate", GB_EXIT_USAGE);
	}
	to = gb_catalog_open_as(x->to, x->c->site, GB_CATALOG_WRITE);
	r = gb_catalog_migrate(x->c, to);
	printf("catalog %s migrated to %s\n", x->c->path, to->path);
	gb_catalog_close(to);
	return r;
}

/*
 * What each command (with its sub-command: the first operand, NULL for
 * any other) takes: its options, as getopt codes, and how many operands,
 * the sub-command counted; and how it opens the catalog.
 */
static const struct command {
	const char *name, *sub, *opts;
	int min, max, mode;
} commands[] = {
	{ "media", "add", "kpC", 2, 2, GB_CATALOG_WRITE },
	{ "media", "retire", "w", 2, 2, GB_CATALOG_WRITE },
	{ "media", "show", "b", 2, 2, GB_CATALOG_READ },
	{ "media", "list", "b", 1, 1, GB_CATALOG_READ },
	{ "media", NULL, "b", 0, 0, GB_CATALOG_READ },
	{ "archives", NULL, "bj", 0, 0, GB_CATALOG_READ },
	{ "copies", NULL, "G", 0, 1, GB_CATALOG_READ },
	{ "move", NULL, "tTywd", 1, 1, GB_CATALOG_WRITE },
	{ "receive", NULL, "ywd", 1, 1, GB_CATALOG_WRITE },
	{ "due", NULL, "qdGW", 0, 0, GB_CATALOG_READ },
	{ "chain", NULL, "ajGW", 0, 0, GB_CATALOG_READ },
	{ "expire", NULL, "Nd", 0, 0, GB_CATALOG_WRITE },
	{ "log", "start", "Pd", 2, 2, GB_CATALOG_WRITE },
	{ "log", "end", "ABREd", 3, 3, GB_CATALOG_WRITE },
	{ "log", NULL, "bjnxG", 0, 0, GB_CATALOG_READ },
	{ "tested", NULL, "mDd", 2, 2, GB_CATALOG_WRITE },
	{ "verified", NULL, "mDd", 2, 2, GB_CATALOG_WRITE },
	/* check marks runs of killed gb-backups failed when it can write */
	{ "check", NULL, "vdGW", 0, 0, GB_CATALOG_ANY },
	{ "report", NULL, "bxHdGW", 0, 0, GB_CATALOG_READ },
	{ "audit", NULL, "VKrxS", 0, INT_MAX, GB_CATALOG_READ },
	{ "checkpoint", NULL, "YoSd", 0, 0, GB_CATALOG_WRITE },
	{ "latest", NULL, "j", 0, 0, GB_CATALOG_READ },
	{ "manifest", NULL, "G", 1, 1, GB_CATALOG_READ },
	/* with --list, no catalog is opened */
	{ "import", NULL, "LVb", 1, INT_MAX, GB_CATALOG_WRITE },
	{ "upgrade", NULL, "", 0, 0, GB_CATALOG_UPGRADE },
	{ "migrate", NULL, "t", 0, 0, GB_CATALOG_READ },
	/* the config alone: no catalog is opened */
	{ "job", NULL, "", 0, INT_MAX, GB_CATALOG_READ },
	{ "pool", NULL, "", 0, INT_MAX, GB_CATALOG_READ },
	{ "site", "add", "", 3, 3, GB_CATALOG_WRITE },
	{ "site", "list", "", 1, 1, GB_CATALOG_READ },
	{ "site", NULL, "", 0, 0, GB_CATALOG_READ },
};

static const struct option longopts[] = {
	{ "all-sites", no_argument, NULL, 'W' },
	{ "archive", required_argument, NULL, 'A' },
	{ "at", required_argument, NULL, 'a' },
	{ "by", required_argument, NULL, 'y' },
	{ "bytes", required_argument, NULL, 'B' },
	{ "capacity", required_argument, NULL, 'C' },
	{ "checkpoints", no_argument, NULL, 'K' },
	{ "csv", no_argument, NULL, 'x' },
	{ "daily", no_argument, NULL, 'Y' },
	{ "date", required_argument, NULL, 'd' },
	{ "detail", required_argument, NULL, 'D' },
	{ "dry-run", no_argument, NULL, 'N' },
	{ "error", required_argument, NULL, 'E' },
	{ "help", no_argument, NULL, 'h' },
	{ "html", required_argument, NULL, 'H' },
	{ "job", required_argument, NULL, 'j' },
	{ "kind", required_argument, NULL, 'k' },
	{ "list", no_argument, NULL, 'L' },
	{ "medium", required_argument, NULL, 'm' },
	{ "output", required_argument, NULL, 'o' },
	{ "pid", required_argument, NULL, 'P' },
	{ "pool", required_argument, NULL, 'p' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "raw", no_argument, NULL, 'b' },
	{ "report", no_argument, NULL, 'r' },
	{ "rows", required_argument, NULL, 'R' },
	{ "signer", required_argument, NULL, 'S' },
	{ "site", required_argument, NULL, 'G' },
	{ "to", required_argument, NULL, 't' },
	{ "to-site", required_argument, NULL, 'T' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "verify", no_argument, NULL, 'V' },
	{ "version", no_argument, NULL, GB_OPT_VERSION },
	{ "why", required_argument, NULL, 'w' },
	{ NULL, 0, NULL, 0 }
};

/* An option's name for messages: its long name, or -n, -v. */
static const char *
opt_name(int code, char buf[32])
{
	for (const struct option *o = longopts; o->name; o++)
		if (o->val == code) {
			snprintf(buf, 32, "--%s", o->name);
			return buf;
		}
	snprintf(buf, 32, "-%c", code);
	return buf;
}

/*
 * The command of argv (operands) and its options: an option it does not
 * take, or too many or too few operands, is a usage error naming it.
 */
static const struct command *
command(const char *cmd, int argc, char **argv, const char *seen)
{
	const struct command *k = NULL;
	char name[64], a[32], b[32];

	for (size_t i = 0; i < sizeof commands / sizeof *commands && !k; i++)
		if (strcmp(commands[i].name, cmd) == 0 && (!commands[i].sub ||
		    (argc > 0 && strcmp(commands[i].sub, argv[0]) == 0)))
			k = &commands[i];
	if (!k) {
		gb_warnx("%s: no such command", cmd);
		usage(stderr, GB_EXIT_USAGE);
	}
	snprintf(name, sizeof name, "%s%s%s", cmd, k->sub ? " " : "",
	    k->sub ? k->sub : "");
	for (; *seen; seen++) {
		if (strchr(k->opts, *seen))
			continue;
		if (!*k->opts)
			gb_warnx("%s takes no options, not %s", name,
			    opt_name(*seen, a));
		else {
			char *list = gb_strdup("");
			for (const char *o = k->opts; *o; o++) {
				char *n = gb_asprintf("%s%s%s", list, *list ? ", " :
				    "", opt_name(*o, b));
				free(list);
				list = n;
			}
			gb_warnx("%s does not take %s (it takes %s)", name,
			    opt_name(*seen, a), list);
			free(list);
		}
		usage_of(stderr, cmd, GB_EXIT_USAGE);
	}
	if (argc > k->max)
		gb_warnx("%s: extra operand '%s'", name, argv[k->max]);
	else if (argc < k->min)
		gb_warnx("%s: missing operand", name);
	else
		return k;
	usage_of(stderr, cmd, GB_EXIT_USAGE);
}

int
main(int argc, char *argv[])
{
	struct cat x = { 0 };
	const struct command *k;
	const char *confpath = NULL, *path, *cmd, *date = NULL;
	char *seen;
	size_t nseen = 0;
	int c, r;

	gb_setprogname(argv[0]);
	atexit(gb_close_stdout);
	/* "+": options end at the command, then its own options follow */
	while ((c = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1)
		switch (c) {
		case 'c': confpath = optarg; break;
		case 'h': usage(stdout, GB_EXIT_OK); break;
		case GB_OPT_VERSION: gb_version();
		default: usage(stderr, GB_EXIT_USAGE);
		}
	if (optind >= argc)
		usage(stderr, GB_EXIT_USAGE);
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 0;	/* GNU getopt: start afresh on the command's words */
	seen = gb_calloc((size_t)argc + 1, 1);
	/* -c may follow the command too, as getopt_long takes options */
	while ((c = getopt_long(argc, argv, "bc:hn:o:qv", longopts, NULL)) !=
	    -1) {
		switch (c) {
		case 'c': confpath = optarg; continue;
		case 'A': x.archive = optarg; break;
		case 'a': case 'd': date = optarg; break;
		case 'b': x.raw = 1; break;
		case 'y': x.by = optarg; break;
		case 'B': x.bytes = optarg; break;
		case 'C': x.capacity = optarg; break;
		case 'x': x.csv = 1; break;
		case 'D': x.detail = optarg; break;
		case 'E': x.error = optarg; break;
		case 'h': usage_of(stdout, cmd, GB_EXIT_OK); break;
		case 'H': x.html = optarg; break;
		case GB_OPT_VERSION: gb_version();
		case 'j':
			x.job = optarg;
			x.jobs = gb_realloc(x.jobs, (x.njobs + 1) * sizeof *x.jobs);
			x.jobs[x.njobs++] = optarg;
			break;
		case 'k': x.kind = optarg; break;
		case 'L': x.list = 1; break;
		case 'm': x.medium = optarg; break;
		case 'n': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || end == optarg || n < 1 || n > 1000000)
				gb_errx(GB_EXIT_USAGE, "-n wants a number of runs "
				    "(1 or more), not %s", optarg);
			x.limit = (int)n;
			break;
		}
		case 'N': x.dry_run = 1; break;
		case 'K': x.checkpoints = 1; break;
		case 'o': x.output = optarg; break;
		case 'r': x.report = 1; break;
		case 'S': x.signer = optarg; break;
		case 'G': x.site = optarg; break;
		case 'W': x.all_sites = 1; break;
		case 'Y': x.daily = 1; break;
		case 'p': x.pool = optarg; break;
		case 'P': x.pid = optarg; break;
		case 'R': x.rows = optarg; break;
		case 't': x.to = optarg; break;
		case 'T': x.to_site = optarg; break;
		case 'q': x.quiet = 1; break;
		case 'v': x.verbose = 1; break;
		case 'V': x.verify = 1; break;
		case 'w': x.why = optarg; break;
		default: usage_of(stderr, cmd, GB_EXIT_USAGE);
		}
		if (!memchr(seen, c, nseen))
			seen[nseen++] = (char)c;
	}
	argc -= optind;
	argv += optind;
	k = command(cmd, argc, argv, seen);
	free(seen);
	if (strcmp(cmd, "latest") == 0 && !x.njobs) {
		gb_warnx("latest needs --job JOB");
		usage_of(stderr, cmd, GB_EXIT_USAGE);
	}
	if (x.site && x.all_sites) {
		gb_warnx("%s: --site or --all-sites, not both", cmd);
		usage_of(stderr, cmd, GB_EXIT_USAGE);
	}

	path = gb_conf_open(&x.conf, confpath);
	/* the config alone, no catalog */
	if (strcmp(cmd, "job") == 0 || strcmp(cmd, "pool") == 0) {
		if (!path)
			gb_errx(GB_EXIT_USAGE, "no config: give -c CONF or set "
			    "GB_CONF");
		r = cmd_job(&x, cmd, argc, argv);
		gb_conf_free(&x.conf);
		free(x.jobs);
		return r;
	}
	/* a medium's contents, from the medium alone */
	if (strcmp(cmd, "import") == 0 && x.list) {
		r = cmd_import(&x, argc, argv);
		gb_conf_free(&x.conf);
		free(x.jobs);
		return r;
	}
	if (!(path = gb_catalog_path(&x.conf)))
		gb_errx(GB_EXIT_USAGE, "no catalog: set GB_CATALOG or path in the "
		    "[catalog] section of the config");
	if (date) {
		parse_date(date, x.now);
		x.dated = 1;
	} else
		gb_now(x.now);
	x.c = gb_catalog_open_as(path, gb_site_name(&x.conf), k->mode);
	if (x.csv)
		gb_out_init(&x.out, STDOUT_FILENO, 0);

	if (strcmp(cmd, "media") == 0)
		r = cmd_media(&x, argc, argv);
	else if (strcmp(cmd, "archives") == 0)
		r = cmd_archives(&x);
	else if (strcmp(cmd, "copies") == 0)
		r = cmd_copies(&x, argc ? argv[0] : NULL);
	else if (strcmp(cmd, "move") == 0)
		r = cmd_move(&x, argv[0]);
	else if (strcmp(cmd, "due") == 0)
		r = cmd_due(&x);
	else if (strcmp(cmd, "chain") == 0)
		r = cmd_chain(&x);
	else if (strcmp(cmd, "expire") == 0)
		r = cmd_expire(&x);
	else if (strcmp(cmd, "log") == 0)
		r = cmd_log(&x, argc, argv);
	else if (strcmp(cmd, "tested") == 0)
		r = cmd_checked(&x, "restore-test", argc, argv);
	else if (strcmp(cmd, "verified") == 0)
		r = cmd_checked(&x, "verify", argc, argv);
	else if (strcmp(cmd, "check") == 0)
		r = cmd_check(&x);
	else if (strcmp(cmd, "report") == 0)
		r = cmd_report(&x);
	else if (strcmp(cmd, "audit") == 0)
		r = cmd_audit(&x, argc, argv);
	else if (strcmp(cmd, "checkpoint") == 0)
		r = cmd_checkpoint(&x);
	else if (strcmp(cmd, "latest") == 0)
		r = cmd_latest(&x);
	else if (strcmp(cmd, "manifest") == 0)
		r = cmd_manifest(&x, argv[0]);
	else if (strcmp(cmd, "import") == 0)
		r = cmd_import(&x, argc, argv);
	else if (strcmp(cmd, "receive") == 0)
		r = cmd_receive(&x, argv[0]);
	else if (strcmp(cmd, "site") == 0)
		r = cmd_site(&x, argc, argv);
	else if (strcmp(cmd, "upgrade") == 0)
		r = cmd_upgrade(&x);
	else if (strcmp(cmd, "migrate") == 0)
		r = cmd_migrate(&x);
	else
		usage_of(stderr, cmd, GB_EXIT_USAGE);
	if (x.csv && gb_out_finish(&x.out, NULL) == -1)
		gb_err(GB_EXIT_RUN, "stdout");
	gb_catalog_close(x.c);
	gb_conf_free(&x.conf);
	free(x.jobs);
	return r;
}
