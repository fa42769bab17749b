#!/usr/bin/env bats
# The config as every tool reads it: a section of a kind gymbackup.conf(5)
# does not know (a typo in its header) is refused with file:line by each
# tool; the task table as gb-catalog job and pool print it for gb-backup;
# a pool's keys judged alike by gb-catalog and gb-backup (one reader,
# lib/conf.c and lib/job.c).

load helper

setup() {
	gb_setup
	make_gym_db "$W/gym.db"
	write_gym_conf "$W/gb.conf" "$W/gym.db"
	echo >>"$W/gb.conf"
	conf_pools "$W/gb.conf"
	cat >>"$W/gb.conf" <<-EOF

	[job members-weekly]
	schedule = 30 1 * * 0
	tables = stores, members
	chain = members
	pool = weekly
	media = /dev/nst0 tape:$W/w.tap

	[job members-daily]
	schedule = 30 1 * * 1-6     ; Monday to Saturday
	tables = stores members
	level = incremental
	chain = members
	pool = daily
	media = $W/usb1
	alert_after = 50

	[job tx]
	schedule = 0 3 1 * *
	pool = daily
	retention_days = 400
	media = $W/usb1
	EOF
	mkdir "$W/spool" "$W/usb1"
}

# line_of TEXT: the line of the config that holds TEXT.
line_of() {
	grep -n -F -x -- "$1" "$W/gb.conf" | cut -d: -f1
}

@test "a typo in a section header is refused with file:line by every tool that reads the config" {
	local hdr n
	cp "$W/gb.conf" "$W/good.conf"
	for hdr in "[tabel sales]" "[jobs members-daily]" "[pool]" "[site x]"; do
		cp "$W/good.conf" "$W/gb.conf"
		printf '\n%s\nkey = id\n' "$hdr" >>"$W/gb.conf"
		n=$(line_of "$hdr")
		want="config: $W/gb.conf:$n: unknown section $hdr (known: [site], [source], [keys], [catalog], [spool], [check], [table NAME], [pool NAME], [job NAME])"
		run gb-export -c "$W/gb.conf" -o "$W/out"
		assert_failure 2
		assert_output "gb-export: $want"
		run gb-seal -c "$W/gb.conf" -o "$W/spool/x" </dev/null
		assert_failure 2
		assert_output "gb-seal: $want"
		run gb-verify -c "$W/gb.conf" "$W/spool/x.seal"
		assert_failure 2
		assert_output "gb-verify: $want"
		run gb-restore -c "$W/gb.conf" --test x.tar.gz.gpg
		assert_failure 2
		assert_output "gb-restore: $want"
		run gb-write -c "$W/gb.conf" --label D1 --pool daily "$W/usb1"
		assert_failure 2
		assert_output "gb-write: $want"
		run gb-catalog -c "$W/gb.conf" check
		assert_failure 2
		assert_output "gb-catalog: $want"
		run gb-backup -c "$W/gb.conf" --list
		assert_failure 2
		assert_output "gb-backup: $want"
		run gb-backup -c "$W/gb.conf" members-daily
		assert_failure 2
		assert_output "gb-backup: $want"
		# nothing was done: no label, no catalog, no run
		assert_equal "$(ls -A "$W/usb1" "$W/spool" | grep -v : | grep .)" ""
		[ ! -e "$W/catalog.db" ] || fail "a catalog was made"
	done
	cp "$W/good.conf" "$W/gb.conf"
	run gb-catalog -c "$W/gb.conf" check
	refute_output --partial "unknown section"
}

@test "a pool's offsite key spelt wrong, or a value not yes or no, is refused by gb-catalog as by gb-backup" {
	gb-write -c "$W/gb.conf" --label D1 --pool daily "$W/usb1" >/dev/null
	cp "$W/gb.conf" "$W/good.conf"
	for bad in "ofsite = yes" "offsite = ja"; do
		cp "$W/good.conf" "$W/gb.conf"
		sed -i "s/^offsite = yes$/$bad/" "$W/gb.conf"
		n=$(line_of "$bad")
		case $bad in
		ofsite*) want="config: $W/gb.conf:$n: [pool daily]: unknown key ofsite (known: kind, retention_days, offsite, offsite_days)" ;;
		*) want="config: $W/gb.conf:$n: [pool daily]: offsite must be yes or no, not ja" ;;
		esac
		run gb-catalog -c "$W/gb.conf" due
		assert_failure 2
		assert_output "gb-catalog: $want"
		run gb-catalog -c "$W/gb.conf" expire --dry-run
		assert_failure 2
		assert_output "gb-catalog: $want"
		run gb-catalog -c "$W/gb.conf" check
		assert_failure 2
		assert_output "gb-catalog: $want"
		run gb-catalog -c "$W/gb.conf" pool daily
		assert_failure 2
		assert_output "gb-catalog: $want"
		run gb-backup -c "$W/gb.conf" --list
		assert_failure 2
		assert_output "gb-backup: $want"
		run gb-backup -c "$W/gb.conf" tx
		assert_failure 2
		assert_line --index 0 "gb-backup: $want"
		assert_line --index 1 "gb-backup: tx: config failed: ${want#config: }"
	done
	assert_equal "$(sql "$W/catalog.db" "SELECT job, status, error FROM runs ORDER BY id")" "tx|failed|config: $W/gb.conf:$n: [pool daily]: unknown key ofsite (known: kind, retention_days, offsite, offsite_days)
