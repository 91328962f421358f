-- The outbox claim has two arms, each served by its own partial index, so a claim reads claimable rows only,
-- however many PUBLISHED rows the table holds (one statement with an OR of both arms walked the primary key
-- through the published history).
-- Arm 1: PENDING/FAILED rows in outbox_id order; ORDER BY outbox_id LIMIT n stops after n due rows.
-- (idx_outbox_ready keeps serving pending-count, which counts by status and available_at.)
CREATE INDEX idx_outbox_claimable ON noetl.outbox (outbox_id) WHERE status IN ('PENDING', 'FAILED');

-- Arm 2: IN_FLIGHT rows whose visibility timeout expired, a range on locked_at (normally empty). The same index
-- answers "IN_FLIGHT rows still within the timeout", which hold later rows of their execution back.
CREATE INDEX idx_outbox_in_flight ON noetl.outbox (locked_at) WHERE status = 'IN_FLIGHT';

-- Retention: the outbox grain deletes PUBLISHED rows older than NOETL_OUTBOX_RETENTION_SECONDS in batches, and
-- POST /api/internal/cleanup/purge deletes by published_at too; both read this index instead of the table.
CREATE INDEX idx_outbox_published ON noetl.outbox (published_at) WHERE status = 'PUBLISHED';
