/*
 * job.c - the backup task table of the config (gymbackup.conf(5)): its
 * [job NAME] and [pool NAME] sections, their rules, defaults and cron
 * times.  gb-catalog applies them and prints them (gb-catalog job, pool)
 * for gb-backup, so that one reader judges the file for every tool.
 *
 * The judging functions print each error they find, "config: FILE:LINE:
 * [SECTION]: why", and return how many; they never exit.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gb.h"

#define RETENTION_DAYS	30	/* when neither job nor pool says */
#define SPOOL_DIR	"/var/spool/gymbackup"

static const char *const pool_keys[] = { "kind", "retention_days", "offsite",
    "offsite_days", NULL };
static const char *const job_keys[] = { "schedule", "tables", "level",
    "chain", "pool", "retention_days", "media", "verify", "alert_after",
    NULL };
static const char *const spool_keys[] = { "dir", NULL };

static const char *const months[] = { "jan", "feb", "mar", "apr", "may",
    "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const days[] = { "sun", "mon", "tue", "wed", "thu",
    "fri", "sat", NULL };

/* Quiet while a job reads its pool: the pool's errors are said once. */
static int quiet;

static int bad(const struct gb_conf *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
bad(const struct gb_conf *c, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (quiet)
		return 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (line)
		gb_warnx("config: %s:%d: %s", c->path, line, msg);
	else
		gb_warnx("config: %s: %s", c->path, msg);
	return 1;
}

/* A value; empty counts as unset. */
static const char *
get(const struct gb_conf *c, const char *sect, const char *key)
{
	const char *v = gb_conf_get(c, sect, key);

	return v && *v ? v : NULL;
}

/* The line of an entry, else of its section's header. */
static int
line_of(const struct gb_conf *c, const char *sect, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->e[i].section, sect) == 0 &&
		    strcmp(c->e[i].key, key) == 0)
			return c->e[i].line;
	return gb_conf_section_line(c, sect);
}

static int
keys_known(const struct gb_conf *c, const char *sect, const char *const *known)
{
	char list[512] = "";
	int n = 0;

	for (const char *const *k = known; *k; k++) {
		size_t l = strlen(list);
		snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "", *k);
	}
	for (size_t i = 0; i < c->n; i++) {
		const char *const *k;
		if (strcmp(c->e[i].section, sect) != 0)
			continue;
		for (k = known; *k && strcmp(*k, c->e[i].key) != 0; k++)
			;
		if (!*k)
			n += bad(c, c->e[i].line, "[%s]: unknown key %s "
			    "(known: %s)", sect, c->e[i].key, list);
	}
	return n;
}

/* A count of days or hours: up to six digits. */
static int
is_count(const char *v)
{
	size_t n = strspn(v, "0123456789");

	return n > 0 && n <= 6 && v[n] == '\0';
}

/* 1 after the message if key of sect is set but not a count. */
static int
bad_count(const struct gb_conf *c, const char *sect, const char *key)
{
	const char *v = get(c, sect, key);

	if (!v || is_count(v))
		return 0;
	return bad(c, line_of(c, sect, key), "[%s]: %s must be a number, "
	    "not %s", sect, key, v);
}

/* The next word of *p, its length in *len; words end at one of seps. */
static const char *
word(const char **p, const char *seps, size_t *len)
{
	const char *w = *p + strspn(*p, seps);

	if (!*w)
		return NULL;
	*len = strcspn(w, seps);
	*p = w + *len;
	return w;
}

/* ---------------------------------------------------------- cron times */

/* A number of a cron field, or a name's (names[i] is first + i); -1. */
static int
cron_num(const char *s, size_t len, const char *const *names, int first)
{
	if (len >= 1 && len <= 2 && strspn(s, "0123456789") >= len)
		return len == 1 ? s[0] - '0' : (s[0] - '0') * 10 + s[1] - '0';
	for (int i = 0; names && names[i]; i++)
		if (strlen(names[i]) == len &&
		    strncasecmp(s, names[i], len) == 0)
			return first + i;
	return -1;
}

/*
 * Does a cron field (lists, ranges, steps, names) take want?  1, else 0;
 * -1 for a field it cannot read.  As cron, a start with a step runs to
 * max, and 7 of the days of the week is Sunday (0).
 */
