/*
 * gb-seal - encrypt a packed archive to every recipient, sign it inside,
 * and write the seal: a clear-signed statement of what was sealed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gb.h"
#include "gb-pgp.h"

struct seal {
	const char *confpath;
	struct gb_conf conf;
	char **rcpt;		/* -r names */
	size_t nrcpt;
	const char *signer;
	const char *spool;	/* -o SPOOL/NAME */
	const char *input;	/* NULL: stdin */
	int infd, outfd;
	unsigned char *prefix;	/* read ahead to find MANIFEST */
	size_t prefix_len, prefix_off;
	char *manifest;		/* MANIFEST text from the first member */
	size_t manifest_len;
	struct gb_sha256 in_hash, out_hash;
	uint64_t in_bytes, out_bytes;
	unsigned char tail[64];	/* the input's last bytes: the end mark */
	size_t tail_len;
	int out_errno, in_errno;
	struct gb_atomic *arc;	/* -o: the archive's temporary file */
	/* from gpg's status lines */
	char refused[128];	/* a key it refused (INV_RECP, INV_SGNR) */
	char sig_fpr[128];	/* the key it signed with (SIG_CREATED) */
	char other[128];	/* a key it took that is not one of ours */
	gpgme_key_t *keys, signer_key;	/* ours: the recipients, the signer */
	int nsigs, encrypted;	/* SIG_CREATED lines, END_ENCRYPTION */
	struct gb_pgp_status st;	/* the rest: its first FAILURE or ERROR */
};

static void
usage(FILE *fp, int status)
{
	fprintf(fp, "usage: gb-seal [-q] [-c conf] [-r recipient ...] "
	    "[-u signer] [-o spool/name]\n"
	    "               [file | -]\n");
	exit(status);
}

static void
keep_tail(struct seal *s, const void *buf, size_t n)
{
	const unsigned char *b = buf;
	size_t keep = sizeof s->tail;

	if (n >= keep) {
		memcpy(s->tail, b + n - keep, keep);
		s->tail_len = keep;
		return;
	}
	if (s->tail_len + n > keep) {
		size_t drop = s->tail_len + n - keep;
		memmove(s->tail, s->tail + drop, s->tail_len - drop);
		s->tail_len -= drop;
	}
	memcpy(s->tail + s->tail_len, b, n);
	s->tail_len += n;
}

static ssize_t
read_cb(void *arg, void *buf, size_t n)
{
	struct seal *s = arg;
	ssize_t r;

	if (s->prefix_off < s->prefix_len) {
		r = (ssize_t)(s->prefix_len - s->prefix_off);
		if ((size_t)r > n)
			r = (ssize_t)n;
		memcpy(buf, s->prefix + s->prefix_off, (size_t)r);
		s->prefix_off += (size_t)r;
	} else if ((r = gb_read_full(s->infd, buf, n)) < 0) {
		s->in_errno = errno;
		return -1;
	}
	gb_sha256_update(&s->in_hash, buf, (size_t)r);
	s->in_bytes += (uint64_t)r;
	gb_progress_add((uint64_t)r);
	keep_tail(s, buf, (size_t)r);
	return r;
}

static int
write_cb(void *arg, const void *buf, size_t n)
{
	struct seal *s = arg;

	if (gb_write_all(s->outfd, buf, n) == -1) {
		s->out_errno = errno;
		return -1;
	}
	gb_sha256_update(&s->out_hash, buf, n);
	s->out_bytes += n;
	return 0;
}

