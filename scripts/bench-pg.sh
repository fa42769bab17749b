#!/bin/sh
# bench-pg.sh - the PostgreSQL part of `make bench` (scripts/bench.sh runs
# it; alone: sh scripts/bench-pg.sh [GYM.db]).
#
# Starts a throwaway PostgreSQL cluster (initdb in a private directory
# under $TMPDIR, a Unix socket only, fsync off; as root the server runs as
# the user postgres), loads the reference gym into it (the schema of
# share/gym-schema.sql in PostgreSQL types, the rows of GYM.db, the
# SQLite gym bench.sh made, else one made here by gb-demodata, copied in
# with COPY), then times on a warm cluster:
#   gb-export -s postgresql:// -o DIR      the export set as a directory
#   gb-export -s postgresql:// > /dev/null the export stream
#   psql -c "\copy TABLE to stdout csv header" > TABLE.csv, every table:
#                                          the yardstick, PostgreSQL's own
#                                          CSV dump, no checks, no hashes
# and prints seconds (wall), processor seconds (of the command and of the
# server's backends it used), MB/s of CSV, peak RSS and the ratio to psql;
# then the full backup, in the same runs:
#   gb-export -s postgresql:// | gb-pack | gb-seal -o SPOOL/NAME
#   vs pg_dump -Fc -Z1 | gpg -e -s       (the keys of bench.sh's backup
#                                          line, no OpenPGP compression)
# and the restore into a new, empty database:
#   pg_restore -j2 -d NEWDB                of a pg_dump -Fd -j2 of the gym
#                                          (the dump made once, timed once)
#   gb-restore -d postgresql:///NEWDB2     of gb-export | gb-pack | gb-seal
#                                          of the gym (made once, as bench.sh
#                                          makes its archive, same keys)
# (the restore's ratio: to pg_restore -j2); each time the median of
# $BENCH_RUNS runs (default 3), each after a CHECKPOINT; once, REINDEX
# DATABASE of gb-restore's database, one index at a time: the index
# builds any restore of the gym does.  Then the targets, each PASS or
# MISS, and what the cores allow: the processor seconds of the command,
# of the rows out of the server (psql's) and of the indexes, spread
# evenly on every core.
# gb-export reads
# the reference config with table names made schema.table (money sums
# and watermarks included), as bench.sh does for SQLite.
#
# Environment: BENCH_ROWS (10000000), BENCH_SEED (1), BENCH_RUNS (3),
# GB_BENCH_DIR (bench/data; the keys are bench.sh's, in its keys/), TMPDIR.  Skipped, with a line saying so,
# when no PostgreSQL server is installed (Debian package postgresql).
set -eu

cd "$(dirname "$0")/.."
TOP=$(pwd)
. "$TOP/scripts/bench-lib.sh"
BIN=$TOP/bin
ROWS=${BENCH_ROWS:-10000000}
SEED=${BENCH_SEED:-1}
RUNS=${BENCH_RUNS:-3}
DIR=${GB_BENCH_DIR:-$TOP/bench/data}
TIME=/usr/bin/time
GYM=${1:-}
KEYS=
PGROOT=
PGBIN=
ASPG=

die() {
	echo "bench-pg: $*" >&2
	exit 1
}

# pg_load WORK: the gym's tables in PostgreSQL types, rows from GYM.
pg_load() {
	work=$1
	sed -e 's/ REFERENCES [a-z_]*([a-z_]*)//' -e 's/\bINTEGER\b/bigint/g' \
	    -e 's/\bREAL\b/double precision/g' -e 's/\bBLOB\b/bytea/g' \
	    "$TOP/share/gym-schema.sql" | psql -X -q -v ON_ERROR_STOP=1 >/dev/null
	"$BIN/gb-export" -s "sqlite:$GYM" -o "$work/load"
	for t in $(awk -F'\t' '$1 == "table" { print $2 }' "$work/load/MANIFEST"); do
		psql -X -q -v ON_ERROR_STOP=1 \
		    -c "\\copy $t FROM '$work/load/$t.csv' (FORMAT csv, HEADER)"
	done
	rm -rf "$work/load"
	# hint bits set and statistics made now, not during the first run
	psql -X -q -c "VACUUM (FREEZE, ANALYZE)"
	# the reference config, its tables named as PostgreSQL names them
	sed -e 's/^\[table \(.*\)\]/[table public.\1]/' \
	    -e 's|^uri = .*|uri = postgresql:///gym|' \
	    "$TOP/share/gymbackup.conf" >"$work/pg.conf"
}

