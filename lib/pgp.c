/* pgp.c - OpenPGP through GPGME: contexts, key lookup, signature checks */
#include <ctype.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gb.h"
#include "gb-pgp.h"

void
gb_pgp_init(void)
{
	static int ready;
	gpgme_error_t e;

	if (ready)
		return;
	setlocale(LC_CTYPE, "");
	gpgme_check_version(NULL);
	if ((e = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP)))
		gb_errx(GB_EXIT_RUN, "GnuPG is not usable: %s",
		    gpgme_strerror(e));
	ready = 1;
}

gpgme_ctx_t
gb_pgp_new(void)
{
	gpgme_ctx_t c;
	gpgme_error_t e;

	gb_pgp_init();
	if ((e = gpgme_new(&c)))
		gb_errx(GB_EXIT_RUN, "gpgme: %s", gpgme_strerror(e));
	gpgme_set_protocol(c, GPGME_PROTOCOL_OpenPGP);
	gpgme_set_armor(c, 0);
	/* Cron has no terminal: never wait for a passphrase prompt. */
	gpgme_set_pinentry_mode(c, GPGME_PINENTRY_MODE_ERROR);
	return c;
}

/* Fingerprints compare without spaces and case; a 0x prefix is allowed. */
int
gb_pgp_fpr_eq(const char *a, const char *b)
{
	if (!a || !b)
		return 0;
	if (strncasecmp(a, "0x", 2) == 0)
		a += 2;
	if (strncasecmp(b, "0x", 2) == 0)
		b += 2;
	for (;;) {
		while (*a == ' ')
			a++;
		while (*b == ' ')
			b++;
		if (!*a || !*b)
			return !*a && !*b;
		if (toupper((unsigned char)*a++) != toupper((unsigned char)*b++))
			return 0;
	}
}

/* Who a key is to a person: its first valid user ID, else its fingerprint. */
const char *
gb_pgp_uid(gpgme_key_t k)
{
	for (gpgme_user_id_t u = k->uids; u; u = u->next)
		if (!u->revoked && !u->invalid && u->uid && *u->uid)
			return u->uid;
	return k->uids && k->uids->uid ? k->uids->uid : k->fpr;
}

/*
 * An expired key, or its expired subkey for usage: the gpg commands that
 * extend them, where the secret key is ('*' would skip expired subkeys).
 */
static void
expired(char *err, size_t errlen, const char *role, const char *name,
    gpgme_key_t k, int usage, time_t when, const char *what)
{
	char day[21], cmd[1024] = "";
	size_t n = 0;
	int subs = 0;

	gb_fmt_time(day, when);
	day[10] = '\0';
	if (k->expired)
		n = (size_t)snprintf(cmd, sizeof cmd, "gpg --quick-set-expire "
		    "%s 2y", k->fpr);
	for (gpgme_subkey_t s = k->subkeys ? k->subkeys->next : NULL; s &&
	    n < sizeof cmd; s = s->next) {
		if (!s->expired || s->revoked || !s->fpr ||
		    !(usage == 'e' ? s->can_encrypt : s->can_sign))
			continue;
		if (!subs++)
			n += (size_t)snprintf(cmd + n, sizeof cmd - n, "%sgpg "
			    "--quick-set-expire %s 2y", n ? "; " : "", k->fpr);
		if (n < sizeof cmd)
			n += (size_t)snprintf(cmd + n, sizeof cmd - n, " %s",
			    s->fpr);
	}
	snprintf(err, errlen, "%s %s (%s): %s expired on %s; extend it where "
	    "its secret key is (%s), then %s; or name another key", role,
	    name, gb_pgp_uid(k), what, day, cmd, *role == 'r' ?
	    "import its public key here again" : "give its public key to "
	    "those who verify the archives");
}

static int
subkey_can(gpgme_key_t k, int usage)
{
	for (gpgme_subkey_t s = k->subkeys; s; s = s->next)
		if (!s->revoked && !s->expired && !s->disabled && !s->invalid &&
		    (usage == 'e' ? s->can_encrypt : s->can_sign) &&
		    (usage == 'e' || s->secret))
			return 1;
	return 0;
}

