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
	for t in manifest seal label conf csv gzip tape tar; do
		run -0 "$TOP/tests/fuzz/replay-$t" "$TOP"/tests/fuzz/seed/$t/*
		assert_output ''
		n=$((n + 1))
	done
	assert_equal "$n" 8
	assert_tmpdir_empty
}

@test "the tar target walks a real packed archive to its end: every table read, then the inner signature" {
	# gb-pack output decrypted by the target's identity gpgme: the walk
	# checks MANIFEST, SCHEMA.sql and every table, and fails only where
	# a fuzz input must, at the inner signature.
	FUZZ_VERBOSE=1 run -0 "$TOP/tests/fuzz/replay-tar" \
	    "$TOP/tests/fuzz/seed/tar/pack-l1" "$TOP/tests/fuzz/seed/tar/pack-l6"
	assert_output "$(printf 'fuzz-tar: -1: inner signature: not signed\n%.0s' 1 2)"
}
