#!/usr/bin/env bats
# gb-restore into PostgreSQL (a throwaway cluster, tests/pg.bash): into an
# empty database or schema in one transaction, incrementals as upserts,
# the restore test in a scratch schema, cross restores both ways
# (SQLite -> PostgreSQL, PostgreSQL -> SQLite), and failures that leave
# the target as it was.

load helper
load archive-helper
load pg

setup_file() {
	archive_setup_file
	pg_start
	mkdir -p "$FX/spool"
	# PostgreSQL: a full export of the gym with every type, and an
	# incremental of the master tables after updates and inserts.
	pg_gym_db gym
	pg_conf "$FX/pg.conf" gym
	gb-export -c "$FX/pg.conf" -o "$FX/pgfull"
	psqlc -d gym -c "UPDATE members SET balance = balance + 100, note = 'changed',
	    updated_at = '2026-02-01 00:00:00+00' WHERE id IN (2, 5)" \
	    -c "INSERT INTO members VALUES (14, 'C0014', '新会员', NULL, 'gold', 1,
	    'active', 1, NULL, '\xff', '2026-02-01 00:00:00+00', '2026-02-01 00:00:01+00')" \
	    -c "INSERT INTO stores VALUES (4, 'SZ01', '深圳', NULL, NULL, NULL, '2026-02-01 00:00:00+00')"
	gb-export -c "$FX/pg.conf" -i "$FX/pgfull/MANIFEST" -t public.members \
	    -t public.stores -t public.promotions -o "$FX/pgincr"
	seal_set "$FX/pgfull" "$FX/spool/pgfull"
	seal_set "$FX/pgincr" "$FX/spool/pgincr"
	# SQLite: the awkward gym of helper.bash, full and incremental.
	make_gym_db "$FX/gym.db"
	write_gym_conf "$FX/gym.conf" "$FX/gym.db"
	gb-export -c "$FX/gym.conf" -o "$FX/litefull"
	sqlite3 "$FX/gym.db" "UPDATE members SET balance = 1, updated_at = '2026-03-01 00:00:00' WHERE id = 3;
	    INSERT INTO members VALUES (13, 'C0013', 'neu', NULL, 'gold', 2, 'active', 1, NULL, x'00', '2026-03-01', '2026-03-01 00:00:01')"
	gb-export -c "$FX/gym.conf" -i "$FX/litefull/MANIFEST" -t members -t stores \
	    -o "$FX/liteincr"
	seal_set "$FX/litefull" "$FX/spool/litefull"
	seal_set "$FX/liteincr" "$FX/spool/liteincr"
	# For the spill: a table of more than 16 MiB in COPY's binary format
	# (37 chunks, two segments) and one of five chunks of CSV.
	new_db spill
	psqlc -d spill -c "CREATE TABLE big (id bigint PRIMARY KEY, v text)" \
	    -c "INSERT INTO big SELECT g, repeat(md5(g::text), 3)
	    FROM generate_series(1, 170000) g" \
	    -c "CREATE TABLE stamps (id bigint PRIMARY KEY, at timestamptz NOT NULL,
	    n numeric, note text)" \
	    -c "INSERT INTO stamps SELECT g, '2026-01-01 00:00:00+00'::timestamptz
	    + g * interval '1 second', g / 7.0, CASE WHEN g % 10 = 0 THEN NULL
	    ELSE E'a,\"b\"\n' || g END FROM generate_series(1, 40000) g"
	gb-export -s postgresql:///spill -o "$FX/spill"
	seal_set "$FX/spill" "$FX/spool/spill"
}

teardown_file() {
	pg_stop
	archive_teardown_file
}

# restore ARGS...: gb-restore with the restore keyring and the signer.
restore() {
	as restore gb-restore --signer "$SIGNER" "$@"
}

# pg_tables DB: schema.table of every table in DB, sorted.
pg_tables() {
	psqlc -d "$1" -c "SELECT schemaname || '.' || tablename FROM pg_tables
	    WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
	    ORDER BY schemaname || '.' || tablename COLLATE \"C\"" ||
	    echo "pg_tables $1 failed"
}

@test "PostgreSQL into an empty database: every table and value, indexes too" {
	new_db r
	run restore -v -d postgresql:///r "$FX/spool/pgfull.seal"
	assert_success
	assert_output --partial "public.members: 13 rows"
	# exported again, every CSV and SCHEMA.sql are the same bytes
	gb-export -s postgresql:///r -o again
	for f in "$FX"/pgfull/*.csv "$FX/pgfull/SCHEMA.sql"; do
		cmp "$f" "again/${f##*/}" || fail "${f##*/} differs"
	done
	assert_equal "$(psqlc -d r -c "SELECT indexdef FROM pg_indexes WHERE indexname = 'members_lower_name'")" \
	    'CREATE INDEX members_lower_name ON public.members USING btree (lower(name))'
	assert_equal "$(psqlc -d r -c "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")" 12
}

@test "a chain into a database: the incremental's rows upserted" {
	new_db r
	run restore -d postgresql:///r "$FX/spool/pgincr.seal" "$FX/spool/pgfull.seal"
	assert_success
	# the database now equals the source as it was at the incremental
	local t
	for t in public.members public.stores public.promotions public.types sales.orders; do
		assert_pg_same r "$t" gym "$t"
	done
	assert_equal "$(psqlc -d r -c "SELECT balance || ' ' || note FROM members WHERE id = 2")" '100 changed'
	assert_equal "$(psqlc -d r -c "SELECT count(*) FROM members")" 14
}

@test "into a schema with --schema: every table there, nothing elsewhere" {
	new_db r
	run restore -d postgresql:///r --schema restored "$FX/spool/pgfull.seal" \
	    "$FX/spool/pgincr.seal"
	assert_success
	assert_equal "$(pg_tables r | tr '\n' ' ')" \
	    'restored.consumptions restored.members restored.nokey restored.odd.table restored.orders restored.promotions restored.stores restored.types '
	assert_pg_same r restored.members gym public.members
	assert_pg_same r 'restored."odd.table"' gym 'sales."odd.table"'
	assert_equal "$(psqlc -d r -c "SELECT count(*) FROM pg_indexes WHERE schemaname = 'restored'")" 14
}

