using System.Net;
using Npgsql;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>Bad input on every route: a 4xx in the contract's error shape, nothing written, never a 500.</summary>
[Collection(SystemCollection.Name)]
public sealed class BadInputTests(SystemFixture fixture)
{
    private HttpClient Http => fixture.Http;

    public static TheoryData<string, string, string?> Cases => new()
    {
        // route, method, raw body
        { "/api/catalog/register", "POST", "{not json" },
        { "/api/catalog/register", "POST", "[1,2]" },
        { "/api/catalog/register", "POST", """{"content": 42}""" },
        { "/api/catalog/register", "POST", """{"resource_type": "Playbook"}""" },
        { "/api/catalog/register", "POST", """{"content": "key: [unclosed"}""" },
        { "/api/catalog/register", "POST", """{"content": "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: x}\nworkflow:\n  - step: start\n    tool: {kind: noop}\n    next: {arcs: [{step: nowhere}]}\n"}""" },
        { "/api/catalog/register", "POST", """{"content": "apiVersion: noetl.io/v1\nkind: Playbook\nworkflow: []\n"}""" },
        { "/api/catalog/list", "POST", """{"path": 7}""" },
        { "/api/catalog/resource", "POST", "{}" },
        { "/api/catalog/resource", "POST", """{"catalog_id": "abc"}""" },
        { "/api/catalog/resource", "POST", """{"catalog_id": 999999999}""" },
        { "/api/execute", "POST", "{}" },
        { "/api/execute", "POST", "{oops" },
        { "/api/execute", "POST", """{"path": "does/not/exist"}""" },
        { "/api/execute", "POST", """{"path": "x", "payload": "not an object"}""" },
        { "/api/execute", "POST", """{"path": "x", "resource_kind": "credential"}""" },
        { "/api/execute", "POST", """{"path": "x", "parent_execution_id": "nope"}""" },
        { "/api/commands/abc/claim", "POST", """{"worker_id": "w"}""" },
        { "/api/commands/1/claim", "POST", "{}" },
        { "/api/commands/1/claim", "POST", """{"worker_id": 5}""" },
        { "/api/commands/1/claim", "POST", "not json" },
        { "/api/commands/1/claim", "POST", """{"worker_id": "w"}""" },
        { "/api/commands/xyz", "GET", null },
        { "/api/commands/42", "GET", null },
        { "/api/events", "POST", "{}" },
        { "/api/events", "POST", "[]" },
        { "/api/events", "POST", """{"execution_id": "abc", "step": "s", "name": "call.done"}""" },
        { "/api/events", "POST", """{"execution_id": 1, "step": 3, "name": "call.done"}""" },
        { "/api/events", "POST", """{"execution_id": 1, "step": "s", "name": "call.done", "payload": [1]}""" },
        { "/api/events", "POST", """{"execution_id": 777777, "step": "s", "name": "call.done", "payload": {}}""" },
        { "/api/events", "POST", """{"execution_id": 1, "step": "s", "name": "call.done", "actionable": "yes"}""" },
        { "/api/events/batch", "POST", """{"execution_id": 1, "events": []}""" },
        { "/api/events/batch", "POST", """{"execution_id": 1, "events": [{"step": "s"}]}""" },
        { "/api/events/batch", "POST", """{"execution_id": 777777, "events": [{"step": "s", "name": "x"}]}""" },
        { "/api/worker/pool/register", "POST", "{}" },
        { "/api/worker/pool/register", "POST", """{"name": "w", "capacity": -1}""" },
        { "/api/worker/pool/register", "POST", """{"name": "w", "labels": "x"}""" },
        { "/api/worker/pool/heartbeat", "POST", "{}" },
        { "/api/worker/pool/deregister", "POST", "{}" },
        { "/api/worker/pool/deregister", "DELETE", """{"name": "never-registered"}""" },
        { "/api/executions/abc", "GET", null },
        { "/api/executions/1/status", "GET", null },
        { "/api/executions/1?page_size=5000", "GET", null },
        { "/api/executions?page_size=0", "GET", null },
        { "/api/executions/abc/cancel", "POST", "{}" },
        { "/api/executions/1/cancel", "POST", """{"cascade": "maybe"}""" },
        { "/api/executions/1/cancellation-check", "GET", null },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bad_input_is_a_4xx_with_detail_and_writes_nothing(string route, string method, string? body)
    {
        await AssertWritesNothingAsync(async () =>
        {
            var response = await Http.Send(new HttpMethod(method), route, rawBody: body);
            Assert.True((int)response.Status is >= 400 and < 500, $"{method} {route} {body} → {(int)response.Status} {response.Text}");
            Assert.NotNull(response.Body);
            Assert.NotNull(response.Json["detail"]);
            Assert.DoesNotContain("   at ", response.Text); // no stack traces
        });
    }

    /// <summary>Issue 14's 500s, each refused at the gateway with the field it concerns named in <c>loc</c>.</summary>
    public static TheoryData<string, string, string?, string> FieldCases => new()
    {
        // route, method, raw body, expected loc
        { "/api/events", "POST", """{"execution_id": 1, "step": "s", "name": "\ud800"}""", "body,name" },
        { "/api/events", "POST", """{"execution_id": 1, "step": "s", "name": "a", "name": "b"}""", "" },
        { "/api/events", "POST", """{"execution_id": 1, "step": "s", "name": "n", "payload": {"k\u0000": 1}}""", "body,payload" },
        { "/api/events", "POST", $$"""{"execution_id": 1, "step": "s", "name": "{{new string('n', 256)}}"}""", "body,name" },
        { "/api/executions/1/cancel", "POST", """{"reason": "a\u0000b"}""", "body,reason" },
        { "/api/worker/pool/register", "POST", $$"""{"name": "w", "runtime": "{{new string('r', 256)}}"}""", "body,runtime" },
        { "/api/internal/cleanup/purge", "POST", """{"command_retention_days": 2147483647}""", "body,command_retention_days" },
        { "/api/audit?principal=%00", "GET", null, "query,principal" },
        { "/api/executions?page=2147483647&page_size=200", "GET", null, "query,page" },
        { "/api/executions/1?page=2147483647&page_size=500", "GET", null, "query,page" },
        { "/api/credentials/" + new string('c', 256), "GET", null, "path,identifier" }, // Kestrel itself answers 400 to a NUL in a path
        { "/api/credentials?q=a%00b", "GET", null, "query,q" },
    };

    [Theory]
    [MemberData(nameof(FieldCases))]
    public async Task Unstorable_or_unbounded_input_is_a_422_naming_the_field(string route, string method, string? body, string location)
    {
        await AssertWritesNothingAsync(async () =>
        {
            var response = await Http.Send(new HttpMethod(method), route, rawBody: body,
                bearer: route.StartsWith("/api/internal", StringComparison.Ordinal) ? "Bearer " + NoEtlSystem.InternalToken : null);
            Assert.True(response.Status == HttpStatusCode.UnprocessableEntity, $"{method} {route} → {(int)response.Status} {response.Text}");
            var loc = response.Json["detail"]![0]!["loc"]!.AsArray().Select(l => l!.GetValue<string>());
            Assert.Equal(location, string.Join(",", loc));
        });
    }

    [Fact]
    public async Task An_invalid_playbook_lists_every_problem()
    {
        const string yaml = """
            apiVersion: noetl.io/v2
            kind: Playbook
            metadata: {}
            workflow:
              - step: first
                next: {arcs: [{step: ghost}]}
              - step: first
                tool: {kind: noop}
            """;
        var response = await Http.Post("/api/catalog/register", new { content = yaml });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.Status);
        var messages = string.Join("\n", response.Json["detail"]!.AsArray().Select(d => d!["msg"]!.GetValue<string>()));
        Assert.True(response.Json["detail"]!.AsArray().Count >= 4, messages);
        Assert.Contains("ghost", messages);
        Assert.Contains("duplicate step name 'first'", messages);
        Assert.Contains("tool is required", messages);
    }