static void
status_cb(void *arg, const char *line)
{
	struct seal *s = arg;

	if ((strncmp(line, "INV_RECP ", 9) == 0 ||
	    strncmp(line, "INV_SGNR ", 9) == 0) && !*s->refused)
		gb_pgp_word(s->refused, sizeof s->refused, line, 2);
	else if (strncmp(line, "KEY_CONSIDERED ", 15) == 0 && !*s->other) {
		/* gpg.conf may name more keys (recipient, group): not ours */
		char fpr[128];
		int ours;
		gb_pgp_word(fpr, sizeof fpr, line, 1);
		ours = gb_pgp_fpr_eq(s->signer_key->fpr, fpr);
		for (size_t i = 0; s->keys[i] && !ours; i++)
			ours = gb_pgp_fpr_eq(s->keys[i]->fpr, fpr);
		if (!ours)
			snprintf(s->other, sizeof s->other, "%s", fpr);
	} else if (strncmp(line, "SIG_CREATED ", 12) == 0) {
		gb_pgp_word(s->sig_fpr, sizeof s->sig_fpr, line, 6);
		s->nsigs++;
	} else if (strcmp(line, "END_ENCRYPTION") == 0)
		s->encrypted = 1;
	else
		gb_pgp_status_line(&s->st, line);
}

/* The signer's key or one of its subkeys. */
static int
signed_by(gpgme_key_t signer, const char *fpr)
{
	for (gpgme_subkey_t k = signer->subkeys; k; k = k->next)
		if (gb_pgp_fpr_eq(k->fpr, fpr))
			return 1;
	return 0;
}

/*
 * gpg itself, run as GPGME runs it (gb_gpg_run): the keys as resolved,
 * by fingerprint, and no others (an encrypt-to in gpg.conf would add one
 * the seal does not name); trusted as pinned by the operator, no web of
 * trust consulted; binary (a textmode in gpg.conf would turn CR LF into
 * LF), without OpenPGP compression (it is gzip).
 */
static void
encrypt_sign(struct seal *s, gpgme_key_t *keys, gpgme_key_t signer)
{
	const char **args = gb_calloc(2 * s->nrcpt + 22, sizeof *args);
	struct gb_gpg_io io = { .in = read_cb, .out = write_cb,
	    .status = status_cb, .arg = s };
	char err[512];
	size_t n = 0;
	int r;

	s->keys = keys;
	s->signer_key = signer;
	args[n++] = "--trust-model";
	args[n++] = "always";
	args[n++] = "--no-armor";
	args[n++] = "-z";
	args[n++] = "0";
	args[n++] = "--no-encrypt-to";
	args[n++] = "--no-textmode";
	/*
	 * gpg hashes what it signs with the recipients' first choice, as a
	 * rule SHA-512; where the CPU does SHA-256 in hardware that is
	 * several times as fast, and gpg takes it if the keys allow it.
	 */
	if (gb_sha256_fast()) {
		args[n++] = "--personal-digest-preferences";
		args[n++] = "SHA256";
	}
	args[n++] = "--encrypt";
	args[n++] = "--sign";
	args[n++] = "--local-user";
	args[n++] = signer->fpr;
	for (size_t i = 0; keys[i]; i++) {
		args[n++] = "--recipient";
		args[n++] = keys[i]->fpr;
	}
	args[n++] = "--output";
	args[n++] = "-";
	args[n] = NULL;
	gb_progress_start("sealed", 0, gb_progress_size(s->infd));
	r = gb_gpg_run(args, &io, err, sizeof err);
	gb_progress_end();
	free(args);
	if (s->in_errno) {
		errno = s->in_errno;
		gb_err(GB_EXIT_RUN, "cannot read the packed archive");
	}
	if (s->out_errno) {
		errno = s->out_errno;
		gb_err(GB_EXIT_RUN, "cannot write %s", s->spool ? s->arc->tmp :
		    "the sealed archive");
	}
	if (*s->refused)
		gb_errx(GB_EXIT_RUN, "GnuPG refused a key: %s", s->refused);
	if (*s->other)
		gb_errx(GB_EXIT_RUN, "cannot encrypt and sign: gpg took key %s, "
		    "which is neither the signer nor a recipient: is it named in "
		    "gpg.conf (recipient, group)?", s->other);
	if (s->st.failure)
		gb_errx(GB_EXIT_RUN, "cannot encrypt and sign: %s",
		    gb_pgp_sign_why(s->st.failure, signer));
	if (r < 0)
		gb_errx(GB_EXIT_RUN, "cannot encrypt and sign: %s", err);
	if (!s->encrypted || s->nsigs != 1 || !signed_by(signer, s->sig_fpr))
		gb_errx(GB_EXIT_RUN, "cannot encrypt and sign: gpg did not %s",
		    !s->encrypted ? "say it encrypted" : s->nsigs != 1 ?
		    "sign once" : "sign with the signer's key");
}

