/* err.c - messages, exit statuses, memory, and cleanup of temporary paths */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void
vmsg(int errnum, const char *fmt, va_list ap)
{
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

void
gb_errx(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(0, fmt, ap);
	va_end(ap);
	gb_cleanup_run();
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
	gb_cleanup_run();
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
gb_asprintf(const char *fmt, ...)
{
	char *p;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (r < 0)
		nomem();
	return p;
}

/*
 * The registry is a fixed array of strdup'd paths so the signal handler
 * can walk it with nothing but unlink(2) and rmdir(2).
 */
#define NCLEANUP 256
static char *volatile cleanup[NCLEANUP];

void
gb_cleanup_add(const char *path)
{
	for (int i = 0; i < NCLEANUP; i++)
		if (!cleanup[i]) {
			cleanup[i] = gb_strdup(path);
			return;
		}
	gb_errx(GB_EXIT_RUN, "too many temporary files");
}

void
gb_cleanup_forget(const char *path)
{
	for (int i = NCLEANUP - 1; i >= 0; i--)
		if (cleanup[i] && strcmp(cleanup[i], path) == 0) {
			char *p = cleanup[i];
			cleanup[i] = NULL;
			free(p);
			return;
		}
}

static void
cleanup_paths(void)
{
	for (int i = NCLEANUP - 1; i >= 0; i--)
		if (cleanup[i] && unlink(cleanup[i]) == -1 &&
		    (errno == EISDIR || errno == EPERM))	/* a directory */
			rmdir(cleanup[i]);
}

void
gb_cleanup_run(void)
{
	cleanup_paths();
	gb_cleanup_clear();
}

void
gb_cleanup_clear(void)
{
	for (int i = 0; i < NCLEANUP; i++)
		if (cleanup[i]) {
			char *p = cleanup[i];
			cleanup[i] = NULL;
			free(p);
		}
}

/*
 * A temporary file (dir 0) or directory (dir 1) made from template and
 * registered for cleanup with the cleanup signals held off, so that no
 * signal can fall between its making and its registration.  The fd of a
 * file, 0 for a directory, -1 and errno on failure.
 */
int
gb_mktemp(char *template, int dir)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	sigset_t set, old;
	int fd, e;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		sigaddset(&set, sigs[i]);
	sigprocmask(SIG_BLOCK, &set, &old);
	fd = dir ? (mkdtemp(template) ? 0 : -1) :
	    mkostemp(template, O_CLOEXEC);
	e = errno;
	if (fd >= 0)
		gb_cleanup_add(template);
	sigprocmask(SIG_SETMASK, &old, NULL);
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

void
gb_cleanup_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		sigaction(sigs[i], &sa, NULL);
}
