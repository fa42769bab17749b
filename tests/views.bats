#!/usr/bin/env bats
# gb-catalog's views of the sites of a chain (gb-catalog(1) SITE VIEWS):
# check --all-sites naming each problem's site, report --site and
# --all-sites (text, CSV, and one HTML page read back by a real browser),
# due --site and chain --site; on a SQLite catalog holding three sites'
# rows, then on the PostgreSQL test server with a role per site and one
# for head office (row-level security: a site's role sees its own site).

load helper
load pg

setup_file() {
	export TZ=UTC
	pg_start
}

teardown_file() { pg_stop; }

setup() {
	gb_setup
	CAT="$W/catalog.db"
	mkdir -p "$W/spool"
}

teardown() { gb_teardown; }

DATE=2026-11-30

# site_conf FILE SITE [CATALOG]: a config of SITE ([site] name) on the
# catalog $CAT (or the connection string CATALOG), its pools as head
# office knows them: daily rotates offsite for 7 days.
site_conf() {
	local where="path = $CAT"
	[ -z "${3-}" ] || where="uri = $3"
	cat >"$1" <<EOF
[site]
name = $2

[catalog]
$where

[spool]
dir = $W/spool

[pool daily]
offsite = yes
offsite_days = 7
EOF
}

# fixture: the rows of three sites, as each site's tools write them.
# store-a is well; store-b has not backed up since 1 November, its
# drive U1 (store-a has a U1 too) is overdue from the vault, its copy
# never verified, and no restore test; store-c's weekly run hangs, with
# no good copy and only a restore test recorded by hand.
fixture() {
	cat <<'EOF'
INSERT INTO media(site, id, kind, pool, capacity, state, location,
    labelled_at, last_written, due_back) VALUES
 ('store-a', 'U1', 'dir', 'daily', 1099511627776, 'usable', 'onsite',
  '2026-08-01T00:00:00Z', '2026-11-30T02:40:00Z', NULL),
 ('store-a', 'U2', 'dir', 'daily', 1099511627776, 'usable', 'offsite',
  '2026-08-01T00:00:00Z', '2026-11-29T02:40:00Z', '2026-12-06T09:00:00Z'),
 ('store-b', 'U1', 'dir', 'daily', 1099511627776, 'usable', 'offsite',
  '2026-08-01T00:00:00Z', '2026-11-01T02:40:00Z', '2026-11-25T09:00:00Z'),
 ('store-c', 'T1', 'tape', 'weekly', NULL, 'usable', 'onsite',
  '2026-08-01T00:00:00Z', NULL, NULL);
INSERT INTO movements(site, medium, at, from_loc, to_loc, by, why) VALUES
 ('store-a', 'U2', '2026-11-29T09:00:00Z', 'onsite', 'offsite', 'courier', NULL),
 ('store-b', 'U1', '2026-11-18T09:00:00Z', 'onsite', 'offsite', 'courier', NULL);
INSERT INTO archives(name, job, level, export_id, base_id, chain, site,
    source, snapshot, size, sha256, packed_size, packed_sha256, rows, seal,
    recorded_at) VALUES
 ('a-n1129.tar.gz.gpg', 'nightly', 'full', 'a1129', NULL, 'a1129', 'store-a',
  'sqlite', '2026-11-29T02:30:00Z', 2147483648, 'x', 1, 'x', 90, 'seal',
  '2026-11-29T02:35:00Z'),
 ('a-n1130.tar.gz.gpg', 'nightly', 'full', 'a1130', NULL, 'a1130', 'store-a',
  'sqlite', '2026-11-30T02:30:00Z', 2147483648, 'x', 1, 'x', 100, 'seal',
  '2026-11-30T02:35:00Z'),
 ('b-n1101.tar.gz.gpg', 'nightly', 'full', 'b1101', NULL, 'b1101', 'store-b',
  'sqlite', '2026-11-01T02:30:00Z', 3221225472, 'x', 1, 'x', 300, 'seal',
  '2026-11-01T02:35:00Z'),
 ('c-w1127.tar.gz.gpg', 'weekly', 'full', 'c1127', NULL, 'c1127', 'store-c',
  'sqlite', '2026-11-27T03:00:00Z', 5368709120, 'x', 1, 'x', 40, 'seal',
  '2026-11-27T03:05:00Z');
INSERT INTO archive_tables(site, archive, tbl, rows, bytes, sha256) VALUES
 ('store-a', 'a-n1129.tar.gz.gpg', 'members', 90, 4500, 'x'),
 ('store-a', 'a-n1130.tar.gz.gpg', 'members', 100, 5000, 'x'),
 ('store-b', 'b-n1101.tar.gz.gpg', 'lockers', 300, 9000, 'x'),
 ('store-c', 'c-w1127.tar.gz.gpg', 'classes', 40, 800, 'x');
INSERT INTO copies(site, archive, medium, position, status, started_at,
    written_at, verified_at) VALUES
 ('store-a', 'a-n1129.tar.gz.gpg', 'U2', 'a-n1129.tar.gz.gpg', 'good',
  '2026-11-29T02:36:00Z', '2026-11-29T02:40:00Z', '2026-11-29T03:00:00Z'),
 ('store-a', 'a-n1130.tar.gz.gpg', 'U1', 'a-n1130.tar.gz.gpg', 'good',
  '2026-11-30T02:36:00Z', '2026-11-30T02:40:00Z', '2026-11-30T03:00:00Z'),
 ('store-b', 'b-n1101.tar.gz.gpg', 'U1', 'b-n1101.tar.gz.gpg', 'good',
  '2026-11-01T02:36:00Z', '2026-11-01T02:40:00Z', NULL);
INSERT INTO runs(site, job, started, ended, status, pid, host) VALUES
 ('store-a', 'nightly', '2026-11-29T02:30:00Z', '2026-11-29T02:31:00Z',
  'failed', NULL, 'a-host'),
 ('store-a', 'nightly', '2026-11-30T02:30:00Z', '2026-11-30T02:41:00Z', 'ok',
  NULL, 'a-host'),
 ('store-b', 'nightly', '2026-11-01T02:30:00Z', '2026-11-01T02:41:00Z', 'ok',
  NULL, 'b-host'),
 ('store-c', 'weekly', '2026-11-27T03:00:00Z', NULL, 'running', NULL,
  'c-host');
INSERT INTO checks(site, kind, archive, medium, at, ok, detail, manual) VALUES
 ('store-a', 'restore-test', 'a-n1129.tar.gz.gpg', 'U2',
  '2026-11-20T10:00:00Z', 1, NULL, 0),
 ('store-c', 'restore-test', 'c-w1127.tar.gz.gpg', NULL,
  '2026-11-28T10:00:00Z', 1, 'looked fine', 1);
EOF
}

