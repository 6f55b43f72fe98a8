-- 0003: automations, their runs and their poll triggers' dedupe keys (automations.Store).
-- Times are UTC text of one width, as in 0001, so they sort and compare as text.

CREATE TABLE automations (
	id          TEXT PRIMARY KEY,             -- 16 random bytes, hex
	workspace   TEXT NOT NULL,
	name        TEXT NOT NULL,
	file        TEXT NOT NULL DEFAULT '',
	source      BLOB NOT NULL,                -- the YAML document as applied
	version     INTEGER NOT NULL,
	trigger     TEXT NOT NULL,
	overlap     TEXT NOT NULL DEFAULT '',
	enabled     INTEGER NOT NULL DEFAULT 0,
	reason      TEXT NOT NULL DEFAULT '',
	next_slot   TEXT,                         -- NULL: none (off, or no slot left)
	hook_hash   TEXT,                         -- hex SHA-256 of the webhook secret; NULL: none
	connections TEXT NOT NULL DEFAULT '[]',   -- JSON array of connection names
	primed      INTEGER NOT NULL DEFAULT 0,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL,
	UNIQUE (workspace, name)
) STRICT;

-- The scheduler's queue: NextDue reads its first entry, ClaimDue walks it from the start.
CREATE INDEX automations_due ON automations (next_slot) WHERE enabled = 1 AND next_slot IS NOT NULL;
CREATE UNIQUE INDEX automations_by_hook ON automations (hook_hash) WHERE hook_hash IS NOT NULL;

CREATE TABLE runs (
	id            TEXT PRIMARY KEY,           -- 16 random bytes, hex
	automation_id TEXT NOT NULL REFERENCES automations (id) ON DELETE CASCADE,
	workspace     TEXT NOT NULL,
	automation    TEXT NOT NULL,              -- the automation's name when the run was recorded
	trigger       TEXT NOT NULL,
	kind          TEXT NOT NULL,
	slot          TEXT,                       -- NULL: the run is for no slot
	item          BLOB,                       -- JSON
	serial        INTEGER NOT NULL DEFAULT 0,
	status        TEXT NOT NULL,
	attempt       INTEGER NOT NULL DEFAULT 1,
	retry_of      TEXT NOT NULL DEFAULT '',
	not_before    TEXT,
	node          TEXT NOT NULL DEFAULT '',
	lease_expires TEXT,
	queued_at     TEXT NOT NULL,
	started_at    TEXT,
	ended_at      TEXT,
	error         TEXT NOT NULL DEFAULT '',
	failed_step   TEXT NOT NULL DEFAULT '',
	steps         BLOB,                       -- JSON array of the steps, redacted
	output        BLOB                        -- JSON, redacted
) STRICT;

-- A slot runs at most once, whatever happens.
CREATE UNIQUE INDEX runs_by_slot ON runs (automation_id, slot) WHERE slot IS NOT NULL;
-- An automation's history (Runs, LastRun, PruneRuns), newest first.
CREATE INDEX runs_by_automation ON runs (automation_id, queued_at DESC, id DESC);
-- A workspace's history (Runs without an automation), newest first.
CREATE INDEX runs_by_workspace ON runs (workspace, queued_at DESC, id DESC);
-- The runs not ended: queued ones oldest first (ClaimRuns, QueueDepth), running ones
-- (InterruptExpired). Small: a run leaves it when it ends.
CREATE INDEX runs_open ON runs (status, queued_at, id) WHERE status IN ('queued', 'running');
-- An automation's runs not ended: ClaimDue's overlap check, ClaimRuns' serial rule.
CREATE INDEX runs_active ON runs (automation_id, serial) WHERE status IN ('queued', 'running');

-- A poll trigger's dedupe keys. seen_at is when a poll last returned the key; rowid breaks ties
-- in the order the poll returned them, so the newest keys are those with the greatest
-- (seen_at, rowid).
CREATE TABLE seen_keys (
	automation_id TEXT NOT NULL REFERENCES automations (id) ON DELETE CASCADE,
	key           TEXT NOT NULL,
	seen_at       TEXT NOT NULL,
	UNIQUE (automation_id, key)
) STRICT;

CREATE INDEX seen_keys_by_age ON seen_keys (automation_id, seen_at);
