-- gymbackup catalog schema, version 3, one text for SQLite and PostgreSQL
-- (lib/catalog.c loads it): a line starting "--sqlite " or "--pg " is that
-- dialect's alone (the marker taken off), and @ID@ is its integer key that
-- numbers itself.  gb-catalog(1) creates it; every tool that writes the
-- catalog appends to its site's audit trail in the same transaction as
-- the change it records.  Every row names its site ([site] name): a
-- chain of gyms shares one catalog on PostgreSQL, each site its rows.
--sqlite PRAGMA user_version = 3;
--pg CREATE TABLE catalog_version (version INTEGER NOT NULL);
--pg INSERT INTO catalog_version VALUES (3);

-- Media: USB drives (kind dir) and tapes (kind tape), labelled by gb-write.
-- A medium's id is its site's: two sites may both have a T1.
CREATE TABLE media (
	site         TEXT NOT NULL,
	id           TEXT NOT NULL,
	kind         TEXT NOT NULL CHECK (kind IN ('dir', 'tape')),
	pool         TEXT NOT NULL,
	capacity     BIGINT,                   -- bytes; NULL unknown
	state        TEXT NOT NULL DEFAULT 'usable'
	             CHECK (state IN ('usable', 'full', 'retired')),
	location     TEXT NOT NULL DEFAULT 'onsite'
	             CHECK (location IN ('onsite', 'transit', 'offsite')),
	labelled_at  TEXT NOT NULL,
	last_written TEXT,
	due_back     TEXT,                     -- when an offsite medium returns
	bytes_used   BIGINT NOT NULL DEFAULT 0,
	next_file    INTEGER NOT NULL DEFAULT 1, -- tape: next file number (0 = label)
	device       TEXT,                     -- where it was last seen mounted
	to_site      TEXT,                     -- on its way to this site
	PRIMARY KEY (site, id)
);

-- Chain of custody: every move with who, when and why.  (PostgreSQL: no
-- foreign key to media, whose id is unique only within a site and whose
-- site changes when it moves to another.)
CREATE TABLE movements (
	id       @ID@,
	site     TEXT NOT NULL,
	medium   TEXT NOT NULL,
	at       TEXT NOT NULL,
	from_loc TEXT NOT NULL,
	to_loc   TEXT NOT NULL,
	by       TEXT NOT NULL,
	why      TEXT
--sqlite 	, FOREIGN KEY (site, medium) REFERENCES media(site, id)
);

