#!/bin/sh
# seeds.sh DIR - seed corpora for make fuzz from a small run of the real
# tools (bin/, make all first): DIR/NAME/ for each fuzz target, made of
# what the parsers meet outside: a MANIFEST, its CSVs, packed archives,
# the signed text of a seal, labels, a tape image, configs.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/bin
out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)
w=$out/work
rm -rf "$w"
mkdir -p "$w"
chmod 700 "$w"
cleanup() {
	for k in all backup restore auditor; do
		[ ! -d "$w/keys/$k" ] ||
			gpgconf --homedir "$w/keys/$k" --kill gpg-agent 2>/dev/null || true
	done
	rm -rf "$w"
}
trap cleanup EXIT
export TMPDIR="$w" GB_CATALOG="$w/catalog.db"
unset GB_CONF
# le32 N: N as 4 bytes, little-endian; record FILE: FILE as one record of
# a tape image (gb_tape_read).
le32() {
	printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($1 & 255)) \
	    $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)))"
}
record() {
	n=$(wc -c <"$1")
	le32 "$n"
	cat "$1"
	[ $((n % 2)) = 0 ] || printf '\000'
	le32 "$n"
}
for t in manifest seal checkpoint label conf csv gzip tape tar ddl scan; do
	rm -rf "${out:?}/$t"
	mkdir "$out/$t"
done

sh "$top/scripts/mkkeys.sh" "$w/keys" >/dev/null
. "$w/keys/keys.env"
printf '[keys]\nsigner = %s\nrecipients = %s %s\n[pool daily]\n[pool weekly]\n' \
    "$SIGNER" "$RCPT1" "$RCPT2" >"$w/gb.conf"
export GB_CONF="$w/gb.conf"
"$bin/gb-demodata" -s 7 -n 30 -o "$w/gym.db"
"$bin/gb-export" -s "sqlite:$w/gym.db" -j fuzz -o "$w/set"
cp "$w/set/MANIFEST" "$out/manifest/demo"
{ printf '\000'; cat "$w/set/SCHEMA.sql"; } >"$out/ddl/sqlite"	# byte 0: dialect
for f in "$w"/set/*.csv; do
	cp "$f" "$out/csv/${f##*/}"
done
"$bin/gb-pack" -l 1 "$w/set" >"$w/p1.tgz"	# ISA-L members
"$bin/gb-pack" -l 6 -j 1 "$w/set" >"$w/p6.tgz"	# zlib members
cp "$w/p1.tgz" "$out/tar/pack-l1"
cp "$w/p6.tgz" "$out/tar/pack-l6"
gzip -dc "$w/p1.tgz" >"$out/tar/plain"	# gzipped by the target
cp "$w/p1.tgz" "$out/gzip/pack-l1"
cp "$w/p6.tgz" "$out/gzip/pack-l6"
gzip -9 -c "$w/set/MANIFEST" >"$out/gzip/gzip"
GNUPGHOME=$w/keys/backup "$bin/gb-seal" -o "$w/a" "$w/p1.tgz"
gpg --homedir "$w/keys/restore" --batch --quiet --decrypt "$w/a.seal" \
    >"$out/seal/demo" 2>/dev/null
mkdir "$w/usb"
GNUPGHOME=$w/keys/backup "$bin/gb-write" --label U1 --pool daily "$w/usb" >/dev/null
GNUPGHOME=$w/keys/backup "$bin/gb-write" --label T1 --pool weekly tape:"$w/t.tap" >/dev/null
GNUPGHOME=$w/keys/backup "$bin/gb-write" tape:"$w/t.tap" "$w/a" >/dev/null
cp "$w/usb/GYMBACKUP.LABEL" "$out/label/usb"
GNUPGHOME=$w/keys/backup "$bin/gb-write" "$w/usb" "$w/a" >/dev/null
gpg --homedir "$w/keys/auditor" --batch --quiet --decrypt \
    "$w/usb/GYMBACKUP.CHECKPOINT" >"$out/checkpoint/demo" 2>/dev/null
# the medium as fuzz-scan takes it: label, index, seal names, and no
# signed seal (fuzz-seal's part; each one found here would run gpg)
{
	cat "$w/usb/GYMBACKUP.LABEL"
	printf '\000'
	cat "$w/usb/GYMBACKUP.INDEX"
	printf '\000'
	for s in "$w"/usb/*.seal; do
		s=${s##*/}
		echo "${s%.seal}"
	done
	printf '\000'
	sed -n '/^-----BEGIN PGP SIGNED/,/^$/!p' "$w/usb/a.seal"
} >"$out/scan/usb"
# The image's files with records of their own length, not padded to
# 256 KiB blocks: as valid, and small enough to mutate quickly.
dd if="$w/t.tap" bs=4 skip=1 count=65536 2>/dev/null | tr -d '\000' >"$w/label"
{
	record "$w/label"
	le32 0
	record "$w/a.tar.gz.gpg"
	le32 0
	record "$w/a.seal"
	le32 0
} >"$out/tape/demo"
# a seal's tape file as gb-write writes it: the seal, a NUL, the checkpoint
{ cat "$w/a.seal"; printf '\000'; cat "$w/usb/GYMBACKUP.CHECKPOINT"; } >"$w/sealck"
{
	record "$w/label"
	le32 0
	record "$w/a.tar.gz.gpg"
	le32 0
	record "$w/sealck"
	le32 0
} >"$out/tape/checkpoint"
cp "$top/share/gymbackup.conf" "$out/conf/share"
cp "$w/gb.conf" "$out/conf/keys"
