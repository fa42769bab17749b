/*
 * gzip.c - multi-member gzip, written on all cores (pigz-style) and read
 * back in order.  Every member is an independent gzip member, so any gzip
 * reader accepts the whole, and members compress and decompress in
 * parallel.  Writer: the caller fills chunks; workers deflate them; the
 * caller's thread writes the results in order.  Memory is bounded by
 * the chunks in flight (gb_workers_jobs).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <isa-l.h>
#include <zlib.h>

#include "gb.h"

struct job {
	struct gb_work pj;	/* first: the workers hand it back */
	unsigned char *in, *out;
	size_t inlen, outlen, outcap;
	unsigned char *isalbuf;	/* ISA-L's hash tables, levels 1 to 3 */
};

struct gb_gzw {
	int fd, level, err;
	size_t chunk;
	struct gb_workers *workers;
	struct job *ring;	/* the jobs in flight, round robin */
	size_t nring, head, count;	/* oldest job in flight, how many */
	struct job *cur;	/* being filled, not yet queued */
	uint64_t bytes_out;
};

/*
 * A member's header carries its own compressed size in an extra field
 * (subfield "GB", as BGZF does with "BC"), so a reader can cut the
 * stream into members without inflating and inflate them in parallel.
 * Other gzip readers skip the extra field.  mtime 0: same input, same
 * bytes.
 */
#define HDR 20		/* 10 fixed + XLEN 2 + subfield 4 + size 4 */
#define TRL 8		/* CRC32, ISIZE */

static void
le32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8 & 0xff;
	p[2] = v >> 16 & 0xff;
	p[3] = v >> 24 & 0xff;
}

/*
 * Levels 1 to 3 use ISA-L's igzip, levels 4 to 9 zlib.  On the reference
 * gym igzip's level 1 deflates 3.7 times faster than zlib's and packs
 * smaller (gb-pack(1) has the figures); zlib stays for those who want the
 * last few per cent.  Both write plain deflate any gzip reader inflates.
 */
static const uint32_t isal_bufsize[] = {
	0, ISAL_DEF_LVL1_DEFAULT, ISAL_DEF_LVL2_DEFAULT, ISAL_DEF_LVL3_DEFAULT
};

static int
deflate_isal(struct job *j, int level)
{
	struct isal_zstream s;

	if (!j->isalbuf && !(j->isalbuf = calloc(1, isal_bufsize[level])))
		return -1;
	memset(&s, 0, sizeof s);
	isal_deflate_stateless_init(&s);
	s.level = (uint32_t)level;
	s.level_buf = j->isalbuf;
	s.level_buf_size = isal_bufsize[level];
	s.end_of_stream = 1;
	s.next_in = j->in;
	s.avail_in = (uint32_t)j->inlen;
	s.next_out = j->out + HDR;
	s.avail_out = (uint32_t)(j->outcap - HDR - TRL);
	if (isal_deflate_stateless(&s) != COMP_OK)
		return -1;
	j->outlen = s.total_out;
	return 0;
}

static int
deflate_zlib(struct job *j, int level)
{
	z_stream z;
	int r;

	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, level, Z_DEFLATED, -15, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	z.next_in = j->in;
	z.avail_in = (uInt)j->inlen;
	z.next_out = j->out + HDR;
	z.avail_out = (uInt)(j->outcap - HDR - TRL);
	r = deflate(&z, Z_FINISH);
	j->outlen = z.total_out;
	deflateEnd(&z);
	return r == Z_STREAM_END ? 0 : -1;
}

static int
deflate_job(struct job *j, int level)
{
	/* Above both libraries' worst case (zlib's deflateBound). */
	size_t bound = HDR + j->inlen + j->inlen / 2048 + 64 + TRL;
	unsigned char *o;

	if (bound > j->outcap) {
		free(j->out);
		j->out = malloc(bound);
		j->outcap = j->out ? bound : 0;
		if (!j->out)
			return -1;
	}
	if ((level <= ISAL_DEF_MAX_LEVEL ? deflate_isal(j, level) :
	    deflate_zlib(j, level)) == -1)
		return -1;
	j->outlen += HDR + TRL;
	o = j->out;
	memcpy(o, "\x1f\x8b\x08\x04\0\0\0\0\0\x03" "\x08\0" "GB\x04\0", 16);
	le32(o + 16, (uint32_t)j->outlen);
	le32(o + j->outlen - 8, crc32_gzip_refl(0, j->in, j->inlen));
	le32(o + j->outlen - 4, (uint32_t)j->inlen);
	return 0;
}

