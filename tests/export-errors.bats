#!/usr/bin/env bats
# gb-export failures: each one exits with the spec's status, names the thing
# that failed, and leaves no DIR, no DIR.tmp.* and nothing in $TMPDIR.

load helper

# ------------------------------------------------------------- the source

@test "missing database: exit 3 naming it; no database is created" {
	run gb-export -s "sqlite:$W/nope.db" -o out
	assert_failure 3
	assert_output --partial "nope.db"
	[ ! -e nope.db ] || fail "gb-export created nope.db"
	assert_clean out
	run gb_stream s.tar -s "sqlite:$W/nope.db"
	assert_failure 3
	assert_output --partial "nope.db"
	[ ! -e nope.db ] || fail "gb-export created nope.db"
	assert_tmpdir_empty
}

@test "unreadable database (a directory in its place): exit 3 naming it" {
	mkdir dir.db
	run gb-export -s "sqlite:$W/dir.db" -o out
	assert_failure 3
	assert_output --partial "dir.db"
	assert_clean out
	assert_equal "$(ls -A dir.db)" ""
	run gb_stream s.tar -s "sqlite:$W/dir.db"
	assert_failure 3
	assert_output --partial "dir.db"
	assert_tmpdir_empty
}

@test "unreadable database (chmod 000, run as an unprivileged user): exit 3 naming it" {
	make_gym_db gym.db
	chmod 000 gym.db
	mkdir -m 0777 nb
	chmod 0777 "$TMPDIR"
	if [ "$(id -u)" = 0 ]; then
		command -v setpriv >/dev/null || skip "setpriv not installed"
		nobody_reaches_w
		run setpriv --reuid=65534 --regid=65534 --clear-groups \
		    "$TOP/bin/gb-export" -s "sqlite:$W/gym.db" -o "$W/nb/out"
	else
		run gb-export -s "sqlite:$W/gym.db" -o "$W/nb/out"
	fi
	assert_failure 3
	assert_output --partial "gym.db"
	assert_clean nb/out
	assert_equal "$(ls -A nb)" ""
}

@test "not a database (random bytes): exit 3 naming it; the file is untouched" {
	head -c 8192 /dev/urandom >junk.db
	local sum
	sum=$(sha256sum <junk.db)
	run gb-export -s "sqlite:$W/junk.db" -o out
	assert_failure 3
	assert_output --partial "junk.db"
	assert_clean out
	assert_equal "$(sha256sum <junk.db)" "$sum"
	assert_equal "$(ls -A | paste -sd' ')" "junk.db"
}

@test "locked beyond -w 1: exit 3 after about a second, message says locked" {
	sqlite3 lock.db "CREATE TABLE t(v); INSERT INTO t VALUES (1)"
	hold_lock lock.db 20
	local t0 t1
	t0=$(now)
	run gb-export -w 1 -s "sqlite:$W/lock.db" -o out
	t1=$(now)
	touch release
	wait "$HOLD_PID"
	assert_failure 3
	assert_output --partial "locked"
	assert_output --partial "lock.db"
	assert_output --regexp "waited 1 ?s"
	awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 0.9 && b - a < 10) }' ||
	    fail "gave up after $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s, not about 1 s"
	assert_clean out
}

@test "locked beyond [source] busy_timeout (no -w): exit 3" {
	sqlite3 lock.db "CREATE TABLE t(v); INSERT INTO t VALUES (1)"
	printf '[source]\nuri = sqlite:%s\nbusy_timeout = 1\n' "$W/lock.db" >lock.conf
	hold_lock lock.db 20
	run gb_stream s.tar -c lock.conf
	touch release
	wait "$HOLD_PID"
	assert_failure 3
	assert_output --partial "locked"
	assert_output --regexp "waited 1 ?s"
	assert_tmpdir_empty
}

@test "a lock released within -w: the export waits and succeeds" {
	sqlite3 lock.db "CREATE TABLE t(v); INSERT INTO t VALUES (1)"
	hold_lock lock.db 1
	run gb-export -w 20 -s "sqlite:$W/lock.db" -o out
	wait "$HOLD_PID"
	assert_success
	# The export saw the committed update.
	assert_equal "$(sed -n 2p out/t.csv)" "2"
	verify_set out lock.db
}

# ---------------------------------------------------------- tables, config

@test "unknown table -t nosuch: exit 2 naming it" {
	make_gym_db gym.db
	run gb-export -s "sqlite:$W/gym.db" -t members -t nosuch -o out
	assert_failure 2
	assert_output --partial "nosuch"
	assert_clean out
	run gb_stream s.tar -s "sqlite:$W/gym.db" -t members -t nosuch
	assert_failure 2
	assert_output --partial "nosuch"
	assert_tmpdir_empty
}

@test "a watermark column that does not exist: exit 2 naming table and column" {
	make_gym_db gym.db
	write_gym_conf gym.conf "$W/gym.db"
	sed -i '/^\[table members\]/,/^\[/ s/^watermark = updated_at/watermark = changed_on/' gym.conf
	grep -q 'watermark = changed_on' gym.conf
	run gb-export -c gym.conf -o out
	assert_failure 2
	assert_output --partial "members"
	assert_output --partial "changed_on"
	assert_clean out
}

