#!/bin/sh
# bench.sh - `make bench`: how fast gymbackup moves a gym's data.
#
# Makes the reference gym with bin/gb-demodata (or reuses it: cached in
# $GB_BENCH_DIR, default bench/data/, keyed by seed, size and a hash of
# the generator and the schema), then times, in the same run and on the
# same warm page cache:
#   gb-export -o DIR          the export set as a directory
#   gb-export > /dev/null     the export stream (pax tar on stdout)
#   sqlite3 -csv -header      SELECT * FROM every table into files: the
#                             yardstick, the least any CSV dump can cost
# and prints seconds (wall), MB/s of CSV written, peak RSS, and the ratio
# to sqlite3.  Each figure is the median of $BENCH_RUNS runs (default 3).
#
# Environment: BENCH_ROWS (default 10000000), BENCH_SEED (1), BENCH_RUNS
# (3), GB_BENCH_DIR (bench/data).  Needs GNU time (/usr/bin/time, Debian
# package "time"; make deps installs it).
#
# Later stages (gb-pack, gb-seal, gb-restore) are one bench_* function and
# one report line each: see main at the bottom.
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
WORK=
DB=
SQLITE_SECS=

die() {
	echo "bench: $*" >&2
	exit 1
}

cleanup() {
	[ -z "$WORK" ] || rm -rf "$WORK"
}

check_tools() {
	for t in gb-demodata gb-export; do
		[ -x "$BIN/$t" ] || die "$BIN/$t is missing; run make all first"
	done
	command -v sqlite3 >/dev/null || die "sqlite3 is missing; run make deps"
	"$TIME" -f %M -o /dev/null true 2>/dev/null ||
		die "GNU time ($TIME) is missing; run make deps (package time)"
	case $ROWS$SEED$RUNS in
	*[!0-9]*) die "BENCH_ROWS, BENCH_SEED and BENCH_RUNS must be numbers" ;;
	esac
	[ "$RUNS" -ge 1 ] || die "BENCH_RUNS must be 1 or more"
}

# The generator's identity: a new gb-demodata or schema makes a new gym.
gen_key() {
	cat "$TOP/src/gb-demodata.c" "$TOP/share/gym-schema.sql" |
	    sha256sum | cut -c1-8
}

# ensure_db: sets DB to the cached gym, making it (and dropping stale
# ones of the same seed and size) when needed.
ensure_db() {
	mkdir -p "$DIR"
	DB=$DIR/gym-s$SEED-n$ROWS-$(gen_key).db
	if [ -f "$DB" ]; then
		echo "bench: reusing $DB"
		return
	fi
	for old in "$DIR/gym-s$SEED-n$ROWS-"*.db; do
		[ -f "$old" ] && rm -f "$old" "$old-wal" "$old-shm"
	done
	rm -f "$DB.tmp" "$DB.tmp2"	# left by an interrupted make bench
	echo "bench: making $DB ($ROWS rows, seed $SEED)"
	"$TIME" -f '%e %M' -o "$WORK/gen.time" \
	    "$BIN/gb-demodata" -s "$SEED" -n "$ROWS" -o "$DB"
	read -r secs kb <"$WORK/gen.time"
	echo "bench: gb-demodata took $secs s, peak RSS $((kb / 1024)) MB"
}

tables() {
	sqlite3 "$DB" "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
}

# warm: read the database once so every contender finds it in the cache.
warm() {
	cat "$DB" >/dev/null
}

# timed NAME CMD...: runs CMD once under GNU time (stdout as given by the
# caller), appends "seconds kb" to $WORK/NAME.runs.
timed() {
	name=$1
	shift
	"$TIME" -f '%e %M' -o "$WORK/$name.one" "$@" ||
		die "$name failed: $*"
	cat "$WORK/$name.one" >>"$WORK/$name.runs"
}

# median NAME: "seconds kb", the median seconds and the highest peak RSS.
median() {
	sort -n "$WORK/$1.runs" | awk '
		{ s[NR] = $1; if ($2 > kb) kb = $2 }
		END { printf "%s %d\n", s[int((NR + 1) / 2)], kb }'
}

# csv_bytes DIR: total size of the CSV files in DIR.
csv_bytes() {
	stat -c %s "$1"/*.csv | awk '{ n += $1 } END { print n }'
}

bench_export_dir() {
	rm -rf "$WORK/export"
	timed export_dir "$BIN/gb-export" -c "$CONF" -s "sqlite:$DB" \
	    -j bench -o "$WORK/export"
	csv_bytes "$WORK/export" >"$WORK/export_dir.bytes"
	rows=$(awk -F'\t' '$1 == "rows" { n += $3 } END { print n }' \
	    "$WORK/export/MANIFEST")
	[ "$rows" = "$DB_ROWS" ] ||
		die "gb-export -o wrote $rows rows; the database holds $DB_ROWS"
	rm -rf "$WORK/export"
}

bench_export_stream() {
	timed export_stream "$BIN/gb-export" -c "$CONF" -s "sqlite:$DB" \
	    -j bench >/dev/null
	# The stream carries the same CSV bytes as the directory.
	cp "$WORK/export_dir.bytes" "$WORK/export_stream.bytes"
}

bench_sqlite3() {
	rm -rf "$WORK/sqlite3"
	mkdir "$WORK/sqlite3"
	: >"$WORK/sqlite3.sql"
	for t in $(tables); do
		printf '.once %s/%s.csv\nSELECT * FROM "%s";\n' \
		    "$WORK/sqlite3" "$t" "$t" >>"$WORK/sqlite3.sql"
	done
	timed sqlite3 sqlite3 -csv -header "$DB" <"$WORK/sqlite3.sql"
	csv_bytes "$WORK/sqlite3" >"$WORK/sqlite3.bytes"
	rm -rf "$WORK/sqlite3"
}

header() {
	echo
	echo "gymbackup bench: $DB_ROWS rows (seed $SEED), $(basename "$DB")," \
	    "$(($(wc -c <"$DB") / 1000000)) MB; median of $RUNS runs, warm cache"
	echo "gb-export reads the reference config (share/gymbackup.conf): money sums and watermarks included"
	printf '%-34s %9s %9s %8s %13s %11s\n' \
	    "command" "seconds" "CSV MB" "MB/s" "peak RSS MB" "vs sqlite3"
}

# report NAME LABEL: one line of the table.
report() {
	med=$(median "$1")
	secs=${med% *}
	[ "$1" = sqlite3 ] && SQLITE_SECS=$secs
	awk -v label="$2" -v s="$secs" -v kb="${med#* }" \
	    -v b="$(cat "$WORK/$1.bytes")" -v base="$SQLITE_SECS" 'BEGIN {
		rate = s > 0 ? b / 1e6 / s : 0
		ratio = base > 0 ? sprintf("%.2f", s / base) : "-"
		printf "%-34s %9.2f %9.1f %8.1f %13.1f %11s\n", label, s,
		    b / 1e6, rate, kb / 1024, ratio
	}'
}

main() {
	check_tools
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/gb-bench.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT TERM HUP
	ensure_db
	DB_ROWS=$(for t in $(tables); do
		sqlite3 "$DB" "SELECT count(*) FROM \"$t\""
	done | awk '{ n += $1 } END { print n }')
	warm
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		i=$((i + 1))
		echo "bench: run $i of $RUNS"
		bench_sqlite3
		bench_export_dir
		bench_export_stream
	done
	header
	report sqlite3 "sqlite3 -csv -header, per table"
	report export_dir "gb-export -o DIR"
	report export_stream "gb-export > /dev/null (stream)"
}

main "$@"
