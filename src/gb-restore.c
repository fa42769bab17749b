/*
 * gb-restore - bring sealed archives back: to a directory (the export
 * set), or into a new SQLite database (a full, then its incrementals in
 * chain order), or as the restore drill (--test) into a scratch database.
 * Every seal is verified before anything is read; each sealed file is
 * read once, its bytes hashed as they are decrypted; its hash and the
 * inner signature are checked before anything is made usable: output is
 * built under a temporary name (a database in one transaction) and
 * renamed into place only when every archive checked, and taken away
 * again when its directory cannot be synced.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gb.h"

struct archive_in {
	char *path;		/* the .tar.gz.gpg */
	struct gb_seal seal;
};

struct restore {
	const char *confpath;
	struct gb_conf conf;
	const char *signer;
	const char *outdir;
	const char *target;	/* sqlite:PATH or a PostgreSQL connection */
	const char *pgschema;	/* --schema: PostgreSQL's tables all go there */
	struct gb_target t;	/* -d or --test: the target, t.t NULL if none */
	int test, verbose;
	const char **media;	/* --media: the archives are on these */
	size_t nmedia;
	struct gb_medium *medium;
	char **from;		/* per archive path: the medium it is on */
	char **argv;		/* ... those paths */
	size_t nfrom;
	struct archive_in *in;	/* in chain order once ordered */
	size_t nin;
	int mismatch;		/* a table differs from its MANIFEST */
	int failures;
};

static void
usage(FILE *fp, int status)
{
	fprintf(fp, "usage: gb-restore [-qv] [-c conf] [--signer fpr] "
	    "[--media media]\n"
	    "                  --test | -o dir | -d target archive ...\n"
	    "       gb-restore [-qv] [-c conf] [--signer fpr] [--media media] "
	    "[--test]\n"
	    "                  -d postgresql://... [--schema name] "
	    "archive ...\n");
	exit(status);
}

/* Verifies every seal, then puts the archives in chain order. */
static void
load_and_order(struct restore *r, char **args, size_t n)
{
	struct archive_in *in = gb_calloc(n, sizeof *in);
	struct archive_in **order = gb_calloc(n, sizeof *order);
	size_t full = n;

	for (size_t i = 0; i < n; i++) {
		char *sealpath = gb_seal_path(args[i]), err[1024];
		const char *base;
		struct stat sb;
		int rc;

		in[i].path = gb_archive_path(args[i]);
		if (strcmp(sealpath, in[i].path) == 0)
			gb_errx(GB_EXIT_USAGE, "%s: not an archive (.tar.gz.gpg) "
			    "or a seal (.seal)", args[i]);
		rc = gb_seal_load(&in[i].seal, sealpath, r->signer, err,
		    sizeof err);
		if (rc)
			gb_errx(rc == -2 ? GB_EXIT_RUN : GB_EXIT_CHECK, "%s; "
			    "nothing restored", err);
		base = strrchr(in[i].path, '/') ? strrchr(in[i].path, '/') + 1 :
		    in[i].path;
		if (strcmp(base, in[i].seal.archive) != 0)
			gb_errx(GB_EXIT_CHECK, "%s: the seal is of %s; nothing "
			    "restored", sealpath, in[i].seal.archive);
		/*
		 * The size, early; the hash is of the bytes decrypted, taken
		 * as they are read (gb_walk_archive): hashing the file now
		 * would prove nothing about what is read later.
		 */
		if (stat(in[i].path, &sb) == -1)
			gb_err(GB_EXIT_RUN, "cannot read %s", in[i].path);
		if ((uint64_t)sb.st_size != in[i].seal.size)
			gb_errx(GB_EXIT_CHECK, "%s: size or SHA-256 differs from "
			    "its seal (truncated or altered); nothing restored",
			    in[i].path);
		if (strcmp(in[i].seal.manifest.level, "full") == 0) {
			if (full != n)
				gb_errx(GB_EXIT_USAGE, "%s and %s are both full "
				    "exports; restore one chain at a time",
				    in[full].path, in[i].path);
			full = i;
		}
		free(sealpath);
	}
	if (full == n)
		gb_errx(GB_EXIT_USAGE, "no full export among the archives; an "
		    "incremental needs the full it builds on");
	order[0] = &in[full];
	for (size_t k = 1; k < n; k++) {
		const struct gb_manifest *prev = &order[k - 1]->seal.manifest;
		size_t next = n;
		for (size_t i = 0; i < n; i++) {
			const struct gb_manifest *m = &in[i].seal.manifest;
			if (m->base && strcmp(m->base, prev->id) == 0) {
				if (next != n)
					gb_errx(GB_EXIT_USAGE, "%s and %s both build "
					    "on %s; give one chain", in[next].path,
					    in[i].path, prev->id);
				next = i;
			}
		}
		if (next == n)
			gb_errx(GB_EXIT_USAGE, "the chain has a gap: no archive "
			    "builds on %s (%s)", prev->id, order[k - 1]->path);
		if (strcmp(in[next].seal.manifest.site, prev->site) ||
		    strcmp(in[next].seal.manifest.source_name ?
		    in[next].seal.manifest.source_name : "",
		    prev->source_name ? prev->source_name : ""))
			gb_errx(GB_EXIT_USAGE, "%s is from another site or source",
			    in[next].path);
		order[k] = &in[next];
	}
	r->in = gb_calloc(n, sizeof *r->in);
	for (size_t k = 0; k < n; k++)
		r->in[k] = *order[k];
	r->nin = n;
	free(order);
	free(in);
}

