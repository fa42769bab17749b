/*
 * faultinject.c - the LD_PRELOAD shim of the tests: it fails the Nth
 * write, fsync, rename, close, ftruncate or open of a process with an
 * errno of the test's choosing, kills the process with SIGKILL just before
 * or just after that call, or swaps a file under it.  Built by `make
 * check` as tests/faultinject.so; tests run it through faulty (helper.bash)
 * or inj (faults.bats).
 *
 *	GB_FAULT=RULE[,RULE...]	what to do; a RULE is
 *		KIND:N[:ERRNO]	the Nth call of KIND fails with ERRNO (EIO
 *				by default; a name such as ENOSPC, or a
 *				number); N+ fails the Nth and every later one
 *		kill:KIND:N	SIGKILL just before the Nth call of KIND
 *		killafter:KIND:N  SIGKILL just after it returns
 *		stopafter:KIND:N  SIGSTOP just after it returns: the
 *				test looks at the stopped process, then
 *				sends SIGCONT
 *		termafter:KIND:N  SIGTERM just after it returns (the
 *				process's own handler, if any, runs)
 *		swap:KIND:N:FILE  FILE is renamed over the rule's PATH just
 *				before the Nth call of KIND on it
 *		swapafter:KIND:N:FILE  the same, just after the call
 *	    and any RULE may end in @PATH: then only calls on PATH count for
 *	    it (a rename: to PATH; PATH is resolved at start, and must be
 *	    given for swap).  None may hold "," or "@".
 *	    KIND: write (write, pwrite, writev, pwritev, and the flush of a
 *	    stdio stream at fflush or fclose), fsync (fsync, fdatasync),
 *	    rename (rename, renameat, renameat2), close (of a descriptor
 *	    open for writing; for swap, any), ftruncate, open (open, openat,
 *	    fopen); "any" counts all of them but open in one sequence.
 *	GB_FAULT_PROG=PATTERN	only processes whose /proc/self/comm matches
 *				the fnmatch(3) PATTERN count (default gb-*);
 *				others (gpg, gpg-agent, bash, sqlite3) pass
 *				through untouched, and so does a child
 *				between fork and exec.  Any of them not named
 *				gb-* takes the shim out of its LD_PRELOAD: what
 *				gpg starts runs without it
 *	GB_FAULT_PATH=PREFIX	count only calls on files whose canonical
 *				path starts with PREFIX (a rename: either name)
 *	GB_FAULT_ANY=1		count calls on any descriptor; by default
 *				only regular files and directories count,
 *				not pipes, sockets, terminals or /dev/null
 *	GB_FAULT_LOG=FILE	each fault that fires appends "COMM PID fault
 *				KIND N ERRNO|kill|killafter|termafter|stopafter|swap|swapafter
 *				PATH" to FILE; each counting process appends
 *				"COMM PID count write=.. fsync=.. rename=..
 *				close=.. ftruncate=.. any=.." at exit
 *
 * A stdio stream opened for writing on a regular file gets a 1 MiB buffer,
 * so that what it writes reaches the file at fflush or fclose, where the
 * shim sees it (glibc's stdio calls the write system call directly).
 * Under make SANITIZE=1 the tools want ASan's runtime first: run them with
 * ASAN_OPTIONS=verify_asan_link_order=0 (the shim itself is built plain).
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

enum { K_WRITE, K_FSYNC, K_RENAME, K_CLOSE, K_FTRUNCATE, K_ANY, K_OPEN, NKIND };
static const char *kinds[NKIND] = {
	"write", "fsync", "rename", "close", "ftruncate", "any", "open"
};
enum { A_FAIL, A_KILL, A_KILLAFTER, A_TERMAFTER, A_STOPAFTER, A_SWAP,
    A_SWAPAFTER, NACT };
static const char *acts[NACT] = {
	"", "kill", "killafter", "termafter", "stopafter", "swap", "swapafter"
};

struct rule {
	int kind;
	unsigned long n, seen;
	int sticky;		/* N+: every call from the Nth on */
	int act;
	int err;
	char *path, *with;	/* @PATH, swap's FILE: canonical */
};

static struct rule rules[8];
static int nrules;
static int opens;		/* a rule counts opens */
static int active;		/* this process counts */
static pid_t mypid;
static const char *prefix, *logpath;
static int anyfd;
static unsigned long counts[NKIND];
static char comm[32];
static __thread const char *curpath;	/* the call's file, for the log */
static __thread char pathbuf[PATH_MAX];
static __thread unsigned after;		/* rules to act on after the call */

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
	static int (*ro)(const char *, int, ...), (*rc)(int);
	char buf[512];
	va_list ap;
	int fd, n;

	if (!logpath)
		return;
	if (!rw) {
		rw = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT,
		    "write");
		ro = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
		rc = (int (*)(int))dlsym(RTLD_NEXT, "close");
	}
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0 || (fd = ro(logpath, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC, 0600)) < 0)
		return;
	(void)rw(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
	rc(fd);
}

