using System.Text.Json.Nodes;
using NoEtl.Grains.Security;

namespace NoEtl.Grains.Tests.Security;

/// <summary>The response-boundary rules of noetl-api.md §5, case by case, with exact outputs.</summary>
public sealed class RedactorTests
{
    private const string R = "\"[REDACTED]\"";

    public static TheoryData<string, string, string> KeyCases => new()
    {
        // name, input, expected
        { "alias values under sensitive keys pass", """{"auth":"pg_auth","db_credential":"pg_auth"}""", """{"auth":"pg_auth","db_credential":"pg_auth"}""" },
        { "a plain string under a sensitive key passes (only secret-looking strings are redacted)", """{"password":"hunter2"}""", """{"password":"hunter2"}""" },
        { "an object under a sensitive key is redacted wholesale", """{"password":{"value":"x"}}""", $$"""{"password":{{R}}}""" },
        { "a list under a sensitive key is redacted wholesale", """{"tokens":[1,2]}""", $$"""{"tokens":{{R}}}""" },
        { "other scalars under sensitive keys pass", """{"token":12345,"auth":true,"secret":null}""", """{"token":12345,"auth":true,"secret":null}""" },
        { "keys match by substring", """{"pwd_hash":{"a":1},"my_api_key_list":["k"]}""", $$"""{"pwd_hash":{{R}},"my_api_key_list":{{R}}}""" },
        { "substring matching also catches innocent words (as NoETL does)", """{"author":{"name":"x"}}""", $$"""{"author":{{R}}}""" },
        { "keys are normalized: case and hyphens", """{"Client-Secret":{"a":1},"PASSWORD_HASH":[1]}""", $$"""{"Client-Secret":{{R}},"PASSWORD_HASH":{{R}}}""" },
        { "response-only sensitive keys", """{"keychain":{"pg":{}},"oauth":{"a":1},"jwt":[],"idtoken":{"x":1}}""", $$"""{"keychain":{{R}},"oauth":{{R}},"jwt":{{R}},"idtoken":{{R}}}""" },
        { "non-sensitive keys keep their structure", """{"rows":[{"id":1,"name":"a"}],"count":1}""", """{"rows":[{"id":1,"name":"a"}],"count":1}""" },
        { "nested objects and arrays are walked", """{"rows":[{"password":"x","pwd_hash":{"a":1}},"Bearer z"]}""", $$"""{"rows":[{"password":"x","pwd_hash":{{R}}},{{R}}]}""" },
        { "keychain references are never redacted", """{"auth":{"$noetl_ref":{"kind":"keychain","name":"pg","field":"password"}}}""", """{"auth":{"$noetl_ref":{"kind":"keychain","name":"pg","field":"password"}}}""" },
        { "references inside lists pass too", """{"items":[{"$noetl_ref":{"kind":"keychain","name":"pg"}}]}""", """{"items":[{"$noetl_ref":{"kind":"keychain","name":"pg"}}]}""" },
        { "an object with $noetl_ref and more keys is not a reference", """{"secret":{"$noetl_ref":{"kind":"keychain"},"value":"x"}}""", $$"""{"secret":{{R}}}""" },
    };

    [Theory]
    [MemberData(nameof(KeyCases))]
    public void Key_rules(string name, string input, string expected) => Check(name, input, expected);

