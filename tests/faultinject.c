/*
 * faultinject.c - an LD_PRELOAD shim for the fault and kill -9 sweeps
 * (tests/faults.bats): it fails the Nth write, fsync, rename, close or
 * ftruncate of a process with an errno of the test's choosing, or kills
 * the process with SIGKILL just before that call.  Built by `make check`
 * as tests/faultinject.so.
 *
 *	GB_FAULT=RULE[,RULE...]	what to do; a RULE is
 *		KIND:N[:ERRNO]	the Nth call of KIND fails with ERRNO (EIO
 *				by default; a name such as ENOSPC, or a
 *				number); N+ fails the Nth and every later one
 *		kill:KIND:N	SIGKILL just before the Nth call of KIND
 *	    KIND: write (write, pwrite, writev, pwritev, and the flush of a
 *	    stdio stream at fflush or fclose), fsync (fsync, fdatasync),
 *	    rename (rename, renameat, renameat2), close (of a descriptor
 *	    open for writing), ftruncate; "any" counts all of them in one
 *	    sequence.
 *	GB_FAULT_PROG=PATTERN	only processes whose /proc/self/comm matches
 *				the fnmatch(3) PATTERN count (default gb-*);
 *				others (gpg, gpg-agent, bash, sqlite3) pass
 *				through untouched, and so does a child
 *				between fork and exec
 *	GB_FAULT_PATH=PREFIX	count only calls on files whose canonical
 *				path starts with PREFIX (a rename: either name)
 *	GB_FAULT_ANY=1		count calls on any descriptor; by default
 *				only regular files and directories count,
 *				not pipes, sockets, terminals or /dev/null
 *	GB_FAULT_LOG=FILE	each fault that fires appends "COMM PID fault
 *				KIND N ERRNO|kill PATH" to FILE; each counting
 *				process appends "COMM PID count write=.. fsync=..
 *				rename=.. close=.. ftruncate=.. any=.." at exit
 *
 * A stdio stream opened for writing on a regular file gets a 1 MiB buffer,
 * so that what it writes reaches the file at fflush or fclose, where the
 * shim sees it (glibc's stdio calls the write system call directly).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

enum { K_WRITE, K_FSYNC, K_RENAME, K_CLOSE, K_FTRUNCATE, K_ANY, NKIND };
static const char *kinds[NKIND] = {
	"write", "fsync", "rename", "close", "ftruncate", "any"
};

struct rule {
	int kind;
	unsigned long n;
	int sticky;		/* N+: every call from the Nth on */
	int kill;
	int err;
};

static struct rule rules[8];
static int nrules;
static int active;		/* this process counts */
static pid_t mypid;
static const char *prefix, *logpath;
static int anyfd;
static unsigned long counts[NKIND];
static char comm[32];
static __thread const char *curpath;	/* the call's file, for the log */
static __thread char pathbuf[PATH_MAX];

