/* err.c - messages, exit statuses, memory, and cleanup of temporary paths */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gb.h"

const char *gb_progname = "gymbackup";

void
gb_setprogname(const char *argv0)
{
	const char *p = argv0 ? strrchr(argv0, '/') : NULL;

	if (argv0 && *argv0)
		gb_progname = p ? p + 1 : argv0;
}

/* The long options of a tool that has no others. */
const struct option gb_stdopts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, GB_OPT_VERSION },
	{ NULL, 0, NULL, 0 }
};

/* --version: GB_VERSION, the one the manifest's creator line names too */
_Noreturn void
gb_version(void)
{
	printf("%s (gymbackup) %s\n", gb_progname, GB_VERSION);
	exit(GB_EXIT_OK);	/* gb_close_stdout checks what it wrote */
}

/*
 * The operands after the options of a filter (gb-pack, gb-seal): at most
 * one input, "-" or none for stdin (NULL); -1 for more.
 */
int
gb_input_operand(int argc, char *argv[], const char **input)
{
	argc -= optind;
	argv += optind;
	if (argc > 1)
		return -1;
	*input = argc == 1 && strcmp(argv[0], "-") != 0 ? argv[0] : NULL;
	return 0;
}

static void
vmsg(int errnum, const char *fmt, va_list ap)
{
	gb_progress_clear();	/* a message on a line of its own */
	fprintf(stderr, "%s: ", gb_progname);
	vfprintf(stderr, fmt, ap);
	if (errnum)
		fprintf(stderr, ": %s", strerror(errnum));
	fputc('\n', stderr);
}

void
gb_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(0, fmt, ap);
	va_end(ap);
}

void
gb_warn(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vmsg(e, fmt, ap);
	va_end(ap);
}

/*
 * Each tool's atexit (as coreutils' close_stdout): what it printed reached
 * standard output, or it exits 3 saying so; another program may read it
 * (gb-backup reads gb-write's).  Its work is done: nothing is cleaned up.
 * A standard output closed with nothing pending is no error.
 */
void
gb_close_stdout(void)
{
	int pending = __fpending(stdout) != 0, failed = ferror(stdout), r;

	errno = 0;
	r = fclose(stdout);
	if (!failed && (r == 0 || (!pending && errno == EBADF)))
		return;
	if (errno)
		fprintf(stderr, "%s: cannot write standard output: %s\n",
		    gb_progname, strerror(errno));
	else
		fprintf(stderr, "%s: cannot write standard output\n",
		    gb_progname);
	_exit(GB_EXIT_RUN);
}

static void cleanup_exit(void);

void
gb_errx(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(0, fmt, ap);
	va_end(ap);
	cleanup_exit();
	exit(status);
}

void
gb_err(int status, const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vmsg(e, fmt, ap);
	va_end(ap);
	cleanup_exit();
	exit(status);
}

static void
nomem(void)
{
	gb_errx(GB_EXIT_RUN, "out of memory");
}

void *
gb_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		nomem();
	return p;
}

void *
gb_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		nomem();
	return p;
}

void *
gb_realloc(void *p, size_t n)
{
	if (!(p = realloc(p, n ? n : 1)))
		nomem();
	return p;
}

char *
gb_strdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		nomem();
	return p;
}

char *
gb_strndup(const char *s, size_t n)
{
	char *p = gb_malloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
gb_vasprintf(const char *fmt, va_list ap)
{
	char *p;

	if (vasprintf(&p, fmt, ap) < 0)
		nomem();
	return p;
}

char *
gb_asprintf(const char *fmt, ...)
{
	char *p;
	va_list ap;

	va_start(ap, fmt);
	p = gb_vasprintf(fmt, ap);
	va_end(ap);
	return p;
}

/*
 * The registry: a list of the paths to remove, newest first, so that
 * files go before the directory holding them.  The signal handler walks
 * it with nothing but unlink(2) and rmdir(2).  It has no bound (an export
 * of 2,000 tables registers 2,000 files), and it changes only with the
 * cleanup signals blocked and under a mutex: a node is whole before one
 * store links it in, and one store unlinks it.  pthread_sigmask blocks
 * them in the calling thread only, so every worker is made by
 * gb_thread_create with them blocked for good: the handler runs only on
 * a thread that blocks them itself while it changes the list, and never
 * sees a half-made list or a freed node.
 */
struct tmpnode {
	struct tmpnode *volatile next;
	int lockfd;		/* holds the flock that marks it live, or -1 */
	char path[];
};
static struct tmpnode *volatile cleanup;
static pthread_mutex_t cleanup_mu = PTHREAD_MUTEX_INITIALIZER;
static const int cleanup_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };

