#!/bin/sh
# bench.sh - `make bench`: how fast gymbackup moves a gym's data.
#
# Makes the reference gym with bin/gb-demodata (or reuses it: cached in
# $GB_BENCH_DIR, default bench/data/, keyed by seed, size and a hash of
# the generator and the schema), and throwaway keys (scripts/mkkeys.sh,
# made once, kept in $GB_BENCH_DIR/keys), then times, in the same run and
# on the same warm page cache, each gymbackup stage against the plain
# tools doing the same job on the same data:
#   export      gb-export -o DIR, gb-export > /dev/null
#               vs sqlite3 -csv -header, SELECT * FROM every table
#   backup      gb-export | gb-pack | gb-seal -o SPOOL/NAME (default
#               settings) vs, timed end to end, sqlite3 -csv -header per
#               table into files; tar cf - | gzip -6 | gpg -e -s (same keys,
#               no OpenPGP compression); and vs sqlite3 -csv plus
#               `restic backup` of the CSV files into a new local repository
#   pack        gb-pack -j 1 vs gb-pack -j NPROC, the same export directory
#               to /dev/null
#   seal        gb-seal vs gpg -e -s (the backup route's keys and options),
#               each alone, the same packed archive to a file
#   8 threads   peak RSS of gb-export -P 8, gb-pack -j 8, gb-restore and
#               gb-verify --deep with GB_THREADS=8 (not timed)
#   restore     gb-restore -d sqlite:NEW vs gpg -d | tar xzf - and one
#               sqlite3 that reads the schema (share/gym-schema.sql) and
#               .import --csv --skip 1 each table; and vs SQLite's own floor:
#               one sqlite3 that makes the schema's tables in a new database,
#               ATTACHes the gym and copies every table by INSERT INTO t
#               SELECT * FROM other.t, then makes the schema's indexes (after
#               the load, as gb-restore does), all in one transaction
#   verify      gb-verify --deep vs gpg -d | gzip -t
#   despool     gb-write --no-verify, and gb-write with its read-back, to a
#               fresh labelled tape image vs dd bs=256k conv=fsync (gb-write
#               fsyncs at each tape mark; dd is made to sync too)
#   incremental on a copy of the gym, a full backup that keeps its state
#               (-S, as gb-backup runs it), then 7 rounds of changes, each
#               followed by an incremental backup (gb-export -i | gb-pack |
#               gb-seal): per round 1 % of the members updated, 0.1 %
#               deleted, and 0.1 % more rows in each transaction table (a
#               day's business); their time and archive size vs the full's,
#               and the restore of the full and the 7 incrementals into
#               SQLite vs the full's alone
# and prints seconds (wall), MB/s, peak RSS and the ratios.  Each time is
# the median of $BENCH_RUNS runs (default 3); each peak RSS the highest seen.
# Before each timed command the page cache is synced, so that no stage
# pays for the write-back of the one before.
#
# Peak RSS (GNU time's %M, of each stage of a pipeline on its own; the gpg
# that gpgme starts detached is not counted) is printed per tool at the
# bench size and at 1,000,000 rows: the whole suite runs $BENCH_RUNS times
# more on a 1M-row gym (also generated and cached) when BENCH_ROWS is
# another size.  The bench runs a copy of bin/ taken at its start.
#
# At the end, a table of the issue's targets, the measured ratio, and
# PASS or MISS; then scripts/bench-pg.sh: gb-export from PostgreSQL vs
# psql \copy, and the full backup from it vs pg_dump -Fc -Z1 | gpg -e -s,
# on the same rows, in a throwaway cluster; then scripts/bench-catalog.sh:
# a chain's catalog on PostgreSQL, nightly runs of 20 sites at once and
# check --all-sites over a year of history.  The benchmark only prints:
# the tests check correctness.
#
# Environment: BENCH_ROWS (default 10000000), BENCH_SEED (1), BENCH_RUNS
# (3; 1 for a quick run), GB_BENCH_DIR (bench/data), TMPDIR (the scratch
# space: several times the CSV size).  Needs GNU time (/usr/bin/time,
# Debian package "time"), gpg, sqlite3 and restic: make bench installs them.
# Without restic the restic yardstick is the fixed figure of the issue.
set -eu

cd "$(dirname "$0")/.."
TOP=$(pwd)
BIN=$TOP/bin
ROWS=${BENCH_ROWS:-10000000}
SEED=${BENCH_SEED:-1}
RUNS=${BENCH_RUNS:-3}
DIR=${GB_BENCH_DIR:-$TOP/bench/data}
TIME=/usr/bin/time
CONF=$TOP/share/gymbackup.conf
SCHEMA=$TOP/share/gym-schema.sql
NPROC=$(nproc)
RSS_ROWS=1000000	# the small size of the peak RSS comparison
RSS_MAX_KB=65536	# targets: 64 MiB for every tool,
RSS_GROWTH=10		# and no more than 10 % more at $ROWS than at 1M
RESTIC_REF=11.5		# the issue's figure for sqlite3 -csv + restic, 525 MB
GB_TOOLS="gb-export gb-pack gb-seal gb-restore gb-verify gb-write"
WORK=
DB=
KEYS=
R=
S=
export TIME BIN CONF SCHEMA
. "$TOP/scripts/bench-lib.sh"

