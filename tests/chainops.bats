#!/usr/bin/env bats
# A chain of gyms on one catalog on PostgreSQL (issue 15): three sites,
# each with its own config, spool, medium and catalog role, running their
# jobs at once in loops; then a site that loses the catalog server in
# the middle of a write, and catches up on its next run.
#
# The server is tests/pg.bash's throwaway cluster (skipped without a
# PostgreSQL server).  Independent checks: psql reads the catalog, python3
# recomputes each site's hash chain of the audit trail, sha256sum checks
# the media against the seals.

load helper
load archive-helper
load pg

setup_file() {
	archive_setup_file
	pg_start
	gb-demodata -s 1 -n 300 -o "$FX/gym.db"
}

teardown_file() {
	pg_stop
	archive_teardown_file
}

setup() {
	gb_setup
	export GNUPGHOME="$KEYS/backup"
}

teardown() {
	local p
	# a gb-write the shim stopped, if the test did not get to go on
	p=$(awk '$1 == "gb-write" && $6 == "stopafter" { print $2; exit }' \
	    "$W/fault.log" 2>/dev/null) || true
	[ -z "$p" ] || kill -KILL "$p" 2>/dev/null || true
	kill_agents_under "$BATS_TEST_TMPDIR"
	gb_teardown
	# a test that stopped the server leaves it running for the next
	(cd / && { as_pg "$PGBIN/pg_ctl" -D "$PGROOT/data" status >/dev/null 2>&1 ||
	    pg_server_start; })
}

# chain_db DB: an empty catalog database DB, its schema made by the
# catalog's owner (the cluster's superuser gb).
chain_db() {
	new_db "$1"
	cat >"$W/owner.conf" <<-EOF
	[site]
	name = head-office

	[catalog]
	uri = postgresql:///$1
	EOF
	gb-catalog -c "$W/owner.conf" upgrade >/dev/null
}

# site_role SITE DB: the login role of SITE's host, in the group of the
# site hosts, allowed to write SITE's rows only; its name printed.
site_role() {
	local role="host_$1"
	psqlc -d postgres -c "SET client_min_messages = warning" \
	    -c "DROP ROLE IF EXISTS $role" -c "CREATE ROLE $role LOGIN IN ROLE gb_site_host" >/dev/null
	gb-catalog -c "$W/owner.conf" site add "$1" "$role" >/dev/null
	echo "$role"
}

# site_conf SITE DB: SITE's host: $W/SITE/gb.conf (the gym's tables, the
# keys, the catalog DB as SITE's role, its own spool and medium D1 of pool
# daily, the job transactions-daily), its own copy of the gym.
site_conf() {
	site_host "$1" "uri = postgresql:///$2?user=$(site_role "$1" "$2")"
}

# site_host SITE CATALOG: site_conf's host, its [catalog] line CATALOG.
site_host() {
	local s=$1 d="$W/$1"
	mkdir -p "$d/spool" "$d/usb1"
	cp "$FX/gym.db" "$d/gym.db"
	write_gym_conf "$d/gb.conf" "$d/gym.db" "$s"
	sed -i '/^\[keys\]/,$d' "$d/gb.conf"
	cat >>"$d/gb.conf" <<-EOF
	[keys]
	signer = $SIGNER
	recipients = $RCPT1, $RCPT2

	[catalog]
	$2

	[spool]
	dir = $d/spool

	[pool daily]
	kind = dir
	retention_days = 35

	[job transactions-daily]
	schedule = 0 2 * * *
	tables = checkins, recharges
	level = full
	pool = daily
	media = $d/usb1
	EOF
	gb-write -c "$d/gb.conf" --label D1 --pool daily "$d/usb1" >/dev/null
}

# cq DB SQL: the catalog as its owner reads it.
cq() {
	psqlc -d "$1" -c "$2"
}

