using System.Buffers;
using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Metadata;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Http;

/// <summary>A request record's field that holds free text (<see cref="RequestLimits.MaxTextLength"/>), not an identifier.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class FreeTextAttribute : Attribute;

/// <summary>A text field bounded by the body size alone: a document (a playbook's YAML, which the engine bounds itself).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class DocumentAttribute : Attribute;

/// <summary>An integer field that also takes <c>"latest"</c>, read as absent (NoETL's catalog versions).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class OrLatestAttribute : Attribute;

/// <summary>Another name NoETL clients send the field under (<c>base_url</c> for <c>uri</c>); the canonical name wins.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class AlsoNamedAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}

/// <summary>An integer field with a lower bound only (<see cref="RangeAttribute"/> states both).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class AtLeastAttribute(int minimum) : Attribute
{
    public int Minimum { get; } = minimum;
}

/// <summary>A string field that takes one of a few values; anything else is refused with <c>literal_error</c> and <see cref="Message"/>.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class OneOfAttribute(string message, params string[] values) : Attribute
{
    public string Message { get; } = message;

    public IReadOnlyList<string> Values { get; } = values;
}

/// <summary>A string field holding an ISO 8601 date-time (read by <see cref="RequestBody.Timestamp"/>).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class IsoDateTimeAttribute : Attribute;

/// <summary>A JSON object of secret values (read by <see cref="RequestBody.Secret"/>: required, bounded, never logged).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class SecretDocumentAttribute : Attribute;

/// <summary>A <see cref="JsonText"/> field that takes any JSON value (a result's data), not only an object.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class AnyJsonAttribute : Attribute;

/// <summary>A request record whose body may be empty (read as <c>{}</c>).</summary>
public interface IOptionalBody;

/// <summary>
/// A request record with rules across fields. They are checked on the body as sent, with its field errors (so one
/// answer lists every problem, as the reader always did); errors go to the body.
/// </summary>
public interface IRequestRules<TSelf>
    where TSelf : IRequestRules<TSelf>
{
    static abstract void Check(RequestBody body);
}

/// <summary>
/// A route's typed JSON body (<typeparamref name="T"/>, a record of <see cref="GatewayJson"/>), bound in two passes: the
/// strict <see cref="RequestBody"/> reader checks the document (size, depth, duplicate keys, NUL and lone surrogates)
/// and every field the record declares (type, required, identifier or text length, integer range, ids as numbers or
/// numeric strings, handed to the record as numbers) with NoETL's FastAPI-shaped 422s; only a body that passed is deserialized, by the source-generated
/// metadata, from its checked fields written once as UTF-8 (no copies of the parsed tree, so a worker's payload is
/// written once and read once on the hot routes). The route's validation filter (added with the parameter) answers the 422 before the handler runs, and
/// the record is the route's documented request body.
/// </summary>
public sealed class JsonBody<T> : IBindableFromHttpContext<JsonBody<T>>, IEndpointParameterMetadataProvider
    where T : class
{
    private readonly T? _value;

    private JsonBody(T? value, IResult? problem)
    {
        _value = value;
        Problem = problem;
    }

    /// <summary>The bound record; the validation filter keeps handlers from running without one.</summary>
    public T Value => _value ?? throw new InvalidOperationException($"{typeof(T).Name} was read without its validation filter");

    public IResult? Problem { get; }

    public static async ValueTask<JsonBody<T>?> BindAsync(HttpContext context, ParameterInfo parameter)
    {
        var (body, error) = await RequestBody.ReadAsync(context.Request, allowEmpty: typeof(IOptionalBody).IsAssignableFrom(typeof(T)));
        if (body is null)
            return new JsonBody<T>(null, error);
        var fields = RequestSchema.Check(body, TypeInfo);
        Rules?.Invoke(body);
        return body.HasErrors ? new JsonBody<T>(null, body.Errors()) : new JsonBody<T>(fields.Deserialize(TypeInfo), null);
    }

    private static readonly JsonTypeInfo<T> TypeInfo = (JsonTypeInfo<T>)GatewayJson.Default.GetTypeInfo(typeof(T))!;

    private static readonly Action<RequestBody>? Rules = typeof(T).GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IRequestRules<>))
        ? typeof(RequestSchema).GetMethod(nameof(RequestSchema.CheckRules))!.MakeGenericMethod(typeof(T)).CreateDelegate<Action<RequestBody>>()
        : null;

    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder)
    {
        builder.Metadata.Add(new JsonRequestMetadata(typeof(T), typeof(IOptionalBody).IsAssignableFrom(typeof(T))));
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status422UnprocessableEntity, typeof(ValidationErrors), ["application/json"]));
        builder.FilterFactories.Add((_, next) => async invocation =>
            invocation.Arguments.OfType<JsonBody<T>>().FirstOrDefault() is { Problem: { } problem } ? problem : await next(invocation));
    }

    private sealed record JsonRequestMetadata(Type RequestType, bool IsOptional) : IAcceptsMetadata
    {
        public IReadOnlyList<string> ContentTypes { get; } = ["application/json"];
    }
}