static void
hold(sigset_t *old)
{
	gb_signals_defer(old);
	pthread_mutex_lock(&cleanup_mu);
}

static void
release(const sigset_t *old)
{
	pthread_mutex_unlock(&cleanup_mu);
	gb_signals_resume(old);
}

/* A worker thread, with the cleanup signals blocked from its start. */
int
gb_thread_create(pthread_t *tid, void *(*fn)(void *), void *arg)
{
	sigset_t old;
	int e;

	gb_signals_defer(&old);
	e = pthread_create(tid, NULL, fn, arg);
	gb_signals_resume(&old);
	return e;
}

static struct tmpnode *
new_node(const char *path, int lockfd)
{
	size_t n = strlen(path) + 1;
	struct tmpnode *t = gb_malloc(sizeof *t + n);

	memcpy(t->path, path, n);
	t->lockfd = lockfd;
	t->next = NULL;
	return t;
}

/* Called held. */
static void
link_node(struct tmpnode *t)
{
	t->next = cleanup;
	cleanup = t;
}

void
gb_cleanup_add(const char *path)
{
	struct tmpnode *t = new_node(path, -1);
	sigset_t old;

	hold(&old);
	link_node(t);
	release(&old);
}

int
gb_cleanup_create(const char *path, mode_t mode)
{
	sigset_t old;
	int fd;

	hold(&old);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	release(&old);
	return fd;
}

void
gb_cleanup_forget(const char *path)
{
	struct tmpnode *volatile *pp, *t = NULL;
	sigset_t old;

	hold(&old);
	for (pp = &cleanup; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->path, path) == 0) {
			t = *pp;
			*pp = t->next;
			break;
		}
	release(&old);
	if (t) {
		if (t->lockfd >= 0)
			close(t->lockfd);
		free(t);
	}
}

static void
cleanup_paths(void)
{
	for (struct tmpnode *t = cleanup; t; t = t->next)
		if (unlink(t->path) == -1 &&
		    (errno == EISDIR || errno == EPERM))	/* a directory */
			rmdir(t->path);
}

/* Takes the whole list off the registry; remove: its paths first. */
static void
drain(int remove)
{
	struct tmpnode *t, *next;
	sigset_t old;

	hold(&old);
	if (remove)
		cleanup_paths();
	t = cleanup;
	cleanup = NULL;
	release(&old);
	for (; t; t = next) {
		next = t->next;
		if (t->lockfd >= 0)
			close(t->lockfd);
		free(t);
	}
}

/*
 * On the way out of a failure: the registered paths go, and the registry
 * stays held until the exit, so that no other thread makes a file after
 * they are gone (each is registered before it is made: a worker of
 * gb-export would fill the work directory the cleanup just emptied).
 * Once only: a second failure on the way out exits at once.
 */
static void
cleanup_exit(void)
{
	static pthread_t owner;
	static int once;
	sigset_t old;

	if (__atomic_exchange_n(&once, 1, __ATOMIC_SEQ_CST)) {
		if (pthread_equal(owner, pthread_self()))
			_exit(GB_EXIT_RUN);
		for (;;)	/* another thread is on its way out */
			pause();
	}
	owner = pthread_self();
	hold(&old);
	cleanup_paths();
}

void
gb_cleanup_run(void)
{
	drain(1);
}

void
gb_cleanup_clear(void)
{
	drain(0);
}

const char *
gb_tmpdir(void)
{
	const char *tmp = getenv("TMPDIR");

	return tmp && *tmp ? tmp : "/tmp";
}

