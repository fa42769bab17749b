#!/usr/bin/env bats
# gb-export from a real PostgreSQL server (a throwaway cluster, tests/pg.bash):
# every type round trips, the CSV is the export dialect byte for byte, one
# snapshot while a writer runs, incrementals, and each failure (password,
# database, table, lock, lost connection) a clear error with nothing left.

load helper
load pg

setup_file() { pg_start; }
teardown_file() { pg_stop; }

# load_back DB SCHEMA_SQL DIR: SCHEMA.sql through psql into DB, then every
# CSV of export set DIR with psql's \copy: no gymbackup code involved.
load_back() {
	local db=$1 set=$2 t f
	new_db "$db"
	psqlc -d "$db" -f "$set/SCHEMA.sql" >/dev/null || return 1
	while IFS=$'\t' read -r t f; do
		psqlc -d "$db" -c "\\copy $t FROM '$set/$f' (FORMAT csv, HEADER)" ||
		    return 1
	done < <(awk -F'\t' '$1 == "table" { print $2 "\t" $3 }' "$set/MANIFEST")
}

@test "full export: every type, the manifest names the server, never a password" {
	pg_gym_db gym
	run gb-export -s "postgresql:///gym" -o out
	assert_success
	assert_equal "$(mf out/MANIFEST source)" "postgresql	$PGHOST/$PGPORT/gym"
	assert_equal "$(mf_tables out/MANIFEST | tr '\n' ' ')" \
	    'public.consumptions public.members public.nokey public.promotions public.stores public.types sales."odd.table" sales.orders '
	assert_equal "$(mf out/MANIFEST table 'sales."odd.table"')" \
	    'sales.%22odd.table%22.csv'
	assert_equal "$(mf out/MANIFEST key public.members)" id
	assert_equal "$(mf out/MANIFEST key sales.orders)" 'Order Id'
	assert_equal "$(mf out/MANIFEST key public.nokey)" -
	assert_equal "$(mf out/MANIFEST rows public.members)" 13
	assert_equal "$(mf out/MANIFEST rows public.types)" 4
	verify_set out
	for f in out/*.csv; do
		csv_quoting "$f" || fail "$f: quoting"
	done
	run grep -ri -e secret -e password out/MANIFEST
	assert_failure
	stat -c %a out out/MANIFEST out/public.members.csv | sort -u | tr '\n' ' ' |
	    grep -qx '600 700 ' || fail "modes: $(stat -c '%a %n' out out/*)"
}

@test "every value round trips: SCHEMA.sql and the CSVs load back with psql alone" {
	pg_gym_db gym
	psqlc -d gym -c "INSERT INTO promotions VALUES (15, 'NEG0', '-0', '-0', NULL, now())"
	gb-export -s "postgresql:///gym" -o out
	load_back back out
	local t
	for t in public.consumptions public.members public.nokey public.promotions \
	    public.stores public.types 'sales."odd.table"' sales.orders; do
		assert_pg_same gym "$t" back "$t"
	done
	# the columns' types came back too
	assert_equal "$(psqlc -d back -c "SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attnum)
	    FROM pg_attribute WHERE attrelid = 'public.types'::regclass AND attnum > 0")" \
	    'smallint,numeric,numeric(12,2),timestamp with time zone,timestamp without time zone,date,boolean,real,double precision,bytea,character varying(10),character(4),json,interval,uuid'
	assert_equal "$(psqlc -d back -c "SELECT indexdef FROM pg_indexes WHERE indexname = 'members_phone'")" \
	    'CREATE INDEX members_phone ON public.members USING btree (phone DESC)'
}

@test "values in the export dialect: times in UTC, floats shortest, bytea hex, NULL and \"\"" {
	pg_gym_db gym
	gb-export -s "postgresql:///gym" -t public.types -t public.promotions \
	    -t public.members -o out
	run csvcheck col out/public.types.csv id n n2 ts b r f by c
	assert_line --index 0 $'1\t12345678901234567890.123456789\t0.10\t2026-06-30 21:59:59.123456+00\tt\t3.4\t0.1\t\\xdeadbeef\tab  '
	assert_line --index 2 $'3\tNaN\t\\N\tinfinity\t\\N\tNaN\tInfinity\t\\N\t\\N'
	assert_line --index 3 $'4\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N'
	run csvcheck col out/public.promotions.csv id discount_pct
	assert_line $'3\t1e+300'
	assert_line $'4\t4.94065645841247e-324'
	assert_line $'10\t0.30000000000000004'
	assert_line $'14\t12345678901234568'
	assert_line $'8\t-Infinity'
	run csvcheck col out/public.members.csv id phone
	assert_line $'1\t\\N'
	assert_line $'2\t'
	assert_line $'7\t\\N'
	assert_line $'13\t\\'
	# an empty string is "", NULL is nothing, edge spaces and "\." quoted
	grep -q '^2,C0002,李娜,"",' out/public.members.csv
	grep -q '^4,C0004," leading",' out/public.members.csv
	grep -q '^13,C0013,"\\.",\\,' out/public.members.csv
	grep -q '^1,C0001,张伟,,gold,' out/public.members.csv
	# rows in key order, text keys in byte order
	assert_equal "$(csvcheck col 'out/public.members.csv' id | tr '\n' ' ')" \
	    '1 2 3 4 5 6 7 8 9 10 11 12 13 '
}

@test "the same table gives the same bytes from PostgreSQL as from SQLite" {
	make_gym_db gym.db
	gb-export -s "sqlite:$W/gym.db" -o lite
	# the SQLite tables in PostgreSQL, filled by psql from that export
	new_db same
	sed -e 's/ REFERENCES [a-z_]*([a-z_]*)//' -e 's/\bINTEGER\b/bigint/g' \
	    -e 's/\bREAL\b/double precision/g' -e 's/\bBLOB\b/bytea/g' \
	    -e 's/\bTEXT\b/text COLLATE "C"/g' "$SCHEMA_SQL" >pg.sql
	psqlc -d same -f pg.sql >/dev/null
	local t
	for t in $(db_tables gym.db); do
		psqlc -d same -c "\\copy $t FROM '$W/lite/$t.csv' (FORMAT csv, HEADER)"
	done
	gb-export -s "postgresql:///same" -o pg
	for t in $(db_tables gym.db); do
		cmp "lite/$t.csv" "pg/public.$t.csv" ||
		    fail "$t: $(diff "lite/$t.csv" "pg/public.$t.csv" | head)"
	done
}

@test "SCHEMA.sql: PostgreSQL DDL that psql runs, and the SQLite dialect in its comments" {
	pg_gym_db gym
	gb-export -s "postgresql:///gym" -o out
	head -n 1 out/SCHEMA.sql | grep -q 'dialect postgresql'
	new_db ddl
	psqlc -d ddl -f out/SCHEMA.sql >/dev/null
	assert_equal "$(psqlc -d ddl -c '\dt *.*' | awk -F'|' '$1 == "public" || $1 == "sales" { print $1 "." $2 }' | tr '\n' ' ')" \
	    'public.consumptions public.members public.nokey public.promotions public.stores public.types sales.odd.table sales.orders '
	# recovery without gymbackup, into SQLite
	sed -n 's/^-- sqlite: //p' out/SCHEMA.sql | sqlite3 -bail lite.db
	assert_equal "$(db_tables lite.db | tr '\n' ' ')" \
	    'consumptions members nokey odd.table orders promotions stores types '
	assert_equal "$(sqlite3 lite.db "SELECT type FROM pragma_table_info('types') ORDER BY cid" | tr '\n' ' ')" \
	    'INTEGER TEXT TEXT TEXT TEXT TEXT TEXT REAL REAL BLOB TEXT TEXT TEXT TEXT TEXT '
	assert_equal "$(sqlite3 lite.db "SELECT type FROM pragma_table_info('promotions') WHERE name = 'bonus_amount'")" INTEGER
	sqlite3 lite.db "SELECT sql FROM sqlite_schema WHERE name = 'members_phone'" |
	    grep -q 'members_phone" ON "members" (phone DESC)'
}

@test "money sums and a non-integer money value (exit 3 naming the row)" {
	pg_gym_db gym
	pg_conf gym.conf gym
	gb-export -c gym.conf -o out
	assert_equal "$(mf out/MANIFEST money public.members)" $'balance\t999876666855'
	assert_equal "$(mf out/MANIFEST money public.consumptions)" $'amount\t500000'
	assert_equal "$(mf out/MANIFEST money public.promotions)" $'bonus_amount\t123456799012'
	assert_equal "$(mf out/MANIFEST money sales.orders)" $'amount\t95'
	assert_equal "$(mf out/MANIFEST key sales.orders)" 'Order Id'
	psqlc -d gym -c "ALTER TABLE promotions ALTER bonus_amount TYPE numeric(14, 2)"
	run gb-export -c gym.conf -o out2
	assert_failure 3
	assert_output --partial "table public.promotions: money column bonus_amount holds a value that is not an integer at id=12"
	assert_clean out2
}

@test "incremental: the changed rows whatever their timestamptz watermark, in one snapshot" {
	pg_gym_db gym
	pg_conf gym.conf gym
	gb-export -c gym.conf -t public.members -t public.stores -o full
	assert_equal "$(mf full/MANIFEST watermark public.members)" \
	    $'updated_at\ttimestamptz\t-\t2026-01-01 00:00:12+00'
	psqlc -d gym -c "UPDATE members SET balance = balance + 100,
	    updated_at = '2026-01-01 08:00:12.5+08' WHERE id IN (2, 5)" \
	    -c "INSERT INTO members VALUES (14, 'C0014', 'new', NULL, 'gold', 1,
	    'active', 1, NULL, NULL, now(), '2026-02-01 00:00:01+00')"
	run gb-export -c gym.conf -i full/MANIFEST -t public.members -t public.stores -o incr
	assert_success
	assert_equal "$(mf incr/MANIFEST level)" incremental
	assert_equal "$(mf incr/MANIFEST base)" "$(mf full/MANIFEST id)"
	# exact: the changed and new rows; no watermark recorded
	assert_equal "$(mf incr/MANIFEST watermark public.members)" ""
	assert_equal "$(mf incr/MANIFEST change public.members)" delta
	assert_equal "$(csvcheck col incr/public.members.csv id | tr '\n' ' ')" '2 5 14 '
	assert_equal "$(mf incr/MANIFEST money public.members)" $'balance\t206'
	# nothing new: no rows
	assert_equal "$(mf incr/MANIFEST rows public.stores)" 0
	# a row changed under a watermark that went back, and one deleted
	psqlc -d gym -c "UPDATE members SET note = 'back', updated_at = '2000-01-01+00' WHERE id = 7" \
	    -c "DELETE FROM members WHERE id = 14"
	gb-export -c gym.conf -i incr/MANIFEST -t public.members -o incr2
	assert_equal "$(csvcheck col incr2/public.members.csv id | tr '\n' ' ')" '7 '
	assert_equal "$(cat incr2/public.members+deleted.csv)" "$(printf 'id\n14')"
	assert_equal "$(mf incr2/MANIFEST total public.members | cut -f1)" \
	    "$(psqlc -d gym -c 'SELECT count(*) FROM members')"
}

@test "incremental from another server or database: exit 2" {
	pg_gym_db gym
	pg_gym_db gym2
	pg_conf gym.conf gym
	gb-export -c gym.conf -t public.members -o full
	run gb-export -c gym.conf -s "postgresql:///gym2" -i full/MANIFEST -t public.members -o incr
	assert_failure 2
	assert_output --partial "same source"
	assert_clean incr
}

@test "an export while a writer runs: one snapshot, the invariants hold" {
	new_db busy
	psqlc -d busy <<'EOF'
CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL);
CREATE TABLE ledger (id bigint PRIMARY KEY, account bigint NOT NULL, amount bigint NOT NULL);
CREATE TABLE stop (x int);
INSERT INTO accounts SELECT i, 1000 FROM generate_series(1, 200000) i;
EOF
	cat >busy.conf <<'EOF'
[table public.accounts]
money = balance
[table public.ledger]
money = amount
[table public.stop]
EOF
	# Each transaction moves 7 from an account to the ledger: balances
	# plus ledger always total 200 000 000, and the ledger ids count them.
	psqlc -d busy >writer.out 2>&1 <<'EOF' &
DO $$
DECLARE
	i bigint := 0;
	deadline timestamptz := clock_timestamp() + interval '60 s';
BEGIN
	WHILE clock_timestamp() < deadline AND NOT EXISTS (SELECT 1 FROM stop) LOOP
		i := i + 1;
		UPDATE accounts SET balance = balance - 7 WHERE id = 1 + (i * 7919) % 200000;
		INSERT INTO ledger VALUES (i, 1 + (i * 7919) % 200000, 7);
		COMMIT;
	END LOOP;
END $$;
EOF
	local writer=$! i before after n
	bg_started $writer
	for i in $(seq 100); do
		[ "$(psqlc -d busy -c 'SELECT count(*) FROM ledger')" -gt 100 ] && break
		sleep 0.05
	done
	before=$(psqlc -d busy -c 'SELECT count(*) FROM ledger')
	for n in 1 2 3; do
		gb-export -c busy.conf -s "postgresql:///busy" -o "out$n"
	done
	after=$(psqlc -d busy -c 'SELECT count(*) FROM ledger')
	psqlc -d busy -c 'INSERT INTO stop VALUES (1)'
	wait "$writer" || fail "writer: $(cat writer.out)"
	[ "$after" -gt "$before" ] || fail "the writer did not write during the exports"
	for n in 1 2 3; do
		local bal led rows
		bal=$(mf "out$n/MANIFEST" money public.accounts | cut -f2)
		led=$(mf "out$n/MANIFEST" money public.ledger | cut -f2)
		rows=$(mf "out$n/MANIFEST" rows public.ledger)
		assert_equal "$((bal + led))" 200000000
		assert_equal "$led" "$((rows * 7))"
		# and the ledger holds exactly the transactions 1..rows
		assert_equal "$(tail -n 1 "out$n/public.ledger.csv" | cut -d, -f1)" "$rows"
		verify_set "out$n"
	done
}

# parts_db DB: a table of 300 000 rows keyed by one bigint, from -150 000
# up, sparse at the top (big enough to be read in parts), with values
# COPY writes otherwise than the export (edge spaces, "\.", floats), and
# two small tables: a text key and no key.  DB.conf sums its money.
parts_db() {
	new_db "$1"
	psqlc -d "$1" <<'EOF'
CREATE TABLE big (id bigint PRIMARY KEY, note text, amount bigint NOT NULL,
    ratio double precision);
INSERT INTO big SELECT CASE WHEN i < 290000 THEN i - 150000 ELSE i * 1000 END,
    CASE i % 5 WHEN 0 THEN NULL WHEN 1 THEN ' edge ' WHEN 2 THEN '\.'
    WHEN 3 THEN 'a,"b"' ELSE 'n' || i END, i % 1000, i / 3.0
    FROM generate_series(0, 299999) i;
CREATE TABLE codes (code text PRIMARY KEY, n int);
INSERT INTO codes SELECT 'c' || i, i FROM generate_series(1, 500) i;
CREATE TABLE loose (a int, b text);
INSERT INTO loose SELECT i % 7, 'x' || i FROM generate_series(1, 500) i;
EOF
	printf '[table public.big]\nmoney = amount\n[table public.codes]\n[table public.loose]\n' \
	    >"$1.conf"
}

# same_set A B: the export sets A and B hold the same bytes (but the
# MANIFEST's id and times).
same_set() {
	local f
	for f in "$1"/*.csv "$1"/SCHEMA.sql; do
		cmp "$f" "$2/${f##*/}" || fail "${f##*/} differs"
	done
	diff <(grep -Ev '^(id|snapshot|created)	' "$1/MANIFEST") \
	    <(grep -Ev '^(id|snapshot|created)	' "$2/MANIFEST") ||
	    fail "the manifests differ"
}

