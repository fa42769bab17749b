#!/usr/bin/env bats
# Signed checkpoints of the audit trail (issue 17, gb-checkpoint(5)):
# gb-write leaves one on every medium it writes, the catalog records each;
# gb-catalog audit --verify --checkpoints catches a trail rewritten with
# its hashes remade, cut short or forked; a checkpoint of another signer,
# cut or garbled is refused; audit --report for the auditor, clear-signed.
#
# Independent checks: gpg --verify with the auditor's keyring (the
# signer's public key alone), sqlite3 and python3 on the catalog, a small
# SIMH reader (media-helper.bash) on the tape images.

load helper
load media-helper

setup_file() {
	media_setup_file
	make_gym_db "$FX/gym.db"
	export_seal "$FX/gym.db" "$FX/spool/a1" members
	export_seal "$FX/gym.db" "$FX/spool/a2" members
	export_seal "$FX/gym.db" "$FX/spool/a3" members
}

teardown_file() { media_teardown_file; }

setup() {
	media_setup
	mkconf "$CONF" '[site]
name = gym-east'
	mkdir usb
}

SP=$BATS_FILE_TMPDIR/fx/spool

# body FILE: what a clear-signed FILE signed (gpg, the auditor's keyring).
body() {
	gpg --batch --quiet --homedir "$KEYS/auditor" --output - --decrypt "$1" 2>/dev/null
}

# field FILE KEY: the value of KEY<TAB>VALUE in the checkpoint FILE.
field() { body "$1" | awk -F'\t' -v k="$2" '$1 == k { print $2 }'; }

# rehash FROM: the audit trail from entry FROM on given a new detail and
# every hash after it remade, as someone who may write the catalog can.
rehash() {
	"$PY" - "$CAT" "$1" <<'EOF'
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
start = int(sys.argv[2])
db.execute("DROP TRIGGER IF EXISTS audit_no_update")
prev = "0"
rows = db.execute("SELECT seq, at, actor, action, object, detail FROM audit "
    "ORDER BY seq").fetchall()
for seq, at, actor, action, obj, detail in rows:
    if seq == start:
        detail = "nothing to see here"
    m = hashlib.sha256()
    for part in (prev, str(seq), at, actor, action, obj, detail):
        b = part.encode()
        m.update(b"%d:" % len(b) + b)
    db.execute("UPDATE audit SET detail = ?, prev = ?, hash = ? WHERE seq = ?",
        (detail, prev, m.hexdigest(), seq))
    prev = m.hexdigest()
db.commit()
EOF
}

