#!/usr/bin/env bats
# gb-catalog on the auditor's read-only copy of the catalog: every reading
# command gives what it gives on the live catalog, and writing commands
# say which access they need.  Two real read-only views, both of which
# refuse root too or are not root: the copy's directory bind-mounted
# read-only in a mount namespace of its own (unshare -m as root, -rm
# otherwise), and the copy (mode 0400, in a 0500 directory) owned by and
# read as an unprivileged user (nobody through setpriv, when the tests
# run as root).  The copy is a WAL-mode catalog without its -shm file,
# as a copy is: SQLite cannot make one in a read-only directory.

load helper
load media-helper

setup_file() {
	media_setup_file
	make_gym_db "$FX/gym.db"
	write_gym_conf "$FX/gym.conf" "$FX/gym.db"
	export_seal "$FX/gym.db" "$FX/spool/f1" weekly -c "$FX/gym.conf" \
	    -t stores -t members
}

teardown_file() { media_teardown_file; }

teardown() {
	[ -z "${RO-}" ] || { chmod -R u+w "$RO"; rm -rf "$RO"; }
	media_teardown
}

SP=$BATS_FILE_TMPDIR/fx/spool
DATE=2030-01-15

# A catalog with a medium moved about, an archive and its copy, a run in
# the log and a manual restore test: something for every command.
make_catalog() {
	mkconf "$CONF" '[pool daily]
offsite = yes
offsite_days = 7

[job weekly]
schedule = 30 1 * * 0
pool = daily
media = u1'
	mkdir u1
	gb-write --label U1 --pool daily u1 >/dev/null 2>&1
	gb-write u1 "$SP/f1" >/dev/null
	gb-catalog move U1 --to offsite --by vault >/dev/null
	gb-catalog log end "$(gb-catalog log start weekly)" ok --archive \
	    f1.tar.gz.gpg --rows 5 --bytes 100 >/dev/null
	gb-catalog tested f1.tar.gz.gpg ok --detail drill 2>/dev/null
}

# The reading commands, one per line (word-split).
READING="media
media list
media show U1
archives
archives --job weekly
copies
copies f1.tar.gz.gpg
chain --at $DATE
due --date $DATE
check --date $DATE
check -v --date $DATE
report
report --csv
audit
audit --verify
log
log --csv
latest --job weekly
manifest f1.tar.gz.gpg"

# The writing commands: each needs write access.
WRITING="move U1 --to onsite
media add U9 --kind dir --pool daily
media retire U1
tested f1.tar.gz.gpg ok
log start weekly
expire --date $DATE"

# outputs CONF OUTDIR RUNNER...: each reading command with CONF run by
# RUNNER, its status and its output (stdout and stderr) in OUTDIR/N.
outputs() {
	local conf=$1 out=$2 n=0 c st
	shift 2
	mkdir -p "$out"
	while IFS= read -r c; do
		n=$((n + 1))
		st=0
		# shellcheck disable=SC2086
		"$@" gb-catalog -c "$conf" $c >"$out/$n" 2>&1 || st=$?
		echo "status $st" >>"$out/$n"
	done <<<"$READING"
}

# same_as_live OUTDIR: each output equals the live catalog's.
same_as_live() {
	local n=0 c
	while IFS= read -r c; do
		n=$((n + 1))
		diff -u "$W/live/$n" "$1/$n" >&2 ||
		    fail "gb-catalog $c on the read-only copy differs from the live catalog"
	done <<<"$READING"
	# it reads, and said something: not empty or failing alike
	grep -q "^status 0$" "$W/live/1" && grep -q "^U1 " "$W/live/1"
	grep -qx "format	gymbackup-manifest	1" "$1/19" || fail "manifest: $(cat "$1/19")"
	grep -q "^restore test: only one recorded by hand" "$1/10" ||
	    fail "check: $(cat "$1/10")"
}

@test "read-only mount: every reading command gives what it gives on the live catalog; writing ones name the catalog and the access they need" {
	make_catalog
	outputs "$CONF" "$W/live" env
	mkdir ro
	cp "$CAT" ro/catalog.db
	chmod 0400 ro/catalog.db
	sed "s|^path = .*|path = $W/ro/catalog.db|" "$CONF" >ro.conf
	# the mount is real: even root cannot write under it
	run in_ro_mount "$W/ro" touch "$W/ro/x"
	assert_failure
	assert_output --partial "Read-only file system"

	outputs "$W/ro.conf" "$W/out" in_ro_mount "$W/ro"
	same_as_live "$W/out"
	local c
	while IFS= read -r c; do
		# shellcheck disable=SC2086
		run in_ro_mount "$W/ro" gb-catalog -c "$W/ro.conf" $c
		assert_failure 3
		assert_output "gb-catalog: catalog $W/ro/catalog.db cannot be written (Read-only file system): gb-catalog needs write access to it and to its directory $W/ro, where SQLite keeps its -wal and -shm files (the commands of gb-catalog that only read need read access only)"
	done <<<"$WRITING"
	assert_equal "$(ls -A ro)" "catalog.db"
	cmp "$CAT" ro/catalog.db
}

