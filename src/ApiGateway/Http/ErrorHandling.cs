using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Diagnostics;
using Npgsql;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Http;

/// <summary>
/// The last line: nothing escapes as a stack trace. Unreachable silos or database become 503 with
/// <c>Retry-After</c> (NoETL's overload contract), a grain call past the response timeout 504 <c>timeout</c>,
/// input PostgreSQL refused 422 in FastAPI's shape; anything else is a 500 with a generic message, logged here.
/// </summary>
public static class ErrorHandling
{
    public static void UseContractErrors(this WebApplication app)
    {
        app.UseExceptionHandler(handler => handler.Run(async context =>
        {
            var exception = context.Features.Get<IExceptionHandlerFeature>()?.Error;
            var (status, body) = Classify(exception, context.Request, context.RequestAborted.IsCancellationRequested);
            if (status is >= 500 and not 499)
            {
                var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("NoEtl.ApiGateway.Errors");
                logger.LogError(exception, "{Method} {Path} failed with {Status}", context.Request.Method, context.Request.Path, status);
            }
            context.Response.StatusCode = status;
            if (status is 503 or 504)
                context.Response.Headers.RetryAfter = "1";
            await context.Response.WriteAsJsonAsync(body);
        }));
    }

    /// <summary>The contract's status and <c>{"detail": ...}</c> document for an exception that escaped a route.</summary>
    public static (int Status, JsonObject Body) Classify(Exception? exception, HttpRequest request, bool clientGone) => exception switch
    {
        // The caller went away (a publisher stopped mid long-poll): nobody reads this answer.
        OperationCanceledException when clientGone => Coded(499, "client_closed_request", "Client closed the request"),
        BadHttpRequestException bad => Coded(bad.StatusCode, "bad_request", bad.Message),
        InvalidInputException invalid => (StatusCodes.Status422UnprocessableEntity, new JsonObject
        {
            ["detail"] = new JsonArray(new JsonObject
            {
                ["type"] = "value_error",
                ["loc"] = new JsonArray(HttpMethods.IsGet(request.Method) ? "query" : "body"),
                ["msg"] = invalid.Message,
            }),
        }),
        DatabaseUnavailableException unavailable => Coded(503, unavailable.Code, unavailable.Message),
        NpgsqlException => Coded(503, "db_unavailable", "The database is unavailable; retry later."),
        // Orleans' response timeout: the grain may still be working or stuck, the database is not known to be down.
        TimeoutException => Coded(504, "timeout", "The server did not answer in time; retry later."),
        SiloUnavailableException or OrleansMessageRejectionException => Coded(503, "worker_unavailable", "No silo is available; retry later."),
        _ => Coded(500, "internal_error", "Internal server error"),
    };

    private static (int, JsonObject) Coded(int status, string code, string message) =>
        (status, new JsonObject { ["detail"] = new JsonObject { ["code"] = code, ["message"] = message } });
}
