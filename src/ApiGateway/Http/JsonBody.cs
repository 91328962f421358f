using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Metadata;

namespace NoEtl.ApiGateway.Http;

/// <summary>A request record's field that holds free text (<see cref="RequestLimits.MaxTextLength"/>), not an identifier.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class FreeTextAttribute : Attribute;

/// <summary>Another name NoETL clients send the field under (<c>base_url</c> for <c>uri</c>); the canonical name wins.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class AlsoNamedAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}

/// <summary>A request record whose body may be empty (read as <c>{}</c>).</summary>
public interface IOptionalBody;

/// <summary>A request record with rules across fields, checked once its fields are valid; errors go to <paramref name="body"/>.</summary>
public interface IRequestRules
{
    void Check(RequestBody body);
}

/// <summary>
/// A route's typed JSON body (<typeparamref name="T"/>, a record of <see cref="GatewayJson"/>), bound in two passes: the
/// strict <see cref="RequestBody"/> reader checks the document (size, depth, duplicate keys, NUL and lone surrogates)
/// and every field the record declares (type, required, identifier or text length, integer range, ids as numbers or
/// numeric strings) with NoETL's FastAPI-shaped 422s; only a body that passed is deserialized, by the source-generated
/// metadata. The route's validation filter (added with the parameter) answers the 422 before the handler runs, and
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
        var typeInfo = (JsonTypeInfo<T>)GatewayJson.Default.GetTypeInfo(typeof(T))!;
        var fields = RequestSchema.Check(body, typeInfo);
        if (body.HasErrors)
            return new JsonBody<T>(null, body.Errors());
        var value = fields.Deserialize(typeInfo)!;
        (value as IRequestRules)?.Check(body);
        return body.HasErrors ? new JsonBody<T>(null, body.Errors()) : new JsonBody<T>(value, null);
    }

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
    /// <summary>The body's fields under their canonical names, absent and null fields left out (as the reader treats them).</summary>
    public static JsonObject Check(RequestBody body, JsonTypeInfo record)
    {
        var fields = new JsonObject();
        foreach (var property in record.Properties)
        {
            if (property.Set is null)
                continue; // an answer-only property
            var attributes = property.AttributeProvider;
            string[] names = [property.Name, .. attributes?.GetCustomAttributes(typeof(AlsoNamedAttribute), true).Cast<AlsoNamedAttribute>().Select(a => a.Name) ?? []];
            var required = attributes?.IsDefined(typeof(RequiredAttribute), true) == true;
            var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (Read(body, property, type, names, required, attributes) is { } value)
                fields[property.Name] = value;
        }
        return fields;
    }

    private static JsonNode? Read(RequestBody body, JsonPropertyInfo property, Type type, string[] names, bool required, ICustomAttributeProvider? attributes)
    {
        var freeText = attributes?.IsDefined(typeof(FreeTextAttribute), true) == true;
        if (type == typeof(string))
        {
            _ = (required, freeText) switch
            {
                (true, true) => body.RequiredText(names[0]),
                (true, false) => body.RequiredString(names),
                (false, true) => body.Text(names),
                (false, false) => body.String(names),
            };
        }
        else if (type == typeof(long))
        {
            _ = required ? body.RequiredId(names) : body.Id(names);
        }
        else if (type == typeof(int))
        {
            var range = attributes?.GetCustomAttributes(typeof(RangeAttribute), true).Cast<RangeAttribute>().FirstOrDefault();
            _ = body.Int(names[0], Bound(range?.Minimum, int.MinValue), Bound(range?.Maximum, int.MaxValue));
        }
        else if (type == typeof(bool))
        {
            _ = body.Bool(names[0], fallback: false);
        }
        else if (type == typeof(JsonObject))
        {
            _ = body.Object(names);
        }
        else if (type == typeof(JsonArray))
        {
            _ = body.Array(names[0]);
        }
        else if (property.Options.GetTypeInfo(type) is { Kind: JsonTypeInfoKind.Object } nested)
        {
            // A record inside the record: its fields are checked where they are, under the field's location.
            return body.Object(names) is { } inner ? Check(body.Nested(inner, names[0]), nested) : null;
        }
        else
        {
            throw new NotSupportedException($"{type.Name} fields have no request rule; add one to {nameof(RequestSchema)}");
        }
        return body.Raw(names)?.DeepClone();
    }

    /// <summary>A bound of <see cref="RangeAttribute"/>; <see cref="int.MinValue"/>/<see cref="int.MaxValue"/> mean none.</summary>
    private static int? Bound(object? value, int none) => value is int bound && bound != none ? bound : null;
}

/// <summary>NoETL's 422: <c>{"detail": [{"type", "loc", "msg"}]}</c> (FastAPI's shape).</summary>
public sealed record ValidationErrors(IReadOnlyList<FieldError> Detail);

public sealed record FieldError(string Type, IReadOnlyList<string> Loc, string Msg);
