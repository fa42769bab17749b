/*
 * report.c - the quarterly assessment of the policy (季度评估): growth of
 * rows and bytes per table and of the archives per month and quarter,
 * and the media the next quarter needs, with the rotation counted; as
 * text, CSV, or one self-contained HTML page with SVG charts that adds
 * the calendar of backup runs, the restore tests and where the media are.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "gb.h"
#include "gb-db.h"

#define QUARTER_DAYS 91		/* thirteen weeks */

struct growth {
	char per[16], *tbl;
	long long rows, bytes, archive_bytes;
};

struct period {
	char per[16];
	long long n, bytes;
};

struct need {
	char *pool;
	long long bytes90, have;
	double cap;		/* average capacity, 0 unknown */
	long long volume;	/* media the quarter's bytes fill, -1 unknown */
	long rotation;		/* media away at once, and the one written */
	long long slot;		/* media one write fills */
	long long need;		/* -1 unknown */
};

static const char *kinds[][2] = {
	{ "month", "substr(snapshot, 1, 7)" },
	{ "quarter", "substr(snapshot, 1, 4) || '-Q' || "
	    "((cast(substr(snapshot, 6, 2) AS integer) + 2) / 3)" },
};

/* -------------------------------------------------------------- the data */

/* The whole number at or above x >= 0, without libm. */
static long long
up(double x)
{
	long long n = (long long)x;

	return n + (x > (double)n);
}

/* The local day of t, as YYYY-MM-DD, and its struct tm at noon. */
static void
local_day(time_t t, char day[11], struct tm *tm)
{
	localtime_r(&t, tm);
	strftime(day, 11, "%Y-%m-%d", tm);
}

static void
pct(char buf[24], long long cur, long long prev, int has_prev)
{
	if (!has_prev || prev == 0)
		snprintf(buf, 24, "-");
	else
		snprintf(buf, 24, "%+.1f%%", (double)(cur - prev) * 100 / prev);
}

/*
 * For each period of a kind and each table: its last full archive's rows
 * and bytes, by table (for the change) or by period.
 */
static struct growth *
load_growth(const struct gb_report *r, int k, int by_table, size_t *np)
{
	char *sql = gb_asprintf("WITH p AS (SELECT site, name, level, size, "
	    "snapshot, %s AS per FROM archives WHERE " GB_OF_SITE("site", 1)
	    "), last AS (SELECT t.tbl, p.per, "
	    "max(p.snapshot) AS snap FROM archive_tables t JOIN p ON p.site = "
	    "t.site AND p.name = t.archive WHERE p.level = 'full' GROUP BY "
	    "t.tbl, p.per) SELECT l.per, l.tbl, max(t.rows), max(t.bytes), "
	    "(SELECT sum(size) FROM p q WHERE q.per = l.per) FROM last l "
	    "JOIN p ON p.per = l.per AND p.snapshot = l.snap AND p.level = "
	    "'full' JOIN archive_tables t ON t.site = p.site AND t.archive = "
	    "p.name AND t.tbl = l.tbl GROUP BY l.per, l.tbl ORDER BY %s",
	    kinds[k][1], by_table ?
	    "l.tbl, l.per" : "l.per, l.tbl");
	struct gb_stmt *st = gb_catalog_prepare(r->c, sql);
	struct growth *g = NULL;
	size_t n = 0;

	gb_bind_text(st, 1, r->site);
	while (gb_step(st) == GB_ROW) {
		g = gb_realloc(g, (n + 1) * sizeof *g);
		snprintf(g[n].per, sizeof g[n].per, "%s", gb_col(st, 0));
		g[n].tbl = gb_strdup(gb_col(st, 1));
		g[n].rows = gb_col_int64(st, 2);
		g[n].bytes = gb_col_int64(st, 3);
		g[n].archive_bytes = gb_col_int64(st, 4);
		n++;
	}
	gb_finalize(st);
	free(sql);
	*np = n;
	return g;
}

static void
free_growth(struct growth *g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(g[i].tbl);
	free(g);
}

/* The archives of each period: how many, and their bytes. */
static struct period *
load_periods(const struct gb_report *r, int k, size_t *np)
{
	char *sql = gb_asprintf("SELECT %s AS per, count(*), sum(size) FROM "
	    "archives WHERE " GB_OF_SITE("site", 1) " GROUP BY per ORDER BY per",
	    kinds[k][1]);
	struct gb_stmt *st = gb_catalog_prepare(r->c, sql);
	struct period *p = NULL;
	size_t n = 0;

	gb_bind_text(st, 1, r->site);
	while (gb_step(st) == GB_ROW) {
		p = gb_realloc(p, (n + 1) * sizeof *p);
		snprintf(p[n].per, sizeof p[n].per, "%s", gb_col(st, 0));
		p[n].n = gb_col_int64(st, 1);
		p[n].bytes = gb_col_int64(st, 2);
		n++;
	}
	gb_finalize(st);
	free(sql);
	*np = n;
	return p;
}

/*
 * The media a pool's rotation keeps busy at once over the next quarter:
 * each day a job of the pool runs uses a medium that is onsite; with
 * offsite = yes it then stays away offsite_days (back on the day it is
 * due, after that night's write), or for good without a due date.
 */
static long
rotation(const struct gb_report *r, const struct gb_report_pool *pl,
    time_t now)
{
	long away = pl && pl->offsite ? pl->offsite_days : 0;
	long first = away > 0 ? -away : 1, busy = 0, best = 0, runs = 0;
	long days = QUARTER_DAYS - first + 1;
	char *ran = gb_calloc((size_t)days, 1);

	for (long d = 0; d < days; d++) {
		struct tm tm;
		char day[11];
		local_day(now + (first + d) * 86400, day, &tm);
		for (size_t j = 0; j < r->njobs; j++)
			if (pl && strcmp(r->jobs[j].pool, pl->name) == 0 &&
			    gb_cron_day(r->jobs[j].schedule, &tm) == 1)
				ran[d] = 1;
	}
	for (long d = 0; d < days; d++) {
		busy += ran[d];
		if (away > 0 && d > away)
			busy -= ran[d - away - 1];
		if (first + d >= 1) {
			runs += ran[d];
			if (busy > best)
				best = busy;
		}
	}
	free(ran);
	if (!runs)
		return 0;
	if (!pl->offsite)
		return 1;
	return away > 0 ? best : runs;
}

static const struct gb_report_pool *
find_pool(const struct gb_report *r, const char *name)
{
	for (size_t i = 0; i < r->npools; i++)
		if (strcmp(r->pools[i].name, name) == 0)
			return &r->pools[i];
	return NULL;
}

/*
 * For each pool (of the config or of a medium): the bytes written to its
 * media in the last 90 days, the average capacity of its media in use,
 * and the media the next quarter needs: the larger of what that many
 * bytes fill and what the rotation keeps busy (each write needing as many
 * media as one night's bytes fill).
 */
static int
by_pool(const void *a, const void *b)
{
	return strcmp(((const struct need *)a)->pool,
	    ((const struct need *)b)->pool);
}

