using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using YamlDotNet.RepresentationModel;

namespace NoEtl.Deploy.Tests;

/// <summary>
/// Runs the real helm binary against helm/noetl and parses what it renders. Helm is the one scripts/helm-check.sh
/// installs into .tools/bin; when it is missing the script is run once to fetch it, and if that fails every test
/// fails with the reason (a chart test that skips itself would let a broken chart through CI).
/// </summary>
public static class HelmChart
{
    public const string Release = "noetl";
    public const string Namespace = "noetl";
    public const string TokenSecret = "noetl-internal-api-token";
    public const string ApiTokensSecret = "noetl-api-tokens";
    public const string EncryptionKeySecret = "noetl-encryption-key";
    public const string EncryptionKeyFile = "/var/run/secrets/noetl/encryption-key";
    public const string ApiTokensFile = "/var/run/secrets/noetl/api-tokens.json";

    public static readonly string[] Profiles = ["default", "dev", "prod"];

    private static readonly Lazy<string> Root = new(FindRoot);
    private static readonly Lazy<string> HelmPath = new(EnsureHelm);
    private static readonly ConcurrentDictionary<string, Lazy<Rendered>> Cache = new();

    public static string RepoRoot => Root.Value;
    public static string ChartDir => Path.Combine(RepoRoot, "helm", "noetl");

    /// <summary>The profile's manifests, rendered once per test run.</summary>
    public static Rendered Render(string profile) =>
        Cache.GetOrAdd(profile, p => new Lazy<Rendered>(() => RenderWith(p))).Value;

    /// <summary>Renders with extra <c>--set</c> values; throws with helm's stderr when rendering fails.</summary>
    public static Rendered RenderWith(string profile, params string[] sets)
    {
        var result = Template(profile, sets);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"helm template ({profile} {string.Join(' ', sets)}) failed:\n{result.Stderr}");
        return new Rendered(profile, Parse(result.Stdout));
    }

    public static HelmResult Template(string profile, params string[] sets) =>
        Helm(["template", Release, ChartDir, "--namespace", Namespace, .. ProfileArgs(profile), .. SetArgs(sets)]);

    /// <summary>Renders with an extra values file (for lists, which <c>--set</c> replaces rather than merges).</summary>
    public static Rendered RenderWithValues(string profile, string valuesYaml)
    {
        var file = Path.Combine(Path.GetTempPath(), $"noetl-values-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(file, valuesYaml);
        try
        {
            var result = Helm(["template", Release, ChartDir, "--namespace", Namespace, .. ProfileArgs(profile), "-f", file]);
            if (result.ExitCode != 0)
                throw new InvalidOperationException($"helm template ({profile} + values file) failed:\n{result.Stderr}");
            return new Rendered(profile, Parse(result.Stdout));
        }
        finally
        {
            File.Delete(file);
        }
    }

    public static HelmResult Lint(string profile, params string[] sets) =>
        Helm(["lint", "--strict", ChartDir, "--namespace", Namespace, .. ProfileArgs(profile), .. SetArgs(sets)]);

    private static IEnumerable<string> ProfileArgs(string profile) => profile switch
    {
        "default" => [],
        _ => ["-f", Path.Combine(ChartDir, "profiles", profile + ".yaml")],
    };

    private static IEnumerable<string> SetArgs(string[] sets) => sets.SelectMany(s => new[] { "--set", s });

    private static HelmResult Helm(IEnumerable<string> args) => Run(HelmPath.Value, args);

    private static HelmResult Run(string file, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepoRoot,
        };
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', info.ArgumentList)} timed out");
        }
        return new HelmResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "NoEtl.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"NoEtl.sln not found above {AppContext.BaseDirectory}");
    }

    private static string EnsureHelm()
    {
        var helm = Path.Combine(RepoRoot, ".tools", "bin", "helm");
        if (File.Exists(helm))
            return helm;
        var script = Path.Combine(RepoRoot, "scripts", "helm-check.sh");
        var fetched = Run("bash", [script]);
        if (!File.Exists(helm))
        {
            throw new InvalidOperationException(
                $"helm is not at {helm} and `bash scripts/helm-check.sh` did not install it (exit {fetched.ExitCode}). " +
                $"It needs npm and ../shared/tools/get-helm.sh.\n{fetched.Stdout}\n{fetched.Stderr}");
        }
        return helm;
    }

    /// <summary>Multi-document YAML to JSON nodes (scalars stay strings, as YAML without a schema gives them).</summary>
    public static IReadOnlyList<JsonObject> Parse(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents
            .Select(d => ToJson(d.RootNode))
            .OfType<JsonObject>()
            .ToList();
    }

    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(p =>
            KeyValuePair.Create(((YamlScalarNode)p.Key).Value!, ToJson(p.Value)))),
        YamlSequenceNode seq => new JsonArray(seq.Children.Select(ToJson).ToArray()),
        YamlScalarNode { Value: null or "" or "~" or "null", Style: YamlDotNet.Core.ScalarStyle.Plain } => null,
        YamlScalarNode scalar => JsonValue.Create(scalar.Value),
        _ => throw new NotSupportedException(node.GetType().Name),
    };
}

public sealed record HelmResult(int ExitCode, string Stdout, string Stderr);
