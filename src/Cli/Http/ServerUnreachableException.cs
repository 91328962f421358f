namespace NoEtl.Cli.Http;

/// <summary>No HTTP answer at all (refused, DNS, timeout): reported with exit code 3 so scripts can retry.</summary>
public sealed class ServerUnreachableException(Uri server, string reason)
    : Exception($"cannot reach the NoETL server at {server}: {reason}");
