using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using static NoEtl.Gateway.Tests.InProcess.GatewayCalls;

namespace NoEtl.Gateway.Tests.InProcess;

/// <summary>
/// Every class of token against a representative route of every route group, in process: who gets 401, who 403 by
/// role, who 403 by pool, who the internal gate's 403, and who gets through — with the bodies and headers a client sees.
/// </summary>
[Collection(InProcessGatewayCollection.Name)]
public sealed class RouteAuthorizationTests(InProcessGateway gateway) : IAsyncLifetime
{
    public enum Token { None, Wrong, PoolA, PoolB, Operator, Internal }

    /// <summary>What a token gets on a route.</summary>
    public enum Outcome
    {
        /// <summary>401, <c>WWW-Authenticate: Bearer</c>.</summary>
        Unauthenticated,
        /// <summary>403 by role: the route's policy refuses the principal.</summary>
        WrongRole,
        /// <summary>403 <c>wrong_pool</c>: the principal's pool does not own the execution or catalog entry.</summary>
        WrongPool,
        /// <summary>The internal API's own gate: 403, never 401.</summary>
        InternalGate,
        /// <summary>Past authorization: whatever the route answers, but no server error (501 is a route's own answer).</summary>
        Passes,
    }

    private static readonly Token[] Tokens = Enum.GetValues<Token>();
    private readonly HttpClient _http = gateway.Client();
    private long _catalogId;
    private long _executionId;
    private long _commandEventId;
    private string _credential = "";

