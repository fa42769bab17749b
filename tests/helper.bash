# tests/helper.bash - shared setup for the gb-export bats tests.
#
# Every test runs in its own workspace $W (cwd) under $BATS_TEST_TMPDIR, with
# TMPDIR pointing to an empty per-test directory, so that a temporary file or
# directory a tool leaves behind is seen (assert_tmpdir_empty).  No test
# reads /etc/gymbackup: GB_CONF is unset and configs are passed with -c.
#
# Independent checks never use our own C code: tests/csvcheck.py parses the
# CSV and MANIFEST with its own small parser (Python stdlib only), sqlite3,
# sha256sum, stat, tar and bsdtar do the rest.

bats_require_minimum_version 1.5.0
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
PATH="$TOP/bin:$PATH"
SCHEMA_SQL="$TOP/share/gym-schema.sql"
CSVCHECK="$BATS_TEST_DIRNAME/csvcheck.py"
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi

# gb-export keeps the state of exact incrementals under $XDG_STATE_HOME
# unless given -S: one per test file, never the user's.
export XDG_STATE_HOME="${BATS_FILE_TMPDIR:-${BATS_RUN_TMPDIR:-/tmp}}/state"

# Background processes and mounts a test made; teardown ends/undoes them.
GB_BG_PIDS=()
GB_MOUNTS=()

gb_setup() {
	W="$BATS_TEST_TMPDIR/w"
	mkdir -p "$W"
	export TMPDIR="$BATS_TEST_TMPDIR/tmp"
	mkdir -p "$TMPDIR"
	unset GB_CONF
	export LC_ALL=C.UTF-8
	cd "$W" || return 1
	if [ ! -x "$TOP/bin/gb-export" ]; then
		skip "bin/gb-export is not built (run make)"
	fi
	[ "${GB_TEST_CATALOG-}" != pg ] || pg_catalog_setup
}

# --------------------------------------------------------- PostgreSQL mode

# GB_TEST_CATALOG=pg (tests/pgmode.sh, make check): the catalog of every
# test is a fresh database of the cluster tests/pgmode.sh started, named
# by GB_CATALOG, which every tool takes before the config's path.
# $GB_TEST_PGDB is its name; a test's other catalogs (media-helper.bash's
# cat_new) are databases named ${GB_TEST_PGBASE}_NAME.
pg_catalog_setup() {
	[ -n "${PGHOST-}" ] ||
	    fail "GB_TEST_CATALOG=pg: no PostgreSQL cluster; run the tests by tests/pgmode.sh"
	GB_TEST_PGBASE=gbt_$(basename "$BATS_TEST_FILENAME" .bats | tr -c 'a-z0-9\n' _)_$BATS_TEST_NUMBER
	export GB_TEST_PGBASE
	pg_catalog_new "$GB_TEST_PGBASE"
}

