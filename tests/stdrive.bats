#!/usr/bin/env bats
# gb-write, gb-verify, gb-restore and gb-catalog on a tape DRIVE, the st
# path of lib/tape.c (MTSETBLK, MTWEOF, MTEOM, MTIOCGET, records), run on
# tests/stdrive.so: a STAND-IN drive after st(4), not a drive (none exists
# here).  Its cartridge is a SIMH image, $CART, read by the tests' own
# reader (tap_*); the SIMH image (tape:PATH) stays the medium of the demo.

load helper
load media-helper

setup_file() { members_setup_file 3; }

teardown_file() { media_teardown_file; }

setup() {
	media_setup
	CART=$W/cart.tap
	export STDRIVE_LOG=$W/drive.log
}

SP=$BATS_FILE_TMPDIR/fx/spool

# label ID [ARGS...]: the stand-in's cartridge labelled ID, pool weekly.
label() {
	local id=$1
	shift
	stdrive gb-write --label "$id" --pool weekly "$@" "$DRIVE" 2>/dev/null ||
	    fail "gb-write --label $id $* on the stand-in drive failed"
}

# put N...: gb-write of archives aN to the stand-in, each must succeed.
put() {
	local n
	for n in "$@"; do
		stdrive gb-write "$DRIVE" "$SP/a$n" >/dev/null 2>&1 ||
		    fail "gb-write a$n on the stand-in drive failed"
	done
}

same_archive() {
	tap_data "$CART" "$2" "$(arch_size "$SP/a$1")" |
	    cmp - "$SP/a$1.tar.gz.gpg" || fail "tape file $2 is not a$1"
}
same_seal() {
	tap_text "$CART" "$2" | cmp - "$SP/a$1.seal" || fail "tape file $2 is not a$1.seal"
}

@test "stand-in drive: label, write two archives, read back; the cartridge holds label, archive, seal, archive, seal" {
	label D1
	run stdrive gb-write "$DRIVE" "$SP/a1"
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	[[ "$output" == *"a1.tar.gz.gpg: written to D1 (tape file 1), read back OK"* ]] || fail "$output"
	put 2
	same_archive 1 1
	same_seal 1 2
	same_archive 2 3
	same_seal 2 4
	[ "$(tap_files "$CART" | wc -l)" -eq 5 ] || fail "$(tap_files "$CART")"
	[ "$(cq "SELECT position || ' ' || status FROM copies ORDER BY id" | tr '\n' ,)" = "1 good,3 good," ]
	[ "$(cq "SELECT next_file FROM media WHERE id = 'D1'")" = 5 ]
	grep -qx "MTCOMPRESSION 0" "$STDRIVE_LOG" || fail "compression not turned off: $(cat "$STDRIVE_LOG")"
}

@test "stand-in drive: gb-verify --media and gb-restore --media read the archives back from the drive" {
	label D1
	put 1 2
	run stdrive env GNUPGHOME="$KEYS/all" gb-verify --media "$DRIVE" a2
	[ "$status" -eq 0 ] || fail "gb-verify exit $status: $output"
	rm -rf out
	run stdrive env GNUPGHOME="$KEYS/all" gb-restore --media "$DRIVE" -o out a1
	[ "$status" -eq 0 ] || fail "gb-restore exit $status: $output"
	diff -r out "$SP/a1.set" || fail "a1 restored from the drive differs"
}

@test "stand-in drive: fixed blocks (-b 64K): records of 65536, read back by the tools in variable mode whatever the drive was left in" {
	label D1 -b 64K
	run stdrive gb-write -b 64K "$DRIVE" "$SP/a1"
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	run -0 tap_files "$CART"
	assert_line -n 0 "file 0: 1 records of 65536"
	assert_line -n 2 "file 2: 1 records of 65536"
	same_archive 1 1
	grep -qx "MTSETBLK 65536" "$STDRIVE_LOG"
	rm -rf out
	run stdrive env GNUPGHOME="$KEYS/all" gb-restore --media "$DRIVE" -o out a1
	[ "$status" -eq 0 ] || fail "gb-restore exit $status: $output"
	diff -r out "$SP/a1.set"
	[ "$(tail -1 "$STDRIVE_LOG")" = "MTSETBLK 0" ] || fail "$(cat "$STDRIVE_LOG")"
}

