#!/usr/bin/env bats
# gb-seal: one OpenPGP message per archive, encrypted to every recipient
# from public keys only, signed inside, no OpenPGP compression; the seal an
# auditor checks with stock gpg and sha256sum; key refusals; the spool
# written whole or not at all.

load helper
load archive-helper

setup_file() {
	archive_setup_file
	gb-demodata -s 1 -n 2000 -o "$FX/gym.db"
	write_gym_conf "$FX/gym.conf" "$FX/gym.db"
	gym_export "$FX/gym.db" "$FX/set" "$FX/gym.conf" 2>/dev/null
	mkdir "$FX/spool"
	seal_set "$FX/set" "$FX/spool/a"
	mv "$FX/spool/a.tar.gz" "$FX/a.tar.gz"

	# $FX/extra: the backup keyring plus bad recipients: an expired key,
	# a revoked key, two keys sharing one e-mail.
	local x=$BATS_FILE_TMPDIR/x g
	g() { gpg --batch --quiet --no-tty --passphrase '' --homedir "$@"; }
	new_keyring "$x/old"
	new_keyring "$x/gen"
	new_keyring "$FX/extra"
	g "$x/old" --faked-system-time 20200101T000000 --quick-gen-key \
	    'Old Escrow <old@gym.example>' ed25519 cert 1d 2>/dev/null
	OLD=$(key_fpr "$x/old" old@gym.example)
	g "$x/old" --faked-system-time 20200101T000000 --quick-add-key "$OLD" \
	    cv25519 encr 1d 2>/dev/null
	g "$x/gen" --quick-gen-key 'Revoked Ops <revoked@gym.example>' ed25519 cert 2y
	REV=$(key_fpr "$x/gen" revoked@gym.example)
	g "$x/gen" --quick-add-key "$REV" cv25519 encr 2y
	g "$x/gen" --quick-gen-key 'Twin A <twin@gym.example>' ed25519 cert 2y
	g "$x/gen" --quick-gen-key 'Twin B <twin@gym.example>' ed25519 cert 2y
	for f in $(gpgk "$x/gen" --with-colons -k twin@gym.example | awk -F: '$1 == "fpr" { print $10 }'); do
		g "$x/gen" --quick-add-key "$f" cv25519 encr 2y
	done
	sed 's/^:-----BEGIN/-----BEGIN/' "$x/gen/openpgp-revocs.d/$REV.rev" >"$x/rev.asc"
	g "$x/gen" --import "$x/rev.asc" 2>/dev/null
	g "$KEYS/all" --export-secret-keys "$SIGNER" | g "$FX/extra" --import 2>/dev/null
	g "$FX/extra" --import "$KEYS/public.asc" 2>/dev/null
	g "$x/old" --export "$OLD" | g "$FX/extra" --import 2>/dev/null
	g "$x/gen" --export "$REV" twin@gym.example | g "$FX/extra" --import 2>/dev/null
	export OLD REV
	kill_agents_under "$x"
}

teardown_file() { archive_teardown_file; }

# seal_to OUT ARGS...: gb-seal ARGS > OUT with the backup keyring.
seal_to() {
	local o=$1
	shift
	GNUPGHOME="$KEYS/backup" gb-seal "$@" >"$o"
}

# A refused gb-seal -o spool/x: exit 2 naming the key; the spool empty.
refuse_key() {
	local keyring=$1 want=$2
	shift 2
	mkdir -p spool
	run as "$keyring" gb-seal "$@" -o spool/x "$FX/a.tar.gz"
	assert_failure 2
	assert_output --partial "$want"
	assert_empty_dir spool
	assert_tmpdir_empty
}

# -------------------------------------------------------------- sealing