static struct need *
load_needs(const struct gb_report *r, size_t *np)
{
	struct gb_stmt *st = gb_catalog_prepare(r->c, "SELECT DISTINCT pool FROM "
	    "media WHERE " GB_OF_SITE("site", 1));
	struct need *nd = NULL;
	time_t now = gb_parse_time(r->now);
	char since[21];
	size_t n = 0;

	/* the pools of the media, and those of the config, by name */
	gb_bind_text(st, 1, r->site);
	while (gb_step(st) == GB_ROW) {
		nd = gb_realloc(nd, (n + 1) * sizeof *nd);
		nd[n++].pool = gb_strdup(gb_col(st, 0));
	}
	gb_finalize(st);
	for (size_t i = 0, j; i < r->npools; i++) {
		for (j = 0; j < n && strcmp(nd[j].pool, r->pools[i].name); j++)
			;
		if (j < n)
			continue;
		nd = gb_realloc(nd, (n + 1) * sizeof *nd);
		nd[n++].pool = gb_strdup(r->pools[i].name);
	}
	qsort(nd, n, sizeof *nd, by_pool);
	st = gb_catalog_prepare(r->c, "WITH w AS (SELECT a.size, substr("
	    "c.written_at, 1, 10) AS day FROM copies c JOIN archives a ON a.site "
	    "= c.site AND a.name = c.archive JOIN media m ON "
	    GB_COPY_MEDIUM("c", "m") " "
	    "WHERE " GB_OF_SITE("m.site", 3) " AND m.pool = ?2 AND c.status IN "
	    "('good', 'expired') AND c.written_at >= ?1) SELECT (SELECT coalesce("
	    "sum(size), 0) FROM w), (SELECT count(DISTINCT day) FROM w), (SELECT "
	    "avg(capacity) FROM media WHERE " GB_OF_SITE("site", 3) " AND pool = "
	    "?2 AND capacity > 0 AND state <> 'retired'), (SELECT count(*) FROM "
	    "media WHERE " GB_OF_SITE("site", 3) " AND pool = ?2 AND state <> "
	    "'retired')");
	gb_fmt_time(since, now - 90 * 86400L);
	for (size_t i = 0; i < n; i++) {
		struct need *e = &nd[i];
		long long days;
		gb_reset(st);
		gb_bind_text(st, 1, since);
		gb_bind_text(st, 2, e->pool);
		gb_bind_text(st, 3, r->site);
		if (gb_step(st) != GB_ROW)
			gb_catalog_fail(r->c, "cannot read the media of a pool");
		e->bytes90 = gb_col_int64(st, 0);
		days = gb_col_int64(st, 1);
		e->cap = gb_col_double(st, 2);
		e->have = gb_col_int64(st, 3);
		e->rotation = rotation(r, find_pool(r, e->pool), now);
		e->volume = e->slot = e->need = -1;
		if (e->cap > 0) {
			/* the next quarter at the last 90 days' rate */
			e->volume = up(e->bytes90 / e->cap);
			e->slot = days ? up((double)e->bytes90 / days / e->cap) : 1;
			if (e->slot < 1)
				e->slot = 1;
			e->need = e->rotation * e->slot > e->volume ?
			    e->rotation * e->slot : e->volume;
		} else if (e->rotation)
			e->need = e->rotation;
	}
	gb_finalize(st);
	*np = n;
	return nd;
}

static void
free_needs(struct need *nd, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(nd[i].pool);
	free(nd);
}

/*
 * A site's line of the summary of every site: its archives, runs and
 * restore tests of the thirteen weeks up to now, its newest archive with
 * a good copy and newest restore test that counts (gb-restore --test's),
 * and its media in use.
 */
struct summary {
	long long archives, bytes, runs_ok, runs_failed, tests_ok,
	    tests_failed, media, offsite;
	char last_backup[21], last_test[21];
};

static void
load_summary(const struct gb_report *r, const char *site, struct summary *s)
{
	struct gb_stmt *st = gb_catalog_prepare(r->c, "SELECT (SELECT count(*) "
	    "FROM archives WHERE site = ?1 AND snapshot >= ?2 AND snapshot <= "
	    "?3), (SELECT coalesce(sum(size), 0) FROM archives WHERE site = ?1 "
	    "AND snapshot >= ?2 AND snapshot <= ?3), (SELECT count(*) FROM runs "
	    "WHERE site = ?1 AND started >= ?2 AND started <= ?3 AND status = "
	    "'ok'), (SELECT count(*) FROM runs WHERE site = ?1 AND started >= ?2 "
	    "AND started <= ?3 AND status = 'failed'), (SELECT count(*) FROM "
	    "checks WHERE site = ?1 AND kind = 'restore-test' AND manual = 0 AND "
	    "ok = 1 AND at >= ?2 AND at <= ?3), (SELECT count(*) FROM checks "
	    "WHERE site = ?1 AND kind = 'restore-test' AND manual = 0 AND ok = 0 "
	    "AND at >= ?2 AND at <= ?3), (SELECT count(*) FROM media WHERE site "
	    "= ?1 AND state <> 'retired'), (SELECT count(*) FROM media WHERE "
	    "site = ?1 AND state <> 'retired' AND location = 'offsite'), (SELECT "
	    "max(a.snapshot) FROM archives a WHERE a.site = ?1 AND a.snapshot <= "
	    "?3 AND EXISTS (SELECT 1 FROM copies c WHERE c.site = a.site AND "
	    "c.archive = a.name AND c.status = 'good')), (SELECT max(at) FROM "
	    "checks WHERE site = ?1 "
	    "AND kind = 'restore-test' AND manual = 0 AND ok = 1 AND at <= ?3)");
	char from[21];

	gb_fmt_time(from, gb_parse_time(r->now) - QUARTER_DAYS * 86400L);
	gb_bind_text(st, 1, site);
	gb_bind_text(st, 2, from);
	gb_bind_text(st, 3, r->now);
	if (gb_step(st) != GB_ROW)
		gb_catalog_fail(r->c, "cannot read the summary of a site");
	s->archives = gb_col_int64(st, 0);
	s->bytes = gb_col_int64(st, 1);
	s->runs_ok = gb_col_int64(st, 2);
	s->runs_failed = gb_col_int64(st, 3);
	s->tests_ok = gb_col_int64(st, 4);
	s->tests_failed = gb_col_int64(st, 5);
	s->media = gb_col_int64(st, 6);
	s->offsite = gb_col_int64(st, 7);
	snprintf(s->last_backup, sizeof s->last_backup, "%s", gb_col(st, 8));
	snprintf(s->last_test, sizeof s->last_test, "%s", gb_col(st, 9));
	gb_finalize(st);
}

/* The sum of every site's line (the newest times of them). */
static void
add_summary(struct summary *t, const struct summary *s)
{
	t->archives += s->archives;
	t->bytes += s->bytes;
	t->runs_ok += s->runs_ok;
	t->runs_failed += s->runs_failed;
	t->tests_ok += s->tests_ok;
	t->tests_failed += s->tests_failed;
	t->media += s->media;
	t->offsite += s->offsite;
	if (strcmp(s->last_backup, t->last_backup) > 0)
		memcpy(t->last_backup, s->last_backup, sizeof t->last_backup);
	if (strcmp(s->last_test, t->last_test) > 0)
		memcpy(t->last_test, s->last_test, sizeof t->last_test);
}

