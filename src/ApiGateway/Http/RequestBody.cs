using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Http;

/// <summary>
/// Reads a JSON request body, the one reader of every route: lenient about shape (unknown fields ignored, ids as
/// numbers or numeric strings), strict about content (no duplicate keys, no nesting past
/// <see cref="RequestLimits.MaxJsonDepth"/>, no string or key PostgreSQL cannot store, bounded field lengths). Every
/// error is answered as FastAPI's 422 <c>{"detail":[{"type","loc","msg"}]}</c>.
/// </summary>
public sealed class RequestBody
{
    private const string LoneSurrogate = "Input should be valid Unicode: a lone UTF-16 surrogate is not allowed";

    private readonly RequestLimits _limits;
    private readonly List<JsonObject> _errors;
    private readonly string[] _location;

    private RequestBody(JsonObject fields, RequestLimits limits, List<JsonObject>? errors = null, string[]? location = null)
    {
        Fields = fields;
        _limits = limits;
        _errors = errors ?? [];
        _location = location ?? ["body"];
    }

    public JsonObject Fields { get; }

    public bool HasErrors => _errors.Count > 0;

    /// <summary>Parses the body; an empty body counts as <c>{}</c> when <paramref name="allowEmpty"/>.</summary>
    public static async Task<(RequestBody? Body, IResult? Error)> ReadAsync(HttpRequest request, bool allowEmpty = false)
    {
        var limits = RequestLimits.Of(request.HttpContext);
        JsonNode? node;
        try
        {
            using var reader = new StreamReader(request.Body);
            var text = await reader.ReadToEndAsync(request.HttpContext.RequestAborted);
            if (string.IsNullOrWhiteSpace(text))
                return allowEmpty ? (new RequestBody([], limits), null) : (null, Problem("missing", [], "Request body is required"));
            node = JsonNode.Parse(text, documentOptions: limits.Json);
        }
        catch (JsonException e)
        {
            return (null, Problem("json_invalid", [], $"Invalid JSON: {e.Message}"));
        }
        catch (InvalidOperationException)
        {
            // The duplicate-key check decodes every key, and a key escaping a lone surrogate cannot be decoded.
            return (null, Problem("string_unicode", ["body"], LoneSurrogate));
        }
        if (node is not JsonObject fields)
            return (null, Problem("model_attributes_type", [], "Request body must be a JSON object"));
        return FirstUnstorable(fields, ["body"]) is { } unstorable
            ? (null, Results.Json(new JsonObject { ["detail"] = new JsonArray(unstorable) }, statusCode: StatusCodes.Status422UnprocessableEntity))
            : (new RequestBody(fields, limits), null);
    }