@test "seal: the backup keyring holds no recipient secret key, and sealing needs none" {
	run gpgk backup --with-colons -K
	assert_success
	local secret
	secret=$(awk -F: '$1 == "fpr" { print $10 }' <<<"$output")
	[[ "$secret" == *"$SIGNER"* ]] || fail "the backup keyring lacks the signer's secret key"
	[[ "$secret" != *"$RCPT1"* && "$secret" != *"$RCPT2"* ]] ||
	    fail "the backup keyring holds a recipient secret key: $secret"
	# The recipients' public keys are there.
	gpgk backup --list-keys "$RCPT1" "$RCPT2" >/dev/null
	mkdir spool
	run --separate-stderr as backup gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o spool/b <"$FX/a.tar.gz"
	assert_success
	[ -z "$output" ] || fail "stdout not empty: $output"
	[ -z "$stderr" ] || fail "stderr not empty: $stderr"
	[ "$(ls -A spool | tr '\n' ' ')" = "b.seal b.tar.gz.gpg " ] || fail "spool holds: $(ls -A spool)"
	assert_mode 640 spool/b.tar.gz.gpg
	assert_mode 644 spool/b.seal
	# Named as a file argument instead of stdin: the same plaintext.
	run as backup gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o spool/c "$FX/a.tar.gz"
	assert_success
	gpgk restore -d spool/b.tar.gz.gpg >b.plain
	gpgk restore -d spool/c.tar.gz.gpg >c.plain
	cmp b.plain "$FX/a.tar.gz"
	cmp c.plain "$FX/a.tar.gz"
	assert_tmpdir_empty
}

@test "seal: stock gpg -d decrypts it in the restore keyring; gpg -d | tar xzf - gives the export set" {
	GNUPGHOME="$KEYS/restore" gpg --batch -q -d "$FX/spool/a.tar.gz.gpg" >plain 2>/dev/null
	cmp plain "$FX/a.tar.gz"
	mkdir x
	(cd x && GNUPGHOME="$KEYS/restore" gpg --batch -q -d "$FX/spool/a.tar.gz.gpg" 2>/dev/null | tar xzf -)
	assert_same_tree x "$FX/set"
	# Signed inside by the signer.
	run gpgk restore --status-fd 1 -d -o /dev/null "$FX/spool/a.tar.gz.gpg"
	assert_success
	assert_line --regexp "^\[GNUPG:\] VALIDSIG $SIGNER "
	assert_line --partial "[GNUPG:] GOODSIG"
}

@test "seal: one binary message, two pubkey-encrypted session keys, no compressed packet" {
	local ids want got
	[ "$(head -c 5 "$FX/spool/a.tar.gz.gpg")" != "-----" ] || fail "armored"
	run gpgk restore --list-packets "$FX/spool/a.tar.gz.gpg"
	assert_success
	[ "$(grep -c '^:pubkey enc packet:' <<<"$output")" -eq 2 ] || fail "packets: $output"
	got=$(sed -n 's/^:pubkey enc packet:.*keyid \([0-9A-F]*\).*/\1/p' <<<"$output" | sort)
	want=$( (enc_keyids restore "$RCPT1"; enc_keyids restore "$RCPT2") | sort)
	[ "$got" = "$want" ] || fail "encrypted to [$got], not [$want]"
	# We see inside (the literal data), and there is no compression.
	assert_line --partial ":literal data packet:"
	refute_line --partial "compressed packet"
	assert_line --partial ":onepass_sig packet: keyid ${SIGNER:24}"
	# Without a secret key the outside shows the same two session keys.
	run gpgk auditor --list-packets "$FX/spool/a.tar.gz.gpg"
	[ "$(grep -c '^:pubkey enc packet:' <<<"$output")" -eq 2 ] || fail "packets: $output"
}

@test "seal: the auditor (signer's public key only) checks it with gpg --verify and sha256sum -c" {
	run gpgk auditor --with-colons -K
	[ -z "$(awk -F: '$1 == "sec"' <<<"$output")" ] || fail "auditor holds a secret key"
	cd "$FX/spool"
	run env GNUPGHOME="$KEYS/auditor" gpg --batch --status-fd 1 --verify a.seal
	assert_success
	assert_line --regexp "^\[GNUPG:\] VALIDSIG $SIGNER "
	run sha256sum -c a.seal
	assert_success
	assert_line "a.tar.gz.gpg: OK"
	run bash -c "grep '  a.tar.gz.gpg\$' a.seal | sha256sum -c"
	assert_success
	assert_output "a.tar.gz.gpg: OK"
}

