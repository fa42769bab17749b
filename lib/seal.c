/*
 * seal.c - the seal (gb-seal(5)): its text written and clear-signed, its
 * signature verified, then what was signed parsed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gb.h"
#include "gb-media.h"
#include "gb-pgp.h"

char *
gb_seal_format(const struct gb_seal *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	fprintf(f, "gymbackup-seal\t1\n");
	fprintf(f, "archive\t%s\n", s->archive);
	fprintf(f, "size\t%llu\n", (unsigned long long)s->size);
	/* The one sha256sum line: `sha256sum -c NAME.seal` checks it. */
	fprintf(f, "%s  %s\n", s->sha256, s->archive);
	fprintf(f, "packed-size\t%llu\n", (unsigned long long)s->packed_size);
	fprintf(f, "packed-sha256\t%s\n", s->packed_sha256);
	fprintf(f, "sealed\t%s\n", s->sealed);
	fprintf(f, "signer\t%s\n", s->signer);
	for (size_t i = 0; s->recipients[i]; i++)
		fprintf(f, "recipient\t%s\n", s->recipients[i]);
	fprintf(f, "manifest\n");
	fwrite(s->manifest_text, 1, s->manifest_len, f);
	if (fclose(f) != 0)
		gb_errx(GB_EXIT_RUN, "out of memory");
	return text;
}

char *
gb_clearsign(gpgme_ctx_t c, gpgme_key_t signer, const char *what,
    const char *text, size_t *len, char *err, size_t errlen)
{
	gpgme_data_t in, out;
	gpgme_error_t e;
	char *buf, *signed_text;

	gpgme_signers_clear(c);
	gpgme_signers_add(c, signer);
	gpgme_set_armor(c, 1);
	gpgme_set_textmode(c, 1);
	if (gpgme_data_new_from_mem(&in, text, strlen(text), 0) ||
	    gpgme_data_new(&out))
		gb_errx(GB_EXIT_RUN, "gpgme: out of memory");
	e = gpgme_op_sign(c, in, out, GPGME_SIG_MODE_CLEAR);
	gpgme_data_release(in);
	if (e) {
		char *why = gb_pgp_sign_why(e, signer);
		snprintf(err, errlen, "cannot sign the %s: %s", what, why);
		free(why);
		gpgme_data_release(out);
		return NULL;
	}
	buf = gpgme_data_release_and_get_mem(out, len);
	signed_text = gb_malloc(*len + 1);
	memcpy(signed_text, buf, *len);
	signed_text[*len] = '\0';
	gpgme_free(buf);
	return signed_text;
}

char *
gb_seal_sign(gpgme_ctx_t c, gpgme_key_t signer, const char *text,
    size_t *len, char *err, size_t errlen)
{
	return gb_clearsign(c, signer, "seal", text, len, err, errlen);
}

static int
is_hex64(const char *s, size_t n)
{
	return n == 64 && strspn(s, "0123456789abcdef") >= 64;
}

static int
parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); goto fail; } while (0)

