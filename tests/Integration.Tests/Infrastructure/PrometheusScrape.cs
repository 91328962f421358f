using System.Globalization;
using System.Text.RegularExpressions;

namespace NoEtl.Integration.Tests.Infrastructure;

/// <summary>One scrape of a Prometheus text endpoint, summed by series name and label filters.</summary>
public sealed partial class PrometheusScrape(IReadOnlyList<(string Name, Dictionary<string, string> Labels, double Value)> samples)
{
    public IReadOnlyList<(string Name, Dictionary<string, string> Labels, double Value)> Samples { get; } = samples;

    public static async Task<PrometheusScrape> ReadAsync(HttpClient http, string url)
    {
        var text = await http.GetStringAsync(url);
        var samples = new List<(string, Dictionary<string, string>, double)>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
                continue;
            var match = SampleLine().Match(line);
            if (!match.Success)
                continue;
            var labels = Label().Matches(match.Groups["labels"].Value).ToDictionary(l => l.Groups[1].Value, l => l.Groups[2].Value);
            samples.Add((match.Groups["name"].Value, labels, double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture)));
        }
        return new PrometheusScrape(samples);
    }

    public bool Has(string name, params (string Label, string Value)[] filters) => Matching(name, filters).Any();

    /// <summary>The sum of the series' samples whose labels match every filter (0 when there is none yet).</summary>
    public double Sum(string name, params (string Label, string Value)[] filters) => Matching(name, filters).Sum(s => s.Value);

    private IEnumerable<(string Name, Dictionary<string, string> Labels, double Value)> Matching(string name, (string Label, string Value)[] filters) =>
        Samples.Where(s => s.Name == name && filters.All(f => s.Labels.GetValueOrDefault(f.Label) == f.Value));

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"(\w+)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex Label();
}
