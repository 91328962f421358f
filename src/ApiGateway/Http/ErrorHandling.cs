using Microsoft.AspNetCore.Diagnostics;
using Npgsql;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Http;

/// <summary>
/// The last line: nothing escapes as a stack trace. Unreachable silos or database become 503 with
/// <c>Retry-After</c> (NoETL's overload contract); anything else is a 500 with a generic message, logged here.
/// </summary>
public static class ErrorHandling
{
    public static void UseContractErrors(this WebApplication app)
    {
        app.UseExceptionHandler(handler => handler.Run(async context =>
        {
            var exception = context.Features.Get<IExceptionHandlerFeature>()?.Error;
            var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("NoEtl.ApiGateway.Errors");
            var (status, code, message) = exception switch
            {
                // The caller went away (a publisher stopped mid long-poll): nobody reads this answer.
                OperationCanceledException when context.RequestAborted.IsCancellationRequested => (499, "client_closed_request", "Client closed the request"),
                BadHttpRequestException bad => (bad.StatusCode, "bad_request", bad.Message),
                DatabaseUnavailableException unavailable => (503, unavailable.Code, unavailable.Message),
                NpgsqlException or TimeoutException => (503, "db_unavailable", "The database is unavailable; retry later."),
                SiloUnavailableException or OrleansMessageRejectionException
                    => (503, "worker_unavailable", "No silo is available; retry later."),
                _ => (500, "internal_error", "Internal server error"),
            };
            if (status is >= 500 and not 499)
                logger.LogError(exception, "{Method} {Path} failed with {Status}", context.Request.Method, context.Request.Path, status);
            context.Response.StatusCode = status;
            if (status == 503)
                context.Response.Headers.RetryAfter = "1";
            await context.Response.WriteAsJsonAsync(new { detail = new { code, message } });
        }));
    }
}