# pg_catalog_new DB: a fresh database DB, the test's catalog from now on.
pg_catalog_new() {
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "SET client_min_messages = warning" \
	    -c "DROP DATABASE IF EXISTS $1" \
	    -c "CREATE DATABASE $1" >/dev/null ||
	    fail "cannot make the database $1"
	# what the tests' own SQL takes of SQLite's, for their psql alone
	# (cq: search_path), never for the tools
	psql -X -q -v ON_ERROR_STOP=1 -d "$1" >/dev/null <<-'EOF' ||
	CREATE SCHEMA gb_test_shim;
	CREATE FUNCTION gb_test_shim.gc(s text, v text, sep text) RETURNS text
	    LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN v IS NULL THEN s
	    WHEN s IS NULL THEN v ELSE s || sep || v END $$;
	CREATE FUNCTION gb_test_shim.gc(s text, v text) RETURNS text
	    LANGUAGE sql IMMUTABLE AS $$ SELECT gb_test_shim.gc(s, v, ',') $$;
	CREATE AGGREGATE gb_test_shim.group_concat(text, text)
	    (SFUNC = gb_test_shim.gc, STYPE = text);
	CREATE AGGREGATE gb_test_shim.group_concat(text)
	    (SFUNC = gb_test_shim.gc, STYPE = text);
	CREATE FUNCTION gb_test_shim.strftime(f text, t text, m text)
	    RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT to_char(
	    t::timestamp + m::interval, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') $$;
	EOF
	    fail "cannot make the test's SQL helpers in $1"
	pg_catalog_use "$1"
}

# pg_catalog_use DB: database DB is the test's catalog from now on.
pg_catalog_use() {
	export GB_TEST_PGDB=$1 GB_CATALOG="host=$PGHOST port=$PGPORT dbname=$1"
}

# sqlite_only WHY: a test that reads or changes the SQLite file itself
# is skipped on PostgreSQL, saying why (its twin is in pgcatalog.bats).
sqlite_only() {
	[ "${GB_TEST_CATALOG-}" != pg ] || skip "PostgreSQL catalog: $*"
}

gb_teardown() {
	local p m
	for p in "${GB_BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	GB_BG_PIDS=()
	cd "$BATS_TEST_TMPDIR" || true
	for m in "${GB_MOUNTS[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	GB_MOUNTS=()
	return 0
}

setup() { gb_setup; }
teardown() { gb_teardown; }

# --------------------------------------------------------------- keys

# keys_setup_file [nokeys]: in setup_file, $KEYS and $FX (made, for the
# file's fixtures) under $BATS_FILE_TMPDIR, and, unless "nokeys", keys
# from scripts/mkkeys.sh: $SIGNER, $RCPT1, $RCPT2 and their keyrings.
keys_setup_file() {
	export LC_ALL=C.UTF-8
	export KEYS="$BATS_FILE_TMPDIR/keys"
	export FX="$BATS_FILE_TMPDIR/fx"
	mkdir -p "$FX"
	[ "${1-}" != nokeys ] || return 0
	sh "$TOP/scripts/mkkeys.sh" "$KEYS" >"$BATS_FILE_TMPDIR/mkkeys.log" 2>&1 ||
	    { cat "$BATS_FILE_TMPDIR/mkkeys.log" >&2; return 1; }
	# shellcheck disable=SC1091
	. "$KEYS/keys.env"
	export SIGNER RCPT1 RCPT2
}

# End the gpg-agents of every keyring under DIR (only those: other
# people's agents are left alone).
kill_agents_under() {
	local d
	[ -d "$1" ] || return 0
	while IFS= read -r d; do
		gpgconf --homedir "${d%/*}" --kill gpg-agent >/dev/null 2>&1 || true
	done < <(find "$1" -name pubring.kbx 2>/dev/null)
}

# ------------------------------------------------------------ assertions

# Nothing left in the per-test TMPDIR.
assert_tmpdir_empty() {
	local left
	left=$(ls -A "$TMPDIR")
	[ -z "$left" ] || fail "left in TMPDIR ($TMPDIR): $left"
}

# Neither DIR nor DIR.tmp.* exists.
assert_no_dir() {
	local d=$1 left
	[ ! -e "$d" ] || fail "$d was left behind"
	left=$(compgen -G "$d.tmp.*" || true)
	[ -z "$left" ] || fail "temporary directory left behind: $left"
}

# The failure contract: no DIR, no DIR.tmp.*, nothing in TMPDIR.
assert_clean() {
	[ -z "${1:-}" ] || assert_no_dir "$1"
	assert_tmpdir_empty
}

# ------------------------------------------------------------- manifest

# mf MANIFEST FIELD [TABLE]: the values of FIELD lines (for TABLE, given as
# the manifest writes it: escaped), tab-joined, one line per match.
mf() {
	local has=0
	[ $# -ge 3 ] && has=1
	MF_F="$2" MF_T="${3-}" MF_H=$has awk -F'\t' '
	BEGIN { f = ENVIRON["MF_F"]; t = ENVIRON["MF_T"]; h = ENVIRON["MF_H"] + 0 }
	$1 == f && (!h || $2 == t) {
		s = h ? 3 : 2; o = ""
		for (i = s; i <= NF; i++) o = o (i > s ? "\t" : "") $i
		print o
	}' "$1"
}

# Table names of a manifest, in order (escaped as written).
mf_tables() {
	awk -F'\t' '$1 == "table" { print $2 }' "$1"
}

# ------------------------------------------------------------ databases

# sql DB SQL...: run sqlite3 quietly, failing on error.
sql() {
	local db=$1
	shift
	sqlite3 -bail -batch "$db" "$@"
}

# The tables of a database in name order (as the spec exports them).
db_tables() {
	sqlite3 "$1" "SELECT name FROM sqlite_schema WHERE type = 'table'
	    AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
}

# make_gym_db PATH: the reference schema with a small hand-made data set
# full of awkward values (Chinese names, quotes, commas, CR/LF in notes,
# NULL and empty strings, leading/trailing spaces, big amounts, reals,
# infinities, blobs, int64 extremes).
make_gym_db() {
	local db=$1
	[ -f "$SCHEMA_SQL" ] || skip "share/gym-schema.sql does not exist"
	sqlite3 -bail "$db" <"$SCHEMA_SQL" || return 1
	sqlite3 -bail "$db" <<'EOF'
INSERT INTO stores VALUES
 (1, 'SH01', '上海徐汇店', '上海', '漕溪北路 88 号, 3 楼', '2019-03-01', '2026-01-01 09:00:00'),
 (2, 'BJ01', 'Beijing "Flagship"', '北京', NULL, NULL, '2026-01-01 09:00:00'),
 (3, 'GZ01', '', 'Guangzhou', ' padded ', '2020-07-15', '2026-01-02 10:30:00');
INSERT INTO members VALUES
 (1, 'C0001', '张伟', NULL, 'gold', 123456, 'active', 1, 'He said "hi", then left', NULL, '2025-01-01 08:00:00', '2026-01-01 08:00:00'),
 (2, 'C0002', '李娜', '', 'silver', 0, 'active', 1, 'line1' || char(10) || 'line2', x'00ff10', '2025-01-02 08:00:00', '2026-01-01 08:00:01'),
 (3, 'C0003', 'O''Brien, Pat', '13800138000', 'standard', 999999999999, 'frozen', 2, 'crlf' || char(13,10) || 'end', x'', '2025-01-03 08:00:00', '2026-01-01 08:00:02'),
 (4, 'C0004', ' leading', '+86 21 5555', 'platinum', -123456789, 'cancelled', NULL, 'trailing ', NULL, '2025-01-04 08:00:00', '2026-01-01 08:00:03'),
 (5, 'C0005', '"quoted"', NULL, 'gold', 5, 'active', 3, '', NULL, '2025-01-05 08:00:00', '2026-01-01 08:00:04'),
 (6, 'C0006', 'comma,name', 'NULL', 'gold', 1, 'active', 3, 'lone' || char(13) || 'cr', NULL, '2025-01-06 08:00:00', '2026-01-01 08:00:05'),
 (7, 'C0007', 'tab' || char(9) || 'in', '\N', 'standard', 2, 'active', 1, 'NULL', NULL, '2025-01-07 08:00:00', '2026-01-01 08:00:06'),
 (8, 'C0008', '🏋️ 健身达人', ' ', 'standard', 3, 'active', 2, ' ', NULL, '2025-01-08 08:00:00', '2026-01-01 08:00:07'),
 (9, 'C0009', '鈴木 一郎', '#1;2', 'silver', 4, 'active', 2, '"', NULL, '2025-01-09 08:00:00', '2026-01-01 08:00:08'),
 (10, 'C0010', 'x', '0', 'standard', 0, 'active', 1, ',', NULL, '2025-01-10 08:00:00', '2026-01-01 08:00:09'),
 (11, 'C0011', '王' || char(10) || '芳', '1', 'gold', 77, 'active', 1, char(10), NULL, '2025-01-11 08:00:00', '2026-01-01 08:00:10'),
 (12, 'C0012', 'last', NULL, 'gold', 88, 'active', 1, '""', NULL, '2025-01-12 08:00:00', '2026-01-01 08:00:11');
EOF
	# A blob holding every byte value (sqlite 3.40 has no unhex()).
	local hex
	hex=$(for i in $(seq 0 255); do printf '%02x' "$i"; done)
	sqlite3 -bail "$db" "UPDATE members SET photo = x'$hex' WHERE id = 12" || return 1
	sqlite3 -bail "$db" <<'EOF'
INSERT INTO consumptions VALUES
 (1, 1, 1, '私教课 10 节', 1, 500000, 'card', '小李', NULL, '2026-01-03 10:00:00', NULL),
 (2, 1, 1, 'Protein bar, "choc"', 3, 2997, 'cash', NULL, 'paid in coins' || char(10) || 'counted twice', '2026-01-03 10:05:00', NULL),
 (3, 1, 1, 'Protein bar, "choc"', -3, -2997, 'cash', NULL, 'correction', '2026-01-03 10:06:00', 2),
 (4, 3, 2, 'Annual pass', 9223372036854775807, 900000000000, 'transfer', '', '', '2026-01-04 11:00:00', NULL),
 (5, 4, 3, 'Refund', -9223372036854775808, -900000000000, 'transfer', ' ', ' x ', '2026-01-04 11:30:00', NULL),
 (6, 2, 3, 'Towel', 0, 0, 'card', 'op', NULL, '2026-01-05 07:00:00', NULL);
INSERT INTO recharges VALUES
 (1, 1, 1, 100000, 10000, 'wechat', '小李', '2026-01-02 09:00:00', NULL),
 (2, 2, 1, 50000, 0, 'alipay', NULL, '2026-01-02 09:10:00', NULL),
 (3, 3, 2, 999999999999, 1, 'bank', 'O"Neil', '2026-01-02 09:20:00', NULL),
 (4, 2, 1, -50000, 0, 'alipay', NULL, '2026-01-02 09:30:00', 2);
INSERT INTO promotions VALUES
 (1, 'NY10', '新年 9 折', 'discount', 0.1, NULL, '2026-01-01', '2026-01-31', '2026-01-01 00:00:00'),
 (2, 'THIRD', 'one third', 'discount', 1.0/3, NULL, NULL, NULL, '2026-01-01 00:00:01'),
 (3, 'HUGE', 'huge', 'discount', 1e300, NULL, NULL, NULL, '2026-01-01 00:00:02'),
 (4, 'TINY', 'tiny', 'discount', 4.9406564584124654e-324, NULL, NULL, NULL, '2026-01-01 00:00:03'),
 (5, 'BIG', 'big', 'discount', 1e16, NULL, NULL, NULL, '2026-01-01 00:00:04'),
 (6, 'FRAC', 'frac', 'discount', 123456789.123, NULL, NULL, NULL, '2026-01-01 00:00:05'),
 (7, 'INF', 'inf', 'discount', 9e999, NULL, NULL, NULL, '2026-01-01 00:00:06'),
 (8, 'NINF', '-inf', 'discount', -9e999, NULL, NULL, NULL, '2026-01-01 00:00:07'),
 (9, 'SMALL', 'small', 'discount', 1e-7, NULL, NULL, NULL, '2026-01-01 00:00:08'),
 (10, 'ROUND', 'round', 'discount', 100.0, NULL, NULL, NULL, '2026-01-01 00:00:09'),
 (11, 'SUM', 'sum', 'discount', 0.1 + 0.2, NULL, NULL, NULL, '2026-01-01 00:00:10'),
 (12, 'NEG0', 'neg zero', 'discount', -0.0, NULL, NULL, NULL, '2026-01-01 00:00:11'),
 (13, 'BONUS', '充 1000 送 100', 'bonus', NULL, 10000, '2026-01-01', NULL, '2026-01-01 00:00:12'),
 (14, 'BONUS2', 'bonus, big', 'bonus', NULL, 123456789012, NULL, NULL, '2026-01-01 00:00:13'),
 (15, 'PI', 'pi', 'discount', 3.141592653589793, NULL, NULL, NULL, '2026-01-01 00:00:14'),
 (16, 'NEGR', 'negative', 'discount', -2.5e-5, NULL, NULL, NULL, '2026-01-01 00:00:15');
INSERT INTO promotion_participations VALUES
 (1, 13, 1, 1, '2026-01-02 09:00:00', 10000),
 (2, 14, 3, 2, '2026-01-02 09:20:00', 123456789012),
 (3, 1, 2, 1, '2026-01-03 10:00:00', 0);
INSERT INTO checkins VALUES
 (1, 1, 1, '2026-01-03 07:00:00', '2026-01-03 08:30:00'),
 (2, 2, 1, '2026-01-03 07:05:00', NULL),
 (3, 3, 2, '2026-01-03 07:10:00', ''),
 (5, 4, 3, '2026-01-03 07:20:00', NULL),
 (4, 5, 3, '2026-01-03 07:15:00', '2026-01-03 09:00:00');
EOF
}

# bulk_gym_db PATH MEMBERS RECHARGES: the reference schema filled with
# plain generated rows (fast, with sqlite3 only); every member starts with
# balance 1000.
bulk_gym_db() {
	local db=$1 nm=$2 nr=$3
	[ -f "$SCHEMA_SQL" ] || skip "share/gym-schema.sql does not exist"
	sqlite3 -bail "$db" <"$SCHEMA_SQL" || return 1
	sqlite3 -bail "$db" <<EOF
PRAGMA journal_mode = WAL;
BEGIN;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 12)
INSERT INTO stores SELECT i, printf('S%02d', i), printf('门店 %d', i), '上海',
  NULL, '2020-01-01', '2026-01-01 00:00:00' FROM s;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $nm)
INSERT INTO members SELECT i, printf('C%08d', i),
  CASE WHEN i % 1000 = 0 THEN printf('会员 %d, "VIP"', i) ELSE printf('会员 %d', i) END,
  printf('138%08d', i), 'standard', 1000, 'active', 1 + i % 12,
  printf('note %d with some text to make the row longer', i), NULL,
  '2025-01-01 00:00:00', '2026-01-01 00:00:00' FROM s;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $nr)