    public async Task InitializeAsync()
    {
        // An execution of a user playbook: it runs on pool A (the shared user pool) and has one issued command.
        var path = $"tests/fast_auth_{Guid.NewGuid():N}";
        var register = await _http.SendAsync("POST", "/api/catalog/register", JsonSerializer.Serialize(new { content = OneStep(path) }), Bearer(InProcessGateway.Operator));
        Assert.True(register.Status == HttpStatusCode.OK, register.Text);
        _catalogId = long.Parse(register.Json!["catalog_id"]!.ToString());
        var execute = await _http.SendAsync("POST", "/api/execute", JsonSerializer.Serialize(new { path }), Bearer(InProcessGateway.Operator));
        Assert.True(execute.Status == HttpStatusCode.OK, execute.Text);
        _executionId = long.Parse(execute.Json!["execution_id"]!.ToString());
        var events = await _http.SendAsync("GET", $"/api/executions/{_executionId}?page_size=20", authorization: Bearer(InProcessGateway.Operator));
        _commandEventId = events.Json!["events"]!.AsArray()
            .Where(e => e!["event_type"]!.GetValue<string>() == "command.issued")
            .Select(e => long.Parse(e!["event_id"]!.ToString()))
            .First();
        _credential = $"fast-auth-{Guid.NewGuid():N}";
        var credential = await _http.SendAsync("POST", "/api/credentials",
            JsonSerializer.Serialize(new { name = _credential, type = "api", data = new { token = "fast-secret-value" } }), Bearer(InProcessGateway.Operator));
        Assert.True(credential.Status == HttpStatusCode.OK, credential.Text);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Every_token_class_gets_what_its_role_and_pool_allow_on_every_route_group()
    {
        var operatorOnly = Expect(pools: Outcome.WrongRole, operatorGets: Outcome.Passes, internalGets: Outcome.WrongRole);
        var anyPrincipal = Expect(pools: Outcome.Passes, operatorGets: Outcome.Passes, internalGets: Outcome.Passes);
        // Pool-bound worker routes: the execution is pool A's; the internal token is the system pool's principal.
        var poolAWorkers = Expect(pools: Outcome.Passes, operatorGets: Outcome.WrongRole, internalGets: Outcome.WrongPool, poolBGets: Outcome.WrongPool);
        var poolAOrOperator = Expect(pools: Outcome.Passes, operatorGets: Outcome.Passes, internalGets: Outcome.WrongPool, poolBGets: Outcome.WrongPool);
        var open = Tokens.ToDictionary(t => t, _ => Outcome.Passes);
        var internalOnly = Tokens.ToDictionary(t => t, t => t == Token.Internal ? Outcome.Passes : Outcome.InternalGate);

        var routes = new (string Group, string Method, string Path, string? Body, Dictionary<Token, Outcome> Expected)[]
        {
            ("health", "GET", "/api/health", null, open),
            ("auth", "POST", "/api/auth/validate", """{"session_token": "whatever"}""", open),
            ("catalog", "POST", "/api/catalog/register", """{"content": "x"}""", operatorOnly),
            ("catalog", "POST", "/api/catalog/list", "{}", anyPrincipal),
            ("catalog editor", "POST", "/api/catalog/playbooks/validate", """{"content": "x"}""", operatorOnly),
            ("catalog editor", "GET", $"/api/catalog/playbook/content?playbook_id={_catalogId}", null, anyPrincipal),
            ("executions", "GET", $"/api/executions/{_executionId}/status", null, anyPrincipal),
            ("executions", "POST", "/api/executions/1/cancel", "{}", operatorOnly),
            ("commands", "GET", $"/api/commands/{_commandEventId}", null, anyPrincipal),
            ("commands", "POST", $"/api/commands/{_commandEventId}/claim", """{"worker_id": "fast-{token}"}""", poolAWorkers),
            ("events", "POST", "/api/events", $$"""{"execution_id": {{_executionId}}, "step": "s", "name": "note"}""", poolAWorkers),
            ("worker pool", "POST", "/api/worker/pool/register", """{"name": "fast-worker-{token}"}""", Expect(Outcome.Passes, Outcome.WrongRole, Outcome.Passes)),
            ("worker pool", "GET", "/api/worker/pools", null, operatorOnly),
            ("credentials", "GET", "/api/credentials", null, anyPrincipal),
            ("credentials", "POST", "/api/credentials", """{"name": "n", "data": {}}""", operatorOnly),
            ("credentials", "GET", $"/api/credentials/{_credential}?include_data=true&execution_id={_executionId}", null, poolAOrOperator),
            ("keychain", "GET", $"/api/keychain/{_catalogId}/k?scope_type=global", null, poolAWorkers),
            ("result store", "PUT", $"/api/result/{_executionId}", """{"name": "r", "data": {"a": 1}}""", poolAWorkers),
            ("audit", "GET", "/api/audit", null, operatorOnly),
            ("not offered", "POST", "/api/catalog/playbooks/explain/ai", "{}", anyPrincipal),
            ("unknown /api route", "GET", "/api/no-such-route", null, anyPrincipal),
            ("internal", "GET", "/api/internal/outbox/pending-count", null, internalOnly),
            ("internal", "POST", "/api/internal/credentials/rotate", null, internalOnly),
        };

        var failures = new List<string>();
        foreach (var (group, method, path, body, expected) in routes)
        {
            foreach (var token in Tokens)
            {
                var answer = await _http.SendAsync(method, path, body?.Replace("{token}", token.ToString()), Authorization(token));
                if (Mismatch(expected[token], answer) is { } problem)
                    failures.Add($"{group}: {method} {path} with {token}: {problem} ({(int)answer.Status} {answer.Text})");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static Dictionary<Token, Outcome> Expect(Outcome pools, Outcome operatorGets, Outcome internalGets, Outcome? poolBGets = null) => new()
    {
        [Token.None] = Outcome.Unauthenticated,
        [Token.Wrong] = Outcome.Unauthenticated,
        [Token.PoolA] = pools,
        [Token.PoolB] = poolBGets ?? pools,
        [Token.Operator] = operatorGets,
        [Token.Internal] = internalGets,
    };

    private static string? Authorization(Token token) => token switch
    {
        Token.None => null,
        Token.Wrong => Bearer("not-a-known-token"),
        Token.PoolA => Bearer(InProcessGateway.PoolA),
        Token.PoolB => Bearer(InProcessGateway.PoolB),
        Token.Operator => Bearer(InProcessGateway.Operator),
        _ => Bearer(InProcessGateway.Internal),
    };

    /// <summary>Why the answer is not the expected outcome, or null when it is.</summary>
    private static string? Mismatch(Outcome expected, GatewayAnswer answer)
    {
        var detail = answer.Json?["detail"];
        var error = answer.Json?["error"];
        var plainDetail = detail is JsonValue text && text.GetValueKind() == JsonValueKind.String ? text.GetValue<string>() : null;
        return expected switch
        {
            Outcome.Unauthenticated when answer.Status != HttpStatusCode.Unauthorized => "expected 401",
            Outcome.Unauthenticated when !answer.Headers.WwwAuthenticate.ToString().StartsWith("Bearer", StringComparison.Ordinal) => "expected WWW-Authenticate: Bearer",
            Outcome.Unauthenticated when plainDetail is null || error?.GetValue<string>() != plainDetail => "expected detail with error beside it",
            Outcome.WrongRole when answer.Status != HttpStatusCode.Forbidden || plainDetail?.Contains("may not call", StringComparison.Ordinal) != true =>
                "expected 403 naming the roles allowed",
            Outcome.WrongRole when error?.GetValue<string>() != plainDetail => "expected error beside detail",
            Outcome.WrongPool when answer.Status != HttpStatusCode.Forbidden || detail?["code"]?.GetValue<string>() != "wrong_pool" => "expected 403 wrong_pool",
            Outcome.InternalGate when answer.Status != HttpStatusCode.Forbidden || answer.Headers.WwwAuthenticate.Count != 0 => "expected the internal gate's 403",
            Outcome.InternalGate when plainDetail is null || error?.GetValue<string>() != plainDetail => "expected detail with error beside it",
            Outcome.Passes when answer.Status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => "expected to pass",
            Outcome.Passes when (int)answer.Status >= 500 && answer.Status != HttpStatusCode.NotImplemented => "expected no server error",
            _ => null,
        };
    }

    private static string OneStep(string path) => $$"""
        apiVersion: noetl.io/v2
        kind: Playbook
        metadata: {name: fast_auth, path: {{path}}}
        workflow:
          - step: start
            tool: {kind: noop}
        """;
}
