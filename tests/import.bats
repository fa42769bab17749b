#!/usr/bin/env bats
# gb-catalog import (as Bacula's bscan): the catalog rebuilt from the media
# alone after the catalog is lost: a tape image and two directory media
# give back the archives, copies and chains of the catalog that wrote
# them; a second import changes nothing; a medium of another site or
# signer is refused; a tampered archive is no good copy with --verify;
# --list needs no catalog; a tape's label tells how to read it, and an old
# label without that text still reads.

load helper
load media-helper

setup_file() { chains_setup_file; }

teardown_file() { media_teardown_file; }

setup() {
	media_setup
	# the archives are of site test-gym (write_gym_conf)
	mkconf "$CONF" "[site]
name = test-gym"
}

SP=$BATS_FILE_TMPDIR/fx/spool

# The vault: tape T1 (f1, f2, n1), USB drives U1 (i1, i2) and U2 (i3, and
# a second copy of f1), written with the catalog $W/catalog.db.
vault() {
	mkdir usb1 usb2
	label T1 weekly tape:t1.tap
	label U1 daily usb1
	label U2 daily usb2
	put tape:t1.tap f1
	put usb1 i1 i2
	put tape:t1.tap f2
	put usb2 i3
	put tape:t1.tap n1
	put usb2 f1
}

# fresh NAME: $CAT and $CONF become a new catalog NAME (cat_new) and its
# config, the catalog not yet made.
fresh() {
	cat_new "$1"
	CONF="$W/$1.conf"
	export GB_CONF="$CONF"
	mkconf "$CONF" "[site]
name = test-gym"
}

# What must come back, of catalog DB (cat_id): archives (all but
# recorded_at), their tables, copies (all but id and times), media (all
# but capacity, location, due_back and last_written).  The media cannot
# tell those, nor when a tape copy was written or any copy verified, nor
# the movements, runs, checks and audit trail of the old catalog.
facts() {
	local db=$1
	cq_in "$db" "SELECT name, job, level, export_id, base_id, chain,
	    site, source, snapshot, size, sha256, packed_size, packed_sha256,
	    rows, seal, expired_at FROM archives ORDER BY name" &&
	cq_in "$db" "SELECT * FROM archive_tables ORDER BY archive, tbl" &&
	cq_in "$db" "SELECT archive, medium, position, status, error FROM copies
	    ORDER BY archive, medium, position" &&
	cq_in "$db" "SELECT id, kind, pool, state, labelled_at, bytes_used,
	    next_file, device FROM media ORDER BY id"
}

# chains DB: gb-catalog chain at each snapshot and later.
chains() {
	local t
	for t in f1 i1 i2 f2 i3; do
		GB_CATALOG=$1 gb-catalog chain --at "$(arch_snap "$SP/$t")"
	done
	# not now: chain prints the time, which moves on between two runs
	GB_CATALOG=$1 gb-catalog chain --at 2099-01-01
}

