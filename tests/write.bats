#!/usr/bin/env bats
# gb-write: labels on directories and tape images; archives and seals on the
# media byte for byte; tape files and marks; end of medium on an image and
# on a small file system; the refusals (no label, another catalog, another
# pool, offsite, transit, retired, a seal that does not verify); two
# writers at once; a killed writer.

load helper
load media-helper

setup_file() {
	media_setup_file
	make_gym_db "$FX/gym.db"
	export_seal "$FX/gym.db" "$FX/spool/a1" members
	export_seal "$FX/gym.db" "$FX/spool/a2" members
	export_seal "$FX/gym.db" "$FX/spool/a3" members
	big_archive "$FX/spool/big" 8
}

teardown_file() { media_teardown_file; }

A1=$BATS_FILE_TMPDIR/fx/spool/a1
A2=$BATS_FILE_TMPDIR/fx/spool/a2
A3=$BATS_FILE_TMPDIR/fx/spool/a3
BIG=$BATS_FILE_TMPDIR/fx/spool/big

# The copies rows of an archive on a medium: "status|position".
copy_rows() {
	cq "SELECT status || '|' || position FROM copies WHERE archive = '$1'
	    AND medium = '$2' ORDER BY id"
}

# feed FIFO SRC BYTES [GO]: a background writer that puts the first BYTES
# of SRC into FIFO ("all": all of it, and ends); then, with GO, waits for
# the file GO to exist and writes the rest; without, keeps the FIFO open
# so the reader sees no end.  $FEED_PID.
feed() {
	local fifo=$1 src=$2 n=$3 go=${4-}
	if [ "$n" = all ]; then
		cat "$src" >"$fifo" &
	elif [ -n "$go" ]; then
		sh -c 'head -c "$2" "$1"
		while [ ! -e "$3" ]; do sleep 0.05; done
		tail -c +"$(($2 + 1))" "$1"' sh "$src" "$n" "$go" >"$fifo" &
	else
		sh -c 'head -c "$2" "$1"; exec sleep 60' sh "$src" "$n" >"$fifo" &
	fi
	FEED_PID=$!
	bg_started "$FEED_PID"
}

# writing_rows N: N copies are 'writing'.
writing_rows() {
	[ "$(cq "SELECT count(*) FROM copies WHERE status = 'writing'")" -eq "$1" ]
}

copy_status_is() {
	[ "$(cq "SELECT group_concat(status) FROM copies WHERE archive = '$1'
	    AND medium = '$2'")" = "$3" ]
}

# ---------------------------------------------------------------- labels

@test "label a directory: GYMBACKUP.LABEL says medium, pool, kind, time; the catalog has it" {
	mkdir usb
	local t0 t1
	t0=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	run -0 gb-write --label U1 --pool daily usb
	t1=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	assert_output --partial "usb: labelled U1, pool daily"
	# the pool is not in the config: default rules and a warning
	assert_output --partial "pool daily is not described in the config"
	[ "$(ls -A usb)" = GYMBACKUP.LABEL ]
	run -0 sed -n 1,4p usb/GYMBACKUP.LABEL
	assert_output "$(printf 'gymbackup-label\t1\nmedium\tU1\npool\tdaily\nkind\tdir')"
	local when
	when=$(awk -F'\t' '$1 == "labelled" { print $2 }' usb/GYMBACKUP.LABEL)
	[[ "$when" > "$t0" || "$when" == "$t0" ]] && [[ "$when" < "$t1" || "$when" == "$t1" ]] ||
	    fail "labelled $when, not between $t0 and $t1"
	[ "$(wc -l <usb/GYMBACKUP.LABEL)" -eq 5 ]
	[ "$(cq "SELECT kind, pool, state, location, bytes_used, labelled_at
	    FROM media WHERE id = 'U1'")" = "dir|daily|usable|onsite|0|$when" ]
	[ "$(cq "SELECT action, object FROM audit")" = "label|U1" ]
}

@test "label a tape image: file 0 is the label in one 256 KiB record, then a mark" {
	run -0 gb-write --label T1 --pool weekly --capacity 5000000 tape:t1.tap
	assert_output --partial "tape:t1.tap: labelled T1, pool weekly"
	run -0 tap_records t1.tap
	assert_output "$(printf 'record 262144\nmark')"
	run -0 tap_text t1.tap 0
	assert_line -n 0 "$(printf 'gymbackup-label\t1')"
	assert_line -n 1 "$(printf 'medium\tT1')"
	assert_line -n 2 "$(printf 'pool\tweekly')"
	assert_line -n 3 "$(printf 'kind\ttape')"
	assert_line -n 4 --regexp "$(printf '^labelled\t[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$')"
	[ "$(cq "SELECT kind, pool, capacity, state, device FROM media WHERE
	    id = 'T1'")" = "tape|weekly|5000000|usable|tape:t1.tap" ]
}

@test "relabelling a medium that is in the catalog is refused; once retired it may be" {
	mkdir usb
	label U1 daily usb
	label T1 weekly tape:t1.tap
	cp usb/GYMBACKUP.LABEL label.before
	cp t1.tap tap.before

	run -2 gb-write --label U2 --pool daily usb
	assert_output --partial "labelled U1, a medium in the catalog"
	assert_output --partial "gb-catalog media retire U1"
	cmp usb/GYMBACKUP.LABEL label.before
	run -2 gb-write --label T2 --pool weekly tape:t1.tap
	assert_output --partial "labelled T1"
	cmp t1.tap tap.before
	[ "$(cq "SELECT count(*) FROM media")" -eq 2 ]
	[ "$(cq "SELECT count(*) FROM media WHERE id IN ('U2', 'T2')")" -eq 0 ]

	# the same id again is refused as well, even on a fresh medium
	mkdir usb2
	run -2 gb-write --label U1 --pool daily usb2
	assert_output --partial "already in the catalog"
	[ -z "$(ls -A usb2)" ]

	gb-catalog media retire U1
	run -0 gb-write --label U2 --pool daily usb
	assert_output --partial "relabelling it erases it"
	grep -qx "$(printf 'medium\tU2')" usb/GYMBACKUP.LABEL
}

@test "a medium added with gb-catalog media add can be labelled and written" {
	gb-catalog media add U1 --kind dir --pool daily 2>/dev/null
	mkdir usb
	run gb-write --label U1 --pool daily usb
	[ "$status" -eq 0 ] || fail "gb-write --label of a medium the catalog knows but that bears no label: exit $status: $output"
	grep -qx "$(printf 'medium\tU1')" usb/GYMBACKUP.LABEL
	run -0 gb-write usb "$A1"
	[ "$(copy_rows a1.tar.gz.gpg U1)" = "good|a1.tar.gz.gpg" ]
}

