/*
 * gb-media.h - media: tape records and marks (tape.c), labels, indexes and
 * archives on tapes and directories (media.c), and a medium read on its
 * own to rebuild the catalog (import.c).
 */
#ifndef GB_MEDIA_H
#define GB_MEDIA_H

#include "gb.h"
#include "gb-pgp.h"	/* struct gb_seal, in struct gb_found */

struct gb_catalog;

/*
 * tape.c: records and tape marks on a Linux st device or a tape image
 * ("tape:PATH.tap", SIMH format, with an optional capacity).
 */
struct gb_tape {
	int fd, image, fileno;
	char *path;
	size_t blocksize;	/* st: 0 variable, else fixed */
	int64_t capacity;	/* image: bytes, 0 unlimited */
	uint64_t behind;	/* image: write-back started up to here */
	off_t bad;		/* image: the last damaged record met, or -1 */
	off_t walked, whole, lead;	/* image: its walk back (tape.c) */
	int setblk;		/* st: open failed at MTSETBLK (the block limits) */
	int comperr;		/* st, writing: errno of compression off, or 0 */
	int eom;		/* st: a write met the end of medium */
};
int gb_tape_open(struct gb_tape *t, const char *media, int writing,
    size_t blocksize);
void gb_tape_close(struct gb_tape *t);
/* A drive's MTIOCGET (ENOTTY on an image). */
struct mtget;
int gb_tape_status(struct gb_tape *t, struct mtget *g);
int gb_tape_rewind(struct gb_tape *t);
/*
 * A record's length, 0 at a tape mark, -1 at the end of data (ENODATA)
 * or error.  On an image: buf NULL steps over the record; a damaged
 * record is EIO with t->bad its byte offset, and the next read goes on
 * after it when the records that follow are whole.
 */
ssize_t gb_tape_read(struct gb_tape *t, void *buf, size_t cap);
/* One record; -1 with ENOSPC at the end of the medium. */
int gb_tape_write(struct gb_tape *t, const void *buf, size_t len);
/* A tape mark; with sync, all written so far is durable when it returns. */
int gb_tape_mark(struct gb_tape *t, int sync);
/* To the end of data, setting fileno; never cuts: EIO, t->bad on damage. */
int gb_tape_eod(struct gb_tape *t);
/* To the start of a file; on an image past damaged records it can step over. */
int gb_tape_seek_file(struct gb_tape *t, int fileno);
/* Forgets what follows the position: the medium is written over. */
int gb_tape_truncate(struct gb_tape *t);

/*
 * media.c: labels, and archives on media.  A directory medium has
 * GB_LABEL_FILE, GB_INDEX_FILE and GB_CHECKPOINT_FILE at its root; a
 * tape has its label in file 0, then each archive in a file followed by
 * its seal in the next (as many records as it needs), the seal ended by
 * a NUL and followed by the checkpoint written with it (gb-checkpoint(5)).
 */
#define GB_LABEL_FILE "GYMBACKUP.LABEL"
#define GB_INDEX_FILE "GYMBACKUP.INDEX"
#define GB_CHECKPOINT_FILE "GYMBACKUP.CHECKPOINT"
/* A label's medium id and pool; 0, or -1 when the text is no label. */
int gb_label_parse(const char *text, size_t len, char **id, char **pool);
int gb_media_is_tape(const char *media);
/* The label on a medium: 0, or -1 when it has none or cannot be read. */
int gb_media_label(const char *media, char **id, char **pool);
/* Its whole text (malloc'd; a tape's file 0 without padding), or -1. */
int gb_media_label_text(const char *media, char **text, size_t *len);
/*
 * The value of a label's KEY<TAB>VALUE line (malloc'd), or NULL; those
 * lines end at the first empty one, after which a tape's label says in
 * words how to read the tape.
 */
char *gb_label_value(const char *text, size_t len, const char *key);
/* The same from GB_LABEL_FILE open on fd, or the record at t's position. */
int gb_label_read(int fd, char **id, char **pool);
int gb_label_read_tape(struct gb_tape *t, unsigned char *buf, char **id,
    char **pool);
/*
 * Labels a medium: GB_LABEL_FILE on the directory media (t NULL), or
 * file 0 of the tape t, one record of blocksize bytes (0: the label's
 * own length).  0, or -1 + errno.
 */
int gb_label_write(const char *media, struct gb_tape *t, size_t blocksize,
    const char *id, const char *pool);
/*
 * Where NAME.tar.gz.gpg and its seal are on MEDIA: in place on a
 * directory; from a tape (at file fileno when > 0, else found by the
 * content of each tape file in turn) copied into tmpdir, registered for
 * cleanup; -1 and why ("NAME is not on MEDIA") when the medium does not
 * hold both.
 */
int gb_media_fetch(const char *media, const char *name, int fileno,
    const char *tmpdir, char **archive, char **seal, char *err,
    size_t errlen);
