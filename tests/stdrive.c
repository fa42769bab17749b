/*
 * stdrive.c - a STAND-IN tape drive for the tests, not a drive: an
 * LD_PRELOAD library that makes one device path (/dev/nst-test0 by
 * default) behave as a non-rewinding Linux st(4) device with a cartridge
 * in it, the cartridge being a file.  No drive and no kernel tape
 * emulation exist on the test machines; this runs the st path of
 * lib/tape.c (MTSETBLK, MTWEOF, MTEOM, MTIOCGET, reads and writes) that the
 * SIMH image (tape:PATH) does not.  It follows the behaviour st(4) and the
 * kernel's Documentation/scsi/st.rst describe; it is written from those
 * texts, not from a driver.  Built by `make check` as tests/stdrive.so;
 * tests run it through stdrive (media-helper.bash).
 *
 * The cartridge is a SIMH image (the format of tape:PATH, so that the
 * tests' own reader looks at it): records, 4-byte zero filemarks, and the
 * end of data where the file ends.  What the drive keeps between opens (its
 * position, block size, compression, whether the last operation was a
 * write) is in FILE.state.
 *
 *	STDRIVE_FILE=PATH	the cartridge (required; made empty if missing)
 *	STDRIVE_DEV=PATH	the device path (default /dev/nst-test0)
 *	STDRIVE_CAPACITY=N	bytes of the image at the physical end of
 *				medium (0, the default: no end)
 *	STDRIVE_EW=N		the early-warning point, bytes (default the
 *				capacity less a sixteenth)
 *	STDRIVE_WP=1		the cartridge is write-protected
 *	STDRIVE_NOMEDIUM=1	no cartridge: open fails with ENOMEDIUM, as st
 *				does without O_NONBLOCK
 *	STDRIVE_MINBLOCK=N, STDRIVE_MAXBLOCK=N	the drive's block limits
 *				(READ BLOCK LIMITS; default 1 and 8 MiB)
 *	STDRIVE_DENSITY=N	the density code in mt_dsreg (default 0x60,
 *				LTO-9)
 *	STDRIVE_NOCOMP=1	the drive has no compression page: MTCOMPRESSION
 *				fails with EIO
 *	STDRIVE_LOG=PATH	each MTSETBLK, MTCOMPRESSION, MTWEOF and
 *				short or failed write appends a line to PATH
 *	STDRIVE_KILL=OP:N	SIGKILL just after the Nth OP of the process
 *				(write: a record write, weof: MTWEOF)
 *
 * What st does and this does too:
 *  - open: EBUSY when the device is open elsewhere, ENOMEDIUM without a
 *    cartridge, EROFS for O_WRONLY or O_RDWR on a write-protected one.
 *  - variable-block mode (block size 0): one write, one record; a read
 *    returns one record, and a read shorter than the record fails with
 *    ENOMEM and the record is passed.  A write outside the block limits
 *    fails with EINVAL.
 *  - fixed-block mode (MTSETBLK N, within the limits or EINVAL): counts
 *    must be multiples of N (EINVAL); a read returns as many whole blocks
 *    as fit and stops before a filemark; a record of another size is EIO.
 *  - a read at a filemark returns 0 and passes it; at the end of data the
 *    first read returns 0, the next ones fail with EIO.
 *  - early warning (st.rst, "EOM behaviour when writing"): the write that
 *    reaches it is finished and returns its count; the next write fails
 *    with ENOSPC, the one after is allowed (a trailer), and so on,
 *    alternately, up to the physical end, where a record that does not fit
 *    fails with ENOSPC (fixed mode: the blocks that fit are written, a
 *    short count).  Filemarks may be written up to the physical end.
 *  - writing forgets everything after the position; a close after a write
 *    writes a filemark (as st does at release: also when the process was
 *    killed, which this does at the next open of the cartridge).
 *  - MTREW, MTFSF, MTBSF (to the BOT side of the mark), MTFSR, MTBSR,
 *    MTEOM (after the last mark, file number known), MTWEOF, MTSETBLK,
 *    MTCOMPRESSION, MTNOP; MTIOCGET (mt_dsreg block size and density,
 *    GMT_BOT, GMT_EOF, GMT_EOD, GMT_EOT past early warning, GMT_WR_PROT,
 *    GMT_ONLINE, GMT_DR_OPEN, mt_fileno, mt_blkno); MTIOCPOS (the logical
 *    object number: records and filemarks from BOT).
 * Spacing that meets a filemark, BOT or the end of data fails with EIO.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mtio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define E_MARK 0
#define E_DATA 1
#define E_END 2

static struct drive {
	int fd;			/* the caller's descriptor, -1 when closed */
	int statefd;
	int writable;
	off_t pos;		/* byte offset in the image */
	int fileno, blkno;
	unsigned bs;		/* 0 variable */
	int comp;
	int lastwrite;		/* st writes a filemark at close after it */
	int fm;			/* just passed a filemark (GMT_EOF) */
	int eod;		/* reads at the end of data so far */
	int ateod;		/* a read or a space met the end of data */
	int ewrefused;		/* past early warning: the last write refused */
	int nops[2];		/* record writes, filemarks: for STDRIVE_KILL */
} d = { .fd = -1, .statefd = -1 };