@test "seal: the seal states name, size, hashes, time, signer, recipients and the MANIFEST verbatim" {
	local s=$FX/spool/a.seal now t
	seal_text "$s" >text
	[ "$(head -n1 text)" = "$(printf 'gymbackup-seal\t1')" ] || fail "first line: $(head -n1 text)"
	# The fields in the documented order.
	run awk -F'\t' '$0 == "manifest" { print; exit } NF > 1 { print $1; next } { print "SUM" }' text
	[ "$(tr '\n' ' ' <<<"$output")" = \
	    "gymbackup-seal archive size SUM packed-size packed-sha256 sealed signer recipient recipient manifest " ] ||
	    fail "fields: $output"
	[ "$(seal_field "$s" archive)" = a.tar.gz.gpg ]
	[ "$(seal_field "$s" size)" = "$(stat -c %s "$FX/spool/a.tar.gz.gpg")" ]
	grep -qxF "$(cd "$FX/spool" && sha256sum a.tar.gz.gpg)" text || fail "no sha256sum line for the file"
	[ "$(seal_field "$s" packed-size)" = "$(stat -c %s "$FX/a.tar.gz")" ]
	[ "$(seal_field "$s" packed-sha256)" = "$(sha256sum <"$FX/a.tar.gz" | cut -c1-64)" ]
	[ "$(seal_field "$s" signer)" = "$SIGNER" ]
	[ "$(seal_field "$s" recipient | tr '\n' ' ')" = "$RCPT1 $RCPT2 " ]
	t=$(seal_field "$s" sealed)
	[[ "$t" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]] || fail "sealed $t"
	now=$(date +%s)
	[ $((now - $(date -d "$t" +%s))) -lt 600 ] || fail "sealed $t is not now"
	seal_manifest "$s" >manifest
	cmp manifest "$FX/set/MANIFEST"
}

@test "seal: without -o the sealed stream goes to stdout; gb-pack | gb-seal seals the packed bytes" {
	set -o pipefail
	run seal_to s.gpg -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" "$FX/a.tar.gz"
	assert_success
	gpgk restore -d s.gpg >plain
	cmp plain "$FX/a.tar.gz"
	[ "$(ls -A | LC_ALL=C sort | tr '\n' ' ')" = "plain s.gpg " ] || fail "left: $(ls -A)"
	mkdir spool
	gb-pack "$FX/set" | as backup gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o spool/p
	[ "$(seal_field spool/p.seal packed-sha256)" = "$(sha256sum <"$FX/a.tar.gz" | cut -c1-64)" ]
	gpgk restore -d spool/p.tar.gz.gpg >p.plain
	cmp p.plain "$FX/a.tar.gz"
}

@test "seal: one recipient warns on stderr and still seals to that one key" {
	mkdir spool
	run --separate-stderr as backup gb-seal -r "$RCPT1" -u "$SIGNER" -o spool/one "$FX/a.tar.gz"
	assert_success
	[[ "$stderr" == *"warning: only one recipient"* ]] || fail "stderr: $stderr"
	[ "$(seal_field spool/one.seal recipient)" = "$RCPT1" ]
	run gpgk restore --list-packets spool/one.tar.gz.gpg
	[ "$(grep -c '^:pubkey enc packet:' <<<"$output")" -eq 1 ] || fail "packets: $output"
	gpgk restore -d spool/one.tar.gz.gpg >plain
	cmp plain "$FX/a.tar.gz"
}

