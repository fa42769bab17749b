/*
 * test-lib.c - unit tests for lib/ (make tests/unit/test-lib).
 *
 * Prints "ok N - name" or "not ok N - name" per check, with "#" lines
 * explaining a failure, then "N passed, M failed"; exits 1 if any failed.
 * Everything runs in a private directory under $TMPDIR, removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include <sqlite3.h>
#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include "gb.h"
#include "gb-db.h"
#include "gb-media.h"
#include "gb-pgp.h"

#define INBUF (256 * 1024)	/* the CSV reader's block size */

static int ntest, nfail;
static char tmpdir[PATH_MAX];

/* ---- harness ---- */

static int
ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	ntest++;
	if (!cond)
		nfail++;
	printf("%sok %d - ", cond ? "" : "not ", ntest);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return cond;
}

static void
diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
diag(const char *fmt, ...)
{
	va_list ap;

	fputs("#   ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Bytes made printable for a diagnostic, cut at 200. */
static const char *
show(const void *p, size_t n)
{
	static char buf[4][1024];
	static int which;
	const unsigned char *s = p;
	char *b = buf[which++ & 3], *w = b;

	if (!p)
		return "(NULL)";
	*w++ = '"';
	for (size_t i = 0; i < n && i < 200; i++) {
		if (s[i] == '\\' || s[i] == '"')
			w += sprintf(w, "\\%c", s[i]);
		else if (s[i] >= 0x20 && s[i] < 0x7f)
			*w++ = (char)s[i];
		else
			w += sprintf(w, "\\x%02x", s[i]);
	}
	if (n > 200)
		w += sprintf(w, "...(%zu bytes)", n);
	*w++ = '"';
	*w = '\0';
	return b;
}

static int
ok_bytes(const void *got, size_t gotn, const void *exp, size_t expn,
    const char *name)
{
	int same = gotn == expn && (expn == 0 || memcmp(got, exp, expn) == 0);

	if (!ok(same, "%s", name)) {
		diag("expected %s", show(exp, expn));
		diag("got      %s", show(got, gotn));
	}
	return same;
}

static int
ok_str(const char *got, const char *exp, const char *name)
{
	int same = got && exp ? strcmp(got, exp) == 0 : got == exp;

	if (!ok(same, "%s", name)) {
		diag("expected %s", exp ? show(exp, strlen(exp)) : "(NULL)");
		diag("got      %s", got ? show(got, strlen(got)) : "(NULL)");
	}
	return same;
}

static int
ok_has(const char *s, const char *needle, const char *name)
{
	int has = s && strstr(s, needle);

	if (!ok(has, "%s", name)) {
		diag("expected text containing %s", show(needle, strlen(needle)));
		diag("got %s", s ? show(s, strlen(s)) : "(NULL)");
	}
	return has;
}

/* ---- files ---- */

static char *
tpath(const char *name)
{
	return gb_asprintf("%s/%s", tmpdir, name);
}

static void
writefile(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || gb_write_all(fd, p, n) == -1 || close(fd) == -1)
		gb_err(1, "test setup: %s", path);
}

static void
writestr(const char *path, const char *s)
{
	writefile(path, s, strlen(s));
}

static char *
readfile(const char *path, size_t *n)
{
	struct stat st;
	char *p;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) == -1)
		gb_err(1, "test setup: %s", path);
	p = gb_malloc((size_t)st.st_size + 1);
	if (gb_read_full(fd, p, (size_t)st.st_size) != st.st_size)
		gb_err(1, "test setup: %s", path);
	p[st.st_size] = '\0';
	close(fd);
	*n = (size_t)st.st_size;
	return p;
}

static int
rm1(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
rmtree(const char *path)
{
	nftw(path, rm1, 16, FTW_DEPTH | FTW_PHYS);
}

/* Names in a directory, sorted, joined by spaces. */
static char *
lsdir(const char *dir)
{
	struct dirent **ents;
	char *s = gb_strdup("");
	int n = scandir(dir, &ents, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, "..")) {
			char *t = gb_asprintf("%s%s%s", s, *s ? " " : "",
			    ents[i]->d_name);
			free(s);
			s = t;
		}
		free(ents[i]);
	}
	free(ents);
	return s;
}

/* gb_out into a scratch file, read back with cap_end. */
struct cap {
	char *path;
	int fd;
	struct gb_out o;
};

static void
cap_begin(struct cap *c, int hash)
{
	static int seq;

	c->path = gb_asprintf("%s/cap.%d", tmpdir, seq++);
	if ((c->fd = open(c->path, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0)
		gb_err(1, "test setup: %s", c->path);
	gb_out_init(&c->o, c->fd, hash);
}

static char *
cap_end(struct cap *c, size_t *n, char *hex)
{
	char *p;

	if (gb_out_finish(&c->o, hex) == -1)
		gb_err(1, "test: gb_out_finish %s", c->path);
	close(c->fd);
	p = readfile(c->path, n);
	unlink(c->path);
	free(c->path);
	return p;
}

/* ---- deterministic PRNG (xorshift64*) ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static size_t
rndn(size_t n)
{
	return (size_t)(rnd() % n);
}

/* ---- conf.c ---- */

static struct gb_conf
conf_from(const char *name, const char *text, int *r, char *err, size_t errlen)
{
	struct gb_conf c;
	char *path = tpath(name);

	writestr(path, text);
	*r = gb_conf_load(&c, path, err, errlen);
	free(path);
	return c;
}

static void
test_conf_good(void)
{
	static const char text[] =
	    "\xef\xbb\xbf# gymbackup.conf for the tests\n"
	    "; another comment\n"
	    "   # an indented comment\n"
	    "\n"
	    "[site]\n"
	    "name = demo-gym            ; site name\n"
	    "\n"
	    "[source]\n"
	    "uri = sqlite:/var/lib/gym/gym.db  # where the data lives\n"
	    "busy_timeout=30\n"
	    "\n"
	    "[table   members]   # the members\n"
	    "key = id\n"
	    "\twatermark\t=\tupdated_at\t; for incrementals\n"
	    "money = balance, bonus\n"
	    "[ table consumptions ]\n"
	    "key = id\n"
	    "[table\tcheckins]\n"
	    "[pool offsite]\n"
	    "kind = usb\n"
	    "color = a#fff\n"
	    "pass = a;b#c\n"
	    "empty =\n"
	    "empty2 =   ; nothing\n"
	    "eq = host=db port=5432\n"
	    "crlf = yes\r\n"
	    "spaced = a  b\t c\n"
	    "[table members]\n"
	    "class = master\n"
	    "[table promotions]\n"
	    "[site2]\n";
	struct gb_conf c;
	char err[512] = "", *path = tpath("good.conf");
	const char *s;
	size_t it;
	int r;

	c = conf_from("good.conf", text, &r, err, sizeof err);
	if (!ok(r == 0, "conf: good file loads"))
		diag("error: %s", err);
	if (r != 0)
		return;
	ok_str(c.path, path, "conf: path recorded");
	ok_str(gb_conf_get(&c, "site", "name"), "demo-gym",
	    "conf: trailing ' ; comment' stripped");
	ok_str(gb_conf_get(&c, "source", "uri"), "sqlite:/var/lib/gym/gym.db",
	    "conf: trailing ' # comment' stripped");
	ok_str(gb_conf_get(&c, "source", "busy_timeout"), "30",
	    "conf: key=value without spaces");
	ok_str(gb_conf_get(&c, "table members", "key"), "id",
	    "conf: [table   members] normalised to \"table members\"");
	ok_str(gb_conf_get(&c, "table members", "watermark"), "updated_at",
	    "conf: tabs around key, '=' and value trimmed");
	ok_str(gb_conf_get(&c, "table members", "money"), "balance, bonus",
	    "conf: inner spaces of a value kept");
	ok_str(gb_conf_get(&c, "table consumptions", "key"), "id",
	    "conf: [ table consumptions ] trimmed");
	ok_str(gb_conf_get(&c, "pool offsite", "color"), "a#fff",
	    "conf: '#' not after whitespace is part of the value");
	ok_str(gb_conf_get(&c, "pool offsite", "pass"), "a;b#c",
	    "conf: ';' not after whitespace is part of the value");
	ok_str(gb_conf_get(&c, "pool offsite", "empty"), "",
	    "conf: empty value");
	ok_str(gb_conf_get(&c, "pool offsite", "empty2"), "",
	    "conf: value that is only a comment is empty");
	ok_str(gb_conf_get(&c, "pool offsite", "eq"), "host=db port=5432",
	    "conf: '=' inside a value");
	ok_str(gb_conf_get(&c, "pool offsite", "crlf"), "yes",
	    "conf: CRLF line end");
	ok_str(gb_conf_get(&c, "pool offsite", "spaced"), "a  b\t c",
	    "conf: value keeps inner whitespace as written");
	ok_str(gb_conf_get(&c, "table members", "class"), "master",
	    "conf: a repeated section header adds to the section");
	ok(gb_conf_get(&c, "table members", "nosuch") == NULL,
	    "conf: missing key gives NULL");
	ok(gb_conf_get(&c, "nosuch", "key") == NULL,
	    "conf: missing section gives NULL");
	ok(gb_conf_get(&c, "table", "key") == NULL,
	    "conf: section type alone does not match [table NAME]");
	ok(c.n == 16, "conf: 16 key entries (got %zu)", c.n);
	for (size_t i = 0; i < c.n; i++)
		if (strcmp(c.e[i].key, "busy_timeout") == 0)
			ok(c.e[i].line == 10 &&
			    strcmp(c.e[i].section, "source") == 0,
			    "conf: entry records section and line (line %d)",
			    c.e[i].line);
	ok(gb_conf_has_section(&c, "table checkins"),
	    "conf: a section without keys exists");
	ok(gb_conf_has_section(&c, "site2"),
	    "conf: an empty last section exists");
	ok(gb_conf_has_section(&c, "site"), "conf: has_section site");
	ok(!gb_conf_has_section(&c, "table nosuch"),
	    "conf: has_section of a missing section");
	ok(!gb_conf_has_section(&c, "table"),
	    "conf: has_section needs the whole name");

	it = 0;
	{
		static const char *want[] = { "members", "consumptions",
		    "checkins", "promotions" };
		size_t k = 0;
		int good = 1;

		while ((s = gb_conf_next_section(&c, "table", &it))) {
			if (k >= 4 || strcmp(s, want[k]) != 0) {
				good = 0;
				diag("section %zu: %s", k, s);
			}
			k++;
		}
		ok(good && k == 4, "conf: [table ...] sections in file order, "
		    "each once (%zu)", k);
		ok(gb_conf_next_section(&c, "table", &it) == NULL,
		    "conf: iteration stays at its end");
	}
	it = 0;
	s = gb_conf_next_section(&c, "pool", &it);
	ok_str(s, "offsite", "conf: next_section pool");
	ok(gb_conf_next_section(&c, "pool", &it) == NULL,
	    "conf: only one pool");
	it = 0;
	ok(gb_conf_next_section(&c, "tab", &it) == NULL,
	    "conf: type must be a whole word");
	it = 0;
	ok(gb_conf_next_section(&c, "site", &it) == NULL,
	    "conf: [site] has no name, so is not a [site NAME]");
	gb_conf_free(&c);
	ok(c.e == NULL && c.n == 0 && c.path == NULL, "conf: free clears");
	free(path);
}

static void
test_conf_bad(void)
{
	static const struct {
		const char *text;
		int line;
		const char *why;
	} cases[] = {
		{ "[site]\nname = x\njunk line\n", 3, "malformed" },
		{ "# c\nname = x\n", 2, "outside" },
		{ "[site]\nname = a\nname = b\n", 3, "duplicate" },
		{ "[a]\nk = 1\n[b]\nk = 2\n[a]\nk = 3\n", 6, "duplicate" },
		{ "[a]\nk = 1\n[ a ]\nk = 3\n", 4, "duplicate" },
		{ "# ok\n\n[site\nname = x\n", 3, "unterminated" },
		{ "[site]\n = v\n", 2, "empty key" },
		{ "[site]\n\t=\n", 2, "empty key" },
		{ "[site] extra\n", 1, "malformed" },
		{ "[site]\nfoo bar = x\n", 2, "key" },
		{ "[]\nk = v\n", 1, "section" },
		{ "[site]\nname = x\n[table members]\nkey\n", 4, "malformed" },
	};
	char err[512], want[PATH_MAX + 32], *path;
	struct gb_conf c;
	int r;

	path = tpath("bad.conf");
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		err[0] = '\0';
		c = conf_from("bad.conf", cases[i].text, &r, err, sizeof err);
		snprintf(want, sizeof want, "%s:%d: ", path, cases[i].line);
		if (!ok(r == -1 && strncmp(err, want, strlen(want)) == 0 &&
		    strstr(err, cases[i].why) != NULL,
		    "conf: %s -> error \"%s\" on line %d",
		    show(cases[i].text, strlen(cases[i].text)), cases[i].why,
		    cases[i].line))
			diag("r=%d err=%s", r, err);
		ok(c.e == NULL && c.n == 0 && c.path == NULL,
		    "conf: failed load leaves an empty config");
		gb_conf_free(&c);
	}
	free(path);

	path = tpath("nosuch.conf");
	r = gb_conf_load(&c, path, err, sizeof err);
	snprintf(want, sizeof want, "%s: %s", path, strerror(ENOENT));
	ok(r == -1, "conf: missing file fails");
	ok_str(err, want, "conf: missing file -> \"PATH: strerror\"");
	free(path);

	r = gb_conf_load(&c, tmpdir, err, sizeof err);
	snprintf(want, sizeof want, "%s: %s", tmpdir, strerror(EISDIR));
	ok(r == -1, "conf: a directory fails");
	ok_str(err, want, "conf: directory -> \"PATH: Is a directory\"");

	/* A config of only comments is valid and empty. */
	c = conf_from("empty.conf", "# nothing\n\n;\n", &r, err, sizeof err);
	ok(r == 0 && c.n == 0, "conf: comments only -> empty config");
	ok(gb_conf_get(&c, "site", "name") == NULL, "conf: get on empty");
	gb_conf_free(&c);

	/* A zeroed config (none given) answers like an empty one. */
	memset(&c, 0, sizeof c);
	{
		size_t it = 0;

		ok(gb_conf_get(&c, "site", "name") == NULL &&
		    gb_conf_next_section(&c, "table", &it) == NULL &&
		    !gb_conf_has_section(&c, "site"),
		    "conf: zeroed struct works as no config");
		gb_conf_free(&c);
	}
}

static void
test_conf_path(void)
{
	const char *sys = "/etc/gymbackup/gymbackup.conf";
	const char *want = access(sys, F_OK) == 0 ? sys : NULL;

	setenv("GB_CONF", "/from/env.conf", 1);
	ok_str(gb_conf_path("/from/opt.conf"), "/from/opt.conf",
	    "conf_path: -c wins over $GB_CONF");
	ok_str(gb_conf_path(NULL), "/from/env.conf", "conf_path: $GB_CONF");
	setenv("GB_CONF", "", 1);
	ok_str(gb_conf_path(NULL), want,
	    "conf_path: empty $GB_CONF -> system file if present, else NULL");
	unsetenv("GB_CONF");
	ok_str(gb_conf_path(NULL), want,
	    "conf_path: no $GB_CONF -> system file if present, else NULL");
}

/* ---- conf.c section kinds, job.c ---- */

static void
test_conf_sections(void)
{
	static const struct {
		const char *text;
		int line;	/* of the unknown section, 0: all known */
	} cases[] = {
		{ "[site]\n[source]\n[keys]\n[catalog]\n[spool]\n[check]\n"
		    "[table a]\n[pool b]\n[job c]\n", 0 },
		{ "[site]\nname = x\n\n[tabel sales]\nkey = id\n", 4 },
		{ "[jobs members-daily]\n", 1 },
		{ "[job]\n", 1 },
		{ "[site x]\n", 1 },
		{ "[Site]\n", 1 },
	};
	char err[512], want[PATH_MAX + 32], *path = tpath("sect.conf");
	struct gb_conf c;
	int r;

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		err[0] = '\0';
		c = conf_from("sect.conf", cases[i].text, &r, err, sizeof err);
		r = r == 0 ? gb_conf_check_sections(&c, err, sizeof err) : -2;
		snprintf(want, sizeof want, "%s:%d: unknown section [", path,
		    cases[i].line);
		if (!ok(cases[i].line ? r == -1 && strncmp(err, want,
		    strlen(want)) == 0 : r == 0, "conf: sections of %s -> %s",
		    show(cases[i].text, strlen(cases[i].text)), cases[i].line ?
		    "refused" : "known"))
			diag("r=%d err=%s", r, err);
		gb_conf_free(&c);
	}
	free(path);
}

