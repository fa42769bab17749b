/* check.c - compare a file of an export set with its MANIFEST entry */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gb.h"
#include "gb-pgp.h"

/* Reads through to the source, hashing, counting and copying. */
struct tee {
	gb_read_fn fn;
	void *arg;
	gb_write_fn sink;	/* where the bytes are copied, or NULL */
	void *sinkarg;
	int copy_errno, read_failed;
	struct gb_sha256 hash;
	uint64_t bytes;
};

static ssize_t
tee_read(void *arg, void *buf, size_t n)
{
	struct tee *t = arg;
	ssize_t r = t->fn(t->arg, buf, n);

	if (r < 0) {
		t->read_failed = 1;
		return -1;
	}
	gb_sha256_update(&t->hash, buf, (size_t)r);
	t->bytes += (uint64_t)r;
	if (t->sink && !t->copy_errno && r > 0 &&
	    t->sink(t->sinkarg, buf, (size_t)r) == -1)
		t->copy_errno = errno ? errno : EIO;
	return r;
}

/* The sink of a file descriptor: arg points to it. */
static int
fd_sink(void *arg, const void *buf, size_t n)
{
	return gb_write_all(*(int *)arg, buf, n);
}

static void
tee_start(struct tee *t, gb_read_fn fn, void *arg, gb_write_fn sink,
    void *sinkarg)
{
	memset(t, 0, sizeof *t);
	t->fn = fn;
	t->arg = arg;
	t->sink = sink;
	t->sinkarg = sinkarg;
	gb_sha256_init(&t->hash);
}

/* Ends the tee; -2 on I/O errors, else compares size and hash. */
static int
tee_finish(struct tee *t, const char *name, uint64_t bytes,
    const char *sha256, char *err, size_t errlen)
{
	char hex[65];

	gb_sha256_final(&t->hash, hex);
	if (t->read_failed) {
		snprintf(err, errlen, "%s: read error", name);
		return -2;
	}
	if (t->copy_errno) {
		snprintf(err, errlen, "%s: cannot write: %s", name,
		    strerror(t->copy_errno));
		return -2;
	}
	if (t->bytes != bytes) {
		snprintf(err, errlen, "%s: %" PRIu64 " bytes, the MANIFEST says "
		    "%" PRIu64, name, t->bytes, bytes);
		return -1;
	}
	if (strcmp(hex, sha256) != 0) {
		snprintf(err, errlen, "%s: SHA-256 differs from the MANIFEST",
		    name);
		return -1;
	}
	return 0;
}

int
gb_check_file(const char *name, uint64_t bytes, const char *sha256,
    gb_read_fn fn, void *arg, int copyfd, char *err, size_t errlen)
{
	struct tee t;
	char buf[65536];
	ssize_t n;

	tee_start(&t, fn, arg, copyfd >= 0 ? fd_sink : NULL, &copyfd);
	while ((n = tee_read(&t, buf, sizeof buf)) > 0)
		;
	return tee_finish(&t, name, bytes, sha256, err, errlen);
}

static int
parse_cents(const struct gb_csv_field *f, int64_t *v)
{
	char tmp[32], *end;

	if (f->n == 0 || f->n >= sizeof tmp || memchr(f->p, '\0', f->n))
		return -1;
	memcpy(tmp, f->p, f->n);
	tmp[f->n] = '\0';
	errno = 0;
	*v = strtoll(tmp, &end, 10);
	return errno || *end ? -1 : 0;
}

int
gb_check_table(const struct gb_mtable *mt, gb_read_fn fn, void *arg,
    int copyfd, gb_record_fn rec, void *recarg, char *err, size_t errlen)
{
	return gb_check_table_to(mt, fn, arg, copyfd >= 0 ? fd_sink : NULL,
	    &copyfd, rec, recarg, err, errlen);
}