@test "gb-write leaves a checkpoint beside the index and in each seal's tape file; gpg --verify checks it alone; the catalog records each" {
	label U1 daily usb
	label T1 weekly tape:t1.tap
	put usb a1
	# the trail as the write began: the two labels
	run -0 gpg --batch --homedir "$KEYS/auditor" --verify usb/GYMBACKUP.CHECKPOINT
	assert_output --partial "Good signature"
	[ "$(field usb/GYMBACKUP.CHECKPOINT entries)" = 2 ]
	[ "$(field usb/GYMBACKUP.CHECKPOINT head)" = "$(cq "SELECT hash FROM audit WHERE seq = 2")" ]
	[ "$(field usb/GYMBACKUP.CHECKPOINT site)" = gym-east ]
	[ "$(field usb/GYMBACKUP.CHECKPOINT medium)" = U1 ]
	[ "$(field usb/GYMBACKUP.CHECKPOINT signer)" = "$SIGNER" ]
	body usb/GYMBACKUP.CHECKPOINT | head -n 1 | grep -qx "$(printf 'gymbackup-checkpoint\t1')"

	put tape:t1.tap a1 a2
	# the seal, then its NUL, then the checkpoint, in one record
	run -0 tap_files t1.tap
	assert_output "$(printf 'file %d: 1 records of 262144\n' 0 1 2 3 4)"
	tap_text t1.tap 2 | cmp - "$SP/a1.seal"
	tap_text t1.tap 4 | cmp - "$SP/a2.seal"
	tap_checkpoint t1.tap 2 >ck2
	tap_checkpoint t1.tap 4 >ck4
	run -0 gpg --batch --homedir "$KEYS/auditor" --verify ck4
	[ "$(field ck2 entries)" = 4 ]
	# a1 was in the catalog already: no archive entry for its second copy
	[ "$(field ck4 entries)" = 5 ]
	[ "$(field ck4 head)" = "$(cq "SELECT hash FROM audit WHERE seq = 5")" ]
	[ "$(field ck4 medium)" = T1 ]

	run -0 cq "SELECT medium || '|' || place || '|' || entries FROM checkpoints ORDER BY id"
	assert_output "U1|GYMBACKUP.CHECKPOINT|2
T1|2|4
T1|4|5"
	[ "$(cq "SELECT text FROM checkpoints WHERE place = '4'")" = "$(cat ck4)" ]
	# a checkpoint is no audit entry: the trail is what it was
	run -0 cq "SELECT group_concat(action, ' ') FROM audit"
	assert_output "label label archive write write archive write"

	run -0 gb-catalog audit --verify --checkpoints usb tape:t1.tap ck4
	assert_line -n 0 "OK: audit trail intact, 7 entries, head $(cq "SELECT hash FROM audit WHERE seq = 7")"
	assert_line --regexp '^ok   usb/GYMBACKUP\.CHECKPOINT: 2 entries, head [0-9a-f]{16}\.\.\., issued [0-9T:-]+Z$'
	assert_line --regexp '^ok   tape:t1\.tap tape file 2: 4 entries, '
	assert_line --regexp '^ok   tape:t1\.tap tape file 4: 5 entries, '
	assert_line --regexp '^ok   ck4: 5 entries, '
	assert_line "4 checkpoints: 4 agree, 0 contradict the trail, 0 refused"
	# what gb-verify and import read of the tape is the seal alone
	run -0 gb-verify --media tape:t1.tap a1 a2
	assert_line "2 checked, 2 OK, 0 failed"
	run -0 gb-catalog import --list tape:t1.tap
	[ "$(grep -c 'verified$' <<<"$output")" -eq 2 ] || fail "$output"
}

@test "variable blocks (-b 0): the seal's record is as long as the seal, the checkpoint's records follow, the NUL first" {
	label T1 weekly -b 0 tape:t1.tap
	run -0 gb-write -b 0 tape:t1.tap "$SP/a1"
	local seal
	seal=$(stat -c %s "$SP/a1.seal")
	run -0 "$PY" -c "$TAP_PY" records t1.tap
	assert_line -n 3 "mark"
	assert_line -n 4 "record $seal"
	assert_line -n 5 --regexp '^record [0-9]+$'
	assert_line -n 6 "mark"
	tap_text t1.tap 2 | cmp - "$SP/a1.seal"
	tap_checkpoint t1.tap 2 >ck
	run -0 gpg --batch --homedir "$KEYS/auditor" --verify ck
	run -0 gb-catalog audit --verify --checkpoints tape:t1.tap
	assert_line "1 checkpoints: 1 agree, 0 contradict the trail, 0 refused"
	run -0 gb-verify --media tape:t1.tap a1
}

