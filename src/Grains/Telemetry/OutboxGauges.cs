using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace NoEtl.Grains.Telemetry;

/// <summary>
/// <c>noetl.outbox.rows</c> by status: the backlog between commits and NATS. One grouped count, cached for
/// <see cref="CacheFor"/> so frequent scrapes (or several scrapers) cost one query per interval. The table is
/// shared, so every silo reports the same cluster-wide numbers: aggregate with max, not sum.
/// </summary>
public sealed partial class OutboxGauges(NpgsqlDataSource database, ILogger<OutboxGauges> logger) : IHostedService, IDisposable
{
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(5);

    private static readonly string[] Statuses = ["PENDING", "IN_FLIGHT", "FAILED", "DEAD"];

    private readonly Lock _gate = new();
    private Meter? _meter;
    private Dictionary<string, long> _counts = [];
    private DateTime _readAt = DateTime.MinValue;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _meter = new Meter(NoEtlMetrics.MeterName);
        _meter.CreateObservableGauge("noetl.outbox.rows", Observe, "{row}", "noetl.outbox rows by status (pending, in_flight, failed, dead)");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _meter?.Dispose();

    private IEnumerable<Measurement<long>> Observe()
    {
        var counts = Read();
        return Statuses.Select(status => new Measurement<long>(counts.GetValueOrDefault(status),
            new KeyValuePair<string, object?>("status", status.ToLowerInvariant())));
    }

    private Dictionary<string, long> Read()
    {
        lock (_gate)
        {
            if (DateTime.UtcNow - _readAt < CacheFor)
                return _counts;
            _readAt = DateTime.UtcNow;
            try
            {
                // PUBLISHED rows are history, not backlog; the (status, …) index keeps this an index-only count.
                using var command = database.CreateCommand(
                    "SELECT status, count(*) FROM noetl.outbox WHERE status <> 'PUBLISHED' GROUP BY status");
                using var reader = command.ExecuteReader();
                var counts = new Dictionary<string, long>();
                while (reader.Read())
                    counts[reader.GetString(0)] = reader.GetInt64(1);
                _counts = counts;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                // A scrape must not fail because the database is down: keep the last numbers, the health check reports the outage.
                LogReadFailed(e.Message);
            }
            return _counts;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox gauges could not read noetl.outbox: {Error}")]
    private partial void LogReadFailed(string error);
}