static void
test_job_cron(void)
{
	static const char *const valid[] = { "0 2 * * *", "*/15 * * * *",
	    "0 2 * * mon-fri", "5 4 1,15 jan,jul *", "0 0-23/6 * * 7",
	    "30 1 * * 1-6", " 0\t2 * * SUN " };
	static const char *const invalid[] = { "30 25 * * *", "0 2 * *",
	    "0 2 * * 8", "0 2 31 13 *", "x 2 * * *", "0 2 * * 1-", "0 2 ,1 * *",
	    "0 2 * * * *", "*/0 * * * *", "0 2 1-2-3 * *", "", "0 2 0 * *" };
	static const struct {
		const char *sched, *words;
	} when[] = {
		{ "0 2 * * *", "daily 02:00" },
		{ "30 1 * * 0", "weekly Sun 01:30" },
		{ "30 1 * * 7", "weekly Sun 01:30" },
		{ "30 1 * * 1-6", "Mon-Sat 01:30" },
		{ "0 3,15 * * mon,wed-fri", "Mon,Wed-Fri 03:00,15:00" },
		{ "0 3 1 * *", "monthly day 1 03:00" },
		{ "*/15 * * * *", "see schedule" },
		{ "5 4 1,15 jan,jul *", "see schedule" },
		{ "0 0-23/6 * * 7", "see schedule" },
	};
	static const struct {
		const char *sched;
		int sunday, runs;
	} day[] = {
		{ "0 2 * * *", 0, 1 }, { "0 2 * * thu", 0, 1 },
		{ "0 2 * * fri", 0, 0 }, { "0 2 1,15 * *", 0, 0 },
		{ "0 2 1-31/2 * *", 0, 1 }, { "0 2 3/7 * *", 0, 1 },
		{ "0 2 2/7 * *", 0, 0 }, { "0 2 1 * thu", 0, 1 },
		{ "0 2 1 * fri", 0, 0 }, { "0 2 * jan *", 0, 0 },
		{ "0 2 * dec mon-fri", 0, 1 }, { "0 2 * * 7", 1, 1 },
		{ "0 2 * * 1-6", 1, 0 }, { "0 2 40 * *", 0, -1 },
		{ "0 2 * *", 0, -1 }, { NULL, 0, -1 },
	};
	char *w;

	for (size_t i = 0; i < sizeof valid / sizeof *valid; i++)
		ok(gb_cron_valid(valid[i]), "job: cron time \"%s\" valid",
		    valid[i]);
	for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++)
		ok(!gb_cron_valid(invalid[i]), "job: cron time \"%s\" refused",
		    invalid[i]);
	for (size_t i = 0; i < sizeof when / sizeof *when; i++) {
		w = gb_cron_words(when[i].sched);
		ok_str(w, when[i].words, when[i].sched);
		free(w);
	}
	/* Thursday 3 December 2026, then Sunday the 6th */
	for (size_t i = 0; i < sizeof day / sizeof *day; i++) {
		struct tm tm = { .tm_mday = 3, .tm_mon = 11, .tm_wday = 4 };
		if (day[i].sunday)
			tm.tm_mday = 6, tm.tm_wday = 0;
		ok(gb_cron_day(day[i].sched, &tm) == day[i].runs,
		    "job: \"%s\" runs on day %d: %d", day[i].sched,
		    tm.tm_mday, day[i].runs);
	}
}

static void
test_job_defaults(void)
{
	static const char text[] =
	    "[pool p]\nretention_days = 35\n"
	    "[job a]\nschedule = 0 2 * * *\npool = p\nmedia = /m\n"
	    "[job b]\nschedule = 30 1 * * 0\npool = p\nmedia = /m\n"
	    "retention_days = 7\nchain = a\n"
	    "[job c]\nschedule = 0 3 1 * *\nalert_after = 5\n";
	struct gb_conf c;
	struct gb_job j;
	struct gb_pool p;
	char err[512];
	int r;

	c = conf_from("job.conf", text, &r, err, sizeof err);
	ok(r == 0, "job: config loads");
	ok(gb_job_retention(&c, "a") == 35, "job: retention from the pool");
	ok(gb_job_retention(&c, "b") == 7, "job: retention of the job");
	ok(gb_job_retention(&c, "c") == 30, "job: retention without a pool");
	ok(gb_job_retention(&c, "gone") == 30, "job: retention of an old job");
	ok(gb_job_alert_hours(&c, "a") == 26, "job: daily alert 26 hours");
	ok(gb_job_alert_hours(&c, "b") == 170, "job: weekly alert 170 hours");
	ok(gb_job_alert_hours(&c, "c") == 5, "job: alert_after");
	ok(gb_job_read(&c, "b", &j) == 0 && j.retention_days == 7 &&
	    strcmp(j.chain, "a") == 0 && strcmp(j.level, "full") == 0 &&
	    strcmp(j.verify, "seal") == 0 && j.alert_hours == 170,
	    "job: a valid job and its defaults");
	ok(gb_pool_read(&c, "p", &p) == 0 && !p.offsite && !p.kind &&
	    p.offsite_days == -1 && p.retention_days == 35, "job: pool defaults");
	gb_conf_free(&c);
}

/* ---- csv.c ---- */

static void
test_csv_text(void)
{
	static const struct {
		const char *in;
		size_t n;
		const char *out;
		size_t outn;
		const char *name;
	} cases[] = {
#define C(in, out, name) { in, sizeof in - 1, out, sizeof out - 1, name }
		C("", "\"\"", "empty string is \"\""),
		C("abc", "abc", "plain"),
		C("a b", "a b", "inner space unquoted"),
		C("a\"b", "\"a\"\"b\"", "quote doubled"),
		C("\"", "\"\"\"\"", "lone quote"),
		C("\"\"", "\"\"\"\"\"\"", "two quotes"),
		C("a,b", "\"a,b\"", "comma"),
		C(",", "\",\"", "lone comma"),
		C("a\rb", "\"a\rb\"", "CR"),
		C("a\nb", "\"a\nb\"", "LF"),
		C("\r\n", "\"\r\n\"", "CRLF"),
		C(" a", "\" a\"", "leading space"),
		C("a ", "\"a \"", "trailing space"),
		C(" ", "\" \"", "only a space"),
		C("\ta", "\ta", "leading tab is not a space"),
		C("会员卡 张三", "会员卡 张三", "Chinese text as is"),
		C("\xe4\xbc\x9a,\xe5\x91\x98", "\"\xe4\xbc\x9a,\xe5\x91\x98\"",
		    "Chinese with comma"),
		C("a\0b", "a\0b", "NUL byte passed through"),
		C("say \"hi\", ok\n", "\"say \"\"hi\"\", ok\n\"", "mixed"),
		C("NULL", "NULL", "the word NULL is text"),
#undef C
	};
	struct cap c;
	char *got;
	size_t n;

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char name[128];

		cap_begin(&c, 0);
		gb_csv_text(&c.o, cases[i].in, cases[i].n);
		got = cap_end(&c, &n, NULL);
		snprintf(name, sizeof name, "csv_text: %s", cases[i].name);
		ok_bytes(got, n, cases[i].out, cases[i].outn, name);
		free(got);
	}

	/*
	 * NULL is an empty unquoted field: the writer writes nothing.  In a
	 * child, so that a crash here (or a sanitizer stop) fails one test
	 * and not the run.
	 */
	{
		pid_t pid;
		int status;

		fflush(stdout);
		if ((pid = fork()) == -1)
			gb_err(1, "fork");
		if (pid == 0) {
			int same;

			cap_begin(&c, 0);
			gb_csv_text(&c.o, NULL, 0);
			got = cap_end(&c, &n, NULL);
			same = n == 0;
			if (!same)
				diag("got %s", show(got, n));
			free(got);
			fflush(stdout);
			_exit(same ? 0 : 1);
		}
		waitpid(pid, &status, 0);
		if (!ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "csv_text: (NULL, 0) writes nothing, not \"\""))
			diag("expected \"\" (no bytes); child %s %d",
			    WIFEXITED(status) ? "exited" : "killed by signal",
			    WIFEXITED(status) ? WEXITSTATUS(status) :
			    WTERMSIG(status));
	}

	/* A row as the exporter writes it: NULL, "", text, int. */
	cap_begin(&c, 0);
	gb_out_putc(&c.o, ',');
	gb_csv_text(&c.o, "", 0);
	gb_out_putc(&c.o, ',');
	gb_csv_text(&c.o, "x", 1);
	gb_out_putc(&c.o, ',');
	gb_csv_int(&c.o, 7);
	gb_out_putc(&c.o, '\n');
	got = cap_end(&c, &n, NULL);
	ok_bytes(got, n, ",\"\",x,7\n", 8, "csv: row with NULL then \"\"");
	free(got);
}

static void
test_csv_numbers(void)
{
	static const struct {
		int64_t v;
		const char *out;
	} ints[] = {
		{ 0, "0" }, { 1, "1" }, { -1, "-1" }, { 42, "42" },
		{ 1234567890123LL, "1234567890123" },
		{ INT64_MAX, "9223372036854775807" },
		{ INT64_MIN, "-9223372036854775808" },
		{ INT64_MIN + 1, "-9223372036854775807" },
	};
	static const struct {
		double v;
		const char *out;
	} reals[] = {
		{ 0.1, "0.1" },
		{ 1.0 / 3, "0.3333333333333333" },
		{ 2.0 / 3, "0.6666666666666666" },
		{ 0.1 + 0.2, "0.30000000000000004" },
		{ 1e300, "1e+300" },
		{ 1.0, "1" },
		{ 0.0, "0" },
		{ -0.0, "-0" },
		{ -1.5, "-1.5" },
		{ 123456.789, "123456.789" },
		{ 9007199254740992.0, "9007199254740992" },
		{ 5e-324, "4.94065645841247e-324" },	/* %.15g reads back */
		{ DBL_MAX, "1.7976931348623157e+308" },
		{ 100, "100" },
		{ 1e15, "1e+15" },
		{ 19.99, "19.99" },
	};
	struct cap c;
	char *got, buf[64];
	size_t n;

	for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
		char name[64];

		cap_begin(&c, 0);
		gb_csv_int(&c.o, ints[i].v);
		got = cap_end(&c, &n, NULL);
		snprintf(name, sizeof name, "csv_int: %s", ints[i].out);
		ok_bytes(got, n, ints[i].out, strlen(ints[i].out), name);
		free(got);
	}
	for (size_t i = 0; i < sizeof reals / sizeof *reals; i++) {
		char name[64];

		cap_begin(&c, 0);
		gb_csv_real(&c.o, reals[i].v);
		got = cap_end(&c, &n, NULL);
		snprintf(name, sizeof name, "csv_real: %.17g -> %s", reals[i].v,
		    reals[i].out);
		ok_bytes(got, n, reals[i].out, strlen(reals[i].out), name);
		free(got);
	}
	{
		static const struct {
			double v;
			const char *out;
		} special[] = {
			{ NAN, "NaN" }, { -NAN, "NaN" },
			{ INFINITY, "Infinity" }, { -INFINITY, "-Infinity" },
		};
		for (size_t i = 0; i < 4; i++) {
			char name[64];

			cap_begin(&c, 0);
			gb_csv_real(&c.o, special[i].v);
			got = cap_end(&c, &n, NULL);
			snprintf(name, sizeof name, "csv_real: %s%s",
			    i == 1 ? "-" : "", special[i].out);
			ok_bytes(got, n, special[i].out,
			    strlen(special[i].out), name);
			free(got);
		}
	}

	/*
	 * Random doubles: the text reads back as the same bits, and is the
	 * first of %.15g, %.16g, %.17g that does.
	 */
	{
		int bad = 0;

		for (int i = 0; i < 20000 && bad < 5; i++) {
			uint64_t u = rnd();
			double v, back;
			char want[64];
			int len, p;

			memcpy(&v, &u, sizeof v);
			if (isnan(v) || isinf(v))
				continue;
			len = gb_fmt_real(buf, sizeof buf, v);
			back = strtod(buf, NULL);
			for (p = 15; p < 17; p++) {
				snprintf(want, sizeof want, "%.*g", p, v);
				if (strtod(want, NULL) == v)
					break;
			}
			snprintf(want, sizeof want, "%.*g", p, v);
			if (memcmp(&back, &v, sizeof v) != 0 ||
			    strcmp(buf, want) != 0 || len != (int)strlen(buf)) {
				bad++;
				diag("%a: got %s want %s", v, buf, want);
			}
		}
		ok(!bad, "fmt_real: 20000 random doubles round-trip, shortest");
	}
	ok(gb_fmt_real(buf, sizeof buf, 0.1) == 3 && strcmp(buf, "0.1") == 0,
	    "fmt_real: returns the length");
}

static void
test_csv_blob(void)
{
	struct cap c;
	char *got, *want;
	unsigned char big[1000];
	size_t n;

	cap_begin(&c, 0);
	gb_csv_blob(&c.o, "\x00\x01\xab\xff\x7f", 5);
	got = cap_end(&c, &n, NULL);
	ok_bytes(got, n, "\\x0001abff7f", 12, "csv_blob: lowercase hex");
	free(got);

	cap_begin(&c, 0);
	gb_csv_blob(&c.o, "hello\0", 6);
	got = cap_end(&c, &n, NULL);
	ok_bytes(got, n, "\\x68656c6c6f00", 14, "csv_blob: NUL-containing");
	free(got);

	cap_begin(&c, 0);
	gb_csv_blob(&c.o, "", 0);
	got = cap_end(&c, &n, NULL);
	ok_bytes(got, n, "\\x", 2, "csv_blob: empty blob is \\x");
	free(got);

	/* sqlite3_column_blob() gives NULL for an empty blob. */
	cap_begin(&c, 0);
	gb_csv_blob(&c.o, NULL, 0);
	got = cap_end(&c, &n, NULL);
	ok_bytes(got, n, "\\x", 2, "csv_blob: (NULL, 0) is an empty blob");
	free(got);

	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (unsigned char)(i * 7 + 3);
	want = gb_malloc(2 + 2 * sizeof big + 1);
	strcpy(want, "\\x");
	for (size_t i = 0; i < sizeof big; i++)
		sprintf(want + 2 + 2 * i, "%02x", big[i]);
	cap_begin(&c, 0);
	gb_csv_blob(&c.o, big, sizeof big);
	got = cap_end(&c, &n, NULL);
	ok_bytes(got, n, want, strlen(want), "csv_blob: 1000 bytes");
	free(got);
	free(want);
}

/* ---- csvread.c ---- */

/* A reader over a file holding exactly these bytes. */
static struct gb_csv_reader *
reader_on(const void *p, size_t n, int *fd)
{
	char *path = tpath("in.csv");

	writefile(path, p, n);
	if ((*fd = open(path, O_RDONLY)) < 0)
		gb_err(1, "test setup: %s", path);
	free(path);
	return gb_csv_open(*fd);
}

static void
reader_done(struct gb_csv_reader *r, int fd)
{
	gb_csv_close(r);
	close(fd);
}

/* Compares one record with want[], a NULL pointer standing for SQL NULL. */
struct want {
	const char *p;
	size_t n;
};
#define W(s) { s, sizeof s - 1 }
#define WNULL { NULL, 0 }

static int
same_record(struct gb_csv_field *f, size_t nf, const struct want *w,
    size_t nw)
{
	if (nf != nw) {
		diag("%zu fields, expected %zu", nf, nw);
		return 0;
	}
	for (size_t i = 0; i < nf; i++) {
		if (!w[i].p != !f[i].p || f[i].n != w[i].n ||
		    (w[i].p && memcmp(f[i].p, w[i].p, w[i].n) != 0)) {
			diag("field %zu: expected %s got %s", i,
			    show(w[i].p, w[i].n), show(f[i].p, f[i].n));
			return 0;
		}
	}
	return 1;
}