@test "refuses a database or schema that is not empty (exit 2), changing nothing" {
	new_db r
	psqlc -d r -c "CREATE TABLE public.keep (x int)" -c "CREATE SCHEMA busy" \
	    -c "CREATE TABLE busy.t (x int)"
	run restore -d postgresql:///r "$FX/spool/pgfull.seal"
	assert_failure 2
	assert_output --partial "not empty"
	run restore -d postgresql:///r --schema busy "$FX/spool/pgfull.seal"
	assert_failure 2
	assert_output --partial "schema busy is not empty"
	assert_equal "$(pg_tables r | tr '\n' ' ')" 'busy.t public.keep '
	# an empty schema in a database in use is fine
	run restore -d postgresql:///r --schema fresh "$FX/spool/litefull.seal"
	assert_success
	assert_equal "$(psqlc -d r -c "SELECT count(*) FROM fresh.members")" 12
}

@test "--test against a scratch schema: OK per table, nothing left behind" {
	new_db r
	run restore --test -d postgresql:///r "$FX/spool/pgfull.seal" "$FX/spool/pgincr.seal"
	assert_success
	assert_line --partial "OK: $(mf "$FX/pgfull/MANIFEST" id) public.types: 4 rows, sha256 match, money sums match"
	# an incremental's table is held to the whole table at its snapshot
	assert_line --partial "OK: $(mf "$FX/pgincr/MANIFEST" id) public.members: 14 rows, sha256 match, money sums match"
	assert_line "restore test: 2 archives, OK"
	[ "$(grep -c '^OK:' <<<"$output")" = 11 ] || fail "$output"
	assert_equal "$(psqlc -d r -c "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'gb_restore_test%'")" 0
	assert_equal "$(pg_tables r)" ""
	assert_tmpdir_empty
	# the scratch schema does not mind a database in use
	psqlc -d r -c "CREATE TABLE public.inuse (x int)"
	run restore --test -d postgresql:///r "$FX/spool/litefull.seal" "$FX/spool/liteincr.seal"
	assert_success
	assert_line "restore test: 2 archives, OK"
	assert_equal "$(pg_tables r)" public.inuse
}

@test "a damaged archive: exit 1, the database stays empty" {
	new_db r
	cp "$FX/spool/pgfull.tar.gz.gpg" "$FX/spool/pgfull.seal" .
	flip_byte pgfull.tar.gz.gpg middle
	run restore -d postgresql:///r pgfull.seal
	assert_failure 1
	assert_output --partial "nothing restored"
	assert_equal "$(pg_tables r)" ""
	assert_equal "$(psqlc -d r -c "SELECT count(*) FROM pg_namespace WHERE nspname = 'sales'")" 0
}

@test "a row the server refuses: exit 3 naming the table, nothing restored" {
	# SQLite let a TEXT into an INTEGER column; PostgreSQL's bigint will not
	sqlite3 odd.db "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER);
	    CREATE TABLE a (id INTEGER PRIMARY KEY); INSERT INTO a VALUES (1);
	    INSERT INTO t VALUES (1, 5), (2, 'five')"
	gb-export -s "sqlite:$W/odd.db" -o odd
	seal_set odd odd
	new_db r
	run restore -d postgresql:///r odd.seal
	assert_failure 3
	assert_output --partial "table t:"
	assert_output --partial 'invalid input syntax for type bigint: "five"'
	assert_output --partial "nothing restored"
	assert_equal "$(pg_tables r)" ""
}

@test "connection lost in the middle of the COPY: exit 3, nothing restored" {
	sqlite3 big.db "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
	    WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 50000)
	    INSERT INTO t SELECT i, printf('%.100c', 'x') FROM s"
	gb-export -s "sqlite:$W/big.db" -o big
	seal_set big big
	new_db r
	cut_proxy "$W/proxy" 1000000 up
	run restore -d "postgresql:///r?host=$W/proxy" big.seal
	assert_failure 3
	assert_output --partial "table t:"
	assert_output --partial "nothing restored"
	assert_equal "$(pg_tables r)" ""
	assert_tmpdir_empty
	# straight to the server it works
	run restore -d postgresql:///r big.seal
	assert_success
	assert_equal "$(psqlc -d r -c 'SELECT count(*) FROM t')" 50000
}

# pg_staging DB: the staging schemas left in DB, sorted.
pg_staging() {
	psqlc -d "$1" -c "SELECT nspname FROM pg_namespace
	    WHERE nspname LIKE 'gb\_restore\_%' ORDER BY 1" ||
	    echo "pg_staging $1 failed"
}

# two_tables NAME: an SQLite export of a table "big" (50000 rows, loaded
# on two connections at once) and a table "d" whose key SQLite holds as
# distinct and PostgreSQL's text key would not when dup is given; sealed.
two_tables() {
	sqlite3 "$1.db" "CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT);
	    WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 50000)
	    INSERT INTO big SELECT i, printf('%.100c', 'x') FROM s;
	    CREATE TABLE d (k PRIMARY KEY, v TEXT);
	    INSERT INTO d VALUES (1, 'integer one'), (2, 'two')"
	[ "${2:-}" != dup ] || sqlite3 "$1.db" "INSERT INTO d VALUES ('1', 'text one')"
	gb-export -s "sqlite:$W/$1.db" -o "$1"
	seal_set "$1" "$1"
}

@test "a worker's connection dies in the middle of its COPY: exit 3, nothing in place, no staging left" {
	two_tables twot
	new_db r
	# a trigger on each table the restore makes: the backend loading
	# row 30000 of big ends itself, as a server killing it would
	psqlc -d r -c "CREATE FUNCTION public.die() RETURNS trigger LANGUAGE plpgsql AS
	    \$\$ BEGIN IF NEW.id = 30000 THEN PERFORM pg_terminate_backend(pg_backend_pid());
	    END IF; RETURN NEW; END \$\$" \
	    -c "CREATE FUNCTION public.arm() RETURNS event_trigger LANGUAGE plpgsql AS
	    \$\$ DECLARE r record; BEGIN FOR r IN SELECT * FROM pg_event_trigger_ddl_commands()
	    WHERE object_identity LIKE '%.big' LOOP EXECUTE format('CREATE TRIGGER die
	    BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION public.die()',
	    r.object_identity); END LOOP; END \$\$" \
	    -c "CREATE EVENT TRIGGER arm ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
	    EXECUTE FUNCTION public.arm()"
	run restore -d postgresql:///r twot.seal
	assert_failure 3
	# the server's words, as the write or the end of the COPY hears them
	assert_output --regexp 'table big: .*(server closed the connection unexpectedly|FATAL: terminating connection due to administrator command)'
	assert_output --partial "nothing restored"
	assert_equal "$(pg_tables r)" ""
	assert_equal "$(pg_staging r)" ""
	psqlc -d r -c "DROP EVENT TRIGGER arm"
	run restore -d postgresql:///r twot.seal
	assert_success
	assert_equal "$(psqlc -d r -c 'SELECT count(*) FROM big')" 50000
}