INSERT INTO recharges SELECT i, 1 + i % $nm, 1 + i % 12, 10000 + i % 977, i % 7,
  'wechat', 'op', '2026-01-02 00:00:00', NULL FROM s;
COMMIT;
EOF
}

# make_demo_db PATH [ROWS]: a demo database made by bin/gb-demodata when it
# exists, else bulk_gym_db.
make_demo_db() {
	local db=$1 n=${2:-2000}
	if [ -x "$TOP/bin/gb-demodata" ]; then
		gb-demodata -s 1 -n "$n" -o "$db"
	else
		bulk_gym_db "$db" $((n / 3 + 1)) $((n / 3 + 1))
	fi
}

# write_gym_conf PATH DB [SITE]: a config describing the reference schema
# as the spec does.
write_gym_conf() {
	local conf=$1 db=$2 site=${3:-test-gym}
	cat >"$conf" <<EOF
# test config for the reference gym schema
[site]
name = $site

[source]
uri = sqlite:$db
busy_timeout = 5

[table stores]
key = id
watermark = updated_at
class = master

[table members]
key = id
watermark = updated_at
money = balance            ; integer cents
class = master

[table consumptions]
key = id
money = amount
class = transaction

[table recharges]
key = id
money = amount,bonus
class = transaction

[table promotions]
key = id
watermark = updated_at
money = bonus_amount
class = master

[table promotion_participations]
key = id
money = benefit_amount
class = transaction

[table checkins]
key = id
class = transaction

[keys]
signer = nobody@example.org
EOF
}

