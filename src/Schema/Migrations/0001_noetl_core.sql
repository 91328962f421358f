-- 0001: the NoETL control-plane schema (spec noetl-api.md §3).
-- Runs as the server role inside one transaction; the server role becomes owner of everything here.
-- Column names and types follow the spec exactly. Two deliberate differences in defaults:
--   * TIMESTAMP (no time zone) columns default to the UTC wall clock instead of CURRENT_TIMESTAMP,
--     because the spec says "write UTC" and CURRENT_TIMESTAMP would store the session time zone's
--     local time on a non-UTC server.
--   * event and command are NOT partitioned (reasons at the tables).

CREATE SCHEMA noetl;
-- Only the server role (owner) may use this schema; the discovery role must see nothing here.
REVOKE ALL ON SCHEMA noetl FROM PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- IDs (§3.10)
-- ---------------------------------------------------------------------------------------------

CREATE SEQUENCE noetl.snowflake_seq;

-- DB-side layout, kept for parity with the reference server's column defaults:
-- (now_ms - 2024-01-01Z) << 23 | (node 1 & 31) << 18 | (nextval % 1024).
CREATE FUNCTION noetl.snowflake_id() RETURNS bigint
LANGUAGE sql VOLATILE
AS $fn$
    SELECT ((floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint - 1704067200000) << 23)
         | ((1 & 31)::bigint << 18)
         | ((nextval('noetl.snowflake_seq') % 1024) & 262143)
$fn$;

-- Silos allocate distinct app-side snowflake node ids with nextval(...) % 1024 at start-up.
CREATE SEQUENCE noetl.snowflake_node_seq MINVALUE 0 START WITH 0;

-- ---------------------------------------------------------------------------------------------
-- resource, catalog (§3.1)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE noetl.resource (
    name varchar PRIMARY KEY,
    meta jsonb
);

INSERT INTO noetl.resource (name, meta) VALUES
    ('playbook',   '{"executable": true}'),
    ('credential', '{"executable": false}'),
    ('mcp',        '{"executable": false}'),
    ('agent',      '{"executable": true}'),
    ('memory',     '{"executable": false}')
ON CONFLICT (name) DO NOTHING;

CREATE TABLE noetl.catalog (
    catalog_id    bigint NOT NULL DEFAULT noetl.snowflake_id() PRIMARY KEY,
    path          text NOT NULL,
    version       smallserial NOT NULL,
    kind          varchar NOT NULL REFERENCES noetl.resource (name),
    content       text,
    layout        jsonb,
    payload       jsonb,
    meta          jsonb,
    created_at    timestamp NOT NULL DEFAULT timezone('UTC', now()),
    credential_id integer,
    CONSTRAINT uq_catalog_path_version UNIQUE (path, version)
);

-- ---------------------------------------------------------------------------------------------
-- event (§3.2) — the append-only log
-- ---------------------------------------------------------------------------------------------
-- Not partitioned. The reference range-partitions by execution_id, but its bounds depend on the
-- snowflake layout (<<22 app-side vs <<23 DB-side, both still in use), so it ended with
-- overlapping range sets plus a DEFAULT partition that catches most rows anyway. A partitioned
-- parent also costs tuple routing on every insert, which is the hot path. If retention later
-- needs partitions, a migration can create a partitioned parent and ATTACH this table as one
-- partition (a validation scan, no data copy). The primary key keeps execution_id first, so
-- that conversion stays possible.
CREATE TABLE noetl.event (
    execution_id        bigint NOT NULL,
    catalog_id          bigint NOT NULL REFERENCES noetl.catalog (catalog_id),
    event_id            bigint NOT NULL,
    parent_event_id     bigint,
    parent_execution_id bigint,
    created_at          timestamp NOT NULL DEFAULT timezone('UTC', now()),
    event_type          varchar,
    node_id             varchar,
    node_name           varchar,
    node_type           varchar,
    status              varchar,
    duration            double precision,
    context             jsonb,
    result              jsonb,
    meta                jsonb,
    error               text,
    current_index       integer,
    current_item        text,
    worker_id           varchar,
    distributed_state   varchar,
    context_key         varchar,
    context_value       text,
    trace_component     jsonb,
    stack_trace         text,
    tenant_id           text NOT NULL DEFAULT 'default',
    organization_id     text NOT NULL DEFAULT 'default',
    stream_id           text,
    stream_version      bigint,
    aggregate_id        text,
    aggregate_type      text,
    schema_name         text,
    schema_version      integer NOT NULL DEFAULT 1,
    event_time          timestamptz NOT NULL DEFAULT now(),
    ingest_time         timestamptz NOT NULL DEFAULT now(),
    producer            text,
    causation_id        text,
    correlation_id      text,
    idempotency_key     text,
    payload_ref         jsonb,
    envelope_checksum   text,
    command_id          bigint,
    stage_id            bigint,
    frame_id            bigint,
    CONSTRAINT pk_event PRIMARY KEY (execution_id, event_id),
    -- result is NULL, or an object with exactly: status (required JSON string),
    -- reference (optional object), context (optional object). A JSON null counts as "not an object".
    -- CASE fixes the evaluation order: jsonb "-" raises on a scalar, so it must only see objects.
    CONSTRAINT chk_event_result_shape CHECK (
        CASE
            WHEN result IS NULL THEN true
            WHEN jsonb_typeof(result) <> 'object' THEN false
            ELSE jsonb_typeof(result -> 'status') IS NOT DISTINCT FROM 'string'
                AND coalesce(jsonb_typeof(result -> 'reference'), 'object') = 'object'
                AND coalesce(jsonb_typeof(result -> 'context'), 'object') = 'object'
                AND (result - 'status' - 'reference' - 'context') = '{}'::jsonb
        END
    )
);