@test "-P 1 and -P 4: the same bytes; a table keyed by one integer is read in parts" {
	parts_db parts
	# no state kept: the big table splits
	env -u HOME -u XDG_STATE_HOME gb-export -c parts.conf -s postgresql:///parts -P 1 -o one
	run env -u HOME -u XDG_STATE_HOME gb-export -v -c parts.conf -s postgresql:///parts -P 4 -o four
	assert_success
	assert_line "gb-export: 4 threads on one snapshot"
	assert_line "gb-export: public.big: 300000 rows, $(stat -c %s four/public.big.csv) bytes, read in parts"
	assert_line "gb-export: public.codes: 500 rows, $(stat -c %s four/public.codes.csv) bytes"
	same_set one four
	verify_set four
	# every row once, in key order
	assert_equal "$(tail -n +2 four/public.big.csv | cut -d, -f1 | md5sum)" \
	    "$(psqlc -d parts -c 'SELECT id FROM big ORDER BY id' | md5sum)"
	assert_equal "$(mf four/MANIFEST money public.big)" \
	    "amount	$(psqlc -d parts -c 'SELECT sum(amount) FROM big')"
	assert_equal "$(sed -n 2,5p four/public.big.csv)" '-150000,,0,0
-149999," edge ",1,0.3333333333333333
-149998,"\.",2,0.6666666666666666
-149997,"a,""b""",3,1'
	# with the state of exact incrementals kept: the same bytes again
	gb-export -c parts.conf -s postgresql:///parts -S state -P 4 -o kept
	same_set one kept
}

