namespace NoEtl.Grains;

/// <summary>
/// The playbook catalog. Stateless: registrations of one path are serialized by PostgreSQL
/// (an advisory lock on the path), so any silo can serve any call.
/// </summary>
[Alias("noetl.ICatalogGrain")]
public interface ICatalogGrain : IGrainWithIntegerKey
{
    /// <summary>Registers YAML content (already base64-decoded when it was base64) as the next version of its path.</summary>
    [Alias("Register")] Task<Reply> Register(string content, string? resourceType);

    /// <summary>Registers the content unless the latest version of its path already has exactly this content.</summary>
    [Alias("EnsureRegistered")] Task<Reply> EnsureRegistered(string content);

    [Alias("List")] Task<Reply> List(string? resourceType, string? path);

    [Alias("Resource")] Task<Reply> Resource(long? catalogId, string? path, int? version);
}
