using System.Text;
using System.Text.Json.Nodes;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests.Fuzz;

/// <summary>Real ids of the fuzzed system, so that a mutation of one field meets valid values in all the others.</summary>
public sealed record FuzzSeeds(long ExecutionId, long CatalogId, long EventId, string PlaybookPath, string CredentialName, string KeychainName);

/// <summary>One request of the fuzz: what was changed, and the request target and body bytes.</summary>
public sealed record Mutation(string Label, string Target, byte[]? Body);

/// <summary>
/// The mutation set: a valid request per route (built from its OpenAPI fields and <see cref="FuzzSeeds"/>), then one
/// change at a time to the body as a whole, to each body field, each query parameter and each path parameter.
/// The reduced set keeps the values that found 500s before (NUL, lone surrogates, 1 MB strings, overflow, deep nesting).
/// </summary>
public static class Mutations
{
    private const string Placeholder = "\"__fuzz_value__\"";

    private static readonly string Deep1000 = new string('[', 1000) + new string(']', 1000);

    /// <summary>Nested as deep as the gateway allows once inside the body object: stored, then answered inside larger documents.</summary>
    private static readonly string DeepAtLimit = new string('[', 30) + new string(']', 30);

    /// <summary>(label, raw JSON, in the reduced set).</summary>
    private static readonly (string Label, string Json, bool Core)[] Values =
    [
        ("null", "null", false),
        ("true", "true", false),
        ("0", "0", false),
        ("-1", "-1", true),
        ("2^31-1", "2147483647", true),
        ("2^31", "2147483648", false),
        ("2^63", "9223372036854775808", true),
        ("1e400", "1e400", false),
        ("-1e400", "-1e400", false),
        ("1.5", "1.5", false),
        ("empty string", "\"\"", false),
        ("blank string", "\" \"", false),
        ("1 MB string", "\"" + new string('x', 1 << 20) + "\"", true),
        ("NUL", "\"\\u0000\"", false),
        ("NUL inside", "\"a\\u0000b\"", true),
        ("lone high surrogate", "\"\\ud800\"", true),
        ("lone low surrogate", "\"x\\udc00\"", false),
        ("control characters", "\"\\u0001\\u001f\\u007f\\b\"", false),
        ("numeric string 2^63", "\"9223372036854775808\"", false),
        ("string -1", "\"-1\"", false),
        ("empty list", "[]", false),
        ("list with NUL", "[\"a\", \"\\u0000\"]", false),
        ("empty object", "{}", true),
        ("object with NUL key", "{\"\\u0000\": 1}", false),
        ("object with surrogate key", "{\"\\udfff\": 1}", false),
        ("nested 1000 levels", Deep1000, true),
        ("nested to the limit", DeepAtLimit, true),
    ];

    /// <summary>Playbooks that reached PostgreSQL or the catalog's readers before: each is a 422 at registration now.</summary>
    private static readonly (string Label, string Yaml)[] PlaybookValues =
    [
        ("metadata a list", "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: [1, 2]\nworkflow:\n  - step: start\n    tool: {kind: noop}\n"),
        ("metadata a scalar", "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: 5\nworkflow:\n  - step: start\n    tool: {kind: noop}\n"),
        ("YAML-escaped NUL", "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: \"a\\0b\", path: fuzz/nul}\nworkflow:\n  - step: start\n    tool: {kind: noop}\n"),
        ("workload nested 80 levels", "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: deep, path: fuzz/deep}\nworkload: "
            + new string('[', 80) + new string(']', 80) + "\nworkflow:\n  - step: start\n    tool: {kind: noop}\n"),
    ];

    private static readonly (string Label, string Text, bool Core)[] QueryValues =
    [
        ("NUL", "%00", false),
        ("NUL inside", "a%00b", true),
        ("lone surrogate (CESU-8)", "%ED%A0%80", true),
        ("invalid UTF-8", "%C3%28", false),
        ("control characters", "%01%1F%7F", false),
        ("300 characters", new string('q', 300), true),
        ("6000 characters", new string('q', 6000), false),
        ("empty", "", false),
        ("-1", "-1", true),
        ("0", "0", false),
        ("2^31-1", "2147483647", true),
        ("2^31-1", "2147483647", true),
        ("2^31", "2147483648", false),
        ("2^63", "9223372036854775808", false),
        ("1e400", "1e400", false),
        ("not a number", "abc", false),
    ];

    private static readonly (string Label, string Text, bool Core)[] PathValues =
    [
        ("not an id", "abc", true),
        ("-1", "-1", false),
        ("0", "0", false),
        ("2^63-1", "9223372036854775807", false),
        ("2^63", "9223372036854775808", true),
        ("20 digits", "99999999999999999999", false),
        ("NUL", "%00", false),
        ("NUL inside", "a%00b", true),
        ("lone surrogate (CESU-8)", "%ED%A0%80", false),
        ("300 characters", new string('p', 300), true),
        ("4000 characters", new string('9', 4000), false),
        ("dot dot", "%2E%2E", false),
        ("space", "%20", false),
    ];

    /// <summary>Paging past the end of int arithmetic: the OFFSET once went negative here.</summary>
    private static readonly string[] PagingOverflows =
        ["page=2147483647&page_size=200", "page=2147483647&page_size=500", "page=-2147483648&page_size=10", "page=0", "page_size=0", "page=1&page_size=-1"];