# timed NAME CMD...: CMD under GNU time, "seconds kb cpu" added to
# NAME.runs.  cpu: processor seconds of CMD and of the server's backends
# (and their parallel workers) that ended meanwhile: the postmaster's
# children's times, which grow as it reaps them.  pg_dump and gb-export
# share out the work between client and server differently; their sum is
# what two cores have to do.
timed() {
	name=$1
	shift
	# each command starts on a clean cluster: not writing out the one
	# before's pages at a checkpoint that falls in its time
	psql -X -q -d postgres -c CHECKPOINT
	sync
	s0=$(server_cpu)
	"$TIME" -f '%e %M %U %S' -o "$WORK/$name.one" "$@" || die "$name failed: $*"
	# a backend is reaped just after its client has gone
	sleep 0.2
	awk -v s0="$s0" -v s1="$(server_cpu)" -v hz="$(getconf CLK_TCK)" \
	    '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 + (s1 - s0) / hz }' \
	    "$WORK/$name.one" >>"$WORK/$name.runs"
}

# server_cpu: clock ticks of the postmaster's reaped children (cutime +
# cstime, fields 16 and 17 of /proc/PID/stat).
server_cpu() {
	awk '{ print $16 + $17 }' "/proc/$(head -n 1 "$PGROOT/data/postmaster.pid")/stat"
}

# median NAME: "seconds kb cpu": the median run's seconds and processor
# seconds, the highest peak RSS of all runs.
median() {
	sort -n "$WORK/$1.runs" | awk '
		{ s[NR] = $1; c[NR] = $3; if ($2 > kb) kb = $2 }
		END { m = int((NR + 1) / 2); printf "%s %d %s\n", s[m], kb, c[m] }'
}

