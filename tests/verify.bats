#!/usr/bin/env bats
# gb-verify: the seal level (auditor: public key only) and --deep (a
# recipient's secret key: decrypt, read everything, compare with the
# MANIFEST); every kind of damage is a FAIL line and exit 1.

load helper
load archive-helper

setup_file() {
	archive_setup_file
	local old new
	gb-demodata -s 1 -n 2000 -o "$FX/gym.db"
	write_gym_conf "$FX/gym.conf" "$FX/gym.db"
	gym_export "$FX/gym.db" "$FX/set" "$FX/gym.conf" 2>/dev/null
	mkdir "$FX/spool"
	seal_set "$FX/set" "$FX/spool/a"
	seal_set "$FX/set" "$FX/spool/b"
	# MANIFESTs that lie (the CSVs and their hashes are right): a row
	# count, a money sum.  gb-pack does not count, gb-seal seals them.
	old=$(awk -F'\t' '$1 == "rows" && $2 == "consumptions" { print $3 }' "$FX/set/MANIFEST")
	lie_set "$FX/set" "$FX/lie-rows" "s/^rows\tconsumptions\t$old\$/rows\tconsumptions\t$((old + 1))/"
	seal_set "$FX/lie-rows" "$FX/spool/lie-rows"
	old=$(awk -F'\t' '$1 == "money" && $2 == "members" && $3 == "balance" { print $4 }' "$FX/set/MANIFEST")
	lie_set "$FX/set" "$FX/lie-money" "s/^money\tmembers\tbalance\t$old\$/money\tmembers\tbalance\t$((old - 100))/"
	seal_set "$FX/lie-money" "$FX/spool/lie-money"
	# A packed archive cut short after its MANIFEST member, given its end
	# mark again (if gb-pack writes one), sealed as is.
	head -c "$(($(stat -c %s "$FX/spool/a.tar.gz") / 2))" "$FX/spool/a.tar.gz" >"$FX/cut.tar.gz"
	pack_trailer "$FX/spool/a.tar.gz" >>"$FX/cut.tar.gz"
	as backup gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o "$FX/spool/cut" \
	    <"$FX/cut.tar.gz" 2>/dev/null
}

teardown_file() { archive_teardown_file; }

# gbv ROLE ARGS...: gb-verify with a keyring, pinned to $SIGNER.
gbv() {
	local role=$1
	shift
	GNUPGHOME="$KEYS/$role" gb-verify --signer "$SIGNER" "$@"
}

# A private copy of the spool's a.* in ./s.
copy_a() {
	mkdir -p s
	cp "$FX/spool/a.tar.gz.gpg" "$FX/spool/a.seal" s/
}

# verify_fails ROLE WHY ARGS...: one FAIL line naming a.tar.gz.gpg and WHY.
verify_fails() {
	local role=$1 why=$2
	shift 2
	run --separate-stderr gbv "$role" "$@"
	assert_failure 1
	assert_line --index 0 --regexp "^a\.tar\.gz\.gpg: FAIL: .*$why"
	assert_line --index 1 "1 checked, 0 OK, 1 failed"
}

# ------------------------------------------------------------------ good

@test "verify: the auditor's seal-level check passes for the .seal and the .tar.gz.gpg" {
	cd "$FX/spool"
	run --separate-stderr gbv auditor a.seal a.tar.gz.gpg
	assert_success
	assert_output "a.tar.gz.gpg: OK
a.tar.gz.gpg: OK
2 checked, 2 OK, 0 failed"
	cd "$W"
	run --separate-stderr gbv auditor "$FX/spool/b.tar.gz.gpg"
	assert_success
	assert_output "b.tar.gz.gpg: OK
1 checked, 1 OK, 0 failed"
	# Pinned by the config instead.
	printf '[keys]\nsigner = %s\n' "$SIGNER" >k.conf
	run env GNUPGHOME="$KEYS/auditor" gb-verify -c k.conf "$FX/spool/a.seal"
	assert_success
	assert_line --index 0 "a.tar.gz.gpg: OK"
	assert_tmpdir_empty
}