@test "-P 2: a write between the connections' starts is in no part of the export" {
	parts_db snap
	env -u HOME -u XDG_STATE_HOME gb-export -c snap.conf -s postgresql:///snap -P 1 -o before
	# libpq reads the password file at each connection: gb-export stops
	# just after the second connection's read, the first one's snapshot
	# taken and shared, the second not yet on it
	echo 'elsewhere:5432:*:*:none' >pgpass
	chmod 600 pgpass
	make -s -C "$TOP" tests/faultinject.so >/dev/null
	env -u HOME -u XDG_STATE_HOME PGPASSFILE="$W/pgpass" \
	    LD_PRELOAD="$TOP/tests/faultinject.so" \
	    GB_FAULT="stopafter:open:2@$W/pgpass" \
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	    gb-export -v -c snap.conf -s postgresql:///snap -P 2 -o out \
	    >export.out 2>&1 &
	local pid=$! i
	bg_started $pid
	for i in $(seq 200); do
		[ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = T ] && break
		sleep 0.05
	done
	[ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = T ] ||
	    fail "gb-export did not stop at its second connection: $(cat export.out)"
	# every row of every part changes, rows come and go
	psqlc -d snap -c "UPDATE big SET amount = amount + 1, note = 'new'" \
	    -c "DELETE FROM big WHERE id % 1000 = 0" \
	    -c "INSERT INTO big SELECT i, 'late', 1 FROM generate_series(400000000, 400000999) i"
	kill -CONT "$pid"
	wait "$pid" || fail "gb-export failed: $(cat export.out)"
	grep -qx 'gb-export: 2 threads on one snapshot' export.out ||
	    fail "not two threads: $(cat export.out)"
	grep -q '^gb-export: public.big: 300000 rows, .*, read in parts$' export.out ||
	    fail "not read in parts: $(cat export.out)"
	same_set before out
	verify_set out
}