@test "a duplicate key found when the keys are built, other tables loaded: exit 3, nothing in place" {
	two_tables dupt dup
	new_db r
	run restore -d postgresql:///r dupt.seal
	assert_failure 3
	assert_output --partial 'could not create unique index "d_pkey"'
	assert_output --partial "Key (k)=(1) is duplicated"
	assert_output --partial "nothing restored"
	assert_equal "$(pg_tables r)" ""
	assert_equal "$(pg_staging r)" ""
	# the restore test says the same, and leaves nothing either
	run restore --test -d postgresql:///r dupt.seal
	assert_failure 3
	assert_output --partial 'could not create unique index "d_pkey"'
	assert_equal "$(pg_tables r)" ""
	assert_equal "$(pg_staging r)" ""
}

@test "a killed restore's staging schema: dropped by the next restore, saying so; a running one's kept" {
	two_tables left
	new_db r
	# as a kill -9 leaves it: the schema, a table, no restore holding its lock
	psqlc -d r -c "CREATE SCHEMA gb_restore_0badf00d_0" \
	    -c "CREATE TABLE gb_restore_0badf00d_0.big (id bigint)"
	# a restore still running holds the lock of its id
	psqlc -d r -c "CREATE SCHEMA gb_restore_7e57ab1e_0" \
	    -c "CREATE TABLE gb_restore_7e57ab1e_0.big (id bigint)"
	psql -X -q -d r -c "SELECT pg_advisory_lock(1734439539, x'7e57ab1e'::int)" \
	    -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
	local holder=$!
	local i=0
	until [ "$(psqlc -d r -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" = 1 ]; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || fail "the lock was never taken"
		sleep 0.1
	done
	run restore -d postgresql:///r left.seal
	psqlc -d r -c "SELECT pg_terminate_backend(pid) FROM pg_locks
	    WHERE locktype = 'advisory'" >/dev/null
	wait "$holder" || true
	assert_success
	assert_output --partial "dropped the staging schema gb_restore_0badf00d_0 of a restore that did not finish"
	refute_output --partial "gb_restore_7e57ab1e_0"
	assert_equal "$(pg_staging r)" "gb_restore_7e57ab1e_0"
	assert_equal "$(pg_tables r | tr '\n' ' ')" 'gb_restore_7e57ab1e_0.big public.big public.d '
	assert_equal "$(psqlc -d r -c 'SELECT count(*) FROM public.big')" 50000
}

@test "SQLite into PostgreSQL: the same bytes exported again, keys, indexes" {
	new_db r
	run restore -d postgresql:///r "$FX/spool/litefull.seal"
	assert_success
	gb-export -s postgresql:///r -o again
	local t
	for t in $(db_tables "$FX/gym.db"); do
		cmp "$FX/litefull/$t.csv" "again/public.$t.csv" ||
		    fail "$t: $(diff "$FX/litefull/$t.csv" "again/public.$t.csv" | head)"
	done
	assert_equal "$(psqlc -d r -c "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position)
	    FROM information_schema.columns WHERE table_name = 'members'")" \
	    'id bigint, card_no text, name text, phone text, level text, balance bigint, status text, home_store_id bigint, note text, photo bytea, created_at text, updated_at text'
	assert_equal "$(psqlc -d r -c "SELECT indexdef FROM pg_indexes WHERE indexname = 'members_card_no_key'")" \
	    'CREATE UNIQUE INDEX members_card_no_key ON public.members USING btree (card_no)'
	assert_equal "$(psqlc -d r -c "SELECT indexdef FROM pg_indexes WHERE indexname = 'consumptions_member'")" \
	    'CREATE INDEX consumptions_member ON public.consumptions USING btree (member_id, consumed_at)'
	# a chain: the incremental upserted
	new_db r2
	run restore -d postgresql:///r2 "$FX/spool/liteincr.seal" "$FX/spool/litefull.seal"
	assert_success
	assert_equal "$(psqlc -d r2 -c "SELECT balance FROM members WHERE id = 3")" 1
	assert_equal "$(psqlc -d r2 -c "SELECT count(*) FROM members")" 13
}

