/*
 * gb.h - the gymbackup library's base, which every tool includes: no
 * database, OpenPGP or media types.  Those are in gb-db.h, gb-pgp.h and
 * gb-media.h, each included by the tools that use them.
 *
 * One .c per concern: err.c (messages, exit statuses, cleanup of temporary
 * files), io.c (whole reads and writes, atomic files), progress.c, sha256.c,
 * cipher.c (encrypted spool files), out.c (buffered hashed output),
 * conf.c (the INI config) and job.c (its task table), csv.c and csvread.c
 * (the export CSV), manifest.c, workers.c (the worker pool of gzip.c and
 * gzread.c), tar.c, text.c (listings).
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

#define GB_VERSION "0.1"

/* Exit statuses, the same for every tool (gb(7)). */
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
/* A filter's input operand, NULL for stdin; -1 for more than one. */
int gb_input_operand(int argc, char *argv[], const char **input);
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
char *gb_vasprintf(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));
/* atexit(gb_close_stdout) in every tool: exit 3 if stdout failed. */
void gb_close_stdout(void);

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
/* The cores online, at least 1, at most max. */
int gb_ncpu(int max);
/*
 * The threads a tool runs: asked (its -j or -P) if above 0, else
 * $GB_THREADS, else one per core online up to dflt; at most
 * GB_THREADS_MAX whatever is asked, so that memory stays bounded on any
 * machine (gb(7)).  A bad $GB_THREADS is exit 2.
 */
#define GB_THREADS_MAX 16
int gb_threads(int asked, int dflt);

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
void gb_atomic_abort(struct gb_atomic *a);	/* keeps errno */

/* sha256.c (libgcrypt) */
void gb_crypto_init(void);
struct gb_sha256 {
	void *md;
};
void gb_sha256_init(struct gb_sha256 *h);
void gb_sha256_update(struct gb_sha256 *h, const void *p, size_t n);
void gb_sha256_final(struct gb_sha256 *h, char hex[65]);
/* 1 when libgcrypt (and so gpg) has SHA-256 in hardware on this CPU. */
int gb_sha256_fast(void);
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

/*
 * cipher.c: a spool file, written once in order and read back once in
 * order: AES-256-GCM per MiB under a key that lives only in this
 * process, the tags in memory, or plain.  Byte N of the file is byte N of
 * the text.  One thread at a time uses one.
 */
struct gb_spool {
	void *h;		/* gcry_cipher_hd_t; NULL: plain */
	unsigned char nonce[8];	/* the file's: the IV's first 8 bytes */
	unsigned char *tag;	/* 16 bytes per MiB */
	size_t ntag;
	uint64_t size;		/* bytes written */
	uint64_t off;		/* bytes read back: where a check failed */
	unsigned char *buf;	/* the MiB read back */
};
struct gb_spool *gb_spool_new(int encrypt);
/* Encrypts buf in place and writes it to fd at its end; 0, or -1 + errno. */
int gb_spool_write(struct gb_spool *s, int fd, void *buf, size_t n);
void gb_spool_end(struct gb_spool *s);	/* after the last write */
/*
 * The next MiB (or less, at the end) read back from fd and checked, in
 * *p until the next call: its length, 0 at the end, or -1 + errno;
 * EBADMSG: the file is not what was written (changed or cut short).
 */
ssize_t gb_spool_read(struct gb_spool *s, int fd, const void **p);
void gb_spool_free(struct gb_spool *s);

/*
 * out.c: buffered output to a file descriptor that counts bytes and, when
 * asked, hashes them with SHA-256.  Errors are sticky: check gb_out_finish.
  * On fd -1 it is a growing buffer in memory, never flushed.
 */
struct gb_out {
	int fd;
	unsigned char *buf;
	size_t len, cap;
	uint64_t bytes;
	int hash;		/* sha is in use */
	struct gb_sha256 sha;
	int err;		/* errno of the first failed write, or 0 */
	struct gb_spool *spool;	/* set after init: fd is a spool file */
};
/* fd -1: kept in memory, growing; GB_OUT_SINK: counted, hashed, dropped. */
#define GB_OUT_SINK (-2)
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
 * is none; a config that does not parse, or has a section of a kind
 * gymbackup.conf(5) does not know, ends the program (exit 2).
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
/* The line of a section's first header; 0 when there is none. */
int gb_conf_section_line(const struct gb_conf *c, const char *section);
/*
 * 0 when every section is of a kind gymbackup.conf(5) describes, else -1
 * with "FILE:LINE: unknown section [...]" in err.  gb_conf_open checks it.
 */