    public static TheoryData<string, string, string> ValueCases => new()
    {
        { "bearer tokens", """{"note":"Bearer abc.def"}""", $$"""{"note":{{R}}}""" },
        { "bearer is case-insensitive", """{"h":"bearer abc"}""", $$"""{"h":{{R}}}""" },
        { "basic credentials (base64 of user:pass)", """{"h":"Basic dXNlcjpwYXNz"}""", $$"""{"h":{{R}}}""" },
        { "prose mentioning Basic passes", """{"h":"Basic authentication is required"}""", """{"h":"Basic authentication is required"}""" },
        { "JWTs", """{"v":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"}""", $$"""{"v":{{R}}}""" },
        { "OpenAI keys", """{"v":"sk-abcdefghijklmnopqrstuvwx"}""", $$"""{"v":{{R}}}""" },
        { "Anthropic keys", """{"v":"sk-ant-api03-abcdefghijklmnopqrstuvwx"}""", $$"""{"v":{{R}}}""" },
        { "a short sk- string passes", """{"v":"sk-short"}""", """{"v":"sk-short"}""" },
        { "Google API keys", """{"v":"AIzaSyA1234567890abcdefghijklmnopqrstuv"}""", $$"""{"v":{{R}}}""" },
        { "Google OAuth tokens", """{"v":"ya29.a0AfH6SMBx"}""", $$"""{"v":{{R}}}""" },
        { "GitHub tokens", """{"v":"ghp_abcdefghijklmnopqrstuvwxyz0123456789"}""", $$"""{"v":{{R}}}""" },
        { "GitHub fine-grained tokens", """{"v":"github_pat_11ABCDEFG0123456789_abcdefghij"}""", $$"""{"v":{{R}}}""" },
        { "Slack tokens", """{"v":"xoxb-1234567890-abcdef"}""", $$"""{"v":{{R}}}""" },
        { "PEM private keys", """{"v":"-----BEGIN RSA PRIVATE KEY-----\nMIIB"}""", $$"""{"v":{{R}}}""" },
        { "PEM certificates pass", """{"v":"-----BEGIN CERTIFICATE-----\nMIIB"}""", """{"v":"-----BEGIN CERTIFICATE-----\nMIIB"}""" },
        { "URLs with credentials", """{"url":"postgresql://user:pa55@db:5432/x"}""", $$"""{"url":{{R}}}""" },
        { "URLs without credentials pass", """{"url":"https://example.com/a?x=1"}""", """{"url":"https://example.com/a?x=1"}""" },
        { "secret query parameters", """{"url":"https://api.example.com/v1?api_key=abc123"}""", $$"""{"url":{{R}}}""" },
        { "signature query parameters", """{"url":"https://s3.example.com/o?X=1&signature=abc"}""", $$"""{"url":{{R}}}""" },
        { "innocent query parameters pass", """{"url":"https://x.com/?monkey=1&keys=2"}""", """{"url":"https://x.com/?monkey=1&keys=2"}""" },
        { "snowflake ids and hashes survive", """{"id":"1234567890123456789012345678901234567890","sha":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}""", """{"id":"1234567890123456789012345678901234567890","sha":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}""" },
        { "templates skip the shape checks", """{"h":"Bearer {{ keychain.api.token }}","password":"{{ secret.pg }}"}""", """{"h":"Bearer {{ keychain.api.token }}","password":"{{ secret.pg }}"}""" },
        { "code skips the shape checks", """{"code":"import os\nreturn 'Bearer ' + t"}""", """{"code":"import os\nreturn 'Bearer ' + t"}""" },
        { "a root string is checked", "\"Bearer x\"", R },
        { "a root number passes", "42", "42" },
        { "a list of values is checked item by item", """["Bearer x","plain",7]""", $$"""[{{R}},"plain",7]""" },
    };

    [Theory]
    [MemberData(nameof(ValueCases))]
    public void Value_rules(string name, string input, string expected) => Check(name, input, expected);

    public static TheoryData<string, string, string[], string[], string> CallerCases => new()
    {
        // name, input, extra keys, secret values, expected
        { "caller keys are always redacted, whatever the value", """{"X-Api-Key":5,"my_field":"plain","n":null}""", ["x-api-key", "My-Field", "N"], [], $$"""{"X-Api-Key":{{R}},"my_field":{{R}},"n":{{R}}}""" },
        { "caller keys match exactly, not by substring", """{"my_field_2":"plain"}""", ["my_field"], [], """{"my_field_2":"plain"}""" },
        { "caller keys do not redact references", """{"auth":{"$noetl_ref":{"kind":"keychain","name":"pg"}}}""", ["auth"], [], """{"auth":{"$noetl_ref":{"kind":"keychain","name":"pg"}}}""" },
        { "exact and contained caller secrets (8+ characters)", """{"a":"s3cr3t-value","b":"pre s3cr3t-value post","c":"other"}""", [], ["s3cr3t-value"], $$"""{"a":{{R}},"b":{{R}},"c":"other"}""" },
        { "a short caller secret redacts exact matches only", """{"a":"abc","b":"xabcx"}""", [], ["abc"], $$"""{"a":{{R}},"b":"xabcx"}""" },
        { "caller secrets apply inside templates too", """{"t":"{{ x }} s3cr3t-value"}""", [], ["s3cr3t-value"], $$"""{"t":{{R}}}""" },
        { "caller secrets apply under any key", """{"rows":[{"note":"s3cr3t-value"}]}""", [], ["s3cr3t-value"], $$"""{"rows":[{"note":{{R}}}]}""" },
        { "empty caller secrets are ignored", """{"a":""}""", [], [""], """{"a":""}""" },
    };