/*
 * NAME (relative to dirfd) as canonical as its directory, into out: the
 * file itself may not exist yet, or be a symbolic link.
 */
static int
canon(int dirfd, const char *name, char *out, size_t len)
{
	char buf[PATH_MAX], dir[PATH_MAX], *slash;
	const char *base;
	int n;

	if (name[0] != '/' && dirfd != AT_FDCWD) {
		char link[64];
		ssize_t l;
		snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
		if ((l = readlink(link, dir, sizeof dir - 1)) < 0)
			return -1;
		dir[l] = '\0';
		n = snprintf(buf, sizeof buf, "%s/%s", dir, name);
	} else
		n = snprintf(buf, sizeof buf, "%s", name);
	if (n < 0 || (size_t)n >= sizeof buf)
		return -1;
	slash = strrchr(buf, '/');
	base = slash ? slash + 1 : buf;
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return realpath(buf, out) && strlen(out) < len ? 0 : -1;
	if (slash == buf)
		strcpy(dir, "/");
	else if (slash) {
		*slash = '\0';
		if (!realpath(buf, dir))
			return -1;
	} else if (!getcwd(dir, sizeof dir))
		return -1;
	n = snprintf(out, len, "%s/%s", strcmp(dir, "/") ? dir : "", base);
	return n < 0 || (size_t)n >= len ? -1 : 0;
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
lookup(const char *s, const char **names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

static void
bad(const char *what)
{
	fprintf(stderr, "faultinject: GB_FAULT: cannot read \"%s\"\n", what);
	_exit(125);
}

static char *
canon_dup(const char *name)
{
	char buf[PATH_MAX];
	char *s;

	if (canon(AT_FDCWD, name, buf, sizeof buf) == -1 || !(s = strdup(buf)))
		bad(name);
	return s;
}

/* "write:3:ENOSPC", "fsync:2+", "kill:rename:1", "swap:open:1:F@P" */
static void
parse_rule(char *s)
{
	struct rule *r = &rules[nrules];
	char *f[4], *save, *end, *at = strchr(s, '@');
	int nf = 0;

	if (nrules == (int)(sizeof rules / sizeof *rules))
		bad(s);
	memset(r, 0, sizeof *r);
	r->err = EIO;
	if (at) {
		*at = '\0';
		r->path = canon_dup(at + 1);
	}
	for (char *t = strtok_r(s, ":", &save); t; t = strtok_r(NULL, ":", &save))
		if (nf < 4)
			f[nf++] = t;
		else
			bad(t);
	if (nf >= 1 && (r->act = lookup(f[0], acts, NACT)) > 0) {
		if (nf != (r->act >= A_SWAP ? 4 : 3) ||
		    (r->act >= A_SWAP && !r->path))
			bad(f[0]);
		if (r->act >= A_SWAP)
			r->with = canon_dup(f[3]);
		memmove(f, f + 1, 3 * sizeof *f), nf = 2;
	} else if (nf > 3)
		bad(s);
	else
		r->act = A_FAIL;
	if (nf < 2 || (r->kind = lookup(f[0], kinds, NKIND)) < 0 ||
	    (r->kind == K_OPEN && r->act == A_SWAPAFTER))
		bad(nf ? f[0] : "");
	r->n = strtoul(f[1], &end, 10);
	if (*end == '+')
		r->sticky = 1, end++;
	if (*end || r->n == 0)
		bad(f[1]);
	if (nf == 3 && (r->err = parse_err(f[2])) < 0)
		bad(f[2]);
	opens |= r->kind == K_OPEN;
	nrules++;
}

/* LD_PRELOAD without this shim, for what this process runs. */
static void
drop_self(void)
{
	const char *lp = getenv("LD_PRELOAD");
	char *copy, *out, *t, *save;
	Dl_info di;

	if (!lp || !dladdr((void *)drop_self, &di) || !di.dli_fname ||
	    !(copy = strdup(lp)) || !(out = calloc(1, strlen(lp) + 1)))
		return;
	for (t = strtok_r(copy, " :", &save); t; t = strtok_r(NULL, " :", &save))
		if (strcmp(t, di.dli_fname) != 0)
			strcat(strcat(out, *out ? ":" : ""), t);
	if (*out)
		setenv("LD_PRELOAD", out, 1);
	else
		unsetenv("LD_PRELOAD");
	free(copy);
	free(out);
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
	if (fnmatch("gb-*", comm, 0) != 0)
		drop_self();
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

/* Does a call on fd count?  Its path in curpath if so. */
static int
fd_counts(int fd)
{
	char link[64];
	struct stat sb;
	ssize_t n;

	if (!active || getpid() != mypid)
		return 0;
	if (!anyfd && (fstat(fd, &sb) == -1 ||
	    !(S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode))))
		return 0;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	if ((n = readlink(link, pathbuf, sizeof pathbuf - 1)) < 0)
		n = 0;
	pathbuf[n] = '\0';
	curpath = pathbuf;
	return !prefix || path_ok(pathbuf);
}

/* Does a call on a name count?  Its canonical path in curpath if so. */
static int
name_counts(int dirfd, const char *name)
{
	if (!active || getpid() != mypid)
		return 0;
	if (canon(dirfd, name, pathbuf, sizeof pathbuf) == -1)
		snprintf(pathbuf, sizeof pathbuf, "%s", name);
	curpath = pathbuf;
	return !prefix || path_ok(pathbuf);
}

static void
act(struct rule *r, int k)
{
	static int (*rr)(const char *, const char *);

	logline("%s %ld fault %s %lu %s %s\n", comm, (long)mypid, kinds[k],
	    r->seen, r->act == A_FAIL ? (strerrorname_np(r->err) ?
	    strerrorname_np(r->err) : "?") : acts[r->act],
	    curpath ? curpath : "-");
	if (r->act == A_KILL || r->act == A_KILLAFTER)
		kill(getpid(), SIGKILL);
	if (r->act == A_TERMAFTER)
		kill(getpid(), SIGTERM);
	if (r->act == A_STOPAFTER)
		kill(getpid(), SIGSTOP);
	if (r->act == A_FAIL || r->act == A_TERMAFTER || r->act == A_STOPAFTER)
		return;
	if (!rr)
		rr = (int (*)(const char *, const char *))dlsym(RTLD_NEXT,
		    "rename");
	if (rr(r->with, r->path) == -1)
		fprintf(stderr, "faultinject: cannot rename %s to %s: %s\n",
		    r->with, r->path, strerror(errno));
}

/*
 * One more call of kind k (ro: a close of what was only read, which counts
 * for swap rules alone): 0 to go on, or -1 with errno set when it must
 * fail.  A kill never returns; what comes after the call waits in after.
 */
static int
hit(int k, int ro)
{
	unsigned a = 0;
	int fail = 0, err = 0;

	if (!ro && k != K_OPEN) {
		__atomic_add_fetch(&counts[k], 1, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&counts[K_ANY], 1, __ATOMIC_SEQ_CST);
	}
	for (int i = 0; i < nrules; i++) {
		struct rule *r = &rules[i];
		if (r->kind != k && !(r->kind == K_ANY && k != K_OPEN))
			continue;
		if ((ro && r->act < A_SWAP) ||
		    (r->path && strcmp(r->path, curpath ? curpath : "") != 0))
			continue;
		r->seen++;
		if (r->seen != r->n && !(r->sticky && r->seen > r->n))
			continue;
		if (r->act == A_KILLAFTER || r->act == A_TERMAFTER ||
		    r->act == A_STOPAFTER || r->act == A_SWAPAFTER)
			a |= 1u << i;
		else if (r->act != A_FAIL)
			act(r, k);
		else if (!fail) {
			act(r, k);
			err = r->err;
			fail = 1;
		}
	}
	after = a;
	if (fail)
		errno = err;
	return fail ? -1 : 0;
}

/* The rules that act after the call; errno as the call left it. */
static void
done(int k)
{
	unsigned a = after;
	int e = errno;

	after = 0;	/* what act() calls may come here again */
	for (int i = 0; a && i < nrules; i++)
		if (a & (1u << i))
			act(&rules[i], k);
	errno = e;
}

#define CALL(k, counts, call) do { \
	__typeof__(call) r_; \
	if ((counts) && hit(k, 0)) { \
		done(k); \
		return -1; \
	} \
	r_ = (call); \
	done(k); \
	return r_; \
} while (0)

ssize_t
write(int fd, const void *buf, size_t n)
{
	REAL(write);
	CALL(K_WRITE, fd_counts(fd), real_write(fd, buf, n));
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	REAL(pwrite);
	CALL(K_WRITE, fd_counts(fd), real_pwrite(fd, buf, n, off));
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	REAL(pwrite64);
	CALL(K_WRITE, fd_counts(fd), real_pwrite64(fd, buf, n, off));
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	REAL(writev);
	CALL(K_WRITE, fd_counts(fd), real_writev(fd, iov, cnt));
}

ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	REAL(pwritev);
	CALL(K_WRITE, fd_counts(fd), real_pwritev(fd, iov, cnt, off));
}

