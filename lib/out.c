/*
 * out.c - hashed I/O: buffered output that counts, and hashes when asked,
 * what it writes, encrypted when it goes to a spool file (cipher.c);
 * whole files hashed.  Apart from io.c, which needs no SHA-256, so that a
 * tool that hashes nothing (gb-demodata) links no libgcrypt.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gb.h"

#define OUTBUF (256 * 1024)

void
gb_out_init(struct gb_out *o, int fd, int hash)
{
	memset(o, 0, sizeof *o);
	o->fd = fd;
	o->cap = OUTBUF;
	o->buf = gb_malloc(o->cap);
	if ((o->hash = hash))
		gb_sha256_init(&o->sha);
}

int
gb_out_flushbuf(struct gb_out *o)
{
	if (o->len == 0)
		return o->err ? -1 : 0;
	if (o->fd == -1) {	/* in memory: grows */
		o->cap *= 2;
		o->buf = gb_realloc(o->buf, o->cap);
		return 0;
	}
	if (o->hash)
		gb_sha256_update(&o->sha, o->buf, o->len);
	/* a spool encrypts the buffer in place: the hash came first */
	if (!o->err && o->fd != GB_OUT_SINK && (o->spool ?
	    gb_spool_write(o->spool, o->fd, o->buf, o->len) :
	    gb_write_all(o->fd, o->buf, o->len)) == -1)
		o->err = errno;
	o->bytes += o->len;
	o->len = 0;
	return o->err ? -1 : 0;
}

void
gb_out_write(struct gb_out *o, const void *p, size_t n)
{
	const unsigned char *s = p;

	while (o->fd == -1 && n > o->cap - o->len)
		gb_out_flushbuf(o);
	if (n > o->cap - o->len) {
		gb_out_flushbuf(o);
		/* large writes go straight through, but a spool's */
		if (n >= o->cap && !o->spool) {
			if (o->hash)
				gb_sha256_update(&o->sha, p, n);
			if (!o->err && o->fd != GB_OUT_SINK &&
			    gb_write_all(o->fd, p, n) == -1)
				o->err = errno;
			o->bytes += n;
			return;
		}
	}
	/* a spool's, through the buffer, where they are encrypted */
	while (n > o->cap - o->len) {
		size_t k = o->cap - o->len;
		memcpy(o->buf + o->len, s, k);
		o->len += k;
		s += k;
		n -= k;
		gb_out_flushbuf(o);
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

int
gb_out_finish(struct gb_out *o, char *hex)
{
	gb_out_flushbuf(o);
	if (o->spool && !o->err)
		gb_spool_end(o->spool);
	if (o->hash) {
		char unused[65];
		gb_sha256_final(&o->sha, hex ? hex : unused);
		o->hash = 0;
	}
	free(o->buf);
	o->buf = NULL;
	o->cap = o->len = 0;
	if (o->err) {
		errno = o->err;
		return -1;
	}
	return 0;
}

int
gb_sha256_file(const char *path, char hex[65], uint64_t *size)
{
	enum { BUFSZ = 1 << 20 };
	struct gb_sha256 h;
	char *buf;
	uint64_t total = 0;
	ssize_t n;
	int fd, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	buf = gb_malloc(BUFSZ);
	gb_sha256_init(&h);
	while ((n = gb_read_full(fd, buf, BUFSZ)) > 0) {
		gb_sha256_update(&h, buf, (size_t)n);
		total += (uint64_t)n;
		gb_progress_add((uint64_t)n);
	}
	e = errno;
	gb_sha256_final(&h, hex);
	free(buf);
	close(fd);
	if (n < 0) {
		errno = e;
		return -1;
	}
	if (size)
		*size = total;
	return 0;
}
