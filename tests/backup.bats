#!/usr/bin/env bats
# gb-backup: a job of the task table end to end (export | pack | seal into
# the spool, verify, write to a directory medium or a tape image, the
# catalog's log), incrementals finding their base, each stage failing
# with its reason, a killed run, and the task table as --list and
# --crontab print it.
#
# Independent checks: sqlite3 reads the catalog and the databases,
# python3 reads the tape image, sha256sum and gpg check what the media
# hold, and gb-restore (another tool than the one under test) proves
# that what was written restores.

load helper
load archive-helper

setup_file() {
	archive_setup_file
	gb-demodata -s 1 -n 2000 -o "$FX/gym.db"
}

teardown_file() { archive_teardown_file; }

setup() {
	gb_setup
	[ -x "$TOP/bin/gb-write" ] && [ -x "$TOP/bin/gb-catalog" ] ||
	    skip "gb-write and gb-catalog are not built (run make)"
	export GNUPGHOME="$KEYS/backup"
	cp "$FX/gym.db" "$W/gym.db"
	mkdir "$W/spool" "$W/usb1" "$W/usb2"
	bk_conf "$W/gb.conf"
	CAT="$W/catalog.db"
	gb-write -c "$W/gb.conf" --label D1 --pool daily "$W/usb1" >/dev/null
	gb-write -c "$W/gb.conf" --label W1 --pool weekly "tape:$W/weekly.tap" >/dev/null
}

teardown() {
	kill_agents_under "$BATS_TEST_TMPDIR"
	gb_teardown
}

# bk_conf PATH [SOURCE_DB] [RECIPIENTS]: the reference schema's tables
# (as helper.bash describes them), keys, catalog, spool, two pools and
# three jobs of the policy's task table.
bk_conf() {
	local conf=$1 db=${2:-$W/gym.db} rcpt=${3:-"$RCPT1, $RCPT2"}
	write_gym_conf "$conf" "$db"
	sed -i '/^\[keys\]/,$d' "$conf"
	cat >>"$conf" <<-EOF
	[keys]
	signer = $SIGNER
	recipients = $rcpt

	EOF
	conf_pools "$conf"
	cat >>"$conf" <<-EOF
	retention_days = 90

	[job transactions-daily]
	schedule = 0 2 * * *
	tables = consumptions, recharges, promotion_participations, checkins
	level = full
	pool = daily
	media = $W/usb1 $W/usb2

	[job members-weekly]
	schedule = 30 1 * * 0
	tables = stores, members, promotions
	chain = members
	pool = weekly
	retention_days = 120
	media = tape:$W/weekly.tap

	[job members-daily]
	schedule = 30 1 * * 1-6     ; Monday to Saturday
	tables = stores members promotions
	level = incremental
	chain = members
	pool = daily
	media = $W/usb1
	EOF
}

# set_key PATH SECTION KEY VALUE: replace a key's value in a section.
set_key() {
	"$PY" - "$@" <<-'EOF'
	import sys, re
	path, sect, key, val = sys.argv[1:5]
	lines = open(path).read().split('\n')
	cur = None
	for i, l in enumerate(lines):
	    m = re.match(r'\s*\[(.*)\]', l)
	    if m:
	        cur = ' '.join(m.group(1).split())
	    elif cur == sect and re.match(r'\s*' + re.escape(key) + r'\s*=', l):
	        lines[i] = key + ' = ' + val
	        break
	else:
	    sys.exit('no %s in [%s]' % (key, sect))
	open(path, 'w').write('\n'.join(lines))
	EOF
}

bk() {
	gb-backup -c "$W/gb.conf" "$@"
}

q() {
	sql "$CAT" "$@"
}

# The archive name (NAME.tar.gz.gpg) of run ID.
run_archive() {
	q "SELECT archive FROM runs WHERE id = $1"
}

# rst ARGS...: gb-restore with the restore keyring, pinned to $SIGNER.
rst() {
	GNUPGHOME="$KEYS/restore" gb-restore --signer "$SIGNER" "$@"
}

# tap_file IMAGE N OUT: tape file N (0 = the label) of a SIMH tape image,
# its records joined.
tap_file() {
	"$PY" - "$@" <<-'EOF'
	import sys, struct
	img, want, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
	data = open(img, 'rb').read()
	pos = f = 0
	buf = bytearray()
	while pos + 4 <= len(data):
	    (n,) = struct.unpack('<I', data[pos:pos + 4]); pos += 4
	    if n == 0:
	        if f == want:
	            open(out, 'wb').write(buf)
	            sys.exit(0)
	        f += 1
	        continue
	    if n == 0xFFFFFFFF:
	        break
	    rec = data[pos:pos + n]
	    pos += n + (n & 1)
	    (n2,) = struct.unpack('<I', data[pos:pos + 4]); pos += 4
	    if n2 != n:
	        sys.exit('bad record at %d' % pos)
	    if f == want:
	        buf += rec
	sys.exit('no complete tape file %d in %s' % (want, img))
	EOF
}

# from_tape IMAGE FILENO DIR: the archive in tape file FILENO and its seal
# in FILENO+1, as the files they were (padding cut), into DIR; prints the
# archive's path.
from_tape() {
	local img=$1 n=$2 dir=$3 name size
	mkdir -p "$dir"
	tap_file "$img" $((n + 1)) "$dir/seal.raw" || return 1
	# the seal ends at its first NUL; the checkpoint follows (gb-checkpoint(5))
	head -z -n 1 <"$dir/seal.raw" | tr -d '\000' >"$dir/x.seal"
	name=$(seal_field "$dir/x.seal" archive)
	size=$(seal_field "$dir/x.seal" size)
	[ -n "$name" ] && [ -n "$size" ] || { echo "no seal in tape file $((n + 1))" >&2; return 1; }
	mv "$dir/x.seal" "$dir/${name%.tar.gz.gpg}.seal"
	rm -f "$dir/seal.raw"
	tap_file "$img" "$n" "$dir/$name.raw" || return 1
	head -c "$size" "$dir/$name.raw" >"$dir/$name"
	rm -f "$dir/$name.raw"
	echo "$dir/$name"
}

