-- POST /api/execute under an Idempotency-Key: the key is written by the execution's start turn, in the same
-- transaction as its events, commands and outbox rows. The primary key arbitrates concurrent duplicates: the loser's
-- commit fails and it answers with the winner's execution_id (and the winner's reply).
CREATE TABLE noetl.execution_request (
    idempotency_key    text PRIMARY KEY,
    execution_id       bigint NOT NULL,
    commands_generated integer NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);

-- Retention (cleanup purge) deletes keys of executions that ended long ago.
CREATE INDEX idx_execution_request_execution_id ON noetl.execution_request (execution_id);

