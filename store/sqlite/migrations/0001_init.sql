-- 0001: connections, auth clients, vault, events, and the id of the master key that seals them.
-- Secrets (creds, secret, value) are AES-256-GCM sealed by store/keys; everything else is plain.
-- Times are UTC text of one width ("2006-01-02T15:04:05.000000000Z"), so they sort as text.

-- meta holds the store's own settings: key_id is the id of the master key every sealed value
-- is under, changed in the transaction that re-encrypts them (see keys.Rotate).
CREATE TABLE meta (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;

CREATE TABLE connections (
	id            TEXT PRIMARY KEY,          -- 16 random bytes, hex
	workspace     TEXT NOT NULL,
	app           TEXT NOT NULL,
	name          TEXT NOT NULL,
	type          TEXT NOT NULL,
	status        TEXT NOT NULL,
	reason        TEXT NOT NULL DEFAULT '',
	label         TEXT NOT NULL DEFAULT '',
	params        TEXT NOT NULL DEFAULT '{}', -- JSON object of strings; not secret
	creds         BLOB NOT NULL,              -- sealed JSON: fields and token (with extra)
	client        TEXT NOT NULL DEFAULT '',
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL,
	last_test     TEXT,                       -- JSON of the last test result
	last_refresh  TEXT,
	refresh_count INTEGER NOT NULL DEFAULT 0,
	last_error    TEXT NOT NULL DEFAULT '',
	token_expiry  TEXT,                       -- the token's expiry, plain for a refresh scheduler
	UNIQUE (workspace, app, name)
) STRICT;

-- Connection(workspace, name) looks a name up across apps.
CREATE INDEX connections_by_name ON connections (workspace, name);
CREATE INDEX connections_by_expiry ON connections (token_expiry) WHERE token_expiry IS NOT NULL;

CREATE TABLE clients (
	workspace    TEXT NOT NULL,
	app          TEXT NOT NULL,
	name         TEXT NOT NULL,
	client_id    TEXT NOT NULL,
	secret       BLOB NOT NULL,               -- sealed
	redirect_url TEXT NOT NULL DEFAULT '',
	scopes       TEXT NOT NULL DEFAULT '[]',  -- JSON array of strings
	created_at   TEXT NOT NULL,
	PRIMARY KEY (workspace, app, name)
) STRICT;

-- app '' holds a workspace's own secrets; an app's secret of the same name overrides it.
CREATE TABLE vault (
	workspace  TEXT NOT NULL,
	app        TEXT NOT NULL,
	name       TEXT NOT NULL,
	value      BLOB NOT NULL,                 -- sealed
	updated_at TEXT NOT NULL,
	PRIMARY KEY (workspace, app, name)
) STRICT;

-- Events outlive their connection (a "deleted" event names one that is gone): no foreign key.
CREATE TABLE events (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	connection_id TEXT NOT NULL,
	kind          TEXT NOT NULL,
	workspace     TEXT NOT NULL,
	app           TEXT NOT NULL,
	name          TEXT NOT NULL,
	reason        TEXT NOT NULL DEFAULT '',
	at            TEXT NOT NULL
) STRICT;

CREATE INDEX events_by_connection ON events (connection_id, id);
