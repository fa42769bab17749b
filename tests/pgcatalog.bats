#!/usr/bin/env bats
# The catalog on PostgreSQL (issue 15, gb-catalog(1) CATALOG ON
# POSTGRESQL): the schema made in an empty database, its version refused
# when older or newer and brought up by gb-catalog upgrade; a SQLite
# catalog of version 1 read and upgraded; gb-catalog migrate with every
# row and the audit chain intact; passwords kept out of connection
# strings; a write transaction run again after a serialization failure,
# a deadlock or an audit clash; the server stopped in the middle of a
# write: exit 3 and nothing half-recorded.  The catalog tests that run on
# SQLite also run on PostgreSQL: make check runs them with
# GB_TEST_CATALOG=pg (tests/pgmode.sh); the few that read the SQLite file
# itself have their twins here.
#
# Independent checks: psql and sqlite3 on the catalogs, python3 for the
# audit hashes of a hand-made old catalog.

load helper
load media-helper
load pg

setup_file() {
	members_setup_file 2
	pg_start
}

teardown_file() {
	pg_stop
	media_teardown_file
}

SP=$BATS_FILE_TMPDIR/fx/spool

setup() {
	media_setup
	DB=cat$BATS_TEST_NUMBER
	new_db "$DB"
	U="host=$PGHOST port=$PGPORT dbname=$DB"
	mkdir usb
}

# pq SQL: psql on the test's catalog database.
pq() { psqlc -d "$DB" -c "$1"; }

# as_pgcat CMD...: CMD with the PostgreSQL catalog.
as_pgcat() { GB_CATALOG="$U" "$@"; }

# wait_until TEST: TEST (shell text) true within a minute, or fail.
wait_until() {
	local i
	for i in $(seq 1200); do
		eval "$1" && return 0
		sleep 0.05
	done
	fail "timed out waiting for: $1"
}

# The server started again as pg_start started it.
pg_restart() {
	cd / && as_pg "$PGBIN/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/server.log" -w -t 60 \
	    -o "-k $PGROOT/sock -c listen_addresses= -c port=$PGPORT -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
	    start >/dev/null
	cd "$W"
}

# The audit trail as both databases print it, one entry a line.
AUDIT="SELECT site, seq, at, actor, action, object, detail, prev, hash FROM audit ORDER BY site, seq"

@test "PostgreSQL: an empty database gets the schema at version 3; an older one is refused with the hint, gb-catalog upgrade brings it up, a newer one is refused" {
	as_pgcat gb-catalog media add U1 --kind dir --pool daily 2>/dev/null
	[ "$(pq "SELECT version FROM catalog_version")" = 3 ]
	[ "$(pq "SELECT site || ' ' || id FROM media")" = "$(hostname) U1" ]
	pq "UPDATE catalog_version SET version = 1"
	run -3 as_pgcat gb-catalog media list
	assert_output --regexp "^gb-catalog: catalog $U: version 1 is older than gymbackup [^ ]+'s 3; run gb-catalog upgrade \\(as the catalog's owner\\)\$"
	run -3 as_pgcat gb-catalog log start nightly
	assert_output --partial "run gb-catalog upgrade"
	[ "$(pq "SELECT count(*) FROM runs")" = 0 ]
	run -0 as_pgcat gb-catalog upgrade
	assert_output "catalog $U: upgraded from version 1 to 3"
	[ "$(pq "SELECT version FROM catalog_version")" = 3 ]
	[ "$(pq "SELECT count(*) FROM pg_namespace WHERE nspname = 'gb_old'")" = 0 ]
	run -0 as_pgcat gb-catalog media list
	assert_line --regexp '^U1 +dir +daily +usable +onsite'
	run -0 as_pgcat gb-catalog audit --verify
	assert_output --regexp '^OK: audit trail intact, 1 entries, head [0-9a-f]{64}$'
	# the ids number on after the rows copied over
	run -0 as_pgcat gb-catalog log start nightly
	assert_output 1
	run -0 as_pgcat gb-catalog upgrade
	assert_output "catalog $U: version 3 already"
	pq "UPDATE catalog_version SET version = 4"
	run -3 as_pgcat gb-catalog media list
	assert_output --regexp "^gb-catalog: catalog $U: version 4 is not known to gymbackup [^ ]+ \\(it knows 3 and older\\)\$"
}

# old_catalog PATH: a catalog of version 1 made by hand, with a medium,
# a move, a run and a two-entry audit chain hashed as gymbackup hashes.
old_catalog() {
	sqlite3 -bail "$1" <"$BATS_TEST_DIRNAME/catalog-v1.sql"
	python3 - "$1" <<-'EOF'
	import hashlib, sqlite3, sys
	db = sqlite3.connect(sys.argv[1])
	db.execute("PRAGMA foreign_keys = ON")
	db.execute("INSERT INTO media(id, kind, pool, labelled_at) VALUES "
	           "('U1', 'dir', 'daily', '2026-01-01T00:00:00Z')")
	db.execute("INSERT INTO movements(medium, at, from_loc, to_loc, by) VALUES "
	           "('U1', '2026-01-02T00:00:00Z', 'onsite', 'offsite', 'alice')")
	db.execute("UPDATE media SET location = 'offsite' WHERE id = 'U1'")
	db.execute("INSERT INTO runs(job, started, ended, status) VALUES "
	           "('nightly', '2026-01-01T01:00:00Z', '2026-01-01T01:10:00Z', 'ok')")
	prev = "0"
	for seq, e in enumerate([
	        ("2026-01-01T00:00:00Z", "alice", "label", "U1", "dir medium in pool daily"),
	        ("2026-01-02T00:00:00Z", "alice", "move", "U1", "onsite -> offsite by alice")], 1):
	    h = hashlib.sha256()
	    for part in (prev, str(seq)) + e:
	        b = part.encode()
	        h.update(b"%d:" % len(b))
	        h.update(b)
	    db.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	               (seq,) + e + (prev, h.hexdigest()))
	    prev = h.hexdigest()
	db.commit()
	EOF
}