@test "PostgreSQL into SQLite: the same bytes exported again; the restore test there" {
	run restore -d "sqlite:$W/lite.db" "$FX/spool/pgfull.seal"
	assert_success
	assert_equal "$(db_tables lite.db | tr '\n' ' ')" \
	    'consumptions members nokey odd.table orders promotions stores types '
	assert_equal "$(sqlite3 lite.db "SELECT typeof(photo), hex(photo) FROM members WHERE id = 2")" 'blob|00FF10'
	assert_equal "$(sqlite3 lite.db "SELECT typeof(balance) FROM members WHERE id = 3")" integer
	assert_equal "$(sqlite3 lite.db "SELECT typeof(n), n FROM types WHERE id = 1")" 'text|12345678901234567890.123456789'
	assert_equal "$(sqlite3 lite.db "SELECT typeof(bonus_amount) FROM promotions WHERE id = 13")" integer
	gb-export -s "sqlite:$W/lite.db" -o again
	local t f
	while IFS=$'\t' read -r t f; do
		local flat=${t#*.}
		flat=${flat//\"/}
		cmp "$FX/pgfull/$f" "again/$(csvcheck fname "$flat")" || fail "$t differs"
	done < <(awk -F'\t' '$1 == "table" { print $2 "\t" $3 }' "$FX/pgfull/MANIFEST")
	# a chain, and the drill in a scratch SQLite database
	run restore -d "sqlite:$W/lite2.db" "$FX/spool/pgfull.seal" "$FX/spool/pgincr.seal"
	assert_success
	assert_equal "$(sqlite3 lite2.db "SELECT balance, note FROM members WHERE id = 5")" '105|changed'
	run restore --test "$FX/spool/pgfull.seal" "$FX/spool/pgincr.seal"
	assert_success
	assert_line "restore test: 2 archives, OK"
	assert_tmpdir_empty
}

@test "usage: --schema needs a PostgreSQL target; --test -d needs PostgreSQL; no password" {
	run restore -d "sqlite:$W/x.db" --schema s "$FX/spool/pgfull.seal"
	assert_failure 2
	assert_output --partial -- "--schema"
	run restore --test -d "sqlite:$W/x.db" "$FX/spool/pgfull.seal"
	assert_failure 2
	run restore --test -d postgresql:///postgres --schema s "$FX/spool/pgfull.seal"
	assert_failure 2
	run restore -d "postgresql://gbauth:right@/postgres" "$FX/spool/pgfull.seal"
	assert_failure 2
	assert_output --partial ".pgpass"
	refute_output --partial right
	[ ! -e x.db ]
	run restore -d postgresql:///nosuchdb "$FX/spool/pgfull.seal"
	assert_failure 3
	assert_output --partial 'database "nosuchdb" does not exist'
}

# The table name of issue 10, item 1: a line end, then SQL that makes a
# table and runs a program on the server (touch pw, in the server's
# working directory: its data directory) once anything takes the name out
# of its quotes.  63 bytes, the longest name PostgreSQL keeps.  The
# second one ends a -- comment with a CR, as PostgreSQL's lexer does.
HOSTILE=$'\nCREATE TABLE b AS SELECT E\'\\\'\';COPY b TO PROGRAM \'touch pw\';--'
HOSTILE_CR=$'cr\rCREATE TABLE c AS SELECT 1;--'

# hostile_tables DB: the schema.table names in DB, one per line, each as
# PostgreSQL's quote_ident gives it (line ends and all).
hostile_tables() {
	psqlc -d "$1" -c "SELECT string_agg(quote_ident(schemaname) || '.' || quote_ident(tablename), '|'
	    ORDER BY tablename COLLATE \"C\") FROM pg_tables
	    WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
}

@test "a table named to inject SQL: restored under its exact name, nothing run (-d, --test, psql -f)" {
	[ ${#HOSTILE} = 63 ] || fail "the name is ${#HOSTILE} bytes"
	local q qcr want
	new_db h
	q=$(psqlc -d h -c "SELECT quote_ident(\$n\$$HOSTILE\$n\$)")
	qcr=$(psqlc -d h -c "SELECT quote_ident(\$n\$$HOSTILE_CR\$n\$)")
	psqlc -d h -c "CREATE TABLE $q (id integer PRIMARY KEY, v text)" \
	    -c "INSERT INTO $q VALUES (1, \$v\$it's;\"--\$v\$), (2, NULL)" \
	    -c "CREATE INDEX \"ix;\$HOSTILE_CR\" ON $q (v)" \
	    -c "CREATE TABLE $qcr (k text PRIMARY KEY)" -c "INSERT INTO $qcr VALUES ('x')"
	want=$(hostile_tables h)
	assert_equal "$(psqlc -d h -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" 2
	gb-export -s postgresql:///h -o set
	seal_set set "$W/hs"
	# into a database: the two tables by their exact names, the same rows
	new_db r
	run restore -d postgresql:///r "$W/hs.seal"
	assert_success
	assert_equal "$(hostile_tables r)" "$want"
	assert_pg_same h "public.$q" r "public.$q"
	assert_pg_same h "public.$qcr" r "public.$qcr"
	assert_equal "$(psqlc -d r -c "SELECT count(*) FROM pg_indexes WHERE tablename = \$n\$$HOSTILE\$n\$")" 2
	[ ! -e "$PGROOT/data/pw" ] || fail "the program in the table name ran on the server"
	# the drill: OK, and nothing made
	new_db r2
	run restore --test -d postgresql:///r2 "$W/hs.seal"
	assert_success
	assert_line "restore test: 1 archive, OK"
	assert_equal "$(hostile_tables r2)" ""
	[ ! -e "$PGROOT/data/pw" ] || fail "the program in the table name ran in the drill"
	# SCHEMA.sql as PostgreSQL's own lexer reads it (psql -f) makes the
	# same two tables and nothing else
	new_db r3
	psqlc -d r3 -f set/SCHEMA.sql >/dev/null
	assert_equal "$(hostile_tables r3)" "$want"
	[ ! -e "$PGROOT/data/pw" ] || fail "the program in the table name ran under psql -f"
	# and into SQLite, by the same names
	run restore -d "sqlite:$W/h.db" "$W/hs.seal"
	assert_success
	assert_equal "$(sqlite3 h.db "SELECT count(*) FROM sqlite_schema WHERE type = 'table'")" 2
	assert_equal "$(sqlite3 h.db "SELECT count(*) FROM \"$HOSTILE\"")" 2
	assert_equal "$(sqlite3 h.db "SELECT v FROM \"$HOSTILE\" WHERE id = 1")" "it's;\"--"
	assert_equal "$(sqlite3 h.db "SELECT k FROM \"$HOSTILE_CR\"")" x
}

@test "an SQLite table named to inject SQL: restored under its exact name into SQLite and PostgreSQL" {
	sqlite3 -bail h.db "CREATE TABLE \"$HOSTILE\" (id INTEGER PRIMARY KEY, v TEXT);
	    INSERT INTO \"$HOSTILE\" VALUES (1, 'it''s;\"--'), (2, NULL);
	    CREATE INDEX \"ix$HOSTILE_CR\" ON \"$HOSTILE\" (v);
	    CREATE TABLE \"$HOSTILE_CR\" (k TEXT PRIMARY KEY); INSERT INTO \"$HOSTILE_CR\" VALUES ('x')"
	gb-export -s sqlite:h.db -o set
	seal_set set "$W/hs"
	run restore -d "sqlite:$W/r.db" "$W/hs.seal"
	assert_success
	assert_equal "$(sqlite3 r.db "SELECT name FROM sqlite_schema ORDER BY name" | od -c)" \
	    "$(sqlite3 h.db "SELECT name FROM sqlite_schema ORDER BY name" | od -c)"
	assert_equal "$(sqlite3 r.db "SELECT id, v FROM \"$HOSTILE\" ORDER BY id")" "$(printf '1|it'"'"'s;"--\n2|')"
	new_db r
	run restore -d postgresql:///r "$W/hs.seal"
	assert_success
	assert_equal "$(psqlc -d r -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'
	    AND tablename IN (\$n\$$HOSTILE\$n\$, \$n\$$HOSTILE_CR\$n\$)")" 2
	assert_equal "$(psqlc -d r -c "SELECT v FROM public.\"$HOSTILE\" WHERE id = 1")" "it's;\"--"
	assert_equal "$(psqlc -d r -c "SELECT count(*) FROM pg_indexes WHERE tablename = \$n\$$HOSTILE\$n\$")" 2
	new_db r2
	run restore --test -d postgresql:///r2 "$W/hs.seal"
	assert_success
	assert_line "restore test: 1 archive, OK"
	[ ! -e "$PGROOT/data/pw" ] || fail "the program in the table name ran on the server"
}

