-- Cost that stays flat as history grows (issue #18, docs/benchmarks.md "History scale"). Checked with EXPLAIN (ANALYZE,
-- BUFFERS) on tables holding 1M events, 100k commands over 10k executions and 100k published outbox rows.

-- Every server query of noetl.event names its execution, so the single-column event_type index served none of them. It
-- cost one more B-tree insert per appended event, and the planner ANDed it into per-execution lookups by type
-- (playbook.initialized of one execution read 10,001 index entries, one per execution in the table).
DROP INDEX noetl.idx_event_event_type;

-- Children of an execution (cancel cascade, "are descendants still running?") scanned the whole execution table.
CREATE INDEX idx_execution_parent ON noetl.execution (parent_execution_id) WHERE parent_execution_id IS NOT NULL;

-- Retention (cleanup purge) starts from the executions that ended before the cutoff, instead of scanning every
-- execution, command and event to find them.
CREATE INDEX idx_execution_ended ON noetl.execution (end_time) WHERE status IN ('COMPLETED', 'FAILED', 'CANCELLED');

-- Retention of finished commands by completed_at (the purge read all of noetl.command: 1.9 s for 100k rows).
CREATE INDEX idx_command_completed ON noetl.command (completed_at) WHERE completed_at IS NOT NULL;
