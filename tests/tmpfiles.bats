#!/usr/bin/env bats
# Temporary files and work directories (issue 10, items 5 and 9): what a
# tool killed outright (kill -9, as the OOM killer or a power cut would)
# leaves is named with its pid, found stale by the next run, removed by
# it, and reported by gb-catalog check; scratch.db of the restore test is
# 0600; and 2,000 tables go through the whole pipeline with 256 file
# descriptors.

load helper
load media-helper

# many_db PATH: 2,000 tables of three rows each, the first ones with the
# hostile names of export-schema.bats; every table has its own values.
many_db() {
	"$PY" - "$1" <<'EOF'
import sqlite3, sys
names = ['../../etc/x', 'tab\tname', 'new\nline', 'cr\rname', 'q"uote',
         "s'quote", '会员', '.hidden', '..', 'a b', 'public.members',
         'back\\slash', 'pct%41', 'pctA', '-dash', 'x.csv', 'CON', ' lead',
         '/abs']
db = sqlite3.connect(sys.argv[1])
for i in range(2000):
    n = names[i] if i < len(names) else 't%04d' % i
    q = '"' + n.replace('"', '""') + '"'
    db.execute('CREATE TABLE %s (id INTEGER PRIMARY KEY, v TEXT, '
               'amount INTEGER, r REAL, b BLOB)' % q)
    db.executemany('INSERT INTO %s VALUES (?, ?, ?, ?, ?)' % q, [
        (1, n, i, 0.1 * i, b'\x00\xff' + bytes([i % 256])),
        (2, 'two, "%d"\nx' % i, None, -1.5e300, None),
        (3, '', -i, None, b'')])
db.commit()
EOF
}

# db_dump DB: every table of DB in name order, its CREATE statement and
# its rows in rowid order, each value with its storage type.
db_dump() {
	"$PY" - "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.text_factory = bytes
for name, sql in db.execute("SELECT name, sql FROM sqlite_schema WHERE "
        "type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
        "ORDER BY name"):
    print(repr(name), repr(sql))
    q = '"' + name.decode().replace('"', '""') + '"'
    for row in db.execute('SELECT * FROM %s ORDER BY rowid' % q):
        print(' ', [(type(v).__name__, v.hex() if isinstance(v, float)
                     else v) for v in row])
EOF
}

setup_file() {
	media_setup_file
	# a gym whose export stream (6 MB) overfills a pipe
	gb-demodata -s 1 -n 100000 -o "$FX/gym.db"
	many_db "$FX/many.db"
	# 250 tables with long names: the restore test's report of them
	# (80 KB) overfills a pipe
	"$PY" - "$FX/wide.db" <<-'EOF'
	import sqlite3, sys
	db = sqlite3.connect(sys.argv[1])
	for i in range(250):
	    n = 'w%03d_' % i + 'x' * 230
	    db.execute('CREATE TABLE %s (id INTEGER PRIMARY KEY, v TEXT)' % n)
	    db.executemany('INSERT INTO %s VALUES (?, ?)' % n,
	                   [(k, 'member %d of %d' % (k, i)) for k in range(20)])
	db.commit()
	EOF
	gb-export -s "sqlite:$FX/wide.db" 2>/dev/null | gb-pack - >"$FX/wide.tar.gz"
	mkdir -p "$FX/spool"
	GNUPGHOME="$KEYS/backup" gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" \
	    -o "$FX/spool/wide" <"$FX/wide.tar.gz" 2>/dev/null
}

teardown_file() { media_teardown_file; }

setup() {
	media_setup
	mkdir "$W/spool"
	printf '\n[spool]\ndir = %s\n' "$W/spool" >>"$CONF"
}

# wait_until CONDITION: eval CONDITION every 0.05 s, for 60 s at most.
wait_until() {
	local i
	for i in $(seq 1200); do
		eval "$1" && return 0
		sleep 0.05
	done
	fail "timed out waiting for: $1"
}

