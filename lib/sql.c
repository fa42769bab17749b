/*
 * sql.c - SQL as text, for both dialects: names quoted, comments skipped,
 * and SCHEMA.sql split into statements by a lexer per dialect and held
 * to what the export writes.  Errors return -1 and why; only running out
 * of memory (here: an SQLite database in memory that cannot be opened or
 * read) ends the program, as gb_malloc does.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>

#include "gb.h"
#include "gb-db.h"

/* "name" with embedded quotes doubled: a safe SQL identifier. */
char *
gb_quote_ident(const char *name)
{
	size_t n = strlen(name), k = 0;
	char *q = gb_malloc(2 * n + 3);

	q[k++] = '"';
	for (size_t i = 0; i < n; i++) {
		if (name[i] == '"')
			q[k++] = '"';
		q[k++] = name[i];
	}
	q[k++] = '"';
	q[k] = '\0';
	return q;
}

/* "schema"."table": a table for SQL, from its two parts (malloc'd). */
char *
gb_sql_rel(const char *schema, const char *table)
{
	char *qs = gb_quote_ident(schema), *qt = gb_quote_ident(table), *r;

	r = gb_asprintf("%s.%s", qs, qt);
	free(qs);
	free(qt);
	return r;
}

/* A MANIFEST's key ("a,b") as quoted names, "a", "b"; "" for none. */
char *
gb_sql_keys(const char *key)
{
	char *keys = gb_strdup(""), *kv = gb_strdup(key ? key : ""), *tok,
	    *save, *x;

	for (tok = strtok_r(kv, ",", &save); tok; tok = strtok_r(NULL, ",",
	    &save)) {
		char *qk = gb_quote_ident(tok);
		x = gb_asprintf("%s%s%s", keys, *keys ? ", " : "", qk);
		free(keys);
		free(qk);
		keys = x;
	}
	free(kv);
	return keys;
}

/*
 * The count of a table's rows (rel as gb_sql_rel), or (wm_column set)
 * of those whose wm_column is above the parameter param ("?1", "$1").
 */
char *
gb_sql_count(const char *rel, const char *wm_column, const char *param)
{
	char *qc, *sql;

	if (!wm_column)
		return gb_asprintf("SELECT count(*) FROM %s", rel);
	qc = gb_quote_ident(wm_column);
	sql = gb_asprintf("SELECT count(*) FROM %s WHERE %s > %s", rel, qc,
	    param);
	free(qc);
	return sql;
}

/* Past white space and SQL comments. */
const char *
gb_sql_skip(const char *s)
{
	for (;;) {
		s += strspn(s, " \t\r\n");
		if (s[0] == '-' && s[1] == '-')
			s += strcspn(s, "\n");
		else if (s[0] == '/' && s[1] == '*') {
			const char *e = strstr(s + 2, "*/");
			s = e ? e + 2 : s + strlen(s);
		} else
			return s;
	}
}

/*
 * SQLite's column affinity from a declared type, by its rules: 'i'
 * INTEGER, 't' TEXT, 'b' BLOB (or no type), 'r' REAL, 'n' NUMERIC.
 */