static int (*real_open)(const char *, int, ...);
static int (*real_close)(int);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_ioctl)(int, unsigned long, ...);
static int (*real_fstat)(int, struct stat *);

static const char *
dev(void)
{
	const char *p = getenv("STDRIVE_DEV");

	return p && *p ? p : "/dev/nst-test0";
}

static long long
num(const char *name, long long def)
{
	const char *p = getenv(name);

	return p && *p ? strtoll(p, NULL, 0) : def;
}

static void
init(void)
{
	if (real_open)
		return;
	real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
	real_read = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT,
	    "write");
	real_ioctl = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
	real_fstat = (int (*)(int, struct stat *))dlsym(RTLD_NEXT, "fstat");
}

static void
logf_(const char *fmt, ...)
{
	const char *p = getenv("STDRIVE_LOG");
	char line[256];
	va_list ap;
	int fd, n;

	if (!p || !*p)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if ((fd = real_open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644)) < 0)
		return;
	if (real_write(fd, line, (size_t)n) < 0)
		n = 0;
	real_close(fd);
}

static int
isdev(const char *path)
{
	return path && strcmp(path, dev()) == 0;
}

static off_t cap(void) { return (off_t)num("STDRIVE_CAPACITY", 0); }

static off_t
ew(void)
{
	off_t c = cap();

	return (off_t)num("STDRIVE_EW", c ? c - c / 16 : 0);
}

static off_t
size(void)
{
	struct stat sb;

	return real_fstat(d.fd, &sb) == -1 ? 0 : sb.st_size;
}

static int
get32(off_t at, uint32_t *v)
{
	unsigned char b[4];

	if (pread(d.fd, b, 4, at) != 4)
		return -1;
	*v = b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
	return 0;
}

static int
put32(off_t at, uint32_t v)
{
	unsigned char b[4] = { v & 0xff, v >> 8 & 0xff, v >> 16 & 0xff, v >> 24 };

	return pwrite(d.fd, b, 4, at) == 4 ? 0 : -1;
}

#define SPAN(n) ((off_t)8 + (n) + ((n) & 1))

/* What starts at byte at: a mark, a record of *len bytes, or the end. */
static int
elem(off_t at, uint32_t *len)
{
	uint32_t v;

	*len = 0;
	if (at >= size() || get32(at, &v) == -1 || v == 0xffffffff)
		return E_END;
	*len = v;
	return v == 0 ? E_MARK : E_DATA;
}

/* What ends at byte at, and where it starts; E_END at BOT. */
static int
before(off_t at, off_t *start)
{
	uint32_t v;

	if (at < 4 || get32(at - 4, &v) == -1)
		return E_END;
	*start = at - (v ? SPAN(v) : 4);
	return v ? E_DATA : E_MARK;
}

