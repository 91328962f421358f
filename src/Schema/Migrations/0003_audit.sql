-- Who did what, when, and how it ended: every secret read, credential write, internal-API call, cancel and
-- catalog registration (and refused attempts). Written by the grains, in the same transaction as the change
-- where there is one. Append-only; retention through /api/internal/cleanup/purge.
CREATE TABLE IF NOT EXISTS noetl.audit (
    audit_id     bigserial PRIMARY KEY,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    principal    text NOT NULL,
    role         text,
    action       text NOT NULL,
    route        text,
    resource     text,
    execution_id bigint,
    outcome      text NOT NULL,
    detail       jsonb
);

CREATE INDEX IF NOT EXISTS idx_audit_occurred ON noetl.audit (occurred_at DESC);
CREATE INDEX IF NOT EXISTS idx_audit_principal ON noetl.audit (principal, occurred_at DESC);
CREATE INDEX IF NOT EXISTS idx_audit_action ON noetl.audit (action, occurred_at DESC);
CREATE INDEX IF NOT EXISTS idx_audit_execution ON noetl.audit (execution_id) WHERE execution_id IS NOT NULL;
