-- 0002: tables and query catalog for the Orleans 10.4.2 ADO.NET providers (clustering, grain
-- storage, reminders), written from orleans-adonet-contract.md. Runs as the server role.
--
-- How the providers find this: each runs the fixed, unquoted `SELECT QueryKey, QueryText FROM
-- OrleansQuery`, so `orleansquery` must be lowercase and reachable through the connection's
-- search_path (connection strings carry `Search Path=orleans`). Everything else is addressed by
-- the query texts below with explicit `orleans.` qualification, so only the catalog lookup
-- depends on search_path. Parameters are `@Name` exactly as the providers bind them (Npgsql
-- rewrites them); result columns are quoted aliases in the providers' exact case.
-- All time columns are timestamptz (contract G10).

CREATE SCHEMA orleans;
REVOKE ALL ON SCHEMA orleans FROM PUBLIC;

CREATE TABLE orleans.orleansquery (
    querykey  text PRIMARY KEY,
    querytext text NOT NULL
);

-- ---------------------------------------------------------------------------------------------
-- Clustering (contract §1.2)
-- ---------------------------------------------------------------------------------------------

-- One row per ClusterId ("DeploymentId"). version is the table etag: starts at 0, +1 per
-- successful member insert/update, never negative (the provider rejects other etags).
CREATE TABLE orleans.membership_version (
    deployment_id text PRIMARY KEY,
    version       integer NOT NULL DEFAULT 0 CHECK (version >= 0),
    changed_at    timestamptz
);

-- One row per silo incarnation. address is text (the provider casts it to string), and the
-- NOT NULL columns are the ones whose NULL makes the provider throw on read.
CREATE TABLE orleans.membership (
    deployment_id   text NOT NULL REFERENCES orleans.membership_version (deployment_id) ON DELETE CASCADE,
    address         text NOT NULL,
    port            integer NOT NULL,
    generation      integer NOT NULL,
    silo_name       text NOT NULL,
    host_name       text NOT NULL,
    status          integer NOT NULL,
    proxy_port      integer NOT NULL,
    suspect_times   text,
    start_time      timestamptz NOT NULL,
    i_am_alive_time timestamptz NOT NULL,
    PRIMARY KEY (deployment_id, address, port, generation)
);

-- InsertMembershipKey: insert the member row and move the version @Version -> @Version+1, all
-- or nothing, returning 1 on success and 0 on any conflict (the provider needs 0, not an error).
-- The undo step is safe: the whole function runs in one statement, so the inserted row is not
-- visible to anyone else and the version-row lock is held until commit. A concurrent writer with
-- the same @Version blocks on the version row and then finds the version moved (READ COMMITTED).
CREATE FUNCTION orleans.membership_insert(
    p_deployment_id text, p_address text, p_port integer, p_generation integer,
    p_silo_name text, p_host_name text, p_status integer, p_proxy_port integer,
    p_start_time timestamptz, p_i_am_alive_time timestamptz, p_version integer)
RETURNS integer
LANGUAGE plpgsql
AS $fn$
BEGIN
    INSERT INTO orleans.membership (deployment_id, address, port, generation, silo_name, host_name,
                                    status, proxy_port, suspect_times, start_time, i_am_alive_time)
    VALUES (p_deployment_id, p_address, p_port, p_generation, p_silo_name, p_host_name,
            p_status, p_proxy_port, NULL, p_start_time, p_i_am_alive_time)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;

    UPDATE orleans.membership_version
       SET version = version + 1, changed_at = now()
     WHERE deployment_id = p_deployment_id AND version = p_version;
    IF NOT FOUND THEN
        DELETE FROM orleans.membership
         WHERE deployment_id = p_deployment_id AND address = p_address
           AND port = p_port AND generation = p_generation;
        RETURN 0;
    END IF;

    RETURN 1;
END
$fn$;

-- UpdateMembershipKey: same all-or-nothing rule; bump the version first (taking the row lock),
-- then update the member, and put the version back if the member does not exist.
CREATE FUNCTION orleans.membership_update(
    p_deployment_id text, p_address text, p_port integer, p_generation integer,
    p_status integer, p_suspect_times text, p_i_am_alive_time timestamptz, p_version integer)