@test "read-only mount: a catalog made before the 'manual' column of restore tests is read too; its tests count as real" {
	make_catalog
	mkdir ro
	cp "$CAT" ro/catalog.db
	sqlite3 ro/catalog.db "ALTER TABLE checks DROP COLUMN manual"
	chmod 0400 ro/catalog.db
	sed "s|^path = .*|path = $W/ro/catalog.db|" "$CONF" >ro.conf
	run in_ro_mount "$W/ro" gb-catalog -c "$W/ro.conf" check -v --date "$(day 0)"
	assert_success
	assert_output "OK: no problems"
	run -1 gb-catalog -c "$CONF" check --date "$(day 0)"
	assert_output --partial "restore test: only one recorded by hand"
}

@test "read-only mount: a copy whose -wal holds changes is refused (exit 3), never read as the older catalog" {
	make_catalog
	mkdir ro
	# a medium added in the -wal, copied while a writer still holds it
	python3 - "$CAT" "$W/ro" <<-'EOF'
	import shutil, socket, sqlite3, sys
	db = sqlite3.connect(sys.argv[1])
	db.execute("PRAGMA wal_autocheckpoint = 0")
	db.execute("INSERT INTO media(site, id, kind, pool, state, location, labelled_at) "
	           "VALUES(?, 'U2', 'dir', 'daily', 'usable', 'onsite', '2030-01-01T00:00:00Z')",
	           (socket.gethostname(),))
	db.commit()
	shutil.copy(sys.argv[1], sys.argv[2] + "/catalog.db")
	shutil.copy(sys.argv[1] + "-wal", sys.argv[2] + "/catalog.db-wal")
	db.close()
	EOF
	[ -s ro/catalog.db-wal ]
	[ "$(sqlite3 "$CAT" "SELECT count(*) FROM media WHERE id = 'U2'")" = 1 ]
	sed "s|^path = .*|path = $W/ro/catalog.db|" "$CONF" >ro.conf
	run in_ro_mount "$W/ro" gb-catalog -c "$W/ro.conf" media
	assert_failure 3
	assert_output "gb-catalog: catalog $W/ro/catalog.db: $W/ro/catalog.db-wal holds changes that cannot be read in a read-only directory without $W/ro/catalog.db-shm; copy the catalog with sqlite3 $W/ro/catalog.db '.backup COPY' (which takes them in) and read the copy"
	run in_ro_mount "$W/ro" gb-catalog -c "$W/ro.conf" check --date "$(day 0)"
	assert_failure 3
}

# as_reader CMD...: CMD as an unprivileged user: nobody when the tests run
# as root (root writes a 0400 file), else the user running them.
as_reader() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
	else
		"$@"
	fi
}

@test "unprivileged reader of a 0400 copy in a 0500 directory: every reading command as on the live catalog; writing ones name the access" {
	make_catalog
	outputs "$CONF" "$W/live" env
	# its own directory under /tmp: nobody cannot reach bats' directories
	RO=$(mktemp -d /tmp/gb-readonly.XXXXXX)
	mkdir "$RO/cat" "$RO/tmp"
	cp "$CAT" "$RO/cat/catalog.db"
	cp -r "$KEYS/backup" "$RO/gnupg"
	rm -f "$RO"/gnupg/S.*
	sed "s|^path = .*|path = $RO/cat/catalog.db|" "$CONF" >"$RO/gb.conf"
	[ "$(id -u)" != 0 ] || chown -R 65534:65534 "$RO"
	chmod 0755 "$RO"
	chmod 0400 "$RO/cat/catalog.db"
	chmod 0500 "$RO/cat"
	chmod 0444 "$RO/gb.conf"
	# the view is real: the reader cannot write there
	run as_reader touch "$RO/cat/x"
	assert_failure
	assert_output --partial "Permission denied"
	run as_reader sh -c "echo >>'$RO/cat/catalog.db'"
	assert_failure

	outputs "$RO/gb.conf" "$W/out" as_reader env GNUPGHOME="$RO/gnupg" \
	    TMPDIR="$RO/tmp"
	same_as_live "$W/out"
	local c
	while IFS= read -r c; do
		# shellcheck disable=SC2086
		run as_reader gb-catalog -c "$RO/gb.conf" $c
		assert_failure 3
		assert_output "gb-catalog: catalog $RO/cat/catalog.db cannot be written (Permission denied): gb-catalog needs write access to it and to its directory $RO/cat, where SQLite keeps its -wal and -shm files (the commands of gb-catalog that only read need read access only)"
	done <<<"$WRITING"
	assert_equal "$(ls -A "$RO/cat")" "catalog.db"
	cmp "$CAT" "$RO/cat/catalog.db"
}
