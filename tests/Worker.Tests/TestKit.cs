using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using NoEtl.Worker.Runtime;
using NoEtl.Worker.Templates;
using NoEtl.Worker.Tools;

namespace NoEtl.Worker.Tests;

/// <summary>Builds the worker's pieces by hand, pointed at a fake server.</summary>
internal static class TestKit
{
    /// <summary>The script base path of the test worker's python tool: the test output directory.</summary>
    public static readonly string ScriptBase = AppContext.BaseDirectory;

    public static WorkerOptions Options(string serverUrl, string? token = null) => new()
    {
        ServerUrls = [serverUrl],
        WorkerId = "test-worker",
        InternalApiToken = token,
    };

    public static ServerClient Server(WorkerOptions options) =>
        new(new HttpClient(), options, NullLogger<ServerClient>.Instance)
        {
            RetryDelays = [TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(10)],
        };

    public static ToolExecutor Executor(ServerClient server, WorkerKeychain? keychain = null)
    {
        var credentials = new CredentialResolver(server, keychain ?? new WorkerKeychain(new Dictionary<string, string>()));
        ITool[] tools =
        [
            new NoopTool(),
            new PythonTool(new OrchestrationTemplates()) { ScriptBasePath = ScriptBase },
            new ShellTool(),
            new HttpTool(HttpTool.CreateClient(), credentials),
            new PostgresTool(credentials),
            new PlaybookTool(server),
        ];
        return new ToolExecutor(tools, new OrchestrationTemplates(), NullLogger<ToolExecutor>.Instance);
    }

    public static ToolContext Context(JsonObject? input = null, JsonObject? variables = null) => new()
    {
        ExecutionId = 42,
        CommandId = "7",
        Step = "step1",
        Input = input ?? [],
        Variables = variables ?? [],
    };

    public static JsonObject Obj(string json) => JsonNode.Parse(json)!.AsObject();
}
