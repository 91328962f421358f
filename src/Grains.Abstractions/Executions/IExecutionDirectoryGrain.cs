namespace NoEtl.Grains;

/// <summary>
/// Stateless entry points that are not owned by one execution: minting new executions,
/// listing, reading event pages, and routing claims by <c>event_id</c> to the owning grain.
/// </summary>
[Alias("noetl.IExecutionDirectoryGrain")]
public interface IExecutionDirectoryGrain : IGrainWithIntegerKey
{
    /// <summary>Starts the latest (or the asked) version of a catalog entry: a new execution grain's <see cref="IExecutionGrain.Start"/>.</summary>
    /// <remarks>
    /// Invalid (<c>body.resource_kind</c>, and <see cref="IExecutionGrain.Start"/>'s); NotFound (the catalog entry, the parent
    /// execution); Forbidden, Conflict as <see cref="IExecutionGrain.Start"/>; Unavailable.
    /// </remarks>
    [Alias("Execute")] Task<Outcome<ExecutionStarted>> Execute(StartExecution request, string? resourceKind);

    /// <summary>A page of executions, the newest first.</summary>
    /// <remarks>Unavailable.</remarks>
    [Alias("List")] Task<Outcome<IReadOnlyList<ExecutionSummary>>> List(int page, int pageSize);

    /// <remarks>NotFound; Unavailable.</remarks>
    [Alias("Detail")] Task<Outcome<ExecutionDetail>> Detail(long executionId, EventPage page);

    /// <summary>Starts the catalog entry of <paramref name="executionId"/> again, its workload overlaid with <paramref name="workloadJson"/>.</summary>
    /// <remarks>NotFound; Forbidden (<c>wrong_pool</c>); then as <see cref="Execute"/>.</remarks>
    [Alias("Rerun")] Task<Outcome<ExecutionStarted>> Rerun(long executionId, string workloadJson, string? idempotencyKey);

    /// <summary>A bounded report on one execution: duration, events by type, failed steps, slowest steps.</summary>
    /// <remarks>NotFound; Forbidden (<c>wrong_pool</c>); Unavailable.</remarks>
    [Alias("Analyze")] Task<Outcome<ExecutionAnalysis>> Analyze(long executionId, int limit);

    /// <summary>Finds the execution that owns the <c>command.issued</c> event <paramref name="eventId"/>, or null.</summary>
    [Alias("LocateCommand")] Task<long?> LocateCommand(long eventId);

    /// <summary>
    /// The internal projection route: validates the envelopes, groups them by execution and hands each group to its
    /// grain. <paramref name="sourceExecutionId"/> is the execution that projects (the system projector's own).
    /// </summary>
    /// <remarks>Invalid (the envelopes refused, <c>body.events.{i}.{field}</c>); Unavailable.</remarks>
    [Alias("Project")] Task<Outcome<EventsProjected>> Project(JsonText events, long? sourceExecutionId);
}
