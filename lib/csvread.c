/* csvread.c - streaming reader for the export CSV dialect (csv.c writes it) */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gb.h"

#define INBUF (256 * 1024)

/*
 * Input is read in large blocks; field bytes are unescaped into one record
 * buffer reused for every record, so memory is bounded by the longest
 * record (plus one block), and a record is refused past GB_CSV_RECORD_MAX
 * bytes or GB_CSV_FIELDS_MAX fields: one hostile field must not take all
 * the memory there is.  Fields are kept as offsets while the record
 * buffer may still move, and turned into pointers when the record is
 * complete.
 */
struct gb_csv_reader {
	gb_read_fn fn;
	void *arg;
	int fd;
	unsigned char *in;
	size_t len, pos;	/* bytes in in[], next byte to parse */
	int eof;
	char *rec;
	size_t rlen, rcap;
	struct gb_csv_field *f;
	size_t *off;		/* offset in rec, or NOOFF for NULL */
	size_t nf, fcap;
	uint64_t line;		/* newlines consumed so far */
	uint64_t recline;	/* first line of the last record */
	int failed;
	char err[160];
};

#define NOOFF ((size_t)-1)

/* Bytes that end a run of plain data, unquoted and quoted. */
static const unsigned char plain_stop[256] = {
	[','] = 1, ['\n'] = 1, ['\r'] = 1, ['"'] = 1
};
static const unsigned char quoted_stop[256] = { ['"'] = 1, ['\n'] = 1 };

#define ERR (-2)	/* field parser failed; EOF (-1) ends a record */

static ssize_t
fd_read(void *arg, void *buf, size_t n)
{
	struct gb_csv_reader *r = arg;

	return gb_read_full(r->fd, buf, n);
}

struct gb_csv_reader *
gb_csv_open(int fd)
{
	struct gb_csv_reader *r = gb_csv_open_cb(fd_read, NULL);

	r->arg = r;
	r->fd = fd;
	return r;
}

struct gb_csv_reader *
gb_csv_open_cb(gb_read_fn fn, void *arg)
{
	struct gb_csv_reader *r = gb_calloc(1, sizeof *r);

	r->fn = fn;
	r->arg = arg;
	r->fd = -1;
	r->in = gb_malloc(INBUF);
	r->rcap = 4096;
	r->rec = gb_malloc(r->rcap);
	r->fcap = 16;
	r->f = gb_malloc(r->fcap * sizeof *r->f);
	r->off = gb_malloc(r->fcap * sizeof *r->off);
	return r;
}

void
gb_csv_close(struct gb_csv_reader *r)
{
	if (!r)
		return;
	free(r->in);
	free(r->rec);
	free(r->f);
	free(r->off);
	free(r);
}

const char *
gb_csv_error(const struct gb_csv_reader *r)
{
	return r->failed ? r->err : "no error";
}

uint64_t
gb_csv_line(const struct gb_csv_reader *r)
{
	return r->recline;
}

static int fail(struct gb_csv_reader *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct gb_csv_reader *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(r->err, sizeof r->err, "line %llu: ",
	    (unsigned long long)r->line + 1);
	va_start(ap, fmt);
	vsnprintf(r->err + n, sizeof r->err - (size_t)n, fmt, ap);
	va_end(ap);
	r->failed = 1;
	return -1;
}

/* 1 bytes available, 0 end of input, -1 read error. */
static int
fill(struct gb_csv_reader *r)
{
	ssize_t n;

	if (r->pos < r->len)
		return 1;
	if (r->eof)
		return 0;
	if ((n = gb_read_full_cb(r->fn, r->arg, r->in, INBUF)) < 0)
		return fail(r, "read error: %s", strerror(errno));
	r->len = (size_t)n;
	r->pos = 0;
	if (n == 0)
		r->eof = 1;
	return n > 0;
}

/* Room for n more bytes in the record buffer; n <= GB_CSV_RECORD_MAX - rlen. */
static inline void
reserve(struct gb_csv_reader *r, size_t n)
{
	if (n > r->rcap - r->rlen) {
		while (n > r->rcap - r->rlen)
			r->rcap *= 2;
		if (r->rcap > GB_CSV_RECORD_MAX)
			r->rcap = GB_CSV_RECORD_MAX;
		r->rec = gb_realloc(r->rec, r->rcap);
	}
}

/* These two name the line the record starts on; the reader is done. */
static int
toolong(struct gb_csv_reader *r)
{
	r->line = r->recline - 1;
	return fail(r, "record longer than %d MiB, the most a record may "
	    "have", GB_CSV_RECORD_MAX >> 20);
}

/* 0, or -1 when the record is full. */
static int
append1(struct gb_csv_reader *r, char c)
{
	if (r->rlen == GB_CSV_RECORD_MAX)
		return toolong(r);
	reserve(r, 1);
	r->rec[r->rlen++] = c;
	return 0;
}

/*
 * Copies input bytes up to the next one in stop[] (or the end of the
 * block) into the record.  Most fields are short: a byte loop into space
 * reserved for the whole rest of the block beats a memcpy call per field.
 * NULL at the end of the block, or when the record is full (r->failed).
 */