static const struct { const char *name; int err; } errnames[] = {
	{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EDQUOT", EDQUOT },
	{ "EXDEV", EXDEV }, { "EROFS", EROFS }, { "EPERM", EPERM },
	{ "EACCES", EACCES }, { "EBADF", EBADF }, { "EFBIG", EFBIG },
	{ "EINTR", EINTR }, { "EAGAIN", EAGAIN }, { "ENOENT", ENOENT },
};

#define REAL(name) \
	static __typeof__(name) *real_##name; \
	if (!real_##name) \
		real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

/* Log lines go out with the real write and close, uncounted. */
static void
logline(const char *fmt, ...)
{
	static ssize_t (*rw)(int, const void *, size_t);
	static int (*rc)(int);
	char buf[512];
	va_list ap;
	int fd, n;

	if (!logpath)
		return;
	if (!rw) {
		rw = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT,
		    "write");
		rc = (int (*)(int))dlsym(RTLD_NEXT, "close");
	}
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0 || (fd = open(logpath, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC, 0600)) < 0)
		return;
	(void)rw(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
	rc(fd);
}

static int
parse_err(const char *s)
{
	char *end;
	long v;

	for (size_t i = 0; i < sizeof errnames / sizeof *errnames; i++)
		if (strcmp(s, errnames[i].name) == 0)
			return errnames[i].err;
	v = strtol(s, &end, 10);
	return *end || v <= 0 ? -1 : (int)v;
}

static int
parse_kind(const char *s, size_t len)
{
	for (int k = 0; k < NKIND; k++)
		if (strlen(kinds[k]) == len && strncmp(s, kinds[k], len) == 0)
			return k;
	return -1;
}

static void
bad(const char *what)
{
	fprintf(stderr, "faultinject: GB_FAULT: cannot read \"%s\"\n", what);
	_exit(125);
}

/* "write:3:ENOSPC", "fsync:2+", "kill:rename:1" */
static void
parse_rule(char *s)
{
	struct rule *r = &rules[nrules];
	char *f[3], *save, *end;
	int nf = 0;

	if (nrules == (int)(sizeof rules / sizeof *rules))
		bad(s);
	memset(r, 0, sizeof *r);
	r->err = EIO;
	for (char *t = strtok_r(s, ":", &save); t; t = strtok_r(NULL, ":", &save))
		if (nf < 3)
			f[nf++] = t;
		else
			bad(t);
	if (nf >= 1 && strcmp(f[0], "kill") == 0) {
		if (nf != 3)
			bad(f[0]);
		r->kill = 1;
		f[0] = f[1], f[1] = f[2], nf = 2;
	}
	if (nf < 2 || (r->kind = parse_kind(f[0], strlen(f[0]))) < 0)
		bad(nf ? f[0] : "");
	r->n = strtoul(f[1], &end, 10);
	if (*end == '+')
		r->sticky = 1, end++;
	if (*end || r->n == 0)
		bad(f[1]);
	if (nf == 3 && (r->err = parse_err(f[2])) < 0)
		bad(f[2]);
	nrules++;
}

static void
in_child(void)
{
	active = 0;
}

static void
report(void)
{
	if (active && getpid() == mypid)
		logline("%s %ld count write=%lu fsync=%lu rename=%lu close=%lu "
		    "ftruncate=%lu any=%lu\n", comm, (long)mypid, counts[K_WRITE],
		    counts[K_FSYNC], counts[K_RENAME], counts[K_CLOSE],
		    counts[K_FTRUNCATE], counts[K_ANY]);
}

__attribute__((constructor)) static void
init(void)
{
	const char *pat = getenv("GB_FAULT_PROG"), *spec = getenv("GB_FAULT");
	int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, comm, sizeof comm - 1);
	char *copy, *save;

	if (fd >= 0)
		close(fd);	/* nothing counts yet: active is 0 */
	if (n <= 0)
		return;
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	if (fnmatch(pat && *pat ? pat : "gb-*", comm, 0) != 0)
		return;
	prefix = getenv("GB_FAULT_PATH");
	if (prefix && !*prefix)
		prefix = NULL;
	logpath = getenv("GB_FAULT_LOG");
	if (logpath && !*logpath)
		logpath = NULL;
	anyfd = getenv("GB_FAULT_ANY") && strcmp(getenv("GB_FAULT_ANY"), "1") == 0;
	if (spec && *spec) {
		copy = strdup(spec);
		if (!copy)
			bad(spec);
		for (char *t = strtok_r(copy, ",", &save); t;
		    t = strtok_r(NULL, ",", &save))
			parse_rule(t);
		/* the rules keep no pointer into copy */
		free(copy);
	}
	mypid = getpid();
	pthread_atfork(NULL, NULL, in_child);
	atexit(report);
	active = 1;
}

static int
path_ok(const char *path)
{
	return strncmp(path, prefix, strlen(prefix)) == 0;
}