die() {
	echo "bench: $*" >&2
	exit 1
}

cleanup() {
	keys_cleanup
	[ -z "$WORK" ] || rm -rf "$WORK"
}

check_tools() {
	for t in gb-demodata $GB_TOOLS; do
		[ -x "$BIN/$t" ] || die "$BIN/$t is missing; run make all first"
	done
	for t in sqlite3 gpg gpgconf tar gzip dd bash; do
		command -v $t >/dev/null || die "$t is missing; run make deps"
	done
	"$TIME" -f %M -o /dev/null true 2>/dev/null ||
		die "GNU time ($TIME) is missing; run make deps (package time)"
	case $ROWS$SEED$RUNS in
	*[!0-9]*) die "BENCH_ROWS, BENCH_SEED and BENCH_RUNS must be numbers" ;;
	esac
	[ "$RUNS" -ge 1 ] || die "BENCH_RUNS must be 1 or more"
	if command -v restic >/dev/null; then
		HAVE_RESTIC=1
	else
		HAVE_RESTIC=
		echo "bench: restic is missing (make bench installs it); the" \
		    "restic yardstick is the issue's fixed $RESTIC_REF s" >&2
	fi
}

# The generator's identity: a new gb-demodata or schema makes a new gym.
gen_key() {
	cat "$TOP/src/gb-demodata.c" "$TOP/share/gym-schema.sql" |
	    sha256sum | cut -c1-8
}

# ensure_db ROWS: sets DB to the cached gym of ROWS rows, making it (and
# dropping stale ones of the same seed and size) when needed.
ensure_db() {
	mkdir -p "$DIR"
	DB=$DIR/gym-s$SEED-n$1-$(gen_key).db
	if [ -f "$DB" ]; then
		echo "bench: reusing $DB"
		return
	fi
	for old in "$DIR/gym-s$SEED-n$1-"*.db; do
		[ -f "$old" ] && rm -f "$old" "$old-wal" "$old-shm"
	done
	rm -f "$DB.tmp" "$DB.tmp2"	# left by an interrupted make bench
	echo "bench: making $DB ($1 rows, seed $SEED)"
	"$TIME" -f '%e %M' -o "$WORK/gen.time" \
	    "$BIN/gb-demodata" -s "$SEED" -n "$1" -o "$DB"
	read -r secs kb <"$WORK/gen.time"
	echo "bench: gb-demodata took $secs s, peak RSS $((kb / 1024)) MiB"
}

# snapshot_bin: the whole bench runs one build, copied to $WORK/bin, even
# when bin/ is rebuilt meanwhile.
snapshot_bin() {
	mkdir "$WORK/bin"
	for t in gb-demodata $GB_TOOLS; do
		cp "$BIN/$t" "$WORK/bin/$t"
	done
	BIN=$WORK/bin
	BUILD="$(git -C "$TOP" describe --always --dirty 2>/dev/null ||
	    echo unknown), binaries $(cat "$BIN"/gb-* | sha256sum | cut -c1-12)"
}

tables() {
	sqlite3 "$DB" "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
}

# warm: read the database once so every contender finds it in the cache.
warm() {
	cat "$DB" >/dev/null
}

# size_setup ROWS: the gym of ROWS rows, and its results directory $R.
size_setup() {
	ensure_db "$1"
	R=$WORK/r$1
	S=$WORK/scratch
	rm -rf "$R" "$S"
	mkdir -p "$R" "$S"
	export DB R S
	TABLES=$(tables)
	export TABLES
	DB_ROWS=$(for t in $TABLES; do
		sqlite3 "$DB" "SELECT count(*) FROM \"$t\""
	done | awk '{ n += $1 } END { print n }')
	# the import script of the shell restore route
	{
		printf '.read %s\n' "$SCHEMA"
		for t in $TABLES; do
			printf '.import --csv --skip 1 %s/shell2/%s.csv %s\n' \
			    "$S" "$t" "$t"
		done
	} >"$R/import.sql"
	# the floor's script: the schema's tables, the copies, its indexes
	rm -f "$S/schema.db"
	sqlite3 "$S/schema.db" <"$SCHEMA"
	{
		printf "ATTACH '%s' AS other;\nBEGIN;\n" "$DB"
		sqlite3 "$S/schema.db" "SELECT sql || ';' FROM sqlite_schema
		    WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
		for t in $TABLES; do
			printf 'INSERT INTO main."%s" SELECT * FROM other."%s";\n' \
			    "$t" "$t"
		done
		sqlite3 "$S/schema.db" "SELECT sql || ';' FROM sqlite_schema
		    WHERE type = 'index' AND sql IS NOT NULL"
		echo 'COMMIT;'
	} >"$R/floor.sql"
	rm -f "$S/schema.db"
	# gb-write wants a signer pinned, and a catalog
	printf '[keys]\nsigner = %s\n' "$SIGNER" >"$R/write.conf"
	warm
}

