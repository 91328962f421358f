using System.Globalization;
using System.Text.Json.Nodes;
using NoEtl.Worker.Runtime;
using NoEtl.Worker.Tools;

namespace NoEtl.Worker.Commands;

/// <summary>The parts of a claim response the worker uses, with notification values as fallbacks.</summary>
internal sealed record ClaimedCommand(
    long ExecutionId,
    string CommandId,
    string Step,
    string Kind,
    JsonObject ToolConfig,
    JsonObject Input,
    JsonObject RenderContext,
    long? LeaseEpoch,
    string? LeaseToken)
{
    public static ClaimedCommand From(CommandNotification notification, JsonObject claim)
    {
        var context = claim["context"] as JsonObject ?? [];
        var meta = claim["meta"] as JsonObject ?? [];
        var toolConfig = context["tool_config"] as JsonObject ?? [];
        var kind = WorkerJson.ReadString(toolConfig["kind"]) ?? WorkerJson.ReadString(meta["tool_kind"]) ?? WorkerJson.ReadString(claim["action"]) ?? "noop";

        // tool_config is flat ({kind, url, ...}) from PY and {kind, config: {...}} from the Rust command shape.
        JsonObject config;
        if (toolConfig["config"] is JsonObject nested && toolConfig.All(p => p.Key is "kind" or "config" or "timeout"))
        {
            config = (JsonObject)nested.DeepClone();
            if (toolConfig["timeout"] is { } timeout && config["timeout"] is null)
            {
                config["timeout"] = timeout.DeepClone();
            }
        }
        else
        {
            config = (JsonObject)toolConfig.DeepClone();
            config.Remove("kind");
        }

        return new ClaimedCommand(
            WorkerJson.ReadId(claim["execution_id"]) ?? notification.ExecutionId,
            WorkerJson.ReadString(meta["command_id"]) ?? notification.CommandId ?? notification.EventId.ToString(CultureInfo.InvariantCulture),
            WorkerJson.ReadString(claim["node_name"]) ?? WorkerJson.ReadString(meta["step"]) ?? notification.Step ?? "unknown",
            kind,
            config,
            WorkerJson.ObjectOrEmpty(context["input"] ?? context["args"]),
            WorkerJson.ObjectOrEmpty(context["render_context"]),
            WorkerJson.ReadId(claim["lease_epoch"] ?? meta["lease_epoch"]),
            WorkerJson.ReadString(claim["lease_token"] ?? meta["lease_token"]));
    }

    // The record's generated ToString would print the lease token (a bearer for this claim's events): keep it out of logs.
    public override string ToString() => $"{nameof(ClaimedCommand)} {{ ExecutionId = {ExecutionId}, CommandId = {CommandId}, Step = {Step}, Kind = {Kind} }}";

    /// <summary>
    /// Template variables for deferred rendering: the server's render context, the input bindings (also at top
    /// level, as NoETL binds them), the worker keychain as <c>keychain.*</c>/<c>secrets.*</c>, and the ids.
    /// </summary>
    public ToolContext ToContext(WorkerKeychain keychain)
    {
        var variables = (JsonObject)RenderContext.DeepClone();
        foreach (var (name, value) in Input)
        {
            variables[name] = value?.DeepClone();
        }
        variables["input"] = Input.DeepClone();
        var secrets = variables["keychain"] as JsonObject ?? [];
        foreach (var (name, value) in keychain.ToJson())
        {
            secrets[name] = value?.DeepClone();
        }
        variables["keychain"] = secrets;
        variables["secrets"] = secrets.DeepClone();
        variables["execution_id"] = ExecutionId.ToString(CultureInfo.InvariantCulture);
        variables["command_id"] = CommandId;
        return new ToolContext
        {
            ExecutionId = ExecutionId,
            CommandId = CommandId,
            Step = Step,
            Input = (JsonObject)Input.DeepClone(),
            Variables = variables,
        };
    }
}
