#!/usr/bin/env bats
# A chain of gyms on one catalog on PostgreSQL (gb-catalog(1) SITES):
# each site's role writes only its own rows, enforced by the server
# (roles and row-level security) and tried both through psql and through
# gb-catalog; head office reads everything and writes nothing; media
# labels are per site; a medium moves between sites with its custody in
# both sites' audit chains; the audit trail is append-only for everyone.
#
# Every test has its own catalog database, made as the man page says:
# the owner (gb, the test cluster's superuser) makes the catalog, the
# login roles site_a, site_b and head (made once for the file: roles are
# the server's) are granted gb_site_host / gb_head_office, and the owner
# runs site add.  Rows are compared before and after as PostgreSQL's own
# text of every row (pg_rows), read by the owner.  Keys (scripts/mkkeys.sh)
# for the sealed archive a site writes and verifies.

load helper
load pg

setup_file() {
	keys_setup_file
	pg_start
	psqlc -d postgres -c "CREATE ROLE site_a LOGIN" \
	    -c "CREATE ROLE site_b LOGIN" -c "CREATE ROLE head LOGIN" \
	    -c "CREATE ROLE site_c LOGIN"
}

teardown_file() {
	pg_stop
	kill_agents_under "$BATS_FILE_TMPDIR"
}

ROW_TABLES="media movements archives archive_tables copies runs checks audit checkpoints"

# of_a TABLE: the condition on TABLE's rows that are site a's.
of_a() { echo "site = 'a'"; }

# site_conf FILE SITE ROLE: a host's config: its site, the catalog as ROLE,
# the test keys.
site_conf() {
	cat >"$1" <<EOF
[site]
name = $2

[keys]
signer = $SIGNER
recipients = $RCPT1 $RCPT2

[catalog]
uri = host=$PGHOST port=$PGPORT dbname=$DB user=$3

[pool daily]
retention_days = 30
EOF
}

setup() {
	gb_setup
	export GNUPGHOME="$KEYS/backup"
	DB=cat$BATS_TEST_NUMBER
	new_db "$DB"
	site_conf owner.conf hq gb
	site_conf a.conf a site_a
	site_conf b.conf b site_b
	site_conf head.conf hq head
	# a host of site_b whose config claims site a
	site_conf evil.conf a site_b
	[ "${SITES_SETUP-}" = none ] && return 0
	gb-catalog -c owner.conf upgrade >/dev/null ||
	    fail "the owner could not make the catalog"
	psqlc -d postgres -c "GRANT gb_site_host TO site_a, site_b" \
	    -c "GRANT gb_head_office TO head" 2>/dev/null
	gb-catalog -c owner.conf site add a site_a ||
	    fail "site add a site_a failed"
	gb-catalog -c owner.conf site add b site_b ||
	    fail "site add b site_b failed"
}

# as_a/as_b/as_head/as_owner/as_evil ARGS: gb-catalog as that host.
as_a() { gb-catalog -c "$W/a.conf" "$@"; }
as_b() { gb-catalog -c "$W/b.conf" "$@"; }
as_head() { gb-catalog -c "$W/head.conf" "$@"; }
as_owner() { gb-catalog -c "$W/owner.conf" "$@"; }
as_evil() { gb-catalog -c "$W/evil.conf" "$@"; }

# sql_as ROLE SQL...: psql on the test's catalog as ROLE, each command's
# tag (UPDATE 0, ...) or error printed; stops at the first error.
sql_as() {
	local role=$1
	shift
	psql -X -v ON_ERROR_STOP=1 -At -U "$role" -d "$DB" "$@"
}

# q SQL: one query as the owner, unaligned.
q() { psqlc -d "$DB" -c "$1"; }

# dump: every row of every table of the catalog, as the owner reads it.
dump() {
	local t
	for t in $ROW_TABLES sites; do
		echo "== $t"
		pg_rows "$DB" "$t"
	done
}

# take TABLE: an UPDATE's SET that would make a row site b's, or change
# it.
take() {
	if [ "$1" = archive_tables ]; then
		echo "rows = 0"
	else
		echo "site = 'b'"
	fi
}

# a_rows: site a has a row in every row table: a medium moved offsite, a
# run ended and one running, an archive with a table, its copy and a
# check, and a checkpoint; through gb-write, gb-catalog, and psql as
# site_a where no tool writes such a row without keys.
a_rows() {
	mkdir -p usb_a
	gb-write -c a.conf --label U1 --pool daily usb_a >/dev/null ||
	    fail "a could not label U1"
	as_a move U1 --to offsite --by courier >/dev/null || fail "a: move"
	local id
	id=$(as_a log start nightly) || fail "a: log start"
	as_a log end "$id" ok --rows 5 >/dev/null || fail "a: log end"
	RUNNING=$(as_a log start weekly) || fail "a: log start"
	sql_as site_a -q <<'EOF' || fail "site_a could not write its own rows"
INSERT INTO archives(name, job, level, export_id, chain, site, source,
    snapshot, size, sha256, packed_size, packed_sha256, rows, seal,
    recorded_at) VALUES ('A1.tar.gz.gpg', 'nightly', 'full', 'e-a1', 'e-a1',
    'a', 'gym', '2026-12-01T01:00:00Z', 10, 'aa', 9, 'ab', 5, 'seal',
    '2026-12-01T01:05:00Z');
INSERT INTO archive_tables(site, archive, tbl, rows, bytes, sha256)
    VALUES ('a', 'A1.tar.gz.gpg', 'members', 5, 100, 'ac');
INSERT INTO copies(site, archive, medium, position, status, started_at)
    VALUES ('a', 'A1.tar.gz.gpg', 'U1', 'A1.tar.gz.gpg', 'good',
    '2026-12-01T01:06:00Z');
INSERT INTO checkpoints(site, issued, entries, head, place, text)
    VALUES ('a', '2026-12-01T02:00:00Z', 1, 'ad', '/tmp/ck', 'text');
EOF
	as_a tested A1.tar.gz.gpg ok --detail "by hand" 2>/dev/null ||
	    fail "a: tested"
	local t
	for t in $ROW_TABLES; do
		[ "$(q "SELECT count(*) FROM $t WHERE $(of_a $t)")" -gt 0 ] ||
		    fail "site a has no row in $t"
	done
}

# verify_own AS SITE: gb-catalog audit --verify as a site's host: its own
# chain, whole, as many entries as the owner counts of SITE.
verify_own() {
	run -0 "$1" audit --verify
	assert_output --regexp "^OK: audit trail intact, $(q "SELECT count(*) FROM audit WHERE site = '$2'") entries, head [0-9a-f]{64}\$"
}