@test "seal: signer and recipients from the config's [keys] section" {
	cat >k.conf <<-EOF
	[keys]
	signer = $SIGNER
	recipients = $RCPT1, $RCPT2
	EOF
	mkdir spool
	run as backup gb-seal -c k.conf -o spool/k "$FX/a.tar.gz"
	assert_success
	[ "$(seal_field spool/k.seal recipient | tr '\n' ' ')" = "$RCPT1 $RCPT2 " ]
	[ "$(seal_field spool/k.seal signer)" = "$SIGNER" ]
	printf '[keys]\nsigner = %s\n' "$SIGNER" >norcpt.conf
	run as backup gb-seal -c norcpt.conf -o spool/n "$FX/a.tar.gz"
	assert_failure 2
	assert_output --partial "recipient"
	run as backup gb-seal -r "$RCPT1" -r "$RCPT2" -o spool/n "$FX/a.tar.gz"
	assert_failure 2
	assert_output --partial "signer"
	[ "$(ls -A spool | tr '\n' ' ')" = "k.seal k.tar.gz.gpg " ] || fail "spool: $(ls -A spool)"
}

@test "seal: keys named by e-mail; the seal records their fingerprints" {
	mkdir spool
	run as backup gb-seal -r ops@gym.example -r escrow@gym.example -u signer@gym.example \
	    -o spool/m "$FX/a.tar.gz"
	assert_success
	[ "$(seal_field spool/m.seal signer)" = "$SIGNER" ]
	[ "$(seal_field spool/m.seal recipient | tr '\n' ' ')" = "$RCPT1 $RCPT2 " ]
	gpgk restore -d spool/m.tar.gz.gpg >plain
	cmp plain "$FX/a.tar.gz"
	# The same key twice is one recipient named twice: refused.
	run as backup gb-seal -r ops@gym.example -r "$RCPT1" -u "$SIGNER" -o spool/t "$FX/a.tar.gz"
	assert_failure 2
	assert_output --partial "$RCPT1"
	[ ! -e spool/t.seal ] && [ ! -e spool/t.tar.gz.gpg ]
}

# ------------------------------------------------------------ key refusals

@test "seal refuses a recipient that is not in the keyring (exit 2, names it)" {
	refuse_key backup 0123456789ABCDEF0123456789ABCDEF01234567 \
	    -r "$RCPT1" -r 0123456789ABCDEF0123456789ABCDEF01234567 -u "$SIGNER"
	refuse_key backup nobody@gym.example -r nobody@gym.example -r "$RCPT1" -u "$SIGNER"
}

@test "seal refuses an expired recipient (exit 2, names it)" {
	refuse_key "$FX/extra" "$OLD" -r "$RCPT1" -r "$OLD" -u "$SIGNER"
	assert_output --partial "expired"
}

@test "seal refuses a revoked recipient (exit 2, names it)" {
	run gpgk "$FX/extra" --with-colons -k "$REV"
	assert_line --regexp '^pub:r:'
	refuse_key "$FX/extra" "$REV" -r "$REV" -r "$RCPT2" -u "$SIGNER"
	assert_output --partial "revoked"
}

@test "seal refuses a recipient key that cannot encrypt (the sign-only signer key)" {
	refuse_key backup "$SIGNER" -r "$RCPT1" -r "$SIGNER" -u "$SIGNER"
	assert_output --partial "encrypt"
}

@test "seal refuses a signer without its secret key (exit 2, names it)" {
	refuse_key backup "$RCPT1" -r "$RCPT1" -r "$RCPT2" -u "$RCPT1"
	assert_output --partial "secret key"
}

@test "seal refuses a name that matches more than one key (exit 2, names it)" {
	refuse_key "$FX/extra" twin@gym.example -r "$RCPT1" -r twin@gym.example -u "$SIGNER"
	assert_output --partial "more than one"
	refuse_key "$FX/extra" gym.example -r gym.example -r "$RCPT2" -u "$SIGNER"
}

# --------------------------------------------------------------- spool