    [Fact]
    public async Task A_payload_breaking_the_reference_only_rules_is_422_not_500()
    {
        var path = $"tests/bad_payload_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.OneStep(path));
        var executionId = await Http.Execute(path);

        await AssertWritesNothingAsync(async () =>
        {
            var response = await Http.Post("/api/events", new
            {
                execution_id = executionId,
                step = "start",
                name = "call.done",
                payload = new { result = new { data = 1 } },
            });
            Assert.Equal(HttpStatusCode.UnprocessableEntity, response.Status);
            var internalData = await Http.Post("/api/events", new
            {
                execution_id = executionId,
                step = "start",
                name = "call.done",
                payload = new { _internal_data = 1 },
            });
            Assert.Equal(HttpStatusCode.UnprocessableEntity, internalData.Status);
        });
    }

    /// <summary>
    /// Runs <paramref name="refusedRequest"/> between two row counts of a quiet database. The shared system has
    /// background writers (earlier tests' executions finishing, the cleanup schedule), so a count that moved is
    /// checked again on a fresh quiet window: a request that really writes moves it every time.
    /// </summary>
    private async Task AssertWritesNothingAsync(Func<Task> refusedRequest)
    {
        string before = "", after = "";
        for (var attempt = 0; attempt < 3; attempt++)
        {
            before = await QuietRowCountsAsync();
            await refusedRequest();
            after = await RowCountsAsync();
            if (after == before)
                return;
        }
        Assert.Equal(before, after);
    }

    /// <summary>Row counts once two readings 150 ms apart agree (at most 10 s).</summary>
    private async Task<string> QuietRowCountsAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        var previous = await RowCountsAsync();
        while (true)
        {
            await Task.Delay(150);
            var current = await RowCountsAsync();
            if (current == previous || DateTime.UtcNow > deadline)
                return current;
            previous = current;
        }
    }

    private async Task<string> RowCountsAsync()
    {
        await using var connection = new NpgsqlConnection(fixture.System.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT (SELECT count(*) FROM noetl.catalog) || '/' || (SELECT count(*) FROM noetl.event) || '/' ||
                   (SELECT count(*) FROM noetl.command) || '/' || (SELECT count(*) FROM noetl.execution) || '/' ||
                   (SELECT count(*) FROM noetl.outbox) || '/' || (SELECT count(*) FROM noetl.runtime)
            """, connection);
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