@test "a money column that does not exist: exit 2 naming table and column" {
	make_gym_db gym.db
	write_gym_conf gym.conf "$W/gym.db"
	sed -i 's/^money = amount,bonus/money = amount,bonsu/' gym.conf
	grep -q 'money = amount,bonsu' gym.conf
	run gb_stream s.tar -c gym.conf
	assert_failure 2
	assert_output --partial "recharges"
	assert_output --partial "bonsu"
	assert_tmpdir_empty
}

@test "a key column that does not exist: exit 2 naming table and column" {
	make_gym_db gym.db
	write_gym_conf gym.conf "$W/gym.db"
	sed -i '/^\[table stores\]/,/^\[/ s/^key = id/key = store_no/' gym.conf
	grep -q 'key = store_no' gym.conf
	run gb-export -c gym.conf -o out
	assert_failure 2
	assert_output --partial "stores"
	assert_output --partial "store_no"
	assert_clean out
}

@test "config file that does not exist (-c): exit 2 naming it" {
	make_gym_db gym.db
	run gb-export -c "$W/nosuch.conf" -s "sqlite:$W/gym.db" -o out
	assert_failure 2
	assert_output --partial "nosuch.conf"
	assert_clean out
}

# conf_case LINE TEXT: a config TEXT (printf format) must be refused with
# exit 2 and a message starting CONF:LINE.
conf_case() {
	make_gym_db gym.db
	printf "$2" >"$W/bad.conf"
	run gb-export -c "$W/bad.conf" -s "sqlite:$W/gym.db" -o out
	assert_failure 2
	assert_output --partial "bad.conf:$1:"
	assert_clean out
}

@test "malformed config: a line that is neither section, key = value nor comment" {
	conf_case 4 '# test\n[site]\nname = x\nthis is not a setting\n'
}

@test "malformed config: a key outside any section" {
	conf_case 2 '; comment\nname = x\n[site]\n'
}

@test "malformed config: a duplicate key in a section" {
	conf_case 4 '[table members]\nkey = id\nwatermark = updated_at\nkey = card_no\n'
}

@test "malformed config: an unknown key in a [table] section (typo)" {
	conf_case 3 '[table members]\nkey = id\nwatermrk = updated_at\n'
}

@test "malformed config: an unterminated section header" {
	conf_case 2 '[site]\n[table members\nkey = id\n'
}

@test "malformed config: a key = value line with an empty key" {
	conf_case 2 '[site]\n = x\n'
}

@test "config: comments, blank lines, trailing ; comments and unknown sections are fine" {
	make_gym_db gym.db
	cat >ok.conf <<-EOF
	# a comment
	; another comment

	[site]
	name = commented-site   ; trailing comment
	[spool]
	dir = /var/spool/gymbackup
	[job nightly]
	tables = members
	[table members]
	  key = id
	money = balance ; cents
	EOF
	run gb-export -c ok.conf -s "sqlite:$W/gym.db" -t members -o out
	assert_success
	assert_equal "$(mf out/MANIFEST site)" "commented-site"
}

# ------------------------------------------------------------ full disks

@test "full disk while writing -o DIR: exit 3, nothing left on the disk" {
	bulk_gym_db big.db 4000 4000 >/dev/null
	run_small_fs "$W/small" 256k gb-export -s "sqlite:$W/big.db" -o "$W/small/out"
	assert_equal "$status" 3
	assert_output --partial "small/out"
	assert_output --partial "No space left on device"
	assert_equal "$small_left" ""
	assert_tmpdir_empty
}

@test "full TMPDIR while spooling the stream: exit 3, TMPDIR left empty" {
	bulk_gym_db big.db 4000 4000 >/dev/null
	run_small_fs "$W/small" 256k env TMPDIR="$W/small" \
	    sh -c 'exec gb-export -s "sqlite:$1" >"$2"' sh "$W/big.db" "$W/s.tar"
	assert_equal "$status" 3
	assert_output --partial "No space left on device"
	assert_equal "$small_left" ""
	assert_tmpdir_empty
}

# ---------------------------------------------------------------- signals

# term_export PID TEST...: once TEST holds (within 5 s), SIGTERM the export
# PID and reap it; skip the test where it ended before either.
term_export() {
	local pid=$1 i seen= st=0
	shift
	bg_started "$pid"
	for i in $(seq 500); do
		if "$@" >/dev/null; then
			seen=1
			break
		fi
		sleep 0.01
	done
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" || st=$?
	[ -n "$seen" ] || skip "the export finished before it could be interrupted"
	[ "$st" -ne 0 ] || skip "the export finished before SIGTERM arrived"
}

tmpdir_used() {
	[ -n "$(ls -A "$TMPDIR")" ]
}

@test "SIGTERM during an export -o DIR leaves no DIR.tmp.*" {
	bulk_gym_db big.db 60000 150000 >/dev/null
	gb-export -s "sqlite:$W/big.db" -o out 3>&- &
	term_export $! compgen -G 'out.tmp.*/*.csv'
	assert_clean out
}

@test "SIGTERM during a stream export leaves nothing in TMPDIR" {
	bulk_gym_db big.db 60000 150000 >/dev/null
	gb-export -s "sqlite:$W/big.db" >/dev/null 3>&- &
	term_export $! tmpdir_used
	assert_tmpdir_empty
}
