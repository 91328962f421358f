using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NoEtl.Orchestration.Templates;
using NoEtl.Worker.Templates;

namespace NoEtl.Worker.Tools;

/// <summary>
/// <c>kind: python</c>: runs the code in a fresh <c>python3</c> with NoETL's conventions (v4.12.1
/// <c>noetl/tools/python/executor.py</c>): the args are bound as globals beside <c>context</c>, <c>os</c>, <c>json</c>,
/// <c>datetime</c>, <c>uuid</c>, <c>data</c> and <c>input_data</c>; <c>main(...)</c> is called when defined, else the
/// variable <c>result</c> is the output. The request goes in as JSON on stdin and the answer comes back in a temp file,
/// so whatever the user code prints cannot corrupt the exchange.
/// </summary>
public sealed class PythonTool(ITemplateRenderer renderer) : ITool
{
    /// <summary>The largest program accepted, whether given as <c>code</c>, <c>code_b64</c> or a <c>script</c> file.</summary>
    public const int MaxCodeBytes = 1 << 20;

    /// <summary>The largest answer read back; past it the command fails instead of loading it into the worker.</summary>
    public const int MaxResultBytes = 32 << 20;

    private const string Runner = """
        import ast, asyncio, contextlib, datetime, importlib, inspect, io, json, os, sys, traceback, uuid
        _MISSING = object()

        def _emit(path, obj):
            with open(path, "w", encoding="utf-8") as f:
                json.dump(obj, f, default=str)

        def _coerce(value):
            # NoETL: text that looks like a mapping or a list becomes one, as JSON, else as a Python literal.
            if isinstance(value, str):
                text = value.strip()
                if (text.startswith("{") and text.endswith("}")) or (text.startswith("[") and text.endswith("]")):
                    try:
                        return json.loads(text)
                    except ValueError:
                        try:
                            return ast.literal_eval(text)
                        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                            pass
            return value

        def _compile(code):
            tree = ast.parse(code, "<noetl-python>")
            if tree.body and isinstance(tree.body[0], ast.Return):
                # A body that starts with `return` runs as a function whose value is the result.
                wrapper = ast.parse("def __noetl_body__():\n    pass\nresult = __noetl_body__()")
                wrapper.body[0].body = tree.body
                tree = ast.fix_missing_locations(wrapper)
            return compile(tree, "<noetl-python>", "exec")

        def _libs(libs):
            if isinstance(libs, dict):
                return {alias: importlib.import_module(module) for alias, module in libs.items()}
            if isinstance(libs, list):
                return {name.split(".")[0]: __import__(name) for name in libs}
            raise TypeError("libs must be a mapping {alias: module} or a list of module names")

        def _lookup(name, args, context):
            if name in args:
                return args[name]
            for source in (context.get("input"), context.get("data"), context):
                if isinstance(source, dict) and name in source:
                    return source[name]
            return _MISSING

        def _call_main(main, args, context):
            positional, keywords = [], {}
            for p in inspect.signature(main).parameters.values():
                if p.kind == p.VAR_POSITIONAL:
                    continue
                if p.kind == p.VAR_KEYWORD:
                    keywords.update({k: v for k, v in args.items() if k not in keywords})
                    continue
                value = _lookup(p.name, args, context)
                if value is _MISSING:
                    if p.default is p.empty:
                        raise TypeError(f"main() parameter '{p.name}' has no value: it is not in the args, context.input, context.data or context")
                    continue
                if p.kind == p.POSITIONAL_ONLY:
                    positional.append(value)
                else:
                    keywords[p.name] = value
            value = main(*positional, **keywords)
            if inspect.isawaitable(value):
                async def _await():
                    return await value
                value = asyncio.run(_await())
            return value

        _path = sys.argv[1]
        _req = json.load(sys.stdin)
        _out = io.StringIO()
        try:
            with contextlib.redirect_stdout(_out):
                _args = {k: _coerce(v) for k, v in (_req.get("args") or {}).items()}
                _context = _req.get("context") or {}
                _ns = {"__name__": "__noetl__", "__builtins__": __builtins__, "context": _context, "os": os, "json": json,
                       "datetime": datetime, "uuid": uuid, "data": dict(_args), "input_data": dict(_args)}
                if _req.get("libs"):
                    _ns.update(_libs(_req["libs"]))
                _ns.update({k: v for k, v in _args.items() if k.isidentifier()})
                _before = dict(_ns)
                exec(_compile(_req["code"]), _ns)
                # The code's own names: new ones and rebound ones (not the pre-bound values it left alone).
                _locals = [k for k, v in _ns.items() if k not in _before or _before[k] is not v]
                if callable(_ns.get("main")):
                    _result = _call_main(_ns["main"], _args, _context)
                elif "result" in _locals:
                    _result = _ns["result"]
                else:
                    _result = {"status": "success", "message": "Code executed successfully", "locals_count": len(_locals), "locals_keys": _locals}
            _emit(_path, {"ok": True, "result": _result, "stdout": _out.getvalue()})
        except BaseException as e:
            _emit(_path, {"ok": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(), "stdout": _out.getvalue()})
            sys.exit(1)
        """;

    public string Kind => "python";

    /// <summary>The interpreter; NOETL_PYTHON overrides it (e.g. a virtualenv).</summary>
    public string Interpreter { get; init; } = Environment.GetEnvironmentVariable("NOETL_PYTHON") is { Length: > 0 } p ? p : "python3";

    /// <summary>Where <c>script: {uri}</c> files are read from (NOETL_SCRIPT_BASE_PATH); paths may not leave it.</summary>
    public string ScriptBasePath { get; init; } = Directory.GetCurrentDirectory();

