#!/usr/bin/env bats
# Tapes and tape images that are not as gb-write left them whole: a seal
# larger than a record, an archive without its seal (a write killed or
# failed between the two tape files), a damaged record length in the
# middle or at the end.  Archives are found by content, nothing shifts,
# nothing intact is ever cut away.

load helper
load media-helper

setup_file() { members_setup_file 4; }

teardown_file() { media_teardown_file; }

SP=$BATS_FILE_TMPDIR/fx/spool

# label ID MEDIA [ARGS...]: a tape image of pool weekly.
label() {
	local id=$1
	shift
	gb-write --label "$id" --pool weekly "$@" 2>/dev/null ||
	    fail "gb-write --label $id $* failed"
}

# put MEDIA N... [-- ARGS]: gb-write of archives aN, each must succeed.
put() {
	local media=$1 n
	shift
	for n in "$@"; do
		gb-write "$media" "$SP/a$n" >/dev/null 2>&1 ||
		    fail "gb-write $media a$n failed"
	done
}

# The copies rows of an archive: "status|position".
copy_rows() {
	cq "SELECT status || '|' || position FROM copies WHERE archive = '$1'
	    ORDER BY id" | tr '\n' ' '
}

# nocat: a config with the keys and no catalog, so that the tools find
# archives on a tape by its content alone.
nocat() {
	printf '[keys]\nsigner = %s\nrecipients = %s %s\n' "$SIGNER" "$RCPT1" \
	    "$RCPT2" >"$W/nocat.conf"
	echo "$W/nocat.conf"
}

# same_archive N IMAGE FILE: tape file FILE holds archive aN (and zeros).
same_archive() {
	tap_data "$2" "$3" "$(arch_size "$SP/a$1")" | cmp - "$SP/a$1.tar.gz.gpg" ||
	    fail "tape file $3 of $2 is not a$1.tar.gz.gpg"
}
same_seal() {
	tap_text "$2" "$3" | cmp - "$SP/a$1.seal" ||
	    fail "tape file $3 of $2 is not a$1.seal"
}

# restored N IMAGE [ARGS]: gb-restore -o of aN from the image equals its
# export set, file for file.
restored() {
	local n=$1 media=$2
	shift 2
	rm -rf "out$n"
	run env GNUPGHOME="$KEYS/all" gb-restore "$@" --media "$media" -o "out$n" "a$n"
	[ "$status" -eq 0 ] || fail "gb-restore of a$n from $media (exit $status): $output"
	diff -r "out$n" "$SP/a$n.set" || fail "a$n restored from $media differs"
}

# ------------------------------------------------------------ item 7

@test "tape: a seal larger than a record (-b 512) goes in as many records, and is read back whole" {
	label T1 -b 512 tape:t1.tap
	local seal recs recs2
	seal=$(stat -c %s "$SP/a1.seal")
	recs=$(((seal + 511) / 512))
	recs2=$((($(stat -c %s "$SP/a2.seal") + 511) / 512))
	[ "$recs" -gt 1 ] || fail "the seal ($seal bytes) fits one record"
	run -0 gb-write -b 512 tape:t1.tap "$SP/a1"
	assert_output --partial "written to T1 (tape file 1), read back OK"
	run -0 gb-write -b 512 tape:t1.tap "$SP/a2"
	assert_output --partial "(tape file 3)"
	# each seal's tape file holds the seal, a NUL and the checkpoint
	recs=$(((seal + 1 + $(tap_checkpoint t1.tap 2 | wc -c) + 511) / 512))
	recs2=$((($(stat -c %s "$SP/a2.seal") + 1 + $(tap_checkpoint t1.tap 4 |
	    wc -c) + 511) / 512))
	run -0 tap_files t1.tap
	assert_line -n 2 "file 2: $recs records of 512"
	assert_line -n 4 "file 4: $recs2 records of 512"
	[ "${#lines[@]}" -eq 5 ]
	same_archive 1 t1.tap 1
	same_seal 1 t1.tap 2
	same_archive 2 t1.tap 3
	same_seal 2 t1.tap 4
	[ "$(copy_rows a1.tar.gz.gpg)" = "good|1 " ]
	[ "$(copy_rows a2.tar.gz.gpg)" = "good|3 " ]
	# read back: where the catalog says, and by content without it
	run -0 gb-verify --media tape:t1.tap a1 a2
	assert_line "a1.tar.gz.gpg: OK on T1"
	assert_line "a2.tar.gz.gpg: OK on T1"
	run -0 gb-verify -c "$(nocat)" --media tape:t1.tap a2 a1
	assert_line "a1.tar.gz.gpg: OK on T1"
	assert_line "a2.tar.gz.gpg: OK on T1"
	restored 2 tape:t1.tap -c "$W/nocat.conf"
}