@test "verify --deep with a recipient's secret key: OK (deep)" {
	run --separate-stderr gbv restore --deep "$FX/spool/a.seal" "$FX/spool/b.tar.gz.gpg"
	assert_success
	assert_output "a.tar.gz.gpg: OK (deep)
b.tar.gz.gpg: OK (deep)
2 checked, 2 OK, 0 failed"
	assert_tmpdir_empty
}

# ---------------------------------------------------------------- damage

@test "verify: one flipped byte at the start, middle, end of the sealed file is a FAIL" {
	local pos
	for pos in start middle end; do
		copy_a
		flip_byte s/a.tar.gz.gpg "$pos"
		verify_fails auditor "SHA-256" s/a.seal
		verify_fails restore "" --deep s/a.tar.gz.gpg
		rm -r s
	done
}

# flips_fail PART: one changed byte at the start, middle, end of the
# seal's PART (text, sig) is a FAIL.
flips_fail() {
	local pos
	for pos in start middle end; do
		copy_a
		flip_seal s/a.seal "$1" "$pos" >/dev/null
		cmp -s s/a.seal "$FX/spool/a.seal" && fail "nothing changed"
		# Stock gpg agrees that the seal is bad.
		run gpgk auditor --verify s/a.seal
		assert_failure
		verify_fails auditor "signature" s/a.seal
		rm -r s
	done
}

@test "verify: one changed byte at the start, middle, end of the seal's signed text is a FAIL" {
	flips_fail text
}

@test "verify: one changed byte at the start, middle, end of the seal's signature is a FAIL" {
	flips_fail sig
}

@test "verify: a truncated sealed file or seal is a FAIL" {
	local size
	copy_a
	size=$(stat -c %s s/a.tar.gz.gpg)
	truncate_to s/a.tar.gz.gpg $((size - 1))
	verify_fails auditor "bytes" s/a.seal
	truncate_to s/a.tar.gz.gpg $((size / 2))
	verify_fails auditor "bytes" s/a.tar.gz.gpg
	verify_fails restore "" --deep s/a.tar.gz.gpg
	truncate_to s/a.tar.gz.gpg 0
	verify_fails auditor "" s/a.seal
	rm -r s
	copy_a
	head -n 20 "$FX/spool/a.seal" >s/a.seal
	verify_fails auditor "" s/a.seal
	rm s/a.seal
	verify_fails auditor "a.seal" s/a.tar.gz.gpg
}

@test "verify: the seal of another archive is a FAIL" {
	mkdir s
	cp "$FX/spool/b.tar.gz.gpg" s/
	cp "$FX/spool/a.seal" s/b.seal
	run --separate-stderr gbv auditor s/b.seal
	assert_failure 1
	assert_line --index 0 --regexp "^b\.tar\.gz\.gpg: FAIL: .*a\.tar\.gz\.gpg"
	# Renaming a good pair does not make it another archive either.
	cp "$FX/spool/a.tar.gz.gpg" s/c.tar.gz.gpg
	cp "$FX/spool/a.seal" s/c.seal
	run --separate-stderr gbv auditor s/c.tar.gz.gpg
	assert_failure 1
	assert_line --index 0 --regexp "^c\.tar\.gz\.gpg: FAIL: .*a\.tar\.gz\.gpg"
	# Same name, other content: b's file under a's seal.
	cp "$FX/spool/b.tar.gz.gpg" s/a.tar.gz.gpg
	cp "$FX/spool/a.seal" s/a.seal
	verify_fails auditor "" s/a.seal
}

@test "verify: a seal by another key than the pinned signer is a FAIL" {
	run --separate-stderr env GNUPGHOME="$KEYS/restore" gb-verify --signer "$RCPT1" "$FX/spool/a.seal"
	assert_failure 1
	assert_line --index 0 --regexp "^a\.tar\.gz\.gpg: FAIL: .*$RCPT1"
	assert_line --index 1 "1 checked, 0 OK, 1 failed"
	# A key the keyring does not know at all.
	run --separate-stderr env GNUPGHOME="$KEYS/auditor" gb-verify \
	    --signer 0123456789ABCDEF0123456789ABCDEF01234567 "$FX/spool/a.seal"
	assert_failure 1
	assert_line --index 0 --regexp "^a\.tar\.gz\.gpg: FAIL: "
	# The signer's public key missing from the keyring.
	new_keyring empty
	run --separate-stderr env GNUPGHOME="$W/empty" gb-verify --signer "$SIGNER" "$FX/spool/a.seal"
	assert_failure 1
	assert_line --index 0 --regexp "^a\.tar\.gz\.gpg: FAIL: "
}