# blocked_out CMD...: CMD in the background, its stdout a pipe that a
# reader holds open and never reads: it stops once the pipe is full.
# $PID is CMD's; its stderr goes to $W/err.N, N counting from 1.
NBLOCKED=0
blocked_out() {
	NBLOCKED=$((NBLOCKED + 1))
	mkfifo "$W/fifo.$NBLOCKED"
	sleep 600 <"$W/fifo.$NBLOCKED" >/dev/null 2>&1 3>&- &
	bg_started $!
	"$@" >"$W/fifo.$NBLOCKED" 2>"$W/err.$NBLOCKED" 3>&- &
	PID=$!
	bg_started "$PID"
}

# blocked_in CMD...: the same with CMD's stdin a pipe held open by a
# writer that never writes.
blocked_in() {
	NBLOCKED=$((NBLOCKED + 1))
	mkfifo "$W/fifo.$NBLOCKED"
	sleep 600 >"$W/fifo.$NBLOCKED" 2>/dev/null 3>&- &
	bg_started $!
	"$@" <"$W/fifo.$NBLOCKED" >/dev/null 2>"$W/err.$NBLOCKED" 3>&- &
	PID=$!
	bg_started "$PID"
}

# killed PID: kill -9 and reap it (a zombie's pid would still be taken).
killed() {
	kill -9 "$1"
	wait "$1" 2>/dev/null || true
}

# mode_is MODE PATH...
mode_is() {
	local m=$1 f
	shift
	for f in "$@"; do
		[ "$(stat -c %a "$f")" = "$m" ] ||
		    fail "$f has mode $(stat -c %a "$f"), not $m"
	done
}

# The problem line gb-catalog check prints for a stale temporary path.
stale_line() {
	echo "temporary $1 $2: left by process $3, which did not finish; remove it"
}

# ------------------------------------------------------------- item 5

# member_values DB: names, phone and card numbers of some members, one a
# line: what a file holding member data in plain text would show.
member_values() {
	sqlite3 "$1" "SELECT name, phone, card_no FROM members WHERE phone <> ''
	    AND id % 997 = 1 LIMIT 4" | tr '|' '\n'
}

@test "kill -9 of gb-export: its spool stays in \$TMPDIR/gb-export.PID.*, encrypted: no member's name, phone or card number in it; check reports it; the next gb-export removes it and keeps only its own" {
	gb-export -s "sqlite:$FX/gym.db" -o "$W/set"
	blocked_out gb-export -s "sqlite:$FX/gym.db"
	local dead=$PID dir f v
	# MANIFEST is written last: every table's CSV is in the work directory
	wait_until '[ -n "$(compgen -G "$TMPDIR/gb-export.*/MANIFEST")" ]'
	dir=$(compgen -G "$TMPDIR/gb-export.*")
	[[ $dir =~ ^$TMPDIR/gb-export\.$dead\.[A-Za-z0-9]{6}$ ]] ||
	    fail "work directory $dir is not gb-export.$dead.XXXXXX"
	killed "$dead"

	# the spool is still there, as big as the export set, but unreadable
	mode_is 700 "$dir"
	assert_equal "$(ls "$dir" | paste -sd' ')" "MANIFEST SCHEMA.sql checkins.csv \
consumptions.csv members.csv promotion_participations.csv promotions.csv \
recharges.csv stores.csv"
	for f in "$W"/set/*; do
		assert_equal "$(stat -c %s "$dir/${f##*/}")" "$(stat -c %s "$f")"
	done
	[ "$(member_values "$FX/gym.db" | wc -l)" -ge 8 ] || fail "too few values"
	while IFS= read -r v; do
		grep -qaF -- "$v" "$W/set/members.csv" || fail "$v is not in the export"
		! grep -rlaF -- "$v" "$dir" || fail "$v is in the spool"
	done < <(member_values "$FX/gym.db")
	for v in card_no,name 'CREATE TABLE' '"members"'; do
		! grep -rlaF -- "$v" "$dir" || fail "$v is in the spool"
	done
	cp "$dir/members.csv" "$W/left.csv"

	run -1 gb-catalog check
	assert_line "$(stale_line directory "$dir" "$dead")"
	assert_equal "$(grep -c '^temporary ' <<<"$output")" 1

	# the next export removes it, says so, and has only its own
	blocked_out gb-export -s "sqlite:$FX/gym.db"
	local next=$PID
	wait_until '[ -n "$(compgen -G "$TMPDIR/gb-export.$next.*/MANIFEST")" ]'
	[ ! -e "$dir" ] || fail "$dir is still there"
	assert_equal "$(ls -A "$TMPDIR")" "$(basename "$TMPDIR"/gb-export.$next.*)"
	assert_equal "$(cat "$W/err.2")" \
	    "gb-export: removed $dir, left by process $dead, which did not finish"
	# the same rows under another key: other bytes
	assert_equal "$(stat -c %s "$TMPDIR"/gb-export.$next.*/members.csv)" \
	    "$(stat -c %s "$W/left.csv")"
	! cmp -s "$W/left.csv" "$TMPDIR"/gb-export.$next.*/members.csv ||
	    fail "two runs spooled the same bytes"
	# a live one is not stale
	run -1 gb-catalog check
	refute_line --partial "temporary "
	kill -TERM "$next"
	wait "$next" 2>/dev/null || true
	assert_tmpdir_empty
}

