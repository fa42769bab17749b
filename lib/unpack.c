/*
 * unpack.c - read a sealed archive back: gpg decrypts (gb_gpg_run, in a
 * thread) straight into a pipe; this side hashes the packed bytes and
 * walks the tar.gz through libarchive.  The sealed file is opened once
 * and every byte gpg reads of it is hashed on the way in, so the hash
 * compared with the seal is of the very bytes decrypted: a file swapped
 * after some other check cannot slip in.  The inner signature and that
 * hash are known only at the end, so nothing read may be made usable
 * before gb_unpack_close says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "gb.h"
#include "gb-pgp.h"

#define BUFSZ (1 << 20)
/* No member of an export set comes near this; a bigger size is hostile. */
#define MEMBER_MAX ((int64_t)1 << 40)

struct gb_unpack {
	int cipherfd, pipe[2];
	pthread_t thread;
	int result;		/* gb_gpg_run's */
	char why[256];		/* its message */
	struct gb_pgp_status st;	/* what gpg's status lines said */
	int read_errno;
	struct gb_sha256 sealed;	/* of the bytes read from cipherfd */
	uint64_t sealed_bytes;
	struct archive *a;
	struct gb_gzr *gz;	/* inflates the members on all cores */
	struct gb_sha256 hash;
	uint64_t bytes;
	unsigned char *buf;
	int eof;
};

/* gpg's input: the sealed file, each byte hashed as it is handed over. */
static ssize_t
from_file(void *arg, void *buf, size_t n)
{
	struct gb_unpack *u = arg;
	ssize_t r;

	do
		r = read(u->cipherfd, buf, n);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		u->read_errno = errno;
		return -1;
	}
	gb_sha256_update(&u->sealed, buf, (size_t)r);
	u->sealed_bytes += (uint64_t)r;
	gb_progress_add((uint64_t)r);
	return r;
}

static void
status(void *arg, const char *line)
{
	struct gb_unpack *u = arg;

	gb_pgp_status_line(&u->st, line);
}

static void *
decrypt(void *arg)
{
	static const char *const args[] = { "--decrypt", NULL };
	struct gb_unpack *u = arg;
	struct gb_gpg_io io = { .in = from_file, .outfd = u->pipe[1],
	    .status = status, .arg = u };

	u->result = gb_gpg_run(args, &io, u->why, sizeof u->why);
	close(u->pipe[1]);
	u->pipe[1] = -1;
	return NULL;
}

/* The packed bytes from the pipe, each hashed once. */
static ssize_t
pull_packed(void *arg, void *buf, size_t n)
{
	struct gb_unpack *u = arg;
	ssize_t r;

	if (u->eof)
		return 0;
	do
		r = read(u->pipe[0], buf, n);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	if (r == 0)
		u->eof = 1;
	gb_sha256_update(&u->hash, buf, (size_t)r);
	u->bytes += (uint64_t)r;
	return r;
}

/* libarchive pulls the tar from the parallel inflater. */
static la_ssize_t
pull(struct archive *a, void *arg, const void **p)
{
	struct gb_unpack *u = arg;
	ssize_t n = gb_gzr_read(u->gz, u->buf, BUFSZ);

	if (n < 0) {
		archive_set_error(a, EIO, "packed archive: %s",
		    gb_gzr_error(u->gz) ? gb_gzr_error(u->gz) : "read error");
		return -1;
	}
	*p = u->buf;
	return n;
}

/* What open made, whatever it got to; the hashes are closed by then. */
static void
unpack_free(struct gb_unpack *u)
{
	close(u->cipherfd);
	if (u->pipe[0] >= 0)
		close(u->pipe[0]);
	if (u->pipe[1] >= 0)
		close(u->pipe[1]);
	free(u->buf);
	free(u);
}

/*
 * NULL and why when the archive cannot be read or the reading cannot
 * start; else the unpacker, with why when it is no packed archive inside
 * (gb_unpack_close tells the rest).
 */
struct gb_unpack *
gb_unpack_open(const char *archive, char *err, size_t errlen)
{
	struct gb_unpack *u = gb_calloc(1, sizeof *u);

	/* A reader that stops early must see EPIPE, not die of it. */
	signal(SIGPIPE, SIG_IGN);
	gb_pgp_init();	/* here, not first in the decrypting thread */
	if ((u->cipherfd = open(archive, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "cannot read %s: %s", archive,
		    strerror(errno));
		free(u);
		return NULL;
	}
	u->pipe[0] = u->pipe[1] = -1;
	if (pipe2(u->pipe, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "cannot make a pipe: %s", strerror(errno));
		unpack_free(u);
		return NULL;
	}
	(void)fcntl(u->pipe[0], F_SETPIPE_SZ, 1 << 20);
	u->buf = gb_malloc(BUFSZ);
	gb_progress_start("read", 0, gb_progress_size(u->cipherfd));
	gb_sha256_init(&u->hash);
	gb_sha256_init(&u->sealed);
	if (gb_thread_create(&u->thread, decrypt, u)) {
		char unused[65];
		gb_sha256_final(&u->hash, unused);
		gb_sha256_final(&u->sealed, unused);
		snprintf(err, errlen, "cannot start a thread");
		unpack_free(u);
		return NULL;
	}
	u->gz = gb_gzr_open(pull_packed, u, gb_threads(0, 8));
	u->a = archive_read_new();
	archive_read_support_format_tar(u->a);
	if (archive_read_open(u->a, u, NULL, pull, NULL) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s: not a packed archive inside: %s",
		    archive, archive_error_string(u->a));
		return u;	/* the caller closes it and learns why */
	}
	return u;
}

