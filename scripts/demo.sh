#!/bin/sh
# demo.sh - `make demo`: the whole story of gymbackup on a made-up gym, in
# demo/.
#
# A demo front-desk database, demo keys (a signer and two recipients, and
# the keyrings of the backup host, the restore side and an auditor), a
# labelled USB drive (a directory) and a tape (an image), the backup task
# table run by gb-backup: full jobs, a day at the front desk, an
# incremental job; then what an auditor checks with public keys only, the
# restore test, and what the catalog says is due, restorable and wrong.
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

show() {
	echo "    \$ $*"
	"$@" 2>&1 | sed 's/^/    /'
}

for t in gb-demodata gb-export gb-pack gb-seal gb-write gb-verify gb-restore \
    gb-catalog gb-backup; do
	[ -x "$BIN/$t" ] || fail "$BIN/$t is missing; run make all first"
done
command -v sqlite3 >/dev/null || fail "sqlite3 is missing; run make deps"
PATH=$BIN:$PATH
export PATH

step "A fresh demo/ directory"
rm -rf "$DEMO"
mkdir -p "$DEMO/spool" "$DEMO/usb-daily"
chmod 700 "$DEMO"

step "The front desk's database: demo/gym.db, $ROWS rows made up by gb-demodata"
gb-demodata -s 1 -n "$ROWS" -o "$DEMO/gym.db"
for t in $(sqlite3 "$DEMO/gym.db" "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name"); do
	printf '    %-26s %8s rows\n' "$t" "$(sqlite3 "$DEMO/gym.db" "SELECT count(*) FROM \"$t\"")"
done

step "Demo keys: a signer, an operations key and an escrow key (scripts/mkkeys.sh)"
sh "$TOP/scripts/mkkeys.sh" "$DEMO/keys"
. "$DEMO/keys/keys.env"
echo "    signer      $SIGNER"
echo "    recipients  $RCPT1 (operations)"
echo "                $RCPT2 (escrow, kept in the safe)"
echo "    the backup host's keyring holds the signer's secret key and the"
echo "    recipients' public keys only: it cannot read its own backups"

step "demo/gymbackup.conf: share/gymbackup.conf pointed at demo/"
sed -e "s|^uri = sqlite:.*|uri = sqlite:$DEMO/gym.db|" \
    -e "s|^\[keys\]|[keys]\nsigner = $SIGNER\nrecipients = $RCPT1 $RCPT2|" \
    -e "s|^dir = /var/spool/gymbackup|dir = $DEMO/spool|" \
    -e "s|^path = /var/lib/gymbackup/catalog.db|path = $DEMO/catalog.db|" \
    -e "s|^media = /media/gymbackup-daily|media = $DEMO/usb-daily|" \
    -e "/^\[job members-weekly\]/,/^\[/s|^media = .*|media = tape:$DEMO/tape-weekly.tap|" \
    -e "/^\[job all-monthly\]/,/^\[/s|^media = .*|media = tape:$DEMO/tape-monthly.tap|" \
    "$TOP/share/gymbackup.conf" >"$DEMO/gymbackup.conf"
GB_CONF=$DEMO/gymbackup.conf
GNUPGHOME=$DEMO/keys/backup
export GB_CONF GNUPGHOME
grep -n '^uri\|^signer\|^recipients\|^dir\|^path\|^media' "$GB_CONF" | sed 's/^/    /'

step "The backup task table (备份任务表), for the monthly review"
show gb-backup --list
echo "    and the cron lines that run it:"
gb-backup --crontab | grep -v '^#' | sed 's/^/    /'

step "Label the media: a USB drive for the daily pool, a tape for the weekly"
show gb-write --label USB-D1 --pool daily "$DEMO/usb-daily"
show gb-write --label TAPE-W1 --pool weekly --capacity 256M "tape:$DEMO/tape-weekly.tap"
show gb-catalog media list

step "Sunday: the weekly full of the member tables, to tape"
show gb-backup -v members-weekly
step "Every night: the full of the transaction tables, to the USB drive"
show gb-backup -v transactions-daily

step "A day at the front desk: three members change, one joins, one buys"
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
    "SELECT id, name, balance, status, updated_at FROM members WHERE updated_at >= '2025-01-01'" |
    sed 's/^/    /'

