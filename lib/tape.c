/*
 * tape.c - tape files and records on a Linux st device (non-rewinding,
 * /dev/nstN) or on a tape image (SIMH .tap: each record is its 32-bit
 * little-endian length, the data padded to an even size, and the length
 * again; a zero length is a tape mark).  An image may have a capacity,
 * past which writes fail as a full tape does (ENOSPC).
 *
 * The st path stays thin: what the driver reports is translated into what
 * the image path says (ENODATA at the end of data, ENOSPC at the end of
 * medium).  tests/stdrive.c, a stand-in drive after st(4), runs it in the
 * tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mtio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gb.h"
#include "gb-media.h"

static int
st_op(struct gb_tape *t, short op, int count)
{
	struct mtop mt = { .mt_op = op, .mt_count = count };

	return ioctl(t->fd, MTIOCTOP, &mt);
}

int
gb_tape_open(struct gb_tape *t, const char *media, int writing,
    size_t blocksize)
{
	struct stat sb;

	memset(t, 0, sizeof *t);
	t->bad = t->walked = -1;
	t->blocksize = blocksize;
	if (strncmp(media, "tape:", 5) == 0) {
		t->image = 1;
		t->path = gb_strdup(media + 5);
		t->fd = open(t->path, (writing ? O_RDWR | O_CREAT : O_RDONLY) |
		    O_CLOEXEC, 0600);
	} else {
		t->path = gb_strdup(media);
		t->fd = open(t->path, (writing ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	}
	if (t->fd < 0)
		return -1;
	if (t->image)
		return 0;
	if (fstat(t->fd, &sb) == -1 || !S_ISCHR(sb.st_mode)) {
		close(t->fd);
		errno = ENOTTY;
		return -1;
	}
	{
		struct mtget g;
		if (ioctl(t->fd, MTIOCGET, &g) == -1)
			return -1;
		if (!GMT_ONLINE(g.mt_gstat)) {
			errno = ENOMEDIUM;
			return -1;
		}
		if (writing && GMT_WR_PROT(g.mt_gstat)) {
			errno = EROFS;
			return -1;
		}
	}
	/*
	 * 0: variable blocks, one record per write; else fixed blocks.  A
	 * size outside the drive's block limits is EINVAL (st(4)).
	 */
	if (blocksize > INT_MAX || st_op(t, MTSETBLK, (int)blocksize) == -1) {
		int e = errno;
		close(t->fd);
		t->fd = -1;
		errno = e == EINVAL || blocksize > INT_MAX ? EINVAL : e;
		t->setblk = 1;
		return -1;
	}
	/*
	 * Encrypted archives do not compress: the drive's compression only
	 * costs speed.  What it said is the caller's to report.
	 */
	if (writing)
		t->comperr = st_op(t, MTCOMPRESSION, 0) == -1 ? errno : 0;
	/*
	 * A non-rewinding device is where the last user left it: at BOT,
	 * as fileno says, before anything is read.
	 */
	return gb_tape_rewind(t);
}

int
gb_tape_status(struct gb_tape *t, struct mtget *g)
{
	if (t->image) {
		errno = ENOTTY;
		return -1;
	}
	return ioctl(t->fd, MTIOCGET, g);
}

/* Past the data st says 0 once, then EIO: both are its end of data. */
static int
st_at_eod(struct gb_tape *t)
{
	struct mtget g;

	return ioctl(t->fd, MTIOCGET, &g) == 0 && GMT_EOD(g.mt_gstat);
}

void
gb_tape_close(struct gb_tape *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	free(t->path);
	t->path = NULL;
}

int
gb_tape_rewind(struct gb_tape *t)
{
	t->fileno = 0;
	if (t->image)
		return lseek(t->fd, 0, SEEK_SET) == -1 ? -1 : 0;
	return st_op(t, MTREW, 1);
}

static int
put_le32(struct gb_tape *t, uint32_t v)
{
	unsigned char b[4] = { v & 0xff, v >> 8 & 0xff, v >> 16 & 0xff, v >> 24 };

	return gb_write_all(t->fd, b, 4);
}

static int
pget_le32(struct gb_tape *t, off_t pos, uint32_t *v)
{
	unsigned char b[4];
	ssize_t n;

	do
		n = pread(t->fd, b, 4, pos);
	while (n < 0 && errno == EINTR);
	if (n != 4) {
		if (n >= 0)
			errno = EIO;
		return -1;
	}
	*v = b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
	return 0;
}

#define ELEM_MARK 0
#define ELEM_DATA 1
#define ELEM_END 2	/* the end of the image, or an end of medium marker */
#define ELEM_BAD 3	/* a damaged or unfinished record */
#define LEN(v) ((v) & 0x00ffffff)	/* SIMH keeps error flags on top */
#define SPAN(n) ((off_t)8 + (n) + ((n) & 1))