-- Sealed archives, with what their seal says (site: the site that
-- recorded it, its manifest's on a shared catalog).  Names and export ids
-- are a site's own: another site's rows, which it cannot see, never take
-- the name its next archive gets.
CREATE TABLE archives (
	name          TEXT NOT NULL,           -- NAME.tar.gz.gpg
	job           TEXT NOT NULL,
	level         TEXT NOT NULL CHECK (level IN ('full', 'incremental')),
	export_id     TEXT NOT NULL,
	base_id       TEXT,                    -- export it builds on
	chain         TEXT NOT NULL,           -- export id of the full it rests on
	site          TEXT NOT NULL,
	source        TEXT NOT NULL,
	snapshot      TEXT NOT NULL,
	size          BIGINT NOT NULL,
	sha256        TEXT NOT NULL,
	packed_size   BIGINT NOT NULL,
	packed_sha256 TEXT NOT NULL,
	rows          BIGINT NOT NULL,
	seal          TEXT NOT NULL,           -- the clear-signed seal, verbatim
	recorded_at   TEXT NOT NULL,
	expired_at    TEXT,
	PRIMARY KEY (site, name),
	UNIQUE (site, export_id)
);
CREATE INDEX archives_snapshot ON archives(site, snapshot);

-- Per table of an archive (its site's): for chains, growth reports and
-- finance.
CREATE TABLE archive_tables (
	site      TEXT NOT NULL,
	archive   TEXT NOT NULL,
	tbl       TEXT NOT NULL,
	rows      BIGINT NOT NULL,
	bytes     BIGINT NOT NULL,
	sha256    TEXT NOT NULL,
	money     TEXT,                        -- "col=sum col=sum"
	PRIMARY KEY (site, archive, tbl),
	FOREIGN KEY (site, archive) REFERENCES archives(site, name)
);

-- Copies of archives on media (site: the archive's, whose medium it was
-- when it was written).  Only a durable, read-back copy is 'good'.
CREATE TABLE copies (
	id          @ID@,
	site        TEXT NOT NULL,
	archive     TEXT NOT NULL,
	medium      TEXT NOT NULL,
	position    TEXT NOT NULL,             -- tape file number, or file name
	status      TEXT NOT NULL CHECK (status IN ('writing', 'good', 'failed', 'expired')),
	started_at  TEXT NOT NULL,
	written_at  TEXT,
	verified_at TEXT,
	error       TEXT,
	FOREIGN KEY (site, archive) REFERENCES archives(site, name)
--sqlite 	, FOREIGN KEY (site, medium) REFERENCES media(site, id)
);
CREATE INDEX copies_archive ON copies(site, archive);
CREATE INDEX copies_medium ON copies(medium);

-- The backup log: one row per job run.
CREATE TABLE runs (
	id       @ID@,
	site     TEXT NOT NULL,
	job      TEXT NOT NULL,
	started  TEXT NOT NULL,
	ended    TEXT,
	status   TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
	archive  TEXT,
	rows     BIGINT,
	bytes    BIGINT,
	error    TEXT,
	pid      INTEGER,                  -- the gb-backup that runs it, on
	host     TEXT                      -- host: gone while 'running' = killed
);
CREATE INDEX runs_job ON runs(site, job, started);

-- Restore tests (the policy's 恢复测试) and verifications, of an
-- archive of their site.  No foreign key: gb-restore --test records a
-- drill of an archive file the catalog may not have (PostgreSQL's site
-- roles are held to their own archives by the policies below).
CREATE TABLE checks (
	id      @ID@,
	site    TEXT NOT NULL,
	kind    TEXT NOT NULL CHECK (kind IN ('verify', 'deep-verify', 'restore-test')),
	archive TEXT NOT NULL,
	medium  TEXT,
	at      TEXT NOT NULL,
	ok      INTEGER NOT NULL,
	detail  TEXT,
	manual  INTEGER NOT NULL DEFAULT 0     -- 1: told by gb-catalog, not run
);
CREATE INDEX checks_archive ON checks(site, archive);

-- Append-only audit trail, one hash chain per site: each entry's hash
-- covers the one before of its site (seq counts within the site).
CREATE TABLE audit (
	site   TEXT NOT NULL,
	seq    BIGINT NOT NULL,
	at     TEXT NOT NULL,
	actor  TEXT NOT NULL,
	action TEXT NOT NULL,
	object TEXT NOT NULL,
	detail TEXT NOT NULL,
	prev   TEXT NOT NULL,
	hash   TEXT NOT NULL,
	PRIMARY KEY (site, seq)
);
--sqlite CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
--sqlite BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
--sqlite CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
--sqlite BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
--pg CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
--pg $$ BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$;
--pg CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
--pg FOR EACH ROW EXECUTE FUNCTION audit_append_only();
--pg CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
--pg FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

-- Tables added since the first catalogs: gb-catalog and the tools make
-- them in a catalog that lacks them (an older one still opens).

-- Signed checkpoints of the audit trail (gb-checkpoint(5)), every one
-- issued: its entry count and head hash, and where it went.  What is
-- used of one is read from its text, verified, never from the columns.
CREATE TABLE IF NOT EXISTS checkpoints (
	id      @ID@,
	site    TEXT NOT NULL,                 -- whose chain it vouches for
	issued  TEXT NOT NULL,
	entries BIGINT NOT NULL,
	head    TEXT NOT NULL,
	medium  TEXT,                          -- written on it, or NULL: a file
	place   TEXT NOT NULL,                 -- tape file, file name, or path
	text    TEXT NOT NULL                  -- the clear-signed checkpoint
);

-- Sites and who may write them (PostgreSQL only; gb-catalog(1) SITES).
-- Each backup host logs in as its site's role (or a role that is a
-- member of it) and writes only its site's rows: every row table has
-- row-level security.  Head office (members of gb_head_office) reads
-- every site's rows and writes none.  The audit trail is append-only for
-- everyone (its trigger above); only the catalog's owner, who runs
-- gb-catalog upgrade, migrate and site add, is not bound by the policies.
-- An upgrade makes the row tables anew and runs this again: the sites
-- and the roles stay as they are, the policies are made for the new tables.
--pg CREATE TABLE IF NOT EXISTS sites (
--pg 	name TEXT PRIMARY KEY,                 -- [site] name of its hosts
--pg 	role TEXT NOT NULL UNIQUE              -- the login or group role that writes it
--pg );
--pg DO $$ BEGIN
--pg 	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gb_site_host') THEN
--pg 		CREATE ROLE gb_site_host NOLOGIN;
--pg 	END IF;
--pg 	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gb_head_office') THEN
--pg 		CREATE ROLE gb_head_office NOLOGIN;
--pg 	END IF;
--pg END $$;
-- The sites the current role writes.  Its search_path is fixed to the
-- catalog's schema with pg_temp last, so that nobody's temporary table
-- "sites" can stand in for this one.
--pg CREATE OR REPLACE FUNCTION gb_own_sites() RETURNS SETOF TEXT LANGUAGE sql STABLE AS
--pg $$ SELECT s.name FROM sites s JOIN pg_roles r ON r.rolname = s.role
--pg WHERE pg_has_role(r.oid, 'USAGE') $$;
--pg DO $$
--pg DECLARE
--pg 	t TEXT;
--pg 	own CONSTANT TEXT := 'site IN (SELECT gb_own_sites())';
--pg 	archived CONSTANT TEXT := '(site, archive) IN (SELECT site, name FROM '
--pg 	    'archives WHERE site IN (SELECT gb_own_sites()))';
--pg 	head CONSTANT TEXT := '(SELECT pg_has_role(''gb_head_office'', ''USAGE''))';
--pg 	seen TEXT;
--pg 	ok TEXT;
--pg 	cols TEXT;
--pg 	-- history, added to and never rewritten: the audit trail, its
--pg 	-- checkpoints, the custody of media, restore tests, archives' tables
--pg 	history CONSTANT TEXT[] := ARRAY['audit', 'checkpoints', 'movements',
--pg 	    'checks', 'archive_tables'];
--pg BEGIN
--pg 	EXECUTE format('ALTER FUNCTION gb_own_sites() SET search_path = %I, pg_temp',
--pg 	    current_schema());
--pg 	EXECUTE format('GRANT USAGE ON SCHEMA %I TO gb_site_host, gb_head_office',
--pg 	    current_schema());
--pg 	GRANT SELECT ON catalog_version, sites TO gb_site_host, gb_head_office;
--pg 	GRANT SELECT ON media, movements, archives, archive_tables, copies, runs,
--pg 	    checks, audit, checkpoints TO gb_site_host;
--pg 	-- every column but an id the catalog numbers: a site that gave ids
--pg 	-- (or changed them) could take the ones another site's rows get next
--pg 	FOREACH t IN ARRAY ARRAY['media', 'movements', 'archives', 'archive_tables',
--pg 	    'copies', 'runs', 'checks', 'audit', 'checkpoints'] LOOP
--pg 		SELECT string_agg(quote_ident(column_name), ', ') INTO cols
--pg 		    FROM information_schema.columns WHERE table_schema =
--pg 		    current_schema() AND table_name = t AND is_identity = 'NO';
--pg 		EXECUTE format('GRANT INSERT (%s) ON %I TO gb_site_host', cols, t);
--pg 		CONTINUE WHEN t = ANY (history);
--pg 		EXECUTE format('GRANT UPDATE (%s) ON %I TO gb_site_host', cols, t);
--pg 	END LOOP;
--pg 	GRANT SELECT ON media, movements, archives, archive_tables, copies, runs,
--pg 	    checks, audit, checkpoints TO gb_head_office;
--pg 	FOREACH t IN ARRAY ARRAY['media', 'movements', 'archives', 'archive_tables',
--pg 	    'copies', 'runs', 'checks', 'audit', 'checkpoints'] LOOP
--pg 		seen := CASE t
--pg 		    -- a medium on its way to a site is that site's to see and take in
--pg 		    WHEN 'media' THEN own || ' OR to_site IN (SELECT gb_own_sites())'
--pg 		    ELSE own END;
--pg 		-- a table, copy or check is of an archive of the site's own
--pg 		ok := CASE WHEN t IN ('archive_tables', 'copies', 'checks') THEN
--pg 		    own || ' AND ' || archived ELSE own END;
--pg 		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
--pg 		EXECUTE format('CREATE POLICY site_read ON %I FOR SELECT USING '
--pg 		    '(%s OR %s)', t, seen, head);
--pg 		EXECUTE format('CREATE POLICY site_insert ON %I FOR INSERT WITH CHECK '
--pg 		    '(%s)', t, ok);
--pg 		CONTINUE WHEN t = ANY (history);
--pg 		EXECUTE format('CREATE POLICY site_update ON %I FOR UPDATE USING (%s) '
--pg 		    'WITH CHECK (%s)', t, seen, ok);
--pg 	END LOOP;
--pg END $$;
-- A site's writers queue on its row here (SELECT ... FOR UPDATE, held to
-- the end of each transaction), which only the site's roles and the
-- owner may lock: an advisory lock, open to every role, would let one
-- site hang another's writers.  A row per site of sites: site add makes
-- it; this makes those missing (an upgrade).
--pg CREATE TABLE IF NOT EXISTS site_locks (
--pg 	site TEXT PRIMARY KEY,
--pg 	n    BIGINT NOT NULL DEFAULT 0         -- never set: FOR UPDATE needs an UPDATE right
--pg );
--pg INSERT INTO site_locks(site) SELECT name FROM sites ON CONFLICT DO NOTHING;
--pg ALTER TABLE site_locks ENABLE ROW LEVEL SECURITY;
--pg DROP POLICY IF EXISTS site_read ON site_locks;
--pg DROP POLICY IF EXISTS site_lock ON site_locks;
--pg CREATE POLICY site_read ON site_locks FOR SELECT USING (site IN (SELECT gb_own_sites()));
--pg CREATE POLICY site_lock ON site_locks FOR UPDATE USING (site IN (SELECT gb_own_sites()));
-- Head office, whose role has no site, locks none: its writes are
-- refused by the row tables, as they were.
--pg GRANT SELECT, UPDATE (n) ON site_locks TO gb_site_host, gb_head_office;
