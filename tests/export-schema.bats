#!/usr/bin/env bats
# gb-export on schemas nobody here wrote, without a config: keys from the
# schema, rows in key order, hostile table names made safe file names.

load helper

make_adhoc_db() {
	sqlite3 -bail "$1" <<-'EOF'
	CREATE TABLE comp(a TEXT, b INTEGER, v, PRIMARY KEY (b, a));
	INSERT INTO comp VALUES ('y', 2, 1), ('x', 2, 'two'), ('z', 1, 3.5),
	  ('a', 10, NULL), ('b', -1, x'cafe');
	CREATE TABLE wr(k TEXT PRIMARY KEY, v) WITHOUT ROWID;
	INSERT INTO wr VALUES ('b', x'01'), ('a', ''), ('c', NULL), ('B', 1),
	  ('中', 'zhong');
	CREATE TABLE nopk(x, y);
	INSERT INTO nopk(rowid, x, y) VALUES (5, 'five', 5), (2, 'two', 2),
	  (9, NULL, ''), (7, 'a,b', 'c"d');
	CREATE TABLE "we ird" ("col one" INTEGER PRIMARY KEY, "q""uote" TEXT,
	  " lead", "mixed", "a;b" TEXT, "行" TEXT);
	INSERT INTO "we ird" VALUES
	  (3, 'x"y', 1, 1, ';', '一'),
	  (1, '', 2, 1.5, NULL, '二'),
	  (2, NULL, 3, 'text', 'x', '三'),
	  (10, 'a', 4, x'beef', 'y', NULL),
	  (4, 'b', 5, NULL, 'z', ''),
	  (5, 'c', 6, '', 'w', ' '),
	  (6, 'd', 7, '123', 'v', 'u'),
	  (7, 'e', 8, -9223372036854775808, 'u', 't'),
	  (8, 'f', 9, 1e100, 't', 's');
	CREATE TABLE auto(id INTEGER PRIMARY KEY AUTOINCREMENT, n);
	INSERT INTO auto(n) VALUES ('one'), ('two');
	CREATE TABLE textpk(code TEXT PRIMARY KEY, n INTEGER);
	INSERT INTO textpk VALUES ('zz', 1), ('aa', 2), ('mm', 3);
	CREATE TABLE "Upper"(id INTEGER PRIMARY KEY, x);
	INSERT INTO "Upper" VALUES (1, 'upper');
	CREATE TABLE empty(id INTEGER PRIMARY KEY, x TEXT);
	CREATE INDEX comp_v ON comp(v);
	CREATE VIEW v_comp AS SELECT * FROM comp;
	CREATE TRIGGER tr AFTER INSERT ON comp BEGIN SELECT 1; END;
	ANALYZE;
	EOF
}

@test "ad-hoc schema without config: all tables, keys from the schema, values and order" {
	make_adhoc_db ad.db
	run --separate-stderr gb-export -s "sqlite:$W/ad.db" -o out
	assert_success
	[ -z "$stderr" ] || fail "stderr not empty without a config: $stderr"
	local m=out/MANIFEST
	# Every table in name (byte) order; no views, no sqlite_* tables.
	run mf_tables $m
	assert_output "$(db_tables ad.db)"
	assert_output "Upper
auto
comp
empty
nopk
textpk
we ird
wr"
	assert_equal "$(mf $m tables)" 8
	# Keys from the schema (primary key columns in key order), none when
	# there is no primary key (rowid is not a key).
	assert_equal "$(mf $m key comp)" "b,a"
	assert_equal "$(mf $m key wr)" "k"
	assert_equal "$(mf $m key 'we ird')" "col one"
	assert_equal "$(mf $m key auto)" "id"
	assert_equal "$(mf $m key textpk)" "code"
	# "key is empty" (the spec); "-" (the manifest's "none") is accepted too.
	[[ "$(mf $m key nopk)" == "" || "$(mf $m key nopk)" == "-" ]] ||
	    fail "key of nopk: $(mf $m key nopk)"
	assert_equal "$(awk -F'\t' '$1 == "key" && $2 == "nopk"' $m | wc -l)" 1
	assert_equal "$(mf $m watermark)" ""
	assert_equal "$(mf $m money)" ""
	# Values, types and key order (rowid order for nopk).
	verify_set out ad.db
	assert_equal "$(csvcheck col out/comp.csv b a | paste -sd' ')" \
	    "-1	b 1	z 2	x 2	y 10	a"
	assert_equal "$(csvcheck col out/nopk.csv x | paste -sd' ')" "two five a,b \\N"
	assert_equal "$(csvcheck col out/wr.csv k | paste -sd' ')" "B a b c 中"
	run csvcheck header "out/we%20ird.csv"
	assert_output 'col one
q"uote
 lead
mixed
a;b
行'
	head -n 1 "out/we%20ird.csv" | grep -qxF 'col one,"q""uote"," lead",mixed,a;b,行'
	assert_equal "$(mf $m rows empty)" 0
	assert_equal "$(cat out/empty.csv)" "id,x"
}

