#!/usr/bin/env bats
# gb-export -i PREV_MANIFEST: exactly the rows inserted or changed since
# the previous export, whatever their watermark, and the keys of the rows
# deleted since (the state under $XDG_STATE_HOME, helper.bash).

load helper

MASTER=(-t members -t stores -t promotions)

# keys CSV: the id column of an export CSV, sorted, space-separated.
keys() {
	csvcheck col "$1" id | sort -n | paste -sd' '
}

@test "incremental: three rounds pick exactly the changed rows, a watermark left alone too" {
	make_gym_db gym.db
	write_gym_conf gym.conf "$W/gym.db"

	# Round 0: full.
	run gb-export -c gym.conf "${MASTER[@]}" -o full
	assert_success
	verify_set full gym.db
	local to_m to_s to_p
	to_m=$(sqlite3 gym.db "SELECT max(updated_at) FROM members")
	to_s=$(sqlite3 gym.db "SELECT max(updated_at) FROM stores")
	to_p=$(sqlite3 gym.db "SELECT max(updated_at) FROM promotions")
	assert_equal "$(mf full/MANIFEST watermark members)" "updated_at	text	-	$to_m"

	# Round 1: change members 2 and 5, add member 13, change store 3.
	sqlite3 -bail gym.db "
	    UPDATE members SET balance = balance + 100, updated_at = '2026-02-01 10:00:00' WHERE id IN (2, 5);
	    INSERT INTO members VALUES (13, 'C0013', '新会员, \"new\"', NULL, 'gold', 4242,
	      'active', 1, 'a' || char(10) || 'b', x'01', '2026-02-01 10:00:01', '2026-02-01 10:00:01');
	    UPDATE stores SET name = '新名字', updated_at = '2026-02-01 11:00:00' WHERE id = 3;
	    UPDATE members SET note = 'changed but not its updated_at' WHERE id = 9;"
	run gb-export -c gym.conf "${MASTER[@]}" -i full/MANIFEST -o inc1
	assert_success
	verify_set inc1 gym.db
	local m=inc1/MANIFEST
	assert_equal "$(mf $m level)" "incremental"
	assert_equal "$(mf $m base)" "$(mf full/MANIFEST id)"
	assert_equal "$(keys inc1/members.csv)" "2 5 9 13"
	assert_equal "$(keys inc1/stores.csv)" "3"
	assert_equal "$(keys inc1/promotions.csv)" ""
	assert_equal "$(mf $m rows members)" 4
	assert_equal "$(mf $m rows promotions)" 0
	assert_equal "$(mf $m change members)" delta
	# an incremental records no watermark: none decided what it holds
	assert_equal "$(mf $m watermark members)" ""
	assert_equal "$(mf $m deletes members | cut -f2-)" "0	3	$(printf 'id\n' | sha256sum | cut -d' ' -f1)"
	assert_equal "$(mf $m total members | cut -f1)" 13
	assert_equal "$(mf $m money members)" \
	    "balance	$(sqlite3 gym.db 'SELECT sum(balance) FROM members WHERE id IN (2, 5, 9, 13)')"
	assert_equal "$(mf $m total-money members)" \
	    "balance	$(sqlite3 gym.db 'SELECT sum(balance) FROM members')"
	assert_equal "$(head -n 1 inc1/promotions.csv)" \
	    "id,code,title,kind,discount_pct,bonus_amount,starts_on,ends_on,updated_at"
	assert_equal "$(wc -l <inc1/promotions.csv)" 1

	# Round 2: change other rows (and member 13 again), add a promotion.
	sqlite3 -bail gym.db "
	    UPDATE members SET status = 'frozen', updated_at = '2026-03-01 09:00:00' WHERE id IN (1, 7);
	    UPDATE members SET balance = 0, updated_at = '2026-03-01 09:00:01' WHERE id = 13;
	    UPDATE promotions SET ends_on = '2026-12-31', updated_at = '2026-03-01 12:00:00' WHERE id = 4;
	    INSERT INTO promotions VALUES (17, 'SPRING', '春季, \"特惠\"', 'discount', 0.85, NULL,
	      '2026-03-01', NULL, '2026-03-01 12:00:01');"
	run gb-export -c gym.conf "${MASTER[@]}" -i inc1/MANIFEST -o inc2
	assert_success
	verify_set inc2 gym.db
	m=inc2/MANIFEST
	assert_equal "$(mf $m base)" "$(mf inc1/MANIFEST id)"
	assert_equal "$(keys inc2/members.csv)" "1 7 13"
	assert_equal "$(keys inc2/stores.csv)" ""
	assert_equal "$(keys inc2/promotions.csv)" "4 17"
	# The rows are today's values, not round 1's.
	assert_equal "$(csvcheck col inc2/members.csv id balance | grep '^13' )" "13	0"
	run csvcheck compare gym.db members inc2/members.csv \
	    --where "id IN (1, 7, 13)"
	assert_success

	# Round 3: deletes, and an update under a clock set back.
	sqlite3 -bail gym.db "DELETE FROM members WHERE id IN (4, 13);
	    UPDATE members SET balance = 7, updated_at = '2001-01-01 00:00:00' WHERE id = 6;
	    DELETE FROM promotions WHERE id = 17;"
	run gb-export -c gym.conf "${MASTER[@]}" -i inc2/MANIFEST -o inc3
	assert_success
	verify_set inc3 gym.db
	assert_equal "$(keys inc3/members.csv)" "6"
	assert_equal "$(cat inc3/members+deleted.csv)" "$(printf 'id\n4\n13')"
	assert_equal "$(cat inc3/promotions+deleted.csv)" "$(printf 'id\n17')"
	assert_equal "$(mf inc3/MANIFEST deletes members | cut -f1,2)" "members+deleted.csv	2"
	assert_equal "$(mf inc3/MANIFEST total members | cut -f1)" 11
	assert_tmpdir_empty
}

