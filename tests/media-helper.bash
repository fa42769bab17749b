# tests/media-helper.bash - shared setup for the bats tests of gb-write and
# gb-catalog (write.bats, catalog.bats).  Load it after helper.bash:
#
#	load helper
#	load media-helper
#
# Keys come from scripts/mkkeys.sh, made once per file (media_setup_file)
# into $BATS_FILE_TMPDIR/keys: $SIGNER, $RCPT1, $RCPT2 and the keyrings
# $KEYS/backup (signer secret, recipients public: all gb-write needs to
# check a seal) and $KEYS/all.  Sealed archives made once per file live in
# $FX/spool.  Every test has its own catalog $CAT and config $CONF.
#
# Independent checks use no code of ours: a small SIMH reader in python3
# (tap_*), sqlite3 on the catalog, cmp and sha256sum on the media.

# ------------------------------------------------------------ setup, keys

# In setup_file: $KEYS, $FX, keys (unless "nokeys").
media_setup_file() {
	unset GB_CONF GB_CATALOG
	mkdir -p "$BATS_FILE_TMPDIR/fx/spool"
	keys_setup_file "$@"
}

media_teardown_file() {
	kill_agents_under "$BATS_FILE_TMPDIR"
}

# Per test: helper.bash's workspace, the backup keyring, a catalog and a
# config pinning the signer.
media_setup() {
	gb_setup
	export GNUPGHOME="$KEYS/backup"
	CAT="$W/catalog.db"
	CONF="$W/gb.conf"
	export GB_CONF="$CONF"
	mkconf "$CONF"
}

media_teardown() {
	kill_agents_under "$BATS_TEST_TMPDIR"
	gb_teardown
}

setup() { media_setup; }
teardown() { media_teardown; }

# label ID POOL MEDIA [ARGS...]: gb-write --label, which must succeed.
# (A file whose media take no pool defines its own, as with setup.)
label() {
	local id=$1 pool=$2
	shift 2
	gb-write --label "$id" --pool "$pool" "$@" 2>/dev/null ||
	    fail "gb-write --label $id --pool $pool $* failed"
}

# put MEDIA NAME...: gb-write each archive NAME of the spool $SP to MEDIA.
put() {
	local media=$1 n
	shift
	for n in "$@"; do
		gb-write "$media" "$SP/$n" >/dev/null ||
		    fail "gb-write $media $SP/$n failed"
	done
}

# mkconf PATH [EXTRA]: a config with the test keys, the catalog $CAT, and
# EXTRA (more sections) appended.
mkconf() {
	cat >"$1" <<EOF
[keys]
signer = $SIGNER
recipients = $RCPT1 $RCPT2

[catalog]
path = $CAT
EOF
	[ -z "${2-}" ] || printf '\n%s\n' "$2" >>"$1"
}

# ------------------------------------------------------ sealed archives

# seal_dir SET OUT [JOB]: OUT.tar.gz.gpg and OUT.seal of export set SET
# (gb-pack, then gb-seal with the backup keyring to both recipients).
seal_dir() {
	local set=$1 out=$2
	mkdir -p "${out%/*}"
	gb-pack -l 1 "$set" >"$out.tar.gz" || return 1
	GNUPGHOME="$KEYS/backup" gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" \
	    -o "$out" <"$out.tar.gz" || return 1
	rm -f "$out.tar.gz"
}

# export_seal DB OUT JOB [GB-EXPORT ARGS...]: gb-export of DB (job JOB)
# sealed into OUT; the export set stays in OUT.set (its MANIFEST is the
# base of incrementals).
export_seal() {
	local db=$1 out=$2 job=$3
	shift 3
	gb-export -s "sqlite:$db" -j "$job" "$@" -o "$out.set" 2>/dev/null ||
	    return 1
	seal_dir "$out.set" "$out"
}

# next_second: wait for the clock to pass into the next second, so that
# exports get distinct snapshot times.
next_second() {
	local s
	s=$(date +%s)
	while [ "$(date +%s)" = "$s" ]; do
		sleep 0.05
	done
}

