#!/usr/bin/env bats
# gb-export reads every table in one snapshot while the front desk writes.

load helper

# The writer: each transaction adds a member (balance 0) and a recharge for
# that member, and moves money between two existing members, so that the
# total balance never changes.  It runs until $STOP exists and prints how
# many transactions it committed.
write_writer() {
	cat >"$W/writer.py" <<'EOF'
import os, random, sqlite3, sys
db, stop, started = sys.argv[1:4]
con = sqlite3.connect(db, isolation_level=None, timeout=60)
con.execute("PRAGMA journal_mode = WAL")
con.execute("PRAGMA synchronous = NORMAL")
nm = con.execute("SELECT max(id) FROM members").fetchone()[0]
nr = con.execute("SELECT max(id) FROM recharges").fetchone()[0]
top = nm
rnd = random.Random(42)
n = 0
while not os.path.exists(stop):
    con.execute("BEGIN IMMEDIATE")
    nm += 1
    nr += 1
    ts = "2026-06-01 12:00:00"
    con.execute("INSERT INTO members (id, card_no, name, level, balance, "
                "status, home_store_id, created_at, updated_at) VALUES "
                "(?, ?, ?, 'standard', 0, 'active', 1, ?, ?)",
                (nm, "W%09d" % nm, "写入者 %d, \"w\"" % nm, ts, ts))
    con.execute("INSERT INTO recharges (id, member_id, store_id, amount, "
                "bonus, method, recharged_at) VALUES (?, ?, 1, ?, 0, "
                "'cash', ?)", (nr, nm, 100 + nm % 50, ts))
    a, b = rnd.randint(1, top), rnd.randint(1, top)
    x = rnd.randint(1, 500)
    con.execute("UPDATE members SET balance = balance - ?, updated_at = ? "
                "WHERE id = ?", (x, ts, a))
    con.execute("UPDATE members SET balance = balance + ?, updated_at = ? "
                "WHERE id = ?", (x, ts, b))
    con.execute("COMMIT")
    n += 1
    if n == 1:
        open(started, "w").close()
print(n)
EOF
}

@test "snapshot: a concurrent WAL writer; counts, references and balance total hold" {
	bulk_gym_db snap.db 60000 150000 >/dev/null
	assert_equal "$(sqlite3 snap.db 'PRAGMA journal_mode')" wal
	local total nm0 nr0
	total=$(sqlite3 snap.db "SELECT sum(balance) FROM members")
	nm0=$(sqlite3 snap.db "SELECT count(*) FROM members")
	nr0=$(sqlite3 snap.db "SELECT count(*) FROM recharges")
	cat >snap.conf <<-EOF
	[site]
	name = snap
	[table members]
	key = id
	money = balance
	[table recharges]
	key = id
	money = amount,bonus
	EOF
	write_writer
	"$PY" writer.py "$W/snap.db" "$W/stop" "$W/started" >writer.out 2>writer.err 3>&- &
	local wpid=$! i
	bg_started $wpid
	for i in $(seq 200); do
		[ -e started ] && break
		sleep 0.05
	done
	[ -e started ] || fail "the writer did not start: $(cat writer.err)"

	local before after
	before=$(sqlite3 snap.db "SELECT count(*) FROM members")
	run gb-export -c snap.conf -s "sqlite:$W/snap.db" -t members -t recharges -t stores -o out
	after=$(sqlite3 snap.db "SELECT count(*) FROM members")
	touch stop
	wait $wpid || fail "the writer failed: $(cat writer.err)"
	assert_success
	echo "writer: $(cat writer.out) transactions; members $before before, $after after the export" >&3

	# The writer really ran during the export (else the test proves nothing).
	[ "$after" -gt "$before" ] ||
	    fail "the writer made no progress during the export ($before -> $after)"

	# The export set is consistent in itself: rows = CSV records, bytes,
	# sha256 and money sums match the files.
	verify_set out

	# One instant: the exported members lie between before and after, and
	# members and recharges were read at the same instant (each transaction
	# added one of each).  (verify_set checked rows = CSV records.)
	local em er
	em=$(mf out/MANIFEST rows members)
	er=$(mf out/MANIFEST rows recharges)
	[ "$em" -ge "$before" ] && [ "$em" -le "$after" ] ||
	    fail "exported $em members, not between $before and $after"
	assert_equal "$((er - nr0))" "$((em - nm0))"

	# Every recharge's member is among the exported members (CSV read by
	# sqlite3's own importer).
	sqlite3 -bail check.db ".import --csv out/members.csv members" \
	    ".import --csv out/recharges.csv recharges"
	assert_equal "$(sqlite3 check.db "SELECT count(*) FROM members")" "$em"
	assert_equal "$(sqlite3 check.db "SELECT count(*) FROM recharges")" "$er"
	assert_equal "$(sqlite3 check.db "SELECT count(*) FROM recharges
	    WHERE CAST(member_id AS INTEGER) NOT IN (SELECT CAST(id AS INTEGER) FROM members)")" 0

	# Money moved between members never changes the total (verify_set
	# checked the manifest's sum against the CSV; sqlite3 sums it again).
	assert_equal "$(mf out/MANIFEST money members)" "balance	$total"
	assert_equal "$(sqlite3 check.db 'SELECT sum(CAST(balance AS INTEGER)) FROM members')" "$total"
	assert_equal "$(sqlite3 snap.db 'SELECT sum(balance) FROM members')" "$total"
	assert_tmpdir_empty
}
