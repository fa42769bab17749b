#!/usr/bin/env bats
# gb-export: usage, full exports to -o DIR, the MANIFEST, the CSV values,
# config handling that is not an error case (see export-errors.bats).

load helper

# ------------------------------------------------------------------ usage

@test "usage: -h prints usage on stdout and exits 0" {
	run --separate-stderr gb-export -h
	assert_success
	assert_output --partial "gb-export"
	assert_output --partial "-o"
	assert_output --partial "-i"
	[ -z "$stderr" ] || fail "stderr not empty: $stderr"
}

@test "usage: a bad option prints usage on stderr and exits 2" {
	run --separate-stderr gb-export -Z
	assert_failure 2
	[ -z "$output" ] || fail "stdout not empty: $output"
	[[ "$stderr" == *gb-export* ]] || fail "no usage on stderr: $stderr"
	assert_tmpdir_empty
}

@test "usage: an operand is refused with exit 2" {
	make_gym_db gym.db
	run gb-export -s "sqlite:$W/gym.db" -o out extra
	assert_failure 2
	assert_clean out
}

@test "usage: -w that is not a number of seconds exits 2" {
	make_gym_db gym.db
	run gb-export -w soon -s "sqlite:$W/gym.db" -o out
	assert_failure 2
	assert_output --partial "soon"
	assert_clean out
}

@test "usage: no source (no -s, no config) exits 2 and says how to name one" {
	run gb-export -o out
	assert_failure 2
	assert_output --regexp "source|-s"
	assert_clean out
}

@test "usage: a source of an unknown kind exits 2 naming it" {
	run gb-export -s "mysql://gym" -o out
	assert_failure 2
	assert_output --partial "mysql://gym"
	assert_clean out
}

# ------------------------------------------------------------ full export

@test "full -o: every table, value by value what SQLite holds (awkward values)" {
	make_gym_db gym.db
	write_gym_conf gym.conf "$W/gym.db"
	run gb-export -c gym.conf -o out
	assert_success
	assert_output ""                      # silent without -v
	verify_set out gym.db

	# The same, spelled out with sqlite3, sha256sum and stat.
	local m=out/MANIFEST t n
	run mf_tables $m
	assert_output "$(db_tables gym.db)"
	assert_equal "$(mf $m tables)" "7"
	for t in $(db_tables gym.db); do
		assert_equal "$(mf $m table $t)" "$t.csv"
		n=$(sqlite3 gym.db "SELECT count(*) FROM $t")
		assert_equal "$(mf $m rows $t)" "$n"
		assert_equal "$(csvcheck rows out/$t.csv)" "$n"
		assert_equal "$(mf $m bytes $t)" "$(stat -c %s out/$t.csv)"
		assert_equal "$(mf $m sha256 $t)" \
		    "$(sha256sum out/$t.csv | cut -d' ' -f1)"
		assert_equal "$(mf $m key $t)" "id"
		run csvcheck compare gym.db $t out/$t.csv
		assert_success
	done
	# Money sums, one line per configured money column, in config order.
	assert_equal "$(mf $m money members)" \
	    "balance	$(sqlite3 gym.db 'SELECT sum(balance) FROM members')"
	assert_equal "$(mf $m money consumptions)" \
	    "amount	$(sqlite3 gym.db 'SELECT sum(amount) FROM consumptions')"
	assert_equal "$(mf $m money recharges)" \
	    "amount	$(sqlite3 gym.db 'SELECT sum(amount) FROM recharges')
bonus	$(sqlite3 gym.db 'SELECT sum(bonus) FROM recharges')"
	assert_equal "$(mf $m money promotions)" \
	    "bonus_amount	$(sqlite3 gym.db 'SELECT sum(bonus_amount) FROM promotions')"
	assert_equal "$(mf $m money promotion_participations)" \
	    "benefit_amount	$(sqlite3 gym.db 'SELECT sum(benefit_amount) FROM promotion_participations')"
	assert_equal "$(mf $m money checkins)" ""
	assert_equal "$(mf $m money stores)" ""
	# Watermarks only for the master tables: column, type, from, to.
	for t in members stores promotions; do
		assert_equal "$(mf $m watermark $t)" \
		    "updated_at	text	-	$(sqlite3 gym.db "SELECT max(updated_at) FROM $t")"
	done
	for t in consumptions recharges promotion_participations checkins; do
		assert_equal "$(mf $m watermark $t)" ""
	done
	assert_tmpdir_empty
}