gpgme_key_t
gb_pgp_key(gpgme_ctx_t c, const char *name, int usage, char *err,
    size_t errlen)
{
	gpgme_key_t k = NULL, other = NULL;
	gpgme_error_t e;
	const char *role = usage == 'e' ? "recipient" : usage == 's' ?
	    "signer" : "pinned signer";

	e = gpgme_op_keylist_start(c, name, usage == 's');
	if (!e)
		e = gpgme_op_keylist_next(c, &k);
	if (!e && gpgme_op_keylist_next(c, &other) == 0) {
		gpgme_key_unref(other);
		gpgme_key_unref(k);
		gpgme_op_keylist_end(c);
		snprintf(err, errlen, "%s %s: more than one key matches; name "
		    "it by fingerprint", role, name);
		return NULL;
	}
	gpgme_op_keylist_end(c);
	if (e || !k) {
		snprintf(err, errlen, "%s %s: no %s key in the keyring%s", role,
		    name, usage == 's' ? "secret" : "public", usage == 'e' ?
		    "; import the recipient's public key" : usage == 's' ?
		    "; the signing host needs the signer's secret key" :
		    "; import the signer's public key");
		return NULL;
	}
	if (usage == 'v')	/* its signatures are judged one by one */
		return k;
	if (k->expired && !k->revoked && k->subkeys) {
		expired(err, errlen, role, name, k, usage, k->subkeys->expires,
		    "the key");
		gpgme_key_unref(k);
		return NULL;
	}
	if (k->revoked || k->disabled || k->invalid) {
		snprintf(err, errlen, "%s %s (%s): the key is %s; name another "
		    "key", role, name, gb_pgp_uid(k), k->revoked ? "revoked" :
		    k->disabled ? "disabled" : "invalid");
		gpgme_key_unref(k);
		return NULL;
	}
	if (!subkey_can(k, usage)) {
		gpgme_subkey_t s;
		for (s = k->subkeys; s; s = s->next)
			if (s->expired && !s->revoked && (usage == 'e' ?
			    s->can_encrypt : s->can_sign))
				break;
		if (s)
			expired(err, errlen, role, name, k, usage, s->expires,
			    usage == 'e' ? "its encryption subkey" :
			    "its signing subkey");
		else
			snprintf(err, errlen, "%s %s (%s): no valid subkey "
			    "that can %s%s; add one, or name another key", role,
			    name, gb_pgp_uid(k), usage == 'e' ? "encrypt" :
			    "sign", usage == 's' ?
			    " here (the secret key is needed)" : "");
		gpgme_key_unref(k);
		return NULL;
	}
	return k;
}

char *
gb_pgp_sign_why(gpgme_error_t e, gpgme_key_t signer)
{
	gpgme_subkey_t s;

	switch (gpg_err_code(e)) {
	case GPG_ERR_NO_PIN_ENTRY:
	case GPG_ERR_NO_PASSPHRASE:
	case GPG_ERR_BAD_PASSPHRASE:
	case GPG_ERR_CANCELED:
		break;
	default:
		return gb_strdup(gpgme_strerror(e));
	}
	for (s = signer->subkeys; s; s = s->next)
		if (s->can_sign && !s->expired && !s->revoked && s->keygrip)
			break;
	return gb_asprintf("signer %s (%s): its secret key has a passphrase, "
	    "and no one is here to type it (%s); give it to gpg-agent ahead: "
	    "allow-preset-passphrase in gpg-agent.conf, gpgconf --launch "
	    "gpg-agent, then $(gpgconf --list-dirs libexecdir)/"
	    "gpg-preset-passphrase --preset %s reading the passphrase; or "
	    "sign with a key without one (gb-seal(1))",
	    signer->fpr, gb_pgp_uid(signer), gpgme_strerror(e),
	    s ? s->keygrip : "KEYGRIP");
}

static int
is_fpr(const char *s)
{
	size_t n = 0;

	if (strncasecmp(s, "0x", 2) == 0)
		s += 2;
	for (; *s; s++)
		if (isxdigit((unsigned char)*s))
			n++;
		else if (*s != ' ')
			return 0;
	return n == 40 || n == 64;
}

/* A user ID of k with exactly this e-mail address (case aside). */
static int
uid_has_email(gpgme_key_t k, const char *addr, size_t n)
{
	for (gpgme_user_id_t u = k->uids; u; u = u->next)
		if (!u->revoked && !u->invalid && u->email &&
		    strlen(u->email) == n && strncasecmp(u->email, addr, n) == 0)
			return 1;
	return 0;
}

/*
 * The fingerprint the pinned signer names, into out: a fingerprint as
 * given; an e-mail pins the one public key it names, by its fingerprint:
 * the whole address, never a part of one (signer@ is not xsigner@).
 */
