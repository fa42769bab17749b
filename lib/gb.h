/*
 * gb.h - the gymbackup library: the one header every tool includes.
 *
 * One .c per concern: err.c (messages, exit statuses, cleanup of temporary
 * files), io.c (whole reads and writes, buffered hashed output, atomic
 * files), sha256.c, conf.c (INI config), csv.c (CSV writer), csvread.c (CSV
 * reader), manifest.c (MANIFEST writer and reader), sqlite.c (SQLite source),
 * pg.c (PostgreSQL source), sql.c (SQL text), restore-sqlite.c and
 * restore-pg.c (the targets of a restore).
 */
#ifndef GB_H
#define GB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <signal.h>
#include <sys/types.h>
#include <time.h>

#include <getopt.h>
#include <gpgme.h>
#include <sqlite3.h>

#define GB_VERSION "0.1"

/* Exit statuses, the same for every tool (DESIGN.md, gb(7)). */
enum {
	GB_EXIT_OK = 0,
	GB_EXIT_CHECK = 1,	/* a check failed: signature, hash, count, alert */
	GB_EXIT_USAGE = 2,	/* usage or config error */
	GB_EXIT_RUN = 3		/* could not run: I/O, database, gpg, media full */
};

/* err.c */
extern const char *gb_progname;
void gb_setprogname(const char *argv0);
/* --version of every tool: getopt_long's value for it, and its printer */
#define GB_OPT_VERSION 256
extern const struct option gb_stdopts[];	/* --help and --version */
_Noreturn void gb_version(void);
void gb_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void gb_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void gb_errx(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
_Noreturn void gb_err(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void *gb_malloc(size_t n);
void *gb_calloc(size_t n, size_t size);
void *gb_realloc(void *p, size_t n);
char *gb_strdup(const char *s);
char *gb_strndup(const char *s, size_t n);
char *gb_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Temporary paths that must not outlive a failure.  Registered paths are
 * removed, newest first (files before the directory holding them), when the
 * program exits through gb_err*, or on SIGINT, SIGTERM, SIGHUP, SIGPIPE.  Forget a
 * path once it is renamed into place or removed deliberately.  No limit
 * on their number.
 */
void gb_cleanup_add(const char *path);
/*
 * Creates path, registered already, with the registry held: a failure
 * on the way out, which holds it from its cleanup to the exit, is never
 * followed by a file made by another thread.
 */
int gb_cleanup_create(const char *path, mode_t mode);
void gb_cleanup_forget(const char *path);
void gb_cleanup_run(void);	/* remove them all now */
void gb_cleanup_clear(void);	/* forget them all: they are kept */
void gb_cleanup_signals(void);
void gb_signals_defer(sigset_t *);
void gb_signals_resume(const sigset_t *);
/*
 * Did process pid, the owner of something made or changed at since, end?
 * Gone, a zombie, or a newer process under the same pid.  1 or 0.
 */
int gb_pid_gone(long pid, time_t since);
/*
 * pthread_create for every worker: the cleanup signals stay blocked in it,
 * so that they run their handler only on a thread that blocks them while
 * it changes the registry.
 */
int gb_thread_create(pthread_t *tid, void *(*fn)(void *), void *arg);
/*
 * What SIGKILL, the OOM killer or a power cut leaves is found by its name,
 * PREFIX.PID.XXXXXX (PREFIX gb-WORD in $TMPDIR, or PATH.tmp beside PATH),
 * and by a flock its process holds on it as long as it lives: one whose
 * lock is free and whose process is gone (or is another process now) is
 * stale.
 */
const char *gb_tmpdir(void);	/* $TMPDIR, else /tmp */
/* "PREFIX.PID.XXXXXX", PREFIX printf-formatted: a template for gb_mktemp. */
char *gb_tmp_template(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/*
 * mkostemp (dir 0) or mkdtemp (dir 1), registered, no signal between, and
 * locked until forgotten or removed.  A template of gb_tmp_template's form
 * first has the stale PREFIX.* of others removed (gb_tmp_reap).
 */
int gb_mktemp(char *template, int dir);
/* Removes the stale PREFIX.PID.XXXXXX in dir, each with a warning. */
int gb_tmp_reap(const char *dir, const char *prefix);
/*
 * Each stale one in dir, named prefix.PID.XXXXXX (prefix NULL: any
 * gb-WORD.* or *.tmp.* of that form), to fn; the number found.
 */
int gb_tmp_stale(const char *dir, const char *prefix,
    void (*fn)(void *arg, const char *path, long pid), void *arg);
/*
 * The pid of a process that holds (is not known to be gone) a
 * prefix.PID.XXXXXX in dir, else 0: a writer still at work.
 */
long gb_tmp_owner(const char *dir, const char *prefix);

/* io.c: loops over short reads and writes and EINTR. */
ssize_t gb_read_full(int fd, void *buf, size_t n);	/* < n only at EOF */
struct gb_csv_field;
typedef ssize_t (*gb_read_fn)(void *arg, void *buf, size_t n);
/* The same over a reader function (0 at the end, -1 on error). */
ssize_t gb_read_full_cb(gb_read_fn fn, void *arg, void *buf, size_t n);
int gb_write_all(int fd, const void *buf, size_t n);	/* 0, or -1 + errno */
void gb_pipe_grow(int fd);	/* a pipe on fd holds 1 MiB */
/* After writing a file up to offset to: starts its write-back from from. */
void gb_write_behind(int fd, uint64_t *from, uint64_t to);
int gb_fsync_parent(const char *path);	/* fsync the directory holding path */
int gb_rename_durable(const char *tmp, const char *path); /* 0, -1, -2, -3: io.c */
/* "1000", "10G", "1.5"-free sizes with K, M, G, T (1024s); 0 or -1. */
int gb_parse_size(const char *s, long long *v);
/* The cores online, at least 1, at most max: the default thread count. */
int gb_ncpu(int max);

/*
 * progress.c: one line on stderr, redrawn a few times a second, for long
 * work; only when stderr is a terminal and no -q was given.  start names
 * the work ("read", "written") and its total (0: unknown) and counts from
 * 0 again; add counts bytes, or rows when rows is set; end erases the line.
 */
void gb_progress_quiet(void);
void gb_progress_start(const char *what, int rows, uint64_t total);
void gb_progress_add(uint64_t n);
void gb_progress_end(void);
void gb_progress_clear(void);	/* before a message: err.c */
uint64_t gb_progress_size(int fd);	/* a file's size; 0 for a pipe */

/*
 * Buffered output to a file descriptor that counts bytes and, when asked,
 * hashes them with SHA-256.  Errors are sticky: check gb_out_finish.
 * On fd -1 it is a growing buffer in memory, never flushed.
 */
struct gb_out {
	int fd;
	unsigned char *buf;
	size_t len, cap;
	uint64_t bytes;
	void *md;		/* gcry_md_hd_t, or NULL */
	int err;		/* errno of the first failed write, or 0 */
};
void gb_out_init(struct gb_out *o, int fd, int hash);
int gb_out_flushbuf(struct gb_out *o);
void gb_out_write(struct gb_out *o, const void *p, size_t n);
/* Flush, take the hash (hex, 65 bytes) if any, free buffers; 0 or -1. */
int gb_out_finish(struct gb_out *o, char *hex);

static inline void gb_out_putc(struct gb_out *o, int c)
{
	if (o->len == o->cap)
		gb_out_flushbuf(o);
	o->buf[o->len++] = (unsigned char)c;
}

/*
 * A file that appears whole or not at all: written under a temporary name
 * in the same directory, fsync'd, renamed, and the directory fsync'd.
 */
struct gb_atomic {
	char *path;
	char *tmp;
	int fd;
};
int gb_atomic_open(struct gb_atomic *a, const char *path, mode_t mode);
int gb_atomic_commit(struct gb_atomic *a);	/* 0, or -1 + errno */
void gb_atomic_abort(struct gb_atomic *a);

/* sha256.c (libgcrypt) */
void gb_crypto_init(void);
struct gb_sha256 {
	void *md;
};
void gb_sha256_init(struct gb_sha256 *h);
void gb_sha256_update(struct gb_sha256 *h, const void *p, size_t n);
void gb_sha256_final(struct gb_sha256 *h, char hex[65]);
/* Hashing beside the caller, on a thread: feed, do other work, wait. */
struct gb_hasher {
	struct gb_sha256 sha;
	const void *p;
	size_t n;		/* bytes to hash; 0 when idle */
	int stop;
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};
void gb_hasher_start(struct gb_hasher *h);
void gb_hasher_feed(struct gb_hasher *h, const void *p, size_t n);
void gb_hasher_wait(struct gb_hasher *h);	/* then the buffer is free */
void gb_hasher_final(struct gb_hasher *h, char hex[65]);
/* Hash a whole file, streaming; 0, or -1 + errno. */
int gb_sha256_file(const char *path, char hex[65], uint64_t *size);

/*
 * conf.c: the INI config.  "[table members]" is stored as section
 * "table members"; keys and values are trimmed; '#' and ';' start comments
 * at the beginning of a line.
 */
struct gb_conf_entry {
	char *section, *key, *value;
	int line;
};
struct gb_conf {
	char *path;
	struct gb_conf_entry *e;
	size_t n;
};
/* The config named by -c, else $GB_CONF, else the system one if present. */
const char *gb_conf_path(const char *opt);
/*
 * Loads the config gb_conf_path names into c, or leaves c empty when there
 * is none; a config that does not parse ends the program (exit 2).
 * Returns its path, or NULL.
 */
const char *gb_conf_open(struct gb_conf *c, const char *opt);
/* 0, or -1 with a message naming file and line in err. */
int gb_conf_load(struct gb_conf *c, const char *path, char *err, size_t errlen);
void gb_conf_free(struct gb_conf *c);
const char *gb_conf_get(const struct gb_conf *c, const char *section,
    const char *key);
/* Names of "[TYPE NAME]" sections, in file order: *it starts at 0. */
const char *gb_conf_next_section(const struct gb_conf *c, const char *type,
    size_t *it);
int gb_conf_has_section(const struct gb_conf *c, const char *section);

/*
 * csv.c: the export CSV (gb-manifest(5)): RFC 4180 fields, LF line ends,
 * NULL an empty unquoted field, "" the empty string, blobs as \x hex.
 */
void gb_csv_text(struct gb_out *o, const char *s, size_t n);
void gb_csv_int(struct gb_out *o, int64_t v);
void gb_csv_real(struct gb_out *o, double v);
void gb_csv_blob(struct gb_out *o, const void *p, size_t n);
/* Shortest %.*g that reads back as the same double; returns length. */
int gb_fmt_real(char *buf, size_t len, double v);

/*
 * csvread.c: a streaming CSV reader for the same dialect.  A field is
 * NULL (unquoted and empty) or a string that may hold NUL bytes.  A
 * record holds at most GB_CSV_RECORD_MAX bytes of field data and
 * GB_CSV_FIELDS_MAX fields; a longer one is an error (gb-manifest(5)).
 */
#define GB_CSV_RECORD_MAX (64 << 20)
#define GB_CSV_FIELDS_MAX 32767
struct gb_csv_field {
	const char *p;		/* NULL for SQL NULL */
	size_t n;
};
struct gb_csv_reader;
struct gb_csv_reader *gb_csv_open(int fd);
/* Reads through fn, which returns bytes read, 0 at the end, -1 on error. */
struct gb_csv_reader *gb_csv_open_cb(gb_read_fn fn, void *arg);
/* 1 a record read, 0 end of input, -1 error (gb_csv_error tells). */
int gb_csv_next(struct gb_csv_reader *r, struct gb_csv_field **fields,
    size_t *nfields);
const char *gb_csv_error(const struct gb_csv_reader *r);
uint64_t gb_csv_line(const struct gb_csv_reader *r);
void gb_csv_close(struct gb_csv_reader *r);

/*
 * manifest.c: MANIFEST, the description of an export set (gb-manifest(5)).
 */
#define GB_MANIFEST_FORMAT 1
struct gb_money {
	char *column;
	int64_t sum;		/* integer cents */
};
struct gb_mtable {
	char *name;		/* as the source names it */
	char *file;		/* file in the export set, e.g. members.csv */
	uint64_t rows, bytes;
	char sha256[65];
	char *key;		/* key columns, comma-separated; "" none */
	char *wm_column;	/* watermark column, or NULL */
	char *wm_type;		/* integer, real or text */
	char *wm_from;		/* exclusive lower bound; NULL: from the start */
	char *wm_to;		/* highest value at the snapshot; NULL: none */
	struct gb_money *money;
	size_t nmoney;
	/*
	 * An incremental's table: change "delta" (its file holds the rows
	 * new or changed since the export base, del the keys of the rows
	 * deleted since) or "whole" (its file is the whole table, which
	 * replaces the one restored so far: a table without a key, or with
	 * no state of the base).  NULL: a full's, or an incremental of an
	 * older gymbackup (upserts past the watermark).
	 */
	char *change;
	struct gb_mtable *del;	/* delta: file, rows (keys), bytes, sha256 */
	/* The whole table at the snapshot (has_total): rows, CSV, sums. */
	int has_total;
	uint64_t total_rows;
	char total_sha256[65];
	struct gb_money *total_money;	/* nmoney of them, as money */
};
struct gb_manifest {
	int format;
	char *site, *job, *level;	/* level: full or incremental */
	char *id, *base;		/* base: id built on, or NULL */
	char *source_kind, *source_name;
	char *snapshot;			/* UTC, 2026-11-24T18:00:00Z */
	char *creator;
	uint64_t schema_bytes;		/* SCHEMA.sql */
	char schema_sha256[65];
	struct gb_mtable *tables;
	size_t ntables;
};
int gb_manifest_write(const struct gb_manifest *m, struct gb_out *o);
int gb_manifest_read(struct gb_manifest *m, FILE *f, char *err, size_t errlen);
int gb_manifest_load(struct gb_manifest *m, const char *path, char *err,
    size_t errlen);
void gb_manifest_free(struct gb_manifest *m);
struct gb_mtable *gb_manifest_table(const struct gb_manifest *m,
    const char *name);
struct gb_mtable *gb_manifest_add_table(struct gb_manifest *m,
    const char *name);
/*
 * The files of an export set beside MANIFEST and SCHEMA.sql, 2 * ntables
 * slots: i < ntables the table's, else the list of deleted keys of table
 * i - ntables, or NULL when it has none.
 */
const struct gb_mtable *gb_manifest_file(const struct gb_manifest *m,
    size_t i);
/* The file name an export set uses for a table: safe on any filesystem. */
char *gb_table_filename(const char *table);
/* ... and for its list of deleted keys (a name no table's file takes). */
char *gb_deletes_filename(const char *table);
/* Format a time_t as the manifest's UTC timestamp (21 bytes). */
void gb_fmt_time(char buf[21], time_t t);

/*
 * gzip.c: a multi-member gzip writer that deflates on several threads and
 * writes members in order.  gb_gzw_cut ends the current member (MANIFEST
 * gets one of its own); members also end every chunk bytes of input.
 */
struct gb_gzw;
struct gb_gzw *gb_gzw_open(int fd, int level, int threads, size_t chunk);
void gb_gzw_write(struct gb_gzw *g, const void *p, size_t n);
void gb_gzw_cut(struct gb_gzw *g);
/* Flushes and frees; 0, or -1 + errno.  *bytes_out: compressed size. */
int gb_gzw_close(struct gb_gzw *g, uint64_t *bytes_out);
/* Frees without finishing: the output stays visibly incomplete. */
void gb_gzw_abort(struct gb_gzw *g);
/*
 * gzread.c: reads multi-member gzip, inflating gb-pack's members on
 * several threads, in order; other members are inflated as they come.
 * gb_gzr_read is a gb_read_fn of the decompressed bytes.
 */
struct gb_gzr;
struct gb_gzr *gb_gzr_open(gb_read_fn fn, void *arg, int threads);
ssize_t gb_gzr_read(void *g, void *buf, size_t n);
const char *gb_gzr_error(const struct gb_gzr *g);	/* NULL if none */
void gb_gzr_close(struct gb_gzr *g);
/* The empty gzip member that ends every packed archive. */
extern const unsigned char gb_pack_trailer[];
extern const size_t gb_pack_trailer_len;

/*
 * tar.c: the tar entries of the export stream and of the packed archive:
 * each a regular file, mode 0600, owner 0, the snapshot's time, in a pax
 * restricted tar of blocks of block bytes (0: unblocked).  The setters
 * return 0, or -1 with the error in the archive.
 */
struct archive;
struct archive_entry;
int gb_tar_format(struct archive *a, int block);
int gb_tar_header(struct archive *a, struct archive_entry *e,
    const char *name, int64_t size, time_t mtime);
/* The size of tar's first entry if it is name, whole within len; or -1. */
int64_t gb_tar_first(const void *tar, size_t len, const char *name);
/*
 * MANIFEST (malloc'd) from the first gzip member of a packed archive on
 * fd, which holds it alone; every byte read from fd, past that member
 * too, is in *prefix (malloc'd).  0; -1 no packed archive; -2 a failed
 * read (errno).
 */
int gb_pack_manifest(int fd, unsigned char **prefix, size_t *prefix_len,
    char **text, size_t *len);

/*
 * seal.c: the seal (gb-seal(5)), a clear-signed statement of one sealed
 * archive.  gb_seal_load verifies the signature against the pinned
 * signer and parses what it signed, never the text around it.
 */
struct gb_seal {
	char *archive;		/* base name of the sealed file */
	uint64_t size, packed_size;
	char sha256[65], packed_sha256[65];
	char *sealed;		/* time */
	char *signer;
	char **recipients;	/* NULL-terminated */
	char *manifest_text;
	size_t manifest_len;
	struct gb_manifest manifest;
	char *signed_text;	/* the clear-signed message, as verified */
	size_t signed_len;
};
/* 0; -1 bad signature or format (exit 1); -2 could not run (exit 3). */
int gb_seal_load(struct gb_seal *s, const char *path, const char *pinned,
    char *err, size_t errlen);
/* The same for a seal in memory (text around its one signed message is
 * ignored); 0 or -1. */
int gb_seal_verify(struct gb_seal *s, const char *text, size_t len,
    const char *pinned, char *err, size_t errlen);
int gb_seal_parse(struct gb_seal *s, const char *text, size_t len,
    char *err, size_t errlen);
/* What gb_seal_parse reads, from s's fields up to manifest (malloc'd). */
char *gb_seal_format(const struct gb_seal *s);
/* text clear-signed by signer, armored (malloc'd, *len); NULL and why. */
char *gb_seal_sign(gpgme_ctx_t c, gpgme_key_t signer, const char *text,
    size_t *len, char *err, size_t errlen);
/*
 * The archive (malloc'd, or NULL) and size (or 0) a clear-signed seal's
 * text states, unverified: only to find an archive, e.g. on a tape.
 */
void gb_seal_peek(const char *text, char **archive, uint64_t *size);
void gb_seal_free(struct gb_seal *s);
/* The seal beside an archive or the archive beside a seal (malloc'd). */
char *gb_seal_path(const char *archive_or_seal);
char *gb_archive_path(const char *archive_or_seal);

/*
 * unpack.c: reads a sealed archive: opens it once, hashes every byte
 * read of it while decrypting them in a thread, checks the inner
 * signature, hashes the packed bytes, gunzips and walks the tar.
 * Entries must be regular files with plain names and sane sizes (not
 * negative, under 1 TiB), or reading fails.
 */
struct gb_unpack;
struct gb_unpack *gb_unpack_open(const char *archive, char *err,
    size_t errlen);
/* 1 an entry, 0 the end, -1 error (a hostile or broken archive). */
int gb_unpack_next(struct gb_unpack *u, const char **name, int64_t *size,
    char *err, size_t errlen);
ssize_t gb_unpack_read(void *u, void *buf, size_t n);	/* a gb_read_fn */
/*
 * Drains and joins; checks decryption and the inner signature (pinned),
 * and fills the size and hash of the bytes read of the sealed file (all
 * of it, the very bytes decrypted) and of the packed archive inside.
 * 0; -1 and why; -2 the file could not be read.
 */
struct gb_unpack_sums {
	uint64_t size, packed_size;
	char sha256[65], packed_sha256[65];
};
int gb_unpack_close(struct gb_unpack *u, const char *pinned,
    struct gb_unpack_sums *sums, char *err, size_t errlen);

/*
 * check.c: reads one file of an export set and compares it with its
 * MANIFEST entry: bytes, SHA-256, and for a table its records and money
 * sums.  The bytes are also written to copyfd unless it is -1.  Each
 * record (the header first) may go to rec, which loads it somewhere and
 * returns 0, or -1 with a message in err.  0 when all agree; -1 a
 * mismatch or bad CSV; -2 an I/O error or a failure of rec.
 */
typedef int (*gb_record_fn)(void *arg, struct gb_csv_field *f, size_t n,
    char *err, size_t errlen);
int gb_check_file(const char *name, uint64_t bytes, const char *sha256,
    gb_read_fn fn, void *arg, int copyfd, char *err, size_t errlen);
int gb_check_table(const struct gb_mtable *mt, gb_read_fn fn, void *arg,
    int copyfd, gb_record_fn rec, void *recarg, char *err, size_t errlen);
/*
 * Walks a sealed archive against its seal: MANIFEST first and equal to
 * the seal's, SCHEMA.sql (its hash checked) and every table (and list of
 * deleted keys) once, each of the size the MANIFEST gives, nothing else, nothing missing; then the
 * inner signature by signer, the packed size and hash, and the size and
 * hash of the sealed file as read (the seal's).  MANIFEST and SCHEMA.sql
 * go to small (if set) whole; each table's bytes are for table to read
 * through gb_unpack_read, checking them (gb_check_table).  Callbacks
 * return 0, -1 or -2 as gb_check_table does.  0; -1 a check failed; -2
 * could not run.
 */
struct gb_unpack;
struct gb_walk {
	int (*small)(void *arg, const char *name, const char *buf, size_t n,
	    char *err, size_t errlen);
	int (*table)(void *arg, size_t i, struct gb_unpack *u, char *err,
	    size_t errlen);
	void *arg;
	/* table i's list of deleted keys; NULL: checked, nothing more */
	int (*deletes)(void *arg, size_t i, struct gb_unpack *u, char *err,
	    size_t errlen);
};
struct gb_seal;
int gb_walk_archive(const char *archive, const struct gb_seal *s,
    const char *signer, const struct gb_walk *w, char *err, size_t errlen);
/*
 * The same with the bytes going to sink (unless NULL) instead of a file
 * descriptor: a sink returns 0, or -1 with errno set.
 */
typedef int (*gb_write_fn)(void *arg, const void *buf, size_t n);
int gb_check_table_to(const struct gb_mtable *mt, gb_read_fn fn, void *arg,
    gb_write_fn sink, void *sinkarg, gb_record_fn rec, void *recarg,
    char *err, size_t errlen);

/*
 * text.c: listings for people.  gb_width is the display width of a UTF-8
 * string (wcwidth: two columns for CJK).  gb_fmt_size: bytes with K, M,
 * G, T of 1024 ("5.4K", "12G"), or the plain number when raw.  A table
 * collects cells row by row (align: 'l' or 'r' per column) and prints
 * them aligned by display width, then frees them.
 */
size_t gb_width(const char *s);
#define GB_SIZE_LEN 32
void gb_fmt_size(char buf[GB_SIZE_LEN], long long v, int raw);
struct gb_table {
	const char *align;
	size_t ncol, ncell, cap;
	char **cell;
};
void gb_table_init(struct gb_table *t, const char *align);
void gb_table_add(struct gb_table *t, const char *cell);	/* NULL: "" */
void gb_table_addf(struct gb_table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void gb_table_size(struct gb_table *t, long long v, int raw);
void gb_table_print(struct gb_table *t, FILE *fp, const char *indent);

/*
 * catalog.c: the catalog database (gb-catalog(1), share/catalog.sql).
 * Errors end the program with GB_EXIT_RUN naming the catalog.
 */
struct gb_catalog {
	sqlite3 *db;
	char *path;
	int readonly;	/* opened to read only: no transactions */
};
/* $GB_CATALOG, else [catalog] path, else NULL. */
const char *gb_catalog_path(const struct gb_conf *conf);
struct gb_catalog *gb_catalog_open(const char *path);	/* to write */
/*
 * GB_CATALOG_READ never writes (a read-only file, directory or mount will
 * do; a missing catalog is an error); GB_CATALOG_ANY writes (and makes)
 * it when it can, and reads it otherwise; GB_CATALOG_WRITE is
 * gb_catalog_open.
 */
enum { GB_CATALOG_WRITE, GB_CATALOG_READ, GB_CATALOG_ANY };
struct gb_catalog *gb_catalog_open_as(const char *path, int mode);
void gb_catalog_close(struct gb_catalog *c);
void gb_catalog_exec(struct gb_catalog *c, const char *sql);
void gb_catalog_begin(struct gb_catalog *c);	/* BEGIN IMMEDIATE */
void gb_catalog_commit(struct gb_catalog *c);
/* 0, or -1, rolled back, with the reason in err; then reopen. */
int gb_catalog_try_commit(struct gb_catalog *c, char *err, size_t errlen);
struct gb_catalog *gb_catalog_reopen(struct gb_catalog *c);
sqlite3_stmt *gb_catalog_prepare(struct gb_catalog *c, const char *sql);
/* A statement with n text parameters (NULL binds NULL), no result rows. */
void gb_catalog_run(struct gb_catalog *c, const char *sql, int n, ...);
_Noreturn void gb_catalog_fail(struct gb_catalog *c, const char *what);
/* Appends to the audit trail, inside the caller's transaction. */
void gb_catalog_audit(struct gb_catalog *c, const char *action,
    const char *object, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 0 when the chain is whole; head gets the newest hash (65 bytes). */
int gb_catalog_audit_verify(struct gb_catalog *c, char *head, char *err,
    size_t errlen);
void gb_now(char buf[21]);
const char *gb_actor(void);	/* who runs this: $SUDO_USER or the user */
const char *gb_col(sqlite3_stmt *st, int i);	/* "" for NULL */
/*
 * Records a sealed archive and its tables (once; 1 if new), inside the
 * caller's transaction.
 */
struct gb_seal;
void gb_catalog_add_medium(struct gb_catalog *c, const struct gb_conf *conf,
    const char *id, const char *kind, const char *pool, long long capacity,
    const char *device);
int gb_catalog_record_archive(struct gb_catalog *c, const struct gb_seal *s,
    const char *seal_text, const char *job);
/*
 * A verification ("verify", "deep-verify") or restore test
 * ("restore-test") of an archive, on a medium or not; a good check of a
 * copy also marks the copy verified.  Its own transaction.
 */
void gb_catalog_record_check(struct gb_catalog *c, const char *kind,
    const char *archive, const char *medium, int ok, const char *detail,
    const char *at);	/* at: NULL for now */
/* The same, told by a person (gb-catalog tested, verified): manual. */
void gb_catalog_record_by_hand(struct gb_catalog *c, const char *kind,
    const char *archive, const char *medium, int ok, const char *detail,
    const char *at);

/*
 * report.c: the quarterly assessment (gb-catalog(1) GROWTH REPORT) of the
 * catalog as of now (a UTC timestamp), with the pools' rotation and the
 * jobs' schedules from the config.  Text and CSV to stdout or o; HTML to
 * path, whole or not at all.  Each returns an exit status.
 */
struct gb_report_pool {
	const char *name;
	int offsite;
	long offsite_days;	/* 0: no due date */
};
struct gb_report_job {
	const char *name, *pool, *schedule;
};
struct gb_report {
	struct gb_catalog *c;
	const char *catalog;	/* its path, named on the page */
	const char *now;
	int raw;		/* sizes in bytes */
	struct gb_report_pool *pools;
	size_t npools;
	struct gb_report_job *jobs;
	size_t njobs;
};
int gb_report_text(const struct gb_report *r);
int gb_report_csv(const struct gb_report *r, struct gb_out *o);
int gb_report_html(const struct gb_report *r, const char *path);

/*
 * tape.c: records and tape marks on a Linux st device or a tape image
 * ("tape:PATH.tap", SIMH format, with an optional capacity).
 */
struct gb_tape {
	int fd, image, fileno;
	char *path;
	size_t blocksize;	/* st: 0 variable, else fixed */
	int64_t capacity;	/* image: bytes, 0 unlimited */
	uint64_t behind;	/* image: write-back started up to here */
	off_t bad;		/* image: the last damaged record met, or -1 */
	off_t walked, whole, lead;	/* image: its walk back (tape.c) */
};
int gb_tape_open(struct gb_tape *t, const char *media, int writing,
    size_t blocksize);
void gb_tape_close(struct gb_tape *t);
int gb_tape_rewind(struct gb_tape *t);
/*
 * A record's length, 0 at a tape mark, -1 at the end of data (ENODATA)
 * or error.  On an image: buf NULL steps over the record; a damaged
 * record is EIO with t->bad its byte offset, and the next read goes on
 * after it when the records that follow are whole.
 */
ssize_t gb_tape_read(struct gb_tape *t, void *buf, size_t cap);
/* One record; -1 with ENOSPC at the end of the medium. */
int gb_tape_write(struct gb_tape *t, const void *buf, size_t len);
/* A tape mark; with sync, all written so far is durable when it returns. */
int gb_tape_mark(struct gb_tape *t, int sync);
/* To the end of data, setting fileno; never cuts: EIO, t->bad on damage. */
int gb_tape_eod(struct gb_tape *t);
/* To the start of a file; on an image past damaged records it can step over. */
int gb_tape_seek_file(struct gb_tape *t, int fileno);
/* Forgets what follows the position: the medium is written over. */
int gb_tape_truncate(struct gb_tape *t);

/*
 * media.c: labels, and archives on media.  A directory medium has
 * GB_LABEL_FILE and GB_INDEX_FILE at its root; a tape has its label in
 * file 0, then each archive in a file followed by its seal in the next
 * (as many records as it needs).
 */
#define GB_LABEL_FILE "GYMBACKUP.LABEL"
#define GB_INDEX_FILE "GYMBACKUP.INDEX"
/* A label's medium id and pool; 0, or -1 when the text is no label. */
int gb_label_parse(const char *text, size_t len, char **id, char **pool);
int gb_media_is_tape(const char *media);
/* The label on a medium: 0, or -1 when it has none or cannot be read. */
int gb_media_label(const char *media, char **id, char **pool);
/* The same from GB_LABEL_FILE open on fd, or the record at t's position. */
int gb_label_read(int fd, char **id, char **pool);
int gb_label_read_tape(struct gb_tape *t, unsigned char *buf, char **id,
    char **pool);
/*
 * Labels a medium: GB_LABEL_FILE on the directory media (t NULL), or
 * file 0 of the tape t, one record of blocksize bytes (0: the label's
 * own length).  0, or -1 + errno.
 */
int gb_label_write(const char *media, struct gb_tape *t, size_t blocksize,
    const char *id, const char *pool);
/*
 * Where NAME.tar.gz.gpg and its seal are on MEDIA: in place on a
 * directory; from a tape (at file fileno when > 0, else found by the
 * content of each tape file in turn) copied into tmpdir, registered for
 * cleanup.
 */
int gb_media_fetch(const char *media, const char *name, int fileno,
    const char *tmpdir, char **archive, char **seal, char *err,
    size_t errlen);
/*
 * A tape file read to its mark and known by its content: a seal is a
 * clear-signed text (its archive's name and size read from it, not yet
 * verified), an archive an OpenPGP binary message.  The buf of these
 * functions holds a record of up to GB_MAX_BLOCK.
 */
#define GB_MAX_BLOCK (16 << 20)	/* the largest tape record */
#define GB_SEAL_BEGIN "-----BEGIN PGP SIGNED MESSAGE-----"
#define GB_SEAL_MAX (16 << 20)
enum { GB_TF_NONE, GB_TF_ARCHIVE, GB_TF_SEAL, GB_TF_OTHER };
struct gb_tfile {
	int kind, marked;	/* marked: ended by a tape mark */
	off_t bad;		/* a damaged record in it (image offset), or -1 */
	int lost;		/* nothing after that damage can be read */
	uint64_t bytes, records;
	size_t last;		/* the last record's length */
	char *text, *name;	/* a seal: its text (no padding), its archive */
	size_t len;
	uint64_t size;		/* a seal: the archive's size */
};
/* The file at the tape's position, to its mark; -1 at the end of data. */
int gb_tfile_read(struct gb_tape *t, unsigned char *buf, struct gb_tfile *f);
void gb_tfile_free(struct gb_tfile *f);
/* Is s the seal of archive file a (whole, of the size s states)? */
int gb_tfile_pair(const struct gb_tfile *a, const struct gb_tfile *s);
/*
 * The first tape file from `from` on that does not start a whole
 * (archive, seal) pair, read into *after (kind GB_TF_NONE: nothing);
 * -1 and EIO, t->bad set, for a damaged record before `from`.
 */
int gb_tape_pairs_end(struct gb_tape *t, int from, unsigned char *buf,
    struct gb_tfile *after);
/* A labelled medium that gb-verify or gb-restore reads archives from. */
struct gb_medium {
	const char *path;
	char *id, *pool;	/* from its label */
	char *tmpdir;		/* a tape's archives are copied here */
	char **files;		/* the copies made, removed at close */
	size_t nfiles;
};
int gb_medium_open(struct gb_medium *m, const char *path, char *err,
    size_t errlen);
/* The path of NAME (.tar.gz.gpg, .seal or bare) on it; NULL and why. */
char *gb_medium_archive(struct gb_medium *m, struct gb_catalog *c,
    const char *name, char *err, size_t errlen);
void gb_medium_close(struct gb_medium *m);	/* removes the copies */

/* pgp.c: OpenPGP through GPGME. */
gpgme_ctx_t gb_pgp_new(void);	/* binary, no pinentry prompts */
int gb_pgp_fpr_eq(const char *a, const char *b);
/* A key's first valid user ID ("Name <addr>"), else its fingerprint. */
const char *gb_pgp_uid(gpgme_key_t k);
/*
 * Why GnuPG could not sign with signer, in a new string: a passphrase it
 * may not ask for names the way out (gpg-preset-passphrase).
 */
char *gb_pgp_sign_why(gpgme_error_t e, gpgme_key_t signer);
/*
 * The one key NAME (fingerprint or e-mail) names, usable to encrypt
 * (usage 'e', public key) or sign (usage 's', secret key), or any public
 * key (usage 'v', to verify with); NULL and a message naming the key and
 * the fix otherwise.
 */
gpgme_key_t gb_pgp_key(gpgme_ctx_t c, const char *name, int usage,
    char *err, size_t errlen);
/*
 * After a verify or decrypt_verify: every signature good and made by the
 * pinned key (primary or subkey fingerprint).  0, or -1 and why.  *fpr
 * (if fpr) gets the signing fingerprint.
 */
int gb_pgp_check_sigs(gpgme_ctx_t c, const char *pinned, char **fpr,
    char *err, size_t errlen);

/*
 * sql.c: SQL as text, both dialects.  Errors return -1 and why.
 */
/* An SQL identifier in double quotes, quotes within doubled (malloc'd). */
char *gb_quote_ident(const char *name);
/* "schema"."table", both parts quoted (malloc'd). */
char *gb_sql_rel(const char *schema, const char *table);
/* A MANIFEST's key "a,b" as "a", "b" (malloc'd; "" for none). */
char *gb_sql_keys(const char *key);
/* SELECT count(*) of rel, or of its rows with wm_column > param. */
char *gb_sql_count(const char *rel, const char *wm_column, const char *param);
/* Past white space and SQL comments. */
const char *gb_sql_skip(const char *s);
/* SQLite's affinity of a declared type: i, t, b (or none), r, n. */
char gb_sql_affinity(const char *decl);
/* The "-- sqlite: " lines of a PostgreSQL SCHEMA.sql, prefix removed. */
char *gb_pg_sqlite_ddl(const char *schema_sql);
/*
 * SCHEMA.sql as the export writes it, and only that (gb_ddl_parse, pg 1
 * for PostgreSQL's dialect): CREATE TABLE name (...) [WITHOUT ROWID]
 * [STRICT]; CREATE VIRTUAL TABLE name USING fts5(...) with its own content;
 * CREATE [UNIQUE] INDEX name ON table ...; PostgreSQL's also CREATE
 * SCHEMA IF NOT EXISTS name and SET search_path = name.  Any other
 * statement is refused with -1 and why, naming it.
 */
enum { GB_DDL_TABLE = 1, GB_DDL_VTABLE, GB_DDL_INDEX, GB_DDL_SCHEMA,
    GB_DDL_PATH };
struct gb_ddl {
	int kind;
	char *text;		/* the statement, without its ';' */
	size_t at;		/* where its name starts in text */
	char *name;		/* what it makes (PATH: the schema), unquoted */
};
int gb_ddl_parse(int pg, const char *sql, size_t len, struct gb_ddl **v,
    size_t *n, char *err, size_t errlen);
void gb_ddl_free(struct gb_ddl *v, size_t n);
/* The statement with IF NOT EXISTS before its name (malloc'd). */
char *gb_ddl_if_not_exists(const struct gb_ddl *d);
/*
 * Runs the tables (indexes 0; -1: into a fresh database, where a table
 * already there is refused) or the indexes (1), each one statement.
 */
int gb_sqlite_ddl_run(sqlite3 *db, const struct gb_ddl *v, size_t n,
    int indexes, char *err, size_t errlen);
/*
 * What gb-restore refuses of a SCHEMA.sql, for any target; gb-verify
 * --deep calls it too.  0, or -1 with why.
 */
int gb_schema_check(const struct gb_manifest *m, const char *sql, size_t len,
    char *err, size_t errlen);

/*
 * sqlite.c: the SQLite source.  Database errors end the program with
 * GB_EXIT_RUN and a message naming the database (and table).
 */
struct gb_sqlite;
struct gb_tinfo {
	char *name;
	char **cols;		/* column names, in table order */
	size_t ncols;
	char **pk;		/* primary key columns, in key order */
	size_t npk;
	int rowid;		/* rows have a rowid to order by */
	int rowid_key;		/* the one key column is the rowid itself */
	int fts5;		/* an FTS5 table: cols[0] is its rowid */
};
struct gb_dump {
	const char *wm_column;	/* export rows with wm_column > wm_from ... */
	const char *wm_type;	/* ... compared as integer, real or text */
	const char *wm_from;	/* NULL: every row */
	char **money;		/* money columns to sum (integer cents) */
	size_t nmoney;
	/*
	 * A table split for threads (SQLite, ordered by rowid): this part
	 * reads rowids lo to hi, both included; parts after the first write
	 * no header line.
	 */
	int ranged, part;
	int64_t lo, hi;
	/*
	 * Rows in the order of these columns (NULL: the primary key's), text
	 * in bytes (BINARY, COLLATE "C"); with delta, each row goes through
	 * it (state.c) instead of straight into the output.
	 */
	char **key;
	size_t nkey;
	struct gb_delta *delta;
};
struct gb_sqlite *gb_sqlite_open(const char *path, int wait_seconds);
void gb_sqlite_close(struct gb_sqlite *db);
/* Starts the read transaction all later reads share: one instant. */
void gb_sqlite_snapshot(struct gb_sqlite *db);
/*
 * Opens up to n connections on one snapshot, for exporting tables in
 * parallel; returns how many (1 when they cannot be lined up).
 */
int gb_sqlite_snapshots(struct gb_sqlite **conns, int n, const char *path,
    int wait_seconds);
/* User tables in name order; a NULL-terminated array. */
char **gb_sqlite_tables(struct gb_sqlite *db);
/* 0, or -1 when there is no such table. */
int gb_sqlite_tinfo(struct gb_sqlite *db, const char *table,
    struct gb_tinfo *ti);
void gb_tinfo_free(struct gb_tinfo *ti);
/* About how many rows a table holds, cheaply; 0 when it cannot tell. */
/* The lowest and highest rowid of a table; -1 if it has none. */
int gb_sqlite_rowids(struct gb_sqlite *db, const char *table, int64_t *min,
    int64_t *max);
/* Column index by name as SQLite compares identifiers, or -1. */
int gb_tinfo_column(const struct gb_tinfo *ti, const char *name);
/* CREATE statements of the tables and their indexes. */
void gb_sqlite_schema(struct gb_sqlite *db, char *const *tables, size_t n,
    struct gb_out *o);
/* Writes the table's CSV; fills rows and money sums of mt. */
void gb_sqlite_dump(struct gb_sqlite *db, const struct gb_tinfo *ti,
    const struct gb_dump *d, struct gb_out *o, struct gb_mtable *mt);
/*
 * Highest watermark value above from (every value when from is NULL), as
 * text with its type; *value NULL when there is none.
 */
void gb_sqlite_wm_max(struct gb_sqlite *db, const char *table,
    const char *column, const char *from_type, const char *from,
    char **type, char **value);
void gb_free_strv(char **v);

/*
 * state.c: exact incrementals (gb-export -S).  A key part as the source
 * has it; the merge compares them as SQLite orders them (NULL, numbers,
 * text and blobs in bytes), PostgreSQL's NULLs (GB_K_LAST) last.
 */
enum { GB_K_NULL = 'n', GB_K_INT = 'i', GB_K_REAL = 'r', GB_K_TEXT = 't',
    GB_K_BLOB = 'b', GB_K_LAST = 'z' };
struct gb_kval {
	int type;
	int64_t i;
	double r;
	const char *p;
	size_t n;
};
#define GB_STATE_KEY 32
/* The digest key of the state directory dir, made (0600) at its first use. */
int gb_state_key(const char *dir, unsigned char key[GB_STATE_KEY], char *err,
    size_t errlen);
/* Is the state file at path whole, of this key, and made with keycols? */
int gb_state_usable(const char *path, const unsigned char key[GB_STATE_KEY],
    const char *keycols, char *err, size_t errlen);
/*
 * One table's merge: rows come in key order into gb_delta_buf (the
 * header first, then gb_delta_head), each then given with its key to
 * gb_delta_row and its money added to gb_delta_sums.  Changed and new
 * rows go to o and count in mt (rows, money); with an old state, keys
 * no longer there go to del as CSV, counted in mt->del.  finish writes
 * the rest of the deletes and the new state (0, or -1 + errno), and with
 * totals the whole table's rows, SHA-256 and sums into mt.
 */
struct gb_delta;
struct gb_delta *gb_delta_open(const char *table, const char *oldpath,
    int newfd, const unsigned char key[GB_STATE_KEY], const char *keycols,
    size_t nkey, struct gb_out *o, struct gb_out *del, struct gb_mtable *mt,
    size_t nmoney);
struct gb_out *gb_delta_buf(struct gb_delta *d);
struct gb_money *gb_delta_sums(struct gb_delta *d);
void gb_delta_head(struct gb_delta *d);
void gb_delta_row(struct gb_delta *d, const struct gb_kval *k);
int gb_delta_finish(struct gb_delta *d, int totals);

/*
 * ---- pg.c: PostgreSQL, as a source, and its connection (libpq) ----
 *
 * A source or target is a libpq connection string: a URI (postgresql://,
 * postgres://) or key=value pairs.  One holding a password is refused:
 * passwords come from ~/.pgpass or PGPASSFILE.  Tables are named
 * schema.table, always; a part holding '.' or '"' (or empty) is written
 * in double quotes with quotes doubled: public."odd.name".
 *
 * The source API mirrors sqlite.c: errors end the program with
 * GB_EXIT_RUN (GB_EXIT_USAGE for a bad connection string) and a message
 * naming the database, as host/port/dbname, and the table.
 */
struct gb_pg;
int gb_pg_is_conninfo(const char *s);
struct gb_pg *gb_pg_open(const char *conninfo, int wait_seconds);
void gb_pg_close(struct gb_pg *p);
/* host/port/dbname: the manifest's source name; never a password. */
const char *gb_pg_name(const struct gb_pg *p);
/* BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; the snapshot taken. */
void gb_pg_snapshot(struct gb_pg *p);
/* User tables as schema.table, in name order; each is locked ACCESS SHARE. */
char **gb_pg_tables(struct gb_pg *p);
int gb_pg_tinfo(struct gb_pg *p, const char *table, struct gb_tinfo *ti);
/* PostgreSQL DDL, with the SQLite dialect in "-- sqlite: " lines. */
void gb_pg_schema(struct gb_pg *p, char *const *tables, size_t n,
    struct gb_out *o);
/* COPY (SELECT ...) TO STDOUT, rewritten into the export CSV dialect. */
void gb_pg_dump(struct gb_pg *p, const struct gb_tinfo *ti,
    const struct gb_dump *d, struct gb_out *o, struct gb_mtable *mt);
void gb_pg_wm_max(struct gb_pg *p, const char *table, const char *column,
    const char *from_type, const char *from, char **type, char **value);

/* Names: "schema.table" made and split (0, or -1: not of that form). */
char *gb_pg_qualname(const char *schema, const char *table);
int gb_pg_splitname(const char *name, char **schema, char **table);
/* An SQL identifier, always double-quoted. */
/*
 * The name a PostgreSQL table takes where there are no schemas (SQLite):
 * its table part, or its whole name when another of names has the same
 * table part.
 */
char *gb_pg_flatname(const char *name, char *const *names, size_t n);

/*
 * For restore-pg.c: the connection under it, and a result's error message
 * (or, res NULL, the connection's) on one line, in a static buffer.
 */
struct pg_conn;
struct pg_result;
struct pg_conn *gb_pg_conn(struct gb_pg *p);
const char *gb_pg_msg(struct gb_pg *p, const struct pg_result *res);
int gb_pg_server_version(const struct gb_pg *p);

/*
 * ---- restore-sqlite.c, restore-pg.c: the targets of a restore ----
 *
 * gb-restore reads the archives and drives a target through these calls,
 * chosen once when it is opened (as bsdtar's reader drives the writer it
 * is given).  In order: schema (SCHEMA.sql, already held to what the
 * export writes by gb_schema_check: tables now, indexes kept for finish);
 * load, per table (its CSV from fn, checked against the MANIFEST as it
 * streams; an incremental's rows upserted on the table's key, or, change
 * "whole", replacing the table's); deletes, per table of change "delta"
 * (its list of deleted keys from fn, checked against mt->del: each key
 * deletes exactly one row, else -1); rows (what
 * a table holds now, past 1: only above the watermark mt was cut from; *n
 * -1 when it is not there); dump, for the drill (a table exported again
 * as gb-export does, into o); finish (indexes, then commit, the output
 * made usable; the drill's scratch rolled back); close (frees; without
 * finish nothing is kept).
 *
 * Each returns 0, or -1 (a check failed, SCHEMA.sql refused; for open: the
 * target refused, a usage error) or -2 (the target failed) with why in
 * err: schema and load name the table, gb-restore the archive; the others
 * give the whole message.  None ends the program, but through the
 * connection (gb_pg_open), the source calls dump makes (sqlite.c, pg.c)
 * and running out of memory.
 *
 * Open fills in tg even when it fails: close it.
 */
struct gb_target {
	void *t;
	int (*schema)(void *t, const struct gb_manifest *m, const char *sql,
	    size_t len, char *err, size_t errlen);
	int (*load)(void *t, const struct gb_manifest *m,
	    const struct gb_mtable *mt, gb_read_fn fn, void *arg, char *err,
	    size_t errlen);
	int (*deletes)(void *t, const struct gb_manifest *m,
	    const struct gb_mtable *mt, gb_read_fn fn, void *arg, char *err,
	    size_t errlen);
	int (*rows)(void *t, const struct gb_manifest *m,
	    const struct gb_mtable *mt, int past, int64_t *n, char *err,
	    size_t errlen);
	int (*dump)(void *t, const struct gb_manifest *m,
	    const struct gb_mtable *mt, const struct gb_dump *d,
	    struct gb_out *o, struct gb_mtable *got, char *err, size_t errlen);
	int (*finish)(void *t, char *err, size_t errlen);
	void (*close)(void *t);
};
/*
 * A new SQLite database at path, built under a temporary name and renamed
 * into place by finish; path NULL: the drill's scratch database, in a
 * directory of its own that the cleanup removes.
 */
int gb_restore_sqlite_open(struct gb_target *tg, const char *path,
    char *err, size_t errlen);
/*
 * PostgreSQL, all in one transaction: into a database (schema NULL:
 * tables into the schemas they came from, SQLite's into public; it must
 * have no tables), into one schema (it must have none), or (scratch) into
 * a new scratch schema that finish rolls back.
 */
int gb_restore_pg_open(struct gb_target *tg, const char *conninfo,
    const char *schema, int scratch, char *err, size_t errlen);
/*
 * gb_rename_durable, with why it failed (-2): a restore's output is kept
 * only when its rename lasts (restore-sqlite.c).
 */
int gb_restore_rename(const char *tmp, const char *path, char *err,
    size_t errlen);

#endif
