#!/usr/bin/env bats
# gb-catalog: chains across weeks of fulls and incrementals (real archives
# and hand-made rows), retention, the 30-day rotation, chain of custody,
# the backup log, the health check, the growth report, the hash-chained
# audit trail, and two writers at once.

load helper
load media-helper

setup_file() { chains_setup_file; }

teardown_file() { media_teardown_file; }

SP=$BATS_FILE_TMPDIR/fx/spool

# chain_names ARGS...: the archives `gb-catalog chain ARGS` lists, in order.
chain_names() {
	gb-catalog chain "$@" | awk '$1 == "full" || $1 == "incremental" { print $3 }' |
	    tr '\n' ' ' | sed 's/ $//'
}

# snap NAME [SECONDS]: the snapshot of a spool archive, shifted.
snap() {
	local t
	t=$(arch_snap "$SP/$1")
	date -u -d "$t ${2:-0} seconds" +%Y-%m-%dT%H:%M:%SZ
}

# ---------------------------------------------------------------- chains

@test "chain --at with real archives: the right full and exactly its incrementals, in order, with media and where they are" {
	mkdir usb
	label U1 daily usb
	label T1 weekly tape:t1.tap
	put tape:t1.tap f1
	put usb i1 i2
	put tape:t1.tap f2
	put usb i3
	gb-catalog move T1 --to offsite --by test >/dev/null
	local f1id
	f1id=$(awk -F'\t' '$1 == "id" { print $2 }' "$SP/f1.set/MANIFEST")
	[ "$(cq "SELECT chain FROM archives WHERE name = 'i2.tar.gz.gpg'")" = "$f1id" ]

	[ "$(chain_names --at "$(snap i2)")" = \
	    "f1.tar.gz.gpg i1.tar.gz.gpg i2.tar.gz.gpg" ]
	[ "$(chain_names --at "$(snap i1)")" = "f1.tar.gz.gpg i1.tar.gz.gpg" ]
	[ "$(chain_names --at "$(snap i1 -1)")" = "f1.tar.gz.gpg" ]
	[ "$(chain_names --at "$(snap f2 -1)")" = \
	    "f1.tar.gz.gpg i1.tar.gz.gpg i2.tar.gz.gpg" ]
	[ "$(chain_names --at "$(snap f2)")" = "f2.tar.gz.gpg" ]
	[ "$(chain_names --at "$(snap i3)")" = "f2.tar.gz.gpg i3.tar.gz.gpg" ]
	[ "$(chain_names)" = "f2.tar.gz.gpg i3.tar.gz.gpg" ]

	run -0 gb-catalog chain --at "$(snap i2)"
	assert_line -n 0 "to restore the state at $(snap i2):"
	assert_line -n 1 "job weekly:"
	assert_line -n 2 "  full         $(snap f1)  f1.tar.gz.gpg"
	assert_line -n 3 "      on T1 (offsite, tape file 1)"
	assert_line -n 4 "  incremental  $(snap i1)  i1.tar.gz.gpg (job daily)"
	assert_line -n 5 "      on U1 (onsite, file i1.tar.gz.gpg)"
	assert_line -n 6 "  incremental  $(snap i2)  i2.tar.gz.gpg (job daily)"
	assert_line -n 7 "      on U1 (onsite, file i2.tar.gz.gpg)"
	[ "${#lines[@]}" -eq 8 ]
	run -0 gb-catalog chain
	assert_line "      on T1 (offsite, tape file 3)"

	run -1 gb-catalog chain --at "$(snap f1 -1)"
	assert_output --partial "no full archive at or before that time"
}

# week WEEKSTART(YYYY-MM-DD, a Sunday) NDAYS: a weekly full on that Sunday
# and daily incrementals on the NDAYS days after it, all at 01:30, and a
# transactions full every night at 02:00; copies on WK (fulls), DY
# (incrementals), TX (transactions).
craft_week() {
	local sun=$1 n=$2 d i day
	d=$(date -u -d "$sun" +%Y%m%d)
	craft_archive "wk-$d.tar.gz.gpg" weekly full "${sun}T01:30:00Z" "wk-$d"
	craft_copy "wk-$d.tar.gz.gpg" WK "$((++TAPEFILE))" good
	for i in $(seq 0 "$n"); do
		day=$(date -u -d "$sun $i days" +%Y-%m-%d)
		if [ "$i" -gt 0 ]; then
			craft_archive "dy-${day//-/}.tar.gz.gpg" daily incremental \
			    "${day}T01:30:00Z" "wk-$d"
			craft_copy "dy-${day//-/}.tar.gz.gpg" DY "dy-${day//-/}.tar.gz.gpg" good
		fi
		craft_archive "tx-${day//-/}.tar.gz.gpg" nightly full \
		    "${day}T02:00:00Z" "tx-${day//-/}"
		craft_copy "tx-${day//-/}.tar.gz.gpg" TX "tx-${day//-/}.tar.gz.gpg" good
	done
	TAPEFILE=$((TAPEFILE + 1))
}

@test "chain --at across three weeks of fulls and incrementals (catalog rows made by hand)" {
	gb-catalog media add WK --kind tape --pool weekly 2>/dev/null
	gb-catalog media add DY --kind dir --pool daily 2>/dev/null
	gb-catalog media add TX --kind dir --pool daily 2>/dev/null
	gb-catalog move WK --to offsite --by test >/dev/null
	TAPEFILE=0
	craft_week 2026-10-04 6
	craft_week 2026-10-11 6
	craft_week 2026-10-18 2
	# the incremental of the 7th has only a failed copy
	cq "UPDATE copies SET status = 'failed' WHERE archive = 'dy-20261007.tar.gz.gpg'"

	[ "$(chain_names --job weekly --at 2026-10-07)" = \
	    "wk-20261004.tar.gz.gpg dy-20261005.tar.gz.gpg dy-20261006.tar.gz.gpg dy-20261007.tar.gz.gpg" ]
	[ "$(chain_names --job nightly --at 2026-10-07)" = "tx-20261007.tar.gz.gpg" ]
	# the moment before the second Sunday's full: all of week one
	[ "$(chain_names --job weekly --at 2026-10-11T01:29:59Z)" = \
	    "wk-20261004.tar.gz.gpg $(printf 'dy-202610%02d.tar.gz.gpg ' 5 6 7 8 9 10 | sed 's/ $//')" ]
	[ "$(chain_names --job nightly --at 2026-10-11T01:29:59Z)" = "tx-20261010.tar.gz.gpg" ]
	[ "$(chain_names --job weekly --at 2026-10-11T01:30:00Z)" = "wk-20261011.tar.gz.gpg" ]
	[ "$(chain_names --job weekly --at 2026-10-16T12:00:00Z)" = \
	    "wk-20261011.tar.gz.gpg $(printf 'dy-202610%02d.tar.gz.gpg ' 12 13 14 15 16 | sed 's/ $//')" ]
	[ "$(chain_names --at 2026-10-20)" = \
	    "tx-20261020.tar.gz.gpg wk-20261018.tar.gz.gpg dy-20261019.tar.gz.gpg dy-20261020.tar.gz.gpg" ]
	[ "$(chain_names)" = "$(chain_names --at 2026-10-20)" ]

	run -0 gb-catalog chain --at 2026-10-07 --job weekly
	assert_line -n 0 "to restore the state at 2026-10-07T23:59:59Z:"
	assert_line -n 2 "  full         2026-10-04T01:30:00Z  wk-20261004.tar.gz.gpg"
	assert_line -n 3 "      on WK (offsite, tape file 1)"
	assert_line -n 5 "      on DY (onsite, file dy-20261005.tar.gz.gpg)"
	assert_line -n 8 "  incremental  2026-10-07T01:30:00Z  dy-20261007.tar.gz.gpg (job daily)"
	assert_line -n 9 "      NO GOOD COPY on any medium"
	run -0 gb-catalog chain --at 2026-10-16 --job weekly
	assert_line -n 3 "      on WK (offsite, tape file 3)"
	run -1 gb-catalog chain --at 2026-10-03
	run -1 gb-catalog chain --at 2026-10-04T01:29:59Z --job weekly
}

# ---------------------------------------------------------------- expire

EXPIRE_CONF='[pool daily]
retention_days = 14

[pool weekly]
retention_days = 60

[job members-weekly]
pool = weekly

[job members-daily]
pool = daily

