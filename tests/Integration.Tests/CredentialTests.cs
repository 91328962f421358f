using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Npgsql;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>Writes the v1 envelope independently of the server, as an older key (or another silo) would have.</summary>
internal static class Envelope
{
    public static string Seal(string keyId, string base64Key, string binding, string json)
    {
        var plaintext = Encoding.UTF8.GetBytes(json);
        var sealedBytes = new byte[12 + plaintext.Length + 16];
        RandomNumberGenerator.Fill(sealedBytes.AsSpan(0, 12));
        using var aes = new AesGcm(Convert.FromBase64String(base64Key), 16);
        aes.Encrypt(sealedBytes.AsSpan(0, 12), plaintext, sealedBytes.AsSpan(12, plaintext.Length), sealedBytes.AsSpan(12 + plaintext.Length),
            Encoding.UTF8.GetBytes(binding));
        return $"v1:{keyId}:{Convert.ToBase64String(sealedBytes)}";
    }

    /// <summary>The same envelope with one ciphertext bit flipped.</summary>
    public static string Tamper(string stored)
    {
        var parts = stored.Split(':', 3);
        var bytes = Convert.FromBase64String(parts[2]);
        bytes[14] ^= 0x01;
        return $"{parts[0]}:{parts[1]}:{Convert.ToBase64String(bytes)}";
    }