# rss_add TOOL FILE: FILE holds GNU time's "seconds kb" of one run of
# TOOL; fails the bench if TOOL failed, else keeps its peak RSS.
rss_add() {
	if ! awk 'NF < 2 || $1 !~ /^[0-9.]+$/ { exit 1 }' "$2"; then
		cat "$2" >&2
		die "$1 failed"
	fi
	awk '{ print $2 }' "$2" >>"$R/rss.$1"
}

# timed NAME CMD...: syncs, then runs CMD once under GNU time (stdout as
# given by the caller), appends "seconds kb user sys" to $R/NAME.runs.
# (CPU time is of the processes waited for: gpg started by gpgme is not.)
timed() {
	name=$1
	shift
	sync
	"$TIME" -f '%e %M %U %S' -o "$R/$name.one" "$@" ||
		die "$name failed: $*"
	cat "$R/$name.one" >>"$R/$name.runs"
}

# timed_sh NAME SCRIPT: timed, for a bash pipeline (pipefail on).  The
# gymbackup stages in SCRIPT run as `st TOOL CMD...`, under GNU time of
# their own, so that each tool's peak RSS is known.
timed_sh() {
	rm -f "$S"/st.*
	timed "$1" bash -c 'set -o pipefail
st() { n=$1; shift; "$TIME" -f "%e %M" -o "$S/st.$n" "$@"; }
'"$2"
	for f in "$S"/st.*; do
		[ -f "$f" ] && rss_add "${f##*/st.}" "$f"
	done
	return 0
}

# timed_gb TOOL NAME CMD...: timed, and CMD's peak RSS is TOOL's.
timed_gb() {
	tool=$1
	shift
	timed "$@"
	rss_add "$tool" "$R/$1.one"
}

# median NAME: "seconds kb cpu", the median seconds, the highest peak RSS,
# and the CPU seconds (user + system) of the median run.
median() {
	sort -n "$R/$1.runs" | awk '
		{ s[NR] = $1; c[NR] = $3 + $4; if ($2 > kb) kb = $2 }
		END { m = int((NR + 1) / 2); printf "%s %d %.2f\n", s[m], kb, c[m] }'
}

secs() {
	median "$1" | cut -d' ' -f1
}