    /// <summary>Why PostgreSQL text could not hold <paramref name="text"/> (a NUL, an unpaired UTF-16 surrogate), or null.</summary>
    public static string? Unstorable(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\0')
                return "NUL characters are not allowed";
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                i++;
            else if (char.IsSurrogate(text[i]))
                return LoneSurrogate;
        }
        return null;
    }

    public IResult Errors() => Results.Json(new JsonObject { ["detail"] = new JsonArray([.. _errors]) }, statusCode: StatusCodes.Status422UnprocessableEntity);

    public static IResult Problem(string type, string[] location, string message) =>
        Results.Json(new JsonObject { ["detail"] = new JsonArray(Error(type, location, message)) }, statusCode: StatusCodes.Status422UnprocessableEntity);

    /// <summary>Keys are stored and indexed, not payloads: longer ones are refused.</summary>
    public const int MaxIdempotencyKeyLength = 200;

    /// <summary>
    /// <c>Idempotency-Key</c>, or the <c>X-Idempotency-Key</c> some clients send; null when neither is sent, a 422
    /// problem when it is empty or longer than <see cref="MaxIdempotencyKeyLength"/>.
    /// </summary>
    public static (string? Key, UnprocessableEntity<ValidationErrors>? Problem) IdempotencyKey(HttpRequest request)
    {
        var key = request.Headers["Idempotency-Key"].FirstOrDefault() ?? request.Headers["X-Idempotency-Key"].FirstOrDefault();
        return key is { Length: 0 or > MaxIdempotencyKeyLength }
            ? (null, ContractResults.FieldProblem("string_too_long", ["header", "Idempotency-Key"], $"Idempotency-Key must have 1 to {MaxIdempotencyKeyLength} characters"))
            : (key, null);
    }

    public JsonNode? Raw(params string[] names) => names.Select(n => Fields[n]).FirstOrDefault(v => v is not null);

    /// <summary>An identifier: at most <see cref="RequestLimits.MaxIdentifierLength"/> characters.</summary>
    public string? String(params string[] names) => ReadString(names, required: false, _limits.MaxIdentifierLength);

    public string RequiredString(params string[] names) => ReadString(names, required: true, _limits.MaxIdentifierLength) ?? "";

    /// <summary>Free text: at most <see cref="RequestLimits.MaxTextLength"/> characters.</summary>
    public string? Text(params string[] names) => ReadString(names, required: false, _limits.MaxTextLength);

    public string RequiredText(string name, int? maxLength = null) => ReadString([name], required: true, maxLength ?? _limits.MaxTextLength) ?? "";

    public long? Id(params string[] names) => ReadId(names, required: false);

    public long RequiredId(params string[] names) => ReadId(names, required: true) ?? 0;

    public int? Int(string name, int? min = null, int? max = null)
    {
        if (Fields[name] is not { } node)
            return null;
        if (node is JsonValue value && value.TryGetValue<int>(out var number)
            || node is JsonValue text && text.TryGetValue<string>(out var s) && int.TryParse(s, out number))
        {
            if (number < (min ?? int.MinValue) || number > (max ?? int.MaxValue))
                Add("value_error", name, $"must be between {min} and {max}");
            return number;
        }
        Add("int_type", name, "Input should be a valid integer");
        return null;
    }

    public bool Bool(string name, bool fallback)
    {
        switch (Fields[name])
        {
            case null:
                return fallback;
            case JsonValue value when value.TryGetValue<bool>(out var flag):
                return flag;
            default:
                Add("bool_type", name, "Input should be a valid boolean");
                return fallback;
        }
    }

    /// <summary>Bounds of a secret document: far above any real credential, small enough to keep rows and keychain copies cheap.</summary>
    public const int MaxSecretBytes = 64 * 1024;

    /// <summary>A required JSON object holding secret values, at most <see cref="MaxSecretBytes"/> once serialized.</summary>
    public JsonObject? Secret(string field)
    {
        switch (Fields[field])
        {
            case null:
                Add("missing", field, "Field required");
                return null;
            case JsonObject data when Encoding.UTF8.GetByteCount(data.ToJsonString()) > MaxSecretBytes:
                Add("too_long", field, $"{field} must serialize to at most {MaxSecretBytes} bytes");
                return null;
            case JsonObject data:
                return data;
            default:
                Add("dict_type", field, "Input should be a valid dictionary (a JSON object)");
                return null;
        }
    }

    /// <summary>An ISO 8601 date-time; one without an offset is UTC.</summary>
    public DateTimeOffset? Timestamp(string field)
    {
        if (Fields[field] is not { } node)
            return null;
        if (node is JsonValue value && value.GetValueKind() == JsonValueKind.String && ParseTimestamp(value.GetValue<string>()) is { } parsed)
            return parsed;
        Add("datetime_parsing", field, "Input should be an ISO 8601 date-time");
        return null;
    }

    public static DateTimeOffset? ParseTimestamp(string? text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed) ? parsed : null;

    public JsonObject? Object(params string[] names)
    {
        var node = Raw(names);
        if (node is null or JsonObject)
            return node as JsonObject;
        Add("dict_type", names[0], "Input should be a valid dictionary");
        return null;
    }

    /// <summary>A list of strings, or one comma-separated string (as NoETL accepts tags).</summary>
    public string[]? StringList(string name)
    {
        switch (Fields[name])
        {
            case null:
                return null;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                return value.GetValue<string>().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            case JsonArray list when list.All(t => t is JsonValue v && v.GetValueKind() == JsonValueKind.String):
                return [.. list.Select(t => t!.GetValue<string>())];
            default:
                Add("list_type", name, "Input should be a list of strings or a comma-separated string");
                return null;
        }
    }

    /// <summary>A list of ids, each a number or a numeric string.</summary>
    public long[]? IdList(string name)
    {
        if (Array(name) is not { } items)
            return null;
        var ids = items.Select(WireIds.Read).ToList();
        if (ids.Any(id => id is null))
        {
            Add("int_parsing", name, $"Every item of {name} must be an integer id (number or numeric string)");
            return null;
        }
        return [.. ids.Select(id => id!.Value)];
    }

    public JsonArray? Array(string name)
    {
        var node = Fields[name];
        if (node is null or JsonArray)
            return node as JsonArray;
        Add("list_type", name, "Input should be a valid list");
        return null;
    }

    public void Add(string type, string field, string message) =>
        _errors.Add(Error(type, [.. _location, .. field.Split('.')], message));

    /// <summary>A reader for an object inside this body (a batch item) whose errors land in this body's list.</summary>
    public RequestBody Nested(JsonObject fields, params string[] location) => new(fields, _limits, _errors, [.. _location, .. location]);

    private string? ReadString(string[] names, bool required, int maxLength)
    {
        var node = Raw(names);
        if (node is null)
        {
            if (required)
                Add("missing", names[0], "Field required");
            return null;
        }
        if (node is JsonValue value && value.GetValueKind() == JsonValueKind.String)
        {
            var text = value.GetValue<string>();
            if (required && string.IsNullOrWhiteSpace(text))
                Add("string_too_short", names[0], "Field must not be empty");
            else if (text.Length > maxLength)
                Add("string_too_long", names[0], $"String should have at most {maxLength} characters");
            return text;
        }
        Add("string_type", names[0], "Input should be a valid string");
        return null;
    }

    private long? ReadId(string[] names, bool required)
    {
        var node = Raw(names);
        if (node is null)
        {
            if (required)
                Add("missing", names[0], "Field required");
            return null;
        }
        var id = WireIds.Read(node);
        if (id is null)
            Add("int_parsing", names[0], "Input should be an integer id (number or numeric string)");
        return id;
    }

    /// <summary>
    /// The first key or string value that PostgreSQL could not store. An escaped lone surrogate (<c>"\ud800"</c>)
    /// makes System.Text.Json throw when the string is materialized, so that is caught here, before any handler reads it.
    /// </summary>
    private static JsonObject? FirstUnstorable(JsonNode? node, string[] location)
    {
        switch (node)
        {
            case JsonObject fields:
                List<KeyValuePair<string, JsonNode?>> properties;
                try { properties = [.. fields]; }
                catch (InvalidOperationException) { return Error("string_unicode", location, LoneSurrogate); }
                foreach (var (key, value) in properties)
                {
                    if (Unstorable(key) is { } problem)
                        return Error("string_unicode", [.. location], $"Key: {problem}");
                    if (FirstUnstorable(value, [.. location, key]) is { } found)
                        return found;
                }
                return null;
            case JsonArray items:
                for (var i = 0; i < items.Count; i++)
                {
                    if (FirstUnstorable(items[i], [.. location, i.ToString()]) is { } found)
                        return found;
                }
                return null;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                string text;
                try { text = value.GetValue<string>(); }
                catch (InvalidOperationException) { return Error("string_unicode", location, LoneSurrogate); }
                return Unstorable(text) is { } message ? Error("string_unicode", location, message) : null;
            default:
                return null;
        }
    }

    private static JsonObject Error(string type, string[] location, string message) => new()
    {
        ["type"] = type,
        ["loc"] = new JsonArray([.. location.Select(l => (JsonNode)l)]),
        ["msg"] = message,
    };
}
