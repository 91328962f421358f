-- The outbox claim no longer holds a row back behind an earlier held or failed row of its execution (docs/architecture.md,
-- "Outbox order"): the index that answered that question (0006) has no reader left. The claim's own indexes
-- (idx_outbox_claimable, idx_outbox_in_flight) and the dead-letter index (0004) stay.
DROP INDEX IF EXISTS noetl.idx_outbox_held;
