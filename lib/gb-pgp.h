/*
 * gb-pgp.h - OpenPGP: keys (pgp.c), seals (seal.c), reading sealed archives
 * (unpack.c) and checking them against their seals (check.c).
 */
#ifndef GB_PGP_H
#define GB_PGP_H

#include <gpgme.h>

#include "gb.h"

/*
 * seal.c: the seal (gb-seal(5)), a clear-signed statement of one sealed
 * archive.  gb_seal_load verifies the signature against the pinned
 * signer and parses what it signed, never the text around it.
 */
struct gb_seal {
	char *archive;		/* base name of the sealed file */
	uint64_t size, packed_size;
	char sha256[65], packed_sha256[65];
	char *sealed;		/* time */
	char *signer;
	char **recipients;	/* NULL-terminated */
	char *manifest_text;
	size_t manifest_len;
	struct gb_manifest manifest;
	char *signed_text;	/* the clear-signed message, as verified */
	size_t signed_len;
};
/* 0; -1 bad signature or format (exit 1); -2 could not run (exit 3). */
int gb_seal_load(struct gb_seal *s, const char *path, const char *pinned,
    char *err, size_t errlen);
/* The same for a seal in memory (text around its one signed message is
 * ignored); 0 or -1. */
int gb_seal_verify(struct gb_seal *s, const char *text, size_t len,
    const char *pinned, char *err, size_t errlen);
int gb_seal_parse(struct gb_seal *s, const char *text, size_t len,
    char *err, size_t errlen);
/* What gb_seal_parse reads, from s's fields up to manifest (malloc'd). */
char *gb_seal_format(const struct gb_seal *s);
/* text clear-signed by signer, armored (malloc'd, *len); NULL and why. */
char *gb_seal_sign(gpgme_ctx_t c, gpgme_key_t signer, const char *text,
    size_t *len, char *err, size_t errlen);
/*
 * Any clear-signed text (what names it in messages: "seal"): text signed
 * by signer, armored (malloc'd, *len), or NULL and why; the one signed
 * message in text verified against the pinned signer, *plain (malloc'd,
 * NUL-ended, CR LF read as LF) what it signed and *block the message
 * itself, in text, or -1 and why; a file of one read whole (at most
 * GB_SEAL_MAX bytes), 0, -1 too large, -2 could not read.
 */
char *gb_clearsign(gpgme_ctx_t c, gpgme_key_t signer, const char *what,
    const char *text, size_t *len, char *err, size_t errlen);
int gb_signed_verify(const char *what, const char *text, size_t len,
    const char *pinned, char **plain, size_t *plainlen, const char **block,
    size_t *blen, char *err, size_t errlen);
int gb_signed_read(const char *what, const char *path, char **text,
    size_t *len, char *err, size_t errlen);

/*
 * checkpoint.c: the checkpoint (gb-checkpoint(5)), a clear-signed
 * statement of the audit trail's entry count and head hash.  Verified
 * against the pinned signer, then what was signed parsed.
 */
struct gb_checkpoint {
	char *site, *issued, *signer;
	char *medium;		/* written on it, or NULL */
	long long entries;
	char head[65];		/* hash of entry `entries`, "0" for none */
	char *signed_text;	/* the clear-signed message */
	size_t signed_len;
};
char *gb_checkpoint_format(const struct gb_checkpoint *k);
int gb_checkpoint_parse(struct gb_checkpoint *k, const char *text,
    size_t len, char *err, size_t errlen);
/* 0, or -1: not signed by pinned, or not a checkpoint (why in err). */
int gb_checkpoint_verify(struct gb_checkpoint *k, const char *text,
    size_t len, const char *pinned, char *err, size_t errlen);
void gb_checkpoint_free(struct gb_checkpoint *k);

/*
 * The archive (malloc'd, or NULL) and size (or 0) a clear-signed seal's
 * text states, unverified: only to find an archive, e.g. on a tape.
 */
