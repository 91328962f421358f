using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using NoEtl.Orchestration.Templates;
using NoEtl.Worker.Templates;

namespace NoEtl.Worker.Tools;

/// <summary>
/// The end state of a pipeline run: per-task data, the <c>set</c> writes, the data of the last task whose result was
/// kept (<c>_prev</c>) and the last task's outcome.
/// </summary>
public sealed record PipelineResult(bool Ok, string? Error, JsonObject Results, JsonObject ContextUpdates, JsonNode? Previous, ToolOutcome? Last)
{
    /// <summary>NoETL's task-sequence response: <c>{status, _prev, results, ctx}</c>, <c>ctx</c> holding the writes.</summary>
    public JsonObject ToResponse()
    {
        var response = new JsonObject
        {
            ["status"] = Ok ? "success" : "failed",
            ["_prev"] = Previous?.DeepClone(),
            ["results"] = Results.DeepClone(),
            ["ctx"] = ContextUpdates.DeepClone(),
        };
        if (Error is not null)
        {
            response["error"] = Error;
        }
        return response;
    }
}

/// <summary>
/// <c>kind: task_sequence</c>: a step's tool pipeline, run on the worker (retries are worker-side in NoETL,
/// <c>noetl/worker/task_sequence_executor.py</c>). Each task is rendered just before it runs, against the command
/// variables plus earlier task results (by name, under <c>results</c>, and <c>_prev</c>) and <c>set</c> writes (in
/// <c>ctx</c> and at the top level). Its <c>spec.policy.rules</c> decide what happens next:
/// continue | retry (attempts, backoff none|linear|exponential, delay) | break | jump (to) | fail. The first rule
/// whose <c>when</c> holds wins, then <c>else: {then}</c> (an <c>else</c> without <c>then</c> is ignored); without a
/// match an ok outcome continues and an error fails. <c>set</c> values are rendered as text, as NoETL's worker does;
/// text that is a JSON object or list is sent parsed.
/// </summary>
public sealed class TaskSequenceTool(
    ITemplateRenderer renderer,
    Func<string, JsonObject, ToolContext, CancellationToken, Task<ToolOutcome>> runTask) : ITool
{
    /// <summary>Bounds jump loops: a pipeline may run at most this many tasks (retries included) per task.</summary>
    public const int MaxRunsPerTask = 100;

    private static readonly string[] ReservedKeys = ["name", "kind", "spec", "set"];

    public string Kind => "task_sequence";

    /// <summary>Test seam: how the pipeline waits between retries.</summary>
    public Func<TimeSpan, CancellationToken, Task> Delay { get; init; } = Task.Delay;

    public async Task<ToolOutcome> ExecuteAsync(JsonObject config, ToolContext context, CancellationToken ct)
    {
        var result = await RunAsync(config["tasks"] as JsonArray ?? throw new ToolConfigException("task_sequence requires 'tasks'"), context, ct);
        var data = result.ToResponse();
        return result.Ok
            ? ToolOutcome.Success(data, result.Last?.Http)
            : ToolOutcome.Failure(result.Error ?? "task_sequence failed", data, result.Last?.Error?.Kind ?? "policy", result.Last?.Error?.Retryable ?? false, result.Last?.Error?.Code, result.Last?.Http);
    }

    /// <param name="renderTasks">False for a single tool whose config the server already rendered.</param>
    public async Task<PipelineResult> RunAsync(JsonArray tasks, ToolContext context, CancellationToken ct, bool renderTasks = true)
    {
        var normalized = tasks.Select((node, i) => Normalize(node, i)).ToList();
        var results = new JsonObject();
        var updates = new JsonObject();
        JsonNode? previous = null;
        ToolOutcome? last = null;
        var attempt = 1;
        var runs = 0;
        var index = 0;

        while (index < normalized.Count)
        {
            if (++runs > MaxRunsPerTask * normalized.Count)
            {
                return new PipelineResult(false, $"task_sequence exceeded {MaxRunsPerTask * normalized.Count} task runs (jump loop?)", results, updates, previous, last);
            }
            var task = normalized[index];
            var variables = Variables(context.Variables, results, updates, previous);
            ToolOutcome outcome;
            try
            {
                var body = Body(task.Config);
                var rendered = renderTasks ? renderer.RenderValue(body, variables) as JsonObject ?? [] : body;
                outcome = await runTask(task.Kind, rendered, context.WithVariables(variables), ct);
            }
            catch (TemplateException ex)
            {
                outcome = ToolOutcome.Failure($"template error: {ex.Reason}", kind: "template");
            }
            last = outcome;

            var policyVariables = (JsonObject)variables.DeepClone();
            policyVariables["output"] = outcome.ToPolicyView();
            policyVariables["attempt"] = attempt;
            PolicyAction action;
            try
            {
                action = Decide(task, outcome, policyVariables);
                Apply(action.Set, policyVariables, updates);
            }
            catch (TemplateException ex)
            {
                return new PipelineResult(false, $"task '{task.Name}' policy error: {ex.Reason}", results, updates, previous, outcome);
            }

            switch (action.Do)
            {
                case "retry" when attempt < action.Attempts:
                    await Delay(action.DelayFor(attempt), ct);
                    attempt++;
                    continue;
                case "retry" when !outcome.Ok:
                    return new PipelineResult(false, $"task '{task.Name}' failed after {attempt} attempts: {outcome.Error?.Message}", results, updates, previous, outcome);
                case "fail":
                    return new PipelineResult(false, $"task '{task.Name}' failed: {outcome.Error?.Message ?? "failed by policy"}", results, updates, previous, outcome);
            }

            // continue, break, jump, and an exhausted retry whose last attempt succeeded all keep the result.
            results[task.Name] = outcome.Data?.DeepClone();
            previous = outcome.Data;
            try
            {
                Apply(task.Set, policyVariables, updates);
            }
            catch (TemplateException ex)
            {
                return new PipelineResult(false, $"task '{task.Name}' set error: {ex.Reason}", results, updates, previous, outcome);
            }
            attempt = 1;
            if (action.Do == "break")
            {
                break;
            }
            if (action.Do == "jump")
            {
                var target = normalized.FindIndex(t => t.Name == action.To);
                if (target < 0)
                {
                    return new PipelineResult(false, $"task '{task.Name}' jumps to unknown task '{action.To}'", results, updates, previous, outcome);
                }
                index = target;
                continue;
            }
            index++;
        }
        return new PipelineResult(true, null, results, updates, previous, last);
    }

    private sealed record PipelineTask(string Name, string Kind, JsonObject Config, JsonArray? Rules, JsonObject? Set);

    /// <summary>The rule's <c>then</c>, read leniently (numbers may arrive as strings after rendering).</summary>
    private sealed record PolicyAction(string Do, int Attempts, string Backoff, double DelaySeconds, string? To, JsonObject? Set)
    {
        public static readonly PolicyAction ContinueDefault = new("continue", 1, "none", 0, null, null);
        public static readonly PolicyAction FailDefault = new("fail", 1, "none", 0, null, null);

        public static PolicyAction From(JsonObject then) => new(
            (then.Str("do") ?? "continue").ToLowerInvariant(),
            (int)(then.Number("attempts") ?? 3),
            (then.Str("backoff") ?? "none").ToLowerInvariant(),
            ParseSeconds(then["delay"]) ?? 1.0,
            then.Str("to"),
            then["set"] as JsonObject);

        /// <summary>Wait before attempt <paramref name="attempt"/>+1; capped at 5 minutes.</summary>
        public TimeSpan DelayFor(int attempt)
        {
            var seconds = Backoff switch
            {
                "linear" => DelaySeconds * attempt,
                "exponential" => DelaySeconds * Math.Pow(2, attempt - 1),
                _ => DelaySeconds,
            };
            return TimeSpan.FromSeconds(Math.Clamp(seconds, 0, 300));
        }
    }

    private PolicyAction Decide(PipelineTask task, ToolOutcome outcome, JsonObject variables)
    {
        foreach (var node in task.Rules ?? [])
        {
            if (node is not JsonObject rule)
            {
                continue;
            }
            if (rule.ContainsKey("else"))
            {
                if ((rule["else"] as JsonObject)?["then"] is JsonObject otherwise)
                {
                    return PolicyAction.From(otherwise);
                }
                continue;
            }
            var when = rule["when"];
            var matches = when switch
            {
                null => true,
                JsonValue v when v.TryGetValue(out bool b) => b,
                _ => renderer.EvaluateCondition(ConfigExtensions.Text(when), variables),
            };
            if (matches)
            {
                return PolicyAction.From(rule["then"] as JsonObject ?? []);
            }
        }
        return outcome.Ok ? PolicyAction.ContinueDefault : PolicyAction.FailDefault;
    }

    /// <summary>
    /// Renders a <c>set</c> block as text and records it; <c>ctx.</c>/<c>iter.</c>/<c>step.</c> prefixes become bare
    /// keys. Values that are not strings (a YAML number, a mapping) keep their type, with templates inside rendered.
    /// </summary>
    private void Apply(JsonObject? set, JsonObject variables, JsonObject updates)
    {
        if (set is null)
        {
            return;
        }
        foreach (var (key, template) in set)
        {
            var bare = key.StartsWith("ctx.", StringComparison.Ordinal) ? key[4..]
                : key.StartsWith("iter.", StringComparison.Ordinal) ? key[5..]
                : key.StartsWith("step.", StringComparison.Ordinal) ? key[5..]
                : key;
            var value = template is JsonValue text && text.GetValueKind() == JsonValueKind.String
                ? AsText(renderer.RenderText(text.GetValue<string>(), variables))
                : renderer.RenderValue(template, variables);
            updates[bare] = value;
            variables[bare] = value?.DeepClone();
        }
    }

    /// <summary>Rendered text, except a JSON object or list, which the server would parse anyway.</summary>
    private static JsonNode? AsText(string rendered)
    {
        var trimmed = rendered.Trim();
        if ((trimmed.StartsWith('{') && trimmed.EndsWith('}')) || (trimmed.StartsWith('[') && trimmed.EndsWith(']')))
        {
            try
            {
                return JsonNode.Parse(trimmed);
            }
            catch (JsonException)
            {
                // Not JSON after all: stays text.
            }
        }
        return JsonValue.Create(rendered);
    }

    private static JsonObject Variables(JsonObject baseVariables, JsonObject results, JsonObject updates, JsonNode? previous)
    {
        var variables = (JsonObject)baseVariables.DeepClone();
        foreach (var (name, data) in results)
        {
            variables[name] = data?.DeepClone();
        }
        variables["results"] = results.DeepClone();
        var ctx = variables["ctx"] as JsonObject ?? [];
        foreach (var (name, value) in updates)
        {
            variables[name] = value?.DeepClone();
            ctx[name] = value?.DeepClone();
        }
        variables["ctx"] = ctx.Parent is null ? ctx : ctx.DeepClone();
        variables["_prev"] = previous?.DeepClone();
        return variables;
    }

    private static JsonObject Body(JsonObject config)
    {
        var body = new JsonObject();
        foreach (var (key, value) in config)
        {
            if (!ReservedKeys.Contains(key))
            {
                body[key] = value?.DeepClone();
            }
        }
        return body;
    }

    /// <summary>Accepts <c>{name, kind, ...}</c> and the nested <c>{label: {kind, ...}}</c> pipeline forms.</summary>
    private static PipelineTask Normalize(JsonNode? node, int index)
    {
        if (node is not JsonObject task)
        {
            throw new ToolConfigException($"task_sequence task #{index} must be an object");
        }
        if (task["kind"] is null && task.Count == 1 && task.First().Value is JsonObject nested && nested["kind"] is not null)
        {
            var label = task.First().Key;
            task = (JsonObject)nested.DeepClone();
            task["name"] = label;
        }
        var kind = task.Str("kind") ?? throw new ToolConfigException($"task_sequence task #{index} has no 'kind'");
        var name = task.Str("name") ?? $"task_{index}";
        var rules = task["spec"]?["policy"]?["rules"] as JsonArray;
        return new PipelineTask(name, kind, task, rules, task["set"] as JsonObject);
    }

    /// <summary>Reads a delay given as seconds (1.5) or with a unit ("500ms", "2s", "1m").</summary>
    private static double? ParseSeconds(JsonNode? node)
    {
        var text = ConfigExtensions.Text(node).Trim();
        if (text.Length == 0)
        {
            return null;
        }
        var (number, scale) = text switch
        {
            _ when text.EndsWith("ms", StringComparison.OrdinalIgnoreCase) => (text[..^2], 0.001),
            _ when text.EndsWith('s') => (text[..^1], 1.0),
            _ when text.EndsWith('m') => (text[..^1], 60.0),
            _ => (text, 1.0),
        };
        return double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value * scale : null;
    }
}
