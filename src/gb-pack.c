/*
 * gb-pack - turn an export set (a directory, or the export stream on
 * stdin) into the packed archive on stdout: a pax tar, MANIFEST first in a
 * gzip member of its own, the rest in independent gzip members.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "gb.h"

#define CHUNK (1024 * 1024)	/* tar bytes per gzip member */
#define DEFAULT_LEVEL 1	/* from make bench: see gb-pack(1) */

struct pack {
	int level, threads;
	const char *input;	/* directory, or NULL for stdin */
	struct gb_manifest m;
	char *manifest_text;	/* as read, packed byte for byte */
	size_t manifest_len;
	time_t mtime;
	struct gb_gzw *gz;
	struct archive *out;
	struct archive_entry *entry;
	char *seen;		/* per table: its file was packed */
	int schema_seen;
	unsigned char *buf;
};

static void
usage(FILE *fp, int status)
{
	fprintf(fp, "usage: gb-pack [-q] [-l level] [-j threads] [dir | -]\n");
	exit(status);
}

static la_ssize_t
out_write(struct archive *a, void *arg, const void *p, size_t n)
{
	struct pack *k = arg;

	gb_gzw_write(k->gz, p, n);
	return (la_ssize_t)n;
}

static time_t
parse_snapshot(const char *s)
{
	struct tm tm;
	char *end;

	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		gb_errx(GB_EXIT_CHECK, "MANIFEST: bad snapshot time %s", s);
	return timegm(&tm);
}

static void
load_manifest(struct pack *k, FILE *fp)
{
	char why[512];

	if (gb_manifest_read(&k->m, fp, why, sizeof why) == -1)
		gb_errx(GB_EXIT_CHECK, "not an export set: MANIFEST: %s", why);
	k->mtime = parse_snapshot(k->m.snapshot);
	k->seen = gb_calloc(2 * k->m.ntables + 1, 1);
}

/* Which file of the set a name is: -1 SCHEMA.sql, table index, or -2. */
static long
which_file(struct pack *k, const char *name)
{
	if (strcmp(name, "SCHEMA.sql") == 0)
		return -1;
	for (size_t i = 0; i < 2 * k->m.ntables; i++)
		if (gb_manifest_file(&k->m, i) &&
		    strcmp(gb_manifest_file(&k->m, i)->file, name) == 0)
			return (long)i;
	return -2;
}

static void
header(struct pack *k, const char *name, int64_t size)
{
	if (gb_tar_header(k->out, k->entry, name, size, k->mtime) == -1)
		gb_errx(GB_EXIT_RUN, "cannot write the archive: %s",
		    archive_error_string(k->out));
}

static void
data(struct pack *k, const void *p, size_t n)
{
	if (n && archive_write_data(k->out, p, n) != (la_ssize_t)n)
		gb_errx(GB_EXIT_RUN, "cannot write the archive: %s",
		    archive_error_string(k->out));
}

/*
 * Once output has begun, a refusal must not leave what looks like a good
 * archive (MANIFEST's member alone is one): a member no gzip reader
 * accepts goes last.
 */
static int finished;

static void
spoil_output(void)
{
	static const unsigned char bad[] = "\x1f\x8b\x08\0\0\0\0\0\0\x03"
	    "\xff\xff gb-pack failed";

	if (!finished)
		gb_write_all(STDOUT_FILENO, bad, sizeof bad);
}

static void
start(struct pack *k)
{
	atexit(spoil_output);
	k->gz = gb_gzw_open(STDOUT_FILENO, k->level, k->threads, CHUNK);
	k->out = archive_write_new();
	k->entry = archive_entry_new();
	/* Unblocked, so MANIFEST's bytes reach its own member at once. */
	if (gb_tar_format(k->out, 0) == -1 || archive_write_open2(k->out, k,
	    NULL, out_write, NULL, NULL) != ARCHIVE_OK)
		gb_errx(GB_EXIT_RUN, "cannot start the archive: %s",
		    archive_error_string(k->out));
	header(k, "MANIFEST", (int64_t)k->manifest_len);
	data(k, k->manifest_text, k->manifest_len);
	archive_write_finish_entry(k->out);
	gb_gzw_cut(k->gz);
}

/*
 * Packs one file of the set from fd (a file) or from the input archive,
 * checking its size and SHA-256 against the MANIFEST on the way.
 */
static void
pack_file(struct pack *k, const char *name, int64_t size, int fd,
    struct archive *in)
{
	long w = which_file(k, name);
	const char *want_hash;
	uint64_t want_size, got = 0;
	struct gb_sha256 h;
	char hex[65];