@test "SQLite: a catalog of version 1 is read as it is (its rows the config's site), and upgraded by the first write: every row kept with the site, the old hashes verify" {
	mkconf "$CONF" '[site]
name = gym-east'
	old_catalog "$CAT"
	local before
	before=$(sqlite3 "$CAT" "SELECT seq, at, actor, action, object, detail, prev, hash FROM audit ORDER BY seq")
	# read-only: nothing written, the version stays
	run -0 gb-catalog audit --verify
	assert_output --regexp '^OK: audit trail intact, 2 entries, head [0-9a-f]{64}$'
	local head=${output##* }
	run -0 gb-catalog media list
	assert_line --regexp '^U1 +dir +daily +usable +offsite'
	[ "$(sqlite3 "$CAT" "PRAGMA user_version")" = 1 ]
	# a write upgrades it first, in the same transaction
	run -0 gb-catalog log start nightly
	assert_output 2
	[ "$(sqlite3 "$CAT" "PRAGMA user_version")" = 3 ]
	[ "$(sqlite3 "$CAT" "SELECT DISTINCT site FROM (SELECT site FROM media UNION ALL SELECT site FROM movements UNION ALL SELECT site FROM runs UNION ALL SELECT site FROM audit)")" = gym-east ]
	[ "$(sqlite3 "$CAT" "SELECT count(*) FROM runs")" = 2 ]
	[ "$(sqlite3 "$CAT" "SELECT seq, at, actor, action, object, detail, prev, hash FROM audit ORDER BY seq")" = "$before" ]
	[ "$(sqlite3 "$CAT" "SELECT id, location FROM media")" = "U1|offsite" ]
	[ -z "$(sqlite3 "$CAT" "PRAGMA foreign_key_check")" ]
	[ -z "$(sqlite3 "$CAT" "SELECT name FROM sqlite_schema WHERE name LIKE 'gb_old%'")" ]
	run -0 gb-catalog audit --verify
	assert_output "OK: audit trail intact, 2 entries, head $head"
	run -19 sqlite3 "$CAT" "DELETE FROM audit"
	assert_output --partial "the audit trail is append-only"
	run -0 gb-catalog upgrade
	assert_output "catalog $CAT: version 3 already"
}

# v2_schema sqlite|pg: catalog-v2.sql in that dialect, taken as
# lib/catalog.c takes catalog.sql: the other dialect's lines out, the
# marker off this one's, @ID@ its self-numbering key.
v2_schema() {
	local f=$BATS_TEST_DIRNAME/catalog-v2.sql
	if [ "$1" = sqlite ]; then
		sed -e '/^--pg /d' -e 's/^--sqlite //' \
		    -e 's/@ID@/INTEGER PRIMARY KEY/' "$f"
	else
		sed -e '/^--sqlite /d' -e 's/^--pg //' \
		    -e 's/@ID@/BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY/' "$f"
	fi
}

# v2_rows: SQL for either dialect: the rows of two sites in a catalog of
# version 2, gym-east's and gym-west's: each a medium U1, a full archive
# (e1, w1) with a table, its copy on U1, a restore test, a run, and an
# audit chain of two entries hashed as gymbackup hashes.
v2_rows() {
	python3 - <<-'EOF'
	import hashlib
	for site, a in (("gym-east", "e1"), ("gym-west", "w1")):
	    name = a + ".tar.gz.gpg"
	    print("INSERT INTO media(site, id, kind, pool, labelled_at) VALUES "
	          "('%s', 'U1', 'dir', 'daily', '2026-01-01T00:00:00Z');" % site)
	    print("INSERT INTO archives(name, job, level, export_id, chain, site, "
	          "source, snapshot, size, sha256, packed_size, packed_sha256, rows, "
	          "seal, recorded_at) VALUES ('%s', 'nightly', 'full', 'x-%s', "
	          "'x-%s', '%s', 'gym', '2026-01-01T01:00:00Z', 10, 'aa', 9, 'ab', "
	          "5, 'seal of %s', '2026-01-01T01:05:00Z');" % (name, a, a, site, a))
	    print("INSERT INTO archive_tables(archive, tbl, rows, bytes, sha256) "
	          "VALUES ('%s', 'members', 5, 100, 'ac');" % name)
	    print("INSERT INTO copies(site, archive, medium, position, status, "
	          "started_at, written_at) VALUES ('%s', '%s', 'U1', '%s', 'good', "
	          "'2026-01-01T01:06:00Z', '2026-01-01T01:07:00Z');" % (site, name, name))
	    print("INSERT INTO checks(site, kind, archive, medium, at, ok, detail) "
	          "VALUES ('%s', 'restore-test', '%s', 'U1', '2026-01-02T00:00:00Z', "
	          "1, 'chain of 1, 0 tables differ');" % (site, name))
	    print("INSERT INTO runs(site, job, started, ended, status, archive) "
	          "VALUES ('%s', 'nightly', '2026-01-01T01:00:00Z', "
	          "'2026-01-01T01:10:00Z', 'ok', '%s');" % (site, name))
	    prev = "0"
	    for seq, e in enumerate([
	            ("2026-01-01T00:00:00Z", "alice", "label", "U1", "dir medium in pool daily"),
	            ("2026-01-01T01:05:00Z", "alice", "archive", name, "job nightly, full, export x-" + a + ", sha256 aa")], 1):
	        h = hashlib.sha256()
	        for part in (prev, str(seq)) + e:
	            b = part.encode()
	            h.update(b"%d:" % len(b))
	            h.update(b)
	        print("INSERT INTO audit VALUES ('%s', %d, '%s', '%s', '%s', '%s', "
	              "'%s', '%s', '%s');" % ((site, seq) + e + (prev, h.hexdigest())))
	        prev = h.hexdigest()
	EOF
}

# The rows of version 2 as both dialects print them, that version 3 keeps.
V2_KEPT=("SELECT site, id, kind, pool, labelled_at FROM media ORDER BY site"
    "SELECT site, name, job, level, export_id, chain, snapshot, seal FROM archives ORDER BY site"
    "SELECT archive, tbl, rows, bytes, sha256 FROM archive_tables ORDER BY archive"
    "SELECT id, site, archive, medium, position, status, written_at FROM copies ORDER BY id"
    "SELECT id, site, kind, archive, medium, at, ok, detail FROM checks ORDER BY id"
    "SELECT id, site, job, started, ended, status, archive FROM runs WHERE id <= 2 ORDER BY id"
    "$AUDIT")

# v2_checkpoint DB: a checkpoint of gym-east's chain in the catalog DB of
# version 2 (SQLite), to cp.txt and into DB's checkpoints as issued: made
# on a copy, which issuing it upgrades, so DB itself stays at version 2.
v2_checkpoint() {
	cp "$1" ck.db
	GB_CATALOG=$W/ck.db gb-catalog checkpoint -o cp.txt >/dev/null ||
	    fail "checkpoint failed"
	sqlite3 -bail "$1" "ATTACH 'ck.db' AS k; INSERT INTO checkpoints(site,
	    issued, entries, head, medium, place, text) SELECT site, issued,
	    entries, head, medium, place, text FROM k.checkpoints"
	rm ck.db
}