static int
pinned_fpr(const char *pinned, char *out, size_t outlen, char *err,
    size_t errlen)
{
	gpgme_ctx_t lc;
	gpgme_key_t named;
	char why[256], *pat;
	const char *addr = pinned;
	size_t n = strlen(pinned);

	if (is_fpr(pinned)) {
		snprintf(out, outlen, "%s", pinned);
		return 0;
	}
	if (n > 2 && addr[0] == '<' && addr[n - 1] == '>')
		addr++, n -= 2;
	if (n == 0 || !memchr(addr, '@', n) || memchr(addr, '<', n) ||
	    memchr(addr, '>', n)) {
		snprintf(err, errlen, "pinned signer %s: give a fingerprint or "
		    "an e-mail address", pinned);
		return -1;
	}
	/* <addr> asks GnuPG for that exact address */
	lc = gb_pgp_new();
	pat = gb_asprintf("<%.*s>", (int)n, addr);
	named = gb_pgp_key(lc, pat, 'v', why, sizeof why);
	gpgme_release(lc);
	free(pat);
	if (named && !uid_has_email(named, addr, n)) {
		gpgme_key_unref(named);
		named = NULL;
		snprintf(why, sizeof why, "pinned signer %s: no key with "
		    "exactly that address in the keyring", pinned);
	}
	if (!named) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	snprintf(out, outlen, "%s", named->fpr);
	gpgme_key_unref(named);
	return 0;
}

/*
 * One signature against the pinned fingerprint; the primary key is asked
 * of c only when the signing key is not the pinned one itself.
 */
static int
judge_sig(struct gb_pgp_sig *s, gpgme_ctx_t c, const char *pinned,
    char *err, size_t errlen)
{
	gpgme_key_t k = NULL;
	int match = gb_pgp_fpr_eq(s->fpr, pinned);

	/* A signing subkey vouches for its primary key. */
	if (!match && !*s->primary && c && gpgme_get_key(c, s->fpr, &k, 0) == 0)
		snprintf(s->primary, sizeof s->primary, "%s", k->fpr);
	if (k)
		gpgme_key_unref(k);
	match = match || gb_pgp_fpr_eq(s->primary, pinned);
	switch (gpg_err_code(s->status)) {
	case GPG_ERR_NO_PUBKEY:
		snprintf(err, errlen, "signed by unknown key %s (the signer's "
		    "public key is not in the keyring)", s->fpr);
		return -1;
	case GPG_ERR_BAD_SIGNATURE:
		snprintf(err, errlen, "BAD signature by %s", s->fpr);
		return -1;
	case GPG_ERR_CERT_REVOKED:
		snprintf(err, errlen, "signed by revoked key %s", s->fpr);
		return -1;
	/* An expired key still vouches for what it signed before. */
	case GPG_ERR_NO_ERROR:
	case GPG_ERR_KEY_EXPIRED:
	case GPG_ERR_SIG_EXPIRED:
		break;
	default:
		snprintf(err, errlen, "signature by %s not valid: %s", s->fpr,
		    gpgme_strerror(s->status));
		return -1;
	}
	if (!match) {
		snprintf(err, errlen, "signed by %s, not by the pinned signer %s",
		    s->fpr, pinned);
		return -1;
	}
	return 0;
}