/// <summary>Checks a body's fields against a request record's metadata with the strict reader's rules.</summary>
internal static class RequestSchema
{
    /// <summary>The fields of each record type, with what their attributes say: read once, not on every request.</summary>
    private static readonly ConcurrentDictionary<JsonTypeInfo, FieldRule[]> FieldRules = new();

    /// <summary>The body's fields under their canonical names, absent and null fields left out (as the reader treats them).</summary>
    public static CheckedFields Check(RequestBody body, JsonTypeInfo record)
    {
        var fields = new CheckedFields();
        // Properties without a setter are answer-only.
        foreach (var field in FieldRules.GetOrAdd(record, type => [.. type.Properties.Where(p => p.Set is not null).Select(FieldRule.Of)]))
        {
            if (Read(body, field) is { } value)
                fields.Add(field.Names[0], value);
        }
        return fields;
    }

    /// <summary>A record property and its request rules; <see cref="Names"/> starts with the canonical name.</summary>
    private sealed record FieldRule(
        JsonPropertyInfo Property, Type Type, string[] Names, bool Required, bool FreeText, bool Document, bool OrLatest, bool SecretDocument,
        bool IsoDateTime, OneOfAttribute? OneOf, bool AnyJson, int? Minimum, int? Maximum, MinLengthAttribute? MinLength, MaxLengthAttribute? MaxLength)
    {
        public static FieldRule Of(JsonPropertyInfo property)
        {
            var attributes = property.AttributeProvider;
            T? One<T>() where T : Attribute => attributes?.GetCustomAttributes(typeof(T), true).OfType<T>().FirstOrDefault();
            var range = One<RangeAttribute>();
            string[] names = [property.Name, .. attributes?.GetCustomAttributes(typeof(AlsoNamedAttribute), true).Cast<AlsoNamedAttribute>().Select(a => a.Name) ?? []];
            return new FieldRule(property, Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType, names,
                One<RequiredAttribute>() is not null, One<FreeTextAttribute>() is not null, One<DocumentAttribute>() is not null,
                One<OrLatestAttribute>() is not null, One<SecretDocumentAttribute>() is not null,
                One<IsoDateTimeAttribute>() is not null, One<OneOfAttribute>(), One<AnyJsonAttribute>() is not null,
                One<AtLeastAttribute>()?.Minimum ?? range?.Minimum as int?, range?.Maximum as int?, One<MinLengthAttribute>(), One<MaxLengthAttribute>());
        }
    }