/*
 * Reads the input's first gzip member, which holds MANIFEST alone, and
 * keeps the bytes read so they are sealed too.
 */
static void
read_manifest(struct seal *s)
{
	switch (gb_pack_manifest(s->infd, &s->prefix, &s->prefix_len,
	    &s->manifest, &s->manifest_len)) {
	case -2:
		gb_err(GB_EXIT_RUN, "cannot read the packed archive");
	case -1:
		gb_errx(GB_EXIT_CHECK, "%s: not a packed archive (it must start "
		    "with MANIFEST in a gzip member of its own, as gb-pack "
		    "writes it)", s->input ? s->input : "stdin");
	}
}

static gpgme_key_t *
resolve_keys(struct seal *s, gpgme_ctx_t c, gpgme_key_t *signer)
{
	gpgme_key_t *keys = gb_calloc(s->nrcpt + 1, sizeof *keys);
	char why[512];

	for (size_t i = 0; i < s->nrcpt; i++) {
		if (!(keys[i] = gb_pgp_key(c, s->rcpt[i], 'e', why, sizeof why)))
			gb_errx(GB_EXIT_USAGE, "%s", why);
		for (size_t k = 0; k < i; k++)
			if (strcmp(keys[k]->fpr, keys[i]->fpr) == 0)
				gb_errx(GB_EXIT_USAGE, "recipient %s named twice",
				    keys[i]->fpr);
	}
	if (!(*signer = gb_pgp_key(c, s->signer, 's', why, sizeof why)))
		gb_errx(GB_EXIT_USAGE, "%s", why);
	return keys;
}

/* The seal's text, clear-signed, into the spool's NAME.seal. */
static void
write_seal(struct seal *s, char *name, gpgme_ctx_t c,
    gpgme_key_t signer, gpgme_key_t *keys, const char *in_hex,
    const char *out_hex, struct gb_atomic *a)
{
	struct gb_seal sl = { .archive = name, .size = s->out_bytes,
	    .packed_size = s->in_bytes, .signer = signer->fpr,
	    .manifest_text = s->manifest, .manifest_len = s->manifest_len };
	char when[21], *text, *signed_text, err[512];
	size_t n;

	gb_fmt_time(when, time(NULL));
	sl.sealed = when;
	memcpy(sl.sha256, out_hex, sizeof sl.sha256);
	memcpy(sl.packed_sha256, in_hex, sizeof sl.packed_sha256);
	sl.recipients = gb_calloc(s->nrcpt + 1, sizeof *sl.recipients);
	for (size_t i = 0; i < s->nrcpt; i++)
		sl.recipients[i] = keys[i]->fpr;
	text = gb_seal_format(&sl);
	if (!(signed_text = gb_seal_sign(c, signer, text, &n, err, sizeof err)))
		gb_errx(GB_EXIT_RUN, "%s", err);
	if (gb_write_all(a->fd, signed_text, n) == -1)
		gb_err(GB_EXIT_RUN, "cannot write %s", a->path);
	free(signed_text);
	free(text);
	free(sl.recipients);
}

/* A commit into the spool failed: neither file is left, renamed or not. */
static _Noreturn void
spool_fail(struct seal *s, struct gb_atomic *sl, const char *what)
{
	int e = errno;
	char *apath = gb_asprintf("%s.tar.gz.gpg", s->spool);
	char *spath = gb_asprintf("%s.seal", s->spool);
	int gone;

	gb_atomic_abort(sl);
	/* the seal goes first: for no moment a seal without its archive */
	gone = unlink(spath) == 0;
	gone |= unlink(apath) == 0;
	if (gone)
		gb_fsync_parent(apath);
	free(apath);
	free(spath);
	errno = e;
	gb_err(GB_EXIT_RUN, "cannot write %s.%s; nothing is left in the "
	    "spool", s->spool, what);
}

