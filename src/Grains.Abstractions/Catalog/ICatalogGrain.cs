using System.Text.Json.Serialization;

namespace NoEtl.Grains;

/// <summary>A stored (or already stored) version: <c>status</c> <c>success</c>, or <c>unchanged</c> for an unchanged system playbook.</summary>
[GenerateSerializer, Immutable, Alias("noetl.CatalogRegistration")]
public sealed record CatalogRegistration(
    [property: Id(0)] string Status,
    [property: Id(1)] string Message,
    [property: Id(2)] string Path,
    [property: Id(3)] int Version,
    [property: Id(4), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long CatalogId,
    [property: Id(5)] string Kind);

/// <summary>One catalog version as <c>list</c> and <c>resource</c> answer it; the JSON columns travel as stored.</summary>
[GenerateSerializer, Immutable, Alias("noetl.CatalogEntry")]
public sealed record CatalogEntry(
    [property: Id(0), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long CatalogId,
    [property: Id(1)] string Path,
    [property: Id(2)] int Version,
    [property: Id(3)] string Kind,
    [property: Id(4)] string? Content,
    [property: Id(5)] JsonText? Layout,
    [property: Id(6)] JsonText? Payload,
    [property: Id(7)] JsonText? Meta,
    [property: Id(8)] string CreatedAt);

[GenerateSerializer, Immutable, Alias("noetl.CatalogEntries")]
public sealed record CatalogEntries([property: Id(0)] IReadOnlyList<CatalogEntry> Entries);

/// <summary>The editor's check: the errors as <c>location: message</c> lines, nothing stored.</summary>
[GenerateSerializer, Immutable, Alias("noetl.PlaybookValidation")]
public sealed record PlaybookValidation([property: Id(0)] bool Valid, [property: Id(1)] IReadOnlyList<string> Errors);

[GenerateSerializer, Immutable, Alias("noetl.PlaybookContent")]
public sealed record PlaybookContent([property: Id(0)] string Content);

/// <summary>
/// The Run dialog's form (<c>GET /api/catalog/{path}/ui_schema</c>): one field per top-level workload key.
/// </summary>
[GenerateSerializer, Immutable, Alias("noetl.RunForm")]
public sealed record RunForm(
    [property: Id(0)] string Path,
    [property: Id(1)] int Version,
    [property: Id(2)] string Kind,
    [property: Id(3)] string Title,
    [property: Id(4)] string DescriptionMarkdown,
    [property: Id(5)] bool ExposedInUi,
    [property: Id(6)] IReadOnlyList<RunFormField> Fields,
    [property: Id(7)] string GeneratedAt);

/// <summary>A workload key: its kind from the default's JSON type, refined by the <c># ui:</c> hints of its line.</summary>
[GenerateSerializer, Immutable, Alias("noetl.RunFormField")]
public sealed record RunFormField(
    [property: Id(0)] string Name,
    [property: Id(1)] string Kind,
    [property: Id(2)] JsonText? Default,
    [property: Id(3)] string? Description,
    [property: Id(4)] bool Secret,
    [property: Id(5)] string? CredentialGlob,
    [property: Id(6)] IReadOnlyList<string>? Options,
    [property: Id(7)] IReadOnlyList<RunFormField>? Children);

/// <summary>
/// The playbook catalog. Stateless: registrations of one path are serialized by PostgreSQL
/// (an advisory lock on the path), so any silo can serve any call.
/// </summary>
[Alias("noetl.ICatalogGrain")]
public interface ICatalogGrain : IGrainWithIntegerKey
{
    /// <summary>Registers YAML content (already base64-decoded when it was base64) as the next version of its path.</summary>
    /// <remarks>Invalid (the document's field errors); Forbidden (a system path); Unavailable.</remarks>
    [Alias("Register")] Task<Outcome<CatalogRegistration>> Register(string content, string? resourceType);

    /// <summary>Registers the content unless the latest version of its path already has exactly this content.</summary>
    /// <remarks>Invalid; Forbidden; Unavailable.</remarks>
    [Alias("EnsureRegistered")] Task<Outcome<CatalogRegistration>> EnsureRegistered(string content);

    /// <remarks>Unavailable.</remarks>
    [Alias("List")] Task<Outcome<CatalogEntries>> List(string? resourceType, string? path);

    /// <summary>The version asked for, or the latest of the catalog id or path.</summary>
    /// <remarks>NotFound; Unavailable.</remarks>
    [Alias("Resource")] Task<Outcome<CatalogEntry>> Resource(long? catalogId, string? path, int? version);

    /// <summary>The checks of <see cref="Register"/> (as the current caller), nothing stored.</summary>
    [Alias("Validate")] Task<PlaybookValidation> Validate(string content, string? resourceType);

    /// <summary>The content of a catalog id, or of the latest version of a path.</summary>
    /// <remarks>NotFound; Unavailable.</remarks>
    [Alias("Content")] Task<Outcome<PlaybookContent>> Content(string playbookId);

    /// <summary>Registers <paramref name="content"/> as the next version of <paramref name="playbookId"/>'s path.</summary>
    /// <remarks>Invalid (also when the content names another path); Forbidden; Unavailable.</remarks>
    [Alias("RegisterAt")] Task<Outcome<CatalogRegistration>> RegisterAt(string playbookId, string content);

    /// <summary>The Run dialog's form: one field per top-level workload key, with the <c># ui:</c> hints of its line.</summary>
    /// <remarks>NotFound; Invalid (a stored version today's limits cannot read: a plain message, no field); Unavailable.</remarks>
    [Alias("UiSchema")] Task<Outcome<RunForm>> UiSchema(string path, int? version);
}