@test "a trail rewritten wholesale with its hashes remade: --verify alone says intact; the checkpoints on the tape contradict it, the first one named, exit 1" {
	sqlite_only "python3's sqlite3 rewrites the file (twin in pgcatalog.bats, through psql)"
	label T1 weekly tape:t1.tap
	put tape:t1.tap a1 a2 a3
	# checkpoints at 1, 3 and 5 entries; entry 4 onwards rewritten
	rehash 4
	run -0 gb-catalog audit --verify
	assert_output --regexp '^OK: audit trail intact, 7 entries'
	run -1 gb-catalog audit --verify --checkpoints tape:t1.tap
	assert_line --regexp '^ok   tape:t1\.tap tape file 2: 1 entries'
	assert_line --regexp '^ok   tape:t1\.tap tape file 4: 3 entries'
	assert_line --regexp '^FAIL tape:t1\.tap tape file 6: 5 entries, issued [0-9T:-]+Z: entry 5 has hash [0-9a-f]{16}\.\.\., the checkpoint [0-9a-f]{16}\.\.\.: the trail up to it was rewritten or forked$'
	assert_line --regexp '^FAIL: the audit trail contradicts the checkpoint of tape:t1\.tap tape file 6 \(5 entries, issued [0-9T:-]+Z\): entry 5 has hash'
	assert_line "3 checkpoints: 2 agree, 1 contradict the trail, 0 refused"

	# rewritten from entry 2: every checkpoint from the second on
	rehash 2
	run -1 gb-catalog audit --verify --checkpoints tape:t1.tap
	assert_line --regexp '^FAIL: the audit trail contradicts the checkpoint of tape:t1\.tap tape file 4 \(3 entries, '
	assert_line "3 checkpoints: 1 agree, 2 contradict the trail, 0 refused"
}

@test "the last entries deleted: --verify alone says intact; the checkpoint on the medium says entries were removed, exit 1" {
	sqlite_only "sqlite3 deletes from the file (twin in pgcatalog.bats, through psql)"
	label U1 daily usb
	put usb a1 a2 a3
	# the medium's checkpoint (a3's write) counts 5 entries of 7
	[ "$(field usb/GYMBACKUP.CHECKPOINT entries)" = 5 ]
	sqlite3 "$CAT" "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq > 3"
	run -0 gb-catalog audit --verify
	assert_output --regexp '^OK: audit trail intact, 3 entries'
	run -1 gb-catalog audit --verify --checkpoints usb
	assert_line "FAIL usb/GYMBACKUP.CHECKPOINT: 5 entries, issued $(field usb/GYMBACKUP.CHECKPOINT issued): the audit trail has 3 entries, the checkpoint 5: entries were removed (truncated)"
	assert_line "1 checkpoints: 0 agree, 1 contradict the trail, 0 refused"
}

@test "an entry under a checkpoint edited, its stored hashes left as they were: the checkpoint does not agree with the stored hash of its last entry alone" {
	sqlite_only "sqlite3 edits the file (twin in pgcatalog.bats, through psql)"
	label U1 daily usb
	put usb a1 a2 a3
	[ "$(field usb/GYMBACKUP.CHECKPOINT entries)" = 5 ]
	local was
	was=$(cq "SELECT quote(detail) FROM audit WHERE seq = 2")
	# entry 2 edited; every hash column, entry 5's too, as it was
	sqlite3 "$CAT" "DROP TRIGGER audit_no_update; UPDATE audit SET detail = 'nothing to see here' WHERE seq = 2"
	run -1 gb-catalog audit --verify --checkpoints usb
	assert_line -n 0 "FAIL: audit trail broken: entry 2 was edited (its hash does not match its content)"
	assert_line "FAIL usb/GYMBACKUP.CHECKPOINT: 5 entries, issued $(field usb/GYMBACKUP.CHECKPOINT issued): the trail does not verify up to entry 5: entry 2 was edited (its hash does not match its content)"
	assert_line "1 checkpoints: 0 agree, 1 contradict the trail, 0 refused"
	# put back, and entry 6 edited instead: after the checkpoint's entries
	cq "UPDATE audit SET detail = $was WHERE seq = 2"
	cq "UPDATE audit SET detail = 'nothing to see here' WHERE seq = 6"
	run -1 gb-catalog audit --verify --checkpoints usb
	assert_line -n 0 "FAIL: audit trail broken: entry 6 was edited (its hash does not match its content)"
	assert_line --regexp '^ok   usb/GYMBACKUP\.CHECKPOINT: 5 entries, '
	assert_line "1 checkpoints: 1 agree, 0 contradict the trail, 0 refused"
}