step "Monday night: the incremental of the member tables, on Sunday's full"
show gb-backup -v members-daily
weekly=$(gb-catalog latest --job members-weekly)
daily=$(gb-catalog latest --job members-daily)
trans=$(gb-catalog latest --job transactions-daily)
gb-catalog manifest "$daily" >"$DEMO/incr.MANIFEST"
gb-catalog manifest "$weekly" >"$DEMO/full.MANIFEST"
[ "$(mf "$DEMO/incr.MANIFEST" level)" = incremental ] || fail "the daily job is not incremental"
[ "$(mf "$DEMO/incr.MANIFEST" base)" = "$(mf "$DEMO/full.MANIFEST" id)" ] ||
	fail "the incremental does not build on the weekly full"
[ "$(mf "$DEMO/incr.MANIFEST" rows members)" = 4 ] ||
	fail "the incremental should hold the 4 changed members"
echo "    $daily builds on $weekly: $(mf "$DEMO/incr.MANIFEST" rows members) member rows"
show gb-catalog archives
show gb-catalog copies
echo "    what the USB drive says of itself, found in a vault:"
sed 's/^/    /' "$DEMO/usb-daily/GYMBACKUP.INDEX"

step "The auditor: public keys only, no member data, no gymbackup needed"
(
	cd "$DEMO/usb-daily"
	name=${trans%.tar.gz.gpg}
	show gpg --homedir "$DEMO/keys/auditor" --batch --verify "$name.seal"
	grep "  $trans\$" "$name.seal" | sha256sum -c | sed 's/^/    /'
)
echo "    and with gb-verify, the signer pinned:"
GNUPGHOME=$DEMO/keys/auditor show gb-verify --signer "$SIGNER" \
    --media "$DEMO/usb-daily" "$trans" "$daily"
GNUPGHOME=$DEMO/keys/auditor gb-verify --signer "$SIGNER" \
    "$DEMO/usb-daily/$trans" >/dev/null || fail "the auditor's check failed"

step "The restore test (恢复测试), with the recipients' keys, from the media"
echo "    the member chain spans the weekly tape and the daily drive:"
GNUPGHOME=$DEMO/keys/restore show gb-restore --test \
    --media "tape:$DEMO/tape-weekly.tap" --media "$DEMO/usb-daily" "$weekly" "$daily"
GNUPGHOME=$DEMO/keys/restore show gb-restore --test --media "$DEMO/usb-daily" "$trans"
echo "    and a real restore of the chain, compared with the front desk's table:"
GNUPGHOME=$DEMO/keys/restore gb-restore -d "sqlite:$DEMO/restored.db" \
    --media "tape:$DEMO/tape-weekly.tap" --media "$DEMO/usb-daily" "$weekly" "$daily"
diff=$(sqlite3 "$DEMO/gym.db" "ATTACH '$DEMO/restored.db' AS r;
    SELECT count(*) FROM (SELECT * FROM main.members EXCEPT SELECT * FROM r.members);")
[ "$diff" = 0 ] || fail "the restored members differ from the source"
echo "    members: $(sqlite3 "$DEMO/restored.db" "SELECT count(*) FROM members") rows, equal to the source"

step "Rotation: what goes offsite today, and when it comes back"
show gb-catalog due
show gb-catalog move USB-D1 --to transit --by "小李 (IT)" --why "courier to the vault"
show gb-catalog move USB-D1 --to offsite --by "vault clerk"
show gb-catalog due --date "$(date -u -d '+8 days' +%Y-%m-%d)"

step "What restores the state of now: the chains, their media and where they are"
show gb-catalog chain

step "The morning check (cron mails its output when there is a problem)"
echo "    \$ gb-catalog check"
if gb-catalog check >"$DEMO/check.out" 2>&1; then
	sed 's/^/    /' "$DEMO/check.out"
else
	sed 's/^/    /' "$DEMO/check.out"
	echo "    (exit 1: a job of the task table has not run yet in this demo)"
fi

step "The backup log and the audit trail"
show gb-catalog log
show gb-catalog audit --verify

echo
echo "demo: all steps passed; everything is in demo/ (make clean removes it)"
