namespace NoEtl.ApiGateway.Http;

/// <summary>
/// Query-string and path values reach SQL as text filters and keys (<c>/api/audit?principal=</c>, a credential name):
/// one with a NUL, a lone surrogate or more than <see cref="RequestLimits.MaxIdentifierLength"/> characters is a 422
/// before any handler runs.
/// </summary>
public static class RequestTargetLimits
{
    public static void UseRequestTargetLimits(this WebApplication app) => app.Use(async (context, next) =>
    {
        var request = context.Request;
        var values = request.Query.SelectMany(q => q.Value.Select(v => (Source: "query", Name: q.Key, Value: v ?? "")))
            .Concat(request.RouteValues.Select(r => (Source: "path", Name: r.Key, Value: r.Value as string ?? "")));
        var maxLength = RequestLimits.Of(context).MaxIdentifierLength;
        var refusal = values.Select(value => Refusal(value, maxLength)).FirstOrDefault(r => r is not null);
        if (refusal is null)
            await next(context);
        else
            await refusal.ExecuteAsync(context);
    });

    private static IResult? Refusal((string Source, string Name, string Value) parameter, int maxLength)
    {
        if (RequestBody.Unstorable(parameter.Value) is { } message)
            return RequestBody.Problem("string_unicode", [parameter.Source, parameter.Name], message);
        return parameter.Value.Length > maxLength
            ? RequestBody.Problem("string_too_long", [parameter.Source, parameter.Name], $"String should have at most {maxLength} characters")
            : null;
    }
}
