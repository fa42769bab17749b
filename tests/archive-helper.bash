# tests/archive-helper.bash - shared setup for the bats tests of gb-pack,
# gb-seal, gb-verify and gb-restore (pack.bats, seal.bats, verify.bats,
# restore.bats).  Load it after helper.bash:
#
#	load helper
#	load archive-helper
#
# Keys come from scripts/mkkeys.sh, made once per file in setup_file
# (archive_setup_file) into $BATS_FILE_TMPDIR/keys: $SIGNER, $RCPT1, $RCPT2
# and the keyrings $KEYS/backup (signer secret, recipients public only),
# $KEYS/restore (recipients' secrets, signer public), $KEYS/auditor (signer
# public only) and $KEYS/all.
#
# Independent checks never use our own C code: python3 (zlib, tarfile,
# sqlite3 from the standard library), gzip, tar, bsdtar, gpg, sha256sum,
# sqlite3 and stat look at what the tools wrote.

# ------------------------------------------------------------ setup, keys

# In setup_file: $FX, a directory for the file's fixtures, and keys
# (unless "nokeys").
archive_setup_file() {
	unset GB_CONF
	keys_setup_file "$@"
}

archive_teardown_file() {
	kill_agents_under "$BATS_FILE_TMPDIR"
}

# Per test: helper.bash's setup, plus the agents a test's own keyrings
# started go in teardown.
setup() { gb_setup; }
teardown() {
	kill_agents_under "$BATS_TEST_TMPDIR"
	gb_teardown
}

# gpgk HOMEDIR ARGS...: gpg in batch mode on a keyring ("backup", "restore",
# "auditor", "all" are the ones under $KEYS; else a path).
gpgk() {
	local h=$1
	shift
	case $h in
	*/*) ;;
	*) h="$KEYS/$h" ;;
	esac
	gpg --batch --no-tty --quiet --homedir "$h" "$@"
}

# as ROLE CMD...: run CMD with GNUPGHOME set to a keyring.
as() {
	local h=$1
	shift
	case $h in
	*/*) ;;
	*) h="$KEYS/$h" ;;
	esac
	GNUPGHOME="$h" "$@"
}

# fake_gpg DIR: GPGME asks the gpgconf it finds on PATH where gpg is: a
# gpgconf in DIR names DIR/gpg, a script (on stdin) that stands in for it.
fake_gpg() {
	local real
	real=$(command -v gpgconf)
	mkdir -p "$1"
	cat >"$1/gpg"
	printf '#!/bin/sh\n%s "$@" | sed "s|^gpg:\\(.*\\):[^:]*\\$|gpg:\\1:%s/gpg|"\n' \
	    "$real" "$1" >"$1/gpgconf"
	chmod +x "$1/gpg" "$1/gpgconf"
}

# new_keyring DIR: an empty keyring directory (0700).
new_keyring() {
	mkdir -p "$1"
	chmod 700 "$1"
}

# key_fpr HOMEDIR NAME: the fingerprint of the one key NAME names.
key_fpr() {
	gpgk "$1" --with-colons --list-keys "$2" |
	    awk -F: '$1 == "fpr" { print $10; exit }'
}

# enc_keyids HOMEDIR FPR: the key ids of the encryption subkeys of FPR.
enc_keyids() {
	gpgk "$1" --with-colons --list-keys "$2" |
	    awk -F: '$1 == "sub" && $12 ~ /e/ { print $5 }'
}

# ------------------------------------------------------ export, pack, seal

# gym_export DB DIR [CONF]: gb-export -o DIR of DB (a config makes the
# manifest carry money sums).
gym_export() {
	local db=$1 dir=$2 conf=${3-}
	if [ -n "$conf" ]; then
		gb-export -c "$conf" -s "sqlite:$db" -o "$dir"
	else
		gb-export -s "sqlite:$db" -o "$dir"
	fi
}