# ---------------------------------------------------------- directories

@test "write to a directory: archive and seal equal the spool's, the index lists them, the copy is good and verified" {
	mkdir usb
	label U1 daily usb
	local n1 n2 s1 s2
	n1=$(arch_name "$A1")
	n2=$(arch_name "$A2")
	s1=$(arch_size "$A1")
	s2=$(arch_size "$A2")
	run -0 gb-write usb "$A1"
	assert_output --partial "$n1: written to U1"
	assert_output --partial "read back OK"
	cmp "$A1.tar.gz.gpg" usb/a1.tar.gz.gpg
	cmp "$A1.seal" usb/a1.seal
	[ "$(stat -c %a usb/a1.tar.gz.gpg)" = 640 ]
	[ -z "$(compgen -G 'usb/*.tmp.*')" ]
	[ "$(cq "SELECT status, position, written_at IS NOT NULL, verified_at
	    IS NOT NULL, error IS NULL FROM copies WHERE archive = '$n1'")" = \
	    "good|$n1|1|1|1" ]
	[ "$(cq "SELECT sha256, size, job, level FROM archives WHERE name =
	    '$n1'")" = "$(arch_sha "$A1")|$s1|members|full" ]
	[ "$(cq "SELECT bytes_used FROM media WHERE id = 'U1'")" -eq "$s1" ]

	run -0 gb-write usb "$A2"
	cmp "$A2.tar.gz.gpg" usb/a2.tar.gz.gpg
	cmp "$A2.seal" usb/a2.seal
	[ "$(cq "SELECT bytes_used FROM media WHERE id = 'U1'")" -eq $((s1 + s2)) ]
	# the index: comments, then one line per archive with its hash
	run -0 grep -v '^#' usb/GYMBACKUP.INDEX
	assert_line -n 0 --regexp "^$n1	$s1	$(arch_sha "$A1")	members	full	$(arch_snap "$A1")	[0-9T:-]+Z\$"
	assert_line -n 1 --regexp "^$n2	$s2	$(arch_sha "$A2")	members	full	$(arch_snap "$A2")	"
	[ "${#lines[@]}" -eq 2 ]
	grep -q 'medium U1, pool daily' usb/GYMBACKUP.INDEX
	# an auditor's check with the seal on the drive works
	(cd usb && grep '  a1.tar.gz.gpg$' a1.seal | sha256sum -c --quiet)
	[ "$(cq "SELECT group_concat(action) FROM (SELECT action FROM audit
	    ORDER BY seq)")" = "label,archive,write,archive,write" ]
	# writing the same archive to the same medium again is refused
	run -2 gb-write usb "$A1"
	assert_output --partial "already has a good copy on U1"
}

# ------------------------------------------------------------ tape images

@test "tape image: label, archive 1, seal 1, archive 2, seal 2 are files 0..4, each ended by a mark" {
	label T1 weekly tape:t1.tap
	run -0 gb-write tape:t1.tap "$A1"
	assert_output --partial "written to T1 (tape file 1), read back OK"
	run -0 gb-write tape:t1.tap "$A2"
	assert_output --partial "(tape file 3)"
	run -0 tap_files t1.tap
	assert_output "$(printf 'file %d: 1 records of 262144\n' 0 1 2 3 4)"
	run -0 tap_records t1.tap
	[ "${#lines[@]}" -eq 10 ] && [ "${lines[9]}" = mark ]
	# the data of file 1, less the zero padding, is the archive
	tap_data t1.tap 1 "$(arch_size "$A1")" >f1
	cmp f1 "$A1.tar.gz.gpg"
	tap_data t1.tap 3 "$(arch_size "$A2")" >f3
	cmp f3 "$A2.tar.gz.gpg"
	tap_text t1.tap 2 >s2
	cmp s2 "$A1.seal"
	tap_text t1.tap 4 >s4
	cmp s4 "$A2.seal"
	[ "$(copy_rows a1.tar.gz.gpg T1)" = "good|1" ]
	[ "$(copy_rows a2.tar.gz.gpg T1)" = "good|3" ]
	[ "$(cq "SELECT next_file, bytes_used FROM media WHERE id = 'T1'")" = \
	    "5|$(($(arch_size "$A1") + $(arch_size "$A2")))" ]
}

@test "tape image: -b 64k writes 64 KiB records, a big archive as many as it needs" {
	label T1 weekly -b 64k tape:t1.tap
	run -0 gb-write -b 64k tape:t1.tap "$A1"
	run -0 gb-write -b 64k tape:t1.tap "$BIG"
	local size recs
	size=$(arch_size "$BIG")
	recs=$(((size + 65535) / 65536))
	run -0 tap_files t1.tap
	assert_output "$(printf 'file 0: 1 records of 65536\nfile 1: 1 records of 65536\nfile 2: 1 records of 65536\nfile 3: %d records of 65536\nfile 4: 1 records of 65536' "$recs")"
	tap_data t1.tap 3 "$size" >f3
	cmp f3 "$BIG.tar.gz.gpg"
	[ "$(copy_rows big.tar.gz.gpg T1)" = "good|3" ]
	# -b is checked
	run -2 gb-write -b 1000 tape:t1.tap "$A2"
	assert_output --partial "multiple of 512"
}

@test "tape image: -b 0 writes variable blocks: 256 KiB records, a short last one, a seal as long as it is" {
	label T1 weekly -b 0 tape:t1.tap
	run -0 gb-write -b 0 tape:t1.tap "$BIG"
	local size full last seal
	size=$(arch_size "$BIG")
	full=$((size / 262144)) last=$((size % 262144))
	seal=$(stat -c %s "$BIG.seal")
	run -0 tap_records t1.tap
	# the label (as long as its text), the archive's records, the seal
	[ "$(grep -c '^mark$' <<<"$output")" -eq 3 ] || fail "marks: $output"
	assert_line -n 0 --regexp '^record [0-9]{2,4}$'
	assert_line "record $last"
	assert_line "record $seal"
	run -0 tap_files t1.tap
	assert_line -n 1 --regexp "^file 1: $((full + (last > 0))) records"
	run -0 tap_data t1.tap 1 "$size"
	tap_data t1.tap 1 "$size" | cmp - "$BIG.tar.gz.gpg"
	run -0 gb-verify --media tape:t1.tap big
	assert_output --partial "big.tar.gz.gpg: OK on T1"
}