# three_sites: the SQLite catalog $CAT made by a tool of store-a, the
# fixture's rows in it, and the configs a.conf, b.conf, c.conf of the
# sites and hq.conf of head office (no jobs, no rows of its own).
three_sites() {
	local s
	for s in a b c; do
		site_conf "$s.conf" "store-$s"
	done
	site_conf hq.conf hq
	run -1 gb-catalog -c a.conf check --date $DATE
	fixture | sqlite3 -bail "$CAT" || fail "the fixture"
}

CHECK_ALL="site store-b: job nightly: no good backup within 26 hours (last 2026-11-01T02:30:00Z)
site store-b: medium U1: overdue to come back (offsite, due 2026-11-25T09:00:00Z)
site store-b: restore test: none recorded; run gb-restore --test
site store-b: copy of b-n1101.tar.gz.gpg on U1: never verified (written 2026-11-01T02:40:00Z)
site store-c: job weekly: no good backup yet
site store-c: restore test: only one recorded by hand (2026-11-28T10:00:00Z), which does not count; run gb-restore --test
site store-c: run 4 of job weekly: running since 2026-11-27T03:00:00Z on c-host; if no gb-backup runs it, it was killed"

CSV_ALL="site,archives,archive_bytes,runs_ok,runs_failed,restore_tests_ok,restore_tests_failed,media,media_offsite,last_good_backup,last_restore_test
store-a,2,4294967296,1,1,1,0,2,1,2026-11-30T02:30:00Z,2026-11-20T10:00:00Z
store-b,1,3221225472,1,0,0,0,1,1,2026-11-01T02:30:00Z,
store-c,1,5368709120,0,0,0,0,1,0,,
site,period_kind,period,table,rows,bytes,archive_bytes
store-a,month,2026-11,members,100,5000,4294967296
store-a,quarter,2026-Q4,members,100,5000,4294967296
store-b,month,2026-11,lockers,300,9000,3221225472
store-b,quarter,2026-Q4,lockers,300,9000,3221225472
store-c,month,2026-11,classes,40,800,5368709120
store-c,quarter,2026-Q4,classes,40,800,5368709120
site,pool,bytes_last_90_days,average_capacity,media_next_quarter
store-a,daily,4294967296,1099511627776,1
store-b,daily,3221225472,1099511627776,1
store-c,daily,0,0,
store-c,weekly,0,0,"

