#!/bin/sh
# memcheck.sh - the good path of every tool under valgrind: no memory
# error, no definite leak.  Run by `make memcheck` (and by CI).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/bin
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
export TMPDIR=$w GB_CATALOG=$w/catalog.db
unset GB_CONF
vg() {
	valgrind -q --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite --show-leak-kinds=definite "$@"
}
sh "$top/scripts/mkkeys.sh" "$w/keys" >/dev/null
. "$w/keys/keys.env"
printf '[keys]\nsigner = %s\nrecipients = %s %s\n' "$SIGNER" "$RCPT1" "$RCPT2" \
    > "$w/gb.conf"
export GB_CONF=$w/gb.conf
"$bin/gb-demodata" -n 3000 -o "$w/gym.db"
cd "$w"
echo "memcheck: gb-export"; vg "$bin/gb-export" -s "sqlite:$w/gym.db" -o exp
vg "$bin/gb-export" -s "sqlite:$w/gym.db" > exp.tar
echo "memcheck: gb-pack"; vg "$bin/gb-pack" exp > p.tgz
vg "$bin/gb-pack" -j 1 < exp.tar > /dev/null
echo "memcheck: gb-seal"
GNUPGHOME=$w/keys/backup vg "$bin/gb-seal" -o ./a p.tgz
mkdir usb
echo "memcheck: gb-write"
GNUPGHOME=$w/keys/backup vg "$bin/gb-write" --label U1 --pool p usb >/dev/null
GNUPGHOME=$w/keys/backup vg "$bin/gb-write" usb ./a >/dev/null
GNUPGHOME=$w/keys/backup vg "$bin/gb-write" --label T1 --pool t tape:t.tap >/dev/null
GNUPGHOME=$w/keys/backup vg "$bin/gb-write" tape:t.tap ./a >/dev/null
echo "memcheck: gb-verify"
GNUPGHOME=$w/keys/restore vg "$bin/gb-verify" --deep a.seal >/dev/null
GNUPGHOME=$w/keys/restore vg "$bin/gb-verify" --media tape:t.tap a >/dev/null
echo "memcheck: gb-restore"
GNUPGHOME=$w/keys/restore vg "$bin/gb-restore" -d "sqlite:$w/r.db" a.seal
GNUPGHOME=$w/keys/restore vg "$bin/gb-restore" --test a.seal >/dev/null
GNUPGHOME=$w/keys/restore vg "$bin/gb-restore" -o d a.seal
echo "memcheck: gb-catalog"
for c in "media list" archives copies due chain "expire --dry-run" log report \
    "audit --verify" "move U1 --to offsite --by memcheck"; do
	# shellcheck disable=SC2086
	vg "$bin/gb-catalog" $c >/dev/null
done
vg "$bin/gb-catalog" check >/dev/null || [ $? -eq 1 ]
echo "memcheck: no memory errors, no definite leaks"
