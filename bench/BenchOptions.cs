using System.Globalization;

namespace NoEtl.Bench;

/// <summary>Command line: <c>&lt;scenario[,scenario…]|all&gt; [--option value …]</c>.</summary>
public sealed class BenchOptions
{
    public static readonly string[] AllScenarios = ["baseline", "events", "claims", "flow", "outbox", "reads", "memory"];

    /// <summary>Who serves the API: a gateway in front of the silo, or the silo itself (<c>NOETL_HOSTING=combined</c>).</summary>
    public static readonly string[] Topologies = ["separate", "combined"];

    /// <summary>Scenarios to run, in <see cref="AllScenarios"/> order. The baseline always runs: every ratio needs it.</summary>
    public List<string> Scenarios { get; private set; } = [.. AllScenarios];

    /// <summary>Measured seconds per phase (after <see cref="WarmupSeconds"/>).</summary>
    public double DurationSeconds { get; set; } = 20;

    public double WarmupSeconds { get; set; } = 5;

    /// <summary>Concurrent clients for baseline, events and claims (the "N workers").</summary>
    public int Workers { get; set; } = 16;

    /// <summary>Rows per transaction for the baseline phases (1 = the per-event durable-write limit).</summary>
    public List<int> BaselineBatches { get; set; } = [1, 10, 100];

    /// <summary>Events per request: 1 posts to <c>/api/events</c>, more to <c>/api/events/batch</c>.</summary>
    public List<int> EventBatches { get; set; } = [1, 10];

    /// <summary>Executions in flight for the flow phases: a light load for latency, a heavy one for throughput.</summary>
    public List<int> FlowInFlight { get; set; } = [4, 128];

    /// <summary>Rows per outbox claim in the outbox scenario.</summary>
    public int OutboxBatch { get; set; } = 100;

    /// <summary><c>NOETL_POSTGRES_POOL_MAX</c> of the silo we start, or the value the target was configured with.</summary>
    public int PoolSize { get; set; } = 20;

    /// <summary>The topologies to run the scenarios against, one system each, in this order (the baseline runs once).</summary>
    public List<string> Hosting { get; set; } = ["separate"];

    /// <summary>
    /// Silos of the cluster we start, behind one gateway. More than one: every silo and the gateway run with the Helm
    /// chart's fast-failover settings (<see cref="Harness.HelmFastFailover"/>), and every phase checks that no silo
    /// was declared dead.
    /// </summary>
    public int Silos { get; set; } = 1;

    /// <summary>Five-step executions the memory scenario holds active at once.</summary>
    public int MemoryExecutions { get; set; } = 1000;

    /// <summary>Iterations of the memory scenario's long loop.</summary>
    public int LoopIterations { get; set; } = 2000;

    /// <summary>Characters of padding in each long-loop iteration's result (0: the bare <c>{"ok": true}</c>).</summary>
    public int LoopResultBytes { get; set; }

    /// <summary>
    /// Where the memory scenario writes a heap dump of the silo (<c>dotnet-dump collect --type Heap</c>, on PATH) at
    /// each of its measurements, for a breakdown by type (<c>dumpheap -live -stat</c>); null: no dumps. Needs a silo
    /// the bench started.
    /// </summary>
    public string? HeapDumpDirectory { get; set; }

    /// <summary>
    /// <c>NOETL_COMMAND_REAPER_PENDING_RETRY_SECONDS</c> of the silo we start (null: its default). Holding 100,000
    /// executions mid-flight takes the bench many minutes, during which the reaper would notify every unclaimed command
    /// again each minute, although the bench takes every notification from the outbox.
    /// </summary>
    public int? PendingRetrySeconds { get; set; }

    /// <summary>A running gateway to drive instead of starting a system.</summary>
    public string? TargetUrl { get; set; }

    public string? InternalToken { get; set; }

    /// <summary>Bearer tokens of the target's operator and of a worker principal of pool <c>shared</c>.</summary>
    public string? OperatorToken { get; set; }
    public string? WorkerToken { get; set; }

    /// <summary>Superuser on the target's database: baseline table, settings, pg_stat_activity.</summary>
    public string? AdminDsn { get; set; }

    /// <summary>
    /// Events of generated history: the scenarios run on the empty tables, then again after PostgreSQL wrote this many
    /// events (with a tenth as many commands and published outbox rows) into them. Null: one pass, empty tables.
    /// </summary>
    public long? HistoryEvents { get; set; }

    /// <summary>Do not append the results to docs/benchmarks.md (smoke runs).</summary>
    public bool NoRecord { get; set; }

    public string? DocsPath { get; set; }

    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var options = new BenchOptions();
        if (args.Count == 0 || args[0] is "-h" or "--help")
            throw new ArgumentException(Usage);
        var requested = args[0].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (!requested.Contains("all"))
        {
            var unknown = requested.Except(AllScenarios).ToList();
            if (unknown.Count > 0)
                throw new ArgumentException($"unknown scenario(s): {string.Join(", ", unknown)}\n{Usage}");
            options.Scenarios = [.. AllScenarios.Where(s => s == "baseline" || requested.Contains(s))];
        }

