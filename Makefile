# gymbackup - see README.md and INSTALL.
PREFIX   = /usr/local
BINDIR   = $(PREFIX)/bin
MANDIR   = $(PREFIX)/share/man
DATADIR  = $(PREFIX)/share/gymbackup
DESTDIR  =

CC       = cc
CFLAGS   = -O2 -g
WARN     = -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
# make SANITIZE=1: AddressSanitizer and UBSan on every binary and test.
SANITIZE =
ifneq ($(SANITIZE),)
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
# The libraries, as pkg-config module:Debian package.  Their flags are
# asked for when the first compile needs them, once, not when make reads
# this file: make demo and make check install the packages (deps) first,
# and a module still missing then stops the build with its package's name.
PKGDEB   = libarchive:libarchive-dev gpgme:libgpgme-dev sqlite3:libsqlite3-dev \
           libpq:libpq-dev zlib:zlib1g-dev libisal:libisal-dev \
           libgcrypt:libgcrypt20-dev
PKGS     = $(foreach p,$(PKGDEB),$(firstword $(subst :, ,$(p))))
PKGCFLAGS = $(eval PKGCFLAGS := $(call pkgconfig,--cflags))$(PKGCFLAGS)
PKGLIBS   = $(eval PKGLIBS := $(call pkgconfig,--libs))$(PKGLIBS)
pkgconfig = $(eval pkgmiss := $(pkgmissing))$(if $(pkgmiss),$(error \
    $(if $(filter pkg-config:%,$(pkgmiss)),there is no pkg-config,pkg-config \
    cannot find $(foreach p,$(pkgmiss),$(firstword $(subst :, ,$(p))))): \
    install the Debian packages $(foreach p,$(pkgmiss),$(lastword \
    $(subst :, ,$(p)))) (make deps does, as root) and run make again),$(shell \
    pkg-config $(1) $(PKGS)))
pkgmissing = $(shell command -v pkg-config >/dev/null || \
    { echo pkg-config:pkg-config; exit; }; \
    for p in $(PKGDEB); do pkg-config --exists $${p%%:*} || echo $$p; done)
ALLCFLAGS = -std=gnu11 -D_GNU_SOURCE -Ilib $(PKGCFLAGS) $(WARN) $(SANFLAGS) $(CFLAGS)
# --as-needed: each tool links only the libraries it calls (gb-demodata
# no libgcrypt, gpgme or libpq), whatever the compiler's default.
LIBS      = lib/libgb.a -Wl,--as-needed $(PKGLIBS) -lpthread

LIBSRC = lib/audit.c lib/catalog.c lib/db.c lib/migrate.c lib/checkpoint.c lib/check.c lib/conf.c lib/job.c lib/csv.c lib/csvread.c \
         lib/cipher.c lib/err.c lib/gzip.c lib/gzread.c lib/io.c lib/out.c lib/manifest.c \
         lib/import.c lib/media.c lib/pg.c lib/pgp.c lib/report.c lib/restore-pg.c \
         lib/restore-sqlite.c lib/seal.c lib/sha256.c lib/sql.c lib/sqlite.c \
         lib/state.c lib/tape.c lib/tar.c lib/text.c lib/unpack.c lib/progress.c lib/workers.c \
         lib/gpg.c
LIBOBJ = $(LIBSRC:.c=.o)
TOOLS  = bin/gb-export bin/gb-pack bin/gb-seal bin/gb-verify bin/gb-restore bin/gb-catalog bin/gb-write bin/gb-demodata
UNIT   = tests/unit/test-lib
MAN1   = share/man/gb-export.1 share/man/gb-pack.1 share/man/gb-seal.1 \
         share/man/gb-verify.1 share/man/gb-restore.1 share/man/gb-catalog.1 \
         share/man/gb-write.1 share/man/gb-backup.1 \
         share/man/gb-demodata.1
MAN5   = share/man/gb-manifest.5 share/man/gb-seal.5 share/man/gb-checkpoint.5 \
         share/man/gymbackup.conf.5
MAN7   = share/man/gb.7

all: $(TOOLS)

lib/libgb.a: $(LIBOBJ)
	rm -f $@
	ar rcs $@ $(LIBOBJ)

HDRS   = lib/gb.h lib/gb-db.h lib/gb-media.h lib/gb-pgp.h
$(LIBOBJ): $(HDRS)
lib/catalog.o: lib/catalog-schema.inc

# SQL files of share/ as C string literals, so the tools need no data files.
SQL2C = sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/'
lib/catalog-schema.inc: share/catalog.sql
	$(SQL2C) share/catalog.sql > $@.tmp
	mv $@.tmp $@
bin/gb-demodata: src/gym-schema.inc
src/gym-schema.inc: share/gym-schema.sql
	$(SQL2C) share/gym-schema.sql > $@.tmp
	mv $@.tmp $@

.c.o:
	$(CC) $(ALLCFLAGS) -c -o $@ $<

bin/gb-%: src/gb-%.c lib/libgb.a $(HDRS)
	@mkdir -p bin
	$(CC) $(ALLCFLAGS) -o $@ $< $(LIBS) $(LDFLAGS)

$(UNIT): tests/unit/test-lib.c lib/libgb.a $(HDRS)
	$(CC) $(ALLCFLAGS) -o $@ tests/unit/test-lib.c $(LIBS) $(LDFLAGS)

