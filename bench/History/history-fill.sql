-- Generated history for the benchmark (bench --history N): PostgreSQL writes it set-based, nothing crosses the wire.
-- Session-local helpers (pg_temp): the fill runs on one connection and leaves no objects behind.
--
-- Ids are NoETL app-side snowflakes: (ms - 2024-01-01Z) << 22 | node << 12 | sequence. History uses nodes 1023
-- (events) and 1022 (commands), which no silo of a benchmark allocates, and times in the past, so every live id is
-- newer than the history, as in a production database.
CREATE FUNCTION pg_temp.history_id(t0 bigint, k int, i bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS
    $$ SELECT ((t0 + k * 50 - 1704067200000) << 22) | (1023 << 12) | (((i % 40) * 100 + k) & 4095) $$;

CREATE FUNCTION pg_temp.history_command(t0 bigint, c int, i bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS
    $$ SELECT ((t0 + c * 500 - 1704067200000) << 22) | (1022 << 12) | (i % 4096) $$;

-- Event k of an execution happens 50 ms after event k - 1.
CREATE FUNCTION pg_temp.history_time(t0 bigint, k int) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS
    $$ SELECT to_timestamp((t0 + k * 50) / 1000.0) $$;

-- Per execution: the JSON its events and commands repeat (built once here, not once per row).
CREATE TEMP TABLE history_execution (i bigint, t0 bigint, execution_id bigint, status text, filler text, workload jsonb,
                                     render_context jsonb);

-- Executions first_index .. first_index + executions - 1, each `events` events long (10 per command), started
-- spacing_ms apart from base_ms (epoch ms). fixed_status: every execution's status, or NULL for the usual mix.
CREATE FUNCTION pg_temp.history_chunk(first_index bigint, executions int, events int, base_ms bigint, spacing_ms bigint,
                                      fixed_status text, catalog bigint) RETURNS void LANGUAGE plpgsql AS $fill$
BEGIN
    TRUNCATE history_execution;

    INSERT INTO history_execution
    SELECT i, t0, pg_temp.history_id(t0, 0, i), s, f,
           jsonb_build_object('source', 'https://api.example.com/v1/patients', 'page_size', 500, 'tenant', 'clinic-' || (i % 50),
               'filters', jsonb_build_object('updated_since', '2026-11-01', 'note', f)),
           jsonb_build_object('workload', jsonb_build_object('note', f), 'previous', f)
      FROM generate_series(first_index, first_index + executions - 1) AS i,
           LATERAL (SELECT base_ms + i * spacing_ms AS t0) t,
           LATERAL (SELECT repeat(md5(i::text), 8) AS f) fill,
           LATERAL (SELECT COALESCE(fixed_status, CASE WHEN i % 100 < 95 THEN 'COMPLETED' WHEN i % 100 < 99 THEN 'FAILED' ELSE 'CANCELLED' END) AS s) st;

    INSERT INTO noetl.execution (execution_id, catalog_id, status, last_event_type, last_node_name, last_event_id,
                                 start_time, end_time, error, created_at, updated_at)
    SELECT x.execution_id, catalog, x.status, CASE x.status WHEN 'RUNNING' THEN 'command.heartbeat' ELSE 'playbook.' || lower(x.status) END,
           'step_' || ((events - 1) / 10), pg_temp.history_id(x.t0, events - 1, x.i), pg_temp.history_time(x.t0, 0),
           CASE WHEN x.status <> 'RUNNING' THEN pg_temp.history_time(x.t0, events - 1) END,
           CASE WHEN x.status = 'FAILED' THEN 'step_' || ((events - 1) / 10) || ' failed: HTTP 503 from https://api.example.com/v1/patients' END,
           pg_temp.history_time(x.t0, 0), pg_temp.history_time(x.t0, events - 1)
      FROM history_execution x;

    -- Ten events per command: step.enter, command.issued, .claimed, .started, three heartbeats, call.done, command.completed,
    -- step.exit; the first and last event of a finished execution are playbook.initialized and its terminal event.
    INSERT INTO noetl.event (execution_id, catalog_id, event_id, parent_event_id, created_at, event_type, node_id, node_name,
                             node_type, status, context, result, meta, worker_id, command_id, event_time, ingest_time)
    SELECT x.execution_id, catalog, pg_temp.history_id(x.t0, k, x.i), CASE WHEN k > 0 THEN pg_temp.history_id(x.t0, k - 1, x.i) END,
           pg_temp.history_time(x.t0, k) AT TIME ZONE 'UTC', e.event_type, 'step_' || c, 'step_' || c, 'python',
           CASE WHEN e.event_type IN ('call.done', 'command.completed', 'step.exit', 'playbook.completed') THEN 'COMPLETED' ELSE 'RUNNING' END,
           CASE
               WHEN e.event_type = 'playbook.initialized' THEN jsonb_build_object('workload', x.workload, 'started_by',
                   jsonb_build_object('principal', 'bench-operator', 'role', 'operator'))
               WHEN e.event_type = 'command.issued' THEN jsonb_build_object('step', 'step_' || c, 'tool', jsonb_build_object(
                   'kind', 'python', 'code', 'def main(page):\n    return fetch(page)'), 'args', jsonb_build_object('page', c),
                   'render_context', x.render_context)
               WHEN e.event_type = 'command.heartbeat' THEN jsonb_build_object('command_id', pg_temp.history_command(x.t0, c, x.i),
                   'progress', jsonb_build_object('phase', 'fetch', 'rows', k * 17, 'message', 'fetched page ' || c || ' in 85 ms'))
               ELSE jsonb_build_object('step', 'step_' || c, 'attempt', 1)
           END,
           CASE WHEN e.event_type = 'call.done' THEN jsonb_build_object('status', 'COMPLETED', 'context',
               jsonb_build_object('rows', 500, 'pages', c, 'digest', x.filler)) END,
           CASE WHEN e.command THEN jsonb_build_object('command_id', pg_temp.history_command(x.t0, c, x.i), 'attempt', 1) END,
           CASE WHEN e.command AND e.event_type <> 'command.issued' THEN 'worker-' || (x.i % 16) END,
           CASE WHEN e.command THEN pg_temp.history_command(x.t0, c, x.i) END,
           pg_temp.history_time(x.t0, k), pg_temp.history_time(x.t0, k)
      FROM history_execution x,
           generate_series(0, events - 1) AS k,
           LATERAL (SELECT k / 10 AS c) cc,
           LATERAL (SELECT CASE
                       WHEN k = 0 THEN 'playbook.initialized'
                       WHEN k = events - 1 AND x.status <> 'RUNNING' THEN 'playbook.' || lower(x.status)
                       ELSE (ARRAY['step.enter', 'command.issued', 'command.claimed', 'command.started', 'command.heartbeat',
                                   'command.heartbeat', 'command.heartbeat', 'call.done', 'command.completed', 'step.exit'])[k % 10 + 1]
                   END AS event_type, k % 10 BETWEEN 1 AND 8 AS command) e;

    INSERT INTO noetl.command (execution_id, catalog_id, command_id, event_id, step_name, tool_kind, status, worker_id,
                               claimed_at, started_at, completed_at, attempt, context, meta, result, latest_event_id, created_at, updated_at)
    SELECT x.execution_id, catalog, pg_temp.history_command(x.t0, c, x.i), pg_temp.history_id(x.t0, c * 10 + 1, x.i), 'step_' || c, 'python',
           'COMPLETED', 'worker-' || (x.i % 16), pg_temp.history_time(x.t0, c * 10 + 2), pg_temp.history_time(x.t0, c * 10 + 3),
           pg_temp.history_time(x.t0, c * 10 + 8), 1,
           jsonb_build_object('render_context', jsonb_build_object('workload', jsonb_build_object('note', x.filler), 'previous', x.filler),
               'args', jsonb_build_object('page', c)),
           jsonb_build_object('command_id', pg_temp.history_command(x.t0, c, x.i), 'pool', 'shared'),
           jsonb_build_object('status', 'COMPLETED', 'context', jsonb_build_object('rows', 500)),
           pg_temp.history_id(x.t0, c * 10 + 8, x.i), pg_temp.history_time(x.t0, c * 10 + 1), pg_temp.history_time(x.t0, c * 10 + 8)
      FROM history_execution x, generate_series(0, events / 10 - 1) AS c;

    -- Published notifications of those commands, published within the last ten minutes (inside the outbox retention).
    INSERT INTO noetl.outbox (execution_id, event_id, subject, payload, payload_codec, status, attempts, available_at, locked_at,
                              published_at, created_at, updated_at)
    SELECT x.execution_id, pg_temp.history_id(x.t0, c * 10 + 1, x.i), 'noetl.commands.shared',
           jsonb_build_object('execution_id', x.execution_id, 'event_id', pg_temp.history_id(x.t0, c * 10 + 1, x.i),
               'command_id', pg_temp.history_command(x.t0, c, x.i), 'step', 'step_' || c, 'pool', 'shared',
               'server_url', 'http://noetl-gateway:8082'),
           'json', 'PUBLISHED', 1, now() - interval '10 minutes', now() - interval '10 minutes',
           now() - make_interval(secs => (x.i * 10 + c) % 600), now() - interval '10 minutes', now()
      FROM history_execution x, generate_series(0, events / 10 - 1) AS c;
END
$fill$;
