#!/usr/bin/env bats
# gb-export without -o: the export stream, a pax tar on stdout.

load helper

# The file column of the manifest's table lines, in order.
mf_files() {
	awk -F'\t' '$1 == "table" { print $3 }' "$1"
}

@test "stream: a pax tar that tar and bsdtar read: MANIFEST, SCHEMA.sql, then the CSVs in manifest order" {
	make_gym_db gym.db
	write_gym_conf gym.conf "$W/gym.db"
	run gb_stream s.tar -c gym.conf
	assert_success
	assert_output ""
	assert_tmpdir_empty
	[ $(( $(stat -c %s s.tar) % 512 )) -eq 0 ] || fail "size not a multiple of 512"
	# POSIX ustar/pax magic "ustar\0" "00" at offset 257 (GNU tar writes "ustar  \0").
	assert_equal "$(od -An -c -j257 -N8 s.tar | tr -s ' ')" " u s t a r \0 0 0"
	mkdir x y
	tar -xf s.tar -C x
	bsdtar -xf s.tar -C y
	diff -r x y
	run tar -tf s.tar
	assert_success
	local want
	want=$(printf 'MANIFEST\nSCHEMA.sql\n'; mf_files x/MANIFEST)
	assert_output "$want"
	run bsdtar -tf s.tar
	assert_success
	assert_output "$want"
	verify_set x gym.db
	assert_equal "$(mf x/MANIFEST tables)" 7
}

@test "stream: entries are mode 0600, uid/gid 0, mtime the snapshot time" {
	make_gym_db gym.db
	run gb_stream s.tar -s "sqlite:$W/gym.db"
	assert_success
	tar -xf s.tar MANIFEST
	local snap when
	snap=$(mf MANIFEST snapshot)
	when=$(echo "$snap" | tr 'TZ' ' ' | sed 's/ $//')
	run env TZ=UTC tar --numeric-owner --full-time -tvf s.tar
	assert_success
	local line n=0
	while IFS= read -r line; do
		n=$((n + 1))
		[[ "$line" == "-rw------- 0/0 "* ]] || fail "entry mode/owner: $line"
		[[ "$line" == *" $when "* ]] || fail "entry mtime is not $when: $line"
	done <<<"$output"
	assert_equal "$n" 9
	# The same through libarchive.
	run env TZ=UTC bsdtar --numeric-owner -tvf s.tar
	assert_success
	while IFS= read -r line; do
		[[ "$line" =~ ^-rw-------\ +[0-9]+\ +0\ +0\  ]] || fail "bsdtar: $line"
	done <<<"$output"
}

