using System.Text.Json.Nodes;

namespace NoEtl.Worker.Runtime;

/// <summary>
/// Where a secret may be sent: anywhere, the control plane's exact origins (its tokens), or a credential's
/// <c>allowed_hosts</c> (<c>host</c> for any port, <c>host:port</c>, <c>*.example.com</c> for subdomains).
/// Host comparison is case-insensitive.
/// </summary>
public sealed class Audience
{
    public static readonly Audience Anywhere = new(null, null);

    private readonly string[]? _origins;
    private readonly string[]? _hosts;

    private Audience(string[]? origins, string[]? hosts)
    {
        _origins = origins;
        _hosts = hosts;
    }

    /// <summary>Only these URLs' schemes, hosts and ports (the servers of NOETL_SERVER_URL).</summary>
    public static Audience OriginsOf(IEnumerable<string> urls) => new([.. urls.Select(url => Origin(new Uri(url)))], null);

    /// <summary>A credential's <c>allowed_hosts</c>: a list of strings or one comma-separated string; empty allows nothing.</summary>
    public static Audience AllowedHosts(string credential, JsonNode node)
    {
        IEnumerable<string?> entries = node switch
        {
            JsonArray list => list.Select(e => e is JsonValue v && v.TryGetValue(out string? s) ? s : null),
            JsonValue v when v.TryGetValue(out string? s) => s.Split(','),
            _ => [null],
        };
        var hosts = entries.Select(e => e?.Trim().ToLowerInvariant()).ToArray();
        // A malformed list must not silently mean "anywhere".
        return hosts.Any(string.IsNullOrEmpty)
            ? throw new CredentialException($"credential '{credential}' has an invalid allowed_hosts (expected a list of host or host:port)")
            : new Audience(null, hosts!);
    }

    /// <summary><c>scheme://host:port</c>, lower case, with the default port spelled out.</summary>
    public static string Origin(Uri uri) => $"{uri.Scheme}://{Host(uri)}:{uri.Port}".ToLowerInvariant();

    public bool Allows(Uri uri)
    {
        if (_origins is not null)
        {
            return _origins.Contains(Origin(uri));
        }
        if (_hosts is null)
        {
            return true;
        }
        var host = Host(uri).ToLowerInvariant();
        var hostPort = $"{host}:{uri.Port}";
        return _hosts.Any(pattern => pattern.StartsWith("*.", StringComparison.Ordinal)
            ? Matches(host, hostPort, pattern[1..], suffix: true)
            : Matches(host, hostPort, pattern, suffix: false));
    }

    public override string ToString() => _origins is not null ? string.Join(", ", _origins) : _hosts is null ? "*" : string.Join(", ", _hosts);

    // Punycode for international names; IPv6 keeps its brackets so a port stays unambiguous.
    private static string Host(Uri uri) => uri.HostNameType == UriHostNameType.IPv6 ? uri.Host : uri.IdnHost;

    // A pattern with a port matches host:port, one without matches the host on any port ("[::1]" has no port).
    private static bool Matches(string host, string hostPort, string pattern, bool suffix)
    {
        var subject = pattern.LastIndexOf(':') > pattern.LastIndexOf(']') ? hostPort : host;
        return suffix ? subject.EndsWith(pattern, StringComparison.Ordinal) : subject == pattern;
    }
}