[job tx]
pool = daily
retention_days = 7

[job old]
pool = daily'

# The catalog the expire tests share (see the comments for what each
# archive shows); run on 2026-11-24.
craft_expire() {
	mkconf "$CONF" "$EXPIRE_CONF"
	local m
	for m in MTX MTX2 MW; do
		gb-catalog media add "$m" --kind dir --pool daily 2>/dev/null
	done
	for m in MOLD MKEEP MF; do
		gb-catalog media add "$m" --kind tape --pool daily 2>/dev/null
	done
	cq "UPDATE media SET state = 'full' WHERE id <> 'MW'"
	# job tx: the job's 7 days win over the pool's 14: 11-16 goes too
	craft_archive tx-1101 tx full 2026-11-01T02:00:00Z tx-1101
	craft_archive tx-1110 tx full 2026-11-10T02:00:00Z tx-1110
	craft_archive tx-1116 tx full 2026-11-16T02:00:00Z tx-1116
	craft_archive tx-1120 tx full 2026-11-20T02:00:00Z tx-1120
	craft_copy tx-1101 MTX tx-1101 good
	craft_copy tx-1110 MTX tx-1110 good
	craft_copy tx-1116 MTX2 tx-1116 good
	craft_copy tx-1120 MTX2 tx-1120 good
	# weekly fulls kept 60 days, their daily incrementals 14, but an
	# incremental stays while its full does
	craft_archive mw-0906 members-weekly full 2026-09-06T01:30:00Z mw-0906
	craft_archive md-0907 members-daily incremental 2026-09-07T01:30:00Z mw-0906
	craft_archive mw-1004 members-weekly full 2026-10-04T01:30:00Z mw-1004
	craft_archive md-1005 members-daily incremental 2026-10-05T01:30:00Z mw-1004
	craft_archive mw-1101 members-weekly full 2026-11-01T01:30:00Z mw-1101
	craft_archive md-1102 members-daily incremental 2026-11-02T01:30:00Z mw-1101
	craft_archive md-1120 members-daily incremental 2026-11-20T01:30:00Z mw-1101
	for m in mw-0906 md-0907 mw-1004 md-1005 mw-1101 md-1102 md-1120; do
		craft_copy "$m" MW "$m" good
	done
	# job old: everything past retention; 09-10 + 09-11 is the newest
	# chain that can be restored (09-15 has no good copy) and stays
	craft_archive old-0901 old full 2026-09-01T03:00:00Z old-0901
	craft_archive old-0910 old full 2026-09-10T03:00:00Z old-0910
	craft_archive od-0911 old incremental 2026-09-11T03:00:00Z old-0910
	craft_archive old-0915 old full 2026-09-15T03:00:00Z old-0915
	craft_copy old-0901 MOLD 1 good
	craft_copy old-0910 MKEEP 1 good
	craft_copy od-0911 MKEEP 3 good
	craft_copy old-0915 MF 1 failed
}

EXPIRED="md-0907 mw-0906 old-0901 old-0915 tx-1101 tx-1110 tx-1116"
KEPT="md-1005 md-1102 md-1120 mw-1004 mw-1101 od-0911 old-0910 tx-1120"

@test "expire: retention per pool and per job; a chain stays whole; the newest restorable chain stays past retention; empty media freed" {
	craft_expire
	run -0 gb-catalog expire --date 2026-11-24
	local n
	for n in $EXPIRED; do
		assert_line "expire $n"
	done
	for n in $KEPT; do
		refute_line "expire $n"
	done
	assert_line "7 archives expired"
	[ "$(cq "SELECT group_concat(name, ' ') FROM (SELECT name FROM archives
	    WHERE expired_at IS NOT NULL ORDER BY name) AS t")" = "$EXPIRED" ]
	[ "$(cq "SELECT group_concat(name, ' ') FROM (SELECT name FROM archives
	    WHERE expired_at IS NULL ORDER BY name) AS t")" = "$KEPT" ]
	[ "$(cq "SELECT DISTINCT expired_at FROM archives WHERE expired_at IS
	    NOT NULL")" = 2026-11-24T23:59:59Z ]
	# their good copies are expired; the failed one stays failed
	[ "$(cq "SELECT group_concat(archive || ':' || status, ' ') FROM (SELECT
	    archive, status FROM copies WHERE archive IN ('tx-1101', 'old-0901',
	    'old-0915', 'tx-1120') ORDER BY archive) AS t")" = \
	    "old-0901:expired old-0915:failed tx-1101:expired tx-1120:good" ]
	# media with nothing live are usable again; the others stay as they were
	[ "$(cq "SELECT group_concat(id || ':' || state, ' ') FROM (SELECT id,
	    state FROM media ORDER BY id) AS t")" = \
	    "MF:usable MKEEP:full MOLD:usable MTX:usable MTX2:full MW:usable" ]
	assert_line "free MTX: nothing live left, reusable"
	assert_line "free MOLD: nothing live left, reusable"
	refute_line --partial "free MKEEP"
	[ "$(cq "SELECT count(*) FROM audit WHERE action = 'expire'")" -eq 7 ]
	[ "$(cq "SELECT count(*) FROM audit WHERE action = 'reuse'")" -eq 3 ]
	# again: nothing more to do
	run -0 gb-catalog expire --date 2026-11-24
	assert_line "0 archives expired"
	run -0 gb-catalog audit --verify
}

@test "expire --dry-run lists the archives it would expire and changes nothing" {
	craft_expire
	cat_dump >before.sql
	run -0 gb-catalog expire --dry-run --date 2026-11-24
	local n
	for n in $EXPIRED; do
		assert_line "would expire $n"
	done
	for n in $KEPT; do
		refute_line "would expire $n"
	done
	assert_line "7 archives would be expired"
	cat_dump >after.sql
	diff before.sql after.sql
}

@test "expire --dry-run names the media the real run frees" {
	craft_expire
	run -0 gb-catalog expire --dry-run --date 2026-11-24
	local dry=$output
	run -0 gb-catalog expire --date 2026-11-24
	local m
	for m in MF MOLD MTX; do
		assert_line "free $m: nothing live left, reusable"
		grep -qx "would free $m: nothing live left, reusable" <<<"$dry" ||
		    fail "the dry run does not say it would free $m: $dry"
	done
}

@test "expire keeps a lone old chain: a job's only restorable chain is never expired" {
	mkconf "$CONF" "[job once]
retention_days = 1"
	gb-catalog media add T1 --kind tape --pool p 2>/dev/null
	craft_archive once-full once full 2025-01-05T01:00:00Z once-full
	craft_archive once-i1 once incremental 2025-01-06T01:00:00Z once-full
	craft_archive once-i2 once incremental 2025-01-07T01:00:00Z once-full
	craft_copy once-full T1 1 good
	craft_copy once-i1 T1 3 good
	craft_copy once-i2 T1 5 good
	run -0 gb-catalog expire --date 2026-11-24
	assert_line "0 archives expired"
	[ "$(cq "SELECT count(*) FROM archives WHERE expired_at IS NULL")" -eq 3 ]
	[ "$(chain_names --at 2026-11-24)" = "once-full once-i1 once-i2" ]
}

# ---------------------------------------------------------- due and move

