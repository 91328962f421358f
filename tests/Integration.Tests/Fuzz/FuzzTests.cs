using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Npgsql;
using NoEtl.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace NoEtl.Integration.Tests.Fuzz;

/// <summary>
/// Issue 14, "every request has a bounded cost: no 500s": every route × method of the gateway's OpenAPI document gets
/// the <see cref="Mutations"/> set, with the principals that may and may not call it. No answer may be a 5xx, and a
/// refused request (4xx) must write no row. The reduced form (the route's own principal, the values that found 500s)
/// runs by default; <c>NOETL_FUZZ_FULL=1</c> (scripts/fuzz-suite.sh) sends every mutation with every principal.
/// Deep and huge input to the engine itself is covered in-process by tests/Orchestration.Tests (TemplateLimitsTests,
/// PlaybookParseTests).
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    /// <summary>The tables a refused request must leave alone (the audit table records refusals by design).</summary>
    private const string RowCounts =
        """
        SELECT (SELECT count(*) FROM noetl.event) || '/' || (SELECT count(*) FROM noetl.command) || '/' ||
               (SELECT count(*) FROM noetl.execution) || '/' || (SELECT count(*) FROM noetl.catalog) || '/' ||
               (SELECT count(*) FROM noetl.credential) || '/' || (SELECT count(*) FROM noetl.keychain) || '/' ||
               (SELECT count(*) FROM noetl.runtime)
        """;

    private static bool Full => Environment.GetEnvironmentVariable("NOETL_FUZZ_FULL") == "1";

    [Fact, Trait("Category", "Fuzz")]
    public async Task Every_route_answers_bad_input_with_a_4xx_that_writes_nothing()
    {
        await using var system = await NoEtlSystem.StartAsync();
        var seeds = await SeedAsync(system);
        var openApi = await system.Http.Get("/openapi/v1.json");
        var routes = FuzzRoute.FromOpenApi(openApi.Json);
        Assert.Contains(routes, r => r.Name == "POST /api/events");

        await using var database = new NpgsqlConnection(system.Database.AdminConnectionString);
        await database.OpenAsync();
        await using var count = new NpgsqlCommand(RowCounts, database);
        var rows = (string)(await count.ExecuteScalarAsync())!;

        var histogram = new SortedDictionary<string, SortedDictionary<int, int>>(StringComparer.Ordinal);
        var failures = new List<string>();
        var sent = 0;
        var started = DateTime.UtcNow;
        // The reads come round again at the end: what the mutations stored (a payload nested to the limit, control
        // characters) must still be answered.
        var requests = routes.SelectMany(route => Mutations.For(route, seeds, Full).Select(mutation => (route, mutation)))
            .Concat(routes.Where(r => r.Method == "GET").Select(route => (route, Mutations.For(route, seeds, full: false).First() with { Label = "baseline after the fuzz" })));
        foreach (var (route, mutation) in requests)
        {
            foreach (var (principal, bearer) in Principals(route))
            {
                var (status, text) = await SendAsync(system.Http, route.Method, mutation, bearer);
                sent++;
                var statuses = histogram.TryGetValue(route.Name, out var known) ? known : histogram[route.Name] = [];
                statuses[status] = statuses.GetValueOrDefault(status) + 1;
                var what = $"{route.Name} [{mutation.Label}] as {principal} → {status}";
                if (status is < 100 or >= 500 && !(status == 501 && route.NotOffered))
                    failures.Add($"{what}: {Excerpt(text)}");
                var after = (string)(await count.ExecuteScalarAsync())!;
                if (status is >= 400 and < 500 && after != rows)
                    failures.Add($"{what} wrote rows (event/command/execution/catalog/credential/keychain/runtime {rows} → {after})");
                rows = after;
            }
        }

        output.WriteLine($"{sent} requests over {routes.Count} routes in {(DateTime.UtcNow - started).TotalSeconds:F0} s ({(Full ? "full" : "reduced")} set)");
        foreach (var (route, statuses) in histogram)
            output.WriteLine($"{route,-60} {string.Join("  ", statuses.Select(s => $"{s.Key}×{s.Value}"))}");
        var total = histogram.Values.SelectMany(s => s).GroupBy(s => s.Key).OrderBy(g => g.Key).Select(g => $"{g.Key}×{g.Sum(s => s.Value)}");
        output.WriteLine($"{"all routes",-60} {string.Join("  ", total)}");
        foreach (var failure in failures)
            output.WriteLine("FAILED " + failure);

        Assert.True(failures.Count == 0, $"{failures.Count} failures of {sent} requests:\n{string.Join("\n", failures.Take(40))}\n{system.Logs()}");
        if (Full)
            Assert.True(sent >= 3000, $"the full fuzz sent only {sent} requests");
    }

    /// <summary>
    /// The reduced set calls each route as its own principal (the test client's choice, the internal token for
    /// /api/internal); the full set also as the principals that must be refused.
    /// </summary>
    private static IEnumerable<(string Name, string? Bearer)> Principals(FuzzRoute route)
    {
        if (route.IsInternal)
        {
            yield return ("internal", "Bearer " + NoEtlSystem.InternalToken);
            if (Full)
                yield return ("operator", "Bearer " + PrincipalTokens.Operator);
            yield break;
        }
        if (!Full)
        {
            yield return ("own principal", null);
            yield break;
        }
        yield return ("operator", "Bearer " + PrincipalTokens.Operator);
        yield return ("shared pool", "Bearer " + PrincipalTokens.SharedPool);
    }

    private static async Task<(int Status, string Text)> SendAsync(HttpClient http, string method, Mutation mutation, string? bearer)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), mutation.Target);
        if (mutation.Body is not null)
        {
            request.Content = new ByteArrayContent(mutation.Body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } };
            // As a careful client of a size-limited server: the gateway can answer 413 (or 403) before the upload,
            // instead of closing the connection under a client that is still sending.
            request.Headers.ExpectContinue = mutation.Body.Length > 1 << 20;
        }
        if (bearer is not null)
            request.Headers.TryAddWithoutValidation("Authorization", bearer);
        try
        {
            using var response = await http.SendAsync(request);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return (0, $"no answer: {e.Message}");
        }
    }

    /// <summary>A registered playbook, a started execution with its command, a credential and a keychain entry.</summary>
    private static async Task<FuzzSeeds> SeedAsync(NoEtlSystem system)
    {
        var path = $"tests/fuzz_{Guid.NewGuid():N}";
        var (catalogId, _) = await system.Http.Register(Playbooks.OneStep(path));
        var executionId = await system.Http.Execute(path);
        var credential = await system.Http.Post("/api/credentials", new { name = "fuzz-credential", data = new { token = "fuzz" } });
        Assert.True(credential.Status == System.Net.HttpStatusCode.OK, credential.Text);
        var keychain = await system.Http.Post($"/api/keychain/{catalogId}/fuzz-key", new { token_data = new { token = "fuzz" }, credential_type = "generic" });
        Assert.True(keychain.Status == System.Net.HttpStatusCode.OK, keychain.Text);

        await using var database = new NpgsqlConnection(system.Database.AdminConnectionString);
        await database.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT event_id FROM noetl.command WHERE execution_id = $1 LIMIT 1", database) { Parameters = { new() { Value = executionId } } };
        long? eventId = null;
        await Eventually.WaitForAsync(async () => (eventId = (long?)await command.ExecuteScalarAsync()) is not null, "the seed execution's command");
        return new FuzzSeeds(executionId, catalogId, eventId!.Value, path, "fuzz-credential", "fuzz-key");
    }

    private static string Excerpt(string text) => text.Length <= 300 ? text : text[..300] + "…";
}
