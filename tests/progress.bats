#!/usr/bin/env bats
# The progress line: on a terminal (a pseudo-terminal from script(1)) long
# work shows on stderr how far it is, redrawn with \r and erased before
# the tool's own lines; with -q, or when stderr is not a terminal, nothing
# extra appears.  Work is made long without big data: a pipe that pauses
# (gb-pack, gb-seal), or the faultinject shim's stopafter rule, which
# stops the tool mid-way; the test holds it stopped a second, then
# continues it.

load helper
load media-helper

setup_file() {
	media_setup_file
	make_gym_db "$FX/gym.db"
	big_archive "$FX/spool/big" 8
	export_seal "$FX/gym.db" "$FX/spool/small" members
	make -s -C "$TOP" tests/faultinject.so >/dev/null
}

teardown_file() { media_teardown_file; }

BIG=$BATS_FILE_TMPDIR/fx/spool/big

# on_pty OUT RULE CMD...: CMD with its stdout and stderr on a
# pseudo-terminal, what the terminal got in OUT, CMD's status in $rc.
# RULE, if not empty, is a faultinject rule (stopafter:KIND:N), counting
# only calls on paths under $STOP_AT: the gb-* tool CMD runs stops there,
# is held stopped 1.2 s, and goes on.  (The shim leaves processes not
# named gb-* and their children alone: no env or sh in CMD with a RULE.)
# $PTY_ERR, if set, is a file for CMD's stderr.
on_pty() {
	local out=$1 rule=$2 pre= p= i
	shift 2
	if [ -n "$rule" ]; then
		pre="env LD_PRELOAD=$TOP/tests/faultinject.so GB_FAULT=$rule"
		pre="$pre GB_FAULT_PATH=$STOP_AT"
		pre="$pre ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	fi
	rm -f "$W/pid" "$W/rc"
	# CMD a child of a plain bash, which does not act on its stop
	printf '%s %s </dev/null %s & echo $! >%s; wait $!; echo $? >%s\n' \
	    "$pre" "$(printf '%q ' "$@")" "${PTY_ERR:+2>$PTY_ERR}" "$W/pid" \
	    "$W/rc" >"$W/pty.sh"
	SHELL=/bin/bash script -qec "bash $W/pty.sh" /dev/null >"$out" &
	local sp=$!
	if [ -n "$rule" ]; then
		for i in $(seq 200); do
			p=$(stopped_under "$(cat "$W/pid" 2>/dev/null)")
			[ -z "$p" ] || break
			sleep 0.05
		done
		[ -n "$p" ] || fail "$1 did not stop at $rule under $STOP_AT"
		sleep 1.2
		kill -CONT "$p"
	fi
	wait "$sp"
	rc=$(cat "$W/rc")
}

# stopped_under PID: a stopped process among PID and its descendants
stopped_under() {
	[ -n "$1" ] || return 0
	awk -v top="$1" '
	FNR == 1 {
		sub(/^[0-9]+ \(.*\) /, "")	# after "pid (comm) "
		split($0, f, " ")
		pid = FILENAME
		gsub(/[^0-9]/, "", pid)
		ppid[pid] = f[2]
		state[pid] = f[1]
	}
	END {
		for (p in ppid) {
			for (q = p; q != "" && q != top && q > 1; q = ppid[q])
				;
			if (q == top && state[p] == "T")
				print p
		}
	}' /proc/[0-9]*/stat 2>/dev/null | head -n 1
}

# screen OUT: what the terminal shows at the end: a \r goes back to the
# start of the line, later characters overwrite; blank lines dropped
screen() {
	"$PY" -c '
import sys
for raw in open(sys.argv[1], "rb").read().decode("utf-8", "replace").split("\n"):
    raw = raw[:-1] if raw.endswith("\r") else raw
    buf, col = [], 0
    for ch in raw:
        if ch == "\r":
            col = 0
            continue
        if col < len(buf):
            buf[col] = ch
        else:
            buf.append(ch)
        col += 1
    line = "".join(buf).rstrip()
    if line:
        print(line)
' "$1"
}

# A medium for gb-write: a labelled directory.
medium() {
	mkdir -p usb
	gb-write --label U1 --pool daily usb >/dev/null 2>&1 ||
	    fail "gb-write --label failed"
}

@test "progress: gb-write on a terminal shows bytes, percent, rate and time left, erased before its report" {
	medium
	STOP_AT=$W/usb on_pty out "stopafter:write:2" gb-write usb "$BIG"
	[ "$rc" = 0 ] || fail "exit $rc: $(cat out)"
	cmp "$BIG.tar.gz.gpg" usb/big.tar.gz.gpg
	grep -qaE $'\rgb-write: written [0-9.]+[KM]? of 8\\.[0-9]M \\([0-9]+%\\), [0-9.]+[KM]?/s, 0:[0-9]{2}:[0-9]{2} left' out ||
	    fail "no progress line: $(od -c out | head -20)"
	# the progress erased before the report, which is all that is left
	assert_equal "$(screen out)" \
	    "big.tar.gz.gpg: written to U1 (file big.tar.gz.gpg), read back OK"
}

@test "progress: gb-export on a terminal counts rows and their rate" {
	STOP_AT=$W/set on_pty out "stopafter:write:2" gb-export -s "sqlite:$FX/gym.db" -o set
	[ "$rc" = 0 ] || fail "exit $rc: $(cat out)"
	[ -f set/MANIFEST ]
	grep -qaE $'\rgb-export: exported [0-9]+ rows, [0-9]+ rows/s' out ||
	    fail "no progress line: $(od -c out | head -20)"
	[ -z "$(screen out)" ] || fail "left on the terminal: $(screen out)"
}