@test "end of a tape image: the archive that does not fit fails (exit 3), the medium is full, the first one intact" {
	# label, archive 1 and seal 1 take 3 records of 256 KiB and 3 marks:
	# 786468 bytes; a megabyte more is not enough for the big archive
	label T1 weekly --capacity 1835044 tape:t1.tap
	run -0 gb-write tape:t1.tap "$A1"
	[ "$(fsize t1.tap)" -eq 786468 ]
	cp t1.tap before.tap
	run -3 gb-write tape:t1.tap "$BIG"
	assert_output --partial "medium T1 is full"
	assert_output --partial "next medium of pool weekly"
	[ "$(copy_rows big.tar.gz.gpg T1)" = "failed|3" ]
	[ "$(cq "SELECT error FROM copies WHERE archive = 'big.tar.gz.gpg'")" = \
	    "medium T1 is full" ]
	[ "$(cq "SELECT count(*) FROM copies WHERE status = 'good' AND
	    archive = 'big.tar.gz.gpg'")" -eq 0 ]
	[ "$(cq "SELECT state, bytes_used FROM media WHERE id = 'T1'")" = \
	    "full|$(arch_size "$A1")" ]
	[ "$(fsize t1.tap)" -le 1835044 ]
	# the first archive and its seal are as they were
	cmp -n 786468 t1.tap before.tap
	tap_data t1.tap 1 "$(arch_size "$A1")" >f1
	cmp f1 "$A1.tar.gz.gpg"
	[ "$(copy_rows a1.tar.gz.gpg T1)" = "good|1" ]
	# a full medium is not written again
	run -2 gb-write tape:t1.tap "$A2"
	assert_output --partial "medium T1 is full; use another medium of pool weekly"
	[ "$(cq "SELECT count(*) FROM copies WHERE archive = 'a2.tar.gz.gpg'")" -eq 0 ]
}

@test "end of medium: the next step the message names is a command that works" {
	label T1 weekly --capacity 300000 tape:t1.tap
	run -3 gb-write tape:t1.tap "$A1"
	assert_output --partial "medium T1 is full"
	# "... write it to the next medium of pool weekly: gb-write MEDIA X"
	local arg
	arg=$(sed -n 's/.*: gb-write MEDIA \(.*\)$/\1/p' <<<"$output")
	[ -n "$arg" ] || fail "no command in: $output"
	label T2 weekly tape:t2.tap
	run gb-write tape:t2.tap "$arg"
	[ "$status" -eq 0 ] ||
	    fail "the suggested 'gb-write MEDIA $arg' does not work (exit $status): $output"
	[ "$(copy_rows a1.tar.gz.gpg T2)" = "good|1" ]
}

@test "a directory medium that fills up: exit 3, no archive or temporary file left, copy failed, medium full" {
	mkdir usb
	run_small_fs "$W/usb" 1m sh -c 'gb-write --label S1 --pool daily "$1" 2>/dev/null &&
	    gb-write "$1" "$2" && gb-write "$1" "$3"' sh "$W/usb" "$A1" "$BIG"
	[ "$status" -eq 3 ] || fail "exit $status: $output"
	assert_output --partial "medium S1 is full"
	assert_output --partial "next medium of pool daily"
	# what the small drive holds: the label, the first archive and its
	# seal, the index and the checkpoint; nothing of the big one, no
	# temporary file
	[ "$(sort <<<"$small_left" | tr '\n' ' ')" = \
	    "GYMBACKUP.CHECKPOINT GYMBACKUP.INDEX GYMBACKUP.LABEL a1.seal a1.tar.gz.gpg " ] ||
	    fail "left on the drive: $small_left"
	cmp usb/a1.tar.gz.gpg "$A1.tar.gz.gpg"
	[ "$(grep -vc '^#' usb/GYMBACKUP.INDEX)" -eq 1 ]
	[ "$(copy_rows big.tar.gz.gpg S1)" = "failed|big.tar.gz.gpg" ]
	[ "$(copy_rows a1.tar.gz.gpg S1)" = "good|a1.tar.gz.gpg" ]
	[ "$(cq "SELECT state FROM media WHERE id = 'S1'")" = full ]
}

# -------------------------------------------------------------- refusals

@test "unlabelled media are refused (exit 2) and left as they were" {
	mkdir usb
	echo keep >usb/photo.jpg
	run -2 gb-write usb "$A1"
	assert_output --partial "usb has no gymbackup label; label it first"
	[ "$(ls -A usb)" = photo.jpg ]
	: >empty.tap
	run -2 gb-write tape:empty.tap "$A1"
	assert_output --partial "no gymbackup label"
	[ "$(fsize empty.tap)" -eq 0 ]
	# a tape image holding something that is not a label
	printf '\4\0\0\0abcd\4\0\0\0\0\0\0\0' >other.tap
	cp other.tap other.before
	run -2 gb-write tape:other.tap "$A1"
	cmp other.tap other.before
	[ "$(cq "SELECT count(*) FROM copies") $(cq "SELECT count(*) FROM archives")" = "0 0" ]
}

@test "a medium labelled in another catalog is refused (exit 2)" {
	mkdir usb
	GB_CATALOG="$W/other.db" gb-write --label U9 --pool daily usb 2>/dev/null
	[ "$(sqlite3 "$W/other.db" "SELECT id FROM media")" = U9 ]
	run -2 gb-write usb "$A1"
	assert_output --partial "medium U9 (usb) is not in the catalog"
	[ "$(ls -A usb)" = GYMBACKUP.LABEL ]
	[ "$(cq "SELECT count(*) FROM copies")" -eq 0 ]
	# and with GB_CATALOG the other way round
	label U1 daily tape:t1.tap
	cp t1.tap t1.before
	GB_CATALOG="$W/other.db" run -2 gb-write tape:t1.tap "$A1"
	assert_output --partial "medium U1 (tape:t1.tap) is not in the catalog"
	cmp t1.tap t1.before
	[ "$(sqlite3 "$W/other.db" "SELECT count(*) FROM copies")" -eq 0 ]
}

@test "--pool refuses a medium of another pool (exit 2), takes its own" {
	mkdir usb
	label U1 daily usb
	run -2 gb-write --pool weekly usb "$A1"
	assert_output --partial "medium U1 is of pool daily, not weekly"
	[ "$(ls -A usb)" = GYMBACKUP.LABEL ]
	[ "$(cq "SELECT count(*) FROM copies")" -eq 0 ]
	run -0 gb-write --pool daily usb "$A1"
	[ "$(copy_rows a1.tar.gz.gpg U1)" = "good|a1.tar.gz.gpg" ]
}

