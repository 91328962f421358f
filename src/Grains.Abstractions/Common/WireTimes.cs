namespace NoEtl.Grains;

/// <summary>
/// Timestamps on the wire: ISO 8601 with the UTC designator, as NoETL's GUI parses them. The log's
/// <c>timestamp</c> columns hold UTC without a zone, so their values are read back as unspecified and marked UTC here.
/// </summary>
public static class WireTimes
{
    public static string Utc(DateTime time) => time.Kind switch
    {
        DateTimeKind.Local => time.ToUniversalTime().ToString("O"),
        _ => DateTime.SpecifyKind(time, DateTimeKind.Utc).ToString("O"),
    };

    public static string? Utc(DateTime? time) => time is { } value ? Utc(value) : null;
}