@test "due: a 30-day rotation; written media go out, a recall appears on its due date and not before" {
	mkconf "$CONF" '[pool rot]
offsite = yes
offsite_days = 30

[pool local]
offsite = no'
	mkdir r1 r2 l1
	label R1 rot r1
	label R2 rot r2
	label L1 local l1
	put r1 f1
	put l1 f2
	run -0 gb-catalog due
	assert_output --regexp "^send offsite:
  R1 +pool rot +written [0-9T:-]+Z
recall \\(due back by $(day 0)\\):
  \\(none\\)\$"
	run -0 gb-catalog move R1 --to offsite --by courier --why 'monthly vault run'
	local due
	due=$(cq "SELECT due_back FROM media WHERE id = 'R1'")
	[ "$due" = "$(cq "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', at, '+30 days')
	    FROM movements WHERE medium = 'R1'")" ]
	assert_output "R1: onsite -> offsite, due back $due"
	run -0 gb-catalog due
	assert_output "$(printf 'send offsite:\n  (none)\nrecall (due back by %s):\n  (none)' "$(day 0)")"
	# -q, as the crontab's morning line: silent when nothing is due ...
	run -0 gb-catalog due -q
	assert_output ""
	# ... and the whole list when something is
	run -0 gb-catalog due -q --date "${due:0:10}"
	assert_line -n 0 "send offsite:"
	assert_line --regexp "^  R1 +pool rot +due $due\$"
	run -0 gb-catalog due --date "${due:0:10}"
	assert_line --regexp "^  R1 +pool rot +due $due\$"
	run -0 gb-catalog due --date "$(date -u -d "${due:0:10} -1 day" +%Y-%m-%d)"
	refute_line --regexp "^  R1 "
	run -0 gb-catalog due --date "$(day 29)"
	refute_line --regexp "^  R1 "
	# back home: nothing to send, nothing to recall, until written again
	# (times are in seconds: the move back comes a second after the write)
	sleep 1
	gb-catalog move R1 --to transit --by courier >/dev/null
	gb-catalog move R1 --to onsite --by courier >/dev/null
	[ "$(cq "SELECT CASE WHEN due_back IS NULL THEN 1 END FROM media WHERE id = 'R1'")" = 1 ]
	run -0 gb-catalog due --date "$(day 40)"
	refute_line --regexp "^  R1 "
	sleep 1
	put r1 i1
	run -0 gb-catalog due
	assert_line --regexp "^  R1 +pool rot +written "
}

@test "due: a medium taken to transit and brought back onsite (the courier did not come) is still to send offsite; one the vault had is not" {
	mkconf "$CONF" '[pool rot]
offsite = yes
offsite_days = 30'
	mkdir r1 r2
	label R1 rot r1
	label R2 rot r2
	put r1 f1
	put r2 f2
	sleep 1
	gb-catalog move R1 --to transit --by courier --why 'courier did not come' >/dev/null
	gb-catalog move R1 --to onsite --by courier --why 'courier did not come' >/dev/null
	gb-catalog move R2 --to transit --by courier >/dev/null
	gb-catalog move R2 --to offsite --by vault >/dev/null
	gb-catalog move R2 --to onsite --by vault >/dev/null
	run -0 gb-catalog due
	assert_output --regexp "^send offsite:
  R1 +pool rot +written [0-9T:-]+Z
recall \\(due back by $(day 0)\\):
  \\(none\\)\$"
}

@test "move --date before the medium was labelled, last written or last moved is refused with the time; nothing is recorded" {
	mkdir u1
	label U1 daily u1
	put u1 f1
	local labelled written
	labelled=$(cq "SELECT labelled_at FROM media WHERE id = 'U1'")
	written=$(cq "SELECT last_written FROM media WHERE id = 'U1'")
	run -2 gb-catalog move U1 --to offsite --date 2020-01-01
	assert_output "gb-catalog: medium U1 was last written at $written, after --date 2020-01-01T23:59:59Z: custody cannot move before that; give the date it really moved (or no --date, for now)"
	cq "UPDATE media SET last_written = NULL WHERE id = 'U1'"
	run -2 gb-catalog move U1 --to offsite --date 2020-01-01T00:00:00Z
	assert_output "gb-catalog: medium U1 was labelled at $labelled, after --date 2020-01-01T00:00:00Z: custody cannot move before that; give the date it really moved (or no --date, for now)"
	cq "UPDATE media SET last_written = '$written' WHERE id = 'U1'"
	[ "$(cq "SELECT count(*) FROM movements")" -eq 0 ]
	[ "$(cq "SELECT location FROM media WHERE id = 'U1'")" = onsite ]
	# at the moment of the write and later: recorded
	run -0 gb-catalog move U1 --to transit --by li --date "$written"
	run -0 gb-catalog move U1 --to offsite --by li --date "$(day 1)"
	# before the last move: refused, not put in before it
	run -2 gb-catalog move U1 --to onsite --date "$written"
	assert_output "gb-catalog: medium U1 was last moved at $(day 1)T23:59:59Z, after --date $written: custody cannot move before that; give the date it really moved (or no --date, for now)"
	[ "$(cq "SELECT group_concat(at || ' ' || to_loc, ',') FROM movements")" = \
	    "$written transit,$(day 1)T23:59:59Z offsite" ]
}

@test "gb-backup: a medium mounted here that the catalog has offsite is skipped with a warning naming it and the fix; the next medium takes the archive" {
	write_gym_conf "$CONF" "$FX/gym.db"
	sed -i '/^\[keys\]/,$d' "$CONF"
	cat >>"$CONF" <<EOF
[keys]
signer = $SIGNER
recipients = $RCPT1 $RCPT2

[catalog]
path = $CAT

[spool]
dir = $W/spool

[pool daily]
kind = dir
offsite = yes
offsite_days = 7

[job tx]
schedule = 0 2 * * *
tables = consumptions, recharges
level = full
pool = daily
media = $W/usb1 $W/usb2
EOF
	mkdir spool usb1 usb2
	label D1 daily usb1
	label D2 daily usb2
	gb-catalog move D1 --to offsite --by vault >/dev/null
	run -0 gb-backup -c "$CONF" tx
	assert_line "gb-backup: tx: warning: $W/usb1: medium D1 is offsite; only onsite media are written (gb-catalog move D1 --to onsite when it is back)"
	[ "$(cq "SELECT group_concat(medium) FROM copies WHERE status = 'good'")" = D2 ]
	# a medium that is merely full is still passed over quietly
	gb-catalog move D1 --to onsite --by vault >/dev/null
	cq "UPDATE media SET state = 'full' WHERE id = 'D1'"
	run -0 gb-backup -c "$CONF" tx
	assert_output ""
}

# ----------------------------------------------------- options and messages

@test "options per command: one a command does not take is a usage error naming both; extra operands too" {
	gb-catalog media add M1 --kind tape --pool p 2>/dev/null
	run -2 gb-catalog due --why x --kind tape --csv
	assert_output "gb-catalog: due does not take --why (it takes --quiet, --date, --site, --all-sites)
usage: gb-catalog [-c conf] due [-q] [--date date] [--site site | --all-sites]"
	run -2 gb-catalog upgrade --csv
	assert_line -n 0 "gb-catalog: upgrade takes no options, not --csv"
	run -2 gb-catalog media add M2 --kind tape --pool p --why because
	assert_line -n 0 "gb-catalog: media add does not take --why (it takes --kind, --pool, --capacity)"
	run -2 gb-catalog media retire M1 --kind tape
	assert_line -n 0 "gb-catalog: media retire does not take --kind (it takes --why)"
	run -2 gb-catalog log start j --archive a
	assert_line -n 0 "gb-catalog: log start does not take --archive (it takes --pid, --date)"
	run -2 gb-catalog chain --date 2026-11-20
	assert_line -n 0 "gb-catalog: chain does not take --date (it takes --at, --job, --site, --all-sites)"
	run -2 gb-catalog check --dry-run
	assert_line -n 0 "gb-catalog: check does not take --dry-run (it takes --verbose, --date, --site, --all-sites)"
	run -2 gb-catalog due tomorrow
	assert_line -n 0 "gb-catalog: due: extra operand 'tomorrow'"
	run -2 gb-catalog move
	assert_line -n 0 "gb-catalog: move: missing operand"
	run -2 gb-catalog log -n 0
	assert_output "gb-catalog: -n wants a number of runs (1 or more), not 0"
	run -2 gb-catalog frob
	assert_line -n 0 "gb-catalog: frob: no such command"
	run -2 gb-catalog latest
	assert_line -n 0 "gb-catalog: latest needs --job JOB"
	# nothing of it reached the catalog
	[ "$(cq "SELECT group_concat(id || ':' || state) FROM media")" = "M1:usable" ]
	[ "$(cq "SELECT count(*) FROM runs")" -eq 0 ]
	run -0 gb-catalog media -h
	assert_output "usage: gb-catalog [-c conf] media [list [-b] | show id [-b] | retire id [--why text] |
                  add id --kind dir|tape --pool pool [--capacity bytes]]"
}

@test "-c conf after the command is taken as before it" {
	sqlite_only "the config names the catalog file (path); here GB_CATALOG names the database"
	mkconf "$W/other.conf" '[pool rot]
offsite = yes'
	sed -i "s|^path = .*|path = $W/other.db|" "$W/other.conf"
	run -0 gb-catalog media add O1 --kind dir --pool rot -c "$W/other.conf"
	run -0 gb-catalog media list -c "$W/other.conf"
	assert_line --regexp '^O1 +dir +rot '
	run -1 gb-catalog check -c "$W/other.conf"
	assert_output "restore test: none recorded; run gb-restore --test"
	run -0 gb-catalog -c "$W/other.conf" media
	assert_line --regexp '^O1 '
	[ ! -e "$CAT" ]
	[ "$(sqlite3 "$W/other.db" "SELECT id FROM media")" = O1 ]
}

