using NoEtl.Orchestration.Templates;

namespace NoEtl.Orchestration.Playbooks;

/// <summary>
/// What a playbook may cost to load and to route: registration refuses a document past any of these with a clear error
/// (docs/limits.md), except the loop limit, which only an execution's data can break. Each bound keeps a request's work proportional to a size the server chose, not the client.
/// </summary>
public sealed record PlaybookLimits
{
    public static readonly PlaybookLimits Default = new();

    /// <summary>Nesting of YAML mappings and sequences, aliases expanded; the stored JSON is re-read with a depth limit of 64.</summary>
    public int MaxYamlDepth { get; init; } = 32;

    /// <summary>YAML nodes after alias expansion, so a few hundred bytes of nested aliases cannot expand to gigabytes.</summary>
    public int MaxYamlNodes { get; init; } = 100_000;

    public int MaxSteps { get; init; } = 1_000;

    /// <summary>Routing arcs over the whole workflow; a decision is linear in them.</summary>
    public int MaxArcs { get; init; } = 10_000;

    /// <summary>Items of one loop step's collection: each becomes a command and a copy in the step's state.</summary>
    public int MaxLoopItems { get; init; } = 100_000;

    /// <summary>The limits every template the server renders must parse within (their nesting depth, at registration).</summary>
    public TemplateLimits Templates { get; init; } = TemplateLimits.Default;
}
