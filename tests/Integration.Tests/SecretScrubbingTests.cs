using System.Net;
using Npgsql;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>
/// A credential's secret reaches the worker that needs it, and nowhere else: not in any API response about the
/// execution, not in its rows, not in any process log — even when the called service echoes it back.
/// </summary>
[Collection(WorkerSystemCollection.Name)]
public sealed class SecretScrubbingTests(WorkerSystemFixture fixture)
{
    [Fact]
    public async Task A_secret_used_by_a_playbook_appears_in_no_response_row_or_log()
    {
        var http = fixture.Http;
        var secret = $"s3cr3t-{Guid.NewGuid():N}";
        // A service that requires the bearer secret and (carelessly) echoes it in its answer.
        var authorized = 0;
        using var service = new LocalHttpService("/whoami", (request, _) =>
        {
            var presented = request.Headers["Authorization"];
            if (presented != $"Bearer {secret}")
                return (401, "{}");
            Interlocked.Increment(ref authorized);
            return (200, $$"""{"user":"svc","echo":"{{secret}}","header":"{{presented}}"}""");
        });
        var alias = $"echo-api-{Guid.NewGuid():N}"[..20];
        Assert.Equal(HttpStatusCode.OK, (await http.Post("/api/credentials", new { name = alias, type = "api", data = new { token = secret } })).Status);

        var path = $"tests/secret_{Guid.NewGuid():N}";
        await http.Register($$$"""
            apiVersion: noetl.io/v2
            kind: Playbook
            metadata: {name: secret_use, path: {{{path}}}}
            workload:
              url: "{{{service.Url}}}"
            workflow:
              - step: start
                tool:
                  kind: http
                  method: GET
                  url: "{{ workload.url }}"
                  auth: {{{alias}}}
                next:
                  arcs:
                    - step: after
              - step: after
                input:
                  answer: "{{ start.data }}"
                tool:
                  kind: noop
            """);
        var executionId = await http.Execute(path);
        var status = await http.WaitTerminalAsync(executionId);
        Assert.Equal("COMPLETED", status["status"]!.GetValue<string>());
        Assert.True(authorized == 1, "the worker did not receive the secret");

        // Every read path about the execution.
        var responses = new List<string>
        {
            status.ToJsonString(),
            (await http.Get($"/api/executions/{executionId}?page_size=500")).Text,
            (await http.Get($"/api/executions/{executionId}/events?page_size=500")).Text,
            (await http.Get("/api/executions?page_size=200")).Text,
            (await http.Get($"/api/executions/{executionId}/cancellation-check")).Text,
        };
        foreach (var issued in (await http.Events(executionId)).Where(e => e!["event_type"]!.GetValue<string>() == "command.issued"))
            responses.Add((await http.Get($"/api/commands/{issued!["event_id"]}")).Text);
        Assert.All(responses, r => Assert.DoesNotContain(secret, r));
        Assert.Contains("[REDACTED]", responses[1]); // the echoed value was there, and was scrubbed

        // The rows.
        await using var connection = new NpgsqlConnection(fixture.System.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT (SELECT count(*) FROM noetl.event e WHERE e.execution_id = $1 AND strpos(e::text, $2) > 0)
                 + (SELECT count(*) FROM noetl.command c WHERE c.execution_id = $1 AND strpos(c::text, $2) > 0)
                 + (SELECT count(*) FROM noetl.execution x WHERE x.execution_id = $1 AND strpos(x::text, $2) > 0)
                 + (SELECT count(*) FROM noetl.credential c WHERE strpos(c.data_encrypted, $2) > 0)
            """, connection);
        command.Parameters.AddWithValue(executionId);
        command.Parameters.AddWithValue(secret);
        Assert.Equal(0L, await command.ExecuteScalarAsync());

        // The logs of every process of the system.
        foreach (var process in fixture.System.Silos.Concat(fixture.System.Gateways).Concat(fixture.System.Workers))
            Assert.DoesNotContain(secret, process.Output);
    }
}