@test "stand-in drive: fixed blocks of 1536 bytes, which 16 MiB is no multiple of: read back in whole blocks" {
	label D1 -b 1536
	run stdrive gb-write -b 1536 "$DRIVE" "$SP/a1"
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	assert_output --partial "read back OK"
	run -0 tap_files "$CART"
	assert_line -n 0 "file 0: 1 records of 1536"
	same_archive 1 1
	same_seal 1 2
}

@test "stand-in drive: a block size outside the drive's limits is refused with the reason (exit 2), nothing written" {
	run stdrive env STDRIVE_MAXBLOCK=131072 gb-write --label D1 --pool weekly -b 256K "$DRIVE"
	[ "$status" -eq 2 ] || fail "exit $status: $output"
	assert_output "gb-write: $DRIVE: the drive refuses blocks of 262144 bytes (outside its block limits); choose another -b"
	[ ! -s "$CART" ]
	[ "$(cq "SELECT count(*) FROM media")" -eq 0 ]
	# variable blocks: a record larger than the drive takes is refused
	STDRIVE_MAXBLOCK=1024 label D1 -b 0
	run stdrive env STDRIVE_MAXBLOCK=1024 gb-write -b 0 "$DRIVE" "$SP/a1"
	[ "$status" -eq 2 ] || fail "exit $status: $output"
	assert_line "gb-write: $DRIVE: the drive refuses variable records of up to 262144 bytes (outside its block limits); choose another -b"
	[ "$(cq "SELECT status FROM copies")" = failed ]
}

@test "stand-in drive: a write-protected cartridge: no label, no write (exit 3, EROFS); no cartridge: ENOMEDIUM" {
	label D1
	cp "$CART" before.tap
	run stdrive env STDRIVE_WP=1 gb-write "$DRIVE" "$SP/a1"
	[ "$status" -eq 3 ] || fail "exit $status: $output"
	assert_output "gb-write: cannot open the tape $DRIVE: Read-only file system"
	cmp "$CART" before.tap
	[ "$(cq "SELECT count(*) FROM copies")" -eq 0 ]
	run stdrive env STDRIVE_NOMEDIUM=1 gb-write --label D2 --pool weekly "$DRIVE"
	[ "$status" -eq 3 ] || fail "exit $status: $output"
	assert_output "gb-write: cannot open the tape $DRIVE: No medium found"
	# read-only tools still read a write-protected cartridge
	run stdrive env STDRIVE_WP=1 GNUPGHOME="$KEYS/all" gb-verify --media "$DRIVE" a1
	[ "$status" -ne 0 ]
	put 1
	run stdrive env STDRIVE_WP=1 GNUPGHOME="$KEYS/all" gb-verify --media "$DRIVE" a1
	[ "$status" -eq 0 ] || fail "gb-verify of a write-protected cartridge: exit $status: $output"
}

@test "stand-in drive: a cartridge of another pool is refused before anything is written" {
	label D1
	cp "$CART" before.tap
	run stdrive gb-write --pool daily "$DRIVE" "$SP/a1"
	[ "$status" -eq 2 ] || fail "exit $status: $output"
	assert_output "gb-write: medium D1 is of pool weekly, not daily"
	cmp "$CART" before.tap
}

@test "stand-in drive: kill -9 between the archive and its seal; the next gb-write writes over the lone archive" {
	label D1
	put 1
	# the archive a2, its filemark, then the process dies
	run stdrive env STDRIVE_KILL=weof:1 gb-write "$DRIVE" "$SP/a2"
	[ "$status" -eq 137 ] || fail "exit $status: $output"
	run -0 tap_files "$CART"
	[ "${#lines[@]}" -eq 4 ] || fail "$output"
	same_archive 2 3
	[ "$(cq "SELECT status || '|' || position FROM copies WHERE archive = 'a2.tar.gz.gpg'")" = "writing|3" ]
	run stdrive gb-write "$DRIVE" "$SP/a2"
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	same_archive 1 1
	same_seal 1 2
	same_archive 2 3
	same_seal 2 4
	[ "$(tap_files "$CART" | wc -l)" -eq 5 ]
	[ "$(cq "SELECT group_concat(status) FROM copies WHERE archive = 'a2.tar.gz.gpg'")" = good ]
}