@test "import: a catalog rebuilt from a tape image and two directory media equals the one that wrote them" {
	vault
	local old
	old=$(cat_id)
	fresh new
	[ ! -e "$CAT" ]
	run -0 gb-catalog import tape:t1.tap usb1 usb2
	assert_line "tape:t1.tap: medium T1 (tape, pool weekly): 3 archives and 3 copies new (3 good, 0 failed), 0 already in the catalog"
	assert_line "usb1: medium U1 (dir, pool daily): 2 archives and 2 copies new (2 good, 0 failed), 0 already in the catalog"
	assert_line "usb2: medium U2 (dir, pool daily): 1 archives and 2 copies new (2 good, 0 failed), 0 already in the catalog"
	[ "$(facts "$(cat_id)")" = "$(facts "$old")" ] ||
	    fail "$(diff <(facts "$old") <(facts "$(cat_id)"))"
	[ "$(facts "$(cat_id)" | wc -l)" -gt 20 ]
	[ "$(chains "$(cat_id)")" = "$(chains "$old")" ] ||
	    fail "$(diff <(chains "$old") <(chains "$(cat_id)"))"
	# the chain of i2 is f1's export, found from the signed manifests
	[ "$(cq "SELECT chain FROM archives WHERE name = 'i2.tar.gz.gpg'")" = \
	    "$(awk -F'\t' '$1 == "id" { print $2 }' "$SP/f1.set/MANIFEST")" ]
	# sizes checked, the bytes not read: good, never verified
	[ "$(cq "SELECT count(*) FROM copies WHERE verified_at IS NULL")" -eq 7 ]
	# the written times of the USB copies come from their index
	[ "$(cq "SELECT written_at FROM copies WHERE archive = 'i3.tar.gz.gpg'")" = \
	    "$(awk -F'\t' '$1 == "i3.tar.gz.gpg" { print $7 }' usb2/GYMBACKUP.INDEX)" ]
	run -0 cq "SELECT object, detail FROM audit WHERE action = 'import' ORDER BY seq"
	assert_line -n 0 "T1|from tape:t1.tap: 3 archives and 3 copies new (3 good, sizes checked; 0 failed), 0 known, 0 in conflict, 0 chains completed"
	[ "${#lines[@]}" -eq 3 ]
	run -0 gb-catalog audit --verify
	# gb-verify and gb-restore find the copies where the new catalog says
	run -0 gb-verify --media tape:t1.tap f2 n1
	assert_line "f2.tar.gz.gpg: OK on T1"
	[ "$(cq "SELECT count(*) FROM copies WHERE medium = 'T1' AND verified_at IS NOT NULL")" -eq 2 ]
	run -0 env GNUPGHOME="$KEYS/all" gb-restore --media tape:t1.tap -o out f2
	diff -r out "$SP/f2.set" || fail "f2 restored from T1 differs"
	# gb-restore --at plans the same archives from the rebuilt catalog
	local now
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	run -0 gb-restore --at "$now" --list
	local planned=$output
	run -0 env GB_CATALOG="$old" gb-restore --at "$now" --list
	[ "$(grep -o '[a-z0-9]*\.tar\.gz\.gpg' <<<"$planned")" = \
	    "$(grep -o '[a-z0-9]*\.tar\.gz\.gpg' <<<"$output")" ] ||
	    fail "plans differ: $planned --- $output"
	grep -q 'tar\.gz\.gpg' <<<"$planned"
	# the rebuilt catalog takes the next archive on the tape after n1
	put tape:t1.tap i3
	[ "$(cq "SELECT position FROM copies WHERE archive = 'i3.tar.gz.gpg' AND medium = 'T1'")" = 7 ]
}

@test "import: media in any order give the same chains (an incremental before its base)" {
	mkdir usb3 usb4
	label T1 weekly tape:t1.tap
	label U3 daily usb3
	label U4 daily usb4
	put tape:t1.tap f1
	put usb4 i1
	put usb3 i2
	local old i1id f1id
	old=$(cat_id)
	i1id=$(awk -F'\t' '$1 == "id" { print $2 }' "$SP/i1.set/MANIFEST")
	f1id=$(awk -F'\t' '$1 == "id" { print $2 }' "$SP/f1.set/MANIFEST")
	fresh new
	# i2 alone: its chain is what it names, its base i1, until i1 is seen
	run -0 gb-catalog import usb3
	[ "$(cq "SELECT chain FROM archives WHERE name = 'i2.tar.gz.gpg'")" = "$i1id" ]
	run -0 gb-catalog import usb4 tape:t1.tap
	[ "$(cq "SELECT chain FROM archives WHERE name = 'i2.tar.gz.gpg'")" = "$f1id" ]
	[ "$(cq "SELECT detail FROM audit WHERE action = 'import' AND object = 'U4'")" = \
	    "from usb4: 1 archives and 1 copies new (1 good, sizes checked; 0 failed), 0 known, 0 in conflict, 1 chains completed" ]
	[ "$(chains "$(cat_id)")" = "$(chains "$old")" ] ||
	    fail "$(diff <(chains "$old") <(chains "$(cat_id)"))"
	[ "$(facts "$(cat_id)")" = "$(facts "$old")" ] ||
	    fail "$(diff <(facts "$old") <(facts "$(cat_id)"))"
}

@test "import: twice changes nothing, and into the catalog that wrote the media changes nothing" {
	vault
	local before
	before=$(cat_dump)
	run -0 gb-catalog import tape:t1.tap usb1 usb2
	assert_line "tape:t1.tap: medium T1 (tape, pool weekly): 0 archives and 0 copies new (0 good, 0 failed), 3 already in the catalog"
	[ "$(cat_dump)" = "$before" ]
	fresh new
	gb-catalog import tape:t1.tap usb1 usb2 >/dev/null
	before=$(cat_dump)
	run -0 gb-catalog import tape:t1.tap usb1 usb2
	assert_line "usb2: medium U2 (dir, pool daily): 0 archives and 0 copies new (0 good, 0 failed), 2 already in the catalog"
	[ "$(cat_dump)" = "$before" ]
}