void gb_seal_peek(const char *text, char **archive, uint64_t *size);
void gb_seal_free(struct gb_seal *s);
/* The seal beside an archive or the archive beside a seal (malloc'd). */
char *gb_seal_path(const char *archive_or_seal);
char *gb_archive_path(const char *archive_or_seal);

/*
 * unpack.c: reads a sealed archive: opens it once, hashes every byte
 * read of it while decrypting them in a thread, checks the inner
 * signature, hashes the packed bytes, gunzips and walks the tar.
 * Entries must be regular files with plain names and sane sizes (not
 * negative, under 1 TiB), or reading fails.
 */
struct gb_unpack;
struct gb_unpack *gb_unpack_open(const char *archive, char *err,
    size_t errlen);
/* 1 an entry, 0 the end, -1 error (a hostile or broken archive). */
int gb_unpack_next(struct gb_unpack *u, const char **name, int64_t *size,
    char *err, size_t errlen);
ssize_t gb_unpack_read(void *u, void *buf, size_t n);	/* a gb_read_fn */
/*
 * Drains and joins; checks decryption and the inner signature (pinned),
 * and fills the size and hash of the bytes read of the sealed file (all
 * of it, the very bytes decrypted) and of the packed archive inside.
 * 0; -1 and why; -2 the file could not be read; -3 gpg could not run,
 * was killed or wrote no status line (nothing is known of the archive).
 */
struct gb_unpack_sums {
	uint64_t size, packed_size;
	char sha256[65], packed_sha256[65];
};
int gb_unpack_close(struct gb_unpack *u, const char *pinned,
    struct gb_unpack_sums *sums, char *err, size_t errlen);

/*
 * check.c: reads one file of an export set and compares it with its
 * MANIFEST entry: bytes, SHA-256, and for a table its records and money
 * sums.  The bytes are also written to copyfd unless it is -1.  Each
 * record (the header first) may go to rec, which loads it somewhere and
 * returns 0, or -1 with a message in err.  0 when all agree; -1 a
 * mismatch or bad CSV; -2 an I/O error or a failure of rec.
 */
typedef int (*gb_record_fn)(void *arg, struct gb_csv_field *f, size_t n,
    char *err, size_t errlen);
int gb_check_file(const char *name, uint64_t bytes, const char *sha256,
    gb_read_fn fn, void *arg, int copyfd, char *err, size_t errlen);
int gb_check_table(const struct gb_mtable *mt, gb_read_fn fn, void *arg,
    int copyfd, gb_record_fn rec, void *recarg, char *err, size_t errlen);
/*
 * Walks a sealed archive against its seal: MANIFEST first and equal to
 * the seal's, SCHEMA.sql (its hash checked) and every table (and list of
 * deleted keys) once, each of the size the MANIFEST gives, nothing else,
 * nothing missing; then the
 * inner signature by signer, the packed size and hash, and the size and
 * hash of the sealed file as read (the seal's).  MANIFEST and SCHEMA.sql
 * go to small (if set) whole; each table's bytes are for table to read
 * through gb_unpack_read, checking them (gb_check_table).  Callbacks
 * return 0, -1 or -2 as gb_check_table does.  0; -1 a check failed; -2
 * could not run; -3 gpg could not run (gb_unpack_close).
 */
struct gb_unpack;
struct gb_walk {
	int (*small)(void *arg, const char *name, const char *buf, size_t n,
	    char *err, size_t errlen);
	int (*table)(void *arg, size_t i, struct gb_unpack *u, char *err,
	    size_t errlen);
	void *arg;
	/* table i's list of deleted keys; NULL: checked, nothing more */
	int (*deletes)(void *arg, size_t i, struct gb_unpack *u, char *err,
	    size_t errlen);
};
struct gb_seal;
int gb_walk_archive(const char *archive, const struct gb_seal *s,
    const char *signer, const struct gb_walk *w, char *err, size_t errlen);
/*
 * The same with the bytes going to sink (unless NULL) instead of a file
 * descriptor: a sink returns 0, or -1 with errno set.
 */