@test "a forked trail (the catalog put back to an earlier copy, then written on): the checkpoint written since contradicts it" {
	sqlite_only "the file put back to an earlier copy (twin in pgcatalog.bats, through psql)"
	label T1 weekly tape:t1.tap
	put tape:t1.tap a1
	sqlite3 "$CAT" ".backup $W/orig.db"
	put tape:t1.tap a2 a3
	# back to the copy (3 entries); other entries where a2's were
	cp "$W/orig.db" "$CAT"
	rm -f "$CAT-wal" "$CAT-shm"
	gb-catalog media add M9 --kind tape --pool weekly 2>/dev/null
	gb-catalog move M9 --to transit --by mallory >/dev/null
	gb-catalog move M9 --to onsite --by mallory >/dev/null
	run -0 gb-catalog audit --verify
	assert_output --regexp '^OK: audit trail intact, 6 entries'
	run -1 gb-catalog audit --verify --checkpoints tape:t1.tap
	# the fork is after entry 3: the checkpoints of 1 and 3 entries agree
	assert_line --regexp '^ok   tape:t1\.tap tape file 2: 1 entries'
	assert_line --regexp '^ok   tape:t1\.tap tape file 4: 3 entries'
	assert_line --regexp '^FAIL: the audit trail contradicts the checkpoint of tape:t1\.tap tape file 6 \(5 entries, issued [0-9T:-]+Z\): entry 5 has hash [0-9a-f]{16}\.\.\., the checkpoint [0-9a-f]{16}\.\.\.: the trail up to it was rewritten or forked$'
	assert_line "3 checkpoints: 2 agree, 1 contradict the trail, 0 refused"
}

@test "a checkpoint signed by another key is refused, known to the keyring or not; so is one of another site" {
	label U1 daily usb
	put usb a1
	local other="$W/other"
	mkdir -m 700 "$other"
	gpg --batch --quiet --homedir "$other" --passphrase '' \
	    --quick-gen-key 'Mallory <mallory@example.org>' ed25519 sign 1d
	body usb/GYMBACKUP.CHECKPOINT >body.txt
	gpg --batch --quiet --homedir "$other" --clearsign -o forged.txt body.txt
	local mfpr
	mfpr=$(gpg --homedir "$other" --with-colons --list-keys mallory@example.org | awk -F: '$1 == "fpr" { print $10; exit }')
	run -1 gb-catalog audit --verify --checkpoints forged.txt
	assert_line "FAIL forged.txt: not trusted: signed by unknown key $mfpr (the signer's public key is not in the keyring)"
	assert_line "1 checkpoints: 0 agree, 0 contradict the trail, 1 refused"
	gpg --batch --quiet --homedir "$other" --export mallory@example.org |
	    gpg --batch --quiet --homedir "$GNUPGHOME" --import 2>/dev/null
	run -1 gb-catalog audit --verify --checkpoints forged.txt usb
	assert_line "FAIL forged.txt: not trusted: signed by $mfpr, not by the pinned signer $SIGNER"
	assert_line --regexp '^ok   usb/GYMBACKUP\.CHECKPOINT: '
	assert_line "2 checkpoints: 1 agree, 0 contradict the trail, 1 refused"
	# --signer pins another key: ours is refused then
	run -1 gb-catalog audit --verify --checkpoints --signer "$mfpr" usb
	assert_line "FAIL usb/GYMBACKUP.CHECKPOINT: not trusted: signed by $SIGNER, not by the pinned signer $mfpr"
	# a site of its own in the config: the checkpoint of gym-east is not its
	mkconf "$CONF" '[site]
name = gym-west'
	run -1 gb-catalog audit --verify --checkpoints usb
	assert_line "FAIL usb/GYMBACKUP.CHECKPOINT: a checkpoint of site gym-east, not gym-west"
}