csv_bytes() {
	stat -c %s "$1"/*.csv | awk '{ n += $1 } END { print n }'
}

bench_psql() {
	rm -rf "$WORK/psql"
	mkdir "$WORK/psql"
	timed psql sh -c 'for t in $TABLES; do
		psql -X -q -c "\\copy public.$t to stdout csv header" >"$1/$t.csv" ||
		    exit 1
	done' sh "$WORK/psql"
	csv_bytes "$WORK/psql" >"$WORK/psql.bytes"
	rm -rf "$WORK/psql"
}

bench_export_dir() {
	rm -rf "$WORK/export"
	timed pg_export_dir "$BIN/gb-export" -c "$WORK/pg.conf" -j bench \
	    -o "$WORK/export"
	csv_bytes "$WORK/export" >"$WORK/pg_export_dir.bytes"
	cp "$WORK/pg_export_dir.bytes" "$WORK/pg_export_stream.bytes"
	rows=$(awk -F'\t' '$1 == "rows" { n += $3 } END { print n }' \
	    "$WORK/export/MANIFEST")
	[ "$rows" = "$DB_ROWS" ] ||
		die "gb-export wrote $rows rows; the database holds $DB_ROWS"
	rm -rf "$WORK/export"
}

bench_export_stream() {
	timed pg_export_stream sh -c '"$1" -c "$2" -j bench >/dev/null' sh \
	    "$BIN/gb-export" "$WORK/pg.conf"
}

# The full backup from PostgreSQL: gymbackup's pipeline and pg_dump's.
# Peak RSS: of the pipeline's biggest process (gpg that gpgme starts is
# not counted).
bench_backup() {
	rm -rf "$WORK/spool"
	mkdir "$WORK/spool"
	timed pg_backup bash -c 'set -o pipefail
export GNUPGHOME=$BACKUP_GPG
"$BIN/gb-export" -c "$1/pg.conf" -j bench | "$BIN/gb-pack" |
"$BIN/gb-seal" -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o "$1/spool/gym"' \
	    sh "$WORK"
	cp "$WORK/pg_export_dir.bytes" "$WORK/pg_backup.bytes"
	rm -rf "$WORK/spool"
}

bench_pg_dump() {
	timed pg_dump bash -c 'set -o pipefail
export GNUPGHOME=$BACKUP_GPG
"$PGBIN/pg_dump" -Fc -Z1 gym |
gpg --batch -q --trust-model always -e -s -r "$RCPT1" -r "$RCPT2" \
    -u "$SIGNER" --compress-algo none >"$1/pg_dump.gpg"' sh "$WORK"
	cp "$WORK/pg_export_dir.bytes" "$WORK/pg_dump.bytes"
	rm -f "$WORK/pg_dump.gpg"
}

# report NAME LABEL [BASE]: NAME's line, its ratio to BASE's median
# seconds (default psql's).
report() {
	med=$(median "$1")
	base=$BASE
	[ $# -lt 3 ] || { base=$(median "$3"); base=${base%% *}; }
	echo "$med" | awk -v label="$2" -v b="$(cat "$WORK/$1.bytes")" \
	    -v base="$base" '{
		s = $1; kb = $2; cpu = $3
		rate = s > 0 ? b / 1e6 / s : 0
		ratio = base > 0 ? sprintf("%.2f", s / base) : "-"
		printf "%-42s %8.2f %8.2f %8.1f %8.1f %12.1f %8s\n", label, s,
		    cpu, b / 1e6, rate, kb / 1024, ratio
	}'
}

# The restore into PostgreSQL: the dump and the sealed archive it reads.

# restore_setup: pg_dump -Fd -j2 of the gym (timed, once) and the sealed
# archive of the same rows (gb-export | gb-pack | gb-seal, as bench.sh).
restore_setup() {
	timed pg_dump_fd "$PGBIN/pg_dump" -Fd -j2 -f "$WORK/dump" gym
	mkdir "$WORK/rspool"
	GNUPGHOME=$BACKUP_GPG sh -c 'set -e
"$1/gb-export" -c "$2/pg.conf" -j bench | "$1/gb-pack" |
    "$1/gb-seal" -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o "$2/rspool/gym"' \
	    sh "$BIN" "$WORK" || die "the archive of the gym could not be made"
	for n in pg_dump_fd pg_restore gb_restore_pg; do
		cp "$WORK/pg_export_dir.bytes" "$WORK/$n.bytes"
	done
}

# newdb NAME: an empty database NAME, made anew.
newdb() {
	psql -X -q -d postgres -c "SET client_min_messages = warning" \
	    -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
}

# rows_in DB: the rows of every table of the gym in DB.
rows_in() {
	for t in $TABLES; do
		psql -X -At -d "$1" -c "SELECT count(*) FROM public.$t"
	done | awk '{ n += $1 } END { print n }'
}

bench_pg_restore() {
	newdb restore_pg
	timed pg_restore "$PGBIN/pg_restore" -j2 -d restore_pg "$WORK/dump"
	[ "$(rows_in restore_pg)" = "$DB_ROWS" ] ||
		die "pg_restore did not restore the $DB_ROWS rows"
	psql -X -q -d postgres -c "DROP DATABASE restore_pg"
}

bench_gb_restore_pg() {
	newdb restore_gb
	timed gb_restore_pg env GNUPGHOME="$RESTORE_GPG" "$BIN/gb-restore" \
	    --signer "$SIGNER" -d postgresql:///restore_gb \
	    "$WORK/rspool/gym.tar.gz.gpg"
	[ "$(rows_in restore_gb)" = "$DB_ROWS" ] ||
		die "gb-restore did not restore the $DB_ROWS rows"
}

# The floor of any restore of the gym (once): its indexes, built again
# one at a time in one backend (REINDEX), which any tool that restores
# the same database builds; and its rows in the cheapest way in, COPY
# FROM files in the binary format, frozen, into tables without indexes.
bench_floor() {
	timed reindex psql -X -q -d restore_gb \
	    -c "SET max_parallel_maintenance_workers = 0" \
	    -c "REINDEX DATABASE restore_gb"
	newdb rows_in
	"$PGBIN/pg_dump" -s --section=pre-data gym |
	    psql -X -q -d rows_in >/dev/null
	mkdir "$WORK/bin"
	for t in $TABLES; do
		psql -X -q -c "\\copy public.$t to '$WORK/bin/$t' (FORMAT binary)"
	done
	timed rows_in sh -c 'for t in $TABLES; do
		psql -X -q -d rows_in -c BEGIN -c "TRUNCATE public.$t" \
		    -c "\\copy public.$t from '"'"'$1/$t'"'"' (FORMAT binary, FREEZE)" \
		    -c COMMIT || exit 1
	done' sh "$WORK/bin"
	[ "$(rows_in rows_in)" = "$DB_ROWS" ] || die "COPY did not load the rows"
	psql -X -q -d postgres -c "DROP DATABASE rows_in"
	rm -rf "$WORK/bin"
	cp "$WORK/pg_export_dir.bytes" "$WORK/reindex.bytes"
	cp "$WORK/pg_export_dir.bytes" "$WORK/rows_in.bytes"
}

report_restore() {
	echo "restore into a new database"
	report pg_dump_fd "pg_dump -Fd -j2 (once, makes the dump)"
	report pg_restore "pg_restore -j2 -d NEWDB (vs pg_restore)" pg_restore
	report gb_restore_pg "gb-restore -d postgresql:// (vs pg_restore)" \
	    pg_restore
	report reindex "REINDEX DATABASE (once, vs pg_restore)" pg_restore
	report rows_in "COPY binary in (once, vs pg_restore)" \
	    pg_restore
}

target_restore() {
	target "restore into PostgreSQL / pg_restore -j2" \
	    "$(ratio "$(median gb_restore_pg | cut -d' ' -f1)" \
	    "$(median pg_restore | cut -d' ' -f1)")" "<=" 0.80
	# What the cores allow: the index builds and the rows' COPY into the
	# server, spread evenly on all cores.
	awk -v n="$(nproc)" -v d="$(median pg_restore | cut -d' ' -f1)" \
	    -v ix="$(median reindex | cut -d' ' -f3)" \
	    -v rows="$(median rows_in | cut -d' ' -f3)" -v me="$(median \
	    gb_restore_pg | cut -d' ' -f3)" 'BEGIN {
		f = "  (its %.2f processor seconds, client and server, on %d "
		f = f "cores: at best %.2f s, %.2f of pg_restore;\n   the "
		f = f "indexes alone, %.2f, and the rows in, %.2f: at best "
		f = f "%.2f s, %.2f of pg_restore)\n"
		printf f, me, n, me / n, (d > 0 ? me / n / d : 0), ix, rows,
		    (ix + rows) / n, (d > 0 ? (ix + rows) / n / d : 0)
	}'
}

main() {
	if ! pg_find; then
		echo "bench-pg: no PostgreSQL server installed (package postgresql): skipped"
		return 0
	fi
	[ -x "$BIN/gb-export" ] || die "$BIN/gb-export is missing; run make all first"
	"$TIME" -f %M -o /dev/null true 2>/dev/null ||
		die "GNU time ($TIME) is missing; run make deps (package time)"
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/gb-bench-pg-work.XXXXXX")
	trap 'pg_cleanup; keys_cleanup; rm -rf "$WORK"' EXIT
	trap 'exit 130' INT TERM HUP
	if [ -z "$GYM" ]; then
		mkdir -p "$DIR"
		GYM=$DIR/gym-pg-s$SEED-n$ROWS.db
		[ -f "$GYM" ] || "$BIN/gb-demodata" -s "$SEED" -n "$ROWS" -o "$GYM"
	fi
	ensure_keys
	export BIN PGBIN TIME
	echo "bench-pg: loading $(basename "$GYM") into a throwaway PostgreSQL cluster"
	pg_up gym
	start=$(date +%s)
	pg_load "$WORK"
	echo "bench-pg: loaded in $(($(date +%s) - start)) s"
	TABLES=$(psql -X -At -c "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
	export TABLES
	DB_ROWS=$(rows_in gym)
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		i=$((i + 1))
		echo "bench-pg: run $i of $RUNS"
		bench_psql
		bench_export_dir
		bench_export_stream
		bench_pg_dump
		bench_backup
		[ "$i" -gt 1 ] || restore_setup
		bench_pg_restore
		bench_gb_restore_pg
		[ "$i" -lt "$RUNS" ] || bench_floor
		psql -X -q -d postgres -c "DROP DATABASE restore_gb"
	done
	BASE=$(median psql)
	BASE=${BASE%% *}
	echo
	echo "PostgreSQL $(psql -X -At -c 'SHOW server_version'): $DB_ROWS rows," \
	    "$(psql -X -At -c "SELECT pg_database_size('gym') / 1000000") MB;" \
	    "median of $RUNS runs, warm cluster, on this machine's socket"
	printf '%-42s %8s %8s %8s %8s %12s %8s\n' command seconds "CPU s" \
	    "CSV MB" MB/s "peak RSS MB" "vs psql"
	report psql 'psql -c "\copy TABLE to stdout csv", each'
	report pg_export_dir "gb-export -s postgresql:// -o DIR"
	report pg_export_stream "gb-export -s postgresql:// > /dev/null"
	echo "full backup (MB: of CSV; vs psql as above)"
	report pg_dump "pg_dump -Fc -Z1 | gpg -e -s"
	report pg_backup "gb-export | gb-pack | gb-seal -o SPOOL/NAME"
	report_restore
	echo
	echo "targets (ratios from this run; load average $(cut -d' ' -f1-3 \
	    /proc/loadavg) at the end)"
	printf '%-58s %9s %4s %-6s %s\n' target measured "" limit result
	target "full backup from PostgreSQL / pg_dump -Fc -Z1 | gpg -e -s" \
	    "$(ratio "$(median pg_backup | cut -d' ' -f1)" \
	    "$(median pg_dump | cut -d' ' -f1)")" "<=" 0.60
	# What the cores allow: the backup's processor seconds, client and
	# server, cannot take less wall time than spread evenly on all cores.
	# And what the rows out of the server alone (psql's line) allow.
	median pg_backup | awk -v n="$(nproc)" -v d="$(median pg_dump |
	    cut -d' ' -f1)" -v rows="$(median psql | cut -d' ' -f3)" '{
		f = "  (its %.2f processor seconds, client and server, on %d "
		f = f "cores: at best %.2f s, %.2f of pg_dump | gpg;\n   the "
		f = f "rows out alone, %.2f: at best %.2f s, %.2f of pg_dump | "
		f = f "gpg)\n"
		printf f, $3, n, $3 / n, (d > 0 ? $3 / n / d : 0), rows,
		    rows / n, (d > 0 ? rows / n / d : 0)
	}'
	target_restore
}

main "$@"