@test "verify: a seal signed twice, by the signer's key and its subkey, is a FAIL; each signature alone passes" {
	local k=$BATS_TEST_TMPDIR/k a=$BATS_TEST_TMPDIR/a sub u
	cp -a "$KEYS/backup" "$k"
	cp -a "$KEYS/auditor" "$a"
	rm -f "$k"/S.* "$a"/S.*
	gpgk "$k" --passphrase '' --quick-add-key "$SIGNER" ed25519 sign 2y
	sub=$(gpgk "$k" --with-colons --list-keys "$SIGNER" |
	    awk -F: '$1 == "sub" { s = 1 } s && $1 == "fpr" { f = $10 } END { print f }')
	gpgk "$k" --export "$SIGNER" | gpgk "$a" --import
	seal_text "$FX/spool/a.seal" >text
	for u in "$SIGNER!" "$sub!"; do
		copy_a
		gpgk "$k" -u "$u" -o s/a.seal --yes --clearsign text
		run --separate-stderr env GNUPGHOME="$a" gb-verify --signer "$SIGNER" s/a.seal
		assert_success
		assert_output "a.tar.gz.gpg: OK
1 checked, 1 OK, 0 failed"
	done
	gpgk "$k" -u "$SIGNER!" -u "$sub!" -o s/a.seal --yes --clearsign text
	run gpgk "$a" --status-fd 1 --verify s/a.seal
	[ "$(grep -c '^\[GNUPG:\] GOODSIG ' <<<"$output")" = 2 ] || fail "not signed twice: $output"
	run --separate-stderr env GNUPGHOME="$a" gb-verify --signer "$SIGNER" s/a.seal
	assert_failure 1
	assert_output "a.tar.gz.gpg: FAIL: s/a.seal: signed 2 times, where one signature by the signer is expected
1 checked, 0 OK, 1 failed"
}

@test "verify: no signer pinned is a usage error (exit 2)" {
	run env GNUPGHOME="$KEYS/auditor" gb-verify "$FX/spool/a.seal"
	assert_failure 2
	assert_output --partial "signer"
	refute_output --partial "OK"
	printf '[site]\nname = x\n' >nokeys.conf
	run env GNUPGHOME="$KEYS/auditor" gb-verify -c nokeys.conf "$FX/spool/a.seal"
	assert_failure 2
	assert_output --partial "signer"
}

@test "verify --deep without a recipient's secret key is a FAIL naming the secret key" {
	run --separate-stderr gbv auditor --deep "$FX/spool/a.seal"
	assert_failure 1
	assert_line --index 0 --regexp "^a\.tar\.gz\.gpg: FAIL: .*secret key"
	assert_line --index 1 "1 checked, 0 OK, 1 failed"
	run --separate-stderr gbv backup --deep "$FX/spool/a.seal"
	assert_failure 1
	assert_line --index 0 --regexp "^a\.tar\.gz\.gpg: FAIL: .*secret key"
	assert_tmpdir_empty
}

# ------------------------------------------------------- lying MANIFESTs

# deep_fails NAME REGEXP [FIRST]: the spool's NAME.seal passes the seal
# level (its first line FIRST, if given), and --deep fails with a first
# line that matches REGEXP.
deep_fails() {
	run --separate-stderr gbv auditor "$FX/spool/$1.seal"
	assert_success
	[ -z "${3-}" ] || assert_line --index 0 "$3"
	run --separate-stderr gbv restore --deep "$FX/spool/$1.seal"
	assert_failure 1
	assert_line --index 0 --regexp "$2"
}

@test "verify: a MANIFEST that lies about a row count passes the seal level, fails --deep on rows" {
	deep_fails lie-rows "^lie-rows\.tar\.gz\.gpg: FAIL: .*consumptions.*rows" \
	    "lie-rows.tar.gz.gpg: OK"
	assert_line --index 1 "1 checked, 0 OK, 1 failed"
}