/*
 * Where whole records resume after a record whose length word is damaged,
 * or -1.  The image is walked back from its end (each record's length is
 * also after it) as far as it holds; a damaged record is stepped over
 * only when the forward and the backward walk agree on where it ends, so
 * that one bad length word never hides the archives after it.  The walk
 * back is made once per image size: an image damaged all over costs one
 * walk, not one per record.
 */
static off_t
resync(struct gb_tape *t, off_t pos, off_t size, uint32_t lead)
{
	off_t fwd = pos + SPAN(LEN(lead));
	uint32_t v, w;

	if (t->walked != size) {
		off_t q = size;
		t->lead = -1;
		while (q >= 4 && pget_le32(t, q - 4, &v) == 0) {
			off_t s;
			if (v == 0 || (v == 0xffffffff && q == size)) {
				q -= 4;		/* a mark, or the end of medium */
				continue;
			}
			s = q - SPAN(LEN(v));
			if (s < 0 || pget_le32(t, s, &w) == -1)
				break;
			if (w != v) {	/* a damaged leading length, maybe */
				t->lead = s;
				break;
			}
			q = s;
		}
		t->walked = size;
		t->whole = q;
	}
	if (t->lead == pos && t->whole > pos)
		return t->whole;	/* the leading length is the bad one */
	/* the trailing length is the bad one: the leading one holds */
	return t->whole == fwd && fwd <= size ? fwd : -1;
}

/*
 * What is at byte pos of an image: a mark, a record of *len bytes, the
 * end, or a damaged record (t->bad its offset).  *next: where the next
 * element starts, -1 when nothing after a damaged one can be trusted.
 */
static int
elem(struct gb_tape *t, off_t pos, uint32_t *len, off_t *next)
{
	struct stat sb;
	uint32_t v, v2;

	*next = -1;
	*len = 0;
	if (fstat(t->fd, &sb) == -1)
		return -1;
	if (pos >= sb.st_size)
		return ELEM_END;
	if (pos + 4 > sb.st_size) {
		t->bad = pos;
		return ELEM_BAD;
	}
	if (pget_le32(t, pos, &v) == -1)
		return -1;
	if (v == 0) {
		*next = pos + 4;
		return ELEM_MARK;
	}
	if (v == 0xffffffff)
		return ELEM_END;
	*len = LEN(v);
	if (*len == 0) {	/* error flags and no data: not a mark */
		t->bad = pos;
		*next = pos + 8 <= sb.st_size && pget_le32(t, pos + 4, &v2) == 0 &&
		    v2 == v ? pos + 8 : -1;
		return ELEM_BAD;
	}
	if (pos + SPAN(*len) <= sb.st_size &&
	    pget_le32(t, pos + SPAN(*len) - 4, &v2) == 0 && v2 == v) {
		*next = pos + SPAN(*len);
		return ELEM_DATA;
	}
	*next = resync(t, pos, sb.st_size, v);
	t->bad = pos;
	return ELEM_BAD;
}

ssize_t
gb_tape_read(struct gb_tape *t, void *buf, size_t cap)
{
	uint32_t len;
	off_t pos, next;
	int k;

	if (!t->image) {
		ssize_t n;
		int e;
		/* fixed blocks: st wants a whole number of them (EINVAL) */
		if (t->blocksize && buf)
			cap -= cap % t->blocksize;
		do
			n = read(t->fd, buf, cap);
		while (n < 0 && errno == EINTR);
		e = errno;
		if (n <= 0 && (n == 0 || e == EIO || e == ENOSPC) &&
		    st_at_eod(t)) {
			errno = ENODATA;
			return -1;
		}
		if (n == 0)
			t->fileno++;
		errno = e;
		return n;	/* 0 a tape mark */
	}
	if ((pos = lseek(t->fd, 0, SEEK_CUR)) == -1 ||
	    (k = elem(t, pos, &len, &next)) == -1)
		return -1;
	switch (k) {
	case ELEM_END:
		errno = ENODATA;
		return -1;
	case ELEM_BAD:
		/* reported, and stepped over when the records after hold */
		if (next >= 0)
			lseek(t->fd, next, SEEK_SET);
		errno = EIO;
		return -1;
	case ELEM_MARK:
		t->fileno++;
		return lseek(t->fd, next, SEEK_SET) == -1 ? -1 : 0;
	}
	if (buf && len > cap) {
		errno = EOVERFLOW;
		return -1;
	}
	/* no buffer: the record is stepped over, its length returned */
	if ((buf && (lseek(t->fd, pos + 4, SEEK_SET) == -1 ||
	    gb_read_full(t->fd, buf, len) != (ssize_t)len)) ||
	    lseek(t->fd, next, SEEK_SET) == -1) {
		errno = EIO;
		return -1;
	}
	return (ssize_t)len;
}