@test "media in transit, offsite or retired are refused (exit 2); back onsite they are written" {
	mkdir usb
	label U1 daily usb
	gb-catalog move U1 --to transit --by test >/dev/null
	run -2 gb-write usb "$A1"
	assert_output --partial "medium U1 is transit; only onsite media are written"
	gb-catalog move U1 --to offsite --by test >/dev/null
	run -2 gb-write usb "$A1"
	assert_output --partial "medium U1 is offsite"
	[ "$(ls -A usb)" = GYMBACKUP.LABEL ]
	[ "$(cq "SELECT count(*) FROM copies")" -eq 0 ]

	label T1 weekly tape:t1.tap
	gb-catalog move T1 --to offsite --by test >/dev/null
	cp t1.tap t1.before
	run -2 gb-write tape:t1.tap "$A1"
	assert_output --partial "medium T1 is offsite"
	cmp t1.tap t1.before

	gb-catalog move U1 --to onsite --by test >/dev/null
	run -0 gb-write usb "$A1"
	[ "$(copy_rows a1.tar.gz.gpg U1)" = "good|a1.tar.gz.gpg" ]
	gb-catalog media retire U1
	run -2 gb-write usb "$A2"
	assert_output --partial "medium U1 is retired"
	[ ! -e usb/a2.tar.gz.gpg ]
	[ "$(cq "SELECT count(*) FROM copies WHERE archive = 'a2.tar.gz.gpg'")" -eq 0 ]
}

@test "a seal that does not verify: nothing written, exit 1 (tampered seal, another signer)" {
	mkdir usb sp
	label U1 daily usb
	cp "$A1.tar.gz.gpg" "$A1.seal" sp/
	# the last digit of the size line changed in the signed text (one
	# more, 9 becoming 0: always a change)
	awk -F'\t' -v OFS='\t' '$1 == "size" { d = substr($2, length($2)) + 0
	    $2 = substr($2, 1, length($2) - 1) ((d + 1) % 10) } 1' "$A1.seal" >sp/a1.seal
	cmp -s sp/a1.seal "$A1.seal" && fail "the seal was not changed"
	run -1 gb-write usb sp/a1
	assert_output --partial "not written"
	[ "$(ls -A usb)" = GYMBACKUP.LABEL ]
	[ "$(cq "SELECT count(*) FROM copies") $(cq "SELECT count(*) FROM archives")" = "0 0" ]

	# a good seal, but the config pins another signer
	mkconf "$W/other.conf"
	sed -i "s/^signer = .*/signer = $RCPT1/" "$W/other.conf"
	run -1 gb-write -c "$W/other.conf" usb "$A1"
	assert_output --partial "not written"
	[ "$(ls -A usb)" = GYMBACKUP.LABEL ]
	label T1 weekly tape:t1.tap
	cp t1.tap t1.before
	run -1 gb-write -c "$W/other.conf" tape:t1.tap "$A1"
	cmp t1.tap t1.before
	[ "$(cq "SELECT count(*) FROM copies") $(cq "SELECT count(*) FROM archives")" = "0 0" ]
}

@test "a spool archive that differs from its seal: exit 1, nothing good, nothing left on the drive, a rerun works" {
	mkdir usb sp
	label U1 daily usb
	cp "$A1.tar.gz.gpg" "$A1.seal" sp/
	flip_bit sp/a1.tar.gz.gpg 200
	cmp -s sp/a1.tar.gz.gpg "$A1.tar.gz.gpg" && fail "not changed"
	run gb-write usb sp/a1
	[ "$status" -eq 1 ] || fail "exit $status (want 1, a check failed): $output"
	assert_output --partial "differs from its seal"
	[ "$(cq "SELECT count(*) FROM copies WHERE status = 'good'")" -eq 0 ]
	[ "$(ls -A usb | sort | tr '\n' ' ')" = "GYMBACKUP.LABEL " ] ||
	    fail "left on the drive: $(ls -A usb | tr '\n' ' ')"
	cp "$A1.tar.gz.gpg" sp/
	run -0 gb-write usb sp/a1
	cmp usb/a1.tar.gz.gpg "$A1.tar.gz.gpg"
}

@test "a spool archive that differs from its seal, to a tape image: exit 1 naming the spool file, not the tape" {
	mkdir sp
	label T1 weekly tape:t1.tap
	cp "$A1.tar.gz.gpg" "$A1.seal" sp/
	flip_bit sp/a1.tar.gz.gpg 200
	run gb-write tape:t1.tap sp/a1
	[ "$status" -eq 1 ] || fail "exit $status (want 1, a check failed): $output"
	assert_output --partial "sp/a1.tar.gz.gpg differs from its seal"
	refute_output --partial "tape may be failing"
	[ "$(copy_rows a1.tar.gz.gpg T1)" = "failed|1" ]
	# the good archive then goes where the bad one was
	run -0 gb-write tape:t1.tap "$A1"
	[ "$(cq "SELECT position FROM copies WHERE status = 'good'")" = 1 ]
	tap_data t1.tap 1 "$(arch_size "$A1")" | cmp - "$A1.tar.gz.gpg"
}

# ----------------------------------------------------------- concurrency

# two_writes OUT1 MEDIUM1 ARCHIVE1 OUT2 MEDIUM2 ARCHIVE2: both gb-writes in
# the background, each started, their output to OUT1 and OUT2; their pids
# in p1 and p2.
two_writes() {
	gb-write "$2" "$3" >"$1" 2>&1 &
	p1=$!
	gb-write "$5" "$6" >"$4" 2>&1 &
	p2=$!
	bg_started "$p1"
	bg_started "$p2"
}

@test "two gb-write runs at once on one catalog, to two media: both copies good" {
	mkdir usb
	label U1 daily usb
	label T1 weekly tape:t1.tap
	fifo_archive "$W/s1/a1" "$A1"
	fifo_archive "$W/s2/a2" "$A2"
	# each gets part of its archive and waits for the rest
	feed "$W/s1/a1.tar.gz.gpg" "$A1.tar.gz.gpg" 1000 "$W/go"
	feed "$W/s2/a2.tar.gz.gpg" "$A2.tar.gz.gpg" 1000 "$W/go"
	local p1 p2
	two_writes w1.out usb "$W/s1/a1" w2.out tape:t1.tap "$W/s2/a2"
	# both are in the middle of writing at the same time
	wait_for writing_rows 2 ||
	    fail "not both writing: $(cat w1.out w2.out)"
	touch "$W/go"
	wait "$p1" || fail "first: $(cat w1.out)"
	wait "$p2" || fail "second: $(cat w2.out)"
	[ "$(copy_rows a1.tar.gz.gpg U1)" = "good|a1.tar.gz.gpg" ]
	[ "$(copy_rows a2.tar.gz.gpg T1)" = "good|1" ]
	cmp usb/a1.tar.gz.gpg "$A1.tar.gz.gpg"
	tap_data t1.tap 1 "$(arch_size "$A2")" | cmp - "$A2.tar.gz.gpg"

	# the same archive to two media at once, plainly in the background
	mkdir usb2
	label U2 daily usb2
	label T2 weekly tape:t2.tap
	two_writes w3.out usb2 "$BIG" w4.out tape:t2.tap "$BIG"
	wait "$p1" || fail "third: $(cat w3.out)"
	wait "$p2" || fail "fourth: $(cat w4.out)"
	[ "$(copy_rows big.tar.gz.gpg U2)" = "good|big.tar.gz.gpg" ]
	[ "$(copy_rows big.tar.gz.gpg T2)" = "good|1" ]
	[ "$(cq "SELECT count(*) FROM archives WHERE name = 'big.tar.gz.gpg'")" -eq 1 ]
	run -0 gb-catalog audit --verify
}

