/* sha256.c - SHA-256 through libgcrypt */
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#include <gcrypt.h>

#include "gb.h"

void
gb_crypto_init(void)
{
	static int done;

	if (done)
		return;
	if (!gcry_check_version(GCRYPT_VERSION))
		gb_errx(GB_EXIT_RUN, "libgcrypt version mismatch");
	/*
	 * Secure memory for the spool's cipher handles (cipher.c), which
	 * hold the key's schedule: a pool grown as tables need; cipher.c
	 * locks it itself and warns, so libgcrypt's own warning is off.
	 */
	gcry_control(GCRYCTL_DISABLE_SECMEM_WARN);
	gcry_control(GCRYCTL_INIT_SECMEM, (size_t)16384, 0);
	gcry_control(GCRYCTL_AUTO_EXPAND_SECMEM, 32768u);
	gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	done = 1;
}

void
gb_sha256_init(struct gb_sha256 *h)
{
	gcry_md_hd_t md;

	gb_crypto_init();
	if (gcry_md_open(&md, GCRY_MD_SHA256, 0))
		gb_errx(GB_EXIT_RUN, "libgcrypt: cannot open SHA-256");
	h->md = md;
}

void
gb_sha256_update(struct gb_sha256 *h, const void *p, size_t n)
{
	gcry_md_write(h->md, p, n);
}

void
gb_sha256_final(struct gb_sha256 *h, char hex[65])
{
	const unsigned char *d = gcry_md_read(h->md, GCRY_MD_SHA256);

	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
	gcry_md_close(h->md);
	h->md = NULL;
}

int
gb_sha256_fast(void)
{
	char *hw;
	int fast;

	gb_crypto_init();
	hw = gcry_get_config(0, "hwflist");
	fast = hw && (strstr(hw, ":intel-shaext:") || strstr(hw, ":arm-sha2:"));
	gcry_free(hw);
	return fast;
}

/*
 * A SHA-256 on a thread of its own, so that a copy hashes a block while
 * it writes it: the caller feeds a buffer, writes it, waits, and only
 * then reuses the buffer.
 */
static void *
hasher_run(void *arg)
{
	struct gb_hasher *h = arg;

	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (!h->n && !h->stop)
			pthread_cond_wait(&h->cv, &h->mu);
		if (h->stop && !h->n)
			break;
		pthread_mutex_unlock(&h->mu);
		gb_sha256_update(&h->sha, h->p, h->n);
		pthread_mutex_lock(&h->mu);
		h->n = 0;
		pthread_cond_broadcast(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

void
gb_hasher_start(struct gb_hasher *h)
{
	memset(h, 0, sizeof *h);
	gb_sha256_init(&h->sha);
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	if (gb_thread_create(&h->tid, hasher_run, h))
		gb_errx(GB_EXIT_RUN, "cannot start a thread");
}

void
gb_hasher_feed(struct gb_hasher *h, const void *p, size_t n)
{
	if (!n)
		return;
	pthread_mutex_lock(&h->mu);
	h->p = p;
	h->n = n;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

void
gb_hasher_wait(struct gb_hasher *h)
{
	pthread_mutex_lock(&h->mu);
	while (h->n)
		pthread_cond_wait(&h->cv, &h->mu);
	pthread_mutex_unlock(&h->mu);
}

void
gb_hasher_final(struct gb_hasher *h, char hex[65])
{
	gb_hasher_wait(h);
	pthread_mutex_lock(&h->mu);
	h->stop = 1;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->tid, NULL);
	gb_sha256_final(&h->sha, hex);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
}
