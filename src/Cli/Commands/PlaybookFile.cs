using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using NoEtl.Cli.Arguments;

namespace NoEtl.Cli.Commands;

/// <summary>A playbook read from disk: its bytes for registration and the number of workflow steps for progress.</summary>
public sealed record PlaybookFile(byte[] Content, int StepCount)
{
    public string Base64 => Convert.ToBase64String(Content);

    public static PlaybookFile Read(string path)
    {
        if (!File.Exists(path))
            throw new UsageException($"file not found: {path}");
        var content = File.ReadAllBytes(path);
        return new PlaybookFile(content, CountSteps(content));
    }

    /// <summary>
    /// Counts the entries of the top-level <c>workflow:</c> list. Validation is the server's job, so YAML that does
    /// not parse counts as 0 steps and is still sent: the server's 422 explains the problem better.
    /// </summary>
    public static int CountSteps(byte[] content)
    {
        try
        {
            var yaml = new YamlStream();
            using var reader = new StreamReader(new MemoryStream(content));
            yaml.Load(reader);
            return yaml.Documents.Count > 0
                && yaml.Documents[0].RootNode is YamlMappingNode root
                && root.Children.TryGetValue(new YamlScalarNode("workflow"), out var workflow)
                && workflow is YamlSequenceNode steps
                ? steps.Children.Count
                : 0;
        }
        catch (YamlException)
        {
            return 0;
        }
    }
}
