#!/usr/bin/env bats
# gb-restore of a moment: chains spread over a tape image and two
# directory media given in any order, the spool gone; --at restoring every
# chain current at a time (two jobs) into one database; -t one table;
# --list, the plan, from the catalog (a read-only copy will do) and from
# the seals alone; the message naming the medium missing and where it is.
# gb-verify finds each archive on whichever medium holds it.  Restored
# tables are compared with the source by sqlite3 and python3 (db_equal).

load helper
load archive-helper
load media-helper

# Two jobs of one gym: members (members, stores: full, incremental,
# incremental) and tx (recharges, consumptions, checkins: a full at the
# first two moments).  Moment 0: m0 t0; moment 1: m1 t1; moment 2: m2.  A
# second at least between moments, so that each has its own snapshot time.
setup_file() {
	media_setup_file
	local sp=$FX/spool
	make_gym_db "$FX/src.db"
	write_gym_conf "$FX/gym.conf" "$FX/src.db"
	xp() {
		local out=$1 job=$2
		shift 2
		gb-export -c "$FX/gym.conf" -s "sqlite:$FX/src.db" -j "$job" "$@" \
		    -o "$sp/$out.set" 2>/dev/null && seal_dir "$sp/$out.set" "$sp/$out"
	}
	M=(-t members -t stores)
	X=(-t recharges -t consumptions -t checkins)
	xp m0 members "${M[@]}"
	xp t0 tx "${X[@]}"
	cp "$FX/src.db" "$FX/at0.db"
	sleep 1.1
	sqlite3 -bail "$FX/src.db" <<-'EOF'
	UPDATE members SET balance = balance + 100, note = '改, "x"',
	  updated_at = '2030-01-01 00:00:00' WHERE id % 3 = 0;
	INSERT INTO members (id, card_no, name, phone, level, balance, status, home_store_id, note,
	  photo, created_at, updated_at) VALUES (100, 'C0100', '新会员', NULL, 'gold', 7, 'active', 1,
	  '', x'00ff', '2030-01-01 00:00:01', '2030-01-01 00:00:01');
	UPDATE stores SET name = name || ' 新', updated_at = '2030-01-01 00:00:00' WHERE id = 2;
	INSERT INTO recharges VALUES (9, 1, 1, 777, 0, 'cash', NULL, '2030-01-01 00:00:00', NULL);
	EOF
	xp m1 members "${M[@]}" -i "$sp/m0.set/MANIFEST"
	xp t1 tx "${X[@]}"
	cp "$FX/src.db" "$FX/at1.db"
	sleep 1.1
	sqlite3 -bail "$FX/src.db" <<-'EOF'
	UPDATE members SET status = 'frozen', updated_at = '2030-02-01 00:00:00' WHERE id % 4 = 0;
	EOF
	xp m2 members "${M[@]}" -i "$sp/m1.set/MANIFEST"
	cp "$FX/src.db" "$FX/at2.db"
}

teardown_file() { media_teardown_file; }

SP=$BATS_FILE_TMPDIR/fx/spool

# rs ARGS...: gb-restore with the recipients' secret keys.
rs() { GNUPGHOME="$KEYS/all" gb-restore "$@"; }

snap() { arch_snap "$SP/$1"; }

# ref DB OUT TABLE...: DB with only the tables named (the source as a
# restore of those tables must leave it).
ref() {
	local db=$1 out=$2 t
	shift 2
	cp "$db" "$out"
	for t in $(db_tables "$out"); do
		[[ " $* " == *" $t "* ]] || sqlite3 -bail "$out" "DROP TABLE \"$t\""
	done
}