static void
save(void)
{
	char s[128];
	int n = snprintf(s, sizeof s, "%lld %d %d %u %d %d\n", (long long)d.pos,
	    d.fileno, d.blkno, d.bs, d.comp, d.lastwrite);

	if (d.statefd >= 0 && (pwrite(d.statefd, s, (size_t)n, 0) != n ||
	    ftruncate(d.statefd, n) == -1))
		logf_("state not saved\n");
}

static void
count(int op)
{
	const char *k = getenv("STDRIVE_KILL"), *names[2] = { "write", "weof" };
	size_t l = strlen(names[op]);

	d.nops[op]++;
	if (k && strncmp(k, names[op], l) == 0 && k[l] == ':' &&
	    atoi(k + l + 1) == d.nops[op])
		raise(SIGKILL);
}

/* Marks at the position; what followed is gone. */
static int
weof(int n)
{
	if (!d.writable) {
		errno = EACCES;
		return -1;
	}
	for (; n > 0; n--) {
		if (cap() && d.pos + 4 > cap()) {
			errno = ENOSPC;
			return -1;
		}
		if (put32(d.pos, 0) == -1 || ftruncate(d.fd, d.pos + 4) == -1)
			return -1;
		d.pos += 4;
		d.fileno++;
		d.blkno = 0;
		d.lastwrite = 0;
		save();
		logf_("MTWEOF\n");
		count(1);
	}
	d.fm = d.eod = d.ateod = 0;
	return 0;
}

/* The filemark st writes when the device is closed after a write. */
static void
release(void)
{
	if (d.lastwrite) {
		d.pos = size();
		weof(1);
	}
}

/* Where a position is: its file and block number, from BOT. */
static void
locate(off_t at)
{
	off_t p = 0;
	uint32_t len;
	int k;

	d.fileno = d.blkno = 0;
	while (p < at && (k = elem(p, &len)) != E_END) {
		if (k == E_MARK) {
			d.fileno++;
			d.blkno = 0;
			p += 4;
		} else {
			d.blkno++;
			p += SPAN(len);
		}
	}
	d.pos = p;
}

static int
dopen(const char *path, int flags)
{
	const char *file = getenv("STDRIVE_FILE");
	int acc = flags & O_ACCMODE;
	char *sp, st[128] = "";
	long long pos = 0;
	int fd;

	if (!file || !*file) {
		errno = ENXIO;	/* no such device */
		return -1;
	}
	if (num("STDRIVE_NOMEDIUM", 0)) {
		errno = ENOMEDIUM;
		return -1;
	}
	if (acc != O_RDONLY && num("STDRIVE_WP", 0)) {
		errno = EROFS;
		return -1;
	}
	if (d.fd >= 0) {
		errno = EBUSY;
		return -1;
	}
	if ((fd = real_open(file, O_RDWR | O_CREAT | (flags & O_CLOEXEC),
	    0600)) < 0)
		return -1;
	/* one open at a time, across processes too */
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		real_close(fd);
		errno = EBUSY;
		return -1;
	}
	if (asprintf(&sp, "%s.state", file) == -1) {
		real_close(fd);
		errno = ENOMEM;
		return -1;
	}
	d.statefd = real_open(sp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(sp);
	d.fd = fd;
	d.writable = acc != O_RDONLY;
	d.bs = 0;
	d.comp = 1;	/* drives come up compressing */
	d.lastwrite = d.fm = d.eod = d.ateod = d.ewrefused = 0;
	if (d.statefd >= 0 && pread(d.statefd, st, sizeof st - 1, 0) > 0)
		sscanf(st, "%lld %d %d %u %d %d", &pos, &d.fileno, &d.blkno, &d.bs,
		    &d.comp, &d.lastwrite);
	d.pos = pos;
	if (d.lastwrite) {
		/* closed by a process's death after a write */
		int w = d.writable;
		d.writable = 1;
		release();
		d.writable = w;
	}
	locate(d.pos > size() ? size() : d.pos);
	save();
	return fd;
}