# chains_setup_file: media_setup_file, the gym database $FX/gym.db, its
# $FX/gym.conf, and in $FX/spool fulls f1, f2 of job weekly with
# incrementals i1, i2 on f1 and i3 on f2 (job daily, members and stores),
# n1 of job nightly (transactions), each in its own second.
chains_setup_file() {
	media_setup_file
	make_gym_db "$FX/gym.db"
	write_gym_conf "$FX/gym.conf" "$FX/gym.db"
	local m=(-c "$FX/gym.conf" -t stores -t members) s=$FX/spool
	export_seal "$FX/gym.db" "$s/f1" weekly "${m[@]}"
	next_second
	export_seal "$FX/gym.db" "$s/i1" daily "${m[@]}" -i "$s/f1.set/MANIFEST"
	next_second
	export_seal "$FX/gym.db" "$s/i2" daily "${m[@]}" -i "$s/i1.set/MANIFEST"
	next_second
	export_seal "$FX/gym.db" "$s/f2" weekly "${m[@]}"
	next_second
	export_seal "$FX/gym.db" "$s/i3" daily "${m[@]}" -i "$s/f2.set/MANIFEST"
	export_seal "$FX/gym.db" "$s/n1" nightly -c "$FX/gym.conf" \
	    -t consumptions -t recharges
}

# members_setup_file N: media_setup_file and $FX/spool/a1..aN, sealed
# exports of the members of a fresh gym database.
members_setup_file() {
	media_setup_file
	make_gym_db "$FX/gym.db"
	local n
	for n in $(seq "$1"); do
		export_seal "$FX/gym.db" "$FX/spool/a$n" members
	done
}

# big_archive OUT MB: a sealed archive of MB megabytes of random bytes (as
# hex in the CSV: the archive is a little larger than MB).
big_archive() {
	local out=$1 mb=$2 db="$BATS_FILE_TMPDIR/big.db"
	rm -f "$db"
	sqlite3 -bail "$db" "CREATE TABLE blobs(id INTEGER PRIMARY KEY, data BLOB);
	    WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s
	    WHERE i < $((mb * 4))) INSERT INTO blobs SELECT i,
	    randomblob(250000) FROM s;" || return 1
	export_seal "$db" "$out" big || return 1
	rm -rf "$out.set" "$db"
}

# The name (NAME.tar.gz.gpg) and SHA-256 of a spool archive.
arch_name() { echo "${1##*/}.tar.gz.gpg"; }
arch_sha() { sha256sum <"$1.tar.gz.gpg" | cut -d' ' -f1; }
arch_size() { stat -c %s "$1.tar.gz.gpg"; }

# The snapshot time of a spool archive, from its export set's MANIFEST.
arch_snap() { awk -F'\t' '$1 == "snapshot" { print $2 }' "$1.set/MANIFEST"; }

# ------------------------------------------------------------- catalog

# cq SQL: a query on the test's catalog, '|'-separated rows.
cq() {
	if [ "${GB_TEST_CATALOG-}" = pg ]; then
		cq_in "$GB_TEST_PGDB" "$@"
	else
		cq_in "$CAT" "$@"
	fi
}

# cq_in CATALOG SQL: cq on CATALOG, as cat_id gives it (or a database's
# name on PostgreSQL).
cq_in() {
	if [ "${GB_TEST_CATALOG-}" = pg ]; then
		PGOPTIONS="-c search_path=public,gb_test_shim" \
		    psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "${@:2}"
	else
		sqlite3 -bail -batch "$1" "${@:2}"
	fi
}

# Several catalogs in one test: each a file $W/NAME.db, or on PostgreSQL
# a database of its own (pg_catalog_new).  cat_new NAME: the test's
# catalog from now on is a new one, not yet made, $CAT its file;
# cat_copy NAME: catalog NAME is a copy of the test's as it is now;
# cat_use NAME: the test's catalog from now on is catalog NAME.  The tools
# take it from GB_CATALOG.
cat_new() {
	if [ "${GB_TEST_CATALOG-}" = pg ]; then
		pg_catalog_new "${GB_TEST_PGBASE}_$1"
	fi
	cat_use "$1"
}