char
gb_sql_affinity(const char *decl)
{
	char *u = gb_strdup(decl ? decl : ""), a;

	for (char *p = u; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	if (strstr(u, "INT"))
		a = 'i';
	else if (strstr(u, "CHAR") || strstr(u, "CLOB") || strstr(u, "TEXT"))
		a = 't';
	else if (strstr(u, "BLOB") || !*u)
		a = 'b';
	else if (strstr(u, "REAL") || strstr(u, "FLOA") || strstr(u, "DOUB"))
		a = 'r';
	else
		a = 'n';
	free(u);
	return a;
}

/*
 * Lines of s, each after "-- sqlite: ".  PostgreSQL ends a -- comment at
 * a CR as well: one in s (a name may hold one) is followed by "-- sqlite+ "
 * so that the rest of the line stays a comment (gb_pg_sqlite_ddl takes it
 * off again).
 */
void
gb_pg_put_lite(struct gb_out *o, const char *s)
{
	while (*s) {
		size_t n = strcspn(s, "\n");
		gb_out_write(o, "-- sqlite: ", 11);
		for (size_t i = 0; i < n; i++) {
			gb_out_putc(o, s[i]);
			if (s[i] == '\r')
				gb_out_write(o, "-- sqlite+ ", 11);
		}
		gb_out_putc(o, '\n');
		s += n + (s[n] == '\n');
	}
}

/*
 * The SQLite dialect inside a PostgreSQL export's SCHEMA.sql: its
 * "-- sqlite: " lines, prefix taken off (malloc'd).
 */
char *
gb_pg_sqlite_ddl(const char *sql)
{
	size_t len = 0;
	char *out = gb_malloc(strlen(sql) + 1);

	while (*sql) {
		size_t n = strcspn(sql, "\n");
		if (strncmp(sql, "-- sqlite: ", 11) == 0 && n >= 11) {
			for (size_t i = 11; i < n; i++) {
				out[len++] = sql[i];
				/* gb_pg_put_lite's mark after a CR */
				if (sql[i] == '\r' && n - i > 11 &&
				    strncmp(sql + i + 1, "-- sqlite+ ", 11) == 0)
					i += 11;
			}
			out[len++] = '\n';
		}
		sql += n + (sql[n] == '\n');
	}
	out[len] = '\0';
	return out;
}

/* ------------------------------------------------ SCHEMA.sql accepted */

/*
 * The statements of a SCHEMA.sql, split by a lexer that knows the quoting
 * of the dialect (SQLite: '' "" `` [], comments not nested; PostgreSQL:
 * '' E'' U&'' "" U&"" $tag$, nested comments), and each held to a form
 * the export writes.  Everything else is refused before any of it runs:
 * a restore role with rights enough to make tables must never run what a
 * table name or a source's schema text smuggles in.
 */
struct tok {
	const char *s;
	size_t n;
	int kind;	/* 'w' word, 'i' quoted name, 's' string, 'p', 0 end */
};

static int
identchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '$' || c >= 0x80;
}

/* Past a quoted token opened at s[0]; NULL when it does not end. */
static const char *
quoted_end(const char *s, char close, int backslash)
{
	for (s++; *s; s++) {
		if (backslash && *s == '\\' && s[1])
			s++;
		else if (*s == close) {
			if (s[1] != close || close == ']')
				return s + 1;
			s++;
		}
	}
	return NULL;
}

/* The next token from *pp; -1 at a quote or comment that does not end. */
static int
next_tok(int pg, const char **pp, struct tok *t)
{
	const char *s = *pp, *e;
	unsigned char c;

	for (;;) {
		s += strspn(s, " \t\r\n\f");
		if (s[0] == '-' && s[1] == '-')	/* PostgreSQL ends it at \r too */
			s += strcspn(s, pg ? "\r\n" : "\n");
		else if (s[0] == '/' && s[1] == '*') {
			int depth = 1;
			for (s += 2; *s && depth; )
				if (pg && s[0] == '/' && s[1] == '*') {
					depth++;
					s += 2;
				} else if (s[0] == '*' && s[1] == '/') {
					depth--;
					s += 2;
				} else
					s++;
			if (depth)
				return -1;
		} else
			break;
	}
	t->s = s;
	c = (unsigned char)*s;
	t->kind = 's';
	if (!c) {
		t->kind = 0;
		e = s;
	} else if (pg && (c == 'E' || c == 'e') && s[1] == '\'')
		e = quoted_end(s + 1, '\'', 1);
	else if (pg && (c == 'U' || c == 'u') && s[1] == '&' &&
	    (s[2] == '\'' || s[2] == '"')) {
		t->kind = s[2] == '"' ? 'i' : 's';
		e = quoted_end(s + 2, s[2], 0);
	} else if (c == '\'')
		e = quoted_end(s, '\'', 0);
	else if (c == '"' || (!pg && c == '`')) {
		t->kind = 'i';
		e = quoted_end(s, (char)c, 0);
	} else if (!pg && c == '[') {
		t->kind = 'i';
		e = quoted_end(s, ']', 0);
	} else if (pg && c == '$' && (s[1] == '$' || (identchar(
	    (unsigned char)s[1]) && !(s[1] >= '0' && s[1] <= '9')))) {
		/* $tag$ ... $tag$: the tag has no $ and starts no digit */
		const char *tag = s + 1;
		char *close;
		while (*tag != '$' && identchar((unsigned char)*tag))
			tag++;
		if (*tag != '$') {
			t->kind = 'w';		/* a word: $ starts no quote */
			e = tag;
		} else {
			close = gb_strndup(s, (size_t)(tag + 1 - s));
			e = strstr(tag + 1, close);
			e = e ? e + strlen(close) : NULL;
			free(close);
		}
	} else if (identchar(c)) {
		t->kind = 'w';
		for (e = s; identchar((unsigned char)*e); e++)
			/* PostgreSQL: 1e'..' is 1 and an E'' string */
			if (pg && c >= '0' && c <= '9' && (*e == 'e' ||
			    *e == 'E') && e[1] == '\'')
				break;
	} else {
		t->kind = 'p';
		e = s + 1;
	}
	if (!e)
		return -1;
	t->n = (size_t)(e - s);
	*pp = e;
	return 0;
}

