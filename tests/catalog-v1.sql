-- tests/catalog-v1.sql: the catalog schema of version 1 (before sites), as
-- gymbackup made it until schema version 2: pgcatalog.bats makes an old
-- catalog with it to see it read and upgraded.
PRAGMA user_version = 1;

-- Media: USB drives (kind dir) and tapes (kind tape), labelled by gb-write.
CREATE TABLE media (
	id           TEXT PRIMARY KEY,
	kind         TEXT NOT NULL CHECK (kind IN ('dir', 'tape')),
	pool         TEXT NOT NULL,
	capacity     INTEGER,                  -- bytes; NULL unknown
	state        TEXT NOT NULL DEFAULT 'usable'
	             CHECK (state IN ('usable', 'full', 'retired')),
	location     TEXT NOT NULL DEFAULT 'onsite'
	             CHECK (location IN ('onsite', 'transit', 'offsite')),
	labelled_at  TEXT NOT NULL,
	last_written TEXT,
	due_back     TEXT,                     -- when an offsite medium returns
	bytes_used   INTEGER NOT NULL DEFAULT 0,
	next_file    INTEGER NOT NULL DEFAULT 1, -- tape: next file number (0 = label)
	device       TEXT                      -- where it was last seen mounted
);

-- Chain of custody: every move with who, when and why.
CREATE TABLE movements (
	id       INTEGER PRIMARY KEY,
	medium   TEXT NOT NULL REFERENCES media(id),
	at       TEXT NOT NULL,
	from_loc TEXT NOT NULL,
	to_loc   TEXT NOT NULL,
	by       TEXT NOT NULL,
	why      TEXT
);

-- Sealed archives, with what their seal says.
CREATE TABLE archives (
	name          TEXT PRIMARY KEY,        -- NAME.tar.gz.gpg
	job           TEXT NOT NULL,
	level         TEXT NOT NULL CHECK (level IN ('full', 'incremental')),
	export_id     TEXT NOT NULL UNIQUE,
	base_id       TEXT,                    -- export it builds on
	chain         TEXT NOT NULL,           -- export id of the full it rests on
	site          TEXT NOT NULL,
	source        TEXT NOT NULL,
	snapshot      TEXT NOT NULL,
	size          INTEGER NOT NULL,
	sha256        TEXT NOT NULL,
	packed_size   INTEGER NOT NULL,
	packed_sha256 TEXT NOT NULL,
	rows          INTEGER NOT NULL,
	seal          TEXT NOT NULL,           -- the clear-signed seal, verbatim
	recorded_at   TEXT NOT NULL,
	expired_at    TEXT
);
CREATE INDEX archives_snapshot ON archives(snapshot);

-- Per table of an archive: for chains, growth reports and finance.
CREATE TABLE archive_tables (
	archive   TEXT NOT NULL REFERENCES archives(name),
	tbl       TEXT NOT NULL,
	rows      INTEGER NOT NULL,
	bytes     INTEGER NOT NULL,
	sha256    TEXT NOT NULL,
	money     TEXT,                        -- "col=sum col=sum"
	PRIMARY KEY (archive, tbl)
);

-- Copies of archives on media.  Only a durable, read-back copy is 'good'.
CREATE TABLE copies (
	id          INTEGER PRIMARY KEY,
	archive     TEXT NOT NULL REFERENCES archives(name),
	medium      TEXT NOT NULL REFERENCES media(id),
	position    TEXT NOT NULL,             -- tape file number, or file name
	status      TEXT NOT NULL CHECK (status IN ('writing', 'good', 'failed', 'expired')),
	started_at  TEXT NOT NULL,
	written_at  TEXT,
	verified_at TEXT,
	error       TEXT
);
CREATE INDEX copies_archive ON copies(archive);
CREATE INDEX copies_medium ON copies(medium);

-- The backup log: one row per job run.
CREATE TABLE runs (
	id       INTEGER PRIMARY KEY,
	job      TEXT NOT NULL,
	started  TEXT NOT NULL,
	ended    TEXT,
	status   TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
	archive  TEXT,
	rows     INTEGER,
	bytes    INTEGER,
	error    TEXT,
	pid      INTEGER,                  -- the gb-backup that runs it, on
	host     TEXT                      -- host: gone while 'running' = killed
);

-- Restore tests (the policy's 恢复测试) and verifications.
CREATE TABLE checks (
	id      INTEGER PRIMARY KEY,
	kind    TEXT NOT NULL CHECK (kind IN ('verify', 'deep-verify', 'restore-test')),
	archive TEXT NOT NULL,
	medium  TEXT,
	at      TEXT NOT NULL,
	ok      INTEGER NOT NULL,
	detail  TEXT,
	manual  INTEGER NOT NULL DEFAULT 0     -- 1: told by gb-catalog, not run
);

-- Append-only audit trail; each entry's hash covers the one before.
CREATE TABLE audit (
	seq    INTEGER PRIMARY KEY,
	at     TEXT NOT NULL,
	actor  TEXT NOT NULL,
	action TEXT NOT NULL,
	object TEXT NOT NULL,
	detail TEXT NOT NULL,
	prev   TEXT NOT NULL,
	hash   TEXT NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;

-- Tables added since the first catalogs: gb-catalog and the tools make
-- them in a catalog that lacks them (an older one still opens).

-- Signed checkpoints of the audit trail (gb-checkpoint(5)), every one
-- issued: its entry count and head hash, and where it went.  What is
-- used of one is read from its text, verified, never from the columns.
CREATE TABLE IF NOT EXISTS checkpoints (
	id      INTEGER PRIMARY KEY,
	issued  TEXT NOT NULL,
	entries INTEGER NOT NULL,
	head    TEXT NOT NULL,
	medium  TEXT,                          -- written on it, or NULL: a file
	place   TEXT NOT NULL,                 -- tape file, file name, or path
	text    TEXT NOT NULL                  -- the clear-signed checkpoint
);
