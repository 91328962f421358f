using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Runtime;

/// <summary>A worker's registration as NoETL workers send it (<c>base_url</c> is the Python worker's name for <c>uri</c>).</summary>
public sealed record WorkerRegistrationRequest(
    [property: Required] string Name,
    string? Runtime,
    [property: FreeText, AlsoNamed("base_url")] string? Uri,
    string? Status,
    [property: AtLeast(0)] int? Capacity,
    JsonObject? Labels,
    int? Pid,
    string? Hostname,
    JsonObject? Meta)
{
    public WorkerRegistration ToGrain() =>
        new(Name, Runtime, Uri, Status ?? "ready", Capacity, Labels?.ToJsonString(), Pid, Hostname, Meta?.ToJsonString());
}

/// <summary>A heartbeat names its worker, or carries the full registration to re-register an unknown one.</summary>
public sealed record WorkerHeartbeatRequest(WorkerRegistrationRequest? Registration, string? Name) : IRequestRules<WorkerHeartbeatRequest>
{
    public string WorkerName => Name ?? Registration?.Name ?? "";

    public static void Check(RequestBody body)
    {
        var name = Text(body.Raw("name")) ?? Text((body.Raw("registration") as JsonObject)?["name"]);
        if (string.IsNullOrWhiteSpace(name))
            body.Add("missing", "name", "Field required");
    }

    private static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
}

public sealed record WorkerNameRequest([property: Required] string Name);

public static class WorkerPoolEndpoints
{
    public static void MapWorkerPoolEndpoints(this IEndpointRouteBuilder app)
    {
        var pool = app.MapGroup("/api/worker/pool");
        pool.MapPost("/register", Register).ForWorkers();
        pool.MapPost("/heartbeat", Heartbeat).ForWorkers();
        // NoETL's Python server routes both verbs; the Rust worker uses POST.
        pool.MapMethods("/deregister", ["POST", "DELETE"], Deregister).ForWorkers();
        app.MapGet("/api/worker/pools", List).ForOperators();
    }

    private static async Task<Results<Ok<WorkerRegistered>, ForbiddenError, UnavailableError>> Register(
        JsonBody<WorkerRegistrationRequest> body, IGrainFactory grains)
    {
        var outcome = await grains.Reference<IWorkerPoolGrain>(0).Register(body.Value.ToGrain());
        return outcome switch
        {
            { Value: { } registered } => TypedResults.Ok(registered),
            { Failure: { Kind: FailureKind.Forbidden } failure } => ContractResults.Forbidden(failure),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static async Task<Results<Ok<WorkerHeartbeat>, ForbiddenError, UnavailableError>> Heartbeat(
        JsonBody<WorkerHeartbeatRequest> body, IGrainFactory grains)
    {
        var request = body.Value;
        var outcome = await grains.Reference<IWorkerPoolGrain>(0).Heartbeat(request.WorkerName, request.Registration?.ToGrain());
        return outcome switch
        {
            { Value: { } heartbeat } => TypedResults.Ok(heartbeat),
            { Failure: { Kind: FailureKind.Forbidden } failure } => ContractResults.Forbidden(failure),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static async Task<Results<Ok<WorkerDeregistered>, NotFound<ErrorBody>, ForbiddenError, UnavailableError>> Deregister(
        JsonBody<WorkerNameRequest> body, IGrainFactory grains)
    {
        var outcome = await grains.Reference<IWorkerPoolGrain>(0).Deregister(body.Value.Name);
        return outcome switch
        {
            { Value: { } deregistered } => TypedResults.Ok(deregistered),
            { Failure: { Kind: FailureKind.NotFound } failure } => ContractResults.NotFound(failure),
            { Failure: { Kind: FailureKind.Forbidden } failure } => ContractResults.Forbidden(failure),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static async Task<Results<Ok<WorkerPoolList>, UnavailableError>> List(IGrainFactory grains, string? runtime, string? status)
    {
        var outcome = await grains.Reference<IWorkerPoolGrain>(0).List(runtime, status);
        return outcome switch
        {
            { Value: { } workers } => TypedResults.Ok(workers),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }
}
