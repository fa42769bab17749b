#!/usr/bin/env bats
# Exact incrementals: randomised rounds of inserts, updates and deletes,
# updates that keep their watermark, share its second or go back in time
# (a clock set back, a long transaction committing an old timestamp);
# after each round an incremental, and the chain restored so far equals
# the source row for row and type for type, on SQLite and PostgreSQL.

load helper
load archive-helper
load pg

setup_file() {
	archive_setup_file
	pg_start
}

teardown_file() {
	pg_stop
	archive_teardown_file
}

rst() {
	GNUPGHOME="$KEYS/restore" gb-restore --signer "$SIGNER" "$@"
}

# round N: changes of every kind to the gym in gym.db, from seed N.
round() {
	local n=$1 top
	top=$(sqlite3 gym.db "SELECT max(updated_at) FROM members")
	sqlite3 -bail gym.db <<-EOF
	-- updates with a new watermark
	UPDATE members SET balance = balance + $n, updated_at = '2031-0$n-01 00:00:00'
	  WHERE (id * 7 + $n) % 5 = 0;
	-- updates that keep updated_at, or write it in the watermark's second
	UPDATE members SET note = 'kept $n' WHERE (id + $n) % 4 = 0;
	UPDATE members SET level = 'gold', updated_at = '$top' WHERE (id + $n) % 6 = 1;
	-- a clock set back, a long transaction committing an old time
	UPDATE members SET status = 'frozen', balance = -$n, updated_at = '2001-01-01 00:00:00'
	  WHERE (id * 3 + $n) % 7 = 2;
	INSERT INTO members (id, card_no, name, level, balance, status, created_at, updated_at)
	  SELECT coalesce(max(id), 0) + 1, 'R$n-' || (coalesce(max(id), 0) + 1), '迟到 $n', 'gold',
	  $n * 100, 'active', '2000-01-01', '2000-01-01 00:00:00' FROM members;
	INSERT INTO members (id, card_no, name, level, balance, status, created_at, updated_at)
	  SELECT max(id) + 1, 'N$n-' || (max(id) + 1), 'new, "$n"', 'silver', 1, 'active',
	  '2031-01-01', '2031-0$n-02 00:00:00' FROM members;
	-- deletes, of every age
	DELETE FROM members WHERE (id * 5 + $n) % 9 = 0;
	DELETE FROM stores WHERE id = $n;
	DELETE FROM checkins WHERE (id + $n) % 3 = 0;
	INSERT INTO checkins (id, member_id, store_id, checked_in_at)
	  SELECT coalesce(max(id), 0) + 1, 1, 1, '1999-01-01 00:00:00' FROM checkins;
	UPDATE promotions SET discount_pct = discount_pct * 2 WHERE (id + $n) % 5 = 0;
	UPDATE promotions SET bonus_amount = $n WHERE id = $n;
	EOF
}

@test "SQLite: five randomised rounds, each chain restores equal to the source" {
	local n names=() prev=full
	seed_gym
	for n in 1 2 3 4 5; do
		round "$n"
		run gb-export -c gym.conf -S state -i "$prev/MANIFEST" -o "inc$n"
		assert_success
		assert_equal "$(mf "inc$n/MANIFEST" change members)" delta
		seal_set "inc$n" "spool/inc$n"
		names+=("spool/inc$n.seal")
		cp gym.db "src$n.db"
		run rst -d "sqlite:r$n.db" spool/full.seal "${names[@]}"
		assert_success
		assert_db_equal "r$n.db" "src$n.db"
		prev=inc$n
	done
	# the deletes went as keys, readable by stock tools
	assert_equal "$(head -n 1 inc1/members+deleted.csv)" id
	[ "$(mf inc1/MANIFEST deletes members | cut -f2)" -gt 0 ]
	# the drill holds each table to the source's totals at each snapshot
	run --separate-stderr rst --test spool/full.seal "${names[@]}"
	assert_success
	refute_output --partial FAIL
	assert_line --regexp "^OK: $(mf inc5/MANIFEST id) members: $(sqlite3 src5.db 'SELECT count(*) FROM members') rows, sha256 match, money sums match$"
	assert_line "restore test: 6 archives, OK"
	assert_tmpdir_empty
}