/*
 * SCHEMA.sql into the target, whichever dialect each side speaks; first
 * held to what the export writes, as gb-verify --deep holds it.
 */
static int
make_schema(struct restore *r, const struct gb_manifest *m, const char *sql,
    size_t len, char *err, size_t errlen)
{
	if (gb_schema_check(m, sql, len, err, errlen) == -1)
		return -1;
	return r->t.schema(r->t.t, m, sql, len, err, errlen);
}

/* Where restore_one puts what the walk of one archive reads. */
struct into {
	struct restore *r;
	struct archive_in *a;
	const char *dir;	/* -o: the export set's directory */
};

/* A file of the set in the directory, 0600; -2 when it cannot be made. */
static int
create_in(struct into *t, const char *name, char **path, int *fd, char *err,
    size_t errlen)
{
	*path = gb_asprintf("%s/%s", t->dir, name);
	*fd = open(*path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (*fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", *path,
		    strerror(errno));
		return -2;
	}
	gb_cleanup_add(*path);
	return 0;
}

static int
close_in(int fd, const char *path, int status, char *err, size_t errlen)
{
	if (status == 0 && (fsync(fd) == -1 || close(fd) == -1)) {
		snprintf(err, errlen, "cannot write %s: %s", path,
		    strerror(errno));
		return -2;
	}
	if (status != 0)
		close(fd);
	return status;
}

/* MANIFEST and SCHEMA.sql, checked: into the directory, or the schema. */
static int
into_small(void *arg, const char *name, const char *buf, size_t n,
    char *err, size_t errlen)
{
	struct into *t = arg;
	struct restore *r = t->r;
	char *path;
	int fd, status;

	if (t->dir) {
		if ((status = create_in(t, name, &path, &fd, err, errlen)) == 0 &&
		    gb_write_all(fd, buf, n) == -1) {
			snprintf(err, errlen, "cannot write %s: %s", path,
			    strerror(errno));
			status = -2;
		}
		status = fd >= 0 ? close_in(fd, path, status, err, errlen) :
		    status;
		free(path);
		return status;
	}
	if (strcmp(name, "SCHEMA.sql") == 0 && r->t.t)
		return make_schema(r, &t->a->seal.manifest, buf, n, err,
		    errlen);
	return 0;
}

/* A table's CSV, checked as it streams: to a file, or loaded. */
static int
into_table(void *arg, size_t i, struct gb_unpack *u, char *err,
    size_t errlen)
{
	struct into *t = arg;
	struct restore *r = t->r;
	const struct gb_manifest *m = &t->a->seal.manifest;
	const struct gb_mtable *mt = &m->tables[i];
	char *path = NULL;
	int fd = -1, status = 0;

	if (t->dir && (status = create_in(t, mt->file, &path, &fd, err,
	    errlen)) != 0) {
		free(path);
		return status;
	}
	if (t->dir)
		status = gb_check_table(mt, gb_unpack_read, u, fd, NULL, NULL,
		    err, errlen);
	else
		status = r->t.load(r->t.t, m, mt, gb_unpack_read, u, err,
		    errlen);
	if (status == -1)
		r->mismatch = 1;
	if (fd >= 0)
		status = close_in(fd, path, status, err, errlen);
	free(path);
	if (status == 0 && r->verbose) {
		gb_progress_clear();
		fprintf(stderr, "gb-restore: %s: %s: %" PRIu64 " rows\n",
		    t->a->seal.archive, mt->name, mt->rows);
	}
	return status;
}

