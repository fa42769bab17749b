#!/usr/bin/env bats
# Fault injection and kill -9 at every point: gb-write (directory medium
# and tape image), gb-seal -o and gb-restore (-o DIR, -d sqlite:PATH) see
# the Nth write, fsync, rename or close fail, and every stage (gb-export,
# gb-pack, gb-seal, gb-write, gb-restore, a gb-backup job) is killed with
# SIGKILL just before its Nth write, fsync or rename, for every N until a
# run no longer reaches N.  After each: the exit status (3, or killed),
# nothing recorded good in the catalog that is not whole on the medium
# (sha256 against the seal), and after a plain rerun of the same command:
# the right bytes, no *.tmp.* left, and no member data anywhere but where
# the user asked for it (a marker in the source is looked for in every
# file).  A sweep reports every failing N at once.
#
# The shim, tests/faultinject.so (tests/faultinject.c, built by make
# check), works by hand too:
#
#	make tests/faultinject.so
#	LD_PRELOAD=$PWD/tests/faultinject.so GB_FAULT=write:3:ENOSPC \
#	    GB_FAULT_LOG=/tmp/f.log gb-write /media/usb spool/NAME
#	LD_PRELOAD=... GB_FAULT=kill:rename:1 gb-seal ... -o spool/NAME
#	LD_PRELOAD=... GB_FAULT_LOG=/tmp/f.log gb-restore ...  # counts only
#
# GB_FAULT=KIND:N[:ERRNO] fails the Nth call of KIND (write, fsync,
# rename, close, ftruncate, or any) with ERRNO (default EIO; N+ fails
# every call from the Nth on); GB_FAULT=kill:KIND:N sends SIGKILL just
# before it.  Only processes whose comm matches GB_FAULT_PROG (default
# gb-*) count, so gpg and the shell pass through; only regular files and
# directories count unless GB_FAULT_ANY=1; GB_FAULT_PATH=PREFIX counts only
# calls on paths under PREFIX.  GB_FAULT_LOG=FILE gets a line per fault
# and, at exit, each process's counts.  See the top of tests/faultinject.c.
#
# Every call is swept, except where a test's name gives a stride (every
# 2nd to 8th write), and the gb-backup job, which is killed at a few
# points of each stage: so the file stays within about 90 seconds on two
# cores.  GB_FAULT_LOG shows how many calls of each kind a run makes.

load helper
load media-helper

SHIM=$TOP/tests/faultinject.so
MARK=MEMBERDATA-7f3a9c

setup_file() {
	make -s -C "$TOP" tests/faultinject.so >/dev/null || return 1
	media_setup_file
	# A sanitizer build wants its runtime first; the shim goes first.
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	gb-demodata -s 1 -n 20 -o "$FX/gym.db" >/dev/null
	# member data anyone could grep for in a file left behind
	sqlite3 -bail "$FX/gym.db" "UPDATE members SET name = '$MARK',
	    note = '$MARK'"
	gb-export -s "sqlite:$FX/gym.db" -o "$FX/set" 2>/dev/null
	gb-pack "$FX/set" >"$FX/p.tar.gz"
	GNUPGHOME="$KEYS/backup" gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" \
	    -o "$FX/spool/a" <"$FX/p.tar.gz" 2>/dev/null
	[ -s "$FX/spool/a.seal" ] || return 1
	# the archive a tape holds before the sweeps append theirs: another
	# export (its own id)
	gb-export -s "sqlite:$FX/gym.db" -o "$FX/set0" 2>/dev/null
	gb-pack "$FX/set0" | GNUPGHOME="$KEYS/backup" gb-seal -r "$RCPT1" \
	    -r "$RCPT2" -u "$SIGNER" -o "$FX/spool/a0" 2>/dev/null
	[ -s "$FX/spool/a0.seal" ] || return 1
	ASHA=$(sha256sum <"$FX/spool/a.tar.gz.gpg")
	export ASHA=${ASHA%% *}
}

teardown_file() { media_teardown_file; }

A=$BATS_FILE_TMPDIR/fx/spool/a
ANAME=a.tar.gz.gpg

# ---------------------------------------------------------------- driver

# inj RULE CMD...: CMD with the shim and GB_FAULT=RULE (GB_FAULT_PROG and
# GB_FAULT_PATH as the caller exports them); the log in $W/fault.log.
inj() {
	local rule=$1
	shift
	rm -f "$W/fault.log"
	(
		export LD_PRELOAD="$SHIM" GB_FAULT="$rule" GB_FAULT_LOG="$W/fault.log"
		"$@"
	)
}