char *
gb_tmp_template(const char *fmt, ...)
{
	va_list ap;
	char *prefix, *t;

	va_start(ap, fmt);
	if (vasprintf(&prefix, fmt, ap) < 0)
		nomem();
	va_end(ap);
	t = gb_asprintf("%s.%ld.XXXXXX", prefix, (long)getpid());
	free(prefix);
	return t;
}

/*
 * NAME.PID.XXXXXX, NAME beginning with prefix (of plen bytes) or, with no
 * prefix, being gb-WORD or ending in ".tmp": one of our temporary paths.
 * Its PID, or -1.
 */
static long
own_name(const char *name, const char *prefix, size_t plen)
{
	size_t n = strlen(name), i, d;
	long pid = 0;

	if (n < 9 || name[n - 7] != '.')
		return -1;
	for (i = n - 6; i < n; i++)
		if (!isalnum((unsigned char)name[i]))
			return -1;
	for (d = n - 7; d > 0 && isdigit((unsigned char)name[d - 1]); d--)
		;
	if (d == n - 7 || d == 0 || name[d - 1] != '.' || n - 7 - d > 9)
		return -1;
	for (i = d; i < n - 7; i++)
		pid = pid * 10 + (name[i] - '0');
	if (pid <= 0)
		return -1;
	d--;			/* NAME is name[0 .. d) */
	if (prefix)
		return d == plen && memcmp(name, prefix, plen) == 0 ? pid : -1;
	if (d > 3 && memcmp(name, "gb-", 3) == 0) {
		for (i = 3; i < d; i++)
			if (!islower((unsigned char)name[i]))
				return -1;
		return pid;
	}
	return d > 4 && memcmp(name + d - 4, ".tmp", 4) == 0 ? pid : -1;
}

/*
 * Did process pid, the owner of something last changed at mtime, end?
 * Gone, a zombie, or a newer process under the same pid (it started
 * after the change, so it cannot have made it).  Without /proc to ask, a
 * live pid counts as the owner.
 */
int
gb_pid_gone(long pid, time_t mtime)
{
	char path[64], buf[1024], *p;
	unsigned long long start, btime = 0;
	ssize_t n;
	int fd;
	FILE *fp;

	if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) {
		snprintf(path, sizeof path, "/proc/%ld/stat", pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return errno == ENOENT && kill((pid_t)pid, 0) == -1 &&
			    errno == ESRCH;
		n = gb_read_full(fd, buf, sizeof buf - 1);
		close(fd);
		if (n <= 0)
			return 0;
		buf[n] = '\0';
		/* after the name in parentheses: state (field 3), then the
		 * space before field 22, the start time */
		if (!(p = strrchr(buf, ')')) || p[1] != ' ')
			return 0;
		if (p[2] == 'Z' || p[2] == 'X')
			return 1;
		for (int f = 3; f <= 22; f++)
			if (!(p = strchr(p + 1, ' ')))
				return 0;
		start = strtoull(p + 1, NULL, 10);
		if (!(fp = fopen("/proc/stat", "re")))
			return 0;
		while (fgets(buf, sizeof buf, fp))
			if (sscanf(buf, "btime %llu", &btime) == 1)
				break;
		fclose(fp);
		/* a second's slack: btime and the ticks are both rounded */
		return btime && (time_t)(btime + start /
		    (unsigned long long)sysconf(_SC_CLK_TCK)) > mtime + 1;
	}
	return 1;
}

/*
 * Is name in dir one of ours whose owner is gone?  Ours and our user's,
 * a plain file or directory, its lock free, its owner gone.  1 with
 * *lockfd holding its lock (the caller removes it and closes), else 0.
 */