/* Every site's line, and the total after them. */
static struct summary *
load_summaries(const struct gb_report *r)
{
	struct summary *v = gb_calloc(r->nsites + 1, sizeof *v);

	for (size_t i = 0; i < r->nsites; i++) {
		load_summary(r, r->sites[i], &v[i]);
		add_summary(&v[r->nsites], &v[i]);
	}
	return v;
}

/*
 * The report of a site (NULL: of every row the role may read, as one):
 * the jobs and their schedules are the config's site's, so another
 * site's has none (its calendar marks no day missing, its rotation is
 * not known).
 */
static struct gb_report
of_site(const struct gb_report *r, const char *site)
{
	struct gb_report s = *r;

	s.site = site;
	if (site && (!r->own || strcmp(site, r->own) != 0))
		s.njobs = 0;
	return s;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **
gb_catalog_sites(struct gb_catalog *c, const char *also, size_t *np)
{
	struct gb_stmt *st = gb_catalog_prepare(c, "SELECT site FROM media "
	    "UNION SELECT site FROM archives UNION SELECT site FROM runs UNION "
	    "SELECT site FROM checks UNION SELECT site FROM audit UNION SELECT "
	    "CAST(?1 AS TEXT) WHERE CAST(?1 AS TEXT) IS NOT NULL");
	char **v = gb_calloc(1, sizeof *v);
	size_t n = 0;

	if (also)
		gb_bind_text(st, 1, also);
	while (gb_step(st) == GB_ROW) {
		v = gb_realloc(v, (n + 2) * sizeof *v);
		v[n++] = gb_strdup(gb_col(st, 0));
		v[n] = NULL;
	}
	gb_finalize(st);
	/* in bytes, as SQLite orders them, whatever the server's collation */
	qsort(v, n, sizeof *v, by_name);
	*np = n;
	return v;
}

/* ------------------------------------------------------------ text, CSV */

static void
text_growth(const struct gb_report *r, int k)
{
	struct growth *g;
	struct period *p;
	struct gb_table t;
	size_t n;
	char a[24], b[24];

	g = load_growth(r, k, 1, &n);
	printf("%sgrowth by %s:\n", k ? "\n" : "", kinds[k][0]);
	gb_table_init(&t, "llrrrr");
	gb_table_addf(&t, "%s", k ? "QUARTER" : "MONTH");
	gb_table_add(&t, "TABLE");
	gb_table_add(&t, "ROWS");
	gb_table_add(&t, "CHANGE");
	gb_table_add(&t, "CSV BYTES");
	gb_table_add(&t, "CHANGE");
	for (size_t i = 0; i < n; i++) {
		int prev = i > 0 && strcmp(g[i - 1].tbl, g[i].tbl) == 0;
		pct(a, g[i].rows, prev ? g[i - 1].rows : 0, prev);
		pct(b, g[i].bytes, prev ? g[i - 1].bytes : 0, prev);
		gb_table_add(&t, g[i].per);
		gb_table_add(&t, g[i].tbl);
		gb_table_addf(&t, "%lld", g[i].rows);
		gb_table_add(&t, a);
		gb_table_size(&t, g[i].bytes, r->raw);
		gb_table_add(&t, b);
	}
	gb_table_print(&t, stdout, "  ");
	free_growth(g, n);

	p = load_periods(r, k, &n);
	printf("\narchives by %s:\n", kinds[k][0]);
	gb_table_init(&t, "lrrr");
	gb_table_addf(&t, "%s", k ? "QUARTER" : "MONTH");
	gb_table_add(&t, "ARCHIVES");
	gb_table_add(&t, "ARCHIVE BYTES");
	gb_table_add(&t, "CHANGE");
	for (size_t i = 0; i < n; i++) {
		pct(a, p[i].bytes, i ? p[i - 1].bytes : 0, i > 0);
		gb_table_add(&t, p[i].per);
		gb_table_addf(&t, "%lld", p[i].n);
		gb_table_size(&t, p[i].bytes, r->raw);
		gb_table_add(&t, a);
	}
	gb_table_print(&t, stdout, "  ");
	free(p);
}

static void
text_site(const struct gb_report *r)
{
	struct need *nd;
	struct gb_table t;
	size_t n;

	text_growth(r, 0);
	text_growth(r, 1);
	nd = load_needs(r, &n);
	printf("\nnext quarter, at the last 90 days' rate, with the rotation:\n");
	gb_table_init(&t, "lrrrrrl");
	gb_table_add(&t, "POOL");
	gb_table_add(&t, "BYTES/90 DAYS");
	gb_table_add(&t, "AVG CAPACITY");
	gb_table_add(&t, "HAVE");
	gb_table_add(&t, "BY BYTES");
	gb_table_add(&t, "BY ROTATION");
	gb_table_add(&t, "MEDIA NEEDED");
	for (size_t i = 0; i < n; i++) {
		gb_table_add(&t, nd[i].pool);
		gb_table_size(&t, nd[i].bytes90, r->raw);
		if (nd[i].cap > 0)
			gb_table_size(&t, (long long)(nd[i].cap + 0.5), r->raw);
		else
			gb_table_add(&t, "-");
		gb_table_addf(&t, "%lld", nd[i].have);
		if (nd[i].volume >= 0)
			gb_table_addf(&t, "%lld", nd[i].volume);
		else
			gb_table_add(&t, "-");
		gb_table_addf(&t, "%ld", nd[i].rotation);
		if (nd[i].cap > 0)
			gb_table_addf(&t, "%lld", nd[i].need);
		else if (nd[i].need > 0)
			gb_table_addf(&t, "at least %lld (capacity unknown)",
			    nd[i].need);
		else
			gb_table_add(&t, "(capacity unknown)");
	}
	gb_table_print(&t, stdout, "  ");
	free_needs(nd, n);
}

/* A CSV record: site first unless it is NULL, then n fields. */
static void
csv_fields(struct gb_out *o, const char *site, int n, ...)
{
	va_list ap;

	va_start(ap, n);
	if (site) {
		gb_csv_text(o, site, strlen(site));
		gb_out_putc(o, ',');
	}
	for (int i = 0; i < n; i++) {
		const char *s = va_arg(ap, const char *);
		if (i)
			gb_out_putc(o, ',');
		if (s)		/* NULL: the empty field */
			gb_csv_text(o, s, strlen(s));
	}
	va_end(ap);
	gb_out_putc(o, '\n');
}

static void
csv_growth(const struct gb_report *r, struct gb_out *o, const char *site)
{
	size_t n;

	for (int k = 0; k < 2; k++) {
		struct growth *g = load_growth(r, k, 0, &n);
		char a[24], b[24], c[24];

		for (size_t i = 0; i < n; i++) {
			snprintf(a, sizeof a, "%lld", g[i].rows);
			snprintf(b, sizeof b, "%lld", g[i].bytes);
			snprintf(c, sizeof c, "%lld", g[i].archive_bytes);
			csv_fields(o, site, 6, kinds[k][0], g[i].per, g[i].tbl, a, b,
			    c);
		}
		free_growth(g, n);
	}
}

static void
csv_needs(const struct gb_report *r, struct gb_out *o, const char *site)
{
	size_t n;
	struct need *nd = load_needs(r, &n);

	for (size_t i = 0; i < n; i++) {
		char a[24], b[24], c[24];
		snprintf(a, sizeof a, "%lld", nd[i].bytes90);
		snprintf(b, sizeof b, "%.0f", nd[i].cap);
		snprintf(c, sizeof c, "%lld", nd[i].need);
		csv_fields(o, site, 4, nd[i].pool, a, b, nd[i].need >= 0 ? c :
		    NULL);
	}
	free_needs(nd, n);
}

/* The summary's numbers of a line, as text. */
static void
summary_text(const struct summary *s, char v[8][24])
{
	const long long n[8] = { s->archives, s->bytes, s->runs_ok,
	    s->runs_failed, s->tests_ok, s->tests_failed, s->media, s->offsite };

	for (int k = 0; k < 8; k++)
		snprintf(v[k], 24, "%lld", n[k]);
}

/*
 * One site's report, or (nsites) the summary of every site and then each
 * site's, each under its name.
 */
int
gb_report_text(const struct gb_report *r)
{
	static const char *head[] = { "SITE", "ARCHIVES", "ARCHIVE BYTES",
	    "RUNS OK", "RUNS FAILED", "TESTS OK", "TESTS FAILED", "MEDIA",
	    "OFFSITE", "LAST GOOD BACKUP", "LAST RESTORE TEST" };
	struct gb_table t;
	struct summary *sum;
	char day[11];

	if (!r->nsites) {
		struct gb_report s = of_site(r, r->site);
		if (r->named)
			printf("site %s:\n", r->site);
		text_site(&s);
		return GB_EXIT_OK;
	}
	local_day(gb_parse_time(r->now), day, &(struct tm){ 0 });
	printf("every site, the %d days up to %s (restore tests: those of "
	    "gb-restore --test):\n", QUARTER_DAYS, day);
	gb_table_init(&t, "lrrrrrrrrll");
	for (size_t i = 0; i < sizeof head / sizeof *head; i++)
		gb_table_add(&t, head[i]);
	sum = load_summaries(r);
	for (size_t i = 0; i <= r->nsites; i++) {
		char v[8][24];
		summary_text(&sum[i], v);
		gb_table_add(&t, i < r->nsites ? r->sites[i] : "total");
		gb_table_add(&t, v[0]);
		gb_table_size(&t, sum[i].bytes, r->raw);
		for (int k = 2; k < 8; k++)
			gb_table_add(&t, v[k]);
		gb_table_add(&t, *sum[i].last_backup ? sum[i].last_backup :
		    "never");
		gb_table_add(&t, *sum[i].last_test ? sum[i].last_test : "never");
	}
	free(sum);
	gb_table_print(&t, stdout, "  ");
	for (size_t i = 0; i < r->nsites; i++) {
		struct gb_report s = of_site(r, r->sites[i]);
		printf("\nsite %s:\n", r->sites[i]);
		text_site(&s);
	}
	return GB_EXIT_OK;
}

/*
 * One site's report; with nsites, a first part, the summary of every
 * site, and a first column, the site, in every part.
 */
int
gb_report_csv(const struct gb_report *r, struct gb_out *o)
{
	size_t n = r->nsites ? r->nsites : 1;
	const char *col = r->nsites ? "site" : NULL;
	struct summary *sum;

	if (r->nsites) {
		csv_fields(o, col, 10, "archives", "archive_bytes", "runs_ok",
		    "runs_failed", "restore_tests_ok", "restore_tests_failed",
		    "media", "media_offsite", "last_good_backup",
		    "last_restore_test");
		sum = load_summaries(r);
		for (size_t i = 0; i < r->nsites; i++) {
			char v[8][24];
			summary_text(&sum[i], v);
			csv_fields(o, r->sites[i], 10, v[0], v[1], v[2], v[3], v[4],
			    v[5], v[6], v[7], *sum[i].last_backup ?
			    sum[i].last_backup : NULL, *sum[i].last_test ?
			    sum[i].last_test : NULL);
		}
		free(sum);
	}
	csv_fields(o, col, 6, "period_kind", "period", "table", "rows", "bytes",
	    "archive_bytes");
	for (size_t i = 0; i < n; i++) {
		struct gb_report s = of_site(r, r->nsites ? r->sites[i] : r->site);
		csv_growth(&s, o, r->nsites ? r->sites[i] : NULL);
	}
	csv_fields(o, col, 4, "pool", "bytes_last_90_days", "average_capacity",
	    "media_next_quarter");
	for (size_t i = 0; i < n; i++) {
		struct gb_report s = of_site(r, r->nsites ? r->sites[i] : r->site);
		csv_needs(&s, o, r->nsites ? r->sites[i] : NULL);
	}
	return GB_EXIT_OK;
}

/* ----------------------------------------------------------------- HTML */

static void
hf(struct gb_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
hf(struct gb_out *o, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = gb_vasprintf(fmt, ap);
	va_end(ap);
	gb_out_write(o, s, strlen(s));
	free(s);
}

/* Every catalog string goes out through here: text or attribute value. */
static void
he(struct gb_out *o, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '&': gb_out_write(o, "&amp;", 5); break;
		case '<': gb_out_write(o, "&lt;", 4); break;
		case '>': gb_out_write(o, "&gt;", 4); break;
		case '"': gb_out_write(o, "&quot;", 6); break;
		case '\'': gb_out_write(o, "&#39;", 5); break;
		default: gb_out_putc(o, *s);
		}
}

/* A table row's start and its first cell, the month (catalog text). */
static void
month_row(struct gb_out *o, const char *month)
{
	hf(o, "<tr data-month=\"");
	he(o, month);
	hf(o, "\"><td>");
	he(o, month);
	hf(o, "</td>");
}

static void
hsize(struct gb_out *o, long long v)
{
	char b[GB_SIZE_LEN];

	gb_fmt_size(b, v, 0);
	hf(o, "<span title=\"%lld bytes\">%s</span>", v, b);
}

/*
 * A site's anchor on the page of every site: "site-" and its name, each
 * byte but an ASCII letter, digit or '-' written _XX, so that it is a
 * fragment as it stands and two names never share one.
 */
static void
site_anchor(struct gb_out *o, const char *site)
{
	hf(o, "site-");
	for (const unsigned char *p = (const unsigned char *)site; *p; p++)
		if (*p < 128 && (isalnum(*p) || *p == '-'))
			gb_out_putc(o, (char)*p);
		else
			hf(o, "_%02X", *p);
}

/* A part's start; on the page of every site, its id is the site's. */
static void
section(const struct gb_report *r, struct gb_out *o, const char *id)
{
	hf(o, "<section id=\"");
	if (r->nsites) {
		site_anchor(o, r->site);
		hf(o, "-");
	}
	hf(o, "%s\">", id);
}

/*
 * A bar chart: one bar per period, its value above it, the change under
 * the period's name.  Each bar carries its period and raw value.
 */
static void
svg_bars(struct gb_out *o, const char *what, const char *key,
    size_t n, char (*per)[16], const long long *v, int size)
{
	long long max = 1;
	int w = 70 + (int)n * 56, h = 190, base = 140;

	for (size_t i = 0; i < n; i++)
		if (v[i] > max)
			max = v[i];
	hf(o, "<svg class=\"chart\" data-chart=\"%s\" data-key=\"", what);
	he(o, key);
	hf(o, "\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">"
	    "<line x1=\"40\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n",
	    w, h, w, h, base, w - 10, base);
	for (size_t i = 0; i < n; i++) {
		int bh = (int)((double)v[i] / max * 110 + 0.5), x = 50 + (int)i * 56;
		char val[GB_SIZE_LEN], ch[24];
		if (size)
			gb_fmt_size(val, v[i], 0);
		else
			snprintf(val, sizeof val, "%lld", v[i]);
		pct(ch, v[i], i ? v[i - 1] : 0, i > 0);
		hf(o, "<rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"40\" "
		    "height=\"%d\" data-period=\"", x, base - bh, bh > 0 ? bh : 0);
		he(o, per[i]);
		hf(o, "\" data-value=\"%lld\"><title>", v[i]);
		he(o, per[i]);
		hf(o, ": %lld</title></rect>", v[i]);
		hf(o, "<text class=\"val\" x=\"%d\" y=\"%d\">%s</text>", x + 20,
		    base - bh - 4, val);
		hf(o, "<text class=\"per\" x=\"%d\" y=\"%d\">", x + 20, base + 16);
		he(o, per[i]);
		hf(o, "</text>");
		hf(o, "<text class=\"change %s\" x=\"%d\" y=\"%d\">%s</text>\n",
		    *ch == '-' && ch[1] ? "down" : *ch == '+' ? "up" : "", x + 20,
		    base + 32, ch);
	}
	hf(o, "</svg>\n");
}

static void
html_growth(const struct gb_report *r, struct gb_out *o)
{
	size_t n, np, i = 0;
	struct growth *g = load_growth(r, 0, 1, &n);
	struct period *p = load_periods(r, 0, &np);
	char (*per)[16] = gb_calloc(n + np + 1, sizeof *per);
	long long *rows = gb_calloc(n + np + 1, sizeof *rows);
	long long *bytes = gb_calloc(n + np + 1, sizeof *bytes);

	section(r, o, "growth");
	hf(o, "<h2>Growth per table and month "
	    "<small>(the last full archive of each month)</small></h2>\n");
	if (!n)
		hf(o, "<p>No full archive in the catalog.</p>\n");
	while (i < n) {
		size_t j = i, k = 0;
		for (; j < n && strcmp(g[j].tbl, g[i].tbl) == 0; j++, k++) {
			memcpy(per[k], g[j].per, 16);
			rows[k] = g[j].rows;
			bytes[k] = g[j].bytes;
		}
		hf(o, "<div class=\"table\" data-table=\"");
		he(o, g[i].tbl);
		hf(o, "\"><h3>");
		he(o, g[i].tbl);
		hf(o, "</h3><div class=\"pair\"><figure><figcaption>rows</figcaption>");
		svg_bars(o, "rows", g[i].tbl, k, per, rows, 0);
		hf(o, "</figure><figure><figcaption>bytes in the archive</figcaption>");
		svg_bars(o, "bytes", g[i].tbl, k, per, bytes, 1);
		hf(o, "</figure></div>\n<table class=\"growth\"><tr><th>month</th>"
		    "<th>rows</th><th>change</th><th>bytes</th><th>change</th></tr>\n");
		for (size_t m = 0; m < k; m++) {
			char a[24], b[24];
			pct(a, rows[m], m ? rows[m - 1] : 0, m > 0);
			pct(b, bytes[m], m ? bytes[m - 1] : 0, m > 0);
			month_row(o, per[m]);
			hf(o, "<td class=\"rows\">%lld</td><td>%s</td><td class=\"bytes\" "
			    "data-bytes=\"%lld\">", rows[m], a, bytes[m]);
			hsize(o, bytes[m]);
			hf(o, "</td><td>%s</td></tr>\n", b);
		}
		hf(o, "</table></div>\n");
		i = j;
	}
	hf(o, "<h3>All archives per month</h3><figure>");
	for (i = 0; i < np; i++) {
		memcpy(per[i], p[i].per, 16);
		bytes[i] = p[i].bytes;
	}
	svg_bars(o, "archive-bytes", "", np, per, bytes, 1);
	hf(o, "</figure>\n<table class=\"archives\"><tr><th>month</th>"
	    "<th>archives</th><th>bytes</th><th>change</th></tr>\n");
	for (i = 0; i < np; i++) {
		char a[24];
		pct(a, p[i].bytes, i ? p[i - 1].bytes : 0, i > 0);
		month_row(o, p[i].per);
		hf(o, "<td class=\"n\">%lld</td><td class=\"bytes\" "
		    "data-bytes=\"%lld\">", p[i].n, p[i].bytes);
		hsize(o, p[i].bytes);
		hf(o, "</td><td>%s</td></tr>\n", a);
	}
	hf(o, "</table></section>\n");
	free(per);
	free(rows);
	free(bytes);
	free(p);
	free_growth(g, n);
}

/* The jobs of the calendar: the config's, then others that ran. */
static char **
calendar_jobs(const struct gb_report *r, const char *from, size_t *np)
{
	struct gb_stmt *st = gb_catalog_prepare(r->c, "SELECT DISTINCT job FROM "
	    "runs WHERE " GB_OF_SITE("site", 2) " AND started >= ?1 ORDER BY job");
	char **jobs = gb_calloc(r->njobs + 1, sizeof *jobs);
	size_t n = 0;

	for (size_t i = 0; i < r->njobs; i++)
		jobs[n++] = gb_strdup(r->jobs[i].name);
	gb_bind_text(st, 1, from);
	gb_bind_text(st, 2, r->site);
	while (gb_step(st) == GB_ROW) {
		size_t i;
		for (i = 0; i < n && strcmp(jobs[i], gb_col(st, 0)); i++)
			;
		if (i < n)
			continue;
		jobs = gb_realloc(jobs, (n + 1) * sizeof *jobs);
		jobs[n++] = gb_strdup(gb_col(st, 0));
	}
	gb_finalize(st);
	*np = n;
	return jobs;
}

static const char *
job_schedule(const struct gb_report *r, const char *job)
{
	for (size_t i = 0; i < r->njobs; i++)
		if (strcmp(r->jobs[i].name, job) == 0)
			return r->jobs[i].schedule;
	return NULL;
}

/*
 * Each job's days of the thirteen weeks up to the report's day, local
 * time: ok (a run that day ended ok), failed (runs, none ok), running,
 * missing (its schedule says it runs that day, before the report's day,
 * from its first run on, and no run began), or none.
 */
static void
html_calendar(const struct gb_report *r, struct gb_out *o)
{
	time_t now = gb_parse_time(r->now);
	time_t start = now - (QUARTER_DAYS - 1) * 86400L;
	char from[21], day0[11], **jobs;
	struct tm tm0;
	size_t nj;
	struct gb_stmt *st = gb_catalog_prepare(r->c, "SELECT started, status, "
	    "(SELECT min(started) FROM runs f WHERE f.site = runs.site AND f.job "
	    "= runs.job) FROM runs WHERE " GB_OF_SITE("site", 3) " AND job = ?1 "
	    "AND started >= ?2 ORDER BY started");

	gb_fmt_time(from, start - 86400);	/* a day more for time zones */
	local_day(start, day0, &tm0);
	jobs = calendar_jobs(r, from, &nj);
	section(r, o, "runs");
	hf(o, "<h2>Backup runs</h2>\n<p class=\"legend\">"
	    "<span class=\"ok\"></span>ok <span class=\"failed\"></span>failed "
	    "<span class=\"missing\"></span>missing <span class=\"running\">"
	    "</span>running <span class=\"none\"></span>not scheduled</p>\n");
	if (!nj)
		hf(o, "<p>No jobs.</p>\n");
	for (size_t j = 0; j < nj; j++) {
		const char *sched = job_schedule(r, jobs[j]);
		char status[QUARTER_DAYS][8], first[11] = "";
		int cnt[5] = { 0 }, lead = tm0.tm_wday;
		static const char *names[] = { "ok", "failed", "missing",
		    "running", "none" };
		memset(status, 0, sizeof status);
		gb_reset(st);
		gb_bind_text(st, 1, jobs[j]);
		gb_bind_text(st, 2, from);
		gb_bind_text(st, 3, r->site);
		while (gb_step(st) == GB_ROW) {
			struct tm tm;
			char day[11];
			long d;
			if (!*first)
				local_day(gb_parse_time(gb_col(st, 2)), first,
				    &tm);
			local_day(gb_parse_time(gb_col(st, 0)), day, &tm);
			for (d = 0; d < QUARTER_DAYS; d++) {
				char dd[11];
				local_day(start + d * 86400, dd, &tm);
				if (strcmp(dd, day) == 0)
					break;
			}
			if (d == QUARTER_DAYS)
				continue;
			if (strcmp(gb_col(st, 1), "ok") == 0)
				strcpy(status[d], "ok");
			else if (strcmp(gb_col(st, 1), "failed") == 0 &&
			    strcmp(status[d], "ok"))
				strcpy(status[d], "failed");
			else if (!*status[d])
				strcpy(status[d], "running");
		}
		hf(o, "<div class=\"job\" data-job=\"");
		he(o, jobs[j]);
		hf(o, "\"><h3>");
		he(o, jobs[j]);
		if (sched) {
			hf(o, " <small>");
			he(o, sched);
			hf(o, "</small>");
		}
		hf(o, "</h3>\n<svg class=\"calendar\" width=\"%d\" height=\"%d\" "
		    "role=\"img\">", 40 + 15 * 14, 30 + 7 * 15);
		for (int w = 0; w < 7; w++)
			hf(o, "<text class=\"wd\" x=\"0\" y=\"%d\">%s</text>",
			    38 + w * 15, (const char *[]){ "Sun", "Mon", "Tue", "Wed",
			    "Thu", "Fri", "Sat" }[w]);
		for (long d = 0; d < QUARTER_DAYS; d++) {
			struct tm tm;
			char day[11];
			const char *s;
			long cell = d + lead;
			local_day(start + d * 86400, day, &tm);
			if (*status[d])
				s = status[d];
			else if (sched && d < QUARTER_DAYS - 1 && *first &&
			    strcmp(day, first) >= 0 &&
			    gb_cron_day(sched, &tm) == 1)
				s = "missing";
			else if (sched && !*first && d < QUARTER_DAYS - 1 &&
			    gb_cron_day(sched, &tm) == 1)
				s = "missing";
			else
				s = "none";
			for (int k = 0; k < 5; k++)
				if (strcmp(s, names[k]) == 0)
					cnt[k]++;
			if (tm.tm_mday == 1 || d == 0)
				hf(o, "<text class=\"mon\" x=\"%ld\" y=\"12\">%.7s</text>",
				    40 + cell / 7 * 15, day);
			hf(o, "<rect class=\"day %s\" x=\"%ld\" y=\"%ld\" width=\"12\" "
			    "height=\"12\" data-date=\"%s\" data-status=\"%s\"><title>"
			    "%s %s</title></rect>", s, 40 + cell / 7 * 15,
			    20 + cell % 7 * 15, day, s, day, s);
		}
		hf(o, "</svg>\n<p class=\"counts\" data-ok=\"%d\" data-failed=\"%d\" "
		    "data-missing=\"%d\">days ok: <b>%d</b>, failed: <b>%d</b>, "
		    "missing: <b>%d</b>, running: %d</p></div>\n", cnt[0], cnt[1],
		    cnt[2], cnt[0], cnt[1], cnt[2], cnt[3]);
	}
	hf(o, "</section>\n");
	gb_finalize(st);
	for (size_t j = 0; j < nj; j++)
		free(jobs[j]);
	free(jobs);
}

/*
 * A restore test recorded by hand (gb-catalog tested) is shown apart, as
 * gb-catalog check does not count it: only gb-restore --test proves.
 */
static const char *
result_class(struct gb_stmt *st)
{
	return gb_col_int64(st, 5) ? "manual" :
	    gb_col_int64(st, 3) ? "ok" : "failed";
}

static const char *
result_text(struct gb_stmt *st)
{
	return gb_col_int64(st, 5) ? (gb_col_int64(st, 3) ?
	    "ok, recorded by hand" : "FAILED, recorded by hand") :
	    gb_col_int64(st, 3) ? "ok" : "FAILED";
}

/* The restore tests of the thirteen weeks, on a time line and listed. */
static void
html_restores(const struct gb_report *r, struct gb_out *o)
{
	time_t now = gb_parse_time(r->now), start = now - QUARTER_DAYS * 86400L;
	char from[21];
	struct gb_stmt *st = gb_catalog_prepare(r->c, "SELECT at, archive, "
	    "coalesce(medium, ''), ok, coalesce(detail, ''), manual FROM checks "
	    "WHERE " GB_OF_SITE("site", 3) " AND kind = 'restore-test' AND at >= "
	    "?1 AND at <= ?2 ORDER BY at, id");
	int n = 0, good = 0, by_hand = 0;

	gb_fmt_time(from, start);
	gb_bind_text(st, 1, from);
	gb_bind_text(st, 2, r->now);
	gb_bind_text(st, 3, r->site);
	section(r, o, "restores");
	hf(o, "<h2>Restore tests</h2>\n<svg "
	    "class=\"timeline\" width=\"%d\" height=\"40\" role=\"img\"><line "
	    "x1=\"10\" y1=\"20\" x2=\"%d\" y2=\"20\" class=\"axis\"/>",
	    20 + QUARTER_DAYS * 8, 10 + QUARTER_DAYS * 8);
	while (gb_step(st) == GB_ROW) {
		long x = 10 + (gb_parse_time(gb_col(st, 0)) - start) / 86400 * 8;
		hf(o, "<circle class=\"test %s\" cx=\"%ld\" cy=\"20\" r=\"6\"><title>",
		    result_class(st), x < 10 ? 10 : x);
		he(o, gb_col(st, 0));
		hf(o, " ");
		he(o, gb_col(st, 1));
		hf(o, ": %s</title></circle>", result_text(st));
	}
	hf(o, "</svg>\n<table class=\"restores\"><tr><th>when</th><th>archive"
	    "</th><th>medium</th><th>result</th><th>detail</th></tr>\n");
	gb_reset(st);
	while (gb_step(st) == GB_ROW) {
		int ok = gb_col_int64(st, 3), manual =
		    gb_col_int64(st, 5);
		n++;
		good += ok && !manual;
		by_hand += manual;
		hf(o, "<tr class=\"%s\"><td>", result_class(st));
		for (int i = 0; i < 5; i++) {
			if (i == 3)
				hf(o, "%s", result_text(st));
			else
				he(o, gb_col(st, i));
			hf(o, "%s", i < 4 ? "</td><td>" : "</td></tr>\n");
		}
	}
	gb_finalize(st);
	hf(o, "</table>\n<p class=\"counts\" data-tests=\"%d\" data-ok=\"%d\" "
	    "data-manual=\"%d\">%d restore test%s in these 13 weeks: %d ok, "
	    "%d recorded by hand (they do not count), %d failed.</p>"
	    "</section>\n", n, good, by_hand, n, n == 1 ? "" : "s", good,
	    by_hand, n - good - by_hand);
}

/* The media in use of each pool, by where they are; retired ones apart. */
static void
html_media(const struct gb_report *r, struct gb_out *o)
{
	static const char *locs[] = { "onsite", "transit", "offsite", "retired" };
	struct gb_stmt *st = gb_catalog_prepare(r->c, "SELECT pool, CASE WHEN "
	    "state = 'retired' THEN 'retired' ELSE location END, id FROM media "
	    "WHERE " GB_OF_SITE("site", 1) " ORDER BY pool, id");
	char *pool = NULL;
	long long c[4] = { 0 };
	char *ids[4] = { 0 };
	int any = 0;

	gb_bind_text(st, 1, r->site);
	section(r, o, "media");
	hf(o, "<h2>Media and where they are</h2>\n"
	    "<table class=\"media\"><tr><th>pool</th><th>where</th><th>onsite"
	    "</th><th>transit</th><th>offsite</th><th>retired</th></tr>\n");
	for (int more = 1; more;) {
		more = gb_step(st) == GB_ROW;
		if (pool && (!more || strcmp(pool, gb_col(st, 0)))) {
			long long in = c[0] + c[1] + c[2];
			double x = 0;
			hf(o, "<tr data-pool=\"");
			he(o, pool);
			hf(o, "\"><td>");
			he(o, pool);
			hf(o, "</td><td><svg class=\"where\" width=\"200\" height=\"16\" "
			    "role=\"img\">");
			for (int i = 0; i < 3; i++) {
				double w = in ? 200.0 * c[i] / in : 0;
				hf(o, "<rect class=\"%s\" x=\"%.1f\" y=\"0\" width=\"%.1f\" "
				    "height=\"16\" data-count=\"%lld\"/>", locs[i], x, w,
				    c[i]);
				x += w;
			}
			hf(o, "</svg></td>");
			for (int i = 0; i < 4; i++) {
				hf(o, "<td class=\"%s\" data-count=\"%lld\"><b>%lld</b> ",
				    locs[i], c[i], c[i]);
				he(o, ids[i] ? ids[i] : "");
				hf(o, "</td>");
				free(ids[i]);
				ids[i] = NULL;
				c[i] = 0;
			}
			hf(o, "</tr>\n");
			free(pool);
			pool = NULL;
			any = 1;
		}
		if (!more)
			break;
		if (!pool)
			pool = gb_strdup(gb_col(st, 0));
		/* each medium counted, its id after those before it */
		for (int i = 0; i < 4; i++)
			if (strcmp(gb_col(st, 1), locs[i]) == 0) {
				char *s = gb_asprintf("%s%s%s", ids[i] ? ids[i] : "",
				    ids[i] ? " " : "", gb_col(st, 2));
				free(ids[i]);
				ids[i] = s;
				c[i]++;
			}
	}
	gb_finalize(st);
	hf(o, "</table>\n%s</section>\n", any ? "" : "<p>No media.</p>");
}

static void
html_needs(const struct gb_report *r, struct gb_out *o)
{
	size_t n;
	struct need *nd = load_needs(r, &n);
	long long max = 1;

	for (size_t i = 0; i < n; i++) {
		if (nd[i].need > max)
			max = nd[i].need;
		if (nd[i].have > max)
			max = nd[i].have;
	}
	section(r, o, "next");
	hf(o, "<h2>Media for the next quarter</h2>\n<p>At "
	    "the rate of the last 90 days, with the rotation counted: a pool "
	    "whose media go offsite needs one for each night they are away, "
	    "and the one being written.</p>\n<table class=\"needs\"><tr><th>pool"
	    "</th><th>bytes in 90 days</th><th>average capacity</th><th>media"
	    "</th><th>by bytes</th><th>by rotation</th><th>needed</th><th>"
	    "</th></tr>\n");
	for (size_t i = 0; i < n; i++) {
		int hw = (int)(160.0 * nd[i].have / max);
		int nw = (int)(160.0 * (nd[i].need > 0 ? nd[i].need : 0) / max);
		hf(o, "<tr data-pool=\"");
		he(o, nd[i].pool);
		hf(o, "\" data-need=\"%lld\" data-have=\"%lld\" data-rotation=\"%ld\">"
		    "<td>", nd[i].need, nd[i].have, nd[i].rotation);
		he(o, nd[i].pool);
		hf(o, "</td><td>");
		hsize(o, nd[i].bytes90);
		hf(o, "</td><td>");
		if (nd[i].cap > 0)
			hsize(o, (long long)(nd[i].cap + 0.5));
		else
			hf(o, "unknown");
		hf(o, "</td><td>%lld</td><td>", nd[i].have);
		if (nd[i].volume >= 0)
			hf(o, "%lld", nd[i].volume);
		else
			hf(o, "-");
		hf(o, "</td><td>%ld</td><td class=\"need\"><b>", nd[i].rotation);
		if (nd[i].need >= 0)
			hf(o, "%s%lld", nd[i].cap > 0 ? "" : "at least ", nd[i].need);
		else
			hf(o, "unknown");
		if (nd[i].need > nd[i].have)
			hf(o, " <span class=\"short\">(%lld more)</span>",
			    nd[i].need - nd[i].have);
		hf(o, "</b></td><td><svg class=\"need\" width=\"170\" height=\"22\" "
		    "role=\"img\"><rect class=\"have\" x=\"0\" y=\"1\" width=\"%d\" "
		    "height=\"9\"><title>media: %lld</title></rect><rect "
		    "class=\"needbar%s\" x=\"0\" y=\"12\" width=\"%d\" height=\"9\">"
		    "<title>needed: %lld</title></rect></svg></td></tr>\n",
		    hw, nd[i].have, nd[i].need > nd[i].have ? " short" : "", nw,
		    nd[i].need);
	}
	hf(o, "</table></section>\n");
	free_needs(nd, n);
}

static const char css[] =
    "body{font-family:'DejaVu Sans','WenQuanYi Micro Hei',sans-serif;"
    "margin:1.5em;color:#222;max-width:75em}"
    "h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;margin-top:1.6em}"
    "h3{margin:.8em 0 .3em}small{color:#666;font-weight:normal}"
    "table{border-collapse:collapse;margin:.4em 0}"
    "td,th{border:1px solid #ddd;padding:2px 8px;text-align:right}"
    "td:first-child,th:first-child{text-align:left}"
    "figure{display:inline-block;margin:0 1em 0 0}figcaption{color:#555}"
    ".pair{display:flex;flex-wrap:wrap}"
    "svg text{font-size:10px;text-anchor:middle;fill:#333}"
    "svg text.wd,svg text.mon{text-anchor:start;fill:#777}"
    ".axis{stroke:#999}.bar{fill:#4a7fc1}.change.up{fill:#1a7f37}"
    ".change.down{fill:#cf222e}"
    ".day.ok,.legend .ok,circle.ok{fill:#2da44e;background:#2da44e}"
    ".day.failed,.legend .failed,circle.failed{fill:#cf222e;background:#cf222e}"
    "circle.manual{fill:#bf8700}tr.manual td{color:#9a6700}"
    ".day.missing,.legend .missing{fill:#d4a72c;background:#d4a72c}"
    ".day.running,.legend .running{fill:#54aeff;background:#54aeff}"
    ".day.none,.legend .none{fill:#ebedf0;background:#ebedf0}"
    ".legend span{display:inline-block;width:12px;height:12px;margin:0 4px}"
    "rect.onsite{fill:#2da44e}rect.transit{fill:#d4a72c}"
    "rect.offsite{fill:#4a7fc1}rect.have{fill:#999}rect.needbar{fill:#4a7fc1}"
    "rect.short{fill:#cf222e}.short{color:#cf222e}tr.failed td{color:#cf222e}"
    "td.onsite,td.transit,td.offsite,td.retired{text-align:left;"
    "max-width:18em}"
    "tr.total td{font-weight:bold}td.failed{color:#cf222e}"
    "table.sites td{white-space:nowrap}"
    "h1.site{border-top:3px solid #4a7fc1;padding-top:.4em;margin-top:2em}"
    "@media print{section.site{break-before:page}}";

/*
 * The summary of every site, each linked to its part of the page, and
 * their total.
 */
static void
html_summary(const struct gb_report *r, struct gb_out *o, const char *day)
{
	struct summary *sum = load_summaries(r);
	static const char *cols[] = { "archives", "bytes", "runs-ok",
	    "runs-failed", "tests-ok", "tests-failed", "media", "offsite" };

	hf(o, "<section id=\"summary\"><h2>Every site <small>(the %d days up "
	    "to %s)</small></h2>\n<table class=\"sites\"><tr><th>site</th><th>"
	    "archives</th><th>archive bytes</th><th>runs ok</th><th>runs failed"
	    "</th><th>restore tests ok</th><th>restore tests failed</th><th>"
	    "media</th><th>offsite</th><th>last good backup</th><th>last "
	    "restore test</th></tr>\n", QUARTER_DAYS, day);
	for (size_t i = 0; i <= r->nsites; i++) {
		char v[8][24];
		summary_text(&sum[i], v);
		if (i < r->nsites) {
			hf(o, "<tr class=\"site\" data-site=\"");
			he(o, r->sites[i]);
			hf(o, "\"");
		} else
			hf(o, "<tr class=\"total\" data-sites=\"%zu\"", r->nsites);
		for (int k = 0; k < 8; k++)
			hf(o, " data-%s=\"%s\"", cols[k], v[k]);
		hf(o, "><td>");
		if (i < r->nsites) {
			hf(o, "<a href=\"#");
			site_anchor(o, r->sites[i]);
			hf(o, "\">");
			he(o, r->sites[i]);
			hf(o, "</a>");
		} else
			hf(o, "every site");
		hf(o, "</td><td>%s</td><td>", v[0]);
		hsize(o, sum[i].bytes);
		hf(o, "</td><td>%s</td><td%s>%s</td><td>%s</td><td%s>%s</td>"
		    "<td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", v[2],
		    sum[i].runs_failed ? " class=\"failed\"" : "", v[3], v[4],
		    sum[i].tests_failed ? " class=\"failed\"" : "", v[5], v[6],
		    v[7], *sum[i].last_backup ? sum[i].last_backup : "never",
		    *sum[i].last_test ? sum[i].last_test : "never");
	}
	hf(o, "</table></section>\n");
	free(sum);
}

/* The parts of a site's report. */
static void
html_site(const struct gb_report *r, struct gb_out *o)
{
	html_growth(r, o);
	html_calendar(r, o);
	html_restores(r, o);
	html_media(r, o);
	html_needs(r, o);
}

/*
 * The page: one file, its style inline, its charts inline SVG, no
 * script, no link, no image or font from anywhere.  Written whole or
 * not at all.  One site's, or (nsites) the summary of every site, then
 * each site's part under its anchor, a printed page of its own.
 */
int
gb_report_html(const struct gb_report *r, const char *path)
{
	struct gb_atomic a;
	struct gb_out o;
	mode_t um = umask(0);
	char day[11], *whose;

	umask(um);
	if (gb_atomic_open(&a, path, 0666 & ~um) == -1)
		gb_err(GB_EXIT_RUN, "%s", path);
	gb_out_init(&o, a.fd, 0);
	local_day(gb_parse_time(r->now), day, &(struct tm){ 0 });
	whose = r->nsites ? gb_strdup(": every site") : r->named ?
	    gb_asprintf(": site %s", r->site) : gb_strdup("");
	hf(&o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
	    "'none'; style-src 'unsafe-inline'\"><title>gymbackup: quarterly "
	    "review (季度评估) %s", day);
	he(&o, whose);
	hf(&o, "</title><style>%s</style></head><body>\n<h1>Quarterly review "
	    "(季度评估), %s", css, day);
	he(&o, whose);
	hf(&o, "</h1>\n<p class=\"about\">From the catalog ");
	he(&o, r->catalog);
	hf(&o, " on %s: %sgrowth per table, backup runs and restore tests of "
	    "the %d days up to %s, the media and the next quarter's needs%s. "
	    "Sizes in K, M, G of 1024 bytes; the bytes in each tooltip.</p>\n",
	    r->now, r->nsites ? "the summary of every site, then each site's "
	    : "", QUARTER_DAYS, day, r->nsites ? ", each site on a page of its "
	    "own when printed" : "");
	free(whose);
	if (!r->nsites) {
		struct gb_report s = of_site(r, r->site);
		html_site(&s, &o);
	} else
		html_summary(r, &o, day);
	for (size_t i = 0; i < r->nsites; i++) {
		struct gb_report s = of_site(r, r->sites[i]);
		hf(&o, "<section class=\"site\" id=\"");
		site_anchor(&o, r->sites[i]);
		hf(&o, "\" data-site=\"");
		he(&o, r->sites[i]);
		hf(&o, "\"><h1 class=\"site\">Site ");
		he(&o, r->sites[i]);
		hf(&o, "</h1>\n<p class=\"back\"><a href=\"#summary\">The summary "
		    "of every site</a></p>\n");
		html_site(&s, &o);
		hf(&o, "</section>\n");
	}
	hf(&o, "</body></html>\n");
	if (gb_out_finish(&o, NULL) == -1) {
		errno = o.err;
		gb_atomic_abort(&a);
		gb_err(GB_EXIT_RUN, "%s", path);
	}
	if (gb_atomic_commit(&a) == -1)
		gb_err(GB_EXIT_RUN, "%s", path);
	return GB_EXIT_OK;
}
