using System.Reflection;
using NoEtl.Grains;

namespace NoEtl.Silo.Catalog;

/// <summary>
/// Registers the system playbooks shipped in <c>playbooks/system/</c> once the silo is up, with this deployment's
/// server URL filled in. A new version is written only when the content changed, so restarts and several
/// silos starting together leave the catalog as it is.
/// </summary>
public sealed partial class SystemPlaybookRegistrar(IGrainFactory grains, IConfiguration configuration, ILogger<SystemPlaybookRegistrar> logger)
    : BackgroundService
{
    private const string ResourcePrefix = "SystemPlaybooks.";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var serverUrl = configuration["NOETL_SERVER_URL"] ?? "http://127.0.0.1:8082";
        var assembly = Assembly.GetExecutingAssembly();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)).Order())
        {
            await using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            var content = (await reader.ReadToEndAsync(stoppingToken)).Replace("${NOETL_SERVER_URL}", serverUrl, StringComparison.Ordinal);
            try
            {
                var outcome = await grains.Reference<ICatalogGrain>(0).EnsureRegistered(content);
                if (outcome.Value is { } registered)
                    LogRegistered(registered.Path, registered.Version, registered.Status);
                else
                    LogRejected(name, outcome.Failure!.Kind, string.Join("; ", outcome.Failure.Fields?.Select(f => $"{f.Field}: {f.Message}") ?? [outcome.Failure.Message]));
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogFailed(e, name);
            }
        }
        try
        {
            await grains.Reference<ISystemScheduleGrain>(0).Ensure();
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            LogScheduleFailed(e);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "System playbook {Path} v{Version}: {Status}")]
    private partial void LogRegistered(string path, int version, string status);

    [LoggerMessage(Level = LogLevel.Error, Message = "System playbook {Resource} was rejected ({Kind}): {Reason}")]
    private partial void LogRejected(string resource, FailureKind kind, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "The schedule of the system playbooks could not be registered")]
    private partial void LogScheduleFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "System playbook {Resource} could not be registered")]
    private partial void LogFailed(Exception exception, string resource);
}