@test "a PostgreSQL SCHEMA.sql with statements the export never writes: refused (exit 1) by -d, --test and verify --deep" {
	local e stmt i=0 mode
	mkdir spool
	while IFS='|' read -r e stmt; do
		i=$((i + 1))
		schema_lie "$FX/pgfull" "bad$i" "$e"
		seal_set "bad$i" "spool/bad$i"
		for mode in "-d postgresql:///r" "--test -d postgresql:///r"; do
			new_db r
			run restore $mode "spool/bad$i.seal"
			assert_failure 1
			assert_output --partial "SCHEMA.sql: refused statement"
			assert_output --partial "$stmt"
			assert_output --partial "nothing restored"
			assert_equal "$(pg_tables r)" ""
		done
		run env GNUPGHOME="$KEYS/restore" gb-verify --signer "$SIGNER" --deep "spool/bad$i.seal"
		assert_failure 1
		assert_output --partial "FAIL: SCHEMA.sql: refused statement"
		assert_output --partial "$stmt"
		[ ! -e "$PGROOT/data/pw2" ] || fail "a refused statement ran"
	done <<-'EOF'
	$a CREATE TABLE x AS SELECT 1;|CREATE TABLE x AS SELECT 1
	$a CREATE TABLE y (a int) ; COPY y TO PROGRAM 'touch pw2';|COPY y TO PROGRAM 'touch pw2'
	$a DO $q$ BEGIN PERFORM 1; END $q$;|DO $q$ BEGIN PERFORM 1; END $q$
	$a CREATE TABLE z (a text DEFAULT E'\\';COPY z TO PROGRAM ''touch pw2'';--');CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$SELECT 1$$;|CREATE FUNCTION f() RETURNS int
	0,/^SET search_path = .*;$/s//SET search_path = public, pg_temp;/|SET search_path = public, pg_temp
	$a CREATE INDEX i ON members USING btree (id); ALTER TABLE members OWNER TO gbauth;|ALTER TABLE members OWNER TO gbauth
	$a /* a /* nested */ ; CREATE TABLE n (a int); */ DROP TABLE x;|DROP TABLE x
	$a CREATE TABLE u (a text DEFAULT U&'\\0027;'); DROP TABLE y;|DROP TABLE y
	$a CREATE TABLE d (a text DEFAULT $x$;$$ DROP TABLE z;$x$) WITH (fillfactor = 50);|CREATE TABLE d (a text DEFAULT $x$;$$ DROP TABLE z;$x$) WITH
	$a CREATE TABLE "q"";DROP TABLE w;--" (a int); CREATE TABLE public.v (a int);|CREATE TABLE public.v
	EOF
}

@test "an FTS5 table of SQLite into PostgreSQL: a plain table keyed by its rowid, every row" {
	sqlite3 -bail fts.db "CREATE VIRTUAL TABLE search USING fts5(name, note);
	    INSERT INTO search(rowid, name, note) VALUES (7, 'Alice', 'x'), (1000, '张伟', NULL)"
	gb-export -s sqlite:fts.db -o set
	seal_set set "$W/fts"
	new_db r
	run restore -d postgresql:///r "$W/fts.seal"
	assert_success
	assert_equal "$(psqlc -d r -c "SELECT rowid, name, coalesce(note, 'NULL') FROM search ORDER BY rowid" | paste -sd' ')" \
	    "7|Alice|x 1000|张伟|NULL"
	assert_equal "$(psqlc -d r -c "SELECT indexdef FROM pg_indexes WHERE tablename = 'search'")" \
	    "CREATE UNIQUE INDEX search_pkey ON public.search USING btree (rowid)"
	new_db r2
	run restore --test -d postgresql:///r2 "$W/fts.seal"
	assert_success
	assert_line "restore test: 1 archive, OK"
}

@test "GB_THREADS sets the connections a restore loads on: one for control and one per thread, else at least four" {
	psqlc -d postgres -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS gblim" -c "CREATE ROLE gblim LOGIN CONNECTION LIMIT 3"
	new_db r
	psqlc -d postgres -c "ALTER DATABASE r OWNER TO gblim"
	run env PGUSER=gblim GB_THREADS=2 GNUPGHOME="$KEYS/restore" gb-restore --signer "$SIGNER" \
	    -d postgresql:///r "$FX/spool/pgfull.seal"
	assert_success
	assert_equal "$(psqlc -d r -c "SELECT count(*) FROM public.members")" 13
	# without GB_THREADS: four workers and the control connection
	new_db r
	psqlc -d postgres -c "ALTER DATABASE r OWNER TO gblim"
	run env PGUSER=gblim GNUPGHOME="$KEYS/restore" gb-restore --signer "$SIGNER" \
	    -d postgresql:///r "$FX/spool/pgfull.seal"
	assert_failure 3
	assert_output --partial 'too many connections for role "gblim"'
	assert_equal "$(pg_tables r)" ""
	assert_equal "$(psqlc -d r -c "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'gb_restore%'")" 0
	psqlc -d postgres -c "DROP DATABASE r" -c "DROP ROLE gblim"
}

@test "into PostgreSQL: a table's rows reach its heap in the archive's order (one connection COPYs each table), as pg_restore leaves them" {
	sqlite3 -bail ord.db "CREATE TABLE ord (id INTEGER PRIMARY KEY, v TEXT);
	    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000)
	    INSERT INTO ord SELECT i, printf('%040d', i) FROM n"
	gb-export -s sqlite:ord.db -o set
	[ "$(stat -c %s set/ord.csv)" -gt $((2 << 20)) ] || fail "ord.csv is small: $(stat -c %s set/ord.csv)"
	mkdir spool
	seal_set set spool/ord
	new_db r
	run restore -d postgresql:///r spool/ord.seal
	assert_success
	# in the heap's order, never an id smaller than the one before
	assert_equal "$(psqlc -d r -c "SELECT count(*), count(*) FILTER (WHERE id < prev)
	    FROM (SELECT id, lag(id) OVER (ORDER BY ctid) AS prev FROM public.ord) s")" "60000|0"
}

# copies_of LOGFROM TABLE: the COPY statements the server logged for
# TABLE's staging since byte LOGFROM of its log, one format a line.
copies_of() {
	tail -c +"$1" "$PGROOT/server.log" |
	    sed -n "s/.*COPY \"gb_restore_[0-9a-f_]*\"\.\"$2\" FROM STDIN (\(.*\))\$/\1/p"
}

