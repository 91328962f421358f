using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json.Nodes;
using System.Threading.RateLimiting;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Auth;

/// <summary>
/// Refused requests cost the caller, not the system. Failed authentication is rate limited per client address
/// (429 with <c>Retry-After</c> once the budget is spent), and refusals are audited as aggregated rows — one per
/// principal, address, route and outcome per window, carrying the count — through a bounded table whose overflow is
/// counted in <c>noetl_audit_denied_dropped_total</c> instead of queued. So a flood of bad tokens writes a handful of
/// rows a minute and never stands in the way of event ingestion.
/// </summary>
public sealed class DeniedRequests : IDisposable
{
    public const string MeterName = "NoEtl.Gateway";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> Dropped = Meter.CreateCounter<long>("noetl_audit_denied_dropped",
        description: "Refused requests not audited because the aggregation table of the window was full");
    private static readonly Counter<long> Throttled = Meter.CreateCounter<long>("noetl_auth_throttled",
        description: "Requests answered 429 because their address spent its failed-authentication budget");

    private readonly PartitionedRateLimiter<IPAddress> _failures;
    private readonly int _maxKeys;
    // A plain table under a lock: a swap must not lose the increments racing with it (counts are exact).
    private readonly Lock _gate = new();
    private Dictionary<(string Principal, string? Role, string Address, string Route, string Outcome), long> _window = [];
    private DateTime _windowStart = DateTime.UtcNow;

    public DeniedRequests(DeniedRequestsOptions options)
    {
        _maxKeys = options.MaxAuditKeys;
        _failures = PartitionedRateLimiter.Create<IPAddress, IPAddress>(address => RateLimitPartition.GetTokenBucketLimiter(address,
            _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = options.FailureBurst,
                TokensPerPeriod = options.FailuresPerSecond,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
                AutoReplenishment = true,
            }));
    }

    /// <summary>Whether the address may still fail authentication now; false means answer 429.</summary>
    public bool AllowFailure(HttpContext context)
    {
        using var lease = _failures.AttemptAcquire(AddressOf(context));
        if (!lease.IsAcquired)
            Throttled.Add(1);
        return lease.IsAcquired;
    }

    /// <summary>
    /// Charges a failed authentication to the client's address; once its budget is spent, answers 429 with
    /// <c>Retry-After</c> (counted as <c>throttled</c>) and returns true.
    /// </summary>
    public async Task<bool> ThrottleFailureAsync(HttpContext context)
    {
        if (AllowFailure(context))
            return false;
        Count(context, "anonymous", null, "throttled");
        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        context.Response.Headers.RetryAfter = "1";
        await context.Response.WriteAsJsonAsync(new { detail = "Too many requests with missing or invalid credentials from this address; retry later." });
        return true;
    }

    public void Count(HttpContext context, string principal, string? role, string outcome)
    {
        var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "(unmatched)";
        var key = (principal, role, AddressOf(context).ToString(), $"{context.Request.Method} {route}", outcome);
        lock (_gate)
        {
            if (_window.TryGetValue(key, out var count))
            {
                _window[key] = count + 1;
                return;
            }
            if (_window.Count < _maxKeys)
            {
                _window[key] = 1;
                return;
            }
        }
        Dropped.Add(1);
    }

    /// <summary>Takes the counts of the window that ends now, as audit rows.</summary>
    public IReadOnlyList<AuditEntry> Drain()
    {
        Dictionary<(string Principal, string? Role, string Address, string Route, string Outcome), long> window;
        DateTime start, end;
        lock (_gate)
        {
            (window, _window) = (_window, []);
            (start, end, _windowStart) = (_windowStart, DateTime.UtcNow, DateTime.UtcNow);
        }
        return [.. window.Select(pair => new AuditEntry(pair.Key.Principal, pair.Key.Role, "auth.denied", pair.Key.Route, null, null, pair.Key.Outcome,
            new JsonObject
            {
                ["count"] = pair.Value,
                ["address"] = pair.Key.Address,
                ["window_start"] = start.ToString("O") + "Z",
                ["window_seconds"] = Math.Round((end - start).TotalSeconds, 1),
            }.ToJsonString()))];
    }

    public void Dispose() => _failures.Dispose();

    private static IPAddress AddressOf(HttpContext context) => context.Connection.RemoteIpAddress ?? IPAddress.None;
}

/// <summary>Budgets of <see cref="DeniedRequests"/>; configuration keys are environment-variable names.</summary>
public sealed class DeniedRequestsOptions
{
    public int FailureBurst { get; init; } = 20;
    public int FailuresPerSecond { get; init; } = 10;
    public int MaxAuditKeys { get; init; } = 1000;
    public TimeSpan AuditWindow { get; init; } = TimeSpan.FromSeconds(60);

    public static DeniedRequestsOptions From(IConfiguration configuration) => new()
    {
        FailureBurst = Positive(configuration, "NOETL_AUTH_FAILURE_BURST", 20),
        FailuresPerSecond = Positive(configuration, "NOETL_AUTH_FAILURES_PER_SECOND", 10),
        MaxAuditKeys = Positive(configuration, "NOETL_AUDIT_DENIED_MAX_KEYS", 1000),
        AuditWindow = TimeSpan.FromSeconds(Positive(configuration, "NOETL_AUDIT_DENIED_WINDOW_SECONDS", 60)),
    };

    private static int Positive(IConfiguration configuration, string key, int fallback)
    {
        var text = configuration[key];
        if (string.IsNullOrWhiteSpace(text))
            return fallback;
        return int.TryParse(text, out var value) && value > 0
            ? value
            : throw new InvalidOperationException($"{key} must be a positive integer, not '{text}'");
    }
}

/// <summary>Writes each window's aggregated refusals as one audit batch (and the last one at shutdown).</summary>
public sealed class DeniedRequestsFlusher(DeniedRequests denied, DeniedRequestsOptions options, IGrainFactory grains, ILogger<DeniedRequestsFlusher> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.AuditWindow);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
                await FlushAsync();
        }
        catch (OperationCanceledException)
        {
        }
        await FlushAsync();
    }

    private async Task FlushAsync()
    {
        var entries = denied.Drain();
        if (entries.Count == 0)
            return;
        try
        {
            await grains.Reference<IAuditGrain>(0).RecordBatch(entries);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "{Count} aggregated auth.denied audit rows were not written", entries.Count);
        }
    }
}
