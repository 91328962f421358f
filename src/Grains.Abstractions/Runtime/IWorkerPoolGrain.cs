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

/// <summary>The worker registry (stateless: rows in <c>noetl.runtime</c> are the state).</summary>
[Alias("noetl.IWorkerPoolGrain")]
public interface IWorkerPoolGrain : IGrainWithIntegerKey
{
    [Alias("Register")] Task<Reply> Register(WorkerRegistration registration);

    [Alias("Heartbeat")] Task<Reply> Heartbeat(string name, WorkerRegistration? registration);

    [Alias("Deregister")] Task<Reply> Deregister(string name);

    [Alias("List")] Task<Reply> List(string? runtime, string? status);
}