cat_copy() {
	if [ "${GB_TEST_CATALOG-}" = pg ]; then
		psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE \
		    ${GB_TEST_PGBASE}_$1 TEMPLATE $GB_TEST_PGDB" >/dev/null
	else
		sqlite3 -bail "$CAT" ".backup $W/$1.db"
	fi
}

cat_use() {
	CAT=$W/$1.db
	if [ "${GB_TEST_CATALOG-}" = pg ]; then
		pg_catalog_use "${GB_TEST_PGBASE}_$1"
	else
		export GB_CATALOG=$CAT
	fi
}

# cat_id: the test's catalog as GB_CATALOG takes it.
cat_id() {
	if [ "${GB_TEST_CATALOG-}" = pg ]; then
		echo "$GB_CATALOG"
	else
		echo "$CAT"
	fi
}

# cq_rows SQL: rows of the catalog for a parser: fields ended by US
# (0x1f), rows by RS (0x1e), NULL as "".
cq_rows() {
	if [ "${GB_TEST_CATALOG-}" = pg ]; then
		# psql ends its output with a newline after the last row
		local out
		out=$(psql -X -q -At -v ON_ERROR_STOP=1 -F $'\x1f' -R $'\x1e' \
		    -d "$GB_TEST_PGDB" -c "$1") || return
		printf '%s\x1e' "$out"
	else
		sqlite3 -bail -batch -separator $'\x1f' -newline $'\x1e' "$CAT" "$1"
	fi
}

# cat_dump: the catalog's content, for before/after comparisons.
cat_dump() {
	if [ "${GB_TEST_CATALOG-}" = pg ]; then
		# pg_dump 17 marks its output with a random \restrict key
		pg_dump --data-only -d "$GB_TEST_PGDB" | grep -Ev '^\\(un)?restrict '
	else
		sqlite3 -bail "$CAT" .dump
	fi
}

# craft_archive NAME JOB LEVEL SNAPSHOT CHAIN [SIZE] [EXPORT_ID] [BASE]:
# an archives row made by hand (the export id defaults to NAME's stem).
craft_archive() {
	local name=$1 job=$2 level=$3 snap=$4 chain=$5 size=${6:-1000}
	local id=${7:-${1%.tar.gz.gpg}} base=${8-}
	cq "INSERT INTO archives(name, job, level, export_id, base_id, chain,
	    site, source, snapshot, size, sha256, packed_size, packed_sha256,
	    rows, seal, recorded_at) VALUES('$name', '$job', '$level', '$id',
	    NULLIF('$base', ''), '$chain', '$(hostname)', 'sqlite', '$snap', $size,
	    'x', 1, 'x', 1, 'seal', '$snap')"
}

# craft_copy ARCHIVE MEDIUM POSITION STATUS [WRITTEN]: a copies row.
craft_copy() {
	local w=${5:-2026-01-01T00:00:00Z}
	cq "INSERT INTO copies(site, archive, medium, position, status,
	    started_at, written_at, verified_at) VALUES('$(hostname)', '$1',
	    '$2', '$3', '$4', '$w', '$w', '$w')"
}

# ------------------------------------------------------------ tape images

# A SIMH .tap reader of our own: each record is a 32-bit little-endian
# length, the data (padded to even), the length again; 0 is a tape mark.
TAP_PY='
import struct, sys
def records(path):
    f = open(path, "rb").read()
    i = 0
    while i < len(f):
        if i + 4 > len(f):
            sys.exit("truncated length at %d" % i)
        n = struct.unpack("<I", f[i:i + 4])[0]
        i += 4
        if n == 0:
            yield None
            continue
        l = n & 0xffffff
        data = f[i:i + l]
        i += l + (l & 1)
        if len(data) != l or i + 4 > len(f):
            sys.exit("truncated record at %d" % i)
        if struct.unpack("<I", f[i:i + 4])[0] != n:
            sys.exit("record at %d: trailing length differs" % i)
        i += 4
        yield data
def files(path):
    cur, out = [], []
    for r in records(path):
        if r is None:
            out.append((cur, True))
            cur = []
        else:
            cur.append(r)
    if cur:
        out.append((cur, False))
    return out
