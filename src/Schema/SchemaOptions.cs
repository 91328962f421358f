namespace NoEtl.Schema;

/// <summary>
/// Options for <see cref="SchemaMigrator"/>.
/// </summary>
/// <remarks>
/// Connection-string conventions (one string per role, same database):
/// <list type="bullet">
/// <item>Server role (<c>noetl_server</c>): runs the migrations, owns schemas <c>noetl</c>,
/// <c>orleans</c> and <c>noetl_schema</c>, and is what silos use for both the NoETL tables and
/// the Orleans ADO.NET providers. Its connection string carries <c>Search Path=orleans</c>: the
/// providers run the fixed unquoted query <c>SELECT QueryKey, QueryText FROM OrleansQuery</c>,
/// which PostgreSQL resolves through search_path. NoETL SQL always schema-qualifies
/// <c>noetl.</c>, so it does not depend on search_path.</item>
/// <item>Discovery role (<c>noetl_gateway</c>): the API gateway's Orleans client
/// (<c>AdoNetGatewayListProvider</c>) only. Also <c>Search Path=orleans</c>. It may read the
/// query catalog and the membership table, nothing else.</item>
/// </list>
/// </remarks>
public sealed class SchemaOptions
{
    /// <summary>
    /// Role that gets read access to the Orleans gateway list after migrating (USAGE on schema
    /// orleans, SELECT on <c>orleans.orleansquery</c> and <c>orleans.membership</c>). Skipped
    /// when null or when the role does not exist. Default <c>noetl_gateway</c>.
    /// </summary>
    public string? DiscoveryRole { get; set; } = "noetl_gateway";

    /// <summary>
    /// Key of the session advisory lock that serialises concurrent migrators (several silos
    /// starting at once). Advisory locks are per database, so one constant is enough.
    /// </summary>
    public long AdvisoryLockKey { get; set; } = 0x4E6F45544C534348; // "NoETLSCH"

    /// <summary>Command timeout for each migration script, in seconds.</summary>
    public int CommandTimeoutSeconds { get; set; } = 300;
}