int gb_conf_check_sections(const struct gb_conf *c, char *err,
    size_t errlen);
/* The site: [site] name, else the host's name, which every tool gives. */
const char *gb_site_name(const struct gb_conf *c);
const char *gb_host_name(void);	/* gethostname, "localhost" if none */

/*
 * job.c: the backup task table, [pool NAME] and [job NAME] (gymbackup.conf(5)),
 * judged and with its defaults.  The judging calls print every error as
 * "config: FILE:LINE: [SECTION]: why" and return how many (0: valid).
 */
struct gb_pool {
	const char *name, *kind;	/* kind: "dir", "tape" or NULL */
	long retention_days;
	long offsite_days;		/* -1: not set */
	int offsite;
};
struct gb_job {
	const char *name, *schedule, *level, *chain, *pool, *verify;
	const char *tables, *media;	/* as written: lists of words */
	long retention_days;		/* the job's, else its pool's */
	long alert_hours;		/* alert_after, else from the schedule */
};
int gb_pool_read(const struct gb_conf *c, const char *name, struct gb_pool *p);
/*
 * The job judged as gb-backup runs it; its pool must be described, and
 * what is wrong with the pool counts but is said by gb_pool_read only.
 */
int gb_job_read(const struct gb_conf *c, const char *name, struct gb_job *j);
/* Letters, digits, '.', '_' and '-', a letter or digit first: it names files. */
int gb_job_name_ok(const char *name);
int gb_spool_check(const struct gb_conf *c);
const char *gb_spool_dir(const struct gb_conf *c);
/*
 * What gb-catalog reads of a job without judging the rest of it: days of
 * retention (the job's, its pool's, 30) and hours without a good backup
 * before check complains; -1 after printing why the value is wrong.
 */
long gb_job_retention(const struct gb_conf *c, const char *job);
long gb_job_alert_hours(const struct gb_conf *c, const char *job);
/* The KEY<TAB>VALUE records of gb-catalog job and pool (gb-catalog(1)). */
void gb_job_print(FILE *fp, const struct gb_conf *c, const struct gb_job *j);
void gb_pool_print(FILE *fp, const struct gb_pool *p);
int gb_cron_valid(const char *schedule);
/*
 * Does a job of this schedule run on day tm?  As cron: the month must
 * match, and when both the day of the month and of the week are
 * restricted, either.  -1 for a schedule it cannot read.
 */
int gb_cron_day(const char *schedule, const struct tm *tm);
/* "daily 02:00", "weekly Sun 01:30", ..., "see schedule"; malloc'd. */
char *gb_cron_words(const char *schedule);

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
/* That timestamp read back; 0 if s is not one. */
time_t gb_parse_time(const char *s);

/*
 * workers.c: worker threads that run jobs the caller takes back in order
 * (gzip.c, gzread.c).  A job embeds a gb_work first; the caller keeps
 * gb_workers_jobs() of them in flight, puts each, and waits for the oldest.
 * One thread: a job runs in the caller's thread when it is put.  Threads
 * and jobs in flight are at most GB_THREADS_MAX: a job holds a gzip member
 * (up to about 2.5 MiB with its output), so 16 of them about 40 MiB.
 */
struct gb_work {
	int done, failed;
	struct gb_work *next;	/* the work queue */
};
struct gb_workers;
struct gb_workers *gb_workers_open(int threads,
    int (*run)(struct gb_work *j, void *arg), void *arg);
size_t gb_workers_jobs(const struct gb_workers *p);	/* the limit in flight */
void gb_workers_put(struct gb_workers *p, struct gb_work *j);
int gb_workers_wait(struct gb_workers *p, struct gb_work *j);	/* run's 0 or -1 */
void gb_workers_close(struct gb_workers *p);	/* drops queued jobs, joins */

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

#endif
