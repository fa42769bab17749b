#!/usr/bin/env bats
# Messages that name the thing, the cause and the next step, and a next
# step that works when followed: a signing key with a passphrase
# (gpg-preset-passphrase), expired keys (named by user ID, fixed with
# gpg --quick-set-expire), a locked SQLite source (one wait, its real
# length, the config key that sets it), a WAL database the backup user
# may only read (the access it needs).

load helper
load media-helper

setup_file() {
	media_setup_file
	make_gym_db "$FX/gym.db"
	mkdir -p "$FX/set"
	gb-export -s "sqlite:$FX/gym.db" -o "$FX/set/x" 2>/dev/null
	gb-pack "$FX/set/x" >"$FX/packed.tgz"
}

teardown_file() { media_teardown_file; }

# g HOME ARGS...: gpg on keyring HOME, no prompts
g() {
	local h=$1
	shift
	gpg --batch --quiet --no-tty --homedir "$h" "$@"
}

# a keyring $W/k with the test recipients' public keys and the signer's
# secret key
keyring() {
	mkdir -m 700 "$W/k"
	g "$W/k" --import "$KEYS/public.asc" 2>/dev/null
	g "$KEYS/all" --export-secret-keys "$SIGNER" | g "$W/k" --import 2>/dev/null
	export GNUPGHOME="$W/k"
}

fpr_in() {
	g "$W/k" --with-colons --list-keys "$1" | awk -F: '$1 == "fpr" { print $10; exit }'
}

# key_of_2020 NAME EMAIL EXPIRY: in $W/k, a key made on 2020-01-01 that
# certifies for EXPIRY, with an encryption subkey of one day; sets fpr
# and sub to their fingerprints.
key_of_2020() {
	g "$W/k" --passphrase '' --faked-system-time 20200101T000000 \
	    --quick-gen-key "$1 <$2>" ed25519 cert "$3" 2>/dev/null
	fpr=$(fpr_in "$2")
	g "$W/k" --passphrase '' --faked-system-time 20200101T000000 \
	    --quick-add-key "$fpr" cv25519 encr 1d 2>/dev/null
	sub=$(g "$W/k" --with-colons --list-keys "$fpr" | awk -F: '$1 == "fpr" { n++ } n == 2 { print $10; exit }')
}

@test "messages: a signing key with a passphrase names gpg-preset-passphrase and its keygrip; doing so seals" {
	keyring
	g "$W/k" --passphrase 's3cret words' --pinentry-mode loopback \
	    --quick-gen-key 'Gym Night Signer <night@gym.example>' ed25519 sign 2y
	local fpr grip
	fpr=$(fpr_in night@gym.example)
	grip=$(g "$W/k" --with-colons --with-keygrip --list-keys "$fpr" |
	    awk -F: '$1 == "grp" { print $10; exit }')
	[ -n "$grip" ]
	mkdir spool
	run --separate-stderr gb-seal -r "$RCPT1" -r "$RCPT2" -u "$fpr" \
	    -o spool/a "$FX/packed.tgz"
	assert_failure 3
	[[ "$stderr" == "gb-seal: cannot encrypt and sign: signer $fpr (Gym Night Signer <night@gym.example>): its secret key has a passphrase, and no one is here to type it (No pinentry); give it to gpg-agent ahead: allow-preset-passphrase in gpg-agent.conf, gpgconf --launch gpg-agent, then \$(gpgconf --list-dirs libexecdir)/gpg-preset-passphrase --preset $grip reading the passphrase; or sign with a key without one (gb-seal(1))" ]] ||
	    fail "message: $stderr"
	assert_equal "$(ls -A spool)" ""
	# the next step, as the message says it
	echo allow-preset-passphrase >"$W/k/gpg-agent.conf"
	gpgconf --kill gpg-agent
	gpgconf --launch gpg-agent
	echo 's3cret words' | "$(gpgconf --list-dirs libexecdir)/gpg-preset-passphrase" --preset "$grip"
	run --separate-stderr gb-seal -r "$RCPT1" -r "$RCPT2" -u "$fpr" \
	    -o spool/a "$FX/packed.tgz"
	assert_success
	grep -qx "signer	$fpr" spool/a.seal
}

# follow_fix MESSAGE: run the gpg commands of "extend it where its secret
# key is (CMD; CMD), then" on the test keyring
follow_fix() {
	local cmds c
	cmds=$(printf '%s\n' "$1" | sed -n 's/.*where its secret key is (\(.*\)), then .*/\1/p')
	[ -n "$cmds" ] || fail "no commands in: $1"
	IFS=';' read -ra c <<<"$cmds"
	for cmd in "${c[@]}"; do
		case $cmd in
		" gpg --quick-set-expire "* | "gpg --quick-set-expire "*) ;;
		*) fail "not a gpg --quick-set-expire: $cmd" ;;
		esac
		# shellcheck disable=SC2086
		gpg --batch --quiet --no-tty ${cmd#*gpg }
	done
}

