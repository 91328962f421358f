using System.Text.Json.Nodes;

namespace NoEtl.Grains.Catalog;

/// <summary>
/// The <c>system/*</c> catalog paths belong to the server: their commands go to the system pool, which holds
/// <c>NOETL_INTERNAL_API_TOKEN</c>, so whoever could write or steer them could reach around that pool.
/// Only the silo registers them; the system pool and operators may start them, user pools may not; and an
/// execute request may not override the workload keys such a playbook fixes.
/// </summary>
public static class SystemPlaybooks
{
    public const string Pool = "system";
    public const string UserPool = "shared";
    public const string RefusalCode = "system_playbook";

    /// <summary>Fixed in every system playbook: where the system worker sends its internal token.</summary>
    public static readonly IReadOnlyList<string> AlwaysFixedKeys = ["server_url"];

    /// <summary>
    /// Leading slashes, dots and case do not make another path: "/System/x" is refused like "system/x", so no
    /// look-alike can pass for (or be registered next to) a system playbook.
    /// </summary>
    public static bool IsSystemPath(string path) =>
        path.AsSpan().TrimStart().TrimStart("/.").StartsWith("system/", StringComparison.OrdinalIgnoreCase);

    /// <summary>The pool a playbook's commands are routed to (noetl-api.md §2.7).</summary>
    public static string PoolOf(string path) => IsSystemPath(path) ? Pool : UserPool;

    /// <summary>Only the server itself registers system paths (start-up registration of <c>playbooks/system</c>).</summary>
    public static bool MayRegister(Caller caller) => caller == Caller.System;

    /// <summary>The server, operators, the system pool (and everyone with authentication disabled) may start them.</summary>
    public static bool MayExecute(Caller caller) => caller.Role != Caller.WorkerRole || caller.Pool == Pool;

    /// <summary>
    /// The workload keys an execute request must not override: <see cref="AlwaysFixedKeys"/> plus the playbook's own
    /// <c>metadata.fixed_workload</c> list.
    /// </summary>
    public static IEnumerable<string> FixedKeys(JsonObject document)
    {
        var declared = (document["metadata"] as JsonObject)?["fixed_workload"] as JsonArray ?? [];
        return AlwaysFixedKeys.Concat(declared.OfType<JsonValue>().Select(v => v.TryGetValue<string>(out var key) ? key : null)
            .OfType<string>()).Distinct(StringComparer.Ordinal);
    }
}