static inline const unsigned char *
copyrun(struct gb_csv_reader *r, const unsigned char *stop)
{
	const unsigned char *q = r->in + r->pos, *e = r->in + r->len, *lim = e;
	char *w;

	if ((size_t)(e - q) > GB_CSV_RECORD_MAX - r->rlen)
		lim = q + (GB_CSV_RECORD_MAX - r->rlen);
	reserve(r, (size_t)(lim - q));
	w = r->rec + r->rlen;
	while (q < lim && !stop[*q])
		*w++ = (char)*q++;
	r->rlen = (size_t)(w - r->rec);
	r->pos = (size_t)(q - r->in);
	if (q < e && !stop[*q]) {
		toolong(r);
		return NULL;
	}
	return q < e ? q : NULL;
}

/* 0, or -1 when the record has too many fields. */
static inline int
addfield(struct gb_csv_reader *r, size_t off)
{
	if (r->nf == GB_CSV_FIELDS_MAX) {
		r->line = r->recline - 1;
		return fail(r, "record of more than %d fields, the most a "
		    "record may have", GB_CSV_FIELDS_MAX);
	}
	if (r->nf == r->fcap) {
		r->fcap *= 2;
		r->f = gb_realloc(r->f, r->fcap * sizeof *r->f);
		r->off = gb_realloc(r->off, r->fcap * sizeof *r->off);
	}
	r->off[r->nf] = off;
	r->f[r->nf].n = off == NOOFF ? 0 : r->rlen - off;
	r->nf++;
	return 0;
}

/* After a CR: 1 if an LF follows (and is taken), else -1. */
static int
crlf(struct gb_csv_reader *r)
{
	int k = fill(r);

	if (k < 0)
		return -1;
	if (k == 0 || r->in[r->pos] != '\n')
		return fail(r, "carriage return not followed by line feed "
		    "outside quotes");
	r->pos++;
	return 1;
}

/* An unquoted field: its terminator ',', '\n' or EOF, or ERR. */
static int
plain(struct gb_csv_reader *r)
{
	size_t off = r->rlen;
	int k, c;

	for (;;) {
		const unsigned char *q;

		if ((k = fill(r)) < 0)
			return ERR;
		if (k == 0) {
			c = EOF;
			break;
		}
		if (!(q = copyrun(r, plain_stop))) {
			if (r->failed)
				return ERR;
			continue;
		}
		c = *q;
		r->pos++;
		if (c == ',' || c == '\n')
			break;
		if (c == '"') {
			fail(r, "quote inside an unquoted field");
			return ERR;
		}
		if (crlf(r) < 0)
			return ERR;
		c = '\n';
		break;
	}
	if (addfield(r, r->rlen == off ? NOOFF : off) == -1)
		return ERR;
	return c;
}

/* A quoted field, opening quote taken: terminator as for plain(). */
static int
quoted(struct gb_csv_reader *r)
{
	size_t off = r->rlen;
	uint64_t opened = r->line + 1;
	int k, c;

	for (;;) {
		const unsigned char *q;

		if ((k = fill(r)) < 0)
			return ERR;
		if (k == 0) {
			fail(r, "unterminated quoted field (opened on line "
			    "%llu)", (unsigned long long)opened);
			return ERR;
		}
		if (!(q = copyrun(r, quoted_stop))) {
			if (r->failed)
				return ERR;
			continue;
		}
		r->pos++;
		if (*q == '\n') {
			r->line++;
			if (append1(r, '\n') == -1)
				return ERR;
			continue;
		}
		/* A quote: doubled, or the end of the field. */
		if ((k = fill(r)) < 0)
			return ERR;
		if (k == 0) {
			c = EOF;
			break;
		}
		c = r->in[r->pos++];
		if (c == '"') {
			if (append1(r, '"') == -1)
				return ERR;
			continue;
		}
		if (c == ',' || c == '\n')
			break;
		if (c == '\r') {
			if (crlf(r) < 0)
				return ERR;
			c = '\n';
			break;
		}
		if (c >= 0x20 && c < 0x7f)
			fail(r, "'%c' after a closing quote (expected ',' or "
			    "end of line)", c);
		else
			fail(r, "byte 0x%02x after a closing quote (expected "
			    "',' or end of line)", c);
		return ERR;
	}
	if (addfield(r, off) == -1)
		return ERR;
	return c;
}

int
gb_csv_next(struct gb_csv_reader *r, struct gb_csv_field **fields,
    size_t *nfields)
{
	int k, c;

	if (r->failed)
		return -1;
	if ((k = fill(r)) <= 0)
		return k;
	r->rlen = r->nf = 0;
	r->recline = r->line + 1;
	do {
		if ((k = fill(r)) < 0)
			return -1;
		if (k > 0 && r->in[r->pos] == '"') {
			r->pos++;
			c = quoted(r);
		} else
			c = plain(r);
		if (c == ERR)
			return -1;
	} while (c == ',');
	if (c == '\n')
		r->line++;
	for (size_t i = 0; i < r->nf; i++)
		r->f[i].p = r->off[i] == NOOFF ? NULL : r->rec + r->off[i];
	*fields = r->f;
	*nfields = r->nf;
	return 1;
}
