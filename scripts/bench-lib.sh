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

# A throwaway PostgreSQL cluster (bench-pg.sh, bench-catalog.sh): initdb in
# a private directory under $TMPDIR, a Unix socket only, fsync off; as
# root the server runs as the user postgres.  The caller sets PGROOT= and
# calls pg_cleanup on exit, and has a die.

# pg_find: PGBIN, the newest installed server's bin directory; false when
# there is none.
pg_find() {
	PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] || return 1
	[ "$(id -u)" != 0 ] || id postgres >/dev/null 2>&1 ||
		die "running as root and there is no user postgres for the server"
}

pg_cleanup() {
	[ -n "${PGROOT:-}" ] || return 0
	${ASPG:-} "$PGBIN/pg_ctl" -D "$PGROOT/data" -m immediate -w stop \
	    >/dev/null 2>&1 || true
	rm -rf "$PGROOT"
}

# pg_up DB: the cluster, its superuser gb, database DB; PG* exported.
pg_up() {
	PGROOT=$(mktemp -d "${TMPDIR:-/tmp}/gb-bench-pg.XXXXXX")
	chmod 0755 "$PGROOT"
	mkdir "$PGROOT/sock"
	ASPG=
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$PGROOT" "$PGROOT/sock"
		ASPG="runuser -u postgres --"
	fi
	$ASPG "$PGBIN/initdb" -D "$PGROOT/data" -U gb -A trust -E UTF8 \
	    --locale=C.UTF-8 --no-sync >"$PGROOT/initdb.log" 2>&1 ||
	    die "initdb failed: $(cat "$PGROOT/initdb.log")"
	$ASPG "$PGBIN/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/server.log" -w \
	    -t 120 -o "-k $PGROOT/sock -c listen_addresses= -c fsync=off \
	    -c synchronous_commit=off -c full_page_writes=off \
	    -c shared_buffers=1GB -c max_wal_size=8GB -c maintenance_work_mem=512MB" \
	    start >/dev/null || die "the server did not start: $(cat "$PGROOT/server.log")"
	export PGHOST="$PGROOT/sock" PGPORT=5432 PGUSER=gb PGDATABASE="$1"
	unset PGPASSWORD PGSERVICE PGOPTIONS
	psql -X -q -d postgres -c "CREATE DATABASE $1" >/dev/null
}