# csv_bytes DIR: total size of the CSV files in DIR.
csv_bytes() {
	stat -c %s "$1"/*.csv | awk '{ n += $1 } END { print n }'
}

bench_sqlite3() {
	rm -rf "$S/sqlite3"
	mkdir "$S/sqlite3"
	: >"$R/sqlite3.sql"
	for t in $TABLES; do
		printf '.once %s/%s.csv\nSELECT * FROM "%s";\n' \
		    "$S/sqlite3" "$t" "$t" >>"$R/sqlite3.sql"
	done
	timed sqlite3 sqlite3 -csv -header "$DB" <"$R/sqlite3.sql"
	csv_bytes "$S/sqlite3" >"$R/sqlite3.bytes"
	rm -rf "$S/sqlite3"
}

# Leaves the export set in $S/export for bench_pack.
bench_export_dir() {
	rm -rf "$S/export"
	timed_gb gb-export export_dir "$BIN/gb-export" -c "$CONF" \
	    -s "sqlite:$DB" -j bench -o "$S/export"
	csv_bytes "$S/export" >"$R/csv.bytes"
	rows=$(awk -F'\t' '$1 == "rows" { n += $3 } END { print n }' \
	    "$S/export/MANIFEST")
	[ "$rows" = "$DB_ROWS" ] ||
		die "gb-export -o wrote $rows rows; the database holds $DB_ROWS"
}

bench_export_stream() {
	timed_gb gb-export export_stream "$BIN/gb-export" -c "$CONF" \
	    -s "sqlite:$DB" -j bench >/dev/null
}

bench_pack() {
	timed_gb gb-pack pack_j1 "$BIN/gb-pack" -j 1 "$S/export" >/dev/null
	timed_gb gb-pack pack_jn "$BIN/gb-pack" -j "$NPROC" "$S/export" \
	    >/dev/null
	rm -rf "$S/export"
}

# gb-seal alone vs gpg -e -s alone (as the shell route runs it), the same
# packed archive to a file: no fsync on either side.  Leaves the packed
# archive in $S/packed.tar.gz for bench_threads.
bench_seal() {
	"$BIN/gb-pack" "$S/export" >"$S/packed.tar.gz"
	stat -c %s "$S/packed.tar.gz" >"$R/packed.bytes"
	timed gpg_seal env GNUPGHOME="$BACKUP_GPG" gpg --batch -q \
	    --trust-model always -e -s -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" \
	    --compress-algo none <"$S/packed.tar.gz" >"$S/sealed.gpg"
	timed_gb gb-seal seal env GNUPGHOME="$BACKUP_GPG" "$BIN/gb-seal" \
	    -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" <"$S/packed.tar.gz" \
	    >"$S/sealed.gpg"
	rm -f "$S/sealed.gpg"
}

# rss8 TOOL CMD...: CMD once under GNU time; its peak RSS is TOOL's at 8
# threads ($R/rss8.TOOL), and TOOL's (the highest peak RSS target).
rss8() {
	tool=$1
	shift
	"$TIME" -f '%e %M' -o "$R/rss8.one" "$@" || die "$tool failed: $*"
	rss_add "$tool" "$R/rss8.one"
	awk '{ print $2 }' "$R/rss8.one" >>"$R/rss8.$tool"
}

# Peak RSS with 8 threads, wherever the machine has fewer cores: the
# export set in $S/export, the packed archive of bench_seal sealed into
# $S/spool8.
bench_threads() {
	rss8 gb-export "$BIN/gb-export" -c "$CONF" -s "sqlite:$DB" -j bench \
	    -P 8 >/dev/null
	rss8 gb-pack "$BIN/gb-pack" -j 8 "$S/export" >/dev/null
	rm -rf "$S/spool8" "$S/restored8.db"
	mkdir "$S/spool8"
	GNUPGHOME=$BACKUP_GPG "$BIN/gb-seal" -q -r "$RCPT1" -r "$RCPT2" \
	    -u "$SIGNER" -o "$S/spool8/gym" <"$S/packed.tar.gz"
	rss8 gb-restore env GB_THREADS=8 GNUPGHOME="$RESTORE_GPG" \
	    "$BIN/gb-restore" -q --signer "$SIGNER" \
	    -d "sqlite:$S/restored8.db" "$S/spool8/gym.tar.gz.gpg"
	rss8 gb-verify env GB_THREADS=8 GNUPGHOME="$RESTORE_GPG" \
	    "$BIN/gb-verify" -q --deep --signer "$SIGNER" \
	    "$S/spool8/gym.tar.gz.gpg" >/dev/null
	rm -rf "$S/spool8" "$S/restored8.db" "$S/packed.tar.gz"
}

# The full backup at the default settings, into the spool $S/spool.
bench_backup() {
	rm -rf "$S/spool"
	mkdir "$S/spool"
	timed_sh backup 'export GNUPGHOME=$BACKUP_GPG
st gb-export "$BIN/gb-export" -c "$CONF" -s "sqlite:$DB" -j bench |
st gb-pack "$BIN/gb-pack" |
st gb-seal "$BIN/gb-seal" -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o "$S/spool/gym"'
	stat -c %s "$S/spool/gym.tar.gz.gpg" >"$R/archive.bytes"
}

# The same by hand; leaves the CSV files in $S/shell for restic.
bench_shell_backup() {
	rm -rf "$S/shell" "$S/shell.tar.gz.gpg"
	mkdir "$S/shell"
	timed_sh shell_backup 'export GNUPGHOME=$BACKUP_GPG
for t in $TABLES; do
	sqlite3 -csv -header "$DB" "SELECT * FROM \"$t\"" >"$S/shell/$t.csv"
done
tar cf - -C "$S/shell" . | gzip -6 |
gpg --batch -q --trust-model always -e -s -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" \
    --compress-algo none \
    >"$S/shell.tar.gz.gpg"'
	stat -c %s "$S/shell.tar.gz.gpg" >"$R/shell_archive.bytes"
}

# restic backup of the shell route's CSV files into a new local repository.
bench_restic() {
	if [ -n "$HAVE_RESTIC" ]; then
		rm -rf "$S/restic" "$S/restic-cache"
		export RESTIC_PASSWORD=gymbackup-bench
		export RESTIC_CACHE_DIR="$S/restic-cache"
		restic -q -r "$S/restic" init >/dev/null
		timed restic restic -q -r "$S/restic" backup "$S/shell" \
		    >/dev/null
		restic -q -r "$S/restic" cat config 2>/dev/null |
		    sed -n 's/.*"version": *\([0-9]*\).*/\1/p' \
		    >"$R/restic.version"
		du -sb "$S/restic" | cut -f1 >"$R/restic.bytes"
		rm -rf "$S/restic" "$S/restic-cache"
	fi
	rm -rf "$S/shell"
}

bench_restore() {
	rm -f "$S/restored.db"
	timed_gb gb-restore restore env GNUPGHOME="$RESTORE_GPG" \
	    "$BIN/gb-restore" --signer "$SIGNER" -d "sqlite:$S/restored.db" \
	    "$S/spool/gym.tar.gz.gpg"
	n=$(for t in $TABLES; do
		sqlite3 "$S/restored.db" "SELECT count(*) FROM \"$t\""
	done | awk '{ n += $1 } END { print n }')
	[ "$n" = "$DB_ROWS" ] ||
		die "gb-restore restored $n rows; the database holds $DB_ROWS"
	rm -f "$S/restored.db"
}

# SQLite's floor: the same rows copied within SQLite (size_setup).
bench_floor() {
	rm -f "$S/floor.db"
	timed floor sqlite3 "$S/floor.db" <"$R/floor.sql"
	n=$(for t in $TABLES; do
		sqlite3 "$S/floor.db" "SELECT count(*) FROM \"$t\""
	done | awk '{ n += $1 } END { print n }')
	[ "$n" = "$DB_ROWS" ] ||
		die "the INSERT...SELECT floor copied $n rows; the database holds $DB_ROWS"
	rm -f "$S/floor.db"
}