    public static async Task<string?> StoredAsync(NoEtlSystem system, string sql, string key)
    {
        await using var connection = new NpgsqlConnection(system.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue(key);
        return await command.ExecuteScalarAsync() as string;
    }

    public static async Task ExecuteAsync(NoEtlSystem system, string sql, params object[] parameters)
    {
        await using var connection = new NpgsqlConnection(system.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
            command.Parameters.AddWithValue(parameter);
        await command.ExecuteNonQueryAsync();
    }
}

/// <summary>Credentials and the keychain over HTTP (noetl-api.md §1.1 (10), §1.2 (11), (26)), data encrypted at rest.</summary>
[Collection(SystemCollection.Name)]
public sealed class CredentialTests(SystemFixture fixture)
{
    private HttpClient Http => fixture.Http;
    private NoEtlSystem System => fixture.System;

    private static string Unique(string prefix) => $"{prefix}_{Guid.NewGuid():N}"[..24];

    private static JsonObject Secret() => new() { ["user"] = "admin", ["password"] = "correct horse battery staple", ["port"] = 5432 };

    private Task<ApiResponse> Create(string name, JsonObject? data = null, string type = "postgres") =>
        Http.Post("/api/credentials", new JsonObject
        {
            ["name"] = name,
            ["type"] = type,
            ["data"] = data ?? Secret(),
            ["meta"] = new JsonObject { ["owner"] = "it" },
            ["tags"] = "db, prod",
            ["description"] = "integration",
        });

    [Fact]
    public async Task Stored_data_is_encrypted_and_include_data_returns_the_plaintext()
    {
        var name = Unique("pg");
        var created = await Create(name);
        Assert.True(created.Status == HttpStatusCode.OK, created.Text);
        Assert.Equal(name, created.Json["name"]!.GetValue<string>());
        Assert.Null(created.Json["data"]);
        Assert.Equal(new[] { "db", "prod" }, created.Json["tags"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.DoesNotContain("correct horse", created.Text);

        var stored = await Envelope.StoredAsync(System, "SELECT data_encrypted FROM noetl.credential WHERE name = $1", name);
        Assert.StartsWith("v1:", stored);
        Assert.DoesNotContain("correct horse", stored);
        Assert.DoesNotContain("admin", stored);

        var withoutData = await Http.Get($"/api/credentials/{name}");
        Assert.Equal(HttpStatusCode.OK, withoutData.Status);
        Assert.Null(withoutData.Json["data"]);

        var withData = await Http.Get($"/api/credentials/{name}?include_data=true");
        Assert.Equal(HttpStatusCode.OK, withData.Status);
        Assert.True(JsonNode.DeepEquals(Secret(), withData.Json["data"]), withData.Text);

        var byId = await Http.Get($"/api/credentials/{created.Json["id"]!.GetValue<string>()}?include_data=true");
        Assert.True(JsonNode.DeepEquals(Secret(), byId.Json["data"]), byId.Text);
    }

    [Fact]
    public async Task Upsert_list_and_delete()
    {
        var name = Unique("api");
        Assert.Equal(HttpStatusCode.OK, (await Create(name, type: "httpBearerAuth")).Status);
        var replaced = await Http.Post("/api/credentials", new { name, credential_type = "httpBearerAuth", data = new { token = "t2" }, tags = new[] { "x" } });
        Assert.True(replaced.Status == HttpStatusCode.OK, replaced.Text);
        Assert.Equal("t2", (await Http.Get($"/api/credentials/{name}?include_data=true")).Json["data"]!["token"]!.GetValue<string>());

        var list = await Http.Get($"/api/credentials?type=httpBearerAuth&q={name[..10]}");
        Assert.Equal(HttpStatusCode.OK, list.Status);
        var item = Assert.Single(list.Json["items"]!.AsArray(), i => i!["name"]!.GetValue<string>() == name)!;
        Assert.Null(item["data"]);
        Assert.Equal("httpBearerAuth", list.Json["filter"]!["type"]!.GetValue<string>());

        var deleted = await Http.Send(HttpMethod.Delete, $"/api/credentials/{name}");
        Assert.Equal(HttpStatusCode.OK, deleted.Status);
        Assert.Equal("Credential deleted successfully", deleted.Json["message"]!.GetValue<string>());
        var gone = await Http.Get($"/api/credentials/{name}");
        Assert.Equal(HttpStatusCode.NotFound, gone.Status);
        Assert.Equal("Credential not found", gone.Json["detail"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await Http.Send(HttpMethod.Delete, $"/api/credentials/{name}")).Status);
    }

    [Fact]
    public async Task A_tampered_or_moved_ciphertext_is_a_clear_409_and_metadata_stays_readable()
    {
        var tampered = Unique("tamper");
        var moved = Unique("moved");
        await Create(tampered);
        await Create(moved);
        var stored = await Envelope.StoredAsync(System, "SELECT data_encrypted FROM noetl.credential WHERE name = $1", tampered);
        await Envelope.ExecuteAsync(System, "UPDATE noetl.credential SET data_encrypted = $1 WHERE name = $2", Envelope.Tamper(stored!), tampered);
        // Another row's valid ciphertext: authenticated, but bound to the other name.
        await Envelope.ExecuteAsync(System, "UPDATE noetl.credential SET data_encrypted = $1 WHERE name = $2", stored!, moved);

        foreach (var name in new[] { tampered, moved })
        {
            var read = await Http.Get($"/api/credentials/{name}?include_data=true");
            Assert.True(read.Status == HttpStatusCode.Conflict, read.Text);
            Assert.Equal("credential_undecryptable", read.Json["detail"]!["code"]!.GetValue<string>());
            Assert.Equal(name, read.Json["detail"]!["name"]!.GetValue<string>());
            Assert.DoesNotContain("correct horse", read.Text);
            Assert.Equal(HttpStatusCode.OK, (await Http.Get($"/api/credentials/{name}")).Status);
        }
    }

    [Fact]
    public async Task Legacy_plain_json_rows_are_re_encrypted_by_their_first_read_and_audited()
    {
        var name = Unique("legacy");
        await Envelope.ExecuteAsync(System, "INSERT INTO noetl.credential (id, name, type, data_encrypted) VALUES (noetl.snowflake_id(), $1, 'generic', $2)",
            name, """{"api_key":"legacy-secret-value"}""");
        var read = await Http.Get($"/api/credentials/{name}?include_data=true");
        Assert.True(read.Status == HttpStatusCode.OK, read.Text);
        Assert.Equal("legacy-secret-value", read.Json["data"]!["api_key"]!.GetValue<string>());

        // The read itself rewrote the row as an envelope: no write, no rotation needed.
        var stored = await Envelope.StoredAsync(System, "SELECT data_encrypted FROM noetl.credential WHERE name = $1", name);
        Assert.StartsWith("v1:", stored);
        Assert.DoesNotContain("legacy-secret-value", stored);
        var again = await Http.Get($"/api/credentials/{name}?include_data=true");
        Assert.Equal("legacy-secret-value", again.Json["data"]!["api_key"]!.GetValue<string>());
        Assert.Equal(1, await ReencryptAuditsAsync(name));
    }

    [Fact]
    public async Task Legacy_plain_json_keychain_entries_are_re_encrypted_by_their_first_read()
    {
        var catalogId = await CatalogAsync();
        var cacheKey = $"legacykc:{catalogId}:global";
        await Envelope.ExecuteAsync(System,
            """
            INSERT INTO noetl.keychain (cache_key, keychain_name, catalog_id, credential_type, cache_type, scope_type, data_encrypted, expires_at)
            VALUES ($1, 'legacykc', $2, 'generic', 'secret', 'global', $3, now() + interval '1 hour')
            """,
            cacheKey, catalogId, """{"access_token":"legacy-keychain-token"}""");

        var read = await Http.Get($"/api/keychain/{catalogId}/legacykc");
        Assert.True(read.Status == HttpStatusCode.OK, read.Text);
        Assert.Equal("legacy-keychain-token", read.Json["token_data"]!["access_token"]!.GetValue<string>());
        var stored = await Envelope.StoredAsync(System, "SELECT data_encrypted FROM noetl.keychain WHERE cache_key = $1", cacheKey);
        Assert.StartsWith("v1:", stored);
        Assert.DoesNotContain("legacy-keychain-token", stored);
        Assert.Equal(1, await ReencryptAuditsAsync(cacheKey));
    }

    private async Task<int> ReencryptAuditsAsync(string resource)
    {
        var audit = await Http.Get("/api/audit?action=credential.reencrypt&limit=500");
        Assert.True(audit.Status == HttpStatusCode.OK, audit.Text);
        return audit.Json["items"]!.AsArray().Count(i => i!["resource"]?.GetValue<string>() == resource);
    }

    public static TheoryData<string, string> BadCredentials => new()
    {
        { "not json", "{oops" },
        { "data is a string", """{"name":"{NAME}","data":"user=admin password=x"}""" },
        { "data is a list", """{"name":"{NAME}","data":[1,2]}""" },
        { "data is missing", """{"name":"{NAME}"}""" },
        { "data is too large", """{"name":"{NAME}","data":{"blob":"{BLOB}"}}""" },
        { "the name is missing", """{"data":{"a":1}}""" },
        { "the name is too long", """{"name":"{LONG}","data":{"a":1}}""" },
        { "tags are numbers", """{"name":"{NAME}","data":{"a":1},"tags":[1]}""" },
        { "meta is not an object", """{"name":"{NAME}","data":{"a":1},"meta":"x"}""" },
    };

    [Theory]
    [MemberData(nameof(BadCredentials))]
    public async Task Bad_credentials_are_422_and_nothing_is_stored(string why, string body)
    {
        var name = Unique("bad");
        var raw = body.Replace("{NAME}", name).Replace("{BLOB}", new string('x', 70_000)).Replace("{LONG}", new string('n', 300));
        var response = await Http.Send(HttpMethod.Post, "/api/credentials", rawBody: raw);
        Assert.True(response.Status == HttpStatusCode.UnprocessableEntity, $"{why}: {(int)response.Status} {response.Text}");
        Assert.Null(await Envelope.StoredAsync(System, "SELECT name FROM noetl.credential WHERE name = $1", name));
    }

    [Theory]
    [InlineData("include_data=maybe")]
    [InlineData("include_data=true&execution_id=abc")]
    [InlineData("catalog_id=1.5")]
    public async Task Bad_read_parameters_are_422(string query)
    {
        var name = Unique("q");
        await Create(name);
        var response = await Http.Get($"/api/credentials/{name}?{query}");
        Assert.True(response.Status == HttpStatusCode.UnprocessableEntity, response.Text);
    }

    [Fact]
    public async Task A_data_read_for_an_execution_caches_the_credential_in_its_keychain()
    {
        var path = $"it/credentials/{Guid.NewGuid():N}";
        var (catalogId, _) = await Http.Register(Playbooks.OneStep(path));
        var executionId = await Http.Execute(path);
        var name = Unique("cached");
        await Create(name);

        var read = await Http.Get($"/api/credentials/{name}?include_data=true&execution_id={executionId}");
        Assert.True(read.Status == HttpStatusCode.OK, read.Text);

        var cached = await Http.Get($"/api/keychain/{catalogId}/{name}?scope_type=local&execution_id={executionId}");
        Assert.True(cached.Status == HttpStatusCode.OK, cached.Text);
        Assert.Equal("success", cached.Json["status"]!.GetValue<string>());
        Assert.Equal($"{name}:{catalogId}:{executionId}", cached.Json["cache_key"]!.GetValue<string>());
        Assert.True(JsonNode.DeepEquals(Secret(), cached.Json["token_data"]), cached.Text);
        Assert.Equal("postgres", cached.Json["credential_type"]!.GetValue<string>());
        Assert.InRange(cached.Json["ttl_seconds"]!.GetValue<long>(), 3500, 3600);
        var stored = await Envelope.StoredAsync(System, "SELECT data_encrypted FROM noetl.keychain WHERE cache_key = $1", $"{name}:{catalogId}:{executionId}");
        Assert.StartsWith("v1:", stored);
        Assert.DoesNotContain("correct horse", stored);

        // With a catalog id and no execution, the copy is global; without include_data nothing is cached.
        await Http.Get($"/api/credentials/{name}?include_data=true&catalog_id={catalogId}");
        Assert.Equal("success", (await Http.Get($"/api/keychain/{catalogId}/{name}")).Json["status"]!.GetValue<string>());
        var other = Unique("nocache");
        await Create(other);
        await Http.Get($"/api/credentials/{other}?execution_id={executionId}");
        Assert.Equal("not_found", (await Http.Get($"/api/keychain/{catalogId}/{other}?scope_type=local&execution_id={executionId}")).Json["status"]!.GetValue<string>());

        var listed = await Http.Get($"/api/keychain/catalog/{catalogId}");
        Assert.True(listed.Status == HttpStatusCode.OK, listed.Text);
        Assert.Equal(2, listed.Json["count"]!.GetValue<int>());
        Assert.All(listed.Json["entries"]!.AsArray(), e => Assert.Null(e!["token_data"]));
        Assert.DoesNotContain("correct horse", listed.Text);
    }

    [Fact]
    public async Task Keychain_entries_expire_and_count_their_reads()
    {
        var catalogId = await CatalogAsync();
        var name = Unique("token");
        var post = await Http.Post($"/api/keychain/{catalogId}/{name}", new
        {
            token_data = new { access_token = "short-lived-token" },
            credential_type = "oauth2",
            cache_type = "token",
            scope_type = "global",
            ttl_seconds = 2,
        });
        Assert.True(post.Status == HttpStatusCode.OK, post.Text);
        Assert.Equal($"{name}:{catalogId}:global", post.Json["cache_key"]!.GetValue<string>());
        Assert.Equal(2, post.Json["ttl_seconds"]!.GetValue<int>());

        var first = await Http.Get($"/api/keychain/{catalogId}/{name}");
        var second = await Http.Get($"/api/keychain/{catalogId}/{name}");
        Assert.Equal("short-lived-token", first.Json["token_data"]!["access_token"]!.GetValue<string>());
        Assert.Equal(1, first.Json["access_count"]!.GetValue<int>());
        Assert.Equal(2, second.Json["access_count"]!.GetValue<int>());

        await Task.Delay(TimeSpan.FromSeconds(2.5));
        var expired = await Http.Get($"/api/keychain/{catalogId}/{name}");
        Assert.Equal(HttpStatusCode.OK, expired.Status);
        Assert.Equal("expired", expired.Json["status"]!.GetValue<string>());
        Assert.True(expired.Json["expired"]!.GetValue<bool>());
        Assert.Null(expired.Json["token_data"]);
        Assert.DoesNotContain("short-lived-token", expired.Text);
        Assert.Equal(2, expired.Json["access_count"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("local", 3600)]
    [InlineData("shared", 86400)]
    [InlineData("global", 86400)]
    public async Task Keychain_scopes_have_their_cache_keys_and_default_lifetimes(string scope, int ttl)
    {
        var catalogId = await CatalogAsync();
        var name = Unique("scoped");
        var post = await Http.Post($"/api/keychain/{catalogId}/{name}", new { token_data = new { v = 1 }, credential_type = "generic", scope_type = scope, execution_id = "77" });
        Assert.True(post.Status == HttpStatusCode.OK, post.Text);
        Assert.Equal(ttl, post.Json["ttl_seconds"]!.GetValue<int>());
        var expectedKey = scope switch { "local" => $"{name}:{catalogId}:77", "shared" => $"{name}:{catalogId}:shared:77", _ => $"{name}:{catalogId}:global" };
        Assert.Equal(expectedKey, post.Json["cache_key"]!.GetValue<string>());

        var read = await Http.Get($"/api/keychain/{catalogId}/{name}?scope_type={scope}&execution_id=77");
        Assert.Equal("success", read.Json["status"]!.GetValue<string>());
        var deleted = await Http.Send(HttpMethod.Delete, $"/api/keychain/{catalogId}/{name}?scope_type={scope}&execution_id=77");
        Assert.Equal("success", deleted.Json["status"]!.GetValue<string>());
        Assert.Equal("not_found", (await Http.Get($"/api/keychain/{catalogId}/{name}?scope_type={scope}&execution_id=77")).Json["status"]!.GetValue<string>());
        Assert.Equal("error", (await Http.Send(HttpMethod.Delete, $"/api/keychain/{catalogId}/{name}?scope_type={scope}&execution_id=77")).Json["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_expires_at_in_the_past_is_never_served()
    {
        var catalogId = await CatalogAsync();
        var name = Unique("past");
        var post = await Http.Post($"/api/keychain/{catalogId}/{name}",
            new { token_data = new { v = "old-secret-value" }, credential_type = "generic", expires_at = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("O") });
        Assert.True(post.Status == HttpStatusCode.OK, post.Text);
        var read = await Http.Get($"/api/keychain/{catalogId}/{name}");
        Assert.Equal("expired", read.Json["status"]!.GetValue<string>());
        Assert.DoesNotContain("old-secret-value", read.Text);
    }

    public static TheoryData<string, string, string?> BadKeychainRequests => new()
    {
        // method, path suffix (after /api/keychain/{catalog}/{name}), body
        { "POST", "", """{"token_data":{"a":1},"credential_type":"x","scope_type":"galactic"}""" },
        { "POST", "", """{"token_data":{"a":1},"credential_type":"x","cache_type":"cookie"}""" },
        { "POST", "", """{"token_data":"abc","credential_type":"x"}""" },
        { "POST", "", """{"credential_type":"x"}""" },
        { "POST", "", """{"token_data":{"a":1}}""" },
        { "POST", "", """{"token_data":{"a":1},"credential_type":"x","scope_type":"local"}""" },
        { "POST", "", """{"token_data":{"a":1},"credential_type":"x","ttl_seconds":0}""" },
        { "POST", "", """{"token_data":{"a":1},"credential_type":"x","expires_at":"tomorrow"}""" },
        { "POST", "", "{nope" },
        { "GET", "?scope_type=galactic", null },
        { "GET", "?scope_type=local", null },
        { "GET", "?execution_id=x", null },
        { "DELETE", "?scope_type=everything", null },
    };

    [Theory]
    [MemberData(nameof(BadKeychainRequests))]
    public async Task Bad_keychain_requests_are_422_and_nothing_is_stored(string method, string suffix, string? body)
    {
        var catalogId = await CatalogAsync();
        var name = Unique("badkc");
        var response = await Http.Send(new HttpMethod(method), $"/api/keychain/{catalogId}/{name}{suffix}", rawBody: body);
        Assert.True(response.Status == HttpStatusCode.UnprocessableEntity, $"{(int)response.Status} {response.Text}");
        Assert.Null(await Envelope.StoredAsync(System, "SELECT cache_key FROM noetl.keychain WHERE keychain_name = $1", name));
    }

    [Fact]
    public async Task Keychain_routes_answer_for_unknown_catalogs_and_bad_ids()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await Http.Post("/api/keychain/123456789/x", new { token_data = new { a = 1 }, credential_type = "x" })).Status);
        Assert.Equal("not_found", (await Http.Get("/api/keychain/123456789/x")).Json["status"]!.GetValue<string>());
        Assert.Equal(0, (await Http.Get("/api/keychain/catalog/123456789")).Json["count"]!.GetValue<int>());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await Http.Get("/api/keychain/catalog/abc")).Status);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await Http.Get("/api/keychain/abc/x")).Status);
    }

    [Fact]
    public async Task Rotation_is_token_gated()
    {
        Assert.Equal(HttpStatusCode.Forbidden, (await Http.Post("/api/internal/credentials/rotate")).Status);
        var rotated = await Http.Send(HttpMethod.Post, "/api/internal/credentials/rotate", bearer: $"Bearer {NoEtlSystem.InternalToken}");
        Assert.True(rotated.Status == HttpStatusCode.OK, rotated.Text);
    }

    private async Task<long> CatalogAsync() => (await Http.Register(Playbooks.OneStep($"it/keychain/{Guid.NewGuid():N}"))).CatalogId;
}

/// <summary>
/// Key rotation and key configuration, on a system of their own: its silo has a two-key ring and refuses legacy
/// plain-JSON rows (<c>NOETL_LEGACY_CREDENTIALS=false</c>), which rotation must still be able to encrypt.
/// </summary>
public sealed class CredentialRotationTests : IAsyncLifetime
{
    private static readonly string OldKey = Convert.ToBase64String(Enumerable.Range(0, 32).Select(i => (byte)(255 - i)).ToArray());
    private NoEtlSystem _system = null!;

    public async Task InitializeAsync() => _system = await NoEtlSystem.StartAsync(silos: 1, poolSize: 6, siloSettings: new()
    {
        ["NOETL_ENCRYPTION_KEY"] = $"new:{NoEtlSystem.EncryptionKey},old:{OldKey}",
        ["NOETL_LEGACY_CREDENTIALS"] = "false",
    });

    public async Task DisposeAsync() => await _system.DisposeAsync();

    [Fact]
    public async Task With_legacy_credentials_off_plain_rows_are_refused_until_rotation_encrypts_them()
    {
        var http = _system.Http;
        await Envelope.ExecuteAsync(_system, "INSERT INTO noetl.credential (id, name, type, data_encrypted) VALUES (noetl.snowflake_id(), $1, 'generic', $2)",
            "plain", """{"api_key":"legacy-secret-value"}""");
        var (catalogId, _) = await http.Register(Playbooks.OneStep("it/legacy-off"));
        await Envelope.ExecuteAsync(_system,
            """
            INSERT INTO noetl.keychain (cache_key, keychain_name, catalog_id, credential_type, cache_type, scope_type, data_encrypted, expires_at)
            VALUES ($1, 'plainkc', $2, 'generic', 'secret', 'global', $3, now() + interval '1 hour')
            """,
            $"plainkc:{catalogId}:global", catalogId, """{"access_token":"legacy-keychain-token"}""");

        foreach (var route in new[] { "/api/credentials/plain?include_data=true", $"/api/keychain/{catalogId}/plainkc" })
        {
            var refused = await http.Get(route);
            Assert.True(refused.Status == HttpStatusCode.Conflict, $"{route}: {(int)refused.Status} {refused.Text}");
            Assert.Equal("credential_legacy_refused", refused.Json["detail"]!["code"]!.GetValue<string>());
            Assert.Contains("/api/internal/credentials/rotate", refused.Json["detail"]!["message"]!.GetValue<string>());
            Assert.DoesNotContain("legacy-secret-value", refused.Text);
            Assert.DoesNotContain("legacy-keychain-token", refused.Text);
        }
        Assert.Equal(HttpStatusCode.OK, (await http.Get("/api/credentials/plain")).Status); // metadata stays readable
        Assert.StartsWith("{", await Envelope.StoredAsync(_system, "SELECT data_encrypted FROM noetl.credential WHERE name = $1", "plain"));

        var rotated = await http.Send(HttpMethod.Post, "/api/internal/credentials/rotate", bearer: $"Bearer {NoEtlSystem.InternalToken}");
        Assert.True(rotated.Status == HttpStatusCode.OK, rotated.Text);
        Assert.Equal(1, rotated.Json["credentials"]!["rotated"]!.GetValue<int>());
        Assert.Equal(1, rotated.Json["keychain"]!["rotated"]!.GetValue<int>());
        Assert.Equal("legacy-secret-value", (await http.Get("/api/credentials/plain?include_data=true")).Json["data"]!["api_key"]!.GetValue<string>());
        Assert.Equal("legacy-keychain-token", (await http.Get($"/api/keychain/{catalogId}/plainkc")).Json["token_data"]!["access_token"]!.GetValue<string>());
    }

    [Fact]
    public async Task Rotation_re_encrypts_every_row_with_the_active_key_and_keeps_them_readable()
    {
        var http = _system.Http;
        var data = new JsonObject { ["password"] = "rotate-me-please" };
        Assert.Equal(HttpStatusCode.OK, (await http.Post("/api/credentials", new { name = "current", data })).Status);
        await Envelope.ExecuteAsync(_system, "INSERT INTO noetl.credential (id, name, type, data_encrypted) VALUES (noetl.snowflake_id(), $1, 'generic', $2)",
            "old_key", Envelope.Seal("old", OldKey, "noetl.credential:old_key", data.ToJsonString()));
        await Envelope.ExecuteAsync(_system, "INSERT INTO noetl.credential (id, name, type, data_encrypted) VALUES (noetl.snowflake_id(), $1, 'generic', $2)",
            "legacy", data.ToJsonString());
        await Envelope.ExecuteAsync(_system, "INSERT INTO noetl.credential (id, name, type, data_encrypted) VALUES (noetl.snowflake_id(), $1, 'generic', $2)",
            "broken", "v1:old:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        var (catalogId, _) = await http.Register(Playbooks.OneStep("it/rotation"));
        await Envelope.ExecuteAsync(_system,
            """
            INSERT INTO noetl.keychain (cache_key, keychain_name, catalog_id, credential_type, cache_type, scope_type, data_encrypted, expires_at)
            VALUES ($1, 'kc', $2, 'generic', 'secret', 'global', $3, now() + interval '1 hour')
            """,
            $"kc:{catalogId}:global", catalogId, Envelope.Seal("old", OldKey, $"noetl.keychain:kc:{catalogId}:global", data.ToJsonString()));

        var rotated = await http.Send(HttpMethod.Post, "/api/internal/credentials/rotate", bearer: $"Bearer {NoEtlSystem.InternalToken}");
        Assert.True(rotated.Status == HttpStatusCode.OK, rotated.Text);
        Assert.Equal("partial", rotated.Json["status"]!.GetValue<string>());
        Assert.Equal("new", rotated.Json["active_key_id"]!.GetValue<string>());
        Assert.Equal(2, rotated.Json["credentials"]!["rotated"]!.GetValue<int>());
        Assert.Equal(1, rotated.Json["credentials"]!["unchanged"]!.GetValue<int>());
        Assert.Equal(new[] { "broken" }, rotated.Json["credentials"]!["failed"]!.AsArray().Select(f => f!.GetValue<string>()));
        Assert.Equal(1, rotated.Json["keychain"]!["rotated"]!.GetValue<int>());

        foreach (var name in new[] { "current", "old_key", "legacy" })
        {
            Assert.StartsWith("v1:new:", await Envelope.StoredAsync(_system, "SELECT data_encrypted FROM noetl.credential WHERE name = $1", name));
            var read = await http.Get($"/api/credentials/{name}?include_data=true");
            Assert.True(JsonNode.DeepEquals(data, read.Json["data"]), $"{name}: {read.Text}");
        }
        Assert.StartsWith("v1:new:", await Envelope.StoredAsync(_system, "SELECT data_encrypted FROM noetl.keychain WHERE cache_key = $1", $"kc:{catalogId}:global"));
        Assert.Equal("rotate-me-please", (await http.Get($"/api/keychain/{catalogId}/kc")).Json["token_data"]!["password"]!.GetValue<string>());

        // A second rotation has nothing left to do.
        var again = await http.Send(HttpMethod.Post, "/api/internal/credentials/rotate", bearer: $"Bearer {NoEtlSystem.InternalToken}");
        Assert.Equal(0, again.Json["credentials"]!["rotated"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("not base64 at all!", "not valid base64")]
    [InlineData("c2hvcnQ=", "must decode to 32 bytes")]
    [InlineData("", "no credential encryption key")]
    public async Task A_silo_without_a_usable_key_refuses_to_start(string key, string reason)
    {
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__Noetl"] = _system.Database.ServerConnectionString,
            ["NOETL_CLUSTERING"] = "localhost",
            ["ORLEANS_SILO_PORT"] = ProcessHost.FreePort().ToString(),
            ["ORLEANS_GATEWAY_PORT"] = ProcessHost.FreePort().ToString(),
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{ProcessHost.FreePort()}",
            ["NOETL_ENCRYPTION_KEY"] = key,
        };
        await using var silo = ProcessHost.Start("silo-bad-key", BuildOutput.Silo, environment);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var exitCode = await silo.WaitForExitAsync(timeout.Token);
        Assert.NotEqual(0, exitCode);
        Assert.Contains(reason, silo.Output);
        if (key.Length > 0)
            Assert.DoesNotContain(key, silo.Output);
    }
}