        for (var i = 1; i < args.Count; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{name} needs a value");
            switch (name)
            {
                case "--duration": options.DurationSeconds = Number(name, Value()); break;
                case "--warmup": options.WarmupSeconds = Number(name, Value()); break;
                case "--workers": options.Workers = Positive(name, Value()); break;
                case "--baseline-batch": options.BaselineBatches = List(name, Value()); break;
                case "--event-batch": options.EventBatches = List(name, Value()); break;
                case "--inflight": options.FlowInFlight = List(name, Value()); break;
                case "--outbox-batch": options.OutboxBatch = Positive(name, Value()); break;
                case "--pool": options.PoolSize = Positive(name, Value()); break;
                case "--hosting": options.Hosting = Topology(name, Value()); break;
                case "--silos": options.Silos = Positive(name, Value()); break;
                case "--memory-executions": options.MemoryExecutions = Positive(name, Value()); break;
                case "--loop-iterations": options.LoopIterations = Positive(name, Value()); break;
                case "--loop-result-bytes": options.LoopResultBytes = Positive(name, Value()); break;
                case "--heap-dump": options.HeapDumpDirectory = Value(); break;
                case "--pending-retry": options.PendingRetrySeconds = Positive(name, Value()); break;
                case "--target": options.TargetUrl = Value().TrimEnd('/'); break;
                case "--internal-token": options.InternalToken = Value(); break;
                case "--operator-token": options.OperatorToken = Value(); break;
                case "--worker-token": options.WorkerToken = Value(); break;
                case "--admin-dsn": options.AdminDsn = Value(); break;
                case "--history": options.HistoryEvents = Positive(name, Value(), min: HistoryMinimum); break;
                case "--docs": options.DocsPath = Value(); break;
                case "--no-record": options.NoRecord = true; break;
                default: throw new ArgumentException($"unknown option {name}\n{Usage}");
            }
        }
        if (options.TargetUrl is not null && options.Hosting.Count > 1)
            throw new ArgumentException("--target drives one running system: --hosting takes one topology there");
        if (options.TargetUrl is not null && (options.InternalToken is null || options.AdminDsn is null))
            throw new ArgumentException("--target needs --internal-token and --admin-dsn");
        if (options.Silos > 1 && options.TargetUrl is not null)
            throw new ArgumentException($"--silos {options.Silos}: the bench starts that cluster itself, so it cannot drive a running system (--target)");
        if (options.Silos > 1 && options.Hosting.Contains("combined"))
            throw new ArgumentException($"--silos {options.Silos}: several silos run behind a gateway (--hosting separate); combined hosting serves the API from a single silo");
        if (options.TargetUrl is not null && (options.HeapDumpDirectory is not null || options.PendingRetrySeconds is not null))
            throw new ArgumentException("--heap-dump and --pending-retry apply to a silo the bench starts, not to a --target");
        if (options.EventBatches.Any(b => b > 256))
            throw new ArgumentException("--event-batch: at most 256 events per request");
        return options;
    }

    public const string Usage = """
        usage: dotnet run -c Release --project bench -- <all|baseline,events,claims,flow,outbox,reads,memory> [options]
          --duration S         measured seconds per phase (20)        --warmup S        seconds before measuring (3)
          --workers N          concurrent clients (16)                --pool P          silo NOETL_POSTGRES_POOL_MAX (20)
          --baseline-batch L   rows per baseline transaction (1,10,100)
          --event-batch L      events per request (1,10)              --inflight L      flow executions in flight (4,64)
          --outbox-batch B     rows per outbox claim (100)
          --hosting L          separate (gateway + silo, default), combined (the silo serves the API), or both: separate,combined
          --silos N            silos in the cluster, behind one gateway (1); more than 1: separate hosting only, the Helm
                               chart's fast-failover settings on silos and gateway, and a check that no silo was declared dead
          --memory-executions N  five-step executions held active (1000)   --loop-iterations N  long-loop iterations (2000)
          --loop-result-bytes N  padding in each long-loop iteration's result (none: {"ok": true})
          --heap-dump DIR      memory scenario: a heap dump of the silo (dotnet-dump) at each measurement, into DIR
          --pending-retry S    the silo's NOETL_COMMAND_REAPER_PENDING_RETRY_SECONDS (its default: 60)
          --target URL --internal-token T --admin-dsn DSN [--operator-token T --worker-token T]
                               drive a running system instead of starting one (worker token: a pool "shared" principal)
          --history N          run on empty tables, then again after filling N events (at least 1000) of history
          --no-record          do not append to docs/benchmarks.md    --docs PATH       results file
        """;

    /// <summary>Ten executions of history: fewer would not be history.</summary>
    private const int HistoryMinimum = 1000;

    private static double Number(string name, string text) =>
        double.TryParse(text, CultureInfo.InvariantCulture, out var value) && value >= 0 ? value : throw new ArgumentException($"{name}: not a number: {text}");

    private static int Positive(string name, string text, int min = 1) =>
        int.TryParse(text, CultureInfo.InvariantCulture, out var value) && value >= min ? value : throw new ArgumentException($"{name}: not an integer ≥ {min}: {text}");

    private static List<string> Topology(string name, string text)
    {
        var topologies = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
        return topologies.Count > 0 && topologies.All(Topologies.Contains)
            ? topologies
            : throw new ArgumentException($"{name}: {string.Join(" and/or ", Topologies)}, not {text}");
    }

    private static List<int> List(string name, string text) => [.. text.Split(',').Select(t => Positive(name, t.Trim()))];
}