@test "seal -o refuses an existing name (exit 2) and leaves the existing files untouched" {
	mkdir spool
	echo 'an older seal' >spool/a.seal
	cp spool/a.seal keep.seal
	run as backup gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o spool/a "$FX/a.tar.gz"
	assert_failure 2
	assert_output --partial "spool/a"
	assert_output --partial "exists"
	cmp spool/a.seal keep.seal
	[ "$(ls -A spool)" = a.seal ] || fail "spool: $(ls -A spool)"
	rm spool/a.seal
	cp "$FX/spool/a.tar.gz.gpg" spool/a.tar.gz.gpg
	run as backup gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o spool/a "$FX/a.tar.gz"
	assert_failure 2
	assert_output --partial "exists"
	cmp spool/a.tar.gz.gpg "$FX/spool/a.tar.gz.gpg"
	[ "$(ls -A spool)" = a.tar.gz.gpg ] || fail "spool: $(ls -A spool)"
	assert_tmpdir_empty
}

@test "seal: input that is no packed archive is refused (exit 1) and leaves nothing in the spool" {
	mkdir spool
	# Nothing at all.
	run as backup gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o spool/n </dev/null
	assert_failure 1
	assert_output --partial "not a packed archive"
	assert_empty_dir spool
	# The uncompressed export stream.
	mkstream "$FX/set" stream.tar MANIFEST SCHEMA.sql
	run as backup gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o spool/n stream.tar
	assert_failure 1
	assert_output --partial "not a packed archive"
	assert_empty_dir spool
	# A tar.gz that does not start with MANIFEST.
	tar czf other.tar.gz -C "$FX/set" SCHEMA.sql MANIFEST
	run as backup gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o spool/n other.tar.gz
	assert_failure 1
	assert_output --partial "not a packed archive"
	assert_empty_dir spool
	# Text.
	run as backup gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o spool/n "$FX/set/MANIFEST"
	assert_failure 1
	assert_empty_dir spool
	# A file that cannot be read: could not run.
	run as backup gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o spool/n missing.tar.gz
	assert_failure 3
	assert_output --partial "missing.tar.gz"
	assert_empty_dir spool
	assert_tmpdir_empty
}

@test "seal: a packed archive cut short (gb-pack failed half-way) is not sealed, nothing left" {
	mkdir spool
	head -c $(($(stat -c %s "$FX/a.tar.gz") - 30)) "$FX/a.tar.gz" >cut.tar.gz
	run as backup gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o spool/cut cut.tar.gz
	assert_failure 1
	assert_output --partial "cut.tar.gz"
	assert_empty_dir spool
	# The MANIFEST member alone, as a gb-pack that failed later leaves it.
	gz_member "$FX/a.tar.gz" 1 first.tar
	gzip -n <first.tar >first.tar.gz
	run as backup gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o spool/cut <first.tar.gz
	assert_failure 1
	assert_empty_dir spool
	# A pipeline whose gb-pack fails seals nothing either.
	cp -r "$FX/set" s
	flip_byte s/members.csv middle
	run bash -c 'gb-pack -j 1 s | GNUPGHOME="$KEYS/backup" gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o spool/p'
	assert_failure 1
	assert_output --partial "members.csv"
	assert_empty_dir spool
	assert_tmpdir_empty
}

# ------------------------------------------------- crash safety, checking

@test "seal -o: a directory fsync that fails after either rename leaves neither file (never a seal without its archive)" {
	mkdir spool
	local n
	for n in 1 2; do
		run faulty "fsync:$n@spool" GNUPGHOME="$KEYS/backup" gb-seal -r "$RCPT1" -r "$RCPT2" \
		    -u "$SIGNER" -o spool/x "$FX/a.tar.gz"
		assert_failure 3
		[ -z "$(ls -A spool)" ] || fail "fsync $n: left in the spool: $(ls -A spool)"
		assert_output --partial "Input/output error"
		assert_output --partial "nothing is left in the spool"
	done
	assert_tmpdir_empty
	# and the plain rerun seals
	run as backup gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o spool/x "$FX/a.tar.gz"
	assert_success
	run as auditor gb-verify --signer "$SIGNER" spool/x.seal
	assert_success
}