    private static object? Read(RequestBody body, FieldRule field)
    {
        var (type, names, required) = (field.Type, field.Names, field.Required);
        if (field.SecretDocument)
        {
            _ = body.Secret(names[0]);
        }
        else if (field.IsoDateTime)
        {
            _ = body.Timestamp(names[0]);
        }
        else if (field.OneOf is { } oneOf)
        {
            if (body.String(names) is { } text && !oneOf.Values.Contains(text))
                body.Add("literal_error", names[0], oneOf.Message);
        }
        else if (type == typeof(string) && field.Document)
        {
            _ = required ? body.RequiredText(names[0], maxLength: int.MaxValue) : body.Text(names);
        }
        else if (type == typeof(string))
        {
            _ = (required, field.FreeText) switch
            {
                (true, true) => body.RequiredText(names[0]),
                (true, false) => body.RequiredString(names),
                (false, true) => body.Text(names),
                (false, false) => body.String(names),
            };
        }
        else if (type == typeof(long))
        {
            // NoETL's ids come as numbers or numeric strings: the record gets the number.
            return (required ? body.RequiredId(names) : body.Id(names)) is { } id ? JsonValue.Create(id) : null;
        }
        else if (type == typeof(int) && field.OrLatest && body.Raw(names)?.ToString() == "latest")
        {
            return null;
        }
        else if (type == typeof(int))
        {
            return body.Int(names[0], field.Minimum, field.Maximum) is { } number ? JsonValue.Create(number) : null;
        }
        else if (type == typeof(long[]))
        {
            return body.IdList(names[0]) is { } ids ? new JsonArray([.. ids.Select(id => (JsonNode)id)]) : null;
        }
        else if (type == typeof(bool))
        {
            _ = body.Bool(names[0], fallback: false);
        }
        else if (type == typeof(JsonText) && field.AnyJson)
        {
            // Any value; an explicit null reaches the record as an absent one (rules that tell them apart read the body).
        }
        else if (type == typeof(JsonObject) || type == typeof(JsonText))
        {
            _ = body.Object(names);
        }
        else if (type == typeof(string[]))
        {
            return body.StringList(names[0]) is { } items ? new JsonArray([.. items.Select(item => (JsonNode)item)]) : null;
        }
        else if (type == typeof(JsonArray))
        {
            _ = body.Array(names[0]);
        }
        else if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IReadOnlyList<>)
                 && field.Property.Options.GetTypeInfo(type.GetGenericArguments()[0]) is { Kind: JsonTypeInfoKind.Object } itemRecord)
        {
            return CheckList(body, field, itemRecord);
        }
        else if (field.Property.Options.GetTypeInfo(type) is { Kind: JsonTypeInfoKind.Object } nested)
        {
            // A record inside the record: its fields are checked where they are, under the field's location.
            return body.Object(names) is { } inner ? Check(body.Nested(inner, names[0]), nested) : null;
        }
        else
        {
            throw new NotSupportedException($"{type.Name} fields have no request rule; add one to {nameof(RequestSchema)}");
        }
        return body.Raw(names);
    }

    /// <summary>
    /// A list of records (a batch's events): its length bounds (<see cref="MinLengthAttribute"/>, <see cref="MaxLengthAttribute"/>,
    /// an absent list counting as empty), then each item's fields under <c>name.index</c>, up to the first item with an error.
    /// </summary>
    private static List<CheckedFields>? CheckList(RequestBody body, FieldRule field, JsonTypeInfo itemRecord)
    {
        var name = field.Names[0];
        if (body.Fields[name] is not (null or JsonArray))
        {
            _ = body.Array(name); // answers list_type
            return null;
        }
        var items = body.Fields[name] as JsonArray;
        var count = items?.Count ?? 0;
        if (field.MinLength is { } min && count < min.Length)
            body.Add("too_short", name, min.ErrorMessage ?? $"List should have at least {min.Length} item(s)");
        else if (field.MaxLength is { } max && count > max.Length)
            body.Add("too_long", name, max.ErrorMessage ?? $"List should have at most {max.Length} item(s)");
        var checkedItems = new List<CheckedFields>(count);
        for (var i = 0; i < count && !body.HasErrors; i++)
        {
            if (items![i] is JsonObject item)
                checkedItems.Add(Check(body.Nested(item, name, i.ToString(System.Globalization.CultureInfo.InvariantCulture)), itemRecord));
            else
                body.Add("dict_type", $"{name}.{i}", "Input should be a valid dictionary");
        }
        return items is null ? null : checkedItems;
    }

    public static void CheckRules<TRules>(RequestBody body)
        where TRules : IRequestRules<TRules> => TRules.Check(body);
}

/// <summary>
/// A checked body under its record's names: the values are the parsed body's own nodes (ids and lists as read), or
/// the fields of a nested record, written once as the UTF-8 the record is deserialized from.
/// </summary>
internal sealed class CheckedFields
{
    private readonly List<(string Name, object Value)> _fields = [];

    /// <param name="value">A <see cref="JsonNode"/>, a nested record's <see cref="CheckedFields"/>, or a list of them.</param>
    public void Add(string name, object value) => _fields.Add((name, value));

    public T Deserialize<T>(JsonTypeInfo<T> typeInfo)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
            WriteTo(writer);
        return JsonSerializer.Deserialize(buffer.WrittenSpan, typeInfo)!;
    }

    private void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        foreach (var (name, value) in _fields)
        {
            writer.WritePropertyName(name);
            switch (value)
            {
                case CheckedFields nested:
                    nested.WriteTo(writer);
                    break;
                case List<CheckedFields> items:
                    writer.WriteStartArray();
                    foreach (var item in items)
                        item.WriteTo(writer);
                    writer.WriteEndArray();
                    break;
                default:
                    ((JsonNode)value).WriteTo(writer);
                    break;
            }
        }
        writer.WriteEndObject();
    }
}

/// <summary>NoETL's 422: <c>{"detail": [{"type", "loc", "msg"}]}</c> (FastAPI's shape).</summary>
public sealed record ValidationErrors(IReadOnlyList<FieldError> Detail);

public sealed record FieldError(string Type, IReadOnlyList<string> Loc, string Msg);