@test "SQLite: a catalog of version 2 is read as it is, and upgraded to 3 by the first write: every row kept, an archive's tables get its site, two sites may then hold one name; the audit chains and a checkpoint verify unchanged" {
	mkconf "$CONF" '[site]
name = gym-east'
	{ v2_schema sqlite; v2_rows; } | sqlite3 -bail "$CAT"
	v2_checkpoint "$CAT"
	local q before=() audit ck
	for q in "${V2_KEPT[@]}" "SELECT site, entries, head, text FROM checkpoints"; do
		before+=("$(sqlite3 "$CAT" "$q")")
	done
	# e1 as a host recorded it before its [site] name was gym-east: the
	# manifest's site (a version 3 archive is its copies' site)
	sqlite3 -bail "$CAT" "UPDATE archives SET site = 'gym-old' WHERE name =
	    'e1.tar.gz.gpg'"
	# read-only: nothing written, the version stays
	run -0 gb-catalog audit --verify
	assert_line -n 0 --regexp '^OK: audit trail of site gym-east intact, 2 entries, head [0-9a-f]{64}$'
	assert_line -n 1 --regexp '^OK: audit trail of site gym-west intact, 2 entries, head [0-9a-f]{64}$'
	audit=$output
	run -0 gb-catalog audit --verify --checkpoints cp.txt
	assert_line "1 checkpoints: 1 agree, 0 contradict the trail, 0 refused"
	ck=$output
	run -0 gb-catalog copies
	assert_line --regexp '^e1\.tar\.gz\.gpg +U1 '
	[ "$(sqlite3 "$CAT" "PRAGMA user_version")" = 2 ]
	# a write upgrades it first, in the same transaction
	run -0 gb-catalog log start nightly
	assert_output 3
	[ "$(sqlite3 "$CAT" "PRAGMA user_version")" = 3 ]
	local i=0
	for q in "${V2_KEPT[@]}" "SELECT site, entries, head, text FROM checkpoints"; do
		[ "$(sqlite3 "$CAT" "$q")" = "${before[i]}" ] || fail "differs: $q"
		i=$((i + 1))
	done
	[ "$(sqlite3 "$CAT" "SELECT site, archive, tbl FROM archive_tables ORDER BY site")" = \
	    "gym-east|e1.tar.gz.gpg|members
gym-west|w1.tar.gz.gpg|members" ]
	[ -z "$(sqlite3 "$CAT" "PRAGMA foreign_key_check")" ]
	[ -z "$(sqlite3 "$CAT" "SELECT name FROM sqlite_schema WHERE name LIKE 'gb_old%'")" ]
	run -0 gb-catalog audit --verify
	assert_output "$audit"
	run -0 gb-catalog audit --verify --checkpoints cp.txt
	assert_output "$ck"
	# names are a site's own now: gym-west may have an e1 too
	sqlite3 -bail "$CAT" "INSERT INTO archives(name, job, level, export_id,
	    chain, site, source, snapshot, size, sha256, packed_size,
	    packed_sha256, rows, seal, recorded_at) SELECT name, job, level,
	    export_id, chain, 'gym-west', source, snapshot, size, sha256,
	    packed_size, packed_sha256, rows, seal, recorded_at FROM archives
	    WHERE name = 'e1.tar.gz.gpg'"
	run -0 gb-catalog upgrade
	assert_output "catalog $CAT: version 3 already"
}

@test "PostgreSQL: a catalog of version 2 is refused with the hint; gb-catalog upgrade makes it 3: every row kept, an archive's tables get its site, the policies on the new tables; the audit chains and a checkpoint verify as on the SQLite twin" {
	mkconf "$CONF" '[site]
name = gym-east'
	{ v2_schema pg; v2_rows; } | psqlc -d "$DB" >/dev/null
	# the twin: the same rows in SQLite, read as version 2, and a checkpoint
	{ v2_schema sqlite; v2_rows; } | sqlite3 -bail "$CAT"
	v2_checkpoint "$CAT"
	pq "INSERT INTO checkpoints(site, issued, entries, head, place, text)
	    VALUES ('gym-east', '$(sqlite3 "$CAT" "SELECT issued FROM checkpoints")',
	    2, '$(sqlite3 "$CAT" "SELECT head FROM checkpoints")', 'cp.txt',
	    '$(cat cp.txt)')" >/dev/null
	local q before=() audit ck
	for q in "${V2_KEPT[@]}" "SELECT site, entries, head, text FROM checkpoints"; do
		before+=("$(pq "$q")")
		[ "${before[-1]}" = "$(sqlite3 "$CAT" "$q")" ] || fail "twins differ: $q"
	done
	audit=$(gb-catalog audit --verify) || fail "$audit"
	ck=$(gb-catalog audit --verify --checkpoints cp.txt) || fail "$ck"
	run -3 as_pgcat gb-catalog media list
	assert_output --regexp "^gb-catalog: catalog $U: version 2 is older than gymbackup [^ ]+'s 3; run gb-catalog upgrade \\(as the catalog's owner\\)\$"
	run -0 as_pgcat gb-catalog upgrade
	assert_output "catalog $U: upgraded from version 2 to 3"
	[ "$(pq "SELECT version FROM catalog_version")" = 3 ]
	local i=0
	for q in "${V2_KEPT[@]}" "SELECT site, entries, head, text FROM checkpoints"; do
		[ "$(pq "$q")" = "${before[i]}" ] || fail "differs: $q"
		i=$((i + 1))
	done
	[ "$(pq "SELECT site, archive, tbl FROM archive_tables ORDER BY site")" = \
	    "gym-east|e1.tar.gz.gpg|members
gym-west|w1.tar.gz.gpg|members" ]
	# the row tables and site_locks
	[ "$(pq "SELECT count(DISTINCT tablename) FROM pg_policies")" = 10 ]
	[ "$(pq "SELECT count(*) FROM pg_namespace WHERE nspname = 'gb_old'")" = 0 ]
	run -0 as_pgcat gb-catalog audit --verify
	assert_output "$audit"
	run -0 as_pgcat gb-catalog audit --verify --checkpoints cp.txt
	assert_output "$ck"
	# names are a site's own now: gym-west may have an e1 too
	pq "INSERT INTO archives(name, job, level, export_id, chain, site, source,
	    snapshot, size, sha256, packed_size, packed_sha256, rows, seal,
	    recorded_at) SELECT name, job, level, export_id, chain, 'gym-west',
	    source, snapshot, size, sha256, packed_size, packed_sha256, rows,
	    seal, recorded_at FROM archives WHERE name = 'e1.tar.gz.gpg'" >/dev/null
	run -0 as_pgcat gb-catalog upgrade
	assert_output "catalog $U: version 3 already"
}

