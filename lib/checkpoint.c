/*
 * checkpoint.c - the checkpoint (gb-checkpoint(5)): the audit trail's
 * entry count and head hash, the site and the time, clear-signed by the
 * signing key; written, read from media and files, verified, and held
 * against the catalog's trail.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gb.h"
#include "gb-db.h"
#include "gb-media.h"
#include "gb-pgp.h"

#define MAGIC "gymbackup-checkpoint"

char *
gb_checkpoint_format(const struct gb_checkpoint *k)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	fprintf(f, MAGIC "\t1\n");
	fprintf(f, "site\t%s\n", k->site);
	fprintf(f, "entries\t%lld\n", k->entries);
	fprintf(f, "head\t%s\n", k->head);
	fprintf(f, "issued\t%s\n", k->issued);
	fprintf(f, "signer\t%s\n", k->signer);
	if (k->medium)
		fprintf(f, "medium\t%s\n", k->medium);
	if (fclose(f) != 0)
		gb_errx(GB_EXIT_RUN, "out of memory");
	return text;
}

static int
is_head(const char *s)
{
	return strcmp(s, "0") == 0 || (strlen(s) == 64 &&
	    strspn(s, "0123456789abcdef") == 64);
}

/* A value is one line of printable text, as the writer puts it. */
static int
is_value(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); goto fail; } while (0)

int
gb_checkpoint_parse(struct gb_checkpoint *k, const char *text, size_t len,
    char *err, size_t errlen)
{
	const char *p = text, *end = text + len;
	int lineno = 0, have_entries = 0;

	memset(k, 0, sizeof *k);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *line = gb_strndup(p, n), *tab = strchr(line, '\t');
		const char *val = tab ? tab + 1 : "";
		char **field = NULL;

		p += n + (nl ? 1 : 0);
		lineno++;
		if (strlen(line) != n) {
			free(line);
			BAD("line %d: a NUL byte", lineno);
		}
		if (tab)
			*tab = '\0';
		if (lineno == 1) {
			int ok = strcmp(line, MAGIC) == 0 && strcmp(val, "1") == 0;
			free(line);
			if (!ok)
				BAD("not a gymbackup checkpoint (format 1)");
			continue;
		}
		if (strcmp(line, "site") == 0)
			field = &k->site;
		else if (strcmp(line, "issued") == 0)
			field = &k->issued;
		else if (strcmp(line, "signer") == 0)
			field = &k->signer;
		else if (strcmp(line, "medium") == 0)
			field = &k->medium;
		if (field) {
			int ok = !*field && is_value(val);
			if (ok)
				*field = gb_strdup(val);
			free(line);
			if (!ok)
				BAD("line %d: bad or repeated %s", lineno, field ==
				    &k->site ? "site" : field == &k->issued ? "issued" :
				    field == &k->signer ? "signer" : "medium");
			continue;
		}
		if (strcmp(line, "entries") == 0) {
			char *e;
			int ok = !have_entries && *val >= '0' && *val <= '9';
			if (ok) {
				errno = 0;
				k->entries = strtoll(val, &e, 10);
				ok = !errno && !*e;
			}
			free(line);
			if (!ok)
				BAD("line %d: bad or repeated entries", lineno);
			have_entries = 1;
			continue;
		}
		if (strcmp(line, "head") == 0) {
			int ok = !k->head[0] && is_head(val);
			if (ok)
				snprintf(k->head, sizeof k->head, "%s", val);
			free(line);
			if (!ok)
				BAD("line %d: bad or repeated head", lineno);
			continue;
		}
		/* other lines: later fields of format 1, ignored */
		free(line);
	}
	if (lineno == 0)
		BAD("not a gymbackup checkpoint (format 1)");
	if (!k->site || !have_entries || !k->head[0] || !k->issued ||
	    !k->signer)
		BAD("incomplete checkpoint (site, entries, head, issued or "
		    "signer missing)");
	if ((k->entries == 0) != (strcmp(k->head, "0") == 0))
		BAD("head %s does not go with %lld entries", k->head, k->entries);
	return 0;
fail:
	gb_checkpoint_free(k);
	return -1;
}

int
gb_checkpoint_verify(struct gb_checkpoint *k, const char *text, size_t len,
    const char *pinned, char *err, size_t errlen)
{
	const char *block;
	char *q;
	size_t blen, qlen;
	int r;

	memset(k, 0, sizeof *k);
	if (gb_signed_verify("checkpoint", text, len, pinned, &q, &qlen, &block,
	    &blen, err, errlen) == -1)
		return -1;
	/* only what the signature covers is parsed */
	r = gb_checkpoint_parse(k, q, qlen, err, errlen);
	free(q);
	if (r == -1)
		return -1;
	k->signed_text = gb_strndup(block, blen);
	k->signed_len = blen;
	return 0;
}

void
gb_checkpoint_free(struct gb_checkpoint *k)
{
	free(k->site);
	free(k->issued);
	free(k->signer);
	free(k->medium);
	free(k->signed_text);
	memset(k, 0, sizeof *k);
}