cmd, path = sys.argv[1], sys.argv[2]
if cmd == "records":
    for r in records(path):
        print("mark" if r is None else "record %d" % len(r))
elif cmd == "files":
    for n, (recs, marked) in enumerate(files(path)):
        sizes = sorted(set(len(r) for r in recs))
        print("%s %d: %d records of %s" % ("file" if marked else "unmarked",
            n, len(recs), ",".join(map(str, sizes)) or "-"))
elif cmd == "data":
    recs, marked = files(path)[int(sys.argv[3])]
    data = b"".join(recs)
    if len(sys.argv) > 4:
        cut = int(sys.argv[4])
        if data[cut:].strip(b"\0"):
            sys.exit("file %s: non-zero bytes past %d" % (sys.argv[3], cut))
        data = data[:cut]
    sys.stdout.buffer.write(data)
elif cmd == "text":
    recs, marked = files(path)[int(sys.argv[3])]
    sys.stdout.buffer.write(b"".join(recs).split(b"\0")[0])
elif cmd == "checkpoint":
    recs, marked = files(path)[int(sys.argv[3])]
    sys.stdout.buffer.write(b"".join(recs).split(b"\0")[1:] and
        b"".join(recs).split(b"\0", 1)[1].lstrip(b"\0").split(b"\0")[0] or b"")
elif cmd == "offsets":
    i, n, r = 0, 0, 0
    for rec in records(path):
        if rec is None:
            print("%d mark %d" % (n, i))
            i += 4
            n, r = n + 1, 0
        else:
            print("%d %d %d %d" % (n, r, i, len(rec)))
            i += 8 + len(rec) + (len(rec) & 1)
            r += 1
elif cmd == "cut":
    # tape file N (its records and its mark) taken out of the image
    want, f = int(sys.argv[3]), open(path, "rb").read()
    i, n, start = 0, 0, None
    for rec in records(path):
        if n == want and start is None:
            start = i
        i += 4 if rec is None else 8 + len(rec) + (len(rec) & 1)
        if rec is None:
            if n == want:
                open(path, "wb").write(f[:start] + f[i:])
                sys.exit(0)
            n += 1
    sys.exit("no tape file %d" % want)
elif cmd == "keep":
    # the image cut after the mark that ends tape file N - 1
    want, f = int(sys.argv[3]), open(path, "rb").read()
    i, n = 0, 0
    for rec in records(path):
        if n == want:
            break
        i += 4 if rec is None else 8 + len(rec) + (len(rec) & 1)
        n += rec is None
    open(path, "wb").write(f[:i])
elif cmd == "poke":
    # a 32-bit little-endian value written at a byte offset
    with open(path, "r+b") as out:
        out.seek(int(sys.argv[3]))
        out.write(struct.pack("<I", int(sys.argv[4], 0)))
'

# tap_records IMAGE: "record LEN" or "mark", one line each.
tap_records() { "$PY" -c "$TAP_PY" records "$1"; }
# tap_files IMAGE: "file N: K records of SIZE" per file ended by a mark,
# "unmarked N: ..." for records after the last mark.
tap_files() { "$PY" -c "$TAP_PY" files "$1"; }
# tap_data IMAGE N [SIZE]: the data of file N; with SIZE, cut to SIZE bytes
# after checking that only zeros follow (the padding of the last record).
tap_data() { "$PY" -c "$TAP_PY" data "$@"; }
# tap_text IMAGE N: file N up to its first NUL: without its zero padding,
# and of a seal's tape file, the seal without the checkpoint after it.
tap_text() { "$PY" -c "$TAP_PY" text "$@"; }
# tap_checkpoint IMAGE N: the checkpoint in a seal's tape file N: after
# the seal's NUL and any zeros, to the next NUL (empty: none).
tap_checkpoint() { "$PY" -c "$TAP_PY" checkpoint "$@"; }
# tap_offset IMAGE N R: the byte offset of record R of tape file N (of the
# leading length word; the trailing one is at offset + 4 + length + pad).
tap_offset() {
	"$PY" -c "$TAP_PY" offsets "$1" | awk -v f="$2" -v r="$3" \
	    '$1 == f && $2 == r { print $3; found = 1 } END { exit !found }'
}
# tap_cut IMAGE N: tape file N taken out of the image, in place (what a
# writer that lost a file between two others would have left).
tap_cut() { "$PY" -c "$TAP_PY" cut "$@"; }
# tap_keep IMAGE N: the image cut to its tape files 0 .. N - 1.
tap_keep() { "$PY" -c "$TAP_PY" keep "$@"; }
# tap_poke IMAGE OFFSET VALUE: a 32-bit little-endian VALUE at OFFSET.
tap_poke() { "$PY" -c "$TAP_PY" poke "$@"; }

