using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;
using NoEtl.Bench.Harness;

namespace NoEtl.Bench.Scenarios;

/// <summary>
/// The per-event durable-write limit of this machine: raw Npgsql INSERTs into <c>bench_event</c>, a copy of
/// <c>noetl.event</c> (columns, defaults, checks, indexes), from <see cref="BenchOptions.Workers"/> connections, one
/// transaction per statement. One row per transaction is what a design without batching can reach; multi-row
/// transactions show what batching buys.
/// </summary>
public sealed class BaselineScenario : IScenario
{
    private const string SingleRow = """
        INSERT INTO bench_event (execution_id, catalog_id, event_id, event_type, node_name, status, context, meta, worker_id, command_id)
        VALUES ($1, 1, $2, 'command.heartbeat', 'start', 'RUNNING', $3, $4, 'bench-worker', $1)
        """;

    private const string MultiRow = """
        INSERT INTO bench_event (execution_id, catalog_id, event_id, event_type, node_name, status, context, meta, worker_id, command_id)
        SELECT $1, 1, id, 'command.heartbeat', 'start', 'RUNNING', $3, $4, 'bench-worker', $1 FROM unnest($2::bigint[]) AS id
        """;

    public string Name => "baseline";

    public static string PhaseName(int rowsPerTransaction) => rowsPerTransaction == 1 ? "1 row/tx" : $"{rowsPerTransaction} rows/tx";

    public async Task RunAsync(ScenarioContext context)
    {
        await Execute(context.Admin, "DROP TABLE IF EXISTS bench_event; CREATE TABLE bench_event (LIKE noetl.event INCLUDING ALL)");
        // Its own pool: N connections, like N server connections each committing one transaction at a time.
        var builder = new NpgsqlConnectionStringBuilder(context.System.AdminDsn)
        {
            MaxPoolSize = context.Options.Workers,
            ApplicationName = "noetl-bench-baseline",
            MaxAutoPrepare = 4,
        };
        await using var pool = NpgsqlDataSource.Create(builder.ConnectionString);
        var nextId = 0L; // one sequence for all phases: the table keeps every phase's rows
        try
        {
            foreach (var rows in context.Options.BaselineBatches)
            {
                await context.PhaseAsync(Name, PhaseName(rows), async () =>
                {
                    var recorder = context.NewRecorder();
                    await Task.WhenAll(Enumerable.Range(1, context.Options.Workers).Select(worker => InsertLoop(pool, recorder, worker, rows, () => Interlocked.Add(ref nextId, rows))));
                    var measurement = new Measurement(Name, PhaseName(rows), recorder.PerSecond, "rows/s")
                        .Latency("commit", recorder).ErrorsOf(recorder);
                    measurement.Note = $"{context.Options.Workers} connections, synchronous_commit as shown";
                    return measurement;
                });
            }
        }
        finally
        {
            await Execute(context.Admin, "DROP TABLE IF EXISTS bench_event");
        }
    }

    private static async Task InsertLoop(NpgsqlDataSource pool, Recorder recorder, long executionId, int rows, Func<long> reserve)
    {
        await using var connection = await pool.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(rows == 1 ? SingleRow : MultiRow, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = executionId });
        command.Parameters.Add(new NpgsqlParameter { Value = 0L });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Jsonb, Value = EventsScenario.Payload(executionId) });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Jsonb, Value = Meta });
        while (recorder.Running)
        {
            var last = reserve();
            command.Parameters[1].Value = rows == 1 ? last : Enumerable.Range(0, rows).Select(i => last - i).ToArray();
            var started = Stopwatch.GetTimestamp();
            try
            {
                await command.ExecuteNonQueryAsync();
                recorder.Success(started, rows);
            }
            catch (PostgresException e)
            {
                recorder.Error("insert", 0, e.MessageText);
            }
        }
    }

    /// <summary>About the meta the server stores with a worker event.</summary>
    private const string Meta = """{"actionable": false, "informative": true, "worker_id": "bench-worker", "command_id": 1, "persisted_event_id": 1}""";

    private static async Task Execute(NpgsqlDataSource admin, string sql)
    {
        await using var command = admin.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}