static int
cron_takes(const char *v, size_t len, int min, int max,
    const char *const *names, int first, int want)
{
	const char *end = v + len, *part, *next, *slash, *dash;
	int took = 0, star;

	if (len == 0 || v[0] == ',' || v[len - 1] == ',' ||
	    memmem(v, len, ",,", 2))
		return -1;
	for (part = v; part < end; part = next + 1) {
		int r[2] = { min, max }, step = 0;
		if (!(next = memchr(part, ',', (size_t)(end - part))))
			next = end;
		if ((slash = memchr(part, '/', (size_t)(next - part)))) {
			size_t n = (size_t)(next - slash - 1);
			if (n == 0 || strspn(slash + 1, "0123456789") < n ||
			    strspn(slash + 1, "0") >= n)
				return -1;
			for (size_t i = 1; i <= n && step <= max; i++)
				step = step * 10 + slash[i] - '0';
		} else
			slash = next;
		star = slash - part == 1 && *part == '*';
		dash = memchr(part, '-', (size_t)(slash - part));
		for (int i = 0; i < 2 && !star; i++) {
			const char *a = i == 0 || !dash ? part : dash + 1;
			const char *b = i == 1 || !dash ? slash : dash;
			if ((r[i] = cron_num(a, (size_t)(b - a), names,
			    first)) < min || r[i] > max)
				return -1;
		}
		if (!star && !dash && slash != next)
			r[1] = max;
		for (int x = r[0]; x <= r[1]; x += step ? step : 1)
			took |= x == want || (max == 7 && x == 7 && want == 0);
	}
	return took;
}

static int
cron_field(const char *v, size_t len, int min, int max,
    const char *const *names, int first)
{
	return cron_takes(v, len, min, max, names, first, -1) >= 0;
}

/* Splits a cron time into its fields; how many there are. */
static int
cron_split(const char *s, const char *f[5], size_t flen[5])
{
	size_t len;
	int n = 0;

	while (word(&s, " \t\n", &len))
		if (n++ < 5) {
			f[n - 1] = s - len;
			flen[n - 1] = len;
		}
	return n;
}

int
gb_cron_valid(const char *schedule)
{
	const char *f[5];
	size_t l[5];

	return cron_split(schedule, f, l) == 5 &&
	    cron_field(f[0], l[0], 0, 59, NULL, 0) &&
	    cron_field(f[1], l[1], 0, 23, NULL, 0) &&
	    cron_field(f[2], l[2], 1, 31, NULL, 0) &&
	    cron_field(f[3], l[3], 1, 12, months, 1) &&
	    cron_field(f[4], l[4], 0, 7, days, 0);
}

int
gb_cron_day(const char *schedule, const struct tm *tm)
{
	const char *f[5];
	size_t l[5];
	int dom, mon, dow;

	if (cron_split(schedule ? schedule : "", f, l) != 5)
		return -1;
	dom = cron_takes(f[2], l[2], 1, 31, NULL, 0, tm->tm_mday);
	mon = cron_takes(f[3], l[3], 1, 12, months, 1, tm->tm_mon + 1);
	dow = cron_takes(f[4], l[4], 0, 7, days, 0, tm->tm_wday);
	if (dom < 0 || mon < 0 || dow < 0)
		return -1;
	/* as cron: when both days are restricted, either will do */
	return mon && (*f[2] != '*' && *f[4] != '*' ? dom || dow :
	    dom && dow);
}

static int
all_of(const char *s, size_t len, const char *set)
{
	return len > 0 && strspn(s, set) >= len;
}

#define ALNUM "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