static void
found(void *arg, const char *path, long pid)
{
	(void)path;
	*(long *)arg = pid;
}

/*
 * An archive without its seal is no finished gb-seal: one killed between
 * the two renames left it, with its seal's temporary file, which is
 * locked (and its pid alive) while a gb-seal is still at work.  Left by a
 * gb-seal that is gone: sealed again, over it.  Else, at work or put
 * there by someone else: never overwritten.
 */
static void
lone_archive(const char *apath, const char *spath)
{
	char *copy = gb_strdup(spath), *slash = strrchr(copy, '/');
	char *pfx = gb_asprintf("%s.tmp", slash ? slash + 1 : copy);
	const char *dir = slash ? (slash == copy ? "/" : copy) : ".";
	long pid, dead = 0;

	if (slash)
		*slash = '\0';
	if ((pid = gb_tmp_owner(dir, pfx)))
		gb_errx(GB_EXIT_USAGE, "%s exists, and process %ld is writing "
		    "its seal; an archive is never overwritten", apath, pid);
	if (gb_tmp_stale(dir, pfx, found, &dead) == 0)
		gb_errx(GB_EXIT_USAGE, "%s or %s exists; an archive is never "
		    "overwritten", apath, spath);
	gb_warnx("warning: %s has no seal (left by gb-seal process %ld, "
	    "which did not finish); sealing it again", apath, dead);
	free(pfx);
	free(copy);
}

