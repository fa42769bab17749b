/* conf.c - the INI config, gymbackup.conf(5) */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gb.h"

#define SYSCONF "/etc/gymbackup/gymbackup.conf"

/*
 * c->e[0 .. n) are the key = value entries that callers may walk.  Behind
 * them, hidden from callers, sits one entry per distinct section (key and
 * value NULL) in file order, ended by an entry whose section is NULL: a
 * section with no keys, such as a bare "[table checkins]", must still be
 * listed, and this keeps every visible entry a real key.
 */

const char *
gb_conf_path(const char *opt)
{
	const char *p;

	if (opt)
		return opt;
	if ((p = getenv("GB_CONF")) && *p)
		return p;
	if (access(SYSCONF, F_OK) == 0)
		return SYSCONF;
	return NULL;
}

static void seterr(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int
isws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * Cut a trailing " ; ..." or " # ..." comment and trailing blanks.  s[-1]
 * must be readable: a value's first byte follows its blanks or the '='.
 */
static void
trimright(char *s)
{
	size_t n;

	for (char *p = s; *p; p++)
		if ((*p == ';' || *p == '#') && isws((unsigned char)p[-1])) {
			*p = '\0';
			break;
		}
	n = strlen(s);
	while (n > 0 && isws((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

static char *
skipblank(char *s)
{
	while (isws((unsigned char)*s))
		s++;
	return s;
}

static int
validkey(const char *k)
{
	for (; *k; k++)
		if (!isalnum((unsigned char)*k) && !strchr("_-.", *k))
			return 0;
	return 1;
}

/* "  table   members " -> "table members": words joined by one space. */
static char *
normsection(const char *s, size_t n)
{
	char *out = gb_malloc(n + 1), *o = out;

	for (size_t i = 0; i < n; i++) {
		if (isws((unsigned char)s[i])) {
			if (o > out && o[-1] != ' ')
				*o++ = ' ';
		} else
			*o++ = s[i];
	}
	if (o > out && o[-1] == ' ')
		o--;
	*o = '\0';
	return out;
}

static int
hassect(const struct gb_conf_entry *s, size_t ns, const char *name)
{
	for (size_t i = 0; i < ns; i++)
		if (strcmp(s[i].section, name) == 0)
			return 1;
	return 0;
}

static void
freeents(struct gb_conf_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].section);
		free(e[i].key);
		free(e[i].value);
	}
	free(e);
}

int
gb_conf_load(struct gb_conf *c, const char *path, char *err, size_t errlen)
{
	struct gb_conf_entry *e = NULL, *s = NULL;	/* entries, sections */
	size_t ne = 0, ecap = 0, ns = 0, scap = 0;
	char *line = NULL, *sect = NULL;
	size_t linecap = 0;
	ssize_t len;
	int lineno = 0, r = -1;
	FILE *f;

	memset(c, 0, sizeof *c);
	if (!(f = fopen(path, "re"))) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &linecap, f)) != -1) {
		char *p, *q, *k, *v;

		lineno++;
		if (memchr(line, '\0', (size_t)len)) {
			seterr(err, errlen, "%s:%d: NUL byte in line", path,
			    lineno);
			goto out;
		}
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		p = line;
		if (lineno == 1 && strncmp(p, "\xef\xbb\xbf", 3) == 0)
			p += 3;		/* a UTF-8 BOM some editors add */
		p = skipblank(p);
		if (*p == '\0' || *p == '#' || *p == ';')
			continue;
		if (*p == '[') {
			if (!(q = strchr(p, ']'))) {
				seterr(err, errlen,
				    "%s:%d: unterminated section header "
				    "(missing ']')", path, lineno);
				goto out;
			}
			v = skipblank(q + 1);
			if (*v != '\0' && *v != '#' && *v != ';') {
				seterr(err, errlen, "%s:%d: malformed line: "
				    "text after section header", path, lineno);
				goto out;
			}
			free(sect);
			sect = normsection(p + 1, (size_t)(q - p - 1));
			if (*sect == '\0') {
				seterr(err, errlen, "%s:%d: empty section name",
				    path, lineno);
				goto out;
			}
			if (!hassect(s, ns, sect)) {
				if (ns == scap) {
					scap = scap ? 2 * scap : 16;
					s = gb_realloc(s, scap * sizeof *s);
				}
				s[ns].section = gb_strdup(sect);
				s[ns].key = s[ns].value = NULL;
				s[ns].line = lineno;
				ns++;
			}
			continue;
		}
		if (!(q = strchr(p, '='))) {
			seterr(err, errlen, "%s:%d: malformed line (expected "
			    "\"key = value\" or \"[section]\")", path, lineno);
			goto out;
		}
		k = p;
		v = skipblank(q + 1);
		while (q > k && isws((unsigned char)q[-1]))
			q--;
		*q = '\0';
		trimright(v);
		if (*k == '\0') {
			seterr(err, errlen, "%s:%d: empty key", path, lineno);
			goto out;
		}
		if (!validkey(k)) {
			seterr(err, errlen, "%s:%d: malformed key \"%s\" "
			    "(letters, digits, '_', '-', '.')", path, lineno, k);
			goto out;
		}
		if (!sect) {
			seterr(err, errlen, "%s:%d: key \"%s\" outside a "
			    "section; put it under a [section] header", path,
			    lineno, k);
			goto out;
		}
		for (size_t i = 0; i < ne; i++)
			if (strcmp(e[i].key, k) == 0 &&
			    strcmp(e[i].section, sect) == 0) {
				seterr(err, errlen, "%s:%d: duplicate key \"%s\" "
				    "in [%s] (first set on line %d)", path,
				    lineno, k, sect, e[i].line);
				goto out;
			}
		if (ne == ecap) {
			ecap = ecap ? 2 * ecap : 32;
			e = gb_realloc(e, ecap * sizeof *e);
		}
		e[ne].section = gb_strdup(sect);
		e[ne].key = gb_strdup(k);
		e[ne].value = gb_strdup(v);
		e[ne].line = lineno;
		ne++;
	}
	if (ferror(f)) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}

	/* Entries, then the hidden section list and its end marker. */
	e = gb_realloc(e, (ne + ns + 1) * sizeof *e);
	if (ns)
		memcpy(e + ne, s, ns * sizeof *s);
	memset(e + ne + ns, 0, sizeof *e);
	free(s);
	s = NULL;
	ns = 0;
	c->path = gb_strdup(path);
	c->e = e;
	c->n = ne;
	e = NULL;
	ne = 0;
	r = 0;
