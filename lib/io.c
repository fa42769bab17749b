/* io.c - whole reads and writes, durable renames, atomic files */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gb.h"

ssize_t
gb_read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return (ssize_t)got;
}

ssize_t
gb_read_full_cb(gb_read_fn fn, void *arg, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = fn(arg, (char *)buf + got, n - got);
		if (r == 0)
			break;
		if (r < 0)
			return -1;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int
gb_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Write-behind: every 8 MiB, starts the disk on what was written since,
 * without waiting for it.  The disk then works while the copy goes on,
 * the fsync at the end finds less left to do, and a slow USB drive does
 * not gather the whole archive in dirty pages.  Errors are the fsync's to
 * report.
 */
void
gb_write_behind(int fd, uint64_t *from, uint64_t to)
{
	if (to < *from)		/* the file was rewound: start over there */
		*from = to;
	if (to - *from < (8u << 20))
		return;
	(void)sync_file_range(fd, (off_t)*from, (off_t)(to - *from),
	    SYNC_FILE_RANGE_WRITE);
	*from = to;
}

/*
 * A pipe between two tools holds 1 MiB instead of 64 KiB, so that a
 * whole gzip member or a big read crosses it without a stop on each
 * side: on the reference gym gb-pack | gb-seal takes a third less time.
 * Not a pipe, or refused (the owner's pipe quota): nothing changes.
 */
void
gb_pipe_grow(int fd)
{
	struct stat sb;

	if (fstat(fd, &sb) == 0 && S_ISFIFO(sb.st_mode))
		(void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);
}

int
gb_fsync_parent(const char *path)
{
	char *copy = gb_strdup(path);
	int fd, r = -1, e;

	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		r = fsync(fd);
		e = errno;
		close(fd);
		errno = e;
	}
	free(copy);
	return r;
}

/*
 * rename(2) of tmp to path, then fsync of the directory holding path.  If
 * the sync fails the rename may not last: path goes back to tmp, so that
 * the caller's failure keeps no output.  0; -1 and errno: not renamed;
 * -2 and the sync's errno: taken back (tmp as before); -3 and the sync's
 * errno: nor taken back, path stays and the caller must say so.
 */
int
gb_rename_durable(const char *tmp, const char *path)
{
	int e, r;

	if (rename(tmp, path) == -1)
		return -1;
	if (gb_fsync_parent(path) == 0)
		return 0;
	e = errno;
	r = rename(path, tmp) == -1 ? -3 : -2;
	errno = e;
	return r;
}

int
gb_atomic_open(struct gb_atomic *a, const char *path, mode_t mode)
{
	a->path = gb_strdup(path);
	a->tmp = gb_tmp_template("%s.tmp", path);
	a->fd = gb_mktemp(a->tmp, 0);
	if (a->fd < 0) {
		int e = errno;
		free(a->path);
		free(a->tmp);
		a->path = a->tmp = NULL;
		errno = e;
		return -1;
	}
	if (fchmod(a->fd, mode) == -1) {
		gb_atomic_abort(a);
		return -1;
	}
	return 0;
}

int
gb_atomic_commit(struct gb_atomic *a)
{
	int e;

	if (fsync(a->fd) == -1)
		goto fail;
	e = close(a->fd);
	a->fd = -1;
	if (e == -1 || rename(a->tmp, a->path) == -1)
		goto fail;
	gb_cleanup_forget(a->tmp);
	if (gb_fsync_parent(a->path) == -1)
		goto fail_renamed;
	free(a->path);
	free(a->tmp);
	a->path = a->tmp = NULL;
	return 0;
fail_renamed:
	/*
	 * The rename happened; the file is whole but may not be durable.
	 * Not gb_rename_durable: it stays, as after a crash, for the caller
	 * to finish (gb-write) or take away (gb-seal).
	 */
	e = errno;
	free(a->path);
	free(a->tmp);
	a->path = a->tmp = NULL;
	errno = e;
	return -1;
fail:
	gb_atomic_abort(a);
	return -1;
}

void
gb_atomic_abort(struct gb_atomic *a)
{
	int e = errno;	/* the caller's reason outlives the cleanup */

	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	if (a->tmp) {
		unlink(a->tmp);
		gb_cleanup_forget(a->tmp);
	}
	free(a->path);
	free(a->tmp);
	a->path = a->tmp = NULL;
	errno = e;
}

int
gb_parse_size(const char *s, long long *v)
{
	char *end;
	long long n;
	int shift = 0;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (end == s || errno || n <= 0)
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end == 'i')	/* "GiB" reads as "G" */
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || n > (LLONG_MAX >> shift))
		return -1;
	*v = n << shift;
	return 0;
}

int
gb_ncpu(int max)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > max ? max : (int)n;
}

int
gb_threads(int asked, int dflt)
{
	const char *env = getenv("GB_THREADS");
	char *end;
	long n = asked;

	if (n < 1 && env && *env) {
		errno = 0;
		n = strtol(env, &end, 10);
		if (*end || end == env || errno || n < 1 || n > 256)
			gb_errx(GB_EXIT_USAGE, "GB_THREADS wants 1 to 256 "
			    "threads, not %s", env);
	}
	if (n < 1)
		n = gb_ncpu(dflt);
	return n > GB_THREADS_MAX ? GB_THREADS_MAX : (int)n;
}