int
main(int argc, char *argv[])
{
	struct seal s = { .infd = STDIN_FILENO, .outfd = STDOUT_FILENO };
	struct gb_atomic arc = { .fd = -1 }, sl = { .fd = -1 };
	gpgme_ctx_t c;
	gpgme_key_t *keys, signer;
	char in_hex[65], out_hex[65], *name = NULL;
	int ch;

	gb_setprogname(argv[0]);
	atexit(gb_close_stdout);
	while ((ch = getopt_long(argc, argv, "c:ho:qr:u:", gb_stdopts,
	    NULL)) != -1)
		switch (ch) {
		case 'c': s.confpath = optarg; break;
		case 'h': usage(stdout, GB_EXIT_OK); break;
		case 'o': s.spool = optarg; break;
		case 'r':
			s.rcpt = gb_realloc(s.rcpt, (s.nrcpt + 1) * sizeof *s.rcpt);
			s.rcpt[s.nrcpt++] = gb_strdup(optarg);
			break;
		case 'q': gb_progress_quiet(); break;
		case 'u': s.signer = optarg; break;
		case GB_OPT_VERSION: gb_version();
		default: usage(stderr, GB_EXIT_USAGE);
		}
	if (gb_input_operand(argc, argv, &s.input) == -1)
		usage(stderr, GB_EXIT_USAGE);

	gb_conf_open(&s.conf, s.confpath);
	if (!s.signer)
		s.signer = gb_conf_get(&s.conf, "keys", "signer");
	if (s.nrcpt == 0) {
		const char *v = gb_conf_get(&s.conf, "keys", "recipients");
		char *copy = gb_strdup(v ? v : ""), *tok, *save;
		for (tok = strtok_r(copy, " ,\t", &save); tok;
		    tok = strtok_r(NULL, " ,\t", &save)) {
			s.rcpt = gb_realloc(s.rcpt, (s.nrcpt + 1) * sizeof *s.rcpt);
			s.rcpt[s.nrcpt++] = gb_strdup(tok);
		}
		free(copy);
	}
	if (!s.signer || !*s.signer)
		gb_errx(GB_EXIT_USAGE, "no signer: give -u KEY or set signer in "
		    "the [keys] section of the config");
	if (s.nrcpt == 0)
		gb_errx(GB_EXIT_USAGE, "no recipient: give -r KEY or set "
		    "recipients in the [keys] section of the config");
	if (s.nrcpt < 2)
		gb_warnx("warning: only one recipient; if its secret key is "
		    "lost, so is this backup (add an escrow key with a second -r)");

	c = gb_pgp_new();
	keys = resolve_keys(&s, c, &signer);

	if (s.input && (s.infd = open(s.input, O_RDONLY | O_CLOEXEC)) < 0)
		gb_err(GB_EXIT_RUN, "cannot open %s", s.input);
	if (!s.input && isatty(STDIN_FILENO))
		gb_errx(GB_EXIT_USAGE, "no packed archive: pipe gb-pack into "
		    "gb-seal, or name a file");
	if (s.spool) {
		char *apath = gb_asprintf("%s.tar.gz.gpg", s.spool);
		char *spath = gb_asprintf("%s.seal", s.spool);
		struct stat sb;
		const char *slash = strrchr(s.spool, '/');
		name = gb_strdup(strrchr(apath, '/') ? strrchr(apath, '/') + 1 :
		    apath);
		if (slash && slash[1] == '\0')
			gb_errx(GB_EXIT_USAGE, "-o wants SPOOL/NAME, not a "
			    "directory");
		if (lstat(spath, &sb) == 0 || (lstat(apath, &sb) == 0 &&
		    !S_ISREG(sb.st_mode)))
			gb_errx(GB_EXIT_USAGE, "%s or %s exists; an archive is "
			    "never overwritten", apath, spath);
		if (lstat(apath, &sb) == 0)
			lone_archive(apath, spath);
		gb_cleanup_signals();
		if (gb_atomic_open(&arc, apath, 0640) == -1)
			gb_err(GB_EXIT_RUN, "cannot create %s", apath);
		if (gb_atomic_open(&sl, spath, 0644) == -1)
			gb_err(GB_EXIT_RUN, "cannot create %s", spath);
		s.outfd = arc.fd;
		free(apath);
		free(spath);
	} else if (isatty(STDOUT_FILENO))
		gb_errx(GB_EXIT_USAGE, "the sealed archive is binary: redirect "
		    "stdout, or write to a spool with -o SPOOL/NAME");

	if (!s.input)
		gb_pipe_grow(STDIN_FILENO);
	if (!s.spool)
		gb_pipe_grow(STDOUT_FILENO);
	read_manifest(&s);
	gb_sha256_init(&s.in_hash);
	gb_sha256_init(&s.out_hash);
	s.arc = &arc;
	encrypt_sign(&s, keys, signer);
	if (s.tail_len < gb_pack_trailer_len || memcmp(s.tail + s.tail_len -
	    gb_pack_trailer_len, gb_pack_trailer, gb_pack_trailer_len) != 0)
		gb_errx(GB_EXIT_CHECK, "%s: the packed archive has no end mark: "
		    "truncated, or gb-pack failed; nothing sealed", s.input ?
		    s.input : "stdin");
	gb_sha256_final(&s.in_hash, in_hex);
	gb_sha256_final(&s.out_hash, out_hex);

	if (s.spool) {
		write_seal(&s, name, c, signer, keys, in_hex, out_hex, &sl);
		/*
		 * The archive first, renamed and its directory synced, then
		 * the seal: a seal never names a missing archive.  Either
		 * failing after its rename takes both away again.
		 */
		if (gb_atomic_commit(&arc) == -1)
			spool_fail(&s, &sl, "tar.gz.gpg");
		if (gb_atomic_commit(&sl) == -1)
			spool_fail(&s, &sl, "seal");
	}
	for (size_t i = 0; keys[i]; i++)
		gpgme_key_unref(keys[i]);
	free(keys);
	for (size_t i = 0; i < s.nrcpt; i++)
		free(s.rcpt[i]);
	free(s.rcpt);
	gpgme_key_unref(signer);
	gpgme_release(c);
	free(name);
	free(s.prefix);
	free(s.manifest);
	gb_conf_free(&s.conf);
	return GB_EXIT_OK;
}