# seal_set SET OUT [RECIPIENT...]: OUT.tar.gz = gb-pack SET, then
# gb-seal -o OUT (OUT.tar.gz.gpg, OUT.seal) with the backup keyring, to
# RCPT1 and RCPT2 unless recipients are given.
seal_set() {
	local set=$1 out=$2 r args=()
	shift 2
	[ $# -gt 0 ] || set -- "$RCPT1" "$RCPT2"
	for r in "$@"; do
		args+=(-r "$r")
	done
	gb-pack "$set" >"$out.tar.gz" || return 1
	as backup gb-seal "${args[@]}" -u "$SIGNER" -o "$out" <"$out.tar.gz" 2>/dev/null
}

# seal_text SEAL: the signed text of a seal, as stock gpg gives it.
seal_text() {
	gpgk auditor --decrypt "$1" 2>/dev/null
}

# seal_field SEAL FIELD: the values of a seal's FIELD lines (before the
# manifest block).
seal_field() {
	seal_text "$1" | awk -F'\t' -v f="$2" '$0 == "manifest" { exit } $1 == f { print $2 }'
}

# seal_manifest SEAL: the manifest block of a seal.
seal_manifest() {
	seal_text "$1" | sed '1,/^manifest$/d'
}

# lie_set SRC DST SEDEXPR: a copy of export set SRC whose MANIFEST is edited
# with sed (the CSVs and their hashes stay right).
lie_set() {
	cp -a "$1" "$2" || return 1
	local before
	before=$(sha256sum <"$2/MANIFEST")
	sed -i "$3" "$2/MANIFEST"
	[ "$(sha256sum <"$2/MANIFEST")" != "$before" ] ||
	    { echo "lie_set: $3 changed nothing" >&2; return 1; }
}

# ---------------------------------------------------------- gzip and tar

# gz_members FILE: one line per gzip member, the size of its decompressed
# bytes; fails on a truncated member or trailing garbage.
gz_members() {
	"$PY" - "$1" <<'EOF'
import sys, zlib
data = open(sys.argv[1], 'rb').read()
n = 0
while data:
    d = zlib.decompressobj(wbits=31)
    out = d.decompress(data) + d.flush()
    if not d.eof:
        sys.exit("member %d is truncated" % (n + 1))
    print(len(out))
    n += 1
    data = d.unused_data
EOF
}

# gz_member FILE N OUT: the decompressed bytes of member N (from 1) to OUT.
gz_member() {
	"$PY" - "$1" "$2" "$3" <<'EOF'
import sys, zlib
data = open(sys.argv[1], 'rb').read()
want = int(sys.argv[2])
n = 0
while data:
    d = zlib.decompressobj(wbits=31)
    out = d.decompress(data) + d.flush()
    n += 1
    if n == want:
        open(sys.argv[3], 'wb').write(out)
        sys.exit(0)
    data = d.unused_data
sys.exit("no member %d" % want)
EOF
}

# tar_list TARFILE: the entries of a tar (plain or gzip'd, possibly without
# its end blocks), one per line: name type mode uid gid mtime size.
tar_list() {
	"$PY" - "$1" <<'EOF'
import sys, tarfile, io, gzip
raw = open(sys.argv[1], 'rb').read()
if raw[:2] == b'\x1f\x8b':
    raw = gzip.decompress(raw)
t = tarfile.open(fileobj=io.BytesIO(raw + b'\0' * 1024), mode='r:')
for m in t.getmembers():
    print(m.name, m.type.decode() if isinstance(m.type, bytes) else m.type,
          '%o' % m.mode, m.uid, m.gid, m.mtime, m.size)
EOF
}

# mkstream DIR OUT FILE...: a pax tar of DIR's FILEs in that order (mode
# 0600, owner 0, mtime 0): an export stream made without gb-export.
mkstream() {
	"$PY" - "$@" <<'EOF'
import sys, tarfile
d, out, files = sys.argv[1], sys.argv[2], sys.argv[3:]
with tarfile.open(out, 'w', format=tarfile.PAX_FORMAT) as t:
    for f in files:
        ti = t.gettarinfo(d + '/' + f, arcname=f)
        ti.mode = 0o600; ti.uid = ti.gid = 0; ti.uname = ti.gname = ''
        ti.mtime = 0
        with open(d + '/' + f, 'rb') as fp:
            t.addfile(ti, fp)
EOF
}

# pack_trailer PACKED: the empty gzip members that end a packed archive
# made by gb-pack (its end mark, if it has one), on stdout.
pack_trailer() {
	"$PY" - "$1" <<'EOF'
import sys, zlib
data = open(sys.argv[1], 'rb').read()
members = []
while data:
    d = zlib.decompressobj(wbits=31)
    out = d.decompress(data) + d.flush()
    used = len(data) - len(d.unused_data)
    members.append((data[:used], len(out)))
    data = d.unused_data
tail = b''
while members and members[-1][1] == 0:
    tail = members.pop()[0] + tail
sys.stdout.buffer.write(tail)
EOF
}

# hostile_packed MANIFEST OUT KIND NAME PACKED: a packed archive as gb-pack
# lays it out (MANIFEST alone in the first gzip member, a real MANIFEST,
# the end mark of PACKED, a real gb-pack output), with one hostile member
# NAME: KIND file, symlink, hardlink, chardev, dir.
hostile_packed() {
	pack_trailer "$5" >"$2.trailer" || return 1
	"$PY" - "$@" <<'EOF' || return 1
import sys, tarfile, gzip
manifest, out, kind, name = sys.argv[1:5]
mdata = open(manifest, 'rb').read()
def entry(ti, data=b''):
    ti.mtime = 1700000000; ti.uid = ti.gid = 0; ti.uname = ti.gname = ''
    b = ti.tobuf(tarfile.PAX_FORMAT, 'utf-8', 'surrogateescape')
    return b + data + b'\0' * (-len(data) % 512)
ti = tarfile.TarInfo('MANIFEST'); ti.size = len(mdata); ti.mode = 0o600
first = entry(ti, mdata)
ti = tarfile.TarInfo(name); ti.mode = 0o600
payload = b'evil\n'
if kind == 'file':
    ti.type = tarfile.REGTYPE; ti.size = len(payload); rest = entry(ti, payload)
elif kind == 'symlink':
    ti.type = tarfile.SYMTYPE; ti.linkname = '../evil'; rest = entry(ti)
elif kind == 'hardlink':
    ti.type = tarfile.LNKTYPE; ti.linkname = 'MANIFEST'; rest = entry(ti)
elif kind == 'chardev':
    ti.type = tarfile.CHRTYPE; ti.devmajor, ti.devminor = 1, 3; rest = entry(ti)
elif kind == 'dir':
    ti.type = tarfile.DIRTYPE; rest = entry(ti)
else:
    sys.exit('unknown kind ' + kind)
rest += b'\0' * 1024
with open(out, 'wb') as f:
    f.write(gzip.compress(first, mtime=0))
    f.write(gzip.compress(rest, mtime=0))
    f.write(open(out + '.trailer', 'rb').read())
EOF
	rm -f "$2.trailer"
}

# ---------------------------------------------------------------- damage

# flip_byte FILE POS: change one byte of FILE (xor 1); POS an offset, or
# start, middle, end.
flip_byte() {
	"$PY" - "$1" "$2" <<'EOF'
import sys
p, pos = sys.argv[1], sys.argv[2]
b = bytearray(open(p, 'rb').read())
i = {'start': 0, 'middle': len(b) // 2, 'end': len(b) - 1}.get(pos)
if i is None:
    i = int(pos)
b[i] ^= 1
open(p, 'wb').write(b)
EOF
}

# flip_seal SEAL text|sig start|middle|end: change one byte of a
# clear-signed seal: a letter or digit of its signed text, or a byte of
# the signature packet itself (its base64 and armor checksum redone, so
# that only the signature can tell).  Prints the offset changed.
flip_seal() {
	"$PY" - "$1" "$2" "$3" <<'EOF'
import sys, base64
p, region, pos = sys.argv[1:4]
s = open(p, 'rb').read()
if region == 'text':
    b = bytearray(s)
    head = s.index(b'-----BEGIN PGP SIGNED MESSAGE-----')
    lo = s.index(b'\n\n', head) + 2
    hi = s.index(b'\n-----BEGIN PGP SIGNATURE-----')
    cand = [i for i in range(lo, hi) if chr(b[i]).isalnum()]
    i = {'start': cand[0], 'middle': cand[len(cand) // 2], 'end': cand[-1]}[pos]
    b[i] = ord('A') if b[i] != ord('A') else ord('B')
    open(p, 'wb').write(b)
    print(i)
    sys.exit(0)
head = s.index(b'-----BEGIN PGP SIGNATURE-----')
lo = s.index(b'\n\n', head) + 2
end = s.index(b'-----END PGP SIGNATURE-----')
body = [l for l in s[lo:end].split(b'\n') if l and not l.startswith(b'=')]
pkt = bytearray(base64.b64decode(b''.join(body)))
# start: the first hashed subpacket; end: the last byte of the signature
i = {'start': 8, 'middle': len(pkt) // 2, 'end': len(pkt) - 1}[pos]
pkt[i] ^= 1
def crc24(data):
    crc = 0xB704CE
    for c in data:
        crc ^= c << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF
enc = base64.b64encode(bytes(pkt))
lines = [enc[k:k + 64] for k in range(0, len(enc), 64)]
crc = base64.b64encode(crc24(pkt).to_bytes(3, 'big'))
out = s[:lo] + b'\n'.join(lines) + b'\n=' + crc + b'\n' + s[end:]
open(p, 'wb').write(out)
print(lo + i * 4 // 3)
EOF
}

# truncate_to FILE BYTES
truncate_to() {
	truncate -s "$2" "$1"
}

# ------------------------------------------------------------ assertions

# assert_same_tree A B: the same file names, each file byte for byte.
assert_same_tree() {
	local a=$1 b=$2 la lb f
	la=$(cd "$a" && find . -mindepth 1 | LC_ALL=C sort)
	lb=$(cd "$b" && find . -mindepth 1 | LC_ALL=C sort)
	[ "$la" = "$lb" ] || fail "$a and $b hold different files:
$la
---
$lb"
	while IFS= read -r f; do
		[ -d "$a/$f" ] && continue
		cmp "$a/$f" "$b/$f" || fail "$a/$f and $b/$f differ"
	done <<<"$la"
}

# assert_mode MODE FILE...
assert_mode() {
	local m=$1 f got
	shift
	for f in "$@"; do
		got=$(stat -c %a "$f")
		[ "$got" = "$m" ] || fail "$f has mode $got, not $m"
	done
}

# assert_empty_dir DIR
assert_empty_dir() {
	local left
	left=$(ls -A "$1")
	[ -z "$left" ] || fail "left in $1: $left"
}

# assert_gone PATH...: neither PATH nor PATH.tmp.* exists.
assert_gone() {
	local p
	for p in "$@"; do
		assert_no_dir "$p"
	done
}

# listing DIR: every path under DIR with type, size and hash, for a
# before/after comparison.
listing() {
	(cd "$1" && find . -mindepth 1 -printf '%y %m %s %p\n' | LC_ALL=C sort &&
	    find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
}

# db_equal A B: the same tables, the same schema objects, and every table
# the same rows (sqlite3 EXCEPT both ways via ATTACH, counts) and the same
# values with their storage types (python3 sqlite3: integer, real bit for
# bit, text bytes, blob bytes, NULL).  Prints what differs; 1 if anything.
db_equal() {
	local a=$1 b=$2 ta tb t q res bad=0
	ta=$(db_tables "$a")
	tb=$(db_tables "$b")
	if [ "$ta" != "$tb" ]; then
		echo "tables differ: [$ta] vs [$tb]"
		return 1
	fi
	if [ "$(sqlite3 "$a" "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name")" != \
	    "$(sqlite3 "$b" "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name")" ]; then
		echo "schema objects differ"
		bad=1
	fi
	while IFS= read -r t; do
		[ -n "$t" ] || continue
		q="\"${t//\"/\"\"}\""
		res=$(sqlite3 -bail -separator ' ' "$a" "ATTACH '$b' AS other;
		    SELECT (SELECT count(*) FROM (SELECT * FROM main.$q EXCEPT SELECT * FROM other.$q)),
		           (SELECT count(*) FROM (SELECT * FROM other.$q EXCEPT SELECT * FROM main.$q)),
		           (SELECT count(*) FROM main.$q), (SELECT count(*) FROM other.$q);") ||
		    { echo "sqlite3 failed on table $t"; return 1; }
		set -- $res
		if [ "$1" != 0 ] || [ "$2" != 0 ] || [ "$3" != "$4" ]; then
			echo "table $t: $1 rows only in $a, $2 only in $b, counts $3 vs $4"
			bad=1
		fi
	done <<<"$ta"
	"$PY" - "$a" "$b" <<'EOF' || bad=1
import sqlite3, struct, sys
def load(path):
    con = sqlite3.connect('file:' + path + '?mode=ro', uri=True)
    con.text_factory = lambda b: ('T', bytes(b))
    names = [r[0][1].decode() for r in con.execute(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")]
    out = {}
    for n in names:
        q = '"' + n.replace('"', '""') + '"'
        cols = [(r[1], r[2]) for r in con.execute('PRAGMA table_info(%s)' % q)]
        rows = []
        for row in con.execute('SELECT * FROM %s' % q):
            v = []
            for x in row:
                if isinstance(x, float):
                    v.append(('R', struct.pack('>d', x)))
                elif isinstance(x, int):
                    v.append(('I', x))
                elif isinstance(x, bytes):
                    v.append(('B', x))
                else:
                    v.append(x)  # ('T', bytes) or None
            rows.append(repr(v))
        out[n] = (cols, sorted(rows))
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
bad = 0
for n in sorted(set(a) | set(b)):
    if n not in a or n not in b:
        print('table %s missing on one side' % n); bad = 1; continue
    if a[n][0] != b[n][0]:
        print('table %s: columns differ: %r vs %r' % (n, a[n][0], b[n][0])); bad = 1
    if a[n][1] != b[n][1]:
        sa, sb = set(a[n][1]), set(b[n][1])
        print('table %s: typed values differ, e.g. %r vs %r' % (n,
              sorted(sa - sb)[:1], sorted(sb - sa)[:1])); bad = 1
sys.exit(bad)
EOF
	return $bad
}

# assert_db_equal A B
assert_db_equal() {
	local why
	why=$(db_equal "$1" "$2") || fail "databases $1 and $2 differ: $why"
}

# ------------------------------------------------------ hostile archives

# craft_packed SET OUT PACKED [SPEC...]: export set SET packed as gb-pack
# lays it out (MANIFEST alone in the first gzip member, then SCHEMA.sql and
# the tables in MANIFEST order, then PACKED's end mark), made hostile by
# each SPEC:
#   pax:MEMBER:KEY=VALUE  a pax header record KEY=VALUE on MEMBER (e.g.
#                         SCHILY.realsize=-1, or size=HUGE)
#   big:FILE:N            FILE (a table of one row) holds instead its
#                         header and one row whose last field is N bytes
#                         of 'a'; the MANIFEST's bytes and sha256 follow
# The big field is generated as it is written: nothing of its size is on
# disk or in memory.
craft_packed() {
	pack_trailer "$3" >"$2.trailer" || return 1
	"$PY" - "$@" <<'EOF' || return 1
import sys, tarfile, zlib, hashlib
sdir, out, packed = sys.argv[1:4]
pax, big = {}, {}
for spec in sys.argv[4:]:
    kind, member, arg = spec.split(':', 2)
    if kind == 'pax':
        k, v = arg.split('=', 1)
        pax.setdefault(member, {})[k] = v
    elif kind == 'big':
        big[member] = int(arg)
    else:
        sys.exit('craft_packed: unknown spec ' + spec)

class Gen:
    """The bytes of FILE: head, then n bytes of 'a', then a newline."""
    def __init__(self, head, n):
        self.parts = [head]; self.n = n; self.tail = b'\n'
    def read(self, k):
        if self.parts:
            return self.parts.pop()
        if self.n:
            m = min(k, self.n, 1 << 20); self.n -= m
            return b'a' * m
        t, self.tail = self.tail, b''
        return t

def source(name):
    if name in big:
        lines = open(sdir + '/' + name, 'rb').read().split(b'\n')
        if len(lines) != 3 or lines[2]:
            sys.exit('craft_packed: %s must hold a header and one row' % name)
        row = lines[1].split(b',')
        head = lines[0] + b'\n' + b','.join(row[:-1]) + b','
        return Gen(head, big[name]), len(head) + big[name] + 1
    data = open(sdir + '/' + name, 'rb').read()
    import io
    return io.BytesIO(data), len(data)

manifest = open(sdir + '/MANIFEST', 'rb').read().decode()
files = ['SCHEMA.sql']
tables = {}
for line in manifest.split('\n'):
    f = line.split('\t')
    if f[0] == 'table':
        files.append(f[2]); tables[f[2]] = f[1]
# The MANIFEST tells the truth about the big files.
lines = manifest.split('\n')
for name, n in big.items():
    g, size = source(name)
    h = hashlib.sha256()
    while True:
        b = g.read(1 << 20)
        if not b:
            break
        h.update(b)
    t = tables[name]
    lines = [('bytes\t%s\t%d' % (t, size)) if l.startswith('bytes\t%s\t' % t) else
             ('sha256\t%s\t%s' % (t, h.hexdigest())) if l.startswith('sha256\t%s\t' % t) else l
             for l in lines]
manifest = '\n'.join(lines).encode()
open(out + '.manifest', 'wb').write(manifest)

class GzOut:
    """Writes gzip members to a file: one per begin() ... end()."""
    def __init__(self, f):
        self.f = f
    def begin(self):
        self.z = zlib.compressobj(9, zlib.DEFLATED, 31)
    def write(self, b):
        self.f.write(self.z.compress(b))
        return len(b)
    def end(self):
        self.f.write(self.z.flush())

def info(name, size):
    ti = tarfile.TarInfo(name)
    ti.size = size; ti.mode = 0o600; ti.mtime = 1700000000
    ti.uid = ti.gid = 0; ti.uname = ti.gname = ''
    ti.pax_headers = dict(pax.get(name, {}))
    return ti

with open(out, 'wb') as f:
    gz = GzOut(f)
    gz.begin()
    ti = info('MANIFEST', len(manifest))
    gz.write(ti.tobuf(tarfile.PAX_FORMAT, 'utf-8', 'surrogateescape'))
    gz.write(manifest + b'\0' * (-len(manifest) % 512))
    gz.end()
    gz.begin()
    for name in files:
        src, size = source(name)
        ti = info(name, size)
        gz.write(ti.tobuf(tarfile.PAX_FORMAT, 'utf-8', 'surrogateescape'))
        left = size
        while left:
            b = src.read(min(left, 1 << 20))
            if not b:
                sys.exit('craft_packed: %s ended early' % name)
            gz.write(b); left -= len(b)
        gz.write(b'\0' * (-size % 512))
    gz.write(b'\0' * 1024)
    gz.end()
    f.write(open(out + '.trailer', 'rb').read())
EOF
	rm -f "$2.trailer"
}

# encrypt_unsigned IN OUT: IN encrypted to RCPT1 and RCPT2 and not signed,
# as anyone with the recipients' public keys can make it.
encrypt_unsigned() {
	gpgk backup --trust-model always --compress-algo none -r "$RCPT1" \
	    -r "$RCPT2" -o "$2" --encrypt "$1"
}

# forge_sealed PACKED OUT SEAL [KEYRING -u KEY...]: OUT.tar.gz.gpg, PACKED
# signed by $SIGNER (or by each KEY, from KEYRING) and encrypted to RCPT1
# and RCPT2 with stock gpg, and OUT.seal, the signed text of SEAL with the
# archive's name, sizes and hashes put right, clear-signed by $SIGNER's
# primary key: what a holder of the signer's key can make of anything,
# even what gb-seal refuses to seal.
forge_sealed() {
	local base=${2##*/}.tar.gz.gpg home=backup signers=(-u "$SIGNER")
	if [ $# -gt 3 ]; then
		home=$4
		signers=("${@:5}")
	fi
	gpgk "$home" --trust-model always --compress-algo none "${signers[@]}" \
	    -r "$RCPT1" -r "$RCPT2" -o "$2.tar.gz.gpg" --sign --encrypt "$1" ||
	    return 1
	seal_text "$3" | awk -F'\t' -v a="$base" \
	    -v size="$(stat -c %s "$2.tar.gz.gpg")" \
	    -v sha="$(sha256sum <"$2.tar.gz.gpg" | cut -d' ' -f1)" \
	    -v psize="$(stat -c %s "$1")" -v psha="$(sha256sum <"$1" | cut -d' ' -f1)" '
	m { print; next }
	$0 == "manifest" { m = 1 }
	$1 == "archive" { $0 = "archive\t" a }
	$1 == "size" { $0 = "size\t" size }
	/^[0-9a-f]+  [^ ]+$/ { $0 = sha "  " a }
	$1 == "packed-size" { $0 = "packed-size\t" psize }
	$1 == "packed-sha256" { $0 = "packed-sha256\t" psha }
	{ print }' >"$2.text" || return 1
	gpgk "$home" -u "$SIGNER!" -o "$2.seal" --clearsign "$2.text" &&
	    rm "$2.text"
}

# reseal PACKED SEALED OUT: PACKED sealed again by gb-seal as OUT (to RCPT1
# and RCPT2), until OUT.tar.gz.gpg is of SEALED's size and other bytes.
# A signature's numbers are a byte shorter about once in 128: the first
# try nearly always matches, but a SEALED of the short kind takes about
# 128 tries, so up to 1,000 (fewer would fail about one run in a hundred).
reseal() {
	local i
	mkdir -p "${3%/*}"
	for i in $(seq 1000); do
		as backup gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o "$3" \
		    <"$1" 2>/dev/null || return 1
		if [ "$(stat -c %s "$3.tar.gz.gpg")" = "$(stat -c %s "$2")" ] &&
		    ! cmp -s "$3.tar.gz.gpg" "$2"; then
			return 0
		fi
		rm -f "$3.tar.gz.gpg" "$3.seal"
	done
	echo "reseal: no archive of the size of $2 in 1,000 tries" >&2
	return 1
}