@test "-P 4 where the role may open 2 connections: 2 threads, a warning saying why, the same bytes" {
	parts_db few
	psqlc -d few -c "CREATE ROLE gbfew LOGIN CONNECTION LIMIT 2" \
	    -c "GRANT SELECT ON big, codes, loose TO gbfew"
	env -u HOME -u XDG_STATE_HOME gb-export -c few.conf -s postgresql:///few -P 1 -o one
	run env -u HOME -u XDG_STATE_HOME gb-export -v -c few.conf \
	    -s "postgresql:///few?user=gbfew" -P 4 -o two
	assert_success
	assert_line --partial "gb-export: warning: $PGHOST/$PGPORT/few: 2 connections, not 4: "
	assert_line --partial 'too many connections for role "gbfew"'
	assert_line "gb-export: 2 threads on one snapshot"
	same_set one two
}

@test "-P 2: a schema change queued during the export waits for it, the export goes on" {
	parts_db queue
	env -u HOME -u XDG_STATE_HOME gb-export -c queue.conf -s postgresql:///queue -P 1 -o before
	# stopped once SCHEMA.sql is written: every table locked, none read
	make -s -C "$TOP" tests/faultinject.so >/dev/null
	env -u HOME -u XDG_STATE_HOME LD_PRELOAD="$TOP/tests/faultinject.so" \
	    GB_FAULT="stopafter:write:1" GB_FAULT_PATH="$W/out" \
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	    gb-export -v -w 2 -c queue.conf -s postgresql:///queue -P 2 -o out \
	    >export.out 2>&1 &
	local pid=$! i
	bg_started $pid
	for i in $(seq 200); do
		[ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = T ] && break
		sleep 0.05
	done
	[ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = T ] ||
	    fail "gb-export did not stop: $(cat export.out)"
	psqlc -d queue -c "ALTER TABLE big ADD COLUMN late int" >alter.out 2>&1 &
	local alter=$!
	bg_started $alter
	for i in $(seq 200); do
		[ "$(psqlc -d queue -c "SELECT count(*) FROM pg_locks WHERE NOT granted AND mode = 'AccessExclusiveLock'")" = 1 ] && break
		sleep 0.05
	done
	[ "$i" -lt 200 ] || fail "the ALTER TABLE did not queue"
	kill -CONT "$pid"
	wait "$pid" || fail "gb-export failed: $(cat export.out)"
	wait "$alter" || fail "ALTER TABLE failed: $(cat alter.out)"
	grep -qx 'gb-export: 2 threads on one snapshot' export.out ||
	    fail "not two threads: $(cat export.out)"
	same_set before out
	assert_equal "$(psqlc -d queue -c "SELECT count(*) FROM information_schema.columns WHERE column_name = 'late'")" 1
}

