using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;

namespace NoEtl.Bench.Harness;

/// <summary>
/// One measured phase: a warm-up, then a window of fixed length. Operations completing inside the window count
/// towards throughput and latency; errors count wherever they happen.
/// </summary>
public sealed class Recorder
{
    private readonly ConcurrentQueue<double> _latencies = new();
    private readonly ConcurrentQueue<string> _errorSamples = new();
    private long _ok;
    private long _all;
    private long _errors;

    public Recorder(double warmupSeconds, double durationSeconds)
        : this(Stopwatch.GetTimestamp() + (long)(warmupSeconds * Stopwatch.Frequency), durationSeconds)
    {
    }

    private Recorder(long windowStart, double durationSeconds)
    {
        WindowStart = windowStart;
        WindowEnd = WindowStart + (long)(durationSeconds * Stopwatch.Frequency);
    }

    public long WindowStart { get; }
    public long WindowEnd { get; private set; }

    /// <summary>A second series over the same window (e.g. issued→claimed next to whole executions).</summary>
    public Recorder Sibling() => new(WindowStart, WindowSeconds);

    /// <summary>Ends the window early: a drain scenario is over when the work is.</summary>
    public void EndNow() => WindowEnd = Math.Min(WindowEnd, Stopwatch.GetTimestamp());
    public double WindowSeconds => (WindowEnd - WindowStart) / (double)Stopwatch.Frequency;

    public bool Running => Stopwatch.GetTimestamp() < WindowEnd;

    public long Ok => Interlocked.Read(ref _ok);

    /// <summary>Successful units including warm-up and stragglers, for checking what the database holds.</summary>
    public long AllSuccesses => Interlocked.Read(ref _all);
    public long Errors => Interlocked.Read(ref _errors);
    public IEnumerable<string> ErrorSamples => _errorSamples;

    /// <summary>A successful operation of <paramref name="units"/> units (rows, events) started at <paramref name="started"/>.</summary>
    public void Success(long started, int units = 1) => Sample(started, Stopwatch.GetTimestamp(), units);

    /// <summary>A latency that did not start at a local timestamp (issued→claimed from the event id's clock).</summary>
    public void Sample(long started, long ended, int units = 1)
    {
        Interlocked.Add(ref _all, units);
        if (ended < WindowStart || ended > WindowEnd)
            return;
        Interlocked.Add(ref _ok, units);
        _latencies.Enqueue((ended - started) * 1000.0 / Stopwatch.Frequency);
    }

    /// <summary>
    /// A latency that started on the wall clock of this host, e.g. the millisecond in a snowflake event id; the id
    /// truncates to the millisecond, so the midpoint of that millisecond is taken (±0.5 ms).
    /// </summary>
    public void SampleSinceUnixMs(long startedUnixMs)
    {
        var now = Stopwatch.GetTimestamp();
        var agoMs = DateTime.UtcNow.Subtract(DateTime.UnixEpoch).TotalMilliseconds - (startedUnixMs + 0.5);
        Sample(now - (long)(agoMs * Stopwatch.Frequency / 1000), now);
    }

    public void Error(string what, HttpStatusCode status, string body)
    {
        if (Interlocked.Increment(ref _errors) <= 5)
            _errorSamples.Enqueue($"{what}: {(int)status} {body[..Math.Min(body.Length, 200)]}");
    }

    public double PerSecond => Ok / WindowSeconds;

    public Percentiles Percentiles() => Harness.Percentiles.Of(_latencies);
}

/// <summary>Latency percentiles in milliseconds (nearest-rank over every sample: no histogram buckets).</summary>
public sealed record Percentiles(int Count, double P50, double P95, double P99)
{
    public static Percentiles Of(IEnumerable<double> samples)
    {
        var sorted = samples.Order().ToArray();
        if (sorted.Length == 0)
            return new Percentiles(0, 0, 0, 0);
        double At(double q) => sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
        return new Percentiles(sorted.Length, At(0.50), At(0.95), At(0.99));
    }
}