# audit_chain_ok DB SITE: SITE's hash chain of the audit trail, recomputed
# here (gb-catalog(1) AUDIT TRAIL: SHA-256 over each field as LEN:TEXT,
# prev, seq, at, actor, action, object, detail): its seq 1, 2, ... each
# prev the hash before it.  Prints the number of entries.
audit_chain_ok() {
	psql -X -q -At -F $'\x1f' -R $'\x1e' -d "$1" -v ON_ERROR_STOP=1 \
	    -c "SELECT seq, at, actor, action, object, detail, prev, hash FROM
	        audit WHERE site = '$2' ORDER BY seq" | "$PY" -c '
import hashlib, sys
data = sys.stdin.buffer.read().rstrip(b"\n")
prev, n = b"0", 0
for rec in data.split(b"\x1e") if data else []:
    seq, at, actor, action, obj, detail, p, h = rec.split(b"\x1f")
    n += 1
    if int(seq) != n:
        sys.exit("entry %d: seq %s" % (n, seq.decode()))
    if p != prev:
        sys.exit("entry %d: prev is not the hash before it" % n)
    m = hashlib.sha256()
    for f in (prev, seq, at, actor, action, obj, detail):
        m.update(b"%d:" % len(f) + f)
    if m.hexdigest().encode() != h:
        sys.exit("entry %d: hash does not match" % n)
    prev = h
print(n)'
}

# sealed_ok DIR ARCHIVE: DIR/ARCHIVE is what its seal beside it says, by
# gpg and sha256sum alone (the auditor's keyring: the signer's public key).
sealed_ok() {
	local seal="${2%.tar.gz.gpg}.seal"
	gpgk auditor --verify "$1/$seal" 2>/dev/null &&
	    (cd "$1" && grep "  $2\$" "$seal" | sha256sum -c --quiet)
}

# backup_loop SITE UNTIL: gb-backup of the site's job, run after run until
# SECONDS reaches UNTIL; each exit status a line in $W/SITE/backups.
backup_loop() {
	local d="$W/$1" st
	while [ "$SECONDS" -lt "$2" ]; do
		st=0
		gb-backup -c "$d/gb.conf" transactions-daily >>"$d/backup.out" 2>&1 || st=$?
		echo "$st" >>"$d/backups"
	done
}

# desk_loop SITE UNTIL: what else a site's host writes, over and over: a
# run logged by hand, a medium registered and sent offsite.  Each round
# that did all four a line "ok N" in $W/SITE/rounds.
desk_loop() {
	local d="$W/$1" n=0 id
	while [ "$SECONDS" -lt "$2" ]; do
		n=$((n + 1))
		id=$(gb-catalog -c "$d/gb.conf" log start desk 2>>"$d/desk.err") &&
		    gb-catalog -c "$d/gb.conf" media add "U$n" --kind dir --pool daily 2>>"$d/desk.err" &&
		    gb-catalog -c "$d/gb.conf" move "U$n" --to offsite --why rotation >/dev/null 2>>"$d/desk.err" &&
		    gb-catalog -c "$d/gb.conf" log end "$id" ok 2>>"$d/desk.err" &&
		    echo "ok $n" >>"$d/rounds" || echo "failed $n" >>"$d/rounds"
	done
}

