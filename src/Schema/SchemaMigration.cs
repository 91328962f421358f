namespace NoEtl.Schema;

/// <summary>One embedded migration script, <c>Migrations/NNNN_name.sql</c>.</summary>
/// <param name="Version">The NNNN prefix; migrations apply in ascending order.</param>
/// <param name="Name">The part after the prefix, without <c>.sql</c>.</param>
/// <param name="Checksum">Lowercase hex SHA-256 of the script with line endings normalised to LF.</param>
/// <param name="Sql">The script text.</param>
public sealed record SchemaMigration(int Version, string Name, string Checksum, string Sql);