@test "stand-in drive: killed in the middle of the archive, the filemark st writes at release ends it; written over next" {
	label D1 -b 512
	run stdrive env STDRIVE_KILL=write:3 gb-write -b 512 "$DRIVE" "$SP/a1"
	[ "$status" -eq 137 ] || fail "exit $status: $output"
	run -0 stdrive gb-write -b 512 "$DRIVE" "$SP/a1"
	# the next open wrote the mark: file 1 was 3 records and a mark
	[ "$(grep -c MTWEOF "$STDRIVE_LOG")" -ge 3 ]
	same_archive 1 1
	same_seal 1 2
	[ "$(tap_files "$CART" | wc -l)" -eq 3 ]
}

@test "stand-in drive: a cartridge shorter than the catalog's end of data is never written over (exit 3)" {
	label D1
	put 1 2
	tap_keep "$CART" 3
	cp "$CART" before.tap
	run stdrive gb-write "$DRIVE" "$SP/a3"
	[ "$status" -eq 3 ] || fail "exit $status: $output"
	assert_output "gb-write: $DRIVE ends at tape file 3, before tape file 5 where the good copies the catalog records on D1 end; nothing written"
	cmp "$CART" before.tap
}

@test "stand-in drive: the archive meets the end of medium: its filemark is written, the medium recorded full (exit 3); expire frees it, written over from file 1" {
	mkdir usb
	export STDRIVE_CAPACITY=1000000
	label D1
	stdrive gb-write --label U1 --pool weekly usb >/dev/null 2>&1
	put 1
	run stdrive gb-write "$DRIVE" "$SP/a2"
	[ "$status" -eq 3 ] || fail "exit $status: $output"
	assert_line "gb-write: medium D1 is full: nothing of $SP/a2 is recorded on it; mount the next medium of pool weekly (U1) and run: gb-write MEDIA $SP/a2"
	grep -qx "write ENOSPC: end of medium" "$STDRIVE_LOG"
	[ "$(tail -1 "$STDRIVE_LOG")" = MTWEOF ] || fail "no filemark after the refused record: $(cat "$STDRIVE_LOG")"
	run -0 tap_files "$CART"
	assert_line -n 3 "file 3: 0 records of -"
	[ "$(cq "SELECT state FROM media WHERE id = 'D1'")" = full ]
	run -0 stdrive gb-write usb "$SP/a2"
	run -0 gb-catalog expire --date "$(day 60)"
	assert_line "free D1: nothing live left, reusable"
	run stdrive gb-write "$DRIVE" "$SP/a3"
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	same_archive 3 1
	same_seal 3 2
	[ "$(tap_files "$CART" | wc -l)" -eq 3 ]
}

@test "stand-in drive: past the early warning the seal goes in on the second try; the copy is good, the medium recorded full" {
	export STDRIVE_CAPACITY=4000000 STDRIVE_EW=524000
	label D1
	run stdrive gb-write "$DRIVE" "$SP/a1"
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	assert_line "gb-write: $DRIVE: medium D1 met its end of medium with a1.tar.gz.gpg, written whole; recorded full: the next archive goes to another medium of pool weekly"
	grep -qx "write ENOSPC: early warning" "$STDRIVE_LOG"
	same_archive 1 1
	same_seal 1 2
	[ "$(cq "SELECT status FROM copies")" = good ]
	[ "$(cq "SELECT state FROM media WHERE id = 'D1'")" = full ]
	run stdrive gb-write "$DRIVE" "$SP/a2"
	[ "$status" -eq 2 ]
	assert_output "gb-write: medium D1 is full; use another medium of pool weekly"
}

@test "stand-in drive: a drive that keeps compressing is named in a warning; the write goes on" {
	label D1
	run stdrive env STDRIVE_NOCOMP=1 gb-write -q "$DRIVE" "$SP/a1"
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	assert_line "gb-write: warning: $DRIVE: cannot turn the drive's compression off: Input/output error; the archives are encrypted and gain nothing from it"
	same_archive 1 1
}

# ------------------------------------------------------ --check-drive