static void
test_csvread_basic(void)
{
	static const char crlf[] =
	    "id,name\r\n1,\"a\r\nb\"\r\n2,\r\n\"\",x\r\n";
	static const struct want r1[] = { W("id"), W("name") };
	static const struct want r2[] = { W("1"), W("a\r\nb") };
	static const struct want r3[] = { W("2"), WNULL };
	static const struct want r4[] = { W(""), W("x") };
	struct gb_csv_reader *r;
	struct gb_csv_field *f;
	size_t nf;
	int fd, k;

	r = reader_on(crlf, sizeof crlf - 1, &fd);
	k = gb_csv_next(r, &f, &nf);
	ok(k == 1 && same_record(f, nf, r1, 2) && gb_csv_line(r) == 1,
	    "csvread CRLF: header");
	k = gb_csv_next(r, &f, &nf);
	ok(k == 1 && same_record(f, nf, r2, 2) && gb_csv_line(r) == 2,
	    "csvread CRLF: quoted CRLF kept inside the field");
	k = gb_csv_next(r, &f, &nf);
	ok(k == 1 && same_record(f, nf, r3, 2) && gb_csv_line(r) == 4,
	    "csvread CRLF: NULL last field, line 4 (got %" PRIu64 ")",
	    gb_csv_line(r));
	k = gb_csv_next(r, &f, &nf);
	ok(k == 1 && same_record(f, nf, r4, 2) && f[0].p != NULL,
	    "csvread CRLF: \"\" is an empty string, not NULL");
	ok(gb_csv_next(r, &f, &nf) == 0, "csvread CRLF: end");
	ok(gb_csv_next(r, &f, &nf) == 0, "csvread: end is sticky");
	reader_done(r, fd);

	{
		static const char in[] = "a,b,c";
		static const struct want w[] = { W("a"), W("b"), W("c") };
		r = reader_on(in, sizeof in - 1, &fd);
		ok(gb_csv_next(r, &f, &nf) == 1 && same_record(f, nf, w, 3),
		    "csvread: last record without a newline");
		ok(gb_csv_next(r, &f, &nf) == 0, "csvread: then end");
		reader_done(r, fd);
	}
	{
		r = reader_on("", 0, &fd);
		ok(gb_csv_next(r, &f, &nf) == 0, "csvread: empty input");
		reader_done(r, fd);
	}
	{
		/* A one-column table of NULLs is a file of empty lines. */
		static const struct want w[] = { WNULL };
		int good = 1, n = 0;

		r = reader_on("\n\n\n", 3, &fd);
		while ((k = gb_csv_next(r, &f, &nf)) == 1) {
			n++;
			good &= same_record(f, nf, w, 1) &&
			    gb_csv_line(r) == (uint64_t)n;
		}
		ok(k == 0 && n == 3 && good,
		    "csvread: empty lines are records of one NULL field");
		reader_done(r, fd);
	}
	{
		static const char in[] = ",\n\"\",\"\"\n,\"\",\n\"a\"\"\",\"\"\"\"\n";
		static const struct want w1[] = { WNULL, WNULL };
		static const struct want w2[] = { W(""), W("") };
		static const struct want w3[] = { WNULL, W(""), WNULL };
		static const struct want w4[] = { W("a\""), W("\"") };

		r = reader_on(in, sizeof in - 1, &fd);
		ok(gb_csv_next(r, &f, &nf) == 1 && same_record(f, nf, w1, 2),
		    "csvread: \",\" is two NULLs");
		ok(gb_csv_next(r, &f, &nf) == 1 && same_record(f, nf, w2, 2) &&
		    f[0].p && f[1].p, "csvread: \"\",\"\" is two empty strings");
		ok(gb_csv_next(r, &f, &nf) == 1 && same_record(f, nf, w3, 3),
		    "csvread: NULL, \"\", NULL");
		ok(gb_csv_next(r, &f, &nf) == 1 && same_record(f, nf, w4, 2),
		    "csvread: doubled quotes");
		reader_done(r, fd);
	}
	{
		static const char in[] = "a\0b,\"c\0\"\"\0\"\n\0,x\n";
		static const struct want w1[] = { W("a\0b"), W("c\0\"\0") };
		static const struct want w2[] = { W("\0"), W("x") };

		r = reader_on(in, sizeof in - 1, &fd);
		ok(gb_csv_next(r, &f, &nf) == 1 && same_record(f, nf, w1, 2),
		    "csvread: NUL bytes in unquoted and quoted fields");
		ok(gb_csv_next(r, &f, &nf) == 1 && same_record(f, nf, w2, 2),
		    "csvread: a field that is one NUL byte");
		reader_done(r, fd);
	}
	{
		static const char in[] =
		    "h\n\"multi\nline\nfield\",2\n\"x\"\n\n\"\n\"\nlast\n";
		static const uint64_t lines[] = { 1, 2, 5, 6, 7, 9 };
		int good = 1, n = 0;

		r = reader_on(in, sizeof in - 1, &fd);
		while ((k = gb_csv_next(r, &f, &nf)) == 1) {
			if (n >= 6 || gb_csv_line(r) != lines[n]) {
				good = 0;
				diag("record %d on line %" PRIu64, n,
				    gb_csv_line(r));
			}
			n++;
		}
		ok(k == 0 && n == 6 && good,
		    "csvread: line numbers count physical lines");
		reader_done(r, fd);
	}
	{
		static const char in[] = "会员,\"张三, 李四\"\n";
		static const struct want w[] = { W("会员"), W("张三, 李四") };

		r = reader_on(in, sizeof in - 1, &fd);
		ok(gb_csv_next(r, &f, &nf) == 1 && same_record(f, nf, w, 2),
		    "csvread: UTF-8 passes through");
		reader_done(r, fd);
	}
	{
		/* Many fields: the field array grows. */
		char *in = gb_malloc(3000 * 4 + 2);
		size_t len = 0;
		int good;

		for (int i = 0; i < 3000; i++)
			len += (size_t)sprintf(in + len, "%s%d", i ? "," : "",
			    i % 100);
		in[len++] = '\n';
		r = reader_on(in, len, &fd);
		good = gb_csv_next(r, &f, &nf) == 1 && nf == 3000;
		for (size_t i = 0; good && i < nf; i++) {
			char want[8];
			int wn = sprintf(want, "%d", (int)(i % 100));
			good = f[i].n == (size_t)wn && memcmp(f[i].p, want,
			    (size_t)wn) == 0;
		}
		ok(good, "csvread: a record of 3000 fields");
		reader_done(r, fd);
		free(in);
	}
}

/*
 * Records placed so that every special byte of the second record, the
 * doubled quote, the closing quote, the CR of CRLF, falls on the reader's
 * 256 KiB block boundary in one of the runs.
 */
static void
test_csvread_boundary(void)
{
	static const char tail[] = "\"a\"\"b\",\"c\r\nd\"\r\ne,\"\"\r\n\"\"\n";
	static const struct want w2[] = { W("a\"b"), W("c\r\nd") };
	static const struct want w3[] = { W("e"), W("") };
	static const struct want w4[] = { W("") };
	size_t plen, total;
	char *buf;
	int good = 1;

	for (size_t pad = INBUF - 20; pad <= INBUF + 2; pad++) {
		struct gb_csv_reader *r;
		struct gb_csv_field *f;
		size_t nf;
		int fd, k;

		plen = pad;
		total = plen + 1 + sizeof tail - 1;
		buf = gb_malloc(total);
		memset(buf, 'p', plen);
		buf[plen] = '\n';
		memcpy(buf + plen + 1, tail, sizeof tail - 1);
		r = reader_on(buf, total, &fd);
		k = gb_csv_next(r, &f, &nf);
		if (k != 1 || nf != 1 || f[0].n != plen ||
		    memcmp(f[0].p, buf, plen) != 0) {
			good = 0;
			diag("pad %zu: first record wrong", pad);
		}
		if (gb_csv_next(r, &f, &nf) != 1 || !same_record(f, nf, w2, 2) ||
		    gb_csv_line(r) != 2 ||
		    gb_csv_next(r, &f, &nf) != 1 || !same_record(f, nf, w3, 2) ||
		    gb_csv_line(r) != 4 ||
		    gb_csv_next(r, &f, &nf) != 1 || !same_record(f, nf, w4, 1) ||
		    gb_csv_next(r, &f, &nf) != 0) {
			good = 0;
			diag("pad %zu: %s", pad, gb_csv_error(r));
		}
		reader_done(r, fd);
		free(buf);
	}
	ok(good, "csvread: records split across the 256 KiB boundary at "
	    "every offset of quote, CR and LF");

	/* One field of 600 KiB with quotes: longer than two input blocks. */
	{
		struct gb_csv_reader *r;
		struct gb_csv_field *f;
		size_t nf, n = 600 * 1024, len = 0;
		char *want = gb_malloc(n), *in = gb_malloc(2 * n + 16);
		int fd;

		for (size_t i = 0; i < n; i++)
			want[i] = i % 1000 == 999 ? '"' : "abc\n,"[i % 5];
		in[len++] = 'x';
		in[len++] = ',';
		in[len++] = '"';
		for (size_t i = 0; i < n; i++) {
			if (want[i] == '"')
				in[len++] = '"';
			in[len++] = want[i];
		}
		memcpy(in + len, "\",y\nz\n", 6);
		len += 6;
		r = reader_on(in, len, &fd);
		good = gb_csv_next(r, &f, &nf) == 1 && nf == 3 &&
		    f[0].n == 1 && f[1].n == n && memcmp(f[1].p, want, n) == 0 &&
		    f[2].n == 1 && f[2].p[0] == 'y';
		ok(good, "csvread: a 600 KiB quoted field");
		good = gb_csv_next(r, &f, &nf) == 1 && nf == 1 &&
		    f[0].n == 1 && f[0].p[0] == 'z' &&
		    gb_csv_line(r) == 2 + n / 5;
		ok(good, "csvread: the record after it, on line %" PRIu64,
		    gb_csv_line(r));
		reader_done(r, fd);
		free(in);
		free(want);
	}
}