# verify_all: head office's audit --verify: every site's chain, whole.
verify_all() {
	run -0 as_head audit --verify
	assert_line -n 0 --regexp "^OK: audit trail of site a intact, $(q "SELECT count(*) FROM audit WHERE site = 'a'") entries, head [0-9a-f]{64}\$"
	assert_line -n 1 --regexp "^OK: audit trail of site b intact, $(q "SELECT count(*) FROM audit WHERE site = 'b'") entries, head [0-9a-f]{64}\$"
	[ "${#lines[@]}" = 2 ]
}

# ------------------------------------------------------------ site add/list

@test "site add: the owner gives each site its role, the site's chain starts with it; refused for a missing, group or taken role or name, and for a site's role" {
	# (the owner here is a superuser, who may write every site)
	run -0 as_owner site list
	assert_line -n 0 --regexp '^SITE +ROLE +STATE +YOURS$'
	assert_line -n 1 --regexp '^a +site_a +writes +yes$'
	assert_line -n 2 --regexp '^b +site_b +writes +yes$'
	[ "${#lines[@]}" = 3 ]
	run -0 as_a site
	assert_line -n 1 --regexp '^a +site_a +writes +yes$'
	assert_line -n 2 --regexp '^b +site_b +writes *$'
	# the chain of a begins with who may write it
	[ "$(q "SELECT seq, action, object, detail FROM audit WHERE site = 'a'")" = \
	    "1|site|a|written by role site_a, added by $(id -un)" ]

	# site_c exists but is not in gb_site_host: added, with a warning
	run -0 as_owner site add c site_c
	assert_output "gb-catalog: warning: role site_c is not in gb_site_host and cannot write the catalog until it is: GRANT gb_site_host TO site_c"
	run -0 as_owner site list
	assert_line -n 3 --regexp '^c +site_c +not in gb_site_host +yes$'

	local before
	before=$(dump)
	run -2 as_owner site add d nosuchrole
	assert_output "gb-catalog: no role nosuchrole in the database server: create it first (CREATE ROLE nosuchrole LOGIN; GRANT gb_site_host TO nosuchrole)"
	run -2 as_owner site add a site_c
	assert_output "gb-catalog: site a is written by role site_a already; a site has one role, and a role one site"
	run -2 as_owner site add e site_a
	assert_output "gb-catalog: site a is written by role site_a already; a site has one role, and a role one site"
	run -2 as_owner site add f gb_site_host
	assert_output "gb-catalog: gb_site_host is the group of every site's (or head office's) roles; a site needs a role of its own"
	# a site's role cannot give itself (or anyone) a site
	run -3 as_a site add x head
	assert_output --regexp '^gb-catalog: catalog .*: permission denied for table sites'
	run -3 as_head site add x head
	assert_output --regexp '^gb-catalog: catalog .*: permission denied for table sites'
	[ "$(dump)" = "$before" ]
}

