using System.Text.Json.Nodes;

namespace NoEtl.Integration.Tests.Infrastructure;

public static class Executions
{
    /// <summary>Polls the status route until the execution is terminal.</summary>
    public static async Task<JsonNode> WaitTerminalAsync(this HttpClient http, long executionId, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        JsonNode status;
        do
        {
            status = await http.Status(executionId);
            if (status["completed"]!.GetValue<bool>())
                return status;
            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);
        var events = string.Join(", ", (await http.Events(executionId)).Select(e => $"{e!["event_type"]}:{e["node_name"]}"));
        throw new TimeoutException($"execution {executionId} still {status["status"]} after the timeout; events: {events}");
    }

    public static string ExamplesFolder => Path.Combine(BuildOutput.RepositoryRoot, "examples");

    public static string Example(string name) => File.ReadAllText(Path.Combine(ExamplesFolder, name + ".yaml"));
}