@test "verify: a MANIFEST that lies about a money sum passes the seal level, fails --deep on money" {
	deep_fails lie-money "^lie-money\.tar\.gz\.gpg: FAIL: .*members.*money.*balance"
	assert_line --index 1 "1 checked, 0 OK, 1 failed"
}

@test "verify: a sealed archive whose packed bytes were cut short passes the seal level, fails --deep" {
	deep_fails cut "^cut\.tar\.gz\.gpg: FAIL: "
}

# ------------------------------------------------------- hostile archives

# seal_crafted NAME SPEC...: spool/NAME, the demo set packed by craft_packed
# with SPECs and sealed with the signer's key (by hand: gb-seal refuses a
# MANIFEST of a bad size).
seal_crafted() {
	local n=$1
	shift
	mkdir -p spool
	craft_packed "$FX/set" "$n.tar.gz" "$FX/spool/a.tar.gz" "$@" &&
	    forge_sealed "$n.tar.gz" "spool/$n" "$FX/spool/a.seal"
}

@test "verify --deep: a member of size -1, of an absurd size or not the MANIFEST's is refused (exit 1), no crash" {
	local schema spec mlen
	schema=$(awk -F'\t' '$1 == "schema" { print $3 }' "$FX/set/MANIFEST")
	mlen=$(stat -c %s "$FX/set/MANIFEST")
	# The crafting itself is sound: without a spec it verifies.
	seal_crafted plain
	run --separate-stderr gbv restore --deep spool/plain.seal
	assert_success
	assert_line --index 0 "plain.tar.gz.gpg: OK (deep)"
	for spec in "pax:MANIFEST:SCHILY.realsize=-1|refused: archive member MANIFEST has no sane size (-1)" \
	    "pax:SCHEMA.sql:SCHILY.realsize=-1|refused: archive member SCHEMA.sql has no sane size (-1)" \
	    "pax:members.csv:SCHILY.realsize=-1|refused: archive member members.csv has no sane size (-1)" \
	    "pax:SCHEMA.sql:size=1125899906842624|refused: archive member SCHEMA.sql has no sane size (1125899906842624)" \
	    "pax:MANIFEST:SCHILY.realsize=1000000|MANIFEST: 1000000 bytes in the archive, the seal says $mlen" \
	    "pax:SCHEMA.sql:SCHILY.realsize=$((schema * 2))|SCHEMA.sql: $((schema * 2)) bytes in the archive, the MANIFEST says $schema" \
	    "pax:SCHEMA.sql:SCHILY.realsize=3|SCHEMA.sql: 3 bytes in the archive, the MANIFEST says $schema"; do
		rm -rf spool
		seal_crafted h "${spec%%|*}"
		run --separate-stderr gbv restore --deep spool/h.seal
		assert_failure 1
		assert_line --index 0 "h.tar.gz.gpg: FAIL: ${spec#*|}"
		assert_line --index 1 "1 checked, 0 OK, 1 failed"
	done
	assert_tmpdir_empty
}

@test "verify --deep checks the bytes it decrypts: swapped after a check or before the read, never taken" {
	# Unsigned, made with the recipients' public keys alone, with a member
	# of size -1; and the same archive sealed again (other bytes, all good).
	craft_packed "$FX/set" evil.tar.gz "$FX/spool/a.tar.gz" pax:MANIFEST:SCHILY.realsize=-1
	encrypt_unsigned evil.tar.gz evil.gpg
	cp evil.gpg swap.gpg
	reseal "$FX/spool/a.tar.gz" "$FX/spool/a.tar.gz.gpg" again/a
	# Replaced once the first reader of the file closes it: only the
	# bytes read once count, and they are the sealed ones.
	copy_a
	run --separate-stderr faulty swapafter:close:1:swap.gpg@s/a.tar.gz.gpg \
	    GNUPGHOME="$KEYS/restore" gb-verify --signer "$SIGNER" --deep s/a.seal
	assert_success
	assert_output "a.tar.gz.gpg: OK (deep)
1 checked, 1 OK, 0 failed"
	cmp -s s/a.tar.gz.gpg evil.gpg || fail "the file was not swapped"
	# Replaced before it is opened (after the seal and the size were
	# checked): what is decrypted is not what was sealed.
	local with
	for with in evil.gpg again/a.tar.gz.gpg; do
		rm -rf s
		copy_a
		cp "$with" swap.gpg
		run --separate-stderr faulty swap:open:1:swap.gpg@s/a.tar.gz.gpg \
		    GNUPGHOME="$KEYS/restore" gb-verify --signer "$SIGNER" --deep s/a.seal
		assert_failure 1
		assert_line --index 0 "a.tar.gz.gpg: FAIL: size or SHA-256 of the bytes read differs from the seal (truncated, altered or replaced)"
		cmp -s s/a.tar.gz.gpg "$with" || fail "the file was not swapped"
	done
	assert_tmpdir_empty
}

