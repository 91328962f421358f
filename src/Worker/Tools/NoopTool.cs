using System.Text.Json.Nodes;

namespace NoEtl.Worker.Tools;

/// <summary><c>kind: noop</c> returns its rendered <c>result:</c> (or {}); many playbook steps only shape data.</summary>
public sealed class NoopTool : ITool
{
    public string Kind => "noop";

    public Task<ToolOutcome> ExecuteAsync(JsonObject config, ToolContext context, CancellationToken ct) =>
        Task.FromResult(ToolOutcome.Success(config["result"]?.DeepClone() ?? new JsonObject()));
}
