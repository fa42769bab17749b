/*
 * gzread.c - read a multi-member gzip stream, inflating on several
 * threads.  Members that carry their size (gb-pack's "GB" extra field) are
 * cut from the input without inflating and handed to workers; output comes
 * back in order.  Any other member (the end mark, or gzip from elsewhere)
 * is inflated in the reader's own thread, streaming.  Memory is bounded by
 * the members in flight (gb_workers_jobs).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l.h>
#include <zlib.h>

#include "gb.h"

#define MEMBER_MAX (64u << 20)	/* a GB member larger than this is bad */
#define INBUF (1 << 20)
#define GZR_THREADS 4	/* inflating threads, at most */

struct rjob {
	struct gb_work pj;	/* first: the workers hand it back */
	unsigned char *in, *out;
	size_t inlen, incap, outlen, outcap, outpos;
	int stream;		/* inflate in the reader thread */
};

struct gb_gzr {
	gb_read_fn fn;
	void *arg;
	int eof, err;
	char errmsg[128];
	unsigned char *in;	/* compressed input not yet cut into members */
	size_t inpos, inlen, incap;
	struct gb_workers *workers;
	struct rjob *ring;	/* the jobs in flight, round robin */
	size_t nring, head, count;
	int blocked;		/* a stream member is queued: parse no further */
	z_stream z;		/* for stream members */
	int zactive;
};

static uint32_t
get32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * Inflates one whole GB member with ISA-L (2.7 times zlib's speed on the
 * reference gym) and checks its CRC and length.
 */
static int
inflate_job(struct gb_work *pj, void *unused)
{
	struct rjob *j = (struct rjob *)pj;
	const unsigned char *m = j->in;
	size_t hdr = 10 + 2 + (m[10] | m[11] << 8);
	uint32_t isize, crc;
	struct inflate_state s;

	if (j->inlen < hdr + 8 || (m[3] & ~0x04))	/* only FEXTRA set */
		return -1;
	isize = get32(m + j->inlen - 4);
	crc = get32(m + j->inlen - 8);
	if (isize > MEMBER_MAX)
		return -1;
	if (isize + 1 > j->outcap) {
		free(j->out);
		j->outcap = isize + 1;
		if (!(j->out = malloc(j->outcap))) {
			j->outcap = 0;
			return -1;
		}
	}
	isal_inflate_init(&s);
	s.next_in = (unsigned char *)m + hdr;
	s.avail_in = (uint32_t)(j->inlen - hdr - 8);
	s.next_out = j->out;
	s.avail_out = (uint32_t)j->outcap;
	if (isal_inflate_stateless(&s) != ISAL_DECOMP_OK)
		return -1;
	j->outlen = s.total_out;
	if (s.avail_in != 0 || j->outlen != isize ||
	    crc32_gzip_refl(0, j->out, j->outlen) != crc)
		return -1;
	return 0;
}

struct gb_gzr *
gb_gzr_open(gb_read_fn fn, void *arg, int threads)
{
	struct gb_gzr *g = gb_calloc(1, sizeof *g);

	g->fn = fn;
	g->arg = arg;
	/*
	 * What reads the tar (CSV checks, a database) takes it at well under
	 * 1 GB/s, what one thread inflates: 4 threads, 8 members in flight
	 * (about 10 MiB, where 16 held 20) keep ahead of it.
	 */
	if (threads > GZR_THREADS)
		threads = GZR_THREADS;
	g->workers = gb_workers_open(threads, inflate_job, NULL);
	g->nring = gb_workers_jobs(g->workers);
	g->ring = gb_calloc(g->nring, sizeof *g->ring);
	g->incap = INBUF;
	g->in = gb_malloc(g->incap);
	return g;
}

static int
fail(struct gb_gzr *g, const char *why)
{
	if (!g->err) {
		g->err = 1;
		snprintf(g->errmsg, sizeof g->errmsg, "%s", why);
	}
	return -1;
}

/* At least n bytes of input at inpos, unless the input ends first. */
static size_t
avail(struct gb_gzr *g, size_t n)
{
	if (g->inlen - g->inpos >= n || g->eof)
		return g->inlen - g->inpos;
	memmove(g->in, g->in + g->inpos, g->inlen - g->inpos);
	g->inlen -= g->inpos;
	g->inpos = 0;
	if (n > g->incap) {
		g->incap = n;
		g->in = gb_realloc(g->in, g->incap);
	}
	while (g->inlen < n && !g->eof) {
		ssize_t r = g->fn(g->arg, g->in + g->inlen, g->incap - g->inlen);
		if (r < 0) {
			fail(g, "read error");
			g->eof = 1;
		} else if (r == 0)
			g->eof = 1;
		g->inlen += r > 0 ? (size_t)r : 0;
	}
	return g->inlen - g->inpos;
}

