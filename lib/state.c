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
 * A state file: "GBSTATE1", the key's column names (u32 length, bytes),
 * then per row each key part (a type byte; an integer or real in 8
 * bytes, text or a blob as u32 length and bytes) and 16 bytes of digest;
 * last the HMAC-SHA256 of all before it.  Digests and the MAC use the
 * directory's key (gb_state_key), so the file tells a reader nothing of
 * the rows' content and a damaged or altered one is known: it is then
 * not used, and the table is exported whole.
 */
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

#define MAGIC "GBSTATE1"
#define DIGEST 16
#define MAC 32

struct gb_delta {
	gcry_md_hd_t row, mac;	/* HMACs: a row's digest, the new file's */
	FILE *old;		/* the base's state, or NULL */
	uint64_t oldleft;	/* its bytes before the MAC, not yet read */
	struct gb_kval *ok;	/* its current record, parts into obuf */
	unsigned char odig[DIGEST];
	unsigned char *obuf;
	size_t ocap;
	int ohave;
	struct gb_out st;	/* the new state */
	struct gb_out buf;	/* the row being written, in memory */
	struct gb_out *o;	/* the table's file */
	struct gb_out *del;	/* the deletes' file, or NULL */
	struct gb_mtable *mt;	/* upserts: rows, money */
	struct gb_money *sums;	/* the row's money */
	size_t nkey, nmoney;
	unsigned char *prev;	/* the last key, encoded */
	size_t prevlen, prevcap;
	int started;
	struct gb_sha256 total;
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

static int
old_read(struct gb_delta *d, void *p, size_t n)
{
	if (d->oldleft < n || fread(p, 1, n, d->old) != n)
		return -1;
	d->oldleft -= n;
	return 0;
}

/*
 * The next record of the old state into ok/odig; 0 at its end.  The
 * file's MAC was checked when it was chosen (gb_state_usable), so a
 * record that does not parse is a file changed since: an error.
 */
static int
old_next(struct gb_delta *d)
{
	size_t len = 0;

	d->ohave = 0;
	if (!d->old || d->oldleft == 0)
		return 0;
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
		extra = t == GB_K_INT || t == GB_K_REAL ? 8 : t == GB_K_TEXT ||
		    t == GB_K_BLOB ? 4 : 0;
		if (extra && old_read(d, l, extra))
			return -1;
		memcpy(d->obuf + len, l, extra);
		len += extra;
		if (extra == 4) {
			uint32_t n = get_u32(l);
			if (n > d->oldleft)
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
	d->ohave = 1;
	return 1;
}

static void
st_write(struct gb_delta *d, const void *p, size_t n)
{
	gcry_md_write(d->mac, p, n);
	gb_out_write(&d->st, p, n);
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

/* A key's column names, as the state's header holds them. */
static void
st_header(struct gb_delta *d, const char *keycols)
{
	unsigned char n[4];

	put_u32(n, (uint32_t)strlen(keycols));
	st_write(d, MAGIC, 8);
	st_write(d, n, 4);
	st_write(d, keycols, strlen(keycols));
}

int
gb_state_usable(const char *path, const unsigned char key[GB_STATE_KEY],
    const char *keycols, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	gcry_md_hd_t h;
	unsigned char buf[1 << 16], mac[MAC], head[12];
	struct stat sb;
	uint64_t left;
	size_t n;
	int ok;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &sb) == -1 || sb.st_size < 12 + MAC) {
		snprintf(err, errlen, "%s: too short", path);
		fclose(f);
		return -1;
	}
	h = hmac(key);
	left = (uint64_t)sb.st_size - MAC;
	ok = fread(head, 1, 12, f) == 12 && memcmp(head, MAGIC, 8) == 0 &&
	    get_u32(head + 8) == strlen(keycols);
	if (ok) {
		gcry_md_write(h, head, 12);
		left -= 12;
	}
	while (ok && left > 0) {
		n = left < sizeof buf ? (size_t)left : sizeof buf;
		if (fread(buf, 1, n, f) != n)
			ok = 0;
		else {
			if (left == (uint64_t)sb.st_size - MAC - 12 &&
			    (n < strlen(keycols) ||
			    memcmp(buf, keycols, strlen(keycols))))
				ok = 0;
			gcry_md_write(h, buf, n);
			left -= n;
		}
	}
	ok = ok && fread(mac, 1, MAC, f) == MAC &&
	    memcmp(mac, gcry_md_read(h, GCRY_MD_SHA256), MAC) == 0;
	gcry_md_close(h);
	fclose(f);
	if (!ok)
		snprintf(err, errlen, "%s: not the state of this key (%s), or "
		    "damaged", path, keycols);
	return ok ? 0 : -1;
}

struct gb_delta *
gb_delta_open(const char *table, const char *oldpath, int newfd,
    const unsigned char key[GB_STATE_KEY], const char *keycols, size_t nkey,
    struct gb_out *o, struct gb_out *del, struct gb_mtable *mt,
    size_t nmoney)
{
	struct gb_delta *d = gb_calloc(1, sizeof *d);

	d->table = table;
	d->row = hmac(key);
	d->mac = hmac(key);
	d->nkey = nkey;
	d->ok = gb_calloc(nkey + 1, sizeof *d->ok);
	d->o = o;
	d->del = del;
	d->mt = mt;
	d->nmoney = nmoney;
	d->sums = gb_calloc(nmoney + 1, sizeof *d->sums);
	d->total_money = gb_calloc(nmoney + 1, sizeof *d->total_money);
	gb_sha256_init(&d->total);
	gb_out_init(&d->buf, -1, 0);
	gb_out_init(&d->st, newfd, 0);
	st_header(d, keycols);
	if (oldpath) {
		struct stat sb;
		unsigned char head[12];
		if (!(d->old = fopen(oldpath, "re")) ||
		    fstat(fileno(d->old), &sb) == -1)
			gb_err(GB_EXIT_RUN, "cannot read %s", oldpath);
		setvbuf(d->old, NULL, _IOFBF, 1 << 20);
		d->oldleft = (uint64_t)sb.st_size - MAC;
		if (old_read(d, head, 12) || fseeko(d->old, (off_t)get_u32(head +
		    8), SEEK_CUR) == -1)
			gb_errx(GB_EXIT_RUN, "%s: changed while read", oldpath);
		d->oldleft -= get_u32(head + 8);
		if (old_next(d) == -1)
			gb_errx(GB_EXIT_RUN, "%s: changed while read", oldpath);
	}
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
	gb_sha256_update(&d->total, d->buf.buf, d->buf.len);
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

void
gb_delta_row(struct gb_delta *d, const struct gb_kval *k)
{
	const unsigned char *dig;
	unsigned char *enc = NULL;
	size_t len, cap = 0;
	int changed = 1, c;

	len = encode(k, d->nkey, &enc, &cap);
	/* the merge is right only if rows come in key order, once each */
	if (d->started) {
		struct gb_kval *pk = gb_calloc(d->nkey + 1, sizeof *pk);
		decode(d->prev, d->prevlen, pk, d->nkey);
		c = cmp_key(pk, k, d->nkey);
		free(pk);
		if (c >= 0)
			gb_errx(GB_EXIT_RUN, "table %s: %s; its incrementals "
			    "cannot be exact: export it in a full job", d->table,
			    c == 0 ? "its key is not unique" : "rows do not come "
			    "in the order of their key");
	}
	free(d->prev);
	d->prev = enc;
	d->prevlen = len;
	d->started = 1;

	gcry_md_reset(d->row);
	gcry_md_write(d->row, d->buf.buf, d->buf.len);
	dig = gcry_md_read(d->row, GCRY_MD_SHA256);
	while (d->ohave && (c = cmp_key(d->ok, k, d->nkey)) < 0) {
		put_delete(d, d->ok);
		if (old_next(d) == -1)
			gb_errx(GB_EXIT_RUN, "table %s: its state changed while "
			    "read", d->table);
	}
	if (d->ohave && c == 0) {
		changed = memcmp(d->odig, dig, DIGEST) != 0;
		if (old_next(d) == -1)
			gb_errx(GB_EXIT_RUN, "table %s: its state changed while "
			    "read", d->table);
	}
	st_write(d, enc, len);
	st_write(d, dig, DIGEST);

	gb_sha256_update(&d->total, d->buf.buf, d->buf.len);
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
		if (old_next(d) == -1)
			gb_errx(GB_EXIT_RUN, "table %s: its state changed while "
			    "read", d->table);
	}
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
		gb_sha256_final(&d->total, d->mt->total_sha256);
	} else {
		char unused[65];
		gb_sha256_final(&d->total, unused);
	}
	if (d->old)
		fclose(d->old);
	gcry_md_close(d->row);
	gcry_md_close(d->mac);
	gb_out_finish(&d->buf, NULL);
	free(d->ok);
	free(d->obuf);
	free(d->prev);
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