bench_shell_restore() {
	rm -rf "$S/shell2" "$S/shell2.db"
	mkdir "$S/shell2"
	timed_sh shell_restore 'export GNUPGHOME=$RESTORE_GPG
gpg --batch -q -d "$S/shell.tar.gz.gpg" 2>"$S/gpg.log" | tar xzf - -C "$S/shell2"
sqlite3 "$S/shell2.db" <"$R/import.sql"'
	n=$(for t in $TABLES; do
		sqlite3 "$S/shell2.db" "SELECT count(*) FROM \"$t\""
	done | awk '{ n += $1 } END { print n }')
	[ "$n" = "$DB_ROWS" ] ||
		die "the shell route restored $n rows; the database holds $DB_ROWS"
	rm -rf "$S/shell2" "$S/shell2.db"
}

bench_verify() {
	timed_gb gb-verify verify env GNUPGHOME="$RESTORE_GPG" "$BIN/gb-verify" \
	    --deep --signer "$SIGNER" "$S/spool/gym.tar.gz.gpg" >/dev/null
}

bench_shell_verify() {
	timed_sh shell_verify 'export GNUPGHOME=$RESTORE_GPG
gpg --batch -q -d "$S/shell.tar.gz.gpg" 2>"$S/gpg.log" | gzip -t'
	rm -f "$S/shell.tar.gz.gpg"
}

# label_tape IMG: a fresh tape image, labelled B1 in a fresh catalog.
label_tape() {
	rm -f "$1" "$S/catalog.db"
	GB_CATALOG=$S/catalog.db "$TIME" -f '%e %M' -o "$R/label.one" \
	    "$BIN/gb-write" -c "$R/write.conf" --label B1 --pool bench \
	    "tape:$1" >/dev/null 2>"$R/label.err" || {
		cat "$R/label.err" >&2
		die "gb-write --label failed"
	}
	rss_add gb-write "$R/label.one"
}

bench_despool() {
	label_tape "$S/tape.tap"
	timed_gb gb-write despool env GNUPGHOME="$BACKUP_GPG" \
	    GB_CATALOG="$S/catalog.db" "$BIN/gb-write" -c "$R/write.conf" --no-verify \
	    "tape:$S/tape.tap" "$S/spool/gym" >/dev/null
	label_tape "$S/tape.tap"
	timed_gb gb-write despool_verify env GNUPGHOME="$BACKUP_GPG" \
	    GB_CATALOG="$S/catalog.db" "$BIN/gb-write" -c "$R/write.conf" \
	    "tape:$S/tape.tap" "$S/spool/gym" >/dev/null
	rm -f "$S/tape.tap" "$S/catalog.db"
}

bench_dd() {
	rm -f "$S/dd.img"
	timed dd dd if="$S/spool/gym.tar.gz.gpg" of="$S/dd.img" bs=256k \
	    conv=fsync status=none
	rm -f "$S/dd.img"
}

# inc_change N: round N of changes to the copy $S/inc.db (bench_incremental).
inc_change() {
	sqlite3 "$S/inc.db" "
UPDATE members SET balance = balance + $1, note = 'round $1',
  updated_at = '2027-01-0$1 00:00:00' WHERE (id * 7 + $1) % 100 = 0;
DELETE FROM members WHERE (id * 13 + $1) % 1000 = 0;
INSERT INTO consumptions (member_id, store_id, item, quantity, amount,
  payment_method, operator, note, consumed_at)
  SELECT member_id, store_id, item, quantity, amount, payment_method,
  operator, note, '2027-01-0$1 12:00:00' FROM consumptions WHERE id % 1000 = $1;
INSERT INTO recharges (member_id, store_id, amount, bonus, method, operator,
  recharged_at) SELECT member_id, store_id, amount, bonus, method, operator,
  '2027-01-0$1 12:00:00' FROM recharges WHERE id % 1000 = $1;
INSERT INTO promotion_participations (promotion_id, member_id, store_id,
  joined_at, benefit_amount) SELECT promotion_id, member_id, store_id,
  '2027-01-0$1 12:00:00', benefit_amount FROM promotion_participations
  WHERE id % 1000 = $1;
INSERT INTO checkins (member_id, store_id, checked_in_at)
  SELECT member_id, store_id, '2027-01-0$1 12:00:00' FROM checkins
  WHERE id % 1000 = $1;" || die "cannot change $S/inc.db"
}

# inc_backup NAME [BASE]: a backup of $S/inc.db keeping its state,
# incremental on the MANIFEST BASE when given, timed as NAME, into
# $S/spool/NAME; its MANIFEST into $S/NAME.manifest.
inc_backup() {
	name=$1
	INC_NAME=$1 INC_BASE=${2-}
	export INC_NAME INC_BASE
	timed_sh "$name" 'export GNUPGHOME=$BACKUP_GPG
st gb-export "$BIN/gb-export" -c "$CONF" -s "sqlite:$S/inc.db" -j bench \
    -S "$S/state" ${INC_BASE:+-i "$INC_BASE"} |
st gb-pack "$BIN/gb-pack" |
st gb-seal "$BIN/gb-seal" -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o "$S/spool/$INC_NAME"'
	awk '{ print $2 }' "$S"/st.* >>"$R/$name.rss"
	GNUPGHOME=$RESTORE_GPG gpg --batch -q -d "$S/spool/$name.tar.gz.gpg" \
	    2>"$S/gpg.log" | tar xzf - -O MANIFEST >"$S/$name.manifest" ||
		die "cannot read the MANIFEST of $S/spool/$name.tar.gz.gpg"
}

