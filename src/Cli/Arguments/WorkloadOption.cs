using System.Text.Json;
using System.Text.Json.Nodes;

namespace NoEtl.Cli.Arguments;

/// <summary>Reads <c>--input</c>: inline JSON or <c>@file</c>; it becomes the execution's workload, so it must be an object.</summary>
public static class WorkloadOption
{
    public static JsonObject Read(string? value)
    {
        if (value is null)
            return [];
        var text = value;
        if (value.StartsWith('@'))
        {
            var file = value[1..];
            if (!File.Exists(file))
                throw new UsageException($"--input file not found: {file}");
            text = File.ReadAllText(file);
        }
        try
        {
            return JsonNode.Parse(text) as JsonObject ?? throw new UsageException("--input must be a JSON object, e.g. '{\"name\": \"value\"}'");
        }
        catch (JsonException e)
        {
            throw new UsageException($"--input is not valid JSON: {e.Message}");
        }
    }
}