# Did the last inj fire its fault?  (Builtins only: a sweep runs this
# hundreds of times.)
fired() {
	local l
	[ -s "$W/fault.log" ] || return 1
	mapfile -t l <"$W/fault.log"
	[[ ${l[*]} == *" fault "* ]]
}

BAD=()
# bad WHY: a failure of this sweep point, reported at the end.
bad() {
	BAD+=("$RULE: $*")
}

# sweep RULE STRIDE RESET RUN CHECK_FAILED CHECK_GOOD: for N = 1,
# 1 + STRIDE, ... until a run no longer reaches N (RULE with %N in it):
# RESET, then RUN under the fault; a run the fault reached must fail
# (exit 3, or killed for kill: rules) and pass CHECK_FAILED, unless
# ABSORBED_OK=1 and it succeeded with everything right (SQLite ignores
# the errors of the checkpoint at close: the WAL, fsync'd at each commit,
# still holds the data); then RUN
# again without the fault (the plain rerun), which must succeed and pass
# CHECK_GOOD.  The last run, which the fault did not reach, must succeed
# and pass CHECK_GOOD too.  Every failure is collected; the test fails at
# the end (verdict) with all of them.
sweep() {
	local rule=$1 stride=$2 reset=$3 cmd=$4 failed=$5 good=$6 n=1 want
	case $rule in kill:*) want=137 ;; *) want=3 ;; esac
	while :; do
		RULE=${rule//%N/$n}
		"$reset"
		run inj "$RULE" "$cmd"
		if ! fired; then
			[ "$status" = 0 ] || bad "unfaulted run: status $status: $output"
			"$good"
			break
		fi
		if [ "$status" = 0 ] && [ "${ABSORBED_OK-}" = 1 ]; then
			"$good"		# a fault SQLite absorbs: all must be right
			n=$((n + stride))
			continue
		fi
		if [ "$status" != "$want" ]; then
			bad "status $status, not $want: $output"
		elif [ "$want" = 3 ] && [[ $output != *gb-*:* ]]; then
			bad "no message: $output"
		fi
		"$failed"
		run inj "" "$cmd"
		[ "$status" = 0 ] || refused_whole || bad "rerun: status $status: $output"
		"$good"
		n=$((n + stride))
		[ "$n" -lt 400 ] || { bad "never ends"; break; }
	done
	[ "$n" -gt 1 ] || bad "the fault never fired: is the shim loaded?"
}

# A tool killed after the rename that put its output in place: the output
# is whole (the good check says whether it is), and the rerun rightly
# refuses to overwrite it.
refused_whole() {
	[[ $RULE == kill:* ]] && [ "$status" = 2 ] &&
	    [[ $output == *"exists; restore into a new directory"* ||
	    $output == *"is not empty; restore into a new database"* ||
	    $output == *"exists; an archive is never overwritten"* ||
	    $output == *"exists; give a new directory"* ||
	    $output == *"already has a good copy on"* ]]
}

# The end of a test of sweeps: every failure of every sweep.
verdict() {
	[ "${#BAD[@]}" = 0 ] || fail "$(printf '%s\n' "${BAD[@]}")"
}

# ------------------------------------------------------------- checks

# No *.tmp.* under the directories given.
no_tmp() {
	local left
	left=$(shopt -s globstar nullglob; l=(); for d in "$@"; do
	    l+=("$d"/**/*.tmp.*); done; echo "${l[*]}")
	[ -z "$left" ] || bad "left: $left"
}