# spread: m0 t0 on the tape image T1, m1 t1 on the directory U1, m2 on U2,
# each written by gb-write from a spool that is then deleted; U2 then
# moved offsite in the catalog.
spread() {
	mkdir spool u1 u2
	cp "$SP"/*.seal "$SP"/*.tar.gz.gpg spool/
	gb-write --label T1 --pool weekly tape:t1.tap >/dev/null 2>&1 &&
	    gb-write --label U1 --pool daily u1 >/dev/null 2>&1 &&
	    gb-write --label U2 --pool daily u2 >/dev/null 2>&1 ||
	    fail "labelling failed"
	local m a
	for m in "tape:t1.tap m0 t0" "u1 m1 t1" "u2 m2"; do
		set -- $m
		for a in "${@:2}"; do
			gb-write "$1" "spool/$a" >/dev/null 2>&1 ||
			    fail "gb-write $1 $a failed"
		done
	done
	rm -rf spool
	gb-catalog move U2 --to offsite --by test >/dev/null ||
	    fail "gb-catalog move failed"
}

# ------------------------------------------------------------------ media

@test "moment: a chain on a tape image and two directories, media in every order, spool deleted: restored equal to the source; verify finds each" {
	spread
	local order n=0
	ref "$FX/at2.db" want.db members stores
	for order in "tape:t1.tap u1 u2" "tape:t1.tap u2 u1" "u1 tape:t1.tap u2" \
	    "u1 u2 tape:t1.tap" "u2 tape:t1.tap u1" "u2 u1 tape:t1.tap"; do
		n=$((n + 1))
		set -- $order
		run rs --media "$1" --media "$2" --media "$3" -d "sqlite:r$n.db" m2 m0 m1
		[ "$status" -eq 0 ] || fail "media $order: exit $status: $output"
		assert_db_equal "r$n.db" want.db
		run -0 gb-verify --media "$1" --media "$2" --media "$3" m2 m0 m1 t0
		assert_line "m0.tar.gz.gpg: OK on T1"
		assert_line "m1.tar.gz.gpg: OK on U1"
		assert_line "m2.tar.gz.gpg: OK on U2"
		assert_line "t0.tar.gz.gpg: OK on T1"
		assert_line "4 checked, 4 OK, 0 failed"
	done
	# each good check recorded against the medium that holds it
	[ "$(cq "SELECT count(*) FROM checks WHERE archive = 'm1.tar.gz.gpg' AND
	    medium = 'U1' AND ok = 1")" = 6 ]
	assert_tmpdir_empty
}

@test "moment: an archive on no medium given: the message names its medium's label and where the catalog has it" {
	spread
	run rs --media u1 --media tape:t1.tap -d sqlite:r.db m0 m1 m2
	assert_failure 3
	assert_output "gb-restore: m2.tar.gz.gpg is not on tape:t1.tap (nor on the other media); the catalog has it on U2 (offsite); nothing restored"
	assert_gone r.db
	run -1 gb-verify --media u1 --media tape:t1.tap m2
	assert_line "m2: FAIL: m2.tar.gz.gpg is not on tape:t1.tap (nor on the other media); the catalog has it on U2 (offsite)"
	assert_tmpdir_empty
}

# ------------------------------------------------------------------- --at

@test "moment: --at restores every chain current then, two jobs into one database, equal to the source at that moment" {
	spread
	local all="members stores recharges consumptions checkins"
	ref "$FX/at1.db" want1.db $all
	ref "$FX/at2.db" want2.db $all
	run rs --at "$(snap t1)" --media u2 --media u1 --media tape:t1.tap -d sqlite:r1.db
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	assert_db_equal r1.db want1.db
	run rs --at "$(snap m2)" --media u1 --media tape:t1.tap --media u2 -d sqlite:r2.db
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	assert_db_equal r2.db want2.db
	# one job only; --test through the same plan
	ref "$FX/at2.db" wantm.db members stores
	run rs --at "$(snap m2)" -j members --media u1 --media u2 --media tape:t1.tap -d sqlite:rm.db
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	assert_db_equal rm.db wantm.db
	run -0 rs --at "$(snap m2)" --media u1 --media u2 --media tape:t1.tap --test
	assert_line "restore test: 4 archives, OK"
	# before any full: nothing to restore
	run rs --at 2000-01-01 --media u1 -d sqlite:r0.db
	assert_failure 1
	assert_output --partial "no full archive at or before 2000-01-01T23:59:59Z"
	run rs --at "$(snap m2)" -j nosuch --media u1 -d sqlite:r0.db
	assert_failure 1
	assert_output --partial "job nosuch: no full archive"
	assert_gone r0.db
}

@test "moment: -t restores one table alone (-d from --at and from names; -o keeps the MANIFEST, SCHEMA.sql and that table's file)" {
	spread
	ref "$FX/at2.db" want.db stores
	run rs --at "$(snap m2)" -t stores --media u1 --media u2 --media tape:t1.tap -d sqlite:r.db
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	assert_db_equal r.db want.db
	ref "$FX/at1.db" want2.db recharges members
	run rs -t recharges -t members --media u1 --media tape:t1.tap -d sqlite:r2.db m0 t1 m1
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	assert_db_equal r2.db want2.db
	run -0 rs -t stores --media u1 --media tape:t1.tap -o out m1 m0
	[ "$(ls out)" = "$(printf 'm0\nm1')" ] || fail "out: $(ls out)"
	[ "$(ls out/m0)" = "$(printf 'MANIFEST\nSCHEMA.sql\nstores.csv')" ] ||
	    fail "out/m0: $(ls out/m0)"
	cmp out/m0/stores.csv "$SP/m0.set/stores.csv"
	cmp out/m1/MANIFEST "$SP/m1.set/MANIFEST"
	cmp out/m1/SCHEMA.sql "$SP/m1.set/SCHEMA.sql"
	run rs -t nosuch --media u1 --media tape:t1.tap -d sqlite:r3.db m0 m1
	assert_failure 2
	assert_output "gb-restore: -t nosuch: no table of that name in the archives; nothing restored"
	assert_gone r3.db
}

# ------------------------------------------------------------------ --list

@test "moment: --list prints the plan from a read-only copy of the catalog: archives in order, their media and where, what to fetch" {
	spread
	mkdir ro
	sqlite3 "$CAT" ".backup ro/catalog.db"
	cp ro/catalog.db before.db
	# a real read-only view, even for root: a read-only bind mount
	run -0 in_ro_mount "$W/ro" env GB_CATALOG="$W/ro/catalog.db" \
	    gb-restore --at "$(snap m2)" --list
	local plan=$output
	# gb-verify reads it too, and says it cannot record
	run -0 in_ro_mount "$W/ro" env GB_CATALOG="$W/ro/catalog.db" \
	    gb-verify --media u2 --media tape:t1.tap m2 m0
	assert_line "m2.tar.gz.gpg: OK on U2"
	assert_line "m0.tar.gz.gpg: OK on T1"
	assert_line "gb-verify: warning: catalog $W/ro/catalog.db cannot be written: the checks are not recorded"
	cmp before.db ro/catalog.db
	output=$plan
	local tp
	tp=$(cq "SELECT position FROM copies WHERE archive = 'm0.tar.gz.gpg'")
	assert_output "plan for the state at $(snap m2): 2 chains, 4 archives
job members:
  1  full         $(snap m0)  m0.tar.gz.gpg
      on T1 (onsite, tape file $tp)
  2  incremental  $(snap m1)  m1.tar.gz.gpg
      on U1 (onsite, file m1.tar.gz.gpg)
  3  incremental  $(snap m2)  m2.tar.gz.gpg
      on U2 (offsite, file m2.tar.gz.gpg)
job tx:
  4  full         $(snap t1)  t1.tar.gz.gpg
      on U1 (onsite, file t1.tar.gz.gpg)
fetch from the vault: U2"
	# U2 given: nothing to fetch; the plan, then the restore
	run -0 rs --at "$(snap m2)" --list --media u2 --media u1 --media tape:t1.tap -d sqlite:r.db
	assert_line "fetch from the vault: nothing"
	assert_line -n 0 "plan for the state at $(snap m2): 2 chains, 4 archives"
	[ -s r.db ] || fail "no r.db"
	# only on its way back: in transit; no good copy at all: exit 1
	gb-catalog move U2 --to transit --by test >/dev/null
	run -0 rs --at "$(snap m2)" --list -j members
	assert_line -n 8 "fetch from the vault: nothing"
	assert_line -n 9 "in transit: U2"
	cq "UPDATE copies SET status = 'failed' WHERE archive = 'm1.tar.gz.gpg'"
	run -1 rs --at "$(snap m2)" --list -j members
	assert_line -n 5 "      NO GOOD COPY on any medium"
	# the moment before: t0 on the tape, nothing offsite needed
	run -0 rs --at "$(snap t0)" --list -j tx
	assert_output "plan for the state at $(snap t0): 1 chain, 1 archive
job tx:
  1  full         $(snap t0)  t0.tar.gz.gpg
      on T1 (onsite, tape file $(cq "SELECT position FROM copies WHERE archive = 't0.tar.gz.gpg'"))
fetch from the vault: nothing"
}

@test "moment: without a catalog, archive names and the media: the seals order the chains, --list shows them, the restore equals the source" {
	spread
	rm -f "$CAT"*
	printf '[keys]\nsigner = %s\n' "$SIGNER" >nocat.conf
	run -0 rs -c nocat.conf --list --media u2 --media u1 --media tape:t1.tap t1 m2 m1 m0
	assert_output "plan: 2 chains, 4 archives
job members:
  1  full         $(snap m0)  m0.tar.gz.gpg
      on T1
  2  incremental  $(snap m1)  m1.tar.gz.gpg
      on U1
  3  incremental  $(snap m2)  m2.tar.gz.gpg
      on U2
job tx:
  4  full         $(snap t1)  t1.tar.gz.gpg
      on U1"
	ref "$FX/at2.db" want.db members stores recharges consumptions checkins
	run rs -c nocat.conf --media u2 --media tape:t1.tap --media u1 -d sqlite:r.db t1 m2 m1 m0
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	assert_db_equal r.db want.db
	# --at needs the catalog
	run rs -c nocat.conf --at "$(snap m2)" --media u1 -d sqlite:r2.db
	assert_failure 2
	assert_output --partial "--at needs the catalog"
	[ ! -e "$CAT" ] || fail "a catalog was made"
}