/* A list of deleted keys, checked as it streams: to a file, or applied. */
static int
into_deletes(void *arg, size_t i, struct gb_unpack *u, char *err,
    size_t errlen)
{
	struct into *t = arg;
	struct restore *r = t->r;
	const struct gb_manifest *m = &t->a->seal.manifest;
	const struct gb_mtable *mt = &m->tables[i];
	char *path = NULL;
	int fd = -1, status = 0;

	if (t->dir && (status = create_in(t, mt->del->file, &path, &fd, err,
	    errlen)) != 0) {
		free(path);
		return status;
	}
	if (t->dir)
		status = gb_check_table(mt->del, gb_unpack_read, u, fd, NULL,
		    NULL, err, errlen);
	else
		status = r->t.deletes(r->t.t, m, mt, gb_unpack_read, u, err,
		    errlen);
	if (status == -1)
		r->mismatch = 1;
	if (fd >= 0)
		status = close_in(fd, path, status, err, errlen);
	free(path);
	if (status == 0 && r->verbose) {
		gb_progress_clear();
		fprintf(stderr, "gb-restore: %s: %s: %" PRIu64 " rows deleted\n",
		    t->a->seal.archive, mt->name, mt->del->rows);
	}
	return status;
}

/* Reads one archive into the database or directory; 0, -1 or -2 and why. */
static int
restore_one(struct restore *r, struct archive_in *a, const char *dir,
    char *err, size_t errlen)
{
	struct into t = { r, a, dir };
	struct gb_walk w = { into_small, into_table, &t, into_deletes };

	return gb_walk_archive(a->path, &a->seal, r->signer, &w, err, errlen);
}

/*
 * The drill's proof: what the database now holds, exported again the way
 * gb-export does, hashes to what the MANIFEST says (a full: every row;
 * an exact incremental: the whole table at its snapshot; an older one:
 * the rows past its watermark).
 */
static int
test_tables(struct restore *r, const struct gb_manifest *m)
{
	int bad = 0, devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

	for (size_t i = 0; i < m->ntables; i++) {
		const struct gb_mtable *mt = &m->tables[i];
		struct gb_mtable got = { 0 };
		struct gb_dump d = { 0 };
		struct gb_out o;
		char hex[65], err[1024];
		const char *want_sha;
		int ok;

		d.money = gb_calloc(mt->nmoney + 1, sizeof *d.money);
		for (size_t k = 0; k < mt->nmoney; k++)
			d.money[k] = mt->money[k].column;
		d.nmoney = mt->nmoney;
		if (mt->wm_column && mt->wm_from && !mt->change) {
			d.wm_column = mt->wm_column;
			d.wm_type = mt->wm_type;
			d.wm_from = mt->wm_from;
		}
		if (mt->has_total && mt->key && *mt->key) {
			/* in key order, as the export hashed the whole table */
			char *keys = gb_strdup(mt->key), *k, *sv;
			d.key = gb_calloc(strlen(keys) + 2, sizeof *d.key);
			for (k = strtok_r(keys, ",", &sv); k; k = strtok_r(NULL,
			    ",", &sv))
				d.key[d.nkey++] = gb_strdup(k);
			free(keys);
		}
		gb_out_init(&o, devnull, 1);
		if (r->t.dump(r->t.t, m, mt, &d, &o, &got, err, sizeof err))
			gb_errx(GB_EXIT_RUN, "%s", err);
		gb_out_finish(&o, hex);
		if (mt->has_total) {
			want_sha = mt->total_sha256;
			ok = got.rows == mt->total_rows &&
			    strcmp(hex, want_sha) == 0;
			for (size_t k = 0; k < mt->nmoney; k++)
				ok = ok && got.money[k].sum ==
				    mt->total_money[k].sum;
		} else {
			want_sha = mt->sha256;
			ok = got.rows == mt->rows && o.bytes == mt->bytes &&
			    strcmp(hex, want_sha) == 0;
			for (size_t k = 0; k < mt->nmoney; k++)
				ok = ok && got.money[k].sum == mt->money[k].sum;
		}
		printf("%s: %s %s: %" PRIu64 " rows, sha256 %s, money sums %s\n",
		    ok ? "OK" : "FAIL", m->id, mt->name, got.rows,
		    strcmp(hex, want_sha) == 0 ? "match" : "DIFFER",
		    ok ? "match" : "checked");
		gb_free_strv(d.key);
		bad += !ok;
		for (size_t k = 0; k < got.nmoney; k++)
			free(got.money[k].column);
		free(got.money);
		free(d.money);
	}
	close(devnull);
	return bad;
}