# --------------------------------------------------------------- misc

# in_ro_mount DIR CMD...: CMD with DIR bind-mounted read-only over itself,
# in a mount namespace of its own (nothing outside sees the mount).
in_ro_mount() {
	local dir=$1
	shift
	local ns=(unshare -m)
	[ "$(id -u)" = 0 ] || ns=(unshare -rm)
	"${ns[@]}" sh -c 'd=$1; shift; mount --bind "$d" "$d" &&
	    mount -o remount,bind,ro "$d" && exec "$@"' sh "$dir" "$@"
}


# Dates relative to today, as gb-catalog --date takes them.
day() { date -u -d "${1:-0} days" +%Y-%m-%d; }
# A UTC timestamp N days from now.
stamp() { date -u -d "${1:-0} days" +%Y-%m-%dT%H:%M:%SZ; }

# fifo_archive SPOOL/NAME SRC: SPOOL/NAME.seal copied from SRC and
# SPOOL/NAME.tar.gz.gpg a FIFO, so that a gb-write reading it waits for
# the test to feed it: the test decides how far a write gets.
fifo_archive() {
	local out=$1 src=$2
	mkdir -p "${out%/*}"
	cp "$src.seal" "$out.seal"
	rm -f "$out.tar.gz.gpg"
	mkfifo "$out.tar.gz.gpg"
}

# wait_for CMD...: up to 10 s for CMD to succeed.
wait_for() {
	local i
	for i in $(seq 200); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# flip_bit FILE OFFSET: one bit of the byte at OFFSET inverted, so the file
# always changes (writing a fixed byte does not when it is already there).
flip_bit() {
	"$PY" -c '
import sys
p, o = sys.argv[1], int(sys.argv[2])
with open(p, "r+b") as f:
    f.seek(o)
    b = f.read(1)
    f.seek(o)
    f.write(bytes([b[0] ^ 1]))
' "$1" "$2"
}

# Size in bytes of a file (0 if missing).
fsize() { stat -c %s "$1" 2>/dev/null || echo 0; }

# ------------------------------------------------------ a locked catalog

# lock_catalog: another process holds the catalog $CAT in an EXCLUSIVE
# transaction until unlock_catalog (LOCK_PID its pid).
lock_catalog() {
	rm -f "$W/unlock" "$W/locked"
	"$PY" -c '
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2] + "/locked", "w").close()
while not os.path.exists(sys.argv[2] + "/unlock"):
    time.sleep(0.02)
c.execute("ROLLBACK")
' "$CAT" "$W" 3>&- &
	LOCK_PID=$!
	wait_for test -e "$W/locked"
}

unlock_catalog() {
	touch "$W/unlock"
	wait "$LOCK_PID"
}

# ------------------------------------------- the stand-in drive (st(4))

# DRIVE is a device path that exists only under tests/stdrive.so, a
# STAND-IN for a Linux st tape drive (no drive exists here); its cartridge
# is the SIMH image $CART (tap_* read it).  stdrive CMD...: CMD run with
# the stand-in preloaded; STDRIVE_* variables the caller sets go through
# (see the top of tests/stdrive.c).
DRIVE=/dev/nst-test0
stdrive() {
	make -s -C "$TOP" tests/stdrive.so >/dev/null || return 125
	env LD_PRELOAD="$TOP/tests/stdrive.so" STDRIVE_DEV="$DRIVE" \
	    STDRIVE_FILE="${CART:-$W/cart.tap}" \
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@"
}
