/* pgp.c - OpenPGP through GPGME: contexts, key lookup, signature checks */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gb.h"
#include "gb-pgp.h"

extern char **environ;

static void
pgp_init(void)
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

	pgp_init();
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

/*
 * gb_gpg_run: GPGME moves a stream through gpg in 4 KiB pieces, with a
 * poll(2) for each (on the reference gym gb-seal took 1.6 times as long
 * as gpg alone); here the pipes hold 1 MiB and are read and written in
 * pieces of up to GPG_BUF.  The gpg is GPGME's own (its engine info), so
 * that both see the same keyring.
 */
#define GPG_BUF (256u << 10)
#define GPG_FIXED_ARGS 16

struct gpg_lines {
	char buf[1024];		/* a line being read; longer ones are cut */
	size_t len;
	char last[256];		/* gpg's last message (its stderr) */
};

/*
 * A whole line: from the status fd each is a status line; from stderr
 * each is a message, never a status line, whatever it says (a key's
 * user id or a file name may be in it).
 */
static void
gpg_line(struct gpg_lines *l, int status, const struct gb_gpg_io *io)
{
	l->buf[l->len] = '\0';
	if (status) {
		if (strncmp(l->buf, "[GNUPG:] ", 9) == 0 && io->status)
			io->status(io->arg, l->buf + 9);
	} else if (l->len > 0) {
		size_t n = l->len < sizeof l->last ? l->len : sizeof l->last - 1;
		memcpy(l->last, l->buf, n);
		l->last[n] = '\0';
	}
	l->len = 0;
}

/* Reads what fd has into lines; 1 at its end. */
static int
gpg_lines(struct gpg_lines *l, int fd, int status, const struct gb_gpg_io *io)
{
	char sb[4096];
	ssize_t r;

	if ((r = read(fd, sb, sizeof sb)) < 0)
		return errno != EAGAIN && errno != EINTR;
	if (r == 0) {
		if (l->len)
			gpg_line(l, status, io);
		return 1;
	}
	for (const char *p = sb; p < sb + r; p++)
		if (*p == '\n')
			gpg_line(l, status, io);
		else if (l->len < sizeof l->buf - 1)
			l->buf[l->len++] = *p;
	return 0;
}

/* gpg's status fd: its own, so that no message on stderr is read as one */
#define GPG_STATUS_FD 3
#define GPG_STATUS_FD_ARG "3"

static pid_t
gpg_spawn(const char *const *args, int fds[4], char *err, size_t errlen)
{
	const char **argv;
	gpgme_engine_info_t info = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	const char *path = "gpg";
	size_t n = 0;
	pid_t pid = -1;
	int e;

	pgp_init();
	for (const char *const *a = args; *a; a++)
		n++;
	argv = gb_calloc(n + GPG_FIXED_ARGS, sizeof *argv);
	n = 0;
	if (gpgme_get_engine_info(&info) == 0)
		for (; info; info = info->next)
			if (info->protocol == GPGME_PROTOCOL_OpenPGP) {
				if (info->file_name)
					path = info->file_name;
				break;
			}
	argv[n++] = path;
	if (info && info->home_dir) {
		argv[n++] = "--homedir";
		argv[n++] = info->home_dir;
	}
	argv[n++] = "--batch";
	argv[n++] = "--no-tty";
	argv[n++] = "--status-fd";
	argv[n++] = GPG_STATUS_FD_ARG;
	argv[n++] = "--exit-on-status-write-error";
	argv[n++] = "--pinentry-mode";
	argv[n++] = "error";
	while (*args)
		argv[n++] = *args++;
	argv[n] = NULL;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_adddup2(&fa, fds[2], 2);
	posix_spawn_file_actions_adddup2(&fa, fds[3], GPG_STATUS_FD);
	/* gpg starts with no signal blocked or ignored (GPGME ignores SIGPIPE) */
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGHUP);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	if ((e = posix_spawnp(&pid, path, &fa, &at, (char *const *)argv,
	    environ))) {
		snprintf(err, errlen, "cannot run %s: %s", path, strerror(e));
		pid = -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	free(argv);
	return pid;
}