int
gb_checkpoint_issue(struct gb_checkpoint *k, struct gb_catalog *c,
    const char *site, const char *signer, const char *medium, char *err,
    size_t errlen)
{
	gpgme_ctx_t g = gb_pgp_new();
	gpgme_key_t key;
	char now[21], why[512], *text;

	memset(k, 0, sizeof *k);
	if (!is_value(site)) {
		snprintf(err, errlen, "site %s: not one line of text", site);
		gpgme_release(g);
		return -1;
	}
	if (!(key = gb_pgp_key(g, signer, 's', why, sizeof why))) {
		snprintf(err, errlen, "cannot sign the checkpoint: %s", why);
		gpgme_release(g);
		return -1;
	}
	/* a checkpoint vouches only for what verifies of the trail */
	if (gb_catalog_audit_head(c, site, &k->entries, k->head, why,
	    sizeof why) == -1)
		gb_warnx("warning: catalog %s: audit trail broken: %s; the "
		    "checkpoint vouches for its %lld entries before that", c->path,
		    why, k->entries);
	gb_now(now);
	k->site = gb_strdup(site);
	k->issued = gb_strdup(now);
	k->signer = gb_strdup(key->fpr);
	k->medium = medium ? gb_strdup(medium) : NULL;
	text = gb_checkpoint_format(k);
	k->signed_text = gb_clearsign(g, key, "checkpoint", text,
	    &k->signed_len, err, errlen);
	free(text);
	gpgme_key_unref(key);
	gpgme_release(g);
	if (!k->signed_text) {
		gb_checkpoint_free(k);
		return -1;
	}
	return 0;
}

int
gb_checkpoint_check(struct gb_catalog *c, long long verified,
    const char *broken, const struct gb_checkpoint *k, char *why,
    size_t whylen)
{
	long long n = gb_catalog_audit_count(c, k->site);
	char hash[65];

	if (k->entries > n) {
		snprintf(why, whylen, "the audit trail has %lld entries, the "
		    "checkpoint %lld: entries were removed (truncated)", n,
		    k->entries);
		return -1;
	}
	/*
	 * The hash column of an entry is the chain's only where the chain
	 * verifies: past a break it says nothing of the entries before.
	 */
	if (k->entries > verified) {
		snprintf(why, whylen, "the trail does not verify up to entry "
		    "%lld: %s", k->entries, broken ? broken : "broken");
		return -1;
	}
	if (gb_catalog_audit_hash_at(c, k->site, k->entries, hash) == -1) {
		snprintf(why, whylen, "entry %lld is missing", k->entries);
		return -1;
	}
	if (strcmp(hash, k->head) != 0) {
		snprintf(why, whylen, "entry %lld has hash %.16s..., the "
		    "checkpoint %.16s...: the trail up to it was rewritten or "
		    "forked", k->entries, hash, k->head);
		return -1;
	}
	return 0;
}

static void
add_text(struct gb_cptext **v, size_t *n, char *text, size_t len, char *place)
{
	*v = gb_realloc(*v, (*n + 1) * sizeof **v);
	(*v)[*n].text = text;
	(*v)[*n].len = len;
	(*v)[*n].place = place;
	(*n)++;
}

/* Every checkpoint on a tape: after the seal in each seal's tape file. */
static int
read_tape(const char *media, struct gb_cptext **v, size_t *n, char *err,
    size_t errlen)
{
	struct gb_tape t;
	struct gb_tfile f;
	unsigned char *buf;
	int r = 0;

	if (gb_tape_open(&t, media, 0, 0) == -1) {
		snprintf(err, errlen, "cannot open the tape %s: %s", media,
		    strerror(errno));
		return -2;
	}
	buf = gb_malloc(GB_MAX_BLOCK);
	if (gb_tape_seek_file(&t, 1) == -1) {
		if (errno != ENODATA) {
			snprintf(err, errlen, "%s: cannot go to tape file 1: %s",
			    media, strerror(errno));
			r = -2;
		}
	} else
		for (int i = 1; gb_tfile_read(&t, buf, &f) == 0; i++) {
			if (f.ck) {
				add_text(v, n, f.ck, strlen(f.ck), gb_asprintf("%s "
				    "tape file %d", media, i));
				f.ck = NULL;
			}
			if (f.bad >= 0 && !f.lost)
				gb_warnx("warning: %s: damaged record at byte %lld "
				    "(tape file %d)", media, (long long)f.bad, i);
			r = f.lost ? -2 : 0;
			if (r)
				snprintf(err, errlen, "%s: damaged record at byte %lld "
				    "(tape file %d): nothing after it can be read",
				    media, (long long)f.bad, i);
			gb_tfile_free(&f);
			if (r)
				break;
		}
	free(buf);
	gb_tape_close(&t);
	return r;
}

int
gb_checkpoints_read(const char *path, struct gb_cptext **v, size_t *n,
    char *err, size_t errlen)
{
	struct stat sb;
	char *file, *text;
	size_t len;
	int r;

	if (gb_media_is_tape(path))
		return read_tape(path, v, n, err, errlen);
	if (stat(path, &sb) == -1) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -2;
	}
	file = S_ISDIR(sb.st_mode) ? gb_asprintf("%s/" GB_CHECKPOINT_FILE,
	    path) : gb_strdup(path);
	r = gb_signed_read("checkpoint", file, &text, &len, err, errlen);
	/* a medium written before checkpoints were: none on it */
	if (r == -2 && errno == ENOENT && S_ISDIR(sb.st_mode)) {
		free(file);
		return 0;
	}
	if (r != 0) {
		free(file);
		return r;
	}
	text = gb_realloc(text, len + 1);
	text[len] = '\0';
	add_text(v, n, text, len, file);
	return 0;
}

void
gb_cptexts_free(struct gb_cptext *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].text);
		free(v[i].place);
	}
	free(v);
}
