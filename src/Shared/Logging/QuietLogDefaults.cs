using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;

namespace NoEtl.Logging;

/// <summary>
/// Log levels when nothing else is configured: Warning, so per-request noise (ASP.NET request logs, Orleans status
/// updates, one line per execution or command) cannot fill a disk under a flood; start-up lines stay visible.
/// The defaults are the lowest-priority configuration source, so <c>Logging__LogLevel__*</c> variables still win.
/// </summary>
internal static class QuietLogDefaults
{
    public static void AddQuietLogDefaults(this IConfigurationManager configuration, params string[] startupCategories)
    {
        var defaults = new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information",
        };
        foreach (var category in startupCategories)
            defaults[$"Logging:LogLevel:{category}"] = "Information";
        configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = defaults });
    }
}