@test "three sites, each its own config and role, run their jobs at once for 25 s: each site's trail verifies, every run is logged once, none left running" {
	chain_db chain
	for s in north east south; do
		site_conf "$s" chain
	done
	local until=$((SECONDS + 25)) pids=()
	for s in north east south; do
		backup_loop "$s" "$until" &
		pids+=($!)
		desk_loop "$s" "$until" &
		pids+=($!)
	done
	bg_started "${pids[@]}"
	for p in "${pids[@]}"; do
		wait "$p"
	done
	for s in north east south; do
		d="$W/$s"
		# every run of every loop succeeded, and there were some of each
		[ -s "$d/backups" ] && [ -s "$d/rounds" ] || fail "$s did nothing"
		if grep -qv '^0$' "$d/backups"; then
			fail "$s: gb-backup failed: $(cat "$d/backups" "$d/backup.out")"
		fi
		if grep -q '^failed' "$d/rounds"; then
			fail "$s: a desk round failed: $(cat "$d/desk.err")"
		fi
		nb=$(wc -l <"$d/backups")
		nd=$(wc -l <"$d/rounds")
		echo "# $s: $nb backups, $nd desk rounds" >&3
		# the catalog holds exactly what the loops did, in the site's rows
		assert_equal "$(cq chain "SELECT count(*) FROM runs WHERE site = '$s' AND job = 'transactions-daily' AND status = 'ok'")" "$nb"
		assert_equal "$(cq chain "SELECT count(*) FROM runs WHERE site = '$s' AND job = 'desk' AND status = 'ok'")" "$nd"
		assert_equal "$(cq chain "SELECT count(*) FROM runs WHERE site = '$s'")" $((nb + nd))
		assert_equal "$(cq chain "SELECT count(*) FROM archives WHERE site = '$s'")" "$nb"
		assert_equal "$(cq chain "SELECT count(*) FROM copies WHERE site = '$s' AND medium = 'D1' AND status = 'good' AND verified_at IS NOT NULL")" "$nb"
		assert_equal "$(cq chain "SELECT count(*) FROM media WHERE site = '$s' AND id LIKE 'U%' AND location = 'offsite'")" "$nd"
		assert_equal "$(cq chain "SELECT count(*) FROM movements WHERE site = '$s' AND to_loc = 'offsite'")" "$nd"
		assert_equal "$(cq chain "SELECT count(*) FROM audit WHERE site = '$s' AND action = 'move'")" "$nd"
		assert_equal "$(cq chain "SELECT count(*) FROM audit WHERE site = '$s' AND action = 'label'")" $((nd + 1))
		assert_equal "$(cq chain "SELECT count(*) FROM audit WHERE site = '$s' AND action = 'archive'")" "$nb"
		assert_equal "$(cq chain "SELECT count(*) FROM audit WHERE site = '$s' AND action = 'write'")" "$nb"
		assert_equal "$(cq chain "SELECT count(*) FROM audit WHERE site = '$s' AND action = 'verify'")" "$nb"
		# the site's chain is whole: as gb-catalog sees it, and recomputed
		run gb-catalog -c "$d/gb.conf" audit --verify
		assert_success
		n=$(audit_chain_ok chain "$s") || fail "$s: $n"
		assert_equal "$n" "$(cq chain "SELECT count(*) FROM audit WHERE site = '$s'")"
		# the site added, D1 labelled; per desk round a medium labelled
		# and moved; per backup its archive, its copy written and its
		# verification
		assert_equal "$(cq chain "SELECT action FROM audit WHERE site = '$s' AND seq = 1")" site
		assert_equal "$n" $((2 + 2 * nd + 3 * nb))
		# the archives on the medium are those the catalog calls good
		for a in $(cq chain "SELECT archive FROM copies WHERE site = '$s' AND status = 'good'"); do
			sealed_ok "$d/usb1" "$a" || fail "$s: $a on D1 does not match its seal"
		done
		assert_equal "$(spool_files "$d/spool")" ""
	done
	assert_equal "$(cq chain "SELECT count(*) FROM runs WHERE status <> 'ok' OR ended IS NULL")" 0
	# three media called D1, one per site
	assert_equal "$(cq chain "SELECT string_agg(site, ' ' ORDER BY site) FROM media WHERE id = 'D1'")" "east north south"
}

# server_cut: the server stopped as in a crash (pg_ctl stop -m immediate)
# once what was committed is on disk: the test cluster commits without
# waiting for the WAL (synchronous_commit off), which a crash may lose.
server_cut() {
	psqlc -d postgres -c CHECKPOINT
	(cd / && as_pg "$PGBIN/pg_ctl" -D "$PGROOT/data" -m immediate -w stop >/dev/null)
}

# spool_files DIR: the files in the spool, sorted, on one line (not its
# directories state and checkpoints, gb-backup(1) FILES).
spool_files() {
	find "$1" -mindepth 1 -maxdepth 1 -type f -printf '%f\n' | sort | tr '\n' ' '
}