# A spool file altered between its write and its read-back (by another
# process of the backup user in the 0700 work directory, or the disk):
# the stream is held up by a reader that does not read, the file is
# altered, then the stream is read.  Recharges.csv comes after 5 MB of
# the stream, more than the pipe and gb-export's buffers hold.
@test "gb-export: a spool file changed or cut short before it is streamed fails the export with exit 3, naming it; the stream stops before its bytes; nothing is left" {
	gb-export -s "sqlite:$FX/gym.db" -o "$W/set"
	local how dir st n=0
	for how in flip cut; do
		blocked_out gb-export -s "sqlite:$FX/gym.db"
		n=$NBLOCKED
		wait_until '[ -n "$(compgen -G "$TMPDIR/gb-export.$PID.*/MANIFEST")" ]'
		dir=$(compgen -G "$TMPDIR/gb-export.$PID.*")
		if [ $how = flip ]; then
			printf 'X' | dd of="$dir/recharges.csv" bs=1 seek=100000 \
			    conv=notrunc status=none
		else
			truncate -s 1000 "$dir/recharges.csv"
		fi
		cat "$W/fifo.$n" >"$W/out.$n"
		st=0
		wait "$PID" || st=$?
		assert_equal "$st" 3
		assert_equal "$(cat "$W/err.$n")" "gb-export: cannot read back \
$dir/recharges.csv: the spool file is not what was written (its MiB at \
byte 0 fails its check): something altered it in $dir"
		assert_tmpdir_empty
		# the tables before it, as far as the last full tar block
		# went out; not one byte of it
		mkdir "$W/x.$n"
		run tar -xf "$W/out.$n" -C "$W/x.$n"
		assert_failure
		for f in SCHEMA.sql checkins.csv consumptions.csv members.csv; do
			cmp "$W/set/$f" "$W/x.$n/$f" || fail "$f differs"
		done
		for f in "$W/x.$n"/*.csv; do
			cmp -s -n "$(stat -c %s "$f")" "$f" "$W/set/${f##*/}" ||
			    fail "${f##*/} is not what the export has"
		done
		[ ! -s "$W/x.$n/recharges.csv" ] || fail "recharges.csv streamed"
		[ ! -e "$W/x.$n/stores.csv" ] || fail "stores.csv streamed"
	done
}

