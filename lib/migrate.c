/*
 * migrate.c - the catalog moved: to a newer schema in place (upgrade), or
 * from a SQLite file into an empty PostgreSQL catalog (migrate), each in
 * one transaction, every row and the audit chains as they were.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gb.h"
#include "gb-db.h"

/* Every table with rows, parents first: upgrade and migrate copy these. */
static const char *const tables[] = { "media", "movements", "archives",
    "archive_tables", "copies", "runs", "checks", "audit", "checkpoints" };
#define NTABLES (sizeof tables / sizeof *tables)

/*
 * An upgrade sets the old tables aside (SQLite: renamed gb_old_NAME, with
 * their indexes and triggers dropped, whose names the new ones take;
 * PostgreSQL: moved to the schema gb_old, with theirs), makes the new
 * schema, copies the rows over, and drops what was set aside.  Rows that
 * had no site get the catalog's; an archive's tables (a site of their
 * own since version 3) get their archive's, whose name was unique then.
 */
static void
set_aside(struct gb_catalog *c, const char *table)
{
	char *sql = c->pg ? gb_asprintf("ALTER TABLE %s SET SCHEMA gb_old",
	    table) : gb_asprintf("ALTER TABLE %s RENAME TO gb_old_%s", table,
	    table);

	gb_catalog_exec(c, sql);
	free(sql);
}

/* Copies the rows of the old table into the new one: the common columns. */
static void
copy_rows(struct gb_catalog *c, const char *table)
{
	char **old = gb_catalog_columns(c, table, 1), **now = gb_catalog_columns(c, table, 0);
	const char *aside = c->pg ? "gb_old." : "gb_old_";
	char *cols = gb_strdup(""), *sql, *site = NULL;

	if (gb_list_has(now, "site") && !gb_list_has(old, "site"))
		site = strcmp(table, "archive_tables") == 0 ? gb_asprintf(
		    "coalesce((SELECT a.site FROM %sarchives a WHERE a.name = "
		    "o.archive), CAST(?1 AS TEXT))", aside) :
		    gb_strdup("CAST(?1 AS TEXT)");

	for (size_t i = 0; old[i]; i++) {
		if (!gb_list_has(now, old[i]))
			continue;
		sql = gb_asprintf("%s%s%s", cols, *cols ? ", " : "", old[i]);
		free(cols);
		cols = sql;
	}
	sql = gb_asprintf("INSERT INTO %s(%s%s) SELECT %s%s%s FROM %s%s o",
	    table, cols, site ? ", site" : "", cols, site ? ", " : "", site ?
	    site : "", aside, table);
	gb_catalog_run(c, sql, !!site, c->site);
	free(sql);
	free(site);
	free(cols);
	gb_list_free(old);
	gb_list_free(now);
}

/*
 * PostgreSQL: an id column numbers on from the highest id copied in (an
 * identity does not see the ids given it).
 */
static void
renumber(struct gb_catalog *c, const char *table)
{
	char *sql;

	if (!c->pg)
		return;
	sql = gb_asprintf("SELECT setval(pg_get_serial_sequence('%s', 'id'), "
	    "max(id)) FROM %s HAVING max(id) IS NOT NULL", table, table);
	gb_catalog_exec(c, sql);
	free(sql);
}

static int
has_id(struct gb_catalog *c, const char *table)
{
	char **v = gb_catalog_columns(c, table, 0);
	int r = gb_list_has(v, "id") && strcmp(table, "media") != 0;

	gb_list_free(v);
	return r;
}

/*
 * An archive is the site's that recorded its copies: before version 3 it
 * kept its manifest's, which a SQLite host whose [site] name came or
 * changed later does not share.  The old rows take their copies' site
 * before they are copied (PostgreSQL checks the keys at each statement);
 * an archive whose copies have two sites (the host renamed between them)
 * gets a row, and its tables, at each, added before the copies.
 */
static char *
copy_sites(struct gb_catalog *c)
{
	char **v = gb_catalog_columns(c, "copies", 1);
	char *k = gb_asprintf("(SELECT DISTINCT %s AS site, archive FROM "
	    "%scopies)", gb_list_has(v, "site") ? "site" : "CAST(?1 AS TEXT)",
	    c->pg ? "gb_old." : "gb_old_");

	gb_list_free(v);
	return k;
}