static void
test_csvread_errors(void)
{
	static const struct {
		const char *in;
		int good;	/* records before the error */
		const char *why, *line;
	} cases[] = {
		{ "a,b\n\"abc\n", 1, "unterminated", "opened on line 2" },
		{ "\"abc", 0, "unterminated", "line 1" },
		{ "\"ab\"x,c\n", 0, "closing quote", "line 1:" },
		{ "ok\n\"ab\" ,c\n", 1, "closing quote", "line 2:" },
		{ "1\n2\n\"x\ny\"z\n", 2, "closing quote", "line 4:" },
		{ "a\"b\n", 0, "quote", "line 1:" },
		{ "h\na\rb\n", 1, "carriage return", "line 2:" },
		{ "\"a\"\rb\n", 0, "carriage return", "line 1:" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct gb_csv_reader *r;
		struct gb_csv_field *f;
		size_t nf;
		int fd, k, n = 0;

		r = reader_on(cases[i].in, strlen(cases[i].in), &fd);
		while ((k = gb_csv_next(r, &f, &nf)) == 1)
			n++;
		if (!ok(k == -1 && n == cases[i].good &&
		    strstr(gb_csv_error(r), cases[i].why) &&
		    strstr(gb_csv_error(r), cases[i].line),
		    "csvread error: %s -> %s, %s",
		    show(cases[i].in, strlen(cases[i].in)), cases[i].why,
		    cases[i].line))
			diag("k=%d after %d records: %s", k, n, gb_csv_error(r));
		if (i == 0)
			ok(gb_csv_next(r, &f, &nf) == -1,
			    "csvread: an error is sticky");
		reader_done(r, fd);
	}
	{
		struct gb_csv_reader *r;
		struct gb_csv_field *f;
		size_t nf;
		int fd = open(tmpdir, O_RDONLY | O_DIRECTORY);

		r = gb_csv_open(fd);
		ok(gb_csv_next(r, &f, &nf) == -1 &&
		    strstr(gb_csv_error(r), strerror(EISDIR)),
		    "csvread: a read error is reported (%s)", gb_csv_error(r));
		gb_csv_close(r);
		close(fd);
	}
}

/* Input made of strings, each repeated: big records without big buffers. */
struct rep {
	const char *s[6];
	size_t n[6];
};
struct repstate {
	struct rep in;
	size_t part, done, off;
};

static ssize_t
rep_read(void *arg, void *buf, size_t n)
{
	struct repstate *g = arg;
	size_t k = 0;

	while (k < n && g->part < 6 && g->in.s[g->part]) {
		const char *s = g->in.s[g->part];
		size_t len = strlen(s), m = len - g->off < n - k ?
		    len - g->off : n - k;
		memcpy((char *)buf + k, s + g->off, m);
		k += m;
		if ((g->off += m) == len) {
			g->off = 0;
			if (++g->done == g->in.n[g->part]) {
				g->done = 0;
				g->part++;
			}
		}
	}
	return (ssize_t)k;
}

#define MAX GB_CSV_RECORD_MAX
static void
test_csvread_limits(void)
{
	static const struct {
		const char *name;
		struct rep in;
		int good;		/* records read before the end or error */
		size_t bytes;		/* of the first record's fields */
		const char *why;
	} cases[] = {
		{ "a field of the most bytes a record may have",
		    { { "a", "\nx\n" }, { MAX, 1 } }, 2, MAX, NULL },
		{ "a field one byte longer",
		    { { "h\n", "a", "\n" }, { 1, MAX + 1, 1 } }, 1, 1,
		    "line 2: record longer than 64 MiB" },
		{ "two fields of half each",
		    { { "a", ",", "a", "\n" }, { MAX / 2, 1, MAX / 2, 1 } }, 1,
		    MAX, NULL },
		{ "two fields of half each and one byte",
		    { { "a", ",", "a", "b\n" }, { MAX / 2, 1, MAX / 2, 1 } }, 0, 0,
		    "line 1: record longer than 64 MiB" },
		{ "a quoted field: doubled quotes and newlines count once",
		    { { "\"", "a\"\"", "\nb\"\n" }, { 1, MAX / 2 - 1, 1 } }, 1,
		    MAX, NULL },
		{ "a quoted field one byte too long at a doubled quote",
		    { { "\"", "ab", "\"\"\"\n" }, { 1, MAX / 2, 1 } }, 0, 0,
		    "line 1: record longer than 64 MiB" },
		{ "a quoted field one byte too long at a newline",
		    { { "x\n\"", "ab", "\n\"\n" }, { 1, MAX / 2, 1 } }, 1, 1,
		    "line 2: record longer than 64 MiB" },
		{ "the most fields a record may have",
		    { { ",", "\n" }, { GB_CSV_FIELDS_MAX - 1, 1 } }, 1, 0, NULL },
		{ "one field more",
		    { { "x\n", ",", "\n" }, { 1, GB_CSV_FIELDS_MAX, 1 } }, 1, 1,
		    "line 2: record of more than 32767 fields" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct repstate in = { cases[i].in, 0, 0, 0 };
		struct gb_csv_reader *r = gb_csv_open_cb(rep_read, &in);
		struct gb_csv_field *f;
		size_t nf, first = 0;
		int k, n = 0;

		while ((k = gb_csv_next(r, &f, &nf)) == 1)
			if (n++ == 0)
				for (size_t j = 0; j < nf; j++)
					first += f[j].n;
		if (!ok(n == cases[i].good && first == cases[i].bytes &&
		    (cases[i].why ? k == -1 && strstr(gb_csv_error(r),
		    cases[i].why) : k == 0), "csvread limits: %s",
		    cases[i].name))
			diag("k=%d after %d records (first %zu bytes): %s", k, n,
			    first, gb_csv_error(r));
		gb_csv_close(r);
	}
}
#undef MAX

/* A random field value; NULL returns p NULL.  Uses the shared PRNG. */
static void
rnd_field(char *buf, const char **p, size_t *n)
{
	static const char alpha[] = "ab ,\"\r\n\0\xe4\xbc\x9a\\x-1.5";
	size_t kind = rndn(20), len;

	if (kind == 0) {
		*p = NULL;
		*n = 0;
		return;
	}
	if (kind == 1) {
		*p = buf;
		*n = 0;
		return;
	}
	if (kind == 2 && rndn(50) == 0)
		len = 100000 + rndn(300000);	/* crosses blocks */
	else
		len = rndn(kind < 10 ? 4 : 40);
	for (size_t i = 0; i < len; i++)
		buf[i] = kind == 3 ? (char)rnd() : alpha[rndn(sizeof alpha - 1)];
	*p = buf;
	*n = len;
}

/* Writes nrec records of ncols fields; the same seed regenerates them. */
static void
write_random(int fd, uint64_t seed, size_t nrec, size_t ncols, char *buf,
    char *hex)
{
	struct gb_out o;

	rng = seed;
	gb_out_init(&o, fd, 1);
	for (size_t i = 0; i < nrec; i++) {
		for (size_t j = 0; j < ncols; j++) {
			const char *p;
			size_t n;

			if (j)
				gb_out_putc(&o, ',');
			if (j == 0) {
				gb_csv_int(&o, (int64_t)rnd());
				continue;
			}
			rnd_field(buf, &p, &n);
			if (p)
				gb_csv_text(&o, p, n);
		}
		gb_out_putc(&o, '\n');
	}
	if (gb_out_finish(&o, hex) == -1)
		gb_err(1, "test: writing random CSV");
}

/* Reads them back and compares; 1 if all equal.  Lines checked too. */
static int
check_random(int fd, uint64_t seed, size_t nrec, size_t ncols, char *buf)
{
	struct gb_csv_reader *r = gb_csv_open(fd);
	struct gb_csv_field *f;
	uint64_t line = 1;
	size_t nf;
	int k, good = 1;

	rng = seed;
	for (size_t i = 0; i < nrec && good; i++) {
		uint64_t nl = 0;
		char num[32];

		if ((k = gb_csv_next(r, &f, &nf)) != 1 || nf != ncols) {
			diag("record %zu: k=%d nf=%zu (%s)", i, k, nf,
			    gb_csv_error(r));
			good = 0;
			break;
		}
		if (gb_csv_line(r) != line) {
			diag("record %zu on line %" PRIu64 ", expected %"
			    PRIu64, i, gb_csv_line(r), line);
			good = 0;
		}
		for (size_t j = 0; j < ncols && good; j++) {
			const char *p;
			size_t n;

			if (j == 0) {
				n = (size_t)sprintf(num, "%" PRId64,
				    (int64_t)rnd());
				p = num;
			} else
				rnd_field(buf, &p, &n);
			if (!p != !f[j].p || n != f[j].n ||
			    (p && memcmp(p, f[j].p, n) != 0)) {
				diag("record %zu field %zu: expected %s got %s",
				    i, j, show(p, n), show(f[j].p, f[j].n));
				good = 0;
			}
			for (size_t b = 0; p && b < n; b++)
				nl += p[b] == '\n';
		}
		line += 1 + nl;
	}
	if (good && (k = gb_csv_next(r, &f, &nf)) != 0) {
		diag("after the last record: %d", k);
		good = 0;
	}
	gb_csv_close(r);
	return good;
}

static void
test_roundtrip(void)
{
	char *buf = gb_malloc(400000), *path = tpath("rt.csv");
	char hex[65], fhex[65];
	uint64_t size;
	int good = 1, fd;
	size_t total = 0;

	for (uint64_t seed = 1; seed <= 40; seed++) {
		size_t ncols, nrec;

		rng = seed * 0x9e3779b97f4a7c15ULL;
		ncols = 1 + rndn(7);
		nrec = 1 + rndn(600);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		write_random(fd, seed, nrec, ncols, buf, hex);
		if (lseek(fd, 0, SEEK_SET) != 0)
			gb_err(1, "lseek");
		if (!check_random(fd, seed, nrec, ncols, buf)) {
			good = 0;
			diag("seed %" PRIu64 ": %zu records of %zu fields",
			    seed, nrec, ncols);
		}
		total += nrec;
		close(fd);
		if (gb_sha256_file(path, fhex, &size) == -1 ||
		    strcmp(hex, fhex) != 0) {
			good = 0;
			diag("seed %" PRIu64 ": gb_out hash %s, file %s", seed,
			    hex, fhex);
		}
	}
	ok(good, "csv writer -> reader: %zu random records, every field "
	    "byte for byte, NULL vs \"\", line numbers", total);

	/* The same through a pipe fed in small, odd pieces. */
	{
		int p[2], status;
		pid_t pid;
		char *data;
		size_t n;

		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		write_random(fd, 99, 400, 5, buf, hex);
		close(fd);
		data = readfile(path, &n);
		if (pipe(p) == -1 || (pid = fork()) == -1)
			gb_err(1, "pipe/fork");
		if (pid == 0) {
			close(p[0]);
			for (size_t off = 0; off < n; off += 7)
				if (gb_write_all(p[1], data + off,
				    n - off < 7 ? n - off : 7) == -1)
					_exit(1);
			free(data);	/* valgrind checks the child too */
			free(buf);
			free(path);
			_exit(0);
		}
		close(p[1]);
		ok(check_random(p[0], 99, 400, 5, buf),
		    "csv reader over a pipe fed 7 bytes at a time");
		close(p[0]);
		waitpid(pid, &status, 0);
		free(data);
	}
	unlink(path);
	free(path);
	free(buf);
}

/* ---- manifest.c ---- */

static void
set_table(struct gb_mtable *t, const char *file, uint64_t rows,
    uint64_t bytes, const char *sha, const char *key)
{
	if (!t->file)
		t->file = gb_strdup(file);
	t->rows = rows;
	t->bytes = bytes;
	memcpy(t->sha256, sha, 65);
	t->key = gb_strdup(key);
}

static void
add_money(struct gb_mtable *t, const char *col, int64_t sum)
{
	t->money = gb_realloc(t->money, (t->nmoney + 1) * sizeof *t->money);
	t->money[t->nmoney].column = gb_strdup(col);
	t->money[t->nmoney].sum = sum;
	t->nmoney++;
}

static int
same_opt(const char *a, const char *b)
{
	return a && b ? strcmp(a, b) == 0 : a == b;
}

static int
same_table(const struct gb_mtable *a, const struct gb_mtable *b)
{
	if (!same_opt(a->name, b->name) || !same_opt(a->file, b->file) ||
	    a->rows != b->rows || a->bytes != b->bytes ||
	    strcmp(a->sha256, b->sha256) != 0 || !same_opt(a->key, b->key) ||
	    !same_opt(a->wm_column, b->wm_column) ||
	    !same_opt(a->wm_type, b->wm_type) ||
	    !same_opt(a->wm_from, b->wm_from) ||
	    !same_opt(a->wm_to, b->wm_to) || a->nmoney != b->nmoney)
		return 0;
	for (size_t i = 0; i < a->nmoney; i++)
		if (strcmp(a->money[i].column, b->money[i].column) != 0 ||
		    a->money[i].sum != b->money[i].sum)
			return 0;
	return 1;
}

static void
test_manifest_roundtrip(void)
{
	static const char sha1[] =
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	static const char sha2[] =
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	static const char weird[] = "we\tird\nna\\me\r";
	struct gb_manifest m, back;
	struct gb_mtable *t;
	struct gb_atomic a;
	struct gb_out o;
	char err[512] = "", *path = tpath("MANIFEST"), *text, *fn;
	size_t n;
	int r;

	memset(&m, 0, sizeof m);
	m.format = GB_MANIFEST_FORMAT;
	m.creator = gb_strdup("gymbackup " GB_VERSION);
	m.site = gb_strdup("demo-gym");
	m.job = gb_strdup("nightly");
	m.level = gb_strdup("incremental");
	m.id = gb_strdup("20261124T181856Z-3f9a1c0b");
	m.base = gb_strdup("20261123T020000Z-00ff00ff");
	m.source_kind = gb_strdup("sqlite");
	m.source_name = gb_strdup("/abs/path\twith tab/gym.db");
	m.snapshot = gb_strdup("2026-11-24T18:18:56Z");
	m.schema_bytes = 4321;
	memcpy(m.schema_sha256, sha2, 65);

	t = gb_manifest_add_table(&m, "members");
	ok(t && strcmp(t->name, "members") == 0 && m.ntables == 1,
	    "manifest: add_table");
	set_table(t, "members.csv", 1200, 123456, sha1, "id");
	t->wm_column = gb_strdup("updated_at");
	t->wm_type = gb_strdup("text");
	t->wm_from = NULL;
	t->wm_to = gb_strdup("2026-11-24 18:00:00");
	add_money(t, "balance", 123456789);
	add_money(t, "deposit", -5);

	t = gb_manifest_add_table(&m, weird);
	fn = gb_table_filename(weird);
	set_table(t, fn, 0, 10, sha2, "");
	free(fn);

	t = gb_manifest_add_table(&m, "consumptions");
	set_table(t, "consumptions.csv", UINT64_MAX, 1ULL << 40, sha1,
	    "store_id,id");
	t->wm_column = gb_strdup("id");
	t->wm_type = gb_strdup("integer");
	t->wm_from = gb_strdup("100");
	t->wm_to = gb_strdup("-");	/* a real "-", not "none" */
	add_money(t, "amount", INT64_MIN);
	add_money(t, "bonus", INT64_MAX);

	t = gb_manifest_add_table(&m, "checkins");
	set_table(t, "checkins.csv", 5, 100, sha2, "id");
	t->wm_column = gb_strdup("checked_in_at");
	t->wm_type = gb_strdup("text");
	t->wm_from = gb_strdup("2026-01-01 00:00:00");
	t->wm_to = NULL;

	if (gb_atomic_open(&a, path, 0600) == -1)
		gb_err(1, "test: atomic open %s", path);
	gb_out_init(&o, a.fd, 0);
	r = gb_manifest_write(&m, &o);
	ok(r == 0 && gb_out_finish(&o, NULL) == 0 && gb_atomic_commit(&a) == 0,
	    "manifest: write");

	text = readfile(path, &n);
	ok(strncmp(text, "format\tgymbackup-manifest\t1\n", 28) == 0,
	    "manifest: first line is the format");
	ok(n >= 4 && strcmp(text + n - 4, "end\n") == 0,
	    "manifest: last line is end");
	ok_has(text, "\ntable\twe\\tird\\nna\\\\me\\r\twe%09ird%0Ana%5Cme%0D.csv\n",
	    "manifest: tab, newline, backslash, CR in a name escaped");
	ok_has(text, "\nsource\tsqlite\t/abs/path\\twith tab/gym.db\n",
	    "manifest: source line");
	ok_has(text, "\ntables\t4\n", "manifest: table count");
	ok_has(text, "\nrows\tmembers\t1200\nbytes\tmembers\t123456\nsha256\t"
	    "members\tba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff6"
	    "1f20015ad\nkey\tmembers\tid\nwatermark\tmembers\tupdated_at\ttext"
	    "\t-\t2026-11-24 18:00:00\nmoney\tmembers\tbalance\t123456789\n"
	    "money\tmembers\tdeposit\t-5\n",
	    "manifest: a table block in the documented order");
	ok_has(text, "\nbase\t20261123T020000Z-00ff00ff\n", "manifest: base");
	ok_has(text, "\nlevel\tincremental\n", "manifest: level");
	ok_has(text, "format\tgymbackup-manifest\t1\ncreator\tgymbackup 0.1\n"
	    "site\tdemo-gym\njob\tnightly\nlevel\tincremental\n"
	    "id\t20261124T181856Z-3f9a1c0b\nbase\t20261123T020000Z-00ff00ff\n"
	    "source\tsqlite\t/abs/path\\twith tab/gym.db\n"
	    "snapshot\t2026-11-24T18:18:56Z\nschema\tSCHEMA.sql\t4321\t"
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
	    "tables\t4\ntable\tmembers\t",
	    "manifest: header fields in the documented order");
	free(text);

	r = gb_manifest_load(&back, path, err, sizeof err);
	if (!ok(r == 0, "manifest: read back"))
		diag("%s", err);
	if (r == 0) {
		int good = back.ntables == m.ntables;

		ok(back.format == 1, "manifest: format 1 read");
		ok(same_opt(back.creator, m.creator) &&
		    same_opt(back.site, m.site) && same_opt(back.job, m.job) &&
		    same_opt(back.level, m.level) && same_opt(back.id, m.id) &&
		    same_opt(back.base, m.base) &&
		    same_opt(back.source_kind, m.source_kind) &&
		    same_opt(back.source_name, m.source_name) &&
		    same_opt(back.snapshot, m.snapshot) &&
		    back.schema_bytes == 4321 &&
		    strcmp(back.schema_sha256, m.schema_sha256) == 0,
		    "manifest: top-level fields round-trip");
		for (size_t i = 0; good && i < m.ntables; i++)
			if (!same_table(&back.tables[i], &m.tables[i])) {
				good = 0;
				diag("table %zu (%s) differs", i,
				    m.tables[i].name);
			}
		ok(good, "manifest: every table field round-trips (watermark "
		    "with and without from/to, a real \"-\", money, no key)");
		t = gb_manifest_table(&back, weird);
		ok(t && t == &back.tables[1], "manifest: table() finds an "
		    "escaped name");
		ok(t && t->key && *t->key == '\0' && !t->wm_column &&
		    t->nmoney == 0, "manifest: table without key, watermark, "
		    "money reads back as \"\", NULL, 0");
		ok(gb_manifest_table(&back, "nosuch") == NULL,
		    "manifest: table() of a missing table is NULL");
		gb_manifest_free(&back);
	}

	/* A full export: base "-" reads back as NULL. */
	free(m.level);
	m.level = gb_strdup("full");
	free(m.base);
	m.base = NULL;
	{
		char *p2 = tpath("MANIFEST.full");
		int fd = open(p2, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		gb_out_init(&o, fd, 0);
		gb_manifest_write(&m, &o);
		gb_out_finish(&o, NULL);
		close(fd);
		text = readfile(p2, &n);
		ok_has(text, "\nlevel\tfull\nid\t20261124T181856Z-3f9a1c0b\n"
		    "base\t-\n", "manifest: a full export has base -");
		free(text);
		r = gb_manifest_load(&back, p2, err, sizeof err);
		ok(r == 0 && back.base == NULL && strcmp(back.level, "full") == 0,
		    "manifest: base - reads back as NULL");
		if (r == 0)
			gb_manifest_free(&back);
		free(p2);
	}
	gb_manifest_free(&m);
	ok(m.tables == NULL && m.ntables == 0 && m.site == NULL,
	    "manifest: free clears");
	free(path);
}

static const char good_manifest[] =
    "format\tgymbackup-manifest\t1\n"
    "creator\tgymbackup 0.1\n"
    "site\tdemo-gym\n"
    "job\tmanual\n"
    "level\tfull\n"
    "id\t20261124T181856Z-3f9a1c0b\n"
    "base\t-\n"
    "source\tsqlite\t/abs/path/gym.db\n"
    "snapshot\t2026-11-24T18:18:56Z\n"
    "schema\tSCHEMA.sql\t5053\t"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
    "tables\t1\n"
    "table\tmembers\tmembers.csv\n"
    "rows\tmembers\t1200\n"
    "bytes\tmembers\t123456\n"
    "sha256\tmembers\t"
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
    "key\tmembers\tid\n"
    "watermark\tmembers\tupdated_at\ttext\t-\t2026-11-24 18:00:00\n"
    "money\tmembers\tbalance\t123456789\n"
    "end\n";

/* good_manifest with the first "from" replaced by "to" (NULL: cut there). */
static int
read_variant(const char *from, const char *to, struct gb_manifest *m,
    char *err, size_t errlen)
{
	char text[4096];
	const char *at = strstr(good_manifest, from);
	FILE *f;
	int r;

	if (!at)
		gb_errx(1, "test setup: %s not in the manifest", from);
	snprintf(text, sizeof text, "%.*s%s%s", (int)(at - good_manifest),
	    good_manifest, to ? to : "", to ? at + strlen(from) : "");
	if (!(f = fmemopen(text, strlen(text), "r")))
		gb_err(1, "fmemopen");
	err[0] = '\0';
	r = gb_manifest_read(m, f, err, errlen);
	fclose(f);
	return r;
}

static void
test_manifest_reader(void)
{
	static const struct {
		const char *from, *to, *name;
	} bad[] = {
		{ "manifest\t1\n", "manifest\t3\n", "format version 3" },
		{ "manifest\t1\n", "manifest\t0\n", "format version 0" },
		{ "format\tgymbackup-manifest", "format\tother-manifest",
		    "another format" },
		{ "end\n", NULL, "missing end (truncated)" },
		{ "money\t", NULL, "truncated mid-file" },
		{ "rows\tmembers\t1200", "rows\tmembers\t12x0", "bad row count" },
		{ "rows\tmembers\t1200", "rows\tmembers\t-1",
		    "negative row count" },
		{ "rows\tmembers\t1200", "rows\tmembers\t", "empty row count" },
		{ "bytes\tmembers\t123456", "bytes\tmembers\t99999999999999999999",
		    "byte count out of range" },
		{ "balance\t123456789", "balance\t12.5", "bad money sum" },
		{ "tables\t1", "tables\tone", "bad table count" },
		{ "9cb410ff61f20015ad", "9cb410ff61f20015", "short sha256" },
		{ "a495991b7852b855", "a495991b7852b85X", "bad schema sha256" },
		{ "schema\tSCHEMA.sql\t5053", "schema\tSCHEMA.sql\tbig",
		    "bad schema size" },
	};
	struct gb_manifest m;
	char err[512];
	int r;

	r = read_variant("end\n", "end\n", &m, err, sizeof err);
	if (!ok(r == 0, "manifest reader: the reference manifest reads"))
		diag("%s", err);
	if (r == 0) {
		struct gb_mtable *t = gb_manifest_table(&m, "members");
		ok(t && t->rows == 1200 && t->bytes == 123456 &&
		    t->nmoney == 1 && t->money[0].sum == 123456789 &&
		    !t->wm_from && t->wm_to &&
		    strcmp(t->wm_to, "2026-11-24 18:00:00") == 0 &&
		    strcmp(m.source_name, "/abs/path/gym.db") == 0 &&
		    m.schema_bytes == 5053,
		    "manifest reader: values of the reference manifest");
		gb_manifest_free(&m);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		r = read_variant(bad[i].from, bad[i].to, &m, err, sizeof err);
		if (!ok(r == -1 && err[0], "manifest reader refuses: %s",
		    bad[i].name))
			diag("r=%d err=%s", r, err);
		if (r == 0)
			gb_manifest_free(&m);
	}
	r = read_variant("manifest\t1\n", "manifest\t3\n", &m, err, sizeof err);
	ok_has(err, "3", "manifest reader: the error names the version");
	r = read_variant("end\n", NULL, &m, err, sizeof err);
	ok_has(err, "end", "manifest reader: the error says end is missing");

	r = read_variant("tables\t1\n", "comment\tmade by hand\nx-future\ta\tb\t"
	    "c\ntables\t1\n", &m, err, sizeof err);
	if (!ok(r == 0, "manifest reader: unknown top-level fields tolerated"))
		diag("%s", err);
	if (r == 0) {
		ok(m.ntables == 1 && strcmp(m.site, "demo-gym") == 0,
		    "manifest reader: known fields still read");
		gb_manifest_free(&m);
	}
	r = read_variant("end\n", "shoe-size\tmembers\t42\nend\n", &m, err,
	    sizeof err);
	if (!ok(r == 0, "manifest reader: unknown per-table field tolerated"))
		diag("%s", err);
	if (r == 0)
		gb_manifest_free(&m);

	r = gb_manifest_load(&m, "/nonexistent/MANIFEST", err, sizeof err);
	ok(r == -1 && strstr(err, "/nonexistent/MANIFEST") &&
	    strstr(err, strerror(ENOENT)),
	    "manifest load: missing file named with strerror (%s)", err);
}

static void
test_table_filename(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "members", "members.csv" },
		{ "public.members", "public.members.csv" },
		{ "a/b", "a%2Fb.csv" },
		{ "会员", "%E4%BC%9A%E5%91%98.csv" },
		{ ".hidden", "%2Ehidden.csv" },
		{ "..", "%2E..csv" },
		{ "a b", "a%20b.csv" },
		{ "x-y_Z9", "x-y_Z9.csv" },
		{ "100%", "100%25.csv" },
		{ "a\\b:c*?", "a%5Cb%3Ac%2A%3F.csv" },
		{ "tab\there", "tab%09here.csv" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char name[128], *got = gb_table_filename(cases[i].in);

		snprintf(name, sizeof name, "table_filename: %s -> %s",
		    show(cases[i].in, strlen(cases[i].in)), cases[i].out);
		ok_str(got, cases[i].out, name);
		free(got);
	}
}

/* ---- sha256.c, and out.c's gb_sha256_file ---- */

static void
test_sha256(void)
{
	static const char abc[] =
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	static const char empty[] =
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	static const char million[] =
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
	static const char two[] =	/* FIPS 180-2, 448-bit message */
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
	struct gb_sha256 h;
	char hex[65], *path, *a;
	uint64_t size = 0;
	size_t off;

	gb_sha256_init(&h);
	gb_sha256_update(&h, "abc", 3);
	gb_sha256_final(&h, hex);
	ok_str(hex, abc, "sha256: \"abc\"");

	gb_sha256_init(&h);
	gb_sha256_final(&h, hex);
	ok_str(hex, empty, "sha256: empty");

	gb_sha256_init(&h);
	gb_sha256_update(&h, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmno"
	    "mnopnopq", 56);
	gb_sha256_final(&h, hex);
	ok_str(hex, two, "sha256: 448-bit message");

	a = gb_malloc(1000000);
	memset(a, 'a', 1000000);
	gb_sha256_init(&h);
	for (off = 0; off < 1000000; off += 4093)	/* odd pieces */
		gb_sha256_update(&h, a + off, 1000000 - off < 4093 ?
		    1000000 - off : 4093);
	gb_sha256_final(&h, hex);
	ok_str(hex, million, "sha256: a million 'a' in pieces");

	path = tpath("abc.txt");
	writestr(path, "abc");
	ok(gb_sha256_file(path, hex, &size) == 0 && size == 3,
	    "sha256_file: abc, size 3");
	ok_str(hex, abc, "sha256_file: abc hash");
	free(path);

	path = tpath("million.txt");
	writefile(path, a, 1000000);
	ok(gb_sha256_file(path, hex, &size) == 0 && size == 1000000,
	    "sha256_file: a million 'a', size");
	ok_str(hex, million, "sha256_file: a million 'a', hash");
	unlink(path);
	free(path);

	path = tpath("empty.txt");
	writestr(path, "");
	ok(gb_sha256_file(path, hex, &size) == 0 && size == 0 &&
	    strcmp(hex, empty) == 0, "sha256_file: empty file");
	free(path);

	errno = 0;
	ok(gb_sha256_file("/nonexistent/x", hex, &size) == -1 &&
	    errno == ENOENT, "sha256_file: missing file -> -1, ENOENT");
	free(a);
}

/* ---- out.c, io.c, err.c ---- */

static void
test_out(void)
{
	struct cap c;
	struct gb_sha256 h;
	char hex[65], want[65], *got, *exp;
	size_t n, len = 0, cap = 3 * 1024 * 1024;
	int fd;

	/* Small and large writes and single bytes, across buffer flushes. */
	exp = gb_malloc(cap);
	rng = 7;
	cap_begin(&c, 1);
	while (len < 2 * 1024 * 1024) {
		size_t k = rndn(4), m;

		if (k == 0) {
			int ch = (int)(rnd() & 0xff);
			gb_out_putc(&c.o, ch);
			exp[len++] = (char)ch;
			continue;
		}
		m = k == 1 ? rndn(100) : k == 2 ? rndn(70000) : rndn(600000);
		for (size_t i = 0; i < m; i++)
			exp[len + i] = (char)(i * 31 + len);
		gb_out_write(&c.o, exp + len, m);
		len += m;
	}
	ok(c.o.bytes + c.o.len == len, "out: bytes counted before finish");
	got = cap_end(&c, &n, hex);
	ok(n == len && memcmp(got, exp, n) == 0,
	    "out: %zu bytes written in order", len);
	ok(c.o.bytes == len, "out: bytes == %zu (got %" PRIu64 ")", len,
	    c.o.bytes);
	gb_sha256_init(&h);
	gb_sha256_update(&h, exp, len);
	gb_sha256_final(&h, want);
	ok_str(hex, want, "out: SHA-256 of what was written");
	free(got);

	cap_begin(&c, 1);
	got = cap_end(&c, &n, hex);
	ok(n == 0 && c.o.bytes == 0 && strcmp(hex,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	    == 0, "out: nothing written, empty hash");
	free(got);

	/* A full disk: the error sticks and finish reports it. */
	if ((fd = open("/dev/full", O_WRONLY)) >= 0) {
		struct gb_out o;
		int r;

		gb_out_init(&o, fd, 0);
		gb_out_write(&o, exp, 300000);
		gb_out_putc(&o, 'x');
		errno = 0;
		r = gb_out_finish(&o, NULL);
		ok(r == -1 && errno == ENOSPC, "out: /dev/full -> -1, ENOSPC");
		close(fd);
	} else
		ok(1, "out: /dev/full # SKIP not available");
	free(exp);
}

/* len bytes of text through a gb_out into sp's file at path; the text. */
static char *
spool_fill(const char *path, struct gb_spool *sp, size_t len)
{
	static const char row[] = "member 张伟 13800138000\n";
	struct gb_out o;
	char *exp = gb_malloc(len + 1);
	size_t n = 0;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		gb_err(1, "test setup: %s", path);
	for (size_t i = 0; i < len; i++)
		exp[i] = row[i % (sizeof row - 1)];
	gb_out_init(&o, fd, 0);
	o.spool = sp;
	rng = 11;
	while (n < len) {	/* small, odd and larger-than-buffer writes */
		size_t m = rndn(3) == 0 ? rndn(700000) : rndn(5000);
		if (m > len - n)
			m = len - n;
		gb_out_write(&o, exp + n, m);
		n += m;
	}
	if (gb_out_finish(&o, NULL) == -1 || close(fd) == -1)
		gb_err(1, "test setup: %s", path);
	return exp;
}

/* Reads sp's file back from its start into got: its length, or -1. */
static ssize_t
spool_back(struct gb_spool *sp, const char *path, char *got, size_t cap,
    size_t *nreads)
{
	const void *p;
	ssize_t n;
	size_t len = 0;
	int fd = open(path, O_RDONLY);

	*nreads = 0;
	sp->off = 0;
	while ((n = gb_spool_read(sp, fd, &p)) > 0) {
		if (len + (size_t)n <= cap)
			memcpy(got + len, p, (size_t)n);
		len += (size_t)n;
		++*nreads;
	}
	close(fd);
	return n < 0 ? -1 : (ssize_t)len;
}

static void
test_spool(void)
{
	enum { MiB = 1 << 20 };
	size_t len = 5 * MiB / 2, n, reads;
	char *path = tpath("spool"), *path2 = tpath("spool2"), *exp, *disk,
	    *got = gb_malloc(len), *exp2, *disk2;
	struct gb_spool *sp = gb_spool_new(1), *sp2 = gb_spool_new(1);
	ssize_t r;
	int fd, found = 0;

	exp = spool_fill(path, sp, len);
	disk = readfile(path, &n);
	ok(n == len && sp->size == len && sp->ntag == 3, "spool: the file is "
	    "the text's size, %zu bytes, 3 tags (%zu, %zu)", len, n, sp->ntag);
	for (size_t i = 0; i + 8 <= n && !found; i++)
		found = memcmp(disk + i, "13800138", 8) == 0;
	ok(!found && memcmp(disk, exp, 64) != 0, "spool: none of the text "
	    "is in the file");
	r = spool_back(sp, path, got, len, &reads);
	ok(r == (ssize_t)len && memcmp(got, exp, len) == 0 && reads == 3,
	    "spool: read back whole, a MiB at a time (%zd, %zu reads)", r,
	    reads);
	/* the same text in another file: another nonce, other bytes */
	exp2 = spool_fill(path2, sp2, len);
	disk2 = readfile(path2, &n);
	ok(memcmp(disk, disk2, 4096) != 0, "spool: each file its own nonce");

	/* a byte changed in the second MiB: the first passes, not it */
	fd = open(path, O_WRONLY);
	if (fd < 0 || pwrite(fd, "\x01", 1, MiB + 77) != 1)
		gb_err(1, "test setup: %s", path);
	close(fd);
	r = spool_back(sp, path, got, len, &reads);
	ok(r == -1 && errno == EBADMSG && reads == 1 && sp->off == MiB,
	    "spool: a changed byte fails its MiB's check (EBADMSG at %llu)",
	    (unsigned long long)sp->off);
	/* MiBs swapped between two files under one key: each its nonce */
	writefile(path, disk, MiB);
	fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0 || gb_write_all(fd, disk2 + MiB, len - MiB) == -1)
		gb_err(1, "test setup: %s", path);
	close(fd);
	r = spool_back(sp, path, got, len, &reads);
	ok(r == -1 && errno == EBADMSG && sp->off == MiB,
	    "spool: another file's MiB fails");
	/* cut short, and within a MiB */
	writefile(path, disk, len - 10);
	r = spool_back(sp, path, got, len, &reads);
	ok(r == -1 && errno == EBADMSG && sp->off == 2 * MiB,
	    "spool: a file cut short fails");
	/* longer than written: only what was written is read */
	writefile(path, disk, len);
	fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0 || gb_write_all(fd, "trailing", 8) == -1)
		gb_err(1, "test setup: %s", path);
	close(fd);
	r = spool_back(sp, path, got, len, &reads);
	ok(r == (ssize_t)len && memcmp(got, exp, len) == 0,
	    "spool: bytes after the end are never read");
	gb_spool_free(sp);
	gb_spool_free(sp2);
	free(disk);
	free(disk2);
	free(exp);
	free(exp2);

	/* plain: the file is the text; empty: nothing to read */
	sp = gb_spool_new(0);
	exp = spool_fill(path, sp, len);
	disk = readfile(path, &n);
	r = spool_back(sp, path, got, len, &reads);
	ok(n == len && memcmp(disk, exp, len) == 0 && r == (ssize_t)len &&
	    memcmp(got, exp, len) == 0, "spool: plain, written and read as is");
	gb_spool_free(sp);
	free(disk);
	free(exp);
	sp = gb_spool_new(1);
	exp = spool_fill(path, sp, 0);
	r = spool_back(sp, path, got, len, &reads);
	ok(r == 0 && reads == 0 && sp->ntag == 0, "spool: empty");
	gb_spool_free(sp);
	free(exp);
	free(got);
	free(path);
	free(path2);
}

static void
test_atomic(void)
{
	struct gb_atomic a;
	struct stat st;
	char *dir = tpath("atomic"), *path, *got, *names;
	size_t n;

	mkdir(dir, 0700);
	path = gb_asprintf("%s/file.txt", dir);

	ok(gb_atomic_open(&a, path, 0640) == 0 && a.fd >= 0,
	    "atomic: open");
	gb_write_all(a.fd, "hello\n", 6);
	ok(access(path, F_OK) == -1, "atomic: target absent before commit");
	names = lsdir(dir);
	ok(strncmp(names, "file.txt.", 9) == 0 && !strchr(names, ' '),
	    "atomic: one temporary file beside the target (%s)", names);
	free(names);
	ok(gb_atomic_commit(&a) == 0, "atomic: commit");
	got = readfile(path, &n);
	ok_bytes(got, n, "hello\n", 6, "atomic: content");
	free(got);
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640,
	    "atomic: mode 0640 (got %o)", (unsigned)(st.st_mode & 07777));
	names = lsdir(dir);
	ok_str(names, "file.txt", "atomic: no temporary file left");
	free(names);

	/* Replacing: the old content stays until the commit. */
	ok(gb_atomic_open(&a, path, 0600) == 0, "atomic: open over a file");
	gb_write_all(a.fd, "new", 3);
	got = readfile(path, &n);
	ok_bytes(got, n, "hello\n", 6, "atomic: old content until commit");
	free(got);
	ok(gb_atomic_commit(&a) == 0, "atomic: commit over a file");
	got = readfile(path, &n);
	ok_bytes(got, n, "new", 3, "atomic: replaced content");
	free(got);
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600,
	    "atomic: mode 0600 (got %o)", (unsigned)(st.st_mode & 07777));
	unlink(path);

	ok(gb_atomic_open(&a, path, 0600) == 0, "atomic: open to abort");
	gb_write_all(a.fd, "junk", 4);
	gb_atomic_abort(&a);
	names = lsdir(dir);
	ok_str(names, "", "atomic: abort leaves nothing");
	free(names);

	/* A temporary file is registered for cleanup on failure. */
	ok(gb_atomic_open(&a, path, 0600) == 0, "atomic: open, then exit");
	gb_cleanup_run();
	names = lsdir(dir);
	ok_str(names, "", "atomic: cleanup_run removes the temporary file");
	free(names);
	close(a.fd);
	free(a.path);
	free(a.tmp);

	errno = 0;
	ok(gb_atomic_open(&a, "/nonexistent/dir/file", 0600) == -1 &&
	    errno == ENOENT, "atomic: open in a missing directory fails");

	ok(gb_fsync_parent(path) == 0, "fsync_parent: a directory that "
	    "exists");
	rmdir(dir);
	free(path);
	free(dir);
}

