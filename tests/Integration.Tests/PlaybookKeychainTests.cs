using System.Net;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>The playbook's keychain section is resolved into the execution's keychain when it starts.</summary>
[Collection(SystemCollection.Name)]
public sealed class PlaybookKeychainTests(SystemFixture fixture)
{
    [Fact]
    public async Task Keychain_entries_naming_a_credential_are_cached_for_the_execution_at_execute_time()
    {
        var http = fixture.Http;
        var alias = $"kc-source-{Guid.NewGuid():N}"[..24];
        Assert.Equal(HttpStatusCode.OK, (await http.Post("/api/credentials", new { name = alias, type = "api", data = new { token = "kc-secret-value-1234" } })).Status);
        var path = $"tests/keychain_{Guid.NewGuid():N}";
        var (catalogId, _) = await http.Register($$$"""
            apiVersion: noetl.io/v2
            kind: Playbook
            metadata: {name: keychain_use, path: {{{path}}}}
            keychain:
              - name: api
                kind: credential_ref
                credential: {{{alias}}}
              - name: everywhere
                credential: {{{alias}}}
                scope: global
              - name: unknown
                credential: no-such-credential
            workflow:
              - step: start
                tool: {kind: noop}
            """);
        var executionId = await http.Execute(path);

        var local = await http.Get($"/api/keychain/{catalogId}/api?scope_type=local&execution_id={executionId}");
        Assert.Equal("success", local.Json["status"]!.GetValue<string>());
        Assert.Equal($"api:{catalogId}:{executionId}", local.Json["cache_key"]!.GetValue<string>());
        Assert.Equal("kc-secret-value-1234", local.Json["token_data"]!["token"]!.GetValue<string>());
        Assert.InRange(local.Json["ttl_seconds"]!.GetValue<int>(), 3500, 3600);

        var global = await http.Get($"/api/keychain/{catalogId}/everywhere?scope_type=global");
        Assert.Equal($"everywhere:{catalogId}:global", global.Json["cache_key"]!.GetValue<string>());
        Assert.Equal("not_found", (await http.Get($"/api/keychain/{catalogId}/unknown?scope_type=local&execution_id={executionId}")).Json["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_start_whose_keychain_rows_cannot_be_written_leaves_no_execution_behind()
    {
        var http = fixture.Http;
        var alias = $"kc-atomic-{Guid.NewGuid():N}"[..24];
        Assert.Equal(HttpStatusCode.OK, (await http.Post("/api/credentials", new { name = alias, type = "api", data = new { token = "kc-atomic-value-1234" } })).Status);
        var entry = $"doomed_{Guid.NewGuid():N}";
        var path = $"tests/keychain_atomic_{Guid.NewGuid():N}";
        var (catalogId, _) = await http.Register($$$"""
            apiVersion: noetl.io/v2
            kind: Playbook
            metadata: {name: keychain_atomic, path: {{{path}}}}
            keychain:
              - name: {{{entry}}}
                credential: {{{alias}}}
            workflow:
              - step: start
                tool: {kind: noop}
            """);

        await using (await fixture.System.FailInsertsAsync("noetl.keychain", $"NEW.keychain_name = '{entry}'"))
        {
            var refused = await http.Post("/api/execute", new { path });
            Assert.NotEqual(HttpStatusCode.OK, refused.Status);
        }

        // Nothing of the start is kept: no events, commands, outbox rows or projection of this catalog entry.
        Assert.Equal(0L, await fixture.System.AdminScalarAsync(
            """
            SELECT (SELECT count(*) FROM noetl.execution WHERE catalog_id = $1) + (SELECT count(*) FROM noetl.event WHERE catalog_id = $1)
                 + (SELECT count(*) FROM noetl.command WHERE catalog_id = $1)
            """, catalogId));
        // Once the keychain can be written the start succeeds, keychain included.
        var executionId = await http.Execute(path);
        Assert.Equal(1L, await fixture.System.AdminScalarAsync("SELECT count(*) FROM noetl.keychain WHERE execution_id = $1", executionId));
    }
}
