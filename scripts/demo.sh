#!/bin/sh
# demo.sh - `make demo`: a tour of gymbackup on a made-up gym, in demo/.
#
# Makes a demo front-desk database, exports it in full, changes a few
# member records as a day at the front desk would, exports the master
# tables incrementally, and writes the export stream as a tar file.
# Run from anywhere after `make all`; exits non-zero on any failure.
set -eu

cd "$(dirname "$0")/.."
TOP=$(pwd)
BIN=$TOP/bin
DEMO=$TOP/demo
ROWS=${DEMO_ROWS:-20000}

step() {
	printf '\n==> %s\n' "$*"
}

fail() {
	echo "demo: $*" >&2
	exit 1
}

# mf MANIFEST FIELD [TABLE]: the value of a manifest line, for awk -F'\t'.
mf() {
	awk -F'\t' -v f="$2" -v t="${3-}" \
	    '$1 == f && (t == "" || $2 == t) { print (t == "" ? $2 : $3); exit }' "$1"
}

# rows_table MANIFEST: "table rows" lines, in manifest order.
rows_table() {
	awk -F'\t' '$1 == "rows" { printf "    %-26s %8s\n", $2, $3 }' "$1"
}

for t in gb-demodata gb-export; do
	[ -x "$BIN/$t" ] || fail "$BIN/$t is missing; run make all first"
done
command -v sqlite3 >/dev/null || fail "sqlite3 is missing; run make deps"

step "A fresh demo/ directory"
rm -rf "$DEMO"
mkdir "$DEMO"

step "The front desk's database: demo/gym.db, $ROWS rows made up by gb-demodata"
"$BIN/gb-demodata" -s 1 -n "$ROWS" -o "$DEMO/gym.db"
for t in $(sqlite3 "$DEMO/gym.db" "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name"); do
	printf '    %-26s %8s rows\n' "$t" "$(sqlite3 "$DEMO/gym.db" "SELECT count(*) FROM \"$t\"")"
done
echo "    some of the awkward values it holds:"
sqlite3 -header -column "$DEMO/gym.db" \
    "SELECT id, name, quote(phone) AS phone, balance, substr(updated_at, 1, 10) AS updated FROM members WHERE id <= 6"

step "demo/gymbackup.conf: share/gymbackup.conf with [source] uri pointing at it"
sed "s|^uri = sqlite:.*|uri = sqlite:$DEMO/gym.db|" "$TOP/share/gymbackup.conf" >"$DEMO/gymbackup.conf"
grep -n '^uri' "$DEMO/gymbackup.conf"

step "Full export of every table to demo/export-full/"
echo "    gb-export -c demo/gymbackup.conf -j demo-full -o demo/export-full"
"$BIN/gb-export" -c "$DEMO/gymbackup.conf" -j demo-full -o "$DEMO/export-full"
ls -l "$DEMO/export-full"

step "Its MANIFEST: what was exported, rows, SHA-256, watermarks, money sums"
cat "$DEMO/export-full/MANIFEST"

step "A day at the front desk: three members change, one joins (updated_at 2025-01-01)"
sqlite3 "$DEMO/gym.db" <<'EOF'
UPDATE members SET balance = balance + 50000, updated_at = '2025-01-01 09:12:00'
 WHERE id = 1;
UPDATE members SET status = 'frozen', updated_at = '2025-01-01 10:30:00'
 WHERE id = 2;
UPDATE members SET phone = '13900001111', note = 'new phone, said "thanks"',
 updated_at = '2025-01-01 15:45:10' WHERE id = 5;
INSERT INTO members (card_no, name, phone, level, balance, status,
 home_store_id, note, created_at, updated_at)
VALUES ('889999999999', '新会员 New Member', NULL, 'standard', 100000,
 'active', 1, 'joined today, paid 1000.00', '2025-01-01 18:05:00',
 '2025-01-01 18:05:00');
INSERT INTO consumptions (member_id, store_id, item, quantity, amount,
 payment_method, operator, consumed_at)
VALUES (1, 1, 'Protein shake', 2, 5600, 'balance', '前台小王',
 '2025-01-01 09:20:00');
EOF
sqlite3 -header -column "$DEMO/gym.db" \
    "SELECT id, name, balance, status, updated_at FROM members WHERE updated_at >= '2025-01-01'"

step "Incremental export of the master tables, after demo/export-full/MANIFEST"
echo "    gb-export -c demo/gymbackup.conf -j demo-incr -i demo/export-full/MANIFEST \\"
echo "        -t members -t stores -t promotions -o demo/export-incr"
"$BIN/gb-export" -c "$DEMO/gymbackup.conf" -j demo-incr \
    -i "$DEMO/export-full/MANIFEST" -t members -t stores -t promotions \
    -o "$DEMO/export-incr"
echo "    its watermark lines (column, type, from, to):"
awk -F'\t' '$1 == "watermark" { printf "    %s: %s %s  (%s .. %s]\n", $2, $3, $4, $5, $6 }' \
    "$DEMO/export-incr/MANIFEST"
echo "    members.csv, the rows that changed:"
sed 's/^/    /' "$DEMO/export-incr/members.csv"

step "The export stream: gb-export without -o writes a tar to stdout"
echo "    gb-export -c demo/gymbackup.conf > demo/export.tar"
"$BIN/gb-export" -c "$DEMO/gymbackup.conf" >"$DEMO/export.tar"
tar tvf "$DEMO/export.tar" >"$DEMO/export.list"
sed 's/^/    /' "$DEMO/export.list"
tar xOf "$DEMO/export.tar" MANIFEST >"$DEMO/export.MANIFEST"
for f in MANIFEST SCHEMA.sql $(awk -F'\t' '$1 == "table" { print $3 }' "$DEMO/export.MANIFEST"); do
	grep -q " $f\$" "$DEMO/export.list" || fail "export.tar lacks $f"
done
[ "$(head -n 1 "$DEMO/export.list" | awk '{ print $NF }')" = MANIFEST ] ||
	fail "export.tar does not start with MANIFEST"

step "Summary"
full=$DEMO/export-full/MANIFEST incr=$DEMO/export-incr/MANIFEST
echo "  full        $(mf "$full" id)  level $(mf "$full" level), $(mf "$full" tables) tables:"
rows_table "$full"
echo "  incremental $(mf "$incr" id)  level $(mf "$incr" level), base $(mf "$incr" base):"
rows_table "$incr"
echo "  stream      demo/export.tar, $(wc -l <"$DEMO/export.list") files, MANIFEST first"

# What the tour claims, checked.
[ "$(mf "$incr" level)" = incremental ] || fail "incremental: level is not incremental"
[ "$(mf "$incr" base)" = "$(mf "$full" id)" ] || fail "incremental: base is not the full export's id"
[ "$(mf "$incr" rows members)" = 4 ] ||
	fail "incremental: expected 4 member rows, got $(mf "$incr" rows members)"
[ "$(mf "$incr" rows stores)" = 0 ] || fail "incremental: expected no store rows"
[ "$(mf "$full" rows members)" = "$(sqlite3 "$DEMO/gym.db" "SELECT count(*) - 1 FROM members")" ] ||
	fail "full: member rows do not match the database"
echo
echo "demo: all steps passed; everything is in demo/ (make clean removes it)"