# crlf_seal DIR: DIR/a.tar.gz.gpg and DIR/a.seal, the seal with CR LF line
# ends (as a Windows editor or a mail gateway leaves it).
crlf_seal() {
	mkdir -p "$1"
	cp "$FX/spool/a.tar.gz.gpg" "$1/"
	sed 's/$/\r/' "$FX/spool/a.seal" >"$1/a.seal"
	[ "$(grep -c $'\r$' "$1/a.seal")" = "$(wc -l <"$FX/spool/a.seal")" ]
}

# cat_conf: a config pinning SIGNER (default $SIGNER) with the catalog
# $W/cat.db; a medium U1 labelled at usb.
cat_conf() {
	printf '[keys]\nsigner = %s\n\n[catalog]\npath = %s\n' "${1:-$SIGNER}" \
	    "$W/cat.db" >"$W/gb.conf"
	mkdir -p usb
	[ -e usb/GYMBACKUP.LABEL ] ||
	    gb-write -c "$W/gb.conf" --label U1 --pool p usb >/dev/null 2>&1
}

@test "a seal with CR LF line ends and a good signature is accepted by gb-verify and gb-write, its manifest read as signed" {
	crlf_seal crlf
	# stock gpg agrees: the signature covers the text, not its line ends
	run gpgk auditor --verify crlf/a.seal
	assert_success
	run as auditor gb-verify --signer "$SIGNER" crlf/a.seal
	assert_success
	assert_line "a.tar.gz.gpg: OK"
	cat_conf
	run as backup gb-write -c "$W/gb.conf" usb crlf/a
	assert_success
	assert_line --partial "a.tar.gz.gpg: written to U1"
	cmp usb/a.tar.gz.gpg "$FX/spool/a.tar.gz.gpg"
	cmp usb/a.seal crlf/a.seal
	run as backup gb-catalog -c "$W/gb.conf" manifest a.tar.gz.gpg
	assert_success
	assert_equal "$output" "$(seal_manifest "$FX/spool/a.seal")"
	# a CR LF seal whose text was changed still fails
	sed 's/^\(packed-size\t\)/\11/' crlf/a.seal >crlf/b.seal
	cp crlf/a.tar.gz.gpg crlf/b.tar.gz.gpg
	run as auditor gb-verify --signer "$SIGNER" crlf/b.seal
	assert_failure 1
	assert_output --partial "BAD signature"
}

@test "a signer pinned by e-mail matches the whole address: xsigner@ is not signer@; case does not matter" {
	# an impostor whose address contains the pinned one; the keyring
	# holds the recipients and the impostor, not the real signer
	local imp="$W/imp"
	new_keyring "$imp"
	gpgk "$imp" --passphrase '' --quick-gen-key 'Impostor <xsigner@gym.example>' ed25519 sign 2y
	gpgk all --export "$RCPT1" "$RCPT2" | gpgk "$imp" --import 2>/dev/null
	mkdir spool
	run as "$imp" gb-seal -r "$RCPT1" -r "$RCPT2" -u xsigner@gym.example -o spool/a "$FX/a.tar.gz"
	assert_success
	run as "$imp" gb-verify --signer signer@gym.example spool/a.seal
	assert_failure 1
	assert_output --partial "a.tar.gz.gpg: FAIL: "
	assert_output --partial "signer@gym.example"
	refute_output --partial ": OK"
	cat_conf signer@gym.example
	run as "$imp" gb-write -c "$W/gb.conf" usb spool/a
	assert_failure 1
	assert_output --partial "not written"
	[ ! -e usb/a.tar.gz.gpg ]
	[ "$(sqlite3 "$W/cat.db" "SELECT count(*) FROM archives")" = 0 ]
	# the real signer, pinned by its address in any case, is accepted
	local s
	for s in signer@gym.example '<signer@gym.example>' SIGNER@Gym.Example; do
		run as auditor gb-verify --signer "$s" "$FX/spool/a.seal"
		assert_success
		assert_line "a.tar.gz.gpg: OK"
	done
	run as auditor gb-verify --signer gym.example "$FX/spool/a.seal"
	assert_failure 1
}