@test "tape: an archive without its seal shifts nothing: it is skipped with a warning, the archives after it are found" {
	label T1 tape:t1.tap
	put tape:t1.tap 1 2 3
	# a2's seal is gone: label, a1, s1, a2, a3, s3
	tap_cut t1.tap 4
	run -0 tap_files t1.tap
	[ "${#lines[@]}" -eq 6 ]
	same_archive 3 t1.tap 4
	# by content alone (no catalog), and with the catalog's (now wrong) hint
	local conf
	for conf in "$(nocat)" "$CONF"; do
		run -0 gb-verify -c "$conf" --media tape:t1.tap a3 a1
		assert_line "a3.tar.gz.gpg: OK on T1"
		assert_line "a1.tar.gz.gpg: OK on T1"
		assert_line --partial "tape:t1.tap tape file 3: an archive without its seal"
		run -1 gb-verify -c "$conf" --media tape:t1.tap a2
		assert_line "a2: FAIL: a2.tar.gz.gpg is not on tape:t1.tap"
	done
	restored 3 tape:t1.tap -c "$W/nocat.conf"
	restored 1 tape:t1.tap
}

@test "tape: after a write that stopped between the archive and its seal, the next gb-write writes over the lone archive" {
	label T1 tape:t1.tap
	put tape:t1.tap 1 2
	# what a gb-write killed after a2's tape file leaves: a2 without its
	# seal, its copy 'writing'
	tap_keep t1.tap 4
	cq "UPDATE copies SET status = 'writing', written_at = NULL,
	    verified_at = NULL WHERE archive = 'a2.tar.gz.gpg'"
	cp t1.tap before.tap
	run -0 gb-write tape:t1.tap "$SP/a3"
	assert_line "a3.tar.gz.gpg: written to T1 (tape file 3), read back OK"
	assert_line "gb-write: warning: tape:t1.tap tape file 3: an archive without its seal, left by a write that did not finish; written over"
	run -0 tap_files t1.tap
	assert_output "$(printf 'file %d: 1 records of 262144\n' 0 1 2 3 4)"
	# the label, a1 and its seal are byte for byte as they were
	cmp -n "$(tap_offset before.tap 3 0)" t1.tap before.tap
	same_archive 1 t1.tap 1
	same_seal 1 t1.tap 2
	same_archive 3 t1.tap 3
	same_seal 3 t1.tap 4
	# a2 written again goes after a3
	run -0 gb-write tape:t1.tap "$SP/a2"
	assert_output --partial "(tape file 5)"
	[ "$(copy_rows a2.tar.gz.gpg)" = "writing|3 good|5 " ] ||
	    fail "a2: $(copy_rows a2.tar.gz.gpg)"
	run -0 gb-verify -c "$(nocat)" --media tape:t1.tap a1 a2 a3
	assert_output "$(printf 'a%s.tar.gz.gpg: OK on T1\n' 1 2 3; echo '3 checked, 3 OK, 0 failed')"
}

