using Microsoft.Extensions.Configuration;
using static NoEtl.Configuration.ConfigurationValues;

namespace NoEtl.Worker.Runtime;

/// <summary>
/// Worker settings, read from configuration under the same environment-variable names the NoETL
/// Rust/Python workers use, so one deployment manifest drives any worker implementation.
/// </summary>
public sealed class WorkerOptions
{
    public const string InternalApiTokenVar = "NOETL_INTERNAL_API_TOKEN";
    public const string ApiTokenVar = "NOETL_API_TOKEN";

    public string Pool { get; set; } = "shared";
    /// <summary>
    /// The control plane (NOETL_SERVER_URL): one URL, or a comma-separated list of gateways of one cluster that the
    /// worker fails over between (<see cref="ServerClient"/>).
    /// </summary>
    public IReadOnlyList<string> ServerUrls { get; set; } = ["http://127.0.0.1:8082"];

    /// <summary>Each call to the control plane gives up after this (NOETL_SERVER_HTTP_TIMEOUT_SECONDS), then fails over.</summary>
    public TimeSpan ServerHttpTimeout { get; set; } = TimeSpan.FromSeconds(30);
    public string WorkerId { get; set; } = $"{Environment.MachineName}-{Environment.ProcessId}";
    public int MaxConcurrent { get; set; } = 4;
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a SIGTERM waits for in-flight commands before cancelling them.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Bearer for /api calls; the server only checks it on /api/internal/*. Never logged.</summary>
    public string? InternalApiToken { get; set; }

    /// <summary>This pool's bearer for the public API (<c>NOETL_API_TOKEN</c>); the internal token stands in when unset.</summary>
    public string? ApiToken { get; set; }

    /// <summary>Env vars lifted into the worker keychain (NOETL_KEYCHAIN_ENV_VARS allow-list).</summary>
    public IReadOnlyList<string> KeychainEnvVars { get; set; } = [];

    /// <summary>
    /// call.done contexts larger than this go to the result store (PUT /api/result) and the event carries the
    /// reference: the server drops inline contexts over 100 KiB (NOETL_EVENT_RESULT_CONTEXT_MAX_BYTES).
    /// </summary>
    public int ResultInlineMaxBytes { get; set; } = 100 * 1024;

    /// <summary>The directory python <c>script: {uri}</c> files are read from (NOETL_SCRIPT_BASE_PATH); the worker's working directory by default.</summary>
    public string ScriptBasePath { get; set; } = Directory.GetCurrentDirectory();

    public NatsOptions Nats { get; set; } = new();
    public OutboxOptions Outbox { get; set; } = new();

    /// <summary>
    /// Binds from configuration keys named like the NoETL env vars. <c>--pool</c> on the command line
    /// wins over <c>NOETL_WORKER_POOL</c>; pool-dependent defaults (filter subject, consumer, outbox) follow the pool.
    /// A value that is set but invalid stops start-up with a message naming the variable.
    /// </summary>
    public static WorkerOptions FromConfiguration(IConfiguration config)
    {
        var o = new WorkerOptions();
        o.Pool = NonEmpty(config["pool"]) ?? NonEmpty(config["NOETL_WORKER_POOL"]) ?? o.Pool;
        o.ServerUrls = NonEmpty(config["NOETL_SERVER_URL"]) is { } servers ? ServerUrlList(servers) : o.ServerUrls;
        o.ServerHttpTimeout = Seconds(config, "NOETL_SERVER_HTTP_TIMEOUT_SECONDS", o.ServerHttpTimeout);
        o.WorkerId = NonEmpty(config["WORKER_ID"]) ?? o.WorkerId;
        o.MaxConcurrent = Int(config, "WORKER_MAX_CONCURRENT", o.MaxConcurrent, min: 1);
        o.HeartbeatInterval = Seconds(config, "WORKER_HEARTBEAT_INTERVAL", o.HeartbeatInterval);
        o.DrainTimeout = Seconds(config, "WORKER_DRAIN_TIMEOUT", o.DrainTimeout);
        o.ResultInlineMaxBytes = Int(config, "NOETL_RESULT_INLINE_MAX_BYTES", o.ResultInlineMaxBytes);
        o.InternalApiToken = NonEmpty(config[InternalApiTokenVar]?.Trim());
        o.ApiToken = NonEmpty(config[ApiTokenVar]?.Trim());
        o.ScriptBasePath = NonEmpty(config["NOETL_SCRIPT_BASE_PATH"])?.Trim() is { } scripts
            ? Directory.Exists(scripts) ? Path.GetFullPath(scripts) : throw new InvalidOperationException($"NOETL_SCRIPT_BASE_PATH must be an existing directory, not '{scripts}'")
            : o.ScriptBasePath;
        o.KeychainEnvVars = (config["NOETL_KEYCHAIN_ENV_VARS"] ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        var nats = o.Nats;
        nats.Url = NonEmpty(config["NATS_URL"]) ?? nats.Url;
        nats.Stream = NonEmpty(config["NATS_STREAM"]) ?? nats.Stream;
        nats.Subject = NonEmpty(config["NATS_SUBJECT"]) ?? nats.Subject;
        nats.FilterSubject = NonEmpty(config["NATS_FILTER_SUBJECT"]) ?? $"{nats.Subject}.{o.Pool}.>";
        nats.Consumer = NonEmpty(config["NATS_CONSUMER"]) ?? $"noetl-worker-{o.Pool}";
        nats.AckWait = Seconds(config, "NATS_ACK_WAIT", nats.AckWait);
        nats.MaxDeliver = Int(config, "NATS_MAX_DELIVER", nats.MaxDeliver, min: -1); // -1: JetStream's "unlimited"
        nats.DeliverNew = string.Equals(config["NATS_DELIVER_POLICY"]?.Trim(), "new", StringComparison.OrdinalIgnoreCase);

        var outbox = o.Outbox;
        outbox.Enabled = Bool(config, "NOETL_OUTBOX_PUBLISHER", o.Pool == "system");
        outbox.BatchSize = Int(config, "NOETL_OUTBOX_BATCH_SIZE", outbox.BatchSize, min: 1);
        outbox.EventStream = NonEmpty(config["NOETL_EVENT_NATS_STREAM"]) ?? outbox.EventStream;
        outbox.EventSubjectPrefix = NonEmpty(config["NOETL_EVENT_NATS_SUBJECT_PREFIX"]) ?? outbox.EventSubjectPrefix;
        return o;
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private static List<string> ServerUrlList(string value)
    {
        var urls = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(url => url.TrimEnd('/')).ToList();
        var invalid = urls.Where(url => !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")).ToList();
        return urls.Count > 0 && invalid.Count == 0
            ? urls.Distinct().ToList()
            : throw new InvalidOperationException($"NOETL_SERVER_URL must be an http(s) URL or a comma-separated list of them, not '{value}'");
    }
}

public sealed class NatsOptions
{
    public string Url { get; set; } = "nats://127.0.0.1:14222";
    public string Stream { get; set; } = "NOETL_COMMANDS";
    public string Subject { get; set; } = "noetl.commands";
    public string FilterSubject { get; set; } = "noetl.commands.shared.>";
    public string Consumer { get; set; } = "noetl-worker-shared";

    /// <summary>The worker acks right after the claim, so ack-wait only has to cover one claim round trip.</summary>
    public TimeSpan AckWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Bounds redelivery of a notification whose claim keeps failing (e.g. a 404 for a lost command).</summary>
    public int MaxDeliver { get; set; } = 10;

    /// <summary>Only for a newly created durable: start at new messages instead of the retained backlog.</summary>
    public bool DeliverNew { get; set; }
}

public sealed class OutboxOptions
{
    public bool Enabled { get; set; }
    public int BatchSize { get; set; } = 100;

    /// <summary>Long-poll hint for the claim call; the server may return earlier with zero rows.</summary>
    public int WaitMs { get; set; } = 5000;

    public string EventStream { get; set; } = "NOETL_EVENTS";
    public string EventSubjectPrefix { get; set; } = "noetl.events";
    public TimeSpan IdleDelay { get; set; } = TimeSpan.FromSeconds(1);
    public TimeSpan MaxErrorBackoff { get; set; } = TimeSpan.FromSeconds(30);
}
