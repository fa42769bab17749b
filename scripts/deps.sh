#!/bin/sh
# deps.sh [fuzz] - installs the Debian packages gymbackup needs to build,
# test, demo and benchmark (with "fuzz": also what make fuzz needs: clang
# and its libFuzzer runtime), when run as root; otherwise prints the
# apt-get line to run.
# chromium (and a CJK font for its screenshot): tests/report.bats loads
# the HTML report in a real browser.
PKGS="gcc make pkg-config libarchive-dev libgpgme-dev libgcrypt20-dev zlib1g-dev libisal-dev
libsqlite3-dev libpq-dev sqlite3 gnupg tar gzip libarchive-tools bats bats-assert
bats-support postgresql valgrind time restic chromium fonts-wqy-microhei"
[ "${1-}" = fuzz ] && PKGS="$PKGS clang libclang-rt-14-dev"
missing=
for p in $PKGS; do
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
