# bench-lib.sh - what scripts/bench.sh and scripts/bench-pg.sh share;
# sourced, after TOP and DIR are set.

# ensure_keys: throwaway keys, made once into $DIR/keys; SIGNER, RCPT1,
# RCPT2, BACKUP_GPG and RESTORE_GPG exported.
ensure_keys() {
	KEYS=$DIR/keys
	if [ ! -f "$KEYS/keys.env" ]; then
		echo "bench: making throwaway keys in $KEYS"
		rm -rf "$KEYS" "$KEYS.tmp"
		sh "$TOP/scripts/mkkeys.sh" "$KEYS.tmp"
		mv "$KEYS.tmp" "$KEYS"
	fi
	. "$KEYS/keys.env"
	export SIGNER RCPT1 RCPT2
	BACKUP_GPG=$KEYS/backup
	RESTORE_GPG=$KEYS/restore
	export BACKUP_GPG RESTORE_GPG
}

# keys_cleanup: the agents the keys' use started.
keys_cleanup() {
	[ -n "${KEYS:-}" ] || return 0
	for k in backup restore; do
		gpgconf --homedir "$KEYS/$k" --kill gpg-agent 2>/dev/null || true
	done
}

# ratio A B: A / B to two places (0 when B is 0).
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'
}

# target TEXT MEASURED OP LIMIT: one line of the targets table.
target() {
	awk -v t="$1" -v m="$2" -v op="$3" -v lim="$4" 'BEGIN {
		ok = op == "<=" ? m + 0 <= lim + 0 : m + 0 >= lim + 0
		printf "%-58s %9s %4s %-6s %s\n", t, m, op, lim,
		    ok ? "PASS" : "MISS"
	}'
}