int
gb_seal_parse(struct gb_seal *s, const char *text, size_t len, char *err,
    size_t errlen)
{
	const char *p = text, *end = text + len;
	size_t nrcpt = 0;
	int lineno = 0, have_sum = 0, have_size = 0, have_packed = 0;
	char *sumname = NULL;
	FILE *fp;
	char why[256];

	memset(s, 0, sizeof *s);
	s->recipients = gb_calloc(1, sizeof *s->recipients);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *line = gb_strndup(p, n), *tab = strchr(line, '\t');
		const char *val = tab ? tab + 1 : "";

		if (tab)
			*tab = '\0';
		p += n + (nl ? 1 : 0);
		lineno++;
		if (lineno == 1) {
			int ok = strcmp(line, "gymbackup-seal") == 0 &&
			    strcmp(val, "1") == 0;
			free(line);
			if (!ok)
				BAD("not a gymbackup seal (format 1)");
			continue;
		}
		if (strcmp(line, "manifest") == 0) {
			free(line);
			s->manifest_text = gb_strndup(p, (size_t)(end - p));
			s->manifest_len = (size_t)(end - p);
			break;
		}
		if (!tab && strlen(line) > 66 && line[64] == ' ' &&
		    line[65] == ' ') {
			/* the sha256sum line: HEX, two spaces, the name */
			if (!is_hex64(line, 64) || have_sum) {
				free(line);
				BAD("line %d: bad checksum line", lineno);
			}
			memcpy(s->sha256, line, 64);
			s->sha256[64] = '\0';
			sumname = gb_strdup(line + 66);
			have_sum = 1;
		} else if (strcmp(line, "archive") == 0 && !s->archive)
			s->archive = gb_strdup(val);
		else if (strcmp(line, "size") == 0)
			have_size = parse_u64(val, &s->size) == 0;
		else if (strcmp(line, "packed-size") == 0)
			have_packed = parse_u64(val, &s->packed_size) == 0;
		else if (strcmp(line, "packed-sha256") == 0 &&
		    is_hex64(val, strlen(val)))
			memcpy(s->packed_sha256, val, 65);
		else if (strcmp(line, "sealed") == 0 && !s->sealed)
			s->sealed = gb_strdup(val);
		else if (strcmp(line, "signer") == 0 && !s->signer)
			s->signer = gb_strdup(val);
		else if (strcmp(line, "recipient") == 0) {
			s->recipients = gb_realloc(s->recipients,
			    (nrcpt + 2) * sizeof *s->recipients);
			s->recipients[nrcpt++] = gb_strdup(val);
			s->recipients[nrcpt] = NULL;
		}
		/* other lines: later fields of format 1, ignored */
		free(line);
	}
	if (!s->archive || strchr(s->archive, '/') || !have_sum ||
	    !have_size || !have_packed || !s->packed_sha256[0] ||
	    !s->signer || !s->manifest_text)
		BAD("incomplete seal (archive, checksum, sizes, signer or "
		    "manifest missing)");
	if (strcmp(sumname, s->archive) != 0)
		BAD("the checksum line names %s, the seal %s", sumname,
		    s->archive);
	free(sumname);
	sumname = NULL;
	if (!(fp = fmemopen(s->manifest_text, s->manifest_len ?
	    s->manifest_len : 1, "r")))
		BAD("out of memory");
	if (gb_manifest_read(&s->manifest, fp, why, sizeof why) == -1) {
		fclose(fp);
		BAD("manifest in the seal: %s", why);
	}
	fclose(fp);
	return 0;
fail:
	free(sumname);
	gb_seal_free(s);
	return -1;
}

/* The length of the line at p (without its end), and where the next starts. */
static size_t
line_len(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

	*next = nl ? nl + 1 : end;
	/* armor lines may end in CR LF and blanks (RFC 4880, 7.1) */
	while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	return n;
}

static int
is_line(const char *p, size_t n, const char *what)
{
	return n == strlen(what) && memcmp(p, what, n) == 0;
}

/*
 * The one clear-signed message in text: from its BEGIN line to the end of
 * its signature.  Text before or after it is no part of the seal.
 */
static int
find_block(const char *what, const char *text, size_t len, const char **start,
    size_t *blen, char *err, size_t errlen)
{
	const char *p = text, *end = text + len, *next, *b = NULL, *e = NULL;
	int nbegin = 0;

	while (p < end) {
		size_t n = line_len(p, end, &next);
		if (is_line(p, n, GB_SEAL_BEGIN)) {
			if (nbegin++ == 0)
				b = p;
		} else if (b && !e && is_line(p, n, "-----END PGP SIGNATURE-----"))
			e = next;
		p = next;
	}
	if (nbegin == 0 || !e) {
		snprintf(err, errlen, "not a clear-signed %s", what);
		return -1;
	}
	if (nbegin > 1) {
		snprintf(err, errlen, "more than one signed message in the %s",
		    what);
		return -1;
	}
	*start = b;
	*blen = (size_t)(e - b);
	return 0;
}

int
gb_signed_verify(const char *what, const char *text, size_t len,
    const char *pinned, char **plain, size_t *plainlen, const char **block,
    size_t *blen, char *err, size_t errlen)
{
	gpgme_ctx_t c;
	gpgme_data_t sig, out;
	gpgme_error_t e;
	char *o, *q, why[512];
	size_t olen, qlen = 0;

	if (find_block(what, text, len, block, blen, err, errlen) == -1)
		return -1;
	c = gb_pgp_new();
	if (gpgme_data_new_from_mem(&sig, *block, *blen, 0) ||
	    gpgme_data_new(&out))
		gb_errx(GB_EXIT_RUN, "gpgme: out of memory");
	e = gpgme_op_verify(c, sig, NULL, out);
	gpgme_data_release(sig);
	if (e) {
		snprintf(err, errlen, "not a signed %s: %s", what,
		    gpgme_strerror(e));
		gpgme_data_release(out);
		gpgme_release(c);
		return -1;
	}
	if (gb_pgp_check_sigs(c, pinned, why, sizeof why) == -1) {
		snprintf(err, errlen, "%s", why);
		gpgme_data_release(out);
		gpgme_release(c);
		return -1;
	}
	gpgme_release(c);
	/* A text signature does not cover line ends: CR LF reads as LF. */
	o = gpgme_data_release_and_get_mem(out, &olen);
	q = gb_malloc(olen + 1);
	for (size_t i = 0; i < olen; i++)
		if (!(o[i] == '\r' && i + 1 < olen && o[i + 1] == '\n'))
			q[qlen++] = o[i];
	q[qlen] = '\0';
	gpgme_free(o);
	*plain = q;
	*plainlen = qlen;
	return 0;
}