/*
 * A tape file read to its mark and known by its content: a seal is a
 * clear-signed text (its archive's name and size read from it, not yet
 * verified), an archive an OpenPGP binary message.  The buf of these
 * functions holds a record of up to GB_MAX_BLOCK.
 */
#define GB_MAX_BLOCK (16 << 20)	/* the largest tape record */
#define GB_SEAL_BEGIN "-----BEGIN PGP SIGNED MESSAGE-----"
#define GB_SEAL_MAX (16 << 20)
enum { GB_TF_NONE, GB_TF_ARCHIVE, GB_TF_SEAL, GB_TF_OTHER };
struct gb_tfile {
	int kind, marked;	/* marked: ended by a tape mark */
	off_t bad;		/* a damaged record in it (image offset), or -1 */
	int lost;		/* nothing after that damage can be read */
	uint64_t bytes, records;
	size_t last;		/* the last record's length */
	char *text, *name;	/* a seal: its text (no padding), its archive */
	size_t len;
	char *ck;		/* a seal's: the checkpoint after it, or NULL */
	uint64_t size;		/* a seal: the archive's size */
};
/* The file at the tape's position, to its mark; -1 at the end of data. */
int gb_tfile_read(struct gb_tape *t, unsigned char *buf, struct gb_tfile *f);
void gb_tfile_free(struct gb_tfile *f);
/* Is s the seal of archive file a (whole, of the size s states)? */
int gb_tfile_pair(const struct gb_tfile *a, const struct gb_tfile *s);
/*
 * The first tape file from `from` on that does not start a whole
 * (archive, seal) pair, read into *after (kind GB_TF_NONE: nothing);
 * -1 and EIO, t->bad set, for a damaged record before `from`.
 */
int gb_tape_pairs_end(struct gb_tape *t, int from, unsigned char *buf,
    struct gb_tfile *after);
/*
 * checkpoint.c: the checkpoints, unverified, on a medium (every one on a
 * tape, GB_CHECKPOINT_FILE of a directory) or in a file, appended to *v
 * (text NUL-ended, place: where it was found); 0, -1 not one (a file too
 * large), -2 could not read.
 */
struct gb_cptext {
	char *text, *place;
	size_t len;
};
int gb_checkpoints_read(const char *path, struct gb_cptext **v, size_t *n,
    char *err, size_t errlen);
void gb_cptexts_free(struct gb_cptext *v, size_t n);
/* A labelled medium that gb-verify or gb-restore reads archives from. */
struct gb_medium {
	const char *path;
	char *id, *pool;	/* from its label */
	char *tmpdir;		/* a tape's archives are copied here */
	char **files;		/* the copies made, removed at close */
	size_t nfiles;
};
int gb_medium_open(struct gb_medium *m, const char *path, char *err,
    size_t errlen);
/*
 * NAME (.tar.gz.gpg, .seal or bare) on whichever of the n media holds it
 * (the path of its archive; *on the medium's id), the catalog, when
 * given, saying where on a tape the site's archive of that name is;
 * NULL and why, with where the catalog has good copies on other media.
 */
char *gb_medium_find(struct gb_medium *m, size_t n, struct gb_catalog *c,
    const char *site, const char *name, const char **on, char *err,
    size_t errlen);
void gb_medium_close(struct gb_medium *m);	/* removes the copies */

/*
 * import.c: a medium read on its own (gb-catalog import): its label and
 * each archive found on it, the seal verified against the pinned signer;
 * with verify, every archive read through and hashed.
 */
struct gb_found {
	struct gb_seal s;	/* verified when sealok */
	char *name;		/* NAME.tar.gz.gpg */
	char *pos;		/* tape file number, or the file name */
	char *why;		/* why the seal or the archive is not good */
	char *written;		/* directory: when, from its index; else NULL */
	int sealok;		/* the seal verifies against the pinned signer */
	int whole;		/* the archive has the size the seal states */
	int hashed;		/* 1 its SHA-256 is the seal's, -1 not, 0 unread */
};
struct gb_scan {
	char *id, *pool, *kind, *labelled;	/* from the label */
	char *label;		/* its whole text */
	size_t labellen;
	struct gb_found *f;
	size_t n;
	int next_file;		/* tape: the file after the last seal */
	int verified;		/* every archive was read through */
};
/* 0, or -1 (why in err) when MEDIA has no label or cannot be read. */
int gb_scan_media(struct gb_scan *m, const char *media, const char *signer,
    int verify, char *err, size_t errlen);
void gb_scan_free(struct gb_scan *m);
/*
 * Records the medium, its archives, copies and chains, and an audit entry,
 * in one transaction; refuses a medium with a seal that does not verify
 * or of another site; reports conflicts and leaves the catalog's rows as
 * they are.  Prints a line; returns an exit status.
 */
int gb_import(struct gb_catalog *c, const struct gb_conf *conf,
    struct gb_scan *m, const char *media, const char *site);

#endif
