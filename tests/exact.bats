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
	rm -r state/manual
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
	assert_equal "$(stat -c %a state state/key state/manual)" "$(printf '700\n600\n700')"
	local f
	for f in state/manual/*/*.state; do
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
	f=$(ls state/manual/*/members.csv.state)
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