/*
 * The rows in a table of the target now (past 1: only those above the
 * watermark the incremental was cut from); -1 when it is not there.
 */
static int64_t
target_rows(struct restore *r, const struct gb_manifest *m,
    const struct gb_mtable *mt, int past)
{
	char err[1024];
	int64_t n;

	if (r->t.rows(r->t.t, m, mt, past, &n, err, sizeof err))
		gb_errx(GB_EXIT_RUN, "%s", err);
	return n;
}

/*
 * After -d, the rows the target holds against the MANIFEST, table by
 * table.  A full: exactly its rows.  An incremental holds upserts and no
 * deletions, so the table lost none, gained at most the incremental's
 * rows, held at least them, and (with a watermark) holds exactly its rows
 * past the watermark it was cut from.  before: the counts before it.
 */
static void
check_rows(struct restore *r, const struct archive_in *a,
    const int64_t *before)
{
	const struct gb_manifest *m = &a->seal.manifest;

	for (size_t i = 0; i < m->ntables; i++) {
		const struct gb_mtable *mt = &m->tables[i];
		int64_t got = target_rows(r, m, mt, 0), past = -1;
		int64_t want = (int64_t)mt->rows;
		int ok;

		if (mt->has_total)	/* an exact incremental: the whole table */
			ok = got == (int64_t)mt->total_rows;
		else if (!before || (mt->change && strcmp(mt->change,
		    "whole") == 0))
			ok = got == want;
		else {
			ok = got >= before[i] && got <= before[i] + want &&
			    got >= want;
			if (ok && mt->wm_column && mt->wm_from)
				ok = (past = target_rows(r, m, mt, 1)) == want;
		}
		if (ok)
			continue;
		if (past >= 0)
			gb_errx(GB_EXIT_CHECK, "%s: table %s: %" PRId64 " rows "
			    "past the watermark in the target after loading, the "
			    "MANIFEST says %" PRId64 "; nothing restored", a->path,
			    mt->name, past, want);
		if (mt->has_total)
			gb_errx(GB_EXIT_CHECK, "%s: table %s: %" PRId64 " rows in "
			    "the target after loading, the source held %" PRIu64
			    " at the snapshot; nothing restored", a->path,
			    mt->name, got, mt->total_rows);
		if (before)
			gb_errx(GB_EXIT_CHECK, "%s: table %s: %" PRId64 " rows in "
			    "the target after loading (%" PRId64 " before), which "
			    "the MANIFEST's %" PRId64 " upserted rows do not "
			    "account for; nothing restored", a->path, mt->name,
			    got, before[i], want);
		gb_errx(GB_EXIT_CHECK, "%s: table %s: %" PRId64 " rows in the "
		    "target after loading, the MANIFEST says %" PRId64 "; "
		    "nothing restored", a->path, mt->name, got, want);
	}
}

/* -d or --test: the target, chosen once. */
static void
open_target(struct restore *r)
{
	char err[1024];
	int rc;

	if (r->target && gb_pg_is_conninfo(r->target))
		rc = gb_restore_pg_open(&r->t, r->target, r->pgschema, r->test,
		    err, sizeof err);
	else if (r->test)
		rc = gb_restore_sqlite_open(&r->t, NULL, err, sizeof err);
	else if (strncmp(r->target, "sqlite:", 7) != 0 || !r->target[7])
		gb_errx(GB_EXIT_USAGE, "%s: unknown target; use sqlite:PATH or "
		    "a PostgreSQL URI (postgresql://...)", r->target);
	else
		rc = gb_restore_sqlite_open(&r->t, r->target + 7, err,
		    sizeof err);
	if (rc)
		gb_errx(rc == -1 ? GB_EXIT_USAGE : GB_EXIT_RUN, "%s", err);
}

/* Indexes and commit: the output usable (the drill's rolled back). */
static void
finish_target(struct restore *r)
{
	char err[1024];

	if (r->t.finish(r->t.t, err, sizeof err))
		gb_errx(GB_EXIT_RUN, "%s", err);
}