@test "a missing catalog directory: the path, the cause and the next step, for writing and reading commands and gb-write" {
	sqlite_only "a catalog file's directory; a database has none (pgcatalog.bats: a connection refused)"
	sed -i "s|^path = .*|path = $W/nodir/catalog.db|" "$CONF"
	local msg="catalog $W/nodir/catalog.db: its directory $W/nodir does not exist; create it (mkdir -p $W/nodir, writable by the user who runs the backups), or set path in the [catalog] section of the config, or GB_CATALOG, to where the catalog is"
	run -3 gb-catalog media add M1 --kind dir --pool p
	assert_output "gb-catalog: $msg"
	run -3 gb-catalog media
	assert_output "gb-catalog: $msg"
	mkdir u1
	run -3 gb-write --label U1 --pool daily u1
	assert_output --partial "gb-write: $msg"
	[ ! -e nodir ]
	# a directory that is there but no catalog: reading commands make none
	mkdir nodir
	run -3 gb-catalog due
	assert_output "gb-catalog: catalog $W/nodir/catalog.db: no such file; if the catalog is elsewhere, set path in the [catalog] section of the config or GB_CATALOG; a new one is made by the first gb-write --label or gb-catalog media add"
	[ -z "$(ls -A nodir)" ]
	run -0 gb-catalog media add M1 --kind dir --pool p
	run -0 gb-catalog media
	assert_line --regexp '^M1 '
}

@test "move: chain of custody with who, when and why; a move to where the medium is refused" {
	gb-catalog media add M1 --kind tape --pool weekly 2>/dev/null
	local t0 t1
	t0=$(stamp 0)
	run -0 gb-catalog move M1 --to transit --by alice --why 'to the vault'
	assert_output "M1: onsite -> transit"
	run -0 gb-catalog move M1 --to offsite --by bob --why 'signed in at the vault'
	run -0 env -u SUDO_USER gb-catalog move M1 --to onsite
	t1=$(stamp 0)
	run -0 cq "SELECT from_loc, to_loc, by, coalesce(why, '-') FROM movements
	    WHERE medium = 'M1' ORDER BY id"
	assert_output "onsite|transit|alice|to the vault
transit|offsite|bob|signed in at the vault
offsite|onsite|$(id -un)|-"
	[ "$(cq "SELECT count(*) FROM movements WHERE at < '$t0' OR at > '$t1'")" -eq 0 ]
	run -2 gb-catalog move M1 --to onsite --by alice
	assert_output --partial "medium M1 is already onsite"
	run -2 gb-catalog move M1 --to attic
	run -2 gb-catalog move M9 --to offsite
	assert_output --partial "no medium M9"
	[ "$(cq "SELECT count(*) FROM movements")" -eq 3 ]
	[ "$(cq "SELECT location FROM media WHERE id = 'M1'")" = onsite ]
	run -0 gb-catalog media show M1
	assert_line --regexp '^  [0-9T:-]+Z onsite -> transit by alice to the vault$'
	assert_line --regexp '^  [0-9T:-]+Z transit -> offsite by bob signed in at the vault$'
	run -0 cq "SELECT detail FROM audit WHERE action = 'move' ORDER BY seq"
	assert_line -n 0 "onsite -> transit by alice: to the vault"
	assert_line -n 1 "transit -> offsite by bob: signed in at the vault"
}

@test "media add: a capacity that is not a size is refused; K, M, G, T are powers of 1024" {
	run -2 gb-catalog media add T9 --kind tape --pool weekly --capacity 10apples
	run -2 gb-catalog media add T9 --kind tape --pool weekly --capacity -5
	run -2 gb-catalog media add T9 --kind tape --pool weekly --capacity 1.5T
	[ "$(cq "SELECT count(*) FROM media WHERE id = 'T9'")" -eq 0 ]
	run -0 gb-catalog media add T8 --kind tape --pool weekly --capacity 10G
	[ "$(cq "SELECT capacity FROM media WHERE id = 'T8'")" = 10737418240 ]
	run -0 gb-catalog media add T9 --kind tape --pool weekly --capacity 12000000000000
	[ "$(cq "SELECT kind, pool, capacity, state, location FROM media WHERE
	    id = 'T9'")" = "tape|weekly|12000000000000|usable|onsite" ]
	run -0 gb-catalog media list -b
	assert_line --regexp '^T9 +tape +weekly +usable +onsite +0 +12000000000000 +0 *$'
}

# ------------------------------------------------------------------- log

@test "log: start and end rows, the log listing, filters" {
	local a b c
	a=$(gb-catalog log start nightly --date 2026-11-20T02:00:00Z)
	b=$(gb-catalog log start weekly --date 2026-11-22T01:30:00Z)
	c=$(gb-catalog log start nightly --date 2026-11-21T02:00:00Z)
	[ "$a" = 1 ] && [ "$b" = 2 ] && [ "$c" = 3 ]
	run -0 gb-catalog log end "$a" ok --archive tx.tar.gz.gpg --rows 1234 \
	    --bytes 56789 --date 2026-11-20T02:03:00Z
	run -0 gb-catalog log end "$b" failed --error 'gb-write: medium W1 is full' \
	    --date 2026-11-22T01:40:00Z
	run -0 cq "SELECT id, job, started, coalesce(ended, '-'), status,
	    coalesce(archive, '-'), coalesce(CAST(rows AS TEXT), '-'),
	    coalesce(CAST(bytes AS TEXT), '-'),
	    coalesce(error, '-') FROM runs ORDER BY id"
	assert_output "1|nightly|2026-11-20T02:00:00Z|2026-11-20T02:03:00Z|ok|tx.tar.gz.gpg|1234|56789|-
2|weekly|2026-11-22T01:30:00Z|2026-11-22T01:40:00Z|failed|-|-|-|gb-write: medium W1 is full
3|nightly|2026-11-21T02:00:00Z|-|running|-|-|-|-"
	# a run ends once
	run -2 gb-catalog log end "$a" failed
	assert_output --partial "no running job run 1"
	run -2 gb-catalog log end 99 ok
	run -2 gb-catalog log end "$c" maybe
	[ "$(cq "SELECT status FROM runs WHERE id = 3")" = running ]
	# another site's run is not this site's to end
	cq "INSERT INTO runs(site, job, started, status) VALUES ('elsewhere',
	    'nightly', '2026-11-21T02:00:00Z', 'running')"
	run -2 gb-catalog log end 4 ok
	assert_output --partial "no running job run 4"
	[ "$(cq "SELECT status FROM runs WHERE id = 4")" = running ]
	cq "DELETE FROM runs WHERE id = 4"

	run -0 gb-catalog log
	[ "${#lines[@]}" -eq 4 ]
	assert_line -n 0 --regexp '^RUN  JOB +STARTED +ENDED +STATUS +ROWS +BYTES  ARCHIVE / ERROR$'
	assert_line -n 1 --regexp '^  1  nightly +2026-11-20T02:00:00Z  2026-11-20T02:03:00Z  ok +1234 +55K  tx\.tar\.gz\.gpg$'
	assert_line -n 2 --regexp '^  2  weekly +2026-11-22T01:30:00Z  2026-11-22T01:40:00Z  failed +gb-write: medium W1 is full$'
	assert_line -n 3 --regexp '^  3  nightly +2026-11-21T02:00:00Z +running$'
	# -b: bytes as a number
	run -0 gb-catalog log -b
	assert_line -n 1 --regexp ' 1234  56789  tx\.tar\.gz\.gpg$'
	run -0 gb-catalog log --job nightly
	[ "${#lines[@]}" -eq 3 ]
	refute_output --partial weekly
	run -0 gb-catalog log -n 1
	[ "${#lines[@]}" -eq 2 ]
	assert_line -n 1 --regexp '^  3  nightly'
}

# ----------------------------------------------------------------- check

CHECK_JOBS='[job weekly]
schedule = 30 1 * * 0

[job nightly]
schedule = 0 2 * * *

[pool daily]
offsite_days = 7

[check]
restore_test_days = 30
key_expiry_days = 30'

