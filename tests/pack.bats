#!/usr/bin/env bats
# gb-pack: the packed archive (pax tar, MANIFEST alone in the first gzip
# member, independent members of at most 1 MiB of tar), reproducible bytes,
# directory and stream input, and the refusals.

load helper
load archive-helper

setup_file() {
	archive_setup_file nokeys
	# The demo gym, exported with money sums.
	gb-demodata -s 1 -n 3000 -o "$FX/gym.db"
	write_gym_conf "$FX/gym.conf" "$FX/gym.db"
	gym_export "$FX/gym.db" "$FX/set" "$FX/gym.conf" 2>/dev/null
	# One table of well over 1 MiB, and a small one after it.
	sqlite3 -bail "$FX/big.db" <<-'EOF'
	CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, cents INTEGER NOT NULL);
	CREATE TABLE tail (id INTEGER PRIMARY KEY, v TEXT);
	WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 16000)
	INSERT INTO notes SELECT i, printf('note %d, "quoted": %s', i, hex(randomblob(36))), i * 7 FROM s;
	INSERT INTO tail VALUES (1, 'last'), (2, '末');
	EOF
	gym_export "$FX/big.db" "$FX/bigset"
}

teardown_file() { archive_teardown_file; }

# pack_to OUT ARGS...: gb-pack ARGS > OUT, so that `run` gets stderr only.
pack_to() {
	local o=$1
	shift
	gb-pack "$@" >"$o"
}

# The names a packed export set must list, in order.
set_order() {
	printf 'MANIFEST\nSCHEMA.sql\n'
	awk -F'\t' '$1 == "table" { print $3 }' "$1/MANIFEST"
}

snapshot_epoch() {
	date -u -d "$(awk -F'\t' '$1 == "snapshot" { print $2 }' "$1/MANIFEST")" +%s
}

# The output of a refused pack: `tar tzf` does not read it cleanly, or at
# least gzip -t reports an error.
assert_refused_output() {
	local out=$1 gz=0 tarst=0 tarout
	gzip -t "$out" 2>/dev/null || gz=$?
	tarout=$(tar tzf "$out" 2>&1) || tarst=$?
	[ "$tarst" -ne 0 ] || [ "$gz" -ne 0 ] ||
	    fail "the refused output $out reads as a whole archive (gzip -t and tar tzf exit 0): $tarout"
}

# ------------------------------------------------------------- structure

@test "pack: MANIFEST alone is the first gzip member, byte for byte" {
	run pack_to a.tar.gz "$FX/set"
	assert_success
	[ -z "$output" ] || fail "stderr not empty: $output"
	run gz_members a.tar.gz
	assert_success
	[ "${#lines[@]}" -ge 2 ] || fail "only ${#lines[@]} gzip member(s)"
	gz_member a.tar.gz 1 first.tar
	run tar_list first.tar
	assert_success
	[ "${#lines[@]}" -eq 1 ] || fail "first member holds: $output"
	[[ "${lines[0]}" == "MANIFEST "* ]] || fail "first member holds: $output"
	mkdir m
	tar xf first.tar -C m
	cmp m/MANIFEST "$FX/set/MANIFEST"
	# The second member starts with SCHEMA.sql.
	gz_member a.tar.gz 2 second.tar
	run tar_list second.tar
	[[ "${lines[0]}" == "SCHEMA.sql "* ]] || fail "second member starts with: ${lines[0]}"
}

@test "pack: a table over 1 MiB spans several gzip members of at most 1 MiB of tar" {
	local csv=$FX/bigset/notes.csv sizes total=0 s n
	[ "$(stat -c %s "$csv")" -gt 1200000 ] || fail "fixture table too small"
	run pack_to big.tar.gz "$FX/bigset"
	assert_success
	sizes=$(gz_members big.tar.gz) || fail "gz_members: $sizes"
	n=$(wc -l <<<"$sizes")
	[ "$n" -ge 3 ] || fail "only $n gzip members: $sizes"
	while read -r s; do
		[ "$s" -le 1048576 ] || fail "a member holds $s bytes of tar: $sizes"
		total=$((total + s))
	done <<<"$sizes"
	# The members together are the whole tar.
	[ "$total" -eq "$(gzip -dc big.tar.gz | wc -c)" ]
	mkdir x
	tar xzf big.tar.gz -C x
	assert_same_tree x "$FX/bigset"
}