    public async Task<ToolOutcome> ExecuteAsync(JsonObject config, ToolContext context, CancellationToken ct)
    {
        var request = new JsonObject
        {
            ["code"] = Code(config),
            ["args"] = Args(config, context),
            ["libs"] = config["libs"]?.DeepClone(),
            ["context"] = WithoutSecrets(context.Variables),
        };

        var resultPath = Path.Combine(Path.GetTempPath(), $"noetl-py-{Guid.NewGuid():N}.json");
        try
        {
            var run = await ProcessRunner.RunAsync(
                Interpreter, ["-c", Runner, resultPath], request.ToJsonString(), null, config.Str("cwd"), config.Timeout(TimeSpan.FromMinutes(10)), ct);
            if (run.TimedOut)
            {
                return ToolOutcome.Failure("python code timed out", Diagnostics(run.Stdout, run.Stderr, null), kind: "timeout", retryable: true);
            }
            if (new FileInfo(resultPath) is { Exists: true, Length: > MaxResultBytes } tooLarge)
            {
                return ToolOutcome.Failure($"python result is {tooLarge.Length} bytes, over the {MaxResultBytes}-byte limit", Diagnostics(run.Stdout, run.Stderr, null), kind: "python");
            }
            var answer = ReadAnswer(resultPath);
            var stdout = answer?["stdout"] is JsonValue so && so.TryGetValue(out string? printed) ? printed + run.Stdout : run.Stdout;
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
            return ToolOutcome.Success(answer["result"]?.DeepClone());
        }
        finally
        {
            File.Delete(resultPath);
        }
    }

    /// <summary>NoETL's order of code sources: <c>script</c>, then <c>code_b64</c>, then <c>code</c>.</summary>
    private string Code(JsonObject config)
    {
        var code = config["script"] is { } script ? ReadScript(script)
            : config.Str("code_b64") is { Length: > 0 } encoded ? Decode(encoded)
            : config.Str("code") is { Length: > 0 } inline ? inline
            : throw new ToolConfigException("python tool requires 'code', 'code_b64' or 'script'");
        var bytes = Encoding.UTF8.GetByteCount(code);
        return bytes <= MaxCodeBytes ? code : throw new ToolConfigException($"python code is {bytes} bytes, over the {MaxCodeBytes}-byte limit");
    }

    private static string Decode(string encoded)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Convert.FromBase64String(encoded));
        }
        catch (Exception ex) when (ex is FormatException or DecoderFallbackException)
        {
            throw new ToolConfigException("python code_b64 is not base64-encoded UTF-8 text");
        }
    }

    /// <summary>
    /// NoETL's <c>script: {uri, source: {type: file}}</c> (<c>path</c> is accepted for <c>uri</c>). This worker reads
    /// local files only, below <see cref="ScriptBasePath"/>; remote sources (gcs, s3, http) are refused.
    /// </summary>
    private string ReadScript(JsonNode script)
    {
        if (script is not JsonObject spec)
        {
            throw new ToolConfigException("python script must be a mapping {uri, source: {type: file}}");
        }
        var type = (spec["source"] as JsonObject)?.Str("type") ?? "file";
        var uri = spec.Str("uri") ?? spec.Str("path") ?? throw new ToolConfigException("python script requires 'uri'");
        if (uri.StartsWith("file://", StringComparison.OrdinalIgnoreCase))
        {
            uri = uri["file://".Length..];
        }
        if (!type.Equals("file", StringComparison.OrdinalIgnoreCase) || uri.Contains("://", StringComparison.Ordinal))
        {
            throw new ToolConfigException($"python script source '{type}' ({uri}) is not supported: this worker reads local files only");
        }
        var root = Path.GetFullPath(ScriptBasePath);
        var full = Path.GetFullPath(uri, root);
        if (!IsBelow(full, root))
        {
            throw Outside(uri);
        }
        if (!File.Exists(full))
        {
            throw new ToolConfigException($"python script '{uri}' not found under the script base path (NOETL_SCRIPT_BASE_PATH)");
        }
        // A link inside the base path must not lead out of it (the base path itself may be a link).
        var file = new FileInfo(File.ResolveLinkTarget(full, returnFinalTarget: true)?.FullName ?? full);
        var realRoot = Directory.ResolveLinkTarget(root, returnFinalTarget: true)?.FullName ?? root;
        if (!IsBelow(file.FullName, root) && !IsBelow(file.FullName, realRoot))
        {
            throw Outside(uri);
        }
        if (file.Length > MaxCodeBytes)
        {
            throw new ToolConfigException($"python script '{uri}' is {file.Length} bytes, over the {MaxCodeBytes}-byte limit");
        }
        return File.ReadAllText(file.FullName);
    }

    private static ToolConfigException Outside(string uri) =>
        new($"python script '{uri}' is outside the script base path (NOETL_SCRIPT_BASE_PATH)");

    private static bool IsBelow(string path, string root) =>
        path.StartsWith(Path.EndsInDirectorySeparator(root) ? root : root + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>
    /// <c>tool.args</c>, then <c>tool.input</c>, then the step's command input, each winning over the one before;
    /// a string that still holds a template is rendered against the command's render context.
    /// </summary>
    private JsonObject Args(JsonObject config, ToolContext context)
    {
        var args = new JsonObject();
        foreach (var source in new[] { config["args"] as JsonObject, config["input"] as JsonObject, context.Input })
        {
            foreach (var (name, value) in source ?? [])
            {
                args[name] = value?.DeepClone();
            }
        }
        foreach (var (name, value) in args.ToList())
        {
            if (value is JsonValue text && text.GetValueKind() == JsonValueKind.String && Template.IsTemplate(text.GetValue<string>()))
            {
                args[name] = renderer.RenderValue(value, context.Variables);
            }
        }
        return args;
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