static void
archives_to_copies(struct gb_catalog *c)
{
	const char *o = c->pg ? "gb_old." : "gb_old_";
	char *k = copy_sites(c);
	char *sql = gb_asprintf("UPDATE %sarchives SET site = (SELECT "
	    "min(k.site) FROM %s k WHERE k.archive = %sarchives.name) WHERE "
	    "EXISTS (SELECT 1 FROM %s k WHERE k.archive = %sarchives.name AND "
	    "k.site <> %sarchives.site)", o, k, o, k, o, o);

	gb_catalog_run(c, sql, !!strstr(k, "?1"), c->site);
	free(sql);
	free(k);
}

static void
archives_at_copies(struct gb_catalog *c)
{
	char *k = copy_sites(c);
	char *cols = gb_catalog_select_at(c, "archives", "k.site");
	char *sql = gb_asprintf("INSERT INTO archives SELECT %s FROM archives "
	    "a JOIN %s k ON k.archive = a.name AND k.site <> a.site", cols, k);

	gb_catalog_run(c, sql, !!strstr(k, "?1"), c->site);
	free(sql);
	free(cols);
	cols = gb_catalog_select_at(c, "archive_tables", "x.site");
	sql = gb_asprintf("INSERT INTO archive_tables SELECT %s FROM "
	    "archive_tables a JOIN archives x ON x.name = a.archive AND "
	    "x.site <> a.site", cols);
	gb_catalog_exec(c, sql);
	free(sql);
	free(cols);
	free(k);
}

void
gb_catalog_upgrade(struct gb_catalog *c)
{
	int aside[NTABLES] = { 0 };
	struct gb_stmt *st;
	char **drop = NULL;
	size_t ndrop = 0;

	/* SQLite: the old tables' keys hold each other up until the COMMIT */
	gb_catalog_exec(c, c->pg ? "CREATE SCHEMA gb_old" :
	    "PRAGMA defer_foreign_keys = ON");
	for (size_t i = 0; i < NTABLES; i++)
		if ((aside[i] = gb_catalog_has_table(c, tables[i])))
			set_aside(c, tables[i]);
	if (c->pg)
		set_aside(c, "catalog_version");
	else {
		st = gb_catalog_prepare(c, "SELECT type, name FROM sqlite_schema "
		    "WHERE type IN ('index', 'trigger') AND sql IS NOT NULL AND "
		    "substr(tbl_name, 1, 7) = 'gb_old_'");
		while (gb_step(st) == GB_ROW) {
			drop = gb_realloc(drop, (ndrop + 1) * sizeof *drop);
			drop[ndrop++] = gb_asprintf("DROP %s \"%s\"", gb_col(st, 0),
			    gb_col(st, 1));
		}
		gb_finalize(st);
		for (size_t i = 0; i < ndrop; i++) {
			gb_catalog_exec(c, drop[i]);
			free(drop[i]);
		}
		free(drop);
	}
	archives_to_copies(c);
	gb_catalog_create(c);
	for (size_t i = 0; i < NTABLES; i++)
		if (aside[i]) {
			if (strcmp(tables[i], "copies") == 0)
				archives_at_copies(c);
			copy_rows(c, tables[i]);
			if (has_id(c, tables[i]))
				renumber(c, tables[i]);
		}
	if (c->pg)
		gb_catalog_exec(c, "DROP SCHEMA gb_old CASCADE");
	else
		for (size_t i = NTABLES; i-- > 0;)
			if (aside[i]) {
				char *sql = gb_asprintf("DROP TABLE gb_old_%s",
				    tables[i]);
				gb_catalog_exec(c, sql);
				free(sql);
			}
}


/* The rows of a table. */
static long long
count_rows(struct gb_catalog *c, const char *table)
{
	char *sql = gb_asprintf("SELECT count(*) FROM %s", table);
	struct gb_stmt *st = gb_catalog_prepare(c, sql);
	long long n = gb_step(st) == GB_ROW ? gb_col_int64(st, 0) : 0;

	gb_finalize(st);
	free(sql);
	return n;
}