@test "bad days: a cut or garbled checkpoint, a medium without one, no public key, no secret key to sign with" {
	label U1 daily usb
	put usb a1
	head -c 300 usb/GYMBACKUP.CHECKPOINT >cut.txt
	run -1 gb-catalog audit --verify --checkpoints cut.txt
	assert_line "FAIL cut.txt: not trusted: not a clear-signed checkpoint"
	sed 's/^entries\t1$/entries\t9/' usb/GYMBACKUP.CHECKPOINT >garbled.txt
	! cmp -s garbled.txt usb/GYMBACKUP.CHECKPOINT || fail "nothing garbled"
	run -1 gb-catalog audit --verify --checkpoints garbled.txt
	assert_line --regexp "^FAIL garbled\.txt: not trusted: BAD signature by [0-9A-F]+$"
	printf 'garbage\0\1\2' >bin.txt
	run -1 gb-catalog audit --verify --checkpoints bin.txt
	assert_line "FAIL bin.txt: not trusted: not a clear-signed checkpoint"
	mkdir old
	run -1 gb-catalog audit --verify --checkpoints old
	assert_line "FAIL old: no checkpoint on it"
	run -3 gb-catalog audit --verify --checkpoints nosuch
	assert_output --partial "gb-catalog: cannot read nosuch: No such file or directory"
	# an auditor's keyring without the signer's key
	mkdir -m 700 empty
	GNUPGHOME="$W/empty" run -1 gb-catalog audit --verify --checkpoints usb
	assert_line --partial "FAIL usb/GYMBACKUP.CHECKPOINT: not trusted: "
	# no signer pinned at all: a usage error
	printf '[catalog]\npath = %s\n' "$CAT" >nosigner.conf
	run -2 gb-catalog -c nosigner.conf audit --verify --checkpoints usb
	assert_output "gb-catalog: no signer pinned: give --signer FPR or set signer in the [keys] section of the config; each checkpoint is verified against it"

	# gb-write with the signer's public key only: nothing written or recorded
	mkdir usb2
	label U2 daily usb2
	local before
	before=$(cat_dump)
	GNUPGHOME="$KEYS/auditor" run -3 gb-write usb2 "$SP/a2"
	assert_output --regexp "^gb-write: cannot sign the checkpoint: .*; nothing written$"
	[ "$(ls -A usb2)" = GYMBACKUP.LABEL ] || fail "usb2: $(ls -A usb2)"
	[ "$(cat_dump)" = "$before" ]
}

@test "the auditor: public keys and a read-only copy of the catalog, no config: --signer pins the key" {
	sqlite_only "a read-only copy of the file (pgcatalog.bats: the checkpoints held against a migrated catalog)"
	label U1 daily usb
	label T1 weekly tape:t1.tap
	put usb a1
	put tape:t1.tap a2
	mkdir ro
	sqlite3 "$CAT" ".backup $W/ro/catalog.db"
	sqlite3 ro/catalog.db "PRAGMA journal_mode = DELETE" >/dev/null
	chmod 444 ro/catalog.db
	chmod 555 ro
	GNUPGHOME="$KEYS/auditor" GB_CONF= GB_CATALOG="$W/ro/catalog.db" \
	    run -0 gb-catalog audit --verify --checkpoints --signer "$SIGNER" usb tape:t1.tap
	assert_line "2 checkpoints: 2 agree, 0 contradict the trail, 0 refused"
	GNUPGHOME="$KEYS/auditor" GB_CONF= GB_CATALOG="$W/ro/catalog.db" \
	    run -0 gb-catalog audit --report --signer "$SIGNER" "$(day)" "$(day)"
	assert_line --regexp '^gb-catalog: warning: the report is not signed: .*(secret|no key|not found)'
	assert_line "archives made in the period: 2"
	chmod 755 ro
	[ -z "$(ls -A ro | grep -v '^catalog.db$')" ] || fail "ro: $(ls -A ro)"
}