	if (w == -2)
		gb_errx(GB_EXIT_CHECK, "not an export set: %s is not listed in "
		    "the MANIFEST", name);
	if (w == -1 ? k->schema_seen : k->seen[w])
		gb_errx(GB_EXIT_CHECK, "not an export set: %s appears twice",
		    name);
	if (w == -1) {
		k->schema_seen = 1;
		want_hash = k->m.schema_sha256;
		want_size = k->m.schema_bytes;
	} else {
		k->seen[w] = 1;
		want_hash = gb_manifest_file(&k->m, (size_t)w)->sha256;
		want_size = gb_manifest_file(&k->m, (size_t)w)->bytes;
	}
	if ((uint64_t)size != want_size)
		gb_errx(GB_EXIT_CHECK, "%s: %lld bytes, the MANIFEST says %llu; "
		    "the export set was changed or damaged", name,
		    (long long)size, (unsigned long long)want_size);
	header(k, name, size);
	gb_sha256_init(&h);
	for (;;) {
		ssize_t n = in ? archive_read_data(in, k->buf, CHUNK) :
		    gb_read_full(fd, k->buf, CHUNK);
		if (n < 0) {
			if (in)
				gb_errx(GB_EXIT_RUN, "cannot read %s: %s", name,
				    archive_error_string(in));
			gb_err(GB_EXIT_RUN, "cannot read %s", name);
		}
		if (n == 0)
			break;
		gb_sha256_update(&h, k->buf, (size_t)n);
		data(k, k->buf, (size_t)n);
		got += (uint64_t)n;
		gb_progress_add((uint64_t)n);
	}
	gb_sha256_final(&h, hex);
	if (got != want_size || strcmp(hex, want_hash) != 0) {
		/* Leave the archive without its end, so no reader takes it. */
		gb_gzw_abort(k->gz);
		gb_errx(GB_EXIT_CHECK, "%s: SHA-256 does not match the MANIFEST; "
		    "the export set was changed or damaged", name);
	}
}

static void
check_complete(struct pack *k)
{
	if (!k->schema_seen)
		gb_errx(GB_EXIT_CHECK, "not an export set: SCHEMA.sql is missing");
	for (size_t i = 0; i < 2 * k->m.ntables; i++)
		if (gb_manifest_file(&k->m, i) && !k->seen[i])
			gb_errx(GB_EXIT_CHECK, "not an export set: %s (table %s) "
			    "is missing", gb_manifest_file(&k->m, i)->file,
			    gb_manifest_file(&k->m, i)->name);
}

/* MANIFEST is small: kept whole, packed byte for byte, then parsed. */
static void
take_manifest(struct pack *k, char *text, size_t len)
{
	FILE *fp;

	k->manifest_text = text;
	k->manifest_len = len;
	if (!(fp = fmemopen(text, len ? len : 1, "r")))
		gb_err(GB_EXIT_RUN, "fmemopen");
	load_manifest(k, fp);
	fclose(fp);
}

static void
read_manifest_file(struct pack *k, FILE *fp)
{
	char *text = NULL;
	size_t len = 0, n;
	FILE *mem = open_memstream(&text, &len);

	while ((n = fread(k->buf, 1, CHUNK, fp)) > 0)
		fwrite(k->buf, 1, n, mem);
	if (ferror(fp))
		gb_err(GB_EXIT_RUN, "cannot read MANIFEST");
	fclose(mem);
	take_manifest(k, text, len);
}

static void
read_manifest_entry(struct pack *k, struct archive *in)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	ssize_t n;

	while ((n = archive_read_data(in, k->buf, CHUNK)) > 0)
		fwrite(k->buf, 1, (size_t)n, mem);
	if (n < 0)
		gb_errx(GB_EXIT_RUN, "cannot read MANIFEST: %s",
		    archive_error_string(in));
	fclose(mem);
	take_manifest(k, text, len);
}

static void
pack_dir(struct pack *k)
{
	char *path = gb_asprintf("%s/MANIFEST", k->input);
	FILE *fp = fopen(path, "r");
	DIR *d;
	struct dirent *de;

	if (!fp)
		gb_err(errno == ENOENT ? GB_EXIT_CHECK : GB_EXIT_RUN,
		    "not an export set: %s", path);
	read_manifest_file(k, fp);
	fclose(fp);
	free(path);

	/* Refuse extra files before writing a byte. */
	if (!(d = opendir(k->input)))
		gb_err(GB_EXIT_RUN, "cannot read %s", k->input);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, "MANIFEST") &&
		    which_file(k, de->d_name) == -2)
			gb_errx(GB_EXIT_CHECK, "not an export set: %s/%s is not "
			    "listed in the MANIFEST", k->input, de->d_name);
	closedir(d);
	for (long i = -1; i < 2 * (long)k->m.ntables; i++) {
		struct stat sb;
		if (i >= 0 && !gb_manifest_file(&k->m, (size_t)i))
			continue;
		path = gb_asprintf("%s/%s", k->input, i < 0 ? "SCHEMA.sql" :
		    gb_manifest_file(&k->m, (size_t)i)->file);
		if (stat(path, &sb) == -1)
			gb_err(errno == ENOENT ? GB_EXIT_CHECK : GB_EXIT_RUN,
			    "not an export set: %s", path);
		free(path);
	}

	start(k);
	for (long i = -1; i < 2 * (long)k->m.ntables; i++) {
		const struct gb_mtable *f = i < 0 ? NULL :
		    gb_manifest_file(&k->m, (size_t)i);
		const char *name = f ? f->file : "SCHEMA.sql";
		struct stat sb;
		int fd;

		if (i >= 0 && !f)
			continue;
		path = gb_asprintf("%s/%s", k->input, name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			gb_err(errno == ENOENT ? GB_EXIT_CHECK : GB_EXIT_RUN,
			    "not an export set: %s", path);
		if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode))
			gb_errx(GB_EXIT_CHECK, "not an export set: %s is not a "
			    "regular file", path);
		pack_file(k, name, sb.st_size, fd, NULL);
		close(fd);
		free(path);
	}
}