# The full backup of a copy of the gym that keeps state, 7 rounds of
# changes each backed up incrementally, and the restore of the chain vs
# the full's alone; the restored chain must equal the changed copy.
bench_incremental() {
	rm -rf "$S/spool" "$S/state" "$S/inc.db" "$S"/inc*.manifest
	mkdir "$S/spool"
	cp "$DB" "$S/inc.db"
	inc_backup inc_full
	stat -c %s "$S/spool/inc_full.tar.gz.gpg" >"$R/inc_full.bytes"
	prev=inc_full chain=
	for n in 1 2 3 4 5 6 7; do
		inc_change "$n"
		inc_backup "inc$n" "$S/$prev.manifest"
		cat "$R/inc$n.runs" >>"$R/incr.runs"
		cat "$R/inc$n.rss" >>"$R/incr.rss"
		rm -f "$R/inc$n.runs" "$R/inc$n.rss"
		stat -c %s "$S/spool/inc$n.tar.gz.gpg" >>"$R/incr.bytes.all"
		chain="$chain $S/spool/inc$n.tar.gz.gpg"
		prev=inc$n
	done
	sort -n "$R/incr.bytes.all" | awk '{ v[NR] = $1 }
	    END { print v[int((NR + 1) / 2)] }' >"$R/incr.bytes"
	rm -f "$S/r.db"
	timed_gb gb-restore restore_full env GNUPGHOME="$RESTORE_GPG" \
	    "$BIN/gb-restore" --signer "$SIGNER" -d "sqlite:$S/r.db" \
	    "$S/spool/inc_full.tar.gz.gpg"
	rm -f "$S/r.db"
	# shellcheck disable=SC2086
	timed_gb gb-restore restore_chain env GNUPGHOME="$RESTORE_GPG" \
	    "$BIN/gb-restore" --signer "$SIGNER" -d "sqlite:$S/r.db" \
	    "$S/spool/inc_full.tar.gz.gpg" $chain
	for t in $TABLES; do
		q="SELECT count(*), total(rowid) FROM \"$t\""
		[ "$(sqlite3 "$S/r.db" "$q")" = "$(sqlite3 "$S/inc.db" "$q")" ] ||
			die "the restored chain's $t differs from the source's"
	done
	rm -rf "$S/r.db" "$S/inc.db" "$S/state" "$S/spool" "$S"/inc*.manifest
}

# bench_size ROWS WHY: $RUNS rounds on the gym of ROWS rows.
bench_size() {
	size_setup "$1"
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		i=$((i + 1))
		echo "bench: $1 rows$2, run $i of $RUNS"
		bench_round
	done
}

# One run of every stage, on $DB, results in $R.
bench_round() {
	bench_sqlite3
	bench_export_dir
	bench_export_stream
	bench_seal
	bench_threads
	bench_pack
	bench_backup
	bench_shell_backup
	bench_restic
	bench_restore
	bench_floor
	bench_shell_restore
	bench_verify
	bench_shell_verify
	bench_despool
	bench_dd
	rm -rf "$S/spool"
	bench_incremental
}

# rss_of ROWS TOOL: the tool's highest peak RSS (kB) at that size.
rss_of() {
	f=$WORK/r$1/rss.$2
	[ -f "$f" ] || { echo 0; return; }
	sort -n "$f" | tail -n 1
}

# row LABEL SECS CPU MB KB RATIO: one line of the timing table; CPU or
# KB "-" when not measured.
row() {
	awk -v l="$1" -v s="$2" -v c="$3" -v b="$4" -v kb="$5" -v r="$6" '
	BEGIN {
		printf "%-46s %8.2f %8s %8.1f %8.1f %8s %7s\n", l, s,
		    c == "-" ? c : sprintf("%.2f", c), b / 1e6,
		    (s > 0 ? b / 1e6 / s : 0),
		    kb == "-" ? kb : sprintf("%.1f", kb / 1024), r
	}'
}

