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

    /// <summary><c>{"valid", "errors"}</c>: the checks of <see cref="Register"/> (as the current caller), nothing stored.</summary>
    [Alias("Validate")] Task<Reply> Validate(string content, string? resourceType);

    /// <summary><c>{"content"}</c> of a catalog id, or of the latest version of a path.</summary>
    [Alias("Content")] Task<Reply> Content(string playbookId);

    /// <summary>Registers <paramref name="content"/> as the next version of <paramref name="playbookId"/>'s path (422 when the content names another path).</summary>
    [Alias("RegisterAt")] Task<Reply> RegisterAt(string playbookId, string content);

    /// <summary>The Run dialog's form: one field per top-level workload key, with the <c># ui:</c> hints of its line.</summary>
    [Alias("UiSchema")] Task<Reply> UiSchema(string path, int? version);
}
