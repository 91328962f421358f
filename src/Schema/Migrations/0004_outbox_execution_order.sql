-- Per-execution publish order: a claim skips a row while an earlier row of the same execution is still
-- unfinished and not claimable. This index answers "earlier unfinished rows of execution X" without scanning
-- the execution's published history.
CREATE INDEX idx_outbox_unfinished_by_execution ON noetl.outbox (execution_id, outbox_id)
    WHERE status IN ('PENDING', 'FAILED', 'IN_FLIGHT');

-- Dead-letter listing (GET /api/internal/outbox/dead) pages DEAD rows by outbox_id.
CREATE INDEX idx_outbox_dead ON noetl.outbox (outbox_id) WHERE status = 'DEAD';
