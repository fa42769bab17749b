#!/bin/sh
# deps.sh [GROUP...] - installs the Debian packages of the groups named
# (default: check) when run as root; otherwise prints the apt-get line to
# run.  Each make target asks for its own group, so that make demo needs
# no benchmark tool and make bench gets its yardsticks:
#   build     the compiler, make, pkg-config and the libraries (make)
#   demo      build, and what the tools and the demo call (make demo)
#   check     demo, bats, PostgreSQL for a throwaway cluster, GNU time,
#             chromium and a CJK font for tests/report.bats (the HTML
#             report in a real browser), strace for tests/restore.bats
#             (where SQLite makes its temporary files) (make check, make deps)
#   memcheck  demo and valgrind (make memcheck)
#   bench     demo, GNU time, PostgreSQL, restic (make bench)
#   fuzz      build, clang and its libFuzzer runtime (make fuzz)
BUILD="gcc make pkg-config libarchive-dev libgpgme-dev libgcrypt20-dev zlib1g-dev
libisal-dev libsqlite3-dev libpq-dev"
DEMO="$BUILD sqlite3 gnupg tar gzip libarchive-tools"
PKGS=
for g in ${@:-check}; do
	case $g in
	build) PKGS="$PKGS $BUILD" ;;
	demo) PKGS="$PKGS $DEMO" ;;
	check) PKGS="$PKGS $DEMO bats bats-assert bats-support postgresql time
		chromium fonts-wqy-microhei strace" ;;
	memcheck) PKGS="$PKGS $DEMO valgrind" ;;
	bench) PKGS="$PKGS $DEMO time postgresql restic" ;;
	fuzz) PKGS="$PKGS $BUILD clang libclang-rt-14-dev" ;;
	*)
		echo "deps: unknown group $g (build, demo, check, memcheck," \
		    "bench, fuzz)" >&2
		exit 2
		;;
	esac
done
missing=
for p in $PKGS; do
	case " $missing " in *" $p "*) continue ;; esac
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing
else
	echo "deps: missing Debian packages; run as root:" >&2
	echo "  apt-get install$missing" >&2
	exit 1
fi