char *
gb_sql_pg_params(const char *sql, int *max)
{
	const char *p = sql, *from = sql;
	size_t nq = 0;
	char *out, *o;
	struct tok t;
	int next = 1;

	for (const char *q = sql; *q; q++)
		nq += *q == '?';
	o = out = gb_malloc(strlen(sql) + 16 * nq + 1);	/* ? to $N::text */
	*max = 0;
	/* an unterminated quote or comment: the rest as it is, the server's */
	while (next_tok(1, &p, &t) == 0 && t.kind) {
		int n = next;
		if (t.kind != 'p' || *t.s != '?')
			continue;
		memcpy(o, from, (size_t)(t.s - from));
		o += t.s - from;
		if (*p >= '0' && *p <= '9')
			n = (int)strtol(p, (char **)&p, 10);
		next = n + 1;
		if (n > *max)
			*max = n;
		o += sprintf(o, "$%d%s", n, strncasecmp(p + strspn(p, " "),
		    "IS ", 3) == 0 ? "::text" : "");
		from = p;
	}
	strcpy(o, from);
	return out;
}

static int
is_word(const struct tok *t, const char *w)
{
	return t->kind == 'w' && strlen(w) == t->n &&
	    strncasecmp(t->s, w, t->n) == 0;
}

static int
is_punct(const struct tok *t, char c)
{
	return t->kind == 'p' && t->s[0] == c;
}

/* A name: a word or a quoted name (SQLite takes a string as a name too). */
static int
is_name(int pg, const struct tok *t)
{
	return t->kind == 'w' || t->kind == 'i' || (!pg && t->kind == 's' &&
	    t->s[0] == '\'');
}

/* A name token as its plain text (quotes off, doubled ones single). */
static char *
name_text(const struct tok *t)
{
	char *v = gb_malloc(t->n + 1), close;
	size_t k = 0, i = 0, n = t->n;

	if (t->kind == 'w') {
		memcpy(v, t->s, n);
		v[n] = '\0';
		return v;
	}
	if (t->s[0] == 'U' || t->s[0] == 'u')
		i = 2;
	close = t->s[i] == '[' ? ']' : t->s[i];
	for (i++; i + 1 < n; i++) {
		v[k++] = t->s[i];
		if (t->s[i] == close && close != ']')
			i++;
	}
	v[k] = '\0';
	return v;
}

/* The index past the ')' that closes the '(' at v[i], or 0. */
static size_t
close_paren(const struct tok *v, size_t n, size_t i)
{
	int depth = 0;

	for (; i < n; i++) {
		if (is_punct(&v[i], '('))
			depth++;
		else if (is_punct(&v[i], ')') && --depth == 0)
			return i + 1;
	}
	return 0;
}

/* A statement for a message: its first bytes, control characters as '?' */
static void
shown(char *buf, size_t len, const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 4 < len && i < 72; i++)
		buf[k++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' :
		    s[i];
	if (n > 72 && k + 4 < len) {
		memcpy(buf + k, "...", 3);
		k += 3;
	}
	buf[k] = '\0';
}

