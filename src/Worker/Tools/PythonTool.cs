using System.Text.Json;
using System.Text.Json.Nodes;

namespace NoEtl.Worker.Tools;

/// <summary>
/// <c>kind: python</c>: runs <c>code</c> in a fresh <c>python3</c> with NoETL's conventions. Inputs are bound as
/// variables (and passed as keyword arguments to <c>main(...)</c> when the code defines it); otherwise the value of
/// the variable <c>result</c> is the output. The request goes in as JSON on stdin and the answer comes back in a
/// temp file, so whatever the user code prints cannot corrupt the exchange.
/// </summary>
public sealed class PythonTool : ITool
{
    private const string Runner = """
        import contextlib, inspect, io, json, sys, traceback
        def _emit(path, obj):
            with open(path, "w", encoding="utf-8") as f:
                json.dump(obj, f, default=str)
        _path = sys.argv[1]
        _req = json.load(sys.stdin)
        _input = _req.get("input") or {}
        _ns = {"__name__": "__noetl__", "input": _input, "context": _req.get("context") or {}}
        _ns.update({k: v for k, v in _input.items() if k.isidentifier() and k != "result"})
        _out = io.StringIO()
        try:
            with contextlib.redirect_stdout(_out):
                exec(compile(_req["code"], "<noetl-python>", "exec"), _ns)
                _main = _ns.get("main")
                if callable(_main):
                    _params = list(inspect.signature(_main).parameters.values())
                    if any(p.kind == p.VAR_KEYWORD for p in _params):
                        _kwargs = dict(_input)
                    else:
                        _names = {p.name for p in _params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
                        _kwargs = {k: v for k, v in _input.items() if k in _names}
                    _result = _main(**_kwargs)
                else:
                    _result = _ns.get("result")
            _emit(_path, {"ok": True, "result": _result, "stdout": _out.getvalue()})
        except BaseException as e:
            _emit(_path, {"ok": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(), "stdout": _out.getvalue()})
            sys.exit(1)
        """;

    public string Kind => "python";

    /// <summary>The interpreter; NOETL_PYTHON overrides it (e.g. a virtualenv).</summary>
    public string Interpreter { get; init; } = Environment.GetEnvironmentVariable("NOETL_PYTHON") is { Length: > 0 } p ? p : "python3";

    public async Task<ToolOutcome> ExecuteAsync(JsonObject config, ToolContext context, CancellationToken ct)
    {
        var code = config.RequiredStr("code", Kind);
        var input = (JsonObject)context.Input.DeepClone();
        foreach (var key in new[] { "args", "input" })
        {
            if (config[key] is JsonObject extra)
            {
                foreach (var (name, value) in extra)
                {
                    input[name] = value?.DeepClone();
                }
            }
        }
        var request = new JsonObject
        {
            ["code"] = code,
            ["input"] = input,
            ["context"] = WithoutSecrets(context.Variables),
        };

        var resultPath = Path.Combine(Path.GetTempPath(), $"noetl-py-{Guid.NewGuid():N}.json");
        try
        {
            var run = await ProcessRunner.RunAsync(
                Interpreter, ["-c", Runner, resultPath], request.ToJsonString(), null, config.Str("cwd"), config.Timeout(TimeSpan.FromMinutes(10)), ct);
            var answer = ReadAnswer(resultPath);
            var stdout = answer?["stdout"] is JsonValue so && so.TryGetValue(out string? printed) ? printed + run.Stdout : run.Stdout;
            if (run.TimedOut)
            {
                return ToolOutcome.Failure("python code timed out", Diagnostics(stdout, run.Stderr, null), kind: "timeout", retryable: true);
            }
            if (answer is null)
            {
                // The interpreter died before the runner could answer (missing python3, OOM kill, os._exit).
                return ToolOutcome.Failure($"python exited with code {run.ExitCode}: {ShellTool.Tail(run.Stderr)}", Diagnostics(stdout, run.Stderr, null), kind: "python");
            }
            if (answer["ok"]?.GetValue<bool>() != true || run.ExitCode != 0)
            {
                var message = answer["error"]?.GetValue<string>() ?? $"python exited with code {run.ExitCode}";
                return ToolOutcome.Failure(message, Diagnostics(stdout, run.Stderr, answer["traceback"]?.GetValue<string>()), kind: "python");
            }
            // Print-only scripts still produce something useful downstream.
            return ToolOutcome.Success(answer["result"]?.DeepClone() ?? new JsonObject { ["stdout"] = stdout });
        }
        finally
        {
            File.Delete(resultPath);
        }
    }

    private static JsonObject? ReadAnswer(string path)
    {
        try
        {
            return File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path)) as JsonObject : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static JsonObject Diagnostics(string stdout, string stderr, string? traceback) => new()
    {
        ["stdout"] = stdout,
        ["stderr"] = stderr,
        ["traceback"] = traceback,
    };

    // Scripts get the render context but not the worker keychain; code that needs a secret names it in its input.
    private static JsonObject WithoutSecrets(JsonObject variables)
    {
        var copy = (JsonObject)variables.DeepClone();
        copy.Remove("keychain");
        copy.Remove("secrets");
        return copy;
    }
}