# report NAME LABEL BYTESFILE [BASE]: NAME's line, with its time as a
# ratio to BASE's when given.
report() {
	set -- "$@" $(median "$1")
	[ $# -eq 7 ] || set -- "$1" "$2" "$3" "" "$4" "$5" "$6"
	# $5 seconds, $6 kb, $7 cpu
	ratio=-
	[ -z "$4" ] || ratio=$(ratio "$5" "$(secs "$4")")
	row "$2" "$5" "$7" "$(cat "$R/$3")" "$6" "$ratio"
}

print_times() {
	csv=csv.bytes
	echo
	echo "gymbackup bench: $DB_ROWS rows (seed $SEED), $(basename "$DB")," \
	    "$(($(wc -c <"$DB") / 1000000)) MB; median of $RUNS runs, warm cache," \
	    "$NPROC cores"
	echo "build: $BUILD; peak RSS also measured at $RSS_ROWS rows," \
	    "$RUNS run(s)"
	echo "export set: $(($(cat "$R/csv.bytes") / 1000000)) MB of CSV;" \
	    "sealed archive: gymbackup $(($(cat "$R/archive.bytes") / 1000000))" \
	    "MB, shell route $(($(cat "$R/shell_archive.bytes") / 1000000)) MB"
	echo "MB/s: MB of CSV moved per second, except despool and dd: MB of" \
	    "the sealed archive"
	echo "CPU s: user + system seconds (of a pipeline: all its stages but" \
	    "gpg-agent and the gpg gpgme runs)"
	echo "ratio: seconds / seconds of the line it is compared with (<1 is faster)"
	echo "load average: $LOAD_START at the start, $(cut -d' ' -f1-3 \
	    /proc/loadavg) at the end (other work on the machine skews times)"
	printf '%-46s %8s %8s %8s %8s %8s %7s\n' \
	    command seconds "CPU s" MB MB/s "RSS MiB" ratio
	echo "export"
	report sqlite3 "  sqlite3 -csv -header, per table" sqlite3.bytes
	report export_dir "  gb-export -o DIR (vs sqlite3)" $csv sqlite3
	report export_stream "  gb-export > /dev/null (vs sqlite3)" $csv sqlite3
	echo "full backup"
	report shell_backup "  sqlite3 -csv; tar | gzip -6 | gpg -e -s" $csv
	if [ -n "$HAVE_RESTIC" ]; then
		report restic "  restic backup of the CSV (repo v$(cat \
		    "$R/restic.version"))" $csv
		row "  sqlite3 -csv + restic backup" "$RESTIC_SECS" - \
		    "$(cat "$R/$csv")" - -
	else
		row "  sqlite3 -csv + restic (issue, fixed)" "$RESTIC_SECS" - \
		    525000000 - -
	fi
	report backup "  gb-export | gb-pack | gb-seal (vs shell)" $csv \
	    shell_backup
	echo "seal, the packed archive alone, to a file (MB/s of it)"
	report gpg_seal "  gpg -e -s" packed.bytes
	report seal "  gb-seal (vs gpg -e -s)" packed.bytes gpg_seal
	echo "pack, export directory to /dev/null"
	report pack_j1 "  gb-pack -j 1" $csv
	report pack_jn "  gb-pack -j $NPROC (vs -j 1)" $csv pack_j1
	echo "restore into SQLite"
	report shell_restore "  gpg -d | tar xzf; sqlite3 .import" $csv
	report floor "  sqlite3 INSERT INTO t SELECT * FROM other.t" $csv
	report restore "  gb-restore -d sqlite:NEW (vs shell)" $csv \
	    shell_restore
	row "  gb-restore -d sqlite:NEW (vs the floor)" "$(secs restore)" - \
	    "$(cat "$R/$csv")" - "$(ratio "$(secs restore)" "$(secs floor)")"
	echo "verify"
	report shell_verify "  gpg -d | gzip -t" $csv
	report verify "  gb-verify --deep (vs shell)" $csv shell_verify
	echo "despool to a tape image"
	report dd "  dd bs=256k conv=fsync" archive.bytes
	report despool "  gb-write --no-verify tape:IMG (vs dd)" \
	    archive.bytes dd
	report despool_verify "  gb-write tape:IMG, read back (vs dd)" \
	    archive.bytes dd
	print_incremental
}

# The lines of bench_incremental; an incremental's, the median of all.
print_incremental() {
	echo "incremental: 1 % of members changed, 0.1 % deleted, 0.1 % new" \
	    "transactions; MB: sealed archive"
	report inc_full "  full backup keeping state (-S)" inc_full.bytes
	report incr "  incremental backup, median of 7 (vs full)" \
	    incr.bytes inc_full
	report restore_full "  gb-restore -d sqlite:NEW, the full" \
	    inc_full.bytes
	report restore_chain "  gb-restore, full + 7 incrementals (vs full)" \
	    inc_full.bytes restore_full
}

print_rss() {
	echo
	echo "peak RSS per tool (MiB), highest of all its runs above; a" \
	    "pipeline stage counts alone"
	printf '%-12s %10s %10s %8s\n' tool "$RSS_ROWS" "$ROWS" growth
	for t in $GB_TOOLS; do
		awk -v t="$t" -v a="$(rss_of "$RSS_ROWS" "$t")" \
		    -v b="$(rss_of "$ROWS" "$t")" 'BEGIN {
			printf "%-12s %10.1f %10.1f %7.1f%%\n", t, a / 1024,
			    b / 1024, (a > 0 ? (b - a) * 100 / a : 0)
		}'
	done
}

# rss8_worst: "kB tool" of the highest peak RSS at 8 threads, both sizes.
rss8_worst() {
	for n in "$RSS_ROWS" "$ROWS"; do
		for f in "$WORK/r$n"/rss8.*; do
			[ -f "$f" ] && sort -n "$f" | tail -n 1 |
			    sed "s|\$| ${f##*/rss8.} at $n|"
		done
	done | sort -n | tail -n 1
}