/* Exactly one signature, and that one good and the pinned signer's. */
static int
judge_sigs(struct gb_pgp_sig *sigs, size_t n, size_t total, gpgme_ctx_t c,
    const char *pinned, char *err, size_t errlen)
{
	char fpr[128];

	if (pinned_fpr(pinned, fpr, sizeof fpr, err, errlen) == -1)
		return -1;
	if (total == 0) {
		snprintf(err, errlen, "not signed");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (judge_sig(&sigs[i], c, fpr, err, errlen) == -1)
			return -1;
	if (total != 1) {
		snprintf(err, errlen, "signed %zu times, where one signature "
		    "by the signer is expected", total);
		return -1;
	}
	return 0;
}

int
gb_pgp_check_sigs(gpgme_ctx_t c, const char *pinned, char *err,
    size_t errlen)
{
	gpgme_verify_result_t vr = gpgme_op_verify_result(c);
	struct gb_pgp_sig sigs[GB_PGP_SIGS];
	size_t n = 0, total = 0;

	for (gpgme_signature_t s = vr ? vr->signatures : NULL; s; s = s->next) {
		struct gb_pgp_sig *g = &sigs[n];
		if (total++ >= GB_PGP_SIGS)
			continue;
		n++;
		snprintf(g->fpr, sizeof g->fpr, "%s", s->fpr ? s->fpr : "?");
		*g->primary = '\0';
		g->status = s->status;
		if ((s->summary & GPGME_SIGSUM_KEY_REVOKED) &&
		    gpg_err_code(s->status) != GPG_ERR_NO_PUBKEY &&
		    gpg_err_code(s->status) != GPG_ERR_BAD_SIGNATURE)
			g->status = gpg_error(GPG_ERR_CERT_REVOKED);
	}
	return judge_sigs(sigs, n, total, c, pinned, err, errlen);
}

/* The word after n words of a status line, up to the next space. */
void
gb_pgp_word(char *dst, size_t len, const char *line, int n)
{
	size_t k;

	while (n-- > 0 && (line = strchr(line, ' ')))
		line++;
	if (!line) {
		*dst = '\0';
		return;
	}
	k = strcspn(line, " ");
	snprintf(dst, len, "%.*s", (int)k, line);
}

static int
keyword(const char *line, const char *kw)
{
	size_t n = strlen(kw);

	return strncmp(line, kw, n) == 0 && (line[n] == ' ' || !line[n]);
}

/*
 * As GPGME reads them: each signature's one result line (GOODSIG,
 * EXPSIG, EXPKEYSIG, REVKEYSIG, BADSIG, ERRSIG), the VALIDSIG after a
 * valid one with the signing key's and its primary key's fingerprints.
 */
void
gb_pgp_status_line(struct gb_pgp_status *st, const char *line)
{
	static const struct { const char *kw; gpg_err_code_t code; } res[] = {
		{ "GOODSIG", GPG_ERR_NO_ERROR },
		{ "EXPSIG", GPG_ERR_SIG_EXPIRED },
		{ "EXPKEYSIG", GPG_ERR_KEY_EXPIRED },
		{ "REVKEYSIG", GPG_ERR_CERT_REVOKED },
		{ "BADSIG", GPG_ERR_BAD_SIGNATURE },
		{ "ERRSIG", GPG_ERR_GENERAL },
	};
	struct gb_pgp_sig *g = st->nsigs > 0 && st->nsigs <= GB_PGP_SIGS ?
	    &st->sigs[st->nsigs - 1] : NULL;
	char w[32];

	st->said = 1;
	for (size_t i = 0; i < sizeof res / sizeof *res; i++) {
		if (!keyword(line, res[i].kw))
			continue;
		if (st->nsigs++ >= GB_PGP_SIGS)
			return;
		g = &st->sigs[st->nsigs - 1];
		gb_pgp_word(g->fpr, sizeof g->fpr, line, 1);
		*g->primary = '\0';
		g->status = gpg_error(res[i].code);
		if (res[i].code == GPG_ERR_GENERAL) {
			/* ERRSIG KEYID ALGO HASH CLASS TIME RC [FPR] */
			gb_pgp_word(w, sizeof w, line, 6);
			g->status = gpg_error(strcmp(w, "9") == 0 ?
			    GPG_ERR_NO_PUBKEY : strcmp(w, "4") == 0 ?
			    GPG_ERR_UNSUPPORTED_ALGORITHM : GPG_ERR_GENERAL);
			gb_pgp_word(w, sizeof w, line, 7);
			if (*w && strcmp(w, "-") != 0)
				gb_pgp_word(g->fpr, sizeof g->fpr, line, 7);
		}
		if (!*g->fpr)
			snprintf(g->fpr, sizeof g->fpr, "?");
		return;
	}
	if (keyword(line, "VALIDSIG") && g) {
		gb_pgp_word(g->fpr, sizeof g->fpr, line, 1);
		gb_pgp_word(g->primary, sizeof g->primary, line, 10);
	} else if (keyword(line, "DECRYPTION_OKAY"))
		st->decrypted = 1;
	else if (keyword(line, "DECRYPTION_FAILED"))
		st->failed = 1;
	else if (keyword(line, "NO_SECKEY"))
		st->no_seckey = 1;
	else if (keyword(line, "NODATA"))
		st->nodata = 1;
	else if ((keyword(line, "FAILURE") || keyword(line, "ERROR")) &&
	    !st->failure) {
		gb_pgp_word(w, sizeof w, line, 2);
		st->failure = (gpgme_error_t)strtoul(w, NULL, 10);
	}
}

gpgme_error_t
gb_pgp_status_decrypt(const struct gb_pgp_status *st)
{
	if (st->decrypted && !st->failed)
		return 0;
	if (st->no_seckey && !st->decrypted)
		return gpg_error(GPG_ERR_NO_SECKEY);
	if (st->failed)
		return gpg_error(GPG_ERR_DECRYPT_FAILED);
	if (st->failure)
		return st->failure;
	return gpg_error(st->nodata ? GPG_ERR_NO_DATA : GPG_ERR_DECRYPT_FAILED);
}

int
gb_pgp_status_sigs(struct gb_pgp_status *st, const char *pinned, char *err,
    size_t errlen)
{
	return judge_sigs(st->sigs, st->nsigs < GB_PGP_SIGS ? st->nsigs :
	    GB_PGP_SIGS, st->nsigs, NULL, pinned, err, errlen);
}
