/* manifest.c - MANIFEST writer and reader (gb-manifest(5)) */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "gb.h"

/*
 * "-" stands for an absent value, so a real "-" is written "\-".  A space
 * ending a field is written "\s": clear-signed text (the seal) does not
 * protect trailing white space.
 */
static void
put_field(struct gb_out *o, const char *s)
{
	gb_out_putc(o, '\t');
	if (!s) {
		gb_out_putc(o, '-');
		return;
	}
	if (strcmp(s, "-") == 0) {
		gb_out_write(o, "\\-", 2);
		return;
	}
	for (; *s; s++)
		switch (*s) {
		case '\t': gb_out_write(o, "\\t", 2); break;
		case '\n': gb_out_write(o, "\\n", 2); break;
		case '\r': gb_out_write(o, "\\r", 2); break;
		case '\\': gb_out_write(o, "\\\\", 2); break;
		case ' ':
			if (s[1] == '\0') {
				gb_out_write(o, "\\s", 2);
				break;
			}
			/* FALLTHROUGH */
		default: gb_out_putc(o, *s);
		}
}

/* A line: the field name, then each string argument (NULL for "-"). */
static void
put_line(struct gb_out *o, const char *field, int n, ...)
{
	va_list ap;

	gb_out_write(o, field, strlen(field));
	va_start(ap, n);
	while (n-- > 0)
		put_field(o, va_arg(ap, const char *));
	va_end(ap);
	gb_out_putc(o, '\n');
}

int
gb_manifest_write(const struct gb_manifest *m, struct gb_out *o)
{
	char num[32], num2[32];
	int v2 = 0;

	/* Deletes an older reader would skip: it must refuse the set. */
	for (size_t i = 0; i < m->ntables; i++)
		v2 |= m->tables[i].change != NULL;
	gb_out_write(o, v2 ? "format\tgymbackup-manifest\t2\n" :
	    "format\tgymbackup-manifest\t1\n", 28);
	put_line(o, "creator", 1, m->creator ? m->creator :
	    "gymbackup " GB_VERSION);
	put_line(o, "site", 1, m->site);
	put_line(o, "job", 1, m->job);
	put_line(o, "level", 1, m->level);
	put_line(o, "id", 1, m->id);
	put_line(o, "base", 1, m->base);
	put_line(o, "source", 2, m->source_kind, m->source_name);
	put_line(o, "snapshot", 1, m->snapshot);
	snprintf(num, sizeof num, "%" PRIu64, m->schema_bytes);
	put_line(o, "schema", 3, "SCHEMA.sql", num, m->schema_sha256);
	snprintf(num, sizeof num, "%zu", m->ntables);
	put_line(o, "tables", 1, num);
	for (size_t i = 0; i < m->ntables; i++) {
		const struct gb_mtable *t = &m->tables[i];
		put_line(o, "table", 2, t->name, t->file);
		snprintf(num, sizeof num, "%" PRIu64, t->rows);
		put_line(o, "rows", 2, t->name, num);
		snprintf(num, sizeof num, "%" PRIu64, t->bytes);
		put_line(o, "bytes", 2, t->name, num);
		put_line(o, "sha256", 2, t->name, t->sha256);
		put_line(o, "key", 2, t->name, t->key && *t->key ? t->key : NULL);
		if (t->wm_column)
			put_line(o, "watermark", 5, t->name, t->wm_column,
			    t->wm_type, t->wm_from, t->wm_to);
		for (size_t k = 0; k < t->nmoney; k++) {
			snprintf(num, sizeof num, "%" PRId64, t->money[k].sum);
			put_line(o, "money", 3, t->name, t->money[k].column, num);
		}
		if (t->change)
			put_line(o, "change", 2, t->name, t->change);
		if (t->del) {
			snprintf(num, sizeof num, "%" PRIu64, t->del->rows);
			snprintf(num2, sizeof num2, "%" PRIu64, t->del->bytes);
			put_line(o, "deletes", 5, t->name, t->del->file, num, num2,
			    t->del->sha256);
		}
		if (t->has_total) {
			snprintf(num, sizeof num, "%" PRIu64, t->total_rows);
			put_line(o, "total", 3, t->name, num, t->total_sha256);
			for (size_t k = 0; k < t->nmoney; k++) {
				snprintf(num, sizeof num, "%" PRId64,
				    t->total_money[k].sum);
				put_line(o, "total-money", 3, t->name,
				    t->money[k].column, num);
			}
		}
	}
	gb_out_write(o, "end\n", 4);
	return o->err ? -1 : 0;
}

