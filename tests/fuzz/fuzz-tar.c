/*
 * fuzz-tar.c - the packed archive inside a sealed one, as gb-verify --deep
 * and gb-restore --test read it: gunzip, the tar walk and its entry rules,
 * MANIFEST, SCHEMA.sql and each table's CSV checked (gb_walk_archive, the
 * same call the tools make).
 *
 * An input that is not gzip is a plain tar, gzipped here first, so that
 * mutations reach the tar headers (tests/fuzz/fuzz-gzip.c fuzzes the
 * compressed side).
 *
 * The walk only exists behind decryption (lib/unpack.c); here decryption
 * is the identity: this file's gb_gpg_run, which the executable's own
 * definition makes the one the library calls (lib/gpg.c holds nothing
 * else the walk needs), copies the input through and says it decrypted.
 * The inner signature then fails, as it must, after the walk.  The seal is made from the input's own MANIFEST (read first with
 * plain libarchive), so that an archive that agrees with itself gets as
 * far as its tables.
 */
#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include "fuzz.h"

int
gb_gpg_run(const char *const *args, const struct gb_gpg_io *io, char *err,
    size_t errlen)
{
	char buf[65536];
	ssize_t n;

	*err = '\0';
	while ((n = io->in(io->arg, buf, sizeof buf)) > 0)
		if (gb_write_all(io->outfd, buf, (size_t)n) == -1)
			return -2;
	if (n < 0)
		return -2;
	io->status(io->arg, "DECRYPTION_OKAY");
	return 0;
}

/* A plain tar as one gzip member (malloc'd). */
static unsigned char *
gzip_tar(const uint8_t *data, size_t size, size_t *len)
{
	z_stream z = { 0 };
	unsigned char *out;

	if (deflateInit2(&z, 1, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	out = gb_malloc(deflateBound(&z, size) + 64);
	z.next_in = (unsigned char *)data;
	z.avail_in = (uInt)size;
	z.next_out = out;
	z.avail_out = (uInt)deflateBound(&z, size) + 64;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		abort();
	*len = z.total_out;
	deflateEnd(&z);
	return out;
}

/* The first member's bytes if it is MANIFEST, else NULL. */
static char *
first_manifest(const uint8_t *data, size_t size, size_t *len)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char *text = NULL;
	la_ssize_t n;

	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, data, size) == ARCHIVE_OK &&
	    archive_read_next_header(a, &e) == ARCHIVE_OK &&
	    strcmp(archive_entry_pathname(e) ? archive_entry_pathname(e) : "",
	    "MANIFEST") == 0) {
		text = gb_malloc(1 << 20);
		n = archive_read_data(a, text, 1 << 20);
		*len = n > 0 ? (size_t)n : 0;
	}
	archive_read_free(a);
	return text;
}

/* How far an input got: members read whole, tables that checked out. */
struct walked {
	struct gb_seal s;
	int small, tables;
};

static int
small(void *arg, const char *name, const char *buf, size_t n, char *err,
    size_t errlen)
{
	struct walked *wk = arg;

	fuzz_touch(buf, n);
	wk->small++;
	return 0;
}

static int
table(void *arg, size_t i, struct gb_unpack *u, char *err, size_t errlen)
{
	struct walked *wk = arg;
	int r = gb_check_table_to(&wk->s.manifest.tables[i], gb_unpack_read, u,
	    NULL, NULL, fuzz_rec, NULL, err, errlen);

	if (r == 0)
		wk->tables++;
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct walked wk = { 0 };
	struct gb_seal *s = &wk.s;
	struct gb_walk w = { .small = small, .table = table, .arg = &wk };
	struct gb_sha256 h;
	unsigned char *gz = NULL;
	char *path, *text, err[512];
	size_t len = 0;
	FILE *fp;
	int r;

	if (size < 2 || data[0] != 0x1f || data[1] != 0x8b)
		data = gz = gzip_tar(data, size, &size);
	path = fuzz_file("a.tar.gz.gpg", data, size);
	text = first_manifest(data, size, &len);

	if (text && (fp = fmemopen(text, len ? len : 1, "r"))) {
		if (gb_manifest_read(&s->manifest, fp, err, sizeof err) == -1)
			memset(&s->manifest, 0, sizeof s->manifest);
		fclose(fp);
	}
	s->manifest_text = text ? text : gb_strdup("");
	s->manifest_len = len;
	/* the seal's sums of the file and of the packed archive: both these
	 * bytes, as decryption is the identity */
	gb_sha256_init(&h);
	gb_sha256_update(&h, data, size);
	gb_sha256_final(&h, s->sha256);
	memcpy(s->packed_sha256, s->sha256, sizeof s->sha256);
	s->size = s->packed_size = size;
	r = gb_walk_archive(path, s, "0000000000000000000000000000000000000000",
	    &w, err, sizeof err);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz-tar: %d small, %d of %zu tables checked; "
		    "%d: %s\n", wk.small, wk.tables, s->manifest.ntables, r, err);
	gb_manifest_free(&s->manifest);
	free(s->manifest_text);
	free(path);
	free(gz);
	return 0;
}
