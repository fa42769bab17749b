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
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gcrypt.h>

#include "gb.h"

#define CHUNK (1 << 20)		/* one GCM message */
#define TAG 16

static unsigned char key[32];
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void
key_wipe(void)
{
	explicit_bzero(key, sizeof key);
}

static void
key_make(void)
{
	gb_crypto_init();
	/* a session key: STRONG, as gpg makes one for a message */
	gcry_randomize(key, sizeof key, GCRY_STRONG_RANDOM);
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
	if (gcry_cipher_open(&h, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM, 0) ||
	    gcry_cipher_setkey(h, key, sizeof key))
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
	gcry_cipher_close(s->h);	/* wipes the key schedule */
	free(s->tag);
	free(s->buf);
	free(s);
}