int
gb_check_table_to(const struct gb_mtable *mt, gb_read_fn fn, void *arg,
    gb_write_fn sink, void *sinkarg, gb_record_fn rec, void *recarg,
    char *err, size_t errlen)
{
	struct tee t;
	struct gb_csv_reader *r;
	struct gb_csv_field *f;
	size_t nf, ncols = 0;
	int *money = NULL;	/* per column: 1 + index of its money sum */
	int64_t *sums = gb_calloc(mt->nmoney ? mt->nmoney : 1, sizeof *sums);
	uint64_t rows = 0;
	int got, status = 0, header = 1;

	tee_start(&t, fn, arg, sink, sinkarg);
	r = gb_csv_open_cb(tee_read, &t);
	while ((got = gb_csv_next(r, &f, &nf)) == 1) {
		if (header) {
			ncols = nf;
			money = gb_calloc(nf, sizeof *money);
			for (size_t k = 0; k < mt->nmoney; k++) {
				size_t c;
				for (c = 0; c < nf; c++)
					if (f[c].p && strlen(mt->money[k].column) ==
					    f[c].n && strncasecmp(f[c].p,
					    mt->money[k].column, f[c].n) == 0)
						break;
				if (c == nf) {
					snprintf(err, errlen, "%s: no column %s, "
					    "which the MANIFEST sums", mt->file,
					    mt->money[k].column);
					status = -1;
					goto out;
				}
				money[c] = (int)k + 1;
			}
		} else {
			if (nf != ncols) {
				snprintf(err, errlen, "%s: line %" PRIu64 ": %zu "
				    "fields, the header has %zu", mt->file,
				    gb_csv_line(r), nf, ncols);
				status = -1;
				goto out;
			}
			for (size_t c = 0; c < nf; c++) {
				int64_t v;
				if (!money[c] || !f[c].p)
					continue;
				if (parse_cents(&f[c], &v) == -1 ||
				    __builtin_add_overflow(sums[money[c] - 1], v,
				    &sums[money[c] - 1])) {
					snprintf(err, errlen, "%s: line %" PRIu64
					    ": money column %s is not integer "
					    "cents", mt->file, gb_csv_line(r),
					    mt->money[money[c] - 1].column);
					status = -1;
					goto out;
				}
			}
			rows++;
		}
		if (rec && (status = rec(recarg, f, nf, err, errlen)) != 0) {
			status = -2;
			goto out;
		}
		header = 0;
	}
	if (got == -1) {
		snprintf(err, errlen, "%s: %s", mt->file, gb_csv_error(r));
		status = t.read_failed ? -2 : -1;
		goto out;
	}
	if ((status = tee_finish(&t, mt->file, mt->bytes, mt->sha256, err,
	    errlen)) != 0)
		goto out_done;
	if (header) {
		snprintf(err, errlen, "%s: no header line", mt->file);
		status = -1;
	} else if (rows != mt->rows) {
		snprintf(err, errlen, "%s: %" PRIu64 " rows, the MANIFEST says "
		    "%" PRIu64, mt->file, rows, mt->rows);
		status = -1;
	} else
		for (size_t k = 0; k < mt->nmoney; k++)
			if (sums[k] != mt->money[k].sum) {
				snprintf(err, errlen, "%s: money column %s sums to "
				    "%" PRId64 ", the MANIFEST says %" PRId64,
				    mt->file, mt->money[k].column, sums[k],
				    mt->money[k].sum);
				status = -1;
				break;
			}
	goto out_done;
out:
	{
		char unused[65];
		gb_sha256_final(&t.hash, unused);
	}
out_done:
	gb_csv_close(r);
	free(money);
	free(sums);
	return status;
}

#define SMALL_MAX (16 << 20)	/* MANIFEST and SCHEMA.sql are read whole */

/*
 * A member read whole into a buffer of the size the MANIFEST gives it,
 * never more: one byte past it means the member is longer than its size.
 */