@test "gb-write --check-drive on the stand-in: records, filemarks, read back, positioning, end of data; speeds against LTO-9's rates" {
	run stdrive gb-write --check-drive --size 8M "$DRIVE"
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	assert_line -n 0 "drive $DRIVE: density code 0x60 (LTO-9), fixed blocks of 262144 bytes"
	assert_line "ok   compression off"
	assert_line "ok   wrote 32 records of 262144 bytes in 3 files, each ended by a filemark"
	assert_line --regexp '^(ok  |SLOW) write [0-9.]+ MB/s: .* \(LTO-9: 400 MB/s native, speed matching down to 177 MB/s\)$'
	assert_line --regexp '^(ok  |SLOW) read [0-9.]+ MB/s: '
	assert_line "ok   read back every record and filemark, then the end of data"
	assert_line "ok   MTREW, MTFSF 2: at file 2"
	assert_line "ok   MTBSF 1, MTFSF 1: back at file 2"
	assert_line "ok   MTFSR 2, MTBSR 1: at record 2 of file 1"
	assert_line "ok   MTEOM: at the end of data, file 3"
	assert_line "ok   appended file 3 at the end of data, read it back"
	assert_line "$DRIVE: all checks passed; the cartridge holds test data now"
	refute_line --partial FAIL
	# what the drive holds: 16 + 3 + 13 records of the test, and file 3
	run -0 tap_files "$CART"
	assert_output "$(printf '%s\n' 'file 0: 16 records of 262144' \
	    'file 1: 3 records of 262144' 'file 2: 13 records of 262144' \
	    'file 3: 1 records of 262144')"
	grep -qx "MTCOMPRESSION 0" "$STDRIVE_LOG"
}

@test "gb-write --check-drive --fill: writes on to the early warning, then a filemark; an LTO-5 density is named with its rates" {
	run stdrive env STDRIVE_CAPACITY=20000000 STDRIVE_EW=12000000 STDRIVE_DENSITY=0x58 \
	    gb-write --check-drive --fill --size 2M -b 64K "$DRIVE"
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	assert_line -n 0 "drive $DRIVE: density code 0x58 (LTO-5), fixed blocks of 65536 bytes"
	assert_line --regexp '^(ok  |SLOW) write [0-9.]+ MB/s: .* \(LTO-5: 140 MB/s native, speed matching down to 40 MB/s\)$'
	assert_line --regexp '^ok   end of medium after [0-9]+ more bytes: No space left on device$'
	assert_line "ok   a filemark written past the early warning"
	assert_line "ok   the first record of the filled file read back"
	# the fill stopped at the first refusal past the early warning
	[ "$(fsize "$CART")" -ge 12000000 ] && [ "$(fsize "$CART")" -lt 12100000 ] ||
	    fail "cartridge of $(fsize "$CART") bytes"
	tap_files "$CART" | tail -1 | grep -q '^file 4: '
}

@test "gb-write --check-drive refuses a gymbackup cartridge (exit 2, untouched) unless --force; a cartridge too small for the test exits 3" {
	label D1
	cp "$CART" before.tap
	run stdrive gb-write --check-drive --size 1M "$DRIVE"
	[ "$status" -eq 2 ] || fail "exit $status: $output"
	assert_line "gb-write: $DRIVE holds gymbackup medium D1 of pool weekly; --check-drive writes over the cartridge: load a scratch one (or --force, and retire D1)"
	cmp "$CART" before.tap
	run stdrive gb-write --check-drive --force --size 1M "$DRIVE"
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	# a drive whose end of medium comes before the test's data
	run stdrive env STDRIVE_CAPACITY=600000 STDRIVE_EW=500000 gb-write --check-drive --size 2M "$DRIVE"
	[ "$status" -eq 3 ] || fail "exit $status: $output"
	assert_line --partial "gb-write: $DRIVE: cannot write record"
	run gb-write --check-drive tape:x.tap
	[ "$status" -eq 2 ]
	assert_output "gb-write: tape:x.tap: --check-drive tests a tape drive (/dev/nstN), not a directory or an image"
}

# ------------------------------------------- the stand-in itself, st(4)