# Sum of the rows of a seal's manifest.
seal_rows() {
	seal_manifest "$1" | awk -F'\t' '$1 == "rows" { n += $3 } END { print n + 0 }'
}

# No temporary file of gb-seal or gb-write under these directories.
assert_no_tmp() {
	local left
	left=$(find "$@" -name '*.tmp.*' 2>/dev/null)
	[ -z "$left" ] || fail "temporary files left: $left"
}

# Tables A and B of two databases hold the same rows (EXCEPT both ways).
assert_same_rows() {
	local a=$1 b=$2 t res
	shift 2
	for t in "$@"; do
		res=$(sqlite3 -bail "$a" "ATTACH '$b' AS o;
		    SELECT (SELECT count(*) FROM (SELECT * FROM main.$t EXCEPT SELECT * FROM o.$t)),
		           (SELECT count(*) FROM (SELECT * FROM o.$t EXCEPT SELECT * FROM main.$t)),
		           (SELECT count(*) FROM main.$t) = (SELECT count(*) FROM o.$t);")
		[ "$res" = "0|0|1" ] || fail "table $t differs between $a and $b: $res"
	done
}

# ------------------------------------------------------------ full jobs

@test "a full job: exported, sealed, written to a directory medium, logged; the spool is empty; it restores" {
	run bk transactions-daily
	assert_success
	assert_output ""		# cron mails nothing when all is well

	# the backup log
	assert_equal "$(q "SELECT count(*), job, status, error IS NULL FROM runs")" "1|transactions-daily|ok|1"
	name=$(run_archive 1)
	[[ $name =~ ^test-gym-transactions-daily-[0-9]{8}T[0-9]{6}Z\.tar\.gz\.gpg$ ]] || fail "archive name $name"
	base=${name%.tar.gz.gpg}

	# the medium holds the archive, its seal and an index naming them
	[ -f "$W/usb1/$name" ] && [ -f "$W/usb1/$base.seal" ] || fail "not on the medium: $(ls "$W/usb1")"
	grep -q "^$name	" "$W/usb1/GYMBACKUP.INDEX"
	(cd "$W/usb1" && grep "  $name\$" "$base.seal" | sha256sum -c --quiet)
	gpgk auditor --verify "$W/usb1/$base.seal" 2>/dev/null

	# rows: the seal's manifest, and the source itself
	want=$(sqlite3 "$W/gym.db" "SELECT (SELECT count(*) FROM consumptions) + (SELECT count(*) FROM recharges)
	    + (SELECT count(*) FROM promotion_participations) + (SELECT count(*) FROM checkins)")
	assert_equal "$(seal_rows "$W/usb1/$base.seal")" "$want"
	assert_equal "$(q "SELECT rows, bytes, archive FROM runs WHERE id = 1")" \
	    "$want|$(stat -c %s "$W/usb1/$name")|$name"
	assert_equal "$(seal_manifest "$W/usb1/$base.seal" | awk -F'\t' '$1 == "table" { print $2 }' | paste -sd' ')" \
	    "consumptions recharges promotion_participations checkins"
	assert_equal "$(seal_manifest "$W/usb1/$base.seal" | awk -F'\t' '$1 == "job" || $1 == "level" { print $2 }' | paste -sd' ')" \
	    "transactions-daily full"

	# the catalog: the archive, one good copy read back, the verification
	assert_equal "$(q "SELECT job, level FROM archives WHERE name = '$name'")" "transactions-daily|full"
	assert_equal "$(q "SELECT medium, status, verified_at IS NOT NULL FROM copies WHERE archive = '$name'")" "D1|good|1"
	assert_equal "$(q "SELECT kind, medium, ok FROM checks WHERE archive = '$name'")" "verify|D1|1"
	gb-catalog -c "$W/gb.conf" audit --verify >/dev/null

	# nothing left behind
	assert_empty_dir "$W/spool"
	assert_tmpdir_empty
	assert_no_tmp "$W/usb1"

	# what the medium holds restores, and equals the source
	run rst --test "$W/usb1/$name"
	assert_success
	assert_line "restore test: 1 archive, OK"
	rst -d "sqlite:$W/r.db" "$W/usb1/$name" 2>/dev/null
	assert_same_rows "$W/gym.db" "$W/r.db" consumptions recharges promotion_participations checkins
}

@test "a full job to a tape image: archive and seal in tape files 1 and 2; it restores from the tape" {
	run bk members-weekly
	assert_success
	assert_output ""
	name=$(run_archive 1)
	assert_equal "$(q "SELECT medium, position, status FROM copies WHERE archive = '$name'")" "W1|1|good"
	assert_equal "$(q "SELECT status, rows FROM runs")" \
	    "ok|$(sqlite3 "$W/gym.db" "SELECT (SELECT count(*) FROM stores) + (SELECT count(*) FROM members) + (SELECT count(*) FROM promotions)")"

	f=$(from_tape "$W/weekly.tap" 1 "$W/fromtape")
	assert_equal "$(basename "$f")" "$name"
	(cd "$W/fromtape" && grep "  $name\$" "${name%.tar.gz.gpg}.seal" | sha256sum -c --quiet)
	assert_equal "$(q "SELECT bytes FROM runs")" "$(stat -c %s "$f")"
	# the seal on tape is the one the catalog keeps
	assert_equal "$(q "SELECT seal FROM archives WHERE name = '$name'")" "$(cat "$W/fromtape/${name%.tar.gz.gpg}.seal")"
	assert_empty_dir "$W/spool"
	run rst --test "$f"
	assert_success
	assert_line "restore test: 1 archive, OK"
}

@test "-v prints the stages; the tools are found beside gb-backup without PATH" {
	run env PATH=/usr/bin:/bin "$TOP/bin/gb-backup" -v -c "$W/gb.conf" members-weekly
	assert_success
	assert_line --regexp "^gb-backup: members-weekly: run 1$"
	assert_line --regexp "^gb-backup: members-weekly: export \(full\) \| pack \| seal -o $W/spool/test-gym-members-weekly-[0-9T]+Z$"
	assert_line --regexp "^gb-backup: members-weekly: spool test-gym-members-weekly-[0-9T]+Z\.tar\.gz\.gpg: OK$"
	assert_line --regexp "^gb-backup: members-weekly: test-gym-members-weekly-[0-9T]+Z\.tar\.gz\.gpg: OK on W1$"
	assert_line --regexp "^gb-backup: members-weekly: test-gym-members-weekly-[0-9T]+Z\.tar\.gz\.gpg written to W1 \(tape:$W/weekly\.tap\): [0-9]+ rows, [0-9]+ bytes$"
}

@test "two jobs at once: the second waits for the spool, both are written" {
	bg_big transactions-daily
	for _ in $(seq 200); do
		compgen -G "$W/spool/*.tmp.*" >/dev/null && break
		sleep 0.05
	done
	run bk members-weekly
	assert_success
	wait "$BK_PID" || fail "the first job failed: $(cat "$W/bk.out")"
	assert_equal "$(q "SELECT job, status FROM runs ORDER BY id")" "transactions-daily|ok
members-weekly|ok"
	# one after the other: the first job's copy was written first
	assert_equal "$(q "SELECT a.job FROM copies c JOIN archives a ON a.name = c.archive ORDER BY c.id")" "transactions-daily
members-weekly"
	assert_empty_dir "$W/spool"
}

# ---------------------------------------------------------- incrementals

@test "an incremental finds its base in the catalog, the next one builds on it, and the chain restores equal to the source" {
	bk members-weekly
	full=$(run_archive 1)
	full_id=$(q "SELECT export_id FROM archives WHERE name = '$full'")

	sqlite3 -bail "$W/gym.db" <<-'EOF'
	UPDATE members SET balance = balance + 500, note = '充值, "bonus"', updated_at = '2099-01-01 00:00:00' WHERE id % 9 = 0;
	INSERT INTO stores (code, name, city, updated_at) VALUES ('NEW1', '新店', '杭州', '2099-01-01 00:00:00');
	UPDATE promotions SET bonus_amount = 4242, updated_at = '2099-01-01 00:00:00' WHERE id = 1;
	EOF
	run bk members-daily
	assert_success
	assert_output ""
	inc1=$(run_archive 2)
	[[ $inc1 == test-gym-members-daily-*.tar.gz.gpg ]] || fail "archive $inc1"
	s1="$W/usb1/${inc1%.tar.gz.gpg}.seal"
	assert_equal "$(seal_manifest "$s1" | awk -F'\t' '$1 == "level" || $1 == "base" { print $2 }' | paste -sd' ')" \
	    "incremental $full_id"
	want=$(sqlite3 "$W/gym.db" "SELECT (SELECT count(*) FROM members WHERE updated_at = '2099-01-01 00:00:00')
	    + (SELECT count(*) FROM stores WHERE updated_at = '2099-01-01 00:00:00')
	    + (SELECT count(*) FROM promotions WHERE updated_at = '2099-01-01 00:00:00')")
	assert_equal "$(q "SELECT rows FROM runs WHERE id = 2")" "$want"
	assert_equal "$(q "SELECT level, chain FROM archives WHERE name = '$inc1'")" "incremental|$full_id"

	sqlite3 -bail "$W/gym.db" "UPDATE members SET status = 'frozen', updated_at = '2099-02-01 00:00:00' WHERE id % 7 = 0"
	run bk members-daily
	assert_success
	inc2=$(run_archive 3)
	inc1_id=$(q "SELECT export_id FROM archives WHERE name = '$inc1'")
	assert_equal "$(seal_manifest "$W/usb1/${inc2%.tar.gz.gpg}.seal" | awk -F'\t' '$1 == "base" { print $2 }')" "$inc1_id"

	# full from the tape, incrementals from the drive: the source again
	f=$(from_tape "$W/weekly.tap" 1 "$W/fromtape")
	run rst -d "sqlite:$W/r.db" "$W/usb1/$inc2" "$f" "$W/usb1/$inc1"
	assert_success
	assert_same_rows "$W/gym.db" "$W/r.db" stores members promotions
	run rst --test "$f" "$W/usb1/$inc1" "$W/usb1/$inc2"
	assert_success
	assert_line "restore test: 3 archives, OK"
}

@test "the state of exact incrementals is kept beside the catalog for every job: the daily incremental finds the weekly full's, deletes included" {
	bk members-weekly
	full=$(run_archive 1)
	full_id=$(q "SELECT export_id FROM archives WHERE name = '$full'")
	[ -f "$W/state/jobs/members-weekly/$full_id/members.csv.state" ] ||
		fail "no state of $full_id in $W/state"
	assert_equal "$(stat -c %a "$W/state")" 700
	refute [ -e "$XDG_STATE_HOME/gymbackup" ]
	sqlite3 -bail "$W/gym.db" "DELETE FROM members WHERE id = 2;
	    UPDATE members SET note = 'kept time' WHERE id = 3"
	run bk members-daily
	assert_success
	inc=$(run_archive 2)
	seal_manifest "$W/usb1/${inc%.tar.gz.gpg}.seal" >m
	assert_equal "$(mf m change members)" delta
	assert_equal "$(mf m rows members)" 1
	assert_equal "$(mf m deletes members | cut -f2)" 1
}

@test "an incremental builds on the signed manifest of its base, never on unsigned text kept around the seal in the catalog" {
	bk members-weekly
	full=$(run_archive 1)
	full_id=$(q "SELECT export_id FROM archives WHERE name = '$full'")
	# unsigned text before and after the clear-signed seal, as an older
	# gb-write kept it: a forged manifest with another id and no rows
	q "SELECT writefile('$W/full.seal', seal) FROM archives WHERE name = '$full'" >/dev/null
	seal_text "$W/full.seal" | awk -F'\t' -v OFS='\t' '$1 == "id" { $2 = "FORGED-ID" }
	    $1 == "rows" && NF == 3 { $3 = 0 } 1' >"$W/forged.txt"
	grep -q FORGED-ID "$W/forged.txt"
	"$PY" -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
f = open(sys.argv[2]).read()
s = open(sys.argv[3]).read()
c.execute("UPDATE archives SET seal = ? WHERE name = ?", ("x\n" + f + "\n" + s + f, sys.argv[4]))
c.commit()' "$CAT" "$W/forged.txt" "$W/full.seal" "$full"

	sqlite3 -bail "$W/gym.db" "UPDATE members SET balance = balance + 1, updated_at = '2099-01-01 00:00:00' WHERE id % 5 = 0"
	run bk members-daily
	assert_success
	inc=$(run_archive 2)
	s1="$W/usb1/${inc%.tar.gz.gpg}.seal"
	assert_equal "$(seal_manifest "$s1" | awk -F'\t' '$1 == "level" || $1 == "base" { print $2 }' | paste -sd' ')" \
	    "incremental $full_id"
	want=$(sqlite3 "$W/gym.db" "SELECT count(*) FROM members WHERE updated_at = '2099-01-01 00:00:00'")
	[ "$want" -gt 0 ]
	assert_equal "$(q "SELECT rows FROM runs WHERE id = 2")" "$want"
	assert_equal "$(q "SELECT level, chain FROM archives WHERE name = '$inc'")" "incremental|$full_id"
}

@test "an incremental with nothing to build on makes a full and says so" {
	run bk members-daily
	assert_success
	assert_output --partial "members-daily: warning: chain members has no archive with a good copy to build on; this run makes a full backup"
	name=$(run_archive 1)
	assert_equal "$(q "SELECT level, job FROM archives WHERE name = '$name'")" "full|members-daily"
	# and the next one builds on it
	run bk members-daily
	assert_success
	assert_output ""
	assert_equal "$(q "SELECT base_id FROM archives WHERE name = '$(run_archive 2)'")" \
	    "$(q "SELECT export_id FROM archives WHERE name = '$name'")"
}

# -------------------------------------------------------------- failures

@test "export fails (no such source): the run is logged failed with the reason, stderr says it, nothing left" {
	bk_conf "$W/gb.conf" "$W/missing.db"
	run bk transactions-daily
	assert_failure 3
	assert_line --regexp "^gb-backup: transactions-daily: export failed: .*missing\.db"
	refute_output --partial "gb-pack"		# what only echoes the failure is not shown
	assert_equal "$(q "SELECT status FROM runs")" "failed"
	[[ $(q "SELECT error FROM runs") == export:*missing.db* ]] || fail "error: $(q "SELECT error FROM runs")"
	assert_equal "$(q "SELECT count(*) FROM archives")" "0"
	assert_empty_dir "$W/spool"
	assert_tmpdir_empty
	[ ! -e "$W/missing.db" ]
}

@test "seal fails (a recipient without a key): logged failed, exit 2, no spool file" {
	bk_conf "$W/gb.conf" "$W/gym.db" "$RCPT1, 0123456789ABCDEF0123456789ABCDEF01234567"
	run bk transactions-daily
	assert_failure 2
	assert_line --regexp "^gb-backup: transactions-daily: seal failed: .*0123456789ABCDEF0123456789ABCDEF01234567"
	assert_equal "$(q "SELECT status FROM runs")" "failed"
	[[ $(q "SELECT error FROM runs") == seal:*0123456789ABCDEF0123456789ABCDEF01234567* ]] ||
	    fail "error: $(q "SELECT error FROM runs")"
	assert_empty_dir "$W/spool"
	assert_tmpdir_empty
	assert_equal "$(q "SELECT count(*) FROM copies")" "0"
}

@test "the only medium is full: write fails with exit 3, the sealed archive stays in the spool for a rerun" {
	gb-write -c "$W/gb.conf" --label W9 --pool weekly --capacity 20000 "tape:$W/small.tap" >/dev/null
	set_key "$W/gb.conf" "job members-weekly" media "tape:$W/small.tap"
	run bk members-weekly
	assert_failure 3
	assert_line --regexp "^gb-backup: members-weekly: write failed: no medium of pool weekly took the archive: tape:.*small\.tap: medium W9 is full"
	assert_output --partial "the sealed archive stays in the spool"
	[[ $(q "SELECT status, error FROM runs") == failed\|write:*W9\ is\ full*spool\ kept* ]] ||
	    fail "run: $(q "SELECT status, error FROM runs")"
	assert_equal "$(q "SELECT count(*) FROM copies WHERE status = 'good'")" "0"
	assert_equal "$(q "SELECT status FROM copies")" "failed"
	# the spool holds the whole sealed archive, and nothing partial
	n=$(ls "$W/spool" | sed -n 's/\.seal$//p')
	[ -n "$n" ] && [ -f "$W/spool/$n.tar.gz.gpg" ] || fail "spool: $(ls -A "$W/spool")"
	assert_equal "$(ls -A "$W/spool" | wc -l)" 2
	run gb-verify -c "$W/gb.conf" "$W/spool/$n.seal"
	assert_success
	assert_tmpdir_empty
	# the rerun of the write, by hand, as the message says
	gb-write -c "$W/gb.conf" --label W2 --pool weekly "tape:$W/big.tap" >/dev/null
	run gb-write -c "$W/gb.conf" --pool weekly "tape:$W/big.tap" "$W/spool/$n"
	assert_success
	assert_equal "$(q "SELECT medium FROM copies WHERE status = 'good'")" "W2"
}

@test "a medium that is full or refused is passed over for the next one" {
	# W1 is full (capacity), W2 takes it; the full one is worth a mail
	gb-write -c "$W/gb.conf" --label W9 --pool weekly --capacity 20000 "tape:$W/small.tap" >/dev/null
	gb-write -c "$W/gb.conf" --label W2 --pool weekly "tape:$W/big.tap" >/dev/null
	set_key "$W/gb.conf" "job members-weekly" media "tape:$W/small.tap tape:$W/big.tap"
	run bk members-weekly
	assert_success
	assert_output --regexp "members-weekly: warning: tape:.*small\.tap: medium W9 is full.*; written to tape:.*big\.tap instead"
	assert_equal "$(q "SELECT medium FROM copies WHERE status = 'good'")" "W2"

	# D1 is offsite (the daily rotation), usb2 unlabelled: refused quietly
	gb-catalog -c "$W/gb.conf" move D1 --to offsite --why rotation >/dev/null
	run bk transactions-daily
	assert_failure 2
	assert_output --partial "no medium of pool daily took the archive"
	assert_output --partial "D1 is offsite"
	assert_output --partial "no gymbackup label"
	gb-write -c "$W/gb.conf" --label D2 --pool daily "$W/usb2" >/dev/null
	run bk transactions-daily
	assert_success
	# the archive of the failed run is still in the spool: said each time
	assert_output --regexp "warning: .*/spool/test-gym-transactions-daily-.*\.tar\.gz\.gpg of an earlier run was never written to a medium"
	assert_equal "$(q "SELECT medium FROM copies WHERE archive = '$(run_archive 3)' AND status = 'good'")" "D2"
}

# read_only DIR: DIR cannot be written to, as the backup user sees it: a
# read-only bind mount as root (who may write through any mode), else
# mode 0555.
read_only() {
	if [ "$(id -u)" = 0 ]; then
		mount --bind "$1" "$1" || skip "cannot bind-mount $1"
		GB_MOUNTS+=("$1")
		mount -o remount,ro,bind "$1" || skip "cannot remount $1 read-only"
		RO_WHY="Read-only file system"
	else
		chmod 0555 "$1"
		RO_WHY="Permission denied"
	fi
}

@test "a spool the backup user cannot write to is named, with the cause and what to do; nothing leaks from bash" {
	read_only "$W/spool"
	run bk members-weekly
	assert_failure 3
	assert_output "gb-backup: members-weekly: lock failed: spool $W/spool: user $(id -un) cannot write to it ($RO_WHY); sealed archives wait there: give that user write access (its owner, mode 0750) or set dir in [spool] of $W/gb.conf"
	[[ $(q "SELECT status, error FROM runs") == "failed|lock: spool $W/spool: user $(id -un) cannot write to it ($RO_WHY);"* ]] ||
	    fail "run: $(q "SELECT status, error FROM runs")"
	assert_equal "$(q "SELECT count(*) FROM copies")" "0"
}

@test "a catalog the backup user may only read is named, with the cause and what to do, not as SQL" {
	mkdir "$W/cat"
	mv "$W"/catalog.db* "$W/cat/"
	set_key "$W/gb.conf" catalog path "$W/cat/catalog.db"
	read_only "$W/cat"
	run bk members-weekly
	assert_failure 3
	assert_output "gb-backup: members-weekly: cannot log the run: user $(id -un) cannot write to the catalog $W/cat/catalog.db ($W/cat/catalog.db: $RO_WHY); give that user write access to the catalog and its directory, or run gb-backup as their owner"
	assert_empty_dir "$W/spool"
	# the auditor's copy is still read
	run -0 gb-catalog -c "$W/gb.conf" job members-weekly
}

@test "a full USB drive: the warning says where the archive went, a second line what to do with the full drive" {
	mkdir "$W/full"
	gb-write -c "$W/gb.conf" --label D2 --pool daily "$W/usb2" >/dev/null
	set_key "$W/gb.conf" "job transactions-daily" media "$W/full $W/usb2"
	# the drive at $W/full: labelled, with room for little else
	run_small_fs "$W/full" 64k sh -c 'gb-write -c "$1" --label D9 --pool daily "$2" >/dev/null &&
	    dd if=/dev/zero of="$2/filler" bs=4k count=8 2>/dev/null; gb-backup -c "$1" transactions-daily' sh "$W/gb.conf" "$W/full"
	assert_success
	assert_output "gb-backup: transactions-daily: warning: $W/full: medium D9 is full; written to $W/usb2 instead
gb-backup: transactions-daily: medium D9 ($W/full) is full and is passed over from now on; put a new medium of pool daily in its place: gb-write -c $W/gb.conf --label ID --pool daily $W/full"
	assert_equal "$(q "SELECT medium, status FROM copies ORDER BY id")" "D9|failed
D2|good"
	assert_equal "$(q "SELECT state FROM media WHERE id = 'D9'")" "full"
}

@test "a config error in the job is logged as the config stage; unknown job and bad usage exit 2" {
	set_key "$W/gb.conf" "job members-daily" level weekly
	run bk members-daily
	assert_failure 2
	assert_line --regexp "^gb-backup: config: .*gb\.conf:[0-9]+: \[job members-daily\]: level must be full or incremental, not weekly"
	assert_line --partial "gb-backup: members-daily: config failed:"
	[[ $(q "SELECT status, error FROM runs") == failed\|config:*level* ]] || fail "$(q "SELECT * FROM runs")"

	run bk no-such-job
	assert_failure 2
	assert_output --partial "no-such-job: no such job in $W/gb.conf (jobs: transactions-daily members-weekly members-daily)"
	run gb-backup -c "$W/gb.conf"
	assert_failure 2
	assert_output --partial "usage: gb-backup"
	run gb-backup -h
	assert_success
	assert_line --index 0 "usage: gb-backup [-v] [-c conf] job"
	run gb-backup -x
	assert_failure 2
	run env -u GB_CONF gb-backup --list
	[ -e /etc/gymbackup/gymbackup.conf ] || assert_failure 2
}

@test "the task table is checked: unknown keys, bad cron times, a pool not described" {
	cp "$W/gb.conf" "$W/good.conf"
	printf '[job typo]\nschedule = 0 2 * * *\npool = daily\nmedia = %s\ntabels = members\n' "$W/usb1" >>"$W/gb.conf"
	run bk --list
	assert_failure 2
	assert_output --regexp "gb\.conf:[0-9]+: \[job typo\]: unknown key tabels \(known: schedule, tables, level, chain, pool, retention_days, media, verify, alert_after\)"
	for bad in "30 25 * * *" "0 2 * *" "0 2 * * 8" "0 2 31 13 *" "x 2 * * *" "0 2 * * 1-" "0 2 ,1 * *"; do
		cp "$W/good.conf" "$W/gb.conf"
		set_key "$W/gb.conf" "job transactions-daily" schedule "$bad"
		run bk --crontab
		assert_failure 2
		assert_output --partial "[job transactions-daily]: schedule must be a cron time"
	done
	for ok in "*/15 * * * *" "0 2 * * mon-fri" "5 4 1,15 jan,jul *" "0 0-23/6 * * 7"; do
		cp "$W/good.conf" "$W/gb.conf"
		set_key "$W/gb.conf" "job transactions-daily" schedule "$ok"
		run bk --crontab
		assert_success
	done
	cp "$W/good.conf" "$W/gb.conf"
	set_key "$W/gb.conf" "job transactions-daily" pool nightly
	run bk --list
	assert_failure 2
	assert_output --partial "[job transactions-daily]: pool nightly is not described; add a [pool nightly] section"
	cp "$W/good.conf" "$W/gb.conf"
	set_key "$W/gb.conf" "job members-weekly" media "$W/usb1"
	run bk --list
	assert_failure 2
	assert_output --partial "is not a tape (pool weekly holds tapes"
	cp "$W/good.conf" "$W/gb.conf"
	printf 'oops\n' >>"$W/gb.conf"
	run bk --list
	assert_failure 2
	assert_output --regexp "config: .*gb\.conf:[0-9]+: malformed line"
}

# ---------------------------------------------------------------- killed

# bg_big JOB: gb-backup JOB in the background on a bigger database, its
# output in bk.out, started.  $BK_PID.
bg_big() {
	gb-demodata -s 3 -n 300000 -o "$W/big.db"
	bk_conf "$W/gb.conf" "$W/big.db"
	gb-backup -c "$W/gb.conf" "$1" >"$W/bk.out" 2>&1 &
	BK_PID=$!
	bg_started "$BK_PID"
}

# start_big JOB: bg_big JOB, and return once gb-seal has its temporary
# file in the spool.
start_big() {
	bg_big "$1"
	for _ in $(seq 200); do
		compgen -G "$W/spool/*.tmp.*" >/dev/null && return 0
		sleep 0.05
	done
	fail "gb-backup did not start sealing: $(cat "$W/bk.out")"
}

@test "gb-backup killed with TERM mid-run: the run is failed, no copy is good, nothing partial is left; the next run works" {
	start_big transactions-daily
	kill -TERM "$BK_PID"
	st=0
	wait "$BK_PID" || st=$?
	assert_equal "$st" 143		# died of the signal, after cleaning up
	grep -q "transactions-daily: .* failed: interrupted by SIGTERM" "$W/bk.out" || fail "stderr: $(cat "$W/bk.out")"
	assert_equal "$(q "SELECT status FROM runs")" "failed"
	[[ $(q "SELECT error FROM runs") == *"interrupted by SIGTERM"* ]] || fail "$(q "SELECT error FROM runs")"
	assert_equal "$(q "SELECT count(*) FROM copies WHERE status = 'good'")" "0"
	assert_no_tmp "$W/spool" "$W/usb1" "$W/usb2"
	assert_tmpdir_empty
	# no stage outlived it
	! pgrep -f "$W/gb.conf" >/dev/null || fail "still running: $(pgrep -af "$W/gb.conf")"

	run bk transactions-daily
	assert_success
	assert_equal "$(q "SELECT status FROM runs ORDER BY id")" "failed
ok"
	assert_equal "$(q "SELECT count(*) FROM copies WHERE status = 'good'")" "1"
	assert_no_tmp "$W/spool" "$W/usb1"
	gb-catalog -c "$W/gb.conf" audit --verify >/dev/null
}

@test "gb-backup killed with TERM while writing: no half-written copy counts, nothing partial on the medium; the next run works" {
	bg_big transactions-daily
	# as soon as the medium gets the first byte (or the pipeline is past it)
	end=$((SECONDS + 20))
	until compgen -G "$W/usb1/*.tar.gz.gpg*" >/dev/null || [ $SECONDS -ge $end ]; do
		sleep 0.01
	done
	kill -TERM "$BK_PID"
	st=0
	wait "$BK_PID" || st=$?
	[ "$st" = 143 ] || [ "$st" = 0 ] || fail "status $st: $(cat "$W/bk.out")"
	if [ "$st" = 143 ]; then
		assert_equal "$(q "SELECT status FROM runs")" "failed"
		grep -q "interrupted by SIGTERM" "$W/bk.out" || fail "stderr: $(cat "$W/bk.out") run: $(q "SELECT * FROM runs")"
	fi
	# a copy that counts is whole: gb-verify reads it on the medium
	while IFS= read -r a; do
		gb-verify -c "$W/gb.conf" --media "$W/usb1" "$a" >/dev/null ||
		    fail "a good copy of $a that does not verify"
	done < <(q "SELECT archive FROM copies WHERE status = 'good'")
	assert_no_tmp "$W/spool" "$W/usb1" "$W/usb2"
	assert_tmpdir_empty
	# every file on the medium is whole, and its index names only good copies
	for f in "$W"/usb1/*.tar.gz.gpg; do
		[ -e "$f" ] || continue
		gb-verify -c "$W/gb.conf" "$f" >/dev/null || fail "$f is not whole"
	done
	run bk transactions-daily
	assert_success
	assert_equal "$(q "SELECT status FROM runs ORDER BY id DESC LIMIT 1")" "ok"
	assert_no_tmp "$W/spool" "$W/usb1"
	gb-catalog -c "$W/gb.conf" audit --verify >/dev/null
}

@test "gb-backup killed with KILL: the next run marks the killed run failed, nothing half-written counts; it waits for the orphans, cleans up and works" {
	start_big transactions-daily
	assert_equal "$(q "SELECT status, pid, host FROM runs")" "running|$BK_PID|$(hostname)"
	kill -KILL "$BK_PID"
	wait "$BK_PID" || true
	assert_equal "$(q "SELECT status FROM runs")" "running"
	# the next run waits for the spool the orphaned pipeline still holds
	run bk transactions-daily
	assert_success
	assert_output --partial "was never written to a medium"
	assert_output --partial "gb-catalog: warning: run 1 of job transactions-daily (started $(q "SELECT started FROM runs WHERE id = 1")) was left running by a gb-backup that was killed (pid $BK_PID); marked failed"
	assert_equal "$(q "SELECT status FROM runs ORDER BY id")" "failed
ok"
	[[ $(q "SELECT error FROM runs WHERE id = 1") == *"killed: its gb-backup (pid $BK_PID on $(hostname)) ended without logging the run"* ]] ||
	    fail "error: $(q "SELECT error FROM runs WHERE id = 1")"
	[ -n "$(q "SELECT ended FROM runs WHERE id = 1")" ]
	good=$(q "SELECT archive FROM copies WHERE status = 'good'")
	assert_equal "$good" "$(run_archive 2)"
	assert_no_tmp "$W/spool" "$W/usb1" "$W/usb2"
	gb-catalog -c "$W/gb.conf" audit --verify >/dev/null
	# what the killed run left in the spool is whole (an orphan finished
	# it) or absent, never partial
	for s in "$W"/spool/*.seal; do
		[ -e "$s" ] || continue
		gb-verify -c "$W/gb.conf" "$s" >/dev/null
	done
}

@test "gb-backup killed with KILL: gb-catalog check reports the run its killed gb-backup left running, and marks it failed" {
	start_big transactions-daily
	# a run of another job that is still going is left alone
	(exec -a gb-backup sleep 600) &
	local live=$!
	q "INSERT INTO runs(site, job, started, status, pid, host) VALUES((SELECT min(site) FROM runs), 'members-daily', '$(date -u +%Y-%m-%dT%H:%M:%SZ)', 'running', $live, '$(hostname)')"
	kill -KILL "$BK_PID"
	wait "$BK_PID" || true
	local started
	started=$(q "SELECT started FROM runs WHERE id = 1")
	run gb-catalog -c "$W/gb.conf" check
	assert_failure 1
	assert_line "run 1 of job transactions-daily (started $started): its gb-backup (pid $BK_PID) is gone, killed; marked failed"
	refute_output --partial "run 2 of"
	assert_equal "$(q "SELECT id, status FROM runs ORDER BY id")" "1|failed
2|running"
	# reported once: it is failed now
	run gb-catalog -c "$W/gb.conf" check
	refute_output --partial "run 1 of"
	kill "$live"
	# the orphaned pipeline finishes before the test's files go
	for _ in $(seq 600); do
		pgrep -f "$W/gb.conf" >/dev/null || break
		sleep 0.1
	done
}

# ------------------------------------------------------ --list, --crontab

# fields LINE: the columns of a --list line (two blanks or more apart).
fields() {
	awk '{ gsub(/  +/, "\t"); print }' <<<"$1"
}

@test "--list prints the task table, a line per job as the config says, and the pools" {
	run bk --list
	assert_success
	assert_line --index 0 "backup task table of $W/gb.conf"
	assert_equal "$(fields "${lines[1]}")" "$(printf 'JOB\tWHEN\tSCHEDULE\tLEVEL\tCHAIN\tTABLES\tPOOL\tRETENTION\tMEDIA')"
	assert_equal "$(fields "${lines[2]}")" "$(printf 'transactions-daily\tdaily 02:00\t0 2 * * *\tfull\ttransactions-daily\tconsumptions,recharges,promotion_participations,checkins\tdaily\t35 days\t%s' "$W/usb1 $W/usb2")"
	assert_equal "$(fields "${lines[3]}")" "$(printf 'members-weekly\tweekly Sun 01:30\t30 1 * * 0\tfull\tmembers\tstores,members,promotions\tweekly\t120 days\t%s' "tape:$W/weekly.tap")"
	assert_equal "$(fields "${lines[4]}")" "$(printf 'members-daily\tMon-Sat 01:30\t30 1 * * 1-6\tincremental\tmembers\tstores,members,promotions\tdaily\t35 days\t%s' "$W/usb1")"
	assert_equal "$(fields "${lines[5]}")" "$(printf 'POOL\tKIND\tRETENTION\tOFFSITE')"
	assert_equal "$(fields "${lines[6]}")" "$(printf 'daily\tdir\t35 days\tafter writing, back after 7 days')"
	assert_equal "$(fields "${lines[7]}")" "$(printf 'weekly\ttape\t90 days\tno')"
	assert_equal "${#lines[@]}" 8
	# aligned: every column starts where its header does
	for col in WHEN SCHEDULE LEVEL CHAIN TABLES POOL RETENTION MEDIA; do
		h=${lines[1]%%"$col"*}
		for i in 2 3 4; do
			[ "${lines[$i]:${#h}-2:2}" = "  " ] && [ "${lines[$i]:${#h}:1}" != " " ] ||
			    fail "column $col is not aligned in: ${lines[$i]}"
		done
	done
}

@test "--list aligns by display width: a table named 会员 takes two columns a character" {
	sed -i '0,/^tables = stores, members, promotions$/s//tables = 会员, members/' "$W/gb.conf"
	run bk --list
	assert_success
	local line
	line=$(printf '%s\n' "${lines[@]}" | grep '会员')
	# each column (after two blanks) starts at the display column of its
	# header, a wide character counted as two (Python's East Asian Width)
	python3 - "${lines[1]}" "$line" <<-'EOF'
	import re, sys, unicodedata
	def width(s):
	    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
	def starts(s):
	    return [width(s[:m.start()]) for m in re.finditer(r"(?:^|(?<=  ))\S", s)]
	head, line = sys.argv[1], sys.argv[2]
	assert starts(head) == starts(line), (starts(head), starts(line), line)
	EOF
}

@test "--list of the shipped config: the policy's task table" {
	run gb-backup -c "$TOP/share/gymbackup.conf" --list
	assert_success
	assert_equal "$(fields "${lines[2]}" | cut -f1-8)" "$(printf 'transactions-daily\tdaily 02:00\t0 2 * * *\tfull\ttransactions-daily\tconsumptions,recharges,promotion_participations,checkins\tdaily\t35 days')"
	assert_equal "$(fields "${lines[3]}" | cut -f1-8)" "$(printf 'members-weekly\tweekly Sun 01:30\t30 1 * * 0\tfull\tmembers\tstores,members,promotions\tweekly\t90 days')"
	assert_equal "$(fields "${lines[4]}" | cut -f1-8)" "$(printf 'members-daily\tMon-Sat 01:30\t30 1 * * 1-6\tincremental\tmembers\tstores,members,promotions\tdaily\t35 days')"
	assert_equal "$(fields "${lines[5]}" | cut -f1-8)" "$(printf 'all-monthly\tmonthly day 1 03:00\t0 3 1 * *\tfull\tall-monthly\t(all)\tmonthly\t365 days')"
	assert_line "daily    dir   35 days    after writing, back after 7 days"
	# gb-export reads the same file without complaint
	run gb-export -c "$TOP/share/gymbackup.conf" -s "sqlite:$W/gym.db" -o "$W/set"
	assert_success
	refute_output --partial "warning"
}

@test "--crontab prints a cron line per job; share/crontab.example is its output for the shipped config" {
	run bk --crontab
	assert_success
	assert_line --partial "MAILTO"
	mapfile -t active < <(printf '%s\n' "${lines[@]}" | grep -v '^#')
	assert_equal "${active[0]}" "PATH=$TOP/bin:/usr/local/bin:/usr/bin:/bin"
	assert_equal "${active[1]}" "0 2 * * *  gb-backup -c $W/gb.conf transactions-daily"
	assert_equal "${active[2]}" "30 1 * * 0  gb-backup -c $W/gb.conf members-weekly"
	assert_equal "${active[3]}" "30 1 * * 1-6  gb-backup -c $W/gb.conf members-daily"
	assert_equal "${#active[@]}" 4
	# cron would run them: the time fields are what the config says
	while read -r m h dom mon dow cmd; do
		job=${cmd##* }
		assert_equal "$m $h $dom $mon $dow" "$(sed -n "/^\[job $job\]/,/^\[/s/^schedule *= *\([^;]*[^ ;]\).*/\1/p" "$W/gb.conf" | sed 's/ *$//')"
	done < <(printf '%s\n' "${active[@]:1}")

	run gb-backup -c "$TOP/share/gymbackup.conf" --crontab
	assert_success
	diff -u "$TOP/share/crontab.example" <(printf '%s\n' "$output" |
	    sed -e "s|$TOP/share/gymbackup.conf|/etc/gymbackup/gymbackup.conf|g" -e "s|^PATH=$TOP/bin:|PATH=|")
}