# Nothing in TMPDIR.
tmp_empty() {
	local left
	left=$(shopt -s nullglob dotglob; echo "$TMPDIR"/*)
	[ -z "$left" ] || bad "left in TMPDIR: $left"
}

# No file holds member data, except under the paths given (what the user
# named as the output).
no_plaintext() {
	local f x ok left=
	while IFS= read -r f; do
		ok=0
		for x in "$@"; do
			[[ $f == "$x" || $f == "$x"/* ]] && ok=1
		done
		[ "$ok" = 1 ] || left="$left $f"
	done < <(grep -rlaF "$MARK" "$W" "$TMPDIR" 2>/dev/null)
	[ -z "$left" ] || bad "member data left in:$left"
}

# tape_sha IMAGE N SIZE NAME: the sha256 of the first SIZE bytes of tape
# file N of a SIMH image, after checking that file N + 1 is a seal with
# the sha256sum line of NAME.  What follows the last tape mark may be
# damaged (a write that failed there): only whole files are read.
tape_sha() {
	"$PY" - "$@" <<-'EOF'
	import hashlib, re, struct, sys
	img, n, size, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
	f = open(img, 'rb').read()
	files, cur, i = [], [], 0
	while i + 4 <= len(f):
	    (l,) = struct.unpack('<I', f[i:i + 4])
	    if l == 0:
	        files.append(b''.join(cur)); cur = []; i += 4; continue
	    l &= 0xffffff
	    j = i + 4 + l + (l & 1)
	    if j + 4 > len(f) or f[j:j + 4] != f[i:i + 4]:
	        break
	    cur.append(f[i + 4:i + 4 + l]); i = j + 4
	if n + 1 >= len(files):
	    sys.exit('no tape files %d and %d' % (n, n + 1))
	sha = hashlib.sha256(files[n][:size]).hexdigest()
	if files[n][size:].strip(b'\0'):
	    sys.exit('tape file %d: more than %d bytes' % (n, size))
	if not re.search(b'^' + sha.encode() + b'  ' + re.escape(name.encode()) + b'$',
	        files[n + 1], re.M):
	    sys.exit('tape file %d is not its seal' % (n + 1))
	print(sha)
	EOF
}

# tape_find TAPE NAME: gb-verify, with no catalog, finds NAME on TAPE and
# checks it against its seal.
tape_find() {
	local out
	out=$(GB_CONF= gb-verify --signer "$SIGNER" --media "$1" "$2" 2>&1) ||
	    bad "without the catalog, gb-verify --media $1 $2: $out"
}

# Every copy the catalog calls good is whole on its medium: the archive's
# sha256 is the one its seal gave the catalog, and the seal beside it
# checks it (dir), or the tape file after it holds the seal (tape).
good_whole() {
	local name med pos size want dev sha
	while IFS='|' read -r name med pos size want dev; do
		[ -n "$name" ] || continue
		case $dev in
		tape:*)
			sha=$(tape_sha "${dev#tape:}" "$pos" "$size" "$name") ||
			    bad "good copy of $name on $med: $sha"
			;;
		*)
			sha=$(sha256sum <"$dev/$pos" 2>/dev/null)
			sha=${sha%% *}
			(cd "$dev" && grep "  $name\$" "${name%.tar.gz.gpg}.seal" |
			    sha256sum -c --status) 2>/dev/null ||
			    bad "good copy of $name on $med: its seal does not check it"
			;;
		esac
		[ "$sha" = "$want" ] ||
		    bad "good copy of $name on $med at $pos is not whole (sha256 $sha)"
	done < <(cq "SELECT c.archive, c.medium, c.position, a.size, a.sha256,
	    m.device FROM copies c JOIN archives a ON a.name = c.archive
	    JOIN media m ON m.id = c.medium WHERE c.status = 'good'")
}

# ------------------------------------------------------------ the shim

@test "faultinject.so: counts the calls of gb-* processes only (not gpg's), fails the Nth call alone and says so, kills at the Nth" {
	export GNUPGHOME="$KEYS/backup"
	spool_reset
	run inj "" seal_b
	assert_success
	mapfile -t log <"$W/fault.log"
	assert_equal "${#log[@]}" 1
	[[ ${log[0]} =~ ^gb-seal\ [0-9]+\ count\ write=[1-9][0-9]*\ fsync=4\ rename=2\  ]] ||
	    fail "log: ${log[*]}"

	run inj "write:2:ENOSPC" pack_it
	assert_failure 3
	assert_output "gb-pack: cannot write the archive: No space left on device"
	mapfile -t log <"$W/fault.log"
	[[ ${log[0]} =~ ^gb-pack\ [0-9]+\ fault\ write\ 2\ ENOSPC\ $W/p.tar.gz$ ]] ||
	    fail "log: ${log[*]}"
	# the write after went through: gb-pack's member that spoils the output
	[[ ${log[1]} == *" count write=3 "* ]] || fail "log: ${log[*]}"
	[[ $(tail -c 15 "$W/p.tar.gz" | tr -d '\0') == *"gb-pack failed" ]] ||
	    fail "no spoiling member at the end of the output"

	run inj "kill:write:1" pack_it
	assert_failure 137
	[[ $output != *gb-pack:* ]] || fail "gb-pack had its say: $output"
	[ ! -s "$W/p.tar.gz" ] || fail "gb-pack wrote before it was killed"
	mapfile -t log <"$W/fault.log"
	[[ ${log[*]} =~ ^gb-pack\ [0-9]+\ fault\ write\ 1\ kill\ $W/p.tar.gz$ ]] ||
	    fail "log: ${log[*]}"
}

# ---------------------------------------------------------- gb-write

# The media of a gb-write sweep, made once per test and copied back
# before each run: $W/m holds the catalog, two labelled directories
# (U1, U2) and two labelled tape images (T1, T2); T1 holds an archive
# already (a0), which must stay whole and found.
media_tpl() {
	CAT="$W/m/catalog.db"
	mkconf "$CONF"
	mkdir -p "$W/m/usb1" "$W/m/usb2"
	gb-write --label U1 --pool daily "$W/m/usb1" >/dev/null 2>&1 &&
	gb-write --label U2 --pool daily "$W/m/usb2" >/dev/null 2>&1 &&
	gb-write --label T1 --pool weekly "tape:$W/m/t1.tap" >/dev/null 2>&1 &&
	gb-write --label T2 --pool weekly "tape:$W/m/t2.tap" >/dev/null 2>&1 &&
	gb-write "tape:$W/m/t1.tap" "$FX/spool/a0" >/dev/null 2>&1 ||
	    fail "cannot label the media"
	cp -a "$W/m" "$W/tpl"
}

media_reset() {
	rm -rf "$W/m" "$TMPDIR"
	mkdir "$TMPDIR"
	cp -a "$W/tpl" "$W/m"
}

# The first medium unless the failed run marked it full: then the next,
# as gb-write's message says.
usb_target() {
	if [ "$(cq "SELECT state FROM media WHERE id = 'U1'")" = full ]; then
		echo "$W/m/usb2"
	else
		echo "$W/m/usb1"
	fi
}
tape_target() {
	if [ "$(cq "SELECT state FROM media WHERE id = 'T1'")" = full ]; then
		echo "tape:$W/m/t2.tap"
	else
		echo "tape:$W/m/t1.tap"
	fi
}

write_usb() { gb-write "$(usb_target)" "$A"; }
write_tape() { gb-write "$(tape_target)" "$A"; }

write_failed() {
	good_whole
	case $RULE in kill:*) ;; *) no_tmp "$W/m"; tmp_empty ;; esac
}

# After a good run: one good copy of the archive, whole, and listed in
# the index of its directory (a drive found in a vault describes itself).
write_good() {
	local n sha dev
	IFS='|' read -r n sha dev < <(cq "SELECT count(*), (SELECT sha256 FROM
	    archives WHERE name = '$ANAME'), max(m.device) FROM copies c
	    JOIN media m ON m.id = c.medium WHERE c.archive = '$ANAME' AND
	    c.status = 'good'")
	[ "$n" = 1 ] || bad "$n good copies, not 1"
	[ "$sha" = "$ASHA" ] || bad "the catalog has sha256 $sha for the archive"
	good_whole
	case $dev in
	'') ;;
	tape:*)
		# found on its tape without the catalog (gb-verify as an
		# auditor runs it, gb-catalog import when the catalog is lost),
		# and so is the archive T1 held before
		tape_find "$dev" "$ANAME"
		tape_find "tape:$W/m/t1.tap" a0.tar.gz.gpg ;;
	*) grep -q "^$ANAME	" "$dev/GYMBACKUP.INDEX" 2>/dev/null ||
	    bad "the index of $dev does not list the archive" ;;
	esac
	no_tmp "$W/m"
	tmp_empty
	no_plaintext
}

@test "gb-write to a directory: a failed write, fsync, rename or close on the medium exits 3, records nothing good, leaves nothing; the rerun writes it" {
	media_tpl
	export GB_FAULT_PATH="$W/m/usb"
	sweep "write:%N:ENOSPC" 1 media_reset write_usb write_failed write_good
	sweep "fsync:%N:EIO" 1 media_reset write_usb write_failed write_good
	sweep "rename:%N:EXDEV" 1 media_reset write_usb write_failed write_good
	sweep "close:%N:EIO" 1 media_reset write_usb write_failed write_good
	verdict
}

@test "gb-write: a failed write (every 8th) or fsync of the catalog exits 3 and records nothing good; the rerun writes it" {
	media_tpl
	export GB_FAULT_PATH="$W/m/catalog.db" ABSORBED_OK=1
	sweep "write:%N:EIO" 8 media_reset write_usb write_failed write_good
	sweep "fsync:%N:EIO" 1 media_reset write_usb write_failed write_good
	verdict
}

@test "gb-write to a tape image: a failed write, fsync or ftruncate of the image exits 3 and records nothing good; the rerun writes it" {
	media_tpl
	export GB_FAULT_PATH="$W/m/t"
	sweep "write:%N:EIO" 1 media_reset write_tape write_failed write_good
	sweep "fsync:%N:EIO" 1 media_reset write_tape write_failed write_good
	sweep "ftruncate:%N:EIO" 1 media_reset write_tape write_failed write_good
	verdict
}

@test "gb-write killed at every fsync and rename, every 8th write (directory), and every call on a tape image: nothing good that is not whole; the rerun writes it" {
	media_tpl
	sweep "kill:fsync:%N" 1 media_reset write_usb write_failed write_good
	sweep "kill:rename:%N" 1 media_reset write_usb write_failed write_good
	sweep "kill:write:%N" 8 media_reset write_usb write_failed write_good
	export GB_FAULT_PATH="$W/m/t"
	sweep "kill:any:%N" 1 media_reset write_tape write_failed write_good
	verdict
}

# ------------------------------------------------------------ gb-seal

spool_reset() {
	rm -rf "$W/spool" "$TMPDIR"
	mkdir "$W/spool" "$TMPDIR"
}

seal_b() {
	gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o "$W/spool/b" \
	    <"$FX/p.tar.gz"
}

seal_failed() {
	case $RULE in
	kill:*) ;;
	*)
		local left
		left=$(ls -A "$W/spool")
		[ -z "$left" ] || bad "left in the spool: $left"
		tmp_empty
		;;
	esac
}

# The spool holds b.tar.gz.gpg and b.seal, which checks it and is signed,
# and the archive decrypts to the packed archive.
seal_good() {
	local left
	left=$(cd "$W/spool" && ls -A | tr '\n' ' ')
	[ "$left" = "b.seal b.tar.gz.gpg " ] || bad "the spool holds: $left"
	(cd "$W/spool" && grep '  b.tar.gz.gpg$' b.seal |
	    sha256sum -c --status) 2>/dev/null ||
	    bad "b.seal does not check b.tar.gz.gpg"
	gpg --batch --quiet --homedir "$KEYS/all" --verify "$W/spool/b.seal" \
	    2>/dev/null || bad "b.seal: bad signature"
	gpg --batch --quiet --homedir "$KEYS/all" -d "$W/spool/b.tar.gz.gpg" \
	    2>/dev/null | cmp -s - "$FX/p.tar.gz" ||
	    bad "b.tar.gz.gpg does not decrypt to the packed archive"
	tmp_empty
	no_plaintext
}

@test "gb-seal -o: a failed write, fsync, rename or close exits 3 and leaves nothing in the spool; the rerun seals it" {
	export GNUPGHOME="$KEYS/backup"
	sweep "write:%N:ENOSPC" 1 spool_reset seal_b seal_failed seal_good
	sweep "fsync:%N:EIO" 1 spool_reset seal_b seal_failed seal_good
	sweep "rename:%N:EXDEV" 1 spool_reset seal_b seal_failed seal_good
	sweep "close:%N:EIO" 1 spool_reset seal_b seal_failed seal_good
	verdict
}

@test "gb-seal -o: an archive left without its seal by a killed gb-seal is sealed again over; one whose seal a live gb-seal holds, or that no gb-seal left, is refused" {
	export GNUPGHOME="$KEYS/backup"
	spool_reset
	run inj kill:rename:2 seal_b
	assert_failure 137
	# the seal's temporary file is still locked by a live process
	local live
	(exec -a gb-seal sleep 60) &
	live=$!
	GB_BG_PIDS+=("$live")
	mv "$W"/spool/b.seal.tmp.* "$W/spool/b.seal.tmp.$live.abcdef"
	run -2 seal_b
	assert_output "gb-seal: $W/spool/b.tar.gz.gpg exists, and process $live is writing its seal; an archive is never overwritten"
	kill "$live"
	wait "$live" 2>/dev/null || true
	run -0 seal_b
	assert_line -n 0 "gb-seal: warning: $W/spool/b.tar.gz.gpg has no seal (left by gb-seal process $live, which did not finish); sealing it again"
	assert_line -n 1 "gb-seal: removed $W/spool/b.seal.tmp.$live.abcdef, left by process $live, which did not finish"
	BAD=()
	seal_good
	verdict
	# a seal that exists is never overwritten, nor an archive without
	# its seal that no gb-seal left
	run -2 seal_b
	assert_output "gb-seal: $W/spool/b.tar.gz.gpg or $W/spool/b.seal exists; an archive is never overwritten"
	rm "$W/spool/b.seal"
	run -2 seal_b
	assert_output "gb-seal: $W/spool/b.tar.gz.gpg or $W/spool/b.seal exists; an archive is never overwritten"
}

@test "gb-seal -o writes the sealed archive in pieces of 256 KiB (GPGME moved 4 KiB at a time), and it decrypts to its input" {
	export GNUPGHOME="$KEYS/backup"
	spool_reset
	# a packed archive of 4 MiB that does not compress: MANIFEST first,
	# the end mark last
	{ cat "$FX/p.tar.gz"; head -c 4194304 /dev/urandom | gzip -1
	    cat "$FX/p.tar.gz"; } >"$W/big.tar.gz"
	run inj "" gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o "$W/spool/big" \
	    <"$W/big.tar.gz"
	assert_success
	local size writes
	size=$(stat -c %s "$W/spool/big.tar.gz.gpg")
	[ "$size" -gt 4194304 ] || fail "sealed archive of $size bytes"
	writes=$(sed -n 's/^gb-seal [0-9]* count .*write=\([0-9]*\) .*/\1/p' \
	    "$W/fault.log")
	# the archive's pieces, and the seal's one write
	[ -n "$writes" ] && [ "$writes" -le $((size / 262144 + 2)) ] ||
	    fail "$writes writes for $size bytes: $(cat "$W/fault.log")"
	gpg --batch --quiet --homedir "$KEYS/all" -d "$W/spool/big.tar.gz.gpg" \
	    2>/dev/null | cmp - "$W/big.tar.gz"
	(cd "$W/spool" && grep '  big.tar.gz.gpg$' big.seal | sha256sum -c --status)
	rm "$W/big.tar.gz"
}

# --------------------------------------------------------- gb-restore

out_reset() {
	rm -rf "$W"/out* "$W"/r.db* "$TMPDIR"
	mkdir "$TMPDIR"
}

rst_dir() {
	GNUPGHOME="$KEYS/restore" gb-restore -o "$W/out" "$A.tar.gz.gpg"
}
rst_db() {
	GNUPGHOME="$KEYS/restore" gb-restore -d "sqlite:$W/r.db" "$A.tar.gz.gpg"
}

rst_failed() {
	case $RULE in kill:*) return 0 ;; esac
	[ ! -e "$W/out" ] || bad "$W/out was kept"
	[ ! -e "$W/r.db" ] || bad "$W/r.db was kept"
	[ ! -e "$W/set" ] || bad "$W/set was kept"
	no_tmp "$W"
	tmp_empty
	no_plaintext
}