static void
test_cleanup(void)
{
	char *f1 = tpath("clean1"), *f2 = tpath("clean2"), *d = tpath("cdir");
	char *f3;

	writestr(f1, "x");
	writestr(f2, "y");
	mkdir(d, 0700);
	f3 = gb_asprintf("%s/inner", d);
	writestr(f3, "z");
	gb_cleanup_add(f1);
	gb_cleanup_add(f2);
	gb_cleanup_add(d);	/* the directory before the file in it */
	gb_cleanup_add(f3);
	gb_cleanup_forget(f2);
	gb_cleanup_run();
	ok(access(f1, F_OK) == -1 && access(f2, F_OK) == 0,
	    "cleanup: registered path removed, forgotten path kept");
	ok(access(d, F_OK) == -1, "cleanup: directory removed after its file");
	gb_cleanup_run();	/* nothing left registered */
	ok(access(f2, F_OK) == 0, "cleanup: run twice is harmless");
	unlink(f2);
	rmdir(d);
	free(f1);
	free(f2);
	free(f3);
	free(d);
}

/* More paths than the old registry's 256, on both ways out. */
static void
test_cleanup_many(void)
{
	enum { N = 3000 };
	char *d = tpath("many"), *p, *names;
	int status, gone = 1;
	pid_t pid;

	mkdir(d, 0700);
	for (int i = 0; i < N; i++) {
		p = gb_asprintf("%s/f%d", d, i);
		writestr(p, "x");
		gb_cleanup_add(p);
		if (i % 2)
			gb_cleanup_forget(p);
		free(p);
	}
	gb_cleanup_run();
	for (int i = 0; i < N; i++) {
		p = gb_asprintf("%s/f%d", d, i);
		gone &= (access(p, F_OK) == -1) == !(i % 2);
		unlink(p);
		free(p);
	}
	ok(gone, "cleanup: %d paths, every registered one removed, every "
	    "forgotten one kept", N);

	/* the signal handler walks all of them too */
	fflush(stdout);
	if ((pid = fork()) == 0) {
		gb_cleanup_signals();
		for (int i = 0; i < N; i++) {
			p = gb_asprintf("%s/f%d", d, i);
			writestr(p, "x");
			gb_cleanup_add(p);
			free(p);
		}
		raise(SIGTERM);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	names = lsdir(d);
	ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM && !*names,
	    "cleanup: SIGTERM removes all %d paths (left: %.40s)", N, names);
	free(names);
	rmdir(d);
	free(d);
}