int
gb_tape_write(struct gb_tape *t, const void *buf, size_t len)
{
	if (!t->image) {
		ssize_t n;
		do
			n = write(t->fd, buf, len);
		while (n < 0 && errno == EINTR);
		if (n >= 0 && (size_t)n != len)
			errno = ENOSPC;		/* a short write: end of medium */
		if ((n >= 0 && (size_t)n != len) || (n < 0 && errno == ENOSPC)) {
			t->eom = 1;
			return -1;
		}
		return n < 0 ? -1 : 0;
	}
	t->walked = -1;	/* what was walked back may change */
	{
		off_t pos = lseek(t->fd, 0, SEEK_CUR);
		size_t need = 8 + len + (len & 1);
		static const char pad;
		if (pos < 0)
			return -1;
		if (t->capacity > 0 && (uint64_t)pos + need + 4 >
		    (uint64_t)t->capacity) {
			errno = ENOSPC;		/* the image's end of medium */
			return -1;
		}
		if (put_le32(t, (uint32_t)len) || gb_write_all(t->fd, buf, len) ||
		    ((len & 1) && gb_write_all(t->fd, &pad, 1)) ||
		    put_le32(t, (uint32_t)len))
			return -1;
		gb_write_behind(t->fd, &t->behind, (uint64_t)pos + need);
		return 0;
	}
}

int
gb_tape_mark(struct gb_tape *t, int sync)
{
	t->fileno++;
	if (!t->image)
		return st_op(t, MTWEOF, 1);	/* also flushes the drive */
	t->walked = -1;
	if (put_le32(t, 0) == -1)
		return -1;
	/* what follows a new mark is gone, as on tape */
	return ftruncate(t->fd, lseek(t->fd, 0, SEEK_CUR)) == -1 ||
	    (sync && fsync(t->fd) == -1) ? -1 : 0;
}

int
gb_tape_eod(struct gb_tape *t)
{
	off_t pos = 0, next;
	uint32_t len;
	int k, marks = 0;

	if (!t->image) {
		struct mtget g;
		if (st_op(t, MTEOM, 1) == -1 || ioctl(t->fd, MTIOCGET, &g) == -1)
			return -1;
		t->fileno = g.mt_fileno;
		return 0;
	}
	/*
	 * An image is walked, counting marks.  Nothing is cut: a damaged
	 * record is the caller's to report (t->bad), wherever it is.
	 */
	while ((k = elem(t, pos, &len, &next)) == ELEM_MARK ||
	    k == ELEM_DATA) {
		marks += k == ELEM_MARK;
		pos = next;
	}
	if (k == -1)
		return -1;
	if (k == ELEM_BAD) {
		errno = EIO;
		return -1;
	}
	t->fileno = marks;
	return lseek(t->fd, pos, SEEK_SET) == -1 ? -1 : 0;
}

int
gb_tape_truncate(struct gb_tape *t)
{
	off_t pos;

	if (!t->image)
		return 0;	/* a tape forgets what follows a write itself */
	t->walked = -1;
	pos = lseek(t->fd, 0, SEEK_CUR);
	return pos == -1 || ftruncate(t->fd, pos) == -1 ? -1 : 0;
}

int
gb_tape_seek_file(struct gb_tape *t, int fileno)
{
	off_t pos = 0, next;
	uint32_t len;
	int k;

	t->bad = -1;
	if (gb_tape_rewind(t) == -1)
		return -1;
	if (fileno == 0)
		return 0;
	if (!t->image) {
		struct mtget g;
		if (st_op(t, MTFSF, fileno) == -1) {
			if (errno == EIO && st_at_eod(t))
				errno = ENODATA;	/* fewer files */
			return -1;
		}
		/* where the drive says it is, not where it was told to go */
		if (ioctl(t->fd, MTIOCGET, &g) == -1)
			return -1;
		if (g.mt_fileno != fileno || g.mt_blkno != 0) {
			errno = EIO;
			return -1;
		}
		t->fileno = fileno;
		return 0;
	}
	/* a damaged record that can be stepped over stays in t->bad */
	while (t->fileno < fileno) {
		if ((k = elem(t, pos, &len, &next)) == -1)
			return -1;
		if (k == ELEM_END || (k == ELEM_BAD && next < 0)) {
			errno = k == ELEM_END ? ENODATA : EIO;
			return -1;
		}
		if (k == ELEM_MARK)
			t->fileno++;
		pos = next;
	}
	return lseek(t->fd, pos, SEEK_SET) == -1 ? -1 : 0;
}