@test "ad-hoc schema: the stream holds the same, and tar/bsdtar read it" {
	make_adhoc_db ad.db
	run gb_stream s.tar -s "sqlite:$W/ad.db"
	assert_success
	mkdir x y
	tar -xf s.tar -C x
	bsdtar -xf s.tar -C y
	diff -r x y
	verify_set x ad.db
}

make_hostile_db() {
	local db=$1 n
	: >"$W/names"
	for n in '../../etc/x' $'tab\tname' $'new\nline' $'cr\rname' 'q"uote' \
	    "s'quote" '会员' '.hidden' '..' 'a b' 'public.members' 'back\slash' \
	    'pct%41' 'pctA' '-dash' 'x.csv' 'CON' ' lead' '/abs'; do
		printf '%s\0' "$n" >>"$W/names"
		sqlite3 -bail "$db" "CREATE TABLE \"${n//\"/\"\"}\"(id INTEGER PRIMARY KEY, v TEXT);
		    INSERT INTO \"${n//\"/\"\"}\" VALUES (1, '${n//\'/\'\'}'), (2, 'two, \"2\"');"
	done
}

# The export set in DIR holds exactly MANIFEST, SCHEMA.sql and the spec's
# file name of every table in $W/names.
check_hostile_files() {
	local d=$1 n want
	want=$( { printf 'MANIFEST\nSCHEMA.sql\n'
		while IFS= read -r -d '' n; do csvcheck fname "$n"; done <"$W/names"; } | LC_ALL=C sort)
	assert_equal "$(ls -A "$d" | LC_ALL=C sort)" "$want"
	# Only [A-Za-z0-9_.%-] in file names, never a leading dot.
	run bash -c 'ls -A "$1" | grep -v "^[A-Za-z0-9_%-][A-Za-z0-9_.%-]*$"' sh "$d"
	assert_output ""
}

@test "hostile table names -o: safe percent-encoded file names, data round-trips" {
	make_hostile_db h.db
	run gb-export -s "sqlite:$W/h.db" -o out
	assert_success
	check_hostile_files out
	# Spot checks of the encoding.
	[ -f 'out/%2E.%2F..%2Fetc%2Fx.csv' ] || fail "../../etc/x: $(ls out)"
	[ -f 'out/%E4%BC%9A%E5%91%98.csv' ] || fail "会员: $(ls out)"
	[ -f 'out/tab%09name.csv' ] || fail "tab: $(ls out)"
	[ -f 'out/new%0Aline.csv' ] || fail "newline: $(ls out)"
	[ -f 'out/%2Ehidden.csv' ] || fail ".hidden: $(ls out)"
	[ -f 'out/%2E..csv' ] || fail "..: $(ls out)"
	[ -f 'out/public.members.csv' ] || fail "public.members: $(ls out)"
	[ -f 'out/pct%2541.csv' ] || fail "pct%41: $(ls out)"
	[ -f 'out/q%22uote.csv' ] || fail "q\"uote: $(ls out)"
	# Nothing written outside out/.
	assert_equal "$(ls -A | paste -sd' ')" "h.db names out"
	[ ! -e "$BATS_TEST_TMPDIR/etc" ] && [ ! -e "$BATS_RUN_TMPDIR/etc" ] ||
	    fail "a file escaped the export directory"
	# MANIFEST escapes tab, newline, CR and backslash in table names.
	grep -qxF "$(printf 'table\ttab\\tname\ttab%%09name.csv')" out/MANIFEST
	grep -qxF "$(printf 'table\tnew\\nline\tnew%%0Aline.csv')" out/MANIFEST
	grep -qxF "$(printf 'table\tcr\\rname\tcr%%0Dname.csv')" out/MANIFEST
	grep -qxF "$(printf 'table\tback\\\\slash\tback%%5Cslash.csv')" out/MANIFEST
	grep -qxF "$(printf 'table\t lead\t%%20lead.csv')" out/MANIFEST
	assert_equal "$(mf out/MANIFEST tables)" 19
	# Every table's data round-trips (verify unescapes the names).
	verify_set out h.db
	# -t takes a hostile name as it is.
	run gb-export -s "sqlite:$W/h.db" -t '../../etc/x' -t $'new\nline' -o out2
	assert_success
	assert_equal "$(ls -A out2 | LC_ALL=C sort | paste -sd' ')" \
	    "%2E.%2F..%2Fetc%2Fx.csv MANIFEST SCHEMA.sql new%0Aline.csv"
	verify_set out2 h.db
}

