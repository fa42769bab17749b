/*
 * state.c - exact incrementals.  Every export with a state directory
 * (gb-export -S) keeps, per table with a key, its state: each row's key
 * and a keyed digest of its CSV line, in key order.  An incremental reads
 * the table in the same order and merge-joins it with the state its base
 * left: a row whose key is new or whose digest changed goes into the
 * export, a key of the old state that no row has any more into the list
 * of deletes.  The new state is written as the rows go by; neither is
 * ever held in memory.
 *
 * A table read in parts (ranges of an integer key, one thread each)
 * leaves one segment per part: PATH, PATH.1, PATH.2, ...  Each part
 * merges its own range with whichever segments of the base reach into
 * it, so the parts of the next export need not be the same.
 *
 * A segment: "GBSTATE2", the key's column names (u32 length, bytes), the
 * range of the key's first column it covers (two i64, the lowest and the
 * highest standing for no bound), then per row each key part (a type
 * byte; an integer or real in 8 bytes, text or a blob as u32 length and
 * bytes) and 16 bytes of digest; last the HMAC-SHA256 of its place (the
 * export's id and the table's file, not written in it) and all before
 * it.  Digests and the MAC use the directory's key (gb_state_key), so the
 * file tells a reader nothing of the rows' content and a damaged or
 * altered one is known, and so is one moved from another table's or
 * another export's place (its rows are not the base's): it is then not
 * used, and the table is exported whole.  A state of gymbackup 0.1 ("GBSTATE1") is not read: its tables
 * go whole once.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gcrypt.h>

#include "gb.h"
#include "gb-db.h"

#define MAGIC "GBSTATE2"
#define HEAD 12			/* the magic, the key's names' length */
#define RANGE 16
#define DIGEST 16
#define MAC 32

/* A segment being read, buffered; its bytes before the MAC counted down. */
struct rd {
	int fd;			/* -1: none open */
	unsigned char *buf;
	size_t pos, len;
	uint64_t left;
	off_t size;
};
#define RDBUF (1 << 17)

struct gb_delta {
	uint64_t rowkey[2];	/* a row's digest's key */
	gcry_md_hd_t mac;	/* the new file's HMAC */
	const char *oldpath;	/* the base's state, or NULL */
	int oldseg;		/* its segment open in old, from 0 */
	int oldlast;		/* that is its last (its range has no end) */
	struct rd old;		/* fd -1: none, or none left in range */
	struct gb_kval *ok;	/* its current record, parts into obuf */
	unsigned char odig[DIGEST];
	unsigned char *obuf;
	size_t ocap;
	int ohave;
	int64_t lo, hi;		/* the range: lowest and highest, no bound */
	struct gb_out st;	/* the new state */
	unsigned char *sb;	/* its records not yet through the MAC */
	size_t sblen;
	struct gb_out buf;	/* the row being written, in memory */
	struct gb_out *o;	/* upserts */
	struct gb_out *del;	/* the deletes' file, or NULL */
	struct gb_out *all;	/* every row, for the table's SHA-256, or NULL */
	struct gb_mtable *mt;	/* upserts: rows, money */
	struct gb_money *sums;	/* the row's money */
	size_t nkey, nmoney;
	unsigned char *prev, *cur;	/* the last key and this one, encoded */
	size_t prevlen, prevcap, curcap;
	struct gb_kval *pk;	/* the last key, decoded */
	int started;
	uint64_t total_rows;
	int64_t *total_money;
	const char *table;
};

static int
rank(int type)
{
	switch (type) {
	case GB_K_NULL: return 0;
	case GB_K_INT: case GB_K_REAL: return 1;
	case GB_K_TEXT: return 2;
	case GB_K_BLOB: return 3;
	default: return 4;	/* GB_K_LAST: PostgreSQL's NULLs */
	}
}