@test "two gb-write runs at once on the same tape image: the second fails cleanly, 'in use'" {
	label T1 weekly tape:t1.tap
	fifo_archive "$W/s1/a1" "$A1"
	feed "$W/s1/a1.tar.gz.gpg" "$A1.tar.gz.gpg" 1000 "$W/go"
	gb-write tape:t1.tap "$W/s1/a1" >w1.out 2>&1 &
	local p1=$!
	bg_started "$p1"
	wait_for copy_status_is a1.tar.gz.gpg T1 writing || fail "$(cat w1.out)"
	run -3 gb-write tape:t1.tap "$A2"
	assert_output --partial "tape:t1.tap is in use by another gb-write"
	[ "$(cq "SELECT count(*) FROM copies WHERE archive = 'a2.tar.gz.gpg'")" -eq 0 ]
	touch "$W/go"
	wait "$p1" || fail "first: $(cat w1.out)"
	[ "$(copy_rows a1.tar.gz.gpg T1)" = "good|1" ]
	run -0 tap_files t1.tap
	assert_output "$(printf 'file %d: 1 records of 262144\n' 0 1 2)"
	tap_data t1.tap 1 "$(arch_size "$A1")" | cmp - "$A1.tar.gz.gpg"
}

@test "two gb-write runs at once on the same directory medium: the second fails cleanly, 'in use'" {
	mkdir usb
	label U1 daily usb
	fifo_archive "$W/s1/a1" "$A1"
	feed "$W/s1/a1.tar.gz.gpg" "$A1.tar.gz.gpg" 1000 "$W/go"
	gb-write usb "$W/s1/a1" >w1.out 2>&1 &
	local p1=$!
	bg_started "$p1"
	wait_for copy_status_is a1.tar.gz.gpg U1 writing || fail "$(cat w1.out)"
	run -3 gb-write usb "$A2"
	assert_output --partial "usb is in use by another gb-write"
	[ ! -e usb/a2.tar.gz.gpg ]
	[ "$(cq "SELECT count(*) FROM copies WHERE archive = 'a2.tar.gz.gpg'")" -eq 0 ]
	touch "$W/go"
	wait "$p1" || fail "first: $(cat w1.out)"
	[ "$(copy_rows a1.tar.gz.gpg U1)" = "good|a1.tar.gz.gpg" ]
	run -0 gb-write usb "$A2"
}

# ----------------------------------------------------------------- crash

# kill_mid_write MEDIA BYTES_ON_MEDIA FILE: gb-write MEDIA of the big
# archive through a FIFO fed with 4 MB of it, killed -9 once FILE holds
# BYTES_ON_MEDIA bytes; then the FIFO is replaced by the real archive.
kill_mid_write() {
	local media=$1 want=$2 file=$3 args=("${@:4}")
	fifo_archive "$W/sp/big" "$BIG"
	gb-write "${args[@]}" "$media" "$W/sp/big" >w.out 2>&1 &
	local p=$!
	bg_started "$p"
	feed "$W/sp/big.tar.gz.gpg" "$BIG.tar.gz.gpg" 4000000
	wait_for eval '[ "$(fsize $file)" -ge '"$want"' ]' ||
	    fail "the write did not get far: $(cat w.out)"
	kill -9 "$p"
	wait "$p" 2>/dev/null || true
	kill "$FEED_PID" 2>/dev/null || true
	wait "$FEED_PID" 2>/dev/null || true
	rm -f "$W/sp/big.tar.gz.gpg"
	cp "$BIG.tar.gz.gpg" "$W/sp/big.tar.gz.gpg"
}

@test "a killed gb-write (directory) leaves its copy 'writing', never good; gb-catalog copies shows it; a rerun works" {
	mkdir usb
	label U1 daily usb
	kill_mid_write usb 2000000 'usb/big.tar.gz.gpg.tmp.*'
	[ "$(copy_rows big.tar.gz.gpg U1)" = "writing|big.tar.gz.gpg" ]
	[ ! -e usb/big.tar.gz.gpg ]
	run -0 gb-catalog copies big.tar.gz.gpg
	assert_line --regexp '^big\.tar\.gz\.gpg +U1 +onsite +big\.tar\.gz\.gpg +writing +'
	run -0 gb-write usb "$W/sp/big"
	cmp usb/big.tar.gz.gpg "$BIG.tar.gz.gpg"
	# the copy left 'writing' is the one the rerun finished
	[ "$(copy_rows big.tar.gz.gpg U1 | tr '\n' ' ')" = \
	    "good|big.tar.gz.gpg " ]
	grep -q "^big.tar.gz.gpg	$(arch_size "$BIG")	$(arch_sha "$BIG")	" usb/GYMBACKUP.INDEX
}