# restore_test ARCHIVE...: gb-restore --test of spool archives, which
# records a real restore test in the catalog.
restore_test() {
	local a args=()
	for a in "$@"; do
		args+=("$SP/$a.seal")
	done
	GNUPGHOME="$KEYS/restore" gb-restore -c "$CONF" --signer "$SIGNER" \
	    --test "${args[@]}" >/dev/null 2>&1 ||
	    fail "gb-restore --test $* failed"
}

# A catalog where all is well: both jobs have a good, verified copy, a
# restore test passed today, the keys are fine.
check_ok() {
	mkconf "$CONF" "${1:-$CHECK_JOBS}"
	mkdir usb
	label U1 daily usb
	put usb f2 n1
	restore_test f2
}

# assert_recipient_expiry_warned FPR: with FPR, a key that expires in 5
# days, as a recipient, check warns within its 30 days and not within 3.
assert_recipient_expiry_warned() {
	sed -i "s/^recipients = .*/recipients = $RCPT1 $1/" "$CONF"
	run -1 gb-catalog check
	assert_output --regexp "^key: recipient $1 \\(Short Escrow <short@gym\\.example>\\) expires [0-9T:-]+Z, within 30 days; extend it or replace it\$"
	sed -i 's/^key_expiry_days = .*/key_expiry_days = 3/' "$CONF"
	run -0 gb-catalog check
	assert_output ""
}

@test "check: all is well: exit 0 and silent, for cron; -v says 'OK: no problems'" {
	check_ok
	run --separate-stderr -0 gb-catalog check
	assert_output ""
	[ -z "$stderr" ] || fail "check wrote to stderr: $stderr"
	run -0 gb-catalog check -v
	assert_output "OK: no problems"
	run -0 gb-catalog -c "$CONF" check --verbose
	assert_output "OK: no problems"
}

@test "check: a job without a good backup within its period, by its schedule" {
	check_ok "$CHECK_JOBS
[job monthly]
schedule = 0 3 1 * *

[job hourly]
schedule = 0 2 * * *
alert_after = 1"
	cq "INSERT INTO archives SELECT 'h.tar.gz.gpg', 'hourly', level, 'h-id',
	    NULL, 'h-id', site, source, strftime('%Y-%m-%dT%H:%M:%SZ', 'now',
	    '-2 hours'), size, sha256, packed_size, packed_sha256, rows, seal,
	    recorded_at, NULL FROM archives WHERE name = 'n1.tar.gz.gpg'"
	craft_copy h.tar.gz.gpg U1 h.tar.gz.gpg good
	run -1 gb-catalog check
	assert_line "job monthly: no good backup yet"
	assert_line --regexp "^job hourly: no good backup within 1 hours \\(last "
	refute_line --partial "job nightly"
	refute_line --partial "job weekly"
	[ "${#lines[@]}" -eq 2 ]
	# two days on: the nightly job is late (26 h), the weekly one not
	run -1 gb-catalog check --date "$(day 2)"
	assert_line "job nightly: no good backup within 26 hours (last $(arch_snap "$SP/n1"))"
	refute_line --partial "job weekly"
	# eight days on: the weekly one too (7 days and 2 hours)
	run -1 gb-catalog check --date "$(day 8)"
	assert_line "job weekly: no good backup within 170 hours (last $(arch_snap "$SP/f2"))"
	# a copy that failed is no backup
	cq "UPDATE copies SET status = 'failed' WHERE archive = 'n1.tar.gz.gpg'"
	run -1 gb-catalog check
	assert_line "job nightly: no good backup yet"
}

@test "check: media overdue to come back" {
	check_ok
	gb-catalog move U1 --to offsite --by test >/dev/null
	local due
	due=$(cq "SELECT due_back FROM media WHERE id = 'U1'")
	[ -n "$due" ]
	run -0 gb-catalog check
	assert_output ""
	run -1 gb-catalog check --date "$(day 6)"
	refute_line --partial "medium U1"
	run -1 gb-catalog check --date "$(day 8)"
	assert_line "medium U1: overdue to come back (offsite, due $due)"
	gb-catalog move U1 --to onsite --by test >/dev/null
	run -1 gb-catalog check --date "$(day 8)"
	refute_line --partial "medium U1"
}

@test "check: a medium that left the vault but is still in transit after its due date is overdue" {
	check_ok
	gb-catalog move U1 --to offsite --by test >/dev/null
	gb-catalog move U1 --to transit --by courier --why 'on its way back' >/dev/null
	run -1 gb-catalog check --date "$(day 8)"
	assert_line --regexp '^medium U1: overdue to come back \(transit, due [0-9T:-]+Z\)$'
}