# seed_gym: gym.db, its config, the full export and its archive.
seed_gym() {
	make_gym_db gym.db
	write_gym_conf gym.conf "$W/gym.db"
	mkdir spool
	run gb-export -c gym.conf -S state -o full
	assert_success
	seal_set full spool/full
}

@test "SQLite: a lost state makes the next incremental take its tables whole, and the chain stays exact" {
	seed_gym
	round 1
	rm -r state/jobs/manual
	run gb-export -c gym.conf -S state -i full/MANIFEST -o inc
	assert_success
	assert_output --regexp "warning: table members: no state of the base .*; the table goes whole"
	assert_equal "$(mf inc/MANIFEST change members)" whole
	assert_equal "$(mf inc/MANIFEST rows members)" "$(sqlite3 gym.db 'SELECT count(*) FROM members')"
	seal_set inc spool/inc
	run rst -d sqlite:r.db spool/full.seal spool/inc.seal
	assert_success
	assert_db_equal r.db gym.db
}

@test "SQLite: the state is 0600 in 0700 directories and holds no member data" {
	seed_gym
	assert_equal "$(stat -c %a state state/key state/jobs/manual)" "$(printf '700\n600\n700')"
	local f
	for f in state/jobs/manual/*/*.state; do
		assert_equal "$(stat -c %a "$f")" 600
	done
	# names, notes and card numbers are nowhere in it
	run grep -r -a -l -e '张伟' -e 'C0001' -e 'He said' state
	assert_failure 1
}

@test "SQLite: an altered state is not used" {
	seed_gym
	round 2
	local f
	f=$(ls state/jobs/manual/*/members.csv.state)
	printf '\x01' | dd of="$f" bs=1 seek=20 conv=notrunc status=none
	run gb-export -c gym.conf -S state -i full/MANIFEST -t members -o inc
	assert_success
	assert_output --partial "not the state of this key (id), or damaged"
	assert_equal "$(mf inc/MANIFEST change members)" whole
}

@test "an incremental restored onto a chain that lacks a deleted row is refused, nothing restored" {
	seed_gym
	round 1
	gb-export -c gym.conf -S state -i full/MANIFEST -o inc1
	seal_set inc1 spool/inc1
	round 2
	gb-export -c gym.conf -S state -i inc1/MANIFEST -o inc2
	seal_set inc2 spool/inc2
	# inc2 deletes rows inc1 brought; without inc1 the chain is broken
	run rst -d sqlite:r.db spool/full.seal spool/inc2.seal
	assert_failure
	refute [ -e r.db ]
}

# ------------------------------------------------------------ PostgreSQL

pg_round() {
	local n=$1
	psqlc -d gym -c "
	UPDATE members SET balance = balance + $n, updated_at = '2031-0$n-01 00:00:00+00'
	  WHERE (id * 7 + $n) % 5 = 0;
	UPDATE members SET note = 'kept $n' WHERE (id + $n) % 4 = 0;
	UPDATE members SET level = 'gold', updated_at = (SELECT max(updated_at) FROM members)
	  WHERE (id + $n) % 6 = 1;
	UPDATE members SET status = 'frozen', balance = -$n, updated_at = '2001-01-01 00:00:00+00'
	  WHERE (id * 3 + $n) % 7 = 2;
	INSERT INTO members (id, card_no, name, level, balance, status, created_at, updated_at)
	  SELECT max(id) + 1, 'N$n', '新 $n', 'silver', 1, 'active', '2031-01-01', '2000-01-01 00:00:00+00'
	  FROM members;
	DELETE FROM members WHERE (id * 5 + $n) % 9 = 0
	  AND id NOT IN (SELECT member_id FROM consumptions);
	UPDATE stores SET name = name || '$n' WHERE id = 1;" >/dev/null
}