@test "into PostgreSQL: integer, text, varchar and bytea tables go in COPY's binary format, the source's exact values; others as CSV" {
	local from t
	new_db src
	psqlc -d src <<'EOF'
CREATE TABLE bin (id bigint PRIMARY KEY, s smallint, i integer, t text,
    v varchar(12), b bytea);
INSERT INTO bin VALUES
    (1, -32768, -2147483648, '', '', '\x'),
    (2, 32767, 2147483647, NULL, NULL, NULL),
    (3, 0, 0, E'a,b"c\nd\re\\f\n\\.\n', E'\\.', '\x00ff22'),
    (4, NULL, NULL, '中文 é 😀', '"', '\x0a0d2c'),
    (-9223372036854775808, 1, 1, ' lead and trail ', ',', '\x5c'),
    (9223372036854775807, -1, -1, E'\\N', 'NULL', NULL);
-- more than a chunk of rows, so several go to the worker
INSERT INTO bin SELECT g, g % 32000 - 16000, g * 7, repeat(md5(g::text), 3)
    || E'\n"', left(md5(g::text), 12), decode(md5(g::text), 'hex')
    FROM generate_series(5, 20000) g;
CREATE TABLE mixed (id bigint PRIMARY KEY, t text, at timestamptz, n numeric);
INSERT INTO mixed VALUES (1, E'x\ny', '2026-01-01 00:00:00+00', 1.50),
    (2, NULL, NULL, NULL), (3, '', '2026-01-02', -0.0);
EOF
	gb-export -s postgresql:///src -o set
	mkdir spool
	seal_set set spool/bin
	new_db r
	psqlc -d postgres -c "ALTER DATABASE r SET log_statement = 'all'"
	from=$(($(stat -c %s "$PGROOT/server.log") + 1))
	run restore -d postgresql:///r spool/bin.seal
	assert_success
	for t in bin mixed; do
		psqlc -d src -c "COPY (SELECT * FROM $t ORDER BY id) TO STDOUT" >"$t.src"
		psqlc -d r -c "COPY (SELECT * FROM $t ORDER BY id) TO STDOUT" >"$t.got"
		cmp "$t.src" "$t.got" || fail "$t: $(diff "$t.src" "$t.got" | head)"
	done
	assert_equal "$(psqlc -d r -c "SELECT count(*) FROM bin")" 20002
	# each table's one COPY loads it frozen
	assert_equal "$(copies_of "$from" bin)" "FORMAT binary, FREEZE"
	assert_equal "$(copies_of "$from" mixed)" "FORMAT csv, HEADER MATCH, FREEZE"
}

@test "into PostgreSQL: a value the binary format is not written for (text in an SQLite BLOB) sends the rest of its table as CSV, every value as it was" {
	local from
	sqlite3 -bail odd.db "CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB, s TEXT);
	    INSERT INTO t VALUES (1, x'00ff', 'a\"b'), (2, 'abc', 'c,d'),
	    (3, x'41', NULL), (4, NULL, ''), (5, x'', 'e
f')"
	gb-export -s sqlite:odd.db -o set
	mkdir spool
	seal_set set spool/odd
	new_db r
	psqlc -d postgres -c "ALTER DATABASE r SET log_statement = 'all'"
	from=$(($(stat -c %s "$PGROOT/server.log") + 1))
	run restore -d postgresql:///r spool/odd.seal
	assert_success
	# byteain reads abc in the escape format: its three bytes
	assert_equal "$(psqlc -d r -c "SELECT id, coalesce(encode(b, 'hex'), 'NULL'),
	    coalesce(s, 'NULL') FROM t ORDER BY id")" '1|00ff|a"b
2|616263|c,d
3|41|NULL
4|NULL|
5||e
f'
	# only the first, in the transaction that emptied the table, FREEZEs
	assert_equal "$(copies_of "$from" t)" "FORMAT binary, FREEZE
FORMAT csv, HEADER MATCH"
}

@test "into PostgreSQL: a value refused after the binary format gave way to CSV: exit 3, the error names the table's data record its COPY began at, nothing restored" {
	# 100001 rows in binary, then x sends the rest as CSV, which the
	# server refuses at the line after the header: the CSV's record 100002
	sqlite3 -bail odd.db "CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER);
	    INSERT INTO t SELECT value, value FROM generate_series(1, 100000);
	    INSERT INTO t VALUES (100001, '+1'), (100002, 'x'), (100003, 3)"
	gb-export -s sqlite:odd.db -o set
	mkdir spool
	seal_set set spool/odd
	new_db r
	run restore -d postgresql:///r spool/odd.seal
	assert_failure 3
	assert_output --regexp "^gb-restore: [^ ]*/r: table t: ERROR: invalid input syntax for type bigint: \"x\"; CONTEXT: COPY t, line 2, column i: \"x\" \\(that COPY's first row: data record 100002 of the table's CSV\\); nothing restored\$"
	assert_equal "$(pg_tables r)" ""
}

@test "into PostgreSQL: rows of 8 MiB are held a few at a time, not two chunks of them queued per connection" {
	local rss
	sqlite3 -bail long.db "CREATE TABLE long (id INTEGER PRIMARY KEY, v TEXT);
	    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 24)
	    INSERT INTO long SELECT i, hex(zeroblob(4 << 20)) FROM n"
	gb-export -s sqlite:long.db -o set
	rm long.db
	mkdir spool
	seal_set set spool/long
	rm -r set
	new_db r
	# ASan's quarantine would hold the freed chunks
	run env GNUPGHOME="$KEYS/restore" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" \
	    /usr/bin/time -f %M -o rss gb-restore --signer "$SIGNER" -d postgresql:///r spool/long.seal
	assert_success
	rss=$(tail -n 1 rss)
	# held by count (2 queued a connection), 4 connections held 13: 110 to 150 MiB
	[ "$rss" -lt 90000 ] || fail "peak RSS $rss KiB"
	assert_equal "$(psqlc -d r -c "SELECT count(*), sum(length(v)) FROM long")" "24|$((24 << 23))"
}

@test "a table made in the target while the restore ran (a restore alongside): the move refuses, exit 3, nothing of it in place, no staging left" {
	local pid holder stage i=0 st=0
	sqlite3 held.db "CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT);
	    WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 400000)
	    INSERT INTO big SELECT i, printf('%.100c', 'x') FROM s"
	gb-export -s sqlite:held.db -o held
	seal_set held held
	new_db r
	restore -d postgresql:///r held.seal >out 2>&1 &
	pid=$!
	# hold the staging table "big" so that the restore waits before its move
	until stage=$(psqlc -d r -c "SELECT n.nspname FROM pg_class c JOIN pg_namespace n
	    ON n.oid = c.relnamespace WHERE c.relname = 'big' AND n.nspname LIKE 'gb\_restore\_%'") &&
	    [ -n "$stage" ]; do
		i=$((i + 1))
		[ "$i" -lt 400 ] || fail "no staging table"
		sleep 0.05
	done
	psql -X -q -d r -c "BEGIN" -c "LOCK TABLE $stage.big IN ACCESS SHARE MODE" \
	    -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
	holder=$!
	i=0
	until [ "$(psqlc -d r -c "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
	    AND query LIKE 'ALTER TABLE%CONSTRAINT%'")" = 1 ]; do
		i=$((i + 1))
		[ "$i" -lt 1200 ] || fail "the restore never waited for its key"
		sleep 0.05
	done
	psqlc -d r -c "CREATE TABLE public.alongside (x int)"
	psqlc -d r -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	    WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()" >/dev/null
	wait "$holder" || true
	wait "$pid" || st=$?
	assert_equal "$st" 3
	run cat out
	assert_output --regexp "^gb-restore: [^ ]*/r: the database has tables now, made while this restore ran; nothing restored\$"
	assert_equal "$(pg_tables r)" public.alongside
	assert_equal "$(pg_staging r)" ""
}