@test "a gb-export beside a live one leaves it alone; -o DIR removes a killed stream export's plaintext too" {
	blocked_out gb-export -s "sqlite:$FX/gym.db"
	local a=$PID b
	wait_until '[ -n "$(compgen -G "$TMPDIR/gb-export.$a.*/MANIFEST")" ]'
	blocked_out gb-export -s "sqlite:$FX/gym.db"
	b=$PID
	wait_until '[ -n "$(compgen -G "$TMPDIR/gb-export.$b.*/MANIFEST")" ]'
	assert_equal "$(ls -A "$TMPDIR" | sed 's/\.[^.]*$//' | sort | paste -sd' ')" \
	    "$(printf 'gb-export.%s\n' "$a" "$b" | sort | paste -sd' ')"
	assert_equal "$(cat "$W/err.2")" ""
	killed "$a"
	local dir
	dir=$(compgen -G "$TMPDIR/gb-export.$a.*")
	run -0 gb-export -s "sqlite:$FX/gym.db" -t stores -o out
	assert_output "gb-export: removed $dir, left by process $a, which did not finish"
	[ -d "$(compgen -G "$TMPDIR/gb-export.$b.*")" ] || fail "the live one went"
	kill -TERM "$b"
	wait "$b" 2>/dev/null || true
	assert_tmpdir_empty
	assert_equal "$(ls out | paste -sd' ')" "MANIFEST SCHEMA.sql stores.csv"
}

@test "kill -9 of gb-restore --test: scratch.db is 0600 in a 0700 directory; check reports it; the next gb-restore removes it" {
	blocked_out env GNUPGHOME="$KEYS/restore" gb-restore --signer "$SIGNER" \
	    --test "$FX/spool/wide.tar.gz.gpg"
	local dead=$PID dir db
	# loaded (its output is stuck in the pipe, or about to be)
	wait_until '[ -n "$(compgen -G "$TMPDIR/gb-restore.*/scratch.db")" ] &&
	    [ -s "$(compgen -G "$TMPDIR/gb-restore.*/scratch.db")" ]'
	db=$(compgen -G "$TMPDIR/gb-restore.*/scratch.db")
	mode_is 600 "$db"
	dir=${db%/scratch.db}
	[[ $dir =~ ^$TMPDIR/gb-restore\.$dead\.[A-Za-z0-9]{6}$ ]] ||
	    fail "scratch directory $dir is not gb-restore.$dead.XXXXXX"
	mode_is 700 "$dir"
	wait_until '[ "$(sqlite3 "$db" "SELECT count(*) FROM sqlite_schema" 2>/dev/null)" = 250 ]'
	killed "$dead"
	# the plaintext stays, still 0600, journal or not
	assert_equal "$(sqlite3 "$db" "SELECT v FROM w123_$(printf 'x%.0s' {1..230}) WHERE id = 7")" \
	    "member 7 of 123"
	for f in "$dir"/*; do
		mode_is 600 "$f"
	done

	run -1 gb-catalog check
	assert_line "$(stale_line directory "$dir" "$dead")"

	run -0 env GNUPGHOME="$KEYS/restore" gb-restore --signer "$SIGNER" \
	    --test "$FX/spool/wide.tar.gz.gpg"
	assert_line "gb-restore: removed $dir, left by process $dead, which did not finish"
	assert_line "restore test: 1 archive, OK"
	assert_tmpdir_empty
}

@test "gb-restore --test stopped by TERM, INT or HUP mid-load: its scratch directory and everything SQLite made in it are removed" {
	local sig
	for sig in TERM INT HUP; do
		blocked_out env GNUPGHOME="$KEYS/restore" gb-restore --signer "$SIGNER" \
		    --test "$FX/spool/wide.tar.gz.gpg"
		wait_until '[ -s "$(compgen -G "$TMPDIR/gb-restore.*/scratch.db")" ]'
		kill -"$sig" "$PID"
		local st=0
		wait "$PID" || st=$?
		[ "$st" = $((128 + $(kill -l "$sig"))) ] || fail "$sig: exit $st: $(cat "$W/err.$NBLOCKED")"
		assert_tmpdir_empty
	done
}