print_targets() {
	backup=$(secs backup)
	rss_worst=0 rss_tool= growth_worst=-1000 growth_tool=
	for t in $GB_TOOLS; do
		for n in "$RSS_ROWS" "$ROWS"; do
			kb=$(rss_of "$n" "$t")
			[ "$kb" -le "$rss_worst" ] ||
				rss_worst=$kb rss_tool="$t at $n"
		done
		g=$(awk -v a="$(rss_of "$RSS_ROWS" "$t")" \
		    -v b="$(rss_of "$ROWS" "$t")" \
		    'BEGIN { printf "%.1f", (a > 0 ? (b - a) * 100 / a : 0) }')
		if awk -v g="$g" -v w="$growth_worst" 'BEGIN { exit !(g > w) }'
		then
			growth_worst=$g growth_tool=$t
		fi
	done
	echo
	echo "targets ($NPROC cores, ratios from this run)"
	printf '%-58s %9s %4s %-6s %s\n' target measured "" limit result
	target "full backup / shell pipeline, wall time" \
	    "$(ratio "$backup" "$(secs shell_backup)")" "<=" 0.25
	if [ -n "$HAVE_RESTIC" ]; then
		target "full backup / (sqlite3 -csv + restic backup)" \
		    "$(ratio "$backup" "$RESTIC_SECS")" "<=" 1.00
		target "full backup / issue's 11.5 s (sqlite3+restic, 525 MB)" \
		    "$(ratio "$backup" "$RESTIC_REF")" "<=" 1.00
	else
		target "full backup / issue's 11.5 s (sqlite3+restic, fixed)" \
		    "$(ratio "$backup" "$RESTIC_SECS")" "<=" 1.00
	fi
	# gb-seal hashes what goes in and out (SHA-256 twice) beside gpg's
	# work: 5 % for that, when a core is free for it
	target "gb-seal / gpg -e -s alone, same packed archive" \
	    "$(ratio "$(secs seal)" "$(secs gpg_seal)")" "<=" 1.05
	set -- $(rss8_worst)
	target "highest peak RSS at 8 threads, MiB (${2-?} at ${4-?})" \
	    "$(awk -v k="${1-0}" 'BEGIN { printf "%.1f", k / 1024 }')" "<=" 64
	target "gb-pack speed-up, -j $NPROC over -j 1" \
	    "$(ratio "$(secs pack_j1)" "$(secs pack_jn)")" ">=" 1.80
	target "restore into SQLite / shell route, wall time" \
	    "$(ratio "$(secs restore)" "$(secs shell_restore)")" "<=" 0.50
	target "restore into SQLite / INSERT...SELECT floor" \
	    "$(ratio "$(secs restore)" "$(secs floor)")" "<=" 2
	target "despool speed / dd speed (gb-write --no-verify)" \
	    "$(ratio "$(secs dd)" "$(secs despool)")" ">=" 0.90
	target "highest peak RSS, MiB ($rss_tool)" \
	    "$(awk -v k="$rss_worst" 'BEGIN { printf "%.1f", k / 1024 }')" \
	    "<=" 64
	target "peak RSS growth $RSS_ROWS -> $ROWS rows, % ($growth_tool)" \
	    "$growth_worst" "<=" "$RSS_GROWTH"
	target_incremental
}

# The issue's incremental targets: time vs the full's, and peak RSS.
target_incremental() {
	target "incremental backup / full backup keeping state, wall time" \
	    "$(ratio "$(secs incr)" "$(secs inc_full)")" "<=" 0.50
	target "incremental backup, highest peak RSS of a stage, MiB" \
	    "$(sort -n "$R/incr.rss" | tail -n 1 |
	    awk '{ printf "%.1f", $1 / 1024 }')" "<=" 64
}

# PostgreSQL: gb-export from a throwaway cluster holding the same gym vs
# psql's \copy of every table, the full backup vs pg_dump's
# (scripts/bench-pg.sh; skipped, saying so,
# without a PostgreSQL server).  Last, as it loads a cluster of its own.
bench_pg() {
	sh "$TOP/scripts/bench-pg.sh" "$DB" || die "the PostgreSQL bench failed"
}

# The catalog of a chain of gyms on PostgreSQL (scripts/bench-catalog.sh;
# skipped, saying so, without a PostgreSQL server).
bench_catalog() {
	sh "$TOP/scripts/bench-catalog.sh" || die "the catalog bench failed"
}

main() {
	check_tools
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/gb-bench.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT TERM HUP
	snapshot_bin
	ensure_keys
	LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
	if [ "$ROWS" != "$RSS_ROWS" ]; then
		bench_size "$RSS_ROWS" " (for peak RSS)"
	fi
	bench_size "$ROWS" ""
	rm -rf "$S"
	if [ -n "$HAVE_RESTIC" ]; then
		RESTIC_SECS=$(awk -v a="$(secs sqlite3)" -v b="$(secs restic)" \
		    'BEGIN { printf "%.2f", a + b }')
	else
		RESTIC_SECS=$RESTIC_REF
	fi
	print_times
	print_rss
	print_targets
	bench_pg
	bench_catalog
}

main "$@"
