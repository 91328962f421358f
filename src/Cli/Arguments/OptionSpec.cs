namespace NoEtl.Cli.Arguments;

/// <summary>One <c>--name [VALUE]</c> option; a null <paramref name="ValueName"/> makes it a flag.</summary>
public sealed record OptionSpec(string Name, string? ValueName, string Description)
{
    public bool IsFlag => ValueName is null;

    public string Synopsis => IsFlag ? $"--{Name}" : $"--{Name} {ValueName}";
}