# stopped_writer LOG: the pid of the gb-write that faultinject stopped
# (its line in GB_FAULT_LOG), once it is stopped.
stopped_writer() {
	local pid="" i
	for ((i = 0; i < 600; i++)); do
		pid=$(awk '$1 == "gb-write" && $6 == "stopafter" { print $2; exit }' "$1" 2>/dev/null)
		if [ -n "$pid" ] && [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = T ]; then
			echo "$pid"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

@test "the server stopped while a site's gb-backup writes: exit 3 naming the catalog, spool kept, nothing good that is not; the next run catches up the record" {
	chain_db cut
	site_conf north cut
	d="$W/north"
	# gb-write stops once the archive is in place on the medium, before
	# it records the copy good; then the server goes down
	faulty "stopafter:rename:1" GB_FAULT_PROG=gb-write GB_FAULT_PATH="$d/usb1" \
	    GB_FAULT_LOG="$W/fault.log" \
	    gb-backup -c "$d/gb.conf" transactions-daily >"$W/bk.out" 2>&1 3>&- &
	bk=$!
	bg_started "$bk"
	pid=$(stopped_writer "$W/fault.log") || fail "gb-write did not stop: $(cat "$W/bk.out")"
	server_cut
	kill -CONT "$pid"
	st=0
	wait "$bk" || st=$?
	run cat "$W/bk.out"
	assert_equal "$st" 3
	assert_line --regexp "^gb-backup: transactions-daily: write failed: $d/usb1: catalog postgresql:///cut\?user=host_north: .+"
	assert_line "gb-backup: transactions-daily: could not log the failure of run 1 in the catalog"
	assert_line "gb-backup: transactions-daily: the sealed archive stays in the spool: $d/spool/$(ls "$d/spool" | sed -n 's/\.seal$//p').tar.gz.gpg and $d/spool/$(ls "$d/spool" | sed -n 's/\.seal$//p').seal; the next run of transactions-daily writes it and catches up its record in the catalog"
	# the sealed archive is whole in the spool, with the note of its run
	name=$(ls "$d/spool" | sed -n 's/\.seal$//p')
	[[ $name == north-transactions-daily-*Z ]] || fail "spool: $(ls -A "$d/spool")"
	assert_equal "$(spool_files "$d/spool")" "$name.catchup $name.seal $name.tar.gz.gpg "
	sealed_ok "$d/spool" "$name.tar.gz.gpg" || fail "the spool copy does not match its seal"
	assert_equal "$(sed -n 's/^run\t//p' "$d/spool/$name.catchup")" 1
	left=$(find "$d/spool" "$d/usb1" -name '*.tmp.*')
	[ -z "$left" ] || fail "temporary files left: $left"

	# the server back: nothing is recorded good that is not
	(cd / && pg_server_start)
	assert_equal "$(cq cut "SELECT status, ended IS NULL FROM runs")" "running|t"
	assert_equal "$(cq cut "SELECT count(*) FROM copies WHERE status = 'good'")" 0
	assert_equal "$(cq cut "SELECT status FROM copies WHERE archive = '$name.tar.gz.gpg'")" "writing"

	# the next run writes the archive, logs run 1 failed, then does its own
	run gb-backup -c "$d/gb.conf" transactions-daily
	assert_success
	assert_output "gb-backup: transactions-daily: caught up run 1: $name.tar.gz.gpg, left in the spool when the catalog was lost, is on D1 ($d/usb1); run 1 logged failed"
	assert_equal "$(cq cut "SELECT id, status FROM runs ORDER BY id" | tr '\n' ' ')" "1|failed 2|ok "
	[[ $(cq cut "SELECT error FROM runs WHERE id = 1") == "write: $d/usb1: catalog postgresql:///cut?user=host_north: "*"; spool kept: $d/spool/$name.tar.gz.gpg and $name.seal; the catalog was lost: caught up by the next run, written to D1 ($d/usb1)" ]] ||
	    fail "run 1: $(cq cut "SELECT error FROM runs WHERE id = 1")"
	assert_equal "$(cq cut "SELECT archive FROM runs WHERE id = 1")" "$name.tar.gz.gpg"
	# one copy of it, the one left 'writing', finished: good and verified
	assert_equal "$(cq cut "SELECT status, verified_at IS NOT NULL FROM copies WHERE archive = '$name.tar.gz.gpg'")" "good|t"
	assert_equal "$(cq cut "SELECT count(*) FROM checks WHERE archive = '$name.tar.gz.gpg' AND ok = 1")" 1
	second=$(cq cut "SELECT archive FROM runs WHERE id = 2")
	assert_equal "$(cq cut "SELECT count(*) FROM copies WHERE archive = '$second' AND status = 'good'")" 1
	for a in "$name.tar.gz.gpg" "$second"; do
		sealed_ok "$d/usb1" "$a" || fail "$a on D1 does not match its seal"
	done
	assert_equal "$(spool_files "$d/spool")" ""
	run gb-catalog -c "$d/gb.conf" audit --verify
	assert_success
	audit_chain_ok cut north >/dev/null || fail "the trail of north is broken"
}

@test "the server down when a run starts: exit 3, the run cannot be logged, nothing sealed; a run left by a lost catalog is not taken for a killed one" {
	chain_db down
	site_conf north down
	d="$W/north"
	server_cut
	run gb-backup -c "$d/gb.conf" transactions-daily
	assert_failure 3
	assert_output --regexp "^gb-backup: transactions-daily: cannot log the run in the catalog: catalog postgresql:///down\?user=host_north: .+"
	assert_equal "$(spool_files "$d/spool")" ""
	(cd / && pg_server_start)
	assert_equal "$(cq down "SELECT count(*) FROM runs")" 0
	run gb-backup -c "$d/gb.conf" transactions-daily
	assert_success
	assert_output ""
	assert_equal "$(cq down "SELECT status FROM runs")" "ok"
}

@test "SQLite: the catalog locked past its timeout while gb-backup writes: exit 3, spool kept with its note; the next run catches up, one copy" {
	site_host north "path = $W/catalog.db"
	d="$W/north"
	export GB_CATALOG_TIMEOUT=1
	sqlite3 "$W/catalog.db" "CREATE TABLE t(v); INSERT INTO t VALUES (0)"
	faulty "stopafter:rename:1" GB_FAULT_PROG=gb-write GB_FAULT_PATH="$d/usb1" \
	    GB_FAULT_LOG="$W/fault.log" \
	    gb-backup -c "$d/gb.conf" transactions-daily >"$W/bk.out" 2>&1 3>&- &
	bk=$!
	bg_started "$bk"
	pid=$(stopped_writer "$W/fault.log") || fail "gb-write did not stop: $(cat "$W/bk.out")"
	hold_lock "$W/catalog.db" 60 wal
	kill -CONT "$pid"
	st=0
	wait "$bk" || st=$?
	touch "$W/release"
	wait "$HOLD_PID"
	run cat "$W/bk.out"
	assert_equal "$st" 3
	name=$(ls "$d/spool" | sed -n 's/\.seal$//p')
	assert_line --regexp "^gb-backup: transactions-daily: write failed: $d/usb1: catalog $W/catalog.db: .*locked"
	assert_line "gb-backup: transactions-daily: could not log the failure of run 1 in the catalog"
	assert_line "gb-backup: transactions-daily: the sealed archive stays in the spool: $d/spool/$name.tar.gz.gpg and $d/spool/$name.seal; the next run of transactions-daily writes it and catches up its record in the catalog"
	assert_equal "$(spool_files "$d/spool")" "$name.catchup $name.seal $name.tar.gz.gpg "
	assert_equal "$(sql "$W/catalog.db" "SELECT status FROM runs")" running
	assert_equal "$(sql "$W/catalog.db" "SELECT status FROM copies")" writing

	run gb-backup -c "$d/gb.conf" transactions-daily
	assert_success
	assert_output "gb-backup: transactions-daily: caught up run 1: $name.tar.gz.gpg, left in the spool when the catalog was lost, is on D1 ($d/usb1); run 1 logged failed"
	assert_equal "$(sql "$W/catalog.db" "SELECT id, status, archive FROM runs ORDER BY id" | tr '\n' ' ')" \
	    "1|failed|$name.tar.gz.gpg 2|ok|$(sql "$W/catalog.db" "SELECT archive FROM runs WHERE id = 2") "
	[[ $(sql "$W/catalog.db" "SELECT error FROM runs WHERE id = 1") == "write: $d/usb1: catalog $W/catalog.db: "*"; the catalog was lost: caught up by the next run, written to D1 ($d/usb1)" ]] ||
	    fail "run 1: $(sql "$W/catalog.db" "SELECT error FROM runs WHERE id = 1")"
	assert_equal "$(sql "$W/catalog.db" "SELECT status, verified_at IS NOT NULL FROM copies WHERE archive = '$name.tar.gz.gpg'")" "good|1"
	sealed_ok "$d/usb1" "$name.tar.gz.gpg" || fail "$name on D1 does not match its seal"
	assert_equal "$(spool_files "$d/spool")" ""
	gb-catalog -c "$d/gb.conf" audit --verify >/dev/null
}

# left_again D NAME RUN: NAME's archive and seal back in D's spool, from
# its medium, with a note naming run RUN, as a run that lost the catalog
# leaves them.
left_again() {
	cp "$1/usb1/$2.tar.gz.gpg" "$1/usb1/$2.seal" "$1/spool/"
	printf 'run\t%s\nstatus\tfailed\nerror\twrite: the catalog was lost\nrows\t\nbytes\t\n' "$3" \
	    >"$1/spool/$2.catchup"
}

@test "SQLite: catch-up follows a note only for a run of its job and site left without its archive, and writes no second copy of an archive the catalog has good" {
	site_host north "path = $W/catalog.db"
	d="$W/north"
	run -0 gb-backup -c "$d/gb.conf" transactions-daily
	a=$(sql "$W/catalog.db" "SELECT archive FROM runs WHERE id = 1")
	name=${a%.tar.gz.gpg}
	copies() { sql "$W/catalog.db" "SELECT count(*) FROM copies WHERE archive = '$a'"; }
	assert_equal "$(copies)" 1

	# a note naming run 1, which ended ok with its archive; the copy's
	# verification not in the catalog (as in one made anew), so no good
	# copy is known: the note is not followed, nothing is written
	sql "$W/catalog.db" "UPDATE copies SET verified_at = NULL"
	left_again "$d" "$name" 1
	run -0 gb-backup -c "$d/gb.conf" transactions-daily
	assert_line "gb-backup: transactions-daily: warning: $d/spool/$name.catchup names run 1, which the catalog does not have as a run of transactions-daily at north left without its archive: not caught up; see gb-catalog copies $a, then write or remove $d/spool/$a and its note by hand"
	assert_equal "$(copies)" 1
	assert_equal "$(sql "$W/catalog.db" "SELECT status, archive FROM runs WHERE id = 1")" "ok|$a"
	assert_equal "$(spool_files "$d/spool")" "$name.catchup $name.seal $name.tar.gz.gpg "
	# nor one naming a run of another job, or of another site
	sql "$W/catalog.db" "INSERT INTO runs(site, job, started, status) VALUES
	    ('north', 'members-weekly', '2026-01-01T00:00:00Z', 'running'),
	    ('south', 'transactions-daily', '2026-01-01T00:00:00Z', 'running')"
	for r in $(sql "$W/catalog.db" "SELECT id FROM runs WHERE job = 'members-weekly' OR site = 'south'"); do
		left_again "$d" "$name" "$r"
		run -0 gb-backup -c "$d/gb.conf" transactions-daily
		assert_line "gb-backup: transactions-daily: warning: $d/spool/$name.catchup names run $r, which the catalog does not have as a run of transactions-daily at north left without its archive: not caught up; see gb-catalog copies $a, then write or remove $d/spool/$a and its note by hand"
		assert_equal "$(sql "$W/catalog.db" "SELECT status FROM runs WHERE id = $r")" running
	done
	assert_equal "$(copies)" 1

	# the note's own run, left running, and the archive good and verified
	# on D1: no second copy; the run logged, the spool emptied
	sql "$W/catalog.db" "UPDATE copies SET verified_at = written_at"
	r=$(gb-catalog -c "$d/gb.conf" log start transactions-daily)
	left_again "$d" "$name" "$r"
	run -0 gb-backup -c "$d/gb.conf" transactions-daily
	assert_line "gb-backup: transactions-daily: caught up run $r: $a, left in the spool when the catalog was lost, is on D1; run $r logged failed"
	assert_equal "$(copies)" 1
	assert_equal "$(sql "$W/catalog.db" "SELECT status, archive FROM runs WHERE id = $r")" "failed|$a"
	assert_equal "$(spool_files "$d/spool")" ""
}
