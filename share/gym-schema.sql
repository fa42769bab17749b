-- gym-schema.sql: the reference gym schema (SQLite dialect).
--
-- The front-desk database of a gym or a chain of gyms: stores, members,
-- what members buy (consumptions), their top-ups (recharges), promotions
-- and who took part in them, and check-ins.  gymbackup works with any
-- schema described in gymbackup.conf(5); this one is the reference that
-- share/gymbackup.conf describes, that gb-demodata(1) fills, and that the
-- tests and the benchmark use.
--
-- Conventions:
-- * Money is INTEGER cents, never REAL: sums must match finance's ledger to
--   the cent, and binary floating point cannot hold 0.10 exactly.
-- * Times are TEXT 'YYYY-MM-DD HH:MM:SS' in local time; such text sorts in
--   time order, so updated_at works as an incremental watermark.
-- * Members are never hard-deleted: a member leaves by status 'cancelled',
--   so every consumption keeps the member it belongs to.
-- * Transaction tables (consumptions, recharges, promotion_participations,
--   checkins) are append-only.  A mistake is corrected by a new row with a
--   negative amount and corrects_id naming the row it corrects; rows are
--   never updated in place, so yesterday's full backup stays true.
-- * Master tables (stores, members, promotions) change in place and carry
--   updated_at, set by the application on every change.
-- * Foreign keys are declared; SQLite checks them only on connections that
--   run PRAGMA foreign_keys = ON, which the application should do.

-- Master: one row per store of the chain.
CREATE TABLE stores (
	id INTEGER PRIMARY KEY,
	code TEXT NOT NULL UNIQUE,
	name TEXT NOT NULL,
	city TEXT,
	address TEXT,
	opened_on TEXT,
	updated_at TEXT NOT NULL
);
CREATE INDEX stores_updated_at ON stores(updated_at);

-- Master: level in standard, silver, gold, platinum; status in active,
-- frozen, cancelled (never deleted).  balance is the stored-value card
-- balance in cents.
CREATE TABLE members (
	id INTEGER PRIMARY KEY,
	card_no TEXT NOT NULL UNIQUE,
	name TEXT NOT NULL,
	phone TEXT,
	level TEXT NOT NULL,
	balance INTEGER NOT NULL DEFAULT 0,
	status TEXT NOT NULL DEFAULT 'active',
	home_store_id INTEGER REFERENCES stores(id),
	note TEXT,
	photo BLOB,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE INDEX members_updated_at ON members(updated_at);
CREATE INDEX members_phone ON members(phone);

-- Transaction, append-only: what a member bought, in cents.  A correction
-- is a new row with a negative amount and corrects_id.
CREATE TABLE consumptions (
	id INTEGER PRIMARY KEY,
	member_id INTEGER NOT NULL REFERENCES members(id),
	store_id INTEGER NOT NULL REFERENCES stores(id),
	item TEXT NOT NULL,
	quantity INTEGER NOT NULL,
	amount INTEGER NOT NULL,
	payment_method TEXT NOT NULL,
	operator TEXT,
	note TEXT,
	consumed_at TEXT NOT NULL,
	corrects_id INTEGER REFERENCES consumptions(id)
);
CREATE INDEX consumptions_consumed_at ON consumptions(consumed_at);
CREATE INDEX consumptions_member ON consumptions(member_id, consumed_at);

-- Transaction, append-only: money put on a member's card, in cents, plus
-- the bonus the gym added.  Corrections as in consumptions.
CREATE TABLE recharges (
	id INTEGER PRIMARY KEY,
	member_id INTEGER NOT NULL REFERENCES members(id),
	store_id INTEGER NOT NULL REFERENCES stores(id),
	amount INTEGER NOT NULL,
	bonus INTEGER NOT NULL DEFAULT 0,
	method TEXT NOT NULL,
	operator TEXT,
	recharged_at TEXT NOT NULL,
	corrects_id INTEGER REFERENCES recharges(id)
);
CREATE INDEX recharges_recharged_at ON recharges(recharged_at);
CREATE INDEX recharges_member ON recharges(member_id, recharged_at);

-- Master: kind is discount (discount_pct, a percentage) or bonus
-- (bonus_amount, cents added to a recharge).
CREATE TABLE promotions (
	id INTEGER PRIMARY KEY,
	code TEXT NOT NULL UNIQUE,
	title TEXT NOT NULL,
	kind TEXT NOT NULL,
	discount_pct REAL,
	bonus_amount INTEGER,
	starts_on TEXT,
	ends_on TEXT,
	updated_at TEXT NOT NULL
);
CREATE INDEX promotions_updated_at ON promotions(updated_at);

-- Transaction, append-only: a member took part in a promotion;
-- benefit_amount is what it gave them, in cents.
CREATE TABLE promotion_participations (
	id INTEGER PRIMARY KEY,
	promotion_id INTEGER NOT NULL REFERENCES promotions(id),
	member_id INTEGER NOT NULL REFERENCES members(id),
	store_id INTEGER NOT NULL REFERENCES stores(id),
	joined_at TEXT NOT NULL,
	benefit_amount INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX promotion_participations_joined_at
	ON promotion_participations(joined_at);
CREATE INDEX promotion_participations_promotion
	ON promotion_participations(promotion_id);

-- Transaction, append-only: a visit; checked_out_at is NULL while the
-- member is still in (or forgot to check out).
CREATE TABLE checkins (
	id INTEGER PRIMARY KEY,
	member_id INTEGER NOT NULL REFERENCES members(id),
	store_id INTEGER NOT NULL REFERENCES stores(id),
	checked_in_at TEXT NOT NULL,
	checked_out_at TEXT
);
CREATE INDEX checkins_checked_in_at ON checkins(checked_in_at);
