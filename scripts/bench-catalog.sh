#!/bin/sh
# bench-catalog.sh - the catalog of a chain of gyms on PostgreSQL, part of
# `make bench` (scripts/bench.sh runs it last; alone:
# sh scripts/bench-catalog.sh).
#
# Starts a throwaway PostgreSQL cluster (as bench-pg.sh does) with one
# catalog, then:
#   nightly runs  $BENCH_SITES sites (20) x $BENCH_NIGHTS runs (30): each
#                 site its own config, catalog role, spool and directory
#                 medium, its runs one after another, all sites at once.
#                 A run is the catalog's part of a gb-backup run: gb-catalog
#                 log start, archives --job (the name is free), gb-write of
#                 a sealed archive made beforehand (records the archive and
#                 its copy, writing then good), gb-catalog verified (the
#                 check gb-verify --media records), copies, manifest, log
#                 end.  The export, pack and seal of the archives (tiny
#                 ones, one table of a few rows) are made before and not
#                 timed; gb-write's own seal check and read-back are in the
#                 time.  Printed: the runs per second the catalog took
#                 (runs / wall time of the whole) and the median and p99 of
#                 one run's time.
#   a year        $BENCH_DAYS days (365) x the sites x 4 jobs of history,
#                 one run each a night (archive, its table, a good and
#                 verified copy, the verification, a weekly restore test,
#                 three audit entries of the site's chain per run), loaded
#                 in bulk by one SQL script (generate_series; each site's
#                 hash chain computed by PL/pgSQL with sha256(), the formula
#                 of lib/catalog.c), then proved whole by gb-catalog audit
#                 --verify (not timed); timed: gb-catalog check --all-sites
#                 as head office runs it each morning.
# Then the targets, each PASS or MISS.
#
# Environment: BENCH_SITES (20), BENCH_NIGHTS (30), BENCH_DAYS (365),
# GB_BENCH_DIR (bench/data; the keys are bench.sh's, in its keys/), TMPDIR.
# Skipped, with a line saying so, when no PostgreSQL server is installed.
set -eu

cd "$(dirname "$0")/.."
TOP=$(pwd)
. "$TOP/scripts/bench-lib.sh"
BIN=$TOP/bin
NSITES=${BENCH_SITES:-20}
NIGHTS=${BENCH_NIGHTS:-30}
DAYS=${BENCH_DAYS:-365}
DIR=${GB_BENCH_DIR:-$TOP/bench/data}
KEYS=
PGROOT=
PGBIN=
ASPG=

die() {
	echo "bench-catalog: $*" >&2
	exit 1
}

now_ms() {
	date +%s%3N
}

# site_conf SITE: $WORK/SITE/gb.conf, its tiny gym, spool and medium D1.
site_conf() {
	d=$WORK/$1
	mkdir -p "$d/spool" "$d/usb"
	sqlite3 "$d/gym.db" "CREATE TABLE checkins (id INTEGER PRIMARY KEY,
	    at TEXT NOT NULL); INSERT INTO checkins(at) VALUES ('2026-01-01'),
	    ('2026-01-02'), ('2026-01-03');"
	cat >"$d/gb.conf" <<EOF
[site]
name = $1

[source]
uri = sqlite:$d/gym.db

[table checkins]
key = id
class = transaction

[keys]
signer = $SIGNER
recipients = $RCPT1, $RCPT2

[catalog]
uri = postgresql:///catalog?user=$(role_of "$1")

[spool]
dir = $d/spool

[pool nightly]
kind = dir
retention_days = 400

[job nightly]
schedule = 0 2 * * *
level = full
pool = nightly
media = $d/usb
EOF
}

# role_of SITE: the login role of SITE's host.
role_of() {
	echo "host_$1" | tr -c 'a-z0-9_\n' _
}

# site_setup SITE: its role, its config, its medium labelled, and NIGHTS
# sealed archives in its spool (named NAME-N: the order of its runs).
site_setup() {
	site_conf "$1"
	d=$WORK/$1
	"$BIN/gb-write" -c "$d/gb.conf" --label D1 --pool nightly "$d/usb" \
	    >/dev/null || die "$1: cannot label its medium"
	n=0
	while [ "$n" -lt "$NIGHTS" ]; do
		n=$((n + 1))
		sh -c 'set -e
"$1/gb-export" -c "$2/gb.conf" -j nightly -S "$2/state" | "$1/gb-pack" |
    "$1/gb-seal" -c "$2/gb.conf" -o "$2/spool/$3"' sh "$BIN" "$d" \
		    "$1-nightly-$n" || die "$1: cannot seal archive $n"
	done
}

