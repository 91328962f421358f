using System.Diagnostics.CodeAnalysis;

namespace NoEtl.Grains.Commands;

/// <summary>
/// One string instance per distinct name (worker id, tool kind, step) among an execution's commands: each command record
/// would otherwise keep its own copies, about 75 B per finished iteration of a long loop. Bounded by the names in use.
/// </summary>
public sealed class NamePool
{
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    [return: NotNullIfNotNull(nameof(name))]
    public string? Shared(string? name)
    {
        if (name is null)
            return null;
        if (_names.TryGetValue(name, out var shared))
            return shared;
        _names.Add(name);
        return name;
    }
}
