#!/usr/bin/env bats
# gb-catalog report --html: the quarterly review (季度评估) as one page,
# loaded in a real headless browser (Debian's chromium): its SVG charts
# drawn, its numbers those of the catalog (sqlite3 or psql and python3
# here, or the text report), no request to any network, every catalog
# string escaped.
# The screenshot is kept in $GB_TEST_OUT (default tests/out)/report/.

load helper
load media-helper

setup_file() {
	media_setup_file nokeys
	export TZ=UTC
	OUT=${GB_TEST_OUT:-$TOP/tests/out}/report
	export OUT
	mkdir -p "$OUT"
}

setup() {
	gb_setup
	CAT="$W/catalog.db"
	CONF="$W/gb.conf"
	export GB_CONF="$CONF"
	HOSTILE='<script>alert(1)</script>&x'
	cat >"$CONF" <<EOF
[catalog]
path = $CAT

[pool daily]
offsite = yes
offsite_days = 7

[pool weekly]
retention_days = 90

[job members-daily]
schedule = 30 2 * * *
pool = daily
media = /mnt/usb

[job weekly-full]
schedule = 0 3 * * sun
pool = weekly
media = /dev/nst0
EOF
}

teardown() { gb_teardown; }

DATE=2026-11-30

# The quarter of the review (13 weeks to $DATE): fulls in each month with
# their tables (会员, a hostile name, stores), ten nightly archives on the
# daily drives, the run log of both jobs with a failed and a missing day
# each, restore tests, media onsite, in transit, offsite and retired.
craft_quarter() {
	local m
	for m in "U1 dir daily 1T" "U2 dir daily 1T" "U3 dir daily 1T" \
	    "T1 tape weekly 500G" "T2 tape weekly 800G"; do
		set -- $m
		gb-catalog media add "$1" --kind "$2" --pool "$3" --capacity "$4" ||
		    fail "media add $1"
	done
	# not the ids gb-write allows: a catalog edited by hand is hostile too
	cq "INSERT INTO media(site, id, kind, pool, capacity, location, labelled_at)
	    VALUES('$(hostname)', 'M<b>&1', 'tape', 'weekly', 751619276800, 'offsite',
	    '2026-08-01T00:00:00Z'), ('$(hostname)', 'U4', 'dir', 'daily', 109951162777600,
	    'onsite', '2026-08-01T00:00:00Z');
	    UPDATE media SET state = 'retired' WHERE id = 'U4';
	    UPDATE media SET location = 'offsite' WHERE id = 'U2';
	    UPDATE media SET location = 'transit' WHERE id = 'U3'"
	local f
	for f in "f0810 2026-08-10 100 90" "f0915 2026-09-15 300 100" \
	    "f1010 2026-10-10 310 150" "f1120 2026-11-20 320 200"; do
		set -- $f
		craft_archive "$1" weekly-full full "$2T03:00:00Z" "$1" \
		    $(($3 << 30))
		cq "INSERT INTO archive_tables VALUES('$(hostname)', '$1', '会员', $4,
		    $(($4 * 50)), 'x', NULL), ('$(hostname)', '$1',
		    '$(sql_quote "$HOSTILE")', 7, 700, 'x', NULL), ('$(hostname)',
		    '$1', 'stores', 3, 100, 'x', NULL)"
	done
	craft_copy f0915 T2 1 good 2026-09-15T05:00:00Z
	craft_copy f1010 T1 1 good 2026-10-10T05:00:00Z
	craft_copy f1120 'M<b>&1' 1 good 2026-11-20T05:00:00Z
	local d u=0
	for d in 01 04 07 10 13 16 19 22 25 28; do
		u=U$((${u#U} % 3 + 1))
		craft_archive "n11$d" members-daily full "2026-11-${d}T02:30:00Z" \
		    "n11$d" $((2 << 30))
		craft_copy "n11$d" "$u" "n11$d.tar.gz.gpg" good \
		    "2026-11-${d}T02:40:00Z"
	done
	# the run log: every night from August on, but for these days (the
	# days counted by date(1): SQL has no date arithmetic both dialects
	# share)
	local day wday nightly=() weekly=()
	while read -r day wday; do
		[ "$day" = 2026-11-11 ] || nightly+=("('$(hostname)', 'members-daily',
		    '${day}T02:30:00Z', '${day}T02:40:00Z', '$([ "$day" = 2026-11-10 ] &&
		    echo failed || echo ok)')")
		[ "$wday" != 0 ] || [ "$day" = 2026-10-18 ] || weekly+=("('$(hostname)',
		    'weekly-full', '${day}T03:00:00Z', '${day}T04:00:00Z', '$([ "$day" = \
		    2026-09-27 ] && echo failed || echo ok)')")
	done < <(seq 0 $((($(date -u -d $DATE +%s) - $(date -u -d 2026-08-01 +%s)) /
	    86400)) | sed 's/.*/2026-08-01 + & days/' | date -u -f - '+%F %w')
	cq "INSERT INTO runs(site, job, started, ended, status) VALUES
	    $(IFS=,; echo "${nightly[*]},${weekly[*]}");
	    INSERT INTO runs(site, job, started, ended, status) VALUES('$(hostname)', 'members-daily',
	    '2026-10-05T01:00:00Z', '2026-10-05T01:10:00Z', 'failed'),
	    ('$(hostname)', '$(sql_quote "$HOSTILE")', '2026-11-02T05:00:00Z', NULL, 'failed')"
	cq "INSERT INTO checks(kind, archive, medium, at, ok, detail, site) VALUES
	    ('restore-test', 'f0810.tar.gz.gpg', NULL, '2026-08-20T10:00:00Z', 1, NULL, '$(hostname)'),
	    ('restore-test', 'f0915.tar.gz.gpg', 'T2', '2026-10-01T10:00:00Z', 1, NULL, '$(hostname)'),
	    ('restore-test', 'f1010.tar.gz.gpg', 'T1', '2026-11-15T10:00:00Z', 0,
	     '$(sql_quote "$HOSTILE")', '$(hostname)'),
	    ('restore-test', 'f1120.tar.gz.gpg', 'M<b>&1', '2026-11-28T10:00:00Z', 1, NULL, '$(hostname)'),
	    ('verify', 'f1120.tar.gz.gpg', 'M<b>&1', '2026-11-21T10:00:00Z', 1, NULL, '$(hostname)')"
	# one recorded by hand: shown apart, never counted as ok
	cq "INSERT INTO checks(site, kind, archive, medium, at, ok, detail, manual)
	    VALUES('$(hostname)', 'restore-test', 'f1120.tar.gz.gpg', NULL,
	    '2026-11-29T10:00:00Z', 1, 'looked fine', 1)"
}

sql_quote() { printf '%s' "${1//\'/\'\'}"; }

# chromium ARGS...: Debian's chromium, headless, its profile in the test's
# directory.
browser() {
	command -v chromium >/dev/null ||
	    fail "chromium is not installed: make deps (scripts/deps.sh) installs it"
	timeout 120 chromium --headless --no-sandbox --disable-gpu \
	    --user-data-dir="$BATS_TEST_TMPDIR/chromium" --no-first-run \
	    --disable-background-networking --disable-component-update \
	    --disable-sync "$@" 2>>"$BATS_TEST_TMPDIR/chromium.log"
}

@test "report --html: one page, written whole, nothing on stdout; a directory not there is exit 3" {
	craft_quarter
	run -0 gb-catalog report --html "$W/r.html" --date $DATE
	assert_output ""
	[ -s r.html ]
	[ "$(stat -c %a r.html)" = 644 ] || fail "mode $(stat -c %a r.html)"
	# nothing left beside it, and a directory that is not there: exit 3
	[ "$(ls -A "$W" | grep -c '\.tmp\.')" -eq 0 ]
	run -3 gb-catalog report --html "$W/no/such/r.html" --date $DATE
	assert_output --regexp "^gb-catalog: $W/no/such/r\.html: No such file or directory$"
	[ ! -e "$W/no" ]
	# the same page again: the same bytes (nothing of the clock in it)
	gb-catalog report --html r2.html --date $DATE
	cmp r.html r2.html
}

@test "report --html: every catalog string escaped: a table, a job, a medium, a detail named <script>...&" {
	craft_quarter
	gb-catalog report --html r.html --date $DATE
	# the raw name never appears; its escaped form does, as text and in
	# attributes
	! grep -F -q '<script' r.html || fail "a raw <script in the page"
	! grep -F -q '<b>&1' r.html || fail "a raw medium id in the page"
	grep -F -q '&lt;script&gt;alert(1)&lt;/script&gt;&amp;x' r.html
	grep -F -q 'M&lt;b&gt;&amp;1' r.html
	# and the browser reads it back as the very names, in no element
	browser --dump-dom "file://$W/r.html" >dom.html
	"$PY" - dom.html "$HOSTILE" <<'EOF'
import sys
from html.parser import HTMLParser
hostile = sys.argv[2]
class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text, self.attrs = [], [], []
    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [v for k, v in attrs if v]
    def handle_data(self, d):
        self.text.append(d)
p = P()
p.feed(open(sys.argv[1], encoding="utf-8").read())
assert "script" not in p.tags, "a script element"
text = "".join(p.text)
assert hostile in text, "the table's name is not shown as text"
assert "M<b>&1" in text, "the medium id is not shown as text"
assert hostile in p.attrs, "no data-table with the name"
EOF
}

@test "report --html in chromium: the charts drawn, their numbers the catalog's, no network; screenshot kept" {
	craft_quarter
	gb-catalog report --html r.html --date $DATE
	gb-catalog report -b --date $DATE >report.txt
	# no reference out of the page: no URL, no src, no link, no import
	! grep -E -i -q 'https?:|src=|href=|url\(|@import|<link|<script|<iframe|<object|<embed' r.html ||
	    fail "a reference out of the page: $(grep -E -i -o '.{20}(https?:|src=|href=|url\(|@import|<link|<script).{20}' r.html | head -3)"

	# a proxy that refuses and logs what is asked of it: first a control
	# page that asks the network for an image (the log sees it), then ours
	"$PY" - "$BATS_TEST_TMPDIR/proxy.log" <<'EOF' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
log = open(sys.argv[1], "a", buffering=1)
open(sys.argv[1] + ".port", "w").write(str(s.getsockname()[1]))
while True:
    c, _ = s.accept()
    c.settimeout(5)
    try:
        d = c.recv(65536)
        log.write(d.split(b"\r\n", 1)[0].decode("latin1") + "\n")
        c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
                  b"Connection: close\r\n\r\n")
    except OSError:
        pass
    c.close()
EOF
	GB_BG_PIDS+=("$!")
	local i port
	for i in $(seq 100); do
		[ -s "$BATS_TEST_TMPDIR/proxy.log.port" ] && break
		sleep 0.1
	done
	port=$(cat "$BATS_TEST_TMPDIR/proxy.log.port")
	local net=(--proxy-server="http://127.0.0.1:$port" --proxy-bypass-list='<-loopback>')
	printf '<!DOCTYPE html><img src="http://report-test.invalid/x.png">' >control.html
	browser "${net[@]}" --dump-dom "file://$W/control.html" >/dev/null
	grep -q 'report-test\.invalid' "$BATS_TEST_TMPDIR/proxy.log" ||
	    fail "the proxy saw not even the control page's request"
	: >"$BATS_TEST_TMPDIR/proxy.log"
	browser "${net[@]}" --dump-dom "file://$W/r.html" >dom.html
	browser "${net[@]}" --screenshot="$OUT/report.png" \
	    --window-size=1280,4200 "file://$W/r.html" >/dev/null
	# what is left is the browser's own chatter (its clock, component
	# updates and sign-in), which a page cannot cause
	local asked
	asked=$(grep -v -E '^(GET|POST|CONNECT) (http://)?(clients[0-9]*\.google\.com|accounts\.google\.com|[a-z0-9.-]+\.gvt1\.com|(update|clientservices|safebrowsing|optimizationguide-pa|content-autofill)\.googleapis\.com)[:/]' \
	    "$BATS_TEST_TMPDIR/proxy.log" || true)
	[ -z "$asked" ] || fail "the page asked the network: $asked"

	# the screenshot: a PNG of that size, kept
	[ "$(head -c 8 "$OUT/report.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
	[ "$("$PY" -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); print(*struct.unpack(">II", d[16:24]))' "$OUT/report.png")" = "1280 4200" ]
	echo "# screenshot: $OUT/report.png" >&3

	# the drawn page against the catalog
	CAT=$CAT "$PY" - dom.html "$BATS_TEST_DIRNAME/media-helper.bash" report.txt \
	    "$DATE" <<'EOF'
import datetime, subprocess, sys
from html.parser import HTMLParser
dom = open(sys.argv[1], encoding="utf-8").read()
text, date = open(sys.argv[3], encoding="utf-8").read(), sys.argv[4]

def q(sql):
    """The catalog's rows, by cq_rows of either dialect; numbers as int."""
    out = subprocess.run(["bash", "-c", '. "$0"; cq_rows "$1"', sys.argv[2],
                          sql], check=True, capture_output=True,
                         text=True).stdout
    return [[int(v) if v.isdigit() else v for v in r.split("\x1f")]
            for r in out.split("\x1e")[:-1]]

class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.el, self.stack = [], []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        a["_tag"] = tag
        a["_in"] = list(self.stack)
        self.el.append(a)
        if tag not in ("meta", "br", "img", "input", "link", "hr"):
            self.stack.append(a)
    def handle_startendtag(self, tag, attrs):
        a = dict(attrs)
        a["_tag"] = tag
        a["_in"] = list(self.stack)
        self.el.append(a)
    def handle_endtag(self, tag):
        if any(a["_tag"] == tag for a in self.stack):
            while self.stack.pop()["_tag"] != tag:
                pass
p = P()
p.feed(dom)
def inside(e, key):
    for a in reversed(e["_in"]):
        if key in a:
            return a[key]
    return None

# growth: a rows and a bytes chart per table, a bar per month, its value
# the table's in the month's last full archive
want = {}
for per, tbl, rows, byts in q(
        "SELECT substr(a.snapshot, 1, 7) AS per, t.tbl, t.rows, t.bytes FROM "
        "archive_tables t JOIN archives a ON a.name = t.archive WHERE a.level = "
        "'full' ORDER BY a.snapshot"):
    want[(tbl, per)] = (rows, byts)
got = {}
charts = [e for e in p.el if e["_tag"] == "svg" and e.get("class") == "chart"]
assert charts, "no chart"
for e in p.el:
    if e["_tag"] == "rect" and e.get("class") == "bar":
        svg = next(a for a in reversed(e["_in"]) if a["_tag"] == "svg")
        if svg["data-chart"] in ("rows", "bytes"):
            k = (svg["data-key"], e["data-period"])
            got.setdefault(k, [None, None])
            got[k][svg["data-chart"] == "bytes"] = int(e["data-value"])
            assert int(e["height"]) > 0, e
got = {k: tuple(v) for k, v in got.items()}
assert got == want, (got, want)
assert ("<script>alert(1)</script>&x", "2026-11") in got
assert ("会员", "2026-10") in got
# the growth in percent, in the table under the charts
import re
m = re.search(r'data-table="会员".*?</table>', dom, re.S)
rows = re.findall(r'<tr data-month="([0-9-]+)"><td>[0-9-]+</td><td class="rows">(\d+)</td><td>([^<]*)</td>', m.group(0))
assert [(r[0], int(r[1]), r[2]) for r in rows] == [
    ("2026-08", 90, "-"), ("2026-09", 100, "+11.1%"),
    ("2026-10", 150, "+50.0%"), ("2026-11", 200, "+33.3%")], rows
# all archives per month: their bytes
arch = dict(q("SELECT substr(snapshot, 1, 7), sum(size) FROM archives "
              "GROUP BY 1"))
bars = {e["data-period"]: int(e["data-value"]) for e in p.el
        if e["_tag"] == "rect" and e.get("class") == "bar" and
        next(a for a in reversed(e["_in"]) if a["_tag"] == "svg")["data-chart"] == "archive-bytes"}
assert bars == arch, (bars, arch)

# the calendar: 91 days per job, each day's status from the run log
end = datetime.date.fromisoformat(date)
days = [end - datetime.timedelta(days=i) for i in range(90, -1, -1)]
runs = {}
for job, started, status in q("SELECT job, started, status FROM runs"):
    runs.setdefault((job, started[:10]), []).append(status)
first = dict(q("SELECT job, min(started) FROM runs GROUP BY job"))
sched = {"members-daily": lambda d: True,
         "weekly-full": lambda d: d.weekday() == 6}
cal = {}
for e in p.el:
    if e["_tag"] == "rect" and "day" in e.get("class", "").split():
        cal[(inside(e, "data-job"), e["data-date"])] = e["data-status"]
jobs = sorted({j for j, _ in cal})
assert jobs == sorted(["members-daily", "weekly-full",
                       "<script>alert(1)</script>&x"]), jobs
for job in jobs:
    for d in days:
        s = runs.get((job, d.isoformat()))
        if s:
            w = "ok" if "ok" in s else "failed" if "failed" in s else "running"
        elif job in sched and sched[job](d) and d < end and \
                d.isoformat() >= first[job][:10]:
            w = "missing"
        else:
            w = "none"
        assert cal[(job, d.isoformat())] == w, (job, d, cal[(job, d.isoformat())], w)
    assert sum(1 for (j, _) in cal if j == job) == 91
counts = {}
for e in p.el:
    if e["_tag"] == "p" and e.get("class") == "counts" and inside(e, "data-job"):
        counts[inside(e, "data-job")] = (int(e["data-ok"]), int(e["data-failed"]),
                                         int(e["data-missing"]))
assert counts["members-daily"] == (89, 1, 1), counts
assert counts["weekly-full"] == (11, 1, 1), counts

# restore tests of the 13 weeks, with their results
tests = tuple(q("SELECT count(*), sum(CASE WHEN ok = 1 AND manual = 0 THEN 1 "
                "ELSE 0 END), sum(manual) FROM checks WHERE kind = "
                "'restore-test' AND at >= '%sT23:59:59Z'" %
                (end - datetime.timedelta(days=91)).isoformat())[0])
rt = next(e for e in p.el if e["_tag"] == "p" and e.get("data-tests"))
assert (int(rt["data-tests"]), int(rt["data-ok"]),
        int(rt["data-manual"])) == tests == (4, 2, 1), (rt, tests)
assert len([e for e in p.el if e["_tag"] == "circle"]) == 4
assert len([e for e in p.el if e["_tag"] == "circle" and
            "manual" in e.get("class", "")]) == 1
assert len([e for e in p.el if e["_tag"] == "tr" and e.get("class") == "failed"]) == 1

# media in each place: retired apart
where = {}
for pool, loc, n in q("SELECT pool, CASE WHEN state = 'retired' THEN "
        "'retired' ELSE location END, count(*) FROM media GROUP BY 1, 2"):
    where[(pool, loc)] = n
shown = {}
for e in p.el:
    if e["_tag"] == "td" and e.get("data-count") is not None and inside(e, "data-pool"):
        if int(e["data-count"]):
            shown[(inside(e, "data-pool"), e["class"])] = int(e["data-count"])
assert shown == where, (shown, where)
drawn = [e for e in p.el if e["_tag"] == "rect" and e.get("class") in
         ("onsite", "transit", "offsite") and float(e["width"]) > 0]
assert len(drawn) == 5, drawn

# the next quarter: as the text report says, the daily pool with its
# rotation: 8 (one a night for 7 nights away, and the one written)
need = {}
for line in text.split("next quarter")[1].splitlines()[2:]:
    f = line.split()
    if f:
        need[f[0]] = (int(f[3]), int(f[5]), int(f[6]))
html = {}
for e in p.el:
    if e["_tag"] == "tr" and e.get("data-need"):
        html[e["data-pool"]] = (int(e["data-have"]), int(e["data-rotation"]),
                                int(e["data-need"]))
assert html == need, (html, need)
assert html["daily"] == (3, 8, 8) and html["weekly"] == (3, 1, 2), html
bars = [e for e in p.el if e["_tag"] == "rect" and "needbar" in e.get("class", "")]
assert len(bars) == 2 and all(float(b["width"]) > 0 for b in bars), bars
EOF
}