static void
day_name(FILE *m, const char *s, size_t len)
{
	static const char *const name[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat", "Sun" };
	int n = cron_num(s, len, days, 0);

	if (n >= 0 && n <= 7)
		fputs(name[n], m);
}

/*
 * A valid cron time in words: "daily 01:30", "weekly Sun 01:30", "Mon-Sat
 * 01:30", "monthly day 1 03:00"; "see schedule" for other shapes.
 */
char *
gb_cron_words(const char *schedule)
{
	const char *f[5], *p, *e;
	size_t l[5], n;
	char *out = NULL;
	size_t outlen;
	FILE *m;
	int weekdays;

	if (cron_split(schedule, f, l) != 5 ||
	    !all_of(f[0], l[0], "0123456789"))
		return gb_strdup("see schedule");
	/* the hours: digits and commas, no empty one */
	if (!all_of(f[1], l[1], "0123456789,") || f[1][0] == ',' ||
	    f[1][l[1] - 1] == ',' || memmem(f[1], l[1], ",,", 2))
		return gb_strdup("see schedule");
	if (!(m = open_memstream(&out, &outlen)))
		gb_err(GB_EXIT_RUN, "open_memstream");
	/* the day part: which pattern of the fields 3 to 5 */
	weekdays = l[2] == 1 && *f[2] == '*' && l[3] == 1 && *f[3] == '*';
	if (weekdays && l[4] == 1 && *f[4] == '*')
		fputs("daily", m);
	else if (weekdays && all_of(f[4], l[4], ALNUM)) {
		fputs("weekly ", m);
		day_name(m, f[4], l[4]);
	} else if (weekdays && all_of(f[4], l[4], ALNUM ",-") &&
	    cron_field(f[4], l[4], 0, 7, days, 0) &&
	    !memchr(f[4], '*', l[4])) {
		for (p = f[4]; p < f[4] + l[4]; p = e + 1) {
			if (!(e = memchr(p, ',', (size_t)(f[4] + l[4] - p))))
				e = f[4] + l[4];
			const char *d = memchr(p, '-', (size_t)(e - p));
			if (p != f[4])
				fputc(',', m);
			day_name(m, p, (size_t)((d ? d : e) - p));
			if (d) {
				fputc('-', m);
				day_name(m, d + 1, (size_t)(e - d - 1));
			}
		}
	} else if (all_of(f[2], l[2], "0123456789") && l[3] == 1 &&
	    *f[3] == '*' && l[4] == 1 && *f[4] == '*')
		fprintf(m, "monthly day %d", atoi(f[2]));
	else {
		fclose(m);
		free(out);
		return gb_strdup("see schedule");
	}
	fputc(' ', m);
	for (p = f[1]; p < f[1] + l[1]; p += n + 1) {
		n = strcspn(p, ", \t\n");
		fprintf(m, "%s%02d:%02d", p == f[1] ? "" : ",", atoi(p),
		    atoi(f[0]));
	}
	if (fclose(m) == EOF)
		gb_err(GB_EXIT_RUN, "open_memstream");
	return out;
}

/* --------------------------------------------------------------- pools */

int
gb_pool_read(const struct gb_conf *c, const char *name, struct gb_pool *p)
{
	char *s = gb_asprintf("pool %s", name);
	static const char *const days_keys[] = { "retention_days",
	    "offsite_days" };
	const char *v;
	int n = keys_known(c, s, pool_keys);

	memset(p, 0, sizeof *p);
	p->name = name;
	p->kind = get(c, s, "kind");
	if (p->kind && strcmp(p->kind, "dir") && strcmp(p->kind, "tape"))
		n += bad(c, line_of(c, s, "kind"), "[%s]: kind must be dir or "
		    "tape, not %s", s, p->kind);
	for (size_t i = 0; i < 2; i++)
		if ((v = get(c, s, days_keys[i])) && !is_count(v))
			n += bad(c, line_of(c, s, days_keys[i]), "[%s]: %s "
			    "must be a number of days, not %s", s, days_keys[i],
			    v);
	v = get(c, s, "retention_days");
	p->retention_days = v ? atol(v) : RETENTION_DAYS;
	v = get(c, s, "offsite_days");
	p->offsite_days = v ? atol(v) : -1;
	v = get(c, s, "offsite");
	if (v && (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1")))
		p->offsite = 1;
	else if (v && strcmp(v, "no") && strcmp(v, "false") && strcmp(v, "0"))
		n += bad(c, line_of(c, s, "offsite"), "[%s]: offsite must be "
		    "yes or no, not %s", s, v);
	free(s);
	return n;
}

void
gb_pool_print(FILE *fp, const struct gb_pool *p)
{
	fprintf(fp, "pool\t%s\n", p->name);
	if (p->kind)
		fprintf(fp, "kind\t%s\n", p->kind);
	fprintf(fp, "retention_days\t%ld\noffsite\t%s\n", p->retention_days,
	    p->offsite ? "yes" : "no");
	if (p->offsite_days >= 0)
		fprintf(fp, "offsite_days\t%ld\n", p->offsite_days);
}

/* ---------------------------------------------------------------- jobs */

/* A job's chain: its own name unless it says. */
static const char *
chain_of(const struct gb_conf *c, const char *sect, const char *name)
{
	const char *v = get(c, sect, "chain");

	return v ? v : name;
}

/* alert_after, else from the schedule: daily, weekly or monthly. */
static long
alert_hours(const char *alert, const char *sched)
{
	const char *f[5];
	size_t l[5];
	long h = alert ? atol(alert) : 0;
	int n;

	if (h)
		return h;
	n = cron_split(sched ? sched : "", f, l);
	if (n >= 5 && !(l[2] == 1 && *f[2] == '*'))
		return 31 * 24 + 2;	/* monthly */
	if (n >= 5 && !(l[4] == 1 && *f[4] == '*') &&
	    strcspn(f[4], ",-/") >= l[4])
		return 7 * 24 + 2;	/* weekly */
	return 26;			/* daily, and two hours' grace */
}

/* A job's pool retention, with the pool judged; -1 after its errors. */
static long
pool_retention(const struct gb_conf *c, const char *pool)
{
	struct gb_pool p;
	char *s;
	int has;

	if (!pool)
		return RETENTION_DAYS;
	s = gb_asprintf("pool %s", pool);
	has = gb_conf_has_section(c, s);
	free(s);
	if (!has)
		return RETENTION_DAYS;
	return gb_pool_read(c, pool, &p) ? -1 : p.retention_days;
}

long
gb_job_retention(const struct gb_conf *c, const char *job)
{
	char *s = gb_asprintf("job %s", job);
	const char *v = get(c, s, "retention_days");
	long d;

	if (bad_count(c, s, "retention_days"))
		d = -1;
	else
		d = v ? atol(v) : pool_retention(c, get(c, s, "pool"));
	free(s);
	return d;
}

long
gb_job_alert_hours(const struct gb_conf *c, const char *job)
{
	char *s = gb_asprintf("job %s", job);
	long h;

	if (bad_count(c, s, "alert_after"))
		h = -1;
	else
		h = alert_hours(get(c, s, "alert_after"),
		    get(c, s, "schedule"));
	free(s);
	return h;
}

/* Each medium fits the pool's kind. */
static int
check_media(const struct gb_conf *c, const char *s, const struct gb_pool *p,
    const char *media)
{
	int line = line_of(c, s, "media"), n = 0;
	size_t len;
	const char *w;

	while (p->kind && (w = word(&media, " \t\n", &len))) {
		int tape = strncmp(w, "tape:", 5) == 0 ||
		    strncmp(w, "/dev/", 5) == 0;
		if (strcmp(p->kind, "dir") == 0 && tape)
			n += bad(c, line, "[%s]: %.*s is a tape; pool %s holds "
			    "directory media", s, (int)len, w, p->name);
		else if (strcmp(p->kind, "dir") == 0 && *w != '/')
			n += bad(c, line, "[%s]: %.*s: give the directory as "
			    "an absolute path", s, (int)len, w);
		else if (strcmp(p->kind, "tape") == 0 && !tape)
			n += bad(c, line, "[%s]: %.*s is not a tape (pool %s "
			    "holds tapes: /dev/nstN or tape:PATH.tap)", s,
			    (int)len, w, p->name);
	}
	return n;
}

int
gb_job_name_ok(const char *name)
{
	return isalnum((unsigned char)*name) && strspn(name, ALNUM "._-") ==
	    strlen(name);
}

int
gb_job_read(const struct gb_conf *c, const char *name, struct gb_job *j)
{
	char *s = gb_asprintf("job %s", name), *ps;
	const char *v;
	struct gb_pool p;
	int n = 0, hl = gb_conf_section_line(c, s);

	memset(j, 0, sizeof *j);
	j->name = name;
	if (!gb_job_name_ok(name))
		n += bad(c, hl, "[%s]: a job name is letters, digits, '.', '_' "
		    "and '-' (it names files and cron lines)", s);
	n += keys_known(c, s, job_keys);
	if (!(j->schedule = get(c, s, "schedule")))
		n += bad(c, hl, "[%s]: no schedule; set schedule = MIN HOUR "
		    "DOM MON DOW (a cron time)", s);
	else if (!gb_cron_valid(j->schedule))
		n += bad(c, line_of(c, s, "schedule"), "[%s]: schedule must be "
		    "a cron time of five fields (minute hour day-of-month "
		    "month day-of-week), not \"%s\"", s, j->schedule);
	if (!(j->level = get(c, s, "level")))
		j->level = "full";
	if (strcmp(j->level, "full") && strcmp(j->level, "incremental"))
		n += bad(c, line_of(c, s, "level"), "[%s]: level must be full "
		    "or incremental, not %s", s, j->level);
	if (!(j->verify = get(c, s, "verify")))
		j->verify = "seal";
	if (strcmp(j->verify, "seal") && strcmp(j->verify, "deep"))
		n += bad(c, line_of(c, s, "verify"), "[%s]: verify must be "
		    "seal or deep, not %s", s, j->verify);
	n += bad_count(c, s, "retention_days");
	n += bad_count(c, s, "alert_after");
	j->chain = chain_of(c, s, name);
	j->tables = get(c, s, "tables");
	j->media = get(c, s, "media");
	if (!(j->pool = get(c, s, "pool"))) {
		n += bad(c, hl, "[%s]: no pool; set pool = NAME of a [pool "
		    "NAME] section", s);
		goto out;
	}
	ps = gb_asprintf("pool %s", j->pool);
	if (!gb_conf_has_section(c, ps)) {
		n += bad(c, line_of(c, s, "pool"), "[%s]: pool %s is not "
		    "described; add a [pool %s] section", s, j->pool, j->pool);
		free(ps);
		goto out;
	}
	free(ps);
	quiet = 1;
	n += gb_pool_read(c, j->pool, &p);
	quiet = 0;
	if (!j->media)
		n += bad(c, hl, "[%s]: no media; set media = the directories "
		    "(mounted drives), tape devices or tape:PATH.tap images it "
		    "may write to", s);
	else
		n += check_media(c, s, &p, j->media);
	if (!n) {
		v = get(c, s, "retention_days");
		j->retention_days = v ? atol(v) : p.retention_days;
		j->alert_hours = alert_hours(get(c, s, "alert_after"),
		    j->schedule);
	}
out:
	free(s);
	return n;
}

int
gb_spool_check(const struct gb_conf *c)
{
	return keys_known(c, "spool", spool_keys);
}

const char *
gb_spool_dir(const struct gb_conf *c)
{
	const char *v = get(c, "spool", "dir");

	return v ? v : SPOOL_DIR;
}

static void
print_words(FILE *fp, const char *key, const char *s, const char *seps)
{
	size_t len;
	const char *w;

	while (s && (w = word(&s, seps, &len)))
		fprintf(fp, "%s\t%.*s\n", key, (int)len, w);
}

void
gb_job_print(FILE *fp, const struct gb_conf *c, const struct gb_job *j)
{
	char *when = gb_cron_words(j->schedule);
	const char *o, *site;
	size_t it = 0;

	fprintf(fp, "job\t%s\nschedule\t%s\nwhen\t%s\nlevel\t%s\nchain\t%s\n",
	    j->name, j->schedule, when, j->level, j->chain);
	print_words(fp, "table", j->tables, ", \t\n");
	fprintf(fp, "pool\t%s\nretention_days\t%ld\n", j->pool,
	    j->retention_days);
	print_words(fp, "media", j->media, " \t\n");
	fprintf(fp, "verify\t%s\nalert_after\t%ld\n", j->verify,
	    j->alert_hours);
	while ((o = gb_conf_next_section(c, "job", &it))) {
		char *s = gb_asprintf("job %s", o);
		if (strcmp(chain_of(c, s, o), j->chain) == 0)
			fprintf(fp, "chain_job\t%s\n", o);
		free(s);
	}
	fprintf(fp, "spool\t%s\n", gb_spool_dir(c));
	if ((site = get(c, "site", "name")))
		fprintf(fp, "site\t%s\n", site);
	free(when);
}