@test "progress: gb-verify and gb-restore on a terminal show the archive read, of its size" {
	size=$(stat -c %s "$BIG.tar.gz.gpg")
	export GNUPGHOME="$KEYS/backup"
	STOP_AT=$BIG.tar.gz.gpg on_pty out "stopafter:open:1" gb-verify --signer "$SIGNER" "$BIG.seal"
	[ "$rc" = 0 ] || fail "exit $rc: $(cat out)"
	grep -qaE $'\rgb-verify: checked [0-9.]+[KM]? of 8\\.[0-9]M \\([0-9]+%\\)' out ||
	    fail "no progress line: $(od -c out | head -20)"
	assert_equal "$(screen out)" "big.tar.gz.gpg: OK
1 checked, 1 OK, 0 failed"

	export GNUPGHOME="$KEYS/all"
	STOP_AT=$W/r on_pty out "stopafter:write:1" gb-restore --signer "$SIGNER" \
	    -o r "$BIG.seal"
	[ "$rc" = 0 ] || fail "exit $rc: $(cat out)"
	grep -qaE $'\rgb-restore: read [0-9.]+[KM]? of 8\\.[0-9]M \\([0-9]+%\\), [0-9.]+[KM]?/s' out ||
	    fail "no progress line: $(od -c out | head -20)"
	[ "$(wc -c <"$BIG.tar.gz.gpg")" = "$size" ]
}

@test "progress: gb-pack and gb-seal on a terminal show the bytes of a pipe, without a total" {
	gb-export -s "sqlite:$FX/gym.db" >stream 2>/dev/null
	half=$(($(stat -c %s stream) / 2))
	slow() { head -c "$half" stream; sleep 1.2; tail -c +"$((half + 1))" stream; }
	slow | gb-pack >ref.tgz 2>/dev/null
	# script(1)'s own stdin is the terminal: the pipe comes through a FIFO
	mkfifo fifo
	slow >fifo &
	on_pty out "" sh -c 'gb-pack <fifo >packed.tgz'
	[ "$rc" = 0 ] || fail "exit $rc: $(cat out)"
	cmp ref.tgz packed.tgz
	grep -qaE $'\rgb-pack: read [0-9.]+[KM]?, [0-9.]+[KM]?/s' out ||
	    fail "no progress line: $(od -c out | head -20)"
	[ -z "$(screen out)" ] || fail "left on the terminal: $(screen out)"

	half=$(($(stat -c %s ref.tgz) / 2))
	slow() { head -c "$half" ref.tgz; sleep 1.2; tail -c +"$((half + 1))" ref.tgz; }
	slow >fifo &
	mkdir spool
	on_pty out "" env GNUPGHOME="$KEYS/backup" sh -c \
	    "gb-seal -r $RCPT1 -r $RCPT2 -u $SIGNER -o spool/s <fifo"
	[ "$rc" = 0 ] || fail "exit $rc: $(cat out)"
	grep -qaE $'\rgb-seal: sealed [0-9.]+[KM]?, [0-9.]+[KM]?/s' out ||
	    fail "no progress line: $(od -c out | head -20)"
	[ -s spool/s.seal ]
}

@test "progress: -q turns it off on a terminal" {
	medium
	STOP_AT=$W/usb on_pty out "stopafter:write:2" gb-write -q usb "$BIG"
	[ "$rc" = 0 ] || fail "exit $rc: $(cat out)"
	assert_equal "$(screen out)" "big.tar.gz.gpg: written to U1 (file big.tar.gz.gpg), read back OK"
	STOP_AT=$W/set on_pty out "stopafter:write:2" gb-export -q -s "sqlite:$FX/gym.db" -o set
	[ "$rc" = 0 ] || fail "exit $rc: $(cat out)"
	[ ! -s out ] || fail "output: $(od -c out | head)"
	STOP_AT=$BIG.tar.gz.gpg on_pty out "stopafter:open:1" gb-verify -q --signer "$SIGNER" "$BIG.seal"
	assert_equal "$(screen out)" "big.tar.gz.gpg: OK
1 checked, 1 OK, 0 failed"
}

@test "progress: stderr not a terminal: nothing on it, however long the work" {
	medium
	# stdout a terminal, stderr a file: still nothing
	PTY_ERR=err STOP_AT=$W/usb on_pty out "stopafter:write:2" gb-write usb "$BIG"
	[ "$rc" = 0 ] || fail "exit $rc: $(cat out)"
	[ ! -s err ] || fail "stderr: $(od -c err | head)"
	assert_equal "$(screen out)" "big.tar.gz.gpg: written to U1 (file big.tar.gz.gpg), read back OK"

	PTY_ERR=err STOP_AT=$W/set on_pty out "stopafter:write:2" \
	    gb-export -s "sqlite:$FX/gym.db" -o set
	[ "$rc" = 0 ] && [ ! -s err ] && [ ! -s out ] ||
	    fail "exit $rc, stderr: $(cat err), terminal: $(cat out)"
	export GNUPGHOME="$KEYS/all"
	PTY_ERR=err STOP_AT=$W/r on_pty out "stopafter:write:1" \
	    gb-restore --signer "$SIGNER" -o r "$BIG.seal"
	[ "$rc" = 0 ] && [ ! -s err ] || fail "exit $rc, stderr: $(cat err)"
	! grep -qa $'\rgb-' out || fail "progress on the terminal: $(od -c out | head)"
}
