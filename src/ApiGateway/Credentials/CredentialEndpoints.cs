using NoEtl.ApiGateway.Auth;
using System.Text.Json;
using System.Text.Json.Nodes;
using NoEtl.ApiGateway.Http;
using NoEtl.ApiGateway.Internal;
using NoEtl.Configuration;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Credentials;

/// <summary>
/// NoETL's credential routes (noetl-api.md §1.1 (10), §1.2 (11)) and the token-gated key rotation.
/// Bodies are validated here so that nothing is stored from bad input; secret data is never logged.
/// </summary>
public static class CredentialEndpoints
{
    public static void MapCredentialEndpoints(this IEndpointRouteBuilder app)
    {
        var credentials = app.MapGroup("/api/credentials");
        var operatorSecretRead = ConfigurationValues.Bool(app.ServiceProvider.GetRequiredService<IConfiguration>(), OperatorSecretReadSetting, true);

        credentials.MapPost("", async (HttpRequest request, IGrainFactory grains) =>
        {
            var (body, error) = await RequestBody.ReadAsync(request);
            if (body is null)
                return error!;
            var name = body.RequiredString("name");
            var type = body.String("type", "credential_type") ?? "generic";
            var data = body.Secret("data");
            var meta = body.Object("meta");
            var tags = Tags(body);
            var description = body.Text("description");
            if (body.HasErrors)
                return body.Errors();
            var input = new CredentialInput(name, type, data!.ToJsonString(), meta?.ToJsonString(), tags, description);
            return await grains.Reference<ICredentialGrain>(0).Upsert(input).ToHttp();
        }).ForOperators();

        credentials.MapGet("", (IGrainFactory grains, string? type, string? q) =>
            grains.Reference<ICredentialGrain>(0).List(NullIfEmpty(type), NullIfEmpty(q)).ToHttp()).ForAnyPrincipal();

        credentials.MapGet("/{identifier}", async (string identifier, HttpRequest request, IGrainFactory grains) =>
        {
            var query = request.Query;
            if (!TryQueryBool(query["include_data"], out var includeData))
                return RequestBody.Problem("bool_parsing", ["query", "include_data"], "Input should be a valid boolean");
            if (!QueryIds.TryRead(query["catalog_id"], out var catalogId))
                return QueryIds.Problem("catalog_id");
            if (!QueryIds.TryRead(query["execution_id"], out var executionId))
                return QueryIds.Problem("execution_id");
            if (!QueryIds.TryRead(query["parent_execution_id"], out var parentExecutionId))
                return QueryIds.Problem("parent_execution_id");
            if (includeData && request.HttpContext.Items[ApiAuthentication.CallerItem] is Caller caller && SecretReadRefusal(caller, executionId, operatorSecretRead) is { } refusal)
            {
                grains.Reference<IAuditGrain>(0).Record(new AuditEntry(caller.Principal, caller.Role, "credential.read", caller.Route,
                    identifier, executionId, "forbidden", null)).Ignore();
                return Results.Json(new { detail = refusal }, statusCode: StatusCodes.Status403Forbidden);
            }
            var read = new CredentialRead(includeData, catalogId, executionId, parentExecutionId);
            return await grains.Reference<ICredentialGrain>(0).Get(identifier, read).ToHttp();
        }).ForAnyPrincipal();

        credentials.MapDelete("/{identifier}", (string identifier, IGrainFactory grains) =>
            grains.Reference<ICredentialGrain>(0).Delete(identifier).ToHttp()).ForOperators();

        app.MapGroup("/api/internal/credentials").AddEndpointFilter<InternalTokenGate>()
            .MapPost("/rotate", (IGrainFactory grains) => grains.Reference<ICredentialGrain>(0).Rotate().ToHttp());
    }

    /// <summary><c>false</c>: operators (the GUI's Secrets page, the CLI) see credential metadata only.</summary>
    public const string OperatorSecretReadSetting = "NOETL_OPERATOR_SECRET_READ";

    /// <summary>
    /// Who may read plaintext: a worker for an execution (the grain checks that it exists and is of the worker's pool),
    /// never on its own (a stolen worker token does not list the store's secrets); an operator unless
    /// <see cref="OperatorSecretReadSetting"/> is false. Every read and refusal is audited as <c>credential.read</c>.
    /// </summary>
    private static string? SecretReadRefusal(Caller caller, long? executionId, bool operatorSecretRead) => caller.Role switch
    {
        Caller.WorkerRole when executionId is null =>
            "Workers read secret data for an execution of their pool only: pass execution_id.",
        Caller.OperatorRole when !operatorSecretRead =>
            $"Secret data is not served to operators on this server ({OperatorSecretReadSetting}=false).",
        _ => null,
    };

    /// <summary>NoETL accepts tags as a list of strings or as one comma-separated string.</summary>
    private static string[]? Tags(RequestBody body)
    {
        switch (body.Fields["tags"])
        {
            case null:
                return null;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                return value.GetValue<string>().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            case JsonArray list when list.All(t => t is JsonValue v && v.GetValueKind() == JsonValueKind.String):
                return [.. list.Select(t => t!.GetValue<string>())];
            default:
                body.Add("list_type", "tags", "Input should be a list of strings or a comma-separated string");
                return null;
        }
    }

    internal static bool TryQueryBool(string? text, out bool value)
    {
        value = false;
        switch (text?.Trim().ToLowerInvariant())
        {
            case null or "":
            case "false" or "0" or "no" or "off" or "f" or "n":
                return true;
            case "true" or "1" or "yes" or "on" or "t" or "y":
                value = true;
                return true;
            default:
                return false;
        }
    }

    private static string? NullIfEmpty(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;
}