@test "gb-catalog upgrade keeps the sites and their roles, and the new tables get the policies: site_b still cannot write a's rows" {
	a_rows
	local sites policies
	sites=$(pg_rows "$DB" sites)
	policies=$(q "SELECT tablename, policyname, cmd, qual, with_check FROM pg_policies ORDER BY 1, 2")
	# the row tables and site_locks
	[ "$(q "SELECT count(DISTINCT tablename) FROM pg_policies")" = 10 ]
	q "UPDATE catalog_version SET version = 1" >/dev/null
	# a site's lock row lost: the upgrade makes it again from sites
	q "DELETE FROM site_locks WHERE site = 'b'" >/dev/null
	run -0 as_owner upgrade
	assert_output --regexp '^catalog .*: upgraded from version 1 to 3$'
	[ "$(pg_rows "$DB" sites)" = "$sites" ]
	[ "$(pg_rows "$DB" site_locks)" = "(a,0)
(b,0)" ]
	[ "$(q "SELECT tablename, policyname, cmd, qual, with_check FROM pg_policies ORDER BY 1, 2")" = "$policies" ]
	[ "$(q "SELECT count(*) FROM pg_class WHERE relrowsecurity")" = 10 ]
	run -1 sql_as site_b -c "INSERT INTO runs(site, job, started, status) VALUES ('a', 'nightly', 't', 'ok')"
	assert_output 'ERROR:  new row violates row-level security policy for table "runs"'
	run -0 sql_as site_b -c "SELECT count(*) FROM media"
	assert_output 0
	run -0 as_a site
	assert_line -n 1 --regexp '^a +site_a +writes +yes$'
	verify_own as_a a
}

@test "site, move --to-site and receive on an SQLite catalog: exit 2, an SQLite catalog is one site's" {
	export GB_CATALOG="$W/cat.db"
	mkdir usb
	gb-write --label U1 --pool daily usb 2>/dev/null
	local msg="an SQLite catalog, one site's (a medium from another site is taken in with gb-catalog import)"
	run -2 gb-catalog site list
	assert_output "gb-catalog: site needs the catalog on PostgreSQL ([catalog] uri); $GB_CATALOG is $msg"
	run -2 gb-catalog site add a site_a
	assert_output "gb-catalog: site needs the catalog on PostgreSQL ([catalog] uri); $GB_CATALOG is $msg"
	run -2 gb-catalog move U1 --to-site b
	assert_output "gb-catalog: move --to-site needs the catalog on PostgreSQL ([catalog] uri); $GB_CATALOG is $msg"
	run -2 gb-catalog receive U1
	assert_output "gb-catalog: receive needs the catalog on PostgreSQL ([catalog] uri); $GB_CATALOG is $msg"
	[ "$(sqlite3 "$GB_CATALOG" "SELECT location, coalesce(to_site, '-') FROM media")" = "onsite|-" ]
	[ "$(sqlite3 "$GB_CATALOG" "SELECT count(*) FROM movements")" = 0 ]
}

# -------------------------------------------------- one site, not another's

@test "site_b through psql cannot UPDATE, DELETE or INSERT site_a's rows, nor give its own away: refused, nothing changed" {
	a_rows
	mkdir usb_b
	gb-write -c b.conf --label B1 --pool daily usb_b >/dev/null
	local before t
	before=$(dump)

	for t in $ROW_TABLES; do
		# a's rows are not there for b: an UPDATE finds none; history
		# is updated by nobody
		case $t in
		audit|checkpoints|movements|checks|archive_tables)
			run -1 sql_as site_b -c "UPDATE $t SET $(take $t)"
			assert_output "ERROR:  permission denied for table $t"
			;;
		*)
			run -0 sql_as site_b -c "UPDATE $t SET $(take $t) WHERE $(of_a $t)"
			assert_output "UPDATE 0"
			;;
		esac
		run -1 sql_as site_b -c "DELETE FROM $t WHERE $(of_a $t)"
		assert_output "ERROR:  permission denied for table $t"
		run -1 sql_as site_b -c "TRUNCATE $t"
		assert_output "ERROR:  permission denied for table $t"
	done
	declare -A ins=(
	    [media]="INSERT INTO media(site, id, kind, pool, labelled_at) VALUES ('a', 'X1', 'dir', 'daily', 't')"
	    [movements]="INSERT INTO movements(site, medium, at, from_loc, to_loc, by) VALUES ('a', 'U1', 't', 'offsite', 'onsite', 'b')"
	    [archives]="INSERT INTO archives(name, job, level, export_id, chain, site, source, snapshot, size, sha256, packed_size, packed_sha256, rows, seal, recorded_at) VALUES ('X.tar.gz.gpg', 'j', 'full', 'e-x', 'e-x', 'a', 's', 't', 1, 'h', 1, 'h', 1, 's', 't')"
	    [archive_tables]="INSERT INTO archive_tables(site, archive, tbl, rows, bytes, sha256) VALUES ('a', 'A1.tar.gz.gpg', 'fake', 1, 1, 'h')"
	    [copies]="INSERT INTO copies(site, archive, medium, position, status, started_at) VALUES ('a', 'A1.tar.gz.gpg', 'U1', 'x', 'good', 't')"
	    [runs]="INSERT INTO runs(site, job, started, status) VALUES ('a', 'nightly', 't', 'ok')"
	    [checks]="INSERT INTO checks(site, kind, archive, at, ok) VALUES ('a', 'restore-test', 'A1.tar.gz.gpg', 't', 1)"
	    [audit]="INSERT INTO audit VALUES ('a', 99, 't', 'b', 'x', 'y', 'z', '0', 'h')"
	    [checkpoints]="INSERT INTO checkpoints(site, issued, entries, head, place, text) VALUES ('a', 't', 1, 'h', 'p', 'x')"
	)
	for t in $ROW_TABLES; do
		run -1 sql_as site_b -c "${ins[$t]}"
		assert_output "ERROR:  new row violates row-level security policy for table \"$t\""
	done
	# b's own rows about a's archive: a forged restore test or copy
	run -1 sql_as site_b -c "INSERT INTO checks(site, kind, archive, at, ok) VALUES ('b', 'restore-test', 'A1.tar.gz.gpg', 't', 1)"
	assert_output 'ERROR:  new row violates row-level security policy for table "checks"'
	run -1 sql_as site_b -c "INSERT INTO copies(site, archive, medium, position, status, started_at) VALUES ('b', 'A1.tar.gz.gpg', 'B1', 'x', 'good', 't')"
	assert_output 'ERROR:  new row violates row-level security policy for table "copies"'
	# b's own medium given to a
	run -1 sql_as site_b -c "UPDATE media SET site = 'a' WHERE id = 'B1'"
	assert_output 'ERROR:  new row violates row-level security policy for table "media"'
	# a's medium is not on its way to b: b cannot take it in
	run -0 sql_as site_b -c "UPDATE media SET site = 'b', to_site = NULL WHERE id = 'U1'"
	assert_output "UPDATE 0"
	# nor the sites table, nor the schema
	run -1 sql_as site_b -c "UPDATE sites SET role = 'site_b' WHERE name = 'a'"
	assert_output "ERROR:  permission denied for table sites"
	run -1 sql_as site_b -c "ALTER TABLE media DISABLE ROW LEVEL SECURITY"
	assert_output "ERROR:  must be owner of table media"
	# a temporary table "sites" does not stand in for the catalog's
	run -1 sql_as site_b -c "CREATE TEMP TABLE sites(name text, role text)" \
	    -c "INSERT INTO sites VALUES ('a', 'site_b')" -c "${ins[media]}"
	assert_line -n 0 "CREATE TABLE"
	assert_line -n 1 "INSERT 0 1"
	assert_line -n 2 'ERROR:  new row violates row-level security policy for table "media"'
	[ "$(dump)" = "$before" ]
}

@test "site_b through gb-catalog cannot change site_a's rows, with its own config or one that claims site a: refused, nothing changed" {
	a_rows
	local before
	before=$(dump)

	run -2 as_b move U1 --to onsite
	assert_output "gb-catalog: no medium U1 in the catalog"
	run -2 as_b move U1 --to-site b
	assert_output "gb-catalog: no medium U1 of site b in the catalog"
	run -2 as_b media retire U1
	assert_output "gb-catalog: no medium U1 in the catalog"
	run -2 as_b receive U1
	assert_output "gb-catalog: no medium U1 on its way to site b: the site that sends it runs gb-catalog move U1 --to-site b"
	run -2 as_b log end "$RUNNING" failed --error sabotage
	assert_output "gb-catalog: no running job run $RUNNING"
	run -2 as_b tested A1.tar.gz.gpg failed
	assert_output "gb-catalog: no archive A1.tar.gz.gpg in the catalog"
	run -2 as_b verified A1.tar.gz.gpg ok --medium U1
	assert_output "gb-catalog: no archive A1.tar.gz.gpg in the catalog"
	run -0 as_b expire --date 2027-12-31
	[ "$(dump)" = "$before" ]

	# a config that names site a does not make site_b a's writer
	run -3 as_evil media add X1 --kind dir --pool daily
	assert_output --regexp '^gb-catalog: catalog .*new row violates row-level security policy for table "(media|audit)"'
	run -3 as_evil log start nightly
	assert_output --regexp '^gb-catalog: catalog .*new row violates row-level security policy for table "(runs|audit)"'
	run -2 as_evil move U1 --to onsite
	assert_output "gb-catalog: no medium U1 in the catalog"
	run -2 as_evil log end "$RUNNING" failed
	assert_output "gb-catalog: no running job run $RUNNING"
	mkdir usb_evil
	run -3 gb-write -c evil.conf --label X2 --pool daily usb_evil
	assert_output --regexp 'new row violates row-level security policy for table "(media|audit)"'
	[ "$(dump)" = "$before" ]
}