-- "Latest events of an execution" (ORDER BY event_id DESC) is served by a backward scan of the
-- primary key (execution_id, event_id); a separate (execution_id, event_id DESC) index would only
-- double the write cost of the hottest table.
-- Command lifecycle lookups: the events of one command within an execution.
CREATE INDEX idx_event_exec_type_command ON noetl.event (execution_id, event_type, command_id, event_id DESC)
    WHERE command_id IS NOT NULL;
-- Sub-playbook lookups (children of an execution).
CREATE INDEX idx_event_parent_execution_id ON noetl.event (parent_execution_id)
    WHERE parent_execution_id IS NOT NULL;
CREATE INDEX idx_event_event_type ON noetl.event (event_type);

-- ---------------------------------------------------------------------------------------------
-- command (§3.3) — mutable worker-command projection
-- ---------------------------------------------------------------------------------------------
-- Not hash-partitioned: with 16 hash partitions every lookup that lacks execution_id (the
-- reference's claim route by event_id) probes 16 indexes; one table with an event_id index
-- probes one. Rows are short-lived and updated in place, so one heap is fine at our scale.
CREATE TABLE noetl.command (
    command_id          bigint NOT NULL,
    event_id            bigint NOT NULL,
    execution_id        bigint NOT NULL,
    catalog_id          bigint NOT NULL,
    parent_execution_id bigint,
    parent_command_id   bigint,
    step_name           text NOT NULL,
    tool_kind           text,
    status              text NOT NULL DEFAULT 'PENDING',
    worker_id           text,
    claimed_at          timestamptz,
    started_at          timestamptz,
    completed_at        timestamptz,
    attempt             int NOT NULL DEFAULT 1,
    context             jsonb,
    context_key         text,
    loop_event_id       text,
    iter_index          int,
    meta                jsonb,
    result              jsonb,
    error               text,
    latest_event_id     bigint,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    stage_id            bigint,
    frame_id            bigint,
    CONSTRAINT pk_command PRIMARY KEY (execution_id, command_id)
);

-- The worker claim/get routes address a command by its command.issued event id only (§3.3
-- "Lookup path"); the reference has no index for that and scans every partition.
CREATE INDEX idx_command_event_id ON noetl.command (event_id);
-- Open commands of an execution (cancellation, completion checks, reaper).
CREATE INDEX idx_command_exec_open ON noetl.command (execution_id, status)
    WHERE status IN ('PENDING', 'CLAIMED', 'RUNNING');
-- Stale-claim reaper.
CREATE INDEX idx_command_claimed_worker ON noetl.command (worker_id, updated_at)
    WHERE status = 'CLAIMED';

-- ---------------------------------------------------------------------------------------------
-- execution (§3.4) — execution-state projection
-- ---------------------------------------------------------------------------------------------
CREATE TABLE noetl.execution (
    execution_id        bigint PRIMARY KEY,
    catalog_id          bigint NOT NULL REFERENCES noetl.catalog (catalog_id),
    parent_execution_id bigint,
    status              varchar NOT NULL,
    last_event_type     varchar,
    last_node_name      varchar,
    last_event_id       bigint,
    start_time          timestamptz,
    end_time            timestamptz,
    error               text,
    created_at          timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at          timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    state               jsonb
);

CREATE INDEX idx_execution_status ON noetl.execution (status);
CREATE INDEX idx_execution_catalog_id ON noetl.execution (catalog_id);
-- The execution list page orders by start time (falling back to creation) then id.
CREATE INDEX idx_execution_list_page ON noetl.execution ((coalesce(start_time, created_at)) DESC NULLS LAST, execution_id DESC);

-- ---------------------------------------------------------------------------------------------
-- outbox (§3.5) — transactional outbox; DEAD is ours, for rows that exhausted their retries
-- ---------------------------------------------------------------------------------------------
CREATE TABLE noetl.outbox (
    outbox_id     bigserial PRIMARY KEY,
    execution_id  bigint,
    event_id      bigint NOT NULL,
    subject       text,
    payload       jsonb NOT NULL,
    payload_bytes bytea,
    payload_codec text NOT NULL DEFAULT 'arrow-feather',
    status        text NOT NULL DEFAULT 'PENDING',
    attempts      integer NOT NULL DEFAULT 0,
    available_at  timestamptz NOT NULL DEFAULT now(),
    locked_at     timestamptz,
    published_at  timestamptz,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- The unique constraint's index also serves (execution_id, event_id) lookups, so the spec's
    -- extra non-unique idx_outbox_execution_event would be redundant.
    CONSTRAINT uq_outbox_execution_event UNIQUE (execution_id, event_id),
    CONSTRAINT chk_outbox_status CHECK (status IN ('PENDING', 'IN_FLIGHT', 'PUBLISHED', 'FAILED', 'DEAD'))
);

-- The publisher's "next ready rows" scan.
CREATE INDEX idx_outbox_ready ON noetl.outbox (status, available_at, outbox_id)
    WHERE status IN ('PENDING', 'FAILED');

-- ---------------------------------------------------------------------------------------------
-- credential (§3.6), keychain (§3.7)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE noetl.credential (
    id             bigint NOT NULL DEFAULT noetl.snowflake_id() PRIMARY KEY,
    name           text NOT NULL UNIQUE,
    type           text NOT NULL,
    data_encrypted text NOT NULL,
    schema         jsonb,
    meta           jsonb,
    tags           text[],
    description    text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_credential_type ON noetl.credential (type);

CREATE TABLE noetl.keychain (
    cache_key           text PRIMARY KEY,
    keychain_name       text NOT NULL,
    catalog_id          bigint NOT NULL REFERENCES noetl.catalog (catalog_id),
    credential_type     text NOT NULL,
    cache_type          text NOT NULL CHECK (cache_type IN ('secret', 'token')),
    scope_type          text NOT NULL CHECK (scope_type IN ('local', 'global', 'shared')),
    execution_id        bigint,
    parent_execution_id bigint,
    data_encrypted      text NOT NULL,
    schema              jsonb,
    expires_at          timestamptz NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    accessed_at         timestamptz NOT NULL DEFAULT now(),
    access_count        integer DEFAULT 0,
    auto_renew          boolean DEFAULT false,
    renew_config        jsonb
);

CREATE INDEX idx_keychain_execution_id ON noetl.keychain (execution_id) WHERE execution_id IS NOT NULL;
CREATE INDEX idx_keychain_parent_execution_id ON noetl.keychain (parent_execution_id) WHERE parent_execution_id IS NOT NULL;
CREATE INDEX idx_keychain_expires_at ON noetl.keychain (expires_at);
CREATE INDEX idx_keychain_name_catalog ON noetl.keychain (keychain_name, catalog_id);
CREATE INDEX idx_keychain_catalog_id ON noetl.keychain (catalog_id);

-- ---------------------------------------------------------------------------------------------
-- runtime (§3.8) — worker/server registry and singleton leases
-- ---------------------------------------------------------------------------------------------
CREATE TABLE noetl.runtime (
    runtime_id   bigint PRIMARY KEY,
    name         text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('worker_pool', 'server_api', 'broker')),
    uri          text,
    status       text NOT NULL,
    labels       jsonb,
    capabilities jsonb,
    capacity     integer,
    runtime      jsonb,
    heartbeat    timestamptz NOT NULL DEFAULT now(),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- The registry's upsert key.
CREATE UNIQUE INDEX idx_runtime_kind_name ON noetl.runtime (kind, name);
CREATE INDEX idx_runtime_status ON noetl.runtime (status);