@test "pack: gzip -t accepts it; tar and bsdtar list MANIFEST, SCHEMA.sql, the CSVs in MANIFEST order" {
	pack_to a.tar.gz "$FX/set"
	run gzip -t a.tar.gz
	assert_success
	set_order "$FX/set" >want
	[ "$(wc -l <want)" -eq 9 ] || fail "expected 7 tables: $(cat want)"
	run tar tzf a.tar.gz
	assert_success
	[ "$output" = "$(cat want)" ] || fail "tar tzf lists: $output"
	run bsdtar tf a.tar.gz
	assert_success
	[ "$output" = "$(cat want)" ] || fail "bsdtar tf lists: $output"
}

@test "pack: entries are pax/ustar regular files, owner 0/0, mode 0600, mtime = snapshot" {
	local snap name type mode uid gid mtime size
	pack_to a.tar.gz "$FX/set"
	snap=$(snapshot_epoch "$FX/set")
	run tar_list a.tar.gz
	assert_success
	[ "${#lines[@]}" -eq 9 ] || fail "entries: $output"
	while read -r name type mode uid gid mtime size; do
		[ "$type" = 0 ] || fail "$name: type $type"
		[ "$mode" = 600 ] || fail "$name: mode $mode"
		[ "$uid/$gid" = 0/0 ] || fail "$name: owner $uid/$gid"
		[ "$mtime" = "$snap" ] || fail "$name: mtime $mtime, snapshot $snap"
		[ "$size" = "$(stat -c %s "$FX/set/$name")" ] || fail "$name: size $size"
	done <<<"$output"
	# POSIX ustar magic in the first header.
	gzip -dc a.tar.gz | head -c 512 >hdr
	[ "$(dd if=hdr bs=1 skip=257 count=6 2>/dev/null | od -An -c | tr -d ' ')" = 'ustar\0' ] ||
	    fail "no ustar magic"
	# GNU tar agrees on owner and time.
	run tar tvzf a.tar.gz --numeric-owner --full-time
	assert_success
	assert_line --partial "-rw------- 0/0"
	refute_line --regexp '^-rw------- [^0]'
}

@test "pack: the extracted archive is the export set byte for byte" {
	pack_to a.tar.gz "$FX/set"
	mkdir x
	tar xzf a.tar.gz -C x
	assert_same_tree x "$FX/set"
	mkdir y
	bsdtar xf a.tar.gz -C y
	assert_same_tree y "$FX/set"
}

# --------------------------------------------------------- reproducible