/* Does a call on fd count? */
static int
fd_counts(int fd)
{
	char link[64], path[PATH_MAX];
	struct stat sb;
	ssize_t n;

	if (!active || getpid() != mypid)
		return 0;
	if (!anyfd && (fstat(fd, &sb) == -1 ||
	    !(S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode))))
		return 0;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof path - 1)) < 0)
		n = 0;
	path[n] = '\0';
	snprintf(pathbuf, sizeof pathbuf, "%s", path);
	curpath = pathbuf;
	return !prefix || path_ok(path);
}

/* A name as canonical as its directory: the file may not exist yet. */
static int
name_ok(int dirfd, const char *name)
{
	char buf[PATH_MAX], dir[PATH_MAX], out[2 * PATH_MAX], *slash;
	const char *base;
	int n;

	if (!prefix)
		return 1;
	if (name[0] != '/' && dirfd != AT_FDCWD) {
		char link[64];
		ssize_t l;
		snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
		if ((l = readlink(link, dir, sizeof dir - 1)) < 0)
			return 0;
		dir[l] = '\0';
		n = snprintf(buf, sizeof buf, "%s/%s", dir, name);
	} else
		n = snprintf(buf, sizeof buf, "%s", name);
	if (n < 0 || (size_t)n >= sizeof buf)
		return 0;
	slash = strrchr(buf, '/');
	base = slash ? slash + 1 : buf;
	if (slash == buf)
		strcpy(dir, "/");
	else if (slash) {
		*slash = '\0';
		if (!realpath(buf, dir))
			return 0;
	} else if (!getcwd(dir, sizeof dir))
		return 0;
	snprintf(out, sizeof out, "%s/%s", strcmp(dir, "/") ? dir : "", base);
	return path_ok(out);
}

/*
 * One more call of kind k: 0 to go on, or -1 with errno set when it must
 * fail.  A kill never returns.
 */
static int
hit(int k)
{
	unsigned long c = __atomic_add_fetch(&counts[k], 1, __ATOMIC_SEQ_CST);
	unsigned long a = __atomic_add_fetch(&counts[K_ANY], 1, __ATOMIC_SEQ_CST);

	for (int i = 0; i < nrules; i++) {
		struct rule *r = &rules[i];
		unsigned long m = r->kind == K_ANY ? a : c;
		if (r->kind != K_ANY && r->kind != k)
			continue;
		if (m != r->n && !(r->sticky && m > r->n))
			continue;
		if (r->kill) {
			logline("%s %ld fault %s %lu kill %s\n", comm,
			    (long)mypid, kinds[k], m, curpath ? curpath : "-");
			kill(getpid(), SIGKILL);
		}
		logline("%s %ld fault %s %lu %s %s\n", comm, (long)mypid,
		    kinds[k], m, strerrorname_np(r->err) ?
		    strerrorname_np(r->err) : "?", curpath ? curpath : "-");
		errno = r->err;
		return -1;
	}
	return 0;
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	REAL(write);
	if (fd_counts(fd) && hit(K_WRITE))
		return -1;
	return real_write(fd, buf, n);
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	REAL(pwrite);
	if (fd_counts(fd) && hit(K_WRITE))
		return -1;
	return real_pwrite(fd, buf, n, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	REAL(pwrite64);
	if (fd_counts(fd) && hit(K_WRITE))
		return -1;
	return real_pwrite64(fd, buf, n, off);
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	REAL(writev);
	if (fd_counts(fd) && hit(K_WRITE))
		return -1;
	return real_writev(fd, iov, cnt);
}

ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	REAL(pwritev);
	if (fd_counts(fd) && hit(K_WRITE))
		return -1;
	return real_pwritev(fd, iov, cnt, off);
}

int
fsync(int fd)
{
	REAL(fsync);
	if (fd_counts(fd) && hit(K_FSYNC))
		return -1;
	return real_fsync(fd);
}

int
fdatasync(int fd)
{
	REAL(fdatasync);
	if (fd_counts(fd) && hit(K_FSYNC))
		return -1;
	return real_fdatasync(fd);
}

int
ftruncate(int fd, off_t len)
{
	REAL(ftruncate);
	if (fd_counts(fd) && hit(K_FTRUNCATE))
		return -1;
	return real_ftruncate(fd, len);
}