RETURNS integer
LANGUAGE plpgsql
AS $fn$
BEGIN
    UPDATE orleans.membership_version
       SET version = version + 1, changed_at = now()
     WHERE deployment_id = p_deployment_id AND version = p_version;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;

    UPDATE orleans.membership
       SET status = p_status, suspect_times = p_suspect_times, i_am_alive_time = p_i_am_alive_time
     WHERE deployment_id = p_deployment_id AND address = p_address
       AND port = p_port AND generation = p_generation;
    IF NOT FOUND THEN
        UPDATE orleans.membership_version
           SET version = version - 1
         WHERE deployment_id = p_deployment_id;
        RETURN 0;
    END IF;

    RETURN 1;
END
$fn$;

-- Functions default to EXECUTE for PUBLIC; only the owner (server role) may call these.
REVOKE EXECUTE ON FUNCTION orleans.membership_insert(text, text, integer, integer, text, text, integer, integer, timestamptz, timestamptz, integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION orleans.membership_update(text, text, integer, integer, integer, text, timestamptz, integer) FROM PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- Grain storage (contract §1.3)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE orleans.grain_state (
    service_id      text NOT NULL,
    grain_type_hash integer NOT NULL,
    grain_id_hash   integer NOT NULL,
    grain_id_n0     bigint NOT NULL,
    grain_id_n1     bigint NOT NULL,
    grain_type      text NOT NULL,
    grain_key_ext   text,
    payload         bytea,
    version         integer NOT NULL,
    modified_at     timestamptz,
    -- P1: one row per full key, NULL ext counting as one value. Without it a first-write race
    -- could leave two rows and every later read (SingleOrDefault) would throw. The hashes lead
    -- because they are the selective, cheap-to-compare part; they can collide, so the full key
    -- follows.
    CONSTRAINT uq_grain_state_key UNIQUE NULLS NOT DISTINCT
        (grain_id_hash, grain_type_hash, service_id, grain_id_n0, grain_id_n1, grain_type, grain_key_ext)
);

-- ---------------------------------------------------------------------------------------------
-- Reminders (contract §1.4)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE orleans.reminder (
    service_id    text NOT NULL,
    grain_id      text NOT NULL,
    reminder_name text NOT NULL,
    start_time    timestamptz NOT NULL,
    period        bigint NOT NULL,      -- milliseconds; periods over ~24.8 days exceed int32
    grain_hash    integer NOT NULL,     -- signed int32 exactly as bound; range reads compare it
    version       integer NOT NULL,
    PRIMARY KEY (service_id, grain_id, reminder_name)
);

-- Ring-range reads by the reminder service.
CREATE INDEX idx_reminder_service_hash ON orleans.reminder (service_id, grain_hash);

-- ---------------------------------------------------------------------------------------------
-- Query catalog: 9 + 1 optional clustering, 4 storage, 7 reminder keys (contract §2).
-- Upserted so that a later migration can replace a text by re-running its row.
-- ---------------------------------------------------------------------------------------------
INSERT INTO orleans.orleansquery (querykey, querytext) VALUES

-- Clustering ----------------------------------------------------------------------------------

-- Every silo calls this at start-up, often concurrently: never raise on an existing row.
('InsertMembershipVersionKey', $q$
WITH created AS (
    INSERT INTO orleans.membership_version (deployment_id, version, changed_at)
    VALUES (@DeploymentId, 0, now())
    ON CONFLICT (deployment_id) DO NOTHING
    RETURNING 1
)
SELECT count(*)::integer FROM created
$q$),

-- One statement = one snapshot (M5). Exactly one row with NULL member columns when empty.
('MembershipReadAllKey', $q$
SELECT v.version AS "Version",
       m.address AS "Address", m.port AS "Port", m.generation AS "Generation",
       m.silo_name AS "SiloName", m.host_name AS "HostName", m.status AS "Status",
       m.proxy_port AS "ProxyPort", m.suspect_times AS "SuspectTimes",
       m.start_time AS "StartTime", m.i_am_alive_time AS "IAmAliveTime"
FROM orleans.membership_version v
LEFT JOIN orleans.membership m ON m.deployment_id = v.deployment_id
WHERE v.deployment_id = @DeploymentId
$q$),

('MembershipReadRowKey', $q$
SELECT v.version AS "Version",
       m.address AS "Address", m.port AS "Port", m.generation AS "Generation",
       m.silo_name AS "SiloName", m.host_name AS "HostName", m.status AS "Status",
       m.proxy_port AS "ProxyPort", m.suspect_times AS "SuspectTimes",
       m.start_time AS "StartTime", m.i_am_alive_time AS "IAmAliveTime"
FROM orleans.membership_version v
LEFT JOIN orleans.membership m
       ON m.deployment_id = v.deployment_id
      AND m.address = @Address AND m.port = @Port AND m.generation = @Generation
WHERE v.deployment_id = @DeploymentId
$q$),

('InsertMembershipKey', $q$
SELECT orleans.membership_insert(@DeploymentId, @Address, @Port, @Generation, @SiloName, @HostName,
                                 @Status, @ProxyPort, @StartTime, @IAmAliveTime, @Version)
$q$),

('UpdateMembershipKey', $q$
SELECT orleans.membership_update(@DeploymentId, @Address, @Port, @Generation,
                                 @Status, @SuspectTimes, @IAmAliveTime, @Version)
$q$),

-- Heartbeat: no etag check and no version change (a bump would make every writer conflict).
('UpdateIAmAlivetimeKey', $q$
UPDATE orleans.membership
   SET i_am_alive_time = @IAmAliveTime
 WHERE deployment_id = @DeploymentId AND address = @Address
   AND port = @Port AND generation = @Generation
$q$),

('GatewaysQueryKey', $q$
SELECT address AS "Address", proxy_port AS "ProxyPort", generation AS "Generation"
FROM orleans.membership
WHERE deployment_id = @DeploymentId AND status = @Status AND proxy_port > 0
$q$),

-- The member rows go with the version row (ON DELETE CASCADE).
('DeleteMembershipTableEntriesKey', $q$
DELETE FROM orleans.membership_version WHERE deployment_id = @DeploymentId
$q$),

-- Only Dead (6) rows, as the IMembershipTable contract says; the version stays.
('CleanupDefunctSiloEntriesKey', $q$
DELETE FROM orleans.membership
 WHERE deployment_id = @DeploymentId AND status = 6
   AND i_am_alive_time < @IAmAliveTime AND start_time < @IAmAliveTime
$q$),

-- Optional per-row cleanup: delete only if the row is still exactly what the provider read.
-- "No suspicions" arrives as '' from UpdateMembershipKey but as NULL here, so both count as equal.
('CleanupDefunctSiloEntryKey', $q$
DELETE FROM orleans.membership
 WHERE deployment_id = @DeploymentId AND address = @Address
   AND port = @Port AND generation = @Generation
   AND status = 6
   AND start_time = @StartTime AND i_am_alive_time = @IAmAliveTime
   AND coalesce(suspect_times, '') = coalesce(@SuspectTimes, '')
$q$),

-- Grain storage -------------------------------------------------------------------------------
-- Every predicate compares the full key (hashes can collide), ext null-safely.

('ReadFromStorageKey', $q$
SELECT payload AS "PayloadBinary", version AS "Version"
FROM orleans.grain_state
WHERE grain_id_hash = @GrainIdHash AND grain_type_hash = @GrainTypeHash
  AND service_id = @ServiceId AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
  AND grain_type = @GrainTypeString AND grain_key_ext IS NOT DISTINCT FROM @GrainIdExtensionString
$q$),

-- NULL version: first write, insert at 1 (a concurrent first write loses on the unique key and
-- returns no row = conflict). Otherwise: optimistic update on the expected version.
('WriteToStorageKey', $q$
WITH inserted AS (
    INSERT INTO orleans.grain_state (service_id, grain_type_hash, grain_id_hash, grain_id_n0, grain_id_n1,
                                     grain_type, grain_key_ext, payload, version, modified_at)
    SELECT @ServiceId, @GrainTypeHash, @GrainIdHash, @GrainIdN0, @GrainIdN1,
           @GrainTypeString, @GrainIdExtensionString, @PayloadBinary, 1, now()
    WHERE @GrainStateVersion IS NULL
    ON CONFLICT ON CONSTRAINT uq_grain_state_key DO NOTHING
    RETURNING version
), updated AS (
    UPDATE orleans.grain_state
       SET payload = @PayloadBinary, version = version + 1, modified_at = now()
     WHERE @GrainStateVersion IS NOT NULL
       AND grain_id_hash = @GrainIdHash AND grain_type_hash = @GrainTypeHash
       AND service_id = @ServiceId AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
       AND grain_type = @GrainTypeString AND grain_key_ext IS NOT DISTINCT FROM @GrainIdExtensionString
       AND version = @GrainStateVersion
    RETURNING version
)
SELECT version AS "NewGrainStateVersion" FROM inserted
UNION ALL
SELECT version FROM updated
$q$),

-- Clear keeps the row (NULL payload = no record) and moves the etag; column 0 is read.
('ClearStorageKey', $q$
UPDATE orleans.grain_state
   SET payload = NULL, version = version + 1, modified_at = now()
 WHERE grain_id_hash = @GrainIdHash AND grain_type_hash = @GrainTypeHash
   AND service_id = @ServiceId AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
   AND grain_type = @GrainTypeString AND grain_key_ext IS NOT DISTINCT FROM @GrainIdExtensionString
   AND version = @GrainStateVersion
RETURNING version AS "NewGrainStateVersion"
$q$),

-- DeleteStateOnClear=true: any non-null value different from the input version means success.
('DeleteStorageKey', $q$
DELETE FROM orleans.grain_state
 WHERE grain_id_hash = @GrainIdHash AND grain_type_hash = @GrainTypeHash
   AND service_id = @ServiceId AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
   AND grain_type = @GrainTypeString AND grain_key_ext IS NOT DISTINCT FROM @GrainIdExtensionString
   AND version = @GrainStateVersion
RETURNING version + 1 AS "NewGrainStateVersion"
$q$),

-- Reminders -----------------------------------------------------------------------------------

('ReadReminderRowsKey', $q$
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
       period AS "Period", version AS "Version"
FROM orleans.reminder
WHERE service_id = @ServiceId AND grain_id = @GrainId
$q$),

('ReadReminderRowKey', $q$
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
       period AS "Period", version AS "Version"
FROM orleans.reminder
WHERE service_id = @ServiceId AND grain_id = @GrainId AND reminder_name = @ReminderName
$q$),

-- Used when (int)begin < (int)end.
('ReadRangeRows1Key', $q$
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
       period AS "Period", version AS "Version"
FROM orleans.reminder
WHERE service_id = @ServiceId AND grain_hash > @BeginHash AND grain_hash <= @EndHash
$q$),

-- Used when the range wraps around the ring (begin = end is the whole ring).
('ReadRangeRows2Key', $q$
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
       period AS "Period", version AS "Version"
FROM orleans.reminder
WHERE service_id = @ServiceId AND (grain_hash > @BeginHash OR grain_hash <= @EndHash)
$q$),

-- One statement so concurrent upserts of one reminder cannot fail; every upsert moves the etag.
('UpsertReminderRowKey', $q$
INSERT INTO orleans.reminder AS r (service_id, grain_id, reminder_name, start_time, period, grain_hash, version)
VALUES (@ServiceId, @GrainId, @ReminderName, @StartTime, @Period, @GrainHash, 0)
ON CONFLICT (service_id, grain_id, reminder_name) DO UPDATE
   SET start_time = EXCLUDED.start_time, period = EXCLUDED.period,
       grain_hash = EXCLUDED.grain_hash, version = r.version + 1
RETURNING version AS "Version"
$q$),

('DeleteReminderRowKey', $q$
WITH deleted AS (
    DELETE FROM orleans.reminder
     WHERE service_id = @ServiceId AND grain_id = @GrainId
       AND reminder_name = @ReminderName AND version = @Version
    RETURNING 1
)
SELECT count(*)::integer FROM deleted
$q$),

('DeleteReminderRowsKey', $q$
DELETE FROM orleans.reminder WHERE service_id = @ServiceId
$q$)

ON CONFLICT (querykey) DO UPDATE SET querytext = EXCLUDED.querytext;
