using System.Text.Json.Nodes;

namespace NoEtl.Cli.Output;

/// <summary>Reads the terminal state from a status or execution document.</summary>
public static class ExecutionState
{
    public const string Completed = "COMPLETED";
    public const string Failed = "FAILED";
    public const string Cancelled = "CANCELLED";

    /// <summary>
    /// COMPLETED, FAILED or CANCELLED once the execution is over, else null. The explicit <c>status</c> wins; NoETL's
    /// Python status route has none, only the <c>completed</c>/<c>failed</c> flags, so those are the fallback.
    /// </summary>
    public static string? Terminal(JsonNode? document)
    {
        var status = Json.Text(document?["status"])?.ToUpperInvariant();
        if (status is Completed or Failed or Cancelled)
            return status;
        if (Json.Bool(document?["failed"]))
            return Failed;
        return Json.Bool(document?["completed"]) ? Completed : null;
    }

    public static int ExitCode(string? terminal) => terminal == Completed ? ExitCodes.Ok : ExitCodes.Failed;
}