static int
stale_at(int dirfd, const char *name, long pid, int *lockfd)
{
	struct stat sb, fsb;
	int fd;

	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1 ||
	    sb.st_uid != geteuid() || !(S_ISDIR(sb.st_mode) ||
	    S_ISREG(sb.st_mode)))
		return 0;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
	    (S_ISDIR(sb.st_mode) ? O_DIRECTORY : 0));
	if (fd < 0)
		return 0;
	/* no flock here (some network file systems): the pid tells */
	if (fstat(fd, &fsb) == -1 || fsb.st_ino != sb.st_ino ||
	    fsb.st_dev != sb.st_dev || (flock(fd, LOCK_EX | LOCK_NB) == -1 &&
	    (errno == EWOULDBLOCK || errno == EINTR)) ||
	    !gb_pid_gone(pid, fsb.st_mtime)) {
		close(fd);
		return 0;
	}
	*lockfd = fd;
	return 1;
}

/* Removes what directory fd holds (not following links), then closes fd. */
static int
remove_under(int fd, int depth)
{
	DIR *d = fdopendir(fd);
	struct dirent *e;
	int r = 0;

	if (!d) {
		close(fd);
		return -1;
	}
	while ((e = readdir(d))) {
		int sub;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, e->d_name, 0) == 0)
			continue;
		if ((errno != EISDIR && errno != EPERM) || depth > 8 ||
		    (sub = openat(fd, e->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) < 0 || remove_under(sub, depth + 1) ||
		    unlinkat(fd, e->d_name, AT_REMOVEDIR) == -1)
			r = -1;
	}
	closedir(d);
	return r;
}

/*
 * Each stale entry of ours in dir, named prefix.PID.XXXXXX (any of ours
 * with a NULL prefix), goes to fn (if any) with its lock held; fn may
 * remove it.  With live set, the walk stops at the first entry whose
 * owner lives, and *live gets its pid.  The number of stale ones found.
 */
static int
each_stale(const char *dir, const char *prefix, long *live,
    void (*fn)(void *, int, int, const char *, long), void *arg)
{
	size_t plen = prefix ? strlen(prefix) : 0;
	int dirfd, found = 0;
	struct dirent *e;
	DIR *d;

	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 0;
	if (!(d = fdopendir(dirfd))) {
		close(dirfd);
		return 0;
	}
	while ((e = readdir(d))) {
		long pid = own_name(e->d_name, prefix, plen);
		int lockfd;
		if (pid <= 0)
			continue;
		if (stale_at(dirfd, e->d_name, pid, &lockfd)) {
			found++;
			if (fn)
				fn(arg, dirfd, lockfd, e->d_name, pid);
			close(lockfd);
		} else if (live) {
			*live = pid;
			break;
		}
	}
	closedir(d);
	return found;
}

struct stale_list {
	const char *dir;
	void (*fn)(void *arg, const char *path, long pid);
	void *arg;
};

static void
report_one(void *arg, int dirfd, int lockfd, const char *name, long pid)
{
	struct stale_list *l = arg;
	char *path = gb_asprintf("%s/%s", l->dir, name);

	l->fn(l->arg, path, pid);
	free(path);
}

int
gb_tmp_stale(const char *dir, const char *prefix,
    void (*fn)(void *arg, const char *path, long pid), void *arg)
{
	struct stale_list l = { dir, fn, arg };

	return each_stale(dir, prefix, NULL, report_one, &l);
}

long
gb_tmp_owner(const char *dir, const char *prefix)
{
	long owner = 0;

	each_stale(dir, prefix, &owner, NULL, NULL);
	return owner;
}