/* Cuts the next member and queues it; 0 at the end of input, -1 error. */
static int
queue_member(struct gb_gzr *g)
{
	struct rjob *j = &g->ring[(g->head + g->count) % g->nring];
	const unsigned char *h;
	uint32_t size = 0;

	if (avail(g, 12) == 0)
		return 0;
	h = g->in + g->inpos;
	if (g->inlen - g->inpos < 12 || h[0] != 0x1f || h[1] != 0x8b ||
	    h[2] != 8)
		return fail(g, "not gzip data (or trailing garbage)");
	if ((h[3] & 0x04) && avail(g, 20) >= 20) {
		h = g->in + g->inpos;
		if ((h[10] | h[11] << 8) == 8 && h[12] == 'G' && h[13] == 'B' &&
		    h[14] == 4 && h[15] == 0)
			size = get32(h + 16);
	}
	j->outpos = j->outlen = 0;
	g->count++;
	if (!size) {		/* not one of ours: inflate it streaming */
		j->stream = 1;
		g->blocked = 1;
		return 1;
	}
	j->stream = 0;
	if (size < 28 || size > MEMBER_MAX)
		return fail(g, "bad member size");
	if (avail(g, size) < size)
		return fail(g, "truncated gzip member");
	if (size > j->incap) {
		free(j->in);
		j->incap = size;
		j->in = gb_malloc(size);
	}
	memcpy(j->in, g->in + g->inpos, size);
	j->inlen = size;
	g->inpos += size;
	gb_workers_put(g->workers, &j->pj);
	return 1;
}

/* Inflates a stream member straight into buf. */
static ssize_t
read_stream(struct gb_gzr *g, struct rjob *j, unsigned char *buf, size_t n)
{
	int r;

	if (!g->zactive) {
		memset(&g->z, 0, sizeof g->z);
		if (inflateInit2(&g->z, 15 + 16) != Z_OK)
			return fail(g, "zlib");
		g->zactive = 1;
	}
	g->z.next_out = buf;
	g->z.avail_out = (uInt)n;
	do {
		if (avail(g, 1) == 0)
			return fail(g, "truncated gzip member");
		g->z.next_in = g->in + g->inpos;
		g->z.avail_in = (uInt)(g->inlen - g->inpos);
		r = inflate(&g->z, Z_NO_FLUSH);
		g->inpos = (size_t)(g->z.next_in - g->in);
		if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
			return fail(g, "corrupt gzip member");
	} while (r != Z_STREAM_END && g->z.avail_out == n);
	if (r == Z_STREAM_END) {
		inflateEnd(&g->z);
		g->zactive = 0;
		j->outpos = j->outlen = 0;	/* used up */
		j->stream = 2;			/* finished */
	}
	return (ssize_t)(n - g->z.avail_out);
}

ssize_t
gb_gzr_read(void *arg, void *buf, size_t n)
{
	struct gb_gzr *g = arg;

	for (;;) {
		struct rjob *j;
		if (g->err)
			return -1;
		/* keep the workers busy */
		while (!g->blocked && g->count < g->nring) {
			int r = queue_member(g);
			if (r < 0)
				return -1;
			if (r == 0)
				break;
		}
		if (g->count == 0)
			return 0;
		j = &g->ring[g->head];
		if (j->stream == 1) {
			ssize_t r = read_stream(g, j, buf, n);
			if (r != 0 || j->stream == 1)
				return r;
		} else if (j->stream == 0) {	/* 2: a stream member, used up */
			if (gb_workers_wait(g->workers, &j->pj) == -1)
				return fail(g, "corrupt gzip member (CRC or length)");
			if (j->outpos < j->outlen) {
				size_t k = j->outlen - j->outpos < n ?
				    j->outlen - j->outpos : n;
				memcpy(buf, j->out + j->outpos, k);
				j->outpos += k;
				return (ssize_t)k;
			}
		}
		if (j->stream == 2)
			g->blocked = 0;
		j->stream = 0;
		g->head = (g->head + 1) % g->nring;
		g->count--;
	}
}

const char *
gb_gzr_error(const struct gb_gzr *g)
{
	return g->err ? g->errmsg : NULL;
}

void
gb_gzr_close(struct gb_gzr *g)
{
	if (!g)
		return;
	gb_workers_close(g->workers);	/* queued work is dropped */
	if (g->zactive)
		inflateEnd(&g->z);
	for (size_t i = 0; i < g->nring; i++) {
		free(g->ring[i].in);
		free(g->ring[i].out);
	}
	free(g->ring);
	free(g->in);
	free(g);
}