@test "a site's host writes and verifies a sealed archive as its role: the archive, its tables, copy and check are its site's; the other site sees none of it" {
	make_gym_db gym.db
	gb-export -c a.conf -s sqlite:gym.db -j nightly -o a1.set 2>/dev/null ||
	    fail "gb-export failed"
	gb-pack -l 1 a1.set >a1.tar.gz
	gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o a1 <a1.tar.gz ||
	    fail "gb-seal failed"
	mkdir usb
	gb-write -c a.conf --label U1 --pool daily usb >/dev/null
	run -0 gb-write -c a.conf usb a1
	run -0 gb-verify -c a.conf --media usb a1
	assert_line "a1.tar.gz.gpg: OK on U1"
	[ "$(q "SELECT site, job FROM archives")" = "a|nightly" ]
	[ "$(q "SELECT count(*) FROM archive_tables WHERE archive = 'a1.tar.gz.gpg'")" = \
	    "$(awk -F'\t' '$1 == "table"' a1.set/MANIFEST | wc -l)" ]
	[ "$(q "SELECT site, medium, status FROM copies")" = "a|U1|good" ]
	[ "$(q "SELECT site, kind, archive, medium, ok FROM checks")" = "a|verify|a1.tar.gz.gpg|U1|1" ]
	# b's chain has only its own beginning
	[ "$(q "SELECT action FROM audit WHERE site = 'b'")" = site ]

	run -0 as_b archives
	refute_output --partial a1.tar.gz.gpg
	run -0 as_b copies
	[ "${#lines[@]}" = 1 ]
	local before
	before=$(dump)
	# b verifies the file, but records nothing of a's archive
	run -0 gb-verify -c b.conf usb/a1.tar.gz.gpg
	assert_line "a1.tar.gz.gpg: OK"
	run -2 as_b verified a1.tar.gz.gpg ok --medium U1
	assert_output "gb-catalog: no archive a1.tar.gz.gpg in the catalog"
	# nor can b write that archive to a medium of its own as its own
	mkdir usb_b
	gb-write -c b.conf --label B1 --pool daily usb_b >/dev/null
	before=$(dump)
	run -3 gb-write -c b.conf usb_b a1
	assert_output "gb-write: a1.tar.gz.gpg: an archive of site a (its manifest), which site b does not record: site a's hosts write it"
	[ ! -e usb_b/a1.tar.gz.gpg ] || fail "$(ls usb_b)"
	[ "$(dump)" = "$before" ]
	verify_own as_a a
}

# seal_as CONF OUT: a sealed export OUT (OUT.set, OUT.tar.gz.gpg,
# OUT.seal) of gym.db, job nightly, by the host of CONF.
seal_as() {
	mkdir -p "$(dirname "$2")"
	gb-export -c "$1" -s sqlite:gym.db -j nightly -o "$2.set" 2>/dev/null ||
	    fail "gb-export -c $1 failed"
	gb-pack -l 1 "$2.set" >"$2.tar.gz"
	gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o "$2" <"$2.tar.gz" ||
	    fail "gb-seal failed"
	rm "$2.tar.gz"
}

@test "site b's role takes the name and export id of a's next archive first (psql): a still records and verifies it, and a's views show a's archive alone" {
	make_gym_db gym.db
	seal_as a.conf a1
	local id
	id=$(awk -F'\t' '$1 == "id" { print $2 }' a1.set/MANIFEST)
	[ -n "$id" ] || fail "no export id in a1.set/MANIFEST"
	run -0 sql_as site_b -c "INSERT INTO archives(name, job, level,
	    export_id, chain, site, source, snapshot, size, sha256, packed_size,
	    packed_sha256, rows, seal, recorded_at) VALUES ('a1.tar.gz.gpg',
	    'nightly', 'full', '$id', '$id', 'b', 'gym', '2026-12-01T01:00:00Z',
	    1, 'bb', 1, 'bb', 1, 'squatted', '2026-12-01T01:00:00Z')"
	assert_output "INSERT 0 1"
	mkdir usb
	gb-write -c a.conf --label U1 --pool daily usb >/dev/null
	run -0 gb-write -c a.conf usb a1
	run -0 gb-verify -c a.conf --media usb a1
	assert_line "a1.tar.gz.gpg: OK on U1"
	[ "$(q "SELECT site, name, export_id, sha256 = 'bb' FROM archives ORDER BY site")" = \
	    "a|a1.tar.gz.gpg|$id|f
b|a1.tar.gz.gpg|$id|t" ]
	[ "$(q "SELECT site, archive, medium, status FROM copies")" = "a|a1.tar.gz.gpg|U1|good" ]
	[ "$(q "SELECT site, archive, ok FROM checks")" = "a|a1.tar.gz.gpg|1" ]
	[ "$(q "SELECT DISTINCT site FROM archive_tables")" = a ]
	run -0 as_a archives
	assert_line --regexp '^a1\.tar\.gz\.gpg +nightly +full +[0-9T:-]+Z +[0-9.]+[KMG]? +[0-9]+ +1 *$'
	[ "${#lines[@]}" = 2 ]
	run -0 as_a copies a1.tar.gz.gpg
	assert_line --regexp '^a1\.tar\.gz\.gpg +U1 +onsite +a1\.tar\.gz\.gpg +good '
	[ "${#lines[@]}" = 2 ]
	run -0 as_a manifest a1.tar.gz.gpg
	assert_output "$(cat a1.set/MANIFEST)"
	# and b's row is b's alone
	run -0 as_b archives
	assert_line --regexp '^a1\.tar\.gz\.gpg +nightly +full +2026-12-01T01:00:00Z '
	[ "${#lines[@]}" = 2 ]
	verify_own as_a a
	verify_own as_b b
}