static void
restore_dirs(struct restore *r)
{
	struct stat sb;
	char *tmp, err[1024];

	if (lstat(r->outdir, &sb) == 0)
		gb_errx(GB_EXIT_USAGE, "%s exists; restore into a new directory",
		    r->outdir);
	tmp = gb_tmp_template("%s.tmp", r->outdir);
	if (gb_mktemp(tmp, 1) == -1)
		gb_err(GB_EXIT_RUN, "cannot create %s", tmp);
	for (size_t i = 0; i < r->nin; i++) {
		char *dir = tmp;
		int rc;
		if (r->nin > 1) {	/* one export set per archive */
			dir = gb_asprintf("%s/%.*s", tmp, (int)(strlen(
			    r->in[i].seal.archive) - strlen(".tar.gz.gpg")),
			    r->in[i].seal.archive);
			if (mkdir(dir, 0700) == -1)
				gb_err(GB_EXIT_RUN, "cannot create %s", dir);
			gb_cleanup_add(dir);
		}
		if ((rc = restore_one(r, &r->in[i], dir, err, sizeof err)))
			gb_errx(rc == -2 ? GB_EXIT_RUN : GB_EXIT_CHECK, "%s: %s; "
			    "nothing restored", r->in[i].path, err);
		if (dir != tmp)
			free(dir);
	}
	if (gb_restore_rename(tmp, r->outdir, err, sizeof err))
		gb_errx(GB_EXIT_RUN, "%s", err);
	gb_cleanup_clear();
	free(tmp);
}

/*
 * The archives named are looked for on each medium in turn: a chain may
 * span a weekly tape and the daily drives.
 */
static void
find_on_media(struct restore *r, int argc, char **argv)
{
	const char *path = gb_catalog_path(&r->conf);
	struct gb_catalog *cat = path ? gb_catalog_open(path) : NULL;
	char err[1024];

	r->medium = gb_calloc(r->nmedia, sizeof *r->medium);
	for (size_t k = 0; k < r->nmedia; k++)
		if (gb_medium_open(&r->medium[k], r->media[k], err,
		    sizeof err) == -1)
			gb_errx(GB_EXIT_RUN, "%s", err);
	r->from = gb_calloc((size_t)argc, sizeof *r->from);
	for (int i = 0; i < argc; i++) {
		char *found = NULL;
		for (size_t k = 0; k < r->nmedia && !found; k++)
			if ((found = gb_medium_archive(&r->medium[k], cat, argv[i],
			    err, sizeof err)))
				r->from[i] = r->medium[k].id;
		if (!found)
			gb_errx(GB_EXIT_RUN, "%s%s; nothing restored", err,
			    r->nmedia > 1 ? " (nor on the other media)" : "");
		argv[i] = found;	/* freed with the process */
	}
	r->nfrom = (size_t)argc;
	r->argv = argv;
	gb_catalog_close(cat);
}

/* The medium an archive was read from, or NULL. */
static const char *
medium_of(const struct restore *r, const char *archive_path)
{
	for (size_t i = 0; i < r->nfrom; i++)
		if (strcmp(r->argv[i], archive_path) == 0)
			return r->from[i];
	return NULL;
}

/* The policy's restore test goes into the catalog, when there is one. */
static void
record_test(struct restore *r)
{
	const char *path = gb_catalog_path(&r->conf);
	struct gb_catalog *c;
	char detail[128];

	if (!path)
		return;
	c = gb_catalog_open(path);
	snprintf(detail, sizeof detail, "chain of %zu, %d table%s differ%s",
	    r->nin, r->failures, r->failures == 1 ? "" : "s",
	    r->failures == 1 ? "s" : "");
	for (size_t i = 0; i < r->nin; i++)
		gb_catalog_record_check(c, "restore-test", r->in[i].seal.archive,
		    medium_of(r, r->in[i].path), !r->failures, detail, NULL);
	gb_catalog_close(c);
}