@test "tape: a seal that finds the medium full leaves an archive without its seal; it is skipped, and written over once the tape takes more" {
	# label, a1, its seal and a2 take 4 records of 256 KiB and 4 marks;
	# a2's seal does not fit
	label T1 --capacity $((4 * 262156 + 100)) tape:t1.tap
	put tape:t1.tap 1
	run -3 gb-write tape:t1.tap "$SP/a2"
	assert_output --partial "medium T1 is full"
	[ "$(copy_rows a2.tar.gz.gpg)" = "failed|3 " ]
	run -0 tap_files t1.tap
	assert_output "$(printf 'file %d: 1 records of 262144\n' 0 1 2 3)"
	same_archive 2 t1.tap 3
	run -0 gb-verify -c "$(nocat)" --media tape:t1.tap a1
	assert_line "a1.tar.gz.gpg: OK on T1"
	run -1 gb-verify -c "$(nocat)" --media tape:t1.tap a2
	assert_line "gb-verify: warning: tape:t1.tap tape file 3: an archive without its seal (a write that did not finish), skipped"
	assert_line "a2: FAIL: a2.tar.gz.gpg is not on tape:t1.tap"
	# the image grown (as a larger tape would), the medium usable again
	cq "UPDATE media SET state = 'usable', capacity = 0 WHERE id = 'T1'"
	run -0 gb-write tape:t1.tap "$SP/a3"
	assert_line "a3.tar.gz.gpg: written to T1 (tape file 3), read back OK"
	same_archive 1 t1.tap 1
	same_seal 1 t1.tap 2
	same_archive 3 t1.tap 3
	same_seal 3 t1.tap 4
	run -0 tap_files t1.tap
	[ "${#lines[@]}" -eq 5 ]
}

# ------------------------------------------------------------ item 8

@test "tape image: a damaged record length in the middle erases nothing; gb-write refuses (exit 3) naming the image and byte" {
	local kind off
	for kind in leading trailing; do
		rm -f t1.tap "$CAT"
		label T1 tape:t1.tap
		put tape:t1.tap 1 2 3
		cp t1.tap whole.tap
		# a2's record: its leading length says too long, or its
		# trailing length is not its leading one
		off=$(tap_offset t1.tap 3 0)
		if [ "$kind" = leading ]; then
			tap_poke t1.tap "$off" 0x00fffff0
		else
			tap_poke t1.tap "$((off + 4 + 262144))" 0x00012345
		fi
		cp t1.tap damaged.tap
		run -3 gb-write tape:t1.tap "$SP/a4"
		assert_output "gb-write: tape:t1.tap: damaged record at byte $off, before tape file 7 where the good copies the catalog records on T1 end; nothing written: write to another medium, and check this one with gb-verify --media"
		cmp t1.tap damaged.tap || fail "$kind: gb-write changed the image"
		[ "$(cq "SELECT count(*) FROM copies WHERE archive = 'a4.tar.gz.gpg'")" -eq 0 ]
		# the catalog still has the three
		run -0 gb-catalog copies
		assert_line --regexp '^a1\.tar\.gz\.gpg +T1 +onsite +1 +good '
		assert_line --regexp '^a2\.tar\.gz\.gpg +T1 +onsite +3 +good '
		assert_line --regexp '^a3\.tar\.gz\.gpg +T1 +onsite +5 +good '
		# the intact ones read, with the catalog and by content; the
		# damaged one is a FAIL naming the byte
		local conf
		for conf in "$CONF" "$(nocat)"; do
			run -1 gb-verify -c "$conf" --media tape:t1.tap a1 a2 a3
			assert_line "a1.tar.gz.gpg: OK on T1"
			assert_line "a3.tar.gz.gpg: OK on T1"
			assert_line "a2: FAIL: tape:t1.tap: damaged record at byte $off (tape file 3)"
			assert_line "3 checked, 2 OK, 1 failed"
		done
		restored 3 tape:t1.tap -c "$W/nocat.conf"
		restored 1 tape:t1.tap
		cmp t1.tap damaged.tap
		# only a2's length word differs from the whole image
		[ "$(cmp -l t1.tap whole.tap | wc -l)" -le 4 ]
	done
}