# ---------------------------------------------------- gpg, run directly

@test "seal: where libgcrypt does SHA-256 in hardware, gpg signs the archive's SHA-256 (digest 8), else the keys' first choice, SHA-512 (10); stock gpg -d checks it" {
	local want=10
	if gpgconf --show-versions 2>/dev/null |
	    grep -Eq '^hwflist:(.*:)?(intel-shaext|arm-sha2):'; then
		want=8
	fi
	mkdir spool
	run as backup gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o spool/d "$FX/a.tar.gz"
	assert_success
	run gpgk restore --status-fd 1 --decrypt -o d.tar.gz spool/d.tar.gz.gpg
	assert_success
	assert_line --regexp "^\[GNUPG:\] VALIDSIG $SIGNER [-0-9]+ [0-9]+ 0 4 0 22 $want 00 $SIGNER\$"
	cmp d.tar.gz "$FX/a.tar.gz" || fail "it does not decrypt to its input"
}

@test "seal: a line on gpg's stderr that reads like a status line is none: an archive gpg did not sign is refused (exit 3), nothing left" {
	# a gpg that does not sign, and writes a signature's status line
	# where a message with a key's user id or a file name could be
	fake_gpg "$W/fake" <<EOF
#!/bin/bash
a=()
while [ \$# -gt 0 ]; do
	case \$1 in
	--sign) ;;
	--local-user) shift ;;
	*) a+=("\$1") ;;
	esac
	shift
done
case " \${a[*]} " in
*" --encrypt "*)
	echo "[GNUPG:] SIG_CREATED S 22 10 00 1700000000 $SIGNER" >&2 ;;
esac
exec $(command -v gpg) "\${a[@]}"
EOF
	mkdir spool
	PATH="$W/fake:$PATH" run as backup gb-seal -r "$RCPT1" -r "$RCPT2" \
	    -u "$SIGNER" -o spool/x "$FX/a.tar.gz"
	assert_failure 3
	assert_output "gb-seal: cannot encrypt and sign: gpg did not sign once"
	assert_empty_dir spool
	assert_tmpdir_empty
}

@test "seal: a gpg killed half-way is a failure (exit 3, the signal named), nothing left in the spool" {
	fake_gpg "$W/fake" <<EOF
#!/bin/bash
$(command -v gpg) "\$@" | head -c 1000
kill -KILL \$\$
EOF
	mkdir spool
	PATH="$W/fake:$PATH" run as backup gb-seal -r "$RCPT1" -r "$RCPT2" \
	    -u "$SIGNER" -o spool/x "$FX/a.tar.gz"
	assert_failure 3
	assert_output --regexp "^gb-seal: cannot encrypt and sign: gpg killed by signal 9(: gpg: .*)?\$"
	assert_empty_dir spool
	assert_tmpdir_empty
}

@test "seal: a SIGCHLD ignored by whoever started gb-seal (inherited through exec) changes nothing: gpg's exit is still waited for" {
	mkdir spool
	run as backup bash -c "trap '' CHLD; exec gb-seal -r $RCPT1 -r $RCPT2 -u $SIGNER -o spool/c $FX/a.tar.gz"
	assert_success
	assert_output ''
	run gpgk restore --decrypt -o c.tar.gz spool/c.tar.gz.gpg
	assert_success
	cmp c.tar.gz "$FX/a.tar.gz" || fail "it does not decrypt to its input"
}

# new_sealer DIR: a keyring with the signer's secret key and the public keys.
new_sealer() {
	new_keyring "$1"
	gpgk all --export-secret-keys "$SIGNER" | gpgk "$1" --import 2>/dev/null
	gpgk "$1" --import "$KEYS/public.asc" 2>/dev/null
}

