#!/usr/bin/env bats
# gb-restore: to a directory (the export set byte for byte), into SQLite
# (every table equal to the source, types included), full + incremental
# chains in any order, the restore test, and the bad days: damage, wrong
# keys, hostile archives, chains that do not fit; nothing is ever left.

load helper
load archive-helper

# A database unlike the gym: composite and text keys, WITHOUT ROWID, a
# table with spaces in its name and columns, a Chinese table name, BLOBs
# with NUL bytes, awkward REALs and TEXTs, int64 extremes, an index.
make_odd_db() {
	sqlite3 -bail "$1" <<-'EOF'
	CREATE TABLE "price list" ("shop id" INTEGER NOT NULL, "item code" TEXT NOT NULL,
	  "unit price" REAL, "the note" TEXT, PRIMARY KEY ("shop id", "item code")) WITHOUT ROWID;
	CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB, label TEXT);
	CREATE TABLE visits (a INTEGER NOT NULL, b TEXT NOT NULL, c REAL, d VARCHAR(20), e DOUBLE,
	  PRIMARY KEY (b, a));
	CREATE TABLE "会员卡" ("卡号" TEXT PRIMARY KEY, "余额" INTEGER NOT NULL, "备注" TEXT) WITHOUT ROWID;
	CREATE INDEX visits_c ON visits(c);
	CREATE UNIQUE INDEX blobs_label ON blobs(label);
	INSERT INTO "price list" VALUES
	  (1, 'A,1', 0.1, 'He said "hi", then left'),
	  (1, 'B"2', 1e300, 'line1' || char(10) || 'line2'),
	  (2, '会员', -0.0, ''),
	  (2, '', NULL, NULL),
	  (3, 'x', -1.5e-300, 'crlf' || char(13,10) || '末尾'),
	  (3, ' padded ', 3.141592653589793, ' '),
	  (4, 'NULL', 0.30000000000000004, 'NULL'),
	  (5, '\N', 1e16, '""'),
	  (-9223372036854775808, 'min', 2.5e-5, ','),
	  (9223372036854775807, 'max', 123456789.123, char(10));
	INSERT INTO blobs VALUES (1, x'00', 'nul'), (2, x'000102ff00', 'mixed'), (3, x'', 'empty'),
	  (4, NULL, NULL), (5, x'5c7830', '\x0'), (6, zeroblob(3), ''), (7, x'0d0a2c22', 'crlf comma quote');
	INSERT INTO visits VALUES (1, 'a', 0.30000000000000004, '01', 1.0), (2, 'a', 1e-7, '-0', -0.0),
	  (1, 'b', 9e999, '1e5', 100.0), (2, 'b', -9e999, ' 7', 0.1), (3, 'c', 123456789.123, 'Infinity', 5e-324),
	  (4, 'c', NULL, NULL, NULL);
	INSERT INTO "会员卡" VALUES ('C001', 123456, '张伟, "VIP"'), ('C002', -5, ''), ('C003', 0, NULL),
	  ('', 1, '空卡号');
	EOF
}

setup_file() {
	archive_setup_file
	local old
	# The demo gym, a full export with money sums.
	gb-demodata -s 1 -n 3000 -o "$FX/gym.db"
	write_gym_conf "$FX/gym.conf" "$FX/gym.db"
	gym_export "$FX/gym.db" "$FX/gym" "$FX/gym.conf" 2>/dev/null
	mkdir "$FX/spool"
	seal_set "$FX/gym" "$FX/spool/gym"
	# The same export sealed to RCPT1 alone.
	seal_set "$FX/gym" "$FX/spool/gym1" "$RCPT1"
	# Another schema, no config.
	make_odd_db "$FX/odd.db"
	gym_export "$FX/odd.db" "$FX/odd"
	seal_set "$FX/odd" "$FX/spool/odd"
	# A MANIFEST that lies about a row count.
	old=$(awk -F'\t' '$1 == "rows" && $2 == "recharges" { print $3 }' "$FX/gym/MANIFEST")
	lie_set "$FX/gym" "$FX/lie" "s/^rows\trecharges\t$old\$/rows\trecharges\t$((old + 1))/"
	seal_set "$FX/lie" "$FX/spool/lie"

	# A chain: full, incremental 1, incremental 2 of a changing source.
	local c=$FX/chain
	mkdir "$c"
	gb-demodata -s 2 -n 2000 -o "$c/src.db"
	write_gym_conf "$c/gym.conf" "$c/src.db" chain-gym
	gym_export "$c/src.db" "$c/full" "$c/gym.conf" 2>/dev/null
	sqlite3 -bail "$c/src.db" <<-'EOF'
	UPDATE members SET balance = balance + 12345, note = '充值, "bonus"' || char(10) || 'x',
	  updated_at = '2030-01-01 00:00:00' WHERE id % 10 = 0;
	INSERT INTO members (id, card_no, name, phone, level, balance, status, home_store_id, note,
	  photo, created_at, updated_at)
	  VALUES (100001, 'N0001', '新会员', NULL, 'gold', 0, 'active', 1, '', x'00ff',
	  '2030-01-01 00:00:01', '2030-01-01 00:00:01'),
	  (100002, 'N0002', 'New "one"', '', 'silver', -1, 'active', NULL, NULL, NULL,
	  '2030-01-01 00:00:02', '2030-01-01 00:00:02');
	EOF
	gb-export -c "$c/gym.conf" -s "sqlite:$c/src.db" -i "$c/full/MANIFEST" \
	    -t members -t stores -t promotions -o "$c/inc1" 2>/dev/null
	sqlite3 -bail "$c/src.db" <<-'EOF'
	UPDATE members SET status = 'frozen', balance = 0, updated_at = '2030-02-01 00:00:00' WHERE id % 7 = 0;
	UPDATE members SET name = name || ' 改', updated_at = '2030-02-01 00:00:01' WHERE id = 100001;
	UPDATE stores SET name = name || ' 新', updated_at = '2030-02-01 00:00:00' WHERE id = 3;
	UPDATE promotions SET bonus_amount = 777, updated_at = '2030-02-01 00:00:00' WHERE id = 1;
	EOF
	gb-export -c "$c/gym.conf" -s "sqlite:$c/src.db" -i "$c/inc1/MANIFEST" \
	    -t members -t stores -t promotions -o "$c/inc2" 2>/dev/null
	cp "$c/src.db" "$c/final.db"
	# Later changes that no archive holds.
	sqlite3 -bail "$c/src.db" "UPDATE members SET balance = 1, updated_at = '2030-03-01 00:00:00'"
	for n in full inc1 inc2; do
		seal_set "$c/$n" "$FX/spool/$n"
	done
	# inc1 claiming another source.
	lie_set "$c/inc1" "$FX/other" "s|^source\tsqlite\t.*|source\tsqlite\t/elsewhere/gym.db|"
	seal_set "$FX/other" "$FX/spool/other"

	# A restore keyring that holds RCPT2's secret key only.
	export R2="$BATS_FILE_TMPDIR/r2only"
	new_keyring "$R2"
	gpgk all --export-secret-keys "$RCPT2" | gpgk "$R2" --import 2>/dev/null
	gpgk "$R2" --import "$KEYS/public.asc" 2>/dev/null
}