static ssize_t
dread(void *buf, size_t n)
{
	size_t got = 0;
	uint32_t len;
	int k;

	d.lastwrite = 0;
	if (d.bs && n % d.bs) {
		errno = EINVAL;
		return -1;
	}
	do {
		k = elem(d.pos, &len);
		if (k == E_END) {
			if (got)
				break;
			d.ateod = 1;
			if (d.eod++) {
				errno = EIO;	/* blank check, again */
				return -1;
			}
			return 0;
		}
		if (k == E_MARK) {
			if (got)
				break;	/* the next read returns the mark */
			d.pos += 4;
			d.fileno++;
			d.blkno = 0;
			d.fm = 1;
			return 0;
		}
		d.fm = 0;
		if (d.bs && len != d.bs) {
			if (got)
				break;
			d.pos += SPAN(len);	/* illegal length: passed */
			d.blkno++;
			errno = EIO;
			return -1;
		}
		if (!d.bs && len > n) {
			d.pos += SPAN(len);
			d.blkno++;
			errno = ENOMEM;
			return -1;
		}
		if (pread(d.fd, (char *)buf + got, len, d.pos + 4) != (ssize_t)len) {
			errno = EIO;
			return -1;
		}
		got += len;
		d.pos += SPAN(len);
		d.blkno++;
	} while (d.bs && got + d.bs <= n);
	return (ssize_t)got;
}

static int
record(const void *buf, uint32_t len)
{
	static const char pad;

	if (put32(d.pos, len) == -1 ||
	    pwrite(d.fd, buf, len, d.pos + 4) != (ssize_t)len ||
	    ((len & 1) && pwrite(d.fd, &pad, 1, d.pos + 4 + len) != 1) ||
	    put32(d.pos + 4 + len + (len & 1), len) == -1) {
		errno = EIO;
		return -1;
	}
	d.pos += SPAN(len);
	if (ftruncate(d.fd, d.pos) == -1)
		return -1;
	d.blkno++;
	return 0;
}

static ssize_t
dwrite(const void *buf, size_t n)
{
	size_t rec = d.bs ? d.bs : n, done = 0;
	off_t e = ew(), c = cap();

	if (!d.writable) {
		errno = EBADF;
		return -1;
	}
	if ((d.bs && n % d.bs) || (!d.bs && (n < (size_t)num("STDRIVE_MINBLOCK",
	    1) || n > (size_t)num("STDRIVE_MAXBLOCK", 8 << 20)))) {
		errno = EINVAL;
		return -1;
	}
	if (e && d.pos >= e) {
		/* past early warning: refused and allowed in turn */
		if ((d.ewrefused = !d.ewrefused)) {
			logf_("write ENOSPC: early warning\n");
			errno = ENOSPC;
			return -1;
		}
	}
	if (!d.lastwrite) {
		d.lastwrite = 1;
		save();
	}
	d.fm = d.eod = d.ateod = 0;
	while (done < n) {
		if (c && d.pos + SPAN((off_t)rec) > c) {
			logf_("write %s: end of medium\n", done ? "short" : "ENOSPC");
			if (done)
				return (ssize_t)done;
			errno = ENOSPC;
			return -1;
		}
		if (record((const char *)buf + done, (uint32_t)rec) == -1)
			return done ? (ssize_t)done : -1;
		done += rec;
		count(0);
	}
	return (ssize_t)n;
}

/* Spaces over n records (n < 0: back); a filemark stops it with EIO. */
static int
spacerec(int n)
{
	uint32_t len;
	off_t s;

	for (; n > 0; n--) {
		int k = elem(d.pos, &len);
		if (k == E_END) {
			d.ateod = 1;
			goto eio;
		}
		if (k == E_MARK) {
			d.pos += 4;
			d.fileno++;
			d.blkno = 0;
			goto eio;
		}
		d.pos += SPAN(len);
		d.blkno++;
	}
	for (; n < 0; n++) {
		int k = before(d.pos, &s);
		if (k == E_END)
			goto eio;
		d.pos = s;
		if (k == E_MARK) {
			/* on the BOT side of the mark */
			d.fileno--;
			d.blkno = -1;
			goto eio;
		}
		d.blkno--;
	}
	return 0;
eio:
	errno = EIO;
	return -1;
}