# site_runs SITE: its NIGHTS runs, one after another; each run's
# milliseconds a line of $WORK/SITE/ms.
site_runs() {
	d=$WORK/$1
	c="$BIN/gb-catalog -c $d/gb.conf"
	n=0
	while [ "$n" -lt "$NIGHTS" ]; do
		n=$((n + 1))
		name=$1-nightly-$n
		t0=$(now_ms)
		id=$($c log start nightly --pid $$) &&
		    $c archives --job nightly >/dev/null &&
		    "$BIN/gb-write" -c "$d/gb.conf" --pool nightly --tsv "$d/usb" \
		    "$d/spool/$name" >/dev/null &&
		    $c verified "$name.tar.gz.gpg" ok --medium D1 \
		    --detail "read back" &&
		    $c copies "$name.tar.gz.gpg" >/dev/null &&
		    rows=$($c manifest "$name.tar.gz.gpg" |
		    awk -F'\t' '$1 == "rows" { n += $3 } END { print n + 0 }') &&
		    $c log end "$id" ok --archive "$name.tar.gz.gpg" --rows "$rows" \
		    --bytes "$(stat -c %s "$d/spool/$name.tar.gz.gpg")" ||
		    { echo "run $n failed" >>"$d/errors"; continue; }
		echo $(($(now_ms) - t0)) >>"$d/ms"
	done
}

sites() {
	i=0
	while [ "$i" -lt "$NSITES" ]; do
		i=$((i + 1))
		printf 'site%02d\n' "$i"
	done
}