teardown_file() { archive_teardown_file; }

# rst ARGS...: gb-restore with the restore keyring, pinned to $SIGNER.
rst() {
	GNUPGHOME="$KEYS/restore" gb-restore --signer "$SIGNER" "$@"
}

# The failure contract, for the names a test used: no out, out.tmp.*,
# r.db, r.db.tmp.*; TMPDIR empty; the work directory as it was.
before() {
	listing "$W" >"$BATS_TEST_TMPDIR/before"
}
assert_nothing_left() {
	assert_gone "$W/out" "$W/r.db"
	assert_tmpdir_empty
	listing "$W" >"$BATS_TEST_TMPDIR/after"
	cmp -s "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after" ||
	    fail "the work directory changed: $(diff "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after")"
}

# refused STATUS WHAT ARCHIVE...: -o out, -d sqlite:r.db and --test (or
# the modes in $MODES) each fail with STATUS and a message holding WHAT;
# nothing is left.
refused() {
	local st=$1 what=$2 mode modes=()
	shift 2
	if [ -n "${MODES-}" ]; then
		IFS=, read -r -a modes <<<"$MODES"
	else
		modes=("-o out" "-d sqlite:r.db" "--test")
	fi
	before
	for mode in "${modes[@]}"; do
		run rst $mode "$@"
		assert_failure "$st"
		assert_output --partial "$what"
		refute_output --partial "restore test:"
		assert_nothing_left
	done
}

# refused_by HOME SIGNER WHAT ARCHIVE: gb-restore with keyring HOME,
# pinned to SIGNER, refuses ARCHIVE in -o out, -d sqlite:r.db and --test,
# each with exit 1 and a message holding WHAT and "nothing restored";
# nothing is left.
refused_by() {
	local mode
	before
	for mode in "-o out" "-d sqlite:r.db" "--test"; do
		run env GNUPGHOME="$1" gb-restore --signer "$2" $mode "$4"
		assert_failure 1
		assert_output --partial "$3"
		assert_output --partial "nothing restored"
		assert_nothing_left
	done
}

# ------------------------------------------------------------ round trips

@test "restore -d: the demo gym comes back equal to the source, table by table" {
	run rst -d "sqlite:$W/r.db" "$FX/spool/gym.seal"
	assert_success
	[ -z "$output" ] || fail "output: $output"
	assert_db_equal r.db "$FX/gym.db"
	[ "$(db_tables r.db | wc -l)" -eq 7 ]
	assert_gone "$W/r.db.tmp"
	assert_tmpdir_empty
}