@test "wrong password in .pgpass: exit 3 saying so, nothing written; the right one works" {
	pg_gym_db gym
	psqlc -d gym -c "GRANT USAGE ON SCHEMA sales TO gbauth" \
	    -c "GRANT SELECT ON ALL TABLES IN SCHEMA public, sales TO gbauth"
	printf '*:*:*:gbauth:wrong\n' >pgpass
	chmod 600 pgpass
	PGPASSFILE=$W/pgpass run gb-export -s "postgresql:///gym?user=gbauth" -o out
	assert_failure 3
	assert_output --partial 'password authentication failed for user "gbauth"'
	assert_output --partial '.pgpass'
	refute_output --partial wrong
	assert_clean out
	PGPASSFILE=$W/pgpass run gb_stream s.tar -s "postgresql:///gym?user=gbauth"
	assert_failure 3
	assert_tmpdir_empty
	printf '*:*:*:gbauth:right\n' >pgpass
	PGPASSFILE=$W/pgpass run gb-export -s "postgresql:///gym?user=gbauth" -o out
	assert_success
	grep -qv right out/MANIFEST
	run grep -r right out
	assert_failure
}

@test "a password in the connection string is refused (exit 2) and not echoed" {
	pg_gym_db gym
	run gb-export -s "postgresql://gbauth:right@/gym" -o out
	assert_failure 2
	assert_output --partial "~/.pgpass"
	refute_output --partial right
	run gb-export -s "dbname=gym user=gbauth password=right" -o out
	assert_failure 2
	refute_output --partial right
	assert_clean out
}