@test "audit --report FROM TO: each archive with its seal's hash and signer, copies and where, moves, checks, checkpoints; counts as in the catalog; clear-signed, gpg --verify alone" {
	label U1 daily usb
	label T1 weekly tape:t1.tap
	put usb a1 a2
	put tape:t1.tap a3
	gb-catalog move T1 --to offsite --by alice --why vault >/dev/null
	gb-catalog verified a1.tar.gz.gpg ok --medium U1 >/dev/null
	gb-catalog tested a2.tar.gz.gpg ok >/dev/null
	gb-catalog tested a3.tar.gz.gpg failed --detail 'row count' >/dev/null
	gb-catalog audit --report "$(day)" "$(day)" >report.txt
	run -0 gpg --batch --homedir "$KEYS/auditor" --verify report.txt
	assert_output --partial "Good signature"
	body report.txt >r.txt
	local from to n
	from="$(day)T00:00:00Z" to="$(day)T23:59:59Z"
	run -0 cat r.txt
	assert_line -n 0 "gymbackup audit report, site gym-east: $from to $to"
	assert_line "audit trail: intact, $(cq "SELECT count(*) FROM audit") entries, head $(cq "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1")"
	n=$(cq "SELECT count(*) FROM archives WHERE snapshot BETWEEN '$from' AND '$to'")
	[ "$n" = 3 ]
	assert_line "archives made in the period: $n"
	assert_line "custody moves in the period: $(cq "SELECT count(*) FROM movements")"
	assert_line "verifications and restore tests in the period: $(cq "SELECT count(*) FROM checks")"
	assert_line "checkpoints that cover the period: $(cq "SELECT count(*) FROM checkpoints")"
	[ "$(cq "SELECT count(*) FROM checks")" = 3 ]
	# the seal's hash is that of the seal on the medium; the signer the seal's
	assert_line "    seal sha256 $(sha256sum <usb/a1.seal | cut -d' ' -f1), signed by $SIGNER"
	assert_line --regexp "^    sealed [0-9T:-]+Z, $(arch_size "$SP/a1") bytes, sha256 $(arch_sha "$SP/a1")\$"
	assert_line --regexp '^    copy on T1 \(pool weekly, offsite\), tape file 1: good, written [0-9T:-]+Z, verified [0-9T:-]+Z$'
	assert_line --regexp '^  [0-9T:-]+Z  T1  onsite -> offsite  by alice: vault$'
	assert_line --regexp '^  [0-9T:-]+Z  a3\.tar\.gz\.gpg: FAILED, restore-test \(recorded by hand\): row count$'
	# the trail went on after the last checkpoint (the move, the checks)
	assert_line --regexp "^    site gym-east, on T1 \(tape file 2\), signed by $SIGNER; covers the period to entry 6 of 12\$"

	# the CSV: one record per archive, copy, move, check and checkpoint
	gb-catalog audit --report --csv "$(day)" "$(day)" >report.csv
	run -0 gpg --batch --homedir "$KEYS/auditor" --verify report.csv
	body report.csv >r.csv
	run -0 head -n 1 r.csv
	assert_output "record,time,archive,job,level,bytes,sha256,seal_sha256,signer,medium,pool,location,position,status,by,detail"
	# RFC 4180, every record of 16 fields
	"$PY" -c 'import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert all(len(r) == 16 for r in rows), rows' r.csv
	[ "$(grep -c '^archive,' r.csv)" = 3 ]
	[ "$(grep -c '^copy,' r.csv)" = "$(cq "SELECT count(*) FROM copies")" ]
	[ "$(grep -c '^move,' r.csv)" = 1 ]
	[ "$(grep -c '^check,' r.csv)" = 3 ]
	[ "$(grep -c '^checkpoint,' r.csv)" = 3 ]
	[ "$(grep -c '^trail,' r.csv)" = 1 ]

	# a period before any of it: nothing in it
	run -0 gb-catalog audit --report "$(day -2)" "$(day -1)"
	assert_line "archives made in the period: 0"
	assert_line "custody moves in the period: 0"
	run -2 gb-catalog audit --report "$(day)" "$(day -1)"
	assert_output --partial "is after"
	run -2 gb-catalog audit --report "$(day)"
	run -2 gb-catalog audit --csv
}