@test "messages: an expired key is named by its user ID, with the day and the gpg commands that extend it, which work" {
	keyring
	local fpr sub old
	key_of_2020 'Old Escrow' old@gym.example 1d
	old=$fpr
	mkdir spool
	run --separate-stderr gb-seal -r "$RCPT1" -r "$RCPT2" -u "$old" \
	    -o spool/a "$FX/packed.tgz"
	assert_failure 2
	[[ "$stderr" == "gb-seal: signer $old (Old Escrow <old@gym.example>): the key expired on 2020-01-02; "*"then give its public key to those who verify the archives; or name another key" ]] ||
	    fail "message: $stderr"
	run --separate-stderr gb-seal -r "$RCPT1" -r "$old" -u "$SIGNER" \
	    -o spool/a "$FX/packed.tgz"
	assert_failure 2
	assert_equal "$stderr" "gb-seal: recipient $old (Old Escrow <old@gym.example>): the key expired on 2020-01-02; extend it where its secret key is (gpg --quick-set-expire $old 2y; gpg --quick-set-expire $old 2y $sub), then import its public key here again; or name another key"
	assert_equal "$(ls -A spool)" ""
	follow_fix "$stderr"
	run --separate-stderr gb-seal -r "$RCPT1" -r "$old" -u "$SIGNER" \
	    -o spool/a "$FX/packed.tgz"
	assert_success
	grep -qx "recipient	$old" spool/a.seal
}

@test "messages: a key whose encryption subkey alone expired says so, by user ID, and how to extend that subkey" {
	keyring
	local fpr sub
	key_of_2020 'Sub Escrow' sub@gym.example 20y
	mkdir spool
	run --separate-stderr gb-seal -r "$RCPT1" -r "$fpr" -u "$SIGNER" \
	    -o spool/a "$FX/packed.tgz"
	assert_failure 2
	assert_equal "$stderr" "gb-seal: recipient $fpr (Sub Escrow <sub@gym.example>): its encryption subkey expired on 2020-01-02; extend it where its secret key is (gpg --quick-set-expire $fpr 2y $sub), then import its public key here again; or name another key"
	follow_fix "$stderr"
	run gb-seal -r "$RCPT1" -r "$fpr" -u "$SIGNER" -o spool/a "$FX/packed.tgz"
	assert_success
}

# lock_conf SECONDS: gym.conf with the source lock.db and busy_timeout
lock_conf() {
	printf '[source]\nuri = sqlite:%s\nbusy_timeout = %s\n' "$W/lock.db" "$1" >gym.conf
}

@test "messages: a locked source waits busy_timeout once, however many connections, says the real time and the config key" {
	sqlite3 lock.db "CREATE TABLE t(v); INSERT INTO t VALUES (1)"
	lock_conf 2
	hold_lock lock.db 30
	local t0 t1
	t0=$(now)
	run --separate-stderr gb-export -c gym.conf -P 4 -o out
	t1=$(now)
	touch release
	wait "$HOLD_PID"
	assert_failure 3
	assert_equal "$stderr" "gb-export: $W/lock.db: database is locked by a writer (waited 2 s); retry when the writer is done, or wait longer: busy_timeout in the [source] section of the config (gb-export -w)"
	# one wait of 2 s, not one per connection and statement (that was 8 s)
	awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 1.9 && b - a < 3.5) }' ||
	    fail "gave up after $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s"
	assert_clean out
}

@test "messages: a WAL database the backup user may only read names the access it needs" {
	command -v setpriv >/dev/null || skip "setpriv not installed"
	[ "$(id -u)" = 0 ] || skip "needs root to run as nobody"
	mkdir -m 0755 db
	make_gym_db db/gym.db
	sqlite3 db/gym.db "PRAGMA journal_mode = WAL" >/dev/null
	chmod 0644 db/gym.db
	[ ! -e db/gym.db-wal ] && [ ! -e db/gym.db-shm ]
	mkdir -m 0777 nb
	nobody_reaches_w
	chmod 0777 "$TMPDIR"
	run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups \
	    "$TOP/bin/gb-export" -s "sqlite:$W/db/gym.db" -o "$W/nb/out"
	assert_failure 3
	assert_equal "$stderr" "gb-export: $W/db/gym.db: attempt to write a readonly database: a WAL database is read through its -wal and -shm files, which are missing, and user nobody may not create them in $W/db; give nobody write access to that directory, or export while they exist (the application has the database open): see gb-export(1)"
	assert_equal "$(ls -A nb)" ""
	# the access it names is enough
	chmod 0777 db
	run setpriv --reuid=65534 --regid=65534 --clear-groups \
	    "$TOP/bin/gb-export" -s "sqlite:$W/db/gym.db" -o "$W/nb/out"
	assert_success
	[ -f nb/out/MANIFEST ]
}