static int
cmp_part(const struct gb_kval *a, const struct gb_kval *b)
{
	int ra = rank(a->type), rb = rank(b->type), c;
	size_t n;

	if (ra != rb)
		return ra < rb ? -1 : 1;
	if (ra == 1) {
		if (a->type == GB_K_INT && b->type == GB_K_INT)
			return a->i < b->i ? -1 : a->i > b->i;
		double x = a->type == GB_K_INT ? (double)a->i : a->r;
		double y = b->type == GB_K_INT ? (double)b->i : b->r;
		return x < y ? -1 : x > y;
	}
	if (ra == 2 || ra == 3) {
		n = a->n < b->n ? a->n : b->n;
		if (n && (c = memcmp(a->p, b->p, n)))
			return c < 0 ? -1 : 1;
		return a->n < b->n ? -1 : a->n > b->n;
	}
	return 0;
}

static int
cmp_key(const struct gb_kval *a, const struct gb_kval *b, size_t n)
{
	int c;

	for (size_t i = 0; i < n; i++)
		if ((c = cmp_part(&a[i], &b[i])))
			return c;
	return 0;
}

static void
put_u32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = v;
}

static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* A key, encoded as the state holds it, into *buf. */
static size_t
encode(const struct gb_kval *k, size_t nkey, unsigned char **buf,
    size_t *cap)
{
	size_t len = 0, need = 0;

	for (size_t i = 0; i < nkey; i++)
		need += 1 + 8 + (k[i].type == GB_K_TEXT ||
		    k[i].type == GB_K_BLOB ? k[i].n : 0);
	if (need > *cap) {
		*cap = need * 2;
		*buf = gb_realloc(*buf, *cap);
	}
	for (size_t i = 0; i < nkey; i++) {
		unsigned char *p = *buf + len;
		uint64_t u;
		*p++ = (unsigned char)k[i].type;
		len++;
		switch (k[i].type) {
		case GB_K_INT:
		case GB_K_REAL:
			if (k[i].type == GB_K_INT)
				u = (uint64_t)k[i].i;
			else
				memcpy(&u, &k[i].r, 8);
			for (int b = 0; b < 8; b++)
				p[b] = (unsigned char)(u >> (56 - 8 * b));
			len += 8;
			break;
		case GB_K_TEXT:
		case GB_K_BLOB:
			if (k[i].n > UINT32_MAX)
				gb_errx(GB_EXIT_RUN, "a key of %zu bytes is too long "
				    "for the state", k[i].n);
			put_u32(p, (uint32_t)k[i].n);
			if (k[i].n)
				memcpy(p + 4, k[i].p, k[i].n);
			len += 4 + k[i].n;
			break;
		}
	}
	return len;
}

/* Decodes one key of an encoded buffer; the parts point into it. */
static int
decode(const unsigned char *p, size_t len, struct gb_kval *k, size_t nkey)
{
	size_t at = 0;

	for (size_t i = 0; i < nkey; i++) {
		uint64_t u = 0;
		if (at >= len)
			return -1;
		memset(&k[i], 0, sizeof k[i]);
		k[i].type = p[at++];
		switch (k[i].type) {
		case GB_K_INT:
		case GB_K_REAL:
			if (len - at < 8)
				return -1;
			for (int b = 0; b < 8; b++)
				u = u << 8 | p[at + b];
			if (k[i].type == GB_K_INT)
				k[i].i = (int64_t)u;
			else
				memcpy(&k[i].r, &u, 8);
			at += 8;
			break;
		case GB_K_TEXT:
		case GB_K_BLOB:
			if (len - at < 4 || len - at - 4 < get_u32(p + at))
				return -1;
			k[i].n = get_u32(p + at);
			k[i].p = (const char *)p + at + 4;
			at += 4 + k[i].n;
			break;
		case GB_K_NULL:
		case GB_K_LAST:
			break;
		default:
			return -1;
		}
	}
	return 0;
}

static int64_t
get_i64(const unsigned char *p)
{
	return (int64_t)((uint64_t)get_u32(p) << 32 | get_u32(p + 4));
}

static void
put_i64(unsigned char *p, int64_t v)
{
	put_u32(p, (uint32_t)((uint64_t)v >> 32));
	put_u32(p + 4, (uint32_t)v);
}

/* Is a key's first part below lo, above hi?  The extremes: no bound. */
static int
below(const struct gb_kval *k, int64_t lo)
{
	struct gb_kval b = { .type = GB_K_INT, .i = lo };

	return lo != INT64_MIN && cmp_part(k, &b) < 0;
}