# history_sql: the year of history as SQL for psql -v sites=N -v days=N:
# the rows real runs leave, made by generate_series, then the audit
# entries of each site's chain, hashed one after another as
# gb_catalog_audit does (SHA-256 over LEN:TEXT of prev, seq, at, actor,
# action, object and detail; the first prev "0").
history_sql() {
	cat <<'EOF'
SET client_min_messages = warning;
CREATE TEMP TABLE r AS
SELECT s.site, j.job, 'D' || (d.day % 8 + 1) AS medium, d.day,
    to_char(t.at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS started,
    to_char(t.at + interval '5 minutes', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS ended,
    s.site || '-' || j.job || '-' || to_char(t.at, 'YYYYMMDD"T"HH24MISS"Z"')
    || '.tar.gz.gpg' AS name
FROM (SELECT 'site' || lpad(i::text, 2, '0') AS site
      FROM generate_series(1, :sites) i) s,
    (VALUES ('transactions-daily', 2), ('members-daily', 1),
      ('checkins-daily', 3), ('promotions-daily', 4)) j(job, h),
    generate_series(1, :days) d(day),
    LATERAL (SELECT date_trunc('second', now() AT TIME ZONE 'UTC')
      - make_interval(days => :days - d.day, hours => 5 - j.h) AS at) t;
INSERT INTO media(site, id, kind, pool, capacity, state, location, labelled_at,
    last_written, bytes_used, next_file)
SELECT s.site, 'D' || k, 'dir', 'daily', NULL, 'usable', 'onsite',
    (SELECT min(started) FROM r), (SELECT max(started) FROM r),
    (SELECT count(*) FROM r WHERE r.site = s.site) * 100000 / 8, 1
FROM (SELECT DISTINCT site FROM r) s, generate_series(1, 8) k;
INSERT INTO archives(name, job, level, export_id, base_id, chain, site, source,
    snapshot, size, sha256, packed_size, packed_sha256, rows, seal, recorded_at)
SELECT name, job, 'full', md5(name), NULL, md5(name), site, 'sqlite:/srv/gym.db',
    started, 100000, encode(sha256(convert_to(name, 'UTF8')), 'hex'), 99000,
    md5(name) || md5(name), 1000, 'bench: history loaded in bulk', ended
FROM r;
INSERT INTO archive_tables(site, archive, tbl, rows, bytes, sha256, money)
SELECT site, name, 'checkins', 1000, 120000, md5(name) || md5(name), NULL FROM r;
INSERT INTO copies(site, archive, medium, position, status, started_at,
    written_at, verified_at)
SELECT site, name, medium, name, 'good', started, ended, ended FROM r;
INSERT INTO runs(site, job, started, ended, status, archive, rows, bytes, host)
SELECT site, job, started, ended, 'ok', name, 1000, 100000, 'host-' || site
FROM r;
INSERT INTO checks(site, kind, archive, medium, at, ok, detail, manual)
SELECT site, 'verify', name, medium, ended, 1, 'bench', 0 FROM r
UNION ALL
SELECT site, 'restore-test', name, NULL, ended, 1, 'bench', 0 FROM r
WHERE job = 'transactions-daily' AND day % 7 = 0;
-- the trail: label of each medium, then per run its archive, its copy
-- and its verification, in time order
CREATE TEMP TABLE e AS
SELECT site, (SELECT min(started) FROM r) AS at, 0 AS ord, 'label' AS action,
    id AS object, 'dir medium in pool daily' AS detail
FROM media
UNION ALL
SELECT site, started, 1, 'archive', name, 'job ' || job || ', full' FROM r
UNION ALL
SELECT site, ended, 2, 'write', medium, 'copy of ' || name || ' good' FROM r
UNION ALL
SELECT site, ended, 3, 'verify', name, 'ok on ' || medium FROM r;
CREATE INDEX ON e (site, at, ord, object);
DO $$
DECLARE
	x record;
	prev text;
	cur text := '';
	n bigint;
	h text;
BEGIN
	FOR x IN SELECT * FROM e ORDER BY site, at, ord, object LOOP
		IF x.site <> cur THEN
			cur := x.site;
			prev := '0';
			n := 0;
		END IF;
		n := n + 1;
		h := encode(sha256(convert_to(
		    octet_length(prev) || ':' || prev ||
		    octet_length(n::text) || ':' || n ||
		    octet_length(x.at) || ':' || x.at ||
		    octet_length('bench') || ':' || 'bench' ||
		    octet_length(x.action) || ':' || x.action ||
		    octet_length(x.object) || ':' || x.object ||
		    octet_length(x.detail) || ':' || x.detail, 'UTF8')), 'hex');
		INSERT INTO audit(site, seq, at, actor, action, object, detail, prev,
		    hash) VALUES (x.site, n, x.at, 'bench', x.action, x.object,
		    x.detail, prev, h);
		prev := h;
	END LOOP;
END
$$;
EOF
}

bench_nightly() {
	# the sites made two at a time: gpg seals their archives
	set -- $(sites)
	while [ $# -gt 0 ]; do
		(site_setup "$1" && : >"$WORK/$1/ready") &
		[ $# -lt 2 ] || { (site_setup "$2" && : >"$WORK/$2/ready") & shift; }
		shift
		wait
	done
	for s in $(sites); do
		[ -f "$WORK/$s/ready" ] || die "$s could not be set up"
	done
	start=$(now_ms)
	for s in $(sites); do
		site_runs "$s" &
	done
	wait
	NIGHT_MS=$(($(now_ms) - start))
	for s in $(sites); do
		[ ! -s "$WORK/$s/errors" ] || die "$s: $(cat "$WORK/$s/errors")"
		"$BIN/gb-catalog" -c "$WORK/$s/gb.conf" audit --verify >/dev/null ||
			die "$s: the audit trail does not verify after the runs"
	done
	got=$(psql -X -At -d catalog -c "SELECT count(*) FROM runs WHERE
	    status = 'ok' AND job = 'nightly'")
	[ "$got" = $((NSITES * NIGHTS)) ] ||
		die "$got runs logged ok, not $((NSITES * NIGHTS))"
	cat "$WORK"/site*/ms | sort -n >"$WORK/ms"
}

# The year of history, in a catalog of its own (history).
bench_year() {
	psql -X -q -d postgres -c "CREATE DATABASE history" >/dev/null
	cat >"$WORK/head.conf" <<EOF
[site]
name = head-office

[catalog]
uri = postgresql:///history

[job transactions-daily]
schedule = 0 2 * * *
level = full
pool = daily
media = /nonexistent

[job members-daily]
schedule = 30 1 * * *
level = full
pool = daily
media = /nonexistent

[job checkins-daily]
schedule = 0 3 * * *
level = full
pool = daily
media = /nonexistent

[job promotions-daily]
schedule = 30 3 * * *
level = full
pool = daily
media = /nonexistent

[pool daily]
kind = dir
retention_days = 400
EOF
	"$BIN/gb-catalog" -c "$WORK/head.conf" upgrade >/dev/null ||
		die "cannot make the history catalog"
	start=$(now_ms)
	history_sql | psql -X -q -v ON_ERROR_STOP=1 -d history \
	    -v sites="$NSITES" -v days="$DAYS" >"$WORK/load.out" 2>&1 ||
		die "the history did not load: $(cat "$WORK/load.out")"
	LOAD_MS=$(($(now_ms) - start))
	psql -X -q -d history -c "VACUUM ANALYZE" >/dev/null
	HIST_RUNS=$(psql -X -At -d history -c "SELECT count(*) FROM runs")
	HIST_AUDIT=$(psql -X -At -d history -c "SELECT count(*) FROM audit")
	"$BIN/gb-catalog" -c "$WORK/head.conf" audit --verify >/dev/null ||
		die "the history's audit trail does not verify"
	CHECK_MS=
	i=0
	while [ "$i" -lt 3 ]; do
		i=$((i + 1))
		start=$(now_ms)
		st=0
		"$BIN/gb-catalog" -c "$WORK/head.conf" check --all-sites \
		    >"$WORK/check.out" 2>&1 || st=$?
		ms=$(($(now_ms) - start))
		[ "$st" -le 1 ] || die "check --all-sites failed: $(cat "$WORK/check.out")"
		echo "$ms" >>"$WORK/check.ms"
	done
	CHECK_MS=$(sort -n "$WORK/check.ms" | sed -n 2p)
	CHECK_LINES=$(wc -l <"$WORK/check.out")
}

main() {
	if ! pg_find; then
		echo "bench-catalog: no PostgreSQL server installed (package postgresql): skipped"
		return 0
	fi
	[ -x "$BIN/gb-catalog" ] || die "$BIN/gb-catalog is missing; run make all first"
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/gb-bench-catalog.XXXXXX")
	trap 'pg_cleanup; keys_cleanup; rm -rf "$WORK"' EXIT
	trap 'exit 130' INT TERM HUP
	ensure_keys
	# every tool as the backup host runs it: the signer's secret key, the
	# recipients' public keys
	GNUPGHOME=$BACKUP_GPG
	export GNUPGHOME
	echo "bench-catalog: $NSITES sites x $NIGHTS nightly runs into a throwaway PostgreSQL cluster"
	pg_up catalog
	cat >"$WORK/owner.conf" <<EOF
[site]
name = head-office

[catalog]
uri = postgresql:///catalog
EOF
	"$BIN/gb-catalog" -c "$WORK/owner.conf" upgrade >/dev/null ||
		die "cannot make the catalog"
	for s in $(sites); do
		psql -X -q -d postgres -c "CREATE ROLE $(role_of "$s") LOGIN IN ROLE gb_site_host" >/dev/null
		"$BIN/gb-catalog" -c "$WORK/owner.conf" site add "$s" \
		    "$(role_of "$s")" >/dev/null || die "cannot add site $s"
	done
	bench_nightly
	echo "bench-catalog: $DAYS days x $NSITES sites x 4 jobs of history, loaded in bulk"
	bench_year
	echo
	echo "catalog on PostgreSQL $(psql -X -At -c 'SHOW server_version'):" \
	    "$NSITES sites, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
	printf '%-58s %12s\n' measure value
	awk -v runs=$((NSITES * NIGHTS)) -v ms="$NIGHT_MS" 'BEGIN {
		printf "%-58s %12.1f\n", "nightly runs recorded, " runs " at once by sites, per second",
		    runs / (ms / 1000) }'
	awk '{ v[NR] = $1 } END {
		p50 = v[int((NR + 1) / 2)]; i = int(NR * 0.99 + 0.999); p99 = v[i]
		printf "%-58s %12.2f\n", "a run'"'"'s catalog calls, median, seconds", p50 / 1000
		printf "%-58s %12.2f\n", "a run'"'"'s catalog calls, p99, seconds", p99 / 1000
	}' "$WORK/ms"
	printf '%-58s %12.2f\n' "history of $HIST_RUNS runs, $HIST_AUDIT audit entries: bulk load, s" \
	    "$(awk -v ms="$LOAD_MS" 'BEGIN { print ms / 1000 }')"
	printf '%-58s %12.2f\n' "check --all-sites over it, median of 3, s ($CHECK_LINES lines)" \
	    "$(awk -v ms="$CHECK_MS" 'BEGIN { print ms / 1000 }')"
}

main "$@"