/* Splits a line into unescaped fields in place; "-" becomes NULL. */
static size_t
split(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *p = line;

	while (n < max) {
		char *start = p, *w = p;
		int raw_dash;
		while (*p && *p != '\t') {
			if (*p == '\\' && p[1]) {
				p++;
				switch (*p) {
				case 't': *w++ = '\t'; break;
				case 'n': *w++ = '\n'; break;
				case 'r': *w++ = '\r'; break;
				case 's': *w++ = ' '; break;
				default: *w++ = *p;	/* \\ and \- */
				}
				p++;
			} else
				*w++ = *p++;
		}
		raw_dash = p - start == 1 && *start == '-';
		int more = *p == '\t';
		*w = '\0';
		f[n++] = raw_dash ? NULL : start;
		if (!more)
			break;
		p++;
	}
	return n;
}

static int
parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

static int
parse_i64(const char *s, int64_t *v)
{
	char *end;

	if (!s || !*s)
		return -1;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno || *end ? -1 : 0;
}

static int
is_sha256(const char *s)
{
	return s && strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

static char *
dup_or_null(const char *s)
{
	return s ? gb_strdup(s) : NULL;
}

struct gb_mtable *
gb_manifest_add_table(struct gb_manifest *m, const char *name)
{
	struct gb_mtable *t;

	m->tables = gb_realloc(m->tables, (m->ntables + 1) * sizeof *t);
	t = &m->tables[m->ntables++];
	memset(t, 0, sizeof *t);
	t->name = gb_strdup(name);
	return t;
}

struct gb_mtable *
gb_manifest_table(const struct gb_manifest *m, const char *name)
{
	for (size_t i = 0; i < m->ntables; i++)
		if (strcmp(m->tables[i].name, name) == 0)
			return &m->tables[i];
	return NULL;
}

#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); goto fail; } while (0)

int
gb_manifest_read(struct gb_manifest *m, FILE *fp, char *err, size_t errlen)
{
	char *line = NULL, *f[8];
	size_t cap = 0, n;
	ssize_t len;
	uint64_t ntables = 0;
	int lineno = 0, ended = 0;

	memset(m, 0, sizeof *m);
	while (!ended && (len = getline(&line, &cap, fp)) != -1) {
		struct gb_mtable *t = NULL;
		char **slot = NULL;

		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (memchr(line, '\0', (size_t)len))
			BAD("line %d: NUL byte", lineno);
		n = split(line, f, 8);
		if (lineno == 1) {
			if (n != 3 || !f[0] || strcmp(f[0], "format") ||
			    !f[1] || strcmp(f[1], "gymbackup-manifest"))
				BAD("not a gymbackup manifest");
			if (!f[2] || (strcmp(f[2], "1") && strcmp(f[2], "2")))
				BAD("manifest format %s is not supported "
				    "(this is gymbackup " GB_VERSION ", formats 1 "
				    "and 2)", f[2] ? f[2] : "-");
			m->format = f[2][0] - '0';
			continue;
		}
		if (!f[0])
			BAD("line %d: no field name", lineno);
		if (strcmp(f[0], "end") == 0) {
			ended = 1;
			continue;
		}
		if (strcmp(f[0], "table") == 0) {
			if (n != 3 || !f[1] || !f[2])
				BAD("line %d: table needs a name and a file", lineno);
			if (gb_manifest_table(m, f[1]))
				BAD("line %d: table %s listed twice", lineno, f[1]);
			t = gb_manifest_add_table(m, f[1]);
			t->file = gb_strdup(f[2]);
			continue;
		}
		/* Top-level fields: one value (source: two). */
		if (strcmp(f[0], "creator") == 0) slot = &m->creator;
		else if (strcmp(f[0], "site") == 0) slot = &m->site;
		else if (strcmp(f[0], "job") == 0) slot = &m->job;
		else if (strcmp(f[0], "level") == 0) slot = &m->level;
		else if (strcmp(f[0], "id") == 0) slot = &m->id;
		else if (strcmp(f[0], "base") == 0) slot = &m->base;
		else if (strcmp(f[0], "snapshot") == 0) slot = &m->snapshot;
		if (slot) {
			if (n != 2)
				BAD("line %d: %s needs one value", lineno, f[0]);
			free(*slot);
			*slot = dup_or_null(f[1]);
			continue;
		}
		if (strcmp(f[0], "source") == 0) {
			if (n != 3 || !f[1])
				BAD("line %d: source needs a kind and a name", lineno);
			free(m->source_kind);
			free(m->source_name);
			m->source_kind = gb_strdup(f[1]);
			m->source_name = dup_or_null(f[2]);
			continue;
		}
		if (strcmp(f[0], "schema") == 0) {
			if (n != 4 || !f[1] || strcmp(f[1], "SCHEMA.sql") ||
			    parse_u64(f[2], &m->schema_bytes) || !is_sha256(f[3]))
				BAD("line %d: bad schema line", lineno);
			memcpy(m->schema_sha256, f[3], 65);
			continue;
		}
		if (strcmp(f[0], "tables") == 0) {
			if (n != 2 || parse_u64(f[1], &ntables))
				BAD("line %d: bad table count", lineno);
			continue;
		}
		/* Per-table fields name a table listed before. */
		if (strcmp(f[0], "rows") && strcmp(f[0], "bytes") &&
		    strcmp(f[0], "sha256") && strcmp(f[0], "key") &&
		    strcmp(f[0], "watermark") && strcmp(f[0], "money") &&
		    (m->format < 2 || (strcmp(f[0], "change") &&
		    strcmp(f[0], "deletes") && strcmp(f[0], "total") &&
		    strcmp(f[0], "total-money"))))
			continue;	/* unknown field of format 1: ignored */
		if (n < 3 || !f[1] || !(t = gb_manifest_table(m, f[1])))
			BAD("line %d: %s of a table not listed before", lineno,
			    f[0]);
		if (strcmp(f[0], "rows") == 0) {
			if (n != 3 || parse_u64(f[2], &t->rows))
				BAD("line %d: bad row count", lineno);
		} else if (strcmp(f[0], "bytes") == 0) {
			if (n != 3 || parse_u64(f[2], &t->bytes))
				BAD("line %d: bad byte count", lineno);
		} else if (strcmp(f[0], "sha256") == 0) {
			if (n != 3 || !is_sha256(f[2]))
				BAD("line %d: bad sha256", lineno);
			memcpy(t->sha256, f[2], 65);
		} else if (strcmp(f[0], "key") == 0) {
			if (n != 3)
				BAD("line %d: bad key", lineno);
			free(t->key);
			t->key = gb_strdup(f[2] ? f[2] : "");
		} else if (strcmp(f[0], "watermark") == 0) {
			if (n != 6 || !f[2] || !f[3])
				BAD("line %d: watermark needs column, type, "
				    "from and to", lineno);
			free(t->wm_column);
			free(t->wm_type);
			free(t->wm_from);
			free(t->wm_to);
			t->wm_column = gb_strdup(f[2]);
			t->wm_type = gb_strdup(f[3]);
			t->wm_from = dup_or_null(f[4]);
			t->wm_to = dup_or_null(f[5]);
		} else if (strcmp(f[0], "change") == 0) {
			if (n != 3 || !f[2] || (strcmp(f[2], "delta") &&
			    strcmp(f[2], "whole")) || t->change)
				BAD("line %d: bad change", lineno);
			t->change = gb_strdup(f[2]);
		} else if (strcmp(f[0], "deletes") == 0) {
			struct gb_mtable *d;
			if (n != 6 || !f[2] || t->del)
				BAD("line %d: bad deletes", lineno);
			d = t->del = gb_calloc(1, sizeof *d);
			d->name = gb_strdup(t->name);
			d->file = gb_strdup(f[2]);
			if (parse_u64(f[3], &d->rows) || parse_u64(f[4], &d->bytes) ||
			    !is_sha256(f[5]))
				BAD("line %d: bad deletes", lineno);
			memcpy(d->sha256, f[5], 65);
		} else if (strcmp(f[0], "total") == 0) {
			if (n != 4 || parse_u64(f[2], &t->total_rows) ||
			    !is_sha256(f[3]) || t->has_total)
				BAD("line %d: bad total", lineno);
			memcpy(t->total_sha256, f[3], 65);
			t->has_total = 1;
		} else if (strcmp(f[0], "total-money") == 0) {
			size_t k;
			for (k = 0; k < t->nmoney; k++)
				if (f[2] && strcmp(t->money[k].column, f[2]) == 0)
					break;
			if (n != 4 || k == t->nmoney || !t->has_total)
				BAD("line %d: total-money of no money column "
				    "after total", lineno);
			if (!t->total_money)
				t->total_money = gb_calloc(t->nmoney,
				    sizeof *t->total_money);
			if (parse_i64(f[3], &t->total_money[k].sum))
				BAD("line %d: bad money sum", lineno);
		} else {	/* money */
			if (t->has_total)
				BAD("line %d: money after total", lineno);
			struct gb_money *mo;
			if (n != 4 || !f[2])
				BAD("line %d: money needs column and sum", lineno);
			t->money = gb_realloc(t->money,
			    (t->nmoney + 1) * sizeof *t->money);
			mo = &t->money[t->nmoney++];
			mo->column = gb_strdup(f[2]);
			if (parse_i64(f[3], &mo->sum))
				BAD("line %d: bad money sum", lineno);
		}
	}
	if (ferror(fp))
		BAD("read error: %s", strerror(errno));
	if (lineno == 0)
		BAD("empty manifest");
	if (!ended)
		BAD("manifest ends without \"end\" (truncated?)");
	if (!m->site || !m->level || !m->id || !m->snapshot ||
	    !m->source_kind || !m->schema_sha256[0])
		BAD("manifest lacks site, level, id, snapshot, source or schema");
	if (strcmp(m->level, "full") && strcmp(m->level, "incremental"))
		BAD("unknown level %s", m->level);
	if (ntables != m->ntables)
		BAD("manifest says %" PRIu64 " tables but lists %zu", ntables,
		    m->ntables);
	for (size_t i = 0; i < m->ntables; i++) {
		struct gb_mtable *t = &m->tables[i];
		if (!t->sha256[0])
			BAD("table %s has no sha256", t->name);
		if (t->change && strcmp(m->level, "incremental"))
			BAD("table %s: a full has no change line", t->name);
		if ((t->del != NULL) != (t->change &&
		    strcmp(t->change, "delta") == 0))
			BAD("table %s: a delta has deletes, nothing else has",
			    t->name);
		if (t->del) {
			if (!t->key || !*t->key)
				BAD("table %s: deletes without a key", t->name);
			t->del->key = gb_strdup(t->key);
			for (size_t k = 0; k < 2 * m->ntables; k++) {
				const struct gb_mtable *o = gb_manifest_file(m, k);
				if (o && o != t->del && strcmp(o->file,
				    t->del->file) == 0)
					BAD("file %s listed twice", o->file);
			}
		}
		if (t->has_total && !t->total_money && t->nmoney)
			t->total_money = gb_calloc(t->nmoney,
			    sizeof *t->total_money);
	}
	free(line);
	return 0;
fail:
	free(line);
	gb_manifest_free(m);
	return -1;
}

int
gb_manifest_load(struct gb_manifest *m, const char *path, char *err,
    size_t errlen)
{
	FILE *fp = fopen(path, "r");
	char why[256];
	int r;

	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	r = gb_manifest_read(m, fp, why, sizeof why);
	fclose(fp);
	if (r)
		snprintf(err, errlen, "%s: %s", path, why);
	return r;
}

void
gb_manifest_free(struct gb_manifest *m)
{
	for (size_t i = 0; i < m->ntables; i++) {
		struct gb_mtable *t = &m->tables[i];
		free(t->name);
		free(t->file);
		free(t->key);
		free(t->wm_column);
		free(t->wm_type);
		free(t->wm_from);
		free(t->wm_to);
		for (size_t k = 0; k < t->nmoney; k++)
			free(t->money[k].column);
		free(t->money);
		free(t->change);
		free(t->total_money);
		if (t->del) {
			free(t->del->name);
			free(t->del->file);
			free(t->del->key);
			free(t->del);
		}
	}
	free(m->tables);
	free(m->site);
	free(m->job);
	free(m->level);
	free(m->id);
	free(m->base);
	free(m->source_kind);
	free(m->source_name);
	free(m->snapshot);
	free(m->creator);
	memset(m, 0, sizeof *m);
}

const struct gb_mtable *
gb_manifest_file(const struct gb_manifest *m, size_t i)
{
	return i < m->ntables ? &m->tables[i] : i < 2 * m->ntables ?
	    m->tables[i - m->ntables].del : NULL;
}

/* '+' is escaped in a table's file name: TABLE+deleted.csv is no table's. */
char *
gb_deletes_filename(const char *table)
{
	char *f = gb_table_filename(table), *d;

	f[strlen(f) - 4] = '\0';
	d = gb_asprintf("%s+deleted.csv", f);
	free(f);
	return d;
}

char *
gb_table_filename(const char *table)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(table);
	char *out = gb_malloc(3 * n + 5), *w = out;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)table[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		    (c == '.' && i > 0))
			*w++ = (char)c;
		else {
			*w++ = '%';
			*w++ = hex[c >> 4];
			*w++ = hex[c & 15];
		}
	}
	memcpy(w, ".csv", 5);
	return out;
}

time_t
gb_parse_time(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	if (!strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return 0;
	return timegm(&tm);
}

void
gb_fmt_time(char buf[21], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