@test "pack: the same export set packs to the same bytes, twice and with -j 1 vs -j 2" {
	pack_to a1.tar.gz "$FX/bigset"
	pack_to a2.tar.gz "$FX/bigset"
	cmp a1.tar.gz a2.tar.gz
	pack_to j1.tar.gz -j 1 "$FX/bigset"
	pack_to j2.tar.gz -j 2 "$FX/bigset"
	cmp j1.tar.gz j2.tar.gz
	cmp a1.tar.gz j1.tar.gz
	# A copy of the set (other inode times) packs the same too.
	cp -r "$FX/bigset" copy
	touch -d '2001-01-01' copy/*
	pack_to c.tar.gz copy
	cmp a1.tar.gz c.tar.gz
	# A level changes the bytes, not the content (the default is 1).
	pack_to l1.tar.gz -l 1 "$FX/bigset"
	cmp l1.tar.gz a1.tar.gz
	pack_to l6.tar.gz -l 6 "$FX/bigset"
	! cmp -s l6.tar.gz a1.tar.gz || fail "-l 6 gave the bytes of -l 1"
	[ "$(gzip -dc l6.tar.gz | sha256sum)" = "$(gzip -dc a1.tar.gz | sha256sum)" ]
	[ "$(gzip -dc l1.tar.gz | sha256sum)" = "$(gzip -dc a1.tar.gz | sha256sum)" ]
}

@test "pack: directory input and the gb-export stream give the same archive and files" {
	set -o pipefail
	gb-export -c "$FX/gym.conf" -s "sqlite:$FX/gym.db" 2>/dev/null | tee stream.tar |
	    gb-pack >s.tar.gz
	mkdir d
	tar xf stream.tar -C d
	run pack_to d.tar.gz d
	assert_success
	cmp s.tar.gz d.tar.gz
	mkdir xs xd
	tar xzf s.tar.gz -C xs
	tar xzf d.tar.gz -C xd
	assert_same_tree xs d
	assert_same_tree xd d
	# Stream order is input order: MANIFEST, SCHEMA.sql, CSVs as exported.
	[ "$(tar tzf s.tar.gz)" = "$(tar tf stream.tar)" ]
	# "-" is stdin too.
	run bash -c 'gb-pack - <stream.tar >dash.tar.gz'
	assert_success
	cmp s.tar.gz dash.tar.gz
	assert_tmpdir_empty
}

# -------------------------------------------------------------- refusals

@test "pack refuses: a directory without MANIFEST (exit 1)" {
	cp -r "$FX/set" s
	rm s/MANIFEST
	run pack_to out.tar.gz s
	assert_failure 1
	assert_output --partial "not an export set"
	assert_output --partial "MANIFEST"
	[ ! -s out.tar.gz ] || fail "wrote $(stat -c %s out.tar.gz) bytes"
}

@test "pack refuses: a stream that does not start with MANIFEST (exit 1)" {
	mkstream "$FX/set" st.tar SCHEMA.sql MANIFEST $(awk -F'\t' '$1 == "table" { print $3 }' "$FX/set/MANIFEST")
	run bash -c 'gb-pack <st.tar >out.tar.gz'
	assert_failure 1
	assert_output --partial "not an export set"
	assert_output --partial "MANIFEST"
	[ ! -s out.tar.gz ] || fail "wrote $(stat -c %s out.tar.gz) bytes"
}

@test "pack refuses: an empty stream or one that is no tar is not an export set (exit 1)" {
	run bash -c 'gb-pack </dev/null >out.tar.gz'
	assert_failure 1
	assert_output --partial "not an export set"
	[ ! -s out.tar.gz ] || fail "wrote $(stat -c %s out.tar.gz) bytes"
	run bash -c 'cat "$1"/MANIFEST "$1"/SCHEMA.sql | gb-pack >out.tar.gz' _ "$FX/set"
	assert_failure 1
	assert_output --partial "not an export set"
	[ ! -s out.tar.gz ] || fail "wrote $(stat -c %s out.tar.gz) bytes"
}

@test "pack refuses: a MANIFEST without its end line (exit 1)" {
	cp -r "$FX/set" s
	sed -i '$d' s/MANIFEST
	run pack_to out.tar.gz s
	assert_failure 1
	assert_output --partial "not an export set: MANIFEST"
	[ ! -s out.tar.gz ] || fail "wrote $(stat -c %s out.tar.gz) bytes"
}

@test "pack refuses: a table file missing (exit 1, names it); the output is no archive" {
	cp -r "$FX/set" s
	rm s/members.csv
	run pack_to out.tar.gz s
	assert_failure 1
	assert_output --partial "not an export set"
	assert_output --partial "members.csv"
	assert_refused_output out.tar.gz
	# The same from a stream: nothing says the end of the archive.
	mkstream "$FX/set" st.tar MANIFEST SCHEMA.sql $(awk -F'\t' '$1 == "table" && $3 != "members.csv" { print $3 }' "$FX/set/MANIFEST")
	run bash -c 'gb-pack <st.tar >out2.tar.gz'
	assert_failure 1
	assert_output --partial "members.csv"
	assert_refused_output out2.tar.gz
}

@test "pack refuses: an extra file in the directory or the stream (exit 1, names it)" {
	cp -r "$FX/set" s
	echo 'surprise' >s/extra.csv
	run pack_to out.tar.gz s
	assert_failure 1
	assert_output --partial "not an export set"
	assert_output --partial "extra.csv"
	[ ! -s out.tar.gz ] || fail "wrote $(stat -c %s out.tar.gz) bytes"
	mkstream s st.tar MANIFEST SCHEMA.sql extra.csv $(awk -F'\t' '$1 == "table" { print $3 }' s/MANIFEST)
	run bash -c 'gb-pack <st.tar >out2.tar.gz'
	assert_failure 1
	assert_output --partial "extra.csv"
	assert_refused_output out2.tar.gz
}

@test "pack refuses: a CSV with one byte changed (exit 1); the output has no end" {
	cp -r "$FX/set" s
	flip_byte s/consumptions.csv middle
	run pack_to out.tar.gz s
	assert_failure 1
	assert_output --partial "consumptions.csv"
	assert_output --partial "SHA-256"
	assert_refused_output out.tar.gz
}

@test "pack refuses: a changed byte in the last table of a big set; what was written has no end" {
	cp -r "$FX/bigset" s
	flip_byte s/tail.csv end
	# One thread: the members before the bad file are already written.
	run pack_to out.tar.gz -j 1 s
	assert_failure 1
	assert_output --partial "tail.csv"
	assert_output --partial "SHA-256"
	[ -s out.tar.gz ] || fail "expected the members written before the bad file"
	run tar tzf out.tar.gz
	assert_failure
	run bsdtar tf out.tar.gz
	assert_failure
	run pack_to out2.tar.gz -j 2 s
	assert_failure 1
	assert_refused_output out2.tar.gz
}

@test "pack refuses: a CSV with one byte changed in the stream (exit 1)" {
	cp -r "$FX/set" s
	flip_byte s/recharges.csv 100
	mkstream s st.tar MANIFEST SCHEMA.sql $(awk -F'\t' '$1 == "table" { print $3 }' s/MANIFEST)
	run bash -c 'gb-pack <st.tar >out.tar.gz'
	assert_failure 1
	assert_output --partial "recharges.csv"
	assert_output --partial "SHA-256"
	assert_refused_output out.tar.gz
}

@test "pack refuses: a CSV of another size than the MANIFEST says (exit 1)" {
	cp -r "$FX/set" s
	echo '9999,x' >>s/stores.csv
	run pack_to out.tar.gz s
	assert_failure 1
	assert_output --partial "stores.csv"
	assert_output --partial "bytes"
	assert_refused_output out.tar.gz
	cp "$FX/set/SCHEMA.sql" s/SCHEMA.sql
	cp "$FX/set/stores.csv" s/stores.csv
	echo '-- more' >>s/SCHEMA.sql
	run pack_to out2.tar.gz s
	assert_failure 1
	assert_output --partial "SCHEMA.sql"
}

@test "pack: -l 0, -l 10, -l x, -j 0 are usage errors (exit 2)" {
	local o
	for o in "-l 0" "-l 10" "-l x" "-j 0" "-j -1"; do
		run pack_to out.tar.gz $o "$FX/set"
		assert_failure 2
		assert_output --partial "${o%% *}"
		[ ! -s out.tar.gz ] || fail "$o wrote output"
	done
	run pack_to out.tar.gz "$FX/set" "$FX/set"
	assert_failure 2
	# The bounds themselves are fine.
	run pack_to l9.tar.gz -l 9 -j 1 "$FX/set"
	assert_success
	mkdir x
	tar xzf l9.tar.gz -C x
	assert_same_tree x "$FX/set"
}

# pack_threads ARGS...: the threads of gb-pack ARGS (GB_THREADS from the
# environment) once its gzip writer has started: it reads a stream held
# open after its first 64 KiB, and the count stays put.
pack_threads() {
	local pid n=0 last=-1 i
	rm -f fifo
	mkfifo fifo
	gb-pack "$@" <fifo >/dev/null 2>&1 &
	pid=$!
	exec 3>fifo
	head -c 65536 st.tar >&3
	for i in $(seq 100); do
		sleep 0.1
		n=$(awk '$1 == "Threads:" { print $2 }' "/proc/$pid/status")
		[ "$n" -gt 1 ] && [ "$n" = "$last" ] && break
		last=$n
	done
	exec 3>&-
	wait "$pid" || true
	echo "$n"
}

@test "threads: at most 16 compress in gb-pack or read in gb-export, whatever -j, -P or GB_THREADS asks; GB_THREADS is the default; a bad one is exit 2" {
	local t1 t2 t16 t64 e2 e64
	gb-export -s "sqlite:$FX/gym.db" >st.tar 2>/dev/null
	t1=$(pack_threads -j 1)
	t2=$(pack_threads -j 2)
	t16=$(pack_threads -j 16)
	t64=$(pack_threads -j 64)
	e2=$(GB_THREADS=2 pack_threads)
	e64=$(GB_THREADS=64 pack_threads)
	# the workers besides the threads that -j 1 runs too
	[ $((t2 - t1)) -eq 2 ] && [ $((t16 - t1)) -eq 16 ] ||
	    fail "threads at -j 1, 2, 16: $t1 $t2 $t16"
	[ "$t64" -eq "$t16" ] || fail "-j 64 runs $t64 threads, -j 16 $t16"
	[ "$e2" -eq "$t2" ] && [ "$e64" -eq "$t16" ] ||
	    fail "GB_THREADS=2 runs $e2 threads, =64 $e64; -j 2 $t2, -j 16 $t16"
	# -j wins over GB_THREADS
	[ "$(GB_THREADS=64 pack_threads -j 2)" -eq "$t2" ] || fail "GB_THREADS over -j"
	for e in x 0 257 "2 "; do
		run env GB_THREADS="$e" gb-pack "$FX/set"
		assert_failure 2
		assert_output "gb-pack: GB_THREADS wants 1 to 256 threads, not $e"
	done
	# gb-export's connections
	run env GB_THREADS=3 gb-export -v -s "sqlite:$FX/gym.db" -o e3
	assert_success
	assert_line -n 0 "gb-export: 3 threads on one snapshot"
	run env GB_THREADS=3 gb-export -v -P 64 -s "sqlite:$FX/gym.db" -o e64
	assert_success
	assert_line -n 0 "gb-export: 16 threads on one snapshot"
	run env GB_THREADS=x gb-export -s "sqlite:$FX/gym.db" -o ex
	assert_failure 2
	assert_output "gb-export: GB_THREADS wants 1 to 256 threads, not x"
	[ ! -e ex ] || fail "gb-export made ex"
}

@test "pack refuses with one thread: what was written before the refusal is no archive tar accepts" {
	# -j 1 writes each member as soon as it is full: MANIFEST's member is
	# out before the rest of the set is read.
	local f
	cp -r "$FX/set" bad
	flip_byte bad/consumptions.csv 100
	run pack_to o1.tar.gz -j 1 bad
	assert_failure 1
	assert_output --partial "consumptions.csv"
	assert_refused_output o1.tar.gz
	# A table missing from the stream.
	mkstream "$FX/set" st.tar MANIFEST SCHEMA.sql $(awk -F'\t' '$1 == "table" && $3 != "members.csv" { print $3 }' "$FX/set/MANIFEST")
	run bash -c 'gb-pack -j 1 <st.tar >o2.tar.gz'
	assert_failure 1
	assert_output --partial "members.csv"
	assert_refused_output o2.tar.gz
	# An extra file in the stream.
	echo 'surprise' >extra.csv
	cp "$FX/set"/* . 2>/dev/null
	mkstream . st3.tar MANIFEST SCHEMA.sql extra.csv
	run bash -c 'gb-pack -j 1 <st3.tar >o3.tar.gz'
	assert_failure 1
	assert_output --partial "extra.csv"
	assert_refused_output o3.tar.gz
}
