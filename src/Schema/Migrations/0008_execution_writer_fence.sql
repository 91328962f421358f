-- One writer per execution, fenced in the database (docs/reliability.md, "Single-writer fence"). Orleans keeps one
-- ExecutionGrain activation per execution only as long as the cluster agrees on membership: a partitioned or
-- declared-dead silo can hold an activation for a while. Each activation takes the next epoch when it activates
-- (before it reads the log); every turn it commits checks that its epoch is still current in the same transaction.
CREATE TABLE noetl.execution_writer (
    execution_id bigint PRIMARY KEY,
    epoch        bigint NOT NULL CHECK (epoch > 0)
);

-- The fence of one group commit, one call per batch: raises SQLSTATE NE409 (rolling the whole batch back) unless each
-- turn's writer still holds its execution. A writer with epoch 0 found no row when it activated (a new execution, or
-- one written before this migration): its first turn creates the row at epoch 1, and only one such writer can.
-- The others take a share lock on their row: an activation's epoch bump waits for this commit, so the new writer
-- reads the log only after it, and a bump that came first makes the lock find no matching row.
CREATE FUNCTION noetl.fence_execution_writers(execution_ids bigint[], epochs bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    stale bigint[];
BEGIN
    WITH turn AS (
        SELECT t.execution_id, t.epoch FROM unnest(execution_ids, epochs) AS t(execution_id, epoch)
    ), created AS (
        INSERT INTO noetl.execution_writer (execution_id, epoch)
        SELECT execution_id, 1 FROM turn WHERE epoch = 0 ORDER BY execution_id
        ON CONFLICT (execution_id) DO NOTHING
        RETURNING execution_id
    ), held AS (
        SELECT w.execution_id FROM noetl.execution_writer w JOIN turn t ON t.execution_id = w.execution_id AND t.epoch = w.epoch
         WHERE t.epoch > 0
         ORDER BY w.execution_id
           FOR SHARE OF w
    )
    SELECT array_agg(t.execution_id ORDER BY t.execution_id) INTO stale
      FROM turn t
     WHERE t.execution_id NOT IN (SELECT execution_id FROM created UNION ALL SELECT execution_id FROM held);
    IF stale IS NOT NULL THEN
        RAISE EXCEPTION 'execution writer superseded: %', array_to_string(stale, ',')
            USING ERRCODE = 'NE409', DETAIL = array_to_string(stale, ',');
    END IF;
END
$$;