static int
above(const struct gb_kval *k, int64_t hi)
{
	struct gb_kval b = { .type = GB_K_INT, .i = hi };

	return hi != INT64_MAX && cmp_part(k, &b) > 0;
}

/*
 * A row's digest: SipHash-2-4 with its 128-bit output (Aumasson and
 * Bernstein), a pseudorandom function of the row under a 128-bit key
 * that only the state's key gives (rowkey).  Without that key the
 * digests say nothing of the rows, not even whether a guessed row is
 * there; equal rows have equal digests, which tells no more than the
 * export does: what changed.  One pass over the row, no library call
 * per row: the merge's cost is the reading, not the digest.
 */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
} while (0)

static uint64_t
get_le64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static void
put_le64(unsigned char *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static void
siphash128(const uint64_t k[2], const unsigned char *in, size_t n,
    unsigned char out[16])
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ k[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ k[1] ^ 0xee;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k[0];
	uint64_t v3 = 0x7465646279746573ULL ^ k[1];
	uint64_t b = (uint64_t)n << 56, m;
	const unsigned char *end = in + (n & ~(size_t)7);

	for (; in != end; in += 8) {
		m = get_le64(in);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t i = 0; i < (n & 7); i++)
		b |= (uint64_t)in[i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xee;
	for (int i = 0; i < 4; i++)
		SIPROUND;
	put_le64(out, v0 ^ v1 ^ v2 ^ v3);
	v1 ^= 0xdd;
	for (int i = 0; i < 4; i++)
		SIPROUND;
	put_le64(out + 8, v0 ^ v1 ^ v2 ^ v3);
}

/* Segment k of the state at path. */
static char *
seg_path(const char *path, int k)
{
	return k ? gb_asprintf("%s.%d", path, k) : gb_strdup(path);
}

static gcry_md_hd_t
hmac(const unsigned char key[GB_STATE_KEY])
{
	gcry_md_hd_t h;

	if (gcry_md_open(&h, GCRY_MD_SHA256, GCRY_MD_FLAG_HMAC) ||
	    gcry_md_setkey(h, key, GB_STATE_KEY))
		gb_errx(GB_EXIT_RUN, "cannot start HMAC-SHA256 (libgcrypt)");
	return h;
}

/* A segment's MAC, started with its place ("ID/FILE", NUL-ended). */
static gcry_md_hd_t
seg_mac(const unsigned char key[GB_STATE_KEY], const char *place)
{
	gcry_md_hd_t h = hmac(key);

	gcry_md_write(h, place, strlen(place) + 1);
	return h;
}

/* The digests' key: of the state's key, apart from the MAC's. */
static void
row_key(const unsigned char key[GB_STATE_KEY], uint64_t rk[2])
{
	static const char label[] = "gymbackup state: row digests";
	gcry_md_hd_t h = hmac(key);
	const unsigned char *p;

	gcry_md_write(h, label, sizeof label - 1);
	p = gcry_md_read(h, GCRY_MD_SHA256);
	rk[0] = get_le64(p);
	rk[1] = get_le64(p + 8);
	gcry_md_close(h);
}

static int
rd_open(struct rd *r, const char *path)
{
	struct stat sb;

	r->pos = r->len = 0;
	if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(r->fd, &sb) == -1 || sb.st_size < MAC) {
		int e = sb.st_size < MAC ? EINVAL : errno;
		close(r->fd);
		r->fd = -1;
		errno = e;
		return -1;
	}
	if (!r->buf)
		r->buf = gb_malloc(RDBUF);
	r->size = sb.st_size;
	r->left = (uint64_t)sb.st_size - MAC;
	return 0;
}

/* Refills the buffer when it is used up; 0, or -1 at the end or an error. */
static int
rd_fill(struct rd *r)
{
	ssize_t k;

	if (r->pos < r->len)
		return 0;
	if ((k = gb_read_full(r->fd, r->buf, RDBUF)) <= 0)
		return -1;
	r->pos = 0;
	r->len = (size_t)k;
	return 0;
}

static int
rd_read(struct rd *r, void *p, size_t n)
{
	unsigned char *to = p;

	if (r->left < n)
		return -1;
	r->left -= n;
	while (n) {
		size_t c;
		if (rd_fill(r) == -1)
			return -1;
		c = n < r->len - r->pos ? n : r->len - r->pos;
		memcpy(to, r->buf + r->pos, c);
		r->pos += c;
		to += c;
		n -= c;
	}
	return 0;
}

static void
rd_close(struct rd *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

/*
 * Reads a segment's header, up to its records, checking it is of keycols
 * (NULL: not checked) and putting it through h (NULL: none); its range
 * into lo, hi.  0, or -1.
 */
static int
seg_head(struct rd *r, const char *keycols, gcry_md_hd_t h, int64_t *lo,
    int64_t *hi)
{
	unsigned char head[HEAD], range[RANGE], *names;
	uint32_t n;
	int ok;

	if (rd_read(r, head, HEAD) || memcmp(head, MAGIC, 8) ||
	    (n = get_u32(head + 8)) > 65536)
		return -1;
	names = gb_malloc(n + 1);
	ok = rd_read(r, names, n) == 0 && rd_read(r, range, RANGE) == 0 &&
	    (!keycols || (n == strlen(keycols) && memcmp(names, keycols,
	    n) == 0));
	if (ok && h) {
		gcry_md_write(h, head, HEAD);
		gcry_md_write(h, names, n);
		gcry_md_write(h, range, RANGE);
	}
	free(names);
	*lo = get_i64(range);
	*hi = get_i64(range + 8);
	return ok ? 0 : -1;
}

/*
 * Checks one segment whole: of this key and keycols, its MAC right.
 * Its range into lo, hi.  0, -1 (err says why), or -2: no such segment.
 */
static int
seg_check(const char *path, const unsigned char key[GB_STATE_KEY],
    const char *place, const char *keycols, int64_t *lo, int64_t *hi,
    char *err, size_t errlen)
{
	struct rd r = { .fd = -1 };
	gcry_md_hd_t h;
	unsigned char mac[MAC];
	int ok;

	if (rd_open(&r, path) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? -2 : -1;
	}
	h = seg_mac(key, place);
	ok = seg_head(&r, keycols, h, lo, hi) == 0;
	while (ok && r.left > 0 && rd_fill(&r) == 0) {	/* a buffer at a time */
		size_t n = r.len - r.pos < r.left ? r.len - r.pos :
		    (size_t)r.left;
		gcry_md_write(h, r.buf + r.pos, n);
		r.pos += n;
		r.left -= n;
	}
	ok = ok && r.left == 0 && pread(r.fd, mac, MAC, r.size - MAC) == MAC &&
	    memcmp(mac, gcry_md_read(h, GCRY_MD_SHA256), MAC) == 0;
	gcry_md_close(h);
	rd_close(&r);
	free(r.buf);
	if (!ok)
		snprintf(err, errlen, "%s: not the state of this key (%s), or "
		    "damaged, or not made as %s", path, keycols, place);
	return ok ? 0 : -1;
}

int
gb_state_usable(const char *path, const unsigned char key[GB_STATE_KEY],
    const char *place, const char *keycols, char *err, size_t errlen)
{
	int64_t lo, hi, next = INT64_MIN;
	int rc, k;

	/* segments that cover every key, in turn, each whole */
	for (k = 0;; k++) {
		char *p = seg_path(path, k);
		rc = seg_check(p, key, place, keycols, &lo, &hi, err, errlen);
		if (rc == 0 && (lo != next || hi < lo)) {
			snprintf(err, errlen, "%s: does not go on from the "
			    "segment before", p);
			rc = -1;
		}
		free(p);
		if (rc || hi == INT64_MAX)
			break;
		next = hi + 1;
	}
	if (rc == -2 && k > 0)
		snprintf(err + strlen(err), errlen - strlen(err), " (a segment "
		    "is missing)");
	if (rc == 0) {
		/* one after the last would be read as more of the state */
		char *p = seg_path(path, k + 1);
		if (access(p, F_OK) == 0 || errno != ENOENT) {
			snprintf(err, errlen, "%s: a segment after the last",
			    p);
			rc = -1;
		}
		free(p);
	}
	return rc ? -1 : 0;
}

static int
old_read(struct gb_delta *d, void *p, size_t n)
{
	return rd_read(&d->old, p, n);
}

/*
 * Opens the next segment of the base's state that reaches into the
 * range; 0 when none is left.  gb_state_usable checked them all when the
 * state was chosen: one that does not read is an error.
 */
static int
old_seg(struct gb_delta *d)
{
	for (;;) {
		char *p;
		int64_t lo, hi;

		rd_close(&d->old);
		if (!d->oldpath || d->oldlast)
			return 0;
		p = seg_path(d->oldpath, ++d->oldseg);
		if (rd_open(&d->old, p) == -1 && errno == ENOENT && d->oldseg) {
			free(p);
			return 0;
		}
		if (d->old.fd < 0)
			gb_err(GB_EXIT_RUN, "cannot read %s", p);
		if (seg_head(&d->old, NULL, NULL, &lo, &hi) == -1)
			gb_errx(GB_EXIT_RUN, "%s: changed while read", p);
		free(p);
		d->oldlast = hi == INT64_MAX;
		if (lo > d->hi) {
			rd_close(&d->old);
			return 0;
		}
		if (hi >= d->lo)
			return 1;
	}
}

/*
 * The next record of the old state in the range into ok/odig; 0 at its
 * end.  A record that does not parse is a file changed since it was
 * checked: an error.
 */
static int
old_next(struct gb_delta *d)
{
	d->ohave = 0;
	while (d->old.fd >= 0) {
		size_t len = 0;
		if (d->old.left == 0) {
			old_seg(d);
			continue;
		}
		for (size_t i = 0; i < d->nkey; i++) {
			unsigned char t, l[8];
			size_t extra;
			if (len + 13 > d->ocap) {
				d->ocap = (len + 13) * 2;
				d->obuf = gb_realloc(d->obuf, d->ocap);
			}
			if (old_read(d, &t, 1))
				return -1;
			d->obuf[len++] = t;
			extra = t == GB_K_INT || t == GB_K_REAL ? 8 :
			    t == GB_K_TEXT || t == GB_K_BLOB ? 4 : 0;
			if (extra && old_read(d, l, extra))
				return -1;
			memcpy(d->obuf + len, l, extra);
			len += extra;
			if (extra == 4) {
				uint32_t n = get_u32(l);
				if (n > d->old.left)
					return -1;
				if (len + n > d->ocap) {
					d->ocap = (len + n) * 2;
					d->obuf = gb_realloc(d->obuf, d->ocap);
				}
				if (n && old_read(d, d->obuf + len, n))
					return -1;
				len += n;
			}
		}
		if (old_read(d, d->odig, DIGEST) || decode(d->obuf, len, d->ok,
		    d->nkey) == -1)
			return -1;
		if (below(d->ok, d->lo))	/* a part before's */
			continue;
		if (above(d->ok, d->hi)) {	/* the rest: a part after's */
			rd_close(&d->old);
			break;
		}
		d->ohave = 1;
		return 1;
	}
	return 0;
}

/* The new state's bytes, through its MAC a buffer at a time. */
static void
st_flush(struct gb_delta *d)
{
	gcry_md_write(d->mac, d->sb, d->sblen);
	gb_out_write(&d->st, d->sb, d->sblen);
	d->sblen = 0;
}

static void
st_write(struct gb_delta *d, const void *p, size_t n)
{
	if (n > RDBUF - d->sblen) {
		st_flush(d);
		if (n > RDBUF) {
			gcry_md_write(d->mac, p, n);
			gb_out_write(&d->st, p, n);
			return;
		}
	}
	memcpy(d->sb + d->sblen, p, n);
	d->sblen += n;
}

/* The header: the key's column names, the range. */
static void
st_header(struct gb_delta *d, const char *keycols)
{
	unsigned char n[4], range[RANGE];

	put_u32(n, (uint32_t)strlen(keycols));
	put_i64(range, d->lo);
	put_i64(range + 8, d->hi);
	st_write(d, MAGIC, 8);
	st_write(d, n, 4);
	st_write(d, keycols, strlen(keycols));
	st_write(d, range, RANGE);
}

struct gb_delta *
gb_delta_open(const char *table, const char *oldpath, int newfd,
    const unsigned char key[GB_STATE_KEY], const char *place,
    const char *keycols, size_t nkey,
    int64_t lo, int64_t hi, struct gb_out *o, struct gb_out *del,
    struct gb_out *all, struct gb_mtable *mt, size_t nmoney)
{
	struct gb_delta *d = gb_calloc(1, sizeof *d);

	d->table = table;
	d->mac = seg_mac(key, place);
	row_key(key, d->rowkey);
	d->nkey = nkey;
	d->ok = gb_calloc(nkey + 1, sizeof *d->ok);
	d->pk = gb_calloc(nkey + 1, sizeof *d->pk);
	d->lo = lo;
	d->hi = hi;
	d->o = o;
	d->del = del;
	d->all = all;
	d->mt = mt;
	d->nmoney = nmoney;
	d->sums = gb_calloc(nmoney + 1, sizeof *d->sums);
	d->total_money = gb_calloc(nmoney + 1, sizeof *d->total_money);
	gb_out_init(&d->buf, -1, 0);
	gb_out_init(&d->st, newfd, 0);
	d->sb = gb_malloc(RDBUF);
	st_header(d, keycols);
	d->oldpath = oldpath;
	d->oldseg = -1;
	d->old.fd = -1;
	if (oldpath && old_seg(d) && old_next(d) == -1)
		gb_errx(GB_EXIT_RUN, "%s: changed while read", oldpath);
	return d;
}

struct gb_out *
gb_delta_buf(struct gb_delta *d)
{
	return &d->buf;
}

struct gb_money *
gb_delta_sums(struct gb_delta *d)
{
	return d->sums;
}

void
gb_delta_head(struct gb_delta *d)
{
	gb_out_write(d->o, d->buf.buf, d->buf.len);
	if (d->all)
		gb_out_write(d->all, d->buf.buf, d->buf.len);
	d->buf.len = 0;
}

static void
add_sum(struct gb_delta *d, int64_t *sum, int64_t v, size_t k)
{
	if (__builtin_add_overflow(*sum, v, sum))
		gb_errx(GB_EXIT_RUN, "table %s: sum of money column %s "
		    "overflows 64 bits", d->table, d->mt->money[k].column);
}

/* A key no row has any more: into the list of deletes. */
static void
put_delete(struct gb_delta *d, const struct gb_kval *k)
{
	if (!d->del)
		return;
	for (size_t i = 0; i < d->nkey; i++) {
		if (i)
			gb_out_putc(d->del, ',');
		switch (k[i].type) {
		case GB_K_INT: gb_csv_int(d->del, k[i].i); break;
		case GB_K_REAL: gb_csv_real(d->del, k[i].r); break;
		case GB_K_TEXT: gb_csv_text(d->del, k[i].p, k[i].n); break;
		case GB_K_BLOB: gb_csv_blob(d->del, k[i].p, k[i].n); break;
		}
	}
	gb_out_putc(d->del, '\n');
	d->mt->del->rows++;
}

static void
old_advance(struct gb_delta *d)
{
	if (old_next(d) == -1)
		gb_errx(GB_EXIT_RUN, "table %s: its state changed while read",
		    d->table);
}

void
gb_delta_row(struct gb_delta *d, const struct gb_kval *k)
{
	unsigned char dig[DIGEST], *swap;
	size_t len, cap;
	int changed = 1, c;

	len = encode(k, d->nkey, &d->cur, &d->curcap);
	/* the merge is right only if rows come in key order, once each */
	if (d->started) {
		decode(d->prev, d->prevlen, d->pk, d->nkey);
		if ((c = cmp_key(d->pk, k, d->nkey)) >= 0)
			gb_errx(GB_EXIT_RUN, "table %s: %s; its incrementals "
			    "cannot be exact: export it in a full job", d->table,
			    c == 0 ? "its key is not unique" : "rows do not come "
			    "in the order of their key");
	}
	d->started = 1;

	siphash128(d->rowkey, d->buf.buf, d->buf.len, dig);
	while (d->ohave && (c = cmp_key(d->ok, k, d->nkey)) < 0) {
		put_delete(d, d->ok);
		old_advance(d);
	}
	if (d->ohave && c == 0) {
		changed = memcmp(d->odig, dig, DIGEST) != 0;
		old_advance(d);
	}
	st_write(d, d->cur, len);
	st_write(d, dig, DIGEST);
	swap = d->prev, d->prev = d->cur, d->cur = swap;
	cap = d->prevcap, d->prevcap = d->curcap, d->curcap = cap;
	d->prevlen = len;

	if (d->all)
		gb_out_write(d->all, d->buf.buf, d->buf.len);
	d->total_rows++;
	for (size_t m = 0; m < d->nmoney; m++) {
		add_sum(d, &d->total_money[m], d->sums[m].sum, m);
		if (changed)
			add_sum(d, &d->mt->money[m].sum, d->sums[m].sum, m);
		d->sums[m].sum = 0;
	}
	if (changed) {
		gb_out_write(d->o, d->buf.buf, d->buf.len);
		d->mt->rows++;
	}
	d->buf.len = 0;
}

int
gb_delta_finish(struct gb_delta *d, int totals)
{
	int rc = 0;

	while (d->ohave) {
		put_delete(d, d->ok);
		old_advance(d);
	}
	st_flush(d);
	gb_out_write(&d->st, gcry_md_read(d->mac, GCRY_MD_SHA256), MAC);
	if (gb_out_finish(&d->st, NULL) == -1)
		rc = -1;
	if (totals) {
		d->mt->has_total = 1;
		d->mt->total_rows = d->total_rows;
		d->mt->total_money = gb_calloc(d->nmoney + 1,
		    sizeof *d->mt->total_money);
		for (size_t m = 0; m < d->nmoney; m++)
			d->mt->total_money[m].sum = d->total_money[m];
	}
	rd_close(&d->old);
	free(d->old.buf);
	free(d->sb);
	gcry_md_close(d->mac);
	gb_out_finish(&d->buf, NULL);
	free(d->ok);
	free(d->pk);
	free(d->obuf);
	free(d->prev);
	free(d->cur);
	free(d->sums);
	free(d->total_money);
	free(d);
	return rc;
}
int
gb_state_key(const char *dir, unsigned char key[GB_STATE_KEY], char *err,
    size_t errlen)
{
	char *path = gb_asprintf("%s/key", dir), *tmp = NULL;
	int fd, rc = -1;
	struct stat sb;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot make the state directory %s: %s",
		    dir, strerror(errno));
		goto out;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 && errno == ENOENT) {
		/* made once; link(2) keeps the first of two makers' keys */
		unsigned char k[GB_STATE_KEY];
		tmp = gb_tmp_template("%s/key", dir);
		if ((fd = gb_mktemp(tmp, 0)) < 0 ||
		    getrandom(k, sizeof k, 0) != sizeof k ||
		    gb_write_all(fd, k, sizeof k) == -1 || fsync(fd) == -1 ||
		    close(fd) == -1 || (link(tmp, path) == -1 && errno != EEXIST) ||
		    gb_fsync_parent(path) == -1) {
			snprintf(err, errlen, "cannot make the state key %s: %s",
			    path, strerror(errno));
			if (tmp)
				unlink(tmp);
			goto out;
		}
		unlink(tmp);
		gb_cleanup_forget(tmp);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0 || fstat(fd, &sb) == -1) {
		snprintf(err, errlen, "cannot read the state key %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if ((sb.st_mode & 077) || gb_read_full(fd, key, GB_STATE_KEY) !=
	    GB_STATE_KEY) {
		snprintf(err, errlen, "%s: %s", path, sb.st_mode & 077 ?
		    "others may read the state key: chmod 600 it" :
		    "not a state key (32 bytes)");
		close(fd);
		goto out;
	}
	close(fd);
	rc = 0;
out:
	free(path);
	free(tmp);
	return rc;
}