@test "check: no restore test within N days; 'tested ... ok' is kept as manual and does not clear it; gb-restore --test does" {
	mkconf "$CONF" "$CHECK_JOBS"
	mkdir usb
	label U1 daily usb
	put usb f2 n1
	run -1 gb-catalog check
	assert_output "restore test: none recorded; run gb-restore --test"
	# a failed test does not count
	gb-catalog tested f2.tar.gz.gpg failed --detail 'members: sha256 DIFFER' 2>/dev/null
	run -1 gb-catalog check
	assert_output "restore test: none recorded; run gb-restore --test"
	# one told by hand is recorded, marked manual, and does not count
	run --separate-stderr -0 gb-catalog tested f2.tar.gz.gpg ok --detail drill
	assert_equal "$stderr" "gb-catalog: note: a restore test recorded by hand is kept as such; check wants one that gb-restore --test ran and recorded"
	local hand
	hand=$(cq "SELECT at FROM checks WHERE ok = 1 AND manual = 1")
	[ -n "$hand" ]
	run -1 gb-catalog check
	assert_output "restore test: only one recorded by hand ($hand), which does not count; run gb-restore --test"
	[ "$(cq "SELECT detail FROM audit WHERE action = 'restore-test' ORDER BY
	    seq DESC LIMIT 1")" = "ok (recorded by hand): drill" ]
	restore_test f2
	run -0 gb-catalog check
	assert_output ""
	[ "$(cq "SELECT kind || '|' || archive || '|' || ok || '|' || manual ||
	    '|' || detail FROM checks ORDER BY id")" = \
	    "restore-test|f2.tar.gz.gpg|0|1|members: sha256 DIFFER
restore-test|f2.tar.gz.gpg|1|1|drill
restore-test|f2.tar.gz.gpg|1|0|chain of 1, 0 tables differ" ]
	# 31 days on, that test is too old; 29 days on, it is not
	local at
	at=$(cq "SELECT at FROM checks WHERE ok = 1 AND manual = 0")
	run -1 gb-catalog check --date "$(day 31)"
	assert_line "restore test: none within 30 days (last $at)"
	run -1 gb-catalog check --date "$(day 29)"
	refute_line --partial "restore test"
	run -2 gb-catalog tested nosuch.tar.gz.gpg ok
}

@test "check: fewer than two recipients" {
	check_ok
	sed -i "s/^recipients = .*/recipients = $RCPT1/" "$CONF"
	run -1 gb-catalog check
	assert_output "keys: 1 recipient; two at least (operations and escrow), so a lost key loses no backup"
	sed -i "/^recipients = /d" "$CONF"
	run -1 gb-catalog check
	assert_output --partial "keys: 0 recipients; two at least"
}

# key_ring: $W/gnupg, a copy of the backup keyring, as GNUPGHOME.
key_ring() {
	mkdir -m 700 "$W/gnupg"
	cp -r "$KEYS/backup/pubring.kbx" "$KEYS/backup/trustdb.gpg" \
	    "$KEYS/backup/private-keys-v1.d" "$W/gnupg/"
	export GNUPGHOME="$W/gnupg"
}

g() { gpg --batch --quiet --no-tty --passphrase '' "$@" 2>/dev/null; }
fpr_of() {
	gpg --batch --with-colons --list-keys "$1" | awk -F: '$1 == "fpr" { print $10; exit }'
}

@test "check: a recipient whose encryption subkey expires within N days" {
	key_ring
	g --quick-gen-key 'Short Escrow <short@gym.example>' ed25519 cert 2y
	local short
	short=$(fpr_of short@gym.example)
	g --quick-add-key "$short" cv25519 encr 5d
	check_ok
	assert_recipient_expiry_warned "$short"
}

@test "check: a recipient key that expires within N days (quick-gen-key ... default default 5d)" {
	key_ring
	# the primary key expires in 5 days, and the whole key with it; its
	# encryption subkey has no date of its own
	g --quick-gen-key 'Short Escrow <short@gym.example>' future-default default 5d
	local short
	short=$(fpr_of short@gym.example)
	[ -n "$short" ]
	check_ok
	assert_recipient_expiry_warned "$short"
}

@test "check: a signing key that expires within N days" {
	key_ring
	g --quick-add-key "$SIGNER" ed25519 sign 5d
	check_ok
	run -1 gb-catalog check
	assert_output --regexp "^key: signer $SIGNER \\(Gym Backup Signer <signer@gym\\.example>\\) expires [0-9T:-]+Z, within 30 days; extend it or replace it\$"
}

@test "check: a copy never verified (gb-write --no-verify); 'verified ... ok --medium' clears it" {
	check_ok
	label T1 weekly tape:t1.tap
	run -0 gb-write --no-verify tape:t1.tap "$SP/f1"
	refute_output --partial "read back OK"
	[ "$(cq "SELECT status, CASE WHEN verified_at IS NULL THEN 1 END FROM copies WHERE medium = 'T1'")" = "good|1" ]
	run -1 gb-catalog check
	assert_output --regexp "^copy of f1\\.tar\\.gz\\.gpg on T1: never verified \\(written [0-9T:-]+Z\\)\$"
	run -0 gb-catalog verified f1.tar.gz.gpg ok --medium T1 --detail 'gb-verify --deep'
	run -0 gb-catalog check
	assert_output ""
	[ -n "$(cq "SELECT verified_at FROM copies WHERE medium = 'T1'")" ]
}

@test "check: a copy still 'writing' hours after it began (a gb-write that died)" {
	check_ok
	gb-catalog media add T9 --kind tape --pool weekly 2>/dev/null
	craft_archive dead.tar.gz.gpg w full 2026-01-01T00:00:00Z dead
	cq "INSERT INTO copies(site, archive, medium, position, status, started_at)
	    VALUES('$(hostname)', 'dead.tar.gz.gpg', 'T9', '1', 'writing', '$(date -u -d '-7 hours' +%Y-%m-%dT%H:%M:%SZ)')"
	run -1 gb-catalog check
	assert_line --regexp "^copy of dead\.tar\.gz\.gpg on T9: still being written since [0-9T:-]+Z; the gb-write must have died: write it again\$"
	# one that began a minute ago is a writer at work, not a problem
	cq "UPDATE copies SET started_at = '$(date -u -d '-1 minute' +%Y-%m-%dT%H:%M:%SZ)' WHERE archive = 'dead.tar.gz.gpg'"
	run gb-catalog check
	refute_output --partial "still being written"
}

@test "check: a run left 'running' that cannot be looked for (no pid, another host) is reported past its job's period, and left as it is" {
	check_ok
	cq "INSERT INTO runs(site, job, started, status) VALUES('$(hostname)', 'w', '$(date -u -d '-3 days' +%Y-%m-%dT%H:%M:%SZ)', 'running')"
	cq "INSERT INTO runs(site, job, started, status, pid, host) VALUES('$(hostname)', 'w', '$(date -u -d '-9 days' +%Y-%m-%dT%H:%M:%SZ)', 'running', 1, 'elsewhere')"
	cq "INSERT INTO runs(site, job, started, status) VALUES('$(hostname)', 'w', '$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)', 'running')"
	run -1 gb-catalog check
	assert_line --regexp "^run 1 of job w: running since [0-9T:-]+Z; if no gb-backup runs it, it was killed\$"
	assert_line --regexp "^run 2 of job w: running since [0-9T:-]+Z on elsewhere; if no gb-backup runs it, it was killed\$"
	refute_output --partial "run 3 of"
	[ "$(cq "SELECT group_concat(status) FROM runs")" = "running,running,running" ]
}

# ---------------------------------------------------------------- report

# Fulls and an incremental over three months, with their tables, and
# copies written 100, 45, 10 and 4 days ago.
craft_report() {
	gb-catalog media add T1 --kind tape --pool weekly --capacity 1000 2>/dev/null
	gb-catalog media add T2 --kind tape --pool weekly --capacity 3000 2>/dev/null
	gb-catalog media add U1 --kind dir --pool daily 2>/dev/null
	craft_archive f0915 w full 2026-09-15T01:00:00Z f0915 1000
	craft_archive f0920 w full 2026-09-20T01:00:00Z f0920 1200
	craft_archive i0921 w incremental 2026-09-21T01:00:00Z f0920 50
	craft_archive f1010 w full 2026-10-10T01:00:00Z f1010 1500
	craft_archive f1120 w full 2026-11-20T01:00:00Z f1120 2000
	local a r
	for r in "f0915 members 100 5000" "f0915 stores 3 100" \
	    "f0920 members 110 5500" "f0920 stores 3 100" \
	    "i0921 members 5 250" \
	    "f1010 members 150 7500" "f1010 stores 4 130" \
	    "f1120 members 200 10000" "f1120 stores 5 160"; do
		set -- $r
		cq "INSERT INTO archive_tables VALUES('$(hostname)', '$1', '$2', $3, $4, 'x', NULL)"
	done
	craft_copy f0915 T2 1 good "$(stamp -100)"
	craft_copy f1010 T1 1 good "$(stamp -45)"
	craft_copy i0921 U1 i0921 good "$(stamp -10)"
	craft_copy f1120 T1 3 good "$(stamp -4)"
}

@test "report: growth per table per month and quarter with the change in percent; archive bytes once per period; media for the next quarter" {
	craft_report
	run -0 gb-catalog report -b
	assert_line "growth by month:"
	assert_line --regexp '^  MONTH +TABLE +ROWS +CHANGE +CSV BYTES +CHANGE$'
	assert_line --regexp '^  2026-09 +members +110 +- +5500 +-$'
	assert_line --regexp '^  2026-10 +members +150 +\+36\.4% +7500 +\+36\.4%$'
	assert_line --regexp '^  2026-11 +members +200 +\+33\.3% +10000 +\+33\.3%$'
	assert_line --regexp '^  2026-09 +stores +3 +- +100 +-$'
	assert_line --regexp '^  2026-10 +stores +4 +\+33\.3% +130 +\+30\.0%$'
	assert_line --regexp '^  2026-11 +stores +5 +\+25\.0% +160 +\+23\.1%$'
	# the bytes of all archives of a period: once, in a table of their own
	assert_line "archives by month:"
	assert_line --regexp '^  MONTH +ARCHIVES +ARCHIVE BYTES +CHANGE$'
	assert_line --regexp '^  2026-09 +3 +2250 +-$'
	assert_line --regexp '^  2026-10 +1 +1500 +-33\.3%$'
	assert_line --regexp '^  2026-11 +1 +2000 +\+33\.3%$'
	[ "$(printf '%s\n' "$output" | grep -c '2250')" -eq 2 ]	# month, quarter
	assert_line --regexp '^  2026-Q3 +members +110 +- +5500 +-$'
	assert_line --regexp '^  2026-Q4 +members +200 +\+81\.8% +10000 +\+81\.8%$'
	assert_line --regexp '^  2026-Q4 +stores +5 +\+66\.7% +160 +\+60\.0%$'
	assert_line --regexp '^  2026-Q3 +3 +2250 +-$'
	assert_line --regexp '^  2026-Q4 +2 +3500 +\+55\.6%$'
	assert_line --regexp '^  POOL +BYTES/90 DAYS +AVG CAPACITY +HAVE +BY BYTES +BY ROTATION +MEDIA NEEDED$'
	assert_line --regexp '^  weekly +3500 +2000 +2 +2 +0 +2$'
	assert_line --regexp '^  daily +50 +- +1 +- +0 +\(capacity unknown\)$'
}

@test "report: sizes in K, M, G, T of 1024 unless -b or --raw gives bytes" {
	craft_report
	cq "UPDATE archive_tables SET bytes = 10737418240 WHERE archive = 'f1120'
	    AND tbl = 'members'"
	cq "UPDATE archives SET size = 1649267441664 WHERE name = 'f1120'"
	run -0 gb-catalog report
	assert_line --regexp '^  2026-09 +members +110 +- +5\.4K +-$'
	assert_line --regexp '^  2026-11 +members +200 +\+33\.3% +10G +\+[0-9.]+%$'
	assert_line --regexp '^  2026-09 +stores +3 +- +100 +-$'
	assert_line --regexp '^  2026-09 +3 +2\.2K +-$'
	assert_line --regexp '^  2026-11 +1 +1\.5T +'
	assert_line --regexp '^  weekly +1\.5T +2\.0K +2 +'
	run -0 gb-catalog report --raw
	assert_line --regexp '^  2026-11 +members +200 +\+33\.3% +10737418240 +'
	assert_line --regexp '^  2026-11 +1 +1649267441664 +'
	run -0 gb-catalog media list
	assert_line --regexp '^T1 +tape +weekly +usable +onsite +0 +1000 +2 *$'
	gb-catalog media add T5 --kind tape --pool weekly --capacity 1536M 2>/dev/null
	run -0 gb-catalog media list
	assert_line --regexp '^T5 +tape +weekly +usable +onsite +0 +1\.5G +0 *$'
	run -0 gb-catalog media show T5
	assert_line "capacity        1.5G"
	run -0 gb-catalog media show T5 -b
	assert_line "capacity        1610612736"
	run -0 gb-catalog archives
	assert_line --regexp '^f1120 +w +full +2026-11-20T01:00:00Z +1\.5T +1 +1 *$'
	run -0 gb-catalog archives -b
	assert_line --regexp '^f1120 +w +full +2026-11-20T01:00:00Z +1649267441664 +1 +1 *$'
}

@test "report: media needed count the rotation: a pool written every night with 7 days offsite needs 8 (gymbackup.conf(5))" {
	mkconf "$CONF" '[pool daily]
offsite = yes
offsite_days = 7

[pool weekly]
offsite = yes
offsite_days = 28

[job members-daily]
schedule = 30 2 * * *
pool = daily
media = /mnt/usb

[job full]
schedule = 0 3 * * sun
pool = weekly
media = /dev/nst0'
	gb-catalog media add U1 --kind dir --pool daily --capacity 1T
	gb-catalog media add T1 --kind tape --pool weekly --capacity 1T
	craft_archive n1 members-daily full "$(stamp -3)" n1 $((5 << 30))
	craft_copy n1 U1 n1 good "$(stamp -3)"
	run -0 gb-catalog report -b
	# by bytes one drive; by the rotation 7 away and the one written
	assert_line --regexp '^  daily +5368709120 +1099511627776 +1 +1 +8 +8$'
	# weekly, 28 days away: five Sundays in any 29 days
	assert_line --regexp '^  weekly +0 +1099511627776 +1 +0 +5 +5$'
	run -0 gb-catalog report --csv
	assert_line "daily,5368709120,1099511627776,8"
	assert_line "weekly,0,1099511627776,5"
	# a night's bytes larger than a drive: each night takes two
	craft_archive n2 members-daily full "$(stamp -2)" n2 $((3000 << 30))
	craft_copy n2 U1 n2 good "$(stamp -2)"
	run -0 gb-catalog report -b
	assert_line --regexp "^  daily +$(((5 + 3000) << 30)) +1099511627776 +1 +3 +8 +16\$"
	# without a due date every night's drive stays away: one a night
	mkconf "$CONF" '[pool daily]
offsite = yes

[job members-daily]
schedule = 30 2 * * 1-5
pool = daily
media = /mnt/usb'
	run -0 gb-catalog report -b --date "$(day 0)"
	local nights
	nights=$("$PY" -c 'import datetime as d, sys
t = d.date.fromisoformat(sys.argv[1])
print(sum((t + d.timedelta(days=i)).weekday() < 5 for i in range(1, 92)))' "$(day 0)")
	assert_line --regexp "^  daily +[0-9]+ +[0-9]+ +1 +3 +$nights +$((nights * 2))\$"
}

@test "report: retired media do not count in the average capacity" {
	craft_report
	gb-catalog media add T3 --kind tape --pool weekly --capacity 1000000 2>/dev/null
	run -0 gb-catalog media retire T3
	run -0 gb-catalog report -b
	assert_line --regexp '^  weekly +3500 +2000 +2 +2 +0 +2$'
	run -0 gb-catalog report --csv
	assert_line "weekly,3500,2000,2"
}

@test "report, media, archives, copies: names in CJK align by display width" {
	craft_report
	cq "INSERT INTO archive_tables VALUES('$(hostname)', 'f1120', '会员', 7, 70, 'x', NULL)"
	cq "INSERT INTO media(site, id, kind, pool, labelled_at) VALUES('$(hostname)', '会员盘1', 'dir',
	    '每日池', '2026-11-01T00:00:00Z')"
	craft_archive 会员-1120 w full 2026-11-21T01:00:00Z 会员-1120 10
	craft_copy 会员-1120 会员盘1 会员-1120 good 2026-11-21T02:00:00Z
	gb-catalog report >report.txt
	gb-catalog media list >media.txt
	gb-catalog archives >archives.txt
	gb-catalog copies >copies.txt
	grep -q '会员' report.txt
	grep -q '会员盘1' media.txt
	grep -q '会员-1120' archives.txt
	grep -q '会员盘1' copies.txt
	# every field of a table starts where its header starts (left
	# aligned) or ends where it ends (right aligned), in display columns
	# measured here with Python's own East Asian widths
	"$PY" - report.txt media.txt archives.txt copies.txt <<'EOF'
import re, sys, unicodedata
def width(s):
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
def fields(line):
    return [(width(line[:m.start()]), width(line[:m.end()]))
            for m in re.finditer(r"\S+(?: \S+)*", line)]
n = 0
for path in sys.argv[1:]:
    head = None
    for line in open(path, encoding="utf-8").read().split("\n"):
        if not line.strip() or line.endswith(":"):
            head = None
        elif re.fullmatch(r" *[A-Z][A-Z /0-9]*(?:  +[A-Z][A-Z /0-9]*)+", line):
            head = fields(line)
        elif head:
            for s, e in fields(line):
                assert any(s == hs or e == he for hs, he in head), \
                    (path, line, (s, e), head)
            n += 1
        else:
            raise AssertionError((path, "a line outside a table", line))
assert n >= 20, n
EOF
}

@test "report --csv: parsed, its numbers equal the catalog's" {
	craft_report
	gb-catalog report --csv >report.csv
	# the growth rows, checked against sums made here from the catalog
	cq_rows "SELECT name, level, snapshot, size FROM archives" >arch.rows
	cq_rows "SELECT archive, tbl, rows, bytes FROM archive_tables" >tables.rows
	"$PY" - report.csv <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
def read(path, ints):
    out = []
    for r in open(path, newline="").read().split("\x1e"):
        if r:
            f = r.split("\x1f")
            out.append(tuple(int(v) if i in ints else v for i, v in enumerate(f)))
    return out
tables = read("tables.rows", (2, 3))
assert rows[0] == ["period_kind", "period", "table", "rows", "bytes",
    "archive_bytes"], rows[0]
split = rows.index(["pool", "bytes_last_90_days", "average_capacity",
    "media_next_quarter"])
growth, media = rows[1:split], rows[split + 1:]
def per(kind, snap):
    if kind == "month":
        return snap[:7]
    return "%s-Q%d" % (snap[:4], (int(snap[5:7]) + 2) // 3)
arch = read("arch.rows", (3,))
want = {}
for kind in ("month", "quarter"):
    for p in sorted(set(per(kind, a[2]) for a in arch)):
        fulls = [a for a in arch if a[1] == "full" and per(kind, a[2]) == p]
        size = sum(a[3] for a in arch if per(kind, a[2]) == p)
        last = max(fulls, key=lambda a: a[2])
        for t, r, b in [x[1:] for x in tables if x[0] == last[0]]:
            want[(kind, p, t)] = (r, b, size)
got = {}
for k, p, t, r, b, s in growth:
    got[(k, p, t)] = (int(r), int(b), int(s))
assert got == want, (got, want)
assert len(growth) == 10, growth
byp = {m[0]: m for m in media}
assert set(byp) == {"weekly", "daily"}, media
assert byp["weekly"][1:] == ["3500", "2000", "2"], byp["weekly"]
assert byp["daily"][1] == "50" and byp["daily"][3] == "", byp["daily"]
EOF
}

# ----------------------------------------------------------------- audit

# audit_check DB: the hash chain recomputed here (SHA-256 over the
# length-prefixed prev, seq, at, actor, action, object, detail), its rows
# read by sqlite3, or by psql in PostgreSQL mode (cq_rows).
audit_check() {
	CAT=$1 cq_rows "SELECT seq, at, actor, action, object, detail, prev, hash
	    FROM audit ORDER BY seq" | "$PY" -c '
import hashlib, sys
prev = "0"
for row in sys.stdin.read().split("\x1e"):
    if not row:
        continue
    seq, at, actor, action, obj, detail, p, h = row.split("\x1f")
    seq = int(seq)
    assert p == prev, "entry %d: prev" % seq
    m = hashlib.sha256()
    for part in (prev, str(seq), at, actor, action, obj, detail):
        b = part.encode()
        m.update(b"%d:" % len(b) + b)
    assert m.hexdigest() == h, "entry %d: hash" % seq
    prev = h
print(prev)
'
}

@test "audit: label, write, move, expire and tested are entries; the chain is sound; --verify says OK" {
	mkconf "$CONF" '[job weekly]
retention_days = 1'
	mkdir usb
	label U1 daily usb
	put usb f1 f2
	gb-catalog move U1 --to transit --by alice --why check >/dev/null
	gb-catalog tested f2.tar.gz.gpg ok >/dev/null
	gb-catalog expire --date "$(day 3)" >/dev/null
	run -0 cq "SELECT seq || ' ' || action || ' ' || object FROM audit ORDER BY seq"
	assert_output "1 label U1
2 archive f1.tar.gz.gpg
3 write U1
4 archive f2.tar.gz.gpg
5 write U1
6 move U1
7 restore-test f2.tar.gz.gpg
8 expire f1.tar.gz.gpg"
	run -0 gb-catalog audit
	assert_line -n 5 --regexp "^ +6 [0-9T:-]+Z $(id -un) +move +U1 +onsite -> transit by alice: check\$"
	assert_line -n 7 --regexp '^ +8 .* expire +f1\.tar\.gz\.gpg +retention$'
	local head
	head=$(audit_check "$CAT")
	run -0 gb-catalog audit --verify
	assert_output "OK: audit trail intact, 8 entries, head $head"
}

@test "audit --verify: an edited entry, a deleted entry, an edited entry with its hash remade: each reported, exit 1" {
	sqlite_only "sqlite3 edits the file (twin in pgcatalog.bats, through psql)"
	gb-catalog media add M1 --kind tape --pool p 2>/dev/null
	local i
	for i in 1 2 3; do
		gb-catalog move M1 --to transit --by a >/dev/null
		gb-catalog move M1 --to onsite --by a >/dev/null
	done
	run -0 gb-catalog audit --verify
	assert_output --partial "7 entries"
	sqlite3 "$CAT" ".backup $W/orig.db"

	sqlite3 "$CAT" "DROP TRIGGER audit_no_update; UPDATE audit SET detail = 'x' WHERE seq = 2"
	run -1 gb-catalog audit --verify
	assert_output "FAIL: audit trail broken: entry 2 was edited (its hash does not match its content)"

	cp "$W/orig.db" "$CAT"
	rm -f "$CAT-wal" "$CAT-shm"
	sqlite3 "$CAT" "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 4"
	run -1 gb-catalog audit --verify
	assert_output "FAIL: audit trail broken: entry 4 is missing"

	# the forger remakes the edited entry's hash: the next one shows it
	cp "$W/orig.db" "$CAT"
	rm -f "$CAT-wal" "$CAT-shm"
	"$PY" - "$CAT" <<'EOF'
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("DROP TRIGGER audit_no_update")
seq, at, actor, action, obj, prev = db.execute("SELECT seq, at, actor, action, "
    "object, prev FROM audit WHERE seq = 3").fetchone()
detail = "onsite -> offsite by nobody"
m = hashlib.sha256()
for part in (prev, str(seq), at, actor, action, obj, detail):
    b = part.encode()
    m.update(b"%d:" % len(b) + b)
db.execute("UPDATE audit SET detail = ?, hash = ? WHERE seq = 3",
    (detail, m.hexdigest()))
db.commit()
EOF
	run -1 gb-catalog audit --verify
	assert_output "FAIL: audit trail broken: entry 4 does not follow entry 3 (removed or replaced)"
}

@test "audit: the triggers refuse UPDATE and DELETE" {
	sqlite_only "sqlite3 on the file (twin in pgcatalog.bats, through psql)"
	gb-catalog media add M1 --kind tape --pool p 2>/dev/null
	gb-catalog move M1 --to offsite --by a >/dev/null
	local before
	before=$(cq "SELECT * FROM audit")
	run sqlite3 "$CAT" "UPDATE audit SET detail = 'x' WHERE seq = 1"
	[ "$status" -ne 0 ]
	assert_output --partial "the audit trail is append-only"
	run sqlite3 "$CAT" "DELETE FROM audit WHERE seq = 2"
	[ "$status" -ne 0 ]
	assert_output --partial "the audit trail is append-only"
	[ "$(cq "SELECT * FROM audit")" = "$before" ]
	run -0 gb-catalog audit --verify
}

# ----------------------------------------------------------- concurrency

# churn K N: N times `log start jK` and a move of MK, alternately to
# transit and back onsite; run ids to ids.K, failures to fail.K.
churn() {
	local k=$1 n=$2 i to
	for i in $(seq "$n"); do
		gb-catalog log start "j$k" >>"ids.$k" 2>>"fail.$k" || echo "log $i" >>"fail.$k"
		if [ $((i % 2)) = 1 ]; then to=transit; else to=onsite; fi
		gb-catalog move "M$k" --to "$to" --by "churn$k" >/dev/null 2>>"fail.$k" ||
		    echo "move $i" >>"fail.$k"
	done
}

@test "two gb-catalog loops at once (log start and move, 50 each): all succeed, the counts are exact" {
	gb-catalog media add M1 --kind tape --pool p 2>/dev/null
	gb-catalog media add M2 --kind tape --pool p 2>/dev/null
	: >fail.1
	: >fail.2
	churn 1 50 &
	local p1=$!
	churn 2 50 &
	local p2=$!
	bg_started "$p1"
	bg_started "$p2"
	wait "$p1"
	wait "$p2"
	[ ! -s fail.1 ] || fail "loop 1: $(cat fail.1)"
	[ ! -s fail.2 ] || fail "loop 2: $(cat fail.2)"
	[ "$(cq "SELECT count(*) FROM runs WHERE job = 'j1'")" -eq 50 ]
	[ "$(cq "SELECT count(*) FROM runs WHERE job = 'j2'")" -eq 50 ]
	[ "$(cat ids.1 ids.2 | sort -un | wc -l)" -eq 100 ]
	[ "$(cq "SELECT count(*) FROM movements WHERE medium = 'M1' AND by = 'churn1'")" -eq 50 ]
	[ "$(cq "SELECT count(*) FROM movements WHERE medium = 'M2' AND by = 'churn2'")" -eq 50 ]
	[ "$(cq "SELECT group_concat(location) FROM media")" = "onsite,onsite" ]
	[ "$(cq "SELECT count(*) FROM audit WHERE action = 'move'")" -eq 100 ]
	[ "$(cq "SELECT max(seq) FROM audit")" -eq 102 ]
	run -0 gb-catalog audit --verify
	assert_output --partial "102 entries"
	audit_check "$CAT" >/dev/null
}

@test "check: a run whose pid now belongs to a later process, even one named gb-backup, is marked failed; a run its process started before is left running" {
	check_ok
	(exec -a gb-backup sleep 600) &
	local live=$!
	# the pid's process started after this run began: not its gb-backup
	cq "INSERT INTO runs(site, job, started, status, pid, host) VALUES('$(hostname)', 'w', '2026-01-01T00:00:00Z', 'running', $live, '$(hostname)')"
	# and one it may own, begun after it started
	sleep 1
	cq "INSERT INTO runs(site, job, started, status, pid, host) VALUES('$(hostname)', 'w', '$(date -u +%Y-%m-%dT%H:%M:%SZ)', 'running', $live, '$(hostname)')"
	run gb-catalog check
	kill "$live"
	assert_failure 1
	assert_line "run 1 of job w (started 2026-01-01T00:00:00Z): its gb-backup (pid $live) is gone, killed; marked failed"
	refute_output --partial "run 2 of"
	[ "$(cq "SELECT group_concat(status) FROM (SELECT status FROM runs ORDER BY id) AS t")" = "failed,running" ]
}