# pg_rows DB: every table of DB, rows in key order with their types.
pg_rows() {
	local t
	for t in $(psqlc -d "$1" -c "SELECT schemaname || '.' || tablename FROM pg_tables
	    WHERE schemaname = 'public' ORDER BY 1"); do
		echo "== $t"
		psqlc -d "$1" -c "SELECT row_to_json(x)::text || ' ' || pg_typeof(x.*)::text
		    FROM $t x ORDER BY 1"
	done
}

@test "PostgreSQL: four rounds, with a transaction open across an export committing an old time" {
	pg_gym_db gym
	pg_conf pg.conf gym
	mkdir spool
	run gb-export -c pg.conf -S state -o full
	assert_success
	seal_set full spool/full
	local n prev=full names=() want got lp
	for n in 1 2 3 4; do
		pg_round "$n"
		if [ "$n" = 3 ]; then
			# a writer whose rows carry a time before the export that
			# runs while it is open, and that commits after it
			coproc LONG { psqlc -d gym -q -f - >/dev/null 2>&1; }
			lp=$LONG_PID
			echo "BEGIN; INSERT INTO members (id, card_no, name, level, balance, status, created_at, updated_at)
			    VALUES (90000, 'LONG', 'long', 'gold', 5, 'active', '2000-01-01', now() - interval '1 day');" >&"${LONG[1]}"
			sleep 1
		fi
		run gb-export -c pg.conf -S state -i "$prev/MANIFEST" -o "inc$n"
		assert_success
		if [ "$n" = 3 ]; then
			echo "COMMIT;" >&"${LONG[1]}"
			exec {LONG[1]}>&-
			wait "$lp" || true
			assert_equal "$(psqlc -d gym -c 'SELECT count(*) FROM members WHERE id = 90000')" 1
			# not in this snapshot: the next incremental takes it
			run grep -c '^90000,' "inc$n/public.members.csv"
			assert_output 0
		fi
		seal_set "inc$n" "spool/inc$n"
		names+=("spool/inc$n.seal")
		psqlc -c "CREATE DATABASE snap$n TEMPLATE gym" >/dev/null
		# the source as this export saw it: the long writer not yet in
		[ "$n" != 3 ] || psqlc -d snap3 -c "DELETE FROM members WHERE id = 90000"
		psqlc -c "CREATE DATABASE r$n" >/dev/null
		run rst -d "postgresql:///r$n" spool/full.seal "${names[@]}"
		assert_success
		want=$(pg_rows "snap$n")
		got=$(pg_rows "r$n")
		assert_equal "$got" "$want"
		prev=inc$n
	done
	[ "$(grep -c '^90000,' inc4/public.members.csv)" = 1 ]
	# and into SQLite: the same rows as the source
	run rst -d sqlite:r.db spool/full.seal "${names[@]}"
	assert_success
	assert_equal "$(sqlite3 r.db 'SELECT count(*), sum(balance) FROM members')" \
	    "$(psqlc -d snap4 -c 'SELECT count(*) || $$|$$ || sum(balance) FROM public.members')"
}

@test "gb-verify --deep checks the lists of deleted keys like the tables" {
	seed_gym
	round 1
	gb-export -c gym.conf -S state -i full/MANIFEST -t members -o inc
	local n
	n=$(mf inc/MANIFEST deletes members | cut -f2)
	[ "$n" -gt 0 ]
	seal_set inc spool/inc
	run env GNUPGHOME="$KEYS/restore" gb-verify --deep --signer "$SIGNER" spool/inc.seal
	assert_success
	# a MANIFEST that counts one key more than its list holds
	lie_set inc lie "s/^\(deletes\tmembers\tmembers+deleted.csv\t\)$n\t/\1$((n + 1))\t/"
	seal_set lie spool/lie
	run env GNUPGHOME="$KEYS/restore" gb-verify --deep --signer "$SIGNER" spool/lie.seal
	assert_failure 1
	assert_output --partial "members+deleted.csv: $n rows, the MANIFEST says $((n + 1))"
	# without --deep the seal alone is checked, and holds
	run env GNUPGHOME="$KEYS/auditor" gb-verify --signer "$SIGNER" spool/lie.seal
	assert_success
}

# ----------------------------------------------- parts, layout, -t of PostgreSQL

# no_ids SET: its MANIFEST without the lines that name the export itself.
no_ids() {
	grep -v -E '^(id|snapshot|base)	' "$1/MANIFEST"
}

@test "SQLite: a table read in parts leaves a segment per part; its incremental is the same bytes with -P 4 and -P 1, either state, and restores exactly" {
	make_gym_db gym.db
	write_gym_conf gym.conf "$W/gym.db"
	# checkins big enough to be split (gb-export: 2 x 65536 rows at least)
	sqlite3 gym.db "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
	    INSERT INTO checkins (id, member_id, store_id, checked_in_at, checked_out_at)
	    SELECT 100 + i, 1 + i % 10, 1 + i % 3, '2026-01-01 ' || printf('%06d', i), NULL FROM n"
	mkdir spool
	run gb-export -c gym.conf -P 4 -S s4 -o f4
	assert_success
	run gb-export -c gym.conf -P 1 -S s1 -o f1
	assert_success
	[ -f s4/jobs/manual/"$(mf f4/MANIFEST id)"/checkins.csv.state.1 ]
	refute [ -e s1/jobs/manual/"$(mf f1/MANIFEST id)"/checkins.csv.state.1 ]
	diff -r -x MANIFEST f4 f1
	seal_set f4 spool/f4
	# changes in every part: updates, deletes, a new row at the end
	local gone
	gone=$(sqlite3 gym.db "SELECT count(*) FROM checkins WHERE id % 7919 = 1 OR id IN (101, 65636, 65637, 131172)")
	[ "$gone" -gt 20 ]
	sqlite3 gym.db "UPDATE checkins SET checked_out_at = '2026-02-02 00:00:00' WHERE id % 9973 = 0;
	    DELETE FROM checkins WHERE id % 7919 = 1 OR id IN (101, 65636, 65637, 131172);
	    INSERT INTO checkins (id, member_id, store_id, checked_in_at) VALUES (900000, 1, 1, '2026-02-02');
	    UPDATE members SET balance = balance + 7 WHERE id = 2"
	run gb-export -c gym.conf -P 4 -S s4 -i f4/MANIFEST -o i44
	assert_success
	run gb-export -c gym.conf -P 1 -S s4 -i f4/MANIFEST -o i41
	assert_success
	run gb-export -c gym.conf -P 4 -S s1 -i f1/MANIFEST -o i14
	assert_success
	run gb-export -c gym.conf -P 1 -S s1 -i f1/MANIFEST -o i11
	assert_success
	assert_equal "$(mf i44/MANIFEST change checkins)" delta
	assert_equal "$(mf i44/MANIFEST rows checkins)" "$(sqlite3 gym.db "SELECT count(*) FROM checkins WHERE id % 9973 = 0 OR id = 900000")"
	assert_equal "$(mf i44/MANIFEST deletes checkins | cut -f2)" "$gone"
	local s
	for s in i41 i14 i11; do
		diff -r -x MANIFEST i44 "$s"
		assert_equal "$(no_ids "$s")" "$(no_ids i44)"
	done
	seal_set i44 spool/i44
	run rst -d sqlite:r.db spool/f4.seal spool/i44.seal
	assert_success
	assert_db_equal r.db gym.db
	run --separate-stderr rst --test spool/f4.seal spool/i44.seal
	assert_success
	assert_line "restore test: 2 archives, OK"
	# a segment lost: the state is not used, the table goes whole
	rm "s4/jobs/manual/$(mf i44/MANIFEST id)/checkins.csv.state.1"
	run gb-export -c gym.conf -P 4 -S s4 -i i44/MANIFEST -t checkins -o i5
	assert_success
	assert_output --regexp "warning: table checkins: no state of the base .*checkins.csv.state.1: No such file or directory \(a segment is missing\)\); the table goes whole"
	assert_equal "$(mf i5/MANIFEST change checkins)" whole
}

@test "state: jobs apart from the key, so a job may be called key; the layout of 0.1 only makes the next incremental go whole" {
	seed_gym
	# gymbackup 0.1 kept a job's states beside the key: STATEDIR/JOB/ID
	local id
	id=$(mf full/MANIFEST id)
	mkdir -p state/manual
	mv "state/jobs/manual/$id" state/manual/
	round 1
	run gb-export -c gym.conf -S state -i full/MANIFEST -o inc
	assert_success
	assert_output --regexp "warning: table members: no state of the base $id .*; the table goes whole"
	assert_equal "$(mf inc/MANIFEST change members)" whole
	seal_set inc spool/inc
	run rst -d sqlite:r.db spool/full.seal spool/inc.seal
	assert_success
	assert_db_equal r.db gym.db
	# a job named key: its states under jobs/, the key untouched
	run gb-export -c gym.conf -S state -j key -o k1
	assert_success
	round 2
	run gb-export -c gym.conf -S state -j key -i k1/MANIFEST -o k2
	assert_success
	refute_output --partial warning
	assert_equal "$(mf k2/MANIFEST change members)" delta
	assert_equal "$(stat -c '%a %s' state/key)" '600 32'
	[ -d "state/jobs/key/$(mf k2/MANIFEST id)" ]
	# a job name that is no job name names no directory
	run gb-export -c gym.conf -S state -j ../x -o k3
	assert_failure 2
	assert_output --partial "-j ../x: a job name is letters, digits"
}

@test "PostgreSQL: -t schema.table restores those tables alone, into PostgreSQL and SQLite, a chain and the drill" {
	pg_gym_db gym
	pg_conf pg.conf gym
	mkdir spool
	gb-export -c pg.conf -S state -o full
	pg_round 1
	psqlc -d gym -c "UPDATE sales.orders SET amount = amount + 1" >/dev/null
	gb-export -c pg.conf -S state -i full/MANIFEST -o inc
	seal_set full spool/full
	seal_set inc spool/inc
	psqlc -c "CREATE DATABASE r" >/dev/null
	run rst -d postgresql:///r -t public.members -t sales.orders spool/full.seal spool/inc.seal
	assert_success
	assert_equal "$(psqlc -d r -c "SELECT schemaname || '.' || tablename FROM pg_tables
	    WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")" \
	    "$(printf 'public.members\nsales.orders')"
	local t
	for t in public.members sales.orders; do
		assert_equal "$(psqlc -d r -c "SELECT row_to_json(x)::text FROM $t x ORDER BY 1")" \
		    "$(psqlc -d gym -c "SELECT row_to_json(x)::text FROM $t x ORDER BY 1")"
	done
	# its indexes came along, no other table's
	assert_equal "$(psqlc -d r -c "SELECT count(*) FROM pg_indexes WHERE indexname = 'members_lower_name'")" 1
	run rst -d sqlite:r.db -t public.members -t sales.orders spool/full.seal spool/inc.seal
	assert_success
	assert_equal "$(db_tables r.db | tr '\n' ' ')" 'members orders '
	assert_equal "$(sqlite3 r.db 'SELECT count(*), sum(balance) FROM members')" \
	    "$(psqlc -d gym -c 'SELECT count(*) || $$|$$ || sum(balance) FROM public.members')"
	assert_equal "$(sqlite3 r.db 'SELECT sum(amount) FROM orders')" \
	    "$(psqlc -d gym -c 'SELECT sum(amount) FROM sales.orders')"
	run --separate-stderr rst --test -t sales.orders spool/full.seal spool/inc.seal
	assert_success
	assert_line --regexp "^OK: .* sales.orders: "
	refute_line --regexp "members"
}

@test "SQLite: a state moved from another table, or from an older export of the same table, is not used; the chain stays exact" {
	local base inc1 f
	seed_gym
	base=$(mf full/MANIFEST id)
	round 1
	run gb-export -c gym.conf -S state -i full/MANIFEST -o inc1
	assert_success
	seal_set inc1 spool/inc1
	inc1=$(mf inc1/MANIFEST id)
	# the base's members state over the next one's, checkins' over stores'
	rm state/jobs/manual/"$inc1"/members.csv.state* state/jobs/manual/"$inc1"/stores.csv.state*
	for f in state/jobs/manual/"$base"/members.csv.state*; do
		cp "$f" state/jobs/manual/"$inc1"/
	done
	for f in state/jobs/manual/"$inc1"/checkins.csv.state*; do
		cp "$f" "${f/checkins/stores}"
	done
	round 2
	run gb-export -c gym.conf -S state -i inc1/MANIFEST -o inc2
	assert_success
	assert_output --regexp "warning: table members: no state of the base $inc1 \(.*members.csv.state: not the state of this key \(id\), or damaged, or not made as $inc1/members.csv\); the table goes whole"
	assert_output --regexp "warning: table stores: no state of the base $inc1 \(.*stores.csv.state: not the state of this key \(id\), or damaged, or not made as $inc1/stores.csv\); the table goes whole"
	refute_output --partial "table checkins"
	assert_equal "$(mf inc2/MANIFEST change members)" whole
	assert_equal "$(mf inc2/MANIFEST change stores)" whole
	assert_equal "$(mf inc2/MANIFEST change checkins)" delta
	seal_set inc2 spool/inc2
	run rst -d sqlite:r.db spool/full.seal spool/inc1.seal spool/inc2.seal
	assert_success
	assert_db_equal r.db gym.db
}

@test "SQLite: a state with a segment after its last (a copy of one) is not used; the chain stays exact" {
	local base n
	seed_gym
	base=$(mf full/MANIFEST id)
	n=$(ls state/jobs/manual/"$base"/members.csv.state* | wc -l)
	cp state/jobs/manual/"$base"/members.csv.state \
	    state/jobs/manual/"$base"/members.csv.state.$n
	round 1
	run gb-export -c gym.conf -S state -i full/MANIFEST -o inc
	assert_success
	assert_output --regexp "warning: table members: no state of the base $base \(.*/members.csv.state.$n: a segment after the last\); the table goes whole"
	assert_equal "$(mf inc/MANIFEST change members)" whole
	assert_equal "$(mf inc/MANIFEST rows members)" "$(sqlite3 gym.db 'SELECT count(*) FROM members')"
	seal_set inc spool/inc
	run rst -d sqlite:r.db spool/full.seal spool/inc.seal
	assert_success
	assert_db_equal r.db gym.db
}

@test "keys as the schema names them (spaces, a comma, none, \"ID\" beside id, the primary key only), unique values swapped: the chain restores exact from SQLite and PostgreSQL" {
	mkdir spool
	sqlite3 -bail s.db <<-'EOF2'
	CREATE TABLE sp (" a" INTEGER, "b " TEXT, v TEXT, PRIMARY KEY (" a", "b "));
	CREATE TABLE cm ("a,b" INTEGER PRIMARY KEY, v TEXT);
	CREATE TABLE e ("" INTEGER PRIMARY KEY, v TEXT);
	CREATE TABLE ck (store_id INTEGER, day TEXT, v TEXT, PRIMARY KEY (day, store_id));
	CREATE TABLE nu (id INTEGER, v TEXT);
	CREATE UNIQUE INDEX nu_id ON nu (id);
	CREATE TABLE sw (id INTEGER PRIMARY KEY, email TEXT UNIQUE);
	INSERT INTO sp VALUES (1, 'x', 'p'), (2, 'y', 'q'), (3, 'z', 'r');
	INSERT INTO cm VALUES (1, 'p'), (2, 'q'), (3, 'r');
	INSERT INTO e VALUES (1, 'p'), (2, 'q');
	INSERT INTO ck VALUES (1, 'mon', 'p'), (1, 'tue', 'q'), (2, 'mon', 'r');
	INSERT INTO nu VALUES (1, 'p'), (2, 'q');
	INSERT INTO sw VALUES (1, 'a@'), (2, 'b@'), (3, 'c@'), (4, 'd@');
	EOF2
	# a key from the config, spaced and in another case: the schema's names;
	# one that is not the primary key (a unique index's) goes whole
	printf '[source]\nuri = sqlite:%s\n\n[table ck]\nkey = STORE_ID , day\n\n[table nu]\nkey = id\n' \
	    "$W/s.db" >s.conf
	run gb-export -c s.conf -S state -o full
	assert_success
	# the manifest's key line could not name a column with a comma, or none
	assert_output --partial 'warning: table cm: the manifest cannot name key column "a,b" (empty, or with a comma): the table goes whole in every incremental'
	assert_output --partial 'warning: table e: the manifest cannot name key column "" (empty'
	assert_output --partial 'warning: table nu: key id is not its primary key: the table goes whole in every incremental'
	assert_equal "$(mf full/MANIFEST key sp)" ' a,b\s'
	assert_equal "$(mf full/MANIFEST key cm)" -
	assert_equal "$(mf full/MANIFEST key e)" -
	assert_equal "$(mf full/MANIFEST key ck)" store_id,day
	assert_equal "$(mf full/MANIFEST key nu)" -
	sqlite3 -bail s.db "UPDATE sp SET v = 'P' WHERE \" a\" = 1; DELETE FROM sp WHERE \" a\" = 2;
	    INSERT INTO sp VALUES (4, 'w', 's'); UPDATE cm SET v = 'Q' WHERE \"a,b\" = 2;
	    DELETE FROM cm WHERE \"a,b\" = 3; UPDATE e SET v = 'Q' WHERE \"\" = 2;
	    UPDATE ck SET v = 'Q' WHERE day = 'tue'; DELETE FROM ck WHERE store_id = 2;
	    UPDATE nu SET v = 'Q' WHERE id = 2;
	    -- unique values swapped, and one of a deleted row taken
	    UPDATE sw SET email = 'x' WHERE id = 1; UPDATE sw SET email = 'a@' WHERE id = 2;
	    UPDATE sw SET email = 'b@' WHERE id = 1; DELETE FROM sw WHERE id = 3;
	    UPDATE sw SET email = 'c@' WHERE id = 4"
	run gb-export -c s.conf -S state -i full/MANIFEST -o inc
	assert_success
	assert_equal "$(mf inc/MANIFEST change sp)" delta
	assert_equal "$(mf inc/MANIFEST rows sp)" 2
	assert_equal "$(cat 'inc/sp+deleted.csv')" "$(printf '" a","b "\n2,y')"
	assert_equal "$(mf inc/MANIFEST change cm)" whole
	assert_equal "$(mf inc/MANIFEST change e)" whole
	assert_equal "$(mf inc/MANIFEST change ck)" delta
	assert_equal "$(cat 'inc/ck+deleted.csv')" "$(printf 'store_id,day\n2,mon')"
	assert_equal "$(mf inc/MANIFEST change nu)" whole
	assert_equal "$(mf inc/MANIFEST change sw)" delta
	seal_set full spool/full
	seal_set inc spool/inc
	run rst -d sqlite:r.db spool/full.seal spool/inc.seal
	assert_success
	assert_db_equal r.db s.db
	# a manifest whose key two rows hold: refused, not both replaced by one
	cp -r inc bad
	sed -i 's/^key\tck\tstore_id,day$/key\tck\tstore_id/' bad/MANIFEST
	grep -q '^key	ck	store_id$' bad/MANIFEST
	seal_set bad spool/bad
	run rst -d sqlite:b.db spool/full.seal spool/bad.seal
	assert_failure 3
	assert_output --partial 'table ck: its key ("store_id") is not unique; an incremental cannot be applied'
	[ ! -e b.db ]

	new_db kc
	# and a key id beside a column "ID" that sorts the other way
	psqlc -d kc -c 'CREATE TABLE sp (" a" int, "b " text, v text, PRIMARY KEY (" a", "b "))' \
	    -c 'CREATE TABLE cm ("a,b" int PRIMARY KEY, v text)' \
	    -c 'CREATE TABLE ci ("ID" int, id int PRIMARY KEY, v text)' \
	    -c 'CREATE TABLE pu (id int PRIMARY KEY, code text UNIQUE, v text)' \
	    -c 'CREATE TABLE sw (id int PRIMARY KEY, email text UNIQUE)' \
	    -c "INSERT INTO pu VALUES (1, 'b', 'p'), (2, 'a', 'q')" \
	    -c "INSERT INTO sw VALUES (1, 'a@'), (2, 'b@'), (3, 'c@'), (4, 'd@')" \
	    -c "INSERT INTO sp VALUES (1, 'x', 'p'), (2, 'y', 'q'), (3, 'z', 'r')" \
	    -c "INSERT INTO cm VALUES (1, 'p'), (2, 'q'), (3, 'r')" \
	    -c "INSERT INTO ci VALUES (3, 1, 'p'), (2, 2, 'q'), (1, 3, 'r')"
	printf '[source]\nuri = postgresql:///kc\n\n[table public.pu]\nkey = code\n' >p.conf
	run gb-export -c p.conf -S pstate -o pfull
	assert_success
	assert_output --partial 'warning: table public.cm: the manifest cannot name key column "a,b"'
	assert_output --partial 'warning: table public.pu: key code is not its primary key'
	psqlc -d kc -c "UPDATE sp SET v = 'P' WHERE \" a\" = 1" -c "DELETE FROM sp WHERE \" a\" = 2" \
	    -c "INSERT INTO sp VALUES (4, 'w', 's')" -c "UPDATE cm SET v = 'Q' WHERE \"a,b\" = 2" \
	    -c "DELETE FROM cm WHERE \"a,b\" = 3" -c "UPDATE ci SET v = 'Q' WHERE id = 1" \
	    -c "DELETE FROM ci WHERE id = 2" -c "UPDATE pu SET v = 'Q' WHERE code = 'a'" \
	    -c "UPDATE pu SET code = 'c' WHERE id = 2" \
	    -c "UPDATE sw SET email = 'x' WHERE id = 1" -c "UPDATE sw SET email = 'a@' WHERE id = 2" \
	    -c "UPDATE sw SET email = 'b@' WHERE id = 1" -c "DELETE FROM sw WHERE id = 3" \
	    -c "UPDATE sw SET email = 'c@' WHERE id = 4"
	run gb-export -c p.conf -S pstate -i pfull/MANIFEST -o pinc
	assert_success
	assert_equal "$(mf pinc/MANIFEST change public.sp)" delta
	assert_equal "$(mf pinc/MANIFEST change public.cm)" whole
	assert_equal "$(mf pinc/MANIFEST change public.ci)" delta
	assert_equal "$(cat 'pinc/public.ci+deleted.csv')" "$(printf 'id\n2')"
	assert_equal "$(mf pinc/MANIFEST change public.pu)" whole
	assert_equal "$(mf pinc/MANIFEST change public.sw)" delta
	seal_set pfull spool/pfull
	seal_set pinc spool/pinc
	new_db kr
	run rst -d postgresql:///kr spool/pfull.seal spool/pinc.seal
	assert_success
	assert_equal "$(pg_rows kr)" "$(pg_rows kc)"
	assert_equal "$(psqlc -d kr -c 'SELECT count(*) FROM sp')" 3
	# "ID" beside id: good for PostgreSQL, more than SQLite can hold
	run env GNUPGHOME="$KEYS/restore" gb-verify --deep --signer "$SIGNER" spool/pfull.seal
	assert_success
	run rst -d sqlite:k.db spool/pfull.seal
	assert_failure 1
	assert_output --partial "duplicate column name: id"
	[ ! -e k.db ]
}