static void
reap_one(void *arg, int dirfd, int lockfd, const char *name, long pid)
{
	const char *dir = arg;
	struct stat sb;
	int r = -1, sub;

	if (fstat(lockfd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		if ((sub = fcntl(lockfd, F_DUPFD_CLOEXEC, 0)) >= 0 &&
		    remove_under(sub, 0) == 0)
			r = unlinkat(dirfd, name, AT_REMOVEDIR);
	} else
		r = unlinkat(dirfd, name, 0);
	if (r == 0)
		gb_warnx("removed %s/%s, left by process %ld, which did not "
		    "finish", dir, name, pid);
	else if (errno != ENOENT)	/* else another process reaped it first */
		gb_warn("cannot remove %s/%s, left by process %ld", dir, name,
		    pid);
}

int
gb_tmp_reap(const char *dir, const char *prefix)
{
	return each_stale(dir, prefix, NULL, reap_one, (void *)dir);
}

/*
 * A temporary file (dir 0) or directory (dir 1) made from template and
 * registered for cleanup with the cleanup signals held off, so that no
 * signal can fall between its making and its registration.  It is
 * flock'ed until it is forgotten or removed, or the process ends: that
 * lock tells a later run that it is in use.  A template of
 * gb_tmp_template's form first has the stale ones of its name removed.
 * The fd of a file, 0 for a directory, -1 and errno on failure.
 */
int
gb_mktemp(char *template, int dir)
{
	size_t n = strlen(template);
	char *copy = gb_strdup(template), *slash, *pfx;
	int fd = -1, e = 0;
	sigset_t old;

	pfx = n > 7 ? gb_strndup(template, n - 7) : NULL;
	if (pfx && strrchr(pfx, '.') && strtol(strrchr(pfx, '.') + 1, NULL,
	    10) == (long)getpid()) {
		*strrchr(pfx, '.') = '\0';
		if ((slash = strrchr(pfx, '/'))) {
			*slash = '\0';
			gb_tmp_reap(*pfx ? pfx : "/", slash + 1);
		} else
			gb_tmp_reap(".", pfx);
	}
	free(pfx);
	for (int tries = 0; tries < 3; tries++) {
		struct tmpnode *t = new_node(copy, -1);
		struct stat sb, lsb;
		int busy;

		strcpy(template, copy);
		hold(&old);
		fd = dir ? (mkdtemp(template) ? 0 : -1) :
		    mkostemp(template, O_CLOEXEC);
		/*
		 * The lock is on a read-only descriptor of its own: it lives
		 * on when fd is closed, and fd's close, the last of what was
		 * written, is the caller's to check.
		 */
		if (fd >= 0 && (t->lockfd = open(template, O_RDONLY |
		    O_NOFOLLOW | O_CLOEXEC | (dir ? O_DIRECTORY : 0))) < 0) {
			e = errno;
			if (dir)
				rmdir(template);
			else {
				unlink(template);
				close(fd);
			}
			fd = -1;
			errno = e;
		}
		e = errno;
		if (fd >= 0) {
			strcpy(t->path, template);
			link_node(t);
		}
		release(&old);
		if (fd < 0) {
			free(t);
			break;
		}
		/*
		 * A later run looking for stale ones may hold the lock a
		 * moment, and if it took this one away, make another.  Never
		 * wait for it: while it holds the lock, this one goes and
		 * another is made.  A file system without flock leaves the
		 * owner's pid to tell.
		 */
		while ((busy = flock(t->lockfd, LOCK_EX | LOCK_NB) == -1) &&
		    errno == EINTR)
			;
		busy = busy && errno == EWOULDBLOCK;
		if (fstat(t->lockfd, &sb) == 0 && lstat(template, &lsb) == 0 &&
		    sb.st_ino == lsb.st_ino && sb.st_dev == lsb.st_dev) {
			if (busy && dir)
				rmdir(template);
			else if (busy)
				unlink(template);
			else if (dir || (fstat(fd, &lsb) == 0 &&
			    sb.st_ino == lsb.st_ino && sb.st_dev == lsb.st_dev)) {
				free(copy);
				return fd;
			}
		}
		e = ESTALE;
		gb_cleanup_forget(template);
		if (!dir)
			close(fd);
		fd = -1;
	}
	free(copy);
	errno = e;
	return fd;
}

static void
on_signal(int sig)
{
	cleanup_paths();
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * Holds the cleanup signals off a step that must not be cut in two (an
 * archive renamed into place and its seal): one that comes meanwhile is
 * acted on by gb_signals_resume.
 */
void
gb_signals_defer(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof cleanup_sigs / sizeof *cleanup_sigs; i++)
		sigaddset(&set, cleanup_sigs[i]);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

void
gb_signals_resume(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

void
gb_cleanup_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof cleanup_sigs / sizeof *cleanup_sigs; i++)
		sigaction(cleanup_sigs[i], &sa, NULL);
}