@test "two sites hold archives of one name: copies, manifest, chain and report --site show each site's; head office without --site is refused, exit 2; gb-restore --at --site takes that site's full" {
	make_gym_db gym.db
	seal_as a.conf a/n1
	# b's gym has one member fewer; its archive has the same name
	sqlite3 gym.db "DELETE FROM members WHERE rowid = (SELECT max(rowid) FROM members)"
	seal_as b.conf b/n1
	mkdir usb_a usb_b
	gb-write -c a.conf --label U1 --pool daily usb_a >/dev/null
	gb-write -c b.conf --label U1 --pool daily usb_b >/dev/null
	run -0 gb-write -c a.conf usb_a a/n1
	run -0 gb-write -c b.conf usb_b b/n1
	[ "$(q "SELECT site, name FROM archives ORDER BY site")" = "a|n1.tar.gz.gpg
b|n1.tar.gz.gpg" ]
	local msg="gb-catalog: archive n1.tar.gz.gpg is held by sites a and b: give --site"
	run -2 as_head copies n1.tar.gz.gpg
	assert_output "$msg"
	run -2 as_head manifest n1.tar.gz.gpg
	assert_output "$msg"
	run -0 as_head copies --site b n1.tar.gz.gpg
	assert_line -n 1 --regexp '^n1\.tar\.gz\.gpg +U1 +onsite +n1\.tar\.gz\.gpg +good '
	[ "${#lines[@]}" = 2 ]
	run -0 as_head manifest --site a n1.tar.gz.gpg
	assert_output "$(cat a/n1.set/MANIFEST)"
	run -0 as_head manifest --site b n1.tar.gz.gpg
	assert_output "$(cat b/n1.set/MANIFEST)"
	# each site's host sees its own without --site
	run -0 as_b manifest n1.tar.gz.gpg
	assert_output "$(cat b/n1.set/MANIFEST)"
	local snap_a snap_b at
	snap_a=$(awk -F'\t' '$1 == "snapshot" { print $2 }' a/n1.set/MANIFEST)
	snap_b=$(awk -F'\t' '$1 == "snapshot" { print $2 }' b/n1.set/MANIFEST)
	at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	run -0 as_head chain --site a --at "$at"
	assert_output "to restore the state at $at:
job nightly:
  full         $snap_a  n1.tar.gz.gpg
      on U1 (onsite, file n1.tar.gz.gpg)"
	run -0 as_head chain --site b --at "$at"
	assert_line -n 2 "  full         $snap_b  n1.tar.gz.gpg"
	local rows_a rows_b
	rows_a=$(awk -F'\t' '$1 == "rows" && $2 == "members" { print $3 }' a/n1.set/MANIFEST)
	rows_b=$(awk -F'\t' '$1 == "rows" && $2 == "members" { print $3 }' b/n1.set/MANIFEST)
	[ "$rows_b" = $((rows_a - 1)) ] || fail "members: a $rows_a, b $rows_b"
	# the growth of b's tables: its archive's, not a's of the same name
	run -0 as_head report --site b --csv
	assert_line --regexp "^month,[0-9]{4}-[0-9]{2},members,$rows_b,[0-9]+,$(stat -c %s b/n1.tar.gz.gpg)\$"
	run -0 as_head report --site a --csv
	assert_line --regexp "^month,[0-9]{4}-[0-9]{2},members,$rows_a,[0-9]+,$(stat -c %s a/n1.tar.gz.gpg)\$"

	# the restore: head office names the site; b's full, from b's medium
	run -1 gb-restore -c head.conf --at "$at" --list
	assert_output "gb-restore: no full archive at or before $at in the catalog host=$PGHOST port=$PGPORT dbname=$DB user=head for site hq"
	run -0 gb-restore -c head.conf --at "$at" --site b --list
	assert_line -n 0 "plan for the state at $at: 1 chain, 1 archive"
	assert_line -n 2 "  1  full         $snap_b  n1.tar.gz.gpg"
	assert_line -n 3 "      on U1 (onsite, file n1.tar.gz.gpg)"
	run -0 env GNUPGHOME="$KEYS/all" gb-restore -c head.conf --at "$at" \
	    --site b --media usb_b -d sqlite:b.db
	[ "$(sqlite3 b.db "SELECT count(*) FROM members")" = "$rows_b" ]
	run -0 env GNUPGHOME="$KEYS/all" gb-restore -c a.conf --at "$at" \
	    --media usb_a -d sqlite:a.db
	[ "$(sqlite3 a.db "SELECT count(*) FROM members")" = "$rows_a" ]
}

@test "gb-restore --test --site b on site a's host records no test: a warning, a's archive of the same name stays untested; its own test is a's" {
	make_gym_db gym.db
	seal_as a.conf a/n1
	seal_as b.conf b/n1
	mkdir usb_a usb_b
	gb-write -c a.conf --label U1 --pool daily usb_a >/dev/null
	gb-write -c b.conf --label U1 --pool daily usb_b >/dev/null
	run -0 gb-write -c a.conf usb_a a/n1
	run -0 gb-write -c b.conf usb_b b/n1
	run -0 env GNUPGHOME="$KEYS/all" gb-restore -c a.conf --test --site b \
	    usb_b/n1.tar.gz.gpg
	assert_line "gb-restore: warning: restore test of site b's archives not recorded: this host records site a's"
	assert_line "restore test: 1 archive, OK"
	[ "$(q "SELECT count(*) FROM checks WHERE kind = 'restore-test'")" = 0 ]
	run -0 env GNUPGHOME="$KEYS/all" gb-restore -c a.conf --test \
	    usb_a/n1.tar.gz.gpg
	refute_line --partial warning
	[ "$(q "SELECT site, archive, ok FROM checks WHERE kind = 'restore-test'")" = "a|n1.tar.gz.gpg|1" ]
}

# ------------------------------------------------------------- head office

@test "head office reads every site's media, archives and log through gb-catalog, and writes nothing" {
	a_rows
	mkdir usb_b
	gb-write -c b.conf --label B1 --pool daily usb_b >/dev/null
	local id
	id=$(as_b log start nightly-b)
	as_b log end "$id" failed --error "tape jammed" >/dev/null
	local before
	before=$(dump)

	run -0 as_head media
	assert_line --regexp '^U1 +dir +daily +usable +offsite '
	assert_line --regexp '^B1 +dir +daily +usable +onsite '
	run -0 as_head archives
	assert_line --regexp '^A1\.tar\.gz\.gpg +nightly +full '
	run -0 as_head log
	assert_line --regexp '^ *[0-9]+ +nightly +.* ok '
	assert_line --regexp '^ *[0-9]+ +weekly +.* running'
	assert_line --regexp "^ *$id +nightly-b +.* failed .*tape jammed\$"
	verify_all
	# while each site sees its own alone
	run -0 as_a media
	refute_line --regexp '^B1 '
	run -0 as_b log
	refute_line --regexp ' nightly +'
	refute_line --regexp ' weekly +'
	run -0 as_b archives
	refute_output --partial A1.tar.gz.gpg

	run -3 as_head media add H1 --kind dir --pool daily
	assert_output --regexp '^gb-catalog: catalog .*: permission denied for table media'
	run -3 as_head log start nightly
	assert_output --regexp '^gb-catalog: catalog .*: permission denied for table runs'
	local t
	for t in $ROW_TABLES; do
		run -1 sql_as head -c "UPDATE $t SET $(take $t)"
		assert_output "ERROR:  permission denied for table $t"
		run -1 sql_as head -c "DELETE FROM $t"
		assert_output "ERROR:  permission denied for table $t"
	done
	run -1 sql_as head -c "UPDATE sites SET name = name"
	assert_output "ERROR:  permission denied for table sites"
	run -1 sql_as head -c "INSERT INTO sites VALUES ('hq', 'head')"
	assert_output "ERROR:  permission denied for table sites"
	run -1 sql_as head -c "INSERT INTO runs(site, job, started, status) VALUES ('hq', 'j', 't', 'ok')"
	assert_output "ERROR:  permission denied for table runs"
	[ "$(dump)" = "$before" ]
}

# ------------------------------------------------------- labels and moves

@test "two sites each label U1 in their own pool daily: one medium each, each site sees its own" {
	mkdir usb_a usb_b
	run -0 gb-write -c a.conf --label U1 --pool daily usb_a
	run -0 gb-write -c b.conf --label U1 --pool daily usb_b
	[ "$(q "SELECT site, id, pool FROM media ORDER BY site")" = "a|U1|daily
b|U1|daily" ]
	[ "$(q "SELECT site, action, object FROM audit WHERE action = 'label' ORDER BY site")" = "a|label|U1
b|label|U1" ]
	run -0 as_a media
	assert_line -n 1 --regexp '^U1 +dir +daily +usable +onsite '
	[ "${#lines[@]}" = 2 ]
	run -0 as_b media
	assert_line -n 1 --regexp '^U1 +dir +daily +usable +onsite '
	[ "${#lines[@]}" = 2 ]
	run -0 as_head media
	assert_line -n 1 --regexp '^U1 +dir +daily +usable +onsite '
	assert_line -n 2 --regexp '^U1 +dir +daily +usable +onsite '
	[ "${#lines[@]}" = 3 ]
	run -0 as_a media show U1
	assert_line --regexp '^pool +daily$'
	run -0 as_a move U1 --to offsite
	assert_output "U1: onsite -> offsite"
	[ "$(q "SELECT site, location FROM media ORDER BY site")" = "a|offsite
b|onsite" ]
	# a second U1 at a is still refused
	mkdir usb_a2
	run -2 as_a media add U1 --kind dir --pool daily
	assert_output "gb-catalog: medium U1 is already in the catalog"
	verify_own as_a a
	verify_own as_b b
}

# two_u1: sites a and b each label U1 (empty directories usb_a, usb_b),
# and own_a.conf is site a's config run as the catalog owner, whom row
# level security does not bind: only the tools' own queries keep the two
# U1 apart.
two_u1() {
	mkdir -p usb_a usb_b
	gb-write -c a.conf --label U1 --pool daily usb_a >/dev/null ||
	    fail "a could not label U1"
	gb-write -c b.conf --label U1 --pool daily usb_b >/dev/null ||
	    fail "b could not label U1"
	site_conf own_a.conf a gb
}

# copy_of SITE ROLE NAME: an archive NAME of SITE and its good copy on
# the site's U1, written by the site's role.
copy_of() {
	sql_as "$2" -q <<EOF || fail "$2 could not write its own rows"
INSERT INTO archives(name, job, level, export_id, chain, site, source,
    snapshot, size, sha256, packed_size, packed_sha256, rows, seal,
    recorded_at) VALUES ('$3', 'nightly', 'full', 'e-$3', 'e-$3',
    '$1', 'gym', '2026-12-01T01:00:00Z', 10, 'aa', 9, 'ab', 5, 'seal',
    '2026-12-01T01:05:00Z');
INSERT INTO copies(site, archive, medium, position, status, started_at,
    written_at) VALUES ('$1', '$3', 'U1', '$3', 'good',
    '2026-12-01T01:06:00Z', '2026-12-01T01:07:00Z');
EOF
}

@test "the catalog owner with site a's config moves a's U1 alone, and shows a's: b's U1 and its movements unchanged" {
	two_u1
	run -0 gb-catalog -c own_a.conf move U1 --to offsite --by courier
	assert_output "U1: onsite -> offsite"
	[ "$(q "SELECT site, location FROM media ORDER BY site")" = "a|offsite
b|onsite" ]
	[ "$(q "SELECT site, medium, from_loc, to_loc, by FROM movements")" = \
	    "a|U1|onsite|offsite|courier" ]
	run -0 gb-catalog -c own_a.conf media show U1
	assert_line --regexp '^location +offsite$'
	run -0 gb-catalog -c own_a.conf move U1 --to onsite
	assert_output "U1: offsite -> onsite"
	[ "$(q "SELECT site, location FROM media ORDER BY site")" = "a|onsite
b|onsite" ]
	# b's U1 moved by b is b's alone, and a's is back: "already onsite"
	as_b move U1 --to offsite >/dev/null || fail "b: move"
	run -2 gb-catalog -c own_a.conf move U1 --to onsite
	assert_output "gb-catalog: medium U1 is already onsite"
	[ "$(q "SELECT site, location FROM media ORDER BY site")" = "a|onsite
b|offsite" ]
	verify_all
}

@test "head office's copies and media list show each copy against its own site's U1: a's offsite, b's onsite, one copy each" {
	two_u1
	as_a move U1 --to offsite >/dev/null || fail "a: move"
	copy_of a site_a A1.tar.gz.gpg
	copy_of b site_b B1.tar.gz.gpg
	run -0 as_head copies
	assert_line -n 1 --regexp '^A1\.tar\.gz\.gpg +U1 +offsite +A1\.tar\.gz\.gpg +good '
	assert_line -n 2 --regexp '^B1\.tar\.gz\.gpg +U1 +onsite +B1\.tar\.gz\.gpg +good '
	[ "${#lines[@]}" = 3 ]
	run -0 as_head copies A1.tar.gz.gpg
	assert_line -n 1 --regexp '^A1\.tar\.gz\.gpg +U1 +offsite '
	[ "${#lines[@]}" = 2 ]
	run -0 as_head media
	assert_line -n 1 --regexp '^U1 +dir +daily +usable +offsite +[0-9.]+ ?[KMG]?B? +1 *$'
	assert_line -n 2 --regexp '^U1 +dir +daily +usable +onsite +[0-9.]+ ?[KMG]?B? +1 *$'
	[ "${#lines[@]}" = 3 ]
	# and as the owner, site a's config: the same rows
	run -0 gb-catalog -c own_a.conf copies
	assert_line -n 1 --regexp '^A1\.tar\.gz\.gpg +U1 +offsite '
	assert_line -n 2 --regexp '^B1\.tar\.gz\.gpg +U1 +onsite '
	[ "${#lines[@]}" = 3 ]
	run -0 gb-catalog -c own_a.conf media show U1
	assert_line --regexp '^  A1\.tar\.gz\.gpg +A1\.tar\.gz\.gpg +good '
	refute_output --partial B1.tar.gz.gpg
}

@test "gb-write to a's U1 as the catalog owner with site a's config records the copy against a's U1 alone: b's U1 and its copy unchanged" {
	make_gym_db gym.db
	gb-export -c a.conf -s sqlite:gym.db -j nightly -o a1.set 2>/dev/null ||
	    fail "gb-export failed"
	gb-pack -l 1 a1.set >a1.tar.gz
	gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o a1 <a1.tar.gz ||
	    fail "gb-seal failed"
	two_u1
	copy_of b site_b B1.tar.gz.gpg
	local before
	before=$(psqlc -d "$DB" -c "SELECT m::text FROM media m WHERE site = 'b'"
	    psqlc -d "$DB" -c "SELECT c::text FROM copies c WHERE site = 'b'")
	run -0 gb-write -c own_a.conf usb_a a1
	[ -f usb_a/a1.tar.gz.gpg ] || fail "$(ls usb_a)"
	[ "$(psqlc -d "$DB" -c "SELECT m::text FROM media m WHERE site = 'b'"
	    psqlc -d "$DB" -c "SELECT c::text FROM copies c WHERE site = 'b'")" = \
	    "$before" ]
	[ "$(q "SELECT site, archive, medium, status FROM copies ORDER BY site")" = \
	    "a|a1.tar.gz.gpg|U1|good
b|B1.tar.gz.gpg|U1|good" ]
	[ "$(q "SELECT site, bytes_used > 0, last_written IS NOT NULL FROM media ORDER BY site")" = \
	    "a|t|t
b|f|f" ]
	# a's index lists a's archive alone
	run -0 grep -v '^#' usb_a/GYMBACKUP.INDEX
	assert_line -n 0 --regexp '^a1\.tar\.gz\.gpg	'
	[ "${#lines[@]}" = 1 ]
	run -0 gb-verify -c own_a.conf --media usb_a a1
	assert_line "a1.tar.gz.gpg: OK on U1"
	[ "$(q "SELECT site, archive, medium, verified_at IS NOT NULL FROM copies ORDER BY site")" = \
	    "a|a1.tar.gz.gpg|U1|t
b|B1.tar.gz.gpg|U1|f" ]
}

@test "U1 moves from site a to site b: transit with a, onsite with b, the movement in both chains, every chain verifies; a name b has already cannot come in" {
	mkdir usb1 usb2 usb3
	gb-write -c a.conf --label U1 --pool daily usb1 >/dev/null
	gb-write -c a.conf --label U2 --pool daily usb2 >/dev/null
	gb-write -c b.conf --label U2 --pool daily usb3 >/dev/null

	run -2 as_a move U1 --to-site nowhere
	assert_output "gb-catalog: no site nowhere in the catalog (gb-catalog site list shows them)"
	run -2 as_a move U1 --to-site a
	assert_output "gb-catalog: medium U1 is site a's already"
	run -2 as_a move U1 --to-site b --to offsite
	assert_output "gb-catalog: move takes --to or --to-site, not both"
	run -0 as_a move U1 --to-site b --by courier --why "b's drive broke"
	assert_output "U1: onsite -> transit, to site b"
	[ "$(q "SELECT site, location, to_site FROM media WHERE id = 'U1'")" = "a|transit|b" ]
	run -2 as_a move U1 --to-site b
	assert_output "gb-catalog: medium U1 is on its way to site b already"
	# b sees it coming, a still has it
	run -0 as_b media
	assert_line -n 1 --regexp '^U1 +dir +daily +usable +transit '
	run -0 as_a media show U1
	assert_line --regexp '^location +transit$'
	run -0 as_b receive U1 --by alice
	assert_output "U1: transit -> onsite, from site a"
	[ "$(q "SELECT site, location, coalesce(to_site, '-'), pool FROM media WHERE id = 'U1'")" = "b|onsite|-|daily" ]
	[ "$(q "SELECT site, from_loc, to_loc, by, why FROM movements WHERE medium = 'U1' ORDER BY id")" = \
	    "a|onsite|transit|courier|to site b: b's drive broke
b|transit|onsite|alice|from site a" ]
	[ "$(q "SELECT action, detail FROM audit WHERE site = 'a' AND object = 'U1' ORDER BY seq DESC LIMIT 1")" = \
	    "move|onsite -> transit by courier, to site b: b's drive broke" ]
	[ "$(q "SELECT action, detail FROM audit WHERE site = 'b' AND object = 'U1' ORDER BY seq DESC LIMIT 1")" = \
	    "receive|transit -> onsite by alice, from site a" ]
	run -0 as_b media show U1
	assert_line --regexp '^location +onsite$'
	assert_line --regexp ' transit -> onsite by alice from site a$'
	run -2 as_a media show U1
	assert_output "gb-catalog: no medium U1 in the catalog"
	run -2 as_b receive U1
	assert_output "gb-catalog: medium U1 is site b's already"
	verify_own as_a a
	verify_own as_b b
	verify_all

	# b has a U2 of its own: a's U2 cannot come in under that name
	run -0 as_a move U2 --to-site b
	local before
	before=$(dump)
	run -2 as_b receive U2
	assert_output "gb-catalog: site b has a medium U2 already, and site a's U2 cannot take its name; site a takes it back (gb-catalog move U2 --to onsite) and gives it a new label"
	[ "$(dump)" = "$before" ]
	run -0 as_a move U2 --to onsite
	assert_output "U2: transit -> onsite"
	[ "$(q "SELECT site, location, coalesce(to_site, '-') FROM media WHERE id = 'U2' ORDER BY site")" = "a|onsite|-
b|onsite|-" ]
	run -2 as_b receive U2
	assert_output "gb-catalog: medium U2 is site b's already"
	verify_all
}

# ---------------------------------------------------------------- the trail

@test "the audit trail: no role changes it, the owner neither; a site reads its own trail and nobody else's rows" {
	a_rows
	mkdir usb_b
	gb-write -c b.conf --label B1 --pool daily usb_b >/dev/null
	local before t
	before=$(dump)

	for t in "UPDATE audit SET detail = 'x'" "DELETE FROM audit" "TRUNCATE audit"; do
		run -1 sql_as site_a -c "$t"
		assert_output "ERROR:  permission denied for table audit"
		run -1 sql_as gb -c "$t"
		assert_output --regexp '^ERROR:  the audit trail is append-only'
	done
	run -1 sql_as site_a -c "UPDATE checkpoints SET text = 'x'"
	assert_output "ERROR:  permission denied for table checkpoints"
	[ "$(dump)" = "$before" ]

	for t in $ROW_TABLES; do
		[ "$(sql_as site_b -c "SELECT count(*) FROM $t WHERE $(of_a $t)")" = 0 ] ||
		    fail "site_b reads site a's rows of $t"
		[ "$(sql_as site_a -c "SELECT count(*) FROM $t WHERE $(of_a $t)")" = \
		    "$(q "SELECT count(*) FROM $t WHERE $(of_a $t)")" ] ||
		    fail "site_a does not read all its rows of $t"
	done
	[ "$(sql_as site_b -c "SELECT count(*) FROM audit")" = \
	    "$(q "SELECT count(*) FROM audit WHERE site = 'b'")" ]
	run -0 as_b audit
	refute_output --partial "U1"
	refute_output --partial "A1.tar.gz.gpg"
	assert_output --partial "B1"
	verify_own as_a a
	verify_own as_b b
}

@test "a site cannot take the ids the others' rows will get: an id is the catalog's to give, never given nor changed by a site; site b still logs its runs" {
	local id t
	id=$(as_a log start nightly) || fail "a: log start"
	# the ids the next rows would get, taken ahead by site a
	for t in runs movements checks; do
		run -1 sql_as site_a -c "UPDATE $t SET id = id + 1 WHERE site = 'a'"
		assert_output "ERROR:  permission denied for table $t"
	done
	run -1 sql_as site_a -c "INSERT INTO runs(id, site, job, started, status) SELECT g, 'a', 'x', 't', 'ok' FROM generate_series($id + 1, $id + 100) g"
	assert_output "ERROR:  permission denied for table runs"
	run -1 sql_as site_a -c "INSERT INTO runs(id, site, job, started, status) OVERRIDING SYSTEM VALUE VALUES ($id + 1, 'a', 'x', 't', 'ok')"
	assert_output "ERROR:  permission denied for table runs"
	[ "$(q "SELECT count(*) FROM runs")" = 1 ]
	run -0 as_b log start nightly
	assert_output "$((id + 1))"
	[ "$(q "SELECT id, site, job FROM runs ORDER BY id")" = "$id|a|nightly
$((id + 1))|b|nightly" ]
}

@test "a site's own history is append-only: its restore tests, custody movements and archives' tables are added, never rewritten (refused), as the audit trail" {
	a_rows
	as_a tested A1.tar.gz.gpg failed --detail "members: 2 rows short" 2>/dev/null ||
	    fail "a: tested failed"
	local before t
	before=$(dump)
	declare -A upd=(
	    [checks]="UPDATE checks SET ok = 1, detail = 'fine' WHERE site = 'a' AND ok = 0"
	    [movements]="UPDATE movements SET to_loc = 'onsite', by = 'nobody' WHERE site = 'a'"
	    [archive_tables]="UPDATE archive_tables SET rows = 6, sha256 = 'ff' WHERE archive = 'A1.tar.gz.gpg'"
	)
	for t in checks movements archive_tables; do
		run -1 sql_as site_a -c "${upd[$t]}"
		assert_output "ERROR:  permission denied for table $t"
	done
	[ "$(dump)" = "$before" ]
	[ "$(q "SELECT ok, detail FROM checks WHERE site = 'a' ORDER BY id")" = "1|by hand
0|members: 2 rows short" ]
}

# hold ROLE SQL...: a psql session as ROLE, in the background, that runs
# SQL and then sleeps a minute (in SQL's transaction, if it began one);
# holder is its pid once it sleeps.
hold() {
	local role=$1 i
	shift
	psql -X -q -U "$role" -d "$DB" "$@" -c "SELECT pg_sleep(60)" \
	    >/dev/null 2>&1 &
	holder=$!
	for i in $(seq 100); do
		[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE usename = '$role' AND query = 'SELECT pg_sleep(60)'")" = 1 ] && return 0
		sleep 0.1
	done
	fail "$role's session did not get to its pg_sleep"
}

# unhold: hold's session ended, its locks let go.
unhold() {
	q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'" >/dev/null
	wait "$holder" || true
}

@test "a site's writers queue on a lock no other site can take: site_b holding a's old advisory key, or trying a's lock row, hangs none of a's writers; head office locks none" {
	local holder
	[ "$(pg_rows "$DB" site_locks)" = "(a,0)
(b,0)" ]
	hold site_b -c "SELECT pg_advisory_lock(hashtextextended('gymbackup site a', 0))" \
	    -c "BEGIN" -c "SELECT 1 FROM site_locks WHERE site = 'a' FOR UPDATE"
	[ "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" = 1 ]
	GB_CATALOG_TIMEOUT=3 run -0 timeout 30 gb-catalog -c "$W/a.conf" log start nightly
	assert_output "$(q "SELECT max(id) FROM runs")"
	GB_CATALOG_TIMEOUT=3 run -0 timeout 30 gb-catalog -c "$W/a.conf" media add A9 --kind dir --pool daily
	[ "$(q "SELECT r.site, r.job, r.status, m.site FROM runs r, media m WHERE m.id = 'A9'")" = "a|nightly|running|a" ]
	unhold
	# a's lock row: not there for b nor head office, to lock or change
	local who
	for who in site_b head; do
		run -0 sql_as "$who" -c "SELECT site FROM site_locks WHERE site = 'a' FOR UPDATE"
		assert_output ""
		run -0 sql_as "$who" -c "UPDATE site_locks SET n = n + 1 WHERE site = 'a'"
		assert_output "UPDATE 0"
	done
	run -0 sql_as head -c "SELECT site FROM site_locks FOR UPDATE"
	assert_output ""
	run -0 sql_as site_b -c "SELECT site FROM site_locks FOR UPDATE"
	assert_output "b"
	run -1 sql_as site_b -c "UPDATE site_locks SET site = 'a' WHERE site = 'b'"
	assert_output "ERROR:  permission denied for table site_locks"
	run -1 sql_as site_b -c "INSERT INTO site_locks VALUES ('c')"
	assert_output "ERROR:  permission denied for table site_locks"
	run -1 sql_as site_b -c "DELETE FROM site_locks"
	assert_output "ERROR:  permission denied for table site_locks"
	[ "$(pg_rows "$DB" site_locks)" = "(a,0)
(b,0)" ]
}

@test "a site's writer waits GB_CATALOG_TIMEOUT for another writer of its site, then exits 3, nothing written; other sites go on" {
	local holder before
	hold site_a -c "BEGIN" -c "SELECT 1 FROM site_locks WHERE site = 'a' FOR UPDATE"
	before=$(dump)
	GB_CATALOG_TIMEOUT=2 run -3 timeout 30 gb-catalog -c "$W/a.conf" log start nightly
	assert_output "gb-catalog: catalog host=$PGHOST port=$PGPORT dbname=$DB user=site_a: cannot begin a transaction: canceling statement due to lock timeout"
	[ "$(dump)" = "$before" ]
	# b's own writes do not wait on a's lock
	GB_CATALOG_TIMEOUT=2 run -0 timeout 30 gb-catalog -c "$W/b.conf" log start nightly
	unhold
	GB_CATALOG_TIMEOUT=2 run -0 timeout 30 gb-catalog -c "$W/a.conf" log start nightly
	[ "$(q "SELECT site, job FROM runs ORDER BY id")" = "b|nightly
a|nightly" ]
}
