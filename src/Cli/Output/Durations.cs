namespace NoEtl.Cli.Output;

public static class Durations
{
    /// <summary>Short human form: <c>0.3s</c>, <c>12.0s</c>, <c>2m05s</c>, <c>1h02m</c>.</summary>
    public static string Format(TimeSpan duration)
    {
        if (duration < TimeSpan.Zero)
            duration = TimeSpan.Zero;
        if (duration.TotalSeconds < 60)
            return $"{duration.TotalSeconds:0.0}s";
        if (duration.TotalMinutes < 60)
            return $"{(int)duration.TotalMinutes}m{duration.Seconds:00}s";
        return $"{(int)duration.TotalHours}h{duration.Minutes:00}m";
    }
}
