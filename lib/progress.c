/* progress.c - a progress line on stderr, when stderr is a terminal */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gb.h"

#define FIRST_MS 500	/* short work shows nothing */
#define EVERY_MS 250	/* then at most four lines a second */

/*
 * One line for the whole process, redrawn with \r by a thread of its own,
 * so that the tools' loops pay one atomic add for it.  The lock orders the
 * thread's writes with gb_progress_clear's, which makes way for a message.
 */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	int started, quiet, stopped;
	int held;		/* a message was just printed: skip a turn */
	pid_t pid;
	const char *what;
	int rows;
	uint64_t total, done;
	struct timespec t0;
	size_t shown;		/* columns of the line now on the terminal */
} P = { .lock = PTHREAD_MUTEX_INITIALIZER };

static double
since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void
amount(char *buf, size_t len, int rows, double v)
{
	if (rows)
		snprintf(buf, len, "%.0f rows", v);
	else {
		char b[GB_SIZE_LEN];
		gb_fmt_size(b, (long long)v, 0);	/* as the listings print */
		snprintf(buf, len, "%s", b);
	}
}

/* with the lock held */
static void
erase(void)
{
	char sp[160];
	size_t n = P.shown < sizeof sp - 2 ? P.shown : sizeof sp - 2;

	if (!P.shown)
		return;
	sp[0] = '\r';
	memset(sp + 1, ' ', n);
	sp[n + 1] = '\r';
	(void)gb_write_all(STDERR_FILENO, sp, n + 2);
	P.shown = 0;
}

/* with the lock held */
static void
draw(void)
{
	char line[160], done[32], total[32], rate[32], eta[64] = "";
	double t = since(&P.t0);
	double d = (double)__atomic_load_n(&P.done, __ATOMIC_RELAXED);
	double r = t > 0 ? d / t : 0;
	int n;

	amount(done, sizeof done, P.rows, d);
	amount(rate, sizeof rate, P.rows, r);
	if (P.total && d <= (double)P.total) {
		amount(total, sizeof total, P.rows, (double)P.total);
		if (r > 0) {
			double left = ((double)P.total - d) / r + 0.5;
			long s = left < 360000 ? (long)left : 359999;
			snprintf(eta, sizeof eta, ", %ld:%02ld:%02ld left",
			    s / 3600, s / 60 % 60, s % 60);
		}
		n = snprintf(line, sizeof line, "\r%s: %s %s of %s (%d%%), "
		    "%s/s%s", gb_progname, P.what, done, total,
		    (int)(d * 100 / (double)P.total), rate, eta);
	} else
		n = snprintf(line, sizeof line, "\r%s: %s %s, %s/s",
		    gb_progname, P.what, done, rate);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line)
		n = sizeof line - 1;
	/* blanks over what is left of a longer line before */
	while ((size_t)n - 1 < P.shown && (size_t)n < sizeof line - 1)
		line[n++] = ' ';
	(void)gb_write_all(STDERR_FILENO, line, (size_t)n);
	P.shown = (size_t)n - 1;
}

static void
after_ms(struct timespec *t, const struct timespec *from, long ms)
{
	t->tv_sec = from->tv_sec + ms / 1000;
	t->tv_nsec = from->tv_nsec + ms % 1000 * 1000000L;
	if (t->tv_nsec >= 1000000000L)
		t->tv_sec++, t->tv_nsec -= 1000000000L;
}

/* draws FIRST_MS after the work began, then every EVERY_MS */
static void *
run(void *arg)
{
	struct timespec at, next, last = { 0, 0 };

	(void)arg;
	pthread_mutex_lock(&P.lock);
	while (!P.stopped) {
		after_ms(&at, &P.t0, FIRST_MS);
		after_ms(&next, &last, EVERY_MS);
		if (next.tv_sec > at.tv_sec || (next.tv_sec == at.tv_sec &&
		    next.tv_nsec > at.tv_nsec))
			at = next;
		if (pthread_cond_timedwait(&P.wake, &P.lock, &at) != ETIMEDOUT)
			continue;
		if (P.what && !P.stopped && !P.held)
			draw();
		P.held = 0;
		clock_gettime(CLOCK_MONOTONIC, &last);
	}
	pthread_mutex_unlock(&P.lock);
	return NULL;
}

/* at exit, also gb_errx's: no line is left behind a last message */
static void
finish(void)
{
	if (getpid() != P.pid)
		return;
	pthread_mutex_lock(&P.lock);
	erase();
	P.stopped = 1;
	pthread_cond_signal(&P.wake);
	pthread_mutex_unlock(&P.lock);
}

void
gb_progress_quiet(void)
{
	P.quiet = 1;
}

void
gb_progress_start(const char *what, int rows, uint64_t total)
{
	pthread_condattr_t ca;
	sigset_t all, old;

	if (P.quiet || !isatty(STDERR_FILENO))
		return;
	pthread_mutex_lock(&P.lock);
	erase();
	P.what = what;
	P.rows = rows;
	P.total = total;
	__atomic_store_n(&P.done, 0, __ATOMIC_RELAXED);
	clock_gettime(CLOCK_MONOTONIC, &P.t0);
	if (P.started)
		pthread_cond_signal(&P.wake);	/* FIRST_MS from now */
	pthread_mutex_unlock(&P.lock);
	if (P.started)
		return;
	P.started = 1;
	P.pid = getpid();
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&P.wake, &ca);
	pthread_condattr_destroy(&ca);
	/* the tools' signal handlers run in their own threads, not here */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&P.thread, NULL, run, NULL) == 0) {
		pthread_detach(P.thread);
		atexit(finish);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void
gb_progress_add(uint64_t n)
{
	__atomic_add_fetch(&P.done, n, __ATOMIC_RELAXED);
}

/* Erase the line; then end the task, or skip the next turn. */
static void
take_down(int end)
{
	if (!P.started)
		return;
	pthread_mutex_lock(&P.lock);
	erase();
	if (end)
		P.what = NULL;
	else
		P.held = 1;
	pthread_mutex_unlock(&P.lock);
}

void
gb_progress_end(void)
{
	take_down(1);
}

void
gb_progress_clear(void)
{
	take_down(0);
}

uint64_t
gb_progress_size(int fd)
{
	struct stat sb;

	return fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ?
	    (uint64_t)sb.st_size : 0;
}