    [Theory]
    [MemberData(nameof(CallerCases))]
    public void Caller_keys_and_secrets(string name, string input, string[] extraKeys, string[] secrets, string expected)
    {
        var actual = Redactor.Redact(JsonNode.Parse(input), extraKeys, secrets);
        Assert.True(Same(expected, actual), $"{name}: got {actual?.ToJsonString()}");
    }

    [Fact]
    public void Nodes_deeper_than_the_limit_are_replaced()
    {
        // The root is depth 0; the objects at depths 1..20 are kept and the node at depth 21 is replaced.
        var actual = Redactor.Redact(Chain(25, "deep"));
        var expected = Chain(21, null);
        Innermost(expected)["a"] = Redactor.Placeholder;
        Assert.True(JsonNode.DeepEquals(expected, actual), actual!.ToJsonString());
    }

    [Fact]
    public void The_input_is_not_modified()
    {
        var input = JsonNode.Parse("""{"password":{"v":1},"h":"Bearer x","rows":[{"jwt":[1]}]}""");
        var before = input!.ToJsonString();
        var output = Redactor.Redact(input);
        Assert.Equal(before, input.ToJsonString());
        Assert.NotSame(input, output);
        Assert.Null(Redactor.Redact(null));
    }

    public static TheoryData<string, string, string?, string> ProducerCases => new()
    {
        // name, value, context, expected
        {
            "keychain namespaces are dropped; manifest names, fields, header keys and keychain values are redacted",
            """{"keychain":{"pg":{"password":"p@ssw0rd-long"}},"_keychain_manifest":[],"result":{"msg":"connected with p@ssw0rd-long","user":"admin","pg":"x","headers":{"Set-Cookie":"a=b","Content-Type":"json"}},"rows":[{"user":"bob","n":1}]}""",
            """{"keychain":{"pg":{"password":"p@ssw0rd-long","user":"admin"}},"_keychain_manifest":[{"name":"pg","fields":["password","user"]}]}""",
            $$$"""{"result":{"msg":{{{R}}},"user":{{{R}}},"pg":{{{R}}},"headers":{"Set-Cookie":{{{R}}},"Content-Type":"json"}},"rows":[{"user":{{{R}}},"n":1}]}"""
        },
        {
            "a manifest as a map of entries to fields",
            """{"api":"v","key":"k","other":"o"}""",
            """{"_keychain_manifest":{"api":{"fields":["key"]}}}""",
            $$"""{"api":{{R}},"key":{{R}},"other":"o"}"""
        },
        {
            "a manifest as a list of names",
            """{"api":"v","other":"o"}""",
            """{"_keychain_manifest":["api"]}""",
            $$"""{"api":{{R}},"other":"o"}"""
        },
        {
            "without a context only header keys and value shapes apply",
            """{"authorization":"x","cookie":"c","status":200,"body":"Bearer t"}""",
            null,
            $$"""{"authorization":{{R}},"cookie":{{R}},"status":200,"body":{{R}}}"""
        },
        {
            "nested keychain namespaces are dropped too",
            """{"step":{"keychain":{"a":"b"},"ok":true}}""",
            null,
            """{"step":{"ok":true}}"""
        },
    };

    [Theory]
    [MemberData(nameof(ProducerCases))]
    public void Producer_scrub(string name, string value, string? context, string expected)
    {
        var actual = Redactor.ProducerScrub(JsonNode.Parse(value), context is null ? null : JsonNode.Parse(context)!.AsObject());
        Assert.True(Same(expected, actual), $"{name}: got {actual?.ToJsonString()}");
    }

    private static void Check(string name, string input, string expected)
    {
        var actual = Redactor.Redact(JsonNode.Parse(input));
        Assert.True(Same(expected, actual), $"{name}: got {actual?.ToJsonString()}");
    }

    private static bool Same(string expected, JsonNode? actual) => JsonNode.DeepEquals(JsonNode.Parse(expected), actual);

    private static JsonObject Chain(int depth, string? leaf)
    {
        var root = new JsonObject();
        var current = root;
        for (var i = 1; i < depth; i++)
        {
            var next = new JsonObject();
            current["a"] = next;
            current = next;
        }
        current["a"] = leaf;
        return root;
    }

    private static JsonObject Innermost(JsonObject root)
    {
        var current = root;
        while (current["a"] is JsonObject next)
            current = next;
        return current;
    }
}

