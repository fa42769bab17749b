#!/bin/sh
# mkkeys.sh DIR - make throwaway OpenPGP keys for the demo and the tests:
# a signer and two recipients (operations, escrow), without passphrases,
# and three keyrings as the roles hold them:
#   DIR/backup   the backup host: signer's secret key, recipients' public keys
#   DIR/restore  the restore side: recipients' secret keys, signer's public key
#   DIR/auditor  the auditor: the signer's public key only
# DIR/keys.env gets SIGNER, RCPT1 and RCPT2 (fingerprints).
set -eu
dir=$1
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
all=$dir/all
for d in all backup restore auditor; do
	mkdir -p "$dir/$d"
	chmod 700 "$dir/$d"
done
g() { gpg --batch --quiet --no-tty --homedir "$@"; }
g "$all" --passphrase '' --quick-gen-key 'Gym Backup Signer <signer@gym.example>' ed25519 sign 2y
g "$all" --passphrase '' --quick-gen-key 'Gym Operations <ops@gym.example>' ed25519 cert 2y
g "$all" --passphrase '' --quick-gen-key 'Gym Escrow <escrow@gym.example>' ed25519 cert 2y
fpr() { g "$all" --with-colons --list-keys "$1" | awk -F: '$1=="fpr"{print $10; exit}'; }
SIGNER=$(fpr signer@gym.example)
RCPT1=$(fpr ops@gym.example)
RCPT2=$(fpr escrow@gym.example)
g "$all" --passphrase '' --quick-add-key "$RCPT1" cv25519 encr 2y
g "$all" --passphrase '' --quick-add-key "$RCPT2" cv25519 encr 2y
g "$all" --export "$SIGNER" "$RCPT1" "$RCPT2" > "$dir/public.asc"
g "$all" --export-secret-keys "$SIGNER" > "$dir/signer.sec"
g "$all" --export-secret-keys "$RCPT1" "$RCPT2" > "$dir/recipients.sec"
g "$all" --export "$SIGNER" > "$dir/signer.pub"
g "$dir/backup" --import "$dir/public.asc" 2>/dev/null
g "$dir/backup" --import "$dir/signer.sec" 2>/dev/null
g "$dir/restore" --import "$dir/public.asc" 2>/dev/null
g "$dir/restore" --import "$dir/recipients.sec" 2>/dev/null
g "$dir/auditor" --import "$dir/signer.pub" 2>/dev/null
rm -f "$dir/signer.sec" "$dir/recipients.sec"
printf 'SIGNER=%s\nRCPT1=%s\nRCPT2=%s\n' "$SIGNER" "$RCPT1" "$RCPT2" > "$dir/keys.env"
for d in all backup restore auditor; do
	gpgconf --homedir "$dir/$d" --kill gpg-agent 2>/dev/null || true
done