    public static IEnumerable<Mutation> For(FuzzRoute route, FuzzSeeds seeds, bool full)
    {
        var path = BaselinePath(route, seeds, except: null, value: null);
        var body = route.HasBody ? Baseline(route, seeds) : null;
        var bodyText = body?.ToJsonString();
        yield return new Mutation("baseline", path, bodyText is null ? null : Encoding.UTF8.GetBytes(bodyText));

        if (bodyText is not null)
        {
            foreach (var (label, text, core) in WholeBodies(bodyText, route))
            {
                if (full || core)
                    yield return new Mutation(label, path, Encoding.UTF8.GetBytes(text));
            }
            yield return new Mutation("invalid UTF-8 bytes", path, [.. "{\"x\": \""u8, 0xC3, 0x28, 0xFF, .. "\"}"u8]);
            foreach (var (field, _) in route.Body)
            {
                var withPlaceholder = body!.DeepClone().AsObject();
                withPlaceholder[field] = "__fuzz_value__";
                var template = withPlaceholder.ToJsonString();
                foreach (var (label, json, core) in Values)
                {
                    if (full || core)
                        yield return new Mutation($"body.{field} = {label}", path, Encoding.UTF8.GetBytes(template.Replace(Placeholder, json)));
                }
                if (field != "content")
                    continue;
                foreach (var (label, yaml) in PlaybookValues)
                {
                    withPlaceholder[field] = yaml;
                    yield return new Mutation($"body.content = {label}", path, Encoding.UTF8.GetBytes(withPlaceholder.ToJsonString()));
                }
            }
        }

        foreach (var parameter in route.Query.DefaultIfEmpty("x"))
        {
            foreach (var (label, text, core) in QueryValues)
            {
                if (full || core)
                    yield return new Mutation($"query.{parameter} = {label}", $"{path}?{parameter}={text}", Bytes(bodyText));
            }
        }
        if (route.Query.Contains("page"))
        {
            foreach (var query in PagingOverflows)
                yield return new Mutation($"query {query}", $"{path}?{query}", Bytes(bodyText));
        }

        foreach (var parameter in route.PathParameters)
        {
            foreach (var (label, text, core) in PathValues)
            {
                if (full || core)
                    yield return new Mutation($"path.{parameter} = {label}", BaselinePath(route, seeds, parameter, text), Bytes(bodyText));
            }
        }
    }

    private static byte[]? Bytes(string? text) => text is null ? null : Encoding.UTF8.GetBytes(text);

    private static IEnumerable<(string Label, string Text, bool Core)> WholeBodies(string baseline, FuzzRoute route)
    {
        var rest = baseline.Length > 2 ? "," + baseline[1..^1] : "";
        var first = route.Body.Select(f => f.Name).FirstOrDefault() ?? "x";
        yield return ("malformed JSON", "{\"x\": ", true);
        yield return ("empty body", "", false);
        yield return ("JSON null", "null", false);
        yield return ("a list", "[1, 2]", false);
        yield return ("a string", "\"text\"", false);
        yield return ("trailing garbage", baseline + "}}", false);
        yield return ("trailing comma", baseline[..^1] + ",}", false);
        yield return ("nested 1000 levels", Deep1000, true);
        yield return ("duplicate key", $"{{\"{first}\": \"dup\"{rest}, \"{first}\": \"dup\"}}", true);
        yield return ("NUL key", $"{{\"\\u0000\": 1{rest}}}", true);
        yield return ("lone surrogate key", $"{{\"\\ud800\": 1{rest}}}", true);
        if (route.Body.Length > 0) // a route without a body never reads it, so nothing would refuse the upload
            yield return ("17 MB body", $"{{\"x\": \"{new string('x', 17 << 20)}\"}}", false);
    }

    /// <summary>A request that should pass validation: valid ids from the seeds, plausible values by field name and type.</summary>
    private static JsonObject Baseline(FuzzRoute route, FuzzSeeds seeds)
    {
        var body = new JsonObject();
        foreach (var (name, type) in route.Body)
        {
            body[name] = name switch
            {
                "execution_id" or "parent_execution_id" or "source_execution_id" => seeds.ExecutionId.ToString(),
                "catalog_id" => seeds.CatalogId.ToString(),
                "outbox_id" => 1,
                "outbox_ids" => new JsonArray(1),
                "content" => Playbooks.OneStep(seeds.PlaybookPath),
                "path" => seeds.PlaybookPath,
                "version" => 1,
                "step" => "start",
                "name" when route.Template == "/api/events" => "fuzz.note",
                "name" when route.Template == "/api/credentials" => seeds.CredentialName,
                "events" when route.Template == "/api/events/batch" => new JsonArray(new JsonObject { ["step"] = "start", ["name"] = "fuzz.note" }),
                "events" => new JsonArray(new JsonObject { ["event_id"] = 1, ["execution_id"] = seeds.ExecutionId, ["event_type"] = "fuzz.note" }),
                "credential_type" or "type" => "generic",
                "cache_type" => "secret",
                "scope_type" => "global",
                "status" => "ready",
                "resource_type" => "Playbook",
                "expires_at" => "2099-01-01T00:00:00Z",
                "tags" => new JsonArray("fuzz"),
                "registration" => new JsonObject { ["name"] = "fuzz-worker" },
                _ => type switch
                {
                    "integer" or "number" => 1,
                    "boolean" => false,
                    "object" => new JsonObject(),
                    "array" => new JsonArray(),
                    _ => name == "name" ? "fuzz-worker" : "fuzz",
                },
            };
        }
        return body;
    }

    private static string BaselinePath(FuzzRoute route, FuzzSeeds seeds, string? except, string? value) =>
        string.Join('/', route.Template.Split('/').Select(segment => segment.StartsWith('{') ? segment.Trim('{', '}') switch
        {
            var name when name == except => value!,
            "id" => seeds.ExecutionId.ToString(),
            "eventId" => seeds.EventId.ToString(),
            "catalogId" => seeds.CatalogId.ToString(),
            "identifier" => seeds.CredentialName,
            "keychainName" => seeds.KeychainName,
            _ => "1",
        } : segment));
}