@test "incremental: a table the previous manifest lacks is exported whole, and says so" {
	make_gym_db gym.db
	write_gym_conf gym.conf "$W/gym.db"
	gb-export -c gym.conf -t members -o full
	sqlite3 gym.db "UPDATE members SET updated_at = '2026-05-05 05:05:05' WHERE id = 4"
	run gb-export -c gym.conf -t members -t stores -i full/MANIFEST -o inc
	assert_success
	assert_equal "$(keys inc/members.csv)" "4"
	assert_equal "$(keys inc/stores.csv)" "1 2 3"
	assert_equal "$(mf inc/MANIFEST change stores)" whole
	assert_equal "$(mf inc/MANIFEST change members)" delta
	verify_set inc gym.db
}

@test "incremental: a change that moves the watermark back or past others is found (9 < 10)" {
	sqlite3 -bail ev.db "CREATE TABLE ev(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, v TEXT);
	    WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 10)
	    INSERT INTO ev SELECT i, i, 'v' || i FROM s;"
	printf '[site]\nname = ev\n[table ev]\nkey = id\nwatermark = seq\n' >ev.conf
	run gb-export -c ev.conf -s "sqlite:$W/ev.db" -o full
	assert_success
	assert_equal "$(mf full/MANIFEST watermark ev)" "seq	integer	-	10"
	sqlite3 -bail ev.db "INSERT INTO ev VALUES (11, 11, 'new'), (12, 100, 'new');
	    UPDATE ev SET seq = 12, v = 'changed' WHERE id = 2;"
	run gb-export -c ev.conf -s "sqlite:$W/ev.db" -i full/MANIFEST -o inc
	assert_success
	assert_equal "$(keys inc/ev.csv)" "2 11 12"
	assert_equal "$(mf inc/MANIFEST watermark ev)" ""
	verify_set inc ev.db
}

@test "incremental: a table that was empty (to \"-\") is taken from the start" {
	sqlite3 -bail e.db "CREATE TABLE t(id INTEGER PRIMARY KEY, ts TEXT)"
	printf '[table t]\nkey = id\nwatermark = ts\n' >e.conf
	run gb-export -c e.conf -s "sqlite:$W/e.db" -o full
	assert_success
	assert_equal "$(mf full/MANIFEST watermark t | cut -f1,3,4)" "ts	-	-"
	sqlite3 e.db "INSERT INTO t VALUES (1, '2026-01-01'), (2, '2020-01-01')"
	run gb-export -c e.conf -s "sqlite:$W/e.db" -i full/MANIFEST -o inc
	assert_success
	assert_equal "$(keys inc/t.csv)" "1 2"
}