int
fsync(int fd)
{
	REAL(fsync);
	CALL(K_FSYNC, fd_counts(fd), real_fsync(fd));
}

int
fdatasync(int fd)
{
	REAL(fdatasync);
	CALL(K_FSYNC, fd_counts(fd), real_fdatasync(fd));
}

int
ftruncate(int fd, off_t len)
{
	REAL(ftruncate);
	CALL(K_FTRUNCATE, fd_counts(fd), real_ftruncate(fd, len));
}

int
ftruncate64(int fd, off64_t len)
{
	REAL(ftruncate64);
	CALL(K_FTRUNCATE, fd_counts(fd), real_ftruncate64(fd, len));
}

/*
 * Only the close of a file open for writing counts: a failed close of
 * what was only read loses nothing (a swap counts every close).  Linux
 * frees the descriptor even when close fails: so does the shim.
 */
int
close(int fd)
{
	int fl, f, e, r;
	REAL(close);
	if (!fd_counts(fd) || (fl = fcntl(fd, F_GETFL)) == -1)
		return real_close(fd);
	f = hit(K_CLOSE, (fl & O_ACCMODE) == O_RDONLY);
	e = errno;
	r = real_close(fd);
	if (f)
		r = -1, errno = e;
	done(K_CLOSE);
	return r;
}