@test "gb-write of another archive removes every stale temporary file of ours on the medium (a job's rerun names a new archive), never a live writer's" {
	mkdir usb
	label U1 daily usb
	kill_mid_write usb 2000000 'usb/big.tar.gz.gpg.tmp.*'
	local stale pid live
	stale=$(compgen -G 'usb/big.tar.gz.gpg.tmp.*')
	pid=${stale%.*}
	pid=${pid##*.}
	sleep 60 &
	live=$!
	GB_BG_PIDS+=("$live")
	: >"usb/other.tar.gz.gpg.tmp.$live.abcdef"
	run -0 gb-write usb "$A1"
	assert_line "gb-write: removed $stale, left by process $pid, which did not finish"
	[ ! -e "$stale" ]
	[ -e "usb/other.tar.gz.gpg.tmp.$live.abcdef" ]
	[ "$(copy_rows a1.tar.gz.gpg U1)" = "good|a1.tar.gz.gpg" ]
}

@test "a killed gb-write (tape image) leaves its copy 'writing'; a rerun writes a whole, good copy" {
	label T1 weekly -b 64k tape:t1.tap
	kill_mid_write tape:t1.tap 2000000 t1.tap -b 64k
	[ "$(copy_rows big.tar.gz.gpg T1)" = "writing|1" ]
	run -0 gb-catalog copies
	assert_line --regexp '^big\.tar\.gz\.gpg +T1 +onsite +1 +writing +'
	run gb-write -b 64k tape:t1.tap "$W/sp/big"
	[ "$status" -eq 0 ] || fail "the rerun failed (exit $status): $output"
	local pos
	pos=$(cq "SELECT position FROM copies WHERE archive = 'big.tar.gz.gpg'
	    AND status = 'good'")
	[ -n "$pos" ] || fail "no good copy: $(copy_rows big.tar.gz.gpg T1)"
	tap_data t1.tap "$pos" "$(arch_size "$BIG")" | cmp - "$BIG.tar.gz.gpg"
}

@test "after a killed gb-write on a tape image, a rerun with --no-verify records no bad copy as good" {
	label T1 weekly -b 64k tape:t1.tap
	kill_mid_write tape:t1.tap 2000000 t1.tap -b 64k
	gb-write --no-verify -b 64k tape:t1.tap "$W/sp/big" 2>/dev/null || true
	local pos
	for pos in $(cq "SELECT position FROM copies WHERE archive =
	    'big.tar.gz.gpg' AND status = 'good'"); do
		tap_data t1.tap "$pos" "$(arch_size "$BIG")" >got ||
		    fail "tape file $pos: not the archive and its padding"
		cmp -s got "$BIG.tar.gz.gpg" ||
		    fail "copy recorded good at tape file $pos does not hold the archive"
	done
}

# ------------------------------------------------------------------ reuse

@test "a full tape image that expire frees is written over from file 1" {
	mkdir usb
	label T1 weekly --capacity 1000000 tape:t1.tap
	label U1 weekly usb
	run -0 gb-write tape:t1.tap "$A1"
	run -3 gb-write tape:t1.tap "$A2"
	run -0 gb-write usb "$A2"
	[ "$(cq "SELECT state FROM media WHERE id = 'T1'")" = full ]
	# a2 is the newer full of job members: a1 goes, T1 holds nothing live
	run -0 gb-catalog expire --date "$(day 60)"
	assert_line "expire a1.tar.gz.gpg"
	assert_line "free T1: nothing live left, reusable"
	[ "$(cq "SELECT state FROM media WHERE id = 'T1'")" = usable ]
	run gb-write tape:t1.tap "$A3"
	[ "$status" -eq 0 ] || fail "the freed medium cannot be written (exit $status): $output"
	[ "$(copy_rows a3.tar.gz.gpg T1)" = "good|1" ]
	run -0 tap_files t1.tap
	assert_output "$(printf 'file %d: 1 records of 262144\n' 0 1 2)"
	tap_data t1.tap 1 "$(arch_size "$A3")" | cmp - "$A3.tar.gz.gpg"
	run -0 tap_text t1.tap 0
	assert_line -n 1 "$(printf 'medium\tT1')"
	[ "$(cq "SELECT bytes_used FROM media WHERE id = 'T1'")" -eq "$(arch_size "$A3")" ] ||
	    fail "bytes_used $(cq "SELECT bytes_used FROM media WHERE id = 'T1'") after writing over, not $(arch_size "$A3")"
}

@test "a directory medium gives back the space of expired archives before a write" {
	mkdir usb usb2
	label U1 daily usb
	label U2 daily usb2
	run -0 gb-write usb "$A1"
	run -0 gb-write usb2 "$A2"
	run -0 gb-catalog expire --date "$(day 60)"
	assert_line "expire a1.tar.gz.gpg"
	[ -e usb/a1.tar.gz.gpg ]
	run -0 gb-write usb "$A3"
	[ "$(ls -A usb | sort | tr '\n' ' ')" = \
	    "GYMBACKUP.CHECKPOINT GYMBACKUP.INDEX GYMBACKUP.LABEL a3.seal a3.tar.gz.gpg " ]
	cmp usb/a3.tar.gz.gpg "$A3.tar.gz.gpg"
	run -0 grep -v '^#' usb/GYMBACKUP.INDEX
	assert_output --regexp '^a3\.tar\.gz\.gpg	'
	[ "${#lines[@]}" -eq 1 ]
	[ "$(cq "SELECT count(*) FROM audit WHERE action = 'reclaim' AND object = 'U1'")" -eq 1 ]
	# the other drive's live archive is untouched
	cmp usb2/a2.tar.gz.gpg "$A2.tar.gz.gpg"
}

# ------------------------------------------- failures after the rename

# after_rename_ok MEDIUM ARCHIVE: the copy on MEDIUM is good, exactly one
# row, read back, and no copy of ARCHIVE is left 'writing'.
after_rename_ok() {
	[ "$(cq "SELECT group_concat(status) FROM copies WHERE archive =
	    'a1.tar.gz.gpg'")" = good ] ||
	    fail "copies of a1: $(cq "SELECT id, medium, status, position FROM copies")"
	[ -n "$(cq "SELECT verified_at FROM copies WHERE status = 'good'")" ]
}

# killed_after_rename: a1 written to a fresh directory medium usb (U1) by
# a gb-write killed (kill -9) right after its seal's rename.
killed_after_rename() {
	mkdir usb
	label U1 daily usb
	run faulty killafter:rename:1@usb/a1.seal gb-write usb "$A1"
	[ "$status" -eq 137 ] || fail "exit $status (want SIGKILL): $output"
}

# dir_whole: usb holds a1 and its seal as in the spool, and the index
# lists a1 once.
dir_whole() {
	cmp usb/a1.tar.gz.gpg "$A1.tar.gz.gpg"
	cmp usb/a1.seal "$A1.seal"
	[ "$(grep -c '^a1\.tar\.gz\.gpg	' usb/GYMBACKUP.INDEX)" = 1 ]
	[ "$(ls -A usb | sort | tr '\n' ' ')" = \
	    "GYMBACKUP.CHECKPOINT GYMBACKUP.INDEX GYMBACKUP.LABEL a1.seal a1.tar.gz.gpg " ] ||
	    fail "on the drive: $(ls -A usb | tr '\n' ' ')"
}

@test "a catalog locked past its timeout after the rename (directory): exit 3, copy 'writing'; the plain rerun finishes it, good once" {
	mkdir usb
	label U1 daily usb
	fifo_archive "$W/sp/a1" "$A1"
	GB_CATALOG_TIMEOUT=1 gb-write usb "$W/sp/a1" >w.out 2>&1 &
	local p=$!
	feed "$W/sp/a1.tar.gz.gpg" "$A1.tar.gz.gpg" 0 "$W/go"
	wait_for writing_rows 1 || fail "no copy 'writing': $(cat w.out)"
	lock_catalog
	touch "$W/go"
	local rc=0
	wait "$p" || rc=$?
	unlock_catalog
	[ "$rc" = 3 ] || fail "exit $rc (want 3): $(cat w.out)"
	grep -q "locked" w.out || fail "$(cat w.out)"
	# the archive is in place, whole, and not recorded good
	cmp usb/a1.tar.gz.gpg "$A1.tar.gz.gpg"
	[ "$(copy_rows a1.tar.gz.gpg U1)" = "writing|a1.tar.gz.gpg" ]
	run -0 gb-write usb "$A1"
	assert_output --partial "a1.tar.gz.gpg: written to U1"
	refute_output --partial "exists on the medium"
	after_rename_ok
	dir_whole
}

@test "a directory fsync that fails after the rename (EIO): exit 3, nothing good; the plain rerun finishes the copy, good once" {
	mkdir usb
	label U1 daily usb
	run faulty fsync:1@usb gb-write usb "$A1"
	[ "$status" -eq 3 ] || fail "exit $status (want 3): $output"
	assert_output --partial "Input/output error"
	assert_output --partial "run gb-write again to finish it"
	[ "$(copy_rows a1.tar.gz.gpg U1)" = "writing|a1.tar.gz.gpg" ]
	cmp usb/a1.tar.gz.gpg "$A1.tar.gz.gpg"
	run -0 gb-write usb "$A1"
	refute_output --partial "exists on the medium"
	after_rename_ok
	dir_whole
}

@test "gb-write killed -9 right after the archive's rename, or the seal's: the plain rerun finishes the copy, good once" {
	local at
	for at in a1.tar.gz.gpg a1.seal; do
		rm -rf usb "$CAT"
		mkdir usb
		label U1 daily usb
		run faulty "killafter:rename:1@usb/$at" gb-write usb "$A1"
		[ "$status" -eq 137 ] || fail "$at: exit $status (want SIGKILL): $output"
		[ -e "usb/$at" ]
		[ "$(copy_rows a1.tar.gz.gpg U1)" = "writing|a1.tar.gz.gpg" ]
		run -0 gb-write usb "$A1"
		assert_output --partial "finished the copy"
		after_rename_ok
		dir_whole
	done
}

@test "gb-write sent TERM right after the archive's rename: it ends once the seal is in place too (never an archive without its seal); the rerun finishes" {
	mkdir usb
	label U1 daily usb
	run faulty "termafter:rename:1@usb/a1.tar.gz.gpg" gb-write usb "$A1"
	[ "$status" -eq 143 ] || fail "exit $status (want SIGTERM): $output"
	cmp usb/a1.tar.gz.gpg "$A1.tar.gz.gpg"
	cmp usb/a1.seal "$A1.seal"
	gb-verify usb/a1.tar.gz.gpg >/dev/null
	[ "$(copy_rows a1.tar.gz.gpg U1)" = "writing|a1.tar.gz.gpg" ]
	run -0 gb-write usb "$A1"
	assert_output --partial "finished the copy"
	after_rename_ok
	dir_whole
}

@test "an archive on the medium that is not the sealed one (same name) is replaced by the rerun, never recorded good" {
	killed_after_rename
	flip_bit usb/a1.tar.gz.gpg 1000
	run -0 gb-write usb "$A1"
	assert_output --partial "not the archive its seal describes"
	after_rename_ok
	dir_whole
}

@test "the index is written before the copy is recorded good: a failing index leaves nothing good, the rerun finishes" {
	mkdir usb
	label U1 daily usb
	# the index cannot be renamed into place: a directory of its name
	mkdir usb/GYMBACKUP.INDEX
	run gb-write usb "$A1"
	[ "$status" -eq 3 ] || fail "exit $status (want 3): $output"
	[ "$(copy_rows a1.tar.gz.gpg U1)" = "writing|a1.tar.gz.gpg" ] ||
	    fail "a failed run recorded: $(copy_rows a1.tar.gz.gpg U1)"
	assert_output --partial "cannot write the index"
	assert_output --partial "run gb-write again to finish it"
	rmdir usb/GYMBACKUP.INDEX
	run -0 gb-write usb "$A1"
	after_rename_ok
	dir_whole
}

@test "tape image: a catalog locked after the seal's mark, and a kill -9 there: the plain rerun finishes the copy at its file, good once" {
	local how
	for how in lock kill; do
		rm -f t1.tap "$CAT"
		label T1 weekly tape:t1.tap
		if [ "$how" = lock ]; then
			fifo_archive "$W/sp/a1" "$A1"
			GB_CATALOG_TIMEOUT=1 gb-write tape:t1.tap "$W/sp/a1" >w.out 2>&1 &
			local p=$! rc=0
			feed "$W/sp/a1.tar.gz.gpg" "$A1.tar.gz.gpg" 0 "$W/go"
			wait_for writing_rows 1 || fail "no copy 'writing': $(cat w.out)"
			lock_catalog
			touch "$W/go"
			wait "$p" || rc=$?
			unlock_catalog
			[ "$rc" = 3 ] || fail "exit $rc (want 3): $(cat w.out)"
		else
			run faulty killafter:fsync:1@t1.tap gb-write tape:t1.tap "$A1"
			[ "$status" -eq 137 ] || fail "exit $status (want SIGKILL): $output"
		fi
		[ "$(copy_rows a1.tar.gz.gpg T1)" = "writing|1" ]
		run -0 tap_files t1.tap
		assert_output "$(printf 'file %d: 1 records of 262144\n' 0 1 2)"
		run -0 gb-write tape:t1.tap "$A1"
		[ "$(copy_rows a1.tar.gz.gpg T1)" = "good|1" ] ||
		    fail "$how: $(copy_rows a1.tar.gz.gpg T1 | tr '\n' ' ')"
		assert_output --partial "finished the copy"
		# written once: label, archive, seal; the next goes to file 3
		run -0 tap_files t1.tap
		assert_output "$(printf 'file %d: 1 records of 262144\n' 0 1 2)"
		tap_data t1.tap 1 "$(arch_size "$A1")" | cmp - "$A1.tar.gz.gpg"
		[ "$(cq "SELECT next_file || ' ' || bytes_used FROM media")" = \
		    "3 $(arch_size "$A1")" ]
		run -0 gb-write tape:t1.tap "$A2"
		[ "$(copy_rows a2.tar.gz.gpg T1)" = "good|3" ]
	done
}

# ------------------------------------------------ text around the seal

# forge SEAL OUT: SEAL with a forged, unsigned statement before its
# clear-signed message and another after it (the export id of the
# manifest replaced, the rows of every table zero).
forge() {
	local plain
	plain=$(gpg --batch --quiet --decrypt "$1" 2>/dev/null |
	    awk -F'\t' -v OFS='\t' '$1 == "id" { $2 = "FORGED-ID" }
	    $1 == "rows" && NF == 3 { $3 = 0 } 1')
	[ -n "$plain" ] || return 1
	{
		printf 'Forged statement:\n%s\n\n' "$plain"
		cat "$1"
		printf '\n%s\n' "$plain"
	} >"$2"
}

@test "a seal with unsigned text around its signed message: gb-write keeps only the signed message; gb-catalog manifest gives the signed manifest" {
	mkdir usb sp
	label U1 daily usb
	cp "$A1.tar.gz.gpg" sp/
	forge "$A1.seal" sp/a1.seal
	grep -q FORGED-ID sp/a1.seal
	run -0 gb-write usb sp/a1
	# the catalog and the medium hold the signed message exactly as made
	sqlite3 "$CAT" "SELECT writefile('$W/stored', seal) FROM archives" >/dev/null
	cmp "$W/stored" "$A1.seal"
	cmp usb/a1.seal "$A1.seal"
	[ "$(cq "SELECT export_id FROM archives")" = \
	    "$(awk -F'\t' '$1 == "id" { print $2 }' "$A1.set/MANIFEST")" ]
	[ "$(cq "SELECT rows FROM archives")" -gt 0 ]
	run -0 gb-catalog manifest a1.tar.gz.gpg
	assert_equal "$output" "$(cat "$A1.set/MANIFEST")"
	refute_output --partial FORGED

	# a catalog that kept such text (written by an older gb-write): only
	# the signed message is read
	"$PY" -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE archives SET seal = ?", (open(sys.argv[2]).read(),))
c.commit()' "$CAT" sp/a1.seal
	run -0 gb-catalog manifest a1.tar.gz.gpg
	assert_equal "$output" "$(cat "$A1.set/MANIFEST")"
	# and a stored seal whose signed text was changed is refused
	"$PY" -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
s = open(sys.argv[2]).read().replace("\ntables\t", "\ntables\t1", 1)
c.execute("UPDATE archives SET seal = ?", (s,))
c.commit()' "$CAT" "$A1.seal"
	run -1 gb-catalog manifest a1.tar.gz.gpg
	assert_output --partial "the seal in the catalog does not verify"
	# two signed messages in one seal file: which one counts is not ours
	# to guess
	cat "$A1.seal" "$A2.seal" >sp/a1.seal
	run -1 gb-write usb sp/a1
	assert_output --partial "more than one signed message"
}

@test "an archive on the medium that is not the sealed one, whose seal cannot be removed: exit 3, the archive stays (never a seal without its archive)" {
	killed_after_rename
	flip_bit usb/a1.tar.gz.gpg 1000
	cp usb/a1.tar.gz.gpg flipped
	# a seal that unlink(2) cannot take: a directory of its name
	rm usb/a1.seal
	mkdir -p usb/a1.seal/x
	run gb-write usb "$A1"
	[ "$status" -eq 3 ] || fail "exit $status (want 3): $output"
	assert_output --partial "not the archive its seal describes"
	assert_output --partial "cannot remove usb/a1.seal: Is a directory"
	cmp usb/a1.tar.gz.gpg flipped
}

# ------------------------------------------------ output for a program

@test "--tsv: one 'written' record per copy, tab-separated, on stdout alone: a directory, a tape image, --no-verify" {
	mkdir usb
	label U1 daily usb
	run -0 --separate-stderr gb-write --tsv usb "$A1"
	assert_output "$(printf 'written\ta1.tar.gz.gpg\tU1\tfile\ta1.tar.gz.gpg\tread-back\tnew')"
	[ -z "$stderr" ] || fail "stderr: $stderr"
	label T1 weekly tape:t1.tap
	run -0 --separate-stderr gb-write --tsv tape:t1.tap "$A1"
	assert_output "$(printf 'written\ta1.tar.gz.gpg\tT1\ttape\t1\tread-back\tnew')"
	run -0 --separate-stderr gb-write --tsv --no-verify tape:t1.tap "$A2"
	assert_output "$(printf 'written\ta2.tar.gz.gpg\tT1\ttape\t3\tunverified\tnew')"
	[ "$(copy_rows a2.tar.gz.gpg T1)" = "good|3" ]
	# --tsv is for writing only
	run -2 gb-write --tsv --label U2 --pool daily usb
	assert_output --partial "usage: gb-write"
}

@test "--tsv: a copy an earlier gb-write left is 'finished' (directory, after a kill -9; tape image, after a kill -9 at the seal's mark)" {
	killed_after_rename
	run -0 --separate-stderr gb-write --tsv usb "$A1"
	assert_output "$(printf 'written\ta1.tar.gz.gpg\tU1\tfile\ta1.tar.gz.gpg\tread-back\tfinished')"
	[ "$(copy_rows a1.tar.gz.gpg U1)" = "good|a1.tar.gz.gpg" ]
	label T1 weekly tape:t1.tap
	run faulty killafter:fsync:1@t1.tap gb-write tape:t1.tap "$A1"
	[ "$status" -eq 137 ] || fail "exit $status (want SIGKILL): $output"
	run -0 --separate-stderr gb-write --tsv tape:t1.tap "$A1"
	assert_output "$(printf 'written\ta1.tar.gz.gpg\tT1\ttape\t1\tread-back\tfinished')"
	[ "$(copy_rows a1.tar.gz.gpg T1)" = "good|1" ]
}

@test "--tsv: a medium that fills up gives 'full' and its id on stdout, exit 3, the reason on stderr" {
	label T1 weekly --capacity 300000 tape:t1.tap
	run -3 --separate-stderr gb-write --tsv tape:t1.tap "$A1"
	assert_output "$(printf 'full\tT1')"
	[[ $stderr == *"medium T1 is full"* ]] || fail "stderr: $stderr"
	[ "$(cq "SELECT state FROM media WHERE id = 'T1'")" = full ]
}

@test "standard output that cannot be written: exit 3 and a message (gb-write's line, gb-catalog's list, a usage)" {
	mkdir usb
	label U1 daily usb
	local rc=0
	gb-write usb "$A1" >/dev/full 2>err || rc=$?
	[ "$rc" = 3 ] || fail "gb-write: exit $rc (want 3): $(cat err)"
	[ "$(cat err)" = "gb-write: cannot write standard output: No space left on device" ] ||
	    fail "gb-write: $(cat err)"
	rc=0
	gb-catalog media list >/dev/full 2>err || rc=$?
	[ "$rc" = 3 ] || fail "gb-catalog: exit $rc (want 3): $(cat err)"
	[ "$(cat err)" = "gb-catalog: cannot write standard output: No space left on device" ] ||
	    fail "gb-catalog: $(cat err)"
	rc=0
	gb-verify --help >/dev/full 2>err || rc=$?
	[ "$rc" = 3 ] || fail "gb-verify --help: exit $rc (want 3): $(cat err)"
	grep -q "^gb-verify: cannot write standard output" err
	# stdout that works: nothing changes
	run -0 gb-catalog media list
	assert_output --partial "U1"
}