# pg_rels DB: every table in DB as quote_ident(schema).quote_ident(table),
# sorted, the staging schemas left out.
pg_rels() {
	psqlc -d "$1" -c "SELECT r FROM (SELECT quote_ident(schemaname) || '.' ||
	    quote_ident(tablename) AS r FROM pg_tables
	    WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
	    AND schemaname NOT LIKE 'gb\_restore\_%') s ORDER BY r COLLATE \"C\"" ||
	    echo "pg_rels $1 failed"
}

# pg_all_rows DB: pg_rows of every table of DB (pg_rels), each row after
# its table's name, on one connection.
pg_all_rows() {
	local t args=()
	for t in $(pg_rels "$1"); do
		args+=(-c "SELECT '$t', x FROM (SELECT r::text AS x FROM $t r) s
		    ORDER BY x COLLATE \"C\"")
	done
	psqlc -d "$1" "${args[@]}"
}

# same_copy DB1 DB2 REL...: each REL's rows, COPY's text of them in id
# order, the same bytes in DB1 and DB2.
same_copy() {
	local a=$1 b=$2 rel
	shift 2
	for rel in "$@"; do
		psqlc -d "$a" -c "COPY (SELECT * FROM $rel ORDER BY id) TO STDOUT" >"$W/$a.copy"
		psqlc -d "$b" -c "COPY (SELECT * FROM $rel ORDER BY id) TO STDOUT" >"$W/$b.copy"
		[ -s "$W/$a.copy" ] || fail "$rel: no rows in $a"
		cmp -s "$W/$a.copy" "$W/$b.copy" ||
		    fail "$rel differs in $a and $b: $(diff "$W/$a.copy" "$W/$b.copy" | head -5)"
	done
}

# spill_writes LOG: the writes to spill files tests/faultinject.so counted
# (GB_FAULT_PATH=$TMPDIR/gb-restore-spill.) in gb-restore.
spill_writes() {
	sed -n 's/^gb-restore [0-9]* count write=\([0-9]*\) .*/\1/p' "$1"
}

@test "rows spilled (GB_RESTORE_SPILL=always) come back exact: every table as without the spill, the source's rows in the source's order" {
	local a tmp
	tmp=$(realpath "$TMPDIR")
	# the PostgreSQL and the SQLite full: every table, value for value, as
	# the same archive restored without the spill
	for a in pgfull litefull; do
		new_db sa
		new_db sn
		GB_RESTORE_SPILL=always run restore -d postgresql:///sa "$FX/spool/$a.seal"
		assert_success
		GB_RESTORE_SPILL=never run restore -d postgresql:///sn "$FX/spool/$a.seal"
		assert_success
		assert_equal "$(pg_rels sa)" "$(pg_rels sn)"
		pg_all_rows sa >sa.rows
		pg_all_rows sn >sn.rows
		cmp -s sa.rows sn.rows || fail "$a: $(diff sa.rows sn.rows | head -20)"
		[ "$(wc -l <sa.rows)" -ge 50 ] || fail "$a: $(cat sa.rows)"
	done
	assert_equal "$(grep -c '^public.members|' sa.rows)" 12
	# more than 16 MiB of one table: its chunks spilled (counted as they
	# are written) to two segments, and the source's rows come back, in
	# the archive's order in the heap
	new_db sa
	run faulty "" GB_FAULT_PATH="$tmp/gb-restore-spill." GB_FAULT_LOG="$W/always.log" \
	    GB_RESTORE_SPILL=always GNUPGHOME="$KEYS/restore" \
	    gb-restore --signer "$SIGNER" -d postgresql:///sa "$FX/spool/spill.seal"
	assert_success
	[ "$(spill_writes always.log)" -ge 40 ] || fail "spill writes: $(cat always.log)"
	same_copy spill sa big stamps
	assert_equal "$(psqlc -d sa -c "SELECT count(*), count(*) FILTER (WHERE id < prev)
	    FROM (SELECT id, lag(id) OVER (ORDER BY ctid) AS prev FROM public.big) s")" "170000|0"
	# never: no spill write at all
	new_db sn
	run faulty "" GB_FAULT_PATH="$tmp/gb-restore-spill." GB_FAULT_LOG="$W/never.log" \
	    GB_RESTORE_SPILL=never GNUPGHOME="$KEYS/restore" \
	    gb-restore --signer "$SIGNER" -d postgresql:///sn "$FX/spool/spill.seal"
	assert_success
	assert_equal "$(spill_writes never.log)" 0
	# a table whose rows go binary, then CSV from a text in a BLOB on: a
	# segment of each format, each COPYed in turn
	sqlite3 -bail sw.db "CREATE TABLE sw (id INTEGER PRIMARY KEY, b BLOB);
	    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40000)
	    INSERT INTO sw SELECT i, CASE WHEN i = 20000 THEN 'text, \"q\"'
	    ELSE CAST(printf('blob %035d', i * 7919) AS BLOB) END FROM n"
	gb-export -s sqlite:sw.db -o set
	mkdir spool
	seal_set set spool/sw
	new_db sa
	GB_RESTORE_SPILL=always run restore -d postgresql:///sa spool/sw.seal
	assert_success
	sqlite3 sw.db "SELECT id, hex(b) FROM sw ORDER BY id" >sw.src
	psqlc -d sa -c "SELECT id, upper(encode(b, 'hex')) FROM sw ORDER BY id" >sw.got
	cmp sw.src sw.got || fail "sw: $(diff sw.src sw.got | head -5)"
	assert_tmpdir_empty
}