/* Copies the rows of table from one catalog to the other: how many. */
static long long
copy_table(struct gb_catalog *from, struct gb_catalog *to, const char *table)
{
	char **src = gb_catalog_columns(from, table, 0);
	char **dst = gb_catalog_columns(to, table, 0);
	char *cols = gb_strdup(""), *args = gb_strdup(""), *sql, *t;
	struct gb_stmt *get, *put;
	long long n = 0;
	int k = 0;

	for (size_t i = 0; src[i]; i++) {
		if (!gb_list_has(dst, src[i]))
			continue;
		t = gb_asprintf("%s%s%s", cols, k ? ", " : "", src[i]);
		free(cols);
		cols = t;
		t = gb_asprintf("%s%s?%d", args, k ? ", " : "", k + 1);
		free(args);
		args = t;
		k++;
	}
	/* in the order they were written: a chain entry after its prev */
	sql = gb_asprintf("SELECT %s FROM %s%s", cols, table, strcmp(table,
	    "audit") == 0 ? " ORDER BY site, seq" : gb_list_has(src, "id") &&
	    strcmp(table, "media") != 0 ? " ORDER BY id" : "");
	get = gb_catalog_prepare(from, sql);
	free(sql);
	sql = gb_asprintf("INSERT INTO %s(%s) VALUES(%s)", table, cols, args);
	put = gb_catalog_prepare(to, sql);
	free(sql);
	while (gb_step(get) == GB_ROW) {
		gb_reset(put);
		for (int i = 0; i < k; i++)
			gb_bind_text(put, i + 1, gb_col_text(get, i));
		gb_step(put);
		n++;
	}
	gb_finalize(get);
	gb_finalize(put);
	if (gb_list_has(dst, "id") && strcmp(table, "media") != 0)
		renumber(to, table);
	free(cols);
	free(args);
	gb_list_free(src);
	gb_list_free(dst);
	return n;
}

/* The copy, in one transaction of to's (gb_catalog_txn: it may run again). */
static void
migrate(struct gb_catalog *to, void *arg)
{
	struct gb_catalog *from = arg;
	struct gb_stmt *st;
	char *bad = NULL;

	for (size_t i = 0; i < NTABLES; i++)
		if (count_rows(to, tables[i]) > 0)
			gb_errx(GB_EXIT_USAGE, "catalog %s is not empty (%s has "
			    "rows): migrate copies into an empty catalog only",
			    to->path, tables[i]);
	for (size_t i = 0; i < NTABLES; i++)
		if (gb_catalog_has_table(from, tables[i]))
			gb_catalog_printf("%-15s %lld\n", tables[i],
			    copy_table(from, to, tables[i]));
	/* each site's chain as it was: its entries and head on both sides */
	st = gb_catalog_prepare(from, "SELECT DISTINCT site FROM audit ORDER "
	    "BY site");
	while (gb_step(st) == GB_ROW) {
		char h1[65], h2[65], e1[256] = "", e2[256];
		long long n1, n2;
		int r1 = gb_catalog_audit_head(from, gb_col(st, 0), &n1, h1, e1,
		    sizeof e1);
		int r2 = gb_catalog_audit_head(to, gb_col(st, 0), &n2, h2, e2,
		    sizeof e2);
		if (n1 != n2 || r1 != r2 || strcmp(h1, h2) != 0) {
			/* said with the error that ends the program */
			char *b = gb_asprintf("%s%saudit trail of site %s: %lld "
			    "entries, head %s in %s; %lld, head %s in %s", bad ?
			    bad : "", bad ? "; " : "", gb_col(st, 0), n1, h1,
			    from->path, n2, h2, to->path);
			free(bad);
			bad = b;
		} else
			gb_catalog_printf("audit trail of site %s: %lld "
			    "entries, head %s%s%s\n", gb_col(st, 0), n1, h1, r1 ?
			    ", BROKEN as in the source: " : "", e1);
	}
	gb_finalize(st);
	if (bad)
		gb_errx(GB_EXIT_RUN, "catalog %s: the copy differs: %s; nothing "
		    "migrated", to->path, bad);
}

int
gb_catalog_migrate(struct gb_catalog *from, struct gb_catalog *to)
{
	if (gb_catalog_is_pg(from) || !gb_catalog_is_pg(to))
		gb_errx(GB_EXIT_USAGE, "migrate copies a SQLite catalog into "
		    "PostgreSQL: the catalog is %s, --to %s", from->path, to->path);
	/*
	 * Read as it is, an older file shows an archive at its copies' site
	 * (archives_view in catalog.c); one whose copies have two sites,
	 * which upgrade gives a row at each, has no one site to copy.
	 */
	if (from->version < GB_CATALOG_VERSION) {
		struct gb_stmt *st = gb_catalog_prepare(from, "SELECT a.name FROM "
		    "archives a WHERE EXISTS (SELECT 1 FROM copies k WHERE "
		    "k.archive = a.name AND k.site <> a.site) ORDER BY a.name");
		if (gb_step(st) == GB_ROW)
			gb_errx(GB_EXIT_USAGE, "catalog %s (version %d): archive %s "
			    "is of another site than its copies; bring the catalog "
			    "to version %d first (gb-catalog upgrade), then migrate "
			    "it", from->path, from->version, gb_col(st, 0),
			    GB_CATALOG_VERSION);
		gb_finalize(st);
	}
	gb_catalog_txn(to, migrate, from);
	return GB_EXIT_OK;
}
