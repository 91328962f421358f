namespace NoEtl.Grains;

/// <summary>
/// Stateless entry points that are not owned by one execution: minting new executions,
/// listing, reading event pages, and routing claims by <c>event_id</c> to the owning grain.
/// </summary>
[Alias("noetl.IExecutionDirectoryGrain")]
public interface IExecutionDirectoryGrain : IGrainWithIntegerKey
{
    [Alias("Execute")] Task<Reply> Execute(StartExecution request, string? resourceKind);

    [Alias("List")] Task<Reply> List(int page, int pageSize);

    [Alias("Detail")] Task<Reply> Detail(long executionId, EventPage page);

    /// <summary>Starts the catalog entry of <paramref name="executionId"/> again, its workload overlaid with <paramref name="workloadJson"/>.</summary>
    [Alias("Rerun")] Task<Reply> Rerun(long executionId, string workloadJson, string? idempotencyKey);

    /// <summary>A bounded report on one execution: duration, events by type, failed steps, slowest steps.</summary>
    [Alias("Analyze")] Task<Reply> Analyze(long executionId, int limit);

    /// <summary>Finds the execution that owns the <c>command.issued</c> event <paramref name="eventId"/>, or null.</summary>
    [Alias("LocateCommand")] Task<long?> LocateCommand(long eventId);

    /// <summary>
    /// The internal projection route: validates the envelopes, groups them by execution and hands each group to its
    /// grain. <paramref name="sourceExecutionId"/> is the execution that projects (the system projector's own).
    /// </summary>
    /// <remarks>Invalid (the envelopes refused, <c>body.events.{i}.{field}</c>); Unavailable.</remarks>
    [Alias("Project")] Task<Outcome<EventsProjected>> Project(JsonText events, long? sourceExecutionId);
}
