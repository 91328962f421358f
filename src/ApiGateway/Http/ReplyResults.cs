using NoEtl.Grains;

namespace NoEtl.ApiGateway.Http;

/// <summary>Maps a grain's outcome to the contract's HTTP status; the body is already the contract document.</summary>
public static class ReplyResults
{
    public static IResult NotFound(string message) => Results.Json(new { detail = message }, statusCode: StatusCodes.Status404NotFound);

    public static IResult ToHttp(this Reply reply) => new ReplyResult(reply);

    public static async Task<IResult> ToHttp(this Task<Reply> reply) => new ReplyResult(await reply);

    private sealed class ReplyResult(Reply reply) : IResult
    {
        public Task ExecuteAsync(HttpContext context)
        {
            context.Response.StatusCode = reply.Status switch
            {
                ReplyStatus.Ok => StatusCodes.Status200OK,
                ReplyStatus.Accepted => StatusCodes.Status202Accepted,
                ReplyStatus.NotFound => StatusCodes.Status404NotFound,
                ReplyStatus.Forbidden => StatusCodes.Status403Forbidden,
                ReplyStatus.Conflict => StatusCodes.Status409Conflict,
                ReplyStatus.Invalid => StatusCodes.Status422UnprocessableEntity,
                ReplyStatus.Unavailable => StatusCodes.Status503ServiceUnavailable,
                ReplyStatus.TooLarge => StatusCodes.Status413PayloadTooLarge,
                _ => StatusCodes.Status500InternalServerError,
            };
            if (reply.RetryAfterSeconds is { } seconds)
                context.Response.Headers.RetryAfter = seconds.ToString();
            context.Response.ContentType = "application/json";
            return context.Response.WriteAsync(reply.Body);
        }
    }
}
