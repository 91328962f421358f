using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Http;
using NoEtl.ApiGateway.Telemetry;

namespace NoEtl.ApiGateway.Hosting;

/// <summary>
/// NoETL's HTTP API as one unit: its services and its pipeline of middleware and endpoints. The gateway process hosts
/// it over an Orleans client; a silo with <c>NOETL_HOSTING=combined</c> hosts the same unit over its in-process grain
/// factory, so a request skips the gateway→silo hop. Either way the endpoints only call grains.
/// </summary>
public static class NoEtlApiHosting
{
    /// <summary>Everything the endpoints need besides an <see cref="IGrainFactory"/>, which the host provides.</summary>
    public static WebApplicationBuilder AddNoEtlApi(this WebApplicationBuilder builder, GatewaySettings settings, TelemetrySettings telemetry)
    {
        builder.Services.AddSingleton(new GrainFailover(settings.FailoverAttempts, settings.FailoverAttemptTimeout));
        builder.AddApiAuthentication();
        builder.AddOperatorSurface(telemetry);
        var requestLimits = RequestLimits.From(builder.Configuration);
        builder.Services.AddSingleton(requestLimits);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = requestLimits.MaxBodyBytes);
        builder.Services.ConfigureHttpJsonOptions(json => GatewayJson.Configure(json.SerializerOptions));
        builder.Services.AddCors(cors => cors.AddDefaultPolicy(policy => policy.AllowAnyOrigin().AllowAnyHeader().AllowAnyMethod()));
        return builder;
    }

    /// <summary>The middleware (error shapes, authentication and authorization, limits), then every route of the API (<see cref="ApiRoutes"/>).</summary>
    public static WebApplication MapNoEtlApi(this WebApplication app, TelemetrySettings telemetry)
    {
        app.UseErrorBodies();
        app.UseContractErrors();
        app.UseCors();
        app.UseApiAuthentication();
        app.UseRequestTargetLimits();
        app.MapApiRoutes();
        app.MapOperatorSurface(telemetry);
        return app;
    }
}