@test "import: a catalog older than the media gets the copies it missed; gb-write then appends after them" {
	mkdir usb1
	label T1 weekly tape:t1.tap
	label U1 daily usb1
	put tape:t1.tap f1
	put usb1 i1
	# the catalog as last backed up, then more written
	cat_copy older
	put tape:t1.tap f2 n1
	put usb1 i2
	local newest
	newest=$(cat_id)
	cat_use older
	[ "$(cq "SELECT next_file FROM media WHERE id = 'T1'")" = 3 ]
	run -0 gb-catalog import tape:t1.tap usb1
	assert_line "tape:t1.tap: medium T1 (tape, pool weekly): 2 archives and 2 copies new (2 good, 0 failed), 1 already in the catalog"
	assert_line "usb1: medium U1 (dir, pool daily): 1 archives and 1 copies new (1 good, 0 failed), 1 already in the catalog"
	[ "$(cq "SELECT next_file FROM media WHERE id = 'T1'")" = 7 ]
	[ "$(facts "$(cat_id)")" = "$(facts "$newest")" ] ||
	    fail "$(diff <(facts "$newest") <(facts "$(cat_id)"))"
	put tape:t1.tap i3
	[ "$(cq "SELECT position FROM copies WHERE archive = 'i3.tar.gz.gpg'")" = 7 ]
	[ "$(tap_files t1.tap | wc -l)" -eq 9 ]
}

@test "import: conflicting records are reported and left as the catalog has them" {
	vault
	# U1 in another pool, i3 another archive of that name
	cq "UPDATE media SET pool = 'monthly' WHERE id = 'U1';
	    UPDATE archives SET sha256 = 'ab' WHERE name = 'i3.tar.gz.gpg';
	    UPDATE copies SET position = '9' WHERE archive = 'f2.tar.gz.gpg'"
	local before
	before=$(cat_dump)
	run -1 gb-catalog import usb1
	assert_output --partial "usb1: conflict: medium U1 is a dir of pool monthly in the catalog, the label says a dir of pool daily; nothing of it imported"
	run -1 gb-catalog import usb2
	assert_output --partial "usb2: conflict: i3.tar.gz.gpg: the catalog's archive of that name is another (export "
	assert_output --partial "left as the catalog has it"
	run -1 gb-catalog import tape:t1.tap
	assert_output --partial "tape:t1.tap: conflict: the catalog has f2.tar.gz.gpg good on T1 at tape file 9, the medium at 3; left as the catalog has it"
	[ "$(cat_dump)" = "$before" ]
}

@test "import: a medium of another site is refused, nothing recorded" {
	vault
	fresh other
	sed -i 's/^name = test-gym/name = other-gym/' "$CONF"
	run -1 gb-catalog import usb1
	assert_output "gb-catalog: usb1 (medium U1): refused: i1.tar.gz.gpg is of site test-gym, not of this site other-gym ([site] name); nothing of it imported"
	[ "$(cq "SELECT count(*) FROM media") $(cq "SELECT count(*) FROM archives") $(cq "SELECT count(*) FROM audit")" = "0 0 0" ]
}

@test "import: seals by another signer are refused, nothing recorded" {
	vault
	fresh other
	sed -i "s/^signer = .*/signer = $RCPT1/" "$CONF"
	run -1 gb-catalog import tape:t1.tap
	assert_output --partial "gb-catalog: tape:t1.tap (medium T1): refused: f1.tar.gz.gpg: seal: signed by "
	assert_output --partial "not by the pinned signer $RCPT1; nothing of it imported (gb-catalog import --list shows it)"
	run -1 gb-catalog import usb2
	assert_output --partial "refused: f1.tar.gz.gpg: seal: signed by "
	[ "$(cq "SELECT count(*) FROM media") $(cq "SELECT count(*) FROM archives")" = "0 0" ]
	# a seal changed on the medium: the same
	fresh tampered
	sed -i 's/^level\tincremental$/level\tfull/' usb1/i1.seal
	run -1 gb-catalog import usb1
	assert_output --partial "refused: i1.tar.gz.gpg: seal: "
	[ "$(cq "SELECT count(*) FROM media")" = 0 ]
}