@test "seal: an encrypt-to or textmode in gpg.conf changes nothing: no recipient the seal does not name, CR LF bytes kept" {
	local k="$W/k" twin got want
	new_sealer "$k"
	twin=$(gpgk "$FX/extra" --with-colons -k twin@gym.example |
	    awk -F: '$1 == "fpr" { print $10; exit }')
	gpgk "$FX/extra" --export "$twin" | gpgk "$k" --import 2>/dev/null
	printf 'encrypt-to %s\ntextmode\n' "$twin" >"$k/gpg.conf"
	# a packed archive with CR LF bytes: a stored gzip member between
	# two whole ones (MANIFEST first, the end mark last)
	{ cat "$FX/a.tar.gz"
	    $PY -c 'import gzip, sys; sys.stdout.buffer.write(gzip.compress(b"x\r\n" * 1000, 0))'
	    cat "$FX/a.tar.gz"; } >crlf.tar.gz
	grep -q $'\r' crlf.tar.gz
	mkdir spool
	run as "$k" gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o spool/a crlf.tar.gz
	assert_success
	gpgk restore -d spool/a.tar.gz.gpg 2>/dev/null | cmp - crlf.tar.gz
	run gpgk "$k" --list-packets spool/a.tar.gz.gpg
	got=$(sed -n 's/^:pubkey enc packet:.*keyid \([0-9A-F]*\).*/\1/p' <<<"$output" | sort)
	want=$( (enc_keyids restore "$RCPT1"; enc_keyids restore "$RCPT2") | sort)
	[ "$got" = "$want" ] || fail "encrypted to [$got], not [$want]"
	[ "$(grep -c '^recipient' spool/a.seal)" -eq 2 ]
	kill_agents_under "$k"
}

@test "seal: 23 recipients: the archive has a session key for each, the seal names each" {
	local k="$W/k" r i
	new_sealer "$k"
	r=(-r "$RCPT1" -r "$RCPT2")
	for i in $(seq 1 21); do
		gpgk "$k" --passphrase '' --quick-gen-key "R$i <r$i@gym.example>" \
		    future-default default 2y 2>/dev/null
		r+=(-r "$(key_fpr "$k" "r$i@gym.example")")
	done
	mkdir spool
	run as "$k" gb-seal "${r[@]}" -u "$SIGNER" -o spool/a "$FX/a.tar.gz"
	assert_success
	run gpgk "$k" --list-packets spool/a.tar.gz.gpg
	[ "$(grep -c '^:pubkey enc packet:' <<<"$output")" -eq 23 ] || fail "packets: $output"
	[ "$(grep -c '^recipient' spool/a.seal)" -eq 23 ]
	kill_agents_under "$k"
}

@test "seal: a recipient or group in gpg.conf, which would add a key the seal does not name, is refused (exit 3, names it), nothing left" {
	local k="$W/k" twin c
	new_sealer "$k"
	twin=$(gpgk "$FX/extra" --with-colons -k twin@gym.example |
	    awk -F: '$1 == "fpr" { print $10; exit }')
	gpgk "$FX/extra" --export "$twin" | gpgk "$k" --import 2>/dev/null
	mkdir spool
	for c in "recipient $twin" "hidden-recipient $twin" "group $RCPT2=$RCPT2 $twin"; do
		echo "$c" >"$k/gpg.conf"
		run as "$k" gb-seal -r "$RCPT1" -r "$RCPT2" -u "$SIGNER" -o spool/a "$FX/a.tar.gz"
		assert_failure 3
		assert_output "gb-seal: cannot encrypt and sign: gpg took key $twin, which is neither the signer nor a recipient: is it named in gpg.conf (recipient, group)?"
		assert_empty_dir spool
	done
	assert_tmpdir_empty
	kill_agents_under "$k"
}