@test "verify --deep: a record longer than 64 MiB (one field of 300 MiB in a small archive) fails cleanly in bounded memory" {
	local rss
	sqlite3 -bail big.db "CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO big VALUES (1, 'x')"
	gb-export -s sqlite:big.db -o set 2>/dev/null
	craft_packed set big.tar.gz "$FX/spool/a.tar.gz" "big:big.csv:$((300 << 20))"
	as backup gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o spool <big.tar.gz 2>/dev/null
	[ "$(stat -c %s spool.tar.gz.gpg)" -lt $((1 << 20)) ] || fail "the archive is not small"
	run --separate-stderr env GNUPGHOME="$KEYS/restore" /usr/bin/time -f %M -o rss \
	    gb-verify --signer "$SIGNER" --deep spool.seal
	rss=$(tail -n 1 rss)
	[ "$rss" -lt 200000 ] || fail "peak RSS $rss KiB"
	assert_failure 1
	assert_output "spool.tar.gz.gpg: FAIL: big.csv: line 2: record longer than 64 MiB, the most a record may have
1 checked, 0 OK, 1 failed"
	assert_tmpdir_empty
}

# ------------------------------------------------------------ reporting

@test "verify: several arguments, one line each and the summary; exit 1 if any fails" {
	mkdir s
	cp "$FX/spool/b.tar.gz.gpg" "$FX/spool/b.seal" s/
	flip_byte s/b.tar.gz.gpg middle
	run --separate-stderr gbv auditor "$FX/spool/a.seal" s/b.seal "$FX/spool/lie-rows.tar.gz.gpg" \
	    s/missing.seal "$FX/set/MANIFEST"
	assert_failure 1
	[ "${#lines[@]}" -eq 6 ] || fail "output: $output"
	assert_line --index 0 "a.tar.gz.gpg: OK"
	assert_line --index 1 --regexp "^b\.tar\.gz\.gpg: FAIL: "
	assert_line --index 2 "lie-rows.tar.gz.gpg: OK"
	assert_line --index 3 --regexp "^missing\.tar\.gz\.gpg: FAIL: "
	assert_line --index 4 --regexp "^MANIFEST: FAIL: "
	assert_line --index 5 "5 checked, 2 OK, 3 failed"
	run --separate-stderr gbv restore --deep "$FX/spool/a.seal" "$FX/spool/lie-money.seal" "$FX/spool/b.seal"
	assert_failure 1
	assert_output --regexp "^a\.tar\.gz\.gpg: OK \(deep\)
lie-money\.tar\.gz\.gpg: FAIL: [^
]*
b\.tar\.gz\.gpg: OK \(deep\)
3 checked, 2 OK, 1 failed$"
}

# ------------------------------------------------------------ SCHEMA.sql