# -o: the export set back byte for byte.
rst_dir_good() {
	diff -r "$W/out" "$FX/set" >/dev/null 2>&1 ||
	    bad "$W/out differs from the export set"
	no_tmp "$W"
	tmp_empty
	no_plaintext "$W/out"
}

# -d: every table holds the source's rows.
rst_db_good() {
	local t d
	for t in $(db_tables "$FX/gym.db"); do
		d=$(sqlite3 "$W/r.db" "ATTACH '$FX/gym.db' AS s;
		    SELECT (SELECT count(*) FROM (SELECT * FROM main.\"$t\" EXCEPT
		    SELECT * FROM s.\"$t\")) + (SELECT count(*) FROM (SELECT * FROM
		    s.\"$t\" EXCEPT SELECT * FROM main.\"$t\"))" 2>&1)
		[ "$d" = 0 ] || bad "table $t differs from the source: $d"
	done
	no_tmp "$W"
	tmp_empty
	no_plaintext "$W/r.db"
}

@test "gb-restore -o DIR: a failed write or close (every 2nd), fsync or rename exits 3 and leaves no member data; the rerun restores the set" {
	sweep "write:%N:ENOSPC" 2 out_reset rst_dir rst_failed rst_dir_good
	sweep "fsync:%N:EIO" 1 out_reset rst_dir rst_failed rst_dir_good
	sweep "rename:%N:EXDEV" 1 out_reset rst_dir rst_failed rst_dir_good
	sweep "close:%N:EIO" 2 out_reset rst_dir rst_failed rst_dir_good
	verdict
}

# No close sweep: SQLite ignores the errors of close, and gb-restore
# fsyncs the file itself before the rename.
@test "gb-restore -d sqlite: a failed write (every 4th), fsync or rename exits 3 and leaves no member data; the rerun restores every row" {
	sweep "write:%N:ENOSPC" 4 out_reset rst_db rst_failed rst_db_good
	sweep "fsync:%N:EIO" 1 out_reset rst_db rst_failed rst_db_good
	sweep "rename:%N:EXDEV" 1 out_reset rst_db rst_failed rst_db_good
	verdict
}

@test "gb-restore killed at every fsync and rename, every 3rd write (-o) or 6th (-d): the rerun restores, and no member data is left" {
	sweep "kill:fsync:%N" 1 out_reset rst_dir rst_failed rst_dir_good
	sweep "kill:rename:%N" 1 out_reset rst_dir rst_failed rst_dir_good
	sweep "kill:write:%N" 3 out_reset rst_dir rst_failed rst_dir_good
	sweep "kill:fsync:%N" 1 out_reset rst_db rst_failed rst_db_good
	sweep "kill:rename:%N" 1 out_reset rst_db rst_failed rst_db_good
	sweep "kill:write:%N" 6 out_reset rst_db rst_failed rst_db_good
	verdict
}

# ---------------------------------------------- gb-export, gb-pack, gb-seal

exp_dir() { gb-export -s "sqlite:$FX/gym.db" -o "$W/set"; }
exp_stream() { gb-export -s "sqlite:$FX/gym.db" >"$W/s.tar"; }

exp_reset() {
	rm -rf "$W"/set* "$W/s.tar" "$W/x" "$TMPDIR"
	mkdir "$TMPDIR"
}
nothing() { :; }

# The CSVs (and SCHEMA.sql) of DIR are those of the fixture's export.
same_csvs() {
	local f
	for f in "$FX"/set/*.csv "$FX/set/SCHEMA.sql"; do
		cmp -s "$f" "$1/${f##*/}" || bad "${f##*/} differs from a good run's"
	done
}

# A failed export to a stream, or pack: nothing left in TMPDIR (the
# export's spool), and member data only in what the shell made of stdout.
exp_failed() {
	tmp_empty
	no_plaintext "$W/s.tar" "$W/p.tar.gz"
}

exp_dir_good() {
	same_csvs "$W/set"
	no_tmp "$W"
	tmp_empty
	no_plaintext "$W/set"
}

exp_stream_good() {
	mkdir -p "$W/x"
	tar -xf "$W/s.tar" -C "$W/x" || bad "the stream is no tar"
	same_csvs "$W/x"
	rm -rf "$W/x"
	no_tmp "$W"
	tmp_empty
	no_plaintext "$W/s.tar"
}

pack_it() { gb-pack "$FX/set" >"$W/p.tar.gz"; }
pack_good() {
	cmp -s "$W/p.tar.gz" "$FX/p.tar.gz" || bad "the packed archive differs"
	tmp_empty
	no_plaintext
}

@test "gb-export (every fsync and rename, every 4th write; to a stream every 3rd write), gb-pack and gb-seal (every call) killed: the rerun gives a good run's bytes, and no member data is left" {
	export GNUPGHOME="$KEYS/backup"
	sweep "kill:fsync:%N" 1 exp_reset exp_dir nothing exp_dir_good
	sweep "kill:rename:%N" 1 exp_reset exp_dir nothing exp_dir_good
	sweep "kill:write:%N" 4 exp_reset exp_dir nothing exp_dir_good
	sweep "kill:write:%N" 3 exp_reset exp_stream nothing exp_stream_good
	sweep "kill:any:%N" 1 exp_reset pack_it nothing pack_good
	sweep "kill:any:%N" 1 spool_reset seal_b seal_failed seal_good
	verdict
}

# Only the files of the export count: the source's -shm and -wal are
# SQLite's, which gets over their errors by itself.
@test "gb-export and gb-pack: a failed write or close (every 2nd; to a stream every 3rd write), fsync or rename of their files exits 3 and leaves no member data; the rerun gives a good run's bytes" {
	export GB_FAULT_PATH="$BATS_TEST_TMPDIR"
	sweep "write:%N:ENOSPC" 2 exp_reset exp_dir rst_failed exp_dir_good
	sweep "fsync:%N:EIO" 1 exp_reset exp_dir rst_failed exp_dir_good
	sweep "rename:%N:EXDEV" 1 exp_reset exp_dir rst_failed exp_dir_good
	sweep "close:%N:EIO" 2 exp_reset exp_dir rst_failed exp_dir_good
	sweep "write:%N:ENOSPC" 3 exp_reset exp_stream exp_failed exp_stream_good
	sweep "write:%N:ENOSPC" 1 exp_reset pack_it exp_failed pack_good
	verdict
}

# ----------------------------------------------------------- gb-backup

# $W/b: a catalog, a spool and a labelled drive for the job "daily" (the
# whole demo database), copied back before each run.
bk_tpl() {
	mkdir -p "$W/b/spool" "$W/b/usb1"
	cat >"$W/bk.conf" <<-EOF2
	[site]
	name = test-gym
	[source]
	uri = sqlite:$FX/gym.db
	[keys]
	signer = $SIGNER
	recipients = $RCPT1, $RCPT2
	[catalog]
	path = $W/b/catalog.db
	[spool]
	dir = $W/b/spool
	[pool daily]
	kind = dir
	[job daily]
	schedule = 0 2 * * *
	level = full
	pool = daily
	media = $W/b/usb1
	EOF2
	CAT="$W/b/catalog.db"
	export GB_CONF="$W/bk.conf"
	gb-write --label D1 --pool daily "$W/b/usb1" >/dev/null 2>&1 ||
	    fail "cannot label the drive"
	cp -a "$W/b" "$W/btpl"
}

bk_reset() {
	rm -rf "$W/b" "$TMPDIR"
	mkdir "$TMPDIR"
	cp -a "$W/btpl" "$W/b"
}

bk_run() { gb-backup daily; }

bk_failed() {
	local st
	good_whole
	# no run at all when the run's first log line was what was killed
	st=$(cq "SELECT group_concat(status) FROM runs")
	[ "$st" = failed ] || [[ $RULE == "gb-catalog kill:write:1" && -z $st ]] ||
	    bad "the killed run is logged '$st', not 'failed'"
}

# The rerun: logged ok, its archive has a good copy, whole; nothing left
# but what a failed run keeps in the spool on purpose (sealed).
bk_good() {
	local n
	n=$(cq "SELECT count(*) FROM runs r JOIN copies c ON c.archive =
	    r.archive WHERE r.status = 'ok' AND c.status = 'good'")
	[ "$n" = 1 ] || bad "$n good copies of an ok run, not 1"
	good_whole
	no_tmp "$W/b"
	tmp_empty
	no_plaintext
}

# kill_points RESET CMD FAILED GOOD "PROG RULE"...: like sweep, at the
# points given: RULE in the process PROG of the job (gb-backup goes on and
# logs the failure), then the plain rerun.
kill_points() {
	local reset=$1 cmd=$2 failed=$3 good=$4 p
	shift 4
	for p in "$@"; do
		RULE=$p
		"$reset"
		export GB_FAULT_PROG=${p%% *}
		run inj "${p#* }" "$cmd"
		unset GB_FAULT_PROG
		if ! fired; then
			bad "the run did not get there: status $status: $output"
			continue
		fi
		[ "$status" != 0 ] || bad "status 0 after a stage was killed"
		"$failed"
		run inj "" "$cmd"
		[ "$status" = 0 ] || bad "rerun: status $status: $output"
		"$good"
	done
}

@test "gb-backup: a stage killed at a write, fsync or rename fails the run; the rerun backs up, and no member data is left" {
	bk_tpl
	export GB_FAULT_ANY=1	# gb-pack writes only to a pipe
	kill_points bk_reset bk_run bk_failed bk_good \
	    "gb-export kill:write:12" "gb-pack kill:write:1" \
	    "gb-seal kill:rename:1" "gb-verify kill:write:1" \
	    "gb-write kill:rename:1" "gb-write kill:rename:3" \
	    "gb-catalog kill:write:1"
	verdict
}
