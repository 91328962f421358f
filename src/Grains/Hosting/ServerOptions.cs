using Microsoft.Extensions.Configuration;
using NoEtl.Orchestration.Templates;
using static NoEtl.Configuration.ConfigurationValues;

namespace NoEtl.Grains.Hosting;

/// <summary>
/// Server settings, read from configuration keys named like NoETL's environment variables
/// (an environment variable <c>NOETL_SERVER_URL</c> arrives as the configuration key of the same name).
/// </summary>
public sealed class ServerOptions
{
    /// <summary>The URL workers call back (<c>server_url</c> in command notifications).</summary>
    public string ServerUrl { get; set; } = "http://127.0.0.1:8082";

    /// <summary>Base of command notification subjects: <c>&lt;base&gt;.&lt;pool&gt;.&lt;execution_id&gt;</c>.</summary>
    public string CommandSubject { get; set; } = "noetl.commands";

    /// <summary>A claim younger than this is never taken over by another worker.</summary>
    public int ClaimLeaseSeconds { get; set; } = 120;

    /// <summary>A holder whose pool heartbeat is older than this may lose its claim once the lease expired.</summary>
    public int WorkerHeartbeatStaleSeconds { get; set; } = 30;

    /// <summary>Even a healthy holder loses a claim this old.</summary>
    public int HealthyWorkerHardTimeoutSeconds { get; set; } = 1800;

    /// <summary><c>Retry-After</c> on a 409 <c>active_claim</c>.</summary>
    public int ClaimRetryAfterSeconds { get; set; } = 2;

    /// <summary>How often an execution with commands in flight looks for commands to notify again.</summary>
    public int CommandReaperIntervalSeconds { get; set; } = 15;

    /// <summary>A command still PENDING this long after its last notification is notified again.</summary>
    public int CommandPendingRetrySeconds { get; set; } = 60;

    /// <summary>An IN_FLIGHT outbox row whose claimer vanished becomes claimable again after this.</summary>
    public int OutboxVisibilityTimeoutSeconds { get; set; } = 60;

    /// <summary>Upper bound of an outbox long-poll (<c>wait_ms</c>).</summary>
    public int OutboxMaxWaitMs { get; set; } = 30_000;

    /// <summary>
    /// A parked long-poll looks again at least this often, for rows that became claimable without a commit (an
    /// expired IN_FLIGHT row, a FAILED row now due); committed rows wake it at once.
    /// </summary>
    public int OutboxRepollMs { get; set; } = 1000;

    /// <summary>A row whose publish failed this many times is dead-lettered (status DEAD) instead of retried.</summary>
    public int OutboxMaxAttempts { get; set; } = 10;

    /// <summary>PUBLISHED outbox rows older than this are deleted by the outbox grain (0: at its next purge).</summary>
    public int OutboxRetentionSeconds { get; set; } = 3600;

    /// <summary>How often the outbox grain deletes PUBLISHED rows past the retention (0: never; the cleanup playbook still can).</summary>
    public int OutboxPurgeIntervalSeconds { get; set; } = 60;

    /// <summary>
    /// Commands in flight longer than this get their execution a persistent reminder, so the sweep resumes on
    /// another silo after a crash; shorter executions pay no reminder write.
    /// </summary>
    public int ReminderAfterSeconds { get; set; } = 30;

    /// <summary>Period of that reminder: the longest an orphaned execution waits to be re-activated.</summary>
    public int ReminderPeriodSeconds { get; set; } = 60;

    /// <summary>Group-commit writers per silo: at most this many turn batches are being committed at once.</summary>
    public int CommitWriters { get; set; } = 4;

    /// <summary>Most execution turns one group commit takes (one transaction).</summary>
    public int CommitBatchMaxTurns { get; set; } = 64;

    /// <summary>
    /// <c>NOETL_REQUIRE_LEASE_TOKEN=true</c>: lifecycle events must echo their claim's <c>lease_token</c> (strict mode;
    /// off by default so that NoETL workers that do not know the token keep working).
    /// </summary>
    public bool RequireLeaseToken { get; set; }

    /// <summary>How often the server starts <c>system/scheduled_cleanup</c> itself (0: never).</summary>
    public int CleanupIntervalSeconds { get; set; } = 3600;

    /// <summary>
    /// <c>NOETL_LEGACY_CREDENTIALS</c>: serve legacy plain-JSON credential and keychain rows (re-encrypting them on
    /// read). On by default so an upgrade from NoETL's Python server keeps working; <c>false</c> once rotation ran.
    /// </summary>
    public bool AcceptLegacyCredentials { get; set; } = true;

    /// <summary>The largest result <c>PUT /api/result</c> stores (bytes of its JSON); larger ones are 413.</summary>
    public int ResultStoreMaxBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>Lifetime of a stored result without a <c>ttl</c> (scope <c>permanent</c> never expires).</summary>
    public int ResultStoreTtlSeconds { get; set; } = 7 * 86400;

    /// <summary>
    /// Turns waiting for a group commit, at most; past it a turn is refused at once with 503 <c>overloaded</c> rather than
    /// queued behind work the database cannot keep up with (audit-only records are dropped and counted instead).
    /// </summary>
    public int CommitQueueMaxTurns { get; set; } = 10_000;

    /// <summary>What a playbook may cost to register and each template the silo renders (docs/limits.md).</summary>
    public PlaybookLimits Limits { get; set; } = PlaybookLimits.Default;

