using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace NoEtl.Configuration;

/// <summary>
/// Reads settings named like environment variables. Unset or blank means the default; any other value must be valid,
/// else start-up stops with an exception that names the variable and the value: a typo must not quietly run a
/// process with a default nobody chose. Internal and linked into each deployable (they share no assembly).
/// </summary>
internal static class ConfigurationValues
{
    public static int Int(IConfiguration configuration, string key, int fallback, int min = 0, int max = int.MaxValue) =>
        OptionalInt(configuration, key, min, max) ?? fallback;

    public static int? OptionalInt(IConfiguration configuration, string key, int min = 0, int max = int.MaxValue)
    {
        if (Text(configuration, key) is not { } text)
            return null;
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            throw Invalid(key, text, (min, max) switch
            {
                (0, int.MaxValue) => "a non-negative integer",
                (1, int.MaxValue) => "a positive integer",
                (_, int.MaxValue) => $"an integer of at least {min}",
                _ => $"an integer from {min} to {max}",
            });
        return value;
    }

    /// <summary>A positive duration in seconds; fractions allowed (<c>2.5</c>).</summary>
    public static TimeSpan Seconds(IConfiguration configuration, string key, TimeSpan fallback)
    {
        if (Text(configuration, key) is not { } text)
            return fallback;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || !(seconds > 0) || seconds > TimeSpan.MaxValue.TotalSeconds)
            throw Invalid(key, text, "a positive number of seconds");
        return TimeSpan.FromSeconds(seconds);
    }

    public static bool Bool(IConfiguration configuration, string key, bool fallback) => Text(configuration, key)?.ToLowerInvariant() switch
    {
        null => fallback,
        "1" or "true" or "yes" or "on" => true,
        "0" or "false" or "no" or "off" => false,
        _ => throw Invalid(key, configuration[key]!.Trim(), "true or false"),
    };

    private static string? Text(IConfiguration configuration, string key) =>
        configuration[key] is { } value && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;

    private static InvalidOperationException Invalid(string key, string text, string expected) =>
        new($"{key} must be {expected}, not '{text}'");
}