/* v[0..n) is one statement: its form, or 0 when it is none we take. */
static int
ddl_form(int pg, const struct tok *v, size_t n, size_t *name)
{
	size_t i = 1, j;

	if (n < 3 || !is_word(&v[0], "CREATE")) {
		/* SET search_path = "schema", PostgreSQL's only */
		if (pg && n == 4 && is_word(&v[0], "SET") &&
		    is_word(&v[1], "search_path") && is_punct(&v[2], '=') &&
		    is_name(pg, &v[3])) {
			*name = 3;
			return GB_DDL_PATH;
		}
		return 0;
	}
	if (pg && n == 6 && is_word(&v[1], "SCHEMA") && is_word(&v[2], "IF") &&
	    is_word(&v[3], "NOT") && is_word(&v[4], "EXISTS") &&
	    is_name(pg, &v[5])) {
		*name = 5;
		return GB_DDL_SCHEMA;
	}
	if (is_word(&v[1], "TABLE")) {
		/* CREATE TABLE name (...) [WITHOUT ROWID] [, STRICT] */
		if (n < 5 || !is_name(pg, &v[2]) || !is_punct(&v[3], '(') ||
		    !(j = close_paren(v, n, 3)))
			return 0;
		for (; j < n; j++)
			if (pg || !(is_word(&v[j], "WITHOUT") ||
			    is_word(&v[j], "ROWID") || is_word(&v[j], "STRICT") ||
			    is_punct(&v[j], ',')))
				return 0;
		*name = 2;
		return GB_DDL_TABLE;
	}
	if (!pg && is_word(&v[1], "VIRTUAL")) {
		/* CREATE VIRTUAL TABLE name USING fts5(...), own content */
		if (n < 8 || !is_word(&v[2], "TABLE") || !is_name(pg, &v[3]) ||
		    !is_word(&v[4], "USING") || !is_word(&v[5], "fts5") ||
		    !is_punct(&v[6], '(') || close_paren(v, n, 6) != n)
			return 0;
		for (j = 7; j + 1 < n; j++)
			if ((is_word(&v[j], "content") ||
			    is_word(&v[j], "content_rowid") ||
			    is_word(&v[j], "contentless_delete")) &&
			    is_punct(&v[j + 1], '='))
				return 0;
		*name = 3;
		return GB_DDL_VTABLE;
	}
	if (is_word(&v[1], "UNIQUE"))
		i++;
	/* CREATE [UNIQUE] INDEX name ON [ONLY] table ... */
	if (n < i + 5 || !is_word(&v[i], "INDEX") || !is_name(pg, &v[i + 1]) ||
	    !is_word(&v[i + 2], "ON"))
		return 0;
	j = i + 3;
	if (pg && is_word(&v[j], "ONLY"))
		j++;
	if (j + 1 >= n || !is_name(pg, &v[j]))
		return 0;
	/* PostgreSQL: USING method (...); SQLite: (...) */
	if (pg && (j + 3 >= n || !is_word(&v[j + 1], "USING") ||
	    v[j + 2].kind != 'w' || !is_punct(&v[j + 3], '(')))
		return 0;
	if (!pg && !is_punct(&v[j + 1], '('))
		return 0;
	*name = i + 1;
	return GB_DDL_INDEX;
}

void
gb_ddl_free(struct gb_ddl *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].text);
		free(v[i].name);
		free(v[i].on);
	}
	free(v);
}

int
gb_ddl_parse(int pg, const char *sql, size_t len, struct gb_ddl **out,
    size_t *nout, char *err, size_t errlen)
{
	struct gb_ddl *d = NULL;
	struct tok *v = NULL;
	size_t nd = 0, nv = 0, cap = 0;
	const char *p = sql;
	char buf[100];

	*out = NULL;
	*nout = 0;
	if (strlen(sql) != len) {
		snprintf(err, errlen, "SCHEMA.sql: holds a NUL byte");
		return -1;
	}
	for (;;) {
		struct tok t;
		size_t name;
		int kind;

		if (next_tok(pg, &p, &t) == -1) {
			snprintf(err, errlen, "SCHEMA.sql: a quote or comment "
			    "that does not end, from byte %zu", (size_t)(p -
			    sql));
			goto fail;
		}
		if (t.kind && !is_punct(&t, ';')) {
			if (nv == cap) {
				cap = cap ? 2 * cap : 64;
				v = gb_realloc(v, cap * sizeof *v);
			}
			v[nv++] = t;
			continue;
		}
		if (nv > 0) {
			const char *end = v[nv - 1].s + v[nv - 1].n;
			if (!(kind = ddl_form(pg, v, nv, &name))) {
				shown(buf, sizeof buf, v[0].s, (size_t)(end -
				    v[0].s));
				snprintf(err, errlen, "SCHEMA.sql: refused "
				    "statement (the export writes only %s): %s",
				    pg ? "CREATE SCHEMA IF NOT EXISTS, SET "
				    "search_path, CREATE TABLE and CREATE INDEX" :
				    "CREATE TABLE, CREATE INDEX and CREATE "
				    "VIRTUAL TABLE ... USING fts5", buf);
				goto fail;
			}
			d = gb_realloc(d, (nd + 1) * sizeof *d);
			d[nd].kind = kind;
			d[nd].text = gb_strndup(v[0].s, (size_t)(end - v[0].s));
			d[nd].at = (size_t)(v[name].s - v[0].s);
			d[nd].name = name_text(&v[name]);
			d[nd].on = NULL;
			if (kind == GB_DDL_INDEX)	/* the table it is on */
				d[nd].on = name_text(&v[name + 2 + (pg &&
				    is_word(&v[name + 2], "ONLY"))]);
			/* PostgreSQL folds a bare name to lower case */
			for (char *c = d[nd].name; pg && v[name].kind == 'w' &&
			    *c; c++)
				if (*c >= 'A' && *c <= 'Z')
					*c = (char)(*c - 'A' + 'a');
			nd++;
			nv = 0;
		}
		if (!t.kind)
			break;
	}
	free(v);
	*out = d;
	*nout = nd;
	return 0;
fail:
	free(v);
	gb_ddl_free(d, nd);
	return -1;
}