static void
restore_free(struct restore *r)
{
	for (size_t i = 0; i < r->nin; i++) {
		free(r->in[i].path);
		gb_seal_free(&r->in[i].seal);
	}
	free(r->in);
	gb_conf_free(&r->conf);
	for (size_t k = 0; k < r->nmedia; k++)
		gb_medium_close(&r->medium[k]);
	free(r->medium);
	free(r->media);
	free(r->from);
	if (r->t.t)
		r->t.close(r->t.t);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "test", no_argument, NULL, 'T' },
		{ "signer", required_argument, NULL, 'S' },
		{ "media", required_argument, NULL, 'M' },
		{ "schema", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, GB_OPT_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	struct restore r = { 0 };
	int c;

	gb_setprogname(argv[0]);
	while ((c = getopt_long(argc, argv, "c:d:ho:qv", longopts, NULL)) != -1)
		switch (c) {
		case 'c': r.confpath = optarg; break;
		case 'd': r.target = optarg; break;
		case 'h': usage(stdout, GB_EXIT_OK); break;
		case 'o': r.outdir = optarg; break;
		case 'S': r.signer = optarg; break;
		case 'M':
			r.media = gb_realloc(r.media, (r.nmedia + 1) *
			    sizeof *r.media);
			r.media[r.nmedia++] = optarg;
			break;
		case 'P': r.pgschema = optarg; break;
		case 'q': gb_progress_quiet(); break;
		case 'T': r.test = 1; break;
		case 'v': r.verbose = 1; break;
		case GB_OPT_VERSION: gb_version();
		default: usage(stderr, GB_EXIT_USAGE);
		}
	argc -= optind;
	argv += optind;
	/* --test goes with -d only for PostgreSQL: a scratch schema there */
	if (argc == 0 || (!!r.outdir + !!r.target + r.test) != 1 + (r.test &&
	    r.target && gb_pg_is_conninfo(r.target)))
		usage(stderr, GB_EXIT_USAGE);
	if (r.pgschema && (!r.target || !gb_pg_is_conninfo(r.target) ||
	    r.test || !*r.pgschema))
		gb_errx(GB_EXIT_USAGE, "--schema goes with -d postgresql://..., "
		    "without --test");
	gb_conf_open(&r.conf, r.confpath);
	if (!r.signer)
		r.signer = gb_conf_get(&r.conf, "keys", "signer");
	if (!r.signer || !*r.signer)
		gb_errx(GB_EXIT_USAGE, "no signer pinned: give --signer "
		    "FINGERPRINT or set signer in the [keys] section of the "
		    "config");
	gb_cleanup_signals();
	gb_tmp_reap(gb_tmpdir(), "gb-restore");	/* a killed drill's scratch */
	if (r.nmedia)
		find_on_media(&r, argc, argv);
	load_and_order(&r, argv, (size_t)argc);

	if (r.outdir) {
		restore_dirs(&r);
		restore_free(&r);
		return GB_EXIT_OK;
	}
	open_target(&r);
	for (size_t i = 0; i < r.nin; i++) {
		const struct gb_manifest *m = &r.in[i].seal.manifest;
		int64_t *before = NULL;
		char err[1024];
		int rc;

		if (!r.test && strcmp(m->level, "incremental") == 0) {
			before = gb_calloc(m->ntables, sizeof *before);
			for (size_t k = 0; k < m->ntables; k++)
				if ((before[k] = target_rows(&r, m, &m->tables[k],
				    0)) < 0)
					before[k] = 0;	/* new since the full */
		}
		rc = restore_one(&r, &r.in[i], NULL, err, sizeof err);
		if (rc == -1 && r.test && r.mismatch) {	/* the drill's finding */
			printf("FAIL: %s: %s\n", r.in[i].seal.manifest.id, err);
			printf("restore test: %zu archive%s, FAILED\n", r.nin,
			    r.nin == 1 ? "" : "s");
			r.failures++;
			record_test(&r);
			gb_errx(GB_EXIT_CHECK, "%s: %s; nothing restored",
			    r.in[i].path, err);
		}
		if (rc)
			gb_errx(rc == -2 ? GB_EXIT_RUN : GB_EXIT_CHECK, "%s: %s; "
			    "nothing restored", r.in[i].path, err);
		if (!r.test)
			check_rows(&r, &r.in[i], before);
		free(before);
		if (r.test)
			r.failures += test_tables(&r, &r.in[i].seal.manifest);
	}
	finish_target(&r);
	if (r.test) {
		printf("restore test: %zu archive%s, %s\n", r.nin, r.nin == 1 ?
		    "" : "s", r.failures ? "FAILED" : "OK");
		record_test(&r);
		gb_cleanup_run();	/* the scratch database goes */
	}
	restore_free(&r);
	return r.failures ? GB_EXIT_CHECK : GB_EXIT_OK;
}