@test "stream: the same CSVs and SCHEMA.sql as -o DIR, hashes in MANIFEST match" {
	make_gym_db gym.db
	gb-export -s "sqlite:$W/gym.db" >s.tar
	gb-export -s "sqlite:$W/gym.db" -o dir
	mkdir x
	tar -xf s.tar -C x
	local f
	for f in dir/*.csv dir/SCHEMA.sql; do
		cmp "$f" "x/${f#dir/}"
	done
	diff <(grep -Ev '^(id|snapshot)	' dir/MANIFEST) \
	    <(grep -Ev '^(id|snapshot)	' x/MANIFEST)
	verify_set x gym.db
	assert_tmpdir_empty
}

@test "stream: can be piped (not seekable) and read by tar from stdin" {
	make_gym_db gym.db
	mkdir x
	gb-export -s "sqlite:$W/gym.db" -t members | cat | tar -xf - -C x
	assert_equal "$(ls x | paste -sd' ')" "MANIFEST SCHEMA.sql members.csv"
	verify_set x gym.db
	assert_tmpdir_empty
}

@test "stream: refused to a terminal with exit 2 (run under script(1))" {
	command -v script >/dev/null || skip "script(1) not installed"
	make_gym_db gym.db
	run script -qec "$TOP/bin/gb-export -s sqlite:$W/gym.db; echo \"rc=\$?\"" /dev/null </dev/null
	assert_output --partial "rc=2"
	assert_output --regexp "terminal|tty|stdout"
	# no tar data went to the terminal
	[[ "$output" != *MANIFEST* ]] || fail "tar data written to the terminal"
	assert_tmpdir_empty
}

@test "stream: stdout to /dev/full exits 3 naming standard output, nothing left" {
	make_gym_db gym.db
	run sh -c 'exec gb-export -s "sqlite:$1" >/dev/full' sh "$W/gym.db"
	assert_failure 3
	assert_output --regexp 'stdout|standard output|export stream'
	assert_output --partial 'No space left on device'    # the why: ENOSPC
	assert_tmpdir_empty
}

@test "stream: stdout closed by the reader (EPIPE) exits non-zero, nothing left" {
	# About 4 MB of stream: more than the 1 MiB pipe gb-export asks for,
	# so it cannot finish before head has gone.
	make_demo_db demo.db 60000
	run bash -c 'set -o pipefail; gb-export -s "sqlite:$1" | head -c 100 >/dev/null' sh "$W/demo.db"
	[ "$status" -ne 0 ] || fail "a broken pipe went unnoticed"
	assert_tmpdir_empty
}

# locked_dd PID: the number of mappings of PID kept out of core dumps
# (VmFlags dd) and locked (lo), and of those out of core dumps only (but
# the kernel's [vvar] pages).
locked_dd() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / { vvar = $NF ~ /^\[vvar/ }
	    $1 == "VmFlags:" && !vvar { dd = / dd/; lo = / lo/; if (dd && lo) both++; else if (dd) only++ }
	    END { printf "%d %d\n", both, only }' "/proc/$1/smaps"
}

@test "stream: the spool key and libgcrypt's copy are in locked pages out of core dumps; without the lock, one warning and a good stream" {
	# AddressSanitizer makes mlock a no-op that succeeds
	! ldd "$TOP/bin/gb-export" | grep -q libasan ||
	    skip "make SANITIZE=1: ASan ignores mlock"
	make_gym_db gym.db
	make -s -C "$TOP" tests/faultinject.so >/dev/null
	# stopped after its first write to a spool file: the key is in use
	LD_PRELOAD="$TOP/tests/faultinject.so" GB_FAULT="stopafter:write:1" \
	    GB_FAULT_PATH="$TMPDIR" \
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	    gb-export -s "sqlite:$W/gym.db" >s.tar 2>err &
	local pid=$! i
	bg_started $pid
	for i in $(seq 200); do
		[ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = T ] && break
		sleep 0.05
	done
	[ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = T ] ||
	    fail "gb-export did not stop: $(cat err)"
	run -0 locked_dd $pid
	kill -CONT $pid
	wait $pid || fail "gb-export failed: $(cat err)"
	# the key's page and libgcrypt's secure pool, both locked
	[[ $output =~ ^([0-9]+)\ 0$ ]] && [ "${BASH_REMATCH[1]}" -ge 2 ] ||
	    fail "locked and out of core dumps, out of core dumps only: $output"
	[ ! -s err ] || fail "stderr: $(cat err)"
	tar tf s.tar >/dev/null
	# no mlock at all (no locked-memory limit, and root without
	# CAP_IPC_LOCK): the export goes on, warned once
	local -a nolock=(prlimit --memlock=0:0)
	[ "$(id -u)" != 0 ] || nolock=(setpriv --bounding-set=-ipc_lock "${nolock[@]}")
	"${nolock[@]}" "$TOP/bin/gb-export" -s "sqlite:$W/gym.db" >s2.tar 2>err
	assert_equal "$(cat err)" "gb-export: warning: the spool key cannot be locked in memory (mlock: Operation not permitted) and may be swapped out; raise the locked-memory limit (ulimit -l, LimitMEMLOCK=; 8 MiB is plenty)"
	mkdir x x2
	tar xf s.tar -C x
	tar xf s2.tar -C x2
	diff -r -x MANIFEST x x2
	# -o DIR spools nothing: no key, no warning
	run --separate-stderr "${nolock[@]}" "$TOP/bin/gb-export" -s "sqlite:$W/gym.db" -o set
	assert_success
	assert_equal "$stderr" ""
	assert_tmpdir_empty
}