/* Spaces over n filemarks (n < 0: back, to the BOT side of the last). */
static int
spacefile(int n)
{
	uint32_t len;
	off_t s;
	int k;

	while (n > 0) {
		if ((k = elem(d.pos, &len)) == E_END) {
			d.ateod = 1;
			errno = EIO;
			return -1;
		}
		d.pos += k == E_MARK ? 4 : SPAN(len);
		d.blkno++;
		if (k == E_MARK) {
			d.fileno++;
			d.blkno = 0;
			n--;
		}
	}
	while (n < 0) {
		if ((k = before(d.pos, &s)) == E_END) {
			d.fileno = d.blkno = 0;
			errno = EIO;
			return -1;
		}
		d.pos = s;
		if (k == E_MARK) {
			d.fileno--;
			d.blkno = -1;
			n++;
		}
	}
	return 0;
}

static long
objects(void)
{
	off_t p = 0;
	uint32_t len;
	long n = 0;
	int k;

	while (p < d.pos && (k = elem(p, &len)) != E_END) {
		p += k == E_MARK ? 4 : SPAN(len);
		n++;
	}
	return n;
}

static int
dop(const struct mtop *op)
{
	int n = op->mt_count, r = 0;

	if (op->mt_op != MTWEOF && op->mt_op != MTCOMPRESSION &&
	    op->mt_op != MTSETBLK && op->mt_op != MTNOP && d.lastwrite) {
		/* st writes the filemark before it moves */
		release();
	}
	if (op->mt_op != MTNOP && op->mt_op != MTSETBLK &&
	    op->mt_op != MTCOMPRESSION)
		d.fm = d.eod = d.ateod = d.ewrefused = 0;
	switch (op->mt_op) {
	case MTNOP:
		break;
	case MTREW:
		d.pos = 0;
		d.fileno = d.blkno = 0;
		break;
	case MTFSF:
		r = spacefile(n);
		d.fm = r == 0;
		break;
	case MTBSF:
		r = spacefile(-n);
		break;
	case MTFSR:
		r = spacerec(n);
		break;
	case MTBSR:
		r = spacerec(-n);
		break;
	case MTEOM:
		locate(size());
		d.ateod = 1;
		break;
	case MTWEOF:
		r = weof(n);
		break;
	case MTSETBLK:
		if (n && (n < num("STDRIVE_MINBLOCK", 1) ||
		    n > num("STDRIVE_MAXBLOCK", 8 << 20))) {
			logf_("MTSETBLK %d EINVAL\n", n);
			errno = EINVAL;
			return -1;
		}
		d.bs = (unsigned)n;
		logf_("MTSETBLK %d\n", n);
		break;
	case MTCOMPRESSION:
		if (num("STDRIVE_NOCOMP", 0)) {
			logf_("MTCOMPRESSION %d EIO\n", n);
			errno = EIO;
			return -1;
		}
		d.comp = n != 0;
		logf_("MTCOMPRESSION %d\n", n);
		break;
	default:
		errno = EINVAL;
		return -1;
	}
	save();
	return r;
}

static void
status(struct mtget *g)
{
	memset(g, 0, sizeof *g);
	g->mt_type = MT_ISSCSI2;
	g->mt_dsreg = (long)((unsigned long)(num("STDRIVE_DENSITY", 0x60) & 0xff)
	    << MT_ST_DENSITY_SHIFT | (d.bs & MT_ST_BLKSIZE_MASK));
	g->mt_gstat = GMT_ONLINE(~0);
	if (num("STDRIVE_WP", 0))
		g->mt_gstat |= GMT_WR_PROT(~0);
	if (d.pos == 0)
		g->mt_gstat |= GMT_BOT(~0);
	if (d.fm)
		g->mt_gstat |= GMT_EOF(~0);
	if (d.ateod)
		g->mt_gstat |= GMT_EOD(~0);
	if (ew() && d.pos >= ew())
		g->mt_gstat |= GMT_EOT(~0);
	g->mt_fileno = d.fileno;
	g->mt_blkno = d.blkno;
}