@test "gb-catalog checkpoint: to a file or stdout, recorded; --daily issues none when one was issued today" {
	run -0 gb-catalog checkpoint -o "$W/c1"
	assert_output --regexp "^checkpoint: 0 entries, head 0: $W/c1\$"
	run -0 gpg --batch --homedir "$KEYS/auditor" --verify c1
	label U1 daily usb
	gb-catalog checkpoint >c2
	[ "$(field c2 entries)" = 1 ]
	[ -z "$(field c2 medium)" ]
	run -0 cq "SELECT coalesce(medium, '-') || '|' || place || '|' || entries FROM checkpoints ORDER BY id"
	assert_output "-|$W/c1|0
-|-|1"
	run -0 gb-catalog checkpoint --daily -o "$W/c3"
	assert_output --regexp '^checkpoint: one was issued today already \([0-9T:-]+Z, .+\)$'
	[ ! -e c3 ]
	run -0 gb-catalog checkpoint --daily --date "$(day 1)" -o "$W/c3"
	[ -f c3 ]
	run -0 gb-catalog audit --verify --checkpoints c1 c2 c3
	assert_line "3 checkpoints: 3 agree, 0 contradict the trail, 0 refused"
}

@test "an old catalog (before the checkpoints table): read-only it still opens; the first write adds the table" {
	sqlite_only "a file made before the checkpoints table; a PostgreSQL catalog has it from the start"
	label U1 daily usb
	sqlite3 "$CAT" "DROP TABLE checkpoints"
	mkdir ro
	sqlite3 "$CAT" ".backup $W/ro/catalog.db"
	chmod 555 ro
	GB_CATALOG="$W/ro/catalog.db" run -0 gb-catalog audit --verify
	GB_CATALOG="$W/ro/catalog.db" run -0 gb-catalog audit --report "$(day)" "$(day)"
	assert_line "checkpoints that cover the period: 0"
	chmod 755 ro
	put usb a1
	[ "$(cq "SELECT count(*) FROM checkpoints")" = 1 ]
}

@test "gb-backup: a run that writes no medium leaves the day's checkpoint beside the catalog; a run that writes one does not add one" {
	sqlite_only "checkpoints beside the catalog file; with a PostgreSQL catalog they go to the spool (gb-backup)"
	write_gym_conf "$CONF" "$FX/gym.db" gym-east
	sed -i '/^\[keys\]/,$d' "$CONF"
	printf '[keys]\nsigner = %s\nrecipients = %s, %s\n\n' "$SIGNER" "$RCPT1" "$RCPT2" >>"$CONF"
	mkdir spool
	conf_pools "$CONF"
	printf '\n[job members-daily]\nschedule = 0 1 * * *\ntables = members\nlevel = full\npool = daily\nmedia = %s\n' "$W/nodrive" >>"$CONF"
	CAT=$(gb-catalog -c "$CONF" job | awk -F'\t' '$1 == "catalog" { print $2 }')
	run -2 gb-backup -c "$CONF" members-daily
	assert_output --partial "no medium of pool daily took the archive"
	run -0 ls "$(dirname "$CAT")/checkpoints"
	[ "${#lines[@]}" = 1 ]
	local f="$(dirname "$CAT")/checkpoints/${lines[0]}"
	run -0 gpg --batch --homedir "$KEYS/auditor" --verify "$f"
	[ "$(field "$f" site)" = gym-east ]
	run -0 gb-catalog -c "$CONF" audit --verify --checkpoints "$f"
	assert_line "1 checkpoints: 1 agree, 0 contradict the trail, 0 refused"
	# the second failed run of the day: no second one
	run -2 gb-backup -c "$CONF" members-daily
	[ "$(ls "$(dirname "$CAT")/checkpoints" | wc -l)" = 1 ]
}

