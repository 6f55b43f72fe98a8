// Package sqlite is the SQLite store: it implements connections.Store and automations.Store in
// one database file,
// with every secret (connection credentials, auth client secrets, vault values) sealed with
// AES-256-GCM under the master key of store/keys. It is the only package that imports the
// SQLite driver, github.com/mattn/go-sqlite3 (cgo).
//
// # Schema
//
// The schema is a list of numbered migrations embedded from migrations/NNNN_what.sql. Open
// applies the missing ones in one transaction and records each in schema_migrations; a
// database whose version is newer than this build knows is refused, never misread.
//
// Each sealed value carries the id of the key that sealed it and is bound (by GCM's
// additional data) to its row, "connection:<id>:creds" for instance, so a value copied into
// another row does not open. The meta table records the id of the key every value is under;
// it changes only in the transaction of RotateKey. A process whose key differs (a wrong key,
// or one rotated away by another process) can read nothing sealed and is refused every write
// that seals, so no two keys are ever mixed in one database.
//
// # DSN
//
// Open makes two database/sql handles on the file, with these go-sqlite3 options:
//
//   - _journal_mode=WAL: readers never block the writer nor the writer the readers.
//   - _synchronous=FULL: go-sqlite3 defaults to NORMAL, which in WAL mode may lose the last
//     commits on power loss. A refresh token the provider has just rotated must survive: the
//     old one no longer works.
//   - _foreign_keys=on: SQLite leaves foreign keys off unless asked, per connection.
//   - _secure_delete=on: deleted and overwritten content is zeroed, so a rotated-away
//     ciphertext does not linger in free pages.
//   - _busy_timeout (WithBusyTimeout, DefaultBusyTimeout): how long a writer waits for
//     another's write lock before "database is locked". Every write transaction is short —
//     none spans a network call (a refresh holds a lease on the row instead, below) — so the
//     wait is for a few milliseconds of another writer's work.
//   - _txlock=immediate on the write handle: every transaction starts with BEGIN IMMEDIATE,
//     taking the write lock at once. A deferred transaction would start as a reader and,
//     under WAL, fail with SQLITE_BUSY (no waiting) when it tries to write after another
//     process committed. The read handle uses deferred transactions and _query_only=on.
//
// The write handle keeps a few connections: SQLite serializes writers anyway, and a write
// issued from inside a Locked fn then fails after the busy timeout instead of waiting
// forever for a pooled connection.
//
// # Locking and the refresh lease
//
// SQLite has no row locks: its write lock covers the whole file. Locked takes a dedicated
// connection, runs BEGIN IMMEDIATE (waiting up to the busy timeout for the lock), reads and
// decrypts the row, calls fn, saves what fn returns and commits, all in that transaction. So
// Locked excludes every other write, on any connection, in this process and in every other
// process that opens the file, and no write can slip between its read and its save. Reads do
// not wait: under WAL they see the last commit. fn must be quick and wait for nothing.
//
// A refresh asks the provider, which may take as long as its timeout, so it holds no
// transaction meanwhile: it holds the connection's lease, two columns of its row
// (lease_holder, lease_expires). TakeLease sets them in one short transaction when the lease
// is free or expired, and refuses with the holder and expiry otherwise, without waiting;
// ReleaseLease checks lease_holder is still the caller, saves the refresh's record and clears
// them, in a second short transaction. A process that dies holding a lease leaves it to
// expire. The expiry is on the store's clock (WithClock), which every process on one machine
// shares. Other writes ignore the lease: they are never held up by a refresh.
//
// Once fn has returned, its record is saved under a context without the caller's
// cancellation: a token the provider has just issued is not thrown away because the caller
// gave up.
//
// # Automations, runs and claims
//
// automations.Store is written for row locks: ClaimDue and ClaimRuns claim "skipping any
// another transaction holds", as PostgreSQL's SELECT ... FOR UPDATE SKIP LOCKED does. SQLite
// has no row locks; every write transaction here begins IMMEDIATE and so holds the one write
// lock of the file from its first statement to its commit. A claim therefore reads the due
// automations (or the claimable runs) and marks them claimed with no other writer in between,
// in this process or any other: a second ClaimDue or ClaimRuns waits (up to the busy timeout,
// a few milliseconds of the first one's work) and then sees the first one's slots moved on and
// its runs running, and claims the next ones. Nothing is skipped, nothing is claimed twice;
// the cost is that claims take turns instead of running side by side. The unique index on
// (slot, automation_id) holds a slot to one run whatever the locking, and every claim is one
// short transaction with no network call inside it, as the interface requires.
//
// PostgreSQL will keep the same contract with its row locks: ClaimDue selects the due
// automations ORDER BY next_slot LIMIT n FOR UPDATE SKIP LOCKED, inserts the runs with ON
// CONFLICT (slot, automation_id) DO NOTHING and updates next_slot, in one transaction; ClaimRuns
// is an UPDATE ... WHERE id IN (SELECT ... ORDER BY queued_at, id LIMIT n FOR UPDATE SKIP
// LOCKED) RETURNING (here a SELECT, then an UPDATE of each run: SQLite's RETURNING with a
// subquery costs more than both). Its serial rule reads other rows of the automation, which a
// concurrent claim may change: PostgreSQL serializes it with a transaction-scoped advisory lock
// on the automation (pg_advisory_xact_lock) or a FOR UPDATE of the automation's row, where
// SQLite's write lock already does.
//
// Batches: EnqueueRuns, FinishRuns, FinishPoll, InterruptExpired, ClaimDue and ClaimRuns write
// every row of a batch in one transaction, with statements prepared once per connection of the
// write pool and kept (stmts.go), so a batch of 64 runs costs one commit, not 64, and no
// statement is parsed again per call. Every write pays one commit, and with _synchronous=FULL
// one fsync of the WAL: that, more than the rows, is what a single write costs on a disk
// (BenchmarkCommit), and why the runtime records webhooks' runs and runs' ends in groups.
// Runs and automations get time-ordered IDs (the clock's nanoseconds, then random bytes), so
// new rows append to the primary key's index instead of writing a random page of it. Reads
// (Run, Runs, NextDue, ...) use the read handle and never wait for a writer. PruneRuns finds
// the runs to delete with a read, going on where its last call stopped, and deletes them by
// id in a short write, so retention never holds the write lock for a scan.
package sqlite