tx|failed|config: $W/gb.conf:$n: [pool daily]: offsite must be yes or no, not ja"
	# spelt right, the written medium of the rotating pool is due offsite
	cp "$W/good.conf" "$W/gb.conf"
	sql "$W/catalog.db" "UPDATE media SET last_written = '2026-01-01T00:00:00Z'"
	run -0 gb-catalog -c "$W/gb.conf" due
	assert_line --index 1 --regexp "^  D1 +pool daily +written 2026-01-01T00:00:00Z$"
}

@test "gb-catalog job and pool: the task table's index, and each job and pool judged, as KEY<TAB>VALUE records" {
	run -0 gb-catalog -c "$W/gb.conf" job
	assert_output "$(printf 'catalog\t%s\nspool\t%s\njob\tmembers-weekly\njob\tmembers-daily\njob\ttx\npool\tdaily\npool\tweekly' "$W/catalog.db" "$W/spool")"
	GB_CATALOG=/elsewhere.db run -0 gb-catalog -c "$W/gb.conf" job
	assert_line --index 0 "$(printf 'catalog\t/elsewhere.db')"
	[ ! -e "$W/catalog.db" ] || fail "gb-catalog job opened the catalog"

	run -0 gb-catalog -c "$W/gb.conf" job members-daily tx
	assert_output "$(printf '%s\n' \
	    'job	members-daily' 'schedule	30 1 * * 1-6' 'when	Mon-Sat 01:30' \
	    'level	incremental' 'chain	members' 'table	stores' 'table	members' \
	    'pool	daily' 'retention_days	35' "media	$W/usb1" 'verify	seal' \
	    'alert_after	50' 'chain_job	members-weekly' 'chain_job	members-daily' \
	    "spool	$W/spool" 'site	test-gym' \
	    'job	tx' 'schedule	0 3 1 * *' 'when	monthly day 1 03:00' 'level	full' \
	    'chain	tx' 'pool	daily' 'retention_days	400' "media	$W/usb1" \
	    'verify	seal' 'alert_after	746' 'chain_job	tx' "spool	$W/spool" \
	    'site	test-gym')"
	run -0 gb-catalog -c "$W/gb.conf" job members-weekly
	assert_line "$(printf 'media\t/dev/nst0')"
	assert_line "$(printf 'media\ttape:%s/w.tap' "$W")"
	assert_line "$(printf 'when\tweekly Sun 01:30')"
	assert_line "$(printf 'retention_days\t30')"
	assert_line "$(printf 'alert_after\t170')"
	run -0 gb-catalog -c "$W/gb.conf" pool daily weekly
	assert_output "$(printf '%s\n' 'pool	daily' 'kind	dir' 'retention_days	35' \
	    'offsite	yes' 'offsite_days	7' 'pool	weekly' 'kind	tape' \
	    'retention_days	30' 'offsite	no')"

	# every error, each with its file:line, and nothing on stdout
	sed -i -e 's/^level = incremental$/level = weekly/' \
	    -e "s|^media = $W/usb1$|media = usb1 /dev/nst0|" "$W/gb.conf"
	run -2 --separate-stderr gb-catalog -c "$W/gb.conf" job members-daily
	assert_output ""
	assert_equal "$stderr" "gb-catalog: config: $W/gb.conf:$(line_of 'level = weekly'): [job members-daily]: level must be full or incremental, not weekly
gb-catalog: config: $W/gb.conf:$(line_of 'media = usb1 /dev/nst0' | head -n 1): [job members-daily]: usb1: give the directory as an absolute path
gb-catalog: config: $W/gb.conf:$(line_of 'media = usb1 /dev/nst0' | head -n 1): [job members-daily]: /dev/nst0 is a tape; pool daily holds directory media"
	run -2 gb-catalog -c "$W/gb.conf" job nosuch
	assert_output "gb-catalog: config: $W/gb.conf: no [job nosuch] section"
}