/* ------------------------------------------------ the calls taken over */

int
open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	init();
	if (isdev(path))
		return dopen(path, flags);
	va_start(ap, flags);
	mode = va_arg(ap, mode_t);
	va_end(ap);
	return real_open(path, flags, mode);
}

int open64(const char *, int, ...) __attribute__((alias("open")));

int __open_2(const char *, int);
int
__open_2(const char *path, int flags)
{
	return open(path, flags, 0);
}
int __open64_2(const char *, int) __attribute__((alias("__open_2")));

int
openat(int dirfd, const char *path, int flags, ...)
{
	static int (*real_openat)(int, const char *, int, ...);
	va_list ap;
	mode_t mode;

	init();
	if (isdev(path))
		return dopen(path, flags);
	if (!real_openat)
		real_openat = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT,
		    "openat");
	va_start(ap, flags);
	mode = va_arg(ap, mode_t);
	va_end(ap);
	return real_openat(dirfd, path, flags, mode);
}

int openat64(int, const char *, int, ...) __attribute__((alias("openat")));

int
close(int fd)
{
	init();
	if (fd >= 0 && fd == d.fd) {
		release();
		save();
		if (d.statefd >= 0)
			real_close(d.statefd);
		d.statefd = -1;
		d.fd = -1;
	}
	return real_close(fd);
}

ssize_t
read(int fd, void *buf, size_t n)
{
	init();
	if (fd >= 0 && fd == d.fd)
		return dread(buf, n);
	return real_read(fd, buf, n);
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	init();
	if (fd >= 0 && fd == d.fd)
		return dwrite(buf, n);
	return real_write(fd, buf, n);
}

int
ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	init();
	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd < 0 || fd != d.fd)
		return real_ioctl(fd, req, arg);
	if (req == MTIOCTOP)
		return dop(arg);
	if (req == MTIOCGET) {
		status(arg);
		return 0;
	}
	if (req == MTIOCPOS) {
		((struct mtpos *)arg)->mt_blkno = objects();
		return 0;
	}
	errno = ENOTTY;
	return -1;
}

/* The device is a character device, the cartridge's file is not seen. */
static void
chardev(struct stat *sb)
{
	memset(sb, 0, sizeof *sb);
	sb->st_mode = S_IFCHR | 0660;
	sb->st_rdev = makedev(9, 128);	/* the st major, an nst minor */
	sb->st_nlink = 1;
	sb->st_blksize = 512;
}

/* stat(2) or lstat(2), by NAME: the device as a character device, any
 * other path by the real call (found once, kept in *REAL). */
static int
statpath(const char *name, int (**real)(const char *, struct stat *),
    const char *path, struct stat *sb)
{
	if (isdev(path)) {
		chardev(sb);
		return 0;
	}
	if (!*real)
		*real = (int (*)(const char *, struct stat *))dlsym(RTLD_NEXT,
		    name);
	return (*real)(path, sb);
}

int
stat(const char *path, struct stat *sb)
{
	static int (*real_stat)(const char *, struct stat *);

	return statpath("stat", &real_stat, path, sb);
}

/* struct stat64 is struct stat on the 64-bit systems the tests run on */
int
stat64(const char *path, struct stat64 *sb)
{
	return stat(path, (struct stat *)sb);
}

int
lstat(const char *path, struct stat *sb)
{
	static int (*real_lstat)(const char *, struct stat *);

	return statpath("lstat", &real_lstat, path, sb);
}

int
lstat64(const char *path, struct stat64 *sb)
{
	return lstat(path, (struct stat *)sb);
}

int
fstat(int fd, struct stat *sb)
{
	init();
	if (fd >= 0 && fd == d.fd) {
		chardev(sb);
		return 0;
	}
	return real_fstat(fd, sb);
}

int
fstat64(int fd, struct stat64 *sb)
{
	return fstat(fd, (struct stat *)sb);
}