@test "tape image: shorter than the good copies the catalog records on it: nothing written (exit 3), nothing cut" {
	label T1 tape:t1.tap
	put tape:t1.tap 1 2
	# a2 and its seal gone from the image (an older copy of it, restored)
	tap_keep t1.tap 3
	cp t1.tap short.tap
	run -3 gb-write tape:t1.tap "$SP/a3"
	assert_output "gb-write: tape:t1.tap ends at tape file 3, before tape file 5 where the good copies the catalog records on T1 end; nothing written"
	cmp t1.tap short.tap
	[ "$(cq "SELECT count(*) FROM copies WHERE archive = 'a3.tar.gz.gpg'")" -eq 0 ]
}

@test "tape image: damage in the last seal's record is reported, not cut away with the seal" {
	label T1 tape:t1.tap
	put tape:t1.tap 1 2 3
	local off
	off=$(tap_offset t1.tap 6 0)
	tap_poke t1.tap "$off" 0x00fffff0
	cp t1.tap damaged.tap
	run -3 gb-write tape:t1.tap "$SP/a4"
	assert_output --partial "gb-write: tape:t1.tap: damaged record at byte $off, before tape file 7"
	cmp t1.tap damaged.tap
	[ "$(fsize t1.tap)" -eq "$(fsize damaged.tap)" ]
	run -0 gb-verify --media tape:t1.tap a1 a2
	assert_line "a1.tar.gz.gpg: OK on T1"
	assert_line "a2.tar.gz.gpg: OK on T1"
	# a3's archive is whole on the tape, its seal damaged: a FAIL, never OK
	run -1 gb-verify --media tape:t1.tap a3
	assert_line "a3: FAIL: a3.tar.gz.gpg is not on tape:t1.tap (damaged record at byte $off, tape file 6)"
}

@test "tape image: a record a crashed write left unfinished at the end is written over; nothing before it is cut" {
	label T1 tape:t1.tap
	put tape:t1.tap 1 2 3
	local end
	end=$(fsize t1.tap)
	cp t1.tap whole.tap
	# a4's first record, its length and 1000 of its 262144 bytes
	"$PY" -c 'import struct, sys
sys.stdout.buffer.write(struct.pack("<I", 262144) + b"\x85" * 1000)' >>t1.tap
	run -0 gb-write tape:t1.tap "$SP/a4"
	assert_line "gb-write: warning: tape:t1.tap: damaged record at byte $end (tape file 7), after the last whole archive and seal; written over"
	assert_line "a4.tar.gz.gpg: written to T1 (tape file 7), read back OK"
	cmp -n "$end" t1.tap whole.tap
	run -0 tap_files t1.tap
	assert_output "$(printf 'file %d: 1 records of 262144\n' 0 1 2 3 4 5 6 7 8)"
	same_archive 4 t1.tap 7
	same_seal 4 t1.tap 8
	run -0 gb-verify -c "$(nocat)" --media tape:t1.tap a1 a2 a3 a4
	assert_line "4 checked, 4 OK, 0 failed"
}

@test "tape image: an archive cut short by a crash after the last whole pair is written over, the pairs before it kept" {
	label T1 tape:t1.tap
	put tape:t1.tap 1 2
	cp t1.tap whole.tap
	# a3 and its seal whole on the tape but not in the catalog (a write
	# killed before it recorded them), then a4 cut short
	gb-write tape:t1.tap "$SP/a3" >/dev/null 2>&1
	cq "DELETE FROM copies WHERE archive = 'a3.tar.gz.gpg'"
	"$PY" -c 'import struct, sys
sys.stdout.buffer.write(struct.pack("<I", 262144) + b"\x85" * 262144 +
    struct.pack("<I", 262144))' >>t1.tap
	cp t1.tap before.tap
	run -0 gb-write tape:t1.tap "$SP/a4"
	assert_line "gb-write: warning: tape:t1.tap tape file 7: an archive without its seal, left by a write that did not finish; written over"
	assert_line "a4.tar.gz.gpg: written to T1 (tape file 7), read back OK"
	cmp -n "$(tap_offset before.tap 7 0)" t1.tap before.tap
	same_archive 3 t1.tap 5
	same_seal 3 t1.tap 6
	same_archive 4 t1.tap 7
	same_seal 4 t1.tap 8
}
