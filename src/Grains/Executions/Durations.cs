namespace NoEtl.Grains.Executions;

public static class Durations
{
    /// <summary>NoETL's <c>duration_human</c>: "1h 2m 3s", "2m 5s", "4.2s".</summary>
    public static string Human(double seconds)
    {
        if (seconds < 60)
            return $"{seconds:0.#}s";
        var span = TimeSpan.FromSeconds(Math.Round(seconds));
        return span.TotalHours >= 1
            ? $"{(int)span.TotalHours}h {span.Minutes}m {span.Seconds}s"
            : $"{span.Minutes}m {span.Seconds}s";
    }
}