char *
gb_ddl_if_not_exists(const struct gb_ddl *d)
{
	if (d->kind == GB_DDL_SCHEMA || d->kind == GB_DDL_PATH)
		return gb_strdup(d->text);
	return gb_asprintf("%.*sIF NOT EXISTS %s", (int)d->at, d->text,
	    d->text + d->at);
}

/*
 * SQLite DDL run in a database in memory, as a restore runs it: tables
 * first, indexes after.  Returns 0 or -1 with why.
 */
int
gb_sqlite_ddl_run(sqlite3 *db, const struct gb_ddl *d, size_t n, int indexes,
    char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		char *sql;
		sqlite3_stmt *st;
		const char *tail;
		int rc;

		if ((d[i].kind == GB_DDL_INDEX) != (indexes > 0))
			continue;
		if (indexes < 0 && d[i].kind != GB_DDL_INDEX) {
			/*
			 * A fresh database: a table there already is made twice,
			 * or is a shadow table of a virtual one (whose rows its
			 * own content makes anew).
			 */
			int there;
			if (sqlite3_prepare_v2(db, "SELECT count(*) FROM "
			    "sqlite_schema WHERE name = ?1 COLLATE NOCASE", -1, &st,
			    NULL) != SQLITE_OK)
				gb_errx(GB_EXIT_RUN, "sqlite3: %s", sqlite3_errmsg(db));
			sqlite3_bind_text(st, 1, d[i].name, -1, SQLITE_STATIC);
			there = sqlite3_step(st) == SQLITE_ROW &&
			    sqlite3_column_int(st, 0) > 0;
			sqlite3_finalize(st);
			if (there) {
				char buf[100];
				shown(buf, sizeof buf, d[i].name, strlen(d[i].name));
				snprintf(err, errlen, "SCHEMA.sql: table %s is made "
				    "twice, or is a shadow table of a virtual table",
				    buf);
				return -1;
			}
		}
		sql = gb_ddl_if_not_exists(&d[i]);
		/* one statement, whole: the lexer and SQLite agree on it */
		rc = sqlite3_prepare_v2(db, sql, -1, &st, &tail);
		if (rc == SQLITE_OK && (!st || *gb_sql_skip(tail))) {
			snprintf(err, errlen, "SCHEMA.sql: not one statement: "
			    "%.60s", d[i].text);
			sqlite3_finalize(st);
			free(sql);
			return -1;
		}
		if (rc == SQLITE_OK)
			rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK :
			    SQLITE_ERROR;
		sqlite3_finalize(st);
		free(sql);
		if (rc != SQLITE_OK) {
			snprintf(err, errlen, "SCHEMA.sql: %s",
			    sqlite3_errmsg(db));
			return -1;
		}
	}
	return 0;
}

int
gb_schema_check(const struct gb_manifest *m, const char *sql, size_t len,
    int into_sqlite, char *err, size_t errlen)
{
	struct gb_ddl *d;
	size_t n;
	char *lite = NULL;
	sqlite3 *db;
	int r, pg = strcmp(m->source_kind, "postgresql") == 0;

	if (pg) {
		if (gb_ddl_parse(1, sql, len, &d, &n, err, errlen) == -1)
			return -1;
		gb_ddl_free(d, n);
		sql = lite = gb_pg_sqlite_ddl(sql);
		len = strlen(lite);
	}
	r = gb_ddl_parse(0, sql, len, &d, &n, err, errlen);
	free(lite);
	if (r == -1)
		return -1;
	if (pg && !into_sqlite) {
		/* SQLite refuses what PostgreSQL allows ("ID" beside id) */
		gb_ddl_free(d, n);
		return 0;
	}
	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		gb_errx(GB_EXIT_RUN, "sqlite3: out of memory");
	r = gb_sqlite_ddl_run(db, d, n, -1, err, errlen) == -1 ||
	    gb_sqlite_ddl_run(db, d, n, 1, err, errlen) == -1 ? -1 : 0;
	sqlite3_close(db);
	gb_ddl_free(d, n);
	return r;
}
