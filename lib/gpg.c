/*
 * gpg.c - gpg run as a child, its stdin, stdout, stderr and status lines
 * on pipes of their own: what gb-seal encrypts and signs through, and
 * what reads sealed archives back (unpack.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gb.h"
#include "gb-pgp.h"

extern char **environ;

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
	struct sigaction sa;
	sigset_t none, dfl;
	const char *path = "gpg";
	size_t n = 0;
	pid_t pid = -1;
	int e;

	gb_pgp_init();
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
	/*
	 * A SIGCHLD ignored by whoever started us (it stays ignored through
	 * exec) has the kernel reap gpg unasked: its exit would be lost.
	 */
	if (sigaction(SIGCHLD, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
		signal(SIGCHLD, SIG_DFL);
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
	int failed = 0, out_eof = !io->out, st_eof = 0, er_eof = 0;
	int stopped = 0, status;
	struct gpg_lines *l = gb_calloc(2, sizeof *l);	/* stderr, status */
	unsigned char *ib = NULL, *ob = NULL;
	size_t ilen = 0, ioff = 0, olen = 0;
	sigset_t pipeset, pending, old;
	pid_t pid, w;

	*err = '\0';
	if (pipe2(to, O_CLOEXEC) == -1 || (io->out && pipe2(from,
	    O_CLOEXEC) == -1) || pipe2(st, O_CLOEXEC) == -1 ||
	    pipe2(er, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "cannot make a pipe: %s", strerror(errno));
		failed = -2;
		goto out;
	}
	if ((pid = gpg_spawn(args, (int[4]){ to[0], io->out ? from[1] :
	    io->outfd, er[1], st[1] }, err, errlen)) == -1) {
		failed = -2;
		goto out;
	}
	close(to[0]);
	close(st[1]);
	close(er[1]);
	to[0] = st[1] = er[1] = -1;
	if (io->out) {
		close(from[1]);
		from[1] = -1;
		(void)fcntl(from[0], F_SETPIPE_SZ, 1 << 20);
		(void)fcntl(from[0], F_SETFL, O_NONBLOCK);
		ob = gb_malloc(GPG_BUF);
	}
	(void)fcntl(to[1], F_SETPIPE_SZ, 1 << 20);
	(void)fcntl(to[1], F_SETFL, O_NONBLOCK);
	(void)fcntl(st[0], F_SETFL, O_NONBLOCK);
	(void)fcntl(er[0], F_SETFL, O_NONBLOCK);
	ib = gb_malloc(GPG_BUF);
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
				failed = -2;
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
			failed = -2;
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
				failed = -2;
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
	while ((w = waitpid(pid, &status, 0)) == -1 && errno == EINTR)
		;
	if (!failed && w == -1) {
		snprintf(err, errlen, "cannot wait for gpg: %s", strerror(errno));
		failed = -2;
	} else if (!failed && WIFSIGNALED(status)) {
		snprintf(err, errlen, "gpg killed by signal %d%s%s",
		    WTERMSIG(status), *l->last ? ": " : "", l->last);
		failed = -2;
	} else if (!failed && !(WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0)) {
		snprintf(err, errlen, "gpg exited %d%s%s", WEXITSTATUS(status),
		    *l->last ? ": " : "", l->last);
		failed = -1;
	} else if (!failed && (stopped || to[1] >= 0)) {
		/* its output cannot hold all of the input */
		snprintf(err, errlen, "gpg stopped reading its input");
		failed = -1;
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
	return failed;
}