# st_py SCRIPT: python3 under the stand-in, os.open of $DRIVE as d.
st_py() {
	stdrive "$PY" -c "
import errno, fcntl, os, struct
MTIOCTOP, MTIOCGET, MTIOCPOS = 0x40086d01, 0x80306d02, 0x80086d03
def op(fd, o, n=1): fcntl.ioctl(fd, MTIOCTOP, struct.pack('hi', o, n))
MTFSF, MTBSF, MTFSR, MTBSR, MTWEOF, MTREW, MTEOM, MTSETBLK = 1, 2, 3, 4, 5, 6, 12, 20
def get(fd):
    t, r, ds, gs, er, fn, bn = struct.unpack('lllllii', fcntl.ioctl(fd, MTIOCGET, bytes(48)))
    return ds, gs & 0xffffffff, fn, bn
def err(f, *a):
    try:
        f(*a)
    except OSError as e:
        return errno.errorcode[e.errno]
    return 'ok'
$1"
}

@test "the stand-in drive follows st(4): ENOMEM for a short read of a variable record, whole blocks in fixed mode, 0 then EIO at the end of data" {
	run st_py "
d = os.open('$DRIVE', os.O_RDWR)
os.write(d, b'a' * 1000); os.write(d, b'b' * 10); op(d, MTWEOF)
op(d, MTSETBLK, 512); os.write(d, b'c' * 1024); op(d, MTWEOF, 1)
op(d, MTREW)
print('bot', get(d)[1] & 0x40000000 != 0)
op(d, MTSETBLK, 0)
print('short', err(os.read, d, 100))
print('next', len(os.read(d, 100)))
print('mark', len(os.read(d, 100)), get(d)[1] & 0x80000000 != 0, get(d)[2])
op(d, MTSETBLK, 512)
print('fixed', len(os.read(d, 4096)), get(d)[3])
print('notmult', err(os.read, d, 100))
print('mark2', len(os.read(d, 512)))
print('eod', len(os.read(d, 512)), get(d)[1] & 0x08000000 != 0)
print('eod2', err(os.read, d, 512))
op(d, MTBSF, 1); print('bsf', get(d)[2], get(d)[3])
op(d, MTREW); op(d, MTFSR, 1); print('pos', struct.unpack('l', fcntl.ioctl(d, MTIOCPOS, bytes(8)))[0])
print('fsr', err(op, d, MTFSR, 5), get(d)[2])
op(d, MTEOM); print('eom', get(d)[2], get(d)[1] & 0x08000000 != 0)
print('bs', get(d)[0] & 0xffffff, hex(get(d)[0] >> 24 & 0xff))
os.close(d)
"
	[ "$status" -eq 0 ] || fail "$output"
	assert_output "$(printf '%s\n' 'bot True' 'short ENOMEM' 'next 10' 'mark 0 True 1' \
	    'fixed 1024 2' 'notmult EINVAL' 'mark2 0' 'eod 0 True' 'eod2 EIO' 'bsf 1 -1' \
	    'pos 1' 'fsr EIO 1' 'eom 2 True' 'bs 512 0x60')"
}

@test "the stand-in drive follows st(4): early warning refuses every other write, filemarks still go in; write protection and a busy drive" {
	export STDRIVE_CAPACITY=10000 STDRIVE_EW=3000
	run st_py "
d = os.open('$DRIVE', os.O_RDWR)
for i in range(6):
    print(i, err(os.write, d, b'x' * 1000), get(d)[1] & 0x20000000 != 0)
op(d, MTWEOF); print('mark', get(d)[2])
print('busy', err(os.open, '$DRIVE', os.O_RDONLY))
os.close(d)
"
	[ "$status" -eq 0 ] || fail "$output"
	# records of 1008 bytes in the image: the third crosses 3000
	assert_output "$(printf '%s\n' '0 ok False' '1 ok False' '2 ok True' '3 ENOSPC True' \
	    '4 ok True' '5 ENOSPC True' 'mark 1' 'busy EBUSY')"
	export STDRIVE_WP=1
	run st_py "
print('rw', err(os.open, '$DRIVE', os.O_RDWR))
d = os.open('$DRIVE', os.O_RDONLY)
print('wp', get(d)[1] & 0x04000000 != 0, get(d)[1] & 0x01000000 != 0)
"
	assert_output "$(printf '%s\n' 'rw EROFS' 'wp True True')"
}