static char *
read_small(struct gb_unpack *u, const char *name, uint64_t size, size_t *len,
    char *err, size_t errlen)
{
	char *buf, extra;
	ssize_t n;

	if (size > SMALL_MAX) {
		snprintf(err, errlen, "%s: %" PRIu64 " bytes, more than the %d "
		    "MiB it may have", name, size, SMALL_MAX >> 20);
		return NULL;
	}
	buf = gb_malloc((size_t)size + 1);
	n = gb_read_full_cb(gb_unpack_read, u, buf, (size_t)size);
	if (n < 0 || (size_t)n != size ||
	    gb_read_full_cb(gb_unpack_read, u, &extra, 1) != 0) {
		snprintf(err, errlen, "%s: %s", name, n < 0 ? "read error" :
		    "not of the size its header gives");
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

int
gb_walk_archive(const char *archive, const struct gb_seal *s,
    const char *signer, const struct gb_walk *w, char *err, size_t errlen)
{
	const struct gb_manifest *m = &s->manifest;
	struct gb_unpack *u;
	struct gb_unpack_sums sums;
	char *seen = gb_calloc(2 * m->ntables + 1, 1), hex[65], why[512];
	const char *name;
	int64_t size;
	int rc = 0, status = 0, nentry = 0, closed;

	err[0] = '\0';
	if (!(u = gb_unpack_open(archive, err, errlen))) {
		free(seen);
		return -2;
	}
	while (status == 0 && (rc = gb_unpack_next(u, &name, &size, err,
	    errlen)) == 1) {
		size_t i = 2 * m->ntables;	/* SCHEMA.sql's slot in seen */
		int first = ++nentry == 1;
		uint64_t want;

		if (first != (strcmp(name, "MANIFEST") == 0)) {
			snprintf(err, errlen, "MANIFEST is not the first member");
			status = -1;
			break;
		}
		if (!first && strcmp(name, "SCHEMA.sql") != 0) {
			for (i = 0; i < 2 * m->ntables; i++)
				if (gb_manifest_file(m, i) &&
				    strcmp(gb_manifest_file(m, i)->file, name) == 0)
					break;
			if (i == 2 * m->ntables) {
				snprintf(err, errlen, "%s is not in the MANIFEST",
				    name);
				status = -1;
				break;
			}
		}
		if (!first && seen[i]++) {
			snprintf(err, errlen, "%s appears twice", name);
			status = -1;
			break;
		}
		/* Every member is of the size the seal's MANIFEST gives. */
		want = first ? s->manifest_len : i == 2 * m->ntables ?
		    m->schema_bytes : gb_manifest_file(m, i)->bytes;
		if ((uint64_t)size != want) {
			snprintf(err, errlen, "%s: %" PRId64 " bytes in the "
			    "archive, the %s says %" PRIu64, name, size, first ?
			    "seal" : "MANIFEST", want);
			status = -1;
			break;
		}
		if (first || i == 2 * m->ntables) {	/* read whole, checked */
			struct gb_sha256 h;
			size_t n;
			char *buf = read_small(u, name, want, &n, err, errlen);
			if (!buf) {
				status = -1;
				break;
			}
			if (first && memcmp(buf, s->manifest_text, n)) {
				snprintf(err, errlen, "MANIFEST differs from the "
				    "one in the seal");
				status = -1;
			} else if (!first) {
				gb_sha256_init(&h);
				gb_sha256_update(&h, buf, n);
				gb_sha256_final(&h, hex);
				if (strcmp(hex, m->schema_sha256)) {
					snprintf(err, errlen, "SCHEMA.sql differs "
					    "from the MANIFEST");
					status = -1;
				}
			}
			if (status == 0 && w->small)
				status = w->small(w->arg, name, buf, n, err,
				    errlen);
			free(buf);
		} else if (i < m->ntables)
			status = w->table(w->arg, i, u, err, errlen);
		else if (w->deletes)
			status = w->deletes(w->arg, i - m->ntables, u, err, errlen);
		else	/* a list of deleted keys: checked as a table is */
			status = gb_check_table(gb_manifest_file(m, i),
			    gb_unpack_read, u, -1, NULL, NULL, err, errlen);
	}
	if (status == 0 && rc == -1)
		status = -1;
	for (size_t i = 0; status == 0 && i <= 2 * m->ntables; i++)
		if (!seen[i] && (i == 2 * m->ntables || gb_manifest_file(m, i))) {
			snprintf(err, errlen, "%s is missing", i < 2 * m->ntables ?
			    gb_manifest_file(m, i)->file : "SCHEMA.sql");
			status = -1;
		}
	/*
	 * What was read of the file is what the seal is of, before all; then
	 * the signature and the decryption outrank what was found above.
	 */
	closed = gb_unpack_close(u, signer, &sums, why, sizeof why);
	if (closed < -1) {	/* the caller names the archive */
		snprintf(err, errlen, "%s", why);
		status = closed;
	} else if (sums.size != s->size || strcmp(sums.sha256, s->sha256)) {
		snprintf(err, errlen, "size or SHA-256 of the bytes read differs "
		    "from the seal (truncated, altered or replaced)");
		status = -1;
	} else if (closed == -1) {
		snprintf(err, errlen, "%s", why);
		status = -1;
	} else if (status == 0 && (sums.packed_size != s->packed_size ||
	    strcmp(sums.packed_sha256, s->packed_sha256) != 0)) {
		snprintf(err, errlen, "the packed archive differs from the "
		    "seal's hash");
		status = -1;
	}
	free(seen);
	return status;
}