# Installs the Debian packages the project needs when run as root,
# prints the exact apt-get line otherwise: make deps those to build and
# test; make demo, memcheck and bench each their own group (deps.sh).
deps:
	@sh scripts/deps.sh check

# The targets that install packages build only after deps has finished,
# in a make of their own (make -j would otherwise compile beside apt-get).
#
# Under the sanitizers the unit tests keep leak detection; the tools'
# error paths exit with memory still allocated, which is no leak worth a
# failed test, so the bats run checks memory errors only.  Leaks on the
# good path are checked by memcheck (valgrind).
#
# The catalog's tests run a second time with the catalog on PostgreSQL
# (tests/pgmode.sh: one throwaway cluster, a database per test).
PGMODE_TESTS = tests/catalog.bats tests/checkpoint.bats tests/import.bats \
	tests/report.bats
check: deps
	$(MAKE) all $(UNIT) $(REPLAY) $(FAULTSO) $(STDRIVESO)
	$(UNIT)
	$(if $(SANITIZE),ASAN_OPTIONS=detect_leaks=0) bats tests
	$(if $(SANITIZE),ASAN_OPTIONS=detect_leaks=0) bash tests/pgmode.sh $(PGMODE_TESTS)

memcheck:
	@sh scripts/deps.sh memcheck
	$(MAKE) all
	sh scripts/memcheck.sh

demo:
	@sh scripts/deps.sh demo
	$(MAKE) all
	sh scripts/demo.sh

bench:
	@sh scripts/deps.sh bench
	$(MAKE) all
	sh scripts/bench.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(DATADIR)
	install -m 755 $(TOOLS) bin/gb-backup $(DESTDIR)$(BINDIR)
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5
	install -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7
	install -m 644 share/gym-schema.sql share/gymbackup.conf share/crontab.example $(DESTDIR)$(DATADIR)

# ---- make fuzz: libFuzzer targets for the parsers of outside bytes ----
# tests/fuzz/fuzz-NAME.c, built with clang and the sanitizers into
# build/fuzz/.  Each runs FUZZ_SECONDS from its seeds: those committed in
# tests/fuzz/seed/NAME/ and those tests/fuzz/seeds.sh makes from a small
# run of the tools; any crash fails make fuzz and is kept in build/fuzz/.
# clang is installed for make fuzz only (scripts/deps.sh fuzz).  make check
# replays the committed seeds with gcc (tests/fuzz/replay-NAME).
FUZZ_SECONDS = 30
FUZZCC   = clang
FUZZDIR  = build/fuzz
FUZZ     = manifest seal checkpoint label conf csv gzip tape tar ddl scan
FUZZSAN  = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
           -fno-omit-frame-pointer
FUZZCFLAGS = -std=gnu11 -D_GNU_SOURCE -Ilib $(PKGCFLAGS) -g -O1 $(FUZZSAN)
FUZZOBJ  = $(LIBSRC:lib/%.c=$(FUZZDIR)/%.o)
FUZZBIN  = $(FUZZ:%=$(FUZZDIR)/fuzz-%)
REPLAY   = $(FUZZ:%=tests/fuzz/replay-%)

fuzz:
	@sh scripts/deps.sh fuzz
	$(MAKE) all $(FUZZBIN)
	sh tests/fuzz/run.sh $(FUZZDIR) $(FUZZ_SECONDS) $(FUZZ)

$(FUZZDIR)/%.o: lib/%.c $(HDRS)
	@mkdir -p $(FUZZDIR)
	$(FUZZCC) $(FUZZCFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(FUZZDIR)/catalog.o: lib/catalog-schema.inc
$(FUZZDIR)/libgb.a: $(FUZZOBJ)
	rm -f $@
	ar rcs $@ $(FUZZOBJ)
$(FUZZDIR)/fuzz-%: tests/fuzz/fuzz-%.c tests/fuzz/fuzz.h $(FUZZDIR)/libgb.a
	$(FUZZCC) $(FUZZCFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZDIR)/libgb.a \
	    $(PKGLIBS) -lpthread

tests/fuzz/replay-%: tests/fuzz/fuzz-%.c tests/fuzz/replay.c tests/fuzz/fuzz.h lib/libgb.a
	$(CC) $(ALLCFLAGS) -o $@ $< tests/fuzz/replay.c $(LIBS) $(LDFLAGS)

clean: clean-fuzz
clean-fuzz:
	rm -f $(REPLAY)
	rm -rf build
.PHONY: fuzz clean-fuzz
# ---- end of make fuzz ----

clean:
	rm -f $(LIBOBJ) lib/libgb.a $(TOOLS) $(UNIT) lib/catalog-schema.inc src/gym-schema.inc
	rm -rf demo

# The LD_PRELOAD libraries of the tests: the shim of the fault and kill -9
# tests (faults.bats, faulty) and the stand-in tape drive of the st(4)
# tests (stdrive.bats, stdrive in media-helper.bash), built plain: no
# sanitizer runtime in a preloaded library.
FAULTSO = tests/faultinject.so
STDRIVESO = tests/stdrive.so
$(FAULTSO) $(STDRIVESO): tests/%.so: tests/%.c
	$(CC) -std=gnu11 $(WARN) $(CFLAGS) -fPIC -shared -o $@ $< -ldl
clean: clean-preload
clean-preload:
	rm -f $(FAULTSO) $(STDRIVESO)
.PHONY: clean-preload

.PHONY: all deps check memcheck demo bench install clean
