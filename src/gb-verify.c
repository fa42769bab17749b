/*
 * gb-verify - check sealed archives.  Seal level (the auditor's, public
 * keys only): the seal's signature by the pinned signer, then the sealed
 * file's size and SHA-256.  --deep (a recipient's secret key): decrypt,
 * check the inner signature, read every member and entry, and compare each
 * table's rows, SHA-256 and money sums with the MANIFEST and the seal;
 * SCHEMA.sql must be one gb-restore takes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gb.h"
#include "gb-db.h"
#include "gb-media.h"
#include "gb-pgp.h"

struct verify {
	const char *confpath;
	struct gb_conf conf;
	const char *signer;
	int deep, verbose;
	const char **media;	/* --media: arguments are names on these */
	size_t nmedia;
	struct gb_medium *medium;
	struct gb_catalog *c;	/* records checks of copies, if configured */
};

static void
usage(FILE *fp, int status)
{
	fprintf(fp, "usage: gb-verify [-qv] [-c conf] [--deep] [--signer fpr] "
	    "[--media media ...]\n"
	    "                 archive_or_seal ...\n");
	exit(status);
}

struct deep {
	struct verify *v;
	const struct gb_seal *s;
};

static int
deep_table(void *arg, size_t i, struct gb_unpack *u, char *err,
    size_t errlen)
{
	struct deep *d = arg;
	const struct gb_mtable *mt = &d->s->manifest.tables[i];
	int r = gb_check_table(mt, gb_unpack_read, u, -1, NULL, NULL, err,
	    errlen);

	if (r == 0 && d->v->verbose) {
		gb_progress_clear();
		fprintf(stderr, "gb-verify: %s: %s: %llu rows OK\n",
		    d->s->archive, mt->name, (unsigned long long)mt->rows);
	}
	return r;
}

/*
 * SCHEMA.sql: refused here whatever gb-restore would refuse into any
 * target; a PostgreSQL export that SQLite cannot hold is still good.
 */
static int
deep_small(void *arg, const char *name, const char *buf, size_t n,
    char *err, size_t errlen)
{
	struct deep *d = arg;

	if (strcmp(name, "SCHEMA.sql") != 0)
		return 0;
	return gb_schema_check(&d->s->manifest, buf, n, 0, err, errlen);
}

/*
 * Deep check of the content: 0 OK, 1 FAIL, NOT_RUN when gpg could not
 * decrypt for reasons of its own (not there, killed, silent): nothing is
 * known of the archive then.
 */
#define NOT_RUN 2
static int
deep(struct verify *v, const char *archive, const struct gb_seal *s,
    char *err, size_t errlen)
{
	struct deep d = { v, s };
	struct gb_walk w = { .small = deep_small, .table = deep_table,
	    .arg = &d };
	int r = gb_walk_archive(archive, s, v->signer, &w, err, errlen);

	return r == -3 ? NOT_RUN : r ? 1 : 0;
}