static int
rename_counts(int olddir, const char *from, int newdir, const char *to)
{
	char f[PATH_MAX];

	if (!active || getpid() != mypid)
		return 0;
	return name_counts(newdir, to) ||
	    (canon(olddir, from, f, sizeof f) == 0 && path_ok(f));
}

int
rename(const char *from, const char *to)
{
	REAL(rename);
	CALL(K_RENAME, rename_counts(AT_FDCWD, from, AT_FDCWD, to),
	    real_rename(from, to));
}

int
renameat(int olddir, const char *from, int newdir, const char *to)
{
	REAL(renameat);
	CALL(K_RENAME, rename_counts(olddir, from, newdir, to),
	    real_renameat(olddir, from, newdir, to));
}

int
renameat2(int olddir, const char *from, int newdir, const char *to,
    unsigned int flags)
{
	REAL(renameat2);
	CALL(K_RENAME, rename_counts(olddir, from, newdir, to),
	    real_renameat2(olddir, from, newdir, to, flags));
}

/* Opens count only for a rule of kind open. */
#define MODE(flags) mode_t mode = 0; \
	if ((flags) & (O_CREAT | __O_TMPFILE)) { \
		va_list ap; \
		va_start(ap, flags); \
		mode = va_arg(ap, mode_t); \
		va_end(ap); \
	}
#define OPEN(name) int name(const char *path, int flags, ...) { \
	MODE(flags) REAL(name); \
	CALL(K_OPEN, opens && name_counts(AT_FDCWD, path), \
	    real_##name(path, flags, mode)); }
#define OPENAT(name) int name(int dfd, const char *path, int flags, ...) { \
	MODE(flags) REAL(name); \
	CALL(K_OPEN, opens && name_counts(dfd, path), \
	    real_##name(dfd, path, flags, mode)); }
OPEN(open)
OPEN(open64)
OPENAT(openat)
OPENAT(openat64)

int __open_2(const char *, int);
int __open64_2(const char *, int);

int
__open_2(const char *path, int flags)
{
	return open(path, flags);
}

int
__open64_2(const char *path, int flags)
{
	return open(path, flags);
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

#define FOPEN(name) FILE *name(const char *path, const char *mode) { \
	FILE *fp; \
	REAL(name); \
	if (opens && name_counts(AT_FDCWD, path) && hit(K_OPEN, 0)) { \
		done(K_OPEN); \
		return NULL; \
	} \
	fp = real_##name(path, mode); \
	done(K_OPEN); \
	return big_buffer(fp, mode); }
FOPEN(fopen)
FOPEN(fopen64)

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
	if (!pending(fp) || !fd_counts(fileno(fp)))
		return 0;
	if (!hit(K_WRITE, 0))
		return -1;	/* counted: the flush goes on, then done() */
	done(K_WRITE);
	fp->_IO_write_ptr = fp->_IO_write_base;
	fp->_flags |= 0x20;	/* _IO_ERR_SEEN: ferror() says so */
	return 1;
}

int
fflush(FILE *fp)
{
	int c, r;
	REAL(fflush);
	if ((c = flush_fails(fp)) > 0)
		return EOF;
	r = real_fflush(fp);
	if (c)
		done(K_WRITE);
	return r;
}

int
fclose(FILE *fp)
{
	int c, r, e;
	REAL(fclose);
	if ((c = flush_fails(fp)) > 0) {
		e = errno;
		real_fclose(fp);
		errno = e;
		return EOF;
	}
	r = real_fclose(fp);
	if (c)
		done(K_WRITE);
	return r;
}