@test "kill -9 of gb-seal: PATH.tmp.PID.* stay in the spool and on a medium; check reports each; the next writer of the path removes them" {
	mkdir usb
	gb-write --label U1 --pool daily "$W/usb" >/dev/null 2>&1
	blocked_in gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o "$W/spool/a"
	local s=$PID
	blocked_in gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o "$W/usb/a"
	local u=$PID
	wait_until '[ "$(ls spool usb | grep -c "\.tmp\.")" = 4 ]'
	killed "$s"
	killed "$u"
	local f pid
	for f in spool/a.tar.gz.gpg spool/a.seal usb/a.tar.gz.gpg usb/a.seal; do
		pid=$s
		[[ $f == usb/* ]] && pid=$u
		[[ $(compgen -G "$W/$f.tmp.*") =~ ^$W/$f\.tmp\.$pid\.[A-Za-z0-9]{6}$ ]] ||
		    fail "no $f.tmp.$pid.XXXXXX: $(ls -A spool usb)"
	done

	run -1 gb-catalog check
	for f in "$W"/spool/*.tmp.*; do
		assert_line "$(stale_line file "$f" "$s")"
	done
	for f in "$W"/usb/*.tmp.*; do
		assert_line "$(stale_line file "$f" "$u")"
	done
	assert_equal "$(grep -c '^temporary ' <<<"$output")" 4

	# the next gb-seal of spool/a removes both of its path's
	local old=("$W"/spool/*.tmp.*)
	run -0 gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o "$W/spool/a" \
	    <"$FX/wide.tar.gz"
	for f in "${old[@]}"; do
		assert_line "gb-seal: removed $f, left by process $s, which did not finish"
	done
	assert_equal "$(ls -A spool | paste -sd' ')" "a.seal a.tar.gz.gpg"
	run -0 gb-verify "$W/spool/a.seal"
	# and gb-write of a to the medium, those on it
	run -0 gb-write "$W/usb" "$W/spool/a"
	assert_equal "$(ls -A usb | paste -sd' ')" \
	    "GYMBACKUP.CHECKPOINT GYMBACKUP.INDEX GYMBACKUP.LABEL a.seal a.tar.gz.gpg"
	cmp usb/a.tar.gz.gpg spool/a.tar.gz.gpg
	run -1 gb-catalog check
	refute_line --partial "temporary "
}

# ------------------------------------------------------------- item 9

# lim CMD...: CMD with at most 256 open files.
lim() {
	(ulimit -n 256 && exec "$@")
}

@test "2,000 tables (hostile names among them) with 256 file descriptors: export, pack, seal, verify --deep, restore: every table and row back" {
	local db=$FX/many.db
	lim gb-export -s "sqlite:$db" >many.tar 2>err ||
	    fail "gb-export failed: $(cat err)"
	assert_equal "$(tar tf many.tar | wc -l)" 2002
	lim gb-pack - <many.tar >many.tar.gz 2>err || fail "gb-pack failed: $(cat err)"
	run -0 lim gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o "$W/spool/many" \
	    <many.tar.gz
	run -0 lim env GNUPGHOME="$KEYS/restore" gb-verify --deep \
	    --signer "$SIGNER" "$W/spool/many.seal"
	assert_line "many.tar.gz.gpg: OK (deep)"
	run -0 lim env GNUPGHOME="$KEYS/restore" gb-restore --signer "$SIGNER" \
	    -d "sqlite:$W/r.db" "$W/spool/many.tar.gz.gpg"
	assert_equal "$(sqlite3 r.db "SELECT count(*) FROM sqlite_schema")" 2000
	db_dump "$db" >src.dump
	db_dump r.db >dst.dump
	assert_equal "$(grep -c '^ ' dst.dump)" 6000
	diff src.dump dst.dump || fail "the restored database differs"
	grep -q "^b'new\\\\nline' " dst.dump || fail "table 'new\\nline' missing"
	assert_tmpdir_empty
}