@test "incremental: the stream form carries level, base and only the changed rows" {
	make_gym_db gym.db
	write_gym_conf gym.conf "$W/gym.db"
	gb-export -c gym.conf -t members -o full
	sqlite3 gym.db "UPDATE members SET updated_at = '2027-01-01 00:00:00' WHERE id IN (3, 11)"
	run gb_stream inc.tar -c gym.conf -t members -i full/MANIFEST
	assert_success
	mkdir x
	tar -xf inc.tar -C x
	assert_equal "$(mf x/MANIFEST level)" incremental
	assert_equal "$(mf x/MANIFEST base)" "$(mf full/MANIFEST id)"
	assert_equal "$(keys x/members.csv)" "3 11"
	verify_set x gym.db
	assert_tmpdir_empty
}

@test "incremental: tables without a watermark are exact all the same; one without a key goes whole" {
	make_gym_db gym.db
	write_gym_conf gym.conf "$W/gym.db"
	sqlite3 -bail gym.db "CREATE TABLE log (at TEXT, what TEXT); INSERT INTO log VALUES ('a', 'b')"
	gb-export -c gym.conf -o full 2>/dev/null
	sqlite3 -bail gym.db "DELETE FROM recharges WHERE id = 2; UPDATE checkins SET checked_out_at = 'x' WHERE id = 5;
	    INSERT INTO log VALUES ('c', 'd')"
	run gb-export -c gym.conf -i full/MANIFEST -o inc
	assert_success
	assert_output --partial "table log has no key: exported whole"
	assert_equal "$(cat inc/recharges+deleted.csv)" "$(printf 'id\n2')"
	assert_equal "$(keys inc/checkins.csv)" "5"
	assert_equal "$(mf inc/MANIFEST change log)" whole
	assert_equal "$(mf inc/MANIFEST rows log)" 2
	assert_equal "$(mf inc/MANIFEST deletes log)" ""
}

# refused_base CONF INC_CONF REGEX: a full by CONF is no base for an
# incremental by INC_CONF: exit 2, saying why (REGEX) and naming the
# MANIFEST, nothing left.
refused_base() {
	gb-export -c "$1" -t members -o full
	run gb-export -c "$2" -t members -i full/MANIFEST -o inc
	assert_failure 2
	assert_output --regexp "$3"
	assert_output --partial "MANIFEST"
	assert_clean inc
}

@test "incremental: a previous manifest from another site exits 2" {
	make_gym_db gym.db
	write_gym_conf a.conf "$W/gym.db" gym-north
	write_gym_conf b.conf "$W/gym.db" gym-south
	refused_base a.conf b.conf "gym-north|site"
	run gb_stream s.tar -c b.conf -t members -i full/MANIFEST
	assert_failure 2
	assert_tmpdir_empty
}

@test "incremental: a previous manifest from another source exits 2" {
	make_gym_db one.db
	make_gym_db two.db
	write_gym_conf one.conf "$W/one.db" gym
	write_gym_conf two.conf "$W/two.db" gym
	refused_base one.conf two.conf "one\.db|source"
	# The same path spelled differently is the same source.
	run gb-export -c one.conf -s "sqlite:$W/./one.db" -t members -i full/MANIFEST -o inc
	assert_success
}

@test "incremental: a truncated previous manifest (no end line) is refused" {
	make_gym_db gym.db
	write_gym_conf gym.conf "$W/gym.db"
	gb-export -c gym.conf -t members -o full
	grep -v '^end$' full/MANIFEST >trunc.manifest
	run gb-export -c gym.conf -t members -i trunc.manifest -o inc
	[ "$status" -eq 2 ] || [ "$status" -eq 3 ] || fail "status $status: $output"
	assert_output --partial "trunc.manifest"
	assert_clean inc
	# And one of another format version.
	sed 's/^format\tgymbackup-manifest\t1$/format\tgymbackup-manifest\t3/' full/MANIFEST >v3.manifest
	run gb-export -c gym.conf -t members -i v3.manifest -o inc
	[ "$status" -eq 2 ] || [ "$status" -eq 3 ] || fail "status $status: $output"
	assert_output --partial "v3.manifest"
	assert_clean inc
	# And one that does not exist.
	run gb-export -c gym.conf -t members -i nosuch.manifest -o inc
	[ "$status" -eq 2 ] || [ "$status" -eq 3 ] || fail "status $status: $output"
	assert_output --partial "nosuch.manifest"
	assert_clean inc
}