static void
pack_stream(struct pack *k)
{
	struct archive *in = archive_read_new();
	struct archive_entry *e;
	int r;

	archive_read_support_format_tar(in);
	/* libarchive reads the first block here: what it refuses is no tar */
	if (archive_read_open_fd(in, STDIN_FILENO, CHUNK) != ARCHIVE_OK)
		gb_errx(archive_errno(in) == EILSEQ ||	/* its "file format" */
		    archive_errno(in) == EINVAL || archive_errno(in) <= 0 ?
		    GB_EXIT_CHECK : GB_EXIT_RUN,
		    "not an export set: %s", archive_error_string(in));
	r = archive_read_next_header(in, &e);
	if (r != ARCHIVE_OK)
		gb_errx(GB_EXIT_CHECK, "not an export set: %s",
		    r == ARCHIVE_EOF ? "empty stream" : archive_error_string(in));
	if (strcmp(archive_entry_pathname(e), "MANIFEST") != 0 ||
	    archive_entry_filetype(e) != AE_IFREG)
		gb_errx(GB_EXIT_CHECK, "not an export set: the stream does not "
		    "start with MANIFEST");
	read_manifest_entry(k, in);
	start(k);
	while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		if (archive_entry_filetype(e) != AE_IFREG || strchr(name, '/'))
			gb_errx(GB_EXIT_CHECK, "not an export set: entry %s is "
			    "not a plain file name", name);
		pack_file(k, name, archive_entry_size(e), -1, in);
	}
	if (r != ARCHIVE_EOF)
		gb_errx(GB_EXIT_RUN, "cannot read the export stream: %s",
		    archive_error_string(in));
	archive_read_free(in);
}

int
main(int argc, char *argv[])
{
	struct pack k = { .level = DEFAULT_LEVEL, .threads = 0 };
	uint64_t total;
	long v;
	char *end;
	int c;

	gb_setprogname(argv[0]);
	atexit(gb_close_stdout);
	while ((c = getopt_long(argc, argv, "hj:l:q", gb_stdopts, NULL)) != -1)
		switch (c) {
		case 'h': usage(stdout, GB_EXIT_OK); break;
		case 'j':
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 256)
				gb_errx(GB_EXIT_USAGE, "-j wants 1 to 256 threads, "
				    "not %s", optarg);
			k.threads = (int)v;
			break;
		case 'l':
			v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < 1 || v > 9)
				gb_errx(GB_EXIT_USAGE, "-l wants a level from 1 "
				    "to 9, not %s", optarg);
			k.level = (int)v;
			break;
		case 'q': gb_progress_quiet(); break;
		case GB_OPT_VERSION: gb_version();
		default: usage(stderr, GB_EXIT_USAGE);
		}
	if (gb_input_operand(argc, argv, &k.input) == -1)
		usage(stderr, GB_EXIT_USAGE);
	k.threads = gb_threads(k.threads, 8);
	if (isatty(STDOUT_FILENO))
		gb_errx(GB_EXIT_USAGE, "the archive is binary: redirect stdout");
	if (!k.input && isatty(STDIN_FILENO))
		gb_errx(GB_EXIT_USAGE, "no export set: give a directory, or pipe "
		    "gb-export into gb-pack");
	gb_pipe_grow(STDOUT_FILENO);
	if (!k.input)
		gb_pipe_grow(STDIN_FILENO);
	k.buf = gb_malloc(CHUNK);
	gb_progress_start("read", 0, 0);

	if (k.input)
		pack_dir(&k);
	else
		pack_stream(&k);
	check_complete(&k);
	gb_progress_end();
	if (archive_write_close(k.out) != ARCHIVE_OK)
		gb_errx(GB_EXIT_RUN, "cannot write the archive: %s",
		    archive_error_string(k.out));
	archive_write_free(k.out);
	archive_entry_free(k.entry);
	if (gb_gzw_close(k.gz, &total) == -1 || gb_write_all(STDOUT_FILENO,
	    gb_pack_trailer, gb_pack_trailer_len) == -1)
		gb_err(GB_EXIT_RUN, "cannot write the archive");
	finished = 1;
	free(k.buf);
	free(k.seen);
	free(k.manifest_text);
	gb_manifest_free(&k.m);
	return GB_EXIT_OK;
}