@test "full -o: awkward values are rendered exactly as the spec says" {
	make_gym_db gym.db
	run gb-export -s "sqlite:$W/gym.db" -t members -t promotions -o out
	assert_success
	# A few records spelled out (NULL = empty unquoted, "" = empty string,
	# quotes doubled, CR/LF inside quotes, blobs as \x hex, reals shortest).
	assert_equal "$(grep -c '' out/members.csv)" 17     # 13 records, 4 LFs inside fields
	grep -qxF '1,C0001,张伟,,gold,123456,active,1,"He said ""hi"", then left",,2025-01-01 08:00:00,2026-01-01 08:00:00' out/members.csv
	grep -qF '2,C0002,李娜,"",silver,0,active,1,"line1' out/members.csv
	grep -qxF 'line2",\x00ff10,2025-01-02 08:00:00,2026-01-01 08:00:01' out/members.csv
	grep -qF "$(printf '3,C0003,"O'"'"'Brien, Pat",13800138000,standard,999999999999,frozen,2,"crlf\r')" out/members.csv
	grep -qxF 'end",\x,2025-01-03 08:00:00,2026-01-01 08:00:02' out/members.csv
	grep -qxF '4,C0004," leading",+86 21 5555,platinum,-123456789,cancelled,,"trailing ",,2025-01-04 08:00:00,2026-01-01 08:00:03' out/members.csv
	grep -qxF '5,C0005,"""quoted""",,gold,5,active,3,"",,2025-01-05 08:00:00,2026-01-01 08:00:04' out/members.csv
	grep -qxF '7,C0007,tab	in,\N,standard,2,active,1,NULL,,2025-01-07 08:00:00,2026-01-01 08:00:06' out/members.csv
	grep -qxF '2,THIRD,one third,discount,0.3333333333333333,,,,2026-01-01 00:00:01' out/promotions.csv
	grep -qxF '7,INF,inf,discount,Infinity,,,,2026-01-01 00:00:06' out/promotions.csv
	grep -qxF '8,NINF,-inf,discount,-Infinity,,,,2026-01-01 00:00:07' out/promotions.csv
	grep -qxF '11,SUM,sum,discount,0.30000000000000004,,,,2026-01-01 00:00:10' out/promotions.csv
	grep -qxF '10,ROUND,round,discount,100,,,,2026-01-01 00:00:09' out/promotions.csv
	head -n 1 out/members.csv | grep -qxF 'id,card_no,name,phone,level,balance,status,home_store_id,note,photo,created_at,updated_at'
	# LF record ends, never CRLF (the one CR is inside member 3's note).
	assert_equal "$(tr -cd '\r' <out/members.csv | wc -c)" 2
}

@test "full -o: text bytes are passed through (NUL, invalid UTF-8), blobs of every byte" {
	sqlite3 -bail bytes.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, b BLOB);
	    INSERT INTO t VALUES (1, CAST(x'610062' AS TEXT), x'00'),
	      (2, CAST(x'fffe41' AS TEXT), x'0a0d2c22'),
	      (3, CAST(x'e4bc9ae59198' AS TEXT), NULL),
	      (4, CAST(x'22' || '0a' || '2c' AS TEXT), x'');"
	run gb-export -s "sqlite:$W/bytes.db" -o out
	assert_success
	verify_set out bytes.db
}

@test "full -o: a demo database made by gb-demodata round-trips" {
	make_demo_db demo.db 3000
	write_gym_conf gym.conf "$W/demo.db"
	run gb-export -c gym.conf -o out
	assert_success
	assert_output ""
	verify_set out demo.db
	local t
	for t in $(db_tables demo.db); do
		assert_equal "$(mf out/MANIFEST rows $t)" \
		    "$(sqlite3 demo.db "SELECT count(*) FROM $t")"
	done
}