int
gb_seal_verify(struct gb_seal *s, const char *text, size_t len,
    const char *pinned, char *err, size_t errlen)
{
	const char *block;
	char *q;
	size_t blen, qlen;
	int r;

	memset(s, 0, sizeof *s);
	if (gb_signed_verify("seal", text, len, pinned, &q, &qlen, &block,
	    &blen, err, errlen) == -1)
		return -1;
	/* only what the signature covers is parsed */
	r = gb_seal_parse(s, q, qlen, err, errlen);
	free(q);
	if (r == -1)
		return -1;
	/* kept exactly as verified: what the catalog and the media get */
	s->signed_text = gb_strndup(block, blen);
	s->signed_len = blen;
	return 0;
}

int
gb_signed_read(const char *what, const char *path, char **textp, size_t *lenp,
    char *err, size_t errlen)
{
	struct stat sb;
	char *text;
	size_t cap, len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb)) {
		snprintf(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -2;
	}
	if (sb.st_size > GB_SEAL_MAX) {
		close(fd);
		snprintf(err, errlen, "%s: too large for a %s", path, what);
		return -1;
	}
	/*
	 * Read once: what is verified is what is parsed and kept.  Its size
	 * and a byte more, to its end: a file that grew since, or a pipe,
	 * which tells no size, gets more room up to the limit.
	 */
	cap = (size_t)sb.st_size + 1;
	text = gb_malloc(cap);
	while ((n = gb_read_full(fd, text + len, cap - len)) >= 0) {
		len += (size_t)n;
		if (len < cap || cap > GB_SEAL_MAX)
			break;
		cap = cap > GB_SEAL_MAX / 2 ? GB_SEAL_MAX + 1 : cap * 2;
		text = gb_realloc(text, cap);
	}
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		free(text);
		return -2;
	}
	if (len > GB_SEAL_MAX) {
		snprintf(err, errlen, "%s: too large for a %s", path, what);
		free(text);
		return -1;
	}
	*textp = text;
	*lenp = len;
	return 0;
}

int
gb_seal_load(struct gb_seal *s, const char *path, const char *pinned,
    char *err, size_t errlen)
{
	char *text, why[512];
	size_t len;
	int r;

	memset(s, 0, sizeof *s);
	if ((r = gb_signed_read("seal", path, &text, &len, err, errlen)) != 0)
		return r;
	r = gb_seal_verify(s, text, len, pinned, why, sizeof why);
	free(text);
	if (r == -1)
		snprintf(err, errlen, "%s: %s", path, why);
	return r;
}

/* A field of a clear-signed seal's text, unverified. */
static char *
peek_field(const char *text, const char *field)
{
	size_t n = strlen(field);
	const char *end = strstr(text, "\n-----BEGIN PGP SIGNATURE-----");

	for (const char *p = strchr(text, '\n'); p && (!end || p < end);
	    p = strchr(p + 1, '\n'))
		if (strncmp(p + 1, field, n) == 0 && p[1 + n] == '\t')
			return gb_strndup(p + 2 + n, strcspn(p + 2 + n, "\r\n"));
	return NULL;
}

void
gb_seal_peek(const char *text, char **archive, uint64_t *size)
{
	char *v = peek_field(text, "size"), *end;

	*archive = peek_field(text, "archive");
	*size = 0;
	if (v) {
		*size = strtoull(v, &end, 10);
		if (*end || end == v)
			*size = 0;
	}
	free(v);
}

void
gb_seal_free(struct gb_seal *s)
{
	if (s->recipients)
		for (char **p = s->recipients; *p; p++)
			free(*p);
	free(s->recipients);
	free(s->archive);
	free(s->sealed);
	free(s->signer);
	free(s->manifest_text);
	free(s->signed_text);
	gb_manifest_free(&s->manifest);
	memset(s, 0, sizeof *s);
}

static char *
swap_suffix(const char *path, const char *from, const char *to)
{
	size_t n = strlen(path), f = strlen(from);

	if (n > f && strcmp(path + n - f, from) == 0)
		return gb_asprintf("%.*s%s", (int)(n - f), path, to);
	return NULL;
}

char *
gb_seal_path(const char *p)
{
	char *s = swap_suffix(p, ".tar.gz.gpg", ".seal");

	return s ? s : gb_strdup(p);
}

char *
gb_archive_path(const char *p)
{
	char *s = swap_suffix(p, ".seal", ".tar.gz.gpg");

	return s ? s : gb_strdup(p);
}
