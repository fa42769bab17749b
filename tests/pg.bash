# tests/pg.bash - a throwaway PostgreSQL cluster for the bats tests of the
# PostgreSQL source and target (pg-export.bats, pg-restore.bats).  Load it
# after helper.bash:
#
#	load helper
#	load pg
#	setup_file() { pg_start; }
#	teardown_file() { pg_stop; }
#
# pg_start makes one cluster per bats file: initdb in a private directory
# under /tmp, listening only on a Unix socket there (no TCP port), fsync
# off.  As root, the server runs as the user "postgres" (the Debian
# package makes it; PostgreSQL refuses to run as root), and the tools
# still run as root, connecting as the cluster's superuser "gb" over the
# socket.  Roles: gb (superuser, trust), gbauth (password "right", SCRAM,
# for the authentication tests).  $PGHOST, $PGPORT, $PGUSER and
# $PGDATABASE are exported, so plain psql and libpq reach the cluster.
#
# Skips when no PostgreSQL server is installed (scripts/deps.sh installs
# it: package postgresql).

# The newest installed server's bin directory.
pg_bindir() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

# as_pg CMD...: run CMD as the cluster's owner.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_start() {
	PGBIN=$(pg_bindir) || skip "no PostgreSQL server installed (apt-get install postgresql)"
	[ "$(id -u)" != 0 ] || id postgres >/dev/null 2>&1 ||
	    skip "running as root and there is no user postgres to run the server"
	# /tmp, not $BATS_FILE_TMPDIR: the socket path must stay short and the
	# server's user must reach it.
	PGROOT=$(mktemp -d /tmp/gb-pg.XXXXXX)
	chmod 0755 "$PGROOT"
	mkdir "$PGROOT/sock"
	[ "$(id -u)" != 0 ] || chown postgres: "$PGROOT" "$PGROOT/sock"
	echo "$PGROOT" >"$BATS_FILE_TMPDIR/pgroot"
	export PGROOT PGBIN
	export PGHOST="$PGROOT/sock" PGPORT=5432 PGUSER=gb PGDATABASE=postgres
	unset PGPASSWORD PGSERVICE PGSSLMODE PGOPTIONS
	export PGPASSFILE="$PGROOT/no-pgpass"
	as_pg "$PGBIN/initdb" -D "$PGROOT/data" -U gb -A trust -E UTF8 \
	    --locale=C.UTF-8 --no-sync >"$PGROOT/initdb.log" 2>&1 ||
	    { cat "$PGROOT/initdb.log" >&2; return 1; }
	# gbauth must give its password; everyone else is trusted.
	as_pg sh -c "printf '%s\n' 'local all gbauth scram-sha-256' \
	    'local all all trust' >'$PGROOT/data/pg_hba.conf'"
	pg_server_start || return 1
	psql -X -q -v ON_ERROR_STOP=1 -d postgres \
	    -c "CREATE ROLE gbauth LOGIN PASSWORD 'right'" >/dev/null
}

# pg_server_start: the server of pg_start's cluster started (again, after
# a test stopped it).
pg_server_start() {
	as_pg "$PGBIN/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/server.log" -w -t 60 \
	    -o "-k $PGROOT/sock -c listen_addresses= -c port=$PGPORT -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
	    start >/dev/null || { cat "$PGROOT/server.log" >&2; return 1; }
}

pg_stop() {
	local root
	root=$(cat "$BATS_FILE_TMPDIR/pgroot" 2>/dev/null) || return 0
	[ -n "$root" ] && [ -d "$root" ] || return 0
	PGBIN=$(pg_bindir)
	as_pg "$PGBIN/pg_ctl" -D "$root/data" -m immediate -w stop >/dev/null 2>&1
	rm -rf "$root"
}

# psqlc SQL...: psql quietly on $PGDATABASE, stopping at the first error;
# unaligned, tuples only.
psqlc() {
	psql -X -q -v ON_ERROR_STOP=1 -At "$@"
}

# new_db NAME: an empty database (dropped first if it exists).
new_db() {
	psqlc -d postgres -c "SET client_min_messages = warning" \
	    -c "DROP DATABASE IF EXISTS \"$1\"" \
	    -c "CREATE DATABASE \"$1\"" >/dev/null
}