# v2_renamed: in the SQLite catalog of version 2, e1 copied again, to
# U2, by the host after its [site] name became gym-new.
v2_renamed() {
	sqlite3 -bail "$CAT" "INSERT INTO media(site, id, kind, pool, labelled_at)
	    VALUES ('gym-new', 'U2', 'dir', 'daily', '2026-01-03T00:00:00Z');
	    INSERT INTO copies(site, archive, medium, position, status,
	    started_at, written_at) VALUES ('gym-new', 'e1.tar.gz.gpg', 'U2',
	    'e1.tar.gz.gpg', 'good', '2026-01-03T01:00:00Z', '2026-01-03T01:01:00Z')"
}

@test "SQLite: upgrade to 3 of an archive whose copies have two sites (the host renamed between them): the archive and its tables at each site, each copy at its own; no key broken, the audit unchanged" {
	mkconf "$CONF" '[site]
name = gym-east'
	{ v2_schema sqlite; v2_rows; } | sqlite3 -bail "$CAT"
	v2_renamed
	local audit
	audit=$(gb-catalog audit --verify) || fail "$audit"
	run -0 gb-catalog log start nightly
	[ "$(sqlite3 "$CAT" "PRAGMA user_version")" = 3 ]
	[ "$(sqlite3 "$CAT" "SELECT site, name, export_id, seal FROM archives ORDER BY 1, 2")" = \
	    "gym-east|e1.tar.gz.gpg|x-e1|seal of e1
gym-new|e1.tar.gz.gpg|x-e1|seal of e1
gym-west|w1.tar.gz.gpg|x-w1|seal of w1" ]
	[ "$(sqlite3 "$CAT" "SELECT site, archive, tbl, rows FROM archive_tables ORDER BY 1, 2")" = \
	    "gym-east|e1.tar.gz.gpg|members|5
gym-new|e1.tar.gz.gpg|members|5
gym-west|w1.tar.gz.gpg|members|5" ]
	[ "$(sqlite3 "$CAT" "SELECT site, archive, medium FROM copies ORDER BY id")" = \
	    "gym-east|e1.tar.gz.gpg|U1
gym-west|w1.tar.gz.gpg|U1
gym-new|e1.tar.gz.gpg|U2" ]
	[ -z "$(sqlite3 "$CAT" "PRAGMA foreign_key_check")" ]
	run -0 gb-catalog audit --verify
	assert_output "$audit"
}

@test "PostgreSQL: upgrade to 3 of an archive at its manifest's site, its copies at the writer's: the archive and its tables at the copies' site, no key broken, the audit unchanged" {
	mkconf "$CONF" '[site]
name = gym-east'
	{ v2_schema pg; v2_rows; } | psqlc -d "$DB" >/dev/null
	pq "UPDATE archives SET site = 'gym-old' WHERE name = 'e1.tar.gz.gpg'" >/dev/null
	run -0 as_pgcat gb-catalog upgrade
	assert_output "catalog $U: upgraded from version 2 to 3"
	[ "$(pq "SELECT site, name FROM archives ORDER BY 1")" = \
	    "gym-east|e1.tar.gz.gpg
gym-west|w1.tar.gz.gpg" ]
	[ "$(pq "SELECT site, archive, tbl FROM archive_tables ORDER BY 1")" = \
	    "gym-east|e1.tar.gz.gpg|members
gym-west|w1.tar.gz.gpg|members" ]
	[ "$(pq "SELECT site, archive FROM copies ORDER BY id")" = \
	    "gym-east|e1.tar.gz.gpg
gym-west|w1.tar.gz.gpg" ]
	run -0 as_pgcat gb-catalog audit --verify
	assert_line -n 0 --regexp '^OK: audit trail of site gym-east intact, 2 entries, head [0-9a-f]{64}$'
	assert_line -n 1 --regexp '^OK: audit trail of site gym-west intact, 2 entries, head [0-9a-f]{64}$'
}

@test "SQLite: a catalog of version 2 read as it is shows an archive at its copies' site, not its manifest's: chain lists it; migrate copies it there, the file unchanged" {
	mkconf "$CONF" '[site]
name = gym-east'
	{ v2_schema sqlite; v2_rows; } | sqlite3 -bail "$CAT"
	sqlite3 -bail "$CAT" "UPDATE archives SET site = 'gym-old' WHERE name =
	    'e1.tar.gz.gpg'"
	local sum
	sum=$(sha256sum "$CAT")
	run -0 gb-catalog chain --site gym-east
	assert_line --regexp '^  full +2026-01-01T01:00:00Z +e1\.tar\.gz\.gpg$'
	run -0 gb-catalog migrate --to "$U"
	assert_line "catalog $CAT migrated to $U"
	[ "$(pq "SELECT site, name FROM archives ORDER BY 1")" = \
	    "gym-east|e1.tar.gz.gpg
gym-west|w1.tar.gz.gpg" ]
	[ "$(pq "SELECT site, archive, tbl FROM archive_tables ORDER BY 1")" = \
	    "gym-east|e1.tar.gz.gpg|members
gym-west|w1.tar.gz.gpg|members" ]
	[ "$(sqlite3 "$CAT" "PRAGMA user_version")" = 2 ]
	[ "$(sha256sum "$CAT")" = "$sum" ]
	run -0 as_pgcat gb-catalog audit --verify
	assert_output "$(gb-catalog audit --verify)"
}

@test "migrate of a catalog of version 2 whose archive has copies of two sites: refused (exit 2) with the hint to upgrade first, nothing migrated" {
	mkconf "$CONF" '[site]
name = gym-east'
	{ v2_schema sqlite; v2_rows; } | sqlite3 -bail "$CAT"
	v2_renamed
	run -2 gb-catalog migrate --to "$U"
	assert_output "gb-catalog: catalog $CAT (version 2): archive e1.tar.gz.gpg is of another site than its copies; bring the catalog to version 3 first (gb-catalog upgrade), then migrate it"
	[ "$(pq "SELECT count(*) FROM archives")" = 0 ]
	[ "$(sqlite3 "$CAT" "PRAGMA user_version")" = 2 ]
}

@test "migrate --to: every row and each site's audit chain as sqlite3 and psql show them; audit --verify and the medium's checkpoint agree on PostgreSQL; a target not empty is refused" {
	label U1 daily usb
	put usb a1 a2
	gb-catalog move U1 --to offsite --by alice --why vault >/dev/null
	gb-catalog log start nightly >/dev/null
	gb-catalog checkpoint -o cp.txt >/dev/null
	run -0 gb-catalog migrate --to "$U"
	assert_line --regexp '^audit +[0-9]+$'
	assert_line --regexp "^audit trail of site $(hostname): [0-9]+ entries, head [0-9a-f]{64}\$"
	assert_line "catalog $CAT migrated to $U"
	[ "$(sqlite3 "$CAT" "$AUDIT")" = "$(pq "$AUDIT")" ]
	local q
	for q in "SELECT site, id, kind, pool, state, location, labelled_at, last_written, bytes_used, next_file FROM media ORDER BY id" \
	    "SELECT name, job, level, export_id, chain, site, size, sha256, seal FROM archives ORDER BY name" \
	    "SELECT archive, tbl, rows, bytes, sha256, money FROM archive_tables ORDER BY archive, tbl" \
	    "SELECT id, site, archive, medium, position, status, written_at, verified_at FROM copies ORDER BY id" \
	    "SELECT id, site, medium, at, from_loc, to_loc, by, why FROM movements ORDER BY id" \
	    "SELECT id, site, job, started, status FROM runs ORDER BY id" \
	    "SELECT id, site, entries, head, place, text FROM checkpoints ORDER BY id"; do
		[ "$(sqlite3 "$CAT" "$q")" = "$(pq "$q")" ] || fail "differs: $q"
	done
	[ -n "$(pq "SELECT seal FROM archives")" ]
	run -0 as_pgcat gb-catalog audit --verify
	assert_output "$(gb-catalog audit --verify)"
	run -0 as_pgcat gb-catalog audit --verify --checkpoints usb cp.txt
	assert_line "2 checkpoints: 2 agree, 0 contradict the trail, 0 refused"
	# the copy goes on where the file left off: ids, the chain
	run -0 as_pgcat gb-catalog log start nightly
	assert_output 2
	as_pgcat gb-catalog move U1 --to onsite >/dev/null
	run -0 as_pgcat gb-catalog audit --verify
	assert_output --regexp '^OK: audit trail intact, [0-9]+ entries'
	run -2 gb-catalog migrate --to "$U"
	assert_output "gb-catalog: catalog $U is not empty (media has rows): migrate copies into an empty catalog only"
	run -2 gb-catalog migrate --to "$W/other.db"
	assert_line "gb-catalog: migrate --to wants a PostgreSQL connection string (postgresql://... or host=... dbname=...), not $W/other.db"
}

@test "a password in the connection string (GB_CATALOG or [catalog] uri) is refused, exit 2; so are path and uri both, and a uri that is no connection string" {
	local msg="gb-catalog: catalog: the connection string holds a password; put it in ~/.pgpass (or PGPASSWORD) and leave it out of the string"
	run -2 env GB_CATALOG="postgresql://gb:secret@localhost/db" gb-catalog media list
	assert_output "$msg"
	run -2 env GB_CATALOG="host=$PGHOST password=secret dbname=$DB" gb-catalog media list
	assert_output "$msg"
	gb-catalog media add U9 --kind dir --pool daily 2>/dev/null
	run -2 gb-catalog migrate --to "postgresql:///$DB?host=$PGHOST&password=secret"
	assert_output "$msg"
	rm -f "$CAT"*
	mkconf "$CONF"
	sed -i "s|^path = .*|uri = postgresql://gb:secret@localhost/$DB|" "$CONF"
	run -2 gb-write --label U1 --pool daily usb
	assert_output "gb-write: catalog: the connection string holds a password; put it in ~/.pgpass (or PGPASSWORD) and leave it out of the string"
	[ -z "$(ls -A usb)" ]
	mkconf "$CONF"
	sed -i "/^path = /a uri = $U" "$CONF"
	run -2 gb-catalog media list
	assert_output "gb-catalog: config: $CONF: [catalog] has both path and uri; keep one: path for a file, uri for PostgreSQL"
	mkconf "$CONF"
	sed -i "s|^path = .*|uri = $W/catalog.db|" "$CONF"
	run -2 gb-catalog media list
	assert_output "gb-catalog: config: $CONF: [catalog] uri $W/catalog.db is not a PostgreSQL connection string (postgresql://... or host=... dbname=...); a file is set by path"
	# the right one works, from the config alone
	sed -i "s|^uri = .*|uri = postgresql:///$DB?host=$PGHOST\&port=$PGPORT|" "$CONF"
	run -0 gb-write --label U1 --pool daily usb
	assert_line "usb: labelled U1, pool daily"
	[ "$(pq "SELECT id FROM media")" = U1 ]
}

@test "the server stopped in the middle of a write: exit 3 naming the catalog, nothing of the transaction recorded; the rerun records it once" {
	as_pgcat gb-catalog media add U1 --kind dir --pool daily 2>/dev/null
	# the test server commits without waiting for its disk: what is made
	# so far is put there, or the crash below could take the schema too
	psql -X -q -d "$DB" -c CHECKPOINT >/dev/null
	# a session that holds media, so the move waits inside its transaction,
	# its movement row written, its UPDATE of media not yet
	psql -X -q -d "$DB" -c "BEGIN" -c "LOCK TABLE media IN EXCLUSIVE MODE" \
	    -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
	GB_BG_PIDS+=($!)
	wait_until '[ "$(pq "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = '"'media'"' AND l.mode = '"'ExclusiveLock'"' AND l.granted")" = 1 ]'
	(rc=0; GB_CATALOG="$U" gb-catalog move U1 --to offsite --by alice \
	    >move.out 2>move.err || rc=$?; echo $rc >move.rc) &
	GB_BG_PIDS+=($!)
	wait_until '[ "$(pq "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = '"'Lock'"' AND query LIKE '"'UPDATE media%'"'")" = 1 ]'
	(cd / && as_pg "$PGBIN/pg_ctl" -D "$PGROOT/data" -m immediate -w stop >/dev/null)
	wait_until '[ -s move.rc ]'
	[ "$(cat move.rc)" = 3 ]
	[ ! -s move.out ]
	run cat move.err
	assert_output --regexp "^gb-catalog: catalog $U: UPDATE media SET location = .*: (server closed the connection unexpectedly|terminating connection .*)\$"
	pg_restart
	[ "$(pq "SELECT count(*) FROM movements")" = 0 ]
	[ "$(pq "SELECT location FROM media")" = onsite ]
	[ "$(pq "SELECT count(*) FROM audit")" = 1 ]
	run -0 as_pgcat gb-catalog move U1 --to offsite --by alice
	assert_output "U1: onsite -> offsite"
	[ "$(pq "SELECT count(*) FROM movements")" = 1 ]
	run -0 as_pgcat gb-catalog audit --verify
	assert_output --regexp '^OK: audit trail intact, 2 entries'
}

@test "a serialization failure, a deadlock, an audit clash (GB_CATALOG_FAIL_ONCE): the transaction runs again from its start, recorded once; another error: exit 3, nothing recorded" {
	as_pgcat gb-catalog media add U1 --kind dir --pool daily 2>/dev/null
	run -0 env GB_CATALOG_FAIL_ONCE=40001 GB_CATALOG="$U" gb-catalog move U1 --to offsite
	assert_output "U1: onsite -> offsite"
	# the first try's row was rolled back: its id is gone, one row is left
	[ "$(pq "SELECT id, to_loc FROM movements")" = "2|offsite" ]
	run -0 env GB_CATALOG_FAIL_ONCE=40P01 GB_CATALOG="$U" gb-catalog log start nightly
	assert_output 2
	[ "$(pq "SELECT count(*) FROM runs")" = 1 ]
	# gb-write's copy records: the archive, the copy, its audit entries
	GB_CATALOG="$U" gb-write --label U2 --pool daily usb >/dev/null 2>&1
	run -0 env GB_CATALOG_FAIL_ONCE=23505 GB_CATALOG="$U" gb-write usb "$SP/a1"
	[ "$(pq "SELECT count(*) FROM archives")" = 1 ]
	[ "$(pq "SELECT medium || ' ' || status FROM copies")" = "U2 good" ]
	[ "$(pq "SELECT count(*) FROM audit WHERE action = 'archive'")" = 1 ]
	run -0 as_pgcat gb-catalog audit --verify
	assert_output --regexp '^OK: audit trail intact, [0-9]+ entries'
	# not one to try again: the program ends, the transaction rolled back
	run -3 env GB_CATALOG_FAIL_ONCE=42501 GB_CATALOG="$U" gb-catalog move U1 --to onsite
	assert_output "gb-catalog: catalog $U: GB_CATALOG_FAIL_ONCE=42501"
	[ "$(pq "SELECT count(*) FROM movements")" = 1 ]
	[ "$(pq "SELECT location FROM media WHERE id = 'U1'")" = offsite ]
}

@test "every write transaction of label, media add and retire, gb-write, checkpoint, expire and import: after a serialization failure run again, recorded once, said once; another error: exit 3, nothing recorded" {
	# once CODE CMD...: CMD on this catalog, its first write failed with CODE
	once() { GB_CATALOG_FAIL_ONCE=$1 GB_CATALOG="$U" "${@:2}"; }
	local undescribed="warning: pool daily is not described in the config; it gets the default rules (30 days' retention, stays onsite)"
	run -3 once 42501 gb-write --label U1 --pool daily usb
	assert_output "gb-write: catalog $U: GB_CATALOG_FAIL_ONCE=42501"
	run -0 once 40001 gb-write --label U1 --pool daily usb
	assert_line "gb-write: $undescribed"
	assert_line "usb: labelled U1, pool daily"
	[ "${#lines[@]}" = 3 ]	# and that usb was labelled U1 by the failed run
	run -3 once 42501 gb-catalog media add U2 --kind dir --pool daily
	assert_output "gb-catalog: catalog $U: GB_CATALOG_FAIL_ONCE=42501"
	run -0 once 40001 gb-catalog media add U2 --kind dir --pool daily
	assert_output "gb-catalog: $undescribed"
	run -3 once 42501 gb-catalog media retire U2
	[ "$(pq "SELECT state FROM media WHERE id = 'U2'")" = usable ]
	run -0 once 40001 gb-catalog media retire U2
	assert_output ""
	[ "$(pq "SELECT id || ' ' || state FROM media ORDER BY id")" = "U1 usable
U2 retired" ]
	run -0 once 40001 gb-write usb "$SP/a1"
	assert_output --regexp '^[^ ]+: written to U1 \(file [^ ]+\), read back OK$'
	as_pgcat gb-write usb "$SP/a2" >/dev/null
	run -3 once 42501 gb-catalog checkpoint -o cp.txt
	[ "$(pq "SELECT count(*) FROM checkpoints WHERE place = 'cp.txt'")" = 0 ]
	run -0 once 40001 gb-catalog checkpoint -o cp.txt
	assert_output --regexp '^checkpoint: [0-9]+ entries, head [0-9a-f]{64}: cp.txt$'
	[ "$(pq "SELECT count(*) FROM checkpoints WHERE place = 'cp.txt'")" = 1 ]
	# a1 is past retention; a2 is the newest full with a good copy
	local a1 a2
	a1=$(pq "SELECT archive FROM copies ORDER BY id LIMIT 1")
	a2=$(pq "SELECT archive FROM copies ORDER BY id DESC LIMIT 1")
	run -3 once 42501 gb-catalog expire --date 2099-01-01
	run -0 once 40001 gb-catalog expire --dry-run --date 2099-01-01
	assert_output "$(printf 'would expire %s\nkeep   %s (its chain is still needed)\n1 archive would be expired' "$a1" "$a2")"
	[ "$(pq "SELECT count(*) FROM archives WHERE expired_at IS NOT NULL")" = 0 ]
	run -0 once 40001 gb-catalog expire --date 2099-01-01
	assert_output "$(printf 'expire %s\nkeep   %s (its chain is still needed)\n1 archive expired' "$a1" "$a2")"
	[ "$(pq "SELECT name FROM archives WHERE expired_at IS NOT NULL")" = "$a1" ]
	# a medium another catalog wrote, imported
	mkdir usb3
	GB_CATALOG="$W/other.db" gb-write --label U3 --pool daily usb3 >/dev/null 2>&1
	GB_CATALOG="$W/other.db" gb-write usb3 "$SP/a2" >/dev/null
	run -3 once 42501 gb-catalog import usb3
	assert_output "gb-catalog: catalog $U: GB_CATALOG_FAIL_ONCE=42501"
	run -0 once 40001 gb-catalog import usb3
	assert_line "gb-catalog: $undescribed"
	assert_line "usb3: medium U3 (dir, pool daily): 0 archives and 1 copies new (1 good, 0 failed), 0 already in the catalog"
	[ "${#lines[@]}" = 2 ]
	[ "$(pq "SELECT medium || ' ' || archive || ' ' || status FROM copies WHERE medium = 'U3'")" = "U3 $a2 good" ]
	# each an entry once, in one unbroken chain
	[ "$(pq "SELECT action, count(*) FROM audit GROUP BY action ORDER BY action")" = "archive|2
expire|1
import|1
label|3
retire|1
write|2" ]
	run -0 as_pgcat gb-catalog audit --verify
	assert_output --regexp '^OK: audit trail intact, 10 entries'
}

@test "three writers of one site and one of another, at once: every row, one unbroken chain per site" {
	as_pgcat gb-catalog log start warmup >/dev/null
	mkconf west.conf '[site]
name = gym-west'
	local i pids=()
	for i in 1 2 3 west; do
		(for n in $(seq 12); do
			GB_CATALOG="$U" gb-catalog -c "$([ $i = west ] && echo west.conf || echo "$CONF")" \
			    media add "M$i-$n" --kind dir --pool daily 2>/dev/null || exit 1
		done) &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || fail "a writer failed"
	done
	[ "$(pq "SELECT count(*) FROM media WHERE site = 'gym-west'")" = 12 ]
	[ "$(pq "SELECT count(*) FROM media WHERE site <> 'gym-west'")" = 36 ]
	[ "$(pq "SELECT max(seq) FROM audit WHERE site = 'gym-west'")" = 12 ]
	run -0 as_pgcat gb-catalog audit --verify
	assert_line --regexp '^OK: audit trail of site gym-west intact, 12 entries, head [0-9a-f]{64}$'
	assert_line --regexp "^OK: audit trail of site $(hostname) intact, 36 entries, head [0-9a-f]{64}\$"
	[ "${#lines[@]}" = 2 ]
}

# Twins of the catalog.bats tests that change the SQLite file itself,
# which the PostgreSQL mode skips.

@test "PostgreSQL twin of 'audit --verify: an edited entry, a deleted entry, an edited entry with its hash remade': each reported, exit 1" {
	as_pgcat gb-catalog media add M1 --kind tape --pool p 2>/dev/null
	local i
	for i in 1 2 3; do
		as_pgcat gb-catalog move M1 --to transit --by a >/dev/null
		as_pgcat gb-catalog move M1 --to onsite --by a >/dev/null
	done
	run -0 as_pgcat gb-catalog audit --verify
	assert_output --partial "7 entries"
	pq "CREATE TABLE saved AS SELECT * FROM audit"
	# restore: the trail as it was, past the trigger (as its owner could)
	restore() {
		pq "ALTER TABLE audit DISABLE TRIGGER USER; DELETE FROM audit;
		    INSERT INTO audit SELECT * FROM saved;
		    ALTER TABLE audit ENABLE TRIGGER USER"
	}
	pq "ALTER TABLE audit DISABLE TRIGGER USER; UPDATE audit SET detail = 'x' WHERE seq = 2; ALTER TABLE audit ENABLE TRIGGER USER"
	run -1 as_pgcat gb-catalog audit --verify
	assert_output "FAIL: audit trail broken: entry 2 was edited (its hash does not match its content)"
	restore
	run -0 as_pgcat gb-catalog audit --verify
	pq "ALTER TABLE audit DISABLE TRIGGER USER; DELETE FROM audit WHERE seq = 4; ALTER TABLE audit ENABLE TRIGGER USER"
	run -1 as_pgcat gb-catalog audit --verify
	assert_output "FAIL: audit trail broken: entry 4 is missing"
	restore
	# the forger remakes the edited entry's hash: the next one shows it
	local row hash
	row=$(pq "SELECT prev || chr(31) || seq || chr(31) || at || chr(31) || actor || chr(31) || action || chr(31) || object FROM audit WHERE seq = 3")
	hash=$(ROW=$row "$PY" -c '
import hashlib, os
parts = os.environ["ROW"].split("\x1f") + ["onsite -> offsite by nobody"]
m = hashlib.sha256()
for part in parts:
    b = part.encode()
    m.update(b"%d:" % len(b) + b)
print(m.hexdigest())')
	pq "ALTER TABLE audit DISABLE TRIGGER USER; UPDATE audit SET detail = 'onsite -> offsite by nobody', hash = '$hash' WHERE seq = 3; ALTER TABLE audit ENABLE TRIGGER USER"
	run -1 as_pgcat gb-catalog audit --verify
	assert_output "FAIL: audit trail broken: entry 4 does not follow entry 3 (removed or replaced)"
}

@test "PostgreSQL twin of 'audit: the triggers refuse UPDATE and DELETE' (and TRUNCATE)" {
	as_pgcat gb-catalog media add M1 --kind tape --pool p 2>/dev/null
	as_pgcat gb-catalog move M1 --to offsite --by a >/dev/null
	local before
	before=$(pq "SELECT * FROM audit ORDER BY seq")
	run psqlc -d "$DB" -c "UPDATE audit SET detail = 'x' WHERE seq = 1"
	[ "$status" -ne 0 ]
	assert_output --partial "the audit trail is append-only"
	run psqlc -d "$DB" -c "DELETE FROM audit WHERE seq = 2"
	[ "$status" -ne 0 ]
	assert_output --partial "the audit trail is append-only"
	run psqlc -d "$DB" -c "TRUNCATE audit"
	[ "$status" -ne 0 ]
	assert_output --partial "the audit trail is append-only"
	[ "$(pq "SELECT * FROM audit ORDER BY seq")" = "$before" ]
	run -0 as_pgcat gb-catalog audit --verify
}

@test "PostgreSQL twin of 'a missing catalog directory' and '-c conf after the command': a database not there is exit 3 naming it; [catalog] uri in a config given after the command" {
	run -3 env GB_CATALOG="host=$PGHOST port=$PGPORT dbname=nosuchdb" gb-catalog media list
	assert_output --regexp "^gb-catalog: catalog host=$PGHOST port=$PGPORT dbname=nosuchdb: cannot connect: .*database \"nosuchdb\" does not exist\$"
	mkconf other.conf
	sed -i "s|^path = .*|uri = $U|" other.conf
	gb-catalog media add O1 --kind dir --pool p -c other.conf 2>/dev/null
	[ "$(pq "SELECT id FROM media")" = O1 ]
	[ ! -e "$CAT" ]
}

# pg_rehash FROM: the trail from entry FROM on given a new detail and
# every hash after it remade, past the trigger, as its owner could.
pg_rehash() {
	pq "SELECT seq, at, actor, action, object, detail FROM audit ORDER BY seq" |
	    FROM=$1 "$PY" -c '
import hashlib, os, sys
prev = "0"
print("ALTER TABLE audit DISABLE TRIGGER USER;")
for line in sys.stdin.read().splitlines():
    seq, at, actor, action, obj, detail = line.split("|")
    if int(seq) == int(os.environ["FROM"]):
        detail = "nothing to see here"
    m = hashlib.sha256()
    for part in (prev, seq, at, actor, action, obj, detail):
        b = part.encode()
        m.update(b"%d:" % len(b) + b)
    print("UPDATE audit SET detail = %s, prev = %s, hash = %s WHERE seq = %s;" %
        tuple("\x27%s\x27" % v.replace("\x27", "\x27\x27") for v in
        (detail, prev, m.hexdigest(), seq)))
    prev = m.hexdigest()
print("ALTER TABLE audit ENABLE TRIGGER USER;")' | psqlc -d "$DB" >/dev/null
}

@test "PostgreSQL twin of checkpoint.bats' rewritten, cut and edited trails: --verify alone, then the medium's checkpoint against the trail" {
	export GB_CATALOG=$U
	label U1 daily usb
	put usb a1 a2
	run -0 gb-catalog audit --verify --checkpoints usb
	assert_line "1 checkpoints: 1 agree, 0 contradict the trail, 0 refused"
	local n
	n=$(pq "SELECT count(*) FROM audit")
	pq "CREATE TABLE saved AS SELECT * FROM audit"
	restore() {
		pq "ALTER TABLE audit DISABLE TRIGGER USER; DELETE FROM audit;
		    INSERT INTO audit SELECT * FROM saved;
		    ALTER TABLE audit ENABLE TRIGGER USER"
	}
	# rewritten wholesale from entry 2, its hashes remade
	pg_rehash 2
	run -0 gb-catalog audit --verify
	assert_output --regexp "^OK: audit trail intact, $n entries"
	run -1 gb-catalog audit --verify --checkpoints usb
	assert_line --regexp '^FAIL usb/GYMBACKUP\.CHECKPOINT: [0-9]+ entries, issued [0-9T:-]+Z: entry [0-9]+ has hash [0-9a-f]{16}\.\.\., the checkpoint [0-9a-f]{16}\.\.\.: the trail up to it was rewritten or forked$'
	assert_line "1 checkpoints: 0 agree, 1 contradict the trail, 0 refused"
	# the last entries deleted
	restore
	pq "ALTER TABLE audit DISABLE TRIGGER USER; DELETE FROM audit WHERE seq > 1; ALTER TABLE audit ENABLE TRIGGER USER"
	run -0 gb-catalog audit --verify
	assert_output --regexp '^OK: audit trail intact, 1 entries'
	run -1 gb-catalog audit --verify --checkpoints usb
	assert_line --regexp '^FAIL usb/GYMBACKUP\.CHECKPOINT: [0-9]+ entries, issued [0-9T:-]+Z: the audit trail has 1 entries, the checkpoint [0-9]+: entries were removed \(truncated\)$'
	# an entry under the checkpoint edited, the stored hashes left
	restore
	pq "ALTER TABLE audit DISABLE TRIGGER USER; UPDATE audit SET detail = 'nothing to see here' WHERE seq = 2; ALTER TABLE audit ENABLE TRIGGER USER"
	run -1 gb-catalog audit --verify --checkpoints usb
	assert_line "FAIL: audit trail broken: entry 2 was edited (its hash does not match its content)"
	assert_line "1 checkpoints: 0 agree, 1 contradict the trail, 0 refused"
	restore
	run -0 gb-catalog audit --verify --checkpoints usb
	assert_line "1 checkpoints: 1 agree, 0 contradict the trail, 0 refused"
}