static int
run(struct gb_work *pj, void *arg)
{
	const struct gb_gzw *g = arg;

	return deflate_job((struct job *)pj, g->level);
}

struct gb_gzw *
gb_gzw_open(int fd, int level, int threads, size_t chunk)
{
	struct gb_gzw *g = gb_calloc(1, sizeof *g);

	g->fd = fd;
	g->level = level;
	g->chunk = chunk;
	g->workers = gb_workers_open(threads, run, g);
	g->nring = gb_workers_jobs(g->workers);
	g->ring = gb_calloc(g->nring, sizeof *g->ring);
	for (size_t i = 0; i < g->nring; i++)
		g->ring[i].in = gb_malloc(chunk);
	g->cur = &g->ring[0];
	return g;
}

/* Waits for the oldest job in flight and writes its member. */
static void
retire(struct gb_gzw *g)
{
	struct job *j = &g->ring[g->head];

	if (gb_workers_wait(g->workers, &j->pj) == -1 && !g->err)
		g->err = ENOMEM;
	if (!g->err && gb_write_all(g->fd, j->out, j->outlen) == -1)
		g->err = errno;
	g->bytes_out += j->outlen;
	j->inlen = 0;
	g->head = (g->head + 1) % g->nring;
	g->count--;
}

void
gb_gzw_cut(struct gb_gzw *g)
{
	struct job *j = g->cur;

	if (j->inlen == 0)
		return;
	gb_workers_put(g->workers, &j->pj);
	g->count++;
	if (g->count == g->nring)
		retire(g);
	g->cur = &g->ring[(g->head + g->count) % g->nring];
}

void
gb_gzw_write(struct gb_gzw *g, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n > 0) {
		size_t k = g->chunk - g->cur->inlen;
		if (k > n)
			k = n;
		memcpy(g->cur->in + g->cur->inlen, b, k);
		g->cur->inlen += k;
		b += k;
		n -= k;
		if (g->cur->inlen == g->chunk)
			gb_gzw_cut(g);
	}
}

static void
gzw_free(struct gb_gzw *g)
{
	gb_workers_close(g->workers);
	for (size_t i = 0; i < g->nring; i++) {
		free(g->ring[i].in);
		free(g->ring[i].out);
		free(g->ring[i].isalbuf);
	}
	free(g->ring);
	free(g);
}

int
gb_gzw_close(struct gb_gzw *g, uint64_t *bytes_out)
{
	int err;

	gb_gzw_cut(g);
	while (g->count > 0)
		retire(g);
	err = g->err;
	if (bytes_out)
		*bytes_out = g->bytes_out;
	gzw_free(g);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

void
gb_gzw_abort(struct gb_gzw *g)
{
	/* Let the workers finish what they hold, write nothing more. */
	g->err = g->err ? g->err : ECANCELED;
	while (g->count > 0)
		retire(g);
	gzw_free(g);
}

/*
 * The end mark of a packed archive: an empty gzip member whose comment says
 * so.  Every gzip reader skips it; gb-seal refuses input that lacks it, so
 * the output of a gb-pack that failed half-way is never sealed.
 */
#define END_COMMENT "gymbackup: end of packed archive"
const unsigned char gb_pack_trailer[] =
    "\x1f\x8b\x08\x10" "\0\0\0\0" "\0\xff"	/* FCOMMENT, no mtime */
    END_COMMENT "\0"
    "\x03\0"					/* an empty deflate block */
    "\0\0\0\0" "\0\0\0";	/* CRC32 0, ISIZE 0 (the literal ends in its 4th NUL) */
const size_t gb_pack_trailer_len = sizeof gb_pack_trailer;