CHAIN_B="to restore the state at 2026-11-30T23:59:59Z:
job nightly:
  full         2026-11-01T02:30:00Z  b-n1101.tar.gz.gpg
      on U1 (offsite, file b-n1101.tar.gz.gpg)"

# ---------------------------------------------------------------- check

@test "check --all-sites: one line per problem, each naming its site; a well site says nothing; exit 1" {
	three_sites
	run -1 gb-catalog -c hq.conf check --all-sites --date $DATE
	assert_output "$CHECK_ALL"
	# a site's own host asks the same: the same lines
	run -1 gb-catalog -c a.conf check --all-sites --date $DATE
	assert_output "$CHECK_ALL"
	# one site: its lines alone, still named
	run -1 gb-catalog -c hq.conf check --site store-c --date $DATE
	assert_output "$(grep '^site store-c: ' <<<"$CHECK_ALL")"
	run -0 gb-catalog -c a.conf check -v --site store-a --date $DATE
	assert_output "OK: no problems"
}

@test "check --all-sites: another site's jobs are those it ran in 91 days, held to this config's [job] when it has one" {
	three_sites
	# head office describes the weekly job: held to its week, it is late
	# only once its week is out
	printf '\n[job weekly]\nschedule = 0 3 * * fri\npool = daily\nmedia = %s\n' \
	    "$W/spool" >>hq.conf
	run -1 gb-catalog -c hq.conf check --site store-c --date 2026-11-28
	assert_output "site store-c: job weekly: no good backup yet
site store-c: restore test: only one recorded by hand (2026-11-28T10:00:00Z), which does not count; run gb-restore --test"
	# a job that has not run in 91 days is retired: not held to anything
	run -1 gb-catalog -c hq.conf check --site store-b --date 2027-02-01
	refute_output --partial "job nightly"
	assert_line "site store-b: restore test: none recorded; run gb-restore --test"
	# store-b's hung run is none of this host's: reported, never marked
	sqlite3 "$CAT" "INSERT INTO runs(site, job, started, status, pid, host)
	    VALUES('store-b', 'nightly', '2026-11-29T02:30:00Z', 'running', $$,
	    '$(hostname)')"
	run -1 gb-catalog -c hq.conf check --site store-b --date $DATE
	assert_line "site store-b: run 5 of job nightly: running since 2026-11-29T02:30:00Z on $(hostname); if no gb-backup runs it, it was killed"
	[ "$(sqlite3 "$CAT" "SELECT status FROM runs WHERE id = 5")" = running ]
}

@test "check --all-sites: this host's problems are its own site's, named with it" {
	three_sites
	# a temporary file a killed tool left in this host's spool
	touch "$W/spool/a.seal.tmp.999999.Abc123"
	run -1 gb-catalog -c hq.conf check --all-sites --date $DATE
	assert_line -n 7 "site hq: temporary file $W/spool/a.seal.tmp.999999.Abc123: left by process 999999, which did not finish; remove it"
	run -1 gb-catalog -c hq.conf check --site store-b --date $DATE
	refute_output --partial temporary
	# store-a's host: with its site's lines
	run -1 gb-catalog -c a.conf check --site store-a --date $DATE
	assert_output --regexp "^site store-a: temporary file .*999999"
}

