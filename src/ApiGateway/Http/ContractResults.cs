using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Http;

/// <summary>
/// NoETL's error document, <c>{"detail": "text"}</c> or <c>{"detail": {"code", "message", "name"?}}</c>;
/// <see cref="ErrorBodies"/> adds <c>error</c>.
/// </summary>
public sealed record ErrorBody(JsonNode Detail)
{
    public static ErrorBody Of(Failure failure)
    {
        if (failure.Code is null)
            return new(JsonValue.Create(failure.Message));
        var detail = new JsonObject { ["code"] = failure.Code, ["message"] = failure.Message };
        if (failure.Subject is { } subject)
            detail["name"] = subject;
        if (failure.Extra is { } extra && JsonNode.Parse(extra.Json) is JsonObject members)
            foreach (var (key, value) in members)
                detail[key] = value?.DeepClone();
        return new(detail);
    }
}

/// <summary>
/// A grain's <see cref="Failure"/> as the typed result its route declares: each route lists in its signature the
/// failures its grain method may answer and maps them here, so the status codes read from the route.
/// </summary>
public static class ContractResults
{
    public static NotFound<ErrorBody> NotFound(Failure failure) => TypedResults.NotFound(ErrorBody.Of(failure));

    public static Conflict<ErrorBody> Conflict(Failure failure) => TypedResults.Conflict(ErrorBody.Of(failure));

    /// <summary>A 409 that tells the client when to try again (a claim held by a live worker).</summary>
    public static ConflictError RetryableConflict(Failure failure) => new(ErrorBody.Of(failure), failure.RetryAfterSeconds);

    public static TooLargeError TooLarge(Failure failure) => new(ErrorBody.Of(failure));

    /// <summary>The fields the grain refused (<see cref="Failure.Fields"/>, or <see cref="Failure.Field"/>; dotted), as FastAPI's <c>value_error</c>s.</summary>
    public static UnprocessableEntity<ValidationErrors> Invalid(Failure failure) =>
        TypedResults.UnprocessableEntity(new ValidationErrors([.. (failure.Fields ?? [new FieldFailure(failure.Field ?? "body", failure.Message)])
            .Select(field => new FieldError("value_error", field.Field.Split('.', StringSplitOptions.RemoveEmptyEntries), field.Message))]));

    /// <summary>An <see cref="FailureKind.Invalid"/> about no one field: <c>{"detail": message}</c>.</summary>
    public static UnprocessableEntity<ErrorBody> Unprocessable(Failure failure) => TypedResults.UnprocessableEntity(ErrorBody.Of(failure));

    public static ForbiddenError Forbidden(Failure failure) => new(ErrorBody.Of(failure));

    public static UnavailableError Unavailable(Failure failure) => new(ErrorBody.Of(failure), failure.RetryAfterSeconds ?? 1);

    /// <summary>A path or query parameter's 422, in the body reader's shape (<c>loc</c> <c>["query", name]</c>).</summary>
    public static UnprocessableEntity<ValidationErrors> FieldProblem(string type, string[] location, string message) =>
        TypedResults.UnprocessableEntity(new ValidationErrors([new FieldError(type, location, message)]));

    /// <summary>A grain answered a failure its method does not declare: a programming error, answered 500.</summary>
    public static InvalidOperationException Undeclared(Failure? failure) =>
        new($"the grain answered {failure?.Kind.ToString() ?? "nothing"}, which this route does not declare");
}

/// <summary>403 with NoETL's error document (not an authentication challenge, which <c>TypedResults.Forbid</c> is).</summary>
public sealed class ForbiddenError(ErrorBody body) : ErrorResult(body, StatusCodes.Status403Forbidden), IEndpointMetadataProvider
{
    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) => Document(builder, StatusCodes.Status403Forbidden);
}

/// <summary>503 with <c>Retry-After</c> (NoETL's overload contract: <c>db_unavailable</c>, <c>pool_saturated</c>, <c>overloaded</c>).</summary>
public sealed class UnavailableError(ErrorBody body, int retryAfterSeconds) : ErrorResult(body, StatusCodes.Status503ServiceUnavailable), IEndpointMetadataProvider
{
    public override Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.Headers.RetryAfter = retryAfterSeconds.ToString();
        return base.ExecuteAsync(httpContext);
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) => Document(builder, StatusCodes.Status503ServiceUnavailable);
}

/// <summary>409 with NoETL's error document and, when the refusal says when to retry, <c>Retry-After</c>.</summary>
public sealed class ConflictError(ErrorBody body, int? retryAfterSeconds) : ErrorResult(body, StatusCodes.Status409Conflict), IEndpointMetadataProvider
{
    public override Task ExecuteAsync(HttpContext httpContext)
    {
        if (retryAfterSeconds is { } seconds)
            httpContext.Response.Headers.RetryAfter = seconds.ToString();
        return base.ExecuteAsync(httpContext);
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) => Document(builder, StatusCodes.Status409Conflict);
}

/// <summary>413: the request carries more than the server keeps (an inline result past its cap, a stored result past the store's).</summary>
public sealed class TooLargeError(ErrorBody body) : ErrorResult(body, StatusCodes.Status413PayloadTooLarge), IEndpointMetadataProvider
{
    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) => Document(builder, StatusCodes.Status413PayloadTooLarge);
}

/// <summary>An error status the built-in typed results do not offer, with <see cref="ErrorBody"/> as its document.</summary>
public abstract class ErrorResult(ErrorBody body, int status) : IResult, IStatusCodeHttpResult, IValueHttpResult<ErrorBody>, IValueHttpResult
{
    public int? StatusCode => status;

    public ErrorBody Value => body;

    object? IValueHttpResult.Value => body;

    public virtual Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = status;
        return httpContext.Response.WriteAsJsonAsync(body);
    }

    protected static void Document(EndpointBuilder builder, int status) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(status, typeof(ErrorBody), ["application/json"]));
}