@test "restore -d: a database of another schema comes back with its values and types" {
	run rst -d "sqlite:r.db" "$FX/spool/odd.tar.gz.gpg"
	assert_success
	assert_db_equal r.db "$FX/odd.db"
	# Spot checks of what is easy to lose.
	[ "$(sqlite3 r.db "SELECT typeof(data) || ':' || hex(data) FROM blobs WHERE id = 2")" = blob:000102FF00 ]
	[ "$(sqlite3 r.db "SELECT typeof(data) || ':' || length(data) FROM blobs WHERE id = 3")" = blob:0 ]
	[ "$(sqlite3 r.db "SELECT typeof(data) FROM blobs WHERE id = 4")" = null ]
	[ "$(sqlite3 r.db "SELECT typeof(label) || ':' || label FROM blobs WHERE id = 5")" = 'text:\x0' ]
	[ "$(sqlite3 r.db "SELECT quote(\"the note\") FROM \"price list\" WHERE \"item code\" = '会员'")" = "''" ]
	[ "$(sqlite3 r.db "SELECT quote(\"the note\") FROM \"price list\" WHERE \"item code\" = ''")" = NULL ]
	[ "$(sqlite3 r.db "SELECT quote(\"unit price\") FROM \"price list\" WHERE \"item code\" = 'B\"2'")" = 1.0e+300 ]
	[ "$(sqlite3 r.db "SELECT typeof(d) || ':' || d FROM visits WHERE a = 1 AND b = 'a'")" = text:01 ]
	[ "$(sqlite3 r.db "SELECT quote(c) FROM visits WHERE a = 1 AND b = 'b'")" = Inf ]
	[ "$(sqlite3 r.db "SELECT \"余额\" FROM \"会员卡\" WHERE \"卡号\" = 'C001'")" = 123456 ]
	[ "$(sqlite3 r.db "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name IN ('visits_c', 'blobs_label')")" = 2 ]
	[ "$(sqlite3 r.db "SELECT sql FROM sqlite_schema WHERE name = 'price list'")" = \
	    "$(sqlite3 "$FX/odd.db" "SELECT sql FROM sqlite_schema WHERE name = 'price list'")" ]
	assert_tmpdir_empty
}

@test "restore -o: the export set comes back byte for byte, files 0600" {
	run rst -o out "$FX/spool/gym.seal"
	assert_success
	assert_same_tree out "$FX/gym"
	assert_mode 600 out/*
	assert_mode 700 out
	assert_gone "$W/out.tmp"
	run rst -o odd "$FX/spool/odd.seal"
	assert_success
	assert_same_tree odd "$FX/odd"
	assert_tmpdir_empty
}

@test "restore -d: full + 2 incrementals in shuffled order equal the source at the last export" {
	local s=$FX/spool
	run rst -d sqlite:r.db "$s/inc2.seal" "$s/full.tar.gz.gpg" "$s/inc1.seal"
	assert_success
	assert_db_equal r.db "$FX/chain/final.db"
	# The incrementals did the work: full + inc1 alone is not the end state,
	# and the later, unarchived change is not there.
	run rst -d sqlite:r1.db "$s/inc1.seal" "$s/full.seal"
	assert_success
	run db_equal r1.db "$FX/chain/final.db"
	assert_failure
	assert_output --partial "members"
	run db_equal r.db "$FX/chain/src.db"
	assert_failure
	[ "$(sqlite3 r.db "SELECT name FROM members WHERE id = 100001")" = '新会员 改' ]
	[ "$(sqlite3 r.db "SELECT bonus_amount FROM promotions WHERE id = 1")" = 777 ]
	assert_tmpdir_empty
}

@test "restore -o with a chain: one export set per archive, each byte for byte" {
	local s=$FX/spool n
	run rst -o out "$s/inc1.seal" "$s/inc2.seal" "$s/full.seal"
	assert_success
	[ "$(ls out | tr '\n' ' ')" = "full inc1 inc2 " ] || fail "out holds: $(ls out)"
	for n in full inc1 inc2; do
		assert_same_tree "out/$n" "$FX/chain/$n"
	done
	assert_tmpdir_empty
}

# ------------------------------------------------------------ restore test

@test "restore --test on a good chain: OK per table, the summary, exit 0, TMPDIR left empty" {
	local s=$FX/spool a id t n=0 want
	run --separate-stderr rst --test "$s/inc2.seal" "$s/full.seal" "$s/inc1.tar.gz.gpg"
	assert_success
	for a in full inc1 inc2; do
		id=$(awk -F'\t' '$1 == "id" { print $2 }' "$FX/chain/$a/MANIFEST")
		for t in $(mf_tables "$FX/chain/$a/MANIFEST"); do
			# an incremental's table is held to its whole at the snapshot
			want=$(mf "$FX/chain/$a/MANIFEST" total "$t" | cut -f1)
			[ -n "$want" ] || want=$(mf "$FX/chain/$a/MANIFEST" rows "$t")
			assert_line --regexp "^OK: $id $t: $want rows, sha256 match, money sums match$"
			n=$((n + 1))
		done
	done
	[ "${#lines[@]}" -eq $((n + 1)) ] || fail "output: $output"
	assert_line --index "$n" "restore test: 3 archives, OK"
	refute_output --partial "FAIL"
	assert_tmpdir_empty
	run rst --test "$FX/spool/odd.seal"
	assert_success
	assert_line "restore test: 1 archive, OK"
	assert_tmpdir_empty
}

@test "restore --test on an archive whose MANIFEST lies: FAIL, exit 1, nothing left" {
	before
	run rst --test "$FX/spool/lie.seal"
	assert_failure 1
	assert_output --partial "recharges"
	assert_output --partial "rows"
	assert_output --partial "FAIL"
	refute_output --partial "restore test: 1 archive, OK"
	assert_nothing_left
	MODES="-o out,-d sqlite:r.db" refused 1 "rows" "$FX/spool/lie.seal"
}

# ------------------------------------------------------- chains that fail

@test "restore refuses a chain with a gap (exit 2)" {
	refused 2 "gap" "$FX/spool/full.seal" "$FX/spool/inc2.seal"
	assert_output --partial "full.tar.gz.gpg"
}

@test "restore refuses two fulls (exit 2)" {
	refused 2 "both full" "$FX/spool/full.seal" "$FX/spool/gym.seal"
	assert_output --partial "gym.tar.gz.gpg"
	refused 2 "both full" "$FX/spool/full.seal" "$FX/spool/inc1.seal" "$FX/spool/full.tar.gz.gpg"
}

@test "restore refuses incrementals without their full (exit 2)" {
	refused 2 "no full" "$FX/spool/inc1.seal" "$FX/spool/inc2.seal"
}

@test "restore refuses an archive from another source in the chain (exit 2)" {
	refused 2 "another site or source" "$FX/spool/full.seal" "$FX/spool/other.seal"
	assert_output --partial "other.tar.gz.gpg"
}

# ------------------------------------------------------------- targets

@test "restore refuses a target that is not empty (exit 2) and leaves it untouched" {
	local sum
	cp "$FX/gym.db" r.db
	sum=$(sha256sum <r.db)
	run rst -d sqlite:r.db "$FX/spool/gym.seal"
	assert_failure 2
	assert_output --partial "not empty"
	[ "$(sha256sum <r.db)" = "$sum" ] || fail "r.db was changed"
	[ -z "$(compgen -G 'r.db.tmp.*')" ] || fail "left: $(compgen -G 'r.db.tmp.*')"
	# -o: an existing directory, even empty.
	mkdir out
	echo keep >out/file
	run rst -o out "$FX/spool/gym.seal"
	assert_failure 2
	assert_output --partial "out"
	[ "$(ls -A out)" = file ] && [ "$(cat out/file)" = keep ] || fail "out was changed"
	[ -z "$(compgen -G 'out.tmp.*')" ] || fail "left: $(compgen -G 'out.tmp.*')"
	assert_tmpdir_empty
}

@test "restore -d into an existing database without tables works" {
	sqlite3 empty.db "PRAGMA user_version = 0; VACUUM;"
	: >zero.db
	run rst -d sqlite:empty.db "$FX/spool/odd.seal"
	assert_success
	assert_db_equal empty.db "$FX/odd.db"
	run rst -d sqlite:zero.db "$FX/spool/odd.seal"
	assert_success
	assert_db_equal zero.db "$FX/odd.db"
}

@test "restore: usage errors (exit 2): no signer pinned, not exactly one of -o -d --test" {
	before
	run env GNUPGHOME="$KEYS/restore" gb-restore -o out "$FX/spool/gym.seal"
	assert_failure 2
	assert_output --partial "signer"
	run rst "$FX/spool/gym.seal"
	assert_failure 2
	run rst -o out -d sqlite:r.db "$FX/spool/gym.seal"
	assert_failure 2
	run rst --test -o out "$FX/spool/gym.seal"
	assert_failure 2
	run rst -o out
	assert_failure 2
	run rst -d mysql:r.db "$FX/spool/gym.seal"
	assert_failure 2
	assert_output --partial "mysql:r.db"
	assert_nothing_left
}

# ------------------------------------------------------------- bad days

@test "restore refuses an archive with one flipped byte (start, middle, end)" {
	local pos
	for pos in start middle end; do
		mkdir s
		cp "$FX/spool/gym.tar.gz.gpg" "$FX/spool/gym.seal" s/
		flip_byte s/gym.tar.gz.gpg "$pos"
		refused 1 "nothing restored" s/gym.seal
		assert_output --partial "gym.tar.gz.gpg"
		rm -r s
	done
}

@test "restore refuses a truncated archive" {
	mkdir s
	cp "$FX/spool/gym.tar.gz.gpg" "$FX/spool/gym.seal" s/
	truncate_to s/gym.tar.gz.gpg $(($(stat -c %s s/gym.tar.gz.gpg) - 100))
	refused 1 "nothing restored" s/gym.seal
	assert_output --partial "gym.tar.gz.gpg"
	# A missing seal.
	rm s/gym.seal
	refused 3 "gym.seal" s/gym.tar.gz.gpg
}

@test "restore refuses damage under a seal that matches it (forged by the signer's key)" {
	local n
	mkdir s
	cp "$FX/spool/gym.tar.gz.gpg" s/
	flip_byte s/gym.tar.gz.gpg middle
	seal_text "$FX/spool/gym.seal" >text
	n=$(grep -n '  gym\.tar\.gz\.gpg$' text | cut -d: -f1)
	sed -i "${n}c\\$(cd s && sha256sum gym.tar.gz.gpg)" text
	grep -qxF "$(cd s && sha256sum gym.tar.gz.gpg)" text || fail "could not forge"
	gpgk backup --clearsign -u "$SIGNER" -o s/gym.seal text
	# The seal level takes it...
	run env GNUPGHOME="$KEYS/restore" gb-verify --signer "$SIGNER" s/gym.seal
	assert_success
	# ...the restore does not, and writes nothing usable.
	refused 1 "nothing restored" s/gym.seal
}

@test "restore without the right recipient's secret key fails naming the secret key" {
	# gym1 is sealed to RCPT1 only; $R2 holds RCPT2's secret key only.
	run gpgk "$R2" --with-colons -K
	[[ "$output" == *"$RCPT2"* && "$output" != *"$RCPT1"* ]] || fail "R2 keyring: $output"
	refused_by "$R2" "$SIGNER" "secret key" "$FX/spool/gym1.seal"
	# The same archive restores with RCPT1's key.
	run rst -o ok "$FX/spool/gym1.seal"
	assert_success
	assert_same_tree ok "$FX/gym"
}

@test "restore refuses archives of an unknown signer" {
	refused_by "$KEYS/restore" "$RCPT1" "$RCPT1" "$FX/spool/gym.seal"
}

@test "restore: an archive signed by a signing subkey of the pinned signer restores; one signed twice, even both times by the signer, restores nothing (exit 1)" {
	local k=$BATS_TEST_TMPDIR/k r=$BATS_TEST_TMPDIR/r sub
	mkdir spool
	cp -a "$KEYS/backup" "$k"
	cp -a "$KEYS/restore" "$r"
	rm -f "$k"/S.* "$r"/S.*
	gpgk "$k" --passphrase '' --quick-add-key "$SIGNER" ed25519 sign 2y
	sub=$(gpgk "$k" --with-colons --list-keys "$SIGNER" |
	    awk -F: '$1 == "sub" { s = 1 } s && $1 == "fpr" { f = $10 } END { print f }')
	[ -n "$sub" ] && [ "$sub" != "$SIGNER" ] || fail "no signing subkey: $sub"
	gpgk "$k" --export "$SIGNER" | gpgk "$r" --import
	as "$k" gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o spool/sub \
	    "$FX/spool/gym.tar.gz" 2>/dev/null
	# the subkey signed, and gpg names the signer as its primary key
	run gpgk "$r" --status-fd 1 --decrypt -o /dev/null spool/sub.tar.gz.gpg
	assert_success
	assert_line --regexp "^\[GNUPG:\] VALIDSIG $sub .* $SIGNER\$"
	run env GNUPGHOME="$r" gb-restore --signer "$SIGNER" -d sqlite:r.db spool/sub.seal
	assert_success
	assert_output ''
	assert_db_equal r.db "$FX/gym.db"
	rm r.db
	run env GNUPGHOME="$r" gb-restore --signer signer@gym.example --test spool/sub.seal
	assert_success
	assert_line "restore test: 1 archive, OK"
	# the primary key and its subkey both sign: two signatures
	forge_sealed "$FX/spool/gym.tar.gz" spool/twice "$FX/spool/gym.seal" "$k" \
	    -u "$SIGNER!" -u "$sub!"
	run gpgk "$r" --status-fd 1 --decrypt -o /dev/null spool/twice.tar.gz.gpg
	[ "$(grep -c '^\[GNUPG:\] GOODSIG ' <<<"$output")" = 2 ] ||
	    fail "not signed twice: $output"
	refused_by "$r" "$SIGNER" "spool/twice.tar.gz.gpg: inner signature: signed 2 times, where one signature by the signer is expected; nothing restored" spool/twice.seal
}

@test "restore: a gpg killed half-way through the decryption fails (exit 3, the signal named) and restores nothing" {
	fake_gpg "$W/fake" <<EOF
#!/bin/bash
case " \$* " in
*" --decrypt "*)
	$(command -v gpg) "\$@" | head -c 20000
	kill -KILL \$\$ ;;
*)	exec $(command -v gpg) "\$@" ;;
esac
EOF
	[ "$(stat -c %s "$FX/spool/gym.tar.gz")" -gt 40000 ] || fail "the archive is small: $(stat -c %s "$FX/spool/gym.tar.gz")"
	PATH="$W/fake:$PATH" refused 3 "$FX/spool/gym.tar.gz.gpg: cannot decrypt: gpg killed by signal 9" "$FX/spool/gym.seal"
	assert_output --partial "nothing restored"
	# the same archive, with the real gpg
	run rst --test "$FX/spool/gym.seal"
	assert_success
}

@test "restore: a gpg that said nothing of the archive (no status line) could not run (exit 3, its own message), whatever its exit: the archive is not called bad" {
	fake_gpg "$W/fake" <<EOF
#!/bin/bash
case " \$* " in
*" --decrypt "*)
	cat >/dev/null
	[ -e "$W/fatal" ] || exit 0
	echo "gpg: Fatal: can't create directory '/x/.gnupg': Permission denied" >&2
	exit 2 ;;
*)	exec $(command -v gpg) "\$@" ;;
esac
EOF
	PATH="$W/fake:$PATH" refused 3 "$FX/spool/gym.tar.gz.gpg: cannot decrypt: gpg exited 0 and wrote no status line" "$FX/spool/gym.seal"
	# the archive named once
	assert_output "gb-restore: $FX/spool/gym.tar.gz.gpg: cannot decrypt: gpg exited 0 and wrote no status line; nothing restored"
	touch "$W/fatal"
	PATH="$W/fake:$PATH" refused 3 "$FX/spool/gym.tar.gz.gpg: cannot decrypt: gpg exited 2: gpg: Fatal: can't create directory '/x/.gnupg': Permission denied" "$FX/spool/gym.seal"
}

@test "restore: a SIGCHLD ignored by whoever started gb-restore (inherited through exec) changes nothing: gpg's exit is still waited for" {
	run bash -c "trap '' CHLD; GNUPGHOME=\"\$1\" exec gb-restore --signer \"\$2\" --test \"\$3\"" - \
	    "$KEYS/restore" "$SIGNER" "$FX/spool/gym.seal"
	assert_success
	assert_line "restore test: 1 archive, OK"
}

@test "restore refuses hostile member names and types, for -o and -d, and creates nothing" {
	local spec kind name i=0 mode
	mkdir work spool
	for spec in "file ../evil" "file $W/abs" "symlink link" "chardev dev" "file a/b" \
	    "hardlink hl" "dir d" "file .."; do
		kind=${spec%% *}
		name=${spec#* }
		i=$((i + 1))
		hostile_packed "$FX/gym/MANIFEST" "h$i.tar.gz" "$kind" "$name" "$FX/spool/gym.tar.gz"
		run as backup gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o "spool/h$i" "h$i.tar.gz"
		assert_success
		cd work
		for mode in "-o out" "-d sqlite:r.db" "--test"; do
			run rst $mode "../spool/h$i.seal"
			assert_failure 1
			assert_output --partial "refused"
			assert_output --partial "nothing restored"
			[ ! -e "$W/evil" ] && [ ! -L "$W/evil" ] || fail "$spec: ../evil was created"
			[ ! -e "$W/abs" ] || fail "$spec: $W/abs was created"
			[ -z "$(ls -A "$W/work")" ] || fail "$spec $mode: left in work: $(ls -A "$W/work")"
			assert_tmpdir_empty
		done
		cd "$W"
	done
}

@test "restore refuses members of size -1, of an absurd size or not the MANIFEST's, sealed with the signer's key, and creates nothing" {
	local spec i=0
	mkdir spool
	for spec in "pax:MANIFEST:SCHILY.realsize=-1|refused: archive member MANIFEST has no sane size (-1)" \
	    "pax:SCHEMA.sql:SCHILY.realsize=-1|refused: archive member SCHEMA.sql has no sane size (-1)" \
	    "pax:members.csv:SCHILY.realsize=-1|refused: archive member members.csv has no sane size (-1)" \
	    "pax:SCHEMA.sql:size=1125899906842624|refused: archive member SCHEMA.sql has no sane size (1125899906842624)" \
	    "pax:stores.csv:SCHILY.realsize=10000000|stores.csv: 10000000 bytes in the archive, the MANIFEST says $(mf "$FX/gym/MANIFEST" bytes stores)"; do
		i=$((i + 1))
		craft_packed "$FX/gym" "h$i.tar.gz" "$FX/spool/gym.tar.gz" "${spec%%|*}"
		forge_sealed "h$i.tar.gz" "spool/h$i" "$FX/spool/gym.seal"
		refused 1 "spool/h$i.tar.gz.gpg: ${spec#*|}; nothing restored" "spool/h$i.seal"
	done
}

@test "restore reads the bytes it hashed: a file swapped after it was first read is never restored, one swapped before it is read restores nothing" {
	local mode with
	# Unsigned, made with the recipients' public keys alone, with a
	# MANIFEST of size -1; and the same archive sealed again (other
	# bytes, all good).
	craft_packed "$FX/gym" "$BATS_TEST_TMPDIR/evil.tar.gz" "$FX/spool/gym.tar.gz" \
	    pax:MANIFEST:SCHILY.realsize=-1
	encrypt_unsigned "$BATS_TEST_TMPDIR/evil.tar.gz" "$BATS_TEST_TMPDIR/evil.gpg"
	reseal "$FX/spool/gym.tar.gz" "$FX/spool/gym.tar.gz.gpg" "$BATS_TEST_TMPDIR/again/gym"
	# Replaced as soon as the first reader closes it: what is restored is
	# what was sealed.
	for mode in "-o out" "-d sqlite:r.db" "--test"; do
		rm -rf s out r.db
		mkdir s
		cp "$FX/spool/gym.tar.gz.gpg" "$FX/spool/gym.seal" s/
		cp "$BATS_TEST_TMPDIR/evil.gpg" swap.gpg
		run faulty swapafter:close:1:swap.gpg@s/gym.tar.gz.gpg \
		    GNUPGHOME="$KEYS/restore" gb-restore --signer "$SIGNER" $mode s/gym.seal
		assert_success
		cmp -s s/gym.tar.gz.gpg "$BATS_TEST_TMPDIR/evil.gpg" || fail "the file was not swapped"
		case $mode in
		-o*) assert_same_tree out "$FX/gym" ;;
		-d*) assert_db_equal r.db "$FX/gym.db" ;;
		*) assert_line "restore test: 1 archive, OK" ;;
		esac
		assert_tmpdir_empty
	done
	rm -rf s out r.db
	# Replaced before it is opened (after the seal and the size were
	# checked): nothing is restored.
	for with in evil.gpg again/gym.tar.gz.gpg; do
		mkdir s
		cp "$FX/spool/gym.tar.gz.gpg" "$FX/spool/gym.seal" s/
		before
		for mode in "-o out" "-d sqlite:r.db" "--test"; do
			cp "$BATS_TEST_TMPDIR/$with" s/swap.gpg
			run faulty swap:open:1:s/swap.gpg@s/gym.tar.gz.gpg \
			    GNUPGHOME="$KEYS/restore" gb-restore --signer "$SIGNER" $mode s/gym.seal
			assert_failure 1
			assert_output "gb-restore: s/gym.tar.gz.gpg: size or SHA-256 of the bytes read differs from the seal (truncated, altered or replaced); nothing restored"
			cmp -s s/gym.tar.gz.gpg "$BATS_TEST_TMPDIR/$with" || fail "the file was not swapped"
			rm s/gym.tar.gz.gpg
			cp "$FX/spool/gym.tar.gz.gpg" s/
			assert_nothing_left
		done
		rm -r s
	done
}

@test "restore -o and -d: when the directory cannot be synced after the rename, exit 3 and nothing is kept" {
	local mode
	before
	for mode in "-o out" "-d sqlite:r.db"; do
		run faulty "fsync:1+@$PWD" GNUPGHOME="$KEYS/restore" gb-restore --signer "$SIGNER" \
		    $mode "$FX/spool/gym.seal"
		assert_failure 3
		assert_nothing_left
		assert_output --regexp "^gb-restore: cannot sync the directory of [^ ]*(out|r\.db); nothing restored: Input/output error$"
	done
	# Without the fault the same restores work.
	run rst -o out "$FX/spool/gym.seal"
	assert_success
	assert_same_tree out "$FX/gym"
}

@test "restore: a record longer than 64 MiB (one field of 300 MiB in a small archive) is refused in bounded memory, nothing left" {
	local mode rss
	sqlite3 -bail "$BATS_TEST_TMPDIR/big.db" "CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT);
	    INSERT INTO big VALUES (1, 'x')"
	gb-export -s "sqlite:$BATS_TEST_TMPDIR/big.db" -o "$BATS_TEST_TMPDIR/set" 2>/dev/null
	craft_packed "$BATS_TEST_TMPDIR/set" "$BATS_TEST_TMPDIR/big.tar.gz" "$FX/spool/gym.tar.gz" \
	    "big:big.csv:$((300 << 20))"
	mkdir s
	as backup gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o s/big \
	    <"$BATS_TEST_TMPDIR/big.tar.gz" 2>/dev/null
	before
	for mode in "--test" "-d sqlite:r.db" "-o out"; do
		run env GNUPGHOME="$KEYS/restore" /usr/bin/time -f %M -o "$BATS_TEST_TMPDIR/rss" \
		    gb-restore --signer "$SIGNER" $mode s/big.seal
		rss=$(tail -n 1 "$BATS_TEST_TMPDIR/rss")
		[ "$rss" -lt 200000 ] || fail "$mode: peak RSS $rss KiB"
		assert_failure 1
		assert_line "gb-restore: s/big.tar.gz.gpg: big.csv: line 2: record longer than 64 MiB, the most a record may have; nothing restored"
		[ "$mode" != --test ] || assert_line "restore test: 1 archive, FAILED"
		assert_nothing_left
	done
}

# ------------------------------------ SCHEMA.sql: the export's own forms

# small_set DIR: the export set of a small table t (id, v, updated_at)
# with a NULL in v.
small_set() {
	sqlite3 -bail small.db "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, updated_at TEXT);
	    INSERT INTO t VALUES (1, 'a', '2026-01-01'), (2, NULL, '2026-01-02'), (3, 'c', '2026-01-03')"
	gb-export -s sqlite:small.db -o "$1"
}

@test "restore refuses SCHEMA.sql statements the export never writes: exit 1 naming each, nothing restored" {
	local i=0 e stmt mode gbv_out
	small_set set
	mkdir spool
	# sed expression | the statement the message names
	while IFS='|' read -r e stmt; do
		i=$((i + 1))
		schema_lie set "bad$i" "$e"
		seal_set "bad$i" "spool/bad$i"
		before
		for mode in "-d sqlite:r.db" "--test"; do
			# a recursive CREATE TABLE ... AS SELECT ran for ever
			run timeout 60 env GNUPGHOME="$KEYS/restore" gb-restore \
			    --signer "$SIGNER" $mode "spool/bad$i.seal"
			assert_failure 1
			assert_output --partial "SCHEMA.sql: refused statement"
			assert_output --partial "$stmt"
			assert_output --partial "nothing restored"
			assert_nothing_left
		done
		gbv_out=$(GNUPGHOME="$KEYS/restore" gb-verify --signer "$SIGNER" --deep "spool/bad$i.seal") &&
		    fail "gb-verify --deep passed what gb-restore refuses: $stmt"
		[[ "$gbv_out" == *"FAIL: SCHEMA.sql: refused statement"*"$stmt"* ]] ||
		    fail "gb-verify --deep: $gbv_out"
	done <<-'EOF'
	s/^CREATE TABLE t /CREATE TABLE temp.t /|CREATE TABLE temp.t (id
	s/^CREATE TABLE t /CREATE TEMP TABLE t /|CREATE TEMP TABLE t (id
	$a CREATE TABLE x AS WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT n FROM c;|CREATE TABLE x AS WITH RECURSIVE
	$a CREATE TABLE y (a) AS SELECT 1;|CREATE TABLE y (a) AS SELECT 1
	$a CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM t; END;|CREATE TRIGGER tr AFTER INSERT
	$a CREATE VIEW w AS SELECT * FROM t;|CREATE VIEW w AS
	$a PRAGMA writable_schema = 1;|PRAGMA writable_schema = 1
	$a ATTACH 'x.db' AS x;|ATTACH 'x.db' AS x
	$a CREATE INDEX i ON t (v); DELETE FROM t;|DELETE FROM t
	$a CREATE VIRTUAL TABLE r USING rtree(id, x0, x1);|CREATE VIRTUAL TABLE r USING rtree
	$a CREATE VIRTUAL TABLE f USING fts5(a, content='t');|CREATE VIRTUAL TABLE f USING fts5(a, content=
	EOF
}

@test "restore: an ON CONFLICT IGNORE in SCHEMA.sql drops no row: the row is refused (exit 3) naming the table, nothing restored" {
	small_set set
	schema_lie set bad 's/v TEXT/v TEXT NOT NULL ON CONFLICT IGNORE/'
	mkdir spool
	seal_set bad spool/bad
	# as any row the target refuses (pg-restore.bats): exit 3
	MODES="-d sqlite:r.db,--test" refused 3 "table t: NOT NULL constraint failed: t.v" spool/bad.seal
	# the same with the good schema: all three rows
	seal_set set spool/good
	run rst -d sqlite:r.db spool/good.seal
	assert_success
	assert_equal "$(sqlite3 r.db "SELECT count(*) FROM t WHERE v IS NULL")" 1
}

@test "restore -d sqlite: a row refused thousands of rows in (batches later) exits 3 naming the table and constraint, nothing left; a table named gb_rows comes back" {
	# rows are inserted in batches on a thread of their own, through a
	# virtual table temp.gb_rows: a source table of that name is no other
	sqlite3 -bail big.db "CREATE TABLE gb_rows (id INTEGER PRIMARY KEY, v TEXT, b BLOB, r REAL);
	    WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 10000)
	    INSERT INTO gb_rows SELECT n, CASE n WHEN 9000 THEN NULL ELSE 'v' || n END,
	      CASE n % 3 WHEN 0 THEN x'00ff' WHEN 1 THEN NULL ELSE x'' END, n / 7.0 FROM c;
	    CREATE INDEX gb_rows_v ON gb_rows (v)"
	gb-export -s sqlite:big.db -o set
	schema_lie set bad 's/v TEXT/v TEXT NOT NULL/'
	mkdir spool
	seal_set bad spool/bad
	MODES="-d sqlite:r.db,--test" refused 3 \
	    "table gb_rows: NOT NULL constraint failed: gb_rows.v" spool/bad.seal
	seal_set set spool/good
	run rst -d sqlite:r.db spool/good.seal
	assert_success
	assert_db_equal r.db big.db
	assert_equal "$(sqlite3 r.db "SELECT count(*), sum(v IS NULL), sum(length(b)),
	    typeof(max(r)) FROM gb_rows")" "10000|1|6666|real"
}

@test "restore -d sqlite: a batch of rows whose texts and blobs are all empty keeps '' and x'', not NULL" {
	sqlite3 -bail e.db "CREATE TABLE e (id INTEGER PRIMARY KEY, t TEXT, b BLOB);
	    INSERT INTO e VALUES (1, '', x''), (2, NULL, NULL)"
	gb-export -s sqlite:e.db -o set
	mkdir spool
	seal_set set spool/e
	run rst -d sqlite:r.db spool/e.seal
	assert_success
	assert_equal "$(sqlite3 r.db "SELECT id, quote(t), quote(b) FROM e")" \
	    "$(printf "1|''|X''\n2|NULL|NULL")"
	assert_db_equal r.db e.db
}

@test "restore -d: rows in the target counted against the MANIFEST: an incremental holding a row its source did not is exit 1" {
	sqlite3 -bail small.db "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, updated_at TEXT);
	    INSERT INTO t VALUES (1, 'a', '2026-01-01'), (2, 'b', '2026-01-02')"
	printf '[site]\nname = s\n[source]\nuri = sqlite:small.db\n[table t]\nkey = id\nwatermark = updated_at\nclass = master\n' >s.conf
	gb-export -c s.conf -o full
	sqlite3 -bail small.db "UPDATE t SET v = 'b2', updated_at = '2026-02-01' WHERE id = 2"
	gb-export -c s.conf -i full/MANIFEST -o inc
	assert_equal "$(tail -n +2 inc/t.csv)" "2,b2,2026-02-01"
	# a row the source did not have: three rows where it held two
	cp -a inc twice
	echo "3,c,2026-02-02" >>twice/t.csv
	sed -i -e "s/^rows\tt\t1\$/rows\tt\t2/" \
	    -e "s/^bytes\tt\t.*/bytes\tt\t$(stat -c %s twice/t.csv)/" \
	    -e "s/^sha256\tt\t.*/sha256\tt\t$(sha256sum <twice/t.csv | cut -d' ' -f1)/" twice/MANIFEST
	mkdir spool
	seal_set full spool/full
	seal_set inc spool/inc
	seal_set twice spool/twice
	MODES="-d sqlite:r.db" refused 1 "table t: 3 rows in the target after loading, the source held 2 at the snapshot" \
	    spool/full.seal spool/twice.seal
	# the true chain passes the same count
	run rst -d sqlite:r.db spool/full.seal spool/inc.seal
	assert_success
	assert_equal "$(sqlite3 r.db "SELECT id, v FROM t ORDER BY id" | paste -sd' ')" "1|a 2|b2"
}

# ----------------------------------------------------------- FTS5 tables

@test "restore: an FTS5 table comes back with its rowids and a working index (-d, --test, verify --deep)" {
	sqlite3 -bail fts.db <<-'EOF'
	CREATE TABLE members (id INTEGER PRIMARY KEY, name TEXT);
	INSERT INTO members VALUES (7, 'Alice Smith'), (10, 'Bob Jones'), (25, '张伟');
	CREATE VIRTUAL TABLE member_search USING fts5(name, note, tokenize = 'unicode61 remove_diacritics 2');
	INSERT INTO member_search (rowid, name, note) VALUES
	  (7, 'Alice Smith', 'gold; "VIP"'), (10, 'Bob Jones', 'Alice''s friend'),
	  (25, '张伟', NULL), (1000, 'Zoë Café', 'line1' || char(10) || 'line2');
	EOF
	gb-export -s sqlite:fts.db -o set
	# the table and its content, not its shadow tables as data
	assert_equal "$(ls set | paste -sd' ')" "MANIFEST SCHEMA.sql member_search.csv members.csv"
	assert_equal "$(head -n 1 set/member_search.csv)" "rowid,name,note"
	mkdir spool
	seal_set set spool/fts
	run --separate-stderr env GNUPGHOME="$KEYS/restore" gb-verify --signer "$SIGNER" --deep spool/fts.seal
	assert_success
	run rst -d sqlite:r.db spool/fts.seal
	assert_success
	local q
	for q in "'alice'" "'smith OR jones'" "'zoe AND cafe'" "'vip'" "'张伟'" "'line2'"; do
		assert_equal "$(sqlite3 r.db "SELECT rowid, name, note FROM member_search WHERE member_search MATCH $q ORDER BY rank, rowid")" \
		    "$(sqlite3 fts.db "SELECT rowid, name, note FROM member_search WHERE member_search MATCH $q ORDER BY rank, rowid")"
		[ -n "$(sqlite3 r.db "SELECT rowid FROM member_search WHERE member_search MATCH $q")" ] ||
		    fail "MATCH $q found nothing"
	done
	assert_equal "$(sqlite3 r.db "SELECT group_concat(rowid) FROM member_search WHERE member_search MATCH 'alice'")" "7,10"
	assert_equal "$(sqlite3 r.db "INSERT INTO member_search(member_search) VALUES('integrity-check'); SELECT 'ok'")" ok
	assert_equal "$(sqlite3 r.db "SELECT type FROM sqlite_schema WHERE name = 'member_search'")" table
	run rst --test spool/fts.seal
	assert_success
	assert_output --partial "OK: "
	assert_output --partial "member_search: 4 rows"
	assert_output --partial "restore test: 1 archive, OK"
}

@test "restore -d: an FTS5 table through a chain: the incremental's rows replace theirs by rowid" {
	sqlite3 -bail s.db "CREATE VIRTUAL TABLE m USING fts5(name, updated_at UNINDEXED);
	    INSERT INTO m(rowid, name, updated_at) VALUES (5, 'alice', '2026-01-01'), (9, 'bob', '2026-01-02')"
	printf '[site]\nname = s\n[source]\nuri = sqlite:s.db\n[table m]\nwatermark = updated_at\nclass = master\n' >s.conf
	gb-export -c s.conf -o full
	sqlite3 -bail s.db "UPDATE m SET name = 'bobby', updated_at = '2026-02-01' WHERE rowid = 9;
	    INSERT INTO m(rowid, name, updated_at) VALUES (12, 'carol', '2026-02-02')"
	gb-export -c s.conf -i full/MANIFEST -o inc
	mkdir spool
	seal_set full spool/full
	seal_set inc spool/inc
	run rst -d sqlite:r.db spool/inc.seal spool/full.seal
	assert_success
	assert_equal "$(sqlite3 r.db "SELECT rowid, name FROM m ORDER BY rowid" | paste -sd' ')" "5|alice 9|bobby 12|carol"
	assert_equal "$(sqlite3 r.db "SELECT rowid FROM m WHERE m MATCH 'bobby OR carol' ORDER BY rowid" | paste -sd' ')" "9 12"
	assert_equal "$(sqlite3 r.db "SELECT count(*) FROM m WHERE m MATCH 'bob'")" 0
	run rst --test spool/full.seal spool/inc.seal
	assert_success
	assert_line "restore test: 2 archives, OK"
}

@test "restore -d sqlite: a table of 2000 columns of NULLs (16 bytes of value per byte of CSV) goes in batches bounded by bytes, every row back" {
	local cols rss
	cols=$(seq -f ', c%g INTEGER' 1 1999 | tr -d '\n')
	sqlite3 -bail wide.db "CREATE TABLE wide (id INTEGER PRIMARY KEY $cols);
	    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000)
	    INSERT INTO wide (id, c1999) SELECT i, i FROM n"
	gb-export -s sqlite:wide.db -o set
	mkdir spool
	seal_set set spool/wide
	# ASan's quarantine would hold the freed rows
	run env GNUPGHOME="$KEYS/restore" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" \
	    /usr/bin/time -f %M -o rss gb-restore --signer "$SIGNER" -d sqlite:r.db spool/wide.seal
	assert_success
	rss=$(tail -n 1 rss)
	# 3 batches of 2048 rows of 2000 values of 16 bytes were 200 MiB
	[ "$rss" -lt 150000 ] || fail "peak RSS $rss KiB"
	assert_equal "$(sqlite3 r.db "SELECT count(*), sum(c1999), count(c1) FROM wide")" "6000|18003000|0"
}

# ------------------------------------------------ SQLite's temporary files

# tmp_files LOG: the files an strace -f -e openat LOG shows made with
# O_EXCL (how SQLite makes its temporary files), one name a line.
tmp_files() {
	sed -n 's/.*openat([^"]*"\([^"]*\)", [^)]*O_EXCL.*/\1/p' "$1" | sort -u
}

@test "restore into SQLite: SQLite's temporary files (the index sorts) are made beside the target, never in TMPDIR or /var/tmp, and none is left" {
	command -v strace >/dev/null || fail "strace is needed"
	gb-demodata -s 2 -n 150000 -o big.db
	gym_export big.db bigset
	seal_set bigset big
	mkdir tmp out
	# -b execve: gpg and the gpg-agent it may start are not followed
	GNUPGHOME="$KEYS/restore" TMPDIR="$W/tmp" strace -f -b execve -e trace=openat \
	    -o st.log "$TOP/bin/gb-restore" --signer "$SIGNER" -d sqlite:out/r.db big.seal
	assert_db_equal big.db out/r.db
	run tmp_files st.log
	# the sort runs of the indexes, and the database's own temporary name
	assert_line --regexp "^$W/out/r\\.db\\.tmp\\.[0-9]+\\.[A-Za-z0-9]{6}-tmp[0-9]+\$"
	refute_line --regexp "^/var/tmp/|^$W/tmp/|etilqs"
	[ "$(ls -A out)" = r.db ] || fail "left in out: $(ls -A out)"
	assert_tmpdir_empty
	# the drill: beside its scratch database, in its own directory
	GNUPGHOME="$KEYS/restore" TMPDIR="$W/tmp" strace -f -b execve -e trace=openat \
	    -o st2.log "$TOP/bin/gb-restore" --signer "$SIGNER" --test big.seal
	run tmp_files st2.log
	assert_line --regexp "^$W/tmp/gb-restore\\.[0-9]+\\.[A-Za-z0-9]{6}/scratch\\.db-tmp[0-9]+\$"
	refute_line --regexp "^/var/tmp/|^$W/tmp/[^/]*\$|etilqs"
	assert_tmpdir_empty
}

# --------------------------------------------- two restores into one path

# stopped_restore PATH: gb-restore -d sqlite:PATH of the gym in the
# background, stopped (SIGSTOP) just after its first write to its
# temporary database; $PID is its.
stopped_restore() {
	make -s -C "$TOP" tests/faultinject.so >/dev/null
	GNUPGHOME="$KEYS/restore" LD_PRELOAD="$TOP/tests/faultinject.so" \
	    GB_FAULT="stopafter:write:1" GB_FAULT_PATH="$W/$1.tmp." \
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	    gb-restore --signer "$SIGNER" -d "sqlite:$1" "$FX/spool/gym.seal" \
	    >"$W/first.out" 2>&1 &
	PID=$!
	bg_started $PID
	local i
	for i in $(seq 200); do
		[ "$(awk '{ print $3 }' "/proc/$PID/stat" 2>/dev/null)" = T ] && return 0
		sleep 0.05
	done
	fail "gb-restore did not stop: $(cat "$W/first.out")"
}

@test "restore -d sqlite: a second restore into the same path while one runs fails (exit 3, naming the first's pid); the first finishes alone; a lock left by a kill -9 is taken over" {
	stopped_restore r.db
	local first=$PID
	# another path is free meanwhile
	rst -d sqlite:other.db "$FX/spool/gym.seal" 2>/dev/null || fail "another path was not free"
	run rst -d sqlite:r.db "$FX/spool/gym.seal"
	kill -CONT "$first"	# before any assertion: a stopped one hangs the teardown
	assert_failure 3
	assert_output "gb-restore: r.db is being restored by process $first; wait for it to end, or restore elsewhere"
	wait "$first" || fail "the first restore failed: $(cat first.out)"
	assert_db_equal "$FX/gym.db" r.db
	[ "$(ls -A | grep '^r\.db' | paste -sd' ')" = r.db ] || fail "left: $(ls -A)"
	# killed outright, the lock file stays but is not held
	stopped_restore again.db
	kill -KILL "$PID"
	wait "$PID" 2>/dev/null || true
	[ -e again.db.lock ] || fail "no lock file was left to take over"
	run rst -d sqlite:again.db "$FX/spool/gym.seal"
	assert_success
	assert_db_equal "$FX/gym.db" again.db
	[ "$(ls -A | grep '^again\.db' | paste -sd' ')" = again.db ] || fail "left: $(ls -A)"
}