/* 0 OK, 1 FAIL, NOT_RUN (why in err). */
static int
verify_one(struct verify *v, const char *arg, char *name, size_t namelen,
    char *err, size_t errlen)
{
	char *sealpath = gb_seal_path(arg), *archive = gb_archive_path(arg);
	const char *base;
	struct gb_seal s;
	struct stat sb;
	char hex[65];
	uint64_t size;
	int r = 1;

	base = strrchr(archive, '/') ? strrchr(archive, '/') + 1 : archive;
	snprintf(name, namelen, "%s", base);
	if (strcmp(sealpath, archive) == 0) {
		snprintf(err, errlen, "not an archive (.tar.gz.gpg) or a seal "
		    "(.seal)");
		goto out;
	}
	if (gb_seal_load(&s, sealpath, v->signer, err, errlen) != 0)
		goto out;
	if (strcmp(s.archive, base) != 0) {
		snprintf(err, errlen, "the seal is of %s, not of this archive",
		    s.archive);
		goto out_seal;
	}
	if (stat(archive, &sb) == -1) {
		snprintf(err, errlen, "cannot read %s: %s", archive,
		    strerror(errno));
		goto out_seal;
	}
	if ((uint64_t)sb.st_size != s.size) {
		snprintf(err, errlen, "%lld bytes, the seal says %llu (truncated "
		    "or altered)", (long long)sb.st_size,
		    (unsigned long long)s.size);
		goto out_seal;
	}
	/*
	 * --deep hashes the bytes it decrypts as it reads them, and only
	 * those count: hashing the file first would prove nothing about
	 * what is read after.
	 */
	if (v->deep) {
		r = deep(v, archive, &s, err, errlen);
		goto out_seal;
	}
	gb_progress_start("checked", 0, s.size);
	if (gb_sha256_file(archive, hex, &size) == -1) {
		snprintf(err, errlen, "cannot read %s: %s", archive,
		    strerror(errno));
		goto out_seal;
	}
	if (strcmp(hex, s.sha256) != 0) {
		snprintf(err, errlen, "SHA-256 differs from the seal (altered)");
		goto out_seal;
	}
	r = 0;
out_seal:
	gb_seal_free(&s);
out:
	free(sealpath);
	free(archive);
	return r;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "deep", no_argument, NULL, 'D' },
		{ "signer", required_argument, NULL, 'S' },
		{ "media", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, GB_OPT_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	struct verify v = { 0 };
	const char *path;
	int c, failed = 0, notrun = 0;

	gb_setprogname(argv[0]);
	atexit(gb_close_stdout);
	while ((c = getopt_long(argc, argv, "c:hqv", longopts, NULL)) != -1)
		switch (c) {
		case 'c': v.confpath = optarg; break;
		case 'D': v.deep = 1; break;
		case 'S': v.signer = optarg; break;
		case 'M':
			v.media = gb_realloc(v.media, (v.nmedia + 1) *
			    sizeof *v.media);
			v.media[v.nmedia++] = optarg;
			break;
		case 'h': usage(stdout, GB_EXIT_OK); break;
		case 'q': gb_progress_quiet(); break;
		case 'v': v.verbose = 1; break;
		case GB_OPT_VERSION: gb_version();
		default: usage(stderr, GB_EXIT_USAGE);
		}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage(stderr, GB_EXIT_USAGE);
	path = gb_conf_open(&v.conf, v.confpath);
	if (!v.signer)
		v.signer = gb_conf_get(&v.conf, "keys", "signer");
	if (!v.signer || !*v.signer)
		gb_errx(GB_EXIT_USAGE, "no signer pinned: give --signer "
		    "FINGERPRINT or set signer in the [keys] section of the "
		    "config (any key in the keyring is not enough)");

	if (v.nmedia) {
		char err[1024];
		gb_cleanup_signals();
		v.medium = gb_calloc(v.nmedia, sizeof *v.medium);
		for (size_t k = 0; k < v.nmedia; k++)
			if (gb_medium_open(&v.medium[k], v.media[k], err,
			    sizeof err) == -1)
				gb_errx(GB_EXIT_RUN, "%s", err);
		/* a read-only catalog (an auditor's copy) still finds copies */
		if ((path = gb_catalog_path(&v.conf)) &&
		    (v.c = gb_catalog_open_as(path, gb_site_name(&v.conf),
		    GB_CATALOG_ANY))->readonly)
			gb_warnx("warning: catalog %s cannot be written: the "
			    "checks are not recorded", path);
	}
	for (int i = 0; i < argc; i++) {
		char name[256], err[1024], *archive = NULL;
		const char *on = NULL;
		int bad;
		if (v.nmedia && !(archive = gb_medium_find(v.medium, v.nmedia,
		    v.c, v.c ? v.c->site : NULL, argv[i], &on, err,
		    sizeof err))) {
			snprintf(name, sizeof name, "%s", argv[i]);
			bad = 1;
		} else
			bad = verify_one(&v, archive ? archive : argv[i], name,
			    sizeof name, err, sizeof err);
		gb_progress_end();
		if (bad == NOT_RUN) {
			printf("%s: NOT CHECKED: %s\n", name, err);
			notrun++;
		} else if (bad) {
			printf("%s: FAIL: %s\n", name, err);
			failed++;
		} else
			printf("%s: OK%s%s%s\n", name, v.deep ? " (deep)" : "",
			    on ? " on " : "", on ? on : "");
		fflush(stdout);
		/* a check that could not run says nothing of the copy */
		if (v.c && !v.c->readonly && archive && bad != NOT_RUN)
			gb_catalog_record_check(v.c, v.deep ? "deep-verify" :
			    "verify", name, on, !bad, bad ? err : NULL, NULL);
		free(archive);
	}
	for (size_t k = 0; k < v.nmedia; k++)
		gb_medium_close(&v.medium[k]);
	free(v.medium);
	free(v.media);
	gb_catalog_close(v.c);
	printf("%d checked, %d OK, %d failed", argc - notrun, argc - notrun -
	    failed, failed);
	if (notrun)
		printf(", %d not checked", notrun);
	printf("\n");
	gb_conf_free(&v.conf);
	/* a failure found outranks a check that could not run */
	return failed ? GB_EXIT_CHECK : notrun ? GB_EXIT_RUN : GB_EXIT_OK;
}