int
gb_gpg_run(const char *const *args, const struct gb_gpg_io *io, char *err,
    size_t errlen)
{
	int to[2] = { -1, -1 }, from[2] = { -1, -1 }, st[2] = { -1, -1 };
	int er[2] = { -1, -1 };
	int failed = 0, out_eof = 0, st_eof = 0, er_eof = 0, stopped = 0;
	int status;
	struct gpg_lines *l = gb_calloc(2, sizeof *l);	/* stderr, status */
	unsigned char *ib = NULL, *ob = NULL;
	size_t ilen = 0, ioff = 0, olen = 0;
	sigset_t pipeset, pending, old;
	pid_t pid;

	*err = '\0';
	if (pipe2(to, O_CLOEXEC) == -1 || pipe2(from, O_CLOEXEC) == -1 ||
	    pipe2(st, O_CLOEXEC) == -1 || pipe2(er, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "cannot make a pipe: %s", strerror(errno));
		failed = 1;
		goto out;
	}
	if ((pid = gpg_spawn(args, (int[4]){ to[0], from[1], er[1], st[1] },
	    err, errlen)) == -1) {
		failed = 1;
		goto out;
	}
	close(to[0]);
	close(from[1]);
	close(st[1]);
	close(er[1]);
	to[0] = from[1] = st[1] = er[1] = -1;
	(void)fcntl(to[1], F_SETPIPE_SZ, 1 << 20);
	(void)fcntl(from[0], F_SETPIPE_SZ, 1 << 20);
	(void)fcntl(to[1], F_SETFL, O_NONBLOCK);
	(void)fcntl(from[0], F_SETFL, O_NONBLOCK);
	(void)fcntl(st[0], F_SETFL, O_NONBLOCK);
	(void)fcntl(er[0], F_SETFL, O_NONBLOCK);
	ib = gb_malloc(GPG_BUF);
	ob = gb_malloc(GPG_BUF);
	/*
	 * A gpg that stops reading (it refused a key) is an EPIPE here, and
	 * its exit tells why: SIGPIPE is held off and taken back below.
	 */
	sigemptyset(&pipeset);
	sigaddset(&pipeset, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipeset, &old);
	while (!out_eof || !st_eof || !er_eof) {
		struct pollfd p[4];
		ssize_t r;

		if (to[1] >= 0 && ioff == ilen) {
			if ((r = io->in(io->arg, ib, GPG_BUF)) < 0) {
				failed = 1;
				break;
			}
			ilen = (size_t)r;
			ioff = 0;
			if (r == 0) {
				close(to[1]);
				to[1] = -1;
			}
		}
		p[0] = (struct pollfd){ .fd = to[1], .events = POLLOUT };
		p[1] = (struct pollfd){ .fd = out_eof ? -1 : from[0],
		    .events = POLLIN };
		p[2] = (struct pollfd){ .fd = st_eof ? -1 : st[0],
		    .events = POLLIN };
		p[3] = (struct pollfd){ .fd = er_eof ? -1 : er[0],
		    .events = POLLIN };
		if (poll(p, 4, -1) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "poll: %s", strerror(errno));
			failed = 1;
			break;
		}
		if (p[0].revents) {
			if ((r = write(to[1], ib + ioff, ilen - ioff)) > 0)
				ioff += (size_t)r;
			else if (errno != EAGAIN && errno != EINTR) {
				close(to[1]);	/* gpg's exit says why */
				to[1] = -1;
				stopped = 1;
			}
		}
		/* out gets whole pieces: the disk sees big writes */
		if (p[1].revents) {
			if ((r = read(from[0], ob + olen, GPG_BUF - olen)) > 0)
				olen += (size_t)r;
			else if (r == 0 || (errno != EAGAIN && errno != EINTR))
				out_eof = 1;
			if ((olen == GPG_BUF || (out_eof && olen > 0)) &&
			    io->out(io->arg, ob, olen) == -1) {
				failed = 1;
				break;
			}
			if (olen == GPG_BUF || out_eof)
				olen = 0;
		}
		if (p[2].revents && gpg_lines(&l[1], st[0], 1, io))
			st_eof = 1;
		if (p[3].revents && gpg_lines(&l[0], er[0], 0, io))
			er_eof = 1;
	}
	if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
		sigtimedwait(&pipeset, NULL, &(struct timespec){ 0, 0 });
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (failed)
		kill(pid, SIGTERM);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (!failed && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		char how[32];
		if (WIFEXITED(status))
			snprintf(how, sizeof how, "exited %d", WEXITSTATUS(status));
		else
			snprintf(how, sizeof how, "killed by signal %d",
			    WTERMSIG(status));
		snprintf(err, errlen, "gpg %s%s%s", how, *l->last ? ": " : "",
		    l->last);
		failed = 1;
	} else if (!failed && (stopped || to[1] >= 0)) {
		/* its output cannot hold all of the input */
		snprintf(err, errlen, "gpg stopped reading its input");
		failed = 1;
	}
out:
	for (int i = 0; i < 2; i++) {
		if (to[i] >= 0)
			close(to[i]);
		if (from[i] >= 0)
			close(from[i]);
		if (st[i] >= 0)
			close(st[i]);
		if (er[i] >= 0)
			close(er[i]);
	}
	free(ib);
	free(ob);
	free(l);
	return failed ? -1 : 0;
}
