# tests/shim-helper.bash - failures at a chosen moment, for the tests of
# what a crash or a failed fsync after a rename leaves (write.bats,
# seal.bats).  Load it after helper.bash.  Needs cc.

# A small LD_PRELOAD shim for failures at a chosen moment, set by the
# environment of the one process it is preloaded into (children do not
# inherit it):
#   SHIM_DIRSYNC_PATH=DIR SHIM_DIRSYNC_FAIL=N  the Nth fsync of directory
#       DIR (its real path) fails with EIO
#   SHIM_KILL_AFTER_RENAME=SUFFIX  SIGKILL right after a rename to a path
#       ending in SUFFIX
#   SHIM_KILL_AFTER_FSYNC=SUFFIX   SIGKILL right after an fsync of a file
#       whose path ends in SUFFIX
SHIM_C='
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int dirsyncs;

__attribute__((constructor)) static void
init(void)
{
	unsetenv("LD_PRELOAD");
}

static int
ends_with(const char *s, const char *t)
{
	size_t n = strlen(s), m = strlen(t);
	return n >= m && strcmp(s + n - m, t) == 0;
}

static int
fd_path(int fd, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	if ((n = readlink(link, buf, len - 1)) < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

int
fsync(int fd)
{
	static int (*real)(int);
	const char *d = getenv("SHIM_DIRSYNC_PATH"), *n = getenv("SHIM_DIRSYNC_FAIL");
	const char *k = getenv("SHIM_KILL_AFTER_FSYNC");
	char path[4096];
	int r;

	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (d && n && fd_path(fd, path, sizeof path) == 0 &&
	    strcmp(path, d) == 0 && ++dirsyncs == atoi(n)) {
		errno = EIO;
		return -1;
	}
	r = real(fd);
	if (r == 0 && k && fd_path(fd, path, sizeof path) == 0 &&
	    ends_with(path, k))
		raise(SIGKILL);
	return r;
}

int
rename(const char *a, const char *b)
{
	static int (*real)(const char *, const char *);
	const char *k = getenv("SHIM_KILL_AFTER_RENAME");
	int r;

	if (!real)
		real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT,
		    "rename");
	r = real(a, b);
	if (r == 0 && k && ends_with(b, k))
		raise(SIGKILL);
	return r;
}
'

# shim: the path of the shim, built once per file.
shim() {
	local so="$BATS_FILE_TMPDIR/shim.so"
	if [ ! -e "$so" ]; then
		printf '%s' "$SHIM_C" >"$BATS_FILE_TMPDIR/shim.c"
		cc -shared -fPIC -O1 -o "$so" "$BATS_FILE_TMPDIR/shim.c" -ldl ||
		    return 1
	fi
	printf '%s' "$so"
}

# with_shim VAR=VALUE... CMD...: CMD with the shim preloaded and its
# settings in the environment.
with_shim() {
	local so
	so=$(shim) || return 3
	# under make SANITIZE=1 the shim comes before ASan's runtime
	env LD_PRELOAD="$so" \
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@"
}

