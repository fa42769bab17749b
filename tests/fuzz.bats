#!/usr/bin/env bats
# The fuzz targets' committed seeds (tests/fuzz/seed/NAME/), replayed
# without libFuzzer through the same targets (tests/fuzz/replay-NAME, built
# by make check): every crash make fuzz ever found stays found.  make fuzz
# itself (clang, libFuzzer) is not part of make check.

load helper

setup() {
	gb_setup
	[ -x "$TOP/tests/fuzz/replay-tar" ] ||
		fail "tests/fuzz/replay-* are not built: make check builds them"
}
teardown() { gb_teardown; }

@test "every fuzz target replays its committed seeds without a crash" {
	local t n=0
	for t in manifest seal checkpoint label conf csv gzip tape tar ddl scan; do
		run -0 "$TOP/tests/fuzz/replay-$t" "$TOP"/tests/fuzz/seed/$t/*
		assert_output ''
		n=$((n + 1))
	done
	assert_equal "$n" 11
	assert_tmpdir_empty
}

@test "the tar target walks a real packed archive to its end: every table read, then the inner signature" {
	# gb-pack output (gzip members of ISA-L and of zlib, and the plain
	# tar) through the target's identity decryption: the walk reads
	# MANIFEST and SCHEMA.sql whole, checks all 7 tables against the
	# MANIFEST, and fails only where a fuzz input must, at the inner
	# signature.
	FUZZ_VERBOSE=1 run -0 "$TOP/tests/fuzz/replay-tar" \
	    "$TOP/tests/fuzz/seed/tar/pack-l1" "$TOP/tests/fuzz/seed/tar/pack-l6" \
	    "$TOP/tests/fuzz/seed/tar/plain"
	assert_equal "${#lines[@]}" 3
	for l in 0 1 2; do
		assert_line --index $l 'fuzz-tar: 2 small, 7 of 7 tables checked; -1: inner signature: not signed'
	done
}

@test "the ddl target parses its seeds whole: an export's SCHEMA.sql, and PostgreSQL's with its sqlite lines" {
	# a target that refused its seeds at the first statement would fuzz
	# only the refusal
	FUZZ_VERBOSE=1 run -0 "$TOP/tests/fuzz/replay-ddl" \
	    "$TOP/tests/fuzz/seed/ddl/pg" "$TOP/tests/fuzz/seed/ddl/sqlite"
	assert_output "fuzz-ddl: postgresql, 8 statements
fuzz-ddl: its sqlite lines, 3 statements
fuzz-ddl: sqlite, 18 statements"
}

@test "the scan target reads its seed as a medium: the label, three seals, when two of them were written" {
	# a target whose medium had no label would fuzz only the refusal
	FUZZ_VERBOSE=1 run -0 "$TOP/tests/fuzz/replay-scan" \
	    "$TOP/tests/fuzz/seed/scan/usb" "$TOP/tests/fuzz/seed/scan/nolabel"
	assert_line --index 0 "fuzz-scan: labelled, 3 seals, 0 whole, 2 written at"
	assert_line --index 1 --regexp "^fuzz-scan: .*/usb: no gymbackup label \(not a medium, or cannot be read\), 0 seals"
	assert_tmpdir_empty
}