out:
	freeents(e, ne);
	freeents(s, ns);
	free(sect);
	free(line);
	fclose(f);
	return r;
}

void
gb_conf_free(struct gb_conf *c)
{
	size_t n;

	if (!c)
		return;
	if (c->e) {
		for (n = c->n; c->e[n].section; n++)
			;
		freeents(c->e, n);
	}
	free(c->path);
	memset(c, 0, sizeof *c);
}

const char *
gb_conf_get(const struct gb_conf *c, const char *section, const char *key)
{
	if (!c || !c->e)
		return NULL;
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->e[i].key, key) == 0 &&
		    strcmp(c->e[i].section, section) == 0)
			return c->e[i].value;
	return NULL;
}

const char *
gb_conf_next_section(const struct gb_conf *c, const char *type, size_t *it)
{
	size_t tl = strlen(type);

	if (!c || !c->e)
		return NULL;
	/* *it counts hidden section entries, so it stays valid as a cursor. */
	for (const struct gb_conf_entry *s = c->e + c->n + *it; s->section;
	    s++) {
		(*it)++;
		if (strncmp(s->section, type, tl) == 0 && s->section[tl] == ' ')
			return s->section + tl + 1;
	}
	return NULL;
}

int
gb_conf_section_line(const struct gb_conf *c, const char *section)
{
	if (!c || !c->e)
		return 0;
	for (const struct gb_conf_entry *s = c->e + c->n; s->section; s++)
		if (strcmp(s->section, section) == 0)
			return s->line;
	return 0;
}

/* A header's line is 1 or more: it is found where it has one. */
int
gb_conf_has_section(const struct gb_conf *c, const char *section)
{
	return gb_conf_section_line(c, section) > 0;
}

/*
 * The kinds of section gymbackup.conf(5) knows: a typo in a header would
 * otherwise make a whole section vanish while every tool says OK.
 */
int
gb_conf_check_sections(const struct gb_conf *c, char *err, size_t errlen)
{
	static const char *const plain[] = { "site", "source", "keys",
	    "catalog", "spool", "check" };
	static const char *const named[] = { "table", "pool", "job" };
	size_t i, n;

	if (!c || !c->e)
		return 0;
	for (const struct gb_conf_entry *s = c->e + c->n; s->section; s++) {
		for (i = 0; i < sizeof plain / sizeof *plain; i++)
			if (strcmp(s->section, plain[i]) == 0)
				break;
		if (i < sizeof plain / sizeof *plain)
			continue;
		for (i = 0; i < sizeof named / sizeof *named; i++) {
			n = strlen(named[i]);
			if (strncmp(s->section, named[i], n) == 0 &&
			    s->section[n] == ' ')
				break;
		}
		if (i < sizeof named / sizeof *named)
			continue;
		seterr(err, errlen, "%s:%d: unknown section [%s] (known: "
		    "[site], [source], [keys], [catalog], [spool], [check], "
		    "[table NAME], [pool NAME], [job NAME])", c->path, s->line,
		    s->section);
		return -1;
	}
	return 0;
}

const char *
gb_conf_open(struct gb_conf *c, const char *opt)
{
	const char *path = gb_conf_path(opt);
	char why[512];

	if (path && (gb_conf_load(c, path, why, sizeof why) == -1 ||
	    gb_conf_check_sections(c, why, sizeof why) == -1))
		gb_errx(GB_EXIT_USAGE, "config: %s", why);
	return path;
}

const char *
gb_host_name(void)
{
	static char host[256];

	if (gethostname(host, sizeof host) == -1)
		strcpy(host, "localhost");
	host[sizeof host - 1] = '\0';
	return host;
}

const char *
gb_site_name(const struct gb_conf *c)
{
	const char *site = gb_conf_get(c, "site", "name");

	return site && *site ? site : gb_host_name();
}
