using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NoEtl.Worker.Commands;
using NoEtl.Worker.Outbox;
using NoEtl.Worker.Templates;
using NoEtl.Worker.Tools;

namespace NoEtl.Worker.Runtime;

public static class WorkerServices
{
    /// <summary>Registers the whole worker. Hosted-service order matters: the host stops them in reverse.</summary>
    public static IServiceCollection AddNoEtlWorker(this IServiceCollection services, WorkerOptions options, IConfiguration configuration)
    {
        services.AddSingleton(options);
        services.AddSingleton(WorkerKeychain.FromConfiguration(configuration, options.KeychainEnvVars));
        services.AddSingleton(_ => NatsSetup.Connect(options));
        services.AddSingleton(sp => new ServerClient(
            new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = options.ServerHttpTimeout },
            options,
            sp.GetRequiredService<ILogger<ServerClient>>()));
        services.AddSingleton<CredentialResolver>();
        services.AddSingleton<ITemplateRenderer, OrchestrationTemplates>();

        services.AddSingleton<ITool, NoopTool>();
        services.AddSingleton<ITool>(sp => new PythonTool(sp.GetRequiredService<ITemplateRenderer>()) { ScriptBasePath = options.ScriptBasePath });
        services.AddSingleton<ITool, ShellTool>();
        // Separate from the server client: no worker token on user URLs, and per-request timeouts instead of a global one.
        services.AddSingleton<ITool>(sp => new HttpTool(HttpTool.CreateClient(), sp.GetRequiredService<CredentialResolver>()));
        services.AddSingleton<ITool, PostgresTool>();
        services.AddSingleton<ITool, PlaybookTool>();
        services.AddSingleton<ToolExecutor>();
        services.AddSingleton<CommandRunner>();

        // Stop order is the reverse: outbox and consumer drain first, then the registration deregisters.
        services.AddSingleton<PoolRegistration>();
        services.AddHostedService(sp => sp.GetRequiredService<PoolRegistration>());
        services.AddSingleton<CommandConsumer>();
        services.AddHostedService(sp => sp.GetRequiredService<CommandConsumer>());
        if (options.Outbox.Enabled)
        {
            services.AddSingleton<OutboxPublisher>();
            services.AddHostedService(sp => sp.GetRequiredService<OutboxPublisher>());
        }

        services.Configure<HostOptions>(host => host.ShutdownTimeout = options.DrainTimeout + TimeSpan.FromSeconds(15));
        return services;
    }
}
