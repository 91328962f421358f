using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Npgsql;
using NoEtl.Worker.Runtime;

namespace NoEtl.Worker.Tools;

/// <summary>
/// <c>kind: postgres</c>: runs <c>query</c> (or <c>command</c>) against a tenant database reached through the
/// credential alias in <c>auth</c> (data: host/port/user/password/database, or a dsn). Returns
/// {rows, row_count, columns} from the last result set. The control plane's own <c>noetl</c> schema is refused:
/// workers reach that state only through the server API.
/// </summary>
public sealed partial class PostgresTool(CredentialResolver credentials) : ITool
{
    public string Kind => "postgres";

    public async Task<ToolOutcome> ExecuteAsync(JsonObject config, ToolContext context, CancellationToken ct)
    {
        var sql = config.Str("query") ?? config.Str("command") ?? config.Str("sql")
            ?? throw new ToolConfigException("postgres tool requires 'query' or 'command'");
        if (NoetlSchema().IsMatch(sql))
        {
            throw new ToolConfigException("postgres tool may not touch the noetl control-plane schema");
        }
        var alias = config["auth"] switch
        {
            JsonObject spec => spec.Str("credential") ?? spec.Str("name"),
            JsonValue v => ConfigExtensions.Text(v),
            _ => null,
        } ?? throw new ToolConfigException("postgres tool requires 'auth: <credential alias>'");
        var data = (await credentials.ResolveAsync(alias, context.ExecutionId, ct)).Data;

        await using var connection = new NpgsqlConnection(ConnectionString(data));
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand(sql, connection)
        {
            CommandTimeout = (int)config.Timeout(TimeSpan.FromMinutes(5)).TotalSeconds,
        };
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new JsonArray();
        var columns = new JsonArray();
        do
        {
            if (reader.FieldCount == 0)
            {
                continue;
            }
            rows = [];
            columns = [.. Enumerable.Range(0, reader.FieldCount).Select(i => (JsonNode?)reader.GetName(i))];
            while (await reader.ReadAsync(ct))
            {
                var row = new JsonObject();
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    row[reader.GetName(i)] = await reader.IsDBNullAsync(i, ct) ? null : ToJson(reader.GetValue(i), reader.GetDataTypeName(i));
                }
                rows.Add(row);
            }
        }
        while (await reader.NextResultAsync(ct));

        return ToolOutcome.Success(new JsonObject
        {
            ["rows"] = rows,
            ["row_count"] = rows.Count > 0 ? rows.Count : Math.Max(reader.RecordsAffected, 0),
            ["columns"] = columns,
        });
    }

    /// <summary>Builds an Npgsql connection string from credential data (dsn/connection_string or discrete fields).</summary>
    public static string ConnectionString(JsonObject data)
    {
        if ((data.Str("dsn") ?? data.Str("connection_string")) is { Length: > 0 } dsn)
        {
            return dsn.StartsWith("postgres", StringComparison.OrdinalIgnoreCase) ? FromUri(dsn) : dsn;
        }
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = data.Str("host") ?? data.Str("db_host") ?? "localhost",
            Port = (int)(data.Number("port") ?? data.Number("db_port") ?? 5432),
            Username = data.Str("user") ?? data.Str("username") ?? data.Str("db_user"),
            Password = data.Str("password") ?? data.Str("db_password"),
            Database = data.Str("database") ?? data.Str("dbname") ?? data.Str("db_name"),
        };
        if (data.Str("sslmode") is { } ssl && Enum.TryParse<SslMode>(ssl.Replace("-", "", StringComparison.Ordinal), true, out var mode))
        {
            builder.SslMode = mode;
        }
        return builder.ConnectionString;
    }

    private static string FromUri(string dsn)
    {
        var uri = new Uri(dsn);
        var userInfo = uri.UserInfo.Split(':', 2);
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.Port > 0 ? uri.Port : 5432,
            Username = Uri.UnescapeDataString(userInfo[0]),
            Password = userInfo.Length > 1 ? Uri.UnescapeDataString(userInfo[1]) : null,
            Database = uri.AbsolutePath.Trim('/'),
        };
        return builder.ConnectionString;
    }

    private static JsonNode? ToJson(object value, string dataType) => value switch
    {
        // json/jsonb arrive as text; keep their structure.
        string s when dataType is "json" or "jsonb" => TryParseJson(s),
        string s => s,
        bool b => b,
        short or int or long => Convert.ToInt64(value, CultureInfo.InvariantCulture),
        float or double => Convert.ToDouble(value, CultureInfo.InvariantCulture),
        decimal m => m,
        DateTime dt => dt.ToString("O", CultureInfo.InvariantCulture),
        DateTimeOffset dto => dto.ToString("O", CultureInfo.InvariantCulture),
        Guid g => g.ToString(),
        byte[] bytes => Convert.ToBase64String(bytes),
        _ => value.ToString(),
    };

    private static JsonNode? TryParseJson(string text)
    {
        try
        {
            return JsonNode.Parse(text);
        }
        catch (System.Text.Json.JsonException)
        {
            return text;
        }
    }

    [GeneratedRegex(@"\bnoetl\s*\.\s*(event|command|execution|outbox|catalog|credential|keychain|runtime|resource|transient|projection)\b", RegexOptions.IgnoreCase)]
    private static partial Regex NoetlSchema();
}