/// <summary>Timing assertions run alone: on a shared two-core machine, parallel tests would swamp the measurements.</summary>
[CollectionDefinition(nameof(Timing), DisableParallelization = true)]
public sealed class Timing;

/// <summary>Scrubbing cost on long strings.</summary>
[Collection(nameof(Timing))]
public sealed class RedactorTimingTests
{
    /// <summary>Adversarial shapes for each pattern: a backtracking scan would retry from every position and go quadratic.</summary>
    public static TheoryData<string> LongStrings => new()
    {
        "letters",
        "letters with @ and :",
        "user: prefixes",
        "many ://",
        "scheme://user:pass:pass:pass",
        "eyJ- runs",
        "Basic prefixes",
        "bearer prefixes",
        "PEM headers",
    };

    [Theory]
    [MemberData(nameof(LongStrings))]
    public void Scrubbing_a_megabyte_string_takes_linear_time(string shape)
    {
        // Linear, not just fast: twice the text costs about twice the time. A backtracking scan is quadratic (it took
        // 31-38 s per megabyte on some shapes); a quiet machine scrubs a megabyte in tens of milliseconds, and the
        // bounds below leave room for a shared two-core CI machine without letting a quadratic scan through.
        var oneMegabyte = BestOfThree(LongString(shape, 1 << 20));
        var twoMegabytes = BestOfThree(LongString(shape, 2 << 20));
        Assert.True(oneMegabyte < 100 || oneMegabyte < 500 && twoMegabytes < 4 * Math.Max(oneMegabyte, 10),
            $"{shape}: 1 MB in {oneMegabyte} ms, 2 MB in {twoMegabytes} ms");
    }

    /// <summary>
    /// Key scrubbing (an execution with secrets scrubs every stored result) is linear in the number of keys: it once removed
    /// each child from its object one by one, which took 84 s for one object of 80,000 keys and wedged the execution's turns.
    /// </summary>
    [Fact]
    public void Scrubbing_the_keys_of_a_wide_object_takes_linear_time()
    {
        var small = BestOfThree(() => WideObject(40_000));
        var large = BestOfThree(() => WideObject(80_000));
        Assert.True(small < 100 || small < 500 && large < 4 * Math.Max(small, 10), $"40,000 keys in {small} ms, 80,000 in {large} ms");
        var scrubbed = Redactor.ScrubSecretKeys(new JsonObject { ["a"] = 1, ["s3cr3t-value"] = 2, ["x s3cr3t-value"] = 3 }, ["s3cr3t-value"]);
        Assert.Equal("""{"a":1,"[REDACTED]":2,"[REDACTED]#2":3}""", scrubbed!.ToJsonString());
    }

    private static JsonObject WideObject(int keys)
    {
        var wide = new JsonObject();
        for (var i = 0; i < keys; i++)
            wide[$"k{i:D6}"] = i;
        return new JsonObject { ["rows"] = wide };
    }

    private static long BestOfThree(Func<JsonObject> input)
    {
        var best = long.MaxValue;
        for (var run = 0; run < 3; run++)
        {
            var value = input();
            var watch = System.Diagnostics.Stopwatch.StartNew();
            Redactor.ScrubSecretKeys(value, ["s3cr3t-value"]);
            best = Math.Min(best, watch.ElapsedMilliseconds);
        }
        return best;
    }

    private static long BestOfThree(string text)
    {
        var input = new JsonObject { ["v"] = text };
        Redactor.Redact(input);
        var best = long.MaxValue;
        for (var run = 0; run < 3; run++)
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            Redactor.Redact(input);
            best = Math.Min(best, watch.ElapsedMilliseconds);
        }
        return best;
    }

    private static string LongString(string shape, int length)
    {
        var unit = shape switch
        {
            "letters" => "abcdefghij",
            "letters with @ and :" => "abc@de:fgh",
            "user: prefixes" => "user:",
            "many ://" => "a://",
            "scheme://user:pass:pass:pass" => "x://u:p:",
            "eyJ- runs" => "eyJ-",
            "Basic prefixes" => "Basic AAAA=== ",
            "bearer prefixes" => "bearer\t",
            "PEM headers" => "-----BEGIN A ",
            _ => throw new ArgumentOutOfRangeException(nameof(shape)),
        };
        var sb = new System.Text.StringBuilder(length + unit.Length);
        while (sb.Length < length)
            sb.Append(unit);
        return sb.ToString();
    }
}