static void
count_stale(void *arg, const char *path, long pid)
{
	(*(int *)arg)++;
}

/* Stale temporary paths: found by name, lock and owner, and removed. */
static void
test_tmp_stale(void)
{
	char *d = tpath("stale"), *t, *names, *inner, *p;
	struct timespec old[2] = { { .tv_sec = time(NULL) - 3600 },
	    { .tv_sec = time(NULL) - 3600 } };
	int fds[2], status, n = 0, fd;
	long pid;
	pid_t child;
	char c;

	mkdir(d, 0700);
	t = gb_tmp_template("%s/gb-unit", d);
	ok(strncmp(t + strlen(d) + 1, "gb-unit.", 8) == 0 &&
	    atol(strchr(t + strlen(d) + 1, '.') + 1) == (long)getpid() &&
	    strcmp(t + strlen(t) - 7, ".XXXXXX") == 0,
	    "tmp: template %s carries the pid", t);

	/* a child makes one, then dies by SIGKILL: nothing removes it */
	if (pipe(fds) == -1)
		gb_err(1, "pipe");
	fflush(stdout);
	if ((child = fork()) == 0) {
		char *ct = gb_tmp_template("%s/gb-unit", d);
		if (gb_mktemp(ct, 1) == -1)
			_exit(1);
		inner = gb_asprintf("%s/data.csv", ct);
		writestr(inner, "plaintext");
		if (write(fds[1], "k", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(fds[1]);
	ok(read(fds[0], &c, 1) == 1, "tmp: the child made its directory");
	close(fds[0]);
	names = lsdir(d);
	p = gb_asprintf("gb-unit.%ld.", (long)child);
	ok(strncmp(names, p, strlen(p)) == 0 && !strchr(names, ' '),
	    "tmp: named with the child's pid (%s)", names);
	n = 0;
	ok(gb_tmp_stale(d, "gb-unit", count_stale, &n) == 0 && n == 0,
	    "tmp: a live process's directory is not stale");
	inner = gb_asprintf("%s/%s", d, names);
	fd = open(inner, O_RDONLY | O_DIRECTORY);
	ok(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == -1 &&
	    errno == EWOULDBLOCK, "tmp: its owner holds its lock");
	close(fd);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	ok(gb_tmp_stale(d, "gb-unit", count_stale, &n) == 1 && n == 1,
	    "tmp: after SIGKILL, its directory is stale");
	n = 0;
	ok(gb_tmp_stale(d, NULL, count_stale, &n) == 1 && n == 1,
	    "tmp: and found as any of ours");
	ok(gb_tmp_stale(d, "gb-other", count_stale, &n) == 0,
	    "tmp: but not under another tool's name");

	/* the next one made removes it, and keeps its own */
	ok(gb_mktemp(t, 1) == 0, "tmp: the next mktemp of that name");
	free(names);
	names = lsdir(d);
	ok_str(names, strrchr(t, '/') + 1, "tmp: the stale one is gone, with "
	    "its plaintext");
	fd = open(t, O_RDONLY | O_DIRECTORY);
	ok(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == -1 &&
	    errno == EWOULDBLOCK, "tmp: our own is locked");
	close(fd);
	gb_cleanup_forget(t);
	fd = open(t, O_RDONLY | O_DIRECTORY);
	ok(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0,
	    "tmp: forgotten, its lock is let go");
	close(fd);
	rmdir(t);
	free(names);
	names = NULL;
	free(inner);
	free(p);

	/*
	 * Unlocked, under a pid that lives: the owner, between making and
	 * locking it, if it was changed since that process began; another
	 * process under a reused pid if not.
	 */
	pid = (long)getpid();
	p = gb_asprintf("%s/x.tmp.%ld.AbC123", d, pid);
	writestr(p, "x");
	n = 0;
	ok(gb_tmp_stale(d, NULL, count_stale, &n) == 0,
	    "tmp: unlocked, changed since its pid's process began: not stale");
	utimensat(AT_FDCWD, p, old, 0);
	ok(gb_tmp_stale(d, NULL, count_stale, &n) == 1 && n == 1,
	    "tmp: unlocked, older than its pid's process: stale (pid reused)");
	free(p);
	/* an atomic write of x removes it; names not of our form stay */
	inner = gb_asprintf("%s/x.tmp.XYZ", d);
	writestr(inner, "not ours");
	{
		struct gb_atomic a;
		char *x = gb_asprintf("%s/x", d), *own = gb_asprintf(".tmp.%ld.",
		    pid);
		ok(gb_atomic_open(&a, x, 0600) == 0, "tmp: atomic open of x");
		names = lsdir(d);
		ok(strstr(names, "x.tmp.XYZ") && strstr(names, own) &&
		    !strstr(names, "AbC123") && strchr(names, ' ') ==
		    strrchr(names, ' '),
		    "tmp: the stale x.tmp.* replaced by its own (%s)", names);
		free(names);
		gb_atomic_abort(&a);
		free(x);
		free(own);
	}
	unlink(inner);
	free(inner);

	/* not ours: other users' names, symlinks, other forms */
	p = gb_asprintf("%s/gb-unit.1.AbC123", d);
	if (symlink("/", p) == 0) {
		ok(gb_tmp_reap(d, "gb-unit") == 0 && access(p, F_OK) == 0,
		    "tmp: a symlink under our name is left alone");
		unlink(p);
	}
	free(p);
	names = lsdir(d);
	ok_str(names, "", "tmp: nothing left");
	free(names);
	rmdir(d);
	free(t);
	free(d);
}

static void
test_pipe_io(void)
{
	size_t n = 1024 * 1024 + 17;
	char *data = gb_malloc(n), *got = gb_malloc(2 * n);
	int p[2], status;
	ssize_t r;
	pid_t pid;

	for (size_t i = 0; i < n; i++)
		data[i] = (char)(i * 13 ^ i >> 8);
	if (pipe(p) == -1 || (pid = fork()) == -1)
		gb_err(1, "pipe/fork");
	if (pid == 0) {
		/* one big write, then many small ones: short writes and reads */
		size_t off = 600000;

		close(p[0]);
		if (gb_write_all(p[1], data, off) == -1)
			_exit(1);
		rng = 3;
		while (off < n) {
			size_t k = 1 + rndn(5000);
			if (k > n - off)
				k = n - off;
			if (gb_write_all(p[1], data + off, k) == -1)
				_exit(1);
			off += k;
		}
		free(data);	/* valgrind checks the child too */
		free(got);
		_exit(0);
	}
	close(p[1]);
	r = gb_read_full(p[0], got, 1000);
	ok(r == 1000 && memcmp(got, data, 1000) == 0,
	    "read_full: exactly n when more is coming");
	r = gb_read_full(p[0], got + 1000, 2 * n - 1000);
	ok(r == (ssize_t)(n - 1000) && memcmp(got, data, n) == 0,
	    "read_full/write_all over a pipe: %zu bytes, short only at EOF", n);
	ok(gb_read_full(p[0], got, 10) == 0, "read_full: 0 at EOF");
	close(p[0]);
	ok(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "write_all: writer succeeded");

	/* A closed reader: write_all fails with EPIPE, no loop. */
	if (pipe(p) == -1)
		gb_err(1, "pipe");
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	errno = 0;
	ok(gb_write_all(p[1], data, 10) == -1 && errno == EPIPE,
	    "write_all: -1 and EPIPE when the reader is gone");
	close(p[1]);
	signal(SIGPIPE, SIG_DFL);
	errno = 0;
	ok(gb_read_full(-1, got, 1) == -1 && errno == EBADF,
	    "read_full: -1 and errno on error");
	free(data);
	free(got);
}

static void
test_fmt_time(void)
{
	static const struct {
		time_t t;
		const char *s;
	} cases[] = {
		{ 0, "1970-01-01T00:00:00Z" },
		{ 1795544336, "2026-11-24T18:18:56Z" },
		{ 951868799, "2000-02-29T23:59:59Z" },
		{ 2147483648LL, "2038-01-19T03:14:08Z" },
	};
	char buf[21];

	/* UTC whatever the local zone. */
	setenv("TZ", "Asia/Shanghai", 1);
	tzset();
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char name[64];

		memset(buf, 'X', sizeof buf);
		gb_fmt_time(buf, cases[i].t);
		snprintf(name, sizeof name, "fmt_time: %lld", (long long)cases[i].t);
		ok(memchr(buf, '\0', sizeof buf) != NULL &&
		    strcmp(buf, cases[i].s) == 0, "%s -> %s", name, cases[i].s);
	}
	unsetenv("TZ");
	tzset();
}

/* ---- pg.c: table names ---- */

static void
test_pg_names(void)
{
	static const struct {
		const char *schema, *table, *name;
	} cases[] = {
		{ "public", "members", "public.members" },
		{ "sales", "odd.table", "sales.\"odd.table\"" },
		{ "a\"b", "t", "\"a\"\"b\".t" },
		{ "Upper Case", "会员", "Upper Case.会员" },
		{ "", "x", "\"\".x" },
	};
	static const char *bad[] = { "members", "a.b.c", "\"open.x", "a\"b.c",
	    ".x", "x.", "\"a\"x.y" };
	char *q, *s, *t, *names[] = { "public.members", "sales.members",
	    "public.stores", "x.\"a.b\"" };

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		q = gb_pg_qualname(cases[i].schema, cases[i].table);
		ok(strcmp(q, cases[i].name) == 0, "pg: qualname %s", q);
		ok(gb_pg_splitname(q, &s, &t) == 0 &&
		    strcmp(s, cases[i].schema) == 0 &&
		    strcmp(t, cases[i].table) == 0, "pg: %s splits back", q);
		free(q);
		free(s);
		free(t);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ok(gb_pg_splitname(bad[i], &s, &t) == -1 && !s && !t,
		    "pg: %s is not schema.table", bad[i]);
	q = gb_pg_flatname("public.stores", names, 4);
	ok(strcmp(q, "stores") == 0, "pg: flatname drops the schema");
	free(q);
	q = gb_pg_flatname("sales.members", names, 4);
	ok(strcmp(q, "sales.members") == 0, "pg: flatname keeps a clash whole");
	free(q);
	q = gb_pg_flatname("x.\"a.b\"", names, 4);
	ok(strcmp(q, "a.b") == 0, "pg: flatname unquotes");
	free(q);
	ok(gb_pg_is_conninfo("postgresql:///gym") &&
	    gb_pg_is_conninfo("postgres://h/db") &&
	    gb_pg_is_conninfo("host=/tmp dbname=gym") &&
	    !gb_pg_is_conninfo("sqlite:/a=b.db") &&
	    !gb_pg_is_conninfo("/var/gym.db"), "pg: what a connection string is");
}

/* ---- sql.c ---- */

/* The catalog's ? placeholders as PostgreSQL's $N, and only those. */
static void
test_pg_params(void)
{
	static const struct {
		const char *sql, *pg;
		int max;
	} v[] = {
		{ "SELECT a FROM t WHERE b = ?2 AND c = ?1", "SELECT a FROM t "
		    "WHERE b = $2 AND c = $1", 2 },
		{ "INSERT INTO t VALUES(?, ?, ?5, ?)", "INSERT INTO t VALUES($1, "
		    "$2, $5, $6)", 6 },
		{ "SELECT 1 WHERE (?1 IS NULL OR x = ?1)", "SELECT 1 WHERE ($1::"
		    "text IS NULL OR x = $1)", 1 },
		{ "SELECT '?', \"a?\" FROM t WHERE x = ?", "SELECT '?', \"a?\" "
		    "FROM t WHERE x = $1", 1 },
		{ "SELECT x -- why? ?9\n FROM t WHERE y = ?", "SELECT x -- why? "
		    "?9\n FROM t WHERE y = $1", 1 },
		{ "SELECT /* a ? /* nested ? */ ? */ ?", "SELECT /* a ? /* "
		    "nested ? */ ? */ $1", 1 },
		{ "SELECT E'it\\'s ?', ?", "SELECT E'it\\'s ?', $1", 1 },
		{ "SELECT $$a ? b$$, $q$ ? $$ ? $q$, ?3", "SELECT $$a ? b$$, $q$ "
		    "? $$ ? $q$, $3", 3 },
		{ "SELECT 'it''s ?' || ?", "SELECT 'it''s ?' || $1", 1 },
		{ "SELECT ? /* no end ?", "SELECT $1 /* no end ?", 1 },
		{ "SELECT 1", "SELECT 1", 0 },
	};

	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		int max = -1;
		char *q = gb_sql_pg_params(v[i].sql, &max);
		ok_str(q, v[i].pg, "sql: placeholders for PostgreSQL");
		ok(max == v[i].max, "sql: %d parameters in %s", v[i].max,
		    v[i].sql);
		free(q);
	}
}

static void
test_sql(void)
{
	static const struct {
		const char *decl;
		char aff;
	} decls[] = {
		{ "INTEGER", 'i' }, { "bigint", 'i' }, { "VARCHAR(20)", 't' },
		{ "CLOB", 't' }, { "text", 't' }, { "BLOB", 'b' }, { "", 'b' },
		{ NULL, 'b' }, { "REAL", 'r' }, { "double precision", 'r' },
		{ "FLOAT", 'r' }, { "NUMERIC(10,2)", 'n' }, { "DATE", 'n' },
		{ "CHARINT", 'i' },	/* INT wins, as in SQLite */
	};
	static const char two[] = "CREATE TABLE \"a;b\" (x);\n-- c;\n"
	    "CREATE INDEX i ON \"a;b\" (x);";
	static const char drop[] = "CREATE TABLE t (x int); DROP TABLE t;";
	static const char dollar[] = "CREATE TABLE t (x text DEFAULT $q$;$q$);";
	struct gb_ddl *d;
	size_t n;
	char err[256], *q;

	q = gb_quote_ident("a\"b");
	ok(strcmp(q, "\"a\"\"b\"") == 0, "pg: ident doubles quotes");
	free(q);
	q = gb_pg_sqlite_ddl("CREATE TABLE \"t\" (x int);\n-- sqlite: CREATE "
	    "TABLE \"t\" (\n-- sqlite: \tx INTEGER);\n-- other\n");
	ok(strcmp(q, "CREATE TABLE \"t\" (\n\tx INTEGER);\n") == 0,
	    "pg: the SQLite lines of SCHEMA.sql");
	free(q);
	for (size_t i = 0; i < sizeof decls / sizeof *decls; i++)
		ok(gb_sql_affinity(decls[i].decl) == decls[i].aff,
		    "sql: affinity of %s is %c", decls[i].decl ? decls[i].decl :
		    "(null)", decls[i].aff);
	ok_str(gb_sql_skip("  -- a\n/* b */\t x"), "x",
	    "sql: skip passes comments and space");
	q = gb_sql_rel("a\"b", "t.u");
	ok_str(q, "\"a\"\"b\".\"t.u\"", "sql: rel quotes both parts");
	free(q);
	q = gb_sql_keys("id,\"x");
	ok_str(q, "\"id\", \"\"\"x\"", "sql: a MANIFEST key as quoted names");
	free(q);
	q = gb_sql_keys("");
	ok_str(q, "", "sql: no key, no names");
	free(q);
	q = gb_sql_count("\"t\"", NULL, "?1");
	ok_str(q, "SELECT count(*) FROM \"t\"", "sql: count of every row");
	free(q);
	q = gb_sql_count("\"t\"", "at", "$1");
	ok_str(q, "SELECT count(*) FROM \"t\" WHERE \"at\" > $1",
	    "sql: count past a watermark");
	free(q);
	ok(gb_ddl_parse(0, two, strlen(two), &d, &n, err, sizeof err) == 0 &&
	    n == 2 && d[0].kind == GB_DDL_TABLE && strcmp(d[0].name,
	    "a;b") == 0 && d[1].kind == GB_DDL_INDEX &&
	    strcmp(d[1].name, "i") == 0,
	    "sql: SCHEMA.sql split past a quoted ';'");
	if (n == 2) {
		q = gb_ddl_if_not_exists(&d[1]);
		ok_str(q, "CREATE INDEX IF NOT EXISTS i ON \"a;b\" (x)",
		    "sql: IF NOT EXISTS before the name");
		free(q);
	}
	gb_ddl_free(d, n);
	ok(gb_ddl_parse(1, drop, strlen(drop), &d, &n, err, sizeof err) == -1,
	    "sql: a statement the export never writes is refused");
	ok_has(err, "refused statement", "sql: ... and named as refused");
	ok(gb_ddl_parse(1, dollar, strlen(dollar), &d, &n, err,
	    sizeof err) == 0 && n == 1, "sql: a PostgreSQL $q$ string holds "
	    "its ';'");
	gb_ddl_free(d, n);
}

/* ---- restore-sqlite.c: the SQLite target ---- */

struct memread {
	const char *p;
	size_t n;
};

static ssize_t
mem_read(void *arg, void *buf, size_t n)
{
	struct memread *m = arg;

	if (n > m->n)
		n = m->n;
	memcpy(buf, m->p, n);
	m->p += n;
	m->n -= n;
	return (ssize_t)n;
}

/* A table of m with its CSV's rows, size and hash, as an export writes. */
static void
csv_table(struct gb_manifest *m, const char *name, const char *csv,
    uint64_t rows, const char *key)
{
	struct gb_mtable *t = gb_manifest_add_table(m, name);
	struct gb_sha256 h;

	gb_sha256_init(&h);
	gb_sha256_update(&h, csv, strlen(csv));
	gb_sha256_final(&h, t->sha256);
	t->file = gb_table_filename(name);
	t->rows = rows;
	t->bytes = strlen(csv);
	t->key = gb_strdup(key);
}

static int
load_csv(struct gb_target *tg, const struct gb_manifest *m,
    const struct gb_mtable *mt, const char *csv, char *err, size_t errlen)
{
	struct memread r = { csv, strlen(csv) };

	return tg->load(tg->t, m, mt, mem_read, &r, err, errlen);
}

/* A manifest of one level, from one kind of source (gb_manifest_free). */
static void
manifest_of(struct gb_manifest *m, const char *level, const char *kind)
{
	memset(m, 0, sizeof *m);
	m->level = gb_strdup(level);
	m->source_kind = gb_strdup(kind);
}

static void
test_restore_sqlite(void)
{
	static const char schema[] = "CREATE TABLE m (id INTEGER PRIMARY KEY, "
	    "name TEXT, fee REAL, pic BLOB, n NUMERIC);\n"
	    "CREATE INDEX m_name ON m (name);\n";
	static const char full[] = "id,name,fee,pic,n\r\n"
	    "1,007,1.5,\\x00ff,12\r\n2,,2,\\xzz,x\r\n";
	static const char incr[] = "id,name,fee,pic,n\r\n2,Bo,3,,\r\n"
	    "3,Cy,0.25,,7\r\n";
	static const char bad[] = "CREATE TABLE m (x); DROP TABLE m;";
	struct gb_manifest m, mi, mg;
	struct gb_target tg;
	char err[512], *db = tpath("restored.db");
	sqlite3 *lite;
	sqlite3_stmt *st;
	int64_t n = 0;
	int rc;

	manifest_of(&m, "full", "sqlite");
	manifest_of(&mi, "incremental", "sqlite");
	manifest_of(&mg, "full", "sqlite");
	csv_table(&m, "m", full, 2, "id");
	csv_table(&mi, "m", incr, 2, "id");
	csv_table(&mg, "gone", "x\r\n", 0, "");
	rc = gb_restore_sqlite_open(&tg, db, err, sizeof err);
	ok(rc == 0, "restore-sqlite: opens a new database");
	if (rc) {
		diag("%s", err);
		return;
	}
	ok(tg.schema(tg.t, &m, schema, strlen(schema), err, sizeof err) == 0,
	    "restore-sqlite: SCHEMA.sql's tables made");
	ok(load_csv(&tg, &m, &m.tables[0], full, err, sizeof err) == 0,
	    "restore-sqlite: a full's rows loaded");
	ok(tg.rows(tg.t, &m, &m.tables[0], 0, &n, err, sizeof err) == 0 &&
	    n == 2, "restore-sqlite: rows counts them");
	ok(load_csv(&tg, &mi, &mi.tables[0], incr, err, sizeof err) == 0,
	    "restore-sqlite: an incremental's rows upserted by key");
	ok(tg.rows(tg.t, &mi, &mi.tables[0], 0, &n, err, sizeof err) == 0 &&
	    n == 3, "restore-sqlite: one row new, one replaced");
	ok(tg.rows(tg.t, &mg, &mg.tables[0], 0, &n, err, sizeof err) == 0 &&
	    n == -1, "restore-sqlite: rows is -1 for a table not there");
	ok(access(db, F_OK) == -1, "restore-sqlite: nothing at the path "
	    "before finish");
	ok(tg.finish(tg.t, err, sizeof err) == 0 && access(db, F_OK) == 0,
	    "restore-sqlite: finish renames the database into place");
	tg.close(tg.t);

	sqlite3_open_v2(db, &lite, SQLITE_OPEN_READONLY, NULL);
	sqlite3_prepare_v2(lite, "SELECT group_concat(id || ':' || "
	    "typeof(name) || ':' || typeof(fee) || ':' || quote(pic) || ':' || "
	    "typeof(n), ' ') FROM (SELECT * FROM m ORDER BY id)", -1, &st,
	    NULL);
	ok(sqlite3_step(st) == SQLITE_ROW, "restore-sqlite: the rows read back");
	ok_str((const char *)sqlite3_column_text(st, 0), "1:text:real:X'00FF':"
	    "integer 2:text:real:NULL:null 3:text:real:NULL:integer",
	    "restore-sqlite: fields bound as the export wrote them, by the "
	    "declared type");
	sqlite3_finalize(st);
	sqlite3_prepare_v2(lite, "SELECT count(*) FROM sqlite_schema WHERE "
	    "type = 'index' AND name = 'm_name'", -1, &st, NULL);
	ok(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1,
	    "restore-sqlite: the index made at finish");
	sqlite3_finalize(st);
	sqlite3_close(lite);

	rc = gb_restore_sqlite_open(&tg, db, err, sizeof err);
	ok(rc == -1, "restore-sqlite: a database with tables is refused (-1)");
	ok_has(err, "is not empty; restore into a new database",
	    "restore-sqlite: ... saying why");
	tg.close(tg.t);

	/* the drill's scratch database: a mismatch found, nothing kept */
	rc = gb_restore_sqlite_open(&tg, NULL, err, sizeof err);
	ok(rc == 0, "restore-sqlite: opens a scratch database");
	if (rc == 0) {
		ok(tg.schema(tg.t, &m, schema, strlen(schema), err,
		    sizeof err) == 0 && load_csv(&tg, &m, &m.tables[0],
		    "id,name\r\n9,x\r\n", err, sizeof err) == -1,
		    "restore-sqlite: CSV that differs from the MANIFEST is -1");
		ok(tg.schema(tg.t, &m, bad, strlen(bad), err,
		    sizeof err) == -1, "restore-sqlite: SCHEMA.sql's statements "
		    "held to what the export writes");
		tg.close(tg.t);
	}
	gb_cleanup_run();
	free(db);
	gb_manifest_free(&m);
	gb_manifest_free(&mi);
	gb_manifest_free(&mg);
}

/*
 * gb_pgp_status_line and its verdicts: gpg's status lines of a decrypt as
 * gpg 2.2 writes them (the pinned signer given by fingerprint, so no
 * keyring is asked).
 */
static void
status_lines(struct gb_pgp_status *st, const char *const *lines)
{
	memset(st, 0, sizeof *st);
	for (; *lines; lines++)
		gb_pgp_status_line(st, *lines);
}

static void
test_pgp_status(void)
{
#define P "DBAA6BF8859E59A058FA685BE029D8F0D33AEA6F"
#define S "1111111111111111111111111111111111111111"
#define O "3333333333333333333333333333333333333333"
	static const char *const good[] = { "NO_SECKEY A33F46275400A773",
	    "BEGIN_DECRYPTION", "GOODSIG E029D8F0D33AEA6F Signer <s@x>",
	    "VALIDSIG " S " 2026-12-03 1796318526 0 4 0 22 8 00 " P,
	    "TRUST_UNDEFINED 0 pgp", "DECRYPTION_OKAY", "GOODMDC",
	    "END_DECRYPTION", NULL };
	static const char *const unknown[] = { "NEWSIG m@x",
	    "ERRSIG A8215F762505EC26 22 10 00 1796320091 9 "
	    "70CD115EBC7CD378EA509DD1A8215F762505EC26",
	    "NO_PUBKEY A8215F762505EC26", "DECRYPTION_OKAY", NULL };
	static const char *const twice[] = { "GOODSIG E029D8F0D33AEA6F S",
	    "VALIDSIG " P " 2026-12-03 1 0 4 0 22 8 00 " P,
	    "GOODSIG 2222222222222222 S",
	    "VALIDSIG " S " 2026-12-03 1 0 4 0 22 8 00 " P,
	    "DECRYPTION_OKAY", NULL };
	static const char *const nokey[] = { "ENC_TO FD0EACD84F8DD4F8 18 0",
	    "NO_SECKEY FD0EACD84F8DD4F8", "BEGIN_DECRYPTION",
	    "DECRYPTION_FAILED", "END_DECRYPTION", NULL };
	static const char *const cut[] = { "BEGIN_DECRYPTION",
	    "PLAINTEXT 62 1796318526", NULL };
	struct gb_pgp_status st;
	char err[512];

	status_lines(&st, good);
	ok(gb_pgp_status_decrypt(&st) == 0, "status: DECRYPTION_OKAY decrypted");
	ok(gb_pgp_status_sigs(&st, P, err, sizeof err) == 0,
	    "status: a subkey's good signature vouches for its primary key");
	ok(gb_pgp_status_sigs(&st, S, err, sizeof err) == 0,
	    "status: and for the subkey itself");
	ok(gb_pgp_status_sigs(&st, O, err, sizeof err) == -1,
	    "status: not for another key");
	ok_str(err, "signed by " S ", not by the pinned signer " O,
	    "status: another key named");
	status_lines(&st, unknown);
	ok(gb_pgp_status_sigs(&st, P, err, sizeof err) == -1,
	    "status: ERRSIG 9 refused");
	ok_str(err, "signed by unknown key 70CD115EBC7CD378EA509DD1A8215F762505"
	    "EC26 (the signer's public key is not in the keyring)",
	    "status: ERRSIG 9 is an unknown key, by its fingerprint");
	status_lines(&st, twice);
	ok(gb_pgp_status_sigs(&st, P, err, sizeof err) == -1,
	    "status: two good signatures by the signer refused");
	ok_str(err, "signed 2 times, where one signature by the signer is "
	    "expected", "status: two signatures counted");
	status_lines(&st, nokey);
	ok(gpg_err_code(gb_pgp_status_decrypt(&st)) == GPG_ERR_NO_SECKEY,
	    "status: no secret key for any ENC_TO");
	status_lines(&st, cut);
	ok(gb_pgp_status_decrypt(&st) != 0,
	    "status: no DECRYPTION_OKAY, not decrypted");
	ok(gb_pgp_status_sigs(&st, P, err, sizeof err) == -1 &&
	    strcmp(err, "not signed") == 0, "status: no signature, not signed");
#undef P
#undef S
#undef O
}

/* gb_seal_format writes what gb_seal_parse reads; gb_seal_peek finds. */
static void
test_seal_format(void)
{
	char *rcpt[] = { "AAAA1111", "BBBB2222", NULL }, err[256], *text;
	char *signed_text, *name;
	struct gb_seal in = { .archive = "gym-full.tar.gz.gpg", .size = 12345,
	    .packed_size = 6789, .sealed = "2026-11-24T18:18:56Z",
	    .signer = "CCCC3333", .recipients = rcpt,
	    .manifest_text = (char *)good_manifest,
	    .manifest_len = sizeof good_manifest - 1 }, out;
	uint64_t size;

	memset(in.sha256, 'a', 64);
	memset(in.packed_sha256, 'b', 64);
	text = gb_seal_format(&in);
	ok_has(text, "gymbackup-seal\t1\narchive\tgym-full.tar.gz.gpg\n"
	    "size\t12345\n", "seal: format 1, archive and size first");
	ok_has(text, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaa  gym-full.tar.gz.gpg\n", "seal: the sha256sum line");
	if (ok(gb_seal_parse(&out, text, strlen(text), err, sizeof err) == 0,
	    "seal: what is written parses")) {
		ok_str(out.archive, in.archive, "seal: archive read back");
		ok(out.size == 12345 && out.packed_size == 6789,
		    "seal: sizes read back");
		ok_str(out.sha256, in.sha256, "seal: sha256 read back");
		ok_str(out.packed_sha256, in.packed_sha256,
		    "seal: packed-sha256 read back");
		ok_str(out.sealed, in.sealed, "seal: time read back");
		ok_str(out.signer, in.signer, "seal: signer read back");
		ok(out.recipients[0] && out.recipients[1] && !out.recipients[2] &&
		    strcmp(out.recipients[0], "AAAA1111") == 0 &&
		    strcmp(out.recipients[1], "BBBB2222") == 0,
		    "seal: recipients read back in order");
		ok_bytes(out.manifest_text, out.manifest_len, good_manifest,
		    sizeof good_manifest - 1, "seal: manifest read back");
		ok(out.manifest.ntables == 1, "seal: its manifest parsed");
		gb_seal_free(&out);
	} else
		diag("%s", err);

	/* as on a tape: armor around it, CR LF, the signature after */
	signed_text = gb_asprintf(GB_SEAL_BEGIN "\r\nHash: SHA256\r\n\r\n%s"
	    "-----BEGIN PGP SIGNATURE-----\r\n\r\nsize\t99\r\n"
	    "-----END PGP SIGNATURE-----\r\n", text);
	gb_seal_peek(signed_text, &name, &size);
	ok(name && strcmp(name, in.archive) == 0 && size == 12345,
	    "seal: peek finds archive and size in a clear-signed text");
	free(name);
	free(signed_text);
	gb_seal_peek(GB_SEAL_BEGIN "\nHash: SHA256\n\ngymbackup-seal\t1\n"
	    "size\t12x\n-----BEGIN PGP SIGNATURE-----\narchive\tx\n", &name,
	    &size);
	ok(!name && size == 0, "seal: peek finds nothing past the signature "
	    "and no bad size");
	free(text);
}

static void
test_label(void)
{
	char *dir = tpath("medium"), *tap = tpath("label.tap"), *media, *path;
	char *id, *pool, *text;
	const char *want = "gymbackup-label\t1\nmedium\tUSB-01\npool\toffsite\n"
	    "kind\tdir\nlabelled\t";
	struct gb_tape t;
	unsigned char *buf = gb_malloc(GB_MAX_BLOCK);
	ssize_t n;
	size_t len;
	int fd;

	mkdir(dir, 0755);
	ok(gb_media_label(dir, &id, &pool) == -1 && !id && !pool,
	    "label: none on a new directory");
	ok(gb_label_write(dir, NULL, 0, "USB-01", "offsite") == 0,
	    "label: written to a directory");
	path = gb_asprintf("%s/" GB_LABEL_FILE, dir);
	text = readfile(path, &len);
	ok(strncmp(text, want, strlen(want)) == 0 &&
	    len == strlen(want) + 21 && text[len - 1] == '\n',
	    "label: the directory's label text");
	free(text);
	ok(gb_media_label(dir, &id, &pool) == 0 && strcmp(id, "USB-01") == 0 &&
	    strcmp(pool, "offsite") == 0, "label: read from the directory");
	free(id);
	free(pool);
	fd = open(path, O_RDONLY);
	ok(gb_label_read(fd, &id, &pool) == 0 && strcmp(id, "USB-01") == 0,
	    "label: read from an open label file");
	close(fd);
	free(id);
	free(pool);
	ok(!gb_media_is_tape(dir), "label: a directory is no tape");

	media = gb_asprintf("tape:%s", tap);
	ok(gb_media_is_tape(media), "label: tape:PATH is a tape");
	if (gb_tape_open(&t, media, 1, 4096) == -1)
		gb_err(1, "cannot open %s", media);
	ok(gb_label_write(media, &t, 4096, "TAPE-01", "weekly") == 0,
	    "label: written to a tape image");
	gb_tape_close(&t);
	if (gb_tape_open(&t, media, 0, 0) == -1)
		gb_err(1, "cannot open %s", media);
	n = gb_tape_read(&t, buf, GB_MAX_BLOCK);
	ok(n == 4096 && memcmp(buf, "gymbackup-label\t1\nmedium\tTAPE-01\n"
	    "pool\tweekly\nkind\ttape\nlabelled\t", 56) == 0 &&
	    buf[4095] == 0, "label: one record of the block size, zero padded");
	ok(gb_tape_read(&t, buf, GB_MAX_BLOCK) == 0, "label: then a tape mark");
	ok(gb_tape_rewind(&t) == 0 &&
	    gb_label_read_tape(&t, buf, &id, &pool) == 0 &&
	    strcmp(id, "TAPE-01") == 0 && strcmp(pool, "weekly") == 0,
	    "label: read from the tape's first record");
	free(id);
	free(pool);
	gb_tape_close(&t);
	ok(gb_media_label(media, &id, &pool) == 0 &&
	    strcmp(id, "TAPE-01") == 0 && strcmp(pool, "weekly") == 0,
	    "label: read from the tape image");
	free(id);
	free(pool);
	free(media);
	free(path);
	free(buf);
	free(tap);
	free(dir);
}

static la_ssize_t
to_gzw(struct archive *a, void *arg, const void *p, size_t n)
{
	gb_gzw_write(arg, p, n);
	return (la_ssize_t)n;
}

/*
 * A packed archive as gb-pack writes it: MANIFEST in a member of its own
 * (cut 1; 0: no cut; 2: a cut halfway through its data), then a second
 * entry (first: the name of the first entry).
 */
static char *
write_packed(const char *file, const char *first, const char *body,
    int cut)
{
	size_t half = cut == 2 ? strlen(body) / 2 : 0;
	char *path = tpath(file);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	struct gb_gzw *g = gb_gzw_open(fd, 1, 1, 1 << 20);
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	uint64_t total;

	if (fd < 0 || gb_tar_format(a, 0) == -1 ||
	    archive_write_open2(a, g, NULL, to_gzw, NULL, NULL) != ARCHIVE_OK ||
	    gb_tar_header(a, e, first, (int64_t)strlen(body), 1764008336) == -1 ||
	    archive_write_data(a, body, half) != (la_ssize_t)half)
		gb_errx(1, "test setup: cannot write %s", path);
	if (cut == 2)
		gb_gzw_cut(g);
	if (archive_write_data(a, body + half, strlen(body) - half) !=
	    (la_ssize_t)(strlen(body) - half))
		gb_errx(1, "test setup: cannot write %s", path);
	archive_write_finish_entry(a);
	if (cut == 1)
		gb_gzw_cut(g);
	if (gb_tar_header(a, e, "SCHEMA.sql", 3, 1764008336) == -1 ||
	    archive_write_data(a, "x;\n", 3) != 3 ||
	    archive_write_close(a) != ARCHIVE_OK ||
	    gb_gzw_close(g, &total) == -1 || close(fd) == -1)
		gb_errx(1, "test setup: cannot finish %s", path);
	archive_write_free(a);
	archive_entry_free(e);
	return path;
}

/* gb_pack_manifest on the file at path: its return, text in *text. */
static int
pack_manifest(const char *path, char **text, size_t *len, int whole)
{
	unsigned char *prefix;
	size_t plen, flen;
	char *file = readfile(path, &flen);
	int fd = open(path, O_RDONLY), r;

	r = gb_pack_manifest(fd, &prefix, &plen, text, len);
	close(fd);
	if (whole)
		ok(plen <= flen && memcmp(prefix, file, plen) == 0 &&
		    plen > 0, "tar: the bytes read are kept, in order");
	free(prefix);
	free(file);
	return r;
}

static void
test_tar(void)
{
	struct archive *a = archive_write_new(), *rd = archive_read_new();
	struct archive_entry *e = archive_entry_new(), *re;
	char tar[10240], *path, *text;
	unsigned char *prefix;
	size_t used = 0, len, plen;

	/* the entry as gb-export and gb-pack write it */
	if (gb_tar_format(a, 0) == -1 ||
	    archive_write_open_memory(a, tar, sizeof tar, &used) != ARCHIVE_OK)
		gb_errx(1, "test setup: libarchive");
	ok(gb_tar_header(a, e, "members.csv", 5, 1764008336) == 0 &&
	    archive_write_data(a, "1,2\n\n", 5) == 5 &&
	    archive_write_close(a) == ARCHIVE_OK, "tar: an entry written");
	ok(gb_tar_first(tar, used, "members.csv") == 5,
	    "tar: the first entry's size");
	ok(gb_tar_first(tar, used, "members") == -1 &&
	    gb_tar_first(tar, used, "MANIFEST") == -1,
	    "tar: the first entry is that name only");
	ok(gb_tar_first(tar, 516, "members.csv") == -1 &&
	    gb_tar_first(tar, 511, "members.csv") == -1,
	    "tar: its data must be whole");
	archive_read_support_format_tar(rd);
	ok(archive_read_open_memory(rd, tar, used) == ARCHIVE_OK &&
	    archive_read_next_header(rd, &re) == ARCHIVE_OK &&
	    strcmp(archive_entry_pathname(re), "members.csv") == 0 &&
	    archive_entry_filetype(re) == AE_IFREG &&
	    archive_entry_perm(re) == 0600 && archive_entry_uid(re) == 0 &&
	    archive_entry_gid(re) == 0 && archive_entry_size(re) == 5 &&
	    archive_entry_mtime(re) == 1764008336,
	    "tar: libarchive reads the entry back: regular, 0600, root, "
	    "the snapshot's time");
	archive_read_free(rd);
	archive_write_free(a);
	archive_entry_free(e);

	/* MANIFEST read back from a packed archive's first member */
	path = write_packed("good.tar.gz", "MANIFEST", good_manifest, 1);
	if (ok(pack_manifest(path, &text, &len, 1) == 0,
	    "tar: MANIFEST from the first member")) {
		ok_bytes(text, len, good_manifest, sizeof good_manifest - 1,
		    "tar: MANIFEST's text");
		free(text);
	}
	free(path);
	path = write_packed("half.tar.gz", "MANIFEST", good_manifest, 2);
	ok(pack_manifest(path, &text, &len, 0) == -1 && !text,
	    "tar: refused when MANIFEST's first member ends inside it");
	free(path);
	path = write_packed("first.tar.gz", "SCHEMA.sql", good_manifest, 1);
	ok(pack_manifest(path, &text, &len, 0) == -1 && !text,
	    "tar: refused when MANIFEST is not first");
	free(path);
	path = tpath("plain.txt");
	writestr(path, "no gzip here\n");
	ok(pack_manifest(path, &text, &len, 0) == -1 && !text,
	    "tar: refused when not gzip");
	free(path);
	ok(gb_pack_manifest(-1, &prefix, &plen, &text, &len) == -2 &&
	    errno == EBADF && !text, "tar: a failed read is -2 with errno");
	free(prefix);
}

/* ---- workers.c, gzip.c, gzread.c ---- */

static ssize_t
fd_read(void *arg, void *buf, size_t n)
{
	return read(*(int *)arg, buf, n);
}

/* A plain gzip member, as gzip(1) writes it: no size field, read streaming. */
static size_t
plain_member(const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
	z_stream z;

	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		gb_errx(1, "test setup: deflateInit2");
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		gb_errx(1, "test setup: deflate");
	n = z.total_out;
	deflateEnd(&z);
	return n;
}

/*
 * Members of gb-pack's (on 1 and 3 threads) around plain ones read back
 * whole, in order, on 1, 2 and 4 threads; a damaged member is an error.
 */
static void
test_gzip(void)
{
	size_t n = 300000, cut = 123457, hlen, plen, got;
	unsigned char *data = gb_malloc(n), *back = gb_malloc(n + 1);
	unsigned char *plain = gb_malloc(n + 1024), *head = gb_malloc(2048);
	char *path = tpath("gz");

	for (size_t i = 0; i < n; i++)
		data[i] = (unsigned char)(i % 251 < 100 ? i % 7 : i * 31 >> 5);
	/* plain members first (a slot never used before) and between */
	hlen = plain_member(data, 1000, head, 2048);
	plen = plain_member(data + cut, 1000, plain, n + 1024);
	for (int wt = 1; wt <= 3; wt += 2) {
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		struct gb_gzw *g = gb_gzw_open(fd, wt == 1 ? 1 : 6, wt, 10000);
		uint64_t b1, b2;
		int r1, r2;
		if (gb_write_all(fd, head, hlen) == -1)
			gb_err(1, "test setup: %s", path);
		gb_gzw_write(g, data + 1000, cut - 1000);
		r1 = gb_gzw_close(g, &b1);
		if (gb_write_all(fd, plain, plen) == -1)
			gb_err(1, "test setup: %s", path);
		g = gb_gzw_open(fd, wt == 1 ? 1 : 6, wt, 10000);
		gb_gzw_write(g, data + cut + 1000, 5000);
		gb_gzw_cut(g);
		gb_gzw_write(g, data + cut + 6000, n - cut - 6000);
		r2 = gb_gzw_close(g, &b2);
		ok(r1 == 0 && r2 == 0 && b1 > 0 && b2 > 0 &&
		    hlen + b1 + b2 + plen == (uint64_t)lseek(fd, 0, SEEK_CUR),
		    "gzip: %d thread(s) write the members", wt);
		if (gb_write_all(fd, gb_pack_trailer, gb_pack_trailer_len) == -1)
			gb_err(1, "test setup: %s", path);
		for (int rt = 1; rt <= 4; rt *= 2) {
			struct gb_gzr *r;
			ssize_t k;
			lseek(fd, 0, SEEK_SET);
			r = gb_gzr_open(fd_read, &fd, rt);
			got = 0;
			while ((k = gb_gzr_read(r, back + got, n + 1 - got)) > 0)
				got += (size_t)k;
			ok(k == 0 && got == n && memcmp(back, data, n) == 0 &&
			    !gb_gzr_error(r), "gzread: written on %d, read on %d "
			    "thread(s): every byte, in order, plain members too",
			    wt, rt);
			gb_gzr_close(r);
		}
		/* a byte of the first gb-pack member's deflate data changed */
		{
			unsigned char b;
			struct gb_gzr *r;
			ssize_t k;
			if (pread(fd, &b, 1, (off_t)hlen + 40) != 1)
				gb_err(1, "test setup: %s", path);
			b ^= 0x55;
			if (pwrite(fd, &b, 1, (off_t)hlen + 40) != 1)
				gb_err(1, "test setup: %s", path);
			lseek(fd, 0, SEEK_SET);
			r = gb_gzr_open(fd_read, &fd, 2);
			while ((k = gb_gzr_read(r, back, n)) > 0)
				;
			ok(k == -1 && gb_gzr_error(r), "gzread: a damaged member "
			    "is an error (%s)", gb_gzr_error(r) ? gb_gzr_error(r) :
			    "none");
			gb_gzr_close(r);
		}
		close(fd);
	}
	free(path);
	free(data);
	free(back);
	free(plain);
	free(head);
}

int
main(int argc, char *argv[])
{
	const char *t = getenv("TMPDIR");

	gb_setprogname(argv[0]);
	gb_crypto_init();
	snprintf(tmpdir, sizeof tmpdir, "%s/gb-unit.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir))
		gb_err(3, "mkdtemp %s", tmpdir);

	test_conf_good();
	test_conf_bad();
	test_conf_path();
	test_conf_sections();
	test_job_cron();
	test_job_defaults();
	test_csv_text();
	test_csv_numbers();
	test_csv_blob();
	test_csvread_basic();
	test_csvread_boundary();
	test_csvread_errors();
	test_csvread_limits();
	test_roundtrip();
	test_manifest_roundtrip();
	test_manifest_reader();
	test_table_filename();
	test_sha256();
	test_out();
	test_spool();
	test_atomic();
	test_cleanup();
	test_cleanup_many();
	test_tmp_stale();
	test_pipe_io();
	test_gzip();
	test_fmt_time();
	test_pg_names();
	test_sql();
	test_pg_params();
	test_restore_sqlite();
	test_seal_format();
	test_pgp_status();
	test_label();
	test_tar();

	rmtree(tmpdir);
	printf("%d passed, %d failed\n", ntest - nfail, nfail);
	return nfail ? 1 : 0;
}
