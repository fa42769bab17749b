/*
 * fuzz-ddl.c - a SCHEMA.sql (gb_ddl_parse), in SQLite's dialect or, when
 * the first byte is odd, PostgreSQL's.  Every statement that parses must
 * parse alone to itself (same kind, same name); SQLite's are then run in
 * a database in memory as gb-verify --deep runs them, and PostgreSQL's
 * "-- sqlite:" lines parsed as SQLite's.
 */
#include "fuzz.h"

static void
reparse(int pg, const struct gb_ddl *d)
{
	struct gb_ddl *again;
	size_t n;
	char err[256];

	if (d->at >= strlen(d->text) || !d->name)
		abort();
	if (gb_ddl_parse(pg, d->text, strlen(d->text), &again, &n, err,
	    sizeof err) == -1 || n != 1 || again->kind != d->kind ||
	    strcmp(again->name, d->name) != 0 || !again->on != !d->on ||
	    (d->on && strcmp(again->on, d->on) != 0))
		abort();
	gb_ddl_free(again, n);
	free(gb_ddl_if_not_exists(d));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gb_ddl *d;
	size_t n;
	char err[256], *sql;
	int pg, r;

	if (size < 1)
		return 0;
	pg = data[0] & 1;
	sql = gb_strndup((const char *)data + 1, size - 1);
	r = gb_ddl_parse(pg, sql, size - 1, &d, &n, err, sizeof err);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz-ddl: %s, %zu statements%s%s\n", pg ?
		    "postgresql" : "sqlite", r == 0 ? n : 0, r == 0 ? "" : ": ",
		    r == 0 ? "" : err);
	if (r == 0) {
		for (size_t i = 0; i < n; i++)
			reparse(pg, &d[i]);
		gb_ddl_free(d, n);
		if (pg) {
			char *lite = gb_pg_sqlite_ddl(sql);
			if (gb_ddl_parse(0, lite, strlen(lite), &d, &n, err,
			    sizeof err) == 0) {
				if (getenv("FUZZ_VERBOSE"))
					fprintf(stderr, "fuzz-ddl: its sqlite "
					    "lines, %zu statements\n", n);
				gb_ddl_free(d, n);
			}
			free(lite);
		} else {
			sqlite3 *db;
			if (sqlite3_open(":memory:", &db) != SQLITE_OK)
				abort();
			if (gb_ddl_parse(0, sql, size - 1, &d, &n, err,
			    sizeof err) == 0) {
				if (gb_sqlite_ddl_run(db, d, n, -1, err,
				    sizeof err) == 0)
					(void)gb_sqlite_ddl_run(db, d, n, 1, err,
					    sizeof err);
				gb_ddl_free(d, n);
			}
			sqlite3_close(db);
		}
	}
	free(sql);
	return 0;
}