# --------------------------------------------------------------- report

@test "report --all-sites --csv: the summary of every site, then each part with the site first" {
	three_sites
	run -0 gb-catalog -c hq.conf report --csv --all-sites --date $DATE
	assert_output "$CSV_ALL"
	# one site: the report's own parts, only its rows
	run -0 gb-catalog -c hq.conf report --csv --site store-b --date $DATE
	assert_output "period_kind,period,table,rows,bytes,archive_bytes
month,2026-11,lockers,300,9000,3221225472
quarter,2026-Q4,lockers,300,9000,3221225472
pool,bytes_last_90_days,average_capacity,media_next_quarter
daily,3221225472,1099511627776,1"
}

@test "report --all-sites: the summary's lines and total, then each site's report under its name" {
	three_sites
	run -0 gb-catalog -c hq.conf report -b --all-sites --date $DATE
	assert_line -n 0 "every site, the 91 days up to 2026-11-30 (restore tests: those of gb-restore --test):"
	assert_line -n 1 --regexp "^  SITE +ARCHIVES +ARCHIVE BYTES +RUNS OK +RUNS FAILED +TESTS OK +TESTS FAILED +MEDIA +OFFSITE +LAST GOOD BACKUP +LAST RESTORE TEST$"
	assert_line -n 2 --regexp "^  store-a +2 +4294967296 +1 +1 +1 +0 +2 +1 +2026-11-30T02:30:00Z +2026-11-20T10:00:00Z$"
	assert_line -n 3 --regexp "^  store-b +1 +3221225472 +1 +0 +0 +0 +1 +1 +2026-11-01T02:30:00Z +never$"
	assert_line -n 4 --regexp "^  store-c +1 +5368709120 +0 +0 +0 +0 +1 +0 +never +never$"
	assert_line -n 5 --regexp "^  total +4 +12884901888 +2 +1 +1 +0 +4 +2 +2026-11-30T02:30:00Z +2026-11-20T10:00:00Z$"
	# each site's part: its tables and pools alone
	echo "$output" | awk '/^site /{s=$2} s && /^  2026-11 +[a-z]/{print s, $2}' >parts
	[ "$(cat parts)" = "store-a: members
store-b: lockers
store-c: classes" ] || fail "growth by site: $(cat parts)"
	[ "$(echo "$output" | grep -c '^site ')" = 3 ]
	# --site: the site's report alone, named
	run -0 gb-catalog -c hq.conf report -b --site store-c --date $DATE
	assert_line -n 0 "site store-c:"
	assert_line -n 1 "growth by month:"
	assert_line --regexp "^  2026-11 +classes +40 +- +800 +-$"
	refute_output --partial members
	refute_output --partial lockers
}

# parts_py DOM: what the page of every site holds, read by python's
# html.parser: ids, in-page links, per site its tables, media, jobs.
parts_py='
import sys, json
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.hrefs, self.site, self.sites = [], [], None, {}
        self.depth, self.sdepth, self.summary = 0, None, []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.depth += 1
            if "site" in (a.get("class") or "").split():
                self.site, self.sdepth = a["data-site"], self.depth
                self.sites[self.site] = {"tables": [], "pools": [], "jobs": []}
        if "id" in a:
            self.ids.append(a["id"])
        if "href" in a:
            self.hrefs.append(a["href"])
        if tag == "tr" and "site" in (a.get("class") or "").split() and self.site is None:
            self.summary.append([a["data-site"], a["data-archives"], a["data-bytes"],
                a["data-runs-ok"], a["data-runs-failed"], a["data-media"]])
        if tag == "tr" and a.get("class") == "total":
            self.summary.append(["total", a["data-archives"], a["data-bytes"],
                a["data-runs-ok"], a["data-runs-failed"], a["data-media"]])
        if self.site:
            for k, v in (("data-table", "tables"), ("data-pool", "pools"), ("data-job", "jobs")):
                if k in a and a[k] not in self.sites[self.site][v]:
                    self.sites[self.site][v].append(a[k])
    def handle_endtag(self, tag):
        if tag == "section":
            if self.depth == self.sdepth:
                self.site = self.sdepth = None
            self.depth -= 1
p = P()
p.feed(open(sys.argv[1], encoding="utf-8").read())
for h in p.hrefs:
    assert h.startswith("#") and h[1:] in p.ids, "a link to no part: %r" % h
assert len(set(p.ids)) == len(p.ids), "an id twice"
print(json.dumps({"ids": p.ids, "sites": p.sites, "summary": p.summary}, sort_keys=True))
'

@test "report --html --all-sites: one page, a summary linked to each site's part, each part its site's alone (read back by chromium)" {
	three_sites
	# a fourth site with a hostile name: escaped, and an anchor of its own
	sqlite3 "$CAT" "INSERT INTO media(site, id, kind, pool, labelled_at)
	    VALUES('<b>&x y', 'Z1', 'dir', 'z<pool>', '2026-08-01T00:00:00Z')"
	run -0 gb-catalog -c hq.conf report --html all.html --all-sites --date $DATE
	assert_output ""
	! grep -F -q '<b>&x' all.html || fail "a raw site name in the page"
	grep -F -q '<title>gymbackup: quarterly review (季度评估) 2026-11-30: every site</title>' all.html
	grep -F -q '@media print{section.site{break-before:page}}' all.html
	command -v chromium >/dev/null || fail "chromium is not installed"
	timeout 120 chromium --headless --no-sandbox --disable-gpu \
	    --user-data-dir="$BATS_TEST_TMPDIR/chromium" --no-first-run \
	    --disable-background-networking --disable-component-update \
	    --disable-sync --dump-dom "file://$W/all.html" >dom.html \
	    2>"$BATS_TEST_TMPDIR/chromium.log"
	"$PY" -c "$parts_py" dom.html >parts.json
	"$PY" - parts.json <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
ids = d["ids"]
want = ["summary"]
for a in ("site-_3Cb_3E_26x_20y", "site-store-a", "site-store-b", "site-store-c"):
    want += [a] + [a + "-" + s for s in ("growth", "runs", "restores", "media", "next")]
assert ids == want, ids
assert d["summary"] == [
    ["<b>&x y", "0", "0", "0", "0", "1"],
    ["store-a", "2", "4294967296", "1", "1", "2"],
    ["store-b", "1", "3221225472", "1", "0", "1"],
    ["store-c", "1", "5368709120", "0", "0", "1"],
    ["total", "4", "12884901888", "2", "1", "5"]], d["summary"]
s = {k: {w: sorted(v) for w, v in p.items()} for k, p in d["sites"].items()}
assert sorted(s) == ["<b>&x y", "store-a", "store-b", "store-c"], sorted(s)
assert s["store-a"] == {"tables": ["members"], "pools": ["daily"], "jobs": ["nightly"]}, s["store-a"]
assert s["store-b"] == {"tables": ["lockers"], "pools": ["daily"], "jobs": ["nightly"]}, s["store-b"]
assert s["store-c"] == {"tables": ["classes"], "pools": ["daily", "weekly"], "jobs": ["weekly"]}, s["store-c"]
assert s["<b>&x y"] == {"tables": [], "pools": ["daily", "z<pool>"], "jobs": []}, s["<b>&x y"]
EOF
	# each site's media in its own part: store-a's U1 onsite, store-b's offsite
	"$PY" - dom.html <<'EOF'
import sys, re
t = open(sys.argv[1], encoding="utf-8").read()
a = t[t.index('id="site-store-a"'):t.index('id="site-store-b"')]
b = t[t.index('id="site-store-b"'):t.index('id="site-store-c"')]
assert re.search(r'<td class="onsite" data-count="1"><b>1</b> U1</td>', a), "store-a's U1"
assert re.search(r'<td class="offsite" data-count="1"><b>1</b> U2</td>', a), "store-a's U2"
assert re.search(r'<td class="offsite" data-count="1"><b>1</b> U1</td>', b), "store-b's U1"
assert "a-n11" not in b and "b-n1101" not in a, "another site's archives"
EOF
	# --site: the page of one site, named; the same parts as a site's own
	run -0 gb-catalog -c hq.conf report --html b.html --site store-b --date $DATE
	grep -F -q '<h1>Quarterly review (季度评估), 2026-11-30: site store-b</h1>' b.html
	grep -F -q '<section id="growth">' b.html
	! grep -F -q 'members' b.html || fail "store-a's table in store-b's page"
}

# ------------------------------------------------------------ due, chain

@test "due --site, --all-sites: each site's media to send and to recall; -q names only the sites with work" {
	three_sites
	run -0 gb-catalog -c hq.conf due --site store-a --date $DATE
	assert_output "send offsite:
  U1               pool daily      written 2026-11-30T02:40:00Z
recall (due back by 2026-11-30):
  (none)"
	run -0 gb-catalog -c hq.conf due --site store-b --date $DATE
	assert_output "send offsite:
  (none)
recall (due back by 2026-11-30):
  U1               pool daily      due 2026-11-25T09:00:00Z"
	run -0 gb-catalog -c hq.conf due -q --all-sites --date $DATE
	assert_output "site store-a:
send offsite:
  U1               pool daily      written 2026-11-30T02:40:00Z
recall (due back by 2026-11-30):
  (none)
site store-b:
send offsite:
  (none)
recall (due back by 2026-11-30):
  U1               pool daily      due 2026-11-25T09:00:00Z"
	run -0 gb-catalog -c hq.conf due --all-sites --date $DATE
	assert_line "site store-c:"
}

@test "chain --site: the site's chain of a job two sites share the name of, on its own media" {
	three_sites
	run -0 gb-catalog -c hq.conf chain --site store-b --at $DATE
	assert_output "$CHAIN_B"
	run -0 gb-catalog -c hq.conf chain --site store-a --at 2026-11-29T12:00:00Z
	assert_output "to restore the state at 2026-11-29T12:00:00Z:
job nightly:
  full         2026-11-29T02:30:00Z  a-n1129.tar.gz.gpg
      on U2 (offsite, file a-n1129.tar.gz.gpg)"
	run -0 gb-catalog -c hq.conf chain --all-sites --at $DATE
	assert_line -n 0 "site store-a: to restore the state at 2026-11-30T23:59:59Z:"
	assert_line -n 3 "      on U1 (onsite, file a-n1130.tar.gz.gpg)"
	assert_line -n 4 "site store-b: to restore the state at 2026-11-30T23:59:59Z:"
	assert_line -n 7 "      on U1 (offsite, file b-n1101.tar.gz.gpg)"
	assert_line -n 8 "site store-c: to restore the state at 2026-11-30T23:59:59Z:"
	assert_line -n 11 "      NO GOOD COPY on any medium"
	# store-a's U2 taken in by store-c (move --to-site, receive): the copy
	# on it is where the medium is now
	sqlite3 "$CAT" "UPDATE media SET site = 'store-c', location = 'onsite',
	    due_back = NULL WHERE site = 'store-a' AND id = 'U2'"
	run -0 gb-catalog -c hq.conf chain --site store-a --at 2026-11-29T12:00:00Z
	assert_line -n 3 "      on U2 (onsite at site store-c, file a-n1129.tar.gz.gpg)"
	# a site with no full then: exit 1, the others still shown
	run -1 gb-catalog -c hq.conf chain --all-sites --at 2026-11-28
	assert_line "site store-a: to restore the state at 2026-11-28T23:59:59Z:"
	assert_line "  no full archive at or before that time"
}

# --------------------------------------------------------------- usage

@test "--site and --all-sites: not both; a site the catalog does not know; only the views take them" {
	three_sites
	run -2 gb-catalog -c hq.conf report --site store-a --all-sites
	assert_line -n 0 "gb-catalog: report: --site or --all-sites, not both"
	assert_line -n 1 "usage: gb-catalog [-c conf] report [-b] [--csv | --html file] [--date date]"
	run -2 gb-catalog -c hq.conf check --site store-x
	assert_output "gb-catalog: --site store-x: no such site in the catalog"
	run -2 gb-catalog -c hq.conf archives --all-sites
	assert_line -n 0 "gb-catalog: archives does not take --all-sites (it takes --raw, --job)"
	# the config's own site is known even before it has rows
	run -0 gb-catalog -c hq.conf due --site hq --date $DATE
	assert_output "send offsite:
  (none)
recall (due back by 2026-11-30):
  (none)"
}

# ----------------------------------------------------------- PostgreSQL

# pg_site_conf FILE SITE ROLE: a config of SITE logging in as ROLE to the
# catalog gbcat on the test server.
pg_site_conf() {
	site_conf "$1" "$2" "host=$PGHOST dbname=gbcat user=$3"
}

# pg_three_sites: the catalog gbcat made by its owner (gb), with its roles
# and policies; the login roles site_a, site_b, site_c of the three sites
# (members of gb_site_host, each writing its site) and hq of head office
# (a member of gb_head_office); the fixture's rows.
pg_three_sites() {
	new_db gbcat
	pg_site_conf owner.conf store-a gb
	run gb-catalog -c owner.conf check --date $DATE
	[ "$status" = 1 ] || fail "the catalog not made: $output"
	psqlc -d gbcat <<'EOF'
DO $$ BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hq') THEN
		CREATE ROLE site_a LOGIN IN ROLE gb_site_host;
		CREATE ROLE site_b LOGIN IN ROLE gb_site_host;
		CREATE ROLE site_c LOGIN IN ROLE gb_site_host;
		CREATE ROLE hq LOGIN IN ROLE gb_head_office;
	END IF;
END $$;
EOF
	local s
	for s in a b c; do
		gb-catalog -c owner.conf site add "store-$s" "site_$s" ||
		    fail "site add store-$s"
	done
	fixture | psqlc -d gbcat || fail "the fixture"
}

@test "PostgreSQL, head office: check, report, chain of three sites, as on SQLite" {
	pg_three_sites
	pg_site_conf hq.conf hq hq
	run -1 gb-catalog -c hq.conf check --all-sites --date $DATE
	assert_output "$CHECK_ALL"
	run -0 gb-catalog -c hq.conf report --csv --all-sites --date $DATE
	assert_output "$CSV_ALL"
	run -0 gb-catalog -c hq.conf chain --site store-b --at $DATE
	assert_output "$CHAIN_B"
	gb-catalog -c hq.conf report --html all.html --all-sites --date $DATE
	"$PY" -c "$parts_py" all.html >parts.json
	grep -F -q '"summary": [["store-a", "2", "4294967296", "1", "1", "2"]' parts.json
	gb-catalog -c hq.conf report -b --all-sites --date $DATE >report.txt
	grep -E -q '^  total +4 +12884901888 +2 +1 +1 +0 +4 +2 ' report.txt
}

@test "PostgreSQL, a site's role: --all-sites shows its own site alone; another site is not one it may read" {
	pg_three_sites
	pg_site_conf b.conf store-b site_b
	printf '\n[job nightly]\nschedule = 30 2 * * *\npool = daily\n' >>b.conf
	run -1 gb-catalog -c b.conf check --all-sites --date $DATE
	assert_output "$(grep '^site store-b: ' <<<"$CHECK_ALL")"
	run -0 gb-catalog -c b.conf report --csv --all-sites --date $DATE
	assert_line -n 1 "store-b,1,3221225472,1,0,0,0,1,1,2026-11-01T02:30:00Z,"
	assert_line -n 2 "site,period_kind,period,table,rows,bytes,archive_bytes"
	run -2 gb-catalog -c b.conf chain --site store-a --at $DATE
	assert_output "gb-catalog: --site store-a: no such site in the catalog, or not one this role may read"
	# without either option: what it may read, its own site, as ever
	run -0 gb-catalog -c b.conf chain --at $DATE
	assert_output "$CHAIN_B"
}