@test "unknown database: exit 3 naming it" {
	run gb-export -s "postgresql:///nosuchdb" -o out
	assert_failure 3
	assert_output --partial 'database "nosuchdb" does not exist'
	assert_clean out
	run gb_stream s.tar -s "host=$PGHOST dbname=nosuchdb"
	assert_failure 3
	assert_output --partial nosuchdb
	assert_tmpdir_empty
}

@test "a restore's staging schemas are not user data: not exported, other schemas are" {
	pg_gym_db gym
	# one left by a killed gb-restore, one a user's that only looks alike
	psqlc -d gym -c 'CREATE SCHEMA gb_restore_0000abcd_0' \
	    -c 'CREATE TABLE gb_restore_0000abcd_0.members (id int)' \
	    -c 'CREATE SCHEMA gb_restore_keep' \
	    -c 'CREATE TABLE gb_restore_keep.t (id int)'
	run gb-export -s "postgresql:///gym" -o out
	assert_success
	assert_equal "$(mf_tables out/MANIFEST | tr '\n' ' ')" \
	    'gb_restore_keep.t public.consumptions public.members public.nokey public.promotions public.stores public.types sales."odd.table" sales.orders '
}

@test "missing table: exit 2 naming it; tables are schema.table" {
	pg_gym_db gym
	run gb-export -s "postgresql:///gym" -t public.nosuch -o out
	assert_failure 2
	assert_output --partial "no table public.nosuch"
	assert_clean out
	run gb-export -s "postgresql:///gym" -t members -o out
	assert_failure 2
	assert_output --partial "schema.table, e.g. public.members"
	assert_clean out
	# -t gives the order; quoted parts name odd tables
	run gb-export -s "postgresql:///gym" -t 'sales."odd.table"' -t public.stores -o out
	assert_success
	assert_equal "$(mf_tables out/MANIFEST | tr '\n' ' ')" 'sales."odd.table" public.stores '
	assert_equal "$(csvcheck col 'out/sales.%22odd.table%22.csv' k | tr '\n' ' ')" 'K0 Z k1 ä '
}