@test "nothing spilled is left behind: each spill file unlinked at once, none left by a restore killed (kill -9) while it spills" {
	local tmp pid bk i f st=0 fds
	tmp=$(realpath "$TMPDIR")
	new_db r
	GB_RESTORE_SPILL=always run restore -d postgresql:///r "$FX/spool/spill.seal"
	assert_success
	assert_tmpdir_empty
	# stopped after its third spill write: its spill files are open, and
	# unlinked ("(deleted)"); then killed
	new_db r
	faulty "stopafter:write:3" GB_FAULT_PATH="$tmp/gb-restore-spill." \
	    GB_FAULT_LOG="$W/fault.log" GB_RESTORE_SPILL=always GNUPGHOME="$KEYS/restore" \
	    gb-restore --signer "$SIGNER" -d postgresql:///r "$FX/spool/spill.seal" \
	    >out 2>&1 3>&- &
	bk=$!
	bg_started "$bk"
	for ((i = 0; i < 300; i++)); do
		pid=$(awk '$1 == "gb-restore" && $6 == "stopafter" { print $2; exit }' fault.log 2>/dev/null || true)
		[ -n "$pid" ] && [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = T ] && break
		pid=
		sleep 0.1
	done
	[ -n "$pid" ] || fail "gb-restore did not stop: $(cat out)"
	# the write it stopped after: to a spill file already without a name
	[[ $(awk '$6 == "stopafter" { print $7, $8 }' fault.log) =~ ^"$tmp"/gb-restore-spill\.[0-9]+\.[A-Za-z0-9]{6}\ \(deleted\)$ ]] ||
	    fail "$(cat fault.log)"
	fds=$(find "/proc/$pid/fd" -type l -printf '%l\n' | grep -F "$tmp/" || true)
	[ -n "$fds" ] || fail "no spill file open: $(ls -l "/proc/$pid/fd")"
	! grep -v "^$tmp/gb-restore-spill\.[0-9]*\.[A-Za-z0-9]\{6\} (deleted)\$" <<<"$fds" ||
	    fail "open in TMPDIR with a name: $fds"
	assert_tmpdir_empty
	# what it wrote there, three chunks of big's first rows, is encrypted:
	# not a value in clear (row 1's v begins with md5('1'))
	for f in $(find "/proc/$pid/fd" -type l -lname "$tmp/*"); do
		cat "$f" >>spilled
	done
	[ "$(stat -c %s spilled)" -ge $((3 * 512 << 10)) ] || fail "spilled: $(stat -c %s spilled) bytes"
	! grep -q c4ca4238a0b923820dcc509a6f75849b spilled || fail "rows in clear in the spill"
	kill -9 "$pid"
	wait "$bk" || st=$?
	assert_equal "$st" 137
	assert_tmpdir_empty
	assert_equal "$(pg_rels r)" ""
	# its connections gone, its staging schema is no running restore's
	for ((i = 0; i < 100; i++)); do
		[ "$(psqlc -d r -c "SELECT count(*) FROM pg_stat_activity
		    WHERE datname = 'r' AND pid <> pg_backend_pid()")" = 0 ] && break
		sleep 0.1
	done
	# the next restore drops the killed one's staging schema: every row
	GB_RESTORE_SPILL=always run restore -d postgresql:///r "$FX/spool/spill.seal"
	assert_success
	assert_output --partial "of a restore that did not finish"
	same_copy spill r big stamps
	assert_equal "$(pg_staging r)" ""
	assert_tmpdir_empty
}

# frozen DB: each table of DB with pages not all frozen in its visibility
# map (pg_visibility_map), or whose pg_class says pages not all visible,
# or, where an index build counted them, other pages than it has, as "NAME
# relpages relallvisible pages frozen"; an empty table counts as not
# frozen.  (A table without an index keeps relpages 0 until an ANALYZE.)
frozen() {
	psqlc -d "$1" -c "SET client_min_messages = warning" \
	    -c "CREATE EXTENSION IF NOT EXISTS pg_visibility" \
	    -c "SELECT c.oid::regclass || ' ' || c.relpages || ' ' || c.relallvisible
	    || ' ' || v.pages || ' ' || v.frozen FROM pg_class c
	    JOIN pg_namespace n ON n.oid = c.relnamespace,
	    LATERAL (SELECT count(*) AS pages, count(*) FILTER (WHERE all_frozen) AS frozen
	    FROM pg_visibility_map(c.oid)) v
	    WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
	    AND (v.pages = 0 OR v.frozen <> v.pages OR c.relallvisible <> c.relpages
	    OR (c.relhasindex AND c.relpages <> v.pages))
	    ORDER BY 1"
}

@test "restored tables are loaded frozen (COPY FREEZE): every page all-visible and all-frozen, spilled or not" {
	local mode
	for mode in automatic always; do
		if [ "$mode" = automatic ]; then
			unset GB_RESTORE_SPILL
		else
			export GB_RESTORE_SPILL=$mode
		fi
		new_db r
		run restore -d postgresql:///r "$FX/spool/pgfull.seal"
		assert_success
		run restore -d postgresql:///r --schema spill "$FX/spool/spill.seal"
		assert_success
		assert_equal "$(pg_rels r | wc -l)" 10
		assert_equal "$(frozen r)" ""
		assert_equal "$(psqlc -d r -c "SELECT relpages > 2048 FROM pg_class WHERE oid = 'spill.big'::regclass")" t
	done
	# what a plain COPY leaves: not frozen, so the check above can fail
	psqlc -d r -c "CREATE TABLE public.plain (id int PRIMARY KEY)" \
	    -c "INSERT INTO public.plain SELECT generate_series(1, 1000)"
	run frozen r
	assert_output --regexp '^plain '
}

@test "a spill that cannot be written ends the restore naming the table and TMPDIR, nothing restored; with no TMPDIR to spill to it waits instead, every row exact" {
	local tmp
	tmp=$(realpath "$TMPDIR")
	# the disk full at the first spill write
	new_db r
	run faulty "write:1:ENOSPC" GB_FAULT_PATH="$tmp/gb-restore-spill." \
	    GB_RESTORE_SPILL=always GNUPGHOME="$KEYS/restore" \
	    gb-restore --signer "$SIGNER" -d postgresql:///r "$FX/spool/spill.seal"
	assert_failure 3
	assert_line "gb-restore: $FX/spool/spill.tar.gz.gpg: cannot spill rows of table public.big to $TMPDIR: No space left on device; nothing restored"
	assert_equal "$(pg_tables r)" ""
	assert_equal "$(pg_staging r)" ""
	assert_tmpdir_empty
	# a TMPDIR that does not exist: no spill file, the rows wait for
	# their COPY
	new_db r
	TMPDIR="$W/none" GB_RESTORE_SPILL=always run restore -d postgresql:///r "$FX/spool/spill.seal"
	assert_success
	refute_output --partial spill
	same_copy spill r big stamps
	[ ! -e "$W/none" ] || fail "$W/none was made"
}