# conf_pools PATH: append the catalog, the spool and the policy's two
# pools (daily: drives, 35 days, 7 of them offsite; weekly: tape) to a
# config; what is appended next still belongs to [pool weekly].
conf_pools() {
	cat >>"$1" <<-EOF
	[catalog]
	path = $W/catalog.db

	[spool]
	dir = $W/spool

	[pool daily]
	kind = dir
	retention_days = 35
	offsite = yes
	offsite_days = 7

	[pool weekly]
	kind = tape
	EOF
}

# nobody_reaches_w: give o+x to the directories bats made above $W, so
# that user nobody reaches it; skip the test where another is in the way.
nobody_reaches_w() {
	local p=$W

	while [ "$p" != / ]; do
		if [ $(( 8#$(stat -c %a "$p") & 1 )) -eq 0 ]; then
			case $p in
			"$BATS_RUN_TMPDIR"*) chmod o+x "$p" ;;
			*) skip "$p is not searchable by nobody" ;;
			esac
		fi
		p=$(dirname "$p")
	done
}

# ---------------------------------------------------------------- tools

# gb_stream OUT ARGS...: gb-export ARGS > OUT (so that `run gb_stream ...`
# captures only stderr in $output).
gb_stream() {
	local o=$1
	shift
	gb-export "$@" >"$o"
}

csvcheck() {
	"$PY" "$CSVCHECK" "$@"
}

# verify_set DIR [DB]: tests/csvcheck.py verify, failing the test with its
# report.
verify_set() {
	local rep
	if ! rep=$(csvcheck verify "$@" 2>&1); then
		fail "csvcheck verify $*: $rep"
	fi
}

# Remember a background process for teardown.
bg_started() {
	GB_BG_PIDS+=("$1")
}

# run_small_fs DIR SIZE CMD...: like `run CMD...`, with a tmpfs of SIZE
# mounted on DIR (as root directly; otherwise inside `unshare -rm`).
# $status is CMD's; $output is CMD's output; $small_left lists what DIR
# held after CMD.  Skips when no tmpfs can be mounted.
run_small_fs() {
	local dir=$1 size=$2
	shift 2
	mkdir -p "$dir"
	local script='d=$1; s=$2; shift 2
mount -t tmpfs -o "size=$s,mode=0777" tmpfs "$d" || exit 99
"$@"; st=$?
echo "@@LEFT@@"; ls -A "$d"
exit $st'
	if [ "$(id -u)" = 0 ]; then
		GB_MOUNTS+=("$dir")
		run sh -c "$script" sh "$dir" "$size" "$@"
	else
		unshare -rm true 2>/dev/null ||
		    skip "cannot mount a tmpfs (not root, no user namespaces)"
		run unshare -rm sh -c "$script" sh "$dir" "$size" "$@"
	fi
	[ "$status" -ne 99 ] || skip "mount -t tmpfs failed: $output"
	small_left=${output##*@@LEFT@@}
	small_left=${small_left#$'\n'}
	output=${output%@@LEFT@@*}
	output=${output%$'\n'}
}

# hold_lock DB SECONDS [wal]: a background sqlite3 takes an exclusive lock
# on DB (rollback-journal mode, where it shuts readers out; with "wal" in
# the mode DB is in, where it shuts out writers only, and other
# connections may be open) and holds it for SECONDS or until $W/release
# exists; returns once the lock is held.  DB must have a table t(v).
# $HOLD_PID is the sqlite3 process.
hold_lock() {
	local db=$1 secs=$2 i mode="PRAGMA journal_mode = DELETE;"
	[ "${3-}" != wal ] || mode=
	rm -f "$W/locked" "$W/release"
	cat >"$W/hold.sh" <<-EOF
	touch "$W/locked"
	i=0
	while [ \$i -lt $((secs * 10)) ] && [ ! -e "$W/release" ]; do
		sleep 0.1
		i=\$((i + 1))
	done
	EOF
	sqlite3 -bail "$db" >"$W/hold.out" 2>&1 3>&- <<-EOF &
	$mode
	BEGIN EXCLUSIVE;
	UPDATE t SET v = v + 1;
	.shell sh $W/hold.sh
	COMMIT;
	EOF
	HOLD_PID=$!
	bg_started $HOLD_PID
	for i in $(seq 100); do
		[ -e "$W/locked" ] && return 0
		sleep 0.1
	done
	fail "the lock holder did not start: $(cat "$W/hold.out")"
}

# now: seconds since the epoch with fractions.
now() {
	date +%s.%N
}

# schema_lie SRC DST SEDEXPR: a copy of export set SRC whose SCHEMA.sql is
# edited with sed and its MANIFEST's schema line made to match, as a
# source with a doctored schema, or a signer fed one, would seal it.
schema_lie() {
	local n h
	cp -a "$1" "$2" || return 1
	sed -i "$3" "$2/SCHEMA.sql"
	! cmp -s "$1/SCHEMA.sql" "$2/SCHEMA.sql" ||
	    { echo "schema_lie: $3 changed nothing" >&2; return 1; }
	n=$(stat -c %s "$2/SCHEMA.sql")
	h=$(sha256sum <"$2/SCHEMA.sql" | cut -d' ' -f1)
	sed -i "s/^schema\tSCHEMA.sql\t.*/schema\tSCHEMA.sql\t$n\t$h/" "$2/MANIFEST"
}

# faulty RULES [NAME=VALUE...] CMD...: CMD with tests/faultinject.so
# preloaded (built by make if need be) and GB_FAULT=RULES: a failed call,
# a kill -9 or a swapped file at a chosen moment (see the top of
# tests/faultinject.c).  Only gb-* processes count; gpg runs without it.
# Under make SANITIZE=1 the shim comes before ASan's runtime.
faulty() {
	local rules=$1
	shift
	make -s -C "$TOP" tests/faultinject.so >/dev/null || return 125
	env LD_PRELOAD="$TOP/tests/faultinject.so" GB_FAULT="$rules" \
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@"
}
