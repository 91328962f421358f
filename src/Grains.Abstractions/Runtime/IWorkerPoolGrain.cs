using System.Text.Json.Serialization;

namespace NoEtl.Grains;

/// <summary>A worker's registration in <c>noetl.runtime</c>, as sent by NoETL workers.</summary>
[GenerateSerializer, Immutable, Alias("noetl.WorkerRegistration")]
public sealed record WorkerRegistration(
    [property: Id(0)] string Name,
    [property: Id(1)] string? Runtime,
    [property: Id(2)] string? Uri,
    [property: Id(3)] string Status,
    [property: Id(4)] int? Capacity,
    [property: Id(5)] string? LabelsJson,
    [property: Id(6)] int? Pid,
    [property: Id(7)] string? Hostname,
    [property: Id(8)] string? MetaJson);

/// <summary>A registration accepted: <c>{"status":"ok","name","runtime_id","kind":"worker_pool","runtime"}</c>.</summary>
[GenerateSerializer, Immutable, Alias("noetl.WorkerRegistered")]
public sealed record WorkerRegistered(
    [property: Id(0)] string Name,
    [property: Id(1), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long RuntimeId,
    [property: Id(2)] string? Runtime)
{
    [JsonPropertyOrder(-1)] public string Status => "ok";

    public string Kind => "worker_pool";
}

/// <summary>A heartbeat: <c>status</c> is <c>recreated</c> when an unknown worker was registered from it.</summary>
[GenerateSerializer, Immutable, Alias("noetl.WorkerHeartbeat")]
public sealed record WorkerHeartbeat(
    [property: Id(0)] string Status,
    [property: Id(1)] string Name,
    [property: Id(2), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long RuntimeId);

[GenerateSerializer, Immutable, Alias("noetl.WorkerDeregistered")]
public sealed record WorkerDeregistered([property: Id(0)] string Name)
{
    [JsonPropertyOrder(-1)] public string Status => "ok";

    public string Kind => "worker_pool";
}

/// <summary>One worker of <c>GET /api/worker/pools</c>; times are ISO 8601 text as NoETL answers them.</summary>
[GenerateSerializer, Immutable, Alias("noetl.WorkerPoolEntry")]
public sealed record WorkerPoolEntry(
    [property: Id(0)] string Name,
    [property: Id(1)] JsonText? Runtime,
    [property: Id(2)] string Status,
    [property: Id(3)] int? Capacity,
    [property: Id(4)] JsonText? Labels,
    [property: Id(5)] string Heartbeat,
    [property: Id(6)] string CreatedAt,
    [property: Id(7)] string UpdatedAt);

/// <summary><c>GET /api/worker/pools</c>: the workers and the filters that selected them.</summary>
[GenerateSerializer, Immutable, Alias("noetl.WorkerPoolList")]
public sealed record WorkerPoolList(
    [property: Id(0)] IReadOnlyList<WorkerPoolEntry> Items,
    [property: Id(1)] string? Runtime,
    [property: Id(2)] string? Status)
{
    public int Count => Items.Count;

    /// <summary>NoETL's list replies carry <c>"error": null</c>.</summary>
    public string? Error => null;
}

/// <summary>The worker registry (stateless: rows in <c>noetl.runtime</c> are the state).</summary>
[Alias("noetl.IWorkerPoolGrain")]
public interface IWorkerPoolGrain : IGrainWithIntegerKey
{
    /// <summary>Forbidden (<c>wrong_pool</c>) when another pool registered the name; Unavailable.</summary>
    [Alias("Register")] Task<Outcome<WorkerRegistered>> Register(WorkerRegistration registration);

    /// <summary>Forbidden (<c>wrong_pool</c>); Unavailable.</summary>
    [Alias("Heartbeat")] Task<Outcome<WorkerHeartbeat>> Heartbeat(string name, WorkerRegistration? registration);

    /// <summary>NotFound; Forbidden (<c>wrong_pool</c>); Unavailable.</summary>
    [Alias("Deregister")] Task<Outcome<WorkerDeregistered>> Deregister(string name);

    /// <summary>Unavailable.</summary>
    [Alias("List")] Task<Outcome<WorkerPoolList>> List(string? runtime, string? status);
}