    /// <summary>Reads every setting; a value that is set but invalid stops start-up with a message naming it.</summary>
    public static ServerOptions FromConfiguration(IConfiguration configuration)
    {
        var options = new ServerOptions();
        options.ServerUrl = configuration["NOETL_SERVER_URL"] ?? options.ServerUrl;
        options.CommandSubject = configuration["NATS_SUBJECT"] ?? options.CommandSubject;
        options.ClaimLeaseSeconds = Int(configuration, "NOETL_COMMAND_CLAIM_LEASE_SECONDS", options.ClaimLeaseSeconds);
        options.WorkerHeartbeatStaleSeconds = Int(configuration, "NOETL_COMMAND_WORKER_HEARTBEAT_STALE_SECONDS", options.WorkerHeartbeatStaleSeconds);
        options.HealthyWorkerHardTimeoutSeconds = Int(configuration, "NOETL_COMMAND_CLAIM_HEALTHY_WORKER_HARD_TIMEOUT_SECONDS", options.HealthyWorkerHardTimeoutSeconds);
        options.ClaimRetryAfterSeconds = Int(configuration, "NOETL_COMMAND_CLAIM_RETRY_AFTER_SECONDS", options.ClaimRetryAfterSeconds);
        options.OutboxVisibilityTimeoutSeconds = Int(configuration, "NOETL_OUTBOX_VISIBILITY_TIMEOUT_SECONDS", options.OutboxVisibilityTimeoutSeconds);
        options.CommandReaperIntervalSeconds = Int(configuration, "NOETL_COMMAND_REAPER_INTERVAL_SECONDS", options.CommandReaperIntervalSeconds, min: 1);
        options.CommandPendingRetrySeconds = Int(configuration, "NOETL_COMMAND_REAPER_PENDING_RETRY_SECONDS", options.CommandPendingRetrySeconds);
        options.OutboxMaxWaitMs = Int(configuration, "NOETL_OUTBOX_MAX_WAIT_MS", options.OutboxMaxWaitMs);
        options.OutboxRepollMs = Int(configuration, "NOETL_OUTBOX_REPOLL_MS", options.OutboxRepollMs, min: 10);
        options.OutboxMaxAttempts = Int(configuration, "NOETL_OUTBOX_MAX_ATTEMPTS", options.OutboxMaxAttempts, min: 1);
        options.OutboxRetentionSeconds = Int(configuration, "NOETL_OUTBOX_RETENTION_SECONDS", options.OutboxRetentionSeconds);
        options.OutboxPurgeIntervalSeconds = Int(configuration, "NOETL_OUTBOX_PURGE_INTERVAL_SECONDS", options.OutboxPurgeIntervalSeconds);
        options.ReminderAfterSeconds = Int(configuration, "NOETL_REMINDER_AFTER_SECONDS", options.ReminderAfterSeconds);
        options.ReminderPeriodSeconds = Int(configuration, "NOETL_REMINDER_PERIOD_SECONDS", options.ReminderPeriodSeconds, min: 1);
        options.CommitWriters = Int(configuration, "NOETL_COMMIT_WRITERS", options.CommitWriters, min: 1);
        options.CommitBatchMaxTurns = Int(configuration, "NOETL_COMMIT_BATCH_MAX_TURNS", options.CommitBatchMaxTurns, min: 1);
        options.CommitQueueMaxTurns = Int(configuration, "NOETL_COMMIT_QUEUE_MAX_TURNS", options.CommitQueueMaxTurns, min: 1);
        options.CleanupIntervalSeconds = Int(configuration, "NOETL_CLEANUP_INTERVAL_SECONDS", options.CleanupIntervalSeconds);
        options.RequireLeaseToken = Bool(configuration, "NOETL_REQUIRE_LEASE_TOKEN", options.RequireLeaseToken);
        options.Limits = LimitsFrom(configuration);
        options.AcceptLegacyCredentials = Bool(configuration, "NOETL_LEGACY_CREDENTIALS", options.AcceptLegacyCredentials);
        options.ResultStoreMaxBytes = Int(configuration, "NOETL_RESULT_STORE_MAX_BYTES", options.ResultStoreMaxBytes, min: 1);
        options.ResultStoreTtlSeconds = Int(configuration, "NOETL_RESULT_STORE_TTL_SECONDS", options.ResultStoreTtlSeconds, min: 1);
        return options;
    }

    private static PlaybookLimits LimitsFrom(IConfiguration configuration)
    {
        var playbook = PlaybookLimits.Default;
        var template = TemplateLimits.Default;
        return new PlaybookLimits
        {
            // The stored document is re-read as JSON, whose reader stops at 64 levels.
            MaxYamlDepth = Int(configuration, "NOETL_YAML_MAX_DEPTH", playbook.MaxYamlDepth, min: 1, max: 64),
            MaxYamlNodes = Int(configuration, "NOETL_YAML_MAX_NODES", playbook.MaxYamlNodes, min: 1),
            MaxSteps = Int(configuration, "NOETL_PLAYBOOK_MAX_STEPS", playbook.MaxSteps, min: 1),
            MaxArcs = Int(configuration, "NOETL_PLAYBOOK_MAX_ARCS", playbook.MaxArcs),
            MaxLoopItems = Int(configuration, "NOETL_LOOP_MAX_ITEMS", playbook.MaxLoopItems, min: 1),
            Templates = new TemplateLimits
            {
                MaxOutputLength = Int(configuration, "NOETL_TEMPLATE_MAX_OUTPUT_BYTES", template.MaxOutputLength, min: 1),
                MaxSteps = Int(configuration, "NOETL_TEMPLATE_MAX_STEPS", template.MaxSteps, min: 1),
                MaxDepth = Int(configuration, "NOETL_TEMPLATE_MAX_DEPTH", template.MaxDepth, min: 1, max: TemplateLimits.DepthCeiling),
            },
        };
    }
}
