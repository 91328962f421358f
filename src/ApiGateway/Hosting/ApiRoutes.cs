using NoEtl.ApiGateway.Audit;
using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Catalog;
using NoEtl.ApiGateway.Commands;
using NoEtl.ApiGateway.Credentials;
using NoEtl.ApiGateway.Events;
using NoEtl.ApiGateway.Executions;
using NoEtl.ApiGateway.Health;
using NoEtl.ApiGateway.Internal;
using NoEtl.ApiGateway.Keychain;
using NoEtl.ApiGateway.NotOffered;
using NoEtl.ApiGateway.ResultStore;
using NoEtl.ApiGateway.Runtime;

namespace NoEtl.ApiGateway.Hosting;

/// <summary>
/// The one place that says who may reach which feature: every feature's routes are mapped into one of three groups,
/// and each group carries its authorization policy (<see cref="ApiPolicies"/>). A route narrows its group's policy
/// beside its handler (<c>ForOperators()</c>, <c>ForWorkers()</c>); it never widens it.
/// </summary>
public static class ApiRoutes
{
    public static void MapApiRoutes(this WebApplication app)
    {
        // Probes and the GUI's token check (which answers {"valid": false}, charged like any failed authentication).
        var open = app.MapGroup("").AllowAnonymous();
        open.MapHealthEndpoints();
        open.MapAuthEndpoints();

        // The public API: bearer principals, worker pools and operators.
        var principals = app.MapGroup("").RequireAuthorization(ApiPolicies.Principal);
        principals.MapCatalogEndpoints();
        principals.MapCatalogEditorEndpoints();
        principals.MapExecutionEndpoints();
        principals.MapCommandEndpoints();
        principals.MapEventEndpoints();
        principals.MapWorkerPoolEndpoints();
        principals.MapCredentialEndpoints();
        principals.MapKeychainEndpoints();
        principals.MapResultStoreEndpoints();
        principals.MapAuditEndpoints();
        principals.MapNotOfferedEndpoints();

        // /api/internal/*: the system pool, by NoETL's gate; every admitted call is audited.
        var system = app.MapGroup("").RequireAuthorization(ApiPolicies.Internal).AddEndpointFilter<InternalCallAudit>();
        system.MapInternalEndpoints();
        system.MapCredentialRotationEndpoints();
    }
}