# pg_gym_db NAME: the reference gym schema in PostgreSQL types, filled with
# the awkward values helper.bash's make_gym_db has (CR/LF, quotes, commas,
# NULL and "", edge spaces, "\.", all 256 bytes in a bytea, int64
# extremes, floats that need 17 digits, infinities), plus a table
# "types" of every type the issue asks for: numeric, timestamptz,
# boolean, bytea, real, date, varchar, json.
pg_gym_db() {
	new_db "$1"
	psqlc -d "$1" <<'EOF'
CREATE TABLE stores (
	id integer PRIMARY KEY,
	code text NOT NULL UNIQUE,
	name text NOT NULL,
	city text,
	address text,
	opened_on date,
	updated_at timestamptz NOT NULL
);
CREATE INDEX stores_updated_at ON stores (updated_at);
CREATE TABLE members (
	id bigint PRIMARY KEY,
	card_no varchar(20) NOT NULL UNIQUE,
	name text NOT NULL,
	phone text,
	level text NOT NULL,
	balance bigint NOT NULL DEFAULT 0,
	status text NOT NULL DEFAULT 'active',
	home_store_id integer REFERENCES stores (id),
	note text,
	photo bytea,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);
CREATE INDEX members_updated_at ON members (updated_at);
CREATE INDEX members_phone ON members (phone DESC);
CREATE INDEX members_lower_name ON members (lower(name));
CREATE TABLE consumptions (
	id bigint PRIMARY KEY,
	member_id bigint NOT NULL REFERENCES members (id),
	store_id integer NOT NULL REFERENCES stores (id),
	item text NOT NULL,
	quantity bigint NOT NULL,
	amount bigint NOT NULL,
	payment_method text NOT NULL,
	operator text,
	note text,
	consumed_at timestamptz NOT NULL,
	corrects_id bigint REFERENCES consumptions (id)
);
CREATE TABLE promotions (
	id integer PRIMARY KEY,
	code text NOT NULL UNIQUE,
	title text NOT NULL,
	discount_pct double precision,
	bonus_amount numeric(14, 0),
	updated_at timestamptz NOT NULL
);
CREATE TABLE types (
	id smallint PRIMARY KEY,
	n numeric,
	n2 numeric(12, 2),
	ts timestamptz,
	t timestamp,
	d date,
	b boolean,
	r real,
	f double precision,
	by bytea,
	vc varchar(10),
	c char(4),
	j json,
	iv interval,
	u uuid
);
CREATE TABLE nokey (a text, b integer);
CREATE SCHEMA sales;
CREATE TABLE sales.orders (
	"Order Id" integer,
	"odd.col" text,
	amount bigint,
	PRIMARY KEY ("Order Id")
);
CREATE TABLE sales."odd.table" (k text PRIMARY KEY, v text);

INSERT INTO stores VALUES
 (1, 'SH01', '上海徐汇店', '上海', '漕溪北路 88 号, 3 楼', '2019-03-01', '2026-01-01 09:00:00+08'),
 (2, 'BJ01', 'Beijing "Flagship"', '北京', NULL, NULL, '2026-01-01 09:00:00+08'),
 (3, 'GZ01', '', 'Guangzhou', ' padded ', '2020-07-15', '2026-01-02 10:30:00+08');
INSERT INTO members VALUES
 (1, 'C0001', '张伟', NULL, 'gold', 123456, 'active', 1, 'He said "hi", then left', NULL, '2025-01-01 08:00:00+08', '2026-01-01 08:00:00+08'),
 (2, 'C0002', '李娜', '', 'silver', 0, 'active', 1, E'line1\nline2', '\x00ff10', '2025-01-02 08:00:00+08', '2026-01-01 08:00:01+08'),
 (3, 'C0003', 'O''Brien, Pat', '13800138000', 'standard', 999999999999, 'frozen', 2, E'crlf\r\nend', '\x', '2025-01-03 08:00:00+08', '2026-01-01 08:00:02+08'),
 (4, 'C0004', ' leading', '+86 21 5555', 'platinum', -123456789, 'cancelled', NULL, 'trailing ', NULL, '2025-01-04 08:00:00+08', '2026-01-01 08:00:03+08'),
 (5, 'C0005', '"quoted"', NULL, 'gold', 5, 'active', 3, '', NULL, '2025-01-05 08:00:00+08', '2026-01-01 08:00:04+08'),
 (6, 'C0006', 'comma,name', 'NULL', 'gold', 1, 'active', 3, E'lone\rcr', NULL, '2025-01-06 08:00:00+08', '2026-01-01 08:00:05+08'),
 (7, 'C0007', E'tab\tin', '\N', 'standard', 2, 'active', 1, 'NULL', NULL, '2025-01-07 08:00:00+08', '2026-01-01 08:00:06+08'),
 (8, 'C0008', '🏋️ 健身达人', ' ', 'standard', 3, 'active', 2, ' ', NULL, '2025-01-08 08:00:00+08', '2026-01-01 08:00:07+08'),
 (9, 'C0009', '鈴木 一郎', '#1;2', 'silver', 4, 'active', 2, '"', NULL, '2025-01-09 08:00:00+08', '2026-01-01 08:00:08+08'),
 (10, 'C0010', 'x', '0', 'standard', 0, 'active', 1, ',', NULL, '2025-01-10 08:00:00+08', '2026-01-01 08:00:09+08'),
 (11, 'C0011', E'王\n芳', '1', 'gold', 77, 'active', 1, E'\n', NULL, '2025-01-11 08:00:00+08', '2026-01-01 08:00:10+08'),
 (12, 'C0012', 'last', NULL, 'gold', 88, 'active', 1, '""', NULL, '2025-01-12 08:00:00+08', '2026-01-01 08:00:11+08'),
 (13, 'C0013', '\.', '\', 'gold', 9, 'active', 1, E'\\.\n', NULL, '2025-01-13 08:00:00+08', '2026-01-01 08:00:12+08');
UPDATE members SET photo = (SELECT string_agg(set_byte('\x00'::bytea, 0, i), ''::bytea ORDER BY i) FROM generate_series(0, 255) i) WHERE id = 12;
INSERT INTO consumptions VALUES
 (1, 1, 1, '私教课 10 节', 1, 500000, 'card', '小李', NULL, '2026-01-03 10:00:00+08', NULL),
 (2, 1, 1, 'Protein bar, "choc"', 3, 2997, 'cash', NULL, E'paid in coins\ncounted twice', '2026-01-03 10:05:00+08', NULL),
 (3, 1, 1, 'Protein bar, "choc"', -3, -2997, 'cash', NULL, 'correction', '2026-01-03 10:06:00+08', 2),
 (4, 3, 2, 'Annual pass', 9223372036854775807, 900000000000, 'transfer', '', '', '2026-01-04 11:00:00+08', NULL),
 (5, 4, 3, 'Refund', -9223372036854775808, -900000000000, 'transfer', ' ', ' x ', '2026-01-04 11:30:00+08', NULL),
 (6, 2, 3, 'Towel', 0, 0, 'card', 'op', NULL, '2026-01-05 07:00:00+08', NULL);
INSERT INTO promotions VALUES
 (1, 'NY10', '新年 9 折', 0.1, NULL, '2026-01-01 00:00:00+08'),
 (2, 'THIRD', 'one third', 1.0/3, NULL, '2026-01-01 00:00:01+08'),
 (3, 'HUGE', 'huge', 1e300, NULL, '2026-01-01 00:00:02+08'),
 (4, 'TINY', 'tiny', 4.9406564584124654e-324, NULL, '2026-01-01 00:00:03+08'),
 (5, 'BIG', 'big', 1e16, NULL, '2026-01-01 00:00:04+08'),
 (6, 'FRAC', 'frac', 123456789.123, NULL, '2026-01-01 00:00:05+08'),
 (7, 'INF', 'inf', 'Infinity', NULL, '2026-01-01 00:00:06+08'),
 (8, 'NINF', '-inf', '-Infinity', NULL, '2026-01-01 00:00:07+08'),
 (9, 'NAN', 'nan', 'NaN', NULL, '2026-01-01 00:00:08+08'),
 (10, 'SUM', 'sum', 0.1::float8 + 0.2::float8, NULL, '2026-01-01 00:00:10+08'),
 (11, 'SMALL', 'small', 1e-7, NULL, '2026-01-01 00:00:11+08'),
 (12, 'BONUS', '充 1000 送 100', NULL, 10000, '2026-01-01 00:00:12+08'),
 (13, 'BONUS2', 'bonus, big', NULL, 123456789012, '2026-01-01 00:00:13+08'),
 (14, 'P17', '17 digits', 12345678901234568, NULL, '2026-01-01 00:00:14+08');
INSERT INTO types VALUES
 (1, 12345678901234567890.123456789, 0.10, '2026-06-30 23:59:59.123456+02', '2026-06-30 23:59:59.5', '2026-02-28', true, 3.4, 0.1, '\xdeadbeef', 'abc', 'ab', '{"a": [1, "x,y"]}', '1 day 02:03:04', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
 (2, -0.000000000000000000001, -1.00, '1970-01-01 00:00:00+00', '0001-01-01 00:00:00', '9999-12-31', false, -1.5e-30, -2.5e-5, '\x', '', '', 'null', '-1 mons', '00000000-0000-0000-0000-000000000000'),
 (3, 'NaN', NULL, 'infinity', '-infinity', 'infinity', NULL, 'NaN', 'Infinity', NULL, NULL, NULL, NULL, NULL, NULL),
 (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO nokey VALUES ('b', 2), ('a', 1), (NULL, NULL), ('a', 1), ('', 0);
INSERT INTO sales.orders VALUES (1, 'x.y', 100), (2, NULL, -5), (3, '', 0);
INSERT INTO sales."odd.table" VALUES ('k1', 'v1'), ('K0', 'v0'), ('ä', 'umlaut'), ('Z', 'zed');
EOF
}

# pg_conf PATH DB [SITE]: a config for pg_gym_db's schema.
pg_conf() {
	local conf=$1 db=$2 site=${3:-pg-gym}
	cat >"$conf" <<EOF
[site]
name = $site

[source]
uri = postgresql:///$db
busy_timeout = 5

[table public.stores]
key = id
watermark = updated_at
class = master

[table public.members]
key = id
watermark = updated_at
money = balance
class = master

[table public.consumptions]
key = id
money = amount
class = transaction

[table public.promotions]
key = id
watermark = updated_at
money = bonus_amount
class = master

[table public.types]
key = id
class = master

[table public.nokey]
class = transaction

[table sales.orders]
key = Order Id
money = amount
class = transaction

[table sales."odd.table"]
key = k
class = master
EOF
}

# pg_rows DB RELATION: every row of RELATION as PostgreSQL's own text form,
# sorted: for comparing tables across databases without our tools.
pg_rows() {
	psqlc -d "$1" -c "SELECT x FROM (SELECT r::text AS x FROM $2 r) s
	    ORDER BY x COLLATE \"C\""
}

# assert_pg_same DB1 REL1 DB2 REL2: the same rows, value for value.
assert_pg_same() {
	local a b
	a=$(pg_rows "$1" "$2") || fail "cannot read $2 in $1"
	b=$(pg_rows "$3" "$4") || fail "cannot read $4 in $3"
	[ "$a" = "$b" ] || fail "$1 $2 and $3 $4 differ:
$(diff <(echo "$a") <(echo "$b") | head -20)"
}

# csv_quoting CSV: every field is quoted exactly when the export dialect
# says (gb-manifest(5)): tests/csvcheck.py's parser and rule, and "\."
# quoted too (PostgreSQL's end-of-data mark).
csv_quoting() {
	"$PY" - "$1" <<PYEOF
import sys
sys.path.insert(0, "$BATS_TEST_DIRNAME")
import csvcheck
recs = csvcheck.read_csv(sys.argv[1])
for n, rec in enumerate(recs):
    for f in rec:
        if f is None:
            continue
        q = isinstance(f, csvcheck.Q)
        if q != (csvcheck.needs_quote(bytes(f)) or bytes(f) == b"\x5c."):
            sys.exit("record %d: %r is %squoted" % (n, bytes(f), "" if q else "not "))
PYEOF
}

# cut_proxy DIR BYTES [down|up]: a Unix socket DIR/.s.PGSQL.$PGPORT that
# passes a connection on to the cluster and drops it once the server has
# sent (down, the default) or received (up) BYTES bytes: a connection lost
# in the middle of a COPY.  Runs in the background (ended in teardown);
# returns when it listens.
cut_proxy() {
	local dir=$1 limit=$2 way=${3:-down} i
	mkdir -p "$dir"
	"$PY" - "$dir/.s.PGSQL.$PGPORT" "$PGHOST/.s.PGSQL.$PGPORT" "$limit" \
	    "$dir/ready" "$way" <<'PYEOF' &
import socket, sys, threading
path, target, limit, ready, way = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
srv = socket.socket(socket.AF_UNIX)
srv.bind(path)
srv.listen(8)
open(ready, "w").close()
def pipe(a, b, cut):
    sent = 0
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            if cut and sent + len(data) > limit:
                b.sendall(data[:limit - sent])
                break
            b.sendall(data)
            sent += len(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
while True:
    c, _ = srv.accept()
    s = socket.socket(socket.AF_UNIX)
    s.connect(target)
    threading.Thread(target=pipe, args=(c, s, way == "up"), daemon=True).start()
    threading.Thread(target=pipe, args=(s, c, way == "down"), daemon=True).start()
PYEOF
	bg_started $!
	for i in $(seq 100); do
		[ -e "$dir/ready" ] && return 0
		sleep 0.05
	done
	fail "the proxy did not start"
}