@test "the report trusts no unsigned text: the period and every field from the seal verified again; an edited seal is shown, exit 1" {
	label U1 daily usb
	put usb a1 a2
	# the catalog's snapshot column moved out of the period: the seal decides
	cq "UPDATE archives SET snapshot = '2001-01-01T00:00:00Z', job = 'forged' WHERE name = 'a1.tar.gz.gpg'"
	run -0 gb-catalog audit --report "$(day)" "$(day)"
	assert_line "archives made in the period: 2"
	assert_line --regexp '^  a1\.tar\.gz\.gpg  job members, full, snapshot [0-9T:-]+Z$'
	run -0 gb-catalog audit --report 2001-01-01 2001-01-01
	assert_line "archives made in the period: 0"
	# the seal kept in the catalog edited: it does not verify
	cq "UPDATE archives SET snapshot = '$(day)T12:00:00Z', seal = replace(seal, 'job	members', 'job	forged') WHERE name = 'a2.tar.gz.gpg'"
	run -1 gb-catalog audit --report "$(day)" "$(day)"
	assert_line "archives made in the period: 2"
	assert_line --regexp '^  a2\.tar\.gz\.gpg  job members: SEAL NOT VERIFIED: BAD signature by [0-9A-F]+$'
}

@test "the report holds each checkpoint against the trail: one the rewritten trail contradicts is shown as such, exit 1; a period without entries has no checkpoint" {
	sqlite_only "python3's sqlite3 rewrites the file (twin in pgcatalog.bats, through psql)"
	label U1 daily usb
	put usb a1 a2
	# checkpoints at 1 and 3 entries; entry 2 onwards rewritten
	rehash 2
	run -1 gb-catalog audit --report "$(day)" "$(day)"
	assert_line --regexp '^audit trail: intact, 5 entries, head [0-9a-f]{64}$'
	assert_line "checkpoints that cover the period: 2"
	assert_line --regexp "^    site gym-east, on U1 \(GYMBACKUP\.CHECKPOINT\), signed by $SIGNER; covers the period to entry 1 of 5\$"
	assert_line --regexp "^    site gym-east, on U1 \(GYMBACKUP\.CHECKPOINT\), signed by $SIGNER; CONTRADICTED BY THE TRAIL: entry 3 has hash [0-9a-f]{16}\.\.\., the checkpoint [0-9a-f]{16}\.\.\.: the trail up to it was rewritten or forked\$"
	run -1 gb-catalog audit --report --csv "$(day)" "$(day)"
	assert_line --regexp '^checkpoint,[0-9T:-]+Z,,,,3,[0-9a-f]{64},,[0-9A-F]+,U1,,,GYMBACKUP\.CHECKPOINT,"CONTRADICTED BY THE TRAIL: entry 3 has hash [0-9a-f]{16}\.\.\., the checkpoint [0-9a-f]{16}\.\.\.: the trail up to it was rewritten or forked",,gym-east$'
	# no entry in the period: no checkpoint vouches for one
	run -0 gb-catalog audit --report "$(day -2)" "$(day -1)"
	assert_line "checkpoints that cover the period: 0"
}

@test "check: no checkpoint within 2 days, or none while the trail has entries older than that, is a problem line" {
	label U1 daily usb
	local first
	first=$(cq "SELECT at FROM audit WHERE seq = 1")
	# entries, no checkpoint: not a problem yet, one 3 days on
	run gb-catalog check
	refute_line --partial "audit trail"
	run -1 gb-catalog check --date "$(day 3)"
	assert_line "audit trail: no checkpoint, entries since $first; write a medium or run gb-catalog checkpoint"
	put usb a1
	local issued
	issued=$(field usb/GYMBACKUP.CHECKPOINT issued)
	run gb-catalog check --date "$(day 1)"
	refute_line --partial "audit trail"
	run -1 gb-catalog check --date "$(day 3)"
	assert_line "audit trail: no checkpoint within 2 days (last $issued); write a medium or run gb-catalog checkpoint"
	[ "$(grep -c '^audit trail' <<<"$output")" = 1 ]
}