@test "verify --deep refuses a SCHEMA.sql that gb-restore refuses; an FTS5 archive passes" {
	sqlite3 -bail fts.db "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
	    INSERT INTO t VALUES (1, 'alice');
	    CREATE VIRTUAL TABLE search USING fts5(name);
	    INSERT INTO search(rowid, name) VALUES (1, 'alice')"
	gb-export -s sqlite:fts.db -o set
	mkdir spool
	seal_set set spool/a
	run --separate-stderr gbv restore --deep spool/a.seal
	assert_success
	assert_line --index 0 "a.tar.gz.gpg: OK (deep)"
	rm spool/a.*
	local e why
	while IFS='|' read -r e why; do
		schema_lie set bad "$e"
		seal_set bad spool/a
		run --separate-stderr gbv auditor spool/a.seal
		assert_success
		verify_fails restore "$why" --deep spool/a.seal
		# gb-restore says the same
		run env GNUPGHOME="$KEYS/restore" gb-restore --signer "$SIGNER" -d sqlite:r.db spool/a.seal
		assert_failure 1
		assert_output --regexp "$why"
		[ ! -e r.db ] || fail "r.db was left"
		rm -r bad spool/a.*
	done <<-'EOF'
	s/^CREATE TABLE t (/CREATE TABLE main.t (/|SCHEMA.sql: refused statement .*: CREATE TABLE main.t \(id
	$a CREATE VIEW w AS SELECT * FROM t;|SCHEMA.sql: refused statement .*: CREATE VIEW w AS SELECT
	$a CREATE TABLE 'search_data'(id INTEGER PRIMARY KEY, block BLOB);|SCHEMA.sql: table search_data is made twice, or is a shadow table
	$a CREATE TABLE t2(a) /* no end|SCHEMA.sql: a quote or comment that does not end
	EOF
}

# ----------------------------------------------------- gpg that cannot run

# gpg_that DIR HOW: archive-helper's fake_gpg in DIR, a gpg that, asked to
# decrypt, is killed (HOW kill) or reads it all and exits 0 without a
# word (silent); anything else it asks the real gpg.
gpg_that() {
	fake_gpg "$1" <<-EOF
	#!/bin/sh
	case " \$* " in
	*" --decrypt "*)
		case $2 in
		kill) kill -KILL \$\$ ;;
		silent) cat >/dev/null; exit 0 ;;
		esac ;;
	esac
	exec $(command -v gpg) "\$@"
	EOF
}

@test "verify --deep: a gpg killed, silent or not there is exit 3 NOT CHECKED with why, and no check is recorded" {
	printf '[keys]\nsigner = %s\n\n[catalog]\npath = %s\n' "$SIGNER" "$W/cat.db" >c.conf
	mkdir usb
	GNUPGHOME="$KEYS/backup" gb-write -c c.conf --label U1 --pool p usb 2>/dev/null
	GNUPGHOME="$KEYS/backup" gb-write -c c.conf usb "$FX/spool/a" >/dev/null 2>&1
	local before
	before=$(sqlite3 cat.db "SELECT count(*) FROM checks")
	gpg_that "$W/kill" kill
	gpg_that "$W/silent" silent
	run --separate-stderr env PATH="$W/kill:$PATH" GNUPGHOME="$KEYS/restore" \
	    gb-verify -c c.conf --deep --media usb a
	assert_failure 3
	assert_output "a.tar.gz.gpg: NOT CHECKED: cannot decrypt: gpg killed by signal 9
0 checked, 0 OK, 0 failed, 1 not checked"
	run --separate-stderr env PATH="$W/silent:$PATH" GNUPGHOME="$KEYS/restore" \
	    gb-verify -c c.conf --deep "$FX/spool/a.seal" nothere.seal
	assert_failure 1	# a failure found outranks a check not run
	assert_output "a.tar.gz.gpg: NOT CHECKED: cannot decrypt: gpg exited 0 and wrote no status line
nothere.tar.gz.gpg: FAIL: cannot read nothere.seal: No such file or directory
1 checked, 0 OK, 1 failed, 1 not checked"
	# no gpg at all
	run --separate-stderr env PATH=/nonexistent GNUPGHOME="$KEYS/restore" \
	    "$(command -v gb-verify)" -c c.conf --deep --media usb a
	assert_failure 3
	assert_equal "$stderr" "gb-verify: GnuPG is not usable: Invalid crypto engine"
	[ "$(sqlite3 cat.db "SELECT count(*) FROM checks")" = "$before" ] ||
	    fail "a check was recorded: $(sqlite3 cat.db "SELECT * FROM checks")"
	# the real gpg: checked and recorded
	run --separate-stderr env GNUPGHOME="$KEYS/restore" gb-verify -c c.conf --deep --media usb a
	assert_success
	assert_equal "$(sqlite3 cat.db "SELECT kind, medium, ok FROM checks ORDER BY id DESC LIMIT 1")" "deep-verify|U1|1"
}
