/*
 * tape.c - tape files and records on a Linux st device (non-rewinding,
 * /dev/nstN) or on a tape image (SIMH .tap: each record is its 32-bit
 * little-endian length, the data padded to an even size, and the length
 * again; a zero length is a tape mark).  An image may have a capacity,
 * past which writes fail as a full tape does (ENOSPC).
 *
 * The st path stays thin on purpose: it is what no test here can run.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mtio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gb.h"

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
	/* 0: variable blocks, one record per write; else fixed blocks */
	return st_op(t, MTSETBLK, (int)blocksize);
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
get_le32(struct gb_tape *t, uint32_t *v)
{
	unsigned char b[4];
	ssize_t n = gb_read_full(t->fd, b, 4);

	if (n == 0)
		return 0;	/* end of the image: end of data */
	if (n != 4) {
		if (n >= 0)
			errno = EIO;
		return -1;
	}
	*v = b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
	return 1;
}

ssize_t
gb_tape_read(struct gb_tape *t, void *buf, size_t cap)
{
	uint32_t len, len2;
	int r;

	if (!t->image) {
		ssize_t n;
		do
			n = read(t->fd, buf, cap);
		while (n < 0 && errno == EINTR);
		if (n == 0)
			t->fileno++;
		return n;	/* 0 a tape mark; EIO/ENOSPC past the data */
	}
	if ((r = get_le32(t, &len)) <= 0) {
		if (r == 0)
			errno = ENODATA;
		return -1;
	}
	if (len == 0) {
		t->fileno++;
		return 0;
	}
	if (len == 0xffffffff) {
		errno = ENODATA;
		return -1;
	}
	len &= 0x00ffffff;	/* SIMH keeps error flags in the top bits */
	if (len > cap) {
		errno = EOVERFLOW;
		return -1;
	}
	if (gb_read_full(t->fd, buf, len) != (ssize_t)len ||
	    (len & 1 && lseek(t->fd, 1, SEEK_CUR) == -1) ||
	    get_le32(t, &len2) != 1 || (len2 & 0x00ffffff) != len) {
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
		if (n >= 0 && (size_t)n != len) {
			errno = ENOSPC;		/* a short write: end of medium */
			return -1;
		}
		return n < 0 ? -1 : 0;
	}
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
	if (put_le32(t, 0) == -1)
		return -1;
	/* what follows a new mark is gone, as on tape */
	return ftruncate(t->fd, lseek(t->fd, 0, SEEK_CUR)) == -1 ||
	    (sync && fsync(t->fd) == -1) ? -1 : 0;
}

int
gb_tape_eod(struct gb_tape *t)
{
	if (!t->image) {
		struct mtget g;
		if (st_op(t, MTEOM, 1) == -1 || ioctl(t->fd, MTIOCGET, &g) == -1)
			return -1;
		t->fileno = g.mt_fileno;
		return 0;
	}
	/*
	 * An image is walked, counting marks.  What follows the last mark
	 * is a file whose writer died before closing it: it is cut off, as
	 * the st driver would have closed it with a mark.
	 */
	{
		struct stat sb;
		off_t pos = 0, lastmark = 0;
		int marks = 0;
		if (fstat(t->fd, &sb) == -1)
			return -1;
		while (pos + 4 <= sb.st_size) {
			unsigned char b[4];
			uint32_t len;
			if (pread(t->fd, b, 4, pos) != 4)
				return -1;
			len = b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
			if (len == 0) {
				marks++;
				lastmark = pos += 4;
				continue;
			}
			len &= 0x00ffffff;
			if (pos + 8 + len + (len & 1) > sb.st_size)
				break;
			pos += 8 + len + (len & 1);
		}
		if (lastmark != sb.st_size && ftruncate(t->fd, lastmark) == -1)
			return -1;
		t->fileno = marks;
		return lseek(t->fd, lastmark, SEEK_SET) == -1 ? -1 : 0;
	}
}

int
gb_tape_truncate(struct gb_tape *t)
{
	off_t pos;

	if (!t->image)
		return 0;	/* a tape forgets what follows a write itself */
	pos = lseek(t->fd, 0, SEEK_CUR);
	return pos == -1 || ftruncate(t->fd, pos) == -1 ? -1 : 0;
}

int
gb_tape_seek_file(struct gb_tape *t, int fileno)
{
	if (gb_tape_rewind(t) == -1)
		return -1;
	if (fileno == 0)
		return 0;
	if (!t->image) {
		if (st_op(t, MTFSF, fileno) == -1)
			return -1;
		t->fileno = fileno;
		return 0;
	}
	while (t->fileno < fileno) {
		uint32_t len;
		int r = get_le32(t, &len);
		if (r <= 0) {
			if (r == 0)
				errno = ENODATA;
			return -1;
		}
		if (len == 0) {
			t->fileno++;
			continue;
		}
		len &= 0x00ffffff;
		if (lseek(t->fd, len + (len & 1) + 4, SEEK_CUR) == -1)
			return -1;
	}
	return 0;
}
