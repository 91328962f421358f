-- The claim's per-execution order check asks "does an earlier row of this execution hold the next one back?". Only
-- IN_FLIGHT rows (held by a publisher) and FAILED rows (waiting for a retry) can: PENDING rows are due as soon as they
-- are written. This index holds just those rows, which are few, and the claim probes it per candidate row with both
-- key columns bound. The previous index of all unfinished rows (0004) made each probe walk the execution's whole
-- backlog, and with statistics taken before a burst of inserts the planner scanned it unbound for every candidate
-- (a 100-row claim over 20,000 pending rows took 77 s; with this index and probe 26 ms).
CREATE INDEX idx_outbox_held ON noetl.outbox (execution_id, outbox_id) WHERE status IN ('IN_FLIGHT', 'FAILED');

DROP INDEX noetl.idx_outbox_unfinished_by_execution;

-- A queue table: rows arrive in bursts and change status quickly, so let autovacuum analyze and vacuum it long before
-- the default 10% / 20% of the table has changed.
ALTER TABLE noetl.outbox SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_scale_factor = 0.05);