@test "connection lost in the middle of a COPY: exit 3, nothing partial left" {
	new_db big
	psqlc -d big -c "CREATE TABLE t (id int PRIMARY KEY, v text)" \
	    -c "INSERT INTO t SELECT i, repeat('x', 100) FROM generate_series(1, 50000) i"
	cut_proxy "$W/proxy" 300000
	run gb-export -s "postgresql:///big?host=$W/proxy" -o out
	assert_failure 3
	assert_output --partial "table public.t: cannot read"
	assert_output --partial "closed the connection"
	assert_clean out
	run gb_stream s.tar -s "postgresql:///big?host=$W/proxy"
	assert_failure 3
	assert_tmpdir_empty
	# the same export through the cluster's own socket is whole
	gb-export -s "postgresql:///big" -o whole
	assert_equal "$(mf whole/MANIFEST rows public.t)" 50000
}

@test "a table locked by a schema change: waits -w seconds, then exit 3" {
	pg_gym_db gym
	psqlc -d gym >lock.out 2>&1 <<'EOF' &
BEGIN;
LOCK TABLE public.stores IN ACCESS EXCLUSIVE MODE;
SELECT pg_sleep(30);
EOF
	local holder=$! i
	bg_started $holder
	for i in $(seq 100); do
		[ "$(psqlc -d gym -c "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 'public.stores'::regclass")" = 1 ] && break
		sleep 0.05
	done
	run gb-export -s "postgresql:///gym" -w 1 -o out
	assert_failure 3
	assert_output --partial "is locked (waited 1 s)"
	assert_clean out
	psqlc -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'gym' AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()" >/dev/null
}

@test "the export stream from PostgreSQL: a pax tar, MANIFEST first" {
	pg_gym_db gym
	gb_stream s.tar -s "postgresql:///gym" -t public.members
	assert_equal "$(tar -tf s.tar | tr '\n' ' ')" 'MANIFEST SCHEMA.sql public.members.csv '
	mkdir x
	tar -xf s.tar -C x
	verify_set x
	assert_tmpdir_empty
}

@test "names that would end a comment stay in it: psql -f SCHEMA.sql and sqlite3 make the table and nothing else" {
	new_db cm
	psqlc -d cm -c "CREATE TYPE \"e */ CREATE TABLE pwn (a int); /* x\" AS ENUM ('a', 'b')" \
	    -c "CREATE DOMAIN \"d$(printf '\n')*/ CREATE TABLE pwn2 (a int); --\" AS text" \
	    -c "CREATE TABLE \"t$(printf '\r')CREATE TABLE pwn3 (a int);--\" (id int PRIMARY KEY,
	        e \"e */ CREATE TABLE pwn (a int); /* x\", d \"d$(printf '\n')*/ CREATE TABLE pwn2 (a int); --\")" \
	    -c "CREATE INDEX \"i$(printf '\n')CREATE TABLE pwn4 (a int);\" ON \"t$(printf '\r')CREATE TABLE pwn3 (a int);--\" ((lower(d)))" \
	    -c "INSERT INTO \"t$(printf '\r')CREATE TABLE pwn3 (a int);--\" VALUES (1, 'a', 'x'), (2, 'b', NULL)"
	run gb-export -s postgresql:///cm -o out
	assert_success
	new_db cm2
	psqlc -d cm2 -f out/SCHEMA.sql 2>&1 | grep -v 'NOTICE:  schema "public" already exists' && fail "psql -f said the above"
	assert_equal "$(psqlc -d cm2 -c "SELECT count(*), string_agg(quote_ident(tablename), ',') FROM pg_tables WHERE schemaname = 'public'")" \
	    "1|\"t$(printf '\r')CREATE TABLE pwn3 (a int);--\""
	assert_equal "$(psqlc -d cm2 -c "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")" 2
	# the SQLite dialect in the same file
	sed -n 's/^-- sqlite: //p' out/SCHEMA.sql | sqlite3 -bail lite.db
	assert_equal "$(sqlite3 lite.db "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'pwn%'")" 0
	assert_equal "$(sqlite3 lite.db "SELECT count(*) FROM sqlite_schema WHERE type = 'table'")" 1
}
