namespace NoEtl.Cli.Http;

/// <summary>The server answered with a non-success status; <see cref="Exception.Message"/> is its detail, made readable.</summary>
public sealed class ApiException(int statusCode, string reason, string detail)
    : Exception($"HTTP {statusCode} {reason}: {detail}")
{
    public int StatusCode { get; } = statusCode;
}
