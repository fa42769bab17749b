/* pgp.c - OpenPGP through GPGME: contexts, key lookup, signature checks */
#include <ctype.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gb.h"
#include "gb-pgp.h"

gpgme_ctx_t
gb_pgp_new(void)
{
	static int ready;
	gpgme_ctx_t c;
	gpgme_error_t e;

	if (!ready) {
		setlocale(LC_CTYPE, "");
		gpgme_check_version(NULL);
		if ((e = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP)))
			gb_errx(GB_EXIT_RUN, "GnuPG is not usable: %s",
			    gpgme_strerror(e));
		ready = 1;
	}
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

int
gb_pgp_check_sigs(gpgme_ctx_t c, const char *pinned, char **fpr, char *err,
    size_t errlen)
{
	gpgme_verify_result_t vr = gpgme_op_verify_result(c);
	gpgme_signature_t s;
	gpgme_key_t named = NULL;
	int good = 0;

	/*
	 * An e-mail pins the one public key it names, by its fingerprint:
	 * the whole address, never a part of one (signer@ is not xsigner@).
	 */
	if (!is_fpr(pinned)) {
		gpgme_ctx_t lc = gb_pgp_new();
		char why[256], *pat;
		const char *addr = pinned;
		size_t n = strlen(pinned);
		if (n > 2 && addr[0] == '<' && addr[n - 1] == '>')
			addr++, n -= 2;
		if (n == 0 || !memchr(addr, '@', n) || memchr(addr, '<', n) ||
		    memchr(addr, '>', n)) {
			snprintf(err, errlen, "pinned signer %s: give a fingerprint "
			    "or an e-mail address", pinned);
			return -1;
		}
		/* <addr> asks GnuPG for that exact address */
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
		pinned = named->fpr;
	}

	if (!vr || !vr->signatures) {
		snprintf(err, errlen, "not signed");
		return -1;
	}
	for (s = vr->signatures; s; s = s->next) {
		gpgme_key_t k = NULL;
		int match = gb_pgp_fpr_eq(s->fpr, pinned);

		/* A signing subkey vouches for its primary key. */
		if (!match && s->fpr && gpgme_get_key(c, s->fpr, &k, 0) == 0)
			match = gb_pgp_fpr_eq(k->fpr, pinned);
		if (k)
			gpgme_key_unref(k);
		if (gpg_err_code(s->status) == GPG_ERR_NO_PUBKEY) {
			snprintf(err, errlen, "signed by unknown key %s (the "
			    "signer's public key is not in the keyring)",
			    s->fpr ? s->fpr : "?");
			goto bad;
		}
		if (gpg_err_code(s->status) == GPG_ERR_BAD_SIGNATURE) {
			snprintf(err, errlen, "BAD signature by %s", s->fpr ?
			    s->fpr : "?");
			goto bad;
		}
		if (s->summary & GPGME_SIGSUM_KEY_REVOKED) {
			snprintf(err, errlen, "signed by revoked key %s", s->fpr);
			goto bad;
		}
		/* An expired key still vouches for what it signed before. */
		if (gpg_err_code(s->status) != GPG_ERR_NO_ERROR &&
		    gpg_err_code(s->status) != GPG_ERR_KEY_EXPIRED &&
		    gpg_err_code(s->status) != GPG_ERR_SIG_EXPIRED) {
			snprintf(err, errlen, "signature by %s not valid: %s",
			    s->fpr ? s->fpr : "?", gpgme_strerror(s->status));
			goto bad;
		}
		if (!match) {
			snprintf(err, errlen, "signed by %s, not by the pinned "
			    "signer %s", s->fpr ? s->fpr : "?", pinned);
			goto bad;
		}
		good++;
		if (fpr && !*fpr)
			*fpr = gb_strdup(s->fpr);
	}
	if (named)
		gpgme_key_unref(named);
	return good ? 0 : -1;
bad:
	if (named)
		gpgme_key_unref(named);
	return -1;
}
