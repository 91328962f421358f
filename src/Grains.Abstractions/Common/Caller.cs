namespace NoEtl.Grains;

/// <summary>
/// The authenticated principal of the current request. The gateway sets it in Orleans' <see cref="RequestContext"/>,
/// which flows with every grain call of the request, so grains can audit and authorize without extra parameters.
/// </summary>
public sealed record Caller(string Principal, string Role, string? Pool, string? Route)
{
    private const string PrincipalKey = "noetl.principal";
    private const string RoleKey = "noetl.role";
    private const string PoolKey = "noetl.pool";
    private const string RouteKey = "noetl.route";

    public const string WorkerRole = "worker";
    public const string OperatorRole = "operator";

    /// <summary>Calls made by the server itself (start-up registration, timers).</summary>
    public static readonly Caller System = new("system", "server", null, null);

    public static Caller Current =>
        RequestContext.Get(PrincipalKey) is string principal
            ? new Caller(principal, RequestContext.Get(RoleKey) as string ?? "", RequestContext.Get(PoolKey) as string, RequestContext.Get(RouteKey) as string)
            : System;

    public void Enter()
    {
        RequestContext.Set(PrincipalKey, Principal);
        RequestContext.Set(RoleKey, Role);
        if (Pool is not null)
            RequestContext.Set(PoolKey, Pool);
        if (Route is not null)
            RequestContext.Set(RouteKey, Route);
    }
}
