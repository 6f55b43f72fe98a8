-- 0005: the unique index of slots leads with the slot. The slots claimed together are near in
-- time, so their entries share the index's last pages, where (automation_id, slot) wrote a
-- random page of it for each (BenchmarkClaimDue). The constraint is the same.
DROP INDEX runs_by_slot;
CREATE UNIQUE INDEX runs_by_slot ON runs (slot, automation_id) WHERE slot IS NOT NULL;