@test "import: a tampered archive is no good copy with --verify; a cut one is not even without" {
	vault
	fresh new
	flip_bit usb1/i1.tar.gz.gpg 300
	# the size is right: without --verify the copy is good, never verified
	run -0 gb-catalog import usb1
	[ "$(cq "SELECT status || '|' || coalesce(verified_at, 'never') FROM copies WHERE archive = 'i1.tar.gz.gpg'")" = "good|never" ]
	fresh verified
	gb-catalog import tape:t1.tap >/dev/null
	run -1 gb-catalog import --verify usb1
	assert_output --partial "usb1: i1.tar.gz.gpg on U1: recorded failed: its bytes differ from the seal's (sha256 $(sha256sum <usb1/i1.tar.gz.gpg | cut -d' ' -f1), the seal states $(arch_sha "$SP/i1"))"
	assert_line "usb1: medium U1 (dir, pool daily): 2 archives and 2 copies new (1 good, 1 failed), 0 already in the catalog"
	[ "$(cq "SELECT status FROM copies WHERE archive = 'i1.tar.gz.gpg'")" = failed ]
	[ "$(cq "SELECT status, CASE WHEN verified_at IS NOT NULL THEN 1 END FROM copies WHERE archive = 'i2.tar.gz.gpg'")" = "good|1" ]
	[ "$(cq "SELECT archive, ok FROM checks WHERE kind = 'verify' ORDER BY archive")" = \
	    "i1.tar.gz.gpg|0
i2.tar.gz.gpg|1" ]
	# the chain says it has no good copy
	run -0 gb-catalog chain --at "$(arch_snap "$SP/i1")"
	assert_output --partial "i1.tar.gz.gpg (job daily)
      NO GOOD COPY on any medium"

	# on the tape: a bit of f2's archive (tape file 3)
	fresh tape
	flip_bit t1.tap $(($(tap_offset t1.tap 3 0) + 100))
	run -1 gb-catalog import --verify tape:t1.tap
	assert_output --partial "tape:t1.tap: f2.tar.gz.gpg on T1: recorded failed: its bytes differ from the seal's"
	[ "$(cq "SELECT archive, status FROM copies ORDER BY archive")" = \
	    "f1.tar.gz.gpg|good
f2.tar.gz.gpg|failed
n1.tar.gz.gpg|good" ]

	# a cut archive: its size tells, no --verify needed
	fresh cut
	truncate -s -1 usb2/i3.tar.gz.gpg
	run -1 gb-catalog import usb2
	assert_output --partial "usb2: i3.tar.gz.gpg on U2: recorded failed: the archive has $(($(arch_size "$SP/i3") - 1)) bytes, the seal states $(arch_size "$SP/i3")"
}

@test "import: a tape whose last write stopped between archive and seal: the archive without seal is skipped" {
	vault
	local old=$CAT
	fresh new
	# files: 0 label, 1-2 f1, 3-4 f2, 5-6 n1: n1's seal lost
	tap_keep t1.tap 6
	run -0 gb-catalog import tape:t1.tap
	assert_output --partial "warning: tape:t1.tap tape file 5: an archive without its seal (a write that did not finish), skipped"
	assert_output --partial "2 archives and 2 copies new (2 good, 0 failed)"
	[ "$(cq "SELECT next_file FROM media WHERE id = 'T1'")" = 5 ]
	[ "$(cq "SELECT count(*) FROM archives WHERE name = 'n1.tar.gz.gpg'")" = 0 ]
}

@test "import --list: a medium's contents without any catalog" {
	vault
	printf '[keys]\nsigner = %s\n' "$SIGNER" >"$W/list.conf"
	unset GB_CONF GB_CATALOG
	rm -f "$CAT"
	run -0 gb-catalog -c "$W/list.conf" import --list -b tape:t1.tap usb1
	[ ! -e "$CAT" ]
	assert_line -n 0 --regexp '^tape:t1\.tap: medium T1, pool weekly, tape, labelled [0-9-]{10}T[0-9:]{8}Z$'
	assert_line -n 1 --regexp '^  ARCHIVE +JOB +LEVEL +SNAPSHOT +SIZE +POSITION +SEAL$'
	assert_line -n 2 --regexp "^  f1\.tar\.gz\.gpg +weekly +full +$(arch_snap "$SP/f1") +$(arch_size "$SP/f1") +tape file 1 +verified$"
	assert_line -n 3 --regexp "^  f2\.tar\.gz\.gpg +weekly +full +$(arch_snap "$SP/f2") +$(arch_size "$SP/f2") +tape file 3 +verified$"
	assert_line -n 4 --regexp "^  n1\.tar\.gz\.gpg +nightly +full +$(arch_snap "$SP/n1") +$(arch_size "$SP/n1") +tape file 5 +verified$"
	assert_line -n 5 --regexp '^usb1: medium U1, pool daily, dir, labelled '
	assert_line -n 7 --regexp "^  i1\.tar\.gz\.gpg +daily +incremental +$(arch_snap "$SP/i1") +$(arch_size "$SP/i1") +file i1\.tar\.gz\.gpg +verified$"
	[ "${#lines[@]}" -eq 9 ]
	# --verify reads the bytes; a bad one: exit 1
	flip_bit usb1/i2.tar.gz.gpg 300
	run -1 gb-catalog -c "$W/list.conf" import --list --verify usb1
	assert_output --regexp 'i1\.tar\.gz\.gpg .* verified, bytes match'
	assert_output --partial "ARCHIVE BAD: its bytes differ from the seal's"
	# another signer: listed, not verified
	sed -i "s/^signer = .*/signer = $RCPT1/" "$W/list.conf"
	run -1 gb-catalog -c "$W/list.conf" import --list usb1
	assert_output --regexp 'i1\.tar\.gz\.gpg +\? +\? +\? +\? +file i1\.tar\.gz\.gpg +NOT VERIFIED: seal: signed by .*, not by the pinned signer'
	[ ! -e "$CAT" ]
	# no signer pinned: a usage error
	printf '[keys]\n' >"$W/list.conf"
	run -2 gb-catalog -c "$W/list.conf" import --list usb1
	assert_output "gb-catalog: no signer pinned: set signer in the [keys] section of the config; every seal on a medium is verified against it"
	run -2 gb-catalog -c "$W/list.conf" import --list
	assert_output "gb-catalog: import: missing operand
usage: gb-catalog [-c conf] import [--list] [--verify] [-b] media ..."
	printf '[keys]\nsigner = %s\n' "$SIGNER" >"$W/list.conf"
	run -3 gb-catalog -c "$W/list.conf" import --list nowhere
	assert_output "gb-catalog: nowhere: no gymbackup label (not a medium, or cannot be read)"
}

@test "import: a tape's label says how to read the tape; an old label without that text still reads" {
	vault
	run -0 tap_text t1.tap 0
	assert_line -n 0 "gymbackup-label	1"
	assert_line -n 1 "medium	T1"
	assert_line -n 2 "pool	weekly"
	assert_line -n 3 "kind	tape"
	assert_line -n 5 "blocksize	262144"
	assert_output --partial "Tape file 0 is"
	assert_output --partial "  dd if=/dev/nst0 bs=262144 of=FILE"
	assert_output --partial "NAME.tar.gz.gpg, an OpenPGP message"
	# a small block size: the label spans records and still reads
	label T2 weekly -b 512 tape:t2.tap
	[ "$(tap_files t2.tap)" = "file 0: 3 records of 512" ] || fail "$(tap_files t2.tap)"
	run -0 gb-catalog import --list tape:t2.tap
	assert_line -n 0 --partial "tape:t2.tap: medium T2, pool weekly, tape, labelled"
	run -0 gb-write tape:t2.tap "$SP/n1"

	# the old label: the key lines alone, in one record of the block size
	"$PY" - t1.tap <<'PY'
import struct, sys
p = sys.argv[1]
f = open(p, "rb").read()
n = struct.unpack("<I", f[:4])[0]
old = b"gymbackup-label\t1\nmedium\tT1\npool\tweekly\nkind\ttape\nlabelled\t2026-11-01T10:00:00Z\n"
rec = old + b"\0" * (n - len(old))
open(p, "wb").write(struct.pack("<I", n) + rec + struct.pack("<I", n) + f[8 + n:])
PY
	run -0 tap_text t1.tap 0
	assert_output "$(printf 'gymbackup-label\t1\nmedium\tT1\npool\tweekly\nkind\ttape\nlabelled\t2026-11-01T10:00:00Z')"
	fresh old
	run -0 gb-catalog import tape:t1.tap
	assert_output --partial "medium T1 (tape, pool weekly): 3 archives and 3 copies new (3 good, 0 failed)"
	[ "$(cq "SELECT labelled_at FROM media WHERE id = 'T1'")" = 2026-11-01T10:00:00Z ]
	run -0 gb-write tape:t1.tap "$SP/i1"
	assert_output --partial "written to T1 (tape file 7)"
}