typedef int (*gb_write_fn)(void *arg, const void *buf, size_t n);
int gb_check_table_to(const struct gb_mtable *mt, gb_read_fn fn, void *arg,
    gb_write_fn sink, void *sinkarg, gb_record_fn rec, void *recarg,
    char *err, size_t errlen);

/* pgp.c: OpenPGP through GPGME. */
void gb_pgp_init(void);		/* GPGME ready, or exit 3 */
gpgme_ctx_t gb_pgp_new(void);	/* binary, no pinentry prompts */
int gb_pgp_fpr_eq(const char *a, const char *b);
/* A key's first valid user ID ("Name <addr>"), else its fingerprint. */
const char *gb_pgp_uid(gpgme_key_t k);
/*
 * Why GnuPG could not sign with signer, in a new string: a passphrase it
 * may not ask for names the way out (gpg-preset-passphrase).
 */
char *gb_pgp_sign_why(gpgme_error_t e, gpgme_key_t signer);
/*
 * The one key NAME (fingerprint or e-mail) names, usable to encrypt
 * (usage 'e', public key) or sign (usage 's', secret key), or any public
 * key (usage 'v', to verify with); NULL and a message naming the key and
 * the fix otherwise.
 */
gpgme_key_t gb_pgp_key(gpgme_ctx_t c, const char *name, int usage,
    char *err, size_t errlen);
/*
 * After a verify or decrypt_verify: exactly one signature, good and made
 * by the pinned key (primary or subkey fingerprint).  0, or -1 and why.
 */
int gb_pgp_check_sigs(gpgme_ctx_t c, const char *pinned, char *err,
    size_t errlen);
/*
 * The same from gpg's own status lines (gb_gpg_run), each given to
 * gb_pgp_status_line as it comes: one signature is its result line
 * (GOODSIG ... ERRSIG) and its VALIDSIG, which names the primary key.
 * gb_pgp_status_decrypt: 0 when gpg said it decrypted, else why not, as
 * GPGME says it.  gb_pgp_word: the word after n words of a status line.
 */
#define GB_PGP_SIGS 4
struct gb_pgp_sig {
	char fpr[128];		/* signing key's fingerprint, or key id */
	char primary[128];	/* its primary key's fingerprint; "" unknown */
	gpgme_error_t status;	/* 0 good, GPG_ERR_BAD_SIGNATURE, ... */
};
struct gb_pgp_status {
	struct gb_pgp_sig sigs[GB_PGP_SIGS];	/* the first ones */
	size_t nsigs;				/* all of them */
	int said;		/* any status line at all */
	int decrypted, failed, no_seckey, nodata;
	gpgme_error_t failure;	/* the first FAILURE or ERROR code */
};
void gb_pgp_status_line(struct gb_pgp_status *st, const char *line);
gpgme_error_t gb_pgp_status_decrypt(const struct gb_pgp_status *st);
int gb_pgp_status_sigs(struct gb_pgp_status *st, const char *pinned,
    char *err, size_t errlen);
void gb_pgp_word(char *dst, size_t len, const char *line, int n);

/*
 * gpg.c: runs GPGME's gpg with args (after --batch --no-tty --pinentry-mode
 * error), its stdin fed from in, its stdout given to out (or, when out
 * is NULL, straight to the descriptor outfd), and each of its status
 * lines ("KEYWORD ARGS", without "[GNUPG:] ", from a status fd of their
 * own, never its stderr) to status (if set), in big pieces: GPGME moves
 * 4 KiB at a time.  0 when gpg exits 0 having read all of in; -1 when
 * gpg failed (exited non-zero, or stopped reading in); -2 when in or
 * out failed (they keep their errno; gpg is stopped, err is ""), or gpg
 * could not run or was killed by a signal: why in err.
 */
struct gb_gpg_io {
	gb_read_fn in;
	gb_write_fn out;
	int outfd;
	void (*status)(void *arg, const char *line);
	void *arg;
};
int gb_gpg_run(const char *const *args, const struct gb_gpg_io *io,
    char *err, size_t errlen);

#endif