int
gb_unpack_next(struct gb_unpack *u, const char **name, int64_t *size,
    char *err, size_t errlen)
{
	struct archive_entry *e;
	const char *n;
	int r = archive_read_next_header(u->a, &e);

	if (r == ARCHIVE_EOF)
		return 0;
	if (r != ARCHIVE_OK) {
		snprintf(err, errlen, "broken archive: %s",
		    archive_error_string(u->a));
		return -1;
	}
	n = archive_entry_pathname(e);
	if (!n || !*n || strchr(n, '/') || strcmp(n, ".") == 0 ||
	    strcmp(n, "..") == 0 || strlen(n) > 255) {
		snprintf(err, errlen, "refused: archive member \"%s\" is not a "
		    "plain file name", n ? n : "");
		return -1;
	}
	if (archive_entry_filetype(e) != AE_IFREG ||
	    archive_entry_hardlink(e) || archive_entry_symlink(e)) {
		snprintf(err, errlen, "refused: archive member %s is not a "
		    "regular file", n);
		return -1;
	}
	/*
	 * A pax header can set any size (SCHILY.realsize=-1 makes it -1):
	 * whoever reads the member sizes a buffer by it.
	 */
	if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0 ||
	    archive_entry_size(e) > MEMBER_MAX) {
		snprintf(err, errlen, "refused: archive member %s has no sane "
		    "size (%lld)", n, archive_entry_size_is_set(e) ?
		    (long long)archive_entry_size(e) : -1LL);
		return -1;
	}
	*name = n;
	*size = archive_entry_size(e);
	return 1;
}

ssize_t
gb_unpack_read(void *arg, void *buf, size_t n)
{
	struct gb_unpack *u = arg;
	la_ssize_t r = archive_read_data(u->a, buf, n);

	return r < 0 ? -1 : r;
}

int
gb_unpack_close(struct gb_unpack *u, const char *pinned,
    struct gb_unpack_sums *sums, char *err, size_t errlen)
{
	int r = 0;
	char why[512];
	gpgme_error_t e;

	/* The packed hash covers every byte, the tar's end and past it. */
	while (!u->eof && pull_packed(u, u->buf, BUFSZ) > 0)
		;
	gb_gzr_close(u->gz);
	close(u->pipe[0]);	/* a writer still going gets EPIPE */
	u->pipe[0] = -1;
	pthread_join(u->thread, NULL);
	archive_read_free(u->a);
	/* The sealed hash covers the whole file, whatever gpg left unread. */
	while (!u->read_errno && from_file(u, u->buf, BUFSZ) > 0)
		;
	gb_progress_end();
	gb_sha256_final(&u->sealed, sums->sha256);
	sums->size = u->sealed_bytes;
	gb_sha256_final(&u->hash, sums->packed_sha256);
	sums->packed_size = u->bytes;
	/*
	 * gpg's verdict from its status lines, before its exit status: it
	 * exits 2 for a signature it cannot check.  A gpg killed half-way,
	 * or one that wrote no status line at all, said nothing of its end:
	 * the archive may be good, it was not read (-3, not the file's
	 * fault).
	 */
	if (u->read_errno) {
		snprintf(err, errlen, "read error: %s", strerror(u->read_errno));
		r = -2;
	} else if (u->result == -2) {
		snprintf(err, errlen, "cannot decrypt: %s", u->why);
		r = -3;
	} else if (!u->st.said) {
		snprintf(err, errlen, "cannot decrypt: %s", u->result ? u->why :
		    "gpg exited 0 and wrote no status line");
		r = -3;
	} else if ((e = gb_pgp_status_decrypt(&u->st))) {
		snprintf(err, errlen, "cannot decrypt: %s%s", gpgme_strerror(e),
		    gpg_err_code(e) == GPG_ERR_NO_SECKEY ?
		    " (no recipient secret key in the keyring)" : "");
		r = -1;
	} else if (gb_pgp_status_sigs(&u->st, pinned, why, sizeof why) == -1) {
		snprintf(err, errlen, "inner signature: %s", why);
		r = -1;
	} else if (u->result) {
		snprintf(err, errlen, "cannot decrypt: %s", u->why);
		r = -1;
	}
	unpack_free(u);
	return r;
}