int
ftruncate64(int fd, off64_t len)
{
	REAL(ftruncate64);
	if (fd_counts(fd) && hit(K_FTRUNCATE))
		return -1;
	return real_ftruncate64(fd, len);
}

/*
 * Only the close of a file open for writing counts: a failed close of
 * what was only read loses nothing.  Linux frees the descriptor even when
 * close fails: so does the shim.
 */
int
close(int fd)
{
	int c, fl;
	REAL(close);
	c = fd_counts(fd) && (fl = fcntl(fd, F_GETFL)) != -1 &&
	    (fl & O_ACCMODE) != O_RDONLY && hit(K_CLOSE);
	if (c) {
		int e = errno;
		real_close(fd);
		errno = e;
		return -1;
	}
	return real_close(fd);
}

static int
rename_counts(int olddir, const char *from, int newdir, const char *to)
{
	if (!active || getpid() != mypid)
		return 0;
	curpath = to;
	return !prefix || name_ok(olddir, from) || name_ok(newdir, to);
}

int
rename(const char *from, const char *to)
{
	REAL(rename);
	if (rename_counts(AT_FDCWD, from, AT_FDCWD, to) && hit(K_RENAME))
		return -1;
	return real_rename(from, to);
}

int
renameat(int olddir, const char *from, int newdir, const char *to)
{
	REAL(renameat);
	if (rename_counts(olddir, from, newdir, to) && hit(K_RENAME))
		return -1;
	return real_renameat(olddir, from, newdir, to);
}

int
renameat2(int olddir, const char *from, int newdir, const char *to,
    unsigned int flags)
{
	REAL(renameat2);
	if (rename_counts(olddir, from, newdir, to) && hit(K_RENAME))
		return -1;
	return real_renameat2(olddir, from, newdir, to, flags);
}

/* ------------------------------------------------------------- stdio */

static int
writable(const char *mode)
{
	return strpbrk(mode, "wa+") != NULL;
}

/* A whole-file buffer, so that the shim sees the bytes at the flush. */
static FILE *
big_buffer(FILE *fp, const char *mode)
{
	struct stat sb;

	char *buf;

	/* glibc ignores the size of a buffer it allocates itself */
	if (fp && active && writable(mode) && fstat(fileno(fp), &sb) == 0 &&
	    S_ISREG(sb.st_mode) && (buf = malloc(1 << 20)))
		setvbuf(fp, buf, _IOFBF, 1 << 20);	/* never freed: a test */
	return fp;
}

FILE *
fopen(const char *path, const char *mode)
{
	REAL(fopen);
	return big_buffer(real_fopen(path, mode), mode);
}

FILE *
fopen64(const char *path, const char *mode)
{
	REAL(fopen64);
	return big_buffer(real_fopen64(path, mode), mode);
}

FILE *
fdopen(int fd, const char *mode)
{
	REAL(fdopen);
	return big_buffer(real_fdopen(fd, mode), mode);
}

/* Bytes waiting in a stream's buffer (glibc's public FILE fields). */
static int
pending(FILE *fp)
{
	return fp && fp->_IO_write_ptr > fp->_IO_write_base;
}

/* A failed flush drops what was buffered, as a full disk would. */
static int
flush_fails(FILE *fp)
{
	if (!pending(fp) || !fd_counts(fileno(fp)) || !hit(K_WRITE))
		return 0;
	fp->_IO_write_ptr = fp->_IO_write_base;
	fp->_flags |= 0x20;	/* _IO_ERR_SEEN: ferror() says so */
	return 1;
}

int
fflush(FILE *fp)
{
	REAL(fflush);
	if (flush_fails(fp))
		return EOF;
	return real_fflush(fp);
}

int
fclose(FILE *fp)
{
	REAL(fclose);
	if (flush_fails(fp)) {
		int e = errno;
		real_fclose(fp);
		errno = e;
		return EOF;
	}
	return real_fclose(fp);
}
