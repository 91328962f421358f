-- NoETL's result store (PUT /api/result/{execution_id}): call.done results too large to inline in an event, kept
-- here and referenced by their ref (noetl://execution/<id>/result/<name>/<id>). Written and read by the execution's
-- grain only; rows past expires_at are deleted by the cleanup purge.
CREATE TABLE IF NOT EXISTS noetl.result_store (
    ref          text PRIMARY KEY,
    execution_id bigint NOT NULL,
    name         text NOT NULL,
    scope        text NOT NULL CHECK (scope IN ('step', 'execution', 'workflow', 'permanent')),
    source_step  text,
    data         jsonb NOT NULL,
    correlation  jsonb,
    extracted    jsonb,
    bytes        integer NOT NULL,
    sha256       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz
);

-- Reads by name take the newest row of that name in the execution.
CREATE INDEX IF NOT EXISTS idx_result_store_name ON noetl.result_store (execution_id, name, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_result_store_expires ON noetl.result_store (expires_at) WHERE expires_at IS NOT NULL;
