/*
 * cipher.c - the spool's encryption: a file a tool writes once and reads
 * back once, both in order, that holds member data only until it is
 * streamed on.  AES-256-GCM under a key made at random for this process
 * and kept only in its memory: a kill -9 or a power cut leaves bytes that
 * nothing can read.  Each MiB of the file is one GCM message, its IV the
 * file's own random nonce and the MiB's number: GCM is CTR mode, so byte
 * N of the file is byte N of the plain text, and its 16-byte tag is kept
 * in memory.  A MiB read back is checked against its tag before any of
 * it is handed out, so a file changed, swapped, cut short or shuffled
 * under the tool is never taken for what it wrote.
 *
 * The key, and libgcrypt's handles that hold its schedule (in libgcrypt's
 * secure memory), are in pages kept out of swap (mlock) and out of core
 * dumps (MADV_DONTDUMP): neither may outlive the process on disk.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gcrypt.h>

#include "gb.h"

#define CHUNK (1 << 20)		/* one GCM message */
#define TAG 16

#define KEY 32

static unsigned char *key;	/* a page of its own */
static size_t pagesize;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock_mu = PTHREAD_MUTEX_INITIALIZER;

/*
 * Keeps the pages from p to p + n out of core dumps and swap.  Past
 * RLIMIT_MEMLOCK the export goes on, warned once: a night's backup
 * matters more, and only a swapped page, not the spool, would then hold
 * the key after the process is gone.
 */
static void
protect(void *p, size_t n)
{
	static int warned;

	if (madvise(p, n, MADV_DONTDUMP) == -1)
		gb_err(GB_EXIT_RUN, "cannot keep the spool key out of core "
		    "dumps (madvise)");
	pthread_mutex_lock(&lock_mu);
	if (mlock(p, n) == -1 && !warned++)
		gb_warnx("warning: the spool key cannot be locked in memory "
		    "(mlock: %s) and may be swapped out; raise the locked-memory "
		    "limit (ulimit -l, LimitMEMLOCK=; 8 MiB is plenty)",
		    strerror(errno));
	pthread_mutex_unlock(&lock_mu);
}

/*
 * The pages of libgcrypt's secure memory around p: gcry_is_secure
 * compares an address with its pools, nothing is read.
 */
static void
protect_pool(void *p)
{
	uintptr_t lo = (uintptr_t)p & ~(uintptr_t)(pagesize - 1);
	uintptr_t hi = lo + pagesize;

	while (gcry_is_secure((void *)(lo - pagesize)))
		lo -= pagesize;
	while (gcry_is_secure((void *)hi))
		hi += pagesize;
	protect((void *)lo, hi - lo);
}

static void
key_wipe(void)
{
	explicit_bzero(key, KEY);
}

static void
key_make(void)
{
	gb_crypto_init();
	pagesize = (size_t)sysconf(_SC_PAGESIZE);
	if ((key = mmap(NULL, pagesize, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0)) == MAP_FAILED)
		gb_err(GB_EXIT_RUN, "cannot map a page for the spool key");
	protect(key, pagesize);
	/* a session key: STRONG, as gpg makes one for a message */
	gcry_randomize(key, KEY, GCRY_STRONG_RANDOM);
	atexit(key_wipe);
}

struct gb_spool *
gb_spool_new(int encrypt)
{
	struct gb_spool *s = gb_calloc(1, sizeof *s);
	gcry_cipher_hd_t h;

	if (!encrypt)
		return s;
	pthread_once(&key_once, key_make);
	/* the handle copies the key's schedule: into locked memory */
	if (gcry_cipher_open(&h, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM,
	    GCRY_CIPHER_SECURE) || !gcry_is_secure(h))
		gb_errx(GB_EXIT_RUN, "libgcrypt: cannot start AES-256-GCM in "
		    "secure memory");
	protect_pool(h);
	if (gcry_cipher_setkey(h, key, KEY))
		gb_errx(GB_EXIT_RUN, "libgcrypt: cannot start AES-256-GCM");
	s->h = h;
	gcry_create_nonce(s->nonce, sizeof s->nonce);
	return s;
}

/* Starts the GCM message of the MiB at offset off. */
static void
chunk_start(struct gb_spool *s, uint64_t off)
{
	unsigned char iv[12];
	uint64_t i = off / CHUNK;

	if (i > UINT32_MAX)	/* 4 PiB: the IV's counter is 32 bits */
		gb_errx(GB_EXIT_RUN, "a spool file of more than 4 PiB");
	memcpy(iv, s->nonce, 8);
	for (int k = 0; k < 4; k++)
		iv[8 + k] = (unsigned char)(i >> (24 - 8 * k));
	if (gcry_cipher_reset(s->h) || gcry_cipher_setiv(s->h, iv, sizeof iv))
		gb_errx(GB_EXIT_RUN, "libgcrypt: cannot set the IV");
}

/* The tag of the MiB being written, whole or the file's last. */
static void
chunk_end(struct gb_spool *s)
{
	size_t i = (size_t)((s->size - 1) / CHUNK);

	if (i >= s->ntag) {
		s->tag = gb_realloc(s->tag, (i + 1) * TAG);
		s->ntag = i + 1;
	}
	if (gcry_cipher_gettag(s->h, s->tag + i * TAG, TAG))
		gb_errx(GB_EXIT_RUN, "libgcrypt: cannot take the GCM tag");
}

int
gb_spool_write(struct gb_spool *s, int fd, void *buf, size_t n)
{
	unsigned char *p = buf;

	for (size_t done = 0, k; s->h && done < n; done += k) {
		size_t in = (size_t)(s->size % CHUNK);
		k = n - done < CHUNK - in ? n - done : CHUNK - in;
		if (in == 0)
			chunk_start(s, s->size);
		if (gcry_cipher_encrypt(s->h, p + done, k, NULL, 0))
			gb_errx(GB_EXIT_RUN, "libgcrypt: cannot encrypt");
		s->size += k;
		if (in + k == CHUNK)
			chunk_end(s);
	}
	if (!s->h)
		s->size += n;
	return gb_write_all(fd, buf, n);
}

void
gb_spool_end(struct gb_spool *s)
{
	if (s->h && s->size % CHUNK)
		chunk_end(s);
}

ssize_t
gb_spool_read(struct gb_spool *s, int fd, const void **p)
{
	size_t n = s->size - s->off < CHUNK ? (size_t)(s->size - s->off) :
	    CHUNK, got = 0;

	if (n == 0) {
		free(s->buf);
		s->buf = NULL;
		return 0;
	}
	if (!s->buf)
		s->buf = gb_malloc(CHUNK);
	while (got < n) {
		ssize_t r = pread(fd, s->buf + got, n - got, (off_t)(s->off +
		    got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {	/* shorter than it was written */
			errno = EBADMSG;
			return -1;
		}
		got += (size_t)r;
	}
	if (s->h) {
		chunk_start(s, s->off);
		if (gcry_cipher_decrypt(s->h, s->buf, n, NULL, 0))
			gb_errx(GB_EXIT_RUN, "libgcrypt: cannot decrypt");
		if (gcry_cipher_checktag(s->h, s->tag + s->off / CHUNK * TAG,
		    TAG)) {
			errno = EBADMSG;
			return -1;
		}
	}
	s->off += n;
	*p = s->buf;
	return (ssize_t)n;
}

void
gb_spool_free(struct gb_spool *s)
{
	if (!s)
		return;
	gcry_cipher_close(s->h);	/* wipes the key's schedule */
	free(s->tag);
	free(s->buf);
	free(s);
}
