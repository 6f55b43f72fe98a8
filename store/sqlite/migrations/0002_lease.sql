-- 0002: the refresh lease on a connection's row (connections.Store TakeLease, ReleaseLease).
-- A refresh takes the lease in one short transaction, asks the provider outside any
-- transaction, and saves its tokens and clears the lease in a second one that checks
-- lease_holder is still its own. A holder that died leaves a lease that others may take once
-- lease_expires has passed. lease_holder '' is no lease.
ALTER TABLE connections ADD COLUMN lease_holder TEXT NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN lease_expires TEXT; -- same layout as the other times