@test "hostile table names in the stream: tar entries safe, extraction stays inside" {
	make_hostile_db h.db
	run gb_stream s.tar -s "sqlite:$W/h.db"
	assert_success
	mkdir x y
	(cd x && tar -xf ../s.tar)
	(cd y && bsdtar -xf ../s.tar)
	check_hostile_files x
	check_hostile_files y
	diff -r x y
	verify_set x h.db
	assert_equal "$(ls -A | paste -sd' ')" "h.db names s.tar x y"
	assert_tmpdir_empty
}

@test "table names ending in a space, or just \"-\": the MANIFEST keeps them apart" {
	# The spec escapes tab, LF, CR and backslash; gb-export also writes a
	# trailing space as \s (clear-signing strips trailing white space) and a
	# real "-" as \- (bare "-" means absent).  Either way the name must
	# come back exactly.
	sqlite3 -bail sp.db 'CREATE TABLE "trail "(id INTEGER PRIMARY KEY, v);
	    INSERT INTO "trail " VALUES (1, 1);
	    CREATE TABLE "trail"(id INTEGER PRIMARY KEY, v);
	    INSERT INTO "trail" VALUES (1, 2);
	    CREATE TABLE "-"(id INTEGER PRIMARY KEY, v);
	    INSERT INTO "-" VALUES (1, 3);'
	run gb-export -s "sqlite:$W/sp.db" -o out
	assert_success
	assert_equal "$(ls -A out | LC_ALL=C sort | paste -sd' ')" \
	    "-.csv MANIFEST SCHEMA.sql trail%20.csv trail.csv"
	run awk -F'\t' '$1 == "table" { print $2 }' out/MANIFEST
	assert_line --index 0 '\-'
	assert_line --index 1 trail
	assert_line --index 2 --regexp '^trail( |\\s)$'
	verify_set out sp.db
}

@test "virtual tables: FTS5 exported as its rows by rowid, no shadow tables; others refused naming the table" {
	sqlite3 -bail v.db <<-'EOF'
	CREATE TABLE plain(id INTEGER PRIMARY KEY, x TEXT);
	INSERT INTO plain VALUES (1, 'one');
	CREATE VIRTUAL TABLE search USING fts5(title, body);
	INSERT INTO search(rowid, title, body) VALUES (42, 'a,b', 'x"y'), (3, 'c', NULL);
	EOF
	run gb-export -s "sqlite:$W/v.db" -o out
	assert_success
	assert_equal "$(ls out | paste -sd' ')" "MANIFEST SCHEMA.sql plain.csv search.csv"
	assert_equal "$(cat out/search.csv)" "$(printf 'rowid,title,body\n3,c,\n42,"a,b","x""y"')"
	assert_equal "$(mf out/MANIFEST key search)" rowid
	grep -qxF 'CREATE VIRTUAL TABLE search USING fts5(title, body);' out/SCHEMA.sql
	! grep -q 'search_' out/SCHEMA.sql || fail "shadow tables in SCHEMA.sql"
	# an R*Tree, an FTS5 table whose content lives elsewhere: no restore
	# could make them, so no backup is made of them
	sqlite3 -bail v.db "CREATE VIRTUAL TABLE box USING rtree(id, x0, x1);
	    INSERT INTO box VALUES (1, 0, 5);
	    CREATE VIRTUAL TABLE ext USING fts5(x, content='plain', content_rowid='id')"
	run gb-export -s "sqlite:$W/v.db" -o out2
	assert_failure 3
	assert_output --partial "table box cannot be backed up so that it restores"
	assert_output --partial "CREATE VIRTUAL TABLE box USING rtree"
	[ ! -e out2 ] || fail "out2 was left"
	run gb-export -s "sqlite:$W/v.db" -t plain -t ext -o out2
	assert_failure 3
	assert_output --partial "table ext cannot be backed up"
	[ ! -e out2 ] || fail "out2 was left"
	assert_tmpdir_empty
}