@test "full -o: two exports of an unchanged database give the same CSV bytes" {
	make_gym_db gym.db
	gb-export -s "sqlite:$W/gym.db" -o a
	gb-export -s "sqlite:$W/gym.db" -o b
	local f
	for f in a/*.csv; do
		cmp "$f" "b/${f#a/}"
	done
	cmp a/SCHEMA.sql b/SCHEMA.sql
	# The MANIFESTs differ only in id and snapshot.
	diff <(grep -Ev '^(id|snapshot)	' a/MANIFEST) \
	    <(grep -Ev '^(id|snapshot)	' b/MANIFEST)
}

@test "full -o: SCHEMA.sql recreates every table with its columns" {
	make_gym_db gym.db
	run gb-export -s "sqlite:$W/gym.db" -o out
	assert_success
	sqlite3 -bail fresh.db <out/SCHEMA.sql
	assert_equal "$(db_tables fresh.db)" "$(db_tables gym.db)"
	local t
	for t in $(db_tables gym.db); do
		assert_equal "$(sqlite3 fresh.db "PRAGMA table_info($t)")" \
		    "$(sqlite3 gym.db "PRAGMA table_info($t)")"
	done
}

# --------------------------------------------------------------- MANIFEST

@test "MANIFEST: header fields, their order, and the end line" {
	make_gym_db gym.db
	write_gym_conf gym.conf gym.db
	local t0 t1 m=out/MANIFEST
	t0=$(date -u +%s)
	run gb-export -c gym.conf -s sqlite:gym.db -j nightly -o out
	assert_success
	t1=$(date -u +%s)
	# (Fields the spec does not name are allowed: readers ignore them.)
	run awk -F'\t' '$1 ~ /^(format|creator|site|job|level|id|base|source|snapshot|tables|table)$/ { print $1 }' $m
	assert_line --index 0 format
	assert_line --index 1 creator
	assert_line --index 2 site
	assert_line --index 3 job
	assert_line --index 4 level
	assert_line --index 5 id
	assert_line --index 6 base
	assert_line --index 7 source
	assert_line --index 8 snapshot
	assert_line --index 9 tables
	assert_line --index 10 table
	assert_equal "$(tail -n 1 $m)" "end"
	assert_equal "$(head -n 1 $m)" "format	gymbackup-manifest	1"
	[[ "$(mf $m creator)" == "gymbackup "* ]] || fail "creator: $(mf $m creator)"
	assert_equal "$(mf $m site)" "test-gym"
	assert_equal "$(mf $m job)" "nightly"
	assert_equal "$(mf $m level)" "full"
	assert_equal "$(mf $m base)" "-"
	# The source name is the absolute path, even when given relative.
	assert_equal "$(mf $m source)" "sqlite	$W/gym.db"
	local snap id s
	snap=$(mf $m snapshot)
	id=$(mf $m id)
	[[ "$snap" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]] ||
	    fail "snapshot: $snap"
	[[ "$id" =~ ^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$ ]] || fail "id: $id"
	assert_equal "${id%%-*}" "$(echo "$snap" | tr -d ':-')"
	s=$(date -u -d "$(echo "$snap" | tr 'TZ' '  ')" +%s)
	[ "$s" -ge "$t0" ] && [ "$s" -le "$t1" ] ||
	    fail "snapshot $snap not between the start and end of the run"
	# Every table block: table, rows, bytes, sha256, key in that order.
	run awk -F'\t' '$1 == "table" || $1 == "rows" || $1 == "bytes" ||
	    $1 == "sha256" || $1 == "key" { print $1 }' $m
	assert_equal "$(echo "$output" | paste -sd' ' | sed 's/table rows bytes sha256 key//g' | tr -d ' ')" ""
	# The default job is "manual".
	gb-export -c gym.conf -o out2
	assert_equal "$(mf out2/MANIFEST job)" "manual"
	# Two exports get different ids.
	[ "$(mf out2/MANIFEST id)" != "$id" ] || fail "same id twice: $id"
}

@test "MANIFEST: without a config the site is the host name, no money, no watermark" {
	make_gym_db gym.db
	run gb-export -s "sqlite:$W/gym.db" -o out
	assert_success
	assert_output ""
	assert_equal "$(mf out/MANIFEST site)" "$(uname -n)"
	assert_equal "$(mf out/MANIFEST money)" ""
	assert_equal "$(mf out/MANIFEST watermark)" ""
	assert_equal "$(mf out/MANIFEST key members)" "id"
	verify_set out gym.db
}

# ----------------------------------------------------------------- config

@test "config: \$GB_CONF is read, and its [source] uri is the default source" {
	make_gym_db gym.db
	write_gym_conf gym.conf "$W/gym.db" env-site
	GB_CONF="$W/gym.conf" run gb-export -o out
	assert_success
	assert_equal "$(mf out/MANIFEST site)" "env-site"
	assert_equal "$(mf out/MANIFEST source)" "sqlite	$W/gym.db"
	assert_equal "$(mf out/MANIFEST money members | cut -f1)" "balance"
}

@test "config: -c wins over \$GB_CONF, -s wins over [source] uri" {
	make_gym_db gym.db
	make_gym_db other.db
	sqlite3 other.db "DELETE FROM checkins"
	write_gym_conf env.conf "$W/gym.db" env-site
	write_gym_conf opt.conf "$W/gym.db" opt-site
	GB_CONF="$W/env.conf" run gb-export -c opt.conf -s "sqlite:$W/other.db" -o out
	assert_success
	assert_equal "$(mf out/MANIFEST site)" "opt-site"
	assert_equal "$(mf out/MANIFEST source)" "sqlite	$W/other.db"
	assert_equal "$(mf out/MANIFEST rows checkins)" "0"
}

@test "config: a source table the config does not describe is exported with a warning" {
	make_gym_db gym.db
	cat >part.conf <<-EOF
	[site]
	name = part
	[table members]
	key = id
	money = balance
	EOF
	run --separate-stderr gb-export -c part.conf -s "sqlite:$W/gym.db" -o out
	assert_success
	local t
	for t in checkins consumptions promotion_participations promotions recharges stores; do
		[[ "$stderr" == *"$t"* ]] || fail "no warning naming $t: $stderr"
	done
	[[ "$stderr" != *"members"* ]] || fail "warning names described table members: $stderr"
	# Completeness: still every table, keys from the schema, no money sums.
	assert_equal "$(mf out/MANIFEST tables)" 7
	assert_equal "$(mf out/MANIFEST key stores)" "id"
	assert_equal "$(mf out/MANIFEST money stores)" ""
	assert_equal "$(mf out/MANIFEST money members | cut -f1)" "balance"
	verify_set out gym.db
}

@test "config: a [table] the source lacks warns; requested with -t it exits 2" {
	make_gym_db gym.db
	write_gym_conf gym.conf "$W/gym.db"
	printf '[table ghost]\nkey = id\n' >>gym.conf
	run --separate-stderr gb-export -c gym.conf -o out
	assert_success
	[[ "$stderr" == *ghost* ]] || fail "no warning naming ghost: $stderr"
	assert_equal "$(mf out/MANIFEST tables)" 7
	run gb-export -c gym.conf -t members -t ghost -o out2
	assert_failure 2
	assert_output --partial ghost
	assert_clean out2
}

@test "config: NULL in a money column is allowed (not summed)" {
	make_gym_db gym.db
	write_gym_conf gym.conf "$W/gym.db"
	[ "$(sqlite3 gym.db 'SELECT count(*) FROM promotions WHERE bonus_amount IS NULL')" -gt 0 ]
	run gb-export -c gym.conf -t promotions -o out
	assert_success
	assert_equal "$(mf out/MANIFEST money promotions)" \
	    "bonus_amount	$(sqlite3 gym.db 'SELECT sum(bonus_amount) FROM promotions')"
}

@test "config: a real in a money column exits 3 naming table, column and key" {
	make_gym_db gym.db
	write_gym_conf gym.conf "$W/gym.db"
	sqlite3 gym.db "UPDATE members SET balance = 12.5 WHERE id = 7"
	run gb-export -c gym.conf -o out
	assert_failure 3
	assert_output --partial members
	assert_output --partial balance
	assert_output --regexp '(id|key)[^0-9]{0,12}7([^0-9]|$)'
	assert_clean out
}

@test "config: text in a money column exits 3 naming table, column and key" {
	make_gym_db gym.db
	write_gym_conf gym.conf "$W/gym.db"
	sqlite3 gym.db "UPDATE recharges SET bonus = 'ten' WHERE id = 3"
	run gb_stream s.tar -c gym.conf
	assert_failure 3
	assert_output --partial recharges
	assert_output --partial bonus
	assert_output --regexp '(id|key)[^0-9]{0,12}3([^0-9]|$)'
	assert_tmpdir_empty
}

@test "config: -t exports only the named tables, in the order given" {
	make_gym_db gym.db
	write_gym_conf gym.conf "$W/gym.db"
	run gb-export -c gym.conf -t recharges -t members -t checkins -o out
	assert_success
	run mf_tables out/MANIFEST
	assert_output "recharges
members
checkins"
	assert_equal "$(mf out/MANIFEST tables)" 3
	assert_equal "$(ls out | sort | paste -sd' ')" \
	    "MANIFEST SCHEMA.sql checkins.csv members.csv recharges.csv"
	verify_set out gym.db
}

# ----------------------------------------------------------- -v and -o DIR

@test "-v: one progress line per table with name, rows and bytes on stderr" {
	make_gym_db gym.db
	run --separate-stderr gb-export -v -s "sqlite:$W/gym.db" -o out
	assert_success
	local t n b line
	for t in $(db_tables gym.db); do
		n=$(sqlite3 gym.db "SELECT count(*) FROM $t")
		b=$(stat -c %s "out/$t.csv")
		line=$(grep -E "(^|[^_a-z])$t([^_a-z]|$)" <<<"$stderr") ||
		    fail "no progress line naming $t: $stderr"
		grep -qE "(^|[^0-9])$n([^0-9]|$)" <<<"$line" ||
		    fail "progress line for $t lacks $n rows: $line"
		grep -qE "(^|[^0-9])$b([^0-9]|$)" <<<"$line" ||
		    fail "progress line for $t lacks $b bytes: $line"
	done
	[ "${#stderr_lines[@]}" -ge 7 ] || fail "fewer than 7 progress lines: $stderr"
}

@test "-o DIR: directory 0700 and files 0600 whatever the umask" {
	make_gym_db gym.db
	umask 000
	run gb-export -s "sqlite:$W/gym.db" -o out
	assert_success
	assert_equal "$(stat -c %a out)" 700
	local f
	for f in out/*; do
		assert_equal "$(stat -c '%a %F' "$f")" "600 regular file"
	done
	umask 077
	gb-export -s "sqlite:$W/gym.db" -o out2
	assert_equal "$(stat -c %a out2)" 700
	assert_equal "$(ls -A "$W" | paste -sd' ')" "gym.db out out2"
	assert_tmpdir_empty
}

@test "-o DIR: an existing directory is refused, its contents untouched" {
	make_gym_db gym.db
	mkdir out
	echo keep >out/keep
	run gb-export -s "sqlite:$W/gym.db" -o out
	assert_failure 2
	assert_output --partial out
	assert_equal "$(ls -A out)" keep
	assert_equal "$(cat out/keep)" keep
	[ -z "$(compgen -G 'out.tmp.*')" ] || fail "left: $(compgen -G 'out.tmp.*')"
	assert_tmpdir_empty
}

@test "-o DIR: an existing file of that name is refused" {
	make_gym_db gym.db
	echo keep >out
	run gb-export -s "sqlite:$W/gym.db" -o out
	assert_failure 2
	assert_output --partial out
	assert_equal "$(cat out)" keep
	[ -z "$(compgen -G 'out.tmp.*')" ] || fail "left: $(compgen -G 'out.tmp.*')"
	assert_tmpdir_empty
}

@test "-o DIR: a parent that does not exist fails cleanly" {
	make_gym_db gym.db
	run gb-export -s "sqlite:$W/gym.db" -o nodir/out
	[ "$status" -eq 2 ] || [ "$status" -eq 3 ] || fail "status $status: $output"
	assert_output --partial nodir
	[ ! -e nodir ] || fail "nodir was created"
	assert_tmpdir_empty
}

# ------------------------------------------------------ parallel export

# assert_same_export A B: the same files, byte for byte, and the same
# MANIFEST but for the export's id and time.
assert_same_export() {
	for f in "$1"/*.csv "$1"/SCHEMA.sql; do
		cmp "$f" "$2/${f#"$1"/}"
	done
	diff <(grep -v '^id\|^snapshot' "$1/MANIFEST") \
	    <(grep -v '^id\|^snapshot' "$2/MANIFEST")
}

@test "-P: tables exported on several threads give the same bytes as one thread" {
	make_demo_db gym.db 6000
	run -0 gb-export -v -P 1 -s sqlite:gym.db -o one
	assert_output --partial "1 thread on one snapshot"
	run -0 gb-export -v -P 3 -s sqlite:gym.db -o three
	assert_output --partial "3 threads on one snapshot"
	assert_same_export one three
	run -2 gb-export -P 0 -s sqlite:gym.db -o zero
	assert_no_dir zero
}

# Tables big enough to be read in parts (at least 2 x 65536 rows), of
# every shape: a rowid key with gaps and an empty range, no key at all
# (rowid order), and keys that are not the rowid, which are read whole.
make_split_db() {
	sqlite3 "$1" <<-'EOF'
	CREATE TABLE big(id INTEGER PRIMARY KEY, v TEXT, amount INTEGER, at INTEGER);
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150000)
	INSERT INTO big SELECT CASE WHEN i <= 100000 THEN i ELSE i + 900000 END,
	    'row ' || i || CASE i % 7 WHEN 0 THEN ',"q"' WHEN 1 THEN x'0a' ELSE '' END,
	    (i * 7919) % 100003 - 50000, i FROM n;
	CREATE TABLE nokey(a, b);
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 140000)
	INSERT INTO nokey SELECT i % 1000, CASE WHEN i % 5 = 0 THEN NULL ELSE i * 1.5 END FROM n;
	CREATE TABLE descpk(id INTEGER PRIMARY KEY DESC, v TEXT);
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 140000)
	INSERT INTO descpk SELECT i, 'd' || i FROM n;
	INSERT INTO descpk VALUES('text key', 'sorts after the numbers');
	CREATE TABLE textpk(k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID;
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 140000)
	INSERT INTO textpk SELECT printf('k%07d', i), i FROM n;
	EOF
	cat >split.conf <<-'EOF'
	[table big]
	money = amount
	watermark = at
	EOF
}

@test "-P: a big table is read in parts on several threads, its state too; the same bytes, rows and sums" {
	make_split_db gym.db
	run -0 gb-export -v -P 1 -c split.conf -s sqlite:gym.db -o one
	refute_output --partial "in parts"
	run -0 gb-export -v -P 3 -c split.conf -s sqlite:gym.db -o three
	# the state of exact incrementals too, a segment per part
	assert_line "gb-export: big: 150000 rows, $(stat -c %s one/big.csv) bytes, read in parts"
	assert_line --regexp "^gb-export: nokey: 140000 rows, .*, read in parts$"
	assert_line --regexp "^gb-export: descpk: 140001 rows, [0-9]+ bytes$"
	assert_line --regexp "^gb-export: textpk: 140000 rows, [0-9]+ bytes$"
	assert_same_export one three
	# independent checks: the rows and the money sum SQLite itself gives
	assert_equal "$(tail -n +2 three/big.csv | python3 -c 'import csv, sys
print(sum(1 for _ in csv.reader(sys.stdin)))')" 150000
	assert_equal "$(mf three/MANIFEST money big)" \
	    "amount	$(sqlite3 gym.db 'SELECT sum(amount) FROM big')"
	assert_equal "$(sha256sum <three/big.csv | cut -d' ' -f1)" \
	    "$(mf three/MANIFEST sha256 big)"
	# an incremental holds the new rows, the same on any number of threads
	sqlite3 gym.db "INSERT INTO big SELECT id + 2000000, v, amount, at + 200000 FROM big"
	run -0 gb-export -v -P 1 -c split.conf -t big -i one/MANIFEST -s sqlite:gym.db -o inc1
	run -0 gb-export -v -P 2 -c split.conf -t big -i one/MANIFEST -s sqlite:gym.db -o inc2
	cmp inc1/big.csv inc2/big.csv
	assert_equal "$(mf inc2/MANIFEST rows big)" 150000
	assert_tmpdir_empty
}

@test "-P: a column called _rowid_ is not taken for the rowid: its NULLs and its order stay; a WITHOUT ROWID table so named is read whole" {
	sqlite3 gym.db "CREATE TABLE odd (_rowid_ INTEGER, v TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 140000)
INSERT INTO odd SELECT CASE WHEN i % 3 = 0 THEN NULL ELSE 200000 - i END, 'r' || i FROM n;
CREATE TABLE oddw (_rowid_ INTEGER PRIMARY KEY, v TEXT) WITHOUT ROWID;
INSERT INTO oddw VALUES (2, 'b'), (1, 'a');"
	run -0 gb-export -v -P 1 -t odd -t oddw -s sqlite:gym.db -o one
	run -0 gb-export -v -P 3 -t odd -t oddw -s sqlite:gym.db -o three
	assert_line --regexp "^gb-export: odd: 140000 rows, .*, read in parts$"
	assert_same_export one three
	# every row, its NULLs too, in the table's own (rowid) order
	assert_equal "$(tail -n +2 three/odd.csv | sha256sum)" \
	    "$(sqlite3 -csv gym.db 'SELECT * FROM odd ORDER BY rowid' | sha256sum)"
	assert_equal "$(tail -n +2 three/oddw.csv)" "$(sqlite3 -csv gym.db 'SELECT * FROM oddw ORDER BY 1')"
}

@test "-P: a disk that fills while a table is read in parts: exit 3, nothing left" {
	make_split_db gym.db
	run_small_fs "$W/small" 3m gb-export -P 2 -s "sqlite:$W/gym.db" \
	    -o "$W/small/out"
	assert_equal "$status" 3
	assert_output --partial "No space left on device"
	assert_equal "$small_left" ""
	run_small_fs "$W/small2" 3m env TMPDIR="$W/small2" \
	    sh -c 'exec gb-export -P 2 -s "sqlite:$1" >"$2"' sh "$W/gym.db" "$W/s.tar"
	assert_equal "$status" 3
	assert_output --partial "No space left on device"
	assert_equal "$small_left" ""
	assert_tmpdir_empty
}

@test "-P while a writer holds the WAL write lock past -w: one thread, a whole export" {
	make_demo_db gym.db 3000
	sqlite3 gym.db "PRAGMA journal_mode=WAL" >/dev/null
	rm -f locked release
	cat >hold.sh <<-EOF
	touch "$W/locked"
	i=0
	while [ \$i -lt 100 ] && [ ! -e "$W/release" ]; do sleep 0.1; i=\$((i + 1)); done
	EOF
	sqlite3 -bail gym.db >hold.out 2>&1 3>&- <<-EOF &
	BEGIN IMMEDIATE;
	UPDATE stores SET name = name WHERE id = 1;
	.shell sh $W/hold.sh
	COMMIT;
	EOF
	local holder=$!
	for i in $(seq 100); do [ -e locked ] && break; sleep 0.1; done
	[ -e locked ] || fail "the writer did not start: $(cat hold.out)"
	run gb-export -v -P 2 -w 1 -s sqlite:gym.db -o out
	touch release
	wait $holder
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	assert_output --partial "1 thread on one snapshot"
	[ "$(mf out/MANIFEST rows members)" = \
	    "$(sqlite3 gym.db 'SELECT count(*) FROM members')" ]
}
